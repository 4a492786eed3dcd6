"""Payload templates: Parameters, ResultSelector, ItemSelector (and a legacy Map's Parameters), and
the JSONPath form of Assign.

A template is JSON whose object keys may end in `.$`. Such a key takes its value from a path (`$.x`
on the value, `$$.x` on the context object, `$name.x` on a variable) or from an intrinsic function,
and the output key drops the `.$`. Everything else is copied as a literal. `Result` is not a template.

`compile_template(template)` walks the template once and returns `evaluate(value, env)`. Literal
parts are shared, never copied (values are immutable); only the containers that hold a `.$` field
are built again on each evaluation. A template with no `.$` anywhere evaluates to itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.errors import RUNTIME, StatesError
from engine.intrinsics import InvalidIntrinsic, compile_intrinsic, is_intrinsic
from engine.java import java_json_text
from engine.limits import PayloadSizer, string_size
from engine.paths import CONTEXT, INPUT, InvalidPath, Path, PathNotFound, compile_path

Evaluator = Callable[[Any, Any], Any]

DYNAMIC_SUFFIX = ".$"


class InvalidTemplate(ValueError):
    """A `.$` field whose value is not a path or an intrinsic. `pointer` locates it (`/States/X/...`)."""

    def __init__(self, message: str, pointer: str):
        super().__init__(f"{message} at {pointer}")
        self.message = message
        self.pointer = pointer


TemplateError = InvalidTemplate


def template_is_constant(template: Any) -> bool:
    """True when no object key anywhere in the template ends in `.$`."""
    if isinstance(template, dict):
        return not any(
            key.endswith(DYNAMIC_SUFFIX) or not template_is_constant(value) for key, value in template.items()
        )
    if isinstance(template, list):
        return all(template_is_constant(item) for item in template)
    return True


def template_problems(template: Any, pointer: str = "") -> list[InvalidTemplate]:
    """Every bad `.$` field of a template (compile_template stops at the first), for the validator."""
    problems: list[InvalidTemplate] = []
    if isinstance(template, dict):
        for key, child in template.items():
            where = f"{pointer}/{_escape_pointer(key)}"
            if key.endswith(DYNAMIC_SUFFIX):
                try:
                    compile_field(key, child, where)
                except InvalidTemplate as problem:
                    problems.append(problem)
            else:
                problems.extend(template_problems(child, where))
    elif isinstance(template, list):
        for index, item in enumerate(template):
            problems.extend(template_problems(item, f"{pointer}/{index}"))
    return problems


def compile_template(template: Any, pointer: str = "") -> Evaluator:
    """Compile once. `pointer` is where the template sits in the definition, for error messages."""
    if template_is_constant(template):
        return lambda value, env: template
    return _compile(template, pointer)


def _compile(node: Any, pointer: str) -> Evaluator:
    if isinstance(node, dict):
        return _compile_object(node, pointer)
    if isinstance(node, list):
        return _compile_array(node, pointer)
    return lambda value, env: node


def _compile_object(node: dict, pointer: str) -> Evaluator:
    fields: list[tuple[str, Any, Evaluator | None]] = []  # (output key, constant, evaluator or None)
    for key, child in node.items():
        where = f"{pointer}/{_escape_pointer(key)}"
        if key.endswith(DYNAMIC_SUFFIX):
            fields.append((key[: -len(DYNAMIC_SUFFIX)], None, compile_field(key, child, where)))
        elif template_is_constant(child):
            fields.append((key, child, None))
        else:
            fields.append((key, None, _compile(child, where)))

    if all(evaluator is not None for _, _, evaluator in fields):  # the common shape: every field computed
        computed = [(key, evaluator) for key, _, evaluator in fields]
        return lambda value, env: {key: evaluator(value, env) for key, evaluator in computed}

    def evaluate(value: Any, env: Any) -> dict:
        return {
            key: constant if evaluator is None else evaluator(value, env)
            for key, constant, evaluator in fields
        }

    return evaluate


def _compile_array(node: list, pointer: str) -> Evaluator:
    items = [
        (item, None) if template_is_constant(item) else (None, _compile(item, f"{pointer}/{index}"))
        for index, item in enumerate(node)
    ]
    return lambda value, env: [
        constant if evaluator is None else evaluator(value, env) for constant, evaluator in items
    ]


# -- size bounds ------------------------------------------------------------------------------------
# bound(result, input_bound, sizer) -> an upper bound of the size of `result`, what the template returned
# for an input of size at most `input_bound` (None: unknown). A state whose output is a template's
# result, or a small document with one written into it, leaves without being measured (limits.py).
Bound = Callable[[Any, "int | None", PayloadSizer], int]


def compile_template_bound(template: Any) -> Bound:
    """Literal parts are measured here, once; computed scalars and containers the execution has
    measured are counted exactly; a container that a definite path took from the input is a part of the
    input, so the input's bound bounds it; anything else is measured."""
    if template_is_constant(template):
        size = PayloadSizer().size(template)
        return lambda result, input_bound, sizer: size
    if isinstance(template, dict):
        return _object_bound(template)
    return _array_bound(template)


def _object_bound(node: dict) -> Bound:
    # A duplicate output key ("a" and "a.$") is counted twice: still an upper bound.
    static = 1 + 2 * len(node) if node else 2
    computed: list[tuple[str, bool]] = []  # (output key, taken by a definite path from the input)
    nested: list[tuple[str, Bound]] = []
    for key, child in node.items():
        if key.endswith(DYNAMIC_SUFFIX):
            out = key[: -len(DYNAMIC_SUFFIX)]
            computed.append((out, _is_input_part(child)))
        elif template_is_constant(child):
            out = key
            static += PayloadSizer().size(child)
        else:
            out = key
            nested.append((key, compile_template_bound(child)))
        static += string_size(out)

    def bound(result: dict, input_bound: int | None, sizer: PayloadSizer) -> int:
        # Runs for nearly every Pass state: plain strings and numbers are measured inline.
        total = static
        for key, from_input in computed:
            value = result[key]
            kind = type(value)
            if kind is str and value.isascii() and value.isprintable() and '"' not in value \
                    and "\\" not in value:
                total += len(value) + 2
            elif kind is int or kind is float:
                total += len(repr(value))
            else:
                total += _value_bound(value, from_input, input_bound, sizer)
        for key, child_bound in nested:
            total += child_bound(result[key], input_bound, sizer)
        return total

    return bound


def _array_bound(node: list) -> Bound:
    items = [compile_template_bound(item) for item in node]
    static = 1 + len(node)

    def bound(result: list, input_bound: int | None, sizer: PayloadSizer) -> int:
        pairs = zip(items, result, strict=True)
        return static + sum(item(value, input_bound, sizer) for item, value in pairs)

    return bound


def _is_input_part(text: Any) -> bool:
    if not isinstance(text, str) or is_intrinsic(text):
        return False
    try:
        path = compile_path(text)
    except InvalidPath:
        return False
    return path.root is INPUT and not path.indefinite


def _value_bound(value: Any, from_input: bool, input_bound: int | None, sizer: PayloadSizer) -> int:
    kind = type(value)
    if kind is str:
        return string_size(value)
    if kind is int or kind is float:
        return len(repr(value))
    if kind is dict or kind is list:
        known = sizer.known(value)
        if known is not None:
            return known
        if from_input:
            return input_bound if input_bound is not None else sizer.size(value)
        return sizer.fresh(value)
    return sizer.size(value)


def _escape_pointer(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def compile_field(key: str, text: Any, pointer: str = "") -> Evaluator:
    """The evaluator of one `key.$` field: a path or an intrinsic function."""
    if isinstance(text, str):
        if is_intrinsic(text):
            try:
                return compile_intrinsic(text)
            except InvalidIntrinsic as error:
                raise InvalidTemplate(str(error), pointer) from error
        if text.startswith("$"):
            try:
                return _path_field(key, compile_path(text))
            except InvalidPath as error:
                raise InvalidTemplate(_not_a_path(key), pointer) from error
    raise InvalidTemplate(_not_a_path(key), pointer)


def _not_a_path(key: str) -> str:
    return f"The value for the field '{key}' must be a valid JSONPath or a valid intrinsic function call"


def _path_field(key: str, path: Path) -> Evaluator:
    def read(value: Any, env: Any) -> Any:
        try:
            return path.get(value, env)
        except PathNotFound:
            # AWS (Jayway) answers null for an index past the end of an array, when it is the last
            # step: "v.$": "$.items[5]" on {"items": [1, 2]} gives {"v": null}. A missing key fails.
            if _index_past_end(path, value, env):
                return None
            searched = env.context if path.root is CONTEXT else value
            raise StatesError(
                RUNTIME,
                f"The JSONPath '{path.text}' specified for the field '{key}' could not be found "
                f"in the input '{java_json_text(searched)}'",
            ) from None

    return read


def _index_past_end(path: Path, value: Any, env: Any) -> bool:
    keys = path.keys
    if not keys or not isinstance(keys[-1], int):
        return False
    try:
        parent = path.base(value, env)
        for key in keys[:-1]:
            parent = parent[key]
    except (KeyError, IndexError, TypeError, PathNotFound):
        return False
    return type(parent) is list and not -len(parent) <= keys[-1] < len(parent)
