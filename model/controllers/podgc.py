"""Pod garbage collection: the pod GC controller, plus the garbage collector's cascading delete.

Two upstream controllers meet here, because in the model both only ever remove pods (and the
ReplicaSets of a deleted Deployment):

- **the garbage collector** (kubernetes/kubernetes:pkg/controller/garbagecollector/garbagecollector.go),
  with the default background propagation: once a workload is deleted, its dependents go, namely the
  workloads it owns (a Deployment's ReplicaSets) and the pods it owns (a graceful delete: their
  kubelets stop them). It reacts to the deletion ``controller_sync_seconds`` later and also sweeps
  every ``gcCheckPeriod`` for dependents whose owner no longer exists;
- **the pod GC controller** (kubernetes/kubernetes:pkg/controller/podgc/gc_controller.go), every
  ``gcCheckPeriod`` (20 s, :data:`~podquake.model.constants.POD_GC_CHECK_PERIOD_SECONDS`):
  ``gcTerminated``: when more than ``--terminated-pod-gc-threshold`` (12,500) pods are Succeeded or
  Failed, force-delete the excess, evicted pods first, then oldest first (by creation time, then
  name); ``gcOrphaned``: force-delete pods bound to a node that does not exist, once that node name
  has been missing for the 40 s quarantine (``quarantineTime``,
  :data:`~podquake.model.constants.POD_GC_QUARANTINE_SECONDS`); ``gcUnscheduledTerminating``:
  force-delete pods with no ``spec.nodeName`` that were asked to go; ``gcTerminating`` (non-graceful
  node shutdown, KEP-2268, GA in v1.28): force-delete pods being deleted (Terminating) on a node that
  is not Ready and carries the ``node.kubernetes.io/out-of-service`` taint
  (:data:`~podquake.model.constants.TAINT_OUT_OF_SERVICE`, any value and effect: upstream checks the
  key only, ``taints.TaintKeyExists``), reason ``PodGCOutOfService``.

``gcTerminating`` is how an operator frees the pods of a machine known to be dead: the taint's
``NoExecute`` effect makes the taint eviction controller ask every pod there that does not tolerate it
to go (at once); nobody completes those graceful deletions, since the kubelet is gone, and the next
pass (within ``gcCheckPeriod``) force-deletes them. Their StatefulSet can then recreate them, and the
attach/detach controller detaches their volumes from the tainted node at once
(:mod:`podquake.model.volumes`, ``hasOutOfServiceTaint``) instead of after its 6 minute wait. It acts
only on pods already Terminating: a pod that tolerates the taint stays, as upstream. A node that is
Ready (the taint put on a live machine by mistake) is left alone.

``gcOrphaned`` as upstream: each pass lists the names of missing nodes that pods are bound to and
adds each to a delaying queue keyed by node name (``nodeQueue.AddAfter(name, quarantineTime)``; a
name already waiting keeps its earlier time); the names whose time has come are taken off the
queue, and if the node still does not exist, every pod bound to it is force-deleted
(``PodGCNodeGone``). A name is seen at a pass and acted on at the pass 40 s later, so a pod created
at t=0 (or t=5) with ``spec.nodeName`` naming a node that never existed is seen at t=20 and deleted
at t=60; one created at t=25 is seen at t=40 and deleted at t=80. The queue is keyed by name, not by
pod: a second pod naming the same missing node is deleted with the first, however young. A name
taken off the queue is added again at that very pass if pods still name it (the listing comes
first), so pods that keep naming it (a workload whose template sets ``nodeName``) are deleted every
40 s. In the model such pods are the store's ``awaiting_node`` (:mod:`podquake.model.store`): a pod
never points at a missing node otherwise, because the store deletes a removed node's pods with it
(reason ``NodeRemoved``; upstream they stay bound to the vanished name and this same path deletes
them 40 to 60 s later). A node of that name added before the quarantine ends takes the pod (its
kubelet runs it), as upstream's ``discoverDeletedNodes`` finds the node then and deletes nothing.

A pod whose ``spec.nodeName`` names a missing node is not "unscheduled": a deletion asked of it is
graceful (pkg/registry/core/pod/strategy.go grants grace to any pod with a ``nodeName``), nobody
completes it, and ``gcUnscheduledTerminating`` skips it (it checks ``spec.nodeName`` is empty);
``gcOrphaned`` removes it like any other pod naming that node.

Simplifications, on purpose: pods are force-deleted without first being marked Failed; dependents
are found by owner reference (the model has no other owners than workloads).

Outages (:class:`~podquake.model.controllers.common.Pausable`): paused, nothing is collected and a
workload's deletion is not followed up at once; :meth:`resume` is a restarted controller, whose first
pass runs at once (upstream's ``wait.Until`` calls ``gc`` at the start) and the next ones every
``gcCheckPeriod`` from there; it catches up, as a restarted garbage collector's initial sweep does.
The restarted pod GC controller's ``nodeQueue`` is empty, so a missing node's quarantine starts over
at the resume: a name seen again at a resume at 70 s goes at 110 s. (The passes of the controller
started with the simulation begin one period in, at 20 s.)
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.controllers.common import Pausable, delete_pod
from podquake.model.objects import Pod

if TYPE_CHECKING:
    import simpy

    from podquake.model.selectors import Taint
    from podquake.model.simulation import Simulation

__all__ = ["PodGarbageCollector"]


def _out_of_service(taints: tuple[Taint, ...]) -> bool:
    """Upstream ``taints.TaintKeyExists(node.Spec.Taints, v1.TaintNodeOutOfService)``: the key, whatever the effect."""
    return any(t.key == k8s.TAINT_OUT_OF_SERVICE for t in taints)


class PodGarbageCollector(Pausable):
    """Deletes orphaned, excess terminated and stranded pods. See the module docstring."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.env = sim.env
        self.state = sim.state
        #: ``--terminated-pod-gc-threshold``: terminated pods kept before the oldest are deleted.
        self.terminated_threshold = k8s.TERMINATED_POD_GC_THRESHOLD
        #: ``gcCheckPeriod``: seconds between two collections.
        self.period = k8s.POD_GC_CHECK_PERIOD_SECONDS
        self._terminated: dict[str, Pod] = {}  # pods in Succeeded or Failed, by pod key
        self._unscheduled_terminating: dict[str, Pod] = {}  # by pod key
        #: upstream's ``nodeQueue``: missing node name -> when its quarantine ends (see the module docstring)
        self._missing_nodes: dict[str, float] = {}
        self._workload_uids: dict[tuple[str, str], str] = {}  # (kind, "namespace/name") -> uid
        #: names of nodes that got the out-of-service taint (dropped at a pass once it is gone)
        self._out_of_service: dict[str, None] = {}
        self._loop_gen = 0  # the running pass loop's; a restart starts a new loop

    def start(self) -> None:
        state = self.state
        state.watch(ev.PodPhaseChanged, self._on_phase)
        state.watch(ev.PodDeleted, self._on_pod_deleted)
        state.watch(ev.PodDeletionRequested, self._on_deletion_requested)
        state.watch(ev.WorkloadCreated, self._on_workload_created)
        state.watch(ev.WorkloadDeleted, self._on_workload_deleted)
        state.watch(ev.NodeAdded, self._on_node_tainted)
        state.watch(ev.NodeTainted, self._on_node_tainted)
        for node in state.nodes.values():
            if _out_of_service(node.taints):
                self._out_of_service[node.name] = None
        self.env.process(self._loop(self._loop_gen, self.period))

    def _loop(self, gen: int, offset: float) -> Generator[simpy.Event, None, None]:
        """``wait.Until(gc, gcCheckPeriod)``: a pass every ``period`` seconds after ``offset``, until a
        restart (:meth:`_on_resume`) starts a new loop."""
        if offset > 0:
            yield self.env.timeout(offset)
        while gen == self._loop_gen:
            self.collect()
            yield self.env.timeout(self.period)

    # --- events ------------------------------------------------------------------------------------
    def _on_phase(self, event: ev.PodPhaseChanged) -> None:
        pod = self.state.pods_by_key.get(event.pod)
        if pod is None:
            return
        if event.phase in ("Succeeded", "Failed"):
            self._terminated[event.pod] = pod
        else:
            self._terminated.pop(event.pod, None)

    def _on_pod_deleted(self, event: ev.PodDeleted) -> None:
        self._terminated.pop(event.pod, None)
        self._unscheduled_terminating.pop(event.pod, None)

    def _on_deletion_requested(self, event: ev.PodDeletionRequested) -> None:
        pod = self.state.pods_by_key.get(event.pod)
        if pod is not None and pod.node_name is None and pod.spec.node_name is None:
            self._unscheduled_terminating[event.pod] = pod

    def _on_node_tainted(self, event: ev.NodeAdded | ev.NodeTainted) -> None:
        node = self.state.nodes.get(event.node)
        if node is not None and _out_of_service(node.taints):
            self._out_of_service[event.node] = None

    def _on_workload_created(self, event: ev.WorkloadCreated) -> None:
        namespace, _, name = event.workload.partition("/")
        workload = self.state.workload_named(event.kind, namespace, name)
        if workload is not None:
            self._workload_uids[(event.kind, event.workload)] = workload.uid

    def _on_workload_deleted(self, event: ev.WorkloadDeleted) -> None:
        uid = self._workload_uids.pop((event.kind, event.workload), None)
        if uid is None:
            return
        delay = self.sim.timing.controller_sync_seconds
        if delay <= 0:
            self.collect_dependents(uid)
        else:
            timeout = self.env.timeout(delay)
            timeout.callbacks.append(lambda _event: self.collect_dependents(uid))  # type: ignore[union-attr]

    def _on_resume(self) -> None:
        """A restarted controller: its ``nodeQueue`` is empty (quarantines start over), and
        ``wait.Until`` runs its first pass at once, then every ``gcCheckPeriod`` from there."""
        self._missing_nodes.clear()
        self._loop_gen += 1
        self.env.process(self._loop(self._loop_gen, 0.0))

    # --- collection --------------------------------------------------------------------------------
    def collect_dependents(self, owner_uid: str) -> None:
        """Delete what a deleted workload owned: its workloads, then its pods (gracefully)."""
        if self.paused or owner_uid in self.state.workloads:
            return
        for workload in [w for w in self.state.workloads.values() if w.owner is not None and w.owner.uid == owner_uid]:
            self.state.delete_workload(workload.uid)
        for pod in list(self.state.pods_owned_by(owner_uid)):
            if pod.deletion_timestamp is None:
                delete_pod(self.state, pod, "GarbageCollected")

    def collect(self) -> None:
        """One pass of the pod GC controller and the garbage collector's sweep (none while paused)."""
        if self.paused:
            return
        self._gc_terminated()
        self._gc_terminating()
        self._gc_orphaned()
        self._gc_unscheduled_terminating()
        self._gc_dependents()

    def _gc_terminated(self) -> None:
        excess = len(self._terminated) - self.terminated_threshold
        if self.terminated_threshold <= 0 or excess <= 0:
            return
        pods = list(self._terminated.values())
        # byEvictionAndCreationTimestamp: evicted first, then oldest, then by name
        pods.sort(key=lambda p: (not (p.phase == "Failed" and p.reason == "Evicted"), p.created_at, p.name))
        for pod in pods[: len(pods) - self.terminated_threshold]:
            self.state.delete_pod(pod.uid, "PodGC")

    def _gc_terminating(self) -> None:
        """``gcTerminating``: force-delete the Terminating pods of nodes that are not Ready and carry
        the out-of-service taint (evicted first, then oldest, then by name, as upstream sorts them)."""
        if not self._out_of_service:
            return
        nodes = []
        for name in list(self._out_of_service):
            node = self.state.nodes.get(name)
            if node is None or not _out_of_service(node.taints):
                del self._out_of_service[name]  # untainted or removed: a later taint puts it back
            elif node.ready != "True":
                nodes.append(node)
        pods = [pod for node in nodes for pod in node.pods.values() if pod.deletion_timestamp is not None]
        pods.sort(key=lambda p: (not (p.phase == "Failed" and p.reason == "Evicted"), p.created_at, p.name))
        for pod in pods:
            if pod.uid in self.state.pods:
                self.state.delete_pod(pod.uid, "PodGCOutOfService")

    def _gc_orphaned(self) -> None:
        """``gcOrphaned``: the names whose quarantine is over are taken off the queue first, the names
        pods are bound to now are (re)queued, then the pods of the names taken off are deleted if
        their node still does not exist."""
        state = self.state
        now = self.env.now
        queue = self._missing_nodes
        due = [name for name, until in queue.items() if until <= now]
        for name in due:
            del queue[name]
        for name in state.awaiting_node:  # the pods bound to a node that does not exist, by that name
            if name not in queue:
                queue[name] = now + k8s.POD_GC_QUARANTINE_SECONDS
        for name in due:
            if name in state.nodes:
                continue
            for pod in list(state.awaiting_node.get(name, {}).values()):
                state.delete_pod(pod.uid, "PodGCNodeGone")

    def _gc_unscheduled_terminating(self) -> None:
        pending = list(self._unscheduled_terminating.values())
        self._unscheduled_terminating.clear()
        for pod in pending:
            if pod.uid in self.state.pods and pod.node_name is None and pod.spec.node_name is None:
                self.state.delete_pod(pod.uid, "PodGC")

    def _gc_dependents(self) -> None:
        workloads = self.state.workloads
        for owner_uid in [uid for uid in self.state.pods_by_owner if uid not in workloads]:
            self.collect_dependents(owner_uid)
        for owner_uid in {w.owner.uid: None for w in workloads.values() if w.owner is not None and w.owner.uid not in workloads}:
            self.collect_dependents(owner_uid)
