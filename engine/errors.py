"""Errors as data: the `States.*` names, the error a state raises, and `ErrorEquals` matching.

An error inside the engine is a `StatesError(name, cause)`. It is raised by whatever notices the
problem and caught by the interpreter, which hands it to the state's Retry and Catch rules and, if
nothing handles it, fails the execution (or the branch or iteration) with that name and cause.
"""

from __future__ import annotations

ALL = "States.ALL"
TASK_FAILED = "States.TaskFailed"
TIMEOUT = "States.Timeout"
HEARTBEAT_TIMEOUT = "States.HeartbeatTimeout"
RUNTIME = "States.Runtime"
DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"
INTRINSIC_FAILURE = "States.IntrinsicFailure"
QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"
BRANCH_FAILED = "States.BranchFailed"
EXCEEDED_TOLERATED_FAILURE_THRESHOLD = "States.ExceedToleratedFailureThreshold"
ITEM_READER_FAILED = "States.ItemReaderFailed"
RESULT_WRITER_FAILED = "States.ResultWriterFailed"
PERMISSIONS = "States.Permissions"
NO_CHOICE_MATCHED = "States.NoChoiceMatched"
PARAMETER_PATH_FAILURE = "States.ParameterPathFailure"
RESULT_PATH_MATCH_FAILURE = "States.ResultPathMatchFailure"

# The error handling guide says States.ALL catches neither States.Runtime nor States.DataLimitExceeded.
# AWS behaves so for States.Runtime: it is never retried or caught at all. But an execution recorded on
# AWS (Task corpus: ..._catch_state_all_data_limit_exceeded_on_large_utf8_response) shows a Catcher on
# States.ALL taking a task's States.DataLimitExceeded: recorded behaviour wins over the guide. Only the
# States.TaskFailed wildcard passes DataLimitExceeded by; naming it explicitly matches it too.
NOT_MATCHED_BY_TASK_FAILED = frozenset({DATA_LIMIT_EXCEEDED, RUNTIME})
NEVER_HANDLED = frozenset({RUNTIME})


class StatesError(Exception):
    """A named ASL error. `cause` is a string (or None: a Fail state without Cause)."""

    __slots__ = ("name", "cause")

    def __init__(self, name: str | None, cause: str | None = None):
        super().__init__(name, cause)
        self.name = name
        self.cause = cause

    def __repr__(self) -> str:
        return f"StatesError({self.name!r}, {self.cause!r})"

    def __str__(self) -> str:
        return f"{self.name}: {self.cause}"


def error_matches(error_equals: tuple[str, ...] | list[str], name: str | None) -> bool:
    """Does a Retrier/Catcher whose ErrorEquals is `error_equals` handle error `name`?"""
    if name in NEVER_HANDLED:
        return False
    if name in error_equals:
        return True
    if ALL in error_equals:  # DataLimitExceeded too (see NOT_MATCHED_BY_TASK_FAILED)
        return True
    if name in NOT_MATCHED_BY_TASK_FAILED:
        return False
    # AWS: "States.TaskFailed acts as a wildcard that matches any known error name except for
    # States.Timeout".
    return TASK_FAILED in error_equals and name != TIMEOUT
