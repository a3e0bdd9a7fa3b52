"""The nemesis: timing, trace annotations, skips, the final heal and the quiet period."""

from __future__ import annotations

import doctest

import pytest
from podquake.chaos import (
    ContainerCrash,
    KubeletStop,
    Nemesis,
    NetworkPartition,
    NodeFailure,
    PodKill,
    ProbeFailure,
    TrafficSpike,
)
from podquake.chaos import nemesis as nemesis_module
from podquake.model import trace as ev
from podquake.model.errors import InputError
from podquake.properties import Monitor, Suite

from tests.chaos.kit import small_cluster, web_pods


def annotations(sim) -> list[tuple[float, str, str]]:
    return [(e.t, e.label, e.detail) for e in sim.trace.of_type(ev.Annotation)]


def test_annotations_mark_start_target_heal_and_the_final_heal() -> None:
    sim = small_cluster()
    failure = NodeFailure(node=0, at=30.0, duration=40.0)
    kill = PodKill(pod="default/missing", at=35.0)
    Nemesis(sim, [failure, kill], end=100.0).run(quiet=20.0)
    assert annotations(sim) == [
        (30.0, "fault-started", repr(failure)),
        (30.0, "fault-target", f"{failure!r} -> worker-1"),
        (35.0, "fault-skipped", f"{kill!r}: no pod 'default/missing'"),
        (70.0, "fault-healed", repr(failure)),
        (100.0, "all-healed", "0 fault(s) healed at the end of the fault phase"),
    ]
    assert sim.now == 120.0


def test_named_targets_get_no_target_mark() -> None:
    sim = small_cluster()
    Nemesis(sim, [KubeletStop(node="worker-2", at=30.0, duration=5.0)], end=50.0).run()
    assert [label for _, label, _ in annotations(sim)] == ["fault-started", "fault-healed", "all-healed"]


def test_the_final_heal_ends_faults_that_would_outlast_the_fault_phase() -> None:
    sim = small_cluster()
    pod = web_pods(sim)[0]
    faults = [
        NodeFailure(node="worker-2", at=30.0, duration=1000.0),
        NetworkPartition(node="worker-3", at=30.0, duration=1000.0),
        ContainerCrash(pod=pod.key, at=40.0, repeat=True),  # permanent crash loop: stays
        NodeFailure(node="worker-1", at=50.0),  # permanent: stays
    ]
    nemesis = Nemesis(sim, faults, end=100.0)
    nemesis.run(quiet=30.0)
    healed = [(r.t, r.fault) for r in nemesis.records if r.label == "fault-healed"]
    assert healed == [(100.0, faults[0]), (100.0, faults[1])]
    assert sim.state.nodes["worker-2"].up and sim.network.partitions == []
    assert not sim.state.nodes["worker-1"].up
    assert sorted(nemesis.active) == [2, 3]
    (mark,) = [r for r in nemesis.records if r.label == "all-healed"]
    assert mark.t == 100.0 and "2 fault(s)" in mark.detail


def test_faults_due_outside_the_fault_phase_are_skipped_and_recorded() -> None:
    sim = small_cluster()  # already at t=20
    late = NodeFailure(node=0, at=150.0, duration=5.0)
    early = NodeFailure(node=0, at=5.0, duration=5.0)
    nemesis = Nemesis(sim, [late, early], end=100.0)
    nemesis.run()
    reasons = {r.fault: r.detail for r in nemesis.skipped}
    assert "end of the fault phase" in reasons[late] and "before the nemesis started" in reasons[early]
    assert all(n.up for n in sim.state.node_list)


def test_a_fault_phase_ending_before_the_clock_is_refused_in_words() -> None:
    """It failed deep in SimPy: ValueError: Negative delay -80.0."""
    sim = small_cluster()  # already at t=20
    with pytest.raises(ValueError, match=r"the fault phase ends at t=10, before the simulation's clock \(t=20\)"):
        Nemesis(sim, [], end=10.0).run()


def test_zero_quiet_period_still_heals_and_marks() -> None:
    sim = small_cluster()
    nemesis = Nemesis(sim, [KubeletStop(node="worker-1", at=30.0, duration=500.0)], end=60.0)
    nemesis.run(quiet=0.0)
    assert sim.now == 60.0 and sim.kubelets["worker-1"].running
    assert [r.label for r in nemesis.records][-2:] == ["fault-healed", "all-healed"]
    sim.run(100)  # the final heal's timer fires later and does nothing more
    assert [r.label for r in nemesis.records].count("all-healed") == 1


def test_default_end_is_the_last_heal() -> None:
    sim = small_cluster()
    nemesis = Nemesis(sim, [KubeletStop(node=0, at=30.0, duration=20.0), PodKill(pod=0, at=70.0)])
    assert nemesis.end == 70.0
    assert Nemesis(sim, []).end == sim.now


def test_misuse_is_refused() -> None:
    sim = small_cluster()
    nemesis = Nemesis(sim, [], end=50.0).start()
    with pytest.raises(RuntimeError):
        nemesis.start()
    with pytest.raises(TypeError):
        Nemesis(sim, ["node-failure"])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        Nemesis(sim, [], end=60.0).run(quiet=-1)


@pytest.mark.parametrize(
    ("end", "quiet", "field", "shown"),
    [
        (float("nan"), 10.0, "Nemesis.end", "nan"),
        (-float("inf"), 10.0, "Nemesis.end", "-inf"),
        (50.0, float("inf"), "Nemesis.quiet", "inf"),
        ("100", 10.0, "Nemesis.end", "'100'"),
        (50.0, float("nan"), "Nemesis.quiet", "nan"),
        (50.0, "10", "Nemesis.quiet", "'10'"),
    ],
)
def test_non_finite_or_non_number_end_and_quiet_are_refused(end, quiet, field, shown) -> None:
    """A NaN ``end`` or ``quiet`` made every timer comparison false: the run silently did nothing
    (the clock stayed put, only ``all-healed`` was recorded), and ``end="100"`` was accepted."""
    sim = small_cluster()
    before = sim.now
    with pytest.raises(InputError, match=rf"^{field}: (end|quiet) must be a finite number of seconds, not {shown} \(fix: write e\.g\. "):
        Nemesis(sim, [NodeFailure(node="worker-1", at=30.0, duration=5.0)], end=end).run(quiet=quiet)
    assert sim.now == before and not sim.trace.of_type(ev.Annotation)  # nothing ran, nothing recorded


def test_a_nemesis_without_an_end_is_not_run_to_it() -> None:
    sim = small_cluster()
    endless = Nemesis(sim, [], end=float("inf"))  # allowed: the stateful machine injects faults step by step
    with pytest.raises(InputError, match=r"^Nemesis.end: a nemesis with no end \(end=inf\) cannot be run to its end"):
        endless.run(quiet=10.0)


def test_the_ledger_sees_the_quiet_period_start_at_the_final_heal() -> None:
    sim = small_cluster()
    monitor = Monitor(Suite.of(["no-overcommit"])).attach(sim)
    Nemesis(sim, [NodeFailure(node=0, at=30.0, duration=20.0), ProbeFailure(pod=0, at=60.0, duration=10.0)], end=90.0).run(quiet=60.0)
    assert monitor.ledger.quiet_from == 90.0
    assert monitor.ledger.faults_started == 2 and monitor.ledger.faults_healed == 2


def test_same_inputs_give_the_same_trace() -> None:
    def once() -> str:
        sim = small_cluster(seed=4, traffic=True)
        faults = [
            NodeFailure(node=0, at=30.0, duration=60.0),
            ContainerCrash(pod=1, at=40.0, duration=50.0, repeat=True),
            TrafficSpike(service=0, at=50.0, duration=20.0),
            PodKill(pod=0, at=60.0),
        ]
        Nemesis(sim, faults, end=120.0).run(quiet=60.0)
        return sim.trace.to_jsonl()

    assert once() == once()


def test_doctest() -> None:
    result = doctest.testmod(nemesis_module)
    assert result.failed == 0 and result.attempted > 0
