"""JSONata in ASL: `{% %}` expressions in Arguments, Output, Assign, Condition, Items, … and `$states`.

Every evaluator here has the engine's common signature `fn(value, env)`. For JSONata fields `value` is
the `$states` binding the interpreter built for this phase of the state (`input`, and where AWS allows
them `result` and `errorOutput`); `$states.context` is added from `env.context`, and the workflow's
variables come from `env.variables`.
"""

from __future__ import annotations

from typing import Any

import jsonatapy

from engine.errors import QUERY_EVALUATION_ERROR, StatesError


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("{%") and value.endswith("%}")


def _compile_expression(text: str):
    source = text[2:-2].strip()
    expression = jsonatapy.compile(source)

    def evaluate(states: Any, env: Any) -> Any:
        bindings = dict(env.variables)
        bindings["states"] = dict(states, context=env.context)
        try:
            return expression.evaluate(None, bindings)
        except Exception as exc:  # jsonatapy raises ValueError/RuntimeError with its message
            raise StatesError(QUERY_EVALUATION_ERROR, str(exc)) from exc

    return evaluate


def compile_value(template: Any):
    """A JSON value in which every `{% %}` string is an expression, at any depth."""
    if is_expression(template):
        return _compile_expression(template)
    if isinstance(template, dict):
        fields = [(key, compile_value(value)) for key, value in template.items()]
        return lambda states, env: {key: fn(states, env) for key, fn in fields}
    if isinstance(template, list):
        items = [compile_value(value) for value in template]
        return lambda states, env: [fn(states, env) for fn in items]
    return lambda states, env: template


def compile_condition(text: Any):
    evaluate = compile_value(text)

    def condition(states: Any, env: Any) -> bool:
        result = evaluate(states, env)
        if not isinstance(result, bool):
            raise StatesError(QUERY_EVALUATION_ERROR, f"The Condition field must evaluate to a boolean: {text}")
        return result

    return condition


def compile_assign(assign: dict, language: str):
    """Assign evaluates every value against the same state values, then binds them all at once."""
    if language == "JSONata":
        evaluate = compile_value(assign)
    else:
        from engine.payload import compile_template

        evaluate = compile_template(assign)
    return evaluate
