"""The ``traffic:`` section of a scenario file: load generators in YAML, read and written.

Each entry is one :class:`~podquake.model.traffic.LoadGenerator`::

    traffic:
      - service: default/frontend     # namespace/name (a bare name is in default)
        rate: 50                      # requests per second, constant; or a shape:
        # shape: {diurnal: {mean: 100, amplitude: 50, period: 86400, peakAt: 43200}}
        # shape: {ramp: {startRate: 10, endRate: 200, start: 0, end: 600}}
        # shape: {sum: [{constant: 20}, {ramp: {...}}]}
        spikes:                       # planned bursts on top of the shape (times in seconds)
          - {at: 300, multiplier: 4, duration: 60}
        clients: 100                  # distinct clients (sessionAffinity: ClientIP sees them)
        entry: external               # or {pod: default/client-0}, or {node: worker-1}
        name: shoppers                # prefixes the clients' names (optional)

Planned spikes are part of the offered load, not faults: the nemesis neither marks nor heals them
(a ``traffic-spike`` fault is the injected kind). ``shape:`` also takes ``{constant: 50}`` and
``{spike: {base: ..., multiplier, start, duration}}``; :func:`generator_to_dict` writes ``rate`` and
``spikes`` whenever the shape has that form, so a dump reads back equal.

>>> g = generator_from_dict({"service": "frontend", "rate": 50, "spikes": [{"at": 300, "multiplier": 4, "duration": 60}]})
>>> g.service, g.shape.rate(0.0), g.shape.rate(330.0)
('default/frontend', 50.0, 200.0)
>>> generator_from_dict(generator_to_dict(g)) == g
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podquake.model.errors import InputError
from podquake.model.traffic import (
    Constant,
    Diurnal,
    External,
    Internal,
    MAX_CLIENTS,
    MAX_RATE,
    LoadGenerator,
    Ramp,
    Shape,
    Spike,
    Sum,
)

__all__ = ["generator_from_dict", "generator_to_dict", "shape_from_dict", "shape_to_dict"]

_FIELDS = ("service", "rate", "shape", "spikes", "clients", "entry", "name")
_SHAPES = ("constant", "diurnal", "ramp", "spike", "sum")


def generator_from_dict(data: Any, *, source: str = "", where: str = "traffic") -> LoadGenerator:
    """One load generator from its YAML form; :class:`InputError` naming ``source`` and the field."""

    def fail(message: str, field: str = "", fix: str = "") -> InputError:
        return InputError(message, source=source, field=f"{where}.{field}" if field else where, fix=fix)

    if not isinstance(data, Mapping):
        raise fail("a traffic entry must be a mapping", fix="write e.g. {service: default/frontend, rate: 50}")
    unknown = [str(k) for k in data if k not in _FIELDS]
    if unknown:
        raise fail(f"unknown field(s) {', '.join(unknown)}", unknown[0], f"use {', '.join(_FIELDS)}")
    service = data.get("service")
    if not isinstance(service, str) or not service:
        raise fail("a traffic entry needs the service it feeds", "service", "write e.g. service: default/frontend")
    if "/" not in service:
        service = f"default/{service}"
    if ("rate" in data) == ("shape" in data):
        raise fail("give exactly one of rate or shape", "rate", "write e.g. rate: 50 (requests per second)")
    if "rate" in data:
        rate = data["rate"]
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= MAX_RATE:
            raise fail(f"rate must be a number of requests per second >= 0 and <= {MAX_RATE:g}, not {rate!r}", "rate", "write e.g. rate: 50")
    try:
        shape = Constant(data["rate"]) if "rate" in data else shape_from_dict(data["shape"])
    except (ValueError, TypeError) as error:
        raise fail(str(error), "rate" if "rate" in data else "shape", "see the traffic section of the scenario docs") from None
    spikes = data.get("spikes") or []
    if not isinstance(spikes, list):
        raise fail("spikes must be a list", "spikes", "write e.g. spikes: [{at: 300, multiplier: 4, duration: 60}]")
    for i, spike in enumerate(spikes):
        if not isinstance(spike, Mapping) or set(spike) != {"at", "multiplier", "duration"}:
            raise fail("a spike has exactly at, multiplier and duration", f"spikes[{i}]", "write e.g. {at: 300, multiplier: 4, duration: 60}")
        try:
            shape = Spike(shape, spike["multiplier"], spike["at"], spike["duration"])
        except ValueError as error:
            raise fail(str(error), f"spikes[{i}]", "times and durations are in seconds") from None
    entry = _entry(data.get("entry", "external"), fail)
    try:
        return LoadGenerator(
            service=service, shape=shape, clients=data.get("clients", 100), entry=entry, name=str(data.get("name", "") or "")
        )
    except ValueError as error:
        if "client" in str(error):
            raise fail(str(error), "clients", f"write e.g. clients: 100 (at most {MAX_CLIENTS:,})") from None
        raise fail(str(error), "", "check the entry's fields") from None


def _entry(value: Any, fail: Any) -> External | Internal:
    if value == "external":
        return External()
    if isinstance(value, Mapping) and len(value) == 1 and set(value) <= {"pod", "node"}:
        try:
            return Internal(**{str(k): str(v) for k, v in value.items()})
        except ValueError as error:
            raise fail(str(error), "entry", "write {pod: namespace/name} or {node: worker-1}") from None
    raise fail(f"entry must be external, {{pod: ...}} or {{node: ...}}, not {value!r}", "entry", "write entry: external")


def shape_from_dict(data: Any) -> Shape:
    """A shape from ``{kind: parameters}`` (see the module docstring); ValueError (TypeError for a
    list or mapping in the wrong place) when malformed."""
    if isinstance(data, (int, float)) and not isinstance(data, bool):
        return Constant(data)
    if not isinstance(data, Mapping) or len(data) != 1:
        raise ValueError(f"a shape is one of {', '.join(_SHAPES)} with its parameters, e.g. {{constant: 50}}; got {data!r}")
    (kind, params), = data.items()
    if kind not in _SHAPES:
        raise ValueError(f"unknown shape {kind!r}: use one of {', '.join(_SHAPES)}")
    if kind == "constant":
        return Constant(params)
    if kind == "sum":
        if not isinstance(params, list):
            raise TypeError("sum takes a list of shapes")
        return Sum(tuple(shape_from_dict(p) for p in params))
    if not isinstance(params, Mapping):
        raise TypeError(f"{kind} takes a mapping of parameters")
    if kind == "diurnal":
        return Diurnal(
            params.get("mean"), params.get("amplitude"), params.get("period", 86400.0), params.get("peakAt")  # type: ignore[arg-type]
        )
    if kind == "ramp":
        return Ramp(params.get("startRate"), params.get("endRate"), params.get("start"), params.get("end"))  # type: ignore[arg-type]
    return Spike(shape_from_dict(params.get("base")), params.get("multiplier"), params.get("start"), params.get("duration"))  # type: ignore[arg-type]


def shape_to_dict(shape: Shape) -> Any:
    """The YAML form of ``shape`` (the inverse of :func:`shape_from_dict`)."""
    if isinstance(shape, Constant):
        return {"constant": shape.rps}
    if isinstance(shape, Diurnal):
        return {"diurnal": {"mean": shape.mean, "amplitude": shape.amplitude, "period": shape.period, "peakAt": shape.peak_at}}
    if isinstance(shape, Ramp):
        return {"ramp": {"startRate": shape.start_rate, "endRate": shape.end_rate, "start": shape.start, "end": shape.end}}
    if isinstance(shape, Spike):
        return {"spike": {"base": shape_to_dict(shape.base), "multiplier": shape.multiplier, "start": shape.start, "duration": shape.duration}}
    if isinstance(shape, Sum):
        return {"sum": [shape_to_dict(s) for s in shape.shapes]}
    raise ValueError(f"cannot write the shape {shape!r} as YAML")


def generator_to_dict(generator: LoadGenerator) -> dict[str, Any]:
    """The YAML form of ``generator``: ``rate`` and ``spikes`` when the shape allows it."""
    shape = generator.shape
    spikes = []
    while isinstance(shape, Spike):
        spikes.append({"at": shape.start, "multiplier": shape.multiplier, "duration": shape.duration})
        shape = shape.base
    data: dict[str, Any] = {"service": generator.service}
    if isinstance(shape, Constant):
        data["rate"] = shape.rps
    else:
        data["shape"] = shape_to_dict(shape)
    if spikes:
        data["spikes"] = spikes[::-1]
    data["clients"] = generator.clients
    entry = generator.entry
    if isinstance(entry, Internal):
        data["entry"] = {"pod": entry.pod} if entry.pod is not None else {"node": entry.node}
    if generator.name:
        data["name"] = generator.name
    return data
