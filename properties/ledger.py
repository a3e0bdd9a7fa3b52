"""The ledger: the cluster as the trace tells it, rebuilt event by event.

Properties judge from the trace alone, so they work the same on a live simulation (fed each event
as it happens) and on a recorded ``trace.jsonl`` afterwards. The ledger is the shared, read-only
picture they consult: nodes with their labels, taints, readiness and summed requests; pods with
their owner, spec, node, phase, readiness and containers; workloads with their desired replicas;
each Service's endpoints as the proxies last saw them; volumes and their attachments; and the faults
the nemesis marked. It is updated once per event before any property sees that event, so a property
costs only its own check, never a rescan of the cluster.

>>> from podquake.model import trace as ev
>>> ledger = Ledger()
>>> ledger.apply(ev.NodeAdded(0.0, "worker-1", "zone-a", 4000, 8 << 30, 110))
>>> ledger.apply(ev.PodCreated(1.0, "default/web-0", "", 500, 1 << 30))
>>> ledger.apply(ev.PodBound(2.0, "default/web-0", "worker-1"))
>>> ledger.nodes["worker-1"].requested_cpu, ledger.pods["default/web-0"].node
(500, 'worker-1')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from podquake.model import trace as ev
from podquake.model.selectors import Taint
from podquake.model.specrecord import RecordedSpec, decode_spec

__all__ = ["Ledger", "LedgerNode", "LedgerPod", "LedgerWorkload", "LedgerVolume"]

_EMPTY_SPEC = '{"containers":[],"nodeSelector":{},"requiredNodeAffinity":null,"restartPolicy":"Always","tolerations":[],"topologySpreadConstraints":[]}'


@dataclass(slots=True)
class LedgerNode:
    """A node as recorded: ``ready`` is the control plane's view (``"True"``, ``"False"``, ``"Unknown"``);
    ``up`` whether the machine runs; ``requested_*`` the sum over its bound pods (``pods`` their keys)."""

    name: str
    zone: str
    labels: dict[str, str]
    allocatable_cpu: int
    allocatable_memory: int
    allocatable_pods: int
    taints: list[Taint] = field(default_factory=list)
    unschedulable: bool = False
    ready: str = "True"
    up: bool = True
    requested_cpu: int = 0
    requested_memory: int = 0
    pods: set[str] = field(default_factory=set)

    @property
    def schedulable(self) -> bool:
        """Ready, not cordoned and up: a node new pods may go to (taints aside)."""
        return self.ready == "True" and not self.unschedulable and self.up


@dataclass(slots=True)
class LedgerPod:
    """A pod as recorded. ``owner`` is ``Kind/namespace/name`` or empty; ``terminating`` is set once
    its deletion was requested; ``containers`` maps each container name to ``running``,
    ``terminated`` or ``waiting``."""

    key: str
    owner: str
    cpu: int
    memory: int
    spec_id: str
    labels: dict[str, str]
    created_at: float
    node: str | None = None
    bound_at: float | None = None
    phase: str = "Pending"
    ready: bool = False
    ready_since: float | None = None
    terminating: bool = False
    containers: dict[str, str] = field(default_factory=dict)
    restarts: int = 0
    workload: str = ""  # the top-level workload (Ledger.workload_of), found when the pod is created


@dataclass(slots=True)
class LedgerWorkload:
    """A workload: ``key`` is ``Kind/namespace/name``, ``owner`` its controller's key or empty."""

    kind: str
    key: str
    replicas: int
    owner: str = ""
    created_at: float = 0.0


@dataclass(slots=True)
class LedgerVolume:
    name: str
    zone: str
    access_modes: tuple[str, ...]
    attached: set[str] = field(default_factory=set)

    @property
    def read_write_once(self) -> bool:
        return "ReadWriteOnce" in self.access_modes or "ReadWriteOncePod" in self.access_modes


class Ledger:
    """The cluster rebuilt from events; see the module docstring. ``now`` is the last event's time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.nodes: dict[str, LedgerNode] = {}
        self.pods: dict[str, LedgerPod] = {}
        self.pods_by_workload: dict[str, dict[str, LedgerPod]] = {}  # top-level workload -> its pods, by key
        self.workloads: dict[str, LedgerWorkload] = {}
        self.endpoints: dict[str, ev.EndpointsChanged] = {}
        self.service_selectors: dict[str, dict[str, str]] = {}  # "namespace/name" -> its selector (empty: none)
        self.volumes: dict[str, LedgerVolume] = {}
        self.partitions: dict[int, ev.NetworkPartitioned] = {}
        self.faults_started = 0
        self.faults_healed = 0
        self.faults_in_force = 0  # started and not yet healed (the nemesis's marks)
        self.last_fault_at: float | None = None
        self.last_heal_at: float | None = None
        self.all_healed_at: float | None = None
        self._spec_bodies: dict[str, str] = {}
        self._specs: dict[str, RecordedSpec] = {}
        self._handlers: dict[type[ev.Event], Callable[[ev.Event], None]] = {
            ev.NodeAdded: self._node_added,
            ev.NodeRemoved: self._node_removed,
            ev.NodePowerChanged: self._node_power,
            ev.NodeReadyChanged: self._node_ready,
            ev.NodeTainted: self._node_tainted,
            ev.NodeUntainted: self._node_untainted,
            ev.NodeCordoned: self._node_cordoned,
            ev.PodSpecDefined: self._spec_defined,
            ev.PodCreated: self._pod_created,
            ev.PodSpecChanged: self._pod_spec_changed,
            ev.PodBound: self._pod_bound,
            ev.PodPhaseChanged: self._pod_phase,
            ev.PodReadyChanged: self._pod_ready,
            ev.ContainerStarted: self._container_started,
            ev.ContainerTerminated: self._container_terminated,
            ev.ContainerWaiting: self._container_waiting,
            ev.PodDeletionRequested: self._pod_deletion_requested,
            ev.PodDeleted: self._pod_deleted,
            ev.WorkloadCreated: self._workload_created,
            ev.WorkloadScaled: self._workload_scaled,
            ev.WorkloadDeleted: self._workload_deleted,
            ev.EndpointsChanged: self._endpoints_changed,
            ev.ObjectApplied: self._object_applied,
            ev.VolumeProvisioned: self._volume_provisioned,
            ev.VolumeAttached: self._volume_attached,
            ev.VolumeDetached: self._volume_detached,
            ev.NetworkPartitioned: self._partitioned,
            ev.NetworkHealed: self._healed,
            ev.Annotation: self._annotation,
        }

    # --- reading -----------------------------------------------------------------------------------
    def spec(self, pod: LedgerPod) -> RecordedSpec:
        """The pod's scheduling-relevant spec, decoded once per distinct spec."""
        spec = self._specs.get(pod.spec_id)
        if spec is None:
            spec = decode_spec(self._spec_bodies.get(pod.spec_id, _EMPTY_SPEC))
            self._specs[pod.spec_id] = spec
        return spec

    def named_binding(self, pod: LedgerPod, node: str) -> bool:
        """Whether ``pod`` went to ``node`` because its ``spec.nodeName`` names it: its creator placed
        it, no scheduler did (upstream kube-scheduler never sees such a pod; only the node's kubelet
        judges it, pkg/kubelet/lifecycle/predicate.go), so a placement property has no scheduler to blame."""
        return self.spec(pod).node_name == node

    def workload_of(self, pod: LedgerPod) -> str:
        """The top-level workload a pod belongs to (a Deployment for a ReplicaSet's pod), or ``""``."""
        return pod.workload

    def pods_selected(self, service: str) -> list[LedgerPod]:
        """The pods Service ``service`` (``namespace/name``) selects: in its namespace, with every
        label of its selector (none for a Service without one, or one the trace never showed)."""
        selector = self.service_selectors.get(service)
        if not selector:
            return []
        namespace = service.partition("/")[0]
        return [
            pod for pod in self.pods.values()
            if pod.key.partition("/")[0] == namespace and all(pod.labels.get(k) == v for k, v in selector.items())
        ]

    def pods_of(self, workload: str) -> list[LedgerPod]:
        """The pods of top-level workload ``workload`` (``Kind/namespace/name``), in order of creation."""
        return list(self.pods_by_workload.get(workload, {}).values())

    def _top_workload(self, pod: LedgerPod) -> str:
        owner = pod.owner
        while owner:
            workload = self.workloads.get(owner)
            if workload is None or not workload.owner:
                return owner
            owner = workload.owner
        return owner

    @property
    def quiet_from(self) -> float:
        """When the faults stopped: the nemesis's ``all-healed`` mark, else the last heal, else 0."""
        if self.all_healed_at is not None:
            return self.all_healed_at
        if self.last_heal_at is not None:
            return self.last_heal_at
        return 0.0

    # --- writing -----------------------------------------------------------------------------------
    def apply(self, event: ev.Event) -> None:
        """Fold one event into the picture (events of types the ledger does not track only move ``now``)."""
        self.now = event.t
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def _node_added(self, e: ev.NodeAdded) -> None:  # type: ignore[override]
        self.nodes[e.node] = LedgerNode(
            e.node,
            e.zone,
            dict(e.labels),
            e.cpu_millis,
            e.memory_bytes,
            e.pods,
            [Taint(key, value, effect) for key, value, effect in e.taints],
        )

    def _node_removed(self, e: ev.NodeRemoved) -> None:
        self.nodes.pop(e.node, None)

    def _node_power(self, e: ev.NodePowerChanged) -> None:
        node = self.nodes.get(e.node)
        if node is not None:
            node.up = e.up

    def _node_ready(self, e: ev.NodeReadyChanged) -> None:
        node = self.nodes.get(e.node)
        if node is not None:
            node.ready = e.status

    def _node_tainted(self, e: ev.NodeTainted) -> None:
        node = self.nodes.get(e.node)
        if node is not None:
            node.taints = [t for t in node.taints if (t.key, t.effect) != (e.key, e.effect)]
            node.taints.append(Taint(e.key, e.value, e.effect, added_at=e.t))

    def _node_untainted(self, e: ev.NodeUntainted) -> None:
        node = self.nodes.get(e.node)
        if node is not None:
            node.taints = [t for t in node.taints if (t.key, t.effect) != (e.key, e.effect)]

    def _node_cordoned(self, e: ev.NodeCordoned) -> None:
        node = self.nodes.get(e.node)
        if node is not None:
            node.unschedulable = e.unschedulable

    def _spec_defined(self, e: ev.PodSpecDefined) -> None:
        self._spec_bodies[e.spec] = e.body

    def _pod_created(self, e: ev.PodCreated) -> None:
        pod = LedgerPod(e.pod, e.owner, e.cpu_millis, e.memory_bytes, e.spec, dict(e.labels), e.t)
        pod.workload = self._top_workload(pod)
        self.pods[e.pod] = pod
        self.pods_by_workload.setdefault(pod.workload, {})[e.pod] = pod

    def _pod_spec_changed(self, e: ev.PodSpecChanged) -> None:
        pod = self.pods.get(e.pod)
        if pod is not None and e.spec:
            pod.spec_id = e.spec

    def _pod_bound(self, e: ev.PodBound) -> None:
        pod = self.pods.get(e.pod)
        node = self.nodes.get(e.node)
        if pod is None:
            return
        pod.node = e.node
        pod.bound_at = e.t
        if node is not None:
            node.pods.add(e.pod)
            node.requested_cpu += pod.cpu
            node.requested_memory += pod.memory

    def _pod_phase(self, e: ev.PodPhaseChanged) -> None:
        pod = self.pods.get(e.pod)
        if pod is not None:
            pod.phase = e.phase

    def _pod_ready(self, e: ev.PodReadyChanged) -> None:
        pod = self.pods.get(e.pod)
        if pod is not None:
            pod.ready = e.ready
            pod.ready_since = e.t if e.ready else None

    def _container_started(self, e: ev.ContainerStarted) -> None:
        pod = self.pods.get(e.pod)
        if pod is not None:
            pod.containers[e.container] = "running"
            pod.restarts = max(pod.restarts, e.restart_count)

    def _container_terminated(self, e: ev.ContainerTerminated) -> None:
        pod = self.pods.get(e.pod)
        if pod is not None:
            pod.containers[e.container] = "terminated"

    def _container_waiting(self, e: ev.ContainerWaiting) -> None:
        pod = self.pods.get(e.pod)
        if pod is not None:
            pod.containers[e.container] = "waiting"

    def _pod_deletion_requested(self, e: ev.PodDeletionRequested) -> None:
        pod = self.pods.get(e.pod)
        if pod is not None:
            pod.terminating = True

    def _pod_deleted(self, e: ev.PodDeleted) -> None:
        pod = self.pods.pop(e.pod, None)
        if pod is None:
            return
        siblings = self.pods_by_workload.get(pod.workload)
        if siblings is not None:
            siblings.pop(e.pod, None)
            if not siblings:
                del self.pods_by_workload[pod.workload]
        if pod.node is None:
            return
        node = self.nodes.get(pod.node)
        if node is not None and e.pod in node.pods:
            node.pods.discard(e.pod)
            node.requested_cpu -= pod.cpu
            node.requested_memory -= pod.memory

    def _workload_created(self, e: ev.WorkloadCreated) -> None:
        key = f"{e.kind}/{e.workload}"
        self.workloads[key] = LedgerWorkload(e.kind, key, e.replicas, e.owner, e.t)

    def _workload_scaled(self, e: ev.WorkloadScaled) -> None:
        workload = self.workloads.get(f"{e.kind}/{e.workload}")
        if workload is not None:
            workload.replicas = e.replicas

    def _workload_deleted(self, e: ev.WorkloadDeleted) -> None:
        self.workloads.pop(f"{e.kind}/{e.workload}", None)

    def _endpoints_changed(self, e: ev.EndpointsChanged) -> None:
        self.endpoints[e.service] = e

    def _object_applied(self, e: ev.ObjectApplied) -> None:
        if e.kind == "Service":
            self.service_selectors[e.name] = dict(e.selector)

    def _volume_provisioned(self, e: ev.VolumeProvisioned) -> None:
        self.volumes[e.volume] = LedgerVolume(e.volume, e.zone, e.access_modes)

    def _volume_attached(self, e: ev.VolumeAttached) -> None:
        volume = self.volumes.get(e.volume)
        if volume is not None:
            volume.attached.add(e.node)

    def _volume_detached(self, e: ev.VolumeDetached) -> None:
        volume = self.volumes.get(e.volume)
        if volume is not None:
            volume.attached.discard(e.node)

    def _partitioned(self, e: ev.NetworkPartitioned) -> None:
        self.partitions[e.partition] = e

    def _healed(self, e: ev.NetworkHealed) -> None:
        self.partitions.pop(e.partition, None)

    def _annotation(self, e: ev.Annotation) -> None:
        if e.label == "fault-started":
            self.faults_started += 1
            self.faults_in_force += 1
            self.last_fault_at = e.t
            self.all_healed_at = None
        elif e.label == "fault-healed":
            self.faults_healed += 1
            self.faults_in_force = max(0, self.faults_in_force - 1)
            self.last_heal_at = e.t
        elif e.label == "all-healed":
            self.faults_in_force = 0
            self.all_healed_at = e.t
