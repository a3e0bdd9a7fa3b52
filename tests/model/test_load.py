"""Serving load, fluid and request modes: even splits, capacity from CPU, queues and drops,
conservation, CPU usage for the autoscaler, latency, session affinity, traffic policies, failures
(dead pods, partitions) and the shared manifests end to end."""

from __future__ import annotations

import doctest
from pathlib import Path
from typing import Any

import pytest
import yaml
from podquake.model import constants as k8s
from podquake.model import load as load_module
from podquake.model import trace as ev
from podquake.model.cluster import ClusterSpec
from podquake.model.load import (
    LOST_IN_QUEUE,
    NO_CLIENT,
    QUEUE_FULL,
    FluidLoad,
    RequestLoad,
    Serving,
    make_load,
)
from podquake.model.manifests import load_manifests
from podquake.model.network import Split
from podquake.model.objects import ContainerSpec, Deployment, PodSpec, PodTemplate
from podquake.model.proxy import ENDPOINT_DEAD, UNREACHABLE, Proxy
from podquake.model.quantity import Resources
from podquake.model.resources_api import Service, ServicePort
from podquake.model.selectors import LabelSelector
from podquake.model.simulation import Simulation, Timing
from podquake.model.trace import Trace
from podquake.model.traffic import (
    Constant,
    Diurnal,
    External,
    Internal,
    LoadGenerator,
    Ramp,
    Traffic,
)

from .test_endpoints import deployment, service

MANIFESTS = (Path(__file__).parents[2] / "../shared/manifests").resolve()
WINDOW = 10.0


def served_world(
    *docs: dict[str, Any],
    generators: tuple[LoadGenerator, ...] = (),
    mode: str = "fluid",
    nodes: int = 3,
    seed: int = 1,
    proxy_mode: str = "iptables",
    timing: Timing | None = None,
    **load_args: Any,
) -> tuple[Simulation, Traffic, FluidLoad | RequestLoad]:
    """A cluster running ``docs`` at a steady state that the proxies see, then traffic and a load model."""
    sim = Simulation(ClusterSpec.uniform(nodes=nodes, zones=1), seed=seed, scheduler="first-fit", load_mode=None,
                     proxy_mode=proxy_mode, timing=timing)  # fmt: skip
    sim.apply(load_manifests(text=yaml.safe_dump_all(docs)))
    assert sim.run_until_stable(timeout=120)
    sim.run_for(sim.timing.endpoint_propagation_seconds + 0.5)
    sim.run(-(-sim.now // WINDOW) * WINDOW)  # so that windows end at multiples of 10 s
    traffic = Traffic(sim, generators)
    load = make_load(sim, mode, traffic=traffic, **load_args)
    load.start()
    return sim, traffic, load


def windows(sim: Simulation, service_key: str = "default/web") -> list[ev.TrafficWindow]:
    return [e for e in sim.trace.of_type(ev.TrafficWindow) if e.service == service_key]  # type: ignore[misc]


def per_pod(window: ev.TrafficWindow, column: str) -> dict[str, float]:
    return dict(zip(window.endpoints, getattr(window, column)))


def internal(rate: float, clients: int = 100, node: str = "worker-1", service_key: str = "default/web") -> LoadGenerator:
    return LoadGenerator(service_key, Constant(rate), clients=clients, entry=Internal(node=node))


def run_windows(sim: Simulation, count: int) -> None:
    """Run to just past the end of the ``count``-th window from now (windows end at multiples of 10 s)."""
    start = sim.now // WINDOW * WINDOW
    sim.run(start + count * WINDOW + 0.01)


def test_doctests_and_validation():
    assert doctest.testmod(load_module).failed == 0
    sim = Simulation(ClusterSpec.uniform(nodes=1, zones=1), seed=1, load_mode=None)
    traffic = Traffic(sim)
    with pytest.raises(ValueError, match="unknown load mode 'exact'"):
        make_load(sim, "exact", traffic=traffic)
    with pytest.raises(ValueError, match="whole number of ticks"):
        make_load(sim, "fluid", traffic=traffic, tick=3.0, window=10.0)
    with pytest.raises(ValueError, match="queue_limit"):
        Serving(queue_limit=-1)


# --- capacity from CPU --------------------------------------------------------------------------------
def test_capacity_is_requests_per_second_per_core_of_the_limit_or_the_request():
    spec = PodSpec((ContainerSpec("a", requests=Resources(250, 0), limits=Resources(1000, 0)),
                    ContainerSpec("b", requests=Resources(250, 0), limits=Resources(500, 0))))  # fmt: skip
    assert Serving().capacity(spec) == 150.0  # limits 1.5 cores x 100 requests/s per core
    assert Serving(cpu_from="request").capacity(spec) == 50.0
    one_unlimited = PodSpec((ContainerSpec("a", requests=Resources(250, 0), limits=Resources(1000, 0)), ContainerSpec("b")))
    assert Serving(rps_per_core=40.0).capacity(one_unlimited) == 10.0  # not every container limited: the request
    assert Serving(default_cores=2.0).capacity(PodSpec((ContainerSpec("a"),))) == 200.0


# --- fluid: splits, capacity, queues, conservation ------------------------------------------------------
def test_fluid_splits_a_rate_evenly_and_serves_it_below_capacity():
    sim, _, load = served_world(deployment(cpu="500m"), service(), generators=(internal(60.0),))
    run_windows(sim, 3)
    last = windows(sim)[-1]
    assert (last.offered, last.served, last.failed, last.queued) == (600.0, 600.0, 0.0, 0.0)
    assert sorted(last.endpoints) == sorted(p.key for p in sim.state.pods.values())
    assert set(last.endpoint_offered) == {200.0} and set(last.endpoint_served) == {200.0}
    # 50 requests/s per pod (0.5 core): 20 ms of service, and the M/D/1 wait at 40 % utilization.
    rho, mu = 20.0 / 50.0, 50.0
    assert last.endpoint_latency[0] == pytest.approx(1 / mu + rho / (2 * mu * (1 - rho)), abs=1e-6)
    assert last.t - last.start == WINDOW


def test_fluid_serves_at_capacity_queues_to_the_limit_and_drops_the_rest():
    # One pod of 100m: 10 requests/s; 30 offered; at most 20 wait.
    sim, _, load = served_world(deployment(replicas=1, cpu="100m"), service(), generators=(internal(30.0),),
                                serving=Serving(queue_limit=20))  # fmt: skip
    run_windows(sim, 3)
    first, second = windows(sim)[:2]
    # tick 1: 30 in, 10 served, 20 wait (the limit); then each tick 30 in, 10 served, 30 dropped... of 50.
    assert (first.offered, first.served, first.failed, first.queued) == (300.0, 100.0, 180.0, 20.0)
    assert (second.offered, second.served, second.failed, second.queued) == (300.0, 100.0, 200.0, 20.0)
    assert second.failure_reasons == (QUEUE_FULL,)
    assert second.endpoint_latency[0] == pytest.approx(0.1 + 20 / 10.0)  # service + a full queue ahead
    assert load.queued(second.endpoints[0]) == 20.0


def spread_pods(sim: Simulation) -> dict[str, list[str]]:
    """Pod keys by node. 1.5-CPU pods on 4-CPU nodes, first fit: two on worker-1, one on worker-2."""
    out: dict[str, list[str]] = {}
    for pod in sorted(sim.state.pods.values(), key=lambda p: p.key):
        out.setdefault(pod.node_name, []).append(pod.key)  # type: ignore[arg-type]
    assert [len(out.get(n, ())) for n in ("worker-1", "worker-2", "worker-3")] == [2, 1, 0]
    return out


def test_fluid_conserves_requests_in_every_window_through_overload_spikes_and_deaths():
    # 30 requests/s per pod (1.5 cores at 20 per core); traffic enters at worker-3, which has no pod.
    sim, traffic, load = served_world(deployment(cpu="1500m"), service(), generators=(internal(40.0, node="worker-3"),),
                                      serving=Serving(rps_per_core=20.0, queue_limit=50))  # fmt: skip
    victim = spread_pods(sim)["worker-2"][0]
    run_windows(sim, 2)
    traffic.add_spike("default/web", 3.0, 35.0)  # 120 requests/s against 90: queues, then drops
    run_windows(sim, 2)
    sim.kubelets["worker-2"].power_off()  # its queue is lost; its endpoint fails until removed
    run_windows(sim, 8)
    queued_before = 0.0
    for window in windows(sim):
        # The trace rounds requests to 3 decimals.
        assert window.offered == pytest.approx(window.served + window.failed + window.queued - queued_before, abs=3e-3)
        assert window.offered == pytest.approx(sum(window.endpoint_offered) + window.failed - sum(window.endpoint_failed), abs=1e-2)
        assert window.failed == pytest.approx(sum(window.failure_counts), abs=1e-2)
        queued_before = window.queued
    reasons = {r for w in windows(sim) for r in w.failure_reasons}
    assert {QUEUE_FULL, ENDPOINT_DEAD, LOST_IN_QUEUE} <= reasons
    assert all(per_pod(w, "endpoint_failed")[victim] == per_pod(w, "endpoint_offered")[victim]
               for w in windows(sim)[5:] if victim in w.endpoints)  # fmt: skip
    total = load.totals["default/web"]
    assert total[0] == pytest.approx(total[1] + total[2] + windows(sim)[-1].queued, abs=1e-6)


def test_a_spike_raises_cpu_usage_for_the_autoscaler():
    sim, traffic, _ = served_world(deployment(cpu="500m"), service(), generators=(internal(30.0),))
    run_windows(sim, 2)
    pods = [p for p in sim.state.pods.values()]
    # 10 requests/s of 50 per pod, plus the 2 % idle floor, of 500 millicores.
    assert [sim.metrics.pod_cpu_millis(p.uid) for p in pods] == [pytest.approx(500 * (0.02 + 10 / 50))] * 3
    traffic.add_spike("default/web", 4.0, 300.0)
    run_windows(sim, 2)
    assert [sim.metrics.pod_cpu_millis(p.uid) for p in pods] == [pytest.approx(500 * (0.02 + 40 / 50))] * 3
    traffic.add_spike("default/web", 10.0, 300.0)  # over capacity: usage stops at the pod's cores
    run_windows(sim, 2)
    assert [sim.metrics.pod_cpu_millis(p.uid) for p in pods] == [pytest.approx(500.0)] * 3


def test_a_pod_with_no_sample_yet_or_dead_has_no_cpu_metric():
    sim, _, load = served_world(deployment(cpu="500m"), service(), generators=(internal(30.0),))
    pod = next(iter(sim.state.pods.values()))
    assert sim.metrics.pod_cpu_millis(pod.uid) is None  # no complete window yet
    run_windows(sim, 1)
    assert sim.metrics.pod_cpu_millis(pod.uid) is not None
    sim.kubelets[pod.node_name].power_off()  # type: ignore[index]
    assert sim.metrics.pod_cpu_millis(pod.uid) is None


# --- failures -----------------------------------------------------------------------------------------------
def test_traffic_to_a_dead_pod_fails_until_the_proxies_drop_it():
    sim, _, load = served_world(deployment(cpu="1500m"), service(), generators=(internal(60.0, node="worker-3"),))
    victim = spread_pods(sim)["worker-2"][0]
    run_windows(sim, 1)
    sim.kubelets["worker-2"].power_off()
    run_windows(sim, 2)
    window = windows(sim)[-1]
    failed = per_pod(window, "endpoint_failed")
    assert failed[victim] == per_pod(window, "endpoint_offered")[victim] > 0
    assert window.failure_reasons == (ENDPOINT_DEAD,)
    # Until the node lifecycle controller sees the node gone and its pods leave the endpoints.
    sim.run_for(k8s.NODE_MONITOR_GRACE_PERIOD_SECONDS + k8s.DEFAULT_TOLERATION_SECONDS + 3 * WINDOW)
    last = windows(sim)[-1]
    assert last.failed == 0.0 and victim not in last.endpoints


@pytest.mark.parametrize("mode", ["fluid", "request"])
@pytest.mark.parametrize("pre_stop", [None, 15])
def test_a_pre_stop_sleep_answers_what_the_proxies_still_send_a_deleted_pod(mode, pre_stop):
    """The drain pattern: a deleted pod leaves the endpoints at once, but the proxies route by the old
    view for the propagation delay (5 s here). Without a hook its container exits 1 s after the
    delete and the connections meanwhile fail; with ``preStop: {sleep: {seconds: 15}}`` it keeps
    running (kuberuntime_container.go killContainer runs the hook before SIGTERM) and answers them."""
    doc = deployment(cpu="1500m")
    if pre_stop is not None:
        doc["spec"]["template"]["spec"]["containers"][0]["lifecycle"] = {"preStop": {"sleep": {"seconds": pre_stop}}}
    sim, _, _ = served_world(doc, service(), generators=(internal(60.0, node="worker-3"),), mode=mode,
                             timing=Timing(endpoint_propagation_seconds=5.0))  # fmt: skip
    victim = min(sim.state.pods_by_key)
    run_windows(sim, 1)
    deleted_at = sim.now
    sim.state.request_pod_deletion(sim.state.pods_by_key[victim].uid, "PodKill")
    run_windows(sim, 2)
    window = windows(sim)[-2]  # the one with the delete
    assert per_pod(window, "endpoint_offered")[victim] > 60  # the proxies sent it traffic for ~5 s
    failed = per_pod(window, "endpoint_failed")[victim]
    gone = [e.t for e in sim.trace.of_type(ev.PodDeleted) if e.pod == victim]
    if pre_stop is None:
        assert failed > 40 and ENDPOINT_DEAD in window.failure_reasons  # ~4 s at 20 requests/s
        assert gone == [pytest.approx(deleted_at + Timing().container_stop_seconds)]
    else:
        assert (failed, window.failed, window.failure_reasons) == (0.0, 0.0, ())
        assert gone == [pytest.approx(deleted_at + pre_stop + Timing().container_stop_seconds)]
    assert victim not in windows(sim)[-1].endpoints


def test_internal_traffic_from_a_missing_client_pod_fails():
    generator = LoadGenerator("default/web", Constant(5.0), entry=Internal(pod="default/nobody"))
    sim, _, _ = served_world(deployment(), service(), generators=(generator,))
    run_windows(sim, 1)
    (window,) = windows(sim)
    assert (window.offered, window.failed, window.failure_reasons, window.endpoints) == (50.0, 50.0, (NO_CLIENT,), ())


@pytest.mark.parametrize("mode", ["fluid", "request"])
@pytest.mark.parametrize("crashed, fails", [("logshipper", False), ("app", True)])
def test_a_crashed_sidecar_fails_no_request_while_the_pod_is_listed_a_crashed_app_container_does(mode, crashed, fails):
    """Both modes ask the proxy the same question: is the container serving the Service's port running?"""
    doc = deployment()
    doc["spec"]["template"]["spec"]["containers"] = [
        {"name": "app", "image": "nginx", "ports": [{"containerPort": 80}], "resources": {"requests": {"cpu": "1"}}},
        {"name": "logshipper", "image": "fluent-bit", "resources": {"requests": {"cpu": "100m"}}},
    ]
    delay = WINDOW  # the proxies keep the pod a whole window after it turns not Ready
    sim, _, _ = served_world(doc, service(), generators=(internal(60.0, node="worker-3"),), mode=mode,
                             timing=Timing(endpoint_propagation_seconds=delay))  # fmt: skip
    victim = min(sim.state.pods_by_key)
    kubelet = sim.kubelets[sim.state.pods_by_key[victim].node_name]  # type: ignore[index]
    run_windows(sim, 1)
    assert kubelet.crash_container(victim, crashed)  # restarted at once (the first restart has no back-off)
    sim.run_for(0.5)
    assert kubelet.crash_container(victim, crashed)  # now a 10 s back-off
    run_windows(sim, 1)
    window = windows(sim)[-1]
    assert not sim.state.pods_by_key[victim].ready and victim in window.endpoints
    offered, failed = per_pod(window, "endpoint_offered")[victim], per_pod(window, "endpoint_failed")[victim]
    assert offered > 150  # a third of 60 requests/s for most of the window
    if fails:
        assert failed > 0.8 * offered and ENDPOINT_DEAD in window.failure_reasons
        assert set(window.failure_reasons) <= {ENDPOINT_DEAD, LOST_IN_QUEUE}  # (in service at the crash)
    else:
        assert (failed, window.failed, window.failure_reasons) == (0.0, 0.0, ())


def two_services_two_containers(mode: str, **load_args: Any) -> tuple[Simulation, str]:
    """Three pods of an app container serving Service web (targetPort ``http``) and a log container
    serving Service logs (``logs``), each Service under load; then the log container of the first pod
    crashes (into a back-off) at the start of the second window. Returns the pod's key."""
    sim = Simulation(ClusterSpec.uniform(nodes=3, zones=1), seed=1, scheduler="first-fit", load_mode=None,
                     timing=Timing(endpoint_propagation_seconds=WINDOW))  # fmt: skip
    labels = (("app", "web"),)
    containers = (ContainerSpec("app", requests=Resources(1000, 0), cpu_requested=True, ports=(("http", 8080),)),
                  ContainerSpec("log", requests=Resources(100, 0), cpu_requested=True, ports=(("logs", 2020),)))  # fmt: skip
    template = PodTemplate(labels, PodSpec(containers=containers))
    sim.create_workload(Deployment(sim.new_uid(), "web", "default", LabelSelector(match_labels=labels), template, 3))
    for name, target in (("web", "http"), ("logs", "logs")):
        sim.state.put_object("Service", "default", name, Service(name, "default", selector=labels, ports=(ServicePort(80, target),)))
    assert sim.run_until_stable(timeout=120)
    sim.run(-(-(sim.now + WINDOW + 0.5) // WINDOW) * WINDOW)
    generators = (internal(60.0, node="worker-3"), internal(30.0, node="worker-3", service_key="default/logs"))
    make_load(sim, mode, traffic=Traffic(sim, generators), **load_args).start()
    victim = min(sim.state.pods_by_key)
    kubelet = sim.kubelets[sim.state.pods_by_key[victim].node_name]  # type: ignore[index]
    run_windows(sim, 1)
    assert kubelet.crash_container(victim, "log")
    sim.run_for(0.5)
    assert kubelet.crash_container(victim, "log")
    return sim, victim


@pytest.mark.parametrize("mode", ["fluid", "request"])
def test_a_pod_behind_two_services_answers_each_from_the_container_serving_its_port(mode):
    """A crashed log container fails only the logs Service's requests to that pod: the check is per
    Service, not per pod, in both modes."""
    sim, victim = two_services_two_containers(mode)
    run_windows(sim, 1)
    web, logs = windows(sim)[-1], windows(sim, "default/logs")[-1]
    assert per_pod(web, "endpoint_offered")[victim] > 150 and (web.failed, web.failure_reasons) == (0.0, ())
    failed = per_pod(logs, "endpoint_failed")[victim]
    assert failed > 0.8 * per_pod(logs, "endpoint_offered")[victim] and ENDPOINT_DEAD in logs.failure_reasons


@pytest.mark.parametrize("mode", ["fluid", "request"])
def test_a_pod_queueing_for_two_services_loses_only_the_stopped_containers_requests(mode):
    # 11 requests/s per pod (1.1 cores at 10 per core) against 30: queues full for both Services.
    sim, victim = two_services_two_containers(mode, serving=Serving(rps_per_core=10.0, queue_limit=40))
    run_windows(sim, 1)
    web, logs = windows(sim)[-1], windows(sim, "default/logs")[-1]
    assert LOST_IN_QUEUE in logs.failure_reasons and QUEUE_FULL in web.failure_reasons
    assert LOST_IN_QUEUE not in web.failure_reasons and ENDPOINT_DEAD not in web.failure_reasons
    assert per_pod(web, "endpoint_served")[victim] > 50  # the app kept serving (11 requests/s at most)
    for service_key in ("default/web", "default/logs"):
        queued_before = 0.0
        for w in windows(sim, service_key):
            assert w.offered == pytest.approx(w.served + w.failed + w.queued - queued_before, abs=3e-3)
            queued_before = w.queued


@pytest.mark.parametrize("mode", ["fluid", "request"])
def test_traffic_across_a_partition_fails(mode):
    sim, _, _ = served_world(deployment(replicas=3, cpu="3"), service(), generators=(internal(30.0, node="worker-1"),), mode=mode)
    by_node = {sim.state.pods_by_key[k].node_name: k for k in (p.key for p in sim.state.pods.values())}
    assert sorted(by_node) == ["worker-1", "worker-2", "worker-3"]  # 3 CPUs each: one per node
    sim.network.apply(Split(groups=(("worker-1",),)))
    run_windows(sim, 2)
    window = windows(sim)[-1]
    failed = per_pod(window, "endpoint_failed")
    assert failed[by_node["worker-1"]] == 0
    assert failed[by_node["worker-2"]] > 0 and failed[by_node["worker-3"]] > 0
    assert window.failure_reasons == (UNREACHABLE,)


# --- who gets the traffic -----------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["fluid", "request"])
def test_session_affinity_with_few_clients_loads_few_pods(mode):
    docs = (deployment(replicas=4, cpu="500m"), service(sessionAffinity="ClientIP"))
    sim, _, _ = served_world(*docs, generators=(internal(40.0, clients=2),), mode=mode)
    run_windows(sim, 3)
    loaded = {k for w in windows(sim) for k, v in per_pod(w, "endpoint_offered").items() if v > 0}
    assert 1 <= len(loaded) <= 2
    free, _, _ = served_world(deployment(replicas=4, cpu="500m"), service(), generators=(internal(40.0, clients=2),), mode=mode)
    run_windows(free, 3)
    assert len({k for w in windows(free) for k in w.endpoints}) == 4


def test_external_traffic_policy_local_loads_pods_unevenly_when_they_are_unevenly_spread():
    # 1.5-CPU pods on 4-CPU nodes with a first-fit scheduler: two on worker-1, one on worker-2.
    docs = (deployment(replicas=3, cpu="1500m"), service(type="LoadBalancer", externalTrafficPolicy="Local"))
    generator = LoadGenerator("default/web", Constant(90.0), entry=External())
    sim, _, _ = served_world(*docs, generators=(generator,))
    run_windows(sim, 6)  # the load balancer registers its targets (30 s) and health-checks them
    lb = sim.load_balancers.balancer("default", "web")
    assert lb is not None and lb.serving_targets() == ["worker-1", "worker-2"]
    window = windows(sim)[-1]
    offered = per_pod(window, "endpoint_offered")
    by_node = {k: sim.state.pods_by_key[k].node_name for k in offered}
    alone = [k for k, n in by_node.items() if n == "worker-2"]
    paired = [k for k, n in by_node.items() if n == "worker-1"]
    assert len(alone) == 1 and len(paired) == 2
    assert offered[alone[0]] == pytest.approx(450.0)  # half the load balancer's traffic
    assert [offered[k] for k in paired] == [pytest.approx(225.0)] * 2  # the other half, shared
    assert window.failed == 0.0


# --- request mode ---------------------------------------------------------------------------------------------
def test_request_mode_latency_grows_with_queueing():
    latency = {}
    for rate in (20.0, 90.0, 150.0):
        sim, _, _ = served_world(deployment(replicas=1, cpu="1"), service(), generators=(internal(rate),), mode="request",
                                 serving=Serving(queue_limit=50))  # fmt: skip
        run_windows(sim, 12)
        served = sum(sum(w.endpoint_served) for w in windows(sim)[2:])
        latency[rate] = sum(sum(s * lat for s, lat in zip(w.endpoint_served, w.endpoint_latency)) for w in windows(sim)[2:]) / served
    mu = 100.0  # one core
    for rate in (20.0, 90.0):  # M/D/1: service time plus rho / (2 mu (1 - rho))
        rho = rate / mu
        assert latency[rate] == pytest.approx(1 / mu + rho / (2 * mu * (1 - rho)), rel=0.25)
    assert latency[20.0] < latency[90.0] < latency[150.0]
    assert latency[150.0] == pytest.approx(50 / mu, rel=0.1)  # overloaded: behind a full queue of 50


def test_request_mode_agrees_with_the_fluid_mode_on_averages():
    totals = {}
    for mode in ("fluid", "request"):
        sim, _, load = served_world(deployment(cpu="500m"), service(), generators=(internal(120.0),), mode=mode)
        run_windows(sim, 10)
        totals[mode] = load.totals["default/web"]
    assert totals["request"][0] == pytest.approx(totals["fluid"][0], rel=0.05)
    assert totals["request"][1] == pytest.approx(totals["fluid"][1], rel=0.05)


def test_request_mode_loses_the_queue_of_a_pod_that_dies():
    # 15 requests/s per pod (1.5 cores at 10 per core), 20 offered to each: queues fill.
    sim, _, load = served_world(deployment(cpu="1500m"), service(), generators=(internal(60.0, node="worker-3"),),
                                mode="request", serving=Serving(rps_per_core=10.0, queue_limit=40))  # fmt: skip
    victim = spread_pods(sim)["worker-2"][0]
    run_windows(sim, 2)
    assert load.queued(victim) > 10
    sim.kubelets["worker-2"].power_off()
    run_windows(sim, 1)
    window = windows(sim)[-1]
    assert dict(zip(window.failure_reasons, window.failure_counts))[LOST_IN_QUEUE] > 10
    assert load.queued(victim) == 0
    queued_before = 0.0
    for w in windows(sim):
        assert w.offered == w.served + w.failed + w.queued - queued_before
        queued_before = w.queued
    assert sim.proxy.delivered > 0


def test_request_mode_is_deterministic():
    def run() -> str:
        sim, traffic, _ = served_world(deployment(cpu="500m"), service(), generators=(internal(80.0),), mode="request", seed=5)
        traffic.add_spike("default/web", 2.0, 15.0)
        run_windows(sim, 4)
        return Trace.to_jsonl(sim.trace)

    assert run() == run()


@pytest.mark.parametrize("proxy_mode", ["iptables", "nftables"])
def test_request_mode_routes_as_the_proxy_would_request_by_request(monkeypatch, proxy_mode):
    # The request mode writes out the proxy's uniform draw; routing every request through
    # Proxy.route instead must give the same trace: same draws, same endpoints, same failures.
    def run(inline: bool) -> tuple[str, int, dict[str, int], int]:
        monkeypatch.setattr(RequestLoad, "inline_routing", inline)
        routed = [0]
        route = Proxy.route

        def counting(self: Proxy, *args: Any, **kwargs: Any) -> Any:
            routed[0] += 1
            return route(self, *args, **kwargs)

        monkeypatch.setattr(Proxy, "route", counting)
        docs = (deployment(cpu="1500m"), service(type="NodePort"), deployment("db", replicas=1, cpu="500m"), service("db"))
        generators = (internal(40.0, node="worker-3"), LoadGenerator("default/web", Constant(20.0), clients=7, entry=External()),
                      internal(60.0, node="worker-2", service_key="default/db"))  # fmt: skip
        sim, traffic, _ = served_world(*docs, generators=generators, mode="request", proxy_mode=proxy_mode,
                                       serving=Serving(rps_per_core=20.0, queue_limit=10))  # fmt: skip
        run_windows(sim, 1)
        traffic.add_spike("default/web", 3.0, 8.0)
        run_windows(sim, 1)
        sim.kubelets["worker-1"].power_off()  # the db pod and two web pods: dead endpoints, lost queues
        run_windows(sim, 1)
        sim.network.apply(Split(groups=(("worker-3",),)))  # across a partition
        run_windows(sim, 1)
        return sim.trace.to_jsonl(), sim.proxy.delivered, dict(sim.proxy.failures), routed[0]

    inline, routed = run(True), run(False)
    assert inline[:3] == routed[:3]
    assert inline[3] == 0 and routed[3] > 1000  # written out, or the proxy asked every time
    reasons = {r for w in Trace.from_jsonl(inline[0]).of_type(ev.TrafficWindow) for r in w.failure_reasons}  # type: ignore[attr-defined]
    assert {QUEUE_FULL, ENDPOINT_DEAD, LOST_IN_QUEUE, UNREACHABLE} <= reasons


def test_request_mode_offers_in_each_window_every_request_drawn_in_it(monkeypatch):
    # Offered counts are derived when a window closes (served + failed + waiting now - waiting
    # then); they must add up to the requests drawn, through queues, drops, deaths and partitions.
    drawn: list[tuple[float, int]] = []
    arrivals = RequestLoad._arrivals

    def counting(self: RequestLoad, now: float, end: float, alive: dict[str, bool]) -> None:
        before = self.requests
        arrivals(self, now, end, alive)
        drawn.append((now, self.requests - before))

    monkeypatch.setattr(RequestLoad, "_arrivals", counting)
    docs = (deployment(cpu="1500m"), service(), service("web-too", app="web"))
    generators = (internal(50.0, node="worker-3"), internal(30.0, node="worker-1", service_key="default/web-too"))
    sim, _, _ = served_world(*docs, generators=generators, mode="request", serving=Serving(rps_per_core=20.0, queue_limit=15))
    run_windows(sim, 2)
    sim.kubelets["worker-2"].power_off()
    run_windows(sim, 2)
    sim.network.apply(Split(groups=(("worker-3",),)))
    run_windows(sim, 2)
    offered: dict[tuple[float, float], float] = {}  # window -> offered, both Services
    reasons = set()
    for w in sim.trace.of_type(ev.TrafficWindow):
        offered[(w.start, w.t)] = offered.get((w.start, w.t), 0.0) + w.offered  # type: ignore[attr-defined]
        reasons.update(w.failure_reasons)  # type: ignore[attr-defined]
    assert len(offered) == 6
    for (start, end), count in offered.items():
        assert count == sum(n for t, n in drawn if start - 1e-6 < t < end - 1e-6)
    assert {QUEUE_FULL, ENDPOINT_DEAD, LOST_IN_QUEUE, UNREACHABLE} <= reasons


def test_traffic_windows_survive_a_json_round_trip():
    sim, _, _ = served_world(deployment(cpu="100m"), service(), generators=(internal(30.0),))
    run_windows(sim, 2)
    text = sim.trace.to_jsonl()
    again = Trace.from_jsonl(text)
    assert [e for e in again if isinstance(e, ev.TrafficWindow)] == windows(sim)
    assert again.to_jsonl() == text


# --- the shared manifests, end to end -------------------------------------------------------------------------
@pytest.mark.skipif(not (MANIFESTS / "online-boutique.yaml").is_file(), reason="the shared sample manifests are missing")
@pytest.mark.parametrize("mode", ["fluid", "request"])
def test_online_boutique_frontend_external_traffic_reaches_the_frontend_pods_through_the_load_balancer(mode):
    sim = Simulation(ClusterSpec.default(), seed=3, load_mode=None)
    sim.apply(load_manifests(MANIFESTS / "online-boutique.yaml"))
    assert sim.run_until_stable(timeout=600)
    sim.run(-(-sim.now // WINDOW) * WINDOW)
    traffic = Traffic(sim, [LoadGenerator("default/frontend-external", Constant(15.0), clients=500, entry=External())])
    load = make_load(sim, mode, traffic=traffic)
    load.start()
    run_windows(sim, 6)  # the load balancer registers every node (30 s) and health-checks it (8 s)
    lb = sim.load_balancers.balancer("default", "frontend-external")
    assert lb is not None and lb.serving_targets() == [n.name for n in sim.state.node_list]
    frontends = {p.key for p in sim.state.pods.values() if p.labels.get("app") == "frontend"}
    early, last = windows(sim, "default/frontend-external")[0], windows(sim, "default/frontend-external")[-1]
    assert early.failure_reasons == ("no-lb-target",)  # before the first target registered
    assert set(last.endpoints) == frontends
    assert last.failed == 0 and last.served == pytest.approx(150.0, rel=0.2)  # 15 requests/s, under the 20 of its 200m
    frontend = next(iter(frontends))
    assert sim.metrics.pod_cpu_millis(sim.state.pods_by_key[frontend].uid) > 0  # type: ignore[operator]


# --- the autoscaler reads the load ------------------------------------------------------------------------------
HPA = {
    "apiVersion": "autoscaling/v2",
    "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "web"},
    "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": 1,
        "maxReplicas": 10,
        "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}],
    },
}


def test_a_spike_gets_more_replicas_and_a_quiet_time_fewer_after_the_stabilization_window():
    # 500m per pod: 50 requests/s; 15 offered keep one pod at 32 % of its request, under the 50 % target.
    sim, traffic, _ = served_world(deployment(replicas=1, cpu="500m"), service(), HPA, generators=(internal(15.0),))
    replicas = lambda: sim.state.workload_named("Deployment", "default", "web").replicas
    sim.run_for(120.0)
    assert replicas() == 1
    spike_start = traffic.add_spike("default/web", 6.0, 300.0)  # 90 requests/s
    sim.run(spike_start + 300.0)
    peak = replicas()
    assert peak >= 3  # 90 requests/s at 50 % of 50 per pod needs 4 (3.6)
    scaled = [e for e in sim.trace.of_type(ev.HorizontalPodAutoscalerScaled)]  # type: ignore[attr-defined]
    ups = [e.t for e in scaled if e.to_replicas > e.from_replicas]
    assert ups and ups[0] < spike_start + 60.0
    quiet = spike_start + 300.0
    sim.run(quiet + k8s.HPA_DOWNSCALE_STABILIZATION_SECONDS - 30.0)
    assert replicas() == peak  # the 300 s downscale stabilization window holds the peak
    sim.run(quiet + k8s.HPA_DOWNSCALE_STABILIZATION_SECONDS + 120.0)
    assert replicas() == 1


def test_steady_windows_emitted_again_are_the_windows_the_model_would_compute(monkeypatch):
    def run(reuse: bool) -> list[ev.TrafficWindow]:
        monkeypatch.setattr(FluidLoad, "reuse_steady_windows", reuse)
        docs = (deployment(cpu="1500m"), service(), deployment("db", replicas=1, cpu="100m"), service("db"))
        ramp = LoadGenerator("default/db", Ramp(1.0, 30.0, start=0.0, end=80.0), entry=Internal(node="worker-1"))
        generators = (internal(40.0, node="worker-3"), ramp)  # the ramp overloads db, then stays flat
        sim, traffic, _ = served_world(*docs, generators=generators, serving=Serving(rps_per_core=20.0, queue_limit=50))
        run_windows(sim, 4)
        traffic.add_spike("default/web", 3.0, 35.0)
        run_windows(sim, 6)
        sim.kubelets["worker-2"].power_off()
        run_windows(sim, 6)
        return [e for e in sim.trace.of_type(ev.TrafficWindow)]  # type: ignore[misc]

    assert run(True) == run(False)


def test_windows_computed_as_they_are_emitted_are_the_windows_counted_into_rows(monkeypatch):
    computed = [0]
    direct_rows = FluidLoad._direct_rows

    def counting(self: FluidLoad, *args: Any) -> Any:
        computed[0] += 1
        return direct_rows(self, *args)

    monkeypatch.setattr(FluidLoad, "_direct_rows", counting)

    def run(direct: bool) -> str:
        monkeypatch.setattr(FluidLoad, "direct_windows", direct)
        docs = (deployment(cpu="1500m"), service(), service("web-too", app="web"), deployment("db", replicas=2, cpu="500m"),
                service("db"), deployment("api", replicas=2, cpu="200m"), service("api"),
                deployment("cache", replicas=3, cpu="1"), service("cache", sessionAffinity="ClientIP"))  # fmt: skip
        generators = (
            LoadGenerator("default/web", Diurnal(40.0, 30.0, period=90.0), entry=Internal(node="worker-3")),
            LoadGenerator("default/web-too", Constant(5.0), entry=Internal(node="worker-1")),  # the same pods
            LoadGenerator("default/web-too", Ramp(1.0, 9.0, start=0.0, end=100.0), entry=Internal(node="worker-2")),
            LoadGenerator("default/db", Ramp(5.0, 60.0, start=0.0, end=300.0), entry=Internal(node="worker-1")),  # overloads
            LoadGenerator("default/api", Diurnal(10.0, 5.0, period=50.0), entry=Internal(node="worker-2")),
            LoadGenerator("default/cache", Ramp(5.0, 50.0, start=0.0, end=200.0), clients=5, entry=Internal(node="worker-3")),
        )  # five sticky clients: uneven shares
        sim, traffic, _ = served_world(*docs, generators=generators, serving=Serving(rps_per_core=40.0, queue_limit=50))
        run_windows(sim, 6)
        traffic.add_spike("default/db", 2.0, 25.0)
        run_windows(sim, 6)
        sim.kubelets["worker-2"].power_off()
        run_windows(sim, 6)
        return sim.trace.to_jsonl()

    counted = run(False)
    assert computed[0] == 0
    assert run(True) == counted
    assert computed[0] > 10


@pytest.mark.parametrize("flows", [1, 2])
def test_the_fluid_mode_gives_what_ticking_every_pod_every_second_gives(flows):
    # One pod of 10 requests/s and a queue of 20, under a rate that swings from 2 to 18 and back:
    # cool, filling, full and draining, in turn; from one generator, or two sharing the pod.
    shape = Diurnal(mean=10.0, amplitude=8.0, period=120.0, peak_at=30.0)
    if flows == 1:
        generators = (LoadGenerator("default/web", shape, entry=Internal(node="worker-1")),)
    else:
        halves = Diurnal(mean=5.0, amplitude=4.0, period=120.0, peak_at=30.0)
        generators = tuple(LoadGenerator("default/web", halves, entry=Internal(node=n)) for n in ("worker-1", "worker-2"))
    sim, _, load = served_world(deployment(replicas=1, cpu="100m"), service(), generators=generators,
                                serving=Serving(queue_limit=20))  # fmt: skip
    origin = sim.now
    run_windows(sim, 24)
    queue = 0.0
    expected = []
    for w in range(24):
        offered = served = dropped = 0.0
        for k in range(10):
            t = origin + w * WINDOW + k
            arrived = shape.integral(t, t + 1.0)
            total = queue + arrived
            done = min(total, 10.0)
            left = total - done
            drop = max(0.0, left - 20.0)
            queue = left - drop
            offered, served, dropped = offered + arrived, served + done, dropped + drop
        expected.append((round(offered, 3), round(served, 3), round(dropped, 3), round(queue, 3)))
    got = [(w.offered, w.served, w.failed, w.queued) for w in windows(sim)]
    assert [pytest.approx(e, abs=2e-3) for e in expected] == got
    assert {QUEUE_FULL} == {r for w in windows(sim) for r in w.failure_reasons}


def test_lazy_accounting_counts_what_stepping_every_pod_every_tick_counts(monkeypatch):
    def run(tick_every_pod: bool) -> list[tuple[float, ...]]:
        monkeypatch.setattr(FluidLoad, "tick_every_pod", tick_every_pod)
        docs = (deployment(cpu="1500m"), service(), deployment("db", replicas=1, cpu="100m"), service("db"))
        ramp = LoadGenerator("default/db", Ramp(1.0, 30.0, start=0.0, end=80.0), entry=Internal(node="worker-1"))
        swing = LoadGenerator("default/web", Diurnal(60.0, 50.0, period=200.0), entry=Internal(node="worker-3"))
        sim, traffic, _ = served_world(*docs, generators=(swing, ramp), serving=Serving(rps_per_core=20.0, queue_limit=50))
        run_windows(sim, 10)
        traffic.add_spike("default/web", 2.0, 35.0)
        sim.kubelets["worker-2"].power_off()
        run_windows(sim, 10)
        return [(w.service, *w.totals, *w.endpoint_offered, *w.endpoint_served, *w.endpoint_failed)
                for w in sim.trace.of_type(ev.TrafficWindow)]  # type: ignore[attr-defined]  # fmt: skip

    lazy, stepped = run(False), run(True)
    assert len(lazy) == len(stepped) == 40
    for a, b in zip(lazy, stepped):
        assert a[0] == b[0] and a[1:] == pytest.approx(b[1:], abs=2e-3)
