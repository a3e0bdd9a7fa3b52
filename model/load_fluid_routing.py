"""Where the fluid load mode (:mod:`podquake.model.load_fluid`) sends each generator's rate: its plan,
the endpoints that get a share of it, the dead or unreachable ones, and the failures before any
endpoint, recomputed whenever something it depends on changes.

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

The fluid mode reads each node's routing table (:meth:`Proxy.view`) and decides with the proxy's
own rule (:meth:`Proxy.pool_of`) rather than calling :meth:`Proxy.route
<podquake.model.proxy.Proxy.route>` per request, which would cost 5,000 calls per Service at 5,000
nodes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from podquake.model.endpoints import Endpoint
from podquake.model.load_common import LB_UNREACHABLE, NO_CLIENT, NO_LB_TARGET
from podquake.model.proxy import (
    ENDPOINT_DEAD,
    NODE_DOWN,
    UNKNOWN_SERVICE,
    UNREACHABLE,
)
from podquake.model.traffic import External

if TYPE_CHECKING:
    from podquake.model.load_fluid import _Flow

__all__ = ["FluidRouting"]


class FluidRouting:
    """The planning half of :class:`~podquake.model.load_fluid.FluidLoad`, a mixin: it reads what the
    load model holds (``state``, ``proxy``, ``network``, ``rng``) and its entry helpers (``_balancer``,
    ``_service_object``, ``_lb_reaches`` of :class:`~podquake.model.load_common._LoadModel`)."""

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
        alive_cache: dict[str, bool] = {}  # pod uid -> alive for this flow's Service
        via_lb = lb is not None
        if client_nodes is None:
            by_pool: dict[int, list] = {}
            for node, weight in weights.items():
                pool = self._pool_at(service, node, external, via_lb)
                if isinstance(pool, str):
                    unrouted[pool] = unrouted.get(pool, 0.0) + weight
                elif partitioned:
                    self._spread(pool.endpoints, weight, node, entries, dead, alive_cache, service)
                else:
                    group = by_pool.get(id(pool))
                    if group is None:
                        by_pool[id(pool)] = [pool, weight]
                    else:
                        group[1] += weight
            for pool, weight in by_pool.values():
                self._spread(pool.endpoints, weight, None, entries, dead, alive_cache, service)
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
            self._spread((endpoint,), share, node if partitioned else None, entries, dead, alive_cache, service)
        flow.sticky = chosen
        return entries, dead, unrouted

    def _spread(self, endpoints: tuple[Endpoint, ...], weight: float, node: str | None,
                entries: dict, dead: dict, alive_cache: dict[str, bool], service: str) -> None:  # fmt: skip
        share = weight / len(endpoints)
        reachable = self.proxy.reachable
        for endpoint in endpoints:
            uid = endpoint.pod_uid
            alive = alive_cache.get(uid)
            if alive is None:
                alive = alive_cache[uid] = self.proxy.endpoint_alive(endpoint, service)
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
        table = self.proxy.view(service, node)
        if table is None:
            return UNKNOWN_SERVICE
        return self.proxy.pool_of(table, node, external)
