"""Running a scenario: build the simulation, apply the workload and traffic, judge, inject, heal.

:func:`run_scenario` is the one way a scenario becomes a run, so that ``podquake replay``, the
campaign and a user's test all get the same trace from the same scenario:

1. a :class:`~podquake.model.simulation.Simulation` of the scenario's cluster, seed and scheduler
   (the load model runs only when the scenario has traffic);
2. a :class:`~podquake.properties.monitor.Monitor` of the scenario's suite, attached first, so it
   sees every event;
3. the workload's objects and the traffic's load generators, at t=0;
4. the :class:`~podquake.chaos.nemesis.Nemesis` with the scenario's faults, the final heal at
   ``duration``, then ``quiet`` more seconds;
5. the verdicts, liveness judged from the final heal (the ledger's ``all-healed`` mark) to the end;
   a property whose own code raised is an error, not an unknown verdict
   (:meth:`~podquake.properties.monitor.Monitor.refuse_broken`).

>>> from podquake.chaos.scenario import load_scenario
>>> result = run_scenario(load_scenario('''
... apiVersion: podquake/v1
... kind: Scenario
... duration: 120
... quiet: 60
... cluster: {nodes: 2, zones: 1}
... faults: [{kind: kubelet-stop, node: 0, at: 30, duration: 30}]
... properties: [no-overcommit]
... '''))
>>> [v.status for v in result.verdicts], result.end, result.quiet_from
(['passed'], 180.0, 120.0)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import simpy

from podquake.chaos.nemesis import FaultRecord, Nemesis
from podquake.chaos.scenario import Scenario
from podquake.model.simulation import Simulation
from podquake.model.trace import Trace
from podquake.properties.monitor import Monitor
from podquake.properties.verdict import FAILED, Verdict

__all__ = ["ScenarioResult", "build_simulation", "replay", "run_scenario"]


@dataclass(eq=False)
class ScenarioResult:
    """What a run of a scenario gave: its trace, the verdicts, and what the nemesis did.

    ``sim`` is the simulation at the end of the run (for metrics); ``end`` the simulated time the run
    stopped; ``quiet_from`` when the faults stopped (the final heal).
    """

    scenario: Scenario
    sim: Simulation
    verdicts: list[Verdict]
    records: list[FaultRecord]
    end: float
    quiet_from: float

    @property
    def trace(self) -> Trace:
        return self.sim.trace

    @property
    def failed(self) -> list[Verdict]:
        """The verdicts that failed."""
        return [v for v in self.verdicts if v.status == FAILED]

    @property
    def ok(self) -> bool:
        """Whether no property failed (unknown verdicts do not count as failures)."""
        return not self.failed


def build_simulation(scenario: Scenario, *, keep_trace: bool = True) -> Simulation:
    """The scenario's simulation at t=0, before its workload is applied (steps 1 of the module docstring)."""
    return Simulation(
        scenario.cluster,
        seed=scenario.seed,
        scheduler=scenario.scheduler,
        keep_trace=keep_trace,
        load_mode=scenario.load_mode if scenario.traffic else None,
    )


STOP_CHECK_SECONDS = 10.0
"""How often (in simulated seconds) a run asks its ``stop`` callable whether to give up."""


def run_scenario(
    scenario: Scenario, *, keep_trace: bool = True, stop: Callable[[], bool] | None = None
) -> ScenarioResult:
    """Run ``scenario`` to its end (see the module docstring). The same scenario gives the same trace
    and verdicts, in every process. ``keep_trace=False`` judges the run live without keeping its
    events (faster, for campaigns; ``result.trace`` then holds only a count). ``stop`` is asked every
    :data:`STOP_CHECK_SECONDS` of simulated time; when it answers True the run is abandoned with
    :class:`KeyboardInterrupt` (a campaign's stop request, so that Ctrl-C does not wait for a long
    example to end). Asking it changes nothing in the run."""
    manifests = scenario.manifests()
    suite = scenario.suite()
    sim = build_simulation(scenario)
    if stop is not None:
        sim.env.process(_asking(sim, stop))
    monitor = Monitor(suite).attach(sim)  # folds in the cluster's creation, recorded by Simulation()
    if not keep_trace:
        sim.trace.stop_keeping()
    sim.apply(manifests)
    for generator in scenario.traffic:
        sim.traffic.add(generator)
    nemesis = Nemesis(sim, scenario.faults, end=scenario.duration)
    nemesis.run(quiet=scenario.quiet)
    end = sim.now
    verdicts = monitor.verdicts(end=end)
    monitor.refuse_broken()
    return ScenarioResult(
        scenario=scenario,
        sim=sim,
        verdicts=verdicts,
        records=list(nemesis.records),
        end=end,
        quiet_from=monitor.ledger.quiet_from,
    )


def _asking(sim: Simulation, stop: Callable[[], bool]) -> Generator[simpy.Event, None, None]:
    while True:
        yield sim.env.timeout(STOP_CHECK_SECONDS)
        if stop():
            raise KeyboardInterrupt


def replay(path: str | Path) -> list[Verdict]:
    """Re-run the scenario or counterexample file at ``path`` exactly and return its verdicts
    (what a counterexample's pytest regression snippet calls).

    As ``podquake replay`` does, it finds the modules the scenario names (``scheduler:
    mymod:Sched``, ``imports:``) in the working folder too, after everything on the import path:
    so a regression test of a campaign run as ``podquake run --scheduler mymod:Sched`` passes or
    fails under plain ``pytest`` from that same folder, as it does under ``python -m pytest``."""
    from podquake.chaos.scenario import load_scenario

    with _working_folder_importable():
        return run_scenario(load_scenario(Path(path))).verdicts


@contextmanager
def _working_folder_importable() -> Iterator[None]:
    """The working folder on the import path, last (so it shadows nothing), while the block runs."""
    folder = os.getcwd()
    added = folder not in sys.path and "" not in sys.path
    if added:
        sys.path.append(folder)
    try:
        yield
    finally:
        if added and folder in sys.path:  # the entry appended here: the last one
            del sys.path[len(sys.path) - 1 - sys.path[::-1].index(folder)]
