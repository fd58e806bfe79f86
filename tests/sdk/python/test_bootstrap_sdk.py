"""An app bootstrapped from a template through the official SDK against `axhub-local --demo`:
the catalog, the saga polled to `done` (a repository in the simulated GitHub, the template
pushed, the connection, the first deployment), then the new app's deployments listed."""

from __future__ import annotations

import time

import pytest
from axhub_sdk import AxHubError

from conftest import local_demo, make_client


@pytest.fixture(scope="module")
def boot_demo(tmp_path_factory):
    with local_demo(tmp_path_factory, "--sim-build-ms", "200", "--sim-rollout-ms", "200") as d:
        yield d


def _poll_done(client, tenant: str, bootstrap_id: str) -> dict:
    deadline = time.monotonic() + 60
    stages = []
    while True:
        view = client.deployments.deploy_get_api_v1_tenants_by_tenant_id_app_bootstraps_by_bootstrap_id(
            path_params={"tenantID": tenant, "bootstrapID": bootstrap_id})
        if not stages or stages[-1] != view["stage"]:
            stages.append(view["stage"])
        if view["status"] != "running":
            return {**view, "stages_seen": stages}
        assert time.monotonic() < deadline, f"still running: {view}"
        time.sleep(0.1)


def test_a_template_is_bootstrapped_to_a_running_app(boot_demo):
    owner = make_client(boot_demo, "owner")
    tenant = boot_demo["tenant_id"]
    templates = owner.apps.apps_get_api_v1_templates()["items"]
    node = next(t for t in templates if t["folderName"] == "node-hello")
    assert node["resourceTier"] and node["description"], node

    request = {
        "name": "Hello shop",
        "slug": "hello-shop",
        "subdomain": "hello-shop",
        "repo_name": "hello-shop",
        "github_owner": "axhub-demo",
        "github_installation_id": 1,
        "template_id": node["id"],
    }
    start = owner.deployments.deploy_post_api_v1_tenants_by_tenant_id_app_bootstraps(
        path_params={"tenantID": tenant}, body=request)
    bootstrap_id = start["bootstrapId"]
    assert start["statusUrl"] == f"/api/v1/tenants/{tenant}/app-bootstraps/{bootstrap_id}"

    done = _poll_done(owner, tenant, bootstrap_id)
    assert (done["status"], done["stage"], done["errorCode"]) == ("done", "done", ""), done
    assert done["repoFullName"] == "axhub-demo/hello-shop"
    assert done["appId"] and done["deploymentId"]

    page = owner.deployments.deploy_get_api_v1_apps_by_app_id_deployments(
        path_params={"appID": done["appId"]})
    assert [d["id"] for d in page["items"]] == [done["deploymentId"]]
    assert page["items"][0]["status"] == "succeeded"
    # The repository is the new app's connection.
    git = owner.deployments.deploy_get_api_v1_apps_by_app_id_git_connection(
        path_params={"appID": done["appId"]})
    assert (git["connected"], git["repoFullName"]) == (True, "axhub-demo/hello-shop"), git

    # The same names again: the app now holds them.
    with pytest.raises(AxHubError) as ei:
        owner.deployments.deploy_post_api_v1_tenants_by_tenant_id_app_bootstraps(
            path_params={"tenantID": tenant}, body={**request, "repo_name": "another"})
    assert ei.value.status == 400 and ei.value.code == "invalid_value", vars(ei.value)


def test_a_repository_that_exists_fails_the_saga_as_repo_exists(boot_demo):
    owner = make_client(boot_demo, "owner")
    tenant = boot_demo["tenant_id"]
    template = owner.apps.apps_get_api_v1_templates()["items"][1]["id"]
    start = owner.deployments.deploy_post_api_v1_tenants_by_tenant_id_app_bootstraps(
        path_params={"tenantID": tenant},
        body={"name": "Site", "slug": "site-again", "subdomain": "site-again",
              "repo_name": "site", "github_owner": "axhub-demo",
              "github_installation_id": 1, "template_id": template})
    failed = _poll_done(owner, tenant, start["bootstrapId"])
    assert (failed["status"], failed["errorCode"]) == ("failed", "repo_exists"), failed
    assert "axhub-demo/site" in failed["errorMessage"]


def test_without_an_installation_it_is_422_and_another_tenant_sees_nothing(boot_demo):
    owner, outsider = make_client(boot_demo, "owner"), make_client(boot_demo, "outsider")
    tenant = boot_demo["tenant_id"]
    with pytest.raises(AxHubError) as ei:
        owner.deployments.deploy_post_api_v1_tenants_by_tenant_id_app_bootstraps(
            path_params={"tenantID": tenant},
            body={"name": "X", "slug": "x-app", "subdomain": "x-app", "repo_name": "x",
                  "github_owner": "axhub-demo",
                  "template_id": owner.apps.apps_get_api_v1_templates()["items"][0]["id"]})
    assert (ei.value.status, ei.value.code) == (422, "github_app_not_installed"), vars(ei.value)
    with pytest.raises(AxHubError) as ei:
        outsider.deployments.deploy_get_api_v1_tenants_by_tenant_id_app_bootstraps_by_bootstrap_id(
            path_params={"tenantID": tenant, "bootstrapID": "0193a1b0-0000-7000-8000-0000000000ff"})
    assert ei.value.status == 404, vars(ei.value)
