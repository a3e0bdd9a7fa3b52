"""Bounded liveness of batch work: ``jobs-complete``, every Job finishes as its spec allows.

A Job is not a number of replicas to get back to but work to finish, so its bound is not one
duration after the heal: a Job runs as long as its pods take. ``jobs-complete`` judges, at the end of
the run, what became of each Job from the trace the Job controller writes
(:class:`~podquake.model.trace.JobPodFinished`, :class:`~podquake.model.trace.JobConditionChanged`;
:mod:`podquake.model.controllers.job`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.properties.base import RunInfo
from podquake.properties.ledger import Ledger
from podquake.properties.liveness import BoundedLiveness, join
from podquake.properties.registry import register
from podquake.properties.verdict import Number, Verdict

__all__ = ["JobsComplete"]

_RULE = "{action: Ignore, onPodConditions: [{type: DisruptionTarget}]}"


def _backoff(failures: int) -> float:
    """The Job controller's pod failure back-off after ``failures`` failures since the last success."""
    if failures <= 0:
        return 0.0
    return min(k8s.JOB_POD_FAILURE_BACKOFF_SECONDS * 2 ** min(failures - 1, 20), k8s.JOB_POD_FAILURE_MAX_BACKOFF_SECONDS)


@dataclass(slots=True)
class _Job:
    created_at: float
    condition: str = ""  # Complete / Failed, or the interim SuccessCriteriaMet / FailureTarget
    reason: str = ""
    message: str = ""
    decided_at: float = 0.0
    backoff_limit: int = 0
    succeeded: int = 0
    failed: int = 0  # counted towards backoffLimit
    disrupted: int = 0  # of which the pod had DisruptionTarget (evicted, preempted, lost with its node)
    ignored: int = 0  # failures a podFailurePolicy rule ignored
    since_success: int = 0  # failures since the last success (the back-off)
    last_failure: float = 0.0
    suspended: bool = False


@register
class JobsComplete(BoundedLiveness):
    """Every Job completes, or fails only as its own spec allows; a Job the faults made fail is a finding.

    For each Job at the end of the run:

    - **Complete** (or its success decided, ``SuccessCriteriaMet``): holds.
    - **Failed with BackoffLimitExceeded** where some counted pod failures were disruptions (the pod
      was evicted from a failed node, preempted, or lost with its node: the DisruptionTarget condition)
      and the failures that were not disruptions stayed within ``backoffLimit``: **fails**. The faults,
      not the work, spent the Job's retries; a ``podFailurePolicy`` rule
      ``{action: Ignore, onPodConditions: [{type: DisruptionTarget}]}`` (upstream's advice for Jobs
      that must survive node loss) would not have counted them. This is what a resilience test of
      batch work wants to hear about, so it fails rather than passing as "allowed by backoffLimit".
    - **Failed** otherwise (its own exit codes, injected container crashes included, exceeding
      ``backoffLimit``; ``activeDeadlineSeconds``; a ``FailJob`` rule): holds, with a note: the spec
      asked for that outcome.
    - **Not finished**, judged only if the run went on ``within`` seconds past both the last heal and
      the Job's creation, and past its pod failure back-off: holds with a note if a pod of it is
      running (a long Job is not a stuck one), if its pods are pending unscheduled (the cluster lacked
      capacity, or the scheduler failed: ``pending-pods-scheduled`` judges that), or if its pods are
      terminating on a node that stayed down (upstream keeps them, and a Job whose podReplacementPolicy
      is Failed waits for them); **fails** if it has no pod at all, nothing running and nothing in the
      way: the controller stopped working on it. Suspended Jobs are not judged.

    With no Job in the run, it holds at once ("no Jobs"), so a run without Jobs is judged as before.
    """

    id = "jobs-complete"
    description = "Every Job completes, or fails only as its spec allows (not because faults spent its backoffLimit)."
    catches = (
        "Batch work lost to infrastructure faults: a node failure whose evicted pods exhaust a Job's backoffLimit "
        "(no podFailurePolicy ignoring disruptions), or a Job controller that stops replacing failed pods."
    )
    params: ClassVar[Mapping[str, Any]] = {"within": 300.0}

    def __init__(self, **overrides: object) -> None:
        super().__init__(**overrides)
        self._jobs: dict[str, _Job] = {}

    # --- events ------------------------------------------------------------------------------------
    def on_WorkloadCreated(self, event: ev.WorkloadCreated, ledger: Ledger) -> None:
        if event.kind == "Job":
            self._jobs[event.workload] = _Job(event.t)

    def on_WorkloadDeleted(self, event: ev.WorkloadDeleted, ledger: Ledger) -> None:
        if event.kind == "Job":
            job = self._jobs.get(event.workload)
            if job is not None and job.condition not in ("Complete", "Failed"):
                del self._jobs[event.workload]  # deleted by the user before it finished: nothing to judge

    def on_JobPodFinished(self, event: ev.JobPodFinished, ledger: Ledger) -> None:
        job = self._jobs.get(event.job)
        if job is None:
            return
        if event.outcome == "Succeeded":
            job.succeeded += 1
            job.since_success = 0
            return
        job.since_success += 1
        job.last_failure = event.t
        if event.counted:
            job.failed += 1
            job.disrupted += event.disruption
        else:
            job.ignored += 1

    def on_JobConditionChanged(self, event: ev.JobConditionChanged, ledger: Ledger) -> None:
        job = self._jobs.get(event.job)
        if job is None:
            return
        if event.condition == "Suspended":
            job.suspended = event.status
            return
        if job.condition in ("Complete", "Failed"):
            return
        if not job.condition:  # first decided (the interim condition), then finished
            job.decided_at = event.t
        job.condition, job.reason, job.message = event.condition, event.reason, event.message
        job.backoff_limit = event.backoff_limit

    # --- the verdict -------------------------------------------------------------------------------
    def finish(self, ledger: Ledger, run: RunInfo) -> Verdict:
        if not self._jobs:
            return Verdict.passed(self.id, "no Jobs in this run", numbers={"jobs": 0})
        unknown = self.too_short(run)
        if unknown is not None:
            return unknown
        failures: list[tuple[str, str, dict[str, Number]]] = []
        notes: list[str] = []
        skipped: list[str] = []
        complete = 0
        for key in sorted(self._jobs):
            job = self._jobs[key]
            name = f"Job {key}"
            numbers: dict[str, Number] = {"succeeded": job.succeeded, "failed": job.failed, "disrupted": job.disrupted}
            if job.condition in ("Complete", "SuccessCriteriaMet"):
                complete += 1
                continue
            if job.condition in ("Failed", "FailureTarget"):
                own = job.failed - job.disrupted
                if job.reason == "BackoffLimitExceeded" and job.disrupted and own <= job.backoff_limit:
                    numbers |= {"backoff_limit": job.backoff_limit, "failed_at": job.decided_at}
                    failures.append((key, (
                        f"{name} failed (BackoffLimitExceeded) at t={job.decided_at:g}s: {job.disrupted} of its "
                        f"{job.failed} counted pod failures were disruptions by the faults (pods evicted, preempted or "
                        f"lost with their node), and the {own} others stayed within its backoffLimit {job.backoff_limit}; "
                        f"a podFailurePolicy rule {_RULE} would not have counted them"
                    ), numbers))
                else:
                    notes.append(f"{name} failed as its spec allows ({job.reason}: {job.message})")
                continue
            if job.suspended:
                skipped.append(f"{name} is suspended")
                continue
            deadline = max(run.quiet_from, job.created_at, job.last_failure + _backoff(job.since_success)) + self.within
            if deadline > run.end:
                skipped.append(f"{name} (its bound t={deadline:g}s is after the end)")
                continue
            pods = [pod for pod in ledger.pods_by_workload.get(f"Job/{key}", {}).values()]
            running = [pod for pod in pods if pod.phase == "Running" and not pod.terminating]
            pending = [pod for pod in pods if pod.node is None and not pod.terminating]
            stuck = [pod for pod in pods if pod.terminating and pod.node is not None
                     and not (ledger.nodes.get(pod.node) is not None and ledger.nodes[pod.node].ready == "True")]
            if running:
                notes.append(f"{name} is still running at the end ({len(running)} pod(s) running, {job.succeeded} succeeded)")
            elif pending:
                notes.append(
                    f"{name} could not run: {len(pending)} pod(s) pending unscheduled at the end (the cluster lacked "
                    "capacity, or the scheduler did not place them: see pending-pods-scheduled)"
                )
            elif stuck:
                notes.append(
                    f"{name} waits for {len(stuck)} pod(s) terminating on node(s) that are not Ready "
                    f"({', '.join(sorted({str(p.node) for p in stuck}))}): upstream keeps such pods until the node "
                    "returns, is deleted or is marked out of service"
                )
            else:
                numbers["deadline"] = deadline
                failures.append((key, (
                    f"{name} has not finished at the end and nothing is running for it ({job.succeeded} succeeded, "
                    f"{job.failed} failed), past its bound t={deadline:g}s"
                ), numbers))
        if skipped:
            notes.append("not judged: " + ", ".join(skipped))
        if failures:
            key, message, numbers = failures[0]
            return Verdict.failed(self.id, message, time=run.end, objects=(f"Job/{key}",), numbers=numbers,
                                  violations=len(failures), note=join(notes))
        judged = len(self._jobs) - len(skipped)
        if not judged:
            return Verdict.unknown(self.id, "no Job could be judged before the end", note=join(notes))
        return Verdict.passed(self.id, f"{complete} of {len(self._jobs)} Job(s) complete", numbers={"jobs": len(self._jobs), "complete": complete},
                              note=join(notes))
