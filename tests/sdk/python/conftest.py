"""Fixtures for exercising the official Python SDK (`axhub-sdk`) against `axhub-local`.

A single `axhub-local --demo` process is started per test session with a fresh
data directory; the demo data it writes (`demo.json`) is handed to the tests.

The binary comes from `$AXHUB_LOCAL_BIN` (a relative path is taken relative to the
repository root) or defaults to `target/debug/axhub-local`. Build it with
`cargo build -p axhub-local`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from axhub_sdk import AxHubClient, AxHubError, TokenType

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_BIN = REPO_ROOT / "target" / "debug" / "axhub-local"
STARTUP_TIMEOUT_S = 20.0
SHUTDOWN_TIMEOUT_S = 5.0
LISTENING_RE = re.compile(r"axhub-local listening on (http://127\.0\.0\.1:\d+)")

TERMINAL_STATUSES = {"succeeded", "failed", "cancelled"}


def _local_bin() -> Path:
    raw = os.environ.get("AXHUB_LOCAL_BIN")
    path = Path(raw) if raw else DEFAULT_BIN
    if not path.is_absolute():
        path = REPO_ROOT / path
    return path


class _Server:
    """The running `axhub-local` process and what it printed."""

    def __init__(self, proc: subprocess.Popen, data_dir: Path, stderr_path: Path):
        self.proc = proc
        self.data_dir = data_dir
        self.stderr_path = stderr_path
        self.stdout_lines: list[str] = []
        self.base_url: str | None = None
        self._listening = threading.Event()
        self._reader = threading.Thread(target=self._drain_stdout, daemon=True)
        self._reader.start()

    def _drain_stdout(self) -> None:
        # Keep reading so the child never blocks on a full pipe.
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.stdout_lines.append(line.rstrip("\n"))
            m = LISTENING_RE.search(line)
            if m and self.base_url is None:
                self.base_url = m.group(1)
                self._listening.set()

    def diagnostics(self) -> str:
        try:
            err = self.stderr_path.read_text(errors="replace")[-4000:]
        except OSError:
            err = "<no stderr file>"
        out = "\n".join(self.stdout_lines[-40:])
        return f"--- stdout (tail) ---\n{out}\n--- stderr (tail) ---\n{err}"

    def wait_ready(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        demo_path = self.data_dir / "demo.json"
        demo: dict | None = None
        healthy = False
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"axhub-local exited early with code {self.proc.returncode}\n"
                    + self.diagnostics()
                )
            if demo is None and demo_path.exists():
                try:
                    demo = json.loads(demo_path.read_text())
                except (OSError, json.JSONDecodeError):
                    demo = None  # still being written
            if self._listening.is_set() and not healthy:
                healthy = _healthz_ok(self.base_url)
            if demo is not None and healthy:
                return demo
            time.sleep(0.1)
        raise RuntimeError(
            f"axhub-local not ready within {timeout:.0f}s "
            f"(demo.json={'yes' if demo else 'no'}, listening={self._listening.is_set()}, "
            f"healthz={healthy})\n" + self.diagnostics()
        )

    def wait_listening(self, timeout: float) -> str:
        """Wait until the server answers /healthz (no demo.json expected); its base URL."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"axhub-local exited early with code {self.proc.returncode}\n"
                    + self.diagnostics()
                )
            if self._listening.is_set() and _healthz_ok(self.base_url):
                return self.base_url
            time.sleep(0.1)
        raise RuntimeError(f"axhub-local not listening within {timeout:.0f}s\n" + self.diagnostics())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=SHUTDOWN_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=SHUTDOWN_TIMEOUT_S)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._reader.join(timeout=2)


def _healthz_ok(base_url: str | None) -> bool:
    # Readiness probe only; the tests themselves talk to the server through the SDK.
    if not base_url:
        return False
    try:
        with urllib.request.urlopen(base_url + "/healthz", timeout=2) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def local_bin_checked() -> Path:
    """The axhub-local binary, or the test fails saying how to build it."""
    binary = _local_bin()
    if not binary.is_file() or not os.access(binary, os.X_OK):
        pytest.fail(
            f"axhub-local binary not found or not executable at {binary}. "
            "Build it with `cargo build -p axhub-local` or point AXHUB_LOCAL_BIN at it.",
            pytrace=False,
        )
    return binary


def _spawn(data_dir: Path, *args: str) -> _Server:
    """`axhub-local` on `data_dir`, any free port, stdout read by the server object."""
    binary = local_bin_checked()
    stderr_path = data_dir.parent / (data_dir.name + ".stderr.log")
    with open(stderr_path, "wb") as stderr_file:
        proc = subprocess.Popen(
            [str(binary), "--data-dir", str(data_dir), "--port", "0", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            text=True,
            cwd=str(REPO_ROOT),
        )
    return _Server(proc, data_dir, stderr_path)


@contextlib.contextmanager
def local_demo(tmp_path_factory, *extra_args: str):
    """Start `axhub-local --demo` on a fresh data directory, yield its demo.json, stop it."""
    data_dir = tmp_path_factory.mktemp("axhub-local-data")
    server = _spawn(data_dir, "--demo", *extra_args)
    try:
        try:
            data = server.wait_ready(STARTUP_TIMEOUT_S)
        except RuntimeError as exc:
            pytest.fail(str(exc), pytrace=False)
        assert data["base_url"] == server.base_url, (
            f"demo.json base_url {data['base_url']!r} != listening line {server.base_url!r}"
        )
        data["data_dir"] = str(data_dir)
        yield data
    finally:
        server.stop()


@contextlib.contextmanager
def local_server(data_dir: Path):
    """Start `axhub-local` (no demo) on `data_dir`, yield its base URL, stop it."""
    server = _spawn(data_dir)
    try:
        try:
            base_url = server.wait_listening(STARTUP_TIMEOUT_S)
        except RuntimeError as exc:
            pytest.fail(str(exc), pytrace=False)
        yield base_url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """The session's shared `axhub-local --demo`."""
    with local_demo(tmp_path_factory) as data:
        yield data


def make_client(demo: dict, role: str | None) -> AxHubClient:
    """An SDK client authenticated as a demo user (JWT), or anonymous when role is None."""
    if role is None:
        return AxHubClient(base_url=demo["base_url"])
    return AxHubClient(
        base_url=demo["base_url"],
        token=demo["users"][role]["token"],
        token_type=TokenType.JWT,
    )


@pytest.fixture(scope="session")
def owner(demo) -> AxHubClient:
    return make_client(demo, "owner")


@pytest.fixture(scope="session")
def admin(demo) -> AxHubClient:
    return make_client(demo, "admin")


@pytest.fixture(scope="session")
def member(demo) -> AxHubClient:
    return make_client(demo, "member")


@pytest.fixture(scope="session")
def outsider(demo) -> AxHubClient:
    return make_client(demo, "outsider")


def random_sha() -> str:
    return secrets.token_hex(20)


def cancel_in_progress(client: AxHubClient, app_id: str) -> None:
    """Free the app's single in-progress slot so a test can create a deployment."""
    page = client.deployments.deploy_get_api_v1_apps_by_app_id_deployments(
        path_params={"appID": app_id}, query={"limit": 100}
    )
    for item in page["items"]:
        if item["status"] not in TERMINAL_STATUSES:
            client.deployments.deploy_post_api_v1_apps_by_app_id_deployments_by_did_cancel(
                path_params={"appID": app_id, "did": item["id"]}
            )


def create_deployment(client: AxHubClient, app_id: str, sha: str | None = None) -> dict:
    """Cancel whatever is in progress, then create a fresh manual deployment."""
    cancel_in_progress(client, app_id)
    return client.deployments.deploy_post_api_v1_apps_by_app_id_deployments(
        path_params={"appID": app_id},
        body={"commit_sha": sha or random_sha(), "force_rebuild": False},
    )


@pytest.fixture
def fresh_deployment(demo, owner):
    """A pending deployment on the connected app, created by the owner; cancelled afterwards."""
    dep = create_deployment(owner, demo["app_id"])
    yield dep
    try:
        owner.deployments.deploy_post_api_v1_apps_by_app_id_deployments_by_did_cancel(
            path_params={"appID": demo["app_id"], "did": dep["id"]}
        )
    except AxHubError:
        pass
