"""The JSONPath I/O pipeline, in the order the spec runs it:

    state input ─InputPath→ ─Parameters→ effective input ── the state's work ──▶ result
    result ─ResultSelector→ ─ResultPath (merged into the state input)→ ─OutputPath→ state output

Each field is one function. None of them copies a document it does not change; ResultPath copies
only the containers along the path it writes.
"""

from __future__ import annotations

import json
from typing import Any

from engine.compile import DEFAULT, State
from engine.errors import RESULT_PATH_MATCH_FAILURE, RUNTIME, StatesError
from engine.paths import PathNotFound, set_path


def _invalid_path(path, value: Any = None) -> StatesError:
    # Jayway (which AWS uses) says "No results for path" when the last key is missing, but
    # "Missing property in path <prefix>" when an object on the way lacks the next key.
    keys = path.keys if path.root == "input" else None
    if keys:
        current = value
        for index, key in enumerate(keys[:-1]):
            if type(current) is dict and type(key) is str and key not in current:
                prefix = "$" + "".join(f"['{k}']" if type(k) is str else f"[{k}]" for k in keys[:index + 1])
                return StatesError(RUNTIME, f"Invalid path '{path.text}' : Missing property in path {prefix}")
            try:
                current = current[key]
            except (KeyError, IndexError, TypeError):
                break
    return StatesError(RUNTIME, f"Invalid path '{path.text}' : No results for path: {path.normalized}")


def _select(path: Any, value: Any, env: Any) -> Any:
    """InputPath and OutputPath: absent keeps the value, null gives {}, a path selects."""
    if path is DEFAULT:
        return value
    if path is None:
        return {}
    try:
        return path.get(value, env)
    except PathNotFound:
        raise _invalid_path(path, value) from None


def input_path(state: State, value: Any, env: Any) -> Any:
    return _select(state.input_path, value, env)


def parameters(state: State, value: Any, env: Any) -> Any:
    template = state.parameters
    return value if template is None else template(value, env)


def effective_input(state: State, value: Any, env: Any) -> Any:
    """InputPath then Parameters (spelled out: it runs on nearly every state)."""
    path = state.input_path
    if path is not DEFAULT:
        value = _select(path, value, env)
    template = state.parameters
    return value if template is None else template(value, env)


def effective_input_bound(state: State, effective: Any, frame: Any, sizer: Any) -> int | None:
    """An upper bound of the size of `effective` (what effective_input gave for the frame's value), or
    None. A definite InputPath selects a part of the input, which the input's bound bounds."""
    input_bound = frame.bound if frame.bound_of is frame.value else None
    path = state.input_path
    if path is not DEFAULT and (path is None or path.indefinite):
        input_bound = None
    bound = state.parameters_bound
    return input_bound if bound is None else bound(effective, input_bound, sizer)


def result_selector(state: State, result: Any, env: Any) -> Any:
    template = state.result_selector
    return result if template is None else template(result, env)


def result_path(path: Any, state_input: Any, result: Any, sizer: Any = None) -> Any:
    if path is DEFAULT:
        return result
    if path is None:
        return state_input
    try:
        return set_path(state_input, path, result, sizer)
    except PathNotFound:
        raise StatesError(
            RESULT_PATH_MATCH_FAILURE,
            f"Unable to apply ResultPath '{path.text}' to input "
            f"'{json.dumps(state_input, separators=(',', ':'))}'",
        ) from None


def output_path(state: State, value: Any, env: Any) -> Any:
    return _select(state.output_path, value, env)


