"""Safety under disruption: what must survive evictions, crashes and node failures.

- ``rwo-single-attach``: a ReadWriteOnce volume has one writer node (no split brain on data);
- ``pdb-respected``: the eviction API never takes a PodDisruptionBudget below its budget;
- ``no-lost-work``: a work queue never loses (or invents) an item when its workers die.

>>> from podquake.model import trace as ev
>>> from podquake.properties.monitor import check_trace
>>> events = [ev.VolumeProvisioned(0.0, "pv-1", "default/data", "zone-a", ("ReadWriteOnce",)),
...           ev.VolumeAttached(1.0, "pv-1", "worker-1"),
...           ev.VolumeAttached(9.0, "pv-1", "worker-2")]
>>> print(check_trace(events, [RwoSingleAttach()])[0].line())
FAILED rwo-single-attach at t=9s: ReadWriteOnce volume pv-1 was attached to node worker-2 while attached to worker-1 [volume/pv-1, node/worker-1, node/worker-2] nodes=2
"""

from __future__ import annotations

from dataclasses import dataclass

from podquake.model import trace as ev
from podquake.properties.base import Property
from podquake.properties.ledger import Ledger
from podquake.properties.registry import register

__all__ = ["RwoSingleAttach", "PdbRespected", "NoLostWork"]


@register
class RwoSingleAttach(Property):
    """A ReadWriteOnce (or ReadWriteOncePod) volume is attached to at most one node at a time.

    Judged on each ``VolumeAttached`` from the ledger's attachments (``VolumeAttached`` /
    ``VolumeDetached``) and the access modes recorded when the volume was provisioned. Upstream the
    attach/detach controller refuses such an attach with a ``Multi-Attach`` error until the volume
    is detached from the old node, forcibly only after 6 minutes on an unhealthy node
    (kubernetes/kubernetes:pkg/controller/volume/attachdetach/reconciler/reconciler.go).
    """

    id = "rwo-single-attach"
    kind = "safety"
    description = "A ReadWriteOnce volume is attached to at most one node."
    catches = "Two nodes writing one single-writer disk at once (a premature force-detach, a missed Multi-Attach check): corrupted data."

    def on_VolumeAttached(self, event: ev.VolumeAttached, ledger: Ledger) -> None:
        volume = ledger.volumes.get(event.volume)
        if volume is None or not volume.read_write_once or len(volume.attached) <= 1:
            return
        others = sorted(n for n in volume.attached if n != event.node)
        mode = "ReadWriteOncePod" if "ReadWriteOncePod" in volume.access_modes else "ReadWriteOnce"
        self.violate(
            f"{mode} volume {volume.name} was attached to node {event.node} while attached to {', '.join(others)}",
            event.t,
            objects=(f"volume/{volume.name}",) + tuple(f"node/{n}" for n in sorted(volume.attached)),
            numbers={"nodes": len(volume.attached)},
        )


@dataclass(frozen=True, slots=True)
class _Write:
    """A budget status write and the status it replaced (None: the budget's first)."""

    event: ev.DisruptionBudgetUpdated
    replaced: ev.DisruptionBudgetUpdated | None


@register
class PdbRespected(Property):
    """A voluntary eviction never takes a PodDisruptionBudget below its budget.

    Judged on each eviction the API approved (``EvictionRequested`` with code 200) that consulted a
    budget (``pdb`` named): if the pod was Ready, evicting it spends one disruption, so the budget's
    status as it was when the eviction was approved must have allowed one (``disruptionsAllowed >=
    1``; upstream ``checkAndDecrement`` answers 429 otherwise, and when no status is computed yet).
    Evicting a pod that was not Ready takes nothing from ``currentHealthy`` and is not judged.

    The status at approval: the model's eviction API writes the decremented status
    (``DisruptionBudgetUpdated``) just before it deletes the pod, and records the answer after
    (``EvictionRequested``), all at one instant (model/disruption.py). So when a budget update is
    followed directly by the evicted pod's deletion, the status it replaced is the one the approval
    read; when there is no such write, the approval read the budget's latest status, less the
    evictions already approved against that status (an API that forgets to decrement is caught on
    its second eviction). Plain deletions (scale-down, node-failure taint eviction, garbage
    collection) bypass budgets upstream as in the model, and are not judged.

    Limitation: the trace does not record budget selectors, so an eviction the API wrongly answered
    without consulting a budget (``pdb`` empty) cannot be judged.
    """

    id = "pdb-respected"
    kind = "safety"
    description = "Voluntary evictions never take a PodDisruptionBudget below its budget."
    catches = (
        "A drain or eviction path that ignores disruption budgets (or reads a stale status): a quorum "
        "system loses quorum, a service loses all replicas during maintenance."
    )

    def __init__(self, **overrides: object) -> None:
        super().__init__(**overrides)
        self._status: dict[str, ev.DisruptionBudgetUpdated] = {}
        self._spent: dict[str, int] = {}  # approvals of Ready pods the budget's latest status does not reflect
        self._ready: dict[str, bool] = {}  # pod -> Ready, while it exists
        self._last_write: _Write | None = None  # the latest budget write, until the next deletion
        # Deletions of the current instant (an eviction is answered at the instant of its deletion):
        # pod -> (Ready when deleted, the budget write just before the deletion, if any).
        self._deletions: dict[str, tuple[bool, _Write | None]] = {}
        self._instant = -1.0

    def _at(self, t: float) -> None:
        if t != self._instant:
            self._instant = t
            self._deletions.clear()

    def on_DisruptionBudgetUpdated(self, event: ev.DisruptionBudgetUpdated, ledger: Ledger) -> None:
        self._at(event.t)
        self._last_write = _Write(event, self._status.get(event.pdb))
        self._status[event.pdb] = event
        self._spent[event.pdb] = 0

    def on_PodCreated(self, event: ev.PodCreated, ledger: Ledger) -> None:
        self._ready[event.pod] = False

    def on_PodReadyChanged(self, event: ev.PodReadyChanged, ledger: Ledger) -> None:
        self._ready[event.pod] = event.ready

    def on_PodDeletionRequested(self, event: ev.PodDeletionRequested, ledger: Ledger) -> None:
        self._note_deletion(event.pod, event.t, self._ready.get(event.pod, True))

    def on_PodDeleted(self, event: ev.PodDeleted, ledger: Ledger) -> None:
        self._note_deletion(event.pod, event.t, self._ready.pop(event.pod, True))

    def _note_deletion(self, pod: str, t: float, ready: bool) -> None:
        self._at(t)
        write = self._last_write if self._last_write is not None and self._last_write.event.t == t else None
        self._last_write = None
        if pod not in self._deletions:  # a graceful delete's request comes first; keep what it saw
            self._deletions[pod] = (ready, write)

    def on_EvictionRequested(self, event: ev.EvictionRequested, ledger: Ledger) -> None:
        self._at(event.t)
        self._last_write = None
        deletion = self._deletions.pop(event.pod, None)
        if event.code != 200 or not event.pdb:
            return
        if deletion is None:
            ready, write = self._ready.get(event.pod, True), None
        else:
            ready, write = deletion
        if not ready:
            return  # an unhealthy pod's eviction does not lower currentHealthy
        if write is not None and write.event.pdb == event.pdb:
            status, spent = write.replaced, 0
        else:
            status, spent = self._status.get(event.pdb), self._spent.get(event.pdb, 0)
            self._spent[event.pdb] = spent + 1
        objects = (f"pod/{event.pod}", f"pdb/{event.pdb}")
        if status is None:
            self.violate(
                f"eviction of Ready pod {event.pod} was approved before budget {event.pdb} had a status (upstream answers 429)",
                event.t,
                objects=objects,
            )
            return
        allowed = status.disruptions_allowed - spent
        if allowed >= 1:
            return
        healthy = status.current_healthy - spent
        self.violate(
            f"eviction of Ready pod {event.pod} was approved while budget {event.pdb} allowed {allowed} disruptions"
            f" ({healthy} healthy of {status.desired_healthy} desired): it leaves {healthy - 1} healthy",
            event.t,
            objects=objects,
            numbers={
                "disruptions_allowed": allowed,
                "current_healthy": healthy,
                "desired_healthy": status.desired_healthy,
                "expected_pods": status.expected_pods,
                "status_at": status.t,
            },
        )


@dataclass(slots=True)
class _QueueSeen:
    window: ev.WorkQueueWindow | None = None
    requeued_items: int = 0  # summed WorkItemsRequeued.items since the queue started


@register
class NoLostWork(Property):
    """No queued work item is lost (or invented) when workers crash or nodes fail.

    Judged at every ``WorkQueueWindow`` of each queue (model/jobs.py), whose counters are cumulative
    since the queue started (``enqueued``, ``done``, ``requeued``) or current (``queued``,
    ``in_flight``):

    - conservation: ``enqueued == done + queued + in_flight``; fewer means items vanished (taken from
      a dying worker and never put back), more means items were duplicated;
    - the cumulative counters never go down (an acknowledgement or arrival forgotten);
    - every item taken back from a dead worker was announced: ``requeued`` equals the sum of the
      ``WorkItemsRequeued`` events of the queue so far (a redelivery the trace cannot account for is
      work handled out of sight).
    """

    id = "no-lost-work"
    kind = "safety"
    description = "No queued work item is lost when workers crash or nodes fail."
    catches = (
        "A worker crash, OOM kill or node failure that silently drops the items the worker held "
        "(acknowledged before done, or never redelivered): uploads never processed, orders never shipped."
    )

    def __init__(self, **overrides: object) -> None:
        super().__init__(**overrides)
        self._queues: dict[str, _QueueSeen] = {}

    def on_WorkItemsRequeued(self, event: ev.WorkItemsRequeued, ledger: Ledger) -> None:
        self._queues.setdefault(event.queue, _QueueSeen()).requeued_items += event.items

    def on_WorkQueueWindow(self, event: ev.WorkQueueWindow, ledger: Ledger) -> None:
        seen = self._queues.setdefault(event.queue, _QueueSeen())
        before, seen.window = seen.window, event
        objects = (f"queue/{event.queue}",)
        counts = {
            "enqueued": event.enqueued,
            "done": event.done,
            "queued": event.queued,
            "in_flight": event.in_flight,
            "requeued": event.requeued,
        }
        missing = event.enqueued - event.done - event.queued - event.in_flight
        if missing:
            what = f"{missing} items lost" if missing > 0 else f"{-missing} items duplicated"
            self.violate(
                f"work queue {event.queue}: {what}: enqueued {event.enqueued} != done {event.done}"
                f" + queued {event.queued} + in flight {event.in_flight}",
                event.t,
                objects=objects,
                numbers={"missing": missing, **counts},
            )
        if before is not None:
            went_down = [
                name
                for name, old, new in (
                    ("enqueued", before.enqueued, event.enqueued),
                    ("done", before.done, event.done),
                    ("requeued", before.requeued, event.requeued),
                )
                if new < old
            ]
            if went_down:
                self.violate(
                    f"work queue {event.queue}: cumulative {', '.join(went_down)} went down since the window ending t={before.t:g}s",
                    event.t,
                    objects=objects,
                    numbers={f"previous_{name}": getattr(before, name) for name in went_down} | counts,
                )
        if event.requeued != seen.requeued_items:
            self.violate(
                f"work queue {event.queue}: {event.requeued} items requeued, but the trace announced {seen.requeued_items}",
                event.t,
                objects=objects,
                numbers={"announced_requeued": seen.requeued_items, **counts},
            )
