"""Volumes (model/volumes.py): WaitForFirstConsumer binding in the consumer's zone, the zone carried to
later pods, ReadWriteOnce attach/detach with the attach/detach controller's 6-minute force-detach
(ATTACH_DETACH_MAX_WAIT_FOR_UNMOUNT_SECONDS), StatefulSet claims that follow their pod, and data
counters: persistent data survives restarts and moves, emptyDir data dies with its pod or its node."""

from __future__ import annotations

import pytest

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.cluster import ClusterSpec
from podquake.model.errors import InputError
from podquake.model.manifests import load_manifests
from podquake.model.controllers.statefulset import CLAIM_ACCESS_MODES, CLAIM_STORAGE_BYTES
from podquake.model.objects import ContainerSpec, Deployment, PodSpec, PodTemplate, StatefulSet, VolumeSpec
from podquake.model.quantity import Resources
from podquake.model.resources_api import PersistentVolumeClaim
from podquake.model.selectors import LabelSelector, NodeAffinity, NodeSelectorTerm, Requirement, Taint
from podquake.model.simulation import Simulation, Timing
from podquake.model.volumes import Volumes, immediate_zone, require_zones

WAIT = k8s.ATTACH_DETACH_MAX_WAIT_FOR_UNMOUNT_SECONDS  # 360 s
START = Timing().container_start_seconds


def cluster(nodes: int = 4, zones: int = 2, scheduler: str | None = "first-fit", seed: int = 1) -> tuple[Simulation, Volumes]:
    """worker-1 zone-a, worker-2 zone-b, worker-3 zone-a, worker-4 zone-b (zones round-robin)."""
    sim = Simulation(ClusterSpec.uniform(nodes=nodes, zones=zones), seed=seed, scheduler=scheduler)
    volumes = getattr(sim, "volumes", None)  # the simulation's own, once it wires one in
    if volumes is None:
        volumes = Volumes(sim)
        volumes.start()
    return sim, volumes


def spec(*volumes: VolumeSpec, cpu: int = 100) -> PodSpec:
    container = ContainerSpec("app", requests=Resources(cpu, 2**26), cpu_requested=True, memory_requested=True)
    return PodSpec(containers=(container,), volumes=volumes)


def claim(sim: Simulation, name: str, modes: tuple[str, ...] = ("ReadWriteOnce",), volume_name: str | None = None) -> None:
    sim.state.put_object("PersistentVolumeClaim", "default", name, PersistentVolumeClaim(name, "default", modes, 2**30, volume_name=volume_name))


def pod_with_claim(sim: Simulation, name: str, claim_name: str, cpu: int = 100) -> str:
    sim.create_pod(name, "default", PodTemplate((("app", name),), spec(VolumeSpec("data", "persistentVolumeClaim", claim_name), cpu=cpu)))
    return f"default/{name}"


def events(sim: Simulation, kind: type, since: float = 0.0, **fields: object) -> list:
    return [e for e in sim.trace.of_type(kind) if e.t >= since and all(getattr(e, k) == v for k, v in fields.items())]


def zone_of(sim: Simulation, pod_key: str) -> str:
    pod = sim.state.pods_by_key[pod_key]
    assert pod.node_name is not None
    return sim.state.nodes[pod.node_name].zone


def statefulset(sim: Simulation, replicas: int = 1, templates: tuple[str, ...] = ("data",)) -> StatefulSet:
    template = PodTemplate((("app", "db"),), spec(VolumeSpec("scratch", "emptyDir")))
    ss = StatefulSet(
        uid=sim.new_uid(), name="db", namespace="default", selector=LabelSelector.of({"app": "db"}),
        template=template, replicas=replicas, volume_claim_templates=templates,
    )
    sim.create_workload(ss)
    return ss


# --- the zone as required node affinity -------------------------------------------------------------
def test_require_zones_ands_the_zone_into_every_required_term_and_is_idempotent():
    zone = Requirement(k8s.LABEL_ZONE, "In", ("zone-a",))
    ssd = Requirement("disk", "In", ("ssd",))
    base = PodSpec(
        containers=(ContainerSpec("c"),),
        node_affinity=NodeAffinity((NodeSelectorTerm((ssd,)), NodeSelectorTerm()), ((5, NodeSelectorTerm((ssd,))),)),
    )
    zonal = require_zones(base, ("zone-a",))
    assert zonal.node_affinity is not None and zonal.node_affinity.required is not None
    first, empty = zonal.node_affinity.required
    assert first.match_expressions == (ssd, zone)
    assert empty == NodeSelectorTerm()  # an empty term matches nothing; it stays so
    assert zonal.node_affinity.preferred == base.node_affinity.preferred  # type: ignore[union-attr]
    assert require_zones(zonal, ("zone-a",)) is zonal
    assert zonal.node_selector_matches("n", {"disk": "ssd", k8s.LABEL_ZONE: "zone-a"})
    assert not zonal.node_selector_matches("n", {"disk": "ssd", k8s.LABEL_ZONE: "zone-b"})
    # Two zones: no node is in both, as upstream's VolumeZone filter makes such a pod unschedulable.
    both = require_zones(PodSpec(containers=(ContainerSpec("c"),)), ("zone-a", "zone-b"))
    assert not any(both.node_selector_matches("n", {k8s.LABEL_ZONE: z}) for z in ("zone-a", "zone-b"))


# --- WaitForFirstConsumer binding and the zone -------------------------------------------------------
def test_claim_binds_to_a_volume_provisioned_in_the_first_consumers_zone_and_later_pods_follow_it():
    sim, volumes = cluster()
    claim(sim, "shared")
    sim.run_for(1)
    assert volumes.volume_for_claim("default", "shared") is None  # Pending until a consumer is scheduled
    first = pod_with_claim(sim, "first", "shared")
    sim.run_for(START + 1)
    pv = volumes.volume_for_claim("default", "shared")
    assert pv is not None and pv.zone == zone_of(sim, first) == "zone-a"  # first-fit put it on worker-1
    assert pv.name.startswith("pvc-") and pv.claim == "default/shared" and pv.access_modes == ("ReadWriteOnce",)
    assert [e.zone for e in events(sim, ev.VolumeProvisioned)] == ["zone-a"]
    assert [(e.claim, e.volume) for e in events(sim, ev.ClaimBound)] == [("default/shared", pv.name)]
    assert sim.state.objects[("PersistentVolumeClaim", "default", "shared")].volume_name == pv.name  # type: ignore[attr-defined]

    sim.state.delete_pod(sim.state.pods_by_key[first].uid, "Deleted")
    sim.state.set_unschedulable("worker-1", True)  # first-fit would now pick worker-2, in zone-b
    second = pod_with_claim(sim, "second", "shared")
    assert events(sim, ev.PodSpecChanged, pod=second)[0].reason == f"VolumeZone {k8s.LABEL_ZONE}=zone-a"
    sim.run_for(START + 1)
    assert sim.state.pods_by_key[second].node_name == "worker-3"  # the other zone-a node
    assert volumes.read(second, "data") == 0  # attached and readable there


def test_a_pending_pod_of_a_claim_gets_the_zone_when_another_consumer_binds_it():
    sim, volumes = cluster()
    claim(sim, "shared", modes=("ReadWriteMany",))
    sim.state.set_unschedulable("worker-3", True)  # zone-a is worker-1 alone, with room for one 3-CPU pod
    a = pod_with_claim(sim, "a", "shared", cpu=3000)
    b = pod_with_claim(sim, "b", "shared", cpu=3000)  # created before the claim is bound: no zone yet
    assert not events(sim, ev.PodSpecChanged)
    sim.run_for(START + 1)
    assert zone_of(sim, a) == "zone-a"
    assert [e.pod for e in events(sim, ev.PodSpecChanged)] == [b]
    # b may not go to zone-b although worker-1 is full: it waits, unschedulable, instead of running away.
    assert sim.state.pods_by_key[b].node_name is None
    sim.state.set_unschedulable("worker-3", False)
    sim.run_for(START + 15)
    assert sim.state.pods_by_key[b].node_name == "worker-3"
    pv = volumes.volume_for_claim("default", "shared")
    assert pv is not None and list(pv.attached) == ["worker-1", "worker-3"]  # ReadWriteMany: multi-attach


def storage_class(sim: Simulation, name: str, mode: str | None, default: bool = True, zones: tuple[str, ...] = ()) -> None:
    lines = ["apiVersion: storage.k8s.io/v1", "kind: StorageClass", f"metadata: {{name: {name}}}", "provisioner: pd.csi.storage.gke.io"]
    if default:
        lines[2] = f"metadata: {{name: {name}, annotations: {{{k8s.ANNOTATION_DEFAULT_STORAGE_CLASS}: 'true'}}}}"
    if mode is not None:
        lines.append(f"volumeBindingMode: {mode}")
    if zones:
        lines.append(f"allowedTopologies: [{{matchLabelExpressions: [{{key: {k8s.LABEL_ZONE}, values: [{', '.join(zones)}]}}]}}]")
    (manifest,) = load_manifests(text="\n".join(lines))
    manifest.apply_to(sim)


def test_immediate_binding_provisions_at_once_in_the_provisioners_zone_and_holds_pods_to_it():
    """StorageClass volumeBindingMode Immediate (upstream's default when unset: pkg/apis/storage/v1/defaults.go):
    the PV controller provisions on claim creation, with no selected node, in the zone the CSI
    external-provisioner prefers (pkg/controller/topology.go: zones sorted, rotated by the FNV-1 hash of
    the claim's name): "data" goes to zone-b of zones a, b. The model provisioned every claim
    WaitForFirstConsumer: nothing before the first pod, then in that pod's zone (zone-a, worker-1)."""
    assert immediate_zone("data", ["zone-a", "zone-b"]) == "zone-b"
    sim, volumes = cluster()
    storage_class(sim, "standard", None)  # no volumeBindingMode: Immediate
    claim(sim, "data")
    pv = volumes.volume_for_claim("default", "data")
    assert pv is not None and pv.zone == "zone-b" and pv.created_at == 0.0
    pod = pod_with_claim(sim, "app", "data")
    assert events(sim, ev.PodSpecChanged, pod=pod)[0].reason == f"VolumeZone {k8s.LABEL_ZONE}=zone-b"
    sim.run_for(START + 1)
    assert sim.state.pods_by_key[pod].node_name == "worker-2"  # first-fit's first zone-b node, not worker-1
    # No room left in zone-b: a second claim's pod stays Pending although zone-a has room.
    for node in ("worker-2", "worker-4"):
        sim.state.set_unschedulable(node, True)
    claim(sim, "data-2")  # hashes "data" + 2: zone-b again
    assert immediate_zone("data-2", ["zone-a", "zone-b"]) == "zone-b"
    other = pod_with_claim(sim, "other", "data-2")
    sim.run_for(30)
    assert sim.state.pods_by_key[other].node_name is None


def test_immediate_binding_spreads_statefulset_claims_round_the_zones_and_honours_allowed_topologies():
    """getPVCNameHashAndIndexOffset: "data-db-<i>" hashes "db" and adds i, so ordinals go round the zones;
    allowedTopologies limits the zones (GenerateAccessibilityRequirements: requisite from it)."""
    sim, volumes = cluster(nodes=6, zones=3)
    storage_class(sim, "spread", "Immediate")
    for i in range(3):
        claim(sim, f"data-db-{i}")
    assert [volumes.volume_for_claim("default", f"data-db-{i}").zone for i in range(3)] == ["zone-b", "zone-c", "zone-a"]  # type: ignore[union-attr]
    sim2, volumes2 = cluster(nodes=6, zones=3)
    storage_class(sim2, "pinned", "Immediate", zones=("zone-c",))
    claim(sim2, "data-db-0")
    assert volumes2.volume_for_claim("default", "data-db-0").zone == "zone-c"  # type: ignore[union-attr]


def test_a_wait_for_first_consumer_class_and_a_claim_applied_before_its_immediate_class():
    sim, volumes = cluster()
    storage_class(sim, "late", k8s.VOLUME_BINDING_WAIT_FOR_FIRST_CONSUMER)
    claim(sim, "data")
    assert volumes.volume_for_claim("default", "data") is None  # waits for its first consumer, as before
    sim2, volumes2 = cluster()
    claim(sim2, "data")
    assert volumes2.volume_for_claim("default", "data") is None
    storage_class(sim2, "standard", "Immediate")  # the pending claim now gets the default class (retroactive)
    assert volumes2.volume_for_claim("default", "data").zone == "zone-b"  # type: ignore[union-attr]


def test_an_unknown_volume_binding_mode_is_refused_naming_the_field():
    sim, _ = cluster()
    with pytest.raises(InputError) as raised:
        storage_class(sim, "odd", "Lazy")
    assert raised.value.field == "volumeBindingMode" and "Lazy" in raised.value.message and "WaitForFirstConsumer" in raised.value.fix


def test_a_claim_pre_bound_to_a_static_volume_waits_for_it_and_refuses_another_zone():
    sim, volumes = cluster()
    claim(sim, "fixed", volume_name="disk-1")
    key = pod_with_claim(sim, "p", "fixed")
    sim.run_for(START + 5)
    pod = sim.state.pods_by_key[key]
    assert pod.node_name == "worker-1" and pod.phase == "Pending"  # bound, but its volume does not exist
    assert pod.containers[0].reason == "ContainerCreating"
    volumes.create_volume("disk-1", zone="zone-b")
    assert events(sim, ev.VolumeAttachFailed, pod=key)[0].reason == "VolumeNodeAffinityConflict"
    sim.run_for(60)
    assert sim.state.pods_by_key[key].phase == "Pending" and not events(sim, ev.VolumeAttached)


def test_a_claim_pre_bound_to_a_static_volume_in_the_right_zone_attaches_when_it_appears():
    sim, volumes = cluster()
    claim(sim, "fixed", volume_name="disk-1")
    key = pod_with_claim(sim, "p", "fixed")
    sim.run_for(START + 5)
    volumes.create_volume("disk-1", zone="zone-a")
    sim.run_for(1)
    assert [(e.volume, e.node) for e in events(sim, ev.VolumeAttached)] == [("disk-1", "worker-1")]
    assert sim.state.pods_by_key[key].phase == "Running"


# --- attach and detach ------------------------------------------------------------------------------
def test_the_kubelet_waits_for_the_attach_before_starting_containers():
    sim, volumes = cluster()
    volumes.attach_seconds = 10.0
    claim(sim, "c")
    key = pod_with_claim(sim, "p", "c")
    sim.run_for(30)
    bound = events(sim, ev.PodBound, pod=key)[0].t
    assert events(sim, ev.VolumeAttached)[0].t == bound + 10.0
    assert events(sim, ev.ContainerStarted, pod=key)[0].t == bound + 10.0  # not bound + START
    # A pod without claims is not held up.
    sim.create_pod("plain", "default", PodTemplate((("app", "plain"),), spec()))
    sim.run_for(START + 1)
    assert sim.state.pods_by_key["default/plain"].phase == "Running"


def test_a_volume_is_detached_as_soon_as_its_pod_is_gone_from_a_healthy_node():
    sim, volumes = cluster()
    claim(sim, "c")
    key = pod_with_claim(sim, "p", "c")
    sim.run_for(START + 1)
    sim.state.request_pod_deletion(sim.state.pods_by_key[key].uid, "Deleted")
    sim.run_for(5)
    gone = events(sim, ev.PodDeleted, pod=key)[0].t
    detached = events(sim, ev.VolumeDetached)
    assert [(e.node, e.forced) for e in detached] == [("worker-1", False)]
    assert detached[0].t == gone  # the kubelet unmounted it: no wait


def test_rwo_volume_refuses_a_second_node_until_force_detached_after_the_wait():
    """A Deployment's replacement pod waits with a Multi-Attach error while the old pod is stuck
    Terminating on a dead node, and then 6 minutes more once that pod is force-deleted."""
    sim, volumes = cluster()
    claim(sim, "c")
    template = PodTemplate((("app", "web"),), spec(VolumeSpec("data", "persistentVolumeClaim", "c")))
    sim.create_workload(Deployment(uid=sim.new_uid(), name="web", namespace="default", selector=LabelSelector.of({"app": "web"}), template=template))
    assert sim.run_until_stable(60)
    (old,) = sim.state.pods.values()
    assert old.node_name == "worker-1"
    assert volumes.write(old.key, "data", 7)
    sim.kubelets["worker-1"].power_off()
    sim.run_for(k8s.NODE_MONITOR_GRACE_PERIOD_SECONDS + k8s.DEFAULT_TOLERATION_SECONDS + 60)
    assert old.deletion_timestamp is not None  # evicted by the taint manager, stuck Terminating
    (new,) = [p for p in sim.state.pods.values() if p is not old]
    assert new.node_name == "worker-3"  # the volume's zone
    failure = events(sim, ev.VolumeAttachFailed, pod=new.key)
    assert [(e.reason, e.node) for e in failure] == [("MultiAttach", "worker-3")]
    sim.run_for(1000)
    assert new.phase == "Pending" and not events(sim, ev.VolumeDetached)  # the old pod still wants it
    assert not volumes.write(new.key, "data")

    forced_at = sim.now
    sim.state.delete_pod(old.uid, "ForceDeleted")  # kubectl delete --force --grace-period=0
    sim.run_for(WAIT - 1)
    assert new.phase == "Pending" and not events(sim, ev.VolumeDetached)
    sim.run_for(2)
    (detach,) = events(sim, ev.VolumeDetached)
    assert (detach.node, detach.forced, detach.t) == ("worker-1", True, forced_at + WAIT)
    assert events(sim, ev.VolumeAttached, node="worker-3")[0].t == forced_at + WAIT
    assert events(sim, ev.ContainerStarted, pod=new.key)[0].t == forced_at + WAIT
    assert volumes.read(new.key, "data") == 7


def test_a_node_that_comes_back_unmounts_and_the_detach_is_not_forced():
    sim, volumes = cluster()
    claim(sim, "c")
    key = pod_with_claim(sim, "old", "c")
    sim.run_for(START + 1)
    sim.kubelets["worker-1"].power_off()
    sim.run_for(k8s.NODE_MONITOR_GRACE_PERIOD_SECONDS + 10)
    sim.state.delete_pod(sim.state.pods_by_key[key].uid, "ForceDeleted")
    replacement = pod_with_claim(sim, "new", "c")
    sim.run_for(100)
    assert sim.state.pods_by_key[replacement].node_name == "worker-3"
    assert sim.state.pods_by_key[replacement].phase == "Pending"
    back = sim.now
    sim.kubelets["worker-1"].power_on()
    sim.run_for(START + 1)
    (detach,) = events(sim, ev.VolumeDetached)
    assert (detach.forced, detach.t) == (False, back)
    assert sim.state.pods_by_key[replacement].phase == "Running"


@pytest.mark.parametrize("effect", ["NoExecute", "NoSchedule"])
def test_the_out_of_service_taint_detaches_at_once(effect):
    """Upstream hasOutOfServiceTaint checks the key only (taints.TaintKeyExists), whatever the effect."""
    sim, volumes = cluster()
    claim(sim, "c")
    key = pod_with_claim(sim, "old", "c")
    sim.run_for(START + 1)
    sim.kubelets["worker-1"].power_off()
    sim.run_for(k8s.NODE_MONITOR_GRACE_PERIOD_SECONDS + 10)
    sim.state.delete_pod(sim.state.pods_by_key[key].uid, "ForceDeleted")
    sim.run_for(5)
    assert not events(sim, ev.VolumeDetached)
    tainted = sim.now
    sim.state.add_taint("worker-1", Taint(k8s.TAINT_OUT_OF_SERVICE, "nodeshutdown", effect))
    (detach,) = events(sim, ev.VolumeDetached)
    assert (detach.forced, detach.t) == (True, tainted)


def test_non_graceful_shutdown_the_out_of_service_taint_moves_a_statefulset_pod_with_its_data():
    """KEP-2268, end to end through the taint: the taint eviction controller asks db-0 to go, the pod GC
    controller force-deletes it at its next pass (gcTerminating), the volume is detached at once and
    db-0 runs again in its zone with its data. Before, db-0 stayed Terminating on the dead node for good."""
    sim, volumes = cluster(scheduler=None)
    statefulset(sim)
    assert sim.run_until_stable(60)
    pod = sim.state.pods_by_key["default/db-0"]
    dead, zone = pod.node_name, zone_of(sim, pod.key)
    assert dead is not None and volumes.write(pod.key, "data", 5)
    sim.kubelets[dead].power_off()
    sim.run(125)  # Unknown since about t=60, not yet evicted for unreachable (300 s toleration)
    assert sim.state.nodes[dead].ready == "Unknown" and pod.deletion_timestamp is None
    sim.state.add_taint(dead, Taint(k8s.TAINT_OUT_OF_SERVICE, "nodeshutdown", "NoExecute"))
    sim.run(139.5)
    assert pod.deletion_timestamp == 125.0 and sim.state.pods_by_key["default/db-0"] is pod
    assert not events(sim, ev.VolumeDetached)
    sim.run(140 + START + 1)
    assert [(e.t, e.reason) for e in events(sim, ev.PodDeleted, pod="default/db-0")] == [(140.0, "PodGCOutOfService")]
    (detach,) = events(sim, ev.VolumeDetached)
    assert (detach.node, detach.forced, detach.t) == (dead, True, 140.0)
    moved = sim.state.pods_by_key["default/db-0"]
    assert moved is not pod and moved.phase == "Running" and zone_of(sim, moved.key) == zone
    assert not events(sim, ev.VolumeAttachFailed, pod=moved.key)
    assert volumes.read(moved.key, "data") == 5
    assert sim.workload_status("StatefulSet", "default", "db").ready == 1


def test_a_crashlooping_pod_evicted_from_a_dead_node_leaves_the_desired_state():
    """Upstream IsPodTerminated: deleted and no container running. A pod in CrashLoopBackOff when its
    node dies is evicted after 50 + 300 s; from then on its volume is not wanted, so it is force-detached
    6 minutes later and the replacement starts. Before, the eviction was not noticed (no container
    terminated after it) and the replacement waited on a Multi-Attach error for good."""
    sim, volumes = cluster()
    claim(sim, "c")
    template = PodTemplate((("app", "web"),), spec(VolumeSpec("data", "persistentVolumeClaim", "c")))
    sim.create_workload(Deployment(uid=sim.new_uid(), name="web", namespace="default", selector=LabelSelector.of({"app": "web"}), template=template))
    assert sim.run_until_stable(60)
    (old,) = sim.state.pods.values()
    assert volumes.write(old.key, "data", 4)
    kubelet = sim.kubelets[old.node_name]  # type: ignore[index]
    for _ in range(3):  # back-offs of 0, 10, 20 s: the third crash waits 40 s
        kubelet.crash_container(old.key, 0, exit_code=1)
        sim.run_for(30)
    kubelet.crash_container(old.key, 0, exit_code=1)
    sim.run_for(1)
    assert [c.state for c in old.containers] == ["waiting"]
    kubelet.power_off()
    sim.run_for(k8s.NODE_MONITOR_GRACE_PERIOD_SECONDS + k8s.DEFAULT_TOLERATION_SECONDS + 60)
    (evicted,) = events(sim, ev.PodDeletionRequested, pod=old.key)
    assert old.uid in sim.state.pods and [c.state for c in old.containers] == ["waiting"]  # stuck Terminating
    (new,) = [p for p in sim.state.pods.values() if p is not old]
    assert [e.reason for e in events(sim, ev.VolumeAttachFailed, pod=new.key)] == ["MultiAttach"]
    sim.run(evicted.t + WAIT - 1)
    assert new.phase == "Pending" and not events(sim, ev.VolumeDetached)
    sim.run(evicted.t + WAIT + 1)
    (detach,) = events(sim, ev.VolumeDetached)
    assert (detach.forced, detach.t) == (True, evicted.t + WAIT)
    assert events(sim, ev.ContainerStarted, pod=new.key)[0].t == evicted.t + WAIT
    assert volumes.read(new.key, "data") == 4


def test_a_waiting_pod_survives_a_kubelet_restart_and_starts_once_attached():
    sim, volumes = cluster()
    claim(sim, "c")
    key = pod_with_claim(sim, "old", "c")
    sim.run_for(START + 1)
    sim.kubelets["worker-1"].power_off()
    sim.run_for(60)
    sim.state.delete_pod(sim.state.pods_by_key[key].uid, "ForceDeleted")
    waiting = pod_with_claim(sim, "new", "c")
    sim.run_for(30)
    kubelet = sim.kubelets["worker-3"]
    kubelet.stop_kubelet()
    sim.run_for(20)
    kubelet.start_kubelet()
    sim.run_for(WAIT)
    assert sim.state.pods_by_key[waiting].phase == "Running"
    assert len(events(sim, ev.ContainerStarted, pod=waiting)) == 1


# --- StatefulSet claims -------------------------------------------------------------------------------
def test_statefulset_pods_get_their_own_claims_named_template_set_ordinal():
    sim, volumes = cluster(scheduler=None)
    ss = statefulset(sim, replicas=2, templates=("data", "logs"))
    assert sim.run_until_stable(60)
    for ordinal in range(2):
        pod = sim.state.pods_by_key[f"default/db-{ordinal}"]
        assert [(v.name, v.kind, v.claim_name) for v in pod.spec.volumes] == [
            ("data", "persistentVolumeClaim", f"data-db-{ordinal}"),
            ("logs", "persistentVolumeClaim", f"logs-db-{ordinal}"),
            ("scratch", "emptyDir", None),
        ]
        pvc = sim.state.objects[("PersistentVolumeClaim", "default", f"data-db-{ordinal}")]
        assert (pvc.access_modes, pvc.storage_bytes) == (CLAIM_ACCESS_MODES, CLAIM_STORAGE_BYTES)  # type: ignore[attr-defined]
        assert volumes.volume_for_claim("default", f"logs-db-{ordinal}") is not None
    sim.state.scale_workload(ss.uid, 0)
    assert sim.run_until_stable(60)
    # Retained (persistentVolumeClaimRetentionPolicy Retain/Retain): claims and volumes stay.
    assert ("PersistentVolumeClaim", "default", "data-db-1") in sim.state.objects
    assert len(sim.state.volumes) == 4 and all(not pv.attached for pv in sim.state.volumes.values())


def test_statefulset_uses_an_existing_claim_of_the_same_name():
    sim, volumes = cluster(scheduler=None)
    claim(sim, "data-db-0", modes=("ReadWriteMany",))
    statefulset(sim)
    assert sim.run_until_stable(60)
    pv = volumes.volume_for_claim("default", "data-db-0")
    assert pv is not None and pv.access_modes == ("ReadWriteMany",)


def test_statefulset_pod_moved_after_a_node_failure_keeps_its_claim_and_its_data():
    sim, volumes = cluster(scheduler=None, seed=3)
    statefulset(sim)
    assert sim.run_until_stable(60)
    pod = sim.state.pods_by_key["default/db-0"]
    first_node, zone = pod.node_name, zone_of(sim, pod.key)
    assert volumes.write(pod.key, "data", 5)
    # Data survives a container restart.
    sim.kubelets[first_node].crash_container(pod.key)  # type: ignore[index]
    sim.run_for(1)
    assert volumes.write(pod.key, "data", 3)
    assert volumes.read(pod.key, "data") == 8

    sim.kubelets[first_node].power_off()  # type: ignore[index]
    sim.run_for(k8s.NODE_MONITOR_GRACE_PERIOD_SECONDS + k8s.DEFAULT_TOLERATION_SECONDS + 60)
    assert pod.deletion_timestamp is not None and sim.state.pods_by_key["default/db-0"] is pod  # stuck Terminating
    removed_at = sim.now
    sim.state.remove_node(first_node)  # type: ignore[arg-type]  # the cloud node controller deletes the vanished machine
    sim.run_for(1)  # the StatefulSet controller recreates db-0 at once, the scheduler binds it
    moved = sim.state.pods_by_key["default/db-0"]
    assert moved is not pod and moved.node_name is not None and moved.node_name != first_node
    assert zone_of(sim, moved.key) == zone
    assert [v.claim_name for v in moved.spec.volumes if v.claim_name] == ["data-db-0"]
    assert events(sim, ev.VolumeAttachFailed, pod=moved.key)[0].reason == "MultiAttach"
    sim.run_for(WAIT)
    started = events(sim, ev.ContainerStarted, pod=moved.key, since=removed_at)
    assert started[0].t == removed_at + WAIT  # the 6-minute force-detach, then the start
    assert volumes.read(moved.key, "data") == 8 == volumes.claim_writes("default", "data-db-0")
    assert volumes.write(moved.key, "data", 1) and volumes.read(moved.key, "data") == 9
    assert len(sim.state.volumes) == 1  # the same volume, not a new one


# --- data ---------------------------------------------------------------------------------------------
def test_emptydir_data_survives_a_container_restart_and_dies_with_the_pod():
    sim, volumes = cluster(scheduler=None)
    statefulset(sim, templates=())
    assert sim.run_until_stable(60)
    pod = sim.state.pods_by_key["default/db-0"]
    assert volumes.write(pod.key, "scratch", 4)
    sim.kubelets[pod.node_name].crash_container(pod.key)  # type: ignore[index]
    sim.run_for(1)
    assert volumes.read(pod.key, "scratch") == 4
    sim.state.request_pod_deletion(pod.uid, "Deleted")  # recreated under the same name
    assert sim.run_until_stable(60)
    again = sim.state.pods_by_key["default/db-0"]
    assert again is not pod and volumes.read(again.key, "scratch") == 0
    (lost,) = events(sim, ev.VolumeDataLost)
    assert (lost.pod, lost.volume, lost.writes, lost.reason) == ("default/db-0", "scratch", 4, "PodDeleted")


def test_emptydir_data_dies_with_a_power_off_and_persistent_data_does_not():
    sim, volumes = cluster(scheduler=None)
    statefulset(sim)
    assert sim.run_until_stable(60)
    pod = sim.state.pods_by_key["default/db-0"]
    assert volumes.write(pod.key, "scratch", 2) and volumes.write(pod.key, "data", 6)
    kubelet = sim.kubelets[pod.node_name]  # type: ignore[index]
    kubelet.power_off()
    assert not volumes.write(pod.key, "data")  # the machine is down: nothing runs to write
    assert [(e.volume, e.writes, e.reason) for e in events(sim, ev.VolumeDataLost)] == [("scratch", 2, "NodePowerOff")]
    sim.run_for(20)
    kubelet.power_on()
    sim.run_for(START + 1)
    assert sim.state.pods_by_key["default/db-0"] is pod and pod.phase == "Running"
    assert volumes.read(pod.key, "scratch") == 0 and volumes.read(pod.key, "data") == 6


def test_writes_are_refused_until_the_volume_is_attached_and_the_pod_runs():
    sim, volumes = cluster()
    volumes.attach_seconds = 10.0
    claim(sim, "c")
    key = pod_with_claim(sim, "p", "c")
    assert not volumes.write(key, "data")  # not even scheduled
    sim.run_for(5)
    assert not volumes.write(key, "data") and volumes.read(key, "data") is None  # bound, attach in flight
    sim.run_for(10)
    assert volumes.write(key, "data", 2) and volumes.read(key, "data") == 2
    (written,) = events(sim, ev.VolumeWritten)
    assert (written.pod, written.volume, written.writes, written.total) == (key, "data", 2, 2)
    assert written.target == volumes.volume_for_claim("default", "c").name  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="no volume 'logs'"):
        volumes.write(key, "logs")
