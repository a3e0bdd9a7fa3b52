"""What-if placements for the cluster autoscaler: pods placed on copies of nodes, never on the store.

Both halves of the autoscaler ask "would these pods fit?" without binding anything: the scale-up
(are the pending pods helped by the nodes there are, or by new nodes of a group?) and the scale-down
(can every pod of a node move to the other nodes?). Upstream answers both on a cluster snapshot
(kubernetes/autoscaler:cluster-autoscaler simulator/clustersnapshot) with the scheduler's filters;
the model copies a node the first time a simulated pod lands on it (:class:`Snapshot`) and asks
:func:`~podquake.model.scheduling.contract.placement_problem`, first fit (:func:`first_fit`), and the
InterPodAffinity filter (:func:`inter_pod_filter`): required affinity and anti-affinity, the pod's
and the placed pods' (upstream's simulator runs every scheduler filter, this one among them). Pod
topology spread is not checked here (see :mod:`~podquake.model.controllers.cluster_autoscaler`).

Apart from the scale-up and scale-down modules because both use it; it is the one place where the
autoscaler adds to a node's requested resources, and only ever on a copy (or on a template node that
no store holds).
"""

from __future__ import annotations

from podquake.model.objects import Node, Pod
from podquake.model.scheduling import interpod
from podquake.model.scheduling.contract import placement_problem

__all__ = ["Snapshot", "add_pod", "first_fit", "inter_pod_filter"]


class Snapshot:
    """The nodes as a simulation sees them: live nodes (or nodes that do not exist yet), each replaced
    by a copy once a simulated pod lands on it, so the store is never touched.

    ``hidden`` (node name -> pods) are pods the simulation does not see: upstream builds its snapshot
    from the non-expendable scheduled pods only (core/static_autoscaler.go ``RunOnce``:
    ``FilterOutExpendablePods``), so an expendable pod's room is free room. A node with hidden pods
    is copied at once, without them."""

    def __init__(self, nodes: list[Node], hidden: dict[str, dict[str, Pod]] | None = None) -> None:
        self.nodes = list(nodes)
        self._copies: dict[str, Node] = {}
        if hidden:
            for index, node in enumerate(self.nodes):
                pods = hidden.get(node.name)
                if pods:
                    node = self.nodes[index] = self._copies[node.name] = _copy_node(node)
                    for pod in pods.values():
                        if pod.uid in node.pods:
                            self.unplace(pod, index)

    def place(self, pod: Pod, index: int) -> None:
        node = self.nodes[index]
        if node.name not in self._copies:
            node = _copy_node(node)
            self.nodes[index] = self._copies[node.name] = node
        add_pod(node, pod)

    def unplace(self, pod: Pod, index: int) -> None:
        node = self.nodes[index]
        req = pod.spec.requests
        del node.pods[pod.uid]
        node.requested_cpu -= req.cpu_millis
        node.requested_memory -= req.memory_bytes
        node.requested_ephemeral -= req.ephemeral_storage_bytes


def _copy_node(node: Node) -> Node:
    """A copy of ``node`` that a simulated pod may land on: its own pod map and request sums."""
    return Node(
        node.name, node.index, node.labels, node.capacity, node.allocatable, node.taints, node.unschedulable,
        node.ready, node.up, requested_cpu=node.requested_cpu, requested_memory=node.requested_memory,
        requested_ephemeral=node.requested_ephemeral, pods=dict(node.pods),
    )  # fmt: skip


def add_pod(node: Node, pod: Pod) -> None:
    """Count ``pod`` on ``node`` (a copy, or a template node of a group): its slot and its requests."""
    req = pod.spec.requests
    node.pods[pod.uid] = pod
    node.requested_cpu += req.cpu_millis
    node.requested_memory += req.memory_bytes
    node.requested_ephemeral += req.ephemeral_storage_bytes


def first_fit(
    pod: Pod,
    nodes: list[Node],
    skip: tuple[str, dict[str, None]] | None = None,
    *,
    terms: bool = False,
    context: list[Node] | None = None,
) -> int:
    """The index of the first of ``nodes`` that may take ``pod`` now, or -1. ``skip`` is a node's own
    name and the names of the nodes already planned away, which a scale-down's pods may not move to
    (their pods do not count for inter-pod affinity either).

    ``terms``: whether any pod of the simulation may carry inter-pod terms (the caller knows: the
    store's ``pods_with_affinity``, the pods it simulates); without it and without terms of its own,
    the pod is checked as before, at no extra cost. ``context``: the nodes whose pods count for
    inter-pod affinity (default ``nodes``), e.g. the cluster's nodes besides a scale-up's new ones."""
    inter = None
    if terms or pod.spec.pod_affinity is not None:
        around = nodes if context is None else context
        if skip is not None:
            around = [n for n in around if n.name != skip[0] and n.name not in skip[1]]
        inter = inter_pod_filter(pod, around)
    for i, node in enumerate(nodes):
        if skip is not None and (node.name == skip[0] or node.name in skip[1]):
            continue
        if placement_problem(pod, node) is None and (inter is None or inter.passes(node.labels)):
            return i
    return -1


def inter_pod_filter(pod: Pod, nodes: list[Node]) -> interpod.InterPodFilter | None:
    """InterPodAffinity's PreFilter for ``pod`` over the pods on ``nodes`` (copies, template nodes or
    live ones), None when it skips (:mod:`~podquake.model.scheduling.interpod`)."""
    carriers = [(n.labels, q) for n in nodes for q in n.pods.values() if q.spec.pod_affinity is not None]

    def everyone() -> list[tuple[dict[str, str], Pod]]:
        return [(n.labels, q) for n in nodes for q in n.pods.values()]

    return interpod.prefilter(pod, carriers, everyone)
