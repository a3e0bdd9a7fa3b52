"""A campaign's property lines (chaos/record.py): status and evidence from the counts over examples."""

from __future__ import annotations

from types import SimpleNamespace

from podquake.chaos.record import FOUND_WHILE_SHRINKING, _property_entry
from podquake.properties import Verdict


def _result(
    examples: int, failed: int = 0, unknown: int = 0, why: str | None = None, counterexample: object = None
) -> SimpleNamespace:
    first = {"replicas-converge": Verdict.failed("replicas-converge", "short by one", time=9.0)} if failed else {}
    first_unknown = {"replicas-converge": Verdict.unknown("replicas-converge", why)} if why else {}
    return SimpleNamespace(
        examples=examples,
        failed={"replicas-converge": failed},
        unknown={"replicas-converge": unknown},
        first=first,
        first_unknown=first_unknown,
        first_failed_at={"replicas-converge": 3} if failed else {},
        counterexample=lambda property_id: counterexample,
    )


def test_a_property_that_held_everywhere() -> None:
    entry = _property_entry(_result(10), "replicas-converge")
    assert (entry["status"], entry["evidence"]["message"]) == ("passed", "held in 10 of 10 examples")


def test_examples_it_could_not_judge_are_counted_with_the_first_reason() -> None:
    entry = _property_entry(_result(100, unknown=13, why="the run ended 40 s after the heal"), "replicas-converge")
    assert entry["status"] == "passed" and entry["examples_unknown"] == 13
    assert entry["evidence"]["message"] == (
        "held in 87 of 100 examples; could not judge 13 (the first: the run ended 40 s after the heal)"
    )


def test_unknown_everywhere_and_failed() -> None:
    everywhere = _property_entry(_result(4, unknown=4, why="no traffic was offered"), "replicas-converge")
    assert (everywhere["status"], everywhere["evidence"]["message"]) == (
        "unknown",
        "unknown in all 4 examples (the first: no traffic was offered)",
    )
    assert _property_entry(_result(4, unknown=4), "replicas-converge")["evidence"]["message"] == "unknown in all 4 examples"
    failed = _property_entry(_result(4, failed=1, unknown=2, why="x"), "replicas-converge")
    assert (failed["status"], failed["evidence"]["message"]) == ("failed", "short by one")
    assert failed["first_failed_example"] == 3 and everywhere["first_failed_example"] is None


def test_a_property_only_a_shrink_run_broke_is_failed_with_its_counterexamples_verdict() -> None:
    """No drawn example failed it (the counts say 0), but a run made while shrinking another
    property's failure did, and the campaign kept that run as its counterexample: the record said
    "passed, held in 10 of 10 examples" beside the counterexample."""
    verdict = Verdict.failed("replicas-converge", "short by two", time=40.0)
    found = SimpleNamespace(property="replicas-converge", verdicts=(Verdict.passed("even-load"), verdict))
    entry = _property_entry(_result(10, counterexample=found), "replicas-converge")
    assert (entry["status"], entry["examples_failed"], entry["first_failed_example"]) == ("failed", 0, None)
    assert entry["evidence"]["message"] == "short by two" and entry["evidence"]["time"] == 40.0
    assert entry["evidence"]["note"] == FOUND_WHILE_SHRINKING
