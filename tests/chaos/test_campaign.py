"""The campaign runner: how its examples are spread over fault schedules and seeds, and a shrunk
counterexample for every property that failed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import Phase, given, seed
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from podquake.chaos import campaign_chunk as chunk_module
from podquake.chaos.campaign import CampaignSettings, ChunkResult, _merge, run_campaign
from podquake.chaos.faults import FAULT_KINDS, NodeFailure
from podquake.chaos.hypothesis_internals import recorded_choices, recorded_size, shrink_again
from podquake.chaos.scenario import Scenario, dump_scenario, load_scenario
from podquake.model import trace as ev
from podquake.model.errors import InputError
from podquake.properties import FAILED, Verdict, invariant

from tests.chaos.kit import TINY_SCENARIO

BASE = replace(load_scenario(TINY_SCENARIO), seed=40, duration=60.0, quiet=60.0, properties=None)  # the default suite


def runs_of(monkeypatch: pytest.MonkeyPatch, settings: CampaignSettings) -> list[Scenario]:
    """The scenarios the campaign ran, in order."""
    ran: list[Scenario] = []
    real = chunk_module.run_scenario

    def counted(scenario: Scenario, **options: Any) -> Any:
        ran.append(scenario)
        return real(scenario, **options)

    monkeypatch.setattr(chunk_module, "run_scenario", counted)
    result = run_campaign(settings)
    assert result.examples == settings.examples and result.ok, result.failed
    return ran


def test_the_fault_free_example_runs_once_a_chunk_with_the_chunks_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Drawing a seed for it too made "no faults" one example per seed Hypothesis drew: half of a
    default campaign's examples (50 and 58 of 100, for seeds 0 and 1) ran with no fault at all."""
    ran = runs_of(monkeypatch, CampaignSettings(base=BASE, examples=50, chunk=25, database=None, max_faults=4))
    fault_free = [s for s in ran if not s.faults]
    assert sorted(s.seed for s in fault_free) == [40, 41]  # base.seed + the chunk's index
    assert sum(len(s.faults) for s in ran) >= 2 * len(ran)  # up to four faults an example, none wasted


# === a counterexample for every failed property ======================================================
class _Run:
    """What the campaign reads of a run, for a stand-in ``run_scenario``."""

    def __init__(self, scenario: Scenario, verdicts: list[Verdict]) -> None:
        self.scenario, self.verdicts = scenario, verdicts
        self.failed = [v for v in verdicts if v.status == FAILED]


def judged_by(monkeypatch: pytest.MonkeyPatch, rules: dict[str, Callable[[Any], bool]]) -> list[Scenario]:
    """Replace the simulation: property ``p`` fails in a run exactly when one of its faults passes
    ``rules[p]`` (verdicts in the order of ``rules``). Returns the list the runs are appended to."""
    ran: list[Scenario] = []

    def run_scenario(scenario: Scenario, **options: Any) -> _Run:
        ran.append(scenario)
        verdicts = [
            Verdict.failed(p, "a fault it cannot take") if any(map(rule, scenario.faults)) else Verdict.passed(p)
            for p, rule in rules.items()
        ]
        return _Run(scenario, verdicts)

    monkeypatch.setattr(chunk_module, "run_scenario", run_scenario)
    monkeypatch.setattr(chunk_module, "_steer", lambda run: None)
    return ran


# replicas-converge fails on a node failure in the first 50 s, availability-slo on a long one there
RULES: dict[str, Callable[[Any], bool]] = {
    "replicas-converge": lambda f: isinstance(f, NodeFailure) and f.at < 50.0,
    "availability-slo": lambda f: isinstance(f, NodeFailure) and f.at < 50.0 and f.duration >= 100.0,
}
KINDS = ("node-failure", "pod-kill", "zone-outage")


def test_every_failed_property_gets_a_counterexample_shrunk_for_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """The chunk's first failure breaks both properties. Hypothesis's own run shrinks one of them; the
    other, which that shrunk example breaks too, still gets its own shrink and so its own smallest
    failure (taking the other's, replicas-converge would have a 100-s node failure)."""
    judged_by(monkeypatch, RULES)
    settings = CampaignSettings(base=BASE, examples=25, database=None, max_faults=8, kinds=KINDS)
    result = run_campaign(settings)
    assert {p for p, n in result.failed.items() if n} == set(RULES)  # both failed in the chunk
    found = {c.property: c for c in result.counterexamples}
    assert found["replicas-converge"].faults == (NodeFailure(node=0, at=49.0, duration=10.0),)
    assert found["availability-slo"].faults == (NodeFailure(node=0, at=49.0, duration=100.0),)
    assert all(c.shrunk for c in found.values())
    assert run_campaign(settings).counterexamples == result.counterexamples  # the same seed, the same shrinks


def test_another_propertys_shrink_starts_from_the_smallest_example_that_broke_it_on_the_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first shrink (replicas-converge's) runs into smaller examples that break availability-slo
    too; that property's own shrink starts from the smallest of them, not from the example as drawn
    again, so the same run budget goes further (with the ready-made suite and a scheduler that
    ignores memory, 18 objects to 6 in two of its counterexamples, 400 shrink runs either way)."""
    ran = judged_by(monkeypatch, RULES)
    starts: list[int] = []
    real = chunk_module.shrink_again

    def shrink_again(*args: Any, **kwargs: Any) -> Any:
        starts.append(len(ran))  # the index in ``ran`` of the shrink's first run
        return real(*args, **kwargs)

    monkeypatch.setattr(chunk_module, "shrink_again", shrink_again)
    settings = CampaignSettings(base=BASE, examples=25, database=None, max_faults=8, kinds=KINDS)
    result = run_campaign(settings)
    [start] = starts
    first_failure = next(s for s in ran if any(map(RULES["availability-slo"], s.faults)))
    [drawn], [begun] = first_failure.faults, ran[start].faults  # (node=15, at=12, 259 s) and (11, 49, 191 s)
    assert begun != drawn and (begun.node, begun.duration) < (drawn.node, drawn.duration) and begun.at >= drawn.at
    assert any(map(RULES["availability-slo"], ran[start].faults))
    found = {c.property: c for c in result.counterexamples}
    assert found["availability-slo"].faults == (NodeFailure(node=0, at=49.0, duration=100.0),)


# replicas-converge fails on any node failure; availability-slo (first in suite order) on one of node 0,
# which the drawn example lacks: only the shrinker's runs, on the way to node 0, fail both
SLIPPING: dict[str, Callable[[Any], bool]] = {
    "availability-slo": lambda f: isinstance(f, NodeFailure) and f.node == 0,
    "replicas-converge": lambda f: isinstance(f, NodeFailure),
}


def test_a_shrink_that_runs_out_of_budget_keeps_its_propertys_smallest_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shrinker keeps any smaller failure, and its last runs fail availability-slo first: the
    campaign filed them under that property only, and replicas-converge kept its failure as drawn
    (a 259-s failure of node 15), with ``shrunk: true``. Nor did availability-slo, broken only by
    those runs, get a counterexample. (With the ready-made suite and a scheduler that binds to
    NotReady nodes, a 9-fault scheduler-contract counterexample where a 5-fault one had been run.)"""
    judged_by(monkeypatch, SLIPPING)
    # five examples: the fifth is the first failure, so no drawn example fails availability-slo
    settings = CampaignSettings(base=BASE, examples=5, database=None, max_faults=8, kinds=KINDS, shrink_runs=3)
    result = run_campaign(settings)
    assert result.failed["replicas-converge"] == 1 and result.failed["availability-slo"] == 0  # as drawn
    found = {c.property: c for c in result.counterexamples}
    smallest = (NodeFailure(node=0, at=59.0, duration=10.0),)
    assert found["replicas-converge"].faults == smallest
    assert found["availability-slo"].faults == smallest and found["availability-slo"].shrunk
    assert result.failed_properties() == ["availability-slo", "replicas-converge"] and not result.ok


def test_a_property_failing_at_once_does_not_hide_the_others_for_the_rest_of_the_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    """A scheduler that breaks its contract in every example failed the chunk's first (fault-free)
    example; the chunk stopped there, so a campaign of 50 ran 2 examples, never injected a fault, and
    reported replicas-converge as held in 2 of 2. Now the chunk goes on, with scheduler-contract
    counted but no longer stopping it, and runs no example twice (nor did the chunks run the same
    simplest examples, as they did with the same seeds: 3 of 50 examples)."""
    judged_by(monkeypatch, {"scheduler-contract": lambda f: True, "replicas-converge": lambda f: isinstance(f, NodeFailure)})
    real = chunk_module.run_scenario
    examples: list[Scenario] = []
    monkeypatch.setattr(chunk_module, "_steer", lambda run: examples.append(run.scenario))  # once an example

    def always_breaks_contract(scenario: Scenario, **options: Any) -> _Run:
        run = real(scenario, **options)
        run.verdicts[0] = Verdict.failed("scheduler-contract", "answered a full node")
        run.failed = [v for v in run.verdicts if v.status == FAILED]
        return run

    monkeypatch.setattr(chunk_module, "run_scenario", always_breaks_contract)
    settings = CampaignSettings(base=BASE, examples=50, database=None, max_faults=4, kinds=KINDS)
    result = run_campaign(settings)
    assert result.examples == 50 and result.failed["scheduler-contract"] == 50
    assert result.failed["replicas-converge"] > 0 and result.first_failed_at["replicas-converge"] > 1
    found = {c.property: c for c in result.counterexamples}
    assert found["scheduler-contract"].faults == () and len(found["replicas-converge"].faults) == 1
    assert len({repr((s.faults, s.seed)) for s in examples}) == len(examples) == 50  # none ran twice
    assert run_campaign(settings).counterexamples == result.counterexamples  # deterministic


@invariant("test-campaign-raises", "A property with a bug: it raises on every bind.", on=[ev.PodBound])
def _raises_on_bind(event: Any, ledger: Any) -> None:
    raise ZeroDivisionError("division by zero")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_property_whose_code_raises_stops_the_campaign_as_bad_input(monkeypatch: pytest.MonkeyPatch, workers: int) -> None:
    """Its verdict was unknown in every example and the campaign passed (the command said so, exit 0).
    Now the first example that makes it raise stops the campaign, unshrunk."""
    ran: list[Scenario] = []
    real = chunk_module.run_scenario
    monkeypatch.setattr(chunk_module, "run_scenario", lambda scenario, **options: ran.append(scenario) or real(scenario, **options))
    base = replace(BASE, properties=(("no-overcommit", {}), ("test-campaign-raises", {})), imports=(__name__,))
    with pytest.raises(InputError) as caught:
        run_campaign(CampaignSettings(base=base, examples=10, chunk=5, workers=workers, database=None, max_faults=2))
    assert "test-campaign-raises" in str(caught.value) and "raised ZeroDivisionError: division by zero" in str(caught.value)
    if workers == 1:
        assert len(ran) == 1


def test_of_the_chunks_counterexamples_the_smallest_stands(monkeypatch: pytest.MonkeyPatch) -> None:
    """The earliest chunk's used to stand whatever its size (a 9-fault one beside a 5-fault one)."""
    big = replace(BASE, faults=tuple(NodeFailure(node=n, at=10.0 * n) for n in (1, 2, 3)))
    small = replace(BASE, faults=(NodeFailure(node=2, at=25.0),))
    verdicts = [Verdict.failed("replicas-converge", "lost").to_dict()]

    def chunk(index: int, scenario: Scenario, shrunk: bool) -> ChunkResult:
        found = ChunkResult(index, examples=5)
        found.counterexamples.append(("replicas-converge", "lost", dump_scenario(scenario), verdicts, shrunk))
        return found

    settings = CampaignSettings(base=BASE, examples=10, chunk=5, database=None)
    merged = _merge(settings, [chunk(0, big, True), chunk(1, small, True)], 1.0, False)
    assert [c.faults for c in merged.counterexamples] == [small.faults]
    merged = _merge(settings, [chunk(0, big, True), chunk(1, small, False)], 1.0, False)
    assert [c.faults for c in merged.counterexamples] == [big.faults]  # a shrunk one first
    merged = _merge(settings, [chunk(0, small, True), chunk(1, replace(small, seed=7), True)], 1.0, False)
    assert merged.counterexamples[0].scenario.seed == small.seed  # a tie: the earliest chunk's


def test_a_scenarios_own_faults_are_the_campaigns_first_example(monkeypatch: pytest.MonkeyPatch) -> None:
    """`podquake run --scenario` dropped the faults the scenario file listed: only drawn faults ran."""
    ran = judged_by(monkeypatch, RULES)
    own = (NodeFailure(node=1, at=10.0, duration=150.0),)
    result = run_campaign(CampaignSettings(base=replace(BASE, faults=own), examples=5, database=None, kinds=KINDS, shrink=False))
    assert ran[0].faults == own and ran[0].seed == BASE.seed
    assert result.failed["availability-slo"] >= 1 and result.first_failed_at["availability-slo"] == 1
    assert not any(s.faults == own for s in ran[1:])  # generated examples draw their own


def test_without_shrinking_the_failures_stand_as_drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    ran = judged_by(monkeypatch, RULES)
    settings = CampaignSettings(base=BASE, examples=25, database=None, max_faults=8, kinds=KINDS, shrink=False)
    result = run_campaign(settings)
    assert result.counterexamples and not any(c.shrunk for c in result.counterexamples)
    assert len(ran) <= result.examples + 1  # no run spent shrinking (Hypothesis replays the failure once)


def fails_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in simulation whose first run with a node failure fails and every later one passes: an
    example that does not repeat (what a plug-in that keeps state between runs causes)."""
    failed_before: list[bool] = []

    def run_scenario(scenario: Scenario, **options: Any) -> _Run:
        hit = any(isinstance(f, NodeFailure) for f in scenario.faults) and not failed_before
        failed_before.extend([True] if hit else [])
        return _Run(scenario, [Verdict.failed("replicas-converge", "lost") if hit else Verdict.passed("replicas-converge")])

    monkeypatch.setattr(chunk_module, "run_scenario", run_scenario)
    monkeypatch.setattr(chunk_module, "_steer", lambda run: None)


def test_a_plugin_whose_runs_do_not_repeat_is_named_as_bad_input(monkeypatch: pytest.MonkeyPatch) -> None:
    fails_once(monkeypatch)
    plugin = replace(BASE, scheduler="mypackage.sched:STATEFUL")
    with pytest.raises(InputError) as caught:
        run_campaign(CampaignSettings(base=plugin, examples=25, database=None, max_faults=4, kinds=KINDS))
    assert caught.value.field == "scheduler" and "'mypackage.sched:STATEFUL'" in str(caught.value)
    assert "different results when it was run again" in str(caught.value)


def test_runs_that_do_not_repeat_with_a_builtin_scheduler_are_podquakes_own_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    fails_once(monkeypatch)
    with pytest.raises(Flaky):
        run_campaign(CampaignSettings(base=BASE, examples=25, database=None, max_faults=4, kinds=KINDS))


def test_each_shrink_keeps_to_its_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    ran = judged_by(monkeypatch, RULES)
    settings = CampaignSettings(base=BASE, examples=25, database=None, max_faults=8, kinds=KINDS, shrink_runs=3)
    result = run_campaign(settings)
    assert len(ran) <= result.examples + 2 * 3 + 2  # two shrinks of three runs (and the replays that stop them)


def test_the_campaign_says_which_example_first_failed_each_property(monkeypatch: pytest.MonkeyPatch) -> None:
    """Counted over the chunks in order: here only chunk 1's fault-free example (seed 41) fails, so
    the answer is chunk 0's five examples plus that example's place in chunk 1."""
    ran: list[Scenario] = []

    def run_scenario(scenario: Scenario, **options: Any) -> _Run:
        ran.append(scenario)
        bad = scenario.seed == BASE.seed + 1 and not scenario.faults
        return _Run(scenario, [Verdict.failed("replicas-converge", "x") if bad else Verdict.passed("replicas-converge")])

    monkeypatch.setattr(chunk_module, "run_scenario", run_scenario)
    monkeypatch.setattr(chunk_module, "_steer", lambda run: None)
    result = run_campaign(CampaignSettings(base=BASE, examples=15, chunk=5, database=None, max_faults=3, shrink=False))
    place = next(i for i, s in enumerate(ran, start=1) if s.seed == BASE.seed + 1 and not s.faults)
    assert place > 5  # in chunk 1, after chunk 0's five examples
    assert result.first_failed_at == {"replicas-converge": place}
    assert result.failed["replicas-converge"] == 1 and result.examples == 15  # chunk 1 went on after it


@pytest.mark.parametrize("workers", [1, 2])
def test_progress_counts_every_example_and_the_failing_ones(monkeypatch: pytest.MonkeyPatch, workers: int) -> None:
    """The progress bar's figures: examples as they finish (one at a time in one process), and how
    many failed some property (here every availability-slo failure is a replicas-converge one too),
    the runs spent shrinking, and the examples that will not run (none: a chunk goes on after its
    failures)."""
    ran = judged_by(monkeypatch, RULES)
    calls: list[tuple[int, int, int, int]] = []
    settings = CampaignSettings(base=BASE, examples=40, chunk=10, workers=workers, database=None, max_faults=8, kinds=KINDS)
    result = run_campaign(settings, progress=lambda n, **counts: calls.append((n, *counts.values())))
    examples, failing, shrink_runs, unneeded = sum(c[0] for c in calls), *calls[-1][1:]
    assert examples == result.examples == 40 and unneeded == 0
    assert failing == result.failed["replicas-converge"] > 0
    assert shrink_runs > 0
    assert all(list(column) == sorted(column) for column in list(zip(*calls))[1:])  # each count only grows
    if workers == 1:  # (worker processes run their own copy of the stand-in, so ``ran`` stays empty)
        assert {c[0] for c in calls} == {0, 1}
        assert shrink_runs == len(ran) - examples  # every run that was not an example


# === shrink_again ==================================================================================
def recorded(strategy: st.SearchStrategy[Any], wanted: Callable[[Any], bool]) -> tuple[Any, tuple[Any, ...]]:
    """The first value ``@given`` draws that is ``wanted``, with the choices that drew it."""
    found: list[tuple[Any, tuple[Any, ...]]] = []

    @seed(2)
    @hypothesis_settings(database=None, max_examples=200, phases=(Phase.generate,))
    @given(strategy)
    def look(value: Any) -> None:
        if not found and wanted(value):
            choices = recorded_choices()
            assert choices is not None
            found.append((value, choices))

    look()
    return found[0]


def test_shrink_again_shrinks_the_recorded_value_deterministically_and_within_budget() -> None:
    lists = st.lists(st.integers(0, 100), max_size=20)
    value, choices = recorded(lists, lambda v: len(v) >= 5 and sum(v) > 150)
    calls: list[Any] = []

    def fails(v: list[int]) -> bool:
        calls.append(v)
        return sum(v) > 50

    assert calls == [] and sum(value) > 150
    assert shrink_again(lists, choices, fails, runs=500, seed=1) == [51]
    assert calls[0] == value  # it starts from the recorded value
    assert shrink_again(lists, choices, fails, runs=500, seed=1) == [51]
    calls.clear()
    smallest = shrink_again(lists, choices, fails, runs=4, seed=1)
    assert len(calls) == 4 and smallest is not None and sum(smallest) > 50


def test_shrink_again_answers_none_when_the_recorded_value_passes() -> None:
    lists = st.lists(st.integers(0, 100), max_size=20)
    _, choices = recorded(lists, lambda v: len(v) >= 3)
    assert shrink_again(lists, choices, lambda v: False, runs=50, seed=1) is None
    assert recorded_choices() is None and recorded_size() is None  # outside a @given test


# === every fault kind, end to end ===================================================================
@pytest.mark.parametrize("kind", sorted(FAULT_KINDS))
def test_a_campaign_of_each_fault_kind_runs_and_injects_it(kind: str) -> None:
    """Drawn, decoded, applied and healed by a real campaign (a kind that failed to decode once crashed
    every campaign that drew it)."""
    result = run_campaign(CampaignSettings(base=BASE, examples=4, database=None, max_faults=3, kinds=(kind,)))
    assert result.examples == 4 and not result.interrupted
    assert result.faults_by_kind.get(kind, 0) > 0 and set(result.faults_by_kind) == {kind}


# === steering ======================================================================================
def test_each_example_steers_the_search_by_four_run_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pending pods, failed requests, pod-seconds not Ready and the worst load imbalance (issue 5's
    four), each reported to hypothesis.target."""
    reported: dict[str, float] = {}
    monkeypatch.setattr(chunk_module, "target", lambda value, label: reported.__setitem__(label, value))

    a, b = "default/web-a", "default/web-b"
    events = (
        ev.PodReadyChanged(10.0, a, False),
        ev.TrafficWindow(20.0, "default/web", 10.0, (60.0, 55.0, 5.0, 0.0), ((a, 45.0, 40.0, 5.0, 0.01), (b, 15.0, 15.0, 0.0, 0.01)), ()),
        ev.TrafficWindow(30.0, "default/web", 20.0, (8.0, 8.0, 0.0, 0.0), ((a, 8.0, 8.0, 0.0, 0.01), (b, 0.0, 0.0, 0.0, 0.0)), ()),
        ev.PodReadyChanged(40.0, a, True),
    )
    result = SimpleNamespace(
        sim=SimpleNamespace(state=SimpleNamespace(unbound_pods={"default/x": None})),
        trace=SimpleNamespace(keep=True, events=events),
        end=60.0,
    )
    chunk_module._steer(result)  # type: ignore[arg-type]
    assert reported == {
        "pending pods at the end": 1.0,
        "failed requests": 5.0,
        "pod-seconds not Ready": 30.0,
        "worst load imbalance": 0.5,  # 45 of 60 over two endpoints; the 8-request window is too small
    }
