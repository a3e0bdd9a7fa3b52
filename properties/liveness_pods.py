"""Bounded liveness of single pods: pending pods get bound, crashed containers run again.

``pending-pods-scheduled`` judges the quiet interval after the last heal, like every property of
:mod:`podquake.properties.liveness`; ``crashed-containers-restarted`` judges the whole run, because a
container's back-off bound holds whether or not faults are going on elsewhere (see its docstring).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.properties.base import Property, RunInfo
from podquake.properties.capacity import SpreadFilter, describe_room, fits, free
from podquake.properties.ledger import Ledger, LedgerNode, LedgerPod
from podquake.properties.liveness import BoundedLiveness, available
from podquake.properties.registry import register
from podquake.properties.verdict import Number, Verdict, Violation

__all__ = ["CrashedContainersRestarted", "PendingPodsScheduled", "verdict_with"]


def verdict_with(prop: Property, more: list[Violation]) -> Verdict:
    """The verdict from the breaches recorded during the run plus ``more`` found at the end, without
    recording them (so that asking for the verdict twice gives the same answer)."""
    first = prop.first if prop.first is not None else (more[0] if more else None)
    if first is None:
        return Verdict.passed(prop.id)
    return Verdict.from_violation(prop.id, first, count=prop.count + len(more))


@dataclass(slots=True)
class _Pending:
    """A pod waiting for a node: since when some node has had room for it, and which."""

    spread: bool  # it has DoNotSchedule topology spread constraints (room then depends on other pods)
    fit_since: float | None = None
    witness: str = ""  # a node with room for it, while it fits
    room: tuple[int, int, int] = (0, 0, 0)  # that node's free resources when the fit began


@register
class PendingPodsScheduled(BoundedLiveness):
    """A pod that fits somewhere is bound within ``within`` s.

    While a pod is pending (created, not bound, not being deleted), the property keeps whether some
    node could take it: Ready, powered on, not cordoned, its NoSchedule/NoExecute taints tolerated,
    the pod's node selector and required affinity matched, room for its requests (allocatable minus
    the requests of the pods bound there) and a free pod slot, and its DoNotSchedule topology spread
    constraints met (:mod:`podquake.properties.capacity`). A pod that could have gone somewhere for
    ``within`` s on end, inside the quiet interval, and was still not bound is a breach. A pod that
    fits only for a moment (another pod takes the room first) is not, nor is one waiting for room
    that nobody has (the cluster autoscaler's business). A pod whose ``spec.nodeName`` names a node is
    not judged: the scheduler never sees it (kubernetes/kubernetes:pkg/scheduler/eventhandlers.go,
    ``assignedPod``); it is bound at creation, or waits for a node of that name that does not exist
    until the pod GC controller deletes it (:mod:`podquake.model.controllers.podgc`).

    Room nominated to a preemptor is taken. After a preemption the scheduler counts the preemptor
    (``PodNominated``) on its node while its victims terminate, and places no pod of lower or equal
    priority in that room (kubernetes/kubernetes:pkg/scheduler/framework/runtime/framework.go
    ``RunFilterPluginsWithNominatedPods``); so the property counts the nominated pods' requests on their
    node for every other pending pod. The trace does not record priorities of pending pods, so a pod of
    higher priority than the nominee is given the same allowance: the property errs towards not blaming.

    Incremental: room is re-checked only where an event changed it (a bind or a node going away, for
    the pods that node had room for; a deletion or a node coming back, for the pods that fitted
    nowhere), so an event costs the pending pods it concerns, not a scan of the cluster. Pods with
    DoNotSchedule spread constraints are re-checked at every bind and deletion (the skew moves).
    """

    id = "pending-pods-scheduled"
    description = "Every pending pod that fits on some node is bound within T (after the last heal)."
    catches = (
        "A scheduler that stalls or forgets pods (a lost queue entry, a back-off never retried, "
        "a filter that rejects nodes with room), leaving replicas pending while nodes sit free."
    )
    params: ClassVar[Mapping[str, Any]] = {"within": 60.0}

    def __init__(self, **overrides: object) -> None:
        super().__init__(**overrides)
        self._pending: dict[str, _Pending] = {}
        # indexes over _pending, so that an event costs only the pods it concerns (dicts as ordered sets)
        self._unfit: dict[str, None] = {}  # pods no node has room for
        self._by_witness: dict[str, dict[str, None]] = {}  # node -> pods it has room for
        self._spread: dict[str, None] = {}  # pods with DoNotSchedule spread constraints
        self._nominated: dict[str, tuple[str, int, int]] = {}  # pending pod -> (its nominated node, cpu, memory)
        self._held: dict[str, tuple[int, int, int]] = {}  # node -> (cpu, memory, pods) its nominated pods hold
        # waits of at least `within` that ended: pod, fit from, to, node, its room, how the wait ended
        self._long: list[tuple[str, float, float, str, tuple[int, int, int], str]] = []

    # --- events ------------------------------------------------------------------------------------
    def on_PodCreated(self, event: ev.PodCreated, ledger: Ledger) -> None:
        pod = ledger.pods.get(event.pod)
        if pod is None or pod.node is not None or pod.terminating or ledger.spec(pod).node_name is not None:
            return
        self._pending[event.pod] = _Pending(False)
        self._unfit[event.pod] = None
        self._mark_spread(event.pod, ledger)
        self._search(event.pod, event.t, ledger)

    def on_PodSpecChanged(self, event: ev.PodSpecChanged, ledger: Ledger) -> None:
        record = self._pending.get(event.pod)
        pod = ledger.pods.get(event.pod)
        if record is not None and pod is not None:
            self._mark_spread(event.pod, ledger)
            self._search(event.pod, event.t, ledger)

    def on_PodNominated(self, event: ev.PodNominated, ledger: Ledger) -> None:
        old = self._unhold(event.pod)
        pod = ledger.pods.get(event.pod)
        if event.node and pod is not None:
            self._nominated[event.pod] = (event.node, pod.cpu, pod.memory)
            cpu, memory, pods = self._held.get(event.node, (0, 0, 0))
            self._held[event.node] = (cpu + pod.cpu, memory + pod.memory, pods + 1)
            self._less_room(event.node, event.t, ledger)
        if old is not None and old != event.node:
            self._more_room(old, event.t, ledger)

    def _unhold(self, pod_key: str) -> str | None:
        """Release the room ``pod_key``'s nomination held; the node it was on (None: none)."""
        nominated = self._nominated.pop(pod_key, None)
        if nominated is None:
            return None
        node, pod_cpu, pod_memory = nominated
        cpu, memory, pods = self._held[node]
        if pods <= 1:
            del self._held[node]
        else:
            self._held[node] = (cpu - pod_cpu, memory - pod_memory, pods - 1)
        return node

    def on_PodBound(self, event: ev.PodBound, ledger: Ledger) -> None:
        self._leave(event.pod, event.t, "bound then")
        held = self._unhold(event.pod)
        if held is not None and held != event.node:
            self._more_room(held, event.t, ledger)
        node = ledger.nodes.get(event.node)
        witnessed = self._by_witness.get(event.node)
        if node is not None and witnessed:  # only its resources shrank: a quick test first
            cpu, memory, pods = self._free(node, None)
            for pod_key in list(witnessed):
                pod = ledger.pods[pod_key]
                if pods < 1 or pod.cpu > cpu or pod.memory > memory or pod_key in self._spread:
                    self._search(pod_key, event.t, ledger)
        self._recheck_spread(event.t, ledger)

    def on_PodDeletionRequested(self, event: ev.PodDeletionRequested, ledger: Ledger) -> None:
        self._leave(event.pod, event.t, "deleted then")
        self._recheck_spread(event.t, ledger)

    def on_PodDeleted(self, event: ev.PodDeleted, ledger: Ledger) -> None:
        self._leave(event.pod, event.t, "deleted then")
        held = self._unhold(event.pod)
        if held is not None:
            self._more_room(held, event.t, ledger)
        if event.node:
            self._more_room(event.node, event.t, ledger)

    def on_NodeAdded(self, event: ev.NodeAdded, ledger: Ledger) -> None:
        self._more_room(event.node, event.t, ledger)

    def on_NodeUntainted(self, event: ev.NodeUntainted, ledger: Ledger) -> None:
        self._more_room(event.node, event.t, ledger)

    def on_NodeRemoved(self, event: ev.NodeRemoved, ledger: Ledger) -> None:
        self._less_room(event.node, event.t, ledger)

    def on_NodeTainted(self, event: ev.NodeTainted, ledger: Ledger) -> None:
        self._less_room(event.node, event.t, ledger)

    def on_NodeCordoned(self, event: ev.NodeCordoned, ledger: Ledger) -> None:
        (self._less_room if event.unschedulable else self._more_room)(event.node, event.t, ledger)

    def on_NodeReadyChanged(self, event: ev.NodeReadyChanged, ledger: Ledger) -> None:
        (self._more_room if event.status == "True" else self._less_room)(event.node, event.t, ledger)

    def on_NodePowerChanged(self, event: ev.NodePowerChanged, ledger: Ledger) -> None:
        (self._more_room if event.up else self._less_room)(event.node, event.t, ledger)

    # --- bookkeeping -------------------------------------------------------------------------------
    def _mark_spread(self, pod_key: str, ledger: Ledger) -> None:
        record = self._pending[pod_key]
        constraints = ledger.spec(ledger.pods[pod_key]).topology_spread_constraints
        record.spread = any(c.when_unsatisfiable == "DoNotSchedule" for c in constraints)
        if record.spread:
            self._spread[pod_key] = None
        else:
            self._spread.pop(pod_key, None)

    def _leave(self, pod_key: str, t: float, why: str) -> None:
        record = self._pending.get(pod_key)
        if record is not None:
            self._set(pod_key, record, None, t, None, why)
            del self._pending[pod_key]
            self._unfit.pop(pod_key, None)
            self._spread.pop(pod_key, None)

    def _set(
        self, pod_key: str, record: _Pending, node_name: str | None, t: float, ledger: Ledger | None, why: str = "no room left then"
    ) -> None:
        """Record that ``pod_key`` fits on ``node_name`` now (None: nowhere, ``why``), keeping the indexes."""
        if record.witness:
            witnessed = self._by_witness[record.witness]
            del witnessed[pod_key]
            if not witnessed:
                del self._by_witness[record.witness]
        if node_name is None:
            if record.fit_since is not None and t - record.fit_since >= self.within:
                self._long.append((pod_key, record.fit_since, t, record.witness, record.room, why))
            record.fit_since, record.witness = None, ""
            self._unfit[pod_key] = None
            return
        if record.fit_since is None:
            record.fit_since = t
            record.room = self._free(ledger.nodes[node_name], pod_key) if ledger is not None else (0, 0, 0)
            self._unfit.pop(pod_key, None)
        record.witness = node_name
        self._by_witness.setdefault(node_name, {})[pod_key] = None

    def _free(self, node: LedgerNode, pod_key: str | None) -> tuple[int, int, int]:
        """The room ``node`` has for ``pod_key``: :func:`free` less what the pods nominated there hold
        (but for ``pod_key``'s own nomination)."""
        cpu, memory, pods = free(node)
        held = self._held.get(node.name)
        if held is not None:
            cpu, memory, pods = cpu - held[0], memory - held[1], pods - held[2]
            own = self._nominated.get(pod_key) if pod_key is not None else None
            if own is not None and own[0] == node.name:
                cpu, memory, pods = cpu + own[1], memory + own[2], pods + 1
        return cpu, memory, pods

    def _fits_node(self, pod_key: str, pod: LedgerPod, node: LedgerNode, ledger: Ledger) -> bool:
        if not fits(ledger.spec(pod), pod, node):
            return False
        if node.name not in self._held:
            return True
        cpu, memory, pods = self._free(node, pod_key)
        return pods >= 1 and pod.cpu <= cpu and pod.memory <= memory

    def _fits(self, pod: LedgerPod, node_name: str, ledger: Ledger, spread: SpreadFilter | None) -> bool:
        node = ledger.nodes.get(node_name)
        return node is not None and self._fits_node(pod.key, pod, node, ledger) and (spread is None or spread.allows(node))

    def _search(self, pod_key: str, t: float, ledger: Ledger) -> None:
        """Find a node with room for the pod: its witness if it still has room, else the first in the cluster."""
        record = self._pending[pod_key]
        pod = ledger.pods[pod_key]
        spread = SpreadFilter(ledger, pod, ledger.spec(pod)) if record.spread else None
        if record.witness and self._fits(pod, record.witness, ledger, spread):
            return
        found = next((name for name in ledger.nodes if self._fits(pod, name, ledger, spread)), None)
        self._set(pod_key, record, found, t, ledger)

    def _less_room(self, node_name: str, t: float, ledger: Ledger) -> None:
        """``node_name`` lost room: re-check the pods it was the witness of, and the spread-constrained ones."""
        for pod_key in list(self._by_witness.get(node_name, ())):
            self._search(pod_key, t, ledger)
        self._recheck_spread(t, ledger)

    def _more_room(self, node_name: str, t: float, ledger: Ledger) -> None:
        """``node_name`` gained room: does it take a pod that fitted nowhere?"""
        node = ledger.nodes.get(node_name)
        if node is not None:
            for pod_key in list(self._unfit):
                if pod_key not in self._spread and self._fits_node(pod_key, ledger.pods[pod_key], node, ledger):
                    self._set(pod_key, self._pending[pod_key], node_name, t, ledger)
        self._recheck_spread(t, ledger)

    def _recheck_spread(self, t: float, ledger: Ledger) -> None:
        for pod_key in list(self._spread):
            self._search(pod_key, t, ledger)

    # --- the verdict -------------------------------------------------------------------------------
    def finish(self, ledger: Ledger, run: RunInfo) -> Verdict:
        waits = list(self._long)
        for pod_key, record in self._pending.items():
            if record.fit_since is not None:
                waits.append((pod_key, record.fit_since, run.end, record.witness, record.room, "still pending at the end"))
        breaches = []
        for pod_key, start, end, node, room, why in waits:
            start, end = max(start, run.quiet_from), min(end, run.end)
            if end - start < self.within:
                continue
            breaches.append(Violation(
                f"pod {pod_key} could have been bound from t={start:g}s but waited {end - start:g} s ({why}); "
                f"when it began to fit: {describe_room(node, room)}",
                start + self.within,
                (f"pod/{pod_key}", f"node/{node}"),
                {"waited_seconds": round(end - start, 3), "fits_from": start, "within": self.within,
                 "free_cpu_millis": room[0], "free_memory_bytes": room[1], "free_pod_slots": room[2]},
            ))
        breaches.sort(key=lambda v: (v.time or 0.0, v.message))
        if breaches:
            return Verdict.from_violation(self.id, breaches[0], count=len(breaches))
        unknown = self.too_short(run)
        if unknown is not None:
            return unknown
        return Verdict.passed(self.id, f"no pod with room waited {self.within:g} s", numbers={"still_pending": len(self._pending)})


@dataclass(slots=True)
class _Restart:
    """A crashed container the kubelet owes a restart."""

    crashed_at: float
    exit_code: int
    reason: str
    node: str
    deadline: float
    backoff: float
    held: bool = False  # its node is not Ready, or a fault is going on: the bound is suspended


@register
class CrashedContainersRestarted(Property):
    """A container that crashed under restartPolicy Always (OnFailure: with a non-zero exit) runs
    again within its CrashLoopBackOff bound.

    The bound of a crash is the back-off the kubelet announced (``ContainerWaiting.backoff`` for
    ``CrashLoopBackOff``; 0 for an immediate restart), capped at ``max_backoff`` (300 s, upstream's
    cap: 0, 10, 20, ..., 300 s, kubernetes/kubernetes:pkg/kubelet/kuberuntime/kuberuntime_manager.go),
    plus ``start_latency`` (image and sandbox, the model's ``Timing.container_start_seconds``, paid
    when a rebooted node restarts its containers) and ``slack``. A crash the kubelet announces no
    restart for at all gets ``max_backoff``.

    Judged over the whole run, not only after the heal, because the bound is the kubelet's own promise
    whatever else is going on. What excuses a late restart: the pod's deletion (the obligation ends),
    its node powering off or leaving (the containers are gone; the kubelet restarts them when the node
    boots, a new crash in the trace), a volume that cannot be attached; and, suspending the bound until
    they end, its node not Ready, a network partition, or (with ``pause_during_faults``) any fault the
    nemesis marked as going on, since a stopped kubelet or a cut network delays restarts legitimately
    and shows on the node only after the grace period. When a suspension ends the container has
    ``start_latency + slack`` more, at least.
    """

    id = "crashed-containers-restarted"
    kind = "liveness"
    description = "A crashed container under restartPolicy Always runs again within its CrashLoopBackOff bound."
    catches = (
        "A kubelet that stops restarting crashed containers, miscounts the back-off (past the 300 s cap), "
        "or loses track of a container after a restart of its own."
    )
    params: ClassVar[Mapping[str, Any]] = {
        "max_backoff": float(k8s.CRASH_LOOP_MAX_BACKOFF_SECONDS),
        "start_latency": 2.0,
        "slack": 5.0,
        "pause_during_faults": True,
    }

    def __init__(self, **overrides: object) -> None:
        super().__init__(**overrides)
        self._owed: dict[str, dict[str, _Restart]] = {}  # pod -> container -> restart owed
        self._paused = False
        self._restarts = 0

    # --- events ------------------------------------------------------------------------------------
    def on_ContainerTerminated(self, event: ev.ContainerTerminated, ledger: Ledger) -> None:
        pod = ledger.pods.get(event.pod)
        if pod is None or pod.terminating or pod.node is None or pod.phase in ("Succeeded", "Failed"):
            return
        policy = ledger.spec(pod).restart_policy
        if policy != "Always" and not (policy == "OnFailure" and event.exit_code != 0):
            return
        held = self._paused or not available(ledger.nodes.get(pod.node))
        deadline = event.t + self.max_backoff + self.start_latency + self.slack
        self._owed.setdefault(event.pod, {})[event.container] = _Restart(
            event.t, event.exit_code, event.reason, pod.node, deadline, self.max_backoff, held
        )

    def on_ContainerWaiting(self, event: ev.ContainerWaiting, ledger: Ledger) -> None:
        owed = self._owed.get(event.pod, {}).get(event.container)
        if owed is not None:
            owed.backoff = min(event.backoff, self.max_backoff) if event.reason == "CrashLoopBackOff" else 0.0
            owed.deadline = event.t + owed.backoff + self.start_latency + self.slack

    def on_ContainerStarted(self, event: ev.ContainerStarted, ledger: Ledger) -> None:
        owed = self._owed.get(event.pod, {}).pop(event.container, None)
        if owed is None:
            return
        self._restarts += 1
        if not owed.held and event.t > owed.deadline + 1e-9:
            self.violate(
                f"container {event.container} of pod {event.pod} ran again {event.t - owed.crashed_at:g} s after it "
                f"crashed (exit {owed.exit_code}, {owed.reason}); its back-off was {owed.backoff:g} s",
                event.t,
                objects=(f"pod/{event.pod}", f"node/{owed.node}"),
                numbers=self._numbers(owed, event.t),
            )

    def on_PodDeletionRequested(self, event: ev.PodDeletionRequested, ledger: Ledger) -> None:
        self._owed.pop(event.pod, None)

    def on_PodDeleted(self, event: ev.PodDeleted, ledger: Ledger) -> None:
        self._owed.pop(event.pod, None)

    def on_VolumeAttachFailed(self, event: ev.VolumeAttachFailed, ledger: Ledger) -> None:
        self._owed.pop(event.pod, None)

    def on_NodePowerChanged(self, event: ev.NodePowerChanged, ledger: Ledger) -> None:
        if not event.up:
            self._forget_node(event.node)

    def on_NodeRemoved(self, event: ev.NodeRemoved, ledger: Ledger) -> None:
        self._forget_node(event.node)

    def on_NodeReadyChanged(self, event: ev.NodeReadyChanged, ledger: Ledger) -> None:
        if event.status != "True":
            for owed in self._on_node(event.node):
                owed.held = True
        elif not self._paused:
            for owed in self._on_node(event.node):
                self._release(owed, event.t)

    def on_Annotation(self, event: ev.Annotation, ledger: Ledger) -> None:
        self._fault_state(event.t, ledger)

    def on_NetworkPartitioned(self, event: ev.NetworkPartitioned, ledger: Ledger) -> None:
        self._fault_state(event.t, ledger)

    def on_NetworkHealed(self, event: ev.NetworkHealed, ledger: Ledger) -> None:
        self._fault_state(event.t, ledger)

    # --- bookkeeping -------------------------------------------------------------------------------
    def _on_node(self, node: str) -> list[_Restart]:
        return [owed for containers in self._owed.values() for owed in containers.values() if owed.node == node]

    def _forget_node(self, node: str) -> None:
        for pod in [p for p, containers in self._owed.items() if any(o.node == node for o in containers.values())]:
            del self._owed[pod]

    def _release(self, owed: _Restart, t: float) -> None:
        if owed.held:
            owed.held = False
            owed.deadline = max(owed.deadline, t + self.start_latency + self.slack)

    def _fault_state(self, t: float, ledger: Ledger) -> None:
        faults_open = ledger.all_healed_at is None and ledger.faults_started > ledger.faults_healed
        paused = bool(ledger.partitions) or (self.pause_during_faults and faults_open)
        if paused == self._paused:
            return
        self._paused = paused
        for containers in self._owed.values():
            for owed in containers.values():
                if paused:
                    owed.held = True
                elif available(ledger.nodes.get(owed.node)):
                    self._release(owed, t)

    def _numbers(self, owed: _Restart, t: float) -> dict[str, Number]:
        return {
            "crashed_at": owed.crashed_at,
            "backoff_seconds": owed.backoff,
            "bound_seconds": round(owed.deadline - owed.crashed_at, 3),
            "waited_seconds": round(t - owed.crashed_at, 3),
        }

    # --- the verdict -------------------------------------------------------------------------------
    def finish(self, ledger: Ledger, run: RunInfo) -> Verdict:
        late = []
        for pod in sorted(self._owed):
            for container, owed in sorted(self._owed[pod].items()):
                if owed.held or owed.deadline >= run.end:
                    continue
                late.append(Violation(
                    f"container {container} of pod {pod} crashed at t={owed.crashed_at:g}s (exit {owed.exit_code}, "
                    f"{owed.reason}) and was not running again by t={owed.deadline:g}s (back-off {owed.backoff:g} s), "
                    "nor at the end",
                    owed.deadline,
                    (f"pod/{pod}", f"node/{owed.node}"),
                    self._numbers(owed, run.end),
                ))
        verdict = verdict_with(self, late)
        if verdict.status == "passed":
            return Verdict.passed(self.id, f"{self._restarts} restart(s) within their bounds", numbers={"restarts": self._restarts})
        return verdict
