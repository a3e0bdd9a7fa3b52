"""Bounded liveness on hand-built traces: replicas-converge (capacity honesty included) and the
room computations it shares with pending-pods-scheduled."""

from __future__ import annotations

# the liveness modules register their properties on import (until the package's __init__ imports them)
import podquake.properties.liveness
import podquake.properties.liveness_pods
import podquake.properties.liveness_scaling  # noqa: F401
import pytest
from podquake.model import trace as ev
from podquake.model.objects import ContainerSpec, PodSpec, TopologySpreadConstraint
from podquake.model.quantity import Resources
from podquake.model.selectors import LabelSelector, Toleration
from podquake.model.specrecord import encode_spec
from podquake.properties import Ledger, LedgerPod, Suite, check_trace
from podquake.properties.capacity import SpreadFilter, admits, room_for

GI = 1 << 30


# --- trace builders (shared with the sibling test modules) --------------------------------------
def node(name: str, cpu: int = 1000, memory: int = 4 * GI, zone: str = "zone-a", t: float = 0.0, taints=(), labels=()) -> ev.NodeAdded:
    pairs = (("kubernetes.io/hostname", name), ("topology.kubernetes.io/zone", zone), *labels)
    return ev.NodeAdded(t, name, zone, cpu, memory, 110, tuple(sorted(pairs)), tuple(taints))


def spec(name: str = "spec-1", cpu: int = 500, memory: int = GI, **fields) -> ev.PodSpecDefined:
    container = ContainerSpec("app", requests=Resources(cpu, memory), cpu_requested=True, memory_requested=True)
    return ev.PodSpecDefined(0.0, name, encode_spec(PodSpec(containers=(container,), **fields)))


def pod(t: float, key: str, owner: str = "", cpu: int = 500, memory: int = GI, spec_id: str = "spec-1", app: str = "web") -> ev.PodCreated:
    return ev.PodCreated(t, key, owner, cpu, memory, spec_id, (("app", app),))


def running(t: float, key: str, node_name: str, owner: str = "ReplicaSet/default/web-1", cpu: int = 500, **kw) -> list[ev.Event]:
    """A pod created, bound, started and Ready at ``t``."""
    return [
        pod(t, key, owner, cpu, **kw),
        ev.PodBound(t, key, node_name),
        ev.ContainerStarted(t, key, "app", 0, node_name),
        ev.PodReadyChanged(t, key, True),
    ]


def deployment(t: float = 0.0, replicas: int = 2, name: str = "web") -> list[ev.Event]:
    return [
        ev.WorkloadCreated(t, "Deployment", f"default/{name}", replicas),
        ev.WorkloadCreated(t, "ReplicaSet", f"default/{name}-1", replicas, f"Deployment/default/{name}"),
    ]


def fault(start: float, heal: float) -> tuple[ev.Event, list[ev.Event]]:
    return ev.Annotation(start, "fault-started", "f"), [ev.Annotation(heal, "fault-healed", "f"), ev.Annotation(heal, "all-healed", "")]


def judge(prop_id: str, events: list[ev.Event], end: float, **params):
    [verdict] = check_trace(sorted(events, key=lambda e: e.t), Suite.of([prop_id], params={prop_id: params} if params else None), end=end)
    return verdict


def base(nodes=("n1", "n2")) -> list[ev.Event]:
    return [node(n) for n in nodes] + [spec()]


# --- replicas-converge -----------------------------------------------------------------------------
def web_with_a_dead_node(replacement_ready_at: float | None) -> list[ev.Event]:
    """Two web pods on n1 and n2; n2 dies at 10 and comes back at 50 (the heal); its pod is deleted and
    a replacement is created at 60, Ready at ``replacement_ready_at`` (None: the controller forgets it)."""
    start, healed = fault(10.0, 50.0)
    events = base() + deployment() + running(1.0, "default/web-1-a", "n1") + running(1.0, "default/web-1-b", "n2")
    events += [start, ev.NodePowerChanged(10.0, "n2", False), ev.NodeReadyChanged(60.0 - 1, "n2", "Unknown", "NodeStatusUnknown")]
    events += [ev.PodReadyChanged(49.0, "default/web-1-b", False), ev.PodDeletionRequested(49.0, "default/web-1-b", "TaintEviction")]
    events += [ev.NodePowerChanged(50.0, "n2", True), ev.NodeReadyChanged(50.0, "n2", "True", "KubeletReady"), *healed]
    events += [ev.PodDeleted(52.0, "default/web-1-b", "n2", "Deleted")]
    if replacement_ready_at is not None:
        events += running(replacement_ready_at, "default/web-1-c", "n2")
    return events


def test_replicas_converge_passes_when_the_workload_is_back_within_T():
    verdict = judge("replicas-converge", web_with_a_dead_node(60.0), end=400.0)
    assert verdict.status == "passed" and verdict.numbers["workloads"] == 1


def test_replicas_converge_fails_when_a_lost_pod_is_never_replaced_although_there_is_room():
    verdict = judge("replicas-converge", web_with_a_dead_node(None), end=400.0)
    assert verdict.status == "failed"
    assert "Deployment default/web has 1 of 2 ready replicas" in verdict.message and "room for 1 more" in verdict.message
    assert verdict.numbers["room_for"] == 1 and verdict.numbers["deadline"] == 350.0
    assert verdict.objects[0] == "Deployment/default/web"


def test_replicas_converge_fails_when_the_workload_comes_back_only_after_the_deadline():
    verdict = judge("replicas-converge", web_with_a_dead_node(380.0), end=500.0)
    assert verdict.status == "failed"
    assert verdict.numbers["back_at"] == 380.0 and verdict.numbers["short_from"] == 49.0


def test_replicas_converge_is_unknown_when_the_run_ends_before_T_after_the_heal():
    verdict = judge("replicas-converge", web_with_a_dead_node(None), end=300.0)
    assert verdict.status == "unknown"
    assert verdict.message == "the run ended 250 s after the last heal; this property needs 300 s"


def test_replicas_converge_reports_a_cluster_without_room_as_lacking_capacity_not_as_a_failure():
    # n2 is removed for good; n1 holds web-1-a (500m) and another app's 400m: the replacement (500m) cannot fit
    start, healed = fault(10.0, 50.0)
    events = base() + deployment() + running(1.0, "default/web-1-a", "n1") + running(1.0, "default/web-1-b", "n2")
    events += [ev.WorkloadCreated(0.0, "ReplicaSet", "default/db", 1), spec("spec-2", cpu=400)]
    events += running(1.0, "default/db-x", "n1", owner="ReplicaSet/default/db", cpu=400, spec_id="spec-2", app="db")
    events += [start, ev.PodReadyChanged(20.0, "default/web-1-b", False), ev.NodeRemoved(30.0, "n2"),
               ev.PodDeleted(30.0, "default/web-1-b", "n2", "NodeRemoved"), *healed,
               pod(31.0, "default/web-1-c", "ReplicaSet/default/web-1"), ev.PodUnschedulable(31.0, "default/web-1-c", "Insufficient cpu")]
    verdict = judge("replicas-converge", events, end=400.0)
    assert verdict.status == "passed"
    assert verdict.message.startswith("the healed cluster lacked capacity: Deployment default/web lacks 1 of 2 replicas")
    assert verdict.numbers["room_for"] == 0 and verdict.numbers["free_cpu_millis"] == 100
    assert verdict.numbers["short_cpu_millis"] == 400 and verdict.numbers["eligible_nodes"] == 1


def test_replicas_converge_with_room_for_some_but_not_all_missing_replicas_fails():
    start, healed = fault(10.0, 50.0)
    events = [node("n1", cpu=1200), spec()] + deployment(replicas=3) + [start, *healed]
    events += running(1.0, "default/web-1-a", "n1")
    events += [pod(1.0, "default/web-1-b", "ReplicaSet/default/web-1"), pod(1.0, "default/web-1-c", "ReplicaSet/default/web-1")]
    verdict = judge("replicas-converge", events, end=400.0)
    assert verdict.status == "failed" and verdict.numbers["missing"] == 2 and verdict.numbers["room_for"] == 1


def test_replicas_converge_excuses_a_statefulset_pod_left_on_a_node_that_stayed_down():
    start, healed = fault(10.0, 50.0)
    events = base() + [ev.WorkloadCreated(0.0, "StatefulSet", "default/db", 2)]
    events += running(1.0, "default/db-0", "n1", owner="StatefulSet/default/db")
    events += running(1.0, "default/db-1", "n2", owner="StatefulSet/default/db")
    events += [start, ev.NodePowerChanged(10.0, "n2", False), ev.NodeReadyChanged(60.0, "n2", "Unknown", "NodeStatusUnknown"),
               ev.PodReadyChanged(60.0, "default/db-1", False), ev.PodDeletionRequested(360.0, "default/db-1", "TaintEviction"), *healed]
    verdict = judge("replicas-converge", events, end=600.0)
    assert verdict.status == "passed"
    assert "pod default/db-1 stays on node n2, which is not Ready" in verdict.message and "force-deleted" in verdict.message


def test_replicas_converge_counts_a_daemonset_on_the_ready_nodes_that_should_run_it():
    gpu_taint = ("gpu", "", "NoSchedule")
    events = [node("n1"), node("n2"), node("n3", taints=(gpu_taint,)), spec("spec-d", cpu=100)]
    events += [ev.WorkloadCreated(0.0, "DaemonSet", "default/agent", 1)]
    events += running(1.0, "default/agent-a", "n1", owner="DaemonSet/default/agent", cpu=100, spec_id="spec-d", app="agent")
    verdict = judge("replicas-converge", events, end=400.0)  # n2 should run it too, and has room
    assert verdict.status == "failed"
    assert "no ready pod on node n2" in verdict.message and verdict.numbers["desired"] == 2
    events += running(2.0, "default/agent-b", "n2", owner="DaemonSet/default/agent", cpu=100, spec_id="spec-d", app="agent")
    assert judge("replicas-converge", events, end=400.0).status == "passed"  # n3's taint is not tolerated


def test_replicas_converge_says_when_a_daemonset_pod_has_no_room_on_its_node():
    events = [node("n1"), node("n2", cpu=50), spec("spec-d", cpu=100), ev.WorkloadCreated(0.0, "DaemonSet", "default/agent", 1)]
    events += running(1.0, "default/agent-a", "n1", owner="DaemonSet/default/agent", cpu=100, spec_id="spec-d", app="agent")
    verdict = judge("replicas-converge", events, end=400.0)
    assert verdict.status == "passed" and "has no room on 1 node(s)" in verdict.message and "node n2 (50m CPU" in verdict.message


def test_replicas_converge_restarts_the_clock_of_a_rescaled_workload_and_notes_those_it_could_not_judge():
    events = base() + deployment() + running(1.0, "default/web-1-a", "n1") + running(1.0, "default/web-1-b", "n2")
    events += [ev.WorkloadScaled(250.0, "Deployment", "default/web", 3)]
    verdict = judge("replicas-converge", events, end=400.0)
    assert verdict.status == "unknown" and "Deployment/default/web changed at t=250s" in verdict.note
    verdict = judge("replicas-converge", events, end=600.0)
    assert verdict.status == "failed" and verdict.numbers["desired"] == 3


def test_replicas_converge_fails_a_workload_with_too_many_ready_replicas():
    events = base() + deployment(replicas=1) + running(1.0, "default/web-1-a", "n1") + running(1.0, "default/web-1-b", "n2")
    verdict = judge("replicas-converge", events, end=400.0)
    assert verdict.status == "failed" and "has 2 ready replicas at the end, wants 1" in verdict.message


def test_replicas_converge_blames_a_pod_that_is_bound_but_never_ready():
    events = base() + deployment() + running(1.0, "default/web-1-a", "n1")
    events += [pod(1.0, "default/web-1-b", "ReplicaSet/default/web-1"), ev.PodBound(1.0, "default/web-1-b", "n2"),
               ev.ContainerStarted(2.0, "default/web-1-b", "app", 0, "n2")]
    verdict = judge("replicas-converge", events, end=400.0)
    assert verdict.status == "failed" and "pod default/web-1-b is bound to n2 but not Ready (app running, 0 restarts)" in verdict.message


# --- room ---------------------------------------------------------------------------------------------
def _ledger(events: list[ev.Event]) -> Ledger:
    ledger = Ledger()
    for event in events:
        ledger.apply(event)
    return ledger


def test_room_for_places_demands_in_order_on_the_nodes_that_admit_them():
    ledger = _ledger([node("n1"), node("n2", taints=(("dedicated", "db", "NoSchedule"),)), spec(),
                      spec("spec-2", tolerations=(Toleration("dedicated", "Equal", "db", "NoSchedule"),))])
    plain, tolerant = ledger.spec(_pod("spec-1")), ledger.spec(_pod("spec-2"))
    result = room_for(ledger, [("a", plain, 400, GI, 3, None), ("b", tolerant, 400, GI, 5, None)])
    assert result["a"] == (2, ["n1"])  # n2's taint is not tolerated; 2 x 400m fit in 1000m
    assert result["b"] == (2, ["n1", "n2"])  # n1 has 200m left; n2 takes 2


def test_room_for_places_spread_constrained_pods_one_at_a_time_within_the_skew():
    """room_for ignored topology spread, so replicas-converge blamed the control plane ("room for 3
    more") for replicas that their DoNotSchedule constraints kept off every node."""
    web = LabelSelector.of({"app": "web"})
    zone = TopologySpreadConstraint(1, "topology.kubernetes.io/zone", label_selector=web)
    events = [node("a1", zone="zone-a", cpu=4000), node("b1", zone="zone-b", cpu=4000), spec(topology_spread_constraints=(zone,))]
    events += running(1.0, "default/w-1", "a1", owner="") + running(1.0, "default/w-2", "a1", owner="") + [pod(2.0, "default/w-3")]
    ledger = _ledger(events)
    waiting = ledger.pods["default/w-3"]
    # zone-a 2, zone-b 0: b1 takes two, then a1 one (without the spread, a1 would take the first ones)
    assert room_for(ledger, [("web", ledger.spec(waiting), 500, GI, 3, waiting)])["web"] == (3, ["a1", "b1"])
    keyless = TopologySpreadConstraint(1, "rack", label_selector=web)  # no node has a rack label
    ledger = _ledger([*events[:2], spec("spec-2", topology_spread_constraints=(keyless,)), pod(2.0, "default/w-4", spec_id="spec-2")])
    waiting = ledger.pods["default/w-4"]
    assert room_for(ledger, [("web", ledger.spec(waiting), 500, GI, 3, waiting)])["web"] == (0, ["a1", "b1"])
    assert room_for(ledger, [("web", ledger.spec(waiting), 500, GI, 3, None)])["web"] == (3, ["a1", "b1"])


def test_replicas_converge_calls_replicas_that_their_spread_keeps_off_every_node_a_capacity_finding():
    keyless = TopologySpreadConstraint(1, "rack", label_selector=LabelSelector.of({"app": "web"}))
    start, healed = fault(10.0, 50.0)
    events = [node("n1"), node("n2"), spec(topology_spread_constraints=(keyless,))] + deployment() + [start, *healed]
    events += [pod(1.0, "default/web-1-a", "ReplicaSet/default/web-1"), pod(1.0, "default/web-1-b", "ReplicaSet/default/web-1")]
    verdict = judge("replicas-converge", events, end=400.0)
    assert verdict.status == "passed", verdict.message
    assert "its DoNotSchedule topology spread constraints allow none more" in verdict.message
    assert verdict.numbers["room_for"] == 0 and verdict.numbers["missing"] == 2


def _pod(spec_id: str) -> LedgerPod:
    return LedgerPod("default/x", "", 0, 0, spec_id, {}, 0.0)


def test_the_spread_filter_follows_max_skew_over_the_zones():
    constraint = TopologySpreadConstraint(1, "topology.kubernetes.io/zone", label_selector=LabelSelector.of({"app": "web"}))
    events = [node("a1", zone="zone-a"), node("b1", zone="zone-b"), spec(topology_spread_constraints=(constraint,))]
    events += running(1.0, "default/w-1", "a1", owner="") + running(1.0, "default/w-2", "a1", owner="")
    events += running(1.0, "default/w-3", "b1", owner="") + [pod(2.0, "default/w-4")]
    ledger = _ledger(events)
    spread = SpreadFilter(ledger, ledger.pods["default/w-4"], ledger.spec(ledger.pods["default/w-4"]))
    assert spread.active
    assert not spread.allows(ledger.nodes["a1"])  # 2 + 1 - 1 = 2 > 1
    assert spread.allows(ledger.nodes["b1"])


def test_only_the_node_a_spec_names_admits_its_pod():
    ledger = _ledger([node("n1"), node("n2"), spec(), spec("spec-2", node_name="n2")])
    plain, pinned = ledger.spec(_pod("spec-1")), ledger.spec(_pod("spec-2"))
    assert [n for n in ("n1", "n2") if admits(pinned, ledger.nodes[n])] == ["n2"]
    assert [n for n in ("n1", "n2") if admits(plain, ledger.nodes[n])] == ["n1", "n2"]


def test_the_spread_filter_counts_only_nodes_that_carry_every_constraints_key():
    # upstream nodeLabelsMatchSpreadConstraints: b2 has no rack label, so its pods count in no domain
    web = LabelSelector.of({"app": "web"})
    zone = TopologySpreadConstraint(1, "topology.kubernetes.io/zone", label_selector=web)
    rack = TopologySpreadConstraint(5, "rack", label_selector=web)
    events = [node("a1", zone="zone-a", labels=(("rack", "r1"),)), node("b1", zone="zone-b", labels=(("rack", "r2"),)),
              node("b2", zone="zone-b"), spec(topology_spread_constraints=(zone, rack))]
    events += running(1.0, "default/w-1", "a1", owner="")
    events += running(1.0, "default/w-2", "b2", owner="") + running(1.0, "default/w-3", "b2", owner="")
    ledger = _ledger([*events, pod(2.0, "default/w-4")])
    spread = SpreadFilter(ledger, ledger.pods["default/w-4"], ledger.spec(ledger.pods["default/w-4"]))
    assert not spread.allows(ledger.nodes["a1"])  # zone-a 1 + 1 - min 0 (zone-b counts b1 only) = 2 > 1
    assert spread.allows(ledger.nodes["b1"])
    assert not spread.allows(ledger.nodes["b2"])  # no rack label: filtered out


@pytest.mark.parametrize("prop_id", ["replicas-converge", "pending-pods-scheduled", "autoscaler-converges", "service-recovers"])
def test_every_quiet_interval_property_is_unknown_on_a_run_shorter_than_its_bound(prop_id):
    start, healed = fault(10.0, 50.0)
    verdict = judge(prop_id, base() + [start, *healed], end=55.0)
    assert verdict.status == "unknown" and verdict.message.startswith("the run ended 5 s after the last heal")


def test_the_liveness_properties_are_registered_with_their_documentation():
    suite = Suite.of(["replicas-converge", "pending-pods-scheduled", "crashed-containers-restarted",
                      "autoscaler-converges", "service-recovers"])
    for prop in suite:
        assert prop.kind == "liveness" and prop.description and prop.catches and type(prop).__doc__
    assert {p.id: p.settings().get("within") for p in suite} == {
        "replicas-converge": 300.0, "pending-pods-scheduled": 60.0, "crashed-containers-restarted": None,
        "autoscaler-converges": 420.0, "service-recovers": 120.0,
    }
