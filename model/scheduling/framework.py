"""A kube-scheduler-style framework scheduler: filter plugins, weighted score plugins, selectHost.

One scheduling decision, as upstream's ``schedulePod`` (kubernetes/kubernetes:pkg/scheduler/schedule_one.go):

1. **Filter** every node (``numFeasibleNodesToFind`` of them at most): Ready, NodeUnschedulable,
   NodeName, TaintToleration, NodeAffinity, NodeResourcesFit, PodTopologySpread (DoNotSchedule),
   InterPodAffinity (:mod:`~podquake.model.scheduling.interpod`).
2. No feasible node: the pod is unschedulable (``None``). Exactly one: it is chosen without scoring.
3. **Score** the feasible nodes with each enabled plugin, normalize, multiply by the plugin's weight
   and sum (the formulas are in :mod:`~podquake.model.scheduling.plugins`).
4. **selectHost**: among the nodes with the highest total, upstream picks uniformly at random
   (reservoir sampling). The model orders the tied nodes by node index and takes
   ``ties[rng.randrange(len(ties))]`` with the simulation's seeded generator; the generator is
   consumed only when two or more nodes tie. This rule is part of the model's contract: the fast
   path (``fastpath.py``) and the full scan here must pick the same node for the same state and rng.

Profiles (:class:`Profile`):

- :meth:`Profile.default`: upstream's default plugins and weights (TaintToleration 3, NodeAffinity 2,
  NodeResourcesFit 1 with LeastAllocated, PodTopologySpread 2 with the system default constraints,
  InterPodAffinity 2, NodeResourcesBalancedAllocation 1). ``percentageOfNodesToScore`` is 100, a legal kube-scheduler
  setting, so every feasible node is scored and a placement is a pure function of state and rng
  (upstream's adaptive default, 10% of 5,000 nodes, is available as ``percentage_of_nodes_to_score=0``;
  the scan then starts where the previous one stopped, as upstream's ``nextStartNodeIndex``, but runs
  sequentially where upstream filters in parallel).
- :meth:`Profile.least_allocated`: only NodeResourcesFit (LeastAllocated) scores; filters Ready,
  NodeUnschedulable, NodeName, TaintToleration, NodeAffinity, NodeResourcesFit and InterPodAffinity
  (a profile that turns score plugins off keeps upstream's filters; required anti-affinity is what
  keeps replicas apart).

Inter-pod affinity and the fast path: the fast path knows node classes and pod shapes, not other
pods' terms. A decision takes the full scan when the InterPodAffinity plugin would not skip it
(:func:`~podquake.model.scheduling.interpod.affects`): the pod has terms, or a placed pod's required
anti-affinity term matches it (and, when InterPodAffinity scores, a placed pod's required affinity or
preferred term). The store keeps the bound pods with terms apart (``pods_with_affinity``, upstream's
``PodsWithAffinity``), so while there are none a decision costs one dictionary test more.

PostFilter: when no node passes, the scheduler loop calls :meth:`FrameworkScheduler.post_filter`,
DefaultPreemption (:mod:`~podquake.model.scheduling.preemption`) when the profile's ``preemption``
is on (the default profile; not ``least_allocated``). While pods are nominated to nodes after a
preemption, a pod's own nominated node is tried first, and the filters count on each node the
nominated pods of higher or equal priority (only NodeResourcesFit reads them): those decisions take
the full scan, the rest the fast path as before.

Simplifications: no Reserve/Permit/binding cycle (the scheduler loop binds at once), and the
plugins listed in ``plugins.py`` as not modelled.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from podquake.model import constants as k8s
from podquake.model.objects import Node, Pod, PodSpec
from podquake.model.scheduling import interpod
from podquake.model.scheduling import plugins as p
from podquake.model.scheduling.preemption import DefaultPreemption, nominated_usage
from podquake.model.scheduling.preemption import fits as _fits
from podquake.model.selectors import LabelSelector

if TYPE_CHECKING:
    from podquake.model.store import ClusterState
    from podquake.model.views import ClusterView, PodView

__all__ = ["FrameworkScheduler", "Profile", "owner_selector"]

TAINT_TOLERATION = "TaintToleration"
NODE_AFFINITY = "NodeAffinity"
NODE_RESOURCES_FIT = "NodeResourcesFit"
POD_TOPOLOGY_SPREAD = "PodTopologySpread"
BALANCED_ALLOCATION = "NodeResourcesBalancedAllocation"
INTER_POD_AFFINITY = "InterPodAffinity"
SCORE_PLUGINS = (TAINT_TOLERATION, NODE_AFFINITY, NODE_RESOURCES_FIT, POD_TOPOLOGY_SPREAD, BALANCED_ALLOCATION, INTER_POD_AFFINITY)

# kubernetes/kubernetes:pkg/scheduler/apis/config/v1/default_plugins.go (score weights of the default profile;
# ImageLocality 1 is not modelled: it scores 0 on every node here).
DEFAULT_WEIGHTS = (
    (TAINT_TOLERATION, 3),
    (NODE_AFFINITY, 2),
    (NODE_RESOURCES_FIT, 1),
    (POD_TOPOLOGY_SPREAD, 2),
    (INTER_POD_AFFINITY, 2),
    (BALANCED_ALLOCATION, 1),
)


@dataclass(frozen=True)
class Profile:
    """A scheduling profile: which plugins run, their weights and their arguments."""

    name: str = "default-scheduler"
    weights: tuple[tuple[str, int], ...] = DEFAULT_WEIGHTS
    fit: p.ScoringStrategy = field(default_factory=p.ScoringStrategy)
    spread_filter: bool = True
    system_default_spreading: bool = True
    percentage_of_nodes_to_score: int = 100
    preemption: bool = True
    """Whether the DefaultPreemption PostFilter runs (:mod:`~podquake.model.scheduling.preemption`)."""
    inter_pod_filter: bool = True
    """Whether the InterPodAffinity filter runs (:mod:`~podquake.model.scheduling.interpod`)."""
    hard_pod_affinity_weight: int = interpod.HARD_POD_AFFINITY_WEIGHT
    """``InterPodAffinityArgs.hardPodAffinityWeight`` (0..100): the score an existing pod's required
    affinity term gives the nodes of its topology when the incoming pod matches it."""

    def __post_init__(self) -> None:
        unknown = [name for name, _ in self.weights if name not in SCORE_PLUGINS]
        if unknown:
            raise ValueError(f"unknown score plugin(s) {', '.join(unknown)}: use {', '.join(SCORE_PLUGINS)}")
        if any(weight < 0 for _, weight in self.weights):
            raise ValueError("score plugin weights must not be negative")
        if not 0 <= self.hard_pod_affinity_weight <= 100:
            raise ValueError("hard_pod_affinity_weight must be between 0 and 100")
        if not 0 <= self.percentage_of_nodes_to_score <= 100:
            raise ValueError("percentage_of_nodes_to_score must be between 0 (adaptive) and 100")

    @classmethod
    def default(cls, **changes: Any) -> Profile:
        return cls(**changes)

    @classmethod
    def least_allocated(cls, **changes: Any) -> Profile:
        base: dict[str, Any] = {
            "name": "least-allocated",
            "weights": ((NODE_RESOURCES_FIT, 1),),
            "spread_filter": False,
            "system_default_spreading": False,
            "preemption": False,
        }
        base.update(changes)
        return cls(**base)

    def weight(self, plugin: str) -> int:
        for name, weight in self.weights:
            if name == plugin:
                return weight
        return 0


def owner_selector(pod: Pod, state: ClusterState) -> LabelSelector | None:
    """The selector the system default spreading uses: the pod's ReplicaSet/StatefulSet/RC selector."""
    owner = pod.owner
    if owner is None or owner.kind not in p.DEFAULT_SPREAD_OWNER_KINDS:
        return None
    workload = state.workloads.get(owner.uid)
    return workload.selector if workload is not None else None


class FrameworkScheduler:
    """The framework scheduler over a :class:`Profile`. Implements the Scheduler protocol.

    ``attach(state)`` (called by the validating adapter) turns on the incremental fast path; without
    it, or for pods the fast path does not cover, every decision is :meth:`full_scan`, the reference.
    """

    def __init__(
        self,
        profile: Profile | None = None,
        rng: random.Random | None = None,
        *,
        fast_path: bool = True,
        name: str | None = None,
        engine: str | None = None,
    ) -> None:
        """``engine``: the fast path's index engines, "c" or "python" (None: each module's default, compiled when built).

        It chooses the LeastAllocated index's engine and the per-shape indexes' (``FastPath``).
        """
        self.profile = profile if profile is not None else Profile.default()
        self.name = name or self.profile.name
        self.rng = rng if rng is not None else random.Random(0)
        self.use_fast_path = fast_path
        self.engine = engine
        self.state: ClusterState | None = None
        self.fast: Any = None
        self.fast_decisions = 0
        self.full_scans = 0
        self.last_best: int | None = None  # the last full scan's best total and tie count (for tests)
        self.last_ties: int | None = None
        self._next_start = 0
        self.preemption: DefaultPreemption | None = None

    def attach(self, state: ClusterState) -> None:
        """Follow ``state`` (its watch events keep the fast path's caches current)."""
        if self.state is state:
            return
        self.state = state
        if self.use_fast_path:
            from podquake.model.scheduling.fastpath import FastPath

            self.fast = FastPath(self.profile, state, engine=self.engine)
        if self.profile.preemption:
            self.preemption = DefaultPreemption(self, state, self.rng)

    def post_filter(self, pod: Pod) -> str | None:
        """PostFilter, called by the scheduler loop when :meth:`schedule` found no node: DefaultPreemption
        when the profile enables it (it deletes victims and nominates a node, answered), else None.
        A built-in hook like ``attach``, not part of the plug-in contract."""
        preemption = self.preemption
        return preemption.post_filter(pod) if preemption is not None else None

    def schedule(self, pod: PodView, cluster: ClusterView) -> str | None:
        # The framework is a built-in: it reads the live objects behind the read-only views.
        live: Pod = pod._pod  # type: ignore[attr-defined]
        fast = self.fast
        if fast is not None:  # decide(), inlined: this is the hot path of every simulated scheduling
            if live.nominated_node_name is not None or self.state.nominated_pods:  # type: ignore[union-attr]
                return self._decide_with_nominations(live)
            if (live.spec.pod_affinity is not None or self.state.pods_with_affinity) and self._inter_pod(live):  # type: ignore[union-attr]
                self.full_scans += 1
                return self.full_scan(live, self.state)  # type: ignore[arg-type]
            answer = fast.schedule(live, self.rng)
            if answer is not fast.NOT_COVERED:
                self.fast_decisions += 1
                return answer  # type: ignore[no-any-return]
            self.full_scans += 1
            return self.full_scan(live, self.state)  # type: ignore[arg-type]
        if self.state is None:
            self.attach(cluster._state)  # type: ignore[attr-defined]
        return self.decide(live)

    def decide(self, pod: Pod) -> str | None:
        """The node for ``pod`` (a live pod of the attached state), or None."""
        assert self.state is not None
        if pod.nominated_node_name is not None or self.state.nominated_pods:
            return self._decide_with_nominations(pod)
        return self._decide(pod)

    def _inter_pod(self, pod: Pod) -> bool:
        """Whether InterPodAffinity may filter or score ``pod`` (then the full scan decides)."""
        assert self.state is not None
        scoring = self.profile.weight(INTER_POD_AFFINITY) > 0
        if not (self.profile.inter_pod_filter or scoring):
            return False
        return interpod.affects(pod, self.state.pods_with_affinity.values(), scoring)

    def _decide(self, pod: Pod) -> str | None:
        if self.fast is not None and (
            (pod.spec.pod_affinity is None and not self.state.pods_with_affinity) or not self._inter_pod(pod)  # type: ignore[union-attr]
        ):
            answer = self.fast.schedule(pod, self.rng)
            if answer is not self.fast.NOT_COVERED:
                self.fast_decisions += 1
                return answer  # type: ignore[no-any-return]
        self.full_scans += 1
        assert self.state is not None
        return self.full_scan(pod, self.state)

    # --- nominated pods (scheduler preemption) -------------------------------------------------------
    def _decide_with_nominations(self, pod: Pod) -> str | None:
        """A decision while pods are nominated to nodes (after a preemption).

        The pod's own nominated node is tried first and taken if it passes the filters
        (schedule_one.go ``evaluateNominatedNode``). Filters count, on each node, the pods nominated
        there of higher or equal priority than the pod (framework.go ``RunFilterPluginsWithNominatedPods``),
        so a lower-priority pod cannot take the room a preemption freed: the full scan decides then.
        """
        state = self.state
        assert state is not None
        name = pod.nominated_node_name
        if name is not None:
            node = state.nodes.get(name)
            if node is not None and self._passes(pod, node, nominated_usage(state, name, pod)):
                return name
        extra = {}
        priority, uid = pod.spec.priority, pod.uid
        for node_name, pods in state.nominated_pods.items():
            if any(q.spec.priority >= priority and q.uid != uid for q in pods.values()):
                extra[node_name] = nominated_usage(state, node_name, pod)
        if not extra:
            return self._decide(pod)
        self.full_scans += 1
        return self.full_scan(pod, state, extra)

    def _passes(self, pod: Pod, node: Node, nominated: tuple[int, int, int, int]) -> bool:
        """Whether ``node`` passes every filter for ``pod`` with the ``nominated`` pods counted there."""
        state = self.state
        assert state is not None
        if self.unresolvable(pod, node) or not _fits(pod.spec, node, more=nominated):
            return False
        spread = self._spread_filter_state(pod, state) if self.profile.spread_filter else None
        if spread is not None and not _spread_filter(spread, node):
            return False
        inter = self._inter_pod_filter_state(pod, state)
        return inter is None or inter.passes(node.labels)

    def _inter_pod_filter_state(self, pod: Pod, state: ClusterState) -> interpod.InterPodFilter | None:
        """InterPodAffinity's PreFilter (None: the plugin skips, or the profile leaves it out)."""
        if not self.profile.inter_pod_filter or (pod.spec.pod_affinity is None and not state.pods_with_affinity):
            return None
        carriers, everyone = interpod.state_pairs(state)
        return interpod.prefilter(pod, carriers, everyone)

    def unresolvable(self, pod: Pod, node: Node) -> bool:
        """Whether ``node`` fails a filter that removing pods cannot fix (UnschedulableAndUnresolvable):
        not Ready, cordoned, another NodeName, an untolerated taint, node affinity."""
        return not p.static_filter(pod.spec, node.name, node.labels, node.taints, node.unschedulable, node.ready)

    def preemption_nodes(self, pod: Pod) -> list[Node]:
        """The nodes preemption may free for ``pod``, in node order: those that pass every filter but
        NodeResourcesFit (preemption.go ``findCandidates``: status Unschedulable, not Unresolvable)."""
        state = self.state
        assert state is not None
        spread = self._spread_filter_state(pod, state) if self.profile.spread_filter else None
        named = _named_nodes(pod.spec, state)
        scan = named if named is not None else state.node_list
        return [
            node
            for node in scan
            if not self.unresolvable(pod, node) and (spread is None or _spread_filter(spread, node))
        ]

    # --- the reference: every plugin on every node --------------------------------------------------
    def full_scan(self, pod: Pod, state: ClusterState, nominated: Mapping[str, tuple[int, int, int, int]] | None = None) -> str | None:
        """Filter and score node by node, exactly as the plugins say. The fast path must agree with it.

        ``nominated``: node name -> the summed requests (pods, cpu, memory, ephemeral) of the pods
        nominated there that the pod's NodeResourcesFit filter counts as placed (see
        :meth:`_decide_with_nominations`)."""
        nodes = state.node_list
        count = len(nodes)
        if count == 0:
            return None
        spec = pod.spec
        want = p.num_feasible_nodes_to_find(count, self.profile.percentage_of_nodes_to_score)
        start = self._next_start % count if want < count else 0
        spread = self._spread_filter_state(pod, state) if self.profile.spread_filter else None
        inter = self._inter_pod_filter_state(pod, state)
        named = _named_nodes(spec, state) if want >= count else None
        scan = named if named is not None else [nodes[(start + step) % count] for step in range(count)]
        feasible: list[Node] = []
        processed = 0
        for node in scan:
            processed += 1
            if not p.static_filter(spec, node.name, node.labels, node.taints, node.unschedulable, node.ready):
                continue
            if nominated is None or node.name not in nominated:
                if not p.fit_filter(spec, node):
                    continue
            elif not _fits(spec, node, more=nominated[node.name]):
                continue
            if spread is not None and not _spread_filter(spread, node):
                continue
            if inter is not None and not inter.passes(node.labels):
                continue
            feasible.append(node)
            if len(feasible) >= want:
                break
        if want < count:
            self._next_start = (start + processed) % count
        self.last_best = self.last_ties = None
        if not feasible:
            return None
        if len(feasible) == 1:
            return feasible[0].name
        totals = self.score_nodes(pod, feasible, state)
        best = self.last_best = max(totals)
        ties = sorted(node.index for node, total in zip(feasible, totals) if total == best)
        self.last_ties = len(ties)
        chosen = ties[self.rng.randrange(len(ties))] if len(ties) > 1 else ties[0]
        return nodes[chosen].name

    def score_nodes(self, pod: Pod, feasible: list[Node], state: ClusterState) -> list[int]:
        """Weighted total score of each feasible node (the sum over score plugins)."""
        profile = self.profile
        spec = pod.spec
        totals = [0] * len(feasible)

        def add(weight: int, scores: list[int]) -> None:
            for i, score in enumerate(scores):
                totals[i] += weight * score

        weight = profile.weight(TAINT_TOLERATION)
        if weight:
            raw = [p.untolerated_prefer_no_schedule(spec.tolerations, n.taints) for n in feasible]
            add(weight, p.default_normalize(raw, reverse=True))
        weight = profile.weight(NODE_AFFINITY)
        affinity = spec.node_affinity
        if weight and affinity is not None and affinity.preferred:
            raw = [affinity.preferred_score(n.name, n.labels) for n in feasible]
            add(weight, p.default_normalize(raw, reverse=False))
        weight = profile.weight(NODE_RESOURCES_FIT)
        if weight:
            fit = profile.fit
            add(
                weight,
                [
                    fit.score(
                        n.nonzero_cpu + spec.nonzero_cpu,
                        n.allocatable.cpu_millis,
                        n.nonzero_memory + spec.nonzero_memory,
                        n.allocatable.memory_bytes,
                    )
                    for n in feasible
                ],
            )
        weight = profile.weight(BALANCED_ALLOCATION)
        req = spec.requests
        if weight and (req.cpu_millis or req.memory_bytes):  # best-effort pods: PreScore Skip
            add(
                weight,
                [
                    p.balanced_allocation_score(
                        n.requested_cpu + req.cpu_millis,
                        n.allocatable.cpu_millis,
                        n.requested_memory + req.memory_bytes,
                        n.allocatable.memory_bytes,
                    )
                    for n in feasible
                ],
            )
        weight = profile.weight(POD_TOPOLOGY_SPREAD)
        if weight:
            scores = self._spread_scores(pod, feasible, state)
            if scores is not None:
                add(weight, scores)
        weight = profile.weight(INTER_POD_AFFINITY)
        if weight and (spec.pod_affinity is not None or state.pods_with_affinity):
            carriers, everyone = interpod.state_pairs(state)
            raw = interpod.raw_scores(pod, feasible, carriers, everyone, profile.hard_pod_affinity_weight)
            if raw is not None:
                add(weight, interpod.normalize(raw))
        return totals

    # --- PodTopologySpread, node by node ------------------------------------------------------------
    def _spread_filter_state(self, pod: Pod, state: ClusterState) -> _SpreadFilter | None:
        """PreFilter (filtering.go calPreFilterState): matching-pod counts per domain over eligible nodes."""
        constraints = p.spread_constraints(pod, "DoNotSchedule", None, system_defaulted=False)
        if not constraints:
            return None
        spec = pod.spec
        keys = [c.topology_key for c in constraints]
        per_node = [_pod_counts(state, pod.namespace, c) for c in constraints]
        domains: list[dict[str, int]] = [{} for _ in constraints]
        for node in state.node_list:
            labels = node.labels
            if not all(key in labels for key in keys):
                continue
            for i, c in enumerate(constraints):
                if not c.includes(spec, node.name, labels, node.taints):
                    continue
                value = labels[c.topology_key]
                domains[i][value] = domains[i].get(value, 0) + per_node[i].get(node.name, 0)
        minimums = [min(d.values()) if d and len(d) >= c.min_domains else 0 for c, d in zip(constraints, domains)]
        selfs = [c.self_match(pod.labels) for c in constraints]
        return _SpreadFilter(constraints, domains, minimums, selfs)

    def _spread_scores(self, pod: Pod, feasible: list[Node], state: ClusterState) -> list[int] | None:
        """PreScore + Score + NormalizeScore (scoring.go). None when the plugin skips the pod."""
        spec = pod.spec
        constraints = p.spread_constraints(
            pod, "ScheduleAnyway", owner_selector(pod, state), self.profile.system_default_spreading
        )
        if not constraints:
            return None
        require_all = bool(spec.topology_spread_constraints) or not self.profile.system_default_spreading
        keys = [c.topology_key for c in constraints]
        ignored = [require_all and not all(key in n.labels for key in keys) for n in feasible]
        kept = [n for n, skip in zip(feasible, ignored) if not skip]
        domains: list[dict[str, int]] = []
        weights = []
        for c in constraints:
            values = {} if c.topology_key == k8s.LABEL_HOSTNAME else {n.labels.get(c.topology_key, ""): 0 for n in kept}
            domains.append(values)
            weights.append(p.spread_weight(len(kept) if c.topology_key == k8s.LABEL_HOSTNAME else len(values)))
        per_node = [_pod_counts(state, pod.namespace, c) for c in constraints]
        for node in state.node_list:
            labels = node.labels
            if require_all and not all(key in labels for key in keys):
                continue
            for i, c in enumerate(constraints):
                if c.topology_key == k8s.LABEL_HOSTNAME or not c.includes(spec, node.name, labels, node.taints):
                    continue
                value = labels.get(c.topology_key, "")
                if value in domains[i]:
                    domains[i][value] += per_node[i].get(node.name, 0)
        raws = []
        for node, skip in zip(feasible, ignored):
            if skip:
                raws.append(0)
                continue
            terms = []
            for i, c in enumerate(constraints):
                value = node.labels.get(c.topology_key)
                if value is None:
                    continue
                count = per_node[i].get(node.name, 0) if c.topology_key == k8s.LABEL_HOSTNAME else domains[i][value]
                terms.append((count, c.max_skew, weights[i]))
            raws.append(p.spread_raw_score(terms))
        considered = [raw for raw, skip in zip(raws, ignored) if not skip]
        if not considered:
            return [0] * len(feasible)
        low, high = min(considered), max(max(considered), 0)
        return [0 if skip else p.spread_normalize(raw, low, high) for raw, skip in zip(raws, ignored)]


def _named_nodes(spec: PodSpec, state: ClusterState) -> list[Node] | None:
    """The only nodes the NodeName and NodeAffinity filters can pass, in node order, when the pod names them.

    A DaemonSet pod names its node with ``matchFields: metadata.name In [node]``; checking that one
    node instead of all of them gives the same feasible set, so the same decision, much sooner.
    """
    names: set[str] | None = {spec.node_name} if spec.node_name is not None else None
    affinity = spec.node_affinity
    if affinity is not None and affinity.required is not None:
        allowed: set[str] = set()
        for term in affinity.required:
            fixed: set[str] | None = None
            for requirement in term.match_fields:
                if requirement.key == "metadata.name" and requirement.operator == "In":
                    fixed = set(requirement.values) if fixed is None else fixed & set(requirement.values)
            if fixed is None:
                return None if names is None else _in_order(names, state)  # this term may match any node
            allowed |= fixed
        names = allowed if names is None else names & allowed
    return None if names is None else _in_order(names, state)


def _in_order(names: set[str], state: ClusterState) -> list[Node]:
    return sorted((state.nodes[name] for name in names if name in state.nodes), key=lambda node: node.index)


@dataclass(slots=True)
class _SpreadFilter:
    constraints: tuple[p.SpreadConstraint, ...]
    domains: list[dict[str, int]]
    minimums: list[int]
    selfs: list[int]


def _spread_filter(spread: _SpreadFilter, node: Node) -> bool:
    """Filter (filtering.go): ``matchNum(domain) + selfMatch - minMatch <= maxSkew`` for every constraint."""
    labels = node.labels
    for c, domains, minimum, self_match in zip(spread.constraints, spread.domains, spread.minimums, spread.selfs):
        value = labels.get(c.topology_key)
        if value is None:
            return False
        if domains.get(value, 0) + self_match - minimum > c.max_skew:
            return False
    return True


def _pod_counts(state: ClusterState, namespace: str, constraint: p.SpreadConstraint) -> Mapping[str, int]:
    """Bound, non-terminating pods of ``namespace`` matching the constraint's selector, per node name."""
    if not constraint.counts_pods():
        return {}
    assert constraint.selector is not None
    counts: dict[str, int] = {}
    for other in state.pods_matching(namespace, constraint.selector):
        if other.node_name is not None and other.deletion_timestamp is None:
            counts[other.node_name] = counts.get(other.node_name, 0) + 1
    return counts
