"""The StatefulSet controller (pkg/controller/statefulset/stateful_set_control.go): stable ordinal names,
OrderedReady and Parallel pod management, recreation under the same name, rolling updates."""

from __future__ import annotations

from dataclasses import replace

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.controllers.statefulset import ordinal_of
from podquake.model.kubelet import kubelet_for
from podquake.model.objects import ContainerSpec, PodSpec, PodTemplate, Probe, StatefulSet
from podquake.model.selectors import LabelSelector
from podquake.model.simulation import Simulation

from .workload_kit import make_sim, statefulset, template


def events_of(sim: Simulation, event_type: type, since: float = 0.0) -> list:
    return [e for e in sim.trace.of_type(event_type) if e.t >= since]


def test_ordinal_parsing():
    assert ordinal_of("db", "db-0") == 0
    assert ordinal_of("db", "db-12") == 12
    for name in ("db-", "db-x", "db-01", "web-1", "db-1-2"):
        assert ordinal_of("db", name) is None, name


def test_ordered_ready_creates_each_ordinal_after_the_previous_is_running_and_ready():
    sim = make_sim()
    ss = statefulset(sim, replicas=3)
    assert sim.run_until_stable(timeout=60)
    created = [(e.t, e.pod) for e in events_of(sim, ev.PodCreated)]
    assert [pod for _, pod in created] == ["default/db-0", "default/db-1", "default/db-2"]
    ready_at = {e.pod: e.t for e in events_of(sim, ev.PodReadyChanged) if e.ready}
    running_at = {e.pod: e.t for e in events_of(sim, ev.PodPhaseChanged) if e.phase == "Running"}
    for (_, previous), (t, _) in zip(created, created[1:]):
        assert t >= ready_at[previous] and t >= running_at[previous]
    # Each waits for the previous pod's start: the three are created container_start_seconds apart.
    gap = sim.timing.container_start_seconds
    assert [t for t, _ in created] == [0.0, gap, 2 * gap]
    pods = [sim.state.pods_by_key[f"default/db-{i}"] for i in range(3)]
    for i, pod in enumerate(pods):
        assert pod.owner is not None and pod.owner.uid == ss.uid
        assert pod.labels[k8s.LABEL_STATEFULSET_POD_NAME] == f"db-{i}"
        assert pod.labels[k8s.LABEL_POD_INDEX] == str(i)
        assert pod.labels[k8s.LABEL_CONTROLLER_REVISION_HASH] == f"db-{Simulation.template_hash(ss.template)}"


def test_ordered_ready_waits_for_an_unready_lower_ordinal():
    sim = make_sim()
    ss = statefulset(sim, replicas=2)
    assert sim.run_until_stable(timeout=60)
    db0 = sim.state.pods_by_key["default/db-0"]
    sim.state.set_pod_ready(db0.uid, False)
    sim.state.scale_workload(ss.uid, 3)
    sim.run(sim.now + 30)
    assert "default/db-2" not in sim.state.pods_by_key
    sim.state.set_pod_ready(db0.uid, True)
    sim.run(sim.now + 1)
    assert "default/db-2" in sim.state.pods_by_key


def test_ordered_ready_scales_down_highest_ordinal_first_one_at_a_time():
    sim = make_sim()
    ss = statefulset(sim, replicas=4)
    assert sim.run_until_stable(timeout=60)
    started = sim.now
    sim.state.scale_workload(ss.uid, 1)
    assert sim.run_until_stable(timeout=60)
    requested = events_of(sim, ev.PodDeletionRequested, started)
    deleted = {e.pod: e.t for e in events_of(sim, ev.PodDeleted, started)}
    assert [e.pod for e in requested] == ["default/db-3", "default/db-2", "default/db-1"]
    for previous, current in zip(requested, requested[1:]):
        assert current.t >= deleted[previous.pod]  # the next waits until the previous is gone
    assert sorted(sim.state.pods_by_key) == ["default/db-0"]


def test_parallel_creates_and_deletes_all_at_once():
    sim = make_sim()
    ss = statefulset(sim, replicas=3, policy="Parallel")
    assert sim.run_until_stable(timeout=60)
    assert [(e.t, e.pod) for e in events_of(sim, ev.PodCreated)] == [(0.0, "default/db-0"), (0.0, "default/db-1"), (0.0, "default/db-2")]
    started = sim.now
    sim.state.scale_workload(ss.uid, 0)
    assert sim.run_until_stable(timeout=60)
    requested = events_of(sim, ev.PodDeletionRequested, started)
    assert sorted(e.pod for e in requested) == ["default/db-0", "default/db-1", "default/db-2"]
    assert len({e.t for e in requested}) == 1


def test_a_failed_pod_is_recreated_with_the_same_name():
    sim = make_sim()
    statefulset(sim, replicas=3)
    assert sim.run_until_stable(timeout=60)
    old = sim.state.pods_by_key["default/db-1"]
    sim.state.set_pod_phase(old.uid, "Failed")
    assert sim.run_until_stable(timeout=60)
    new = sim.state.pods_by_key["default/db-1"]
    assert new.uid != old.uid and old.uid not in sim.state.pods
    assert new.ready and sorted(sim.state.pods_by_key) == ["default/db-0", "default/db-1", "default/db-2"]


def test_a_deleted_pod_is_recreated_with_the_same_name_once_it_is_gone():
    sim = make_sim()
    statefulset(sim, replicas=2)
    assert sim.run_until_stable(timeout=60)
    old = sim.state.pods_by_key["default/db-0"]
    started = sim.now
    sim.state.request_pod_deletion(old.uid, "user")
    assert sim.run_until_stable(timeout=60)
    new = sim.state.pods_by_key["default/db-0"]
    assert new.uid != old.uid
    gone = [e.t for e in events_of(sim, ev.PodDeleted, started)]
    recreated = [e.t for e in events_of(sim, ev.PodCreated, started)]
    assert recreated == gone  # created the moment the old one left, not before


def test_a_template_change_replaces_pods_from_the_highest_ordinal_down():
    sim = make_sim()
    ss = statefulset(sim, replicas=3)
    assert sim.run_until_stable(timeout=60)
    started = sim.now
    sim.state.update_workload_template(ss.uid, template(app="db", image="postgres:17"), 2)
    assert sim.run_until_stable(timeout=120)
    assert [e.pod for e in events_of(sim, ev.PodDeletionRequested, started)] == ["default/db-2", "default/db-1", "default/db-0"]
    revision = f"db-{Simulation.template_hash(ss.template)}"
    assert all(p.labels[k8s.LABEL_CONTROLLER_REVISION_HASH] == revision for p in sim.state.pods.values())
    status = sim.workload_status("StatefulSet", "default", "db")
    assert (status.desired, status.current, status.ready, status.updated) == (3, 3, 3, 3)


def test_a_parallel_sets_rolling_update_waits_while_any_replica_is_unavailable():
    """v1.35 turns MaxUnavailableStatefulSet on (beta): updateStatefulSetAfterInvariantEstablished
    replaces nothing while a replica is unavailable (maxUnavailable defaults to 1). The model ran the
    older loop, which went down from the top and deleted db-2 though db-0 was not Ready
    (kubernetes/kubernetes#96218); with Parallel nothing else held it back."""
    probe = Probe(period_seconds=1.0, failure_threshold=1)
    sim = make_sim()
    tmpl = PodTemplate((("app", "db"),), PodSpec(containers=(ContainerSpec("main", image="db:1", readiness_probe=probe),)))
    ss = StatefulSet(sim.new_uid(), "db", "default", LabelSelector.of({"app": "db"}), tmpl, replicas=3, pod_management_policy="Parallel")
    sim.create_workload(ss)
    assert sim.run_until_stable(timeout=60)
    db0 = sim.state.pods_by_key["default/db-0"]
    assert kubelet_for(sim, db0.key).fail_probe(db0.key, "main", "readiness")
    sim.run(sim.now + 5)
    assert not db0.ready
    started = sim.now
    sim.state.update_workload_template(ss.uid, PodTemplate(tmpl.labels, replace(tmpl.spec, containers=(replace(tmpl.spec.containers[0], image="db:2"),))), 2)
    sim.run(sim.now + 30)
    assert events_of(sim, ev.PodDeletionRequested, started) == []
    # Ready again: the update goes on, from the highest ordinal down.
    kubelet_for(sim, db0.key).recover_probe(db0.key, "main", "readiness")
    assert sim.run_until_stable(timeout=120)
    assert [e.pod for e in events_of(sim, ev.PodDeletionRequested, started)] == ["default/db-2", "default/db-1", "default/db-0"]


# --- updateStrategy and minReadySeconds (updateStatefulSet, processReplica, processCondemned) -------
REVISION = k8s.LABEL_CONTROLLER_REVISION_HASH


def revisions(sim: Simulation) -> dict[str, str]:
    return {key: pod.labels[REVISION] for key, pod in sorted(sim.state.pods_by_key.items())}


def test_on_delete_replaces_no_pod_for_a_template_change_and_a_deleted_pod_comes_back_updated():
    """updateStrategy OnDelete was ignored: a template change deleted and replaced every pod."""
    sim = make_sim()
    ss = statefulset(sim, replicas=3)
    ss.update_strategy = "OnDelete"
    assert sim.run_until_stable(timeout=60)
    old = revisions(sim)
    started = sim.now
    sim.state.update_workload_template(ss.uid, template(app="db", image="postgres:17"), 2)
    sim.run(sim.now + 120)
    assert events_of(sim, ev.PodDeletionRequested, started) == []
    assert revisions(sim) == old
    assert sim.workload_status("StatefulSet", "default", "db").converged  # nothing left to do
    sim.state.request_pod_deletion(sim.state.pods_by_key["default/db-1"].uid, "user")
    sim.run(sim.now + 30)
    new = f"db-{Simulation.template_hash(ss.template)}"
    assert revisions(sim) == {**old, "default/db-1": new}
    assert sim.state.pods_by_key["default/db-1"].spec.containers[0].image == "postgres:17"


def test_a_partition_updates_only_the_ordinals_at_or_above_it_and_keeps_the_current_revision_below():
    """rollingUpdate.partition was ignored: every ordinal was replaced, and a pod below the partition
    that is recreated must get the current (old) revision, as newVersionedStatefulSetPod does."""
    sim = make_sim()
    ss = statefulset(sim, replicas=4)
    ss.partition = 2
    assert sim.run_until_stable(timeout=60)
    old = f"db-{Simulation.template_hash(ss.template)}"
    started = sim.now
    sim.state.update_workload_template(ss.uid, template(app="db", image="postgres:17"), 2)
    new = f"db-{Simulation.template_hash(ss.template)}"
    assert sim.run_until_stable(timeout=120)
    assert [e.pod for e in events_of(sim, ev.PodDeletionRequested, started)] == ["default/db-3", "default/db-2"]
    assert revisions(sim) == {"default/db-0": old, "default/db-1": old, "default/db-2": new, "default/db-3": new}
    # A pod below the partition that is lost comes back at the current revision, with the old template.
    sim.state.request_pod_deletion(sim.state.pods_by_key["default/db-0"].uid, "evicted")
    assert sim.run_until_stable(timeout=60)
    db0 = sim.state.pods_by_key["default/db-0"]
    assert db0.labels[REVISION] == old and db0.spec.containers[0].image == "nginx:1"
    # Lowering the partition finishes the rollout; then the new revision is the current one.
    ss.partition = 0
    assert sim.workload_status("StatefulSet", "default", "db").updated == 2
    sim.statefulsets.enqueue(ss.uid)  # what the API server's update event of the set would do
    assert sim.run_until_stable(timeout=120)
    assert set(revisions(sim).values()) == {new}
    assert sim.statefulsets.current_revision(ss) == new
    sim.state.request_pod_deletion(sim.state.pods_by_key["default/db-0"].uid, "evicted")
    assert sim.run_until_stable(timeout=60)
    assert sim.state.pods_by_key["default/db-0"].labels[REVISION] == new


def test_min_ready_seconds_holds_back_the_next_ordinal_until_the_previous_is_available():
    """minReadySeconds was ignored: ordinal i+1 was created as soon as ordinal i was Ready.

    As upstream (kubernetes/kubernetes#119352): the resync queued minReadySeconds after ordinal i is
    created fires before it is available, and the delaying queue dropped the later ones, so ordinal
    i+1 comes 2 x minReadySeconds after ordinal i."""
    sim = make_sim()
    ss = statefulset(sim, replicas=3)
    ss.min_ready_seconds = 10.0
    assert sim.run_until_stable(timeout=120)
    sim.run(sim.now + 30)
    created = [(e.t, e.pod) for e in events_of(sim, ev.PodCreated)]
    assert created == [(0.0, "default/db-0"), (20.0, "default/db-1"), (40.0, "default/db-2")]
    ready_at = {e.pod: e.t for e in events_of(sim, ev.PodReadyChanged) if e.ready}
    for (_, previous), (t, _) in zip(created, created[1:]):
        assert t >= ready_at[previous] + 10


def test_min_ready_seconds_paces_a_rolling_update_and_a_scale_down():
    """minReadySeconds was ignored by the rolling update (the next pod went as soon as the replaced one
    was Ready) and by processCondemned (a condemned pod Ready for less than minReadySeconds was deleted)."""
    sim = make_sim()
    ss = statefulset(sim, replicas=3)
    ss.min_ready_seconds = 10.0
    assert sim.run_until_stable(timeout=120)
    sim.run(sim.now + 30)
    started = sim.now
    sim.state.update_workload_template(ss.uid, template(app="db", image="postgres:17"), 2)
    assert sim.run_until_stable(timeout=300)
    sim.run(sim.now + 30)
    requested = events_of(sim, ev.PodDeletionRequested, started)
    assert [e.pod for e in requested] == ["default/db-2", "default/db-1", "default/db-0"]
    ready_at = {e.pod: e.t for e in events_of(sim, ev.PodReadyChanged, started) if e.ready}
    for previous, current in zip(requested, requested[1:]):
        assert current.t >= ready_at[previous.pod] + 10
    # Scale down while the two condemned pods have just turned Ready again: db-2 (not the first
    # unavailable pod, db-1 is) waits to be available; the set is synced minReadySeconds + 1 s after
    # the pods turned Ready (updatePod).
    flipped = sim.now
    for name in ("db-1", "db-2"):
        sim.state.set_pod_ready(sim.state.pods_by_key[f"default/{name}"].uid, False)
        sim.state.set_pod_ready(sim.state.pods_by_key[f"default/{name}"].uid, True)
    sim.state.scale_workload(ss.uid, 1)
    assert sim.run_until_stable(timeout=300)
    first = events_of(sim, ev.PodDeletionRequested, flipped)[0]
    assert (first.pod, first.t) == ("default/db-2", flipped + 11)
