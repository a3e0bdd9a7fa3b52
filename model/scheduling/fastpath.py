"""The framework scheduler's fast path: the same decisions as the full scan, without scanning nodes.

A Python loop over 5,000 nodes per pod runs at a few hundred pods a second. The fast path gets the
same answer from incremental indexes, the way kube-scheduler's cache follows informers:

- **Node classes.** Nodes whose static attributes are equal (labels except the hostname, taints,
  cordon, Ready) pass the same static filters and get the same TaintToleration and NodeAffinity raw
  scores, so those are evaluated once per class. Each class keeps a bitset of its nodes (a Python
  int, bit i = node index i), so "the feasible nodes of zone b" is one ``&``.
- **Score indexes.** For each pod signature (requests, non-zero requests, tolerations, node selector
  and affinity: what pods of one ReplicaSet share) an index holds every node's *local* score (the
  weighted NodeResourcesFit + BalancedAllocation scores, which depend only on the node and the pod),
  or None when the node fails a filter, and buckets nodes by that score: ``{score: bitset}``. A bind,
  a delete or a node change appends the node's index to a change log; an index replays the log
  lazily when a pod of its signature is next scheduled, so consecutive pods of one workload cost one
  node update each.
- **Normalized scores as offsets.** TaintToleration and NodeAffinity normalize over the feasible
  nodes but are constant within a class; PodTopologySpread depends on the class (its domains) and on
  the node's count of matching pods. Selector trackers keep, per (namespace, selector), each node's
  count as level bitsets (nodes with exactly k matching pods) and counts per topology domain. The
  feasible nodes split into a few (class, level) groups, each with one offset; the best total is
  found by walking score buckets from the top and stopping once no offset can reach the best.
- **Ties** are the OR of the winning bucket-and-group bitsets, ordered by node index, and the pick is
  ``ties[rng.randrange(len(ties))]``, exactly as the full scan (see ``framework.py``).

Pods the fast path does not cover go to the full scan: pods naming nodes (``spec.nodeName``,
hostname in nodeSelector or affinity, ``matchFields``), more than one hostname-keyed spreading
constraint, clusters whose nodes lack unique hostname labels (when spreading by hostname), and
profiles with ``percentage_of_nodes_to_score < 100`` on 100 nodes or more.
"""

from __future__ import annotations

import random
from bisect import bisect_left, insort
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.objects import Node, Pod, PodSpec
from podquake.model.scheduling import plugins as p
from podquake.model.scheduling.framework import (
    BALANCED_ALLOCATION,
    NODE_AFFINITY,
    NODE_RESOURCES_FIT,
    POD_TOPOLOGY_SPREAD,
    TAINT_TOLERATION,
    Profile,
    owner_selector,
)
from podquake.model.selectors import LabelSelector, Taint

if TYPE_CHECKING:
    from podquake.model.store import ClusterState

__all__ = ["FastPath", "nth_set_bit"]

NOT_COVERED: Any = object()
_HOSTNAME = k8s.LABEL_HOSTNAME
_HOST_PLACEHOLDER = "\x00"  # a class's labels keep the hostname key but not its value
_MAX_LOG = 1 << 16
_MAX_INDEXES = 512
_MAX_TRACKERS = 8192


_LOW_MASKS = [(1 << (1 << k)) - 1 for k in range(24)]
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
        low = bits & _LOW_MASKS[k]
        count = low.bit_count()
        if r < count:
            bits = low
        else:
            r -= count
            bits >>= 1 << k
            base += 1 << k
    return base + _NTH_IN_BYTE[bits][r]


class _NoRandom(random.Random):
    """A generator that always draws 0, so :meth:`FastPath.explain` leaves the real one alone."""

    def randrange(self, *_args: Any, **_kwargs: Any) -> int:  # type: ignore[override]
        return 0


class _Class:
    """Nodes with equal static attributes; ``bits`` is the set of their indexes."""

    __slots__ = ("id", "labels", "taints", "unschedulable", "ready", "bits")

    def __init__(self, cid: int, labels: dict[str, str], taints: tuple[Taint, ...], unschedulable: bool, ready: str) -> None:
        self.id = cid
        self.labels = labels
        self.taints = taints
        self.unschedulable = unschedulable
        self.ready = ready
        self.bits = 0


class _Tracker:
    """Bound, non-terminating pods of one namespace matching one selector: counts per node and per domain."""

    __slots__ = ("namespace", "selector", "count", "levels", "any", "domains")

    def __init__(self, namespace: str, selector: LabelSelector) -> None:
        self.namespace = namespace
        self.selector = selector
        self.count: dict[int, int] = {}
        self.levels: dict[int, int] = {}  # k -> nodes with exactly k matching pods (k >= 1)
        self.any = 0  # nodes with at least one
        self.domains: dict[str, dict[str, int]] = {}  # topology key -> value -> count (over all nodes)

    def add(self, i: int, delta: int, labels: dict[str, str]) -> None:
        old = self.count.get(i, 0)
        new = old + delta
        bit = 1 << i
        levels = self.levels
        if old:
            rest = levels[old] ^ bit
            if rest:
                levels[old] = rest
            else:
                del levels[old]
        if new:
            levels[new] = levels.get(new, 0) | bit
            self.count[i] = new
            if not old:
                self.any |= bit
        else:
            del self.count[i]
            self.any ^= bit
        for key, counts in self.domains.items():
            value = labels.get(key, "")
            counts[value] = counts.get(value, 0) + delta

    def domain_counts(self, key: str, nodes: list[Node]) -> dict[str, int]:
        counts = self.domains.get(key)
        if counts is None:
            counts = {}
            for i, n in self.count.items():
                value = nodes[i].labels.get(key, "")
                counts[value] = counts.get(value, 0) + n
            self.domains[key] = counts
        return counts


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


def _no_refresh(_dirty: Iterable[int]) -> None:
    raise AssertionError("index used before it was filled")


class _Index:
    """Local scores of every node for one pod signature, bucketed: ``{score: bitset}``."""

    __slots__ = ("spec", "refresh", "score_of", "buckets", "keys", "feasible", "class_ok", "tt_raw", "na_raw", "cursor", "epoch")

    def __init__(self, spec: PodSpec) -> None:
        self.spec = spec
        self.refresh: Callable[[Iterable[int]], None] = _no_refresh
        self.score_of: list[int | None] = []
        self.buckets: dict[int, int] = {}
        self.keys: list[int] = []  # bucket scores, ascending
        self.feasible = 0
        self.class_ok: dict[int, bool] = {}
        self.tt_raw: dict[int, int] = {}
        self.na_raw: dict[int, int] = {}
        self.cursor = -1
        self.epoch = -1


def _make_refresher(index: _Index, profile: Profile, fast: FastPath) -> Callable[[Iterable[int]], None]:
    """``refresh(node indexes)``: recompute those nodes' local scores in ``index`` and move their bits.

    The local score is the NodeResourcesFit filter, then weight x Fit score + weight x
    BalancedAllocation score (None when a filter fails). One closure per index, all in one loop:
    this is the fast path's innermost work, run once per bind per pod signature.
    """
    spec = index.spec
    req = spec.requests
    cpu, memory, ephemeral = req.cpu_millis, req.memory_bytes, req.ephemeral_storage_bytes
    nz_cpu, nz_memory = spec.nonzero_cpu, spec.nonzero_memory
    fit = profile.fit
    w_fit = profile.weight(NODE_RESOURCES_FIT)
    w_bal = profile.weight(BALANCED_ALLOCATION) if (cpu or memory) else 0  # best-effort pods: Skip
    least_plain = fit.type == p.LEAST_ALLOCATED and fit.cpu_weight == 1 and fit.memory_weight == 1
    fit_score = fit.score
    balanced = p.balanced_allocation_score
    static_filter = p.static_filter
    top = k8s.MAX_NODE_SCORE
    class_ok = index.class_ok
    score_of = index.score_of
    buckets = index.buckets
    keys = index.keys

    def refresh(dirty: Iterable[int]) -> None:
        """Recompute the nodes in ``dirty`` (distinct indexes), then move their bits bucket by bucket."""
        nodes = fast.state.node_list
        class_of = fast.class_of
        allocs = fast.allocs
        adds: dict[int, list[int]] = {}
        removes: dict[int, list[int]] = {}
        for i in dirty:
            cid = class_of[i]
            ok = class_ok.get(cid)
            node = nodes[i]
            if ok is None:
                cls = fast.classes[cid]
                ok = class_ok[cid] = static_filter(spec, node.name, cls.labels, cls.taints, cls.unschedulable, cls.ready)
            new: int | None = None
            if ok:
                a_cpu, a_mem, a_pods, a_eph = allocs[i]
                if (
                    len(node.pods) < a_pods
                    and node.requested_cpu + cpu <= a_cpu
                    and node.requested_memory + memory <= a_mem
                    and not (ephemeral and a_eph and node.requested_ephemeral + ephemeral > a_eph)
                ):
                    new = 0
                    if w_fit:
                        c = node.nonzero_cpu + nz_cpu
                        m = node.nonzero_memory + nz_memory
                        if least_plain and a_cpu and a_mem:  # the default strategy, inlined
                            new = w_fit * (((0 if c > a_cpu else (a_cpu - c) * top // a_cpu) + (0 if m > a_mem else (a_mem - m) * top // a_mem)) // 2)
                        else:
                            new = w_fit * fit_score(c, a_cpu, m, a_mem)
                    if w_bal:
                        new += w_bal * balanced(node.requested_cpu + cpu, a_cpu, node.requested_memory + memory, a_mem)
            old = score_of[i]
            if new != old:
                score_of[i] = new
                if old is None:
                    old = -1  # the infeasible "bucket": only index.feasible tracks it
                if new is None:
                    new = -1
                members = removes.get(old)
                if members is None:
                    removes[old] = [i]
                else:
                    members.append(i)
                members = adds.get(new)
                if members is None:
                    adds[new] = [i]
                else:
                    members.append(i)
        if not adds:
            return
        size = len(nodes)
        feasible = index.feasible
        for score, members in removes.items():
            bits = _bits(members, size)
            if score < 0:
                feasible |= bits
                continue
            rest = buckets[score] ^ bits
            if rest:
                buckets[score] = rest
            else:
                del buckets[score]
                del keys[bisect_left(keys, score)]
        for score, members in adds.items():
            bits = _bits(members, size)
            if score < 0:
                feasible ^= bits
                continue
            present = buckets.get(score)
            if present is None:
                buckets[score] = bits
                insort(keys, score)
            else:
                buckets[score] = present | bits
        index.feasible = feasible

    return refresh


class FastPath:
    """Incremental indexes over one :class:`ClusterState` for one profile (see the module docstring)."""

    NOT_COVERED = NOT_COVERED

    def __init__(self, profile: Profile, state: ClusterState) -> None:
        self.profile = profile
        self.state = state
        self.w_tt = profile.weight(TAINT_TOLERATION)
        self.w_na = profile.weight(NODE_AFFINITY)
        self.w_pts = profile.weight(POD_TOPOLOGY_SPREAD)
        self.last_best: int | None = None  # the last decision's best total and tie count (for tests)
        self.last_ties: int | None = None
        self.epoch = 0
        self.built_epoch = -1
        self.log: list[int] = []
        self.log_base = 0
        self.classes: list[_Class] = []
        self.class_by_key: dict[tuple[Any, ...], _Class] = {}
        self.class_of: list[int] = []
        self.allocs: list[tuple[int, int, int, int]] = []  # allocatable cpu, memory, pods, ephemeral per node
        self.hostnames_ok = True
        self.indexes: dict[tuple[Any, ...], _Index] = {}
        self.index_by_spec: dict[int, tuple[PodSpec, _Index]] = {}
        self.trackers: dict[tuple[str, LabelSelector], _Tracker] = {}
        self.tracker_by_item: dict[tuple[str, str], list[_Tracker]] = {}
        self.tracker_generic: list[_Tracker] = []
        self.tracker_by_id = {}
        self.soft_cache: dict[tuple[int, int], tuple[PodSpec, Any, tuple[p.SpreadConstraint, ...]]] = {}
        self.counted: dict[str, Pod] = {p.key: p for p in state.pods.values() if p.node_name is not None and p.deletion_timestamp is None}
        state.watch(ev.PodBound, self._on_bound)
        state.watch(ev.PodDeletionRequested, self._on_deletion_requested)
        state.watch(ev.PodDeleted, self._on_deleted)
        state.watch(ev.NodeAdded, self._on_nodes_changed)
        state.watch(ev.NodeRemoved, self._on_nodes_changed)
        for event_type in (ev.NodeTainted, ev.NodeUntainted, ev.NodeCordoned, ev.NodeReadyChanged):
            state.watch(event_type, self._on_node_static)

    # --- watch events --------------------------------------------------------------------------
    def _on_bound(self, event: ev.PodBound) -> None:
        state = self.state
        i = state.nodes[event.node].index
        self.log.append(i)
        pod = state.pods_by_key.get(event.pod)
        if pod is not None and pod.node_name == event.node and pod.deletion_timestamp is None:
            self.counted[event.pod] = pod
            if self.trackers:
                self._count(pod, i, 1)

    def _on_deletion_requested(self, event: ev.PodDeletionRequested) -> None:
        pod = self.counted.pop(event.pod, None)
        if pod is not None and self.trackers:
            self._count(pod, self.state.nodes[pod.node_name].index, -1)  # type: ignore[index]

    def _on_deleted(self, event: ev.PodDeleted) -> None:
        pod = self.counted.pop(event.pod, None)
        if event.node:
            node = self.state.nodes.get(event.node)
            if node is not None:
                self.log.append(node.index)
                if pod is not None and self.trackers:
                    self._count(pod, node.index, -1)

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
        self.log.append(node.index)

    def _count(self, pod: Pod, i: int, delta: int) -> None:
        labels = pod.labels
        node_labels = self.state.node_list[i].labels
        namespace = pod.namespace
        for tracker in self.tracker_generic:
            if tracker.namespace == namespace and tracker.selector.matches(labels):
                tracker.add(i, delta, node_labels)
        by_item = self.tracker_by_item
        for item in labels.items():
            found = by_item.get(item)
            if found:
                for tracker in found:
                    if tracker.namespace == namespace and tracker.selector.matches(labels):
                        tracker.add(i, delta, node_labels)

    # --- building --------------------------------------------------------------------------------
    def _class_for(self, node: Node) -> _Class:
        labels = node.labels
        if _HOSTNAME in labels:
            labels = dict(labels)
            labels[_HOSTNAME] = _HOST_PLACEHOLDER
        key = (tuple(sorted(labels.items())), node.taints, node.unschedulable, node.ready)
        cls = self.class_by_key.get(key)
        if cls is None:
            cls = _Class(len(self.classes), labels, node.taints, node.unschedulable, node.ready)
            self.classes.append(cls)
            self.class_by_key[key] = cls
        return cls

    def _rebuild(self) -> None:
        """Classes from scratch (after a node was added or removed: node indexes may have moved)."""
        self.classes = []
        self.class_by_key = {}
        self.class_of = []
        self.allocs = [(a.cpu_millis, a.memory_bytes, a.pods, a.ephemeral_storage_bytes) for a in (n.allocatable for n in self.state.node_list)]
        hostnames = set()
        for node in self.state.node_list:
            cls = self._class_for(node)
            cls.bits |= 1 << node.index
            self.class_of.append(cls.id)
            hostnames.add(node.labels.get(_HOSTNAME))
        self.hostnames_ok = None not in hostnames and len(hostnames) == len(self.state.node_list)
        self.indexes = {}
        self.index_by_spec = {}
        self._drop_trackers()
        self.built_epoch = self.epoch

    def _drop_trackers(self) -> None:
        self.trackers = {}
        self.tracker_by_id: dict[tuple[int, str], tuple[LabelSelector, _Tracker]] = {}
        self.tracker_by_item = {}
        self.tracker_generic = []

    def _tracker(self, namespace: str, selector: LabelSelector) -> _Tracker:
        hit = self.tracker_by_id.get((id(selector), namespace))
        if hit is not None and hit[0] is selector:
            return hit[1]
        key = (namespace, selector)
        tracker = self.trackers.get(key)
        if tracker is not None:
            self.tracker_by_id[(id(selector), namespace)] = (selector, tracker)
            return tracker
        if len(self.trackers) >= _MAX_TRACKERS:
            self._drop_trackers()
        tracker = _Tracker(namespace, selector)
        nodes = self.state.nodes
        for pod in self.state.pods_matching(namespace, selector):
            if pod.node_name is not None and pod.deletion_timestamp is None:
                node = nodes[pod.node_name]
                tracker.add(node.index, 1, node.labels)
        self.trackers[key] = tracker
        self.tracker_by_id[(id(selector), namespace)] = (selector, tracker)
        if selector.match_labels:
            self.tracker_by_item.setdefault(selector.match_labels[0], []).append(tracker)
        else:
            self.tracker_generic.append(tracker)
        return tracker

    def _index(self, spec: PodSpec) -> _Index:
        """The score index for ``spec``'s signature, caught up with the change log."""
        hit = self.index_by_spec.get(id(spec))
        if hit is not None and hit[0] is spec:
            index = hit[1]
        else:
            signature = (spec.requests, spec.nonzero_cpu, spec.nonzero_memory, spec.tolerations, spec.node_selector, spec.node_affinity)
            found = self.indexes.get(signature)
            if found is None:
                if len(self.indexes) >= _MAX_INDEXES:
                    self.indexes = {}
                    self.index_by_spec = {}
                found = self.indexes[signature] = _Index(spec)
            index = found
            self.index_by_spec[id(spec)] = (spec, index)
        if index.epoch != self.epoch or index.cursor < self.log_base:
            self._fill(index)
        else:
            start = index.cursor - self.log_base
            log = self.log
            if start < len(log):
                index.refresh(dict.fromkeys(log[start:]))  # each node once: refresh needs distinct nodes
                index.cursor = self.log_base + len(log)
        if len(self.log) > _MAX_LOG:  # forget old changes; an index that missed them refills
            self.log_base += len(self.log)
            self.log = []
            index.cursor = self.log_base
        return index

    def _fill(self, index: _Index) -> None:
        count = len(self.state.node_list)
        index.score_of = [None] * count
        index.buckets = {}
        index.keys = []
        index.feasible = 0
        index.class_ok = {}
        index.tt_raw = {}
        index.na_raw = {}
        index.refresh = _make_refresher(index, self.profile, self)
        index.refresh(range(count))
        index.epoch = self.epoch
        index.cursor = self.log_base + len(self.log)

    # --- a decision -----------------------------------------------------------------------------
    def schedule(self, pod: Pod, rng: random.Random) -> Any:
        """The chosen node's name, None (unschedulable), or ``NOT_COVERED`` (use the full scan)."""
        spec = pod.spec
        state = self.state
        nodes = state.node_list
        if spec.node_name is not None or (spec.node_affinity is not None and spec.node_affinity.uses_node_identity()):
            return NOT_COVERED
        for key, _ in spec.node_selector:
            if key == _HOSTNAME:
                return NOT_COVERED
        if len(nodes) >= k8s.MIN_FEASIBLE_NODES_TO_FIND and self.profile.percentage_of_nodes_to_score < 100:
            return NOT_COVERED
        if self.built_epoch != self.epoch:
            self._rebuild()
        if not nodes:
            return None
        index = self._index(spec)
        feasible = index.feasible
        if self.profile.spread_filter and spec.topology_spread_constraints:
            hard = p.spread_constraints(pod, "DoNotSchedule", None, system_defaulted=False)
            if hard:
                failing = self._spread_filter_mask(pod, hard)
                if failing is NOT_COVERED:
                    return NOT_COVERED
                feasible &= ~failing
        self.last_best = self.last_ties = None
        if not feasible:
            return None
        if not feasible & (feasible - 1):
            return nodes[feasible.bit_length() - 1].name
        groups = self._groups(pod, index, feasible)
        if groups is NOT_COVERED:
            return NOT_COVERED
        self.last_best, ties = _best(index, groups)
        count = self.last_ties = ties.bit_count()
        return nodes[nth_set_bit(ties, rng.randrange(count) if count > 1 else 0)].name

    def explain(self, pod: Pod) -> dict[str, int] | None:
        """Every feasible node's total score for ``pod`` as the fast path sees it (for tests and debugging).

        None when the pod is not covered. Reads the same indexes as :meth:`schedule` but picks nothing.
        """
        spec = pod.spec
        if self.schedule(pod, _NoRandom()) is NOT_COVERED:
            return None
        index = self._index(spec)
        feasible = index.feasible
        if self.profile.spread_filter and spec.topology_spread_constraints:
            hard = p.spread_constraints(pod, "DoNotSchedule", None, system_defaulted=False)
            if hard:
                feasible &= ~self._spread_filter_mask(pod, hard)
        nodes = self.state.node_list
        totals = {}
        for offset, mask in self._groups(pod, index, feasible) if feasible & (feasible - 1) else [(0, feasible)]:
            for i in range(mask.bit_length()):
                if mask >> i & 1:
                    totals[nodes[i].name] = index.score_of[i] + offset  # type: ignore[operator]
        return totals

    def _present(self, feasible: int) -> list[tuple[_Class, int]]:
        out = []
        for cls in self.classes:
            mask = feasible & cls.bits
            if mask:
                out.append((cls, mask))
        return out

    def _groups(self, pod: Pod, index: _Index, feasible: int) -> Any:
        """``[(offset, mask)]`` by offset descending: the normalized plugins' weighted score per node group."""
        spec = pod.spec
        w_tt, w_na, w_pts = self.w_tt, self.w_na, self.w_pts
        affinity = spec.node_affinity
        use_na = bool(w_na and affinity is not None and affinity.preferred)
        soft: tuple[p.SpreadConstraint, ...] = ()
        if w_pts:
            soft = self._soft_constraints(pod)
        if not (w_tt or use_na or soft):
            return [(0, feasible)]
        present = self._present(feasible)
        offsets = {cls.id: 0 for cls, _ in present}
        if w_tt:
            raw = index.tt_raw
            for cls, _ in present:
                if cls.id not in raw:
                    raw[cls.id] = p.untolerated_prefer_no_schedule(spec.tolerations, cls.taints)
            top = max(raw[cls.id] for cls, _ in present)
            for cls, _ in present:
                offsets[cls.id] += w_tt * (k8s.MAX_NODE_SCORE if top == 0 else k8s.MAX_NODE_SCORE - k8s.MAX_NODE_SCORE * raw[cls.id] // top)
        if use_na:
            assert affinity is not None
            raw = index.na_raw
            for cls, _ in present:
                if cls.id not in raw:
                    raw[cls.id] = affinity.preferred_score("", cls.labels)
            top = max(raw[cls.id] for cls, _ in present)
            if top:
                for cls, _ in present:
                    offsets[cls.id] += w_na * (k8s.MAX_NODE_SCORE * raw[cls.id] // top)
        if not soft:
            return _merge((offsets[cls.id], mask) for cls, mask in present)
        spread = self._spread_groups(pod, soft, present)
        if spread is NOT_COVERED:
            return NOT_COVERED
        return _merge((offsets[cls.id] + w_pts * score, mask) for cls, mask, score in spread)

    # --- PodTopologySpread on classes and levels ------------------------------------------------------
    def _soft_constraints(self, pod: Pod) -> tuple[p.SpreadConstraint, ...]:
        """The pod's ScheduleAnyway constraints (or system defaults), cached per spec and owner selector."""
        spec = pod.spec
        selector = owner_selector(pod, self.state)
        key = (id(spec), id(selector))
        hit = self.soft_cache.get(key)
        if hit is not None and hit[0] is spec and hit[1] is selector:
            return hit[2]
        soft = p.spread_constraints(pod, "ScheduleAnyway", selector, self.profile.system_default_spreading)
        if not any(c.match_label_keys for c in spec.topology_spread_constraints):  # else it depends on the pod's labels
            if len(self.soft_cache) > _MAX_INDEXES:
                self.soft_cache = {}
            self.soft_cache[key] = (spec, selector, soft)
        return soft

    def _eligible(self, spec: PodSpec, c: p.SpreadConstraint, keys: list[str] | None) -> tuple[list[_Class], bool]:
        """Non-empty classes counted for ``c`` (all ``keys`` present, inclusion policies), and whether that is all of them."""
        if keys is None and not c.honor_taints and not (c.honor_affinity and (spec.node_selector or (spec.node_affinity is not None and spec.node_affinity.required is not None))):
            return [cls for cls in self.classes if cls.bits], True  # nothing restricts: every node counts
        out = []
        every = True
        for cls in self.classes:
            if not cls.bits:
                continue
            labels = cls.labels
            if (keys is None or all(k in labels for k in keys)) and c.includes(spec, "", labels, cls.taints):
                out.append(cls)
            else:
                every = False
        return out, every

    def _domain_counts(self, tracker: _Tracker | None, key: str, eligible: list[_Class], every: bool) -> dict[str, int]:
        """Matching pods per value of ``key`` over the eligible classes' nodes."""
        counts: dict[str, int] = {}
        if tracker is None:
            for cls in eligible:
                counts.setdefault(cls.labels.get(key, ""), 0)
            return counts
        if every:
            totals = tracker.domain_counts(key, self.state.node_list)
            for cls in eligible:
                value = cls.labels.get(key, "")
                counts[value] = totals.get(value, 0)
            return counts
        for cls in eligible:
            value = cls.labels.get(key, "")
            total = counts.get(value, 0)
            for level, bits in tracker.levels.items():
                total += level * (bits & cls.bits).bit_count()
            counts[value] = total
        return counts

    def _spread_filter_mask(self, pod: Pod, hard: tuple[p.SpreadConstraint, ...]) -> Any:
        """Nodes the PodTopologySpread filter rejects, as a bitset."""
        if any(c.topology_key == _HOSTNAME for c in hard) and not self.hostnames_ok:
            return NOT_COVERED
        spec = pod.spec
        keys = [c.topology_key for c in hard]
        failing = 0
        for c in hard:
            key = c.topology_key
            for cls in self.classes:
                if key not in cls.labels:
                    failing |= cls.bits
            tracker = self._tracker(pod.namespace, c.selector) if c.counts_pods() else None  # type: ignore[arg-type]
            eligible, every = self._eligible(spec, c, keys)
            self_match = c.self_match(pod.labels)
            if key == _HOSTNAME:
                if tracker is None:
                    continue
                mask = 0
                for cls in eligible:
                    mask |= cls.bits
                if mask.bit_count() < c.min_domains or mask & ~tracker.any:
                    minimum = 0
                else:
                    minimum = min(level for level, bits in tracker.levels.items() if bits & mask)
                threshold = c.max_skew + minimum - self_match
                for level, bits in tracker.levels.items():
                    if level > threshold:
                        failing |= bits & mask
                continue
            counts = self._domain_counts(tracker, key, eligible, every)
            minimum = min(counts.values()) if counts and len(counts) >= c.min_domains else 0
            for value, count in counts.items():
                if count + self_match - minimum > c.max_skew:
                    for cls in self.classes:
                        if cls.labels.get(key) == value:
                            failing |= cls.bits
        return failing

    def _spread_groups(self, pod: Pod, soft: tuple[p.SpreadConstraint, ...], present: list[tuple[_Class, int]]) -> Any:
        """``[(class, mask, normalized score)]``: PodTopologySpread's score per (class, hostname level) group."""
        spec = pod.spec
        require_all = bool(spec.topology_spread_constraints) or not self.profile.system_default_spreading
        keys = [c.topology_key for c in soft]
        host = -1
        for i, key in enumerate(keys):
            if key == _HOSTNAME:
                if host >= 0 or not self.hostnames_ok:
                    return NOT_COVERED
                host = i
        out: list[tuple[_Class, int, int]] = []  # ignored nodes (lacking a key) score 0
        kept = []
        for cls, mask in present:
            if require_all and not all(k in cls.labels for k in keys):
                out.append((cls, mask, 0))
            else:
                kept.append((cls, mask))
        if not kept:
            return out
        weights: list[float] = []
        domains: list[dict[str, int]] = []
        host_tracker = None
        for i, c in enumerate(soft):
            tracker = self._tracker(pod.namespace, c.selector) if c.counts_pods() else None  # type: ignore[arg-type]
            if i == host:
                union = 0
                for _, mask in kept:
                    union |= mask
                weights.append(p.spread_weight(union.bit_count()))
                domains.append({})
                host_tracker = tracker
                continue
            values = {cls.labels.get(c.topology_key, ""): 0 for cls, _ in kept}
            weights.append(p.spread_weight(len(values)))
            eligible, every = self._eligible(spec, c, keys if require_all else None)
            counts = self._domain_counts(tracker, c.topology_key, eligible, every)
            domains.append({value: counts.get(value, 0) for value in values})
        groups: list[tuple[_Class, int, int]] = []  # (class, mask, raw score)
        go_round = p.go_round
        for cls, mask in kept:
            labels = cls.labels
            if host_tracker is None:
                levels = [(0, mask)]
            else:
                levels = [(0, mask & ~host_tracker.any)]
                levels += [(level, mask & bits) for level, bits in host_tracker.levels.items()]
            for level, sub in levels:
                if not sub:
                    continue
                score = 0.0  # summed in constraint order, as upstream
                for i, c in enumerate(soft):
                    value = labels.get(c.topology_key)
                    if value is not None:
                        score += (level if i == host else domains[i][value]) * weights[i] + float(c.max_skew - 1)
                groups.append((cls, sub, go_round(score)))
        low = min(raw for _, _, raw in groups)
        high = max(0, max(raw for _, _, raw in groups))
        out += [(cls, mask, p.spread_normalize(raw, low, high)) for cls, mask, raw in groups]
        return out


def _merge(groups: Any) -> list[tuple[int, int]]:
    """Group masks with equal offsets, highest offset first."""
    merged: dict[int, int] = {}
    for offset, mask in groups:
        merged[offset] = merged.get(offset, 0) | mask
    return sorted(merged.items(), reverse=True)


def _best(index: _Index, groups: list[tuple[int, int]]) -> tuple[int, int]:
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
        members = buckets[score]
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
