"""Each fault kind changes the simulation as it says, through the model's hooks, and heals."""

from __future__ import annotations

from podquake.chaos import (
    ContainerCrash,
    ControlPlaneOutage,
    KubeletStop,
    Nemesis,
    NetworkPartition,
    NodeDrain,
    NodeFailure,
    PodKill,
    ProbeFailure,
    ProvisioningFailure,
    QuotaExhaustion,
    RuntimeFailure,
    SlowLoadBalancer,
    SlowProvisioning,
    TrafficSpike,
    ZoneOutage,
)
from podquake.chaos.faults_effects import (
    resolve_node,
    resolve_pod,
    resolve_service,
    resolve_zone,
)
from podquake.model import trace as ev
from podquake.model.network import CONTROL_PLANE

from tests.chaos.kit import small_cluster, web_pods


def play(sim, *faults, end: float = 400.0) -> Nemesis:
    return Nemesis(sim, faults, end=end).start()


def labels(nemesis: Nemesis) -> list[tuple[float, str]]:
    return [(r.t, r.label) for r in nemesis.records]


# --- selectors ------------------------------------------------------------------------------------
def test_node_selector_is_busiest_first_and_wraps_around() -> None:
    sim = small_cluster(nodes=3)
    assert sorted(len(n.pods) for n in sim.state.node_list) == [1, 1, 1]  # round-robin: one web pod each
    assert resolve_node(sim, 0) == "worker-1"  # ties: order of creation
    sim.create_pod("solo", "default", _template(node="worker-2"))
    sim.run(sim.now + 5)
    assert resolve_node(sim, 0) == "worker-2"  # the busiest
    assert resolve_node(sim, 3) == "worker-2"  # modulo the number of nodes
    assert [resolve_node(sim, i) for i in (1, 2)] == ["worker-1", "worker-3"]
    assert resolve_node(sim, "worker-3") == "worker-3"
    assert resolve_node(sim, "worker-9") is None
    sim.kubelets["worker-2"].power_off()
    assert resolve_node(sim, 0) == "worker-1"  # only machines that are up


def _template(node: str | None = None):
    from podquake.model import ContainerSpec, PodSpec, PodTemplate
    from podquake.model import constants as k8s

    selector = ((k8s.LABEL_HOSTNAME, node),) if node else ()
    return PodTemplate((("app", "solo"),), PodSpec(containers=(ContainerSpec("main"),), node_selector=selector))


def test_zone_pod_and_service_selectors() -> None:
    sim = small_cluster(nodes=3, zones=3, traffic=True)
    assert [resolve_zone(sim, i) for i in range(4)] == ["zone-a", "zone-b", "zone-c", "zone-a"]
    assert resolve_zone(sim, "zone-x") is None
    running = [p for p in sim.state.pods.values() if p.phase == "Running"]
    assert resolve_pod(sim, 0) is running[0] and resolve_pod(sim, len(running)) is running[0]
    assert resolve_pod(sim, running[1].name) is running[1]  # a bare name is in default
    assert resolve_service(sim, 0) == "default/web" and resolve_service(sim, "web") == "default/web"
    assert resolve_service(sim, "default/db") is None


# --- machines ------------------------------------------------------------------------------------
def test_node_failure_powers_the_machine_off_and_back_on() -> None:
    sim = small_cluster()
    nemesis = play(sim, NodeFailure(node="worker-2", at=30.0, duration=100.0))
    sim.run(31)
    assert not sim.state.nodes["worker-2"].up
    sim.run(129)
    assert not sim.state.nodes["worker-2"].up
    sim.run(131)
    assert sim.state.nodes["worker-2"].up
    assert labels(nemesis) == [(30.0, "fault-started"), (130.0, "fault-healed")]


def test_permanent_node_failure_survives_the_final_heal() -> None:
    sim = small_cluster()
    nemesis = Nemesis(sim, [NodeFailure(node="worker-1", at=30.0)], end=100.0)
    nemesis.run(quiet=50.0)
    assert not sim.state.nodes["worker-1"].up
    assert labels(nemesis) == [(30.0, "fault-started"), (100.0, "all-healed")]


def test_node_drain_cordons_evicts_and_uncordons() -> None:
    sim = small_cluster()
    on_node = [p.key for p in web_pods(sim) if p.node_name == "worker-1"]
    play(sim, NodeDrain(node="worker-1", at=30.0, duration=60.0))
    sim.run(35)
    assert sim.state.nodes["worker-1"].unschedulable
    evicted = {e.pod for e in sim.trace.of_type(ev.EvictionRequested) if e.code == 200}
    assert set(on_node) <= evicted
    sim.run(91)
    assert not sim.state.nodes["worker-1"].unschedulable


def test_kubelet_stop_and_runtime_failure() -> None:
    sim = small_cluster()
    play(sim, KubeletStop(node="worker-1", at=30.0, duration=20.0), RuntimeFailure(node="worker-2", at=30.0, duration=60.0))
    sim.run(31)
    assert not sim.kubelets["worker-1"].running
    assert not sim.kubelets["worker-2"].runtime_healthy
    assert sim.state.nodes["worker-2"].ready == "True"  # NotReady once the runtime has been down 30 s
    sim.run(71)
    assert sim.kubelets["worker-1"].running
    assert sim.state.nodes["worker-2"].ready == "False"
    sim.run(91)
    assert sim.kubelets["worker-2"].runtime_healthy
    sim.run(101)  # Ready at the renewal after the runtime status check that sees it back (at 90 s)
    assert sim.state.nodes["worker-2"].ready == "True"


def test_zone_outage_composes_with_a_node_failure_in_that_zone() -> None:
    sim = small_cluster(nodes=6, zones=3)
    zone_a = sorted(n.name for n in sim.state.node_list if n.zone == "zone-a")
    play(sim, ZoneOutage(zone="zone-a", at=30.0, duration=30.0), NodeFailure(node=zone_a[0], at=40.0, duration=40.0))
    sim.run(31)
    assert all(not sim.state.nodes[n].up for n in zone_a)
    assert all(sim.state.nodes[n].up for n in sim.state.nodes if n not in zone_a)
    sim.run(61)  # the zone is back, but the node failure still holds its first node down
    assert not sim.state.nodes[zone_a[0]].up and sim.state.nodes[zone_a[1]].up
    sim.run(81)
    assert sim.state.nodes[zone_a[0]].up


# --- the network ---------------------------------------------------------------------------------
def test_network_partitions_of_each_form_apply_and_heal() -> None:
    sim = small_cluster(nodes=3, zones=3)
    play(
        sim,
        NetworkPartition(node="worker-1", at=30.0, duration=10.0),
        NetworkPartition(zone="zone-b", at=50.0, duration=10.0),
        NetworkPartition(groups=[["worker-3"], [CONTROL_PLANE]], at=70.0, duration=10.0),
    )
    for t, node in ((35, "worker-1"), (55, "worker-2"), (75, "worker-3")):
        sim.run(t)
        assert not sim.network.api_reachable(node), (t, node)
        assert not sim.kubelets[node].connected
        sim.run(t + 10)
        assert sim.network.api_reachable(node) and sim.kubelets[node].connected
    kinds = [e.kind for e in sim.trace.of_type(ev.NetworkPartitioned)]
    assert kinds == ["node-cut-off", "zone-isolation", "split"]
    assert len(sim.trace.of_type(ev.NetworkHealed)) == 3 and sim.network.partitions == []


def test_split_with_selectors_places_each_node_once() -> None:
    sim = small_cluster(nodes=3, zones=1)
    nemesis = play(sim, NetworkPartition(groups=[[0, 0, 1], [0, CONTROL_PLANE]], at=30.0, duration=10.0))
    sim.run(31)
    (handle,) = sim.network.partitions
    assert len(handle.partition.groups[0]) == 2 and handle.partition.groups[1] == (CONTROL_PLANE,)
    target = [r for r in nemesis.records if r.label == "fault-target"]
    assert target and " | " in target[0].detail


def test_split_naming_a_missing_node_is_skipped() -> None:
    """A misspelt node in ``groups`` was dropped and the split applied anyway, cutting every real
    node (all "named nowhere") off from the control plane."""
    sim = small_cluster(nodes=3)
    nemesis = play(
        sim,
        NetworkPartition(groups=[["worker-99"], [CONTROL_PLANE]], at=30.0, duration=100.0),
        NetworkPartition(node="worker-99", at=30.0, duration=100.0),
    )
    sim.run(31)
    assert [r.detail for r in nemesis.skipped] == ["no node 'worker-99'"] * 2  # as node= says
    assert sim.network.partitions == [] and not sim.trace.of_type(ev.NetworkPartitioned)
    assert all(sim.network.api_reachable(node) for node in sim.state.nodes)


# --- pods and containers -------------------------------------------------------------------------
def test_single_crash_and_oom_kill() -> None:
    sim = small_cluster()
    pod = web_pods(sim)[0]
    nemesis = play(
        sim,
        ContainerCrash(pod=pod.key, at=30.0, exit_code=3),
        ContainerCrash(pod=pod.key, at=60.0, container="sidecar", oom=True),
    )
    sim.run(61)
    ended = [(e.container, e.exit_code, e.reason) for e in sim.trace.of_type(ev.ContainerTerminated) if e.pod == pod.key]
    assert ended == [("server", 3, "Error"), ("sidecar", 137, "OOMKilled")]
    assert labels(nemesis) == [(30.0, "fault-started"), (30.0, "fault-healed"), (60.0, "fault-started"), (60.0, "fault-healed")]


def test_crash_loop_crashes_after_every_restart_until_healed() -> None:
    sim = small_cluster()
    pod = web_pods(sim)[0]
    play(sim, ContainerCrash(pod=pod.key, at=30.0, duration=200.0, repeat=True, uptime=1.0))
    sim.run(230)
    during = [e for e in sim.trace.of_type(ev.ContainerTerminated) if e.pod == pod.key]
    assert len(during) >= 4  # back-off 0, 10, 20, 40, 80 s
    backoffs = [e.backoff for e in sim.trace.of_type(ev.ContainerWaiting) if e.pod == pod.key and e.reason == "CrashLoopBackOff"]
    assert backoffs == sorted(backoffs) and backoffs[-1] > backoffs[0]
    sim.run(800)
    assert len([e for e in sim.trace.of_type(ev.ContainerTerminated) if e.pod == pod.key]) == len(during)
    assert sim.state.pods_by_key[pod.key].containers[0].state == "running"


def test_pod_kill_graceful_and_forced() -> None:
    sim = small_cluster()
    first, second = web_pods(sim)[:2]
    play(sim, PodKill(pod=first.key, at=30.0), PodKill(pod=second.key, at=30.0, force=True))
    sim.run(30.5)
    requested = {e.pod: e.reason for e in sim.trace.of_type(ev.PodDeletionRequested)}
    assert requested.get(first.key) == "PodKill"
    deleted = {e.pod for e in sim.trace.of_type(ev.PodDeleted) if e.t == 30.0}
    assert second.key in deleted and first.key not in deleted
    sim.run(60)
    assert sim.workload_status("Deployment", "default", "web").ready == 3  # replaced


def test_readiness_failure_takes_the_pod_out_and_heals() -> None:
    sim = small_cluster()
    pod = web_pods(sim)[0]
    play(sim, ProbeFailure(pod=pod.key, at=30.0, duration=60.0))
    sim.run(50)
    assert not pod.ready
    sim.run(110)
    assert pod.ready


def test_readiness_flapping_toggles_ready() -> None:
    sim = small_cluster()
    pod = web_pods(sim)[0]
    play(sim, ProbeFailure(pod=pod.key, at=30.0, duration=120.0, flap=20.0))
    sim.run(170)
    changes = [e.ready for e in sim.trace.of_type(ev.PodReadyChanged) if e.pod == pod.key and e.t > 30.0]
    assert changes[:4] == [False, True, False, True]
    assert pod.ready


def test_probe_failure_without_that_probe_is_skipped() -> None:
    sim = small_cluster()
    pod = web_pods(sim)[0]
    nemesis = play(sim, ProbeFailure(pod=pod.key, container="sidecar", at=30.0, duration=10.0))
    sim.run(31)
    (skip,) = nemesis.skipped
    assert "has no readiness probe" in skip.detail


# --- traffic and the control plane -----------------------------------------------------------------
def test_traffic_spike_multiplies_the_rate_and_ends() -> None:
    sim = small_cluster(traffic=True)
    nemesis = play(sim, TrafficSpike(service=0, at=30.0, duration=20.0, multiplier=4.0))
    sim.run(60)
    (spike,) = sim.trace.of_type(ev.TrafficSpike)
    assert spike.service == "default/web" and spike.multiplier == 4.0
    assert sim.traffic.rate("default/web", spike.start + 1) == 120.0
    assert sim.traffic.rate("default/web", spike.start + 21) == 30.0
    healed = [r.t for r in nemesis.records if r.label == "fault-healed"]
    assert healed == [spike.start + 20.0]


def test_traffic_spike_is_cut_to_the_end_of_the_fault_phase() -> None:
    sim = small_cluster(traffic=True)
    Nemesis(sim, [TrafficSpike(service=0, at=30.0, duration=500.0)], end=100.0).run(quiet=10)
    (spike,) = sim.trace.of_type(ev.TrafficSpike)
    assert spike.start + spike.duration == 100.0


def test_scheduler_outage_leaves_new_pods_pending() -> None:
    sim = small_cluster()
    play(sim, ControlPlaneOutage(component="scheduler", at=30.0, duration=30.0))
    sim.run(31)
    sim.create_pod("late", "default", _template())
    sim.run(59)
    assert sim.state.pods_by_key["default/late"].node_name is None
    sim.run(61)
    assert sim.state.pods_by_key["default/late"].node_name is not None


def test_controller_manager_outage_stops_replacement_until_it_returns() -> None:
    sim = small_cluster()
    play(sim, ControlPlaneOutage(component="controller-manager", at=30.0, duration=60.0))
    sim.run(31)
    assert sim.replicasets.paused and sim.node_lifecycle.paused and sim.endpoints.paused
    victim = web_pods(sim)[0]
    sim.state.delete_pod(victim.uid, "test")
    sim.run(89)
    assert len(web_pods(sim)) == 2
    sim.run(100)
    assert not sim.replicasets.paused and len(web_pods(sim)) == 3


def test_api_server_outage_cuts_every_kubelet_off_and_pauses_the_control_plane() -> None:
    sim = small_cluster()
    play(sim, ControlPlaneOutage(component="api-server", at=30.0, duration=120.0))
    sim.run(31)
    assert all(not k.connected for k in sim.kubelets.values())
    assert not sim.scheduler_loop.running and sim.cluster_autoscaler.paused and sim.deployments.paused
    sim.run(149)
    assert all(n.ready == "True" for n in sim.state.node_list)  # nobody judged the silent nodes
    sim.run(151)
    assert all(k.connected for k in sim.kubelets.values())
    assert sim.scheduler_loop.running and not sim.cluster_autoscaler.paused and not sim.deployments.paused
    sim.run(260)
    assert all(n.ready == "True" for n in sim.state.node_list)  # leases renewed at once on reconnection


def test_overlapping_outages_resume_when_the_last_ends() -> None:
    sim = small_cluster()
    play(
        sim,
        ControlPlaneOutage(component="scheduler", at=30.0, duration=50.0),
        ControlPlaneOutage(component="api-server", at=40.0, duration=10.0),
    )
    sim.run(60)
    assert not sim.scheduler_loop.running and not sim.replicasets.paused
    sim.run(81)
    assert sim.scheduler_loop.running


# --- the cloud -------------------------------------------------------------------------------------
def test_cloud_knobs_take_the_strongest_active_value_and_restore_the_cloud_own() -> None:
    sim = small_cluster()
    cloud, lbs = sim.cloud, sim.load_balancers
    live = cloud.live_count()
    play(
        sim,
        SlowProvisioning(at=30.0, duration=40.0, multiplier=3.0),
        SlowProvisioning(at=40.0, duration=10.0, multiplier=5.0),
        ProvisioningFailure(at=30.0, duration=20.0, rate=0.5),
        QuotaExhaustion(at=30.0, duration=20.0, headroom=2),
        SlowLoadBalancer(at=30.0, duration=20.0, seconds=400.0),
    )
    sim.run(35)
    assert cloud.latency_multiplier == 3.0 and cloud.failure_rate == 0.5
    assert cloud.quota == live + 2 and lbs.registration_seconds == 400.0 and lbs.deregistration_seconds == 400.0
    sim.run(45)
    assert cloud.latency_multiplier == 5.0
    sim.run(55)
    assert cloud.latency_multiplier == 3.0
    assert cloud.failure_rate == 0.0 and cloud.quota is None and lbs.registration_seconds == 30.0
    sim.run(75)
    assert cloud.latency_multiplier == 1.0


# --- node failure marked out of service (non-graceful node shutdown) ----------------------------------
def _stateful_node() -> tuple:
    """A settled one-replica StatefulSet: (sim, the set, the node its pod runs on)."""
    from tests.model.controllers.workload_kit import make_sim, owned, statefulset

    sim = make_sim()
    ss = statefulset(sim, replicas=1)
    assert sim.run_until_stable(timeout=60)
    (pod,) = owned(sim, ss.uid)
    return sim, ss, pod.node_name


def _out_of_service(sim, node: str) -> bool:
    from podquake.model import constants as k8s

    return any(t.key == k8s.TAINT_OUT_OF_SERVICE for t in sim.state.nodes[node].taints)


def test_a_node_failure_marked_out_of_service_lets_a_stateful_pod_move() -> None:
    """Without an operator, a StatefulSet pod on a machine that never comes back is stuck for good (at
    most one pod per identity); with ``out_of_service`` the taint frees it and it runs elsewhere."""
    from tests.model.controllers.workload_kit import owned

    for operator in (None, 60.0):
        sim, ss, node = _stateful_node()
        start = sim.now
        play(sim, NodeFailure(node=node, at=start, out_of_service=operator), end=start + 300.0)
        sim.run(start + 59.0)
        assert not _out_of_service(sim, node)
        sim.run(start + 300.0)
        assert _out_of_service(sim, node) == (operator is not None)
        running = [p for p in owned(sim, ss.uid) if p.phase == "Running" and p.node_name != node]
        assert len(running) == (1 if operator is not None else 0), operator
        tainted = [e.t for e in sim.trace.of_type(ev.NodeTainted) if e.node == node and "out-of-service" in e.key]
        assert tainted == ([start + 60.0] if operator is not None else [])


def test_the_out_of_service_mark_goes_when_the_machine_boots_and_never_comes_after_it() -> None:
    sim, ss, node = _stateful_node()
    start = sim.now
    play(sim, NodeFailure(node=node, at=start, duration=100.0, out_of_service=30.0), end=start + 300.0)
    sim.run(start + 31.0)
    assert _out_of_service(sim, node) and not sim.state.nodes[node].up
    sim.run(start + 101.0)
    assert not _out_of_service(sim, node) and sim.state.nodes[node].up
    # An operator slower than the machine's reboot never marks it.
    sim, ss, node = _stateful_node()
    start = sim.now
    play(sim, NodeFailure(node=node, at=start, duration=20.0, out_of_service=30.0), end=start + 300.0)
    sim.run(start + 300.0)
    assert not any(e.node == node for e in sim.trace.of_type(ev.NodeTainted) if "out-of-service" in e.key)
