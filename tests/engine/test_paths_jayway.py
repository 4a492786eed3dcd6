"""Every path form Jayway JsonPath (what AWS evaluates JSONPath with) accepts compiles, validates and
evaluates as Jayway does; the forms Jayway refuses are still refused with the validator's message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.paths import InvalidPath, PathNotFound, compile_path
from engine.problems import ERROR
from engine.validate import iter_problems

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "aws_samples"

# Path strings from real state machines. (source) is where they were read.
REAL_PATHS = [
    # aws-samples/step-functions-workflows-collection (MIT-0)
    "$$.Execution.Id", "$$.Execution.Input.Process1ToComplete", "$.QueryResult", "$.QueryResult.Completed",
    "$.Item.processes_completed.L", "$.completed_processes_count", "$$.Execution.Input.quorum",
    "$.workflowkey", "$$.Task.Token", "$", "$.requestDescription", "$$.Map.Item.Value", "$.Payload",
    "$.quoteProvider", "$.quoteProviders", "$.requestId", "$.quotes", "$.detail.pipelineArn",
    "$.detail.executionStartTime", "$.detail.executionEndTime",
    # public EventBridge-triggered machines (Choice Variables on the event's hyphenated key)
    "$.detail-type", "$.detail.event.text", "$.detail.event.thread_ts", "$.detail.event.ts", "$.KbResponse",
    "$.KbResponse.Citations[0].GeneratedResponsePart",
    "$.KbResponse.Citations[0].GeneratedResponsePart.TextResponsePart.Text", "$.SlackMe",
    "$.stateOutput.harvestConfiguration", "$.Parameter.Value", "$.time",
    "$.stateOutput.harvestConfiguration.harvestConfiguration.channelConfiguration",
    "$.stateOutput.harvestJobConfiguration.Payload.filterException", "$.detail",
    # AWS's documentation (Paths in Amazon States Language, ResultSelector, Map)
    "$.abc.['def ghi']", "$[*][*]", "$.jar[?(@.a >= 5)]", "$.bar", "$.car.cdr",
    # Jayway JsonPath users (Spring tests, hurl files, README) found by code search
    "$.[?(@.configurationName=='IDPTOEDI')].status", '$..[?(@.name=="trello")]',
    "$.store.book[?(@.price < 10 && @.category == 'fiction')].title", "$.store.book[*].title", "$..price",
]

STORE = {
    "store": {
        "book": [
            {"category": "reference", "author": "Nigel Rees", "title": "Sayings of the Century",
             "price": 8.95},
            {"category": "fiction", "author": "Evelyn Waugh", "title": "Sword of Honour", "price": 12.99},
            {"category": "fiction", "author": "Herman Melville", "title": "Moby Dick",
             "isbn": "0-553-21311-3", "price": 8.99},
            {"category": "fiction", "author": "J. R. R. Tolkien", "title": "The Lord of the Rings",
             "isbn": "0-395-19395-8", "price": 22.99},
        ],
        "bicycle": {"color": "red", "price": 19.95},
    },
    "expensive": 10,
    "detail-type": "Object Created", "a:b": 1, "user@host": 2, "café": 3, "$weird": 4,
    "numbers": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    "tags": ["red", "blue"],
}


def get(text, document=STORE):
    return compile_path(text).get(document)


def test_real_sample_definitions_have_no_errors():
    files = sorted(SAMPLES.glob("*.asl.json"))
    assert len(files) >= 4
    for file in files:
        errors = [p for p in iter_problems(json.loads(file.read_text())) if p.severity == ERROR]
        assert errors == [], file.name


@pytest.mark.parametrize("text", REAL_PATHS)
def test_real_path_strings_compile_and_validate_in_every_path_field(text):
    compile_path(text)
    definition = {"StartAt": "P", "States": {"P": {
        "Type": "Pass", "InputPath": text, "OutputPath": text, "Parameters": {"x.$": text}, "End": True}}}
    assert [p for p in iter_problems(definition) if p.severity == ERROR] == []


# -- keys Jayway reads in dot notation -----------------------------------------------------------------
@pytest.mark.parametrize("text, keys", [
    ("$.detail-type", ("detail-type",)),
    ("$.a:b", ("a:b",)),
    ("$.user@host", ("user@host",)),
    ("$.café", ("café",)),
    ("$.$weird", ("$weird",)),
    ("  $.detail-type\n", ("detail-type",)),
    ("$.['store'].bicycle", ("store", "bicycle")),
    ('$[ "store" ][ \'bicycle\' ]', ("store", "bicycle")),
    ("$.store.book[ 0 ]", ("store", "book", 0)),
])
def test_jayway_key_spellings_are_definite_key_paths(text, keys):
    path = compile_path(text)
    assert path.keys == keys  # the fast key-tuple walk, and usable as a ResultPath
    assert path.get(STORE) is not None


def test_a_hyphenated_key_is_a_reference_path_for_result_path():
    state = {"Type": "Pass", "ResultPath": "$.detail-type", "End": True}
    definition = {"StartAt": "P", "States": {"P": state}}
    assert [p for p in iter_problems(definition) if p.severity == ERROR] == []


# -- evaluation as Jayway gives it (expected values from Jayway's README and tests) ---------------------
@pytest.mark.parametrize("text, expected", [
    ("$.store.book[*].author", ["Nigel Rees", "Evelyn Waugh", "Herman Melville", "J. R. R. Tolkien"]),
    ("$..author", ["Nigel Rees", "Evelyn Waugh", "Herman Melville", "J. R. R. Tolkien"]),
    ("$.store.*", [STORE["store"]["book"], STORE["store"]["bicycle"]]),
    ("$.store..price", [8.95, 12.99, 8.99, 22.99, 19.95]),
    ("$..book[2].title", ["Moby Dick"]),
    ("$..book[-2].title", ["Moby Dick"]),
    ("$..book[0,1].title", ["Sayings of the Century", "Sword of Honour"]),
    ("$..book[:2].title", ["Sayings of the Century", "Sword of Honour"]),
    ("$..book[1:2].title", ["Sword of Honour"]),
    ("$..book[-2:].title", ["Moby Dick", "The Lord of the Rings"]),
    ("$..book[2:].title", ["Moby Dick", "The Lord of the Rings"]),
    ("$..book[?(@.isbn)].title", ["Moby Dick", "The Lord of the Rings"]),
    ("$..book[?(!@.isbn)].title", ["Sayings of the Century", "Sword of Honour"]),
    ("$.store.book[?(@.price < 10)].title", ["Sayings of the Century", "Moby Dick"]),
    ("$..book[?(@.price <= $['expensive'])].title", ["Sayings of the Century", "Moby Dick"]),
    ("$..book[?(@.author =~ /.*REES/i)].title", ["Sayings of the Century"]),
    ("$..book[?(@.author =~ /REES/i)].title", []),  # Jayway matches the whole string
    ("$..book[?(@.category == 'reference')].title", ["Sayings of the Century"]),
    ('$..book[?(@.category != "fiction")].title', ["Sayings of the Century"]),
    ("$..book[?(@.category in ['reference', 'poetry'])].title", ["Sayings of the Century"]),
    ("$..book[?(@.category nin ['fiction'])].title", ["Sayings of the Century"]),
    ("$..book[?(@.price > 10 && @.category == 'fiction')].title",
     ["Sword of Honour", "The Lord of the Rings"]),
    ("$..book[?(@.price > 20 || @.price < 9)].price", [8.95, 8.99, 22.99]),
    ("$..book[?(!(@.price > 9))].price", [8.95, 8.99]),
    ("$..book[?(@.title size 9)].title", ["Moby Dick"]),
    ("$..book[?(@.isbn empty false)].title", ["Moby Dick", "The Lord of the Rings"]),
    ("$.store[?(@.book size 4)].bicycle.color", ["red"]),  # a filter on an object tests the object
    ("$[?(@.tags subsetof ['red', 'blue', 'green'])].expensive", [10]),
    ("$[?(@.tags anyof ['blue', 'green'])].expensive", [10]),
    ("$[?(@.tags noneof ['green'])].expensive", [10]),
    ("$[?(@.tags contains 'red')].expensive", [10]),
    ("$..book[?(@.price == '8.95')].title", ["Sayings of the Century"]),  # a number equals its string
    ("$.tags[?(@ == 'red')]", ["red"]),
])
def test_indefinite_paths_yield_the_list_jayway_yields(text, expected):
    assert get(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("$.numbers.length()", 10),
    ("$.numbers.size()", 10),
    ("$.store.length()", 2),
    ("$.numbers.min()", 1.0),
    ("$.numbers.max()", 10.0),
    ("$.numbers.avg()", 5.5),
    ("$.numbers.stddev()", 2.8722813232690143),
    ("$.numbers.sum()", 55.0),
    ("$.numbers.sum(10)", 65.0),
    ("$.store.bicycle.keys()", ["color", "price"]),
    ("$.numbers.first()", 1),
    ("$.numbers.last()", 10),
    ("$.numbers.index(2)", 3),
    ("$.tags.concat()", "redblue"),
    ('$.tags.concat("-", $.expensive)', "redblue-10"),
    ("$.tags.append(\"green\")", ["red", "blue", "green"]),
    ("$..book.length()", 4),
    ("$..price.sum()", 73.87),
    ("$.store.bicycle['color','price']", {"color": "red", "price": 19.95}),
])
def test_functions_and_merged_keys_yield_one_value(text, expected):
    assert get(text) == pytest.approx(expected) if isinstance(expected, float) else get(text) == expected


def test_a_function_with_nothing_to_aggregate_is_not_found():
    with pytest.raises(PathNotFound):
        get("$.tags.sum()")


def test_a_missing_definite_key_in_jayway_spelling_is_not_found():
    with pytest.raises(PathNotFound):
        get("$.detail-kind")


# -- refusals ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "$.", "$..", "$...a", "$.a b", "$.a[", "$['a'", "$['a',]", "$.a[?]", "$.a[?(@.x == )]",
    "$.a[1:2:3]", "$.a[x]", "$.a.nofunction()", "$.a[?(true)]", "$.a[?(@.x === )]", "a.b", "$a-b",
    "$.a[?(@.x =~ /unclosed)]", "$.a[?(@.x type 'string')]",
])
def test_forms_jayway_refuses_are_invalid(text):
    with pytest.raises(InvalidPath):
        compile_path(text)


@pytest.mark.parametrize("text", ["$.a b", "$.a[", "$.a.nofunction()"])
def test_the_validator_refuses_them_with_its_message(text):
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": text, "End": True}}}
    messages = [p.message for p in iter_problems(definition) if p.severity == ERROR]
    assert messages == ["The value for the field 'InputPath' must be a valid JSONPath"]


@pytest.mark.parametrize("text", ["$.a[*]", "$..a", "$.a[0,1]", "$.a[1:]", "$.a[?(@.x)]", "$.a.length()",
                                  "$['a','b']"])
def test_result_path_still_takes_only_reference_paths(text):
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "ResultPath": text, "End": True}}}
    messages = [p.message for p in iter_problems(definition) if p.severity == ERROR]
    assert messages == ["Value is not a Reference Path"]
