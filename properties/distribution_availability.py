"""``availability-slo``: a replicated Service survives any single node failure and meets its SLO.

Running two or more replicas is how a Kubernetes user buys availability: when one node fails, the
replicas elsewhere keep serving while the control plane notices (the node lifecycle controller marks
the node's pods not ready after ``node-monitor-grace-period``, 50 s since v1.32, checked every 5 s;
kubernetes/kubernetes:pkg/controller/nodelifecycle) and replaces them. Two things break that
promise, and this property judges both from the trace:

**1. A total outage from a single node failure.** A Service whose ready endpoints drop to zero while
exactly one node is failed (powered off, or not Ready), when, just before that node failed, the
Service had at least two ready endpoints, *all* on that node, the workloads behind it desire at
least two replicas, and some other healthy node had room for a replica. All its replicas shared one
failure domain although they need not have: a scheduler that packs, or a spread that was never
asked for. The evidence names the node, when it failed, the endpoints it held and the room elsewhere.
A node failure while another fault is in force is no single failure (two drains that left one
schedulable node, then that node's failure): not judged, as the success rate's windows are not.

**2. The success rate below ``slo``.** Over the run, per Service, ``served / (served + failed)``
from the :class:`~podquake.model.trace.TrafficWindow` events, counting only the windows in which
the promise applies:

- the Service has had two or more ready endpoints, and its cloud load balancer (if it has one) a
  healthy target (before that, it is starting up), and its workloads desire two or more replicas;
- no more than one node is failed, and no more than one fault is in force (the property is about
  single failures: a crash loop or a killed replica on top of a node failure is two at once; the
  nemesis's ``fault-started`` and ``fault-healed`` marks say which are in force), nor ``grace``
  seconds after either ends;
- the healthy nodes have room for the desired replicas (those missing from healthy nodes fit in
  the healthy nodes' free CPU, memory and pod slots, :mod:`podquake.properties.capacity`); else the
  faults did not leave capacity, and the window is not the Service's to answer for;
- the window does not overlap the first ``grace`` seconds after a fault began or a node failed
  (default 65 s: the 50 s grace period, a 5 s monitor period and 10 s for the endpoints to reach the
  proxies and the probes to notice): requests sent to a dead pod until Kubernetes notices are the
  price of its design, not a fault of the run;
- nor a network partition or a traffic spike, nor ``grace`` seconds after either ends (a partition
  the cluster cannot heal, a spike beyond the capacity the Service was given: the autoscaler's and
  service-recovers' business).

Failed requests whose client is gone (``no-client``) or whose entry node is down (``node-down``)
are left out: the client or its way in died, not the Service. Everything else counts, from
``endpoint-dead`` to ``no-endpoints``, ``queue-full`` and the load balancer's failures.

**Statistical.** In request mode (whole-number counts) a Service fails the SLO only when its
failures are significantly more than ``(1 - slo)`` of its requests: the exact binomial upper tail
``P(X >= failed)`` under Binomial(n, 1 - slo) is below ``alpha``, Šidák-corrected over the Services
judged. So a Service whose requests each fail independently with probability at most ``1 - slo``
fails the check in at most ``alpha`` (1 %) of runs. In fluid mode the rate is deterministic and is
compared directly. A Service with fewer than ``min_requests`` counted requests is not judged.

>>> from podquake.model import trace as ev
>>> from podquake.properties.monitor import check_trace
>>> events = [ev.NodeAdded(0.0, n, "zone-a", 4000, 8 << 30, 110) for n in ("w1", "w2")]
>>> events.append(ev.WorkloadCreated(0.0, "Deployment", "default/web", 2))
>>> for i in range(2):
...     events += [ev.PodCreated(1.0, f"default/web-{i}", "Deployment/default/web", 500, 1 << 20),
...                ev.PodBound(1.0, f"default/web-{i}", "w1")]
>>> events += [ev.EndpointsChanged(5.0, "default/web", 1, 2, 0, 0, ("default/web-0", "default/web-1")),
...            ev.NodePowerChanged(60.0, "w1", False), ev.EndpointsChanged(111.0, "default/web", 2, 0, 0, 2, ())]
>>> print(check_trace(events, [AvailabilitySlo()])[0].line())
FAILED availability-slo at t=111s: service default/web lost every ready endpoint at t=111s: node w1 failed at t=60s holding all 2 of its ready endpoints, with 2 replicas desired and room for 8 more on the other healthy nodes [service/default/web, node/w1, pod/default/web-0, pod/default/web-1] node_failed_at=60.0 ready_before=2 desired=2 room_elsewhere=8
"""

from __future__ import annotations

from dataclasses import dataclass, field

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.errors import InputError
from podquake.model.load_common import NO_CLIENT
from podquake.model.proxy import NODE_DOWN
from podquake.properties import stats
from podquake.properties.base import Property, RunInfo
from podquake.properties.capacity import admits, slots
from podquake.properties.ledger import Ledger, LedgerNode, LedgerPod
from podquake.properties.registry import register
from podquake.properties.verdict import Verdict, Violation

__all__ = ["AvailabilitySlo"]

_NOT_THE_SERVICE = (NODE_DOWN, NO_CLIENT)
"""Failures that say the client or its entry node died, not the Service: left out of the success rate."""
_GRACE = k8s.NODE_MONITOR_GRACE_PERIOD_SECONDS + k8s.NODE_MONITOR_PERIOD_SECONDS + 10.0


@dataclass(slots=True)
class _Service:
    """What the property follows of one Service."""

    ready: tuple[tuple[str, str], ...] = ()  # (pod, node) of its ready endpoints, as last published
    covered_from: float | None = None  # when it first had two or more ready endpoints
    workloads: dict[str, LedgerPod] = field(default_factory=dict)  # workload key -> one of its pods
    served: float = 0.0
    failed: float = 0.0
    windows: int = 0
    whole: bool = True
    reasons: dict[str, float] = field(default_factory=dict)
    worst: tuple[float, float, float] | None = None  # (success rate, window end, requests) of the worst window
    left_out: dict[str, int] = field(default_factory=dict)  # why windows were not counted


@register
class AvailabilitySlo(Property):
    """No single node failure takes a replicated Service fully down, and its success rate meets the SLO.

    See the module docstring for both checks, which windows count, and the false-positive rate (a
    Service failing each request independently with probability at most ``1 - slo`` fails the SLO
    check in at most ``alpha`` of request-mode runs). Parameters: ``slo`` (0.99), ``alpha`` (0.01),
    ``grace`` (65 s), ``min_requests`` (100).

    Kind: statistical, since its main judgement is a rate over the run with a sample-size-aware test;
    the outage check is exact (an outage is a breach whatever the sample).
    """

    id = "availability-slo"
    kind = "statistical"
    description = (
        "A Service with two or more replicas survives any single node failure (never zero ready endpoints) "
        "and keeps its success rate above the SLO."
    )
    catches = (
        "Replicas that share one failure domain (a packing scheduler, no spread constraints), so one node failure "
        "is a total outage; and traffic still failing long after Kubernetes should have routed around a failure."
    )
    params = {"slo": 0.99, "alpha": 0.01, "grace": _GRACE, "min_requests": 100}

    def __init__(self, **overrides: object) -> None:
        super().__init__(**overrides)
        for name in ("slo", "alpha"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise InputError(f"parameter {name!r} of property 'availability-slo' must be in (0, 1), not {getattr(self, name)!r}",
                                 field=name, fix="give a fraction such as 0.99 (slo) or 0.01 (alpha)")  # fmt: skip
        self._services: dict[str, _Service] = {}
        self._failed_nodes: dict[str, float] = {}  # node -> since when it is failed
        self._failed_alone: dict[str, bool] = {}  # node -> whether no other fault was in force when it failed
        self._before_failure: dict[str, dict[str, tuple[tuple[str, str], ...]]] = {}  # node -> service -> ready (pod, node)
        self._excused: list[tuple[float, float, str]] = []  # (from, until, why)
        self._open: dict[str, float] = {}  # an excuse still running (a partition, 2+ nodes failed, 2+ faults), by name
        self._balancers: dict[str, float | None] = {}  # service -> when its load balancer first had a healthy target

    # --- faults ----------------------------------------------------------------------------------------
    def on_Annotation(self, event: ev.Annotation, ledger: Ledger) -> None:
        if event.label == "fault-started":
            self._excuse(event.t, event.t + self.grace, "the detection grace after a fault")
        several = ledger.faults_in_force >= 2  # the ledger has folded this mark in already
        if several and "faults" not in self._open:
            self._open["faults"] = event.t
        elif not several and "faults" in self._open:
            self._close("faults", event.t, "two or more faults at once")

    def on_NetworkPartitioned(self, event: ev.NetworkPartitioned, ledger: Ledger) -> None:
        self._open[f"partition {event.partition}"] = event.t

    def on_NetworkHealed(self, event: ev.NetworkHealed, ledger: Ledger) -> None:
        self._close(f"partition {event.partition}", event.t, "a network partition")

    def on_TrafficSpike(self, event: ev.TrafficSpike, ledger: Ledger) -> None:
        self._excuse(event.start, event.start + event.duration + self.grace, "a traffic spike")

    def _node_changed(self, event: ev.NodePowerChanged | ev.NodeReadyChanged, ledger: Ledger) -> None:
        node = ledger.nodes.get(event.node)
        failed = node is not None and (not node.up or node.ready != "True")
        if failed and event.node not in self._failed_nodes:
            self._failed_nodes[event.node] = event.t
            self._failed_alone[event.node] = ledger.faults_in_force <= 1  # the node's own fault, if any
            self._before_failure[event.node] = {key: s.ready for key, s in self._services.items()}
            self._excuse(event.t, event.t + self.grace, "the detection grace after a node failure")
        elif not failed and event.node in self._failed_nodes:
            del self._failed_nodes[event.node]
        several = len(self._failed_nodes) >= 2
        if several and "nodes" not in self._open:
            self._open["nodes"] = event.t
        elif not several and "nodes" in self._open:
            self._close("nodes", event.t, "two or more nodes failed at once")

    on_NodePowerChanged = on_NodeReadyChanged = _node_changed

    def on_NodeRemoved(self, event: ev.NodeRemoved, ledger: Ledger) -> None:
        self._failed_nodes.pop(event.node, None)

    def _excuse(self, start: float, until: float, why: str) -> None:
        self._excused.append((start, until, why))

    def _close(self, name: str, t: float, why: str) -> None:
        start = self._open.pop(name, None)
        if start is not None:
            self._excuse(start, t + self.grace, why)

    def on_LoadBalancerChanged(self, event: ev.LoadBalancerChanged, ledger: Ledger) -> None:
        if event.state == "created":
            self._balancers.setdefault(event.service, None)
        else:
            self._balancers.pop(event.service, None)

    def on_LoadBalancerTargetHealth(self, event: ev.LoadBalancerTargetHealth, ledger: Ledger) -> None:
        if event.healthy and event.service in self._balancers and self._balancers[event.service] is None:
            self._balancers[event.service] = event.t

    # --- endpoints: outages ------------------------------------------------------------------------------
    def on_EndpointsChanged(self, event: ev.EndpointsChanged, ledger: Ledger) -> None:
        service = self._services.setdefault(event.service, _Service())
        before = service.ready
        ready = []
        for key in event.ready_pods:
            pod = ledger.pods.get(key)
            ready.append((key, pod.node if pod is not None and pod.node else ""))
            workload = ledger.workload_of(pod) if pod is not None else ""
            if workload:
                service.workloads[workload] = pod  # type: ignore[assignment]
        service.ready = tuple(ready)
        if len(ready) >= 2 and service.covered_from is None:
            service.covered_from = event.t
        if not event.ready_pods and before:
            self._check_outage(event, service, ledger)

    def _check_outage(self, event: ev.EndpointsChanged, service: _Service, ledger: Ledger) -> None:
        if len(self._failed_nodes) != 1:
            return
        ((node, since),) = self._failed_nodes.items()
        if not self._failed_alone.get(node, True):
            return
        held = self._before_failure.get(node, {}).get(event.service, ())
        if len(held) < 2 or any(where != node for _, where in held):
            return
        desired = self._desired(service, ledger)
        if desired < 2:
            return
        room = self._room(service, ledger, exclude=node)
        if room < 1:
            return
        self.violate(
            f"service {event.service} lost every ready endpoint at t={event.t:g}s: node {node} failed at t={since:g}s "
            f"holding all {len(held)} of its ready endpoints, with {desired} replicas desired and room for {room} "
            f"more on the other healthy nodes",
            event.t,
            objects=(f"service/{event.service}", f"node/{node}") + tuple(f"pod/{pod}" for pod, _ in held),
            numbers={"node_failed_at": since, "ready_before": len(held), "desired": desired, "room_elsewhere": room},
        )

    # --- windows: the success rate ----------------------------------------------------------------------
    def on_TrafficWindow(self, event: ev.TrafficWindow, ledger: Ledger) -> None:
        service = self._services.setdefault(event.service, _Service())
        why = self._left_out(event, service, ledger)
        if why:
            service.left_out[why] = service.left_out.get(why, 0) + 1
            return
        served = event.served
        failed = event.failed - sum(count for reason, count in event.failures if reason in _NOT_THE_SERVICE)
        service.served += served
        service.failed += failed
        service.windows += 1
        if served != int(served) or failed != int(failed):
            service.whole = False
        for reason, count in event.failures:
            if reason in _NOT_THE_SERVICE:
                continue
            service.reasons[reason] = service.reasons.get(reason, 0.0) + count
        done = served + failed
        if done > 0:
            rate = served / done
            if service.worst is None or rate < service.worst[0]:
                service.worst = (rate, event.t, done)

    def _left_out(self, event: ev.TrafficWindow, service: _Service, ledger: Ledger) -> str:
        if service.covered_from is None or service.covered_from >= event.start:
            return "before two endpoints were ready"
        if event.service in self._balancers and (self._balancers[event.service] or event.t) >= event.start:
            return "before its load balancer had a healthy target"
        if self._desired(service, ledger) < 2:
            return "fewer than two replicas desired"
        if len(self._failed_nodes) >= 2 or "nodes" in self._open:
            return "two or more nodes failed"
        for start, until, why in self._excused:
            if start < event.t and until > event.start:
                return why
        for name, start in self._open.items():
            if start < event.t:
                return "a network partition" if name.startswith("partition") else _OPEN_REASONS.get(name, name)
        missing = self._desired(service, ledger) - self._on_healthy(service, ledger)
        if missing > 0 and self._room(service, ledger) < missing:
            return "the healthy nodes lacked room for the replicas"
        return ""

    def _desired(self, service: _Service, ledger: Ledger) -> int:
        return sum(ledger.workloads[w].replicas for w in service.workloads if w in ledger.workloads)

    def _on_healthy(self, service: _Service, ledger: Ledger) -> int:
        count = 0
        failed = self._failed_nodes
        for workload in service.workloads:
            for pod in ledger.pods_of(workload):
                if pod.node and not pod.terminating and pod.node not in failed:
                    count += 1
        return count

    def _room(self, service: _Service, ledger: Ledger, exclude: str = "") -> int:
        """Replicas (of the first workload behind the Service) the healthy nodes have room for."""
        if not service.workloads:
            return 0
        pod = service.workloads[min(service.workloads)]
        spec = ledger.spec(pod)
        return sum(slots(node, pod.cpu, pod.memory) for node in _healthy(ledger, exclude) if admits(spec, node))

    # --- the verdict -----------------------------------------------------------------------------------
    def finish(self, ledger: Ledger, run: RunInfo) -> Verdict:
        judged = {key: s for key, s in self._services.items() if s.served + s.failed >= self.min_requests}
        request = [s for s in judged.values() if s.whole]
        level = stats.sidak(self.alpha, len(request)) if request else self.alpha
        breaches = [b for b in (self._slo_breach(key, judged[key], level) for key in sorted(judged)) if b is not None]
        note = self._note()
        if self.first is not None or breaches:
            first = self.first if self.first is not None else breaches[0]
            return Verdict.failed(self.id, first.message, time=first.time, objects=first.objects, numbers=first.numbers,
                                  violations=self.count + len(breaches), note=note)  # fmt: skip
        if not judged:
            return Verdict.passed(self.id, "no single node failure took a replicated Service down; no Service had enough "
                                  "counted traffic to judge its success rate", note=note)  # fmt: skip
        key, lowest = min(((k, s.served / (s.served + s.failed)) for k, s in judged.items()), key=lambda kr: (kr[1], kr[0]))
        return Verdict.passed(
            self.id,
            f"no single node failure took a replicated Service down; {len(judged)} Services at or above the "
            f"{self.slo:.2%} SLO (lowest: {key} at {lowest:.3%})",
            numbers={"services": len(judged), "lowest_success_rate": round(lowest, 6)},
            note=note,
        )

    def _slo_breach(self, key: str, service: _Service, level: float) -> Violation | None:
        """The SLO breach of one Service, or None when its success rate is within the SLO (or not
        significantly below it, in request mode)."""
        n = service.served + service.failed
        rate = service.served / n
        if rate >= self.slo:
            return None
        p = None
        if service.whole:
            p = stats.binomial_sf(round(service.failed), round(n), 1.0 - self.slo)
            if p >= level:
                return None
        reasons = ", ".join(f"{r} {c:g}" for r, c in sorted(service.reasons.items(), key=lambda rc: (-rc[1], rc[0])))
        nodes = sorted(self._before_failure)
        message = (
            f"service {key} served {rate:.3%} of {n:g} requests in {service.windows} counted windows, below the "
            f"{self.slo:.2%} SLO ({service.failed:g} failed: {reasons or 'no reason recorded'})"
        )
        if p is not None:
            message += f"; binomial P(X >= {service.failed:g} | p={1 - self.slo:.3g}) = {p:.2g} < {level:.2g}"
        if nodes:
            message += f"; node failures in the run: {', '.join(nodes)}"
        numbers: dict[str, float | int | str] = {"success_rate": round(rate, 6), "requests": round(n, 3), "failed": round(service.failed, 3)}
        time = None
        if service.worst is not None:
            numbers["worst_window_rate"] = round(service.worst[0], 6)
            time = service.worst[1]
        if p is not None:
            numbers["p_value"] = float(f"{p:.3g}")
        return Violation(message, time, (f"service/{key}",) + tuple(f"node/{n}" for n in nodes), numbers)

    def _note(self) -> str:
        parts = []
        for key in sorted(self._services):
            left = self._services[key].left_out
            if left:
                parts.append(f"{key}: " + ", ".join(f"{n} window{'' if n == 1 else 's'} left out ({why})" for why, n in sorted(left.items())))
        return "; ".join(parts)


_OPEN_REASONS = {"faults": "two or more faults at once", "nodes": "two or more nodes failed at once"}


def _healthy(ledger: Ledger, exclude: str = "") -> list[LedgerNode]:
    """Nodes up, Ready and not ``exclude``, by name."""
    return [n for _, n in sorted(ledger.nodes.items()) if n.name != exclude and n.up and n.ready == "True"]
