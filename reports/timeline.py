"""The timeline of one run: the series a report plots, folded from the run's trace.

:func:`timeline_from_trace` reads a trace once, through the properties'
:class:`~podquake.properties.Ledger` (the same picture of the cluster the verdicts were judged on),
and returns plain JSON-ready data for the run record:

- ``faults``: one bar per fault, from the nemesis's ``fault-started`` / ``fault-healed``
  :class:`~podquake.model.trace.Annotation` marks, paired by their detail (the fault's repr), first
  started first healed; a fault never healed ends at the run's end. Other marks (``all-healed``, a
  user's) are kept in ``marks``.
- ``workloads``: each top-level workload's ready replicas against desired, points ``[t, ready,
  desired]``. Ready counts a pod that is Ready and not being deleted, as upstream's ReplicaSet
  status does (``readyReplicas`` is computed over ``controller.FilterActivePods``, which drops pods
  with a deletionTimestamp: pkg/controller/replicaset/replica_set_utils.go, ``calculateStatus``).
- ``nodes``: node readiness, points ``[t, ready, up]``: the control plane's Ready condition
  (``True``, ``False``, ``Unknown``, or ``Removed``) and whether the machine runs. The two differ on
  purpose: a powered-off node stays Ready for the node-monitor grace period.
- ``utilization``: requested CPU and memory over allocatable per node, points ``[t, cpu, memory]``
  (fractions; above 1 means overcommitted), sampled at every binding and deletion.
- ``load``: per Service, the requests over the run and each endpoint's share of those that reached
  an endpoint (from :class:`~podquake.model.trace.TrafficWindow` events).
- ``topology``: zones, their nodes with state, and the active network partitions at the moment of
  failure (``failure_time``; the run's end when not given).

Series are step functions (each point holds until the next). They stay compact: at most
:data:`MAX_POINTS` points each (:func:`downsample` keeps every bucket's extremes, so a dip or a
spike survives), at most :data:`MAX_WORKLOADS` workloads and :data:`MAX_NODES` nodes (the ones
that went through the most trouble first), and the numbers are rounded. The result depends only on
the events, so the same trace gives an identical dict.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from podquake.model import trace as ev
from podquake.properties.ledger import Ledger

__all__ = [
    "timeline_from_trace",
    "downsample",
    "natural_key",
    "MAX_POINTS",
    "MAX_WORKLOADS",
    "MAX_NODES",
    "MAX_SERVICES",
    "MAX_ENDPOINTS",
    "MAX_FAULTS",
    "MAX_TOPOLOGY_NODES",
]

MAX_POINTS = 200
MAX_WORKLOADS = 10
MAX_NODES = 24
MAX_SERVICES = 6
MAX_ENDPOINTS = 12
MAX_FAULTS = 40
MAX_MARKS = 40
MAX_TOPOLOGY_NODES = 60  # per zone

_SEVERITY = {"True": 0, "Unknown": 1, "False": 2, "Removed": 3}


def natural_key(name: str) -> tuple[Any, ...]:
    """Sort key putting ``worker-2`` before ``worker-10``."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


def _r(value: float, digits: int = 4) -> float:
    """Rounded, with ``-0.0`` made ``0.0`` (so equal values serialize equally)."""
    return round(value, digits) + 0.0


def downsample(points: list[list[Any]], limit: int = MAX_POINTS, key: Callable[[list[Any]], float] | None = None) -> list[list[Any]]:
    """At most ``limit`` points of a step series, keeping the first, the last, and in each of
    ``limit // 2 - 1`` equal time buckets the point with the lowest and the highest ``key``
    (default: the second column), in time order."""
    if len(points) <= limit:
        return points
    key = key or (lambda p: p[1])
    first, last = points[0], points[-1]
    start, end = first[0], last[0]
    buckets = max(1, limit // 2 - 1)
    width = (end - start) / buckets or 1.0
    chosen: dict[int, None] = {0: None, len(points) - 1: None}
    lows: dict[int, int] = {}
    highs: dict[int, int] = {}
    for index in range(1, len(points) - 1):
        bucket = min(buckets - 1, int((points[index][0] - start) / width))
        value = key(points[index])
        if bucket not in lows or value < key(points[lows[bucket]]):
            lows[bucket] = index
        if bucket not in highs or value > key(points[highs[bucket]]):
            highs[bucket] = index
    for index in list(lows.values()) + list(highs.values()):
        chosen[index] = None
    return [points[i] for i in sorted(chosen)]


def _push(series: list[list[Any]], point: list[Any]) -> None:
    """Append a step point; one at the same time as the last replaces it, an unchanged value is dropped."""
    if series and series[-1][0] == point[0]:
        series.pop()
    if series and series[-1][1:] == point[1:]:
        return
    series.append(point)


class _Folder:
    """One pass over the events, keeping what the series need beside the ledger."""

    def __init__(self, failure_time: float | None) -> None:
        self.ledger = Ledger()
        self.failure_time = failure_time
        self.topology: dict[str, Any] | None = None
        self.faults: list[dict[str, Any]] = []
        self.open_faults: dict[str, list[dict[str, Any]]] = {}
        self.marks: list[dict[str, Any]] = []
        self.pod_workload: dict[str, str] = {}
        self.counted: set[str] = set()
        self.ready: dict[str, int] = {}
        self.desired: dict[str, int] = {}
        self.workload_points: dict[str, list[list[Any]]] = {}
        self.node_points: dict[str, list[list[Any]]] = {}
        self.node_zone: dict[str, str] = {}
        self.util_points: dict[str, list[list[Any]]] = {}
        self.load: dict[str, dict[str, Any]] = {}
        self.first_t: float | None = None

    # --- the pass ----------------------------------------------------------------------------------
    def fold(self, events: Iterable[ev.Event]) -> None:
        ledger = self.ledger
        for event in events:
            if self.first_t is None:
                self.first_t = event.t
            if self.topology is None and self.failure_time is not None and event.t > self.failure_time:
                self.topology = self.snapshot(self.failure_time)
            ledger.apply(event)
            kind = type(event)
            if kind in (ev.PodCreated, ev.PodReadyChanged, ev.PodDeletionRequested, ev.PodDeleted):
                self.pod_changed(event)  # type: ignore[arg-type]
            if kind in (ev.PodBound, ev.PodDeleted, ev.NodeAdded):
                self.utilization(event.t, event.node)  # type: ignore[attr-defined]
            if kind in (ev.NodeAdded, ev.NodeRemoved, ev.NodePowerChanged, ev.NodeReadyChanged):
                self.node_changed(event)  # type: ignore[arg-type]
            elif kind in (ev.WorkloadCreated, ev.WorkloadScaled, ev.WorkloadDeleted):
                self.workload_changed(event)  # type: ignore[arg-type]
            elif kind is ev.TrafficWindow:
                self.traffic(event)  # type: ignore[arg-type]
            elif kind is ev.Annotation:
                self.annotation(event)  # type: ignore[arg-type]

    def pod_changed(self, e: ev.PodCreated | ev.PodReadyChanged | ev.PodDeletionRequested | ev.PodDeleted) -> None:
        pod = self.ledger.pods.get(e.pod)
        if isinstance(e, ev.PodCreated) and pod is not None:
            self.pod_workload[e.pod] = self.ledger.workload_of(pod)
        workload = self.pod_workload.get(e.pod, "")
        counted = pod is not None and pod.ready and not pod.terminating
        if counted == (e.pod in self.counted):
            if isinstance(e, ev.PodDeleted):
                self.pod_workload.pop(e.pod, None)
            return
        if counted:
            self.counted.add(e.pod)
        else:
            self.counted.discard(e.pod)
        self.ready[workload] = self.ready.get(workload, 0) + (1 if counted else -1)
        if isinstance(e, ev.PodDeleted):
            self.pod_workload.pop(e.pod, None)
        self.workload_point(e.t, workload)

    def workload_changed(self, e: ev.WorkloadCreated | ev.WorkloadScaled | ev.WorkloadDeleted) -> None:
        key = f"{e.kind}/{e.workload}"
        if isinstance(e, ev.WorkloadCreated):
            if e.owner:
                return
            self.desired[key] = e.replicas
        elif key not in self.desired:
            return
        elif isinstance(e, ev.WorkloadScaled):
            self.desired[key] = e.replicas
        else:
            self.desired[key] = 0
        self.workload_point(e.t, key)

    def workload_point(self, t: float, key: str) -> None:
        if key in self.desired:
            _push(self.workload_points.setdefault(key, []), [t, self.ready.get(key, 0), self.desired[key]])

    def node_changed(self, e: ev.NodeAdded | ev.NodeRemoved | ev.NodePowerChanged | ev.NodeReadyChanged) -> None:
        node = self.ledger.nodes.get(e.node)
        if isinstance(e, ev.NodeAdded):
            self.node_zone[e.node] = e.zone
        state = ["Removed", False] if node is None else [node.ready, node.up]
        if e.node in self.node_zone:
            _push(self.node_points.setdefault(e.node, []), [e.t, *state])

    def utilization(self, t: float, name: str) -> None:
        node = self.ledger.nodes.get(name)
        if node is None:
            return
        cpu = node.requested_cpu / node.allocatable_cpu if node.allocatable_cpu else 0.0
        memory = node.requested_memory / node.allocatable_memory if node.allocatable_memory else 0.0
        _push(self.util_points.setdefault(name, []), [t, _r(cpu), _r(memory)])

    def traffic(self, e: ev.TrafficWindow) -> None:
        entry = self.load.setdefault(e.service, {"offered": 0.0, "served": 0.0, "failed": 0.0, "failures": {}, "endpoints": {}})
        entry["offered"] += e.offered
        entry["served"] += e.served
        entry["failed"] += e.failed
        for reason, count in e.failures:
            entry["failures"][reason] = entry["failures"].get(reason, 0.0) + count
        for pod, offered, served, failed, _latency in e.per_endpoint:
            row = entry["endpoints"].setdefault(pod, [0.0, 0.0, 0.0])
            row[0] += offered
            row[1] += served
            row[2] += failed

    def annotation(self, e: ev.Annotation) -> None:
        if e.label == "fault-started":
            bar = {"repr": e.detail, "start": e.t, "end": None, "healed": False}
            self.faults.append(bar)
            self.open_faults.setdefault(e.detail, []).append(bar)
        elif e.label == "fault-healed" and self.open_faults.get(e.detail):  # else kept as a mark below
            bar = self.open_faults[e.detail].pop(0)
            bar["end"] = e.t
            bar["healed"] = True
        else:
            self.marks.append({"t": e.t, "label": e.label, "detail": e.detail})

    # --- the moment of failure ---------------------------------------------------------------------
    def snapshot(self, t: float) -> dict[str, Any]:
        ledger = self.ledger
        zones = sorted({node.zone for node in ledger.nodes.values()}, key=natural_key)
        partitions = []
        for number in sorted(ledger.partitions):
            part = ledger.partitions[number]
            words = set(re.split(r"[^A-Za-z0-9._-]+", part.description))
            partitions.append(
                {
                    "partition": number,
                    "kind": part.kind,
                    "description": part.description,
                    "nodes": sorted((n for n in ledger.nodes if n in words), key=natural_key),
                    "zones": [z for z in zones if z in words],
                }
            )
        cut_nodes = {n for p in partitions if p["kind"] != "zone-isolation" for n in p["nodes"]}
        isolated = {z for p in partitions if p["kind"] == "zone-isolation" for z in p["zones"]}
        out = []
        for zone in zones:
            members = sorted((n for n in ledger.nodes.values() if n.zone == zone), key=lambda n: natural_key(n.name))
            shown = members[:MAX_TOPOLOGY_NODES]
            out.append(
                {
                    "zone": zone,
                    "isolated": zone in isolated,
                    "nodes": [
                        {
                            "node": n.name,
                            "ready": n.ready,
                            "up": n.up,
                            "unschedulable": n.unschedulable,
                            "cut_off": n.name in cut_nodes,
                            "pods": len(n.pods),
                            "cpu": _r(n.requested_cpu / n.allocatable_cpu if n.allocatable_cpu else 0.0),
                            "memory": _r(n.requested_memory / n.allocatable_memory if n.allocatable_memory else 0.0),
                        }
                        for n in shown
                    ],
                    "nodes_omitted": len(members) - len(shown),
                }
            )
        return {"time": t, "zones": out, "partitions": partitions}


def _deficit(points: Sequence[Sequence[Any]], end: float) -> float:
    """Replica-seconds below desired: how much trouble a workload went through."""
    total = 0.0
    for index, (t, ready, desired) in enumerate(points):
        following = points[index + 1][0] if index + 1 < len(points) else end
        total += max(0, desired - ready) * max(0.0, following - t)
    return total


def _node_trouble(points: Sequence[Sequence[Any]], end: float) -> float:
    """Seconds a node spent not Ready or powered off."""
    total = 0.0
    for index, (t, ready, up) in enumerate(points):
        following = points[index + 1][0] if index + 1 < len(points) else end
        if ready != "True" or not up:
            total += max(0.0, following - t)
    return total


def _peak(points: Sequence[Sequence[Any]]) -> float:
    return max((max(p[1], p[2]) for p in points), default=0.0)


def timeline_from_trace(
    events: Iterable[ev.Event],
    *,
    failure_time: float | None = None,
    end: float | None = None,
) -> dict[str, Any]:
    """The plotted series of one run (see the module docstring). ``events`` is a trace or a list
    of events in order; ``failure_time`` the moment the topology is pictured at (default: the
    end); ``end`` the run's end (default: the last event's time, or the failure time if later)."""
    folder = _Folder(failure_time)
    folder.fold(events)
    last = folder.ledger.now
    start = folder.first_t if folder.first_t is not None else 0.0
    if end is not None:
        run_end = end
    else:
        run_end = last if failure_time is None else max(last, failure_time)
    topology = folder.topology or folder.snapshot(failure_time if failure_time is not None else run_end)

    faults = [{**bar, "end": run_end if bar["end"] is None else bar["end"]} for bar in folder.faults[:MAX_FAULTS]]

    ranked = sorted(folder.workload_points, key=lambda k: (-_deficit(folder.workload_points[k], run_end), natural_key(k)))
    kept = sorted(ranked[:MAX_WORKLOADS], key=natural_key)
    workloads = [{"workload": k, "points": downsample(folder.workload_points[k])} for k in kept]

    def node_rank(name: str) -> tuple[Any, ...]:
        trouble = _node_trouble(folder.node_points.get(name, []), run_end)
        return (-trouble, -_peak(folder.util_points.get(name, [])), natural_key(name))

    names = sorted(folder.node_points, key=node_rank)
    chosen = sorted(names[:MAX_NODES], key=natural_key)
    nodes = [
        {
            "node": name,
            "zone": folder.node_zone.get(name, ""),
            "points": downsample(folder.node_points[name], key=lambda p: _SEVERITY.get(p[1], 1) + (0 if p[2] else 4)),
        }
        for name in chosen
    ]
    utilization = [
        {"node": name, "points": downsample(folder.util_points.get(name, []), key=lambda p: max(p[1], p[2]))}
        for name in chosen
    ]

    services = sorted(folder.load, key=lambda s: (-folder.load[s]["failed"], natural_key(s)))
    load = [_service_load(name, folder.load[name]) for name in sorted(services[:MAX_SERVICES], key=natural_key)]

    return {
        "start": start,
        "end": run_end,
        "failure_time": failure_time,
        "faults": faults,
        "marks": folder.marks[:MAX_MARKS],
        "workloads": workloads,
        "workloads_omitted": len(ranked) - len(kept),
        "nodes": nodes,
        "utilization": utilization,
        "nodes_omitted": len(names) - len(chosen),
        "load": load,
        "services_omitted": len(services) - min(len(services), MAX_SERVICES),
        "topology": topology,
    }


def _service_load(name: str, entry: dict[str, Any]) -> dict[str, Any]:
    rows = entry["endpoints"]
    reached = sum(row[0] for row in rows.values())
    pods = sorted(rows, key=lambda p: (-rows[p][0], natural_key(p)))
    shown = sorted(pods[:MAX_ENDPOINTS], key=natural_key)
    return {
        "service": name,
        "offered": _r(entry["offered"], 3),
        "served": _r(entry["served"], 3),
        "failed": _r(entry["failed"], 3),
        "failures": [[reason, _r(count, 3)] for reason, count in sorted(entry["failures"].items())],
        "endpoints": [
            {
                "pod": pod,
                "offered": _r(rows[pod][0], 3),
                "served": _r(rows[pod][1], 3),
                "failed": _r(rows[pod][2], 3),
                "share": _r(rows[pod][0] / reached if reached else 0.0),
            }
            for pod in shown
        ],
        "endpoints_omitted": len(pods) - len(shown),
    }
