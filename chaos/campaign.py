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
a failure and shrinks it (as it always does); then the chunk's remaining examples run in a new
seeded Hypothesis run where the properties that failed already no longer stop it, so every chunk
runs all its examples.

**Counterexamples.** A failing example raises the first failed property (in suite order) as its
own exception type, and Hypothesis shrinks it to a minimal fault schedule that still breaks that
property (or, slipping, another one): that is the property's counterexample. Every other property
that failed in the chunk, in a drawn example or only in a run of that shrink, gets a shrink of its
own, from the smallest example seen to fail it (see :mod:`podquake.chaos.hypothesis_internals`),
unless the first shrunk example breaks it and is smaller; a property whose shrink could not run
(stopped, or ``shrink`` off) keeps its first failing example, unshrunk (``shrunk: false``). Of the
chunks' counterexamples for a property, a shrunk one wins over one that is not, then the smallest
(fewest faults, then workload objects, then nodes), then the earliest chunk's. A property that
failed only in a shrink run has a counterexample but no failing example in the counts.

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
:mod:`podquake.chaos.campaign_chunk`).

The parts: :mod:`~podquake.chaos.campaign_chunk` runs one chunk (its examples and shrinks),
:mod:`~podquake.chaos.campaign_workers` runs chunks on worker processes, and
:mod:`~podquake.chaos.stopping` holds the stop request; this module splits, keeps found
counterexamples, and merges.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from podquake.chaos.campaign_chunk import (
    ChunkResult,
    Progress,
    PropertyViolated,
    count_run,
    run_chunk,
    scenario_size,
    unneeded_examples,
)
from podquake.chaos.campaign_workers import run_pool
from podquake.chaos.scenario import Scenario, dump_scenario, load_scenario
from podquake.chaos.stopping import clear_stop_request, stop_campaign, stop_requested
from podquake.chaos.strategies import DEFAULT_FAULT_KINDS
from podquake.properties import Verdict

__all__ = [
    "CampaignResult",
    "CampaignSettings",
    "ChunkResult",
    "Counterexample",
    "Progress",
    "PropertyViolated",
    "run_campaign",
    "run_chunk",
    "stop_campaign",
]


@dataclass(frozen=True)
class CampaignSettings:
    """What a campaign runs: ``examples`` generated runs of ``base`` with up to ``max_faults`` faults
    of ``kinds`` each (swarm testing picks a subset per example), in chunks of ``chunk`` examples,
    over ``workers`` processes. ``database`` is where found counterexamples are kept (None: nowhere).
    ``vary_cluster`` and ``vary_workload`` draw the cluster (:func:`~podquake.chaos.strategies.clusters`)
    and generated Deployments (:func:`~podquake.chaos.strategies.workloads`, traffic to each) instead
    of taking the base's: for testing a scheduler or a controller rather than one application.
    The base's own faults, when it has any (a hand-written scenario's), are the first example
    (then the counterexamples kept from earlier campaigns), and its workload paths are made absolute
    so that every counterexample replays from anywhere. ``shrink_runs`` caps the runs each shrink spends (one per failed property and chunk; a count, not
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

    def failed_properties(self) -> list[str]:
        """The properties that failed, in suite order: in a drawn example, or only in one of the
        shrinker's runs (those have a counterexample and no failing example in ``failed``)."""
        broken = {c.property for c in self.counterexamples}
        return [i for i in self.property_ids if self.failed.get(i) or i in broken]

    def counterexample(self, property_id: str) -> Counterexample | None:
        """``property_id``'s counterexample, if it has one."""
        return next((c for c in self.counterexamples if c.property == property_id), None)

    @property
    def examples_per_second(self) -> float:
        return self.examples / self.seconds if self.seconds > 0 else 0.0




def absolute_paths(scenario: Scenario) -> Scenario:
    """``scenario`` with its workload paths made absolute (they are relative to its file's folder),
    so that its counterexamples, written to the report folder, the counterexample database or a
    reproducer, find the manifests from wherever they are replayed."""
    if not any(isinstance(item, str) for item in scenario.workload):
        return scenario
    base = Path(scenario.base_dir) if scenario.base_dir else Path.cwd()
    workload = tuple(str((base / item).resolve()) if isinstance(item, str) else item for item in scenario.workload)
    return replace(scenario, workload=workload)


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


def run_campaign(settings: CampaignSettings, *, progress: Progress | None = None) -> CampaignResult:
    """Run a campaign (see the module docstring). ``progress`` (a :class:`Progress`) is told of each
    run as it ends (with worker processes, a few times a second). Ctrl-C (a KeyboardInterrupt) or
    :func:`stop_campaign` stops it, and it returns what was found so far, marked ``interrupted``."""
    started = time.perf_counter()
    settings = replace(settings, base=absolute_paths(settings.base))
    chunks = _chunks(settings)
    # The base's own faults (a hand-written scenario's) run first, then what earlier campaigns found.
    replay = ([settings.base] if settings.base.faults else []) + _stored(settings)
    jobs = [(settings, index, size, replay if index == 0 else ()) for index, size in chunks]
    results: dict[int, ChunkResult] = {}
    interrupted = False
    counts = [0, 0, 0, 0]  # examples done, failing examples, shrink runs, unneeded examples

    def count(kind: str) -> None:
        examples = count_run(counts, kind)
        if progress is not None:
            progress(examples, failures=counts[1], shrink_runs=counts[2], unneeded=counts[3])

    try:
        if settings.workers <= 1 or len(jobs) <= 1:
            for job in jobs:
                if stop_requested():
                    interrupted = True
                    break
                chunk = run_chunk(*job, on_run=count)
                results[chunk.index] = chunk
                if chunk.interrupted:
                    break
                counts[3] += unneeded_examples(chunk, job[2])
                if progress is not None:
                    progress(0, failures=counts[1], shrink_runs=counts[2], unneeded=counts[3])
        else:
            interrupted = run_pool(settings, jobs, results, progress)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        clear_stop_request()
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
            scenario = load_scenario(text)
            known = counterexamples.get(property_id)
            # A shrunk one before one that is not, then the smallest, then the earliest chunk's.
            if known is not None and (not shrunk, scenario_size(scenario)) >= (not known.shrunk, scenario_size(known.scenario)):
                continue
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
