"""The node lifecycle controller and the taint eviction controller: what happens when nodes stop answering.

Node lifecycle (kubernetes/kubernetes:pkg/controller/nodelifecycle/node_lifecycle_controller.go,
scheduler/rate_limited_queue.go). Every ``NODE_MONITOR_PERIOD_SECONDS`` (5 s) a monitor pass:

1. Node health (``tryUpdateNodeHealth``). The controller notes, per node, the pass at which it
   first saw the latest lease renewal (``probeTimestamp``). A node not renewed for longer than
   ``NODE_MONITOR_GRACE_PERIOD_SECONDS`` (50 s) after that gets Ready=Unknown; so a node whose last
   renewal was at ``h`` goes Unknown at the first pass after ``p + 50`` with ``p`` the first pass at
   or after ``h``: between 50 and 60 s after ``h``. Only a node whose kubelet never posted its Ready
   condition (never started on it; ``Node.status_posted``) is given ``NODE_STARTUP_GRACE_PERIOD_SECONDS``
   (60 s) from its creation; one whose kubelet did has the 50 s grace even if it never renewed its
   lease (``h`` is then its creation). When a node goes from Ready to not Ready its pods are marked
   not Ready (``MarkPodsNotReady``).
2. Taint-based eviction (``processTaintBaseEviction``), from the Ready condition as it was when the
   pass began: Unknown queues the node for the ``node.kubernetes.io/unreachable:NoExecute`` taint,
   False (the kubelet reports NotReady) for ``node.kubernetes.io/not-ready:NoExecute`` (the two are
   swapped at once if the node has the other one); Ready nodes lose both taints and leave the queue.
   Each zone has its own queue, drained through a token bucket (burst 1) at the zone's rate.
3. Zone disruption (``handleDisruption`` with ``ComputeZoneState``): a zone is FullDisruption when
   none of its nodes is Ready, PartialDisruption when more than 2 are not Ready and they are at least
   ``UNHEALTHY_ZONE_THRESHOLD`` (55 %) of it, else Normal. Tainting rate: Normal and FullDisruption
   ``NODE_EVICTION_RATE`` (0.1 node/s); PartialDisruption ``SECONDARY_NODE_EVICTION_RATE`` (0.01) if
   the zone has more than ``LARGE_CLUSTER_SIZE_THRESHOLD`` (50) nodes, else 0 (stop). If every zone
   is fully disrupted the controller blames itself or the network: it stops tainting and removes
   the NoExecute taints; when some node is Ready again it resets every node's probe timestamp (a new
   grace period for all) and the zone rates. Zone state changes are recorded
   (``state.record_zone_state``); the first state of a zone is recorded unless it is Normal.

The NoSchedule taints follow the Ready condition at once (``doNoScheduleTaintingPass``):
``unreachable`` for Unknown, ``not-ready`` for False, none for True, and
``node.kubernetes.io/unschedulable`` on cordoned nodes.

Taint eviction (kubernetes/kubernetes:pkg/controller/tainteviction/taint_eviction.go): for a pod on
a node with NoExecute taints, each taint is matched with the pod's first tolerating toleration; an
untolerated taint deletes the pod at once (``state.request_pod_deletion(uid, "TaintEviction")``);
otherwise the pod is deleted after the smallest ``tolerationSeconds`` of the matched tolerations
(forever if none has one), counted from when the controller first saw the pod under NoExecute taints
(kept while the taints change, as upstream's ``CreatedAt``). Admission gives every pod 300 s for
``not-ready`` and ``unreachable`` (model/admission.py), so a dead node's pods are deleted about
50-60 s + 5 s + 300 s after its last renewal. Removing the taints cancels the eviction. A deleted pod
on an unreachable node stays Terminating until its kubelet comes back, as upstream.

Simplifications, on purpose: passes take no time and see the state of their instant (upstream reads
informer caches, in parallel); the NoExecute queue is drained the moment a token is available
(upstream tries it every 100 ms); nodes are processed in index order (upstream: map order);
node conditions other than Ready (memory/disk/PID pressure) are not modelled; zones are keyed by the
zone label alone (upstream: region and zone); float64 arithmetic stands in for Go's float32.

Outages (:class:`~podquake.model.controllers.common.Pausable`, for the chaos layer): paused, the
controller (and its taint eviction controller) marks, taints and evicts nothing; its watch handlers
keep their counts. Resuming is a restarted kube-controller-manager: every node gets a fresh grace
period (an empty ``nodeHealthMap`` takes each node's probe timestamp as now), the NoSchedule taints
are brought in line with the nodes' conditions, and the taint eviction controller starts over (each
pod under NoExecute taints is timed again from now, as its in-memory queue was lost). The first
monitor pass runs at once (then every 5 s from there) and, as upstream's first pass sees every node
as new (``markNodeAsReachable`` on each), every node loses its NoExecute Ready taints; the nodes still
not Ready are queued again and re-tainted through fresh zone queues at the zone's rate, so with two
dead nodes in a zone the second one's pods are evicted 10 s after the first one's.

>>> compute_zone_state(ready=2, not_ready=1), compute_zone_state(ready=1, not_ready=3), compute_zone_state(0, 2)
('Normal', 'PartialDisruption', 'FullDisruption')
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import TYPE_CHECKING

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.controllers.common import Pausable
from podquake.model.objects import Node, Pod
from podquake.model.selectors import Taint, Toleration

if TYPE_CHECKING:
    import simpy

    from podquake.model.simulation import Simulation

__all__ = [
    "FULL_DISRUPTION",
    "INITIAL",
    "NORMAL",
    "PARTIAL_DISRUPTION",
    "NodeLifecycleController",
    "TaintEvictionController",
    "compute_zone_state",
    "min_toleration_seconds",
    "zone_eviction_rate",
]

INITIAL = "Initial"
NORMAL = "Normal"
FULL_DISRUPTION = "FullDisruption"
PARTIAL_DISRUPTION = "PartialDisruption"

_NO_EXECUTE = "NoExecute"
_NO_SCHEDULE = "NoSchedule"
_READY_TAINT_KEYS = (k8s.TAINT_NOT_READY, k8s.TAINT_UNREACHABLE)
_EPS = 1e-9


def compute_zone_state(ready: int, not_ready: int) -> str:
    """Upstream ``ComputeZoneState``: FullDisruption if no node is Ready (and some are not),
    PartialDisruption if more than 2 are not Ready and they are >= 55 % of the zone, else Normal."""
    if ready == 0 and not_ready > 0:
        return FULL_DISRUPTION
    if not_ready > 2 and not_ready / (not_ready + ready) >= k8s.UNHEALTHY_ZONE_THRESHOLD:
        return PARTIAL_DISRUPTION
    return NORMAL


def zone_eviction_rate(zone_state: str, zone_size: int) -> float:
    """Nodes per second the zone's NoExecute taints may be added at (``setLimiterInZone`` with
    ``HealthyQPSFunc`` for Normal and FullDisruption, ``ReducedQPSFunc`` for PartialDisruption).

    >>> zone_eviction_rate("Normal", 3), zone_eviction_rate("PartialDisruption", 51), zone_eviction_rate("PartialDisruption", 50)
    (0.1, 0.01, 0.0)
    """
    if zone_state == PARTIAL_DISRUPTION:
        return k8s.SECONDARY_NODE_EVICTION_RATE if zone_size > k8s.LARGE_CLUSTER_SIZE_THRESHOLD else 0.0
    return k8s.NODE_EVICTION_RATE


def min_toleration_seconds(tolerations: list[Toleration]) -> float | None:
    """Upstream ``getMinTolerationTime``: the smallest tolerationSeconds (0 if any is <= 0), or None
    (tolerated forever) when none sets it."""
    if not tolerations:
        return 0.0
    smallest: float | None = None
    for toleration in tolerations:
        seconds = toleration.toleration_seconds
        if seconds is not None:
            if seconds <= 0:
                return 0.0
            if smallest is None or seconds < smallest:
                smallest = seconds
    return smallest


class _ZoneTainter:
    """A zone's ``RateLimitedTimedQueue``: a FIFO of node names, deduplicated by a set that keeps a
    node after it is processed (until ``remove``), drained through a token bucket of burst 1.

    A rate of 0 is upstream's ``FakeNeverRateLimiter``: nothing is ever accepted. Swapping to a new
    rate starts the new bucket empty if the old one had no token (``SwapLimiter``).
    """

    __slots__ = ("qps", "tokens", "last", "queue", "processed", "wake_at")

    def __init__(self, qps: float, now: float) -> None:
        self.qps = qps
        self.tokens = float(k8s.EVICTION_RATE_LIMITER_BURST)
        self.last = now
        self.queue: dict[str, None] = {}
        self.processed: dict[str, None] = {}
        self.wake_at: float | None = None

    def add(self, name: str) -> bool:
        if name in self.queue or name in self.processed:
            return False
        self.queue[name] = None
        return True

    def remove(self, name: str) -> bool:
        found = name in self.queue or name in self.processed
        self.queue.pop(name, None)
        self.processed.pop(name, None)
        return found

    def _refill(self, now: float) -> None:
        if self.qps > 0:
            self.tokens = min(float(k8s.EVICTION_RATE_LIMITER_BURST), self.tokens + (now - self.last) * self.qps)
        self.last = now

    def try_accept(self, now: float) -> bool:
        if self.qps <= 0:
            return False
        self._refill(now)
        if self.tokens >= 1.0 - _EPS:
            self.tokens = max(0.0, self.tokens - 1.0)
            return True
        return False

    def seconds_to_token(self, now: float) -> float:
        self._refill(now)
        return max(0.0, (1.0 - self.tokens) / self.qps)

    def swap(self, qps: float, now: float) -> None:
        if qps == self.qps:
            return
        if qps <= 0:
            self.qps = 0.0
            return
        drained = not self.try_accept(now)
        self.qps = qps
        self.tokens = 0.0 if drained else float(k8s.EVICTION_RATE_LIMITER_BURST)
        self.last = now


def _by_index(node: Node) -> int:
    return node.index


class NodeLifecycleController(Pausable):
    """Marks silent nodes Unknown, taints them, and tunes eviction per zone. See the module docstring."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.env = sim.env
        self.state = sim.state
        self.zone_states: dict[str, str] = {}
        self.eviction = TaintEvictionController(sim)
        self._tainters: dict[str, _ZoneTainter] = {}
        self._zone_size: dict[str, int] = {}
        self._zone_not_ready: dict[str, int] = {}
        self._counted: dict[str, bool] = {}  # node -> counted Ready, for nodes in disruption checks
        self._not_ready: dict[str, None] = {}  # nodes whose Ready is not True
        self._marked: dict[str, None] = {}  # nodes queued for, or carrying, a NoExecute Ready taint
        self._first_pass = 0.0
        self._probe_floor = -math.inf  # every node's probe timestamp is at least this
        self._zones_version = 0  # bumped when a zone's node counts or a zone's entry change
        self._zones_judged = -1  # the version handleDisruption last judged
        self._loop_gen = 0  # the running monitor loop's; a restart starts a new loop

    def start(self) -> None:
        state = self.state
        state.watch(ev.NodeAdded, self._on_node_added)
        state.watch(ev.NodeRemoved, self._on_node_removed)
        state.watch(ev.NodeReadyChanged, self._on_ready_changed)
        state.watch(ev.NodeCordoned, self._on_cordoned)
        state.watch(ev.NodeTainted, self._on_tainted)
        for node in state.node_list:
            self._track(node)
        self.eviction.start()
        self._first_pass = self.env.now
        self.env.process(self._monitor_loop(self._loop_gen))

    def _monitor_loop(self, gen: int) -> Generator[simpy.Event, None, None]:
        """``wait.Until(monitorNodeHealth, nodeMonitorPeriod)``: a pass now, then every 5 s, until a
        restart (:meth:`_on_resume`) starts a new loop."""
        period = k8s.NODE_MONITOR_PERIOD_SECONDS
        while gen == self._loop_gen:
            self.monitor()
            yield self.env.timeout(period)

    # --- outages -------------------------------------------------------------------------------------
    def pause(self) -> bool:
        """The controller manager is down: no monitor pass, no taint, no eviction (module docstring)."""
        self.eviction.pause()
        return super().pause()

    def _on_resume(self) -> None:
        """A restarted kube-controller-manager (module docstring): its first pass sees every node as
        new (``classifyNodes`` against an empty ``knownNodeSet``) and calls ``markNodeAsReachable``
        on each, removing both NoExecute Ready taints; zones start Initial with fresh queues and full
        token buckets (``addPodEvictorForNewZone``), and every node a fresh grace period. The pass
        runs at once and on a new 5 s grid (``wait.Until`` calls it at the start); it queues the
        nodes that are still not Ready, which are tainted again at the zone's rate."""
        now = self.env.now
        self._probe_floor = self._first_pass = now
        self._tainters = {}
        self.zone_states = {}
        self._zones_judged = -1
        for node in self.state.node_list:
            self._mark_reachable(node)
            self._ensure_zone(node.zone)
            self._sync_no_schedule(node)
        self.eviction.resume()
        self._loop_gen += 1
        self.env.process(self._monitor_loop(self._loop_gen))

    # --- bookkeeping from watch events ---------------------------------------------------------------
    def _on_node_added(self, event: ev.NodeAdded) -> None:
        self._track(self.state.nodes[event.node])

    def _track(self, node: Node) -> None:
        if k8s.LABEL_EXCLUDE_DISRUPTION not in node.labels:
            ready = node.ready == "True"
            self._zones_version += 1
            self._counted[node.name] = ready
            self._zone_size[node.zone] = self._zone_size.get(node.zone, 0) + 1
            self._zone_not_ready[node.zone] = self._zone_not_ready.get(node.zone, 0) + (not ready)
        self._ensure_zone(node.zone)
        if node.ready != "True":
            self._not_ready[node.name] = None
        self._sync_no_schedule(node)

    def _on_node_removed(self, event: ev.NodeRemoved) -> None:
        name = event.node
        counted = self._counted.pop(name, None)
        for tainter in self._tainters.values():  # the node object is gone, and with it its zone
            tainter.remove(name)
        self._not_ready.pop(name, None)
        self._marked.pop(name, None)
        if counted is not None:
            self._recount_zones()

    def _recount_zones(self) -> None:
        """Rebuild the per-zone counts from the store (only after a node removal: rare)."""
        self._zones_version += 1
        self._zone_size = {}
        self._zone_not_ready = {}
        for node in self.state.node_list:
            if node.name in self._counted:
                self._zone_size[node.zone] = self._zone_size.get(node.zone, 0) + 1
                self._zone_not_ready[node.zone] = self._zone_not_ready.get(node.zone, 0) + (node.ready != "True")

    def _on_ready_changed(self, event: ev.NodeReadyChanged) -> None:
        node = self.state.nodes[event.node]
        ready = event.status == "True"
        counted = self._counted.get(node.name)
        if counted is not None and counted != ready:
            self._counted[node.name] = ready
            self._zone_not_ready[node.zone] += -1 if ready else 1
            self._zones_version += 1
        if ready:
            self._not_ready.pop(node.name, None)
        else:
            self._not_ready[node.name] = None
        self._sync_no_schedule(node)

    def _on_cordoned(self, event: ev.NodeCordoned) -> None:
        self._sync_no_schedule(self.state.nodes[event.node])

    def _on_tainted(self, event: ev.NodeTainted) -> None:
        if event.effect == _NO_EXECUTE and event.key in _READY_TAINT_KEYS:
            self._marked[event.node] = None

    def _sync_no_schedule(self, node: Node) -> None:
        """``doNoScheduleTaintingPass``: the NoSchedule taints mirror Ready and spec.unschedulable."""
        if self.paused:
            return
        wanted = []
        if node.ready == "Unknown":
            wanted.append(k8s.TAINT_UNREACHABLE)
        elif node.ready == "False":
            wanted.append(k8s.TAINT_NOT_READY)
        if node.unschedulable:
            wanted.append(k8s.TAINT_UNSCHEDULABLE)
        managed = (k8s.TAINT_UNREACHABLE, k8s.TAINT_NOT_READY, k8s.TAINT_UNSCHEDULABLE)
        present = [t.key for t in node.taints if t.effect == _NO_SCHEDULE and t.key in managed]
        for key in wanted:
            if key not in present:
                self.state.add_taint(node.name, Taint(key, "", _NO_SCHEDULE))
        for key in present:
            if key not in wanted:
                self.state.remove_taint(node.name, key, _NO_SCHEDULE)

    def _ensure_zone(self, zone: str) -> _ZoneTainter:
        """``addPodEvictorForNewZone``: a new zone gets a fresh queue at the normal rate."""
        if zone not in self.zone_states or zone not in self._tainters:
            self._zones_version += 1
            self.zone_states.setdefault(zone, INITIAL)
            self._tainters[zone] = _ZoneTainter(k8s.NODE_EVICTION_RATE, self.env.now)
        return self._tainters[zone]

    # --- the monitor pass ----------------------------------------------------------------------------
    def monitor(self) -> None:
        """One ``monitorNodeHealth`` pass (called every 5 s; public for tests). None while paused."""
        if self.paused:
            return
        now = self.env.now
        state = self.state
        nodes = state.nodes
        observed = {name: nodes[name].ready for name in self._not_ready}
        limit = now - k8s.NODE_MONITOR_GRACE_PERIOD_SECONDS
        if self._probe_floor < limit and state.unrenewed:
            silent = [n for n in state.unrenewed.values() if n.renewed_at < limit and n.ready != "Unknown"]
            for node in sorted(silent, key=_by_index):  # a renewed lease is at most 10 s old
                self._check_silent(node, now)
        if observed or self._marked:
            pending = dict.fromkeys(observed)
            pending.update(self._marked)
            for node in sorted((nodes[name] for name in pending if name in nodes), key=_by_index):
                self._process_taint_based_eviction(node, observed.get(node.name, "True"))
        if self._zones_version != self._zones_judged:  # no zone count changed: the zones stand as judged
            self._handle_disruption(now)
            self._zones_judged = self._zones_version
        for zone, tainter in self._tainters.items():
            if tainter.queue:
                self._drain(zone)

    def _check_silent(self, node: Node, now: float) -> None:
        """The exact ``probeTimestamp + gracePeriod`` test for a node whose lease looks stale."""
        heartbeat = node.renewed_at  # nobody renews it (only unrenewed leases are checked)
        if not node.status_posted:  # no Ready condition yet (tryUpdateNodeHealth): the startup grace from creation
            probe, grace = node.created_at, k8s.NODE_STARTUP_GRACE_PERIOD_SECONDS
        else:
            probe, grace = self._observed_at(heartbeat), k8s.NODE_MONITOR_GRACE_PERIOD_SECONDS
        if now <= max(probe, self._probe_floor) + grace:
            return
        was_ready = node.ready == "True"
        self.state.set_node_ready(node.name, "Unknown", "NodeStatusUnknown")
        if was_ready:
            for pod in list(node.pods.values()):
                self.state.set_pod_ready(pod.uid, False)

    def _observed_at(self, heartbeat: float) -> float:
        """The first monitor pass at or after ``heartbeat``: when the controller saw that renewal."""
        period = k8s.NODE_MONITOR_PERIOD_SECONDS
        if heartbeat <= self._first_pass:
            return self._first_pass
        return self._first_pass + math.ceil((heartbeat - self._first_pass) / period - _EPS) * period

    def _process_taint_based_eviction(self, node: Node, observed: str) -> None:
        if observed == "False":
            self._queue_or_swap(node, k8s.TAINT_NOT_READY, k8s.TAINT_UNREACHABLE)
        elif observed == "Unknown":
            self._queue_or_swap(node, k8s.TAINT_UNREACHABLE, k8s.TAINT_NOT_READY)
        else:
            self._mark_reachable(node)

    def _queue_or_swap(self, node: Node, key: str, opposite: str) -> None:
        """Swap at once if the node carries the opposite taint, else ``markNodeForTainting``."""
        if self._has_no_execute(node, opposite):
            self._swap(node, key, opposite)
            return
        tainter = self._ensure_zone(node.zone)
        if not self._has_no_execute(node, key):
            tainter.remove(node.name)  # re-queue behind the others, as upstream's Remove + Add
        if tainter.add(node.name):
            self._marked[node.name] = None

    def _mark_reachable(self, node: Node) -> None:
        """``markNodeAsReachable``: drop both NoExecute Ready taints and leave the zone's queue."""
        self.state.remove_taint(node.name, k8s.TAINT_UNREACHABLE, _NO_EXECUTE)
        self.state.remove_taint(node.name, k8s.TAINT_NOT_READY, _NO_EXECUTE)
        tainter = self._tainters.get(node.zone)
        if tainter is not None:
            tainter.remove(node.name)
        self._marked.pop(node.name, None)

    def _swap(self, node: Node, add: str, remove: str) -> None:
        self.state.add_taint(node.name, Taint(add, "", _NO_EXECUTE))
        self.state.remove_taint(node.name, remove, _NO_EXECUTE)

    @staticmethod
    def _has_no_execute(node: Node, key: str) -> bool:
        return any(t.key == key and t.effect == _NO_EXECUTE for t in node.taints)

    # --- the NoExecute tainting queues (doNoExecuteTaintingPass) -------------------------------------
    def _drain(self, zone: str) -> None:
        tainter = self._tainters.get(zone)
        if tainter is None or self.paused:
            return
        now = self.env.now
        nodes = self.state.nodes
        while tainter.queue and tainter.try_accept(now):
            name = next(iter(tainter.queue))
            del tainter.queue[name]
            tainter.processed[name] = None
            node = nodes.get(name)
            if node is None:
                continue
            if node.ready == "False":
                self._swap(node, k8s.TAINT_NOT_READY, k8s.TAINT_UNREACHABLE)
            elif node.ready == "Unknown":
                self._swap(node, k8s.TAINT_UNREACHABLE, k8s.TAINT_NOT_READY)
            # Ready again: the token is spent and the node left alone, as upstream.
        if tainter.queue and tainter.qps > 0:
            when = now + tainter.seconds_to_token(now)
            if tainter.wake_at is None or when < tainter.wake_at - _EPS:
                tainter.wake_at = when
                timeout = self.env.timeout(when - now)
                timeout.callbacks.append(lambda _e: self._wake(zone, tainter, when))  # type: ignore[union-attr]

    def _wake(self, zone: str, tainter: _ZoneTainter, when: float) -> None:
        if tainter.wake_at == when:
            tainter.wake_at = None
        if self._tainters.get(zone) is tainter:
            self._drain(zone)

    # --- zones (handleDisruption) ----------------------------------------------------------------------
    def _handle_disruption(self, now: float) -> None:
        new_states: dict[str, str] = {}
        all_full = True
        for zone, size in self._zone_size.items():
            if size <= 0:
                continue
            not_ready = self._zone_not_ready.get(zone, 0)
            zone_state = compute_zone_state(size - not_ready, not_ready)
            if zone_state != FULL_DISRUPTION:
                all_full = False
            new_states[zone] = zone_state
            self._ensure_zone(zone)
        all_were_full = True
        for zone in list(self.zone_states):
            if zone not in new_states:
                del self.zone_states[zone]
            elif self.zone_states[zone] != FULL_DISRUPTION:
                all_were_full = False
        if all_full and all_were_full:
            return
        if all_full:
            # Every zone is dark: blame the control plane or the network, stop all evictions.
            for node in [self.state.nodes[n] for n in self._marked if n in self.state.nodes]:
                self._mark_reachable(node)
            for zone in self.zone_states:
                self._tainters[zone].swap(0.0, now)
                self._set_zone_state(zone, FULL_DISRUPTION)
            return
        if all_were_full:
            # Leaving that mode: every node gets a fresh grace period, every zone its own rate.
            self._probe_floor = now
            for zone in self.zone_states:
                self._tainters[zone].swap(zone_eviction_rate(new_states[zone], self._zone_size[zone]), now)
                self._set_zone_state(zone, new_states[zone])
            return
        for zone, old in self.zone_states.items():
            new = new_states[zone]
            if old != new:
                self._tainters[zone].swap(zone_eviction_rate(new, self._zone_size[zone]), now)
                self._set_zone_state(zone, new)

    def _set_zone_state(self, zone: str, new: str) -> None:
        old = self.zone_states.get(zone, INITIAL)
        self.zone_states[zone] = new
        if old != new and not (old == INITIAL and new == NORMAL):
            self.state.record_zone_state(zone, new)


class _Eviction:
    __slots__ = ("uid", "created_at", "fire_at")

    def __init__(self, uid: str, created_at: float, fire_at: float) -> None:
        self.uid = uid
        self.created_at = created_at
        self.fire_at = fire_at


class TaintEvictionController(Pausable):
    """Deletes pods from nodes with NoExecute taints they do not tolerate (long enough). Paused, it
    deletes nothing; resumed, it times every pod under NoExecute taints again from now."""

    def __init__(self, sim: Simulation) -> None:
        self.env = sim.env
        self.state = sim.state
        self.scheduled: dict[str, _Eviction] = {}  # by pod key, as upstream's TimedWorkerQueue

    def start(self) -> None:
        state = self.state
        state.watch(ev.NodeTainted, self._on_taints_changed)
        state.watch(ev.NodeUntainted, self._on_taints_changed)
        state.watch(ev.PodBound, self._on_bound)
        state.watch(ev.PodDeleted, self._on_deleted)

    def _on_taints_changed(self, event: ev.NodeTainted | ev.NodeUntainted) -> None:
        if event.effect != _NO_EXECUTE:
            return
        node = self.state.nodes.get(event.node)
        if node is None:
            return
        taints = [t for t in node.taints if t.effect == _NO_EXECUTE]
        now = self.env.now
        for pod in list(node.pods.values()):
            if taints:
                self._process(pod, taints, now)
            else:
                self.scheduled.pop(pod.key, None)

    def _on_bound(self, event: ev.PodBound) -> None:
        node = self.state.nodes[event.node]
        if node.taints:
            taints = [t for t in node.taints if t.effect == _NO_EXECUTE]
            if taints:
                self._process(self.state.pods_by_key[event.pod], taints, self.env.now)

    def _on_deleted(self, event: ev.PodDeleted) -> None:
        self.scheduled.pop(event.pod, None)

    def _process(self, pod: Pod, taints: list[Taint], now: float) -> None:
        """``processPodOnNode``."""
        if pod.deletion_timestamp is not None:
            return
        used: list[Toleration] = []
        for taint in taints:
            match = next((t for t in pod.spec.tolerations if t.tolerates(taint)), None)
            if match is None:
                self.scheduled.pop(pod.key, None)
                self._schedule(pod, now, now)
                return
            used.append(match)
        seconds = min_toleration_seconds(used)
        if seconds is None:
            self.scheduled.pop(pod.key, None)
            return
        start = now
        existing = self.scheduled.get(pod.key)
        if existing is not None and existing.uid == pod.uid:
            start = existing.created_at
            if start < now:  # upstream: CreatedAt + min < now + min keeps the scheduled eviction
                return
            del self.scheduled[pod.key]
        self._schedule(pod, start, start + seconds)

    def _schedule(self, pod: Pod, created_at: float, fire_at: float) -> None:
        eviction = _Eviction(pod.uid, created_at, fire_at)
        self.scheduled[pod.key] = eviction
        timeout = self.env.timeout(max(0.0, fire_at - self.env.now))
        timeout.callbacks.append(lambda _e: self._fire(pod.key, eviction))  # type: ignore[union-attr]

    def _on_resume(self) -> None:
        """A restarted taint eviction controller: its timed queue is empty; every pod on a node with
        NoExecute taints is processed again (``processPodOnNode`` with no scheduled eviction)."""
        self.scheduled = {}
        now = self.env.now
        for node in self.state.node_list:
            taints = [t for t in node.taints if t.effect == _NO_EXECUTE]
            if taints:
                for pod in list(node.pods.values()):
                    self._process(pod, taints, now)

    def _fire(self, key: str, eviction: _Eviction) -> None:
        if self.paused or self.scheduled.get(key) is not eviction:
            return
        del self.scheduled[key]
        pod = self.state.pods_by_key.get(key)
        if pod is not None and pod.uid == eviction.uid:
            self.state.request_pod_deletion(pod.uid, "TaintEviction")
