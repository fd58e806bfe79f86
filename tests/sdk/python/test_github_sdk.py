"""The official Python SDK against axhub-local wired to a fake GitHub: the GitHub App install
flow (install/start's 302, register, complete), the agent's connect, the git connection's CRUD,
the installation picker, an empty commit resolved through GitHub, and signed push webhooks
(queued, then deployed by the worker; a push during a deployment deploys after it).

A second `axhub-local --demo` is started for this module with `--github-*` flags pointing at a
small fake GitHub (stdlib `http.server` in a thread) that answers the endpoints the client
calls with GitHub's JSON shapes. The existing `demo` fixture's server is not touched.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from axhub_sdk import AxHubClient, AxHubError

from conftest import (
    REPO_ROOT,
    STARTUP_TIMEOUT_S,
    _local_bin,
    _Server,
    cancel_in_progress,
    create_deployment,
    make_client,
)

APP_KEY = REPO_ROOT / "shared" / "github" / "tests" / "fixtures" / "test-app-key.pem"
APP_SLUG = "axhub-demo-app"
WEBHOOK_SECRET = "sdk-webhook-secret"
STATE_RE = re.compile(r"[?&]state=([0-9a-f]{64})$")
HEAD_SHA = "c0ffee0123456789c0ffee0123456789c0ffee01"

# What the fake GitHub knows: the owner's and the admin's GitHub tokens, their installations
# (4242: the demo org, 1: the demo app's existing connection), and what the App can read.
USER_TOKENS = {"gho_owner": "octo-owner", "gho_admin": "octo-admin"}
USER_INSTALLATIONS = {"gho_owner": [4242, 1], "gho_admin": [1]}
READABLE = {4242: {"axhub-demo/web", "axhub-demo/api"}, 1: {"axhub-demo/hello"}}


class FakeGitHub(BaseHTTPRequestHandler):
    """GitHub's REST API and OAuth token endpoint, as much of them as the client uses."""

    requests: list[tuple[str, str]] = []

    def log_message(self, *args):  # keep pytest's output clean
        pass

    def _json(self, status: int, body) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _bearer(self) -> str:
        return (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip()

    def _installation(self, login: str, iid: int) -> dict:
        return {
            "id": iid,
            "app_id": 424242,
            "target_type": "Organization",
            "account": {"login": login, "id": iid * 10, "type": "Organization",
                        "avatar_url": f"https://avatars.example/{login}"},
        }

    def do_POST(self):  # noqa: N802
        url = urllib.parse.urlparse(self.path)
        FakeGitHub.requests.append(("POST", url.path))
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        m = re.fullmatch(r"/app/installations/(\d+)/access_tokens", url.path)
        if m:
            if not self._bearer().count(".") == 2:
                return self._json(401, {"message": "A JSON web token could not be decoded"})
            iid = int(m.group(1))
            if iid not in READABLE:
                return self._json(404, {"message": "Not Found"})
            return self._json(201, {"token": f"ghs_{iid}", "expires_at": "2099-01-01T00:00:00Z",
                                    "permissions": {"contents": "read"}})
        if url.path == "/login/oauth/access_token":
            if body.get("refresh_token") == "ghr_owner":
                return self._json(200, {"access_token": "gho_owner", "expires_in": 28800,
                                        "refresh_token": "ghr_owner", "token_type": "bearer"})
            return self._json(200, {"error": "bad_refresh_token"})
        return self._json(404, {"message": "Not Found"})

    def do_GET(self):  # noqa: N802
        url = urllib.parse.urlparse(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        FakeGitHub.requests.append(("GET", url.path))
        token = self._bearer()
        if url.path.startswith("/user"):
            if token not in USER_TOKENS:
                return self._json(401, {"message": "Bad credentials"})
            mine = USER_INSTALLATIONS.get(token, [])
            if url.path == "/user":
                return self._json(200, {"login": USER_TOKENS[token], "id": 1, "type": "User",
                                        "avatar_url": "https://avatars.example/me"})
            if url.path == "/user/memberships/orgs":
                return self._json(200, [{"state": "active", "role": "admin", "organization": {
                    "login": "axhub-demo", "id": 42420, "avatar_url": "https://avatars.example/d"}}])
            if url.path == "/user/installations":
                return self._json(200, {"total_count": len(mine), "installations": [
                    self._installation("axhub-demo" if i == 4242 else "axhub-legacy", i)
                    for i in mine]})
            m = re.fullmatch(r"/user/installations/(\d+)/repositories", url.path)
            if m and int(m.group(1)) in mine:
                repos = sorted(READABLE[int(m.group(1))])
                page, per_page = int(query.get("page", 1)), int(query.get("per_page", 30))
                chunk = repos[(page - 1) * per_page: page * per_page]
                return self._json(200, {"total_count": len(repos), "repositories": [
                    {"id": n, "name": r.split("/")[1], "full_name": r, "private": True,
                     "default_branch": "main", "html_url": f"https://github.com/{r}"}
                    for n, r in enumerate(chunk)]})
            return self._json(404, {"message": "Not Found"})
        m = re.fullmatch(r"/repos/([^/]+/[^/]+)(/branches/(.+))?", url.path)
        if m and token in USER_TOKENS and not m.group(2):
            # A user's token reads what the user's installations give access to.
            mine = USER_INSTALLATIONS.get(token, [])
            if any(m.group(1) in READABLE.get(i, set()) for i in mine):
                return self._json(200, {"id": 1, "full_name": m.group(1), "private": True,
                                        "default_branch": "main"})
            return self._json(404, {"message": "Not Found"})
        if m and token.startswith("ghs_"):
            iid = int(token.removeprefix("ghs_"))
            repo = m.group(1)
            if repo not in READABLE.get(iid, set()):
                return self._json(404, {"message": "Not Found"})
            if m.group(3):
                return self._json(200, {"name": m.group(3), "commit": {"sha": HEAD_SHA}})
            return self._json(200, {"id": 1, "full_name": repo, "private": True,
                                    "default_branch": "main"})
        return self._json(404, {"message": "Not Found"})


@pytest.fixture(scope="module")
def fake_github():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGitHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def gh_demo(tmp_path_factory, fake_github):
    """A second `axhub-local --demo`, its GitHub App configured against the fake GitHub."""
    binary = _local_bin()
    if not binary.is_file() or not os.access(binary, os.X_OK):
        pytest.fail(f"axhub-local binary not found at {binary}; `cargo build -p axhub-local`",
                    pytrace=False)
    data_dir = tmp_path_factory.mktemp("axhub-local-github")
    stderr_path = data_dir.parent / (data_dir.name + ".stderr.log")
    args = [
        str(binary), "--data-dir", str(data_dir), "--port", "0", "--demo",
        "--github-api-url", fake_github, "--github-web-url", fake_github,
        "--github-app-id", "424242", "--github-app-slug", APP_SLUG,
        "--github-private-key-file", str(APP_KEY),
        "--github-client-id", "Iv1.demo", "--github-client-secret", "demo-secret",
        "--github-webhook-secret", WEBHOOK_SECRET,
    ]
    with open(stderr_path, "wb") as stderr_file:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=stderr_file, text=True, cwd=str(REPO_ROOT))
    server = _Server(proc, data_dir, stderr_path)
    try:
        try:
            demo = server.wait_ready(STARTUP_TIMEOUT_S)
        except RuntimeError as exc:
            pytest.fail(str(exc), pytrace=False)
        # Sign the owner and the admin in with GitHub (axhub-local's stand-in for identity).
        for role, token in (("owner", "gho_owner"), ("admin", "gho_admin")):
            _store_github_token(demo, role, {"access_token": token,
                                             "refresh_token": f"ghr_{role}",
                                             "expires_in": 28800})
        yield demo
    finally:
        server.stop()


def _store_github_token(demo: dict, role: str, grant: dict) -> None:
    req = urllib.request.Request(
        demo["base_url"] + "/local/github/user-token",
        data=json.dumps(grant).encode(),
        headers={"Authorization": "Bearer " + demo["users"][role]["token"],
                 "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 204


@pytest.fixture(scope="module")
def gh_owner(gh_demo) -> AxHubClient:
    return make_client(gh_demo, "owner")


@pytest.fixture(scope="module")
def gh_admin(gh_demo) -> AxHubClient:
    return make_client(gh_demo, "admin")


@pytest.fixture(scope="module")
def gh_member(gh_demo) -> AxHubClient:
    return make_client(gh_demo, "member")


@pytest.fixture(scope="module")
def gh_outsider(gh_demo) -> AxHubClient:
    return make_client(gh_demo, "outsider")


def _path(app_id: str) -> dict:
    return {"appID": app_id}


def _start(client: AxHubClient, app_id: str) -> dict:
    return client.deployments.deploy_get_api_v1_apps_by_app_id_git_github_install_start(
        path_params=_path(app_id))


def _state_of(url: str) -> str:
    m = STATE_RE.search(url)
    assert m, url
    return m.group(1)


def _status(client: AxHubClient, app_id: str) -> dict:
    return client.deployments.deploy_get_api_v1_apps_by_app_id_git_connection(
        path_params=_path(app_id))


def _register(client: AxHubClient, app_id: str, body: dict) -> dict:
    return client.deployments.deploy_post_api_v1_apps_by_app_id_git_connection(
        path_params=_path(app_id), body=body)


def _delete(client: AxHubClient, app_id: str) -> dict:
    return client.deployments.deploy_delete_api_v1_apps_by_app_id_git_connection(
        path_params=_path(app_id))


def _error(exc: AxHubError, status: int, code: str) -> None:
    assert (exc.status, exc.code) == (status, code), vars(exc)
    assert exc.request_id, vars(exc)


# --- the flow -----------------------------------------------------------------------------


def test_install_start_is_a_302_to_the_app_install_page(gh_demo, gh_owner, fake_github):
    r = _start(gh_owner, gh_demo["unconnected_app_id"])
    assert r["status"] == 302, r
    assert r["location"].startswith(f"{fake_github}/apps/{APP_SLUG}/installations/new?state="), r
    first = _state_of(r["location"])
    assert _state_of(_start(gh_owner, gh_demo["unconnected_app_id"])["location"]) != first


def test_install_start_is_for_owners_and_admins(gh_demo, gh_member, gh_outsider):
    with pytest.raises(AxHubError) as ei:
        _start(gh_member, gh_demo["unconnected_app_id"])
    _error(ei.value, 403, "forbidden")
    with pytest.raises(AxHubError) as ei:
        _start(gh_outsider, gh_demo["unconnected_app_id"])
    _error(ei.value, 404, "not_found")


def test_register_then_crud(gh_demo, gh_owner, gh_admin, gh_member, gh_outsider):
    app = gh_demo["unconnected_app_id"]
    _delete(gh_owner, app)
    not_connected = _status(gh_owner, app)
    assert not_connected["connected"] is False
    assert _state_of(not_connected["installUrl"])
    assert _status(gh_member, app) == {"connected": False}
    with pytest.raises(AxHubError) as ei:
        _status(gh_outsider, app)
    _error(ei.value, 404, "not_found")

    state = _state_of(_start(gh_owner, app)["location"])
    body = {"state": state, "installation_id": 4242, "repo_full_name": "axhub-demo/web",
            "branch": ""}
    created = _register(gh_owner, app, body)
    assert created == {"provider": "github", "repoFullName": "axhub-demo/web",
                       "branch": "main", "installationId": 4242}
    # The state is single-use.
    with pytest.raises(AxHubError) as ei:
        _register(gh_owner, app, body)
    _error(ei.value, 400, "invalid_oauth_state")
    got = _status(gh_member, app)
    assert got == {"connected": True, "provider": "github", "repoFullName": "axhub-demo/web",
                   "branch": "main", "installationId": 4242}

    patched = gh_admin.deployments.deploy_patch_api_v1_apps_by_app_id_git_connection(
        path_params=_path(app), body={"branch": "release/2026"})
    assert patched["branch"] == "release/2026"
    with pytest.raises(AxHubError) as ei:
        gh_admin.deployments.deploy_patch_api_v1_apps_by_app_id_git_connection(
            path_params=_path(app), body={"branch": "bad..branch"})
    _error(ei.value, 400, "invalid_format")
    with pytest.raises(AxHubError) as ei:
        gh_member.deployments.deploy_patch_api_v1_apps_by_app_id_git_connection(
            path_params=_path(app), body={"branch": "x"})
    _error(ei.value, 403, "forbidden")

    assert _delete(gh_owner, app) == {}
    assert _delete(gh_owner, app) == {}, "idempotent"
    assert _status(gh_owner, app)["connected"] is False
    with pytest.raises(AxHubError) as ei:
        gh_admin.deployments.deploy_patch_api_v1_apps_by_app_id_git_connection(
            path_params=_path(app), body={"branch": "main"})
    _error(ei.value, 404, "not_found")


def test_another_apps_or_users_state_is_refused(gh_demo, gh_owner, gh_admin):
    app, other = gh_demo["unconnected_app_id"], gh_demo["app_id"]
    state = _state_of(_start(gh_owner, app)["location"])
    body = {"state": state, "installation_id": 4242, "repo_full_name": "axhub-demo/web"}
    with pytest.raises(AxHubError) as ei:
        _register(gh_owner, other, body)
    _error(ei.value, 403, "forbidden")
    with pytest.raises(AxHubError) as ei:
        gh_admin.deployments.deploy_post_api_v1_git_github_complete(body=body)
    _error(ei.value, 403, "forbidden")


def test_complete_restores_the_app_from_the_state(gh_demo, gh_owner):
    app = gh_demo["unconnected_app_id"]
    _delete(gh_owner, app)
    state = _state_of(_status(gh_owner, app)["installUrl"])
    done = gh_owner.deployments.deploy_post_api_v1_git_github_complete(body={
        "state": state, "installation_id": 4242, "repo_full_name": "axhub-demo/api",
        "branch": "dev"})
    assert done == {"appId": app, "tenantSlug": "demo", "provider": "github",
                    "repoFullName": "axhub-demo/api", "branch": "dev", "installationId": 4242}
    with pytest.raises(AxHubError) as ei:
        gh_owner.deployments.deploy_post_api_v1_git_github_complete(body={
            "state": state, "installation_id": 0, "repo_full_name": "axhub-demo/api"})
    _error(ei.value, 400, "invalid_value")
    assert _delete(gh_owner, app) == {}


def test_connect_without_state_checks_the_installation(gh_demo, gh_owner, gh_admin):
    app = gh_demo["unconnected_app_id"]
    connect = gh_owner.deployments.deploy_post_api_v1_apps_by_app_id_git_github_connect
    made = connect(path_params=_path(app),
                   body={"installation_id": 4242, "repo_full_name": "axhub-demo/api"})
    assert made == {"provider": "github", "repoFullName": "axhub-demo/api", "branch": "main",
                    "installationId": 4242}
    # The App cannot read it.
    with pytest.raises(AxHubError) as ei:
        connect(path_params=_path(app),
                body={"installation_id": 4242, "repo_full_name": "axhub-demo/private"})
    _error(ei.value, 400, "installation_verification_failed")
    # Not the admin's installation.
    with pytest.raises(AxHubError) as ei:
        gh_admin.deployments.deploy_post_api_v1_apps_by_app_id_git_github_connect(
            path_params=_path(app),
            body={"installation_id": 4242, "repo_full_name": "axhub-demo/api"})
    _error(ei.value, 403, "forbidden")
    assert _delete(gh_owner, app) == {}


def test_no_github_token_is_428(gh_demo, gh_member):
    with pytest.raises(AxHubError) as ei:
        gh_member.deployments.deploy_get_api_v1_github_accounts()
    _error(ei.value, 428, "github_relogin_required")
    assert ei.value.category == "precondition_failed"


def test_accounts_and_repositories(gh_demo, gh_owner, gh_admin):
    accounts = gh_owner.deployments.deploy_get_api_v1_github_accounts()["accounts"]
    assert [(a["login"], a["type"], a["installed"]) for a in accounts] == [
        ("octo-owner", "User", False),
        ("axhub-demo", "Organization", True),
        ("axhub-legacy", "Organization", True),
    ]
    assert accounts[1]["installationId"] == 4242
    repos = gh_owner.deployments.deploy_get_api_v1_github_installations_by_installation_id_repositories(
        path_params={"installationID": 4242}, query={"page": 2, "per_page": 1})
    assert repos["totalCount"] == 2
    assert [r["fullName"] for r in repos["repositories"]] == ["axhub-demo/web"]
    with pytest.raises(AxHubError) as ei:
        gh_admin.deployments.deploy_get_api_v1_github_installations_by_installation_id_repositories(
            path_params={"installationID": 4242})
    _error(ei.value, 403, "forbidden")
    with pytest.raises(AxHubError) as ei:
        gh_owner.deployments.deploy_get_api_v1_github_installations_by_installation_id_repositories(
            path_params={"installationID": 4242}, query={"per_page": 101})
    _error(ei.value, 400, "invalid_value")


def test_an_empty_commit_deploys_the_connected_branch_head(gh_demo, gh_owner):
    app = gh_demo["app_id"]
    cancel_in_progress(gh_owner, app)
    dep = gh_owner.deployments.deploy_post_api_v1_apps_by_app_id_deployments(
        path_params=_path(app), body={"force_rebuild": False})
    try:
        assert dep["commitSha"] == HEAD_SHA
        assert dep["branch"] == "main"
        assert dep["triggerSource"] == "manual"
    finally:
        cancel_in_progress(gh_owner, app)


def _webhook(demo: dict, event: str, delivery: str, payload: dict, secret: str) -> tuple[int, dict]:
    raw = json.dumps(payload).encode()
    sig = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    req = urllib.request.Request(
        demo["base_url"] + "/webhooks/github", data=raw, method="POST",
        headers={"Content-Type": "application/json", "X-GitHub-Event": event,
                 "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": sig})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def _deployments_of(client, app: str, commit: str, timeout_s: float = 20.0) -> list:
    """The app's deployments of `commit`, once the worker made at least one (bounded wait)."""
    deadline = time.monotonic() + timeout_s
    while True:
        page = client.deployments.deploy_get_api_v1_apps_by_app_id_deployments(
            path_params=_path(app), query={"limit": 100})
        mine = [d for d in page["items"] if d["commitSha"] == commit]
        if mine or time.monotonic() > deadline:
            return mine
        time.sleep(0.1)


def test_a_signed_push_deploys_once_and_a_forged_one_is_401(gh_demo, gh_owner):
    app = gh_demo["app_id"]
    cancel_in_progress(gh_owner, app)
    after = uuid.uuid4().hex + "00000000"
    push = {"ref": "refs/heads/main", "after": after, "deleted": False,
            "repository": {"full_name": "axhub-demo/hello"}, "installation": {"id": 1},
            "sender": {"login": "octo"}}
    status, body = _webhook(gh_demo, "push", str(uuid.uuid4()), push, "not-the-secret")
    assert (status, body["error"]["code"]) == (401, "invalid_signature")
    delivery = str(uuid.uuid4())
    status, body = _webhook(gh_demo, "push", delivery, push, WEBHOOK_SECRET)
    # Recorded and queued; axhub-local's worker deploys it.
    assert (status, body) == (202, {"delivery_id": delivery, "event": "push",
                                    "outcome": "queued"}), body
    status, again = _webhook(gh_demo, "push", delivery, push, WEBHOOK_SECRET)
    assert (status, again["outcome"]) == (202, "duplicate"), again
    mine = _deployments_of(gh_owner, app, after)
    assert len(mine) == 1
    status, again = _webhook(gh_demo, "push", delivery, push, WEBHOOK_SECRET)
    assert (status, again["outcome"]) == (202, "duplicate"), again
    assert len(_deployments_of(gh_owner, app, after)) == 1
    assert mine[0]["triggerSource"] == "webhook"
    assert mine[0]["triggeredBy"] == "github:octo"
    cancel_in_progress(gh_owner, app)


def test_a_push_during_a_deployment_deploys_once_that_deployment_is_cancelled(gh_demo, gh_owner):
    app = gh_demo["app_id"]
    manual = create_deployment(gh_owner, app)
    after = uuid.uuid4().hex + "00000000"
    push = {"ref": "refs/heads/main", "after": after, "deleted": False,
            "repository": {"full_name": "axhub-demo/hello"}, "installation": {"id": 1},
            "sender": {"login": "octo"}}
    status, body = _webhook(gh_demo, "push", str(uuid.uuid4()), push, WEBHOOK_SECRET)
    assert (status, body["outcome"]) == (202, "queued"), body
    # Kept while the manual deployment holds the app's slot.
    assert _deployments_of(gh_owner, app, after, timeout_s=0.5) == []
    gh_owner.deployments.deploy_post_api_v1_apps_by_app_id_deployments_by_did_cancel(
        path_params={"appID": app, "did": manual["id"]})
    mine = _deployments_of(gh_owner, app, after)
    assert len(mine) == 1
    assert mine[0]["triggerSource"] == "webhook"
    cancel_in_progress(gh_owner, app)
