"""The campaign runner: many generated chaos examples, judged, with shrunk counterexamples.

A campaign takes a base scenario (the cluster, the workload, the traffic, the properties), lets
Hypothesis draw fault schedules (and simulation seeds) against it, runs each as a scenario, and
collects every property's verdicts. When a property fails, Hypothesis shrinks the example to a
minimal fault schedule, which becomes a counterexample: a scenario file that replays exactly. With
the base's cluster and workload, the fault-free example is a single draw: each chunk runs it once,
with seed ``base.seed + i``, and spends all its other examples on faults.

**Chunks make it deterministic and parallel.** The examples are split into fixed chunks (the split
depends only on the example count and the chunk size, never on the number of workers); chunk ``i``
is one Hypothesis run seeded from ``(seed, i)``. Chunks run in any order on any number of worker
processes and are merged in chunk order, so the same seed gives the same verdicts and
counterexamples whatever ``workers`` is. Within a chunk, Hypothesis stops drawing new examples at
the first failure and shrinks it (as it always does); the other chunks go on searching.

**Counterexamples.** A failing example raises the first failed property (in suite order) as its
own exception type, and Hypothesis shrinks it to a minimal fault schedule that still breaks that
property: that is the property's counterexample. Every other property that failed in the chunk gets
a shrink of its own, from its first failing example (see
:mod:`podquake.chaos.hypothesis_internals`), unless the first shrunk example breaks it with fewer
faults; a property whose shrink could not run (stopped, or ``shrink`` off) keeps its first failing
example, unshrunk (``shrunk: false``).

**Found failures re-run first.** Counterexamples are kept in a folder (``database``, default
``.podquake/counterexamples``), keyed by the campaign's settings; a later campaign with the same
settings replays them before drawing anything new.

**Shrinking has a budget, stopping keeps what was found.** Each shrink (one per failed property
and chunk) spends at most ``shrink_runs`` runs (a count, so every machine gets the same
counterexample); then the smallest failure found so far stands. :func:`stop_campaign` (the command
calls it on Ctrl-C or SIGTERM) stops every chunk after the example in progress; the campaign
returns what it found, marked ``interrupted``.

**Steering.** Each example reports four run metrics to :func:`hypothesis.target`, so Hypothesis's
targeted phase pushes towards worse outcomes: pending pods at the end, failed requests, pod-seconds
not Ready (how long pods took to recover, summed), and the worst load imbalance (see
:func:`_steer`).
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field, replace
from multiprocessing import active_children, get_context
from pathlib import Path
from typing import Any, Protocol

from hypothesis import HealthCheck, Phase, given, seed, settings, target
from hypothesis import strategies as st
from podquake.chaos.hypothesis_internals import (
    ShrinkBudgetSpent,
    no_local_constants,
    recorded_choices,
    shrink_again,
)
from podquake.chaos.scenario import Scenario, dump_scenario, load_scenario
from podquake.chaos.scenario_run import ScenarioResult, run_scenario
from podquake.chaos.strategies import (
    DEFAULT_FAULT_KINDS,
    clusters,
    fault_schedules,
    scenarios,
    workloads,
)
from podquake.model import trace as ev
from podquake.properties import FAILED, UNKNOWN, Verdict

__all__ = ["CampaignResult", "CampaignSettings", "Counterexample", "PropertyViolated", "run_campaign"]


@dataclass(frozen=True)
class CampaignSettings:
    """What a campaign runs: ``examples`` generated runs of ``base`` with up to ``max_faults`` faults
    of ``kinds`` each (swarm testing picks a subset per example), in chunks of ``chunk`` examples,
    over ``workers`` processes. ``database`` is where found counterexamples are kept (None: nowhere).
    ``vary_cluster`` and ``vary_workload`` draw the cluster (:func:`~podquake.chaos.strategies.clusters`)
    and generated Deployments (:func:`~podquake.chaos.strategies.workloads`, traffic to each) instead
    of taking the base's: for testing a scheduler or a controller rather than one application.
    ``shrink_runs`` caps the runs each shrink spends (one per failed property and chunk; a count, not
    a time, so the counterexample is the same on every machine); past it, the smallest failure found
    so far stands."""

    base: Scenario
    examples: int = 100
    seed: int = 0
    workers: int = 1
    max_faults: int = 10
    kinds: tuple[str, ...] = DEFAULT_FAULT_KINDS
    chunk: int = 25
    database: str | None = ".podquake/counterexamples"
    shrink: bool = True
    shrink_runs: int = 100
    vary_cluster: bool = False
    vary_workload: bool = False

    def key(self) -> str:
        """A short digest of what makes two campaigns the same search (for the counterexample folder)."""
        text = "\n".join(
            [
                dump_scenario(replace(self.base, faults=())),
                str(self.max_faults),
                ",".join(self.kinds),
                str(self.seed),
                str((self.vary_cluster, self.vary_workload)),
            ]
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Counterexample:
    """A property's shrunk failure: the scenario that replays it and the verdicts it gave."""

    property: str
    message: str
    scenario: Scenario
    verdicts: tuple[Verdict, ...]
    shrunk: bool = True

    @property
    def faults(self) -> tuple[Any, ...]:
        return self.scenario.faults


@dataclass
class ChunkResult:
    """What one chunk found (picklable, so worker processes can send it back)."""

    index: int
    examples: int = 0
    steps: int = 0
    faults: int = 0
    faults_by_kind: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    unknown: Counter[str] = field(default_factory=Counter)
    first: dict[str, Verdict] = field(default_factory=dict)
    first_example: dict[str, int] = field(default_factory=dict)  # property -> the chunk's example (1-based) that first failed it
    first_unknown: dict[str, Verdict] = field(default_factory=dict)
    counterexamples: list[tuple[str, str, str, list[dict[str, Any]], bool]] = field(default_factory=list)  # (property, message, scenario YAML, verdicts, shrunk)
    seconds: float = 0.0
    interrupted: bool = False


@dataclass
class CampaignResult:
    """Everything a campaign found, merged over its chunks in order."""

    settings: CampaignSettings
    property_ids: tuple[str, ...]
    examples: int
    steps: int
    faults: int
    faults_by_kind: dict[str, int]
    failed: dict[str, int]
    unknown: dict[str, int]
    first: dict[str, Verdict]
    counterexamples: list[Counterexample]
    seconds: float
    interrupted: bool = False
    #: per property, the first example's verdict when it could not judge (why it is unknown)
    first_unknown: dict[str, Verdict] = field(default_factory=dict)
    #: per failed property, the example that first failed it (1-based, counting the examples of the
    #: chunks in order): how many examples finding it took
    first_failed_at: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.counterexamples and not any(self.failed.values())

    @property
    def examples_per_second(self) -> float:
        return self.examples / self.seconds if self.seconds > 0 else 0.0


class Progress(Protocol):
    """What :func:`run_campaign` reports progress to, e.g. :meth:`podquake.reports.CampaignProgress.update`:
    ``n`` more examples done; of all done so far, ``failures`` failed some property; ``shrink_runs``
    runs spent shrinking so far."""

    def __call__(self, n: int, *, failures: int, shrink_runs: int) -> None: ...


#: What a run of a campaign was, as :func:`run_chunk` reports it, and what it adds to the counts
#: of progress (examples done, failing examples, shrink runs).
EXAMPLE, FAILING_EXAMPLE, SHRINK_RUN = "example", "failing example", "shrink run"
RUN_KINDS: dict[str, tuple[int, int, int]] = {EXAMPLE: (1, 0, 0), FAILING_EXAMPLE: (1, 1, 0), SHRINK_RUN: (0, 0, 1)}


class PropertyViolated(AssertionError):
    """Raised inside an example when a property failed; one subclass per property id (see the module docstring)."""

    property_id = ""


_VIOLATIONS: dict[str, type[PropertyViolated]] = {}


def _violation_type(property_id: str) -> type[PropertyViolated]:
    cls = _VIOLATIONS.get(property_id)
    if cls is None:
        name = "Violated_" + "".join(c if c.isalnum() else "_" for c in property_id)
        cls = type(name, (PropertyViolated,), {"property_id": property_id})
        _VIOLATIONS[property_id] = cls
    return cls


def _failure(verdicts: Sequence[Verdict], property_id: str) -> Verdict | None:
    """``property_id``'s verdict in ``verdicts`` if it failed, else None."""
    return next((v for v in verdicts if v.property == property_id and v.status == FAILED), None)


def _raise_first(verdicts: Sequence[Verdict]) -> None:
    for verdict in verdicts:
        if verdict.status == FAILED:
            raise _violation_type(verdict.property)(verdict.line())


def _chunk_seed(campaign_seed: int, index: int) -> int:
    return int.from_bytes(hashlib.sha256(f"podquake:{campaign_seed}:{index}".encode()).digest()[:8], "big")


def _steer(result: ScenarioResult) -> None:
    """Report run metrics to Hypothesis's targeted search (bigger is worse).

    The worst load imbalance is the largest relative deviation from an even split of one traffic
    window's offered requests over the endpoints that got some (``|share * k - 1|``, the measure
    ``even-load`` judges), over windows with at least 10 requests per endpoint."""
    state = result.sim.state
    target(float(len(state.unbound_pods)), label="pending pods at the end")
    failed = 0.0
    unready = 0.0  # seconds pods spent not Ready after having been Ready: how hard the faults bit
    imbalance = 0.0
    lost_at: dict[str, float] = {}
    for event in result.trace.events if result.trace.keep else ():
        if isinstance(event, ev.TrafficWindow):
            failed += event.totals[2]
            rows = event.per_endpoint
            if len(rows) > 1:
                offered = sum(row[1] for row in rows)
                if offered >= 10 * len(rows):
                    share = len(rows) / offered
                    imbalance = max(imbalance, max(abs(row[1] * share - 1.0) for row in rows))
        elif isinstance(event, ev.PodReadyChanged):
            if event.ready:
                unready += event.t - lost_at.pop(event.pod, event.t)
            else:
                lost_at[event.pod] = event.t
        elif isinstance(event, ev.PodDeleted) and event.pod in lost_at:
            unready += event.t - lost_at.pop(event.pod)
    unready += sum(result.end - t for t in lost_at.values())
    target(failed, label="failed requests")
    target(unready, label="pod-seconds not Ready")
    target(imbalance, label="worst load imbalance")


def _stored(settings: CampaignSettings) -> list[Scenario]:
    """Counterexamples an earlier campaign with these settings found, to replay first."""
    if settings.database is None:
        return []
    folder = Path(settings.database) / settings.key()
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            found.append(load_scenario(path))
        except Exception:  # noqa: BLE001 - a stale or broken entry is skipped, not fatal
            continue
    return found


def _store(settings: CampaignSettings, counterexamples: Sequence[Counterexample]) -> None:
    if settings.database is None or not counterexamples:
        return
    folder = Path(settings.database) / settings.key()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for item in counterexamples:
            text = dump_scenario(item.scenario)
            name = hashlib.sha256(text.encode()).hexdigest()[:16]
            path = folder / f"{name}.yaml"
            if not path.exists():
                tmp = path.with_suffix(".tmp")
                tmp.write_text(text)
                os.replace(tmp, path)
    except OSError:
        return  # the folder is a cache: a read-only working folder must not lose the campaign's results


def run_chunk(
    settings: CampaignSettings,
    index: int,
    size: int,
    replay_first: Sequence[Scenario] = (),
    on_run: Callable[[str], None] | None = None,
) -> ChunkResult:
    """Run chunk ``index`` of a campaign: up to ``size`` examples in one seeded Hypothesis run.

    Hypothesis stops drawing at the first failure and shrinks it; only the examples drawn before
    that are counted as examples (the shrinker's re-runs are not). ``on_run(kind)`` is told of each
    run as it ends, ``kind`` one of :data:`RUN_KINDS`."""
    result = ChunkResult(index)
    started = time.perf_counter()
    state: dict[str, Any] = {"shrinking": False, "shrink_runs": 0, "origin": None}
    # Failing examples as (scenario, its verdicts), by the first property they fail.
    first_failing: dict[str, tuple[Scenario, list[Verdict]]] = {}
    first_choices: dict[str, tuple[Any, ...] | None] = {}  # what Hypothesis drew for them
    last_failing: dict[str, tuple[Scenario, list[Verdict]]] = {}
    examples = _examples(settings, index)

    def one(scenario: Scenario) -> None:
        if _stop_requested():
            raise KeyboardInterrupt  # Hypothesis lets it through at once; caught below
        if state["shrinking"]:
            state["shrink_runs"] += 1
            if state["shrink_runs"] > settings.shrink_runs:
                raise ShrinkBudgetSpent
            if on_run is not None:
                on_run(SHRINK_RUN)
        run = run_scenario(scenario)
        failed = run.failed
        if not state["shrinking"]:
            result.examples += 1
            result.steps += len(scenario.faults)
            result.faults += len(scenario.faults)
            result.faults_by_kind.update(f.kind for f in scenario.faults)
            for verdict in run.verdicts:
                if verdict.status == FAILED:
                    result.failed[verdict.property] += 1
                    result.first.setdefault(verdict.property, verdict)
                    result.first_example.setdefault(verdict.property, result.examples)
                    if verdict.property not in first_failing:
                        first_failing[verdict.property] = (scenario, run.verdicts)
                        first_choices[verdict.property] = recorded_choices()
                elif verdict.status == UNKNOWN:
                    result.unknown[verdict.property] += 1
                    result.first_unknown.setdefault(verdict.property, verdict)
            _steer(run)
            if on_run is not None:
                on_run(FAILING_EXAMPLE if failed else EXAMPLE)
            state["shrinking"] = bool(failed)
            state["origin"] = failed[0].property if failed else None
        if failed:
            # The shrinker tries candidates smaller than its current one, so the last failure of a
            # property is the smallest found so far (and in any case an example that fails it).
            last_failing[failed[0].property] = (scenario, run.verdicts)
        _raise_first(run.verdicts)

    phases = [Phase.explicit, Phase.generate, Phase.target] + ([Phase.shrink] if settings.shrink else [])
    test = settings_for(size, phases)(given(examples)(one))
    for scenario in replay_first:
        test = _explicit(test, scenario)
    test = seed(_chunk_seed(settings.seed, index))(test)
    shrunk_property = None
    try:
        with no_local_constants():
            test()
    except PropertyViolated as error:
        shrunk_property = error.property_id
    except ShrinkBudgetSpent:
        shrunk_property = state["origin"]  # the smallest failure found within the budget stands
    except KeyboardInterrupt:
        result.interrupted = True  # keep what was found; the failure so far stands unshrunk
    chosen: dict[str, tuple[Scenario, list[Verdict], bool]] = {}
    primary = last_failing.get(shrunk_property) if shrunk_property is not None else None
    if primary is not None:
        chosen[shrunk_property] = (*primary, settings.shrink)  # type: ignore[index]
    for property_id, (scenario, verdicts) in first_failing.items():
        if property_id in chosen:
            continue
        # The candidates, the fewest faults winning (the first on a tie): the property's own shrink,
        # the shrunk example above when it breaks this property too, its first failure as drawn.
        candidates: list[tuple[Scenario, list[Verdict], bool]] = []
        choices = first_choices[property_id]
        if settings.shrink and not result.interrupted and choices is not None:
            try:
                own = _shrink_alone(settings, examples, index, property_id, choices, on_run)
            except KeyboardInterrupt:
                result.interrupted = True  # stopped: keep what stands
                own = None
            if own is not None:
                candidates.append((*own, True))
        if primary is not None and _failure(primary[1], property_id) is not None:
            candidates.append((*primary, settings.shrink))
        candidates.append((scenario, verdicts, False))
        chosen[property_id] = min(candidates, key=lambda candidate: len(candidate[0].faults))
    for property_id, (scenario, verdicts, shrunk) in chosen.items():
        failure = _failure(verdicts, property_id)
        message = failure.message if failure is not None else ""
        result.counterexamples.append((property_id, message, dump_scenario(scenario), [v.to_dict() for v in verdicts], shrunk))
    result.seconds = time.perf_counter() - started
    return result


def _shrink_alone(
    settings: CampaignSettings,
    examples: st.SearchStrategy[Scenario],
    index: int,
    property_id: str,
    choices: tuple[Any, ...],
    on_run: Callable[[str], None] | None,
) -> tuple[Scenario, list[Verdict]] | None:
    """The smallest example that still fails ``property_id``, shrunk from the one drawn with
    ``choices`` in at most ``shrink_runs`` runs (see :mod:`podquake.chaos.hypothesis_internals`)."""
    last: list[tuple[Scenario, list[Verdict]]] = []  # the latest failure: the smallest so far

    def fails(scenario: Scenario) -> bool:
        if _stop_requested():
            raise KeyboardInterrupt
        if on_run is not None:
            on_run(SHRINK_RUN)
        verdicts = run_scenario(scenario).verdicts
        if _failure(verdicts, property_id) is not None:
            last[:] = [(scenario, verdicts)]
            return True
        return False

    with no_local_constants():
        smallest = shrink_again(examples, choices, fails, runs=settings.shrink_runs, seed=_chunk_seed(settings.seed, index))
    return None if smallest is None else last[0]


def _examples(settings: CampaignSettings, chunk: int = 0) -> st.SearchStrategy[Scenario]:
    """What chunk ``chunk`` of a campaign draws: fault schedules and seeds, and clusters and
    workloads if asked.

    With the base's cluster and workload, a seed is drawn only for a schedule with faults: the
    fault-free example is then a single draw, run once a chunk (with seed ``base.seed + chunk``, so
    chunks do not repeat one another), instead of again with every seed Hypothesis happens to draw."""
    base = settings.base
    base.manifests()  # parsed once; every example shares them
    schedules = fault_schedules(settings.kinds, max_faults=settings.max_faults, horizon=base.duration)
    if not settings.vary_cluster and not settings.vary_workload:
        fault_free = _variant(base, (), base.seed + chunk)

        @st.composite
        def variants(draw: Any) -> Scenario:
            faults = draw(schedules)
            return _variant(base, faults, draw(st.integers(0, 2**16))) if faults else fault_free

        return variants()
    return scenarios(
        cluster=clusters() if settings.vary_cluster else st.just(base.cluster),
        workload=workloads() if settings.vary_workload else st.just(base.workload),
        schedule=schedules,
        traffic_rate=20.0 if settings.vary_workload else 0.0,
        duration=base.duration,
        quiet=base.quiet,
        scheduler=base.scheduler,
        properties=base.properties,
        load_mode=base.load_mode,
    ).map(lambda s: s if settings.vary_workload else replace(s, traffic=base.traffic))


def _variant(base: Scenario, faults: tuple[Any, ...], sim_seed: int) -> Scenario:
    """``base`` with other faults and seed, sharing its parsed manifests."""
    other = replace(base, faults=faults, seed=sim_seed)
    object.__setattr__(other, "_manifests", base._manifests)
    return other


def settings_for(size: int, phases: Sequence[Phase]) -> Callable[[Any], Any]:
    return settings(
        max_examples=max(1, size),
        deadline=None,
        database=None,
        phases=tuple(phases),
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )


def _explicit(test: Any, scenario: Scenario) -> Any:
    from hypothesis import example

    return example(scenario)(test)


def _chunks(settings: CampaignSettings) -> list[tuple[int, int]]:
    sizes = []
    remaining = settings.examples
    index = 0
    while remaining > 0:
        size = min(settings.chunk, remaining)
        sizes.append((index, size))
        remaining -= size
        index += 1
    return sizes


# --- stopping cleanly ------------------------------------------------------------------------------
# A campaign is stopped by a flag, checked before each example: a signal handler only sets it (in the
# command's process through stop_campaign(), in a worker through _worker_signal), so no exception is
# ever raised from a handler into the middle of Hypothesis, the simulation or the pool's plumbing
# (where it could be swallowed, say by a garbage-collector callback). The example running finishes,
# the chunk returns what it found, chunks not started return empty.
_STOP = {"requested": False}


def stop_campaign() -> None:
    """Ask the running campaign (in this process, and its workers) to stop after the examples in
    progress and return what it found, marked ``interrupted``. Safe to call from a signal handler."""
    _STOP["requested"] = True


def _stop_requested() -> bool:
    return _STOP["requested"]


def _worker_signal(_signum: int, _frame: Any) -> None:
    _STOP["requested"] = True


# Progress from worker processes: each counts its examples into memory shared with the command's
# process (examples done, examples that failed some property), which reads it as it waits.
_SHARED: dict[str, Any] = {"counts": None}


def _worker_init(counts: Any) -> None:
    signal.signal(signal.SIGINT, _worker_signal)
    signal.signal(signal.SIGTERM, _worker_signal)
    _SHARED["counts"] = counts


def _count_in_shared_memory(kind: str) -> None:
    counts = _SHARED["counts"]
    with counts.get_lock():
        for i, step in enumerate(RUN_KINDS[kind]):
            counts[i] += step


def _run_chunk_in_worker(args: tuple[CampaignSettings, int, int, Sequence[Scenario]]) -> ChunkResult:
    if _stop_requested():
        return ChunkResult(args[1], interrupted=True)
    return run_chunk(*args, on_run=_count_in_shared_memory)


def _run_pool(settings: CampaignSettings, jobs: list[Any], results: dict[int, ChunkResult], progress: Progress | None) -> bool:
    """Run ``jobs`` on worker processes into ``results``; True if stopped early (see :func:`stop_campaign`)."""
    context = get_context("fork")
    counts = context.Array("q", 3)  # examples done, failing examples, shrink runs: over every worker
    reported = [0, 0, 0]

    def report_progress() -> None:
        with counts.get_lock():
            now = list(counts)
        if progress is not None and now != reported:
            progress(now[0] - reported[0], failures=now[1], shrink_runs=now[2])
            reported[:] = now

    workers = min(settings.workers, len(jobs))
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_init, initargs=(counts,))
    pending = {pool.submit(_run_chunk_in_worker, job) for job in jobs}
    interrupted = False
    try:
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            report_progress()
            for future in done:
                if future.cancelled():
                    continue
                chunk = future.result()
                results[chunk.index] = chunk
                interrupted = interrupted or chunk.interrupted
            if _stop_requested() and not interrupted:
                interrupted = True
                for future in pending:
                    future.cancel()
                for child in active_children():
                    if child.pid is not None:
                        os.kill(child.pid, signal.SIGTERM)  # each stops after its example, sends back its chunk
    except KeyboardInterrupt:  # a second Ctrl-C (or one from outside the command): stop waiting
        interrupted = True
    finally:
        pool.shutdown(wait=not interrupted, cancel_futures=True)
        if interrupted:
            for child in active_children():
                child.terminate()
        report_progress()
    return interrupted


def run_campaign(settings: CampaignSettings, *, progress: Progress | None = None) -> CampaignResult:
    """Run a campaign (see the module docstring). ``progress`` (a :class:`Progress`) is told of each
    run as it ends: examples done, how many failed, runs spent shrinking (with worker processes, a
    few times a second rather than after each run). Ctrl-C (a KeyboardInterrupt) or :func:`stop_campaign` stops it, and it returns what
    was found so far, marked ``interrupted``."""
    started = time.perf_counter()
    chunks = _chunks(settings)
    replay = _stored(settings)
    jobs = [(settings, index, size, replay if index == 0 else ()) for index, size in chunks]
    results: dict[int, ChunkResult] = {}
    interrupted = False
    counts = [0, 0, 0]  # examples done, failing examples, shrink runs

    def count(kind: str) -> None:
        step = RUN_KINDS[kind]
        for i in range(3):
            counts[i] += step[i]
        if progress is not None:
            progress(step[0], failures=counts[1], shrink_runs=counts[2])

    try:
        if settings.workers <= 1 or len(jobs) <= 1:
            for job in jobs:
                if _stop_requested():
                    interrupted = True
                    break
                chunk = run_chunk(*job, on_run=count)
                results[chunk.index] = chunk
                if chunk.interrupted:
                    break
        else:
            interrupted = _run_pool(settings, jobs, results, progress)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        _STOP["requested"] = False
    interrupted = interrupted or any(chunk.interrupted for chunk in results.values())
    merged = _merge(settings, [results[i] for i in sorted(results)], time.perf_counter() - started, interrupted)
    _store(settings, merged.counterexamples)
    return merged


def _merge(settings: CampaignSettings, chunks: Sequence[ChunkResult], seconds: float, interrupted: bool) -> CampaignResult:
    ids = settings.base.suite().ids
    failed: Counter[str] = Counter()
    unknown: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    first: dict[str, Verdict] = {}
    first_unknown: dict[str, Verdict] = {}
    first_failed_at: dict[str, int] = {}
    counterexamples: dict[str, Counterexample] = {}
    examples = steps = faults = 0
    for chunk in chunks:
        for property_id, number in chunk.first_example.items():
            first_failed_at.setdefault(property_id, examples + number)
        examples += chunk.examples
        steps += chunk.steps
        faults += chunk.faults
        kinds.update(chunk.faults_by_kind)
        failed.update(chunk.failed)
        unknown.update(chunk.unknown)
        for property_id, verdict in chunk.first.items():
            first.setdefault(property_id, verdict)
        for property_id, verdict in chunk.first_unknown.items():
            first_unknown.setdefault(property_id, verdict)
        for property_id, message, text, verdicts, shrunk in chunk.counterexamples:
            known = counterexamples.get(property_id)
            if known is not None and (known.shrunk or not shrunk):
                continue  # the earliest chunk's (shrunk, if any chunk shrank it) stands for the property
            scenario = load_scenario(text)
            counterexamples[property_id] = Counterexample(
                property_id, message, scenario, tuple(Verdict.from_dict(v) for v in verdicts), shrunk
            )
    ordered = [counterexamples[i] for i in ids if i in counterexamples]
    return CampaignResult(
        settings=settings,
        property_ids=ids,
        examples=examples,
        steps=steps,
        faults=faults,
        faults_by_kind=dict(sorted(kinds.items())),
        failed={i: failed.get(i, 0) for i in ids},
        unknown={i: unknown.get(i, 0) for i in ids},
        first=first,
        counterexamples=ordered,
        seconds=seconds,
        interrupted=interrupted,
        first_unknown=first_unknown,
        first_failed_at={i: first_failed_at[i] for i in ids if i in first_failed_at},
    )


__all__ += ["ChunkResult", "run_chunk", "stop_campaign"]
