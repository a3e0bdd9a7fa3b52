"""Read-only views of the cluster for scheduler plug-ins and properties.

A view wraps a live object and exposes only getters, so a plug-in can read everything it needs and
change nothing. Views are made once per object and reused (a 5,000-node cluster does not build
5,000 wrappers per scheduling decision); they always show the current state.

>>> from podquake.model import Simulation, ClusterSpec
>>> sim = Simulation(ClusterSpec.uniform(nodes=2, zones=1), seed=1)
>>> [n.name for n in sim.view().nodes]
['worker-1', 'worker-2']
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from podquake.model.objects import Node, Pod, PodSpec, Workload
from podquake.model.placement import placement_problem
from podquake.model.quantity import Resources
from podquake.model.selectors import Taint

if TYPE_CHECKING:
    from podquake.model.store import ClusterState

__all__ = ["ClusterView", "NodeView", "PodView"]


class PodView:
    """A pod as a plug-in sees it: identity, labels, requests, spec and status, read-only."""

    __slots__ = ("_pod",)

    def __init__(self, pod: Pod) -> None:
        self._pod = pod

    @property
    def uid(self) -> str:
        return self._pod.uid

    @property
    def name(self) -> str:
        return self._pod.name

    @property
    def namespace(self) -> str:
        return self._pod.namespace

    @property
    def key(self) -> str:
        return self._pod.key

    @property
    def labels(self) -> Mapping[str, str]:
        return MappingProxyType(self._pod.labels)

    @property
    def requests(self) -> Resources:
        return self._pod.spec.requests

    @property
    def spec(self) -> PodSpec:
        """The pod's frozen spec: containers, tolerations, affinity, spread constraints."""
        return self._pod.spec

    @property
    def owner_kind(self) -> str | None:
        return self._pod.owner.kind if self._pod.owner else None

    @property
    def owner_name(self) -> str | None:
        return self._pod.owner.name if self._pod.owner else None

    @property
    def node_name(self) -> str | None:
        return self._pod.node_name

    @property
    def phase(self) -> str:
        return self._pod.phase

    @property
    def ready(self) -> bool:
        return self._pod.ready

    @property
    def terminating(self) -> bool:
        return self._pod.deletion_timestamp is not None

    @property
    def restart_count(self) -> int:
        return self._pod.restart_count

    def __repr__(self) -> str:
        return f"PodView({self._pod.key})"


class NodeView:
    """A node as a plug-in sees it: name, labels, readiness, taints, allocatable and requested."""

    __slots__ = ("_node",)

    def __init__(self, node: Node) -> None:
        self._node = node

    @property
    def name(self) -> str:
        return self._node.name

    @property
    def index(self) -> int:
        return self._node.index

    @property
    def labels(self) -> Mapping[str, str]:
        return MappingProxyType(self._node.labels)

    @property
    def zone(self) -> str:
        return self._node.zone

    @property
    def ready(self) -> bool:
        return self._node.ready == "True"

    @property
    def ready_status(self) -> str:
        return self._node.ready

    @property
    def unschedulable(self) -> bool:
        return self._node.unschedulable

    @property
    def taints(self) -> tuple[Taint, ...]:
        return self._node.taints

    @property
    def allocatable(self) -> Resources:
        return self._node.allocatable

    @property
    def capacity(self) -> Resources:
        return self._node.capacity

    @property
    def requested(self) -> Resources:
        return self._node.requested

    @property
    def free(self) -> Resources:
        """Allocatable minus requested, per resource (pods included)."""
        return self._node.allocatable - self._node.requested

    @property
    def pod_count(self) -> int:
        return len(self._node.pods)

    @property
    def pods(self) -> tuple[str, ...]:
        """Keys (``namespace/name``) of the pods bound to this node, in binding order."""
        return tuple(p.key for p in self._node.pods.values())

    def __repr__(self) -> str:
        return f"NodeView({self._node.name})"


class ClusterView:
    """The whole cluster, read-only: nodes (in index order), pods and workloads."""

    __slots__ = ("_state", "_node_views", "_node_version", "_pod_views")

    def __init__(self, state: ClusterState) -> None:
        self._state = state
        self._node_views: tuple[NodeView, ...] = ()
        self._node_version = -1
        self._pod_views: dict[str, PodView] = {}

    @property
    def now(self) -> float:
        return self._state.clock()

    @property
    def nodes(self) -> tuple[NodeView, ...]:
        state = self._state
        if self._node_version != state._node_count_version:
            self._node_views = tuple(NodeView(n) for n in state.node_list)
            self._node_version = state._node_count_version
        return self._node_views

    def node(self, name: str) -> NodeView | None:
        node = self._state.nodes.get(name)
        return None if node is None else self.nodes[node.index]

    def pod(self, key: str) -> PodView | None:
        pod = self._state.pods_by_key.get(key)
        return None if pod is None else PodView(pod)

    @property
    def pods(self) -> tuple[PodView, ...]:
        return tuple(PodView(p) for p in self._state.pods.values())

    def pods_on(self, node_name: str) -> tuple[PodView, ...]:
        node = self._state.nodes.get(node_name)
        return () if node is None else tuple(PodView(p) for p in node.pods.values())

    @property
    def pending_pods(self) -> tuple[PodView, ...]:
        """The pods waiting for a scheduler: not bound, and no ``spec.nodeName`` (a pod naming a node
        is never scheduled; one naming a missing node waits for it, see :mod:`podquake.model.store`)."""
        return tuple(PodView(p) for p in self._state.unbound_pods.values() if p.spec.node_name is None)

    @property
    def zones(self) -> tuple[str, ...]:
        return tuple(self._state.nodes_by_zone)

    def workloads(self) -> tuple[tuple[str, str, int], ...]:
        """``(kind, namespace/name, desired replicas)`` for every workload; a DaemonSet's desired
        count is the nodes that should run its pod now, as its controller counts them."""
        return tuple((w.kind, w.key, self._desired(w)) for w in self._state.workloads.values())

    def _desired(self, workload: Workload) -> int:
        if workload.kind != "DaemonSet":
            return workload.replicas
        from podquake.model.admission import admit_spec
        from podquake.model.controllers.daemonset import node_should_run

        spec = admit_spec(workload.template.spec, daemon=True)
        return sum(1 for node in self._state.node_list if node_should_run(spec, node)[0])

    def placement_problem(self, pod: PodView, node: NodeView | str) -> str | None:
        """Why the scheduler contract forbids binding ``pod`` to ``node`` (a view or a name) now, or
        None when it allows it: the very check every answer gets (see :mod:`podquake.model.placement`).

        >>> from podquake.model import Simulation, ClusterSpec, load_manifests
        >>> sim = Simulation(ClusterSpec.uniform(nodes=2, zones=1), seed=1)
        >>> sim.state.set_unschedulable("worker-1", True)
        >>> sim.apply(load_manifests(text="apiVersion: v1\\nkind: Pod\\nmetadata: {name: web}\\n"
        ...                                "spec: {containers: [{name: c, image: nginx}]}"))
        >>> view = sim.view()
        >>> pod = view.pending_pods[0]
        >>> view.placement_problem(pod, "worker-1"), view.placement_problem(pod, "worker-2")
        ('node worker-1 is cordoned (unschedulable)', None)
        """
        live = self._live_node(node)
        return live if isinstance(live, str) else placement_problem(pod._pod, live)

    def feasible_nodes(self, pod: PodView, *, inter_pod_affinity: bool = False) -> tuple[NodeView, ...]:
        """The nodes the scheduler contract allows for ``pod`` now, in node order: a plug-in that
        picks among them never breaks its contract, and can spend its effort on which to prefer.

        ``inter_pod_affinity=True`` also leaves out the nodes :meth:`inter_pod_problem` refuses. The
        contract does not include it (upstream's kubelet admits such a pod), but the
        ``inter-pod-affinity`` property judges it."""
        live = pod._pod
        nodes = [view for view in self.nodes if placement_problem(live, view._node) is None]
        if inter_pod_affinity and nodes:
            inter = self._inter_pod_filter(live)
            if inter is not None:
                nodes = [view for view in nodes if inter.passes(view._node.labels)]
        return tuple(nodes)

    def inter_pod_problem(self, pod: PodView, node: NodeView | str) -> str | None:
        """Why kube-scheduler's InterPodAffinity filter refuses ``node`` for ``pod`` now (the pod's
        required affinity or anti-affinity, or a placed pod's required anti-affinity; upstream's
        reason), or None. Not part of the contract: see :meth:`feasible_nodes`.

        >>> from podquake.model import Simulation, ClusterSpec, load_manifests
        >>> sim = Simulation(ClusterSpec.uniform(nodes=2, zones=1), seed=1)
        >>> term = "{labelSelector: {matchLabels: {app: web}}, topologyKey: kubernetes.io/hostname}"
        >>> spec = f"spec: {{affinity: {{podAntiAffinity: {{requiredDuringSchedulingIgnoredDuringExecution: [{term}]}}}}, "
        >>> for name in ("a", "b"):
        ...     sim.apply(load_manifests(text=f"apiVersion: v1\\nkind: Pod\\nmetadata: {{name: {name}, labels: {{app: web}}}}\\n"
        ...                                   + spec + "containers: [{name: c, image: nginx}]}"))
        >>> sim.state.bind_pod(sim.state.pods_by_key["default/a"].uid, "worker-1")
        >>> view = sim.view()
        >>> pod = view.pod("default/b")
        >>> view.inter_pod_problem(pod, "worker-1"), view.inter_pod_problem(pod, "worker-2")
        ("node(s) didn't match pod anti-affinity rules", None)
        """
        live = self._live_node(node)
        if isinstance(live, str):
            return live
        inter = self._inter_pod_filter(pod._pod)
        return None if inter is None else inter.problem(live.labels)

    def _live_node(self, node: NodeView | str) -> Node | str:
        """The store's node that ``node`` names, or why there is none."""
        name = node if isinstance(node, str) else node.name
        live = self._state.nodes.get(name)
        return f"there is no node {name!r}" if live is None else live

    def _inter_pod_filter(self, pod: Pod) -> Any:
        from podquake.model.scheduling import interpod

        state = self._state
        if pod.spec.pod_affinity is None and not state.pods_with_affinity:
            return None
        carriers, everyone = interpod.state_pairs(state)
        return interpod.prefilter(pod, carriers, everyone)
