"""JSONPath as ASL uses it: definite reference paths, `$$` context paths, `$var` variable paths,
indefinite paths read as Jayway reads them (engine/jayway.py), and ResultPath-style writes that copy
only what they change."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from engine.paths import (
    CONTEXT,
    INPUT,
    VARIABLE,
    InvalidPath,
    PathNotFound,
    compile_path,
    is_path,
    is_reference_path,
    set_path,
)


def make_env(context=None, variables=None):
    return SimpleNamespace(context=context or {}, variables=variables or {},
                           random=lambda: 0.5, uuid=lambda: "00000000-0000-4000-8000-000000000000")


def get(text, value, env=None):
    return compile_path(text).get(value, env or make_env())


# -- roots -------------------------------------------------------------------------------------------
def test_dollar_alone_selects_the_whole_input():
    document = {"a": 1}
    assert get("$", document) is document


def test_dollar_dollar_reads_the_context_object_not_the_input():
    env = make_env(context={"Execution": {"Name": "run-1"}})
    path = compile_path("$$.Execution.Name")
    assert path.root == CONTEXT
    assert path.get({"Execution": {"Name": "input"}}, env) == "run-1"


def test_dollar_name_reads_a_workflow_variable():
    path = compile_path("$order.id")
    assert path.root == VARIABLE and path.variable == "order"
    assert path.get({}, make_env(variables={"order": {"id": 42}})) == 42


def test_an_unknown_variable_is_not_found():
    with pytest.raises(PathNotFound):
        get("$missing", {}, make_env(variables={"other": 1}))


def test_input_paths_have_the_input_root():
    assert compile_path("$.a").root == INPUT


# -- definite paths ----------------------------------------------------------------------------------
def test_dotted_keys_walk_nested_objects():
    assert get("$.a.b.c", {"a": {"b": {"c": "deep"}}}) == "deep"


def test_bracket_keys_allow_spaces_and_dots_in_names():
    assert get("$['odd key']['x.y']", {"odd key": {"x.y": 7}}) == 7


def test_double_quoted_bracket_keys_are_read_as_json_strings():
    assert get('$["caf\\u00e9"]', {"café": "ok"}) == "ok"


def test_array_indexes_select_list_items_and_negative_ones_count_from_the_end():
    document = {"items": [10, 20, 30]}
    assert get("$.items[0]", document) == 10
    assert get("$.items[-1]", document) == 30


@pytest.mark.parametrize("text, document", [
    ("$.a.b", {"a": {}}),
    ("$.a.b", {"a": 5}),
    ("$.a.b", {"a": [1, 2]}),
    ("$.a[3]", {"a": [1, 2]}),
    ("$.a[0]", {"a": {"0": "not a list"}}),
    ("$.a.b", {"a": None}),
])
def test_a_definite_path_that_does_not_resolve_raises_path_not_found(text, document):
    with pytest.raises(PathNotFound) as raised:
        get(text, document)
    assert raised.value.path.text == text


def test_a_null_value_at_the_path_is_found_not_missing():
    assert get("$.a", {"a": None}) is None


def test_normalized_form_quotes_keys_the_way_jayway_and_aws_do():
    assert compile_path("$.a.b[0]").normalized == "$['a']['b'][0]"
    assert compile_path("$['x y']").normalized == "$['x y']"


def test_compiling_the_same_text_twice_returns_the_same_compiled_path():
    assert compile_path("$.cached.path") is compile_path("$.cached.path")


# -- indefinite paths --------------------------------------------------------------------------------
def test_a_wildcard_returns_the_list_of_matches():
    path = compile_path("$.items[*].id")
    assert path.indefinite
    assert path.get({"items": [{"id": 1}, {"id": 2}]}, make_env()) == [1, 2]


def test_a_filter_written_with_jayway_double_ampersand_selects_matching_items():
    document = {"items": [{"n": 1, "ok": True}, {"n": 5, "ok": True}, {"n": 7, "ok": False}]}
    assert get("$.items[?(@.n > 2 && @.ok == true)].n", document) == [5]


def test_a_slice_returns_a_list():
    assert get("$.items[0:2]", {"items": ["a", "b", "c"]}) == ["a", "b"]


def test_an_indefinite_path_with_no_match_returns_an_empty_list():
    assert get("$.items[*].missing", {"items": [{"id": 1}]}) == []


# -- validity ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["a.b", "", "payload"])
def test_text_not_starting_with_dollar_is_not_a_path(text):
    assert not is_path(text)
    with pytest.raises(InvalidPath):
        compile_path(text)


def test_reference_paths_are_definite_paths_only():
    assert is_reference_path("$.a['b'][2]")
    assert not is_reference_path("$.a[*]")
    assert not is_reference_path("not a path")


# -- set_path (ResultPath's write) -------------------------------------------------------------------
def test_set_path_replaces_a_key_and_leaves_the_original_untouched():
    original = {"a": {"b": 1}, "other": {"big": [1, 2, 3]}}
    updated = set_path(original, compile_path("$.a.b"), 2)
    assert updated == {"a": {"b": 2}, "other": {"big": [1, 2, 3]}}
    assert original == {"a": {"b": 1}, "other": {"big": [1, 2, 3]}}


def test_set_path_shares_the_branches_it_does_not_change():
    original = {"a": {"b": 1}, "other": {"big": [1, 2, 3]}}
    updated = set_path(original, compile_path("$.a.b"), 2)
    assert updated["other"] is original["other"]
    assert updated is not original and updated["a"] is not original["a"]


def test_set_path_creates_missing_objects_along_the_way():
    assert set_path({"x": 1}, compile_path("$.a.b.c"), True) == {"x": 1, "a": {"b": {"c": True}}}


def test_set_path_at_the_root_returns_the_value_itself():
    value = {"new": 1}
    assert set_path({"old": 1}, compile_path("$"), value) is value


def test_set_path_writes_into_an_existing_list_index():
    assert set_path({"l": [1, 2, 3]}, compile_path("$.l[1]"), "x") == {"l": [1, "x", 3]}


@pytest.mark.parametrize("document, text", [
    ({"a": "a string"}, "$.a.b"),
    ({"a": [1]}, "$.a[5]"),
    ({"a": [1]}, "$.a.b"),
])
def test_set_path_through_a_non_object_raises_path_not_found(document, text):
    with pytest.raises(PathNotFound):
        set_path(document, compile_path(text), 1)
