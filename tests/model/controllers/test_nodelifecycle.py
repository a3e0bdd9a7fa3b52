"""The node lifecycle and taint eviction controllers: silent nodes go Unknown after the grace period,
get tainted at per-zone rates, and lose their pods after the tolerations run out. Numbers are
upstream's (model/constants.py); each assertion names the constant it checks."""

from __future__ import annotations

import math
from typing import Any

import pytest

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.cluster import ClusterSpec
from podquake.model.controllers.nodelifecycle import (
    FULL_DISRUPTION,
    NORMAL,
    PARTIAL_DISRUPTION,
    compute_zone_state,
    min_toleration_seconds,
    zone_eviction_rate,
)
from podquake.model.objects import ContainerSpec, Deployment, PodSpec, PodTemplate
from podquake.model.quantity import Resources
from podquake.model.scheduling.contract import placement_problem
from podquake.model.selectors import LabelSelector, Taint, Toleration
from podquake.model.simulation import Simulation

PERIOD = k8s.NODE_MONITOR_PERIOD_SECONDS  # 5 s between monitor passes
GRACE = k8s.NODE_MONITOR_GRACE_PERIOD_SECONDS  # 50 s
TOLERATION = k8s.DEFAULT_TOLERATION_SECONDS  # 300 s, added by admission


class LegalFirstFit:
    """Binds a pod to the first node (index order) it may legally run on."""

    name = "legal-first-fit"

    def attach(self, state: Any) -> None:
        self.state = state

    def schedule(self, pod: Any, cluster: Any) -> str | None:
        live = self.state.pods[pod.uid]
        return next((n.name for n in self.state.node_list if placement_problem(live, n) is None), None)


def cluster(nodes: int, zones: int, seed: int = 3) -> Simulation:
    return Simulation(ClusterSpec.uniform(nodes=nodes, zones=zones), seed=seed, scheduler=LegalFirstFit())


def pin(sim: Simulation, name: str, node: str, tolerations: tuple[Toleration, ...] = ()) -> str:
    """A bare pod that can only run on ``node``."""
    spec = PodSpec(
        containers=(ContainerSpec("main"),),
        node_selector=((k8s.LABEL_HOSTNAME, node),),
        tolerations=tolerations,
    )
    sim.create_pod(name, "default", PodTemplate((("app", name),), spec))
    return f"default/{name}"


def node_events(sim: Simulation, event_type: type[ev.Event], node: str, **fields: object) -> list[float]:
    return [
        e.t
        for e in sim.trace.of_type(event_type)
        if getattr(e, "node", None) == node and all(getattr(e, f) == v for f, v in fields.items())
    ]


def no_execute_taints(sim: Simulation, key: str = k8s.TAINT_UNREACHABLE) -> list[tuple[float, str]]:
    return [(e.t, e.node) for e in sim.trace.of_type(ev.NodeTainted) if e.key == key and e.effect == "NoExecute"]


def evictions(sim: Simulation) -> dict[str, float]:
    return {e.pod: e.t for e in sim.trace.of_type(ev.PodDeletionRequested) if e.reason == "TaintEviction"}


def first_pass_after(t: float) -> float:
    return (math.floor(t / PERIOD) + 1) * PERIOD


# --- the pure rules ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("ready", "not_ready", "state"),
    [
        (0, 1, FULL_DISRUPTION),  # no Ready node at all
        (0, 0, NORMAL),
        (1, 2, NORMAL),  # 67 % not ready, but not more than 2 nodes
        (2, 3, PARTIAL_DISRUPTION),  # 3 > 2 and 60 % >= UNHEALTHY_ZONE_THRESHOLD
        (3, 3, NORMAL),  # 50 % < 55 %
        (9, 11, PARTIAL_DISRUPTION),  # exactly 55 %
        (10, 11, NORMAL),  # 52 %
    ],
)
def test_compute_zone_state_uses_the_55_percent_threshold_and_the_more_than_two_rule(ready: int, not_ready: int, state: str):
    assert k8s.UNHEALTHY_ZONE_THRESHOLD == 0.55
    assert compute_zone_state(ready, not_ready) == state


def test_zone_eviction_rates():
    assert zone_eviction_rate(NORMAL, 3) == k8s.NODE_EVICTION_RATE == 0.1
    assert zone_eviction_rate(FULL_DISRUPTION, 3) == k8s.NODE_EVICTION_RATE
    # PartialDisruption: SECONDARY_NODE_EVICTION_RATE above LARGE_CLUSTER_SIZE_THRESHOLD nodes, else stop
    assert zone_eviction_rate(PARTIAL_DISRUPTION, k8s.LARGE_CLUSTER_SIZE_THRESHOLD + 1) == k8s.SECONDARY_NODE_EVICTION_RATE == 0.01
    assert zone_eviction_rate(PARTIAL_DISRUPTION, k8s.LARGE_CLUSTER_SIZE_THRESHOLD) == 0.0


def test_min_toleration_seconds():
    assert min_toleration_seconds([Toleration(toleration_seconds=300), Toleration(toleration_seconds=20)]) == 20
    assert min_toleration_seconds([Toleration(), Toleration(toleration_seconds=20)]) == 20
    assert min_toleration_seconds([Toleration()]) is None  # forever
    assert min_toleration_seconds([Toleration(toleration_seconds=-5), Toleration()]) == 0.0


# --- a node that dies ----------------------------------------------------------------------------------
def test_a_powered_off_node_goes_unknown_50_to_60_s_after_its_last_renewal_then_is_tainted():
    sim = cluster(nodes=12, zones=3)
    victims = ["worker-1", "worker-2"]  # zone-a and zone-b
    pods = {node: pin(sim, f"on-{node}", node) for node in victims}
    sim.run(30)
    renewed = {node: sim.state.last_renewal(node) for node in victims}
    for node in victims:
        sim.kubelets[node].power_off()
    sim.run(200)
    for node in victims:
        (unknown,) = node_events(sim, ev.NodeReadyChanged, node, status="Unknown")
        # probeTimestamp = the first monitor pass that saw the renewal; Unknown at the first pass after it + 50 s
        seen = math.ceil(renewed[node] / PERIOD) * PERIOD
        assert unknown == first_pass_after(seen + GRACE)
        assert GRACE < unknown - renewed[node] < GRACE + 2 * PERIOD
        assert node_events(sim, ev.NodeTainted, node, key=k8s.TAINT_UNREACHABLE, effect="NoSchedule") == [unknown]
        assert [e.t for e in sim.trace.of_type(ev.PodReadyChanged) if e.pod == pods[node] and not e.ready] == [unknown]
        # the NoExecute taint waits for the next pass (it reads Ready as the pass began), 1 token per zone
        assert node_events(sim, ev.NodeTainted, node, key=k8s.TAINT_UNREACHABLE, effect="NoExecute") == [unknown + PERIOD]


def test_pods_are_evicted_when_the_toleration_runs_out_and_stay_terminating():
    sim = cluster(nodes=6, zones=3)
    plain = pin(sim, "plain", "worker-1")
    forever = pin(sim, "forever", "worker-1", (Toleration(k8s.TAINT_UNREACHABLE, "Exists", effect="NoExecute"),))
    short = pin(sim, "short", "worker-1", (Toleration(k8s.TAINT_UNREACHABLE, "Exists", effect="NoExecute", toleration_seconds=20),))
    sim.run(30)
    sim.kubelets["worker-1"].power_off()
    sim.run(500)
    (tainted,) = node_events(sim, ev.NodeTainted, "worker-1", key=k8s.TAINT_UNREACHABLE, effect="NoExecute")
    assert tainted < 30 + GRACE + 4 * PERIOD
    evicted = evictions(sim)
    assert evicted[plain] == tainted + TOLERATION  # DEFAULT_TOLERATION_SECONDS from admission
    assert evicted[short] == tainted + 20  # the pod's own, smaller tolerationSeconds
    assert forever not in evicted  # tolerates forever
    # The kubelet is gone: the evicted pods stay Terminating, and no longer count as active.
    assert plain in sim.state.pods_by_key and not sim.state.pods_by_key[plain].active
    sim.kubelets["worker-1"].power_on()
    sim.run(501)
    assert plain not in sim.state.pods_by_key and short not in sim.state.pods_by_key
    assert sim.state.pods_by_key[forever].phase == "Running"


def test_an_untolerated_no_execute_taint_evicts_at_once_and_removal_cancels():
    sim = cluster(nodes=3, zones=1)
    plain = pin(sim, "plain", "worker-1")
    patient = pin(sim, "patient", "worker-2", (Toleration("maintenance", "Exists", effect="NoExecute", toleration_seconds=60),))
    sim.run(10)
    sim.state.add_taint("worker-1", Taint("maintenance", "", "NoExecute"))
    sim.state.add_taint("worker-2", Taint("maintenance", "", "NoExecute"))
    sim.run(40)
    assert evictions(sim) == {plain: 10.0}
    sim.state.remove_taint("worker-2", "maintenance", "NoExecute")
    sim.run(200)
    assert patient not in evictions(sim)
    assert patient in sim.state.pods_by_key


def test_a_pod_bound_under_a_tolerated_taint_counts_from_its_binding():
    sim = cluster(nodes=1, zones=1)
    sim.state.add_taint("worker-1", Taint("maintenance", "", "NoExecute"))
    sim.run(10)
    late = pin(sim, "late", "worker-1", (Toleration("maintenance", "Exists", effect="NoExecute", toleration_seconds=30),))
    sim.run(100)
    assert evictions(sim) == {late: 40.0}


def test_heartbeats_resuming_make_the_node_ready_and_remove_the_taints():
    sim = cluster(nodes=6, zones=3)
    pod = pin(sim, "p", "worker-1")
    sim.run(30)
    kubelet = sim.kubelets["worker-1"]
    kubelet.stop_kubelet()
    sim.run(150)
    node = sim.state.nodes["worker-1"]
    assert node.ready == "Unknown" and not sim.state.pods_by_key[pod].ready
    assert {(t.key, t.effect) for t in node.taints} == {(k8s.TAINT_UNREACHABLE, "NoSchedule"), (k8s.TAINT_UNREACHABLE, "NoExecute")}
    kubelet.start_kubelet()
    sim.run(160)
    assert node_events(sim, ev.NodeReadyChanged, "worker-1", status="True") == [150.0]
    assert node_events(sim, ev.NodeUntainted, "worker-1", key=k8s.TAINT_UNREACHABLE, effect="NoSchedule") == [150.0]
    (lifted,) = node_events(sim, ev.NodeUntainted, "worker-1", key=k8s.TAINT_UNREACHABLE, effect="NoExecute")
    assert 150.0 <= lifted <= 150.0 + PERIOD
    assert node.taints == () and sim.state.pods_by_key[pod].ready
    sim.run(600)
    assert evictions(sim) == {}  # back before DEFAULT_TOLERATION_SECONDS ran out


def test_a_node_reported_not_ready_gets_the_not_ready_taints():
    sim = cluster(nodes=6, zones=3)
    pod = pin(sim, "p", "worker-1")
    sim.run(32)
    kubelet = sim.kubelets["worker-1"]
    kubelet.fail_runtime()  # the kubelet renews its lease, and reports Ready=False 30 s later
    sim.run(400)
    (not_ready,) = node_events(sim, ev.NodeReadyChanged, "worker-1", status="False")
    assert 32.0 + k8s.MAX_WAIT_FOR_CONTAINER_RUNTIME_SECONDS < not_ready <= 72.0  # at the renewal after 62 s: 63
    assert node_events(sim, ev.NodeTainted, "worker-1", key=k8s.TAINT_NOT_READY, effect="NoSchedule") == [not_ready]
    # NoExecute at the next monitor pass, which sees Ready=False as it begins
    assert node_events(sim, ev.NodeTainted, "worker-1", key=k8s.TAINT_NOT_READY, effect="NoExecute") == [65.0]
    assert node_events(sim, ev.NodeReadyChanged, "worker-1", status="Unknown") == []
    assert evictions(sim) == {pod: 65.0 + TOLERATION}
    assert pod in sim.state.pods_by_key  # the runtime is down: the kubelet cannot stop it yet
    kubelet.recover_runtime()
    sim.run(410)
    assert pod not in sim.state.pods_by_key
    assert sim.state.nodes["worker-1"].taints == ()


def late_node(sim: Simulation, up: bool = True) -> None:
    node = ClusterSpec.uniform(nodes=1, zones=1).build_nodes()[0]
    node.name = "late-1"
    node.labels[k8s.LABEL_HOSTNAME] = "late-1"
    node.up = up
    sim.add_node(node)


def test_a_new_node_whose_kubelet_never_posts_its_status_gets_the_startup_grace_period():
    sim = cluster(nodes=1, zones=1)
    sim.run(102.5)
    late_node(sim, up=False)  # registered, but no kubelet ever runs on it
    sim.run(300)
    # NODE_STARTUP_GRACE_PERIOD_SECONDS = 60 from creation, not the 50 s grace
    assert node_events(sim, ev.NodeReadyChanged, "late-1", status="Unknown") == [first_pass_after(102.5 + k8s.NODE_STARTUP_GRACE_PERIOD_SECONDS)]


def test_a_node_whose_kubelet_posted_ready_but_never_renewed_gets_the_50_s_grace():
    """A node that was Ready but died before its first lease renewal got the 60 s startup grace (decided by renewal, not by a posted Ready condition)."""
    sim = cluster(nodes=1, zones=1)
    sim.run(102.5)
    late_node(sim)
    sim.kubelets["late-1"].stop_kubelet()  # before its first renewal: only the status it registered with
    sim.run(300)
    # probeTimestamp = the first pass at or after the creation; Unknown at the first pass after it + 50 s
    assert node_events(sim, ev.NodeReadyChanged, "late-1", status="Unknown") == [first_pass_after(105 + GRACE)]


def test_a_cordoned_node_gets_the_unschedulable_taint():
    sim = cluster(nodes=2, zones=1)
    sim.state.set_unschedulable("worker-1", True)
    assert [(t.key, t.effect) for t in sim.state.nodes["worker-1"].taints] == [(k8s.TAINT_UNSCHEDULABLE, "NoSchedule")]
    sim.state.set_unschedulable("worker-1", False)
    assert sim.state.nodes["worker-1"].taints == ()


# --- zones and rates ----------------------------------------------------------------------------------
def stop_kubelets(sim: Simulation, names: list[str]) -> None:
    for name in names:
        sim.kubelets[name].stop_kubelet()


def zone_nodes(sim: Simulation, zone: str) -> list[str]:
    return list(sim.state.nodes_by_zone[zone])


def test_a_normal_zone_is_tainted_one_node_every_ten_seconds():
    sim = cluster(nodes=30, zones=1)
    down = zone_nodes(sim, "zone-a")[:8]  # 8 of 30: Normal
    sim.run(30)
    stop_kubelets(sim, down)
    sim.run(300)
    tainted = no_execute_taints(sim)
    assert sorted(node for _, node in tainted) == sorted(down)
    gaps = [b - a for (a, _), (b, _) in zip(tainted, tainted[1:])]
    assert min(gaps) == pytest.approx(1 / k8s.NODE_EVICTION_RATE)  # the token bucket binds
    assert all(gap >= 1 / k8s.NODE_EVICTION_RATE - 1e-6 for gap in gaps)
    assert [e for e in sim.trace.of_type(ev.ZoneStateChanged)] == []


def test_a_small_partially_disrupted_zone_stops_tainting():
    sim = cluster(nodes=12, zones=3)
    down = zone_nodes(sim, "zone-a")[:3]  # 3 of 4 not ready: PartialDisruption, zone of <= 50 nodes: rate 0
    sim.run(30)
    stop_kubelets(sim, down)
    sim.run(400)
    (partial,) = [e.t for e in sim.trace.of_type(ev.ZoneStateChanged) if (e.zone, e.state) == ("zone-a", PARTIAL_DISRUPTION)]
    tainted = no_execute_taints(sim)
    assert all(t <= partial for t, _ in tainted)
    assert len(tainted) < len(down)  # the rest are left alone
    for name in down:
        sim.kubelets[name].start_kubelet()
    sim.run(420)
    assert [(e.zone, e.state) for e in sim.trace.of_type(ev.ZoneStateChanged)][-1] == ("zone-a", NORMAL)
    assert all(sim.state.nodes[n].taints == () for n in down)


def test_a_large_partially_disrupted_zone_is_tainted_at_the_secondary_rate():
    sim = cluster(nodes=120, zones=2)
    zone_a = zone_nodes(sim, "zone-a")
    assert len(zone_a) > k8s.LARGE_CLUSTER_SIZE_THRESHOLD
    down = zone_a[:40]  # 40 of 60 >= 55 %
    sim.run(30)
    stop_kubelets(sim, down)
    sim.run(700)
    (partial,) = [e.t for e in sim.trace.of_type(ev.ZoneStateChanged) if (e.zone, e.state) == ("zone-a", PARTIAL_DISRUPTION)]
    later = [t for t, _ in no_execute_taints(sim) if t > partial]
    assert len(later) >= 4
    gaps = [b - a for a, b in zip(later, later[1:])]
    assert gaps == pytest.approx([1 / k8s.SECONDARY_NODE_EVICTION_RATE] * len(gaps))  # 100 s apart


def test_a_fully_disrupted_zone_is_tainted_at_the_normal_rate():
    sim = cluster(nodes=9, zones=3)
    down = zone_nodes(sim, "zone-a")  # all 3 nodes of zone-a; zones b and c are fine
    sim.run(30)
    stop_kubelets(sim, down)
    sim.run(300)
    states = [(e.zone, e.state) for e in sim.trace.of_type(ev.ZoneStateChanged)]
    assert ("zone-a", FULL_DISRUPTION) in states
    tainted = no_execute_taints(sim)
    assert sorted(node for _, node in tainted) == sorted(down)
    gaps = [b - a for (a, _), (b, _) in zip(tainted, tainted[1:])]
    assert all(gap >= 1 / k8s.NODE_EVICTION_RATE - 1e-6 for gap in gaps)


def test_when_every_zone_is_down_nothing_is_evicted_until_a_node_returns():
    sim = cluster(nodes=4, zones=2)
    pods = {node: pin(sim, f"on-{node}", node) for node in sim.state.nodes}
    sim.run(30)
    for kubelet in sim.kubelets.values():
        kubelet.power_off()
    sim.run(500)
    assert {(e.zone, e.state) for e in sim.trace.of_type(ev.ZoneStateChanged)} >= {("zone-a", FULL_DISRUPTION), ("zone-b", FULL_DISRUPTION)}
    assert all(not any(t.effect == "NoExecute" for t in n.taints) for n in sim.state.node_list)
    assert all(any(t.key == k8s.TAINT_UNREACHABLE and t.effect == "NoSchedule" for t in n.taints) for n in sim.state.node_list)
    assert evictions(sim) == {}
    sim.kubelets["worker-1"].power_on()  # one node answers again: the controller trusts itself again
    sim.run(900)
    evicted = evictions(sim)
    assert set(evicted) == {pods[n] for n in ("worker-2", "worker-3", "worker-4")}
    assert all(t > 500 + TOLERATION for t in evicted.values())
    assert sim.state.pods_by_key[pods["worker-1"]].ready


# --- replacements ----------------------------------------------------------------------------------------
def test_a_deployment_replaces_the_pods_of_a_dead_node():
    """Needs the ReplicaSet and Deployment controllers (other modules)."""
    sim = cluster(nodes=6, zones=3)
    container = ContainerSpec("web", requests=Resources(100, 2**26), cpu_requested=True, memory_requested=True)
    template = PodTemplate((("app", "web"),), PodSpec(containers=(container,)))
    sim.create_workload(
        Deployment(uid=sim.new_uid(), name="web", namespace="default", selector=LabelSelector.of({"app": "web"}), template=template, replicas=4)
    )
    sim.run(30)
    assert sim.workload_status("Deployment", "default", "web").ready == 4
    victim = sim.state.pods_by_key[sorted(sim.state.pods_by_key)[0]].node_name
    assert victim is not None
    lost = {p.key for p in sim.state.nodes[victim].pods.values()}
    sim.kubelets[victim].power_off()
    sim.run(30 + GRACE + 3 * PERIOD + TOLERATION + 30)
    assert set(evictions(sim)) == lost
    assert sim.workload_status("Deployment", "default", "web").ready == 4
    running = [p for p in sim.state.pods.values() if p.active]
    assert len(running) == 4 and all(p.node_name != victim and p.ready for p in running)


def test_a_restarted_controller_untaints_every_node_and_retaints_at_the_zone_rate():
    """A restarted kube-controller-manager's first monitorNodeHealth pass (at once: wait.Until runs it
    at the start) sees every node as new and calls markNodeAsReachable on it, removing the NoExecute
    taints (node_lifecycle_controller.go monitorNodeHealth, ``for i := range added``); the not-ready
    nodes are queued in the same pass and tainted again through the zone's fresh token bucket, one
    node every 10 s. Two dead nodes of a 5-node zone, controller down from 200 s to 260 s: their
    taints were kept and both nodes' pods evicted at 560 s; now the first node is tainted again at
    260 s and its pod evicted at 560 s, the second at 270 s and 570 s."""
    sim = cluster(nodes=5, zones=1)
    down = zone_nodes(sim, "zone-a")[:2]
    pods = {name: pin(sim, f"p-{name}", name) for name in down}
    sim.run(10)
    for name in down:
        sim.kubelets[name].power_off()
    sim.run(200)
    assert len(no_execute_taints(sim)) == 2
    sim.node_lifecycle.pause()
    sim.run(260)
    sim.node_lifecycle.resume()
    sim.run(600)
    after = [(t, node) for t, node in no_execute_taints(sim) if t >= 260]
    untainted = [e.node for e in sim.trace.of_type(ev.NodeUntainted) if e.effect == "NoExecute" and e.t == 260]
    assert sorted(untainted) == sorted(down)
    assert [t for t, _ in after] == [260.0, 270.0]
    first, second = (node for _, node in after)
    assert evictions(sim) == {pods[first]: 260.0 + TOLERATION, pods[second]: 270.0 + TOLERATION}
