"""The compiled parts' loading and switch, and their tie draw: ``random.Random.randrange``'s, to the bit.

The C cores (``_cores.h``, ``draw_below``) replay ``randrange(n)`` as ``getrandbits(n.bit_length())``
until below ``n``, for generators of exactly :class:`random.Random`; a subclass is drawn by Python.
So a scheduler given a ``random.Random`` and one given a plain subclass with the same seed must place
every pod alike and leave their generators in the same state: that compares the C draw with
Python's own on real decisions, ties of every size included.
"""

from __future__ import annotations

import random
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st
from podquake.model import ClusterSpec, Simulation, load_manifests
from podquake.model.scheduling import compiled, leastalloc, shapeindex
from podquake.model.scheduling.framework import FrameworkScheduler, Profile

from .scheduling_builders import add_pod, make_node, make_state, pod_spec

cores = [m for m in (leastalloc.compiled_core(), shapeindex.compiled_core()) if m is not None]
needs_c = pytest.mark.skipif(len(cores) < 2, reason="the C extensions are not built")


class PythonDraws(random.Random):
    """Not exactly random.Random: the compiled cores leave its draws to Python's randrange."""


@given(seed=st.integers(0, 2**64), n=st.one_of(st.integers(1, 300), st.integers(1, 2**31 - 1)))
def test_the_replayed_draw_is_randrange(seed: int, n: int) -> None:
    python, ours = random.Random(seed), random.Random(seed)
    assert compiled.draw_like_randrange(ours, n) == python.randrange(n)
    assert ours.getstate() == python.getstate()


def test_this_interpreter_draws_as_the_cores_replay() -> None:
    assert compiled.randrange_is_getrandbits()


def test_a_different_draw_is_noticed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Were randrange to change (a future CPython), the check says so and the cores would not replay it."""
    monkeypatch.setattr(random.Random, "randrange", lambda self, n: self.getrandbits((n - 1).bit_length()) % n)
    assert not compiled.randrange_is_getrandbits()


def _placements(profile: Profile, rng: random.Random, nodes: int = 150, pods: int = 600) -> list[str | None]:
    """Pods of four shapes onto equal nodes over three zones: most decisions are ties of many nodes."""
    state = make_state(*(make_node(f"n{i}", zone=f"z{i % 3}", cpu=8000, memory=16 * 2**30) for i in range(nodes)))
    scheduler = FrameworkScheduler(profile, rng, engine="c")
    scheduler.attach(state)
    shapes = [pod_spec(100, 2**28), pod_spec(250, 2**27), pod_spec(None, None), pod_spec(1000, 2**30)]
    answers = []
    for n in range(pods):
        pod = add_pod(state, shapes[n % len(shapes)], labels={"app": f"a{n % 5}"})
        answer = scheduler.decide(pod)
        answers.append(answer)
        if answer is not None:
            state.bind_pod(pod.uid, answer)
    assert scheduler.fast_decisions == pods
    return answers


@needs_c
@pytest.mark.parametrize("profile", [Profile.least_allocated(), Profile.default()], ids=["least-allocated", "default"])
@pytest.mark.parametrize("seed", [0, 1, 2024])
def test_c_draws_place_pods_as_python_draws(profile: Profile, seed: int) -> None:
    in_c, in_python = random.Random(seed), PythonDraws(seed)
    placed = _placements(profile, in_c)
    assert placed == _placements(profile, in_python)
    assert in_c.getstate() == in_python.getstate()
    assert len(set(placed)) > 50  # the draws spread the pods: ties were drawn, not one node picked


@needs_c
def test_nothing_registered_means_python_draws() -> None:
    """``set_random(None)`` (what an interpreter with another randrange gets) changes no placement."""
    profile = Profile.least_allocated()
    want = _placements(profile, random.Random(5))
    try:
        for module in cores:
            module.set_random(None)
        assert _placements(profile, random.Random(5)) == want
    finally:
        for module in cores:
            assert compiled.load(module.__name__.rpartition(".")[2]) is module  # registers the draw again


@needs_c
def test_draw_errors() -> None:
    from .test_shapeindex_c import _core

    index = _core(70)
    with pytest.raises(IndexError, match="decide"):
        index.draw(random.Random(0))  # no decision yet
    assert index.best()[1] == 70  # seventy equal nodes tie

    class Liar(random.Random):
        def randrange(self, *_args: object, **_kwargs: object) -> int:  # type: ignore[override]
            return 70

    with pytest.raises(ValueError, match=r"randrange\(70\) answered 70"):
        index.draw(Liar(0))
    broken = random.Random(0)
    broken.getrandbits = lambda k: 1 / 0  # type: ignore[method-assign]
    with pytest.raises(ZeroDivisionError):
        index.draw(broken)
    assert 0 <= index.draw(random.Random(0)) < 70
    for module in cores:
        with pytest.raises(TypeError, match="random.Random or None"):
            module.set_random(3)


def test_load_and_engine_names(monkeypatch: pytest.MonkeyPatch) -> None:
    assert compiled.load("_no_such_extension") is None
    assert compiled.engine(None) == "python"
    built = ModuleType("built")
    monkeypatch.setattr(compiled, "PURE_PYTHON", False)
    assert compiled.engine(built) == "c"
    monkeypatch.setattr(compiled, "PURE_PYTHON", True)
    assert compiled.engine(built) == "python"


SOCK_SHOP = Path(__file__).resolve().parents[4] / "shared" / "manifests" / "sock-shop.yaml"


def _sock_shop_trace(seed: int) -> str:
    """Sock Shop on six nodes with the default scheduler; a node fails, so its pods are placed again."""
    sim = Simulation(ClusterSpec.uniform(nodes=6, zones=3), seed=seed)
    sim.apply(load_manifests(SOCK_SHOP))
    sim.run(120)
    victim = sim.state.pods_by_key[sorted(sim.state.pods_by_key)[0]].node_name
    sim.kubelets[victim].power_off()
    sim.run(700)
    return sim.trace.to_jsonl()


@needs_c
@pytest.mark.skipif(not SOCK_SHOP.is_file(), reason="the shared sample manifests are missing")
def test_a_whole_simulation_is_byte_identical_with_python_draws() -> None:
    """The simulation's own generator is a random.Random, so its ties are drawn in C; unregistered,
    Python draws them: the trace must not change by a byte."""
    with_c = _sock_shop_trace(3)
    try:
        for module in cores:
            module.set_random(None)
        assert _sock_shop_trace(3) == with_c
    finally:
        for module in cores:
            assert compiled.load(module.__name__.rpartition(".")[2]) is module
    assert with_c.count('"type":"PodBound"') > 14  # the workload placed, and placed again after the failure
