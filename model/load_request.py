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

**How it stays fast** (one SimPy event per tick, not per request; the same draws and results as
routing each request through :meth:`Proxy.route <podquake.model.proxy.Proxy.route>`):

- what does not depend on the request is decided once per generator and entry node (a *plan*):
  the node down, the Service unknown to its proxy, the pool of :meth:`Proxy.pool_of
  <podquake.model.proxy.Proxy.pool_of>`; a plan is kept while the node's routing table is the same
  object (the proxy builds a new one on every change);
- for iptables and nftables without session affinity the proxy's uniform draw is written out here
  (the same ``rng`` calls as ``Proxy._choose_iptables`` and ``Proxy._choose_nftables``); round-robin,
  least-connection, affinity and headless Services call :meth:`Proxy.route` per request;
- what a request meets at its endpoint (the container serving its Service running, the pod
  reachable, its server, the window's row) is looked up once per endpoint and tick (a *target*),
  when the first request goes there;
- a pod's queue is a list in completion order; what completed is counted when the window closes
  (or when the pod dies, or every tick when IPVS least-connection needs the connections to end),
  found by bisection and summed in queue order: the same numbers as counting at every tick;
- an endpoint's offered requests are not counted one by one but derived when the window closes:
  served + failed + waiting now - waiting when the window began (whole numbers, so exact).
"""

from __future__ import annotations

import math
import zlib
from bisect import bisect_right
from math import log
from typing import TYPE_CHECKING, Any

from podquake.model.endpoints import Endpoint
from podquake.model.load_common import (
    LB_UNREACHABLE,
    LOST_IN_QUEUE,
    NO_CLIENT,
    NO_LB_TARGET,
    QUEUE_FULL,
    _Acc,
    _LoadModel,
    _Server,
)
from podquake.model.proxy import ENDPOINT_DEAD, NODE_DOWN, UNKNOWN_SERVICE, UNREACHABLE
from podquake.model.traffic import External

if TYPE_CHECKING:
    from podquake.model.simulation import Simulation

__all__ = ["RequestLoad"]

_FAIL, _IPTABLES, _NFTABLES, _ROUTE = range(4)
_COUNT = range(1 << 62)  # the arrival loop's counter


class RequestLoad(_LoadModel):
    """Every request routed, queued and served. See the module docstring."""

    mode = "request"
    default_tick = 0.1

    #: Write out the proxy's uniform draws (iptables, nftables) instead of calling :meth:`Proxy.route
    #: <podquake.model.proxy.Proxy.route>` per request: the same draws, the same endpoints (off in a
    #: test that checks exactly that).
    inline_routing = True

    def __init__(self, sim: Simulation, **kwargs: Any) -> None:
        super().__init__(sim, **kwargs)
        self._busy: dict[_Server, None] = {}  # servers that took requests since their queue last emptied
        self._batches: list[_Batch] = []  # one per generator
        self._names: list[str] | None = None  # node names, for node-port entry
        self._client_nodes_cache: dict[int, tuple[list[str], list[str]]] = {}  # generator -> (names, node per client)
        self._lb_reaches_cache: dict[str, bool] = {}  # node -> the load balancer reaches it, this tick
        self._partitioned_now = False  # a node may fail to reach another, this tick
        self._waiting_before: dict[tuple[_Acc, str], int] = {}  # _waiting() when the window began
        self._settled_at = -math.inf  # the last tick boundary: requests done by then are no longer queued
        self._shares: tuple[list[_Batch], list[float], tuple[list[float], list[float], list[float]]] | None = None
        self._counts_connections = self.proxy.least_connection  # IPVS lc: connections end as requests complete
        #: Requests handled so far (arrivals drawn), for benchmarks.
        self.requests = 0

    def _on_generator(self, index: int) -> None:
        traffic = self.traffic
        while len(self._batches) <= index:  # a new generator (a new shape needs nothing here)
            i = len(self._batches)
            generator = traffic.generators[i]
            self._batches.append(_Batch(i, generator, traffic.clients[i], self._acc(generator.service)))

    def queued(self, pod_key: str) -> float:
        """Requests waiting at (or being served by) the pod now (as of the last tick boundary)."""
        probe = (self._settled_at, math.inf)
        for server in self._servers.values():
            if server.key == pod_key:
                return float(len(server.pending) - bisect_right(server.pending, probe))
        return 0.0

    def _queued_by_service(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for (acc, _key), n in self._waiting().items():
            out[acc.service] = out.get(acc.service, 0.0) + n
        return out

    def _close_window(self, now: float, steady: dict[str, Any] | None = None, direct: dict[str, Any] | None = None) -> None:
        self._complete(now)
        # Each request routed to an endpoint in the window was served, failed, or waits now; the
        # ones that waited when it began were served, failed, or wait still: so offered = served +
        # failed + waiting now - waiting then (whole numbers: exactly what counting one by one gives).
        waiting = self._waiting()
        before = self._waiting_before
        for acc in self._accs.values():
            for key, row in acc.endpoints.items():
                row[0] = row[1] + row[2] + waiting.get((acc, key), 0) - before.get((acc, key), 0)
        self._waiting_before = waiting
        super()._close_window(now)

    def _waiting(self) -> dict[tuple[_Acc, str], int]:
        """Requests in the pods' queues now, by (Service counts, pod key)."""
        out: dict[tuple[_Acc, str], int] = {}
        for server in self._busy:
            pending = server.pending
            if not pending:
                continue
            key = server.key
            if not server.shared:
                out[(server.acc, key)] = out.get((server.acc, key), 0) + len(pending)  # type: ignore[index]
                continue
            own = server.acc
            for entry in pending:
                pair = (entry[2] if len(entry) > 2 else own, key)
                out[pair] = out.get(pair, 0) + 1  # type: ignore[index]
        return out

    def _step(self, now: float) -> None:
        alive_cache: dict[str, dict[str, bool]] = {}  # Service -> pod uid -> alive, at this instant
        if self._counts_connections:
            self._complete(now, alive_cache)  # a connection ends when its request completes: count every tick
        else:
            self._check_queues(now, alive_cache)
        self._settled_at = now
        self._arrivals(now, now + self.tick, alive_cache)

    # --- completions -----------------------------------------------------------------------------------------
    def _check_queues(self, now: float, alive_cache: dict[str, dict[str, bool]]) -> None:
        """Every tick: the pods that died lose the requests not done by ``now`` (:meth:`_complete`).
        The others' completions are counted when the window closes: the same requests, in the same
        window and order, as counting them every tick (a completion counts at the first tick boundary
        after its ``done``, and every boundary of a window precedes its end)."""
        dead = []
        for server in self._busy:
            pending = server.pending
            if pending and pending[-1][0] > now:  # some not done: lost if the pod died
                if server.shared:  # requests of several Services: any of their containers may have stopped
                    ok = all(self._alive(server, acc.service, alive_cache) for acc in self._queued_accs(server))
                else:
                    ok = self._alive(server, server.service, alive_cache)
                if not ok:
                    dead.append(server)
        if dead:
            self._complete(now, alive_cache, dead)

    def _complete(
        self, now: float, alive_cache: dict[str, dict[str, bool]] | None = None, servers: list[_Server] | None = None
    ) -> None:
        """Count what finished by ``now``; a pod loses the rest of its queue when the container serving
        its Service stops (a pod taking several Services' requests loses those of the stopped
        containers' Services, and keeps the others at the times they were given). ``alive_cache``:
        Service -> pod uid -> :meth:`Proxy.endpoint_alive <podquake.model.proxy.Proxy.endpoint_alive>` at ``now``,
        shared with the arrivals of the same instant. ``servers``: those pods only (default: all)."""
        busy = self._busy
        if not busy:
            return
        if alive_cache is None:
            alive_cache = {}
        proxy = self.proxy
        release = proxy.release if proxy.least_connection else None
        index = self._window_index
        probe = (now, math.inf)  # sorts after every (done, latency, ...) with done <= now
        for server in list(busy) if servers is None else servers:
            pending = server.pending
            done_count = bisect_right(pending, probe) if pending else 0
            if done_count:
                key = server.key
                finished = pending[:done_count]
                if done_count == len(pending):
                    pending.clear()
                else:
                    del pending[:done_count]
                if not server.shared:  # one Service's requests: one row
                    acc = server.acc
                    rows = acc.endpoints  # type: ignore[union-attr]
                    row = rows.get(key)
                    if row is None:  # served in a later window than it arrived
                        row = rows[key] = [0.0, 0.0, 0.0, 0.0]
                    waited = row[3]
                    for entry in finished:  # summed one by one, in queue order
                        waited += entry[1]
                    row[3] = waited
                    row[1] += done_count
                else:
                    own = server.acc
                    for entry in finished:
                        rows = (entry[2] if len(entry) > 2 else own).endpoints  # type: ignore[union-attr]
                        row = rows.get(key)
                        if row is None:
                            row = rows[key] = [0.0, 0.0, 0.0, 0.0]
                        row[1] += 1.0
                        row[3] += entry[1]
                if release is not None:
                    for entry in finished:
                        release(entry[3], server.endpoint)
                if server.window == index:  # _served, inlined: the common case
                    server.served += done_count
                else:
                    self._served(server, done_count)
            if pending and server.shared:
                self._lose_stopped(server, alive_cache, release)
            elif pending and not self._alive(server, server.service, alive_cache):
                key = server.key
                own = server.acc
                for entry in pending:
                    acc = entry[2] if len(entry) > 2 else own
                    acc.endpoint(key)[2] += 1.0  # type: ignore[union-attr]
                    acc.fail(LOST_IN_QUEUE, 1.0)
                    if release is not None:
                        release(entry[3], server.endpoint)
                pending.clear()
            if not pending:
                del busy[server]

    def _alive(self, server: _Server, service: str, alive_cache: dict[str, dict[str, bool]]) -> bool:
        """Whether ``server``'s pod answers ``service`` now (cached for the instant)."""
        cache = alive_cache.get(service)
        if cache is None:
            cache = alive_cache[service] = {}
        ok = cache.get(server.uid)
        if ok is None:
            ok = cache[server.uid] = self.proxy.endpoint_alive(server.endpoint, service)
        return ok

    @staticmethod
    def _queued_accs(server: _Server) -> dict[_Acc, None]:
        """The Services (their window accumulators) of the requests in ``server``'s queue, in order."""
        own = server.acc
        return dict.fromkeys(entry[2] if len(entry) > 2 else own for entry in server.pending)  # type: ignore[misc]

    def _lose_stopped(self, server: _Server, alive_cache: dict[str, dict[str, bool]], release: Any) -> None:
        """A pod taking several Services' requests: lose those whose Service's serving container stopped."""
        verdicts = {acc: self._alive(server, acc.service, alive_cache) for acc in self._queued_accs(server)}
        if all(verdicts.values()):
            return
        own = server.acc
        key = server.key
        kept = []
        for entry in server.pending:
            acc = entry[2] if len(entry) > 2 else own
            if verdicts[acc]:
                kept.append(entry)
                continue
            acc.endpoint(key)[2] += 1.0  # type: ignore[union-attr]
            acc.fail(LOST_IN_QUEUE, 1.0)  # type: ignore[union-attr]
            if release is not None:
                release(entry[3], server.endpoint)
        server.pending[:] = kept

    # --- arrivals ------------------------------------------------------------------------------------------------
    def _arrivals(self, now: float, end: float, alive_cache: dict[str, dict[str, bool]]) -> None:
        """Draw and handle the requests of ``[now, end)`` (see the module docstring)."""
        flows: list[_Batch] = []
        amounts: list[float] = []
        batches = self._batches
        for index, shape in enumerate(self.traffic.shapes):
            amount = shape.integral(now, end)
            if amount > 0.0:
                flows.append(batches[index])
                amounts.append(amount)
        if not flows:
            return
        shares = self._shares
        if shares is not None and shares[1] == amounts and shares[0] == flows:
            bounds, lows, scales = shares[2]
        else:  # cumulative shares: one uniform draw picks the generator, and its client
            total = sum(amounts)
            bounds, lows, scales = [], [], []
            running = 0.0
            for amount, flow in zip(amounts, flows):
                lows.append(running / total)
                running += amount
                bounds.append(running / total)
                scales.append(len(flow.clients) / (bounds[-1] - lows[-1]))
            bounds[-1] = 1.0
            if len(flows) == 1:
                bounds = []  # bisect_right([], u) == 0: no search
            self._shares = (flows, amounts, (bounds, lows, scales))
        rate = sum(amounts) / (end - now)
        self._lb_reaches_cache = {}
        self._partitioned_now = self._partitioned()
        fast: list[_Plan | None] = []  # per flow: its plan when it is a fixed node's written-out iptables draw
        for flow in flows:
            self._refresh(flow)
            plan = flow.plan
            fast.append(plan if plan is not None and plan.kind == _IPTABLES else None)
        uniform = self.rng.random
        proxy = self.proxy
        prandom = proxy.rng.random
        getrandbits = proxy.rng.getrandbits
        route = proxy.route
        least_connection = proxy.least_connection
        failures = proxy.failures
        draw_log = log
        search = bisect_right
        server_class = _Server
        undelivered = 0
        count = 0
        t = now
        node = ""
        for count in _COUNT:  # noqa: B007 (``count``: the requests drawn, when the loop ends)
            # rng.expovariate(rate), written out (CPython's formula): the same draws, the same gaps
            t -= draw_log(1.0 - uniform()) / rate
            if t >= end:
                break
            u = uniform()
            i = search(bounds, u)
            plan = fast[i]
            if plan is not None:  # the common case: Proxy._choose_iptables at a fixed entry node
                k = search(plan.bounds, prandom()) if plan.draw else 0
                target = plan.targets[k]
                if target is None:
                    target = plan.targets[k] = self._target(plan, plan.endpoints[k], alive_cache)
            else:
                flow = flows[i]
                plan = flow.plan
                client = None
                # where it enters
                if plan is None:  # the entry node depends on the client
                    c = int((u - lows[i]) * scales[i])
                    clients = flow.clients
                    client = clients[c] if c < len(clients) else clients[-1]
                    lb = flow.lb
                    if lb is not None:
                        node = lb.pick_target(client)
                        if node is None or not self._lb_reaches_now(node):
                            flow.acc.unrouted += 1.0
                            flow.acc.fail(NO_LB_TARGET if node is None else LB_UNREACHABLE, 1.0)
                            undelivered += 1
                            continue
                    else:
                        node = flow.client_nodes[c if c < len(clients) else -1]
                    plan = flow.plans.get(node)
                    if plan is None:
                        plan = flow.plans[node] = self._plan(flow, node)
                else:
                    node = plan.node  # type: ignore[assignment]
                # the proxy's choice (Proxy.route: written out for the uniform modes, called for the others)
                kind = plan.kind
                if kind == _IPTABLES:  # Proxy._choose_iptables
                    k = bisect_right(plan.bounds, prandom()) if plan.draw else 0
                    target = plan.targets[k]
                    if target is None:
                        target = plan.targets[k] = self._target(plan, plan.endpoints[k], alive_cache)
                elif kind == _NFTABLES:  # Proxy._choose_nftables
                    k = (getrandbits(32) * plan.size) >> 32
                    target = plan.targets[k]
                    if target is None:
                        target = plan.targets[k] = self._target(plan, plan.endpoints[k], alive_cache)
                elif kind == _ROUTE:
                    if client is None:
                        c = int((u - lows[i]) * scales[i])
                        clients = flow.clients
                        client = clients[c] if c < len(clients) else clients[-1]
                    result = route(flow.service, client, node, t, flow.external)
                    if result.__class__ is str:
                        flow.acc.unrouted += 1.0
                        flow.acc.fail(result, 1.0)  # type: ignore[arg-type]
                        failures[result] = failures.get(result, 0) + 1  # type: ignore[index]
                        undelivered += 1
                        continue
                    uid = result.pod_uid  # type: ignore[union-attr]
                    target = plan.by_uid.get(uid)
                    if target is None:
                        target = plan.by_uid[uid] = self._target(plan, result, alive_cache)  # type: ignore[arg-type]
                else:  # _FAIL: the entry, or the proxy's pool, fails every request of this tick
                    reason = plan.reason
                    flow.acc.unrouted += 1.0
                    flow.acc.fail(reason, 1.0)
                    if plan.counted:
                        failures[reason] = failures.get(reason, 0) + 1
                    undelivered += 1
                    continue
            # at the endpoint (its offered count, row[0], is derived when the window closes)
            if target.__class__ is server_class:  # the pod itself: it takes the request, for its first Service
                busy = target.busy_until
                if busy < t:
                    busy = t
                elif busy - t > target.max_wait:  # its row exists: made with the target
                    acc = target.acc
                    acc.endpoints[target.key][2] += 1.0
                    acc.fail(QUEUE_FULL, 1.0)
                    continue
                done = busy + target.service_time
                target.busy_until = done
                target.pending.append((done, done - t))  # floats only: the garbage collector soon ignores it
                continue
            server, row, reason, acc = target
            if reason is None:
                # the pod's FIFO queue: the Lindley recursion
                busy = server.busy_until
                if busy < t:
                    busy = t
                elif busy - t > server.max_wait:
                    row[2] += 1.0
                    acc.fail(QUEUE_FULL, 1.0)
                    if least_connection:
                        proxy.release(node, server.endpoint)
                    continue
                done = busy + server.service_time
                server.busy_until = done
                if least_connection:
                    server.pending.append((done, done - t, acc, node))
                else:
                    server.pending.append((done, done - t, acc))
                continue
            # the deliver checks failed: the pod is dead, or across a partition
            row[2] += 1.0
            acc.fail(reason, 1.0)
            failures[reason] = failures.get(reason, 0) + 1
            undelivered += 1
            if least_connection:
                proxy.release(node, server)  # here ``server`` is the endpoint (see _target)
        proxy.delivered += count - undelivered
        self.requests += count

    # --- plans and targets ----------------------------------------------------------------------------------------
    def _refresh(self, flow: _Batch) -> None:
        """Bring ``flow``'s entry and plans up to date for this tick (targets are made afresh)."""
        entry = flow.generator.entry
        flow.plans.clear()
        if flow.external:
            flow.plan = None
            flow.lb = self._balancer(flow.service)
            if flow.lb is not None:
                return
            names = self._node_names()
            if not names:
                flow.plan = _Plan(_FAIL, flow, None, reason=NODE_DOWN, counted=False)
                return
            flow.client_nodes = self._client_nodes(flow.index, flow.clients, names)
            return
        node = entry.node
        if entry.pod is not None:
            pod = self.state.pods_by_key.get(entry.pod)
            node = pod.node_name if pod is not None else None
        if node is None:
            flow.plan = _Plan(_FAIL, flow, None, reason=NO_CLIENT, counted=False)
            return
        plan = flow.fixed
        if plan is not None and plan.node == node and self._current(plan):
            plan.reset()
        else:
            plan = flow.fixed = self._plan(flow, node)
        flow.plan = plan

    def _current(self, plan: _Plan) -> bool:
        """Whether ``plan`` still holds: its node as up (or down) as it was, its proxy's table the same."""
        machine = self.state.nodes.get(plan.node)  # type: ignore[arg-type]
        up = machine is not None and machine.up
        if up != plan.up or plan.inline != self.inline_routing:
            return False
        return not up or self.proxy.view(plan.flow.service, plan.node) is plan.table  # type: ignore[arg-type]

    def _plan(self, flow: _Batch, node: str) -> _Plan:
        """How ``node``'s proxy routes ``flow``'s requests: the decisions of :meth:`Proxy.route
        <podquake.model.proxy.Proxy.route>` that do not depend on the request (node down, unknown
        Service, the pool from :meth:`Proxy.pool_of`), and whether the choice within the pool is a
        uniform draw written out here (iptables, nftables: no session affinity, a proxied Service)
        or needs :meth:`Proxy.route` per request (round-robin, least-connection, affinity, headless)."""
        proxy = self.proxy
        machine = self.state.nodes.get(node)
        if machine is None or not machine.up:
            return _Plan(_FAIL, flow, node, reason=NODE_DOWN, up=False, inline=self.inline_routing)
        table = proxy.view(flow.service, node)
        if table is None:
            return _Plan(_FAIL, flow, node, reason=UNKNOWN_SERVICE, inline=self.inline_routing)
        pool = proxy.pool_of(table, node, flow.external)
        kind = _ROUTE
        if pool.__class__ is str:
            return _Plan(_FAIL, flow, node, reason=pool, table=table, inline=self.inline_routing)  # type: ignore[arg-type]
        if self.inline_routing and table.kind == "proxied" and not table.affinity_timeout:
            if proxy.mode == "iptables":
                kind = _IPTABLES
            elif proxy.mode == "nftables":
                kind = _NFTABLES
        return _Plan(kind, flow, node, pool=pool, table=table, inline=self.inline_routing)

    def _target(self, plan: _Plan, endpoint: Endpoint, alive_cache: dict[str, dict[str, bool]]) -> tuple[Any, ...]:
        """What a request routed to ``endpoint`` from ``plan``'s node meets this tick: the pod's server
        itself when the deliver checks pass and ``plan``'s Service is the pod's first (``_Server.acc``:
        its queue entries need not name it; unless IPVS lc counts connections); ``(server, row, None,
        acc)`` when they pass otherwise; else ``(endpoint, row, reason, acc)``, the reason
        :data:`ENDPOINT_DEAD` or :data:`UNREACHABLE`. ``row`` is the endpoint's in the window."""
        acc = plan.flow.acc
        uid = endpoint.pod_uid
        service = plan.flow.service
        cache = alive_cache.get(service)
        if cache is None:
            cache = alive_cache[service] = {}
        ok = cache.get(uid)
        if ok is None:
            ok = cache[uid] = self.proxy.endpoint_alive(endpoint, service)
        rows = acc.endpoints
        row = rows.get(endpoint.pod)
        if row is None:
            row = rows[endpoint.pod] = [0.0, 0.0, 0.0, 0.0]
        node = plan.node
        if not ok:
            return endpoint, row, ENDPOINT_DEAD, acc
        reachable = self.proxy.reachable
        if endpoint.node != node and self._partitioned_now and not reachable(node, endpoint.node):  # type: ignore[misc,arg-type]
            return endpoint, row, UNREACHABLE, acc
        server = self._servers.get(uid)
        if server is None:
            server = self._servers[uid] = _Server(endpoint, self.state.pods[uid].spec, self.serving, self.env.now, service)
        if server.acc is not acc:
            if server.acc is None:
                server.acc = acc
            else:
                server.shared = True
        self._busy[server] = None  # it may take requests now: the next completions visit it
        if server.acc is acc and not self._counts_connections:
            return server  # its queue entries need not name the Service (nor the entry node: no connections counted)
        return server, row, None, acc

    def _partitioned(self) -> bool:
        """Whether a node may fail to reach another (no partition: every node reaches every other)."""
        if self.proxy.reachable is None:
            return False
        return self.network is None or bool(self.network.partitions)

    def _lb_reaches_now(self, node: str) -> bool:
        """:meth:`_lb_reaches`, remembered for the tick (the network does not change within it)."""
        cache = self._lb_reaches_cache
        reaches = cache.get(node)
        if reaches is None:
            reaches = cache[node] = self._lb_reaches(node)
        return reaches

    def _client_nodes(self, index: int, clients: tuple[str, ...], names: list[str]) -> list[str]:
        """The node address each client of generator ``index`` uses (a hash of its name; see
        :mod:`podquake.model.load_common`), kept while the node list stays the same."""
        cached = self._client_nodes_cache.get(index)
        if cached is not None and cached[0] is names:
            return cached[1]
        nodes = [names[zlib.crc32(client.encode()) % len(names)] for client in clients]
        self._client_nodes_cache[index] = (names, nodes)
        return nodes

    def _node_names(self) -> list[str]:
        node_list = self.state.node_list
        if self._names is None or len(self._names) != len(node_list) or (node_list and self._names[-1] != node_list[-1].name):
            self._names = [n.name for n in node_list]
        return self._names


class _Batch:
    """One generator's requests, tick after tick: its Service, clients and window counts, whether it
    enters from outside, and, for the current tick, where: ``plan`` for a fixed entry node (or a
    failure before any node; ``fixed`` keeps the node's plan across ticks), else the load balancer
    ``lb`` or the node address of each client (``client_nodes``), with a plan per entry node made
    when first needed (``plans``)."""

    __slots__ = ("index", "generator", "service", "clients", "acc", "external", "plan", "fixed", "lb",
                 "client_nodes", "plans")  # fmt: skip

    def __init__(self, index: int, generator: Any, clients: tuple[str, ...], acc: _Acc) -> None:
        self.index = index
        self.generator = generator
        self.service: str = generator.service
        self.clients = clients
        self.acc = acc
        self.external = isinstance(generator.entry, External)
        self.plan: _Plan | None = None
        self.fixed: _Plan | None = None
        self.lb: Any = None
        self.client_nodes: list[str] = []
        self.plans: dict[str, _Plan] = {}


class _Plan:
    """How one node's proxy routes one generator's requests: ``kind`` (``_FAIL``: every request fails
    with ``reason``, counted by the proxy when ``counted``; ``_IPTABLES`` or ``_NFTABLES``: a uniform
    draw over ``endpoints``, ``draw`` when iptables needs one; ``_ROUTE``: :meth:`Proxy.route` per
    request); what it was made from (the node ``up``, the proxy's ``table``); and this tick's target
    of each endpoint, made when first routed to (``targets`` by position, ``by_uid`` for ``_ROUTE``)."""

    __slots__ = ("kind", "flow", "node", "reason", "counted", "up", "table", "inline", "endpoints", "size",
                 "draw", "bounds", "targets", "by_uid")  # fmt: skip

    def __init__(self, kind: int, flow: _Batch, node: str | None, pool: Any = None, reason: str = "",
                 counted: bool = True, up: bool = True, table: Any = None, inline: bool = True) -> None:  # fmt: skip
        self.kind = kind
        self.flow = flow
        self.node = node
        self.reason = reason
        self.counted = counted
        self.up = up
        self.table = table
        self.inline = inline
        self.endpoints: tuple[Endpoint, ...] = pool.endpoints if pool is not None else ()
        self.size = len(self.endpoints)
        self.draw = self.size > 1
        self.bounds: tuple[float, ...] = pool.bounds if pool is not None else ()
        self.targets: list[tuple[Any, ...] | None] = [None] * self.size
        self.by_uid: dict[str, tuple[Any, ...]] = {}

    def reset(self) -> None:
        """Forget the targets (a new tick: pods may have died, windows rolled)."""
        self.targets = [None] * self.size
        if self.by_uid:
            self.by_uid = {}
