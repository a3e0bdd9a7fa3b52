"""Work queues drained by worker pods: arrivals at a rate, per-pod speed, the queue length as an
external metric, and no item lost when a worker dies holding it."""

from __future__ import annotations

import doctest
from typing import Any

import pytest
import yaml
from podquake.model import jobs as jobs_module
from podquake.model import trace as ev
from podquake.model.cluster import ClusterSpec
from podquake.model.jobs import JobQueue, JobQueues
from podquake.model.manifests import load_manifests
from podquake.model.simulation import Simulation
from podquake.model.traffic import Constant, Spike

from .test_endpoints import deployment


def workers(replicas: int = 2, cpu: str = "500m", seed: int = 1) -> Simulation:
    sim = Simulation(ClusterSpec.uniform(nodes=3, zones=1), seed=seed, scheduler="first-fit", load_mode=None)
    sim.apply(load_manifests(text=yaml.safe_dump_all([deployment("resizer", replicas=replicas, cpu=cpu)])))
    assert sim.run_until_stable(timeout=120)
    return sim


def watch_balance(sim: Simulation, queue: JobQueue, every: float = 0.1) -> list[float]:
    """Check ``enqueued == done + queued + in_flight`` every ``every`` seconds and after every
    requeue; returns the instants where it failed (none expected)."""
    broken: list[float] = []

    def check(_event: Any = None) -> None:
        if not queue.balanced:
            broken.append(sim.now)

    def tick(_event: Any = None) -> None:
        check()
        sim.env.timeout(every).callbacks.append(tick)  # type: ignore[union-attr]

    sim.state.watch(ev.WorkItemsRequeued, check)
    tick()
    return broken


def requeues(sim: Simulation) -> list[ev.WorkItemsRequeued]:
    return sim.trace.of_type(ev.WorkItemsRequeued)  # type: ignore[return-value]


def test_doctests():
    assert doctest.testmod(jobs_module).failed == 0


def test_arrivals_follow_the_rate_with_the_fraction_carried_over():
    sim = Simulation(ClusterSpec.uniform(nodes=1, zones=1), seed=1, load_mode=None)
    queue = JobQueue(sim, "uploads", selector={"app": "none"}, shape=Constant(0.5))
    queue.start()
    sim.run(9.5)
    assert (queue.enqueued, queue.queued) == (4, 4)  # at 2, 4, 6 and 8 s
    queue.enqueue(10)
    assert (queue.enqueued, queue.queued, queue.balanced) == (14, 14, True)


def test_workers_drain_at_their_speed_and_the_length_is_an_external_metric():
    sim = workers(replicas=2)
    queue = JobQueue(sim, "uploads", selector={"app": "resizer"}, shape=Constant(3.0), speed=1.0)
    queue.start()
    sim.run_for(60.5)
    # Two workers, one item per second each: 2 of the 3 per second are done, the rest waits.
    assert queue.done == pytest.approx(2 * 60, abs=3)
    assert queue.queued == pytest.approx(60, abs=3)
    assert sim.metrics.external("uploads") == float(queue.queued)
    pods = [p for p in sim.state.pods.values()]
    assert [sim.metrics.pod_cpu_millis(p.uid) for p in pods] == [500.0, 500.0]  # busy all the time
    (last,) = sim.trace.of_type(ev.WorkQueueWindow)[-1:]
    assert (last.workers, last.enqueued - last.done - last.queued - last.in_flight) == (2, 0)  # type: ignore[attr-defined]


def test_concurrency_and_idle_workers():
    sim = workers(replicas=1)
    queue = JobQueue(sim, "uploads", selector={"app": "resizer"}, speed=2.0, concurrency=4, metric="upload_backlog")
    queue.start()
    queue.enqueue(4)
    assert queue.in_flight == 4 and queue.queued == 0
    sim.run_for(1.99)
    assert queue.done == 0  # each of the 4 takes 4 / 2 = 2 s
    sim.run_for(0.02)
    assert queue.done == 4
    pod = next(iter(sim.state.pods.values()))
    assert sim.metrics.pod_cpu_millis(pod.uid) == pytest.approx(500 * 0.02)  # idle: the floor
    assert sim.metrics.external("upload_backlog") == 0.0


def test_a_worker_crash_loses_no_queued_item():
    sim = workers(replicas=2)
    queue = JobQueue(sim, "uploads", selector={"app": "resizer"}, shape=Spike(Constant(3.0), 0.0, start=200.0, duration=1e6),
                     speed=0.5, concurrency=2)  # fmt: skip
    queue.start()
    broken = watch_balance(sim, queue)
    sim.run_for(20.0)
    victim = sorted(queue.workers())[0]
    held = queue.held_by(victim)
    assert held == 2
    node = sim.state.pods_by_key[victim].node_name
    assert sim.kubelets[node].crash_container(victim)  # type: ignore[index]
    (requeue,) = requeues(sim)
    assert (requeue.pod, requeue.items, requeue.reason) == (victim, 2, "ContainerTerminated")
    assert queue.requeued == 2 and queue.held_by(victim) == 0 and queue.balanced
    sim.run_for(40.0)
    sim.kubelets[node].oom_kill_container(victim)  # type: ignore[index]
    sim.run_for(2000.0)  # arrivals stop at 200 s; the workers catch up
    assert broken == []
    assert queue.enqueued == queue.done > 550 and queue.queued == queue.in_flight == 0  # 3 per second until 200 s
    assert queue.requeued >= 2


@pytest.mark.parametrize("fault", ["power_off", "scale_down", "silent"])
def test_items_held_by_a_worker_that_goes_away_come_back(fault):
    sim = workers(replicas=2, cpu="2500m")  # one per node: worker-1 and worker-2 (first fit)
    queue = JobQueue(sim, "uploads", selector={"app": "resizer"}, speed=0.05)  # 20 s per item
    queue.start()
    broken = watch_balance(sim, queue)
    queue.enqueue(4)
    sim.run_for(5.0)
    assert queue.in_flight == 2 and queue.queued == 2
    victim = next(p.key for p in sim.state.pods.values() if p.node_name == "worker-1")
    kubelet = sim.kubelets["worker-1"]
    if fault == "power_off":
        kubelet.power_off()
        reason = "NodeDown"
    elif fault == "scale_down":
        workload = sim.state.workload_named("Deployment", "default", "resizer")
        sim.state.scale_workload(workload.uid, 1)  # type: ignore[union-attr]
        sim.run_for(5.0)
        reason = "ContainerTerminated"
        if not any(r.pod == victim for r in requeues(sim)):  # the scale-down took the other pod
            victim = next(r.pod for r in requeues(sim))
    else:  # a crash the kubelet cannot report: found when the item would have finished
        kubelet.stop_kubelet()
        kubelet.crash_container(victim)
        reason = "ContainerNotRunning"
    sim.run_for(30.0)
    mine = [r for r in requeues(sim) if r.pod == victim]
    assert mine and (mine[0].items, mine[0].reason) == (1, reason)
    sim.run_for(200.0)
    assert broken == []
    assert queue.done == queue.enqueued == 4


def test_validation_and_the_registry():
    sim = workers(replicas=1)
    with pytest.raises(ValueError, match="speed"):
        JobQueue(sim, "q", selector={"app": "resizer"}, speed=0.0)
    with pytest.raises(ValueError, match="concurrency"):
        JobQueue(sim, "q", selector={"app": "resizer"}, concurrency=0)
    with pytest.raises(ValueError, match="must be a Shape"):
        JobQueue(sim, "q", selector={"app": "resizer"}, shape=3.0)  # type: ignore[arg-type]
    registry = JobQueues(sim)
    queue = registry.add("thumbnails", selector={"app": "resizer"}, shape=Constant(1.0))
    assert registry["thumbnails"] is queue and list(registry) == [queue]
    with pytest.raises(ValueError, match="already exists"):
        registry.add("thumbnails", selector={"app": "resizer"})
    sim.run_for(10.5)
    assert queue.done >= 9
