"""Cloud load balancers: node targets with registration delays, GCE-default health checks
(8 s interval, healthy after 1, unhealthy after 3), externalTrafficPolicy Local, fail open."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from pathlib import Path

import pytest

from podquake.model import constants as k8s
from podquake.model import load_manifests
from podquake.model import trace as ev
from podquake.model.cluster import ClusterSpec, NodePool
from podquake.model.endpoints import Endpoint
from podquake.model.loadbalancer import LoadBalancerController, local_ready_endpoints
from podquake.model.network import NodeCutOff
from podquake.model.objects import ContainerSpec, Node, Pod, PodSpec, PodTemplate, Probe
from podquake.model.proxy import NO_LOCAL_ENDPOINTS
from podquake.model.quantity import Resources
from podquake.model.resources_api import Service, ServicePort
from podquake.model.selectors import Taint
from podquake.model.simulation import Simulation, Timing
from tests.model.controllers.workload_kit import LegalFirstFit, replicaset

INTERVAL = k8s.LB_HEALTH_CHECK_INTERVAL_SECONDS  # 8 s
UNHEALTHY_AFTER = k8s.LB_UNHEALTHY_THRESHOLD * INTERVAL  # the 3rd failing probe: within 24 s
NODES = ["worker-1", "worker-2", "worker-3"]


def big_pod_template(app: str = "web", readiness_delay: float | None = None) -> PodTemplate:
    """A pod that takes 3 of a node's 4 CPUs, so a ReplicaSet puts one per node."""
    probe = Probe(initial_delay_seconds=readiness_delay) if readiness_delay is not None else None
    container = ContainerSpec("main", "nginx", Resources(3000, 2**28), cpu_requested=True, memory_requested=True, readiness_probe=probe)
    return PodTemplate((("app", app),), PodSpec(containers=(container,)))


def make(
    policy: str = "Cluster", pools: tuple[NodePool, ...] | None = None, timing: Timing | None = None, **service_args: object
) -> tuple[Simulation, LoadBalancerController]:
    spec = ClusterSpec(pools=pools) if pools else ClusterSpec.uniform(nodes=3, zones=1)
    sim = Simulation(spec, seed=11, scheduler=LegalFirstFit(), timing=timing)
    lbs = sim.load_balancers
    service = Service(
        "web", "default", type="LoadBalancer", selector=(("app", "web"),), ports=(ServicePort(80, 8080),),
        external_traffic_policy=policy, **service_args,  # type: ignore[arg-type]
    )  # fmt: skip
    sim.state.put_object("Service", "default", "web", service)
    return sim, lbs


def health_events(sim: Simulation, node: str) -> list[ev.LoadBalancerTargetHealth]:
    return [e for e in sim.trace.of_type(ev.LoadBalancerTargetHealth) if e.node == node]  # type: ignore[misc]


def test_only_loadbalancer_services_get_one():
    sim, lbs = make()
    sim.state.put_object("Service", "default", "internal", Service("internal", "default", selector=(("app", "x"),)))
    assert list(lbs.balancers) == ["default/web"]
    assert [e.state for e in sim.trace.of_type(ev.LoadBalancerChanged)] == ["created"]  # type: ignore[attr-defined]


def test_nodes_register_after_the_registration_delay_and_serve_once_a_probe_passes():
    sim, lbs = make()
    lb = lbs.balancer("default", "web")
    assert lb is not None
    sim.run(29.9)
    assert lb.registered_targets() == [] and lb.pick_target() is None
    sim.run(30.001)
    assert lb.registered_targets() == NODES
    assert lb.serving_targets() == [] or lb.serving_targets() == NODES  # initial state until the first probe
    sim.run(30.0 + INTERVAL + 0.001)
    assert lb.serving_targets() == NODES and lb.healthy_targets() == NODES
    assert all(30.0 <= health_events(sim, n)[0].t <= 30.0 + INTERVAL for n in NODES)


def test_picks_are_uniform_over_the_serving_targets_and_seeded():
    picks = []
    for _ in range(2):
        sim, lbs = make()
        sim.run(60.0)
        lb = lbs.balancer("default", "web")
        picks.append([lb.pick_target() for _ in range(3000)])  # type: ignore[union-attr]
    assert picks[0] == picks[1]
    counts = Counter(picks[0])
    assert set(counts) == set(NODES) and all(850 <= c <= 1150 for c in counts.values())


def test_client_ip_affinity_keeps_a_client_on_one_node():
    sim, lbs = make(session_affinity="ClientIP", session_affinity_timeout_seconds=10800)
    sim.run(60.0)
    lb = lbs.balancer("default", "web")
    assert lb is not None
    assert len({lb.pick_target("10.0.0.7") for _ in range(50)}) == 1
    assert len({lb.pick_target(f"10.0.0.{i}") for i in range(60)}) == 3


def test_local_policy_only_passes_nodes_with_a_local_ready_endpoint():
    sim, lbs = make(policy="Local")
    replicaset(sim, replicas=2, tmpl=big_pod_template())
    sim.run(120.0)
    lb = lbs.balancer("default", "web")
    assert lb is not None
    assert lb.registered_targets() == NODES
    assert lb.serving_targets() == ["worker-1", "worker-2"]
    assert lb.target_health("worker-3") is False
    assert {lb.pick_target() for _ in range(200)} == {"worker-1", "worker-2"}


def test_local_policy_fails_a_node_at_the_third_probe_after_its_last_endpoint_goes():
    sim, lbs = make(policy="Local")
    rs = replicaset(sim, replicas=2, tmpl=big_pod_template())
    sim.run(120.0)
    sim.state.scale_workload(rs.uid, 1)  # the ReplicaSet deletes one pod: its endpoint stops being ready
    sim.run(121.0)
    gone = next(n for n in ("worker-1", "worker-2") if local_ready_endpoints(lbs.balancer("default", "web").service, sim.state.nodes[n]) == 0)  # type: ignore[union-attr]
    sim.run(200.0)
    flip = health_events(sim, gone)[-1]
    assert flip.healthy is False
    assert 120.0 + UNHEALTHY_AFTER - INTERVAL <= flip.t <= 120.0 + UNHEALTHY_AFTER


def third_probe_after(lb, t: float) -> float:  # type: ignore[no-untyped-def]
    """When a probe outcome that changed at ``t`` becomes the verdict: the 3rd probe on the grid from ``t``."""
    k = math.ceil((t - lb.first_check) / INTERVAL - 1e-9)
    return lb.first_check + (k + k8s.LB_UNHEALTHY_THRESHOLD - 1) * INTERVAL


def test_local_policy_a_connected_node_fails_once_its_kube_proxy_sees_the_pod_not_ready():
    delay = 10.0  # longer than a probe interval, so a probe always falls between the API and kube-proxy
    sim, lbs = make(policy="Local", timing=Timing(endpoint_propagation_seconds=delay))
    replicaset(sim, replicas=3, tmpl=big_pod_template(readiness_delay=0.0))
    sim.run(120.0)
    lb = lbs.balancer("default", "web")
    assert lb is not None and lb.serving_targets() == NODES
    pod = next(p for p in sim.state.pods.values() if p.node_name == "worker-1")
    assert sim.kubelets["worker-1"].fail_probe(pod.key, 0, "readiness")
    sim.run(300.0)
    not_ready = next(e.t for e in sim.trace.of_type(ev.PodReadyChanged) if e.pod == pod.key and not e.ready)  # type: ignore[attr-defined]
    # kube-proxy learns it ``delay`` later; the LB's verdict is its 3rd failing probe from then
    assert [(e.t, e.healthy) for e in health_events(sim, "worker-1") if e.t > 120.0] == [
        (pytest.approx(third_probe_after(lb, not_ready + delay)), False)
    ]
    assert lb.serving_targets() == ["worker-2", "worker-3"]


def cut_off_lone_endpoint() -> tuple[Simulation, LoadBalancerController, str]:
    """One replica, on worker-1, behind a Local LoadBalancer; worker-1 is cut off from the control plane at 120 s."""
    sim, lbs = make(policy="Local")
    replicaset(sim, replicas=1, tmpl=big_pod_template())
    sim.run(120.0)
    (pod,) = sim.state.pods.values()
    assert pod.node_name == "worker-1" and lbs.balancer("default", "web").serving_targets() == ["worker-1"]  # type: ignore[union-attr]
    return sim, lbs, pod.key


def test_local_policy_a_cut_off_node_keeps_passing_on_its_stale_kube_proxy_view_and_serves():
    sim, lbs, lone = cut_off_lone_endpoint()
    lb = lbs.balancer("default", "web")
    assert lb is not None
    sim.network.apply(NodeCutOff(node="worker-1"))
    for t in (200.0, 400.0, 700.0):  # the API marks the pod NotReady (~175 s) and evicts it (~480 s)
        sim.run(t)
        assert lb.target_health("worker-1") is True and "worker-1" in lb.serving_targets()
        assert sim.proxy.health_check("default/web", "worker-1")  # worker-1's own answer
        entered = {lb.pick_target() for _ in range(60)}
        assert "worker-1" in entered and entered <= {"worker-1", "worker-2"}  # worker-2: the replacement, later
        served = sim.proxy.deliver("default/web", "client", "worker-1", sim.now, external=True)
        assert isinstance(served, Endpoint) and served.pod == lone  # the split brain: the "evicted" pod serves
    pod = sim.state.pods_by_key[lone]
    assert not pod.ready and pod.deletion_timestamp is not None  # what the API (and the old model's LB) read
    assert [e.healthy for e in health_events(sim, "worker-1") if e.t > 120.0] == []


def test_local_policy_after_the_heal_the_resynced_kube_proxy_fails_the_node_whose_pod_is_gone():
    sim, lbs, lone = cut_off_lone_endpoint()
    lb = lbs.balancer("default", "web")
    assert lb is not None
    handle = sim.network.apply(NodeCutOff(node="worker-1"))
    sim.run(720.0)
    assert lb.target_health("worker-1") is True  # all through the cut
    sim.network.heal(handle)
    resync = 720.0 + sim.endpoints.propagation_delay
    sim.run(resync - 0.1)
    assert sim.proxy.health_check("default/web", "worker-1")  # still the old view
    sim.run(resync + 0.001)
    assert lone not in sim.state.pods_by_key  # the kubelet heard of the eviction and stopped it
    assert not sim.proxy.health_check("default/web", "worker-1")
    assert sim.proxy.route("default/web", "c", "worker-1", sim.now, external=True) == NO_LOCAL_ENDPOINTS
    sim.run(resync + UNHEALTHY_AFTER + 0.001)
    assert [(e.t, e.healthy) for e in health_events(sim, "worker-1") if e.t > 120.0] == [
        (pytest.approx(third_probe_after(lb, resync)), False)
    ]
    assert lb.serving_targets() == ["worker-2"]


def test_publish_not_ready_addresses_counts_unready_pods_as_endpoints():
    for publish, expected in ((False, []), (True, ["worker-1"])):
        sim, lbs = make(policy="Local", publish_not_ready_addresses=publish)
        replicaset(sim, replicas=1, tmpl=big_pod_template(readiness_delay=1000.0))
        sim.run(120.0)
        assert lbs.balancer("default", "web").healthy_targets() == expected  # type: ignore[union-attr]


def test_all_targets_failing_their_checks_fails_open():
    sim, lbs = make()
    sim.run(60.0)
    for name in NODES:
        sim.kubelets[name].power_off()
    sim.run(60.0 + UNHEALTHY_AFTER + 0.001)
    lb = lbs.balancer("default", "web")
    assert lb is not None and lb.healthy_targets() == []
    assert lb.serving_targets() == NODES  # every target failed: spread over all of them


def test_a_powered_off_node_stops_serving_at_its_third_failed_probe():
    sim, lbs = make()
    sim.run(60.0)
    sim.kubelets["worker-2"].power_off()
    lb = lbs.balancer("default", "web")
    assert lb is not None
    sim.run(60.0 + UNHEALTHY_AFTER - INTERVAL - 0.001)
    assert "worker-2" in lb.serving_targets()  # the LB does not know yet: its traffic fails
    sim.run(60.0 + UNHEALTHY_AFTER + 0.001)
    assert lb.serving_targets() == ["worker-1", "worker-3"]


def test_a_removed_node_stays_a_target_until_deregistered():
    sim, lbs = make()
    sim.run(60.0)
    sim.state.remove_node("worker-3")
    lb = lbs.balancer("default", "web")
    assert lb is not None
    sim.run(60.0 + 29.9)
    assert "worker-3" in lb.registered_targets()
    sim.run(60.0 + 30.001)
    assert lb.registered_targets() == ["worker-1", "worker-2"] and "worker-3" not in lb.targets
    deregistered = [e for e in sim.trace.of_type(ev.LoadBalancerTargetChanged) if not e.registered]  # type: ignore[attr-defined]
    assert [(e.t, e.node) for e in deregistered] == [(90.0, "worker-3")]


def test_the_autoscaler_taint_takes_a_node_out_of_the_set_and_fails_kube_proxys_healthz():
    sim, lbs = make()
    sim.run(60.0)
    sim.state.add_taint("worker-1", Taint(k8s.TAINT_TO_BE_DELETED, "60", "NoSchedule"))
    lb = lbs.balancer("default", "web")
    assert lb is not None
    sim.run(60.0 + UNHEALTHY_AFTER + 0.001)
    assert "worker-1" in lb.registered_targets() and "worker-1" not in lb.serving_targets()
    sim.run(91.0)
    assert "worker-1" not in lb.registered_targets()
    sim.state.remove_taint("worker-1", k8s.TAINT_TO_BE_DELETED, "NoSchedule")
    sim.run(91.0 + 30.0 + INTERVAL + 0.001)
    assert lb.serving_targets() == NODES


def test_a_cut_off_node_does_not_see_its_to_be_deleted_taint_until_it_resyncs():
    sim, lbs = make()
    sim.run(60.0)
    lbs.set_registration_delay(30.0, 120.0)  # deregistering takes long: kube-proxy's answer decides meanwhile
    handle = sim.network.apply(NodeCutOff(node="worker-1"))
    sim.state.add_taint("worker-1", Taint(k8s.TAINT_TO_BE_DELETED, "60", "NoSchedule"))
    lb = lbs.balancer("default", "web")
    assert lb is not None
    sim.run(100.0)
    assert lb.serving_targets() == NODES and sim.proxy.healthz("worker-1")  # its kube-proxy saw no taint
    sim.network.heal(handle)
    resync = 100.0 + sim.endpoints.propagation_delay
    sim.run(150.0)
    assert not sim.proxy.healthz("worker-1")
    assert [(e.t, e.healthy) for e in health_events(sim, "worker-1") if e.t > 60.0] == [
        (pytest.approx(third_probe_after(lb, resync)), False)
    ]
    assert "worker-1" in lb.registered_targets() and lb.serving_targets() == ["worker-2", "worker-3"]


def test_slow_registration_delays_new_nodes():
    sim, lbs = make()
    sim.run(60.0)
    lbs.set_registration_delay(120.0)
    sim.add_node(NodePool(name="extra", count=1).node("extra-1", "zone-a", "region-1"))
    lb = lbs.balancer("default", "web")
    assert lb is not None
    sim.run(60.0 + 119.9)
    assert "extra-1" not in lb.registered_targets()
    sim.run(60.0 + 120.001)
    assert "extra-1" in lb.registered_targets()
    assert lbs.deregistration_seconds == 120.0


def test_excluded_nodes_are_never_targets():
    excluded = NodePool(name="edge", count=1, zones=("zone-a",), labels=((k8s.LABEL_EXCLUDE_FROM_EXTERNAL_LB, "true"),))
    included = NodePool(name="w", count=1, zones=("zone-a",), labels=((k8s.LABEL_EXCLUDE_FROM_EXTERNAL_LB, "false"),))
    sim, lbs = make(pools=(excluded, included))
    sim.run(60.0)
    assert lbs.balancer("default", "web").registered_targets() == ["w-1"]  # type: ignore[union-attr]


def test_a_service_that_stops_being_a_loadbalancer_loses_it():
    sim, lbs = make()
    sim.run(60.0)
    sim.state.put_object("Service", "default", "web", Service("web", "default", selector=(("app", "web"),)))
    assert lbs.balancer("default", "web") is None
    assert [e.state for e in sim.trace.of_type(ev.LoadBalancerChanged)] == ["created", "deleted"]  # type: ignore[attr-defined]


def test_the_reachability_hook_fails_probes_after_a_refresh():
    sim, lbs = make()
    sim.run(60.0)
    lbs.reachable = lambda node: node != "worker-1"
    lbs.refresh()
    sim.run(60.0 + UNHEALTHY_AFTER + 0.001)
    assert lbs.balancer("default", "web").serving_targets() == ["worker-2", "worker-3"]  # type: ignore[union-attr]


MANIFESTS = (Path(__file__).parents[2] / "../shared/manifests").resolve()


@pytest.mark.skipif(not (MANIFESTS / "online-boutique.yaml").is_file(), reason="the shared sample manifests are missing")
def test_online_boutiques_frontend_external_gets_a_load_balancer_over_every_node_or_the_frontends_node():
    sim = Simulation(ClusterSpec.default(), seed=3)
    lbs = sim.load_balancers
    sim.apply(load_manifests(MANIFESTS / "online-boutique.yaml"))
    assert sim.run_until_stable(timeout=300)
    sim.run_for(60.0)
    assert list(lbs.balancers) == ["default/frontend-external"]
    lb = lbs.balancer("default", "frontend-external")
    assert lb is not None and lb.serving_targets() == [n.name for n in sim.state.node_list]
    service = sim.state.objects[("Service", "default", "frontend-external")]
    sim.state.put_object("Service", "default", "frontend-external", dataclasses.replace(service, external_traffic_policy="Local"))  # type: ignore[type-var]
    sim.run_for(UNHEALTHY_AFTER + 1.0)
    frontends = sorted({p.node_name for p in sim.state.pods.values() if p.labels.get("app") == "frontend"})
    assert lb.serving_targets() == frontends and len(frontends) == 1


def test_local_ready_endpoints_counts_what_the_endpointslice_controller_lists_as_ready():
    """An endpoint is a pod with an IP that is not terminal (phase Running, or Unknown once its node
    stops reporting: pkg/api/v1/pod/util.go ShouldPodBeInEndpoints) that resolves a named first
    targetPort (FindPort); kube-proxy's LocalReadyEndpoints counts the ready ones. The helper counted
    phase Running only and ignored the named port: 2, 2 and 3 below; now 3, 4 and 5."""
    node = Node("worker-1", 0, {}, Resources(4000, 2**32), Resources(4000, 2**32))
    web = ContainerSpec("main", ports=(("http", 8080),))
    bare = ContainerSpec("main")

    def add(name: str, phase: str, container: ContainerSpec, ready: bool = True) -> None:
        pod = Pod(f"uid-{name}", name, "default", {"app": "web"}, PodSpec((container,)), 0.0, node_name="worker-1", phase=phase, ready=ready)
        node.pods[pod.key] = pod

    add("running", "Running", web)
    add("unknown", "Unknown", web)  # its node stopped reporting: still an endpoint, ready as last reported
    add("unknown-2", "Unknown", web)
    add("no-port", "Running", bare)  # declares no port named "http": no endpoint for that targetPort
    add("failed", "Failed", web)
    add("not-ready", "Running", web, ready=False)
    named = Service("web", "default", "LoadBalancer", (("app", "web"),), (ServicePort(80, "http"),), external_traffic_policy="Local")
    numbered = dataclasses.replace(named, ports=(ServicePort(80, 8080),))
    assert local_ready_endpoints(named, node) == 3  # running, unknown, unknown-2
    assert local_ready_endpoints(numbered, node) == 4  # and no-port
    assert local_ready_endpoints(dataclasses.replace(numbered, publish_not_ready_addresses=True), node) == 5  # and not-ready
