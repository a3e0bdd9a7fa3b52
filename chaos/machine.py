"""``ClusterMachine``: a Hypothesis state machine over a simulated cluster, for stateful chaos tests.

A campaign (:mod:`podquake.chaos.campaign`) draws a whole fault schedule up front; a state machine
decides one step at a time, which suits a user who wants to add steps of their own (scale a
Deployment, roll out a new image, cordon a node) between the faults. Each example:

1. builds a :class:`~podquake.model.simulation.Simulation` from the class's scenario (default: the
   embedded sample shop, ``chaos/samples/default.yaml``), attaches a
   :class:`~podquake.properties.monitor.Monitor`, applies the workload and traffic, and lets the
   cluster settle for ``settle_seconds``;
2. runs rules that Hypothesis picks: **inject a fault** (any of ``fault_kinds``, drawn compactly by
   :func:`~podquake.chaos.strategies.faults`), **spike traffic** on a fed Service, **advance time**;
   every fault goes through the nemesis's own machinery (:mod:`podquake.chaos.nemesis`), so it is
   marked in the trace, composes with the others, and heals after its duration;
3. after every step, the invariant :meth:`ClusterMachine.safety_holds` asserts that no safety
   property has failed (the message is the verdict lines);
4. the teardown lets the faults still in force run their course, marks the final heal
   (``all-healed``), runs a quiet period of ``quiet_seconds`` and asserts that no property failed:
   bounded liveness (and the statistical properties) are judged after the faults stop, as in a
   campaign.

A rule's fault starts when its step runs: its drawn ``at`` is 0 and is replaced by the current time.
Users subclass, choose the scenario and knobs with class attributes, and add rules::

    from hypothesis import settings, strategies as st
    from hypothesis.stateful import rule
    from podquake.chaos import ClusterMachine

    class ShopMachine(ClusterMachine):
        scheduler = "mypkg.sched:MyScheduler"
        fault_kinds = ("node-failure", "container-crash", "traffic-spike")

        @rule(node=st.sampled_from(["worker-1", "worker-2"]))
        def cordon(self, node):  # a step of one's own: any call on the model
            self.sim.state.set_unschedulable(node, True)

    TestShop = settings(max_examples=20, stateful_step_count=20, deadline=None)(ShopMachine).TestCase

Class attributes (the strategies of the built-in rules are rebuilt for a subclass that sets one of
the knobs, when the class is defined; a bad fault kind fails then, not halfway through a run):

- ``scenario``: a :class:`~podquake.chaos.scenario.Scenario`, scenario YAML text or a path; its
  cluster, seed, scheduler, traffic, workload, quiet period and properties are used (its faults are
  not: the rules are the faults). None: the sample shop. A relative path is relative to the folder
  of the module that defines the class setting it (as a scenario's workload paths are relative to
  the scenario file), not to the working directory, so the test runs from anywhere; only a class
  whose module has no file (typed at an interactive prompt) reads it from the working directory.
- ``manifests``: Kubernetes YAML (a file, a folder or text) to run instead of the scenario's
  workload; its LoadBalancer and NodePort Services get steady external traffic. A relative path
  is found as ``scenario``'s is.
- ``scheduler``: a name, ``MODULE:ATTR``, a scheduler class (a fresh instance per example) or object
  (a fresh deep copy per example);
  None: the scenario's.
- ``properties``: property ids to judge; None: the scenario's suite (the library's, by default).
  Each keeps the parameters the scenario gives it; an id the scenario does not list gets the
  property's defaults. The scenario's ``imports:`` are imported first, so its own properties count.
- ``fault_kinds``, ``max_fault_seconds``, ``max_step_seconds``, ``settle_seconds``,
  ``quiet_seconds`` (None: the scenario's ``quiet``), ``max_spikes`` (traffic spikes in force at
  once; more are skipped, see :class:`StepNemesis`).

A class that sets ``scenario``, ``manifests`` or ``properties`` reads and checks them when it is
defined (a missing file, a bad scenario or an unknown property id fails then, naming the class),
not in each example.

Hooks: :meth:`build_simulation` (e.g. to seed a bug in the model for a test), :meth:`inject` and
:meth:`advance` for rules of one's own.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from podquake.chaos.faults import Fault, TrafficSpike
from podquake.chaos.nemesis import FaultRecord, Nemesis
from podquake.chaos.scenario import Scenario, load_scenario, names_a_file, scenario_notes
from podquake.chaos.strategies import DEFAULT_FAULT_KINDS, faults
from podquake.model.errors import InputError
from podquake.model.scheduling.registry import fresh_copy
from podquake.model.simulation import Simulation
from podquake.properties import FAILED, Monitor, Suite, Verdict

__all__ = ["ClusterMachine", "StepNemesis"]

_SERVICE_SELECTORS = 8
_KNOBS = ("fault_kinds", "max_fault_seconds", "max_step_seconds")
_INPUTS = ("scenario", "manifests", "properties")


class StepNemesis(Nemesis):
    """A nemesis told each fault when a step injects it, rather than given a schedule up front.

    There is no fault phase end until :meth:`~podquake.chaos.nemesis.Nemesis.heal_all`: a fault heals
    after its own duration. At most ``max_spikes`` traffic spikes are in force at once (more are
    skipped and recorded): overlapping spikes multiply, and a walk that piles up dozens of them asks
    for astronomically many requests. Everything else (the levers that compose overlapping faults,
    the marks in the trace, skipping a fault whose target is missing) is the nemesis's.
    """

    def __init__(self, sim: Simulation, *, max_spikes: int = 3) -> None:
        super().__init__(sim, (), end=math.inf)
        self.started = True  # no timers to set: faults arrive through inject()
        self.max_spikes = max_spikes

    def inject(self, fault: Fault) -> list[FaultRecord]:
        """Apply ``fault`` now (its ``at`` becomes the current time); returns what the nemesis recorded."""
        if not isinstance(fault, Fault):
            raise TypeError(f"not a fault: {fault!r}; build one from podquake.chaos (NodeFailure(...), ...)")
        now = self.sim.now
        if fault.at != now:
            fault = replace(fault, at=now)  # type: ignore[type-var]
        self.faults = (*self.faults, fault)
        first = len(self.records)
        if isinstance(fault, TrafficSpike) and self._spikes() >= self.max_spikes:
            self._skip(fault, f"{self.max_spikes} traffic spikes are already in force (spikes multiply)")
        else:
            self._apply(len(self.faults) - 1)
        return self.records[first:]

    def _spikes(self) -> int:
        return sum(1 for active in self.active.values() if isinstance(active.fault, TrafficSpike))

    def last_heal(self) -> float:
        """When the last fault in force heals by itself (now if none does)."""
        ends = [self.sim.now]
        for active in self.active.values():
            end = active.applied.heal_at if active.applied.heal_at is not None else active.fault.ends_at
            if end is not None:
                ends.append(end)
        return max(ends)


_BASES: dict[type, Scenario] = {}


class ClusterMachine(RuleBasedStateMachine):
    """A simulated cluster under faults chosen step by step; see the module docstring."""

    scenario: ClassVar[Scenario | str | Path | None] = None
    manifests: ClassVar[str | Path | None] = None
    scheduler: ClassVar[Any] = None
    properties: ClassVar[Sequence[str] | None] = None
    fault_kinds: ClassVar[Sequence[str]] = DEFAULT_FAULT_KINDS
    max_fault_seconds: ClassVar[float] = 300.0
    max_step_seconds: ClassVar[float] = 60
    settle_seconds: ClassVar[float] = 30.0
    quiet_seconds: ClassVar[float | None] = None
    max_spikes: ClassVar[int] = 3

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _check_knobs(cls)
        if any(name in vars(cls) for name in _KNOBS):
            _install_rules(cls)
        if any(name in vars(cls) for name in _INPUTS):
            _check_properties(cls, cls.base_scenario())  # read and checked now, not in every example
        if any(name in vars(cls) for name in (*_INPUTS, "quiet_seconds")):
            _warn_notes(cls, cls.base_scenario())

    def __init__(self) -> None:
        super().__init__()
        base = type(self).base_scenario()
        self.base = base
        self.sim = self.build_simulation(base)
        suite = self.suite(base)
        self.kinds = {prop.id: prop.kind for prop in suite}
        self.monitor = Monitor(suite).attach(self.sim)
        self.sim.apply(base.manifests())
        for generator in base.traffic:
            self.sim.traffic.add(generator)
        self.nemesis = StepNemesis(self.sim, max_spikes=self.max_spikes)
        self.verdicts: list[Verdict] = []
        if self.settle_seconds > 0:
            self.sim.run(self.sim.now + self.settle_seconds)

    # --- what an example runs on ---------------------------------------------------------------------
    @classmethod
    def base_scenario(cls) -> Scenario:
        """The class's scenario (``scenario`` with ``manifests``), read and checked once per class."""
        found = _BASES.get(cls)
        if found is None:
            found = _BASES[cls] = _load_base(cls)
        return found

    def build_simulation(self, scenario: Scenario) -> Simulation:
        """The simulation at t=0, before the workload is applied. Override to change the model (a
        :class:`~podquake.model.simulation.Timing`, a seeded bug) for every example."""
        scheduler = fresh_copy(type(self).scheduler)  # an object's state must not carry between examples
        return Simulation(
            scenario.cluster,
            seed=scenario.seed,
            scheduler=scheduler if scheduler is not None else scenario.scheduler,
            load_mode=scenario.load_mode if scenario.traffic else None,
        )

    def suite(self, scenario: Scenario) -> Suite:
        """The properties judged: ``properties`` if set (each with the parameters ``scenario`` gives
        it, else its defaults), else the scenario's suite."""
        if self.properties is not None:
            return scenario.with_properties(self.properties).suite()
        return scenario.suite()

    # --- for rules -----------------------------------------------------------------------------------
    def inject(self, fault: Fault) -> list[FaultRecord]:
        """Apply ``fault`` now through the nemesis (it heals after its duration); returns the records
        (``fault-started``, or ``fault-skipped`` with the reason when its target is missing)."""
        return self.nemesis.inject(fault)

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of simulated time pass."""
        if seconds > 0:
            self.sim.run(self.sim.now + seconds)

    # --- checks --------------------------------------------------------------------------------------
    @invariant()
    def safety_holds(self) -> None:
        """No safety property has failed so far."""
        _assert_held([v for v in self.monitor.failures() if self.kinds.get(v.property) == "safety"])

    def teardown(self) -> None:
        """Let the faults in force run their course, heal, stay quiet, and assert no property failed
        (a property whose own code raised is an :class:`~podquake.model.errors.InputError`).

        When a step has already failed, nothing is judged: the step's own error is the one to report.
        """
        if sys.exc_info()[0] is not None:
            return
        self.sim.run(max(self.sim.now, self.nemesis.last_heal()))  # faults already healed need no wait
        self.nemesis.heal_all()
        quiet = self.quiet_seconds if self.quiet_seconds is not None else self.base.quiet
        self.sim.run(self.sim.now + quiet)
        self.verdicts = self.monitor.verdicts(end=self.sim.now)
        self.monitor.refuse_broken()  # a property whose own code raised judged nothing: not a pass
        _assert_held(self.verdicts)


def _assert_held(verdicts: Sequence[Verdict]) -> None:
    """Fail with the failed ones of ``verdicts``, a line each. The invariant and the teardown both
    fail here, from this one line: Hypothesis tells bugs apart by where they are raised, and a
    safety failure seen after a step or only in the final run is one bug, to be shrunk once."""
    failed = [v for v in verdicts if v.status == FAILED]
    if failed:
        raise AssertionError("\n".join(v.line() for v in failed))


# --- the built-in rules ------------------------------------------------------------------------------
# Named as the machine's attributes, since Hypothesis prints a failing walk as calls by these names.
def inject_fault(self: ClusterMachine, fault: Fault) -> None:
    """Inject one fault of ``fault_kinds`` now."""
    self.inject(fault)


def spike_traffic(self: ClusterMachine, spike: TrafficSpike) -> None:
    """Multiply the traffic of a fed Service for a while."""
    self.inject(spike)


def advance_time(self: ClusterMachine, seconds: int) -> None:
    """Let 1..``max_step_seconds`` seconds pass (whole seconds: a step shrinks to a short one)."""
    self.advance(seconds)


def _has_traffic(self: ClusterMachine) -> bool:
    return bool(self.sim.traffic.generators)


def _install_rules(cls: type[ClusterMachine]) -> None:
    """(Re)build the built-in rules' strategies from ``cls``'s knobs (a rule the class defines itself stays)."""
    longest = float(cls.max_fault_seconds)
    durations = st.integers(10, max(10, int(longest))).map(float)
    made = {
        "inject_fault": rule(fault=faults(tuple(cls.fault_kinds), horizon=1.0, max_duration=max(10.0, longest)))(inject_fault),
        "spike_traffic": precondition(_has_traffic)(
            rule(
                spike=st.builds(
                    TrafficSpike,
                    service=st.integers(0, _SERVICE_SELECTORS - 1),
                    at=st.just(0.0),
                    duration=durations,
                    multiplier=st.integers(2, 10).map(float),
                )
            )(spike_traffic)
        ),
        "advance_time": rule(seconds=st.integers(1, int(cls.max_step_seconds)))(advance_time),
    }
    for name, function in made.items():
        if name in vars(cls):
            continue  # the subclass wrote its own
        setattr(cls, name, function)


def _check_knobs(cls: type[ClusterMachine]) -> None:
    """Refuse bad class attributes when the class is defined."""
    name = cls.__name__
    spikes = cls.max_spikes
    if isinstance(spikes, bool) or not isinstance(spikes, int) or spikes < 0:
        raise InputError(f"{name}.max_spikes must be a whole number >= 0, not {spikes!r}", field="max_spikes", fix="e.g. max_spikes = 3")
    for knob, low in (("max_step_seconds", 1.0), ("max_fault_seconds", 10.0), ("settle_seconds", 0.0)):
        value = getattr(cls, knob)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < low:
            raise InputError(f"{name}.{knob} must be a number of seconds >= {low:g}, not {value!r}", field=knob, fix=f"e.g. {knob} = 60")
    quiet = cls.quiet_seconds
    if quiet is not None and (isinstance(quiet, bool) or not isinstance(quiet, (int, float)) or not math.isfinite(quiet) or quiet < 0):
        raise InputError(f"{name}.quiet_seconds must be a number of seconds >= 0 or None, not {quiet!r}", field="quiet_seconds", fix="e.g. quiet_seconds = 420")
    for knob in ("fault_kinds", "properties"):
        value = getattr(cls, knob)
        if isinstance(value, str):
            raise InputError(f"{name}.{knob} must be a sequence of names, not the string {value!r}", field=knob, fix=f"write {knob} = ({value!r},)")
    try:
        faults(tuple(cls.fault_kinds))
    except InputError as error:  # named as the class attribute the user wrote, not the strategy's argument
        raise InputError(f"{name}.fault_kinds: {error.message}", field="fault_kinds", fix=error.fix) from None


IMPORT_IN_THE_MODULE = "import that module in the test module that defines the machine (import myteam.props), or name it under the scenario's imports:"
"""How a property of one's own becomes known to a state machine (an unknown id's fix)."""


def _warn_notes(cls: type[ClusterMachine], base: Scenario) -> None:
    """A warning, when the class is defined, for each of the machine's scenario notes: what the model
    ignores in its manifests, and a ``quiet_seconds`` too short for a property's time bound (such a
    property cannot fail, and the machine would pass whatever the cluster did)."""
    judged = base.with_properties(cls.properties) if cls.properties is not None else base
    for note in scenario_notes(judged, quiet=cls.quiet_seconds, quiet_name=f"{cls.__name__}.quiet_seconds"):
        warnings.warn(f"podquake: {note}", UserWarning, stacklevel=3)


def _check_properties(cls: type[ClusterMachine], base: Scenario) -> None:
    """Refuse ``cls.properties`` naming an unknown id or a duplicate, naming the class attribute."""
    from podquake.properties.registry import UnknownPropertyError

    if cls.properties is None:
        return
    try:
        base.with_properties(cls.properties).suite()
    except UnknownPropertyError as error:
        raise error.told(IMPORT_IN_THE_MODULE, source="", field=f"{cls.__name__}.properties") from None
    except InputError as error:
        raise InputError(error.message, field=f"{cls.__name__}.properties", fix=error.fix) from None


def _knob_path(cls: type[ClusterMachine], knob: str, value: str | Path) -> Path:
    """``value`` (a path) as ``cls`` means it: a relative path is relative to the folder of the module
    that defines the class setting ``knob`` (the working directory when that module has no file)."""
    path = Path(value)
    if path.is_absolute():
        return path
    owner = next((k for k in cls.__mro__ if knob in vars(k)), cls)
    module = sys.modules.get(owner.__module__)
    file = getattr(module, "__file__", None)
    return Path(file).resolve().parent / path if file else path


def _load_base(cls: type[ClusterMachine]) -> Scenario:
    given = cls.scenario
    if given is None:
        from podquake.chaos.cli import default_scenario_text

        base = load_scenario(default_scenario_text(), source="<embedded default scenario>")
    elif isinstance(given, Scenario):
        base = given
    elif isinstance(given, (str, Path)) and names_a_file(given):
        path = _knob_path(cls, "scenario", given)
        if not path.is_file():
            raise InputError(
                f"no such scenario file: {path}",
                field=f"{cls.__name__}.scenario",
                fix="give a path relative to the folder of the test module that sets scenario (or an absolute one), YAML text or a Scenario",
            )
        base = load_scenario(path)
    elif isinstance(given, str):
        base = load_scenario(given)
    else:
        raise InputError(f"{cls.__name__}.scenario must be a Scenario, YAML text or a path, not {type(given).__name__}", field="scenario", fix="e.g. scenario = 'my-scenario.yaml'")
    if cls.manifests is not None:
        manifests = cls.manifests
        if isinstance(manifests, (str, Path)) and names_a_file(manifests):
            manifests = _knob_path(cls, "manifests", manifests)
        base = _with_manifests(base, manifests, cls.__name__)
    base.manifests()  # parsed once per class; every example applies the same objects
    return base


def _with_manifests(base: Scenario, manifests: str | Path, owner: str) -> Scenario:
    """``base`` running ``manifests`` (a path, or YAML text), with traffic to its entry-point Services."""
    from podquake.chaos.traffic_default import traffic_for
    from podquake.model.yaml_safety import load_documents

    text = str(manifests)
    if not names_a_file(manifests):
        workload: tuple[Any, ...] = tuple(data for _, data in load_documents(text, f"{owner}.manifests") if data is not None)
    else:
        path = Path(manifests)
        if not path.exists():
            raise InputError("no such file or folder", source=text, field=f"{owner}.manifests", fix="give a Kubernetes YAML file, a folder of them (relative to the test module's folder, or absolute), or YAML text")
        workload = (str(path.resolve()),)
    changed = replace(base, workload=workload, traffic=())
    changed.manifests()
    return replace(changed, traffic=traffic_for(changed))


_install_rules(ClusterMachine)
