"""Serving load: how the traffic of :mod:`podquake.model.traffic` reaches pods, is served, queued,
dropped or failed, what it costs in CPU, and what the trace records of it.

Two levels of detail, one interface (:func:`make_load`):

- :class:`FluidLoad` (``mode="fluid"``, the fast default): rates, not requests. Every ``tick``
  (default 1 s) each generator's rate is split over the endpoints the node proxies would choose, in
  expectation; each pod serves up to its capacity, queues the rest up to ``queue_limit`` and drops
  beyond it.
- :class:`RequestLoad` (``mode="request"``): requests. Arrivals are Poisson; each request is routed
  by the node proxy (:meth:`Proxy.route <podquake.model.proxy.Proxy.route>` with the checks of
  :meth:`Proxy.deliver <podquake.model.proxy.Proxy.deliver>`, whose counters it keeps), queued at
  its pod (FIFO) and served with a service time; its latency is measured.

**A pod as a server.** A pod has ``cores`` CPU: its CPU limit (the sum over its containers, when
every container has one), else its request, else ``Serving.default_cores`` (``Serving.cpu_from =
"request"`` prefers the request). It serves ``rps_per_core * cores`` requests per second, one at a
time in FIFO order, each taking ``1 / capacity`` seconds, and holds at most ``queue_limit`` waiting
requests; more are dropped (:data:`QUEUE_FULL`). A pod whose containers stop (or whose node goes
down) loses what it had queued (:data:`LOST_IN_QUEUE`).

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

**Fluid routing, in expectation.** For every entry node the model takes the pool the node's proxy
would route from (the same tables :class:`~podquake.model.proxy.Proxy` builds: ready endpoints, else
serving-terminating ones; the node's own with traffic policy Local) and gives each endpoint of it an
equal share: exact in expectation for iptables and nftables (uniform within 1e-9), and for IPVS
round-robin; IPVS least-connection is taken as uniform too (equal servers, equal connections).
``sessionAffinity: ClientIP`` is modelled with the clients as individuals: each client enters at one
node (the load balancer's client hash, its node address, or its pod's node) and keeps the endpoint
drawn for it (uniformly, from the seeded generator of this model) while that endpoint stays in the
node's pool, as the proxy's affinity table does; each client sends ``1 / clients`` of the rate. So a
few clients load a few pods. Affinity entries never time out here (an open-loop client sends all
the time, renewing its entry), unless a rate stays at 0 (the model does not expire them then either).

**Fluid serving, exactly per tick, without ticking every pod.** Within a tick, what reaches a pod is
the rate's exact integral over the tick times its share; a pod serves ``min(q + A, capacity * tick)``
of its backlog ``q`` and arrivals ``A``, taken from every flow's part in proportion (a fluid FIFO),
and drops what stays beyond ``queue_limit``, in the same proportion. Most pods need no ticking to get
exactly that, and are summed over whole segments (from one change to the next, at most a window)
with the shapes' exact integrals:

- *cool*: an empty queue, and a load that cannot exceed the capacity before the window ends
  (checked with the shapes' ``peak``): everything offered is served;
- *full*: one flow, the queue at its limit, and a load that cannot fall below the capacity before
  the window ends (the shapes' ``low``): the capacity is served and the rest dropped.

Only the other pods, *hot* (filling or draining a queue, or a load that may cross the capacity), are
stepped tick by tick; they are re-classified at every tick and window boundary. Changes (endpoints
published, containers stopping, nodes down, load balancer targets, partitions, spikes) take effect
at the next tick boundary. Latency: ``1 / capacity`` of service plus the waiting time: the backlog
over capacity for a hot pod (the mean of the tick's start and end), ``queue_limit / capacity`` for a
full one, and for a cool one the M/D/1 mean wait ``rho / (2 capacity (1 - rho))`` at its mean
utilization ``rho`` over the segment (capped at the full queue's).

The fluid mode reads the proxies' routing tables (``Proxy._tables``, ``Proxy._frozen``: what each
node's proxy routes with) rather than calling :meth:`Proxy.route <podquake.model.proxy.Proxy.route>`
once per node, which would cost 5,000 calls per Service at 5,000 nodes.

**Request serving.** Every ``tick`` (default 0.1 s) the arrivals of the next tick are drawn as one
Poisson process over all generators (exponential gaps at the total rate, each arrival given to a
generator in proportion to its rate and to one of its clients uniformly), and handled in time
order: entry node, route, the deliver checks, then the pod's queue: the Lindley recursion
(``start = max(arrival, pod busy until)``, ``done = start + 1 / capacity``), dropped when more than
``queue_limit`` requests' work is ahead. Requests complete (and count as served, with their latency)
at the tick boundary after their ``done``; a pod that dies loses those not done. Routing and the
checks use the cluster as it is at the tick boundary (nothing else happens inside a batch). An
*event*, for the benchmark, is one request: arrival, routing, queueing and completion.

**CPU.** A pod's CPU usage is its served rate over the last complete window: ``cores * min(1,
idle_fraction + served / capacity)`` millicores (``idle_fraction`` defaults to 2 %), served to
:class:`~podquake.model.metrics.Metrics` as the pod CPU source, as metrics-server serves the average
over its scrape window; a pod that served nothing yet, or is dead, has no sample (``None``).

**The trace.** Every ``window`` (default 10 s) one :class:`~podquake.model.trace.TrafficWindow` per
Service that had traffic: per endpoint the requests offered, served and failed and the mean
latency; the totals, with ``offered == served + failed + queued delta`` (fluid requests are
fractional); the failures by reason. Windows with no traffic and nothing queued are left out. In the
fluid mode a Service whose rates, plans and pods' modes did not change over its last two windows
gets its last window emitted again instead of recomputed: the same numbers, for less work.

**Wiring.** ``make_load(sim, mode)`` then ``start()``; the dependencies default to the simulation's
``sim.traffic`` (:class:`~podquake.model.traffic.Traffic`, required), ``sim.proxy`` (required),
``sim.load_balancers``, ``sim.network`` and ``sim.metrics`` (each optional).

Simplifications, on purpose: see above (expected shares, tick-boundary changes, affinity without
expiry, one FIFO server per pod, no keep-alive connections: every request is a new connection, as
:mod:`podquake.model.proxy` assumes); containers of a pod are not told apart (a pod serves while all
run); a container that dies while its kubelet cannot report it (stopped, cut off) is noticed at the
next window boundary in the fluid mode (at the next tick in the request mode).
"""

from __future__ import annotations

import math
import random
import zlib
from bisect import bisect_right
from collections import deque
from dataclasses import dataclass
from math import floor
from typing import TYPE_CHECKING, Any

from podquake.model import trace as ev
from podquake.model.endpoints import Endpoint
from podquake.model.objects import PodSpec
from podquake.model.proxy import (
    ENDPOINT_DEAD,
    NO_ENDPOINTS,
    NO_LOCAL_ENDPOINTS,
    NODE_DOWN,
    NOT_EXPOSED,
    NOT_PROXIED,
    UNKNOWN_SERVICE,
    UNREACHABLE,
    Proxy,
)
from podquake.model.resources_api import Service
from podquake.model.traffic import External, Traffic

if TYPE_CHECKING:
    from podquake.model.loadbalancer import LoadBalancerController
    from podquake.model.metrics import Metrics
    from podquake.model.network import ClusterNetwork
    from podquake.model.simulation import Simulation

__all__ = [
    "FluidLoad",
    "LB_UNREACHABLE",
    "LOST_IN_QUEUE",
    "MODES",
    "NO_CLIENT",
    "NO_LB_TARGET",
    "QUEUE_FULL",
    "RequestLoad",
    "Serving",
    "make_load",
]

MODES = ("fluid", "request")
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
    failed, latency sum of the served]."""

    __slots__ = ("endpoints", "failures", "unrouted", "queued", "queued_start", "last", "last_end")

    def __init__(self) -> None:
        self.endpoints: dict[str, list[float]] = {}
        self.failures: dict[str, float] = {}
        self.unrouted = 0.0
        self.queued = 0.0  # now (request mode keeps it; fluid mode sums it at the window's end)
        self.queued_start = 0.0
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
                 "pending")  # fmt: skip

    def __init__(self, endpoint: Endpoint, spec: PodSpec, serving: Serving, now: float) -> None:
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
        self.pending: deque[tuple[float, float, _Acc, str]] = deque()  # request mode: (done, arrival, acc, entry node)


class _LoadModel:
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
        self._tick_index = 0
        self._window_index = 0
        self.window_start = 0.0

    # --- set-up ------------------------------------------------------------------------------------
    def start(self) -> None:
        self.traffic.align = self.tick
        self.traffic.subscribe(self._on_generator)
        for index in range(len(self.traffic.generators)):
            self._on_generator(index)
        if self.metrics is not None:
            self.metrics.register_pod_cpu(self.pod_cpu_millis)
        now = self.env.now
        self._origin = math.ceil(now / self.tick - _EPS) * self.tick
        self.window_start = self._origin
        self._tick_index = 0
        timeout = self.env.timeout(self._origin - now)
        timeout.callbacks.append(self._on_tick)  # type: ignore[union-attr]

    def _on_generator(self, index: int) -> None:
        raise NotImplementedError

    def add_spike(self, service: str, multiplier: float, duration: float) -> float:
        """Multiply ``service``'s traffic by ``multiplier`` for ``duration`` seconds from the next tick
        (:meth:`Traffic.add_spike <podquake.model.traffic.Traffic.add_spike>`); returns the start."""
        return self.traffic.add_spike(service, multiplier, duration)

    # --- the clock -----------------------------------------------------------------------------------
    def _on_tick(self, _event: object = None) -> None:
        now = self.env.now
        index = self._tick_index
        if index and index % self.ticks_per_window == 0:
            self._close_window(now)
        self._step(now)
        self._tick_index = index + 1
        timeout = self.env.timeout(self._origin + (index + 1) * self.tick - now)
        timeout.callbacks.append(self._on_tick)  # type: ignore[union-attr]

    def _step(self, now: float) -> None:
        raise NotImplementedError

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
        if not self.proxy.endpoint_alive(server.endpoint):
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
            acc = self._accs[service] = _Acc()
            self.totals.setdefault(service, [0.0, 0.0, 0.0])
        return acc

    def _queued_by_service(self) -> dict[str, float]:
        raise NotImplementedError

    def _close_window(self, now: float, steady: dict[str, Any] | None = None) -> None:
        """Emit the window ``[window_start, now)`` of every Service, roll the CPU usage. The Services
        in ``steady`` had exactly the traffic of their previous window: it is emitted again."""
        start = self.window_start
        queued_now = self._queued_by_service()
        record = self.state.record_traffic_window
        window = ev.TrafficWindow
        for service, acc in self._accs.items():
            if steady and service in steady:
                totals_row, per_endpoint, failures_row, offered, served, failed = acc.last  # type: ignore[misc]
                record(window(now, service, start, totals_row, per_endpoint, failures_row))
                totals = self.totals[service]
                totals[0] += offered
                totals[1] += served
                totals[2] += failed
                acc.last_end = now
                continue
            queued = queued_now.get(service, 0.0)
            rows = acc.endpoints
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
            totals = self.totals[service]
            totals[0] += offered
            totals[1] += served
            totals[2] += failed
            totals_row = (_milli(offered), _milli(served), _milli(failed), _milli(queued))
            failures_row = tuple([(r, _milli(c)) for r, c in failures.items()]) if failures else ()
            endpoints_row = tuple(per_endpoint)
            record(window(now, service, start, totals_row, endpoints_row, failures_row))
            acc.last = (totals_row, endpoints_row, failures_row, offered, served, failed)
            acc.last_end = now
            acc.endpoints = {}
            if failures:
                acc.failures = {}
            acc.unrouted = 0.0
            acc.queued_start = queued
        self._window_index += 1
        self.window_start = now
        if self._window_index % 30 == 0:  # forget pods that left every plan and served nothing for a window
            index = self._window_index
            for uid, server in list(self._servers.items()):
                if server.window < index - 1 and not server.flows and not server.queue and not server.pending:
                    del self._servers[uid]

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


# === the fluid mode ======================================================================================
COOL, HOT, FULL = 0, 1, 2
"""How a pod is accounted for in the fluid mode: COOL (no queue, never over capacity until the
window ends: everything served, summed over segments), FULL (one flow, queue at its limit, never
under capacity until the window ends: capacity served, the rest dropped, summed over segments), HOT
(anything else: stepped every tick)."""


class _Flow:
    """One generator's traffic in the fluid mode: its current plan (where its rate goes) and the
    segment of time not yet accounted for."""

    __slots__ = ("index", "generator", "service", "shape", "clients", "acc", "seg_start", "entries", "dead",
                 "unrouted", "peak", "low", "sticky", "hashes", "pods", "changed")  # fmt: skip

    def __init__(self, index: int, traffic: Traffic, acc: _Acc, now: float) -> None:
        self.index = index
        self.generator = traffic.generators[index]
        self.service = self.generator.service
        self.shape = traffic.shapes[index]
        self.clients = traffic.clients[index]
        self.acc = acc
        self.seg_start = now
        self.entries: list[tuple[_Server, float]] = []
        self.dead: list[tuple[str, float, str]] = []  # (pod key, share, reason)
        self.unrouted: list[tuple[str, float]] = []  # (reason, share)
        self.peak = 0.0  # bounds of the rate until the window's end
        self.low = 0.0
        self.sticky: dict[str, tuple[str, str]] = {}  # client -> (entry node, pod uid)
        self.hashes = [zlib.crc32(c.encode()) for c in self.clients]
        self.pods: dict[str, str] = {}  # pod key -> node, of every endpoint in the plan (alive or not)
        self.changed = now  # when its plan, shape or pods' modes last changed


class FluidLoad(_LoadModel):
    """Rates split over endpoints per tick. See the module docstring."""

    mode = "fluid"
    default_tick = 1.0
    #: Emit a steady Service's window again rather than recompute it (same result; off in a test).
    reuse_steady_windows = True
    #: Step every pod every tick, as a model without cool and full pods would (the reference the lazy
    #: accounting is checked against in the tests, and the benchmark's baseline; same requests).
    tick_every_pod = False

    def __init__(self, sim: Simulation, **kwargs: Any) -> None:
        super().__init__(sim, **kwargs)
        self._flows: list[_Flow] = []
        self._by_service: dict[str, list[_Flow]] = {}
        self._by_pod: dict[str, dict[_Flow, None]] = {}  # pod key -> flows whose plan names it
        self._by_client: dict[str, list[_Flow]] = {}  # client pod key -> internal flows from it
        self._dirty: dict[_Flow, None] = {}
        self._hot: dict[_Server, None] = {}
        self._full: dict[_Server, None] = {}
        self._not_ready: dict[str, None] = {}  # nodes whose Ready condition is not True

    def start(self) -> None:
        state = self.state
        state.watch(ev.EndpointsChanged, self._on_service_event)
        state.watch(ev.LoadBalancerTargetChanged, self._on_service_event)
        state.watch(ev.LoadBalancerTargetHealth, self._on_service_event)
        state.watch(ev.ObjectApplied, self._on_object)
        for event_type in (ev.ContainerTerminated, ev.ContainerStarted, ev.PodDeleted, ev.PodBound, ev.PodPhaseChanged):
            state.watch(event_type, self._on_pod_event)
        for event_type in (ev.NodePowerChanged, ev.NodeAdded, ev.NodeRemoved, ev.NetworkPartitioned):
            state.watch(event_type, self._on_everything)
        state.watch(ev.NetworkHealed, self._on_healed)
        state.watch(ev.NodeReadyChanged, self._on_node_ready)
        for node in state.node_list:
            if node.ready != "True":
                self._not_ready[node.name] = None
        super().start()

    # --- what changes a plan -------------------------------------------------------------------------
    def _on_generator(self, index: int) -> None:
        now = self.env.now
        if index < len(self._flows):
            flow = self._flows[index]
            flow.shape = self.traffic.shapes[index]  # a spike: it starts at a tick boundary >= now
            flow.changed = now
        else:
            flow = _Flow(index, self.traffic, self._acc(self.traffic.generators[index].service), now)
            self._flows.append(flow)
            self._by_service.setdefault(flow.service, []).append(flow)
            entry = flow.generator.entry
            if not isinstance(entry, External) and entry.pod is not None:
                self._by_client.setdefault(entry.pod, []).append(flow)
        self._dirty[flow] = None

    def _on_service_event(self, event: Any) -> None:
        for flow in self._by_service.get(event.service, ()):
            self._dirty[flow] = None

    def _on_object(self, event: ev.ObjectApplied) -> None:
        if event.kind == "Service":
            for flow in self._by_service.get(event.name, ()):
                self._dirty[flow] = None

    def _on_pod_event(self, event: Any) -> None:
        flows = self._by_pod.get(event.pod)
        if flows:
            for flow in flows:
                self._dirty[flow] = None
        clients = self._by_client.get(event.pod)
        if clients:
            for flow in clients:
                self._dirty[flow] = None

    def _on_node_ready(self, event: ev.NodeReadyChanged) -> None:
        if event.status == "True":
            self._not_ready.pop(event.node, None)
        else:
            self._not_ready[event.node] = None

    def _on_everything(self, _event: object = None) -> None:
        for flow in self._flows:
            self._dirty[flow] = None

    def _on_healed(self, event: ev.NetworkHealed) -> None:
        self._on_everything()
        # A reconnected node's proxy resyncs its view after the propagation delay, without an event.
        timeout = self.env.timeout(self.proxy.endpoints.propagation_delay + self.tick)
        timeout.callbacks.append(self._on_everything)  # type: ignore[union-attr]

    # --- the tick --------------------------------------------------------------------------------------
    def _step(self, now: float) -> None:
        if self._dirty:
            dirty = list(self._dirty)
            self._dirty.clear()
            for flow in dirty:
                self._replan(flow, now)
        if self._hot:
            self._step_hot(now)

    def _close_window(self, now: float, steady: dict[str, Any] | None = None) -> None:
        steady = self._steady(now)
        for flow in self._flows:
            if flow.service in steady:
                flow.seg_start = now
                for server, _share in flow.entries:
                    server.window += 1  # it served in this window what it served in the last one
            else:
                self._flush(flow, now)
        super()._close_window(now, steady)
        end = now + self.window
        self._revalidate()
        again: dict[_Server, None] = {}
        for flow in self._flows:
            shape = flow.shape
            if shape.constant and flow.peak == flow.low == shape.rate(now):
                continue
            peak, low = shape.peak(now, end), shape.low(now, end)
            rises, falls = peak > flow.peak, low < flow.low
            flow.peak, flow.low = peak, low
            if rises or falls:  # else no pod's mode can change: a cool pod stays under, a full one over
                for server, _share in flow.entries:
                    if (rises and server.mode == COOL) or (falls and server.mode == FULL):
                        again[server] = None
        for server in again:
            self._classify(server, now)

    def _steady(self, now: float) -> dict[str, Any]:
        """The Services whose window is a copy of their last one: every flow's rate constant over both
        windows, its plan and its pods' modes unchanged since the last one began, no hot pod (and one
        flow per pod, since a pod's latency depends on all its flows). Their flows need no accounting
        for this window."""
        if not self.reuse_steady_windows or self.tick_every_pod:
            return {}
        start = self.window_start
        since = start - self.window
        settled = since + _EPS
        previous = self._window_index - 1
        steady: dict[str, Any] = {}
        for service, flows in self._by_service.items():
            acc = flows[0].acc
            if acc.last is None or acc.last_end != start:
                continue
            for flow in flows:
                if flow.seg_start != start or flow.changed > settled:
                    break
                shape = flow.shape
                if not shape.constant and not (flow.peak == flow.low and shape.peak(since, now) == shape.low(since, now)):
                    break  # the rate changed during these two windows
                for server, _share in flow.entries:
                    if server.mode == HOT or server.window != previous or len(server.flows) != 1:
                        break
                else:
                    continue
                break
            else:
                steady[service] = None
        return steady

    def _queued_by_service(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for servers in (self._hot, self._full):
            for server in servers:
                for flow, backlog in server.queue.items():
                    out[flow.service] = out.get(flow.service, 0.0) + backlog
        return out

    def _revalidate(self) -> None:
        """Replan the flows that route to a node whose kubelet cannot report (stopped, cut off, runtime
        down): its containers may have died or come back without an event."""
        kubelets = self.sim.kubelets
        dispatcher = getattr(self.sim, "kubelet_dispatcher", None)
        slots = getattr(dispatcher, "_slots", None)
        everyone_reports = False
        if slots is not None and not self._not_ready:
            # Every kubelet renewing its lease (none stopped, cut off or down) and none reporting its
            # runtime down: every kubelet reports, so every change came with an event.
            everyone_reports = sum(len(members) for members in slots.values()) == len(kubelets)
        silent: dict[str, bool] = {}
        for flow in () if everyone_reports else self._flows:
            for node in flow.pods.values():
                quiet = silent.get(node)
                if quiet is None:
                    kubelet = kubelets.get(node)
                    quiet = silent[node] = kubelet is not None and not kubelet.acting
                if quiet:
                    self._dirty[flow] = None
                    break
        for server in list(self._hot):
            if server.queue and not server.flows and silent.get(server.node, True):
                if not self.proxy.endpoint_alive(server.endpoint):
                    self._lose_queue(server)

    # --- segments: cool and full pods, dead pods, failures ------------------------------------------------
    def _flush(self, flow: _Flow, now: float) -> None:
        """Account for ``flow``'s traffic since its segment began, except at hot pods (ticked)."""
        start = flow.seg_start
        if start >= now:
            return
        flow.seg_start = now
        amount = flow.shape.integral(start, now)
        if amount <= 0.0:
            return
        acc = flow.acc
        rows = acc.endpoints
        span = now - start
        mean_rate = amount / span
        served_by = self._served
        index = self._window_index
        for server, share in flow.entries:
            mode = server.mode
            if mode == HOT:
                continue
            x = amount * share
            key = server.key
            row = rows.get(key)
            if row is None:
                row = rows[key] = [0.0, 0.0, 0.0, 0.0]
            row[0] += x
            capacity = server.capacity
            if mode == FULL:
                served = capacity * span
                if served > x:  # only by round-off: FULL means the rate never fell below capacity
                    served = x
                row[1] += served
                row[2] += x - served
                row[3] += served * (server.service_time + server.max_wait)
                acc.fail(QUEUE_FULL, x - served)
                served_by(server, served)
                continue
            row[1] += x
            if len(server.flows) == 1:
                rho = mean_rate * share / capacity
            else:
                rho = sum(f.shape.integral(start, now) * s for f, s in server.flows.items()) / span / capacity
            wait = server.max_wait
            if rho < 1.0:
                md1 = rho / (2.0 * capacity * (1.0 - rho))  # M/D/1 mean wait
                if md1 < wait:
                    wait = md1
            row[3] += x * (server.service_time + wait)
            if server.window == index:  # _served, inlined: the common case
                server.served += x
            else:
                served_by(server, x)
        for key, share, reason in flow.dead:
            x = amount * share
            row = acc.endpoint(key)
            row[0] += x
            row[2] += x
            acc.fail(reason, x)
        for reason, share in flow.unrouted:
            x = amount * share
            acc.unrouted += x
            acc.fail(reason, x)

    # --- which pods are ticked ------------------------------------------------------------------------------
    def _mode_for(self, server: _Server) -> int:
        if self.tick_every_pod:
            return HOT
        flows = server.flows
        queue = server.queue
        capacity = server.capacity
        backlog = 0.0
        for value in queue.values():
            backlog += value
        if backlog == 0.0:
            load = 0.0
            for flow, share in flows.items():
                load += flow.peak * share
            if load <= capacity * (1.0 + 1e-12):
                return COOL
        if len(flows) == 1 and backlog >= server.limit - 1e-6:
            ((flow, share),) = flows.items()
            if (not queue or (len(queue) == 1 and flow in queue)) and flow.low * share >= capacity * (1.0 + 1e-12):
                return FULL
        return HOT

    def _classify(self, server: _Server, now: float) -> None:
        mode = self._mode_for(server)
        if mode != server.mode:
            self._set_mode(server, mode, now)

    def _set_mode(self, server: _Server, mode: int, now: float) -> None:
        for flow in server.flows:
            self._flush(flow, now)
            flow.changed = now
        old = server.mode
        if old == HOT:
            del self._hot[server]
        elif old == FULL:
            del self._full[server]
        server.mode = mode
        if mode == HOT:
            self._hot[server] = None
        elif mode == FULL:
            self._full[server] = None
            (flow,) = server.flows
            server.queue = {flow: server.limit} if server.limit > 0 else {}

    def _step_hot(self, now: float) -> None:
        """One tick ``[now, now + tick)`` of every hot pod: a fluid FIFO (see the module docstring)."""
        end = now + self.tick
        integrals: dict[_Flow, float] = {}
        alive = self.proxy.endpoint_alive
        for server in list(self._hot):
            if server.queue and not server.flows and not alive(server.endpoint):
                self._lose_queue(server)
            mode = self._mode_for(server)
            if mode != HOT:
                self._set_mode(server, mode, now)
                continue
            queue = server.queue
            arrivals: dict[_Flow, float] = {}
            for flow, share in server.flows.items():
                amount = integrals.get(flow)
                if amount is None:
                    amount = integrals[flow] = flow.shape.integral(now, end)
                if amount > 0.0:
                    arrivals[flow] = amount * share
            backlog_before = sum(queue.values())
            total = backlog_before + sum(arrivals.values())
            if total <= 0.0:
                continue
            capacity = server.capacity * self.tick
            served_total = total if total <= capacity else capacity
            left = total - served_total
            dropped_total = left - server.limit if left > server.limit else 0.0
            backlog_after = left - dropped_total
            latency = server.service_time + (backlog_before + backlog_after) / 2.0 / server.capacity
            served_part = served_total / total
            drop_part = dropped_total / total
            new_queue: dict[_Flow, float] = {}
            key = server.key
            for flow in (queue | arrivals) if queue else arrivals:
                arrived = arrivals.get(flow, 0.0)
                mine = queue.get(flow, 0.0) + arrived
                acc = flow.acc
                row = acc.endpoint(key)
                row[0] += arrived
                served = mine * served_part
                dropped = mine * drop_part
                rest = mine - served - dropped
                if rest <= 1e-9:  # round-off: count a crumb as served rather than keep it
                    served += rest
                    rest = 0.0
                row[1] += served
                row[3] += served * latency
                if dropped > 0.0:
                    row[2] += dropped
                    acc.fail(QUEUE_FULL, dropped)
                if rest > 0.0:
                    new_queue[flow] = rest
            server.queue = new_queue
            self._served(server, served_total)

    def _lose_queue(self, server: _Server) -> None:
        for flow, backlog in server.queue.items():
            row = flow.acc.endpoint(server.key)
            row[2] += backlog
            flow.acc.fail(LOST_IN_QUEUE, backlog)
        server.queue = {}

    # --- planning -----------------------------------------------------------------------------------------
    def _replan(self, flow: _Flow, now: float) -> None:
        self._flush(flow, now)
        flow.changed = now
        entries, dead, unrouted = self._plan(flow)
        touched: dict[_Server, None] = {}
        for server, _share in flow.entries:
            if server.mode == FULL:  # FULL is for one flow: account for it up to now, then tick
                self._set_mode(server, HOT, now)
            server.flows.pop(flow, None)
            touched[server] = None
        for key in flow.pods:
            holders = self._by_pod.get(key)
            if holders is not None:
                holders.pop(flow, None)
                if not holders:
                    del self._by_pod[key]
        new_entries = []
        pods: dict[str, str] = {}
        for uid, (endpoint, share) in entries.items():
            server = self._servers.get(uid)
            if server is None:
                server = self._servers[uid] = _Server(endpoint, self.state.pods[uid].spec, self.serving, now)
            elif server.mode == FULL and flow not in server.flows:
                self._set_mode(server, HOT, now)
            server.flows[flow] = share
            new_entries.append((server, share))
            touched[server] = None
            pods[server.key] = server.node
        flow.entries = new_entries
        flow.dead = [(key, share, reason) for key, (share, reason, _node) in dead.items()]
        flow.unrouted = list(unrouted.items())
        for key, (_share, _reason, node) in dead.items():
            pods[key] = node
        flow.pods = pods
        for key in pods:
            self._by_pod.setdefault(key, {})[flow] = None
        end = self.window_start + self.window
        flow.peak = flow.shape.peak(now, end)
        flow.low = flow.shape.low(now, end)
        for server in touched:
            if server.queue and not self.proxy.endpoint_alive(server.endpoint):
                self._lose_queue(server)
            self._classify(server, now)

    def _plan(self, flow: _Flow) -> tuple[dict[str, tuple[Endpoint, float]], dict[str, list], dict[str, float]]:
        """Where ``flow``'s rate goes now: live endpoints (pod uid -> (endpoint, share)), dead or
        unreachable ones (pod key -> [share, reason, node]) and failures before any endpoint (reason -> share)."""
        entries: dict[str, tuple[Endpoint, float]] = {}
        dead: dict[str, list] = {}
        unrouted: dict[str, float] = {}
        generator = flow.generator
        external = isinstance(generator.entry, External)
        service = flow.service
        k = len(flow.clients)
        # Who enters where: {node: weight}, or one node per client (session affinity).
        client_nodes: list[str] | None = None
        weights: dict[str, float] = {}
        service_obj = self._service_object(service)
        sticky = service_obj is not None and service_obj.session_affinity == "ClientIP"
        lb = self._balancer(service) if external else None
        if external:
            if lb is not None:
                targets = lb.serving_targets()
                if not targets:
                    unrouted[NO_LB_TARGET] = 1.0
                    return entries, dead, unrouted
                if sticky:
                    client_nodes = [targets[h % len(targets)] for h in flow.hashes]
                else:
                    for node in targets:
                        weights[node] = weights.get(node, 0.0) + 1.0 / len(targets)
            else:
                names = [n.name for n in self.state.node_list]
                if not names:
                    unrouted[NODE_DOWN] = 1.0
                    return entries, dead, unrouted
                client_nodes = [names[h % len(names)] for h in flow.hashes]
        else:
            entry = generator.entry
            node_name = entry.node
            if entry.pod is not None:
                pod = self.state.pods_by_key.get(entry.pod)
                node_name = pod.node_name if pod is not None else None
            if node_name is None:
                unrouted[NO_CLIENT] = 1.0
                return entries, dead, unrouted
            if sticky:
                client_nodes = [node_name] * k
            else:
                weights[node_name] = 1.0
        if client_nodes is not None and not sticky:
            for node in client_nodes:
                weights[node] = weights.get(node, 0.0) + 1.0 / k
            client_nodes = None
        partitioned = self.proxy.reachable is not None and (self.network is None or bool(self.network.partitions))
        alive_cache: dict[str, bool] = {}
        via_lb = lb is not None
        if client_nodes is None:
            by_pool: dict[int, list] = {}
            for node, weight in weights.items():
                pool = self._pool_at(service, node, external, via_lb)
                if isinstance(pool, str):
                    unrouted[pool] = unrouted.get(pool, 0.0) + weight
                elif partitioned:
                    self._spread(pool.endpoints, weight, node, entries, dead, alive_cache)
                else:
                    group = by_pool.get(id(pool))
                    if group is None:
                        by_pool[id(pool)] = [pool, weight]
                    else:
                        group[1] += weight
            for pool, weight in by_pool.values():
                self._spread(pool.endpoints, weight, None, entries, dead, alive_cache)
            return entries, dead, unrouted
        # Session affinity: each client keeps its endpoint while it stays in its node's pool.
        share = 1.0 / k
        kept = flow.sticky
        chosen: dict[str, tuple[str, str]] = {}
        for client, node in zip(flow.clients, client_nodes):
            pool = self._pool_at(service, node, external, via_lb)
            if isinstance(pool, str):
                unrouted[pool] = unrouted.get(pool, 0.0) + share
                continue
            previous = kept.get(client)
            endpoint = pool.by_uid.get(previous[1]) if previous is not None and previous[0] == node else None
            if endpoint is None:
                endpoint = pool.endpoints[self.rng.randrange(pool.size)]
            chosen[client] = (node, endpoint.pod_uid)
            self._spread((endpoint,), share, node if partitioned else None, entries, dead, alive_cache)
        flow.sticky = chosen
        return entries, dead, unrouted

    def _spread(self, endpoints: tuple[Endpoint, ...], weight: float, node: str | None,
                entries: dict, dead: dict, alive_cache: dict[str, bool]) -> None:  # fmt: skip
        share = weight / len(endpoints)
        reachable = self.proxy.reachable
        for endpoint in endpoints:
            uid = endpoint.pod_uid
            alive = alive_cache.get(uid)
            if alive is None:
                alive = alive_cache[uid] = self.proxy.endpoint_alive(endpoint)
            if not alive:
                dead.setdefault(endpoint.pod, [0.0, ENDPOINT_DEAD, endpoint.node])[0] += share
            elif node is not None and endpoint.node != node and reachable is not None and not reachable(node, endpoint.node):
                dead.setdefault(endpoint.pod, [0.0, UNREACHABLE, endpoint.node])[0] += share
            else:
                held = entries.get(uid)
                entries[uid] = (endpoint, share + (held[1] if held is not None else 0.0))

    def _pool_at(self, service: str, node: str, external: bool, via_lb: bool) -> Any:
        """The pool ``node``'s proxy routes ``service`` from (its ``_Pool``), or why it fails: the
        decisions of :meth:`Proxy.route <podquake.model.proxy.Proxy.route>`, read from its tables."""
        machine = self.state.nodes.get(node)
        if machine is None or not machine.up:
            return NODE_DOWN
        if via_lb and not self._lb_reaches(node):
            return LB_UNREACHABLE
        proxy = self.proxy
        table = proxy._frozen.get(node, proxy._tables).get(service)  # this node's view (see the docstring)
        if table is None:
            return UNKNOWN_SERVICE
        if table.kind != "proxied":
            if table.kind == "external-name" or external:
                return NOT_PROXIED
            return table.cluster if table.cluster is not None else NO_ENDPOINTS
        if external:
            if not table.exposed:
                return NOT_EXPOSED
            local = table.external_local
        else:
            local = table.internal_local
        if local:
            pool = table.local.get(node)
            if pool is None:
                return NO_LOCAL_ENDPOINTS if table.has_any else NO_ENDPOINTS
            return pool
        return table.cluster if table.cluster is not None else NO_ENDPOINTS


# === the request mode ====================================================================================
class RequestLoad(_LoadModel):
    """Every request routed, queued and served. See the module docstring."""

    mode = "request"
    default_tick = 0.1

    def __init__(self, sim: Simulation, **kwargs: Any) -> None:
        super().__init__(sim, **kwargs)
        self._busy: dict[_Server, None] = {}
        self._names: list[str] | None = None  # node names, for node-port entry
        #: Requests handled so far (arrivals drawn), for benchmarks.
        self.requests = 0

    def _on_generator(self, index: int) -> None:
        self._acc(self.traffic.generators[index].service)

    def _queued_by_service(self) -> dict[str, float]:
        return {service: acc.queued for service, acc in self._accs.items() if acc.queued}

    def _close_window(self, now: float, steady: dict[str, Any] | None = None) -> None:
        self._complete(now)
        super()._close_window(now)

    def _step(self, now: float) -> None:
        self._complete(now)
        self._arrivals(now, now + self.tick)

    # --- completions -----------------------------------------------------------------------------------------
    def _complete(self, now: float) -> None:
        """Count what finished by ``now``; a dead pod loses the rest of its queue."""
        if not self._busy:
            return
        proxy = self.proxy
        release = proxy.release if proxy._least_connection else None
        for server in list(self._busy):
            pending = server.pending
            key = server.key
            served = 0
            while pending and pending[0][0] <= now:
                done, arrival, acc, node = pending.popleft()
                rows = acc.endpoints
                row = rows.get(key)
                if row is None:  # served in a later window than it arrived
                    row = rows[key] = [0.0, 0.0, 0.0, 0.0]
                row[1] += 1.0
                row[3] += done - arrival
                acc.queued -= 1.0
                served += 1
                if release is not None:
                    release(node, server.endpoint)
            if served:
                self._served(server, served)
            if pending and not proxy.endpoint_alive(server.endpoint):
                while pending:
                    _done, _arrival, acc, node = pending.popleft()
                    acc.endpoint(key)[2] += 1.0
                    acc.fail(LOST_IN_QUEUE, 1.0)
                    acc.queued -= 1.0
                    if release is not None:
                        release(node, server.endpoint)
            if not pending:
                del self._busy[server]

    # --- arrivals ------------------------------------------------------------------------------------------------
    def _arrivals(self, now: float, end: float) -> None:
        """Draw and handle the requests of ``[now, end)`` (see the module docstring)."""
        traffic = self.traffic
        flows: list[tuple[Any, ...]] = []
        amounts: list[float] = []
        for index, generator in enumerate(traffic.generators):
            amount = traffic.shapes[index].integral(now, end)
            if amount > 0.0:
                flows.append(self._flow_state(index, generator))
                amounts.append(amount)
        if not flows:
            return
        total = sum(amounts)
        bounds = []  # cumulative shares: one uniform draw picks the generator, and its client
        lows = []
        scales = []
        running = 0.0
        for amount, flow in zip(amounts, flows):
            lows.append(running / total)
            running += amount
            bounds.append(running / total)
            scales.append(len(flow[1]) / (bounds[-1] - lows[-1]))
        bounds[-1] = 1.0
        rate = total / (end - now)
        rng = self.rng
        expo = rng.expovariate
        uniform = rng.random
        proxy = self.proxy
        route = proxy.route
        alive = proxy.endpoint_alive
        reachable = proxy.reachable
        if reachable is not None and self.network is not None and not self.network.partitions:
            reachable = None  # no partition: every node reaches every other
        least_connection = proxy._least_connection
        servers = self._servers
        busy_servers = self._busy
        pods = self.state.pods
        serving = self.serving
        failures = proxy.failures
        alive_cache: dict[str, bool] = {}
        single = len(flows) == 1
        count = delivered = 0
        t = now
        while True:
            t += expo(rate)
            if t >= end:
                break
            count += 1
            u = uniform()
            i = 0 if single else bisect_right(bounds, u)
            service, clients, acc, entry, fixed, external, lb, node_list = flows[i]
            c = int((u - lows[i]) * scales[i])
            client = clients[c] if c < len(clients) else clients[-1]
            # where it enters
            if fixed is not None:
                node = fixed
            elif lb is not None:
                node = lb.pick_target(client)
                if node is None or not self._lb_reaches(node):
                    acc.unrouted += 1.0
                    acc.fail(NO_LB_TARGET if node is None else LB_UNREACHABLE, 1.0)
                    continue
            elif node_list is not None:
                node = node_list[zlib.crc32(client.encode()) % len(node_list)]
            else:
                acc.unrouted += 1.0
                acc.fail(entry, 1.0)
                continue
            result = route(service, client, node, t, external)
            if result.__class__ is str:
                acc.unrouted += 1.0
                acc.fail(result, 1.0)  # type: ignore[arg-type]
                failures[result] = failures.get(result, 0) + 1  # type: ignore[index]
                continue
            endpoint: Endpoint = result  # type: ignore[assignment]
            uid = endpoint.pod_uid
            ok = alive_cache.get(uid)
            if ok is None:
                ok = alive_cache[uid] = alive(endpoint)
            rows = acc.endpoints
            row = rows.get(endpoint.pod)
            if row is None:
                row = rows[endpoint.pod] = [0.0, 0.0, 0.0, 0.0]
            row[0] += 1.0
            if not ok or (reachable is not None and endpoint.node != node and not reachable(node, endpoint.node)):
                reason = ENDPOINT_DEAD if not ok else UNREACHABLE
                row[2] += 1.0
                acc.fail(reason, 1.0)
                failures[reason] = failures.get(reason, 0) + 1
                if least_connection:
                    proxy.release(node, endpoint)
                continue
            delivered += 1
            server = servers.get(uid)
            if server is None:
                server = servers[uid] = _Server(endpoint, pods[uid].spec, serving, now)
            busy = server.busy_until
            if busy < t:
                busy = t
            elif busy - t > server.max_wait:
                row[2] += 1.0
                acc.fail(QUEUE_FULL, 1.0)
                if least_connection:
                    proxy.release(node, endpoint)
                continue
            done = busy + server.service_time
            server.busy_until = done
            pending = server.pending
            pending.append((done, t, acc, node))
            acc.queued += 1.0
            if len(pending) == 1:
                busy_servers[server] = None
        proxy.delivered += delivered
        self.requests += count

    def _flow_state(self, index: int, generator: Any) -> tuple[Any, ...]:
        """What the arrival loop needs of generator ``index`` this tick: (service, clients, acc, failure
        reason or None, fixed entry node or None, external, load balancer or None, nodes or None)."""
        service = generator.service
        acc = self._accs[service]
        clients = self.traffic.clients[index]
        entry = generator.entry
        if isinstance(entry, External):
            lb = self._balancer(service)
            if lb is not None:
                return service, clients, acc, None, None, True, lb, None
            names = self._node_names()
            if not names:
                return service, clients, acc, NODE_DOWN, None, True, None, None
            return service, clients, acc, None, None, True, None, names
        node = entry.node
        if entry.pod is not None:
            pod = self.state.pods_by_key.get(entry.pod)
            node = pod.node_name if pod is not None else None
        if node is None:
            return service, clients, acc, NO_CLIENT, None, False, None, None
        return service, clients, acc, None, node, False, None, None

    def _node_names(self) -> list[str]:
        node_list = self.state.node_list
        if self._names is None or len(self._names) != len(node_list) or (node_list and self._names[-1] != node_list[-1].name):
            self._names = [n.name for n in node_list]
        return self._names


def make_load(sim: Simulation, mode: str = "fluid", **kwargs: Any) -> FluidLoad | RequestLoad:
    """The load model of ``mode`` (``"fluid"`` or ``"request"``); keyword arguments as :class:`FluidLoad`."""
    if mode == "fluid":
        return FluidLoad(sim, **kwargs)
    if mode == "request":
        return RequestLoad(sim, **kwargs)
    raise ValueError(f"unknown load mode {mode!r}: use one of {', '.join(MODES)}")
