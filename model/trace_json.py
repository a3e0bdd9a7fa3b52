"""The JSON form of trace events, read back: each line's object checked and rebuilt.

:meth:`Trace.from_jsonl <podquake.model.trace.Trace.from_jsonl>` and
:func:`~podquake.model.trace.event_from_dict` read through here. A trace written by podquake reads
back at the cost of building its events; only when an event cannot be built does
:func:`_event_error` look at why, to name the line, the field and the fix.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from dataclasses import MISSING, fields

from podquake.model.errors import InputError
from podquake.model.trace import EVENT_TYPES, Event

__all__ = ["event_from_dict", "read_events"]


def _tuples(value: object) -> object:
    if isinstance(value, list):
        return tuple(_tuples(item) for item in value)
    return value


def event_from_dict(data: dict[str, object]) -> Event:
    """Rebuild an event from its JSON form (the inverse of :meth:`Event.to_dict`); JSON arrays
    come back as tuples, so a round trip gives equal events. Raises :class:`InputError` naming the
    field (an unknown ``type``, a field the event does not have or lacks, a ``t`` that is not a
    time) rather than a bare ``KeyError`` or ``TypeError``."""
    try:
        payload = {key: _tuples(value) for key, value in data.items()}
        cls = EVENT_TYPES[payload.pop("type")]  # type: ignore[index]
        event = cls(**payload)  # type: ignore[arg-type]
        t = event.t
        # One class test and one comparison an event: refuses "zero", True, NaN, inf and t < 0.
        if (t.__class__ is float or t.__class__ is int) and 0.0 <= t < _INFINITY:
            return event
    except Exception:  # noqa: BLE001, S110 - only now look at why, so the happy path pays nothing
        pass
    raise _event_error(data)


_INFINITY = float("inf")


def _event_error(data: object) -> InputError:
    """Why ``data`` is not an event's JSON form (called only once building it has failed)."""
    if not isinstance(data, dict):
        return InputError(f"an event must be a JSON object, not {data!r}"[:200], fix='write e.g. {"t": 0.0, "type": "PodBound", ...}')
    if "type" not in data:
        return InputError("the event has no type", field="type", fix="give each event its class name, e.g. \"type\": \"PodBound\"")
    name = data["type"]
    cls = EVENT_TYPES.get(name) if isinstance(name, str) else None
    if cls is None:
        close = difflib.get_close_matches(str(name), list(EVENT_TYPES), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        fix = f"write \"type\": \"{close[0]}\"" if close else f"use one of the event types ({', '.join(sorted(EVENT_TYPES)[:5])}, ...)"
        return InputError(f"unknown event type {name!r}{hint}", field="type", fix=fix)
    known = [f.name for f in fields(cls)]
    extra = [key for key in data if key != "type" and key not in known]
    if extra:
        close = difflib.get_close_matches(str(extra[0]), known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return InputError(
            f"{name} has no field {extra[0]!r}{hint}",
            field=str(extra[0]),
            fix=f"remove it; {name}'s fields are {', '.join(known)}",
        )
    required = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
    missing = [key for key in required if key not in data]
    if missing:
        return InputError(f"{name} lacks its field {missing[0]!r}", field=missing[0], fix=f"give every field of {name}: {', '.join(required)}")
    t = data.get("t")
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0.0 <= t < _INFINITY:
        return InputError(f"t must be a number of seconds >= 0, not {t!r}", field="t", fix='write e.g. "t": 30.0')
    try:
        cls(**{key: _tuples(value) for key, value in data.items() if key != "type"})
    except Exception as error:  # noqa: BLE001
        return InputError(f"{name} cannot be built from these fields: {type(error).__name__}: {error}", fix="check the fields' values")
    return InputError(f"{name} cannot be built from these fields", fix="check the fields' values")


def read_events(lines: Iterable[str], source: str, text: str | None) -> list[Event]:
    """The events of JSON-lines ``lines`` (``source``: the file, for messages; ``text``: the whole
    text when it was given as a string), or an :class:`InputError` naming the line of the first bad
    one: not JSON, not an event (:func:`event_from_dict`), or earlier than the one before it."""
    events: list[Event] = []
    append = events.append
    previous = 0.0
    number = 0
    loads = json.loads
    try:
        for number, line in enumerate(lines, 1):
            if line.strip():
                event = event_from_dict(loads(line))
                if event.t < previous:
                    raise InputError(
                        f"t={event.t:g} is before the previous event's t={previous:g}",
                        field="t",
                        fix="keep the events in the order they happened (a trace is appended in time order)",
                    )
                previous = event.t
                append(event)
    except json.JSONDecodeError as error:
        stripped = line.strip()
        cut = "; it looks cut short" if stripped.startswith("{") and not stripped.endswith("}") else ""
        what = error.msg.removesuffix(" starting at").lower()
        fix = "each line must be one whole JSON object, as write_jsonl writes it"
        if text is not None and number == 1 and "\n" not in text and not text.lstrip().startswith("{"):
            fix = f"from_jsonl reads a str as the trace's text; to read the file, pass pathlib.Path({text!r})"
        raise InputError(
            f"not valid JSON at column {error.colno} ({what}){cut}", source=source, location=f"line {number}", fix=fix
        ) from None
    except InputError as error:
        error.source, error.location = source, f"line {number}"
        error.args = (str(error),)
        raise error from None
    return events
