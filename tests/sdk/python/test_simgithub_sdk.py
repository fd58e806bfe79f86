"""Every GitHub operation against `axhub-local --demo` and nothing else: the simulated GitHub
it comes with, reached through the same GitHub adapter as github.com."""

from __future__ import annotations

import json
import re
import time
import urllib.request

import pytest
from axhub_sdk import AxHubError

from conftest import cancel_in_progress, local_demo, make_client
from test_pipeline_sdk import wait_terminal

STATE_RE = re.compile(r"[?&]state=([^&]+)")


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    """Its own demo: these tests connect, push and deploy."""
    with local_demo(tmp_path_factory, "--sim-build-ms", "200", "--sim-rollout-ms", "200") as d:
        yield d


def _path(app_id: str) -> dict:
    return {"appID": app_id}


def _push(demo: dict, repo: str, branch: str, message: str) -> dict:
    req = urllib.request.Request(
        demo["base_url"] + "/local/github/push",
        data=json.dumps({"repo_full_name": repo, "branch": branch, "message": message}).encode(),
        headers={"Authorization": "Bearer " + demo["users"]["platform_admin"]["token"],
                 "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=20) as resp:
        assert resp.status == 200
        return json.loads(resp.read())


def test_accounts_and_repositories_come_from_the_simulated_github(sim):
    owner, outsider = make_client(sim, "owner"), make_client(sim, "outsider")
    accounts = owner.deployments.deploy_get_api_v1_github_accounts()["accounts"]
    assert [(a["login"], a["type"], a["installed"], a["installationId"]) for a in accounts] == [
        ("demo-owner", "User", False, None),
        ("axhub-demo", "Organization", True, 1),
    ]
    assert all("/installations/new/permissions?target_id=" in a["installUrl"] for a in accounts)
    repos = owner.deployments.deploy_get_api_v1_github_installations_by_installation_id_repositories(
        path_params={"installationID": 1})
    assert [r["fullName"] for r in repos["repositories"]] == ["axhub-demo/hello", "axhub-demo/site"]
    with pytest.raises(AxHubError) as ei:
        outsider.deployments.deploy_get_api_v1_github_installations_by_installation_id_repositories(
            path_params={"installationID": 1})
    assert ei.value.status == 403


def test_install_start_then_complete_then_patch_and_delete(sim):
    owner, admin = make_client(sim, "owner"), make_client(sim, "admin")
    app = sim["unconnected_app_id"]
    start = owner.deployments.deploy_get_api_v1_apps_by_app_id_git_github_install_start(
        path_params=_path(app))
    assert start["status"] == 302
    assert start["location"].startswith(
        sim["base_url"] + "/sim/github/web/apps/axhub-sim/installations/new?state="), start
    state = STATE_RE.search(start["location"]).group(1)
    done = owner.deployments.deploy_post_api_v1_git_github_complete(body={
        "state": state, "installation_id": 1, "repo_full_name": "axhub-demo/site",
        "branch": "main"})
    assert (done["appId"], done["repoFullName"], done["installationId"]) == (
        app, "axhub-demo/site", 1)
    patched = admin.deployments.deploy_patch_api_v1_apps_by_app_id_git_connection(
        path_params=_path(app), body={"branch": "release"})
    assert patched["branch"] == "release"
    assert owner.deployments.deploy_delete_api_v1_apps_by_app_id_git_connection(
        path_params=_path(app)) == {}
    status = owner.deployments.deploy_get_api_v1_apps_by_app_id_git_connection(
        path_params=_path(app))
    assert status["connected"] is False


def test_connect_and_register_check_the_installation_and_the_person(sim):
    owner = make_client(sim, "owner")
    app = sim["unconnected_app_id"]
    connect = owner.deployments.deploy_post_api_v1_apps_by_app_id_git_github_connect
    connected = connect(path_params=_path(app),
                        body={"installation_id": 1, "repo_full_name": "axhub-demo/site"})
    assert connected["repoFullName"] == "axhub-demo/site"
    owner.deployments.deploy_delete_api_v1_apps_by_app_id_git_connection(path_params=_path(app))
    # Another organisation's installation and repository: not the owner's to connect.
    with pytest.raises(AxHubError) as ei:
        connect(path_params=_path(app),
                body={"installation_id": 2, "repo_full_name": "elsewhere-inc/secret"})
    assert ei.value.status in (403, 404), vars(ei.value)
    status = owner.deployments.deploy_get_api_v1_apps_by_app_id_git_connection(
        path_params=_path(app))
    state = STATE_RE.search(status["installUrl"]).group(1)
    registered = owner.deployments.deploy_post_api_v1_apps_by_app_id_git_connection(
        path_params=_path(app),
        body={"state": state, "installation_id": 1, "repo_full_name": "axhub-demo/site",
              "branch": "main"})
    assert registered["repoFullName"] == "axhub-demo/site"
    owner.deployments.deploy_delete_api_v1_apps_by_app_id_git_connection(path_params=_path(app))


def test_a_push_deploys_as_a_webhook_and_an_empty_trigger_deploys_the_branch_head(sim):
    owner = make_client(sim, "owner")
    app = sim["app_id"]
    cancel_in_progress(owner, app)
    pushed = _push(sim, "axhub-demo/hello", "main", "Change the greeting")
    assert pushed["webhook"]["status"] == 202 and pushed["webhook"]["body"]["outcome"] == "queued"
    d = _deployment_of(owner, app, pushed["commit_sha"])
    assert d["triggerSource"] == "webhook"
    assert wait_terminal(owner, app, d["id"])["status"] == "succeeded"

    head = _push(sim, "axhub-demo/hello", "main", "Another change")["commit_sha"]
    # The push's own deployment first (the worker makes it), so the manual one is not refused.
    wait_terminal(owner, app, _deployment_of(owner, app, head)["id"])
    manual = owner.deployments.deploy_post_api_v1_apps_by_app_id_deployments(
        path_params=_path(app), body={"force_rebuild": False})
    assert manual["commitSha"] == head and manual["triggerSource"] == "manual"


def _deployment_of(client, app: str, sha: str) -> dict:
    """The app's deployment of `sha`, once the worker has made it."""
    deadline = time.monotonic() + 20
    while True:
        page = client.deployments.deploy_get_api_v1_apps_by_app_id_deployments(
            path_params=_path(app))
        found = [d for d in page["items"] if d["commitSha"] == sha]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no deployment of {sha}: {page}"
        time.sleep(0.1)
