"""Room in the cluster as the trace tells it: may a pod go to a node now, and how many more fit.

The bounded-liveness properties ask "could this have happened?" before they blame the control plane:
a replica that cannot fit anywhere in the healed cluster is a capacity finding, not a failed
controller; a pending pod is owed a binding only while some node has room for it. This module
answers from the :class:`~podquake.properties.ledger.Ledger` alone, with the scheduler's filters
(kubernetes/kubernetes:pkg/scheduler/framework/plugins/):

- ``NodeName``: a pod whose spec names a node goes there or nowhere;
- ``NodeUnschedulable``, plus the node being Ready and powered on (a NotReady node carries the
  ``not-ready``/``unreachable`` NoSchedule taint upstream; the ledger's ``ready`` says it directly);
- ``TaintToleration``: every NoSchedule and NoExecute taint tolerated;
- ``NodeAffinity``: ``nodeSelector`` and required node affinity (what the trace recorded of the spec);
- ``NodeResourcesFit``: ``requested + pod request <= allocatable`` for CPU and memory, and fewer pods
  than the node's pod capacity (noderesources/fit.go);
- ``PodTopologySpread`` (DoNotSchedule constraints), for one pod at a time (:class:`SpreadFilter`).

Simplifications, on purpose: volume filters (VolumeBinding, VolumeRestrictions) are not applied;
counting many replicas at once (:func:`room_for`) places them greedily, first fit, one spread
filter updated pod by pod, which is not an optimal packing.

>>> from podquake.model import trace as ev
>>> from podquake.properties.ledger import Ledger
>>> ledger = Ledger()
>>> ledger.apply(ev.NodeAdded(0.0, "worker-1", "zone-a", 1000, 4 << 30, 110))
>>> node = ledger.nodes["worker-1"]
>>> slots(node, 300, 1 << 30), free(node)
(3, (1000, 4294967296, 110))
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from podquake.model.selectors import LabelSelector, Requirement, Taint
from podquake.model.specrecord import RecordedSpec
from podquake.properties.ledger import Ledger, LedgerNode, LedgerPod

__all__ = ["SpreadFilter", "admits", "describe_free", "describe_room", "fits", "free", "namespace_of", "room_for", "slots"]

_FILTER_EFFECTS = ("NoSchedule", "NoExecute")
_UNSCHEDULABLE = Taint("node.kubernetes.io/unschedulable", "", "NoSchedule")
_MANY = sys.maxsize


def namespace_of(key: str) -> str:
    """The namespace of a ``namespace/name`` key."""
    return key.partition("/")[0]


def admits(spec: RecordedSpec, node: LedgerNode) -> bool:
    """Whether ``node`` may take a new pod of ``spec``, resources aside: the node the spec names (if
    any), Ready, up, not cordoned
    (unless the pod tolerates it), its NoSchedule/NoExecute taints tolerated, the pod's node
    selector and required affinity matched."""
    if node.ready != "True" or not node.up:
        return False
    if spec.node_name is not None and spec.node_name != node.name:  # the NodeName filter
        return False
    tolerations = spec.tolerations
    if node.unschedulable and not any(t.tolerates(_UNSCHEDULABLE) for t in tolerations):
        return False
    for taint in node.taints:
        if taint.effect in _FILTER_EFFECTS and not any(t.tolerates(taint) for t in tolerations):
            return False
    return spec.node_selector_matches(node.name, node.labels)


def free(node: LedgerNode) -> tuple[int, int, int]:
    """``(CPU millis, memory bytes, pod slots)`` left on ``node``: allocatable minus requested."""
    return (
        node.allocatable_cpu - node.requested_cpu,
        node.allocatable_memory - node.requested_memory,
        node.allocatable_pods - len(node.pods),
    )


def slots(node: LedgerNode, cpu: int, memory: int, used: tuple[int, int, int] = (0, 0, 0)) -> int:
    """How many more pods requesting ``cpu`` and ``memory`` fit on ``node`` (after ``used`` more)."""
    cpu_left, memory_left, pods_left = free(node)
    cpu_left, memory_left, pods_left = cpu_left - used[0], memory_left - used[1], pods_left - used[2]
    if cpu_left < 0 or memory_left < 0 or pods_left <= 0:
        return 0
    count = pods_left
    if cpu > 0:
        count = min(count, cpu_left // cpu)
    if memory > 0:
        count = min(count, memory_left // memory)
    return count


def fits(spec: RecordedSpec, pod: LedgerPod, node: LedgerNode) -> bool:
    """Whether one pod (``pod``'s requests, ``spec``'s placement rules) may be bound to ``node`` now,
    topology spread aside (see :class:`SpreadFilter`)."""
    return admits(spec, node) and slots(node, pod.cpu, pod.memory) >= 1


def room_for(
    ledger: Ledger, demands: Iterable[tuple[str, RecordedSpec, int, int, int, LedgerPod | None]]
) -> dict[str, tuple[int, list[str]]]:
    """Place ``demands`` ``(key, spec, cpu, memory, count, pod)`` greedily, in the order given, on
    the nodes that admit them (by name), each taking room the ones before it left. ``pod`` (one of
    the workload's pods, for its namespace and labels) brings in its DoNotSchedule topology spread
    constraints: the pods are then placed one at a time, each counted in the skew of the next.

    Returns, per key, how many of its ``count`` pods found room and the names of the nodes that
    admitted it (empty: no node admits the pod at all). Greedy first-fit is not an optimal packing;
    it is what a person checking "is there room?" would do, and the verdicts say so.
    """
    used: dict[str, tuple[int, int, int]] = {}
    nodes = sorted(ledger.nodes.values(), key=lambda n: n.name)
    result: dict[str, tuple[int, list[str]]] = {}
    for key, spec, cpu, memory, count, pod in demands:
        eligible = [node for node in nodes if admits(spec, node)]
        spread = SpreadFilter(ledger, pod, spec) if pod is not None else None
        if spread is not None and spread.active:
            placed = _place_spread(eligible, cpu, memory, count, spread, used)
        else:
            placed = 0
            for node in eligible:
                if placed >= count:
                    break
                taken = used.get(node.name, (0, 0, 0))
                take = min(count - placed, slots(node, cpu, memory, taken))
                if take > 0:
                    placed += take
                    used[node.name] = (taken[0] + take * cpu, taken[1] + take * memory, taken[2] + take)
        result[key] = (placed, [node.name for node in eligible])
    return result


def _place_spread(
    nodes: list[LedgerNode], cpu: int, memory: int, count: int, spread: SpreadFilter, used: dict[str, tuple[int, int, int]]
) -> int:
    """:func:`room_for` for a pod with spread constraints: one at a time, on the first node that has
    room and that the skew allows, each placed pod counted in its domain."""
    placed = 0
    while placed < count:
        for node in nodes:
            taken = used.get(node.name, (0, 0, 0))
            if slots(node, cpu, memory, taken) >= 1 and spread.allows(node):
                used[node.name] = (taken[0] + cpu, taken[1] + memory, taken[2] + 1)
                spread.add(node)
                placed += 1
                break
        else:
            return placed
    return placed


def describe_free(node: LedgerNode) -> str:
    """``node worker-2 (250m CPU, 1.5Gi memory, 107 pod slots free)``: its :func:`free` room now."""
    return describe_room(node.name, free(node))


def describe_room(node: str, room: tuple[int, int, int]) -> str:
    """:func:`describe_free` for a room recorded earlier."""
    cpu, memory, pods = room
    return f"node {node} ({cpu}m CPU, {_bytes(memory)} memory, {pods} pod slots free)"


def _bytes(count: int) -> str:
    for unit, shift in (("Gi", 30), ("Mi", 20), ("Ki", 10)):
        if abs(count) >= 1 << shift:
            return f"{count / (1 << shift):.4g}{unit}"
    return f"{count}B"


class SpreadFilter:
    """The PodTopologySpread filter for one pending pod, against the ledger as it is now
    (kubernetes/kubernetes:pkg/scheduler/framework/plugins/podtopologyspread/filtering.go).

    For each DoNotSchedule constraint: the eligible nodes have every constraint's topology key and, under
    ``nodeAffinityPolicy: Honor`` (the default), match the pod's node selector and affinity (under
    ``nodeTaintsPolicy: Honor``, tolerate its taints); a domain counts the bound, non-terminating
    pods of the pod's namespace that the selector (with ``matchLabelKeys``) matches. A node fails when
    it lacks the key, or when its domain's count plus the pod itself exceeds the smallest domain's by
    more than ``maxSkew`` (the smallest is 0 while there are fewer domains than ``minDomains``).
    Counts are taken once, when the filter is built.
    """

    __slots__ = ("_checks",)

    def __init__(self, ledger: Ledger, pod: LedgerPod, spec: RecordedSpec) -> None:
        # per constraint: [key, maxSkew, counts, min - self, self, minDomains] (min - self kept current by add())
        self._checks: list[list] = []
        namespace = namespace_of(pod.key)
        hard = [c for c in spec.topology_spread_constraints if c.when_unsatisfiable == "DoNotSchedule"]
        keys = [c.topology_key for c in hard]
        # upstream counts only the nodes that carry every constraint's key (nodeLabelsMatchSpreadConstraints)
        counted = [node for node in ledger.nodes.values() if all(key in node.labels for key in keys)]
        for c in hard:
            selector = _with_label_keys(c.label_selector, c.match_label_keys, pod.labels)
            counts: dict[str, int] = {}
            for node in counted:
                value = node.labels[c.topology_key]
                if not self._included(spec, c.node_affinity_policy, c.node_taints_policy, node):
                    continue
                count = counts.setdefault(value, 0)
                if selector is None or selector.is_empty():
                    continue
                for key in node.pods:
                    other = ledger.pods.get(key)
                    if (
                        other is not None
                        and not other.terminating
                        and namespace_of(key) == namespace
                        and selector.matches(other.labels)
                    ):
                        count += 1
                counts[value] = count
            self_match = 1 if selector is not None and selector.matches(pod.labels) else 0
            min_domains = c.min_domains or 1
            self._checks.append([c.topology_key, c.max_skew, counts, _floor(counts, min_domains) - self_match, self_match, min_domains])

    @staticmethod
    def _included(spec: RecordedSpec, affinity_policy: str, taints_policy: str, node: LedgerNode) -> bool:
        if affinity_policy != "Ignore" and not spec.node_selector_matches(node.name, node.labels):
            return False
        if taints_policy == "Honor":
            for taint in node.taints:
                if taint.effect in _FILTER_EFFECTS and not any(t.tolerates(taint) for t in spec.tolerations):
                    return False
        return True

    @property
    def active(self) -> bool:
        """Whether the pod has any DoNotSchedule constraint (else :meth:`allows` is always True)."""
        return bool(self._checks)

    def allows(self, node: LedgerNode) -> bool:
        for key, max_skew, counts, floor, _, _ in self._checks:
            value = node.labels.get(key)
            if value is None or counts.get(value, 0) - floor > max_skew:
                return False
        return True

    def add(self, node: LedgerNode) -> None:
        """Count one more of these pods on ``node`` (one that :meth:`allows` let in)."""
        for check in self._checks:
            key, _, counts, _, self_match, min_domains = check
            value = node.labels.get(key)
            if self_match and value in counts:
                counts[value] += 1
                check[3] = _floor(counts, min_domains) - self_match


def _floor(counts: dict[str, int], min_domains: int) -> int:
    """The smallest domain's count, or 0 while there are fewer domains than ``minDomains``."""
    return min(counts.values()) if counts and len(counts) >= min_domains else 0


def _with_label_keys(selector: LabelSelector | None, keys: tuple[str, ...], labels: dict[str, str]) -> LabelSelector | None:
    """The constraint's selector with ``matchLabelKeys`` merged in (upstream mergeLabelSetWithSelector)."""
    extra = tuple(Requirement(key, "In", (labels[key],)) for key in keys if key in labels)
    if not extra:
        return selector
    base = selector or LabelSelector()
    return LabelSelector(base.match_labels, base.match_expressions + extra)
