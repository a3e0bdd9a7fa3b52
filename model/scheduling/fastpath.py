"""The framework scheduler's fast path: the same decisions as the full scan, without scanning nodes.

A Python loop over 5,000 nodes per pod runs at a few dozen pods a second. The fast path gets the
same answer from incremental indexes, the way kube-scheduler's cache follows informers:

- **Node classes.** Nodes whose static attributes are equal (labels except the hostname, taints,
  cordon, Ready) pass the same static filters and get the same TaintToleration and NodeAffinity raw
  scores, so those are evaluated once per class. Each class keeps a bitset of its nodes (a Python
  int, bit i = node index i), so "the feasible nodes of zone b" is one ``&``.
- **Score indexes** (``shapeindex.py``). For each pod signature (requests, non-zero requests,
  tolerations, node selector and affinity: what the pods of one ReplicaSet share) an index holds
  every node's *local* score (the weighted NodeResourcesFit and BalancedAllocation scores, which
  depend only on the node and the pod), or None when the node fails a filter, and buckets the nodes
  by it. A bind, a delete or a node change appends the node to a change log and records the node's
  ``NodeState`` (what the scores read of it, computed once per change); an index replays the log
  when a pod of its signature is next scheduled. The cost of a decision is therefore one node
  update per bind since the signature's last decision: about the number of pod shapes in use.
  The index runs in C (``_shapeindex.c``) when the extension is built, with the pure-Python
  :class:`~podquake.model.scheduling.shapeindex.ScoreIndex` as the reference and the fallback.
- **One index for the LeastAllocated-only profile** (``leastalloc.py``): there the score splits into
  a node part and a pod part, so one shape-independent index answers every shape, and a bind costs
  one node update whatever the number of shapes. Its hot part runs in C (``_leastalloc.c``) when the
  extension is built, with the pure-Python engine as the reference and fallback; :meth:`FastPath.schedule`
  calls the core directly: one call per decision (a second when nodes tie), which also replays the
  change log and checks whether the core must be rebuilt.
- **Normalized scores as offsets.** TaintToleration and NodeAffinity normalize over the feasible
  nodes but are constant within a class (kept per index until the feasible nodes or the classes
  change); PodTopologySpread depends on the class (its domains) and on the node's count of matching
  pods (``spreading.py``, whose group arithmetic is compiled too: ``_spreadgroups.c``). The
  feasible nodes split into a few groups, each with one offset; the best total is found by walking
  the score buckets from the top and stopping once no offset can reach the best. Without normalized
  plugins the best bucket is the tie set, with its size known.
- **Ties** are the OR of the winning bucket-and-group bitsets, in node-index order, and the pick is
  ``ties[rng.randrange(len(ties))]``, exactly as the full scan (see ``framework.py``).

Pods the fast path does not cover go to the full scan: pods naming nodes (``spec.nodeName``,
hostname in nodeSelector or affinity, ``matchFields``), the cases listed in ``spreading.py``, and
profiles with ``percentage_of_nodes_to_score < 100`` on 100 nodes or more. :meth:`FastPath.explain`
gives every feasible node's total as the fast path sees it; the tests compare it with the full scan.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.objects import Node, Pod, PodSpec
from podquake.model.scheduling import leastalloc, shapeindex
from podquake.model.scheduling import plugins as p
from podquake.model.scheduling.framework import (
    BALANCED_ALLOCATION,
    NODE_AFFINITY,
    NODE_RESOURCES_FIT,
    POD_TOPOLOGY_SPREAD,
    TAINT_TOLERATION,
    Profile,
)
from podquake.model.scheduling.leastalloc import TIGHT_MAX
from podquake.model.scheduling.shapeindex import (
    UNLIMITED,
    Base,
    CompiledScoreIndex,
    NodeState,
    ScoreIndex,
    nth_set_bit,
)
from podquake.model.scheduling.spreading import NotCovered, Spreading
from podquake.model.selectors import Taint

if TYPE_CHECKING:
    from podquake.model.store import ClusterState

__all__ = ["FastPath", "NodeClass", "nth_set_bit"]

NOT_COVERED: Any = object()
_HOSTNAME = k8s.LABEL_HOSTNAME
_HOST_PLACEHOLDER = "\x00"  # a class's labels keep the hostname key but not its value
_MAX_LOG = 1 << 16
_MAX_INDEXES = 512


class _NoRandom(random.Random):
    """A generator that always draws 0, so :meth:`FastPath.explain` leaves the real one alone."""

    def randrange(self, *_args: Any, **_kwargs: Any) -> int:  # type: ignore[override]
        return 0


class NodeClass:
    """Nodes with equal static attributes; ``bits`` is the set of their indexes."""

    __slots__ = ("id", "labels", "taints", "unschedulable", "ready", "bits")

    def __init__(
        self, cid: int, labels: dict[str, str], taints: tuple[Taint, ...], unschedulable: bool, ready: str
    ) -> None:
        self.id = cid
        self.labels = labels
        self.taints = taints
        self.unschedulable = unschedulable
        self.ready = ready
        self.bits = 0


class FastPath:
    """Incremental indexes over one :class:`ClusterState` for one profile (see the module docstring)."""

    NOT_COVERED = NOT_COVERED

    def __init__(self, profile: Profile, state: ClusterState, engine: str | None = None) -> None:
        """``engine``: "c" or "python", the engine of the LeastAllocated index and of the per-shape indexes.

        None: each its module's default (``leastalloc.ENGINE``, ``shapeindex.ENGINE``). "c" keeps the
        Python per-shape index where its compiled engine cannot serve (``shapeindex.index_class``).
        """
        self.profile = profile
        self.state = state
        self.w_tt = profile.weight(TAINT_TOLERATION)
        self.w_na = profile.weight(NODE_AFFINITY)
        self.w_pts = profile.weight(POD_TOPOLOGY_SPREAD)
        self._last_best: int | None = None  # the last decision's best total and tie count: see last_best
        self._last_ties: int | None = None
        self._engine_mark = 0  # engine.decisions at the last decision the per-shape indexes made
        self.sampled = profile.percentage_of_nodes_to_score < 100  # large clusters go to the full scan
        # no normalized plugin and no spread filter: the best bucket of the local scores is the tie set
        self.plain = not (self.w_tt or self.w_na or self.w_pts or profile.spread_filter)
        fit = profile.fit
        w_fit = profile.weight(NODE_RESOURCES_FIT)
        self.engine: Any = (  # the LeastAllocated-only profile: one index for every shape (leastalloc.py)
            leastalloc.engine_class(engine)(self, w_fit)
            if self.plain
            and w_fit
            and not profile.weight(BALANCED_ALLOCATION)
            and fit.type == p.LEAST_ALLOCATED
            and fit.cpu_weight == fit.memory_weight > 0
            else None
        )
        # the per-shape index class: compiled or Python (it may hand over to Python: _hand_over_shapes)
        self.index_class: type[ScoreIndex] | type[CompiledScoreIndex] = shapeindex.index_class(engine, profile)
        self.epoch = 0
        self.built_epoch = -1
        self.class_version = 0  # changes whenever a node changes class
        self.log: list[int] = []
        self.log_base = 0
        self.classes: list[NodeClass] = []
        self.class_by_key: dict[tuple[Any, ...], NodeClass] = {}
        self.class_of: list[int] = []
        self.node_states: list[NodeState] = []  # per node index, see NodeState
        self.hostnames_ok = True
        self.indexes: dict[tuple[Any, ...], ScoreIndex | CompiledScoreIndex] = {}
        self.index_by_spec: dict[int, tuple[PodSpec, ScoreIndex | CompiledScoreIndex | None]] = {}
        self.spreads = bool(self.w_pts or profile.spread_filter)
        self.spreading = Spreading(self)
        state.watch(ev.PodBound, self._on_bound)
        if self.spreads:  # only PodTopologySpread counts pods, and stops counting those being deleted
            state.watch(ev.PodDeletionRequested, self._on_deletion_requested)
        state.watch(ev.PodDeleted, self._on_deleted)
        state.watch(ev.NodeAdded, self._on_nodes_changed)
        state.watch(ev.NodeRemoved, self._on_nodes_changed)
        for event_type in (ev.NodeTainted, ev.NodeUntainted, ev.NodeCordoned, ev.NodeReadyChanged):
            state.watch(event_type, self._on_node_static)

    @property
    def engine_decisions(self) -> int:
        """Decisions the LeastAllocated index answered (it counts them: nothing to do on the hot path)."""
        return self.engine.decisions if self.engine is not None else 0  # type: ignore[no-any-return]

    def _engine_last(self) -> bool:
        """Whether the LeastAllocated index made the last decision (it has counted one since the indexes did)."""
        return self.engine is not None and self.engine.decisions != self._engine_mark

    @property
    def last_best(self) -> int | None:
        """The last decision's best total (None: no scoring, the lone feasible node or none; for tests)."""
        return self.engine.last_best if self._engine_last() else self._last_best  # type: ignore[no-any-return]

    @property
    def last_ties(self) -> int | None:
        """How many nodes tied for :attr:`last_best` (None as it)."""
        return self.engine.last_ties if self._engine_last() else self._last_ties  # type: ignore[no-any-return]

    # --- watch events --------------------------------------------------------------------------
    def _on_bound(self, event: ev.PodBound) -> None:
        state = self.state
        node = state.nodes[event.node]
        i = node.index
        log = self.log
        log.append(i)
        if len(log) > _MAX_LOG:
            self._forget()
        if self.built_epoch == self.epoch:
            self.node_states[i] = self.node_state(node)
        if self.spreads:
            pod = state.pods_by_key.get(event.pod)
            if pod is not None and pod.node_name == event.node:
                self.spreading.bound(pod, i)

    def _on_deletion_requested(self, event: ev.PodDeletionRequested) -> None:
        pod = self.state.pods_by_key.get(event.pod)
        node = self.state.nodes.get(pod.node_name) if pod is not None and pod.node_name else None
        self.spreading.gone(event.pod, node.index if node is not None else None)

    def _on_deleted(self, event: ev.PodDeleted) -> None:
        node = self.state.nodes.get(event.node) if event.node else None
        if node is not None:
            self.log.append(node.index)
            if len(self.log) > _MAX_LOG:
                self._forget()
            if self.built_epoch == self.epoch:
                self.node_states[node.index] = self.node_state(node)
        if self.spreads:
            self.spreading.gone(event.pod, node.index if node is not None else None)

    def _on_nodes_changed(self, _event: ev.Event) -> None:
        self.epoch += 1

    def _on_node_static(self, event: Any) -> None:
        if self.built_epoch != self.epoch:
            return
        node = self.state.nodes[event.node]
        old = self.classes[self.class_of[node.index]]
        new = self._class_for(node)
        if new is not old:
            bit = 1 << node.index
            old.bits ^= bit
            new.bits |= bit
            self.class_of[node.index] = new.id
            self.class_version += 1
            self.node_states[node.index] = self.node_state(node)
        self.log.append(node.index)
        if len(self.log) > _MAX_LOG:
            self._forget()

    def _forget(self) -> None:
        """Drop the change log (it grew past ``_MAX_LOG``): an index that had not replayed all of it refills."""
        self.log_base += len(self.log)
        self.log = []

    # --- building --------------------------------------------------------------------------------
    def node_state(self, node: Node) -> NodeState:
        """What the refreshers read of ``node`` (:data:`NodeState`), computed once per change of the node."""
        alloc = node.allocatable
        a_cpu = alloc.cpu_millis
        a_mem = alloc.memory_bytes
        a_eph = alloc.ephemeral_storage_bytes
        return (
            self.class_of[node.index],
            a_cpu,
            a_mem,
            a_cpu - node.requested_cpu if len(node.pods) < alloc.pods else -1,
            a_mem - node.requested_memory,
            max(a_eph - node.requested_ephemeral, 0) if a_eph else UNLIMITED,
            a_cpu - node.nonzero_cpu,
            a_mem - node.nonzero_memory,
        )

    def _class_for(self, node: Node) -> NodeClass:
        labels = node.labels
        if _HOSTNAME in labels:
            labels = dict(labels)
            labels[_HOSTNAME] = _HOST_PLACEHOLDER
        key = (tuple(sorted(labels.items())), node.taints, node.unschedulable, node.ready)
        cls = self.class_by_key.get(key)
        if cls is None:
            cls = NodeClass(len(self.classes), labels, node.taints, node.unschedulable, node.ready)
            self.classes.append(cls)
            self.class_by_key[key] = cls
        return cls

    def _rebuild(self) -> None:
        """Classes from scratch (after a node was added or removed: node indexes may have moved)."""
        self.classes = []
        self.class_by_key = {}
        self.class_of = []
        hostnames = set()
        for node in self.state.node_list:
            cls = self._class_for(node)
            cls.bits |= 1 << node.index
            self.class_of.append(cls.id)
            hostnames.add(node.labels.get(_HOSTNAME))
        self.node_states = [self.node_state(node) for node in self.state.node_list]
        self.hostnames_ok = None not in hostnames and len(hostnames) == len(self.state.node_list)
        self.indexes = {}
        self.index_by_spec = {}
        self.spreading.reset()  # trackers hold node indexes, plans class ids
        self.class_version += 1
        self.built_epoch = self.epoch

    def _index(self, spec: PodSpec) -> ScoreIndex | CompiledScoreIndex | None:
        """The score index for ``spec``'s signature, caught up with the change log; None if not covered."""
        hit = self.index_by_spec.get(id(spec))
        if hit is not None and hit[0] is spec:
            index = hit[1]
            if index is None:
                return None
        elif not _covered(spec):
            self.index_by_spec[id(spec)] = (spec, None)
            return None
        else:
            signature = shapeindex.signature(spec)
            found = self.indexes.get(signature)
            if found is None:
                if len(self.indexes) >= _MAX_INDEXES:
                    self.indexes = {}
                    self.index_by_spec = {}
                found = self.indexes[signature] = self.index_class(spec)
            index = found
            self.index_by_spec[id(spec)] = (spec, index)
        try:
            if index.epoch != self.epoch or index.cursor < self.log_base:
                self._fill(index)
            else:
                i = index.sync(self.log, self.log_base, self.node_states)
                while i is not None:  # the compiled index met a node class it has not filtered yet
                    index.learn_class(self, i)
                    i = index.sync(self.log, self.log_base, self.node_states)
        except OverflowError:  # integers beyond the compiled index's arithmetic: Python indexes from now on
            if not self._hand_over_shapes():
                raise
            return self._index(spec)
        return index

    def _fill(self, index: ScoreIndex | CompiledScoreIndex) -> None:
        index.fill(self)

    def _hand_over_shapes(self) -> bool:
        """Use Python per-shape indexes for good (a compiled one met integers beyond its arithmetic).

        False when they already are. Every index refills on its next use, from the current states.
        """
        if self.index_class is ScoreIndex:
            return False
        self.index_class = ScoreIndex
        self.indexes = {}
        self.index_by_spec = {}
        return True

    # --- a decision -----------------------------------------------------------------------------
    def schedule(self, pod: Pod, rng: random.Random) -> Any:
        """The chosen node's name, None (unschedulable), or ``NOT_COVERED`` (use the full scan)."""
        nodes = self.state.node_list
        if self.sampled and len(nodes) >= k8s.MIN_FEASIBLE_NODES_TO_FIND:
            return NOT_COVERED
        spec = pod.spec
        engine = self.engine
        if engine is not None:  # the hot path of the LeastAllocated-only profile: keep it short
            hit = engine.by_spec.get(id(spec))
            if hit is not None and hit[0] is spec:
                shape = hit[1]
            elif _covered(spec):
                shape = engine.shape(spec)
            else:
                return NOT_COVERED
            core = engine.core
            if core is None:  # the pure-Python engine
                if self.built_epoch != self.epoch:
                    self._rebuild()
                i = engine.decide(shape, rng, TIGHT_MAX)
            else:  # the compiled engine: CompiledLeastAllocatedIndex.decide, inlined
                try:  # (the core checks the epoch: a node set change since _rebuild raises Stale)
                    i = core.decide(
                        shape.sid, self.log, self.log_base, self.node_states, TIGHT_MAX, self.epoch, self.class_version,
                        True, rng,
                    )
                except leastalloc.ENGINE_ERRORS:  # stale or too large for C: rebuild, and the engine sorts it out
                    if self.built_epoch != self.epoch:
                        self._rebuild()
                    i = engine.decide(shape, rng, TIGHT_MAX)
                else:
                    if i is not None and i < -1:  # -i nodes tie and rng is no random.Random: Python draws
                        i = core.pick(rng.randrange(-i))
            if i is not None:  # else more than TIGHT_MAX tight nodes: the per-shape indexes answer
                return nodes[i].name if i >= 0 else None
        if self.built_epoch != self.epoch:
            self._rebuild()
        index = self._index(spec)
        if index is None:
            return NOT_COVERED
        if engine is not None:
            self._engine_mark = engine.decisions
        self._last_best = self._last_ties = None
        count = index.count
        if self.plain:  # no normalized plugin, no spread filter: the best bucket is the tie set
            if count <= 1:
                return nodes[index.feasible.bit_length() - 1].name if count else None
            self._last_best, count = index.best()
            self._last_ties = count
            return nodes[index.draw(rng)].name
        feasible = index.feasible
        if self.profile.spread_filter and spec.topology_spread_constraints:
            hard = p.spread_constraints(pod, "DoNotSchedule", None, system_defaulted=False)
            if hard:
                try:
                    failing = self.spreading.filter_mask(pod, hard)
                except NotCovered:
                    return NOT_COVERED
                if feasible & failing:
                    feasible ^= feasible & failing
                    count = feasible.bit_count()
        if count <= 1:
            return nodes[feasible.bit_length() - 1].name if count else None
        try:
            groups = self._groups(pod, index, feasible, count)
        except NotCovered:
            return NOT_COVERED
        try:
            self._last_best, count = index.best_total(groups)
        except OverflowError:  # an offset beyond the compiled index's arithmetic: decide again in Python
            if not self._hand_over_shapes():
                raise
            return self.schedule(pod, rng)  # nothing drawn yet
        self._last_ties = count
        return nodes[index.draw(rng)].name

    def explain(self, pod: Pod) -> dict[str, int] | None:
        """Every feasible node's total score for ``pod`` as the fast path sees it (for tests and debugging).

        None when the pod is not covered. Reads the same indexes as :meth:`schedule` but picks nothing.
        """
        spec = pod.spec
        if self.schedule(pod, _NoRandom(0)) is NOT_COVERED:
            return None
        index = self._index(spec)
        assert index is not None
        feasible = index.feasible
        if self.profile.spread_filter and spec.topology_spread_constraints:
            hard = p.spread_constraints(pod, "DoNotSchedule", None, system_defaulted=False)
            if hard:
                feasible &= ~self.spreading.filter_mask(pod, hard)
        nodes = self.state.node_list
        totals = {}
        for offset, mask in (
            self._groups(pod, index, feasible, feasible.bit_count()) if feasible & (feasible - 1) else [(0, feasible)]
        ):
            for i in range(mask.bit_length()):
                if mask >> i & 1:
                    totals[nodes[i].name] = index.score_of(i) + offset  # type: ignore[operator]
        return totals

    def _base(self, index: ScoreIndex, feasible: int) -> Base:
        """The feasible nodes per class and each class's TaintToleration + NodeAffinity offset."""
        base = index.base
        if base is not None and base[0] is feasible and base[1] == self.class_version:
            return base
        spec = index.spec
        present = []
        for cls in self.classes:
            mask = feasible & cls.bits
            if mask:
                present.append((cls, mask))
        offsets = {cls.id: 0 for cls, _ in present}
        top_score = k8s.MAX_NODE_SCORE
        if self.w_tt:
            raw = index.tt_raw
            for cls, _ in present:
                if cls.id not in raw:
                    raw[cls.id] = p.untolerated_prefer_no_schedule(spec.tolerations, cls.taints)
            top = max(raw[cls.id] for cls, _ in present)
            for cls, _ in present:
                offsets[cls.id] += self.w_tt * (top_score if top == 0 else top_score - top_score * raw[cls.id] // top)
        affinity = spec.node_affinity
        if self.w_na and affinity is not None and affinity.preferred:
            raw = index.na_raw
            for cls, _ in present:
                if cls.id not in raw:
                    raw[cls.id] = affinity.preferred_score("", cls.labels)
            top = max(raw[cls.id] for cls, _ in present)
            if top:
                for cls, _ in present:
                    offsets[cls.id] += self.w_na * (top_score * raw[cls.id] // top)
        base = (
            feasible,
            self.class_version,
            present,
            offsets,
            _merge((offsets[cls.id], mask) for cls, mask in present),
        )
        if feasible is index.feasible:  # not narrowed by a spread filter: worth keeping
            index.base = base
        return base

    def _groups(self, pod: Pod, index: ScoreIndex, feasible: int, count: int) -> list[tuple[int, int]]:
        """``[(offset, mask)]`` by offset descending: the normalized plugins' weighted score per node group."""
        plan = self.spreading.plan(pod) if self.w_pts else None
        _, _, present, offsets, merged = self._base(index, feasible)
        if plan is None:
            return merged
        return self.spreading.score_groups(pod, plan, present, count, offsets, self.w_pts)


def _covered(spec: PodSpec) -> bool:
    """Whether the fast path decides pods of ``spec``: not those naming nodes (by name or hostname)."""
    if spec.node_name is not None or (spec.node_affinity is not None and spec.node_affinity.uses_node_identity()):
        return False
    return all(key != _HOSTNAME for key, _ in spec.node_selector)


def _merge(groups: Any) -> list[tuple[int, int]]:
    """Group masks with equal offsets, highest offset first."""
    merged: dict[int, int] = {}
    for offset, mask in groups:
        merged[offset] = merged.get(offset, 0) | mask
    return sorted(merged.items(), reverse=True)
