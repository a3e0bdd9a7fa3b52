"""The compiled per-shape index (``_shapeindex.c``) decides exactly as the Python ScoreIndex, its reference.

Two fast paths follow one cluster, one per engine, and every decision is compared: the node, the
generator's state afterwards, the best total and tie count, the whole index (every node's score,
every bucket, the feasible nodes) and, on some steps, ``explain()``'s totals. The sequences mix
profiles (the default one with its normalized plugins and spreading, one without spreading,
weighted ones, MostAllocated-only and BalancedAllocation-only, which take the plain path), node
sizes (nodes with no cpu or no memory, prime allocatables, few pod slots, ephemeral storage), node
counts around the 64-bit word boundaries, pod shapes (best effort, zero requests, tolerations,
preferred affinity), scheduled and forced binds (over-committed nodes), deletions, taints,
cordons, readiness and node set changes. The index is also compared directly with the Python one
on generated inputs: local scores (decimal quantities, where float rounding decides the integer
score, and integers at the edges of exact arithmetic, where the compiled index must hand over),
bucket moves (the top bucket emptying) and ``best_total`` walks. Then bad arguments, references
(the decoded node states the indexes share) and memory. Skipped when the extension is not built.
"""

from __future__ import annotations

import gc
import os
import random
import subprocess
import sys
import tracemalloc
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from podquake.model import constants as k8s
from podquake.model.objects import ContainerSpec, Node, PodSpec
from podquake.model.quantity import Resources
from podquake.model.scheduling import shapeindex
from podquake.model.scheduling.fastpath import NOT_COVERED, FastPath
from podquake.model.scheduling.framework import FrameworkScheduler, Profile
from podquake.model.scheduling.plugins import ScoringStrategy
from podquake.model.scheduling.shapeindex import (
    CompiledScoreIndex,
    ScoreIndex,
    local_parameters,
    make_refresher,
)
from podquake.model.selectors import NodeAffinity, NodeSelectorTerm, Requirement, Taint, Toleration
from podquake.model.store import ClusterState

from .scheduling_builders import add_pod, add_replicaset, make_node, make_state, pod_spec

core_module = shapeindex.compiled_core()
pytestmark = pytest.mark.skipif(
    core_module is None,
    reason="the C extension podquake.model.scheduling._shapeindex is not built (a C compiler at install builds it)",
)

MI = 2**20
GI = 2**30
DEDICATED = Taint("dedicated", "batch", "NoSchedule")
SPOT = Taint("spot", "", "PreferNoSchedule")
TIER_A = NodeSelectorTerm((Requirement("tier", "In", ("a",)),))


def _spec(
    cpu: int | None,
    memory: int | None,
    eph: int = 0,
    tolerate: bool = False,
    spot: bool = False,
    prefer: bool = False,
) -> PodSpec:
    container = ContainerSpec(
        "app",
        requests=Resources(cpu or 0, memory or 0, 0, eph),
        cpu_requested=cpu is not None,
        memory_requested=memory is not None,
    )
    tolerations = ((Toleration("dedicated", "Equal", "batch", "NoSchedule"),) if tolerate else ()) + (
        (Toleration("spot", "Exists"),) if spot else ()
    )
    affinity = NodeAffinity(preferred=((5, TIER_A),)) if prefer else None
    return PodSpec(containers=(container,), tolerations=tolerations, node_affinity=affinity)


SPECS = [
    _spec(100, 64 * MI),
    _spec(250, 300 * MI),
    _spec(700, 130 * MI, tolerate=True),
    _spec(None, None),  # best effort: the non-zero defaults in Fit, BalancedAllocation skips
    _spec(None, 500 * MI),
    _spec(90, None),
    _spec(300, 300, eph=50),
    _spec(0, 0, tolerate=True),  # zero requests
    _spec(1000, 2 * GI, spot=True),
    _spec(33, 7 * MI, prefer=True),  # odd numbers: BalancedAllocation's fractions round every way
    _spec(3, 5),
    _spec(7, 11, eph=40, prefer=True),
    _spec(50, 10**8),  # decimal quantities (100M): BalancedAllocation's fractions land on exact decimals,
    _spec(350, 5 * 10**8, prefer=True),  # where float rounding decides the integer score
]

KINDS = [  # (cpu millis, memory bytes, pod slots, ephemeral bytes)
    (4000, 8 * GI, 110, 0),
    (2000, 3000 * MI, 110, 1000),
    (32000, 128 * GI, 110, 0),
    (1000, 600 * MI, 3, 0),
    (3000, 2 * GI, 1, 100),
    (0, 2 * GI, 110, 0),  # no cpu allocatable: the general formulas
    (2000, 0, 110, 0),  # no memory allocatable
    (1500, 1500, 110, 0),  # tiny memory
    (101, 10007, 110, 0),  # prime allocatables
    (997, 4099, 110, 0),
    (2000, 2 * GI, 110, 120),  # ephemeral storage runs out after two pods asking for it
    (1000, 10**10, 110, 0),  # decimal memory (10G)
    (4000, 4 * 10**9, 110, 0),
]

NO_SPREAD = {"spread_filter": False, "system_default_spreading": False}
PROFILES = {
    "default": Profile.default(),
    "default-no-spreading": Profile.default(
        weights=(
            ("TaintToleration", 3),
            ("NodeAffinity", 2),
            ("NodeResourcesFit", 1),
            ("NodeResourcesBalancedAllocation", 1),
        ),
        **NO_SPREAD,
    ),
    "weighted": Profile.default(
        weights=(("TaintToleration", 1), ("NodeResourcesFit", 3), ("NodeResourcesBalancedAllocation", 2)),
        fit=ScoringStrategy(cpu_weight=3, memory_weight=1),  # LeastAllocated, not inlined
        **NO_SPREAD,
    ),
    "most-allocated": Profile(
        weights=(("NodeResourcesFit", 2),),
        fit=ScoringStrategy("MostAllocated", cpu_weight=2, memory_weight=1),
        **NO_SPREAD,
    ),
    "balanced-only": Profile(weights=(("NodeResourcesBalancedAllocation", 1),), **NO_SPREAD),
}


def _node(name: str, kind: tuple[int, int, int, int], zone: str = "zone-a", tier: str | None = None) -> Node:
    cpu, memory, slots, eph = kind
    capacity = Resources(cpu, memory, slots, eph)
    base = make_node(name, zone, labels={"tier": tier} if tier else {})
    return Node(name, 0, base.labels, capacity, capacity, taints=base.taints)


class Pair:
    """Two fast paths on one cluster, engine "c" and engine "python", decided side by side."""

    def __init__(self, state: ClusterState, profile: Profile) -> None:
        self.state = state
        self.c = FastPath(profile, state, engine="c")
        self.py = FastPath(profile, state, engine="python")
        assert self.c.index_class is CompiledScoreIndex and self.py.index_class is ScoreIndex
        self.rng = random.Random(0)
        self.decisions = 0
        self.compared = 0

    def decide(self, pod: object, explain: bool = False) -> object:
        rng_c, rng_py = random.Random(), random.Random()
        rng_c.setstate(self.rng.getstate())
        rng_py.setstate(self.rng.getstate())
        got = self.c.schedule(pod, rng_c)  # type: ignore[arg-type]
        want = self.py.schedule(pod, rng_py)  # type: ignore[arg-type]
        assert got == want
        assert rng_c.getstate() == rng_py.getstate()  # the same draws
        assert (self.c.last_best, self.c.last_ties) == (self.py.last_best, self.py.last_ties)
        self.compare_index(pod.spec)  # type: ignore[attr-defined]
        if explain:
            assert self.c.explain(pod) == self.py.explain(pod)  # type: ignore[arg-type]
        self.rng = rng_py
        self.decisions += 1
        return got

    def compare_index(self, spec: PodSpec) -> None:
        """The whole index, not only the node drawn: every score, bucket and the feasible nodes."""
        c, py = self.c.index_by_spec.get(id(spec)), self.py.index_by_spec.get(id(spec))
        if c is None or py is None or c[1] is None or py[1] is None:
            assert (c is None or c[1] is None) == (py is None or py[1] is None)
            return
        if isinstance(c[1], CompiledScoreIndex):  # else handed over to Python (integers too large for C)
            assert c[1].snapshot() == py[1].snapshot()
            assert c[1].feasible == py[1].feasible and c[1].count == py[1].count
            self.compared += 1


op_st = st.one_of(
    st.tuples(st.just("pod"), st.integers(0, len(SPECS) - 1), st.sampled_from(["x", "y", None])),
    st.tuples(st.just("pods"), st.integers(0, len(SPECS) - 1), st.sampled_from(["x", "y"]), st.integers(2, 25)),
    st.tuples(st.just("force"), st.integers(0, len(SPECS) - 1), st.integers(0, 10**6)),  # bind ignoring fit
    st.tuples(st.just("delete"), st.integers(0, 10**6)),
    st.tuples(st.just("terminate"), st.integers(0, 10**6)),
    st.tuples(
        st.sampled_from(["taint", "spot", "untaint", "cordon", "uncordon", "notready", "ready"]), st.integers(0, 10**6)
    ),
    st.tuples(st.just("add-node"), st.integers(0, len(KINDS) - 1)),
    st.tuples(st.just("remove-node"), st.integers(0, 10**6)),
)


def _run(profile_name: str, count: int, kinds: list[int], ops: list[tuple]) -> Pair:
    state = make_state(
        *(
            _node(f"n{i}", KINDS[kinds[i % len(kinds)]], f"zone-{'abc'[i % 3]}", [None, "a", "b"][i % 5 % 3])
            for i in range(count)
        )
    )
    owners = {"x": add_replicaset(state, "x", {"app": "x"}), "y": add_replicaset(state, "y", {"app": "y"})}
    pair = Pair(state, PROFILES[profile_name])
    bound: list[str] = []
    serial = count

    def decide(spec_index: int, app: str | None) -> None:
        pod = add_pod(state, SPECS[spec_index], {"app": app} if app else {}, owners.get(app or ""))
        got = pair.decide(pod, explain=pair.decisions % 5 == 0)
        if got is not None and got is not NOT_COVERED:
            state.bind_pod(pod.uid, got)  # type: ignore[arg-type]
            bound.append(pod.uid)

    for op in ops:
        names = list(state.nodes)
        kind = op[0]
        if kind == "pod":
            decide(op[1], op[2])
        elif kind == "pods":
            for _ in range(op[3]):
                decide(op[1], op[2])
        elif kind == "force":
            pod = add_pod(state, SPECS[op[1]])
            state.bind_pod(pod.uid, names[op[2] % len(names)])
            bound.append(pod.uid)
        elif kind in ("delete", "terminate") and bound:
            uid = bound[op[1] % len(bound)]
            if kind == "delete":
                bound.remove(uid)
                state.delete_pod(uid, "test")
            else:
                state.request_pod_deletion(uid, "test")
        elif kind == "add-node":
            serial += 1
            state.add_node(_node(f"n{serial}", KINDS[op[1]], f"zone-{'abc'[serial % 3]}"))
        elif kind == "remove-node" and len(names) > 1:
            name = names[op[1] % len(names)]
            bound = [uid for uid in bound if state.pods[uid].node_name != name]
            state.remove_node(name)
        elif kind in ("taint", "spot", "untaint", "cordon", "uncordon", "notready", "ready"):
            name = names[op[1] % len(names)]
            node = state.nodes[name]
            if kind in ("taint", "spot"):
                taint = DEDICATED if kind == "taint" else SPOT
                if taint not in node.taints:
                    state.add_taint(name, taint)
            elif kind == "untaint":
                for taint in node.taints:
                    state.remove_taint(name, taint.key, taint.effect)
            elif kind in ("cordon", "uncordon"):
                state.set_unschedulable(name, kind == "cordon")
            else:
                state.set_node_ready(name, "True" if kind == "ready" else "False", "test")
    decide(0, "x")  # at least one decision per example
    return pair


@pytest.mark.parametrize("profile_name", list(PROFILES))
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    count=st.sampled_from([1, 2, 5, 63, 64, 65, 127, 128, 129, 200]),
    kinds=st.lists(st.sampled_from(range(len(KINDS))), min_size=1, max_size=4),
    ops=st.lists(op_st, min_size=1, max_size=40),
)
def test_compiled_index_decides_as_the_python_index(
    profile_name: str, count: int, kinds: list[int], ops: list[tuple]
) -> None:
    _run(profile_name, count, kinds, ops)


@pytest.mark.parametrize("count", [63, 64, 65, 127, 128, 129, 255, 256, 257, 300])
@pytest.mark.parametrize("profile_name", ["default", "most-allocated"])
def test_word_boundaries_and_many_ties(profile_name: str, count: int) -> None:
    """Identical nodes tie in large numbers; fill them until they are full."""
    state = make_state(
        *(make_node(f"n{i}", f"zone-{'abc'[i % 3]}", cpu=2000, memory=4 * GI, pods=6) for i in range(count))
    )
    owner = add_replicaset(state, "x", {"app": "x"})
    pair = Pair(state, PROFILES[profile_name])
    shapes = [pod_spec(100, 200 * MI), pod_spec(250, 100 * MI), pod_spec(), pod_spec(0, 0)]
    ties_seen, unschedulable = [], 0
    for i in range(count * 6 + 5):
        pod = add_pod(state, shapes[(i // 7) % len(shapes)], {"app": "x"}, owner)
        got = pair.decide(pod, explain=i % 97 == 0)
        assert got is not NOT_COVERED
        ties_seen.append(pair.py.last_ties or 0)
        if got is None:
            unschedulable += 1
        else:
            state.bind_pod(pod.uid, got)  # type: ignore[arg-type]
    assert max(ties_seen) >= count // 4  # many nodes tied at some point
    assert unschedulable > 0
    assert all(len(node.pods) == 6 for node in state.node_list)  # every pod slot taken
    assert pair.compared >= count * 6


@pytest.mark.parametrize("profile_name", ["default", "default-no-spreading", "most-allocated"])
def test_classes_first_met_while_catching_up(profile_name: str) -> None:
    """A node moving to a class the index has not filtered yet, met while replaying the change log (not
    refilling): the compiled index stops there, Python learns the class, the replay resumes at that node."""
    state = make_state(*(make_node(f"n{i}", f"zone-{'abc'[i % 3]}", cpu=4000, memory=8 * GI) for i in range(70)))
    owner = add_replicaset(state, "x", {"app": "x"})
    pair = Pair(state, PROFILES[profile_name])
    spec = pod_spec(100, 100)

    def decide() -> None:
        pod = add_pod(state, spec, {"app": "x"}, owner)
        got = pair.decide(pod, explain=True)
        if got is not None:
            state.bind_pod(pod.uid, got)  # type: ignore[arg-type]

    decide()  # fills the indexes: three classes (the zones)
    index = pair.c.index_by_spec[id(spec)][1]
    assert isinstance(index, CompiledScoreIndex) and len(index.class_ok) == 3
    changes = [
        lambda: state.set_unschedulable("n3", True),
        lambda: state.add_taint("n5", DEDICATED),
        lambda: state.add_taint("n7", SPOT),
        lambda: (state.set_node_ready("n9", "False", "test"), state.bind_pod(add_pod(state, spec).uid, "n10")),
        lambda: (state.set_unschedulable("n11", True), state.add_taint("n12", DEDICATED)),  # two in one replay
        lambda: state.set_unschedulable("n3", False),  # back to a known class
    ]
    for change in changes:
        change()
        decide()
        assert pair.c.index_by_spec[id(spec)][1] is index  # caught up, not refilled
    assert len(index.class_ok) == 9
    assert index.score_of(3) is not None and index.score_of(5) is None and index.score_of(9) is None


def test_nodes_without_cpu_or_memory() -> None:
    """Nodes with no cpu or no memory allocatable: the general formulas, in C as in Python."""
    kinds = [(0, 2 * GI, 110, 0), (2000, 0, 110, 0), (0, 0, 110, 0), (4000, 8 * GI, 110, 0)]
    state = make_state(*(_node(f"n{i}", kinds[i % 4], f"zone-{'abc'[i % 3]}") for i in range(70)))
    for name in PROFILES:
        if name == "default":
            continue
        pair = Pair(state, PROFILES[name])
        for i in range(200):
            spec = [_spec(0, 0), _spec(None, None), _spec(100, 0), _spec(0, 100), _spec(50, 50)][i % 5]
            pod = add_pod(state, spec)
            got = pair.decide(pod, explain=i % 20 == 0)
            if got is not None:
                state.bind_pod(pod.uid, got)  # type: ignore[arg-type]
        assert pair.compared == 200


def test_a_node_set_with_every_kind() -> None:
    state = make_state(
        *(_node(f"n{i}", KINDS[i % len(KINDS)], f"zone-{'abc'[i % 3]}", "a" if i % 4 else None) for i in range(150))
    )
    owner = add_replicaset(state, "x", {"app": "x"})
    pair = Pair(state, Profile.default())
    for i in range(1500):  # Pair.decide asserts that the engines agree on every decision
        pod = add_pod(state, SPECS[(i * 7) % len(SPECS)], {"app": "x"}, owner)
        got = pair.decide(pod, explain=i % 100 == 0)
        if got is not None and got is not NOT_COVERED:
            state.bind_pod(pod.uid, got)  # type: ignore[arg-type]
        if i % 50 == 0 and state.nodes["n1"].pods:
            state.delete_pod(next(iter(state.nodes["n1"].pods)), "test")
    assert pair.decisions == 1500 and pair.compared > 1000


@pytest.mark.parametrize(
    ("memory", "why"),
    [(2**55, "a BalancedAllocation fraction beyond exact doubles"), (2**62, "a product beyond 64 bits")],
)
def test_integers_too_large_for_c_hand_over_to_python(memory: int, why: str) -> None:
    """A node with 2**55 or 2**62 bytes of memory: the compiled index raises OverflowError, Python takes over."""
    state = make_state(*(make_node(f"n{i}", cpu=4000, memory=8 * GI) for i in range(10)))
    pair = Pair(state, PROFILES["default-no-spreading"])
    for spec in SPECS[:3]:
        pair.decide(add_pod(state, spec))
    assert all(isinstance(index, CompiledScoreIndex) for index in pair.c.indexes.values())
    state.add_node(_node("huge", (4000, memory, 110, 0)))
    for spec in SPECS:
        pod = add_pod(state, spec)
        got = pair.decide(pod, explain=True)
        if got is not None:
            state.bind_pod(pod.uid, got)  # type: ignore[arg-type]
    assert pair.c.index_class is ScoreIndex, why  # handed over for good
    assert all(type(index) is ScoreIndex for index in pair.c.indexes.values())


def test_offsets_too_large_for_c_hand_over_to_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """best_total raising OverflowError (an offset beyond int64): the decision is made again in Python."""
    state = make_state(*(make_node(f"n{i}", f"zone-{'ab'[i % 2]}") for i in range(8)))
    pair = Pair(state, PROFILES["default-no-spreading"])
    original = FastPath._groups

    def huge(self: FastPath, *args: object) -> list[tuple[int, int]]:
        groups = original(self, *args)  # type: ignore[arg-type]
        return [(offset + 2**64, mask) for offset, mask in groups]

    monkeypatch.setattr(FastPath, "_groups", huge)
    assert pair.decide(add_pod(state, pod_spec(100, 100))) is not None
    assert pair.c.index_class is ScoreIndex
    assert pair.c.last_best is not None and pair.c.last_best > 2**64


def test_framework_scheduler_uses_the_compiled_index_by_default() -> None:
    if shapeindex.ENGINE != "c":
        pytest.skip("PODQUAKE_PURE_PYTHON is set: the default engine is the Python one")
    state = make_state(*(make_node(f"n{i}") for i in range(3)))
    scheduler = FrameworkScheduler(Profile.default(), random.Random(1))
    scheduler.attach(state)
    assert scheduler.decide(add_pod(state, pod_spec(100, 100))) is not None
    assert scheduler.fast.index_class is CompiledScoreIndex
    assert all(isinstance(index, CompiledScoreIndex) for index in scheduler.fast.indexes.values())


@pytest.mark.parametrize(("value", "engine"), [("1", "python"), ("0", "c"), ("", "c")])
def test_pure_python_switch(value: str, engine: str) -> None:
    env = dict(os.environ, PODQUAKE_PURE_PYTHON=value)
    code = "from podquake.model.scheduling import shapeindex; print(shapeindex.ENGINE)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == engine


def test_engine_names_and_coverage() -> None:
    default = Profile.default()
    assert shapeindex.index_class("python", default) is ScoreIndex
    assert shapeindex.index_class("c", default) is CompiledScoreIndex
    rtcr = Profile(fit=ScoringStrategy("RequestedToCapacityRatio", shape=((0, 0), (100, 10))))
    assert shapeindex.index_class("c", rtcr) is ScoreIndex  # not covered: the Python index
    assert shapeindex.index_class("c", Profile(weights=(("NodeResourcesFit", 1000),))) is ScoreIndex
    assert FastPath(rtcr, make_state(make_node("a")), engine="c").index_class is ScoreIndex
    with pytest.raises(ValueError, match="unknown engine"):
        shapeindex.index_class("fortran", default)


# --- the formulas, directly: the local score and best_total on generated inputs --------------------------
def _python_index(spec: PodSpec, profile: Profile, states: list[tuple[int, ...]]) -> ScoreIndex:
    """A Python ScoreIndex filled from ``states`` (class 0 passes the static filters, class 1 does not)."""
    index = ScoreIndex(spec)
    index.class_ok = {0: True, 1: False}
    fast = SimpleNamespace(node_states=states)
    index.scores = [None] * len(states)
    index.refresh = make_refresher(index, profile, fast)  # type: ignore[arg-type]
    index.refresh(range(len(states)))
    return index


def _compiled_index(spec: PodSpec, profile: Profile, states: list[tuple[int, ...]]) -> object:
    assert core_module is not None
    index = core_module.Index()
    index.reset(len(states), local_parameters(spec, profile))
    index.set_class(0, True)
    index.set_class(1, False)
    assert index.place_all(states, 0) is None
    return index


EDGES = [2**53 - 1, 2**53, 2**53 + 1, 2**55, 2**60, 2**62, 2**63 - 1, -(2**63)]
amount_st = st.one_of(
    st.integers(0, 5000),
    st.integers(-3, 3),
    st.integers(0, 2**40),
    st.sampled_from(EDGES),
)
state_st = st.tuples(
    st.sampled_from([0, 0, 0, 1]),  # the class
    amount_st,
    amount_st,
    amount_st,
    amount_st,
    st.one_of(amount_st, st.just(shapeindex.UNLIMITED)),
    amount_st,
    amount_st,
)
request_st = st.one_of(st.none(), st.integers(0, 3000), st.integers(0, 2**34))
FORMULA_PROFILES = list(PROFILES.values()) + [
    Profile(weights=(("NodeResourcesFit", 7), ("NodeResourcesBalancedAllocation", 3)), **NO_SPREAD),
    Profile(weights=(("NodeResourcesFit", 1),), fit=ScoringStrategy("MostAllocated"), **NO_SPREAD),
    Profile(weights=(("NodeResourcesFit", 1),), fit=ScoringStrategy(cpu_weight=0, memory_weight=0), **NO_SPREAD),
]


def _realistic(state: tuple[int, ...]) -> bool:
    return all(abs(v) <= 2**50 for v in state[1:5] + state[6:]) and abs(state[5]) <= 2**62


@settings(max_examples=400, deadline=None)
@given(
    profile=st.sampled_from(FORMULA_PROFILES),
    cpu=request_st,
    memory=request_st,
    eph=st.integers(0, 200),
    states=st.lists(state_st, min_size=1, max_size=40),
)
def test_local_scores_match_the_python_refresher(
    profile: Profile, cpu: int | None, memory: int | None, eph: int, states: list[tuple[int, ...]]
) -> None:
    """Every node's local score, bit for bit, or OverflowError (the hand-over) only beyond exact arithmetic."""
    spec = _spec(cpu, memory, eph)
    python = _python_index(spec, profile, states)
    w = local_parameters(spec, profile)
    top = k8s.MAX_NODE_SCORE * (w[5] + w[6])
    in_range = all(s is None or 0 <= s <= top for s in python.scores)
    try:
        compiled = _compiled_index(spec, profile, states)
    except OverflowError:
        assert not (in_range and all(_realistic(s) for s in states)), "handed over without need"
        return
    assert in_range
    assert compiled.snapshot() == python.snapshot()  # type: ignore[attr-defined]
    assert [compiled.score_of(i) for i in range(len(states))] == python.scores  # type: ignore[attr-defined]


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32), profile=st.sampled_from(FORMULA_PROFILES[:2]))
def test_rounding_of_balanced_allocation(seed: int, profile: Profile) -> None:
    """Many realistic nodes with odd allocatables and uses: the float formula rounds every way, as in Python."""
    rng = random.Random(seed)
    states = []
    for _ in range(300):
        a_cpu, a_mem = rng.randrange(1, 100_000), rng.randrange(1, 2**38)
        used_cpu, used_mem = rng.randrange(0, a_cpu + 1), rng.randrange(0, a_mem + 1)
        states.append(
            (
                0,
                a_cpu,
                a_mem,
                a_cpu - used_cpu,
                a_mem - used_mem,
                shapeindex.UNLIMITED,
                a_cpu - used_cpu,
                a_mem - used_mem,
            )
        )
    spec = _spec(rng.randrange(0, 500), rng.randrange(0, 2**28))
    python = _python_index(spec, profile, states)
    compiled = _compiled_index(spec, profile, states)
    assert compiled.snapshot() == python.snapshot()  # type: ignore[attr-defined]


@pytest.mark.parametrize("a_mem", [10**10, 4 * 10**9, 16 * GI])
@pytest.mark.parametrize("profile_name", ["default-no-spreading", "weighted"])
def test_balanced_allocation_at_exact_decimal_fractions(profile_name: str, a_mem: int) -> None:
    """Round cpu and decimal memory (a grid of uses): ``(1 - std) * 100`` lands a hair below or above an
    integer, and int() truncates it; the compiled index must round exactly as Python does."""
    profile = PROFILES[profile_name]
    states = [
        (0, a_cpu, a_mem, a_cpu - used_cpu, a_mem - used_mem, shapeindex.UNLIMITED, a_cpu - used_cpu, a_mem - used_mem)
        for a_cpu in (1000, 4000)
        for used_cpu in range(0, a_cpu - 100, a_cpu // 40)
        for used_mem in range(0, a_mem - 10**8, a_mem // 50)
    ]
    for spec in (_spec(50, 10**8), _spec(100, 2 * 10**8), _spec(0, 0)):
        python = _python_index(spec, profile, states)
        compiled = _compiled_index(spec, profile, states)
        assert [compiled.score_of(i) for i in range(len(states))] == python.scores  # type: ignore[attr-defined]


@settings(max_examples=300, deadline=None)
@given(
    n=st.sampled_from([1, 3, 63, 64, 65, 130, 257]),
    seed=st.integers(0, 2**32),
    n_groups=st.integers(1, 6),
    kind=st.sampled_from(["partition", "overlap", "feasible", "one-narrowed", "beyond"]),
)
def test_best_total_matches_the_python_walk(n: int, seed: int, n_groups: int, kind: str) -> None:
    """``best_total`` on generated buckets and groups: same best, count and every tie (pick) as Python's."""
    rng = random.Random(seed)
    states = []
    for _ in range(n):
        free = rng.choice([4000, 3900, 3800, 2000, 0])
        states.append((rng.choice([0, 0, 0, 1]), 4000, 4000, free, free, shapeindex.UNLIMITED, free, free))
    spec = _spec(100, 100)
    profile = PROFILES["default-no-spreading"]
    python = _python_index(spec, profile, states)
    compiled = _compiled_index(spec, profile, states)
    feasible = python.feasible
    assume(python.count > 0)
    offsets = sorted(rng.sample(range(0, 400), n_groups), reverse=True)
    if kind == "feasible":
        groups = [(offsets[0], feasible)]
    elif kind == "one-narrowed":
        groups = [(offsets[0], feasible & rng.getrandbits(n))]
    else:
        masks = [0] * n_groups
        for i in range(n):
            if kind == "overlap":
                for g in range(n_groups):
                    if rng.random() < 0.4:
                        masks[g] |= 1 << i
            else:
                masks[rng.randrange(n_groups)] |= 1 << i
        if kind == "beyond":  # bits past the last node but inside the words: never a member
            masks[0] |= 1 << (n + rng.randrange(0, 64 - n % 64 if n % 64 else 1))
        groups = list(zip(offsets, masks, strict=True))
    want = python.best_total(groups)
    assert compiled.best_total(groups) == want  # type: ignore[attr-defined]
    assert [compiled.pick(r) for r in range(want[1])] == [python.pick(r) for r in range(want[1])]  # type: ignore[attr-defined]
    if python.count:
        assert compiled.best() == python.best()  # type: ignore[attr-defined]
        count = python.best()[1]
        assert [compiled.pick(r) for r in range(count)] == [python.pick(r) for r in range(count)]  # type: ignore[attr-defined]


@settings(max_examples=200, deadline=None)
@given(
    n=st.sampled_from([2, 5, 64, 65, 130]),
    levels=st.lists(st.integers(-1, 12), min_size=1, max_size=12),  # the first nodes; the others at level 12
    moves=st.lists(
        st.tuples(st.one_of(st.integers(0, 15), st.integers(0, 10**6)), st.integers(-1, 12)), min_size=1, max_size=60
    ),
    profile=st.sampled_from([Profile.default(), FORMULA_PROFILES[3]]),
)
# the top bucket's one node drops past the bucket just below it, or out of feasibility
@example(n=5, levels=[0, 1], moves=[(0, 5)], profile=Profile.default())
@example(n=65, levels=[0, 1, 1], moves=[(0, -1), (1, 7), (2, 12)], profile=Profile.default())
def test_bucket_moves_match_the_python_refresher(
    n: int, levels: list[int], moves: list[tuple[int, int]], profile: Profile
) -> None:
    """Nodes stepping between adjacent scores, out of and back into feasibility, the top bucket emptying:
    after every catch-up the whole index, the best bucket and its ties are Python's."""
    spec = _spec(500, 500 * MI)

    def state(level: int) -> tuple[int, ...]:  # level -1: no pod slot; else 1% more used per level: adjacent scores
        used_cpu, used_mem = 80 * max(level, 0), 82 * MI * max(level, 0)
        free_cpu = -1 if level < 0 else 8000 - used_cpu
        return (0, 8000, 8 * GI, free_cpu, 8 * GI - used_mem, 1 << 62, 8000 - used_cpu, 8 * GI - used_mem)

    states = [state(levels[i] if i < len(levels) else 12) for i in range(n)]
    python = _python_index(spec, profile, states)
    compiled = _compiled_index(spec, profile, states)
    log: list[int] = []
    compiled.cursor = python.cursor = 0  # type: ignore[attr-defined]
    for step, (node, level) in enumerate(moves):
        states[node % n] = state(level)
        log.append(node % n)
        if step % 3 == 2 or step == len(moves) - 1:  # catch up on one to three moves at once
            python.sync(log, 0, states)
            assert compiled.sync(log, 0, states) is None  # type: ignore[attr-defined]
            assert compiled.snapshot() == python.snapshot()  # type: ignore[attr-defined]
            if python.count:
                best = python.best()
                assert compiled.best() == best  # type: ignore[attr-defined]
                assert [compiled.pick(r) for r in range(best[1])] == [python.pick(r) for r in range(best[1])]  # type: ignore[attr-defined]


@pytest.mark.parametrize("n", [511, 512, 1000, 5000])
def test_large_masks_convert_exactly(n: int) -> None:
    """Group masks over thousands of nodes (every word, every digit alignment): the hits are Python's."""
    rng = random.Random(n)
    idle, busy = (
        (0, 4000, 8 * GI, 4000, 8 * GI, 1 << 62, 4000, 8 * GI),
        (0, 4000, 8 * GI, 3000, 8 * GI, 1 << 62, 3000, 8 * GI),
    )
    states = [idle if rng.random() < 0.9 else busy for _ in range(n)]
    spec = _spec(100, 64 * MI)
    python = _python_index(spec, Profile.default(), states)
    compiled = _compiled_index(spec, Profile.default(), states)
    for _ in range(20):
        masks = [rng.getrandbits(n) & rng.getrandbits(n), rng.getrandbits(n), (1 << n) - 1 ^ (1 << rng.randrange(n))]
        groups = list(zip((9, 5, 0), masks, strict=True))
        for chosen in (groups, groups[1:], groups[2:]):
            want = python.best_total(chosen)
            assert compiled.best_total(chosen) == want  # type: ignore[attr-defined]
            assert [compiled.pick(r) for r in range(want[1])] == [python.pick(r) for r in range(want[1])]  # type: ignore[attr-defined]


def test_feasible_is_the_same_int_until_it_changes() -> None:
    """fastpath._base caches on ``base[0] is index.feasible``: the compiled index keeps the object."""
    state = make_state(*(make_node(f"n{i}", cpu=1000, memory=10**6, pods=3) for i in range(70)))
    fast = FastPath(PROFILES["default-no-spreading"], state, engine="c")
    spec = pod_spec(100, 100)
    pod = add_pod(state, spec)
    fast.schedule(pod, random.Random(1))
    index = fast._index(spec)
    assert isinstance(index, CompiledScoreIndex)
    first = index.feasible
    assert index.feasible is first and first == (1 << 70) - 1
    state.bind_pod(pod.uid, "n3")  # a score changes, feasibility does not
    assert fast._index(spec) is index and index.feasible is first
    for _ in range(2):  # n3 is full after three pods: infeasible
        state.bind_pod(add_pod(state, spec).uid, "n3")
    fast._index(spec)
    assert index.feasible is not first and index.feasible == first ^ (1 << 3) and index.count == 69


# --- the core's own argument checks: bad input raises, never crashes -----------------------------------
STATE = (0, 4000, 8 * GI, 4000, 8 * GI, 1 << 62, 4000, 8 * GI)
PARAMS = local_parameters(_spec(100, 64 * MI), Profile.default())
IDLE = _python_index(_spec(100, 64 * MI), Profile.default(), [STATE]).keys[-1]  # an idle node's local score


def _core(n: int = 70) -> object:
    assert core_module is not None
    index = core_module.Index()
    index.reset(n, PARAMS)
    index.set_class(0, True)
    assert index.place_all([STATE] * n, 0) is None
    index.cursor = 0
    return index


def test_core_rejects_bad_arguments() -> None:
    assert core_module is not None
    index = core_module.Index()
    with pytest.raises(TypeError):
        core_module.Index(1)
    for call in (lambda: index.sync([], 0, []), lambda: index.best(), lambda: index.place_all([], 0)):
        with pytest.raises(RuntimeError):  # never reset
            call()
    assert index.feasible == 0 and index.count == 0
    with pytest.raises(IndexError):
        index.pick(0)
    with pytest.raises(TypeError):
        index.reset(1)
    with pytest.raises(ValueError):
        index.reset(-1, PARAMS)
    with pytest.raises(TypeError):
        index.reset(3, PARAMS[:10])
    with pytest.raises(TypeError):
        index.reset(3, list(PARAMS))
    with pytest.raises(TypeError):
        index.reset(3, (0.5,) + PARAMS[1:])
    with pytest.raises(ValueError, match="negative"):
        index.reset(3, PARAMS[:5] + (-1,) + PARAMS[6:])
    with pytest.raises(ValueError, match="too large"):
        index.reset(3, PARAMS[:5] + (1000,) + PARAMS[6:])
    with pytest.raises(OverflowError):
        index.reset(3, (2**64,) + PARAMS[1:])

    index = _core(70)
    with pytest.raises(ValueError):
        index.place_all([STATE] * 69, 0)
    with pytest.raises(IndexError):
        index.place_all([STATE] * 70, 71)
    with pytest.raises(TypeError):
        index.place_all([STATE[:7]] * 70, 0)
    with pytest.raises(TypeError):
        index.place_all([list(STATE)] * 70, 0)
    with pytest.raises(TypeError):
        index.place_all([(0, "4000", 8, 0, 0, 0, 0, 0)] * 70, 0)
    with pytest.raises(ValueError, match="class id"):
        index.place_all([(-1,) + STATE[1:]] * 70, 0)
    with pytest.raises(OverflowError):
        index.place_all([(0, 4000, 2**64, 0, 0, 0, 0, 0)] * 70, 0)
    assert index.place_all([(5,) + STATE[1:]] * 70, 0) == 0  # class 5 is unknown: learn it first
    for cid in (-1, 1 << 24):
        with pytest.raises(ValueError):
            index.set_class(cid, True)
    with pytest.raises(TypeError):
        index.set_class("0", True)
    with pytest.raises(TypeError):
        index.sync((), 0, [STATE] * 70)
    with pytest.raises(TypeError):
        index.sync([0], 0, (STATE,) * 70)
    with pytest.raises(IndexError):  # a logged node beyond the states
        index.sync([80], 0, [STATE] * 70)
    index.cursor = 0
    with pytest.raises(TypeError):
        index.sync(["x"], 0, [STATE] * 70)
    index.cursor = 5
    with pytest.raises(ValueError, match="truncated"):
        index.sync([], 10, [STATE] * 70)
    index.cursor = 0
    assert index.best() == (IDLE, 70)  # 70 identical idle nodes tie
    assert [index.pick(r) for r in (0, 63, 64, 69)] == [0, 63, 64, 69]
    for r in (-1, 70, 2**70):
        with pytest.raises((IndexError, OverflowError)):
            index.pick(r)
    with pytest.raises(TypeError):
        index.pick(1.0)
    for i in (-1, 70):
        with pytest.raises(IndexError):
            index.score_of(i)
    everyone = (1 << 70) - 1
    with pytest.raises(TypeError):
        index.best_total({0: everyone})
    with pytest.raises(IndexError):
        index.best_total([])
    with pytest.raises(TypeError):
        index.best_total([(0, everyone, 1)])
    with pytest.raises(TypeError):
        index.best_total([[0, everyone]])
    with pytest.raises(TypeError):
        index.best_total([(0.0, everyone)])
    with pytest.raises(TypeError):
        index.best_total([(0, float(everyone))])
    with pytest.raises(OverflowError):
        index.best_total([(2**64, everyone)])
    with pytest.raises(OverflowError):  # score + offset past int64
        index.best_total([(2**63 - 1, everyone)])
    with pytest.raises(ValueError, match="non-negative"):
        index.best_total([(0, -1)])
    with pytest.raises(ValueError, match="beyond"):
        index.best_total([(0, 1 << (index.n_nodes + 256))])
    assert index.best_total([(7, everyone)]) == (IDLE + 7, 70)
    assert index.best_total([(7, 1 << 69 | 1 << 3), (5, everyone)]) == (IDLE + 7, 2)
    assert [index.pick(0), index.pick(1)] == [3, 69]


def test_core_holds_no_references() -> None:
    """No reference is kept or lost, but the shared decoded states' (released by forget_states)."""
    assert core_module is not None
    core_module.forget_states()
    states = [STATE] * 70
    log = [0, 1, 2, 64]
    mask = (1 << 70) - 1
    groups = [(3, mask >> 1), (0, mask)]

    def refs() -> list[int]:
        return [sys.getrefcount(x) for x in (states, log, STATE, mask, groups, PARAMS)]

    before = refs()
    index = _core(70)
    for _ in range(100):
        index.cursor = 0
        assert index.sync(log, 0, states) is None
        index.best_total(groups)
        index.best()
        index.pick(1)
        index.score_of(3)
        index.snapshot()
        index.reset(70, PARAMS)
        index.set_class(0, True)
        index.place_all(states, 0)
    feasible = index.feasible
    assert index.feasible is feasible
    held = sys.getrefcount(feasible)
    assert held == 3  # this name, the index's cache, getrefcount's argument
    assert refs()[2] == before[2] + 70  # decoded once for each of the 70 node indexes, shared
    core_module.forget_states()
    assert refs() == before
    del index, feasible


class _Tuple(tuple):  # type: ignore[type-arg]
    pass


class _Int(int):
    pass


def test_decoded_states_are_shared_and_exact() -> None:
    """Indexes share each NodeState tuple's decoded values (by identity, holding the tuple); a tuple
    or int subclass is decoded every time and never held; a new tuple for a node replaces the old."""
    assert core_module is not None
    core_module.forget_states()
    specs = [_spec(100, 64 * MI), _spec(700, 130 * MI), _spec(None, None)]
    profile = Profile.default()
    fresh = (0, 4000, 8 * GI, 4000, 8 * GI, 1 << 62, 4000, 8 * GI)
    states = [tuple(v + 0 for v in fresh) for _ in range(5)]  # five distinct tuples, equal values
    indexes = [_compiled_index(spec, profile, states) for spec in specs]
    assert [sys.getrefcount(states[i]) for i in range(5)] == [3] * 5  # the list, the shared cache, the argument
    busy = (0, 4000, 8 * GI, 1000, 2 * GI, 1 << 62, 1000, 2 * GI)
    for kind in (tuple, _Tuple):
        states[3] = tuple(v + 0 for v in busy) if kind is tuple else _Tuple((0, _Int(4000), *busy[2:]))
        for index in indexes:
            index.cursor = 0  # type: ignore[attr-defined]
            assert index.sync([3], 0, states) is None  # type: ignore[attr-defined]
        python = [_python_index(spec, profile, states) for spec in specs]
        assert [index.snapshot() for index in indexes] == [p.snapshot() for p in python]  # type: ignore[attr-defined]
        held = sys.getrefcount(states[3])
        assert held == (3 if kind is tuple else 2)  # the list, the shared cache (not for a subclass), the argument
    core_module.forget_states()
    assert [sys.getrefcount(states[i]) for i in range(5)] == [2] * 5


def test_no_memory_grows_over_resets_and_decisions() -> None:
    """PyMem allocations (traced) come back: resets, fills, decisions, groups growing, deallocs."""
    states = [(0, 4000, 8 * GI, f, f * MI, 1 << 62, f, f * MI) for f in range(0, 4000, 13)]  # 308 nodes, many scores
    n = len(states)

    def cycle() -> None:
        assert core_module is not None
        for _ in range(20):
            index = core_module.Index()
            index.reset(n, PARAMS)
            index.set_class(0, True)
            index.place_all(states, 0)
            assert index.count == n - 8  # free cpu below 100m on 8 nodes: infeasible
            index.best_total([(k, (1 << n) - 1 >> k) for k in range(40, 0, -1)])
            _ = index.feasible  # builds (and caches) the int
            index.reset(n // 2, PARAMS)
            del index

    cycle()
    gc.collect()
    tracemalloc.start()
    try:
        cycle()
        gc.collect()
        first = tracemalloc.get_traced_memory()[0]
        for _ in range(5):
            cycle()
        gc.collect()
        assert tracemalloc.get_traced_memory()[0] - first < 4096
    finally:
        tracemalloc.stop()


def test_bits_beyond_the_last_node_are_ignored() -> None:
    index = _core(1)
    assert index.feasible == 1 and index.best() == (IDLE, 1)  # type: ignore[attr-defined]
    assert index.best_total([(0, 0b111)]) == (IDLE, 1)  # type: ignore[attr-defined]
    assert index.pick(0) == 0  # type: ignore[attr-defined]


def test_many_indexes_and_resets() -> None:
    for n in (0, 1, 64, 65, 256, 257, 1000):
        index = _core(n)
        assert index.count == n  # type: ignore[attr-defined]
        if n:
            assert index.best() == (IDLE, n)  # type: ignore[attr-defined]
        else:
            with pytest.raises(IndexError):
                index.best()  # type: ignore[attr-defined]
            assert index.best_total([(0, 0)]) == (-1, 0)  # type: ignore[attr-defined]
        for _ in range(3):
            index.reset(n, PARAMS)  # type: ignore[attr-defined]
