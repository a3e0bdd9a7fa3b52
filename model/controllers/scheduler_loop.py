"""The scheduling loop: kube-scheduler's queue, back-off and binding, in simulated time.

Upstream (kubernetes/kubernetes:pkg/scheduler/backend/queue/scheduling_queue.go) keeps three queues:
- **activeQ**, ordered by priority (higher first) then enqueue time (PrioritySort);
- **backoffQ**, pods waiting out a back-off of 1 s doubling per failed attempt up to 10 s;
- **unschedulablePods**, pods that found no node. A cluster event that may help (a node added, a
  node Ready or uncordoned, a taint removed, a pod deleted) moves them back: to backoffQ if their
  back-off has not expired, else to activeQ. A pod left there 5 minutes is retried regardless.

A pod whose attempt failed with an error rather than a rejection goes straight to backoffQ and is
retried when its back-off ends (``AddUnschedulableIfNotPresent``: no rejecting plugin, "something
unusual happened ... this Pod may not be retried until the next flush"); its back-off counts the
consecutive errors (``ConsecutiveErrorsCount``), a rejection's the rejections (``UnschedulableCount``;
backend/queue/backoff_queue.go ``calculateBackoffDuration``). Here an error is a plug-in that broke
its contract (it raised, or answered a node the pod cannot be bound to): without this, its pod waited
for a cluster event or the 5-minute flush, and a transient plug-in error stalled it for minutes. Such
an attempt is recorded as a ``SchedulerContractViolation``, not as ``PodUnschedulable``: upstream
marks the pod ``PodScheduled=False`` with reason ``SchedulerError`` rather than ``Unschedulable``
(schedule_one.go ``handleSchedulingFailure``), and the cluster autoscaler scales up only for the
latter (its unschedulable-pods lister), so a broken plug-in does not make it add nodes.

Only pods with an empty ``spec.nodeName`` are queued, as upstream's informer filter takes only
unassigned pods (kubernetes/kubernetes:pkg/scheduler/eventhandlers.go, ``assignedPod``): a pod
created with ``spec.nodeName`` set never reaches the scheduler. The store binds it at creation, or
keeps it waiting for a node of that name (:mod:`podquake.model.store`); it is never reported
unschedulable, so neither the cluster autoscaler nor a liveness property treats it as the
scheduler's pod.

Preemption. When the scheduler finds no node for a pod, the loop calls its PostFilter, if it has one:
the default profile's DefaultPreemption (:mod:`podquake.model.scheduling.preemption`), which may
delete lower-priority victims gracefully and nominate the pod to their node
(``status.nominatedNodeName``). The pod is then unschedulable like any other, and retried when a
victim's deletion (a ``PodDeleted`` cluster event) moves it; the scheduler tries its nominated node
first, and counts it there when placing pods of lower or equal priority. A pending pod whose
nomination a higher-priority preemptor cleared is retried at once (preemption.go
``prepareCandidate``). A scheduler plug-in answers a node or None and never preempts, as a
kube-scheduler profile without DefaultPreemption; the ``least-allocated`` built-in profile leaves it
out too. As upstream's ``moveRequestCycle``, a pod whose attempt saw a cluster event (a victim
deleted at once) goes to backoffQ rather than among the unschedulable pods.

Simplifications, on purpose: a scheduling cycle takes zero simulated time and binds at once (the
binding cycle's API latency is not modelled); every listed cluster event moves every unschedulable
pod (upstream's QueueingHints would skip events that cannot help; the outcome is the same, only
more attempts are made).
"""

from __future__ import annotations

import heapq
from collections.abc import Generator
from typing import TYPE_CHECKING

import simpy

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.objects import Pod
from podquake.model.scheduling.framework import FrameworkScheduler

if TYPE_CHECKING:
    from podquake.model.scheduling.contract import ValidatingScheduler
    from podquake.model.simulation import Simulation

__all__ = ["SchedulerLoop", "backoff_seconds"]


def backoff_seconds(attempts: int) -> float:
    """Back-off after ``attempts`` failed attempts: 1, 2, 4, 8, 10, 10, ... seconds."""
    if attempts <= 0:
        return 0.0
    return min(k8s.POD_INITIAL_BACKOFF_SECONDS * 2 ** (attempts - 1), k8s.POD_MAX_BACKOFF_SECONDS)


class SchedulerLoop:
    """Schedules every pending pod whose ``schedulerName`` it serves, one at a time, by priority."""

    def __init__(self, sim: Simulation, scheduler: ValidatingScheduler) -> None:
        self.sim = sim
        self.env = sim.env
        self.state = sim.state
        self.scheduler = scheduler
        self.running = True
        self._active: list[tuple[int, float, int, str]] = []
        self._sequence = 0
        self._attempts: dict[str, int] = {}  # rejections (UnschedulableCount)
        self._errors: dict[str, int] = {}  # consecutive errors (ConsecutiveErrorsCount)
        self._backoff_until: dict[str, float] = {}
        self._unschedulable: dict[str, float] = {}
        self._wakeup: simpy.Event | None = None
        self.attempts_total = 0
        self._move_request_cycle = -1  # the attempt during which cluster events last moved pods (moveRequestCycle)
        # the scheduler's PostFilter (DefaultPreemption of a framework profile), None for a plug-in
        inner = scheduler.inner
        self._post_filter = inner.post_filter if isinstance(inner, FrameworkScheduler) else None
        state = self.state
        state.watch(ev.PodCreated, self._on_pod_created)
        state.watch(ev.PodNominated, self._on_nominated)
        for event_type in (ev.NodeAdded, ev.NodeUntainted, ev.PodDeleted):
            state.watch(event_type, self._on_cluster_change)
        state.watch(ev.NodeReadyChanged, self._on_node_ready)
        state.watch(ev.NodeCordoned, self._on_node_cordoned)

    def start(self) -> None:
        self.env.process(self._run())
        self.env.process(self._flush_unschedulable())

    # --- queue management ------------------------------------------------------------------------
    def _on_pod_created(self, event: ev.PodCreated) -> None:
        pod = self.state.pods_by_key[event.pod]
        if pod.node_name is None and pod.spec.node_name is None:  # not assignedPod: the scheduler's
            self._activate(pod.uid, pod.spec.priority)

    def _activate(self, uid: str, priority: int) -> None:
        self._sequence += 1
        heapq.heappush(self._active, (-priority, self.env.now, self._sequence, uid))
        self._wake()

    def _wake(self) -> None:
        wakeup = self._wakeup
        if wakeup is not None and not wakeup.triggered:
            wakeup.succeed()

    def _on_cluster_change(self, _event: ev.Event) -> None:
        self._move_request_cycle = self.attempts_total
        if self._unschedulable:
            self._move_all_unschedulable()

    def _on_nominated(self, event: ev.PodNominated) -> None:
        """A pending pod lost its nomination to a higher-priority preemptor: it is retried
        (preemption.go ``prepareCandidate``: clearing the nomination moves the pod to the active queue)."""
        if event.node:
            return
        pod = self.state.pods_by_key.get(event.pod)
        if pod is not None and self._unschedulable.pop(pod.uid, None) is not None:
            self._requeue(pod.uid)

    def _on_node_ready(self, event: ev.NodeReadyChanged) -> None:
        if event.status == "True":
            self._on_cluster_change(event)

    def _on_node_cordoned(self, event: ev.NodeCordoned) -> None:
        if not event.unschedulable:
            self._on_cluster_change(event)

    def _move_all_unschedulable(self) -> None:
        pending = list(self._unschedulable)
        self._unschedulable.clear()
        for uid in pending:
            self._requeue(uid)

    def _requeue(self, uid: str) -> None:
        pod = self.state.pods.get(uid)
        if pod is None or pod.node_name is not None:
            self._attempts.pop(uid, None)
            self._errors.pop(uid, None)
            self._backoff_until.pop(uid, None)
            return
        remaining = self._backoff_until.get(uid, 0.0) - self.env.now
        if remaining > 0:
            timeout = self.env.timeout(remaining)
            timeout.callbacks.append(lambda _e, uid=uid, priority=pod.spec.priority: self._activate(uid, priority))  # type: ignore[union-attr]
        else:
            self._activate(uid, pod.spec.priority)

    def _flush_unschedulable(self) -> Generator[simpy.Event, None, None]:
        """Every 30 s, retry pods left unschedulable strictly longer than podMaxInUnschedulablePodsDuration
        (5 min; ``flushUnschedulablePodsLeftover``: ``now - lastScheduleTime > 5 min``), so a pod that
        failed at 0 is retried at 330 s, not 300 s."""
        while True:
            yield self.env.timeout(30.0)
            now, limit = self.env.now, k8s.POD_MAX_IN_UNSCHEDULABLE_SECONDS
            stale = [uid for uid, since in self._unschedulable.items() if now - since > limit]
            for uid in stale:
                del self._unschedulable[uid]
                self._requeue(uid)

    # --- the scheduling cycle ------------------------------------------------------------------
    def _run(self) -> Generator[simpy.Event, None, None]:
        while True:
            if not self._active or not self.running:
                self._wakeup = self.env.event()
                yield self._wakeup
                self._wakeup = None
                continue
            self.schedule_pending()

    def schedule_pending(self) -> int:
        """Drain activeQ now; returns how many pods were bound."""
        bound = 0
        state = self.state
        active = self._active
        while active and self.running:
            _, _, _, uid = heapq.heappop(active)
            pod = state.pods.get(uid)
            if pod is None or pod.node_name is not None or pod.deletion_timestamp is not None:
                continue
            if self._schedule_one(pod):
                bound += 1
        return bound

    def _schedule_one(self, pod: Pod) -> bool:
        self.attempts_total += 1
        node_name, reason, error = self.scheduler.decide(pod)
        uid = pod.uid
        if node_name is not None:
            self.state.bind_pod(uid, node_name)
            self._attempts.pop(uid, None)
            self._errors.pop(uid, None)
            self._backoff_until.pop(uid, None)
            return True
        if error:  # recorded as a SchedulerContractViolation; not PodUnschedulable (see the module docstring)
            errors = self._errors.get(uid, 0) + 1
            self._errors[uid] = errors
            self._backoff_until[uid] = self.env.now + backoff_seconds(errors)
            self._requeue(uid)  # backoffQ: retried when the back-off ends
            return False
        cycle = self.attempts_total
        post_filter = self._post_filter
        if post_filter is not None:
            post_filter(pod)  # may preempt: victims deleted, the pod nominated to their node
        self.state.record_unschedulable(uid, reason or "unschedulable")
        self._errors.pop(uid, None)
        attempts = self._attempts.get(uid, 0) + 1
        self._attempts[uid] = attempts
        self._backoff_until[uid] = self.env.now + backoff_seconds(attempts)
        if self._move_request_cycle >= cycle:  # the cluster changed during this attempt: backoffQ
            self._requeue(uid)
        else:
            self._unschedulable[uid] = self.env.now
        return False

    @property
    def unschedulable_count(self) -> int:
        return len(self._unschedulable)

    def pause(self) -> None:
        """The scheduler is down (a control-plane outage): nothing is scheduled until :meth:`resume`."""
        self.running = False

    def resume(self) -> None:
        self.running = True
        self._wake()
