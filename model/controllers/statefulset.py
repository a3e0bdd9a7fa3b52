"""The StatefulSet controller: pods with stable names ``<set>-0`` .. ``<set>-(N-1)``, in order.

Follows kubernetes/kubernetes:pkg/controller/statefulset/stateful_set_control.go
(``updateStatefulSet``, ``processReplica``, ``processCondemned``, ``runForAll``) and
stateful_set_utils.go:

- pods with an ordinal below ``replicas`` are *replicas*; the others are *condemned*;
- a Failed or Succeeded replica is deleted, and recreated with the same name on a later sync, once
  the old pod is gone; a missing replica is created with the same name;
- **OrderedReady** (the default, "monotonic"): replicas are handled lowest ordinal first and the
  sync stops at the first pod it creates, the first one terminating and the first one not Running
  and Ready, so ordinal *i* is only created once 0..i-1 are Running and Ready; condemned pods are
  deleted highest ordinal first, one at a time, each only after the previous one is gone and
  while every replica is healthy;
- **Parallel**: every missing replica is created and every condemned pod deleted in one sync;
- template changes roll out as the default RollingUpdate strategy with partition 0: once the
  replicas are settled, the highest-ordinal pod whose ``controller-revision-hash`` differs from
  the current template's is deleted (and recreated by a later sync at the new revision), waiting
  for each to be Running and Ready before the next;
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
claim of that name already exists; no ``minReadySeconds``/``ordinals``/``maxUnavailable`` fields, no
OnDelete strategy and no partition; pods belong to the set by owner reference only; the revision is the
template hash (no ControllerRevision objects).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from podquake.model import constants as k8s
from podquake.model.admission import pod_from_template
from podquake.model.controllers.common import WorkloadController, delete_pod
from podquake.model.objects import Pod, PodSpec, StatefulSet, VolumeSpec, Workload
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


def _healthy(pod: Pod) -> bool:
    return _running_and_ready(pod) and pod.deletion_timestamp is None


class StatefulSetController(WorkloadController):
    """Keeps the ordered pods of every StatefulSet. See the module docstring."""

    kind = "StatefulSet"

    def __init__(self, sim: Simulation) -> None:
        super().__init__(sim)
        self._claim_specs: dict[tuple[str, int], tuple[PodSpec, PodSpec]] = {}  # (set uid, ordinal) -> (template spec, pod spec)

    def owner_of(self, pod: Pod) -> str | None:
        owner = pod.owner
        return owner.uid if owner is not None and owner.kind == "StatefulSet" else None

    def revision(self, ss: Workload) -> str:
        """The update revision's name: ``<set>-<template hash>``."""
        return f"{ss.name}-{self.template_hash(ss.template)}"

    # --- sync --------------------------------------------------------------------------------------
    def sync(self, uid: str) -> None:
        ss = self.state.workloads.get(uid)
        if not isinstance(ss, StatefulSet) or ss.deletion_timestamp is not None:
            return
        replicas: list[Pod | None] = [None] * ss.replicas
        condemned: list[Pod] = []
        for pod in self.state.pods_owned_by(uid):
            ordinal = ordinal_of(ss.name, pod.name)
            if ordinal is None:
                continue
            if ordinal < ss.replicas:
                replicas[ordinal] = pod
            else:
                condemned.append(pod)
        condemned.sort(key=lambda pod: -(ordinal_of(ss.name, pod.name) or 0))
        monotonic = ss.pod_management_policy != "Parallel"
        revision = self.revision(ss)

        first_unhealthy: Pod | None = None
        for pod in replicas:
            if pod is None or not _healthy(pod):
                first_unhealthy = pod
                break
        else:
            for pod in reversed(condemned):  # lowest condemned ordinal first
                if not _healthy(pod):
                    first_unhealthy = pod
                    break

        for ordinal in range(ss.replicas):
            if self._process_replica(ss, replicas, ordinal, revision, monotonic) and monotonic:
                return
        for pod in condemned:
            if self._process_condemned(pod, first_unhealthy, monotonic) and monotonic:
                return
        self._rolling_update(replicas, revision)

    def _process_replica(self, ss: StatefulSet, replicas: list[Pod | None], ordinal: int, revision: str, monotonic: bool) -> bool:
        """``processReplica``: True when a monotonic sync must stop here."""
        pod = replicas[ordinal]
        if pod is not None and pod.phase in ("Failed", "Succeeded"):
            if pod.deletion_timestamp is None:
                delete_pod(self.state, pod, "StatefulSetRecreate")
            return True  # the replacement is created once the old pod is gone
        if pod is None:
            replicas[ordinal] = self._create(ss, ordinal, revision)
            return True
        if pod.deletion_timestamp is not None and monotonic:
            return True
        return not _running_and_ready(pod) and monotonic

    def _process_condemned(self, pod: Pod, first_unhealthy: Pod | None, monotonic: bool) -> bool:
        """``processCondemned``: delete one condemned pod; True when a monotonic sync must stop."""
        if pod.deletion_timestamp is not None:
            return monotonic
        if monotonic and not _running_and_ready(pod) and pod is not first_unhealthy:
            return True
        delete_pod(self.state, pod, "ScaleDown")
        return True

    def _rolling_update(self, replicas: list[Pod | None], revision: str) -> None:
        """RollingUpdate with partition 0: replace the highest out-of-date ordinal, one at a time."""
        for pod in reversed(replicas):
            if pod is None:
                return
            if pod.labels.get(k8s.LABEL_CONTROLLER_REVISION_HASH) != revision and pod.deletion_timestamp is None:
                delete_pod(self.state, pod, "RollingUpdate")
                return
            if not _healthy(pod):
                return

    def _create(self, ss: StatefulSet, ordinal: int, revision: str) -> Pod:
        name = f"{ss.name}-{ordinal}"
        pod = pod_from_template(
            ss.template,
            uid=self.sim.new_uid(),
            name=name,
            namespace=ss.namespace,
            owner=ss.ref(),
            spec=self._with_claims(ss, ordinal) if ss.volume_claim_templates else None,
            extra_labels={
                k8s.LABEL_CONTROLLER_REVISION_HASH: revision,
                k8s.LABEL_STATEFULSET_POD_NAME: name,
                k8s.LABEL_POD_INDEX: str(ordinal),
            },
        )
        return self.create_pod(pod)

    def _with_claims(self, ss: StatefulSet, ordinal: int) -> PodSpec:
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
        base = ss.template.spec
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

    # --- status ------------------------------------------------------------------------------------
    def status(self, workload: Workload) -> WorkloadStatus:
        """desired = spec.replicas; current = active pods; ready = ready active pods; updated = active
        pods at the current template's revision."""
        from podquake.model.simulation import WorkloadStatus

        revision = self.revision(workload)
        current = ready = updated = 0
        for pod in self.state.pods_owned_by(workload.uid):
            if not pod.active:
                continue
            current += 1
            ready += pod.ready
            updated += pod.labels.get(k8s.LABEL_CONTROLLER_REVISION_HASH) == revision
        return WorkloadStatus(workload.replicas, current, ready, updated)
