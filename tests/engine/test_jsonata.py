"""JSONata expressions as AWS evaluates them: `$states`, AWS's functions, undefined results, limits."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from types import SimpleNamespace

import pytest

from engine import jsonata
from engine.errors import QUERY_EVALUATION_ERROR, StatesError
from engine.jsonata import InvalidExpression, compile_condition, compile_value, parse


class Env(SimpleNamespace):
    """An evaluation environment that counts how often the context object is built."""

    def __init__(self, variables=None, context=None):
        super().__init__(variables=variables if variables is not None else {}, context_reads=0,
                         random=lambda: 0.25, uuid=lambda: "11111111-2222-4333-8444-555555555555")
        self._context = context if context is not None else {"State": {"Name": "S"}}

    @property
    def context(self):
        self.context_reads += 1
        return self._context


def evaluate(template, states=None, env=None, field="Output"):
    return compile_value(template, field)(states if states is not None else {"input": {}}, env or Env())


def failure(template, states=None, env=None, field="Output") -> StatesError:
    with pytest.raises(StatesError) as caught:
        evaluate(template, states, env, field)
    assert caught.value.name == QUERY_EVALUATION_ERROR
    return caught.value


# -- $states ----------------------------------------------------------------------------------------
def test_states_input_is_the_state_input():
    assert evaluate("{% $states.input.order.id %}", {"input": {"order": {"id": 7}}}) == 7


def test_states_result_and_error_output_are_whatever_the_phase_binds():
    states = {"input": {}, "result": {"ok": True}, "errorOutput": {"Error": "E", "Cause": "c"}}
    assert evaluate("{% [$states.result.ok, $states.errorOutput.Error] %}", states) == [True, "E"]


def test_states_context_is_the_context_object():
    env = Env(context={"Execution": {"Name": "run-1"}})
    assert evaluate("{% $states.context.Execution.Name %}", env=env) == "run-1"


def test_the_context_object_is_not_built_for_an_expression_that_does_not_read_it():
    env = Env()
    evaluate({"a": "{% $states.input %}", "b": "{% $states.result %}", "c": "{% $states.errorOutput %}"},
             {"input": 1, "result": 2, "errorOutput": 3}, env)
    assert env.context_reads == 0
    evaluate("{% $states %}", {"input": 1}, env)
    assert env.context_reads == 1


def test_reading_all_of_states_includes_the_context():
    assert evaluate("{% $keys($states) %}", {"input": 1}) == ["input", "context"]


def test_the_states_binding_given_is_not_modified():
    states = {"input": 1}
    evaluate("{% $states.context %}", states)
    assert states == {"input": 1}


# -- variables --------------------------------------------------------------------------------------
class OnlyLookups(Mapping):
    """Variables that may be looked up by name but never copied or listed."""

    def __init__(self, values):
        self.values, self.looked_up = values, []

    def __getitem__(self, name):
        self.looked_up.append(name)
        return self.values[name]

    def __contains__(self, name):
        return name in self.values

    def __iter__(self):
        raise AssertionError("the variables were listed")

    def __len__(self):
        raise AssertionError("the variables were counted")


def test_an_expression_reads_only_the_variables_it_names():
    variables = OnlyLookups({"total": 40, "unused": 1, "other": 2})
    assert evaluate("{% $total + $states.input.x %}", {"input": {"x": 2}}, Env(variables)) == 42
    assert variables.looked_up == ["total"]


def test_a_variable_that_does_not_exist_is_undefined():
    error = failure("{% $doesNotExist %}", field="Output/result")
    assert error.cause == ("The JSONata expression '$doesNotExist' specified for the field 'Output/result' "
                           "returned nothing (undefined).")


def test_a_local_binding_shadows_a_workflow_variable():
    assert evaluate("{% ($x := 5; $x * 2) %}", env=Env({"x": 100})) == 10


# -- results AWS cannot write -----------------------------------------------------------------------
def test_null_is_a_value_and_keeps_its_key():
    assert evaluate({"v": "{% $states.input.bar %}"}, {"input": {"bar": None}}) == {"v": None}


def test_an_undefined_value_names_its_field_with_keys_and_indexes():
    error = failure({"a": {"b": ["x", "{% $states.input.absent %}"]}}, field="Arguments")
    assert error.cause == ("The JSONata expression '$states.input.absent' specified for the field "
                           "'Arguments/a/b[1]' returned nothing (undefined).")


def test_a_function_is_an_unsupported_result():
    error = failure("{% $fn := function($x){$x} %}", field="Items")
    assert error.cause == ("The JSONata expression '$fn := function($x){$x}' specified for the field 'Items' "
                           "returned an unsupported result type.")


def test_an_evaluation_error_keeps_jsonata_code_and_message():
    error = failure("{% $states.input.x + 'a' %}", {"input": {"x": 1}})
    assert error.cause.startswith("The JSONata expression '$states.input.x + 'a'' specified for the field "
                                  "'Output' threw an error during evaluation. T2002:")


def test_non_finite_numbers_are_written_as_their_names():
    assert evaluate("{% 1/0 %}") == "Infinity"
    assert evaluate("{% [-1/0, {'k': 0/0}] %}") == ["-Infinity", {"k": "NaN"}]


def test_integers_beyond_64_bits_are_read_as_numbers():
    assert evaluate("{% $states.input.big > 1 %}", {"input": {"big": 2 ** 70}}) is True


def test_whole_numbers_stay_integers():
    assert evaluate("{% 6 / 2 %}") == 3 and type(evaluate("{% 6 / 2 %}")) is int


# -- templates --------------------------------------------------------------------------------------
def test_strings_that_are_not_wrapped_exactly_are_literals():
    template = {"a": " {% 1 %}", "b": "{% 1 %} ", "c": "$states.input"}
    assert evaluate(template) == template


def test_a_template_without_expressions_is_returned_as_is():
    template = {"a": [1, {"b": 2}]}
    assert evaluate(template) is template


def test_template_keys_keep_their_order():
    assert list(evaluate({"z": 1, "a": "{% 2 %}", "m": 3})) == ["z", "a", "m"]


# -- compiled once ----------------------------------------------------------------------------------
def test_a_syntax_error_is_found_when_compiling():
    with pytest.raises(InvalidExpression) as caught:
        compile_value({"a": "{% $states.input.[ %}"}, "Output")
    assert caught.value.text == "$states.input.["


def test_the_same_text_is_compiled_once():
    assert parse("$states.input.a + 1") is parse("$states.input.a + 1")
    first, second = compile_value("{% $states.input.a + 1 %}", "Output"), compile_value(
        "{% $states.input.a + 1 %}", "Arguments")
    assert first.parsed is second.parsed and first.field != second.field


# -- Condition --------------------------------------------------------------------------------------
def test_a_condition_must_be_a_boolean():
    condition = compile_condition("{% $states.input.n %}", "Choices[0]/Condition")
    assert condition({"input": {"n": True}}, Env()) is True
    with pytest.raises(StatesError) as caught:
        condition({"input": {"n": 1}}, Env())
    expected = "'Choices[0]/Condition' returned an unexpected result type. Expected 'boolean'"
    assert expected in caught.value.cause


# -- AWS's functions --------------------------------------------------------------------------------
@pytest.mark.parametrize(("expression", "expected"), [
    ("$partition([1,2,3,4,5], 2)", [[1, 2], [3, 4], [5]]),
    ("$partition([1,2,3], 3)", [[1, 2, 3]]),
    ("$partition([1,2,3], 2.9)", [[1, 2], [3]]),
    ("$range(0, 9, 3)", [0, 3, 6, 9]),
    ("$range(0, 10, 3)", [0, 3, 6, 9]),
    ("$range(9, 1, -2)", [9, 7, 5, 3, 1]),
    ("$range(-1.7, 2, 1)", [-1, 0, 1, 2]),
    ("$range(3, 3, 1)", 3),
    ("$hash('abc', 'SHA-256')", hashlib.sha256(b"abc").hexdigest()),
    ("$hash('abc', 'MD5')", hashlib.md5(b"abc").hexdigest()),
    ("$parse('{\"a\": [1, 2.5]}')", {"a": [1, 2.5]}),
    ("$parse('-0')", 0),
    ("$parse('\"text\"')", "text"),
    ("$uuid()", "11111111-2222-4333-8444-555555555555"),
    ("$random()", 0.25),
])
def test_aws_functions(expression, expected):
    assert evaluate("{% " + expression + " %}") == expected


@pytest.mark.parametrize("expression", [
    "$partition([], 2)", "$partition([1], 0)", "$range(0, 4)", "$range(1, 3, -1)", "$range(3, 1, 1)",
    "$range(0, 4, 0)", "$hash('abc')",
])
def test_aws_functions_that_return_nothing(expression):
    assert failure("{% " + expression + " %}").cause.endswith("returned nothing (undefined).")


@pytest.mark.parametrize(("expression", "message"), [
    ("$range('0', 4, 1)", 'T0410: Argument 1 of function "range" does not match function signature'),
    ("$range(0, 4, 1, 2)", 'T0410: Argument 4 of function "range" does not match function signature'),
    ("$partition([1], 'a')", 'T0410: Argument 2 of function "partition" does not match function signature'),
    ("$hash(1, 'MD5')", 'T0410: Argument 1 of function "hash" does not match function signature'),
    ("$hash('a', 'sha-256')", "The hash algorithm 'sha-256' is not supported"),
    ("$parse('{')", "The string '{' is not valid JSON"),
    ("$uuid(1)", 'T0410: Argument 1 of function "uuid" does not match function signature'),
    ("$eval('1 + 1')", "T1006: Attempted to invoke a non-function"),
])
def test_aws_functions_check_their_arguments(expression, message):
    cause = failure("{% " + expression + " %}").cause
    assert f"threw an error during evaluation. {message}" in cause


def test_random_with_a_seed_repeats_and_stays_in_range():
    first, second = evaluate("{% $random(42) %}"), evaluate("{% $random(42) %}")
    assert first == second and 0 <= first < 1 and first != 0.25


def test_uuid_and_random_use_the_environment_each_time():
    ids = iter(["id-1", "id-2"])
    env = Env()
    env.uuid = lambda: next(ids)
    expression = compile_value("{% $uuid() %}", "Output")
    assert [expression({"input": {}}, env), expression({"input": {}}, env)] == ["id-1", "id-2"]


def test_now_reads_the_execution_clock():
    env = Env()
    env.execution = SimpleNamespace(options=SimpleNamespace(clock=lambda: 1_700_000_000.5))
    assert evaluate("{% [$now(), $millis()] %}", env=env) == ["2023-11-14T22:13:20.500Z", 1_700_000_000_500]


def test_a_range_larger_than_aws_builds_is_refused():
    cause = failure("{% $range(0, 400000, 1) %}").cause
    assert cause.endswith("Expression evaluation memory limit exceeded")


# -- bounded evaluation -----------------------------------------------------------------------------
def test_an_endless_loop_stops_at_the_time_limit(monkeypatch):
    monkeypatch.setattr(jsonata, "TIME_LIMIT_MS", 50)
    started = time.perf_counter()
    cause = failure("{% ($loop := function($n){ $loop($n + 1) }; $loop(0)) %}").cause
    assert "D1012" in cause and time.perf_counter() - started < 2


def test_deep_recursion_stops_at_the_depth_limit():
    recursion = "($f := function($n){ $n <= 0 ? 0 : 1 + $f($n - 1) }; $f(%d))"
    assert evaluate("{% " + recursion % 30 + " %}") == 30
    assert "threw an error during evaluation" in failure("{% " + recursion % 5000 + " %}").cause


def test_a_regular_expression_cannot_backtrack_catastrophically():
    started = time.perf_counter()
    assert evaluate("{% $contains('" + "a" * 64 + "!', /^(a+)+$/) %}") is False
    assert time.perf_counter() - started < 1


# -- plain paths ------------------------------------------------------------------------------------
def test_a_plain_path_keeps_large_integers_exact():
    big = 12345678901234567
    assert evaluate("{% $states.input.order.id %}", {"input": {"order": {"id": big}}}) == big
    assert evaluate("{% $order.id %}", env=Env({"order": {"id": big}})) == big


def test_a_plain_path_over_an_array_maps_as_jsonata_does():
    states = {"input": {"items": [{"price": 1}, {"price": 2}]}}
    assert evaluate("{% $states.input.items.price %}", states) == [1, 2]


def test_a_plain_path_to_a_missing_member_is_undefined():
    cause = failure("{% $states.input.a.b %}", {"input": {"a": {}}}).cause
    assert cause.endswith("returned nothing (undefined).")
    assert evaluate("{% $states.input.a %}", {"input": {"a": None}}) is None


def test_now_formats_with_a_picture_and_timezone():
    env = Env()
    env.execution = SimpleNamespace(options=SimpleNamespace(clock=lambda: 1_715_000_000))
    assert evaluate("{% $now('[Y0001]-[M01]-[D01] [H01]', '+0100') %}", env=env) == "2024-05-06 13"


# -- threads ----------------------------------------------------------------------------------------
def test_an_expression_compiled_in_one_thread_runs_in_another():
    import threading

    expression = compile_value("{% $states.input.n * 2 + $count([1, 2]) %}", "Output")
    results = []
    worker = threading.Thread(target=lambda: results.append(expression({"input": {"n": 20}}, Env())))
    worker.start()
    worker.join()
    assert results == [42]


def test_a_sequence_too_long_to_build_is_refused():
    assert evaluate("{% $count([1..800000]) %}") == 800000
    assert "D2015" in failure("{% $count([1..2000000]) %}").cause
