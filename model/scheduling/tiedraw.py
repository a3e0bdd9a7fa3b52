"""The tie draw that the compiled scheduling cores make themselves: ``random.Random.randrange(n)``.

When several nodes share the best score, the scheduler draws one with ``rng.randrange(count)``
(the full scan in ``framework.py``, the fast path, both engines). At 150,000 decisions a second the
draw is a sixth of a decision's cost in Python, so the compiled cores (``_leastalloc``,
``_shapeindex``) draw in C instead, the same way: CPython's ``randrange(n)`` for ``n > 0``
(``random.py``, ``_randbelow_with_getrandbits``, unchanged from 3.11 to 3.13) is
``getrandbits(n.bit_length())`` repeated until the result is below ``n``, and the cores call the
generator's own ``getrandbits``. Same generator state in, same node and same state out.

Only generators whose type is exactly :class:`random.Random` are drawn in C (a subclass may override
``randrange``, as the fast path's ``_NoRandom`` does); the cores hand any other back to Python.
:func:`register` checks, once at import, that this interpreter's ``randrange`` still draws that way
and registers :class:`random.Random` with a core, or nothing, in which case every draw stays in
Python. ``tests/model/scheduling/test_tiedraw.py`` compares the two draws.
"""

from __future__ import annotations

import random
from types import ModuleType

__all__ = ["draw_like_randrange", "randrange_is_getrandbits", "register"]


def draw_like_randrange(rng: random.Random, n: int) -> int:
    """``rng.randrange(n)`` (``n > 0``) as the compiled cores draw it: ``getrandbits`` until below ``n``.

    >>> draw_like_randrange(random.Random(7), 10) == random.Random(7).randrange(10)
    True
    """
    k = n.bit_length()
    r = rng.getrandbits(k)
    while r >= n:
        r = rng.getrandbits(k)
    return r


def randrange_is_getrandbits(seeds: int = 4, largest: int = 70) -> bool:
    """Whether this interpreter's ``randrange`` draws as :func:`draw_like_randrange`: the same values
    and the same generator state after, for ``n`` in ``1..largest`` and a few seeds, and for a few
    large ``n`` (node counts up to 2**31)."""
    sizes = [*range(1, largest + 1), 5_000, 65_537, 2**31 - 1]
    for seed in range(seeds):
        python, ours = random.Random(seed), random.Random(seed)
        for n in sizes:
            if python.randrange(n) != draw_like_randrange(ours, n):
                return False
        if python.getstate() != ours.getstate():
            return False
    return True


_SAME_DRAW = randrange_is_getrandbits()


def register(core: ModuleType) -> None:
    """Let ``core`` (a compiled extension with ``set_random``) draw ties for :class:`random.Random`
    generators, when this interpreter's ``randrange`` is the algorithm it replays; else never."""
    core.set_random(random.Random if _SAME_DRAW else None)
