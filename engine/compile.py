"""Definition → compiled machine, once. Paths, templates, choice rules and retriers are compiled here
so that running a state never parses a string.

A compiled `Machine` is immutable and can be shared by any number of executions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine import jsonata as jsonata_support
from engine.errors import StatesError
from engine.limits import PayloadSizer
from engine.paths import Path, compile_path
from engine.payload import compile_field, compile_template, compile_template_bound
from engine.problems import format_invalid_definition
from engine.validate import iter_problems

JSONPATH, JSONATA = "JSONPath", "JSONata"

# `InputPath`/`OutputPath`: absent means "$"; JSON null means "the empty object" (spec).
DEFAULT = object()


class InvalidDefinition(ValueError):
    """The definition is not valid ASL. `problems` lists every problem with its location."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__(format_invalid_definition(self.problems))


@dataclass(slots=True, frozen=True)
class Retrier:
    error_equals: tuple[str, ...]
    interval_seconds: float = 1
    max_attempts: int = 3
    backoff_rate: float = 2.0
    max_delay_seconds: float | None = None
    jitter_full: bool = False


@dataclass(slots=True, frozen=True)
class Catcher:
    error_equals: tuple[str, ...]
    next: str
    result_path: Any = DEFAULT  # Path | None | DEFAULT (JSONPath)
    output: Any = None  # JSONata evaluator
    assign: Any = None


@dataclass(slots=True)
class State:
    """One compiled state. Fields a state type does not use stay None."""

    name: str
    type: str
    raw: dict
    language: str = JSONPATH
    next: str | None = None
    end: bool = False
    # JSONPath I/O pipeline
    input_path: Any = DEFAULT
    parameters: Any = None
    parameters_bound: Any = None  # payload.Bound of the Parameters template
    result_selector: Any = None
    result_path: Any = DEFAULT
    output_path: Any = DEFAULT
    # JSONata I/O
    arguments: Any = None
    output: Any = None
    assign: Any = None
    # Pass
    has_result: bool = False
    result: Any = None
    result_size: int = 0
    # Task
    resource: str | None = None
    timeout_seconds: Any = None
    heartbeat_seconds: Any = None
    # Choice
    choices: tuple = ()
    default: str | None = None
    # Wait
    wait: Any = None
    # Fail
    error: Any = None
    cause: Any = None
    # Parallel / Map
    branches: tuple = ()
    processor: Machine | None = None
    items: Any = None
    item_selector: Any = None
    max_concurrency: Any = 0
    tolerated_count: Any = None
    tolerated_percentage: Any = None
    item_batcher: Any = None
    label: str | None = None
    distributed: bool = False
    # Errors
    retriers: tuple[Retrier, ...] = ()
    catchers: tuple[Catcher, ...] = ()
    extra: dict = field(default_factory=dict)


@dataclass(slots=True)
class Machine:
    """A compiled (sub-)machine: the top level, a Parallel branch or a Map's ItemProcessor."""

    start_at: str
    states: dict[str, State]
    language: str = JSONPATH
    timeout_seconds: int | None = None
    definition: dict | None = None
    # A Distributed Map's iterations are child executions: they cannot read the parent's variables.
    reads_outer_variables: bool = True
    # key → (sub-)machine, so frames and snapshots can name what they run (interpreter.machine_registry)
    registry: dict | None = field(default=None, repr=False, compare=False)


def compile_definition(definition: dict, validate: bool = True, machine_type: str = "STANDARD") -> Machine:
    """Validate (unless told not to) and compile a whole state machine definition.

    `machine_type` matters for validation: Express machines cannot wait for task tokens or `.sync` jobs.
    """
    if validate:
        problems = [p for p in iter_problems(definition, state_machine_type=machine_type)
                    if p.severity == "ERROR"]
        if problems:
            raise InvalidDefinition(problems)
    machine = _machine(definition, definition.get("QueryLanguage", JSONPATH))
    machine.timeout_seconds = definition.get("TimeoutSeconds")
    machine.definition = definition
    return machine


def _machine(spec: dict, inherited_language: str) -> Machine:
    language = spec.get("QueryLanguage", inherited_language)
    states = {name: _state(name, raw, language) for name, raw in spec["States"].items()}
    return Machine(spec["StartAt"], states, language, definition=spec)


def _optional_path(raw: dict, key: str) -> Any:
    if key not in raw:
        return DEFAULT
    value = raw[key]
    return None if value is None else compile_path(value)


def _retrier(raw: dict) -> Retrier:
    return Retrier(
        error_equals=tuple(raw["ErrorEquals"]),
        interval_seconds=raw.get("IntervalSeconds", 1),
        max_attempts=raw.get("MaxAttempts", 3),
        backoff_rate=raw.get("BackoffRate", 2.0),
        max_delay_seconds=raw.get("MaxDelaySeconds"),
        jitter_full=raw.get("JitterStrategy", "NONE") == "FULL",
    )


def _catcher(raw: dict, language: str, index: int = 0) -> Catcher:
    if language == JSONATA:
        field = f"Catch[{index}]"
        return Catcher(
            tuple(raw["ErrorEquals"]),
            raw["Next"],
            output=jsonata_support.compile_value(raw["Output"], f"{field}/Output")
            if "Output" in raw else None,
            assign=jsonata_support.compile_assign(raw["Assign"], JSONATA, f"{field}/Assign")
            if "Assign" in raw else None,
        )
    return Catcher(
        tuple(raw["ErrorEquals"]),
        raw["Next"],
        result_path=_optional_path(raw, "ResultPath"),
        assign=jsonata_support.compile_assign(raw["Assign"], JSONPATH) if "Assign" in raw else None,
    )


def number_field(raw: dict, key: str, language: str) -> Any:
    """A field given as a number, a `…Path` (JSONPath) or a `{% %}` expression (JSONata).

    Returns None, a number, or a ("path", Path) / ("jsonata", evaluator) pair resolved at run time.
    """
    if key in raw:
        value = raw[key]
        if language == JSONATA and jsonata_support.is_expression(value):
            return ("jsonata", jsonata_support.compile_value(value, key), key)
        return value
    if key + "Path" in raw:
        return ("path", compile_path(raw[key + "Path"]), key + "Path")
    return None


def _state(name: str, raw: dict, inherited_language: str) -> State:
    language = raw.get("QueryLanguage", inherited_language)
    state = State(name=name, type=raw["Type"], raw=raw, language=language)
    state.next = raw.get("Next")
    state.end = bool(raw.get("End", False))
    if language == JSONPATH:
        state.input_path = _optional_path(raw, "InputPath")
        state.output_path = _optional_path(raw, "OutputPath")
        state.result_path = _optional_path(raw, "ResultPath")
        if "Parameters" in raw and state.type != "Map":
            state.parameters = compile_template(raw["Parameters"])
            state.parameters_bound = compile_template_bound(raw["Parameters"])
        if "ResultSelector" in raw:
            state.result_selector = compile_template(raw["ResultSelector"])
    else:
        if "Arguments" in raw:
            state.arguments = jsonata_support.compile_value(raw["Arguments"], "Arguments")
        if "Output" in raw:
            state.output = jsonata_support.compile_value(raw["Output"], "Output")
    if "Assign" in raw:
        state.assign = jsonata_support.compile_assign(raw["Assign"], language)
    state.retriers = tuple(_retrier(r) for r in raw.get("Retry", ()))
    state.catchers = tuple(_catcher(c, language, i) for i, c in enumerate(raw.get("Catch", ())))
    COMPILERS[state.type](state, raw, language)
    return state


def _compile_pass(state: State, raw: dict, language: str) -> None:
    if "Result" in raw:
        state.has_result = True
        state.result = raw["Result"]
        state.result_size = PayloadSizer().size(raw["Result"])


def _compile_task(state: State, raw: dict, language: str) -> None:
    state.resource = raw["Resource"]
    state.timeout_seconds = number_field(raw, "TimeoutSeconds", language)
    state.heartbeat_seconds = number_field(raw, "HeartbeatSeconds", language)


def _compile_choice(state: State, raw: dict, language: str) -> None:
    from engine.choice import compile_choice_rule

    choices = []
    for index, rule in enumerate(raw.get("Choices", ())):
        field = f"Choices[{index}]"
        if language == JSONATA:
            test = jsonata_support.compile_condition(rule["Condition"], f"{field}/Condition")
        else:
            test = compile_choice_rule(rule)
        assign = jsonata_support.compile_assign(rule["Assign"], language, f"{field}/Assign") \
            if "Assign" in rule else None
        output = jsonata_support.compile_value(rule["Output"], f"{field}/Output") \
            if "Output" in rule else None
        choices.append((test, rule["Next"], assign, output))
    state.choices = tuple(choices)
    state.default = raw.get("Default")


def _compile_wait(state: State, raw: dict, language: str) -> None:
    for key in ("Seconds", "Timestamp"):
        if key in raw:
            value = raw[key]
            if language == JSONATA and jsonata_support.is_expression(value):
                state.wait = (key, "jsonata", jsonata_support.compile_value(value, key))
            else:
                state.wait = (key, "value", value)
        elif key + "Path" in raw:
            state.wait = (key, "path", compile_path(raw[key + "Path"]))


def _compile_fail(state: State, raw: dict, language: str) -> None:
    for key in ("Error", "Cause"):
        if key in raw:
            value = raw[key]
            if language == JSONATA and jsonata_support.is_expression(value):
                compiled = ("jsonata", jsonata_support.compile_value(value, key))
            else:
                compiled = ("value", value)
        elif key + "Path" in raw:
            # AWS takes a reference path or a string-valued intrinsic here (States.Format(...), ...),
            # read and reported as a Parameters field named ErrorPath/CausePath is.
            compiled = ("path", compile_field(key + "Path", raw[key + "Path"]))
        else:
            compiled = None
        setattr(state, key.lower(), compiled)


def _compile_nothing(state: State, raw: dict, language: str) -> None:
    pass


def _compile_parallel(state: State, raw: dict, language: str) -> None:
    state.branches = tuple(_machine(branch, language) for branch in raw["Branches"])


def _compile_map(state: State, raw: dict, language: str) -> None:
    processor = raw.get("ItemProcessor") or raw.get("Iterator")
    state.processor = _machine(processor, language)
    config = processor.get("ProcessorConfig") or {}
    state.distributed = config.get("Mode") == "DISTRIBUTED"
    state.processor.reads_outer_variables = not state.distributed
    state.label = raw.get("Label")
    if language == JSONPATH:
        state.items = compile_path(raw["ItemsPath"]) if raw.get("ItemsPath") is not None else None
        # Before ItemSelector existed, a Map's Parameters did the same job.
        selector = raw.get("ItemSelector", raw.get("Parameters"))
        if selector is not None:
            state.item_selector = compile_template(selector)
    else:
        if "Items" in raw:
            state.items = jsonata_support.compile_value(raw["Items"], "Items")
        if "ItemSelector" in raw:
            state.item_selector = jsonata_support.compile_value(raw["ItemSelector"], "ItemSelector")
    state.max_concurrency = number_field(raw, "MaxConcurrency", language) or 0
    state.tolerated_count = number_field(raw, "ToleratedFailureCount", language)
    state.tolerated_percentage = number_field(raw, "ToleratedFailurePercentage", language)
    state.item_batcher = raw.get("ItemBatcher")


COMPILERS = {
    "Pass": _compile_pass,
    "Task": _compile_task,
    "Choice": _compile_choice,
    "Wait": _compile_wait,
    "Succeed": _compile_nothing,
    "Fail": _compile_fail,
    "Parallel": _compile_parallel,
    "Map": _compile_map,
}

__all__ = ["Machine", "State", "Retrier", "Catcher", "InvalidDefinition", "compile_definition",
           "StatesError", "Path", "DEFAULT", "JSONPATH", "JSONATA"]
