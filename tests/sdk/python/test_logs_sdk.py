"""Runtime logs through the official Python SDK against axhub-local: the demo app deployed,
its containers' output read backward page by page and tailed forward while a new release
rolls out."""

import time
from datetime import datetime, timezone

import pytest
from axhub_sdk import AxHubError

from conftest import create_deployment, random_sha
from test_pipeline_sdk import wait_terminal

TAIL_S = 30


def field(page, snake):
    """The SDK may hand keys back in camelCase."""
    camel = snake.split("_")[0] + "".join(p.title() for p in snake.split("_")[1:])
    return page[camel] if camel in page else page[snake]


def read_logs(client, app, **query):
    return client.deployments.deploy_get_api_v1_apps_by_app_id_logs(
        path_params={"appID": app}, query={k: str(v) for k, v in query.items()}
    )


def test_a_deployed_app_s_logs_page_backward_and_tail_forward(owner, demo):
    app = demo["app_id"]
    first = create_deployment(owner, app)
    assert wait_terminal(owner, app, first["id"])["status"] == "succeeded"

    # Backward, two lines a page, until the start of the history.
    history, cursor, pages = [], None, 0
    while True:
        query = {"limit": 2} if cursor is None else {"limit": 2, "cursor": cursor}
        page = read_logs(owner, app, **query)
        pages += 1
        history = page["lines"] + history
        cursor = field(page, "next_cursor")
        assert field(page, "has_more") == bool(cursor)
        if not cursor:
            break
    assert pages >= 2
    messages = [line["message"] for line in history]
    assert "listening on :8080" in messages, messages
    stamps = [line["timestamp"] for line in history]
    assert stamps == sorted(stamps)
    assert all(line["stream"] in ("stdout", "stderr") and line["pod"] for line in history)
    assert all(line["container"] == "app" for line in history)

    # Forward from now: a new release's container output arrives, once.
    since = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    page = read_logs(owner, app, direction="forward", since=since)
    cursor = field(page, "next_cursor")
    assert cursor
    old_pods = {line["pod"] for line in history}
    second = create_deployment(owner, app, random_sha())
    assert wait_terminal(owner, app, second["id"])["status"] == "succeeded"
    tailed = list(page["lines"])
    deadline = time.monotonic() + TAIL_S
    while not any(l["message"] == "listening on :8080" for l in tailed):
        assert time.monotonic() < deadline, f"the tail saw nothing new: {tailed}"
        time.sleep(0.5)
        page = read_logs(owner, app, direction="forward", cursor=cursor)
        tailed += page["lines"]
        cursor = field(page, "next_cursor")
        assert cursor, "a tail always gets a cursor"
    new_pods = {line["pod"] for line in tailed}
    assert new_pods and not new_pods & old_pods, (new_pods, old_pods)
    again = read_logs(owner, app, direction="forward", cursor=cursor)
    assert again["lines"] == [], "nothing twice"


def test_logs_are_for_owners_and_admins_and_bad_parameters_are_named(admin, member, demo):
    app = demo["app_id"]
    assert "lines" in read_logs(admin, app, limit=1)
    with pytest.raises(AxHubError) as err:
        read_logs(member, app)
    assert err.value.status == 403
    with pytest.raises(AxHubError) as err:
        read_logs(admin, app, limit=0)
    assert err.value.status == 400
    assert err.value.code == "invalid_value"
