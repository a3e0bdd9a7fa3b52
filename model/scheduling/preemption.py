"""Scheduler preemption: kube-scheduler's DefaultPreemption PostFilter plugin.

When no node passes the filters, upstream's scheduling cycle runs the PostFilter plugins; the
default profile's is DefaultPreemption
(kubernetes/kubernetes:pkg/scheduler/framework/plugins/defaultpreemption/default_preemption.go), whose
``Evaluator.Preempt`` (pkg/scheduler/framework/preemption/preemption.go) does, in this order:

1. **PodEligibleToPreemptOthers.** A pod with ``preemptionPolicy: Never`` does not preempt. A pod
   that already has a ``nominatedNodeName`` does not preempt again while a lower-priority pod on that
   node is terminating *because of preemption* (``podTerminatingByPreemption``: the DisruptionTarget
   condition with reason PreemptionByScheduler; here, a victim this preemption deleted); unless its
   nominated node now fails a filter that removing pods cannot fix (UnschedulableAndUnresolvable).
   Either way the nomination is kept.
2. **Candidate nodes** (``findCandidates``): only the nodes whose failure removing pods can resolve
   (status Unschedulable). In the model: nodes that pass every filter but NodeResourcesFit (Ready,
   cordon, NodeName, taints, node affinity, and the DoNotSchedule spread constraints as they stand).
   A node that is not Ready, cordoned, tainted against the pod or outside its affinity is not helped.
3. **Dry run** (``DryRunPreemption``), from a random offset into the candidate nodes, until
   ``max(10% of them, 100)`` candidates are found (``DefaultPreemptionArgs``
   minCandidateNodesPercentage 10, minCandidateNodesAbsolute 100, pkg/scheduler/apis/config/v1/
   defaults.go) and at least one violates no PodDisruptionBudget. On each node,
   **SelectVictimsOnNode**: remove every pod of lower priority; if the pod still does not fit, the
   node is no candidate; else add the removed pods back, most important first (``MoreImportantPod``:
   higher priority, then earlier start), those whose eviction would violate a budget first
   (``filterPodsWithPDBViolation``), keeping each that still leaves room. The rest are the victims.
4. **pickOneNodeForPreemption**: fewest budget violations, then the lowest highest-victim priority,
   the smallest sum of victim priorities (each + 2^31), the fewest victims, the latest start among
   the highest-priority victims, then the first.
5. **prepareCandidate**: lower-priority pods nominated to that node lose their nomination (the
   scheduler loop retries them); each victim not already terminating is deleted gracefully (its
   ``terminationGracePeriodSeconds``; a ``PodPreempted`` event, then ``PodDeletionRequested`` with
   reason PreemptionByScheduler, upstream's DisruptionTarget reason); the preemptor gets
   ``status.nominatedNodeName``. It binds when a later attempt finds room: the scheduler tries the
   nominated node first (schedule_one.go ``evaluateNominatedNode``), and every other pod's filters
   count the nominated pods of higher or equal priority on their node
   (pkg/scheduler/framework/runtime/framework.go ``RunFilterPluginsWithNominatedPods``), so a pod
   of lower priority cannot take the room first.

When no candidate is found, the pod's nomination is cleared (``NewPostFilterResultWithNominatedNode("")``).

Simplification: inter-pod affinity is ignored here. Upstream's dry run removes the victims through
the InterPodAffinity PreFilter extension (``RemovePod``), so evicting a pod can lift the
anti-affinity that blocked a node, and a node the pod's own required terms exclude is no candidate;
the model's candidates are the nodes that fail only on room, judged without the InterPodAffinity
filter, and no victim is chosen to clear an anti-affinity conflict. The nominated node is filtered
with InterPodAffinity before the preemptor binds there, so such a nomination never breaks a
required term: the pod goes to another node that passes every filter, or stays Pending.

Determinism: the offset is drawn from the scheduler's seeded generator (one ``randrange`` per dry
run over two or more nodes); candidates are tried in node order from it, and the last tie-break is the
first candidate in that order. Upstream dry-runs in parallel and its final tie-break is the first of a
Go map's (random) iteration order, so which of equally good nodes wins is random there and seeded here.

Simplifications, on purpose: only NodeResourcesFit is re-evaluated with victims removed and nominated
pods added (pods, CPU, memory, ephemeral storage); a node that fails its spread constraints now is no
candidate (upstream also tries removing the matching victims), and nominated pods do not enter the
spread counts. There are no extenders, Permit-waiting pods or pod groups (workload-aware preemption).
The API calls are instantaneous, so asynchronous preemption (the preemptor held back by PreEnqueue
until the deletions are sent) is the same as the synchronous one.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from podquake.model import trace as ev
from podquake.model.objects import Node, Pod, PodSpec
from podquake.model.resources_api import PodDisruptionBudget
from podquake.model.selectors import LabelSelector
from podquake.model.store import ClusterState, delete_pod

__all__ = [
    "PREEMPTION_REASON",
    "Budget",
    "Candidate",
    "DefaultPreemption",
    "fits",
    "nominated_usage",
    "pick_one_node",
    "select_victims",
]

#: upstream ``v1.PodReasonPreemptionByScheduler``: the reason a victim's deletion is recorded with
PREEMPTION_REASON = "PreemptionByScheduler"
# kubernetes/kubernetes:pkg/scheduler/apis/config/v1/defaults.go (DefaultPreemptionArgs)
MIN_CANDIDATE_NODES_PERCENTAGE = 10
MIN_CANDIDATE_NODES_ABSOLUTE = 100
_PRIORITY_SHIFT = 2**31  # math.MaxInt32 + 1: makes every priority >= 0 in the sum criterion

Usage = tuple[int, int, int, int]
"""Pods, CPU millis, memory bytes, ephemeral-storage bytes."""
NONE: Usage = (0, 0, 0, 0)


class NodeFilters(Protocol):
    """What preemption asks of the scheduler it belongs to (:class:`~podquake.model.scheduling.framework.FrameworkScheduler`)."""

    def preemption_nodes(self, pod: Pod) -> list[Node]: ...

    def unresolvable(self, pod: Pod, node: Node) -> bool: ...


# --- resources ---------------------------------------------------------------------------------
def usage(pods: Iterable[Pod]) -> Usage:
    """The summed requests of ``pods`` (each counts one pod slot)."""
    count = cpu = memory = ephemeral = 0
    for pod in pods:
        req = pod.spec.requests
        count += 1
        cpu += req.cpu_millis
        memory += req.memory_bytes
        ephemeral += req.ephemeral_storage_bytes
    return count, cpu, memory, ephemeral


def fits(spec: PodSpec, node: Node, less: Usage = NONE, more: Usage = NONE) -> bool:
    """NodeResourcesFit's Filter (:func:`~podquake.model.scheduling.plugins.fit_filter`) on ``node``
    with the pods of ``less`` removed and those of ``more`` added."""
    alloc = node.allocatable
    if len(node.pods) - less[0] + more[0] + 1 > alloc.pods:
        return False
    req = spec.requests
    if node.requested_cpu - less[1] + more[1] + req.cpu_millis > alloc.cpu_millis:
        return False
    if node.requested_memory - less[2] + more[2] + req.memory_bytes > alloc.memory_bytes:
        return False
    eph = req.ephemeral_storage_bytes
    if eph and alloc.ephemeral_storage_bytes:
        return node.requested_ephemeral - less[3] + more[3] + eph <= alloc.ephemeral_storage_bytes
    return True


def nominated_usage(state: ClusterState, node_name: str, pod: Pod) -> Usage:
    """The requests of the pods nominated to ``node_name`` whose priority is at least ``pod``'s, other
    than ``pod`` (framework.go ``addGENominatedPods``): what the pod's filters count as placed there."""
    nominated = state.nominated_pods.get(node_name)
    if not nominated:
        return NONE
    priority = pod.spec.priority
    return usage(q for q in nominated.values() if q.spec.priority >= priority and q.uid != pod.uid)


# --- victims -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Budget:
    """A PodDisruptionBudget as preemption reads it: namespace, selector, ``status.disruptionsAllowed``
    (0 before its first status) and the names in ``status.disruptedPods``."""

    namespace: str
    selector: LabelSelector | None
    allowed: int
    disrupted: frozenset[str] = frozenset()

    def selects(self, pod: Pod) -> bool:
        """A budget with a nil or empty selector matches nothing here (filterPodsWithPDBViolation),
        although the eviction API reads an empty policy/v1 selector as every pod."""
        selector = self.selector
        return self.namespace == pod.namespace and selector is not None and not selector.is_empty() and selector.matches(pod.labels)


def budgets(state: ClusterState) -> list[Budget]:
    """Every PodDisruptionBudget of the cluster with its status (``getPodDisruptionBudgets``)."""
    found = []
    for (kind, namespace, name), obj in state.objects.items():
        if kind != "PodDisruptionBudget" or not isinstance(obj, PodDisruptionBudget):
            continue
        status = state.pdb_status.get((namespace, name))
        allowed = status.disruptions_allowed if status is not None else 0
        disrupted = frozenset(pod for pod, _ in status.disrupted_pods) if status is not None else frozenset()
        found.append(Budget(namespace, obj.selector, allowed, disrupted))
    return found


def split_by_budget(pods: Sequence[Pod], pdbs: Sequence[Budget]) -> tuple[list[Pod], list[Pod]]:
    """``filterPodsWithPDBViolation``: (pods whose eviction would take a budget below zero, the rest),
    each in the given order. Every matching budget not already counting the pod as disrupted is
    charged one disruption per pod, in order."""
    allowed = [pdb.allowed for pdb in pdbs]
    violating: list[Pod] = []
    other: list[Pod] = []
    for pod in pods:
        violated = False
        if pod.labels:  # a pod without labels matches no budget
            for i, pdb in enumerate(pdbs):
                if not pdb.selects(pod) or pod.name in pdb.disrupted:
                    continue
                allowed[i] -= 1
                if allowed[i] < 0:
                    violated = True
        (violating if violated else other).append(pod)
    return violating, other


def start_time(pod: Pod, now: float) -> float:
    """``status.startTime`` as the model has it (when the pod was bound, as the HPA reads it); now for
    a pod without one (pkg/scheduler/util/utils.go ``GetPodStartTime``)."""
    return pod.bound_at if pod.bound_at is not None else now


def importance(pod: Pod, now: float) -> tuple[int, float]:
    """Sort key, most important first (``MoreImportantPod``): higher priority, then earlier start."""
    return -pod.spec.priority, start_time(pod, now)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A node where preemption makes room: its victims (most important first) and how many of them
    a PodDisruptionBudget forbids evicting."""

    node: Node
    victims: tuple[Pod, ...]
    pdb_violations: int


def select_victims(pod: Pod, node: Node, nominated: Usage, pdbs: Sequence[Budget], now: float) -> Candidate | None:
    """``SelectVictimsOnNode``: the fewest pods of lower priority to remove from ``node`` for ``pod`` to
    fit (with the pods ``nominated`` there counted), or None when removing them all does not help."""
    priority = pod.spec.priority
    potential = [q for q in node.pods.values() if q.spec.priority < priority]
    if not potential:
        return None
    spec = pod.spec
    count, cpu, memory, ephemeral = usage(potential)
    if not fits(spec, node, (count, cpu, memory, ephemeral), nominated):
        return None
    potential.sort(key=lambda q: importance(q, now))
    violating, other = split_by_budget(potential, pdbs)
    victims: list[Pod] = []
    violations = 0
    for group, breaks_budget in ((violating, True), (other, False)):
        for q in group:  # reprieve q: put it back and keep it if the pod still fits
            req = q.spec.requests
            less = (count - 1, cpu - req.cpu_millis, memory - req.memory_bytes, ephemeral - req.ephemeral_storage_bytes)
            if fits(spec, node, less, nominated):
                count, cpu, memory, ephemeral = less
            else:
                victims.append(q)
                violations += breaks_budget
    if not victims:
        return None
    if violating and other:
        victims.sort(key=lambda q: importance(q, now))
    return Candidate(node, tuple(victims), violations)


def pick_one_node(candidates: Sequence[Candidate], now: float) -> Candidate:
    """``pickOneNodeForPreemption``: each criterion keeps the best-scoring candidates until one is left."""

    def highest(c: Candidate) -> int:
        return c.victims[0].spec.priority

    def latest_start(c: Candidate) -> float:  # GetEarliestPodStartTime among the highest-priority victims
        top = highest(c)
        return min(start_time(q, now) for q in c.victims if q.spec.priority == top)

    criteria = (
        lambda c: -c.pdb_violations,
        lambda c: -highest(c),
        lambda c: -sum(q.spec.priority + _PRIORITY_SHIFT for q in c.victims),
        lambda c: -len(c.victims),
        latest_start,
    )
    remaining = list(candidates)
    for score in criteria:
        if len(remaining) == 1:
            break
        best = max(score(c) for c in remaining)
        remaining = [c for c in remaining if score(c) == best]
    return remaining[0]


def candidates_to_find(potential: int) -> int:
    """``calculateNumCandidates``: 10% of the potential nodes, at least 100, at most all of them."""
    return min(max(potential * MIN_CANDIDATE_NODES_PERCENTAGE // 100, MIN_CANDIDATE_NODES_ABSOLUTE), potential)


# --- the plugin --------------------------------------------------------------------------------
class DefaultPreemption:
    """The PostFilter of a framework scheduler whose profile enables preemption. See the module docstring.

    ``post_filter(pod)`` is called by the scheduler loop after the scheduler found no node for ``pod``;
    it answers the node it nominated (victims deleted, nomination recorded) or None.
    """

    def __init__(self, scheduler: NodeFilters, state: ClusterState, rng: random.Random) -> None:
        self.scheduler = scheduler
        self.state = state
        self.rng = rng
        self.attempts = 0  # dry runs made (for tests)
        self._preempted: set[str] = set()  # uids of the victims this preemption deleted
        # The lowest priority of any pod created so far: a pod of that priority or lower has nothing to
        # preempt, which decides most attempts at once (every pod has priority 0 unless told otherwise).
        self._lowest = min((q.spec.priority for q in state.pods.values()), default=None)
        state.watch(ev.PodCreated, self._on_pod_created)

    def _on_pod_created(self, event: ev.PodCreated) -> None:
        pod = self.state.pods_by_key.get(event.pod)  # an earlier watcher may have removed it already
        if pod is not None and (self._lowest is None or pod.spec.priority < self._lowest):
            self._lowest = pod.spec.priority

    def post_filter(self, pod: Pod) -> str | None:
        """Preempt for ``pod`` if it may and it helps: the nominated node's name, else None."""
        if pod.spec.preemption_policy == "Never":
            return None  # not eligible: its nomination, if any, is kept
        nominated = pod.nominated_node_name
        if nominated is not None and self._awaiting_victims(pod, nominated):
            return None
        lowest = self._lowest
        if lowest is None or pod.spec.priority <= lowest:  # no pod of lower priority exists
            return self._no_candidate(pod)
        potential = self.scheduler.preemption_nodes(pod)
        if not potential:
            return self._no_candidate(pod)
        candidates = self._dry_run(pod, potential)
        if not candidates:
            return self._no_candidate(pod)
        best = pick_one_node(candidates, self.state.clock())
        self._prepare(pod, best)
        return best.node.name

    def _awaiting_victims(self, pod: Pod, node_name: str) -> bool:
        """Whether a lower-priority pod on the nominated node is still terminating by preemption (then
        the pod waits for it rather than preempting again); False when the node is gone or fails a
        filter that removing pods cannot fix."""
        node = self.state.nodes.get(node_name)
        if node is None or self.scheduler.unresolvable(pod, node):
            return False
        priority = pod.spec.priority
        preempted = self._preempted
        for q in node.pods.values():
            if q.deletion_timestamp is not None and q.uid in preempted and q.spec.priority < priority:
                return True
        return False

    def _dry_run(self, pod: Pod, potential: list[Node]) -> list[Candidate]:
        """``DryRunPreemption`` from a seeded random offset; budget-respecting candidates first."""
        self.attempts += 1
        state = self.state
        now = state.clock()
        total = len(potential)
        wanted = candidates_to_find(total)
        offset = self.rng.randrange(total) if total > 1 else 0
        pdbs = budgets(state)
        clean: list[Candidate] = []
        violating: list[Candidate] = []
        for step in range(total):
            node = potential[(offset + step) % total]
            found = select_victims(pod, node, nominated_usage(state, node.name, pod), pdbs, now)
            if found is None:
                continue
            target = violating if found.pdb_violations else clean
            if len(target) < wanted:
                target.append(found)
            if clean and len(clean) + len(violating) >= wanted:
                break
        return clean + violating

    def _prepare(self, pod: Pod, best: Candidate) -> None:
        """``prepareCandidate``: clear lower-priority nominations on the node, delete the victims, nominate."""
        state = self.state
        name = best.node.name
        priority = pod.spec.priority
        for other in list(state.nominated_pods.get(name, {}).values()):
            if other.spec.priority < priority:
                state.set_nominated_node(other.uid, None)
        self._preempted = {uid for uid in self._preempted if uid in state.pods}
        for victim in best.victims:
            if victim.deletion_timestamp is not None:
                continue  # already terminating: upstream sends no second delete
            state.record_preempted(victim.uid, pod.uid, name)
            self._preempted.add(victim.uid)
            delete_pod(state, victim, PREEMPTION_REASON)
        if state.pods.get(pod.uid) is pod and pod.node_name is None:
            state.set_nominated_node(pod.uid, name)

    def _no_candidate(self, pod: Pod) -> None:
        """Preemption cannot help: the pod's nomination, if any, is cleared."""
        if pod.nominated_node_name is not None:
            self.state.set_nominated_node(pod.uid, None)
