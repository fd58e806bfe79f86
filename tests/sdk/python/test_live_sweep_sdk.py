"""The official SDKs' own live sweep, as they run it: every Deploy route called with the query
`sdk_e2e=live_all_methods` and a sparse body `{"sdk_e2e": true, "operation_id": …}`. Unknown
query parameters and body fields are ignored, and no answer is a 5xx: each is a typed
success or a 4xx envelope."""

from __future__ import annotations

import uuid

import axhub_sdk
import pytest
from axhub_sdk import AxHubError

from conftest import create_deployment, local_demo, make_client

@pytest.fixture(scope="module")
def sweep_demo(tmp_path_factory):
    with local_demo(tmp_path_factory) as d:
        yield d


def test_every_deploy_route_answers_the_sweep_without_a_5xx(sweep_demo):
    owner = make_client(sweep_demo, "owner")
    deployment = create_deployment(owner, sweep_demo["app_id"])
    params = {
        "appID": sweep_demo["app_id"],
        "did": deployment["id"],
        "tenantID": sweep_demo["tenant_id"],
        "installationID": "1",
        "requestID": str(uuid.uuid4()),
        "bootstrapID": str(uuid.uuid4()),
    }
    routes = [r for r in axhub_sdk.ROUTES if r["tag"].lower() == "deploy"]
    assert len(routes) >= 24, [r["operationId"] for r in routes]
    answers = {}
    for route in routes:
        op = route["operationId"]
        names = [p.strip("{}") for p in route["path"].split("/") if p.startswith("{")]
        body = {"sdk_e2e": True, "operation_id": op} if route["method"] != "GET" else None
        try:
            owner.request(
                op,
                path_params={n: params[n] for n in names},
                query={"sdk_e2e": "live_all_methods"},
                body=body,
            )
            answers[op] = "ok"
        except AxHubError as e:
            assert e.status < 500, (op, vars(e))
            assert e.code and e.category and e.request_id, (op, vars(e))
            answers[op] = e.status
    assert len(answers) == len(routes)
    # Unknown fields changed nothing: the sparse body is no deployment request.
    assert answers["deployPostApiV1AppsByAppIDDeployments"] in ("ok", 409), answers
