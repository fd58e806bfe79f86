"""The release lifecycle through the official Python SDK against axhub-local: a success is a
version in the releases list, and a neighbouring service's event delivered through
`POST /local/events` (platform admins only) is applied as the ingest Lambda applies it."""

import json
import time
import urllib.error
import urllib.request

from axhub_sdk import AxHubError

from conftest import create_deployment
from test_pipeline_sdk import wait_terminal


def deliver(demo, role, event):
    """POST /local/events as a demo user; (status, body)."""
    req = urllib.request.Request(
        f"{demo['base_url']}/local/events",
        data=json.dumps(event).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {demo['users'][role]['token']}",
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def releases(client, app):
    return client.deployments.deploy_get_api_v1_apps_by_app_id_releases(
        path_params={"appID": app}, query={"limit": 100}
    )


def test_a_success_is_a_version_and_an_approval_event_marks_it(owner, member, demo):
    app = demo["app_id"]
    created = create_deployment(owner, app)
    done = wait_terminal(owner, app, created["id"])
    assert done["status"] == "succeeded", done
    page = releases(member, app)
    assert page["total"] >= 1
    mine = [r for r in page["items"] if r["deploymentId"] == created["id"]]
    assert len(mine) == 1, page
    release = mine[0]
    assert release["version"] == done["releaseVersion"]
    assert release["activeProd"] is True and release["approved"] is False
    assert page["items"][0]["deploymentId"] == created["id"], "newest first"

    approval = {
        "source": "axhub.review",
        "detail-type": "ReviewApproved",
        "detail": {
            "request_id": "0190f3c2-0000-7000-8000-000000000001",
            "app_id": app,
            "deployment_id": created["id"],
            "cursor_seq": 0,
            "version": int(time.time() * 1000),
        },
    }
    # Only a platform admin delivers events, and only from the source that owns the type.
    status, body = deliver(demo, "owner", approval)
    assert (status, body["error"]["code"]) == (403, "not_admin")
    forged = dict(approval, source="axhub.apps")
    status, body = deliver(demo, "platform_admin", forged)
    assert (status, body["error"]["code"]) == (403, "forbidden")
    status, body = deliver(demo, "platform_admin", approval)
    assert (status, body) == (200, {"applied": "applied"})
    approved = [r for r in releases(member, app)["items"] if r["deploymentId"] == created["id"]]
    assert approved[0]["approved"] is True

    # An approved app deploys only through staging; the apps service's newer record makes it
    # unapproved again for the other tests of this session.
    try:
        create_deployment(owner, app)
        raise AssertionError("an approved app without staging must not deploy")
    except AxHubError as e:
        assert e.code == "staging_required"
    status, body = deliver(
        demo,
        "platform_admin",
        {
            "source": "axhub.apps",
            "detail-type": "AppUpserted",
            "detail": {
                "id": app,
                "tenant_id": demo["tenant_id"],
                "owner_id": "demo-owner",
                "slug": "hello",
                "subdomain": "hello",
                "approved": False,
                "version": int(time.time() * 1000) + 1,
            },
        },
    )
    assert (status, body) == (200, {"applied": "applied"})
