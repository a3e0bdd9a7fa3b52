"""Pod garbage collection: the garbage collector's cascading delete of a deleted workload's dependents
(pkg/controller/garbagecollector) and the pod GC controller (pkg/controller/podgc/gc_controller.go)."""

from __future__ import annotations

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.admission import pod_from_template
from podquake.model.objects import OwnerRef

from .workload_kit import deployment, make_sim, owned, replicaset, statefulset, template


def test_pods_of_a_deleted_replicaset_are_deleted_gracefully():
    sim = make_sim()
    rs = replicaset(sim, replicas=3)
    assert sim.run_until_stable(timeout=60)
    keys = sorted(p.key for p in owned(sim, rs.uid))
    deleted_at = sim.now
    sim.state.delete_workload(rs.uid)
    sim.run(sim.now + 1)
    requested = [e for e in sim.trace.of_type(ev.PodDeletionRequested) if e.t >= deleted_at]
    assert sorted(e.pod for e in requested) == keys and {e.reason for e in requested} == {"GarbageCollected"}
    assert all(e.t == deleted_at for e in requested)
    sim.run(sim.now + 10)
    assert not sim.state.pods


def test_deleting_a_deployment_cascades_to_its_replicasets_and_pods():
    sim = make_sim()
    d = deployment(sim, replicas=4)
    assert sim.run_until_stable(timeout=60)
    [rs] = sim.deployments.replicasets(d.uid)
    sim.state.delete_workload(d.uid)
    sim.run(sim.now + 15)
    assert rs.uid not in sim.state.workloads
    assert not sim.state.pods and not sim.state.workloads


def test_a_deleted_statefulset_is_not_recreating_its_pods():
    sim = make_sim()
    ss = statefulset(sim, replicas=2)
    assert sim.run_until_stable(timeout=60)
    sim.state.delete_workload(ss.uid)
    sim.run(sim.now + 15)
    assert not sim.state.pods


def test_the_periodic_sweep_collects_pods_whose_owner_does_not_exist():
    sim = make_sim()
    ghost = OwnerRef("ReplicaSet", "ghost", sim.new_uid())
    orphan = pod_from_template(template(), uid=sim.new_uid(), name="ghost-x2k8p", namespace="default", owner=ghost)
    sim.state.create_pod(orphan)
    sim.run(k8s.POD_GC_CHECK_PERIOD_SECONDS - 1)
    assert orphan.phase == "Running" and orphan.deletion_timestamp is None
    sim.run(k8s.POD_GC_CHECK_PERIOD_SECONDS + 1)
    assert orphan.deletion_timestamp == k8s.POD_GC_CHECK_PERIOD_SECONDS
    sim.run(k8s.POD_GC_CHECK_PERIOD_SECONDS + 10)
    assert orphan.uid not in sim.state.pods


def test_terminated_pods_beyond_12500_are_deleted_evicted_first_then_oldest():
    assert (k8s.TERMINATED_POD_GC_THRESHOLD, k8s.POD_GC_CHECK_PERIOD_SECONDS) == (12500, 20.0)
    sim = make_sim(nodes=1)
    sim.scheduler_loop.pause()
    tmpl = template(app="job")
    count = k8s.TERMINATED_POD_GC_THRESHOLD + 3
    pods = []
    for i in range(count):
        if i == count // 2:
            sim.run(1.0)  # the second half is a second younger
        pod = sim.create_pod(f"job-{i:05d}", "default", tmpl)
        sim.state.set_pod_phase(pod.uid, "Failed" if i % 2 else "Succeeded")
        pods.append(pod)
    evicted = pods[-1]
    sim.state.set_pod_phase(evicted.uid, "Failed", reason="Evicted")
    running = sim.create_pod("still-running", "default", tmpl)
    sim.run(k8s.POD_GC_CHECK_PERIOD_SECONDS - 0.5)
    assert len(sim.state.pods) == count + 1  # nothing before the first gcCheckPeriod
    sim.run(k8s.POD_GC_CHECK_PERIOD_SECONDS + 0.5)
    gone = [p.name for p in pods if p.uid not in sim.state.pods]
    assert gone == ["job-00000", "job-00001", evicted.name]
    assert running.uid in sim.state.pods
    assert len(sim.state.pods) == k8s.TERMINATED_POD_GC_THRESHOLD + 1


def test_an_unscheduled_pod_asked_to_go_is_force_deleted_at_the_next_pass():
    sim = make_sim()
    sim.scheduler_loop.pause()
    pod = sim.create_pod("stuck", "default", template())
    sim.state.request_pod_deletion(pod.uid, "user")
    sim.run(k8s.POD_GC_CHECK_PERIOD_SECONDS - 1)
    assert pod.uid in sim.state.pods
    sim.run(k8s.POD_GC_CHECK_PERIOD_SECONDS + 1)
    assert pod.uid not in sim.state.pods
    [deleted] = sim.trace.of_type(ev.PodDeleted)
    assert deleted.reason == "PodGC"
