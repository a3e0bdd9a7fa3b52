"""Finding a scheduler from what a user wrote: a name, ``MODULE:ATTR``, an object, a class or a factory.

``resolve_scheduler(spec, rng)``:

- ``None``: the default profile (:func:`~podquake.model.scheduling.builtins.default_scheduler`);
- a name: a built-in (``default``, ``least-allocated``, ``first-fit``, ``round-robin``, ``random``,
  ``bin-packing``) or an entry point of the group ``podquake.schedulers`` from any installed package;
- ``"MODULE:ATTR"``: imported (``ATTR`` may be dotted);
- an object with a ``schedule`` method: given directly, used as it is (the caller holds it, e.g. to
  inspect it afterwards); named by ``MODULE:ATTR`` or an entry point, a deep copy of it for each
  simulation, so that state it keeps (a counter, a cache) does not carry from one run into the next:
  with it, the same seed would not give the same run and a campaign's examples would depend on one
  another (an object that cannot be copied is used as it is);
- a class or another callable: called as ``factory(rng=rng)`` when it has a parameter named ``rng``
  (the simulation's seeded ``random.Random``), ``factory(rng)`` when its one required parameter is
  annotated ``random.Random``, else ``factory()``; a factory with any other required parameter is
  refused (podquake has nothing to give it but the rng); the result must have ``schedule``.

A scheduler is named by its ``name`` attribute in verdicts and reports; one without a ``name`` is
accepted and named after its class (``type(scheduler).__name__``), so a plain class with only
``schedule`` works. A ``name`` that is there but blank or not a string is refused.

Anything else raises :class:`~podquake.model.errors.InputError` naming the value, the known names
and the fix.

>>> resolve_scheduler("first-fit", random.Random(0)).name
'first-fit'
"""

from __future__ import annotations

import copy
import importlib
import inspect
import random
from collections.abc import Callable
from importlib import metadata
from typing import Any

from podquake.model.errors import InputError
from podquake.model.scheduling import builtins

__all__ = ["BUILTIN_SCHEDULERS", "ENTRY_POINT_GROUP", "fresh_copy", "list_schedulers", "resolve_scheduler"]

ENTRY_POINT_GROUP = "podquake.schedulers"
BUILTIN_SCHEDULERS: dict[str, Callable[..., Any]] = {
    "default": builtins.default_scheduler,
    "least-allocated": builtins.least_allocated_scheduler,
    "first-fit": builtins.FirstFit,
    "round-robin": builtins.RoundRobin,
    "random": builtins.RandomFit,
    "bin-packing": builtins.BinPacking,
}
_FIX = (
    "use one of the names above, 'MODULE:ATTR' naming an importable scheduler, or an object with a name and "
    "schedule(pod, cluster)"
)


def _entry_points() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def list_schedulers() -> list[str]:
    """Every scheduler name ``resolve_scheduler`` accepts: the built-ins, then installed entry points."""
    names = list(BUILTIN_SCHEDULERS)
    names += sorted(name for name in _entry_points() if name not in BUILTIN_SCHEDULERS)
    return names


def _known() -> str:
    return ", ".join(list_schedulers())


_RANDOM_ANNOTATIONS = (random.Random, "random.Random", "Random")


def _call(factory: Callable[..., Any], rng: random.Random, label: str) -> Any:
    """``factory(rng=rng)`` with an ``rng`` parameter, ``factory(rng)`` if its one required parameter is
    annotated ``random.Random``, ``factory()`` if it needs nothing; any other required parameter is an
    :class:`InputError` (rather than handing the rng to a parameter that means something else)."""
    try:
        parameters = list(inspect.signature(factory).parameters.values())
    except (TypeError, ValueError):
        return factory()
    if any(parameter.name == "rng" and parameter.kind != parameter.POSITIONAL_ONLY for parameter in parameters):
        others = [p for p in parameters if p.name != "rng"]
        args: tuple[Any, ...] = ()
        kwargs: dict[str, Any] = {"rng": rng}
    else:
        others = parameters
        args, kwargs = (), {}
    required = [
        parameter
        for parameter in others
        if parameter.default is parameter.empty and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    ]
    only = required[0] if not kwargs and len(required) == 1 else None
    if only is not None and only.kind != only.KEYWORD_ONLY and (only.annotation in _RANDOM_ANNOTATIONS or only.name == "rng"):
        args = (rng,)  # annotated random.Random, or a positional-only rng
        required = []
    if required:
        raise InputError(
            f"scheduler {label} needs argument {required[0].name!r}; podquake can only give it rng",
            field="scheduler",
            fix=(
                "give the parameter a default, name it rng to receive the simulation's seeded random.Random, "
                "or name a factory/instance that needs no arguments"
            ),
        )
    return factory(*args, **kwargs)


def fresh_copy(scheduler: Any) -> Any:
    """A deep copy of a scheduler object, for one run of many (each starts from the state the object
    was given in); a name, a class, ``None`` or an object that cannot be copied as it is."""
    if scheduler is None or isinstance(scheduler, str) or inspect.isclass(scheduler) or not hasattr(scheduler, "schedule"):
        return scheduler
    try:
        return copy.deepcopy(scheduler)
    except Exception:
        return scheduler


def _check_named(scheduler: Any, label: str) -> Any:
    """``scheduler`` unless its ``name`` (verdicts and reports show it) is blank or not a string; a
    scheduler without one is named after its class."""
    name = getattr(scheduler, "name", None)
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise InputError(
            f"scheduler {label} ({type(scheduler).__name__}) has name {name!r}, not a non-empty string; "
            "verdicts and reports name the scheduler by it",
            field="scheduler",
            fix=f"give {type(scheduler).__name__} a name, e.g. name = \"my-scheduler\" as a class attribute",
        )
    return scheduler


def _instantiate(factory: Any, rng: random.Random, label: str, *, named: bool = False) -> Any:
    if hasattr(factory, "schedule") and not inspect.isclass(factory):
        _check_named(factory, label)
        return fresh_copy(factory) if named else factory
    if not callable(factory):
        raise InputError(
            f"scheduler {label} is a {type(factory).__name__}, not a scheduler, class or factory; known names: {_known()}",
            field="scheduler",
            fix=_FIX,
        )
    try:
        made = _call(factory, rng, label)
    except InputError:
        raise
    except Exception as error:
        raise InputError(
            f"creating scheduler {label} failed: {type(error).__name__}: {error}",
            field="scheduler",
            fix="check the scheduler's constructor",
        ) from None
    if not callable(getattr(made, "schedule", None)):
        raise InputError(
            f"scheduler {label} made a {type(made).__name__}, which has no schedule(pod, cluster) method",
            field="scheduler",
            fix="return an object with a name and schedule(pod, cluster) -> str | None",
        )
    return _check_named(made, label)


def _import(path: str) -> Any:
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise InputError(
            f"scheduler {path!r} is not MODULE:ATTR", field="scheduler", fix="write e.g. 'mypackage.sched:MyScheduler'"
        )
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as error:
        raise InputError(
            f"cannot import module {module_name!r} for scheduler {path!r}: {type(error).__name__}: {error}",
            field="scheduler",
            fix="check the module name and that its package is installed in this environment",
        ) from None
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise InputError(
                f"module {module_name!r} has no attribute {attr!r} (scheduler {path!r})",
                field="scheduler",
                fix=f"check the name after ':' in {path!r}",
            ) from None
    return target


def resolve_scheduler(spec: Any, rng: random.Random) -> Any:
    """The scheduler object that ``spec`` names (see the module docstring)."""
    if spec is None:
        return builtins.default_scheduler(rng)
    if isinstance(spec, str):
        text = spec.strip()
        if text in BUILTIN_SCHEDULERS:
            return _instantiate(BUILTIN_SCHEDULERS[text], rng, repr(text))
        if ":" in text:
            return _instantiate(_import(text), rng, repr(text), named=True)
        entry = _entry_points().get(text)
        if entry is None:
            raise InputError(f"unknown scheduler {text!r}; known: {_known()}", field="scheduler", fix=_FIX)
        try:
            target = entry.load()
        except Exception as error:
            raise InputError(
                f"scheduler {text!r} (entry point {entry.value}) failed to load: {type(error).__name__}: {error}",
                field="scheduler",
                fix="reinstall the package that provides it",
            ) from None
        return _instantiate(target, rng, repr(text), named=True)
    return _instantiate(spec, rng, repr(spec)[:80])
