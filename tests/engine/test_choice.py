"""Choice rules: every operator, the Path variants, Boolean nesting, and AWS's recorded behaviour."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from engine.choice import (
    COMPARISONS,
    DATA_TEST_OPERATORS,
    PATH_COMPARISONS,
    InvalidChoiceRule,
    compile_choice_rule,
    parse_timestamp,
    rule_problems,
)
from engine.errors import NO_CHOICE_MATCHED, RUNTIME, StatesError

ENV = SimpleNamespace(
    context={"Execution": {"Name": "run-1"}}, variables={"limit": 10, "tags": {"env": "prod"}}
)


def holds(rule: dict, value, env=ENV) -> bool:
    return compile_choice_rule(rule)(value, env)


def check(operator: str, variable, operand) -> bool:
    return holds({"Variable": "$.v", operator: operand}, {"v": variable})


def check_path(operator: str, variable, right) -> bool:
    return holds({"Variable": "$.v", operator: "$.r"}, {"v": variable, "r": right})


# --- the operator inventory ------------------------------------------------------------------------


def test_there_are_the_39_operators_aws_documents():
    assert len(DATA_TEST_OPERATORS) == 39
    assert "StringMatchesPath" not in DATA_TEST_OPERATORS
    assert "IsNullPath" not in DATA_TEST_OPERATORS


def test_every_comparison_has_a_path_variant_that_agrees_with_the_literal_form():
    samples = {"String": ("b", "a"), "Numeric": (2, 1), "Boolean": (True, True), "Timestamp": (
        "2020-01-01T00:00:01Z", "2020-01-01T00:00:00Z")}
    for path_name, name in PATH_COMPARISONS.items():
        family = next(prefix for prefix in samples if name.startswith(prefix))
        left, right = samples[family]
        for a, b in ((left, right), (right, left), (left, left)):
            assert check_path(path_name, a, b) == check(name, a, b), (path_name, a, b)


# --- strings ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "left", "right", "expected"),
    [
        ("StringEquals", "abc", "abc", True),
        ("StringEquals", "abc", "abd", False),
        ("StringEquals", " ", "     ", False),
        ("StringLessThan", "A", "AB", True),
        ("StringLessThan", "AB", "A", False),
        ("StringLessThan", "B", "a", True),  # by code unit: uppercase before lowercase
        ("StringGreaterThan", "", "", False),
        ("StringGreaterThan", "b", "a", True),
        ("StringLessThanEquals", "", "", True),
        ("StringLessThanEquals", "b", "a", False),
        ("StringGreaterThanEquals", "AB", "A", True),
        ("StringGreaterThanEquals", "A", "AB", False),
    ],
)
def test_string_comparisons(operator, left, right, expected):
    assert check(operator, left, right) is expected
    assert check_path(operator + "Path", left, right) is expected


def test_strings_order_by_utf16_code_units_as_java_does_not_by_code_points():
    emoji, private_use = "\U0001f600", "\ue000"  # code points: emoji > U+E000; UTF-16: D83D < E000
    assert emoji > private_use  # Python's order, which AWS does not follow
    assert check("StringLessThan", emoji, private_use)
    assert not check("StringGreaterThan", emoji, private_use)
    assert check("StringGreaterThanEquals", "\uffff", emoji)


def test_a_lone_surrogate_from_json_text_still_compares():
    lone = json.loads('"\\ud800"')
    assert check("StringLessThan", lone, "\ue000")


@pytest.mark.parametrize("not_a_string", [None, 0, 1.5, True, [], ["a"], {}, {"a": "a"}])
def test_string_operators_are_false_for_other_types(not_a_string):
    for operator in ("StringEquals", "StringLessThan", "StringGreaterThanEquals", "StringMatches"):
        assert not check(operator, not_a_string, "*" if operator == "StringMatches" else "a")


# --- StringMatches -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("log-*.txt", "log-2024.txt", True),
        ("log-*.txt", "log-.txt", True),
        ("log-*.txt", "log-1.txt.gz", False),
        ("*.log", "zebra.log", True),
        ("foo*.*", "foobar.zebra", True),
        ("*", "", True),
        ("*", "multi\nline", True),
        ("a*b*c", "aXXbYYc", True),
        ("a*b*c", "aXXcYYb", False),
        ("abc", "ABC", False),
        ("a.c", "abc", False),  # only * is special: no regex leaks through
        ("a?c", "abc", False),
        ("[ab]", "a", False),
        (r"a\*", "a*", True),  # JSON "a\\*": a literal star
        (r"a\*", "ab", False),
        (r"a\\*", "a\\xyz", True),  # JSON "a\\\\*": a literal backslash, then the wildcard
        (r"a\\", "a\\", True),
    ],
)
def test_string_matches_wildcards_and_escapes(pattern, text, expected):
    assert check("StringMatches", text, pattern) is expected


# --- numbers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "left", "right", "expected"),
    [
        ("NumericEquals", 1, 1.0, True),
        ("NumericEquals", 0.0, 0, True),
        ("NumericEquals", 2.22, 2.22, True),
        ("NumericEquals", 1.1, 1, False),
        ("NumericLessThan", 0, 1, True),
        ("NumericLessThan", 1, 1, False),
        ("NumericGreaterThan", 1.5, 1, True),
        ("NumericGreaterThan", 1, 1, False),
        ("NumericLessThanEquals", 1, 1.0, True),
        ("NumericLessThanEquals", 1, 0, False),
        ("NumericGreaterThanEquals", -2.25, -2.25, True),
        ("NumericGreaterThanEquals", 0, 1, False),
        ("NumericEquals", 10**30, 10**30, True),
    ],
)
def test_numeric_comparisons(operator, left, right, expected):
    assert check(operator, left, right) is expected
    assert check_path(operator + "Path", left, right) is expected


@pytest.mark.parametrize(("boolean", "number"), [(True, 1), (False, 0), (True, 1.0), (False, 0.0)])
def test_booleans_are_not_numbers(boolean, number):
    assert boolean == number  # the Python trap
    assert not check("NumericEquals", boolean, number)
    assert not check_path("NumericEqualsPath", number, boolean)
    assert not check("NumericGreaterThanEquals", boolean, number)
    assert not check("IsNumeric", boolean, True)
    assert not check("BooleanEquals", number, boolean)


@pytest.mark.parametrize("not_a_number", [None, "1", "", [], [1], {}, {"A": 0}])
def test_numeric_operators_are_false_for_other_types(not_a_number):
    assert not check("NumericEquals", not_a_number, 1)
    assert not check("NumericLessThan", not_a_number, 1)
    assert not check_path("NumericEqualsPath", 1, not_a_number)


# --- booleans ---------------------------------------------------------------------------------------


def test_boolean_equals():
    assert check("BooleanEquals", True, True)
    assert check("BooleanEquals", False, False)
    assert not check("BooleanEquals", False, True)
    assert not check("BooleanEquals", "true", True)
    assert not check("BooleanEquals", None, False)
    assert check_path("BooleanEqualsPath", False, False)
    assert not check_path("BooleanEqualsPath", 0, False)


# --- timestamps -------------------------------------------------------------------------------------

T0, T1 = "2012-10-09T19:00:55Z", "2012-10-09T19:00:56Z"


@pytest.mark.parametrize(
    ("operator", "left", "right", "expected"),
    [
        ("TimestampEquals", T0, T0, True),
        ("TimestampEquals", T0, T1, False),
        ("TimestampEquals", "2012-10-09T20:00:55+01:00", T0, True),  # instants compare, not text
        ("TimestampEquals", "2012-10-09T19:00:55.000Z", T0, True),
        ("TimestampEquals", "2012-10-09T19:00:55-00:00", T0, True),
        ("TimestampLessThan", T0, T1, True),
        ("TimestampLessThan", T1, T0, False),
        ("TimestampLessThan", "2012-10-09T19:00:55.999999999Z", T1, True),
        ("TimestampLessThan", "2012-10-09T19:00:55.1234567Z", "2012-10-09T19:00:55.1234568Z", True),
        ("TimestampGreaterThan", T1, T0, True),
        ("TimestampGreaterThan", "2012-10-09T19:00:56+01:00", T0, False),
        ("TimestampLessThanEquals", T0, T0, True),
        ("TimestampLessThanEquals", T1, T0, False),
        ("TimestampGreaterThanEquals", T0, T1, False),
        ("TimestampGreaterThanEquals", T1, T1, True),
    ],
)
def test_timestamp_comparisons(operator, left, right, expected):
    assert check(operator, left, right) is expected
    assert check_path(operator + "Path", left, right) is expected


@pytest.mark.parametrize(
    "text",
    ["2016-03-14T01:59:00Z", "2016-03-14T01:59:00.1Z", "2016-03-14T01:59:00.123456789Z",
     "2016-03-14T01:59:00+05:30", "2016-03-14T01:59:00-18:00", "2016-02-29T23:59:59Z"],
)
def test_rfc3339_timestamps_are_timestamps(text):
    assert check("IsTimestamp", text, True)
    assert parse_timestamp(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "2012-10-09T19:00:55",  # no offset
        "2023-02-24",  # a date alone
        "2023-02-24 12:15:56.832957",  # space instead of T
        "2016-03-14t01:59:00Z",  # ASL demands an uppercase T ...
        "2016-03-14T01:59:00z",  # ... and Z
        "2016-03-14T01:59Z",  # seconds are required
        "2016-03-14T01:59:00.Z",
        "2016-03-14T01:59:00.1234567890Z",  # more than nanoseconds
        "2016-03-14T01:59:00+0100",  # offset needs its colon
        "2016-03-14T01:59:00+19:00",
        "2016-12-05T25:29:29Z",
        "2016-02-30T00:00:00Z",
        "2016-03-14T01:59:60Z",
        " 2016-03-14T01:59:00Z",
        "２０１６-03-14T01:59:00Z",  # fullwidth digits are digits to Python's \d, not to RFC 3339
        "",
    ],
)
def test_other_strings_are_not_timestamps(text):
    assert not check("IsTimestamp", text, True)
    assert check("IsTimestamp", text, False)
    assert not check("TimestampEquals", text, T0)
    assert not check_path("TimestampLessThanEqualsPath", T0, text)


def test_timestamp_operators_are_false_for_other_types():
    for value in (None, 0, 1349809255, True, [], {}, [T0]):
        assert not check("TimestampEquals", value, T0)
        assert not check("IsTimestamp", value, True)


# --- type tests -------------------------------------------------------------------------------------

VALUES = [None, 0, 0.0, 1.1, "", "HelloWorld", T0, [], [""], {}, {"A": 0}, True, False]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_type_tests_say_what_json_type_a_value_has(value):
    assert check("IsNull", value, True) is (value is None)
    assert check("IsNumeric", value, True) is (type(value) in (int, float))
    assert check("IsString", value, True) is isinstance(value, str)
    assert check("IsBoolean", value, True) is isinstance(value, bool)
    assert check("IsTimestamp", value, True) is (value == T0)
    for operator in ("IsNull", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp"):
        assert check(operator, value, False) is not check(operator, value, True)


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_is_present_is_true_for_any_value_even_null(value):
    assert check("IsPresent", value, True)
    assert not check("IsPresent", value, False)


def test_is_present_is_false_for_a_missing_key_a_missing_index_or_an_undefined_variable():
    assert not holds({"Variable": "$.missing", "IsPresent": True}, {})
    assert holds({"Variable": "$.missing", "IsPresent": False}, {})
    assert not holds({"Variable": "$.a[3]", "IsPresent": True}, {"a": [1]})
    assert not holds({"Variable": "$.a.b", "IsPresent": True}, {"a": "not an object"})
    assert not holds({"Variable": "$nope", "IsPresent": True}, {})
    assert holds({"Variable": "$$.Execution.Name", "IsPresent": True}, {})


# --- missing paths --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rule",
    [
        {"Variable": "$.missing", "NumericEquals": 1},
        {"Variable": "$.missing", "IsNull": True},
        {"Variable": "$.missing", "IsString": False},
        {"Variable": "$.missing", "StringMatches": "*"},
        {"Variable": "$.missing", "BooleanEqualsPath": "$.flag"},
    ],
)
def test_a_missing_variable_fails_the_state_with_states_runtime(rule):
    with pytest.raises(StatesError) as raised:
        holds(rule, {"flag": True})
    assert raised.value.name == RUNTIME
    assert raised.value.cause == (
        "Invalid path '$.missing': The choice state's condition path references an invalid value."
    )


def test_the_error_quotes_the_path_as_written():
    with pytest.raises(StatesError) as raised:
        holds({"Variable": "$['a b'].c", "StringEquals": "x"}, {"a b": {}})
    assert "Invalid path '$['a b'].c'" in raised.value.cause


def test_a_missing_right_hand_path_fails_even_when_the_left_type_could_not_match():
    for left in (8, "8"):
        with pytest.raises(StatesError) as raised:
            holds({"Variable": "$.left", "NumericLessThanEqualsPath": "$.right"}, {"left": left})
        assert raised.value.name == RUNTIME
        assert raised.value.cause.startswith("Invalid path '$.right': ")


def test_a_null_variable_is_present_and_just_of_the_wrong_type():
    assert not holds({"Variable": "$.v", "NumericEquals": 0}, {"v": None})
    assert not holds({"Variable": "$.v", "NumericEqualsPath": "$.r"}, {"v": 0, "r": None})


# --- where paths read from ------------------------------------------------------------------------


def test_variable_and_right_hand_side_can_read_context_and_variables():
    assert holds({"Variable": "$$.Execution.Name", "StringEquals": "run-1"}, {})
    assert holds({"Variable": "$.n", "NumericLessThanPath": "$limit"}, {"n": 9})
    assert not holds({"Variable": "$.n", "NumericLessThanPath": "$limit"}, {"n": 10})
    env = SimpleNamespace(context={"Execution": {"Name": "prod"}}, variables={"tags": {"env": "prod"}})
    assert holds({"Variable": "$tags.env", "StringEqualsPath": "$$.Execution.Name"}, {}, env)
    with pytest.raises(StatesError):
        holds({"Variable": "$undefined", "StringEquals": "x"}, {})


def test_a_compiled_rule_evaluates_many_inputs():
    rule = compile_choice_rule({"Variable": "$.n", "NumericGreaterThan": 5, "Next": "Big"})
    assert [rule({"n": n}, ENV) for n in (4, 5, 6, 7.5)] == [False, False, True, True]


# --- Boolean expressions --------------------------------------------------------------------------


def test_and_or_not_nest():
    rule = {
        "Or": [
            {
                "And": [
                    {"Variable": "$.a", "NumericGreaterThanEquals": 20},
                    {"Variable": "$.a", "NumericLessThan": 30},
                ]
            },
            {"Not": {"Variable": "$.kind", "StringEquals": "public"}},
        ],
        "Next": "X",
    }
    assert holds(rule, {"a": 25, "kind": "public"})
    assert not holds(rule, {"a": 30, "kind": "public"})
    assert holds(rule, {"a": 30, "kind": "private"})
    assert holds({"And": [{"Variable": "$.a", "IsPresent": True}]}, {"a": 1})
    assert holds({"Not": {"Not": {"Variable": "$.a", "BooleanEquals": True}}}, {"a": True})


def test_and_stops_at_the_first_false_so_is_present_can_guard_a_missing_key():
    rule = {
        "And": [{"Variable": "$.maybe", "IsPresent": True}, {"Variable": "$.maybe", "StringEquals": "foo"}]
    }
    assert not holds(rule, {})
    assert holds(rule, {"maybe": "foo"})


def test_or_stops_at_the_first_true():
    rule = {"Or": [{"Variable": "$.a", "IsPresent": False}, {"Variable": "$.a", "NumericEquals": 1}]}
    assert holds(rule, {})
    with pytest.raises(StatesError):
        holds({"Or": [{"Variable": "$.a", "IsPresent": True}, {"Variable": "$.a", "NumericEquals": 1}]}, {})


def test_not_of_a_missing_variable_is_still_an_error_not_true():
    with pytest.raises(StatesError):
        holds({"Not": {"Variable": "$.missing", "StringEquals": "x"}}, {})


def test_top_level_transition_fields_are_ignored():
    rule = {"Variable": "$.a", "IsNull": True, "Next": "N", "Comment": "c", "Assign": {"x": 1}}
    assert holds(rule, {"a": None})


# --- checks for the validator ---------------------------------------------------------------------

AT = "/States/Check/Choices/0"


def problems_of(rule, top_level=True):
    return rule_problems(rule, AT, top_level=top_level)


def test_a_well_formed_rule_has_no_problems():
    assert problems_of({"Variable": "$.a", "NumericEquals": 1, "Next": "N"}) == []
    assert problems_of({"Not": {"Variable": "$.a", "StringMatches": "x*"}, "Next": "N"}) == []
    assert problems_of({"Variable": "$.a", "TimestampEqualsPath": "$$.State.EnteredTime", "Next": "N"}) == []


@pytest.mark.parametrize(
    ("rule", "where", "words"),
    [
        ({"Variable": "$.a", "NumericEquals": "1", "Next": "N"}, "/NumericEquals", "NUMBER"),
        ({"Variable": "$.a", "NumericEquals": True, "Next": "N"}, "/NumericEquals", "NUMBER"),
        ({"Variable": "$.a", "StringEquals": 1, "Next": "N"}, "/StringEquals", "STRING"),
        ({"Variable": "$.a", "BooleanEquals": 1, "Next": "N"}, "/BooleanEquals", "BOOLEAN"),
        ({"Variable": "$.a", "IsNull": "true", "Next": "N"}, "/IsNull", "BOOLEAN"),
        ({"Variable": "$.a", "TimestampEquals": "2016-03-14", "Next": "N"}, "/TimestampEquals", "RFC3339"),
        ({"Variable": "$.a", "NumericEqualsPath": "a", "Next": "N"}, "/NumericEqualsPath", "JSONPath"),
        ({"Variable": "a", "NumericEquals": 1, "Next": "N"}, "/Variable", "JSONPath"),
        ({"NumericEquals": 1, "Next": "N"}, "", "'Variable' is required"),
        ({"Variable": "$.a", "Next": "N"}, "", "exactly one"),
        ({"Variable": "$.a", "IsNull": True, "IsString": True, "Next": "N"}, "", "exactly one"),
        ({"Variable": "$.a", "StringMatchesPath": "$.b", "Next": "N"}, "/StringMatchesPath", "not supported"),
        ({"Variable": "$.a", "IsNull": True}, "", "'Next' is required"),
        ({"And": [], "Next": "N"}, "/And", "non-empty"),
        ({"Or": {"Variable": "$.a", "IsNull": True}, "Next": "N"}, "/Or", "non-empty"),
        ({"And": [{"Variable": "$.a", "IsNull": True, "Next": "N"}], "Next": "N"}, "/And/0/Next", "nested"),
        ({"Not": {"Variable": "$.a", "IsNull": 1}, "Next": "N"}, "/Not/IsNull", "BOOLEAN"),
        ({"Not": "x", "Next": "N"}, "/Not", "OBJECT"),
        ({"And": [{"Variable": "$.a", "IsNull": True}], "Variable": "$.a", "Next": "N"}, "/Variable", "And"),
    ],
)
def test_rule_problems_name_the_field_and_the_reason(rule, where, words):
    problems = problems_of(rule)
    assert any(path == AT + where and words in message for path, message in problems), problems


def test_compile_raises_invalid_choice_rule_with_the_path_of_the_bad_field():
    with pytest.raises(InvalidChoiceRule) as raised:
        compile_choice_rule(
            {"Or": [{"Variable": "$.a", "IsNull": True}, {"Variable": "$.a", "NumericLessThan": "x"}]}
        )
    assert raised.value.path == "/Or/1/NumericLessThan"
    assert isinstance(raised.value, ValueError)


def test_compile_accepts_a_rule_without_next():
    assert compile_choice_rule({"Variable": "$.a", "IsNull": True})({"a": None}, ENV)


def test_comparison_table_covers_each_family():
    families = {name.removesuffix(suffix) for name in COMPARISONS for suffix in (
        "LessThanEquals", "GreaterThanEquals", "Equals", "LessThan", "GreaterThan") if name.endswith(suffix)}
    assert {"String", "Numeric", "Boolean", "Timestamp"} <= families


# --- the corpus recorded against AWS ------------------------------------------------------------

CASES = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "cases" / "choice_operators"
CASE_FILES = sorted(CASES.glob("*.json")) if CASES.is_dir() else []


def run_choice_case(case: dict) -> dict:
    """Run a corpus machine made of one Choice state leading to Pass states with a fixed Result."""
    states = case["definition"]["States"]
    choice = states[case["definition"]["StartAt"]]
    assert choice["Type"] == "Choice"
    value = case["input"]
    try:
        rules = [(compile_choice_rule(rule), rule["Next"]) for rule in choice["Choices"]]
        target = next((name for rule, name in rules if rule(value, ENV)), choice.get("Default"))
        if target is None:
            raise StatesError(NO_CHOICE_MATCHED, None)
    except StatesError as error:
        return {"status": "FAILED", "error": error.name, "cause": error.cause}
    chosen = states[target]
    assert chosen["Type"] == "Pass" and chosen.get("End"), chosen
    return {"status": "SUCCEEDED", "output": chosen.get("Result", value)}


@pytest.mark.skipif(not CASE_FILES, reason="the conformance corpus (/work/shared) is not available")
@pytest.mark.parametrize("case_file", CASE_FILES, ids=lambda path: path.stem)
def test_aws_recorded_choice_case(case_file):
    case = json.loads(case_file.read_text())
    expected = case["expected"]
    result = run_choice_case(case)
    assert result["status"] == expected["status"]
    if expected["status"] == "SUCCEEDED":
        assert result["output"] == expected["output"]
    else:
        assert (result["error"], result["cause"]) == (expected["error"], expected["cause"])


def test_the_corpus_is_all_there_when_available():
    if not CASES.is_dir():
        pytest.skip("the conformance corpus (/work/shared) is not available")
    assert len(CASE_FILES) == 281
