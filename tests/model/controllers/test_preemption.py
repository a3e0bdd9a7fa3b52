"""Scheduler preemption in a running simulation: the default scheduler's DefaultPreemption PostFilter
(kubernetes/kubernetes:pkg/scheduler/framework/plugins/defaultpreemption/default_preemption.go,
pkg/scheduler/framework/preemption/preemption.go), the preemptor's nominated node
(pkg/scheduler/schedule_one.go) and the filters that count nominated pods
(pkg/scheduler/framework/runtime/framework.go RunFilterPluginsWithNominatedPods)."""

from __future__ import annotations

from podquake.model.cluster import ClusterSpec
from podquake.model.controllers.cluster_autoscaler import AutoscalerOptions
from podquake.model.manifests import load_manifests
from podquake.model.objects import ContainerSpec, PodSpec, PodTemplate
from podquake.model.quantity import Resources
from podquake.model.simulation import Simulation
from podquake.model.trace import PodBound, PodDeleted, PodDeletionRequested, PodNominated, PodPreempted

NO_AUTOSCALER = AutoscalerOptions(enabled=False)


def template(cpu: int, priority: int = 0, *, grace: float = 30.0, hold: bool = False, labels: dict[str, str] | None = None, **spec: object) -> PodTemplate:
    """One container of ``cpu`` millis; ``hold``: its preStop hook runs until the grace period ends,
    so a deletion takes exactly ``grace`` seconds."""
    container = ContainerSpec(
        "main", requests=Resources(cpu, 2**20), cpu_requested=True, memory_requested=True,
        pre_stop_seconds=float("inf") if hold else None,
    )
    pod_spec = PodSpec(containers=(container,), priority=priority, termination_grace_period_seconds=grace, **spec)  # type: ignore[arg-type]
    return PodTemplate(tuple(sorted((labels or {"app": "x"}).items())), pod_spec)


def cluster(nodes: int = 2, *, seed: int = 3, cpu: str = "1") -> Simulation:
    return Simulation(ClusterSpec.uniform(nodes=nodes, zones=1, cpu=cpu), seed=seed, autoscaler_options=NO_AUTOSCALER)


def pin(sim: Simulation, name: str, node: str, tmpl: PodTemplate) -> None:
    """A pod written with ``spec.nodeName``: bound at creation, so tests choose where victims run."""
    from dataclasses import replace

    sim.create_pod(name, "default", replace(tmpl, spec=replace(tmpl.spec, node_name=node)))


def node_of(sim: Simulation, name: str) -> str | None:
    pod = sim.state.pods_by_key.get(f"default/{name}")
    return pod.node_name if pod is not None else None


def preempted(sim: Simulation) -> list[tuple[str, str, str]]:
    return [(e.pod, e.preemptor, e.node) for e in sim.trace.of_type(PodPreempted)]


def test_a_high_priority_pod_preempts_the_cheapest_victims_on_the_right_node():
    sim = cluster(2)
    pin(sim, "mid", "worker-1", template(900, priority=100))  # worker-1: one victim of priority 100
    pin(sim, "low-a", "worker-2", template(500, priority=0))  # worker-2: victims of priority 0 only
    pin(sim, "low-b", "worker-2", template(300, priority=0))
    pin(sim, "low-c", "worker-2", template(100, priority=0))
    sim.run(10)
    sim.create_pod("critical", "default", template(600, priority=1000))
    sim.run(60)
    # worker-2 wins (lowest highest-victim priority); there low-a (500m) must go and low-b, low-c are
    # reprieved: 300 + 100 + 600 <= 1000
    assert preempted(sim) == [("default/low-a", "default/critical", "worker-2")]
    assert [e.reason for e in sim.trace.of_type(PodDeletionRequested) if e.pod == "default/low-a"] == ["PreemptionByScheduler"]
    assert node_of(sim, "critical") == "worker-2"
    assert node_of(sim, "mid") == "worker-1" and node_of(sim, "low-b") == node_of(sim, "low-c") == "worker-2"


def test_preemption_policy_never_waits_without_preempting():
    sim = cluster(1)
    pin(sim, "low", "worker-1", template(800, priority=0))
    sim.run(10)
    sim.create_pod("polite", "default", template(600, priority=1000, preemption_policy="Never"))
    sim.run(120)
    assert preempted(sim) == [] and not sim.trace.of_type(PodNominated)
    assert node_of(sim, "polite") is None and node_of(sim, "low") == "worker-1"
    # the same pod with the default policy preempts; polite, of equal priority, leaves it the room
    sim.create_pod("eager", "default", template(600, priority=1000))
    sim.run(200)
    assert preempted(sim) == [("default/low", "default/eager", "worker-1")]
    assert node_of(sim, "eager") == "worker-1" and node_of(sim, "polite") is None


def test_equal_priority_never_preempts():
    sim = cluster(1)
    pin(sim, "first", "worker-1", template(800, priority=500))
    sim.run(10)
    sim.create_pod("second", "default", template(600, priority=500))
    sim.run(120)
    assert preempted(sim) == [] and node_of(sim, "second") is None
    sim.create_pod("third", "default", template(600, priority=501))  # one more is enough
    sim.run(200)
    assert preempted(sim) == [("default/first", "default/third", "worker-1")]


PDB = """
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: guard, namespace: default}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: guarded}}
"""


def test_a_node_whose_victims_a_disruption_budget_protects_is_avoided():
    for guarded_node in ("worker-1", "worker-2"):
        sim = cluster(2)
        sim.apply(load_manifests(text=PDB))
        free_node = "worker-2" if guarded_node == "worker-1" else "worker-1"
        pin(sim, "guarded", guarded_node, template(800, labels={"app": "guarded"}))
        pin(sim, "plain", free_node, template(800, labels={"app": "plain"}))
        sim.run(30)  # the pods are Ready and the budget's status allows 0 disruptions
        status = sim.disruption.status("default", "guard")
        assert status is not None and status.disruptions_allowed == 0
        sim.create_pod("critical", "default", template(600, priority=1000))
        sim.run(60)
        assert preempted(sim) == [("default/plain", "default/critical", free_node)]
        assert node_of(sim, "critical") == free_node


def test_victims_get_their_grace_period_and_the_preemptor_binds_on_its_nominated_node_once_they_are_gone():
    sim = cluster(2)
    pin(sim, "slow", "worker-1", template(800, grace=45.0, hold=True))
    pin(sim, "other", "worker-2", template(900, priority=2000))  # no room there, and not preemptible
    sim.run(10)
    sim.create_pod("critical", "default", template(600, priority=1000))
    sim.run(100)
    assert [(e.pod, e.node) for e in sim.trace.of_type(PodNominated)] == [("default/critical", "worker-1")]
    deleted = [e.t for e in sim.trace.of_type(PodDeleted) if e.pod == "default/slow"]
    # preempted at 10 s: its preStop hook takes the whole 45 s grace period, then SIGTERM (with the
    # kubelet's 2 s minimum left) and the process exits 1 s later (model/kubelet_rules.py kill_timing)
    assert deleted == [56.0]
    bound = [(e.t, e.node) for e in sim.trace.of_type(PodBound) if e.pod == "default/critical"]
    assert bound == [(56.0, "worker-1")]
    assert sim.state.pods_by_key["default/critical"].nominated_node_name is None
    assert sim.state.nominated_pods == {}


def test_a_lower_priority_pod_cannot_take_the_room_nominated_to_a_preemptor():
    sim = cluster(2)
    pin(sim, "quick", "worker-1", template(300, grace=1.0))  # goes after ~1 s
    pin(sim, "slow", "worker-1", template(600, grace=45.0, hold=True))  # goes after 45 s
    pin(sim, "other", "worker-2", template(900, priority=2000))
    sim.run(10)
    sim.create_pod("critical", "default", template(900, priority=1000))  # needs both victims gone
    sim.run(15)
    # quick is gone and worker-1 has 400m free; a small pod would fit there but for the nomination
    assert node_of(sim, "quick") is None
    sim.create_pod("sneaky", "default", template(300, priority=500))
    sim.run(100)
    assert node_of(sim, "sneaky") is None
    assert node_of(sim, "critical") == "worker-1"
    # one preemption of both victims, and the preemptor did not preempt again while slow terminated
    assert sorted(preempted(sim)) == [("default/quick", "default/critical", "worker-1"), ("default/slow", "default/critical", "worker-1")]


def test_a_higher_priority_preemptor_takes_over_a_lower_priority_nomination():
    sim = cluster(1)
    pin(sim, "slow", "worker-1", template(800, grace=60.0, hold=True))
    sim.run(10)
    sim.create_pod("mid", "default", template(600, priority=500))
    sim.run(15)
    assert sim.state.pods_by_key["default/mid"].nominated_node_name == "worker-1"
    sim.create_pod("top", "default", template(600, priority=1000))
    sim.run(100)
    nominations = [(e.pod, e.node) for e in sim.trace.of_type(PodNominated)]
    assert nominations[:3] == [("default/mid", "worker-1"), ("default/mid", ""), ("default/top", "worker-1")]
    assert node_of(sim, "top") == "worker-1" and node_of(sim, "mid") is None
    assert preempted(sim) == [("default/slow", "default/mid", "worker-1")]  # slow was already terminating for top


def test_the_same_seed_gives_the_same_preemptions():
    def run(seed: int) -> str:
        sim = cluster(4, seed=seed)
        for i in range(1, 5):
            pin(sim, f"low-{i}", f"worker-{i}", template(800))  # four equal candidates: the offset decides
        sim.run(10)
        sim.create_pod("critical", "default", template(600, priority=1000))
        sim.run(60)
        return sim.trace.to_jsonl()

    assert run(5) == run(5)
    chosen = set()
    for seed in range(8):
        sim_trace = run(seed)
        chosen.add(next(line for line in sim_trace.splitlines() if '"PodPreempted"' in line))
    assert len(chosen) > 1  # which of equal nodes wins depends on the seed, as upstream's random offset


PRIORITY_MANIFESTS = """
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: critical}
value: 100000
description: the shop's checkout
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: batch}
value: 10
globalDefault: true
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: checkout, namespace: default}
spec:
  replicas: 3
  selector: {matchLabels: {app: checkout}}
  template:
    metadata: {labels: {app: checkout}}
    spec:
      priorityClassName: critical
      containers:
      - {name: app, image: checkout:1, resources: {requests: {cpu: 400m, memory: 64Mi}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: reports, namespace: default}
spec:
  replicas: 3
  selector: {matchLabels: {app: reports}}
  template:
    metadata: {labels: {app: reports}}
    spec:
      containers:
      - {name: app, image: reports:1, resources: {requests: {cpu: 400m, memory: 64Mi}}}
"""


def ready_replicas(sim: Simulation, app: str) -> int:
    return sum(1 for pod in sim.state.pods.values() if pod.labels.get("app") == app and pod.ready and pod.deletion_timestamp is None)


def test_after_a_node_failure_the_high_priority_deployment_runs_in_full_and_the_low_priority_one_is_short():
    sim = cluster(3, seed=11)  # three 1-CPU nodes: six 400m pods, two a node
    sim.apply(load_manifests(text=PRIORITY_MANIFESTS))
    sim.run(60)
    assert ready_replicas(sim, "checkout") == 3 and ready_replicas(sim, "reports") == 3
    victim_node = next(p.node_name for p in sim.state.pods.values() if p.labels.get("app") == "checkout")
    sim.kubelets[victim_node].power_off()  # the machine dies; its pods are evicted ~350 s later
    sim.run(900)
    # the lost checkout pods preempted reports pods on the two nodes left; reports cannot preempt back
    assert ready_replicas(sim, "checkout") == 3
    assert ready_replicas(sim, "reports") < 3
    victims = preempted(sim)
    assert victims and all(v.startswith("default/reports-") and p.startswith("default/checkout-") for v, p, _ in victims)
    assert all(node != victim_node for _, _, node in victims)
