"""kube-scheduler's filter and score plugins: the upstream formulas, one function each.

Each function follows one upstream file of ``kubernetes/kubernetes:pkg/scheduler/framework/plugins/``
(v1.35) and keeps Go's integer arithmetic: ``//`` on non-negative int64 values is Go's truncating
division, :func:`go_div` truncates toward zero for signed values, and :func:`go_round` is Go's
``math.Round`` (half away from zero; Python's ``round`` is banker's rounding). Floats are combined in
the same order as upstream, so Python's float64 gives the same bits.

These functions are the reference: :class:`~podquake.model.scheduling.framework.FrameworkScheduler`'s
full scan calls them node by node, and the fast path (``fastpath.py``) calls the same functions on
equivalence classes of nodes, so both compute identical scores.

Plugins modelled: NodeUnschedulable, NodeName, TaintToleration, NodeAffinity (nodeSelector and
affinity), NodeResourcesFit (LeastAllocated, MostAllocated, RequestedToCapacityRatio),
NodeResourcesBalancedAllocation, PodTopologySpread, and InterPodAffinity (its own module,
:mod:`~podquake.model.scheduling.interpod`, since it reads the other pods rather than the node).
Not modelled, on purpose:
- ImageLocality: nodes hold no image list; upstream scores 0 below its 23 MB threshold, so 0 everywhere.
- NodePorts, DynamicResources: the model has no host ports or DRA. Volume plugins: VolumeZone and
  VolumeBinding's zone are applied by :mod:`podquake.model.volumes` as required node affinity on the
  pod (so NodeAffinity filters them here); VolumeRestrictions, NodeVolumeLimits and VolumeBinding's
  PreFilter are not modelled (see that module's docstring).
- Extended resources and hugepages: only cpu and memory are scored (ephemeral storage is only fitted).
- The system default spreading selector is the pod's owning ReplicaSet's / StatefulSet's /
  ReplicationController's selector. Upstream also merges the selectors of the Services that select
  the pod (``helper.DefaultSelector``); the model leaves Services out, so a bare pod selected only by
  a Service gets no default spreading.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from podquake.model import constants as k8s
from podquake.model.objects import Node, Pod, PodSpec
from podquake.model.selectors import LabelSelector, Requirement, Taint, Toleration

__all__ = [
    "LEAST_ALLOCATED",
    "MOST_ALLOCATED",
    "REQUESTED_TO_CAPACITY_RATIO",
    "ScoringStrategy",
    "SpreadConstraint",
    "balanced_allocation_score",
    "broken_linear",
    "default_normalize",
    "fit_filter",
    "go_div",
    "go_round",
    "least_allocated",
    "most_allocated",
    "num_feasible_nodes_to_find",
    "requested_to_capacity_ratio",
    "spread_constraints",
    "spread_normalize",
    "spread_weight",
    "static_filter",
    "untolerated_prefer_no_schedule",
]

LEAST_ALLOCATED = "LeastAllocated"
MOST_ALLOCATED = "MostAllocated"
REQUESTED_TO_CAPACITY_RATIO = "RequestedToCapacityRatio"
# kubernetes/kubernetes:pkg/scheduler/apis/config/types.go (MaxCustomPriorityScore)
MAX_CUSTOM_PRIORITY_SCORE = 10
# kubernetes/kubernetes:pkg/scheduler/framework/plugins/podtopologyspread/plugin.go (systemDefaultConstraints)
SYSTEM_DEFAULT_CONSTRAINTS = ((k8s.LABEL_HOSTNAME, 3), (k8s.LABEL_ZONE, 5))
# kubernetes/kubernetes:pkg/scheduler/framework/plugins/helper/spread.go (owners whose selector is used)
DEFAULT_SPREAD_OWNER_KINDS = ("ReplicaSet", "StatefulSet", "ReplicationController")
_UNSCHEDULABLE_TAINT = Taint(k8s.TAINT_UNSCHEDULABLE, "", "NoSchedule")
_FILTER_EFFECTS = ("NoSchedule", "NoExecute")


# --- Go arithmetic ------------------------------------------------------------------------------
def go_div(a: int, b: int) -> int:
    """Go's integer division: truncates toward zero (Python's ``//`` floors)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def go_round(x: float) -> int:
    """Go's ``math.Round``: half away from zero, exactly (``floor(x + 0.5)`` is wrong for 0.49999999999999994)."""
    whole = math.floor(abs(x))
    if abs(x) - whole >= 0.5:  # exact: a double minus its floor is representable
        whole += 1
    return whole if x >= 0 else -whole


# --- selectHost's sample size (kubernetes/kubernetes:pkg/scheduler/schedule_one.go) ---------------
def num_feasible_nodes_to_find(num_all_nodes: int, percentage: int = 0) -> int:
    """How many feasible nodes the scheduler looks for before it stops filtering.

    ``percentage`` is ``percentageOfNodesToScore`` (0 = upstream's adaptive default).

    >>> num_feasible_nodes_to_find(5000), num_feasible_nodes_to_find(50), num_feasible_nodes_to_find(5000, 100)
    (500, 50, 5000)
    """
    if num_all_nodes < k8s.MIN_FEASIBLE_NODES_TO_FIND or percentage >= 100:
        return num_all_nodes
    if percentage <= 0:
        percentage = max(50 - num_all_nodes // 125, k8s.MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    return max(num_all_nodes * percentage // 100, k8s.MIN_FEASIBLE_NODES_TO_FIND)


# --- filters ----------------------------------------------------------------------------------------
def _tolerated(tolerations: tuple[Toleration, ...], taint: Taint) -> bool:
    for toleration in tolerations:
        if toleration.tolerates(taint):
            return True
    return False


def static_filter(
    spec: PodSpec, name: str, labels: Mapping[str, str], taints: tuple[Taint, ...], unschedulable: bool, ready: str
) -> bool:
    """The filters that read only a node's static attributes.

    Ready (upstream leaves this to the ``node.kubernetes.io/not-ready`` taint the node lifecycle
    controller adds; the model's contract requires a Ready node, so it filters directly),
    NodeUnschedulable (node_unschedulable.go), NodeName (node_name.go), TaintToleration
    (taint_toleration.go: untolerated NoSchedule/NoExecute) and NodeAffinity (node_affinity.go:
    nodeSelector AND required terms).
    """
    if ready != "True":
        return False
    tolerations = spec.tolerations
    if unschedulable and not _tolerated(tolerations, _UNSCHEDULABLE_TAINT):
        return False
    if spec.node_name is not None and spec.node_name != name:
        return False
    for taint in taints:
        if taint.effect != "PreferNoSchedule" and not _tolerated(tolerations, taint):
            return False
    return spec.node_selector_matches(name, labels)  # type: ignore[arg-type]


def fit_filter(spec: PodSpec, node: Node) -> bool:
    """NodeResourcesFit Filter (noderesources/fit.go): pod slots, then cpu, memory, ephemeral storage.

    Real requests only (no non-zero defaults). As in
    :func:`~podquake.model.scheduling.contract.placement_problem`, a node with no ephemeral-storage
    allocatable is not checked for it, and a zero request still needs ``requested <= allocatable``
    (upstream skips zero requests; the two differ only on an over-committed node).
    """
    alloc = node.allocatable
    if len(node.pods) + 1 > alloc.pods:
        return False
    req = spec.requests
    if node.requested_cpu + req.cpu_millis > alloc.cpu_millis:
        return False
    if node.requested_memory + req.memory_bytes > alloc.memory_bytes:
        return False
    eph = req.ephemeral_storage_bytes
    if eph and alloc.ephemeral_storage_bytes and node.requested_ephemeral + eph > alloc.ephemeral_storage_bytes:
        return False
    return True


# --- NodeResourcesFit scoring (noderesources/{least_allocated,most_allocated,requested_to_capacity_ratio}.go)
def least_allocated(requested: int, capacity: int) -> int:
    """``(capacity - requested) * 100 / capacity``, 0 when over capacity (leastRequestedScore)."""
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * k8s.MAX_NODE_SCORE // capacity


def most_allocated(requested: int, capacity: int) -> int:
    """``min(requested, capacity) * 100 / capacity`` (mostRequestedScore)."""
    if capacity == 0:
        return 0
    return min(requested, capacity) * k8s.MAX_NODE_SCORE // capacity


def broken_linear(shape: tuple[tuple[int, int], ...], p: int) -> int:
    """helper/shape_score.go BuildBrokenLinearFunction: ``shape`` is ``((utilization, score), ...)``."""
    for i, (util, score) in enumerate(shape):
        if p <= util:
            if i == 0:
                return score
            prev_util, prev_score = shape[i - 1]
            return prev_score + go_div((score - prev_score) * (p - prev_util), util - prev_util)
    return shape[-1][1]


def requested_to_capacity_ratio(shape: tuple[tuple[int, int], ...], requested: int, capacity: int) -> int:
    """One resource's RequestedToCapacityRatio score; ``shape`` already scaled to 0..100."""
    if capacity == 0 or requested >= capacity:
        return broken_linear(shape, 100)
    return broken_linear(shape, requested * 100 // capacity)


@dataclass(frozen=True, slots=True)
class ScoringStrategy:
    """``NodeResourcesFitArgs.scoringStrategy``: type, cpu/memory weights and (for RTCR) the shape.

    ``shape`` is given as upstream's config: utilization 0..100 and score 0..10, e.g.
    ``((0, 0), (100, 10))`` packs (favours full nodes); it is scaled by 100/10 when scoring.
    """

    type: str = LEAST_ALLOCATED
    cpu_weight: int = 1
    memory_weight: int = 1
    shape: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        if self.type not in (LEAST_ALLOCATED, MOST_ALLOCATED, REQUESTED_TO_CAPACITY_RATIO):
            raise ValueError(
                f"unknown scoring strategy {self.type!r}: use LeastAllocated, MostAllocated or RequestedToCapacityRatio"
            )
        if self.type == REQUESTED_TO_CAPACITY_RATIO and not self.shape:
            raise ValueError("RequestedToCapacityRatio needs a shape, e.g. ((0, 0), (100, 10))")
        if self.cpu_weight < 0 or self.memory_weight < 0:
            raise ValueError("resource weights must not be negative")

    @property
    def scaled_shape(self) -> tuple[tuple[int, int], ...]:
        factor = k8s.MAX_NODE_SCORE // MAX_CUSTOM_PRIORITY_SCORE
        return tuple((util, score * factor) for util, score in self.shape)

    def score(self, cpu_requested: int, cpu_capacity: int, memory_requested: int, memory_capacity: int) -> int:
        """The node's Fit score from node-plus-pod non-zero requests (resource_allocation.go score)."""
        resources = (
            (cpu_requested, cpu_capacity, self.cpu_weight),
            (memory_requested, memory_capacity, self.memory_weight),
        )
        total = weight_sum = 0
        if self.type == REQUESTED_TO_CAPACITY_RATIO:
            shape = self.scaled_shape
            for requested, capacity, weight in resources:
                if capacity == 0:
                    continue
                s = requested_to_capacity_ratio(shape, requested, capacity)
                if s > 0:  # only positive resource scores enter the average (upstream quirk)
                    total += s * weight
                    weight_sum += weight
            return go_round(total / weight_sum) if weight_sum else 0
        scorer = least_allocated if self.type == LEAST_ALLOCATED else most_allocated
        for requested, capacity, weight in resources:
            if capacity == 0:
                continue
            total += scorer(requested, capacity) * weight
            weight_sum += weight
        return total // weight_sum if weight_sum else 0


def balanced_allocation_score(
    cpu_requested: int, cpu_capacity: int, memory_requested: int, memory_capacity: int
) -> int:
    """NodeResourcesBalancedAllocation (balanced_allocation.go, v1.35) from real node-plus-pod requests.

    ``score = int((1 - std) * 100)`` with ``std = |f_cpu - f_mem| / 2`` and ``f = min(req/alloc, 1)``.
    """
    fractions = []
    for requested, capacity in ((cpu_requested, cpu_capacity), (memory_requested, memory_capacity)):
        if capacity == 0:
            continue
        fraction = requested / capacity
        fractions.append(1.0 if fraction > 1 else fraction)
    std = abs((fractions[0] - fractions[1]) / 2) if len(fractions) == 2 else 0.0
    return int((1 - std) * k8s.MAX_NODE_SCORE)


# --- normalization (helper/normalize_score.go) -----------------------------------------------------
def default_normalize(scores: list[int], reverse: bool) -> list[int]:
    """DefaultNormalizeScore(100, reverse): scale to 0..100 by the maximum; all 100 (reverse) or kept when max is 0."""
    top = max(scores, default=0)
    if top == 0:
        return [k8s.MAX_NODE_SCORE] * len(scores) if reverse else list(scores)
    out = [k8s.MAX_NODE_SCORE * s // top for s in scores]
    return [k8s.MAX_NODE_SCORE - s for s in out] if reverse else out


# --- TaintToleration score (taint_toleration.go) ---------------------------------------------------
def untolerated_prefer_no_schedule(tolerations: tuple[Toleration, ...], taints: tuple[Taint, ...]) -> int:
    """How many PreferNoSchedule taints the pod's (PreferNoSchedule or any-effect) tolerations miss."""
    usable = tuple(t for t in tolerations if t.effect is None or t.effect == "PreferNoSchedule")
    return sum(1 for taint in taints if taint.effect == "PreferNoSchedule" and not _tolerated(usable, taint))


# --- PodTopologySpread (podtopologyspread/{common,filtering,scoring}.go) ----------------------------
@dataclass(frozen=True, slots=True)
class SpreadConstraint:
    """A spread constraint as the plugin evaluates it (selector already merged with matchLabelKeys).

    ``selector`` None matches nothing (upstream ``labels.Nothing``); an empty selector counts no pods
    but matches the incoming pod (upstream ``labels.Everything`` is "empty").
    """

    max_skew: int
    topology_key: str
    selector: LabelSelector | None
    min_domains: int = 1
    honor_affinity: bool = True
    honor_taints: bool = False

    def counts_pods(self) -> bool:
        return self.selector is not None and not self.selector.is_empty()

    def self_match(self, labels: Mapping[str, str]) -> int:
        return 1 if self.selector is not None and self.selector.matches(labels) else 0

    def includes(self, spec: PodSpec, name: str, labels: Mapping[str, str], taints: tuple[Taint, ...]) -> bool:
        """matchNodeInclusionPolicies: nodeAffinityPolicy Honor and nodeTaintsPolicy Honor."""
        if self.honor_affinity and not spec.node_selector_matches(name, labels):  # type: ignore[arg-type]
            return False
        if self.honor_taints:
            for taint in taints:
                if taint.effect in _FILTER_EFFECTS and not _tolerated(spec.tolerations, taint):
                    return False
        return True


def _with_label_keys(
    selector: LabelSelector | None, keys: tuple[str, ...], labels: Mapping[str, str]
) -> LabelSelector | None:
    extra = tuple(Requirement(key, "In", (labels[key],)) for key in keys if key in labels)
    if not extra:
        return selector
    base = selector or LabelSelector()
    return LabelSelector(base.match_labels, base.match_expressions + extra)


def spread_constraints(
    pod: Pod, action: str, owner_selector: LabelSelector | None, system_defaulted: bool = True
) -> tuple[SpreadConstraint, ...]:
    """The pod's constraints with ``whenUnsatisfiable == action`` (common.go filterTopologySpreadConstraints),
    or, when it declares none, the system defaults (ScheduleAnyway only) over its owner's selector."""
    spec = pod.spec
    if spec.topology_spread_constraints:
        return tuple(
            SpreadConstraint(
                max_skew=c.max_skew,
                topology_key=c.topology_key,
                selector=_with_label_keys(c.label_selector, c.match_label_keys, pod.labels),
                min_domains=c.min_domains if c.min_domains is not None else 1,
                honor_affinity=c.node_affinity_policy != "Ignore",
                honor_taints=c.node_taints_policy == "Honor",
            )
            for c in spec.topology_spread_constraints
            if c.when_unsatisfiable == action
        )
    if not system_defaulted or action != "ScheduleAnyway" or owner_selector is None or owner_selector.is_empty():
        return ()
    return tuple(SpreadConstraint(skew, key, owner_selector) for key, skew in SYSTEM_DEFAULT_CONSTRAINTS)


def spread_weight(size: int) -> float:
    """topologyNormalizingWeight: ``log(size + 2)``."""
    return math.log(size + 2)


def spread_raw_score(terms: Iterable[tuple[int, int, float]]) -> int:
    """Score(): ``round(Σ cnt·weight + (maxSkew - 1))`` over the constraints whose key the node has."""
    score = 0.0
    for count, max_skew, weight in terms:
        score += count * weight + float(max_skew - 1)
    return go_round(score)


def spread_normalize(raw: int, low: int, high: int) -> int:
    """NormalizeScore for a non-ignored node given the min and max raw over non-ignored feasible nodes."""
    if high == 0:
        return k8s.MAX_NODE_SCORE
    return k8s.MAX_NODE_SCORE * (high + low - raw) // high
