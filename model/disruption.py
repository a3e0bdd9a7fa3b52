"""Disruption: PodDisruptionBudget status, the eviction API, and node drain.

Three upstream pieces:

- **The disruption controller** (kubernetes/kubernetes:pkg/controller/disruption/disruption.go) keeps
  each PodDisruptionBudget's status. Its pods are those of its namespace its selector matches (an
  absent selector matches none, an empty one all), whatever their state. Then (``getExpectedPodCount``):

  - ``maxUnavailable`` (int or %): ``expectedPods`` = the summed scale of the pods' controllers (a
    ReplicaSet of a Deployment counts as its Deployment; a StatefulSet or bare ReplicaSet as itself;
    each once); ``desiredHealthy = max(0, expected - maxUnavailable)``, a percentage rounded **up**;
  - ``minAvailable`` int: ``expectedPods`` = the number of pods, ``desiredHealthy`` = the value;
  - ``minAvailable`` %: ``expectedPods`` = the summed scale, ``desiredHealthy = ceil(pct * expected)``;
  - neither: both 0.

  ``currentHealthy`` counts the pods that are Ready, not being deleted, and not approved for eviction
  in the last 2 minutes (``DeletionTimeout``; the status's ``disruptedPods``);
  ``disruptionsAllowed = max(0, currentHealthy - desiredHealthy)``, and 0 when ``expectedPods`` is 0.
  Pods without a controller are ignored by the scale sum (upstream's UnmanagedPods warning); a pod
  whose controller has no scale (a DaemonSet) or is gone makes the sync fail, and the fail-safe then
  sets ``disruptionsAllowed`` to 0. The controller syncs a budget ``timing.controller_sync_seconds``
  after a change of one of its pods or of the budget itself, and again when a ``disruptedPods``
  entry expires.
- **The eviction API** (kubernetes/kubernetes:pkg/registry/core/pod/storage/eviction.go),
  :meth:`DisruptionController.evict`: a pod that is Pending, Succeeded, Failed or already being
  deleted is deleted without looking at budgets; several budgets matching the pod answer **500**; no
  budget, delete. A pod that is not Ready is deleted without spending the budget when the budget's
  ``unhealthyPodEvictionPolicy`` is ``AlwaysAllow``, or (``IfHealthyBudget``, the default) when
  ``currentHealthy >= desiredHealthy > 0``. Otherwise ``checkAndDecrement``: a budget whose status is
  missing or older than its spec answers **429** ("still being processed"); ``disruptionsAllowed``
  of 0 answers **429 TooManyRequests** ("Cannot evict pod as it would violate the pod's disruption
  budget."); else the status is written with ``disruptionsAllowed - 1`` and the pod in
  ``disruptedPods``, and the pod is deleted gracefully (**200**). Every call is recorded
  (``EvictionRequested``).
- **Node drain** (staging/src/k8s.io/kubectl/pkg/drain/drain.go, as ``kubectl drain
  --ignore-daemonsets --delete-emptydir-data``), :meth:`DisruptionController.drain`: cordon
  (``state.set_unschedulable``); refuse (outcome ``Refused``, the node stays cordoned) if a pod may
  not be evicted: a bare pod without ``force``, a DaemonSet pod without ``ignore_daemonsets``, a pod
  with emptyDir without ``delete_emptydir_data``; else evict every other pod at once, each retried
  every 5 s while the API answers 429, then waited for (polled every 1 s) until it is gone; a
  ``timeout`` bounds the whole drain (outcome ``TimedOut``). Running DaemonSet pods are skipped; a
  finished (Succeeded or Failed) pod passes every filter, a DaemonSet's included ("Any finished pod
  can be removed" in ``daemonSetFilter``, ``localStorageFilter`` and ``unreplicatedFilter``), and is
  deleted (the eviction API ignores budgets for it).

Plain deletion (``kubectl delete``, a controller's scale-down, the node lifecycle controller's
taint eviction, pod garbage collection) does not consult budgets, exactly as upstream.

Simplifications, on purpose: one worker, and the status is written without conflicts (no
resourceVersion retries); budgets cannot be deleted (the store has no transition for it); a pod
change resyncs every budget matching the pod (upstream resyncs only the first); a ``disruptedPods``
entry expires at exactly 2 minutes (upstream: just after); a drain whose pod was replaced by a new
pod of the same name counts it as gone rather than evicting the new one; the eviction API's
precondition on the pod's resourceVersion (against a pod turning Ready between the check and the
delete) is not needed, as the model's calls are atomic.

Outages (:class:`~podquake.model.controllers.common.Pausable`): paused (a controller-manager outage),
the disruption controller writes no budget status, so the eviction API answers from the status last
written; resumed, it syncs every budget. The eviction API and drains belong to the API server and
kubectl, and go on.

Wiring: ``disruption = DisruptionController(sim); disruption.start()``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import simpy

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.controllers.common import Pausable, delete_pod, scaled_value
from podquake.model.objects import Pod
from podquake.model.resources_api import PodDisruptionBudget
from podquake.model.workqueue import WorkQueue

if TYPE_CHECKING:
    from podquake.model.simulation import Simulation
    from podquake.model.store import ClusterState

__all__ = ["DisruptionController", "Drain", "EvictionResult", "PDBStatus", "ScaleError", "expected_and_desired"]

_PDB = "PodDisruptionBudget"
_BLOCKED = "Cannot evict pod as it would violate the pod's disruption budget."


@dataclass(frozen=True, slots=True)
class PDBStatus:
    """``status`` of a PodDisruptionBudget. ``disrupted_pods`` holds ``(pod name, approval time)`` of
    evictions not yet seen as deletions; ``sync_error`` is set by the fail-safe."""

    expected_pods: int
    desired_healthy: int
    current_healthy: int
    disruptions_allowed: int
    disrupted_pods: tuple[tuple[str, float], ...] = ()
    observed_generation: int = 0
    sync_error: str = ""

    def counts(self) -> tuple[int, int, int, int]:
        """``(expectedPods, desiredHealthy, currentHealthy, disruptionsAllowed)``."""
        return (self.expected_pods, self.desired_healthy, self.current_healthy, self.disruptions_allowed)


@dataclass(frozen=True, slots=True)
class EvictionResult:
    """The eviction API's answer: ``code`` 200, 403, 404, 429 or 500, why, and the budget consulted."""

    code: int
    reason: str
    pdb: str = ""

    @property
    def allowed(self) -> bool:
        return self.code == 200


@dataclass(slots=True, eq=False)
class Drain:
    """A ``kubectl drain`` in progress. ``done`` fires when it ends; ``outcome`` is then ``Drained``,
    ``TimedOut``, ``Refused`` or ``Failed`` (``Running`` before)."""

    node: str
    started_at: float
    done: simpy.Event
    outcome: str = "Running"
    finished_at: float | None = None
    evicted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # DaemonSet pods left in place
    problems: list[str] = field(default_factory=list)
    blocked: int = 0  # 429 answers received (each retried 5 s later)


ScaleLookup = Callable[[Pod], "tuple[str, int] | None"]


class ScaleError(RuntimeError):
    """A pod's controller has no scale (``getExpectedScale`` fails): the fail-safe applies."""


def expected_and_desired(pdb: PodDisruptionBudget, pods: Iterable[Pod], scale_of: ScaleLookup) -> tuple[int, int]:
    """``(expectedPods, desiredHealthy)`` of ``pdb`` over ``pods`` (``getExpectedPodCount``).

    ``scale_of(pod)`` gives ``(controller uid, replicas)`` of a pod's controller, None for a pod
    without one, or raises :class:`ScaleError`.

    >>> from podquake.model.selectors import LabelSelector
    >>> budget = PodDisruptionBudget("b", "default", LabelSelector(), max_unavailable="30%")
    >>> expected_and_desired(budget, ["p"] * 10, lambda pod: ("rs", 10))
    (10, 7)
    """
    pods = list(pods)
    if pdb.max_unavailable is not None:
        expected = _expected_scale(pods, scale_of)
        return expected, max(0, expected - scaled_value(pdb.max_unavailable, expected, True))
    if pdb.min_available is None:
        return 0, 0
    if isinstance(pdb.min_available, int):
        return len(pods), pdb.min_available
    expected = _expected_scale(pods, scale_of)
    return expected, scaled_value(pdb.min_available, expected, True)


def _expected_scale(pods: list[Pod], scale_of: ScaleLookup) -> int:
    scales: dict[str, int] = {}
    for pod in pods:
        found = scale_of(pod)
        if found is not None:
            scales[found[0]] = found[1]
    return sum(scales.values())


class DisruptionController(Pausable):
    """PodDisruptionBudget status, the eviction API and node drain. See the module docstring."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.env = sim.env
        self.state: ClusterState = sim.state
        self.queue = WorkQueue(sim.env)
        #: How many syncs ran (for tests).
        self.syncs = 0
        self._pdbs: dict[tuple[str, str], PodDisruptionBudget] = {}
        self._generation: dict[tuple[str, str], int] = {}
        self._by_namespace: dict[str, dict[tuple[str, str], None]] = {}
        self._pdbs_of_pod: dict[str, tuple[tuple[str, str], ...]] = {}  # pod key -> budgets matching it
        self._resumed: simpy.Event | None = None

    def start(self) -> None:
        state = self.state
        state.watch(ev.ObjectApplied, self._on_object_applied)
        state.watch(ev.PodCreated, self._on_pod_created)
        state.watch(ev.PodDeleted, self._on_pod_deleted)
        for event_type in (ev.PodDeletionRequested, ev.PodReadyChanged, ev.PodPhaseChanged):
            state.watch(event_type, self._on_pod_changed)
        for (kind, namespace, name), obj in list(state.objects.items()):
            if kind == _PDB and isinstance(obj, PodDisruptionBudget):
                self._add_budget(namespace, name, obj)
        self.env.process(self._run())

    # === reading ====================================================================================
    def status(self, namespace: str, name: str) -> PDBStatus | None:
        """The budget's status as last written (None before its first sync)."""
        return self.state.pdb_status.get((namespace, name))

    def budgets_for(self, pod: Pod) -> list[PodDisruptionBudget]:
        """The budgets of the pod's namespace whose selector matches it, by name."""
        return [self._pdbs[key] for key in self._matching(pod)]

    # === the eviction API ===========================================================================
    def evict(self, pod_key: str, *, dry_run: bool = False) -> EvictionResult:
        """``POST pods/<name>/eviction`` for pod ``namespace/name``. A 200 answer deleted the pod
        gracefully (unless ``dry_run``); 429 means a budget forbids it now; retry later.

        Example: ``sim.disruption.evict("default/web-7d4b9c5f6d-x2k8p").code``.
        """
        state = self.state
        pod = state.pods_by_key.get(pod_key)
        if pod is None:
            return self._answer(pod_key, 404, f'pods "{pod_key}" not found', "", dry_run)
        if pod.phase in ("Pending", "Succeeded", "Failed") or pod.deletion_timestamp is not None:
            return self._delete(pod, "", dry_run)  # canIgnorePDB
        keys = self._matching(pod)
        if len(keys) > 1:
            names = ", ".join(name for _, name in keys)
            reason = f"This pod has more than one PodDisruptionBudget, which the eviction subresource does not support. ({names})"
            return self._answer(pod_key, 500, reason, "", dry_run)
        if not keys:
            return self._delete(pod, "", dry_run)
        key = keys[0]
        pdb = self._pdbs[key]
        pdb_name = f"{key[0]}/{key[1]}"
        status = state.pdb_status.get(key)
        if not pod.ready:
            if pdb.unhealthy_pod_eviction_policy == "AlwaysAllow":
                return self._delete(pod, pdb_name, dry_run)
            if status is not None and status.current_healthy >= status.desired_healthy > 0:
                return self._delete(pod, pdb_name, dry_run)
        # checkAndDecrement
        if status is None or status.observed_generation < self._generation[key]:
            reason = f"{_BLOCKED} The disruption budget {key[1]} is still being processed by the server."
            return self._answer(pod_key, 429, reason, pdb_name, dry_run)
        if status.disruptions_allowed < 0:
            return self._answer(pod_key, 403, "pdb disruptions allowed is negative", pdb_name, dry_run)
        if len(status.disrupted_pods) > k8s.PDB_MAX_DISRUPTED_PODS:
            reason = "DisruptedPods map too big - too many evictions not confirmed by PDB controller"
            return self._answer(pod_key, 403, reason, pdb_name, dry_run)
        if status.disruptions_allowed == 0:
            reason = (
                f"{_BLOCKED} The disruption budget {key[1]} needs {status.desired_healthy} healthy pods"
                f" and has {status.current_healthy} currently"
            )
            return self._answer(pod_key, 429, reason, pdb_name, dry_run)
        if not dry_run:
            disrupted = tuple((n, t) for n, t in status.disrupted_pods if n != pod.name) + ((pod.name, self.env.now),)
            state.set_pdb_status(key[0], key[1], replace(status, disruptions_allowed=status.disruptions_allowed - 1, disrupted_pods=disrupted))
        return self._delete(pod, pdb_name, dry_run)

    def _delete(self, pod: Pod, pdb_name: str, dry_run: bool) -> EvictionResult:
        if not dry_run:
            delete_pod(self.state, pod, "EvictionByEvictionAPI")
        return self._answer(pod.key, 200, "evicted", pdb_name, dry_run)

    def _answer(self, pod_key: str, code: int, reason: str, pdb_name: str, dry_run: bool) -> EvictionResult:
        if not dry_run:
            self.state.record_eviction(pod_key, code, pdb_name, reason)
        return EvictionResult(code, reason, pdb_name)

    # === node drain =================================================================================
    def drain(
        self,
        node: str,
        *,
        timeout: float | None = None,
        ignore_daemonsets: bool = True,
        delete_emptydir_data: bool = True,
        force: bool = False,
    ) -> Drain:
        """Start ``kubectl drain <node>`` now; the returned :class:`Drain` tracks it. ``timeout`` in
        seconds bounds it (None waits forever, kubectl's ``--timeout=0``).

        Example: ``drain = sim.disruption.drain("worker-1", timeout=300); sim.run_for(300); drain.outcome``.
        """
        if node not in self.state.nodes:
            raise ValueError(f"no node named {node!r} to drain")
        if timeout is not None and timeout <= 0:
            raise ValueError(f"a drain timeout must be positive (or None for none), not {timeout}")
        drain = Drain(node, self.env.now, self.env.event())
        self.env.process(self._drain(drain, timeout, ignore_daemonsets, delete_emptydir_data, force))
        return drain

    def _drain(self, drain: Drain, timeout: float | None, ignore_daemonsets: bool, delete_emptydir_data: bool, force: bool) -> Generator[simpy.Event, object, None]:
        state = self.state
        state.record_drain_started(drain.node)
        state.set_unschedulable(drain.node, True)
        pods = []
        for pod in list(state.nodes[drain.node].pods.values()):
            terminal = pod.phase in ("Succeeded", "Failed")
            if pod.owner is not None and pod.owner.kind == "DaemonSet" and not terminal:
                if ignore_daemonsets:
                    drain.skipped.append(pod.key)
                else:
                    drain.problems.append(f"cannot delete DaemonSet-managed Pods: {pod.key}")
                continue
            if not terminal and not delete_emptydir_data and any(v.kind == "emptyDir" for v in pod.spec.volumes):
                drain.problems.append(f"cannot delete Pods with local storage: {pod.key}")
            if not terminal and not force and pod.owner is None:
                drain.problems.append(f"cannot delete Pods that declare no controller: {pod.key}")
            pods.append(pod)
        if drain.problems:
            self._finish(drain, "Refused")
            return
        deadline = math.inf if timeout is None else self.env.now + timeout
        workers = [self.env.process(self._evict_and_wait(drain, pod.key, pod.uid, deadline)) for pod in pods]
        outcomes = yield self.env.all_of(workers)
        results = list(outcomes.values())  # type: ignore[attr-defined]
        if all(result == "gone" for result in results):
            self._finish(drain, "Drained")
        elif "timeout" in results:
            self._finish(drain, "TimedOut")
        else:
            self._finish(drain, "Failed")

    def _evict_and_wait(self, drain: Drain, key: str, uid: str, deadline: float) -> Generator[simpy.Event, None, str]:
        state = self.state
        while True:  # evict, retrying 429s every 5 s
            if self.env.now >= deadline:
                return "timeout"
            current = state.pods_by_key.get(key)
            if current is None or current.uid != uid:
                return "gone"
            answer = self.evict(key)
            if answer.code == 200:
                drain.evicted.append(key)
                break
            if answer.code != 429:
                drain.problems.append(f"error when evicting pod {key}: {answer.code} {answer.reason}")
                return "error"
            drain.blocked += 1
            yield self.env.timeout(k8s.DRAIN_EVICTION_RETRY_SECONDS)
        while True:  # waitForDelete: PollImmediate every 1 s
            current = state.pods_by_key.get(key)
            if current is None or current.uid != uid:
                return "gone"
            if self.env.now >= deadline:
                return "timeout"
            yield self.env.timeout(k8s.DRAIN_DELETE_POLL_SECONDS)

    def _finish(self, drain: Drain, outcome: str) -> None:
        drain.outcome = outcome
        drain.finished_at = self.env.now
        self.state.record_drain_finished(drain.node, outcome, len(drain.evicted))
        drain.done.succeed(drain)

    # === the controller ==============================================================================
    def _on_object_applied(self, event: ev.ObjectApplied) -> None:
        if event.kind != _PDB:
            return
        namespace, _, name = event.name.partition("/")
        pdb = self.state.objects.get((_PDB, namespace, name))
        if isinstance(pdb, PodDisruptionBudget):
            self._add_budget(namespace, name, pdb)

    def _add_budget(self, namespace: str, name: str, pdb: PodDisruptionBudget) -> None:
        key = (namespace, name)
        self._pdbs[key] = pdb
        self._generation[key] = self._generation.get(key, 0) + 1
        self._by_namespace.setdefault(namespace, {})[key] = None
        for pod in self.state.pods.values():
            if pod.namespace == namespace:
                self._remember(pod)
        self._enqueue(key)

    def _matching(self, pod: Pod) -> list[tuple[str, str]]:
        keys = []
        for key in self._by_namespace.get(pod.namespace, {}):
            selector = self._pdbs[key].selector
            if selector is not None and selector.matches(pod.labels):
                keys.append(key)
        return sorted(keys)

    def _remember(self, pod: Pod) -> tuple[tuple[str, str], ...]:
        keys = tuple(self._matching(pod))
        if keys:
            self._pdbs_of_pod[pod.key] = keys
        else:
            self._pdbs_of_pod.pop(pod.key, None)
        return keys

    def _on_pod_created(self, event: ev.PodCreated) -> None:
        if not self._pdbs:
            return
        pod = self.state.pods_by_key.get(event.pod)
        if pod is not None:
            for key in self._remember(pod):
                self._enqueue(key)

    def _on_pod_deleted(self, event: ev.PodDeleted) -> None:
        for key in self._pdbs_of_pod.pop(event.pod, ()):
            self._enqueue(key)

    def _on_pod_changed(self, event: ev.Event) -> None:
        for key in self._pdbs_of_pod.get(event.pod, ()):  # type: ignore[attr-defined]
            self._enqueue(key)

    def _enqueue(self, key: tuple[str, str], after: float = 0.0) -> None:
        self.queue.add_after(key, self.sim.timing.controller_sync_seconds + after)

    def _run(self) -> Generator[simpy.Event, None, None]:
        while True:
            yield self.queue.wait()
            while self.paused:
                self._resumed = self.env.event()
                yield self._resumed
            for key in self.queue.pop_all():
                self.sync(key)

    def _on_resume(self) -> None:
        for key in list(self._pdbs):
            self._enqueue(key)
        resumed, self._resumed = self._resumed, None
        if resumed is not None and not resumed.triggered:
            resumed.succeed()

    def sync(self, key: tuple[str, str]) -> None:
        """Recompute and write one budget's status (``trySync``, or ``failSafe`` when it fails)."""
        pdb = self._pdbs.get(key)
        if pdb is None:
            return
        self.syncs += 1
        state = self.state
        namespace, name = key
        now = self.env.now
        pods = state.pods_matching(namespace, pdb.selector) if pdb.selector is not None else []
        old = state.pdb_status.get(key)
        try:
            expected, desired = expected_and_desired(pdb, pods, self._scale_of)
        except ScaleError as error:
            base = old if old is not None else PDBStatus(0, 0, 0, 0)
            state.set_pdb_status(namespace, name, replace(base, disruptions_allowed=0, sync_error=str(error)))
            return
        approved = dict(old.disrupted_pods) if old is not None else {}
        disrupted: dict[str, float] = {}
        healthy = 0
        for pod in pods:
            if pod.deletion_timestamp is not None:
                continue
            at = approved.get(pod.name)
            if at is not None and now < at + k8s.PDB_DELETION_TIMEOUT_SECONDS:
                disrupted[pod.name] = at  # approved for eviction, not deleted yet
                continue
            healthy += pod.ready
        allowed = healthy - desired
        if expected <= 0 or allowed <= 0:
            allowed = 0
        status = PDBStatus(expected, desired, healthy, allowed, tuple(sorted(disrupted.items())), self._generation[key])
        state.set_pdb_status(namespace, name, status)
        if disrupted:
            self._enqueue(key, min(disrupted.values()) + k8s.PDB_DELETION_TIMEOUT_SECONDS - now)

    def _scale_of(self, pod: Pod) -> tuple[str, int] | None:
        """``(controller uid, scale)`` for the pod's controller (the finders of ``getExpectedScale``)."""
        owner = pod.owner
        if owner is None:
            return None  # an unmanaged pod: ignored, with a warning upstream
        workloads = self.state.workloads
        controller = workloads.get(owner.uid)
        if controller is None:
            raise ScaleError(f'found no controllers for pod "{pod.name}"')
        if controller.kind == "DaemonSet":
            raise ScaleError("daemonsets.apps does not implement the scale subresource")
        parent = controller.owner
        if controller.kind == "ReplicaSet" and parent is not None and parent.kind == "Deployment":
            deployment = workloads.get(parent.uid)
            if deployment is not None:
                return deployment.uid, deployment.replicas
        return controller.uid, controller.replicas

    def __repr__(self) -> str:
        return f"DisruptionController({len(self._pdbs)} budgets)"
