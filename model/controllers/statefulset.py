"""The StatefulSet controller: pods with stable names ``<set>-0`` .. ``<set>-(N-1)``, in order.

Follows kubernetes/kubernetes:pkg/controller/statefulset/stateful_set_control.go
(``updateStatefulSet``, ``processReplica``, ``processCondemned``, ``runForAll``) and
stateful_set_utils.go:

- pods with an ordinal below ``replicas`` are *replicas*; the others are *condemned*;
- a Failed or Succeeded replica is deleted, and recreated with the same name on a later sync, once
  the old pod is gone; a missing replica is created with the same name;
- **OrderedReady** (the default, "monotonic"): replicas are handled lowest ordinal first and the
  sync stops at the first pod it creates, the first one terminating and the first one not Running
  and available (Ready for ``minReadySeconds``, ``isRunningAndAvailable``), so ordinal *i* is only
  created once 0..i-1 are available; condemned pods are deleted highest ordinal first, one at a
  time, each only after the previous one is gone and while every replica is available;
- **Parallel**: every missing replica is created and every condemned pod deleted in one sync;
- ``minReadySeconds``: a pod that turns Ready queues the set ``minReadySeconds + 1`` s later
  (``updatePod`` in stateful_set.go, "Add a second to avoid milliseconds skew"), and a sync that
  finds fewer available pods than ``replicas`` queues it ``minReadySeconds`` later
  (``syncStatefulSet``, "One more sync to handle the clock skew"). As client-go's delaying queue, a
  set keeps only its earliest pending deadline, so a later one is dropped: with OrderedReady,
  ordinal *i+1* is created about 2 x ``minReadySeconds`` after ordinal *i* (the timer set when *i*
  was created fires before *i* is available; kubernetes/kubernetes#119352, #113878);
- ``updateStrategy`` (``updateStatefulSet``): with **RollingUpdate**, once the replicas are settled,
  the highest-ordinal pod at or above ``partition`` whose ``controller-revision-hash`` differs from
  the update revision (the current template's) is deleted, and recreated by a later sync at the
  update revision, but only while every replica (at any ordinal) is available: v1.35's
  ``updateStatefulSetAfterInvariantEstablished`` with the default ``maxUnavailable`` 1, so one pod at
  a time, each once the previous is available (with Parallel, an unready pod anywhere holds the
  update back, unlike before v1.35; kubernetes/kubernetes#96218); pods below the partition keep the *current*
  revision, and one recreated there (after a crash or an eviction) gets the current revision's
  template again (``newVersionedStatefulSetPod``); the current revision becomes the update revision
  once every pod is at it and Running and Ready (``completeRollingUpdate``). With **OnDelete** no pod
  is deleted for an update: a pod gets the new template only when something else deletes it;
- pods carry the template labels plus ``controller-revision-hash``,
  ``statefulset.kubernetes.io/pod-name`` and ``apps.kubernetes.io/pod-index``.

- each pod gets its own PersistentVolumeClaim per ``volumeClaimTemplates`` entry, named
  ``<template>-<set>-<ordinal>``, created before the pod if missing and never deleted (the default
  ``persistentVolumeClaimRetentionPolicy``, Retain/Retain), and mounted as the pod volume named after
  the template (``createPersistentVolumeClaims`` and ``updateStorage`` in stateful_set_utils.go): a pod
  recreated under the same name, on whatever node, finds the same claim, so the same volume and data
  (see :mod:`podquake.model.volumes`).

Simplifications, on purpose: the model keeps only the names of ``volumeClaimTemplates``, so each claim
asks for ReadWriteOnce and 1 GiB (:data:`CLAIM_ACCESS_MODES`, :data:`CLAIM_STORAGE_BYTES`) unless a
claim of that name already exists; no ``ordinals`` (pods are numbered from 0), no
``rollingUpdate.maxUnavailable`` other than its default 1 (pods are replaced one at a time) and no ``persistentVolumeClaimRetentionPolicy`` (claims are always retained); pods belong to the
set by owner reference only; the revision is the template hash (no ControllerRevision objects: the current
revision's template is kept in the controller).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.admission import pod_from_template
from podquake.model.controllers.common import WorkloadController, delete_pod, is_pod_available
from podquake.model.objects import Pod, PodSpec, PodTemplate, StatefulSet, VolumeSpec, Workload
from podquake.model.resources_api import PersistentVolumeClaim

if TYPE_CHECKING:
    from podquake.model.simulation import Simulation, WorkloadStatus

__all__ = ["CLAIM_ACCESS_MODES", "CLAIM_STORAGE_BYTES", "StatefulSetController", "claim_name", "ordinal_of"]

#: What a claim made from a ``volumeClaimTemplates`` entry asks for (the model keeps only template names).
CLAIM_ACCESS_MODES = ("ReadWriteOnce",)
CLAIM_STORAGE_BYTES = 2**30


def claim_name(template: str, set_name: str, ordinal: int) -> str:
    """The claim of ordinal ``ordinal`` for a claim template (``getPersistentVolumeClaimName``).

    >>> claim_name("data", "db", 0)
    'data-db-0'
    """
    return f"{template}-{set_name}-{ordinal}"


def ordinal_of(set_name: str, pod_name: str) -> int | None:
    """The ordinal in ``<set>-<ordinal>``, or None when the name is not of that form (``getOrdinal``)."""
    prefix, _, suffix = pod_name.rpartition("-")
    if prefix != set_name or not suffix.isdigit() or (suffix[0] == "0" and suffix != "0"):
        return None
    return int(suffix)


def _running_and_ready(pod: Pod) -> bool:
    return pod.phase == "Running" and pod.ready


def _available(pod: Pod, min_ready_seconds: float, now: float) -> bool:
    """Running and Ready for ``min_ready_seconds`` (``isRunningAndAvailable``)."""
    return pod.phase == "Running" and is_pod_available(pod, min_ready_seconds, now)


def _unavailable(pod: Pod, min_ready_seconds: float, now: float) -> bool:
    """Not available, or terminating (``isUnavailable``)."""
    return pod.deletion_timestamp is not None or not _available(pod, min_ready_seconds, now)


class StatefulSetController(WorkloadController):
    """Keeps the ordered pods of every StatefulSet. See the module docstring."""

    kind = "StatefulSet"

    def __init__(self, sim: Simulation) -> None:
        super().__init__(sim)
        self._claim_specs: dict[tuple[str, int], tuple[PodSpec, PodSpec]] = {}  # (set uid, ordinal) -> (template spec, pod spec)
        self._current: dict[str, tuple[str, PodTemplate]] = {}  # set uid -> its current revision and that revision's template

    def owner_of(self, pod: Pod) -> str | None:
        owner = pod.owner
        return owner.uid if owner is not None and owner.kind == "StatefulSet" else None

    def revision(self, ss: Workload) -> str:
        """The update revision's name: ``<set>-<template hash>``."""
        return f"{ss.name}-{self.template_hash(ss.template)}"

    def current_revision(self, ss: Workload) -> str:
        """The current revision's name (``status.currentRevision``): the update revision until a
        template change, then the old one until every pod is at the new one."""
        current = self._current.get(ss.uid)
        return current[0] if current is not None else self.revision(ss)

    def pod_changed(self, uid: str, event: ev.Event, pod: Pod | None) -> None:
        """Sync the set; a pod that turned Ready also queues it ``minReadySeconds + 1`` s later
        (``updatePod`` in stateful_set.go: "Add a second to avoid milliseconds skew in AddAfter")."""
        self.enqueue(uid)
        if isinstance(event, ev.PodReadyChanged) and event.ready:
            ss = self.state.workloads.get(uid)
            if isinstance(ss, StatefulSet) and ss.min_ready_seconds > 0:
                self.resync_after(uid, uid, ss.min_ready_seconds + 1.0)

    # --- sync --------------------------------------------------------------------------------------
    def sync(self, uid: str) -> None:
        ss = self.state.workloads.get(uid)
        if not isinstance(ss, StatefulSet) or ss.deletion_timestamp is not None:
            return
        revision = self.revision(ss)
        current = self._current.get(uid)
        if current is None or current[0] == revision:
            current = self._current[uid] = (revision, ss.template)
        min_ready = ss.min_ready_seconds
        now = self.env.now
        replicas: list[Pod | None] = [None] * ss.replicas
        condemned: list[Pod] = []
        # the status counts of computeReplicaStatus that the sync acts on, only when it needs them
        updating = current[0] != revision and ss.update_strategy == "RollingUpdate"
        created = updated = ready = available = 0
        for pod in self.state.pods_owned_by(uid):
            ordinal = ordinal_of(ss.name, pod.name)
            if ordinal is None:
                continue
            if ordinal < ss.replicas:
                replicas[ordinal] = pod
            else:
                condemned.append(pod)
            created += 1
            if updating:
                updated += pod.deletion_timestamp is None and pod.labels.get(k8s.LABEL_CONTROLLER_REVISION_HASH) == revision
            if min_ready > 0 or updating:
                if _running_and_ready(pod):
                    ready += 1
                    available += is_pod_available(pod, min_ready, now)
        if updating and updated == created and ready == created:
            current = self._current[uid] = (revision, ss.template)  # completeRollingUpdate
        if min_ready > 0 and available != ss.replicas:
            self.resync_after(uid, uid, min_ready)  # syncStatefulSet: "one more sync to handle the clock skew"
        condemned.sort(key=lambda pod: -(ordinal_of(ss.name, pod.name) or 0))
        monotonic = ss.pod_management_policy != "Parallel"

        first_unhealthy: Pod | None = None
        for pod in replicas:
            if pod is None or _unavailable(pod, min_ready, now):
                first_unhealthy = pod
                break
        else:
            for pod in reversed(condemned):  # lowest condemned ordinal first
                if _unavailable(pod, min_ready, now):
                    first_unhealthy = pod
                    break

        for ordinal in range(ss.replicas):
            if self._process_replica(ss, replicas, ordinal, revision, current, monotonic) and monotonic:
                return
        for pod in condemned:
            if self._process_condemned(pod, first_unhealthy, min_ready, monotonic) and monotonic:
                return
        if ss.update_strategy == "OnDelete":
            return  # "for the OnDelete strategy we short circuit": pods are updated when deleted
        self._rolling_update(replicas, revision, ss.partition, min_ready)

    def _process_replica(
        self,
        ss: StatefulSet,
        replicas: list[Pod | None],
        ordinal: int,
        revision: str,
        current: tuple[str, PodTemplate],
        monotonic: bool,
    ) -> bool:
        """``processReplica``: True when a monotonic sync must stop here."""
        pod = replicas[ordinal]
        if pod is not None and pod.phase in ("Failed", "Succeeded"):
            if pod.deletion_timestamp is None:
                delete_pod(self.state, pod, "StatefulSetRecreate")
            return True  # the replacement is created once the old pod is gone
        if pod is None:
            # newVersionedStatefulSetPod: below the partition, at the current revision
            if ss.update_strategy == "RollingUpdate" and ordinal < ss.partition:
                replicas[ordinal] = self._create(ss, ordinal, current[0], current[1])
            else:
                replicas[ordinal] = self._create(ss, ordinal, revision, ss.template)
            return True
        if pod.deletion_timestamp is not None and monotonic:
            return True
        if not monotonic:
            return False
        # "we can not make progress" until it is Running and Ready, then Available
        return not _running_and_ready(pod) or not is_pod_available(pod, ss.min_ready_seconds, self.env.now)

    def _process_condemned(self, pod: Pod, first_unhealthy: Pod | None, min_ready: float, monotonic: bool) -> bool:
        """``processCondemned``: delete one condemned pod; True when a monotonic sync must stop."""
        if pod.deletion_timestamp is not None:
            return monotonic
        if monotonic and pod is not first_unhealthy:
            if not _running_and_ready(pod) or not is_pod_available(pod, min_ready, self.env.now):
                return True  # waiting for it to be Running and Ready, then Available, before scale down
        delete_pod(self.state, pod, "ScaleDown")
        return True

    def _rolling_update(self, replicas: list[Pod | None], revision: str, partition: int, min_ready: float) -> None:
        """RollingUpdate as ``updateStatefulSetAfterInvariantEstablished`` with the default
        ``maxUnavailable`` 1 (the MaxUnavailableStatefulSet feature gate is beta and on by default
        since v1.35, kubernetes/kubernetes:pkg/features/kube_features.go): while any replica, at any
        ordinal (below the partition too; a missing one counts), is unavailable or terminating,
        nothing; else delete the highest-ordinal pod at or above ``partition`` that is out of date.

        With OrderedReady every replica is available by the time the sync gets here, so this is the
        older loop's one-at-a-time, top-down order; with Parallel it differs: the older loop
        (``updateStatefulSet`` without the gate) stopped only at an unavailable pod it met going down
        from the top, so an unready pod below the out-of-date ones did not hold the update back
        (kubernetes/kubernetes#96218), and an unready out-of-date pod was replaced."""
        now = self.env.now
        for pod in replicas:
            if pod is None or _unavailable(pod, min_ready, now):
                return  # unavailablePods >= maxUnavailable: podsToDelete is 0
        for target in range(len(replicas) - 1, partition - 1, -1):
            pod = replicas[target]
            if pod is not None and pod.labels.get(k8s.LABEL_CONTROLLER_REVISION_HASH) != revision:
                delete_pod(self.state, pod, "RollingUpdate")
                return

    def _create(self, ss: StatefulSet, ordinal: int, revision: str, template: PodTemplate) -> Pod:
        name = f"{ss.name}-{ordinal}"
        pod = pod_from_template(
            template,
            uid=self.sim.new_uid(),
            name=name,
            namespace=ss.namespace,
            owner=ss.ref(),
            spec=self._with_claims(ss, ordinal, template.spec) if ss.volume_claim_templates else None,
            extra_labels={
                k8s.LABEL_CONTROLLER_REVISION_HASH: revision,
                k8s.LABEL_STATEFULSET_POD_NAME: name,
                k8s.LABEL_POD_INDEX: str(ordinal),
            },
        )
        return self.create_pod(pod)

    def _with_claims(self, ss: StatefulSet, ordinal: int, base: PodSpec) -> PodSpec:
        """The pod spec of ``ordinal`` with its claims as volumes, each claim created if missing
        (``createPersistentVolumeClaims`` then ``updateStorage``: claim volumes first, then the
        template's other volumes)."""
        state = self.state
        volumes = []
        for template in ss.volume_claim_templates:
            claim = claim_name(template, ss.name, ordinal)
            if ("PersistentVolumeClaim", ss.namespace, claim) not in state.objects:
                pvc = PersistentVolumeClaim(claim, ss.namespace, CLAIM_ACCESS_MODES, CLAIM_STORAGE_BYTES)
                state.put_object("PersistentVolumeClaim", ss.namespace, claim, pvc)
            volumes.append(VolumeSpec(template, "persistentVolumeClaim", claim))
        hit = self._claim_specs.get((ss.uid, ordinal))
        if hit is not None and hit[0] is base:
            return hit[1]
        templates = set(ss.volume_claim_templates)
        spec = replace(base, volumes=tuple(volumes) + tuple(v for v in base.volumes if v.name not in templates))
        self._claim_specs[(ss.uid, ordinal)] = (base, spec)
        return spec

    def forget(self, uid: str) -> None:
        for key in [k for k in self._claim_specs if k[0] == uid]:
            del self._claim_specs[key]
        self._current.pop(uid, None)
        self._resync_due.pop(uid, None)

    # --- status ------------------------------------------------------------------------------------
    def status(self, workload: Workload) -> WorkloadStatus:
        """desired = spec.replicas; current = active pods; ready = ready active pods; updated = active
        pods the update strategy leaves as they are: those at the current template's revision, and,
        with a partition, those below it; with OnDelete, every pod. So a partitioned or OnDelete set
        whose controller has nothing left to do is converged (``kubectl rollout status`` calls a
        partitioned rollout complete once ``updatedReplicas >= replicas - partition``)."""
        from podquake.model.simulation import WorkloadStatus

        revision = self.revision(workload)
        on_delete = isinstance(workload, StatefulSet) and workload.update_strategy == "OnDelete"
        partition = workload.partition if isinstance(workload, StatefulSet) and not on_delete else 0
        current = ready = updated = 0
        for pod in self.state.pods_owned_by(workload.uid):
            if not pod.active:
                continue
            current += 1
            ready += pod.ready
            if on_delete or pod.labels.get(k8s.LABEL_CONTROLLER_REVISION_HASH) == revision:
                updated += 1
            elif partition:
                ordinal = ordinal_of(workload.name, pod.name)
                updated += ordinal is not None and ordinal < partition
        return WorkloadStatus(workload.replicas, current, ready, updated)
