"""The compiled LeastAllocated core (``_leastalloc.c``) decides exactly as the Python engine, its reference.

Two fast paths follow one cluster, one per engine, and every decision is compared: the node, the
generator's state afterwards, the best score and tie count, the whole tie set and hint
(``engine.best``), and the tight nodes. The sequences mix node sizes (including nodes with no cpu
or memory), node counts around the 64-bit word boundaries, pod shapes (zero requests, best-effort
pods, tolerations), scheduled and forced binds (over-committed, tight nodes), deletions, taints,
cordons, readiness and node set changes. Skipped when the extension is not built.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from podquake.model.objects import ContainerSpec, Node, PodSpec
from podquake.model.quantity import Resources
from podquake.model.scheduling import fastpath, leastalloc
from podquake.model.scheduling.fastpath import FastPath
from podquake.model.scheduling.framework import FrameworkScheduler, Profile
from podquake.model.scheduling.leastalloc import CompiledLeastAllocatedIndex, LeastAllocatedIndex
from podquake.model.scheduling.plugins import ScoringStrategy
from podquake.model.selectors import Taint, Toleration
from podquake.model.store import ClusterState

from .scheduling_builders import add_pod, make_node, make_state, pod_spec

core_module = leastalloc.compiled_core()
pytestmark = pytest.mark.skipif(
    core_module is None,
    reason="the C extension podquake.model.scheduling._leastalloc is not built (a C compiler at install time builds it)",
)

MI = 2**20
GI = 2**30
DEDICATED = Taint("dedicated", "batch", "NoSchedule")


def _spec(cpu: int | None, memory: int | None, eph: int = 0, tolerate: bool = False) -> PodSpec:
    container = ContainerSpec(
        "app",
        requests=Resources(cpu or 0, memory or 0, 0, eph),
        cpu_requested=cpu is not None,
        memory_requested=memory is not None,
    )
    tolerations = (Toleration("dedicated", "Equal", "batch", "NoSchedule"),) if tolerate else ()
    return PodSpec(containers=(container,), tolerations=tolerations)


SPECS = [
    _spec(100, 64 * MI),
    _spec(250, 300 * MI),
    _spec(700, 130 * MI, tolerate=True),
    _spec(None, None),  # best effort: the non-zero defaults (100m, 200Mi) score it
    _spec(None, 500 * MI),
    _spec(90, None),
    _spec(300, 300, eph=50),
    _spec(0, 0, tolerate=True),  # zero requests
    _spec(1000, 2 * GI),
    _spec(33, 7 * MI),  # odd numbers: many distinct remainders
    _spec(3, 5),  # tiny odd requests: on the odd-sized nodes below their remainders meet the thresholds
    _spec(7, 11, eph=40),
]

KINDS = [  # (cpu millis, memory bytes, pod slots, ephemeral bytes)
    (4000, 8 * GI, 110, 0),
    (2000, 3000 * MI, 110, 1000),
    (32000, 128 * GI, 110, 0),
    (1000, 600 * MI, 3, 0),
    (3000, 2 * GI, 1, 100),
    (0, 2 * GI, 110, 0),  # no cpu allocatable: scored one by one
    (1500, 1500, 110, 0),  # tiny memory: always tight
    (101, 10007, 110, 0),  # prime allocatables: remainders take every value, some exactly at a threshold
    (997, 4099, 110, 0),
    (2000, 2 * GI, 110, 120),  # ephemeral storage runs out after two pods asking for it
]

PROFILES = {
    "least-allocated": Profile.least_allocated(),
    "weighted": Profile.least_allocated(
        weights=(("NodeResourcesFit", 3),), fit=ScoringStrategy(cpu_weight=2, memory_weight=2)
    ),
}


def _node(name: str, kind: tuple[int, int, int, int], tainted: bool) -> Node:
    cpu, memory, slots, eph = kind
    capacity = Resources(cpu, memory, slots, eph)
    base = make_node(name, taints=(DEDICATED,) if tainted else ())
    return Node(name, 0, base.labels, capacity, capacity, taints=base.taints)


class Pair:
    """Two fast paths on one cluster, engine "c" and engine "python", decided side by side."""

    def __init__(self, state: ClusterState, profile: Profile) -> None:
        self.state = state
        self.c = FastPath(profile, state, engine="c")
        self.py = FastPath(profile, state, engine="python")
        assert isinstance(self.c.engine, CompiledLeastAllocatedIndex)
        assert isinstance(self.py.engine, LeastAllocatedIndex)
        self.rng = random.Random(0)
        self.decisions = 0

    def decide(self, spec: PodSpec) -> str | None:
        pod = add_pod(self.state, spec)
        rng_c, rng_py = random.Random(), random.Random()
        rng_c.setstate(self.rng.getstate())
        rng_py.setstate(self.rng.getstate())
        got = self.c.schedule(pod, rng_c)
        want = self.py.schedule(pod, rng_py)
        assert got == want
        assert rng_c.getstate() == rng_py.getstate()  # the same draws
        assert (self.c.last_best, self.c.last_ties) == (self.py.last_best, self.py.last_ties)
        self.compare_index(spec)
        self.rng = rng_py
        self.decisions += 1
        if got is not None:
            self.state.bind_pod(pod.uid, got)
        return got  # type: ignore[no-any-return]

    def compare_index(self, spec: PodSpec) -> None:
        """The whole decision, not only the node drawn: best, every tied node, the hint, the tight nodes."""
        c, py = self.c.engine, self.py.engine
        if not isinstance(c, CompiledLeastAllocatedIndex):
            return  # handed over to the Python engine (integers too large for C)
        assert c.tight_count == py.tight_count
        assert c.tight == py.tight
        assert c.best(c.shape(spec)) == py.best(py.shape(spec))


node_kinds_st = st.lists(st.sampled_from(range(len(KINDS))), min_size=1, max_size=4)
op_st = st.one_of(
    st.tuples(st.just("pod"), st.integers(0, len(SPECS) - 1)),
    st.tuples(st.just("pods"), st.integers(0, len(SPECS) - 1), st.integers(2, 30)),
    st.tuples(st.just("force"), st.integers(0, len(SPECS) - 1), st.integers(0, 10**6)),  # bind ignoring fit
    st.tuples(st.just("delete"), st.integers(0, 10**6)),
    st.tuples(st.sampled_from(["taint", "untaint", "cordon", "uncordon", "notready", "ready"]), st.integers(0, 10**6)),
    st.tuples(st.just("add-node"), st.integers(0, len(KINDS) - 1)),
    st.tuples(st.just("remove-node"), st.integers(0, 10**6)),
)


def _run(profile_name: str, count: int, kinds: list[int], tainted_every: int, ops: list[tuple]) -> Pair:
    state = make_state(
        *(
            _node(f"n{i}", KINDS[kinds[i % len(kinds)]], tainted_every > 0 and i % tainted_every == 0)
            for i in range(count)
        )
    )
    pair = Pair(state, PROFILES[profile_name])
    bound: list[str] = []
    serial = count
    for op in ops:
        names = list(state.nodes)
        kind = op[0]
        if kind in ("pod", "pods"):
            for _ in range(op[2] if kind == "pods" else 1):
                before = set(state.pods)
                if pair.decide(SPECS[op[1]]) is not None:
                    bound.extend(uid for uid in state.pods if uid not in before)
        elif kind == "force":
            pod = add_pod(state, SPECS[op[1]])
            state.bind_pod(pod.uid, names[op[2] % len(names)])
            bound.append(pod.uid)
        elif kind == "delete" and bound:
            state.delete_pod(bound.pop(op[1] % len(bound)), "test")
        elif kind == "add-node":
            serial += 1
            state.add_node(_node(f"n{serial}", KINDS[op[1]], False))
        elif kind == "remove-node" and len(names) > 1:
            name = names[op[1] % len(names)]
            bound = [uid for uid in bound if state.pods[uid].node_name != name]
            state.remove_node(name)
        elif kind in ("taint", "untaint", "cordon", "uncordon", "notready", "ready"):
            name = names[op[1] % len(names)]
            if kind == "taint":
                if DEDICATED not in state.nodes[name].taints:
                    state.add_taint(name, DEDICATED)
            elif kind == "untaint":
                if DEDICATED in state.nodes[name].taints:
                    state.remove_taint(name, DEDICATED.key, DEDICATED.effect)
            elif kind in ("cordon", "uncordon"):
                state.set_unschedulable(name, kind == "cordon")
            else:
                state.set_node_ready(name, "True" if kind == "ready" else "False", "test")
    pair.decide(SPECS[0])  # at least one decision per example
    return pair


@pytest.mark.parametrize("tight_max", [24, 10**6], ids=["default-tight-max", "engine-always"])
@pytest.mark.parametrize("profile_name", list(PROFILES))
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],  # the same patch for all
)
@given(
    count=st.sampled_from([1, 2, 5, 63, 64, 65, 127, 128, 129, 200]),
    kinds=node_kinds_st,
    tainted_every=st.sampled_from([0, 3, 7]),
    ops=st.lists(op_st, min_size=1, max_size=40),
)
def test_compiled_core_decides_as_the_python_engine(
    monkeypatch: pytest.MonkeyPatch,
    tight_max: int,
    profile_name: str,
    count: int,
    kinds: list[int],
    tainted_every: int,
    ops: list[tuple],
) -> None:
    monkeypatch.setattr(fastpath, "TIGHT_MAX", tight_max)
    _run(profile_name, count, kinds, tainted_every, ops)


@pytest.mark.parametrize("count", [63, 64, 65, 127, 128, 129, 256, 300])
def test_word_boundaries_and_many_ties(count: int) -> None:
    """Identical nodes tie in large numbers; fill them until they turn tight and full."""
    state = make_state(*(make_node(f"n{i}", cpu=2000, memory=4 * GI, pods=12) for i in range(count)))
    pair = Pair(state, Profile.least_allocated())
    shapes = [pod_spec(100, 200 * MI), pod_spec(250, 100 * MI), pod_spec(), pod_spec(0, 0)]
    ties_seen, tight_seen, unschedulable = [], [], 0
    for i in range(count * 12 + 5):
        got = pair.decide(shapes[(i // 7) % len(shapes)])
        ties_seen.append(pair.py.last_ties or 0)
        tight_seen.append(pair.py.engine.tight_count)
        unschedulable += got is None
    assert max(ties_seen) >= count // 2  # many nodes tied at some point
    assert max(tight_seen) == count  # in the end every node is tight
    assert unschedulable > 0
    assert all(len(node.pods) == 12 for node in state.node_list)  # every pod slot taken


def test_a_node_set_with_every_kind() -> None:
    state = make_state(*(_node(f"n{i}", KINDS[i % len(KINDS)], i % 5 == 0) for i in range(150)))
    pair = Pair(state, Profile.least_allocated())
    for i in range(1500):  # Pair.decide asserts that the engines agree on every decision
        if pair.decide(SPECS[(i * 7) % len(SPECS)]) is None and i % 50 == 0:
            state.delete_pod(next(iter(state.nodes["n1"].pods)), "test") if state.nodes["n1"].pods else None
    assert pair.decisions == 1500 and isinstance(pair.c.engine, CompiledLeastAllocatedIndex)


def test_integers_too_large_for_c_hand_over_to_python() -> None:
    """A node with 2**60 bytes of memory: the core raises OverflowError and the Python engine takes over."""
    state = make_state(*(make_node(f"n{i}", cpu=4000, memory=8 * GI) for i in range(10)))
    pair = Pair(state, Profile.least_allocated())
    for spec in SPECS[:3]:
        pair.decide(spec)
    assert isinstance(pair.c.engine, CompiledLeastAllocatedIndex)
    state.add_node(_node("huge", (4000, 2**60, 110, 0), False))
    for spec in SPECS:
        pair.decide(spec)
    assert isinstance(pair.c.engine, LeastAllocatedIndex)  # handed over for good
    assert pair.c.engine_decisions == pair.decisions


def test_framework_scheduler_uses_the_compiled_engine_by_default() -> None:
    if leastalloc.ENGINE != "c":
        pytest.skip("PODQUAKE_PURE_PYTHON is set: the default engine is the Python one")
    state = make_state(*(make_node(f"n{i}") for i in range(3)))
    scheduler = FrameworkScheduler(Profile.least_allocated(), random.Random(1))
    scheduler.attach(state)
    assert isinstance(scheduler.fast.engine, CompiledLeastAllocatedIndex)
    assert scheduler.decide(add_pod(state, pod_spec(100, 100))) is not None


@pytest.mark.parametrize(("value", "engine"), [("1", "python"), ("0", "c"), ("", "c")])
def test_pure_python_switch(value: str, engine: str) -> None:
    env = dict(os.environ, PODQUAKE_PURE_PYTHON=value)
    code = "from podquake.model.scheduling import leastalloc; print(leastalloc.ENGINE)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == engine


def test_engine_names() -> None:
    assert leastalloc.engine_class("python") is LeastAllocatedIndex
    assert leastalloc.engine_class("c") is CompiledLeastAllocatedIndex
    with pytest.raises(ValueError, match="unknown engine"):
        leastalloc.engine_class("fortran")


# --- the core's own argument checks: bad input raises, never crashes -----------------------------------
STATE = (0, 4000, 8 * GI, 4000, 8 * GI, 1 << 62, 4000, 8 * GI)


def _core(n: int = 70) -> object:
    assert core_module is not None
    core = core_module.Core()
    sizes = [(4000, 8 * GI, [0, 2000], [0, 5 * MI])]
    shapes = [(100, 64 * MI, 0, 100, 64 * MI, [(2, 1, 1)])]
    core.reset(n, (100, 64 * MI, 0, 100, 64 * MI), sizes, shapes, 0)
    core.place_all([STATE] * n)
    return core


def test_core_rejects_bad_arguments() -> None:
    assert core_module is not None
    core = core_module.Core()
    with pytest.raises(TypeError):
        core_module.Core(1)
    with pytest.raises(core_module.Stale):  # never reset
        core.decide(0, [], 0, [], 24, 0, 0)
    with pytest.raises(RuntimeError):
        core.place(0, STATE)
    with pytest.raises(TypeError):
        core.reset(1, (0, 0, 0, 0, 0), [], [])
    with pytest.raises(ValueError):
        core.reset(-1, (0, 0, 0, 0, 0), [], [], 0)
    with pytest.raises(ValueError):
        core.reset(3, (0, 0, 0, 0), [], [], 0)
    with pytest.raises(ValueError, match="sorted"):
        core.reset(3, (0,) * 5, [(100, 100, [5, 3], [])], [], 0)
    with pytest.raises(ValueError, match="sorted"):
        core.reset(3, (0,) * 5, [(100, 100, [100], [])], [], 0)  # a remainder is below the allocatable
    with pytest.raises(ValueError, match="positive"):
        core.reset(3, (0,) * 5, [(0, 100, [], [])], [], 0)
    with pytest.raises(ValueError, match="duplicate"):
        core.reset(3, (0,) * 5, [(10, 100, [], []), (10, 100, [], [])], [], 0)
    with pytest.raises(ValueError, match="out of range"):
        core.reset(3, (0,) * 5, [(10, 100, [], [])], [(0, 0, 0, 0, 0, [(0, 1, 0)])], 0)
    with pytest.raises(ValueError, match="params"):
        core.reset(3, (0,) * 5, [(10, 100, [], [])], [(0, 0, 0, 0, 0, [])], 0)
    with pytest.raises(TypeError):
        core.reset(3, (0,) * 5, [(10, 100, [], [])], [(0, 0, 0, 0, 0, [(0.5, 0, 0)])], 0)
    with pytest.raises(OverflowError):
        core.reset(3, (0,) * 5, [(10, 2**60, [], [])], [], 0)
    with pytest.raises(OverflowError):
        core.reset(3, (2**64, 0, 0, 0, 0), [], [], 0)

    core = _core(70)
    with pytest.raises(IndexError):
        core.place(70, STATE)
    with pytest.raises(IndexError):
        core.place(-1, STATE)
    with pytest.raises(TypeError):
        core.place(0, STATE[:7])
    with pytest.raises(TypeError):
        core.place(0, list(STATE))
    with pytest.raises(TypeError):
        core.place(0, (0, "4000", 8, 0, 0, 0, 0, 0))
    with pytest.raises(OverflowError):
        core.place(0, (0, 4000, 2**62, 0, 0, 0, 0, 0))
    with pytest.raises(ValueError):
        core.place_all([STATE] * 69)
    with pytest.raises(IndexError):
        core.set_allowed(1, b"\0" * core.n_bytes, 0)
    with pytest.raises(ValueError):
        core.set_allowed(0, b"\0" * (core.n_bytes - 8), 0)
    with pytest.raises(TypeError):
        core.set_allowed(0, "x" * core.n_bytes, 0)
    with pytest.raises(core_module.Stale):  # allowed nodes not set yet
        core.decide(0, [], 0, [STATE] * 70, 24, 0, 0)
    core.set_allowed(0, b"\xff" * core.n_bytes, 0)  # bits beyond node 69 are ignored
    with pytest.raises(core_module.Stale):  # another class version
        core.decide(0, [], 0, [STATE] * 70, 24, 0, 1)
    with pytest.raises(core_module.Stale):  # another epoch
        core.decide(0, [], 0, [STATE] * 70, 24, 1, 0)
    with pytest.raises(IndexError):
        core.decide(1, [], 0, [STATE] * 70, 24, 0, 0)
    core.cursor = 0
    with pytest.raises(IndexError):  # a logged node beyond the states
        core.decide(0, [80], 0, [STATE] * 70, 24, 0, 0)
    core.cursor = 0
    with pytest.raises(TypeError):
        core.decide(0, ["x"], 0, [STATE] * 70, 24, 0, 0)
    core.cursor = 0
    with pytest.raises(TypeError):
        core.decide(0, (), 0, [STATE] * 70, 24, 0, 0)
    core.cursor = 5
    with pytest.raises(core_module.Stale):  # the log was truncated past the cursor
        core.decide(0, [], 10, [STATE] * 70, 24, 0, 0)
    core.cursor = 0
    assert core.decide(0, [], 0, [STATE] * 70, 24, 0, 0) == -70  # 70 identical nodes tie
    assert core.last_count == 70 and core.last_hint == 2
    assert [core.pick(r) for r in (0, 63, 64, 69)] == [0, 63, 64, 69]
    for r in (-1, 70, 2**70):
        with pytest.raises((IndexError, OverflowError)):
            core.pick(r)
    with pytest.raises(TypeError):
        core.pick(1.0)
    assert int.from_bytes(core.ties(), "little") == (1 << 70) - 1
    core.invalidate()
    with pytest.raises(core_module.Stale):
        core.decide(0, [], 0, [STATE] * 70, 24, 0, 0)


def test_core_holds_no_references() -> None:
    assert core_module is not None
    states = [STATE] * 70
    log: list[int] = []
    before = sys.getrefcount(states), sys.getrefcount(log), sys.getrefcount(STATE)
    core = _core(70)
    core.set_allowed(0, b"\xff" * core.n_bytes, 0)
    for _ in range(100):
        core.cursor = 0
        core.decide(0, log, 0, states, 24, 0, 0)
    assert (sys.getrefcount(states), sys.getrefcount(log), sys.getrefcount(STATE)) == before
    del core  # dealloc frees the tables


def test_bits_beyond_the_last_node_are_ignored() -> None:
    core = _core(1)
    core.set_allowed(0, b"\xff" * core.n_bytes, 0)
    core.cursor = 0
    assert core.decide(0, [], 0, [STATE], 24, 0, 0) == 0
    assert core.last_hint == 1  # the lone feasible node: no phantom node 1 beside it


def test_ephemeral_storage_on_tight_nodes() -> None:
    """A node whose ephemeral storage ran out is tight and infeasible for pods asking for some, however idle."""
    state = make_state(_node("idle", (4000, 8 * GI, 110, 120), False), _node("busy", (4000, 8 * GI, 110, 0), False))
    pair = Pair(state, Profile.least_allocated())
    storage, heavy = _spec(10, 10 * MI, eph=40), _spec(3000, 6 * GI)
    for spec, node in [(storage, "idle"), (storage, "idle"), (storage, "idle"), (heavy, "busy")]:
        state.bind_pod(add_pod(state, spec).uid, node)
    assert pair.decide(storage) == "busy"  # the idle node has no storage left
    assert pair.decide(_spec(10, 10 * MI)) == "idle"
    assert pair.c.engine.tight_count == pair.py.engine.tight_count == 1


def test_remainders_at_the_thresholds() -> None:
    """Nodes of 101m cpu and 10007 bytes: every remainder occurs, so some sit exactly at a shape's threshold."""
    state = make_state(*(_node(f"n{i}", (101, 10007, 400, 0), False) for i in range(40)))
    pair = Pair(state, Profile.least_allocated())
    tiny = [_spec(c, m) for c, m in [(1, 1), (2, 3), (3, 5), (5, 7), (7, 11), (1, 97), (4, 250)]]
    rng = random.Random(5)
    for step in range(1500):
        if step % 3 == 0:  # forced binds of odd sizes spread the nodes over every remainder
            pod = add_pod(state, tiny[rng.randrange(len(tiny))])
            state.bind_pod(pod.uid, f"n{rng.randrange(40)}")
        pair.decide(tiny[step % len(tiny)])  # asserts that the engines agree
    assert pair.decisions == 1500 and isinstance(pair.c.engine, CompiledLeastAllocatedIndex)


def test_many_cores_and_resets() -> None:
    for n in (0, 1, 64, 65, 1000):
        core = _core(n)
        core.set_allowed(0, b"\xff" * core.n_bytes, 0)
        core.cursor = 0
        assert core.decide(0, [], 0, [STATE] * n, 24, 0, 0) == (-1 if n == 0 else 0 if n == 1 else -n)
        for _ in range(3):
            core.reset(n, (0,) * 5, [], [], 0)
