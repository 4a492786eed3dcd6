"""What validation reports and how it walks: AWS's diagnostic codes, `Problem`, locations (`/States/A/Next`,
`Choices[0]`) and the walk's state (the query language in force, the state names seen so far).

The bottom of the validator: value checks (value_checks.py), JSONata expression checks
(jsonata_checks.py) and the state and machine rules (validate.py) all report through it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

ERROR, WARNING = "ERROR", "WARNING"
JSONPATH, JSONATA = "JSONPath", "JSONata"

SCHEMA_VALIDATION_FAILED = "SCHEMA_VALIDATION_FAILED"
MISSING_TRANSITION_TARGET = "MISSING_TRANSITION_TARGET"
MISSING_END_STATE = "MISSING_END_STATE"
DUPLICATE_STATE_NAME = "DUPLICATE_STATE_NAME"
INVALID_STATE_NAME = "INVALID_STATE_NAME"
INVALID_RESOURCE = "INVALID_RESOURCE"
INVALID_LABEL_NAME = "INVALID_LABEL_NAME"
INVALID_JSON_DESCRIPTION = "INVALID_JSON_DESCRIPTION"
MISSING_DESCRIPTION = "MISSING_DESCRIPTION"
INVALID_JSONATA_EXPRESSION = "INVALID_JSONATA_EXPRESSION"
UNSUPPORTED_JSONATA_EXPRESSION = "UNSUPPORTED_JSONATA_EXPRESSION"
NO_DOLLAR = "NO_DOLLAR"
PASS_RESULT_IS_STATIC = "PASS_RESULT_IS_STATIC"

MAX_STATE_NAME_LENGTH = 80
MAX_LABEL_LENGTH = 40
MAX_VARIABLE_NAME_LENGTH = 80


@dataclass(frozen=True)
class Problem:
    """One diagnostic, shaped like AWS's: `path` is its `location` (None when AWS gives none)."""

    path: str | None
    code: str
    message: str
    severity: str = ERROR

    def __str__(self) -> str:
        return f"{self.code}: {self.message} at {self.path if self.path is not None else 'null'}"


def format_invalid_definition(problems: Iterable[Problem]) -> str:
    """AWS's InvalidDefinition message: every error in one quoted list, warnings left out.

    `Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: B at
    /States/A/Next, MISSING_END_STATE: Workflow has no terminal state at null'`
    """
    errors = [str(problem) for problem in problems if problem.severity == ERROR]
    return "Invalid State Machine Definition: '" + ", ".join(errors) + "'"


# --- locations -------------------------------------------------------------------------------------


def child_path(path: str, key: str) -> str:
    return ("" if path == "/" else path) + "/" + key


def item_path(path: str, index: int) -> str:
    return f"{path}[{index}]"


# --- the walk's state ------------------------------------------------------------------------------


@dataclass
class Walk:
    machine_language: str
    state_machine_type: str
    language: str = JSONPATH  # of the state being checked
    state_names: dict[str, str] = field(default_factory=dict)  # name -> location of its first use

    def is_expression(self, value: Any) -> bool:
        return self.language == JSONATA and is_expression(value)


Check = Callable[[Walk, Any, str], Iterator[Problem]]


def schema_problem(path: str | None, message: str) -> Problem:
    return Problem(path, SCHEMA_VALIDATION_FAILED, message)


def type_problem(path: str, type_name: str) -> Problem:
    return schema_problem(path, f"Expected value of type: {type_name}")


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("{%") and value.endswith("%}")


def is_integer(value: Any) -> bool:
    # A JSON 5.0 is a float in Python; AWS reads it as an integer as well.
    return type(value) is int or (type(value) is float and value.is_integer())


def is_number(value: Any) -> bool:
    return type(value) is int or type(value) is float


