"""Pages show big or deep documents cut short, with a link to the whole document.

The documents are written straight into the rows, as they may have been stored before the API
refused deep nesting: the pages must show whatever an execution holds.
"""

import json
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from designer import runtime
from designer.documents import SHOWN_CHARS
from designer.models import Execution, HistoryEvent, StateMachine
from tests.test_runtime import drain

pytestmark = pytest.mark.django_db(transaction=True)

PASS = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
DEEP = "[" * 5000 + "]" * 5000  # 10 KB; indented it was 50 MB
FEW_MB = 3 * 1024 * 1024


@pytest.fixture
def client(client, django_user_model, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    client.force_login(django_user_model.objects.create_user("alice", password="x"))
    return client


def _express_execution(input_text: str, output_text: str) -> Execution:
    machine = runtime.create_state_machine("fast", PASS, "EXPRESS")
    execution = runtime.start_sync_express(machine, "{}")
    Execution.objects.filter(pk=execution.pk).update(input=input_text, output=output_text)
    return execution


def test_a_deep_express_execution_page_stays_small_and_links_the_whole_documents(client):
    execution = _express_execution(DEEP, DEEP)
    response = client.get(execution.get_absolute_url())
    assert response.status_code == 200
    assert len(response.content) < 200_000  # was 100 MB
    html = response.content.decode()
    assert DEEP in html  # small enough to show whole: as stored, not indented
    for which in ("execution-input", "execution-output"):
        url = reverse(which, args=[execution.pk])
        assert f'href="{url}"' in html
        download = client.get(url)
        assert download.status_code == 200
        assert download.headers["Content-Type"].startswith("application/json")
        assert download.headers["Content-Disposition"].startswith("attachment;")
        assert download.content.decode() == DEEP


def test_a_huge_document_is_truncated_with_its_size_and_its_escaping(client):
    value = {"html": "<script>alert(1)</script>", "items": ["x" * 100 for _ in range(2500)]}
    huge = json.dumps(value)  # 260 KB
    execution = _express_execution(huge, huge)
    html = client.get(execution.get_absolute_url()).content.decode()
    assert len(html) < 3 * SHOWN_CHARS
    assert f"… truncated, {round(len(huge) / 1024)} KB in all." in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    # Small and shallow enough documents are still indented for reading.
    assert '"html": "&lt;script&gt;' not in html  # this one is too big to indent
    assert json.loads(client.get(reverse("execution-output", args=[execution.pk])).content) == value


def test_a_small_shallow_document_is_indented(client):
    execution = _express_execution('{"a": [1, {"b": 2}]}', "null")
    html = client.get(execution.get_absolute_url()).content.decode()
    assert '{\n  &quot;a&quot;: [\n    1,' in html
    assert "truncated" not in html


def test_stored_lone_surrogates_are_shown_and_downloaded_as_escapes(client):
    execution = _express_execution('{"s": "\\ud800"}', '"\\udfff"')
    machine = StateMachine.objects.get(name="fast")
    StateMachine.objects.filter(pk=machine.pk).update(
        definition=json.dumps({"Comment": "\ud800", **json.loads(PASS)}))
    page = client.get(execution.get_absolute_url())
    assert page.status_code == 200 and '\\ud800' in page.content.decode()
    assert client.get(reverse("execution-output", args=[execution.pk])).content == b'"\\udfff"'
    assert client.get(machine.get_absolute_url()).status_code == 200
    definition = client.get(reverse("machine-definition", args=[machine.name]))
    assert json.loads(definition.content)["Comment"] == "\ud800"


def test_a_big_definition_is_truncated_and_downloadable(client):
    definition = json.dumps({"Comment": "c" * 200_000, **json.loads(PASS)})
    machine = runtime.create_state_machine("commented", definition)
    html = client.get(machine.get_absolute_url()).content.decode()
    assert len(html) < 3 * SHOWN_CHARS and "KB in all" in html
    assert client.get(reverse("machine-definition", args=[machine.name])).content.decode() == definition


@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous iterators")
def test_a_long_history_shows_its_first_and_last_events_and_downloads_whole(client):
    machine = runtime.create_state_machine("long", PASS)
    execution = runtime.start_execution(machine, "{}")
    drain()
    start = HistoryEvent.objects.filter(execution=execution).count() + 1
    big = "y" * 250_000
    HistoryEvent.objects.bulk_create(
        HistoryEvent(execution=execution, seq=seq, type="PassStateEntered", timestamp=datetime.now(UTC),
                     details={"name": "P", "input": big if seq == start + 3 else {"n": seq}})
        for seq in range(start, 25_001))
    response = client.get(execution.get_absolute_url())
    assert response.status_code == 200 and len(response.content) < FEW_MB
    html = response.content.decode()
    assert "24000 events not shown" in html
    assert '<td>25000</td>' in html and '<td>1</td>' in html
    event_url = reverse("execution-event", args=[execution.pk, start + 3])
    assert f'href="{event_url}"' in html  # the big event's details link to the whole event
    event = json.loads(client.get(event_url).content)
    assert event["id"] == start + 3 and json.loads(event["stateEnteredEventDetails"]["input"]) == big
    history = client.get(reverse("execution-history", args=[execution.pk]))
    assert history.headers["Content-Disposition"].startswith("attachment;")
    events = json.loads(b"".join(history))["events"]  # (the test client is not ASGI)
    assert [event["id"] for event in events] == list(range(1, 25_001))


def test_downloads_need_login_like_the_pages(client):
    execution = _express_execution("{}", "{}")
    client.logout()
    for url in (reverse("execution-input", args=[execution.pk]), reverse("machine-definition", args=["fast"]),
                reverse("execution-history", args=[execution.pk])):
        assert client.get(url).headers["Location"].startswith("/accounts/login/?next=")
