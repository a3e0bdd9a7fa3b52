"""The Deployment controller: ReplicaSets per pod template, rolling updates, Recreate, scaling.

Follows kubernetes/kubernetes:pkg/controller/deployment/{deployment_controller.go,sync.go,rolling.go,
recreate.go,util/deployment_util.go}:

- each pod template gets a ReplicaSet named ``<deployment>-<pod-template-hash>`` whose template,
  selector and labels carry the ``pod-template-hash`` label; the ReplicaSet whose template equals
  the Deployment's (ignoring that label) is the *new* one, every other is *old*;
- revisions: a new ReplicaSet gets ``max(old revisions) + 1``, and so does an old one that becomes
  new again (a rollback by template); the Deployment's revision follows its new ReplicaSet;
- **RollingUpdate** (``rolloutRolling``): ``maxSurge``/``maxUnavailable`` are resolved as
  ``ResolveFenceposts`` (surge rounded up, unavailable rounded down, both 0 -> unavailable 1);
  the new ReplicaSet grows to at most ``replicas + maxSurge`` pods in total; old ReplicaSets shrink
  so that at least ``replicas - maxUnavailable`` pods stay available, unhealthy old pods first,
  then the oldest ReplicaSets first. Ten replicas at 25 %/25 % never run more than 13 pods and never
  fall below 8 available;
- **Recreate** (``rolloutRecreate``): scale every old ReplicaSet to 0, wait until none of their pods
  is still running or terminating, then create the new ReplicaSet at full size;
- ``minReadySeconds``: a pod counts as available once Ready for that long, its Ready time read in
  whole seconds as upstream's ``metav1.Time`` (:func:`~podquake.model.controllers.common.is_pod_available`,
  so up to a second early to a sync that happens to look then). The ReplicaSet controller
  notices that from two timers, which the model sets for the Deployment: a pod that turns Ready
  queues its ReplicaSet ``minReadySeconds + 1`` s later (``updatePod`` in replica_set.go, "Add a
  second to avoid milliseconds skew"), and a ReplicaSet sync that finds all its pods Ready but not
  all available queues it ``minReadySeconds`` later (``syncReplicaSet``, "a last line of defense to
  guard against clock-skew"); as client-go's delaying queue, a ReplicaSet keeps only its earliest
  pending deadline. So a ReplicaSet whose pods are all Ready advances ``minReadySeconds`` after the
  last one turned Ready, and one with a pod still not Ready ``minReadySeconds + 1`` s after;
- a scaling event (``spec.replicas`` changed since the ReplicaSets were last sized) is handled by
  ``scale``: the only active ReplicaSet takes the new size, or, mid-rollout, the change is spread
  over the ReplicaSets in proportion to their size (``GetReplicaSetProportion``);
- once a rollout is complete, old ReplicaSets with no pods beyond ``revisionHistoryLimit`` are deleted.

Start a rollout with :meth:`DeploymentController.rollout` (what ``kubectl apply`` of a changed
template or ``kubectl set image`` does).

Simplifications, on purpose: the ``desired-replicas``/``max-replicas`` annotations that upstream
writes on ReplicaSets are kept in the controller (they are bookkeeping for proportional scaling,
not state anyone else reads); availability of every ReplicaSet uses the Deployment's current
``minReadySeconds``; there is no pause, no rollback API (re-apply the old template instead), no
progress deadline condition (``progressDeadlineSeconds`` is not enforced) and no adoption of orphan
ReplicaSets whose labels match the selector; when a scaling event finds its one active ReplicaSet
already at the new size, its bookkeeping is refreshed (upstream leaves the stale annotation).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.controllers.common import SyncError, WorkloadController, scaled_value
from podquake.model.controllers.replicaset import PodCounts, count_pods
from podquake.model.objects import Deployment, Pod, PodTemplate, ReplicaSet, Workload
from podquake.model.selectors import LabelSelector

if TYPE_CHECKING:
    from podquake.model.simulation import Simulation, WorkloadStatus

__all__ = ["DeploymentController", "resolve_fenceposts"]

_HASH = k8s.LABEL_POD_TEMPLATE_HASH


def resolve_fenceposts(max_surge: int | str, max_unavailable: int | str, desired: int) -> tuple[int, int]:
    """``(surge, unavailable)`` for ``desired`` replicas (``ResolveFenceposts``).

    >>> resolve_fenceposts("25%", "25%", 10), resolve_fenceposts(0, "10%", 5)
    ((3, 2), (0, 1))
    """
    surge = scaled_value(max_surge, desired, True)
    unavailable = scaled_value(max_unavailable, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _equal_ignore_hash(rs_template: PodTemplate, template: PodTemplate) -> bool:
    """Templates equal apart from the ``pod-template-hash`` label (``EqualIgnoreHash``)."""
    if rs_template.spec != template.spec or rs_template.annotations != template.annotations:
        return False
    return {k: v for k, v in rs_template.labels if k != _HASH} == {k: v for k, v in template.labels if k != _HASH}


def _by_creation(rs: Workload) -> tuple[float, str]:
    return (rs.created_at, rs.name)


class DeploymentController(WorkloadController):
    """Creates, scales and retires the ReplicaSets of every Deployment. See the module docstring."""

    kind = "Deployment"

    def __init__(self, sim: Simulation) -> None:
        super().__init__(sim)
        self._replicasets: dict[str, dict[str, ReplicaSet]] = {}  # deployment uid -> its ReplicaSets
        self._deployment_of: dict[str, str] = {}  # ReplicaSet uid -> deployment uid
        self._rs_keys: dict[str, str] = {}  # ReplicaSet "namespace/name" -> uid
        self._notes: dict[str, tuple[int, int]] = {}  # ReplicaSet uid -> (desired-replicas, max-replicas)
        self._counts: dict[str, PodCounts] = {}  # per sync: pod counts by ReplicaSet uid
        self._min_ready = 0.0

    # --- the user's entry point --------------------------------------------------------------------
    def rollout(self, deployment: Deployment, template: PodTemplate) -> int:
        """Give ``deployment`` a new pod template, which starts a rollout; returns the new revision."""
        if template == deployment.template:
            return deployment.revision
        others = [rs for rs in self.replicasets(deployment.uid) if not _equal_ignore_hash(rs.template, template)]
        revision = max((rs.revision for rs in others), default=0) + 1
        self.state.update_workload_template(deployment.uid, template, revision)
        return revision

    def replicasets(self, uid: str) -> list[ReplicaSet]:
        """The ReplicaSets of Deployment ``uid``, oldest first."""
        return sorted(self._replicasets.get(uid, {}).values(), key=_by_creation)

    # --- events ------------------------------------------------------------------------------------
    def owner_of(self, pod: Pod) -> str | None:
        owner = pod.owner
        if owner is None or owner.kind != "ReplicaSet":
            return None
        return self._deployment_of.get(owner.uid)

    def pod_changed(self, uid: str, event: ev.Event, pod: Pod | None) -> None:
        """Sync the Deployment; a pod that turned Ready also queues it ``minReadySeconds + 1`` s later
        (``updatePod`` in pkg/controller/replicaset/replica_set.go: "Add a second to avoid
        milliseconds skew in AddAfter")."""
        self.enqueue(uid)
        if isinstance(event, ev.PodReadyChanged) and event.ready and pod is not None and pod.owner is not None:
            deployment = self.state.workloads.get(uid)
            if isinstance(deployment, Deployment) and deployment.min_ready_seconds > 0:
                self.resync_after(pod.owner.uid, uid, deployment.min_ready_seconds + 1.0)

    def workload_changed(self, event: ev.Event) -> None:
        if event.kind != "ReplicaSet":  # type: ignore[attr-defined]
            return
        key: str = event.workload  # type: ignore[attr-defined]
        if isinstance(event, ev.WorkloadDeleted):
            rs_uid = self._rs_keys.pop(key, None)
            deployment_uid = self._deployment_of.pop(rs_uid, None) if rs_uid else None
            if rs_uid is None or deployment_uid is None:
                return
            self._notes.pop(rs_uid, None)
            family = self._replicasets.get(deployment_uid)
            if family is not None:
                family.pop(rs_uid, None)
            self.enqueue(deployment_uid)
            return
        rs = self.lookup("ReplicaSet", key)
        if not isinstance(rs, ReplicaSet) or rs.owner is None or rs.owner.kind != "Deployment":
            return
        if rs.uid not in self._deployment_of:
            self._rs_keys[key] = rs.uid
            self._deployment_of[rs.uid] = rs.owner.uid
            self._replicasets.setdefault(rs.owner.uid, {})[rs.uid] = rs
        self.enqueue(rs.owner.uid)

    def forget(self, uid: str) -> None:
        for rs_uid in self._replicasets.pop(uid, {}):
            self._resync_due.pop(rs_uid, None)

    # --- sync --------------------------------------------------------------------------------------
    def sync(self, uid: str) -> None:
        d = self.state.workloads.get(uid)
        if not isinstance(d, Deployment) or d.deletion_timestamp is not None:
            return
        if d.selector.is_empty():
            return  # upstream refuses a selector that selects every pod
        self._counts = {}
        self._min_ready = d.min_ready_seconds
        rs_list = self.replicasets(uid)
        if self._is_scaling_event(d, rs_list):
            new_rs, old_rss = self._new_and_old(d, rs_list, create=False)
            self._scale(d, new_rs, old_rss)
        elif d.strategy.type == "Recreate":
            self._rollout_recreate(d, rs_list)
        else:
            self._rollout_rolling(d, rs_list)
        if d.min_ready_seconds > 0:
            self._requeue_for_availability(d)

    def _requeue_for_availability(self, d: Deployment) -> None:
        """``syncReplicaSet``'s "last line of defense to guard against clock-skew": a ReplicaSet whose
        pods are all Ready but not all available is synced again ``minReadySeconds`` later."""
        now = self.env.now
        for rs in self._replicasets.get(d.uid, {}).values():
            if rs.replicas == 0:
                continue
            counts = count_pods(self.state, rs.uid, d.min_ready_seconds, now)
            if counts.ready == rs.replicas and counts.available != rs.replicas:
                self.resync_after(rs.uid, d.uid, d.min_ready_seconds)

    # --- ReplicaSet bookkeeping ------------------------------------------------------------------
    def _pods(self, rs: Workload) -> PodCounts:
        counts = self._counts.get(rs.uid)
        if counts is None:
            counts = self._counts[rs.uid] = count_pods(self.state, rs.uid, self._min_ready, self.env.now)
        return counts

    def _find_new(self, d: Deployment, rs_list: Sequence[ReplicaSet]) -> ReplicaSet | None:
        for rs in rs_list:  # oldest first, as FindNewReplicaSet
            if _equal_ignore_hash(rs.template, d.template):
                return rs
        return None

    def _new_and_old(self, d: Deployment, rs_list: Sequence[ReplicaSet], create: bool) -> tuple[ReplicaSet | None, list[ReplicaSet]]:
        """The new ReplicaSet (created when ``create``) and all old ones (``getAllReplicaSetsAndSyncRevision``)."""
        new_rs = self._find_new(d, rs_list)
        old = [rs for rs in rs_list if rs is not new_rs]
        revision = max((rs.revision for rs in old), default=0) + 1
        if new_rs is not None:
            if new_rs.revision < revision:
                self.state.update_workload_template(new_rs.uid, new_rs.template, revision)
        elif create:
            new_rs = self._create_new(d, old, revision)
        else:
            return None, old
        if d.revision != new_rs.revision:
            self.state.update_workload_template(d.uid, d.template, new_rs.revision)
        return new_rs, old

    def _create_new(self, d: Deployment, old: list[ReplicaSet], revision: int) -> ReplicaSet:
        base = self.template_hash(d.template)
        collisions = 0
        while True:
            template_hash = base if collisions == 0 else f"{base}{collisions}"
            name = f"{d.name}-{template_hash}"
            if self.state.workload_named("ReplicaSet", d.namespace, name) is None:
                break
            collisions += 1  # upstream rehashes with status.collisionCount
        template = PodTemplate(d.template.labels + ((_HASH, template_hash),), d.template.spec, d.template.annotations)
        selector = LabelSelector(
            tuple(sorted(d.selector.match_labels + ((_HASH, template_hash),))), d.selector.match_expressions
        )
        rs = ReplicaSet(
            uid=self.sim.new_uid(),
            name=name,
            namespace=d.namespace,
            selector=selector,
            template=template,
            replicas=0,
            labels=template.label_dict(),
            owner=d.ref(),
            revision=revision,
            min_ready_seconds=d.min_ready_seconds,
        )
        rs.replicas = self._new_rs_replicas(d, [*old, rs], rs)
        self._notes[rs.uid] = (d.replicas, d.replicas + self._max_surge(d))
        self.state.create_workload(rs)
        return rs

    def _max_surge(self, d: Deployment) -> int:
        if d.strategy.type != "RollingUpdate":
            return 0
        return resolve_fenceposts(d.strategy.max_surge, d.strategy.max_unavailable, d.replicas)[0]

    def _max_unavailable(self, d: Deployment) -> int:
        if d.strategy.type != "RollingUpdate" or d.replicas == 0:
            return 0
        unavailable = resolve_fenceposts(d.strategy.max_surge, d.strategy.max_unavailable, d.replicas)[1]
        return min(unavailable, d.replicas)

    def _new_rs_replicas(self, d: Deployment, all_rss: Sequence[ReplicaSet], new_rs: ReplicaSet) -> int:
        """``NewRSNewReplicas``: how big the new ReplicaSet may be now."""
        if d.strategy.type != "RollingUpdate":
            return d.replicas
        max_total = d.replicas + scaled_value(d.strategy.max_surge, d.replicas, True)
        current = sum(rs.replicas for rs in all_rss)
        if current >= max_total:
            return new_rs.replicas
        return new_rs.replicas + min(max_total - current, d.replicas - new_rs.replicas)

    def _scale_to(self, rs: ReplicaSet, replicas: int, d: Deployment) -> bool:
        """``scaleReplicaSetAndRecordEvent``: scale unless already at that size."""
        if rs.replicas == replicas:
            return False
        return self._scale_replica_set(rs, replicas, d)

    def _scale_replica_set(self, rs: ReplicaSet, replicas: int, d: Deployment) -> bool:
        """``scaleReplicaSet``: set the size and the desired/max bookkeeping; True if the size changed."""
        self._notes[rs.uid] = (d.replicas, d.replicas + self._max_surge(d))
        if rs.replicas == replicas:
            return False
        self.state.scale_workload(rs.uid, replicas)
        return True

    def _complete(self, d: Deployment, new_rs: ReplicaSet | None, all_rss: Sequence[ReplicaSet | None]) -> bool:
        """``DeploymentComplete``: every pod is updated, and exactly ``replicas`` are active and available."""
        if new_rs is None or self._pods(new_rs).active != d.replicas:
            return False
        rss = [rs for rs in all_rss if rs is not None]
        return sum(self._pods(rs).active for rs in rss) == d.replicas and sum(self._pods(rs).available for rs in rss) == d.replicas

    def _cleanup(self, old_rss: Sequence[ReplicaSet], d: Deployment) -> None:
        """``cleanupDeployment``: delete the oldest empty old ReplicaSets beyond revisionHistoryLimit."""
        alive = [rs for rs in old_rss if rs.deletion_timestamp is None]
        excess = len(alive) - d.revision_history_limit
        if excess <= 0:
            return
        alive.sort(key=lambda rs: (rs.revision, rs.created_at, rs.name))
        for rs in alive[:excess]:
            if rs.replicas != 0 or self._pods(rs).active != 0:
                continue
            self.state.delete_workload(rs.uid)

    # --- RollingUpdate -----------------------------------------------------------------------------
    def _rollout_rolling(self, d: Deployment, rs_list: Sequence[ReplicaSet]) -> None:
        new_rs, old_rss = self._new_and_old(d, rs_list, create=True)
        assert new_rs is not None
        all_rss = [*old_rss, new_rs]
        if self._reconcile_new(all_rss, new_rs, d):
            return
        if self._reconcile_old(all_rss, [rs for rs in old_rss if rs.replicas > 0], new_rs, d):
            return
        if self._complete(d, new_rs, all_rss):
            self._cleanup(old_rss, d)

    def _reconcile_new(self, all_rss: Sequence[ReplicaSet], new_rs: ReplicaSet, d: Deployment) -> bool:
        if new_rs.replicas == d.replicas:
            return False
        if new_rs.replicas > d.replicas:
            return self._scale_to(new_rs, d.replicas, d)
        return self._scale_to(new_rs, self._new_rs_replicas(d, all_rss, new_rs), d)

    def _reconcile_old(self, all_rss: Sequence[ReplicaSet], old_rss: list[ReplicaSet], new_rs: ReplicaSet, d: Deployment) -> bool:
        if sum(rs.replicas for rs in old_rss) == 0:
            return False
        all_count = sum(rs.replicas for rs in all_rss)
        min_available = d.replicas - self._max_unavailable(d)
        new_unavailable = new_rs.replicas - self._pods(new_rs).available
        max_scaled_down = all_count - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        old_rss, cleaned = self._cleanup_unhealthy(old_rss, d, max_scaled_down)
        scaled = self._scale_down_old(d, [*old_rss, new_rs], old_rss)
        return cleaned + scaled > 0

    def _cleanup_unhealthy(self, old_rss: list[ReplicaSet], d: Deployment, max_cleanup: int) -> tuple[list[ReplicaSet], int]:
        """``cleanupUnhealthyReplicas``: shrink old ReplicaSets by their unavailable pods, oldest first."""
        old_rss = sorted(old_rss, key=_by_creation)
        total = 0
        for rs in old_rss:
            if total >= max_cleanup:
                break
            available = self._pods(rs).available
            if rs.replicas == 0 or rs.replicas == available:
                continue
            count = min(max_cleanup - total, rs.replicas - available)
            if count < 0:
                raise SyncError(f"cannot scale {rs.key} up while cleaning up unhealthy replicas")
            self._scale_to(rs, rs.replicas - count, d)
            total += count
        return old_rss, total

    def _scale_down_old(self, d: Deployment, all_rss: Sequence[ReplicaSet], old_rss: list[ReplicaSet]) -> int:
        """``scaleDownOldReplicaSetsForRollingUpdate``: keep ``replicas - maxUnavailable`` available."""
        min_available = d.replicas - self._max_unavailable(d)
        available = sum(self._pods(rs).available for rs in all_rss)
        if available <= min_available:
            return 0
        target = available - min_available
        total = 0
        for rs in sorted(old_rss, key=_by_creation):
            if total >= target:
                break
            if rs.replicas == 0:
                continue
            count = min(rs.replicas, target - total)
            self._scale_to(rs, rs.replicas - count, d)
            total += count
        return total

    # --- Recreate ----------------------------------------------------------------------------------
    def _rollout_recreate(self, d: Deployment, rs_list: Sequence[ReplicaSet]) -> None:
        new_rs, old_rss = self._new_and_old(d, rs_list, create=False)
        scaled = False
        for rs in old_rss:
            if rs.replicas > 0 and self._scale_to(rs, 0, d):
                scaled = True
        if scaled or self._old_pods_running(new_rs, old_rss):
            return
        if new_rs is None:
            new_rs, old_rss = self._new_and_old(d, self.replicasets(d.uid), create=True)
            assert new_rs is not None
        self._scale_to(new_rs, d.replicas, d)
        if self._complete(d, new_rs, [*old_rss, new_rs]):
            self._cleanup(old_rss, d)

    def _old_pods_running(self, new_rs: ReplicaSet | None, old_rss: Sequence[ReplicaSet]) -> bool:
        """``oldPodsRunning``: an old pod is active, or still running or terminating."""
        if sum(self._pods(rs).active for rs in old_rss) > 0:
            return True
        for rs in old_rss:
            for pod in self.state.pods_owned_by(rs.uid):
                if pod.phase not in ("Failed", "Succeeded"):
                    return True
        return False

    # --- scaling events ----------------------------------------------------------------------------
    def _is_scaling_event(self, d: Deployment, rs_list: Sequence[ReplicaSet]) -> bool:
        """``isScalingEvent``: an active ReplicaSet was last sized for another ``spec.replicas``."""
        new_rs, old_rss = self._new_and_old(d, rs_list, create=False)
        for rs in [*old_rss, new_rs]:
            if rs is None or rs.replicas == 0:
                continue
            notes = self._notes.get(rs.uid)
            if notes is not None and notes[0] != d.replicas:
                return True
        return False

    def _scale(self, d: Deployment, new_rs: ReplicaSet | None, old_rss: list[ReplicaSet]) -> None:
        """``scale``: resize the one active ReplicaSet, or all of them in proportion."""
        target = self._active_or_latest(new_rs, old_rss)
        if target is not None:
            self._scale_replica_set(target, d.replicas, d)
            return
        if self._saturated(d, new_rs):
            for rs in old_rss:
                if rs.replicas > 0:
                    self._scale_to(rs, 0, d)
            return
        if d.strategy.type != "RollingUpdate":
            return
        active = [rs for rs in [*old_rss, new_rs] if rs is not None and rs.replicas > 0]
        allowed = d.replicas + self._max_surge(d) if d.replicas > 0 else 0
        to_add = allowed - sum(rs.replicas for rs in active)
        if to_add > 0:  # ReplicaSetsBySizeNewer: bigger first, then newer first
            active.sort(key=_by_creation, reverse=True)
            active.sort(key=lambda rs: rs.replicas, reverse=True)
        elif to_add < 0:  # ReplicaSetsBySizeOlder: bigger first, then older first
            active.sort(key=_by_creation)
            active.sort(key=lambda rs: rs.replicas, reverse=True)
        sizes: dict[str, int] = {}
        added = 0
        for rs in active:
            proportion = self._proportion(rs, d, to_add, added) if to_add != 0 else 0
            sizes[rs.uid] = rs.replicas + proportion
            added += proportion
        for i, rs in enumerate(active):
            if i == 0 and to_add != 0:  # leftovers go to the largest ReplicaSet
                sizes[rs.uid] = max(0, sizes[rs.uid] + to_add - added)
            self._scale_replica_set(rs, sizes[rs.uid], d)

    @staticmethod
    def _active_or_latest(new_rs: ReplicaSet | None, old_rss: list[ReplicaSet]) -> ReplicaSet | None:
        """``FindActiveOrLatest``: the only active ReplicaSet, or the newest if none is active."""
        if new_rs is None and not old_rss:
            return None
        newest_first = sorted(old_rss, key=_by_creation, reverse=True)
        active = [rs for rs in [*newest_first, new_rs] if rs is not None and rs.replicas > 0]
        if not active:
            return new_rs if new_rs is not None else newest_first[0]
        return active[0] if len(active) == 1 else None

    def _saturated(self, d: Deployment, rs: ReplicaSet | None) -> bool:
        """``IsSaturated``: the new ReplicaSet has all the replicas, sized for them, all available."""
        if rs is None:
            return False
        notes = self._notes.get(rs.uid)
        return (
            rs.replicas == d.replicas
            and notes is not None
            and notes[0] == d.replicas
            and self._pods(rs).available == d.replicas
        )

    def _proportion(self, rs: ReplicaSet, d: Deployment, to_add: int, added: int) -> int:
        """``GetReplicaSetProportion``: this ReplicaSet's share of ``to_add``, bounded by what is left."""
        if rs.replicas == 0 or to_add == added:
            return 0
        allowed = to_add - added
        fraction = self._fraction(rs, d)
        return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)

    def _fraction(self, rs: ReplicaSet, d: Deployment) -> int:
        """``getReplicaSetFraction``: ``round(size * newMax / oldMax) - size`` (Go rounds half away from 0)."""
        if d.replicas == 0:
            return -rs.replicas
        notes = self._notes.get(rs.uid)
        if notes is None or notes[1] == 0:
            return rs.replicas
        scaled = rs.replicas * (d.replicas + self._max_surge(d)) / notes[1]
        return math.floor(scaled + 0.5) - rs.replicas

    # --- status ------------------------------------------------------------------------------------
    def status(self, workload: Workload) -> WorkloadStatus:
        """desired = spec.replicas; current = active pods of all its ReplicaSets; ready = ready active
        pods; updated = active pods of the ReplicaSet that matches the current template."""
        from podquake.model.simulation import WorkloadStatus

        assert isinstance(workload, Deployment)
        rs_list = self.replicasets(workload.uid)
        new_rs = self._find_new(workload, rs_list)
        current = ready = updated = 0
        for rs in rs_list:
            counts = count_pods(self.state, rs.uid, 0.0, self.env.now)
            current += counts.active
            ready += counts.ready
            if rs is new_rs:
                updated = counts.active
        return WorkloadStatus(workload.replicas, current, ready, updated)
