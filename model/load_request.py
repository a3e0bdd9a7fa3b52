"""The request load mode (:class:`RequestLoad`, ``mode="request"``): requests. Arrivals are Poisson;
each request is routed by the node proxy (:meth:`Proxy.route <podquake.model.proxy.Proxy.route>`
with the checks of :meth:`Proxy.deliver <podquake.model.proxy.Proxy.deliver>`, whose counters it keeps),
queued at its pod (FIFO) and served with a service time; its latency is measured. What it shares with
the fluid mode (pods as servers, windows, the trace, CPU) is in :mod:`podquake.model.load_common`; the
overview is in :mod:`podquake.model.load`.

**Request serving.** Every ``tick`` (default 0.1 s) the arrivals of the next tick are drawn as one
Poisson process over all generators (exponential gaps at the total rate, each arrival given to a
generator in proportion to its rate and to one of its clients uniformly), and handled in time
order: entry node, route, the deliver checks, then the pod's queue: the Lindley recursion
(``start = max(arrival, pod busy until)``, ``done = start + 1 / capacity``), dropped when more than
``queue_limit`` requests' work is ahead. Requests complete (and count as served, with their latency)
at the tick boundary after their ``done``; a pod that dies loses those not done. Routing and the
checks use the cluster as it is at the tick boundary (nothing else happens inside a batch). An
*event*, for the benchmark, is one request: arrival, routing, queueing and completion.
"""

from __future__ import annotations

import zlib
from bisect import bisect_right
from typing import TYPE_CHECKING, Any

from podquake.model.endpoints import Endpoint
from podquake.model.load_common import (
    LB_UNREACHABLE,
    LOST_IN_QUEUE,
    NO_CLIENT,
    NO_LB_TARGET,
    QUEUE_FULL,
    _LoadModel,
    _Server,
)
from podquake.model.proxy import ENDPOINT_DEAD, NODE_DOWN, UNREACHABLE
from podquake.model.traffic import External

if TYPE_CHECKING:
    from podquake.model.simulation import Simulation

__all__ = ["RequestLoad"]


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
        release = proxy.release if proxy.least_connection else None
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
        least_connection = proxy.least_connection
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
