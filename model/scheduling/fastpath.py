"""The framework scheduler's fast path: the same decisions as the full scan, without scanning nodes.

A Python loop over 5,000 nodes per pod runs at a few dozen pods a second. The fast path gets the
same answer from incremental indexes, the way kube-scheduler's cache follows informers:

- **Node classes.** Nodes whose static attributes are equal (labels except the hostname, taints,
  cordon, Ready) pass the same static filters and get the same TaintToleration and NodeAffinity raw
  scores, so those are evaluated once per class. Each class keeps a bitset of its nodes (a Python
  int, bit i = node index i), so "the feasible nodes of zone b" is one ``&``.
- **Score indexes.** For each pod signature (requests, non-zero requests, tolerations, node selector
  and affinity: what the pods of one ReplicaSet share) an index holds every node's *local* score
  (the weighted NodeResourcesFit and BalancedAllocation scores, which depend only on the node and
  the pod), or None when the node fails a filter, and buckets the nodes by it: ``{score: bitset}``.
  A bind, a delete or a node change appends the node to a change log; an index replays the log when
  a pod of its signature is next scheduled. The cost of a decision is therefore one node update per
  bind since the signature's last decision: about the number of pod shapes in use at once.
- **Normalized scores as offsets.** TaintToleration and NodeAffinity normalize over the feasible
  nodes but are constant within a class; PodTopologySpread depends on the class (its domains) and on
  the node's count of matching pods (``spreading.py``). The feasible nodes split into a few groups,
  each with one offset; the best total is found by walking the score buckets from the top and
  stopping once no offset can reach the best.
- **Ties** are the OR of the winning bucket-and-group bitsets, in node-index order, and the pick is
  ``ties[rng.randrange(len(ties))]``, exactly as the full scan (see ``framework.py``).

Pods the fast path does not cover go to the full scan: pods naming nodes (``spec.nodeName``,
hostname in nodeSelector or affinity, ``matchFields``), the cases listed in ``spreading.py``, and
profiles with ``percentage_of_nodes_to_score < 100`` on 100 nodes or more. :meth:`FastPath.explain`
gives every feasible node's total as the fast path sees it; the tests compare it with the full scan.
"""

from __future__ import annotations

import random
from bisect import bisect_left, insort
from collections.abc import Callable, Collection
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


def _no_refresh(_dirty: Collection[int]) -> None:
    raise AssertionError("index used before it was filled")


class _Index:
    """Local scores of every node for one pod signature, bucketed: ``{score: bitset}``."""

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
    )

    def __init__(self, spec: PodSpec) -> None:
        self.spec = spec
        self.refresh: Callable[[Collection[int]], None] = _no_refresh
        self.score_of: list[int | None] = []
        self.buckets: dict[int, int] = {}
        self.keys: list[int] = []  # bucket scores, ascending
        self.feasible = 0  # nodes passing every filter but PodTopologySpread
        self.count = 0  # how many
        self.class_ok: dict[int, bool] = {}
        self.tt_raw: dict[int, int] = {}
        self.na_raw: dict[int, int] = {}
        self.cursor = -1
        self.epoch = -1


def _make_refresher(index: _Index, profile: Profile, fast: FastPath) -> Callable[[Collection[int]], None]:
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

    def refresh(dirty: Collection[int]) -> None:
        """Recompute the nodes in ``dirty`` (distinct indexes) and move their bits to their new buckets."""
        nodes = fast.state.node_list
        class_of = fast.class_of
        allocs = fast.allocs
        direct = len(dirty) <= 32
        adds: dict[int, list[int]] = {}
        removes: dict[int, list[int]] = {}
        feasible = index.feasible
        count = index.count
        for i in dirty:
            cid = class_of[i]
            ok = class_ok.get(cid)
            node = nodes[i]
            if ok is None:
                cls = fast.classes[cid]
                ok = class_ok[cid] = static_filter(
                    spec, node.name, cls.labels, cls.taints, cls.unschedulable, cls.ready
                )
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
                            cpu_score = 0 if c > a_cpu else (a_cpu - c) * top // a_cpu
                            memory_score = 0 if m > a_mem else (a_mem - m) * top // a_mem
                            new = w_fit * ((cpu_score + memory_score) // 2)
                        else:
                            new = w_fit * fit_score(c, a_cpu, m, a_mem)
                    if w_bal:
                        r_cpu = node.requested_cpu + cpu
                        r_mem = node.requested_memory + memory
                        if a_cpu and a_mem:  # balanced_allocation_score inlined, the same float operations
                            f_cpu = r_cpu / a_cpu
                            f_mem = r_mem / a_mem
                            std = abs(((1.0 if f_cpu > 1 else f_cpu) - (1.0 if f_mem > 1 else f_mem)) / 2)
                            new += w_bal * int((1 - std) * top)
                        else:
                            new += w_bal * balanced(r_cpu, a_cpu, r_mem, a_mem)
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
                    rest = buckets[old] ^ bit
                    if rest:
                        buckets[old] = rest
                    else:
                        del buckets[old]
                        del keys[bisect_left(keys, old)]
                if new is None:
                    feasible ^= bit
                    count -= 1
                else:
                    members = buckets.get(new)
                    if members is None:
                        buckets[new] = bit
                        insort(keys, new)
                    else:
                        buckets[new] = members | bit
                continue
            key = -1 if old is None else old  # -1: the infeasible "bucket", tracked by index.feasible only
            members = removes.get(key)
            if members is None:
                removes[key] = [i]
            else:
                members.append(i)
            key = -1 if new is None else new
            members = adds.get(key)
            if members is None:
                adds[key] = [i]
            else:
                members.append(i)
        size = len(nodes)
        for score, members in removes.items():  # many nodes: one mask per bucket
            bits = _bits(members, size)
            if score < 0:
                feasible |= bits
                count += len(members)
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
                count -= len(members)
                continue
            present = buckets.get(score)
            if present is None:
                buckets[score] = bits
                insort(keys, score)
            else:
                buckets[score] = present | bits
        index.feasible = feasible
        index.count = count

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
        self.classes: list[NodeClass] = []
        self.class_by_key: dict[tuple[Any, ...], NodeClass] = {}
        self.class_of: list[int] = []
        self.allocs: list[tuple[int, int, int, int]] = []  # allocatable cpu, memory, pods, ephemeral per node
        self.hostnames_ok = True
        self.indexes: dict[tuple[Any, ...], _Index] = {}
        self.index_by_spec: dict[int, tuple[PodSpec, _Index]] = {}
        self.spreading = Spreading(self)
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
        self.log.append(node.index)

    # --- building --------------------------------------------------------------------------------
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
        self.allocs = [
            (a.cpu_millis, a.memory_bytes, a.pods, a.ephemeral_storage_bytes)
            for a in (n.allocatable for n in self.state.node_list)
        ]
        hostnames = set()
        for node in self.state.node_list:
            cls = self._class_for(node)
            cls.bits |= 1 << node.index
            self.class_of.append(cls.id)
            hostnames.add(node.labels.get(_HOSTNAME))
        self.hostnames_ok = None not in hostnames and len(hostnames) == len(self.state.node_list)
        self.indexes = {}
        self.index_by_spec = {}
        self.spreading.reset()  # trackers hold node indexes, plans class ids
        self.built_epoch = self.epoch

    def _index(self, spec: PodSpec) -> _Index:
        """The score index for ``spec``'s signature, caught up with the change log."""
        hit = self.index_by_spec.get(id(spec))
        if hit is not None and hit[0] is spec:
            index = hit[1]
        else:
            signature = (
                spec.requests,
                spec.nonzero_cpu,
                spec.nonzero_memory,
                spec.tolerations,
                spec.node_selector,
                spec.node_affinity,
            )
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
        index.count = 0
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
        count = index.count
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
        self.last_best = self.last_ties = None
        if count <= 1:
            return nodes[feasible.bit_length() - 1].name if count else None
        try:
            groups = self._groups(pod, index, feasible, count)
        except NotCovered:
            return NOT_COVERED
        self.last_best, ties = _best(index, groups)
        count = self.last_ties = ties.bit_count()
        return nodes[nth_set_bit(ties, rng.randrange(count) if count > 1 else 0)].name

    def explain(self, pod: Pod) -> dict[str, int] | None:
        """Every feasible node's total score for ``pod`` as the fast path sees it (for tests and debugging).

        None when the pod is not covered. Reads the same indexes as :meth:`schedule` but picks nothing.
        """
        spec = pod.spec
        if self.schedule(pod, _NoRandom(0)) is NOT_COVERED:
            return None
        index = self._index(spec)
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
                    totals[nodes[i].name] = index.score_of[i] + offset  # type: ignore[operator]
        return totals

    def _present(self, feasible: int) -> list[tuple[NodeClass, int]]:
        """The feasible nodes of each class that has any: ``[(class, bitset)]``."""
        out = []
        for cls in self.classes:
            mask = feasible & cls.bits
            if mask:
                out.append((cls, mask))
        return out

    def _groups(self, pod: Pod, index: _Index, feasible: int, count: int) -> list[tuple[int, int]]:
        """``[(offset, mask)]`` by offset descending: the normalized plugins' weighted score per node group."""
        spec = pod.spec
        w_tt, w_na, w_pts = self.w_tt, self.w_na, self.w_pts
        affinity = spec.node_affinity
        use_na = bool(w_na and affinity is not None and affinity.preferred)
        plan = self.spreading.plan(pod) if w_pts else None
        if not (w_tt or use_na or plan):
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
                offsets[cls.id] += w_tt * (
                    k8s.MAX_NODE_SCORE if top == 0 else k8s.MAX_NODE_SCORE - k8s.MAX_NODE_SCORE * raw[cls.id] // top
                )
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
        if plan is None:
            return _merge((offsets[cls.id], mask) for cls, mask in present)
        spread = self.spreading.score_groups(pod, plan, present, count)
        return _merge((offsets[cls.id] + w_pts * score, mask) for cls, mask, score in spread)


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
