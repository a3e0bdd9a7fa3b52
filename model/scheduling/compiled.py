"""The compiled parts of the scheduler: loading them, the switch that turns them off, the tie draw.

Three hot spots of scheduling have a C twin of their Python reference: the LeastAllocated index
(``_leastalloc.c``, reference ``leastalloc.py``), the per-shape score indexes (``_shapeindex.c``,
``shapeindex.py``) and the spread score groups (``_spreadgroups.c``, ``spreading.py``). Each is
optional: :func:`load` gives None when it is not built (no C compiler at install time, or built
for another interpreter), and :data:`PURE_PYTHON` (``PODQUAKE_PURE_PYTHON=1`` in the environment)
makes every new fast path use the Python references, which decide identically.

**The tie draw.** When several nodes share the best score, the scheduler draws one with
``rng.randrange(count)`` (the full scan in ``framework.py``, the fast path, both engines). At
150,000 decisions a second the draw is a sixth of a decision's cost in Python, so the compiled
cores (``_leastalloc``, ``_shapeindex``; ``draw_below`` in ``_cores.h``) draw in C instead, the
same way: CPython's ``randrange(n)`` for ``n > 0`` (``random.py``, ``_randbelow_with_getrandbits``,
unchanged from 3.11 to 3.13) is ``getrandbits(n.bit_length())`` repeated until the result is below
``n``, and the cores call the generator's own ``getrandbits``. Same generator state in, same node
and same state out. Only generators whose type is exactly :class:`random.Random` are drawn in C (a
subclass may override ``randrange``, as the fast path's ``_NoRandom`` does); the cores hand any
other back to Python. :func:`load` registers :class:`random.Random` with a core only when this
interpreter's ``randrange`` still draws that way (checked once, at import); otherwise every draw
stays in Python. ``tests/model/scheduling/test_compiled.py`` compares the two draws.
"""

from __future__ import annotations

import importlib
import os
import random
from types import ModuleType

__all__ = ["PURE_PYTHON", "draw_like_randrange", "engine", "load", "randrange_is_getrandbits"]

#: ``PODQUAKE_PURE_PYTHON`` is set (and not "0"): new fast paths use the Python engines only
PURE_PYTHON = os.environ.get("PODQUAKE_PURE_PYTHON", "") not in ("", "0")


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


def load(name: str) -> ModuleType | None:
    """The extension module ``podquake.model.scheduling.<name>`` when it is built (whatever
    :data:`PURE_PYTHON` says), else None; a core that draws ties gets :class:`random.Random`
    registered when this interpreter's ``randrange`` is the algorithm it replays."""
    try:
        module = importlib.import_module(f"{__package__}.{name}")
    except ImportError:  # not built (no compiler at install time) or built for another interpreter
        return None
    if hasattr(module, "set_random"):
        module.set_random(random.Random if _SAME_DRAW else None)
    return module


def engine(module: ModuleType | None) -> str:
    """The engine new fast paths use for a part whose extension is ``module``: "c" or "python"."""
    return "c" if module is not None and not PURE_PYTHON else "python"
