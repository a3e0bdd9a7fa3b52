"""The safety suite on real simulations: it holds on a sound model under faults (live, and the same
verdicts from the recorded trace), and it finds seeded bugs: a scheduler blind to memory or to
cordons, an eviction path blind to budgets, a work queue that drops what dying workers held, an
attach/detach controller that allows multi-attach, and endpoints that reach the proxies too late."""

from __future__ import annotations

from pathlib import Path

import pytest
from podquake.model import ClusterSpec, Simulation, Timing, load_manifests
from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.controllers.common import delete_pod
from podquake.model.objects import PersistentVolume
from podquake.model.trace import Trace
from podquake.model.traffic import Constant
from podquake.properties import Monitor, Suite, check_trace

SAFETY = (
    "no-overcommit",
    "single-binding",
    "schedulable-nodes-only",
    "scheduler-contract",
    "endpoints-ready-only",
    "rwo-single-attach",
    "pdb-respected",
    "no-lost-work",
)
MANIFESTS = (Path(__file__).parents[2] / "../shared/manifests").resolve()

# A web tier behind a Service and a budget, queue workers, a StatefulSet with ReadWriteOnce claims
# behind a publishNotReadyAddresses Service, and a DaemonSet.
APP = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: server
        image: web:1
        resources: {requests: {cpu: 250m, memory: 256Mi}}
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 5}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec:
  minAvailable: 3
  selector: {matchLabels: {app: web}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: resizer}
spec:
  replicas: 3
  selector: {matchLabels: {app: resizer}}
  template:
    metadata: {labels: {app: resizer}}
    spec:
      containers:
      - {name: worker, image: resizer:1, resources: {requests: {cpu: 500m, memory: 256Mi}}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
      - {name: postgres, image: postgres:16, resources: {requests: {cpu: 250m, memory: 512Mi}}}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  publishNotReadyAddresses: true
  selector: {app: db}
  ports: [{port: 5432}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers:
      - {name: agent, image: agent:1, resources: {requests: {cpu: 50m, memory: 64Mi}}}
"""


def statuses(verdicts):
    return {v.property: v.status for v in verdicts}


@pytest.fixture(scope="module")
def chaos_run():
    """The app on 4 nodes: a node powered off past the eviction timeout, a drain of another (the
    budget blocks and then lets it through), a container crash, then the node back and uncordoned."""
    sim = Simulation(ClusterSpec.uniform(nodes=4, zones=2), seed=1)
    monitor = Monitor(Suite.of(SAFETY)).attach(sim)
    sim.apply(load_manifests(text=APP, source="app"))
    sim.jobs.add("uploads", selector={"app": "resizer"}, shape=Constant(2.0), speed=1.0)
    sim.run(60)
    nodes = sorted(sim.kubelets)
    sim.kubelets[nodes[0]].power_off()
    sim.run_for(420)
    drain = sim.disruption.drain(nodes[1], timeout=200)
    crashed = min(p.key for p in sim.state.pods.values() if p.node_name == nodes[2])
    sim.kubelets[nodes[2]].crash_container(crashed)
    sim.run_for(200)
    sim.kubelets[nodes[0]].power_on()
    sim.state.set_unschedulable(nodes[1], False)
    sim.run_for(300)
    assert drain.outcome == "Drained"
    return sim, monitor


def test_the_safety_suite_holds_live_on_a_sound_model_under_faults(chaos_run):
    sim, monitor = chaos_run
    verdicts = monitor.verdicts()
    assert [v.property for v in verdicts] == list(SAFETY)
    assert statuses(verdicts) == dict.fromkeys(SAFETY, "passed")
    # The run gave every property something to judge.
    trace = sim.trace
    assert any(e.code == 200 and e.pdb for e in trace.of_type(ev.EvictionRequested))
    for kind in (ev.PodBound, ev.ContainerStarted, ev.EndpointsChanged, ev.VolumeAttached, ev.WorkQueueWindow, ev.DisruptionBudgetUpdated):
        assert trace.of_type(kind), kind.__name__
    assert any(e.status == "Unknown" for e in trace.of_type(ev.NodeReadyChanged))


def test_the_recorded_trace_gives_the_same_verdicts_and_so_does_its_json_lines_form(chaos_run):
    sim, monitor = chaos_run
    live = monitor.verdicts()
    assert check_trace(sim.trace, Suite.of(SAFETY), end=sim.now) == live
    assert check_trace(Trace.from_jsonl(sim.trace.to_jsonl()), Suite.of(SAFETY), end=sim.now) == live


@pytest.mark.skipif(not MANIFESTS.is_dir(), reason=f"the shared sample manifests are not at {MANIFESTS}")
def test_online_boutique_with_a_node_powered_off_and_back_keeps_every_safety_property():
    sim = Simulation(ClusterSpec.uniform(nodes=5, zones=3), seed=3)
    monitor = Monitor(Suite.of(SAFETY)).attach(sim)
    sim.apply(load_manifests(MANIFESTS / "online-boutique.yaml"))
    sim.run(120)
    victim = max(sorted(sim.kubelets), key=lambda name: len(sim.state.nodes[name].pods))
    sim.kubelets[victim].power_off()
    sim.run_for(k8s.NODE_MONITOR_GRACE_PERIOD_SECONDS + k8s.DEFAULT_TOLERATION_SECONDS + 60)
    sim.kubelets[victim].power_on()
    sim.run_for(120)
    # The node went Unknown, its pods were evicted and replaced elsewhere.
    assert any(e.node == victim and e.status == "Unknown" for e in sim.trace.of_type(ev.NodeReadyChanged))
    assert sim.trace.of_type(ev.PodDeletionRequested) and len(sim.trace.of_type(ev.PodBound)) > 12
    live = monitor.verdicts()
    assert statuses(live) == dict.fromkeys(SAFETY, "passed")
    assert check_trace(sim.trace, Suite.of(SAFETY), end=sim.now) == live


# --- seeded bugs ------------------------------------------------------------------------------------
class MemoryBlind:
    """Picks the first Ready, uncordoned node with CPU to spare; forgets memory."""

    name = "memory-blind"

    def schedule(self, pod, cluster):
        for node in cluster.nodes:
            if node.ready and not node.unschedulable and pod.requests.cpu_millis <= node.free.cpu_millis:
                return node.name
        return None


class CordonBlind:
    """Picks the first Ready node with room; forgets cordons."""

    name = "cordon-blind"

    def schedule(self, pod, cluster):
        for node in cluster.nodes:
            if node.ready and pod.requests.fits_in(node.free):
                return node.name
        return None


def big_pods(replicas: int, memory: str) -> str:
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: big}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: big}}}}
  template:
    metadata: {{labels: {{app: big}}}}
    spec:
      containers: [{{name: app, image: big:1, resources: {{requests: {{cpu: 100m, memory: {memory}}}}}}}]
"""


def test_a_scheduler_that_ignores_memory_breaks_its_contract_and_the_adapter_holds_the_line():
    sim = Simulation(ClusterSpec.uniform(nodes=2, zones=1, memory="16Gi"), seed=1, scheduler=MemoryBlind())
    monitor = Monitor(Suite.of(SAFETY)).attach(sim)
    sim.apply(load_manifests(text=big_pods(3, "10Gi")))
    sim.run(30)
    verdicts = {v.property: v for v in monitor.verdicts()}
    contract = verdicts["scheduler-contract"]
    assert contract.status == "failed" and contract.violations >= 2
    assert contract.objects[0] == "scheduler/memory-blind" and contract.objects[1].startswith("pod/default/big-")
    assert "lacks memory" in contract.message and contract.numbers["answer"] == "worker-1"
    first = sim.trace.of_type(ev.SchedulerContractViolation)[0]
    assert contract.time == first.t
    # Refused answers are never bound: the cluster itself stayed safe.
    assert verdicts["no-overcommit"].status == "passed" and verdicts["schedulable-nodes-only"].status == "passed"


def test_a_scheduler_that_ignores_cordons_breaks_its_contract():
    sim = Simulation(ClusterSpec.uniform(nodes=2, zones=1), seed=1, scheduler=CordonBlind())
    sim.state.set_unschedulable("worker-1", True)
    monitor = Monitor(Suite.of(["scheduler-contract", "schedulable-nodes-only"])).attach(sim)
    sim.apply(load_manifests(text=big_pods(1, "1Gi")))
    sim.run(10)
    contract, placement = monitor.verdicts()
    assert contract.status == "failed" and "worker-1 is cordoned" in contract.message
    assert placement.status == "passed"


def budget_blind_evict(sim: Simulation):
    """An eviction API that deletes the pod and answers 200 without checking the budget."""

    def evict(pod_key: str, *, dry_run: bool = False):
        delete_pod(sim.state, sim.state.pods_by_key[pod_key], "EvictionByEvictionAPI")
        sim.state.record_eviction(pod_key, 200, "default/web", "evicted")

    return evict


@pytest.mark.parametrize("blind", [False, True])
def test_an_eviction_path_that_ignores_the_budget_is_caught(monkeypatch, blind):
    sim = Simulation(ClusterSpec.uniform(nodes=3, zones=1), seed=2)
    monitor = Monitor(Suite.of(["pdb-respected"])).attach(sim)
    sim.apply(load_manifests(text=APP.split("---")[0] + "---" + APP.split("---")[2]))  # web and its budget
    sim.run(30)
    if blind:
        monkeypatch.setattr(sim.disruption, "evict", budget_blind_evict(sim))
    web = sorted(p.key for p in sim.state.pods.values())
    sim.disruption.evict(web[0])  # 4 Ready of 3 desired: allowed
    sim.disruption.evict(web[1])  # would leave 2
    (verdict,) = monitor.verdicts()
    if not blind:
        assert verdict.status == "passed"
        assert [e.code for e in sim.trace.of_type(ev.EvictionRequested)] == [200, 429]
        return
    assert verdict.status == "failed" and verdict.objects == (f"pod/{web[1]}", "pdb/default/web")
    assert verdict.numbers["disruptions_allowed"] == 0 and verdict.numbers["desired_healthy"] == 3


def test_a_work_queue_that_drops_a_dead_workers_items_is_caught(monkeypatch):
    sim = Simulation(ClusterSpec.uniform(nodes=2, zones=1), seed=1)
    monitor = Monitor(Suite.of(["no-lost-work"])).attach(sim)
    sim.apply(load_manifests(text=APP.split("---")[3]))  # the resizer workers
    queue = sim.jobs.add("uploads", selector={"app": "resizer"}, shape=Constant(3.0), speed=0.5)
    sim.run(40)

    def lossy_requeue(worker, reason):
        items = len(worker.held)
        worker.held.clear()
        queue.in_flight -= items  # taken from the worker, never put back
        sim.state.record_work_requeued(queue.name, worker.key, items, reason)

    monkeypatch.setattr(queue, "_requeue", lossy_requeue)
    busy = next(key for key in queue.workers() if queue.held_by(key))
    sim.kubelets[sim.state.pods_by_key[busy].node_name].crash_container(busy)
    sim.run_for(20)
    (verdict,) = monitor.verdicts()
    assert verdict.status == "failed" and verdict.objects == ("queue/uploads",)
    assert verdict.numbers["missing"] > 0 and "items lost" in verdict.message


def test_an_attach_controller_that_allows_multi_attach_is_caught(monkeypatch):
    claim = """
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: writer}
spec:
  replicas: 1
  selector: {matchLabels: {app: writer}}
  template:
    metadata: {labels: {app: writer}}
    spec:
      containers: [{name: app, image: writer:1, resources: {requests: {cpu: 100m}}}]
      volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
"""
    outcomes = {}
    for bug in (False, True):
        if bug:
            monkeypatch.setattr(PersistentVolume, "multi_attach", property(lambda self: True))
        sim = Simulation(ClusterSpec.uniform(nodes=4, zones=2), seed=1)
        monitor = Monitor(Suite.of(["rwo-single-attach"])).attach(sim)
        sim.apply(load_manifests(text=claim))
        sim.run(30)
        (writer,) = sim.state.pods.values()
        sim.kubelets[writer.node_name].power_off()  # its pod is evicted, stuck Terminating; a replacement wants the disk
        sim.run_for(k8s.NODE_MONITOR_GRACE_PERIOD_SECONDS + k8s.DEFAULT_TOLERATION_SECONDS + 30)
        outcomes[bug] = monitor.verdicts()[0]
    assert outcomes[False].status == "passed"
    assert outcomes[True].status == "failed" and outcomes[True].numbers == {"nodes": 2}


def test_endpoints_that_reach_the_proxies_late_are_caught_at_the_default_delay():
    def run(suite):
        sim = Simulation(ClusterSpec.uniform(nodes=2, zones=1), seed=1, timing=Timing(endpoint_propagation_seconds=5.0))
        monitor = Monitor(suite).attach(sim)
        sim.apply(load_manifests(text=APP.split("---")[0] + "---" + APP.split("---")[1]))  # web and its Service
        sim.run(30)
        doomed = min(sim.state.pods_by_key)
        sim.state.request_pod_deletion(sim.state.pods_by_key[doomed].uid, "Deleted")
        deleted_at = sim.now
        sim.run_for(30)
        return monitor.verdicts()[0], doomed, deleted_at

    verdict, doomed, deleted_at = run(Suite.of(["endpoints-ready-only"]))
    assert verdict.status == "failed" and verdict.objects == ("service/default/web", f"pod/{doomed}")
    assert verdict.time == deleted_at + 2.0 and verdict.numbers["since"] == deleted_at
    matched, _, _ = run(Suite.of(["endpoints-ready-only"], params={"endpoints-ready-only": {"delay": 5.0}}))
    assert matched.status == "passed"


PINNED = """
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  nodeName: {node}
  containers: [{{name: app, image: app:1, resources: {{requests: {{cpu: {cpu}, memory: 64Mi}}}}}}]
"""


def test_pods_naming_their_node_break_no_placement_property_live_or_replayed():
    """A pod created with spec.nodeName meets no scheduler (upstream assignedPod): bound as written to
    a cordoned node, to one that it overfills (the kubelet fails it with OutOfcpu), or waiting for a
    node that does not exist until the pod GC deletes it. None of it is a scheduler's placement."""
    sim = Simulation(ClusterSpec.uniform(nodes=2, zones=1, cpu="4"), seed=5)
    monitor = Monitor(Suite.default()).attach(sim)
    sim.state.set_unschedulable("worker-2", True)
    pinned = (("cordoned", "worker-2", "100m"), ("big", "worker-1", "3"), ("bigger", "worker-1", "3"), ("lost", "ghost-7", "100m"))
    text = "---".join(PINNED.format(name=name, node=node, cpu=cpu) for name, node, cpu in pinned)
    sim.apply(load_manifests(text=text))
    sim.run(400)
    pods = sim.state.pods_by_key
    assert pods["default/cordoned"].phase == "Running" and pods["default/big"].phase == "Running"
    assert (pods["default/bigger"].phase, pods["default/bigger"].reason) == ("Failed", "OutOfcpu")
    assert "default/lost" not in pods
    assert [(e.t, e.pod, e.reason) for e in sim.trace.of_type(ev.PodDeleted)] == [(60.0, "default/lost", "PodGCNodeGone")]
    failed = [v.line() for v in monitor.verdicts() if v.status == "failed"]
    assert failed == []
    assert [v.line() for v in check_trace(sim.trace.events, Suite.default(), end=sim.now) if v.status == "failed"] == []


class FirstFeasible:
    """A plug-in that takes the first node the contract allows: blind to inter-pod anti-affinity."""

    name = "first-feasible"

    def schedule(self, pod, cluster):
        allowed = cluster.feasible_nodes(pod)
        return allowed[0].name if allowed else None


APART = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - {labelSelector: {matchLabels: {app: web}}, topologyKey: kubernetes.io/hostname}
      containers: [{name: app, image: web:1, resources: {requests: {cpu: 100m, memory: 64Mi}}}]
"""


def test_a_scheduler_that_ignores_anti_affinity_is_caught_and_the_default_one_is_not():
    blind = Simulation(ClusterSpec.uniform(nodes=3, zones=1), seed=1, scheduler=FirstFeasible())
    monitor = Monitor(Suite.of(["inter-pod-affinity", "scheduler-contract"])).attach(blind)
    blind.apply(load_manifests(text=APART))
    blind.run(60)
    verdicts = {v.property: v for v in monitor.verdicts()}
    assert verdicts["inter-pod-affinity"].status == "failed" and "anti-affinity" in verdicts["inter-pod-affinity"].message
    assert verdicts["scheduler-contract"].status == "passed"  # the kubelet would run it: no contract breach
    sound = Simulation(ClusterSpec.uniform(nodes=3, zones=1), seed=1)
    monitor = Monitor(Suite.of(["inter-pod-affinity"])).attach(sound)
    sound.apply(load_manifests(text=APART))
    sound.run(60)
    assert monitor.verdicts()[0].status == "passed"
    assert len({pod.node_name for pod in sound.state.pods.values()}) == 3
    # the verdicts replay from the recorded trace alone
    assert check_trace(blind.trace.events, [Suite.of(["inter-pod-affinity"]).properties[0].__class__()])[0].status == "failed"
