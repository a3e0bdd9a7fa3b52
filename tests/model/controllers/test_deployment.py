"""The Deployment controller (pkg/controller/deployment/{sync,rolling,recreate}.go and
util/deployment_util.go): ReplicaSets per template, fenceposts, rolling updates, Recreate,
minReadySeconds, proportional scaling, revisions and history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.controllers.common import is_pod_available
from podquake.model.controllers.deployment import resolve_fenceposts
from podquake.model.objects import Pod, PodSpec, RollingUpdate
from podquake.model.simulation import Simulation, Timing

from .workload_kit import deployment, make_sim, template

HASH = k8s.LABEL_POD_TEMPLATE_HASH


def family_pods(sim: Simulation, uid: str) -> list[Any]:
    return [p for rs in sim.deployments.replicasets(uid) for p in sim.state.pods_owned_by(rs.uid)]


def watch_every_change(sim: Simulation, check: Callable[[], None]) -> None:
    """Call ``check()`` after every pod and workload transition."""
    for event_type in (ev.PodCreated, ev.PodDeleted, ev.PodDeletionRequested, ev.PodReadyChanged, ev.PodPhaseChanged, ev.WorkloadScaled):
        sim.state.watch(event_type, lambda _e: check())


def test_resolve_fenceposts_rounds_surge_up_and_unavailable_down():
    assert (k8s.DEFAULT_MAX_SURGE, k8s.DEFAULT_MAX_UNAVAILABLE) == ("25%", "25%")
    assert resolve_fenceposts("25%", "25%", 10) == (3, 2)  # 2.5 -> 3 and 2.5 -> 2
    assert resolve_fenceposts("25%", "25%", 1) == (1, 0)
    assert resolve_fenceposts("0%", "0%", 3) == (0, 1)  # both zero: one may be unavailable
    assert resolve_fenceposts(0, "10%", 5) == (0, 1)  # 0.5 rounds down to 0, then the fencepost
    assert resolve_fenceposts(2, 1, 100) == (2, 1)
    with pytest.raises(ValueError, match="percentage"):
        resolve_fenceposts("3", 1, 10)


def test_a_deployment_makes_a_replicaset_named_after_its_template_hash():
    sim = make_sim()
    d = deployment(sim, replicas=3)
    assert sim.run_until_stable(timeout=60)
    [rs] = sim.deployments.replicasets(d.uid)
    expected_hash = Simulation.template_hash(d.template)
    assert rs.name == f"web-{expected_hash}"
    assert rs.owner is not None and rs.owner.uid == d.uid
    assert rs.template.label_dict()[HASH] == expected_hash
    assert dict(rs.selector.match_labels) == {"app": "web", HASH: expected_hash}
    assert rs.labels[HASH] == expected_hash and rs.revision == 1 and d.revision == 1
    pods = family_pods(sim, d.uid)
    assert len(pods) == 3 and all(p.labels[HASH] == expected_hash and p.name.startswith(rs.name + "-") for p in pods)
    assert sim.workload_status("Deployment", "default", "web").converged


def rolling_update_bounds(strategy: RollingUpdate, replicas: int) -> tuple[int, int, Simulation, Any]:
    sim = make_sim(nodes=4)
    d = deployment(sim, replicas=replicas, strategy=strategy)
    assert sim.run_until_stable(timeout=60)
    most_active, fewest_available = 0, replicas

    def check() -> None:
        nonlocal most_active, fewest_available
        pods = family_pods(sim, d.uid)
        most_active = max(most_active, sum(p.active for p in pods))
        fewest_available = min(fewest_available, sum(p.active and p.ready for p in pods))

    watch_every_change(sim, check)
    sim.deployments.rollout(d, template(image="nginx:2"))
    assert sim.run_until_stable(timeout=300)
    return most_active, fewest_available, sim, d


def test_rolling_update_of_10_replicas_stays_within_13_pods_and_8_available():
    # maxSurge 25% of 10 = 3 (rounded up), maxUnavailable 25% of 10 = 2 (rounded down).
    most_active, fewest_available, sim, d = rolling_update_bounds(RollingUpdate(), 10)
    assert most_active == 13
    assert fewest_available == 8
    old, new = sim.deployments.replicasets(d.uid)
    assert (old.replicas, new.replicas) == (0, 10)
    assert (old.revision, new.revision, d.revision) == (1, 2, 2)
    assert all(p.labels[HASH] == new.labels[HASH] for p in family_pods(sim, d.uid))


def test_rolling_update_with_no_surge_takes_one_pod_down_at_a_time():
    most_active, fewest_available, *_ = rolling_update_bounds(RollingUpdate(max_surge=0, max_unavailable=1), 5)
    assert (most_active, fewest_available) == (5, 4)


def test_rolling_update_with_no_unavailability_surges_one_pod_at_a_time():
    most_active, fewest_available, *_ = rolling_update_bounds(RollingUpdate(max_surge=1, max_unavailable=0), 5)
    assert (most_active, fewest_available) == (6, 5)


def test_recreate_creates_new_pods_only_after_every_old_pod_is_gone():
    sim = make_sim()
    d = deployment(sim, replicas=4, strategy=RollingUpdate(type="Recreate"))
    assert sim.run_until_stable(timeout=60)
    [old] = sim.deployments.replicasets(d.uid)
    old_keys = {p.key for p in sim.state.pods_owned_by(old.uid)}
    started = sim.now
    sim.deployments.rollout(d, template(image="nginx:2"))
    assert sim.run_until_stable(timeout=120)
    events = [e for e in sim.trace.events if e.t >= started]
    last_old_gone = max(e.t for e in events if isinstance(e, ev.PodDeleted) and e.pod in old_keys)
    first_new = min(e.t for e in events if isinstance(e, ev.PodCreated))
    assert first_new >= last_old_gone
    deleted_at = [i for i, e in enumerate(events) if isinstance(e, ev.PodDeleted) and e.pod in old_keys]
    created_at = [i for i, e in enumerate(events) if isinstance(e, ev.PodCreated)]
    assert max(deleted_at) < min(created_at)
    assert len(created_at) == 4
    assert sim.workload_status("Deployment", "default", "web").converged


def test_min_ready_seconds_delays_scaling_down_the_old_replicaset():
    sim = make_sim()
    d = deployment(sim, replicas=2, strategy=RollingUpdate(max_surge=1, max_unavailable=0), min_ready_seconds=10)
    assert sim.run_until_stable(timeout=60)
    [old] = sim.deployments.replicasets(d.uid)
    old_keys = {p.key for p in sim.state.pods_owned_by(old.uid)}
    started = sim.now
    sim.deployments.rollout(d, template(image="nginx:2"))
    assert sim.run_until_stable(timeout=120)
    events = [e for e in sim.trace.events if e.t >= started]
    first_new_ready = min(e.t for e in events if isinstance(e, ev.PodReadyChanged) and e.ready and e.pod not in old_keys)
    first_old_delete = min(e.t for e in events if isinstance(e, ev.PodDeletionRequested))
    assert first_old_delete == pytest.approx(first_new_ready + 10)


def test_min_ready_seconds_counts_from_the_ready_time_in_whole_seconds():
    """Upstream's IsPodAvailable (pkg/api/v1/pod/util.go) adds minReadySeconds to the Ready
    condition's lastTransitionTime, a metav1.Time in whole seconds. A new pod Ready at 12.4 s with
    minReadySeconds 5 is available to a sync at 17.2 s (12 + 5 < 17.2), which scales the old
    ReplicaSet down then; the model compared the exact 12.4 s and waited for the 17.4 s requeue."""
    sim = make_sim(timing=Timing(container_start_seconds=2.4))
    d = deployment(sim, replicas=1, strategy=RollingUpdate(max_surge=1, max_unavailable=0), min_ready_seconds=5)
    sim.run(10)
    [old] = sim.deployments.replicasets(d.uid)
    sim.deployments.rollout(d, template(image="nginx:2"))
    sim.run(13)
    ready_at = [e.t for e in sim.trace.of_type(ev.PodReadyChanged) if e.ready and e.t >= 10]
    assert ready_at == [pytest.approx(12.4)]
    sim.run(17.2)
    sim.deployments.enqueue(d.uid)  # any informer event syncs the Deployment
    sim.run(20)
    [scaled] = [e.t for e in sim.trace.of_type(ev.WorkloadScaled) if e.workload == old.key]
    assert scaled == pytest.approx(17.2)


def test_is_pod_available_reads_the_ready_time_as_a_metav1_time():
    pod = Pod(uid="u", name="p", namespace="default", labels={}, spec=PodSpec(containers=()), created_at=0.0)
    pod.ready, pod.ready_since = True, 10.4
    assert not is_pod_available(pod, 5, 14.9)
    assert is_pod_available(pod, 5, 15.0)  # 10 + 5 <= 15: see is_pod_available on the exact instant
    assert is_pod_available(pod, 0, 10.4)


def test_scaling_a_deployment_scales_its_only_replicaset():
    sim = make_sim()
    d = deployment(sim, replicas=3)
    assert sim.run_until_stable(timeout=60)
    sim.state.scale_workload(d.uid, 6)
    assert sim.run_until_stable(timeout=60)
    [rs] = sim.deployments.replicasets(d.uid)
    assert rs.replicas == 6
    sim.state.scale_workload(d.uid, 1)
    assert sim.run_until_stable(timeout=60)
    assert rs.replicas == 1 and len(family_pods(sim, d.uid)) == 1


def test_scaling_to_a_number_that_is_not_a_whole_number_is_refused_and_changes_nothing():
    """scale_workload(uid, 2.5) was recorded, then crashed the ReplicaSet controller inside SimPy
    (slice indices must be integers) and left it stuck; True was kept as the desired count."""
    sim = make_sim()
    d = deployment(sim, replicas=3)
    assert sim.run_until_stable(timeout=60)
    for bad, error in ((2.5, TypeError), (1e3, TypeError), (True, TypeError), ("4", TypeError), (-1, ValueError)):
        with pytest.raises(error, match="replicas must be"):
            sim.state.scale_workload(d.uid, bad)
    assert d.replicas == 3
    assert not [e for e in sim.trace.events if isinstance(e, ev.WorkloadScaled)]
    sim.state.scale_workload(d.uid, 2)
    assert sim.run_until_stable(timeout=60)
    assert len(family_pods(sim, d.uid)) == 2


def test_scaling_mid_rollout_is_proportional():
    # The example of kubernetes.io/docs/concepts/workloads/controllers/deployment/#proportional-scaling:
    # 10 replicas, maxSurge 3, maxUnavailable 2, a rollout that cannot progress (here: new pods that
    # fit no node) leaves 8 old and 5 new replicas; scaling to 15 adds 3 to the old ReplicaSet and 2
    # to the new one (round(8 * 18/13) = 11, round(5 * 18/13) = 7).
    sim = make_sim()
    d = deployment(sim, replicas=10, strategy=RollingUpdate(max_surge=3, max_unavailable=2))
    assert sim.run_until_stable(timeout=60)
    sim.deployments.rollout(d, template(cpu=64000))
    sim.run(sim.now + 30)
    old, new = sim.deployments.replicasets(d.uid)
    assert (old.replicas, new.replicas) == (8, 5)
    sim.state.scale_workload(d.uid, 15)
    sim.run(sim.now + 5)
    assert (old.replicas, new.replicas) == (11, 7)
    status = sim.workload_status("Deployment", "default", "web")
    assert (status.desired, status.current, status.ready, status.updated) == (15, 18, 11, 7)


def test_rolling_back_to_an_old_template_reuses_its_replicaset_with_a_new_revision():
    sim = make_sim()
    v1 = template(image="nginx:1")
    d = deployment(sim, replicas=2, tmpl=v1)
    assert sim.run_until_stable(timeout=60)
    assert sim.deployments.rollout(d, template(image="nginx:2")) == 2
    assert sim.run_until_stable(timeout=120)
    assert sim.deployments.rollout(d, v1) == 3
    assert sim.run_until_stable(timeout=120)
    first, second = sim.deployments.replicasets(d.uid)
    assert (first.revision, first.replicas, second.revision, second.replicas) == (3, 2, 2, 0)
    assert d.revision == 3


def test_old_replicasets_beyond_the_revision_history_limit_are_deleted():
    sim = make_sim()
    d = deployment(sim, replicas=1, revision_history_limit=1)
    assert sim.run_until_stable(timeout=60)
    names = [sim.deployments.replicasets(d.uid)[0].name]
    for image in ("nginx:2", "nginx:3"):
        sim.deployments.rollout(d, template(image=image))
        assert sim.run_until_stable(timeout=120)
        names.append(sim.deployments.replicasets(d.uid)[-1].name)
    sim.run(sim.now + 5)
    remaining = [rs.name for rs in sim.deployments.replicasets(d.uid)]
    assert remaining == names[1:]  # revision 1 went; one old (revision 2) is kept
    assert sim.state.workload_named("ReplicaSet", "default", names[0]) is None


def test_status_counts_only_the_new_replicaset_as_updated():
    sim = make_sim()
    d = deployment(sim, replicas=4, strategy=RollingUpdate(max_surge=1, max_unavailable=0))
    assert sim.run_until_stable(timeout=60)
    sim.deployments.rollout(d, template(cpu=64000))  # new pods never schedule
    sim.run(sim.now + 10)
    status = sim.workload_status("Deployment", "default", "web")
    assert (status.desired, status.current, status.ready, status.updated) == (4, 5, 4, 1)
    assert not status.converged


def test_min_ready_seconds_requeue_has_upstreams_extra_second_while_a_new_pod_is_not_ready():
    """The controller looked again exactly minReadySeconds after a pod turned Ready; upstream's
    ReplicaSet controller (updatePod) adds a second, and its exact minReadySeconds resync only applies
    once all of the ReplicaSet's pods are Ready (see the test above for that case)."""
    sim = make_sim(nodes=1, cpu="1")
    d = deployment(
        sim, replicas=2, tmpl=template(cpu=300), strategy=RollingUpdate(max_surge=2, max_unavailable=0), min_ready_seconds=10
    )
    assert sim.run_until_stable(timeout=60)
    [old] = sim.deployments.replicasets(d.uid)
    started = sim.now
    sim.deployments.rollout(d, template(image="nginx:2", cpu=300))
    sim.run(sim.now + 5)  # one new pod fits on the node and turns Ready, the other stays Pending
    new = next(rs for rs in sim.deployments.replicasets(d.uid) if rs is not old)
    new_pods = list(sim.state.pods_owned_by(new.uid))
    assert new.replicas == 2 and sorted(p.ready for p in new_pods) == [False, True]
    assert sim.run_until_stable(timeout=120)
    ready_at = min(e.t for e in sim.trace.of_type(ev.PodReadyChanged) if e.t >= started and e.ready)
    old_scaled = [e.t for e in sim.trace.of_type(ev.WorkloadScaled) if e.t >= started and e.workload == old.key]
    assert old_scaled[0] == pytest.approx(ready_at + 10 + 1)
