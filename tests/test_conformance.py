"""The engine against behaviour recorded on AWS: every case of ../shared/conformance, result and history.

Each case runs through `tests/conformance_adapter.py` and is checked with the corpus runner's own
comparison (`check_result`, `check_history` from run.py). A case listed in KNOWN_GAPS must fail (strict
xfail): when it starts passing, take it out of the list. The list may only shrink.

The same corpus runs a second time with the execution saved to JSON and restored after every
transition, which proves that a snapshot holds everything an execution needs to continue.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "conformance"
CORPORA = {"main": SHARED / "cases", "task": SHARED / "task-cases"}

# case id → why it does not pass yet. Only ever remove entries.
KNOWN_GAPS: dict[str, str] = {}


def _runner():
    spec = importlib.util.spec_from_file_location("conformance_run", SHARED / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cases():
    if not SHARED.is_dir():
        return []
    runner = _runner()
    params = []
    for corpus, folder in CORPORA.items():
        if not folder.is_dir():
            continue
        for case in runner.load_cases([str(folder)]):
            marks = []
            if case["id"] in KNOWN_GAPS:
                marks.append(pytest.mark.xfail(reason=KNOWN_GAPS[case["id"]], strict=True))
            params.append(pytest.param(case, id=f"{corpus}/{case['_area']}/{case['id']}", marks=marks))
    return params


CASES = _cases()
pytestmark = pytest.mark.skipif(not CASES, reason="../shared/conformance is not next to the project")


def _check(case, reload_every_transition: bool):
    runner = _runner()
    from tests import conformance_adapter

    previous = conformance_adapter.RELOAD_EVERY_TRANSITION
    conformance_adapter.RELOAD_EVERY_TRANSITION = reload_every_transition
    try:
        try:
            answer = {"ok": True, "result": runner._jsonable(conformance_adapter.run(
                case["definition"], case.get("input"), runner.adapter_options(case, 30.0)))}
        except Exception as exc:  # an exception is an answer too: the definition was rejected
            answer = {"ok": False, "exception": f"{type(exc).__name__}: {exc}"}
    finally:
        conformance_adapter.RELOAD_EVERY_TRANSITION = previous
    result_diffs = runner.check_result(case, answer)
    history_diffs = runner.check_history(case, answer) or []
    assert not result_diffs and not history_diffs, "\n".join(result_diffs + history_diffs)


@pytest.mark.parametrize("case", CASES)
def test_case_behaves_as_recorded_on_aws(case):
    _check(case, reload_every_transition=False)


@pytest.mark.skipif(os.environ.get("STEPWISE_SKIP_RELOAD_CORPUS") == "1", reason="asked to skip")
@pytest.mark.parametrize("case", CASES)
def test_case_behaves_the_same_when_reloaded_from_a_snapshot_after_every_transition(case):
    _check(case, reload_every_transition=True)
