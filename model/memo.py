"""Values computed once per immutable object, for the whole process.

A campaign runs hundreds of simulations of the same parsed manifests, so the same frozen pod
templates and specs come back in every example: their ``pod-template-hash`` and their canonical
JSON for the trace are the same each time. :class:`IdentityMemo` remembers them by object identity
(a lookup, no hashing of a deep frozen value), keeping each object alive while it is remembered so
that its ``id`` cannot be reused by another object; past ``limit`` entries it starts over.

>>> calls = []
>>> length = IdentityMemo(lambda text: calls.append(text) or len(text))
>>> word = "podquake"
>>> length(word), length(word), calls
(8, 8, ['podquake'])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["IdentityMemo"]

K = TypeVar("K")
V = TypeVar("V")


class IdentityMemo(Generic[K, V]):
    """``function(obj)``, computed once per object (by identity) while at most ``limit`` are kept.

    Only for objects that never change (frozen dataclasses, tuples, strings) and functions of the
    object alone: a remembered value is returned without looking at the object again.
    """

    __slots__ = ("_function", "_memo", "_limit")

    def __init__(self, function: Callable[[K], V], limit: int = 4096) -> None:
        self._function = function
        self._memo: dict[int, tuple[K, V]] = {}
        self._limit = limit

    def __call__(self, obj: K) -> V:
        hit = self._memo.get(id(obj))
        if hit is not None and hit[0] is obj:
            return hit[1]
        value = self._function(obj)
        if len(self._memo) >= self._limit:
            self._memo.clear()
        self._memo[id(obj)] = (obj, value)
        return value
