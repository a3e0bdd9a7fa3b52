"""Bounded liveness of what serves traffic: the autoscaler settles, services succeed again.

Both judge the quiet interval after the last heal (see :mod:`podquake.properties.liveness`);
``autoscaler-converges`` also watches the whole run for oscillation, a bound a stabilized HPA keeps
whatever its input does.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.load_common import QUEUE_FULL
from podquake.model.proxy import NO_ENDPOINTS
from podquake.properties.base import RunInfo
from podquake.properties.capacity import describe_free, fits, free
from podquake.properties.ledger import Ledger
from podquake.properties.liveness import BoundedLiveness, join
from podquake.properties.liveness_pods import verdict_with
from podquake.properties.registry import register
from podquake.properties.verdict import Verdict, Violation

__all__ = ["AutoscalerConverges", "ServiceRecovers"]


@dataclass(slots=True)
class _HPA:
    """What autoscaler-converges keeps per HPA."""

    target: str  # the target's ledger key, Kind/namespace/name
    recommended: int | None = None
    recommended_at: float = 0.0
    decided: int | None = None  # the last HorizontalPodAutoscalerScaled.to_replicas
    direction: int = 0  # of the last rescale: +1 up, -1 down
    turns: deque[float] = field(default_factory=deque)  # times of the direction changes within the window
    settled_since: float | None = None  # since when the target has had the count the HPA heads for


@register
class AutoscalerConverges(BoundedLiveness):
    """Each HorizontalPodAutoscaler reaches its recommendation and does not oscillate.

    Oscillation, over the whole run: a direction change is a rescale the other way from the HPA's
    previous rescale (up then down, or down then up); more than ``max_direction_changes`` of them in
    any ``window`` s is a breach. The defaults (2 per 300 s) are what a stabilized HPA can never
    exceed: after a scale-up, a scale-down waits until every recommendation of the last 300 s is lower
    (the downscale stabilization window, kubernetes/kubernetes:pkg/controller/podautoscaler/horizontal.go),
    so up-down-up-down takes more than 300 s. An HPA whose ``behavior`` removes the stabilization
    window can thrash, and this reports it.

    Convergence, after the heal: the target's ``replicas`` must equal what the HPA heads for (its last
    :class:`~podquake.model.trace.HorizontalPodAutoscalerRecommended`: the metrics' proposal within
    min and max) from ``within`` s after the heal or after the recommendation last changed, whichever
    is later, to the end; the default 420 s covers the 300 s stabilization window, rate limits and a
    few 15 s syncs. On a trace without recommendations the HPA's last decision stands in for it. An HPA
    whose recommendation kept changing until less than ``within`` s before the end is not judged (the
    verdict's note names it).
    """

    id = "autoscaler-converges"
    description = "Each HPA reaches its recommendation within T after the heal and never oscillates."
    catches = (
        "An HPA that thrashes (no stabilization, a metric that feeds back on the replica count), one stuck "
        "above its recommendation (a broken scale-down), or another actor fighting it over the replica count."
    )
    params: ClassVar[Mapping[str, Any]] = {
        "within": float(k8s.HPA_DOWNSCALE_STABILIZATION_SECONDS + 120),
        "window": float(k8s.HPA_DOWNSCALE_STABILIZATION_SECONDS),
        "max_direction_changes": 2,
    }

    def __init__(self, **overrides: object) -> None:
        super().__init__(**overrides)
        self._hpas: dict[str, _HPA] = {}

    # --- events ------------------------------------------------------------------------------------
    def _hpa(self, hpa: str, target: str) -> _HPA:
        record = self._hpas.get(hpa)
        if record is None:
            kind, _, name = target.partition("/")
            namespace = hpa.partition("/")[0]
            record = self._hpas[hpa] = _HPA(f"{kind}/{namespace}/{name}")
        return record

    def on_HorizontalPodAutoscalerRecommended(self, event: ev.HorizontalPodAutoscalerRecommended, ledger: Ledger) -> None:
        record = self._hpa(event.hpa, event.target)
        record.recommended, record.recommended_at = event.replicas, event.t
        self._settle(record, event.t, ledger)

    def on_HorizontalPodAutoscalerScaled(self, event: ev.HorizontalPodAutoscalerScaled, ledger: Ledger) -> None:
        record = self._hpa(event.hpa, event.target)
        record.decided = event.to_replicas
        if record.recommended is None:
            record.recommended_at = event.t
        direction = 1 if event.to_replicas > event.from_replicas else -1
        if record.direction and direction != record.direction:
            turns = record.turns
            turns.append(event.t)
            while turns and turns[0] <= event.t - self.window:
                turns.popleft()
            if len(turns) > self.max_direction_changes:
                self.violate(
                    f"HPA {event.hpa} changed direction {len(turns)} times in {self.window:g} s "
                    f"(at t={', '.join(f'{t:g}' for t in turns)}s); last {event.from_replicas} -> {event.to_replicas}",
                    event.t,
                    objects=(f"hpa/{event.hpa}", record.target),
                    numbers={"direction_changes": len(turns), "window": self.window, "allowed": self.max_direction_changes},
                )
        record.direction = direction
        self._settle(record, event.t, ledger)

    def on_WorkloadScaled(self, event: ev.WorkloadScaled, ledger: Ledger) -> None:
        key = f"{event.kind}/{event.workload}"
        for record in self._hpas.values():
            if record.target == key:
                self._settle(record, event.t, ledger)

    def _heading(self, record: _HPA) -> int | None:
        return record.recommended if record.recommended is not None else record.decided

    def _settle(self, record: _HPA, t: float, ledger: Ledger) -> None:
        workload = ledger.workloads.get(record.target)
        settled = workload is not None and workload.replicas == self._heading(record)
        if not settled:
            record.settled_since = None
        elif record.settled_since is None:
            record.settled_since = t

    # --- the verdict -------------------------------------------------------------------------------
    def finish(self, ledger: Ledger, run: RunInfo) -> Verdict:
        if self.first is not None:
            return self.verdict_so_far()
        unknown = self.too_short(run)
        if unknown is not None:
            return unknown
        breaches, skipped = [], []
        for name in sorted(self._hpas):
            record = self._hpas[name]
            deadline = max(run.quiet_from, record.recommended_at) + self.within
            if deadline > run.end:
                skipped.append(f"{name} (recommendation changed at t={record.recommended_at:g}s)")
                continue
            if record.settled_since is not None and record.settled_since <= deadline:
                continue
            workload = ledger.workloads.get(record.target)
            replicas = workload.replicas if workload is not None else 0
            heading = self._heading(record)
            what = "recommendation" if record.recommended is not None else "last decision"
            since = f"only from t={record.settled_since:g}s" if record.settled_since is not None else "not at the end"
            breaches.append(Violation(
                f"HPA {name} heads for {heading} replicas (its {what}, since t={record.recommended_at:g}s) but its "
                f"target {record.target} had them {since}; it has {replicas}",
                deadline,
                (f"hpa/{name}", record.target),
                {"heading": heading or 0, "replicas": replicas, "deadline": deadline},
            ))
        note = "not judged: " + ", ".join(skipped) if skipped else ""
        if breaches:
            verdict = verdict_with(self, breaches)
            return Verdict.failed(self.id, verdict.message, time=verdict.time, objects=verdict.objects,
                                  numbers=verdict.numbers, violations=verdict.violations, note=note)
        if skipped and len(skipped) == len(self._hpas):
            return Verdict.unknown(self.id, "no HPA kept its recommendation for T before the end", note=note)
        if not self._hpas:
            return Verdict.passed(self.id, "no HPA scaled anything in this run")
        return Verdict.passed(self.id, f"{len(self._hpas) - len(skipped)} HPA(s) converged", note=note)


def _since(start: float, healed: float) -> str:
    """What a Service's bound counts from: the heal, or a restart a CrashLoopBackOff held back."""
    if start > healed:
        return f"its pod's restart at t={start:g}s, held back by CrashLoopBackOff past the heal at t={healed:g}s"
    return f"the heal at t={healed:g}s"


#: The failures that replicas missing for want of room explain: none ready, or too few for the load.
_SHORT_OF_REPLICAS = frozenset({NO_ENDPOINTS, QUEUE_FULL})


def _without_room(ledger: Ledger, service: str, reasons: Mapping[str, float]) -> str | None:
    """Why ``service`` fell short for want of room, or None when that does not explain it: some pod it
    selects is pending at the end, none of those fits on any node, every one bound is Ready, and every
    failure (``reasons``) is one that missing replicas cause (see :class:`ServiceRecovers`)."""
    if not reasons or not set(reasons) <= _SHORT_OF_REPLICAS:
        return None
    pods = [pod for pod in ledger.pods_selected(service) if not pod.terminating]
    pending = [pod for pod in pods if pod.node is None]
    if not pending or not all(pod.ready for pod in pods if pod.node is not None):
        return None  # nothing missing, or a pod the cluster runs is not serving: not a matter of room
    nodes = list(ledger.nodes.values())
    for pod in pending:
        if any(fits(ledger.spec(pod), pod, node) for node in nodes):
            return None
    pod = pending[0]
    best = max(nodes, key=lambda node: free(node)[0], default=None)
    room = f"; the most free CPU: {describe_free(best)}" if best is not None else "; no node"
    if len(pending) == len(pods):
        short = f"had no endpoint: its {len(pods)} pod(s) fit on no node"
    else:
        short = f"ran {len(pods) - len(pending)} of its {len(pods)} pods: the other {len(pending)} fit on no node"
    return (f"service {service} {short} (pod {pod.key} requests {pod.cpu}m CPU and {pod.memory} bytes of "
            f"memory{room})")


@register
class ServiceRecovers(BoundedLiveness):
    """Each Service's success rate is back at or above ``slo`` within ``within`` s of the heal, and stays.

    Read from :class:`~podquake.model.trace.TrafficWindow` events (one per Service per load window):
    the success rate of a stretch of windows is ``1 - failed / offered``. Every window that starts at
    or after ``quiet_from + within`` is judged; consecutive windows are pooled until they hold at least
    ``min_requests`` offered requests, so that a quiet Service is not failed on three requests (in the
    request mode, one failure in ten is noise, not an outage). Requests still queued are neither
    successes nor failures. A Service without traffic in the judged interval is not judged (the note
    says so).

    A Service short of replicas for want of room is a capacity finding, not a failure to recover: when
    some pods it selects are pending at the end, none of them fits on any node (the healed cluster
    lacked room, as ``replicas-converge`` and ``pending-pods-scheduled`` judge it), the others are
    Ready, and its failures are those missing replicas cause (no endpoint at all, or queues full on the ones it has), it
    passes with a note that says so. Room is judged per pod as those do
    (:func:`~podquake.properties.capacity.fits`), topology spread aside: a pod kept pending only by its
    spread constraints still fails the Service.

    A Service whose pod waits out a CrashLoopBackOff at the heal is judged from that pod's restart:
    the kubelet restarts a crashed container only when its back-off (10 s doubling to 300 s,
    pkg/kubelet/kuberuntime) has run, so a crash loop that stops at the heal keeps a one-replica
    Service down for up to 5 minutes after it, whatever the scheduler or the proxies do. Its bound is
    ``within`` s after the latest such restart instead (``crashed-containers-restarted`` judges that
    the restart happens).
    """

    id = "service-recovers"
    description = "Each Service's success rate is back above its SLO within T after the heal and stays there."
    catches = (
        "A service that stays broken after the cluster healed: endpoints never re-added, a proxy still "
        "routing to dead pods, a load balancer that never re-registers a node that came back."
    )
    params: ClassVar[Mapping[str, Any]] = {"within": 120.0, "slo": 0.99, "min_requests": 50.0}

    def __init__(self, **overrides: object) -> None:
        super().__init__(**overrides)
        self._windows: dict[str, list[tuple[float, float, float, float, tuple[tuple[str, float], ...]]]] = {}
        self._restart_due: dict[str, float] = {}  # pod key -> when its latest CrashLoopBackOff ends

    def on_TrafficWindow(self, event: ev.TrafficWindow, ledger: Ledger) -> None:
        self._windows.setdefault(event.service, []).append((event.start, event.t, event.offered, event.failed, event.failures))

    def on_ContainerWaiting(self, event: ev.ContainerWaiting, ledger: Ledger) -> None:
        if event.backoff > 0:
            due = event.t + event.backoff
            if due > self._restart_due.get(event.pod, 0.0):
                self._restart_due[event.pod] = due

    def _deadline(self, service: str, ledger: Ledger, healed: float) -> float:
        """``within`` s after the heal, or after the last restart a CrashLoopBackOff of a pod the Service
        selects holds back past the heal."""
        start = healed
        if self._restart_due:
            for pod in ledger.pods_selected(service):
                start = max(start, self._restart_due.get(pod.key, 0.0))
        return start + self.within

    def finish(self, ledger: Ledger, run: RunInfo) -> Verdict:
        unknown = self.too_short(run)
        if unknown is not None:
            return unknown
        breaches, quiet, judged, lacking = [], [], 0, []
        for service in sorted(self._windows):
            deadline = self._deadline(service, ledger, run.quiet_from)
            pools = self._pools(service, deadline, run.end)
            if not pools:
                quiet.append(service)
                continue
            judged += 1
            excused = None  # why the pools below the SLO so far fell short for want of room
            for start, end, offered, failed, reasons in pools:
                rate = 1.0 - failed / offered
                if rate >= self.slo:
                    continue
                why = _without_room(ledger, service, reasons)
                if why is not None:
                    excused = why
                    continue
                top = ", ".join(f"{reason} {count:g}" for reason, count in sorted(reasons.items(), key=lambda r: -r[1])[:3])
                breaches.append(Violation(
                    f"service {service} succeeded on {rate:.2%} of {offered:g} requests in [{start:g}, {end:g}) s, "
                    f"below the SLO {self.slo:.2%} ({self.within:g} s after {_since(deadline - self.within, run.quiet_from)}); failures: {top}",
                    end,
                    (f"service/{service}",),
                    {"success_rate": round(rate, 6), "slo": self.slo, "offered": round(offered, 3), "failed": round(failed, 3)},
                ))
                break  # the first breach per Service is its evidence
            else:
                if excused is not None:
                    lacking.append(excused)
        notes = [f"the healed cluster lacked room: {why}" for why in lacking]
        note = join(notes + ([f"no traffic to judge after t={run.quiet_from + self.within:g}s for: " + ", ".join(quiet)] if quiet else []))
        if not judged and not breaches:
            return Verdict.passed(self.id, "no Service had traffic to judge", note=note)
        if breaches:
            verdict = verdict_with(self, sorted(breaches, key=lambda v: (v.time or 0.0, v.message)))
            return Verdict.failed(self.id, verdict.message, time=verdict.time, objects=verdict.objects,
                                  numbers=verdict.numbers, violations=verdict.violations, note=note)
        if lacking:
            return Verdict.passed(self.id, f"{judged - len(lacking)} service(s) at or above the SLO; {len(lacking)} without room "
                                  "for their pods", numbers={"services": judged, "without_room": len(lacking)}, note=note)
        return Verdict.passed(self.id, f"{judged} service(s) at or above the SLO", numbers={"services": judged}, note=note)

    def _pools(self, service: str, deadline: float, end: float) -> list[tuple[float, float, float, float, dict[str, float]]]:
        """The windows of ``service`` in ``[deadline, end]``, pooled to at least ``min_requests`` offered
        each; what is left at the end joins the last pool (none: the Service had too little traffic)."""
        pools: list[tuple[float, float, float, float, dict[str, float]]] = []
        start, stop, offered, failed, reasons = 0.0, 0.0, 0.0, 0.0, {}  # the pool being filled
        for window_start, t, window_offered, window_failed, failures in self._windows[service]:
            if window_start < deadline - 1e-9 or t > end + 1e-9:
                continue
            if not offered:
                start = window_start
            stop, offered, failed = t, offered + window_offered, failed + window_failed
            for reason, count in failures:
                reasons[reason] = reasons.get(reason, 0.0) + count
            if offered >= self.min_requests:
                pools.append((start, stop, offered, failed, reasons))
                offered, failed, reasons = 0.0, 0.0, {}
        if offered and pools:
            last = pools.pop()
            merged = dict(last[4])
            for reason, count in reasons.items():
                merged[reason] = merged.get(reason, 0.0) + count
            pools.append((last[0], stop, last[2] + offered, last[3] + failed, merged))
        return pools
