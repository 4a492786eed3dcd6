"""A DISTRIBUTED Map can hand its iterations out as child executions (`child_executions=True`).

The engine keeps the Map's bookkeeping — MaxConcurrency, tolerated failures, the result in item
order, MapRun events — and the caller runs each child with `Execution.child_definition`.
"""

from __future__ import annotations

import json

from engine import Execution, ExecutionOptions, compile_definition, run
from engine.history import reduced


def _definition(max_concurrency=2, tolerated=None, query_language=None):
    processor = {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "Double",
        "States": {"Double": {"Type": "Pass", "Parameters": {"v.$": "States.MathAdd($.v, $.v)"},
                              "End": True}},
    }
    state = {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": max_concurrency,
             "ItemProcessor": processor, "Label": "doubler", "End": True}
    if tolerated is not None:
        state["ToleratedFailureCount"] = tolerated
    definition = {"StartAt": "Fan", "States": {"Fan": state}}
    if query_language:
        definition["QueryLanguage"] = query_language
    return definition


def _options(**extra):
    return ExecutionOptions(child_executions=True, clock=lambda: 1_700_000_000.0, **extra)


ITEMS = {"items": [{"v": 1}, {"v": 2}, {"v": 3}, {"v": 4}, {"v": 5}]}


def _run_children(ex: Execution, suspensions):
    """Run each child with the engine's in-memory runner, as the runtime runs child executions."""
    for suspension in suspensions:
        child = run(ex.child_definition(suspension.resource), suspension.parameters)
        if child.status == "SUCCEEDED":
            ex.resume_child(suspension.frame, output=child.output)
        else:
            ex.resume_child(suspension.frame, error=child.error, cause=child.cause, failed=True)


def test_iterations_become_child_suspensions_no_more_than_max_concurrency_at_once():
    ex = Execution(compile_definition(_definition(max_concurrency=2)), ITEMS, _options())
    suspensions = ex.run()
    assert [s.kind for s in suspensions] == ["child", "child"]
    assert [s.parameters for s in suspensions] == [{"v": 1}, {"v": 2}]
    assert [s.attempt for s in suspensions] == [0, 1]  # the item's index


def test_children_answered_in_any_order_give_the_results_in_item_order():
    ex = Execution(compile_definition(_definition(max_concurrency=0)), ITEMS, _options())
    suspensions = ex.run()
    assert len(suspensions) == 5
    _run_children(ex, reversed(suspensions))
    ex.run()
    assert ex.status == "SUCCEEDED"
    assert ex.output == [{"v": 2}, {"v": 4}, {"v": 6}, {"v": 8}, {"v": 10}]


def test_the_result_equals_running_the_iterations_inline():
    definition = _definition(max_concurrency=2)
    inline = run(definition, ITEMS)
    ex = Execution(compile_definition(definition), ITEMS, _options())
    suspensions = ex.run()
    while suspensions:
        _run_children(ex, suspensions)
        suspensions = ex.run()
    assert (ex.status, ex.output) == (inline.status, inline.output)


def test_the_parent_history_has_map_run_events_and_no_iteration_events():
    ex = Execution(compile_definition(_definition(max_concurrency=0)), ITEMS, _options())
    _run_children(ex, ex.run())
    ex.run()
    types = [reduced(event)["type"] for event in ex.events]
    assert types == ["ExecutionStarted", "MapStateEntered", "MapStateStarted", "MapRunStarted",
                     "MapRunSucceeded", "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded"]


def test_a_failed_child_beyond_tolerance_fails_the_map_and_withdraws_the_running_children():
    ex = Execution(compile_definition(_definition(max_concurrency=0, tolerated=0)), ITEMS, _options())
    first, *others = ex.run()
    ex.resume_child(first.frame, error="Boom", cause="child failed", failed=True)
    ex.run()
    assert (ex.status, ex.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    assert set(ex.take_withdrawn()) >= {s.frame for s in others}
    assert "MapRunFailed" in [event["type"] for event in ex.events]


def test_a_tolerated_child_failure_leaves_its_error_in_the_results():
    ex = Execution(compile_definition(_definition(max_concurrency=0, tolerated=1)), ITEMS, _options())
    first, *others = ex.run()
    ex.resume_child(first.frame, error="Boom", cause="child failed", failed=True)
    _run_children(ex, others)
    ex.run()
    assert ex.status == "SUCCEEDED"
    assert ex.output[0] == {"Error": "Boom", "Cause": "child failed"}
    assert ex.output[1:] == [{"v": 4}, {"v": 6}, {"v": 8}, {"v": 10}]


def test_waiting_children_survive_a_snapshot():
    machine = compile_definition(_definition(max_concurrency=3))
    ex = Execution(machine, ITEMS, _options())
    ex.run()
    restored = Execution.from_snapshot(machine, json.loads(json.dumps(ex.to_snapshot())), _options())
    assert sorted(s.attempt for s in restored.suspensions().values() if s.kind == "child") == [0, 1, 2]
    suspensions = list(restored.suspensions().values())
    while suspensions:
        _run_children(restored, suspensions)
        suspensions = restored.run()
    assert restored.output == [{"v": 2}, {"v": 4}, {"v": 6}, {"v": 8}, {"v": 10}]


def test_a_child_definition_carries_the_query_language_it_inherits():
    definition = _definition()
    processor = definition["States"]["Fan"]["ItemProcessor"]
    processor["States"]["Double"] = {"Type": "Pass", "Output": "{% $states.input.v * 2 %}", "End": True}
    definition["States"]["Fan"]["ItemsPath"] = None
    del definition["States"]["Fan"]["ItemsPath"]
    definition["States"]["Fan"]["Items"] = "{% $states.input.items %}"
    definition["QueryLanguage"] = "JSONata"
    ex = Execution(compile_definition(definition), ITEMS, _options())
    key = ex.run()[0].resource
    assert ex.child_definition(key)["QueryLanguage"] == "JSONata"
    assert run(ex.child_definition(key), {"v": 21}).output == 42


def _reloaded(machine, ex: Execution) -> Execution:
    return Execution.from_snapshot(machine, json.loads(json.dumps(ex.to_snapshot())), _options())


def _suspensions(ex: Execution) -> list[dict]:
    return [suspension.to_dict() for suspension in ex.suspensions().values()]


def _frames(ex: Execution) -> list[tuple]:
    return [(frame.id, frame.parent.id if frame.parent else None, frame.index, frame.machine_key,
             frame.state_name, frame.value, frame.phase, frame.silent, frame.last_event_id)
            for frame in ex._frames.values()]


def test_a_waiting_child_is_a_row_of_numbers_in_the_snapshot_and_comes_back_the_same():
    items = {"items": [{"v": i, "text": "x" * 50} for i in range(200)]}
    machine = compile_definition(_definition(max_concurrency=0))
    ex = Execution(machine, items, _options())
    ex.run()
    snapshot = json.dumps(ex.to_snapshot())
    # Each item is in the snapshot twice (the input and the Map's items), not also once per frame
    # and once per suspension.
    assert len(snapshot) < 2 * len(json.dumps(items)) + 200 * 40  # a few numbers per child besides
    restored = _reloaded(machine, ex)
    assert _suspensions(restored) == _suspensions(ex)
    assert _frames(restored) == _frames(ex)
    assert json.dumps(restored.to_snapshot()) == snapshot
    first = next(iter(restored.suspensions().values()))
    assert first.parameters is restored._frames[first.frame].value  # one object, as before the dump


def test_children_given_their_input_by_an_item_selector_come_back_with_it():
    definition = _definition(max_concurrency=0)
    definition["States"]["Fan"]["ItemSelector"] = {"v.$": "$$.Map.Item.Value.v", "at.$": "$$.Map.Item.Index"}
    machine = compile_definition(definition)
    ex = Execution(machine, ITEMS, _options())
    ex.run()
    restored = _reloaded(machine, ex)
    assert _suspensions(restored) == _suspensions(ex)
    first_two = [s.parameters for s in restored.suspensions().values()][:2]
    assert first_two == [{"v": 1, "at": 0}, {"v": 2, "at": 1}]
    _run_children(restored, list(restored.suspensions().values()))
    restored.run()
    assert restored.output == [{"v": 2}, {"v": 4}, {"v": 6}, {"v": 8}, {"v": 10}]


def test_a_snapshot_is_the_same_after_children_finish_between_reloads():
    machine = compile_definition(_definition(max_concurrency=3))
    ex = Execution(machine, ITEMS, _options())
    suspensions = ex.run()
    while suspensions:
        _run_children(ex, suspensions[:1])
        ex = _reloaded(machine, ex)
        suspensions = list(ex.suspensions().values())
        ex.run()
    assert (ex.status, ex.output) == ("SUCCEEDED", [{"v": 2}, {"v": 4}, {"v": 6}, {"v": 8}, {"v": 10}])
