#!/usr/bin/env bash
# Local DynamoDB stand-in for tests: moto's server mode, in a private virtualenv.
#
#   infra/moto.sh start   # installs moto if needed, starts it (or reuses a running one),
#                         # prints the `export` lines that point the AWS SDK at it
#   infra/moto.sh stop    # stops the server started by `start`
#
# Settings: MOTO_VENV (default $REPO/target/moto-venv), MOTO_PORT (default 5005).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MOTO_VENV:-$REPO/target/moto-venv}"
PORT="${MOTO_PORT:-5005}"
HOST=127.0.0.1
RUN_DIR="$REPO/target"
LOG="$RUN_DIR/moto-$PORT.log"
PID_FILE="$RUN_DIR/moto-$PORT.pid"
URL="http://$HOST:$PORT"

log() { echo "moto.sh: $*" >&2; }

# `moto_server`, with one change: requests are handled one at a time. moto's threaded server
# runs requests concurrently without locking its DynamoDB backend, so concurrent
# TransactWriteItems calls are not atomic there (several conditional claims of one item all
# succeed, and a cancelled transaction restores a snapshot of the whole table over writes
# made meanwhile). Real DynamoDB is atomic; serializing requests makes moto so too.
SERIALIZED_SERVER='
import sys, threading
from moto import server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

_lock = threading.Lock()
_call = DomainDispatcherApplication.__call__

def _serialized(self, environ, start_response):
    with _lock:
        return _call(self, environ, start_response)

DomainDispatcherApplication.__call__ = _serialized
server.main(sys.argv[1:])
'

pid_alive() {
    [[ -f "$PID_FILE" ]] || return 1
    local pid
    pid="$(cat "$PID_FILE" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null
}

answering() {
    python3 - "$URL/moto-api/" <<'EOF' >/dev/null 2>&1
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
    sys.exit(0 if r.status < 500 else 1)
EOF
}

print_env() {
    cat <<EOF
export AWS_ENDPOINT_URL=$URL
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1
EOF
}

install_moto() {
    if [[ ! -x "$VENV/bin/python" ]]; then
        log "creating virtualenv at $VENV"
        python3 -m venv "$VENV"
    fi
    if [[ ! -x "$VENV/bin/moto_server" ]]; then
        log "installing moto[server] into $VENV"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check 'moto[server]==5.*'
    fi
}

start() {
    mkdir -p "$RUN_DIR"
    if pid_alive && answering; then
        log "reusing moto (pid $(cat "$PID_FILE")) at $URL"
        print_env
        return 0
    fi
    if pid_alive; then
        log "pid $(cat "$PID_FILE") is alive but not answering; stopping it"
        stop
    fi
    if answering; then
        log "something else already answers at $URL; set MOTO_PORT to use another port"
        exit 1
    fi
    install_moto
    log "starting moto_server on $URL (log: $LOG)"
    nohup "$VENV/bin/python" -c "$SERIALIZED_SERVER" -H "$HOST" -p "$PORT" >"$LOG" 2>&1 </dev/null &
    echo $! >"$PID_FILE"
    local i
    for i in $(seq 1 60); do
        if answering; then
            log "moto is up (pid $(cat "$PID_FILE"))"
            print_env
            return 0
        fi
        if ! pid_alive; then
            log "moto_server exited; last lines of $LOG:"
            tail -n 20 "$LOG" >&2 || true
            rm -f "$PID_FILE"
            exit 1
        fi
        sleep 0.5
    done
    log "moto did not answer at $URL within 30 s; see $LOG"
    stop
    exit 1
}

stop() {
    if pid_alive; then
        local pid
        pid="$(cat "$PID_FILE")"
        log "stopping moto (pid $pid)"
        kill "$pid" 2>/dev/null || true
        local i
        for i in $(seq 1 20); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.25
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -9 "$pid" 2>/dev/null || true
        fi
    else
        log "moto is not running"
    fi
    rm -f "$PID_FILE"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *)
        echo "usage: $0 start|stop" >&2
        exit 2
        ;;
esac
