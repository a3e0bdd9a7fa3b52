"""The liveness properties judging real simulations: a shop that loses a node and gets it back, an HPA
through a traffic spike, and a ReplicaSet controller that forgets lost pods."""

from __future__ import annotations

# the liveness modules register their properties on import (until the package's __init__ imports them)
import podquake.properties.liveness
import podquake.properties.liveness_pods
import podquake.properties.liveness_scaling  # noqa: F401
import yaml
from podquake.model import ClusterSpec, Simulation, load_manifests
from podquake.model import trace as ev
from podquake.model.traffic import Constant, Internal, LoadGenerator
from podquake.properties import Monitor, Suite, check_trace

LIVENESS = ["replicas-converge", "pending-pods-scheduled", "crashed-containers-restarted", "autoscaler-converges", "service-recovers"]

SHOP = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: frontend}
spec:
  replicas: 3
  selector: {matchLabels: {app: frontend}}
  template:
    metadata: {labels: {app: frontend}}
    spec:
      containers:
      - name: server
        image: shop/frontend:1.4
        resources: {requests: {cpu: 250m, memory: 256Mi}}
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 5}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: cart}
spec:
  replicas: 2
  selector: {matchLabels: {app: cart}}
  template:
    metadata: {labels: {app: cart}}
    spec:
      containers:
      - name: server
        image: shop/cart:2.0
        resources: {requests: {cpu: 200m, memory: 128Mi}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: orders-db}
spec:
  replicas: 2
  serviceName: orders-db
  selector: {matchLabels: {app: orders-db}}
  template:
    metadata: {labels: {app: orders-db}}
    spec:
      containers:
      - name: postgres
        image: postgres:16
        resources: {requests: {cpu: 500m, memory: 1Gi}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: log-agent}
spec:
  selector: {matchLabels: {app: log-agent}}
  template:
    metadata: {labels: {app: log-agent}}
    spec:
      containers:
      - name: agent
        image: fluent-bit:3
        resources: {requests: {cpu: 50m, memory: 64Mi}}
---
apiVersion: v1
kind: Service
metadata: {name: frontend}
spec:
  selector: {app: frontend}
  ports: [{port: 80, targetPort: 8080}]
"""


def mark(sim: Simulation, label: str, detail: str = "") -> None:
    sim.state.record(ev.Annotation(sim.now, label, detail))


def shop(seed: int = 1) -> tuple[Simulation, Monitor]:
    sim = Simulation(ClusterSpec.uniform(nodes=4, zones=2), seed=seed)
    monitor = Monitor(Suite.of(LIVENESS)).attach(sim)
    sim.apply(load_manifests(text=SHOP, source="shop"))
    assert sim.run_until_stable(timeout=120)
    sim.traffic.add(LoadGenerator("default/frontend", Constant(20.0), entry=Internal(node="worker-1")))
    sim.run_for(60.0)
    return sim, monitor


def victim_of(sim: Simulation, app: str) -> str:
    """A worker running a pod of ``app``, not worker-1 (where the traffic enters)."""
    return next(p.node_name for p in sorted(sim.state.pods.values(), key=lambda p: p.key)
                if p.labels.get("app") == app and p.node_name != "worker-1")  # type: ignore[return-value]


def test_a_shop_that_loses_a_node_for_seven_minutes_passes_every_liveness_property():
    sim, monitor = shop()
    victim = victim_of(sim, "orders-db")
    cart = next(p for p in sorted(sim.state.pods.values(), key=lambda p: p.key) if p.labels.get("app") == "cart")
    for _ in range(2):  # an application crash (not a fault): restarted at once, then after 10 s
        assert sim.kubelets[cart.node_name].crash_container(cart.key)
        sim.run_for(12.0)
    mark(sim, "fault-started", f"power off {victim}")
    sim.kubelets[victim].power_off()
    sim.run_for(420.0)  # past the 50 s grace and the 300 s toleration: its pods are evicted and replaced
    sim.kubelets[victim].power_on()
    mark(sim, "fault-healed", f"power on {victim}")
    mark(sim, "all-healed")
    sim.run_for(430.0)
    verdicts = {v.property: v for v in monitor.verdicts()}
    assert all(v.status == "passed" for v in verdicts.values()), [v.line() for v in verdicts.values()]
    assert verdicts["replicas-converge"].numbers["workloads"] == 4
    assert verdicts["crashed-containers-restarted"].numbers["restarts"] >= 2
    assert verdicts["service-recovers"].numbers["services"] == 1
    evicted = [e for e in sim.trace.of_type(ev.PodDeletionRequested) if e.reason == "TaintEviction"]
    assert evicted  # the run did exercise the replacement of lost pods
    # the recorded trace judges the same
    assert check_trace(sim.trace, Suite.of(LIVENESS), end=sim.now) == monitor.verdicts()


def test_a_replicaset_controller_that_forgets_lost_pods_fails_replicas_converge():
    sim, monitor = shop(seed=2)
    victim = victim_of(sim, "frontend")
    sim.replicasets.sync = lambda uid: None  # the seeded bug: ReplicaSets never act again
    mark(sim, "fault-started", f"power off {victim}")
    sim.kubelets[victim].power_off()
    sim.run_for(420.0)
    sim.kubelets[victim].power_on()
    mark(sim, "fault-healed")
    mark(sim, "all-healed")
    sim.run_for(320.0)
    verdict = next(v for v in monitor.verdicts() if v.property == "replicas-converge")
    assert verdict.status == "failed" and "room for" in verdict.message, verdict.line()
    assert verdict.objects[0].startswith("Deployment/default/")


HPA_WORLD = [
    {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx", "resources": {"requests": {"cpu": "500m"}},
                                         "readinessProbe": {"httpGet": {"path": "/", "port": 80}}}]},
            },
        },
    },
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}},
    {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1,
            "maxReplicas": 10,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}],
        },
    },
]


def test_an_hpa_through_a_spike_and_back_passes_autoscaler_converges():
    sim = Simulation(ClusterSpec.uniform(nodes=3, zones=1), seed=1)
    monitor = Monitor(Suite.of(LIVENESS)).attach(sim)
    sim.apply(load_manifests(text=yaml.safe_dump_all(HPA_WORLD)))
    assert sim.run_until_stable(timeout=120)
    sim.traffic.add(LoadGenerator("default/web", Constant(15.0), entry=Internal(node="worker-1")))
    sim.run_for(120.0)
    mark(sim, "fault-started", "spike x6 for 300 s")
    spike_start = sim.traffic.add_spike("default/web", 6.0, 300.0)
    sim.run(spike_start + 300.0)
    mark(sim, "fault-healed")
    mark(sim, "all-healed")
    peak = sim.state.workload_named("Deployment", "default", "web").replicas
    sim.run_for(650.0)  # the scale-down (300 s after the spike) restarts the web Deployment's clock
    verdicts = {v.property: v for v in monitor.verdicts()}
    assert verdicts["autoscaler-converges"].status == "passed", verdicts["autoscaler-converges"].line()
    assert all(v.status == "passed" for v in verdicts.values()), [v.line() for v in verdicts.values()]
    recommended = [e.replicas for e in sim.trace.of_type(ev.HorizontalPodAutoscalerRecommended)]
    assert peak >= 3 and max(recommended) >= peak and recommended[-1] == 1
    assert all(a != b for a, b in zip(recommended, recommended[1:]))  # traced when it changes, not every sync
    assert sim.state.workload_named("Deployment", "default", "web").replicas == 1


def test_a_service_whose_pod_fits_nowhere_passes_service_recovers_with_a_capacity_note():
    """The same finding end to end: a 1.5-CPU replica on 1-CPU nodes, traffic to its Service."""
    big = SHOP.split("---")[0].replace("250m", "1500m") + "---" + SHOP.split("---")[-1]
    sim = Simulation(ClusterSpec.uniform(nodes=2, zones=1, cpu="1"), seed=1)
    monitor = Monitor(Suite.of(["service-recovers", "pending-pods-scheduled", "replicas-converge"])).attach(sim)
    sim.apply(load_manifests(text=big, source="big"))
    sim.traffic.add(LoadGenerator("default/frontend", Constant(20.0), entry=Internal(node="worker-1")))
    mark(sim, "all-healed")
    sim.run_for(300.0)
    verdicts = {v.property: v for v in monitor.verdicts()}
    assert all(v.status == "passed" for v in verdicts.values()), [v.line() for v in verdicts.values()]
    assert "service default/frontend had no endpoint: its 3 pod(s) fit on no node" in verdicts["service-recovers"].note
