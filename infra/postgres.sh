#!/usr/bin/env bash
# A private PostgreSQL for the app database tests (axhub-postgres conformance suite).
#
#   infra/postgres.sh start   # installs Debian's postgresql if no initdb is found, creates a
#                             # cluster under target/pg (once), starts it (or reuses a running
#                             # one), prints the `export AXHUB_TEST_POSTGRES_URL=…` line
#   infra/postgres.sh stop    # stops the cluster started by `start`
#
# Settings: PG_PORT (default 5433), PG_DIR (default $REPO/target/pg, or a directory under /tmp
# when the postgres user cannot reach target/).
# Tuned for tests, not for data: fsync and synchronous commit are off, auth is trust, and it
# listens on 127.0.0.1 only.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${PG_PORT:-5433}"
HOST=127.0.0.1
DB=axhub_test
URL="postgres://postgres@$HOST:$PORT/$DB"

log() { echo "postgres.sh: $*" >&2; }

find_bin() {
    local initdb
    if initdb="$(command -v initdb 2>/dev/null)"; then
        dirname "$(readlink -f "$initdb")"
        return 0
    fi
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [[ -n "$dir" && -x "$dir/initdb" ]]; then
        echo "$dir"
        return 0
    fi
    return 1
}

install_postgres() {
    log "initdb not found; installing Debian's postgresql"
    # Only our private cluster is wanted: no `main` cluster started on 5432 by the package.
    mkdir -p /etc/postgresql-common
    if [[ ! -f /etc/postgresql-common/createcluster.conf ]]; then
        echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq -o Dpkg::Options::=--force-confold postgresql >&2
}

BIN="$(find_bin || true)"
if [[ "${1:-}" == start && -z "$BIN" ]]; then
    install_postgres
    BIN="$(find_bin)"
fi

# After the install, which creates the `postgres` user the next check needs.
BASE="${PG_DIR:-$REPO/target/pg}"
# As root the cluster belongs to `postgres`, which must reach BASE: a checkout under a private
# home (/root is 0700) is out of its reach, so the cluster then lives under /tmp instead.
[[ -n "${PG_DIR:-}" ]] || mkdir -p "$REPO/target"
if [[ -z "${PG_DIR:-}" && "$(id -u)" == 0 ]] && id postgres >/dev/null 2>&1 &&
    ! runuser -u postgres -- test -x "$REPO/target" 2>/dev/null; then
    BASE="${TMPDIR:-/tmp}/axhub-pg-$(echo "$REPO" | cksum | cut -d' ' -f1)"
fi
DATA="$BASE/data"
SOCK="$BASE/sock"
LOG="$BASE/postgres-$PORT.log"

# initdb and postgres refuse to run as root: as root, the cluster belongs to `postgres`.
as_owner() {
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

answering() {
    [[ -n "$BIN" ]] && "$BIN/pg_isready" -q -h "$HOST" -p "$PORT" >/dev/null 2>&1
}

ours_running() {
    [[ -f "$DATA/postmaster.pid" ]] && as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

ensure_db() {
    local exists
    exists="$(as_owner "$BIN/psql" -h "$HOST" -p "$PORT" -U postgres -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$DB'")"
    if [[ "$exists" != 1 ]]; then
        as_owner "$BIN/createdb" -h "$HOST" -p "$PORT" -U postgres "$DB"
    fi
}

start() {
    mkdir -p "$BASE"
    if ours_running && answering; then
        log "reusing the cluster in $DATA on $HOST:$PORT"
        ensure_db
        echo "export AXHUB_TEST_POSTGRES_URL=$URL"
        return 0
    fi
    if answering; then
        log "something else already answers on $HOST:$PORT; set PG_PORT to use another port"
        exit 1
    fi
    mkdir -p "$SOCK"
    if [[ "$(id -u)" == 0 ]]; then
        chown -R postgres:postgres "$BASE"
    fi
    if [[ ! -f "$DATA/PG_VERSION" ]]; then
        log "creating a cluster in $DATA"
        as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 \
            --locale=C --no-sync >"$BASE/initdb.log" 2>&1 ||
            { tail -n 20 "$BASE/initdb.log" >&2; exit 1; }
    fi
    log "starting postgres on $HOST:$PORT (log: $LOG)"
    if ! as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 30 -o \
        "-h $HOST -p $PORT -k $SOCK -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null; then
        log "postgres did not start; last lines of $LOG:"
        tail -n 20 "$LOG" >&2 || true
        exit 1
    fi
    ensure_db
    log "postgres is up"
    echo "export AXHUB_TEST_POSTGRES_URL=$URL"
}

stop() {
    if [[ -n "$BIN" ]] && ours_running; then
        log "stopping the cluster in $DATA"
        as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
    else
        log "postgres is not running"
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *)
        echo "usage: $0 start|stop" >&2
        exit 2
        ;;
esac
