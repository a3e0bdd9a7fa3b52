"""The node proxy (kube-proxy) of every worker node: which pod a connection to a Service reaches.

One :class:`Proxy` object holds the view of every node, but each node routes only with what was
published to it: all connected nodes share the latest :class:`~podquake.model.endpoints.EndpointSet`
of each Service (as they would after the same watch event), and a node cut off from the control plane
(:meth:`Proxy.set_connected`) keeps the view it had when it was cut, until it reconnects and resyncs
(``propagation_delay`` later). On every publication the proxy precomputes, per Service, the pools it
routes from, so :meth:`Proxy.route` is a lookup, one random draw and an index.

Which endpoints (kubernetes/kubernetes:pkg/proxy/topology.go ``CategorizeEndpoints``):

- traffic policy Cluster: the ready endpoints; if there is none, the serving-and-terminating ones
  (ProxyTerminatingEndpoints, GA 1.28); if there is none of those either, the connection is
  rejected (:data:`NO_ENDPOINTS`, REJECT);
- traffic policy Local: the ready endpoints on this node, else its serving-terminating ones; a node
  with none drops the traffic (:data:`NO_LOCAL_ENDPOINTS`) when the Service has usable endpoints
  elsewhere, and rejects it when it has none at all;
- ``external=True`` (a NodePort or a cloud load balancer reaching the node) uses
  ``externalTrafficPolicy``, and needs a NodePort or LoadBalancer Service (:data:`NOT_EXPOSED`);
  ``external=False`` (a pod calling the cluster IP) uses ``internalTrafficPolicy``;
- ``sessionAffinity: ClientIP``: a client that reached an endpoint within the last
  ``timeoutSeconds`` (default 10800) reaches it again while it is in the pool; every connection
  renews the entry (iptables ``-m recent --rcheck --seconds T --reap`` then ``--set``;
  pkg/proxy/iptables/proxier.go). Affinity entries are per node, as the kernel tables are. An
  endpoint that leaves the pool (deleted, not ready, or terminating while others are ready) takes
  its entries with it: upstream its endpoint chain, and the ``recent`` list only that chain's rules
  use, are deleted (nftables: its affinity set; IPVS: its real server gets weight 0 and kube-proxy
  sets ``net/ipv4/vs/expire_quiescent_template=1``, so the persistence template expires), and the
  client is sent to a newly chosen endpoint, which it then sticks to. In iptables and nftables one
  list per endpoint serves the cluster IP and the node ports alike; IPVS keeps persistence per
  virtual server, so its cluster IP and its node port (or load balancer IP) have an entry each.

How one endpoint of the pool is chosen, per ``mode``:

- ``iptables`` (pkg/proxy/iptables/proxier.go ``writeServiceToEndpointRules``): rule ``i`` of ``n``
  matches with probability ``1/(n-i)`` written ``%0.10f``, the last rule always. iptables stores a
  probability as ``lround(0x80000000 * p)`` (iptables:extensions/libxt_statistic.c) and the kernel
  matches when ``(random & 0x7FFFFFFF) <`` it (net/netfilter/xt_statistic.c). The model computes
  from those quantized rule probabilities the cumulative probability of reaching and matching each
  rule, and draws **one** ``rng.random()`` per connection, taking the first rule whose cumulative
  bound exceeds it (a bisection). With one endpoint there is no statistic rule and no draw. The
  result is the rule chain's distribution: 1/n per endpoint within 1e-9.
- ``nftables`` (pkg/proxy/nftables/proxier.go, ``numgen random mod n vmap``): the kernel draws a
  32-bit random and scales it, ``(r * n) >> 32`` (``reciprocal_scale``, net/netfilter/nft_numgen.c).
  The model draws **one** ``rng.getrandbits(32)`` per connection, even with one endpoint.
- ``ipvs`` with ``ipvs_scheduler="rr"`` (the default; pkg/proxy/ipvs, net/netfilter/ipvs/ip_vs_rr.c):
  each node keeps a round-robin position per virtual server and takes the pool's endpoints in order;
  no draw. kube-proxy makes one virtual server for the cluster IP and one for each node port (node
  IP) and load balancer IP (pkg/proxy/ipvs/proxier.go ``syncProxyRules``), each with its own
  position: here the cluster IP's and, for ``external=True``, the external one's.
- ``ipvs`` with ``ipvs_scheduler="lc"`` (ip_vs_lc.c): the endpoint with the fewest active
  connections *made through this node*, the first in order on a tie; no draw. :meth:`Proxy.route`
  counts the connection (:meth:`Proxy.acquire`); the caller ends it with :meth:`Proxy.release`.

Failures. :meth:`Proxy.route` answers an :class:`~podquake.model.endpoints.Endpoint` or a reason
string (one of :data:`ROUTE_FAILURES`). The proxy cannot know that its chosen pod is dead: the
caller checks with :meth:`Proxy.endpoint_alive` (pod gone, its machine down, or the container that
serves the Service's port not running) and :attr:`Proxy.reachable` (a network partition between the
two nodes), or calls :meth:`Proxy.deliver`, which does route and both checks and counts the outcome
(:attr:`Proxy.failures`, :attr:`Proxy.delivered`).

Which container answers. kube-proxy DNATs a connection to ``podIP:targetPort``; it is answered when
the process listening on that port runs, whatever the pod's other containers do (the pod's readiness,
all containers ready, only decides whether the EndpointSlice lists it, which reaches the proxies a
propagation delay later). So a crashed log-shipper sidecar does not fail connections to its app
container while the pod is still listed; a crashed app container does. The model has no ports on
connections: traffic to a Service goes to its first port, whose endpoints are the ones published
(why one port: :mod:`podquake.model.endpoints`). :meth:`Proxy.serving_container` finds
the container: the first one (in spec order, as upstream ``FindPort`` scans) whose declared
``ports`` (:attr:`ContainerSpec.ports <podquake.model.objects.ContainerSpec.ports>`) have that
``targetPort``'s number, or its name when it is a name. When no container declares it, the pod's
**first container** serves it. Upstream a declared port is informational (any port a process
listens on is reachable), so many manifests declare none; the first container is the one ``kubectl``
takes as a pod's default container, and sidecars are usually added after the app (log shippers,
agents) or as init containers, which this check never looks at. The alternative, "any running
container", would let a surviving sidecar hide an app container's crash, the outage a chaos test
exists to show; "every container", the old rule, failed connections the app would have answered.
The manifest reader fills in ``ContainerSpec.ports`` from ``containerPort`` and ``name``. A pod
declaring no port of a named ``targetPort`` is no endpoint of the Service at all
(:func:`~podquake.model.endpoints.declares_port`), as upstream.

Health checks a cloud load balancer polls, each answered from the node's own view (so a node cut off
from the control plane answers from its frozen view, as upstream's kube-proxy does from its last sync):

- :meth:`Proxy.service_health_check`, the ``healthCheckNodePort`` of an ``externalTrafficPolicy:
  Local`` Service (pkg/proxy/healthcheck/service_health.go ``hcHandler.ServeHTTP``): 200 when the
  node's view has the Service as Local with at least one local *ready* endpoint and kube-proxy is
  healthy; no listener (a failure) when its view does not have the Service as Local;
- :meth:`Proxy.healthz`, kube-proxy's ``/healthz`` (proxy_health.go ``healthzHandler``), which the
  load balancer of a Cluster-policy Service polls: it fails when kube-proxy's view of its own Node
  carries the ``ToBeDeletedByClusterAutoscaler`` taint (``NodeEligible``; KEP-3836), and on a node
  that booted cut off from the control plane, whose kube-proxy has not started its health server;
- :meth:`Proxy.health_check`, the one of the two that fits the node's view of the Service.

kube-proxy's own sync health (``isHealthy``: an update queued and not applied within
``healthTimeout``) is always good here: connected nodes apply updates within the propagation delay,
and a cut-off node receives none, so it has nothing queued and stays healthy, as upstream.
:meth:`Proxy.watch_health` tells a load balancer when an answer may have changed.

Simplifications, on purpose:
- each routed request is a new connection (no keep-alive; conntrack is not modelled);
- one round-robin position and one affinity table per Service and node (IPVS: per Service, node and
  whether the traffic is external), shared by all its ports (traffic goes to the first port anyway);
  the round-robin position is kept across endpoint changes and taken modulo the new pool size (the
  kernel keeps its place in the real-server list);
- IPVS persistence expires ``timeoutSeconds`` after the connection that last used it started (the
  kernel: after the last of its connections ended, or the last one started, whichever is later);
- IPVS ``lc`` counts active connections only (the kernel adds inactive ones / 256), per node and
  pod, over all Services and virtual servers (the kernel counts per virtual server), and IPVS
  weights are all 1;
- a headless Service (``clusterIP: None``) is not proxied: clients pick among its ready endpoints
  from DNS, modelled as a uniform ``rng.randrange`` draw, with no policies, fallback or affinity; an
  ExternalName Service is not routed at all (:data:`NOT_PROXIED`);
- the proxy of a node whose machine is down routes nothing (:data:`NODE_DOWN`); topology hints and
  ``trafficDistribution`` are not modelled;
- a connected node's proxy sees its own Node's taints at once (upstream: after a watch event), and a
  connected node that boots again routes with the current view at once (upstream: after its first
  list); a node that boots while cut off routes nothing until it resyncs (kube-proxy runs, as a
  static pod or a system service does, but cannot list Services or endpoints);
- a connection needs only the container serving the port (see above), taken from the Service as last
  published, whichever node routes it; a mesh sidecar that intercepts the pod's inbound traffic is
  not modelled, nor the protocol of a named port.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Callable
from itertools import chain
from typing import TYPE_CHECKING

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.endpoints import Endpoint, EndpointSet, EndpointSliceController
from podquake.model.memo import IdentityMemo

if TYPE_CHECKING:
    from podquake.model.objects import Node, Pod, PodSpec
    from podquake.model.simulation import Simulation

__all__ = [
    "ENDPOINT_DEAD",
    "MODES",
    "NODE_DOWN",
    "NOT_EXPOSED",
    "NOT_PROXIED",
    "NO_ENDPOINTS",
    "NO_LOCAL_ENDPOINTS",
    "Proxy",
    "ROUTE_FAILURES",
    "UNKNOWN_SERVICE",
    "UNREACHABLE",
    "iptables_endpoint_probabilities",
    "iptables_rule_probabilities",
]

MODES = ("iptables", "nftables", "ipvs")
IPVS_SCHEDULERS = ("rr", "lc")

NO_ENDPOINTS = "no-endpoints"
"""No usable endpoint anywhere: the proxy rejects the connection (ICMP unreachable / TCP reset)."""
NO_LOCAL_ENDPOINTS = "no-local-endpoints"
"""Traffic policy Local and no usable endpoint on this node: the proxy drops the packets."""
UNKNOWN_SERVICE = "unknown-service"
"""This node's proxy has never seen the Service (not yet published to it, or it was cut off, or it booted while cut off)."""
NOT_EXPOSED = "not-exposed"
"""External traffic for a Service that is neither NodePort nor LoadBalancer."""
NOT_PROXIED = "not-proxied"
"""An ExternalName Service: DNS answers a name, no proxy rule exists."""
NODE_DOWN = "node-down"
"""The node the traffic enters is down: nothing there routes."""
ENDPOINT_DEAD = "endpoint-dead"
"""The chosen pod is gone, its machine is down, or the container serving the Service's port is not running."""
UNREACHABLE = "unreachable"
"""The chosen pod's node cannot be reached from the node the traffic entered (a partition)."""
ROUTE_FAILURES = (
    NO_ENDPOINTS,
    NO_LOCAL_ENDPOINTS,
    UNKNOWN_SERVICE,
    NOT_EXPOSED,
    NOT_PROXIED,
    NODE_DOWN,
    ENDPOINT_DEAD,
    UNREACHABLE,
)

# iptables:extensions/libxt_statistic.c stores --probability p as lround(0x80000000 * p);
# net/netfilter/xt_statistic.c matches when (get_random_u32() & 0x7FFFFFFF) < that value.
_XT_STATISTIC_SCALE = 0x80000000


def iptables_rule_probabilities(n: int) -> list[str]:
    """The ``--probability`` arguments kube-proxy writes for ``n`` endpoints (``computeProbability``):
    rule ``i`` gets ``1/(n-i)`` as ``%0.10f``; the last rule has none (it always matches).

    >>> iptables_rule_probabilities(4)
    ['0.2500000000', '0.3333333333', '0.5000000000']
    """
    return ["%0.10f" % (1.0 / (n - i)) for i in range(n - 1)]


_cumulative_cache: dict[int, tuple[float, ...]] = {}


def _iptables_cumulative(n: int) -> tuple[float, ...]:
    """Upper bounds of ``rng.random()`` for rules 0..n-2: P(reach rule i and it matches), summed."""
    cached = _cumulative_cache.get(n)
    if cached is not None:
        return cached
    bounds = []
    reach = 1.0
    total = 0.0
    for text in iptables_rule_probabilities(n):
        quantized = math.floor(_XT_STATISTIC_SCALE * float(text) + 0.5) / _XT_STATISTIC_SCALE  # C lround
        total += reach * quantized
        reach *= 1.0 - quantized
        bounds.append(total)
    result = tuple(bounds)
    _cumulative_cache[n] = result
    return result


def iptables_endpoint_probabilities(n: int) -> list[float]:
    """The probability of each of ``n`` endpoints under the iptables rule chain (each within 1e-9 of 1/n).

    >>> [round(p, 9) for p in iptables_endpoint_probabilities(3)]
    [0.333333333, 0.333333333, 0.333333333]
    """
    bounds = (0.0,) + _iptables_cumulative(n) + (1.0,)
    return [bounds[i + 1] - bounds[i] for i in range(n)]


class _Pool:
    """The endpoints one routing decision picks from, with what each mode needs precomputed."""

    __slots__ = ("endpoints", "size", "by_uid", "bounds")

    def __init__(self, endpoints: tuple[Endpoint, ...]) -> None:
        self.endpoints = endpoints
        self.size = len(endpoints)
        self.by_uid = {e.pod_uid: e for e in endpoints}
        self.bounds = _iptables_cumulative(len(endpoints))


def _pool(endpoints: list[Endpoint]) -> _Pool | None:
    return _Pool(tuple(endpoints)) if endpoints else None


class _Table:
    """Everything a node needs to route one Service, built once per published version."""

    __slots__ = (
        "version",
        "cluster",
        "local",
        "local_ready",
        "has_any",
        "exposed",
        "internal_local",
        "external_local",
        "affinity_timeout",
        "kind",
        "target_port",
    )

    def __init__(self, update: EndpointSet) -> None:
        service = update.service
        endpoints = update.endpoints
        self.version = update.version
        self.exposed = service.type in ("NodePort", "LoadBalancer")
        self.internal_local = service.internal_traffic_policy == "Local"
        self.external_local = self.exposed and service.external_traffic_policy == "Local"
        sticky = service.session_affinity == "ClientIP"
        self.affinity_timeout = float(service.session_affinity_timeout_seconds or 0) if sticky else 0.0
        #: the first port's ``targetPort``, which connections reach (None: the Service has no port)
        self.target_port: int | str | None = service.ports[0].target_port if service.ports else None
        if service.type == "ExternalName":
            self.kind = "external-name"
        elif service.headless:
            self.kind = "headless"
        else:
            self.kind = "proxied"
        ready = [e for e in endpoints if e.ready]
        fallback = [e for e in endpoints if e.serving_terminating]
        self.has_any = bool(ready or fallback)
        self.cluster = _pool(ready) if self.kind == "headless" else _pool(ready or fallback)
        self.local: dict[str, _Pool] = {}
        self.local_ready: dict[str, int] = {}
        if self.internal_local or self.external_local:
            by_node: dict[str, tuple[list[Endpoint], list[Endpoint]]] = {}
            for e in ready:
                by_node.setdefault(e.node, ([], []))[0].append(e)
            for e in fallback:
                by_node.setdefault(e.node, ([], []))[1].append(e)
            for node, (local_ready, local_fallback) in by_node.items():
                self.local[node] = _Pool(tuple(local_ready or local_fallback))
                self.local_ready[node] = len(local_ready)


class Proxy:
    """The proxies of all worker nodes. See the module docstring.

    ``mode``: ``"iptables"`` (kube-proxy's default on Linux), ``"nftables"`` or ``"ipvs"``;
    ``ipvs_scheduler``: ``"rr"`` (default) or ``"lc"``. ``endpoints``: the EndpointSlice controller
    (default ``sim.endpoints``). ``reachable(a, b)``: whether node ``a`` can reach node ``b`` (the
    network's answer; default: always). ``rng``: default ``sim.rng``.
    """

    def __init__(
        self,
        sim: Simulation,
        *,
        mode: str = "iptables",
        ipvs_scheduler: str = "rr",
        endpoints: EndpointSliceController | None = None,
        reachable: Callable[[str, str], bool] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown proxy mode {mode!r}: use one of {', '.join(MODES)}")
        if ipvs_scheduler not in IPVS_SCHEDULERS:
            raise ValueError(f"unknown IPVS scheduler {ipvs_scheduler!r}: the model has {', '.join(IPVS_SCHEDULERS)}")
        self.sim = sim
        self.env = sim.env
        self.state = sim.state
        self.mode = mode
        self.ipvs_scheduler = ipvs_scheduler
        if endpoints is None:
            endpoints = sim.endpoints  # type: ignore[attr-defined]
        self.endpoints: EndpointSliceController = endpoints
        #: ``reachable(node_a, node_b)``; ``None`` means every node reaches every other.
        self.reachable = reachable
        self.rng = rng if rng is not None else sim.rng
        #: Outcomes of :meth:`deliver`: successes, and failures by reason.
        self.delivered = 0
        self.failures: dict[str, int] = {}
        self._nodes = sim.state.nodes
        self._pods = sim.state.pods
        self._kubelets = sim.kubelets
        self._tables: dict[str, _Table] = {}  # what every connected node sees
        self._frozen: dict[str, dict[str, _Table]] = {}  # node -> the view it was left with
        self._snapshot: dict[str, _Table] | None = None  # shared by the nodes cut at the same version
        self._disconnected: dict[str, None] = {}
        self._frozen_eligible: dict[str, bool] = {}  # node -> its own Node's eligibility, as it was cut
        self._health_watchers: list[Callable[[str | None, str | None], None]] = []
        self._link_generation: dict[str, int] = {}
        self._affinity: dict[str, dict[tuple[str, str], list]] = {}  # node -> (service, client) -> [uid, last]
        self._rr: dict[str, dict[str, int]] = {}  # node -> service (IPVS: virtual server) -> next position
        self._ipvs = mode == "ipvs"
        self._external_servers: dict[str, str] = {}  # service -> its external IPVS virtual server's key
        self._connections: dict[str, dict[str, int]] = {}  # node -> pod uid -> active connections
        self._least_connection = mode == "ipvs" and ipvs_scheduler == "lc"
        if mode == "iptables":
            self._choose = self._choose_iptables
        elif mode == "nftables":
            self._choose = self._choose_nftables
        elif self._least_connection:
            self._choose = self._choose_least_connection
        else:
            self._choose = self._choose_round_robin

    def start(self) -> None:
        self.state.watch(ev.EndpointsChanged, self._on_endpoints_changed)
        self.state.watch(ev.NodePowerChanged, self._on_node_power)
        for update in self.endpoints.published.values():
            self._tables[update.service_key] = _Table(update)

    @property
    def least_connection(self) -> bool:
        """Whether connections must be released (:meth:`release`) when they end (IPVS ``lc``)."""
        return self._least_connection

    # --- routing ---------------------------------------------------------------------------------
    def view(self, service: str, node: str) -> _Table | None:
        """``service``'s table as ``node``'s proxy knows it (a cut-off node keeps its stale view)."""
        return self._frozen.get(node, self._tables).get(service)

    @staticmethod
    def pool_of(table: _Table, node: str, external: bool) -> _Pool | str:
        """The endpoints a connection entering at ``node`` may go to under ``table``'s policies, or
        why there are none (a :data:`ROUTE_FAILURES` string). :meth:`route` and the fluid load model
        both decide with this."""
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

    def route(self, service: str, client: str, node: str, now: float, external: bool = False) -> Endpoint | str:
        """The endpoint that a new connection from ``client`` to ``service`` (``namespace/name``),
        entering at ``node`` at time ``now``, is sent to, or why it is not (a :data:`ROUTE_FAILURES`
        string). ``external``: it came through a node port or a load balancer."""
        machine = self._nodes.get(node)
        if machine is None or not machine.up:
            return NODE_DOWN
        table = self._frozen.get(node, self._tables).get(service)
        if table is None:
            return UNKNOWN_SERVICE
        pool = self.pool_of(table, node, external)
        if pool.__class__ is str:
            return pool  # type: ignore[return-value]
        if table.kind != "proxied":  # headless: DNS answers with a uniformly chosen ready address
            return pool.endpoints[self.rng.randrange(pool.size)]  # type: ignore[union-attr]
        if external and self._ipvs:  # IPVS: the node port (or load balancer IP) is a virtual server of its own
            service = self._external_servers.get(service) or self._external_server(service)
        if table.affinity_timeout:
            return self._route_sticky(pool, table.affinity_timeout, service, client, node, now)
        endpoint = self._choose(pool, service, node)
        if self._least_connection:
            self.acquire(node, endpoint)
        return endpoint

    def _external_server(self, service: str) -> str:
        """The key of ``service``'s external IPVS virtual server (its node port, or load balancer IP)
        in the per-node round-robin positions and persistence tables; the cluster IP's is ``service``
        itself. (A Service key has one ``/``, so ``ns/name/external`` names no Service.)"""
        key = self._external_servers[service] = f"{service}/external"
        return key

    def _route_sticky(self, pool: _Pool, timeout: float, service: str, client: str, node: str, now: float) -> Endpoint:
        entries = self._affinity.get(node)
        if entries is None:
            entries = self._affinity[node] = {}
        key = (service, client)
        entry = entries.get(key)
        endpoint = None
        if entry is not None and now - entry[1] < timeout:
            endpoint = pool.by_uid.get(entry[0])
        if endpoint is None:
            endpoint = self._choose(pool, service, node)
            entries[key] = [endpoint.pod_uid, now]
        else:
            entry[1] = now  # type: ignore[index]
        if self._least_connection:
            self.acquire(node, endpoint)
        return endpoint

    def _choose_iptables(self, pool: _Pool, service: str, node: str) -> Endpoint:
        if pool.size == 1:
            return pool.endpoints[0]
        return pool.endpoints[bisect_right(pool.bounds, self.rng.random())]

    def _choose_nftables(self, pool: _Pool, service: str, node: str) -> Endpoint:
        return pool.endpoints[(self.rng.getrandbits(32) * pool.size) >> 32]

    def _choose_round_robin(self, pool: _Pool, service: str, node: str) -> Endpoint:
        positions = self._rr.get(node)
        if positions is None:
            positions = self._rr[node] = {}
        position = positions.get(service, 0)
        positions[service] = position + 1
        return pool.endpoints[position % pool.size]

    def _choose_least_connection(self, pool: _Pool, service: str, node: str) -> Endpoint:
        counts = self._connections.get(node)
        if not counts:
            return pool.endpoints[0]
        best = pool.endpoints[0]
        fewest = counts.get(best.pod_uid, 0)
        for endpoint in pool.endpoints:
            active = counts.get(endpoint.pod_uid, 0)
            if active < fewest:
                best, fewest = endpoint, active
        return best

    # --- connections (IPVS lc) -----------------------------------------------------------------------
    def acquire(self, node: str, endpoint: Endpoint) -> None:
        """Count an active connection from ``node``'s proxy to ``endpoint`` (route does it in ``lc``)."""
        counts = self._connections.get(node)
        if counts is None:
            counts = self._connections[node] = {}
        counts[endpoint.pod_uid] = counts.get(endpoint.pod_uid, 0) + 1

    def release(self, node: str, endpoint: Endpoint) -> None:
        """End a connection counted by :meth:`acquire` (a no-op when none is counted)."""
        counts = self._connections.get(node)
        if counts is None:
            return
        active = counts.get(endpoint.pod_uid, 0)
        if active > 1:
            counts[endpoint.pod_uid] = active - 1
        elif active == 1:
            del counts[endpoint.pod_uid]

    def active_connections(self, node: str, endpoint: Endpoint) -> int:
        return self._connections.get(node, {}).get(endpoint.pod_uid, 0)

    # --- delivery ------------------------------------------------------------------------------------
    def endpoint_alive(self, endpoint: Endpoint, service: str | None = None) -> bool:
        """Whether a connection to ``endpoint`` for ``service`` (``namespace/name``) would be answered:
        the pod still exists (same uid), its machine is up, and the container serving the Service's
        port (:meth:`serving_container`; without ``service``, the pod's first container) is running.
        The kubelet's runtime record is the truth when it has one (a container may have died while
        the kubelet could not report it); otherwise the pod's reported container states."""
        pod = self._pods.get(endpoint.pod_uid)
        if pod is None or not self._nodes[endpoint.node].up:  # a pod's node exists while the pod does
            return False
        index = 0 if service is None or len(pod.spec.containers) == 1 else self.serving_container(pod, service)
        kubelet = self._kubelets.get(endpoint.node)
        run = kubelet.pods.get(endpoint.pod) if kubelet is not None else None  # endpoint.pod == pod.key: same uid
        if run is not None and run.pod is pod:
            return run.containers[index].alive
        return pod.containers[index].state == "running"  # the store gives a pod one status per container

    def serving_container(self, pod: Pod, service: str | None) -> int:
        """The index in ``pod.spec.containers`` of the container that answers connections to
        ``service``: the first declaring its first port's ``targetPort`` (the number, or the name when
        it is a name), else the first container (why: the module docstring). The Service is read as
        last published; one the proxies never saw, or None, gives the first container. The port map
        it reads, computed once per pod spec:

        >>> from podquake.model.objects import ContainerSpec, PodSpec
        >>> spec = PodSpec((ContainerSpec("log"), ContainerSpec("app", ports=(("http", 8080),))))
        >>> _port_owners(spec)
        {8080: 1, 'http': 1}
        """
        if service is None or len(pod.spec.containers) == 1:
            return 0
        table = self._tables.get(service)
        if table is None or table.target_port is None:
            return 0
        return _port_owners_of(pod.spec).get(table.target_port, 0)

    def deliver(self, service: str, client: str, node: str, now: float, external: bool = False) -> Endpoint | str:
        """:meth:`route`, then the checks the network does: a dead endpoint (:data:`ENDPOINT_DEAD`)
        or one across a partition (:data:`UNREACHABLE`) fails. Counts every outcome."""
        result = self.route(service, client, node, now, external)
        if isinstance(result, str):
            reason = result
        else:
            if not self.endpoint_alive(result, service):
                reason = ENDPOINT_DEAD
            elif result.node != node and self.reachable is not None and not self.reachable(node, result.node):
                reason = UNREACHABLE
            else:
                self.delivered += 1
                return result
            if self._least_connection:
                self.release(node, result)  # the connection was never made
        self.failures[reason] = self.failures.get(reason, 0) + 1
        return reason

    # --- health checks (see the module docstring) ---------------------------------------------------
    def health_check(self, service: str, node: str) -> bool:
        """``node``'s answer to a cloud load balancer's health check for ``service``, as its view has
        the Service: :meth:`service_health_check` for ``externalTrafficPolicy: Local``, else
        :meth:`healthz`. A node that never saw the Service fails."""
        table = self._frozen.get(node, self._tables).get(service)
        if table is None:
            return False
        if table.external_local:
            return self.service_health_check(service, node)
        return self.healthz(node)

    def service_health_check(self, service: str, node: str) -> bool:
        """``node``'s ``healthCheckNodePort`` answer for ``service`` (pkg/proxy/healthcheck
        ``hcHandler``): whether its view has the Service with ``externalTrafficPolicy: Local`` and at
        least one local *ready* endpoint (terminating ones do not count). Its machine must be up."""
        machine = self._nodes.get(node)
        if machine is None or not machine.up:
            return False
        table = self._frozen.get(node, self._tables).get(service)
        return table is not None and table.external_local and table.local_ready.get(node, 0) > 0

    def healthz(self, node: str) -> bool:
        """``node``'s kube-proxy ``/healthz`` answer: its machine is up and its view of its own Node
        has no ``ToBeDeletedByClusterAutoscaler`` taint (proxy_health.go ``NodeEligible``). A cut-off
        node answers from the Node it saw when it was cut; one that booted while cut off does not
        answer until it resyncs (see :meth:`_on_node_power`)."""
        machine = self._nodes.get(node)
        if machine is None or not machine.up:
            return False
        frozen = self._frozen_eligible.get(node)
        return frozen if frozen is not None else _eligible(machine)

    def watch_health(self, watcher: Callable[[str | None, str | None], None]) -> None:
        """Call ``watcher(service, node)`` after ``node``'s view changes in a way that may change its
        :meth:`service_health_check` answer for ``service``: a publication it sees (``node`` None:
        any node may have changed) or its resync after a cut (``service`` None: any Service, and
        its :meth:`healthz`). Machine power and taints of connected nodes are not announced here:
        they are store events."""
        self._health_watchers.append(watcher)

    def _announce(self, service: str | None, node: str | None) -> None:
        for watcher in self._health_watchers:
            watcher(service, node)

    # --- what each node knows ------------------------------------------------------------------------
    def set_connected(self, node: str, connected: bool) -> None:
        """Cut ``node`` off from the control plane (it keeps routing with the view it has) or join
        it again (it sees the current endpoints ``propagation_delay`` later, as after a re-list)."""
        generation = self._link_generation.get(node, 0) + 1
        self._link_generation[node] = generation
        if not connected:
            self._disconnected[node] = None
            if node not in self._frozen:  # (a node cut again before it resynced keeps its older view)
                if self._snapshot is None:
                    self._snapshot = dict(self._tables)
                self._frozen[node] = self._snapshot
                machine = self._nodes.get(node)
                self._frozen_eligible[node] = machine is None or _eligible(machine)
            return
        if node not in self._disconnected:
            return
        del self._disconnected[node]
        delay = self.endpoints.propagation_delay
        if delay <= 0:
            self._resynced(node, generation)
            return
        timeout = self.env.timeout(delay)
        timeout.callbacks.append(lambda _e: self._resynced(node, generation))  # type: ignore[union-attr]

    def _resynced(self, node: str, generation: int) -> None:
        if self._link_generation.get(node) == generation and node in self._frozen:
            del self._frozen[node]
            self._frozen_eligible.pop(node, None)
            self._announce(None, node)

    def _on_node_power(self, event: ev.NodePowerChanged) -> None:
        """A machine that boots again starts a fresh kube-proxy with empty kernel tables (no
        ClientIP affinity entries, IPVS round-robin from the start). Cut off from the control plane,
        that kube-proxy can list nothing, so its node routes nothing and has no health-check
        listener, until it reconnects and resyncs. Its ``/healthz`` fails meanwhile too: kube-proxy
        v1.35 waits in ``NewNodeManager`` (pkg/proxy/node.go: the informer of its own Node must sync,
        then the Node must exist) before it makes and starts its health server
        (cmd/kube-proxy/app/server.go ``newProxyServer``), so nothing listens on the port."""
        if not event.up:
            return
        node = event.node
        self._affinity.pop(node, None)
        self._rr.pop(node, None)
        if node in self._disconnected:
            self._frozen[node] = {}
            self._frozen_eligible[node] = False
            self._announce(None, node)

    def is_connected(self, node: str) -> bool:
        return node not in self._disconnected

    def known_version(self, service: str, node: str) -> int:
        """The version of ``service``'s endpoints ``node``'s proxy routes with (0: none)."""
        table = self._frozen.get(node, self._tables).get(service)
        return table.version if table is not None else 0

    def _on_endpoints_changed(self, event: ev.EndpointsChanged) -> None:
        update = self.endpoints.published.get(event.service)
        if update is None or update.version != event.version:
            return
        old = self._tables.get(event.service)
        table = self._tables[event.service] = _Table(update)
        self._snapshot = None
        if not self._health_watchers or not (table.external_local or (old is not None and old.external_local)):
            return
        if old is None or old.external_local != table.external_local:
            self._announce(event.service, None)
            return
        before, after = old.local_ready, table.local_ready
        frozen = self._frozen
        for node in dict.fromkeys(chain(before, after)):  # the nodes whose answer flips, in order
            if (before.get(node, 0) > 0) != (after.get(node, 0) > 0) and node not in frozen:
                self._announce(event.service, node)


def _port_owners(spec: PodSpec) -> dict[int | str, int]:
    """Container index by declared port number and port name; the first container declaring one
    keeps it (upstream ``FindPort`` returns the first match in container order)."""
    owners: dict[int | str, int] = {}
    for index, container in enumerate(spec.containers):
        for name, number in container.ports:
            owners.setdefault(number, index)
            if name:
                owners.setdefault(name, index)
    return owners


_port_owners_of: IdentityMemo[PodSpec, dict[int | str, int]] = IdentityMemo(_port_owners)


def _eligible(node: Node) -> bool:
    """proxy_health.go ``SyncNode``: a node is eligible unless tainted ``ToBeDeletedByClusterAutoscaler``
    (a deleted Node leaves the model's store at once, so no deletionTimestamp is needed)."""
    for taint in node.taints:
        if taint.key == k8s.TAINT_TO_BE_DELETED:
            return False
    return True
