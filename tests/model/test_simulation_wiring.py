"""The simulation wires its parts together: the network's partitions reach the proxies and the
cloud load balancers, and every component is there under its documented attribute name."""

from podquake.model import ClusterSpec, Simulation, load_manifests
from podquake.model.network import Split
from podquake.model.proxy import UNREACHABLE

APP = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 6
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx, resources: {requests: {cpu: 100m, memory: 64Mi}}}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
"""


def settled() -> Simulation:
    sim = Simulation(ClusterSpec.uniform(nodes=3, zones=3), seed=4)
    sim.apply(load_manifests(text=APP))
    assert sim.run_until_stable(timeout=120)
    sim.run_for(60)  # load balancer registration and health checks
    return sim


def test_every_component_is_wired_under_its_name():
    sim = Simulation(ClusterSpec.default(), seed=1)
    for name in ("scheduler_loop", "replicasets", "deployments", "statefulsets", "daemonsets", "pod_gc",
                 "node_lifecycle", "endpoints", "proxy", "metrics", "disruption", "kubelet_dispatcher",
                 "volumes", "network", "cloud", "load_balancers", "cluster_autoscaler"):
        assert getattr(sim, name) is not None, name
    assert sorted(sim.kubelets) == sorted(sim.state.nodes)


def test_traffic_across_a_partition_fails_in_the_proxy():
    sim = settled()
    isolated = "worker-3"
    sim.network.apply(Split(groups=((isolated,),)))
    outcomes = [sim.proxy.deliver("default/web", f"client-{i}", "worker-1", sim.now) for i in range(300)]
    unreachable = sum(1 for o in outcomes if o == UNREACHABLE)
    on_isolated = sum(1 for p in sim.state.pods.values() if p.node_name == isolated)
    assert on_isolated > 0 and unreachable > 0
    sim.network.heal_all()
    outcomes = [sim.proxy.deliver("default/web", f"client-{i}", "worker-1", sim.now) for i in range(300)]
    assert UNREACHABLE not in outcomes


def test_the_load_balancer_stops_sending_to_a_node_it_cannot_reach():
    sim = settled()
    balancer = sim.load_balancers.balancer("default", "web")
    assert "worker-2" in balancer.serving_targets()
    sim.network.apply(Split(groups=(("worker-2",),)))
    sim.run_for(60)
    assert "worker-2" not in balancer.serving_targets()
    sim.network.heal_all()
    sim.run_for(60)
    assert "worker-2" in balancer.serving_targets()


def test_the_default_load_model_serves_traffic_and_feeds_the_hpa_metrics():
    from podquake.model import trace as ev
    from podquake.model.traffic import Constant, External, LoadGenerator

    sim = settled()
    pods = [p.uid for p in sim.state.pods.values() if p.labels.get("app") == "web"]
    idle = [sim.metrics.pod_cpu_millis(uid) for uid in pods]
    sim.traffic.add(LoadGenerator("default/web", Constant(300.0), clients=50, entry=External()))
    sim.run_for(60)
    windows = [e for e in sim.trace.of_type(ev.TrafficWindow) if e.service == "default/web"]
    assert windows and sum(w.offered for w in windows) > 0
    busy = [sim.metrics.pod_cpu_millis(uid) for uid in pods]
    assert all(b is not None for b in busy)
    assert sum(busy) > sum(i or 0.0 for i in idle)


def test_a_generator_added_to_an_idle_load_model_flows_from_the_next_tick():
    """The idle model ticks only at window ends; a generator arriving mid-window must still be
    served from the next 1 s tick, exactly as if the model had ticked all along."""
    from podquake.model import trace as ev
    from podquake.model.traffic import Constant, External, LoadGenerator

    sim = settled()
    added_at = (sim.now // 10 + 1) * 10 + 3.5  # mid-window, mid-tick
    sim.run(added_at)
    sim.traffic.add(LoadGenerator("default/web", Constant(100.0), clients=50, entry=External()))
    sim.run(added_at + 30)
    windows = [(e.t, e.offered) for e in sim.trace.of_type(ev.TrafficWindow) if e.service == "default/web"]
    first_end = (added_at // 10 + 1) * 10
    assert windows[:3] == [(first_end, 100.0 * (first_end - (added_at // 1 + 1))), (first_end + 10, 1000.0), (first_end + 20, 1000.0)]
