"""The State machines list (/machines/): search, type filter, sorting, counts in one query, empty states."""

import json

import pytest
from django.urls import reverse

from designer import runtime
from designer.models import StateMachine
from tests.test_runtime import drain

pytestmark = pytest.mark.django_db(transaction=True)

PASS = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
FAIL = json.dumps({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Nope"}}})
WAIT = json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}})


@pytest.fixture
def client(client, django_user_model, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    client.force_login(django_user_model.objects.create_user("alice", password="x"))
    return client


def names(response) -> list[str]:
    return [machine.name for machine in response.context["machines"]]


def test_an_empty_installation_gets_a_call_to_action(client):
    html = client.get(reverse("machines")).content.decode()
    assert "No state machines yet" in html
    assert reverse("machine-new") in html and reverse("machine-example") in html
    # No search box over nothing.
    assert "data-search-input" not in html


def test_search_by_name_ignores_case_and_keeps_the_box_filled(client):
    for name in ("OrderPipeline", "order-refunds", "Billing"):
        runtime.create_state_machine(name, PASS)
    response = client.get(reverse("machines"), {"q": "ORDER"})
    assert sorted(names(response), key=str.lower) == ["order-refunds", "OrderPipeline"]
    html = response.content.decode()
    assert 'value="ORDER"' in html and "Billing" not in html


def test_a_search_that_matches_nothing_says_so_and_offers_the_whole_list(client):
    runtime.create_state_machine("Billing", PASS)
    html = client.get(reverse("machines"), {"q": "zzz"}).content.decode()
    assert "No state machines match “zzz”" in html and "No state machines yet" not in html
    assert f'href="{reverse("machines")}"' in html


def test_filter_by_type(client):
    runtime.create_state_machine("standard-one", PASS)
    runtime.create_state_machine("express-one", PASS, "EXPRESS")
    assert names(client.get(reverse("machines"), {"type": "express"})) == ["express-one"]
    assert names(client.get(reverse("machines"), {"type": "STANDARD"})) == ["standard-one"]
    # An unknown type is no filter.
    assert len(names(client.get(reverse("machines"), {"type": "bogus"}))) == 2


def test_counts_by_status_and_the_last_run_in_one_query(client, django_assert_max_num_queries):
    busy = runtime.create_state_machine("busy", PASS)
    failing = runtime.create_state_machine("failing", FAIL)
    waiting = runtime.create_state_machine("waiting", WAIT)
    runtime.create_state_machine("idle", PASS)
    for _ in range(3):
        runtime.start_execution(busy)
    runtime.start_execution(failing)
    runtime.start_execution(failing)
    drain()
    runtime.start_execution(waiting)
    stopped = runtime.start_execution(waiting)
    runtime.stop_execution(stopped)
    last = runtime.start_execution(waiting, name="the-latest")
    for _ in range(12):  # more machines must not mean more queries
        runtime.create_state_machine(f"extra-{_}", PASS)
    # Session, user, the top bar's inbox count, the list: one query for every machine and its numbers
    # (messages add none).
    with django_assert_max_num_queries(4):
        response = client.get(reverse("machines"))
    machines = {machine.name: machine for machine in response.context["machines"]}
    assert (machines["busy"].count_succeeded, machines["busy"].count_total) == (3, 3)
    assert machines["busy"].last_status == "SUCCEEDED"
    assert (machines["failing"].count_failed, machines["failing"].last_status) == (2, "FAILED")
    waiting_row = machines["waiting"]
    assert (waiting_row.count_running, waiting_row.count_aborted, waiting_row.count_total) == (2, 1, 3)
    assert waiting_row.last_status == "RUNNING" and waiting_row.last_start == last.start_date
    assert (machines["idle"].count_total, machines["idle"].last_status) == (0, None)
    html = response.content.decode()
    assert "3 succeeded" in html and "2 failed" in html and "2 running" in html and "1 aborted" in html
    assert "Never run" in html


def test_sort_by_name_either_way_and_by_last_run(client):
    first = runtime.create_state_machine("alpha", PASS)
    runtime.create_state_machine("beta", PASS)
    third = runtime.create_state_machine("gamma", PASS)
    runtime.start_execution(first)
    runtime.start_execution(third)
    assert names(client.get(reverse("machines"))) == ["alpha", "beta", "gamma"]
    assert names(client.get(reverse("machines"), {"sort": "-name"})) == ["gamma", "beta", "alpha"]
    # Latest run first; a machine that never ran comes last, whichever way.
    assert names(client.get(reverse("machines"), {"sort": "last"})) == ["gamma", "alpha", "beta"]
    assert names(client.get(reverse("machines"), {"sort": "-last"})) == ["alpha", "gamma", "beta"]
    # The sorted column's header links to the other order, keeping the search.
    html = client.get(reverse("machines"), {"q": "a", "sort": "name"}).content.decode()
    assert 'href="/machines/?q=a&amp;sort=-name"' in html


def test_map_run_children_are_not_counted_as_the_machines_own(client):
    definition = json.dumps({"StartAt": "M", "States": {"M": {
        "Type": "Map",
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
        "End": True}}})
    machine = runtime.create_state_machine("fanout", definition)
    runtime.start_execution(machine, "[1, 2, 3]")
    drain()
    assert machine.executions.count() == 4  # the parent and its three children
    row = StateMachine.objects.with_execution_summary().get(pk=machine.pk)
    assert (row.count_total, row.count_succeeded) == (1, 1)


def test_the_dashboard_keeps_a_short_list_and_links_to_all(client):
    for index in range(10):
        runtime.create_state_machine(f"machine-{index:02}", PASS)
    response = client.get(reverse("dashboard"))
    assert len(response.context["state_machines"]) == 8
    html = response.content.decode()
    assert ">10</span>" in html and f'href="{reverse("machines")}"' in html
    # The top bar links to the list on every page.
    assert 'href="/machines/"' in client.get(reverse("api-keys")).content.decode()
