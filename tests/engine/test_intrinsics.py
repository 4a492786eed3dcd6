"""States.* intrinsic functions: parsing, each function's rules, AWS's error causes, and the corpus."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from engine.errors import RUNTIME, StatesError
from engine.intrinsics import (
    FUNCTIONS,
    IntrinsicArityError,
    InvalidIntrinsic,
    compile_intrinsic,
    is_intrinsic,
)
from engine.java import JavaRandom, java_json_text, java_number_text
from engine.paths import compile_path, set_path
from engine.payload import compile_template


def make_env(context=None, variables=None, random_value=0.5):
    uuids = iter(f"00000000-0000-4000-8000-{n:012d}" for n in range(1, 1000))
    return SimpleNamespace(
        context=context or {},
        variables=variables or {},
        random=lambda: random_value,
        uuid=lambda: next(uuids),
    )


def run(text, value=None, env=None):
    return compile_intrinsic(text)(value if value is not None else {}, env or make_env())


def failure(text, value=None, env=None) -> StatesError:
    with pytest.raises(StatesError) as caught:
        run(text, value, env)
    assert caught.value.name == RUNTIME
    return caught.value


def invalid_arguments(text, value=None) -> None:
    error = failure(text, value)
    name = text.split("(")[0]
    assert error.cause == f"The function '{text}' had the following error: Invalid arguments in {name}"


# --- parsing ----------------------------------------------------------------------------------


def test_the_table_holds_the_eighteen_aws_functions():
    assert len(FUNCTIONS) == 18
    assert all(name.startswith("States.") for name in FUNCTIONS)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("States.Array()", True),
        ("States.Format('{}', $.a)", True),
        ("States.Array", False),
        ("$.a", False),
        ("Hello States.Array()", False),
        (12, False),
    ],
)
def test_is_intrinsic_recognises_the_call_shape(text, expected):
    assert is_intrinsic(text) is expected


@pytest.mark.parametrize(
    "text",
    [
        "States.Nope()",
        "States.Array(",
        "States.Array() trailing",
        "States.Array('unterminated)",
        "States.Array('bad \\n escape')",
        "States.Array(1 2)",
        "States.Array(1,)",
        "States.Array(+1)",
        "States.Array(nothing)",
        "States.Array($.a[)",
        "Other.Array()",
    ],
)
def test_syntax_errors_are_found_at_compile_time(text):
    with pytest.raises(InvalidIntrinsic):
        compile_intrinsic(text)


@pytest.mark.parametrize(
    "text",
    [
        "States.UUID(1)",
        "States.ArrayRange(1, 5)",
        "States.MathRandom(1)",
        "States.Hash('a')",
        "States.Format()",
    ],
)
def test_a_wrong_argument_count_is_found_at_compile_time(text):
    with pytest.raises(IntrinsicArityError):
        compile_intrinsic(text)


def test_ten_nested_calls_are_allowed_and_eleven_are_not():
    ten = "States.Array(" * 10 + ")" * 10
    assert run(ten) == [[[[[[[[[[]]]]]]]]]]
    with pytest.raises(InvalidIntrinsic, match="nested"):
        compile_intrinsic("States.Array(" * 11 + ")" * 11)


def test_literals_of_every_kind():
    assert run("States.Array('s', 1, -2, 1.5, 2e3, true, false, null)") == [
        "s",
        1,
        -2,
        1.5,
        2000.0,
        True,
        False,
        None,
    ]


def test_string_literal_escapes_quote_braces_and_backslash():
    assert run(r"States.Array('it\'s', '\{\}', 'back\\slash')") == ["it's", "{}", "back\\slash"]


def test_a_raw_newline_inside_a_literal_is_kept():
    # The corpus case test_escape_sequence: JSON decoding already turned \n into a newline.
    assert run("States.StringSplit('Hello\nWorld', '\n')") == ["Hello", "World"]


def test_paths_read_input_context_and_variables():
    env = make_env(context={"Execution": {"Name": "run-1"}}, variables={"config": {"n": 2}})
    assert run("States.Array($.a, $$.Execution.Name, $config.n, $)", {"a": 1}, env) == [
        1,
        "run-1",
        2,
        {"a": 1},
    ]


def test_a_path_keeps_commas_and_parentheses_inside_brackets():
    value = {"a,b": 1, "list": [{"k": "x"}, {"k": "y"}]}
    assert run("States.Array($['a,b'], $.list[?(@.k == 'y')].k)", value) == [1, ["y"]]


def test_nested_calls_feed_each_other():
    value = {"arn": "arn:aws:states:us-east-1:1:stateMachine:name-with-parts"}
    text = (
        "States.ArrayGetItem(States.StringSplit($.arn, '-'), "
        "States.MathAdd(States.ArrayLength(States.StringSplit($.arn, '-')), -1))"
    )
    assert run(text, value) == "parts"


def test_compiling_twice_gives_independent_evaluators_of_the_same_text():
    first, second = compile_intrinsic("States.ArrayLength($.a)"), compile_intrinsic("States.ArrayLength($.a)")
    assert first({"a": [1]}, make_env()) == 1
    assert second({"a": [1, 2]}, make_env()) == 2


# --- run-time causes --------------------------------------------------------------------------


def test_a_missing_path_argument_names_the_whole_expression_and_the_input():
    error = failure("States.Format('{}', States.Format('{}', $.nope))", {"other": 1})
    assert error.cause == (
        "The function 'States.Format('{}', States.Format('{}', $.nope))' had the following error: "
        "The JsonPath argument for the field '$.nope' could not be found in the input '{\"other\":1}'"
    )


def test_a_missing_context_argument_is_reported_against_the_state_input():
    error = failure("States.Format('{}', $$.Nope.Deep)", {"other": 1})
    assert "the field '$.Nope.Deep' could not be found in the input '{\"other\":1}'" in error.cause


def test_an_index_past_the_end_is_a_missing_argument():
    error = failure("States.Format('{}', $.items[5])", {"items": [1, 2]})
    assert "the field '$.items[5]' could not be found" in error.cause


def test_a_present_null_argument_is_not_missing():
    assert run("States.Format('{}', $.nul)", {"nul": None}) == "null"


def test_a_wildcard_matching_nothing_is_an_empty_array():
    assert run("States.ArrayLength($.items[*].nope)", {"items": [1, 2]}) == 0


# --- States.Format ----------------------------------------------------------------------------


def test_format_renders_values_as_java_prints_them():
    value = {"s": "text", "i": 1, "f": 1.1, "n": None, "b": True, "o": {"Arg1": 1, "Arg2": [1.0, "x", None]}}
    text = "States.Format('{}|{}|{}|{}|{}|{}', $.s, $.i, $.f, $.n, $.b, $.o)"
    assert run(text, value) == "text|1|1.1|null|true|{Arg1=1, Arg2=[1.0, x, null]}"


def test_format_template_escapes_make_literal_braces_and_quotes():
    assert run(r"States.Format('\{\} {} \'q\'', 'x')") == "{} x 'q'"


def test_format_takes_its_template_from_a_path():
    assert run("States.Format($.t, $.n)", {"t": "It's {}!", "n": "Pikachu"}) == "It's Pikachu!"


@pytest.mark.parametrize(
    "text",
    ["States.Format('{} {}', 'a')", "States.Format('{}', 'a', 'b')", "States.Format('no placeholder', 'a')"],
)
def test_format_placeholder_count_must_match_the_arguments(text):
    assert "number of arguments do not match" in failure(text).cause


@pytest.mark.parametrize(
    "text", ["States.Format('Hello {', 'x')", "States.Format('}')", "States.Format('{{}}', 'x')"]
)
def test_format_stray_braces_fail_when_the_state_runs(text):
    error = failure(text)  # compiles: AWS reports a malformed template at run time
    assert "Invalid arguments in States.Format" in error.cause


def test_format_template_must_be_a_string():
    assert "Invalid arguments in States.Format" in failure("States.Format($.t, 1)", {"t": 123}).cause


# --- JSON ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", None),
        (" ", None),
        ("null", None),
        ("-0", 0),
        ("1.5", 1.5),
        ('"s"', "s"),
        ('{"a": [1]}', {"a": [1]}),
    ],
)
def test_string_to_json_parses_and_blank_is_null(text, expected):
    assert run("States.StringToJson($.s)", {"s": text}) == expected


@pytest.mark.parametrize("value", ["{not json", "NaN", "[1] trailing", 5, None])
def test_string_to_json_refuses_non_json_and_non_strings(value):
    invalid_arguments("States.StringToJson($.s)", {"s": value})


@pytest.mark.parametrize(
    "value, expected",
    [
        (None, "null"),
        (1, "1"),
        (1.0, "1.0"),
        (1e20, "1.0E20"),
        (0.00001, "1.0E-5"),
        ({"Arg1": 1, "Arg2": []}, '{"Arg1":1,"Arg2":[]}'),
        (["é", "\x01\n"], '["é","\\u0001\\n"]'),
    ],
)
def test_json_to_string_writes_compact_json_like_jackson(value, expected):
    assert run("States.JsonToString($.v)", {"v": value}) == expected


def test_json_merge_is_shallow_and_the_second_object_wins():
    value = {"a": {"x": 1, "keep": {"k": 1}}, "b": {"x": 2, "y": {"z": 3}}}
    assert run("States.JsonMerge($.a, $.b, false)", value) == {"x": 2, "keep": {"k": 1}, "y": {"z": 3}}


@pytest.mark.parametrize(
    "text",
    [
        "States.JsonMerge($.a, $.b, true)",
        "States.JsonMerge($.a, $.l, false)",
        "States.JsonMerge($.a, $.b, 0)",
    ],
)
def test_json_merge_refuses_deep_merge_and_non_objects(text):
    invalid_arguments(text, {"a": {}, "b": {}, "l": []})


# --- arrays --------------------------------------------------------------------------------------


def test_array_collects_any_values():
    assert run("States.Array()") == []
    assert run("States.Array($.a, 'x')", {"a": {"k": [1]}}) == [{"k": [1]}, "x"]


@pytest.mark.parametrize(
    "array, size, expected",
    [
        ([], 2, []),
        ([0, 1, 2], 2, [[0, 1], [2]]),
        ([0, 1, 2], 5, [[0, 1, 2]]),
        ([0, 1, 2, 3], 2.9, [[0, 1], [2, 3]]),
    ],
)
def test_array_partition_chunks_with_a_truncated_size(array, size, expected):
    assert run("States.ArrayPartition($.a, $.n)", {"a": array, "n": size}) == expected


@pytest.mark.parametrize("array, size", [([1], 0), ([1], 0.49), ([1], -1), ("abc", 1), ([1], "2")])
def test_array_partition_refuses_bad_arguments(array, size):
    invalid_arguments("States.ArrayPartition($.a, $.n)", {"a": array, "n": size})


@pytest.mark.parametrize(
    "array, wanted, expected",
    [
        ([], None, False),
        ([[1, 2, 3], 2], [1, 2, 3], True),
        ([True, False], True, True),
        ([1], True, False),
        ([1], 1.0, False),
        ([{"a": 1, "b": 2}], {"b": 2, "a": 1}, True),
    ],
)
def test_array_contains_uses_json_equality(array, wanted, expected):
    assert run("States.ArrayContains($.a, $.w)", {"a": array, "w": wanted}) is expected


@pytest.mark.parametrize(
    "args, expected",
    [
        ("1, 9, 2", [1, 3, 5, 7, 9]),
        ("0, 10, 3", [0, 3, 6, 9]),
        ("5, 1, -2", [5, 3, 1]),
        ("3, 3, -1", [3]),
        ("5, 1, 1", []),
        ("1.6, 1.4, 1", [1]),
        ("5.4, -0.6, -2.4", [5, 3, 1]),
    ],
)
def test_array_range_counts_with_truncated_arguments(args, expected):
    assert run(f"States.ArrayRange({args})") == expected


def test_array_range_allows_exactly_one_thousand_items():
    assert len(run("States.ArrayRange(1, 1000, 1)")) == 1000
    invalid_arguments("States.ArrayRange(1, 1001, 1)")
    invalid_arguments("States.ArrayRange(1001, 1, -1)")


@pytest.mark.parametrize("args", ["1, 10, 0", "1, 10, 0.49", "'a', 5, 1", "1, 5, null"])
def test_array_range_refuses_a_zero_step_and_non_numbers(args):
    invalid_arguments(f"States.ArrayRange({args})")


@pytest.mark.parametrize(
    "array, index, expected",
    [([1, 2, 3, 4, 5, 6, 7, 8, 9], 5, 6), ([10, 20, 30], 1.2, 20), ([None], 0, None), ([], 999, None)],
)
def test_array_get_item_reads_a_truncated_index(array, index, expected):
    assert run("States.ArrayGetItem($.a, $.i)", {"a": array, "i": index}) == expected


@pytest.mark.parametrize("array, index", [([10, 20, 30], 3), ([10, 20, 30], -1), ([1], "0"), ("abc", 0)])
def test_array_get_item_refuses_out_of_range_and_bad_types(array, index):
    invalid_arguments("States.ArrayGetItem($.a, $.i)", {"a": array, "i": index})


def test_array_length_and_its_type_check():
    assert run("States.ArrayLength($.a)", {"a": [None, [], {}]}) == 3
    invalid_arguments("States.ArrayLength($.a)", {"a": {"k": 1}})


def test_array_unique_keeps_first_occurrences_with_json_equality():
    value = {"a": [None, None, 1, 1.0, True, 1, "x", [1], [1], {"a": 1, "b": 2}, {"b": 2, "a": 1}, {"a": 1}]}
    assert run("States.ArrayUnique($.a)", value) == [None, 1, 1.0, True, "x", [1], {"a": 1, "b": 2}, {"a": 1}]


# --- encoding and hashing ------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["Data to encode", "", "✓ こんにちは 🚀"])
def test_base64_round_trips_utf8(text):
    encoded = run("States.Base64Encode($.s)", {"s": text})
    assert encoded == base64.b64encode(text.encode()).decode()
    assert run("States.Base64Decode($.s)", {"s": encoded}) == text


@pytest.mark.parametrize(
    "encoded, decoded",
    [
        (" YWJjZA== ", "abcd"),
        ("YWJjZA", "abcd"),
        ("abc", "i\ufffd"),
        ("ab==cd", "i"),
        ("YW Jj\tZA==", "abcd"),
    ],
)
def test_base64_decode_is_lenient_like_aws(encoded, decoded):
    assert run("States.Base64Decode($.s)", {"s": encoded}) == decoded


def test_encoding_inputs_are_limited_to_ten_thousand_java_characters():
    assert len(run("States.Base64Encode($.s)", {"s": "a" * 10_000})) > 0
    assert len(run("States.Hash($.s, 'SHA-256')", {"s": "a" * 10_000})) == 64
    for function in ("States.Base64Encode($.s)", "States.Base64Decode($.s)", "States.Hash($.s, 'MD5')"):
        invalid_arguments(function, {"s": "A" * 10_001})
    invalid_arguments("States.Base64Encode($.s)", {"s": "🚀" * 5_001})  # UTF-16: two units each


def test_base64_refuses_non_strings():
    invalid_arguments("States.Base64Encode($.s)", {"s": 123})
    invalid_arguments("States.Base64Decode($.s)", {"s": {}})


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-1", "SHA-256", "SHA-384", "SHA-512"])
def test_hash_supports_the_five_aws_algorithms(algorithm):
    expected = hashlib.new(algorithm.replace("-", "").lower(), b"input data").hexdigest()
    assert run("States.Hash($.d, $.a)", {"d": "input data", "a": algorithm}) == expected


def test_hash_of_input_data_matches_what_aws_recorded():
    assert run("States.Hash('input data', 'MD5')") == "812f45842bc6d66ee14572ce20db8e86"


@pytest.mark.parametrize("algorithm", ["sha-256", "SHA256", "MD-5", "", 256, None])
def test_hash_refuses_other_algorithm_names(algorithm):
    invalid_arguments("States.Hash('data', $.a)", {"a": algorithm})


def test_hash_of_a_number_hashes_its_text():
    assert run("States.Hash($.d, 'MD5')", {"d": 123}) == hashlib.md5(b"123").hexdigest()


# --- math ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "first, second, expected",
    [
        (1.49, 1.5, 3),
        (-1.51, 0, -2),
        (1.5, 0, 2),
        (3.5, 0, 4),
        (-0.5, 0.5, 1),
        (-1.49, -1.5, -2),
        (111, -1, 110),
    ],
)
def test_math_add_rounds_each_argument_half_up_like_java(first, second, expected):
    result = run("States.MathAdd($.a, $.b)", {"a": first, "b": second})
    assert result == expected and isinstance(result, int)


@pytest.mark.parametrize("first, second", [("1", 2), (None, 1), (2**31, 0), (0, -(2**31) - 1), (True, 1)])
def test_math_add_refuses_non_numbers_and_values_outside_java_int(first, second):
    invalid_arguments("States.MathAdd($.a, $.b)", {"a": first, "b": second})


@pytest.mark.parametrize("random_value, expected", [(0.0, 12), (0.5, 28), (0.999999, 43)])
def test_math_random_draws_from_the_injected_generator(random_value, expected):
    assert run("States.MathRandom(12.5, 44.51)", env=make_env(random_value=random_value)) == expected


def test_math_random_with_a_seed_repeats_java_util_random():
    # Values printed by `new java.util.Random(seed).nextInt(bound)` on OpenJDK 17.
    assert JavaRandom(42).next_int(10) == 0
    assert JavaRandom(42).next_int(100) == 30
    assert JavaRandom(7).next_int(1 << 20) == 766193
    assert run("States.MathRandom(0, 999, 3)") == 239
    assert run("States.MathRandom(1, 10, -10)") == 1
    assert run("States.MathRandom(1, 100, 42)") == run("States.MathRandom(1, 100, 42)")


@pytest.mark.parametrize(
    "args", ["1, 1", "10, 5", "1.49, 1.49", "1.4, 1.6", "'a', 10", "1, 10, 'seed'", "1, 10, null"]
)
def test_math_random_refuses_empty_ranges_and_non_numbers(args):
    invalid_arguments(f"States.MathRandom({args})")


# --- strings and ids -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, delimiters, expected",
    [
        (" ", ",", [" "]),
        (", , ,", ",", [" ", " "]),
        (",,,,", ",", []),
        ("split on T and \nnew line", "T\n", ["split on ", " and ", "new line"]),
        ("a.b-c", ".-", ["a", "b", "c"]),
        ("abc", "", ["abc"]),
    ],
)
def test_string_split_splits_on_each_delimiter_character_and_drops_empty_tokens(text, delimiters, expected):
    assert run("States.StringSplit($.s, $.d)", {"s": text, "d": delimiters}) == expected


def test_string_split_refuses_non_strings():
    invalid_arguments("States.StringSplit($.s, ',')", {"s": ["a,b"]})


def test_uuid_comes_from_the_environment():
    env = make_env()
    assert run("States.Array(States.UUID(), States.UUID())", env=env) == [
        "00000000-0000-4000-8000-000000000001",
        "00000000-0000-4000-8000-000000000002",
    ]


# --- Java rendering ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number, text",
    [
        (1, "1"),
        (-7, "-7"),
        (1.1, "1.1"),
        (100.0, "100.0"),
        (1e20, "1.0E20"),
        (1.5e-5, "1.5E-5"),
        (0.001, "0.001"),
        (1234567.0, "1234567.0"),
        (1e7, "1.0E7"),
        (123456789012.5, "1.234567890125E11"),
        (-0.0, "-0.0"),
        (0.1 + 0.2, "0.30000000000000004"),
    ],
)
def test_numbers_print_as_java_double_to_string(number, text):
    assert java_number_text(number) == text


def test_json_text_is_compact_and_keeps_key_order():
    assert java_json_text({"b": [1, {"a": None}], "a": "x/y"}) == '{"b":[1,{"a":null}],"a":"x/y"}'


# --- the conformance corpus --------------------------------------------------------------------------

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
CORPUS = SHARED / "conformance" / "cases" / "intrinsic_functions"


def _pass_state_chain(definition):
    """The Pass states from StartAt to End, when the machine is nothing else (JSONPath only)."""
    if definition.get("QueryLanguage") == "JSONata":
        return None
    states, name, chain = definition["States"], definition["StartAt"], []
    while name is not None:
        state = states[name]
        if (
            state.get("Type") != "Pass"
            or state.get("QueryLanguage") == "JSONata"
            or "Parameters" not in state
        ):
            return None
        chain.append((name, state))
        name = None if state.get("End") else state.get("Next")
    return chain


def _corpus_cases():
    if not CORPUS.is_dir():
        return []
    cases = (json.loads(path.read_text()) for path in sorted(CORPUS.glob("*.json")))
    return [case for case in cases if _pass_state_chain(case["definition"])]


def _load_runner():
    spec = importlib.util.spec_from_file_location("conformance_run", SHARED / "conformance" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run_chain(case):
    """A tiny Pass-state interpreter: InputPath, Parameters, ResultPath, OutputPath."""
    machine_arn = "arn:aws:states:us-east-1:111111111111:stateMachine:IntrinsicMachine"
    context = {
        "Execution": {
            "Id": "arn:aws:states:us-east-1:111111111111:execution:IntrinsicMachine:exec-1",
            "Input": case["input"],
            "Name": "exec-1",
        },
        "StateMachine": {"Id": machine_arn, "Name": "IntrinsicMachine"},
    }
    value = case["input"]
    for name, state in _pass_state_chain(case["definition"]):
        env = make_env(context={**context, "State": {"Name": name}})
        effective = compile_path(state["InputPath"]).get(value, env) if state.get("InputPath") else value
        result = compile_template(state["Parameters"])(effective, env)
        if "ResultPath" in state:
            result = (
                set_path(value, compile_path(state["ResultPath"]), result) if state["ResultPath"] else value
            )
        value = compile_path(state["OutputPath"]).get(result, env) if state.get("OutputPath") else result
    return value


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared conformance corpus is not on this machine")
@pytest.mark.parametrize("case", _corpus_cases(), ids=lambda case: case["id"])
def test_corpus_case(case):
    try:
        answer = {"status": "SUCCEEDED", "output": _run_chain(case)}
    except StatesError as error:
        answer = {"status": "FAILED", "error": error.name, "cause": error.cause}
    differences = _load_runner().check_result(case, {"ok": True, "result": answer})
    assert differences == []


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared conformance corpus is not on this machine")
def test_the_corpus_holds_the_pass_state_cases_this_harness_runs():
    # 99 cases; the rest use JSONata ($partition, $range, $parse) and belong to jsonata.py.
    assert len(_corpus_cases()) >= 70
