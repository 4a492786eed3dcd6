"""The nested objects of a definition as the validator sees them: a `Shape` is a table of the fields an
object may carry, each with its value check — retriers, catchers, Credentials, ItemReader, ItemBatcher,
ResultWriter, ProcessorConfig, Choice rules — plus the checks of Resource and Label values.
validate.py's state rows use them."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from engine import choice
from engine.errors import ALL
from engine.integrations import integration, not_recognized
from engine.jsonata_checks import expression_problems
from engine.problems import (
    INVALID_LABEL_NAME,
    INVALID_RESOURCE,
    JSONATA,
    JSONPATH,
    MAX_LABEL_LENGTH,
    Check,
    Problem,
    Walk,
    child_path,
    is_expression,
    item_path,
    schema_problem,
    type_problem,
)
from engine.value_checks import (
    INPUT_ONLY,
    NOT_CONTEXT,
    PAYLOAD_REFERENCE,
    array_of,
    assign,
    enum,
    error_names,
    integer,
    jsonata_value,
    jsonpath_template,
    number,
    path_check,
    string,
    template,
)

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


def check_shape(shape: Shape, walk: Walk, value: Any, path: str) -> Iterator[Problem]:
    if not isinstance(value, dict):
        yield type_problem(path, "OBJECT")
        return
    missing = [name for name in shape.required if name not in value]
    if missing and shape.list_required:
        yield schema_problem(path, f"These fields are required: [{', '.join(missing)}]")
    else:
        for name in missing:
            yield schema_problem(path, f"The field '{name}' is required but was missing")
    for group in shape.exclusive:
        present = [name for name in group if name in value]
        if len(present) > 1:
            yield schema_problem(path,
                                 f"There should only be one of the following fields: [{', '.join(group)}]")
    for group in shape.one_of:
        if not any(name in value for name in group):
            yield schema_problem(path, f"One of the following fields is required: [{', '.join(group)}]")
    for name, item in value.items():
        check = shape.fields.get(name)
        language = _language_of(name)
        if check is None:
            yield schema_problem(path, f"Field '{name}' is not supported")
        elif language is not None and language != walk.language:
            yield schema_problem(path, f"The QueryLanguage is set to '{walk.language}', but field '{name}' "
                                       f"is only supported for the '{language}' QueryLanguage")
        else:
            yield from check(walk, item, child_path(path, name))


def shape_check(shape: Shape) -> Check:
    return functools.partial(check_shape, shape)


def state_reference(walk: Walk, value: Any, path: str) -> Iterator[Problem]:
    """Next, Default, StartAt: a state name. Whether the state exists is a graph check."""
    if not isinstance(value, str):
        yield type_problem(path, "STRING")


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

    def check(walk: Walk, value: Any, path: str) -> Iterator[Problem]:
        yield from array_of(shape_check(shape), non_empty=False)(walk, value, path)
        if not isinstance(value, list):
            return
        for index, rule in enumerate(value[:-1]):
            names = rule.get("ErrorEquals") if isinstance(rule, dict) else None
            if isinstance(names, list) and ALL in names:
                yield schema_problem(child_path(item_path(path, index), "ErrorEquals"),
                              f"'{ALL}' must appear in the last rule of the array")

    return check


CREDENTIALS = Shape({"RoleArn": string, "RoleArn.$": PAYLOAD_REFERENCE})


def credentials(walk: Walk, value: Any, path: str) -> Iterator[Problem]:
    # RoleArn may come as a literal or, in JSONPath, from a path: one of the two is required.
    yield from check_shape(CREDENTIALS, walk, value, path)
    if isinstance(value, dict) and not ({"RoleArn", "RoleArn.$"} & value.keys()):
        yield schema_problem(path, "The field 'RoleArn' is required but was missing")


_ARN = re.compile(r"arn:[^:]+:[^:]+:[^:]*:[^:]*:.+")
# Integration patterns that wait: an Express execution cannot (it runs for 5 minutes at most).
_EXPRESS_UNSUPPORTED = re.compile(r"(\.waitForTaskToken|\.sync)(?::\d+)?$")
# Nor can it schedule activity tasks (the developer guide: Express workflows do not support activities).
_ACTIVITY = re.compile(r"arn:[^:]+:states:[^:]*:[^:]*:activity:.+")


def resource(walk: Walk, value: Any, path: str) -> Iterator[Problem]:
    if not isinstance(value, str):
        yield type_problem(path, "STRING")
    elif not _ARN.fullmatch(value):
        yield Problem(path, INVALID_RESOURCE, f"Resource is not a valid ARN: {value}")
    elif walk.state_machine_type == "EXPRESS":
        pattern = _EXPRESS_UNSUPPORTED.search(value)
        if pattern:
            # AWS's message has the space before " at".
            message = f"Express state machine does not support '{pattern[1]}' service integration "
            yield schema_problem(path, message)
        elif _ACTIVITY.fullmatch(value):
            # AWS's wording for this case is not recorded anywhere we could find; ours, in its style.
            yield schema_problem(path, "Express state machine does not support activities ")


def task_resource(walk: Walk, value: Any, path: str) -> Iterator[Problem]:
    """A Task's Resource: in the `arn:<partition>:states:::` namespace only AWS's integrations
    (engine/integrations.py) are accepted; a Map's ItemReader/ResultWriter name their own S3 ones."""
    named = integration(value) if isinstance(value, str) and _ARN.fullmatch(value) else None
    if named is not None and not named.recognized:
        yield schema_problem(path, not_recognized(value))
        return
    yield from resource(walk, value, path)


_LABEL_FORBIDDEN = frozenset(' ?*<>{}[]:;,\\|^~$#%&`"') | {chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))}


def label(walk: Walk, value: Any, path: str) -> Iterator[Problem]:
    if not isinstance(value, str):
        yield type_problem(path, "STRING")
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


def processor_config(walk: Walk, value: Any, path: str) -> Iterator[Problem]:
    yield from check_shape(PROCESSOR_CONFIG, walk, value, path)
    if isinstance(value, dict) and value.get("Mode") == "DISTRIBUTED" and "ExecutionType" not in value:
        yield schema_problem(path, "The field 'ExecutionType' is required but was missing")


# Map number fields given as paths: AWS accepts only input paths there (not `$$`).
MAP_NUMBER_PATH = path_check(reference=True, roots=NOT_CONTEXT)

ITEM_READER = Shape(
    {"Resource": resource, "Parameters": jsonpath_template, "Arguments": jsonata_value,
     "ReaderConfig": jsonata_value},
    required=("Resource",),
)
ITEM_BATCHER = Shape(
    {"MaxItemsPerBatch": integer(0), "MaxItemsPerBatchPath": MAP_NUMBER_PATH,
     "MaxInputBytesPerBatch": integer(0), "MaxInputBytesPerBatchPath": MAP_NUMBER_PATH,
     "BatchInput": template},
    exclusive=(("MaxItemsPerBatch", "MaxItemsPerBatchPath"),
               ("MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath")),
)
RESULT_WRITER = Shape(
    {"Resource": resource, "Parameters": jsonpath_template, "Arguments": jsonata_value,
     "WriterConfig": jsonata_value},
)


def choice_rule(walk: Walk, rule: Any, path: str) -> Iterator[Problem]:
    """A top-level Choice rule: Variable and an operator (JSONPath) or a Condition (JSONata)."""
    if not isinstance(rule, dict):
        yield type_problem(path, "OBJECT")
        return
    for name in rule:
        language = _language_of(name)
        if language is not None and language != walk.language:
            yield schema_problem(path, f"The QueryLanguage is set to '{walk.language}', but field '{name}' "
                                       f"is only supported for the '{language}' QueryLanguage")
    if walk.language == JSONATA:
        yield from check_shape(JSONATA_CHOICE_RULE, walk,
                               {k: v for k, v in rule.items() if _language_of(k) != JSONPATH}, path)
        return
    rest = {k: v for k, v in rule.items() if _language_of(k) != JSONATA}
    for location, message in choice.rule_problems(rest, path):
        # engine.choice numbers nested rules `/And/0`; AWS writes `/And[0]`.
        yield schema_problem(path + re.sub(r"/(\d+)(?=/|$)", r"[\1]", location[len(path):]), message)
    if isinstance(rest.get("Assign"), dict):
        yield from assign(walk, rest["Assign"], child_path(path, "Assign"))


def _condition(walk: Walk, value: Any, path: str) -> Iterator[Problem]:
    if type(value) is bool:
        return
    if not is_expression(value):
        yield schema_problem(path, "The Condition must be a JSONata expression or a boolean")
    else:
        yield from expression_problems(walk, value, path)


JSONATA_CHOICE_RULE = Shape(
    {"Condition": _condition, "Next": state_reference, "Assign": assign, "Output": jsonata_value,
     "Comment": string},
    required=("Condition", "Next"),
)


