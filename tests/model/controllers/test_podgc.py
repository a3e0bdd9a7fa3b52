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
from podquake.model.selectors import Taint, Toleration

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
    """The nodeQueue lives in the controller's memory: after an outage the name is seen afresh, by
    the pass the restarted controller runs at once (wait.Until, gc_controller.go Run), at 70 s: due
    at 110 s, on the passes every 20 s from the restart (it was seen at 80 s and deleted at 120 s)."""
    sim = make_sim(nodes=2)
    ghost_pod(sim)
    sim.run(50)  # seen at 20, due at 60
    sim.pod_gc.pause()
    sim.run(70)
    sim.pod_gc.resume()
    sim.run(109.5)
    assert not deletions(sim)  # seen again at 70
    sim.run(110.5)
    assert deletions(sim) == [(110.0, "default/pinned", "PodGCNodeGone")]


def test_a_restarted_pod_gc_collects_at_once():
    """gc_controller.go Run: wait.UntilWithContext(ctx, gcc.gc, gcCheckPeriod) runs the first pass at
    the start. An unscheduled pod asked to go during an outage that ends at 30 s is force-deleted at
    30 s; it waited for the pass at 40 s."""
    sim = make_sim()
    sim.scheduler_loop.pause()
    sim.pod_gc.pause()
    pod = sim.create_pod("stuck", "default", template())
    sim.run(25)
    sim.state.request_pod_deletion(pod.uid, "user")
    sim.run(30)
    sim.pod_gc.resume()
    sim.run(31)
    assert [(e.t, e.reason) for e in sim.trace.of_type(ev.PodDeleted)] == [(30.0, "PodGC")]


# --- gcTerminating: Terminating pods on a NotReady node with the out-of-service taint ----------------
def out_of_service(effect="NoExecute"):
    return Taint(k8s.TAINT_OUT_OF_SERVICE, "nodeshutdown", effect)


def stateful_pod_on_powered_off_node():
    """A one-replica StatefulSet, settled; its pod's node powered off now: (sim, the set, the pod, the node)."""
    sim = make_sim()
    ss = statefulset(sim, replicas=1)
    assert sim.run_until_stable(timeout=60)
    (pod,) = owned(sim, ss.uid)
    sim.kubelets[pod.node_name].power_off()
    return sim, ss, pod, pod.node_name


def test_the_out_of_service_taint_frees_a_statefulset_pod_stuck_on_a_dead_node():
    """Non-graceful node shutdown: the taint's NoExecute evicts db-0 at once (graceful, nobody completes
    it); the next pass force-deletes it, and the StatefulSet recreates it on a live node. Before, the pod
    stayed Terminating on the dead node for good and the StatefulSet never got it back."""
    sim, ss, old, dead = stateful_pod_on_powered_off_node()
    sim.run(125)  # the node is Unknown (50 s grace), the pod not yet evicted (300 s toleration)
    assert sim.state.nodes[dead].ready == "Unknown" and old.deletion_timestamp is None
    sim.state.add_taint(dead, out_of_service())
    sim.run(139.5)
    assert old.deletion_timestamp == 125.0  # TaintEviction, at once
    assert old.uid in sim.state.pods  # the pass at 120 came before the taint
    sim.run(140.5)
    assert deletions(sim) == [(140.0, "default/db-0", "PodGCOutOfService")]
    sim.run(170)
    (new,) = owned(sim, ss.uid)
    assert new is not old and new.node_name != dead and new.phase == "Running"
    assert sim.workload_status("StatefulSet", "default", "db").ready == 1


def test_gc_terminating_waits_until_the_tainted_node_is_not_ready():
    """Tainted right after the power-off, the node is still Ready: the pod is evicted at once but
    force-deleted only at the first pass after the node turns Unknown."""
    sim, ss, old, dead = stateful_pod_on_powered_off_node()
    sim.state.add_taint(dead, out_of_service())
    tainted = sim.now
    sim.run(tainted + 1)
    assert old.deletion_timestamp == tainted and sim.state.nodes[dead].ready == "True"
    sim.run(200)
    (unknown,) = [e.t for e in sim.trace.of_type(ev.NodeReadyChanged) if e.node == dead]
    (deleted,) = [e.t for e in sim.trace.of_type(ev.PodDeleted) if e.pod == old.key]
    assert deleted == (unknown // k8s.POD_GC_CHECK_PERIOD_SECONDS + 1) * k8s.POD_GC_CHECK_PERIOD_SECONDS
    assert deletions(sim)[0][2] == "PodGCOutOfService"


def test_gc_terminating_checks_the_taint_key_whatever_its_effect():
    """Upstream uses taints.TaintKeyExists: a NoSchedule out-of-service taint evicts nobody, but a pod
    already Terminating on that NotReady node is force-deleted; one not asked to go stays."""
    sim = make_sim()
    rs = replicaset(sim, replicas=2)
    assert sim.run_until_stable(timeout=60)
    dead = min(p.node_name for p in owned(sim, rs.uid))
    on_dead = sorted((p for p in owned(sim, rs.uid) if p.node_name == dead), key=lambda p: p.name)
    assert len(on_dead) == 2  # first fit: both on worker-1
    sim.kubelets[dead].power_off()
    sim.run(101)  # Unknown; the unreachable taint's 300 s toleration has not run out
    sim.state.add_taint(dead, out_of_service("NoSchedule"))
    leaving, *staying = on_dead
    delete_pod(sim.state, leaving, "user")
    sim.run(121)
    assert [d for d in deletions(sim) if d[2] == "PodGCOutOfService"] == [(120.0, leaving.key, "PodGCOutOfService")]
    assert all(p.uid in sim.state.pods and p.deletion_timestamp is None for p in staying)


def test_a_pod_tolerating_the_out_of_service_taint_is_left_alone():
    """gcTerminating deletes only pods already Terminating; a pod that tolerates the taint is not
    evicted, so it stays."""
    sim = make_sim()
    tolerations = (Toleration(k8s.TAINT_OUT_OF_SERVICE, "Exists"), Toleration(k8s.TAINT_UNREACHABLE, "Exists", effect="NoExecute"))
    tolerant = template(app="db", tolerations=tolerations)
    rs = replicaset(sim, name="db", replicas=1, app="db", tmpl=tolerant)
    assert sim.run_until_stable(timeout=60)
    (pod,) = owned(sim, rs.uid)
    sim.kubelets[pod.node_name].power_off()
    sim.run(100)
    sim.state.add_taint(pod.node_name, out_of_service())
    sim.run(400)
    assert pod.uid in sim.state.pods and pod.deletion_timestamp is None and not deletions(sim)
