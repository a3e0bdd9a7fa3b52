"""Control-plane outages: components that can be paused (``Pausable``) act on nothing while paused
and catch up when resumed, as a restarted kube-controller-manager (or cluster autoscaler) does."""

from __future__ import annotations

import doctest

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.cluster import ClusterSpec, NodePool
from podquake.model.controllers import common
from podquake.model.controllers.common import Pausable
from podquake.model.manifests import load_manifests
from podquake.model.simulation import Simulation

from tests.model.controllers.workload_kit import make_sim, replicaset

GRACE = k8s.NODE_MONITOR_GRACE_PERIOD_SECONDS  # 50 s
TOLERATION = k8s.DEFAULT_TOLERATION_SECONDS  # 300 s


def test_pausable_doctest() -> None:
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner()
    for test in finder.find(Pausable, "Pausable", globs=vars(common)):
        runner.run(test)
    assert runner.failures == 0 and runner.tries > 0


def test_pause_and_resume_report_whether_the_state_changed() -> None:
    sim = make_sim()
    assert sim.replicasets.pause() is True
    assert sim.replicasets.pause() is False
    assert sim.replicasets.resume() is True
    assert sim.replicasets.resume() is False


def test_paused_replicaset_controller_does_not_replace_a_deleted_pod_until_resumed() -> None:
    sim = make_sim()
    rs = replicaset(sim, replicas=2)
    sim.run(10)
    assert len(list(sim.state.pods_owned_by(rs.uid))) == 2
    sim.replicasets.pause()
    victim = next(iter(sim.state.pods_owned_by(rs.uid)))
    sim.state.delete_pod(victim.uid, "test")
    sim.run(100)
    assert len(list(sim.state.pods_owned_by(rs.uid))) == 1
    sim.replicasets.resume()
    sim.run(101)
    assert len(list(sim.state.pods_owned_by(rs.uid))) == 2


def test_resume_syncs_every_workload_even_without_a_pending_event() -> None:
    sim = make_sim()
    rs = replicaset(sim, replicas=2)
    sim.run(10)
    before = sim.replicasets.syncs
    sim.replicasets.pause()
    sim.run(20)
    sim.replicasets.resume()
    sim.run(21)
    assert sim.replicasets.syncs == before + 1
    assert sim.workload_status("ReplicaSet", "default", rs.name).converged


def test_paused_node_lifecycle_does_not_mark_a_dead_node_and_resume_gives_a_fresh_grace_period() -> None:
    sim = make_sim(nodes=2)
    sim.run(10)
    sim.node_lifecycle.pause()
    sim.kubelets["worker-1"].power_off()
    sim.run(200)
    assert sim.state.nodes["worker-1"].ready == "True"  # nobody judged it
    sim.node_lifecycle.resume()
    sim.run(200 + GRACE - 1)
    assert sim.state.nodes["worker-1"].ready == "True"  # a restarted controller waits a full grace period
    sim.run(200 + GRACE + 2 * k8s.NODE_MONITOR_PERIOD_SECONDS)
    assert sim.state.nodes["worker-1"].ready == "Unknown"


def test_paused_taint_eviction_deletes_nothing_and_restarts_the_toleration_clock_on_resume() -> None:
    sim = make_sim(nodes=2)
    rs = replicaset(sim, replicas=2)
    sim.run(10)
    on_first = [p for p in sim.state.pods_owned_by(rs.uid) if p.node_name == "worker-1"]
    assert on_first
    sim.kubelets["worker-1"].power_off()
    sim.run(90)  # Unknown and tainted NoExecute by now; eviction due about 300 s after the taint
    assert any(t.key == k8s.TAINT_UNREACHABLE and t.effect == "NoExecute" for t in sim.state.nodes["worker-1"].taints)
    sim.node_lifecycle.pause()
    sim.run(500)
    assert all(p.deletion_timestamp is None for p in on_first)
    sim.node_lifecycle.resume()
    sim.run(500 + TOLERATION - 1)
    assert all(p.deletion_timestamp is None for p in on_first)
    sim.run(500 + TOLERATION + 1)
    assert all(p.deletion_timestamp is not None for p in on_first)


def test_paused_endpoint_controller_publishes_nothing_then_catches_up() -> None:
    sim = Simulation(ClusterSpec.uniform(nodes=2, zones=1), seed=2)
    sim.apply(
        load_manifests(
            text="""
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80}]}
"""
        )
    )
    sim.run(30)
    assert len(sim.endpoints.endpoints_of("default/web")) == 2
    sim.endpoints.pause()
    pod = next(p for p in sim.state.pods.values() if p.labels.get("app") == "web")
    sim.state.delete_pod(pod.uid, "test")
    mark = len(sim.trace.events)
    sim.run(60)
    assert not [e for e in sim.trace.events[mark:] if isinstance(e, ev.EndpointsChanged)]
    assert pod.key in {e.pod for e in sim.endpoints.endpoints_of("default/web")}  # stale
    sim.endpoints.resume()
    sim.run(70)
    assert pod.key not in {e.pod for e in sim.endpoints.endpoints_of("default/web")}


def test_paused_pod_gc_leaves_a_deleted_workloads_pods_until_resumed() -> None:
    sim = make_sim()
    rs = replicaset(sim, replicas=2)
    sim.run(10)
    sim.pod_gc.pause()
    sim.replicasets.pause()  # so it does not react to its own deletion either
    sim.state.delete_workload(rs.uid)
    sim.run(100)
    assert all(p.deletion_timestamp is None for p in sim.state.pods_owned_by(rs.uid))
    sim.pod_gc.resume()
    sim.run(100 + sim.pod_gc.period + 1)
    assert all(p.deletion_timestamp is not None for p in sim.state.pods_owned_by(rs.uid)) or not list(
        sim.state.pods_owned_by(rs.uid)
    )


def test_paused_disruption_controller_writes_no_budget_status() -> None:
    sim = Simulation(ClusterSpec.uniform(nodes=2, zones=1), seed=2)
    sim.disruption.pause()
    sim.apply(
        load_manifests(
            text="""
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec: {minAvailable: 1, selector: {matchLabels: {app: web}}}
"""
        )
    )
    sim.run(30)
    assert sim.disruption.status("default", "web") is None
    sim.disruption.resume()
    sim.run(31)
    status = sim.disruption.status("default", "web")
    assert status is not None and status.current_healthy == 2


def test_paused_cluster_autoscaler_does_not_scan() -> None:
    spec = ClusterSpec(pools=(NodePool(count=1, zones=("zone-a",), max_size=3),))
    sim = Simulation(spec, seed=1)
    sim.run(1)
    loops = sim.cluster_autoscaler.loops
    sim.cluster_autoscaler.pause()
    sim.run(120)
    assert sim.cluster_autoscaler.loops == loops
    sim.cluster_autoscaler.resume()
    sim.run(140)
    assert sim.cluster_autoscaler.loops > loops
