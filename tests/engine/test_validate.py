"""engine.validate: each rule reports AWS's code at AWS's location; the recorded corpus agrees."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.jsonata_checks import top_level_references
from engine.problems import (
    DUPLICATE_STATE_NAME,
    ERROR,
    INVALID_JSON_DESCRIPTION,
    INVALID_JSONATA_EXPRESSION,
    INVALID_LABEL_NAME,
    INVALID_RESOURCE,
    INVALID_STATE_NAME,
    MISSING_DESCRIPTION,
    MISSING_END_STATE,
    MISSING_TRANSITION_TARGET,
    NO_DOLLAR,
    PASS_RESULT_IS_STATIC,
    UNSUPPORTED_JSONATA_EXPRESSION,
    WARNING,
    Problem,
    format_invalid_definition,
)
from engine.problems import (
    SCHEMA_VALIDATION_FAILED as SCHEMA,
)
from engine.validate import iter_problems

CASES = Path("/work/shared/conformance/cases")


# --- definition builders -----------------------------------------------------------------------


def machine(states: dict, **top) -> dict:
    return {"StartAt": next(iter(states)), "States": states, **top}


def state(state_type: str = "Pass", **fields) -> dict:
    """A state of `state_type` that ends the machine unless `fields` say otherwise."""
    body = {"Type": state_type, **fields}
    if state_type in ("Pass", "Task", "Wait", "Parallel", "Map") and "Next" not in fields:
        body.setdefault("End", True)
    body = {key: value for key, value in body.items() if value is not None}
    if state_type == "Task":
        body.setdefault("Resource", "arn:aws:states:::lambda:invoke")
    if state_type == "Wait" and not {"Seconds", "SecondsPath", "Timestamp", "TimestampPath"} & body.keys():
        body["Seconds"] = 1
    return body


def one(state_type: str = "Pass", **fields) -> dict:
    """A machine of one state named A."""
    return machine({"A": state(state_type, **fields)})


def jsonata(definition: dict) -> dict:
    return {**definition, "QueryLanguage": "JSONata"}


def sub_machine(**states) -> dict:
    return {"StartAt": next(iter(states)), "States": states}


def choice_machine(*rules, **fields) -> dict:
    return machine(
        {"C": {"Type": "Choice", "Choices": list(rules), "Default": "D", **fields}, "D": {"Type": "Succeed"}}
    )


def rule(**fields) -> dict:
    return {"Variable": "$.x", "Next": "D", **fields}


def map_state(**fields) -> dict:
    fields.setdefault("ItemProcessor", sub_machine(P=state()))
    return one("Map", **fields)


def errors(definition, **options) -> list[Problem]:
    return [p for p in iter_problems(definition, **options) if p.severity == ERROR]


# --- one row per rule: (definition, location, code, part of the message) --------------------------

RULES = {
    # the document
    "not an object": ([], "/", SCHEMA, "Expected value of type: OBJECT"),
    "null definition": (None, None, MISSING_DESCRIPTION, "null or empty"),
    "unparsable JSON text": ('{"StartAt": ', None, INVALID_JSON_DESCRIPTION, ""),
    "empty object": ({}, "/", SCHEMA, "These fields are required: [States, StartAt]"),
    "no StartAt": ({"States": {"A": state()}}, "/", SCHEMA, "These fields are required: [StartAt]"),
    "States not an object": ({"StartAt": "A", "States": []}, "/States", SCHEMA, "OBJECT"),
    "States empty": ({"StartAt": "A", "States": {}}, "/States", SCHEMA, "at least one state"),
    "unknown top-level field": (
        machine({"A": state()}, Commnet="x"),
        "/",
        SCHEMA,
        "Field 'Commnet' is not supported",
    ),
    "machine TimeoutSeconds 0": (
        machine({"A": state()}, TimeoutSeconds=0),
        "/TimeoutSeconds",
        SCHEMA,
        "Minimum value is 1",
    ),
    "unknown QueryLanguage": (
        machine({"A": state()}, QueryLanguage="XPath"),
        "/QueryLanguage",
        SCHEMA,
        "JSONPath, JSONata",
    ),
    "state name over 80 characters": (
        machine({"N" * 81: state()}),
        "/States/" + "N" * 81,
        INVALID_STATE_NAME,
        "80",
    ),
    # states and their fields
    "state without Type": (machine({"A": {"End": True}}), "/States/A", SCHEMA, "[Type]"),
    "unknown Type": (one("Sleep"), "/States/A/Type", SCHEMA, "allowed values"),
    "Catch on a Pass": (
        one(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "A"}]),
        "/States/A",
        SCHEMA,
        "Field 'Catch' is not supported",
    ),
    "TimeoutSeconds on a Map": (
        map_state(TimeoutSeconds=5),
        "/States/A",
        SCHEMA,
        "Field 'TimeoutSeconds' is not supported",
    ),
    "InputPath on a Fail": (one("Fail", InputPath="$"), "/States/A", SCHEMA, "'InputPath' is not supported"),
    "Next on a Choice": (
        choice_machine(rule(NumericEquals=1), Next="D"),
        "/States/C",
        SCHEMA,
        "Field 'Next' is not supported",
    ),
    "Next and End": (
        machine({"A": state(Next="B", End=True), "B": state()}),
        "/States/A",
        SCHEMA,
        "There should only be one of the following fields: [Next, End]",
    ),
    "neither Next nor End": (one(End=None, Next=None), "/States/A", SCHEMA, "[Next, End]"),
    "End not a boolean": (one(End="yes"), "/States/A/End", SCHEMA, "BOOLEAN"),
    # query languages
    "JSONPath-only field in a JSONata state": (
        jsonata(one(Parameters={"a": 1})),
        "/States/A",
        SCHEMA,
        "The QueryLanguage is set to 'JSONata', but field 'Parameters' is only supported for the 'JSONPath' "
        "QueryLanguage",
    ),
    "a ...Path field in a JSONata state": (
        jsonata(one("Wait", SecondsPath="$.s")),
        "/States/A",
        SCHEMA,
        "field 'SecondsPath' is only supported for the 'JSONPath'",
    ),
    "JSONata-only field in a JSONPath state": (
        one(Output={"a": 1}),
        "/States/A",
        SCHEMA,
        "The QueryLanguage is set to 'JSONPath', but field 'Output' is only supported for the 'JSONata' "
        "QueryLanguage",
    ),
    "JSONPath state in a JSONata machine": (
        jsonata(one(QueryLanguage="JSONPath")),
        "/States/A",
        SCHEMA,
        "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine",
    ),
    "a Map's QueryLanguage does not reach its processor": (
        map_state(QueryLanguage="JSONata", ItemProcessor=sub_machine(P=state(Output=1))),
        "/States/A/ItemProcessor/States/P",
        SCHEMA,
        "field 'Output' is only supported for the 'JSONata'",
    ),
    "QueryLanguage on an ItemProcessor": (
        map_state(ItemProcessor={**sub_machine(P=state()), "QueryLanguage": "JSONPath"}),
        "/States/A/ItemProcessor",
        SCHEMA,
        "Field 'QueryLanguage' is not supported",
    ),
    "JSONata that does not parse": (
        jsonata(one(Output={"v": "{% 1 + %}"})),
        "/States/A/Output/v",
        INVALID_JSONATA_EXPRESSION,
        "Unexpected end of expression",
    ),
    "JSONata in an array item": (
        jsonata(one("Task", Arguments={"a": [1, "{% ( %}"]})),
        "/States/A/Arguments/a[1]",
        INVALID_JSONATA_EXPRESSION,
        "",
    ),
    "JSONata as a number field": (
        jsonata(one("Wait", Seconds="{% $x + %}")),
        "/States/A/Seconds",
        INVALID_JSONATA_EXPRESSION,
        "",
    ),
    "a bare name at the top of an expression": (
        jsonata(one(Output={"v": "{% phone %}"})),
        "/States/A/Output/v",
        UNSUPPORTED_JSONATA_EXPRESSION,
        "Reference to 'phone' at the top level is not supported.",
    ),
    "a bare name as a function argument": (
        jsonata(one(Assign={"n": "{% $count(items) %}"})),
        "/States/A/Assign/n",
        UNSUPPORTED_JSONATA_EXPRESSION,
        "'items'",
    ),
    # transitions and the graph
    "Next to no state": (
        machine({"A": state(Next="Nope")}),
        "/States/A/Next",
        MISSING_TRANSITION_TARGET,
        "Missing 'Next' target: Nope",
    ),
    "StartAt to no state": (
        {"StartAt": "Nope", "States": {"A": state()}},
        "/StartAt",
        MISSING_TRANSITION_TARGET,
        "Missing 'Next' target: Nope",
    ),
    "Default to no state": (
        machine(
            {"C": {"Type": "Choice", "Choices": [rule(NumericEquals=1)], "Default": "Nope"}, "D": state()}
        ),
        "/States/C/Default",
        MISSING_TRANSITION_TARGET,
        "Missing 'Next' target: Nope",
    ),
    "Choice rule to no state": (
        choice_machine(rule(NumericEquals=1, Next="Nope")),
        "/States/C/Choices[0]/Next",
        MISSING_TRANSITION_TARGET,
        "Missing 'Next' target: Nope",
    ),
    "Catch to no state": (
        one("Task", Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Nope"}]),
        "/States/A/Catch[0]/Next",
        MISSING_TRANSITION_TARGET,
        "Nope",
    ),
    "unreachable state": (
        machine({"A": state(), "B": state()}),
        "/States/B",
        MISSING_TRANSITION_TARGET,
        'State "B" is not reachable.',
    ),
    "reachable only from an unreachable state": (
        machine({"A": state(), "B": state(Next="C"), "C": state()}),
        "/States/C",
        MISSING_TRANSITION_TARGET,
        'State "C" is not reachable.',
    ),
    "no terminal state": (
        machine({"A": state(Next="B"), "B": state(Next="A")}),
        None,
        MISSING_END_STATE,
        "Workflow has no terminal state",
    ),
    "branch transitions stay in the branch": (
        machine(
            {
                "P": state("Parallel", Branches=[sub_machine(X=state(Next="Out", End=None))], Next="Out"),
                "Out": state(),
            }
        ),
        "/States/P/Branches[0]/States/X/Next",
        MISSING_TRANSITION_TARGET,
        "Missing 'Next' target: Out",
    ),
    "state names are unique across nested machines": (
        map_state(ItemProcessor=sub_machine(A=state())),
        "/States/A/ItemProcessor/States/A",
        DUPLICATE_STATE_NAME,
        "Duplicate State name: A",
    ),
    "a state name repeated in the JSON text": (
        '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}, "A": {"Type": "Succeed"}}}',
        "/States/A",
        DUPLICATE_STATE_NAME,
        "A",
    ),
    # Choice rules
    "two operators in one rule": (
        choice_machine(rule(NumericEquals=1, StringEquals="a")),
        "/States/C/Choices[0]",
        SCHEMA,
        "exactly one",
    ),
    "no operator": (choice_machine(rule()), "/States/C/Choices[0]", SCHEMA, "exactly one"),
    "data test without Variable": (
        choice_machine({"NumericEquals": 1, "Next": "D"}),
        "/States/C/Choices[0]",
        SCHEMA,
        "Variable",
    ),
    "top-level rule without Next": (
        choice_machine({"Variable": "$.x", "IsNull": True}),
        "/States/C/Choices[0]",
        SCHEMA,
        "Next",
    ),
    "Next inside a nested rule": (
        choice_machine({"Not": rule(IsNull=True), "Next": "D"}),
        "/States/C/Choices[0]/Not/Next",
        SCHEMA,
        "not supported",
    ),
    "And with no rules": (
        choice_machine({"And": [], "Next": "D"}),
        "/States/C/Choices[0]/And",
        SCHEMA,
        "And",
    ),
    "nested rule location": (
        choice_machine({"Or": [{"Variable": "$.x", "IsNull": "yes"}], "Next": "D"}),
        "/States/C/Choices[0]/Or[0]/IsNull",
        SCHEMA,
        "BOOLEAN",
    ),
    "NumericEquals takes a number": (
        choice_machine(rule(NumericEquals="1")),
        "/States/C/Choices[0]/NumericEquals",
        SCHEMA,
        "",
    ),
    "BooleanEquals takes a boolean": (
        choice_machine(rule(BooleanEquals="true")),
        "/States/C/Choices[0]/BooleanEquals",
        SCHEMA,
        "BOOLEAN",
    ),
    "StringMatches takes a string": (
        choice_machine(rule(StringMatches=1)),
        "/States/C/Choices[0]/StringMatches",
        SCHEMA,
        "STRING",
    ),
    "TimestampEquals takes a timestamp": (
        choice_machine(rule(TimestampEquals="yesterday")),
        "/States/C/Choices[0]/TimestampEquals",
        SCHEMA,
        "RFC3339",
    ),
    "an operator's Path must be a path": (
        choice_machine(rule(StringEqualsPath="x")),
        "/States/C/Choices[0]/StringEqualsPath",
        SCHEMA,
        "valid JSONPath",
    ),
    "Variable must be a path": (
        choice_machine(rule(Variable="x", IsNull=True)),
        "/States/C/Choices[0]/Variable",
        SCHEMA,
        "valid JSONPath",
    ),
    "Choices empty": (choice_machine(), "/States/C/Choices", SCHEMA, "at least 1"),
    "JSONata rule without Condition": (
        jsonata(choice_machine({"Next": "D"})),
        "/States/C/Choices[0]",
        SCHEMA,
        "'Condition' is required",
    ),
    "Variable in a JSONata rule": (
        jsonata(choice_machine({"Condition": True, "Variable": "$.x", "Next": "D"})),
        "/States/C/Choices[0]",
        SCHEMA,
        "field 'Variable' is only supported",
    ),
    "Condition in a JSONPath rule": (
        choice_machine(rule(IsNull=True, Condition=True)),
        "/States/C/Choices[0]",
        SCHEMA,
        "field 'Condition' is only supported",
    ),
    # Retry and Catch
    "ErrorEquals empty": (
        one("Task", Retry=[{"ErrorEquals": []}]),
        "/States/A/Retry[0]/ErrorEquals",
        SCHEMA,
        "at least 1",
    ),
    "ErrorEquals missing": (
        one("Task", Retry=[{}]),
        "/States/A/Retry[0]",
        SCHEMA,
        "'ErrorEquals' is required",
    ),
    "error names are strings": (
        one("Task", Retry=[{"ErrorEquals": [1]}]),
        "/States/A/Retry[0]/ErrorEquals[0]",
        SCHEMA,
        "STRING",
    ),
    "States.ALL not alone": (
        one("Task", Retry=[{"ErrorEquals": ["States.ALL", "X"]}]),
        "/States/A/Retry[0]/ErrorEquals",
        SCHEMA,
        "alone",
    ),
    "States.ALL not last": (
        one(
            "Task", Catch=[{"ErrorEquals": ["States.ALL"], "Next": "A"}, {"ErrorEquals": ["X"], "Next": "A"}]
        ),
        "/States/A/Catch[0]/ErrorEquals",
        SCHEMA,
        "last",
    ),
    "MaxAttempts below 0": (
        one("Task", Retry=[{"ErrorEquals": ["X"], "MaxAttempts": -1}]),
        "/States/A/Retry[0]/MaxAttempts",
        SCHEMA,
        "Minimum value is 0",
    ),
    "IntervalSeconds below 1": (
        one("Task", Retry=[{"ErrorEquals": ["X"], "IntervalSeconds": 0}]),
        "/States/A/Retry[0]/IntervalSeconds",
        SCHEMA,
        "Minimum value is 1",
    ),
    "IntervalSeconds not an integer": (
        one("Task", Retry=[{"ErrorEquals": ["X"], "IntervalSeconds": 1.5}]),
        "/States/A/Retry[0]/IntervalSeconds",
        SCHEMA,
        "INTEGER",
    ),
    "BackoffRate below 1": (
        one("Task", Retry=[{"ErrorEquals": ["X"], "BackoffRate": 0.5}]),
        "/States/A/Retry[0]/BackoffRate",
        SCHEMA,
        "Minimum value is 1.0",
    ),
    "MaxDelaySeconds below 1": (
        one("Task", Retry=[{"ErrorEquals": ["X"], "MaxDelaySeconds": 0}]),
        "/States/A/Retry[0]/MaxDelaySeconds",
        SCHEMA,
        "Minimum value is 1",
    ),
    "JitterStrategy outside FULL and NONE": (
        one("Task", Retry=[{"ErrorEquals": ["X"], "JitterStrategy": "HALF"}]),
        "/States/A/Retry[0]/JitterStrategy",
        SCHEMA,
        "FULL, NONE",
    ),
    "Catch without Next": (
        one("Task", Catch=[{"ErrorEquals": ["X"]}]),
        "/States/A/Catch[0]",
        SCHEMA,
        "'Next' is required",
    ),
    "Catch ResultPath in JSONata": (
        jsonata(one("Task", Catch=[{"ErrorEquals": ["X"], "Next": "A", "ResultPath": "$.e"}])),
        "/States/A/Catch[0]",
        SCHEMA,
        "field 'ResultPath' is only supported",
    ),
    # Wait
    "Wait without a duration": (
        machine({"A": {"Type": "Wait", "End": True}}),
        "/States/A",
        SCHEMA,
        "[Seconds, SecondsPath, Timestamp, TimestampPath]",
    ),
    "Wait with two durations": (
        one("Wait", Seconds=1, Timestamp="2016-03-14T01:59:00Z"),
        "/States/A",
        SCHEMA,
        "There should only be one of the following fields",
    ),
    "Seconds below 0": (one("Wait", Seconds=-1), "/States/A/Seconds", SCHEMA, "Minimum value is 0"),
    "Timestamp not RFC3339": (
        one("Wait", Timestamp="2016-12-05 21:29:29Z"),
        "/States/A/Timestamp",
        SCHEMA,
        "String does not match RFC3339 timestamp",
    ),
    "Timestamp hour 25": (
        one("Wait", Timestamp="2016-12-05T25:29:29Z"),
        "/States/A/Timestamp",
        SCHEMA,
        "RFC3339",
    ),
    "SecondsPath not a reference path": (
        one("Wait", SecondsPath="$.a[*]"),
        "/States/A/SecondsPath",
        SCHEMA,
        "Value is not a Reference Path",
    ),
    # Fail
    "Error and ErrorPath": (
        one("Fail", Error="E", ErrorPath="$.e"),
        "/States/A",
        SCHEMA,
        "[Error, ErrorPath]",
    ),
    "CausePath not a path": (one("Fail", CausePath="cause"), "/States/A/CausePath", SCHEMA, "valid JSONPath"),
    "ErrorPath with a bad intrinsic": (
        one("Fail", ErrorPath="States.Nope(1)"),
        "/States/A/ErrorPath",
        SCHEMA,
        "States.Nope",
    ),
    # Task
    "Task without Resource": (
        machine({"A": {"Type": "Task", "End": True}}),
        "/States/A",
        SCHEMA,
        "[Resource]",
    ),
    "Resource not an ARN": (
        one("Task", Resource="my-function"),
        "/States/A/Resource",
        INVALID_RESOURCE,
        "my-function",
    ),
    "TimeoutSeconds below 1": (
        one("Task", TimeoutSeconds=0),
        "/States/A/TimeoutSeconds",
        SCHEMA,
        "Minimum value is 1",
    ),
    "TimeoutSeconds and TimeoutSecondsPath": (
        one("Task", TimeoutSeconds=5, TimeoutSecondsPath="$.t"),
        "/States/A",
        SCHEMA,
        "[TimeoutSeconds, TimeoutSecondsPath]",
    ),
    "heartbeat not below timeout": (
        one("Task", TimeoutSeconds=5, HeartbeatSeconds=5),
        "/States/A/HeartbeatSeconds",
        SCHEMA,
        "smaller",
    ),
    "Credentials without RoleArn": (
        jsonata(one("Task", Credentials={})),
        "/States/A/Credentials",
        SCHEMA,
        "The field 'RoleArn' is required but was missing",
    ),
    # Parallel
    "Branches empty": (one("Parallel", Branches=[]), "/States/A/Branches", SCHEMA, "at least 1"),
    "branch without StartAt": (
        one("Parallel", Branches=[{"States": {"X": state()}}]),
        "/States/A/Branches[0]",
        SCHEMA,
        "These fields are required: [StartAt]",
    ),
    "branch without a terminal state": (
        one("Parallel", Branches=[sub_machine(X=state(End=None, Next="X"))]),
        "/States/A/Branches[0]",
        MISSING_END_STATE,
        "Workflow has no terminal state",
    ),
    # Map
    "Map without a processor": (one("Map"), "/States/A", SCHEMA, "[ItemProcessor, Iterator]"),
    "ItemProcessor and Iterator": (
        map_state(Iterator=sub_machine(I=state())),
        "/States/A",
        SCHEMA,
        "[ItemProcessor, Iterator]",
    ),
    "ItemSelector and Parameters": (
        map_state(ItemSelector={}, Parameters={}),
        "/States/A",
        SCHEMA,
        "[ItemSelector, Parameters]",
    ),
    "MaxConcurrency below 0": (
        map_state(MaxConcurrency=-1),
        "/States/A/MaxConcurrency",
        SCHEMA,
        "Minimum value is 0",
    ),
    "ToleratedFailurePercentage over 100": (
        map_state(ToleratedFailurePercentage=101),
        "/States/A/ToleratedFailurePercentage",
        SCHEMA,
        "Maximum value is 100.0",
    ),
    "a Map number path on the context object": (
        map_state(MaxConcurrencyPath="$$.Execution.Input.n"),
        "/States/A/MaxConcurrencyPath",
        SCHEMA,
        "Value is not a Reference Path",
    ),
    "unknown processor Mode": (
        map_state(ItemProcessor={**sub_machine(P=state()), "ProcessorConfig": {"Mode": "PARALLEL"}}),
        "/States/A/ItemProcessor/ProcessorConfig/Mode",
        SCHEMA,
        "INLINE, DISTRIBUTED",
    ),
    "DISTRIBUTED without ExecutionType": (
        map_state(ItemProcessor={**sub_machine(P=state()), "ProcessorConfig": {"Mode": "DISTRIBUTED"}}),
        "/States/A/ItemProcessor/ProcessorConfig",
        SCHEMA,
        "ExecutionType",
    ),
    "ItemBatcher literal and path": (
        map_state(ItemBatcher={"MaxItemsPerBatch": 2, "MaxItemsPerBatchPath": "$.n"}),
        "/States/A/ItemBatcher",
        SCHEMA,
        "[MaxItemsPerBatch, MaxItemsPerBatchPath]",
    ),
    "Label empty": (map_state(Label=""), "/States/A/Label", INVALID_LABEL_NAME, "Label cannot be empty"),
    "Label over 40 characters": (map_state(Label="x" * 41), "/States/A/Label", INVALID_LABEL_NAME, "40"),
    "Label with a forbidden character": (
        map_state(Label="a>b"),
        "/States/A/Label",
        INVALID_LABEL_NAME,
        "'>'",
    ),
    "Label with a control character": (
        map_state(Label="a\x85b"),
        "/States/A/Label",
        INVALID_LABEL_NAME,
        "invalid character",
    ),
    "Items in a JSONata Map is an array or an expression": (
        jsonata(map_state(Items={"a": 1})),
        "/States/A/Items",
        SCHEMA,
        "ARRAY",
    ),
    # paths and payload templates
    "InputPath not a path": (
        one(InputPath="input"),
        "/States/A/InputPath",
        SCHEMA,
        "The value for the field 'InputPath' must be a valid JSONPath",
    ),
    "ResultPath indefinite": (one(ResultPath="$.a[*]"), "/States/A/ResultPath", SCHEMA, "Reference Path"),
    "ResultPath into the context object": (
        one(ResultPath="$$.Execution"),
        "/States/A/ResultPath",
        SCHEMA,
        "Reference Path",
    ),
    "a .$ key without a path": (
        one(Parameters={"deep": {"x.$": "x"}}),
        "/States/A/Parameters/deep/x.$",
        SCHEMA,
        "must be a valid JSONPath or a valid intrinsic function call",
    ),
    "a .$ key with an unknown intrinsic": (
        one(Parameters={"x.$": "States.Nope()"}),
        "/States/A/Parameters/x.$",
        SCHEMA,
        "States.Nope",
    ),
    "a .$ key inside an array": (
        one("Task", ResultSelector={"l": [{"x.$": 1}]}),
        "/States/A/ResultSelector/l[0]/x.$",
        SCHEMA,
        "STRING",
    ),
    # variables
    "variable name starting with a digit": (one(Assign={"1x": 1}), "/States/A/Assign/1x", SCHEMA, "'1x'"),
    "the reserved variable states": (
        jsonata(one(Assign={"states": 1})),
        "/States/A/Assign/states",
        SCHEMA,
        "reserved",
    ),
    "Assign on a Succeed": (
        one("Succeed", Assign={"x": 1}),
        "/States/A",
        SCHEMA,
        "'Assign' is not supported",
    ),
    # Express machines
    "waitForTaskToken in an Express machine": (
        one("Task", Resource="arn:aws:states:::sns:publish.waitForTaskToken"),
        "/States/A/Resource",
        SCHEMA,
        "Express state machine does not support '.waitForTaskToken' service integration",
    ),
}
OPTIONS = {"waitForTaskToken in an Express machine": {"state_machine_type": "EXPRESS"}}


@pytest.mark.parametrize(("definition", "location", "code", "message"), RULES.values(), ids=RULES.keys())
def test_rule_is_reported_with_awss_code_and_location(request, definition, location, code, message):
    found = errors(definition, **OPTIONS.get(request.node.callspec.id, {}))
    matching = [p for p in found if (p.path, p.code) == (location, code) and message in p.message]
    assert matching, f"expected {code} at {location} ({message!r}); got {[str(p) for p in found]}"


def test_waitForTaskToken_is_fine_in_a_standard_machine():
    assert errors(one("Task", Resource="arn:aws:states:::sns:publish.waitForTaskToken")) == []


def test_no_terminal_state_replaces_the_unreachable_diagnostics():
    found = errors(machine({"A": state(Next="B"), "B": state(Next="A"), "C": state(Next="A")}))
    assert [(p.code, p.path) for p in found] == [(MISSING_END_STATE, None)]


def test_dangling_target_and_no_terminal_state_are_both_reported_in_awss_order():
    found = errors(machine({"A": state(Next="Nope")}))
    assert [(p.code, p.path) for p in found] == [
        (MISSING_TRANSITION_TARGET, "/States/A/Next"),
        (MISSING_END_STATE, None),
    ]


def test_problems_are_frozen_values():
    problem = Problem("/States/A", SCHEMA, "x")
    with pytest.raises(AttributeError):
        problem.code = "OTHER"  # type: ignore[misc]
    assert problem.severity == ERROR


@pytest.mark.parametrize(
    ("definition", "location", "code"),
    [
        (one(Parameters={"x": "$.a"}), "/States/A/Parameters/x", NO_DOLLAR),
        (one(Parameters={"x": "States.UUID()"}), "/States/A/Parameters/x", NO_DOLLAR),
        (one(Result={"x": "$.a"}), "/States/A/Result/x", PASS_RESULT_IS_STATIC),
    ],
    ids=["path without .$", "intrinsic without .$", "path in a Pass Result"],
)
def test_what_aws_only_warns_about_is_a_warning(definition, location, code):
    found = list(iter_problems(definition))
    assert [(p.path, p.code, p.severity) for p in found] == [(location, code, WARNING)]


def test_format_invalid_definition_is_awss_message_without_warnings():
    problems = [
        Problem("/States/A/Next", MISSING_TRANSITION_TARGET, "Missing 'Next' target: B"),
        Problem("/States/A/Parameters/x", NO_DOLLAR, "looks like a path", WARNING),
        Problem(None, MISSING_END_STATE, "Workflow has no terminal state"),
    ]
    assert format_invalid_definition(problems) == (
        "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: B at "
        "/States/A/Next, MISSING_END_STATE: Workflow has no terminal state at null'"
    )


VALID = {
    "every JSONPath state type": machine(
        {
            "P": state(
                InputPath="$.in",
                Parameters={"a.$": "$.x", "b.$": "States.Format('{}', $.y)", "c": [1]},
                ResultPath="$.out",
                OutputPath=None,
                Assign={"v.$": "$.x", "w": 1},
                Next="C",
            ),
            "C": {
                "Type": "Choice",
                "Choices": [
                    {
                        "And": [
                            {"Variable": "$.a", "NumericGreaterThanEquals": 1},
                            {"Not": {"Variable": "$$.x", "IsPresent": False}},
                        ],
                        "Next": "W",
                        "Assign": {"z": 2},
                    },
                    {"Variable": "$v", "StringEqualsPath": "$.b", "Next": "F"},
                ],
                "Default": "T",
            },
            "W": state("Wait", TimestampPath="$.when", Next="T"),
            "T": state(
                "Task",
                TimeoutSecondsPath="$.t",
                HeartbeatSeconds=5,
                ResultSelector={"r.$": "$.Payload"},
                Retry=[
                    {
                        "ErrorEquals": ["X", "Y"],
                        "MaxAttempts": 0,
                        "BackoffRate": 1.5,
                        "JitterStrategy": "FULL",
                        "MaxDelaySeconds": 10,
                    },
                    {"ErrorEquals": ["States.ALL"]},
                ],
                Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": None, "Next": "F"}],
                Next="Par",
            ),
            "Par": state(
                "Parallel", Branches=[sub_machine(B1=state()), sub_machine(B2=state("Succeed"))], Next="M"
            ),
            "M": state(
                "Map",
                ItemsPath="$$.Execution.Input.items",
                ItemSelector={"i.$": "$$.Map.Item.Value"},
                MaxConcurrency=0,
                ToleratedFailurePercentage=50.5,
                Label="my-label_1",
                ItemProcessor={
                    **sub_machine(MP=state()),
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                },
                Next="S",
            ),
            "S": {"Type": "Succeed", "OutputPath": "$.out"},
            "F": {"Type": "Fail", "ErrorPath": "States.Format('E{}', $.code)", "CausePath": "$.cause"},
        },
        Comment="all of it",
        Version="1.0",
        TimeoutSeconds=60,
    ),
    "every JSONata state type": jsonata(
        machine(
            {
                "P": state(Output={"a": "{% $states.input.a %}"}, Assign={"v": "{% 1 + 1 %}"}, Next="C"),
                "C": {
                    "Type": "Choice",
                    "Choices": [{"Condition": "{% $v > 1 %}", "Next": "W", "Output": 1}],
                    "Default": "T",
                    "Assign": {"w": 1},
                },
                "W": state("Wait", Seconds="{% $v %}", Next="T"),
                "T": state(
                    "Task",
                    Arguments={"FunctionName": "f", "Payload": "{% $states.input %}"},
                    TimeoutSeconds="{% 10 %}",
                    Credentials={"RoleArn": "arn:aws:iam::1:role/r"},
                    Catch=[
                        {"ErrorEquals": ["States.ALL"], "Output": "{% $states.errorOutput %}", "Next": "F"}
                    ],
                    Next="M",
                ),
                "M": state(
                    "Map",
                    Items="{% [1, 2] %}",
                    ItemSelector={"i": "{% $states.context.Map.Item.Value %}"},
                    MaxConcurrency="{% 2 %}",
                    ItemProcessor=sub_machine(MP=state(Output="{% $states.input %}")),
                    Next="S",
                ),
                "S": {"Type": "Succeed", "Output": "{% $states.input %}"},
                "F": {"Type": "Fail", "Error": "{% 'E' %}", "Cause": "c"},
            }
        )
    ),
    "a JSONata state in a JSONPath machine": machine({"A": state(QueryLanguage="JSONata", Output="{% 1 %}")}),
    "legacy Map with Iterator and Parameters": one(
        "Map", Iterator=sub_machine(I=state()), Parameters={"x.$": "$$.Map.Item.Value"}, MaxConcurrency=1
    ),
    "JSON text": '{"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}',
}


@pytest.mark.parametrize("definition", VALID.values(), ids=VALID.keys())
def test_valid_definitions_have_no_errors(definition):
    assert [str(p) for p in errors(definition)] == []


# --- the corpus recorded on AWS ----------------------------------------------------------------------


def _corpus(kind: str) -> list:
    if not CASES.is_dir():
        return [
            pytest.param(None, marks=pytest.mark.skip(reason="/work/shared conformance corpus not present"))
        ]
    cases = []
    for path in sorted(CASES.rglob("*.json")):
        case = json.loads(path.read_text())
        if case["kind"] == kind:
            cases.append(pytest.param(case, id=case["id"]))
    return cases


@pytest.mark.parametrize("case", _corpus("invalid-definition"))
def test_definitions_aws_rejected_are_rejected(case):
    found = errors(case["definition"], state_machine_type=case["state_machine_type"] or "STANDARD")
    assert found, f"AWS said: {case['expected']['cause']}"


@pytest.mark.parametrize("case", _corpus("execution"))
def test_definitions_aws_ran_have_no_errors(case):
    found = errors(case["definition"], state_machine_type=case["state_machine_type"] or "STANDARD")
    assert [str(p) for p in found] == []


def test_aws_recorded_messages_are_reproduced_word_for_word():
    """Where AWS's own diagnostic was recorded, our message is the same text."""
    if not CASES.is_dir():
        pytest.skip("/work/shared conformance corpus not present")
    compared = 0
    for path in sorted(CASES.rglob("*.json")):
        case = json.loads(path.read_text())
        cause = case["expected"].get("cause") or ""
        if case["kind"] != "invalid-definition" or not isinstance(cause, str) or "Error=" in cause:
            continue  # LocalStack's own text was recorded for the Map label cases, not AWS's
        found = errors(case["definition"], state_machine_type=case["state_machine_type"] or "STANDARD")
        if cause.startswith("Invalid State Machine Definition"):
            assert format_invalid_definition(found) == cause
        else:  # ValidateStateMachineDefinition: one diagnostic, "CODE: message"
            assert [f"{p.code}: {p.message}" for p in found] == [cause]
        compared += 1
    assert compared >= 9


@pytest.mark.parametrize(
    "resource",
    ["arn:aws:states:::states:startExecution.sync:2", "arn:aws:states:::ecs:runTask.sync"],
)
def test_sync_integrations_are_refused_in_express_machines(resource):
    found = errors(one("Task", Resource=resource), state_machine_type="EXPRESS")
    assert [(p.path, p.code) for p in found] == [("/States/A/Resource", SCHEMA)]
    assert "'.sync' service integration" in found[0].message


ODD_DEFINITIONS = {
    "a Type that is an object": machine({"A": {"Type": {"x": 1}, "End": True}}),
    "a StartAt that is an object": {"StartAt": {"x": 1}, "States": {"A": state()}},
    "a state that is a list": machine({"A": [1]}),
    "Choices that are not rules": choice_machine(1, None, [{}]),
    "Retry that is an object": one("Task", Retry={"ErrorEquals": ["X"]}),
    "Branches holding strings": one("Parallel", Branches=["x"]),
    "an End that is huge": one(End=10**30),
    "a JSON text that is not an object": "[1, 2]",
}


@pytest.mark.parametrize("definition", ODD_DEFINITIONS.values(), ids=ODD_DEFINITIONS.keys())
def test_odd_values_are_problems_not_exceptions(definition):
    assert errors(definition)


REFERENCES = {
    "$states.input.a": [],
    "$x[price > 1].name": [],
    "$map($x, function($v){ $v.a + c })": [],
    "$states.input{name: value}": [],
    "$x.(a + b)": [],
    "$states.input.items^(price).name": [],
    "true and false or null": [],
    "$x in [1, 2]": [],
    "$contains('hello$world', /^hello a/) and $a/2 > 1": [],
    "$fn := function($x){$x}": [],
    "phone": ["phone"],
    "a.b": ["a"],
    "{'k': v, 'l': [w]}": ["v", "w"],
    "$x & b ? 'yes' : c": ["b", "c"],
    "`odd key` & 'a string'": ["odd key"],
}


@pytest.mark.parametrize(("expression", "names"), REFERENCES.items(), ids=REFERENCES.keys())
def test_top_level_references_are_names_read_from_no_context(expression, names):
    assert top_level_references(expression) == names
