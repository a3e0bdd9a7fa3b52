"""The simple built-ins: each picks the node its docstring promises, among legal nodes only."""

from __future__ import annotations

import random

from podquake.model.scheduling.builtins import BinPacking, FirstFit, RandomFit, RoundRobin
from podquake.model.views import ClusterView, PodView

from .scheduling_builders import add_pod, make_node, make_state, pod_spec


def _cluster():  # type: ignore[no-untyped-def]
    state = make_state(make_node("a", cpu=1000), make_node("b"), make_node("c"), make_node("d"))
    state.set_unschedulable("c", True)
    return state, ClusterView(state)


def test_first_fit_skips_illegal_nodes() -> None:
    state, view = _cluster()
    assert FirstFit().schedule(PodView(add_pod(state, pod_spec(500, 100))), view) == "a"
    assert FirstFit().schedule(PodView(add_pod(state, pod_spec(2000, 100))), view) == "b"  # a is too small
    assert FirstFit().schedule(PodView(add_pod(state, pod_spec(9000, 100))), view) is None


def test_round_robin_cycles_over_legal_nodes() -> None:
    state, view = _cluster()
    scheduler = RoundRobin()
    picks = [scheduler.schedule(PodView(add_pod(state, pod_spec(100, 100))), view) for _ in range(5)]
    assert picks == ["a", "b", "d", "a", "b"]  # c is cordoned


def test_random_fit_is_seeded_and_legal() -> None:
    state, view = _cluster()
    pod = PodView(add_pod(state, pod_spec(2000, 100)))
    first = [RandomFit(random.Random(9)).schedule(pod, view) for _ in range(3)]
    assert len(set(first)) == 1  # same seed, same answer
    assert {RandomFit(random.Random(s)).schedule(pod, view) for s in range(30)} == {"b", "d"}


def test_bin_packing_prefers_the_fullest_node() -> None:
    state, view = _cluster()
    state.bind_pod(add_pod(state, pod_spec(1500, 100)).uid, "d")
    assert BinPacking().schedule(PodView(add_pod(state, pod_spec(100, 100))), view) == "d"
    assert BinPacking().schedule(PodView(add_pod(state, pod_spec(3000, 100))), view) == "b"  # d has no room left
