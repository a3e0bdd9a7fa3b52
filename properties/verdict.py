"""Verdicts: what a property concluded about a run, with evidence a person can act on.

A verdict is ``passed``, ``failed`` or ``unknown``. A failed one says when (simulated seconds), which
objects were involved, and the numbers that broke the bound; an unknown one says why the property
could not judge (it raised, or the run ended before its time bound).

>>> v = Verdict.failed("no-overcommit", "node worker-2 holds 4100m CPU of 4000m allocatable",
...                    time=61.0, objects=("node/worker-2",), numbers={"requested_cpu_millis": 4100, "allocatable_cpu_millis": 4000})
>>> v.status, v.time
('failed', 61.0)
>>> print(v.line())
FAILED no-overcommit at t=61s: node worker-2 holds 4100m CPU of 4000m allocatable [node/worker-2] requested_cpu_millis=4100 allocatable_cpu_millis=4000
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Verdict", "Violation", "Status", "PASSED", "FAILED", "UNKNOWN"]

Status = Literal["passed", "failed", "unknown"]
PASSED: Status = "passed"
FAILED: Status = "failed"
UNKNOWN: Status = "unknown"

Number = int | float | str


@dataclass(frozen=True, slots=True)
class Violation:
    """One breach of a property, as a check reports it: a message, when, who, and the numbers.

    Custom checks return one (or ``None`` when all is well); the monitor turns the first into the
    verdict's evidence and counts the rest.
    """

    message: str
    time: float | None = None
    objects: tuple[str, ...] = ()
    numbers: Mapping[str, Number] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Verdict:
    """A property's conclusion about one run.

    ``violations`` counts every breach seen (a safety property keeps the first as evidence and
    counts the rest); ``note`` carries context for a pass or an unknown (for instance "the healed
    cluster lacked 1500m CPU for 3 replicas").
    """

    property: str
    status: Status
    message: str
    time: float | None = None
    objects: tuple[str, ...] = ()
    numbers: Mapping[str, Number] = field(default_factory=dict)
    violations: int = 0
    note: str = ""

    @classmethod
    def passed(cls, property_id: str, message: str = "held", *, note: str = "", numbers: Mapping[str, Number] | None = None) -> Verdict:
        return cls(property_id, PASSED, message, numbers=dict(numbers or {}), note=note)

    @classmethod
    def failed(
        cls,
        property_id: str,
        message: str,
        *,
        time: float | None = None,
        objects: tuple[str, ...] = (),
        numbers: Mapping[str, Number] | None = None,
        violations: int = 1,
        note: str = "",
    ) -> Verdict:
        return cls(property_id, FAILED, message, time, tuple(objects), dict(numbers or {}), violations, note)

    @classmethod
    def unknown(cls, property_id: str, message: str, *, time: float | None = None, note: str = "") -> Verdict:
        return cls(property_id, UNKNOWN, message, time, note=note)

    @classmethod
    def from_violation(cls, property_id: str, violation: Violation, *, count: int = 1) -> Verdict:
        return cls.failed(
            property_id,
            violation.message,
            time=violation.time,
            objects=violation.objects,
            numbers=violation.numbers,
            violations=count,
        )

    @property
    def ok(self) -> bool:
        """True unless the property failed (an unknown verdict is not a violation)."""
        return self.status != FAILED

    def line(self) -> str:
        """One line for a terminal or a log."""
        head = f"{self.status.upper()} {self.property}"
        if self.time is not None:
            head += f" at t={self.time:g}s"
        text = f"{head}: {self.message}"
        if self.objects:
            text += f" [{', '.join(self.objects)}]"
        if self.numbers:
            text += " " + " ".join(f"{k}={v}" for k, v in self.numbers.items())
        if self.violations > 1:
            text += f" ({self.violations} violations in all)"
        if self.note:
            text += f"; {self.note}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, keys in a fixed order (the run record stores verdicts this way)."""
        return {
            "property": self.property,
            "status": self.status,
            "message": self.message,
            "time": self.time,
            "objects": list(self.objects),
            "numbers": dict(self.numbers),
            "violations": self.violations,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verdict:
        return cls(
            str(data["property"]),
            data["status"],
            str(data["message"]),
            data.get("time"),
            tuple(data.get("objects", ())),
            dict(data.get("numbers", {})),
            int(data.get("violations", 0)),
            str(data.get("note", "")),
        )
