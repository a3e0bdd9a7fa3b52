"""Worker-style workloads: a work queue fed at a rate and drained by worker pods.

Think of a container that transforms uploaded image files: uploads arrive on a queue (a message
broker, outside the cluster), and every pod of a worker Deployment takes an item, works on it for a
while, acknowledges it and takes the next. :class:`JobQueue` models one such queue:

- **Arrivals** follow a :mod:`~podquake.model.traffic` shape (items per second), counted every
  ``tick`` with the rate's exact integral and the fraction carried over (so ``Constant(0.5)`` adds
  one item every other second); :meth:`JobQueue.enqueue` adds a burst.
- **Workers** are the pods of ``namespace`` matching ``selector``. A pod takes items while it is
  Ready, not being deleted, and its containers run (the kubelet's runtime record, so a container
  that died unreported takes nothing). It holds up to ``concurrency`` items at once, each for
  ``concurrency / speed`` seconds (``service="fixed"``) or an exponential time of that mean
  (``service="exponential"``, from the queue's seeded generator): ``speed`` items per second per pod.
  Idle workers take items in turn (the one idle longest first).
- **Never lost.** An item is acknowledged (``done``) only when its worker finishes it with the same
  container processes it started with. If the worker's container stops (crash, OOM kill, graceful
  stop of a deleted pod), its pod is removed, or its node goes down, the items it held go back to the
  front of the queue at once (``requeued``, a :class:`~podquake.model.trace.WorkItemsRequeued` event),
  as a broker redelivers unacknowledged messages; a death nobody reported (the kubelet stopped or cut
  off) is found when the item would have finished, or at the next window. So at every instant
  ``enqueued == done + queued + in_flight`` (:attr:`JobQueue.balanced`).
- **Metrics.** The queue's length is an external metric (``metric``, default the queue's name) in
  :class:`~podquake.model.metrics.Metrics`, for a HorizontalPodAutoscaler; a worker pod's CPU usage
  is its cores times its busy fraction (items held / concurrency), with the same idle floor as
  :class:`~podquake.model.load.Serving`.
- **Trace.** Every ``window`` seconds one :class:`~podquake.model.trace.WorkQueueWindow` with the
  counters.

Simplifications, on purpose: the broker itself never fails and delivers instantly; an item's work is
not split across containers of a pod (a pod works while all its containers run); a redelivered item
starts over; visibility timeouts are not modelled (a death is noticed as described above).

>>> from podquake.model import ClusterSpec, Simulation
>>> from podquake.model.traffic import Constant
>>> sim = Simulation(ClusterSpec.uniform(nodes=1, zones=1), seed=1)
>>> queue = JobQueue(sim, "uploads", selector={"app": "resizer"}, shape=Constant(2.0)); queue.start()
>>> sim.run(10.5)
>>> queue.enqueued, queue.done, queue.queued, queue.balanced   # no worker pods yet
(20, 0, 20, True)
"""

from __future__ import annotations

import math
import random
from collections import deque
from typing import TYPE_CHECKING

from podquake.model import trace as ev
from podquake.model.objects import Pod
from podquake.model.selectors import LabelSelector
from podquake.model.traffic import Constant, Shape

if TYPE_CHECKING:
    from podquake.model.metrics import Metrics
    from podquake.model.simulation import Simulation

__all__ = ["JobQueue", "JobQueues"]

_EPS = 1e-9


class _Worker:
    """A worker pod as the queue sees it: the items it holds, each with the token of its assignment."""

    __slots__ = ("uid", "key", "node", "cores", "held")

    def __init__(self, pod: Pod, cores: float) -> None:
        self.uid = pod.uid
        self.key = pod.key
        self.node = pod.node_name or ""
        self.cores = cores
        self.held: dict[int, tuple[int, tuple[int, ...]]] = {}  # item -> (token, container run generations)


class JobQueue:
    """One work queue and its workers. See the module docstring."""

    def __init__(
        self,
        sim: Simulation,
        name: str,
        *,
        selector: dict[str, str] | LabelSelector,
        namespace: str = "default",
        shape: Shape | None = None,
        speed: float = 1.0,
        concurrency: int = 1,
        service: str = "fixed",
        metric: str | None = None,
        metrics: Metrics | None = None,
        tick: float = 1.0,
        window: float = 10.0,
        idle_fraction: float = 0.02,
    ) -> None:
        if not name:
            raise ValueError("a work queue needs a name")
        if not speed > 0 or not math.isfinite(speed):
            raise ValueError(f"worker speed must be a positive number of items per second, not {speed!r}")
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be a whole number >= 1, not {concurrency!r}")
        if service not in ("fixed", "exponential"):
            raise ValueError(f"service must be 'fixed' or 'exponential', not {service!r}")
        if not tick > 0 or not window > 0:
            raise ValueError("the tick and the window must be positive numbers of seconds")
        shape = shape if shape is not None else Constant(0.0)
        if not isinstance(shape, Shape):
            raise ValueError(f"shape must be a Shape (Constant, Diurnal, ...), not {shape!r}")
        self.sim = sim
        self.env = sim.env
        self.state = sim.state
        self.name = name
        self.namespace = namespace
        self.selector = selector if isinstance(selector, LabelSelector) else LabelSelector(match_labels=tuple(selector.items()))
        self.shape = shape
        self.speed = float(speed)
        self.concurrency = concurrency
        self.service = service
        self.work_seconds = concurrency / self.speed
        self.metric = metric if metric is not None else name
        self.metrics = metrics if metrics is not None else getattr(sim, "metrics", None)
        self.tick = float(tick)
        self.window = float(window)
        self.idle_fraction = idle_fraction
        self.rng = random.Random(sim.rng.getrandbits(64))
        #: Counters: items ever added, finished, and given back after a worker died holding them.
        self.enqueued = 0
        self.done = 0
        self.requeued = 0
        self.in_flight = 0
        self._queue: deque[int] = deque()
        self._workers: dict[str, _Worker] = {}  # pod uid -> worker (a matching pod, able or not)
        self._idle: dict[str, None] = {}  # uids of workers able to take an item now, longest idle first
        self._token = 0
        self._carry = 0.0
        self._last = 0.0
        self._window_start = 0.0

    # --- set-up ------------------------------------------------------------------------------------
    def start(self) -> None:
        state = self.state
        state.watch(ev.PodCreated, self._on_pod_created)
        for event_type in (ev.PodBound, ev.PodReadyChanged, ev.ContainerStarted, ev.PodPhaseChanged):
            state.watch(event_type, self._on_pod_maybe_able)
        for event_type in (ev.ContainerTerminated, ev.PodDeletionRequested):
            state.watch(event_type, self._on_pod_maybe_unable)
        state.watch(ev.PodDeleted, self._on_pod_deleted)
        state.watch(ev.NodePowerChanged, self._on_node_power)
        for pod in state.pods_matching(self.namespace, self.selector):
            worker = self._adopt(pod)
            if self._able(worker):
                self._idle[worker.uid] = None
        if self.metrics is not None:
            self.metrics.register_external(self.metric, lambda: float(len(self._queue)))
            self.metrics.register_pod_cpu(self.pod_cpu_millis)
        now = self.env.now
        self._last = now
        self._window_start = now
        self._schedule(self._on_tick, self.tick)
        self._schedule(self._on_window, self.window)
        self._dispatch()

    def _schedule(self, callback: object, delay: float) -> None:
        timeout = self.env.timeout(delay)
        timeout.callbacks.append(callback)  # type: ignore[union-attr,arg-type]

    # --- reading -------------------------------------------------------------------------------------
    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def balanced(self) -> bool:
        """No item lost or invented: ``enqueued == done + queued + in_flight``."""
        return self.enqueued == self.done + len(self._queue) + self.in_flight

    def workers(self) -> list[str]:
        """Keys of the worker pods able to take items now (busy or idle)."""
        return [w.key for w in self._workers.values() if self._able(w)]

    def held_by(self, pod_key: str) -> int:
        """Items the pod holds now."""
        return sum(len(w.held) for w in self._workers.values() if w.key == pod_key)

    def pod_cpu_millis(self, pod_uid: str) -> float | None:
        """CPU usage of a worker pod: its cores times its busy fraction, with the idle floor."""
        worker = self._workers.get(pod_uid)
        if worker is None or self._generations(worker) is None:
            return None
        busy = len(worker.held) / self.concurrency
        return worker.cores * 1000.0 * min(1.0, self.idle_fraction + busy)

    # --- arrivals ------------------------------------------------------------------------------------
    def enqueue(self, items: int = 1) -> None:
        """Add ``items`` items now (a burst of uploads)."""
        if items < 0:
            raise ValueError(f"cannot enqueue {items} items")
        for _ in range(items):
            self._queue.append(self.enqueued)
            self.enqueued += 1
        self._dispatch()

    def _on_tick(self, _event: object = None) -> None:
        now = self.env.now
        amount = self.shape.integral(self._last, now) + self._carry
        self._last = now
        whole = int(math.floor(amount + _EPS))
        self._carry = max(0.0, amount - whole)
        if whole:
            self.enqueue(whole)
        self._schedule(self._on_tick, self.tick)

    def _on_window(self, _event: object = None) -> None:
        for worker in list(self._workers.values()):
            if worker.held and self._generations(worker) is None:
                self._requeue(worker, "ContainerNotRunning")
        able = sum(1 for w in self._workers.values() if self._able(w))
        self.state.record_work_queue_window(
            self.name, self._window_start, self.enqueued, self.done, self.requeued, len(self._queue), self.in_flight, able
        )
        self._window_start = self.env.now
        self._schedule(self._on_window, self.window)

    # --- workers ---------------------------------------------------------------------------------------
    def _adopt(self, pod: Pod) -> _Worker:
        worker = self._workers.get(pod.uid)
        if worker is None:
            limits = [c.limits.cpu_millis for c in pod.spec.containers]
            millis = sum(limits) if limits and all(m > 0 for m in limits) else pod.spec.requests.cpu_millis
            worker = self._workers[pod.uid] = _Worker(pod, millis / 1000.0 if millis > 0 else 1.0)
        return worker

    def _generations(self, worker: _Worker) -> tuple[int, ...] | None:
        """The run generations of the worker's containers if every one is running, else None."""
        pod = self.state.pods.get(worker.uid)
        if pod is None or pod.node_name is None:
            return None
        node = self.state.nodes.get(pod.node_name)
        kubelet = self.sim.kubelets.get(pod.node_name)
        if node is None or not node.up or kubelet is None:
            return None
        run = kubelet.pods.get(pod.key)
        if run is None or run.pod is not pod:
            return None
        generations = []
        for container in run.containers:
            if not container.alive:
                return None
            generations.append(container.gen)
        return tuple(generations)

    def _able(self, worker: _Worker) -> bool:
        pod = self.state.pods.get(worker.uid)
        return pod is not None and pod.ready and pod.deletion_timestamp is None and self._generations(worker) is not None

    def _on_pod_created(self, event: ev.PodCreated) -> None:
        pod = self.state.pods_by_key.get(event.pod)
        if pod is not None and pod.namespace == self.namespace and self.selector.matches(pod.labels):
            self._adopt(pod)

    def _worker_of(self, pod_key: str) -> _Worker | None:
        pod = self.state.pods_by_key.get(pod_key)
        return self._workers.get(pod.uid) if pod is not None else None

    def _on_pod_maybe_able(self, event: ev.Event) -> None:
        worker = self._worker_of(event.pod)  # type: ignore[attr-defined]
        if worker is None:
            return
        worker.node = self.state.pods[worker.uid].node_name or ""
        if len(worker.held) < self.concurrency and self._able(worker):
            self._idle.setdefault(worker.uid, None)
            self._dispatch()
        elif not self._able(worker):
            self._idle.pop(worker.uid, None)

    def _on_pod_maybe_unable(self, event: ev.Event) -> None:
        worker = self._worker_of(event.pod)  # type: ignore[attr-defined]
        if worker is None:
            return
        if not self._able(worker):
            self._idle.pop(worker.uid, None)
        if worker.held and self._generations(worker) is None:
            reason = "ContainerTerminated" if isinstance(event, ev.ContainerTerminated) else "ContainerNotRunning"
            self._requeue(worker, reason)

    def _on_pod_deleted(self, event: ev.PodDeleted) -> None:
        for uid, worker in list(self._workers.items()):
            if worker.key == event.pod and uid not in self.state.pods:
                self._idle.pop(uid, None)
                if worker.held:
                    self._requeue(worker, "PodDeleted")
                del self._workers[uid]

    def _on_node_power(self, event: ev.NodePowerChanged) -> None:
        if event.up:
            return
        for worker in list(self._workers.values()):
            if worker.node == event.node:
                self._idle.pop(worker.uid, None)
                if worker.held:
                    self._requeue(worker, "NodeDown")

    # --- assignment, completion, requeue ---------------------------------------------------------------------
    def _dispatch(self) -> None:
        queue = self._queue
        idle = self._idle
        while queue and idle:
            uid = next(iter(idle))
            del idle[uid]
            worker = self._workers.get(uid)
            if worker is None:
                continue
            generations = self._generations(worker)
            if generations is None or not self._able(worker):
                continue
            while queue and len(worker.held) < self.concurrency:
                item = queue.popleft()
                self._token += 1
                worker.held[item] = (self._token, generations)
                self.in_flight += 1
                seconds = self.work_seconds if self.service == "fixed" else self.rng.expovariate(1.0 / self.work_seconds)
                token = self._token
                self._schedule(lambda _e, w=worker, i=item, t=token: self._finished(w, i, t), seconds)
            if len(worker.held) < self.concurrency:
                idle[uid] = None

    def _finished(self, worker: _Worker, item: int, token: int) -> None:
        held = worker.held.get(item)
        if held is None or held[0] != token:
            return  # requeued meanwhile
        generations = self._generations(worker)
        if generations != held[1]:  # it died unreported (and maybe restarted since)
            self._requeue(worker, "ContainerNotRunning" if generations is None else "ContainerRestarted")
            return
        del worker.held[item]
        self.in_flight -= 1
        self.done += 1
        if self._able(worker) and worker.uid in self._workers:
            self._idle[worker.uid] = None
            self._dispatch()

    def _requeue(self, worker: _Worker, reason: str) -> None:
        items = list(worker.held)
        worker.held.clear()
        self.in_flight -= len(items)
        self.requeued += len(items)
        self._queue.extendleft(reversed(items))
        self.state.record_work_requeued(self.name, worker.key, len(items), reason)
        self._dispatch()


class JobQueues:
    """The work queues of a simulation, by name: ``sim.jobs.add("uploads", selector=..., ...)``."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.queues: dict[str, JobQueue] = {}

    def add(self, name: str, **kwargs: object) -> JobQueue:
        """Create and start a :class:`JobQueue` (keyword arguments as its constructor)."""
        if name in self.queues:
            raise ValueError(f"a work queue named {name!r} already exists")
        queue = JobQueue(self.sim, name, **kwargs)  # type: ignore[arg-type]
        self.queues[name] = queue
        queue.start()
        return queue

    def __getitem__(self, name: str) -> JobQueue:
        return self.queues[name]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.queues.values())
