"""The scheduling queue: back-off 1 s doubling to 10 s (scheduling_queue.go), retry on cluster
events, priority order, and binding through the validating adapter."""

from podquake.model import constants as k8s
from podquake.model.cluster import ClusterSpec
from podquake.model.controllers.scheduler_loop import backoff_seconds
from podquake.model.objects import ContainerSpec, PodSpec, PodTemplate
from podquake.model.quantity import Resources
from podquake.model.simulation import Simulation
from podquake.model.trace import PodBound, PodUnschedulable, SchedulerContractViolation


def template(cpu: int, priority: int = 0) -> PodTemplate:
    container = ContainerSpec("main", requests=Resources(cpu, 2**20), cpu_requested=True, memory_requested=True)
    return PodTemplate((("app", "x"),), PodSpec(containers=(container,), priority=priority))


def test_backoff_doubles_from_one_second_to_the_ten_second_cap():
    # POD_INITIAL_BACKOFF_SECONDS = 1, POD_MAX_BACKOFF_SECONDS = 10
    assert [backoff_seconds(n) for n in range(1, 8)] == [1, 2, 4, 8, 10, 10, 10]
    assert k8s.POD_MAX_BACKOFF_SECONDS == 10.0


def test_an_unschedulable_pod_binds_when_a_node_is_added_after_its_backoff():
    sim = Simulation(ClusterSpec.uniform(nodes=1, zones=1, cpu="1"), seed=3, scheduler="first-fit")
    sim.create_pod("big", "default", template(2000))
    sim.run(30)
    assert sim.state.pods_by_key["default/big"].node_name is None
    assert sim.trace.of_type(PodUnschedulable)
    bigger = ClusterSpec.uniform(nodes=1, zones=1, cpu="4").build_nodes()[0]
    bigger.name = "worker-big"
    bigger.labels["kubernetes.io/hostname"] = "worker-big"
    sim.add_node(bigger)
    sim.run(31)
    bound = sim.trace.of_type(PodBound)
    assert [(e.pod, e.node) for e in bound] == [("default/big", "worker-big")]


def test_pods_are_retried_at_most_every_ten_seconds_without_cluster_events():
    sim = Simulation(ClusterSpec.uniform(nodes=1, zones=1, cpu="1"), seed=3, scheduler="first-fit")
    sim.create_pod("big", "default", template(2000))
    sim.run(600)
    attempts = [e.t for e in sim.trace.of_type(PodUnschedulable)]
    # With no cluster change the pod is only retried by the 5-minute unschedulable flush.
    assert attempts[0] == 0.0
    assert all(b - a >= k8s.POD_INITIAL_BACKOFF_SECONDS for a, b in zip(attempts, attempts[1:]))
    assert len(attempts) <= 3


def test_the_unschedulable_flush_retries_a_pod_strictly_after_five_minutes_at_the_next_30_s_tick():
    """A pod was retried when exactly 5 min unschedulable (at 300 s, 600 s); upstream's flush needs strictly more (330 s, 660 s)."""
    sim = Simulation(ClusterSpec.uniform(nodes=1, zones=1, cpu="1"), seed=3, scheduler="first-fit")
    sim.create_pod("big", "default", template(2000))
    sim.run(700)
    # POD_MAX_IN_UNSCHEDULABLE_SECONDS = 300, checked every 30 s
    assert [e.t for e in sim.trace.of_type(PodUnschedulable)] == [0.0, 330.0, 660.0]


def test_higher_priority_pods_are_scheduled_first():
    sim = Simulation(ClusterSpec.uniform(nodes=1, zones=1, cpu="1"), seed=3, scheduler="first-fit")
    sim.create_pod("low", "default", template(600, priority=0))
    sim.create_pod("high", "default", template(600, priority=1000))
    sim.run(1)
    assert sim.state.pods_by_key["default/high"].node_name == "worker-1"
    assert sim.state.pods_by_key["default/low"].node_name is None


class CountingScheduler:
    """First fit that records every pod it is asked about."""

    name = "counting"

    def __init__(self) -> None:
        self.asked: list[str] = []

    def attach(self, state: object) -> None:
        self.state = state

    def schedule(self, pod, cluster):  # type: ignore[no-untyped-def]
        self.asked.append(pod.name)
        return cluster.nodes[0].name


def test_a_pod_with_node_name_set_never_reaches_the_scheduler():
    """Upstream the scheduler takes only pods with an empty spec.nodeName (eventhandlers.go,
    assignedPod): one naming a node, existing or not, is neither scheduled nor reported unschedulable."""
    scheduler = CountingScheduler()
    sim = Simulation(ClusterSpec.uniform(nodes=2, zones=1, cpu="4"), seed=3, scheduler=scheduler)
    container = ContainerSpec("main", requests=Resources(100, 2**20), cpu_requested=True, memory_requested=True)
    for name, node in (("on-worker-2", "worker-2"), ("on-ghost", "ghost-7")):
        sim.create_pod(name, "default", PodTemplate((("app", "x"),), PodSpec(containers=(container,), node_name=node)))
    sim.create_pod("free", "default", template(100))
    sim.run(30)
    assert scheduler.asked == ["free"] and sim.scheduler_loop.attempts_total == 1
    assert [(e.pod, e.node) for e in sim.trace.of_type(PodBound)] == [
        ("default/on-worker-2", "worker-2"),
        ("default/free", "worker-1"),
    ]
    assert not sim.trace.of_type(PodUnschedulable) and sim.scheduler_loop.unschedulable_count == 0
    # the pod naming a missing node waits for it, unbound, but it is no scheduler's pending pod
    assert [p.key for p in sim.state.unbound_pods.values()] == ["default/on-ghost"]
    assert sim.view().pending_pods == ()


class FlakyScheduler:
    """Raises for its first ``failures`` answers (a transient error), then answers the first node."""

    name = "flaky"

    def __init__(self, failures: int) -> None:
        self.failures = failures

    def schedule(self, pod, cluster):  # type: ignore[no-untyped-def]
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("placement service unavailable")
        return cluster.nodes[0].name


def test_a_plug_in_error_retries_the_pod_after_its_back_off_not_at_the_next_flush():
    """Upstream a pod whose attempt failed with an error (no plugin rejected it) goes to backoffQ
    (scheduling_queue.go AddUnschedulableIfNotPresent), its back-off counting the consecutive errors.
    The model put it among the unschedulable pods: with no cluster event it waited for the 5-minute
    flush, bound at 330 s after one transient error. An error is no verdict on the pod: upstream's
    reason is SchedulerError, not Unschedulable (which the cluster autoscaler scales up for)."""
    sim = Simulation(ClusterSpec.uniform(nodes=1, zones=1, cpu="4"), seed=3, scheduler=FlakyScheduler(failures=3))
    sim.create_pod("web", "default", template(100))
    sim.run(30)
    assert [e.t for e in sim.trace.of_type(SchedulerContractViolation)] == [0.0, 1.0, 3.0]  # back-offs of 1 and 2 s
    assert [(e.t, e.node) for e in sim.trace.of_type(PodBound)] == [(7.0, "worker-1")]  # then 4 s
    assert not sim.trace.of_type(PodUnschedulable) and sim.scheduler_loop.unschedulable_count == 0
