"""The compiled spread score groups (``_spreadgroups.c``) return exactly what the Python reference does.

``spreading._groups_python`` is the specification. Generated inputs mirror what
``Spreading.score_groups`` hands over: classes with disjoint node masks, per-constraint terms
(count x log(size + 2) + skew, the floats upstream adds), a hostname tracker's levels, ignored
classes, offsets. The fast path's own equivalence tests (``test_fastpath.py``, fast path against
the full scan) run through the compiled function too when it is built. Skipped when it is not.
"""

from __future__ import annotations

import math
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from podquake.model.scheduling import spreading

try:
    from podquake.model.scheduling import _spreadgroups
except ImportError:  # not built
    _spreadgroups = None  # type: ignore[assignment]

pytestmark = pytest.mark.skipif(
    _spreadgroups is None,
    reason="the C extension podquake.model.scheduling._spreadgroups is not built (a C compiler at install time builds it)",
)

VALUES = ["zone-a", "zone-b", "zone-c", "rack-1", ""]


@st.composite
def group_inputs(draw: st.DrawFn) -> tuple:
    size = draw(st.integers(1, 130))
    n_classes = draw(st.integers(0, 5))
    owner = [draw(st.integers(0, n_classes)) for _ in range(size)] if n_classes else []
    masks = [sum(1 << i for i, c in enumerate(owner) if c == k) for k in range(n_classes)]
    n_constraints = draw(st.integers(1, 3))
    host_index = draw(st.integers(-1, n_constraints - 1))
    terms: list[dict[str, float]] = []
    for i in range(n_constraints):
        weight = math.log(draw(st.integers(1, 6)) + 2)
        skew = float(draw(st.integers(0, 4)))
        halves = draw(st.booleans())  # scores at exactly x.5: Go's rounding (half away from zero)
        terms.append(
            {}
            if i == host_index
            else {v: (draw(st.integers(0, 40)) / 2 if halves else draw(st.integers(0, 40)) * weight + skew) for v in VALUES}
        )
    host = None
    if host_index >= 0 and draw(st.booleans()):
        counts = [draw(st.integers(0, 4)) for _ in range(size)]
        levels: dict[int, int] = {}
        for level in draw(st.permutations(range(1, 5))):  # dict order is part of the contract
            bits = sum(1 << i for i, n in enumerate(counts) if n == level)
            if bits:
                levels[level] = bits
        any_host = sum(1 << i for i, n in enumerate(counts) if n)
        host = (any_host, levels, math.log(size + 2), float(draw(st.integers(0, 4))))
    kept, ignored = [], []
    for cid, mask in enumerate(masks):
        if not mask:
            continue
        if draw(st.integers(0, 5)) == 0:
            ignored.append((cid, mask))
            continue
        before, after, has_host = [], [], False
        for i in range(n_constraints):
            if i == host_index:
                has_host = draw(st.booleans())
            elif draw(st.integers(0, 4)):
                (after if has_host else before).append((i, draw(st.sampled_from(VALUES))))
        kept.append((cid, mask, tuple(before), has_host, tuple(after)))
    offsets = {cid: draw(st.integers(0, 300)) for cid in range(n_classes)}
    weight = draw(st.sampled_from([0, 1, 2, 7]))
    return kept, terms, host, ignored, offsets, weight, 100


@settings(max_examples=300)
@given(group_inputs())
def test_compiled_groups_equal_the_python_reference(args: tuple) -> None:
    assert _spreadgroups.score_groups(*args) == spreading._groups_python(*args)


def test_all_raw_scores_zero_normalize_to_the_top_and_ignored_classes_score_zero() -> None:
    kept = [(0, 0b0011, (), False, ()), (1, 0b1100, (), False, ())]
    terms = [{}]
    args = (kept, terms, None, [(2, 0b110000)], {0: 10, 1: 10, 2: 5}, 2, 100)
    assert _spreadgroups.score_groups(*args) == spreading._groups_python(*args) == [(210, 0b1111), (5, 0b110000)]


def test_a_score_at_exactly_one_half_rounds_up() -> None:
    kept = [(0, 0b01, ((0, "a"),), False, ()), (1, 0b10, ((0, "b"),), False, ())]
    args = (kept, [{"a": 2.5, "b": 2.0}], None, [], {0: 0, 1: 0}, 1, 100)
    # raws 3 and 2: normalized 100 * (3 + 2 - raw) // 3
    assert _spreadgroups.score_groups(*args) == spreading._groups_python(*args) == [(100, 0b10), (66, 0b01)]


def test_a_hostname_level_splits_a_class() -> None:
    host = (0b0110, {1: 0b0010, 2: 0b0100}, math.log(6), 2.0)
    args = ([(0, 0b1111, (), True, ())], [{}], host, [], {0: 0}, 1, 100)
    expected = spreading._groups_python(*args)
    assert _spreadgroups.score_groups(*args) == expected
    assert sorted(mask for _, mask in expected) == [0b0010, 0b0100, 0b1001]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (([(0, 1, (), False)], [{}], None, [], {0: 0}, 1, 100), TypeError),  # a short class entry
        (([(0, 1, ((0, "x"),), False, ())], [{}], None, [], {0: 0}, 1, 100), KeyError),  # no such term
        (([(0, 1, ((5, "x"),), False, ())], [{}], None, [], {0: 0}, 1, 100), IndexError),
        (([(0, 1, (), False, ())], [{}], None, [], {}, 1, 100), KeyError),  # no offset for the class
        (([(0, 1, (), False, ())], [{}], (1, {}, 1.0), [], {0: 0}, 1, 100), TypeError),  # a bad host
        (([(0, 1, (), False, ())], [{}], None, [], {0: 0}, 1 << 62, 100), OverflowError),
        (([(0, "1", (), False, ())], [{}], None, [], {0: 0}, 1, 100), TypeError),
    ],
)
def test_bad_input_raises_instead_of_crashing(args: tuple, error: type[Exception]) -> None:
    with pytest.raises(error):
        _spreadgroups.score_groups(*args)


def test_overflow_falls_back_to_python_ints(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spreading.score_groups catches OverflowError and uses the reference (exact with any int)."""
    args = ([(0, 0b1, (), False, ()), (1, 0b10, ((0, "a"),), False, ())], [{"a": 3.0}], None, [], {0: 0, 1: 0}, 1 << 62, 100)
    with pytest.raises(OverflowError):
        _spreadgroups.score_groups(*args)
    assert spreading._groups_python(*args) == [(100 << 62, 0b1), (0, 0b10)]


def test_no_reference_is_leaked_or_lost() -> None:
    mask = (1 << 200) | 1
    bits = 1 << 200
    levels = {1: bits}
    host = ((1 << 200), levels, 1.5, 2.0)
    kept = [(0, mask, (), True, ())]
    before = (sys.getrefcount(mask), sys.getrefcount(bits), sys.getrefcount(levels))
    for _ in range(1000):
        _spreadgroups.score_groups(kept, [{}], host, [], {0: 0}, 2, 100)
        with pytest.raises(KeyError):
            _spreadgroups.score_groups(kept, [{}], host, [], {}, 2, 100)
    assert (sys.getrefcount(mask), sys.getrefcount(bits), sys.getrefcount(levels)) == before
