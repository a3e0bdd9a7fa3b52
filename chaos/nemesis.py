"""The nemesis: the one place faults have effects. It applies each fault at its time, heals it after
its duration, and ends the fault phase with a final heal, so that liveness is judged on a quiet
cluster.

A :class:`Nemesis` is given a simulation, the faults, and ``end``, the end of the fault phase. Once
:meth:`~Nemesis.start` ed, it has set one timer per fault (so faults cost nothing while they wait)
and one for the final heal; :meth:`~Nemesis.run` does that and runs the simulation to
``end + quiet``. What it does is marked in the trace with
:class:`~podquake.model.trace.Annotation` events, which properties and reports read:

- ``fault-started`` (detail: the fault's ``repr``) when a fault is applied;
- ``fault-target`` (``repr -> what it hit``) right after, when the fault chose its target by a
  selector index (``node=0`` is the busiest node *then*);
- ``fault-healed`` (the ``repr``) when it is undone: after its duration, at the final heal if it
  would outlast the fault phase, or at once for a fault that is over when applied (a pod kill, a
  single crash);
- ``fault-skipped`` (``repr: reason``) for a fault that could not be applied (its target does not
  exist then, it is due outside the fault phase): never a crashed run;
- ``all-healed`` once, at the final heal at ``end``: the quiet period starts there. Permanent faults
  (``duration=None`` where a kind allows it) are not healed: the cluster must live with them.

>>> from podquake.model import ClusterSpec, Simulation
>>> from podquake.chaos import NodeFailure, PodKill
>>> sim = Simulation(ClusterSpec.uniform(nodes=3, zones=1), seed=1, load_mode=None)
>>> nemesis = Nemesis(sim, [NodeFailure(node="worker-2", at=10.0, duration=30.0), PodKill(pod=0, at=20.0)], end=60.0)
>>> nemesis.run(quiet=30.0)
>>> [(r.t, r.label) for r in nemesis.records]
[(10.0, 'fault-started'), (20.0, 'fault-skipped'), (40.0, 'fault-healed'), (60.0, 'all-healed')]
>>> sim.now, sim.state.nodes["worker-2"].up
(90.0, True)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from podquake.chaos.faults import Fault
from podquake.chaos.faults_effects import Applied, Levers, Skipped, apply_fault
from podquake.model.errors import InputError
from podquake.model.trace import Annotation

if TYPE_CHECKING:
    from podquake.model.simulation import Simulation

__all__ = ["FaultRecord", "Nemesis"]

FAULT_STARTED = "fault-started"
FAULT_TARGET = "fault-target"
FAULT_HEALED = "fault-healed"
FAULT_SKIPPED = "fault-skipped"
ALL_HEALED = "all-healed"

_SELECTOR_FIELDS = ("node", "zone", "pod", "service")


def _seconds(name: str, value: object, example: str, *, endless: bool = False) -> float:
    """``value`` as a float, or an :class:`InputError` naming the argument: a NaN or a string would
    otherwise make every timer comparison false and the run silently do nothing. ``endless`` allows
    ``math.inf`` (a nemesis with no fault phase end, driven step by step)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) or (endless and value == math.inf)):
        raise InputError(f"{name} must be a finite number of seconds, not {value!r}", field=f"Nemesis.{name}", fix=f"write e.g. {example}")
    return float(value)


def _uses_selector(fault: Fault) -> bool:
    """Whether the fault names a target by a selector index (so the record should say what it hit)."""
    if any(isinstance(getattr(fault, name, None), int) for name in _SELECTOR_FIELDS):
        return True
    groups = getattr(fault, "groups", None) or ()
    return any(isinstance(member, int) for group in groups for member in group)


@dataclass(frozen=True, slots=True)
class FaultRecord:
    """One thing the nemesis did: at ``t``, ``label`` (as in the trace's annotation) for ``fault``
    (None for ``all-healed``), with ``detail``: the target it hit, or why it was skipped."""

    t: float
    label: str
    fault: Fault | None
    detail: str = ""


class _Active:
    __slots__ = ("applied", "fault")

    def __init__(self, fault: Fault, applied: Applied) -> None:
        self.fault = fault
        self.applied = applied


class Nemesis:
    """Applies ``faults`` to ``sim`` at their times and heals them; see the module docstring.

    ``end``: the end of the fault phase, when the final heal comes (default: when the last fault
    would heal, or its start for an instant or permanent one; ``math.inf``: none, until
    :meth:`heal_all`, and :meth:`run` is refused). Faults due at or after ``end``, or
    before the simulation's time at :meth:`start`, are skipped and recorded.
    """

    def __init__(self, sim: Simulation, faults: Iterable[Fault], *, end: float | None = None) -> None:
        self.sim = sim
        self.faults = tuple(faults)
        for fault in self.faults:
            if not isinstance(fault, Fault):
                raise TypeError(f"not a fault: {fault!r}; build one from podquake.chaos (NodeFailure(...), ...)")
        if end is None:
            end = max((f.ends_at if f.ends_at is not None else f.at for f in self.faults), default=sim.now)
            end = max(end, sim.now)
        self.end = _seconds("end", end, "end=300.0", endless=True)
        self.levers = Levers(sim, phase_end=self.end)
        self.records: list[FaultRecord] = []
        self.active: dict[int, _Active] = {}  # by position in ``faults``, in application order
        self.started = False
        self.finished = False

    # --- driving -------------------------------------------------------------------------------------
    def start(self) -> Nemesis:
        """Set the timers: each fault at its ``at``, the final heal at ``end``. Call once."""
        if self.started:
            raise RuntimeError("this nemesis has already started; build a new one for another run")
        self.started = True
        env = self.sim.env
        now = self.sim.now
        if self.end < now:
            raise ValueError(
                f"the fault phase ends at t={self.end:g}, before the simulation's clock (t={now:g}): "
                f"give the nemesis an end after now, or start it before running the simulation that far"
            )
        for index, fault in enumerate(self.faults):
            if fault.at >= self.end:
                self._skip(fault, f"due at {fault.at:g}, at or after the end of the fault phase ({self.end:g})")
            elif fault.at < now:
                self._skip(fault, f"due at {fault.at:g}, before the nemesis started ({now:g})")
            else:
                timeout = env.timeout(fault.at - now)
                timeout.callbacks.append(lambda _e, i=index: self._apply(i))  # type: ignore[union-attr]
        final = env.timeout(self.end - now)
        final.callbacks.append(lambda _e: self.heal_all())  # type: ignore[union-attr]
        return self

    def run(self, quiet: float = 0.0) -> None:
        """Start (if needed) and run the simulation through the fault phase, the final heal, and
        ``quiet`` seconds after it."""
        quiet = _seconds("quiet", quiet, "quiet=60.0")
        if self.end == math.inf:
            raise InputError(
                "a nemesis with no end (end=inf) cannot be run to its end",
                field="Nemesis.end",
                fix="give it a finite end, or run the simulation yourself and call heal_all()",
            )
        if quiet < 0:
            raise InputError(f"the quiet period must be >= 0 seconds, not {quiet:g}", field="Nemesis.quiet", fix="write e.g. quiet=60.0")
        if not self.started:
            self.start()
        self.sim.run(max(self.sim.now, self.end + quiet))
        if not self.finished:  # a zero quiet period stops the clock just before the final heal's timer
            self.heal_all()

    def heal_all(self) -> int:
        """The final heal, now: undo every active fault that is not permanent, then mark
        ``all-healed`` (once). Returns how many faults it healed."""
        if self.finished:
            return 0
        self.finished = True
        healed = 0
        for index, active in list(self.active.items()):
            if active.fault.ends_at is not None or active.applied.heal_at is not None:
                self._heal(index)
                healed += 1
        self._record(ALL_HEALED, None, f"{healed} fault(s) healed at the end of the fault phase")
        return healed

    # --- one fault -----------------------------------------------------------------------------------
    def _apply(self, index: int) -> None:
        if self.finished:
            return
        fault = self.faults[index]
        try:
            applied = apply_fault(self.levers, fault)
        except Skipped as reason:
            self._skip(fault, str(reason))
            return
        self._record(FAULT_STARTED, fault, applied.target)
        if _uses_selector(fault):
            self._record(FAULT_TARGET, fault, applied.target, f"{fault!r} -> {applied.target}")
        heal_at = applied.heal_at if applied.heal_at is not None else fault.ends_at
        if fault.instant and applied.heal_at is None:
            self._record(FAULT_HEALED, fault, applied.target)
            return
        self.active[index] = _Active(fault, applied)
        if heal_at is not None and heal_at < self.end:
            timeout = self.sim.env.timeout(heal_at - self.sim.now)
            timeout.callbacks.append(lambda _e: self._heal(index))  # type: ignore[union-attr]

    def _heal(self, index: int) -> None:
        active = self.active.pop(index, None)
        if active is None:
            return
        active.applied.heal()
        self._record(FAULT_HEALED, active.fault, active.applied.target)

    def _skip(self, fault: Fault, reason: str) -> None:
        self._record(FAULT_SKIPPED, fault, reason, f"{fault!r}: {reason}")

    def _record(self, label: str, fault: Fault | None, detail: str, text: str | None = None) -> None:
        t = self.sim.now
        self.records.append(FaultRecord(t, label, fault, detail))
        if text is None:
            text = repr(fault) if fault is not None else detail
        self.sim.state.record(Annotation(t, label, text))

    # --- reading -------------------------------------------------------------------------------------
    @property
    def skipped(self) -> list[FaultRecord]:
        return [r for r in self.records if r.label == FAULT_SKIPPED]

    def __repr__(self) -> str:
        return f"Nemesis({len(self.faults)} faults, end={self.end:g}, {len(self.active)} active)"
