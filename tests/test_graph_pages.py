"""The graph on the machine and execution pages, through Django's test client."""

import json
import shutil

import pytest

from designer import graph, runtime
from tests.test_runtime import drain

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz (dot) is not installed")]

DEFINITION = json.dumps({"StartAt": "Hello", "States": {
    "Hello": {"Type": "Pass", "Next": "Stop"}, "Stop": {"Type": "Fail", "Error": "Bye"}}})


@pytest.fixture
def client(client, django_user_model, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    client.force_login(django_user_model.objects.create_user("alice", password="x"))
    graph.clear_cache()
    return client


def test_machine_page_shows_the_graph_of_its_current_revision(client):
    machine = runtime.create_state_machine("drawn", DEFINITION)
    html = client.get(machine.get_absolute_url()).content.decode()
    assert '<svg class="graph-svg"' in html and 'id="state&#45;Hello"' in html and "js/graph.js" in html
    runtime.update_state_machine(machine, DEFINITION.replace("Hello", "Hi"))
    html = client.get(machine.get_absolute_url()).content.decode()
    assert 'id="state&#45;Hi"' in html and 'id="state&#45;Hello"' not in html


def test_execution_page_marks_where_the_execution_went(client):
    machine = runtime.create_state_machine("went", DEFINITION)
    execution = runtime.start_execution(machine)
    drain()
    html = client.get(execution.get_absolute_url()).content.decode()
    assert 'id="state&#45;Hello" class="node state state&#45;type&#45;pass state-status-succeeded"' in html
    assert 'id="state&#45;Stop" class="node state state&#45;type&#45;fail state-status-failed"' in html


def test_pages_say_when_graphviz_is_missing(client, monkeypatch):
    machine = runtime.create_state_machine("undrawn", DEFINITION)
    monkeypatch.setenv("PATH", "/nonexistent")
    html = client.get(machine.get_absolute_url()).content.decode()
    assert "Graphviz is not installed" in html and "<svg" not in html
