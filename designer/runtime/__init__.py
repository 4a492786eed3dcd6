"""The one place that changes an execution: start, advance, stop, redrive, and the answers to its
suspensions (Wait times, Task attempts, leases, timeouts).

Views, the API and workers call these functions; nothing else writes an execution's status.

Standard executions live in the database. Every step is one transaction that
  1. locks and loads the execution row and rebuilds the engine's `Execution` from its snapshot,
  2. applies one wake-up (a Wait's time came, a Task attempt started or finished, a lease ran out …)
     after checking that the wake-up still applies — a stale or duplicate one changes nothing,
  3. runs every runnable frame (pure states run many transitions in one batch; the batch ends at a
     Task, a Wait or the end),
  4. appends the new history rows, records new Task attempts and enqueues the follow-up work
     (django.tasks rows, `run_after` for anything due later), and
  5. writes the snapshot with a compare-and-swap on `version`.
A queued task is only a hint: it re-reads the row and checks before it does anything.

Task attempts run at most once: an attempt is recorded SCHEDULED, claimed as RUNNING with a lease
*before* the function is called, and renewed while it runs. If the worker dies, a check queued for the
lease's end finds it expired and fails the attempt with States.TaskFailed (the execution's Retry and
Catch decide what happens next); the function is never called again for that attempt. A late result
of an attempt that was declared lost, timed out or withdrawn (StopExecution) is discarded. A queued
row a killed worker had claimed is never run by django-tasks-db again; `sweep()` puts it back.

A redrive starts again from the snapshot taken before the step that ended the execution: what failed
(and whatever was withdrawn with it) is entered again, what succeeded is not run again.

Express executions keep no per-transition rows: StartSyncExecution runs in memory inside the request
(at most once); an async Express execution runs in one worker from start to end, and is started again
from the beginning if that worker dies (at least once), as AWS documents.

The package, by concept (each module imports only those below it; this door re-exports what views, the
API, consumers, tasks and management commands call):
  errors, clock           AWS's error classes; execution time, the wall clock, the lease length
  compiled                compiled machines and the options an engine Execution runs a row with
  children                what a parent's step does for its DISTRIBUTED Maps (rows, starts, hints)
  step                    one step: lock, load, apply a wake-up, run, save with a compare-and-swap
  map_runs                children's first steps, their outcomes delivered, UpdateMapRun
  wakeups                 advance, a Wait's time, the execution's timeout, StopExecution
  machines                state machines: names, definitions, create, update, delete
  versions                versions, aliases and tags of state machines
  sweep                   work a dead worker dropped
  start, redrive          StartExecution, RedriveExecution
  attempts                Task attempts and their leases
  express                 Express executions, in memory
  tokens                  callbacks: task tokens, SendTaskSuccess/Failure/Heartbeat, their deadlines
  activities              activities: create, tags, delete; GetActivityTask's claims, ActivityStarted
  approvals               human approvals: a callback Task answered by people (email links, the inbox)
"""

from designer.runtime.activities import (
    ActivityDoesNotExist,
    activity_schedule_failed,
    activity_tasks,
    claim_activity_task,
    create_activity,
    delete_activity,
    get_activity,
    has_unclaimed,
    tag_activity,
    untag_activity,
)
from designer.runtime.approvals import (
    AlreadyDecided,
    NotAllowed,
    TaskEnded,
)
from designer.runtime.approvals import audit as approval_audit
from designer.runtime.approvals import claim as claim_approval
from designer.runtime.approvals import decide as decide_approval
from designer.runtime.approvals import delegate as delegate_approval
from designer.runtime.approvals import ended_reason as approval_ended_reason
from designer.runtime.approvals import may_act as may_act_on_approval
from designer.runtime.approvals import release as release_approval
from designer.runtime.approvals import sync_closed as close_ended_approvals
from designer.runtime.approvals import waiting_for as approvals_waiting_for
from designer.runtime.attempts import (
    call_function,
    check_attempt,
    claim_attempt,
    finish_attempt,
    run_task_attempt,
)
from designer.runtime.clock import (
    now,
    worker_id,
)
from designer.runtime.errors import (
    ConflictException,
    ExecutionAlreadyExists,
    ExecutionDoesNotExist,
    ExecutionLimitExceeded,
    ExecutionNotRedrivable,
    InvalidArn,
    InvalidDefinition,
    InvalidExecutionInput,
    InvalidName,
    ResourceNotFound,
    StateMachineAlreadyExists,
    StateMachineDoesNotExist,
    StateMachineTypeNotSupported,
    StepwiseError,
    TooManyTags,
    ValidationException,
)
from designer.runtime.express import (
    check_express,
    run_express,
    start_sync_express,
)

# The admin's form checks a new machine's name as CreateStateMachine does.
from designer.runtime.machines import _check_name as check_name
from designer.runtime.machines import (
    check_definition,
    create_state_machine,
    delete_state_machine,
    get_execution,
    get_state_machine,
    split_machine_arn,
    update_state_machine,
)
from designer.runtime.map_runs import (
    abort_child,
    deliver_children,
    get_map_run,
    start_children,
    update_map_run,
)
from designer.runtime.redrive import (
    redrive_execution,
    redrive_problem,
)
from designer.runtime.start import (
    start_execution,
)
from designer.runtime.sweep import (
    WorkerLost,
    sweep,
    sweep_and_reschedule,
    sweep_period,
)
from designer.runtime.tokens import (
    InvalidOutput,
    InvalidToken,
    TaskDoesNotExist,
    TaskTimedOut,
    check_token,
    pending_tasks,
    send_task_failure,
    send_task_heartbeat,
    send_task_success,
    token_age,
    waiting_tasks,
)
from designer.runtime.versions import (
    MAX_TAGS,
    check_tag_count,
    create_alias,
    delete_alias,
    delete_version,
    get_alias,
    publish_version,
    tag_machine,
    untag_machine,
    update_alias,
)
from designer.runtime.wakeups import (
    advance,
    resume_wait,
    stop_execution,
    time_out,
)

__all__ = [
    "ActivityDoesNotExist",
    "activity_schedule_failed",
    "activity_tasks",
    "claim_activity_task",
    "create_activity",
    "delete_activity",
    "get_activity",
    "has_unclaimed",
    "tag_activity",
    "untag_activity",
    "AlreadyDecided",
    "NotAllowed",
    "TaskEnded",
    "approval_audit",
    "approval_ended_reason",
    "approvals_waiting_for",
    "claim_approval",
    "close_ended_approvals",
    "decide_approval",
    "delegate_approval",
    "may_act_on_approval",
    "release_approval",
    "InvalidOutput",
    "InvalidToken",
    "TaskDoesNotExist",
    "TaskTimedOut",
    "check_token",
    "pending_tasks",
    "send_task_failure",
    "send_task_heartbeat",
    "send_task_success",
    "token_age",
    "waiting_tasks",
    "abort_child",
    "advance",
    "call_function",
    "check_attempt",
    "check_definition",
    "check_express",
    "check_name",
    "check_tag_count",
    "claim_attempt",
    "ConflictException",
    "create_alias",
    "create_state_machine",
    "delete_alias",
    "delete_state_machine",
    "delete_version",
    "deliver_children",
    "ExecutionAlreadyExists",
    "ExecutionDoesNotExist",
    "ExecutionLimitExceeded",
    "ExecutionNotRedrivable",
    "finish_attempt",
    "get_alias",
    "get_execution",
    "get_map_run",
    "get_state_machine",
    "InvalidArn",
    "InvalidDefinition",
    "InvalidExecutionInput",
    "InvalidName",
    "MAX_TAGS",
    "now",
    "publish_version",
    "redrive_execution",
    "redrive_problem",
    "ResourceNotFound",
    "resume_wait",
    "run_express",
    "run_task_attempt",
    "split_machine_arn",
    "start_children",
    "start_execution",
    "start_sync_express",
    "StateMachineAlreadyExists",
    "StateMachineDoesNotExist",
    "StateMachineTypeNotSupported",
    "StepwiseError",
    "stop_execution",
    "sweep",
    "sweep_and_reschedule",
    "sweep_period",
    "tag_machine",
    "time_out",
    "TooManyTags",
    "untag_machine",
    "update_alias",
    "update_map_run",
    "update_state_machine",
    "ValidationException",
    "worker_id",
    "WorkerLost",
]
