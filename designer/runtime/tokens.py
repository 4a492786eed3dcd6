"""Callbacks: a `.waitForTaskToken` Task's token, answered by SendTaskSuccess, SendTaskFailure and
SendTaskHeartbeat, or ended by its TimeoutSeconds / HeartbeatSeconds.

A waiting Task costs one `TaskToken` row (recorded by the step that parks it, see step.py) and one
queued timer row per deadline, however long it waits. An answer is one step of the execution: the
token row's status is changed with a conditional UPDATE inside the step's transaction, after the
execution row is locked, so of two answers at the same time exactly one is applied; the other finds
the token closed and gets TaskTimedOut, as AWS answers for a token whose task has ended.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from designer import queue
from designer.models import (
    AttemptStatus,
    Execution,
    TaskAttempt,
    TaskToken,
    TokenStatus,
)
from designer.runtime.clock import _datetime, _real, _wall, now
from designer.runtime.errors import StepwiseError, ValidationException
from designer.runtime.step import _step
from engine import HEARTBEAT_TIMEOUT, TIMEOUT, jsontext

# AWS's taskToken: 1 to 2048 characters in today's API model (1,024 in older ones); Stepwise gives
# out 64, so anything longer is no token of ours.
MAX_TOKEN_LENGTH = 2048
MAX_OUTPUT_BYTES = 256 * 1024  # AWS: SendTaskSuccess's output, like every payload, at most 256 KiB
MAX_ERROR_LENGTH = 256  # AWS: SendTaskFailure's error at most 256 characters, cause at most 32,768
MAX_CAUSE_LENGTH = 32768
_TOKEN_TEXT = re.compile(r"[A-Za-z0-9_-]+")  # what secrets.token_urlsafe makes


class InvalidToken(StepwiseError):
    pass


class InvalidOutput(StepwiseError):
    pass


class TaskTimedOut(StepwiseError):
    pass


class TaskDoesNotExist(StepwiseError):
    pass


# AWS's messages, word for word.
INVALID_TOKEN = "Invalid Token: 'Invalid token'"
TASK_GONE = "Task Timed Out: 'Provided task does not exist anymore'"


def _open_token(token: Any) -> TaskToken:
    """The token's row, if the token is one Stepwise gave out: InvalidToken otherwise, TaskTimedOut if
    its task has ended (answered, timed out, withdrawn, its execution ended)."""
    if (not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_LENGTH
            or _TOKEN_TEXT.fullmatch(token) is None):
        raise InvalidToken(INVALID_TOKEN)
    row = TaskToken.objects.filter(token=token).first()
    if row is None:
        raise InvalidToken(INVALID_TOKEN)
    if row.status != TokenStatus.OPEN:
        raise TaskTimedOut(TASK_GONE)
    return row


def _close(row: TaskToken, execution: Execution, status: str) -> bool:
    """Inside the step (the execution row is locked): close the token if it is still open, and withdraw
    the request's attempt if it still runs (its late result is discarded). False: already closed."""
    if TaskToken.objects.filter(pk=row.pk, status=TokenStatus.OPEN).update(status=status,
                                                                           closed_at=_wall()) != 1:
        return False
    TaskAttempt.objects.open().filter(execution_id=execution.pk, frame=row.frame).update(
        status=AttemptStatus.ABANDONED, finished_at=_wall())
    return True


def _answer(row: TaskToken, status: str, resume: dict) -> bool:
    """One step that hands the answer to the Task waiting on `row`, if it still waits on that token."""
    applied = []

    def apply(ex, execution):
        suspension = ex.suspension(row.frame)
        if suspension is None or suspension.kind != "task" or suspension.task_token != row.token:
            return False
        if not _close(row, execution, status):
            return False
        ex.resume_task(row.frame, **resume)
        applied.append(True)

    _step(row.execution_id, apply, {"kind": "callback", "frame": row.frame})
    return bool(applied)


def send_task_success(token: Any, output: Any) -> None:
    """SendTaskSuccess: `output` (JSON text) is the Task's result."""
    if not isinstance(output, str) or len(output.encode("utf-8", "surrogatepass")) > MAX_OUTPUT_BYTES:
        raise InvalidOutput(f"The output must be JSON text of at most {MAX_OUTPUT_BYTES} bytes.")
    try:
        result = jsontext.loads(output)
    except (ValueError, RecursionError):
        raise InvalidOutput("Invalid JSON: the output is not valid JSON.") from None
    row = _open_token(token)
    if not _answer(row, TokenStatus.SUCCEEDED, {"result": result}):
        raise TaskTimedOut(TASK_GONE)


def send_task_failure(token: Any, error: str | None = None, cause: str | None = None) -> None:
    """SendTaskFailure: the Task fails with `error` and `cause` (Retry and Catch see them)."""
    for value, limit, name in ((error, MAX_ERROR_LENGTH, "error"), (cause, MAX_CAUSE_LENGTH, "cause")):
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            raise ValidationException(f"The {name} must be a string of at most {limit} characters.")
    row = _open_token(token)
    # AWS records no error when none was sent; the state fails with a null error that only a
    # States.ALL catcher takes.
    if not _answer(row, TokenStatus.FAILED, {"error": error, "cause": cause}):
        raise TaskTimedOut(TASK_GONE)


def send_task_heartbeat(token: Any) -> None:
    """SendTaskHeartbeat: the Task's HeartbeatSeconds count again from now."""
    row = _open_token(token)
    if row.heartbeat_seconds is None:
        return
    due = _datetime(now() + row.heartbeat_seconds)
    if TaskToken.objects.filter(pk=row.pk, status=TokenStatus.OPEN).update(heartbeat_due_at=due) != 1:
        raise TaskTimedOut(TASK_GONE)
    # The earlier timer row finds its deadline moved and does nothing.
    queue.enqueue("check_token", row.pk, due.timestamp(), run_after=_real(due.timestamp()))


def check_token(token_id: int, deadline: float) -> None:
    """Queued for one of a token's deadlines (execution time, epoch seconds): end the wait with
    States.Timeout or States.HeartbeatTimeout once it has passed. A timer for a heartbeat deadline a
    later heartbeat moved does nothing (that heartbeat queued its own); one run early comes back."""
    row = TaskToken.objects.filter(pk=token_id, status=TokenStatus.OPEN).first()
    if row is None:
        return
    if row.timeout_at is not None and row.timeout_at.timestamp() == deadline:
        error = TIMEOUT
    elif row.heartbeat_due_at is not None and row.heartbeat_due_at.timestamp() == deadline:
        error = HEARTBEAT_TIMEOUT
    else:
        return  # stale
    if now() < deadline:  # early (clocks differ, or the queue ran it early): come back on time
        queue.enqueue("check_token", token_id, deadline, run_after=_real(deadline))
        return
    _answer(row, TokenStatus.TIMED_OUT, {"error": error, "timed_out": True})


def pending_tasks(machine=None, state_name: str | None = None, activity: str | None = None,
                  kind: str | None = None):
    """Every open token, oldest first, with its execution and machine: what waits for an answer.

    Each row has `execution`, `state_name`, `kind` (callback or activity), `created_at` (its age:
    `now() - created_at`), `heartbeat_due_at` and `timeout_at`; an activity task also `started_at`
    and `worker_name` once a worker took it. `machine` is a StateMachine, its name or its id;
    `activity` an activity ARN. Served by the (status, created_at) index, however many tokens were
    ever closed."""
    rows = TaskToken.objects.open().select_related("execution", "execution__machine").order_by(
        "created_at", "id")
    if machine is not None:
        if isinstance(machine, str):
            rows = rows.filter(execution__machine__name=machine)
        else:
            rows = rows.filter(execution__machine=machine)
    if state_name is not None:
        rows = rows.filter(state_name=state_name)
    if activity is not None:
        rows = rows.filter(kind="activity", resource=activity)
    if kind is not None:
        rows = rows.filter(kind=kind)
    return rows


def waiting_tasks(execution: Execution) -> list[TaskToken]:
    """The open tokens of one execution (its page shows them)."""
    return list(TaskToken.objects.open().filter(execution=execution).order_by("created_at", "id"))


def token_age(row: TaskToken) -> timedelta:
    return _datetime(now()) - row.created_at
