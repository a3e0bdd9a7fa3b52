"""What a property is: an id, a kind, a description, parameters, and handlers for trace events.

A property subclasses :class:`Property`, names itself with class attributes, and reacts to the
events it cares about through methods called ``on_<EventType>`` (``on_PodBound``, ...). Each
handler sees the event and the :class:`~podquake.properties.ledger.Ledger` already updated with it,
and reports a breach with :meth:`Property.violate`. :meth:`Property.finish` gives the verdict at
the end of the run; safety properties need not override it (no breach means passed).

>>> from podquake.model import trace as ev
>>> class NoBindingsInZoneC(Property):
...     id = "no-zone-c"
...     kind = "safety"
...     description = "No pod is bound to a node in zone-c."
...     catches = "A scheduler that ignores a zone being drained for maintenance."
...     def on_PodBound(self, event, ledger):
...         node = ledger.nodes[event.node]
...         if node.zone == "zone-c":
...             self.violate(f"{event.pod} bound to {node.name} in zone-c", event.t, objects=(event.pod, event.node))

Parameters are class-level defaults in ``params``; an instance overrides them by keyword
(``ReplicasConverge(within=300)``) and reads them as attributes. Unknown names and values of the
wrong type are refused when the property is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from podquake.model.errors import InputError, finite_number
from podquake.properties.ledger import Ledger
from podquake.properties.verdict import Number, Verdict, Violation

__all__ = ["Property", "RunInfo", "Kind", "KINDS"]

Kind = Literal["safety", "liveness", "statistical"]
KINDS: tuple[Kind, ...] = ("safety", "liveness", "statistical")


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What a property needs to know about the run as a whole when it gives its verdict.

    ``end`` is the simulated time the run stopped; ``quiet_from`` when the last fault healed (0 when
    there were none). Bounded-liveness properties judge the interval ``[quiet_from, end]``.
    """

    end: float
    quiet_from: float

    @property
    def quiet_for(self) -> float:
        return self.end - self.quiet_from


class Property:
    """Base of every property; see the module docstring."""

    id: ClassVar[str] = ""
    kind: ClassVar[Kind] = "safety"
    description: ClassVar[str] = ""
    catches: ClassVar[str] = ""
    params: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, **overrides: Any) -> None:
        for name, default in self.params.items():
            setattr(self, name, default)
        for name, value in overrides.items():
            if name not in self.params:
                known = ", ".join(sorted(self.params)) or "none"
                raise InputError(
                    f"property {self.id!r} has no parameter {name!r}",
                    field=f"{self.id}.{name}",
                    fix=f"use one of its parameters: {known}",
                )
            setattr(self, name, _checked(self.id, name, self.params[name], value))
        self.first: Violation | None = None
        self.count = 0

    # --- for subclasses ----------------------------------------------------------------------------
    def violate(
        self,
        message: str,
        time: float | None = None,
        *,
        objects: tuple[str, ...] = (),
        numbers: Mapping[str, Number] | None = None,
    ) -> None:
        """Record a breach. The first is kept as the verdict's evidence; later ones are counted."""
        self.count += 1
        if self.first is None:
            self.first = Violation(message, time, tuple(objects), dict(numbers or {}))

    def finish(self, ledger: Ledger, run: RunInfo) -> Verdict:
        """The verdict at the end of the run. The default: failed with the first breach, else passed."""
        return self.verdict_so_far()

    def settings(self) -> dict[str, Any]:
        """The parameters this instance uses, by name."""
        return {name: getattr(self, name) for name in self.params}

    # --- for the monitor ---------------------------------------------------------------------------
    def verdict_so_far(self) -> Verdict:
        if self.first is not None:
            return Verdict.from_violation(self.id, self.first, count=self.count)
        return Verdict.passed(self.id)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.settings().items())
        return f"{type(self).__name__}({args})"


def _checked(property_id: str, name: str, default: Any, value: Any) -> Any:
    """``value`` if it has the type of ``default`` (an int is accepted where a float is expected)."""
    if default is None or isinstance(value, type(default)):
        ok = not isinstance(value, bool) or isinstance(default, bool)
    else:
        ok = isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool)
        value = float(value) if ok else value
    if not ok:
        raise InputError(
            f"parameter {name!r} of property {property_id!r} must be {type(default).__name__}, not {value!r}",
            field=f"{property_id}.{name}",
            fix=f"give a {type(default).__name__} such as {default!r}",
        )
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        finite_number(
            value,
            f"parameter {name!r} of property {property_id!r}",
            minimum=0,
            field=f"{property_id}.{name}",
            fix=f"give a value >= 0 such as {default!r}",
        )
    return value
