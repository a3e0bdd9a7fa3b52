"""The placement rule: whether a pod may be bound to a node now.

The one rule the scheduler contract checks every answer against (see
:mod:`podquake.model.scheduling.contract`), which the built-in schedulers and the cluster
autoscaler's simulation use too, and which :meth:`ClusterView.placement_problem
<podquake.model.views.ClusterView.placement_problem>` offers plug-ins: the node is Ready and not cordoned (unless the pod tolerates that), every NoSchedule and
NoExecute taint is tolerated, the pod's nodeSelector and required node affinity match, and the node
has a pod slot and room for the pod's CPU, memory and ephemeral-storage requests (kube-scheduler's
NodeUnschedulable, TaintToleration, NodeAffinity and NodeResourcesFit filters). Inter-pod affinity,
topology spread, ports and volumes are scoring and filter plug-ins of the default profile, not part
of the contract: upstream's kubelet admits a pod that breaks them (its admission checks resources,
node name, selector and affinity, taints, not other pods' terms), so a plug-in that does is judged by
the ``inter-pod-affinity`` and ``spread-within-skew`` properties instead. Plug-ins can ask
:meth:`ClusterView.inter_pod_problem <podquake.model.views.ClusterView.inter_pod_problem>` or
``feasible_nodes(pod, inter_pod_affinity=True)``.
"""

from __future__ import annotations

from podquake.model import constants as k8s
from podquake.model.objects import Node, Pod
from podquake.model.selectors import Taint

__all__ = ["placement_problem"]

_UNSCHEDULABLE_TAINT = Taint(k8s.TAINT_UNSCHEDULABLE, "", "NoSchedule")


def placement_problem(pod: Pod, node: Node) -> str | None:
    """Why ``pod`` may not be bound to ``node`` (None when it may). The adapter's and properties' rule."""
    if node.ready != "True":
        return f"node {node.name} is not Ready (Ready={node.ready})"
    spec = pod.spec
    tolerations = spec.tolerations
    if node.unschedulable and not any(t.tolerates(_UNSCHEDULABLE_TAINT) for t in tolerations):
        return f"node {node.name} is cordoned (unschedulable)"
    for taint in node.taints:
        if taint.effect != "PreferNoSchedule" and not any(t.tolerates(taint) for t in tolerations):
            return f"node {node.name} has taint {taint.key}:{taint.effect} that the pod does not tolerate"
    if not spec.node_selector_matches(node.name, node.labels):
        return f"node {node.name} does not match the pod's nodeSelector or required node affinity"
    req = spec.requests
    alloc = node.allocatable
    if len(node.pods) + 1 > alloc.pods:
        return f"node {node.name} already runs {len(node.pods)} pods (max {alloc.pods})"
    if node.requested_cpu + req.cpu_millis > alloc.cpu_millis:
        return (
            f"node {node.name} lacks cpu: requested {node.requested_cpu}m + pod {req.cpu_millis}m"
            f" > allocatable {alloc.cpu_millis}m"
        )
    if node.requested_memory + req.memory_bytes > alloc.memory_bytes:
        return (
            f"node {node.name} lacks memory: requested {node.requested_memory} + pod {req.memory_bytes}"
            f" > allocatable {alloc.memory_bytes} bytes"
        )
    if req.ephemeral_storage_bytes and alloc.ephemeral_storage_bytes and (
        node.requested_ephemeral + req.ephemeral_storage_bytes > alloc.ephemeral_storage_bytes
    ):
        return f"node {node.name} lacks ephemeral storage"
    return None
