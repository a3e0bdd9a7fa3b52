"""The EndpointSlice controller: which pods back each Service, in which condition, and when the node
proxies learn it.

Upstream: kubernetes/kubernetes:pkg/controller/endpointslice/endpointslice_controller.go (which pods,
when to sync), staging/src/k8s.io/endpointslice/utils.go ``podToEndpoint`` (the conditions) and
pkg/api/v1/pod/util.go ``ShouldPodBeInEndpoints`` (which pods get an endpoint at all):

- a Service with a selector gets one endpoint per pod of its namespace whose labels match the
  selector, that has an IP (it is bound and has started: phase Running or Unknown) and is not
  terminal (Succeeded or Failed); terminating pods stay in, marked terminating;
- conditions per endpoint: ``serving`` = the pod is Ready; ``terminating`` = the pod has a
  deletionTimestamp; ``ready`` = ``publishNotReadyAddresses`` or (Ready and not terminating);
- a Service without a selector (or an ExternalName one) gets no managed endpoints.

Timing. A pod or Service event marks the Services concerned dirty; they are recomputed
``sim.timing.controller_sync_seconds`` later (every dirty Service of one instant in one batch). When
the result differs from the last one (endpoints or the Service itself), the Service's version goes up
and the new :class:`EndpointSet` reaches the node proxies ``propagation_delay`` seconds later
(default ``KUBE_PROXY_MIN_SYNC_PERIOD_SECONDS``, 1 s: API server, watch and kube-proxy sync). Until
then the proxies route with the previous version: a deleted pod keeps receiving traffic, which fails.
Upstream the controller syncs at once (``endpointUpdatesBatchPeriod`` defaults to 0,
pkg/controller/endpointslice), and kube-proxy v1.35 (pkg/proxy/runner/bounded_frequency_runner.go)
syncs as soon as a change arrives unless its last sync ended less than ``minSyncPeriod`` ago, then
when that has passed (``minSyncPeriod`` 1 s and ``syncPeriod`` 30 s by default for every mode,
pkg/proxy/apis/config/v1alpha2/defaults.go; ``syncPeriod`` only spaces the retries of a failed sync,
and a full resync comes every hour). So a lone change reaches the kernel within the sync's own time
(milliseconds to seconds, with the cluster's size) and a burst within about 1 s: the model's fixed
delay (``Timing.endpoint_propagation_seconds``, an environment latency) is the busy end of that.
Publication is recorded as :class:`~podquake.model.trace.EndpointsChanged` (through
``ClusterState.record_endpoints_changed``), which the proxies watch; :attr:`EndpointSliceController.published`
holds the sets they read.

Incremental: pods are indexed by Service as they are created (a pod's labels never change in the
model), by looking up the Services whose selector contains one of the pod's labels; a Service
(re)applied with a new selector is matched against the store's label index. A pod event only
recomputes the Services that select that pod.

Named target ports. A Service port whose ``targetPort`` is a name is resolved per pod (upstream
pkg/api/v1/pod/util.go ``FindPort``, called by ``getEndpointPorts``,
staging/src/k8s.io/endpointslice/utils.go): the first container, then restartable init
container (sidecar), declaring a port of that name. A pod declaring none gets its endpoint in a slice
without that port, so kube-proxy has no endpoint for it on that port: the model leaves such a pod out
of the Service's endpoints when the name is its **first** port's (the port connections reach, see
:mod:`podquake.model.proxy`). A numeric ``targetPort`` needs no declaration.

One port. Upstream each Service port has endpoints of its own: the reconciler groups a Service's
endpoints into slices by the port numbers their pod resolves (staging/src/k8s.io/endpointslice
reconciler.go, ``NewPortMapKey``), and kube-proxy builds one endpoint list and one set of rules per
port (pkg/proxy/endpointslicecache.go ``endpointInfoByServicePort``). So with ports ``http``
(``targetPort: web``) and ``metrics`` (``targetPort: metrics``), a pod declaring only ``metrics`` is
an endpoint of ``metrics`` alone. The model keeps the first port's list only, which is exact for
everything it routes: traffic addresses a Service, not a port, and goes to ``spec.ports[0]``
(:class:`~podquake.model.traffic.LoadGenerator`; the scenario ``traffic:`` entries name no port).
What it does not have is what nobody sends: the other ports' lists (the pod above is listed
nowhere). The trace's ready counts (:class:`~podquake.model.trace.EndpointsChanged`) are the first
port's. Per-port lists would multiply the proxy's tables, the load model's plans and the trace rows
by the number of ports, for traffic the model never offers.

Simplifications, on purpose: one endpoint set per Service (upstream splits it into slices of at most
100 endpoints, :attr:`EndpointSet.slice_count` says how many it would be, not counting the extra
slices pods resolving a named port to different numbers would need), the first port's (see above; a
port's protocol is not compared, upstream ``FindPort`` also matches it); no
topology hints; a pod gets its IP when its containers start (upstream when its sandbox is created,
before image pulls and init containers, so a starting pod is listed as not ready, or as ready under
``publishNotReadyAddresses``, and refuses connections meanwhile; the kubelet here folds the sandbox
into ``container_start_seconds``); endpoints are ordered by pod key (``namespace/name``), standing in for the IP order
of upstream; a Service deleted is not modelled (the store has no deletion for objects).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.controllers.common import Pausable
from podquake.model.objects import Pod
from podquake.model.resources_api import Service
from podquake.model.selectors import LabelSelector

if TYPE_CHECKING:
    from podquake.model.simulation import Simulation

__all__ = ["Endpoint", "EndpointSet", "EndpointSliceController", "declares_port", "endpoint_conditions", "has_endpoint"]

_IP_PHASES = ("Running", "Unknown")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One pod behind a Service, as an EndpointSlice lists it: where it runs and its conditions."""

    pod_uid: str
    pod: str  # namespace/name
    node: str
    zone: str
    ready: bool
    serving: bool
    terminating: bool

    @property
    def serving_terminating(self) -> bool:
        """Usable only as the fallback when no endpoint is ready (upstream ProxyTerminatingEndpoints)."""
        return self.serving and self.terminating and not self.ready


@dataclass(frozen=True, slots=True)
class EndpointSet:
    """Version ``version`` of a Service's endpoints, with the Service as it was when computed."""

    service_key: str  # namespace/name
    service: Service
    version: int
    endpoints: tuple[Endpoint, ...]
    computed_at: float = 0.0

    @property
    def ready(self) -> int:
        return sum(1 for e in self.endpoints if e.ready)

    @property
    def serving_terminating(self) -> int:
        return sum(1 for e in self.endpoints if e.serving_terminating)

    @property
    def not_ready(self) -> int:
        return sum(1 for e in self.endpoints if not e.ready and not e.serving_terminating)

    @property
    def slice_count(self) -> int:
        """EndpointSlices upstream would use: ``MAX_ENDPOINTS_PER_SLICE`` (100) each, and one empty
        placeholder slice when there are none."""
        return max(1, math.ceil(len(self.endpoints) / k8s.MAX_ENDPOINTS_PER_SLICE))


def has_endpoint(pod: Pod) -> bool:
    """``ShouldPodBeInEndpoints(pod, includeTerminating=true)``: bound, has started (so has an IP), not terminal."""
    return pod.node_name is not None and pod.phase in _IP_PHASES


def declares_port(pod: Pod, target_port: int | str | None) -> bool:
    """Whether ``target_port`` resolves for ``pod`` (upstream ``FindPort``): a number always does; a
    name when a container, or else a restartable init container, declares a port of that name.

    >>> from podquake.model.objects import ContainerSpec, PodSpec
    >>> pod = Pod("u", "web-1", "default", {}, PodSpec((ContainerSpec("c", ports=(("web", 80),)),)), 0.0)
    >>> declares_port(pod, 8080), declares_port(pod, "web"), declares_port(pod, "http")
    (True, True, False)
    """
    if not isinstance(target_port, str):
        return True
    spec = pod.spec
    for container in spec.containers:
        if any(name == target_port for name, _ in container.ports):
            return True
    return any(c.restartable_init and any(name == target_port for name, _ in c.ports) for c in spec.init_containers)


def endpoint_conditions(pod: Pod, publish_not_ready_addresses: bool) -> tuple[bool, bool, bool]:
    """``(ready, serving, terminating)`` of ``pod``'s endpoint (upstream ``podToEndpoint``).

    >>> from podquake.model.objects import ContainerSpec, PodSpec
    >>> pod = Pod("u", "web-1", "default", {}, PodSpec((ContainerSpec("c"),)), 0.0, ready=True, deletion_timestamp=5.0)
    >>> endpoint_conditions(pod, False), endpoint_conditions(pod, True)
    ((False, True, True), (True, True, True))
    """
    serving = pod.ready
    terminating = pod.deletion_timestamp is not None
    ready = publish_not_ready_addresses or (serving and not terminating)
    return ready, serving, terminating


class EndpointSliceController(Pausable):
    """Computes and publishes every Service's endpoints. See the module docstring.

    ``propagation_delay``: seconds from the controller's computation to the node proxies seeing it.

    Paused (:class:`~podquake.model.controllers.common.Pausable`, a controller-manager outage), it
    computes nothing, so the proxies keep routing by the endpoints last published (upstream too:
    stale EndpointSlices outlive a dead kube-controller-manager); updates already computed still
    reach the proxies. Resumed, it recomputes every Service (an unchanged one publishes nothing).
    """

    def __init__(self, sim: Simulation, *, propagation_delay: float = k8s.KUBE_PROXY_MIN_SYNC_PERIOD_SECONDS) -> None:
        if propagation_delay < 0:
            raise ValueError(f"propagation_delay must be >= 0 seconds, not {propagation_delay}")
        self.sim = sim
        self.env = sim.env
        self.state = sim.state
        self.propagation_delay = float(propagation_delay)
        #: What the node proxies currently see, by Service key (``namespace/name``).
        self.published: dict[str, EndpointSet] = {}
        self.services: dict[str, Service] = {}
        self._members: dict[str, dict[str, None]] = {}  # service key -> keys of the pods it selects
        self._services_of: dict[str, list[str]] = {}  # pod key -> keys of the services selecting it
        # (namespace, label key, label value) -> services whose selector holds that label (first item)
        self._by_label: dict[tuple[str, str, str], dict[str, None]] = {}
        self._computed: dict[str, EndpointSet] = {}  # the last computed set (published or on its way)
        self._dirty: dict[float, dict[str, None]] = {}  # sync instant -> services to recompute then
        self._outbox: dict[float, list[EndpointSet]] = {}

    def start(self) -> None:
        state = self.state
        state.watch(ev.ObjectApplied, self._on_object)
        state.watch(ev.PodCreated, self._on_pod_created)
        state.watch(ev.PodPhaseChanged, self._on_pod_changed)
        state.watch(ev.PodReadyChanged, self._on_pod_changed)
        state.watch(ev.PodDeletionRequested, self._on_pod_changed)
        state.watch(ev.PodDeleted, self._on_pod_deleted)
        for (kind, namespace, name), obj in list(state.objects.items()):
            if kind == "Service" and isinstance(obj, Service):
                self._apply_service(f"{namespace}/{name}", obj)

    # --- reading ---------------------------------------------------------------------------------
    def endpoints_of(self, service_key: str) -> tuple[Endpoint, ...]:
        """The endpoints the proxies currently see for ``service_key`` (empty if none published)."""
        published = self.published.get(service_key)
        return published.endpoints if published is not None else ()

    def selected_pods(self, service_key: str) -> list[str]:
        """Keys of the pods ``service_key``'s selector picks now (with or without an endpoint), sorted."""
        return sorted(self._members.get(service_key, ()))

    # --- watch events ------------------------------------------------------------------------------
    def _on_object(self, event: ev.ObjectApplied) -> None:
        if event.kind != "Service":
            return
        namespace, name = event.name.split("/", 1)
        service = self.state.objects.get(("Service", namespace, name))
        if isinstance(service, Service):
            self._apply_service(event.name, service)

    def _on_pod_created(self, event: ev.PodCreated) -> None:
        # A new pod is Pending, without an IP: it joins its Services' members, not their endpoints.
        pod = self.state.pods_by_key.get(event.pod)
        if pod is None:
            return
        found: list[str] = []
        by_label = self._by_label
        namespace = pod.namespace
        for key, value in pod.labels.items():
            candidates = by_label.get((namespace, key, value))
            if candidates:
                for service_key in candidates:
                    if service_key not in found and self.services[service_key].matches(pod.labels):
                        found.append(service_key)
        if found:
            self._services_of[pod.key] = found
            for service_key in found:
                self._members[service_key][pod.key] = None

    def _on_pod_changed(self, event: ev.Event) -> None:
        services = self._services_of.get(event.pod)  # type: ignore[attr-defined]
        if services:
            self._mark(services)

    def _on_pod_deleted(self, event: ev.PodDeleted) -> None:
        services = self._services_of.pop(event.pod, None)
        if services:
            for service_key in services:
                self._members[service_key].pop(event.pod, None)
            self._mark(services)

    # --- services ----------------------------------------------------------------------------------
    def _apply_service(self, key: str, service: Service) -> None:
        old = self.services.get(key)
        self.services[key] = service
        selector = service.selector if service.type != "ExternalName" else None
        old_selector = None if old is None or old.type == "ExternalName" else old.selector
        if old is None or selector != old_selector:
            self._unindex(key, old_selector, service.namespace)
            self._index(key, selector, service.namespace)
        self._mark((key,))

    def _index(self, key: str, selector: tuple[tuple[str, str], ...] | None, namespace: str) -> None:
        members: dict[str, None] = {}
        self._members[key] = members
        if not selector:
            return
        first_key, first_value = selector[0]
        self._by_label.setdefault((namespace, first_key, first_value), {})[key] = None
        for pod in self.state.pods_matching(namespace, LabelSelector(selector)):
            members[pod.key] = None
            self._services_of.setdefault(pod.key, []).append(key)

    def _unindex(self, key: str, selector: tuple[tuple[str, str], ...] | None, namespace: str) -> None:
        for pod_key in self._members.pop(key, {}):
            services = self._services_of[pod_key]
            services.remove(key)
            if not services:
                del self._services_of[pod_key]
        if selector:
            label = (namespace, selector[0][0], selector[0][1])
            holders = self._by_label.get(label)
            if holders is not None:
                holders.pop(key, None)
                if not holders:
                    del self._by_label[label]

    # --- syncing and publishing --------------------------------------------------------------------
    def _mark(self, services: list[str] | tuple[str, ...]) -> None:
        due = self.env.now + self.sim.timing.controller_sync_seconds
        batch = self._dirty.get(due)
        if batch is None:
            batch = self._dirty[due] = {}
            timeout = self.env.timeout(due - self.env.now)
            timeout.callbacks.append(lambda _e: self._sync(due))  # type: ignore[union-attr]
        for service_key in services:
            batch[service_key] = None

    def _sync(self, due: float) -> None:
        if self.paused:
            self._dirty.pop(due, None)  # resuming recomputes every service
            return
        for service_key in self._dirty.pop(due, ()):
            self._sync_service(service_key)

    def _on_resume(self) -> None:
        self._mark(tuple(self.services))

    def compute(self, service_key: str) -> tuple[Endpoint, ...]:
        """The endpoints ``service_key`` has right now, from the store (what the next sync publishes)."""
        service = self.services.get(service_key)
        if service is None:
            return ()
        pods_by_key = self.state.pods_by_key
        nodes = self.state.nodes
        publish_not_ready = service.publish_not_ready_addresses
        target_port = service.ports[0].target_port if service.ports else None
        endpoints = []
        for pod_key in sorted(self._members.get(service_key, ())):
            pod = pods_by_key.get(pod_key)
            if pod is None or not has_endpoint(pod) or not declares_port(pod, target_port):
                continue
            ready, serving, terminating = endpoint_conditions(pod, publish_not_ready)
            node_name: str = pod.node_name  # type: ignore[assignment]  # has_endpoint: bound
            node = nodes.get(node_name)
            zone = node.zone if node is not None else ""
            endpoints.append(Endpoint(pod.uid, pod_key, node_name, zone, ready, serving, terminating))
        return tuple(endpoints)

    def _sync_service(self, service_key: str) -> None:
        service = self.services.get(service_key)
        if service is None:
            return
        endpoints = self.compute(service_key)
        last = self._computed.get(service_key)
        if last is not None and last.endpoints == endpoints and last.service == service:
            return
        version = last.version + 1 if last is not None else 1
        update = EndpointSet(service_key, service, version, endpoints, self.env.now)
        self._computed[service_key] = update
        if self.propagation_delay <= 0:
            self._publish(update)
            return
        when = self.env.now + self.propagation_delay
        batch = self._outbox.get(when)
        if batch is None:
            batch = self._outbox[when] = []
            timeout = self.env.timeout(self.propagation_delay)
            timeout.callbacks.append(lambda _e: self._deliver(when))  # type: ignore[union-attr]
        batch.append(update)

    def _deliver(self, when: float) -> None:
        for update in self._outbox.pop(when, ()):
            self._publish(update)

    def _publish(self, update: EndpointSet) -> None:
        self.published[update.service_key] = update
        self.state.record_endpoints_changed(
            update.service_key,
            update.version,
            update.ready,
            update.serving_terminating,
            update.not_ready,
            tuple(e.pod for e in update.endpoints if e.ready),
            update.computed_at,
            update.service.publish_not_ready_addresses,
            (
                update.service.session_affinity,
                update.service.external_traffic_policy or "",
                update.service.internal_traffic_policy or "Cluster",
            ),
        )
