"""PodDisruptionBudgets (model/disruption.py): the disruption controller's status formulas
(pkg/controller/disruption/disruption.go), the eviction API's answers (200 / 429 / 500, unhealthy
pod policy; pkg/registry/core/pod/storage/eviction.go), kubectl drain (5 s retries on 429,
DRAIN_EVICTION_RETRY_SECONDS), and deletions that bypass budgets."""

from __future__ import annotations

from dataclasses import replace

import pytest

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.disruption import DisruptionController, PDBStatus, expected_and_desired
from podquake.model.objects import PodTemplate, VolumeSpec
from podquake.model.resources_api import PodDisruptionBudget
from podquake.model.selectors import LabelSelector
from podquake.model.simulation import Simulation

from .controllers.workload_kit import daemonset, deployment, make_sim, template


def controller(sim: Simulation) -> DisruptionController:
    """The simulation's own controller once it wires one in, else a new one."""
    existing = getattr(sim, "disruption", None)
    if existing is not None:
        return existing
    disruption = DisruptionController(sim)
    disruption.start()
    return disruption


def setup(nodes: int = 3, replicas: int = 3, **budget: object) -> tuple[Simulation, DisruptionController, str | None]:
    """A Deployment ``web`` (all pods on worker-1: first legal fit) and, if given, a budget ``web`` over it."""
    sim = make_sim(nodes)
    disruption = controller(sim)
    dep = deployment(sim, replicas=replicas) if replicas else None
    if budget:
        add_budget(sim, "web", **budget)
    assert sim.run_until_stable(60)
    return sim, disruption, dep.uid if dep else None


def add_budget(sim: Simulation, name: str, app: str = "web", **spec: object) -> None:
    pdb = PodDisruptionBudget(name, "default", LabelSelector.of({"app": app}), **spec)  # type: ignore[arg-type]
    sim.state.put_object("PodDisruptionBudget", "default", name, pdb)


def web_pods(sim: Simulation) -> list:
    return sorted((p for p in sim.state.pods.values() if p.labels.get("app") == "web"), key=lambda p: p.name)


def healthy(sim: Simulation) -> int:
    return sum(1 for p in web_pods(sim) if p.ready and p.deletion_timestamp is None)


# --- the status formulas -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "pods", "scale", "expected"),
    [
        ({"max_unavailable": 1}, 3, 3, (3, 2)),
        ({"max_unavailable": "25%"}, 10, 10, (10, 7)),  # ceil(2.5) = 3 unavailable
        ({"max_unavailable": "34%"}, 3, 3, (3, 1)),  # ceil(1.02) = 2 unavailable
        ({"max_unavailable": 5}, 3, 3, (3, 0)),  # never below 0
        ({"max_unavailable": "30%"}, 2, 5, (5, 3)),  # expected = the controller's scale, not the pods
        ({"min_available": 2}, 4, 10, (4, 2)),  # int: expected = the number of pods
        ({"min_available": "50%"}, 3, 3, (3, 2)),  # ceil(1.5)
        ({"min_available": "90%"}, 10, 10, (10, 9)),
        ({}, 3, 3, (0, 0)),
    ],
)
def test_expected_and_desired_follow_get_expected_pod_count(spec, pods, scale, expected):
    pdb = PodDisruptionBudget("b", "default", LabelSelector(), **spec)
    assert expected_and_desired(pdb, ["pod"] * pods, lambda pod: ("owner", scale)) == expected


def test_expected_scale_sums_each_controller_once_and_ignores_pods_without_one():
    pdb = PodDisruptionBudget("b", "default", LabelSelector(), max_unavailable=1)
    owners = {"a1": ("rs-a", 2), "a2": ("rs-a", 2), "b1": ("rs-b", 3), "bare": None}
    assert expected_and_desired(pdb, list(owners), owners.get) == (5, 4)  # type: ignore[arg-type]


def test_status_counts_ready_pods_not_being_deleted():
    sim, disruption, _ = setup(replicas=4, max_unavailable="25%")
    assert disruption.status("default", "web").counts() == (4, 3, 4, 1)  # type: ignore[union-attr]
    pod = web_pods(sim)[0]
    sim.state.set_pod_ready(pod.uid, False)
    sim.run_for(1)
    assert disruption.status("default", "web").counts() == (4, 3, 3, 0)  # type: ignore[union-attr]
    last = sim.trace.of_type(ev.DisruptionBudgetUpdated)[-1]
    assert (last.pdb, last.current_healthy, last.disruptions_allowed) == ("default/web", 3, 0)


def test_min_available_int_uses_the_pod_count_and_never_allows_below_it():
    sim, disruption, _ = setup(replicas=2, min_available=5)
    assert disruption.status("default", "web").counts() == (2, 5, 2, 0)  # type: ignore[union-attr]


def test_a_deployment_mid_rollout_counts_its_scale_once():
    sim, disruption, uid = setup(replicas=4, max_unavailable=1)
    dep = sim.state.workloads[uid]  # type: ignore[index]
    start = sim.now
    sim.state.update_workload_template(dep.uid, template(image="nginx:2"), 2)
    sim.run_for(30)
    pods_seen = {e.pod for e in sim.trace.of_type(ev.PodCreated) if e.t >= start}
    assert pods_seen  # the rollout made new pods: two ReplicaSets existed at once
    updates = [e for e in sim.trace.of_type(ev.DisruptionBudgetUpdated) if e.t >= start]
    assert updates and all(e.expected_pods == 4 for e in updates)  # the Deployment's replicas, not 4 + surge


def test_daemonset_pods_have_no_scale_so_the_fail_safe_allows_no_disruption():
    sim = make_sim(3)
    disruption = controller(sim)
    daemonset(sim, app="agent")
    add_budget(sim, "agents", app="agent", max_unavailable=1)
    add_budget(sim, "agents-min", app="agent-min", min_available=1)
    assert sim.run_until_stable(60)
    status = disruption.status("default", "agents")
    assert status is not None and status.disruptions_allowed == 0
    assert status.sync_error == "daemonsets.apps does not implement the scale subresource"
    pod = next(p for p in sim.state.pods.values() if p.labels["app"] == "agent")
    assert disruption.evict(pod.key).code == 429


def test_bare_pods_count_for_an_int_min_available_but_not_for_a_scale():
    sim, disruption, _ = setup(replicas=0)
    for name in ("a", "b"):
        sim.create_pod(name, "default", template())
    add_budget(sim, "max", max_unavailable=1)
    add_budget(sim, "min", app="web", min_available=1)
    sim.run_for(5)
    assert disruption.status("default", "max").counts() == (0, 0, 2, 0)  # type: ignore[union-attr]  # expected 0: nothing allowed
    assert disruption.status("default", "min").counts() == (2, 1, 2, 1)  # type: ignore[union-attr]


def test_an_approved_eviction_keeps_the_pod_out_of_current_healthy_for_the_deletion_timeout():
    sim, disruption, _ = setup(replicas=3, min_available=1)
    status = disruption.status("default", "web")
    assert status is not None and status.current_healthy == 3
    approved = web_pods(sim)[0]
    sim.state.set_pdb_status("default", "web", replace(status, disrupted_pods=((approved.name, sim.now),)))
    disruption.sync(("default", "web"))
    assert disruption.status("default", "web").current_healthy == 2  # type: ignore[union-attr]
    sim.run_for(k8s.PDB_DELETION_TIMEOUT_SECONDS - 1)
    assert disruption.status("default", "web").current_healthy == 2  # type: ignore[union-attr]
    sim.run_for(2)  # never deleted: the entry expires after DeletionTimeout (2 min) and the pod counts again
    status = disruption.status("default", "web")
    assert status is not None and status.current_healthy == 3 and status.disrupted_pods == ()


# --- the eviction API --------------------------------------------------------------------------------
def test_eviction_spends_the_budget_and_answers_429_when_none_is_left():
    sim, disruption, _ = setup(replicas=3, min_available=2)
    first, second, _ = web_pods(sim)
    answer = disruption.evict(first.key)
    assert (answer.code, answer.pdb) == (200, "default/web")
    assert first.deletion_timestamp == sim.now
    status = disruption.status("default", "web")
    assert status is not None and status.disruptions_allowed == 0 and status.disrupted_pods == ((first.name, sim.now),)
    blocked = disruption.evict(second.key)
    assert blocked.code == 429 and not blocked.allowed
    assert blocked.reason == (
        "Cannot evict pod as it would violate the pod's disruption budget. "
        "The disruption budget web needs 2 healthy pods and has 3 currently"
    )
    assert second.deletion_timestamp is None
    assert [(e.pod, e.code) for e in sim.trace.of_type(ev.EvictionRequested)] == [(first.key, 200), (second.key, 429)]
    deletion = [e for e in sim.trace.of_type(ev.PodDeletionRequested) if e.pod == first.key]
    assert deletion[0].reason == "EvictionByEvictionAPI"
    sim.run_for(10)  # the replacement is Ready: the budget allows one disruption again
    assert disruption.status("default", "web").counts() == (3, 2, 3, 1)  # type: ignore[union-attr]
    assert disruption.evict(second.key).code == 200


def test_eviction_before_the_first_sync_is_429_still_being_processed():
    sim, disruption, _ = setup(replicas=3)
    add_budget(sim, "web", max_unavailable=1)
    answer = disruption.evict(web_pods(sim)[0].key)
    assert answer.code == 429 and answer.reason.endswith("The disruption budget web is still being processed by the server.")
    sim.run_for(1)
    assert disruption.evict(web_pods(sim)[0].key).code == 200


def test_eviction_of_a_pod_with_two_budgets_is_a_500():
    sim, disruption, _ = setup(replicas=2, max_unavailable=1)
    add_budget(sim, "web-too", min_available=0)
    sim.run_for(1)
    pod = web_pods(sim)[0]
    assert [b.name for b in disruption.budgets_for(pod)] == ["web", "web-too"]
    answer = disruption.evict(pod.key)
    assert answer.code == 500 and "more than one PodDisruptionBudget" in answer.reason
    assert pod.deletion_timestamp is None


def test_eviction_without_a_budget_or_of_a_pending_pod_ignores_budgets():
    sim, disruption, _ = setup(replicas=2, min_available=2)
    assert disruption.evict("default/missing").code == 404
    sim.create_pod("lonely", "default", template(app="other"))
    assert disruption.evict("default/lonely").code == 200  # no budget selects it
    sim.create_pod("late", "default", template())  # matched by the budget, but still Pending
    assert disruption.evict("default/late").code == 200
    assert "default/late" not in sim.state.pods_by_key  # unscheduled: removed at once


def test_dry_run_changes_nothing():
    sim, disruption, _ = setup(replicas=3, min_available=2)
    pod = web_pods(sim)[0]
    assert disruption.evict(pod.key, dry_run=True).code == 200
    assert pod.deletion_timestamp is None
    assert disruption.status("default", "web").disruptions_allowed == 1  # type: ignore[union-attr]
    assert not sim.trace.of_type(ev.EvictionRequested)


def test_unhealthy_pods_are_evicted_without_spending_a_healthy_budget():
    sim, disruption, _ = setup(replicas=4, min_available=2)
    a, b, c, _ = web_pods(sim)
    for pod in (a, b):
        sim.state.set_pod_ready(pod.uid, False)
    sim.run_for(0.5)
    assert disruption.status("default", "web").counts() == (4, 2, 2, 0)  # type: ignore[union-attr]
    # IfHealthyBudget: currentHealthy 2 >= desiredHealthy 2 > 0, so the unready pod may go, budget untouched.
    assert disruption.evict(a.key).code == 200
    assert disruption.status("default", "web").disruptions_allowed == 0  # type: ignore[union-attr]
    sim.state.set_pod_ready(c.uid, False)
    sim.run_for(0.5)  # now currentHealthy 1 < 2: the unready pod b is guarded like a healthy one
    assert disruption.evict(b.key).code == 429


def test_always_allow_evicts_unhealthy_pods_even_when_the_budget_is_exhausted():
    sim, disruption, _ = setup(replicas=3, min_available=3, unhealthy_pod_eviction_policy="AlwaysAllow")
    a, b, _ = web_pods(sim)
    sim.state.set_pod_ready(a.uid, False)
    sim.run_for(0.5)
    assert disruption.status("default", "web").disruptions_allowed == 0  # type: ignore[union-attr]
    assert disruption.evict(a.key).code == 200
    assert disruption.evict(b.key).code == 429  # a healthy pod is still guarded


# --- deletion bypasses budgets ------------------------------------------------------------------------
def test_scale_down_and_taint_eviction_delete_pods_whatever_the_budget_says():
    sim, disruption, uid = setup(replicas=3, min_available=3)
    assert disruption.status("default", "web").disruptions_allowed == 0  # type: ignore[union-attr]
    sim.state.scale_workload(uid, 2)  # type: ignore[arg-type]
    sim.run_for(5)
    assert len(web_pods(sim)) == 2
    sim.kubelets["worker-1"].power_off()  # every pod runs on worker-1
    sim.run_for(k8s.NODE_MONITOR_GRACE_PERIOD_SECONDS + k8s.DEFAULT_TOLERATION_SECONDS + 30)
    evicted = {e.pod for e in sim.trace.of_type(ev.PodDeletionRequested) if e.reason == "TaintEviction"}
    assert len(evicted) == 2
    assert not sim.trace.of_type(ev.EvictionRequested)


# --- node drain ----------------------------------------------------------------------------------------
def test_drain_cordons_and_evicts_through_the_budget_retrying_every_five_seconds():
    sim, disruption, _ = setup(replicas=3, min_available=2)
    assert {p.node_name for p in web_pods(sim)} == {"worker-1"}
    after_each: list[int] = []
    sim.state.watch(ev.EvictionRequested, lambda e: after_each.append(healthy(sim)) if e.code == 200 else None)
    start = sim.now
    drain = disruption.drain("worker-1")
    sim.run_for(60)
    assert drain.outcome == "Drained" and drain.done.triggered
    assert sim.state.nodes["worker-1"].unschedulable
    assert len(drain.evicted) == 3 and not sim.state.nodes["worker-1"].pods
    assert min(after_each) >= 2  # minAvailable held at every approved eviction
    answers = [(e.t - start, e.code) for e in sim.trace.of_type(ev.EvictionRequested)]
    retry = k8s.DRAIN_EVICTION_RETRY_SECONDS  # 5 s, kubectl's "will retry after 5s"
    assert answers == [(0, 200), (0, 429), (0, 429), (retry, 200), (retry, 429), (2 * retry, 200)]
    assert drain.blocked == 3
    finished = sim.trace.of_type(ev.NodeDrainFinished)
    assert [(e.node, e.outcome, e.evicted) for e in finished] == [("worker-1", "Drained", 3)]
    # The last pod is gone container_stop_seconds after its eviction; kubectl polls every DRAIN_DELETE_POLL_SECONDS.
    gone = 2 * retry + sim.timing.container_stop_seconds
    assert drain.finished_at is not None and gone <= drain.finished_at - start <= gone + k8s.DRAIN_DELETE_POLL_SECONDS
    assert sim.run_until_stable(30) and healthy(sim) == 3


def test_drain_times_out_while_the_budget_blocks_it():
    sim, disruption, _ = setup(replicas=3, min_available=3)
    start = sim.now
    drain = disruption.drain("worker-1", timeout=30)
    sim.run_for(60)
    assert drain.outcome == "TimedOut" and drain.finished_at == start + 30
    assert drain.blocked == 3 * int(30 / k8s.DRAIN_EVICTION_RETRY_SECONDS)  # each pod tried at 0, 5, ..., 25 s
    assert len(web_pods(sim)) == 3 and sim.state.nodes["worker-1"].unschedulable


def test_drain_skips_daemonset_pods_and_refuses_bare_pods_unless_forced():
    sim, disruption, _ = setup(replicas=1)
    daemonset(sim, app="agent")
    sim.create_pod("bare", "default", template(app="bare"))
    assert sim.run_until_stable(60)
    (web,) = web_pods(sim)
    refused = disruption.drain("worker-1")
    sim.run_for(1)
    assert refused.outcome == "Refused" and refused.problems == ["cannot delete Pods that declare no controller: default/bare"]
    assert not refused.evicted and sim.state.nodes["worker-1"].unschedulable
    forced = disruption.drain("worker-1", force=True)
    sim.run_for(10)
    assert forced.outcome == "Drained"
    assert forced.evicted == [web.key, "default/bare"]
    agent = [p for p in sim.state.nodes["worker-1"].pods.values() if p.labels.get("app") == "agent"]
    assert len(agent) == 1 and forced.skipped == [agent[0].key]  # the DaemonSet pod stays


def test_drain_deletes_a_finished_daemonset_pod_even_without_ignore_daemonsets():
    """drain.go daemonSetFilter: "Any finished pod can be removed", before the DaemonSet checks; a running
    DaemonSet pod still refuses the drain without ignore_daemonsets."""
    sim, disruption, _ = setup(replicas=1)
    daemonset(sim, app="agent")
    assert sim.run_until_stable(60)
    (web,) = web_pods(sim)
    (agent,) = [p for p in sim.state.nodes["worker-1"].pods.values() if p.labels.get("app") == "agent"]
    sim.state.set_pod_phase(agent.uid, "Failed", "Evicted")
    drain = disruption.drain("worker-1", ignore_daemonsets=False)
    sim.run_for(10)
    assert drain.outcome == "Drained" and not drain.problems and not drain.skipped
    assert drain.evicted == [web.key, agent.key] and agent.uid not in sim.state.pods


def test_drain_refuses_local_storage_when_asked_to():
    sim, disruption, _ = setup(replicas=0)
    tmpl = template()
    tmpl = PodTemplate(tmpl.labels, replace(tmpl.spec, volumes=(VolumeSpec("cache", "emptyDir"),)))
    deployment(sim, replicas=1, tmpl=tmpl)
    assert sim.run_until_stable(60)
    drain = disruption.drain("worker-1", delete_emptydir_data=False)
    sim.run_for(1)
    assert drain.outcome == "Refused" and drain.problems[0].startswith("cannot delete Pods with local storage")


def test_drain_rejects_bad_arguments():
    sim, disruption, _ = setup(replicas=0)
    with pytest.raises(ValueError, match="no node named 'nope'"):
        disruption.drain("nope")
    with pytest.raises(ValueError, match="timeout must be positive"):
        disruption.drain("worker-1", timeout=0)


def test_status_is_a_value_with_counts():
    status = PDBStatus(5, 3, 4, 1)
    assert status.counts() == (5, 3, 4, 1) and status == PDBStatus(5, 3, 4, 1)
