"""The Job controller: run a Job's pods to completion, retry failures, and finish the Job.

Follows kubernetes/kubernetes:pkg/controller/job/job_controller.go (v1.35: ``syncJob``,
``manageJob``, ``getNewFinishedPods``, ``isPodFailed``, ``pastBackoffLimitOnFailure``,
``pastActiveDeadline``, ``trackJobStatusAndRemoveFinalizers``), pod_failure_policy.go
(``matchPodFailurePolicy``), backoff_utils.go (``newBackoffRecord``, ``getFinishedTime``,
``getRemainingTimeForFailuresCount``) and indexed_job_utils.go (``firstPendingIndexes``,
``appendDuplicatedIndexPodsForRemoval``). What it does:

- **Pods.** It keeps ``min(parallelism, completions - succeeded)`` pods active (a Job without
  completions: ``parallelism`` until one pod succeeds, then no new pod). Pods are named
  ``<job>-<5 characters>`` (Indexed: ``<job>-<index>-<5 characters>``), carry the template's labels
  plus ``batch.kubernetes.io/job-name``, ``job-name`` and the controller-uid labels, and the Job as
  controller owner; an Indexed Job's pods carry their completion index (annotation and label
  ``batch.kubernetes.io/job-completion-index``) and the lowest pending indexes are created first. At
  most 500 creates or deletes per sync, in slow-start batches; expectations as the ReplicaSet's.
- **Counting.** The Job tracks its pods (upstream's ``batch.kubernetes.io/job-tracking``
  finalizer), so every pod is accounted once, even one removed from the API: a Succeeded pod counts
  as a completion (an Indexed Job's as its index), and a pod counts as failed when it is Failed,
  when it is gone from the API (the kubelet, or the pod GC for a pod lost with its node, marks it
  Failed before the finalizer lets it go), or, with podReplacementPolicy TerminatingOrFailed (the
  default without a podFailurePolicy), as soon as it is terminating (``isPodFailed``). With
  podReplacementPolicy Failed a terminating pod is neither failed nor replaced until it has gone.
- **Pod failure policy.** Each failed pod goes through the rules in order (``matchPodFailurePolicy``):
  ``onExitCodes`` (``In``/``NotIn``, the non-zero exit code of a terminated container, optionally of
  one container) or ``onPodConditions``. The model has no pod conditions other than
  ``DisruptionTarget``, which a pod has when it was deleted by the taint eviction controller
  (``TaintEviction``), preempted (``PreemptionByScheduler``), evicted through the Eviction API, or
  deleted by the pod GC (``PodGCNodeGone``, ``PodGCOutOfService``, ``PodGC``; a node removed with
  its pods, ``NodeRemoved``, counts as the pod GC's ``gcOrphaned``); a pattern on any other
  condition never matches. ``FailJob`` fails the Job (reason ``PodFailurePolicy``), ``Ignore`` does
  not count the failure towards backoffLimit, ``Count`` (and no match) counts it.
- **Back-off.** Failed pods are replaced after ``10 s * 2^(n-1)``, at most 10 min, where n is the
  number of failures since the last success, from the last failure's finish time (the latest
  container finish time, else the deletion time, in whole seconds as the API gives them). Failures
  ignored by the policy feed the back-off too, as upstream.
- **Finishing.** Failed with reason ``BackoffLimitExceeded`` once the counted failures exceed
  ``backoffLimit``, or (restartPolicy OnFailure) once the restarts of its pending and running pods
  reach it (``pastBackoffLimitOnFailure``); ``DeadlineExceeded`` once ``activeDeadlineSeconds`` have
  passed since ``startTime``; ``PodFailurePolicy`` on a FailJob rule. A failing Job deletes its active
  pods (they count as failed) and records the interim ``FailureTarget`` condition; ``Failed`` follows
  once none of its pods is terminating (v1.35's ``delayTerminalCondition``). A Job with every
  completion done records ``SuccessCriteriaMet``, then ``Complete`` the same way (reason
  ``CompletionsReached``).
- **Suspend.** A suspended Job's active pods are deleted and none are created; ``startTime`` is
  set when it first runs and again when it is resumed (so the deadline counts from the resume).
- **TTL.** ``ttlSecondsAfterFinished`` after finishing, the Job is deleted (the TTL-after-finished
  controller, pkg/controller/ttlafterfinished), and the garbage collector deletes its pods.

Cost: the controller watches pod events only once a Job exists, so a simulation without Jobs pays
nothing per event.

Simplifications, on purpose: ``backoffLimitPerIndex``, ``maxFailedIndexes`` and ``successPolicy``
are not modelled (the manifest loader notes them); finished pods keep their node's resources in the
model's accounting until they are deleted (upstream's scheduler and kubelet ignore terminal pods),
as every terminal pod in the model does; a pod's finish time skips upstream's second source (the
Ready=False condition's transition time), which the model does not keep; the Job's status is not
written back to the API but kept on the Job (``job.status``) and traced (:class:`~podquake.model.trace.JobPodFinished`,
:class:`~podquake.model.trace.JobConditionChanged`); pods are found by owner reference, not adopted
by selector.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.admission import pod_from_template
from podquake.model.controllers.common import Expectations, WorkloadController, api_time, delete_pod, slow_start_batch
from podquake.model.objects import Job, Pod

if TYPE_CHECKING:
    from podquake.model.simulation import Simulation, WorkloadStatus

__all__ = ["DISRUPTION_REASONS", "JobController", "backoff_delay", "match_pod_failure_policy"]

#: Deletion reasons (the model's) that give a pod the DisruptionTarget condition upstream, with
#: upstream's condition reason (pkg/apis/core/types.go and the controllers that set it).
DISRUPTION_REASONS = {
    "TaintEviction": "DeletionByTaintManager",
    "PreemptionByScheduler": "PreemptionByScheduler",
    "EvictionByEvictionAPI": "EvictionByEvictionAPI",
    "PodGCNodeGone": "DeletionByPodGC",
    "PodGCOutOfService": "DeletionByPodGC",
    "PodGC": "DeletionByPodGC",
    "NodeRemoved": "DeletionByPodGC",
}
_TERMINAL = ("Succeeded", "Failed")
_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}
_WORKLOAD_EVENTS = (ev.WorkloadCreated, ev.WorkloadScaled, ev.WorkloadUpdated, ev.WorkloadDeleted)


def backoff_delay(failures: int) -> float:
    """The pod failure back-off after ``failures`` failures since the last success: 0, then 10 s
    doubling to at most 600 s (``getRemainingTimeForFailuresCount``).

    >>> [backoff_delay(n) for n in (0, 1, 2, 3, 6, 7, 20)]
    [0.0, 10.0, 20.0, 40.0, 320.0, 600.0, 600.0]
    """
    if failures <= 0:
        return 0.0
    delay = k8s.JOB_POD_FAILURE_BACKOFF_SECONDS
    for _ in range(1, failures):
        delay *= 2
        if delay >= k8s.JOB_POD_FAILURE_MAX_BACKOFF_SECONDS:
            return k8s.JOB_POD_FAILURE_MAX_BACKOFF_SECONDS
    return delay


def match_pod_failure_policy(job: Job, pod: Pod, disruption: bool) -> tuple[str | None, str | None]:
    """``(action, FailJob message)`` for a failed pod: the action of the first rule it matches
    (``FailJob``, ``Ignore`` or ``Count``), or None when no rule (or no policy) matches, which counts
    the failure (``matchPodFailurePolicy``)."""
    for index, rule in enumerate(job.pod_failure_policy or ()):
        if rule.on_exit_codes is not None:
            operator, values = rule.on_exit_codes
            for spec, status in zip(pod.spec.containers, pod.containers):
                if status.state != "terminated" or status.exit_code in (None, 0):
                    continue
                if rule.container_name is not None and rule.container_name != spec.name:
                    continue
                if (status.exit_code in values) == (operator == "In"):
                    message = (
                        f"Container {spec.name} for pod {pod.key} failed with exit code {status.exit_code} "
                        f"matching {rule.action} rule at index {index}"
                    )
                    return rule.action, message if rule.action == "FailJob" else None
        elif disruption and ("DisruptionTarget", "True") in rule.on_pod_conditions:
            message = f"Pod {pod.key} has condition DisruptionTarget matching {rule.action} rule at index {index}"
            return rule.action, message if rule.action == "FailJob" else None
    return None, None


def _finished_time(pod: Pod) -> float:
    """``getFinishedTime``: the latest container finish time if every container has finished, else
    the deletion time, else the creation time; whole seconds, as read from the API."""
    times = [c.finished_at for c in pod.containers]
    if times and all(c.state == "terminated" and t is not None for c, t in zip(pod.containers, times)):
        return api_time(max(times))  # type: ignore[type-var]
    if pod.deletion_timestamp is not None:
        return api_time(pod.deletion_timestamp)
    return api_time(pod.created_at)


def _active_order(pod: Pod) -> tuple[bool, int, bool, float, int, float]:
    """``controller.ActivePods``: unassigned, then pending, not ready, ready for less time, more
    restarts, newer first; the first in this order is deleted first."""
    return (
        pod.node_name is not None,
        _PHASE_RANK.get(pod.phase, 2),
        pod.ready,
        -(pod.ready_since or 0.0) if pod.ready else 0.0,
        -sum(c.restart_count for c in pod.containers),
        -pod.created_at,
    )


class JobController(WorkloadController):
    """Runs every Job. See the module docstring."""

    kind = "Job"
    pod_events = (ev.PodDeletionRequested, ev.PodPhaseChanged, ev.ContainerWaiting)

    def __init__(self, sim: Simulation) -> None:
        super().__init__(sim)
        self.expectations = Expectations(lambda: self.env.now)
        self._wired = False
        self._tracked: dict[str, dict[str, Pod]] = {}  # Job uid -> its pods not yet accounted, by key
        self._index: dict[str, int] = {}  # pod key -> completion index (Indexed Jobs)
        self._deleted_by: dict[str, str] = {}  # pod key -> the reason of its first deletion
        self._backoff: dict[str, tuple[int, float | None]] = {}  # Job uid -> (failures since last success, last failure)
        self._suspended: dict[str, bool] = {}  # Job uid -> the Suspended condition last recorded

    # --- wiring: pod events only once a Job exists -------------------------------------------------
    def start(self) -> None:
        for event_type in _WORKLOAD_EVENTS:
            self.state.watch(event_type, self._on_workload_event)
        self.env.process(self._run())

    def _wire_pods(self) -> None:
        if self._wired:
            return
        self._wired = True
        state = self.state
        state.watch(ev.PodCreated, self._on_pod_created)
        state.watch(ev.PodDeleted, self._on_pod_deleted)
        for event_type in self.pod_events:
            state.watch(event_type, self._on_pod_event)

    def _on_workload_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.WorkloadCreated) and event.kind == self.kind:
            self._wire_pods()
        super()._on_workload_event(event)

    # --- events ------------------------------------------------------------------------------------
    def owner_of(self, pod: Pod) -> str | None:
        owner = pod.owner
        return owner.uid if owner is not None and owner.kind == "Job" else None

    def pod_changed(self, uid: str, event: ev.Event, pod: Pod | None) -> None:
        if isinstance(event, ev.PodCreated):
            self.expectations.creation_observed(uid)
            if pod is not None:
                self._tracked.setdefault(uid, {})[pod.key] = pod
        elif isinstance(event, (ev.PodDeletionRequested, ev.PodDeleted)):
            self.expectations.deletion_observed(uid, event.pod)
            self._deleted_by.setdefault(event.pod, event.reason)
        elif isinstance(event, ev.ContainerWaiting) and event.reason != "CrashLoopBackOff":
            if pod is None or pod.spec.restart_policy != "OnFailure":
                return  # only a restart under OnFailure concerns the Job (pastBackoffLimitOnFailure)
        self.enqueue(uid)

    def forget(self, uid: str) -> None:
        self.expectations.forget(uid)
        for key in self._tracked.pop(uid, {}):
            self._index.pop(key, None)
            self._deleted_by.pop(key, None)
        self._backoff.pop(uid, None)
        self._suspended.pop(uid, None)

    # --- sync --------------------------------------------------------------------------------------
    def sync(self, uid: str) -> None:
        job = self.state.workloads.get(uid)
        if not isinstance(job, Job):
            self.expectations.forget(uid)
            return
        status = job.status
        if status.finished:
            self._expire(job)
            return
        state = self.state
        now = self.env.now
        pods = list(state.pods_owned_by(uid))
        satisfied = self.expectations.satisfied(uid)
        new_succeeded, new_failed, fail_message = self._account(job)
        if status.start_time is None and not job.suspend:
            state.start_job(uid, now)
        self._update_backoff(uid, new_succeeded, new_failed)

        decided = self._decide(job, pods, fail_message)
        if decided is not None:
            self._finish(job, decided, satisfied)
            return
        active = [pod for pod in pods if pod.active]
        terminating = sum(1 for pod in pods if pod.deletion_timestamp is not None and pod.phase not in _TERMINAL)
        active_count = len(active)
        if satisfied and job.deletion_timestamp is None:
            active_count = self._manage(job, active, pods, terminating)
        elif not satisfied:
            self.enqueue(uid, after=self.expectations.expires_in(uid))
        if job.completions is None:
            complete = status.succeeded > 0 and active_count == 0
        else:
            complete = status.succeeded >= job.completions and active_count == 0
        if complete:
            self._finish(job, ("Complete", "CompletionsReached", "Reached expected number of succeeded pods"), satisfied)

    def _account(self, job: Job) -> tuple[list[Pod], list[Pod], str | None]:
        """Account the Job's newly finished pods (``getNewFinishedPods`` and the counting of
        ``trackJobStatusAndRemoveFinalizers``); returns them and a FailJob rule's message, if any."""
        tracked = self._tracked.get(job.uid)
        if not tracked:
            return [], [], None
        pods = self.state.pods
        only_failed = job.pod_replacement_policy == "Failed" or job.pod_failure_policy is not None
        succeeded: list[Pod] = []
        failed: list[Pod] = []
        fail_message = None
        for key, pod in list(tracked.items()):
            gone = pods.get(pod.uid) is not pod
            index = self._index.get(key)
            valid = not job.indexed or (index is not None and 0 <= index < (job.completions or 0))
            if pod.phase == "Succeeded":
                del tracked[key]
                if valid:
                    succeeded.append(pod)
                    new_index = index if job.indexed and index not in job.status.completed_indexes else None
                    if job.indexed and new_index is None:
                        continue  # its index had already succeeded
                    self.state.record_job_pod_finished(job.uid, key, "Succeeded", True, False, "completed", new_index)
                continue
            if not (pod.phase == "Failed" or gone or (not only_failed and pod.deletion_timestamp is not None)):
                continue
            del tracked[key]
            if not valid:
                continue
            failed.append(pod)
            reason = self._deleted_by.get(key)
            disruption = reason in DISRUPTION_REASONS
            action, message = match_pod_failure_policy(job, pod, disruption)
            if message is not None and fail_message is None:
                fail_message = message
            self.state.record_job_pod_finished(
                job.uid, key, "Failed", action != "Ignore", disruption, _failure_detail(pod, reason, action)
            )
        return succeeded, failed, fail_message

    def _update_backoff(self, uid: str, succeeded: list[Pod], failed: list[Pod]) -> None:
        """``newBackoffRecord``: failures since the last success and the last failure's time."""
        if not succeeded and not failed:
            return
        count, last = self._backoff.get(uid, (0, None))
        failed_times = sorted(_finished_time(pod) for pod in failed)
        if not succeeded:
            self._backoff[uid] = (count + len(failed_times), failed_times[-1])
            return
        last_success = max(_finished_time(pod) for pod in succeeded)
        count, last = 0, None
        for t in reversed(failed_times):
            if t <= last_success:
                break
            if last is None:
                last = t
            count += 1
        self._backoff[uid] = (count, last)

    def backoff_remaining(self, uid: str) -> float:
        """Seconds before the Job may replace failed pods (0: now)."""
        count, last = self._backoff.get(uid, (0, None))
        if count == 0 or last is None:
            return 0.0
        delay = backoff_delay(count)
        elapsed = self.env.now - last
        return 0.0 if delay < elapsed else delay - elapsed

    def _decide(self, job: Job, pods: list[Pod], fail_message: str | None) -> tuple[str, str, str] | None:
        """The finished condition the Job meets now, if any: ``(Complete|Failed, reason, message)``."""
        status = job.status
        if status.target == "FailureTarget":
            return ("Failed", status.reason, status.message)
        if status.target == "SuccessCriteriaMet":
            return ("Complete", status.reason, status.message)
        if fail_message is not None:
            return ("Failed", "PodFailurePolicy", fail_message)
        if status.failed > job.backoff_limit or self._past_backoff_limit_on_failure(job, pods):
            return ("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
        deadline = job.active_deadline_seconds
        if deadline is not None and status.start_time is not None and not job.suspend:
            remaining = deadline - (self.env.now - status.start_time)
            if remaining <= 0:
                return ("Failed", "DeadlineExceeded", "Job was active longer than specified deadline")
            self.resync_after(f"{job.uid}/deadline", job.uid, remaining)
        return None

    @staticmethod
    def _past_backoff_limit_on_failure(job: Job, pods: list[Pod]) -> bool:
        if job.template.spec.restart_policy != "OnFailure":
            return False
        restarts = sum(c.restart_count for pod in pods if pod.phase in ("Pending", "Running") for c in pod.containers)
        return restarts > 0 if job.backoff_limit == 0 else restarts >= job.backoff_limit

    def _finish(self, job: Job, decided: tuple[str, str, str], satisfied: bool) -> None:
        """Delete the active pods of a finishing Job, record the interim condition, and the final one
        once no pod of the Job is terminating."""
        condition, reason, message = decided
        uid = job.uid
        state = self.state
        status = job.status
        if status.target is None:
            state.set_job_condition(uid, "FailureTarget" if condition == "Failed" else "SuccessCriteriaMet", True, reason, message)
        active = [pod for pod in state.pods_owned_by(uid) if pod.active]
        if active:
            self.expectations.expect(uid, deletes=[pod.key for pod in active])
            for pod in active:
                delete_pod(state, pod, reason)
        if condition == "Failed":  # every pod not finished counts as failed (trackJobStatusAndRemoveFinalizers)
            for key, pod in list(self._tracked.get(uid, {}).items()):
                if pod.phase != "Succeeded":
                    del self._tracked[uid][key]
                    action, _ = match_pod_failure_policy(job, pod, False)
                    state.record_job_pod_finished(uid, key, "Failed", action != "Ignore", False, f"deleted: the Job failed ({reason})")
        terminating = any(pod.deletion_timestamp is not None and pod.phase not in _TERMINAL for pod in state.pods_owned_by(uid))
        if terminating:
            return  # the pods' deletion events sync the Job again
        if not satisfied:
            self.enqueue(uid, after=self.expectations.expires_in(uid))
            return
        state.set_job_condition(uid, condition, True, reason, message)
        if job.ttl_seconds_after_finished is not None:
            self.resync_after(f"{uid}/ttl", uid, job.ttl_seconds_after_finished)

    def _expire(self, job: Job) -> None:
        """``ttlSecondsAfterFinished`` after the Job finished, delete it (its pods follow, by the GC)."""
        ttl = job.ttl_seconds_after_finished
        finished_at = job.status.finished_at
        if ttl is None or finished_at is None or job.deletion_timestamp is not None:
            return
        if self.env.now >= finished_at + ttl:
            self.state.delete_workload(job.uid)

    # --- manageJob ---------------------------------------------------------------------------------
    def _manage(self, job: Job, active: list[Pod], pods: list[Pod], terminating: int) -> int:
        """Create or delete pods towards the wanted active count; returns the active count after."""
        uid = job.uid
        if job.suspend:
            if self._suspended.get(uid) is not True:
                self._suspended[uid] = True
                self.state.set_job_condition(uid, "Suspended", True, "JobSuspended", "Job suspended")
            if active:
                self.expectations.expect(uid, deletes=[pod.key for pod in active])
                for pod in active:
                    delete_pod(self.state, pod, "JobSuspended")
            return 0
        if self._suspended.get(uid):
            self._suspended[uid] = False
            self.state.set_job_condition(uid, "Suspended", False, "JobResumed", "Job resumed")
            self.state.start_job(uid, self.env.now)  # the deadline counts from the resume
        succeeded = job.status.succeeded
        if job.completions is None:
            want = len(active) if succeeded > 0 else job.parallelism
        else:
            want = max(0, min(job.completions - succeeded, job.parallelism))
        remove = self._for_removal(job, active, max(0, len(active) - want))[: k8s.JOB_MAX_POD_CREATE_DELETE_PER_SYNC]
        if remove:
            self.expectations.expect(uid, deletes=[pod.key for pod in remove])
            for pod in remove:
                delete_pod(self.state, pod, "ScaleDown")
            return len(active) - len(remove)
        only_failed = job.pod_replacement_policy == "Failed" or job.pod_failure_policy is not None
        diff = want - (terminating if only_failed else 0) - len(active)
        if diff <= 0:
            return len(active)
        remaining = self.backoff_remaining(uid)
        if remaining > 0:
            self.resync_after(f"{uid}/backoff", uid, remaining)
            return len(active)
        diff = min(diff, k8s.JOB_MAX_POD_CREATE_DELETE_PER_SYNC)
        indexes: list[int | None] = [None] * diff
        if job.indexed:
            held = set(job.status.completed_indexes)
            for pod in pods:
                if pod.active or (only_failed and pod.deletion_timestamp is not None and pod.phase not in _TERMINAL):
                    index = self._index.get(pod.key)
                    if index is not None:
                        held.add(index)
            indexes = [i for i in range(job.completions or 0) if i not in held][:diff]  # firstPendingIndexes
            diff = len(indexes)
        pending = iter(indexes)
        self.expectations.expect(uid, creates=diff)
        successes, error = slow_start_batch(diff, k8s.SLOW_START_INITIAL_BATCH_SIZE, lambda: self._create(job, next(pending)))
        if diff > successes:
            self.expectations.creation_observed(uid, diff - successes)
        if error is not None:
            raise error
        return len(active) + successes

    def _for_removal(self, job: Job, active: list[Pod], at_least: int) -> list[Pod]:
        """``activePodsForRemoval``: an Indexed Job's pods of a repeated or out-of-range index first,
        then the rest in ``controller.ActivePods`` order."""
        remove: list[Pod] = []
        left = active
        if job.indexed:
            seen: set[int] = set()
            left = []
            for pod in sorted(active, key=lambda p: (self._index.get(p.key, -1), _active_order(p)), reverse=False):
                index = self._index.get(pod.key)
                if index is None or not 0 <= index < (job.completions or 0) or index in seen:
                    remove.append(pod)
                else:
                    seen.add(index)
                    left.append(pod)
        if len(remove) < at_least:
            remove += sorted(left, key=_active_order)[: at_least - len(remove)]
        return remove

    def _create(self, job: Job, index: int | None) -> None:
        prefix = job.name if index is None else f"{job.name}-{index}"
        extra = {k8s.LABEL_JOB_CONTROLLER_UID: job.uid, k8s.LABEL_JOB_CONTROLLER_UID_LEGACY: job.uid}
        if index is not None:
            extra[k8s.JOB_COMPLETION_INDEX] = str(index)
        pod = pod_from_template(
            job.template,
            uid=self.sim.new_uid(),
            name=self.generate_name(job.namespace, prefix),
            namespace=job.namespace,
            owner=job.ref(),
            extra_labels=extra,
        )
        if index is not None:
            pod.annotations[k8s.JOB_COMPLETION_INDEX] = str(index)
            self._index[pod.key] = index
        self.create_pod(pod)

    # --- status ------------------------------------------------------------------------------------
    def status(self, workload: Job) -> WorkloadStatus:
        """desired = the pods the Job wants active now (0 once finished or suspended); current = its
        active pods; ready = those ready; updated = current."""
        from podquake.model.simulation import WorkloadStatus

        active = [pod for pod in self.state.pods_owned_by(workload.uid) if pod.active]
        ready = sum(1 for pod in active if pod.ready)
        st = workload.status
        if st.finished or workload.suspend:
            desired = 0
        elif workload.completions is None:
            desired = len(active) if st.succeeded > 0 else workload.parallelism
        else:
            desired = max(0, min(workload.completions - st.succeeded, workload.parallelism))
        return WorkloadStatus(desired, len(active), ready, len(active))

    # --- suspend and resume --------------------------------------------------------------------------
    def set_suspended(self, namespace: str, name: str, suspend: bool) -> None:
        """``kubectl patch job <name> -p '{"spec":{"suspend":true}}'`` (or false to resume)."""
        job = self.state.workload_named("Job", namespace, name)
        if job is None:
            raise KeyError(f"no Job {namespace}/{name}")
        self.state.set_job_suspended(job.uid, suspend)


def _failure_detail(pod: Pod, reason: str | None, action: str | None) -> str:
    """What ended a failed pod, for the trace: its non-zero exit codes, or its deletion."""
    codes = [f"{spec.name} exit code {status.exit_code}" for spec, status in zip(pod.spec.containers, pod.containers)
             if status.state == "terminated" and status.exit_code not in (None, 0)]
    parts = []
    if reason is not None:
        disruption = DISRUPTION_REASONS.get(reason)
        parts.append(f"deleted ({reason})" + (f", DisruptionTarget {disruption}" if disruption else ""))
    if codes:
        parts.append(", ".join(codes))
    if not parts:
        parts.append(f"phase {pod.phase}")
    if action is not None:
        parts.append(f"podFailurePolicy {action}")
    return "; ".join(parts)
