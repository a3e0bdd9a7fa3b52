"""One chunk of a campaign: ``size`` examples in seeded Hypothesis runs, and the shrinks of what
failed in them.

Each example runs its scenario and judges it; the first property it fails (in suite order) is raised
as that property's own exception type, so Hypothesis stops drawing and shrinks the example to a
minimal fault schedule that still breaks that property (or, as Hypothesis may slip to a smaller
failure of another property, that one). The chunk's remaining examples then run in a new seeded
Hypothesis run, a round, where the properties that failed already are counted but raise no more
(and no example runs twice), until the chunk has run all its examples. Every other property that
failed in the chunk, in a drawn example or only in one of the shrinker's runs, then gets a shrink of
its own, from the smallest example seen to fail it (see :mod:`podquake.chaos.hypothesis_internals`).
Of the failures of a property, the smallest (:func:`scenario_size`) is its counterexample. Each run
is reported as it ends (an example, a failing example, a shrink run) for the campaign's progress,
and each example's run metrics steer Hypothesis's targeted search (see :func:`_steer`).

:mod:`podquake.chaos.campaign` splits a campaign into chunks, runs them (here or on worker
processes) and merges what they found.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from hypothesis import HealthCheck, Phase, given, seed, settings, target
from hypothesis.errors import Flaky
from hypothesis import strategies as st
from podquake.chaos.hypothesis_internals import (
    ShrinkBudgetSpent,
    no_local_constants,
    recorded_choices,
    recorded_size,
    shrink_again,
)
from podquake.chaos.scenario import Scenario, dump_scenario
from podquake.chaos.scenario_run import ScenarioResult, run_scenario
from podquake.chaos.stopping import stop_requested
from podquake.chaos.strategies import clusters, fault_schedules, scenarios, workloads
from podquake.model import trace as ev
from podquake.model.errors import InputError
from podquake.model.scheduling.registry import BUILTIN_SCHEDULERS
from podquake.properties import FAILED, UNKNOWN, Verdict

if TYPE_CHECKING:
    from podquake.chaos.campaign import CampaignSettings

__all__ = [
    "EXAMPLE",
    "FAILING_EXAMPLE",
    "RUN_KINDS",
    "count_run",
    "SHRINK_RUN",
    "ChunkResult",
    "Progress",
    "PropertyViolated",
    "run_chunk",
    "scenario_size",
    "settings_for",
    "unneeded_examples",
]


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




class Progress(Protocol):
    """What :func:`~podquake.chaos.campaign.run_campaign` reports progress to, e.g.
    :meth:`podquake.reports.CampaignProgress.update`: ``n`` more examples done; of all done so far,
    ``failures`` failed some property; ``shrink_runs`` runs were spent shrinking; ``unneeded``
    examples will not run, their chunk's Hypothesis having run out of new examples to draw."""

    def __call__(self, n: int, *, failures: int, shrink_runs: int, unneeded: int) -> None: ...


#: What a run of a campaign was, as :func:`run_chunk` reports it, and what it adds to the counts
#: of progress (examples done, failing examples, shrink runs).
EXAMPLE, FAILING_EXAMPLE, SHRINK_RUN = "example", "failing example", "shrink run"
RUN_KINDS: dict[str, tuple[int, int, int]] = {EXAMPLE: (1, 0, 0), FAILING_EXAMPLE: (1, 1, 0), SHRINK_RUN: (0, 0, 1)}


def count_run(counts: Any, kind: str) -> int:
    """Add a run of ``kind`` to ``counts`` (examples, failing examples, shrink runs: a list, or an
    array shared with worker processes) and return the examples it adds (0 or 1)."""
    step = RUN_KINDS[kind]
    for i in range(3):
        counts[i] += step[i]
    return step[0]


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


def _chunk_seed(campaign_seed: int, index: int, round_number: int = 0) -> int:
    """Hypothesis's seed for chunk ``index``'s run number ``round_number`` (see :func:`run_chunk`)."""
    key = f"podquake:{campaign_seed}:{index}" + (f":{round_number}" if round_number else "")
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")


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



def _blame_plugin(scheduler: Any, error: Flaky) -> None:
    """Raise an :class:`InputError` for a run that did not repeat when the scheduler is a plug-in
    (state kept between runs, or randomness of its own); with a built-in one it is podquake's bug."""
    if scheduler is None or (isinstance(scheduler, str) and scheduler.strip() in BUILTIN_SCHEDULERS):
        return
    raise InputError(
        f"scheduler {scheduler!r} made the same example give different results when it was run again "
        f"({type(error).__name__}): it keeps state from one run to the next, or draws randomness of its own",
        field="scheduler",
        fix="name its class (MODULE:Class) so that each run gets a new one, or keep no state between runs; "
        "take randomness only from the rng it is given (a constructor parameter named rng)",
    ) from None


def run_chunk(
    settings: CampaignSettings,
    index: int,
    size: int,
    replay_first: Sequence[Scenario] = (),
    on_run: Callable[[str], None] | None = None,
) -> ChunkResult:
    """Run chunk ``index`` of a campaign: ``size`` examples in seeded Hypothesis runs.

    Hypothesis stops drawing at a failure and shrinks it; the chunk's remaining examples then run in
    a new seeded Hypothesis run (a round), in which the properties that already failed are counted
    but no longer stop it, so a property failing at once does not hide the others for the rest of
    the chunk. The shrinker's re-runs are not counted as examples. ``on_run(kind)`` is told of each
    run as it ends, ``kind`` one of :data:`RUN_KINDS`."""
    result = ChunkResult(index)
    started = time.perf_counter()
    state: dict[str, Any] = {"shrinking": False, "shrink_runs": 0, "origin": None}
    masked: set[str] = set()  # properties that failed in an earlier round: counted, not raised
    judged: dict[str, list[Verdict]] = {}  # the verdicts of the examples run so far, by scenario
    # Failing examples as (scenario, its verdicts), by the first property they fail.
    first_failing: dict[str, tuple[Scenario, list[Verdict]]] = {}
    first_choices: dict[str, tuple[Any, ...] | None] = {}  # what Hypothesis drew for them
    last_failing: dict[str, tuple[Scenario, list[Verdict]]] = {}  # this round's
    # The smallest example a round's shrink ran into that fails another property too, with its
    # choices: that property's own shrink starts from it rather than from its first failure.
    smallest_seen: dict[str, tuple[Scenario, list[Verdict], tuple[Any, ...] | None, Any]] = {}
    first_sizes: dict[str, Any] = {}  # Hypothesis's size of each first failure (None: unknown)
    primaries: dict[str, tuple[Scenario, list[Verdict]]] = {}  # each round's shrunk failure, by property
    examples = _examples(settings, index)

    def one(scenario: Scenario) -> None:
        if stop_requested():
            raise KeyboardInterrupt  # Hypothesis lets it through at once; caught below
        if not state["shrinking"] and result.examples >= size:
            raise _ChunkFull  # a later round, whose draws may repeat examples, has run the rest
        if state["shrinking"]:
            state["shrink_runs"] += 1
            if state["shrink_runs"] > settings.shrink_runs:
                raise ShrinkBudgetSpent
            if on_run is not None:
                on_run(SHRINK_RUN)
        repeat = None
        if not state["shrinking"]:
            key = repr((scenario.faults, scenario.seed, scenario.cluster, scenario.workload))
            repeat = judged.get(key)
        if repeat is not None:
            # An example run already (in an earlier round, or drawn twice): its verdicts again, the
            # same answer for Hypothesis as a run would give, without running or counting it again.
            verdicts = repeat
            failed = [v for v in verdicts if v.status == FAILED]
        else:
            run = _run(scenario)
            verdicts, failed = run.verdicts, run.failed
        new = [v for v in failed if v.property not in masked]
        if not state["shrinking"] and repeat is None:
            judged[key] = verdicts
            result.examples += 1
            result.steps += len(scenario.faults)
            result.faults += len(scenario.faults)
            result.faults_by_kind.update(f.kind for f in scenario.faults)
            for verdict in verdicts:
                if verdict.status == FAILED:
                    result.failed[verdict.property] += 1
                    result.first.setdefault(verdict.property, verdict)
                    result.first_example.setdefault(verdict.property, result.examples)
                    if verdict.property not in first_failing:
                        first_failing[verdict.property] = (scenario, verdicts)
                        first_choices[verdict.property] = recorded_choices()
                        first_sizes[verdict.property] = recorded_size()
                elif verdict.status == UNKNOWN:
                    result.unknown[verdict.property] += 1
                    result.first_unknown.setdefault(verdict.property, verdict)
            _steer(run)
            if on_run is not None:
                on_run(FAILING_EXAMPLE if failed else EXAMPLE)
        if not state["shrinking"]:
            state["shrinking"] = bool(new)
            state["origin"] = new[0].property if new else None
        if new:
            # The shrinker tries candidates smaller than its current one and keeps any failure (it may
            # slip from one property to another), so the last failure of each property it fails is
            # the smallest found so far for that property.
            for verdict in failed:
                last_failing[verdict.property] = (scenario, verdicts)
            if state["shrinking"]:
                _note_smaller(smallest_seen, scenario, verdicts, failed)
            raise _violation_type(new[0].property)(new[0].line())

    phases = [Phase.explicit, Phase.generate, Phase.target] + ([Phase.shrink] if settings.shrink else [])
    ran_before = -1
    for round_number in itertools.count():
        remaining = size - result.examples
        if remaining <= 0 or result.examples == ran_before:
            break  # done, or the last round drew nothing new (Hypothesis ran out of examples)
        ran_before = result.examples
        # A later round's first draws are the simplest examples, run already: room for such repeats.
        test = settings_for(remaining if round_number == 0 else remaining + len(judged), phases)(given(examples)(one))
        for scenario in replay_first if round_number == 0 else ():
            test = _explicit(test, scenario)
        test = seed(_chunk_seed(settings.seed, index, round_number))(test)
        state.update(shrinking=False, shrink_runs=0, origin=None)
        last_failing.clear()
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
        except _ChunkFull:
            break
        except _Refused as refused:
            raise refused.error from None
        except Flaky as error:
            _blame_plugin(settings.base.scheduler, error)
            raise
        if shrunk_property is not None and shrunk_property in last_failing:
            primaries[shrunk_property] = last_failing[shrunk_property]
        if result.interrupted:
            break
        # On to the examples left: after a failure, or when some draws repeated examples already run
        # (not counted), until the chunk has run them all or a round finds none new.
        masked.update(first_failing, smallest_seen, primaries)
    chosen: dict[str, tuple[Scenario, list[Verdict], bool]] = {
        property_id: (*found, settings.shrink) for property_id, found in primaries.items()
    }
    # Every other property that failed: in a drawn example, or only in a run of the first shrink.
    others = list(first_failing) + [p for p in smallest_seen if p not in first_failing]
    for property_id in others:
        if property_id in chosen:
            continue
        # The candidates, the smallest winning (the first on a tie): the property's own shrink, the
        # shrunk example above when it breaks this property too, the smallest example the first
        # shrink ran into that breaks it (the own shrink starts there), its first failure as drawn.
        candidates: list[tuple[Scenario, list[Verdict], bool]] = []
        drawn = first_failing.get(property_id)
        choices = first_choices.get(property_id)
        seen = smallest_seen.get(property_id)
        if seen is not None and (drawn is None or _smaller(seen[3], first_sizes[property_id])):
            choices = seen[2]
        else:
            seen = None
        if settings.shrink and not result.interrupted and choices is not None:
            try:
                own = _shrink_alone(settings, examples, index, property_id, choices, on_run)
            except KeyboardInterrupt:
                result.interrupted = True  # stopped: keep what stands
                own = None
            if own is not None:
                candidates.append((*own, True))
        for primary in primaries.values():
            if _failure(primary[1], property_id) is not None:
                candidates.append((*primary, settings.shrink))
        if seen is not None:
            candidates.append((seen[0], seen[1], False))
        if drawn is not None:
            candidates.append((*drawn, False))
        chosen[property_id] = min(candidates, key=lambda candidate: scenario_size(candidate[0]))
    for property_id, (scenario, verdicts, shrunk) in chosen.items():
        failure = _failure(verdicts, property_id)
        message = failure.message if failure is not None else ""
        result.counterexamples.append((property_id, message, dump_scenario(scenario), [v.to_dict() for v in verdicts], shrunk))
    result.seconds = time.perf_counter() - started
    return result


def _note_smaller(
    smallest: dict[str, tuple[Scenario, list[Verdict], tuple[Any, ...] | None, Any]],
    scenario: Scenario,
    verdicts: list[Verdict],
    failed: Sequence[Verdict],
) -> None:
    """Keep ``scenario``, its choices and its size for each property it fails, when it is smaller
    than the one kept so far (see :func:`~podquake.chaos.hypothesis_internals.recorded_size`)."""
    size = recorded_size()
    for verdict in failed:
        kept = smallest.get(verdict.property)
        if kept is None or _smaller(size, kept[3]):
            smallest[verdict.property] = (scenario, verdicts, recorded_choices(), size)


def scenario_size(scenario: Scenario) -> tuple[int, int, int]:
    """How big a counterexample is to its reader: faults, then workload objects, then nodes (the
    smaller of two failures of a property is the one kept)."""
    return (len(scenario.faults), len(scenario.workload), scenario.cluster.node_count)


def _smaller(size: Any, than: Any) -> bool:
    """Whether Hypothesis's size ``size`` is smaller than ``than`` (never, when either is unknown)."""
    return size is not None and than is not None and size < than


def unneeded_examples(chunk: ChunkResult, size: int) -> int:
    """The examples of a chunk of ``size`` that did not run: Hypothesis ran out of new ones to draw
    (a search space smaller than the chunk), or, before the campaign went on after failures, the
    chunk stopped at one."""
    return 0 if chunk.interrupted else size - chunk.examples


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
        if stop_requested():
            raise KeyboardInterrupt
        if on_run is not None:
            on_run(SHRINK_RUN)
        verdicts = _run(scenario).verdicts
        if _failure(verdicts, property_id) is not None:
            last[:] = [(scenario, verdicts)]
            return True
        return False

    try:
        with no_local_constants():
            smallest = shrink_again(examples, choices, fails, runs=settings.shrink_runs, seed=_chunk_seed(settings.seed, index))
    except _Refused as refused:
        raise refused.error from None
    return None if smallest is None else last[0]


class _ChunkFull(BaseException):
    """Stops a round once the chunk has run all its examples (past Hypothesis, as KeyboardInterrupt)."""


class _Refused(BaseException):
    """Carries an example's bad input (a property whose code raised) past Hypothesis, which would
    take an Exception for a failure to shrink; :func:`run_chunk` raises ``error`` itself."""

    def __init__(self, error: InputError) -> None:
        super().__init__(str(error))
        self.error = error


def _run(scenario: Scenario) -> ScenarioResult:
    """:func:`run_scenario` for a campaign's example: asks for stop requests, and raises its bad input
    as :class:`_Refused`."""
    try:
        return run_scenario(scenario, stop=stop_requested)
    except InputError as error:
        raise _Refused(error) from None


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
            # The seed offset by the chunk: every chunk's Hypothesis tries the simplest schedules first,
            # and with the same seeds the chunks would all run them.
            return _variant(base, faults, draw(st.integers(0, 2**16)) + chunk) if faults else fault_free

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
