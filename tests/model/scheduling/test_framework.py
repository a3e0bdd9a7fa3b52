"""The framework scheduler's full scan: filters, weighted totals, spreading, selectHost, profiles."""

from __future__ import annotations

import random

import pytest

from podquake.model import constants as k8s
from podquake.model.objects import TopologySpreadConstraint
from podquake.model.scheduling.framework import FrameworkScheduler, Profile
from podquake.model.selectors import LabelSelector, NodeAffinity, NodeSelectorTerm, Requirement, Taint, Toleration

from .scheduling_builders import add_pod, add_replicaset, make_node, make_state, pod_spec


def reference(profile: Profile | None = None, seed: int = 0) -> FrameworkScheduler:
    return FrameworkScheduler(profile, random.Random(seed), fast_path=False)


def test_default_profile_totals_by_hand() -> None:
    # Upstream's example sizes: pod 3000m/5000 on nodes of 4000m/10000 and 6000m/10000.
    state = make_state(make_node("n1", cpu=4000), make_node("n2", cpu=6000))
    pod = add_pod(state, pod_spec(3000, 5000))
    totals = reference().score_nodes(pod, state.node_list, state)
    # TaintToleration 3 x 100 (no PreferNoSchedule taints), NodeAffinity skipped, Fit 1 x {37, 50},
    # BalancedAllocation 1 x {87, 100}, PodTopologySpread skipped (a bare pod has no default constraints)
    assert totals == [300 + 37 + 87, 300 + 50 + 100]


def test_balanced_allocation_skips_best_effort_pods() -> None:
    state = make_state(make_node("n1", cpu=4000, memory=10**9), make_node("n2", cpu=6000, memory=10**9))
    pod = add_pod(state, pod_spec())  # no requests: Fit sees 100m / 200Mi, BalancedAllocation skips
    fit = [(4000 - 100) * 100 // 4000, (6000 - 100) * 100 // 6000]
    memory = (10**9 - k8s.DEFAULT_MEMORY_REQUEST) * 100 // 10**9
    totals = reference().score_nodes(pod, state.node_list, state)
    assert totals == [300 + (fit[0] + memory) // 2, 300 + (fit[1] + memory) // 2]


def test_taint_toleration_and_node_affinity_scores_are_normalized_and_weighted() -> None:
    prefer = Taint("spot", "", "PreferNoSchedule")
    state = make_state(
        make_node("n1", labels={"disk": "ssd"}),
        make_node("n2", taints=(prefer,)),
        make_node("n3", labels={"disk": "ssd"}, taints=(prefer,)),
    )
    affinity = NodeAffinity(preferred=((10, NodeSelectorTerm((Requirement("disk", "In", ("ssd",)),))),))
    pod = add_pod(state, pod_spec(1000, 1000, node_affinity=affinity))
    profile = Profile(weights=(("TaintToleration", 3), ("NodeAffinity", 2)))
    # TaintToleration raw [0, 1, 1] -> reversed [100, 0, 0]; NodeAffinity raw [10, 0, 10] -> [100, 0, 100]
    assert reference(profile).score_nodes(pod, state.node_list, state) == [300 + 200, 0, 200]


def test_filters_exclude_cordoned_not_ready_tainted_unmatched_and_full_nodes() -> None:
    state = make_state(
        make_node("cordoned"),
        make_node("not-ready"),
        make_node("tainted", taints=(Taint("gpu", "", "NoSchedule"),)),
        make_node("other-tier", labels={"tier": "b"}),
        make_node("full", labels={"tier": "a"}, cpu=500),
        make_node("ok", labels={"tier": "a"}),
    )
    state.set_unschedulable("cordoned", True)
    state.set_node_ready("not-ready", "False", "test")
    pod = add_pod(state, pod_spec(1000, 100, node_selector=(("tier", "a"),)))
    assert reference().full_scan(pod, state) == "ok"
    loose = add_pod(
        state,
        pod_spec(1000, 100, tolerations=(Toleration(k8s.TAINT_UNSCHEDULABLE, "Exists"), Toleration("gpu", "Exists"))),
    )
    picks = {reference(seed=s).full_scan(loose, state) for s in range(40)}
    assert picks == {"cordoned", "tainted", "other-tier", "ok"}  # never not-ready, never full (500m < 1000m)


def test_pod_count_limit_filters() -> None:
    state = make_state(make_node("small", pods=1), make_node("big"))
    first = add_pod(state, pod_spec(10, 10))
    state.bind_pod(first.uid, "small")
    pod = add_pod(state, pod_spec(10, 10))
    assert {reference(seed=s).full_scan(pod, state) for s in range(20)} == {"big"}


def test_required_affinity_terms_are_ored() -> None:
    state = make_state(make_node("a", zone="zone-a"), make_node("b", zone="zone-b"), make_node("c", zone="zone-c"))
    terms = (
        NodeSelectorTerm((Requirement(k8s.LABEL_ZONE, "In", ("zone-a",)),)),
        NodeSelectorTerm((Requirement(k8s.LABEL_ZONE, "In", ("zone-c",)),)),
    )
    pod = add_pod(state, pod_spec(100, 100, node_affinity=NodeAffinity(required=terms)))
    assert {reference(seed=s).full_scan(pod, state) for s in range(30)} == {"a", "c"}


def test_select_host_picks_ties_by_node_index_with_the_rng() -> None:
    state = make_state(*(make_node(f"n{i}") for i in range(5)))
    pod = add_pod(state, pod_spec(100, 100))
    for seed in range(10):
        expected = random.Random(seed).randrange(5)  # ties in node-index order, one randrange
        assert reference(seed=seed).full_scan(pod, state) == f"n{expected}"


def test_one_feasible_node_is_chosen_without_using_the_rng() -> None:
    state = make_state(make_node("small", cpu=500), make_node("big"))
    pod = add_pod(state, pod_spec(1000, 100))
    scheduler = reference(seed=3)
    before = scheduler.rng.getstate()
    assert scheduler.full_scan(pod, state) == "big"
    assert scheduler.rng.getstate() == before


def test_unschedulable_when_nothing_fits() -> None:
    state = make_state(make_node("n1", cpu=500))
    assert reference().full_scan(add_pod(state, pod_spec(1000, 100)), state) is None
    assert reference().full_scan(add_pod(state, pod_spec(100, 100)), make_state()) is None


def test_system_default_spreading_scores_by_hand() -> None:
    # n1, n2 in zone a, n3 in zone b; the ReplicaSet's pods: 2 on n1, 1 on n3 (see test_plugins).
    state = make_state(make_node("n1", zone="zone-a"), make_node("n2", zone="zone-a"), make_node("n3", zone="zone-b"))
    owner = add_replicaset(state, "web", {"app": "web"})
    for node in ("n1", "n1", "n3"):
        state.bind_pod(add_pod(state, pod_spec(1, 1), {"app": "web"}, owner).uid, node)
    terminating = add_pod(state, pod_spec(1, 1), {"app": "web"}, owner)
    state.bind_pod(terminating.uid, "n2")
    state.request_pod_deletion(terminating.uid, "test")  # terminating pods are not counted
    add_pod(state, pod_spec(1, 1), {"app": "other"}, name="unrelated")
    pod = add_pod(state, pod_spec(1, 1), {"app": "web"}, owner)
    only_spread = Profile(weights=(("PodTopologySpread", 2),))
    assert reference(only_spread).score_nodes(pod, state.node_list, state) == [150, 200, 200]
    no_defaults = Profile(weights=(("PodTopologySpread", 2),), system_default_spreading=False)
    assert reference(no_defaults).score_nodes(pod, state.node_list, state) == [0, 0, 0]  # plugin skips
    bare = add_pod(state, pod_spec(1, 1), {"app": "web"})
    assert reference(only_spread).score_nodes(bare, state.node_list, state) == [0, 0, 0]  # no owner: no defaults


def test_spread_filter_skew_by_hand() -> None:
    # matching pods per zone a: 2, b: 1, c: 0; maxSkew 1 and the pod matches: only zone c passes
    state = make_state(make_node("a", zone="zone-a"), make_node("b", zone="zone-b"), make_node("c", zone="zone-c"))
    for node in ("a", "a", "b"):
        state.bind_pod(add_pod(state, pod_spec(1, 1), {"app": "db"}).uid, node)
    constraint = TopologySpreadConstraint(1, k8s.LABEL_ZONE, "DoNotSchedule", LabelSelector.of({"app": "db"}))
    pod = add_pod(state, pod_spec(1, 1, topology_spread_constraints=(constraint,)), {"app": "db"})
    assert {reference(seed=s).full_scan(pod, state) for s in range(20)} == {"c"}
    # maxSkew 2: zone b passes too (1 + 1 - 0 = 2), zone a does not (2 + 1 - 0 = 3)
    wider = TopologySpreadConstraint(2, k8s.LABEL_ZONE, "DoNotSchedule", LabelSelector.of({"app": "db"}))
    pod = add_pod(state, pod_spec(1, 1, topology_spread_constraints=(wider,)), {"app": "db"})
    assert {reference(seed=s).full_scan(pod, state) for s in range(30)} == {"b", "c"}


def test_spread_filter_min_domains_treats_global_minimum_as_zero() -> None:
    # two zones with 1 pod each: skew 1 + 1 - 1 = 1 passes; with minDomains 3 the minimum is 0 -> 2 > 1
    state = make_state(make_node("a", zone="zone-a"), make_node("b", zone="zone-b"))
    for node in ("a", "b"):
        state.bind_pod(add_pod(state, pod_spec(1, 1), {"app": "db"}).uid, node)
    selector = LabelSelector.of({"app": "db"})
    relaxed = TopologySpreadConstraint(1, k8s.LABEL_ZONE, "DoNotSchedule", selector)
    assert (
        reference().full_scan(
            add_pod(state, pod_spec(1, 1, topology_spread_constraints=(relaxed,)), {"app": "db"}), state
        )
        is not None
    )
    strict = TopologySpreadConstraint(1, k8s.LABEL_ZONE, "DoNotSchedule", selector, min_domains=3)
    assert (
        reference().full_scan(
            add_pod(state, pod_spec(1, 1, topology_spread_constraints=(strict,)), {"app": "db"}), state
        )
        is None
    )


def test_spread_filter_rejects_nodes_without_the_topology_key() -> None:
    state = make_state(make_node("a"), make_node("unlabelled"))
    del state.nodes["unlabelled"].labels[k8s.LABEL_ZONE]
    constraint = TopologySpreadConstraint(1, k8s.LABEL_ZONE, "DoNotSchedule", LabelSelector.of({"app": "db"}))
    pod = add_pod(state, pod_spec(1, 1, topology_spread_constraints=(constraint,)), {"app": "db"})
    assert {reference(seed=s).full_scan(pod, state) for s in range(20)} == {"a"}


def test_least_allocated_profile_scores_only_fit() -> None:
    state = make_state(make_node("n1", cpu=4000), make_node("n2", cpu=6000))
    pod = add_pod(state, pod_spec(3000, 5000))
    assert reference(Profile.least_allocated()).score_nodes(pod, state.node_list, state) == [37, 50]


def test_percentage_of_nodes_to_score_stops_early_and_rotates() -> None:
    state = make_state(*(make_node(f"n{i:03d}") for i in range(200)))
    pod = add_pod(state, pod_spec(100, 100))
    scheduler = reference(Profile(percentage_of_nodes_to_score=50), seed=1)
    first = state.nodes[scheduler.full_scan(pod, state)].index
    assert first < 100 and scheduler._next_start == 100  # 50% of 200: the first 100 nodes
    second = state.nodes[scheduler.full_scan(pod, state)].index
    assert second >= 100 and scheduler._next_start == 0


def test_profile_validation() -> None:
    with pytest.raises(ValueError, match="unknown score plugin"):
        Profile(weights=(("ImageLocality", 1),))
    with pytest.raises(ValueError, match="percentage"):
        Profile(percentage_of_nodes_to_score=150)


def test_spread_node_taints_policy_honor_leaves_untolerated_nodes_out_of_the_domains() -> None:
    # zone a has 2 matching pods; zone b's only node is tainted (the pod does not tolerate it) and has none
    state = make_state(
        make_node("a", zone="zone-a"), make_node("b", zone="zone-b", taints=(Taint("gpu", "", "NoSchedule"),))
    )
    for _ in range(2):
        state.bind_pod(add_pod(state, pod_spec(1, 1), {"app": "db"}).uid, "a")
    selector = LabelSelector.of({"app": "db"})
    ignore = TopologySpreadConstraint(1, k8s.LABEL_ZONE, "DoNotSchedule", selector)  # min over {a: 2, b: 0} = 0
    honor = TopologySpreadConstraint(1, k8s.LABEL_ZONE, "DoNotSchedule", selector, node_taints_policy="Honor")  # {a: 2}
    assert (
        reference().full_scan(
            add_pod(state, pod_spec(1, 1, topology_spread_constraints=(ignore,)), {"app": "db"}), state
        )
        is None
    )
    assert (
        reference().full_scan(
            add_pod(state, pod_spec(1, 1, topology_spread_constraints=(honor,)), {"app": "db"}), state
        )
        == "a"
    )


def test_pods_naming_their_node_are_checked_against_that_node_only() -> None:
    state = make_state(*(make_node(f"n{i}") for i in range(6)))
    term = NodeSelectorTerm(match_fields=(Requirement("metadata.name", "In", ("n4",)),))
    daemon = add_pod(state, pod_spec(100, 100, node_affinity=NodeAffinity(required=(term,))))
    assert reference().full_scan(daemon, state) == "n4"
    state.set_unschedulable("n4", True)
    assert reference().full_scan(daemon, state) is None  # the named node is filtered like any other
    two = NodeSelectorTerm(match_fields=(Requirement("metadata.name", "In", ("n1", "n2", "gone")),))
    either = add_pod(state, pod_spec(100, 100, node_affinity=NodeAffinity(required=(two, term))))
    assert {reference(seed=s).full_scan(either, state) for s in range(20)} == {"n1", "n2"}
    pinned = add_pod(state, pod_spec(100, 100, node_name="n3"))
    assert reference().full_scan(pinned, state) == "n3"
