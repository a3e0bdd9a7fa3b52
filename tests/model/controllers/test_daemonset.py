"""The DaemonSet controller (pkg/controller/daemon/daemon_controller.go, update.go, util/daemonset_util.go):
one pod per eligible node, pinned through node affinity, following nodes as they come and go."""

from __future__ import annotations

import pytest

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.cluster import ClusterSpec, NodePool
from podquake.model.controllers.daemonset import node_should_run, target_node
from podquake.model.objects import PodSpec
from podquake.model.selectors import NodeAffinity, NodeSelectorTerm, Requirement, Taint, Toleration
from podquake.model.simulation import Simulation, Timing

from .workload_kit import LegalFirstFit, daemonset, make_sim, owned, template


def pods_by_node(sim: Simulation, uid: str) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for pod in owned(sim, uid):
        if pod.active:
            result.setdefault(target_node(pod) or "?", []).append(pod.name)
    return result


def test_one_pod_per_node_pinned_by_node_affinity_with_daemon_tolerations():
    sim = make_sim(nodes=4)
    ds = daemonset(sim)
    assert sim.run_until_stable(timeout=60)
    pods = owned(sim, ds.uid)
    assert sorted(p.node_name for p in pods) == ["worker-1", "worker-2", "worker-3", "worker-4"]
    for pod in pods:
        assert pod.name.startswith("agent-") and len(pod.name) == len("agent-") + 5
        [term] = pod.spec.node_affinity.required
        assert term.match_fields == (Requirement("metadata.name", "In", (pod.node_name,)),)
        tolerations = {(t.key, t.effect): t.toleration_seconds for t in pod.spec.tolerations}
        assert tolerations[(k8s.TAINT_NOT_READY, "NoExecute")] is None  # forever, unlike the 300 s default
        assert tolerations[(k8s.TAINT_UNREACHABLE, "NoExecute")] is None
        assert (k8s.TAINT_UNSCHEDULABLE, "NoSchedule") in tolerations
        assert pod.labels[k8s.LABEL_CONTROLLER_REVISION_HASH] == Simulation.template_hash(ds.template)
    status = sim.workload_status("DaemonSet", "default", "agent")
    assert (status.desired, status.current, status.ready, status.updated) == (4, 4, 4, 4)


def test_a_new_node_gets_a_pod_and_a_removed_node_loses_it():
    sim = make_sim(nodes=2)
    ds = daemonset(sim)
    assert sim.run_until_stable(timeout=60)
    extra = ClusterSpec.uniform(nodes=3, zones=1).build_nodes()[2]
    sim.add_node(extra)
    assert sim.run_until_stable(timeout=60)
    assert sorted(pods_by_node(sim, ds.uid)) == ["worker-1", "worker-2", "worker-3"]
    sim.state.remove_node("worker-1")
    assert sim.run_until_stable(timeout=60)
    assert sorted(pods_by_node(sim, ds.uid)) == ["worker-2", "worker-3"]
    assert sim.workload_status("DaemonSet", "default", "agent").desired == 2


def test_an_unscheduled_pod_for_a_removed_node_is_deleted():
    sim = make_sim(nodes=2)
    sim.scheduler_loop.pause()
    ds = daemonset(sim)
    sim.run(1)
    doomed = [p for p in owned(sim, ds.uid) if target_node(p) == "worker-2"]
    assert len(doomed) == 1 and doomed[0].node_name is None
    sim.state.remove_node("worker-2")
    sim.run(2)
    assert doomed[0].uid not in sim.state.pods
    assert sorted(pods_by_node(sim, ds.uid)) == ["worker-1"]


def test_node_selector_and_required_affinity_choose_the_nodes():
    cluster = ClusterSpec(pools=(NodePool(name="gpu", count=2, labels=(("accelerator", "gpu"),)), NodePool(name="cpu", count=2)))
    sim = Simulation(cluster, seed=1, scheduler=LegalFirstFit())
    on_gpu = daemonset(sim, name="gpu-agent", app="gpu-agent", tmpl=template(app="gpu-agent", node_selector=(("accelerator", "gpu"),)))
    affinity = NodeAffinity(required=(NodeSelectorTerm(match_expressions=(Requirement("accelerator", "DoesNotExist"),)),))
    off_gpu = daemonset(sim, name="cpu-agent", app="cpu-agent", tmpl=template(app="cpu-agent", node_affinity=affinity))
    assert sim.run_until_stable(timeout=60)
    assert sorted(pods_by_node(sim, on_gpu.uid)) == ["gpu-1", "gpu-2"]
    assert sorted(pods_by_node(sim, off_gpu.uid)) == ["cpu-1", "cpu-2"]


def test_taints_decide_whether_a_pod_is_created_kept_or_removed():
    sim = make_sim(nodes=3)
    sim.state.add_taint("worker-1", Taint("dedicated", "db", "NoSchedule"))
    ds = daemonset(sim)
    assert sim.run_until_stable(timeout=60)
    assert sorted(pods_by_node(sim, ds.uid)) == ["worker-2", "worker-3"]
    # A new NoSchedule taint does not evict the pod already there (shouldContinueRunning).
    sim.state.add_taint("worker-2", Taint("dedicated", "db", "NoSchedule"))
    sim.run(sim.now + 10)
    assert sorted(pods_by_node(sim, ds.uid)) == ["worker-2", "worker-3"]
    # An untolerated NoExecute taint removes it.
    sim.state.add_taint("worker-3", Taint("maintenance", "", "NoExecute"))
    sim.run(sim.now + 10)
    assert sorted(pods_by_node(sim, ds.uid)) == ["worker-2"]
    assert sim.workload_status("DaemonSet", "default", "agent").desired == 0
    # A tolerated taint does not matter.
    spec = PodSpec(containers=template().spec.containers, tolerations=(Toleration("maintenance", "Exists"),))
    assert node_should_run(spec, sim.state.nodes["worker-3"]) == (True, True)
    assert node_should_run(template().spec, sim.state.nodes["worker-3"]) == (False, False)
    assert node_should_run(template().spec, sim.state.nodes["worker-2"]) == (False, True)


@pytest.mark.parametrize("key", [k8s.TAINT_DISK_PRESSURE, k8s.TAINT_MEMORY_PRESSURE, k8s.TAINT_PID_PRESSURE])
def test_daemon_pods_tolerate_the_node_pressure_taints(key):
    """AddOrUpdateDaemonPodTolerations (daemonset_util.go) adds disk-, memory- and pid-pressure
    NoSchedule tolerations: a node under pressure still runs the daemon. The model added only
    not-ready, unreachable and unschedulable, and left such a node without its daemon pod."""
    sim = make_sim(nodes=2)
    sim.state.add_taint("worker-1", Taint(key, "", "NoSchedule"))
    ds = daemonset(sim)
    assert sim.run_until_stable(timeout=60)
    assert sorted(pods_by_node(sim, ds.uid)) == ["worker-1", "worker-2"]
    assert owned(sim, ds.uid)[0].spec.tolerations[-4:-1] == tuple(
        Toleration(k, "Exists", effect="NoSchedule") for k in (k8s.TAINT_DISK_PRESSURE, k8s.TAINT_MEMORY_PRESSURE, k8s.TAINT_PID_PRESSURE)
    )


def test_a_template_toleration_with_the_same_key_operator_and_effect_is_replaced_by_the_unlimited_one():
    """AddOrUpdateTolerationInPodSpec replaces a matching toleration (same key, operator, value and
    effect), whatever its tolerationSeconds: the daemon pod tolerates not-ready forever. The model
    kept the template's 60 s, and the pod was evicted a minute after its node went NotReady."""
    timed = Toleration(k8s.TAINT_NOT_READY, "Exists", effect="NoExecute", toleration_seconds=60)
    sim = make_sim(nodes=1)
    ds = daemonset(sim, tmpl=template(app="agent", tolerations=(timed,)))
    assert sim.run_until_stable(timeout=60)
    [pod] = owned(sim, ds.uid)
    not_ready = [t for t in pod.spec.tolerations if t.key == k8s.TAINT_NOT_READY]
    assert not_ready == [Toleration(k8s.TAINT_NOT_READY, "Exists", effect="NoExecute")]
    sim.state.add_taint("worker-1", Taint(k8s.TAINT_NOT_READY, "", "NoExecute"))
    sim.run(sim.now + 120)
    assert pod.uid in sim.state.pods and pod.deletion_timestamp is None


def test_a_failed_pod_is_replaced_with_a_doubling_back_off():
    assert (k8s.DAEMONSET_FAILED_POD_BACKOFF_SECONDS, k8s.DAEMONSET_FAILED_POD_MAX_BACKOFF_SECONDS) == (1.0, 900.0)
    sim = make_sim(nodes=1, timing=Timing(container_start_seconds=0.1))
    ds = daemonset(sim)
    assert sim.run_until_stable(timeout=60)
    deletions = []
    sim.state.watch(ev.PodDeleted, lambda e: deletions.append(e.t))
    failed_at = []
    for _ in range(3):  # fail each pod as soon as it runs
        while not (running := [p for p in owned(sim, ds.uid) if p.phase == "Running"]):
            sim.run(sim.now + 0.05)
        failed_at.append(sim.now)
        sim.state.set_pod_phase(running[0].uid, "Failed")
        sim.run(sim.now + 0.01)
    sim.run(sim.now + 10)
    # The first failed pod goes at once and a 1 s back-off starts. Its replacement runs 0.1 s later
    # and fails inside the back-off, so the controller looks again a whole back-off (1 s) later and
    # deletes it then, doubling the back-off to 2 s; the third waits 2 s.
    assert failed_at[1] - failed_at[0] < 1.0 and failed_at[2] - deletions[1] < 2.0
    assert deletions == pytest.approx([failed_at[0], failed_at[1] + 1.0, failed_at[2] + 2.0])
    assert len([p for p in owned(sim, ds.uid) if p.active]) == 1


def watch_worst_unavailable(sim: Simulation, ds, nodes: int) -> list[int]:
    """A one-item list that keeps, from now on, the most of the ``nodes`` nodes ever without an
    available (active and Ready) pod of ``ds`` at once."""
    worst = [0]

    def check(_event: ev.Event) -> None:
        available = {target_node(p) for p in owned(sim, ds.uid) if p.active and p.ready}
        worst[0] = max(worst[0], nodes - len(available))

    for event_type in (ev.PodDeletionRequested, ev.PodDeleted, ev.PodCreated, ev.PodReadyChanged):
        sim.state.watch(event_type, check)
    return worst


def test_a_template_change_rolls_one_node_at_a_time():
    assert k8s.DEFAULT_DAEMONSET_MAX_UNAVAILABLE == 1
    nodes = 4
    sim = make_sim(nodes=nodes)
    ds = daemonset(sim)
    assert sim.run_until_stable(timeout=60)
    worst = watch_worst_unavailable(sim, ds, nodes)
    sim.state.update_workload_template(ds.uid, template(app="agent", image="agent:2"), 2)
    assert sim.run_until_stable(timeout=120)
    assert worst[0] == 1
    revision = Simulation.template_hash(ds.template)
    assert all(p.labels[k8s.LABEL_CONTROLLER_REVISION_HASH] == revision for p in owned(sim, ds.uid))
    assert len(owned(sim, ds.uid)) == nodes


def test_a_node_left_without_its_pod_counts_as_unavailable_in_a_rolling_update():
    """Upstream's updatedDesiredNodeCounts (pkg/controller/daemon/update.go) gives every node that
    should run the pod an entry, and rollingUpdate counts one without pods as unavailable. An old pod
    fails as a rollout starts (maxUnavailable 1, 3 nodes): the sync deletes it, and its node, left
    without a pod, must hold the update back. The model counted only nodes with pods and deleted a
    second old pod in the same sync: 2 of 3 nodes without an available pod at 3 s; now 1 at a time."""
    nodes = 3
    sim = make_sim(nodes=nodes)
    ds = daemonset(sim)
    assert sim.run_until_stable(timeout=60)
    worst = watch_worst_unavailable(sim, ds, nodes)
    victim = min(owned(sim, ds.uid), key=lambda p: target_node(p) or "")
    sim.state.set_pod_ready(victim.uid, False)
    sim.state.set_pod_phase(victim.uid, "Failed")
    sim.state.update_workload_template(ds.uid, template(app="agent", image="agent:2"), 2)
    assert sim.run_until_stable(timeout=120)
    assert worst[0] == 1
    revision = Simulation.template_hash(ds.template)
    assert sorted(p.labels[k8s.LABEL_CONTROLLER_REVISION_HASH] for p in owned(sim, ds.uid)) == [revision] * nodes


def test_the_view_counts_a_daemonsets_desired_pods_as_its_controller_does():
    """view().workloads() gave a DaemonSet on six nodes 1 desired replica (the unused replicas field)."""
    sim = make_sim(nodes=4)
    ds = daemonset(sim)
    assert sim.run_until_stable(timeout=60)
    [(kind, key, desired)] = [w for w in sim.view().workloads() if w[0] == "DaemonSet"]
    assert (key, desired) == (ds.key, 4) == (ds.key, sim.workload_status("DaemonSet", ds.namespace, ds.name).desired)
    sim.state.add_taint("worker-1", Taint("dedicated", "db", "NoSchedule"))
    [(_, _, desired)] = [w for w in sim.view().workloads() if w[0] == "DaemonSet"]
    assert desired == 3 == sim.workload_status("DaemonSet", ds.namespace, ds.name).desired
