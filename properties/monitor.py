"""The monitor: feeds a run's events to a suite of properties and collects their verdicts.

Live, it listens to a simulation's store and judges every transition as it happens; afterwards,
:func:`check_trace` replays a recorded trace through a fresh suite. Both paths run the same code, so
a live verdict and a replayed one agree. Each event goes only to the properties with a handler for
its type (``on_<EventType>``), after the shared :class:`~podquake.properties.ledger.Ledger` has
folded it in: checking is incremental, never a rescan of the cluster.

A property that raises is not a crashed run: its verdict becomes ``unknown`` with the error, and it
receives no more events. A scenario run (and so a campaign, a replay, the pytest plugin) then refuses
the run with :meth:`Monitor.refuse_broken`: a property that cannot judge would let the run pass.

>>> from podquake.model import ClusterSpec, Simulation
>>> from podquake.properties import Monitor, Suite
>>> sim = Simulation(ClusterSpec.uniform(nodes=3, zones=1), seed=7)
>>> monitor = Monitor(Suite.of(["no-overcommit"])).attach(sim)
>>> sim.run(60)
>>> [v.status for v in monitor.verdicts()]
['passed']
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from podquake.model import trace as ev
from podquake.model.errors import InputError
from podquake.properties.base import Property, RunInfo
from podquake.properties.ledger import Ledger
from podquake.properties.registry import Suite
from podquake.properties.verdict import FAILED, Verdict

if TYPE_CHECKING:
    from podquake.model.simulation import Simulation

__all__ = ["Monitor", "check_trace"]

Handler = Callable[[Any, Ledger], None]


class Monitor:
    """Runs ``suite`` over one run's events; see the module docstring."""

    def __init__(self, suite: Suite | Iterable[Property]) -> None:
        suite = suite if isinstance(suite, Suite) else Suite(suite)
        if suite.judging:  # its properties hold another run's violations
            suite = suite.fresh()
        suite.judging = True
        self.suite = suite
        self.ledger = Ledger()
        self._errors: dict[str, Verdict] = {}
        self._broken: dict[str, tuple[str, BaseException | None]] = {}  # property id -> what went wrong, the error
        self._dispatch: dict[type[ev.Event], list[tuple[Property, Handler]]] = {}
        for prop in self.suite:
            for name, event_type in _handled(type(prop)):
                self._dispatch.setdefault(event_type, []).append((prop, getattr(prop, name)))
        self._sim: Simulation | None = None

    def attach(self, sim: Simulation) -> Monitor:
        """Judge ``sim`` live: fold in what already happened, then every event as it is recorded."""
        if sim.trace.count and not sim.trace.keep:
            raise ValueError("the simulation does not keep its trace (keep_trace=False): attach the monitor before it runs")
        for event in sim.trace.events:
            self.observe(event)
        sim.state.listen(self.observe)
        self._sim = sim
        return self

    def observe(self, event: ev.Event) -> None:
        """Fold ``event`` into the ledger, then hand it to each property that handles its type."""
        ledger = self.ledger
        ledger.apply(event)
        handlers = self._dispatch.get(type(event))
        if handlers:
            for prop, handler in handlers:
                try:
                    handler(event, ledger)
                except Exception as error:  # noqa: BLE001 - a broken property must not break the run
                    self._retire(prop, error, event.t)

    def failures(self) -> list[Verdict]:
        """Breaches seen so far, one verdict per failing property (what an invariant checks each step)."""
        found = []
        for prop in self.suite:
            if prop.id in self._errors or prop.first is None:
                continue
            found.append(prop.verdict_so_far())
        return found

    def verdicts(self, *, end: float | None = None, quiet_from: float | None = None) -> list[Verdict]:
        """Every property's verdict, in suite order. ``end`` defaults to the simulation's clock (live)
        or the last event's time; ``quiet_from`` to the ledger's record of when the faults stopped."""
        if end is None:
            end = self._sim.now if self._sim is not None else self.ledger.now
        run = RunInfo(end=end, quiet_from=self.ledger.quiet_from if quiet_from is None else quiet_from)
        results = []
        for prop in self.suite:
            error = self._errors.get(prop.id)
            if error is None:
                try:
                    verdict = prop.finish(self.ledger, run)
                except Exception as exc:  # noqa: BLE001
                    error = _unknown(prop, exc, end)
                    self._broken.setdefault(prop.id, (f"{error.message} when judging the run's end", exc))
                else:
                    if isinstance(verdict, Verdict):
                        results.append(verdict)
                        continue
                    error = Verdict.unknown(prop.id, f"its finish() returned {verdict!r}, not a Verdict", time=end)
                    self._broken.setdefault(prop.id, (error.message, None))
            results.append(error)
        return results

    def refuse_broken(self) -> None:
        """Raise for the first property (in suite order) whose own code failed in this run (it raised,
        or its ``finish`` answered something other than a Verdict): an
        :class:`~podquake.model.errors.InputError` naming it, where it raised and the fix, for a
        user's property; a RuntimeError (podquake's own bug) for one of the library's. Call it after
        :meth:`verdicts`."""
        for prop in self.suite:
            if prop.id in self._broken:
                what, error = self._broken[prop.id]
                raise _broken_error(prop, what, error)

    def _retire(self, prop: Property, error: Exception, t: float) -> None:
        self._errors[prop.id] = _unknown(prop, error, t)
        self._broken.setdefault(prop.id, (f"{self._errors[prop.id].message} at t={t:g}s", error))
        for event_type, handlers in list(self._dispatch.items()):
            self._dispatch[event_type] = [(p, h) for p, h in handlers if p is not prop]


_HANDLED: dict[type[Property], tuple[tuple[str, type[ev.Event]], ...]] = {}


def _handled(cls: type[Property]) -> tuple[tuple[str, type[ev.Event]], ...]:
    """The ``on_<EventType>`` handlers a property class defines, found once per class."""
    found = _HANDLED.get(cls)
    if found is None:
        found = tuple((f"on_{name}", t) for name, t in ev.EVENT_TYPES.items() if hasattr(cls, f"on_{name}"))
        _HANDLED[cls] = found
    return found


def _unknown(prop: Property, error: Exception, t: float) -> Verdict:
    return Verdict.unknown(prop.id, f"the property raised {type(error).__name__}: {error}", time=t)


def _broken_error(prop: Property, what: str, error: BaseException | None) -> Exception:
    """What :meth:`Monitor.refuse_broken` raises for ``prop``: see there."""
    module = type(prop).__module__
    if module.startswith("podquake."):
        return RuntimeError(f"podquake's own property {prop.id!r}: {what}")
    where = ""
    if error is not None and error.__traceback__ is not None:
        frame = traceback.extract_tb(error.__traceback__)[-1]
        where = f" (in {frame.name}, {frame.filename}:{frame.lineno})"
    return InputError(
        f"{what}{where}; a property that cannot judge would let every run pass",
        field=f"properties: {prop.id} (module {module})",
        fix="fix the property's code, then run again; its verdict is unknown until then",
    )


def check_trace(
    events: Iterable[ev.Event],
    suite: Suite | Iterable[Property],
    *,
    end: float | None = None,
    quiet_from: float | None = None,
) -> list[Verdict]:
    """Judge a recorded run: replay ``events`` (a :class:`~podquake.model.trace.Trace` or a list)
    through a fresh copy of ``suite`` and return the verdicts. A trace that kept none of its events
    (``Simulation(keep_trace=False)``) is refused: judging nothing would pass every property."""
    if isinstance(events, ev.Trace):  # one that counted its events without keeping them would pass everything
        events.require_kept("judge this trace", "make the Simulation with keep_trace=True (the default), or attach a Monitor before it runs")
    base = suite if isinstance(suite, Suite) else Suite(suite)
    monitor = Monitor(base.fresh())
    for event in events:
        monitor.observe(event)
    return monitor.verdicts(end=end, quiet_from=quiet_from)


def any_failed(verdicts: Iterable[Verdict]) -> bool:
    return any(v.status == FAILED for v in verdicts)
