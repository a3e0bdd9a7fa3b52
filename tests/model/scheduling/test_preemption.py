"""DefaultPreemption's pieces on a bare state: SelectVictimsOnNode, filterPodsWithPDBViolation,
pickOneNodeForPreemption, the candidate count (kubernetes/kubernetes:pkg/scheduler/framework/plugins/
defaultpreemption/default_preemption.go, pkg/scheduler/framework/preemption/preemption.go)."""

from __future__ import annotations

import random

from podquake.model.objects import Pod
from podquake.model.scheduling.framework import FrameworkScheduler, Profile
from podquake.model.scheduling.preemption import (
    Budget,
    Candidate,
    candidates_to_find,
    pick_one_node,
    select_victims,
    split_by_budget,
)
from podquake.model.selectors import LabelSelector, Taint
from podquake.model.store import ClusterState
from tests.model.scheduling.scheduling_builders import add_pod, make_node, make_state, pod_spec


def placed(state: ClusterState, node: str, cpu: int, priority: int = 0, name: str | None = None, labels: dict[str, str] | None = None, at: float = 0.0) -> Pod:
    pod = add_pod(state, pod_spec(cpu, 100, priority=priority), labels=labels, name=name)
    state.bind_pod(pod.uid, node)
    pod.bound_at = at
    return pod


def pending(state: ClusterState, cpu: int, priority: int, **fields: object) -> Pod:
    return add_pod(state, pod_spec(cpu, 100, priority=priority, **fields))


def test_select_victims_removes_all_lower_then_reprieves_the_most_important_that_still_fit():
    state = make_state(make_node("n1", cpu=1000))
    a = placed(state, "n1", 500, priority=10, name="a")
    placed(state, "n1", 300, priority=0, name="b", at=1.0)
    placed(state, "n1", 100, priority=0, name="c", at=2.0)
    pod = pending(state, 400, 100)
    found = select_victims(pod, state.nodes["n1"], (0, 0, 0, 0), [], now=10.0)
    # a (priority 10) is reprieved first and fits; b then no longer does; c (100m) fits back
    assert found is not None and [v.name for v in found.victims] == ["b"]
    assert found.pdb_violations == 0
    assert a.deletion_timestamp is None


def test_select_victims_never_takes_pods_of_equal_or_higher_priority():
    state = make_state(make_node("n1", cpu=1000))
    placed(state, "n1", 600, priority=100)
    placed(state, "n1", 300, priority=200)
    pod = pending(state, 400, 100)
    assert select_victims(pod, state.nodes["n1"], (0, 0, 0, 0), [], now=0.0) is None


def test_select_victims_counts_the_pods_nominated_to_the_node():
    state = make_state(make_node("n1", cpu=1000))
    placed(state, "n1", 700, priority=0)
    pod = pending(state, 400, 100)
    assert select_victims(pod, state.nodes["n1"], (0, 0, 0, 0), [], now=0.0) is not None
    # a nominated pod of >= priority holds 700m: even without the victim there is no room
    assert select_victims(pod, state.nodes["n1"], (1, 700, 0, 0), [], now=0.0) is None


def test_budget_violating_victims_are_reprieved_first():
    state = make_state(make_node("n1", cpu=1000))
    guarded = placed(state, "n1", 400, priority=0, name="guarded", labels={"app": "db"}, at=5.0)
    placed(state, "n1", 400, priority=0, name="free", labels={"app": "web"}, at=1.0)
    pod = pending(state, 500, 100)
    pdbs = [Budget("default", LabelSelector.of({"app": "db"}), allowed=0)]
    found = select_victims(pod, state.nodes["n1"], (0, 0, 0, 0), pdbs, now=10.0)
    # without the budget, "free" (started earlier: more important) would be reprieved first
    assert found is not None and [v.name for v in found.victims] == ["free"]
    no_budget = select_victims(pod, state.nodes["n1"], (0, 0, 0, 0), [], now=10.0)
    assert no_budget is not None and [v.name for v in no_budget.victims] == ["guarded"]
    assert guarded.deletion_timestamp is None


def test_split_by_budget_charges_each_matching_pod_and_skips_empty_selectors_and_disrupted_pods():
    state = make_state(make_node("n1", cpu=4000))
    pods = [placed(state, "n1", 100, labels={"app": "db"}, name=f"db-{i}") for i in range(3)]
    one = Budget("default", LabelSelector.of({"app": "db"}), allowed=1)
    violating, other = split_by_budget(pods, [one])
    assert [p.name for p in other] == ["db-0"] and [p.name for p in violating] == ["db-1", "db-2"]
    disrupted = Budget("default", LabelSelector.of({"app": "db"}), allowed=0, disrupted=frozenset({"db-0"}))
    assert [p.name for p in split_by_budget(pods, [disrupted])[1]] == ["db-0"]
    everything = Budget("default", LabelSelector(), allowed=0)  # an empty selector matches nothing here
    assert split_by_budget(pods, [everything]) == ([], pods)


def _candidate(state: ClusterState, node: str, victims: list[tuple[int, float]], violations: int = 0) -> Candidate:
    pods = tuple(placed(state, node, 1, priority=prio, at=at) for prio, at in victims)
    return Candidate(state.nodes[node], pods, violations)


def test_pick_one_node_applies_the_criteria_in_order():
    state = make_state(*(make_node(f"n{i}") for i in range(1, 7)))
    # 1. fewest budget violations beats everything after it
    a = _candidate(state, "n1", [(0, 0.0)], violations=1)
    b = _candidate(state, "n2", [(50, 0.0)], violations=0)
    assert pick_one_node([a, b], now=100.0) is b
    # 2. lowest highest-priority victim, even with more victims
    c = _candidate(state, "n3", [(10, 0.0), (10, 0.0), (10, 0.0)])
    d = _candidate(state, "n4", [(20, 0.0)])
    assert pick_one_node([d, c], now=100.0) is c
    # 3. smallest sum of priorities, each shifted by 2^31 (so more victims weigh more, even negative ones)
    e = _candidate(state, "n5", [(10, 0.0), (5, 0.0)])
    f = _candidate(state, "n6", [(10, 0.0), (3, 0.0), (1, 0.0)])
    assert pick_one_node([f, e], now=100.0) is e
    g = _candidate(state, "n5", [(10, 0.0), (4, 0.0)])
    assert pick_one_node([e, g], now=100.0) is g
    # 4. fewest victims when the shifted sums are equal
    two = _candidate(state, "n1", [(10, 0.0), (0, 0.0)])
    three = _candidate(state, "n2", [(10, 0.0), (-(2**30), 0.0), (-(2**30), 0.0)])
    assert pick_one_node([three, two], now=100.0) is two


def test_pick_one_node_prefers_the_latest_started_highest_priority_victims_then_the_first():
    state = make_state(make_node("n1"), make_node("n2"), make_node("n3"))
    old = _candidate(state, "n1", [(10, 5.0)])
    new = _candidate(state, "n2", [(10, 50.0)])
    assert pick_one_node([old, new], now=100.0) is new
    twin = _candidate(state, "n3", [(10, 50.0)])
    assert pick_one_node([twin, new], now=100.0) is twin


def test_candidates_to_find_is_ten_percent_at_least_one_hundred_at_most_all():
    assert [candidates_to_find(n) for n in (5, 100, 999, 5000)] == [5, 100, 100, 500]


def test_preemption_nodes_are_only_those_where_removing_pods_can_help():
    nodes = [
        make_node("ok", cpu=1000),
        make_node("tainted", cpu=1000, taints=(Taint("dedicated", "x", "NoSchedule"),)),
        make_node("other-zone", zone="zone-b", cpu=1000),
    ]
    state = make_state(*nodes)
    state.set_unschedulable("other-zone", True)
    scheduler = FrameworkScheduler(Profile.default(), random.Random(0))
    scheduler.attach(state)
    pod = pending(state, 400, 100)
    assert [n.name for n in scheduler.preemption_nodes(pod)] == ["ok"]


def test_the_least_allocated_profile_does_not_preempt():
    state = make_state(make_node("n1", cpu=1000))
    placed(state, "n1", 900, priority=0)
    scheduler = FrameworkScheduler(Profile.least_allocated(), random.Random(0))
    scheduler.attach(state)
    assert scheduler.preemption is None
    assert scheduler.post_filter(pending(state, 400, 100)) is None
