"""kube-scheduler's InterPodAffinity plugin: required and preferred pod (anti-)affinity, upstream's way.

Follows kubernetes/kubernetes:pkg/scheduler/framework/plugins/interpodaffinity/ (v1.35):

**PreFilter + Filter** (``filtering.go``). Three counts of topology pairs ``(key, value)``:

- ``existing_anti``: for every placed pod with *required anti-affinity*, each of its terms that
  matches the incoming pod counts once at the pair of the existing pod's node
  (``getExistingAntiAffinityCounts``; the symmetry: an existing pod repels the incoming one);
- ``affinity``: for every placed pod that matches *all* the incoming pod's required affinity terms,
  each term counts at its pair (``updateWithAffinityTerms``);
- ``anti``: for every placed pod, each incoming required anti-affinity term it matches counts at its
  pair (``updateWithAntiAffinityTerms``).

A node fails when one of its labels is a pair with ``existing_anti > 0``
(``satisfyExistingPodsAntiAffinity``), when the pair of one of the pod's anti-affinity terms has
``anti > 0`` (``satisfyPodAntiAffinity``), or when it lacks a required affinity term's topology key or
a term's pair has no matching pod (``satisfyPodAffinity``), unless no pod anywhere matches
(``affinity`` is empty) and the pod matches all its own required affinity terms: the first pod of a
group that wants to be together may go anywhere with the keys. Without any of the three the plugin
skips (PreFilter ``Skip``).

**PreScore + Score + NormalizeScore** (``scoring.go``). A map of pair -> score, from each placed pod:
the incoming pod's preferred affinity terms the placed pod matches add their weight at the placed
pod's node's pair, its preferred anti-affinity terms subtract it; the placed pod's required affinity
terms that the incoming pod matches add ``hardPodAffinityWeight`` (1, the default of
``InterPodAffinityArgs``, pkg/scheduler/apis/config/v1/defaults.go), its preferred affinity terms
add their weight and its preferred anti-affinity terms subtract it. A placed pod's node without
labels contributes nothing (``processExistingPod``). A node's score is the sum over the pairs among
its labels; NormalizeScore maps ``[min, max]`` of the scored nodes to ``[0, 100]`` with
``int64(100 * (s - min) / (max - min))`` in float64, all 0 when max == min. With an empty map the
plugin skips (0 on every node).

Terms match as :class:`~podquake.model.objects.PodAffinityTerm` says (namespaces, namespaceSelector
against the namespace's ``kubernetes.io/metadata.name`` label, matchLabelKeys/mismatchLabelKeys).
Placed pods are all pods bound to a node, terminating ones included, as the scheduler's cache holds
them until they are deleted.

Simplifications: nominated pods (after a preemption) are not added to the counts (upstream's
``AddPod`` PreFilter extension adds those of higher or equal priority); preemption's what-if removal
of victims does not recount them either (see :mod:`~podquake.model.scheduling.preemption`).
``IgnorePreferredTermsOfExistingPods`` is false, upstream's default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from podquake.model.objects import Node, Pod, PodAffinityTerm

__all__ = [
    "HARD_POD_AFFINITY_WEIGHT",
    "InterPodFilter",
    "affects",
    "normalize",
    "prefilter",
    "raw_scores",
    "state_pairs",
]

#: kubernetes/kubernetes:pkg/scheduler/apis/config/v1/defaults.go (``HardPodAffinityWeight`` default 1)
HARD_POD_AFFINITY_WEIGHT = 1

Placed = Iterable[tuple[Mapping[str, str], Pod]]
"""Placed pods with their node's labels."""


def _matches(term: PodAffinityTerm, owner: Pod, target: Pod) -> bool:
    """Whether ``target`` matches ``term``, a term carried by ``owner``."""
    return term.matches(owner.namespace, owner.labels, target.namespace, target.labels)


def _matches_all(terms: tuple[PodAffinityTerm, ...], owner: Pod, target: Pod) -> bool:
    """``podMatchesAllAffinityTerms``: false for no terms."""
    return bool(terms) and all(_matches(t, owner, target) for t in terms)


def _count(counts: dict[tuple[str, str], int], labels: Mapping[str, str], key: str, value: int) -> None:
    topology = labels.get(key)
    if topology is not None:
        pair = (key, topology)
        counts[pair] = counts.get(pair, 0) + value


def _score(
    scores: dict[tuple[str, str], int],
    labels: Mapping[str, str],
    weighted: Iterable[tuple[int, PodAffinityTerm]],
    owner: Pod,
    target: Pod,
    sign: int,
) -> None:
    """Add ``sign * weight`` to the topology pair of ``labels`` for each of ``owner``'s weighted terms
    that ``target`` matches (affinity counts up, anti-affinity down)."""
    for weight, term in weighted:
        if _matches(term, owner, target):
            _count(scores, labels, term.topology_key, sign * weight)


@dataclass(slots=True)
class InterPodFilter:
    """PreFilter's state for one pod (see the module docstring)."""

    pod: Pod
    existing_anti: dict[tuple[str, str], int]
    affinity: dict[tuple[str, str], int]
    anti: dict[tuple[str, str], int]

    def passes(self, labels: Mapping[str, str]) -> bool:
        """Filter: ``satisfyPodAffinity``, ``satisfyPodAntiAffinity``, ``satisfyExistingPodsAntiAffinity``."""
        return self.problem(labels) is None

    def problem(self, labels: Mapping[str, str]) -> str | None:
        """Why a node with ``labels`` fails the filter (upstream's reasons), or None."""
        terms = self.pod.spec.pod_affinity
        if terms is not None and terms.required_affinity:
            pods_exist = True
            for term in terms.required_affinity:
                value = labels.get(term.topology_key)
                if value is None:
                    return "node(s) didn't match pod affinity rules"  # all topology labels must exist
                if self.affinity.get((term.topology_key, value), 0) <= 0:
                    pods_exist = False
            if not pods_exist and not (not self.affinity and _matches_all(terms.required_affinity, self.pod, self.pod)):
                return "node(s) didn't match pod affinity rules"
        if terms is not None and self.anti:
            for term in terms.required_anti_affinity:
                value = labels.get(term.topology_key)
                if value is not None and self.anti.get((term.topology_key, value), 0) > 0:
                    return "node(s) didn't match pod anti-affinity rules"
        if self.existing_anti:
            for pair in labels.items():
                if self.existing_anti.get(pair, 0) > 0:
                    return "node(s) didn't satisfy existing pods anti-affinity rules"
        return None


def prefilter(pod: Pod, carriers: Placed, everyone: Callable[[], Placed]) -> InterPodFilter | None:
    """PreFilter for ``pod``: None when the plugin skips it. ``carriers`` are the placed pods with
    terms (only their required anti-affinity is read), ``everyone()`` all placed pods (read only when
    the pod has required terms of its own)."""
    existing_anti: dict[tuple[str, str], int] = {}
    for labels, other in carriers:
        terms = other.spec.pod_affinity
        if terms is None or other is pod:
            continue
        for term in terms.required_anti_affinity:
            if _matches(term, other, pod):
                _count(existing_anti, labels, term.topology_key, 1)
    affinity: dict[tuple[str, str], int] = {}
    anti: dict[tuple[str, str], int] = {}
    own = pod.spec.pod_affinity
    required = own.required_affinity if own is not None else ()
    required_anti = own.required_anti_affinity if own is not None else ()
    if required or required_anti:
        for labels, other in everyone():
            if other is pod:
                continue
            if required and _matches_all(required, pod, other):
                for term in required:
                    _count(affinity, labels, term.topology_key, 1)
            for term in required_anti:
                if _matches(term, pod, other):
                    _count(anti, labels, term.topology_key, 1)
    elif not existing_anti:
        return None  # PreFilter Skip
    return InterPodFilter(pod, existing_anti, affinity, anti)


def raw_scores(
    pod: Pod, nodes: list[Node], carriers: Placed, everyone: Callable[[], Placed], hard_weight: int = HARD_POD_AFFINITY_WEIGHT
) -> list[int] | None:
    """PreScore + Score: each of ``nodes``' raw score, None when the plugin skips (no pair scored).
    With preferred terms of its own the pod reads every placed pod, else only the ``carriers``."""
    own = pod.spec.pod_affinity
    preferred = own is not None and own.has_preferred()
    scores: dict[tuple[str, str], int] = {}
    for labels, other in everyone() if preferred else carriers:
        if other is pod or not labels:
            continue
        if own is not None:
            _score(scores, labels, own.preferred_affinity, pod, other, 1)
            _score(scores, labels, own.preferred_anti_affinity, pod, other, -1)
        terms = other.spec.pod_affinity
        if terms is None:
            continue
        if hard_weight > 0:
            _score(scores, labels, [(hard_weight, term) for term in terms.required_affinity], other, pod, 1)
        _score(scores, labels, terms.preferred_affinity, other, pod, 1)
        _score(scores, labels, terms.preferred_anti_affinity, other, pod, -1)
    if not scores:
        return None  # PreScore Skip
    return [sum(scores.get(pair, 0) for pair in node.labels.items()) for node in nodes]


def normalize(raw: list[int]) -> list[int]:
    """NormalizeScore: ``int64(100 * float64(s - min) / float64(max - min))``, 0 everywhere when max == min."""
    low, high = min(raw), max(raw)
    spread = high - low
    if spread <= 0:
        return [0] * len(raw)
    return [int(100.0 * ((s - low) / spread)) for s in raw]


def affects(pod: Pod, carriers: Iterable[Pod], scoring: bool) -> bool:
    """Whether the plugin may filter or score ``pod`` differently from "no terms anywhere": the pod
    has terms, or a placed pod's term matches it (required anti-affinity; with ``scoring`` also
    required affinity and preferred terms). False means PreFilter and PreScore would both skip, so
    the scheduler's fast path, which knows nothing of inter-pod terms, decides exactly."""
    if pod.spec.pod_affinity is not None:
        return True
    for other in carriers:
        terms = other.spec.pod_affinity
        if terms is None:
            continue
        for term in terms.required_anti_affinity:
            if _matches(term, other, pod):
                return True
        if scoring:
            for term in terms.required_affinity:
                if _matches(term, other, pod):
                    return True
            for _, term in terms.preferred_affinity + terms.preferred_anti_affinity:
                if _matches(term, other, pod):
                    return True
    return False


def state_pairs(state: object) -> tuple[Placed, Callable[[], Placed]]:
    """``(carriers, everyone)`` over a :class:`~podquake.model.store.ClusterState`'s bound pods."""
    nodes = state.nodes  # type: ignore[attr-defined]
    carriers = [(nodes[q.node_name].labels, q) for q in state.pods_with_affinity.values()]  # type: ignore[attr-defined]

    def everyone() -> Placed:
        return [(node.labels, q) for node in state.node_list for q in node.pods.values()]  # type: ignore[attr-defined]

    return carriers, everyone
