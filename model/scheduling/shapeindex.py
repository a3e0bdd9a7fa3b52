"""Per-shape score indexes: every node's local score for one pod signature, bucketed by score.

The fast path (``fastpath.py``) keeps one :class:`ScoreIndex` per pod signature (requests, non-zero
requests, tolerations, node selector and affinity). The *local* score is what depends only on the
node and the pod: the NodeResourcesFit filter, then weight x Fit score + weight x
BalancedAllocation score (None when a filter fails). Nodes are bucketed by it,
``{score: [bitset, size]}`` (bit i = node index i), so the best bucket is one lookup and, with no
normalized plugin, it is the tie set with its size known. A refresher closure recomputes the nodes
a change touched, reading each node's :data:`NodeState` (what the scores read of a node, computed
once per change by the fast path) rather than the node itself.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import defaultdict
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, TypeAlias

from podquake.model import constants as k8s
from podquake.model.objects import PodSpec
from podquake.model.scheduling import plugins as p
from podquake.model.scheduling.framework import BALANCED_ALLOCATION, NODE_RESOURCES_FIT, Profile

if TYPE_CHECKING:
    from podquake.model.scheduling.fastpath import FastPath, NodeClass

__all__ = ["UNLIMITED", "Base", "NodeState", "ScoreIndex", "best_total", "make_refresher", "nth_set_bit"]


def _bits(indexes: list[int], size: int) -> int:
    """The bitset of ``indexes`` (all below ``size``): bit by bit when few, through a bytearray when many."""
    if len(indexes) < 8:
        bits = 0
        for i in indexes:
            bits |= 1 << i
        return bits
    buffer = bytearray((size + 7) >> 3)
    for i in indexes:
        buffer[i >> 3] |= 1 << (i & 7)
    return int.from_bytes(buffer, "little")


# (mask of the low 2**k bits, 2**k) for each k
_HALVES = [((1 << (1 << k)) - 1, 1 << k) for k in range(24)]
# _NTH_IN_BYTE[b][r]: position of the r-th set bit of the byte b
_NTH_IN_BYTE = [[j for j in range(8) if b >> j & 1] for b in range(256)]


def nth_set_bit(bits: int, r: int) -> int:
    """Position of the ``r``-th (0-based) set bit of ``bits``, counting from the least significant.

    A binary search on halves (power-of-two widths, precomputed masks), then a byte table.

    >>> nth_set_bit(0b101100, 0), nth_set_bit(0b101100, 2), nth_set_bit(1 << 4000 | 1, 1)
    (2, 5, 4000)
    """
    base = 0
    k = (bits.bit_length() - 1).bit_length()
    while k > 3:
        k -= 1
        mask, width = _HALVES[k]
        low = bits & mask
        count = low.bit_count()
        if r < count:
            bits = low
        else:
            r -= count
            bits >>= width
            base += width
    return base + _NTH_IN_BYTE[bits][r]


def _no_refresh(_dirty: Collection[int]) -> None:
    raise AssertionError("index used before it was filled")


class ScoreIndex:
    """Local scores of every node for one pod signature, bucketed: ``{score: [bitset, size]}``.

    ``keys`` are the bucket scores, ascending; ``size`` is how many nodes a bucket holds, so the
    plain case (one group: the best bucket is the tie set) needs no popcount.
    """

    __slots__ = (
        "spec",
        "refresh",
        "score_of",
        "buckets",
        "keys",
        "feasible",
        "count",
        "class_ok",
        "tt_raw",
        "na_raw",
        "cursor",
        "epoch",
        "base",
    )

    def __init__(self, spec: PodSpec) -> None:
        self.spec = spec
        self.refresh: Callable[[Collection[int]], None] = _no_refresh
        self.score_of: list[int | None] = []
        self.buckets: dict[int, list[int]] = {}
        self.keys: list[int] = []  # bucket scores, ascending
        self.feasible = 0  # nodes passing every filter but PodTopologySpread
        self.count = 0  # how many
        self.class_ok: dict[int, bool] = {}
        self.tt_raw: dict[int, int] = {}
        self.na_raw: dict[int, int] = {}
        self.cursor = -1
        self.epoch = -1
        self.base: Base | None = None  # FastPath._base


# (feasible nodes, class version, [(class, its feasible nodes)], {class id: offset}, [(offset, mask)])
Base: TypeAlias = "tuple[int, int, list[tuple[NodeClass, int]], dict[int, int], list[tuple[int, int]]]"

# A node's state as the refreshers read it (FastPath.node_state): its class, allocatable cpu and
# memory, room for real requests (cpu is -1 when the node has no pod slot left, so nothing fits;
# ephemeral storage is unlimited when the node declares none) and room for non-zero requests.
NodeState = tuple[int, int, int, int, int, int, int, int]
UNLIMITED = 1 << 62


def make_refresher(index: ScoreIndex, profile: Profile, fast: FastPath) -> Callable[[Collection[int]], None]:
    """``refresh(node indexes)``: recompute those nodes' local scores in ``index`` and move their bits.

    The local score is the NodeResourcesFit filter, then weight x Fit score + weight x
    BalancedAllocation score (None when a filter fails). One closure per index, all in one loop:
    this is the fast path's innermost work, run once per bind per pod signature, so it reads the
    node's precomputed :data:`NodeState` rather than the node, and inlines the default strategy.
    """
    spec = index.spec
    req = spec.requests
    cpu, memory, ephemeral = req.cpu_millis, req.memory_bytes, req.ephemeral_storage_bytes
    nz_cpu, nz_memory = spec.nonzero_cpu, spec.nonzero_memory
    fit = profile.fit
    w_fit = profile.weight(NODE_RESOURCES_FIT)
    w_bal = profile.weight(BALANCED_ALLOCATION) if (cpu or memory) else 0  # best-effort pods: Skip
    least_plain = w_fit and fit.type == p.LEAST_ALLOCATED and fit.cpu_weight == 1 and fit.memory_weight == 1
    fit_score = fit.score
    balanced = p.balanced_allocation_score
    static_filter = p.static_filter
    top = k8s.MAX_NODE_SCORE
    class_ok = index.class_ok
    score_of = index.score_of
    buckets = index.buckets
    keys = index.keys

    def refresh(dirty: Collection[int]) -> None:
        """Recompute the nodes in ``dirty`` (distinct indexes) and move their bits to their new buckets."""
        states = fast.node_states
        direct = len(dirty) <= 32
        adds: defaultdict[int, list[int]] = defaultdict(list)
        removes: defaultdict[int, list[int]] = defaultdict(list)
        feasible = index.feasible
        count = index.count
        for i in dirty:
            cid, a_cpu, a_mem, free_cpu, free_mem, free_eph, nz_free_cpu, nz_free_mem = states[i]
            ok = class_ok.get(cid)
            if ok is None:
                cls = fast.classes[cid]
                ok = class_ok[cid] = static_filter(
                    spec, fast.state.node_list[i].name, cls.labels, cls.taints, cls.unschedulable, cls.ready
                )
            new: int | None = None
            if ok and cpu <= free_cpu and memory <= free_mem and ephemeral <= free_eph:
                if least_plain and a_cpu and a_mem:  # the default strategy, inlined
                    new = w_fit * (
                        (
                            (0 if nz_cpu > nz_free_cpu else (nz_free_cpu - nz_cpu) * top // a_cpu)
                            + (0 if nz_memory > nz_free_mem else (nz_free_mem - nz_memory) * top // a_mem)
                        )
                        // 2
                    )
                    if w_bal:  # balanced_allocation_score inlined, the same float operations; the pod
                        # fits, so both fractions are at most 1 and its clamps to 1 change nothing
                        new += w_bal * int(
                            (1 - abs(((a_cpu - free_cpu + cpu) / a_cpu - (a_mem - free_mem + memory) / a_mem) / 2))
                            * top
                        )
                else:
                    new = w_fit * fit_score(a_cpu - nz_free_cpu + nz_cpu, a_cpu, a_mem - nz_free_mem + nz_memory, a_mem)
                    if w_bal:
                        new += w_bal * balanced(a_cpu - free_cpu + cpu, a_cpu, a_mem - free_mem + memory, a_mem)
            old = score_of[i]
            if new == old:
                continue
            score_of[i] = new
            if direct:  # move the node's bit now: cheaper than building masks for a few nodes
                bit = 1 << i
                if old is None:
                    feasible |= bit
                    count += 1
                else:
                    bucket = buckets[old]
                    if bucket[1] == 1:
                        del buckets[old]
                        del keys[bisect_left(keys, old)]
                    else:
                        bucket[0] ^= bit
                        bucket[1] -= 1
                if new is None:
                    feasible ^= bit
                    count -= 1
                else:
                    bucket = buckets.get(new)  # type: ignore[assignment]
                    if bucket is None:
                        buckets[new] = [bit, 1]
                        insort(keys, new)
                    else:
                        bucket[0] |= bit
                        bucket[1] += 1
                continue
            removes[-1 if old is None else old].append(i)  # -1: the infeasible "bucket", see index.feasible
            adds[-1 if new is None else new].append(i)
        size = len(states)
        for score, members in removes.items():  # many nodes: one mask per bucket
            bits = _bits(members, size)
            if score < 0:
                feasible |= bits
                count += len(members)
                continue
            bucket = buckets[score]
            if bucket[1] == len(members):
                del buckets[score]
                del keys[bisect_left(keys, score)]
            else:
                bucket[0] ^= bits
                bucket[1] -= len(members)
        for score, members in adds.items():
            bits = _bits(members, size)
            if score < 0:
                feasible ^= bits
                count -= len(members)
                continue
            bucket = buckets.get(score)  # type: ignore[assignment]
            if bucket is None:
                buckets[score] = [bits, len(members)]
                insort(keys, score)
            else:
                bucket[0] |= bits
                bucket[1] += len(members)
        index.feasible = feasible
        index.count = count

    return refresh


def best_total(index: ScoreIndex, groups: list[tuple[int, int]]) -> tuple[int, int]:
    """The highest total (local score + group offset) and the nodes that have it, as a bitset."""
    buckets = index.buckets
    keys = index.keys
    top_offset = groups[0][0]
    plain = len(groups) == 1 and groups[0][1] == index.feasible
    best = -1
    ties = 0
    for k in range(len(keys) - 1, -1, -1):
        score = keys[k]
        if score + top_offset < best:
            break
        members = buckets[score][0]
        if plain:
            return score + top_offset, members
        for offset, mask in groups:
            total = score + offset
            if total < best:
                break
            hit = members & mask
            if hit:
                if total > best:
                    best = total
                    ties = hit
                else:
                    ties |= hit
                break
    return best, ties
