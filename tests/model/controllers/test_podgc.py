"""Pod garbage collection: the garbage collector's cascading delete of a deleted workload's dependents
(pkg/controller/garbagecollector) and the pod GC controller (pkg/controller/podgc/gc_controller.go),
including gcOrphaned for pods whose spec.nodeName names a node that does not exist."""

from __future__ import annotations

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.admission import pod_from_template
from podquake.model.cluster import ClusterSpec
from podquake.model.controllers.common import delete_pod
from podquake.model.manifests import load_manifests
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


# --- gcOrphaned: pods whose spec.nodeName names a node that does not exist --------------------------
GHOST_POD = """
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  nodeName: {node}
  containers:
  - name: app
    image: nginx:1
    resources: {{requests: {{cpu: 100m, memory: 64Mi}}}}
"""


def ghost_pod(sim, name="pinned", node="ghost-7"):
    sim.apply(load_manifests(text=GHOST_POD.format(name=name, node=node)))
    return sim.state.pods_by_key[f"default/{name}"]


def deletions(sim):
    return [(e.t, e.pod, e.reason) for e in sim.trace.of_type(ev.PodDeleted)]


def test_a_pod_naming_a_node_that_never_existed_stays_pending_then_goes_after_the_quarantine():
    """It was handed to the scheduler, reported unschedulable and kept forever; upstream the scheduler
    never sees it (assignedPod) and gcOrphaned force-deletes it 40 s after a pass first saw it."""
    assert (k8s.POD_GC_CHECK_PERIOD_SECONDS, k8s.POD_GC_QUARANTINE_SECONDS) == (20.0, 40.0)
    sim = make_sim(nodes=2)
    pod = ghost_pod(sim)
    sim.run(59.5)
    assert pod.uid in sim.state.pods and pod.phase == "Pending" and pod.node_name is None
    assert not sim.trace.of_type(ev.PodUnschedulable) and not sim.trace.of_type(ev.PodBound)
    sim.run(60.5)  # seen by the pass at 20, gone at the pass at 60
    assert deletions(sim) == [(60.0, "default/pinned", "PodGCNodeGone")]


def test_the_quarantine_starts_at_the_first_pass_that_sees_the_pod():
    sim = make_sim(nodes=2)
    sim.run(25)
    ghost_pod(sim)
    sim.run(79.5)
    assert not deletions(sim)  # seen at 40, not at 20
    sim.run(80.5)
    assert deletions(sim) == [(80.0, "default/pinned", "PodGCNodeGone")]


def test_the_quarantine_is_per_node_name_so_a_younger_pod_goes_with_the_first():
    """Upstream's nodeQueue holds node names: every pod bound to the name goes when it comes due."""
    sim = make_sim(nodes=2)
    ghost_pod(sim, "first")
    sim.run(30)
    ghost_pod(sim, "second")
    ghost_pod(sim, "elsewhere", node="ghost-8")
    sim.run(100.5)
    assert deletions(sim) == [
        (60.0, "default/first", "PodGCNodeGone"),
        (60.0, "default/second", "PodGCNodeGone"),  # 30 s old, named the same missing node
        (80.0, "default/elsewhere", "PodGCNodeGone"),  # its own name: seen at 40
    ]


def test_a_node_of_that_name_added_within_the_quarantine_takes_the_pod():
    sim = make_sim(nodes=2)
    pod = ghost_pod(sim, node="worker-3")
    sim.run(30)
    (node,) = [n for n in ClusterSpec.uniform(nodes=3, zones=1, cpu="4").build_nodes() if n.name == "worker-3"]
    sim.add_node(node)
    sim.run(200)
    assert [(e.t, e.node) for e in sim.trace.of_type(ev.PodBound)] == [(30.0, "worker-3")]
    assert pod.phase == "Running" and pod.uid in sim.state.pods and not deletions(sim)


def test_a_pod_waiting_for_its_node_is_deleted_gracefully_and_left_to_gc_orphaned():
    """Not unscheduled (it has a nodeName): the API server gives it its grace period, no kubelet
    completes it, gcUnscheduledTerminating skips it; gcOrphaned removes it with its node name."""
    sim = make_sim(nodes=2)
    pod = ghost_pod(sim)
    sim.run(1)
    delete_pod(sim.state, pod, "user")
    assert pod.deletion_timestamp == 1.0 and pod.uid in sim.state.pods
    sim.run(59.5)
    assert pod.uid in sim.state.pods and not sim.is_stable()
    sim.run(60.5)
    assert deletions(sim) == [(60.0, "default/pinned", "PodGCNodeGone")]


def test_a_workload_whose_template_names_a_missing_node_loses_its_pod_every_40_seconds():
    """The ReplicaSet replaces each deleted pod; the name is queued again at the pass that deleted the
    previous one (the listing comes first), so each replacement goes 40 s later."""
    sim = make_sim(nodes=2)
    rs = replicaset(sim, replicas=1, tmpl=template(node_name="ghost-7"))
    sim.run(150)
    assert [e.t for e in sim.trace.of_type(ev.PodDeleted)] == [60.0, 100.0, 140.0]
    assert len(owned(sim, rs.uid)) == 1 and not sim.trace.of_type(ev.PodUnschedulable)


def test_a_restarted_pod_gc_starts_the_quarantine_over():
    """The nodeQueue lives in the controller's memory: after an outage the name is seen afresh."""
    sim = make_sim(nodes=2)
    ghost_pod(sim)
    sim.run(50)  # seen at 20, due at 60
    sim.pod_gc.pause()
    sim.run(70)
    sim.pod_gc.resume()
    sim.run(119.5)
    assert not deletions(sim)  # seen again at 80
    sim.run(120.5)
    assert deletions(sim) == [(120.0, "default/pinned", "PodGCNodeGone")]
