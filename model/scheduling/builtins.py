"""Built-in schedulers: the kube default profile, and four simple ones that are also test doubles.

Every built-in obeys the contract: it only answers nodes that
:func:`~podquake.model.scheduling.contract.placement_problem` accepts, or None. The simple ones are
short on purpose; read them as examples of the plug-in contract.

- :func:`default_scheduler`: kube-scheduler's default profile (framework.py).
- :func:`least_allocated_scheduler`: the basic filters and NodeResourcesFit LeastAllocated only.
- :class:`FirstFit`: the first legal node in node order.
- :class:`RoundRobin`: the next legal node after the one chosen last.
- :class:`RandomFit`: a uniformly random legal node (seeded).
- :class:`BinPacking`: the legal node with the highest CPU+memory allocation (MostAllocated-like), first on ties.
"""

from __future__ import annotations

import random

from podquake.model.objects import Node, Pod
from podquake.model.scheduling.contract import placement_problem
from podquake.model.scheduling.framework import FrameworkScheduler, Profile
from podquake.model.views import ClusterView, PodView

__all__ = ["BinPacking", "FirstFit", "RandomFit", "RoundRobin", "default_scheduler", "least_allocated_scheduler"]


def default_scheduler(rng: random.Random | None = None) -> FrameworkScheduler:
    """kube-scheduler's default profile (every feasible node scored: percentageOfNodesToScore 100)."""
    return FrameworkScheduler(Profile.default(), rng, name="default")


def least_allocated_scheduler(rng: random.Random | None = None) -> FrameworkScheduler:
    """Basic filters plus NodeResourcesFit with LeastAllocated as the only score."""
    return FrameworkScheduler(Profile.least_allocated(), rng, name="least-allocated")


def _legal_nodes(pod: PodView, cluster: ClusterView) -> list[Node]:
    """The nodes the contract allows for ``pod``, in node order (built-ins read the live objects)."""
    live: Pod = pod._pod  # type: ignore[attr-defined]
    return [node for node in cluster._state.node_list if placement_problem(live, node) is None]  # type: ignore[attr-defined]


class FirstFit:
    """The first node, in node order, that the pod may legally run on."""

    name = "first-fit"

    def __init__(self, rng: random.Random | None = None) -> None:
        del rng  # deterministic: takes rng only to share the factory signature

    def schedule(self, pod: PodView, cluster: ClusterView) -> str | None:
        live: Pod = pod._pod  # type: ignore[attr-defined]
        for node in cluster._state.node_list:  # type: ignore[attr-defined]
            if placement_problem(live, node) is None:
                return node.name
        return None


class RoundRobin:
    """Legal nodes in turn: the first legal node after the one chosen last (by node order, wrapping)."""

    name = "round-robin"

    def __init__(self, rng: random.Random | None = None) -> None:
        del rng
        self.last: str | None = None

    def schedule(self, pod: PodView, cluster: ClusterView) -> str | None:
        legal = _legal_nodes(pod, cluster)
        if not legal:
            return None
        nodes = cluster._state.nodes  # type: ignore[attr-defined]
        last = nodes.get(self.last) if self.last is not None else None
        after = [n for n in legal if last is not None and n.index > last.index]
        choice = (after or legal)[0]
        self.last = choice.name
        return choice.name


class RandomFit:
    """A uniformly random legal node, drawn from the simulation's seeded generator."""

    name = "random"

    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng if rng is not None else random.Random(0)

    def schedule(self, pod: PodView, cluster: ClusterView) -> str | None:
        legal = _legal_nodes(pod, cluster)
        return self.rng.choice(legal).name if legal else None


class BinPacking:
    """The legal node that is already most allocated (CPU + memory fractions after placing the pod).

    Fills nodes before opening new ones; the first node in node order wins a tie.
    """

    name = "bin-packing"

    def __init__(self, rng: random.Random | None = None) -> None:
        del rng

    def schedule(self, pod: PodView, cluster: ClusterView) -> str | None:
        req = pod.requests
        best: Node | None = None
        best_fill = -1.0
        for node in _legal_nodes(pod, cluster):
            alloc = node.allocatable
            fill = 0.0
            if alloc.cpu_millis:
                fill += (node.requested_cpu + req.cpu_millis) / alloc.cpu_millis
            if alloc.memory_bytes:
                fill += (node.requested_memory + req.memory_bytes) / alloc.memory_bytes
            if fill > best_fill:
                best, best_fill = node, fill
        return best.name if best is not None else None
