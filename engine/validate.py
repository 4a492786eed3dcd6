"""Static validation of an Amazon States Language definition, as CreateStateMachine and
ValidateStateMachineDefinition judge it: `iter_problems(definition)` yields every `Problem` found.

This module holds the state and machine rules and the entry point; beneath it, problems.py (codes,
Problem, locations, the walk), value_checks.py (one check per kind of value), jsonata_checks.py
(`{% %}` expressions) and shapes.py (the nested objects: retriers, catchers, ItemReader, ...).

The checks are data. Each state type is a row of `STATE_FIELDS` (the fields it may carry); each field
name maps to one value check in `FIELD_CHECKS`; nested objects (retriers, catchers, Credentials,
ItemProcessor, ...) are `Shape`s of the same kind. Graph checks run per scope (the machine, each
Parallel branch, each Map ItemProcessor): transition targets exist, a terminal state exists, every
state is reachable from StartAt. State names must be unique across the whole machine.

Locations are AWS's: `/` is the document, fields are joined with `/`, an array item is `[i]` after its
field, nested machines continue the same way: `/States/Pass/Next`, `/States/C/Choices[0]/Next`,
`/States/P/Branches[0]/States/X`, `/States/M/ItemProcessor/StartAt`. State names are not escaped.
`path` is None where AWS gives no location (a machine without a terminal state).

Codes are AWS's (API reference, ValidateStateMachineDefinitionDiagnostic): SCHEMA_VALIDATION_FAILED,
MISSING_TRANSITION_TARGET, MISSING_END_STATE, DUPLICATE_STATE_NAME, INVALID_STATE_NAME,
INVALID_RESOURCE, INVALID_LABEL_NAME, INVALID_JSON_DESCRIPTION, MISSING_DESCRIPTION, plus two AWS
returns without documenting them: INVALID_JSONATA_EXPRESSION for a `{% %}` that does not parse and
UNSUPPORTED_JSONATA_EXPRESSION for one that reads a bare name at its top level; the warnings are
NO_DOLLAR and PASS_RESULT_IS_STATIC. Messages copy AWS's wording where it was recorded (the
conformance corpus, and diagnostics measured against AWS and quoted in public bug reports):
"These fields are required: [States, StartAt]", "Field 'X' is not supported", "The QueryLanguage is
set to 'JSONata', but field 'X' is only supported for the 'JSONPath' QueryLanguage", "There should
only be one of the following fields: [A, B]", "Minimum value is 0", "Value is not a Reference Path",
"String does not match RFC3339 timestamp", "Missing 'Next' target: X", 'State "X" is not
reachable.', "Workflow has no terminal state", "Reference to 'x' at the top level is not
supported.". Elsewhere the wording is ours, in the same style.

Where AWS differs from the spec or from what one would guess (all measured by others on AWS):
- An unreachable state is an error (MISSING_TRANSITION_TARGET), not a warning. It is not reported
  when the scope has no terminal state at all: MISSING_END_STATE replaces it.
- Every dangling transition says `Missing 'Next' target`, whether the field is Next, Default or
  StartAt.
- Only the machine's top-level QueryLanguage is inherited: a `QueryLanguage` on a Map or Parallel
  does not carry into its ItemProcessor or branches. A state may say JSONata in a JSONPath machine,
  never JSONPath in a JSONata one; any value other than "JSONPath" counts as JSONata.
- ItemProcessor (and the legacy Iterator) may not declare QueryLanguage.
- Unsupported and wrong-language fields are reported at the object that carries them
  (`/States/S`), value problems at the field (`/States/S/Seconds`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from engine import jsontext
from engine.problems import (
    DUPLICATE_STATE_NAME,
    INVALID_JSON_DESCRIPTION,
    INVALID_STATE_NAME,
    JSONATA,
    JSONPATH,
    MAX_STATE_NAME_LENGTH,
    MISSING_DESCRIPTION,
    MISSING_END_STATE,
    MISSING_TRANSITION_TARGET,
    PASS_RESULT_IS_STATIC,
    SCHEMA_VALIDATION_FAILED,
    WARNING,
    Check,
    Problem,
    Walk,
    child_path,
    is_integer,
    item_path,
    schema_problem,
    type_problem,
)
from engine.shapes import (
    CATCHER,
    ITEM_BATCHER,
    ITEM_READER,
    MAP_NUMBER_PATH,
    RESULT_WRITER,
    RETRIER,
    Shape,
    check_shape,
    choice_rule,
    credentials,
    error_handlers,
    label,
    processor_config,
    shape_check,
    state_reference,
    task_resource,
)
from engine.value_checks import (
    INPUT_ONLY,
    any_value,
    array_of,
    assign,
    boolean,
    enum,
    fail_path_check,
    integer,
    jsonata_or,
    jsonata_value,
    jsonpath_template,
    number,
    path_check,
    string,
    template,
    timestamp,
)

# --- states ----------------------------------------------------------------------------------------


def nested_machine(kind: str) -> Check:
    def check(walk: Walk, value: Any, path: str) -> Iterator[Problem]:
        yield from _check_machine(walk, value, path, MACHINE_SHAPES[kind])

    return check


FIELD_CHECKS: Mapping[str, Check] = {
    "Type": any_value,  # checked before the shape: it selects the shape
    "Comment": string,
    "QueryLanguage": enum(JSONPATH, JSONATA),
    "Next": state_reference,
    "End": boolean,
    "InputPath": path_check(nullable=True),
    "OutputPath": path_check(nullable=True),
    "Parameters": jsonpath_template,
    "ResultSelector": jsonpath_template,
    "ResultPath": path_check(nullable=True, reference=True, roots=INPUT_ONLY),
    "Result": any_value,
    "Arguments": jsonata_value,
    "Output": jsonata_value,
    "Assign": assign,
    # Task
    "Resource": task_resource,
    "TimeoutSeconds": integer(1),
    "TimeoutSecondsPath": path_check(reference=True),
    "HeartbeatSeconds": integer(1),
    "HeartbeatSecondsPath": path_check(reference=True),
    "Credentials": credentials,
    "Retry": error_handlers(RETRIER),
    "Catch": error_handlers(CATCHER),
    # Choice
    "Choices": array_of(choice_rule),
    "Default": state_reference,
    # Wait
    "Seconds": integer(0),
    "SecondsPath": path_check(reference=True),
    "Timestamp": timestamp,
    "TimestampPath": path_check(reference=True),
    # Fail
    "Error": string,
    "ErrorPath": fail_path_check,
    "Cause": string,
    "CausePath": fail_path_check,
    # Parallel
    "Branches": array_of(nested_machine("branch")),
    # Map
    "ItemProcessor": nested_machine("processor"),
    "Iterator": nested_machine("processor"),
    "ItemsPath": path_check(reference=True),
    "Items": jsonata_or(array_of(jsonata_value, non_empty=False)),
    "ItemSelector": template,
    "ItemReader": shape_check(ITEM_READER),
    "ItemBatcher": shape_check(ITEM_BATCHER),
    "ResultWriter": shape_check(RESULT_WRITER),
    "MaxConcurrency": integer(0),
    "MaxConcurrencyPath": MAP_NUMBER_PATH,
    "ToleratedFailureCount": integer(0),
    "ToleratedFailureCountPath": MAP_NUMBER_PATH,
    "ToleratedFailurePercentage": number(0, 100),
    "ToleratedFailurePercentagePath": MAP_NUMBER_PATH,
    "Label": label,
}

_IO = ("InputPath", "OutputPath")
STATE_FIELDS: Mapping[str, tuple[str, ...]] = {
    "Pass": (*_IO, "Next", "End", "Parameters", "ResultPath", "Result", "Output", "Assign"),
    "Task": (*_IO, "Next", "End", "Resource", "Parameters", "ResultSelector", "ResultPath", "Arguments",
             "Output", "Assign", "Retry", "Catch", "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds",
             "HeartbeatSecondsPath", "Credentials"),
    "Choice": (*_IO, "Choices", "Default", "Output", "Assign"),
    "Wait": (*_IO, "Next", "End", "Seconds", "SecondsPath", "Timestamp", "TimestampPath", "Output", "Assign"),
    "Succeed": (*_IO, "Output"),
    "Fail": ("Error", "ErrorPath", "Cause", "CausePath"),
    "Parallel": (*_IO, "Next", "End", "Branches", "Parameters", "ResultSelector", "ResultPath", "Arguments",
                 "Output", "Assign", "Retry", "Catch"),
    "Map": (*_IO, "Next", "End", "ItemProcessor", "Iterator", "ItemsPath", "Items", "ItemSelector",
            "Parameters", "ItemReader", "ItemBatcher", "ResultWriter", "MaxConcurrency", "MaxConcurrencyPath",
            "ToleratedFailureCount", "ToleratedFailureCountPath", "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath", "Label", "ResultSelector", "ResultPath", "Output", "Assign",
            "Retry", "Catch"),
}
TRANSITION_TYPES = frozenset({"Pass", "Task", "Wait", "Parallel", "Map"})  # exactly one of Next/End
TERMINAL_TYPES = frozenset({"Succeed", "Fail"})

_EXCLUSIVE = (
    ("Next", "End"),
    ("TimeoutSeconds", "TimeoutSecondsPath"),
    ("HeartbeatSeconds", "HeartbeatSecondsPath"),
    ("Seconds", "SecondsPath", "Timestamp", "TimestampPath"),
    ("Error", "ErrorPath"),
    ("Cause", "CausePath"),
    ("ItemProcessor", "Iterator"),
    ("ItemSelector", "Parameters"),
    ("MaxConcurrency", "MaxConcurrencyPath"),
    ("ToleratedFailureCount", "ToleratedFailureCountPath"),
    ("ToleratedFailurePercentage", "ToleratedFailurePercentagePath"),
)
_REQUIRED = {"Task": ("Resource",), "Choice": ("Choices",), "Parallel": ("Branches",)}
_ONE_OF = {
    "Wait": (("Seconds", "SecondsPath", "Timestamp", "TimestampPath"),),
    "Map": (("ItemProcessor", "Iterator"),),
}


def _state_shape(state_type: str) -> Shape:
    names = ("Type", "Comment", "QueryLanguage", *STATE_FIELDS[state_type])
    return Shape(
        {name: FIELD_CHECKS[name] for name in names},
        required=_REQUIRED.get(state_type, ()),
        exclusive=tuple(group for group in _EXCLUSIVE if sum(name in names for name in group) > 1),
        one_of=_ONE_OF.get(state_type, ()),
        list_required=True,
    )


STATE_SHAPES: Mapping[str, Shape] = {state_type: _state_shape(state_type) for state_type in STATE_FIELDS}

_MACHINE_FIELDS = {"StartAt": state_reference, "States": any_value, "Comment": string}
MACHINE_SHAPES: Mapping[str, Shape] = {
    "root": Shape({**_MACHINE_FIELDS, "Version": string, "TimeoutSeconds": integer(1),
                   "QueryLanguage": enum(JSONPATH, JSONATA)},
                  required=("States", "StartAt"), list_required=True),
    "branch": Shape({**_MACHINE_FIELDS, "QueryLanguage": enum(JSONPATH, JSONATA)},
                    required=("States", "StartAt"), list_required=True),
    "processor": Shape({**_MACHINE_FIELDS, "ProcessorConfig": processor_config},
                       required=("States", "StartAt"), list_required=True),
}


def _effective_language(declared: Any, inherited: str) -> str:
    if declared is None:
        return inherited
    return JSONPATH if declared == JSONPATH else JSONATA


def _check_state(walk: Walk, state: Any, path: str) -> Iterator[Problem]:
    if not isinstance(state, dict):
        yield type_problem(path, "OBJECT")
        return
    state_type = state.get("Type")
    if "Type" not in state:
        yield schema_problem(path, "These fields are required: [Type]")
        return
    if not isinstance(state_type, str) or state_type not in STATE_SHAPES:
        yield schema_problem(child_path(path, "Type"),
                      f"Value is not one of the allowed values: [{', '.join(STATE_SHAPES)}]")
        return
    declared = state.get("QueryLanguage")
    if walk.machine_language == JSONATA and declared == JSONPATH:
        yield schema_problem(path, "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' "
                      "for whole state machine")
    outer, walk.language = walk.language, _effective_language(declared, walk.machine_language)
    try:
        yield from check_shape(STATE_SHAPES[state_type], walk, state, path)
        yield from _state_rules(walk, state_type, state, path)
    finally:
        walk.language = outer


def _state_rules(walk: Walk, state_type: str, state: dict, path: str) -> Iterator[Problem]:
    """What a field table cannot say: rules across fields of one state."""
    if state_type in TRANSITION_TYPES and "Next" not in state and state.get("End") is not True:
        yield schema_problem(path, "One of the following fields is required: [Next, End]")
    timeout, heartbeat = state.get("TimeoutSeconds"), state.get("HeartbeatSeconds")
    if is_integer(timeout) and is_integer(heartbeat) and heartbeat >= timeout:
        yield schema_problem(child_path(path, "HeartbeatSeconds"),
                      "HeartbeatSeconds must be smaller than TimeoutSeconds")
    if state_type == "Pass" and walk.language == JSONPATH:
        yield from _static_result(state.get("Result"), child_path(path, "Result"))
    if state_type == "Map":
        for key in ("ItemProcessor", "Iterator"):
            if isinstance(state.get(key), dict) and "QueryLanguage" in state[key]:
                yield schema_problem(child_path(path, key), "Field 'QueryLanguage' is not supported")


def _static_result(value: Any, path: str) -> Iterator[Problem]:
    """A Pass Result is copied as is: a path inside it is never evaluated (AWS warns)."""
    if isinstance(value, str) and value.startswith("$."):
        yield Problem(path, PASS_RESULT_IS_STATIC, "The Result field of a Pass state is static: "
                      f"'{value}' is not evaluated as a path", WARNING)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _static_result(item, child_path(path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _static_result(item, item_path(path, index))


# --- machines and their graphs ---------------------------------------------------------------------


def _transitions(state: Any, path: str) -> Iterator[tuple[str, str]]:
    """(target state name, location of the field naming it) for every transition out of a state."""
    if not isinstance(state, dict):
        return
    for key in ("Next", "Default"):
        if isinstance(state.get(key), str):
            yield state[key], child_path(path, key)
    for key in ("Choices", "Catch"):
        rules = state.get(key)
        if isinstance(rules, list):
            for index, rule in enumerate(rules):
                if isinstance(rule, dict) and isinstance(rule.get("Next"), str):
                    yield rule["Next"], child_path(item_path(child_path(path, key), index), "Next")


def _is_terminal(state: Any) -> bool:
    if not isinstance(state, dict):
        return False
    state_type = state.get("Type")
    return state.get("End") is True or (isinstance(state_type, str) and state_type in TERMINAL_TYPES)


def _check_machine(walk: Walk, machine: Any, path: str, shape: Shape) -> Iterator[Problem]:
    yield from check_shape(shape, walk, machine, path)
    if not isinstance(machine, dict) or "States" not in machine:
        return
    states, states_path = machine["States"], child_path(path, "States")
    if not isinstance(states, dict):
        yield type_problem(states_path, "OBJECT")
        return
    if not states:
        yield schema_problem(states_path, "States must contain at least one state")
        return
    for name in getattr(states, "duplicate_keys", ()):
        yield Problem(child_path(states_path, name), DUPLICATE_STATE_NAME, f"Duplicate State name: {name}")
    for name, state in states.items():
        state_path = child_path(states_path, name)
        if not name or len(name) > MAX_STATE_NAME_LENGTH:
            yield Problem(state_path, INVALID_STATE_NAME,
                          f"State name must be between 1 and {MAX_STATE_NAME_LENGTH} characters long")
        if name in walk.state_names:
            yield Problem(state_path, DUPLICATE_STATE_NAME, f"Duplicate State name: {name}")
        else:
            walk.state_names[name] = state_path
        yield from _check_state(walk, state, state_path)
    yield from _graph_problems(machine.get("StartAt"), states, path, states_path)


def _graph_problems(start_at: Any, states: dict, path: str, states_path: str) -> Iterator[Problem]:
    edges = {name: list(_transitions(state, child_path(states_path, name))) for name, state in states.items()}
    entry = [(start_at, child_path(path, "StartAt"))] if isinstance(start_at, str) else []
    for target, where in entry + [edge for targets in edges.values() for edge in targets]:
        if target not in states:
            yield Problem(where, MISSING_TRANSITION_TARGET, f"Missing 'Next' target: {target}")
    if not any(_is_terminal(state) for state in states.values()):
        # AWS gives no location for the top-level machine; a nested one is named by its container.
        yield Problem(None if path == "/" else path, MISSING_END_STATE, "Workflow has no terminal state")
        return
    if not isinstance(start_at, str) or start_at not in states:
        return
    reached, frontier = {start_at}, [start_at]
    while frontier:
        for target, _ in edges[frontier.pop()]:
            if target in states and target not in reached:
                reached.add(target)
                frontier.append(target)
    for name in states:
        if name not in reached:
            yield Problem(child_path(states_path, name), MISSING_TRANSITION_TARGET,
                          f'State "{name}" is not reachable.')


# --- entry point -----------------------------------------------------------------------------------


class _DuplicateAwareDict(dict):
    """A JSON object that remembers keys the text repeated (json keeps only the last one)."""

    duplicate_keys: tuple[str, ...] = ()


def _object_pairs(pairs: list[tuple[str, Any]]) -> dict:
    result = _DuplicateAwareDict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        result.duplicate_keys = tuple(key for key, _ in pairs if key in seen or seen.add(key))
    return result


def iter_problems(definition: Any, *, state_machine_type: str = "STANDARD") -> Iterator[Problem]:
    """Every problem of `definition`: a parsed JSON value, or the JSON text AWS would receive.

    `state_machine_type` ("STANDARD" or "EXPRESS") matters for what Express machines cannot do.
    """
    if definition is None or (isinstance(definition, str) and not definition.strip()):
        yield Problem(None, MISSING_DESCRIPTION, "Received a null or empty workflow input")
        return
    if isinstance(definition, (str, bytes)):
        try:  # strictly, as AWS reads it: no NaN, no 1e400, no lone surrogate, nesting limited
            definition = jsontext.loads(definition, object_pairs_hook=_object_pairs)
        except jsontext.JsonTextError as exc:
            yield Problem(None, INVALID_JSON_DESCRIPTION, str(exc))
            return
    if not isinstance(definition, dict):
        yield type_problem("/", "OBJECT")
        return
    walk = Walk(_effective_language(definition.get("QueryLanguage"), JSONPATH), state_machine_type)
    walk.language = walk.machine_language
    try:
        yield from _check_machine(walk, definition, "/", MACHINE_SHAPES["root"])
    except RecursionError:  # a parsed value passed in, nested past what the text reader would take
        yield Problem(None, SCHEMA_VALIDATION_FAILED,
                      f"The definition is nested too deeply (at most {jsontext.MAX_DEPTH} levels)")
