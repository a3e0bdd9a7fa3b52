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

**Two engines.** :class:`LeastAllocatedIndex` below is the pure-Python engine and the *reference*:
Python ints as bitsets, every step readable. :class:`CompiledLeastAllocatedIndex` keeps the same
shapes, sizes and thresholds (computed here, by the same code) but hands the two hot parts to the C
extension ``_leastalloc`` (``_leastalloc.c``): placing a changed node (its replay of the change log)
and the decision (best score, tie set in node-index order, feasible-node hint, the tie draw), on
uint64-word bitsets. It exists for speed: 150,000 pods onto 5,000 nodes on the 2-core benchmark
machine (``benchmarks/bench_scheduling.py --compare-engines``, same run, 2026-11-22) make 25,202
decisions/s with the Python engine (~1,100 bytecodes and ~20 big-int operations on 5,000-bit ints
per decision) and 162,649/s with the compiled core (6.45x; the issue asks for 150,000/s, 6.7 us a
decision), every placement identical. The compiled engine must decide bit for bit as the Python one: same best score,
same ties, same count, and the same draw ``rng.randrange(count)`` exactly when the Python engine
draws (C replays ``randrange`` for a :class:`random.Random`, see ``compiled.py``; for any other
generator Python draws and asks C for the r-th tied node); ``tests/model/scheduling/test_leastalloc_c.py``
checks it on generated sequences.

:data:`ENGINE` says which one a new fast path uses: ``"c"`` when the extension is built and
importable, else ``"python"``; ``PODQUAKE_PURE_PYTHON=1`` in the environment forces ``"python"``.
A compiled index that meets integers its 64-bit arithmetic cannot hold (beyond 2**54 where it
multiplies by 100) hands over to a Python engine for good (:meth:`CompiledLeastAllocatedIndex.decide`).
"""

from __future__ import annotations

import random
from bisect import bisect_left, bisect_right, insort
from types import ModuleType
from typing import TYPE_CHECKING

from podquake.model import constants as k8s
from podquake.model.objects import PodSpec
from podquake.model.scheduling import compiled
from podquake.model.scheduling import plugins as p
from podquake.model.scheduling.shapeindex import nth_set_bit
from podquake.model.scheduling.shapeindex import signature as shape_signature

if TYPE_CHECKING:
    from podquake.model.scheduling.fastpath import FastPath

__all__ = [
    "ENGINE",
    "TIGHT_MAX",
    "CompiledLeastAllocatedIndex",
    "LeastAllocatedIndex",
    "compiled_core",
    "engine_class",
]

TIGHT_MAX = 24  # more tight nodes than this: the per-shape indexes answer (scoring them one by one costs more)
_TOP = k8s.MAX_NODE_SCORE


_core_module = compiled.load("_leastalloc")
_Stale: type[Exception] = _core_module.Stale if _core_module is not None else RuntimeError
#: what ``Core.decide`` raises that :meth:`CompiledLeastAllocatedIndex.decide` handles (a caller
#: inlining the call catches these and calls ``decide``)
ENGINE_ERRORS = (_Stale, OverflowError)
#: the engine new fast paths use: "c" (the compiled core) or "python" (the reference)
ENGINE = compiled.engine(_core_module)


def compiled_core() -> ModuleType | None:
    """The extension module ``_leastalloc`` when it is built (even if ``PODQUAKE_PURE_PYTHON`` is set), else None."""
    return _core_module


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
        "sid",
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
        self.sid = -1  # position in the index's shape list as of its last rebuild


class _IndexBase:
    """What both engines share: the shape registry, the layout a rebuild derives, the allowed nodes."""

    def __init__(self, fast: FastPath, w_fit: int) -> None:
        self.fast = fast
        self.w_fit = w_fit
        self.shapes: dict[tuple[object, ...], _Shape] = {}
        self.by_spec: dict[int, tuple[PodSpec, _Shape]] = {}
        self.limits = (0, 0, 0, 0, 0)  # the largest cpu, memory, ephemeral, non-zero cpu, non-zero memory request
        self.epoch = -1

    # --- shapes ---------------------------------------------------------------------------------
    def shape(self, spec: PodSpec) -> _Shape:
        """The shape of ``spec``, registering it (and rebuilding if it changes thresholds or limits)."""
        hit = self.by_spec.get(id(spec))
        if hit is not None and hit[0] is spec:
            return hit[1]
        signature = shape_signature(spec)
        shape = self.shapes.get(signature)
        if shape is None:
            if len(self.shapes) >= 256:
                self.shapes = {}
                self.by_spec = {}
            shape = self.shapes[signature] = _Shape(spec)
            self.epoch = -1  # thresholds and limits may change: rebuild before the next decision
        self.by_spec[id(spec)] = (spec, shape)
        return shape

    def _layout(self) -> list[tuple[int, int, list[int], list[int]]]:
        """On a rebuild: the limits, each shape's id and per-size parameters; returns the sizes.

        Sizes are ``(a_cpu, a_mem, cpu thresholds, memory thresholds)`` in the order their first
        node appears (the size id is the position).
        """
        shapes = list(self.shapes.values())
        self.limits = (
            max((s.cpu for s in shapes), default=0),
            max((s.mem for s in shapes), default=0),
            max((s.eph for s in shapes), default=0),
            max((s.nz_cpu for s in shapes), default=0),
            max((s.nz_mem for s in shapes), default=0),
        )
        sizes: list[tuple[int, int, list[int], list[int]]] = []
        seen = set()
        for state in self.fast.node_states:
            a_cpu, a_mem = state[1], state[2]
            if a_cpu > 0 and a_mem > 0 and (a_cpu, a_mem) not in seen:
                seen.add((a_cpu, a_mem))
                sizes.append(
                    (
                        a_cpu,
                        a_mem,
                        sorted({s.nz_cpu * _TOP % a_cpu for s in shapes}),
                        sorted({s.nz_mem * _TOP % a_mem for s in shapes}),
                    )
                )
        for sid, shape in enumerate(shapes):
            shape.sid = sid
            shape.class_ok = {}  # class ids are renumbered when the node set changes
            shape.allowed_version = -1
            shape.params = [
                (
                    shape.nz_cpu * _TOP // a_cpu + shape.nz_mem * _TOP // a_mem,
                    bisect_left(cpu_thresholds, shape.nz_cpu * _TOP % a_cpu),
                    bisect_left(mem_thresholds, shape.nz_mem * _TOP % a_mem),
                )
                for a_cpu, a_mem, cpu_thresholds, mem_thresholds in sizes
            ]
        return sizes

    def _allow(self, shape: _Shape) -> None:
        """The nodes of the classes passing ``shape``'s static filters (after a class change)."""
        fast = self.fast
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


class LeastAllocatedIndex(_IndexBase):
    """One index answering every pod shape's LeastAllocated decision: the pure-Python engine, the reference.

    See the module docstring. :class:`CompiledLeastAllocatedIndex` must decide exactly as this.
    """

    engine = "python"
    core = None  # no compiled core

    def __init__(self, fast: FastPath, w_fit: int) -> None:
        super().__init__(fast, w_fit)
        self.sizes: list[_Size] = []
        self.size_of: dict[tuple[int, int], _Size] = {}
        self.key: list[tuple[_Size, int, int, int] | None] = []  # per node: (size, g, cpu interval, mem interval)
        self.tight = 0  # nodes scored one by one
        self.tight_count = 0
        self.cursor = -1
        self.decisions = 0  # decisions made (not those declined for too many tight nodes)
        self.last_best: int | None = None  # the last decision's weighted best score and tie count (for tests)
        self.last_ties: int | None = None

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
        self.sizes = []
        self.size_of = {}
        for sid, (a_cpu, a_mem, cpu_thresholds, mem_thresholds) in enumerate(self._layout()):
            size = _Size(sid, a_cpu, a_mem, cpu_thresholds, mem_thresholds)
            self.sizes.append(size)
            self.size_of[(a_cpu, a_mem)] = size
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
    def decide(self, shape: _Shape, rng: random.Random, tight_max: int) -> int | None:
        """Catch up, then the chosen node's index for a pod of ``shape``, or -1 when no node fits.

        None (deciding nothing, drawing nothing) when more than ``tight_max`` nodes are tight: the
        caller's per-shape indexes answer then. ``rng.randrange(count)`` is drawn once when ``count``
        nodes, two or more, tie for the best score; ``last_best``/``last_ties`` say what was decided
        (None, None when the lone feasible node was chosen without scoring, or none fits).
        """
        self.catch_up()
        if self.tight_count > tight_max:
            return None
        self.decisions += 1
        best, ties, feasible = self.best(shape)
        if feasible <= 1:
            self.last_best = self.last_ties = None
            return ties.bit_length() - 1
        count = ties.bit_count()
        self.last_best = best
        self.last_ties = count
        return nth_set_bit(ties, rng.randrange(count) if count > 1 else 0)

    def best(self, shape: _Shape) -> tuple[int, int, int]:
        """``(best score, tie bitset, feasible-node hint)`` for ``shape``; best is -1 when nothing fits.

        The hint is 2 when two or more nodes are feasible, else the number feasible (0 or 1); the
        reference chooses a lone feasible node without scoring it. The score is weighted.
        """
        if shape.allowed_version != self.fast.class_version:
            self._allow(shape)
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


class CompiledLeastAllocatedIndex(_IndexBase):
    """The same index with its hot part in C (``_leastalloc.Core``): what the fast path uses when it is built.

    Shapes, sizes, thresholds, per-size parameters and allowed nodes are computed here by the code
    the Python engine uses; the core holds the bitsets, places changed nodes and decides. It must
    decide exactly as :class:`LeastAllocatedIndex` (the module docstring says why it exists).
    """

    engine = "c"

    def __init__(self, fast: FastPath, w_fit: int) -> None:
        module = _core_module
        if module is None:
            raise RuntimeError("the compiled LeastAllocated core (_leastalloc) is not built")
        super().__init__(fast, w_fit)
        self.core = module.Core()

    @property
    def cursor(self) -> int:
        return self.core.cursor  # type: ignore[no-any-return]

    @cursor.setter
    def cursor(self, value: int) -> None:
        self.core.cursor = value

    @property
    def tight_count(self) -> int:
        return self.core.tight_count  # type: ignore[no-any-return]

    @property
    def decisions(self) -> int:
        """Decisions made (the core counts them)."""
        return self.core.decisions  # type: ignore[no-any-return]

    @property
    def tight(self) -> int:
        """The tight nodes as a bitset (for tests and debugging)."""
        return int.from_bytes(self.core.tight(), "little")

    @property
    def last_best(self) -> int | None:
        core = self.core
        return core.last_best * self.w_fit if core.last_hint == 2 else None

    @property
    def last_ties(self) -> int | None:
        core = self.core
        return core.last_count if core.last_hint == 2 else None

    def shape(self, spec: PodSpec) -> _Shape:
        shape = super().shape(spec)
        if self.epoch == -1:  # a new shape: new thresholds, maybe new limits
            self.core.invalidate()
        return shape

    # --- following the cluster ------------------------------------------------------------------
    def catch_up(self) -> None:
        """Rebuild after a node set change, a new shape or a forgotten log; else replay the change log."""
        fast = self.fast
        if self.core.epoch != fast.epoch or self.core.cursor < fast.log_base:
            self._rebuild()
        else:
            self.core.sync(fast.log, fast.log_base, fast.node_states)

    def _rebuild(self) -> None:
        fast = self.fast
        sizes = self._layout()
        shapes = [(s.cpu, s.mem, s.eph, s.nz_cpu, s.nz_mem, s.params) for s in self.shapes.values()]
        core = self.core
        self.epoch = -1  # until the core is complete
        core.reset(len(fast.node_states), self.limits, sizes, shapes, fast.epoch)
        try:
            core.place_all(fast.node_states)
        except BaseException:
            core.invalidate()
            raise
        core.cursor = fast.log_base + len(fast.log)
        self.epoch = fast.epoch

    def _allow(self, shape: _Shape) -> None:
        super()._allow(shape)
        core = self.core
        allowed = shape.allowed.to_bytes(core.n_bytes, "little")
        core.set_allowed(shape.sid, allowed, shape.allowed_version)

    def _refresh(self, shape: _Shape) -> None:
        """What ``Core.decide`` raised Stale for: a rebuild, or the shape's allowed nodes."""
        fast = self.fast
        core = self.core
        if core.epoch != fast.epoch or core.cursor < fast.log_base or shape.sid < 0:
            self._rebuild()
        if shape.allowed_version != fast.class_version:
            self._allow(shape)

    # --- a decision -----------------------------------------------------------------------------
    def decide(self, shape: _Shape, rng: random.Random, tight_max: int) -> int | None:
        """As :meth:`LeastAllocatedIndex.decide`; the hot path: one call into C, two when nodes tie.

        ``Core.decide`` checks itself whether the core is stale (node set, shapes, forgotten log,
        classes), so the common case costs no check here.
        """
        fast = self.fast
        core = self.core
        try:
            try:
                i = core.decide(
                    shape.sid, fast.log, fast.log_base, fast.node_states, tight_max, fast.epoch, fast.class_version,
                    True, rng,
                )
            except _Stale:  # a new shape, node set or class change, or a forgotten log
                self._refresh(shape)
                i = core.decide(
                    shape.sid, fast.log, fast.log_base, fast.node_states, tight_max, fast.epoch, fast.class_version,
                    True, rng,
                )
        except OverflowError:  # integers beyond the core's 64-bit arithmetic: the Python engine from now on
            return self._hand_over(shape, rng, tight_max)
        if i is None or i >= -1:
            return i  # type: ignore[no-any-return]
        return core.pick(rng.randrange(-i))  # type: ignore[no-any-return]  # (not a random.Random: Python draws)

    def best(self, shape: _Shape) -> tuple[int, int, int]:
        """As :meth:`LeastAllocatedIndex.best` (caught up first; for tests and debugging, not the hot path)."""
        fast = self.fast
        self._refresh(shape)
        core = self.core
        args = (shape.sid, fast.log, fast.log_base, fast.node_states, 1 << 62, fast.epoch, fast.class_version, False)
        if core.decide(*args) == -1:
            return -1, 0, 0
        return core.last_best * self.w_fit, int.from_bytes(core.ties(), "little"), core.last_hint

    def _hand_over(self, shape: _Shape, rng: random.Random, tight_max: int) -> int | None:
        fast = self.fast
        engine = LeastAllocatedIndex(fast, self.w_fit)
        engine.decisions = self.decisions
        if fast.engine is self:
            fast.engine = engine
        return engine.decide(engine.shape(shape.spec), rng, tight_max)


def engine_class(name: str | None = None) -> type[LeastAllocatedIndex | CompiledLeastAllocatedIndex]:
    """The index class of engine ``name`` ("c" or "python"; None: :data:`ENGINE`)."""
    name = ENGINE if name is None else name
    if name == "python":
        return LeastAllocatedIndex
    if name == "c":
        if _core_module is None:
            raise RuntimeError("the compiled LeastAllocated core (_leastalloc) is not built")
        return CompiledLeastAllocatedIndex
    raise ValueError(f"unknown engine {name!r}: use 'c' or 'python'")


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
