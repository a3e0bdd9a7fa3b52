"""The cluster state store: the one writer of nodes, pods and workloads.

Every change goes through a named transition method here (``create_pod``, ``bind_pod``,
``set_node_ready``, ...). Each transition updates the object, keeps the indexes in step, appends a
typed event to the trace, and notifies the watchers of that event type, much as an API server's
write is followed by its watch events. Controllers react to those notifications; they never change
objects directly.

Indexes, kept exact at every step (a Hypothesis test checks them against a full scan):
- pods by node (``node.pods``), with each node's summed requests (real and scheduler non-zero);
- pods by owner uid, pods by ``(label key, value)``, pods not yet bound, and among those the pods
  waiting for a node their ``spec.nodeName`` names (``awaiting_node``, by that name), and the pending
  pods the scheduler's preemption nominated to a node (``nominated_pods``, by that node's name);
- nodes by name, by index order, by zone; workloads by uid and by ``(kind, namespace, name)``.

A pod created with ``spec.nodeName`` set is bound as it is written, never scheduled: the API server
stores it with its node, kube-scheduler only takes pods whose ``spec.nodeName`` is empty
(kubernetes/kubernetes:pkg/scheduler/eventhandlers.go, ``assignedPod``), and the kubelet of that node
picks it up (and may reject it: :func:`~podquake.model.kubelet_rules.admission_failure`). So
:meth:`ClusterState.create_pod` records ``PodCreated`` then ``PodBound`` at the same instant. When no
node of that name exists, the pod stays Pending, bound to a name: here it stays unbound
(``node_name`` None, so that ``node_name`` always names an existing node) and waits in
``awaiting_node``; a node of that name added later takes it (``PodBound`` right after
``NodeAdded``), and otherwise the pod GC controller force-deletes it after its 40 s quarantine
(:mod:`podquake.model.controllers.podgc`).

Dicts serve as ordered sets everywhere, so iteration order is insertion order: deterministic.
"""

from __future__ import annotations

import numbers
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from podquake.model import trace as ev
from podquake.model.lease import current_tick, last_renewal
from podquake.model.objects import ContainerStatus, Job, Node, OwnerRef, PersistentVolume, Pod, PodSpec, Workload
from podquake.model.selectors import LabelSelector, Taint
from podquake.model.specrecord import encode_spec
from podquake.model.trace import Event, Trace

if TYPE_CHECKING:
    from podquake.model.controllers.hpa import HPAStatus
    from podquake.model.disruption import PDBStatus

__all__ = ["ClusterState", "StateError", "delete_pod"]

Watcher = Callable[[Event], None]


class StateError(RuntimeError):
    """A transition that the current state does not allow (a model bug or misuse, not user input)."""


class ClusterState:
    """Nodes, pods, workloads and other objects, with their indexes; the single writer.

    ``clock`` returns the current simulated time; the :class:`~podquake.model.simulation.Simulation`
    passes ``lambda: env.now``.
    """

    def __init__(self, clock: Callable[[], float], trace: Trace | None = None) -> None:
        self.clock = clock
        self.trace = trace if trace is not None else Trace()
        self.nodes: dict[str, Node] = {}
        self.node_list: list[Node] = []
        self.nodes_by_zone: dict[str, dict[str, Node]] = {}
        self.unrenewed: dict[str, Node] = {}  # nodes whose lease nobody renews now (model/lease.py)
        self.pods: dict[str, Pod] = {}
        self.pods_by_key: dict[str, Pod] = {}
        self.pods_by_owner: dict[str, dict[str, Pod]] = defaultdict(dict)
        self.pods_by_label: dict[tuple[str, str], dict[str, Pod]] = defaultdict(dict)
        self.unbound_pods: dict[str, Pod] = {}
        #: pending pods with a ``status.nominatedNodeName`` (preemptors): node name -> uid -> pod
        self.nominated_pods: dict[str, dict[str, Pod]] = {}
        #: bound pods carrying inter-pod (anti-)affinity terms, by uid (upstream's NodeInfo ``PodsWithAffinity``,
        #: pkg/scheduler/framework/types.go): what the InterPodAffinity plugin reads of the other pods
        self.pods_with_affinity: dict[str, Pod] = {}
        #: pods whose ``spec.nodeName`` names a node that does not exist: node name -> uid -> pod
        self.awaiting_node: dict[str, dict[str, Pod]] = {}
        self.workloads: dict[str, Workload] = {}
        self.workloads_by_name: dict[tuple[str, str, str], Workload] = {}
        self.objects: dict[tuple[str, str, str], object] = {}
        self.volumes: dict[str, PersistentVolume] = {}  # PersistentVolumes by name
        self.empty_dirs: dict[str, dict[str, int]] = {}  # pod key -> emptyDir volume name -> writes held
        self.pdb_status: dict[tuple[str, str], PDBStatus] = {}  # (namespace, name) -> PDB status
        self.hpa_status: dict[tuple[str, str], HPAStatus] = {}  # (namespace, name) -> HPA status
        self._watchers: dict[type[Event], list[Watcher]] = defaultdict(list)
        self._listeners: list[Watcher] = []
        self._undelivered: list[Event] = []  # events recorded but not yet handed to the listeners
        self._spec_ids: dict[int, tuple[PodSpec, str]] = {}  # id(spec) -> (spec kept alive, its trace id)
        self._node_count_version = 0

    # --- watching ------------------------------------------------------------------------------
    def watch(self, event_type: type[Event], watcher: Watcher) -> None:
        """Call ``watcher(event)`` after every transition that records an event of ``event_type``."""
        self._watchers[event_type].append(watcher)

    def listen(self, listener: Watcher) -> None:
        """Call ``listener(event)`` for every event, whatever its type, in trace order.

        Listeners hear of an event once the model's watchers have finished reacting to it and to
        everything it caused (a watcher's reaction records events of its own, nested inside the
        first). Delivery then follows the trace's order exactly, so a property monitor sees a live
        run as it would see the recorded trace."""
        self._listeners.append(listener)

    def record(self, event: Event) -> None:
        """Append an event that does not change the state (an :class:`~podquake.model.trace.Annotation`)."""
        self._record(event)

    def _record(self, event: Event) -> None:
        self.trace.append(event)
        watchers = self._watchers.get(type(event))
        if not self._listeners:
            if watchers:
                for watcher in watchers:
                    watcher(event)
            return
        pending = self._undelivered
        pending.append(event)
        if len(pending) > 1:  # recorded while reacting to an earlier event: the outermost call delivers it
            if watchers:
                for watcher in watchers:
                    watcher(event)
            return
        try:
            if watchers:
                for watcher in watchers:
                    watcher(event)
            index = 0  # everything this event caused is recorded: deliver all of it, in trace order
            while index < len(pending):
                for listener in self._listeners:
                    listener(pending[index])
                index += 1
        finally:
            pending.clear()

    def spec_id(self, spec: PodSpec) -> str:
        """The trace id of ``spec``, recording a :class:`~podquake.model.trace.PodSpecDefined` the first time."""
        known = self._spec_ids.get(id(spec))
        if known is not None:
            return known[1]
        name = f"spec-{len(self._spec_ids) + 1}"
        self._spec_ids[id(spec)] = (spec, name)
        self._record(ev.PodSpecDefined(self.clock(), name, encode_spec(spec)))
        return name

    # --- nodes ---------------------------------------------------------------------------------
    def add_node(self, node: Node) -> Node:
        if node.name in self.nodes:
            raise StateError(f"node {node.name!r} already exists")
        node.index = len(self.node_list)
        node.created_at = self.clock()
        node.renewed_at = node.created_at
        node.lease_slot = -1
        self.unrenewed[node.name] = node
        self.nodes[node.name] = node
        self.node_list.append(node)
        self.nodes_by_zone.setdefault(node.zone, {})[node.name] = node
        self._node_count_version += 1
        self._record(
            ev.NodeAdded(
                node.created_at,
                node.name,
                node.zone,
                node.allocatable.cpu_millis,
                node.allocatable.memory_bytes,
                node.allocatable.pods,
                tuple(sorted(node.labels.items())),
                tuple((t.key, t.value, t.effect) for t in node.taints),
            )
        )
        for pod in list(self.awaiting_node.pop(node.name, {}).values()):
            self.bind_pod(pod.uid, node.name)  # its spec.nodeName names this node: its kubelet takes it
        return node

    def remove_node(self, name: str) -> None:
        """Delete a node object (its pods must already be gone or are orphaned to Unknown)."""
        node = self._node(name)
        for pod in list(node.pods.values()):
            self.delete_pod(pod.uid, reason="NodeRemoved")
        del self.nodes[name]
        self.unrenewed.pop(name, None)
        self.node_list.remove(node)
        for i, other in enumerate(self.node_list):
            other.index = i
        del self.nodes_by_zone[node.zone][name]
        if not self.nodes_by_zone[node.zone]:
            del self.nodes_by_zone[node.zone]
        self._node_count_version += 1
        self._record(ev.NodeRemoved(self.clock(), name))

    def set_node_power(self, name: str, up: bool) -> None:
        """The machine goes down (crash) or comes back. The control plane only learns via heartbeats."""
        node = self._node(name)
        if node.up == up:
            return
        node.up = up
        self._record(ev.NodePowerChanged(self.clock(), name, up))

    # Leases (model/lease.py) are not traced: they change no state anyone judges.
    def heartbeat(self, name: str) -> None:
        """The kubelet renewed the node's lease now, outside its phase ticks (on starting or reconnecting)."""
        node = self.nodes[name]
        node.renewed_at = self.clock()
        if node.lease_slot >= 0:
            node.lease_from_tick = current_tick(node.renewed_at)

    def start_lease(self, name: str, slot: int) -> None:
        """From the next tick of ``slot`` on, the node's lease is renewed every 10 s (until :meth:`stop_lease`).

        The kubelet starting up has posted the node's status with its Ready condition (upstream it
        registers the node with one), so the node is ``status_posted`` from now on."""
        node = self.nodes[name]
        node.status_posted = True
        if node.lease_slot == slot:
            return
        node.renewed_at = last_renewal(node, self.clock())
        node.lease_slot = slot
        node.lease_from_tick = current_tick(self.clock())
        self.unrenewed.pop(name, None)

    def stop_lease(self, name: str) -> None:
        """Nobody renews the node's lease any more: it keeps its latest renewal (a no-op for a removed node)."""
        node = self.nodes.get(name)
        if node is None or node.lease_slot < 0:
            return
        node.renewed_at = last_renewal(node, self.clock())
        node.lease_slot = -1
        self.unrenewed[name] = node

    def last_renewal(self, name: str) -> float:
        """When the node's lease was last renewed (model/lease.py)."""
        return last_renewal(self.nodes[name], self.clock())

    def set_node_ready(self, name: str, status: str, reason: str) -> None:
        node = self._node(name)
        if node.ready == status:
            return
        node.ready = status
        self._record(ev.NodeReadyChanged(self.clock(), name, status, reason))

    def add_taint(self, name: str, taint: Taint) -> None:
        node = self._node(name)
        if any(t == taint for t in node.taints):
            return
        if taint.added_at is None:
            taint = Taint(taint.key, taint.value, taint.effect, added_at=self.clock())
        node.taints = node.taints + (taint,)
        self._record(ev.NodeTainted(self.clock(), name, taint.key, taint.effect, taint.value))

    def remove_taint(self, name: str, key: str, effect: str) -> None:
        node = self._node(name)
        kept = tuple(t for t in node.taints if not (t.key == key and t.effect == effect))
        if len(kept) == len(node.taints):
            return
        node.taints = kept
        self._record(ev.NodeUntainted(self.clock(), name, key, effect))

    def set_unschedulable(self, name: str, unschedulable: bool) -> None:
        node = self._node(name)
        if node.unschedulable == unschedulable:
            return
        node.unschedulable = unschedulable
        self._record(ev.NodeCordoned(self.clock(), name, unschedulable))

    def record_zone_state(self, zone: str, state: str) -> None:
        self._record(ev.ZoneStateChanged(self.clock(), zone, state))

    # --- the network (its graph lives in model/network.py; the store records its changes) ---------
    def record_network_partitioned(self, partition: int, kind: str, description: str) -> None:
        self._record(ev.NetworkPartitioned(self.clock(), partition, kind, description))

    def record_network_healed(self, partition: int, kind: str, description: str) -> None:
        self._record(ev.NetworkHealed(self.clock(), partition, kind, description))

    # --- pods ----------------------------------------------------------------------------------
    def create_pod(self, pod: Pod) -> Pod:
        if pod.uid in self.pods:
            raise StateError(f"pod uid {pod.uid} already exists")
        if pod.key in self.pods_by_key:
            raise StateError(f"pod {pod.key} already exists")
        pod.created_at = self.clock()
        if not pod.containers:
            pod.containers = [ContainerStatus(c.name) for c in pod.spec.containers]
        self.pods[pod.uid] = pod
        self.pods_by_key[pod.key] = pod
        if pod.owner is not None:
            self.pods_by_owner[pod.owner.uid][pod.uid] = pod
        for item in pod.labels.items():
            self.pods_by_label[item][pod.uid] = pod
        self.unbound_pods[pod.uid] = pod
        named = pod.spec.node_name
        if named is not None and named not in self.nodes:
            self.awaiting_node.setdefault(named, {})[pod.uid] = pod
        owner = f"{pod.owner.kind}/{pod.namespace}/{pod.owner.name}" if pod.owner else ""
        spec = self.spec_id(pod.spec)
        self._record(
            ev.PodCreated(
                pod.created_at,
                pod.key,
                owner,
                pod.spec.requests.cpu_millis,
                pod.spec.requests.memory_bytes,
                spec,
                tuple(sorted(pod.labels.items())),
            )
        )
        if named is not None and named in self.nodes and self.pods.get(pod.uid) is pod and pod.node_name is None:
            self.bind_pod(pod.uid, named)  # written with its node: no scheduler (see the module docstring)
        return pod

    def bind_pod(self, uid: str, node_name: str) -> None:
        """Bind a pending pod to a node and add its requests to the node's accounting."""
        pod = self._pod(uid)
        if pod.node_name is not None:
            raise StateError(f"pod {pod.key} is already bound to {pod.node_name}")
        if pod.spec.node_name is not None and pod.spec.node_name != node_name:
            raise StateError(f"pod {pod.key} names node {pod.spec.node_name} in its spec, not {node_name}")
        node = self._node(node_name)
        spec = pod.spec
        req = spec.requests
        pod.node_name = node_name
        pod.bound_at = self.clock()
        node.pods[uid] = pod
        node.requested_cpu += req.cpu_millis
        node.requested_memory += req.memory_bytes
        node.requested_ephemeral += req.ephemeral_storage_bytes
        node.nonzero_cpu += spec.nonzero_cpu
        node.nonzero_memory += spec.nonzero_memory
        del self.unbound_pods[uid]
        if spec.pod_affinity is not None:
            self.pods_with_affinity[uid] = pod
        if pod.nominated_node_name is not None:
            self._unnominate(pod)
        self._record(ev.PodBound(pod.bound_at, pod.key, node_name))

    def set_nominated_node(self, uid: str, node_name: str | None) -> None:
        """Set (or, with None, clear) a pending pod's ``status.nominatedNodeName`` (scheduler preemption)."""
        pod = self._pod(uid)
        if pod.node_name is not None:
            raise StateError(f"pod {pod.key} is bound to {pod.node_name}: it cannot be nominated")
        if pod.nominated_node_name == node_name:
            return
        if pod.nominated_node_name is not None:
            self._unnominate(pod)
        if node_name is not None:
            pod.nominated_node_name = node_name
            self.nominated_pods.setdefault(node_name, {})[uid] = pod
        self._record(ev.PodNominated(self.clock(), pod.key, node_name or ""))

    def _unnominate(self, pod: Pod) -> None:
        name = pod.nominated_node_name
        pod.nominated_node_name = None
        nominated = self.nominated_pods.get(name)  # type: ignore[arg-type]
        if nominated is not None:
            nominated.pop(pod.uid, None)
            if not nominated:
                del self.nominated_pods[name]  # type: ignore[arg-type]

    def record_preempted(self, uid: str, preemptor_uid: str, node_name: str) -> None:
        """Record that ``preemptor`` chose ``pod`` as a victim on ``node`` (its deletion is separate)."""
        pod, preemptor = self._pod(uid), self._pod(preemptor_uid)
        self._record(ev.PodPreempted(self.clock(), pod.key, preemptor.key, node_name, pod.spec.priority, preemptor.spec.priority))

    def record_unschedulable(self, uid: str, reason: str) -> None:
        self._record(ev.PodUnschedulable(self.clock(), self._pod(uid).key, reason))

    def record_contract_violation(self, scheduler: str, uid: str, problem: str, answer: str) -> None:
        self._record(ev.SchedulerContractViolation(self.clock(), scheduler, self._pod(uid).key, problem, answer))

    def set_pod_phase(self, uid: str, phase: str, reason: str | None = None) -> None:
        pod = self._pod(uid)
        if reason is not None:
            pod.reason = reason
        if pod.phase == phase:
            return
        pod.phase = phase
        self._record(ev.PodPhaseChanged(self.clock(), pod.key, phase))

    def set_pod_ready(self, uid: str, ready: bool) -> None:
        pod = self._pod(uid)
        if pod.ready == ready:
            return
        pod.ready = ready
        pod.ready_since = self.clock() if ready else None
        self._record(ev.PodReadyChanged(self.clock(), pod.key, ready))

    def start_container(self, uid: str, index: int) -> None:
        pod = self._pod(uid)
        status = pod.containers[index]
        status.state = "running"
        status.reason = ""
        status.exit_code = None
        status.started_at = self.clock()
        status.finished_at = None
        self._record(ev.ContainerStarted(status.started_at, pod.key, status.name, status.restart_count, pod.node_name or ""))

    def terminate_container(self, uid: str, index: int, exit_code: int, reason: str) -> None:
        pod = self._pod(uid)
        status = pod.containers[index]
        status.state = "terminated"
        status.reason = reason
        status.exit_code = exit_code
        status.last_exit_code = exit_code
        status.last_reason = reason
        status.finished_at = self.clock()
        status.ready = False
        self._record(ev.ContainerTerminated(status.finished_at, pod.key, status.name, exit_code, reason))

    def set_container_waiting(self, uid: str, index: int, reason: str, backoff: float = 0.0, restarting: bool = False) -> None:
        """Put a container in Waiting; ``restarting=True`` counts a restart (after a termination)."""
        pod = self._pod(uid)
        status = pod.containers[index]
        status.state = "waiting"
        status.reason = reason
        status.ready = False
        if restarting:
            status.restart_count += 1
        self._record(ev.ContainerWaiting(self.clock(), pod.key, status.name, reason, backoff))

    def set_container_ready(self, uid: str, index: int, ready: bool) -> None:
        """A container's readiness probe result; not traced on its own (the pod's Ready is)."""
        self._pod(uid).containers[index].ready = ready

    def request_pod_deletion(self, uid: str, reason: str) -> None:
        """Set the pod's deletionTimestamp: its controller stops counting it, its kubelet stops it."""
        pod = self._pod(uid)
        if pod.deletion_timestamp is not None:
            return
        pod.deletion_timestamp = self.clock()
        self._record(ev.PodDeletionRequested(pod.deletion_timestamp, pod.key, reason))

    def delete_pod(self, uid: str, reason: str) -> None:
        """Remove the pod from the store and every index, releasing its node's resources."""
        pod = self._pod(uid)
        node_name = pod.node_name or ""
        if pod.node_name is not None:
            node = self.nodes[pod.node_name]
            del node.pods[uid]
            self.pods_with_affinity.pop(uid, None)
            spec = pod.spec
            req = spec.requests
            node.requested_cpu -= req.cpu_millis
            node.requested_memory -= req.memory_bytes
            node.requested_ephemeral -= req.ephemeral_storage_bytes
            node.nonzero_cpu -= spec.nonzero_cpu
            node.nonzero_memory -= spec.nonzero_memory
        else:
            del self.unbound_pods[uid]
            if pod.nominated_node_name is not None:
                self._unnominate(pod)
            named = pod.spec.node_name
            if named is not None and named in self.awaiting_node:
                awaiting = self.awaiting_node[named]
                awaiting.pop(uid, None)
                if not awaiting:
                    del self.awaiting_node[named]
        del self.pods[uid]
        del self.pods_by_key[pod.key]
        if pod.owner is not None:
            owned = self.pods_by_owner[pod.owner.uid]
            del owned[uid]
            if not owned:
                del self.pods_by_owner[pod.owner.uid]
        for item in pod.labels.items():
            labelled = self.pods_by_label[item]
            del labelled[uid]
            if not labelled:
                del self.pods_by_label[item]
        if pod.deletion_timestamp is None:
            pod.deletion_timestamp = self.clock()
        self._record(ev.PodDeleted(self.clock(), pod.key, node_name, reason))

    # --- workloads and other objects -----------------------------------------------------------
    def create_workload(self, workload: Workload) -> Workload:
        name_key = (workload.kind, workload.namespace, workload.name)
        if name_key in self.workloads_by_name:
            raise StateError(f"{workload.kind} {workload.key} already exists")
        workload.created_at = self.clock()
        self.workloads[workload.uid] = workload
        self.workloads_by_name[name_key] = workload
        owner = f"{workload.owner.kind}/{workload.namespace}/{workload.owner.name}" if workload.owner else ""
        self._record(ev.WorkloadCreated(workload.created_at, workload.kind, workload.key, workload.replicas, owner))
        return workload

    def scale_workload(self, uid: str, replicas: int) -> None:
        """Set a workload's desired replicas (an integer >= 0), as ``kubectl scale`` does."""
        if isinstance(replicas, bool) or not isinstance(replicas, numbers.Integral):
            raise TypeError(f"replicas must be a whole number >= 0, not {replicas!r}")
        if replicas < 0:
            raise ValueError(f"cannot scale to {replicas} replicas: replicas must be >= 0")
        replicas = int(replicas)
        workload = self._workload(uid)
        if workload.replicas == replicas:
            return
        workload.replicas = replicas
        self._record(ev.WorkloadScaled(self.clock(), workload.kind, workload.key, replicas))

    def update_workload_template(self, uid: str, template: object, revision: int) -> None:
        workload = self._workload(uid)
        workload.template = template  # type: ignore[assignment]
        if hasattr(workload, "revision"):
            workload.revision = revision  # type: ignore[attr-defined]
        self._record(ev.WorkloadUpdated(self.clock(), workload.kind, workload.key, revision))

    def delete_workload(self, uid: str) -> None:
        workload = self._workload(uid)
        del self.workloads[uid]
        del self.workloads_by_name[(workload.kind, workload.namespace, workload.name)]
        workload.deletion_timestamp = self.clock()
        self._record(ev.WorkloadDeleted(self.clock(), workload.kind, workload.key))

    # --- Jobs (written by the Job controller, model/controllers/job.py) ----------------------------
    def start_job(self, uid: str, start_time: float | None) -> None:
        """Set (or, with None, clear) a Job's ``status.startTime``."""
        self._job(uid).status.start_time = start_time

    def record_job_pod_finished(
        self, uid: str, pod_key: str, outcome: str, counted: bool, disruption: bool, detail: str, index: int | None = None
    ) -> None:
        """Account a finished pod of a Job: a success (``index``: its completion index, for an Indexed
        Job) or a failure (``counted`` towards the backoffLimit or not)."""
        job = self._job(uid)
        status = job.status
        if outcome == "Succeeded":
            if index is not None:
                status.completed_indexes.add(index)
                status.succeeded = len(status.completed_indexes)
            else:
                status.succeeded += 1
        elif counted:
            status.failed += 1
        self._record(ev.JobPodFinished(self.clock(), job.key, pod_key, outcome, counted, disruption, detail))

    def set_job_condition(self, uid: str, condition: str, status: bool = True, reason: str = "", message: str = "") -> None:
        """Set a Job condition: ``Complete``/``Failed`` (finished), ``SuccessCriteriaMet``/``FailureTarget``
        (the interim ones) or ``Suspended``."""
        job = self._job(uid)
        st = job.status
        if condition in ("Complete", "Failed"):
            st.condition, st.reason, st.message, st.finished_at = condition, reason, message, self.clock()
            st.target = None
        elif condition in ("SuccessCriteriaMet", "FailureTarget"):
            st.target, st.reason, st.message = condition, reason, message
        self._record(
            ev.JobConditionChanged(self.clock(), job.key, condition, status, reason, message, st.succeeded, st.failed, job.backoff_limit)  # type: ignore[attr-defined]
        )

    def set_job_suspended(self, uid: str, suspend: bool) -> None:
        """``spec.suspend`` changed (``kubectl patch job ... suspend``): recorded as a workload update."""
        job = self._job(uid)
        if job.suspend == suspend:
            return
        job.suspend = suspend
        self._record(ev.WorkloadUpdated(self.clock(), job.kind, job.key, 0))

    def _job(self, uid: str) -> Job:
        workload = self._workload(uid)
        if not isinstance(workload, Job):
            raise StateError(f"workload {workload.kind} {workload.key} is not a Job")
        return workload

    def put_object(self, kind: str, namespace: str, name: str, obj: object) -> None:
        """Store a non-workload object (Service, HPA, PDB, PVC, ConfigMap, ...) under its kind and name."""
        self.objects[(kind, namespace, name)] = obj
        selector = getattr(obj, "selector", None) if kind == "Service" else None
        self._record(ev.ObjectApplied(self.clock(), kind, f"{namespace}/{name}", tuple(sorted(selector or ()))))

    # --- services ------------------------------------------------------------------------------
    def record_endpoints_changed(
        self,
        service: str,
        version: int,
        ready: int,
        serving_terminating: int,
        not_ready: int,
        ready_pods: tuple[str, ...] = (),
        computed_at: float | None = None,
        publish_not_ready: bool = False,
        routing: tuple[str, str, str] = ("None", "", "Cluster"),
    ) -> None:
        """A Service's endpoints reached the node proxies (the EndpointSlice controller holds the sets):
        ``ready_pods`` the keys of the ready ones, ``computed_at`` when the controller computed them,
        ``routing`` the Service's (sessionAffinity, externalTrafficPolicy or "", internalTrafficPolicy)."""
        computed = self.clock() if computed_at is None else computed_at
        self._record(
            ev.EndpointsChanged(
                self.clock(), service, version, ready, serving_terminating, not_ready, ready_pods, computed, publish_not_ready,
                *routing,
            )
        )

    # --- traffic and load (model/traffic.py, model/load.py, model/jobs.py keep their own state) ---
    def record_traffic_spike(self, service: str, multiplier: float, start: float, duration: float) -> None:
        self._record(ev.TrafficSpike(self.clock(), service, multiplier, start, duration))

    def record_traffic_window(self, window: ev.TrafficWindow) -> None:
        """One Service's traffic in one window, as the load model measured it (built there: it has
        many fields)."""
        self._record(window)

    def record_work_queue_window(
        self, queue: str, start: float, enqueued: int, done: int, requeued: int, queued: int, in_flight: int, workers: int
    ) -> None:
        self._record(ev.WorkQueueWindow(self.clock(), queue, start, enqueued, done, requeued, queued, in_flight, workers))

    def record_work_requeued(self, queue: str, pod: str, items: int, reason: str) -> None:
        self._record(ev.WorkItemsRequeued(self.clock(), queue, pod, items, reason))

    # --- cloud provider, load balancers, cluster autoscaler (their own state lives with them) ----
    def record_machine(self, machine: str, pool: str, zone: str, state: str, detail: str = "") -> None:
        """A cloud machine changed state (the cloud provider holds the machines)."""
        self._record(ev.MachineStateChanged(self.clock(), machine, pool, zone, state, detail))

    def record_load_balancer(self, service: str, state: str) -> None:
        self._record(ev.LoadBalancerChanged(self.clock(), service, state))

    def record_lb_target(self, service: str, node: str, registered: bool) -> None:
        self._record(ev.LoadBalancerTargetChanged(self.clock(), service, node, registered))

    def record_lb_target_health(self, service: str, node: str, healthy: bool) -> None:
        self._record(ev.LoadBalancerTargetHealth(self.clock(), service, node, healthy))

    def record_scale_up(self, pool: str, nodes: int, pods: int) -> None:
        self._record(ev.ClusterAutoscalerScaleUp(self.clock(), pool, nodes, pods))

    def record_scale_down(self, node: str, pool: str, phase: str, reason: str = "") -> None:
        self._record(ev.ClusterAutoscalerScaleDown(self.clock(), node, pool, phase, reason))

    def record_node_group_backoff(self, pool: str, until: float, reason: str) -> None:
        self._record(ev.NodeGroupBackoff(self.clock(), pool, until, reason))

    def record_no_scale_up(self, uid: str, reason: str) -> None:
        self._record(ev.PodNotTriggerScaleUp(self.clock(), self._pod(uid).key, reason))

    # --- volumes (model/volumes.py decides; these write and record) -----------------------------
    def set_pod_spec(self, uid: str, spec: PodSpec, reason: str) -> None:
        """Replace a pending pod's spec before it is scheduled (as a mutating admission step would)."""
        pod = self._pod(uid)
        if pod.node_name is not None:
            raise StateError(f"pod {pod.key} is already bound to {pod.node_name}: its spec is fixed")
        if spec.node_name != pod.spec.node_name:
            raise StateError(f"pod {pod.key}: spec.nodeName cannot change ({pod.spec.node_name} to {spec.node_name})")
        if spec is pod.spec:
            return
        pod.spec = spec
        self._record(ev.PodSpecChanged(self.clock(), pod.key, reason, self.spec_id(spec)))

    def add_volume(self, volume: PersistentVolume) -> PersistentVolume:
        if volume.name in self.volumes:
            raise StateError(f"PersistentVolume {volume.name!r} already exists")
        volume.created_at = self.clock()
        self.volumes[volume.name] = volume
        self._record(
            ev.VolumeProvisioned(volume.created_at, volume.name, volume.claim or "", volume.zone, tuple(volume.access_modes))
        )
        return volume

    def bind_claim(self, namespace: str, claim: str, volume_name: str) -> None:
        """Bind claim ``namespace/claim`` to a PersistentVolume (the claim's ``volume_name`` is set)."""
        key = ("PersistentVolumeClaim", namespace, claim)
        pvc = self.objects.get(key)
        if pvc is None:
            raise StateError(f"no PersistentVolumeClaim {namespace}/{claim}")
        volume = self.volumes[volume_name]
        if volume.claim not in (None, f"{namespace}/{claim}"):
            raise StateError(f"PersistentVolume {volume_name} is bound to {volume.claim}")
        self.objects[key] = replace(pvc, volume_name=volume_name)  # type: ignore[type-var]
        volume.claim = f"{namespace}/{claim}"
        self._record(ev.ClaimBound(self.clock(), f"{namespace}/{claim}", volume_name))

    def attach_volume(self, volume_name: str, node: str) -> None:
        volume = self.volumes[volume_name]
        if node in volume.attached:
            return
        if volume.attached and not volume.multi_attach:
            raise StateError(f"volume {volume_name} is already exclusively attached to {next(iter(volume.attached))}")
        volume.attached[node] = None
        self._record(ev.VolumeAttached(self.clock(), volume_name, node))

    def detach_volume(self, volume_name: str, node: str, forced: bool) -> None:
        volume = self.volumes[volume_name]
        if node not in volume.attached:
            return
        del volume.attached[node]
        self._record(ev.VolumeDetached(self.clock(), volume_name, node, forced))

    def record_attach_failure(self, volume_name: str, node: str, pod_key: str, reason: str) -> None:
        self._record(ev.VolumeAttachFailed(self.clock(), volume_name, node, pod_key, reason))

    def write_volume(self, pod_key: str, volume: str, writes: int, pv_name: str | None = None) -> int:
        """Acknowledge ``writes`` units written by pod ``pod_key`` to its volume ``volume``: into
        PersistentVolume ``pv_name``, or (None) the pod's emptyDir. Returns what the target now holds."""
        if writes <= 0:
            raise StateError(f"a write adds at least one unit, not {writes}")
        if pv_name is not None:
            target = self.volumes[pv_name]
            target.writes += writes
            total = target.writes
        else:
            held = self.empty_dirs.setdefault(pod_key, {})
            total = held[volume] = held.get(volume, 0) + writes
        self._record(ev.VolumeWritten(self.clock(), pod_key, volume, pv_name or "emptyDir", writes, total))
        return total

    def lose_empty_dirs(self, pod_key: str, reason: str) -> None:
        """The pod's emptyDir volumes vanish with their data (a loss is recorded for each that held any)."""
        held = self.empty_dirs.pop(pod_key, None)
        if not held:
            return
        now = self.clock()
        for volume, writes in held.items():
            if writes:
                self._record(ev.VolumeDataLost(now, pod_key, volume, writes, reason))

    # --- disruption (model/disruption.py decides; these write and record) -------------------------
    def set_pdb_status(self, namespace: str, name: str, status: PDBStatus) -> None:
        key = (namespace, name)
        old = self.pdb_status.get(key)
        if old == status:
            return
        self.pdb_status[key] = status
        if old is None or old.counts() != status.counts():
            self._record(ev.DisruptionBudgetUpdated(self.clock(), f"{namespace}/{name}", *status.counts()))

    def record_eviction(self, pod_key: str, code: int, pdb: str, reason: str) -> None:
        self._record(ev.EvictionRequested(self.clock(), pod_key, code, pdb, reason))

    def record_drain_started(self, node: str) -> None:
        self._record(ev.NodeDrainStarted(self.clock(), node))

    def record_drain_finished(self, node: str, outcome: str, evicted: int) -> None:
        self._record(ev.NodeDrainFinished(self.clock(), node, outcome, evicted))

    # --- autoscaling (model/controllers/hpa.py decides; these write and record) --------------------
    def set_hpa_status(self, namespace: str, name: str, status: HPAStatus | None) -> None:
        """An HPA's status as its last sync wrote it (``None``: the HPA is gone). Not traced: it changes
        every sync; the scaling decisions are (:meth:`record_hpa_scaled`)."""
        if status is None:
            self.hpa_status.pop((namespace, name), None)
        else:
            self.hpa_status[(namespace, name)] = status

    def record_hpa_scaled(self, hpa: str, target: str, from_replicas: int, to_replicas: int, reason: str, metrics: str) -> None:
        self._record(ev.HorizontalPodAutoscalerScaled(self.clock(), hpa, target, from_replicas, to_replicas, reason, metrics))

    def record_hpa_failed(self, hpa: str, reason: str, message: str) -> None:
        self._record(ev.HorizontalPodAutoscalerFailed(self.clock(), hpa, reason, message))

    def record_hpa_recommended(self, hpa: str, target: str, replicas: int) -> None:
        self._record(ev.HorizontalPodAutoscalerRecommended(self.clock(), hpa, target, replicas))

    # --- queries (read-only helpers for controllers) --------------------------------------------
    def pods_owned_by(self, owner_uid: str) -> Iterable[Pod]:
        return self.pods_by_owner.get(owner_uid, {}).values()

    def pods_matching(self, namespace: str, selector: LabelSelector) -> list[Pod]:
        """Pods in ``namespace`` matched by ``selector``, via the label index (smallest posting list)."""
        if selector.match_labels:
            postings = [self.pods_by_label.get(item, {}) for item in selector.match_labels]
            smallest = min(postings, key=len)
            candidates: Iterable[Pod] = smallest.values()
        else:
            candidates = self.pods.values()
        return [p for p in candidates if p.namespace == namespace and selector.matches(p.labels)]

    def workload_named(self, kind: str, namespace: str, name: str) -> Workload | None:
        return self.workloads_by_name.get((kind, namespace, name))

    def owner_exists(self, owner: OwnerRef) -> bool:
        return owner.uid in self.workloads

    # --- internals -----------------------------------------------------------------------------
    def _node(self, name: str) -> Node:
        try:
            return self.nodes[name]
        except KeyError:
            raise StateError(f"no node named {name!r}") from None

    def _pod(self, uid: str) -> Pod:
        try:
            return self.pods[uid]
        except KeyError:
            raise StateError(f"no pod with uid {uid!r}") from None

    def _workload(self, uid: str) -> Workload:
        try:
            return self.workloads[uid]
        except KeyError:
            raise StateError(f"no workload with uid {uid!r}") from None


def delete_pod(state: ClusterState, pod: Pod, reason: str) -> None:
    """Delete ``pod`` as the API server would: at once when it is unscheduled (no ``spec.nodeName``)
    or already terminated (grace period 0, pkg/registry/core/pod/strategy.go ``CheckGracefulDelete``),
    else gracefully (its kubelet stops it). A pod waiting for the node its ``spec.nodeName`` names is
    not unscheduled: it stays Terminating until the pod GC controller's ``gcOrphaned`` removes it.
    Every client deletes through this: the controllers, the scheduler's preemption, the eviction API."""
    if (pod.node_name is None and pod.spec.node_name is None) or pod.phase in ("Succeeded", "Failed"):
        state.delete_pod(pod.uid, reason)
    else:
        state.request_pod_deletion(pod.uid, reason)
