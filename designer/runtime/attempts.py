"""Task attempts, at most once: claimed with a lease before the function is called, the lease renewed
while it runs, the outcome handed to the execution; a lease that runs out fails the attempt."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction

from designer import queue
from designer.models import (
    AttemptStatus,
    TaskAttempt,
    TaskToken,
    TokenStatus,
)
from designer.runtime import approvals
from designer.runtime.clock import _lease, _wall, worker_id
from designer.runtime.step import _load, _step
from engine import (
    RUNTIME,
    TASK_FAILED,
    TIMEOUT,
    TaskFailed,
    json_text,
    jsontext,
)

log = logging.getLogger(__name__)


def _attempt_deadline(attempt: TaskAttempt) -> datetime:
    deadline = attempt.lease_expires_at
    if attempt.timeout_seconds is not None and attempt.started_at is not None:
        deadline = min(deadline, attempt.started_at + timedelta(seconds=attempt.timeout_seconds))
    return deadline


def claim_attempt(attempt_id: int, worker: str) -> TaskAttempt | None:
    """Mark the attempt RUNNING (with a lease) and record TaskStarted, in one transaction, before the
    function is called. Returns None if the attempt must not run (already run, or withdrawn)."""
    with transaction.atomic():
        attempt = (TaskAttempt.objects.select_for_update().select_related("execution")
                   .filter(pk=attempt_id, status=AttemptStatus.SCHEDULED).first())
        if attempt is None:
            return None
        started = []

        def apply(ex, row):
            suspension = ex.suspension(attempt.frame)
            if suspension is None or suspension.kind != "task":
                return False
            ex.task_started(attempt.frame)
            started.append(True)

        _step(attempt.execution_id, apply)
        if not started:
            attempt.status = AttemptStatus.ABANDONED
            attempt.finished_at = _wall()
            attempt.save(update_fields=["status", "finished_at"])
            return None
        attempt.status = AttemptStatus.RUNNING
        attempt.worker = worker
        attempt.started_at = _wall()
        attempt.lease_expires_at = attempt.started_at + _lease()
        attempt.save(update_fields=["status", "worker", "started_at", "lease_expires_at"])
        queue.enqueue("check_attempt", attempt.pk, run_after=_attempt_deadline(attempt))
    return attempt


def finish_attempt(attempt_id: int, result: Any = None, error: str | None = None, cause: str | None = None,
                   *, status: str = AttemptStatus.SUCCEEDED) -> bool:
    """Record how an attempt ended and hand the outcome to the execution. False if the attempt was no
    longer running (lost, timed out or withdrawn): then its outcome is discarded."""
    with transaction.atomic():
        attempt = TaskAttempt.objects.select_for_update().filter(pk=attempt_id).first()
        if attempt is None or attempt.status != AttemptStatus.RUNNING:
            return False
        attempt.status = status
        attempt.finished_at = _wall()
        attempt.error, attempt.cause = error, cause
        attempt.result = json_text(result) if status == AttemptStatus.SUCCEEDED else None
        attempt.save(update_fields=["status", "finished_at", "error", "cause", "result"])

        callback = False

        def apply(ex, row):
            nonlocal callback
            suspension = ex.suspension(attempt.frame)
            if suspension is None or suspension.kind != "task":
                return False
            callback = suspension.task_token is not None
            if callback and not _close_token_for_attempt(row, suspension, status):
                return False  # answered already: the request's own outcome comes too late
            if callback and status == AttemptStatus.SUCCEEDED:
                # The request was made: the Task now waits for its token (TaskSubmitted), not for this.
                ex.task_submitted(attempt.frame, result)
            elif status == AttemptStatus.SUCCEEDED:
                ex.resume_task(attempt.frame, result=result)
            else:
                ex.resume_task(attempt.frame, error=error, cause=cause,
                               timed_out=status == AttemptStatus.TIMED_OUT)

        _step(attempt.execution_id, apply, {"kind": "task", "frame": attempt.frame, "attempt": attempt.pk,
                                            "ok": status == AttemptStatus.SUCCEEDED
                                            and not attempt.resource.endswith(".waitForTaskToken")})
    return True


def _close_token_for_attempt(row, suspension, status: str) -> bool:
    """A callback's request failed: its token closes with it (a later SendTask* gets TaskTimedOut).
    False if the token was answered first. A request that succeeded leaves the token open."""
    if status == AttemptStatus.SUCCEEDED:
        return TaskToken.objects.filter(token=suspension.task_token, status=TokenStatus.OPEN).exists()
    return TaskToken.objects.filter(token=suspension.task_token, status=TokenStatus.OPEN).update(
        status=TokenStatus.FAILED, closed_at=_wall()) == 1


def _renew_leases(attempt_id: int, stop: threading.Event) -> None:
    """While the function runs: push the lease forward every third of its length."""
    from django.db import connection

    period = settings.STEPWISE_TASK_LEASE_SECONDS / 3
    try:
        while not stop.wait(period):
            TaskAttempt.objects.filter(pk=attempt_id, status=AttemptStatus.RUNNING).update(
                lease_expires_at=_wall() + _lease())
    except Exception:  # a lease we cannot renew simply expires: the check task handles that
        log.exception("renewing the lease of task attempt %s failed", attempt_id)
    finally:
        connection.close()


def call_function(resource: str, parameters: Any, timeout_seconds: float | None) -> tuple[str, Any, Any]:
    """Run a Task's resource: ("ok", result, None) or (status, error, cause). Never raises."""
    from designer import functions

    try:
        result = functions.invoke(resource, parameters, timeout_seconds=timeout_seconds)
    except TaskFailed as failure:
        status = AttemptStatus.TIMED_OUT if failure.error == TIMEOUT else AttemptStatus.FAILED
        return status, failure.error, failure.cause
    except Exception as error:  # a bug in the runtime's caller side, not the function: still never crash
        log.exception("task resource %s raised outside its wrapper", resource)
        return AttemptStatus.FAILED, type(error).__name__, str(error)
    try:
        jsontext.dumps(result)
    except (TypeError, ValueError) as error:
        return AttemptStatus.FAILED, RUNTIME, f"The task returned a result that is not JSON: {error}"
    return "ok", result, None


def run_task_attempt(attempt_id: int) -> None:
    """What a worker does with a Task attempt: claim it, call the function, report the outcome.

    With STEPWISE_TASK_THREADS > 0 (a db_worker's default) the call and its report run on one of that
    many threads and the worker goes back to the queue at once, so a slow function holds up no other
    execution. When every thread is busy the worker waits here for one, *before* the claim: the attempt
    is not lost and its lease and TimeoutSeconds have not started. The claim stays in this thread, so
    the at-most-once rule is the same as before: claimed once, with a lease, before the call.
    """
    threads = settings.STEPWISE_TASK_THREADS
    if threads <= 0:
        claimed = _claim_with_parameters(attempt_id)
        if claimed is not None:
            _call_and_finish(*claimed)
        return
    slots, pool = _task_pool(threads)
    slots.acquire()
    try:
        claimed = _claim_with_parameters(attempt_id)
        if claimed is None:
            slots.release()
            return
        pool.submit(_call_in_pool_thread, *claimed, slots)
    except BaseException:
        slots.release()
        raise


_pool_lock = threading.Lock()
_pools: dict[int, tuple[threading.BoundedSemaphore, Any]] = {}


def _task_pool(threads: int) -> tuple[threading.BoundedSemaphore, Any]:
    """The semaphore that bounds the calls in flight (a slot is taken before the claim, so the pool's
    queue stays empty), and the pool that runs them."""
    # One pool a process, made on first use. Its threads are not daemons: on SIGTERM, db_worker exits
    # and the interpreter waits for the calls that are running (a function that finishes still reports
    # its result). Whatever is still running when the process is killed (serve's STOP_TIMEOUT,
    # systemd's TimeoutStopSec, kill -9) is left to its lease: it fails with States.TaskFailed, once.
    from concurrent.futures import ThreadPoolExecutor

    with _pool_lock:
        if threads not in _pools:
            _pools[threads] = (threading.BoundedSemaphore(threads),
                               ThreadPoolExecutor(threads, thread_name_prefix="task-attempt"))
        return _pools[threads]


def _claim_with_parameters(attempt_id: int) -> tuple[TaskAttempt, Any] | None:
    attempt = claim_attempt(attempt_id, worker_id())
    if attempt is None:
        return None
    return attempt, _load(attempt.execution).suspension(attempt.frame).parameters


def _call_in_pool_thread(attempt: TaskAttempt, parameters: Any, slots: threading.BoundedSemaphore) -> None:
    from django.db import connection

    try:
        _call_and_finish(attempt, parameters)
    except Exception:  # the attempt stays RUNNING: its lease runs out and check_attempt fails it
        log.exception("task attempt %s: reporting its outcome failed", attempt.pk)
    finally:
        connection.close()  # this thread's own connection; the worker's stays open for its next task
        slots.release()


def _call_and_finish(attempt: TaskAttempt, parameters: Any) -> None:
    stop = threading.Event()
    renewer = threading.Thread(target=_renew_leases, args=(attempt.pk, stop), daemon=True)
    renewer.start()
    try:
        if approvals.is_approval(attempt.resource):  # Stepwise's own callback: record it, email approvers
            status, value, cause = approvals.request(attempt, parameters)
        else:
            status, value, cause = call_function(attempt.resource, parameters, attempt.timeout_seconds)
    finally:
        stop.set()
        renewer.join()
    if status == "ok":
        delivered = finish_attempt(attempt.pk, result=value)
    else:
        delivered = finish_attempt(attempt.pk, error=value, cause=cause, status=status)
    if not delivered:
        log.info("task attempt %s ended after it was declared lost or withdrawn: result discarded",
                 attempt.pk)


def check_attempt(attempt_id: int) -> None:
    """Queued for when a running attempt's lease (or its TimeoutSeconds) runs out."""
    attempt = TaskAttempt.objects.filter(pk=attempt_id, status=AttemptStatus.RUNNING).first()
    if attempt is None:
        return
    wall = _wall()
    timeout = attempt.timeout_seconds
    if timeout is not None and wall >= attempt.started_at + timedelta(seconds=timeout):
        finish_attempt(attempt_id, error=TIMEOUT, cause=None, status=AttemptStatus.TIMED_OUT)
    elif wall >= attempt.lease_expires_at:
        finish_attempt(attempt_id, error=TASK_FAILED, status=AttemptStatus.LOST, cause=(
            f"The worker running this task attempt ({attempt.worker}) stopped renewing its lease of "
            f"{settings.STEPWISE_TASK_LEASE_SECONDS:g} s. Stepwise runs a task attempt at most once, "
            "so it was not run again: use Retry to try again."))
    else:
        queue.enqueue("check_attempt", attempt_id, run_after=_attempt_deadline(attempt))
