"""Bounded liveness: once the faults stop, the cluster gets back to a good state within T and stays.

Every property here judges the interval ``[run.quiet_from, run.end]`` (the nemesis's ``all-healed``
mark, else the last ``fault-healed``, else the start): the good state must hold from
``quiet_from + within`` (or from T after the thing's own last legitimate change, such as a rescale)
to the end. A run that ended less than ``within`` after the last heal cannot show that, so the verdict
is ``unknown``, never a pass.

The properties watch the trace all along, not only after the heal, because the moment the faults
stop is known only at the end (a live monitor learns it from the nemesis's marks as they come);
they keep, per object, since when it has been in the good state, and judge at :meth:`finish`.

This module holds the shared base, :class:`BoundedLiveness`, and ``replicas-converge``;
``pending-pods-scheduled`` and ``crashed-containers-restarted`` are in
:mod:`podquake.properties.liveness_pods`, ``autoscaler-converges`` and ``service-recovers`` in
:mod:`podquake.properties.liveness_scaling`, ``jobs-complete`` (batch Jobs) in
:mod:`podquake.properties.liveness_jobs`. Room in the cluster is computed by
:mod:`podquake.properties.capacity`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from podquake.model import trace as ev
from podquake.model.specrecord import RecordedSpec
from podquake.properties.base import Property, RunInfo
from podquake.properties.capacity import describe_free, free, room_for, slots
from podquake.properties.ledger import Ledger, LedgerNode, LedgerPod
from podquake.properties.registry import register
from podquake.properties.verdict import Number, Verdict

__all__ = ["BoundedLiveness", "ReplicasConverge"]

_NO_SPEC = RecordedSpec((), (), None, (), "Always", ())
_NODE_NAME_FIELD = "metadata.name"


class BoundedLiveness(Property):
    """Base of the bounded-liveness properties: ``within`` is the bound T, in seconds."""

    kind = "liveness"
    within: float

    def too_short(self, run: RunInfo) -> Verdict | None:
        """``unknown`` when the run ended less than ``within`` after the faults stopped, else None."""
        if run.end < run.quiet_from + self.within:
            return Verdict.unknown(
                self.id,
                f"the run ended {run.quiet_for:g} s after the last heal; this property needs {self.within:g} s",
                time=run.end,
            )
        return None


def join(parts: Iterable[str]) -> str:
    return "; ".join(parts)


def available(node: LedgerNode | None) -> bool:
    """A node that runs pods as far as the control plane knows: present, Ready and powered on."""
    return node is not None and node.ready == "True" and node.up


@dataclass(slots=True)
class _Workload:
    """What replicas-converge keeps per top-level workload."""

    kind: str
    changed_at: float  # when its desired count last changed legitimately (created, scaled, new template, nodes)
    good_since: float | None = None  # since when it has had its desired ready replicas (None: not now)
    bad_since: float = 0.0  # when it last fell short
    ready: dict[str, int] = field(default_factory=dict)  # node -> its ready, non-terminating pods there
    ready_total: int = 0
    nodes: frozenset[str] = frozenset()  # DaemonSet: the Ready nodes that should run its pod
    missing: int = 0  # DaemonSet: how many of those have no ready pod of it
    spec: RecordedSpec | None = None  # its newest pod's spec (a DaemonSet's without the per-node affinity)


@register
class ReplicasConverge(BoundedLiveness):
    """Every top-level workload has its desired ready replicas within ``within`` s of the last heal,
    and keeps them to the end.

    Top-level workloads are Deployments, StatefulSets, DaemonSets and ReplicaSets without an owner; a
    pod counts for the workload at the top of its owner chain (``Ledger.workload_of``) while it is Ready
    and not terminating. Desired is the workload's ``replicas``; for a DaemonSet, one pod on every
    Ready node that should run it (the node matches its node selector and it tolerates the node's
    NoSchedule/NoExecute taints, as the DaemonSet controller's ``NodeShouldRunDaemonPod``). A rescale,
    a new template or a change in a DaemonSet's nodes restarts that workload's clock: it must then be
    back within ``within`` of the change.

    Honest about capacity. A workload short at the end is a failure only if the healed cluster had
    room for what it lacks: its missing replicas (less those bound and starting) are placed greedily,
    workload by workload in name order, on the free resources (allocatable minus requested) of the
    Ready nodes that admit them (:mod:`podquake.properties.capacity`). What does not fit is reported
    as lacking capacity (the replicas, their requests, the free room of the admitting nodes), and the
    verdict passes with that message. A StatefulSet pod left on a node that stayed down is not
    replaced upstream (a StatefulSet never runs two pods of one identity; the pod must be
    force-deleted or the node deleted:
    kubernetes.io/docs/tasks/run-application/force-delete-stateful-set-pod/), so it is reported the
    same way, not as a failure.

    Simplifications: a DaemonSet's required node affinity is not in the trace (its pods carry the
    per-node affinity instead), so its desired nodes follow its node selector and taints only; the
    capacity check ignores topology spread and volumes.
    """

    id = "replicas-converge"
    description = "Every workload reaches its desired ready replicas within T after the last heal and keeps them."
    catches = (
        "Controllers that do not replace lost pods (a ReplicaSet that forgets a pod evicted from a dead node), "
        "do not scale down, or a cluster that never settles after a node comes back."
    )
    params: ClassVar[Mapping[str, Any]] = {"within": 300.0}

    def __init__(self, **overrides: object) -> None:
        super().__init__(**overrides)
        self._workloads: dict[str, _Workload] = {}
        self._counted: dict[str, tuple[str, str]] = {}  # pod -> (workload, node) while it counts as ready

    # --- events ------------------------------------------------------------------------------------
    def on_WorkloadCreated(self, event: ev.WorkloadCreated, ledger: Ledger) -> None:
        if event.owner or event.kind not in ("Deployment", "StatefulSet", "ReplicaSet", "DaemonSet"):
            return
        key = f"{event.kind}/{event.workload}"
        track = self._workloads[key] = _Workload(event.kind, event.t, bad_since=event.t)
        if track.kind == "DaemonSet":
            track.nodes = self._daemon_nodes(track, ledger)
            track.missing = len(track.nodes)
        self._judge(key, event.t, ledger)

    def on_WorkloadScaled(self, event: ev.WorkloadScaled, ledger: Ledger) -> None:
        self._changed(f"{event.kind}/{event.workload}", event.t, ledger)

    def on_WorkloadUpdated(self, event: ev.WorkloadUpdated, ledger: Ledger) -> None:
        self._changed(f"{event.kind}/{event.workload}", event.t, ledger)

    def on_WorkloadDeleted(self, event: ev.WorkloadDeleted, ledger: Ledger) -> None:
        self._workloads.pop(f"{event.kind}/{event.workload}", None)

    def on_PodCreated(self, event: ev.PodCreated, ledger: Ledger) -> None:
        pod = ledger.pods.get(event.pod)
        if pod is None or not pod.owner:
            return
        key = ledger.workload_of(pod)
        track = self._workloads.get(key)
        if track is None:
            return
        first = track.spec is None
        track.spec = ledger.spec(pod) if track.kind != "DaemonSet" else _daemon_spec(ledger.spec(pod))
        if first and track.kind == "DaemonSet":  # its spec is known now: which nodes should run it
            self._nodes_changed(key, track, event.t, ledger)

    def on_PodReadyChanged(self, event: ev.PodReadyChanged, ledger: Ledger) -> None:
        self._recount(event.pod, event.t, ledger)

    def on_PodDeletionRequested(self, event: ev.PodDeletionRequested, ledger: Ledger) -> None:
        self._recount(event.pod, event.t, ledger)

    def on_PodDeleted(self, event: ev.PodDeleted, ledger: Ledger) -> None:
        self._recount(event.pod, event.t, ledger)

    def _on_node(self, event: ev.Event, ledger: Ledger) -> None:
        for key, track in self._workloads.items():
            if track.kind == "DaemonSet":
                self._nodes_changed(key, track, event.t, ledger)

    on_NodeAdded = on_NodeRemoved = on_NodeReadyChanged = on_NodePowerChanged = _on_node
    on_NodeTainted = on_NodeUntainted = _on_node

    # --- bookkeeping -------------------------------------------------------------------------------
    def _changed(self, key: str, t: float, ledger: Ledger) -> None:
        track = self._workloads.get(key)
        if track is not None:
            track.changed_at = t
            self._judge(key, t, ledger)

    def _recount(self, pod_key: str, t: float, ledger: Ledger) -> None:
        old = self._counted.get(pod_key)
        pod = ledger.pods.get(pod_key)
        new = None
        if pod is not None and pod.ready and not pod.terminating and pod.node is not None:
            workload = ledger.workload_of(pod)
            if workload in self._workloads:
                new = (workload, pod.node)
        if old == new:
            return
        if old is not None:
            del self._counted[pod_key]
            track = self._workloads.get(old[0])
            if track is not None:
                track.ready[old[1]] -= 1
                track.ready_total -= 1
                track.missing += track.ready[old[1]] == 0 and old[1] in track.nodes
                self._judge(old[0], t, ledger)
        if new is not None:
            self._counted[pod_key] = new
            track = self._workloads[new[0]]
            track.ready[new[1]] = track.ready.get(new[1], 0) + 1
            track.ready_total += 1
            track.missing -= track.ready[new[1]] == 1 and new[1] in track.nodes
            self._judge(new[0], t, ledger)

    def _nodes_changed(self, key: str, track: _Workload, t: float, ledger: Ledger) -> None:
        nodes = self._daemon_nodes(track, ledger)
        if nodes != track.nodes:
            track.nodes = nodes
            track.missing = sum(1 for node in nodes if not track.ready.get(node))
            track.changed_at = t
            self._judge(key, t, ledger)

    def _should_run(self, track: _Workload, ledger: Ledger) -> list[LedgerNode]:
        """Nodes that should run the DaemonSet's pod (``NodeShouldRunDaemonPod``), Ready or not."""
        spec = track.spec or _NO_SPEC
        out = []
        for node in ledger.nodes.values():
            if not spec.node_selector_matches(node.name, node.labels):
                continue
            if all(
                taint.effect not in ("NoSchedule", "NoExecute") or any(t.tolerates(taint) for t in spec.tolerations)
                for taint in node.taints
            ):
                out.append(node)
        return out

    def _daemon_nodes(self, track: _Workload, ledger: Ledger) -> frozenset[str]:
        return frozenset(node.name for node in self._should_run(track, ledger) if available(node))

    def _desired(self, key: str, track: _Workload, ledger: Ledger) -> int:
        if track.kind == "DaemonSet":
            return len(track.nodes)
        workload = ledger.workloads.get(key)
        return workload.replicas if workload is not None else 0

    def _converged(self, key: str, track: _Workload, ledger: Ledger) -> bool:
        if track.kind == "DaemonSet":
            return track.missing == 0
        return track.ready_total == self._desired(key, track, ledger)

    def _judge(self, key: str, t: float, ledger: Ledger) -> None:
        track = self._workloads[key]
        if self._converged(key, track, ledger):
            if track.good_since is None:
                track.good_since = t
        elif track.good_since is not None:
            track.good_since = None
            track.bad_since = t

    # --- the verdict -------------------------------------------------------------------------------
    def finish(self, ledger: Ledger, run: RunInfo) -> Verdict:
        unknown = self.too_short(run)
        if unknown is not None:
            return unknown
        failures: list[tuple[str, str, dict[str, Number], tuple[str, ...]]] = []
        lacking: list[tuple[str, dict[str, Number]]] = []
        skipped: list[str] = []
        short: dict[str, _Shortfall] = {}
        judged = 0
        for key in sorted(self._workloads):
            track = self._workloads[key]
            deadline = max(run.quiet_from, track.changed_at) + self.within
            if deadline > run.end:
                skipped.append(f"{key} changed at t={track.changed_at:g}s")
                continue
            judged += 1
            if track.good_since is not None and track.good_since <= deadline:
                continue
            desired, ready = self._desired(key, track, ledger), track.ready_total
            numbers: dict[str, Number] = {"desired": desired, "ready": ready, "deadline": deadline}
            if track.good_since is not None:
                numbers["short_from"], numbers["back_at"] = track.bad_since, track.good_since
                message = (f"{_name(key)} was short of its {desired} ready replicas from t={track.bad_since:g}s "
                           f"to t={track.good_since:g}s, after its deadline t={deadline:g}s")
                failures.append((key, message, numbers, (key,)))
            else:
                short[key] = _Shortfall(key, track, desired, ready, deadline, numbers)
        self._judge_shortfalls(short, ledger, failures, lacking)
        notes = [message for message, _ in lacking]
        if skipped:
            notes.append("not judged (desired count changed less than T before the end): " + ", ".join(skipped))
        if failures:
            key, message, numbers, objects = failures[0]
            return Verdict.failed(self.id, message, time=run.end, objects=objects, numbers=numbers,
                                  violations=len(failures), note=join(notes))
        if lacking:
            return Verdict.passed(self.id, "the healed cluster lacked capacity: " + lacking[0][0],
                                  numbers=lacking[0][1], note=join(notes[1:]))
        if not judged and skipped:
            return Verdict.unknown(self.id, "no workload kept its desired count for T before the end", note=join(notes))
        return Verdict.passed(self.id, f"{judged} workload(s) converged", numbers={"workloads": judged}, note=join(notes))

    def _judge_shortfalls(
        self,
        short: dict[str, _Shortfall],
        ledger: Ledger,
        failures: list[tuple[str, str, dict[str, Number], tuple[str, ...]]],
        lacking: list[tuple[str, dict[str, Number]]],
    ) -> None:
        """Sort the workloads short at the end into failures and capacity findings."""
        pods_of: dict[str, list[LedgerPod]] = {key: [] for key in short}
        for pod in ledger.pods.values():
            owner = ledger.workload_of(pod) if pod.owner else ""
            if owner in pods_of:
                pods_of[owner].append(pod)
        demands = []
        for key in sorted(short):
            s = short[key]
            s.classify(pods_of[key], ledger)
            if s.excess:
                failures.append((key, f"{_name(key)} has {s.ready} ready replicas at the end, wants {s.desired}", s.numbers, (key,)))
            elif s.stuck and s.track.kind == "StatefulSet":
                pod = s.stuck[0]
                s.numbers["stuck_pods"] = len(s.stuck)
                message = (f"{_name(key)} has {s.ready} of {s.desired} ready replicas: pod {pod.key} stays on node "
                           f"{pod.node}, which is not Ready, and a StatefulSet pod is not replaced until it is "
                           "force-deleted, its node deleted or marked out of service (a node failure's outOfService)")
                lacking.append((message, s.numbers))
            elif s.track.kind == "DaemonSet":
                s.judge_daemon(ledger, failures, lacking)
            elif s.need <= 0 or s.spec is None:
                failures.append(s.not_ready_failure())
            else:
                demands.append((key, s.spec, s.cpu, s.memory, s.need, s.newest))
        for key, (placed, eligible) in room_for(ledger, demands).items():
            short[key].judge_room(placed, eligible, ledger, failures, lacking)


def _daemon_spec(spec: RecordedSpec) -> RecordedSpec:
    """A DaemonSet pod's spec without the ``metadata.name`` affinity its controller pins each pod with
    (upstream ReplaceDaemonSetPodNodeNameNodeAffinity), so that it says which nodes should run one."""
    affinity = spec.node_affinity
    if affinity is not None and affinity.required and all(
        not term.match_expressions and all(r.key == _NODE_NAME_FIELD for r in term.match_fields) for term in affinity.required
    ):
        return RecordedSpec(spec.tolerations, spec.node_selector, None, (), spec.restart_policy, spec.containers)
    return spec


def _name(key: str) -> str:
    """``Deployment/default/web`` -> ``Deployment default/web``."""
    kind, _, name = key.partition("/")
    return f"{kind} {name}"


class _Shortfall:
    """A workload short of its desired ready replicas at the end, and why."""

    def __init__(self, key: str, track: _Workload, desired: int, ready: int, deadline: float, numbers: dict[str, Number]) -> None:
        self.key, self.track, self.desired, self.ready, self.deadline = key, track, desired, ready, deadline
        self.numbers = numbers
        self.excess = ready > desired
        self.stuck: list[LedgerPod] = []  # bound to a node that is not available
        self.starting: list[LedgerPod] = []  # bound to an available node, not Ready
        self.spec: RecordedSpec | None = None
        self.newest: LedgerPod | None = None  # its newest pod: the spec, requests and labels a new one gets
        self.cpu = self.memory = 0
        self.need = 0

    def classify(self, pods: list[LedgerPod], ledger: Ledger) -> None:
        pods.sort(key=lambda p: (p.created_at, p.key))
        for pod in pods:
            if pod.terminating and pod.node is None:
                continue
            if pod.node is not None and not available(ledger.nodes.get(pod.node)):
                self.stuck.append(pod)
            elif pod.node is not None and not pod.ready and not pod.terminating:
                self.starting.append(pod)
        newest = next((p for p in reversed(pods) if not p.terminating), pods[-1] if pods else None)
        self.newest = newest
        if newest is not None:
            self.spec, self.cpu, self.memory = ledger.spec(newest), newest.cpu, newest.memory
        self.need = self.desired - self.ready - len(self.starting)
        self.numbers.update({"starting": len(self.starting), "pod_cpu_millis": self.cpu, "pod_memory_bytes": self.memory})

    def not_ready_failure(self) -> tuple[str, str, dict[str, Number], tuple[str, ...]]:
        if self.spec is None:
            return (self.key, f"{_name(self.key)} has {self.ready} of {self.desired} ready replicas and no pod at all",
                    self.numbers, (self.key,))
        pod = self.starting[0]
        states = ", ".join(f"{name} {state}" for name, state in sorted(pod.containers.items())) or "no container started"
        message = (f"{_name(self.key)} has {self.ready} of {self.desired} ready replicas at the end: pod {pod.key} "
                   f"is bound to {pod.node} but not Ready ({states}, {pod.restarts} restarts)")
        return (self.key, message, self.numbers, (self.key, f"pod/{pod.key}"))

    def judge_room(self, placed: int, eligible: list[str], ledger: Ledger, failures: list, lacking: list) -> None:
        nodes = [ledger.nodes[name] for name in eligible]
        room = [free(node) for node in nodes]
        self.numbers.update({
            "missing": self.need, "room_for": placed, "eligible_nodes": len(nodes),
            "free_cpu_millis": sum(r[0] for r in room), "free_memory_bytes": sum(r[1] for r in room),
            "free_pod_slots": sum(r[2] for r in room),
        })
        if placed > 0:
            best = max(nodes, key=lambda n: slots(n, self.cpu, self.memory))
            message = (f"{_name(self.key)} has {self.ready} of {self.desired} ready replicas at the end "
                       f"although the healed cluster had room for {placed} more (best: {describe_free(best)})")
            failures.append((self.key, message, self.numbers, (self.key, f"node/{best.name}")))
            return
        if not nodes:
            why = "no Ready node admits its pods (node selector, affinity, taints, cordons)"
        elif self._spread_bound(nodes):
            why = (f"its DoNotSchedule topology spread constraints allow none more on the {len(nodes)} Ready "
                   "node(s) that admit it and have room (a node without the topology key, or the skew at maxSkew)")
        else:
            self.numbers["short_cpu_millis"] = max(0, self.need * self.cpu - int(self.numbers["free_cpu_millis"]))
            self.numbers["short_memory_bytes"] = max(0, self.need * self.memory - int(self.numbers["free_memory_bytes"]))
            why = (f"each requests {self.cpu}m CPU and {self.memory} bytes of memory, and none fits on the {len(nodes)} "
                   f"Ready node(s) that admit it ({self.numbers['free_cpu_millis']}m CPU, "
                   f"{self.numbers['free_memory_bytes']} bytes, {self.numbers['free_pod_slots']} pod slots free in all)")
        lacking.append((f"{_name(self.key)} lacks {self.need} of {self.desired} replicas: {why}", self.numbers))

    def _spread_bound(self, nodes: list[LedgerNode]) -> bool:
        """Whether its spread constraints, not room, kept its pods off ``nodes``."""
        hard = self.spec is not None and any(c.when_unsatisfiable == "DoNotSchedule" for c in self.spec.topology_spread_constraints)
        return hard and any(slots(node, self.cpu, self.memory) >= 1 for node in nodes)

    def judge_daemon(self, ledger: Ledger, failures: list, lacking: list) -> None:
        """A DaemonSet is short on some Ready nodes: a failure unless its pod cannot fit there."""
        bound = {pod.node for pod in self.starting}
        missing = [name for name in sorted(self.track.nodes) if self.track.ready.get(name, 0) == 0]
        no_room = [name for name in missing if name not in bound and slots(ledger.nodes[name], self.cpu, self.memory) < 1]
        self.numbers.update({"desired": len(self.track.nodes), "missing_nodes": len(missing), "full_nodes": len(no_room)})
        if len(no_room) < len(missing):
            node = next(name for name in missing if name not in no_room)
            message = (f"{_name(self.key)} has no ready pod on node {node}, which is Ready and should run it "
                       f"({len(missing)} such node(s) at the end)")
            failures.append((self.key, message, self.numbers, (self.key, f"node/{node}")))
            return
        node = ledger.nodes[no_room[0]]
        message = (f"{_name(self.key)} has no room on {len(no_room)} node(s): its pod requests {self.cpu}m CPU and "
                   f"{self.memory} bytes; {describe_free(node)}")
        lacking.append((message, self.numbers))

