"""The fast path decides exactly as the full-scan reference, whatever happens to the cluster."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podquake.model import constants as k8s
from podquake.model.objects import PodAffinity, PodAffinityTerm, TopologySpreadConstraint
from podquake.model.scheduling.fastpath import nth_set_bit
from podquake.model.scheduling.framework import FrameworkScheduler, Profile
from podquake.model.scheduling.plugins import ScoringStrategy
from podquake.model.selectors import LabelSelector, NodeAffinity, NodeSelectorTerm, Requirement, Taint, Toleration

from .scheduling_builders import add_pod, add_replicaset, make_node, make_state, pod_spec

DEDICATED = Taint("dedicated", "batch", "NoSchedule")
SPOT = Taint("spot", "", "PreferNoSchedule")
TIER_A = NodeSelectorTerm((Requirement("tier", "In", ("a",)),))
APP_X = LabelSelector.of({"app": "x"})


def _spread(key: str, when: str, skew: int = 1, **extra: object) -> TopologySpreadConstraint:
    return TopologySpreadConstraint(skew, key, when, APP_X, **extra)  # type: ignore[arg-type]


SPECS = [
    pod_spec(500, 1000),
    pod_spec(1500, 300),
    pod_spec(),  # best effort: non-zero defaults in Fit, BalancedAllocation skips
    pod_spec(250, None),
    pod_spec(400, 400, node_selector=(("tier", "a"),)),
    pod_spec(400, 400, tolerations=(Toleration("dedicated", "Equal", "batch", "NoSchedule"),)),
    pod_spec(300, 300, tolerations=(Toleration("spot", "Exists"),)),
    pod_spec(300, 600, node_affinity=NodeAffinity(preferred=((5, TIER_A),))),
    pod_spec(300, 600, node_affinity=NodeAffinity(required=(TIER_A,), preferred=((3, TIER_A),))),
    pod_spec(200, 200, topology_spread_constraints=(_spread(k8s.LABEL_ZONE, "DoNotSchedule"),)),
    pod_spec(200, 200, topology_spread_constraints=(_spread(k8s.LABEL_HOSTNAME, "DoNotSchedule"),)),
    pod_spec(200, 200, topology_spread_constraints=(_spread(k8s.LABEL_ZONE, "DoNotSchedule", min_domains=3),)),
    pod_spec(200, 200, topology_spread_constraints=(_spread(k8s.LABEL_HOSTNAME, "DoNotSchedule", min_domains=5),)),
    pod_spec(
        200,
        200,
        topology_spread_constraints=(
            _spread(k8s.LABEL_ZONE, "ScheduleAnyway", 2),
            _spread(k8s.LABEL_HOSTNAME, "ScheduleAnyway"),
        ),
    ),
    pod_spec(
        200,
        200,
        node_selector=(("tier", "a"),),
        topology_spread_constraints=(_spread(k8s.LABEL_ZONE, "ScheduleAnyway", node_taints_policy="Honor"),),
    ),
    pod_spec(
        200,
        200,
        topology_spread_constraints=(
            _spread("tier", "DoNotSchedule", node_affinity_policy="Ignore"),
            _spread(k8s.LABEL_ZONE, "ScheduleAnyway"),
        ),
    ),
    pod_spec(
        200,
        200,
        topology_spread_constraints=(
            _spread(k8s.LABEL_HOSTNAME, "ScheduleAnyway"),
            _spread("tier", "ScheduleAnyway", 2),
        ),
    ),
    pod_spec(
        100,
        100,
        node_affinity=NodeAffinity(
            required=(NodeSelectorTerm((Requirement(k8s.LABEL_HOSTNAME, "In", ("n0", "n1")),)),)
        ),
    ),  # full scan
]

PROFILES = {
    "default": Profile.default(),
    "least-allocated": Profile.least_allocated(),
    "most-allocated": Profile(fit=ScoringStrategy("MostAllocated", cpu_weight=2, memory_weight=1)),
    "rtcr": Profile(fit=ScoringStrategy("RequestedToCapacityRatio", shape=((0, 0), (50, 8), (100, 10)))),
}

node_st = st.fixed_dictionaries(
    {
        "zone": st.sampled_from(["zone-a", "zone-b", "zone-c"]),
        "cpu": st.sampled_from([1000, 2000, 4000]),
        "memory": st.sampled_from([1500, 3000, 6000]),
        "pods": st.sampled_from([2, 4, 110]),
        "tier": st.sampled_from([None, "a", "b"]),
        "taints": st.sampled_from([(), (DEDICATED,), (SPOT,), (SPOT, DEDICATED)]),
    }
)
op_st = st.one_of(
    st.tuples(st.just("pod"), st.integers(0, len(SPECS) - 1), st.sampled_from(["x", "y", None]), st.booleans()),
    st.tuples(st.just("delete"), st.integers(0, 10**6)),
    st.tuples(st.just("terminate"), st.integers(0, 10**6)),
    st.tuples(st.sampled_from(["taint", "untaint", "cordon", "uncordon", "notready", "ready"]), st.integers(0, 10**6)),
    st.tuples(st.just("add-node"), node_st),
    st.tuples(st.just("remove-node"), st.integers(0, 10**6)),
)


def _node(i: int, n: dict) -> object:
    labels = {"tier": n["tier"]} if n["tier"] else {}
    return make_node(f"n{i}", n["zone"], n["cpu"], n["memory"], n["pods"], labels, n["taints"])


def _assert_same_totals(
    scheduler: FrameworkScheduler, reference: FrameworkScheduler, pod: object, state: object
) -> None:
    """Every feasible node's total, fast path and reference, when two or more nodes are feasible."""
    fast = scheduler.fast.explain(pod)
    if fast is None or len(fast) < 2:
        return
    nodes = [state.nodes[name] for name in fast]  # type: ignore[attr-defined]
    assert fast == dict(zip(fast, reference.score_nodes(pod, nodes, state)))  # type: ignore[arg-type]


@pytest.mark.parametrize("profile_name", list(PROFILES))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    nodes=st.lists(node_st, min_size=1, max_size=9),
    ops=st.lists(op_st, min_size=1, max_size=40),
    seed=st.integers(0, 2**32),
)
def test_fast_path_equals_full_scan(profile_name: str, nodes: list[dict], ops: list[tuple], seed: int) -> None:
    scheduler = _run_sequence(PROFILES[profile_name], nodes, ops, seed, SPECS)
    covered = sum(1 for op in ops if op[0] == "pod" and op[1] != len(SPECS) - 1)
    assert scheduler.fast_decisions == covered  # every pod not naming nodes took the fast path


def _anti(app: str, key: str = k8s.LABEL_HOSTNAME) -> PodAffinity:
    return PodAffinity(required_anti_affinity=(PodAffinityTerm(key, LabelSelector.of({"app": app})),))


# Pods with inter-pod terms (and every pod they concern) take the full scan; the rest must still
# decide exactly as the reference while such pods are placed around them.
AFFINITY_SPECS = SPECS + [
    pod_spec(200, 200, pod_affinity=_anti("x")),
    pod_spec(300, 100, pod_affinity=_anti("y", k8s.LABEL_ZONE)),
    pod_spec(200, 200, pod_affinity=PodAffinity(required_affinity=(PodAffinityTerm(k8s.LABEL_ZONE, APP_X),))),
    pod_spec(
        100,
        300,
        pod_affinity=PodAffinity(
            preferred_affinity=((7, PodAffinityTerm(k8s.LABEL_ZONE, LabelSelector.of({"app": "y"}))),),
            preferred_anti_affinity=((3, PodAffinityTerm(k8s.LABEL_HOSTNAME, APP_X)),),
        ),
    ),
]
affinity_op_st = st.one_of(
    op_st,
    st.tuples(st.just("pod"), st.integers(len(SPECS), len(AFFINITY_SPECS) - 1), st.sampled_from(["x", "y", None]), st.booleans()),
)


@pytest.mark.parametrize("profile_name", list(PROFILES))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    nodes=st.lists(node_st, min_size=1, max_size=9),
    ops=st.lists(affinity_op_st, min_size=1, max_size=40),
    seed=st.integers(0, 2**32),
)
def test_fast_path_equals_full_scan_among_pods_with_inter_pod_terms(
    profile_name: str, nodes: list[dict], ops: list[tuple], seed: int
) -> None:
    _run_sequence(PROFILES[profile_name], nodes, ops, seed, AFFINITY_SPECS)


def _run_sequence(profile: Profile, nodes: list[dict], ops: list[tuple], seed: int, specs: list) -> FrameworkScheduler:
    """Play ``ops``; every pod is decided by the scheduler (fast path on) and by the full-scan reference."""
    state = make_state(*(_node(i, n) for i, n in enumerate(nodes)))  # type: ignore[arg-type]
    owners = {"x": add_replicaset(state, "x", {"app": "x"}), "y": add_replicaset(state, "y", {"app": "y"})}
    scheduler = FrameworkScheduler(profile, random.Random(seed))
    scheduler.attach(state)
    bound: list[str] = []
    added = 0
    for op in ops:
        kind = op[0]
        names = list(state.nodes)
        if kind == "pod":
            _, spec_index, app, owned = op
            labels = {"app": app} if app else {}
            owner = owners[app] if app and owned else None
            pod = add_pod(state, specs[spec_index], labels, owner)
            reference = FrameworkScheduler(profile, random.Random(), fast_path=False)
            reference.rng.setstate(scheduler.rng.getstate())
            expected = reference.full_scan(pod, state)
            before = scheduler.fast_decisions
            assert scheduler.decide(pod) == expected
            assert scheduler.rng.getstate() == reference.rng.getstate()
            if scheduler.fast_decisions > before:  # this decision took the fast path: same totals, best, ties
                _assert_same_totals(scheduler, reference, pod, state)
                assert (scheduler.fast.last_best, scheduler.fast.last_ties) == (
                    reference.last_best,
                    reference.last_ties,
                )
            if expected is not None:
                state.bind_pod(pod.uid, expected)
                bound.append(pod.uid)
        elif kind in ("delete", "terminate") and bound:
            uid = bound[op[1] % len(bound)]
            if kind == "delete":
                bound.remove(uid)
                state.delete_pod(uid, "test")
            else:
                state.request_pod_deletion(uid, "test")
        elif kind == "add-node":
            added += 1
            state.add_node(_node(len(nodes) + added, op[1]))  # type: ignore[arg-type]
        elif kind == "remove-node" and len(names) > 1:
            name = names[op[1] % len(names)]
            bound = [uid for uid in bound if state.pods[uid].node_name != name]
            state.remove_node(name)
        elif kind in ("taint", "untaint", "cordon", "uncordon", "notready", "ready"):
            name = names[op[1] % len(names)]
            if kind == "taint":
                state.add_taint(name, SPOT if op[1] % 2 else DEDICATED)
            elif kind == "untaint":
                state.remove_taint(name, "dedicated", "NoSchedule")
            elif kind in ("cordon", "uncordon"):
                state.set_unschedulable(name, kind == "cordon")
            else:
                state.set_node_ready(name, "True" if kind == "ready" else "False", "test")
    return scheduler


def test_forgetting_old_changes_refills_indexes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("podquake.model.scheduling.fastpath._MAX_LOG", 3)
    state = make_state(*(make_node(f"n{i}", f"zone-{'ab'[i % 2]}") for i in range(6)))
    scheduler = FrameworkScheduler(Profile.default(), random.Random(2))
    scheduler.attach(state)
    shapes = [pod_spec(300, 700), pod_spec(900, 100)]
    for i in range(40):
        pod = add_pod(state, shapes[(i // 3) % 2])
        reference = FrameworkScheduler(Profile.default(), random.Random(), fast_path=False)
        reference.rng.setstate(scheduler.rng.getstate())
        expected = reference.full_scan(pod, state)
        assert scheduler.decide(pod) == expected
        if expected is not None:
            state.bind_pod(pod.uid, expected)
    assert scheduler.fast.log_base > 0 and scheduler.fast_decisions == 40


def test_hostname_min_domains_on_both_paths() -> None:
    # two nodes with one matching pod each: the minimum is 1 (skew 1 + 1 - 1 = 1 passes), but with
    # minDomains 3 only 2 domains exist, so the minimum counts as 0 and 1 + 1 - 0 = 2 > maxSkew 1
    for min_domains, expected in ((None, True), (3, False)):
        state = make_state(make_node("a"), make_node("b"))
        for node in ("a", "b"):
            state.bind_pod(add_pod(state, pod_spec(1, 1), {"app": "x"}).uid, node)
        constraint = _spread(k8s.LABEL_HOSTNAME, "DoNotSchedule", min_domains=min_domains)
        pod = add_pod(state, pod_spec(1, 1, topology_spread_constraints=(constraint,)), {"app": "x"})
        scheduler = FrameworkScheduler(Profile.default(), random.Random(1))
        scheduler.attach(state)
        reference = FrameworkScheduler(Profile.default(), random.Random(1), fast_path=False)
        assert (reference.full_scan(pod, state) is not None) is expected
        assert (scheduler.decide(pod) is not None) is expected


def test_fast_path_agrees_on_a_larger_cluster_with_spreading() -> None:
    """600 pods of three ReplicaSets on 60 nodes: the default profile, spreading by zone and hostname."""
    state = make_state(*(make_node(f"n{i}", f"zone-{'abc'[i % 3]}", cpu=8000, memory=16000) for i in range(60)))
    owners = [add_replicaset(state, f"rs{k}", {"app": f"rs{k}"}) for k in range(3)]
    scheduler = FrameworkScheduler(Profile.default(), random.Random(5))
    scheduler.attach(state)
    shapes = [pod_spec(100, 200), pod_spec(250, 100), pod_spec(500, 500)]
    for i in range(600):
        k = (i // 7) % 3
        pod = add_pod(state, shapes[k], {"app": f"rs{k}"}, owners[k])
        reference = FrameworkScheduler(Profile.default(), random.Random(), fast_path=False)
        reference.rng.setstate(scheduler.rng.getstate())
        expected = reference.full_scan(pod, state)
        if i % 50 == 0:
            _assert_same_totals(scheduler, reference, pod, state)
        assert scheduler.decide(pod) == expected, i
        assert (scheduler.fast.last_best, scheduler.fast.last_ties) == (reference.last_best, reference.last_ties)
        if expected is not None:
            state.bind_pod(pod.uid, expected)
    assert scheduler.fast_decisions == 600


@given(st.lists(st.booleans(), min_size=1, max_size=700), st.integers(0, 10**6))
def test_nth_set_bit(flags: list[bool], r: int) -> None:
    bits = sum(1 << i for i, flag in enumerate(flags) if flag)
    positions = [i for i, flag in enumerate(flags) if flag]
    if positions:
        assert nth_set_bit(bits, r % len(positions)) == positions[r % len(positions)]
