"""The executions lists (/executions/, /machines/<name>/executions/): filters, search by name and by a
value inside the input or output ($.order.id = 42) on SQLite and PostgreSQL, paging, live statuses."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from designer import document_search, runtime
from designer.execution_views import PAGE_SIZE
from designer.models import Execution
from tests.durable import Deployment, postgres_available
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
    return [execution.name for execution in response.context["executions"]]


def orders(client, query, **params):
    return names(client.get(reverse("executions"), {"q": query, **params}))


def test_every_machine_newest_first_with_status_machine_and_revision(client):
    passing = runtime.create_state_machine("passing", PASS)
    failing = runtime.create_state_machine("failing", FAIL)
    runtime.start_execution(passing, "{}", "first")
    runtime.start_execution(failing, "{}", "second")
    drain()
    response = client.get(reverse("executions"))
    assert names(response) == ["second", "first"]
    html = response.content.decode()
    assert "status-failed" in html and "status-succeeded" in html
    assert reverse("machine-executions", args=["failing"]) in html
    assert names(client.get(reverse("machine-executions", args=["passing"]))) == ["first"]


def test_filter_by_status_and_time_range(client):
    machine = runtime.create_state_machine("waits", WAIT)
    running = runtime.start_execution(machine, "{}", "running")
    old = runtime.start_execution(runtime.create_state_machine("p", PASS), "{}", "old")
    drain()
    Execution.objects.filter(pk=old.pk).update(start_date=timezone.now() - timedelta(days=3))
    assert orders(client, "", status="running") == ["running"]
    assert orders(client, "", status="SUCCEEDED") == ["old"]
    assert orders(client, "", since="24h") == ["running"]
    assert orders(client, "", since="7d") == ["running", "old"]
    # Unknown filter values are no filter.
    assert orders(client, "", status="bogus", since="1y") == ["running", "old"]
    assert running.pk


def test_search_by_name_and_by_a_value_in_the_input_or_output(client):
    machine = runtime.create_state_machine("orders", PASS)
    for number, customer in ((41, "bob"), (42, "alice"), (420, "alice smith")):
        runtime.start_execution(machine, json.dumps({"order": {"id": number, "customer": customer,
                                                               "lines": [{"sku": f"S{number}"}]}}),
                                f"order-{number}")
    runtime.start_execution(machine, json.dumps({"order": {"id": "42"}}), "order-string-42")
    drain()
    assert orders(client, "order-4") == ["order-420", "order-42", "order-41"]
    # A JSON value is compared as JSON: 42 is not "42", nor 420.
    assert orders(client, "$.order.id = 42") == ["order-42"]
    assert orders(client, '$.order.id = "42"') == ["order-string-42"]
    assert orders(client, "$.order.customer = alice") == ["order-42"]
    assert orders(client, "$.order.lines[0].sku = S420") == ["order-420"]
    assert orders(client, "$['order']['customer'] = \"alice smith\"") == ["order-420"]
    # A Pass state's output is its input: output: searches the output only.
    assert orders(client, "output: $.order.id = 41") == ["order-41"]
    assert orders(client, "$.order.id = 42", status="FAILED") == []


def test_an_invalid_path_is_explained_at_the_search_box(client):
    runtime.create_state_machine("orders", PASS)
    for query, expected in (("$.order[*].id = 1", "Invalid path"), ("$.order.id", "Say which value"),
                            ("$ = 1", "Name a field")):
        response = client.get(reverse("executions"), {"q": query})
        assert response.status_code == 200
        html = response.content.decode()
        assert expected in html and 'aria-invalid="true"' in html and "data-search-error" in html
        # The search box keeps what was typed.
        assert 'value="' + query.replace('"', "&quot;") in html


def test_paging_by_start_date_then_id_with_a_bounded_number_of_queries(client):
    machine = runtime.create_state_machine("many", PASS)
    start = timezone.now()
    runtime.start_execution(machine, "{}", "seed")
    seed = Execution.objects.get()
    Execution.objects.bulk_create([
        Execution(machine=machine, revision=seed.revision, name=f"run-{index:03}", arn=f"{seed.arn}-{index}",
                  status="SUCCEEDED", start_date=start - timedelta(seconds=index // 2), stop_date=start)
        for index in range(1, 2 * PAGE_SIZE + 10)])
    seen = []
    url = reverse("executions")
    while url:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        # The session and user, the page's rows (with machine and revision): no query per row.
        assert len(queries) <= 4, [query["sql"] for query in queries]
        seen += names(response)
        url = response.context["older_url"]
    assert len(seen) == 2 * PAGE_SIZE + 10 and len(set(seen)) == len(seen)
    ordered = list(Execution.objects.order_by("-start_date", "-id").values_list("name", flat=True))
    assert seen == ordered


def test_the_status_poll_reports_changes_and_the_newest_execution(client):
    machine = runtime.create_state_machine("passing", PASS)
    execution = runtime.start_execution(machine, "{}", "one")
    answer = client.get(reverse("execution-statuses"), {"ids": str(execution.pk)}).json()
    assert answer["executions"][str(execution.pk)]["status"] == "RUNNING"
    drain()
    answer = client.get(reverse("execution-statuses"),
                        {"ids": str(execution.pk), "machine": "passing"}).json()
    assert answer["executions"][str(execution.pk)]["status"] == "SUCCEEDED"
    assert answer["executions"][str(execution.pk)]["duration"] and answer["newest"] == execution.pk
    assert client.get(reverse("execution-statuses"), {"ids": "1,x"}).status_code == 400


def test_the_lists_need_a_login(client):
    client.logout()
    assert client.get(reverse("executions")).status_code == 302
    assert client.get(reverse("execution-statuses")).status_code == 302


@pytest.mark.parametrize("path", ["$.a.b", "$.a[3]", "$['a b'].c", '$["x"]'])
def test_paths_that_name_one_value_are_read(path):
    assert document_search.parse_path(path)


@pytest.mark.postgres
@pytest.mark.skipif(not postgres_available(), reason="no PostgreSQL at 127.0.0.1:5432")
def test_search_by_an_input_value_on_postgresql(tmp_path):
    deployment = Deployment.postgres(tmp_path)
    try:
        found = deployment.django(
            "import json\n"
            "from designer import runtime, document_search\n"
            "from designer.models import Execution\n"
            f"m = runtime.create_state_machine('orders', {PASS!r})\n"
            "for n in (41, 42, 420):\n"
            "    order = {'order': {'id': n, 'tags': ['a', str(n)]}}\n"
            "    runtime.start_execution(m, json.dumps(order), f'o{n}')\n"
            "runtime.start_execution(m, json.dumps({'order': {'id': '42'}}), 'o-string')\n"
            "def search(q):\n"
            "    return sorted(document_search.filter_executions(Execution.objects.all(),\n"
            "                  document_search.parse(q)).values_list('name', flat=True))\n"
            "result = [search('$.order.id = 42'), search('$.order.id = \"42\"'),\n"
            "          search('$.order.tags[1] = 420'),\n"
            "          search('$.order.tags[1] = \"420\"'), search('input: $.order.id = 41')]\n"
            "from django.db import connection\n"
            "result.append(connection.vendor)\n")
        assert found == [["o42"], ["o-string"], [], ["o420"], ["o41"], "postgresql"]
    finally:
        deployment.close()
