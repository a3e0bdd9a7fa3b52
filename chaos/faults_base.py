"""What every fault shares: its time, its duration, its targets, validation, ``repr`` and YAML form.

A fault is a frozen dataclass built with keywords only. ``at`` is the simulated time (seconds from
the start of the run, when the workload is applied) at which the nemesis injects it; ``duration`` is
how long it lasts before the nemesis heals it. ``duration=None`` means *permanent* for the kinds
where that makes sense (a machine that never comes back, a node left cordoned): the nemesis's final
heal leaves those in place, and the cluster must live with them. Each kind's docstring says what
``None`` means for it, and kinds without a lasting effect (a pod kill) have no duration at all.

**Targets.** A fault names what it hits either by name or by a small integer, a *selector* resolved
when the fault is applied. Selectors exist for shrinking: generated names (``web-7d4b9c5f6d-x2k8p``)
change whenever anything before them changes, and a name that no longer exists makes the fault a
no-op, whereas an integer always hits something, and shrinking it towards 0 keeps a meaning:

- **node** ``str``: a node name. ``int k``: the k-th of the nodes whose machine is up, busiest first
  (most pods bound; ties by order of creation), modulo their number: ``node=0`` is the busiest node;
- **zone** ``str``: a zone name. ``int k``: the k-th of the cluster's zones in name order, modulo;
- **pod** ``str``: ``namespace/name`` (or ``name`` in ``default``). ``int k``: the k-th of the
  running pods (bound, phase Running, not being deleted) in order of creation, modulo;
- **service** ``str``: ``namespace/name`` (or ``name``). ``int k``: the k-th of the services a load
  generator feeds, in the order the generators were added, modulo;
- **container** ``str``: a container name. ``int k``: the k-th container of the pod, modulo.

No selector draws from the simulation's random generator: resolving one changes nothing else in the
run, so a fault can be added or removed without reshuffling the rest. A target that does not exist
when the fault is due (a named node that is gone, no running pod at all) makes the nemesis skip the
fault and say so in the trace.

**Forms.** ``repr(fault)`` is Python that rebuilds it (``from podquake.chaos import *``), with the
fields at their defaults left out. :meth:`Fault.to_dict` gives the YAML form, ``kind`` plus the
fields in camelCase (``exitCode``), defaults left out; :func:`fault_from_dict` (in
:mod:`podquake.chaos.faults`) reads it back.

>>> from podquake.chaos import NodeFailure
>>> NodeFailure(node=0, at=30, duration=60)
NodeFailure(node=0, at=30.0, duration=60.0)
>>> NodeFailure(node="worker-2", at=30.0).to_dict()
{'kind': 'node-failure', 'node': 'worker-2', 'at': 30.0}
"""

from __future__ import annotations

import math
import re
from dataclasses import MISSING, dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar

from podquake.model.errors import InputError

__all__ = ["CONTROL_PLANE_COMPONENTS", "Fault", "camel", "snake", "valid_ref"]

CONTROL_PLANE_COMPONENTS = ("scheduler", "controller-manager", "api-server")
"""What a control-plane outage can take down."""

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_CAMEL = re.compile(r"_([a-z])")
_SNAKE = re.compile(r"([A-Z])")


_LAYOUTS: dict[type, tuple[tuple[str, Any], ...]] = {}  # fault class -> (field, default) in order


def camel(name: str) -> str:
    """A Python field name as it is spelled in YAML.

    >>> camel("exit_code")
    'exitCode'
    """
    return _CAMEL.sub(lambda m: m.group(1).upper(), name)


def snake(name: str) -> str:
    """A YAML field name as it is spelled in Python.

    >>> snake("exitCode")
    'exit_code'
    """
    return _SNAKE.sub(lambda m: "_" + m.group(1).lower(), name)


@dataclass(frozen=True, kw_only=True, repr=False)
class Fault:
    """Base of every fault kind. Subclasses are frozen keyword-only dataclasses that declare their
    fields in the order their ``repr`` shows them (target, ``at``, ``duration``, the rest), set
    ``kind`` (the YAML name) and ``summary`` (one line for ``podquake list faults``), and validate in
    ``__post_init__`` with the ``_check_*`` helpers, which raise :class:`InputError` naming the field.
    """

    kind: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    #: Whether ``duration=None`` is allowed (and then means permanent).
    permanent_allowed: ClassVar[bool] = True
    if TYPE_CHECKING:  # every subclass declares ``at`` itself, after its target, so the repr reads target first
        at: float

    # --- what the nemesis reads ----------------------------------------------------------------------
    @property
    def ends_at(self) -> float | None:
        """When the nemesis heals it, or None (permanent, or over at once)."""
        duration = getattr(self, "duration", None)
        return None if duration is None else self.at + duration

    @property
    def instant(self) -> bool:
        """Whether the fault is over the moment it is applied (no heal to wait for)."""
        return "duration" not in self.__dataclass_fields__  # type: ignore[attr-defined]

    # --- forms ---------------------------------------------------------------------------------------
    def _given(self) -> list[tuple[str, Any]]:
        """``(field, value)`` of the fields not at their defaults, in declaration order."""
        layout = _LAYOUTS.get(type(self))
        if layout is None:
            layout = _LAYOUTS[type(self)] = tuple((f.name, f.default) for f in fields(self))
        given = []
        for name, default in layout:
            value = getattr(self, name)
            if default is MISSING or value != default or type(value) is not type(default):
                given.append((name, value))
        return given

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{name}={value!r}' for name, value in self._given())})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """What Hypothesis prints for a falsifying example: the ``repr`` (its own dataclass printer
        would list ``kind`` and ``summary`` as arguments, which the constructor refuses)."""
        printer.text(repr(self))

    def to_dict(self) -> dict[str, Any]:
        """The YAML form: ``kind`` and the fields that differ from their defaults (camelCase)."""
        data: dict[str, Any] = {"kind": self.kind}
        for name, value in self._given():
            data[camel(name)] = _plain(value)
        return data

    # --- validation helpers --------------------------------------------------------------------------
    def _fail(self, name: str, message: str, fix: str) -> InputError:
        return InputError(message, field=f"{type(self).__name__}.{name}", fix=fix)

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    def _check_time(self, name: str = "at") -> None:
        value = getattr(self, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise self._fail(name, f"{name} must be a number of seconds >= 0, not {value!r}", f"write e.g. {name}=30.0")
        self._set(name, float(value))

    def _check_duration(self, name: str = "duration", required: bool = False) -> None:
        value = getattr(self, name)
        if value is None:
            if required or not self.permanent_allowed:
                raise self._fail(
                    name, f"{type(self).__name__} needs a {name}: it cannot be permanent", f"write e.g. {name}=60.0"
                )
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise self._fail(name, f"{name} must be a number of seconds > 0, not {value!r}", f"write e.g. {name}=60.0")
        self._set(name, float(value))

    def _check_number(self, name: str, *, low: float, high: float | None = None, low_open: bool = False) -> None:
        value = getattr(self, name)
        ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
        if ok:
            ok = (value > low if low_open else value >= low) and (high is None or value <= high)
        if not ok:
            bound = f"> {low:g}" if low_open else f">= {low:g}"
            if high is not None:
                bound += f" and <= {high:g}"
            raise self._fail(name, f"{name} must be a number {bound}, not {value!r}", f"give {name} a value {bound}")
        self._set(name, float(value))

    def _check_int(self, name: str, *, low: int, high: int | None = None) -> None:
        value = getattr(self, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
            span = f">= {low}" if high is None else f"from {low} to {high}"
            raise self._fail(name, f"{name} must be a whole number {span}, not {value!r}", f"give {name} a whole number {span}")

    def _check_bool(self, name: str) -> None:
        value = getattr(self, name)
        if not isinstance(value, bool):
            raise self._fail(name, f"{name} must be true or false, not {value!r}", f"write {name}=True or {name}=False")

    def _check_choice(self, name: str, choices: tuple[str, ...]) -> None:
        value = getattr(self, name)
        if value not in choices:
            raise self._fail(name, f"{name} must be one of {', '.join(choices)}, not {value!r}", f"use one of {', '.join(choices)}")

    def _check_ref(self, name: str, what: str, example: str, *, namespaced: bool = False) -> None:
        """A target: a name (``namespace/name`` when ``namespaced``; a bare name means ``default``) or
        a selector index >= 0 (see the module docstring)."""
        value = getattr(self, name)
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            raise self._fail(name, f"a {what} selector must be >= 0, not {value}", f"use 0 for the first {what} ({example})")
        if not valid_ref(value, namespaced=namespaced):
            raise self._fail(name, f"{name} must be a {what} name or a selector index >= 0, not {value!r}", f"write e.g. {example}")


def valid_ref(value: object, *, namespaced: bool = False) -> bool:
    """Whether ``value`` is a target: a selector index >= 0, or a lowercase DNS name (with one
    ``namespace/`` prefix allowed when ``namespaced``).

    >>> valid_ref(0), valid_ref("worker-2"), valid_ref("default/web", namespaced=True), valid_ref("Web")
    (True, True, True, False)
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value >= 0
    if not isinstance(value, str) or not value:
        return False
    parts = value.split("/")
    return (len(parts) == 1 or (namespaced and len(parts) == 2)) and all(_NAME.match(p) for p in parts)


def _plain(value: Any) -> Any:
    """Tuples as lists, for YAML."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value
