"""Which pods a ReplicaSet deletes first when it scales down: ``getPodsToDelete`` and ``ActivePodsWithRanks``.

Upstream (kubernetes/kubernetes:pkg/controller/replicaset/replica_set.go ``getPodsToDelete`` and
``getPodsRankedByRelatedPodsOnSameNode``; kubernetes/kubernetes:pkg/controller/controller_utils.go
``ActivePodsWithRanks.Less``), with the LogarithmicScaleDown and PodDeletionCost gates on (their
defaults). Pod A goes before pod B by the first rule that tells them apart:

1. unassigned (no node) before assigned (``spec.nodeName`` set: a pod waiting for the node its
   ``nodeName`` names counts as assigned, as upstream, where that is the pod's node name);
2. phase Pending before Unknown before Running;
3. not Ready before Ready;
4. lower ``controller.kubernetes.io/pod-deletion-cost`` before higher (int32; default, or invalid, 0);
5. higher rank before lower: the rank is how many active pods of the same owner family (every
   ReplicaSet of the same Deployment) share the pod's node, so doubled-up pods go first;
6. both Ready with different ready times: the more recently Ready first, compared on the log2 scale of
   ``now - readyTime`` in nanoseconds, ties in the same bucket broken by uid (lower uid first);
7. higher container restart count first;
8. different creationTimestamps: the newer first, on the same log2 scale, ties by uid.

Rules 6 and 8 read the Ready condition's lastTransitionTime and the creationTimestamp as the
controller's informer holds them: ``metav1.Time``, which the API carries in whole seconds (RFC 3339 in
JSON; ``ProtoTime`` drops the nanoseconds and ``Unmarshal`` reads none, kubernetes/kubernetes:
staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/time_proto.go). So two pods that turned Ready within
the same second have *equal* ready times and rule 7 decides between them; only ``now`` is exact.

Pods no rule tells apart keep their input order (creation order in the model; Go's ``sort.Sort`` is
not stable, so upstream leaves that order undefined). When every pod goes, none are sorted.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence

from podquake.model import constants as k8s
from podquake.model.controllers.common import api_time
from podquake.model.objects import Pod

__all__ = ["deletion_cost", "log2_rank", "pods_to_delete", "rank_by_node"]

_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
# GetDeletionCostFromPodAnnotations: validFirstDigit (no "+" sign, no leading zero unless the value
# is "0"; a "-" may lead), then strconv.ParseInt(value, 10, 32).
_COST = re.compile(r"^(-[0-9]+|0|[1-9][0-9]*)$")


def deletion_cost(pod: Pod) -> int:
    """The pod-deletion-cost annotation as upstream reads it; 0 when absent or invalid
    (kubernetes/kubernetes:pkg/apis/core/helper/helpers.go ``GetDeletionCostFromPodAnnotations``)."""
    value = pod.annotations.get(k8s.POD_DELETION_COST_ANNOTATION)
    if value is None or not _COST.match(value):
        return 0
    cost = int(value)
    return cost if _INT32_MIN <= cost <= _INT32_MAX else 0


def log2_rank(since: float, now: float) -> int:
    """``int64(math.Log2(float64(now - since)))`` with the duration in nanoseconds; -1 if not positive."""
    nanos = round((now - since) * 1e9)
    return nanos.bit_length() - 1 if nanos > 0 else -1


def _node_name(pod: Pod) -> str:
    """Upstream's ``pod.Spec.NodeName``: the node it is bound to, or the one its spec names and waits for."""
    return pod.node_name or pod.spec.node_name or ""


def rank_by_node(pods: Iterable[Pod], related: Iterable[Pod]) -> dict[str, int]:
    """Rank of each pod (by uid): the number of active related pods on its node (upstream
    ``getPodsRankedByRelatedPodsOnSameNode``; unassigned pods share the node name "")."""
    on_node: dict[str, int] = {}
    for pod in related:
        if pod.active:
            node = _node_name(pod)
            on_node[node] = on_node.get(node, 0) + 1
    return {pod.uid: on_node.get(_node_name(pod), 0) for pod in pods}


def _head(pod: Pod, rank: int) -> tuple[bool, int, bool, int, int]:
    """Rules 1 to 5 as a sort key: they compare field by field, so a tuple does it in one go."""
    return (_node_name(pod) != "", _PHASE_ORDINAL.get(pod.phase, 0), pod.ready, deletion_cost(pod), -rank)


def _tail_less(a: Pod, b: Pod, now: float) -> bool:
    """Rules 6 to 8 of ``ActivePodsWithRanks.Less``, for pods that rules 1 to 5 do not tell apart."""
    if a.ready and b.ready:
        ready_a = None if a.ready_since is None else api_time(a.ready_since)
        ready_b = None if b.ready_since is None else api_time(b.ready_since)
        if ready_a != ready_b:
            if ready_a is None or ready_b is None:  # afterOrZero: a zero time counts as latest
                return ready_a is None
            diff = log2_rank(ready_a, now) - log2_rank(ready_b, now)
            return a.uid < b.uid if diff == 0 else diff < 0
    restarts_a, restarts_b = a.restart_count, b.restart_count
    if restarts_a != restarts_b:
        return restarts_a > restarts_b
    created_a, created_b = api_time(a.created_at), api_time(b.created_at)
    if created_a != created_b:
        diff = log2_rank(created_a, now) - log2_rank(created_b, now)
        return a.uid < b.uid if diff == 0 else diff < 0
    return False


def pods_to_delete(pods: Sequence[Pod], related: Iterable[Pod], count: int, now: float) -> list[Pod]:
    """The ``count`` pods of ``pods`` to delete first (``getPodsToDelete``).

    ``related`` are the pods of the whole owner family, used for the rank (rule 5); upstream passes
    no related pods for a ReplicaSet without a controller, so every rank is 0 then.
    """
    if count >= len(pods):
        return list(pods)
    ranks = rank_by_node(pods, related)
    heads = {pod.uid: _head(pod, ranks[pod.uid]) for pod in pods}

    def compare(a: Pod, b: Pod) -> int:
        head_a, head_b = heads[a.uid], heads[b.uid]
        if head_a != head_b:
            return -1 if head_a < head_b else 1
        if _tail_less(a, b, now):
            return -1
        return 1 if _tail_less(b, a, now) else 0

    return sorted(pods, key=functools.cmp_to_key(compare))[:count]
