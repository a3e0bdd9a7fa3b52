"""The fluid load mode (:class:`FluidLoad`, ``mode="fluid"``, the fast default): rates, not requests.
Every ``tick`` (default 1 s) each generator's rate is split over the endpoints the node proxies would
choose, in expectation; each pod serves up to its capacity, queues the rest up to ``queue_limit`` and
drops beyond it. Where the rates go (the plan of each generator) is computed by
:mod:`podquake.model.load_fluid_routing`; what the mode shares with the request mode (pods as servers,
windows, the trace, CPU) is in :mod:`podquake.model.load_common`; the overview is in
:mod:`podquake.model.load`.

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
at the first tick boundary after them. With no hot pod and no change to replan, the mode does not
tick at all until the window ends or a change wakes it. Latency: ``1 / capacity`` of service plus the waiting time: the backlog
over capacity for a hot pod (the mean of the tick's start and end), ``queue_limit / capacity`` for a
full one, and for a cool one the M/D/1 mean wait ``rho / (2 capacity (1 - rho))`` at its mean
utilization ``rho`` over the segment (capped at the full queue's).

**Closing a window, cheaply** (one :class:`~podquake.model.trace.TrafficWindow` per Service every
window is most of the work with 1,000 Services): a *steady* Service (rates, plan and pods' modes
unchanged over its last two windows) gets its last window again; a *direct* one (the only generator
of its Service, a plan with no dead endpoint or failure before one, every pod cool and taking only
this traffic, nothing counted yet in the window) gets its rows computed as the window is emitted,
with the arithmetic of the general path (segment flush, then rounding) in the same order, so the
trace is the same to the bit (the tests switch both shortcuts off and compare).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from math import floor, inf
from typing import TYPE_CHECKING, Any

from podquake.model import trace as ev
from podquake.model.load_common import (
    _EPS,
    LOST_IN_QUEUE,
    QUEUE_FULL,
    _Acc,
    _LoadModel,
    _Server,
)
from podquake.model.load_fluid_routing import FluidRouting
from podquake.model.traffic import External, Traffic

if TYPE_CHECKING:
    from podquake.model.simulation import Simulation

__all__ = ["COOL", "FULL", "HOT", "FluidLoad"]


COOL, HOT, FULL = 0, 1, 2
"""How a pod is accounted for in the fluid mode: COOL (no queue, never over capacity until the
window ends: everything served, summed over segments), FULL (one flow, queue at its limit, never
under capacity until the window ends: capacity served, the rest dropped, summed over segments), HOT
(anything else: stepped every tick)."""


def _first(item: tuple[Any, ...]) -> Any:
    return item[0]


class _Flow:
    """One generator's traffic in the fluid mode: its current plan (where its rate goes) and the
    segment of time not yet accounted for."""

    __slots__ = ("index", "generator", "service", "shape", "constant", "rate", "clients", "acc", "seg_start", "entries",
                 "by_key", "uniform", "cool", "dead", "unrouted", "peak", "low", "sticky", "hashes", "pods", "changed")  # fmt: skip

    def __init__(self, index: int, traffic: Traffic, acc: _Acc, now: float) -> None:
        self.index = index
        self.generator = traffic.generators[index]
        self.service = self.generator.service
        self.shape = traffic.shapes[index]
        self.constant = self.shape.constant
        self.rate = self.shape.rate(now) if self.constant else -1.0  # a constant shape's rate
        self.clients = traffic.clients[index]
        self.acc = acc
        self.seg_start = now
        self.entries: list[tuple[_Server, float]] = []
        #: The entries as ``(pod key, server, share)`` in pod key order, when the plan is simple enough
        #: for a window to be computed directly (no dead endpoint, no failure before one, one server
        #: per pod key); else None.
        self.by_key: tuple[tuple[str, _Server, float], ...] | None = None
        self.uniform = False  # by_key's endpoints all get the same share and serve alike
        self.cool: bool | None = None  # every pod of by_key cool and taking only this flow (None: not known)
        self.dead: list[tuple[str, float, str]] = []  # (pod key, share, reason)
        self.unrouted: list[tuple[str, float]] = []  # (reason, share)
        self.peak = 0.0  # bounds of the rate until the window's end
        self.low = 0.0
        self.sticky: dict[str, tuple[str, str]] = {}  # client -> (entry node, pod uid)
        self.hashes = [zlib.crc32(c.encode()) for c in self.clients]
        self.pods: dict[str, str] = {}  # pod key -> node, of every endpoint in the plan (alive or not)
        self.changed = now  # when its plan, shape or pods' modes last changed


class FluidLoad(FluidRouting, _LoadModel):
    """Rates split over endpoints per tick. See the module docstring."""

    mode = "fluid"
    default_tick = 1.0
    #: Emit a steady Service's window again rather than recompute it (same result; off in a test).
    reuse_steady_windows = True
    #: Compute a simple window as it is emitted rather than count it into rows (same result; off in a test).
    direct_windows = True
    #: Step every pod every tick, as a model without cool and full pods would (the reference the lazy
    #: accounting is checked against in the tests, and the benchmark's baseline; same requests).
    tick_every_pod = False

    def __init__(self, sim: Simulation, **kwargs: Any) -> None:
        super().__init__(sim, **kwargs)
        self._flows: list[_Flow] = []
        self._by_service: dict[str, list[_Flow]] = {}
        self._by_pod: dict[str, dict[_Flow, None]] = {}  # pod key -> flows whose plan names it
        self._by_client: dict[str, list[_Flow]] = {}  # client pod key -> internal flows from it
        self._dirty: dict[_Flow, float] = {}  # flow -> when it changed (-inf: replan at the coming tick)
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
            flow.constant = flow.shape.constant
            flow.rate = flow.shape.rate(now) if flow.constant else -1.0
            flow.changed = now
        else:
            flow = _Flow(index, self.traffic, self._acc(self.traffic.generators[index].service), now)
            self._flows.append(flow)
            self._by_service.setdefault(flow.service, []).append(flow)
            entry = flow.generator.entry
            if not isinstance(entry, External) and entry.pod is not None:
                self._by_client.setdefault(entry.pod, []).append(flow)
        self._dirty.setdefault(flow, now if self._last_tick >= 0 else -inf)  # before the first tick: planned by it

    # A flow that changes at t is replanned at the first tick after t (whichever of the change and a
    # tick at t comes first in SimPy's queue), so a model that skips its idle ticks replans it at
    # the same tick as one that steps them all.
    def _on_service_event(self, event: Any) -> None:
        self._mark(self._by_service.get(event.service, ()))

    def _on_object(self, event: ev.ObjectApplied) -> None:
        if event.kind == "Service":
            self._mark(self._by_service.get(event.name, ()))

    def _on_pod_event(self, event: Any) -> None:
        flows = self._by_pod.get(event.pod)
        if flows:
            self._mark(flows)
        clients = self._by_client.get(event.pod)
        if clients:
            self._mark(clients)

    def _mark(self, flows: Iterable[_Flow]) -> None:
        """``flows`` changed now: replan them at the next tick."""
        now = self.env.now
        dirty = self._dirty
        for flow in flows:
            if flow not in dirty:
                dirty[flow] = now
        self._wake()

    def _on_node_ready(self, event: ev.NodeReadyChanged) -> None:
        if event.status == "True":
            self._not_ready.pop(event.node, None)
        else:
            self._not_ready[event.node] = None

    def _on_everything(self, _event: object = None) -> None:
        self._mark(self._flows)

    def _idle(self) -> bool:
        # Cool and full pods are accounted for lazily and nothing is to be replanned: only hot pods
        # need their ticks (every event that dirties a flow wakes the model).
        return not self._dirty and not self._hot and not self.tick_every_pod

    def _on_healed(self, event: ev.NetworkHealed) -> None:
        self._on_everything()
        # A reconnected node's proxy resyncs its view after the propagation delay, without an event.
        timeout = self.env.timeout(self.proxy.endpoints.propagation_delay + self.tick)
        timeout.callbacks.append(self._on_everything)  # type: ignore[union-attr]

    # --- the tick --------------------------------------------------------------------------------------
    def _step(self, now: float) -> None:
        if self._dirty:
            changed = self._dirty
            before = now - _EPS
            due = [flow for flow, at in changed.items() if at < before]
            for flow in due:
                del changed[flow]
            for flow in due:
                self._replan(flow, now)
        if self._hot:
            self._step_hot(now)

    def _close_window(self, now: float, steady: dict[str, Any] | None = None, direct: dict[str, Any] | None = None) -> None:
        start = self.window_start
        reuse = self.reuse_steady_windows and not self.tick_every_pod
        shortcut = self.direct_windows
        since = start - self.window
        settled = since + _EPS
        previous = self._window_index - 1
        steady = {}
        direct = {}
        by_service = self._by_service
        for flow in self._flows:
            service = flow.service
            group = by_service[service]
            if len(group) != 1:  # several flows: decided for the Service, at its first flow
                if service not in steady and (not reuse or flow is not group[0] or not self._steady(group, now)):
                    self._flush(flow, now)
                    continue
                steady[service] = None
            else:
                acc = flow.acc
                # _steady_flow, written out for the only flow of a Service
                if (
                    reuse and acc.last is not None and acc.last_end == start and flow.seg_start == start
                    and flow.changed <= settled
                    and (flow.constant or (flow.peak == flow.low and self._flat(flow, since, now)))
                ):  # fmt: skip
                    for server, _share in flow.entries:
                        if server.mode == HOT or server.window != previous or len(server.flows) != 1:
                            break
                    else:
                        steady[service] = None
                        flow.seg_start = now
                        for server, _share in flow.entries:
                            server.window += 1  # it served in this window what it served in the last one
                        continue
                # direct: nothing counted yet this window, a simple plan (see _Flow.by_key) of cool
                # pods that take no other flow: its rows are computed as the window is emitted
                by_key = flow.by_key
                if (
                    shortcut and by_key is not None and flow.seg_start < now
                    and not acc.endpoints and not acc.failures and acc.unrouted == 0.0
                ):  # fmt: skip
                    cool = flow.cool
                    if cool is None:
                        cool = flow.cool = self._all_cool(by_key)
                    if cool:
                        direct[service] = flow
                        continue
                self._flush(flow, now)
                continue
            flow.seg_start = now
            for server, _share in flow.entries:
                server.window += 1  # it served in this window what it served in the last one
        super()._close_window(now, steady, direct)
        end = now + self.window
        self._revalidate()
        again: dict[_Server, None] = {}
        for flow in self._flows:
            if flow.constant and flow.peak == flow.low == flow.rate:
                continue
            low, peak = flow.shape.bounds(now, end)
            rises, falls = peak > flow.peak, low < flow.low
            flow.peak, flow.low = peak, low
            if rises or falls:  # else no pod's mode can change: a cool pod stays under, a full one over
                for server, share in flow.entries:
                    mode = server.mode
                    if rises and mode == COOL:
                        # _mode_for, for a pod with this one flow: still cool at the new peak
                        if len(server.flows) == 1 and peak * share <= server.capacity * (1.0 + 1e-12):
                            continue
                        again[server] = None
                    elif falls and mode == FULL:
                        again[server] = None
        for server in again:
            self._classify(server, now)

    def _direct_rows(self, item: Any, now: float) -> tuple[list[tuple[Any, ...]], float, float]:
        """What :meth:`_flush` then the window's emission would make of a direct flow's rows (see
        :meth:`_close_window`): the same arithmetic in the same order (each row would start at 0, and
        ``0 + x`` is ``x``), without the rows; endpoints with the same share and capacity share their
        rounded figures."""
        flow: _Flow = item
        start = flow.seg_start
        flow.seg_start = now
        per_endpoint: list[tuple[Any, ...]] = []
        amount = flow.shape.integral(start, now)
        if amount <= 0.0:
            return per_endpoint, 0.0, 0.0
        span = now - start
        mean_rate = amount / span
        index = self._window_index
        offered = 0.0
        by_key = flow.by_key
        if flow.uniform:  # every endpoint gets the same: compute it once
            _key, server, share = by_key[0]  # type: ignore[index]
            x = amount * share
            capacity = server.capacity
            rho = mean_rate * share / capacity
            wait = server.max_wait
            if rho < 1.0:
                md1 = rho / (2.0 * capacity * (1.0 - rho))  # M/D/1 mean wait
                if md1 < wait:
                    wait = md1
            latency = x * (server.service_time + wait)
            rounded = floor(x * 1e3 + 0.5) / 1e3
            latency_rounded = floor(latency / x * 1e6 + 0.5) / 1e6 if x > 0.0 else 0.0
            for key, server, _share in by_key:  # type: ignore[union-attr]
                if server.window != index:  # _served, written out
                    server.previous = server.served if server.window == index - 1 else 0.0
                    server.served = 0.0
                    server.window = index
                server.served += x
                if x != 0.0:
                    per_endpoint.append((key, rounded, rounded, 0.0, latency_rounded))
                    offered += x
            return per_endpoint, offered, offered
        last_x = last_latency = -1.0
        rounded = latency_rounded = 0.0
        for key, server, share in by_key:  # type: ignore[union-attr]
            x = amount * share
            capacity = server.capacity
            rho = mean_rate * share / capacity
            wait = server.max_wait
            if rho < 1.0:
                md1 = rho / (2.0 * capacity * (1.0 - rho))  # M/D/1 mean wait
                if md1 < wait:
                    wait = md1
            latency = x * (server.service_time + wait)
            if server.window != index:  # _served, written out
                server.previous = server.served if server.window == index - 1 else 0.0
                server.served = 0.0
                server.window = index
            server.served += x
            if x == 0.0:
                continue
            if x != last_x or latency != last_latency:
                last_x, last_latency = x, latency
                rounded = floor(x * 1e3 + 0.5) / 1e3
                latency_rounded = floor(latency / x * 1e6 + 0.5) / 1e6 if x > 0.0 else 0.0
            per_endpoint.append((key, rounded, rounded, 0.0, latency_rounded))
            offered += x
        return per_endpoint, offered, offered

    def _steady(self, flows: list[_Flow], now: float) -> bool:
        """Whether a Service's window (its ``flows``) is a copy of its last one: every flow's rate
        constant over both windows, its plan and its pods' modes unchanged since the last one began,
        no hot pod (and one flow per pod, since a pod's latency depends on all its flows). Its flows
        then need no accounting for this window."""
        start = self.window_start
        since = start - self.window
        settled = since + _EPS
        previous = self._window_index - 1
        for flow in flows:
            if not self._steady_flow(flow, now, since, settled, previous):
                return False
        return True

    def _steady_flow(self, flow: _Flow, now: float, since: float, settled: float, previous: int) -> bool:
        """The part of :meth:`_steady` about one flow (``since``: the last window's start; ``settled``:
        just after it; ``previous``: its index)."""
        acc = flow.acc
        if acc.last is None or acc.last_end != self.window_start:
            return False
        if flow.seg_start != self.window_start or flow.changed > settled:
            return False
        if not flow.constant and not (flow.peak == flow.low and self._flat(flow, since, now)):
            return False  # the rate changed during these two windows
        for server, _share in flow.entries:
            if server.mode == HOT or server.window != previous or len(server.flows) != 1:
                return False
        return True

    @staticmethod
    def _all_cool(by_key: tuple[tuple[str, _Server, float], ...]) -> bool:
        """Whether every pod of a plan is cool and takes only this flow (``_Flow.cool``, remembered
        until a pod's mode or flows change: :meth:`_set_mode`, :meth:`_replan`)."""
        for _key, server, _share in by_key:
            if server.mode != COOL or len(server.flows) != 1:
                return False
        return True

    @staticmethod
    def _flat(flow: _Flow, since: float, now: float) -> bool:
        """Whether ``flow``'s rate was one value over ``[since, now]``."""
        low, peak = flow.shape.bounds(since, now)
        return low == peak

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
        # Every kubelet renewing its lease (none stopped, cut off or down) and none reporting its
        # runtime down: every kubelet reports, so every change came with an event.
        everyone_reports = dispatcher is not None and not self._not_ready and dispatcher.all_renewing()
        silent: dict[str, bool] = {}
        for flow in () if everyone_reports else self._flows:
            for node in flow.pods.values():
                quiet = silent.get(node)
                if quiet is None:
                    kubelet = kubelets.get(node)
                    quiet = silent[node] = kubelet is not None and not kubelet.acting
                if quiet:
                    self._dirty[flow] = -inf  # in this tick, before its step: replanned now
                    break
        for server in list(self._hot):
            if server.queue and not server.flows and silent.get(server.node, True):
                self._lose_stopped(server)

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
        for flow in server.flows:
            flow.cool = None
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
        for server in list(self._hot):
            if server.queue and not server.flows:
                self._lose_stopped(server)
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

    def _lose_stopped(self, server: _Server) -> None:
        """Lose the backlog of the flows whose Service's serving container in the pod stopped (all of
        it when the pod is gone or its node down; :meth:`Proxy.endpoint_alive
        <podquake.model.proxy.Proxy.endpoint_alive>`)."""
        alive = self.proxy.endpoint_alive
        verdicts: dict[str, bool] = {}
        kept: dict[_Flow, float] = {}
        lost = False
        for flow, backlog in server.queue.items():
            ok = verdicts.get(flow.service)
            if ok is None:
                ok = verdicts[flow.service] = alive(server.endpoint, flow.service)
            if ok:
                kept[flow] = backlog
                continue
            lost = True
            row = flow.acc.endpoint(server.key)
            row[2] += backlog
            flow.acc.fail(LOST_IN_QUEUE, backlog)
        if lost:
            server.queue = kept

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
                server = self._servers[uid] = _Server(endpoint, self.state.pods[uid].spec, self.serving, now, flow.service)
            elif server.mode == FULL and flow not in server.flows:
                self._set_mode(server, HOT, now)
            server.flows[flow] = share
            new_entries.append((server, share))
            touched[server] = None
            pods[server.key] = server.node
        flow.entries = new_entries
        by_key = tuple(sorted(((server.key, server, share) for server, share in new_entries), key=_first))
        simple = by_key and not dead and not unrouted and len({k for k, _s, _x in by_key}) == len(by_key)
        flow.by_key = by_key if simple else None
        flow.uniform = bool(simple) and len({(x, s.capacity, s.service_time, s.max_wait) for _k, s, x in by_key}) == 1
        flow.dead = [(key, share, reason) for key, (share, reason, _node) in dead.items()]
        flow.unrouted = list(unrouted.items())
        for key, (_share, _reason, node) in dead.items():
            pods[key] = node
        flow.pods = pods
        for key in pods:
            self._by_pod.setdefault(key, {})[flow] = None
        end = self.window_start + self.window
        flow.low, flow.peak = flow.shape.bounds(now, end)
        flow.cool = None
        for server in touched:
            for other in server.flows:
                other.cool = None  # its pods' flows changed
        for server in touched:
            if server.queue:
                self._lose_stopped(server)
            self._classify(server, now)
