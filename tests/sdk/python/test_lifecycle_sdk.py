"""The release lifecycle through the official Python SDK against axhub-local: a success is a
version in the releases list; a neighbouring service's event delivered through
`POST /local/events` (platform admins only) is applied as the ingest Lambda applies it; and the
whole path of issue #8 (production, staging, a review approved by event, promotion, guarded
rollbacks, staging off) runs on an axhub-local of its own, since an approval leaves the app
approved and the session's demo app is shared by the other tests."""

import json
import time
import urllib.error
import urllib.request
import uuid

import pytest
from axhub_sdk import AxHubError

from conftest import create_deployment, local_demo, make_client
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


@pytest.fixture(scope="module")
def own_demo(tmp_path_factory):
    """An axhub-local of this module's own, with quick simulated builds and rollouts."""
    with local_demo(tmp_path_factory, "--sim-build-ms", "300", "--sim-rollout-ms", "200") as data:
        yield data


def refused(call):
    """The (status, code) a call is refused with."""
    try:
        call()
    except AxHubError as e:
        return e.status, e.code
    raise AssertionError("the call was accepted")


def wait_until(what, check, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.2)


def test_production_staging_promotion_rollback_and_staging_off(own_demo):
    demo = own_demo
    owner, member = make_client(demo, "owner"), make_client(demo, "member")
    dep = owner.deployments
    app = demo["app_id"]
    path = {"appID": app}

    def deployed():
        created = create_deployment(owner, app)
        done = wait_terminal(owner, app, created["id"])
        assert done["status"] == "succeeded", done
        return done

    def release(d):
        items = releases(member, app)["items"]
        return next(r for r in items if r["deploymentId"] == d["id"])

    def event(source, detail_type, detail):
        status, body = deliver(demo, "platform_admin", {
            "source": source, "detail-type": detail_type, "detail": detail})
        assert status == 200, (detail_type, body)

    def review(detail_type, request, d, cursor, version):
        event("axhub.review", detail_type, {
            "request_id": request, "app_id": app, "deployment_id": d["id"],
            "cursor_seq": cursor, "version": version})

    def rollback(d, confirm=False):
        return dep.deploy_post_api_v1_apps_by_app_id_deployments_by_did_rollback(
            path_params={"appID": app, "did": d["id"]}, body={"confirm_schema_skew": confirm})

    v1 = deployed()
    assert v1["environment"] == "production"

    # Staging on: 202, once.
    assert dep.deploy_put_api_v1_apps_by_app_id_staging(path_params=path) == {}
    assert refused(lambda: dep.deploy_put_api_v1_apps_by_app_id_staging(path_params=path)) == (
        409, "staging_already_enabled")
    assert refused(lambda: member.deployments.deploy_put_api_v1_apps_by_app_id_staging(
        path_params=path))[0] == 403
    wait_until("staging seeded with production's release", lambda: release(v1)["activeStaging"])

    # A trigger lands on staging; production keeps v1.
    v2 = deployed()
    assert v2["environment"] == "staging"
    assert release(v2)["activeStaging"] and not release(v2)["activeProd"]
    assert release(v1)["activeProd"]

    # Schema ops and environment hashes arrive; preflight shows them.
    event("axhub.nocode-db", "SchemaOpRecorded", {
        "app_id": app, "seq": 1, "op": "create_table", "table": "notes", "columns": [
            {"name": "id", "type": "integer", "primary_key": True, "nullable": False},
            {"name": "body", "type": "text"}]})
    event("axhub.nocode-db", "SchemaOpRecorded", {
        "app_id": app, "seq": 2, "op": "drop_column", "table": "notes", "column": "body"})
    for env, hashes in [("production", {"A": "1"}), ("staging", {"A": "2", "B": "3"})]:
        event("axhub.apps", "AppEnvChanged", {
            "app_id": app, "environment": env, "hashes": hashes, "version": 1})
    pre = dep.deploy_get_api_v1_apps_by_app_id_releases_promote_preflight(
        path_params=path, query={"deployment_id": v2["id"]})
    assert pre["cursorSeq"] == 2 and pre["promotable"] is True, pre
    assert pre["diffKeys"] == ["A", "B"] and pre["missingImages"] == []
    assert [(o["seq"], o["destructive"]) for o in pre["ops"]] == [(1, False), (2, True)]
    assert refused(lambda: member.deployments.deploy_get_api_v1_apps_by_app_id_releases_promote_preflight(
        path_params=path, query={"deployment_id": v2["id"]}))[0] == 403

    # Reviewed and approved by events: promoted.
    request = str(uuid.uuid4())
    review("ReviewRequested", request, v2, 2, 1)
    off = {"confirm_discard_ops": True}
    assert refused(lambda: dep.deploy_delete_api_v1_apps_by_app_id_staging(
        path_params=path, body=off)) == (412, "pending_review_exists")
    review("ReviewApproved", request, v2, 2, 2)
    wait_until("v2 promoted to production", lambda: release(v2)["activeProd"])
    assert release(v2)["approved"] is True
    retry = {"appID": app, "requestID": request}
    assert refused(lambda: dep.deploy_post_api_v1_apps_by_app_id_promotions_by_request_id_retry(
        path_params=retry)) == (409, "already_promoted")
    assert refused(lambda: dep.deploy_post_api_v1_apps_by_app_id_promotions_by_request_id_retry(
        path_params={"appID": app, "requestID": str(uuid.uuid4())}))[0] == 404

    # Rollbacks: an unapproved version refused; approved ones accepted, skew confirmed.
    v3 = deployed()
    assert refused(lambda: rollback(v3)) == (403, "version_not_approved")
    review("ReviewApproved", str(uuid.uuid4()), v1, 0, 1)
    wait_until("v1 promoted back", lambda: release(v1)["activeProd"])
    assert rollback(v2) == {}
    wait_until("rolled back to v2", lambda: release(v2)["activeProd"])
    assert refused(lambda: rollback(v1)) == (412, "confirm_required")
    assert rollback(v1, confirm=True) == {}
    wait_until("rolled back to v1", lambda: release(v1)["activeProd"])

    # Staging off.
    assert refused(lambda: dep.deploy_delete_api_v1_apps_by_app_id_staging(
        path_params=path, body={})) == (412, "confirm_required")
    assert dep.deploy_delete_api_v1_apps_by_app_id_staging(path_params=path, body=off) == {}
    assert refused(lambda: dep.deploy_delete_api_v1_apps_by_app_id_staging(
        path_params=path, body=off)) == (412, "staging_not_enabled")
    assert not any(r["activeStaging"] for r in releases(member, app)["items"])
    assert refused(lambda: create_deployment(owner, app)) == (412, "staging_required")
