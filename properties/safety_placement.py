"""Safety of placement: where pods are bound and where their containers run.

Five properties, each judged on the binding (or container) event itself, from the ledger's picture
of the cluster at that instant:

- ``no-overcommit``: the node's summed requests stay within allocatable;
- ``single-binding``: a pod is bound once per life, and its containers run on that node only;
- ``schedulable-nodes-only``: the node existed, was Ready, not cordoned and carried no taint the
  pod does not tolerate;
- ``scheduler-contract``: the scheduler plug-in never broke its contract (the validating adapter
  records each breach as a ``SchedulerContractViolation`` event);
- ``inter-pod-affinity``: the node honours the pod's required inter-pod affinity and anti-affinity,
  and the required anti-affinity of the pods already placed (kube-scheduler's InterPodAffinity filter).

>>> from podquake.model import trace as ev
>>> from podquake.properties.monitor import check_trace
>>> events = [ev.NodeAdded(0.0, "worker-1", "zone-a", 4000, 8 << 30, 110),
...           ev.NodeCordoned(1.0, "worker-1", True),
...           ev.PodCreated(2.0, "default/web-0", "", 100, 1 << 20),
...           ev.PodBound(3.0, "default/web-0", "worker-1")]
>>> print(check_trace(events, [SchedulableNodesOnly()])[0].line())
FAILED schedulable-nodes-only at t=3s: pod default/web-0 was bound to node worker-1, which is cordoned (unschedulable) and the pod does not tolerate node.kubernetes.io/unschedulable:NoSchedule [pod/default/web-0, node/worker-1] ready=True cordoned=1
"""

from __future__ import annotations

from collections.abc import Iterable

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.objects import PodAffinityTerm
from podquake.model.selectors import Taint, Toleration
from podquake.properties.base import Property
from podquake.properties.ledger import Ledger, LedgerNode, LedgerPod
from podquake.properties.registry import register

__all__ = [
    "InterPodAffinityHonoured",
    "NoOvercommit",
    "SingleBinding",
    "SchedulableNodesOnly",
    "SchedulerContract",
    "binding_problems",
    "inter_pod_problem",
]

_BLOCKING_EFFECTS = ("NoSchedule", "NoExecute")
# The NoSchedule taint the node lifecycle controller puts on a node for each Ready status
# (TaintNodesByCondition, kubernetes/kubernetes:pkg/controller/nodelifecycle/node_lifecycle_controller.go).
_CONDITION_TAINT = {"False": k8s.TAINT_NOT_READY, "Unknown": k8s.TAINT_UNREACHABLE}


@register
class NoOvercommit(Property):
    """On every node, the bound pods' requests never exceed allocatable: CPU, memory and pod count.

    Catches: a scheduler that packs pods past a node's allocatable, which on a real node means CPU
    starvation, OOM kills of innocent pods and kubelet admission failures. A pod bound by its own
    ``spec.nodeName`` (``Ledger.named_binding``) is not judged: no scheduler placed it, and the node's
    kubelet rejects it (phase Failed, ``OutOfcpu``, ...) if it does not fit, as upstream's does.
    """

    id = "no-overcommit"
    kind = "safety"
    description = "On every node, bound pods' requests never exceed allocatable (CPU, memory, pod count)."
    catches = "A scheduler that over-packs a node: CPU starvation, OOM kills, kubelet admission rejections."

    def on_PodBound(self, event: ev.PodBound, ledger: Ledger) -> None:
        node = ledger.nodes.get(event.node)
        if node is None:
            return  # binding to a missing node is schedulable-nodes-only's to judge
        pod = ledger.pods.get(event.pod)
        if pod is not None and ledger.named_binding(pod, event.node):
            return  # its spec.nodeName put it there; the kubelet admits or rejects it
        over = []
        if node.requested_cpu > node.allocatable_cpu:
            over.append(f"{node.requested_cpu}m CPU of {node.allocatable_cpu}m")
        if node.requested_memory > node.allocatable_memory:
            over.append(f"{node.requested_memory} bytes of memory of {node.allocatable_memory}")
        if len(node.pods) > node.allocatable_pods:
            over.append(f"{len(node.pods)} pods of {node.allocatable_pods}")
        if over:
            self.violate(
                f"binding {event.pod} put node {node.name} over allocatable: {'; '.join(over)}",
                event.t,
                objects=(f"node/{node.name}", f"pod/{event.pod}"),
                numbers={
                    "requested_cpu_millis": node.requested_cpu,
                    "allocatable_cpu_millis": node.allocatable_cpu,
                    "requested_memory_bytes": node.requested_memory,
                    "allocatable_memory_bytes": node.allocatable_memory,
                    "pods": len(node.pods),
                    "allocatable_pods": node.allocatable_pods,
                },
            )


@register
class SingleBinding(Property):
    """A pod is bound to at most one node in its life, and its containers run only on that node.

    A second ``PodBound`` for the same pod with no ``PodDeleted`` in between is a breach (even to
    the same node: a binding is written once, upstream's ``pods/binding`` refuses a bound pod). A
    ``ContainerStarted`` whose node differs from the pod's binding, or for a pod that is not bound
    (never, or no longer: it was deleted), is a breach too. A pod deleted and created again under
    the same name (a StatefulSet's) starts a new life. A ``ContainerStarted`` that names no node
    (traces that predate the field) is judged on the binding alone.
    """

    id = "single-binding"
    kind = "safety"
    description = "A pod is bound to at most one node, and its containers run only there."
    catches = (
        "Split brain on a pod: a lost binding answer retried onto a second node, or a kubelet that keeps "
        "running (or starts) containers of a pod that moved, so two copies of one identity run at once."
    )

    def __init__(self, **overrides: object) -> None:
        super().__init__(**overrides)
        self._bound: dict[str, tuple[str, float]] = {}  # pod key -> (node, bound at)

    def on_PodBound(self, event: ev.PodBound, ledger: Ledger) -> None:
        earlier = self._bound.get(event.pod)
        if earlier is not None:
            node, at = earlier
            self.violate(
                f"pod {event.pod} was bound to node {event.node} while still bound to node {node} (since t={at:g}s)",
                event.t,
                objects=(f"pod/{event.pod}", f"node/{node}", f"node/{event.node}"),
                numbers={"first_node": node, "first_bound_at": at, "second_node": event.node},
            )
        self._bound[event.pod] = (event.node, event.t)

    def on_PodDeleted(self, event: ev.PodDeleted, ledger: Ledger) -> None:
        self._bound.pop(event.pod, None)

    def on_ContainerStarted(self, event: ev.ContainerStarted, ledger: Ledger) -> None:
        bound = self._bound.get(event.pod)
        where = f" on node {event.node}" if event.node else ""
        if bound is None:
            self.violate(
                f"container {event.container} of pod {event.pod} started{where}, but the pod is not bound to any node",
                event.t,
                objects=(f"pod/{event.pod}",) + ((f"node/{event.node}",) if event.node else ()),
                numbers={"container": event.container, "restart_count": event.restart_count},
            )
        elif event.node and event.node != bound[0]:
            self.violate(
                f"container {event.container} of pod {event.pod} started on node {event.node}, but the pod is bound to node {bound[0]}",
                event.t,
                objects=(f"pod/{event.pod}", f"node/{bound[0]}", f"node/{event.node}"),
                numbers={"container": event.container, "bound_node": bound[0], "started_node": event.node},
            )


def _tolerated(tolerations: tuple[Toleration, ...], taint: Taint) -> bool:
    """Whether ``taint`` is tolerated. A taint the trace recorded through ``NodeTainted`` carries no
    value (the event has none; the ledger marks such taints with ``added_at``), so an ``Equal``
    toleration of its key and effect counts whatever its value: the property never fails a binding
    for want of a value the trace does not hold."""
    for toleration in tolerations:
        if toleration.tolerates(taint):
            return True
        value_unknown = taint.added_at is not None and toleration.operator == "Equal"
        if value_unknown and toleration.key == taint.key and toleration.effect in (None, taint.effect):
            return True
    return False


def binding_problems(node: LedgerNode, tolerations: tuple[Toleration, ...]) -> list[str]:
    """Why a new binding to ``node`` is illegal for a pod with ``tolerations`` (empty when it is legal).

    The rules are kube-scheduler's filters: a NotReady node is refused through the NoSchedule taint
    the control plane puts on it for its Ready status (``not-ready`` for False, ``unreachable`` for
    Unknown), so a pod tolerating that taint may go there; NodeUnschedulable refuses a cordoned node
    unless the pod tolerates ``node.kubernetes.io/unschedulable:NoSchedule`` (DaemonSet pods do, the
    DaemonSet controller adds it); TaintToleration refuses an untolerated NoSchedule or NoExecute
    taint (kubernetes/kubernetes:pkg/scheduler/framework/plugins/{nodeunschedulable,tainttoleration}).

    >>> node = LedgerNode("w1", "zone-a", {}, 4000, 1 << 30, 110, ready="Unknown")
    >>> binding_problems(node, ())
    ['NotReady (Ready=Unknown) and the pod does not tolerate node.kubernetes.io/unreachable:NoSchedule']
    >>> binding_problems(node, (Toleration("node.kubernetes.io/unreachable", "Exists", effect="NoSchedule"),))
    []
    """
    problems = []
    if node.ready != "True":
        key = _CONDITION_TAINT.get(node.ready, k8s.TAINT_NOT_READY)
        if not _tolerated(tolerations, Taint(key, "", "NoSchedule")):
            problems.append(f"NotReady (Ready={node.ready}) and the pod does not tolerate {key}:NoSchedule")
    if node.unschedulable and not _tolerated(tolerations, Taint(k8s.TAINT_UNSCHEDULABLE, "", "NoSchedule")):
        problems.append(f"cordoned (unschedulable) and the pod does not tolerate {k8s.TAINT_UNSCHEDULABLE}:NoSchedule")
    for taint in node.taints:
        if taint.effect in _BLOCKING_EFFECTS and not _tolerated(tolerations, taint):
            shown = f"{taint.key}={taint.value}" if taint.value else taint.key
            problems.append(f"tainted {shown}:{taint.effect}, which the pod does not tolerate")
    return problems


@register
class SchedulableNodesOnly(Property):
    """No new binding goes to a node that is missing, NotReady, cordoned, or carries a NoSchedule or
    NoExecute taint the pod does not tolerate.

    The pod's tolerations come from its recorded spec (``PodSpecDefined``), which holds the ones
    admission and the DaemonSet controller added: DaemonSet pods tolerate
    ``node.kubernetes.io/unschedulable:NoSchedule`` and so may go to cordoned nodes. A node's
    readiness is the control plane's view (``NodeReadyChanged``), not whether the machine is up:
    binding to a powered-off node the control plane still thinks Ready is no fault of the scheduler.

    A pod created with ``spec.nodeName`` set (the recorded spec holds it: ``Ledger.named_binding``)
    is not judged: upstream and in the model it skips the scheduler (kubernetes/kubernetes:
    pkg/scheduler/eventhandlers.go, ``assignedPod``), is bound as written, and only the kubelet's
    admission judges it, which ignores cordons, NotReady and NoSchedule taints. Every other
    ``PodBound`` of a model trace is a scheduler's decision and is judged here.
    """

    id = "schedulable-nodes-only"
    kind = "safety"
    description = "No new binding to a missing, NotReady, cordoned, or untolerated-tainted node."
    catches = (
        "A scheduler that ignores node health, cordons or taints: pods sent to a dead or draining node, "
        "or onto dedicated (GPU, tenant) nodes they were kept off, where they fail or are evicted again."
    )

    def on_PodBound(self, event: ev.PodBound, ledger: Ledger) -> None:
        pod = ledger.pods.get(event.pod)
        if pod is not None and ledger.named_binding(pod, event.node):
            return  # bound by its own spec.nodeName: no scheduler chose this node
        node = ledger.nodes.get(event.node)
        objects = (f"pod/{event.pod}", f"node/{event.node}")
        if node is None:
            self.violate(f"pod {event.pod} was bound to node {event.node}, which does not exist", event.t, objects=objects)
            return
        tolerations = ledger.spec(pod).tolerations if pod is not None else ()
        problems = binding_problems(node, tolerations)
        if problems:
            self.violate(
                f"pod {event.pod} was bound to node {node.name}, which is {'; '.join(problems)}",
                event.t,
                objects=objects,
                numbers={"ready": node.ready, "cordoned": int(node.unschedulable)},
            )


@register
class SchedulerContract(Property):
    """The scheduler plug-in never raised, answered a non-name or an unknown node, or answered a node
    the pod cannot legally run on (not Ready, cordoned, untolerated taint, nodeSelector or affinity
    mismatch, not enough room).

    The validating adapter (:mod:`podquake.model.scheduling.contract`) checks every answer against the
    live state before the loop binds; each refused answer is a ``SchedulerContractViolation`` event
    and a breach here. The pod was not bound (the adapter caught it), so the cluster stayed safe; the
    finding is that the plug-in would have made it unsafe.
    """

    id = "scheduler-contract"
    kind = "safety"
    description = "The scheduler never raised, answered an unknown node, or answered a node the pod cannot fit."
    catches = "A custom scheduler plug-in with a bug: it crashes, ignores a resource, or picks cordoned, tainted or missing nodes."

    def on_SchedulerContractViolation(self, event: ev.SchedulerContractViolation, ledger: Ledger) -> None:
        self.violate(
            f"scheduler {event.scheduler} broke its contract for pod {event.pod}: {event.problem} (answer {event.answer!r})",
            event.t,
            objects=(f"scheduler/{event.scheduler}", f"pod/{event.pod}"),
            numbers={"problem": event.problem, "answer": event.answer},
        )


def _namespace(pod: LedgerPod) -> str:
    return pod.key.partition("/")[0]


def _matches(term: PodAffinityTerm, owner: LedgerPod, target: LedgerPod) -> bool:
    return term.matches(_namespace(owner), owner.labels, _namespace(target), target.labels)


def inter_pod_problem(ledger: Ledger, pod: LedgerPod, node: LedgerNode, carriers: Iterable[str]) -> tuple[str, dict[str, object]] | None:
    """Why binding ``pod`` to ``node`` breaks required inter-pod (anti-)affinity, with its numbers, or None.

    kube-scheduler's InterPodAffinity filter (kubernetes/kubernetes:pkg/scheduler/framework/plugins/
    interpodaffinity/filtering.go, as :mod:`podquake.model.scheduling.interpod` models it), over the
    ledger's placed pods, terminating ones included (the scheduler's cache holds them until they are
    deleted), ``pod`` itself left out: ``carriers`` are the keys of the placed pods whose recorded spec
    has required anti-affinity.
    """
    terms = ledger.spec(pod).pod_affinity
    labels = node.labels
    if terms is not None and (terms.required_affinity or terms.required_anti_affinity):
        matched: dict[tuple[str, str], int] = {}  # pairs of the pods matching all required affinity terms
        for other_node in ledger.nodes.values():
            for key in other_node.pods:
                other = ledger.pods.get(key)
                if other is None or key == pod.key:
                    continue
                for term in terms.required_anti_affinity:
                    value = labels.get(term.topology_key)
                    if value is not None and other_node.labels.get(term.topology_key) == value and _matches(term, pod, other):
                        return (
                            f"pod {pod.key} was bound to node {node.name}, whose {term.topology_key}={value} already holds "
                            f"pod {key} (on {other_node.name}), which the pod's required anti-affinity excludes",
                            {"rule": "anti-affinity", "topology_key": term.topology_key, "other_pod": key},
                        )
                if terms.required_affinity and all(_matches(t, pod, other) for t in terms.required_affinity):
                    for term in terms.required_affinity:
                        value = other_node.labels.get(term.topology_key)
                        if value is not None:
                            matched[(term.topology_key, value)] = matched.get((term.topology_key, value), 0) + 1
        if terms.required_affinity:
            missing = [t.topology_key for t in terms.required_affinity if t.topology_key not in labels]
            lacking = [t.topology_key for t in terms.required_affinity if matched.get((t.topology_key, labels.get(t.topology_key, "")), 0) <= 0]
            first = not matched and all(_matches(t, pod, pod) for t in terms.required_affinity)
            if missing or (lacking and not first):
                why = f"lacks the topology key {missing[0]}" if missing else f"shares no {lacking[0]} with a pod its required affinity asks for"
                return (
                    f"pod {pod.key} was bound to node {node.name}, which {why}",
                    {"rule": "affinity", "topology_key": (missing or lacking)[0], "matching_pods": sum(matched.values())},
                )
    for key in carriers:
        other = ledger.pods.get(key)
        if other is None or key == pod.key or other.node is None:
            continue
        other_node = ledger.nodes.get(other.node)
        other_terms = ledger.spec(other).pod_affinity
        if other_node is None or other_terms is None:
            continue
        for term in other_terms.required_anti_affinity:
            value = labels.get(term.topology_key)
            if value is not None and other_node.labels.get(term.topology_key) == value and _matches(term, other, pod):
                return (
                    f"pod {pod.key} was bound to node {node.name}, whose {term.topology_key}={value} holds pod {key} "
                    f"(on {other_node.name}), whose required anti-affinity excludes the pod",
                    {"rule": "existing anti-affinity", "topology_key": term.topology_key, "other_pod": key},
                )
    return None


@register
class InterPodAffinityHonoured(Property):
    """Every binding honours required inter-pod affinity and anti-affinity: the pod's own
    ``requiredDuringSchedulingIgnoredDuringExecution`` terms of ``podAffinity`` and ``podAntiAffinity``,
    and the required anti-affinity of the pods already placed (the symmetry), as kube-scheduler's
    InterPodAffinity filter (see :func:`inter_pod_problem`), including the first pod of a group whose
    terms match itself, which may go to any node with the topology keys.

    Upstream the kubelet does not check inter-pod affinity at admission, only the scheduler does, so
    a plug-in that breaks it is no contract violation (the pod runs); it is a breach here. Terms are
    read from the recorded spec (``PodSpecDefined``); a pod bound by its own ``spec.nodeName`` is
    counted but not judged (``Ledger.named_binding``). Preferred terms are scores, never judged.
    Checked only while the pod has required terms or a placed pod has required anti-affinity, so a
    run without terms costs nothing.
    """

    id = "inter-pod-affinity"
    kind = "safety"
    description = "Placements honour required inter-pod affinity and anti-affinity (the pod's and the placed pods') at binding time."
    catches = (
        "A scheduler that ignores podAntiAffinity: replicas meant for distinct nodes or zones stacked together, so one "
        "node or zone failure takes them all; or pods placed away from the pods they must run beside."
    )

    def __init__(self, **overrides: object) -> None:
        super().__init__(**overrides)
        self._carriers: dict[str, None] = {}  # placed pods whose spec has required anti-affinity, by key

    def on_PodDeleted(self, event: ev.PodDeleted, ledger: Ledger) -> None:
        self._carriers.pop(event.pod, None)

    def on_PodBound(self, event: ev.PodBound, ledger: Ledger) -> None:
        pod = ledger.pods.get(event.pod)
        if pod is None:
            return
        terms = ledger.spec(pod).pod_affinity
        node = ledger.nodes.get(event.node)
        if (terms is not None or self._carriers) and node is not None and not ledger.named_binding(pod, event.node):
            problem = inter_pod_problem(ledger, pod, node, list(self._carriers))
            if problem is not None:
                message, numbers = problem
                self.violate(message, event.t, objects=(f"pod/{pod.key}", f"node/{node.name}"), numbers=numbers)
        if terms is not None and terms.required_anti_affinity:
            self._carriers[event.pod] = None
