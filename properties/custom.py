"""Write a property in a few lines: decorate a function.

``@invariant`` turns a per-event check into a safety property; the function gets each event of the
named types with the ledger and returns ``None`` when all is well or a message / :class:`Violation`
when not::

    from podquake.model import trace as ev
    from podquake.properties import invariant

    @invariant("no-pods-in-zone-c", "No pod is bound to a node in zone-c.", on=[ev.PodBound])
    def no_pods_in_zone_c(event, ledger):
        if ledger.nodes[event.node].zone == "zone-c":
            return f"{event.pod} was bound to {event.node} in zone-c"

``@at_end`` turns a judgement of the final ledger into a liveness or statistical property; the
function gets the ledger and the :class:`RunInfo` and returns ``None`` (passed), a message or
:class:`Violation` (failed), or a whole :class:`Verdict`::

    @at_end("at-least-six-nodes", "Six nodes are Ready when the run ends.")
    def six_nodes(ledger, run):
        ready = sum(node.ready == "True" for node in ledger.nodes.values())
        if ready < 6:
            return Violation(f"only {ready} nodes Ready", run.end, numbers={"ready": ready})

Both register the property under its id, so suites and the command line find it, and return the
property class (call it for an instance).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from podquake.model import trace as ev
from podquake.properties.base import Kind, Property, RunInfo
from podquake.properties.ledger import Ledger
from podquake.properties.registry import register
from podquake.properties.verdict import Verdict, Violation

__all__ = ["invariant", "at_end"]

CheckResult = Violation | str | None


def _record(prop: Property, result: CheckResult, t: float) -> None:
    if result is None:
        return
    if isinstance(result, str):
        prop.violate(result, t)
    elif isinstance(result, Violation):
        prop.violate(result.message, result.time if result.time is not None else t, objects=result.objects, numbers=result.numbers)
    else:
        raise TypeError(f"a check returns None, a message or a Violation, not {type(result).__name__}")


def invariant(
    property_id: str, description: str, *, on: Iterable[type[ev.Event]], catches: str = ""
) -> Callable[[Callable[[Any, Ledger], CheckResult]], type[Property]]:
    """Register ``fn(event, ledger)`` as safety property ``property_id``, called for each event of the ``on`` types."""
    event_types = (on,) if isinstance(on, type) else tuple(on)
    if not event_types:
        raise ValueError(f"invariant {property_id!r} needs at least one event type in on=[...]")
    for event_type in event_types:
        if not isinstance(event_type, type) or ev.EVENT_TYPES.get(event_type.__name__) is not event_type:
            named = event_type if isinstance(event_type, str) else getattr(event_type, "__name__", repr(event_type))
            raise ValueError(
                f"invariant {property_id!r}: on= takes event types such as ev.PodBound (from podquake.model import "
                f"trace as ev), not {event_type!r}: the monitor calls a check only for the exact types it names"
                + (f" (write on=[ev.{named}])" if named in ev.EVENT_TYPES else "")
            )

    def decorate(fn: Callable[[Any, Ledger], CheckResult]) -> type[Property]:
        def handle(self: Property, event: ev.Event, ledger: Ledger) -> None:
            _record(self, fn(event, ledger), event.t)

        namespace: dict[str, Any] = {
            "id": property_id,
            "kind": "safety",
            "description": description,
            "catches": catches or (fn.__doc__ or "").strip(),
            "__doc__": fn.__doc__ or description,
            "__module__": fn.__module__,
            "__qualname__": fn.__qualname__,
        }
        for event_type in event_types:
            namespace[f"on_{event_type.__name__}"] = handle
        return register(type(fn.__name__, (Property,), namespace))

    return decorate


def at_end(
    property_id: str, description: str, *, kind: Kind = "liveness", catches: str = ""
) -> Callable[[Callable[[Ledger, RunInfo], Verdict | CheckResult]], type[Property]]:
    """Register ``fn(ledger, run)`` as a property judged once, when the run ends."""

    def decorate(fn: Callable[[Ledger, RunInfo], Verdict | CheckResult]) -> type[Property]:
        def finish(self: Property, ledger: Ledger, run: RunInfo) -> Verdict:
            result = fn(ledger, run)
            if isinstance(result, Verdict):
                return result
            self.first, self.count = None, 0  # judged afresh each time it is asked (live, then at the end)
            _record(self, result, run.end)
            return self.verdict_so_far()

        namespace: dict[str, Any] = {
            "id": property_id,
            "kind": kind,
            "description": description,
            "catches": catches or (fn.__doc__ or "").strip(),
            "__doc__": fn.__doc__ or description,
            "__module__": fn.__module__,
            "__qualname__": fn.__qualname__,
            "finish": finish,
        }
        return register(type(fn.__name__, (Property,), namespace))

    return decorate
