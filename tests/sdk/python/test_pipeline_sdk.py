"""The pipeline through the official Python SDK against axhub-local (simulated cluster):
a deployment reaches succeeded on its own, a failing build names its stage, diagnosis and
rollback answer as the contract says."""

import time

import pytest
from axhub_sdk import AxHubError

from conftest import TERMINAL_STATUSES, create_deployment, random_sha

WAIT_S = 40


def wait_terminal(client, app_id, did):
    deadline = time.monotonic() + WAIT_S
    while True:
        d = client.deployments.deploy_get_api_v1_apps_by_app_id_deployments_by_did(
            path_params={"appID": app_id, "did": did}
        )
        if d["status"] in TERMINAL_STATUSES:
            return d
        assert time.monotonic() < deadline, f"deployment stuck: {d}"
        time.sleep(0.25)


def test_a_deployment_succeeds_on_its_own_and_diagnosis_is_healthy(owner, demo):
    app = demo["app_id"]
    created = create_deployment(owner, app)
    done = wait_terminal(owner, app, created["id"])
    assert done["status"] == "succeeded", done
    assert done["releaseVersion"].startswith("v")
    # Pinned by digest: what the build pushed, not a tag that could be moved.
    repository, digest = done["imageUri"].split("@")
    assert repository.startswith("registry.axhub.local/")
    assert digest.startswith("sha256:") and len(digest) == len("sha256:") + 64
    assert done["currentStage"] is None and done["completedAt"]

    diag = owner.deployments.deploy_get_api_v1_apps_by_app_id_diagnosis(path_params={"appID": app})
    assert diag["applicable"] is True
    assert diag["healthy"] is True
    assert diag["services"] and diag["services"][0]["healthy"] is True


def test_a_failing_build_names_its_stage(owner, demo):
    app = demo["app_id"]
    created = create_deployment(owner, app, "fa11b0" + random_sha()[6:])
    done = wait_terminal(owner, app, created["id"])
    assert done["status"] == "failed"
    assert done["failureReason"]["stage"] == "building"
    assert done["failureReason"]["code"] == "build.failed"


def test_rollback_is_accepted_for_a_built_version_and_refused_for_an_unbuilt_one(owner, admin, demo):
    app = demo["app_id"]
    built = create_deployment(owner, app)
    assert wait_terminal(owner, app, built["id"])["status"] == "succeeded"
    accepted = admin.deployments.deploy_post_api_v1_apps_by_app_id_deployments_by_did_rollback(
        path_params={"appID": app, "did": built["id"]}, body={"confirm_schema_skew": False}
    )
    assert accepted == {}

    unbuilt = create_deployment(owner, app)
    owner.deployments.deploy_post_api_v1_apps_by_app_id_deployments_by_did_cancel(
        path_params={"appID": app, "did": unbuilt["id"]}
    )
    with pytest.raises(AxHubError) as err:
        owner.deployments.deploy_post_api_v1_apps_by_app_id_deployments_by_did_rollback(
            path_params={"appID": app, "did": unbuilt["id"]}
        )
    assert err.value.status == 412
    assert err.value.code == "image_not_built"


def test_diagnosis_is_for_owners_and_admins(member, demo):
    with pytest.raises(AxHubError) as err:
        member.deployments.deploy_get_api_v1_apps_by_app_id_diagnosis(path_params={"appID": demo["app_id"]})
    assert err.value.status == 403
