"""The inbox: My tasks / Group queue / Done, claim and release, acting from it, the top bar's count, and
for staff the plain `.waitForTaskToken` tokens with a JSON result. Emails go to a locmem mailer here
(tests/test_approvals.py proves them with a real SMTP server)."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from designer import runtime
from designer.models import Approval, ApprovalStatus, ExecutionStatus
from tests.test_approvals import approval_machine
from tests.test_callbacks import waiting_machine
from tests.test_runtime import drain

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("locmem")]


@pytest.fixture
def locmem():
    with override_settings(MAILERS={"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}):
        yield


@pytest.fixture
def people():
    model = get_user_model()
    return {"alice": model.objects.create_user("alice", "alice@example.com", "pw"),
            "bob": model.objects.create_user("bob", "bob@example.com", "pw"),
            "staff": model.objects.create_user("staff", "staff@example.com", "pw", is_staff=True)}


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def started(name="inbox", **parameters):
    execution = runtime.start_execution(approval_machine(name, **parameters),
                                        json.dumps({"amount": 5, "customer": "Ann"}))
    drain()
    return execution


def rows(client, tab):
    html = client.get(f"/inbox/?tab={tab}").content.decode()
    return html.count("data-inbox-row"), html


def test_empty_inbox_says_so_and_the_top_bar_shows_no_count(people):
    response = client_for(people["alice"]).get("/inbox/")
    assert response.status_code == 200 and b"Nothing waits for you" in response.content
    assert b"data-inbox-count" not in response.content


def test_my_tasks_lists_what_is_addressed_to_me_and_the_top_bar_counts_it(people):
    execution = started()
    alice, bob = client_for(people["alice"]), client_for(people["bob"])
    count, html = rows(alice, "mine")
    assert count == 1 and "Refund order" in html and execution.name in html and "Ask" in html
    assert 'data-inbox-count title="1 task waiting for you">1<' in html
    assert rows(bob, "mine")[0] == 1  # addressed by email address
    assert rows(client_for(people["staff"]), "mine")[0] == 0
    assert rows(client_for(people["staff"]), "queue")[0] == 1  # staff see every open task


def test_claim_takes_it_from_the_others_and_release_gives_it_back(people):
    started()
    alice, bob = client_for(people["alice"]), client_for(people["bob"])
    approval = Approval.objects.get()
    assert alice.post(f"/inbox/approvals/{approval.pk}/claim/", {"tab": "mine"}).status_code == 302
    assert rows(alice, "mine")[0] == 1
    count, html = rows(bob, "queue")
    assert count == 1 and "claimed by <strong data-claimed-by>alice</strong>" in html
    assert rows(bob, "mine")[0] == 0
    bob.post(f"/inbox/approvals/{approval.pk}/decide/", {"choice": "Approve"})  # not bob's any more
    assert Approval.objects.get().status == ApprovalStatus.OPEN
    bob.post(f"/inbox/approvals/{approval.pk}/claim/")
    assert Approval.objects.get().claimed_by == people["alice"]
    alice.post(f"/inbox/approvals/{approval.pk}/release/")
    assert Approval.objects.get().claimed_by is None and rows(bob, "mine")[0] == 1


def test_acting_from_the_inbox_decides_and_moves_it_to_done(people):
    execution = started()
    alice = client_for(people["alice"])
    approval = Approval.objects.get()
    response = alice.post(f"/inbox/approvals/{approval.pk}/decide/", {"choice": "Approve", "comment": "ok"})
    assert response.status_code == 302
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert json.loads(execution.output) == {"outcome": "Approve", "comment": "ok", "approver": "alice"}
    assert rows(alice, "mine")[0] == 0
    count, html = rows(alice, "done")
    assert count == 1 and "Approve by alice" in html
    assert Approval.objects.get().audit.filter(action="DECIDED", channel="inbox").exists()


def test_staff_answer_a_plain_token_with_a_json_result_from_the_group_queue(people):
    execution = runtime.start_execution(waiting_machine("plain"), "{}")
    drain()
    staff, alice = client_for(people["staff"]), client_for(people["alice"])
    count, html = rows(staff, "queue")
    assert count == 1 and "data-token-success" in html
    assert rows(alice, "queue")[0] == 0
    token = execution.task_tokens.get()
    alice.post(f"/inbox/tokens/{token.pk}/answer/", {"output": '{"x": 1}'})  # not staff: refused
    token.refresh_from_db()
    assert token.status == "OPEN"
    staff.post(f"/inbox/tokens/{token.pk}/answer/", {"output": '{"x": 1}', "tab": "queue"})
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED and json.loads(execution.output) == {"x": 1}


def test_a_stopped_execution_leaves_the_inbox(people):
    execution = started()
    runtime.stop_execution(execution)
    drain()
    assert rows(client_for(people["alice"]), "mine")[0] == 0
    assert Approval.objects.get().status == ApprovalStatus.CLOSED


def test_delegating_hands_the_task_to_another_user_with_an_audit_row_and_an_email(people):
    from django.core import mail

    model = get_user_model()
    carol = model.objects.create_user("carol", "carol@example.com", "pw")
    execution = started()
    approval = Approval.objects.get()
    mail.outbox.clear()
    alice, carol_client = client_for(people["alice"]), client_for(carol)
    assert rows(carol_client, "mine")[0] == 0
    response = alice.post(f"/inbox/approvals/{approval.pk}/delegate/", {"to": "carol", "tab": "mine"})
    assert response.status_code == 302
    approval.refresh_from_db()
    assert approval.claimed_by == carol
    row = approval.audit.get(action="DELEGATED")
    assert (row.who, row.channel, row.detail) == ("alice", "inbox", "to carol")
    assert [message.to for message in mail.outbox] == [["carol@example.com"]]  # only the delegate
    assert rows(carol_client, "mine")[0] == 1 and rows(alice, "mine")[0] == 0  # theirs now, not mine
    alice.post(f"/inbox/approvals/{approval.pk}/decide/", {"choice": "Approve"})  # no longer alice's
    assert Approval.objects.get().status == ApprovalStatus.OPEN
    carol_client.post(f"/inbox/approvals/{approval.pk}/decide/", {"choice": "Reject", "comment": "no"})
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED  # the Catch took Approval.Rejected
    assert json.loads(json.loads(execution.output)["rejected"]["Cause"])["approver"] == "carol"


def test_delegating_to_no_one_or_to_oneself_or_by_someone_else_changes_nothing(people):
    started()
    approval = Approval.objects.get()
    alice, bob = client_for(people["alice"]), client_for(people["bob"])
    for client, to in ((alice, "nobody"), (alice, "alice"), (alice, "")):
        client.post(f"/inbox/approvals/{approval.pk}/delegate/", {"to": to})
    bob.post(f"/inbox/approvals/{approval.pk}/claim/")
    alice.post(f"/inbox/approvals/{approval.pk}/delegate/", {"to": "staff"})  # claimed by bob now
    approval.refresh_from_db()
    assert approval.claimed_by == people["bob"]
    assert not approval.audit.filter(action="DELEGATED").exists()


def test_bulk_actions_decide_the_selected_tasks_and_report_the_ones_they_could_not(people):
    executions = [started(name=f"bulk-{i}") for i in range(3)]
    alice = client_for(people["alice"])
    count, html = rows(alice, "mine")
    assert count == 3 and "data-bulk-form" in html and 'data-bulk-choice="Approve"' in html
    first, second, third = Approval.objects.order_by("id")
    client_for(people["bob"]).post(f"/inbox/approvals/{first.pk}/decide/", {"choice": "Reject"})
    selected = {"approval": [first.pk, second.pk, third.pk], "choice": "Approve", "comment": "all fine",
                "tab": "mine"}
    response = alice.post("/inbox/approvals/decide/", selected, follow=True)
    page = response.content.decode()
    assert "Approve: 2 tasks." in page and f"#{first.pk}: Already decided: Reject by bob at" in page
    drain()
    for execution in executions:
        execution.refresh_from_db()
    outputs = [json.loads(execution.output) for execution in executions]
    assert outputs[1] == outputs[2] == {"outcome": "Approve", "comment": "all fine", "approver": "alice"}
    assert "rejected" in outputs[0]
    assert rows(alice, "mine")[0] == 0
