#!/usr/bin/env python3
"""Cold start of Lambda binaries under one Lambda Runtime API emulator.

Each run spawns a binary with AWS_LAMBDA_RUNTIME_API pointing here, times the first
`GET /2018-06-01/runtime/invocation/next` (init done) and the first response POST (init plus
one invocation: the API Gateway v2 event of `GET /healthz`), then kills it. Binaries
alternate within each round (rotating the start) so drift on a shared machine hits them all
alike. Prints medians and the ratio of each binary to the first one (the baseline).

usage: coldstart.py [--runs N] [--env-file F] name=path [name=path ...]
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

EVENT = {
    "version": "2.0",
    "routeKey": "GET /healthz",
    "rawPath": "/healthz",
    "rawQueryString": "",
    "headers": {"host": "api.axhub.test", "x-request-id": "coldstart"},
    "requestContext": {
        "accountId": "123456789012",
        "apiId": "bench",
        "domainName": "api.axhub.test",
        "domainPrefix": "api",
        "http": {"method": "GET", "path": "/healthz", "protocol": "HTTP/1.1",
                 "sourceIp": "192.0.2.1", "userAgent": "coldstart"},
        "requestId": "coldstart",
        "routeKey": "GET /healthz",
        "stage": "$default",
        "time": "01/Dec/2026:00:00:00 +0000",
        "timeEpoch": 1796083200000,
    },
    "isBase64Encoded": False,
}
BODY = json.dumps(EVENT).encode()
REQUEST_ID = "00000000-0000-0000-0000-000000000001"


class Conn:
    """Just enough HTTP/1.1 for the runtime client: one keep-alive connection."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("runtime closed the connection")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def request_head(self):
        """The request line and headers; returns (method, path, headers, time seen)."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        seen = time.perf_counter()
        method, path, _ = self._line().decode().split(" ", 2)
        headers = {}
        while line := self._line():
            k, v = line.decode().split(":", 1)
            headers[k.strip().lower()] = v.strip()
        return method, path, headers, seen

    def body(self, headers):
        if "content-length" in headers:
            return self._exact(int(headers["content-length"]))
        if headers.get("transfer-encoding", "").lower() == "chunked":
            out = b""
            while size := int(self._line().split(b";")[0], 16):
                out += self._exact(size)
                self._exact(2)
            while self._line():
                pass
            return out
        return b""

    def respond(self, status, headers=(), body=b""):
        head = [f"HTTP/1.1 {status}", f"content-length: {len(body)}", *headers]
        self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)


class Emulator:
    """One run's Runtime API: a listener of its own, a thread per connection (the runtime
    client may open more than one), the first invocation served, later `/next` calls left
    waiting (the process is killed once the response arrived)."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.lock = threading.Lock()
        self.served = False
        self.t_next = self.t_resp = None
        self.payload = None
        self.done = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock):
        conn = Conn(sock)
        try:
            while True:
                method, path, headers, seen = conn.request_head()
                body = conn.body(headers)
                if (method, path) == ("GET", "/2018-06-01/runtime/invocation/next"):
                    with self.lock:
                        first, self.served = not self.served, True
                        if first:
                            self.t_next = seen
                    if not first:
                        self.done.wait(15)
                        return
                    deadline = int(time.time() * 1000) + 15000
                    conn.respond("200 OK", [
                        "content-type: application/json",
                        f"lambda-runtime-aws-request-id: {REQUEST_ID}",
                        f"lambda-runtime-deadline-ms: {deadline}",
                        "lambda-runtime-invoked-function-arn: "
                        "arn:aws:lambda:us-east-1:123456789012:function:bench",
                        "lambda-runtime-trace-id: Root=1-00000000-000000000000000000000000",
                    ], BODY)
                elif (method, path) == ("POST", f"/2018-06-01/runtime/invocation/{REQUEST_ID}/response"):
                    self.t_resp, self.payload = seen, body
                    conn.respond("202 Accepted")
                    self.done.set()
                else:
                    self.payload = f"{method} {path}: {body[:500]!r}".encode()
                    conn.respond("202 Accepted")
                    self.done.set()
        except (EOFError, OSError):
            pass
        finally:
            sock.close()

    def close(self):
        self.listener.close()


def one_run(path, env):
    """Spawns the binary; returns (ms to first /next, ms to first response, response)."""
    emu = Emulator()
    env = dict(env, AWS_LAMBDA_RUNTIME_API=emu.address)
    start = time.perf_counter()
    proc = subprocess.Popen([path], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not emu.done.wait(15) or emu.t_resp is None:
            raise RuntimeError(f"{path}: no response ({emu.payload!r})")
        return (emu.t_next - start) * 1000, (emu.t_resp - start) * 1000, json.loads(emu.payload)
    except Exception:
        proc.kill()
        sys.stderr.write(proc.communicate(timeout=5)[1].decode(errors="replace")[-3000:])
        raise
    finally:
        proc.kill()
        proc.wait()
        emu.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--env-file", help="KEY=VALUE lines added to every binary's environment")
    ap.add_argument("binaries", nargs="+", help="name=path; the first is the baseline")
    args = ap.parse_args()
    binaries = [b.split("=", 1) for b in args.binaries]

    env = {
        "PATH": "/usr/bin:/bin",
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
    }
    if args.env_file:
        with open(args.env_file) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#"):
                    k, v = line.split("=", 1)
                    env[k] = v

    times = {name: ([], []) for name, _ in binaries}
    for round_no in range(args.warmup + args.runs):
        shift = round_no % len(binaries)
        for name, path in binaries[shift:] + binaries[:shift]:
            to_next, to_resp, resp = one_run(path, env)
            if resp.get("statusCode") != 200:
                sys.exit(f"{name}: GET /healthz answered {resp}")
            if round_no >= args.warmup:
                times[name][0].append(to_next)
                times[name][1].append(to_resp)

    base = binaries[0][0]
    b_next, b_resp = (statistics.median(t) for t in times[base])
    print(f"{args.runs} alternating runs each, medians; ratio to {base}")
    print("| binary | size | first /next | ratio | first response | ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, path in binaries:
        n, r = (statistics.median(t) for t in times[name])
        size = os.path.getsize(path) / 1e6
        print(f"| {name} | {size:.1f} MB | {n:.2f} ms | {n / b_next:.2f}× | {r:.2f} ms | {r / b_resp:.2f}× |")


if __name__ == "__main__":
    main()
