"""Known bugs, seeded on purpose, that podquake's default chaos campaign must find.

Two sorts:

- **Scheduler plug-ins** (objects with ``name`` and ``schedule(pod, cluster)``), each with one
  mistake real custom schedulers make. A scenario names them as
  ``scheduler="tests.chaos.bugs:IgnoresMemory"``. They read only the public views
  (:class:`~podquake.model.views.ClusterView`, :class:`~podquake.model.views.NodeView`,
  :class:`~podquake.model.views.PodView`), as a user's plug-in would.
- **Model patches**: functions that take a ``monkeypatch``-like object (anything with
  ``setattr(target, name, value)``, as pytest's fixture) and swap one method of a model class for a
  broken one. The campaign runs in-process (``workers=1``), so every simulation it builds has the bug.

Each bug says which property should catch it and why, so a test that fails to find it can say what
is missing.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Protocol

from podquake.model.controllers.hpa_behavior import ScalingHistory
from podquake.model.controllers.replicaset import ReplicaSetController
from podquake.model.kubelet import Kubelet
from podquake.model.proxy import Proxy
from podquake.model.views import ClusterView, NodeView, PodView

__all__ = [
    "AnswersMissingNode",
    "IgnoresMemory",
    "IgnoresNodeHealth",
    "PacksReplicas",
    "RaisesWhenNothingFits",
    "hpa_without_downscale_stabilization",
    "kubelet_never_restarts",
    "proxy_keeps_removed_endpoints",
    "replicaset_forgets_lost_pods",
]


# === helpers for the plug-ins ========================================================================
def _matches(node: NodeView, pod: PodView) -> bool:
    """The pod's nodeSelector and required node affinity (a StatefulSet pod's volume pins it to a zone)."""
    return pod.spec.node_selector_matches(node.name, node.labels)


def _healthy(node: NodeView, pod: PodView) -> bool:
    """Ready, not cordoned, and every NoSchedule/NoExecute taint tolerated (as the contract asks)."""
    if not node.ready or node.unschedulable:
        return False
    tolerations = pod.spec.tolerations
    return all(
        taint.effect == "PreferNoSchedule" or any(t.tolerates(taint) for t in tolerations) for taint in node.taints
    )


def _room(node: NodeView, pod: PodView, *, memory: bool = True) -> bool:
    """Room for the pod's requests (CPU, pod slots and, unless ``memory`` is False, memory)."""
    free, need = node.free, pod.requests
    if need.cpu_millis > free.cpu_millis or free.pods < 1:
        return False
    return not memory or need.memory_bytes <= free.memory_bytes


def _legal(pod: PodView, cluster: ClusterView) -> list[NodeView]:
    return [node for node in cluster.nodes if _healthy(node, pod) and _matches(node, pod) and _room(node, pod)]


def _free_score(node: NodeView) -> float:
    alloc, free = node.allocatable, node.free
    return free.cpu_millis / max(1, alloc.cpu_millis) + free.memory_bytes / max(1, alloc.memory_bytes)


# === scheduler plug-ins ==============================================================================
class IgnoresMemory:
    """Spreads pods onto the node with the most free CPU, checking every rule but memory.

    The bug: memory is left out of the fit check (a scheduler written for CPU-bound services).
    Caught by ``scheduler-contract``: the validating adapter refuses the answer ("lacks memory"), so
    the pod is never overcommitted, but the plug-in is shown to have asked for it. Needs a cluster
    where memory binds, and something that moves a pod: a killed pod's replacement comes while the
    old pod, terminating, still holds its node's memory; a drain; a failed node.
    """

    name = "ignores-memory"

    def schedule(self, pod: PodView, cluster: ClusterView) -> str | None:
        candidates = [n for n in cluster.nodes if _healthy(n, pod) and _matches(n, pod) and _room(n, pod, memory=False)]
        if not candidates:
            return None
        return max(candidates, key=lambda n: (n.free.cpu_millis, -n.index)).name


class IgnoresNodeHealth:
    """Spreads pods onto the emptiest node with room, without looking at readiness, cordons or taints.

    The bug: a drained (cordoned) node or a NotReady one is the emptiest, so it attracts the very
    pods that were moved off it. Caught by ``scheduler-contract`` (the adapter refuses the answer;
    had it bound, ``schedulable-nodes-only`` would have failed). Needs a drain, a node failure or a
    stopped kubelet while pods are being (re)placed.
    """

    name = "ignores-node-health"

    def schedule(self, pod: PodView, cluster: ClusterView) -> str | None:
        candidates = [n for n in cluster.nodes if _matches(n, pod) and _room(n, pod)]
        if not candidates:
            return None
        return max(candidates, key=lambda n: (_free_score(n), -n.index)).name


class PacksReplicas:
    """Places each pod on the legal node already running most pods of the same owner ("keep replicas
    together, the network is faster"), else on the first legal node.

    Every answer is legal, so no safety property objects; the bug is that all replicas of a Service
    share one failure domain. Caught by ``availability-slo``: one node failure takes every ready
    endpoint of a replicated Service while other nodes had room.
    """

    name = "packs-replicas"

    def schedule(self, pod: PodView, cluster: ClusterView) -> str | None:
        legal = _legal(pod, cluster)
        if not legal:
            return None
        owner = pod.owner_name

        def siblings(node: NodeView) -> int:
            if owner is None:
                return 0
            return sum(1 for other in cluster.pods_on(node.name) if other.owner_name == owner)

        return max(legal, key=lambda n: (siblings(n), -n.index)).name


class RaisesWhenNothingFits:
    """Takes the legal node with the most free room, with ``max()`` over a list that can be empty.

    The bug: when no node fits, ``max()`` raises ``ValueError`` instead of answering None. In a full
    cluster a killed pod's replacement fits nowhere until the old pod has terminated, and a drained
    node's pods have nowhere to go. Caught by ``scheduler-contract`` ("raised ValueError").
    """

    name = "raises-when-nothing-fits"

    def schedule(self, pod: PodView, cluster: ClusterView) -> str | None:
        return max(_legal(pod, cluster), key=lambda n: (_free_score(n), -n.index)).name


class AnswersMissingNode:
    """Round-robin over the nodes by composing names, ``worker-1`` to ``worker-N``, with an
    off-by-one in the wrap-around: after ``worker-N`` it answers ``worker-N+1``, which does not exist.

    Caught by ``scheduler-contract`` ("answered unknown node"); it shows on any cluster once more pods
    than nodes are placed, with no fault at all.
    """

    name = "answers-missing-node"

    def __init__(self) -> None:
        self.next = 0

    def schedule(self, pod: PodView, cluster: ClusterView) -> str | None:
        count = len(cluster.nodes)
        self.next = self.next % (count + 1) + 1  # the bug: should be ``% count``
        return f"worker-{self.next}"


# === model patches ===================================================================================
class Patcher(Protocol):
    def setattr(self, target: Any, name: str, value: Any) -> None: ...


def replicaset_forgets_lost_pods(patch: Patcher) -> None:
    """The ReplicaSet controller counts every pod it has ever seen as still there, so a pod that is
    killed, evicted or lost with its node is never replaced (scale-ups still work).

    Caught by ``replicas-converge``: after the heal the workload stays short of its replicas.
    """
    original = ReplicaSetController.manage_replicas

    def manage_replicas(self: ReplicaSetController, rs: Any, active: list[Any]) -> None:
        seen = self.__dict__.setdefault("_seeded_bug_seen", {}).setdefault(rs.uid, {})
        for pod in active:
            seen[pod.uid] = None
        if len(active) < rs.replicas <= len(seen):
            return  # it believes the lost pods are still there
        original(self, rs, active)

    patch.setattr(ReplicaSetController, "manage_replicas", manage_replicas)


def proxy_keeps_removed_endpoints(patch: Patcher) -> None:
    """The node proxies add endpoints but never remove one: a pod that was deleted, or stopped being
    ready, stays in the rotation as a ready endpoint, and its share of the traffic fails.

    Caught by ``service-recovers``: long after the heal, a Service still fails the share of its
    requests that goes to its dead endpoints. (``endpoints-ready-only`` judges the published
    endpoint sets, which are right: the stale copy is inside the proxies.)
    """
    original = Proxy._on_endpoints_changed

    def on_endpoints_changed(self: Proxy, event: Any) -> None:
        update = self.endpoints.published.get(event.service)
        old = self._tables.get(event.service)
        stale = self.__dict__.setdefault("_seeded_bug_stale", {}).setdefault(event.service, {})
        if update is not None and update.version == event.version and old is not None:
            current = {e.pod_uid for e in update.endpoints}
            for endpoint in getattr(old.cluster, "endpoints", ()):
                if endpoint.pod_uid not in current:
                    stale[endpoint.pod_uid] = replace(endpoint, ready=True, terminating=False, serving=True)
            kept = tuple(e for uid, e in stale.items() if uid not in current)
            if kept:
                self.endpoints.published[event.service] = replace(update, endpoints=update.endpoints + kept)
                try:
                    original(self, event)
                finally:
                    self.endpoints.published[event.service] = update
                return
        original(self, event)

    patch.setattr(Proxy, "_on_endpoints_changed", on_endpoints_changed)


def hpa_without_downscale_stabilization(patch: Patcher) -> None:
    """The HPA acts on every recommendation at once: no downscale stabilization window, so it scales
    down the moment load dips and up again when it returns.

    Caught by ``autoscaler-converges`` (oscillation: more direction changes in 300 s than a
    stabilized HPA can make). Needs traffic that moves: spikes on the autoscaled Service.
    """

    def stabilize(self: ScalingHistory, desired: int, now: float, window: float) -> int:
        self.recommendations[:] = []
        self._record(-1, desired, now)
        return desired

    patch.setattr(ScalingHistory, "stabilize", stabilize)


def kubelet_never_restarts(patch: Patcher) -> None:
    """The kubelet reports a crashed container and forgets it: it never runs again (as if every pod
    had restartPolicy Never).

    Caught by ``crashed-containers-restarted``: the restart the back-off promised never comes.
    """

    def restart(self: Kubelet, run: Any, c: Any) -> None:
        return None

    patch.setattr(Kubelet, "_restart", restart)
