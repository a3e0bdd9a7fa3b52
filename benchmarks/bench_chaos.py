"""What one chaos example costs, how much of it is Hypothesis's, and how long shrinking one takes.

    python3 benchmarks/bench_chaos.py            # 30 examples, 300 baseline examples, one shrink
    python3 benchmarks/bench_chaos.py --quick    # 6 examples, 60 baseline examples, one shrink

**The example** (issue 5's yardstick): Online Boutique (12 Deployments and their Services, from
../shared/manifests) on 10 nodes over 3 zones, 50 requests per second offered to its
LoadBalancer Service, and 50 faults drawn by the campaign's own strategy
(:func:`~podquake.chaos.strategies.fault_schedules` over every default kind, traffic spikes
included, swarm mask and all) in a 300 s fault phase; the nemesis's final heal, then 420 quiet
seconds. :func:`~podquake.chaos.scenario_run.run_scenario` runs it with the library's whole suite:
every safety property judges every event as it is recorded, liveness and statistical properties
give their verdicts after the heal. The manifests are parsed once (the campaign shares them too),
and Hypothesis runs as the campaign runs it (no database, no deadline, its "local constants" off).

**Measured, in one process:**

1. *per example*: the median time of ``run_scenario``; examples per second of the whole ``@given``
   loop; Hypothesis's share, ``1 - (time inside run_scenario) / (time of the loop)`` (drawing,
   decoding the faults into values, building the Scenario, Hypothesis's own bookkeeping). Then the
   floor under it, same run: the same scenario with no faults, and with no faults and no traffic
   (what the cluster's own periodic work costs over the same simulated time); and SimPy's own work
   for as many SimPy events as a median example schedules (20 processes yielding timeouts, no
   model): the event loop's share, what replacing it alone could save.
2. *Hypothesis's overheads*, same run, 50 faults per example: the campaign's compact draw (a
   swarm mask, then one six-byte string per fault) with an empty body; a plain
   ``RuleBasedStateMachine`` that draws the same six bytes with one rule per step for 50 steps and
   does nothing else; and Hypothesis's floor, an example that draws one integer (an example that
   draws nothing would not do: Hypothesis stops after one, its search space exhausted, and the
   start-up cost would be divided by one).
3. *shrinking*: with a seeded bug a single fault triggers (the ReplicaSet controller never replaces a
   lost pod, so one killed, evicted or drained pod fails ``replicas-converge``), a failing
   50-fault example is found first; then Hypothesis starts from it and shrinks it to the minimal
   one. Timed: the shrink alone, every run it makes included
   (:func:`~podquake.chaos.hypothesis_internals.shrink_again`: Hypothesis's reuse and shrink phases,
   from the example's recorded choices). A campaign's shrinks are these same Hypothesis shrinks,
   each stopped after ``CampaignSettings.shrink_runs`` runs.

Every figure is given as wall time and as this process's CPU time: on a shared machine the CPU time
is the one that says what the code costs.

Targets (issue 5): <= 5 ms median per example (>= 200 examples per second), Hypothesis's share
<= 50%, shrinking a failing 50-step example <= 10 s.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import simpy
from hypothesis import HealthCheck, Phase, find, given, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test
from podquake.chaos.hypothesis_internals import (
    no_local_constants,
    recorded_choices,
    shrink_again,
)
from podquake.chaos.scenario import Scenario
from podquake.chaos.scenario_run import run_scenario
from podquake.chaos.strategies import DEFAULT_FAULT_KINDS, FAULT_BYTES, fault_schedules
from podquake.model.cluster import ClusterSpec
from podquake.model.controllers.replicaset import ReplicaSetController
from podquake.model.traffic import Constant, External, LoadGenerator

MANIFEST = Path(__file__).resolve().parents[2] / "shared" / "manifests" / "online-boutique.yaml"
STEPS = 50
TARGET_MS = 5.0
TARGET_SHARE = 0.5
TARGET_SHRINK_S = 10.0


# === timing =========================================================================================
@dataclass
class Clock:
    """Wall and CPU seconds, summed over the intervals it timed."""

    wall: float = 0.0
    cpu: float = 0.0
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)

    @contextmanager
    def timing(self) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.walls.append(time.perf_counter() - wall)
            self.cpus.append(time.process_time() - cpu)
            self.wall += self.walls[-1]
            self.cpu += self.cpus[-1]


# === the example ====================================================================================
def base_scenario() -> Scenario:
    base = Scenario(
        name="bench-online-boutique",
        seed=0,
        duration=300.0,
        quiet=420.0,
        cluster=ClusterSpec.uniform(nodes=10, zones=3),
        workload=(str(MANIFEST),),
        traffic=(LoadGenerator("default/frontend-external", Constant(50.0), clients=200, entry=External()),),
    )
    base.manifests()  # parsed once, shared by every example
    return base


def with_faults(base: Scenario, faults: tuple[Any, ...], sim_seed: int) -> Scenario:
    """``base`` with other faults and seed, sharing its parsed manifests (as the campaign's examples do)."""
    other = replace(base, faults=faults, seed=sim_seed)
    object.__setattr__(other, "_manifests", base._manifests)
    return other


def examples(base: Scenario, min_faults: int = STEPS) -> st.SearchStrategy[Scenario]:
    """The campaign's draw (a fault schedule and a simulation seed), with ``min_faults``..50 faults."""
    schedules = fault_schedules(DEFAULT_FAULT_KINDS, max_faults=STEPS, min_faults=min_faults, horizon=base.duration)
    return st.builds(lambda faults, s: with_faults(base, faults, s), schedules, st.integers(0, 2**16))


def hypothesis_settings(count: int, phases: tuple[Phase, ...] = (Phase.generate,)) -> settings:
    return settings(
        max_examples=count,
        deadline=None,
        database=None,
        phases=phases,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        stateful_step_count=STEPS,
    )


def loop(strategy: st.SearchStrategy[Any], count: int, body: Callable[[Any], None], inside: Clock | None = None) -> tuple[Clock, int]:
    """Run ``body`` on ``count`` examples of ``strategy`` through ``@given``; time the loop (and,
    into ``inside``, each body)."""
    ran = [0]

    @seed(count)
    @hypothesis_settings(count)
    @given(strategy)
    def test(value: Any) -> None:
        ran[0] += 1
        if inside is None:
            body(value)
        else:
            with inside.timing():
                body(value)

    total = Clock()
    with no_local_constants(), total.timing():
        test()
    return total, ran[0]


# === 1. one chaos example ===========================================================================
def time_examples(base: Scenario, count: int) -> dict[str, float]:
    sizes: list[int] = []
    events: list[int] = []

    def body(scenario: Scenario) -> None:
        sizes.append(len(scenario.faults))
        result = run_scenario(scenario)
        events.append(next(result.sim.env._eid))  # SimPy's own count of the events it scheduled

    inside = Clock()
    total, ran = loop(examples(base), count, body, inside)
    assert set(sizes) == {STEPS}, sizes
    return {
        "examples": ran,
        "median_ms": statistics.median(inside.walls) * 1e3,
        "median_cpu_ms": statistics.median(inside.cpus) * 1e3,
        "per_second": ran / total.wall,
        "per_cpu_second": ran / total.cpu,
        "share": 1.0 - inside.wall / total.wall,
        "share_cpu": 1.0 - inside.cpu / total.cpu,
        "hypothesis_cpu_ms": (total.cpu - inside.cpu) / ran * 1e3,
        "simpy_events": statistics.median(events),
    }


def time_event_loop(events: int, count: int) -> float:
    """Median CPU ms of SimPy's own work for ``events`` events: 20 processes, each yielding
    timeouts in turn (what the model's periodic loops and controllers do, minus the model)."""
    per_process = max(1, int(events) // 20)

    def ticker(env: simpy.Environment, period: float) -> Iterator[simpy.Event]:
        for _ in range(per_process):
            yield env.timeout(period)

    clock = Clock()
    for _ in range(count):
        env = simpy.Environment()
        for i in range(20):
            env.process(ticker(env, 1.0 + i / 20))
        with clock.timing():
            env.run()
    return statistics.median(clock.cpus) * 1e3


def time_idle(base: Scenario, count: int) -> dict[str, float]:
    """The floor under an example: the same cluster and simulated time with no faults, with and
    without its traffic (the controllers' periodic passes, start-up, the load model's windows)."""
    quiet = with_faults(base, (), 0)
    still = replace(quiet, traffic=())
    object.__setattr__(still, "_manifests", base._manifests)
    medians = {}
    for name, scenario in (("no_faults", quiet), ("no_traffic", still)):
        clock = Clock()
        for _ in range(count):
            with clock.timing():
                result = run_scenario(scenario)
        medians[name] = statistics.median(clock.cpus) * 1e3
        medians[name + "_events"] = result.trace.count
    return medians


# === 2. Hypothesis alone: compact draw, rule per step, nothing ======================================
class FaultSteps(RuleBasedStateMachine):
    """One rule, one fault's six bytes per step, nothing else: Hypothesis's cost of a rule per step."""

    steps = 0

    @rule(code=st.binary(min_size=FAULT_BYTES, max_size=FAULT_BYTES))
    def inject(self, code: bytes) -> None:
        FaultSteps.steps += 1


def time_state_machine(count: int) -> tuple[Clock, float]:
    """The loop's clock and the mean steps per example."""
    FaultSteps.steps = 0
    clock = Clock()
    with no_local_constants(), clock.timing():
        run_state_machine_as_test(FaultSteps, settings=hypothesis_settings(count))
    return clock, FaultSteps.steps / count


# === 3. shrinking a failing 50-fault example ========================================================
@contextmanager
def replicaset_forgets_lost_pods() -> Iterator[None]:
    """The seeded bug: the ReplicaSet controller counts every pod it has seen as still there, so a
    lost pod is never replaced (tests/chaos/bugs.py seeds the same bug for the quality tests)."""
    original = ReplicaSetController.manage_replicas

    def manage_replicas(self: ReplicaSetController, rs: Any, active: list[Any]) -> None:
        seen = self.__dict__.setdefault("_seeded_bug_seen", {}).setdefault(rs.uid, {})
        for pod in active:
            seen[pod.uid] = None
        if len(active) < rs.replicas <= len(seen):
            return
        original(self, rs, active)

    ReplicaSetController.manage_replicas = manage_replicas  # type: ignore[method-assign]
    try:
        yield
    finally:
        ReplicaSetController.manage_replicas = original  # type: ignore[method-assign]


def time_shrink(base: Scenario) -> dict[str, Any]:
    """Find a failing 50-fault example, then time Hypothesis shrinking it.

    The failing example is drawn by a 49..50-fault strategy (a 0..50-fault one rarely draws 50); its
    choices are the 0..50-fault strategy's choices for the same example, once a swarm mask of 0
    (which means every kind when faults are required, and no fault otherwise) is written as every
    kind's bit. :func:`~podquake.chaos.hypothesis_internals.shrink_again`
    then shrinks them with Hypothesis's own shrinker (a reuse phase and a shrink phase), as the
    campaign shrinks a property's failure. Timed: the shrink alone, every run it makes included."""
    runs = {"count": 0}
    start: dict[str, Any] = {}

    def fails(scenario: Scenario) -> bool:
        runs["count"] += 1
        return any(v.property == "replicas-converge" for v in run_scenario(scenario).failed)

    def fifty_and_fails(scenario: Scenario) -> bool:
        if len(scenario.faults) == STEPS and fails(scenario):
            start.setdefault("scenario", scenario)
            start.setdefault("choices", recorded_choices())
            return True
        return False

    clock = Clock()
    with replicaset_forgets_lost_pods(), no_local_constants():
        find(examples(base, min_faults=STEPS - 1), fifty_and_fails, settings=hypothesis_settings(200))
        mask = start["choices"][0] or 2 ** len(DEFAULT_FAULT_KINDS) - 1  # 0: every kind, with faults required
        choices = (mask, *start["choices"][1:])
        runs["count"] = 0
        with clock.timing():
            minimal = shrink_again(examples(base, min_faults=0), choices, fails, runs=10_000, seed=0)
    assert minimal is not None, "the 50-fault example did not fail again"
    return {"clock": clock, "runs": runs["count"], "start": start["scenario"], "minimal": minimal}


# === report =========================================================================================
def met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer examples (the shrink still starts from 50 faults)")
    parser.add_argument("--examples", type=int, default=None, help="chaos examples to time (default 30; --quick 6)")
    args = parser.parse_args()
    count = args.examples or (6 if args.quick else 30)
    baseline = 60 if args.quick else 300
    base = base_scenario()
    print(
        f"example: Online Boutique ({len(base.manifests())} objects) on 10 nodes / 3 zones, {STEPS} faults of "
        f"{len(DEFAULT_FAULT_KINDS)} kinds in {base.duration:g} s, then {base.quiet:g} quiet s; "
        f"{len(base.suite())} properties (safety on every event)"
    )
    run_scenario(with_faults(base, (), 0))  # warm-up: imports, caches

    one = time_examples(base, count)
    print(f"\n1. one chaos example ({one['examples']:.0f} examples)                wall        cpu     target")
    print(f"   median run_scenario (ms)              {one['median_ms']:10.1f} {one['median_cpu_ms']:10.1f}   <= {TARGET_MS:g}: "
          f"{met(one['median_cpu_ms'] <= TARGET_MS)}")
    print(f"   examples per second                   {one['per_second']:10.2f} {one['per_cpu_second']:10.2f}   >= {1000 / TARGET_MS:.0f}: "
          f"{met(one['per_cpu_second'] >= 1000 / TARGET_MS)}")
    print(f"   Hypothesis's share                    {one['share'] * 100:9.1f}% {one['share_cpu'] * 100:9.1f}%   <= {TARGET_SHARE:.0%}: "
          f"{met(one['share_cpu'] <= TARGET_SHARE)}  ({one['hypothesis_cpu_ms']:.1f} ms CPU a example)")

    idle = time_idle(base, max(3, count // 3))
    print(f"   the same cluster, no faults           {idle['no_faults']:21.1f}   ({idle['no_faults_events']:.0f} trace events; "
          f"example / this = {one['median_cpu_ms'] / idle['no_faults']:.2f}x)")
    print(f"   no faults and no traffic              {idle['no_traffic']:21.1f}   ({idle['no_traffic_events']:.0f} trace events: "
          f"the periodic controllers alone)")
    loop_ms = time_event_loop(one["simpy_events"], max(5, count))
    print(f"   SimPy alone, as many SimPy events     {loop_ms:21.1f}   ({one['simpy_events']:.0f} a median example; "
          f"the event loop's share of it: {loop_ms / one['median_cpu_ms']:.1%})")

    compact, drawn = loop(examples(base), baseline, lambda scenario: None)
    floor, empty = loop(st.integers(0, 2**64), baseline, lambda value: None)
    machine, steps = time_state_machine(baseline)
    print(f"\n2. Hypothesis alone, {STEPS} faults an example ({baseline} examples each)   wall ms    cpu ms")
    print(f"   compact draw (the campaign's)         {compact.wall / drawn * 1e3:10.2f} {compact.cpu / drawn * 1e3:10.2f}")
    print(f"   RuleBasedStateMachine, rule per step  {machine.wall / baseline * 1e3:10.2f} {machine.cpu / baseline * 1e3:10.2f}"
          f"   ({steps:.1f} steps an example)")
    print(f"   an example that draws one integer     {floor.wall / empty * 1e3:10.2f} {floor.cpu / empty * 1e3:10.2f}"
          f"   ({empty} examples ran)")
    print(f"   rule per step / compact draw: {(machine.cpu / baseline) / (compact.cpu / drawn):.1f}x (CPU)")

    shrink = time_shrink(base)
    clock, minimal = shrink["clock"], shrink["minimal"]
    print(f"\n3. shrinking a failing {STEPS}-fault example (seeded bug: a ReplicaSet that never replaces a lost pod)")
    print(f"   {len(shrink['start'].faults)} faults -> {len(minimal.faults)} in {shrink['runs']} runs: {clock.wall:.1f} s wall, "
          f"{clock.cpu:.1f} s CPU ({clock.cpu / max(1, shrink['runs']) * 1e3:.0f} ms CPU a run)   target <= {TARGET_SHRINK_S:g} s: "
          f"{met(clock.cpu <= TARGET_SHRINK_S)}")
    print(f"   minimal: {list(minimal.faults)}")


if __name__ == "__main__":
    main()
