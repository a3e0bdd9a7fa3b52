"""What both load modes of :mod:`podquake.model.load` share: pods as servers (:class:`Serving`),
the base class of the modes (its clock, windows, trace and CPU metrics) and where traffic enters.

**A pod as a server.** A pod has ``cores`` CPU: its CPU limit (the sum over its containers, when
every container has one), else its request, else ``Serving.default_cores`` (``Serving.cpu_from =
"request"`` prefers the request). It serves ``rps_per_core * cores`` requests per second, one at a
time in FIFO order, each taking ``1 / capacity`` seconds, and holds at most ``queue_limit`` waiting
requests; more are dropped (:data:`QUEUE_FULL`). A request reaches a pod when the container serving
its Service's port runs (:meth:`Proxy.endpoint_alive <podquake.model.proxy.Proxy.endpoint_alive>`,
the same rule in both modes: a crashed sidecar does not fail it, a crashed app container does), and a
queued request is lost (:data:`LOST_IN_QUEUE`) when that container stops, or the pod's node goes
down. A pod is one FIFO server whichever Services send it traffic, so a pod serving two Services
from two containers loses only the stopped one's requests and keeps the others where they were.

**Where traffic enters** (see :class:`~podquake.model.traffic.External` and
:class:`~podquake.model.traffic.Internal`): the node the cloud load balancer picks (a
:class:`~podquake.model.loadbalancer.LoadBalancerController` is used when given, for ``LoadBalancer``
Services: uniform over its serving targets, by client hash with ``sessionAffinity: ClientIP``, as
:meth:`~podquake.model.loadbalancer.CloudLoadBalancer.pick_target`; no serving target fails with
:data:`NO_LB_TARGET`; a target the load balancer cannot reach through the network fails with
:data:`LB_UNREACHABLE`), else a node chosen by a hash of the client's name (a client keeps the node
address it was given); internal traffic enters at the client pod's node (:data:`NO_CLIENT` if that
pod is gone or unscheduled). From there the node's proxy decides: its own view of the Service's
endpoints (stale while cut off), its traffic policies, its failures (:data:`~podquake.model.proxy.ROUTE_FAILURES`).

**CPU.** A pod's CPU usage is its served rate over the last complete window: ``cores * min(1,
idle_fraction + served / capacity)`` millicores (``idle_fraction`` defaults to 2 %), served to
:class:`~podquake.model.metrics.Metrics` as the pod CPU source, as metrics-server serves the average
over its scrape window; a pod that served nothing yet, or is dead, has no sample (``None``).

**The trace.** Every ``window`` (default 10 s) one :class:`~podquake.model.trace.TrafficWindow` per
Service that had traffic: per endpoint the requests offered, served and failed and the mean
latency; the totals, with ``offered == served + failed + queued delta`` (fluid requests are
fractional); the failures by reason. Windows with no traffic and nothing queued are left out. In the
fluid mode a Service whose rates, plans and pods' modes did not change over its last two windows
gets its last window emitted again instead of recomputed, and a Service with one generator whose
pods are all cool gets its window computed as it is emitted rather than counted into rows first:
the same numbers, for less work (:mod:`podquake.model.load_fluid`).


The modes themselves: :mod:`podquake.model.load_fluid` and :mod:`podquake.model.load_request`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
import random
from dataclasses import dataclass
from math import floor
from typing import TYPE_CHECKING, Any

from podquake.model import trace as ev
from podquake.model.endpoints import Endpoint
from podquake.model.objects import PodSpec
from podquake.model.proxy import Proxy
from podquake.model.resources_api import Service
from podquake.model.traffic import Traffic

if TYPE_CHECKING:
    from podquake.model.loadbalancer import LoadBalancerController
    from podquake.model.metrics import Metrics
    from podquake.model.network import ClusterNetwork
    from podquake.model.simulation import Simulation

__all__ = [
    "LB_UNREACHABLE",
    "LOST_IN_QUEUE",
    "NO_CLIENT",
    "NO_LB_TARGET",
    "QUEUE_FULL",
    "Serving",
]

NO_LB_TARGET = "no-lb-target"
"""The Service's cloud load balancer has no target that may take traffic."""
LB_UNREACHABLE = "lb-unreachable"
"""The load balancer's target node cannot be reached from it (a network partition)."""
NO_CLIENT = "no-client"
"""The client pod of internal traffic is gone or not scheduled."""
QUEUE_FULL = "queue-full"
"""The pod's queue was full: the request was dropped."""
LOST_IN_QUEUE = "lost-in-queue"
"""The pod died with the request queued or in service."""
_CLOUD_LB = "cloud-lb"  # podquake.model.network.CLOUD_LB (not imported: networkx stays optional here)
_EPS = 1e-9


def _milli(x: float) -> float:
    """``x`` rounded to 3 decimals (requests in the trace; ``round(x, 3)`` is several times slower)."""
    return floor(x * 1e3 + 0.5) / 1e3


@dataclass(frozen=True, slots=True)
class Serving:
    """How pods serve requests (see the module docstring): ``rps_per_core`` requests per second per
    core of CPU, cores from the ``cpu_from`` (``"limit"`` or ``"request"``; the other one is the
    fallback, then ``default_cores``), at most ``queue_limit`` waiting requests per pod, and an idle
    CPU floor of ``idle_fraction`` of the pod's cores."""

    rps_per_core: float = 100.0
    cpu_from: str = "limit"
    default_cores: float = 1.0
    queue_limit: int = 100
    idle_fraction: float = 0.02

    def __post_init__(self) -> None:
        if not self.rps_per_core > 0 or not math.isfinite(self.rps_per_core):
            raise ValueError(f"rps_per_core must be a positive number, not {self.rps_per_core!r}")
        if self.cpu_from not in ("limit", "request"):
            raise ValueError(f"cpu_from must be 'limit' or 'request', not {self.cpu_from!r}")
        if not self.default_cores > 0:
            raise ValueError(f"default_cores must be > 0, not {self.default_cores!r}")
        if not isinstance(self.queue_limit, int) or self.queue_limit < 0:
            raise ValueError(f"queue_limit must be a whole number >= 0, not {self.queue_limit!r}")
        if not 0 <= self.idle_fraction < 1:
            raise ValueError(f"idle_fraction must be in [0, 1), not {self.idle_fraction!r}")

    def cores(self, spec: PodSpec) -> float:
        limits = [c.limits.cpu_millis for c in spec.containers]
        limit = sum(limits) if limits and all(m > 0 for m in limits) else 0
        request = spec.requests.cpu_millis
        first, second = (limit, request) if self.cpu_from == "limit" else (request, limit)
        millis = first or second
        return millis / 1000.0 if millis > 0 else self.default_cores

    def capacity(self, spec: PodSpec) -> float:
        """Requests per second a pod of ``spec`` serves."""
        return self.rps_per_core * self.cores(spec)


class _Acc:
    """One Service's counts in the current window. ``endpoints``: pod key -> [offered, served,
    failed, latency sum of the served] (the request mode fills in offered when the window closes)."""

    __slots__ = ("service", "endpoints", "failures", "unrouted", "queued_start", "last", "last_end")

    def __init__(self, service: str) -> None:
        self.service = service
        self.endpoints: dict[str, list[float]] = {}
        self.failures: dict[str, float] = {}
        self.unrouted = 0.0
        self.queued_start = 0.0  # requests waiting when the window began
        self.last: tuple[Any, ...] | None = None  # the last window's event fields after start, and totals
        self.last_end = -1.0  # when that window ended

    def endpoint(self, key: str) -> list[float]:
        row = self.endpoints.get(key)
        if row is None:
            row = self.endpoints[key] = [0.0, 0.0, 0.0, 0.0]
        return row

    def fail(self, reason: str, amount: float) -> None:
        self.failures[reason] = self.failures.get(reason, 0.0) + amount


class _Server:
    """A pod serving traffic: its capacity, its queue, what it served (see the module docstring)."""

    __slots__ = ("uid", "key", "node", "endpoint", "cores", "capacity", "service_time", "limit",
                 "max_wait", "flows", "queue", "mode", "served", "window", "previous", "since", "busy_until",
                 "pending", "acc", "shared", "service")  # fmt: skip

    def __init__(self, endpoint: Endpoint, spec: PodSpec, serving: Serving, now: float, service: str) -> None:
        self.uid = endpoint.pod_uid
        self.key = endpoint.pod
        self.node = endpoint.node
        self.endpoint = endpoint
        self.cores = serving.cores(spec)
        self.capacity = serving.rps_per_core * self.cores
        self.service_time = 1.0 / self.capacity
        self.limit = float(serving.queue_limit)
        self.max_wait = self.limit / self.capacity  # waiting behind a full queue
        self.flows: dict[Any, float] = {}  # fluid: flow -> share sent here
        self.queue: dict[Any, float] = {}  # fluid: flow -> backlog
        self.mode = 0  # fluid: COOL, HOT or FULL
        self.served = 0.0  # requests served in window number ``window`` (see _LoadModel._served)
        self.window = 0
        self.previous = 0.0  # requests served in window number ``window - 1``
        self.since = now
        self.busy_until = 0.0  # request mode
        #: Request mode: the requests in the pod's queue, in order: ``(done, latency)`` for the pod's
        #: first Service (``acc``; tuples of floats, which the garbage collector stops tracking),
        #: ``(done, latency, acc)`` for another, ``(done, latency, acc, entry node)`` when the proxy
        #: counts connections (IPVS lc).
        self.pending: list[tuple[Any, ...]] = []
        self.acc: _Acc | None = None  # request mode: the Service whose requests the pod took first
        self.shared = False  # request mode: it took requests of another Service too
        #: the Service whose traffic reached the pod first: the pod has a CPU sample while the container
        #: serving it runs (:meth:`Proxy.endpoint_alive <podquake.model.proxy.Proxy.endpoint_alive>`)
        self.service = service


class _LoadModel(ABC):
    """What both modes share: dependencies, pods as servers, windows, the trace, CPU metrics."""

    mode = ""
    default_tick = 1.0

    def __init__(
        self,
        sim: Simulation,
        *,
        traffic: Traffic | None = None,
        proxy: Proxy | None = None,
        balancers: LoadBalancerController | None = None,
        network: ClusterNetwork | None = None,
        metrics: Metrics | None = None,
        serving: Serving | None = None,
        tick: float | None = None,
        window: float = 10.0,
    ) -> None:
        tick = self.default_tick if tick is None else tick
        if not tick > 0:
            raise ValueError(f"the tick must be a positive number of seconds, not {tick!r}")
        per_window = window / tick
        if not window > 0 or abs(per_window - round(per_window)) > 1e-9 or round(per_window) < 1:
            raise ValueError(f"the window ({window!r} s) must be a whole number of ticks ({tick!r} s)")
        self.sim = sim
        self.env = sim.env
        self.state = sim.state
        self.traffic: Traffic = traffic if traffic is not None else getattr(sim, "traffic", None)  # type: ignore[assignment]
        if self.traffic is None:
            raise ValueError("the load model needs the simulation's Traffic (traffic=Traffic(sim), or sim.traffic)")
        self.proxy: Proxy = proxy if proxy is not None else getattr(sim, "proxy", None)  # type: ignore[assignment]
        if self.proxy is None:
            raise ValueError("the load model needs the node proxies (proxy=Proxy(sim), or sim.proxy)")
        self.balancers = balancers if balancers is not None else getattr(sim, "load_balancers", None)
        self.network = network if network is not None else getattr(sim, "network", None)
        self.metrics = metrics if metrics is not None else getattr(sim, "metrics", None)
        self.serving = serving if serving is not None else Serving()
        self.tick = float(tick)
        self.window = float(window)
        self.ticks_per_window = int(round(per_window))
        self.rng = random.Random(sim.rng.getrandbits(64))
        #: Cumulative requests per Service (``namespace/name``): [offered, served, failed], as of the last window.
        self.totals: dict[str, list[float]] = {}
        self._servers: dict[str, _Server] = {}  # pod uid -> server
        self._accs: dict[str, _Acc] = {}  # service key -> this window's counts
        self._origin = 0.0
        self._tick_index = 0  # the index of the next tick due
        self._tick_generation = 0  # bumps when a pending tick is replaced by an earlier one
        self._last_tick = -1
        self._window_index = 0
        self.window_start = 0.0

    # --- set-up ------------------------------------------------------------------------------------
    def start(self) -> None:
        self.traffic.align = self.tick
        self.traffic.subscribe(self._on_generator_changed)
        for index in range(len(self.traffic.generators)):
            self._on_generator(index)
        if self.metrics is not None:
            self.metrics.register_pod_cpu(self.pod_cpu_millis)
        now = self.env.now
        self._origin = math.ceil(now / self.tick - _EPS) * self.tick
        self.window_start = self._origin
        self._schedule_tick(0)

    def _on_generator_changed(self, index: int) -> None:
        self._on_generator(index)
        self._wake(strictly_after=False)

    def _wake(self, strictly_after: bool = True) -> None:
        """Something changed: tick from the next tick boundary on (``strictly_after`` now, or at now
        if that tick has not run yet). An idle model ticks only at window ends (see
        :meth:`_on_tick`), so its next tick may be far off; a busy one's is the next anyway."""
        if self._tick_index <= self._last_tick + 1:
            return
        position = (self.env.now - self._origin) / self.tick
        due = math.floor(position + _EPS) + 1 if strictly_after else math.ceil(position - _EPS)
        due = max(due, self._last_tick + 1)
        if due < self._tick_index:
            self._schedule_tick(due)

    def _idle(self) -> bool:
        """Whether every tick before the next window end would do nothing unless something happens
        first (which then calls :meth:`_wake`): the mode may skip them."""
        return False

    @abstractmethod
    def _on_generator(self, index: int) -> None:
        """Generator ``index`` was added or its shape changed: (re)plan its flows."""

    def add_spike(self, service: str, multiplier: float, duration: float) -> float:
        """Multiply ``service``'s traffic by ``multiplier`` for ``duration`` seconds from the next tick
        (:meth:`Traffic.add_spike <podquake.model.traffic.Traffic.add_spike>`); returns the start."""
        return self.traffic.add_spike(service, multiplier, duration)

    # --- the clock -----------------------------------------------------------------------------------
    def _schedule_tick(self, index: int) -> None:
        self._tick_index = index
        self._tick_generation += 1
        generation = self._tick_generation
        timeout = self.env.timeout(self._origin + index * self.tick - self.env.now)
        timeout.callbacks.append(lambda _event: self._on_tick(generation))  # type: ignore[union-attr]

    def _on_tick(self, generation: int) -> None:
        if generation != self._tick_generation:
            return  # replaced by an earlier tick when a generator arrived
        now = self.env.now
        index = self._tick_index
        self._last_tick = index
        if index and index % self.ticks_per_window == 0:
            self._close_window(now)
        self._step(now)
        if self.traffic.generators and not self._idle():
            self._schedule_tick(index + 1)
        else:  # nothing flows, or nothing to step: only the window ends matter until something happens
            self._schedule_tick((index // self.ticks_per_window + 1) * self.ticks_per_window)

    @abstractmethod
    def _step(self, now: float) -> None:
        """Advance the mode's accounting by one tick ending at ``now``."""

    def _served(self, server: _Server, amount: float) -> None:
        """Count ``amount`` requests served by ``server`` in the current window (rolled lazily, so
        that closing a window does not visit every pod)."""
        index = self._window_index
        if server.window != index:
            server.previous = server.served if server.window == index - 1 else 0.0
            server.served = 0.0
            server.window = index
        server.served += amount

    # --- reading ---------------------------------------------------------------------------------------
    def usage(self, pod_uid: str) -> float | None:
        """Requests per second the pod served over the last complete window (``None``: it has not
        served traffic for a whole window yet)."""
        server = self._servers.get(pod_uid)
        if server is None:
            return None
        start = self.window_start
        elapsed = start - max(start - self.window, server.since)
        if elapsed <= 0.0:
            return None
        index = self._window_index
        if server.window == index:
            served = server.previous
        elif server.window == index - 1:
            served = server.served
        else:
            served = 0.0
        return served / elapsed

    def pod_cpu_millis(self, pod_uid: str) -> float | None:
        """The pod CPU source for :class:`~podquake.model.metrics.Metrics` (see the module docstring)."""
        usage = self.usage(pod_uid)
        if usage is None:
            return None
        server = self._servers[pod_uid]
        if not self.proxy.endpoint_alive(server.endpoint, server.service):
            return None
        busy = min(1.0, self.serving.idle_fraction + usage / server.capacity)
        return server.cores * 1000.0 * busy

    def capacity_of(self, pod_key: str) -> float | None:
        """Requests per second the pod serves, if it has served traffic."""
        for server in self._servers.values():
            if server.key == pod_key:
                return server.capacity
        return None

    def queued(self, pod_key: str) -> float:
        """Requests waiting at (or being served by) the pod now."""
        for server in self._servers.values():
            if server.key == pod_key:
                return sum(server.queue.values()) + len(server.pending)
        return 0.0

    # --- windows and the trace -------------------------------------------------------------------------
    def _acc(self, service: str) -> _Acc:
        acc = self._accs.get(service)
        if acc is None:
            acc = self._accs[service] = _Acc(service)
            self.totals.setdefault(service, [0.0, 0.0, 0.0])
        return acc

    @abstractmethod
    def _queued_by_service(self) -> dict[str, float]:
        """Requests waiting in pod queues now, by Service."""

    def _close_window(self, now: float, steady: dict[str, Any] | None = None, direct: dict[str, Any] | None = None) -> None:
        """Emit the window ``[window_start, now)`` of every Service, roll the CPU usage. The Services
        in ``steady`` had exactly the traffic of their previous window: it is emitted again. Those in
        ``direct`` have their endpoint rows computed by :meth:`_direct_rows` (the mode's shortcut for
        a simple window), the others from what was counted in their rows."""
        start = self.window_start
        queued_now = self._queued_by_service()
        record = self.state.record_traffic_window
        window = ev.TrafficWindow
        all_totals = self.totals
        for service, acc in self._accs.items():
            if steady and service in steady:
                totals_row, per_endpoint, failures_row, offered, served, failed = acc.last  # type: ignore[misc]
                record(window(now, service, start, totals_row, per_endpoint, failures_row))
                totals = all_totals[service]
                totals[0] += offered
                totals[1] += served
                totals[2] += failed
                acc.last_end = now
                continue
            queued = queued_now.get(service, 0.0) if queued_now else 0.0
            rows = acc.endpoints
            item = direct.get(service) if direct else None
            if item is not None:
                per_endpoint, offered, served = self._direct_rows(item, now)
            else:
                per_endpoint = []
                offered = acc.unrouted
                served = 0.0
                for key in sorted(rows) if len(rows) > 1 else rows:
                    o, s, f, latency = rows[key]
                    if o == 0.0 and s == 0.0 and f == 0.0:  # a pod whose queue held on, idle
                        continue
                    per_endpoint.append((
                        key, floor(o * 1e3 + 0.5) / 1e3, floor(s * 1e3 + 0.5) / 1e3, floor(f * 1e3 + 0.5) / 1e3,
                        floor(latency / s * 1e6 + 0.5) / 1e6 if s > 0.0 else 0.0,
                    ))  # fmt: skip
                    offered += o
                    served += s
            failures = acc.failures
            failed = sum(failures.values()) if failures else 0.0
            if offered == 0.0 and served == 0.0 and failed == 0.0 and queued == 0.0 and acc.queued_start == 0.0:
                if rows:
                    acc.endpoints = {}
                acc.last = None
                continue
            totals = all_totals[service]
            totals[0] += offered
            totals[1] += served
            totals[2] += failed
            # _milli, written out (0 rounds to 0; equal numbers round alike)
            offered_row = floor(offered * 1e3 + 0.5) / 1e3
            totals_row = (
                offered_row, offered_row if served == offered else floor(served * 1e3 + 0.5) / 1e3,
                floor(failed * 1e3 + 0.5) / 1e3 if failed else 0.0, floor(queued * 1e3 + 0.5) / 1e3 if queued else 0.0,
            )  # fmt: skip
            if failures:
                failures_row = tuple([(r, _milli(c)) for r, c in failures.items()])
                acc.failures = {}
            else:
                failures_row = ()
            endpoints_row = tuple(per_endpoint)
            record(window(now, service, start, totals_row, endpoints_row, failures_row))
            acc.last = (totals_row, endpoints_row, failures_row, offered, served, failed)
            acc.last_end = now
            if rows:
                acc.endpoints = {}
            acc.unrouted = 0.0
            acc.queued_start = queued
        self._window_index += 1
        self.window_start = now
        if self._window_index % 30 == 0:  # forget pods that left every plan and served nothing for a window
            index = self._window_index
            for uid, server in list(self._servers.items()):
                if server.window < index - 1 and not server.flows and not server.queue and not server.pending:
                    del self._servers[uid]

    def _direct_rows(self, item: Any, now: float) -> tuple[list[tuple[Any, ...]], float, float]:
        """A Service's window rows computed directly (``per_endpoint``, offered, served), for the
        ``direct`` Services of :meth:`_close_window`; a mode that names none needs none."""
        raise TypeError(f"{type(self).__name__} computes no window directly")

    # --- entry -----------------------------------------------------------------------------------------
    def _service_object(self, service: str) -> Service | None:
        namespace, _, name = service.partition("/")
        obj = self.state.objects.get(("Service", namespace, name))
        return obj if isinstance(obj, Service) else None

    def _balancer(self, service: str) -> Any:
        """The Service's cloud load balancer, when the model has one for it."""
        if self.balancers is None:
            return None
        return self.balancers.balancers.get(service)

    def _lb_reaches(self, node: str) -> bool:
        network = self.network
        if network is None:
            return True
        try:
            return network.reachable(_CLOUD_LB, node)
        except ValueError:
            return False
