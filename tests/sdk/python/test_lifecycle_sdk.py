"""The release lifecycle through the official Python SDK against axhub-local: a success is a
version in the releases list, and a neighbouring service's event delivered through
`POST /local/events` (platform admins only) is applied as the ingest Lambda applies it (the
approval of a version is shown in the Rust scenarios, since an approved app stays approved
and the demo app is shared by this session's tests)."""

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


def test_a_success_is_a_version_in_the_releases_list(owner, member, demo):
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


def test_local_events_apply_a_neighbours_event_for_platform_admins_only(owner, demo):
    app = demo["unconnected_app_id"]
    # The apps service takes the app's subdomain away: the trigger's first precondition fails.
    event = {
        "source": "axhub.apps",
        "detail-type": "AppUpserted",
        "detail": {
            "id": app,
            "tenant_id": demo["tenant_id"],
            "owner_id": "demo-owner",
            "slug": "unconnected",
            "subdomain": None,
            "approved": False,
            "version": int(time.time() * 1000),
        },
    }
    status, body = deliver(demo, "owner", event)
    assert (status, body["error"]["code"]) == (403, "not_admin")
    status, body = deliver(demo, "platform_admin", dict(event, source="axhub.review"))
    assert (status, body["error"]["code"]) == (403, "forbidden")
    status, body = deliver(demo, "platform_admin", {"detail-type": "AppUpserted"})
    assert (status, body["error"]["fields"][0]["name"]) == (400, "source")
    status, body = deliver(demo, "platform_admin", event)
    assert (status, body) == (200, {"applied": "applied"})
    status, body = deliver(demo, "platform_admin", event)
    assert (status, body) == (200, {"applied": "stale"}), "a replay changes nothing"
    try:
        create_deployment(owner, app)
        raise AssertionError("an app without a subdomain must not deploy")
    except AxHubError as e:
        assert e.code == "subdomain_not_configured"
    # Give it back for the other tests of this session.
    event["detail"] = dict(event["detail"], subdomain="unconnected", version=event["detail"]["version"] + 1)
    assert deliver(demo, "platform_admin", event) == (200, {"applied": "applied"})
