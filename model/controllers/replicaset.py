"""The ReplicaSet controller: keep ``spec.replicas`` active pods of a ReplicaSet.

Follows kubernetes/kubernetes:pkg/controller/replicaset/replica_set.go (``syncReplicaSet``,
``manageReplicas``):

- only **active** pods count (not Succeeded or Failed, no deletionTimestamp): a Failed pod is
  replaced at once and left for the pod garbage collector;
- one sync creates or deletes at most ``BurstReplicas`` (500) pods; the pod events of those creates
  queue the next sync, which does the next 500;
- creates go in slow-start batches of 1, 2, 4, 8, ... and the first batch with an error stops the
  rest (the key is retried with back-off; the skipped creates are taken off the expectations);
- expectations: after a sync creates or deletes pods, the ReplicaSet is not managed again until the
  store has reported those creates and deletes (or 5 minutes pass);
- scale-down victims are chosen by :func:`~podquake.model.controllers.ranking.pods_to_delete`
  (``getPodsToDelete``), with the pods of every ReplicaSet of the same Deployment as the related pods;
- pods are named ``<replicaset>-<5 random characters>``, carry the template's labels (with the
  ``pod-template-hash`` label a Deployment put there) and the ReplicaSet as controller owner.

Simplifications, on purpose: pods belong to a ReplicaSet by their owner reference only (orphans
whose labels match the selector are not adopted, and pods whose labels stop matching are not
released); related pods for the rank are those owned by the sibling ReplicaSets (upstream lists them
by the siblings' selectors, the same pods unless labels were edited by hand); the ReplicaSet status
is not stored but computed when asked (:meth:`ReplicaSetController.status`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.admission import pod_from_template
from podquake.model.controllers.common import (
    Expectations,
    WorkloadController,
    delete_pod,
    is_pod_available,
    slow_start_batch,
)
from podquake.model.controllers.ranking import pods_to_delete
from podquake.model.objects import Pod, Workload

if TYPE_CHECKING:
    from podquake.model.simulation import Simulation, WorkloadStatus
    from podquake.model.store import ClusterState

__all__ = ["PodCounts", "ReplicaSetController", "count_pods"]


@dataclass(frozen=True, slots=True)
class PodCounts:
    """A ReplicaSet's pods as its status counts them: active, ready (and active), available."""

    active: int = 0
    ready: int = 0
    available: int = 0


def count_pods(state: ClusterState, uid: str, min_ready_seconds: float, now: float) -> PodCounts:
    """Active, ready and available pods owned by workload ``uid`` (upstream ``calculateStatus``)."""
    active = ready = available = 0
    for pod in state.pods_owned_by(uid):
        if not pod.active:
            continue
        active += 1
        if pod.ready:
            ready += 1
            if is_pod_available(pod, min_ready_seconds, now):
                available += 1
    return PodCounts(active, ready, available)


class ReplicaSetController(WorkloadController):
    """Creates and deletes the pods of every ReplicaSet. See the module docstring."""

    kind = "ReplicaSet"
    pod_events = (ev.PodDeletionRequested, ev.PodPhaseChanged)

    def __init__(self, sim: Simulation) -> None:
        super().__init__(sim)
        self.expectations = Expectations(lambda: self.env.now)
        #: Pods created or deleted at most per sync (upstream ``BurstReplicas``).
        self.burst_replicas = k8s.BURST_REPLICAS
        self._family: dict[str, dict[str, None]] = {}  # controller uid -> uids of its ReplicaSets
        self._controller_of: dict[str, str] = {}  # ReplicaSet uid -> its controller's uid

    # --- events ------------------------------------------------------------------------------------
    def owner_of(self, pod: Pod) -> str | None:
        owner = pod.owner
        return owner.uid if owner is not None and owner.kind == "ReplicaSet" else None

    def pod_changed(self, uid: str, event: ev.Event, pod: Pod | None) -> None:
        if isinstance(event, ev.PodCreated):
            self.expectations.creation_observed(uid)
        elif isinstance(event, (ev.PodDeletionRequested, ev.PodDeleted)):
            self.expectations.deletion_observed(uid, event.pod)
        elif isinstance(event, ev.PodPhaseChanged) and event.phase not in ("Succeeded", "Failed"):
            return  # still active: nothing for this controller to do
        self.enqueue(uid)

    def forget(self, uid: str) -> None:
        self.expectations.forget(uid)
        controller = self._controller_of.pop(uid, None)
        if controller is not None:
            family = self._family[controller]
            del family[uid]
            if not family:
                del self._family[controller]

    # --- sync --------------------------------------------------------------------------------------
    def sync(self, uid: str) -> None:
        rs = self.state.workloads.get(uid)
        if rs is None or rs.kind != self.kind:
            self.expectations.forget(uid)
            return
        if rs.owner is not None and uid not in self._controller_of:
            self._controller_of[uid] = rs.owner.uid
            self._family.setdefault(rs.owner.uid, {})[uid] = None
        if not self.expectations.satisfied(uid):
            self.enqueue(uid, after=self.expectations.expires_in(uid))
            return
        if rs.deletion_timestamp is not None:
            return
        active = [pod for pod in self.state.pods_owned_by(uid) if pod.active]
        self.manage_replicas(rs, active)

    def manage_replicas(self, rs: Workload, active: list[Pod]) -> None:
        """Create or delete pods so that ``rs`` has ``spec.replicas`` active pods (``manageReplicas``)."""
        diff = len(active) - rs.replicas
        if diff < 0:
            count = min(-diff, self.burst_replicas)
            self.expectations.expect(rs.uid, creates=count)
            successes, error = slow_start_batch(count, k8s.SLOW_START_INITIAL_BATCH_SIZE, lambda: self._create(rs))
            if count > successes:
                self.expectations.creation_observed(rs.uid, count - successes)
            if error is not None:
                raise error
        elif diff > 0:
            count = min(diff, self.burst_replicas)
            victims = pods_to_delete(active, self._related_pods(rs), count, self.env.now)
            self.expectations.expect(rs.uid, deletes=[pod.key for pod in victims])
            for pod in victims:
                delete_pod(self.state, pod, "ScaleDown")

    def _create(self, rs: Workload) -> None:
        pod = pod_from_template(
            rs.template,
            uid=self.sim.new_uid(),
            name=self.generate_name(rs.namespace, rs.name),
            namespace=rs.namespace,
            owner=rs.ref(),
        )
        self.create_pod(pod)

    def _related_pods(self, rs: Workload) -> Iterator[Pod]:
        """Pods of every ReplicaSet with the same controller (``getIndirectlyRelatedPods``); none
        for a ReplicaSet without a controller, as upstream."""
        if rs.owner is None:
            return
        for sibling in self._family.get(rs.owner.uid, {rs.uid: None}):
            yield from self.state.pods_owned_by(sibling)

    # --- status ------------------------------------------------------------------------------------
    def status(self, workload: Workload) -> WorkloadStatus:
        """desired = spec.replicas; current = active pods; ready = ready active pods; updated = current
        (a ReplicaSet has one template, so every pod it has is up to date)."""
        from podquake.model.simulation import WorkloadStatus

        counts = count_pods(self.state, workload.uid, 0.0, self.env.now)
        return WorkloadStatus(workload.replicas, counts.active, counts.ready, counts.active)
