"""What the workload controllers share: the work-queue loop, expectations, slow start, pod deletion.

Upstream, every controller in kube-controller-manager is built the same way (informers feed a
rate-limited work queue of object keys; one worker syncs a key at a time; an error requeues the key
with exponential back-off). :class:`WorkloadController` is that skeleton in simulated time: it
watches the store's workload and pod events, maps each pod event to the workload that should look
at it, and calls ``sync(uid)`` ``sim.timing.controller_sync_seconds`` after the event.

The helpers follow upstream files:
- :class:`Expectations`: ``ControllerExpectations`` / ``UIDTrackingControllerExpectations``
  (kubernetes/kubernetes:pkg/controller/controller_utils.go): a sync that created or deleted pods
  waits until those creates and deletes are observed (or 5 minutes pass) before acting again.
- :func:`slow_start_batch`: ``slowStartBatch`` (pkg/controller/replicaset/replica_set.go).
- :func:`delete_pod`: a pod DELETE as the API server treats it (pkg/registry/core/pod/strategy.go,
  ``CheckGracefulDelete``): an unscheduled or already terminated pod is removed at once, any other
  gets a deletionTimestamp and its kubelet stops it.
- :func:`scaled_value`: ``intstr.GetScaledValueFromIntOrPercent``
  (k8s.io/apimachinery/pkg/util/intstr/intstr.go).

Simplifications: one worker per controller (upstream runs 5 for ReplicaSets and Deployments, 1 per
key at a time either way); the retry back-off is the per-item exponential part of
``DefaultControllerRateLimiter`` without its overall 10 qps bucket.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import simpy

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.objects import Pod, Workload
from podquake.model.store import StateError, delete_pod  # delete_pod: re-exported for the controllers
from podquake.model.workqueue import WorkQueue

if TYPE_CHECKING:
    from podquake.model.simulation import Simulation

__all__ = [
    "Expectations",
    "Pausable",
    "SyncError",
    "WorkloadController",
    "api_time",
    "delete_pod",
    "is_pod_available",
    "scaled_value",
    "slow_start_batch",
]

_GENERATE_NAME_RETRIES = 7
_WORKLOAD_EVENTS = (ev.WorkloadCreated, ev.WorkloadScaled, ev.WorkloadUpdated, ev.WorkloadDeleted)


class SyncError(RuntimeError):
    """An API call of a sync failed (a create was refused): the key is retried with back-off."""


def api_time(t: float) -> float:
    """A simulated instant as a ``metav1.Time`` read back from the API: truncated to whole seconds.

    The API carries ``metav1.Time`` in whole seconds (RFC 3339 in JSON; ``ProtoTime`` drops the
    nanoseconds, kubernetes/kubernetes:staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/time_proto.go),
    so a controller reading a pod's creationTimestamp, startTime or a condition's lastTransitionTime
    from its informer sees ``time.Unix(seconds, 0)``; only its own clock (``metav1.Now()``) is exact.
    The simulation's clock never goes below 0."""
    return float(math.floor(t))


def is_pod_available(pod: Pod, min_ready_seconds: float, now: float) -> bool:
    """Ready for at least ``min_ready_seconds`` (upstream ``podutil.IsPodAvailable``,
    kubernetes/kubernetes:pkg/api/v1/pod/util.go).

    Upstream asks that the Ready condition's lastTransitionTime + minReadySeconds is before ``now``.
    That lastTransitionTime is a ``metav1.Time`` in whole seconds (:func:`api_time`): a pod Ready at
    10.4 s with minReadySeconds 5 is available from just after 15 s, not 15.4 s. The comparison counts
    the exact instant too: upstream's check runs a moment after whatever triggered it (the informer
    delivers, the worker syncs), so a controller that requeues itself ``minReadySeconds`` after a pod
    turned Ready at a whole second sees it available, as upstream's wall clock has moved on by then.
    """
    if not pod.ready:
        return False
    if min_ready_seconds <= 0:
        return True
    return pod.ready_since is not None and api_time(pod.ready_since) + min_ready_seconds <= now


_PERCENT = re.compile(r"^[+-]?[0-9]+%$")


def scaled_value(value: int | str, total: int, round_up: bool) -> int:
    """An int, or a percentage string of ``total`` rounded up or down (``GetScaledValueFromIntOrPercent``).

    >>> scaled_value("25%", 10, True), scaled_value("25%", 10, False), scaled_value(3, 10, True)
    (3, 2, 3)
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is neither a whole number nor a percentage such as '25%'")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _PERCENT.match(value):
        scaled = int(value[:-1]) * total / 100
        return math.ceil(scaled) if round_up else math.floor(scaled)
    raise ValueError(f"{value!r} is neither a whole number nor a percentage such as '25%'")


def slow_start_batch(count: int, initial_batch_size: int, action: Callable[[], None]) -> tuple[int, SyncError | None]:
    """Call ``action`` ``count`` times in batches of 1, 2, 4, 8, ... (``slowStartBatch``).

    Every call of a batch is made (upstream runs a batch in parallel goroutines); if any of them
    raised :class:`SyncError`, no further batch starts. Returns the number of successful calls and
    the first error (or None).
    """
    remaining = count
    successes = 0
    batch = min(remaining, initial_batch_size)
    while batch > 0:
        first_error: SyncError | None = None
        failed = 0
        for _ in range(batch):
            try:
                action()
            except SyncError as error:
                failed += 1
                if first_error is None:
                    first_error = error
        successes += batch - failed
        if first_error is not None:
            return successes, first_error
        remaining -= batch
        batch = min(2 * batch, remaining)
    return successes, None


@dataclass(slots=True)
class _Pending:
    adds: int
    deletes: dict[str, None]
    since: float


class Expectations:
    """Pending creates (a count) and deletes (pod keys) per controller key, with a 5-minute expiry.

    ``satisfied(key)`` is upstream's ``SatisfiedExpectations``: true when nothing is pending, when
    there is no record, or when the record is older than ``ExpectationsTimeout`` (5 min).
    """

    __slots__ = ("_clock", "_pending")

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._pending: dict[str, _Pending] = {}

    def expect(self, key: str, creates: int = 0, deletes: Iterable[str] = ()) -> None:
        """Record that a sync of ``key`` is about to make ``creates`` pods and delete pods ``deletes``
        (by pod key), replacing any earlier record (``SetExpectations``)."""
        self._pending[key] = _Pending(creates, dict.fromkeys(deletes), self._clock())

    def creation_observed(self, key: str, count: int = 1) -> None:
        pending = self._pending.get(key)
        if pending is not None:
            pending.adds -= count

    def deletion_observed(self, key: str, pod_key: str) -> None:
        pending = self._pending.get(key)
        if pending is not None:
            pending.deletes.pop(pod_key, None)

    def satisfied(self, key: str) -> bool:
        pending = self._pending.get(key)
        if pending is None or (pending.adds <= 0 and not pending.deletes):
            return True
        return self._clock() - pending.since > k8s.EXPECTATIONS_TIMEOUT_SECONDS

    def expires_in(self, key: str) -> float:
        """Seconds until the key's record expires (0 when there is none)."""
        pending = self._pending.get(key)
        if pending is None:
            return 0.0
        return max(0.0, pending.since + k8s.EXPECTATIONS_TIMEOUT_SECONDS - self._clock())

    def forget(self, key: str) -> None:
        self._pending.pop(key, None)


class Pausable:
    """A control-plane component that can be down for a while: a controller-manager (or API server)
    outage, injected by the chaos nemesis through :meth:`pause` and :meth:`resume`.

    While paused the component's watch handlers still note what changed (as the informer caches of
    a restarted kube-controller-manager are rebuilt from the API server), but it acts on nothing: no
    sync, no write to the store. :meth:`resume` is the restart: the subclass's :meth:`_on_resume`
    catches up as upstream's initial list does (every object is synced again).
    Both return whether the state changed, so overlapping outages can be counted by the caller.

    >>> class Worker(Pausable):
    ...     def _on_resume(self) -> None:
    ...         print("relist")
    >>> w = Worker(); w.pause(), w.paused, w.pause(), w.resume()
    relist
    (True, True, False, True)
    """

    paused: bool = False

    def pause(self) -> bool:
        """Stop acting (the process is down). Returns False if it was already paused."""
        if self.paused:
            return False
        self.paused = True
        return True

    def resume(self) -> bool:
        """Start again and catch up (:meth:`_on_resume`). Returns False if it was not paused."""
        if not self.paused:
            return False
        self.paused = False
        self._on_resume()
        return True

    def _on_resume(self) -> None:
        """Catch up after an outage (subclasses: resync what the outage left pending)."""


class WorkloadController(Pausable, ABC):
    """The skeleton of a workload controller: watches, a work queue of workload uids, one worker.

    Subclasses set ``kind``, implement :meth:`sync` (one reconcile of one workload, by uid) and
    :meth:`owner_of` (which of this controller's workloads a pod concerns), and may override
    :meth:`pod_changed` (what a pod event does; default: sync the owner), :meth:`workload_changed`
    and :meth:`forget`. A sync that raises :class:`SyncError` is retried after 5 ms, doubling per
    consecutive failure up to 1000 s (client-go's per-item exponential rate limiter).

    Paused (:class:`Pausable`, a controller-manager outage), the work queue fills but no key is
    synced; on resume every workload of the controller's kind is queued again (the initial list of
    a restarted controller) and the worker drains the queue.
    """

    kind: ClassVar[str] = ""
    #: Pod events, besides PodCreated and PodDeleted, that reach :meth:`pod_changed`.
    pod_events: ClassVar[tuple[type[ev.Event], ...]] = (ev.PodDeletionRequested, ev.PodPhaseChanged, ev.PodReadyChanged)

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.env = sim.env
        self.state = sim.state
        self.queue = WorkQueue(sim.env)
        self.template_hash = sim.template_hash
        #: How many syncs ran (for tests and benchmarks).
        self.syncs = 0
        self._uids: dict[str, str] = {}  # "namespace/name" of a workload of this kind -> its uid
        self._pod_owner: dict[str, str] = {}  # pod key -> uid of the workload it concerns
        self._failures: dict[str, int] = {}
        self._resumed: simpy.Event | None = None
        self._resync_due: dict[str, float] = {}  # timer key -> when its pending resync fires

    # --- wiring ----------------------------------------------------------------------------------
    def start(self) -> None:
        state = self.state
        for event_type in _WORKLOAD_EVENTS:
            state.watch(event_type, self._on_workload_event)
        state.watch(ev.PodCreated, self._on_pod_created)
        state.watch(ev.PodDeleted, self._on_pod_deleted)
        for event_type in self.pod_events:
            state.watch(event_type, self._on_pod_event)
        self.env.process(self._run())

    def enqueue(self, uid: str, after: float = 0.0) -> None:
        """Sync workload ``uid`` after the controller latency (plus ``after`` seconds)."""
        self.queue.add_after(uid, self.sim.timing.controller_sync_seconds + after)

    # --- hooks for subclasses --------------------------------------------------------------------
    @abstractmethod
    def sync(self, uid: str) -> None:
        """Bring workload ``uid`` towards its desired state."""

    @abstractmethod
    def owner_of(self, pod: Pod) -> str | None:
        """The uid of the workload of this controller's kind that owns ``pod``, if any."""

    def pod_changed(self, uid: str, event: ev.Event, pod: Pod | None) -> None:
        """A pod concerning workload ``uid`` changed (``pod`` is None once deleted)."""
        self.enqueue(uid)

    def workload_changed(self, event: ev.Event) -> None:
        """A workload event of another kind (a Deployment watches its ReplicaSets here)."""

    def forget(self, uid: str) -> None:
        """Workload ``uid`` was deleted: drop what the controller remembers of it."""

    def resync_after(self, key: str, uid: str, after: float) -> None:
        """Queue workload ``uid`` ``after`` seconds later (after the controller latency), keeping one
        pending timer per ``key`` (the workload, or one of its ReplicaSets), the earliest, as
        client-go's delaying queue does for a key already waiting (``AddAfter``)."""
        due = self.env.now + self.sim.timing.controller_sync_seconds + after
        pending = self._resync_due.get(key)
        if pending is not None and pending <= due:
            return
        self._resync_due[key] = due

        def fire(_event: object) -> None:
            if self._resync_due.get(key) == due:
                del self._resync_due[key]
                self.queue.add(uid)

        self.env.timeout(due - self.env.now).callbacks.append(fire)  # type: ignore[union-attr]

    # --- event routing ---------------------------------------------------------------------------
    def _on_workload_event(self, event: ev.Event) -> None:
        kind: str = event.kind  # type: ignore[attr-defined]
        key: str = event.workload  # type: ignore[attr-defined]
        if kind != self.kind:
            self.workload_changed(event)
            return
        if isinstance(event, ev.WorkloadDeleted):
            uid = self._uids.pop(key, None)
            if uid is not None:
                self._failures.pop(uid, None)
                self.forget(uid)
            return
        workload = self.lookup(kind, key)
        if workload is not None:
            self._uids[key] = workload.uid
            self.enqueue(workload.uid)

    def lookup(self, kind: str, key: str) -> Workload | None:
        namespace, _, name = key.partition("/")
        return self.state.workload_named(kind, namespace, name)

    def _on_pod_created(self, event: ev.PodCreated) -> None:
        pod = self.state.pods_by_key.get(event.pod)
        if pod is None or pod.owner is None:
            return
        uid = self.owner_of(pod)
        if uid is not None:
            self._pod_owner[event.pod] = uid
            self.pod_changed(uid, event, pod)

    def _on_pod_deleted(self, event: ev.PodDeleted) -> None:
        uid = self._pod_owner.pop(event.pod, None)
        if uid is not None:
            self.pod_changed(uid, event, None)

    def _on_pod_event(self, event: ev.Event) -> None:
        key: str = event.pod  # type: ignore[attr-defined]
        uid = self._pod_owner.get(key)
        if uid is not None:
            self.pod_changed(uid, event, self.state.pods_by_key.get(key))

    # --- the worker ------------------------------------------------------------------------------
    def _run(self) -> Generator[simpy.Event, None, None]:
        queue = self.queue
        while True:
            yield queue.wait()
            while self.paused:
                self._resumed = self.env.event()
                yield self._resumed
            for uid in queue.pop_all():
                self.sync_now(uid)

    def _on_resume(self) -> None:
        """The restarted controller lists every workload of its kind and syncs each."""
        for uid in list(self._uids.values()):
            if uid in self.state.workloads:
                self.enqueue(uid)
        resumed, self._resumed = self._resumed, None
        if resumed is not None and not resumed.triggered:
            resumed.succeed()

    def sync_now(self, uid: str) -> None:
        """Run one sync of ``uid`` at once, requeueing it with back-off if it fails."""
        self.syncs += 1
        try:
            self.sync(uid)
        except SyncError:
            failures = self._failures.get(uid, 0)
            self._failures[uid] = failures + 1
            delay = min(k8s.CONTROLLER_RETRY_BASE_SECONDS * 2 ** min(failures, 40), k8s.CONTROLLER_RETRY_MAX_SECONDS)
            self.queue.add_after(uid, delay)
        else:
            self._failures.pop(uid, None)

    def generate_name(self, namespace: str, prefix: str) -> str:
        """``<prefix>-<5 random characters>`` (``metadata.generateName``), free in ``namespace``.

        The API server retries a clashing generated name up to 7 more times (RetryGenerateName,
        staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go); so does this.
        """
        pods = self.state.pods_by_key
        name = f"{prefix}-{self.sim.random_suffix()}"
        for _ in range(_GENERATE_NAME_RETRIES):
            if f"{namespace}/{name}" not in pods:
                break
            name = f"{prefix}-{self.sim.random_suffix()}"
        return name

    def create_pod(self, pod: Pod) -> Pod:
        """``state.create_pod``, with a refused create (a name clash) turned into :class:`SyncError`."""
        try:
            return self.state.create_pod(pod)
        except StateError as error:
            raise SyncError(str(error)) from None
