"""The official Python SDK (axhub-sdk 0.13.0) against axhub-local: the deployments API.

Everything asserted here goes through the SDK. Note the SDK's conventions:
- request bodies use the wire's snake_case keys;
- success bodies come back with every key camelCased (`commit_sha` -> `commitSha`,
  `next_cursor` -> `nextCursor`), nested items included;
- a 204 comes back as `{}`;
- any 4xx/5xx raises `AxHubError(category, code, message, status, retryable, request_id)`.
"""

from __future__ import annotations

import asyncio
import re

import axhub_sdk
import pytest
from axhub_sdk import AsyncAxHubClient, AxHubError, TokenType

from conftest import (
    TERMINAL_STATUSES,
    cancel_in_progress,
    create_deployment,
    make_client,
    random_sha,
)

# A deployment in progress: the local worker moves it through these on its own.
IN_PROGRESS = {"pending", "building", "pushing", "deploying"}

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _list(client, app_id, **query):
    return client.deployments.deploy_get_api_v1_apps_by_app_id_deployments(
        path_params={"appID": app_id}, query=query or None
    )


def _get(client, app_id, did):
    return client.deployments.deploy_get_api_v1_apps_by_app_id_deployments_by_did(
        path_params={"appID": app_id, "did": did}
    )


def _create(client, app_id, sha=None, **extra):
    body = {"commit_sha": sha or random_sha(), "force_rebuild": False, **extra}
    return client.deployments.deploy_post_api_v1_apps_by_app_id_deployments(
        path_params={"appID": app_id}, body=body
    )


def _cancel(client, app_id, did):
    return client.deployments.deploy_post_api_v1_apps_by_app_id_deployments_by_did_cancel(
        path_params={"appID": app_id, "did": did}
    )


def _tenant_feed(client, tenant_id, **query):
    return client.deployments.deploy_get_api_v1_tenants_by_tenant_id_deployments(
        path_params={"tenantID": tenant_id}, query=query or None
    )


def _assert_error(exc: AxHubError, status: int, category: str, codes) -> None:
    if isinstance(codes, str):
        codes = {codes}
    assert exc.status == status, vars(exc)
    assert exc.category == category, vars(exc)
    assert exc.code in codes, vars(exc)
    assert exc.retryable is False, vars(exc)
    # The server puts its request id in every error body; the SDK carries it.
    assert isinstance(exc.request_id, str) and exc.request_id, vars(exc)
    assert str(exc), "AxHubError should carry the server's message"


# --- the SDK surface this suite relies on -------------------------------------------------


def test_sdk_exposes_deployment_operations(owner):
    assert axhub_sdk.TokenType.JWT.value == "jwt"
    ops = {
        "deployGetApiV1AppsByAppIDDeployments": "deploy_get_api_v1_apps_by_app_id_deployments",
        "deployPostApiV1AppsByAppIDDeployments": "deploy_post_api_v1_apps_by_app_id_deployments",
        "deployGetApiV1AppsByAppIDDeploymentsByDid": "deploy_get_api_v1_apps_by_app_id_deployments_by_did",
        "deployPostApiV1AppsByAppIDDeploymentsByDidCancel": "deploy_post_api_v1_apps_by_app_id_deployments_by_did_cancel",
        "deployGetApiV1TenantsByTenantIDDeployments": "deploy_get_api_v1_tenants_by_tenant_id_deployments",
    }
    for op_id, snake in ops.items():
        assert callable(getattr(owner.deployments, snake)), snake
        assert callable(getattr(owner.deployments, op_id)), op_id


# --- create / get / list ------------------------------------------------------------------


def test_owner_creates_pending_manual_deployment(demo, owner):
    sha = random_sha()
    dep = create_deployment(owner, demo["app_id"], sha)
    try:
        assert UUID_RE.match(dep["id"]), dep
        assert dep["appId"] == demo["app_id"]
        assert dep["tenantId"] == demo["tenant_id"]
        assert dep["commitSha"] == sha
        assert dep["status"] == "pending"
        assert dep["currentStage"] == "pending"
        assert dep["triggerSource"] == "manual"
        assert dep["forceRebuild"] is False
        assert dep["triggeredBy"] == demo["users"]["owner"]["user_id"]
        assert dep["startedAt"]
        assert dep["completedAt"] is None
        assert dep["cancelRequestedAt"] is None
    finally:
        _cancel(owner, demo["app_id"], dep["id"])


def test_admin_may_create_and_cancel(demo, admin):
    dep = create_deployment(admin, demo["app_id"])
    assert dep["status"] == "pending"
    assert dep["triggeredBy"] == demo["users"]["admin"]["user_id"]
    assert _cancel(admin, demo["app_id"], dep["id"]) == {}
    assert _get(admin, demo["app_id"], dep["id"])["status"] == "cancelled"


def test_get_by_id(demo, owner, fresh_deployment):
    got = _get(owner, demo["app_id"], fresh_deployment["id"])
    assert got["id"] == fresh_deployment["id"]
    assert got["commitSha"] == fresh_deployment["commitSha"]
    assert got["status"] in IN_PROGRESS  # the worker moves it on by itself
    assert got["triggerSource"] == "manual"
    assert got["startedAt"] == fresh_deployment["startedAt"]


def test_get_unknown_deployment_is_404(demo, owner):
    with pytest.raises(AxHubError) as ei:
        _get(owner, demo["app_id"], "00000000-0000-4000-8000-000000000000")
    _assert_error(ei.value, 404, "not_found", "not_found")


def test_list_newest_first_with_total_and_cursor(demo, owner):
    app_id = demo["app_id"]
    older = create_deployment(owner, app_id)
    _cancel(owner, app_id, older["id"])
    newer = create_deployment(owner, app_id)
    try:
        page = _list(owner, app_id)
        assert set(page) >= {"items", "nextCursor", "total"}, page.keys()
        assert isinstance(page["nextCursor"], str)
        assert isinstance(page["total"], int) and page["total"] >= 2
        ids = [item["id"] for item in page["items"]]
        assert ids[0] == newer["id"], "newest deployment should be listed first"
        assert ids.index(newer["id"]) < ids.index(older["id"])
        seqs = [item["seq"] for item in page["items"]]
        assert seqs == sorted(seqs, reverse=True), seqs
        head = page["items"][0]
        assert head["commitSha"] == newer["commitSha"]
        assert head["status"] in IN_PROGRESS
        assert page["items"][ids.index(older["id"])]["status"] == "cancelled"
    finally:
        _cancel(owner, app_id, newer["id"])


def test_list_pages_with_cursor(demo, owner):
    app_id = demo["app_id"]
    for _ in range(2):  # make sure there are at least three deployments
        dep = create_deployment(owner, app_id)
        _cancel(owner, app_id, dep["id"])
    first = _list(owner, app_id, limit=1)
    total = first["total"]
    assert total >= 2 and len(first["items"]) == 1
    assert first["nextCursor"], "a partial page must carry a next cursor"

    seen = [first["items"][0]["id"]]
    cursor = first["nextCursor"]
    while cursor:
        page = _list(owner, app_id, limit=1, cursor=cursor)
        assert page["total"] == total
        seen.extend(item["id"] for item in page["items"])
        cursor = page["nextCursor"]
        assert len(seen) <= total, "cursor paging must end"
    assert len(seen) == len(set(seen)) == total

    full = _list(owner, app_id, limit=100)
    assert [item["id"] for item in full["items"]] == seen


def test_member_may_read(demo, member, fresh_deployment):
    page = _list(member, demo["app_id"])
    assert fresh_deployment["id"] in [item["id"] for item in page["items"]]
    assert _get(member, demo["app_id"], fresh_deployment["id"])["status"] in IN_PROGRESS


def test_tenant_feed_lists_deployment(demo, owner, fresh_deployment):
    feed = _tenant_feed(owner, demo["tenant_id"], limit=10)
    assert set(feed) >= {"items", "nextCursor", "total"}, feed.keys()
    assert feed["total"] >= 1
    head = feed["items"][0]
    assert head["id"] == fresh_deployment["id"]
    assert head["appId"] == demo["app_id"]
    assert head["tenantId"] == demo["tenant_id"]


# --- the in-progress slot, cancel -------------------------------------------------------


def test_second_create_conflicts(demo, owner, fresh_deployment):
    with pytest.raises(AxHubError) as ei:
        _create(owner, demo["app_id"])
    _assert_error(ei.value, 409, "conflict", "conflict")
    # the in-progress deployment is untouched
    assert _get(owner, demo["app_id"], fresh_deployment["id"])["status"] in IN_PROGRESS


def test_cancel_then_get_and_cancel_again(demo, owner, fresh_deployment):
    app_id, did = demo["app_id"], fresh_deployment["id"]
    # 204 No Content: the SDK sends a body-less POST and turns the empty reply into {}.
    assert _cancel(owner, app_id, did) == {}

    got = _get(owner, app_id, did)
    assert got["status"] == "cancelled"
    assert got["currentStage"] is None
    assert got["completedAt"]
    assert got["cancelRequestedAt"]

    # idempotent
    assert _cancel(owner, app_id, did) == {}
    again = _get(owner, app_id, did)
    assert again["status"] == "cancelled"
    assert again["completedAt"] == got["completedAt"]

    # the slot is free again
    nxt = _create(owner, app_id)
    try:
        assert nxt["status"] == "pending"
    finally:
        _cancel(owner, app_id, nxt["id"])


def test_cancel_in_progress_helper_leaves_nothing_running(demo, owner, fresh_deployment):
    cancel_in_progress(owner, demo["app_id"])
    statuses = {item["status"] for item in _list(owner, demo["app_id"], limit=100)["items"]}
    assert statuses <= TERMINAL_STATUSES, statuses


# --- errors ---------------------------------------------------------------------------------


def test_unconnected_app_requires_git_connection(demo, owner):
    with pytest.raises(AxHubError) as ei:
        _create(owner, demo["unconnected_app_id"])
    _assert_error(ei.value, 412, "precondition_failed", "git_connection_required")
    assert axhub_sdk.ERROR_CODES["git_connection_required"].status == 412


def test_member_cannot_create(demo, member, owner):
    cancel_in_progress(owner, demo["app_id"])
    with pytest.raises(AxHubError) as ei:
        _create(member, demo["app_id"])
    _assert_error(ei.value, 403, "permission_denied", {"forbidden", "permission_denied"})


def test_member_cannot_cancel(demo, member, fresh_deployment):
    with pytest.raises(AxHubError) as ei:
        _cancel(member, demo["app_id"], fresh_deployment["id"])
    _assert_error(ei.value, 403, "permission_denied", {"forbidden", "permission_denied"})


def test_outsider_sees_nothing(demo, outsider, owner, fresh_deployment):
    app_id, did = demo["app_id"], fresh_deployment["id"]
    calls = {
        "list": lambda: _list(outsider, app_id),
        "get": lambda: _get(outsider, app_id, did),
        "create": lambda: _create(outsider, app_id),
        "cancel": lambda: _cancel(outsider, app_id, did),
        "tenant feed": lambda: _tenant_feed(outsider, demo["tenant_id"]),
    }
    for name, call in calls.items():
        with pytest.raises(AxHubError) as ei:
            call()
        assert ei.value.status == 404, (name, vars(ei.value))
        _assert_error(ei.value, 404, "not_found", "not_found")
    # the outsider's cancel did nothing (the worker may have moved it on meanwhile)
    assert _get(owner, app_id, did)["status"] != "cancelled"


def test_anonymous_is_401(demo):
    with pytest.raises(AxHubError) as ei:
        _list(make_client(demo, None), demo["app_id"])
    assert ei.value.status == 401, vars(ei.value)
    assert ei.value.category == "unauthenticated", vars(ei.value)
    assert ei.value.request_id


@pytest.mark.parametrize("limit", [0, 101, "abc"])
def test_bad_limit_is_validation_error(demo, owner, limit):
    with pytest.raises(AxHubError) as ei:
        _list(owner, demo["app_id"], limit=limit)
    _assert_error(ei.value, 400, "validation", {"invalid_value", "invalid_format"})
    # AxHubError has no per-field details attribute (the body's `fields` array is dropped),
    # so the offending field can only be checked through the message.
    assert "limit" in str(ei.value)


def test_bad_limit_on_tenant_feed(demo, owner):
    with pytest.raises(AxHubError) as ei:
        _tenant_feed(owner, demo["tenant_id"], limit=0)
    _assert_error(ei.value, 400, "validation", {"invalid_value", "invalid_format"})
    assert "limit" in str(ei.value)


def test_bad_commit_sha_is_validation_error(demo, owner):
    cancel_in_progress(owner, demo["app_id"])
    with pytest.raises(AxHubError) as ei:
        _create(owner, demo["app_id"], sha="not-a-sha")
    _assert_error(ei.value, 400, "validation", {"invalid_format", "invalid_value"})
    assert "commit_sha" in str(ei.value)


def test_error_request_id_is_the_one_the_sdk_sent(demo, owner, monkeypatch):
    # The SDK stamps each request with its own X-Request-ID (axhub_sdk._request_id);
    # the server must echo it back as the error's request_id.
    sent = "sdkpytest" + random_sha()[:17]
    monkeypatch.setattr(axhub_sdk, "_request_id", lambda: sent)
    with pytest.raises(AxHubError) as ei:
        _list(owner, demo["app_id"], limit=0)
    assert ei.value.request_id == sent, vars(ei.value)


# --- async facade -------------------------------------------------------------------------


def test_async_client_lists(demo, fresh_deployment):
    async def run():
        client = AsyncAxHubClient(
            base_url=demo["base_url"],
            token=demo["users"]["owner"]["token"],
            token_type=TokenType.JWT,
        )
        page = await client.deployments.deploy_get_api_v1_apps_by_app_id_deployments(
            path_params={"appID": demo["app_id"]}, query={"limit": 5}
        )
        with pytest.raises(AxHubError) as ei:
            await client.deployments.deploy_post_api_v1_apps_by_app_id_deployments(
                path_params={"appID": demo["app_id"]},
                body={"commit_sha": random_sha(), "force_rebuild": False},
            )
        return page, ei.value

    page, err = asyncio.run(run())
    assert page["items"][0]["id"] == fresh_deployment["id"]
    assert err.status == 409 and err.code == "conflict"
