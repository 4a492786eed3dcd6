"""Static validation of an Amazon States Language definition, as CreateStateMachine and
ValidateStateMachineDefinition judge it: `iter_problems(definition)` yields every `Problem` found.

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

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine import choice, jsontext
from engine import jsonata as jsonata_support
from engine.errors import ALL
from engine.integrations import integration, not_recognized
from engine.intrinsics import InvalidIntrinsic, compile_intrinsic
from engine.paths import CONTEXT, INPUT, VARIABLE, InvalidPath, compile_path

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


def _child(path: str, key: str) -> str:
    return ("" if path == "/" else path) + "/" + key


def _item(path: str, index: int) -> str:
    return f"{path}[{index}]"


# --- the walk's state ------------------------------------------------------------------------------


@dataclass
class _Walk:
    machine_language: str
    state_machine_type: str
    language: str = JSONPATH  # of the state being checked
    state_names: dict[str, str] = field(default_factory=dict)  # name -> location of its first use

    def is_expression(self, value: Any) -> bool:
        return self.language == JSONATA and _is_expression(value)


Check = Callable[[_Walk, Any, str], Iterator[Problem]]


def _schema(path: str | None, message: str) -> Problem:
    return Problem(path, SCHEMA_VALIDATION_FAILED, message)


def _type_error(path: str, type_name: str) -> Problem:
    return _schema(path, f"Expected value of type: {type_name}")


def _is_expression(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("{%") and value.endswith("%}")


def _is_integer(value: Any) -> bool:
    # A JSON 5.0 is a float in Python; AWS reads it as an integer as well.
    return type(value) is int or (type(value) is float and value.is_integer())


def _is_number(value: Any) -> bool:
    return type(value) is int or type(value) is float


@functools.lru_cache(maxsize=512)
def _jsonata_error(expression: str) -> str | None:
    """The parser's message for a `{% %}` string that does not parse, else None."""
    try:
        # Compiled once: the engine's compiler reuses what validation parsed (jsonata.parse is cached).
        jsonata_support.parse(jsonata_support.expression_text(expression))
    except jsonata_support.InvalidExpression as exc:
        # jsonatapy says "Parse error: S0202: Expected ..."; AWS quotes the message only.
        return re.sub(r"^(Parse error:\s*)?(S\d{4}:\s*)?", "", exc.message)
    return None


def _expression(walk: _Walk, value: str, path: str) -> Iterator[Problem]:
    message = _jsonata_error(value)
    if message is not None:
        yield Problem(path, INVALID_JSONATA_EXPRESSION, message)
        return
    for name in top_level_references(value[2:-2]):
        yield Problem(path, UNSUPPORTED_JSONATA_EXPRESSION,
                      f"Reference to '{name}' at the top level is not supported.")
    in_catcher = _CATCHER_FIELD.search(path) is not None
    for message in unsupported_states_references(value[2:-2], in_catcher):
        yield Problem(path, UNSUPPORTED_JSONATA_EXPRESSION, message)


# `$states.errorOutput` exists only in a Catch entry's own Output and Assign.
_CATCHER_FIELD = re.compile(r"/Catch\[\d+\]/(Output|Assign)(?:/|\[|$)")


def unsupported_states_references(source: str, in_catcher: bool) -> list[str]:
    """`$$` (JSONata states have no context path: `$states.context` replaces it) and
    `$states.errorOutput` outside a catcher, both refused by AWS when the definition is created."""
    messages: list[str] = []
    tokens = [t.group() for t in _JSONATA_TOKEN.finditer(source) if not t.group().isspace()]
    for index, token in enumerate(tokens):
        if token.startswith("$$"):
            message = "Reference to '$$' is not supported."
        elif token == "$states" and tokens[index + 1:index + 3] == [".", "errorOutput"] and not in_catcher:
            message = "Reference to '$states.errorOutput' is not supported outside of a Catch."
        else:
            continue
        if message not in messages:
            messages.append(message)
    return messages


# A JSONata token: a string, a backquoted name, a number, a variable, a name, or one punctuation mark
# (two-character operators do not matter here, regular expressions are skipped after the fact).
_JSONATA_TOKEN = re.compile(
    r"""\s+|/\*.*?\*/|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?"""
    r"""|\$\$?\w*|[^\W\d]\w*|.""",
    re.DOTALL,
)
_OPERATOR_WORDS = frozenset({"and", "or", "in"})
_LITERAL_WORDS = frozenset({"true", "false", "null", "function", "λ"})


def top_level_references(source: str) -> list[str]:
    """Names read from the context item at the top of a JSONata expression (`{% phone %}`).

    AWS evaluates every expression without a context item, so such a name can only mean a
    forgotten `$states.input.`: AWS refuses the definition (UNSUPPORTED_JSONATA_EXPRESSION).
    A name is top-level unless it is a path step (after `.`) or inside something that moves the
    context: a predicate or group-by after an operand (`x[price > 1]`, `x{k: v}`), a sort
    (`^(...)`), a step in parentheses (`.(...)`), or a function body. Where unsure, a name is
    not reported.
    """
    names: list[str] = []
    stack: list[bool] = []  # for each open bracket: does its inside still see the top context?
    top, previous = True, ""
    position = 0
    for match in _JSONATA_TOKEN.finditer(source):
        token = match.group()
        if match.start() < position or token.isspace() or token.startswith("/*"):
            continue
        follows_operand = bool(previous) and previous not in _OPERATOR_WORDS and (
            previous[0].isalnum() or previous[0] in "$'\"`_)]}")
        if token == "/" and not follows_operand:  # a regular expression literal: skip to its end
            end = re.compile(r"(?:[^/\\]|\\.)*/[a-z]*").match(source, match.end())
            position = end.end() if end else len(source)
            previous = ")"
            continue
        if token in "([{":
            moves = (token != "(" and follows_operand) or (token == "(" and previous in (".", "^"))
            stack.append(top)
            top = top and not moves
        elif token in ")]}":
            top = stack.pop() if stack else True
        elif (top and (token[0].isalpha() or token[0] in "_`") and previous != "."
              and token not in _OPERATOR_WORDS | _LITERAL_WORDS):
            name = token.strip("`")
            if name not in names:
                names.append(name)
        previous = token
    return names


# --- value checks: each returns a Check ------------------------------------------------------------


def _any(walk: _Walk, value: Any, path: str) -> Iterator[Problem]:
    return iter(())


def string(walk: _Walk, value: Any, path: str) -> Iterator[Problem]:
    if walk.is_expression(value):
        yield from _expression(walk, value, path)
    elif not isinstance(value, str):
        yield _type_error(path, "STRING")


def boolean(walk: _Walk, value: Any, path: str) -> Iterator[Problem]:
    if type(value) is not bool:
        yield _type_error(path, "BOOLEAN")


def integer(minimum: int, maximum: int | None = None) -> Check:
    def check(walk: _Walk, value: Any, path: str) -> Iterator[Problem]:
        if walk.is_expression(value):
            yield from _expression(walk, value, path)
        elif not _is_integer(value):
            yield _type_error(path, "INTEGER")
        elif value < minimum:
            yield _schema(path, f"Minimum value is {minimum}")
        elif maximum is not None and value > maximum:
            yield _schema(path, f"Maximum value is {maximum}")

    return check


def number(minimum: float, maximum: float | None = None) -> Check:
    def check(walk: _Walk, value: Any, path: str) -> Iterator[Problem]:
        if walk.is_expression(value):
            yield from _expression(walk, value, path)
        elif not _is_number(value):
            yield _type_error(path, "NUMBER")
        elif value < minimum:
            yield _schema(path, f"Minimum value is {float(minimum)}")
        elif maximum is not None and value > maximum:
            yield _schema(path, f"Maximum value is {float(maximum)}")

    return check


def enum(*allowed: str) -> Check:
    def check(walk: _Walk, value: Any, path: str) -> Iterator[Problem]:
        if value not in allowed:
            yield _schema(path, f"Value is not one of the allowed values: [{', '.join(allowed)}]")

    return check


def timestamp(walk: _Walk, value: Any, path: str) -> Iterator[Problem]:
    if walk.is_expression(value):
        yield from _expression(walk, value, path)
    elif not isinstance(value, str):
        yield _type_error(path, "STRING")
    elif not choice.is_timestamp(value):
        yield _schema(path, "String does not match RFC3339 timestamp")


ANY_ROOT = frozenset({INPUT, CONTEXT, VARIABLE})
INPUT_ONLY = frozenset({INPUT})
NOT_CONTEXT = frozenset({INPUT, VARIABLE})


def _compile(text: Any):
    try:
        return compile_path(text)
    except (InvalidPath, TypeError):
        return None


def path_check(*, nullable: bool = False, reference: bool = False, roots: frozenset = ANY_ROOT,
               intrinsic: bool = False) -> Check:
    """A JSONPath-valued field. A `reference` path selects one node by keys and indexes only; `roots`
    says which of the input (`$`), the context object (`$$`) and variables (`$name`) it may start from."""

    def check(walk: _Walk, value: Any, path: str) -> Iterator[Problem]:
        if value is None and nullable:
            return
        if not isinstance(value, str):
            yield _type_error(path, "STRING")
            return
        if intrinsic and _is_intrinsic_call(value):
            yield from _intrinsic(value, path)
            return
        compiled = _compile(value)
        if compiled is None:
            name = path.rsplit("/", 1)[-1]
            suffix = " or a valid intrinsic function call" if intrinsic else ""
            yield _schema(path, f"The value for the field '{name}' must be a valid JSONPath{suffix}")
        elif reference and (compiled.indefinite or compiled.root not in roots):
            yield _schema(path, "Value is not a Reference Path")

    return check


# A Fail state's ErrorPath/CausePath must come out as a string: AWS's Fail state page lists the
# intrinsics allowed there, and the field is otherwise a reference path.
FAIL_PATH_INTRINSICS = frozenset({"States.Format", "States.JsonToString", "States.ArrayGetItem",
                                  "States.Base64Encode", "States.Base64Decode", "States.Hash", "States.UUID"})


def fail_path_check(walk: _Walk, value: Any, path: str) -> Iterator[Problem]:
    if isinstance(value, str) and _is_intrinsic_call(value):
        problems = list(_intrinsic(value, path))
        if not problems and value.split("(", 1)[0].strip() not in FAIL_PATH_INTRINSICS:
            name = path.rsplit("/", 1)[-1]
            yield _schema(path, f"The value for the field '{name}' must be a valid JSONPath or a valid "
                                "intrinsic function call")
            return
    yield from _FAIL_REFERENCE(walk, value, path)


def _is_intrinsic_call(text: str) -> bool:
    return text.startswith("States.")


def _intrinsic(text: str, path: str) -> Iterator[Problem]:
    try:
        compile_intrinsic(text)
    except InvalidIntrinsic as exc:
        yield _schema(path, str(exc))


_PAYLOAD_REFERENCE = path_check(intrinsic=True)
_FAIL_REFERENCE = path_check(intrinsic=True, reference=True)


def jsonpath_template(walk: _Walk, value: Any, path: str) -> Iterator[Problem]:
    """Parameters, ResultSelector, ItemSelector, ...: keys ending in `.$` hold a path or an intrinsic."""
    if isinstance(value, dict):
        for key, item in value.items():
            where = _child(path, key)
            if key.endswith(".$"):
                yield from _PAYLOAD_REFERENCE(walk, item, where)
            elif isinstance(item, str) and (item.startswith("$.") or _is_intrinsic_call(item)):
                yield Problem(where, NO_DOLLAR, f"The value of field '{key}' looks like a JSONPath or an "
                              "intrinsic function, but the field name does not end with '.$'", WARNING)
            else:
                yield from jsonpath_template(walk, item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from jsonpath_template(walk, item, _item(path, index))


def jsonata_value(walk: _Walk, value: Any, path: str) -> Iterator[Problem]:
    """Arguments, Output, Items, ...: any JSON, in which every `{% %}` string must parse."""
    if _is_expression(value):
        yield from _expression(walk, value, path)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from jsonata_value(walk, item, _child(path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from jsonata_value(walk, item, _item(path, index))


def template(walk: _Walk, value: Any, path: str) -> Iterator[Problem]:
    """A field both languages share (ItemSelector): its values follow the state's language."""
    check = jsonata_value if walk.language == JSONATA else jsonpath_template
    yield from check(walk, value, path)


_VARIABLE_NAME = re.compile(r"[^\W\d]\w*")
_RESERVED_VARIABLES = frozenset({"states"})


def assign(walk: _Walk, value: Any, path: str) -> Iterator[Problem]:
    if not isinstance(value, dict):
        yield _type_error(path, "OBJECT")
        return
    for key in value:
        name = key[:-2] if walk.language == JSONPATH and key.endswith(".$") else key
        if not _VARIABLE_NAME.fullmatch(name) or len(name) > MAX_VARIABLE_NAME_LENGTH:
            yield _schema(_child(path, key), f"The variable name '{name}' is not valid")
        elif name in _RESERVED_VARIABLES:
            yield _schema(_child(path, key), f"The variable name '{name}' is reserved")
    yield from template(walk, value, path)


def jsonata_or(check: Check) -> Check:
    """A field that takes an expression in JSONata states, and `check`'s kind of literal otherwise."""

    def either(walk: _Walk, value: Any, path: str) -> Iterator[Problem]:
        if walk.is_expression(value):
            yield from _expression(walk, value, path)
        else:
            yield from check(walk, value, path)

    return either


def array_of(item_check: Check, *, non_empty: bool = True) -> Check:
    def check(walk: _Walk, value: Any, path: str) -> Iterator[Problem]:
        if not isinstance(value, list):
            yield _type_error(path, "ARRAY")
            return
        if non_empty and not value:
            yield _schema(path, "Array must contain at least 1 item")
        for index, item in enumerate(value):
            yield from item_check(walk, item, _item(path, index))

    return check


def error_names(walk: _Walk, value: Any, path: str) -> Iterator[Problem]:
    yield from array_of(string)(walk, value, path)
    if isinstance(value, list) and ALL in value and len(value) > 1:
        yield _schema(path, f"'{ALL}' must appear alone in ErrorEquals")


# --- object shapes ---------------------------------------------------------------------------------

# Fields that only the JSONPath query language has; every field named "...Path" belongs here too.
JSONPATH_ONLY = frozenset({"Parameters", "ResultSelector", "Result", "Variable", "And", "Or", "Not",
                           *choice.DATA_TEST_OPERATORS})
JSONATA_ONLY = frozenset({"Arguments", "Output", "Items", "Condition"})


def _language_of(name: str) -> str | None:
    if name in JSONATA_ONLY:
        return JSONATA
    if name in JSONPATH_ONLY or name.endswith("Path"):
        return JSONPATH
    return None


@dataclass(frozen=True)
class Shape:
    """An object's fields and their checks. `required` lists fields it must have (reported together
    when `list_required`, the way AWS reports the machine's); `exclusive` groups fields of which at
    most one may appear; `one_of` groups of which at least one must (with `exclusive`: exactly one)."""

    fields: Mapping[str, Check]
    required: tuple[str, ...] = ()
    exclusive: tuple[tuple[str, ...], ...] = ()
    one_of: tuple[tuple[str, ...], ...] = ()
    list_required: bool = False


def check_shape(shape: Shape, walk: _Walk, value: Any, path: str) -> Iterator[Problem]:
    if not isinstance(value, dict):
        yield _type_error(path, "OBJECT")
        return
    missing = [name for name in shape.required if name not in value]
    if missing and shape.list_required:
        yield _schema(path, f"These fields are required: [{', '.join(missing)}]")
    else:
        for name in missing:
            yield _schema(path, f"The field '{name}' is required but was missing")
    for group in shape.exclusive:
        present = [name for name in group if name in value]
        if len(present) > 1:
            yield _schema(path, f"There should only be one of the following fields: [{', '.join(group)}]")
    for group in shape.one_of:
        if not any(name in value for name in group):
            yield _schema(path, f"One of the following fields is required: [{', '.join(group)}]")
    for name, item in value.items():
        check = shape.fields.get(name)
        language = _language_of(name)
        if check is None:
            yield _schema(path, f"Field '{name}' is not supported")
        elif language is not None and language != walk.language:
            yield _schema(path, f"The QueryLanguage is set to '{walk.language}', but field '{name}' is only "
                          f"supported for the '{language}' QueryLanguage")
        else:
            yield from check(walk, item, _child(path, name))


def shape_check(shape: Shape) -> Check:
    return functools.partial(check_shape, shape)


def state_reference(walk: _Walk, value: Any, path: str) -> Iterator[Problem]:
    """Next, Default, StartAt: a state name. Whether the state exists is a graph check."""
    if not isinstance(value, str):
        yield _type_error(path, "STRING")


RETRIER = Shape(
    {
        "ErrorEquals": error_names,
        "IntervalSeconds": integer(1),
        "MaxAttempts": integer(0),
        "BackoffRate": number(1.0),
        "MaxDelaySeconds": integer(1),
        "JitterStrategy": enum("FULL", "NONE"),
        "Comment": string,
    },
    required=("ErrorEquals",),
)
CATCHER = Shape(
    {
        "ErrorEquals": error_names,
        "Next": state_reference,
        "ResultPath": path_check(nullable=True, reference=True, roots=INPUT_ONLY),
        "Output": jsonata_value,
        "Assign": assign,
        "Comment": string,
    },
    required=("ErrorEquals", "Next"),
)


def error_handlers(shape: Shape) -> Check:
    """Retry and Catch: `States.ALL` may only appear in the last rule."""

    def check(walk: _Walk, value: Any, path: str) -> Iterator[Problem]:
        yield from array_of(shape_check(shape), non_empty=False)(walk, value, path)
        if not isinstance(value, list):
            return
        for index, rule in enumerate(value[:-1]):
            names = rule.get("ErrorEquals") if isinstance(rule, dict) else None
            if isinstance(names, list) and ALL in names:
                yield _schema(_child(_item(path, index), "ErrorEquals"),
                              f"'{ALL}' must appear in the last rule of the array")

    return check


CREDENTIALS = Shape({"RoleArn": string, "RoleArn.$": _PAYLOAD_REFERENCE})


def credentials(walk: _Walk, value: Any, path: str) -> Iterator[Problem]:
    # RoleArn may come as a literal or, in JSONPath, from a path: one of the two is required.
    yield from check_shape(CREDENTIALS, walk, value, path)
    if isinstance(value, dict) and not ({"RoleArn", "RoleArn.$"} & value.keys()):
        yield _schema(path, "The field 'RoleArn' is required but was missing")


_ARN = re.compile(r"arn:[^:]+:[^:]+:[^:]*:[^:]*:.+")
# Integration patterns that wait: an Express execution cannot (it runs for 5 minutes at most).
_EXPRESS_UNSUPPORTED = re.compile(r"(\.waitForTaskToken|\.sync)(?::\d+)?$")


def resource(walk: _Walk, value: Any, path: str) -> Iterator[Problem]:
    if not isinstance(value, str):
        yield _type_error(path, "STRING")
    elif not _ARN.fullmatch(value):
        yield Problem(path, INVALID_RESOURCE, f"Resource is not a valid ARN: {value}")
    elif walk.state_machine_type == "EXPRESS":
        pattern = _EXPRESS_UNSUPPORTED.search(value)
        if pattern:
            # AWS's message has the space before " at".
            yield _schema(path, f"Express state machine does not support '{pattern[1]}' service integration ")


def task_resource(walk: _Walk, value: Any, path: str) -> Iterator[Problem]:
    """A Task's Resource: in the `arn:<partition>:states:::` namespace only AWS's integrations
    (engine/integrations.py) are accepted; a Map's ItemReader/ResultWriter name their own S3 ones."""
    named = integration(value) if isinstance(value, str) and _ARN.fullmatch(value) else None
    if named is not None and not named.recognized:
        yield _schema(path, not_recognized(value))
        return
    yield from resource(walk, value, path)


_LABEL_FORBIDDEN = frozenset(' ?*<>{}[]:;,\\|^~$#%&`"') | {chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))}


def label(walk: _Walk, value: Any, path: str) -> Iterator[Problem]:
    if not isinstance(value, str):
        yield _type_error(path, "STRING")
    elif not value:
        yield Problem(path, INVALID_LABEL_NAME, "Label cannot be empty")
    elif len(value) > MAX_LABEL_LENGTH:
        yield Problem(path, INVALID_LABEL_NAME, f"Label cannot exceed {MAX_LABEL_LENGTH} characters")
    else:
        bad = next((c for c in value if c in _LABEL_FORBIDDEN), None)
        if bad is not None:
            yield Problem(path, INVALID_LABEL_NAME, f"Label contains invalid character: {bad!r}")


PROCESSOR_CONFIG = Shape(
    {"Mode": enum("INLINE", "DISTRIBUTED"), "ExecutionType": enum("STANDARD", "EXPRESS")}
)


def processor_config(walk: _Walk, value: Any, path: str) -> Iterator[Problem]:
    yield from check_shape(PROCESSOR_CONFIG, walk, value, path)
    if isinstance(value, dict) and value.get("Mode") == "DISTRIBUTED" and "ExecutionType" not in value:
        yield _schema(path, "The field 'ExecutionType' is required but was missing")


# Map number fields given as paths: AWS accepts only input paths there (not `$$`).
_MAP_NUMBER_PATH = path_check(reference=True, roots=NOT_CONTEXT)

ITEM_READER = Shape(
    {"Resource": resource, "Parameters": jsonpath_template, "Arguments": jsonata_value,
     "ReaderConfig": jsonata_value},
    required=("Resource",),
)
ITEM_BATCHER = Shape(
    {"MaxItemsPerBatch": integer(0), "MaxItemsPerBatchPath": _MAP_NUMBER_PATH,
     "MaxInputBytesPerBatch": integer(0), "MaxInputBytesPerBatchPath": _MAP_NUMBER_PATH,
     "BatchInput": template},
    exclusive=(("MaxItemsPerBatch", "MaxItemsPerBatchPath"),
               ("MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath")),
)
RESULT_WRITER = Shape(
    {"Resource": resource, "Parameters": jsonpath_template, "Arguments": jsonata_value,
     "WriterConfig": jsonata_value},
)


def choice_rule(walk: _Walk, rule: Any, path: str) -> Iterator[Problem]:
    """A top-level Choice rule: Variable and an operator (JSONPath) or a Condition (JSONata)."""
    if not isinstance(rule, dict):
        yield _type_error(path, "OBJECT")
        return
    for name in rule:
        language = _language_of(name)
        if language is not None and language != walk.language:
            yield _schema(path, f"The QueryLanguage is set to '{walk.language}', but field '{name}' is only "
                          f"supported for the '{language}' QueryLanguage")
    if walk.language == JSONATA:
        yield from check_shape(JSONATA_CHOICE_RULE, walk,
                               {k: v for k, v in rule.items() if _language_of(k) != JSONPATH}, path)
        return
    rest = {k: v for k, v in rule.items() if _language_of(k) != JSONATA}
    for location, message in choice.rule_problems(rest, path):
        # engine.choice numbers nested rules `/And/0`; AWS writes `/And[0]`.
        yield _schema(path + re.sub(r"/(\d+)(?=/|$)", r"[\1]", location[len(path):]), message)
    if isinstance(rest.get("Assign"), dict):
        yield from assign(walk, rest["Assign"], _child(path, "Assign"))


def _condition(walk: _Walk, value: Any, path: str) -> Iterator[Problem]:
    if type(value) is bool:
        return
    if not _is_expression(value):
        yield _schema(path, "The Condition must be a JSONata expression or a boolean")
    else:
        yield from _expression(walk, value, path)


JSONATA_CHOICE_RULE = Shape(
    {"Condition": _condition, "Next": state_reference, "Assign": assign, "Output": jsonata_value,
     "Comment": string},
    required=("Condition", "Next"),
)


# --- states ----------------------------------------------------------------------------------------


def nested_machine(kind: str) -> Check:
    def check(walk: _Walk, value: Any, path: str) -> Iterator[Problem]:
        yield from _check_machine(walk, value, path, MACHINE_SHAPES[kind])

    return check


FIELD_CHECKS: Mapping[str, Check] = {
    "Type": _any,  # checked before the shape: it selects the shape
    "Comment": string,
    "QueryLanguage": enum(JSONPATH, JSONATA),
    "Next": state_reference,
    "End": boolean,
    "InputPath": path_check(nullable=True),
    "OutputPath": path_check(nullable=True),
    "Parameters": jsonpath_template,
    "ResultSelector": jsonpath_template,
    "ResultPath": path_check(nullable=True, reference=True, roots=INPUT_ONLY),
    "Result": _any,
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
    "MaxConcurrencyPath": _MAP_NUMBER_PATH,
    "ToleratedFailureCount": integer(0),
    "ToleratedFailureCountPath": _MAP_NUMBER_PATH,
    "ToleratedFailurePercentage": number(0, 100),
    "ToleratedFailurePercentagePath": _MAP_NUMBER_PATH,
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

_MACHINE_FIELDS = {"StartAt": state_reference, "States": _any, "Comment": string}
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


def _check_state(walk: _Walk, state: Any, path: str) -> Iterator[Problem]:
    if not isinstance(state, dict):
        yield _type_error(path, "OBJECT")
        return
    state_type = state.get("Type")
    if "Type" not in state:
        yield _schema(path, "These fields are required: [Type]")
        return
    if not isinstance(state_type, str) or state_type not in STATE_SHAPES:
        yield _schema(_child(path, "Type"),
                      f"Value is not one of the allowed values: [{', '.join(STATE_SHAPES)}]")
        return
    declared = state.get("QueryLanguage")
    if walk.machine_language == JSONATA and declared == JSONPATH:
        yield _schema(path, "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' "
                      "for whole state machine")
    outer, walk.language = walk.language, _effective_language(declared, walk.machine_language)
    try:
        yield from check_shape(STATE_SHAPES[state_type], walk, state, path)
        yield from _state_rules(walk, state_type, state, path)
    finally:
        walk.language = outer


def _state_rules(walk: _Walk, state_type: str, state: dict, path: str) -> Iterator[Problem]:
    """What a field table cannot say: rules across fields of one state."""
    if state_type in TRANSITION_TYPES and "Next" not in state and state.get("End") is not True:
        yield _schema(path, "One of the following fields is required: [Next, End]")
    timeout, heartbeat = state.get("TimeoutSeconds"), state.get("HeartbeatSeconds")
    if _is_integer(timeout) and _is_integer(heartbeat) and heartbeat >= timeout:
        yield _schema(_child(path, "HeartbeatSeconds"),
                      "HeartbeatSeconds must be smaller than TimeoutSeconds")
    if state_type == "Pass" and walk.language == JSONPATH:
        yield from _static_result(state.get("Result"), _child(path, "Result"))
    if state_type == "Map":
        for key in ("ItemProcessor", "Iterator"):
            if isinstance(state.get(key), dict) and "QueryLanguage" in state[key]:
                yield _schema(_child(path, key), "Field 'QueryLanguage' is not supported")


def _static_result(value: Any, path: str) -> Iterator[Problem]:
    """A Pass Result is copied as is: a path inside it is never evaluated (AWS warns)."""
    if isinstance(value, str) and value.startswith("$."):
        yield Problem(path, PASS_RESULT_IS_STATIC, "The Result field of a Pass state is static: "
                      f"'{value}' is not evaluated as a path", WARNING)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _static_result(item, _child(path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _static_result(item, _item(path, index))


# --- machines and their graphs ---------------------------------------------------------------------


def _transitions(state: Any, path: str) -> Iterator[tuple[str, str]]:
    """(target state name, location of the field naming it) for every transition out of a state."""
    if not isinstance(state, dict):
        return
    for key in ("Next", "Default"):
        if isinstance(state.get(key), str):
            yield state[key], _child(path, key)
    for key in ("Choices", "Catch"):
        rules = state.get(key)
        if isinstance(rules, list):
            for index, rule in enumerate(rules):
                if isinstance(rule, dict) and isinstance(rule.get("Next"), str):
                    yield rule["Next"], _child(_item(_child(path, key), index), "Next")


def _is_terminal(state: Any) -> bool:
    if not isinstance(state, dict):
        return False
    state_type = state.get("Type")
    return state.get("End") is True or (isinstance(state_type, str) and state_type in TERMINAL_TYPES)


def _check_machine(walk: _Walk, machine: Any, path: str, shape: Shape) -> Iterator[Problem]:
    yield from check_shape(shape, walk, machine, path)
    if not isinstance(machine, dict) or "States" not in machine:
        return
    states, states_path = machine["States"], _child(path, "States")
    if not isinstance(states, dict):
        yield _type_error(states_path, "OBJECT")
        return
    if not states:
        yield _schema(states_path, "States must contain at least one state")
        return
    for name in getattr(states, "duplicate_keys", ()):
        yield Problem(_child(states_path, name), DUPLICATE_STATE_NAME, f"Duplicate State name: {name}")
    for name, state in states.items():
        state_path = _child(states_path, name)
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
    edges = {name: list(_transitions(state, _child(states_path, name))) for name, state in states.items()}
    entry = [(start_at, _child(path, "StartAt"))] if isinstance(start_at, str) else []
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
            yield Problem(_child(states_path, name), MISSING_TRANSITION_TARGET,
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
        yield _type_error("/", "OBJECT")
        return
    walk = _Walk(_effective_language(definition.get("QueryLanguage"), JSONPATH), state_machine_type)
    walk.language = walk.machine_language
    try:
        yield from _check_machine(walk, definition, "/", MACHINE_SHAPES["root"])
    except RecursionError:  # a parsed value passed in, nested past what the text reader would take
        yield Problem(None, SCHEMA_VALIDATION_FAILED,
                      f"The definition is nested too deeply (at most {jsontext.MAX_DEPTH} levels)")
