"""The StatefulSet controller (pkg/controller/statefulset/stateful_set_control.go): stable ordinal names,
OrderedReady and Parallel pod management, recreation under the same name, rolling updates."""

from __future__ import annotations

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.controllers.statefulset import ordinal_of
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
