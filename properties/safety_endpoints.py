"""Safety of service routing: the node proxies stop sending traffic to pods that cannot take it.

``endpoints-ready-only`` judges what the proxies see (each ``EndpointsChanged`` is a set reaching
them) against what happened to each pod (``PodReadyChanged``, ``PodDeletionRequested``,
``PodDeleted``), allowing the propagation delay plus a grace for controller latency.

>>> from podquake.model import trace as ev
>>> from podquake.properties.monitor import check_trace
>>> events = [ev.PodCreated(0.0, "default/web-0", "", 100, 1 << 20),
...           ev.PodReadyChanged(5.0, "default/web-0", True),
...           ev.EndpointsChanged(6.0, "default/web", 1, 1, 0, 0, ("default/web-0",), 5.0),
...           ev.PodReadyChanged(20.0, "default/web-0", False),
...           ev.Annotation(30.0, "mark", "")]
>>> print(check_trace(events, [EndpointsReadyOnly()])[0].line())
FAILED endpoints-ready-only at t=22s: the proxies still routed service default/web to pod default/web-0 as a ready endpoint at t=22s, 2s after it stopped being ready at t=20s (allowed: delay 1s + grace 1s) [service/default/web, pod/default/web-0] since=20.0 deadline=22.0 version=1
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from podquake.model import trace as ev
from podquake.model.simulation import Timing
from podquake.properties.base import Property, RunInfo
from podquake.properties.ledger import Ledger
from podquake.properties.registry import register
from podquake.properties.verdict import Verdict

__all__ = ["EndpointsReadyOnly"]


@dataclass(slots=True)
class _Unfit:
    """Since when a pod (by key) has been unfit to be a ready endpoint, per cause (None: not now)."""

    not_ready_since: float | None = None
    terminating_since: float | None = None
    deleted_since: float | None = None

    def since(self, publish_not_ready: bool) -> float | None:
        """When the pod became unfit for a Service: deletion only, under ``publishNotReadyAddresses``
        (upstream lists its not-ready and terminating pods as ready); else the earliest cause in force."""
        if publish_not_ready:
            return self.deleted_since
        since = self.not_ready_since
        for t in (self.terminating_since, self.deleted_since):
            if t is not None and (since is None or t < since):
                since = t
        return since

    def cause(self, at: float) -> str:
        if self.deleted_since == at:
            return "was deleted"
        if self.terminating_since == at:
            return "started terminating"
        return "stopped being ready"


@register
class EndpointsReadyOnly(Property):
    """Once the propagation delay has passed, a Service's endpoints hold only ready pods.

    Precisely: a pod that stopped being Ready, started terminating (deletionTimestamp set) or was
    deleted at ``t0`` must not be among the ready endpoints the node proxies route by (the last
    ``EndpointsChanged`` of the Service) at any instant after ``t0 + delay + grace``. Both ways of
    breaking it are caught: a set published after that deadline that lists the pod, and a set
    published before it that is still in force when the deadline passes (deadlines are checked at
    every later pod or endpoints event and at the end of the run; the breach is dated at the
    deadline). A pod that was never Ready counts as unready since its creation; a pod deleted and
    created again under the same name (a StatefulSet's) stays unfit until the new one is Ready.

    ``delay`` is the endpoint propagation delay (``Timing.endpoint_propagation_seconds``, kube-proxy's
    minSyncPeriod of 1 s by default); ``grace`` absorbs the EndpointSlice controller's latency (raise it
    with ``Timing.controller_sync_seconds``). Services with ``publishNotReadyAddresses`` list not-ready
    and terminating pods as ready on purpose (upstream ``podToEndpoint``:
    ``ready = publishNotReadyAddresses || (serving && !terminating)``), so for them only deletion counts.

    Limitation: the trace names endpoints by pod key, so a pod re-created under the same name is not
    told apart from its predecessor.
    """

    id = "endpoints-ready-only"
    kind = "safety"
    description = "Once the propagation delay has passed, a service's endpoints hold only ready pods."
    catches = (
        "Traffic sent to dead, unready or terminating pods: an endpoints controller or proxy that misses "
        "readiness changes or deletions, so requests fail long after the pod went away."
    )
    params = {"delay": Timing().endpoint_propagation_seconds, "grace": 1.0}

    def __init__(self, **overrides: object) -> None:
        super().__init__(**overrides)
        self._pods: dict[str, _Unfit] = {}
        self._listed: dict[str, dict[str, float]] = {}  # service -> ready pod -> since when listed without a break
        self._services_of: dict[str, dict[str, None]] = {}  # pod -> services listing it as ready now
        self._publish_not_ready: dict[str, bool] = {}
        self._version: dict[str, int] = {}
        self._deadlines: list[tuple[float, str, str, float]] = []  # (deadline, service, pod, since)
        self._scheduled: set[tuple[str, str, float]] = set()
        self._reported: set[tuple[str, str, float]] = set()
        self._controller_down = False  # the EndpointSlice controller is down (a marked control-plane outage)
        self._resumed_at = 0.0  # when it last came back: obligations start no earlier

    def on_Annotation(self, event: ev.Annotation, ledger: Ledger) -> None:
        """A control-plane outage stops the EndpointSlice controller: nothing can update the endpoints
        while it is down, so the clock of every obligation restarts when it comes back."""
        if event.detail == "endpoints" and event.label in ("component-down", "component-up"):
            if event.label == "component-down":
                self._sweep(event.t)
                self._controller_down = True
            else:
                self._controller_down = False
                self._resumed_at = event.t
            return
        self._clock(event, ledger)

    def _start(self, since: float) -> float:
        """When the obligation for a pod unfit since ``since`` began: not while the controller was down."""
        return max(since, self._resumed_at)

    # --- pod events ----------------------------------------------------------------------------------
    def on_PodCreated(self, event: ev.PodCreated, ledger: Ledger) -> None:
        self._sweep(event.t)
        earlier = self._pods.get(event.pod)
        since = earlier.since(False) if earlier is not None else None
        self._pods[event.pod] = _Unfit(not_ready_since=event.t if since is None else since)
        self._watch(event.pod)

    def on_PodReadyChanged(self, event: ev.PodReadyChanged, ledger: Ledger) -> None:
        self._sweep(event.t)
        unfit = self._unfit(event.pod)
        if event.ready:
            unfit.not_ready_since = None
        elif unfit.not_ready_since is None:
            unfit.not_ready_since = event.t
            self._watch(event.pod)

    def on_PodDeletionRequested(self, event: ev.PodDeletionRequested, ledger: Ledger) -> None:
        self._sweep(event.t)
        unfit = self._unfit(event.pod)
        if unfit.terminating_since is None:
            unfit.terminating_since = event.t
            self._watch(event.pod)

    def on_PodDeleted(self, event: ev.PodDeleted, ledger: Ledger) -> None:
        self._sweep(event.t)
        unfit = self._unfit(event.pod)
        if unfit.deleted_since is None:
            unfit.deleted_since = event.t
            self._watch(event.pod)

    # --- what the proxies see ------------------------------------------------------------------------
    def on_EndpointsChanged(self, event: ev.EndpointsChanged, ledger: Ledger) -> None:
        self._sweep(event.t)
        service = event.service
        self._version[service] = event.version
        before = self._listed.get(service, {})
        same_pods = len(before) == len(event.ready_pods) and all(pod in before for pod in event.ready_pods)
        if same_pods and self._publish_not_ready.get(service) == event.publish_not_ready:
            return  # the same pods as before: their deadlines are set already
        now = {pod: before.get(pod, event.t) for pod in event.ready_pods}
        for pod in before:
            if pod not in now:
                listing = self._services_of.get(pod)
                if listing is not None:
                    listing.pop(service, None)
        for pod in now:
            self._services_of.setdefault(pod, {})[service] = None
        self._listed[service] = now
        self._publish_not_ready[service] = event.publish_not_ready
        allowed = self.delay + self.grace
        for pod in event.ready_pods:
            unfit = self._pods.get(pod)
            since = unfit.since(event.publish_not_ready) if unfit is not None else None
            if since is None:
                continue
            if event.t > self._start(since) + allowed and not self._controller_down:
                self._report(service, pod, since, event.t, f"published a set listing pod {pod} as ready at t={event.t:g}s")
            else:
                self._schedule(service, pod, since)

    def _clock(self, event: ev.Event, ledger: Ledger) -> None:
        """Every other event only moves the clock: judge the deadlines it passed."""
        if self._deadlines and self._deadlines[0][0] < event.t:
            self._sweep(event.t)

    def finish(self, ledger: Ledger, run: RunInfo) -> Verdict:
        self._sweep(run.end)
        return self.verdict_so_far()

    # --- deadlines -----------------------------------------------------------------------------------
    def _unfit(self, pod: str) -> _Unfit:
        unfit = self._pods.get(pod)
        if unfit is None:
            unfit = self._pods[pod] = _Unfit()
        return unfit

    def _watch(self, pod: str) -> None:
        """A cause started for ``pod``: set a deadline for every Service listing it as ready."""
        for service in self._services_of.get(pod, ()):
            unfit = self._pods[pod]
            since = unfit.since(self._publish_not_ready.get(service, False))
            if since is not None:
                self._schedule(service, pod, since)

    def _schedule(self, service: str, pod: str, since: float) -> None:
        key = (service, pod, since)
        if key in self._scheduled or key in self._reported:
            return
        self._scheduled.add(key)
        heapq.heappush(self._deadlines, (since + self.delay + self.grace, service, pod, since))

    def _sweep(self, now: float) -> None:
        """Judge every deadline that passed before ``now``: a breach if the pod is still listed by a
        set in force since before the deadline and is still unfit since the same instant."""
        if self._controller_down:
            return
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] < now:
            deadline, service, pod, since = heapq.heappop(deadlines)
            later = self._start(since) + self.delay + self.grace
            if later > deadline:  # the controller was down meanwhile: the clock restarted when it came back
                heapq.heappush(deadlines, (later, service, pod, since))
                continue
            self._scheduled.discard((service, pod, since))
            listed_since = self._listed.get(service, {}).get(pod)
            if listed_since is None or listed_since > deadline:
                continue
            unfit = self._pods.get(pod)
            if unfit is None or unfit.since(self._publish_not_ready.get(service, False)) != since:
                continue
            self._report(service, pod, since, deadline, "still routed")

    def _report(self, service: str, pod: str, since: float, at: float, how: str) -> None:
        key = (service, pod, since)
        if key in self._reported:
            return
        self._reported.add(key)
        cause = self._pods[pod].cause(since)
        if how == "still routed":
            what = f"the proxies still routed service {service} to pod {pod} as a ready endpoint at t={at:g}s"
        else:
            what = f"service {service}'s endpoints controller {how}"
        start = self._start(since)
        resumed = f" and the endpoints controller came back at t={start:g}s" if start > since else ""
        self.violate(
            f"{what}, {at - since:g}s after it {cause} at t={since:g}s{resumed} (allowed: delay {self.delay:g}s + grace {self.grace:g}s)",
            at,
            objects=(f"service/{service}", f"pod/{pod}"),
            numbers={"since": since, "deadline": since + self.delay + self.grace, "version": self._version.get(service, 0)},
        )


# Deadlines are judged at every later event, whatever its type: the monitor calls ``on_<Type>``.
for _name in ev.EVENT_TYPES:
    if not hasattr(EndpointsReadyOnly, f"on_{_name}"):
        setattr(EndpointsReadyOnly, f"on_{_name}", EndpointsReadyOnly._clock)
