"""`axhub-local admin`: a tenant, a member and an app made from nothing on a fresh data
directory, then the official SDK deploying that app with the token the CLI printed."""

from __future__ import annotations

import json
import subprocess

import pytest
from axhub_sdk import AxHubClient, AxHubError, TokenType

from conftest import local_bin_checked, local_server, random_sha
from test_pipeline_sdk import wait_terminal


def admin(data_dir, *args: str) -> dict:
    out = subprocess.run(
        [str(local_bin_checked()), "--data-dir", str(data_dir), "admin", *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return json.loads(out.stdout)


def test_admin_makes_a_tenant_a_member_and_an_app_that_the_sdk_deploys(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("axhub-admin-data")
    tenant = admin(data_dir, "tenant", "add", "--slug", "acme")["tenant_id"]
    admin(data_dir, "member", "add", "--tenant", tenant, "--user", "alice", "--role", "admin")
    admin(data_dir, "member", "add", "--tenant", tenant, "--user", "bob")
    app = admin(
        data_dir, "app", "add", "--tenant", tenant, "--slug", "site", "--subdomain", "site",
        "--owner", "alice", "--repo", "acme/site",
    )
    assert app["repo_full_name"] == "acme/site" and app["branch"] == "main"
    alice = admin(data_dir, "token", "--user", "alice")["token"]
    bob = admin(data_dir, "token", "--user", "bob")["token"]
    pat = admin(data_dir, "pat", "create", "--user", "alice", "--scope", "deploy:read")

    # A bad slug is refused by name, and nothing is written.
    bad = subprocess.run(
        [str(local_bin_checked()), "--data-dir", str(data_dir), "admin", "app", "add",
         "--tenant", tenant, "--slug", "Not A Label", "--subdomain", "x", "--owner", "alice"],
        capture_output=True, text=True, timeout=30,
    )
    assert bad.returncode != 0 and "slug" in bad.stderr

    with local_server(data_dir) as base_url:
        owner = AxHubClient(base_url=base_url, token=alice, token_type=TokenType.JWT)
        created = owner.deployments.deploy_post_api_v1_apps_by_app_id_deployments(
            path_params={"appID": app["app_id"]},
            body={"commit_sha": random_sha(), "force_rebuild": False},
        )
        done = wait_terminal(owner, app["app_id"], created["id"])
        assert done["status"] == "succeeded", done
        assert done["triggerSource"] == "manual"

        # A plain member of the tenant may read but not deploy; the read-only PAT neither.
        member = AxHubClient(base_url=base_url, token=bob, token_type=TokenType.JWT)
        page = member.deployments.deploy_get_api_v1_apps_by_app_id_deployments(
            path_params={"appID": app["app_id"]}
        )
        assert [d["id"] for d in page["items"]] == [created["id"]]
        with pytest.raises(AxHubError) as refused:
            member.deployments.deploy_post_api_v1_apps_by_app_id_deployments(
                path_params={"appID": app["app_id"]}, body={"commit_sha": random_sha()}
            )
        assert refused.value.status == 403

        # Revoked, the personal access token no longer signs anyone in.
        admin(data_dir, "pat", "revoke", "--id", pat["id"])
        reader = AxHubClient(base_url=base_url, token=pat["token"], token_type=TokenType.PAT)
        with pytest.raises(AxHubError) as revoked:
            reader.deployments.deploy_get_api_v1_apps_by_app_id_deployments(
                path_params={"appID": app["app_id"]}
            )
        assert revoked.value.status == 401
