"""The property registry and suites: properties are found by their stable ids.

The library registers its properties on import; a user's properties join with :func:`register`
(the :func:`~podquake.properties.custom.invariant` and :func:`~podquake.properties.custom.at_end`
decorators do it for them). A :class:`Suite` is a list of configured property instances, chosen by
id, with optional parameters:

>>> suite = Suite.of(["no-overcommit"])
>>> suite.ids
('no-overcommit',)

Parameters go by id: ``Suite.of(["replicas-converge"], params={"replicas-converge": {"within": 300.0}})``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from podquake.model.errors import InputError
from podquake.properties.base import KINDS, Property

__all__ = ["register", "registered", "property_class", "Suite", "UnknownPropertyError"]

_REGISTRY: dict[str, type[Property]] = {}


def register(cls: type[Property]) -> type[Property]:
    """Make ``cls`` findable by its id (usable as a class decorator). Ids are unique."""
    if not cls.id:
        raise ValueError(f"{cls.__name__} needs an id to be registered")
    if cls.kind not in KINDS:
        raise ValueError(f"{cls.__name__}.kind is {cls.kind!r}: use one of {', '.join(KINDS)}")
    if not cls.description:
        raise ValueError(f"{cls.__name__} needs a one-line description")
    _check_handlers(cls)
    existing = _REGISTRY.get(cls.id)
    if existing is not None and existing is not cls and existing.__qualname__ != cls.__qualname__:
        raise ValueError(f"property id {cls.id!r} is already taken by {existing.__module__}.{existing.__qualname__}")
    _REGISTRY[cls.id] = cls
    return cls


def _check_handlers(cls: type[Property]) -> None:
    """Refuse an ``on_<Name>`` method that names no event type: the monitor would never call it, and
    a property whose check is never called can never fail."""
    import difflib

    from podquake.model import trace as ev

    for name in dir(cls):
        if not name.startswith("on_") or not callable(getattr(cls, name, None)) or name[3:] in ev.EVENT_TYPES:
            continue
        close = difflib.get_close_matches(name[3:], list(ev.EVENT_TYPES), n=1)
        hint = f"; did you mean on_{close[0]}?" if close else ""
        raise ValueError(
            f"{cls.__name__}.{name} handles no event: there is no event type {name[3:]!r}{hint} "
            f"(the types are podquake.model.trace.EVENT_TYPES)"
        )


def registered() -> dict[str, type[Property]]:
    """Every registered property class, by id, in registration order (the library's first)."""
    return dict(_REGISTRY)


IMPORT_IN_PYTHON = "import that module before naming the property (import myteam.props)"
"""How a property of one's own becomes known to a Python caller (:meth:`Suite.of`); each entry point
says its own way (:meth:`UnknownPropertyError.told`): a scenario's ``imports:``, ``--import`` on the
command line, an import in a test file."""


class UnknownPropertyError(InputError):
    """An id that no registered property has. The fix names the nearest known id if one is close
    (else every known id), and how a property of one's own becomes known (``how``: the entry
    point's way to import the module that registers it).

    >>> print(UnknownPropertyError("no-overcomit").fix)  # doctest: +NORMALIZE_WHITESPACE
    did you mean 'no-overcommit'? podquake list properties lists the known ids; a property of your
    own is known once the module that registers it is imported: import that module before naming
    the property (import myteam.props)
    """

    def __init__(self, property_id: str, *, how: str = IMPORT_IN_PYTHON, source: str = "", field: str = "properties") -> None:
        import difflib

        self.property_id = property_id
        close = difflib.get_close_matches(property_id, list(_REGISTRY), n=1)
        self.nearest = close[0] if close else ""
        self.how = how
        if self.nearest:
            guess = f"did you mean {self.nearest!r}? podquake list properties lists the known ids"
        else:
            guess = f"use one of {', '.join(sorted(_REGISTRY))}"
        super().__init__(
            f"unknown property {property_id!r}",
            source=source,
            field=field,
            fix=f"{guess}; a property of your own is known once the module that registers it is imported: {how}",
        )

    def told(self, how: str, *, source: str | None = None, field: str | None = None) -> UnknownPropertyError:
        """The same error, with ``how`` the way to import a property's module where it was met (and
        the ``source`` and ``field`` of that place, when given)."""
        return UnknownPropertyError(
            self.property_id,
            how=how,
            source=self.source if source is None else source,
            field=self.field if field is None else field,
        )


def property_class(property_id: str) -> type[Property]:
    """The class registered as ``property_id``; an unknown id is an :class:`UnknownPropertyError`
    (an :class:`InputError`) naming the nearest known id and how a property of one's own becomes known."""
    cls = _REGISTRY.get(property_id)
    if cls is None:
        raise UnknownPropertyError(property_id)
    return cls


def _made(property_id: str, overrides: Mapping[str, Any]) -> Property:
    """Property ``property_id`` with ``overrides``; a bad parameter's field names the property
    (``even-load.test``), whichever check refused it (its own ``__init__`` may name the parameter alone)."""
    try:
        return property_class(property_id)(**overrides)
    except InputError as error:
        if error.field and not error.field.startswith((f"{property_id}.", "properties")):
            error.field = f"{property_id}.{error.field}"
            error.args = (str(error),)
        raise


class Suite:
    """Configured property instances, run together by a :class:`~podquake.properties.monitor.Monitor`."""

    def __init__(self, properties: Iterable[Property]) -> None:
        self.properties = tuple(properties)
        self.judging = False
        """Whether a monitor judges a run with these instances (a second monitor takes a fresh copy)."""
        ids = [p.id for p in self.properties]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise InputError(f"property {duplicates[0]!r} is listed twice", field="properties", fix="list each property once")

    @classmethod
    def of(cls, ids: Iterable[str], params: Mapping[str, Mapping[str, Any]] | None = None) -> Suite:
        """A suite of the properties named by ``ids``; ``params`` maps an id to its parameter overrides."""
        ids = [ids] if isinstance(ids, str) else list(ids)  # one id, not its characters
        params = dict(params or {})
        for property_id in params:
            if property_id not in ids:
                raise InputError(
                    f"parameters given for {property_id!r}, which is not in the suite",
                    field=f"properties.{property_id}",
                    fix="add it to the suite or drop its parameters",
                )
        return cls(_made(i, params.get(i, {})) for i in ids)

    @classmethod
    def all(cls, *, kinds: Iterable[str] = KINDS) -> Suite:
        """Every registered property of the given kinds, with default parameters."""
        wanted = set(kinds)
        return cls(c() for c in _REGISTRY.values() if c.kind in wanted)

    @classmethod
    def default(cls) -> Suite:
        """The library's suite: every property podquake ships, with defaults."""
        return cls(c() for c in _REGISTRY.values() if c.__module__.startswith("podquake.properties."))

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.properties)

    def fresh(self) -> Suite:
        """New instances with the same parameters (a suite instance judges one run)."""
        return Suite(type(p)(**p.settings()) for p in self.properties)

    def of_kind(self, kind: str) -> Suite:
        return Suite(p for p in self.properties if p.kind == kind)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.properties)

    def __len__(self) -> int:
        return len(self.properties)

    def __repr__(self) -> str:
        return f"Suite({list(self.ids)!r})"
