"""The EndpointSlice controller: which pods back a Service, their conditions (k8s-semantics.md section 7,
upstream staging/src/k8s.io/endpointslice/utils.go podToEndpoint), and the propagation delay before
the node proxies see a change."""

from __future__ import annotations

import doctest
from dataclasses import replace
from typing import Any

import pytest
import yaml

from podquake.model import constants as k8s
from podquake.model import endpoints as endpoints_module
from podquake.model import proxy as proxy_module
from podquake.model import trace as ev
from podquake.model.cluster import ClusterSpec
from podquake.model.endpoints import Endpoint, EndpointSet, EndpointSliceController
from podquake.model.manifests import load_manifests
from podquake.model.resources_api import Service
from podquake.model.simulation import Simulation, Timing
from podquake.model.trace import Trace

READINESS_FAILS_AFTER = k8s.PROBE_PERIOD_SECONDS * k8s.PROBE_FAILURE_THRESHOLD  # 3 failing probes, 10 s apart


def deployment(name: str = "web", replicas: int = 3, cpu: str = "100m", app: str | None = None) -> dict[str, Any]:
    app = app or name
    container = {
        "name": name,
        "image": "nginx",
        "resources": {"requests": {"cpu": cpu}},
        "readinessProbe": {"httpGet": {"path": "/", "port": 80}},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": app}},
            "template": {"metadata": {"labels": {"app": app}}, "spec": {"containers": [container]}},
        },
    }


def service(name: str = "web", app: str | None = None, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"selector": {"app": app or name}, "ports": [{"port": 80}]}
    body.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": body}


def world(
    *docs: dict[str, Any],
    nodes: int = 3,
    delay: float = 1.0,
    timing: Timing | None = None,
    seed: int = 1,
    settle: bool = True,
) -> tuple[Simulation, EndpointSliceController]:
    """A cluster with an EndpointSlice controller, the given objects applied, run to a steady state
    and then for the propagation delay (so the proxies see the steady state)."""
    timing = replace(timing or Timing(), endpoint_propagation_seconds=delay)
    sim = Simulation(ClusterSpec.uniform(nodes=nodes, zones=1), seed=seed, scheduler="first-fit", timing=timing)
    endpoints = sim.endpoints
    docs = docs or (deployment(), service())
    sim.apply(load_manifests(text=yaml.safe_dump_all(docs)))
    if settle:
        assert sim.run_until_stable(timeout=120)
        sim.run_for(delay + 0.5)  # SimPy's run(until=t) stops before the events due at t
    return sim, endpoints


def pods_of(sim: Simulation, app: str) -> list[str]:
    return sorted(p.key for p in sim.state.pods.values() if p.labels.get("app") == app)


def changes(sim: Simulation, service_key: str) -> list[ev.EndpointsChanged]:
    return [e for e in sim.trace.of_type(ev.EndpointsChanged) if e.service == service_key]  # type: ignore[misc]


# --- which pods, which conditions -------------------------------------------------------------------
def test_every_ready_pod_is_a_ready_serving_endpoint_in_pod_key_order():
    sim, endpoints = world()
    published = endpoints.published["default/web"]
    assert [e.pod for e in published.endpoints] == pods_of(sim, "web")
    assert all(e.ready and e.serving and not e.terminating for e in published.endpoints)
    assert {e.node for e in published.endpoints} == {sim.state.pods_by_key[k].node_name for k in pods_of(sim, "web")}
    assert (published.ready, published.serving_terminating, published.not_ready) == (3, 0, 0)


def test_the_proxies_see_a_change_exactly_the_propagation_delay_after_it():
    sim, _ = world(delay=2.5)
    last_ready = max(e.t for e in sim.trace.of_type(ev.PodReadyChanged) if e.ready)  # type: ignore[attr-defined]
    final = changes(sim, "default/web")[-1]
    assert (final.ready, final.t) == (3, last_ready + 2.5)
    versions = [e.version for e in changes(sim, "default/web")]
    assert versions == list(range(1, len(versions) + 1))


def test_a_pod_failing_readiness_is_neither_ready_nor_serving():
    sim, endpoints = world()
    victim = pods_of(sim, "web")[0]
    sim.kubelets[sim.state.pods_by_key[victim].node_name].fail_probe(victim, 0, "readiness")
    sim.run_for(READINESS_FAILS_AFTER + 1.0)
    by_pod = {e.pod: e for e in endpoints.endpoints_of("default/web")}
    assert (by_pod[victim].ready, by_pod[victim].serving, by_pod[victim].terminating) == (False, False, False)
    assert endpoints.published["default/web"].not_ready == 1


def test_publish_not_ready_addresses_keeps_a_not_ready_pod_ready():
    sim, endpoints = world(deployment(), service(publishNotReadyAddresses=True))
    victim = pods_of(sim, "web")[0]
    sim.kubelets[sim.state.pods_by_key[victim].node_name].fail_probe(victim, 0, "readiness")
    sim.run_for(READINESS_FAILS_AFTER + 1.0)
    by_pod = {e.pod: e for e in endpoints.endpoints_of("default/web")}
    assert (by_pod[victim].ready, by_pod[victim].serving) == (True, False)


@pytest.mark.parametrize("publish_not_ready", [False, True])
def test_a_terminating_pod_stays_serving_until_it_is_gone(publish_not_ready):
    sim, endpoints = world(
        deployment(), service(publishNotReadyAddresses=publish_not_ready), timing=Timing(container_stop_seconds=20.0)
    )
    victim = sim.state.pods_by_key[pods_of(sim, "web")[0]]
    sim.state.request_pod_deletion(victim.uid, "test")
    sim.run_for(1.0 + 0.5)
    endpoint = {e.pod: e for e in endpoints.endpoints_of("default/web")}[victim.key]
    # upstream: ready = publishNotReadyAddresses || (Ready && !terminating); serving = Ready
    assert (endpoint.ready, endpoint.serving, endpoint.terminating) == (publish_not_ready, True, True)
    assert endpoint.serving_terminating is (not publish_not_ready)
    sim.run_for(20.0)
    assert victim.key not in {e.pod for e in endpoints.endpoints_of("default/web")}


# --- the index --------------------------------------------------------------------------------------
def test_the_selector_picks_pods_by_label_and_namespace_only():
    other_ns = deployment("web")
    other_ns["metadata"]["namespace"] = "shop"
    sim, endpoints = world(deployment("web"), deployment("api"), other_ns, service("web"))
    assert {e.pod for e in endpoints.endpoints_of("default/web")} == set(pods_of(sim, "web")) - {
        p.key for p in sim.state.pods.values() if p.namespace == "shop"
    }
    assert all(k.startswith("default/web-") for k in endpoints.selected_pods("default/web"))


def test_a_service_applied_after_its_pods_finds_them_and_new_pods_join():
    sim, endpoints = world(deployment(replicas=2))
    sim.apply(load_manifests(text=yaml.safe_dump(service())))
    sim.run_for(1.5)
    assert len(endpoints.endpoints_of("default/web")) == 2
    web = sim.state.workload_named("Deployment", "default", "web")
    sim.state.scale_workload(web.uid, 4)
    assert sim.run_until_stable(timeout=60)
    sim.run_for(1.5)
    assert [e.pod for e in endpoints.endpoints_of("default/web")] == pods_of(sim, "web")
    assert len(pods_of(sim, "web")) == 4


def test_a_pod_change_recomputes_only_the_services_that_select_it():
    sim, endpoints = world(deployment("web"), deployment("api"), service("web"), service("api"))
    api_version = endpoints.published["default/api"].version
    web_version = endpoints.published["default/web"].version
    victim = pods_of(sim, "web")[0]
    sim.kubelets[sim.state.pods_by_key[victim].node_name].fail_probe(victim, 0, "readiness")
    sim.run_for(READINESS_FAILS_AFTER + 1.0)
    assert endpoints.published["default/web"].version == web_version + 1
    assert endpoints.published["default/api"].version == api_version


def test_a_service_reapplied_with_another_selector_moves_to_those_pods():
    sim, endpoints = world(deployment("web"), deployment("api", replicas=2), service("web"))
    current: Service = sim.state.objects[("Service", "default", "web")]  # type: ignore[assignment]
    sim.state.put_object("Service", "default", "web", replace(current, selector=(("app", "api"),)))
    sim.run_for(1.5)
    assert [e.pod for e in endpoints.endpoints_of("default/web")] == pods_of(sim, "api")
    assert endpoints.selected_pods("default/web") == pods_of(sim, "api")


def test_a_pod_without_an_ip_has_no_endpoint():
    # 5 CPUs do not fit a 4-CPU node: the pod stays Pending, unbound, without an IP.
    sim, endpoints = world(deployment(cpu="5"), service(), settle=False)
    sim.run_for(30.0)
    assert len(endpoints.selected_pods("default/web")) == 3
    assert endpoints.endpoints_of("default/web") == ()
    assert changes(sim, "default/web")[-1].version == 1  # the empty placeholder only


def test_a_bound_pod_gets_an_endpoint_only_once_it_runs():
    sim, endpoints = world(deployment(), service(publishNotReadyAddresses=True), settle=False)
    start = sim.timing.container_start_seconds
    sim.run_for(start / 2)
    assert all(p.node_name is not None and p.phase == "Pending" for p in sim.state.pods.values())
    assert endpoints.compute("default/web") == ()
    sim.run_for(start)
    assert len(endpoints.compute("default/web")) == 3


def test_a_pod_declaring_no_port_of_a_named_target_port_is_no_endpoint():
    """Upstream FindPort (pkg/api/v1/pod/util.go, via getEndpointPorts in endpointslice/utils.go)
    fails for a named targetPort no container declares: the endpoint carries no port and kube-proxy
    sends it nothing. The model listed every such pod as a ready endpoint and routed to it. A numeric
    targetPort needs no declaration; the pods declaring the name stay."""
    old = deployment("web", replicas=2)
    old["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"name": "web", "containerPort": 80}]
    new = deployment("web2", replicas=1, app="web")
    new["spec"]["selector"]["matchLabels"]["v"] = "2"
    new["spec"]["template"]["metadata"]["labels"]["v"] = "2"
    new["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"name": "http", "containerPort": 80}]
    sim, endpoints = world(old, new, service("web", ports=[{"port": 80, "targetPort": "http"}]))
    listed = [e.pod for e in endpoints.endpoints_of("default/web")]
    assert listed == [k for k in pods_of(sim, "web") if k.startswith("default/web2-")]
    assert changes(sim, "default/web")[-1].ready == 1
    sim2, endpoints2 = world(old, new, service("web", ports=[{"port": 80, "targetPort": 80}]))
    assert len(endpoints2.endpoints_of("default/web")) == 3


def test_a_service_change_alone_publishes_a_new_version():
    sim, endpoints = world()
    before = endpoints.published["default/web"]
    current: Service = sim.state.objects[("Service", "default", "web")]  # type: ignore[assignment]
    sim.state.put_object("Service", "default", "web", replace(current, type="NodePort", external_traffic_policy="Cluster"))
    sim.run_for(1.5)
    after = endpoints.published["default/web"]
    assert (after.version, after.service.type, after.endpoints) == (before.version + 1, "NodePort", before.endpoints)


def test_services_without_selector_get_an_empty_set():
    manual = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"}, "spec": {"ports": [{"port": 5432}]}}
    external = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "mail"},
        "spec": {"type": "ExternalName", "externalName": "mail.example.com", "selector": {"app": "web"}},
    }
    sim, endpoints = world(deployment(), manual, external)
    assert endpoints.endpoints_of("default/db") == ()
    assert endpoints.endpoints_of("default/mail") == ()
    assert endpoints.published["default/mail"].version == 1


# --- values and the trace ---------------------------------------------------------------------------
@pytest.mark.parametrize(("count", "slices"), [(0, 1), (1, 1), (100, 1), (101, 2), (250, 3)])
def test_slice_count_follows_max_endpoints_per_slice(count, slices):
    service_value = Service("web", "default", selector=(("app", "web"),))
    endpoints = tuple(Endpoint(f"u{i}", f"default/web-{i}", "worker-1", "zone-a", True, True, False) for i in range(count))
    assert k8s.MAX_ENDPOINTS_PER_SLICE == 100
    assert EndpointSet("default/web", service_value, 1, endpoints).slice_count == slices


def test_endpoints_changed_survives_the_json_trace():
    sim, _ = world()
    published = sim.trace.of_type(ev.EndpointsChanged)
    assert published
    again = Trace.from_jsonl(sim.trace.to_jsonl()).of_type(ev.EndpointsChanged)
    assert again == published


def test_a_negative_propagation_delay_is_refused():
    sim = Simulation(ClusterSpec.uniform(nodes=1, zones=1))
    with pytest.raises(ValueError, match="propagation_delay"):
        EndpointSliceController(sim, propagation_delay=-1)


def test_same_seed_same_endpoint_history():
    runs = [world(seed=5)[0].trace.to_jsonl() for _ in range(2)]
    assert runs[0] == runs[1]


@pytest.mark.parametrize("module", [endpoints_module, proxy_module])
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert (result.failed, result.attempted > 0) == (0, True)
