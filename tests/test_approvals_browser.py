"""Human approval in a real browser (Debian's Chromium) against a real daphne, a db_worker and an SMTP
server (aiosmtpd on 127.0.0.1): the approval's email arrives, its link leads through the sign-in to the
confirmation page, the approver confirms, and the execution page, open beside it, follows the execution
to its end over its WebSocket without a reload. In the inbox another approver claims a task and acts."""

import json
import re
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.durable import Deployment
from tests.live import DaphneServer
from tests.test_approvals import APPROVAL, Inbox, _free_port

SCREENSHOTS = Path(__file__).parent / "screenshots"
WIDTHS = (1280, 420)
INPUT = json.dumps({"amount": 42, "customer": "Eve"})
MACHINE = {"StartAt": "Ask", "States": {
    "Ask": {"Type": "Task", "Resource": APPROVAL, "TimeoutSeconds": 3600, "Next": "Done",
            "Parameters": {"Approvers": ["alice", "bob@example.com"], "Subject": "Refund order",
                           "Message.$": "States.Format('Refund **{}** to {}?', $.amount, $.customer)"},
            "Catch": [{"ErrorEquals": ["Approval.Rejected"], "ResultPath": "$.rejected",
                       "Next": "Rejected"}]},
    "Done": {"Type": "Pass", "End": True},
    "Rejected": {"Type": "Fail", "Error": "Refund.Rejected"}}}


@pytest.fixture(scope="module")
def stack(tmp_path_factory, migrated_db_file):
    smtp = Inbox()
    controller = Controller(smtp, hostname="127.0.0.1", port=_free_port())
    controller.start()
    workdir = tmp_path_factory.mktemp("approvals-browser")
    server = DaphneServer(workdir, template_db=migrated_db_file)
    server.env.update(EMAIL_URL=f"smtp://127.0.0.1:{controller.port}", STEPWISE_BASE_URL=server.url)
    deployment = Deployment(workdir, server.env)
    server.start()
    deployment.start_worker()
    deployment.django(
        "from django.contrib.auth import get_user_model\nUser = get_user_model()\n"
        "User.objects.create_user('alice', 'alice@example.com', 'alice-password-1')\n"
        "User.objects.create_user('bob', 'bob@example.com', 'bob-password-1')\n"
        "from designer import runtime\n"
        f"runtime.create_state_machine('refunds', {json.dumps(MACHINE)!r})\n")
    yield server, deployment, smtp
    deployment.close()
    server.stop()
    controller.stop()


def start(deployment, name):
    pk = deployment.django(
        "from designer import runtime\nfrom designer.models import StateMachine\n"
        "m = StateMachine.objects.get(name='refunds')\n"
        f"result = runtime.start_execution(m, {INPUT!r}, name={name!r}).pk\n")
    deployment.wait_until("SELECT count(*) FROM designer_approvalaudit a JOIN designer_approval p "
                          "ON p.id = a.approval_id WHERE p.execution_id = ? AND a.action = 'SENT'", 2,
                          params=(pk,))
    return pk


def email_links(smtp, address, subject_execution) -> dict[str, str]:
    """{choice: url} from the text part of the latest email to `address` about that execution."""
    for rcpt, message in reversed(smtp.messages):
        text = message.get_body(("plain",)).get_content()
        if address in rcpt and subject_execution in text:
            return dict(re.findall(r"^(\w+): (http\S+?)\r?$", text, re.M))
    raise AssertionError(f"no email to {address} about {subject_execution}")


def log_in(page, username, password):
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def shoot(page, name):
    SCREENSHOTS.mkdir(exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})


def test_from_the_email_link_through_sign_in_and_confirmation_to_the_execution_continuing_live(stack, page):
    server, deployment, smtp = stack
    pk = start(deployment, "refund-email")
    links = email_links(smtp, "alice@example.com", "refund-email")
    assert set(links) == {"Approve", "Reject"} and all(url.startswith(server.url) for url in links.values())

    page.goto(links["Approve"])  # not signed in: the sign-in page first, then back to the link
    page.wait_for_url(re.compile(r"/accounts/login/"))
    log_in(page, "alice", "alice-password-1")
    confirm = page.locator("[data-approval-confirm]")
    confirm.wait_for()
    text = confirm.inner_text()
    assert "Refund 42 to Eve?" in text and "Nothing has been decided yet" in text
    assert deployment.scalar("SELECT status FROM designer_approval WHERE execution_id = ?", (pk,)) == "OPEN"
    shoot(page, "approval-email-confirm")

    live = page.context.new_page()  # the execution page, open beside the link, follows it live
    live.problems = []
    live.on("pageerror", lambda error: live.problems.append(str(error)))
    live.goto(f"{server.url}/executions/{pk}/")
    live.locator("body[data-live=connected]").wait_for()
    assert "Running" in live.locator("[data-live-status]").inner_text()

    page.get_by_label("Comment (optional)").fill("fine by me")
    page.get_by_role("button", name="Confirm: Approve").click()
    page.get_by_role("heading", name="Decided: Approve").wait_for()
    deployment.wait_until("SELECT status FROM designer_execution WHERE id = ?", "SUCCEEDED", params=(pk,))
    live.locator("body[data-live-refreshed=SUCCEEDED]").wait_for(timeout=20000)
    assert "Succeeded" in live.locator("[data-live-status]").inner_text()
    audit = live.locator("[data-approval-audit]").inner_text()
    assert "alice" in audit and "fine by me" in audit
    assert live.locator("[data-waiting-tasks]").count() == 0  # the answered task left the page
    assert live.locator("[data-inbox-count]").count() == 0  # and the top bar's count went with it
    shoot(live, "approval-execution-after")

    assert not page.problems and not live.problems, page.problems + live.problems
    response = page.goto(links["Reject"])  # a second click: who decided, and when (a page, not an error)
    assert response.status == 200 and "Approve by alice at" in page.locator("main").inner_text()


def test_in_the_inbox_an_approver_claims_a_task_and_rejects_it(stack, page):
    server, deployment, _ = stack
    pk = start(deployment, "refund-inbox")
    page.goto(server.url + "/accounts/login/?next=/inbox/")
    log_in(page, "bob", "bob-password-1")
    page.wait_for_url(re.compile(r"/inbox/"))
    assert page.locator("[data-inbox-count]").inner_text().strip() == "1"
    row = page.locator("tr[data-inbox-row]", has_text="refund-inbox")
    row.get_by_role("button", name="Claim").click()
    page.locator(".message", has_text="Claimed").wait_for()
    row = page.locator("tr[data-inbox-row]", has_text="refund-inbox")
    assert "claimed by bob" in row.inner_text()
    shoot(page, "approval-inbox")
    assert deployment.scalar("SELECT u.username FROM designer_approval a JOIN auth_user u "
                             "ON u.id = a.claimed_by_id WHERE a.execution_id = ?", (pk,)) == "bob"

    row.get_by_label("Comment").fill("too much")
    row.get_by_role("button", name="Reject").click()
    page.locator(".message", has_text="Reject: Refund order").wait_for()
    deployment.wait_until("SELECT status FROM designer_execution WHERE id = ?", "FAILED", params=(pk,))
    page.get_by_role("link", name="Done").click()
    assert "Reject by bob" in page.locator("[data-inbox-results]").inner_text()
    assert not page.problems, page.problems


def test_in_the_inbox_an_approver_delegates_one_task_and_approves_two_together(stack, page):
    server, deployment, _ = stack
    deployment.django("from django.contrib.auth import get_user_model\nUser = get_user_model()\n"
                      "User.objects.create_user('carol', 'carol@example.com', 'carol-password-1')\n")
    pks = [start(deployment, f"refund-bulk-{i}") for i in range(3)]
    page.goto(server.url + "/accounts/login/?next=/inbox/")
    log_in(page, "alice", "alice-password-1")
    page.wait_for_url(re.compile(r"/inbox/"))

    delegated = page.locator("tr[data-inbox-row]", has_text="refund-bulk-0")
    delegated.get_by_label("Delegate to").fill("carol")
    delegated.get_by_role("button", name="Delegate").click()
    page.locator(".message", has_text="Delegated to carol").wait_for()
    assert page.locator("tr[data-inbox-row]", has_text="refund-bulk-0").count() == 0  # carol's now
    audit = deployment.sql("SELECT who, detail FROM designer_approvalaudit WHERE action = 'DELEGATED'")
    assert audit == [("alice", "to carol")]

    approve = page.get_by_role("button", name="Approve selected")
    assert approve.is_disabled()
    for name in ("refund-bulk-1", "refund-bulk-2"):
        page.locator("tr[data-inbox-row]", has_text=name).locator("input[data-select]").check()
    assert page.locator("[data-selected-count]").inner_text() == "2" and approve.is_enabled()
    page.get_by_label("Comment for the selected tasks").fill("both fine")
    shoot(page, "approval-inbox-bulk")
    approve.click()
    page.locator(".message", has_text="Approve: 2 tasks.").wait_for()
    for pk in pks[1:]:
        deployment.wait_until("SELECT status FROM designer_execution WHERE id = ?", "SUCCEEDED", params=(pk,))
    assert deployment.scalar("SELECT status FROM designer_execution WHERE id = ?", (pks[0],)) == "RUNNING"
    assert not page.problems, page.problems
