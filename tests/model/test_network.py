"""The cluster network: partitions as data, composition and healing, cached reachability checked
against networkx from scratch, and the split-brain of a node cut off from the control plane (its
kubelet goes silent, the control plane evicts its pods, its containers keep running). Times are
upstream's (model/constants.py); each assertion names the constant it checks."""

from __future__ import annotations

import dataclasses

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.cluster import ClusterSpec
from podquake.model.kubelet import Kubelet
from podquake.model.manifests import load_manifests
from podquake.model.network import (
    CLOUD_LB,
    CONTROL_PLANE,
    CORE,
    ClusterNetwork,
    NodeCutOff,
    Partition,
    PartitionHandle,
    Split,
    ZoneIsolation,
    zone_switch,
)
from podquake.model.objects import ContainerSpec, PodSpec, PodTemplate, Probe
from podquake.model.simulation import Simulation, Timing

START = Timing().container_start_seconds  # 2 s from binding to running
STOP = Timing().container_stop_seconds  # 1 s from a kill to the exit
GRACE = k8s.NODE_MONITOR_GRACE_PERIOD_SECONDS  # 50 s without a lease renewal, then Unknown
MONITOR = k8s.NODE_MONITOR_PERIOD_SECONDS  # 5 s between node lifecycle passes


def cluster(
    nodes: int = 6, zones: int = 3, seed: int = 1, scheduler: str | None = None
) -> tuple[Simulation, ClusterNetwork]:
    sim = Simulation(ClusterSpec.uniform(nodes=nodes, zones=zones), seed=seed, scheduler=scheduler)
    return sim, sim.network


def zone_of(sim: Simulation, node: str) -> str:
    return sim.state.nodes[node].zone


def connected_kubelets(sim: Simulation) -> dict[str, bool]:
    return {name: sim.kubelets[name].connected for name in sim.state.nodes}


# --- the graph -------------------------------------------------------------------------------------
def test_the_graph_has_the_control_plane_the_load_balancer_zone_switches_and_every_node():
    sim, network = cluster(nodes=6, zones=3)
    graph = network.graph
    assert graph.nodes["worker-1"] == {"kind": "node", "zone": "zone-a"}
    assert graph.nodes[CONTROL_PLANE]["kind"] == "control-plane" and graph.nodes[CLOUD_LB]["kind"] == "load-balancer"
    assert sorted(graph.neighbors(zone_switch("zone-b"))) == [CORE, "worker-2", "worker-5"]
    assert nx.is_connected(graph)
    assert network.endpoints() == [CONTROL_PLANE, CLOUD_LB] + [f"worker-{i}" for i in range(1, 7)]
    assert network.components() == [network.endpoints()]
    assert all(network.reachable(a, b) for a in network.endpoints() for b in network.endpoints())


def test_the_graph_follows_nodes_added_and_removed():
    sim, network = cluster(nodes=3, zones=1)
    node = dataclasses.replace(sim.state.nodes["worker-1"], name="worker-9", labels={k8s.LABEL_ZONE: "zone-z"}, pods={})
    sim.add_node(node)
    assert network.graph.nodes["worker-9"]["zone"] == "zone-z"
    assert network.graph.has_edge("worker-9", zone_switch("zone-z"))
    assert network.graph.has_edge(zone_switch("zone-z"), CORE)
    assert network.reachable("worker-9", CONTROL_PLANE)
    sim.state.remove_node("worker-9")
    assert "worker-9" not in network.graph and "worker-9" not in network.endpoints()
    with pytest.raises(ValueError, match="'worker-9' is not an endpoint"):
        network.reachable("worker-9", CONTROL_PLANE)


# --- each partition kind ---------------------------------------------------------------------------
def test_a_node_cut_off_from_the_control_plane_still_reaches_everything_else():
    sim, network = cluster()
    handle = network.apply(NodeCutOff(node="worker-2"))
    assert not network.reachable("worker-2", CONTROL_PLANE) and not network.reachable(CONTROL_PLANE, "worker-2")
    assert network.reachable("worker-2", "worker-1") and network.reachable("worker-2", CLOUD_LB)
    assert all(network.reachable(f"worker-{i}", CONTROL_PLANE) for i in (1, 3, 4, 5, 6))
    assert connected_kubelets(sim)["worker-2"] is False
    assert sum(connected_kubelets(sim).values()) == 5
    assert network.heal(handle) and not network.heal(handle)
    assert network.reachable("worker-2", CONTROL_PLANE) and all(connected_kubelets(sim).values())


def test_an_isolated_zone_reaches_only_itself_and_takes_in_nodes_that_join_it_later():
    sim, network = cluster(nodes=6, zones=3)
    handle = network.apply(ZoneIsolation(zone="zone-a"))  # worker-1 and worker-4
    assert not network.graph.has_edge(zone_switch("zone-a"), CORE)
    assert network.reachable("worker-1", "worker-4")
    for outside in (CONTROL_PLANE, CLOUD_LB, "worker-2", "worker-3"):
        assert not network.reachable("worker-1", outside)
    assert network.reachable("worker-2", "worker-6") and network.reachable("worker-2", CONTROL_PLANE)
    assert [name for name, up in connected_kubelets(sim).items() if not up] == ["worker-1", "worker-4"]
    sim.add_node(dataclasses.replace(sim.state.nodes["worker-1"], name="worker-7", pods={}))  # in zone-a
    assert network.reachable("worker-7", "worker-1") and not network.reachable("worker-7", CONTROL_PLANE)
    assert sim.kubelets["worker-7"].connected is False
    network.heal(handle)
    assert network.graph.has_edge(zone_switch("zone-a"), CORE)
    assert network.reachable("worker-7", CONTROL_PLANE) and all(connected_kubelets(sim).values())


def test_a_split_separates_its_groups_from_each_other_and_from_the_rest():
    sim, network = cluster(nodes=6, zones=3)
    network.apply(Split(groups=(("worker-1", "worker-2"), ("worker-3", CONTROL_PLANE))))
    assert network.reachable("worker-1", "worker-2") and network.reachable("worker-3", CONTROL_PLANE)
    assert network.reachable("worker-4", CLOUD_LB) and network.reachable("worker-4", "worker-6")  # the rest
    assert not network.reachable("worker-1", "worker-3") and not network.reachable("worker-1", "worker-4")
    assert not network.reachable("worker-4", CONTROL_PLANE)
    assert [name for name, up in connected_kubelets(sim).items() if up] == ["worker-3"]
    assert network.components() == [
        [CONTROL_PLANE, "worker-3"],
        [CLOUD_LB, "worker-4", "worker-5", "worker-6"],
        ["worker-1", "worker-2"],
    ]


def test_a_split_of_one_node_isolates_it_and_a_split_of_the_control_plane_cuts_every_kubelet():
    sim, network = cluster(nodes=4, zones=2)
    alone = network.apply(Split(groups=(("worker-3",),)))
    assert not any(network.reachable("worker-3", other) for other in network.endpoints() if other != "worker-3")
    network.heal(alone)
    network.apply(Split(groups=((CONTROL_PLANE,),)))
    assert not any(connected_kubelets(sim).values())
    assert network.reachable("worker-1", "worker-4") and network.reachable("worker-1", CLOUD_LB)


# --- composition and healing -----------------------------------------------------------------------
def test_overlapping_partitions_compose_and_heal_in_any_order():
    sim, network = cluster(nodes=6, zones=3)
    zone = network.apply(ZoneIsolation(zone="zone-a"))  # worker-1, worker-4
    split = network.apply(Split(groups=(("worker-1", "worker-2"),)))
    cut = network.apply(NodeCutOff(node="worker-3"))
    assert not network.reachable("worker-1", "worker-2")  # the split joins them; the zone cut does not
    assert not network.reachable("worker-1", "worker-4")  # the split parts them inside their zone
    assert not network.reachable("worker-2", "worker-3")  # worker-2 is with worker-1 only
    assert network.reachable("worker-3", "worker-5") and not network.reachable("worker-3", CONTROL_PLANE)
    assert [name for name, up in connected_kubelets(sim).items() if up] == ["worker-5", "worker-6"]
    network.heal(zone)  # the split still holds
    assert network.reachable("worker-1", "worker-2") and not network.reachable("worker-1", "worker-4")
    assert network.reachable("worker-4", CONTROL_PLANE)
    assert [name for name, up in connected_kubelets(sim).items() if not up] == ["worker-1", "worker-2", "worker-3"]
    network.heal(split)
    assert network.reachable("worker-1", "worker-4") and network.reachable("worker-1", CONTROL_PLANE)
    assert [name for name, up in connected_kubelets(sim).items() if not up] == ["worker-3"]
    assert network.partitions == [cut]
    assert network.heal_all() == 1 and network.partitions == []
    assert all(connected_kubelets(sim).values())


def test_the_same_partition_applied_twice_needs_two_heals():
    sim, network = cluster(nodes=3, zones=3)
    for partition in (ZoneIsolation(zone="zone-b"), NodeCutOff(node="worker-2"), Split(groups=(("worker-2",),))):
        first, second = network.apply(partition), network.apply(partition)
        assert first != second and first.partition == second.partition
        network.heal(first)
        assert not network.reachable("worker-2", CONTROL_PLANE), partition
        network.heal(second)
        assert network.reachable("worker-2", CONTROL_PLANE), partition
        assert sim.kubelets["worker-2"].connected


def test_partitions_are_recorded_in_the_trace_through_the_store():
    sim, network = cluster(nodes=3, zones=3)
    sim.run(5)
    zone = network.apply(ZoneIsolation(zone="zone-c"))
    sim.run(7)
    cut = network.apply(NodeCutOff(node="worker-1"))
    network.heal(zone)
    events = [e for e in sim.trace if isinstance(e, (ev.NetworkPartitioned, ev.NetworkHealed))]
    assert events == [
        ev.NetworkPartitioned(5.0, zone.id, "zone-isolation", "zone zone-c isolated"),
        ev.NetworkPartitioned(7.0, cut.id, "node-cut-off", "worker-1 cut off from the control plane"),
        ev.NetworkHealed(7.0, zone.id, "zone-isolation", "zone zone-c isolated"),
    ]
    assert ev.Trace.from_jsonl(sim.trace.to_jsonl()).events == sim.trace.events


def test_subscribers_hear_each_control_plane_path_that_opens_or_closes():
    sim, network = cluster(nodes=6, zones=3)
    heard: list[tuple[str, bool]] = []
    network.subscribe(lambda node, reachable: heard.append((node, reachable)))
    zone = network.apply(ZoneIsolation(zone="zone-b"))
    network.apply(NodeCutOff(node="worker-2"))  # already cut by its zone: nothing new
    network.heal(zone)
    network.apply(Split(groups=(("worker-2", "worker-3"),)))  # worker-2 is cut off already
    network.apply(ZoneIsolation(zone="zone-c"))  # worker-3 (cut by the split already) and worker-6
    assert heard == [
        ("worker-2", False),
        ("worker-5", False),
        ("worker-5", True),
        ("worker-3", False),
        ("worker-6", False),
    ]


def test_bad_partitions_are_refused_with_the_fix():
    sim, network = cluster(nodes=3, zones=3)
    with pytest.raises(ValueError, match="no node named 'worker-9'"):
        network.apply(NodeCutOff(node="worker-9"))
    with pytest.raises(ValueError, match="no zone 'zone-x'; the zones are zone-a, zone-b, zone-c"):
        network.apply(ZoneIsolation(zone="zone-x"))
    with pytest.raises(ValueError, match="'db' is not an endpoint"):
        network.apply(Split(groups=(("worker-1", "db"),)))
    with pytest.raises(ValueError, match="in Split groups 0 and 1"):
        Split(groups=(("worker-1",), ("worker-1",)))
    with pytest.raises(ValueError, match="no empty group"):
        Split(groups=((),))
    with pytest.raises(ValueError, match="sequence of endpoint names"):
        Split(groups=("worker-1", "worker-2"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must name a worker node"):
        NodeCutOff(node=CONTROL_PLANE)
    with pytest.raises(ValueError, match="non-empty string"):
        ZoneIsolation(zone="")
    with pytest.raises(TypeError, match="not a partition"):
        network.apply("worker-1")  # type: ignore[arg-type]
    assert network.partitions == [] and not any(isinstance(e, ev.NetworkPartitioned) for e in sim.trace)
    assert repr(Split(groups=[["worker-1"], [CLOUD_LB]])) == "Split(groups=(('worker-1',), ('cloud-lb',)))"
    assert "... 2 more" in Split(groups=(tuple(f"worker-{i}" for i in range(10)),)).description


# --- reachability against networkx from scratch ----------------------------------------------------
def oracle(sim: Simulation, active: list[Partition]):
    """Reachability computed from the partition values alone, with networkx from scratch."""
    graph = nx.Graph()
    graph.add_edges_from([(CONTROL_PLANE, CORE), (CLOUD_LB, CORE)])
    isolated = {p.zone for p in active if isinstance(p, ZoneIsolation)}
    for node in sim.state.node_list:
        graph.add_edge(node.name, zone_switch(node.zone))
        if node.zone not in isolated:
            graph.add_edge(zone_switch(node.zone), CORE)
    component = {name: i for i, members in enumerate(nx.connected_components(graph)) for name in members}
    splits = [{name: i for i, g in enumerate(p.groups) for name in g} for p in active if isinstance(p, Split)]
    cuts = [{p.node, CONTROL_PLANE} for p in active if isinstance(p, NodeCutOff)]

    def reachable(a: str, b: str) -> bool:
        return (
            component[a] == component[b]
            and all(group.get(a, -1) == group.get(b, -1) for group in splits)
            and {a, b} not in cuts
        )

    return reachable


NAMES = [f"worker-{i}" for i in range(1, 9)]
ENDPOINT_NAMES = [*NAMES, CONTROL_PLANE, CLOUD_LB]
PARTITIONS = st.one_of(
    st.builds(NodeCutOff, node=st.sampled_from(NAMES)),
    st.builds(ZoneIsolation, zone=st.sampled_from(["zone-a", "zone-b", "zone-c"])),
    st.lists(st.sampled_from(ENDPOINT_NAMES), min_size=1, max_size=6, unique=True).flatmap(
        lambda names: st.integers(1, len(names)).map(
            lambda k: Split(groups=tuple(tuple(names[i::k]) for i in range(k)))
        )
    ),
)
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("apply"), PARTITIONS),
        st.tuples(st.just("heal"), st.integers(0, 10)),
        st.tuples(st.just("add"), st.sampled_from(NAMES)),
        st.tuples(st.just("remove"), st.sampled_from(NAMES)),
    ),
    max_size=14,
)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(steps=STEPS)
def test_cached_reachability_and_every_kubelet_agree_with_networkx_from_scratch(steps):
    sim, network = cluster(nodes=5, zones=3)
    template = sim.state.nodes["worker-1"]
    handles: list[PartitionHandle] = []
    for op, arg in steps:
        if op == "apply":
            known = set(network.endpoints())
            names = [n for g in arg.groups for n in g] if isinstance(arg, Split) else [getattr(arg, "node", "worker-1")]
            if all(n in known for n in names):
                handles.append(network.apply(arg))
        elif op == "heal" and handles:
            network.heal(handles.pop(arg % len(handles)))
        elif op == "add" and arg not in sim.state.nodes:
            zone = "zone-" + "abc"[int(arg.split("-")[1]) % 3]
            sim.add_node(dataclasses.replace(template, name=arg, labels={k8s.LABEL_ZONE: zone}, pods={}))
        elif op == "remove" and arg in sim.state.nodes and len(sim.state.nodes) > 1:
            sim.state.remove_node(arg)
        active = [h.partition for h in network.partitions]
        expected = oracle(sim, active)
        endpoints = network.endpoints()
        assert endpoints == [CONTROL_PLANE, CLOUD_LB, *(n.name for n in sim.state.node_list)]
        for a in endpoints:
            for b in endpoints:
                assert network.reachable(a, b) == expected(a, b), (a, b, active)
        for node in sim.state.nodes:
            assert sim.kubelets[node].connected == expected(node, CONTROL_PLANE), (node, active)
    network.heal_all()
    assert all(connected_kubelets(sim).values()) and len(network.components()) == 1


# --- the split-brain of a node cut off from the control plane --------------------------------------
WEB = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx, resources: {requests: {cpu: 100m}}}]}
"""


def web_on_worker_1(seed: int = 1) -> tuple[Simulation, ClusterNetwork, list[str]]:
    """Three nodes in one zone; first-fit puts both web pods on worker-1; 30 s of steady state."""
    sim, network = cluster(nodes=3, zones=1, seed=seed, scheduler="first-fit")
    sim.apply(load_manifests(text=WEB))
    sim.run(30)
    pods = [pod.key for pod in sim.state.nodes["worker-1"].pods.values()]
    assert len(pods) == 2 and sim.workload_status("Deployment", "default", "web").converged
    return sim, network, pods


def alive(kubelet: Kubelet, key: str) -> bool:
    """What the node's runtime runs (the truth, which the API may not know)."""
    run = kubelet.pods.get(key)
    return run is not None and all(c.alive for c in run.containers)


def first(sim: Simulation, event_type: type[ev.Event], **fields: object) -> float:
    return next(e.t for e in sim.trace.of_type(event_type) if all(getattr(e, f) == v for f, v in fields.items()))


def test_a_node_cut_off_goes_unknown_its_pods_are_evicted_and_its_containers_keep_running():
    sim, network, pods = web_on_worker_1()
    node = sim.state.nodes["worker-1"]
    kubelet = sim.kubelets["worker-1"]
    handle = network.apply(NodeCutOff(node="worker-1"))
    renewed = sim.state.last_renewal(node.name)
    sim.run(renewed + GRACE + 2 * MONITOR + k8s.DEFAULT_TOLERATION_SECONDS + 30)
    assert sim.state.last_renewal(node.name) == renewed and node.up  # no renewal, though the machine runs
    unknown = first(sim, ev.NodeReadyChanged, node="worker-1", status="Unknown")
    assert GRACE < unknown - renewed <= GRACE + 2 * MONITOR  # the grace period, seen at a monitor pass
    tainted = first(sim, ev.NodeTainted, node="worker-1", key=k8s.TAINT_UNREACHABLE, effect="NoExecute")
    assert tainted - unknown <= MONITOR
    for key in pods:  # evicted in the API 300 s (DefaultTolerationSeconds) after the NoExecute taint ...
        assert first(sim, ev.PodDeletionRequested, pod=key) == tainted + k8s.DEFAULT_TOLERATION_SECONDS
        pod = sim.state.pods_by_key[key]
        assert pod.deletion_timestamp is not None and pod.phase == "Running" and not pod.ready  # Terminating
        assert alive(kubelet, key)  # ... while the node, which never heard of it, keeps them running
    status = sim.workload_status("Deployment", "default", "web")
    assert status.ready == 2 and all(p.node_name != "worker-1" for p in sim.state.pods.values() if p.active)

    healed_at = sim.now
    network.heal(handle)
    assert sim.state.last_renewal(node.name) == renewed and node.ready == "Unknown"  # nothing got through yet
    sim.run(healed_at + 10)
    for key in pods:  # the kubelet learns of the deletions and stops the containers
        assert first(sim, ev.PodDeleted, pod=key) == healed_at + STOP
        assert not alive(kubelet, key) and key not in sim.state.pods_by_key
    sim.run(healed_at + 10 + 2 * MONITOR)
    ready = first(sim, ev.NodeReadyChanged, node="worker-1", status="True")  # the next node status update
    assert healed_at < ready <= healed_at + k8s.NODE_STATUS_UPDATE_FREQUENCY_SECONDS
    assert round(ready - renewed, 6) % 10 == 0  # on the kubelet's phase
    untainted = first(sim, ev.NodeUntainted, node="worker-1", key=k8s.TAINT_UNREACHABLE, effect="NoExecute")
    assert ready < untainted <= ready + MONITOR  # the controller lifts the taint at its next pass
    assert sim.is_stable() and sim.workload_status("Deployment", "default", "web").converged


def test_a_cut_off_kubelet_restarts_crashed_containers_locally_and_reports_them_on_reconnection():
    sim, network, pods = web_on_worker_1()
    key = pods[0]
    kubelet = sim.kubelets["worker-1"]
    handle = network.apply(NodeCutOff(node="worker-1"))
    cut_at = sim.now
    assert kubelet.crash_container(key, exit_code=2)
    assert alive(kubelet, key)  # the first restart is immediate (no back-off yet)
    sim.run_for(1)
    assert kubelet.crash_container(key, exit_code=3)
    sim.run_for(k8s.CRASH_LOOP_INITIAL_BACKOFF_SECONDS - 0.5)
    assert not alive(kubelet, key)  # CrashLoopBackOff: 10 s after it finished
    sim.run_for(1)
    assert alive(kubelet, key)
    status = sim.state.pods_by_key[key].containers[0]
    assert (status.state, status.restart_count, status.last_exit_code) == ("running", 0, None)  # the API knows nothing
    assert not [e for e in sim.trace.of_type(ev.ContainerTerminated) if e.t >= cut_at]

    sim.run_for(5)
    healed_at = sim.now
    network.heal(handle)
    sim.run_for(1)
    status = sim.state.pods_by_key[key].containers[0]
    assert (status.state, status.restart_count, status.last_exit_code) == ("running", 2, 3)
    terminated = [(e.t, e.exit_code) for e in sim.trace.of_type(ev.ContainerTerminated) if e.pod == key]
    assert terminated == [(healed_at, 2), (healed_at, 3)]  # reported, in order, on reconnection
    waiting = [(e.reason, e.backoff) for e in sim.trace.of_type(ev.ContainerWaiting) if (e.pod, e.t) == (key, healed_at)]
    assert waiting == [("ContainerCreating", 0.0), ("CrashLoopBackOff", k8s.CRASH_LOOP_INITIAL_BACKOFF_SECONDS)]
    assert sim.state.pods_by_key[key].ready and alive(kubelet, key)


def test_a_restart_in_back_off_at_the_cut_still_happens_locally_and_a_stopping_pod_is_not_restarted():
    sim, network, pods = web_on_worker_1()
    crashing, stopping = pods
    kubelet = sim.kubelets["worker-1"]
    kubelet.crash_container(crashing)  # restarted at once, reported
    sim.run_for(1)
    kubelet.crash_container(crashing)  # CrashLoopBackOff: back in 10 s
    crashed_at = sim.now
    sim.state.request_pod_deletion(sim.state.pods_by_key[stopping].uid, "ScaleDown")  # the kubelet begins
    handle = network.apply(NodeCutOff(node="worker-1"))  # ... and is cut off before it is done
    kubelet.crash_container(stopping)
    sim.run(crashed_at + k8s.CRASH_LOOP_INITIAL_BACKOFF_SECONDS + 0.5)
    assert alive(kubelet, crashing)  # the restart decided before the cut
    assert not alive(kubelet, stopping)  # it was being stopped: no restart
    assert sim.state.pods_by_key[crashing].containers[0].state == "waiting"  # the API saw only the decision
    network.heal(handle)
    sim.run_for(STOP + 0.5)
    assert sim.state.pods_by_key[crashing].containers[0].state == "running"
    assert stopping not in sim.state.pods_by_key


def test_a_cut_off_kubelet_writes_nothing_to_the_api_even_when_a_startup_probe_passes():
    sim, network = cluster(nodes=1, zones=1, scheduler="first-fit")
    spec = PodSpec(containers=(ContainerSpec("web", startup_probe=Probe(initial_delay_seconds=3, period_seconds=5)),))
    sim.create_pod("slow", "default", PodTemplate((("app", "slow"),), spec))
    sim.run(20)
    kubelet = sim.kubelets["worker-1"]
    handle = network.apply(NodeCutOff(node="worker-1"))
    sim.run_for(GRACE + 2 * MONITOR)  # the node is Unknown and the control plane marked the pod not Ready
    assert not sim.state.pods_by_key["default/slow"].ready
    crashed_at = sim.now
    kubelet.crash_container("default/slow")
    sim.run_for(30)  # restarted locally; its startup probe passed at restart + 3 s
    kubelet_events = (ev.ContainerStarted, ev.ContainerTerminated, ev.ContainerWaiting, ev.PodPhaseChanged)
    kubelet_events += (ev.PodReadyChanged,)
    assert [e for e in sim.trace.of_type(*kubelet_events) if e.t >= crashed_at] == []
    assert alive(kubelet, "default/slow") and kubelet.pods["default/slow"].containers[0].started
    network.heal(handle)
    sim.run_for(k8s.STATUS_MANAGER_SYNC_SECONDS + 0.5)  # Ready again at the status manager's next full sync
    assert sim.state.pods_by_key["default/slow"].ready


def test_a_cut_off_kubelet_sees_no_new_bindings_or_deletions_until_it_is_back():
    sim, network, pods = web_on_worker_1()
    kubelet = sim.kubelets["worker-1"]
    handle = network.apply(NodeCutOff(node="worker-1"))
    sim.state.request_pod_deletion(sim.state.pods_by_key[pods[0]].uid, "ScaleDown")
    spec = PodSpec(containers=(ContainerSpec("late"),))
    sim.create_pod("late", "default", PodTemplate((("app", "late"),), spec))  # first-fit: still worker-1
    sim.run_for(20)  # within the grace period: the scheduler still binds there
    assert sim.state.pods_by_key["default/late"].node_name == "worker-1"
    assert sim.state.pods_by_key["default/late"].phase == "Pending" and "default/late" not in kubelet.pods
    assert alive(kubelet, pods[0]) and pods[0] in sim.state.pods_by_key
    healed_at = sim.now
    network.heal(handle)
    sim.run_for(START + 1)
    assert first(sim, ev.PodDeleted, pod=pods[0]) == healed_at + STOP
    assert first(sim, ev.ContainerStarted, pod="default/late") == healed_at + START


def test_a_cut_off_kubelet_leaves_a_never_restarting_container_dead_and_kills_on_liveness():
    sim, network = cluster(nodes=1, zones=1, scheduler="first-fit")
    once = PodSpec(containers=(ContainerSpec("job"),), restart_policy="Never")
    probed = PodSpec(containers=(ContainerSpec("web", liveness_probe=Probe(period_seconds=5, failure_threshold=2)),))
    sim.create_pod("once", "default", PodTemplate((("app", "once"),), once))
    sim.create_pod("probed", "default", PodTemplate((("app", "probed"),), probed))
    sim.run(10)
    kubelet = sim.kubelets["worker-1"]
    handle = network.apply(NodeCutOff(node="worker-1"))
    assert kubelet.exit_container("default/once", exit_code=1)
    assert kubelet.fail_probe("default/probed", "web", "liveness")
    sim.run(40)
    assert not alive(kubelet, "default/once")  # restartPolicy Never: stays dead
    restarts = [e for e in sim.trace.of_type(ev.ContainerStarted) if e.pod == "default/probed" and e.t > 10]
    assert restarts == [] and alive(kubelet, "default/probed")  # killed and restarted locally, unreported
    network.heal(handle)
    sim.run_for(1)
    assert sim.state.pods_by_key["default/once"].phase == "Failed"
    probed_status = sim.state.pods_by_key["default/probed"].containers[0]
    assert probed_status.restart_count >= 1 and probed_status.last_exit_code == k8s.SIGTERM_EXIT_CODE


def test_a_machine_that_reboots_while_cut_off_stays_silent_until_the_network_heals():
    sim, network, pods = web_on_worker_1()
    kubelet = sim.kubelets["worker-1"]
    node = sim.state.nodes["worker-1"]
    handle = network.apply(NodeCutOff(node="worker-1"))
    renewed = sim.state.last_renewal(node.name)
    kubelet.power_off()
    sim.run_for(5)
    kubelet.power_on()  # back up, but it cannot reach the API server: no lease, no pods
    sim.run_for(30)
    assert sim.state.last_renewal(node.name) == renewed and kubelet.pods == {}
    network.heal(handle)
    sim.run_for(START + 1)
    for key in pods:  # the API learns the containers vanished; they start again
        reasons = [e.reason for e in sim.trace.of_type(ev.ContainerTerminated) if e.pod == key]
        assert reasons == ["ContainerStatusUnknown"] and alive(kubelet, key)


def test_a_kubelet_restarted_while_cut_off_goes_back_to_local_restarts():
    sim, network, pods = web_on_worker_1()
    kubelet = sim.kubelets["worker-1"]
    network.apply(NodeCutOff(node="worker-1"))
    kubelet.stop_kubelet()
    kubelet.crash_container(pods[0])
    sim.run_for(20)
    assert not alive(kubelet, pods[0])  # nobody restarts it while the kubelet is stopped
    kubelet.start_kubelet()
    assert alive(kubelet, pods[0]) and not kubelet.beating  # restarted locally; still no lease
    assert sim.state.pods_by_key[pods[0]].containers[0].restart_count == 0


def test_a_whole_cluster_cut_from_its_control_plane_is_not_evicted():
    sim, network, pods = web_on_worker_1()
    network.apply(Split(groups=((CONTROL_PLANE,),)))
    sim.run_for(GRACE + k8s.DEFAULT_TOLERATION_SECONDS + 60)
    assert all(node.ready == "Unknown" for node in sim.state.nodes.values())
    assert not sim.trace.of_type(ev.PodDeletionRequested)  # every zone dark: the controller blames itself
    assert all(alive(sim.kubelets["worker-1"], key) for key in pods)


# --- random schedules and determinism ---------------------------------------------------------------
def books_balance(sim: Simulation) -> None:
    """A kubelet that can reach the API has told it everything: what the API shows is what runs."""
    for name, kubelet in sim.kubelets.items():
        if name not in sim.state.nodes or not kubelet.acting:
            continue
        assert kubelet._outbox == []  # noqa: SLF001 - the unreported log must be flushed
        for run in kubelet.pods.values():
            for c in run.containers:
                assert c.unreported is None
                assert (run.pod.containers[c.index].state == "running") is c.alive, run.pod.key


CHAOS_APP = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  replicas: 6
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - {name: web, image: web, livenessProbe: {httpGet: {path: /, port: 80}, periodSeconds: 5, failureThreshold: 2}}
      - {name: side, image: side}
"""
CHAOS = st.lists(
    st.tuples(st.sampled_from([1.0, 5.0, 20.0, 70.0]), st.integers(0, 7), st.integers(0, 10**6)), max_size=30
)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(steps=CHAOS)
def test_random_cuts_crashes_and_reboots_keep_the_books_straight_and_heal(steps):
    sim, network = cluster(nodes=3, zones=3, seed=4, scheduler="round-robin")
    sim.apply(load_manifests(text=CHAOS_APP))
    sim.run(5)
    handles: list[PartitionHandle] = []
    for delay, op, pick in steps:
        sim.run_for(delay)
        node = f"worker-{pick % 3 + 1}"
        kubelet = sim.kubelets[node]
        running = sorted((key, name) for name, k in sim.kubelets.items() for key in k.pods)
        key = None
        if running and op in (3, 4, 7):  # a pod on any node, and the kubelet that runs it
            key, name = running[pick % len(running)]
            kubelet = sim.kubelets[name]
        if op == 0:
            handles.append(network.apply(NodeCutOff(node=node)))
        elif op == 1:
            handles.append(network.apply(ZoneIsolation(zone=zone_of(sim, node))))
        elif op == 2 and handles:
            network.heal(handles.pop(pick % len(handles)))
        elif op == 3 and key is not None:
            kubelet.crash_container(key, pick % 2, exit_code=pick % 3)
        elif op == 4 and key is not None:
            kubelet.fail_probe(key, "web", "liveness") or kubelet.recover_probe(key, "web", "liveness")
        elif op == 5:
            kubelet.power_off() or kubelet.power_on()
        elif op == 6:
            kubelet.stop_kubelet() or kubelet.start_kubelet()
        elif op == 7 and key is not None and key in sim.state.pods_by_key:
            sim.state.request_pod_deletion(sim.state.pods_by_key[key].uid, "Chaos")
        books_balance(sim)
    network.heal_all()
    for kubelet in sim.kubelets.values():
        kubelet.power_on(), kubelet.start_kubelet()
        for key in list(kubelet.pods):
            kubelet.recover_probe(key, "web", "liveness")
    sim.run_for(k8s.CRASH_LOOP_MAX_BACKOFF_SECONDS + 60)
    books_balance(sim)
    assert all(node.ready == "True" for node in sim.state.nodes.values())
    for pod in sim.state.pods.values():  # every pod runs again (restartPolicy Always), none hangs
        assert pod.deletion_timestamp is None and pod.phase == "Running" and pod.ready, pod.key
    assert sim.workload_status("Deployment", "default", "app").converged


def split_brain_trace(seed: int) -> str:
    sim, network, pods = web_on_worker_1(seed=seed)
    cut = network.apply(NodeCutOff(node="worker-1"))
    zone = network.apply(Split(groups=(("worker-2", CLOUD_LB),)))
    sim.run_for(100)
    sim.kubelets["worker-1"].crash_container(pods[0])
    network.heal(zone)
    sim.run_for(300)
    network.heal(cut)
    sim.run_for(60)
    return sim.trace.to_jsonl()


def test_the_trace_of_a_partitioned_run_is_byte_identical_for_the_same_seed():
    once = split_brain_trace(seed=11)
    assert once == split_brain_trace(seed=11)
    assert '"type":"NetworkPartitioned"' in once and '"type":"NetworkHealed"' in once
