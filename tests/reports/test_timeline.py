"""timeline_from_trace on a real small run (a node powered off and on, a partition that never heals,
traffic, hand-added marks) and on hand-built traces: the series say what happened, stay bounded, and
the same trace gives the same dict."""

from __future__ import annotations

import json

from podquake.model import trace as ev
from podquake.model.trace import Trace
from podquake.reports import timeline_from_trace
from podquake.reports.timeline import MAX_NODES, MAX_WORKLOADS, downsample

from .conftest import CUT_FAULT, FAILURE_TIME, NODE_FAULT


def test_faults_are_bars_paired_by_their_repr(small_run):
    timeline = timeline_from_trace(small_run, failure_time=FAILURE_TIME, end=180.0)
    assert timeline["start"] == 0.0 and timeline["end"] == 180.0 and timeline["failure_time"] == FAILURE_TIME
    assert timeline["faults"] == [
        {"repr": NODE_FAULT, "start": 30.0, "end": 120.0, "healed": True},
        {"repr": CUT_FAULT, "start": 60.0, "end": 180.0, "healed": False},  # never healed: ends with the run
    ]
    assert timeline["marks"] == [{"t": 150.0, "label": "note", "detail": "checkpoint <b>&"}]


def test_the_run_ends_at_the_last_event_unless_told(small_run):
    timeline = timeline_from_trace(small_run)
    assert timeline["end"] == small_run[-1].t
    assert timeline["faults"][1]["end"] == small_run[-1].t
    assert timeline["topology"]["time"] == small_run[-1].t


def test_ready_replicas_against_desired(small_run):
    (web,) = timeline_from_trace(small_run)["workloads"]
    assert web["workload"] == "Deployment/default/web"  # the top-level workload, not its ReplicaSet
    # all three ready at 2 s; worker-1's pod goes unready when its node turns Unknown (30 s + 50 s grace),
    # worker-3's when its cut-off node does (60 s + 50 s, at the next 5 s monitor tick); worker-1's
    # pod is back after the node is powered on (its container restarts: ready at 122 s)
    assert web["points"] == [[0.0, 0, 3], [2.0, 3, 3], [80.0, 2, 3], [115.0, 1, 3], [122.0, 2, 3]]


def test_node_readiness_and_power(small_run):
    nodes = {n["node"]: n for n in timeline_from_trace(small_run)["nodes"]}
    assert list(nodes) == ["worker-1", "worker-2", "worker-3"]
    assert nodes["worker-1"]["zone"] == "zone-a"
    # powered off at 30 s but Ready until the node-monitor grace period ran out at 80 s
    assert nodes["worker-1"]["points"] == [[0.0, "True", True], [30.0, "True", False], [80.0, "Unknown", False], [120.0, "True", True]]
    assert nodes["worker-2"]["points"] == [[0.0, "True", True]]
    assert nodes["worker-3"]["points"] == [[0.0, "True", True], [115.0, "Unknown", True]]


def test_utilization_is_requested_over_allocatable(small_run):
    util = {u["node"]: u["points"] for u in timeline_from_trace(small_run)["utilization"]}
    # one 500m / 256Mi pod on each 4-CPU / 16Gi worker
    assert util == {name: [[0.0, 0.125, 0.0156]] for name in ("worker-1", "worker-2", "worker-3")}


def test_load_distribution_per_endpoint(small_run):
    (web,) = timeline_from_trace(small_run)["load"]
    windows = [e for e in small_run if isinstance(e, ev.TrafficWindow)]
    assert web["service"] == "default/web"
    assert web["offered"] == round(sum(w.offered for w in windows), 3)
    assert web["served"] + web["failed"] == web["offered"]
    assert abs(sum(e["share"] for e in web["endpoints"]) - 1.0) < 1e-3
    assert [e["pod"] for e in web["endpoints"]] == sorted({row[0] for w in windows for row in w.per_endpoint})
    dead = [e for e in web["endpoints"] if e["failed"]]
    assert len(dead) == 1 and dead[0]["pod"].startswith("default/web-")  # worker-1's pod, while its machine was off
    assert dict(web["failures"])["endpoint-dead"] == dead[0]["failed"]


def test_topology_at_the_moment_of_failure(small_run):
    topology = timeline_from_trace(small_run, failure_time=FAILURE_TIME)["topology"]
    assert topology["time"] == FAILURE_TIME
    assert [z["zone"] for z in topology["zones"]] == ["zone-a", "zone-b"]
    zone_a = {n["node"]: n for n in topology["zones"][0]["nodes"]}
    assert (zone_a["worker-1"]["ready"], zone_a["worker-1"]["up"], zone_a["worker-1"]["cut_off"]) == ("Unknown", False, False)
    assert (zone_a["worker-3"]["ready"], zone_a["worker-3"]["up"], zone_a["worker-3"]["cut_off"]) == ("True", True, True)
    assert topology["partitions"] == [
        {"partition": 1, "kind": "node-cut-off", "description": "worker-3 cut off from the control plane", "nodes": ["worker-3"], "zones": []}
    ]
    before = timeline_from_trace(small_run, failure_time=50.0)["topology"]
    assert before["partitions"] == []
    assert {n["node"]: n["up"] for z in before["zones"] for n in z["nodes"]} == {"worker-1": False, "worker-2": True, "worker-3": True}


def test_same_trace_same_dict_and_a_recorded_trace_agrees(small_run):
    first = timeline_from_trace(small_run, failure_time=FAILURE_TIME)
    again = timeline_from_trace(list(small_run), failure_time=FAILURE_TIME)
    trace = Trace()
    for event in small_run:
        trace.append(event)
    replayed = timeline_from_trace(Trace.from_jsonl(trace.to_jsonl()), failure_time=FAILURE_TIME)
    text = json.dumps(first, sort_keys=False)
    assert json.dumps(again) == text and json.dumps(replayed) == text
    assert json.loads(text) == first  # JSON-ready


def _cluster(nodes: int) -> list[ev.Event]:
    return [ev.NodeAdded(0.0, f"worker-{i}", "zone-a" if i % 2 else "zone-b", 4000, 8 << 30, 110) for i in range(1, nodes + 1)]


def test_many_nodes_keep_the_troubled_ones_in_name_order():
    events = _cluster(MAX_NODES + 6)
    events.append(ev.NodeReadyChanged(10.0, "worker-30", "False", "KubeletNotReady"))
    events.append(ev.NodePowerChanged(20.0, "worker-29", False))
    timeline = timeline_from_trace(events, end=100.0)
    names = [n["node"] for n in timeline["nodes"]]
    assert len(names) == MAX_NODES and timeline["nodes_omitted"] == 6
    assert "worker-30" in names and "worker-29" in names
    assert names[:3] == ["worker-1", "worker-2", "worker-3"] and names[-2:] == ["worker-29", "worker-30"]  # natural order
    assert [u["node"] for u in timeline["utilization"]] == names


def test_many_workloads_keep_those_most_below_desired():
    events: list[ev.Event] = _cluster(1)
    for i in range(MAX_WORKLOADS + 3):
        events.append(ev.WorkloadCreated(0.0, "Deployment", f"default/app-{i}", 1))
    events.append(ev.PodCreated(0.0, "default/p", "Deployment/default/app-0", 100, 100))
    events.append(ev.PodReadyChanged(1.0, "default/p", True))
    timeline = timeline_from_trace(events, end=50.0)
    kept = [w["workload"] for w in timeline["workloads"]]
    assert len(kept) == MAX_WORKLOADS and timeline["workloads_omitted"] == 3
    assert "Deployment/default/app-0" not in kept  # the only one that reached its desired replicas
    assert kept == sorted(kept, key=lambda k: int(k.rsplit("-", 1)[1]))


def test_a_deleted_ready_pod_stops_counting_and_a_heal_without_start_is_only_a_mark():
    events: list[ev.Event] = [
        ev.WorkloadCreated(0.0, "StatefulSet", "db/pg", 2),
        ev.PodCreated(0.0, "db/pg-0", "StatefulSet/db/pg", 100, 100),
        ev.PodCreated(0.0, "db/pg-1", "StatefulSet/db/pg", 100, 100),
        ev.PodReadyChanged(3.0, "db/pg-0", True),
        ev.PodReadyChanged(4.0, "db/pg-1", True),
        ev.PodDeletionRequested(10.0, "db/pg-1", "Evicted"),  # terminating: no longer counted ready
        ev.PodDeleted(12.0, "db/pg-1", "", "Evicted"),
        ev.WorkloadScaled(15.0, "StatefulSet", "db/pg", 1),
        ev.Annotation(16.0, "fault-healed", "Ghost()"),
    ]
    timeline = timeline_from_trace(events)
    assert timeline["workloads"][0]["points"] == [[0.0, 0, 2], [3.0, 1, 2], [4.0, 2, 2], [10.0, 1, 2], [15.0, 1, 1]]
    assert timeline["faults"] == []
    assert timeline["marks"] == [{"t": 16.0, "label": "fault-healed", "detail": "Ghost()"}]


def test_downsample_is_bounded_and_keeps_the_extremes():
    points = [[float(t), 10, 10] for t in range(1000)]
    points[500] = [500.0, 0, 10]  # a dip of one step
    points[700] = [700.0, 99, 10]  # a spike
    small = downsample(points, limit=50)
    assert len(small) <= 50
    assert small[0] == points[0] and small[-1] == points[-1]
    assert [500.0, 0, 10] in small and [700.0, 99, 10] in small
    assert [p[0] for p in small] == sorted(p[0] for p in small)
    assert downsample(points[:10], limit=50) == points[:10]
