"""Human approvals with real parts: a real SMTP server (aiosmtpd on 127.0.0.1) receives the emails, the
links are parsed out of them, and the runtime's worker is drained in this thread (tests/test_runtime.py).

A "scanner" (what Safe Links, Mimecast or Proofpoint do) GETs and HEADs every link, follows redirects and
submits every form it finds, without the addressed user's session: nothing changes. Only the approver,
signed in, confirming with a POST (CSRF), decides."""

import email
import json
import re
import socket
import time
from email import policy
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from aiosmtpd.controller import Controller
from django.contrib.auth import get_user_model
from django.core import signing
from django.test import Client, override_settings

from designer import runtime
from designer.approval_mail import SALT, sign_link
from designer.models import (
    Approval,
    ApprovalAudit,
    ApprovalStatus,
    AuditAction,
    ExecutionStatus,
    HistoryEvent,
    TaskToken,
    TokenStatus,
)
from tests.test_runtime import drain, machine

pytestmark = pytest.mark.django_db(transaction=True)

APPROVAL = "arn:aws:states:::stepwise:approval.waitForTaskToken"


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content,
                                                                           policy=policy.default)))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp():
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    mailers = {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                           "OPTIONS": {"host": "127.0.0.1", "port": controller.port, "timeout": 10}}}
    with override_settings(MAILERS=mailers):
        yield handler
    controller.stop()


@pytest.fixture
def users():
    model = get_user_model()
    return {"alice": model.objects.create_user("alice", "alice@example.com", "pw-alice-123"),
            "bob": model.objects.create_user("bob", "bob@example.com", "pw-bob-123"),
            "mallory": model.objects.create_user("mallory", "mallory@example.com", "pw-mallory-123")}


def approval_machine(name="approve", **parameters):
    params = {"Approvers": ["alice", "bob@example.com"], "Subject": "Refund order",
              "Message.$": "States.Format('Refund **{}** for <b>{}</b>?', $.amount, $.customer)",
              **parameters}
    task = {"Type": "Task", "Resource": APPROVAL, "Parameters": params, "Next": "Done",
            "TimeoutSeconds": 3600,
            "Catch": [{"ErrorEquals": ["Approval.Rejected"], "ResultPath": "$.rejected", "Next": "Rejected"}]}
    return machine(name, {"StartAt": "Ask", "States": {
        "Ask": task, "Done": {"Type": "Pass", "End": True},
        "Rejected": {"Type": "Pass", "End": True}}})


def start(smtp, name="approve", **parameters):
    execution = runtime.start_execution(approval_machine(name, **parameters),
                                        json.dumps({"amount": 42, "customer": "Eve"}))
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.RUNNING
    return execution


def links(message) -> dict[str, str]:
    """{choice: path} from the text part of one email."""
    text = message.get_body(("plain",)).get_content()
    found = dict(re.findall(r"^(\w+): (http\S+?)\r?$", text, re.M))
    return {choice: urlsplit(url).path for choice, url in found.items()}


def mail_to(smtp, address):
    return next(message for rcpt, message in smtp.messages if address in rcpt)


class Forms(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            method = (attrs.get("method") or "get").lower()
            self.forms.append({"action": attrs.get("action"), "method": method, "fields": {}})
        elif tag in ("input", "textarea", "button") and self.forms and attrs.get("name"):
            self.forms[-1]["fields"][attrs["name"]] = attrs.get("value", "")


def forms(html: str) -> list[dict]:
    parser = Forms()
    parser.feed(html)
    return parser.forms


def state(execution):
    execution.refresh_from_db()
    approval = Approval.objects.get(execution=execution)
    return (execution.status, approval.status, approval.token.status,
            HistoryEvent.objects.filter(execution=execution).count())


def scan(client, path, seen=None):
    """GET and HEAD the link, follow every redirect, submit every form found. Returns the statuses."""
    statuses = []
    for _ in range(5):
        head = client.head(path)
        response = client.get(path)
        statuses += [head.status_code, response.status_code]
        if response.status_code not in (301, 302, 303, 307, 308):
            break
        path = urljoin(path, response["Location"])
    body = response.content.decode()
    for form in forms(body):
        target = urljoin(path, form["action"] or path)
        submit = client.post if form["method"] == "post" else client.get
        statuses.append(submit(target, form["fields"]).status_code)
    return statuses


def signed_in(username, password):
    client = Client(enforce_csrf_checks=True)
    assert client.login(username=username, password=password)
    return client


def confirm(client, path, comment=""):
    """What the approver does: open the link, read the page, press its button (with the page's CSRF)."""
    page = client.get(path)
    assert page.status_code == 200, page.content
    form = forms(page.content.decode())
    posted = [f for f in form if f["method"] == "post" and "comment" in f["fields"]][0]
    return client.post(path, {**posted["fields"], "comment": comment})


def test_each_approver_gets_an_html_and_text_email_with_one_link_per_choice(smtp, users):
    execution = start(smtp)
    assert sorted(rcpt[0] for rcpt, _ in smtp.messages) == ["alice@example.com", "bob@example.com"]
    message = mail_to(smtp, "alice@example.com")
    assert message["Subject"] == "Refund order"
    html = message.get_body(("html",)).get_content()
    assert "Refund <strong>42</strong> for &lt;b&gt;Eve&lt;/b&gt;?" in html  # bold allowed, HTML escaped
    assert "<b>Eve" not in html
    assert set(links(message)) == {"Approve", "Reject"}
    token = TaskToken.objects.get(execution=execution).token
    for address in ("alice@example.com", "bob@example.com"):
        assert token not in mail_to(smtp, address).as_string()  # the raw token is never sent
    submitted = HistoryEvent.objects.filter(execution=execution, type="TaskSubmitted").get().details
    assert submitted["output"]["Approvers"] == ["alice", "bob@example.com"]
    assert ApprovalAudit.objects.filter(action=AuditAction.SENT).count() == 2


def test_a_scanner_following_every_link_and_form_changes_nothing(smtp, users):
    execution = start(smtp)
    before = state(execution)
    anonymous, other = Client(enforce_csrf_checks=True), signed_in("mallory", "pw-mallory-123")
    for scanner in (anonymous, other, Client()):
        for address in ("alice@example.com", "bob@example.com"):
            for path in links(mail_to(smtp, address)).values():
                statuses = scan(scanner, path)
                assert all(code in (200, 302, 403) for code in statuses), statuses
    assert state(execution) == before  # still open, token open, no new history
    assert not ApprovalAudit.objects.filter(action=AuditAction.DECIDED).exists()


def test_the_signed_in_approver_confirms_and_the_execution_continues(smtp, users):
    execution = start(smtp)
    path = links(mail_to(smtp, "alice@example.com"))["Approve"]
    alice = Client(enforce_csrf_checks=True)
    # Not signed in: the link leads to the sign-in page and back.
    response = alice.get(path)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert f"next={path}" in response["Location"].replace("%3A", ":").replace("%2F", "/")
    assert alice.login(username="alice", password="pw-alice-123")
    head = alice.head(path)
    assert head.status_code == 200 and state(execution)[1] == ApprovalStatus.OPEN
    decided = confirm(alice, path, comment="fine by me")
    assert decided.status_code == 200 and b"Decided: Approve" in decided.content
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED
    answer = {"outcome": "Approve", "comment": "fine by me", "approver": "alice"}
    assert json.loads(execution.output) == answer
    succeeded = HistoryEvent.objects.get(execution=execution, type="TaskSucceeded").details
    assert succeeded["output"]["approver"] == "alice"  # the history names the approver
    audit = list(ApprovalAudit.objects.exclude(action=AuditAction.SENT)
                 .values_list("action", "who", "channel"))
    assert (AuditAction.VIEWED, "alice", "email") in audit
    assert audit[-1] == (AuditAction.DECIDED, "alice", "email")
    row = ApprovalAudit.objects.get(action=AuditAction.DECIDED)
    assert row.ip == "127.0.0.1" and row.comment == "fine by me" and row.decision == "Approve"
    # The second click (any link of this approval) says who decided and when; nothing changes.
    again = alice.get(links(mail_to(smtp, "alice@example.com"))["Reject"])
    assert again.status_code == 200 and b"Approve by alice at" in again.content
    bob = signed_in("bob", "pw-bob-123")
    late = bob.get(links(mail_to(smtp, "bob@example.com"))["Reject"])
    assert late.status_code == 200 and b"Already decided" in late.content
    assert bob.post(links(mail_to(smtp, "bob@example.com"))["Reject"]).status_code == 403  # no CSRF
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED
    page = alice.get(f"/executions/{execution.pk}/")
    assert b"data-approval-audit" in page.content and b"fine by me" in page.content


def test_reject_fails_the_task_with_approval_rejected_and_the_catch_takes_it(smtp, users):
    execution = start(smtp)
    bob = signed_in("bob", "pw-bob-123")  # addressed by email address: a user who has it
    assert confirm(bob, links(mail_to(smtp, "bob@example.com"))["Reject"], "no").status_code == 200
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED
    rejected = json.loads(execution.output)["rejected"]
    assert rejected["Error"] == "Approval.Rejected"
    assert json.loads(rejected["Cause"]) == {"outcome": "Reject", "comment": "no", "approver": "bob"}


def test_the_reject_error_and_the_choices_are_configurable(smtp, users):
    execution = start(smtp, name="custom", RejectError="Refund.Declined",
                      Choices=["Refund", {"Name": "Partial", "Fail": False},
                               {"Name": "Decline", "Fail": True}],
                      Approvers=["alice"])
    paths = links(mail_to(smtp, "alice@example.com"))
    assert set(paths) == {"Refund", "Partial", "Decline"}
    assert confirm(signed_in("alice", "pw-alice-123"), paths["Decline"]).status_code == 200
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED and execution.error == "Refund.Declined"


def test_forged_tampered_expired_and_wrong_recipient_links_get_clear_pages_and_change_nothing(smtp, users):
    execution = start(smtp)
    before = state(execution)
    alice = signed_in("alice", "pw-alice-123")
    path = links(mail_to(smtp, "alice@example.com"))["Approve"]
    signed = path.split("/")[2]
    approval = Approval.objects.get(execution=execution)
    recipient = approval.recipients.get(user=users["alice"])
    forged = signing.TimestampSigner(salt="another-salt").sign_object(
        {"r": recipient.pk, "c": "Approve", "n": recipient.nonce, "e": int(time.time()) + 999})
    wrong_nonce = signing.TimestampSigner(salt=SALT).sign_object(
        {"r": recipient.pk, "c": "Approve", "n": "x" * 43, "e": int(time.time()) + 999})
    tampered = signed[:-3] + ("aaa" if signed[-3:] != "aaa" else "bbb")
    expired = sign_link(recipient, "Approve", expires=time.time() - 1)
    cases = {
        "forged": (f"/approvals/{forged}/", 400, b"not valid"),
        "tampered": (f"/approvals/{tampered}/", 400, b"not valid"),
        "expired": (f"/approvals/{expired}/", 410, b"expired"),
        "wrong nonce": (f"/approvals/{wrong_nonce}/", 404, b"does not exist"),
        "wrong recipient": (links(mail_to(smtp, "bob@example.com"))["Approve"], 403,
                            b"addressed to someone else"),
    }
    for name, (bad, status, words) in cases.items():
        for method in (alice.get, alice.head, alice.post):
            response = method(bad)
            expected = 403 if method == alice.post and status == 403 else status
            assert response.status_code in (expected, 403), (name, method, response.status_code)
        response = alice.get(bad)
        assert response.status_code == status and words in response.content, name
    assert state(execution) == before
    refused = ApprovalAudit.objects.filter(action=AuditAction.REFUSED).first()
    assert refused.who == "alice" and "bob@example.com" in refused.detail


def test_a_decision_after_the_execution_was_stopped_says_so(smtp, users):
    execution = start(smtp)
    path = links(mail_to(smtp, "alice@example.com"))["Approve"]
    alice = signed_in("alice", "pw-alice-123")
    page = alice.get(path)
    runtime.stop_execution(execution)
    drain()
    csrf = forms(page.content.decode())[-1]["fields"]
    response = alice.post(path, csrf)
    assert response.status_code == 409 and b"execution was stopped" in response.content
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.ABORTED
    assert Approval.objects.get(execution=execution).decision == ""
    assert TaskToken.objects.get(execution=execution).status == TokenStatus.CLOSED


def test_bad_parameters_fail_the_task_with_approval_invalid_parameters(smtp, users):
    execution = runtime.start_execution(approval_machine("bad", Approvers=["nobody"]),
                                        '{"amount": 1, "customer": "x"}')
    drain()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED and execution.error == "Approval.InvalidParameters"
    assert "nobody" in execution.cause and not smtp.messages
