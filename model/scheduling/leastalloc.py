"""LeastAllocated decisions for every pod shape from one index: the fast path's engine for that profile.

The per-shape score indexes of ``fastpath.py`` cost one node update per bind *per pod shape*. For
the LeastAllocated-only profile (equal cpu and memory weights, no BalancedAllocation, no normalized
plugin) this module keeps one shape-independent index instead, so a bind costs one node update
whatever the number of shapes. The arithmetic that makes it exact:

LeastAllocated's score for one resource is ``(A - u - s) * 100 // A`` (``A`` allocatable, ``u`` the
node's non-zero requests, ``s`` the pod's; noderesources/least_allocated.go). Write
``(A - u) * 100 = q*A + r`` and ``s * 100 = D*A + R`` with ``0 <= r, R < A``. Then

    (A - u - s) * 100 // A  =  q - D - [r < R]

so a node's Fit score for *every* shape follows from ``g = q_cpu + q_memory`` and from where its
remainders ``r_cpu``, ``r_memory`` fall among the shapes' ``R`` values (the *thresholds*):
``score = (g - D_cpu - D_memory - [r_cpu < R_cpu] - [r_memory < R_memory]) // 2``.

Nodes are bucketed, per allocatable size, by ``g`` and by the interval of each remainder among the
thresholds (bitsets, bit i = node index i). A decision ORs the intervals below the shape's
thresholds, then walks ``g`` downwards: within one ``g`` the nodes split into those scoring
``(g - D) // 2`` and those one lower. That holds for *open* nodes: nodes where every shape seen so
far fits and none is clamped at 0 (its requests stay below what is free). The others, *tight* nodes,
are scored one by one; when there are many (a nearly full cluster) the fast path uses its per-shape
indexes instead. A new shape, a new allocatable size or a forgotten change log rebuilds the index.
Ties and the random pick are the fast path's (node-index order, ``rng.randrange``).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from typing import TYPE_CHECKING

from podquake.model import constants as k8s
from podquake.model.objects import PodSpec
from podquake.model.scheduling import plugins as p

if TYPE_CHECKING:
    from podquake.model.scheduling.fastpath import FastPath

__all__ = ["TIGHT_MAX", "LeastAllocatedIndex"]

TIGHT_MAX = 24  # more tight nodes than this: the per-shape indexes answer (scoring them one by one costs more)
_TOP = k8s.MAX_NODE_SCORE


class _Size:
    """The open nodes of one allocatable size (cpu, memory): bitsets by ``g`` and by remainder interval."""

    __slots__ = ("id", "a_cpu", "a_mem", "cpu_thresholds", "mem_thresholds", "by_g", "g_keys", "low_cpu", "low_mem")

    def __init__(self, sid: int, a_cpu: int, a_mem: int, cpu_thresholds: list[int], mem_thresholds: list[int]) -> None:
        self.id = sid
        self.a_cpu = a_cpu
        self.a_mem = a_mem
        self.cpu_thresholds = cpu_thresholds  # sorted distinct R_cpu of the shapes
        self.mem_thresholds = mem_thresholds
        self.by_g: dict[int, int] = {}
        self.g_keys: list[int] = []  # ascending
        # low_cpu[j]: nodes whose r_cpu lies in interval j or below (interval: bisect_right(thresholds, r)),
        # so low_cpu[k] are the nodes with r_cpu < thresholds[k]; one OR-prefix per threshold
        self.low_cpu = [0] * (len(cpu_thresholds) + 1)
        self.low_mem = [0] * (len(mem_thresholds) + 1)


class _Shape:
    """A pod signature as this index scores it."""

    __slots__ = (
        "spec",
        "nz_cpu",
        "nz_mem",
        "cpu",
        "mem",
        "eph",
        "class_ok",
        "allowed",
        "everywhere",
        "allowed_version",
        "params",
    )

    def __init__(self, spec: PodSpec) -> None:
        req = spec.requests
        self.spec = spec
        self.nz_cpu = spec.nonzero_cpu
        self.nz_mem = spec.nonzero_memory
        self.cpu = req.cpu_millis
        self.mem = req.memory_bytes
        self.eph = req.ephemeral_storage_bytes
        self.class_ok: dict[int, bool] = {}
        self.allowed = 0  # nodes of the classes passing the static filters
        self.everywhere = False  # whether that is every node
        self.allowed_version = -1
        self.params: list[tuple[int, int, int]] = []  # per size id: (D_cpu + D_mem, cpu interval, mem interval)


class LeastAllocatedIndex:
    """One index answering every pod shape's LeastAllocated decision (see the module docstring)."""

    def __init__(self, fast: FastPath, w_fit: int) -> None:
        self.fast = fast
        self.w_fit = w_fit
        self.shapes: dict[tuple[object, ...], _Shape] = {}
        self.by_spec: dict[int, tuple[PodSpec, _Shape]] = {}
        self.sizes: list[_Size] = []
        self.size_of: dict[tuple[int, int], _Size] = {}
        self.key: list[tuple[_Size, int, int, int] | None] = []  # per node: (size, g, cpu interval, mem interval)
        self.tight = 0  # nodes scored one by one
        self.tight_count = 0
        self.limits = (0, 0, 0, 0, 0)  # the largest cpu, memory, ephemeral, non-zero cpu, non-zero memory request
        self.epoch = -1
        self.cursor = -1

    # --- shapes ---------------------------------------------------------------------------------
    def shape(self, spec: PodSpec) -> _Shape:
        """The shape of ``spec``, registering it (and rebuilding if it changes thresholds or limits)."""
        hit = self.by_spec.get(id(spec))
        if hit is not None and hit[0] is spec:
            return hit[1]
        signature = (
            spec.requests,
            spec.nonzero_cpu,
            spec.nonzero_memory,
            spec.tolerations,
            spec.node_selector,
            spec.node_affinity,
        )
        shape = self.shapes.get(signature)
        if shape is None:
            if len(self.shapes) >= 256:
                self.shapes = {}
                self.by_spec = {}
            shape = self.shapes[signature] = _Shape(spec)
            self.epoch = -1  # thresholds and limits may change: rebuild before the next decision
        self.by_spec[id(spec)] = (spec, shape)
        return shape

    # --- following the cluster ------------------------------------------------------------------
    def catch_up(self) -> None:
        """Rebuild after a node set change, a new shape or a forgotten log; else replay the change log."""
        fast = self.fast
        if self.epoch != fast.epoch or self.cursor < fast.log_base:
            self._rebuild()
            return
        start = self.cursor - fast.log_base
        log = fast.log
        if start < len(log):
            states = fast.node_states
            for i in dict.fromkeys(log[start:]) if len(log) - start > 1 else log[start:]:
                self._place(i, states[i])
            self.cursor = fast.log_base + len(log)

    def _rebuild(self) -> None:
        fast = self.fast
        shapes = list(self.shapes.values())
        self.limits = (
            max((s.cpu for s in shapes), default=0),
            max((s.mem for s in shapes), default=0),
            max((s.eph for s in shapes), default=0),
            max((s.nz_cpu for s in shapes), default=0),
            max((s.nz_mem for s in shapes), default=0),
        )
        self.sizes = []
        self.size_of = {}
        for state in fast.node_states:
            a_cpu, a_mem = state[1], state[2]
            if a_cpu > 0 and a_mem > 0 and (a_cpu, a_mem) not in self.size_of:
                size = _Size(
                    len(self.sizes),
                    a_cpu,
                    a_mem,
                    sorted({s.nz_cpu * _TOP % a_cpu for s in shapes}),
                    sorted({s.nz_mem * _TOP % a_mem for s in shapes}),
                )
                self.sizes.append(size)
                self.size_of[(a_cpu, a_mem)] = size
        for shape in shapes:
            shape.class_ok = {}  # class ids are renumbered when the node set changes
            shape.allowed_version = -1
            shape.params = [
                (
                    shape.nz_cpu * _TOP // size.a_cpu + shape.nz_mem * _TOP // size.a_mem,
                    bisect_left(size.cpu_thresholds, shape.nz_cpu * _TOP % size.a_cpu),
                    bisect_left(size.mem_thresholds, shape.nz_mem * _TOP % size.a_mem),
                )
                for size in self.sizes
            ]
        self.key = [None] * len(fast.node_states)
        self.tight = 0
        self.tight_count = 0
        for i, state in enumerate(fast.node_states):
            self._place(i, state)
        self.epoch = fast.epoch
        self.cursor = fast.log_base + len(fast.log)

    def _place(self, i: int, state: tuple[int, int, int, int, int, int, int, int]) -> None:
        """Move node ``i`` to the buckets its state says (or to the tight nodes)."""
        _, a_cpu, a_mem, free_cpu, free_mem, free_eph, nz_free_cpu, nz_free_mem = state
        max_cpu, max_mem, max_eph, max_nz_cpu, max_nz_mem = self.limits
        old = self.key[i]
        bit = 1 << i
        size = None
        if (
            free_cpu >= max_cpu
            and free_mem >= max_mem
            and free_eph >= max_eph
            and nz_free_cpu >= max_nz_cpu
            and nz_free_mem >= max_nz_mem
        ):
            size = self.size_of.get((a_cpu, a_mem))
        if size is None:
            if old is not None:
                _remove(old, bit)
                self.key[i] = None
            if not self.tight & bit:
                self.tight |= bit
                self.tight_count += 1
            return
        q_cpu, r_cpu = divmod(nz_free_cpu * _TOP, a_cpu)
        q_mem, r_mem = divmod(nz_free_mem * _TOP, a_mem)
        g = q_cpu + q_mem
        rc = bisect_right(size.cpu_thresholds, r_cpu)
        rm = bisect_right(size.mem_thresholds, r_mem)
        if old is None:
            if self.tight & bit:
                self.tight ^= bit
                self.tight_count -= 1
            _add(size, g, rc, rm, bit)
            self.key[i] = (size, g, rc, rm)
            return
        old_size, old_g, old_rc, old_rm = old
        if old_size is not size:
            _remove(old, bit)
            _add(size, g, rc, rm, bit)
        else:
            if g != old_g:  # the common case: a bind lowers g
                by_g = size.by_g
                rest = by_g[old_g] ^ bit
                if rest:
                    by_g[old_g] = rest
                else:
                    del by_g[old_g]
                    del size.g_keys[bisect_left(size.g_keys, old_g)]
                members = by_g.get(g)
                if members is None:
                    by_g[g] = bit
                    insort(size.g_keys, g)
                else:
                    by_g[g] = members | bit
            if rc != old_rc:
                _shift(size.low_cpu, old_rc, rc, bit)
            if rm != old_rm:
                _shift(size.low_mem, old_rm, rm, bit)
        self.key[i] = (size, g, rc, rm)

    # --- a decision -----------------------------------------------------------------------------
    def best(self, shape: _Shape) -> tuple[int, int, int]:
        """``(best score, tie bitset, feasible-node hint)`` for ``shape``; best is -1 when nothing fits.

        The hint is 2 when two or more nodes are feasible, else the number feasible (0 or 1); the
        reference chooses a lone feasible node without scoring it.
        """
        fast = self.fast
        if shape.allowed_version != fast.class_version:
            allowed = 0
            spec = shape.spec
            nodes = fast.state.node_list
            for cls in fast.classes:
                if cls.bits:
                    ok = shape.class_ok.get(cls.id)
                    if ok is None:
                        name = nodes[cls.bits.bit_length() - 1].name
                        ok = shape.class_ok[cls.id] = p.static_filter(
                            spec, name, cls.labels, cls.taints, cls.unschedulable, cls.ready
                        )
                    if ok:
                        allowed |= cls.bits
            shape.allowed = allowed
            shape.allowed_version = fast.class_version
            shape.everywhere = allowed == (1 << len(nodes)) - 1
        allowed = shape.allowed
        everywhere = shape.everywhere  # no class is filtered out: skip the ANDs with allowed
        best = -1
        ties = 0
        for size in self.sizes:
            d, k_cpu, k_mem = shape.params[size.id]
            g_keys = size.g_keys
            if not g_keys or (g_keys[-1] - d) >> 1 < best:
                continue
            low_cpu = size.low_cpu[k_cpu]  # nodes with r_cpu < R_cpu of the shape
            low_mem = size.low_mem[k_mem]
            either = low_cpu | low_mem  # for even g - d: one low remainder costs a point
            both = low_cpu & low_mem  # for odd g - d: only two do
            by_g = size.by_g
            for k in range(len(g_keys) - 1, -1, -1):
                g = g_keys[k] - d
                score = g >> 1
                if score < best:
                    break
                members = by_g[g_keys[k]] if everywhere else by_g[g_keys[k]] & allowed
                if not members:
                    continue
                lower = members & (both if g & 1 else either)
                if lower != members:
                    if score > best:
                        best = score
                        ties = members ^ lower
                    else:
                        ties |= members ^ lower
                if lower and score - 1 >= best:
                    if score - 1 > best:
                        best = score - 1
                        ties = lower
                    else:
                        ties |= lower
        if self.tight:
            best, ties = self._score_tight(shape, best, ties)
        if ties & (ties - 1):
            return best * self.w_fit, ties, 2
        if not ties:
            return -1, 0, 0
        # one node has the best score: are others feasible at all?
        others = (allowed & ~self.tight & ~ties) != 0 or self._tight_feasible(shape, ties)
        return best * self.w_fit, ties, 2 if others else 1

    def _score_tight(self, shape: _Shape, best: int, ties: int) -> tuple[int, int]:
        for i, score in self._tight_scores(shape):
            if score > best:
                best = score
                ties = 1 << i
            elif score == best:
                ties |= 1 << i
        return best, ties

    def _tight_feasible(self, shape: _Shape, ties: int) -> bool:
        return any(not ties >> i & 1 for i, _ in self._tight_scores(shape))

    def _tight_scores(self, shape: _Shape) -> list[tuple[int, int]]:
        """``[(node index, unweighted score)]`` of the feasible tight nodes, exactly as the full scan scores them."""
        out = []
        states = self.fast.node_states
        bits = self.tight & shape.allowed
        cpu, mem, eph, nz_cpu, nz_mem = shape.cpu, shape.mem, shape.eph, shape.nz_cpu, shape.nz_mem
        while bits:
            low = bits & -bits
            i = low.bit_length() - 1
            bits ^= low
            _, a_cpu, a_mem, free_cpu, free_mem, free_eph, nz_free_cpu, nz_free_mem = states[i]
            if cpu <= free_cpu and mem <= free_mem and eph <= free_eph:
                if a_cpu and a_mem:
                    cpu_score = 0 if nz_cpu > nz_free_cpu else (nz_free_cpu - nz_cpu) * _TOP // a_cpu
                    mem_score = 0 if nz_mem > nz_free_mem else (nz_free_mem - nz_mem) * _TOP // a_mem
                    out.append((i, (cpu_score + mem_score) // 2))
                else:  # a resource with no allocatable drops out of the average
                    fit = p.ScoringStrategy()
                    out.append((i, fit.score(a_cpu - nz_free_cpu + nz_cpu, a_cpu, a_mem - nz_free_mem + nz_mem, a_mem)))
        return out


def _shift(low: list[int], old: int, new: int, bit: int) -> None:
    """Move a node from remainder interval ``old`` to ``new`` in the OR-prefixes ``low``."""
    if new < old:
        for j in range(new, old):
            low[j] |= bit
    else:
        for j in range(old, new):
            low[j] ^= bit


def _add(size: _Size, g: int, rc: int, rm: int, bit: int) -> None:
    members = size.by_g.get(g)
    if members is None:
        size.by_g[g] = bit
        insort(size.g_keys, g)
    else:
        size.by_g[g] = members | bit
    low = size.low_cpu
    for j in range(rc, len(low)):
        low[j] |= bit
    low = size.low_mem
    for j in range(rm, len(low)):
        low[j] |= bit


def _remove(key: tuple[_Size, int, int, int], bit: int) -> None:
    size, g, rc, rm = key
    rest = size.by_g[g] ^ bit
    if rest:
        size.by_g[g] = rest
    else:
        del size.by_g[g]
        del size.g_keys[bisect_left(size.g_keys, g)]
    low = size.low_cpu
    for j in range(rc, len(low)):
        low[j] ^= bit
    low = size.low_mem
    for j in range(rm, len(low)):
        low[j] ^= bit
