"""The LeastAllocated index decides exactly as the full scan, whether it or the per-shape indexes answer."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from podquake.model.objects import ContainerSpec, Node, PodSpec
from podquake.model.quantity import Resources
from podquake.model.scheduling.framework import FrameworkScheduler, Profile
from podquake.model.scheduling.leastalloc import TIGHT_MAX
from podquake.model.scheduling.plugins import ScoringStrategy
from podquake.model.selectors import Taint, Toleration

from .scheduling_builders import add_pod, make_node, make_state, pod_spec

DEDICATED = Taint("dedicated", "batch", "NoSchedule")


@given(
    allocatable=st.integers(1, 10**6),
    used=st.integers(0, 10**6),
    request=st.integers(0, 10**6),
)
def test_score_splits_into_node_and_pod_parts(allocatable: int, used: int, request: int) -> None:
    # (A - u - s) * 100 // A == q - D - [r < R], with (A - u) * 100 = qA + r and s * 100 = DA + R
    if used + request > allocatable:
        return  # the score is clamped at 0 there: such nodes are scored one by one
    q, r = divmod((allocatable - used) * 100, allocatable)
    d, big_r = divmod(request * 100, allocatable)
    assert (allocatable - used - request) * 100 // allocatable == q - d - (1 if r < big_r else 0)


def _spec(cpu: int | None, memory: int | None, eph: int, tolerate: bool) -> PodSpec:
    container = ContainerSpec(
        "app",
        requests=Resources(cpu or 0, memory or 0, 0, eph),
        cpu_requested=cpu is not None,
        memory_requested=memory is not None,
    )
    tolerations = (Toleration("dedicated", "Equal", "batch", "NoSchedule"),) if tolerate else ()
    return PodSpec(containers=(container,), tolerations=tolerations)


MI = 2**20
SPECS = [
    _spec(cpu, memory, eph, tolerate)
    for cpu, memory, eph, tolerate in [
        (100, 64, 0, False),
        (250, 300 * MI, 0, False),
        (700, 130 * MI, 0, True),
        (None, None, 0, False),  # best effort: the non-zero defaults (100m, 200Mi) score it
        (None, 500 * MI, 0, False),
        (90, None, 0, False),
        (300, 300, 50, False),
        (0, 0, 0, True),
    ]
]

node_st = st.fixed_dictionaries(
    {
        "cpu": st.sampled_from([0, 1000, 2000, 3000, 32000]),
        "memory": st.sampled_from([1500, 600 * MI, 2048 * MI, 3000 * MI]),  # tiny ones are always tight
        "pods": st.sampled_from([1, 3, 110]),
        "eph": st.sampled_from([0, 100, 1000]),
        "tainted": st.booleans(),
    }
)
op_st = st.one_of(
    st.tuples(st.just("pod"), st.integers(0, len(SPECS) - 1)),
    st.tuples(st.just("delete"), st.integers(0, 10**6)),
    st.tuples(st.sampled_from(["taint", "cordon", "uncordon", "notready", "ready"]), st.integers(0, 10**6)),
    st.tuples(st.just("add-node"), node_st),
    st.tuples(st.just("remove-node"), st.integers(0, 10**6)),
)


def _node(i: int, n: dict) -> Node:
    capacity = Resources(n["cpu"], n["memory"], n["pods"], n["eph"])
    node = make_node(f"n{i}", taints=(DEDICATED,) if n["tainted"] else ())
    return Node(node.name, 0, node.labels, capacity, capacity, taints=node.taints)


PROFILES = {
    "least-allocated": Profile.least_allocated(),
    "weighted": Profile.least_allocated(
        weights=(("NodeResourcesFit", 3),), fit=ScoringStrategy(cpu_weight=2, memory_weight=2)
    ),
}


@pytest.mark.parametrize("tight_max", [-1, 10**6], ids=["per-shape-indexes", "least-allocated-index"])
@pytest.mark.parametrize("profile_name", list(PROFILES))
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],  # the same patch for all
)
@given(
    nodes=st.lists(node_st, min_size=1, max_size=8),
    ops=st.lists(op_st, min_size=1, max_size=50),
    seed=st.integers(0, 2**32),
)
def test_both_engines_equal_full_scan(
    monkeypatch: pytest.MonkeyPatch, tight_max: int, profile_name: str, nodes: list[dict], ops: list[tuple], seed: int
) -> None:
    monkeypatch.setattr("podquake.model.scheduling.fastpath.TIGHT_MAX", tight_max)
    profile = PROFILES[profile_name]
    state = make_state(*(_node(i, n) for i, n in enumerate(nodes)))
    scheduler = FrameworkScheduler(profile, random.Random(seed))
    scheduler.attach(state)
    assert scheduler.fast.engine is not None
    bound: list[str] = []
    added = 0
    for op in ops:
        names = list(state.nodes)
        if op[0] == "pod":
            pod = add_pod(state, SPECS[op[1]])
            reference = FrameworkScheduler(profile, random.Random(), fast_path=False)
            reference.rng.setstate(scheduler.rng.getstate())
            expected = reference.full_scan(pod, state)
            assert scheduler.decide(pod) == expected
            assert scheduler.rng.getstate() == reference.rng.getstate()
            assert (scheduler.fast.last_best, scheduler.fast.last_ties) == (reference.last_best, reference.last_ties)
            if expected is not None:
                state.bind_pod(pod.uid, expected)
                bound.append(pod.uid)
        elif op[0] == "delete" and bound:
            state.delete_pod(bound.pop(op[1] % len(bound)), "test")
        elif op[0] == "add-node":
            added += 1
            state.add_node(_node(len(nodes) + added, op[1]))
        elif op[0] == "remove-node" and len(names) > 1:
            name = names[op[1] % len(names)]
            bound = [uid for uid in bound if state.pods[uid].node_name != name]
            state.remove_node(name)
        elif op[0] in ("taint", "cordon", "uncordon", "notready", "ready"):
            name = names[op[1] % len(names)]
            if op[0] == "taint":
                state.add_taint(name, DEDICATED)
            elif op[0] in ("cordon", "uncordon"):
                state.set_unschedulable(name, op[0] == "cordon")
            else:
                state.set_node_ready(name, "True" if op[0] == "ready" else "False", "test")
    assert scheduler.fast_decisions == sum(1 for op in ops if op[0] == "pod")


def test_a_larger_cluster_fills_up_exactly() -> None:
    """80 nodes of two sizes filled to the brim: open nodes turn tight, and the engines hand over."""
    gi, mi = 2**30, 2**20
    state = make_state(
        *(make_node(f"n{i}", cpu=4000 if i % 3 else 2500, memory=(8 if i % 2 else 5) * gi, pods=20) for i in range(80))
    )
    scheduler = FrameworkScheduler(Profile.least_allocated(), random.Random(7))
    scheduler.attach(state)
    shapes = [pod_spec(100, 200 * mi), pod_spec(250, 100 * mi), pod_spec(), pod_spec(500, 700 * mi)]
    engine = scheduler.fast.engine
    used_engine = used_indexes = 0
    for i in range(4000):
        pod = add_pod(state, shapes[(i // 5) % len(shapes)])
        reference = FrameworkScheduler(Profile.least_allocated(), random.Random(), fast_path=False)
        reference.rng.setstate(scheduler.rng.getstate())
        expected = reference.full_scan(pod, state)
        assert scheduler.decide(pod) == expected, i
        if engine.tight_count <= TIGHT_MAX:  # as caught up by this decision
            used_engine += 1
        else:
            used_indexes += 1
        if expected is None:
            break
        state.bind_pod(pod.uid, expected)
    assert used_engine > 200 and used_indexes > 200, (used_engine, used_indexes)  # both answered a good share


def test_forgetting_old_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("podquake.model.scheduling.fastpath._MAX_LOG", 5)
    state = make_state(*(make_node(f"n{i}", cpu=4000, memory=8 * 2**30) for i in range(6)))
    scheduler = FrameworkScheduler(Profile.least_allocated(), random.Random(3))
    scheduler.attach(state)
    shapes = [pod_spec(300, 700 * 2**20), pod_spec(900, 100 * 2**20)]
    for i in range(40):
        pod = add_pod(state, shapes[(i // 3) % 2])
        reference = FrameworkScheduler(Profile.least_allocated(), random.Random(), fast_path=False)
        reference.rng.setstate(scheduler.rng.getstate())
        expected = reference.full_scan(pod, state)
        assert scheduler.decide(pod) == expected
        if expected is not None:
            state.bind_pod(pod.uid, expected)
    fast = scheduler.fast
    assert fast.log_base > 0 and len(fast.log) <= 5 and fast.engine_decisions == 40
