"""Cloud load balancers for Services of type LoadBalancer: node targets, health checks, registration.

For every Service of ``type: LoadBalancer`` the :class:`LoadBalancerController` (the service
controller of the cloud-controller-manager, k8s.io/cloud-provider:controllers/service/controller.go,
together with the cloud's load balancer itself) keeps a :class:`CloudLoadBalancer` whose targets are
the cluster's nodes. Traffic enters a target node on the Service's node port; the node's proxy takes
it from there (not modelled here).

**Which nodes are targets.** The stable node set of KEP-3458 (``StableLoadBalancerNodeSet``, GA in
v1.30): every node except those labelled ``node.kubernetes.io/exclude-from-external-load-balancers``
(unless the label's value is ``false``) and those tainted ``ToBeDeletedByClusterAutoscaler``; a node
leaves the set when it is deleted. Readiness does not matter: health checks decide who gets traffic.

**Registration.** Updating the cloud takes time: a node that enters the set becomes a registered
target ``registration_seconds`` later, and one that leaves it stays registered (and keeps receiving
new traffic, which then fails if the node is gone) for ``deregistration_seconds``. Both are
environment-dependent, not Kubernetes constants (default 30 s each); raising them is the "slow LB
registration" fault.

**Health checks.** A registered target is probed every ``health_check_interval`` seconds (one phase
per load balancer, drawn from its seeded generator) and judged healthy after ``healthy_threshold``
passing probes, unhealthy after ``unhealthy_threshold`` failing ones; before its first verdict it is
in the initial state and takes no traffic. Defaults are the GCE provider's: every 8 s, healthy after
1, unhealthy after 3 ("3 * 8 = 24 seconds before the LB will steer traffic away",
kubernetes/cloud-provider-gcp:providers/gce/gce.go). A probe passes when the node's machine is up
(and reachable, if a reachability hook is set) and the node's kube-proxy says so. kube-proxy answers
from its *own* view (``sim.proxy``, :class:`~podquake.model.proxy.Proxy`), not from the API:

- ``externalTrafficPolicy: Cluster``: kube-proxy's ``/healthz`` answers, which it does unless its
  view of its own Node has the ``ToBeDeletedByClusterAutoscaler`` taint (KEP-3836,
  KubeProxyDrainingTerminatingNodes, GA v1.31; :meth:`Proxy.healthz <podquake.model.proxy.Proxy.healthz>`);
- ``externalTrafficPolicy: Local``: kube-proxy's ``healthCheckNodePort`` counts at least one local
  ready endpoint of the Service in its last synced EndpointSlices (pkg/proxy/healthcheck/
  service_health.go ``hcHandler``; :meth:`Proxy.service_health_check
  <podquake.model.proxy.Proxy.service_health_check>`).

A connected node's kube-proxy sees a pod's readiness change once the EndpointSlice update has
propagated (``endpoint_propagation_seconds``, 1 s by default), and its own Node's taints at once
(upstream: a watch event later). A node cut off from the control plane (a ``NodeCutOff``, or a
partition that separates it from the control plane) hears nothing: its kube-proxy keeps answering
from the view it had when it was cut. So when the node lifecycle controller marks the cut-off node's
pods NotReady, and later evicts them, its ``healthCheckNodePort`` still answers 200, the load
balancer keeps sending it traffic, and its stale kube-proxy delivers that traffic to the local pods,
which keep running: the split-brain of a real cluster. Once it can reach the control plane again it
resyncs (a propagation delay later) and answers from the real state. Which nodes are *targets* (the
node set above) is the service controller's business and follows the API.

The decision is exact and lazy, like the kubelet's probes: nothing runs per probe. When a target's
probe outcome changes, the instant the verdict flips (the threshold-th probe on the grid) is
computed and one cancellable timer is set; an outcome that recovers first cancels it.

**Choosing a target** for a request, :meth:`CloudLoadBalancer.pick_target`: uniform over the
healthy registered targets (a connection's 5-tuple hash spreads connections evenly); with
``sessionAffinity: ClientIP`` and a ``client`` given, the same client keeps the same target while
the set is unchanged (GCE target pools get ``CLIENT_IP`` affinity, a 2-tuple hash). When every
registered target has failed its checks the load balancer fails open and spreads over all of them,
as AWS and GCP load balancers do. No registered target, or only ones still in the initial state,
gives ``None``: the request fails. :meth:`CloudLoadBalancer.serving_targets` is the same set, for
fluid traffic that splits a rate evenly.

Simplifications, on purpose: one target per node (NodePort), no per-port health checks, a probe
takes no time; the LB's own provisioning (its external IP) is immediate and only the targets wait;
the ``reachable`` hook stands in for the network until the network model supplies it (set it, then
call :meth:`LoadBalancerController.refresh` when reachability changes).
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.endpoints import declares_port, endpoint_conditions, has_endpoint
from podquake.model.objects import Node
from podquake.model.resources_api import Service

if TYPE_CHECKING:
    from podquake.model.proxy import Proxy
    from podquake.model.simulation import Simulation

__all__ = ["CloudLoadBalancer", "LoadBalancerController", "local_ready_endpoints"]

_EPS = 1e-9


def local_ready_endpoints(service: Service, node: Node) -> int:
    """How many of ``service``'s endpoints on ``node`` are ready according to the API (the store):
    what a connected node's kube-proxy counts for ``externalTrafficPolicy: Local`` once the
    EndpointSlice change has reached it (pkg/proxy/endpointschangetracker.go ``LocalReadyEndpoints``:
    local and ready). The load balancer does not read this: it asks the node's kube-proxy
    (:meth:`Proxy.service_health_check <podquake.model.proxy.Proxy.service_health_check>`), whose view
    can be stale. The endpoints are the EndpointSlice controller's
    (:mod:`podquake.model.endpoints`): a pod backs one once it has an IP (phase Running, or Unknown
    when its node stopped reporting) and until it is Succeeded or Failed, when it declares the port
    a named first ``targetPort`` names, and it is ready as ``endpoint_conditions`` says."""
    target_port = service.ports[0].target_port if service.ports else None
    publish_not_ready = service.publish_not_ready_addresses
    count = 0
    for pod in node.pods.values():
        if pod.namespace != service.namespace or not has_endpoint(pod) or not service.matches(pod.labels):
            continue
        if declares_port(pod, target_port) and endpoint_conditions(pod, publish_not_ready)[0]:
            count += 1
    return count


@dataclass(slots=True)
class _Target:
    """One node as a load balancer sees it. ``healthy`` is None in the initial state (registered,
    not yet judged). ``reg_gen``/``health_gen`` change to cancel a pending timer."""

    node: str
    wanted: bool = False
    registered: bool = False
    pending: str = ""  # "register", "deregister" or ""
    reg_gen: int = 0
    ok: bool = False
    healthy: bool | None = None
    health_gen: int = 0


class CloudLoadBalancer:
    """The load balancer of one Service: its targets, their health, and target selection."""

    def __init__(self, controller: LoadBalancerController, service: Service) -> None:
        self.controller = controller
        self.service = service
        self.key = f"{service.namespace}/{service.name}"
        self.rng = random.Random(controller.sim.rng.getrandbits(64))
        self.created_at = controller.env.now
        self.first_check = self.created_at + self.rng.uniform(0.0, controller.health_check_interval)
        self.targets: dict[str, _Target] = {}
        self._serving: list[str] | None = None

    @property
    def local(self) -> bool:
        return self.service.external_traffic_policy == "Local"

    # --- reading ---------------------------------------------------------------------------------
    def registered_targets(self) -> list[str]:
        """Nodes registered as targets now (including ones whose deregistration is under way)."""
        return [name for name, t in self.targets.items() if t.registered]

    def healthy_targets(self) -> list[str]:
        return [name for name, t in self.targets.items() if t.registered and t.healthy]

    def serving_targets(self) -> list[str]:
        """The nodes new traffic goes to: the healthy registered targets, or every registered one when
        all have failed their health checks (fail open); empty when none can take traffic."""
        if self._serving is None:
            registered = [t for t in self.targets.values() if t.registered]
            healthy = [t.node for t in registered if t.healthy]
            if not healthy and registered and all(t.healthy is False for t in registered):
                healthy = [t.node for t in registered]
            self._serving = healthy
        return self._serving

    def target_health(self, node: str) -> bool | None:
        """True/False as the health check judges ``node``; None if not registered or not yet judged."""
        target = self.targets.get(node)
        return target.healthy if target is not None and target.registered else None

    def pick_target(self, client: str | None = None) -> str | None:
        """The node an incoming request (from ``client``, optional) enters by, or None if it fails."""
        serving = self.serving_targets()
        if not serving:
            return None
        if client is not None and self.service.session_affinity == "ClientIP":
            return serving[zlib.crc32(client.encode()) % len(serving)]
        return serving[self.rng.randrange(len(serving))]

    def __repr__(self) -> str:
        return f"CloudLoadBalancer({self.key}, registered={len(self.registered_targets())}, serving={len(self.serving_targets())})"


class LoadBalancerController:
    """Creates, updates and deletes a :class:`CloudLoadBalancer` per LoadBalancer Service and keeps
    their targets in step with the nodes (see the module docstring). ``balancers`` holds them by
    ``namespace/name``; :meth:`balancer` finds one."""

    def __init__(
        self,
        sim: Simulation,
        *,
        registration_seconds: float = 30.0,
        deregistration_seconds: float = 30.0,
        health_check_interval: float = k8s.LB_HEALTH_CHECK_INTERVAL_SECONDS,
        healthy_threshold: int = k8s.LB_HEALTHY_THRESHOLD,
        unhealthy_threshold: int = k8s.LB_UNHEALTHY_THRESHOLD,
    ) -> None:
        if health_check_interval <= 0 or healthy_threshold < 1 or unhealthy_threshold < 1:
            raise ValueError("the health check interval must be positive and the thresholds at least 1")
        self.sim = sim
        self.env = sim.env
        self.state = sim.state
        self.registration_seconds = registration_seconds
        self.deregistration_seconds = deregistration_seconds
        self.health_check_interval = health_check_interval
        self.healthy_threshold = healthy_threshold
        self.unhealthy_threshold = unhealthy_threshold
        self.reachable: Callable[[str], bool] | None = None
        #: The node proxies whose health-check answers the probes read.
        self.proxy: Proxy = sim.proxy
        self.balancers: dict[str, CloudLoadBalancer] = {}

    def start(self) -> None:
        state = self.state
        state.watch(ev.ObjectApplied, self._on_object)
        state.watch(ev.NodeAdded, self._on_node_added)
        state.watch(ev.NodeRemoved, self._on_node_removed)
        state.watch(ev.NodeTainted, self._on_node_taints)
        state.watch(ev.NodeUntainted, self._on_node_taints)
        state.watch(ev.NodePowerChanged, self._on_node_power)
        self.proxy.watch_health(self._on_proxy_view)
        for (kind, _namespace, _name), obj in list(state.objects.items()):
            if kind == "Service" and isinstance(obj, Service) and obj.type == "LoadBalancer":
                self._ensure(obj)

    # --- the API ---------------------------------------------------------------------------------
    def balancer(self, namespace: str, name: str) -> CloudLoadBalancer | None:
        return self.balancers.get(f"{namespace}/{name}")

    def set_registration_delay(self, seconds: float, deregistration_seconds: float | None = None) -> None:
        """The "slow LB registration" fault: targets changing from now on take ``seconds`` to register
        (and ``deregistration_seconds``, default the same, to deregister)."""
        self.registration_seconds = seconds
        self.deregistration_seconds = seconds if deregistration_seconds is None else deregistration_seconds

    def refresh(self, node: str | None = None) -> None:
        """Re-evaluate health-check outcomes (of ``node``, or of every node), after a change this
        controller does not watch, such as the ``reachable`` hook's answer."""
        for lb in self.balancers.values():
            names = [node] if node is not None else list(lb.targets)
            for name in names:
                if name in lb.targets:
                    self._update_ok(lb, lb.targets[name])

    # --- services --------------------------------------------------------------------------------
    def _on_object(self, event: ev.ObjectApplied) -> None:
        if event.kind != "Service":
            return
        namespace, _, name = event.name.partition("/")
        service = self.state.objects.get(("Service", namespace, name))
        if isinstance(service, Service) and service.type == "LoadBalancer":
            self._ensure(service)
        elif event.name in self.balancers:
            self._delete(self.balancers[event.name])

    def _ensure(self, service: Service) -> None:
        key = f"{service.namespace}/{service.name}"
        lb = self.balancers.get(key)
        if lb is None:
            lb = self.balancers[key] = CloudLoadBalancer(self, service)
            self.state.record_load_balancer(key, "created")
            for node in self.state.node_list:
                lb.targets[node.name] = _Target(node.name)
        else:
            lb.service = service
        for target in lb.targets.values():
            self._update_wanted(lb, target)
            self._update_ok(lb, target)

    def _delete(self, lb: CloudLoadBalancer) -> None:
        del self.balancers[lb.key]
        for target in lb.targets.values():
            target.reg_gen += 1
            target.health_gen += 1
        lb.targets.clear()
        lb._serving = None
        self.state.record_load_balancer(lb.key, "deleted")

    # --- nodes -----------------------------------------------------------------------------------
    def _on_node_added(self, event: ev.NodeAdded) -> None:
        for lb in self.balancers.values():
            target = lb.targets.get(event.node)
            if target is None:
                target = lb.targets[event.node] = _Target(event.node)
            self._update_wanted(lb, target)
            self._update_ok(lb, target)

    def _on_node_removed(self, event: ev.NodeRemoved) -> None:
        for lb in self.balancers.values():
            target = lb.targets.get(event.node)
            if target is not None:
                self._update_wanted(lb, target)
                self._update_ok(lb, target)
                if not target.registered and not target.pending:
                    del lb.targets[event.node]

    def _on_node_taints(self, event: ev.NodeTainted | ev.NodeUntainted) -> None:
        if event.key != k8s.TAINT_TO_BE_DELETED:
            return
        for lb in self.balancers.values():
            target = lb.targets.get(event.node)
            if target is not None:
                self._update_wanted(lb, target)
                self._update_ok(lb, target)

    def _on_node_power(self, event: ev.NodePowerChanged) -> None:
        for lb in self.balancers.values():
            target = lb.targets.get(event.node)
            if target is not None:
                self._update_ok(lb, target)

    def _on_proxy_view(self, service: str | None, node: str | None) -> None:
        """A node's kube-proxy view changed (:meth:`Proxy.watch_health`): re-probe what it may affect."""
        if service is None:
            balancers = list(self.balancers.values())
        else:
            lb = self.balancers.get(service)
            balancers = [lb] if lb is not None else []
        for lb in balancers:
            if node is None:
                targets = list(lb.targets.values())
            else:
                target = lb.targets.get(node)
                targets = [target] if target is not None else []
            for target in targets:
                self._update_ok(lb, target)

    # --- registration ----------------------------------------------------------------------------
    def _in_node_set(self, node: Node | None) -> bool:
        """KEP-3458's stable node set predicates (nodeIncludedPredicate, nodeUnTaintedPredicate)."""
        if node is None:
            return False
        exclude = node.labels.get(k8s.LABEL_EXCLUDE_FROM_EXTERNAL_LB)
        if exclude is not None and exclude.lower() != "false":
            return False
        return not any(t.key == k8s.TAINT_TO_BE_DELETED for t in node.taints)

    def _update_wanted(self, lb: CloudLoadBalancer, target: _Target) -> None:
        wanted = self._in_node_set(self.state.nodes.get(target.node))
        if wanted == target.wanted:
            return
        target.wanted = wanted
        target.reg_gen += 1
        if wanted == target.registered:
            target.pending = ""  # a change undone before the cloud applied it
            return
        target.pending = "register" if wanted else "deregister"
        delay = self.registration_seconds if wanted else self.deregistration_seconds
        gen = target.reg_gen
        timeout = self.env.timeout(max(0.0, delay))
        timeout.callbacks.append(lambda _e: self._registration_done(lb, target, gen))  # type: ignore[union-attr]

    def _registration_done(self, lb: CloudLoadBalancer, target: _Target, gen: int) -> None:
        if gen != target.reg_gen or self.balancers.get(lb.key) is not lb:
            return
        target.pending = ""
        target.registered = target.wanted
        target.health_gen += 1
        target.healthy = None
        lb._serving = None
        self.state.record_lb_target(lb.key, target.node, target.registered)
        if target.registered:
            self._schedule_verdict(lb, target)
        elif target.node not in self.state.nodes:
            del lb.targets[target.node]

    # --- health checks ---------------------------------------------------------------------------
    def _probe_passes(self, lb: CloudLoadBalancer, name: str) -> bool:
        node = self.state.nodes.get(name)
        if node is None or not node.up:
            return False
        if self.reachable is not None and not self.reachable(name):
            return False
        # The cloud probes what the API tells it to (the Service's policy); the node answers from its view.
        if lb.local:
            return self.proxy.service_health_check(lb.key, name)
        return self.proxy.healthz(name)

    def _update_ok(self, lb: CloudLoadBalancer, target: _Target) -> None:
        ok = self._probe_passes(lb, target.node)
        if ok == target.ok:
            return
        target.ok = ok
        if target.registered:
            self._schedule_verdict(lb, target)

    def _schedule_verdict(self, lb: CloudLoadBalancer, target: _Target) -> None:
        """Set the timer for the probe at which the verdict becomes ``target.ok`` (or cancel it)."""
        target.health_gen += 1
        if target.healthy is target.ok:
            return
        now = self.env.now
        interval = self.health_check_interval
        k = max(0, math.ceil((now - lb.first_check) / interval - _EPS))
        threshold = self.healthy_threshold if target.ok else self.unhealthy_threshold
        due = lb.first_check + (k + threshold - 1) * interval
        gen = target.health_gen
        timeout = self.env.timeout(max(0.0, due - now))
        timeout.callbacks.append(lambda _e: self._verdict(lb, target, gen))  # type: ignore[union-attr]

    def _verdict(self, lb: CloudLoadBalancer, target: _Target, gen: int) -> None:
        if gen != target.health_gen or not target.registered or self.balancers.get(lb.key) is not lb:
            return
        target.healthy = target.ok
        lb._serving = None
        self.state.record_lb_target_health(lb.key, target.node, target.ok)
