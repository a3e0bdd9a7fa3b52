"""What podquake takes from Hypothesis beyond its public API, in one place.

- :func:`no_local_constants`: a campaign's draws must not depend on which modules happen to be
  imported (see its docstring).
- :func:`shrink_again`, :func:`recorded_choices` and :func:`recorded_size`: a second shrink, for
  one property, of a failure a campaign's chunk found. A chunk is one Hypothesis run, and Hypothesis shrinks one
  failure per run: the first example that failed, for the first property it broke. Another property
  that failed in that example would keep it as drawn, faults that play no part in it included.
  :func:`shrink_again` starts a second Hypothesis run from the example's recorded choices and
  shrinks them for that property alone, the same way the first run shrank its own. It starts from
  the smallest example (by :func:`recorded_size`) that broke that property, which is often one the
  first shrink ran into on its way down.

Each leans on Hypothesis's internals (as of 6.155): the "local constants" of its providers, the
choices of the running example (``current_build_context().data.choices``), the shrinker's order
(``hypothesis.internal.conjecture.shrinker.sort_key``), the choices' database form
(``hypothesis.database.choices_to_bytes``), and the seed a ``@given`` test carries. Without them,
:func:`no_local_constants` does nothing, :func:`recorded_choices` answers ``None`` and the property
keeps its example unshrunk, and without the order a second shrink starts from the first failure.
"""

from __future__ import annotations

import unittest
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

__all__ = ["ShrinkBudgetSpent", "no_local_constants", "recorded_choices", "recorded_size", "shrink_again"]

T = TypeVar("T")

_KEY = b"podquake-shrink-again"


class ShrinkBudgetSpent(KeyboardInterrupt):
    """Raised inside an example to stop Hypothesis's shrinker once its runs are spent. Hypothesis
    lets a KeyboardInterrupt through at once, without replaying or shrinking anything more (any other
    exception would count as a new failure to shrink)."""


@contextmanager
def no_local_constants() -> Iterator[None]:
    """Hypothesis (6.131 on) now and then draws a constant found in the source of the "local" modules
    imported so far (not in site-packages). Which those are differs between the command line, a
    worker process, a chunk run after another (the first run imports the controllers) and pytest,
    so the same seed would draw different examples. A campaign's draws use none of them. This
    reaches into Hypothesis's internals (there is no setting yet: HypothesisWorks/hypothesis#4627),
    so it does nothing on a version without them."""
    try:
        from hypothesis.internal.conjecture import providers

        original, cache, constants = providers._get_local_constants, providers.CONSTANTS_CACHE.cache, providers.Constants
    except (ImportError, AttributeError):
        yield
        return
    providers._get_local_constants = constants  # an empty Constants()
    cache.clear()  # it holds the allowed constants per choice, computed with the local ones
    try:
        yield
    finally:
        providers._get_local_constants = original
        cache.clear()


def recorded_choices() -> tuple[Any, ...] | None:
    """The choices Hypothesis made for the example running now (inside a ``@given`` test), or
    ``None`` outside one or on a Hypothesis without them."""
    try:
        from hypothesis.control import current_build_context

        return tuple(current_build_context().data.choices)
    except Exception:  # noqa: BLE001 - no build context, or internals that moved: no second shrink
        return None


def recorded_size() -> tuple[Any, ...] | None:
    """How complex Hypothesis judges the example running now (its shrinker's own order: fewer
    choices, then simpler ones), or ``None`` outside a ``@given`` test or on a Hypothesis without it.
    Two sizes compare; the smaller is the example the shrinker prefers."""
    try:
        from hypothesis.control import current_build_context
        from hypothesis.internal.conjecture.shrinker import sort_key

        return sort_key(current_build_context().data.nodes)
    except Exception:  # noqa: BLE001 - no build context, or internals that moved: sizes unknown
        return None


def shrink_again(
    strategy: st.SearchStrategy[T],
    choices: tuple[Any, ...],
    fails: Callable[[T], bool],
    *,
    runs: int,
    seed: int,
) -> T | None:
    """The smallest value of ``strategy`` that ``fails``, found by shrinking the value the recorded
    ``choices`` draw, in at most ``runs`` calls of ``fails``; ``None`` when that value does not fail
    (or the choices no longer draw it).

    The same choices, ``fails`` and ``seed`` give the same answer: Hypothesis's shrinker is
    deterministic once its random generator is seeded, and the run count is a count, not a time.
    """
    try:
        from hypothesis.database import InMemoryExampleDatabase, choices_to_bytes
    except ImportError:
        return None
    database = InMemoryExampleDatabase()
    # the secondary corpus: replayed, then shrunk (a primary entry would count as shrunk already)
    database.save(_KEY + b".secondary", choices_to_bytes(choices))
    smallest: list[T] = []
    spent = [0]

    @settings(
        database=database,
        phases=(Phase.reuse, Phase.shrink),
        max_examples=max(1, runs),
        deadline=None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        report_multiple_bugs=False,
    )
    @given(strategy)
    def search(value: T) -> None:
        if spent[0] >= runs:
            raise ShrinkBudgetSpent
        spent[0] += 1
        if fails(value):
            smallest[:] = [value]  # the shrinker only tries smaller candidates: the last failure is the smallest
            raise _Fails

    # What @seed(seed) sets, but not the database=None it sets too (as hypothesis.find(random=...)
    # does, through it): the database holds the example to start from.
    search._hypothesis_internal_use_seed = seed  # type: ignore[attr-defined]
    search._hypothesis_internal_database_key = _KEY  # type: ignore[attr-defined]
    try:
        search()
    except (_Fails, ShrinkBudgetSpent, unittest.SkipTest):
        pass  # SkipTest: the recorded choices no longer draw a value, so nothing ran
    return smallest[0] if smallest else None


class _Fails(Exception):
    """The value fails: what makes Hypothesis shrink it."""
