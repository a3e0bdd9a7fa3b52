"""InterPodAffinity: required (anti-)affinity filters and preferred scoring, as upstream's plugin
(kubernetes/kubernetes:pkg/scheduler/framework/plugins/interpodaffinity/{filtering,scoring}.go)."""

from __future__ import annotations

import dataclasses
import random

import pytest

from podquake.model import constants as k8s
from podquake.model.objects import Pod, PodAffinity, PodAffinityTerm
from podquake.model.scheduling import interpod
from podquake.model.scheduling.framework import INTER_POD_AFFINITY, FrameworkScheduler, Profile
from podquake.model.selectors import LabelSelector

from .scheduling_builders import add_pod, make_node, make_state, pod_spec

HOST, ZONE = k8s.LABEL_HOSTNAME, k8s.LABEL_ZONE
_serial = [0]


def term(app: str, key: str = HOST, **extra: object) -> PodAffinityTerm:
    return PodAffinityTerm(key, LabelSelector.of({"app": app}), **extra)  # type: ignore[arg-type]


def scheduler(profile: Profile | None = None, state: object = None, seed: int = 0) -> FrameworkScheduler:
    s = FrameworkScheduler(profile, random.Random(seed))
    s.attach(state)  # type: ignore[arg-type]
    return s


def place(state: object, s: FrameworkScheduler, spec: object, labels: dict[str, str], namespace: str = "default") -> str | None:
    if namespace == "default":
        pod = add_pod(state, spec, labels)  # type: ignore[arg-type]
    else:
        _serial[0] += 1
        name = f"ns-pod-{_serial[0]}"
        pod = state.create_pod(Pod(f"uid-{name}", name, namespace, dict(labels), spec, 0.0))  # type: ignore[attr-defined,arg-type]
    node = s.decide(pod)
    if node is not None:
        state.bind_pod(pod.uid, node)  # type: ignore[attr-defined]
    return node


ANTI_WEB = pod_spec(100, 100, pod_affinity=PodAffinity(required_anti_affinity=(term("web"),)))


@pytest.mark.parametrize("profile", [Profile.default(), Profile.least_allocated()], ids=["default", "least-allocated"])
def test_required_anti_affinity_by_hostname_keeps_replicas_apart_and_the_extra_one_pending(profile: Profile) -> None:
    state = make_state(*(make_node(f"n{i}") for i in range(3)))
    s = scheduler(profile, state)
    placed = [place(state, s, ANTI_WEB, {"app": "web"}) for _ in range(4)]
    assert sorted(placed[:3]) == ["n0", "n1", "n2"]  # type: ignore[type-var]
    assert placed[3] is None  # no fourth node: Pending, as upstream
    assert s.full_scans == 4 and s.fast_decisions == 0


def test_required_anti_affinity_by_zone() -> None:
    state = make_state(make_node("a1", "zone-a"), make_node("a2", "zone-a"), make_node("b1", "zone-b"))
    s = scheduler(state=state)
    spec = pod_spec(100, 100, pod_affinity=PodAffinity(required_anti_affinity=(term("web", ZONE),)))
    first, second, third = (place(state, s, spec, {"app": "web"}) for _ in range(3))
    assert {state.nodes[first].zone, state.nodes[second].zone} == {"zone-a", "zone-b"}  # type: ignore[index]
    assert third is None


def test_required_affinity_colocates_with_a_matching_pod() -> None:
    # n0 is full-ish, n1 empty: LeastAllocated alone would choose n1.
    state = make_state(make_node("n0"), make_node("n1"))
    db = add_pod(state, pod_spec(2000, 100), {"app": "db"})
    state.bind_pod(db.uid, "n0")
    s = scheduler(state=state)
    spec = pod_spec(100, 100, pod_affinity=PodAffinity(required_affinity=(term("db"),)))
    assert place(state, s, spec, {"app": "web"}) == "n0"
    assert place(state, s, pod_spec(100, 100), {"app": "other"}) == "n1"  # a pod without terms is free


def test_required_affinity_without_a_match_is_pending_unless_the_pod_is_the_first_of_its_group() -> None:
    state = make_state(make_node("n0"), make_node("n1"))
    s = scheduler(state=state)
    lonely = pod_spec(100, 100, pod_affinity=PodAffinity(required_affinity=(term("db"),)))
    assert place(state, s, lonely, {"app": "web"}) is None  # no db pod anywhere, and it is no db pod itself
    together = pod_spec(100, 100, pod_affinity=PodAffinity(required_affinity=(term("cache"),)))
    first = place(state, s, together, {"app": "cache"})  # the first of a group that matches itself
    assert first is not None
    assert all(place(state, s, together, {"app": "cache"}) == first for _ in range(3))


def test_required_affinity_needs_the_topology_key_on_the_node() -> None:
    node = make_node("n0")
    del node.labels[ZONE]
    state = make_state(node)
    s = scheduler(state=state)
    spec = pod_spec(100, 100, pod_affinity=PodAffinity(required_affinity=(term("cache", ZONE),)))
    assert place(state, s, spec, {"app": "cache"}) is None


def test_an_existing_pods_anti_affinity_repels_the_incoming_pod() -> None:
    # n0 is much larger: without the symmetry, LeastAllocated would put the web pod there.
    state = make_state(make_node("n0", cpu=64000, memory=10**6), make_node("n1"))
    guard = add_pod(state, pod_spec(100, 100, pod_affinity=PodAffinity(required_anti_affinity=(term("web"),))), {"app": "guard"})
    state.bind_pod(guard.uid, "n0")
    s = scheduler(state=state)
    assert place(state, s, pod_spec(100, 100), {"app": "web"}) == "n1"
    assert place(state, s, pod_spec(100, 100), {"app": "api"}) == "n0"  # not matched: fast path as before
    assert s.full_scans == 1 and s.fast_decisions == 1


def test_namespaces_default_to_the_pods_own() -> None:
    state = make_state(make_node("n0", cpu=64000, memory=10**6), make_node("n1"))  # n0 is emptier: chosen when allowed
    s = scheduler(state=state)
    first = place(state, s, ANTI_WEB, {"app": "web"}, namespace="shop")
    # another namespace's web pod is not matched by a term without namespaces: the node stays open
    assert place(state, s, ANTI_WEB, {"app": "web"}, namespace="blog") == first == "n0"
    # a term listing both namespaces is (n0's pods repel it, and its own term repels them)
    both = pod_spec(100, 100, pod_affinity=PodAffinity(required_anti_affinity=(term("web", namespaces=("shop", "blog")),)))
    assert place(state, s, both, {"app": "web"}, namespace="shop") == "n1"
    # an empty namespaceSelector matches every namespace
    every = pod_spec(100, 100, pod_affinity=PodAffinity(required_anti_affinity=(term("web", namespace_selector=LabelSelector()),)))
    assert place(state, s, every, {"app": "web"}, namespace="news") is None


def test_match_label_keys_narrow_the_selector_to_the_pods_own_value() -> None:
    state = make_state(make_node("n0", cpu=64000, memory=10**6), make_node("n1"))  # n0 is emptier: chosen when allowed
    s = scheduler(state=state)
    spec = pod_spec(100, 100, pod_affinity=PodAffinity(required_anti_affinity=(term("web", match_label_keys=("rev",)),)))
    assert place(state, s, spec, {"app": "web", "rev": "1"}) == "n0"
    assert place(state, s, spec, {"app": "web", "rev": "2"}) == "n0"  # another revision does not repel
    assert place(state, s, spec, {"app": "web", "rev": "1"}) == "n1"


def _ipa_part(state: object, pod: object, nodes: list) -> list[int]:
    """The InterPodAffinity part of the default profile's totals (weight 2 x normalized score)."""
    with_ipa = FrameworkScheduler(Profile.default(), random.Random(0), fast_path=False)
    weights = tuple((n, w) for n, w in Profile.default().weights if n != INTER_POD_AFFINITY)
    without = FrameworkScheduler(dataclasses.replace(Profile.default(), weights=weights), random.Random(0), fast_path=False)
    a = with_ipa.score_nodes(pod, nodes, state)  # type: ignore[arg-type]
    b = without.score_nodes(pod, nodes, state)  # type: ignore[arg-type]
    return [x - y for x, y in zip(a, b)]


def test_preferred_terms_of_the_incoming_pod_score_by_hand() -> None:
    # n0, n1 in zone-a, n2 in zone-b; a db pod on n0. The pod prefers db's zone (weight 10) and
    # dislikes db's host (weight 4): raw n0 = 10 - 4 = 6, n1 = 10, n2 = 0 (scoring.go processExistingPod).
    # NormalizeScore: int64(100 * (s - 0) / 10) -> 60, 100, 0; weight 2 -> 120, 200, 0.
    state = make_state(make_node("n0", "zone-a"), make_node("n1", "zone-a"), make_node("n2", "zone-b"))
    db = add_pod(state, pod_spec(100, 100), {"app": "db"})
    state.bind_pod(db.uid, "n0")
    terms = PodAffinity(preferred_affinity=((10, term("db", ZONE)),), preferred_anti_affinity=((4, term("db")),))
    pod = add_pod(state, pod_spec(100, 100, pod_affinity=terms), {"app": "web"})
    carriers, everyone = interpod.state_pairs(state)
    assert interpod.raw_scores(pod, state.node_list, carriers, everyone) == [6, 10, 0]
    assert _ipa_part(state, pod, state.node_list) == [120, 200, 0]


def test_existing_pods_terms_score_the_incoming_pod_with_hard_pod_affinity_weight_1() -> None:
    # n1 holds a pod preferring web pods on its host (weight 1); n2 one that requires web pods on its
    # host (hardPodAffinityWeight 1) and prefers them (weight 2): raw 0, 1, 3 for a pod without terms.
    # int64(100 * 1/3) = 33 (truncated), so 0, 33, 100; weight 2 -> 0, 66, 200.
    state = make_state(make_node("n0"), make_node("n1"), make_node("n2"))
    likes = add_pod(state, pod_spec(100, 100, pod_affinity=PodAffinity(preferred_affinity=((1, term("web")),))), {"app": "a"})
    needs = add_pod(
        state,
        pod_spec(100, 100, pod_affinity=PodAffinity(required_affinity=(term("web"),), preferred_affinity=((2, term("web")),))),
        {"app": "b"},
    )
    state.bind_pod(likes.uid, "n1")
    state.bind_pod(needs.uid, "n2")
    pod = add_pod(state, pod_spec(100, 100), {"app": "web"})
    assert _ipa_part(state, pod, state.node_list) == [0, 66, 200]
    # the decision takes the full scan, and equals it
    s = scheduler(state=state)
    reference = FrameworkScheduler(Profile.default(), random.Random(0), fast_path=False)
    assert s.decide(pod) == reference.full_scan(pod, state) and s.full_scans == 1


def test_normalize_is_upstreams_min_max() -> None:
    assert interpod.normalize([-4, -4]) == [0, 0]
    assert interpod.normalize([-3, 0, 7]) == [0, 30, 100]
    assert interpod.normalize([1, 2, 4]) == [0, 33, 100]


def test_pods_without_terms_in_a_cluster_without_terms_stay_on_the_fast_path() -> None:
    state = make_state(*(make_node(f"n{i}") for i in range(4)))
    s = scheduler(state=state)
    for i in range(8):
        place(state, s, pod_spec(100, 100), {"app": "web"})
    assert s.fast_decisions == 8 and s.full_scans == 0 and not state.pods_with_affinity


def test_the_store_tracks_bound_pods_with_terms() -> None:
    state = make_state(make_node("n0"))
    pod = add_pod(state, ANTI_WEB, {"app": "web"})
    assert not state.pods_with_affinity
    state.bind_pod(pod.uid, "n0")
    assert list(state.pods_with_affinity) == [pod.uid]
    state.delete_pod(pod.uid, "test")
    assert not state.pods_with_affinity


def test_the_view_offers_the_inter_pod_check_outside_the_contract() -> None:
    from podquake.model.placement import placement_problem
    from podquake.model.views import ClusterView, PodView

    state = make_state(make_node("n0"), make_node("n1"))
    placed = add_pod(state, ANTI_WEB, {"app": "web"})
    state.bind_pod(placed.uid, "n0")
    pod = add_pod(state, ANTI_WEB, {"app": "web"})
    view = ClusterView(state)
    assert placement_problem(pod, state.nodes["n0"]) is None  # the contract (the kubelet's admission) allows it
    assert view.inter_pod_problem(PodView(pod), "n0") == "node(s) didn't match pod anti-affinity rules"
    assert [n.name for n in view.feasible_nodes(PodView(pod))] == ["n0", "n1"]
    assert [n.name for n in view.feasible_nodes(PodView(pod), inter_pod_affinity=True)] == ["n1"]
    free = add_pod(state, pod_spec(100, 100), {"app": "web"})  # no terms of its own: n0's pod repels it
    assert view.inter_pod_problem(PodView(free), "n0") == "node(s) didn't satisfy existing pods anti-affinity rules"
