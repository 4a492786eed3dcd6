"""Two approvers deciding the same approvals at the same moment, from two processes, on PostgreSQL (as
tests/test_callbacks_live.py races two answers to one token): for each approval one decision wins, the
other is told who decided and when, and the Task gets exactly one answer."""

import json
import re
import subprocess
import sys
import time

import pytest

from tests.durable import Deployment, postgres_available
from tests.live import ROOT
from tests.test_approvals_browser import INPUT, MACHINE

RACES = 20

_DECIDE = """
import json, os, sys, time
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "designer.settings")
import django
django.setup()
from django.contrib.auth import get_user_model
from designer import runtime
approvals, username, choice, at = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
user = get_user_model().objects.get(username=username)
time.sleep(max(0.0, at - time.time()))
outcomes = []
for pk in approvals:
    try:
        runtime.decide_approval(pk, choice, user, channel="inbox", comment=username)
        outcomes.append("decided")
    except runtime.AlreadyDecided as error:
        outcomes.append(error.message)
print(json.dumps(outcomes))
"""


@pytest.mark.postgres
@pytest.mark.skipif(not postgres_available(), reason="no PostgreSQL at 127.0.0.1:5432")
def test_of_two_approvers_deciding_at_once_one_wins_and_the_other_is_told_who_decided(tmp_path):
    deployment = Deployment.postgres(tmp_path)
    try:
        deployment.django(
            "from django.contrib.auth import get_user_model\nUser = get_user_model()\n"
            "User.objects.create_user('alice', 'alice@example.com', 'pw')\n"
            "User.objects.create_user('bob', 'bob@example.com', 'pw')\n"
            "from designer import runtime\n"
            f"m = runtime.create_state_machine('race', {json.dumps(MACHINE)!r})\n"
            f"for i in range({RACES}): runtime.start_execution(m, {INPUT!r}, name=f'r{{i}}')\n")
        deployment.start_worker()
        deployment.wait_until("SELECT count(*) FROM designer_approval", RACES, timeout=60)
        approvals = [row[0] for row in deployment.sql("SELECT id FROM designer_approval ORDER BY id")]
        at = time.time() + 3  # both processes have Django loaded before then
        processes = [subprocess.Popen([sys.executable, "-c", _DECIDE, json.dumps(approvals), who, choice,
                                       str(at)], cwd=ROOT, env=deployment.env, stdout=subprocess.PIPE,
                                      text=True)
                     for who, choice in (("alice", "Approve"), ("bob", "Reject"))]
        outcomes = [json.loads(process.communicate(timeout=120)[0]) for process in processes]
        told = re.compile(r"^Already decided: (Approve by alice|Reject by bob) "
                          r"at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
        for alice, bob in zip(*outcomes, strict=True):
            assert [alice, bob].count("decided") == 1, outcomes
            loser = bob if alice == "decided" else alice
            winner = "Approve by alice" if alice == "decided" else "Reject by bob"
            assert told.match(loser) and winner in loser, loser  # the loser hears the winner's name
        deployment.wait_until(
            "SELECT count(*) FROM designer_execution WHERE status IN ('SUCCEEDED', 'FAILED')", RACES,
            timeout=60)
        for pk, alice in zip(approvals, outcomes[0], strict=True):
            decided_by, execution = deployment.sql(
                "SELECT decided_by_name, execution_id FROM designer_approval WHERE id = ?", (pk,))[0]
            assert decided_by == ("alice" if alice == "decided" else "bob")
            assert deployment.scalar("SELECT count(*) FROM designer_approvalaudit WHERE approval_id = ? "
                                     "AND action = 'DECIDED'", (pk,)) == 1
            assert deployment.scalar(
                "SELECT count(*) FROM designer_historyevent WHERE execution_id = ? "
                "AND type IN ('TaskSucceeded', 'TaskFailed')", (execution,)) == 1
            status = deployment.scalar("SELECT status FROM designer_execution WHERE id = ?", (execution,))
            assert status == ("SUCCEEDED" if alice == "decided" else "FAILED")  # the winner's answer
    finally:
        deployment.close()
