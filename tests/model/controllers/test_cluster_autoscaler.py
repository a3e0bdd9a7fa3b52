"""The cluster autoscaler with upstream defaults: 10 s scans, scale-up for unschedulable pods that a new
node would fit, 15 min provision limit and node-group back-off, scale-down of nodes under 50 % for
10 min with PDBs respected, 10 min delay after a scale-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from podquake.model import constants as k8s
from podquake.model import load_manifests
from podquake.model import trace as ev
from podquake.model.cloud import CloudProvider
from podquake.model.cluster import ClusterSpec, NodePool
from podquake.model.controllers.cluster_autoscaler import AutoscalerOptions, ClusterAutoscaler
from podquake.model.controllers.cluster_autoscaler_options import TAINT_DELETION_CANDIDATE
from podquake.model.objects import ContainerSpec, PodSpec, PodTemplate, VolumeSpec
from podquake.model.quantity import Resources
from podquake.model.resources_api import PodDisruptionBudget
from podquake.model.selectors import LabelSelector
from podquake.model.simulation import Simulation
from tests.model.controllers.workload_kit import LegalFirstFit, deployment, replicaset

GI = 2**30
SCAN = k8s.CA_SCAN_INTERVAL_SECONDS  # 10 s
BOOT = 90.0  # the cloud's default provisioning latency
UNNEEDED = k8s.CA_SCALE_DOWN_UNNEEDED_SECONDS  # 600 s
BACKOFF = k8s.CA_INITIAL_NODE_GROUP_BACKOFF_SECONDS  # 300 s


def pool(name: str = "w", count: int = 1, max_size: int = 4, min_size: int | None = None, cpu: int = 2000, **kw: Any) -> NodePool:
    return NodePool(name=name, count=count, zones=kw.pop("zones", ("zone-a",)), cpu_millis=cpu, memory_bytes=8 * GI, min_size=min_size, max_size=max_size, **kw)


def make(*pools: NodePool, seed: int = 1, **options: Any) -> tuple[Simulation, CloudProvider, ClusterAutoscaler]:
    sim = Simulation(
        ClusterSpec(pools=pools or (pool(),)), seed=seed, scheduler=LegalFirstFit(),
        autoscaler_options=AutoscalerOptions(**options),
    )
    return sim, sim.cloud, sim.cluster_autoscaler


def tmpl(cpu: int, app: str = "web", volumes: tuple[VolumeSpec, ...] = (), annotations: tuple[tuple[str, str], ...] = (), **spec: Any) -> PodTemplate:
    container = ContainerSpec("main", "nginx", Resources(cpu, 2**26), cpu_requested=True, memory_requested=True)
    return PodTemplate((("app", app),), PodSpec(containers=(container,), volumes=volumes, **spec), annotations)


def events(sim: Simulation, kind: type[ev.Event], **match: Any) -> list[Any]:
    return [e for e in sim.trace.of_type(kind) if all(getattr(e, k) == v for k, v in match.items())]


def pending(sim: Simulation) -> int:
    return len(sim.state.unbound_pods)


# --- scale-up --------------------------------------------------------------------------------------
def test_scale_up_comes_at_the_next_scan_and_nodes_join_after_the_provisioning_latency():
    sim, cloud, ca = make(pool(count=1, max_size=4))
    sim.run(5.0)
    replicaset(sim, replicas=3, tmpl=tmpl(1500))  # one fits w-1; two are unschedulable at t=5
    sim.run(5.001)
    assert pending(sim) == 2
    sim.run(60.0)
    (scale_up,) = events(sim, ev.ClusterAutoscalerScaleUp)
    assert 5.0 < scale_up.t <= 5.0 + SCAN
    assert (scale_up.pool, scale_up.nodes, scale_up.pods) == ("w", 2, 2)  # 1500m + 1500m do not share a 2000m node
    requested = events(sim, ev.MachineStateChanged, state="requested")
    assert [e.t for e in requested] == [scale_up.t, scale_up.t]
    sim.run(scale_up.t + BOOT - 0.001)
    assert len(sim.state.nodes) == 1 and pending(sim) == 2
    sim.run(scale_up.t + BOOT + 0.001)
    assert len(sim.state.nodes) == 3 and pending(sim) == 0
    sim.run(600.0)
    assert len(events(sim, ev.ClusterAutoscalerScaleUp)) == 1  # provisioning machines absorbed the pods


def test_pods_younger_than_two_seconds_wait_for_the_next_scan():
    sim, cloud, ca = make(pool(count=1))
    sim.run(9.5)
    replicaset(sim, replicas=2, tmpl=tmpl(1500))
    sim.run(30.0)
    (scale_up,) = events(sim, ev.ClusterAutoscalerScaleUp)
    assert scale_up.t == 20.0  # at t=10 the pod was 0.5 s old (< CA_UNSCHEDULABLE_POD_TIME_BUFFER_SECONDS)


class RaisesWhenNothingFits(LegalFirstFit):
    """First fit that raises instead of answering None when no node fits (a broken plug-in)."""

    def schedule(self, pod, cluster):  # type: ignore[no-untyped-def]
        answer = super().schedule(pod, cluster)
        if answer is None:
            raise ValueError("max() arg is an empty sequence")
        return answer


def test_no_scale_up_for_a_pod_whose_scheduler_failed_with_an_error():
    """Upstream a scheduling error marks the pod PodScheduled=False with reason SchedulerError, and
    the cluster autoscaler acts only on reason Unschedulable; the model scaled up for it."""
    sim = Simulation(ClusterSpec(pools=(pool(count=1, max_size=4),)), seed=1, scheduler=RaisesWhenNothingFits())
    replicaset(sim, replicas=3, tmpl=tmpl(1500))  # one fits w-1; the plug-in raises for the other two
    sim.run(120.0)
    assert pending(sim) == 2 and events(sim, ev.SchedulerContractViolation)
    assert events(sim, ev.ClusterAutoscalerScaleUp) == [] and events(sim, ev.MachineStateChanged) == []


def test_no_scale_up_when_no_groups_node_would_fit_the_pod():
    sim, cloud, ca = make(pool(count=1, max_size=5, cpu=2000))
    replicaset(sim, name="huge", replicas=1, app="huge", tmpl=tmpl(3000, app="huge"))
    replicaset(sim, name="picky", replicas=1, app="picky", tmpl=tmpl(100, app="picky", node_selector=(("disk", "ssd"),)))
    sim.run(300.0)
    assert events(sim, ev.MachineStateChanged) == [] and pending(sim) == 2
    reasons = {e.pod.split("/")[1].split("-")[0]: e.reason for e in events(sim, ev.PodNotTriggerScaleUp)}
    assert set(reasons) == {"huge", "picky"} and all("didn't fit" in r for r in reasons.values())
    assert len(events(sim, ev.PodNotTriggerScaleUp)) == 2  # once per pod, not once per scan


def test_scale_up_stops_at_the_groups_max_size():
    sim, cloud, ca = make(pool(count=1, max_size=3))
    replicaset(sim, replicas=6, tmpl=tmpl(1500))
    sim.run(1000.0)
    assert cloud.pool_size("w") == 3 and len(sim.state.nodes) == 3
    assert sum(e.nodes for e in events(sim, ev.ClusterAutoscalerScaleUp)) == 2
    assert pending(sim) == 3
    assert all("max size" in e.reason for e in events(sim, ev.PodNotTriggerScaleUp))


def test_scale_up_stops_at_the_cloud_quota():
    sim, cloud, ca = make(pool(count=1, max_size=10))
    cloud.set_quota(2)
    replicaset(sim, replicas=4, tmpl=tmpl(1500))
    sim.run(1000.0)
    assert cloud.live_count() == 2 and pending(sim) == 2
    assert [e.nodes for e in events(sim, ev.ClusterAutoscalerScaleUp)] == [1]
    assert events(sim, ev.NodeGroupBackoff) == []  # the quota is respected up front, not by failing


def test_a_failed_machine_is_deleted_the_group_backed_off_and_the_scale_up_retried():
    sim, cloud, ca = make(pool(count=1))
    cloud.fail_next(1)
    replicaset(sim, replicas=2, tmpl=tmpl(1500))
    sim.run(2000.0)
    first, retry = events(sim, ev.MachineStateChanged, state="requested")
    (failed,) = events(sim, ev.MachineStateChanged, state="failed")
    (backoff,) = events(sim, ev.NodeGroupBackoff)
    assert failed.t == first.t + BOOT and failed.machine == first.machine
    assert failed.t <= backoff.t <= failed.t + SCAN and backoff.until == backoff.t + BACKOFF
    assert events(sim, ev.MachineStateChanged, state="terminated")[0].detail == "ProvisioningFailed"
    assert backoff.until <= retry.t < backoff.until + SCAN  # not before the back-off ends
    assert events(sim, ev.NodeAdded, node=retry.machine)[0].t == retry.t + BOOT
    assert pending(sim) == 0 and ca.backoffs == {}


def test_machines_that_fail_together_back_their_group_off_once_doubling_as_upstream():
    """Two machines failing in one loop backed the group off twice: the second call, inside the
    back-off the first had just set, reset it to 5 min (exponential_backoff.go), so the second
    episode's back-off was 300 s instead of 600 s. Upstream registers one failed scale-up per group."""
    sim, cloud, ca = make(pool(count=1, max_size=3))
    cloud.fail_next(4)
    replicaset(sim, replicas=3, tmpl=tmpl(1500))  # one on w-1, two pending: two machines a scale-up
    sim.run(1200.0)
    first, second = events(sim, ev.NodeGroupBackoff)[:2]
    assert first.until - first.t == BACKOFF and second.until - second.t == 2 * BACKOFF
    assert len(events(sim, ev.MachineStateChanged, state="failed")) == 4


def test_a_machine_that_does_not_boot_within_15_minutes_is_given_up_and_another_tried():
    sim, cloud, ca = make(pool(count=1))
    cloud.latency_multiplier = 25.0  # a 37.5 min boot
    replicaset(sim, replicas=2, tmpl=tmpl(1500))
    sim.run(1000.0)
    cloud.latency_multiplier = 1.0
    sim.run(4000.0)
    first, retry = events(sim, ev.MachineStateChanged, state="requested")[:2]
    (given_up,) = events(sim, ev.MachineStateChanged, state="terminated")
    assert given_up.machine == first.machine and given_up.detail == "ProvisioningTimeout"
    limit = k8s.CA_MAX_NODE_PROVISION_SECONDS
    assert first.t + limit < given_up.t <= first.t + limit + SCAN
    assert given_up.t + BACKOFF <= retry.t < given_up.t + BACKOFF + SCAN
    assert first.machine not in sim.state.nodes and retry.machine in sim.state.nodes
    assert pending(sim) == 0


def test_least_waste_picks_the_group_whose_new_node_wastes_least():
    small, large = pool("small", count=0, max_size=3, cpu=2000), pool("large", count=0, max_size=3, cpu=16000)
    sim, cloud, ca = make(small, large)
    replicaset(sim, replicas=1, tmpl=tmpl(1500))
    sim.run(200.0)
    assert [e.pool for e in events(sim, ev.ClusterAutoscalerScaleUp)] == ["small"]


def test_least_waste_counts_only_the_regular_containers_requests():
    """expander/waste/waste.go resourcesForPods sums pod.Spec.Containers' requests: a 1900m init
    container is not requested room. Model before: the pod's 1900m effective request made cpu-tight
    "a" waste 0.05 + 0.75 and "b" 0.525 + 0.5, so "a"; upstream: "a" 0.95 + 0.75, "b" 0.975 + 0.5, so "b"."""
    a = NodePool(name="a", count=0, zones=("zone-a",), cpu_millis=2000, memory_bytes=4 * GI, min_size=0, max_size=3)
    b = NodePool(name="b", count=0, zones=("zone-a",), cpu_millis=4000, memory_bytes=2 * GI, min_size=0, max_size=3)
    sim, cloud, ca = make(a, b)
    main = ContainerSpec("main", "app", Resources(100, GI), cpu_requested=True, memory_requested=True)
    init = ContainerSpec("migrate", "app", Resources(1900, 0), cpu_requested=True, memory_requested=True)
    replicaset(sim, replicas=1, tmpl=PodTemplate((("app", "web"),), PodSpec(containers=(main,), init_containers=(init,))))
    sim.run(20.0)
    assert [e.pool for e in events(sim, ev.ClusterAutoscalerScaleUp)] == ["b"]


def test_the_random_expander_picks_among_the_groups_that_fit_by_seed():
    chosen = set()
    for seed in range(8):
        sim, cloud, ca = make(pool("a", count=0, max_size=3), pool("b", count=0, max_size=3), seed=seed, expander="random")
        replicaset(sim, replicas=1, tmpl=tmpl(1500))
        sim.run(20.0)
        chosen.add(events(sim, ev.ClusterAutoscalerScaleUp)[0].pool)
    assert chosen == {"a", "b"}
    with pytest.raises(ValueError, match="unknown expander"):
        AutoscalerOptions(expander="most-pods")


def test_new_nodes_go_to_the_zone_a_pending_pod_needs():
    sim, cloud, ca = make(pool(count=1, zones=("zone-a", "zone-b")))
    replicaset(sim, replicas=1, tmpl=tmpl(100, node_selector=((k8s.LABEL_ZONE, "zone-a"),)))
    replicaset(sim, name="big", app="big", replicas=2, tmpl=tmpl(1500, app="big", node_selector=((k8s.LABEL_ZONE, "zone-a"),)))
    sim.run(300.0)
    assert [e.zone for e in events(sim, ev.MachineStateChanged, state="requested")] == ["zone-a"]
    assert pending(sim) == 0


# --- scale-down ------------------------------------------------------------------------------------
def test_an_empty_node_is_removed_after_10_minutes_unneeded_and_not_before():
    sim, cloud, ca = make(pool(count=2, min_size=1, max_size=3))
    replicaset(sim, replicas=1, tmpl=tmpl(100))  # on w-1; w-2 is empty from the first scan, at t=0
    start = 0.0 + UNNEEDED + SCAN  # removable once unneeded for strictly more than 10 min
    sim.run(start - 0.001)
    assert "w-2" in sim.state.nodes and events(sim, ev.ClusterAutoscalerScaleDown) == []
    assert ca.unneeded == {"w-2": 0.0}
    sim.run(start + k8s.CA_NODE_DELETE_DELAY_AFTER_TAINT_SECONDS + 0.001)
    assert [(e.t, e.node, e.phase) for e in events(sim, ev.ClusterAutoscalerScaleDown)] == [
        (start, "w-2", "started"),
        (start + k8s.CA_NODE_DELETE_DELAY_AFTER_TAINT_SECONDS, "w-2", "completed"),
    ]
    assert "w-2" not in sim.state.nodes and cloud.pool_size("w") == 1
    sim.run(5000.0)
    assert list(sim.state.nodes) == ["w-1"]  # min size 1


@pytest.mark.parametrize("cpu, removed", [(900, True), (1000, False), (1100, False)])
def test_only_nodes_under_half_utilized_are_removed(cpu, removed):
    """Two 2000m nodes with one pod each: 45 % is under the 0.5 threshold, 50 % is not (strictly below)."""
    sim, cloud, ca = make(pool(count=2, min_size=1, max_size=3))
    replicaset(sim, replicas=2, tmpl=tmpl(cpu))
    sim.run(1.0)
    if len(sim.state.nodes["w-1"].pods) == 2:
        _spread_one_per_node(sim)
    assert [len(n.pods) for n in sim.state.nodes.values()] == [1, 1]
    sim.run(2400.0)
    assert (len(sim.state.nodes) == 1) is removed
    assert pending(sim) == 0


def test_scale_down_waits_10_minutes_after_a_scale_up():
    sim, cloud, ca = make(pool(count=1, max_size=3), scale_down_unneeded_time=60.0)
    rs = replicaset(sim, replicas=2, tmpl=tmpl(1500))
    sim.run(150.0)
    (scale_up,) = events(sim, ev.ClusterAutoscalerScaleUp)
    sim.state.scale_workload(rs.uid, 1)  # a node empties; unneeded long enough after 60 s
    sim.run(2000.0)
    (started, *_) = events(sim, ev.ClusterAutoscalerScaleDown, phase="started")
    assert started.t == scale_up.t + k8s.CA_SCALE_DOWN_DELAY_AFTER_ADD_SECONDS


def test_a_pdb_that_allows_no_disruption_blocks_scale_down_until_it_is_relaxed():
    sim, cloud, ca = make(pool(count=2, min_size=1, max_size=3))
    api = deployment(sim, name="api", app="api", replicas=2, tmpl=tmpl(900, app="api"))
    selector = LabelSelector.of({"app": "api"})
    sim.state.put_object("PodDisruptionBudget", "default", "api", PodDisruptionBudget("api", "default", selector, min_available=2))
    sim.run(1.0)
    _spread_one_per_node(sim)
    sim.run(1800.0)
    assert len(sim.state.nodes) == 2 and events(sim, ev.ClusterAutoscalerScaleDown) == []
    relaxed_at = sim.now
    sim.state.put_object("PodDisruptionBudget", "default", "api", PodDisruptionBudget("api", "default", selector, max_unavailable=1))
    sim.run(relaxed_at + k8s.CA_UNREMOVABLE_NODE_RECHECK_SECONDS + UNNEEDED + 120.0)
    assert len(sim.state.nodes) == 1
    (started,) = events(sim, ev.ClusterAutoscalerScaleDown, phase="started")
    assert started.reason == "drain" and started.t > relaxed_at + UNNEEDED
    assert [e.reason for e in events(sim, ev.PodDeletionRequested)].count("EvictionByEvictionAPI") == 1
    assert sim.workload_status("Deployment", "default", "api").ready == 2 and api.replicas == 2


def _spread_one_per_node(sim: Simulation) -> None:
    """First fit packs the two 900m pods on w-1: move one to w-2."""
    victim = next(iter(sim.state.nodes["w-1"].pods.values()))
    sim.state.set_unschedulable("w-1", True)
    sim.state.request_pod_deletion(victim.uid, "test")
    sim.run(sim.now + 10.0)
    sim.state.set_unschedulable("w-1", False)
    assert [len(n.pods) for n in sim.state.nodes.values()] == [1, 1]


def test_a_pdb_tightened_after_the_taint_stops_the_drain_before_any_eviction():
    """The actuator runs the drain rules again once the taint delay is over (actuation/actuator.go
    deleteNodesAsync: GetPodsToMove with the budgets as they are now). The model evicted regardless
    and failed after 2 min of 429 answers (at 735 s); now the deletion fails at 615 s, untainted."""
    sim, cloud, ca = make(pool(count=2, min_size=1, max_size=3))
    deployment(sim, name="api", app="api", replicas=2, tmpl=tmpl(900, app="api"))
    sim.run(1.0)
    _spread_one_per_node(sim)
    strict = PodDisruptionBudget("api", "default", LabelSelector.of({"app": "api"}), min_available=2)

    def tighten(event: ev.ClusterAutoscalerScaleDown) -> None:
        if event.phase == "started":  # between the taint and the first eviction, 5 s later
            sim.state.put_object("PodDisruptionBudget", "default", "api", strict)

    sim.state.watch(ev.ClusterAutoscalerScaleDown, tighten)
    sim.run(1500.0)
    (started,) = events(sim, ev.ClusterAutoscalerScaleDown, phase="started")
    (failed,) = events(sim, ev.ClusterAutoscalerScaleDown, phase="failed")
    assert failed.t == started.t + k8s.CA_NODE_DELETE_DELAY_AFTER_TAINT_SECONDS
    assert "not enough pod disruption budget" in failed.reason
    node = sim.state.nodes[failed.node]
    assert not node.unschedulable and not any(t.key == k8s.TAINT_TO_BE_DELETED for t in node.taints)
    assert ca.last_scale_down_fail < 0 and len(sim.state.nodes) == 2  # a failed drain starts no cool-down
    assert "EvictionByEvictionAPI" not in [e.reason for e in events(sim, ev.PodDeletionRequested)]


def test_an_eviction_refused_for_2_minutes_fails_the_drain_and_untaints_the_node():
    """The budget's status allows the disruption but the eviction API answers 429 (drain.go retries
    every 10 s for max-pod-eviction-time, 2 min)."""
    sim = Simulation(ClusterSpec(pools=(pool(count=2, min_size=1, max_size=3),)), seed=1, scheduler=LegalFirstFit())
    ca = sim.cluster_autoscaler
    ca.disruption = RefusingDisruption(sim, 1)  # type: ignore[assignment]
    deployment(sim, name="api", app="api", replicas=2, tmpl=tmpl(900, app="api"))
    sim.state.put_object("PodDisruptionBudget", "default", "api", PodDisruptionBudget("api", "default", LabelSelector.of({"app": "api"}), max_unavailable=1))
    sim.run(1.0)
    _spread_one_per_node(sim)
    sim.run(1500.0)
    (started, *_) = events(sim, ev.ClusterAutoscalerScaleDown, phase="started")
    (failed, *_) = events(sim, ev.ClusterAutoscalerScaleDown, phase="failed")
    evict_at = started.t + k8s.CA_NODE_DELETE_DELAY_AFTER_TAINT_SECONDS
    assert failed.t == evict_at + k8s.CA_MAX_POD_EVICTION_SECONDS and "429" in failed.reason
    assert len(ca.disruption.calls) >= 13  # type: ignore[union-attr]  # at 0, 10, ..., 120 s
    node = sim.state.nodes[failed.node]
    assert not node.unschedulable and not any(t.key == k8s.TAINT_TO_BE_DELETED for t in node.taints)


def test_pods_with_local_storage_or_no_controller_block_scale_down_unless_safe_to_evict():
    safe = ((k8s.CA_SAFE_TO_EVICT_ANNOTATION, "true"),)
    cases = [
        ("emptyDir", dict(volumes=(VolumeSpec("scratch"),)), False),
        ("emptyDir safe", dict(volumes=(VolumeSpec("scratch"),), annotations=safe), True),
        # utils/drain/drain.go isLocalVolume: a memory-backed emptyDir is not local storage
        ("emptyDir in memory", dict(volumes=(VolumeSpec("scratch", medium="Memory"),)), True),
        ("hostPath", dict(volumes=(VolumeSpec("logs", "hostPath"),)), False),
        # getNonBlockingVolumes: the volumes named in safe-to-evict-local-volumes do not block; others do
        ("listed", dict(volumes=(VolumeSpec("scratch"), VolumeSpec("logs", "hostPath")), annotations=((k8s.CA_SAFE_TO_EVICT_LOCAL_VOLUMES_ANNOTATION, "scratch,logs"),)), True),
        ("half listed", dict(volumes=(VolumeSpec("scratch"), VolumeSpec("logs", "hostPath")), annotations=((k8s.CA_SAFE_TO_EVICT_LOCAL_VOLUMES_ANNOTATION, "logs"),)), False),
        ("bare pod", "bare", False),
        ("not safe", dict(annotations=((k8s.CA_SAFE_TO_EVICT_ANNOTATION, "false"),)), False),
    ]
    for label, extra, removable in cases:
        sim, cloud, ca = make(pool(count=2, min_size=1, max_size=3))
        replicaset(sim, name="base", app="base", replicas=1, tmpl=tmpl(1000, app="base"))  # w-1 at 50 %: stays
        sim.run(1.0)
        sim.state.set_unschedulable("w-1", True)
        if extra == "bare":
            sim.create_pod("lonely", "default", tmpl(100, app="lonely"))
        else:
            replicaset(sim, name="x", app="x", replicas=1, tmpl=tmpl(100, app="x", **extra))
        sim.run(5.0)
        sim.state.set_unschedulable("w-1", False)
        sim.run(1500.0)
        assert ("w-2" not in sim.state.nodes) is removable, label


def test_a_safe_to_evict_pod_is_planned_away_whatever_its_budget_and_the_eviction_api_refuses_it():
    """Upstream's rule chain (simulator/drainability/rules/rules.go) stops at safetoevict (drainable)
    before the PDB rule: the node is unneeded and its drain fails on 429 answers for 2 min. The model
    checked the budget for every pod and never planned the node."""
    sim, cloud, ca = make(pool(count=2, min_size=1, max_size=3))
    replicaset(sim, name="base", app="base", replicas=1, tmpl=tmpl(1000, app="base"))  # w-1 at 50 %: stays
    sim.run(1.0)
    sim.state.set_unschedulable("w-1", True)
    safe = ((k8s.CA_SAFE_TO_EVICT_ANNOTATION, "true"),)
    replicaset(sim, name="x", app="x", replicas=1, tmpl=tmpl(100, app="x", annotations=safe))
    sim.state.put_object("PodDisruptionBudget", "default", "x", PodDisruptionBudget("x", "default", LabelSelector.of({"app": "x"}), min_available=1))
    sim.run(5.0)
    sim.state.set_unschedulable("w-1", False)
    sim.run(1000.0)
    (started, *_) = events(sim, ev.ClusterAutoscalerScaleDown, phase="started", node="w-2")
    (failed, *_) = events(sim, ev.ClusterAutoscalerScaleDown, phase="failed", node="w-2")
    evict_at = started.t + k8s.CA_NODE_DELETE_DELAY_AFTER_TAINT_SECONDS
    assert failed.t == evict_at + k8s.CA_MAX_POD_EVICTION_SECONDS and "429" in failed.reason
    assert "w-2" in sim.state.nodes


def test_an_unready_empty_node_is_removed_after_20_minutes():
    sim, cloud, ca = make(pool(count=3, min_size=1, max_size=3))
    replicaset(sim, replicas=1, tmpl=tmpl(100))
    sim.kubelets["w-3"].power_off()
    sim.run(1.0)
    sim.run(UNNEEDED + 3 * SCAN)
    assert "w-3" in sim.state.nodes and "w-2" not in sim.state.nodes  # w-2 (Ready) went at 610
    sim.run(k8s.CA_SCALE_DOWN_UNREADY_SECONDS + SCAN + 10.0)
    assert "w-3" not in sim.state.nodes


# --- PDB arithmetic and the eviction API -----------------------------------------------------------
def test_evictions_go_through_the_simulations_eviction_api():
    sim, cloud, ca = make(pool(count=1, cpu=4000))
    assert ca.disruption is sim.disruption
    deployment(sim, name="api", app="api", replicas=2, tmpl=tmpl(100, app="api"))
    selector = LabelSelector.of({"app": "api"})
    sim.state.put_object("PodDisruptionBudget", "default", "a", PodDisruptionBudget("a", "default", selector, max_unavailable=1))
    sim.run(10.0)
    pods = sorted(sim.state.pods_matching("default", selector), key=lambda p: p.name)
    assert ca.evict(pods[0]) == ""
    assert pods[0].deletion_timestamp is not None
    assert ca.evict(pods[1]).startswith("429")
    sim.state.put_object("PodDisruptionBudget", "default", "b", PodDisruptionBudget("b", "default", selector, max_unavailable=1))
    assert ca.evict(pods[1]).startswith("500")


MANIFESTS = (Path(__file__).parents[3] / "../shared/manifests").resolve()


@pytest.mark.skipif(not (MANIFESTS / "online-boutique.yaml").is_file(), reason="the shared sample manifests are missing")
def test_online_boutique_on_one_small_node_gets_the_nodes_it_needs():
    small = NodePool(name="w", count=1, zones=("zone-a", "zone-b"), cpu_millis=1000, memory_bytes=4 * GI, min_size=1, max_size=8)
    sim = Simulation(ClusterSpec(pools=(small,)), seed=2)  # the default scheduler
    cloud = sim.cloud
    sim.apply(load_manifests(MANIFESTS / "online-boutique.yaml"))
    assert sim.run_until_stable(timeout=600)
    scale_ups = events(sim, ev.ClusterAutoscalerScaleUp)
    assert scale_ups and scale_ups[0].t == SCAN  # pending from t=0; too new at the first scan
    assert 1 < len(sim.state.nodes) == cloud.pool_size("w") <= 8
    requested = sum(p.spec.requests.cpu_millis for p in sim.state.pods.values())
    assert requested > 1000  # it did not fit on the one node


def test_the_same_seed_gives_the_same_trace_byte_for_byte():
    def run(seed: int) -> str:
        sim = Simulation(
            ClusterSpec(pools=(pool(count=1, max_size=6, zones=("zone-a", "zone-b")),)), seed=seed,
            cloud_options={"provisioning_jitter": 0.3, "failure_rate": 0.3},
            autoscaler_options=AutoscalerOptions(expander="random"),
        )
        rs = replicaset(sim, replicas=6, tmpl=tmpl(900))
        sim.run(1200.0)
        sim.state.scale_workload(rs.uid, 1)
        sim.run(3000.0)
        assert events(sim, ev.ClusterAutoscalerScaleDown)
        return sim.trace.to_jsonl()

    assert run(4) == run(4)
    assert run(4) != run(5)


def test_pools_without_min_and_max_size_are_left_alone():
    fixed = NodePool(name="w", count=2, zones=("zone-a",), cpu_millis=2000, memory_bytes=8 * GI)
    sim, cloud, ca = make(fixed)
    replicaset(sim, replicas=3, tmpl=tmpl(1500))  # w-1 and w-2 take one each; one pending
    sim.run(1.0)
    sim.state.scale_workload(next(iter(sim.state.workloads)), 1)  # and now w-2 is empty
    sim.run(3000.0)
    assert list(sim.state.nodes) == ["w-1", "w-2"] and events(sim, ev.MachineStateChanged) == []


class FakeDisruption:
    """A disruption controller double: fixed budgets, an eviction API that records and obeys them."""

    def __init__(self, sim: Simulation, allowed: int | None) -> None:
        self.sim, self.allowed, self.calls = sim, allowed, []

    def status(self, namespace: str, name: str) -> Any:
        return None if self.allowed is None else type("Status", (), {"disruptions_allowed": self.allowed})()

    def evict(self, pod_key: str) -> Any:
        self.calls.append(pod_key)
        if not self.allowed:
            return type("Answer", (), {"code": 429, "reason": "budget"})()
        pod = self.sim.state.pods_by_key[pod_key]
        self.sim.state.request_pod_deletion(pod.uid, "EvictionByEvictionAPI")
        return type("Answer", (), {"code": 200, "reason": "evicted"})()


class RefusingDisruption(FakeDisruption):
    """Budgets that allow the disruption, and an eviction API that refuses it (429) all the same."""

    def evict(self, pod_key: str) -> Any:
        self.calls.append(pod_key)
        return type("Answer", (), {"code": 429, "reason": "Cannot evict pod as it would violate the pod's disruption budget."})()


@pytest.mark.parametrize("allowed, removed", [(None, False), (0, False), (1, True)])
def test_the_disruption_controllers_budgets_and_answers_decide_scale_down(allowed, removed):
    """None: the budget was never synced (upstream reads status.disruptionsAllowed 0)."""
    sim = Simulation(ClusterSpec(pools=(pool(count=2, min_size=1, max_size=3),)), seed=1, scheduler=LegalFirstFit())
    ca = sim.cluster_autoscaler
    ca.disruption = FakeDisruption(sim, allowed)  # type: ignore[assignment]
    deployment(sim, name="api", app="api", replicas=2, tmpl=tmpl(900, app="api"))
    sim.state.put_object("PodDisruptionBudget", "default", "api", PodDisruptionBudget("api", "default", LabelSelector.of({"app": "api"}), max_unavailable=1))
    sim.run(1.0)
    _spread_one_per_node(sim)
    sim.run(1500.0)
    assert (len(sim.state.nodes) == 1) is removed
    assert len(ca.disruption.calls) == (1 if removed else 0)  # type: ignore[union-attr]


def test_a_terminating_pod_counts_towards_utilization_until_twice_its_grace_period_plus_30_s():
    """A pod stopped counting grace + 30 s after the deletion request, but upstream's deletionTimestamp already adds the grace period once (IsPodLongTerminating)."""
    sim, cloud, ca = make(pool(count=1, cpu=2000))
    replicaset(sim, replicas=1, tmpl=tmpl(1500, termination_grace_period_seconds=30.0))
    sim.run(10.0)
    node = sim.state.nodes["w-1"]
    (pod,) = node.pods.values()
    sim.kubelets["w-1"].stop_kubelet()  # the pod stays Terminating
    sim.state.request_pod_deletion(pod.uid, "test")
    deleted = pod.deletion_timestamp
    assert ca._utilization(node, deleted + 30.0 + 30.0 + 1.0) >= 0.75  # grace + 30 s: upstream counts it still
    assert ca._utilization(node, deleted + 2 * 30.0 + 30.0) >= 0.75  # not strictly after yet
    assert ca._utilization(node, deleted + 2 * 30.0 + 30.0 + 0.001) < 0.75


@pytest.mark.parametrize(
    "options, words",
    [
        ({"scan_interval": float("nan")}, "scan_interval must be a finite number >= 0"),
        ({"max_nodes_total": -1}, "max_nodes_total must be a whole number >= 0"),
        ({"scale_down_utilization_threshold": 5}, "a fraction in [0, 1]"),
        ({"max_node_provision_time": -5}, "max_node_provision_time must be a finite number >= 0"),
        ({"enabled": "yes"}, "enabled must be True or False"),
    ],
)
def test_impossible_autoscaler_options_are_refused(options, words):
    """NaN, negative and out-of-range flags were taken (a NaN scan interval never scanned)."""
    with pytest.raises(ValueError) as caught:
        AutoscalerOptions(**options)
    assert words in str(caught.value)
    assert AutoscalerOptions(expendable_pods_priority_cutoff=-10).expendable_pods_priority_cutoff == -10  # upstream's default


def test_autoscaler_options_given_as_a_dict_are_refused_with_the_fix():
    """A dict failed deep inside with AttributeError: 'dict' object has no attribute 'enabled'."""
    with pytest.raises(TypeError, match="must be an AutoscalerOptions, not dict"):
        Simulation(ClusterSpec.uniform(nodes=2, zones=1), autoscaler_options={"enabled": False})


# --- expendable pods (priority below --expendable-pods-priority-cutoff, -10) ------------------------
EXPENDABLE = k8s.CA_EXPENDABLE_PODS_PRIORITY_CUTOFF - 10  # -20


def test_an_expendable_pod_neither_keeps_its_node_nor_is_evicted_from_it():
    """Upstream's snapshot holds only the non-expendable scheduled pods (core/static_autoscaler.go
    RunOnce, actuation/actuator.go createSnapshot): w-2's 1500m expendable pod counted 75 % and kept
    the node for ever; now w-2 is empty, deleted without a drain, and the pod goes with it."""
    sim, cloud, ca = make(pool(count=2, min_size=1, max_size=3))
    replicaset(sim, name="base", app="base", replicas=1, tmpl=tmpl(1000, app="base"))  # w-1 at 50 %: stays
    sim.run(1.0)
    sim.state.set_unschedulable("w-1", True)
    replicaset(sim, name="batch", app="batch", replicas=1, tmpl=tmpl(1500, app="batch", priority=EXPENDABLE))
    sim.run(5.0)
    sim.state.set_unschedulable("w-1", False)
    assert [p.name for p in sim.state.nodes["w-2"].pods.values()][0].startswith("batch")
    assert ca._utilization(sim.state.nodes["w-2"], sim.now) == 0.0
    sim.run(2000.0)
    assert "w-2" not in sim.state.nodes
    (started,) = events(sim, ev.ClusterAutoscalerScaleDown, phase="started")
    assert started.reason == "empty" and started.t == UNNEEDED + SCAN  # unneeded since the first scan, the pod changed nothing
    assert "EvictionByEvictionAPI" not in [e.reason for e in events(sim, ev.PodDeletionRequested)]
    assert events(sim, ev.ClusterAutoscalerScaleUp) == []  # its pending replacement is expendable too


def test_a_pod_that_fits_once_an_expendable_pod_is_preempted_triggers_no_scale_up():
    """filter_out_schedulable packs the pending pods on a snapshot without expendable pods: the
    scheduler is expected to preempt them. The model added a node for the pod."""
    sim, cloud, ca = make(pool(count=1, max_size=3))
    replicaset(sim, name="batch", app="batch", replicas=1, tmpl=tmpl(1500, app="batch", priority=EXPENDABLE))
    sim.run(1.0)
    replicaset(sim, name="web", app="web", replicas=1, tmpl=tmpl(1000))
    sim.run(300.0)
    assert pending(sim) == 1 and events(sim, ev.PodUnschedulable)
    assert events(sim, ev.ClusterAutoscalerScaleUp) == []


def test_a_failed_drain_does_not_hold_back_the_next_deletion_for_3_minutes():
    """Upstream sets lastScaleDownFailTime only when StartDeletion fails at once (core/static_autoscaler.go
    RunOnce); a drain fails in its goroutine later. w-3 waited until 180 s after w-2's drain failed;
    now it starts at the next scan."""
    sim, cloud, ca = make(pool(count=3, min_size=1, max_size=3))
    replicaset(sim, name="base", app="base", replicas=1, tmpl=tmpl(1000, app="base"))  # w-1 at 50 %: stays
    sim.run(1.0)
    sim.state.set_unschedulable("w-1", True)
    deployment(sim, name="api", app="api", replicas=1, tmpl=tmpl(100, app="api"))  # on w-2
    sim.run(2.0)
    sim.state.set_unschedulable("w-2", True)
    replicaset(sim, name="web", app="web", replicas=1, tmpl=tmpl(100, app="web"))  # on w-3
    sim.run(3.0)
    for node in ("w-1", "w-2"):
        sim.state.set_unschedulable(node, False)
    strict = PodDisruptionBudget("api", "default", LabelSelector.of({"app": "api"}), min_available=1)

    def tighten(event: ev.ClusterAutoscalerScaleDown) -> None:
        if event.phase == "started" and event.node == "w-2":
            sim.state.put_object("PodDisruptionBudget", "default", "api", strict)

    sim.state.watch(ev.ClusterAutoscalerScaleDown, tighten)
    sim.run(1500.0)
    (failed,) = events(sim, ev.ClusterAutoscalerScaleDown, phase="failed")
    assert failed.node == "w-2"
    (started,) = events(sim, ev.ClusterAutoscalerScaleDown, phase="started", node="w-3")
    assert started.t == (failed.t // SCAN + 1) * SCAN  # the next scan, not failed.t + 180 s
    assert "w-3" not in sim.state.nodes and "w-2" in sim.state.nodes


# --- soft taints (DeletionCandidateOfClusterAutoscaler:PreferNoSchedule) ---------------------------
def _soft_taints(sim: Simulation, kind: type[ev.Event]) -> list[tuple[float, str]]:
    return [(e.t, e.node) for e in sim.trace.of_type(kind) if e.key == TAINT_DELETION_CANDIDATE]


def test_unneeded_nodes_get_the_soft_deletion_candidate_taint_ten_a_loop_and_lose_it_when_needed():
    """core/scaledown/actuation/softtaint.go UpdateSoftDeletionTaints, --max-bulk-soft-taint-count 10.
    The model never soft-tainted: the scheduler went on placing new pods on nodes about to go."""
    sim, cloud, ca = make(pool(count=13, min_size=1, max_size=13))
    sim.run(0.5)
    assert len(ca.unneeded) == 13  # all empty at the first scan
    assert [t for t, _ in _soft_taints(sim, ev.NodeTainted)] == [0.0] * 10
    sim.run(10.5)
    assert len(_soft_taints(sim, ev.NodeTainted)) == 13  # the other 3 at the next scan
    (taint,) = [t for t in sim.state.nodes["w-1"].taints if t.key == TAINT_DELETION_CANDIDATE]
    assert (taint.effect, taint.value) == ("PreferNoSchedule", "0")
    replicaset(sim, replicas=1, tmpl=tmpl(1500))  # first fit: w-1 at 75 %, needed again
    sim.run(20.5)
    assert _soft_taints(sim, ev.NodeUntainted) == [(20.0, "w-1")]
    assert not any(t.key == TAINT_DELETION_CANDIDATE for t in sim.state.nodes["w-1"].taints)


def test_no_soft_taints_with_max_bulk_soft_taint_count_0():
    sim, cloud, ca = make(pool(count=2, min_size=1, max_size=3), max_bulk_soft_taint_count=0)
    sim.run(100.0)
    assert ca.unneeded and _soft_taints(sim, ev.NodeTainted) == []



# --- pods waiting for preemption (status.nominatedNodeName) -----------------------------------------
def test_a_pod_nominated_to_a_node_by_preemption_triggers_no_scale_up():
    """core/utils FilterOutExpendableAndSplit: a pending pod whose nominatedNodeName is an existing
    node waits for its victims to go and asks no scale-up (filter_out_expendable.go puts it on that
    node in the snapshot). The model added a node for it while its victim terminated."""
    sim = Simulation(ClusterSpec(pools=(pool(count=1, max_size=3),)), seed=1)  # the default scheduler preempts
    slow_stop = ContainerSpec("main", "app", Resources(1500, 2**26), cpu_requested=True, memory_requested=True, pre_stop_seconds=25.0)
    sim.create_pod("victim", "default", PodTemplate((("app", "victim"),), PodSpec(containers=(slow_stop,))))  # bare: not recreated
    sim.run(5.0)
    sim.create_pod("vip", "default", tmpl(1500, app="vip", priority=1000))
    sim.run(6.0)
    vip = sim.state.pods_by_key["default/vip"]
    assert vip.node_name is None and vip.nominated_node_name == "w-1"
    sim.run(25.0)
    assert vip.node_name is None  # the victim's preStop hook runs 25 s: scans at 10 and 20 s saw the pod pending
    sim.run(120.0)
    assert vip.node_name == "w-1" and "default/victim" not in sim.state.pods_by_key
    assert events(sim, ev.ClusterAutoscalerScaleUp) == []
    assert sim.cluster_autoscaler.loops > 5


def test_a_pod_nominated_to_a_node_that_is_gone_is_helped_like_any_other():
    sim, cloud, ca = make(pool(count=1, max_size=3))
    replicaset(sim, replicas=2, tmpl=tmpl(1500))  # one pending
    sim.run(1.0)
    (uid,) = sim.state.unbound_pods
    sim.state.set_nominated_node(uid, "w-9")  # no such node
    sim.run(30.0)
    assert [e.pool for e in events(sim, ev.ClusterAutoscalerScaleUp)] == ["w"]


def test_scale_up_honours_required_anti_affinity_as_the_schedulers_filters_do():
    from podquake.model.objects import PodAffinity, PodAffinityTerm

    apart = PodAffinity(required_anti_affinity=(PodAffinityTerm(k8s.LABEL_HOSTNAME, LabelSelector.of({"app": "web"})),))
    sim = Simulation(ClusterSpec(pools=(pool(count=1, max_size=4, cpu=4000),)), seed=1)  # the default scheduler
    sim.run(5.0)
    replicaset(sim, replicas=3, tmpl=tmpl(100, pod_affinity=apart))  # room for all on w-1, but one per node
    sim.run(5.001)
    assert pending(sim) == 2
    sim.run(300.0)
    (scale_up,) = events(sim, ev.ClusterAutoscalerScaleUp)
    assert (scale_up.nodes, scale_up.pods) == (2, 2)  # one new node per replica: the estimator filters too
    assert pending(sim) == 0 and len({p.node_name for p in sim.state.pods.values()}) == 3
