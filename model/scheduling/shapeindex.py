"""Per-shape score indexes: every node's local score for one pod signature, bucketed by score.

The fast path (``fastpath.py``) keeps one score index per pod signature (requests, non-zero
requests, tolerations, node selector and affinity). The *local* score is what depends only on the
node and the pod: the NodeResourcesFit filter, then weight x Fit score + weight x
BalancedAllocation score (None when a filter fails). Nodes are bucketed by it,
``{score: [bitset, size]}`` (bit i = node index i), so the best bucket is one lookup and, with no
normalized plugin, it is the tie set with its size known. A refresher closure recomputes the nodes
a change touched, reading each node's :data:`NodeState` (what the scores read of a node, computed
once per change by the fast path) rather than the node itself.

**The interface the fast path uses** (both engines): ``fill(fast)`` (every node from scratch),
``sync(log, log_base, states)`` (catch up with the change log; None, or a node whose class the
compiled engine needs ``learn_class`` for first), then one decision: ``best()`` (the plain case:
the best bucket is the tie set) or ``best_total(groups)`` (normalized offsets per node group), each
returning ``(best total, tie count)``, then ``draw(rng)``, the tied node ``rng.randrange(count)``
picks in node-index order (``pick(r)`` for a given ``r``). ``feasible`` (an int, the same object
while the feasible nodes are unchanged: ``FastPath._base`` caches on it), ``count`` and
``score_of(i)`` read the index.

**Two engines.** :class:`ScoreIndex` is the pure-Python engine and the *reference*: Python ints as
bitsets, :func:`make_refresher` and :func:`best_total` readable. :class:`CompiledScoreIndex`
subclasses the C extension ``_shapeindex.Index`` (``_shapeindex.c``), which holds the scores,
uint64-word bucket bitsets and the feasible set, computes the same local score (the same integer
formulas, the same float operations for BalancedAllocation) and decides; Python keeps the static
filters per class (``learn_class``). It exists for speed: the default profile's
index refresh, best total and tie pick cost about 60 us a decision in Python on 150,000 pods onto
5,000 nodes (``benchmarks/bench_scheduling.py``), most of what the default profile spends outside
spread scoring, and about 6 us with the compiled engine; in one run (2-core machine, 2026-11-22,
``--profile default --compare-engines``) that is 43,711 decisions/s against 13,940 with the Python
engine, every placement identical. It must decide bit for bit as the Python engine (same buckets,
best, ties, count, and the same ``rng.randrange(count)``, replayed in C for a :class:`random.Random`,
see ``compiled.py``);
``tests/model/scheduling/test_shapeindex_c.py`` checks it on generated sequences. Integers beyond
its exact 64-bit arithmetic raise OverflowError and the fast path hands every signature to the
Python engine for good; profiles it does not cover (RequestedToCapacityRatio, huge weights) use the
Python engine from the start (:meth:`CompiledScoreIndex.covers`).

:data:`ENGINE` says which one a new fast path uses: ``"c"`` when the extension is built and
importable, else ``"python"``; ``PODQUAKE_PURE_PYTHON=1`` in the environment forces ``"python"``.
"""

from __future__ import annotations

import random
from bisect import bisect_left, insort
from collections import defaultdict
from collections.abc import Callable, Collection
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeAlias

from podquake.model import constants as k8s
from podquake.model.objects import PodSpec
from podquake.model.scheduling import compiled
from podquake.model.scheduling import plugins as p
from podquake.model.scheduling.framework import BALANCED_ALLOCATION, NODE_RESOURCES_FIT, Profile

if TYPE_CHECKING:
    from podquake.model.scheduling.fastpath import FastPath, NodeClass

__all__ = [
    "ENGINE",
    "UNLIMITED",
    "Base",
    "CompiledScoreIndex",
    "NodeState",
    "ScoreIndex",
    "best_total",
    "compiled_core",
    "index_class",
    "local_parameters",
    "make_refresher",
    "nth_set_bit",
    "signature",
]


_core_module = compiled.load("_shapeindex")
#: the engine new fast paths use for their per-shape indexes: "c" (compiled) or "python" (the reference)
ENGINE = compiled.engine(_core_module)


def compiled_core() -> ModuleType | None:
    """The extension module ``_shapeindex`` when it is built (even if ``PODQUAKE_PURE_PYTHON`` is set), else None."""
    return _core_module


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


def signature(spec: PodSpec) -> tuple[Any, ...]:
    """What a pod's local scores depend on: its requests and non-zero requests, tolerations, node
    selector and node affinity. Specs with equal signatures share a score index (and a LeastAllocated
    shape)."""
    return (
        spec.requests,
        spec.nonzero_cpu,
        spec.nonzero_memory,
        spec.tolerations,
        spec.node_selector,
        spec.node_affinity,
    )


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

    The pure-Python engine and the reference (see the module docstring for the interface).
    ``keys`` are the bucket scores, ascending; ``size`` is how many nodes a bucket holds, so the
    plain case (one group: the best bucket is the tie set) needs no popcount.
    """

    __slots__ = (
        "spec",
        "refresh",
        "scores",
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
        "_ties",
        "_count",
    )

    engine = "python"

    def __init__(self, spec: PodSpec) -> None:
        self.spec = spec
        self.refresh: Callable[[Collection[int]], None] = _no_refresh
        self.scores: list[int | None] = []  # per node: the local score, None when a filter fails
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
        self._ties = 0  # the last decision's tie set
        self._count = 0  # and its size

    # --- following the cluster ------------------------------------------------------------------
    def fill(self, fast: FastPath) -> None:
        """Every node from scratch (a new index, a node set change, or a change log the index missed)."""
        count = len(fast.state.node_list)
        self.scores = [None] * count
        self.buckets = {}
        self.keys = []
        self.feasible = 0
        self.count = 0
        self.class_ok = {}
        self.tt_raw = {}
        self.na_raw = {}
        self.base = None
        self.refresh = make_refresher(self, fast.profile, fast)
        self.refresh(range(count))
        self.epoch = fast.epoch
        self.cursor = fast.log_base + len(fast.log)

    def sync(self, log: list[int], log_base: int, _states: list[NodeState]) -> None:
        """Recompute the nodes of ``log[cursor - log_base:]``, each once (the refresher reads their states)."""
        start = self.cursor - log_base
        if start < len(log):
            self.refresh(dict.fromkeys(log[start:]))  # each node once: refresh needs distinct nodes
            self.cursor = log_base + len(log)

    def learn_class(self, fast: FastPath, i: int) -> None:
        """Nothing to learn: the refresher filters classes itself (the compiled engine needs this)."""

    # --- a decision -----------------------------------------------------------------------------
    def best(self) -> tuple[int, int]:
        """``(score, count)`` of the best bucket, which becomes the tie set (no normalized plugin)."""
        best = self.keys[-1]
        self._ties, self._count = self.buckets[best]
        return best, self._count

    def best_total(self, groups: list[tuple[int, int]]) -> tuple[int, int]:
        """``(best total, tie count)`` over ``[(offset, mask)]`` groups (:func:`best_total`); keeps the ties."""
        best, self._ties = best_total(self, groups)
        self._count = self._ties.bit_count()
        return best, self._count

    def pick(self, r: int) -> int:
        """The node index of the ``r``-th tie of the last decision, in node-index order."""
        return nth_set_bit(self._ties, r)

    def draw(self, rng: random.Random) -> int:
        """The tie ``rng`` draws: ``pick(rng.randrange(count))``, or ``pick(0)`` with no draw when one node is best."""
        count = self._count
        return nth_set_bit(self._ties, rng.randrange(count) if count > 1 else 0)

    def score_of(self, i: int) -> int | None:
        """Node ``i``'s local score, None when it is infeasible."""
        return self.scores[i]

    def snapshot(self) -> tuple[list[int | None], dict[int, tuple[int, int]], int, int]:
        """``(scores, {score: (bits, size)}, feasible, count)``: the whole index, for tests."""
        return list(self.scores), {s: (b[0], b[1]) for s, b in self.buckets.items()}, self.feasible, self.count


_CoreIndex: Any = _core_module.Index if _core_module is not None else object


class CompiledScoreIndex(_CoreIndex):  # type: ignore[misc]
    """The same index in C (``_shapeindex.Index``): what the fast path uses when it is built.

    The C base holds the scores, bucket bitsets, feasible set and cursor and makes the decisions
    (``sync``, ``best``, ``best_total``, ``pick``, ``score_of``, ``feasible``, ``count`` are its
    methods and attributes, called by the fast path without a Python frame between). This subclass
    adds what stays in Python: the signature, the static filters per class (``learn_class``), the
    fast path's per-index caches (``tt_raw``, ``na_raw``, ``base``) and ``fill``. It must decide
    exactly as :class:`ScoreIndex` (the module docstring says why it exists).
    """

    __slots__ = ("spec", "class_ok", "tt_raw", "na_raw", "epoch", "base")

    engine = "c"

    def __init__(self, spec: PodSpec) -> None:
        if _core_module is None:
            raise RuntimeError("the compiled per-shape index (_shapeindex) is not built")
        self.spec = spec
        self.class_ok: dict[int, bool] = {}
        self.tt_raw: dict[int, int] = {}
        self.na_raw: dict[int, int] = {}
        self.epoch = -1
        self.base: Base | None = None

    @staticmethod
    def covers(profile: Profile) -> bool:
        """Whether the compiled engine scores for ``profile``: LeastAllocated or MostAllocated (or no Fit
        weight), bucket scores up to ``MAX_SCORE``, and exact doubles where BalancedAllocation scores."""
        core = _core_module
        if core is None:
            return False
        w_fit = profile.weight(NODE_RESOURCES_FIT)
        w_bal = profile.weight(BALANCED_ALLOCATION)
        if w_fit and profile.fit.type not in (p.LEAST_ALLOCATED, p.MOST_ALLOCATED):
            return False
        if w_bal and not core.EXACT_FLOAT:
            return False
        return k8s.MAX_NODE_SCORE * (w_fit + w_bal) <= core.MAX_SCORE  # type: ignore[no-any-return]

    def fill(self, fast: FastPath) -> None:
        """Every node from scratch, as :meth:`ScoreIndex.fill`."""
        self.class_ok = {}
        self.tt_raw = {}
        self.na_raw = {}
        self.base = None
        self.epoch = -1  # until complete
        states = fast.node_states
        self.reset(len(states), local_parameters(self.spec, fast.profile))
        i = self.place_all(states, 0)
        while i is not None:  # a class met for the first time: its static filters, then on from there
            self.learn_class(fast, i)
            i = self.place_all(states, i)
        self.epoch = fast.epoch
        self.cursor = fast.log_base + len(fast.log)

    def learn_class(self, fast: FastPath, i: int) -> None:
        """The static filters of node ``i``'s class (as the Python refresher computes them), for the core."""
        cid = fast.node_states[i][0]
        if cid in self.class_ok:  # the core asks again for a class it was given: never loop on it
            raise RuntimeError(f"the compiled index is out of step with node {i}'s state (class {cid})")
        cls = fast.classes[cid]
        ok = self.class_ok[cid] = p.static_filter(
            self.spec, fast.state.node_list[i].name, cls.labels, cls.taints, cls.unschedulable, cls.ready
        )
        self.set_class(cid, ok)


def index_class(name: str | None, profile: Profile) -> type[ScoreIndex] | type[CompiledScoreIndex]:
    """The per-shape index class of engine ``name`` ("c" or "python"; None: :data:`ENGINE`) for ``profile``.

    "c" gives :class:`ScoreIndex` where the compiled engine cannot serve: a profile it does not cover,
    or ``_shapeindex`` not built (the fast path's one ``engine`` argument also asks for the compiled
    LeastAllocated core, which may be built alone).
    """
    name = ENGINE if name is None else name
    if name == "python":
        return ScoreIndex
    if name == "c":
        return CompiledScoreIndex if CompiledScoreIndex.covers(profile) else ScoreIndex
    raise ValueError(f"unknown engine {name!r}: use 'c' or 'python'")


# (feasible nodes, class version, [(class, its feasible nodes)], {class id: offset}, [(offset, mask)])
Base: TypeAlias = "tuple[int, int, list[tuple[NodeClass, int]], dict[int, int], list[tuple[int, int]]]"

# A node's state as the refreshers read it (FastPath.node_state): its class, allocatable cpu and
# memory, room for real requests (cpu is -1 when the node has no pod slot left, so nothing fits;
# ephemeral storage is unlimited when the node declares none) and room for non-zero requests.
NodeState = tuple[int, int, int, int, int, int, int, int]
UNLIMITED = 1 << 62


def local_parameters(spec: PodSpec, profile: Profile) -> tuple[int, int, int, int, int, int, int, int, int, int, int]:
    """What a signature's local score reads of the pod and the profile, for both engines.

    ``(cpu, memory, ephemeral, nonzero_cpu, nonzero_memory, w_fit, w_bal, inline, most, cpu_weight,
    memory_weight)``: the real requests, the non-zero requests (the Fit score's), the weights
    (``w_bal`` 0 for a best-effort pod: BalancedAllocation skips it), whether the default strategy
    is inlined (LeastAllocated with cpu and memory weights 1), whether the strategy is MostAllocated,
    and its resource weights.
    """
    req = spec.requests
    cpu, memory = req.cpu_millis, req.memory_bytes
    fit = profile.fit
    w_fit = profile.weight(NODE_RESOURCES_FIT)
    w_bal = profile.weight(BALANCED_ALLOCATION) if (cpu or memory) else 0  # best-effort pods: Skip
    inline = bool(w_fit and fit.type == p.LEAST_ALLOCATED and fit.cpu_weight == 1 and fit.memory_weight == 1)
    return (
        cpu,
        memory,
        req.ephemeral_storage_bytes,
        spec.nonzero_cpu,
        spec.nonzero_memory,
        w_fit,
        w_bal,
        int(inline),
        int(fit.type == p.MOST_ALLOCATED),
        fit.cpu_weight,
        fit.memory_weight,
    )


def make_refresher(index: ScoreIndex, profile: Profile, fast: FastPath) -> Callable[[Collection[int]], None]:
    """``refresh(node indexes)``: recompute those nodes' local scores in ``index`` and move their bits.

    The local score is the NodeResourcesFit filter, then weight x Fit score + weight x
    BalancedAllocation score (None when a filter fails). One closure per index, all in one loop:
    this is the fast path's innermost work, run once per bind per pod signature, so it reads the
    node's precomputed :data:`NodeState` rather than the node, and inlines the default strategy.
    """
    spec = index.spec
    cpu, memory, ephemeral, nz_cpu, nz_memory, w_fit, w_bal, least_plain, _, _, _ = local_parameters(spec, profile)
    fit_score = profile.fit.score
    balanced = p.balanced_allocation_score
    static_filter = p.static_filter
    top = k8s.MAX_NODE_SCORE
    class_ok = index.class_ok
    score_of = index.scores
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
