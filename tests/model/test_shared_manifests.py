"""The sample applications in shared/manifests (see its SOURCES.md) load with the counts of
k8s-semantics.md section 10, carry the requests and probes their upstream YAML declares, and run to a
steady state in which every workload has its desired replicas ready."""

from collections import Counter
from pathlib import Path

import pytest

from podquake.model import ClusterSpec, Simulation, load_manifests
from podquake.model import constants as k8s
from podquake.model.errors import InputError
from podquake.model.manifests import Manifest

MANIFESTS = (Path(__file__).parents[2] / "../shared/manifests").resolve()
pytestmark = pytest.mark.skipif(not MANIFESTS.is_dir(), reason=f"the shared sample manifests are not at {MANIFESTS}")

MI = 2**20
FILES = ("online-boutique.yaml", "sock-shop.yaml", "bookinfo.yaml", "bank-of-anthos.yaml")
EXPECTED_KINDS = {
    "online-boutique.yaml": {"Deployment": 12, "Service": 12, "ServiceAccount": 11},
    "sock-shop.yaml": {"Namespace": 1, "Deployment": 14, "Service": 14},
    "bookinfo.yaml": {"Deployment": 6, "Service": 4, "ServiceAccount": 4},
    "bank-of-anthos.yaml": {"Deployment": 7, "StatefulSet": 2, "ConfigMap": 5, "Service": 8, "ServiceAccount": 1},
}


def load(name: str) -> list[Manifest]:
    return load_manifests(MANIFESTS / name)


def workloads(manifests):
    return {m.name: m.obj for m in manifests if m.kind in ("Deployment", "StatefulSet")}


def services(manifests):
    return {m.name: m.obj for m in manifests if m.kind == "Service"}


def has_requests(workload) -> bool:
    return all(c.cpu_requested and c.memory_requested for c in workload.template.spec.containers)


def is_best_effort(workload) -> bool:
    return all(
        not c.cpu_requested and not c.memory_requested and c.limits.is_zero() for c in workload.template.spec.containers
    )


def probed(workloads_by_name, probe):
    return sorted(n for n, w in workloads_by_name.items() if any(getattr(c, probe) for c in w.template.spec.containers))


def test_the_folder_holds_the_four_applications():
    assert sorted(p.name for p in MANIFESTS.glob("*.yaml")) == sorted(FILES)


@pytest.mark.parametrize("name", FILES)
def test_each_file_loads_with_the_expected_kinds(name):
    manifests = load(name)
    assert dict(Counter(m.kind for m in manifests)) == EXPECTED_KINDS[name]
    assert all(m.source == str(MANIFESTS / name) for m in manifests)
    assert all(w.replicas == 1 for w in workloads(manifests).values())  # unset or 1 everywhere


def test_online_boutique():
    manifests = load("online-boutique.yaml")
    deployments = workloads(manifests)
    assert all(has_requests(w) for w in deployments.values())
    frontend = deployments["frontend"].template.spec.containers[0]
    assert (frontend.requests.cpu_millis, frontend.requests.memory_bytes) == (100, 64 * MI)
    assert (frontend.limits.cpu_millis, frontend.limits.memory_bytes) == (200, 128 * MI)
    assert frontend.readiness_probe.handler == "httpGet" and frontend.readiness_probe.initial_delay_seconds == 10
    assert frontend.readiness_probe.period_seconds == k8s.PROBE_PERIOD_SECONDS  # not written: the default
    redis = deployments["redis-cart"].template.spec.containers[0]
    assert (redis.requests.cpu_millis, redis.requests.memory_bytes) == (70, 200 * MI)
    assert redis.readiness_probe.handler == "tcpSocket"
    assert deployments["adservice"].template.spec.containers[0].readiness_probe.handler == "grpc"
    with_probes = sorted(set(deployments) - {"loadgenerator"})
    assert probed(deployments, "readiness_probe") == probed(deployments, "liveness_probe") == with_probes
    assert [c.name for c in deployments["loadgenerator"].template.spec.init_containers] == ["frontend-check"]
    svc = services(manifests)
    assert svc["frontend-external"].type == "LoadBalancer"
    assert svc["frontend-external"].external_traffic_policy == "Cluster"
    assert sorted(n for n, s in svc.items() if s.type != "ClusterIP") == ["frontend-external"]
    assert svc["frontend"].ports[0].target_port == 8080


def test_sock_shop():
    manifests = load("sock-shop.yaml")
    assert {m.namespace for m in manifests if m.kind != "Namespace"} == {"sock-shop"}
    deployments = workloads(manifests)
    best_effort = sorted(n for n, w in deployments.items() if is_best_effort(w))
    assert best_effort == ["carts-db", "catalogue-db", "orders-db", "rabbitmq", "session-db", "user-db"]
    assert sorted(n for n, w in deployments.items() if has_requests(w)) == sorted(set(deployments) - set(best_effort))
    assert all(w.template.spec.nonzero_cpu >= k8s.DEFAULT_MILLI_CPU_REQUEST for n, w in deployments.items() if n in best_effort)
    payment = deployments["payment"].template.spec.containers[0]
    assert (payment.requests.cpu_millis, payment.requests.memory_bytes) == (99, 100 * MI)
    probed_names = ["catalogue", "front-end", "payment", "user"]
    assert probed(deployments, "readiness_probe") == probed(deployments, "liveness_probe") == probed_names
    for name in probed_names:
        c = deployments[name].template.spec.containers[0]
        assert c.readiness_probe.period_seconds == c.liveness_probe.period_seconds == 3
        assert 30 <= c.readiness_probe.initial_delay_seconds <= 300 and c.liveness_probe.initial_delay_seconds == 300
    assert all(w.template.spec.node_selector == (("beta.kubernetes.io/os", "linux"),) for w in deployments.values())
    front_end = services(manifests)["front-end"]
    assert (front_end.type, front_end.ports[0].node_port, front_end.ports[0].target_port) == ("NodePort", 30001, 8079)


def test_bookinfo_is_all_best_effort_without_probes():
    manifests = load("bookinfo.yaml")
    deployments = workloads(manifests)
    assert sorted(deployments) == ["details-v1", "productpage-v1", "ratings-v1", "reviews-v1", "reviews-v2", "reviews-v3"]
    assert all(is_best_effort(w) for w in deployments.values())
    assert all(w.template.spec.requests.cpu_millis == 0 for w in deployments.values())
    assert not probed(deployments, "readiness_probe") and not probed(deployments, "liveness_probe")
    assert {s.type for s in services(manifests).values()} == {"ClusterIP"}
    assert services(manifests)["reviews"].selector == (("app", "reviews"),)  # backs all three versions


def test_bank_of_anthos():
    manifests = load("bank-of-anthos.yaml")
    all_workloads = workloads(manifests)
    assert sorted(m.name for m in manifests if m.kind == "StatefulSet") == ["accounts-db", "ledger-db"]
    assert all(has_requests(w) for w in all_workloads.values())
    cpus = [c.requests.cpu_millis for w in all_workloads.values() for c in w.template.spec.containers]
    memories = [c.requests.memory_bytes for w in all_workloads.values() for c in w.template.spec.containers]
    assert (min(cpus), max(cpus), min(memories), max(memories)) == (100, 260, 64 * MI, 512 * MI)
    java = ["balancereader", "ledgerwriter", "transactionhistory"]
    for name in java:
        c = all_workloads[name].template.spec.containers[0]
        assert c.requests.ephemeral_storage_bytes == 512 * MI
        assert (c.startup_probe.failure_threshold, c.startup_probe.period_seconds) == (30, 10)
    assert probed(all_workloads, "startup_probe") == java
    assert probed(all_workloads, "readiness_probe") == sorted(
        ["balancereader", "contacts", "frontend", "ledgerwriter", "transactionhistory", "userservice"]
    )
    assert probed(all_workloads, "liveness_probe") == ["balancereader", "frontend", "transactionhistory"]
    accounts = all_workloads["accounts-db"]
    assert (accounts.service_name, accounts.pod_management_policy) == ("accounts-db", "OrderedReady")
    svc = services(manifests)
    assert sorted(n for n, s in svc.items() if s.type == "LoadBalancer") == ["frontend"]


# --- running to a steady state -----------------------------------------------------------------------
# Sock Shop's slowest readiness probe starts after 180 s; Bank of Anthos's after 60 s.
STEADY = [
    ("online-boutique.yaml", 6, 300),
    ("sock-shop.yaml", 6, 600),
    ("bookinfo.yaml", 3, 300),
    ("bank-of-anthos.yaml", 6, 300),
]


@pytest.mark.parametrize("name, nodes, timeout", STEADY)
def test_each_application_runs_to_a_steady_state(name, nodes, timeout):
    manifests = load(name)
    sim = Simulation(ClusterSpec.uniform(nodes=nodes, zones=3), seed=11)
    sim.apply(manifests)
    assert sim.run_until_stable(timeout=timeout), f"{name} did not settle within {timeout} simulated seconds"
    for m in manifests:
        if m.kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"):
            status = sim.workload_status(m.kind, m.namespace, m.name)
            assert status.converged, f"{m.kind} {m.key}: {status}"
            assert status.ready == m.obj.replicas
    pods = list(sim.state.pods.values())
    assert len(pods) == sum(m.obj.replicas for m in manifests if m.kind in ("Deployment", "StatefulSet"))
    assert all(p.node_name is not None and p.phase == "Running" and p.ready for p in pods)
    assert {(k, ns) for k, ns, _ in sim.state.objects} >= {("Service", m.namespace) for m in manifests if m.kind == "Service"}


def test_the_whole_folder_clashes_on_frontend_as_kubectl_apply_would():
    """Online Boutique and Bank of Anthos both define Deployment default/frontend."""
    with pytest.raises(InputError) as info:
        load_manifests(MANIFESTS)  # every file, sorted: bank-of-anthos.yaml comes first
    assert "Deployment default/frontend is defined twice" in info.value.message
    assert info.value.source == str(MANIFESTS / "online-boutique.yaml")
    assert str(MANIFESTS / "bank-of-anthos.yaml") in info.value.message
