"""The node proxy: which endpoints each node routes to (k8s-semantics.md section 7, upstream
pkg/proxy/topology.go CategorizeEndpoints), how each mode picks one (iptables rule chain 1/(n-i),
nftables numgen, IPVS rr and lc), session affinity, traffic policies, stale views, and failures."""

from __future__ import annotations

import random
from bisect import bisect_right
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from podquake.model import constants as k8s
from podquake.model.cluster import ClusterSpec
from podquake.model.endpoints import Endpoint
from podquake.model.manifests import load_manifests
from podquake.model.objects import ContainerSpec, Deployment, PodSpec, PodTemplate
from podquake.model.proxy import (
    ENDPOINT_DEAD,
    NO_ENDPOINTS,
    NO_LOCAL_ENDPOINTS,
    NODE_DOWN,
    NOT_EXPOSED,
    NOT_PROXIED,
    UNKNOWN_SERVICE,
    UNREACHABLE,
    Proxy,
    _iptables_cumulative,
    _port_owners,
    iptables_endpoint_probabilities,
    iptables_rule_probabilities,
)
from podquake.model.resources_api import Service, ServicePort
from podquake.model.selectors import LabelSelector, Taint
from podquake.model.simulation import Simulation, Timing

from .test_endpoints import READINESS_FAILS_AFTER, deployment, pods_of, service, world

MANIFESTS = (Path(__file__).parents[2] / "../shared/manifests").resolve()
CHI2_DF4_P001 = 18.467  # chi-square critical value, 4 degrees of freedom, p = 0.001


def proxied(*docs, mode: str = "iptables", ipvs_scheduler: str = "rr", delay: float = 1.0, rng=None, **kw):
    sim, endpoints = world(*docs, delay=delay, **kw)
    proxy = Proxy(sim, mode=mode, ipvs_scheduler=ipvs_scheduler, endpoints=endpoints, rng=rng)
    proxy.start()
    return sim, endpoints, proxy


def route_pods(proxy: Proxy, service_key: str, node: str, now: float, count: int, **kw) -> list[str]:
    out = []
    for i in range(count):
        result = proxy.route(service_key, f"client-{i}", node, now, **kw)
        out.append(result.pod if isinstance(result, Endpoint) else result)
    return out


def pick(proxy: Proxy, client: str, node: str, now: float, service_key: str = "default/web") -> str:
    """The pod key a new connection reaches, or the failure reason."""
    result = proxy.route(service_key, client, node, now)
    return result.pod if isinstance(result, Endpoint) else result


def chi_square(counts: Counter, keys: list[str], total: int) -> float:
    expected = total / len(keys)
    return sum((counts[k] - expected) ** 2 / expected for k in keys)


# --- iptables and nftables ----------------------------------------------------------------------------
def test_iptables_rule_probabilities_are_one_over_n_minus_i_as_kube_proxy_writes_them():
    assert iptables_rule_probabilities(1) == []
    assert iptables_rule_probabilities(3) == ["0.3333333333", "0.5000000000"]
    for n in range(2, 30):
        rules = iptables_rule_probabilities(n)
        assert len(rules) == n - 1
        assert all(text == "%0.10f" % (1.0 / (n - i)) for i, text in enumerate(rules))


@pytest.mark.parametrize("n", [1, 2, 3, 7, 10, 100, 1000])
def test_the_rule_chain_gives_every_endpoint_one_in_n(n):
    probabilities = iptables_endpoint_probabilities(n)
    assert len(probabilities) == n
    assert max(abs(p - 1.0 / n) for p in probabilities) < 1e-9
    assert abs(sum(probabilities) - 1.0) < 1e-12


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_random_modes_are_uniform(mode):
    sim, endpoints, proxy = proxied(deployment(replicas=5), service(), mode=mode)
    pods = pods_of(sim, "web")
    draws = 20_000
    counts = Counter(route_pods(proxy, "default/web", "worker-1", sim.now, draws))
    assert set(counts) == set(pods)
    assert chi_square(counts, pods, draws) < CHI2_DF4_P001


def test_iptables_consumes_one_random_per_connection_and_picks_by_the_rule_chain():
    sim, endpoints, proxy = proxied(deployment(replicas=5), service(), rng=random.Random(42))
    pods = pods_of(sim, "web")
    twin = random.Random(42)
    bounds = _iptables_cumulative(5)
    expected = [pods[bisect_right(bounds, twin.random())] for _ in range(500)]
    assert route_pods(proxy, "default/web", "worker-1", sim.now, 500) == expected


def test_iptables_draws_nothing_for_a_single_endpoint():
    sim, endpoints, proxy = proxied(deployment(replicas=1), service(), rng=random.Random(7))
    before = proxy.rng.getstate()
    assert route_pods(proxy, "default/web", "worker-1", sim.now, 10) == pods_of(sim, "web") * 10
    assert proxy.rng.getstate() == before


def test_nftables_scales_one_32_bit_draw_per_connection():
    sim, endpoints, proxy = proxied(deployment(replicas=5), service(), mode="nftables", rng=random.Random(42))
    pods = pods_of(sim, "web")
    twin = random.Random(42)
    expected = [pods[(twin.getrandbits(32) * 5) >> 32] for _ in range(500)]
    assert route_pods(proxy, "default/web", "worker-1", sim.now, 500) == expected


# --- IPVS -------------------------------------------------------------------------------------------
def test_ipvs_round_robin_takes_endpoints_in_order_per_node():
    sim, endpoints, proxy = proxied(mode="ipvs", ipvs_scheduler="rr")
    pods = pods_of(sim, "web")
    assert route_pods(proxy, "default/web", "worker-1", sim.now, 6) == pods + pods
    assert route_pods(proxy, "default/web", "worker-2", sim.now, 1) == pods[:1]  # its own position


def test_ipvs_round_robin_and_persistence_are_per_virtual_server():
    """kube-proxy's IPVS mode makes one virtual server for the cluster IP and one for the node port
    (pkg/proxy/ipvs/proxier.go syncProxyRules), each with its own round-robin place and persistence
    templates. The model kept one position per Service and node: after 2 cluster-IP connections
    (e0, e1), 2 node-port ones reached e2, e0 (now e0, e1) and the next cluster-IP one e1 (now e2). A
    ClientIP client affined to e1 through the cluster IP was held to e1 through the node port too;
    now the node port chooses by its own position (e0)."""
    sim, endpoints, proxy = proxied(deployment(), service(type="NodePort"), mode="ipvs")
    e0, e1, e2 = pods_of(sim, "web")
    assert route_pods(proxy, "default/web", "worker-1", sim.now, 2) == [e0, e1]
    assert route_pods(proxy, "default/web", "worker-1", sim.now, 2, external=True) == [e0, e1]
    assert route_pods(proxy, "default/web", "worker-1", sim.now, 1) == [e2]
    sim, endpoints, proxy = proxied(deployment(), service(type="NodePort", sessionAffinity="ClientIP"), mode="ipvs")
    e0, e1, e2 = pods_of(sim, "web")
    assert [pick(proxy, c, "worker-1", sim.now) for c in ("alice", "bob")] == [e0, e1]
    bob = proxy.route("default/web", "bob", "worker-1", sim.now, external=True)
    assert isinstance(bob, Endpoint) and bob.pod == e0  # the node port's own persistence
    assert pick(proxy, "bob", "worker-1", sim.now) == e1  # the cluster IP's is unchanged


def test_iptables_affinity_is_shared_by_the_cluster_ip_and_the_node_port():
    """iptables: one ``recent`` list per endpoint chain, which the cluster IP and the node port both
    jump to (pkg/proxy/iptables/proxier.go writeServiceToEndpointRules)."""
    sim, endpoints, proxy = proxied(deployment(), service(type="NodePort", sessionAffinity="ClientIP"))
    first = pick(proxy, "alice", "worker-1", sim.now)
    for _ in range(20):
        again = proxy.route("default/web", "alice", "worker-1", sim.now, external=True)
        assert isinstance(again, Endpoint) and again.pod == first


def test_ipvs_least_connection_picks_the_fewest_active_connections_first_on_ties():
    sim, endpoints, proxy = proxied(mode="ipvs", ipvs_scheduler="lc")
    a, b, c = pods_of(sim, "web")
    assert route_pods(proxy, "default/web", "worker-1", sim.now, 4) == [a, b, c, a]
    by_pod = {e.pod: e for e in endpoints.endpoints_of("default/web")}
    assert [proxy.active_connections("worker-1", by_pod[p]) for p in (a, b, c)] == [2, 1, 1]
    proxy.release("worker-1", by_pod[b])
    assert route_pods(proxy, "default/web", "worker-1", sim.now, 1) == [b]
    proxy.release("worker-1", by_pod[a])
    proxy.release("worker-1", by_pod[a])
    assert route_pods(proxy, "default/web", "worker-1", sim.now, 1) == [a]
    assert route_pods(proxy, "default/web", "worker-2", sim.now, 1) == [a]  # counts are per node


def test_unknown_modes_are_refused():
    sim, endpoints = world(settle=False)
    with pytest.raises(ValueError, match="proxy mode"):
        Proxy(sim, mode="userspace", endpoints=endpoints)
    with pytest.raises(ValueError, match="IPVS scheduler"):
        Proxy(sim, mode="ipvs", ipvs_scheduler="wrr", endpoints=endpoints)


# --- session affinity -------------------------------------------------------------------------------
def test_client_ip_affinity_sticks_for_the_default_timeout_and_renews_on_use():
    sim, endpoints, proxy = proxied(deployment(), service(sessionAffinity="ClientIP"), mode="ipvs")
    parsed: Service = sim.state.objects[("Service", "default", "web")]  # type: ignore[assignment]
    timeout = k8s.DEFAULT_CLIENT_IP_SERVICE_AFFINITY_SECONDS
    assert parsed.session_affinity_timeout_seconds == timeout == 10800
    e0, e1, e2 = pods_of(sim, "web")
    t = sim.now

    def to(client: str, when: float) -> str:
        return pick(proxy, client, "worker-1", when)

    assert [to("alice", t), to("bob", t)] == [e0, e1]
    assert to("alice", t + timeout - 1) == e0  # sticky, and renewed
    assert to("carol", t + timeout - 1) == e2
    assert to("alice", t + 2 * timeout - 2) == e0  # within the timeout of the renewal
    assert to("dave", t + 2 * timeout - 2) == e0  # round robin went on: position 3
    assert to("alice", t + 3 * timeout - 2) == e1  # expired: chosen again, position 4
    assert [to("alice", t + 3 * timeout - 2 + k) for k in range(50)] == [e1] * 50


def test_affinity_uses_the_configured_timeout():
    affinity = {"sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}}}
    sim, endpoints, proxy = proxied(deployment(), service(**affinity), mode="ipvs")
    e0, e1, _ = pods_of(sim, "web")
    t = sim.now
    assert pick(proxy, "alice", "worker-1", t) == e0
    assert pick(proxy, "alice", "worker-1", t + 59.9) == e0
    assert pick(proxy, "alice", "worker-1", t + 59.9 + 60) == e1


def test_affinity_spreads_distinct_clients_and_lets_go_of_a_removed_endpoint():
    sim, endpoints, proxy = proxied(deployment(), service(sessionAffinity="ClientIP"))
    chosen = {c: pick(proxy, c, "worker-1", sim.now) for c in (f"c{i}" for i in range(60))}
    assert len(set(chosen.values())) == 3
    for _ in range(20):
        assert all(pick(proxy, c, "worker-1", sim.now) == p for c, p in chosen.items())
    victim = sim.state.pods_by_key[chosen["c0"]]
    sim.state.request_pod_deletion(victim.uid, "test")
    sim.run_for(1.5)
    assert all(pick(proxy, "c0", "worker-1", sim.now) != victim.key for _ in range(20))


# --- traffic policies and service types ---------------------------------------------------------------
def uneven(policy: str):
    """4 pods of 1.3 CPU on 4-CPU nodes placed first-fit: 3 on worker-1, 1 on worker-2, none on worker-3."""
    return proxied(deployment(replicas=4, cpu="1300m"), service(type="LoadBalancer", externalTrafficPolicy=policy))


def load_balance(sim: Simulation, proxy: Proxy, requests: int) -> Counter:
    """A cloud load balancer spreading requests evenly over the nodes that pass the health check."""
    healthy = [n.name for n in sim.state.node_list if proxy.health_check("default/web", n.name)]
    counts: Counter = Counter()
    for i in range(requests):
        result = proxy.deliver("default/web", f"client-{i}", healthy[i % len(healthy)], sim.now, external=True)
        counts[result.pod if isinstance(result, Endpoint) else result] += 1
    return counts


def test_external_traffic_policy_local_loads_pods_unevenly_when_they_are_spread_unevenly():
    sim, endpoints, proxy = uneven("Local")
    placement = {k: sim.state.pods_by_key[k].node_name for k in pods_of(sim, "web")}
    assert Counter(placement.values()) == {"worker-1": 3, "worker-2": 1}
    assert [proxy.health_check("default/web", n) for n in ("worker-1", "worker-2", "worker-3")] == [True, True, False]
    assert proxy.route("default/web", "x", "worker-3", sim.now, external=True) == NO_LOCAL_ENDPOINTS
    requests = 60_000
    counts = load_balance(sim, proxy, requests)
    assert sum(counts.values()) == requests and proxy.failures == {}
    for pod, node in placement.items():
        share = counts[pod] / requests
        # half the traffic reaches each node; worker-2's one pod takes all of its half
        assert share == pytest.approx(1 / 2 if node == "worker-2" else 1 / 6, abs=0.01)


def test_a_node_with_only_a_terminating_local_endpoint_fails_the_health_check_but_still_serves():
    sim, endpoints, proxy = proxied(
        deployment(replicas=4, cpu="1300m"),
        service(type="LoadBalancer", externalTrafficPolicy="Local"),
        timing=Timing(container_stop_seconds=20.0),
    )
    lone = next(k for k in pods_of(sim, "web") if sim.state.pods_by_key[k].node_name == "worker-2")
    sim.state.request_pod_deletion(sim.state.pods_by_key[lone].uid, "test")
    sim.run_for(1.5)  # published as terminating; its replacement is not Ready yet
    assert not proxy.health_check("default/web", "worker-2")  # the LB stops sending here...
    assert proxy.health_check("default/web", "worker-1")
    result = proxy.deliver("default/web", "c", "worker-2", sim.now, external=True)
    assert isinstance(result, Endpoint) and result.pod == lone and result.serving_terminating  # ...what comes is served


def test_external_traffic_policy_cluster_loads_every_pod_evenly():
    sim, endpoints, proxy = uneven("Cluster")
    assert all(proxy.health_check("default/web", n.name) for n in sim.state.node_list)
    requests = 60_000
    counts = load_balance(sim, proxy, requests)
    assert all(counts[p] / requests == pytest.approx(1 / 4, abs=0.01) for p in pods_of(sim, "web"))


@pytest.mark.parametrize("type_", ["NodePort", "LoadBalancer"])
def test_node_ports_reach_every_pod_from_any_node(type_):
    sim, endpoints, proxy = proxied(deployment(), service(type=type_), mode="ipvs")
    pods = pods_of(sim, "web")
    assert all(sim.state.pods_by_key[p].node_name == "worker-1" for p in pods)
    assert route_pods(proxy, "default/web", "worker-3", sim.now, 3, external=True) == pods
    assert proxy.deliver("default/web", "c", "worker-2", sim.now, external=True) in endpoints.endpoints_of("default/web")


def test_a_cluster_ip_service_has_no_node_port():
    sim, endpoints, proxy = proxied()
    assert proxy.route("default/web", "c", "worker-1", sim.now, external=True) == NOT_EXPOSED
    assert isinstance(proxy.route("default/web", "c", "worker-1", sim.now), Endpoint)


def test_internal_traffic_policy_local_uses_only_this_nodes_endpoints():
    sim, endpoints, proxy = proxied(deployment(), service(internalTrafficPolicy="Local"))
    assert set(route_pods(proxy, "default/web", "worker-1", sim.now, 30)) == set(pods_of(sim, "web"))
    assert proxy.route("default/web", "c", "worker-2", sim.now) == NO_LOCAL_ENDPOINTS


def test_headless_and_external_name_services_are_not_proxied():
    mail = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "mail"},
        "spec": {"type": "ExternalName", "externalName": "mail.example.com"},
    }
    sim, endpoints, proxy = proxied(deployment(), service(clusterIP="None"), mail)
    assert set(route_pods(proxy, "default/web", "worker-2", sim.now, 60)) == set(pods_of(sim, "web"))
    assert proxy.route("default/mail", "c", "worker-1", sim.now) == NOT_PROXIED
    assert proxy.route("default/nope", "c", "worker-1", sim.now) == UNKNOWN_SERVICE


# --- which endpoints: ready, terminating fallback, none -----------------------------------------------
def test_terminating_endpoints_are_used_only_when_none_is_ready():
    sim, endpoints, proxy = proxied(timing=Timing(container_stop_seconds=20.0))
    pods = pods_of(sim, "web")
    sim.state.request_pod_deletion(sim.state.pods_by_key[pods[0]].uid, "test")
    sim.run_for(1.5)
    assert pods[0] not in route_pods(proxy, "default/web", "worker-1", sim.now, 300)
    web = sim.state.workload_named("Deployment", "default", "web")
    sim.state.scale_workload(web.uid, 0)
    sim.run_for(1.5)
    assert all(e.serving_terminating for e in endpoints.endpoints_of("default/web"))
    routed = [proxy.deliver("default/web", f"c{i}", "worker-1", sim.now) for i in range(300)]
    assert {r.pod for r in routed} == set(pods)  # type: ignore[union-attr]
    sim.run_for(20.0)
    assert proxy.route("default/web", "c", "worker-1", sim.now) == NO_ENDPOINTS


def test_not_ready_endpoints_are_never_used():
    sim, endpoints, proxy = proxied()
    for key in pods_of(sim, "web"):
        sim.kubelets["worker-1"].fail_probe(key, 0, "readiness")
    sim.run_for(READINESS_FAILS_AFTER + 1.5)
    assert proxy.route("default/web", "c", "worker-1", sim.now) == NO_ENDPOINTS


# --- stale views and failures --------------------------------------------------------------------------
def test_a_deleted_pod_gets_traffic_until_the_delay_passes_and_that_traffic_fails():
    sim, endpoints, proxy = proxied(mode="ipvs", delay=5.0)  # container_stop_seconds 1 s < 5 s
    victim = pods_of(sim, "web")[0]
    sim.state.request_pod_deletion(sim.state.pods_by_key[victim].uid, "test")
    sim.run_for(1.5)  # the pod is gone; the proxies do not know yet
    assert victim not in sim.state.pods_by_key
    assert [proxy.deliver("default/web", "c", "worker-1", sim.now) for _ in range(3)].count(ENDPOINT_DEAD) == 1
    assert proxy.failures == {ENDPOINT_DEAD: 1}
    sim.run_for(4.0)  # 5.5 s after the deletion
    results = [proxy.deliver("default/web", "c", "worker-1", sim.now) for _ in range(30)]
    assert all(isinstance(r, Endpoint) and r.pod != victim for r in results)
    assert proxy.failures == {ENDPOINT_DEAD: 1} and proxy.delivered == 2 + 30


def test_a_node_cut_from_the_control_plane_keeps_its_stale_view_until_it_resyncs():
    sim, endpoints, proxy = proxied(mode="ipvs")
    victim = pods_of(sim, "web")[0]
    proxy.set_connected("worker-3", False)
    assert not proxy.is_connected("worker-3")
    old = proxy.known_version("default/web", "worker-3")
    sim.state.request_pod_deletion(sim.state.pods_by_key[victim].uid, "test")
    sim.run_for(10.0)  # gone, published, and its replacement published too
    assert proxy.known_version("default/web", "worker-1") > old == proxy.known_version("default/web", "worker-3")
    assert victim not in route_pods(proxy, "default/web", "worker-1", sim.now, 6)
    stale = [proxy.deliver("default/web", "c", "worker-3", sim.now) for _ in range(3)]
    assert stale.count(ENDPOINT_DEAD) == 1
    proxy.set_connected("worker-3", True)
    assert proxy.is_connected("worker-3") and proxy.known_version("default/web", "worker-3") == old
    sim.run_for(1.5)  # re-listed after the propagation delay
    assert proxy.known_version("default/web", "worker-3") == proxy.known_version("default/web", "worker-1")
    assert victim not in route_pods(proxy, "default/web", "worker-3", sim.now, 6)


# --- health checks from each node's own view ---------------------------------------------------------
def local_lb_world():
    """One pod (on worker-1) behind a LoadBalancer Service with externalTrafficPolicy Local."""
    sim, endpoints, proxy = proxied(deployment(replicas=1), service(type="LoadBalancer", externalTrafficPolicy="Local"))
    (lone,) = pods_of(sim, "web")
    assert sim.state.pods_by_key[lone].node_name == "worker-1"
    heard: list[tuple[str | None, str | None]] = []
    proxy.watch_health(lambda service, node: heard.append((service, node)))
    return sim, proxy, lone, heard


def test_a_connected_node_fails_the_service_health_check_once_the_not_ready_pod_is_published():
    sim, proxy, lone, heard = local_lb_world()
    assert proxy.service_health_check("default/web", "worker-1") and proxy.health_check("default/web", "worker-1")
    sim.kubelets["worker-1"].fail_probe(lone, 0, "readiness")
    while sim.state.pods_by_key[lone].ready:
        sim.run_for(0.25)
    assert proxy.service_health_check("default/web", "worker-1")  # not published yet
    sim.run_for(1.0)
    assert not proxy.service_health_check("default/web", "worker-1")
    assert heard == [("default/web", "worker-1")]  # only the node whose answer flipped


def test_a_cut_off_node_answers_the_service_health_check_from_its_frozen_view_until_it_resyncs():
    sim, proxy, lone, heard = local_lb_world()
    proxy.set_connected("worker-1", False)
    sim.kubelets["worker-1"].fail_probe(lone, 0, "readiness")
    sim.run_for(READINESS_FAILS_AFTER + 5.0)
    assert not sim.state.pods_by_key[lone].ready and proxy.known_version("default/web", "worker-2") > proxy.known_version("default/web", "worker-1")
    assert proxy.service_health_check("default/web", "worker-1")  # kube-proxy never heard: 200
    assert heard == []
    proxy.set_connected("worker-1", True)
    sim.run_for(0.5)
    assert proxy.service_health_check("default/web", "worker-1") and heard == []
    sim.run_for(0.6)  # the re-list, a propagation delay after the reconnection
    assert not proxy.service_health_check("default/web", "worker-1")
    assert heard == [(None, "worker-1")]


def test_the_service_health_check_needs_the_nodes_view_to_have_the_service_as_local():
    sim, endpoints, proxy = proxied(deployment(replicas=1), service(type="LoadBalancer"))
    assert proxy.health_check("default/web", "worker-1") and proxy.healthz("worker-1")
    assert not proxy.service_health_check("default/web", "worker-1")  # no healthCheckNodePort listens
    assert not proxy.service_health_check("default/nope", "worker-1")


def test_healthz_fails_on_the_to_be_deleted_taint_as_the_nodes_view_of_its_node_has_it():
    sim, endpoints, proxy = proxied(deployment(), service(type="LoadBalancer"))
    taint = Taint(k8s.TAINT_TO_BE_DELETED, "0", "NoSchedule")
    proxy.set_connected("worker-2", False)
    for name in ("worker-1", "worker-2"):
        sim.state.add_taint(name, taint)
    assert not proxy.healthz("worker-1") and not proxy.health_check("default/web", "worker-1")
    assert proxy.healthz("worker-2") and proxy.health_check("default/web", "worker-2")  # saw no taint
    proxy.set_connected("worker-2", True)
    sim.run_for(1.001)
    assert not proxy.healthz("worker-2")
    sim.state.remove_taint("worker-2", k8s.TAINT_TO_BE_DELETED, "NoSchedule")
    assert proxy.healthz("worker-2")
    sim.kubelets["worker-3"].power_off()
    assert not proxy.healthz("worker-3")


def test_traffic_across_a_partition_fails():
    calls = []

    def reachable(a: str, b: str) -> bool:
        calls.append((a, b))
        return {a, b} != {"worker-1", "worker-2"}

    sim, endpoints, proxy = proxied(deployment(), service(type="NodePort"))
    proxy.reachable = reachable
    assert proxy.deliver("default/web", "c", "worker-2", sim.now, external=True) == UNREACHABLE
    assert isinstance(proxy.deliver("default/web", "c", "worker-3", sim.now, external=True), Endpoint)
    assert isinstance(proxy.deliver("default/web", "c", "worker-1", sim.now), Endpoint)
    assert calls == [("worker-2", "worker-1"), ("worker-3", "worker-1")]  # a local pod needs no network
    assert proxy.failures == {UNREACHABLE: 1}


def test_endpoint_alive_follows_the_runtime_not_the_last_report():
    sim, endpoints, proxy = proxied()
    by_pod = {e.pod: e for e in endpoints.endpoints_of("default/web")}
    first, second, third = pods_of(sim, "web")
    kubelet = sim.kubelets["worker-1"]
    assert all(proxy.endpoint_alive(e) for e in by_pod.values())
    kubelet.stop_kubelet()
    kubelet.crash_container(first)
    assert sim.state.pods_by_key[first].containers[0].state == "running"  # not reported
    assert not proxy.endpoint_alive(by_pod[first])
    assert proxy.endpoint_alive(by_pod[second])
    kubelet.start_kubelet()  # reports the exit and restarts it at once (first restart, no back-off)
    assert proxy.endpoint_alive(by_pod[first])
    kubelet.power_off()
    assert not any(proxy.endpoint_alive(e) for e in by_pod.values())
    assert proxy.route("default/web", "c", "worker-1", sim.now) == NODE_DOWN
    assert not proxy.health_check("default/web", "worker-1")


# --- which container answers: the one serving the Service's port -----------------------------------------
SIDECAR_DELAY = 5.0  # a propagation window long enough to route in after a crash


def app_and_sidecar() -> dict:
    """Three replicas of an app container serving the Service's port and a log-shipping sidecar
    (from YAML: its ``ports`` are not read, so the first container, the app, serves the port)."""
    doc = deployment()
    doc["spec"]["template"]["spec"]["containers"] = [
        {"name": "app", "image": "nginx", "ports": [{"containerPort": 80}]},
        {"name": "logshipper", "image": "fluent-bit"},
    ]
    return doc


def crash_into_backoff(sim: Simulation, pod_key: str, container: str) -> None:
    """Crash ``container`` twice: the first restart is at once, the second waits out a 10 s back-off."""
    kubelet = sim.kubelets[sim.state.pods_by_key[pod_key].node_name]  # type: ignore[index]
    assert kubelet.crash_container(pod_key, container)
    sim.run_for(0.5)
    assert kubelet.crash_container(pod_key, container)


@pytest.mark.parametrize("crashed, fails", [("logshipper", False), ("app", True)])
def test_a_crashed_sidecar_does_not_fail_connections_to_the_app_container_a_crashed_app_does(crashed, fails):
    sim, endpoints, proxy = proxied(app_and_sidecar(), service(), delay=SIDECAR_DELAY)
    victim = pods_of(sim, "web")[0]
    crash_into_backoff(sim, victim, crashed)
    pod = sim.state.pods_by_key[victim]
    assert not pod.ready and [c.state for c in pod.containers].count("running") == 1
    # Not Ready, but the proxies route with the endpoints published before the crash until the delay passes.
    listed = next(e for e in endpoints.published["default/web"].endpoints if e.pod == victim)
    assert listed.ready
    results = [proxy.deliver("default/web", f"c{i}", "worker-1", sim.now) for i in range(300)]
    reached = Counter(r.pod for r in results if isinstance(r, Endpoint))
    if fails:
        assert proxy.failures[ENDPOINT_DEAD] == results.count(ENDPOINT_DEAD) > 60 and victim not in reached
    else:
        assert proxy.failures == {} and reached[victim] > 60
    assert proxy.endpoint_alive(listed, "default/web") is not fails
    sim.run_for(SIDECAR_DELAY + 1.0)  # Ready=false has reached the proxies: readiness still decides membership
    assert victim not in route_pods(proxy, "default/web", "worker-1", sim.now, 30)


def port_world(*containers: ContainerSpec, target_ports: dict[str, int | str]) -> tuple[Simulation, Proxy]:
    """Three replicas of a pod of ``containers``, behind one Service per entry of ``target_ports``
    (name -> the targetPort of its only port), the steady state published."""
    timing = replace(Timing(), endpoint_propagation_seconds=SIDECAR_DELAY)
    sim = Simulation(ClusterSpec.uniform(nodes=3, zones=1), seed=1, scheduler="first-fit", timing=timing)
    labels = (("app", "web"),)
    template = PodTemplate(labels, PodSpec(containers=containers))
    sim.create_workload(Deployment(sim.new_uid(), "web", "default", LabelSelector(match_labels=labels), template, 3))
    for name, target in target_ports.items():
        sim.state.put_object("Service", "default", name, Service(name, "default", selector=labels, ports=(ServicePort(80, target),)))
    assert sim.run_until_stable(timeout=120)
    sim.run_for(SIDECAR_DELAY + 0.5)
    return sim, sim.proxy


def test_the_container_declaring_the_target_port_by_number_or_name_serves_it_else_the_first():
    log = ContainerSpec("log")
    app = ContainerSpec("app", ports=(("metrics", 9100), ("http", 8080)))
    sim, proxy = port_world(log, app, target_ports={"by-name": "http", "by-number": 8080, "undeclared": 7000, "named-none": "grpc"})
    first, second, _third = pods_of(sim, "web")
    pod = sim.state.pods_by_key[first]
    assert {s: proxy.serving_container(pod, f"default/{s}") for s in ("by-name", "by-number", "undeclared", "named-none")} == {
        "by-name": 1, "by-number": 1, "undeclared": 0, "named-none": 0
    }
    assert proxy.serving_container(pod, None) == proxy.serving_container(pod, "default/never-published") == 0

    def alive(pod_key: str) -> dict[str, bool]:
        endpoint = next(e for e in sim.endpoints.published["default/by-name"].endpoints if e.pod == pod_key)
        return {s: proxy.endpoint_alive(endpoint, f"default/{s}") for s in ("by-name", "by-number", "undeclared")}

    crash_into_backoff(sim, first, "log")  # the sidecar, declared first
    crash_into_backoff(sim, second, "app")
    assert alive(first) == {"by-name": True, "by-number": True, "undeclared": False}
    assert alive(second) == {"by-name": False, "by-number": False, "undeclared": True}
    results = [proxy.deliver("default/by-name", f"c{i}", "worker-1", sim.now) for i in range(300)]
    assert {r.pod for r in results if isinstance(r, Endpoint)} == {first, pods_of(sim, "web")[2]}
    assert proxy.failures == {ENDPOINT_DEAD: results.count(ENDPOINT_DEAD)}


def test_the_first_container_that_declares_a_port_serves_it():
    """Two containers declaring the same port (upstream ``FindPort`` takes the first in spec order)."""
    pod_spec = PodSpec((ContainerSpec("a"), ContainerSpec("b", ports=(("web", 80),)), ContainerSpec("c", ports=(("web", 80),))))
    assert _port_owners(pod_spec) == {80: 1, "web": 1}


def test_same_seed_same_routes():
    runs = []
    for _ in range(2):
        sim, endpoints, proxy = proxied(deployment(replicas=4), service(), seed=9)
        runs.append(route_pods(proxy, "default/web", "worker-2", sim.now, 200))
    assert runs[0] == runs[1]


# --- the shared manifests, end to end ----------------------------------------------------------------
@pytest.mark.skipif(not MANIFESTS.is_dir(), reason=f"the shared sample manifests are not at {MANIFESTS}")
def test_online_boutique_frontend_external_load_balancer_reaches_frontend_pods():
    sim = Simulation(ClusterSpec.default(), seed=3)
    proxy = sim.proxy
    manifests = load_manifests(MANIFESTS / "online-boutique.yaml")
    sim.apply(manifests)
    assert sim.run_until_stable(timeout=600)
    sim.run_for(k8s.KUBE_PROXY_MIN_SYNC_PERIOD_SECONDS + 0.5)
    external: Service = sim.state.objects[("Service", "default", "frontend-external")]  # type: ignore[assignment]
    assert (external.type, external.external_traffic_policy) == ("LoadBalancer", "Cluster")
    frontends = {p.key for p in sim.state.pods.values() if p.labels.get("app") == "frontend"}
    assert frontends
    for node in sim.state.node_list:
        assert proxy.health_check("default/frontend-external", node.name)
        for i in range(20):
            result = proxy.deliver("default/frontend-external", f"user-{i}", node.name, sim.now, external=True)
            assert isinstance(result, Endpoint) and result.pod in frontends
    services = [m.obj for m in manifests if m.kind == "Service"]
    assert len(services) == 12
    for svc in services:
        result = proxy.deliver(f"default/{svc.name}", "frontend-pod", "worker-1", sim.now)
        assert isinstance(result, Endpoint), (svc.name, result)
        assert svc.matches(sim.state.pods_by_key[result.pod].labels)
    assert proxy.failures == {}


def test_a_node_that_boots_while_cut_off_fails_healthz_until_it_resyncs():
    """kube-proxy v1.35 makes its health server only after NewNodeManager has synced the informer of
    its own Node (pkg/proxy/node.go, cmd/kube-proxy/app/server.go newProxyServer): booted without
    the control plane, nothing listens on /healthz. The model answered 200 (True) until the resync;
    now it fails until then, and answers 200 from the resync (1 s after reconnecting) on."""
    sim, endpoints, proxy = proxied(deployment(), service(type="LoadBalancer"))
    proxy.set_connected("worker-2", False)
    assert proxy.healthz("worker-2")  # cut off but running: it answers from its last view
    sim.kubelets["worker-2"].power_off()
    sim.kubelets["worker-2"].power_on()
    assert not proxy.healthz("worker-2") and not proxy.health_check("default/web", "worker-2")
    proxy.set_connected("worker-2", True)
    sim.run_for(0.999)
    assert not proxy.healthz("worker-2")
    sim.run_for(0.002)
    assert proxy.healthz("worker-2") and proxy.health_check("default/web", "worker-2")


def test_a_node_that_boots_while_cut_off_routes_nothing_until_it_resyncs():
    """Upstream a rebooted node's kube-proxy starts with no rules and, cut off from the API server,
    can list nothing: the model kept routing with the view the node had when it was cut."""
    sim, endpoints, proxy = proxied(deployment(), service(type="LoadBalancer", externalTrafficPolicy="Local"), mode="ipvs")
    assert {sim.state.pods_by_key[p].node_name for p in pods_of(sim, "web")} == {"worker-1"}  # first-fit
    # A reboot clears the node's IPVS round-robin position: it starts from the first endpoint again.
    routed = route_pods(proxy, "default/web", "worker-2", sim.now, 2)
    sim.kubelets["worker-2"].power_off()
    sim.kubelets["worker-2"].power_on()
    assert route_pods(proxy, "default/web", "worker-2", sim.now, 2) == routed
    heard: list[tuple[str | None, str | None]] = []
    proxy.watch_health(lambda service, node: heard.append((service, node)))
    proxy.set_connected("worker-1", False)
    sim.state.add_taint("worker-1", Taint(k8s.TAINT_TO_BE_DELETED, "0", "NoSchedule"))
    assert proxy.service_health_check("default/web", "worker-1") and proxy.healthz("worker-1")  # its frozen view
    sim.kubelets["worker-1"].power_off()
    sim.kubelets["worker-1"].power_on()
    assert heard == [(None, "worker-1")]
    assert proxy.route("default/web", "c", "worker-1", sim.now) == UNKNOWN_SERVICE
    assert proxy.route("default/web", "c", "worker-1", sim.now, external=True) == UNKNOWN_SERVICE
    assert not proxy.service_health_check("default/web", "worker-1")  # no healthCheckNodePort listener
    assert not proxy.healthz("worker-1")  # kube-proxy waits for its Node before it serves /healthz
    proxy.set_connected("worker-1", True)
    sim.run_for(1.001)
    assert proxy.known_version("default/web", "worker-1") == proxy.known_version("default/web", "worker-2")
    assert proxy.route("default/web", "c", "worker-1", sim.now) == NO_ENDPOINTS  # its pods restart: none ready yet
    assert not proxy.healthz("worker-1")  # now it sees its tainted Node
