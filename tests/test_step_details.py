"""Step details (/executions/<id>/states/<name>.json), the history's pages and filters, replay's
statuses at an event, the error banner's failing step, export and "New execution with this input"."""

import json
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from designer import step_details
from designer.models import HistoryEvent
from tests.test_runtime import drain, machine, make_due, reset_calls, task  # noqa: F401 (autouse fixture)

pytestmark = pytest.mark.django_db(transaction=True)

FLAKY = {"StartAt": "Prepare", "States": {
    "Prepare": {"Type": "Pass", "Result": {"value": 1}, "Next": "T"},
    "T": task("rt_flaky", Retry=[{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "MaxAttempts": 5,
                                  "BackoffRate": 1}], Next="Boom"),
    "Boom": {"Type": "Fail", "Error": "Broken", "Cause": "on purpose"}}}


@pytest.fixture
def client(client, django_user_model, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    client.force_login(django_user_model.objects.create_user("alice", password="x"))
    return client


@pytest.fixture
def flaky_execution(settings):
    from designer import runtime

    execution = runtime.start_execution(machine("flaky", FLAKY), '{"order": 7}', "flaky-run")
    drain()
    for _ in range(2):
        settings.STEPWISE_CLOCK_OFFSET += 1.0
        make_due()
        drain()
    execution.refresh_from_db()
    assert execution.status == "FAILED", execution.cause
    return execution


def state_url(execution, name, **params):
    return reverse("execution-state", args=[execution.pk, name]), params


def test_a_task_state_shows_its_input_output_retries_with_back_off_and_duration(client, flaky_execution):
    url, params = state_url(flaky_execution, "T")
    details = client.get(url, params).json()
    assert details["name"] == "T" and details["visit_count"] == 1
    visit = details["visits"][0]
    assert visit["status"] == "succeeded"
    assert json.loads(visit["input"]["text"]) == {"value": 1}
    assert visit["output"] is not None and visit["duration_seconds"] >= 2
    assert [retry["error"] for retry in visit["retries"]] == ["Flaky", "Flaky"]
    assert all(retry["retried_after_seconds"] >= 0.9 for retry in visit["retries"])
    assert visit["failures"] == []


def test_the_failing_state_shows_its_error_and_the_page_banner_jumps_to_it(client, flaky_execution):
    url, params = state_url(flaky_execution, "Boom")
    visit = client.get(url, params).json()["visits"][0]
    assert visit["status"] == "failed" and visit["output"] is None
    html = client.get(flaky_execution.get_absolute_url()).content.decode()
    assert 'data-open-state="Boom"' in html
    assert reverse("execution-export", args=[flaky_execution.pk]) in html


def test_a_state_never_entered_is_a_404_with_a_message(client, flaky_execution):
    url, params = state_url(flaky_execution, "Nowhere")
    response = client.get(url, params)
    assert response.status_code == 404 and "was not entered" in response.json()["error"]


def test_documents_in_step_details_are_cut_and_link_to_their_event(client):
    from designer import runtime

    big = {"blob": "x" * (step_details.DOCUMENT_CHARS * 2)}
    execution = runtime.start_execution(machine("big"), json.dumps(big))
    drain()
    url, params = state_url(execution, "P")
    document = client.get(url, params).json()["visits"][0]["input"]
    assert document["truncated"] and len(document["text"]) <= step_details.DOCUMENT_CHARS
    assert client.get(document["url"]).status_code == 200


def test_replay_gives_each_states_status_as_of_an_event(client, flaky_execution):
    seqs = dict(HistoryEvent.objects.filter(execution=flaky_execution, type__endswith="StateEntered")
                .values_list("details__name", "seq"))
    at = reverse("execution-statuses-at", args=[flaky_execution.pk])
    early = client.get(at, {"seq": seqs["T"]}).json()
    assert early["status"] == "RUNNING" and early["states"] == {"Prepare": "succeeded", "T": "running"}
    end = client.get(at, {"seq": flaky_execution.event_count}).json()
    assert end["status"] == "FAILED" and end["states"]["Boom"] == "failed"
    # Step details as of an event: T had not been entered when Prepare was.
    url, params = state_url(flaky_execution, "T", seq=seqs["Prepare"])
    assert client.get(url, params).status_code == 404
    assert client.get(at, {"seq": "x"}).status_code == 400


def test_history_filters_and_pages(client, flaky_execution):
    page = client.get(flaky_execution.get_absolute_url(), {"type": "LambdaFunctionFailed"})
    assert [row["type"] for row in page.context["events"]] == ["LambdaFunctionFailed"] * 2
    assert "LambdaFunctionFailed" in page.context["event_types"] and "T" in page.context["state_names"]
    by_state = client.get(flaky_execution.get_absolute_url(), {"state": "T"}).context["events"]
    assert [row["type"] for row in by_state] == ["TaskStateEntered", "TaskStateExited"]
    events_url = reverse("execution-events", args=[flaky_execution.pk])
    rows = client.get(events_url, {"after": 2, "before": 5}).json()
    assert rows["count"] == 2 and rows["next"] is None and rows["html"].count("<tr") == 2


def test_a_long_history_is_loaded_a_page_at_a_time(client):
    from designer import runtime
    from designer.execution_views import EVENTS_PAGE

    execution = runtime.start_execution(machine("long"))
    drain()
    start = HistoryEvent.objects.filter(execution=execution).count() + 1
    HistoryEvent.objects.bulk_create(
        HistoryEvent(execution=execution, seq=seq, type="PassStateEntered", timestamp=datetime.now(UTC),
                     details={"name": "P", "input": "{}"}) for seq in range(start, 25_001))
    page = client.get(execution.get_absolute_url())
    gap_after, gap_before = page.context["gap_after"], page.context["gap_before"]
    assert (gap_after, gap_before) == (EVENTS_PAGE, 25_000 - EVENTS_PAGE + 1)
    seen, after = 0, gap_after
    while after is not None:
        rows = client.get(reverse("execution-events", args=[execution.pk]),
                          {"after": after, "before": gap_before}).json()
        seen += rows["count"]
        after = rows["next"]
    assert seen == gap_before - gap_after - 1


def test_export_and_a_new_execution_with_the_same_input(client, flaky_execution):
    response = client.get(reverse("execution-export", args=[flaky_execution.pk]))
    exported = json.loads(b"".join(response))  # (the test client is not ASGI)
    assert exported["execution"]["name"] == "flaky-run" and exported["execution"]["status"] == "FAILED"
    assert len(exported["events"]) == flaky_execution.event_count
    assert exported["events"][0]["type"] == "ExecutionStarted"
    form = client.get(reverse("machine", args=["flaky"]), {"from_execution": flaky_execution.pk})
    assert json.loads(form.context["input"]) == {"order": 7}
