"""AWS's payload limit (256 KiB of compact UTF-8 JSON per state output) and how it is measured.

AWS-documented (Step Functions quotas): "Maximum input or output size for a task, state, or execution:
256 KiB of data as a UTF-8 encoded string"; beyond it the state fails with States.DataLimitExceeded.
"""

from __future__ import annotations

import json
import random

import pytest

from engine import Execution, ExecutionOptions, compile_definition, run
from engine.limits import MAX_PAYLOAD_BYTES, PayloadSizer
from engine.paths import compile_path, set_path

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:f"


def reference_size(value) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def string_of_json_size(size: int) -> str:
    return "x" * (size - 2)  # the two quotes count


class CountingSizer(PayloadSizer):
    """Records every container that is measured element by element (i.e. not taken from the cache)."""

    __slots__ = ("measured",)

    def __init__(self):
        super().__init__()
        self.measured = []

    def _measure(self, value, kind):
        self.measured.append(value)
        return super()._measure(value, kind)


# -- the limit ---------------------------------------------------------------------------------------
def test_the_limit_is_256_kib():
    assert MAX_PAYLOAD_BYTES == 256 * 1024


def test_a_task_result_of_exactly_256_kib_passes():
    result = run({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA, "End": True}}},
                 {}, lambda suspension, execution: string_of_json_size(MAX_PAYLOAD_BYTES))
    assert result.status == "SUCCEEDED"
    assert reference_size(result.output) == MAX_PAYLOAD_BYTES


def test_a_task_output_one_byte_over_256_kib_fails_with_data_limit_exceeded():
    result = run({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA, "End": True}}},
                 {}, lambda suspension, execution: string_of_json_size(MAX_PAYLOAD_BYTES + 1))
    assert (result.status, result.error) == ("FAILED", "States.DataLimitExceeded")
    assert "'T'" in result.cause


def test_the_limit_counts_utf8_bytes_not_characters():
    # 'é' is one character but two UTF-8 bytes: 131,072 of them (plus quotes) exceed 256 KiB.
    definition = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA, "End": True}}}
    result = run(definition, {}, lambda suspension, execution: "é" * (MAX_PAYLOAD_BYTES // 2))
    assert result.error == "States.DataLimitExceeded"
    assert run(definition, {}, lambda s, e: "é" * (MAX_PAYLOAD_BYTES // 2 - 1)).status == "SUCCEEDED"


def test_a_pass_state_whose_result_path_grows_the_output_past_the_limit_fails():
    definition = {"StartAt": "P", "States": {"P": {
        "Type": "Pass", "Parameters": {"copy.$": "$.big"}, "ResultPath": "$.again", "End": True}}}
    big = string_of_json_size(MAX_PAYLOAD_BYTES // 2 + 10)
    result = run(definition, {"big": big})
    assert result.error == "States.DataLimitExceeded"


def test_data_limit_exceeded_can_be_caught_by_name():
    definition = {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": LAMBDA, "End": True,
              "Catch": [{"ErrorEquals": ["States.DataLimitExceeded"], "Next": "Small"}]},
        "Small": {"Type": "Pass", "End": True}}}
    result = run(definition, {}, lambda s, e: string_of_json_size(MAX_PAYLOAD_BYTES + 1))
    assert result.status == "SUCCEEDED"
    assert result.output["Error"] == "States.DataLimitExceeded"


# -- measuring ---------------------------------------------------------------------------------------
TRICKY_STRINGS = ["", "plain", 'quote"inside', "back\\slash", "new\nline", "tab\t", "\x00nul", "\x1f",
                  "\x7f", "é", "€uro", "😀 emoji", "\u2028line sep", "\ufeffbom",
                  "mixed é\"\\\n😀", "</script>"]
TRICKY_NUMBERS = [0, -0.0, 1, -1, 2**53 + 1, -(2**63), 10**30, 0.1, 1e-7, 1.5e300, -2.5e-300, 1e16, 123.456]


def random_json(rng: random.Random, depth: int = 0):
    kind = rng.randrange(8 if depth < 4 else 5)
    if kind == 0:
        return rng.choice(TRICKY_STRINGS) + rng.choice(TRICKY_STRINGS)
    if kind == 1:
        return rng.choice(TRICKY_NUMBERS)
    if kind == 2:
        return rng.choice([True, False, None])
    if kind == 3:
        return "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0, 0xD800)]))
                       for _ in range(rng.randrange(6)))
    if kind == 4:
        return rng.random() * 10 ** rng.randrange(-5, 20)
    if kind in (5, 6):
        return {rng.choice(TRICKY_STRINGS) + str(i): random_json(rng, depth + 1)
                for i in range(rng.randrange(5))}
    shared = random_json(rng, depth + 1)
    return [shared if rng.random() < 0.3 else random_json(rng, depth + 1) for _ in range(rng.randrange(5))]


@pytest.mark.parametrize("value", TRICKY_STRINGS + TRICKY_NUMBERS + [True, False, None, {}, []])
def test_size_of_a_scalar_is_its_compact_utf8_json_length(value):
    assert PayloadSizer().size(value) == reference_size(value)


def test_size_equals_compact_utf8_json_length_for_many_random_values():
    rng = random.Random(20240506)
    shared_sizer = PayloadSizer()  # sizes must stay right when the cache is warm, too
    for _ in range(2000):
        value = random_json(rng)
        expected = reference_size(value)
        assert PayloadSizer().size(value) == expected, value
        assert shared_sizer.size(value) == expected, value


def test_a_container_is_measured_once_and_then_read_from_the_cache():
    sizer = CountingSizer()
    document = {"items": [{"n": i} for i in range(100)]}
    first = sizer.size(document)
    measured = len(sizer.measured)
    assert sizer.size(document) == first
    assert len(sizer.measured) == measured


def test_a_set_path_write_derives_the_new_size_without_measuring_the_unchanged_rest():
    sizer = CountingSizer()
    document = {"big": ["y" * 100 for _ in range(2000)], "meta": {"k": 1}}
    sizer.size(document)
    sizer.measured.clear()
    result = {"ok": True}
    updated = set_path(document, compile_path("$.meta.result"), result, sizer)
    assert sizer.size(updated) == reference_size(updated)
    assert all(measured is result for measured in sizer.measured)


def test_derived_sizes_are_exact_for_many_random_writes():
    rng = random.Random(7)
    paths = ["$.a", "$.a.b", "$.new", "$.list[0]", "$.list[-1]", "$['x y'].z", "$.é"]
    for _ in range(200):
        document = {"a": random_json(rng), "list": [random_json(rng), random_json(rng)]}
        if rng.random() < 0.5:
            document["a"] = {"b": random_json(rng)}
        sizer = PayloadSizer()
        sizer.size(document)
        for text in paths:
            try:
                updated = set_path(document, compile_path(text), random_json(rng), sizer)
            except Exception:  # a write through a scalar: not this test's concern
                continue
            assert sizer.size(updated) == reference_size(updated), (document, text)


def big_document():
    return {"big": ["z" * 100 for _ in range(2000)], "n": 1}  # about 200 KiB


def measured_during_second_state(definition, handler=None):
    """Run First (which passes a 200 KiB input on, measuring it once) then Second, counting the
    containers measured while Second runs."""
    sizer = CountingSizer()
    execution = Execution(compile_definition(definition), big_document(), ExecutionOptions())
    execution.sizer = sizer
    execution.run(max_transitions=1)  # First
    sizer.measured.clear()
    execution.run()
    while execution.suspensions():
        frame_id, suspension = next(iter(execution.suspensions().items()))
        execution.resume_task(frame_id, result=handler(suspension))
        execution.run()
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    return sizer.measured, execution


def test_a_pass_result_path_write_into_a_200_kib_document_does_not_measure_it_again():
    measured, execution = measured_during_second_state({"StartAt": "First", "States": {
        "First": {"Type": "Pass", "Next": "Second"},
        "Second": {"Type": "Pass", "Result": {"done": True}, "ResultPath": "$.result", "End": True}}})
    assert execution.output["result"] == {"done": True}
    assert sum(reference_size(value) for value in measured) < 100


def test_a_task_result_path_write_into_a_200_kib_document_does_not_measure_it_again():
    measured, execution = measured_during_second_state({"StartAt": "First", "States": {
        "First": {"Type": "Pass", "Next": "Second"},
        "Second": {"Type": "Task", "Resource": LAMBDA, "ResultPath": "$.result", "End": True}}},
        handler=lambda suspension: {"done": True})
    assert execution.output["result"] == {"done": True}
    assert sum(reference_size(value) for value in measured) < 100



def test_a_catch_result_path_write_into_a_200_kib_document_does_not_measure_it_again():
    sizer = CountingSizer()
    definition = {"StartAt": "First", "States": {
        "First": {"Type": "Pass", "Next": "Second"},
        "Second": {"Type": "Task", "Resource": LAMBDA, "End": True,
                   "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Done"}]},
        "Done": {"Type": "Succeed"}}}
    execution = Execution(compile_definition(definition), big_document(), ExecutionOptions())
    execution.sizer = sizer
    execution.run(max_transitions=1)
    execution.run()
    (frame_id,) = execution.suspensions()
    sizer.measured.clear()
    execution.resume_task(frame_id, error="Boom", cause="c")
    execution.run()
    assert execution.output["error"] == {"Error": "Boom", "Cause": "c"}
    assert sum(reference_size(value) for value in sizer.measured) < 100


class TinyCacheSizer(PayloadSizer):
    """A cache of three entries, so that it is cleared again and again while sizes are derived."""

    MAX_ENTRIES = 3


def test_sizes_stay_exact_when_the_cache_is_cleared_in_the_middle_of_writes():
    rng = random.Random(99)
    sizer = TinyCacheSizer()
    document = {"a": {"b": [1, 2]}, "c": "x"}
    sizer.size(document)
    for step in range(300):
        text = rng.choice(["$.a.b[0]", "$.a.new", "$.c", "$.d.e", f"$.k{step % 7}"])
        document = set_path(document, compile_path(text), random_json(rng), sizer)
        assert sizer.size(document) == reference_size(document)


# -- bounds: what a Pass state need not measure ------------------------------------------------------
class Env:
    """What templates read besides the value: the context object and variables."""

    def __init__(self, context):
        self.context = context
        self.variables = {}


BOUND_FIELDS = ["$", "$.a", "$.list", "$.list[0]", "$.a.b", "$.s", "$$.Execution.Input",
                "States.Format('{}-{}', $.s, $.s)", "States.StringToJson($.json)",
                "States.JsonMerge($.obj, $.obj, false)", "States.ArrayPartition($.arr, 2)",
                "States.Array($.a, $.list)", "$.list[*]"]


def random_template(rng: random.Random, depth: int = 0):
    if depth > 2 or rng.random() < 0.3:
        return random_json(rng, 3)
    if rng.random() < 0.3:
        return [random_template(rng, depth + 1) for _ in range(rng.randrange(4))]
    template = {}
    for index in range(rng.randrange(1, 5)):
        if rng.random() < 0.6:
            template[f"k{index}.$"] = rng.choice(BOUND_FIELDS)
        else:
            template[f"k{index}"] = random_template(rng, depth + 1)
    if rng.random() < 0.1:
        template["k0"] = "a literal beside k0.$: the output has one k0"
    return template


def random_input(rng: random.Random):
    return {"a": {"b": random_json(rng)}, "list": [random_json(rng), random_json(rng)],
            "s": rng.choice(TRICKY_STRINGS), "json": json.dumps(random_json(rng)),
            "obj": {"x": random_json(rng), "y": [1, 2]}, "arr": [random_json(rng) for _ in range(5)]}


def test_a_template_bound_is_never_below_the_size_of_what_the_template_returns():
    from engine.payload import compile_template, compile_template_bound

    rng = random.Random(11)
    for _ in range(500):
        template = random_template(rng)
        value = random_input(rng)
        env = Env({"Execution": {"Input": value}})
        result = compile_template(template)(value, env)
        bound = compile_template_bound(template)
        for sizer, input_bound in ((PayloadSizer(), reference_size(value)), (PayloadSizer(), None)):
            assert bound(result, input_bound, sizer) >= reference_size(result), (template, value)


def test_a_set_path_write_adds_at_most_the_value_and_the_paths_write_overhead():
    rng = random.Random(12)
    paths = ["$.a", "$.a.b", "$.new", "$.new.deeper.still", "$.list[0]", "$.list[-1]", "$['x y'].z",
             "$.é.ü", "$['quote\"d'].k", "$.nothing.here"]
    for _ in range(300):
        document = {"a": random_json(rng), "list": [random_json(rng)], "nothing": None}
        value = random_json(rng)
        for text in paths:
            path = compile_path(text)
            try:
                updated = set_path(document, path, value)
            except Exception:  # a write through a scalar: not this test's concern
                continue
            assert reference_size(updated) <= (reference_size(document) + reference_size(value)
                                               + path.write_overhead), (document, text, value)


def doubling_loop(iterations: int) -> dict:
    """Work doubles $.s into $.t.d (a ResultPath write), Count moves it back to $.s, `iterations` times."""
    return {"StartAt": "Work", "States": {
        "Work": {"Type": "Pass", "Parameters": {"d.$": "States.Format('{}{}', $.s, $.s)"},
                 "ResultPath": "$.t", "Next": "Count"},
        "Count": {"Type": "Pass", "Parameters": {"s.$": "$.t.d", "n.$": "States.MathAdd($.n, 1)"},
                  "Next": "Check"},
        "Check": {"Type": "Choice", "Choices": [
            {"Variable": "$.n", "NumericLessThan": iterations, "Next": "Work"}], "Default": "Done"},
        "Done": {"Type": "Succeed"}}}


def first_iteration_over_the_limit() -> tuple[int, str]:
    """What doubling_loop does, computed with json.dumps: the iteration and state that first exceed it."""
    text, n = "ab", 0
    for iteration in range(1, 40):
        if reference_size({"s": text, "n": n, "t": {"d": text * 2}}) > MAX_PAYLOAD_BYTES:
            return iteration, "Work"
        text, n = text * 2, n + 1
        if reference_size({"s": text, "n": n}) > MAX_PAYLOAD_BYTES:
            return iteration, "Count"
    raise AssertionError("never over the limit")


def test_a_string_doubled_state_after_state_fails_at_the_first_output_over_the_limit():
    # The small outputs before it were bounded, not measured: the check must still catch the first
    # output over 256 KiB, in the state that makes it.
    iteration, state = first_iteration_over_the_limit()
    result = run(doubling_loop(iteration), {"s": "ab", "n": 0})
    assert (result.status, result.error) == ("FAILED", "States.DataLimitExceeded")
    assert f"'{state}'" in result.cause
    assert run(doubling_loop(iteration - 1), {"s": "ab", "n": 0}).status == "SUCCEEDED"


def test_a_template_that_takes_the_same_big_part_of_its_input_twice_is_over_the_limit():
    big = string_of_json_size(MAX_PAYLOAD_BYTES // 2 + 10)
    definition = {"StartAt": "Small", "States": {
        "Small": {"Type": "Pass", "Parameters": {"big.$": "$.big"}, "Next": "Twice"},
        "Twice": {"Type": "Pass", "Parameters": {"a.$": "$.big", "b.$": "$.big"}, "End": True}}}
    result = run(definition, {"big": big})
    assert (result.status, result.error) == ("FAILED", "States.DataLimitExceeded")
    assert "'Twice'" in result.cause


def test_a_chain_of_small_pass_states_measures_no_container_element_by_element():
    sizer = CountingSizer()
    states = {f"P{i}": {"Type": "Pass", "Parameters": {"v.$": "$.data.a", "list.$": "$.data.list", "step": i},
                        "ResultPath": "$.last", "Next": f"P{i + 1}"} for i in range(200)}
    states["P200"] = {"Type": "Succeed"}
    execution = Execution(compile_definition({"StartAt": "P0", "States": states}),
                          {"data": {"a": 1, "list": [1, 2, 3]}}, ExecutionOptions())
    execution.sizer = sizer
    execution.run()
    assert execution.status == "SUCCEEDED"
    assert execution.output["last"] == {"v": 1, "list": [1, 2, 3], "step": 199}
    # The first state (whose input has no bound yet) and the execution's output: not one per state.
    assert len(sizer.measured) <= 3
