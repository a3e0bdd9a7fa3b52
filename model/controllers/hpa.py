"""The HorizontalPodAutoscaler controller: more replicas when a metric runs hot, fewer when it cools.

A transcription of kubernetes/kubernetes:pkg/controller/podautoscaler/horizontal.go (v1.35), in three
modules: this one syncs; :mod:`podquake.model.controllers.hpa_replicas` computes each metric's proposal
(replica_calculator.go); :mod:`podquake.model.controllers.hpa_behavior` stabilizes and limits it (the
normalization half of horizontal.go). Every HPA stored as ``state.objects[("HorizontalPodAutoscaler", ns, name)]``
is synced every ``--horizontal-pod-autoscaler-sync-period`` (15 s), the first time one period after it
appears: upstream's ``enqueueHPA`` and ``processNextWorkItem`` both call ``queue.AddRateLimited``, and the
HPA work queue's rate limiter (``NewDefaultHPARateLimiter``, rate_limiters.go) delays every add by the
sync period, so a new HPA waits 15 s for its first sync and a changed one keeps its pending sync. A sync
(``reconcileAutoscaler``):

1. reads the target's scale (a Deployment, StatefulSet or ReplicaSet; anything else fails with
   ``FailedGetScale``). Zero replicas disables scaling; above ``maxReplicas`` or below ``minReplicas``
   the target is brought back into range without looking at metrics;
2. asks every metric for a proposal and takes the largest (traced as
   :class:`~podquake.model.trace.HorizontalPodAutoscalerRecommended` when what it leads to changes);
   if no metric answers (or some fail and the rest would scale down) it keeps the current count and
   records ``FailedComputeMetricsReplicas``;
3. normalizes the proposal. Without ``spec.behavior`` (``normalizeDesiredReplicas``): the highest
   recommendation of the last 300 s (downscale stabilization), then at most ``max(2 x current, 4)``,
   clamped to ``[minReplicas, maxReplicas]``. With ``spec.behavior``
   (``normalizeDesiredReplicasWithBehaviors``): stabilization over each direction's window (the
   lowest recent recommendation bounds a scale-up, the highest a scale-down), then the scaling
   policies (Pods or Percent per ``periodSeconds``, combined by ``selectPolicy`` Max, Min or Disabled)
   measured from the replica count at the start of each period, as upstream reconstructs it from the
   scale events it recorded, then ``[minReplicas, maxReplicas]``;
4. scales the target through ``state.scale_workload``, records a
   :class:`~podquake.model.trace.HorizontalPodAutoscalerScaled` event, and writes the HPA status
   (:class:`HPAStatus`, in ``state.hpa_status``): current and desired replicas, last scale time, the
   metric values and the conditions AbleToScale, ScalingActive and ScalingLimited.

Metrics come from :class:`~podquake.model.metrics.Metrics`: a Resource ``cpu`` metric reads each pod's
CPU usage (Utilization or AverageValue target); External and Object metrics read the external metric
of their ``metric.name`` (Value or AverageValue target).

Simplifications, on purpose:
- Pods metrics, ContainerResource metrics and the ``memory`` resource have no source in the model: such
  a metric always fails (as a metric whose adapter is missing does upstream); an Object metric reads
  the external metric of its name, whatever its ``describedObject``;
- a pod's ``status.startTime`` is when it was bound; the Ready condition's lastTransitionTime is
  tracked from the store's readiness events (before any, a bound pod's is its start time); both are
  read in whole seconds, as upstream's ``metav1.Time`` (:meth:`HorizontalPodAutoscalerController.sample`);
- the target's ``status.replicas`` is its active pods (``sim.workload_status(...).current``);
- the ambiguous-selector check (pods picked by two HPAs) and scale-to-zero (the alpha
  ``HPAScaleToZero`` gate) are not modelled; an HPA that disappears from the store is forgotten at its
  next sync.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.controllers.common import Pausable, api_time
from podquake.model.controllers.hpa_behavior import (
    ScalingHistory,
    convert_desired_replicas_with_behavior_rate,
    convert_desired_replicas_with_rules,
)
from podquake.model.controllers.hpa_replicas import (
    MetricError,
    PodSample,
    ReadinessRules,
    Tolerances,
    per_pod_replicas,
    plain_metric_replicas,
    resource_replicas,
    usage_ratio_replicas,
)
from podquake.model.metrics import Metrics
from podquake.model.objects import Pod, Workload
from podquake.model.resources_api import HorizontalPodAutoscaler, MetricSpec

if TYPE_CHECKING:
    from podquake.model.simulation import Simulation

__all__ = ["HPACondition", "HPAStatus", "HorizontalPodAutoscalerController", "MetricValue"]

HPA_KIND = "HorizontalPodAutoscaler"
SCALABLE_KINDS = ("Deployment", "StatefulSet", "ReplicaSet")


# --- status --------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MetricValue:
    """One entry of ``status.currentMetrics``, in spec order; every value ``None`` when the metric
    gave nothing this sync. Values are in milli-units (millicores for CPU)."""

    type: str
    name: str
    average_utilization: int | None = None
    average_value: int | None = None
    value: int | None = None


@dataclass(frozen=True, slots=True)
class HPACondition:
    """A status condition: ``type`` AbleToScale, ScalingActive or ScalingLimited; ``status``
    ``"True"``/``"False"``; ``since`` is its lastTransitionTime (when ``status`` last changed)."""

    type: str
    status: str
    reason: str
    message: str
    since: float


@dataclass(frozen=True, slots=True)
class HPAStatus:
    """An HPA's status after a sync (upstream ``HorizontalPodAutoscalerStatus``), at time ``observed_at``."""

    current_replicas: int
    desired_replicas: int
    last_scale_time: float | None
    current_metrics: tuple[MetricValue, ...]
    conditions: tuple[HPACondition, ...]
    observed_at: float

    def condition(self, type_: str) -> HPACondition | None:
        return next((c for c in self.conditions if c.type == type_), None)


# --- the controller ------------------------------------------------------------------------------------------
_HIGHER = "recent recommendations were higher than current one, applying the highest recent recommendation"
_LOWER = "recent recommendations were lower than current one, applying the lowest recent recommendation"
_MATCHES = "recommended size matches current size"


@dataclass(slots=True)
class _Entry:
    """What the controller keeps per HPA: upstream's in-memory history and the status it last wrote."""

    history: ScalingHistory = field(default_factory=ScalingHistory)
    conditions: dict[str, HPACondition] = field(default_factory=dict)
    status: HPAStatus | None = None
    failure: str | None = None  # the reason of the failure last recorded, while it lasts
    recommended: int | None = None  # the recommendation last recorded (HorizontalPodAutoscalerRecommended)

    def set_condition(self, type_: str, status: bool, reason: str, message: str, now: float) -> None:
        """``setCondition``: the transition time moves only when the status does."""
        value = "True" if status else "False"
        old = self.conditions.get(type_)
        since = old.since if old is not None and old.status == value else now
        self.conditions[type_] = HPACondition(type_, value, reason, message, since)


@dataclass(slots=True)
class _Proposal:
    """``computeReplicasForMetrics``' answer: ``replicas`` is -1 when the HPA cannot act (``error`` says why)."""

    replicas: int = 0
    metric: str = ""
    statuses: tuple[MetricValue, ...] = ()
    error: str = ""


class _TargetPods:
    """The pods a target's selector picks, as the calculator sees them, read at most once per sync."""

    __slots__ = ("_controller", "_workload", "_read")

    def __init__(self, controller: HorizontalPodAutoscalerController, workload: Workload) -> None:
        self._controller = controller
        self._workload = workload
        self._read: tuple[list[PodSample], dict[str, int]] | None = None

    def read(self) -> tuple[list[PodSample], dict[str, int]]:
        """The pods and their CPU usage in whole millicores, by pod name."""
        if self._read is None:
            controller, workload = self._controller, self._workload
            samples, usage = [], {}
            for pod in controller.state.pods_matching(workload.namespace, workload.selector):
                samples.append(controller.sample(pod))
                reading = controller.metrics.pod_cpu_millis(pod.uid)
                if reading is not None:
                    usage[pod.name] = math.ceil(round(reading, 6))  # Quantity.MilliValue rounds up
            self._read = (samples, usage)
        return self._read


class HorizontalPodAutoscalerController(Pausable):
    """Syncs every HPA every 15 s. See the module docstring.

    Part of kube-controller-manager: while it is paused (an outage) its sync timers keep running but
    no HPA is reconciled, so nothing is rescaled until it resumes.

    ``metrics`` defaults to ``sim.metrics`` when the simulation has one, else an empty pipeline.
    The keyword arguments are the controller's flags, with upstream defaults.
    """

    def __init__(
        self,
        sim: Simulation,
        metrics: Metrics | None = None,
        *,
        sync_period: float = k8s.HPA_SYNC_PERIOD_SECONDS,
        tolerance: float = k8s.HPA_TOLERANCE,
        downscale_stabilization: float = k8s.HPA_DOWNSCALE_STABILIZATION_SECONDS,
        readiness: ReadinessRules | None = None,
    ) -> None:
        self.sim = sim
        self.env = sim.env
        self.state = sim.state
        self.metrics = metrics if metrics is not None else getattr(sim, "metrics", None) or Metrics()
        self.sync_period = sync_period
        self.tolerance = tolerance
        self.downscale_stabilization = downscale_stabilization
        self.readiness = readiness if readiness is not None else ReadinessRules()
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._unready_since: dict[str, float] = {}  # pod key -> when its Ready condition turned False

    def start(self) -> None:
        state = self.state
        state.watch(ev.ObjectApplied, self._on_object_applied)
        state.watch(ev.PodReadyChanged, self._on_pod_ready_changed)
        state.watch(ev.PodDeleted, self._on_pod_deleted)
        for kind, namespace, name in list(state.objects):
            if kind == HPA_KIND:
                self._register((namespace, name))

    # --- reading ---------------------------------------------------------------------------------------
    def status(self, namespace: str, name: str) -> HPAStatus | None:
        """The HPA's status after its last sync (``None`` before the first)."""
        return self.state.hpa_status.get((namespace, name))

    def history(self, namespace: str, name: str) -> ScalingHistory | None:
        """The recommendations and scale events the controller remembers for the HPA."""
        entry = self._entries.get((namespace, name))
        return entry.history if entry is not None else None

    def sample(self, pod: Pod) -> PodSample:
        """The pod as the replica calculator sees it (see the module docstring for startTime and Ready).

        ``status.startTime`` and the Ready condition's lastTransitionTime reach upstream's controller
        as ``metav1.Time``, in whole seconds (:func:`~podquake.model.controllers.common.api_time`):
        a pod Ready at 90.4 s is trusted from the sync at 105 s (90 + 15), not 120 s."""
        changed = pod.ready_since if pod.ready else self._unready_since.get(pod.key, pod.bound_at)
        start = pod.bound_at
        return PodSample(
            name=pod.name,
            phase=pod.phase,
            ready=pod.ready,
            start_time=None if start is None else api_time(start),
            ready_changed_at=None if changed is None else api_time(changed),
            deleting=pod.deletion_timestamp is not None,
            cpu_request_millis=_cpu_request(pod),
        )

    # --- watches -----------------------------------------------------------------------------------------
    def _on_object_applied(self, event: ev.ObjectApplied) -> None:
        if event.kind == HPA_KIND:
            namespace, _, name = event.name.partition("/")
            self._register((namespace, name))

    def _on_pod_ready_changed(self, event: ev.PodReadyChanged) -> None:
        if event.ready:
            self._unready_since.pop(event.pod, None)
        else:
            self._unready_since[event.pod] = event.t

    def _on_pod_deleted(self, event: ev.PodDeleted) -> None:
        self._unready_since.pop(event.pod, None)

    def _register(self, key: tuple[str, str]) -> None:
        if key in self._entries:
            return  # already synced periodically; the next sync reads the new spec
        self._entries[key] = _Entry()
        # enqueueHPA's AddRateLimited: the watch event, then one sync period in the queue.
        self._schedule(key, self.sim.timing.controller_sync_seconds + self.sync_period)

    def _schedule(self, key: tuple[str, str], delay: float) -> None:
        timeout = self.env.timeout(delay)
        timeout.callbacks.append(lambda _event: self._tick(key))  # type: ignore[union-attr]

    def _tick(self, key: tuple[str, str]) -> None:
        if key not in self._entries:
            return
        if self.paused or self.reconcile(*key):
            self._schedule(key, self.sync_period)

    # --- one sync ----------------------------------------------------------------------------------------
    def reconcile(self, namespace: str, name: str) -> bool:
        """One sync of HPA ``namespace/name`` (upstream ``reconcileKey``); False when it no longer exists."""
        key = (namespace, name)
        hpa = self.state.objects.get((HPA_KIND, namespace, name))
        if not isinstance(hpa, HorizontalPodAutoscaler):
            self._entries.pop(key, None)
            self.state.set_hpa_status(namespace, name, None)
            return False
        entry = self._entries.setdefault(key, _Entry())
        ref = hpa.scale_target_ref
        workload = self.state.workload_named(ref.kind, namespace, ref.name) if ref.kind in SCALABLE_KINDS else None
        if workload is None:
            message = f"the HPA controller was unable to get the target's current scale: no {ref.kind} {namespace}/{ref.name}"
            entry.set_condition("AbleToScale", False, "FailedGetScale", message, self.env.now)
            old = entry.status
            self._publish(hpa, entry, old.current_replicas if old else 0, old.current_metrics if old else ())
            self._fail(hpa, entry, "FailedGetScale", message)
        else:
            self._sync(hpa, entry, workload)
        return True

    def _sync(self, hpa: HorizontalPodAutoscaler, entry: _Entry, workload: Workload) -> None:
        """``reconcileAutoscaler`` once the target's scale is known."""
        now = self.env.now
        message = "the HPA controller was able to get the target's current scale"
        entry.set_condition("AbleToScale", True, "SucceededGetScale", message, now)
        current = workload.replicas
        entry.history.record_initial(current, now)
        statuses: tuple[MetricValue, ...] = ()
        if current == 0:
            desired, reason = 0, ""
            message = "scaling is disabled since the replica count of the target is zero"
            entry.set_condition("ScalingActive", False, "ScalingDisabled", message, now)
        elif current > hpa.max_replicas:
            desired, reason = hpa.max_replicas, "Current number of replicas above Spec.MaxReplicas"
        elif current < hpa.min_replicas:
            desired, reason = hpa.min_replicas, "Current number of replicas below Spec.MinReplicas"
        else:
            proposal = self._replicas_for_metrics(hpa, entry, workload, current)
            statuses = proposal.statuses
            if proposal.replicas < 0:
                self._publish(hpa, entry, current, statuses)
                self._fail(hpa, entry, "FailedComputeMetricsReplicas", proposal.error)
                return
            desired = proposal.replicas
            # rescaleReason comes from the metrics' proposal, before normalization: none when it is the
            # current count (a rescale that only the stabilization window asks for says no reason)
            reason = ""
            if desired > current:
                reason = f"{proposal.metric} above target"
            elif desired < current:
                reason = "All metrics below target"
            self._recommend(hpa, entry, _heading(hpa, current, desired))
            desired = self._normalize(hpa, entry, current, desired, now)

        if current == 0 or not hpa.min_replicas <= current <= hpa.max_replicas:
            self._recommend(hpa, entry, desired)  # out of range: brought back without looking at metrics
        scaled_at = None
        if desired != current:
            # The decision is traced before the scale, so the pods it causes follow it in the trace.
            ref = hpa.scale_target_ref
            self.state.record_hpa_scaled(
                f"{hpa.namespace}/{hpa.name}", f"{ref.kind}/{ref.name}", current, desired, reason, _summary(hpa, statuses)
            )
            self.state.scale_workload(workload.uid, desired)
            message = f"the HPA controller was able to update the target scale to {desired}"
            entry.set_condition("AbleToScale", True, "SucceededRescale", message, now)
            if hpa.behavior is not None:
                entry.history.store_scale_event(hpa.behavior.scale_up, hpa.behavior.scale_down, current, desired, now)
            scaled_at = now
        self._publish(hpa, entry, current, statuses, desired, scaled_at)
        entry.failure = None

    def _recommend(self, hpa: HorizontalPodAutoscaler, entry: _Entry, heading: int) -> None:
        """Trace what the HPA is heading for (see :class:`~podquake.model.trace.HorizontalPodAutoscalerRecommended`)
        when it changes."""
        if heading != entry.recommended:
            entry.recommended = heading
            ref = hpa.scale_target_ref
            self.state.record_hpa_recommended(f"{hpa.namespace}/{hpa.name}", f"{ref.kind}/{ref.name}", heading)

    def _normalize(self, hpa: HorizontalPodAutoscaler, entry: _Entry, current: int, desired: int, now: float) -> int:
        """``normalizeDesiredReplicas`` (no behavior) or ``normalizeDesiredReplicasWithBehaviors``."""
        history = entry.history
        if hpa.behavior is None:
            stabilized = history.stabilize(desired, now, self.downscale_stabilization)
            reason, message = ("ScaleDownStabilized", _HIGHER) if stabilized != desired else ("ReadyForNewScale", _MATCHES)
            entry.set_condition("AbleToScale", True, reason, message, now)
            replicas, reason, message = convert_desired_replicas_with_rules(
                current, stabilized, hpa.min_replicas, hpa.max_replicas
            )
        else:
            up, down = hpa.behavior.scale_up, hpa.behavior.scale_down
            down_window = down.stabilization_window_seconds
            if down_window is None:  # maybeInitScaleDownStabilizationWindow: the controller's flag
                down_window = self.downscale_stabilization
            up_window = up.stabilization_window_seconds or 0
            stabilized = history.stabilize_with_behaviors(current, desired, now, up_window, down_window)
            if stabilized == desired:
                reason, message = "ReadyForNewScale", _MATCHES
            elif desired >= current:
                reason, message = "ScaleUpStabilized", _LOWER
            else:
                reason, message = "ScaleDownStabilized", _HIGHER
            entry.set_condition("AbleToScale", True, reason, message, now)
            replicas, reason, message = convert_desired_replicas_with_behavior_rate(
                current, stabilized, hpa.min_replicas, hpa.max_replicas, up, down, history, now
            )
        entry.set_condition("ScalingLimited", replicas != stabilized, reason, message, now)
        return replicas

    # --- metrics -------------------------------------------------------------------------------------------
    def _replicas_for_metrics(self, hpa: HorizontalPodAutoscaler, entry: _Entry, workload: Workload, current: int) -> _Proposal:
        """``computeReplicasForMetrics``: the largest proposal of the metrics that answer. If none
        answers, or one fails and the others would scale down, the HPA cannot act (replicas -1)."""
        pods = _TargetPods(self, workload)
        replicas, metric, statuses = 0, "", []
        failures: list[tuple[str, str]] = []  # (condition reason, error) per failed metric
        for spec in hpa.metrics:
            try:
                proposed, name, status = self._metric_proposal(hpa, spec, workload, current, pods)
            except MetricError as error:
                statuses.append(MetricValue(spec.type, spec.resource or spec.metric_name or ""))
                failures.append((_failure_reason(spec), str(error)))
                continue
            statuses.append(status)
            if replicas == 0 or proposed > replicas:
                replicas, metric = proposed, name
        now = self.env.now
        if len(failures) >= len(hpa.metrics) or (failures and replicas < current):
            reason, error = failures[0] if failures else ("NoMetrics", "the HPA has no metrics")
            entry.set_condition("ScalingActive", False, reason, f"the HPA was unable to compute the replica count: {error}", now)
            message = f"invalid metrics ({len(failures)} invalid out of {len(hpa.metrics)}), first error is: {error}"
            return _Proposal(-1, "", tuple(statuses), message)
        entry.set_condition("ScalingActive", True, "ValidMetricFound",
                            f"the HPA was able to successfully calculate a replica count from {metric}", now)
        return _Proposal(replicas, metric, tuple(statuses))

    def _metric_proposal(
        self, hpa: HorizontalPodAutoscaler, spec: MetricSpec, workload: Workload, current: int, pods: _TargetPods
    ) -> tuple[int, str, MetricValue]:
        """``computeReplicasForMetric``: (replicas, metric description, status), or a MetricError."""
        tolerances = self._tolerances(hpa)
        target = spec.target
        if spec.type == "Resource" and spec.resource == "cpu":
            samples, usage = pods.read()
            if target.type == "Utilization":
                assert target.average_utilization is not None
                now = self.env.now
                p = resource_replicas(current, target.average_utilization, samples, usage, tolerances, now, self.readiness)
                status = MetricValue("Resource", "cpu", average_utilization=p.utilization, average_value=p.raw_average)
                return p.replicas, "cpu resource utilization (percentage of request)", status
            assert target.average_value is not None
            replicas, average = plain_metric_replicas(
                current, _milli(target.average_value), samples, usage, tolerances, self.env.now, self.readiness, cpu=True
            )
            return replicas, "cpu resource", MetricValue("Resource", "cpu", average_value=average)
        if spec.type in ("External", "Object"):
            name = spec.metric_name or ""
            reading = self.metrics.external(name)
            if reading is None:
                raise MetricError(f"unable to get external metric {hpa.namespace}/{name}: no metrics returned from the API")
            usage_milli = _milli(reading)
            label = f"external metric {name}" if spec.type == "External" else f"Object metric {name}"
            if target.type == "AverageValue":
                assert target.average_value is not None
                per_replica = _milli(target.average_value)
                replicas, per_pod = per_pod_replicas(self._status_replicas(workload), usage_milli, per_replica, tolerances)
                return replicas, label, MetricValue(spec.type, name, average_value=per_pod)
            assert target.value is not None
            replicas = usage_ratio_replicas(current, usage_milli, _milli(target.value), tolerances, pods.read()[0])
            return replicas, label, MetricValue(spec.type, name, value=usage_milli)
        what = spec.resource or spec.metric_name or ""
        raise MetricError(f"unable to get metric {what}: no {spec.type} metrics source in the model")

    def _status_replicas(self, workload: Workload) -> int:
        """The target's ``status.replicas``: its active pods."""
        try:
            return self.sim.workload_status(workload.kind, workload.namespace, workload.name).current
        except (KeyError, AttributeError):
            return sum(1 for pod in self.state.pods_matching(workload.namespace, workload.selector) if pod.active)

    def _tolerances(self, hpa: HorizontalPodAutoscaler) -> Tolerances:
        """``tolerancesForHpa`` (the HPAConfigurableTolerance gate is on by default since v1.35)."""
        down = up = self.tolerance
        if hpa.behavior is not None:
            if hpa.behavior.scale_down.tolerance is not None:
                down = float(hpa.behavior.scale_down.tolerance)
            if hpa.behavior.scale_up.tolerance is not None:
                up = float(hpa.behavior.scale_up.tolerance)
        return Tolerances(down, up)

    # --- status ----------------------------------------------------------------------------------------------
    def _publish(
        self,
        hpa: HorizontalPodAutoscaler,
        entry: _Entry,
        current: int,
        metrics: tuple[MetricValue, ...],
        desired: int | None = None,
        scaled_at: float | None = None,
    ) -> None:
        """``setStatus``; ``desired=None`` keeps the desired count of the last status (a failed sync)."""
        old = entry.status
        if desired is None:
            desired = old.desired_replicas if old else 0
        last = scaled_at if scaled_at is not None else (old.last_scale_time if old else None)
        entry.status = HPAStatus(current, desired, last, metrics, tuple(entry.conditions.values()), self.env.now)
        self.state.set_hpa_status(hpa.namespace, hpa.name, entry.status)

    def _fail(self, hpa: HorizontalPodAutoscaler, entry: _Entry, reason: str, message: str) -> None:
        """Trace a failure when it starts (not at every sync while it lasts)."""
        if entry.failure != reason:
            entry.failure = reason
            self.state.record_hpa_failed(f"{hpa.namespace}/{hpa.name}", reason, message)


# --- helpers ----------------------------------------------------------------------------------------------------
def _heading(hpa: HorizontalPodAutoscaler, current: int, proposed: int) -> int:
    """The count a metric proposal leads to once stabilization and rate limits have had their time:
    ``proposed`` within [minReplicas, maxReplicas], or ``current`` when ``behavior`` disables scaling
    that way (``selectPolicy: Disabled``)."""
    heading = min(max(proposed, hpa.min_replicas), hpa.max_replicas)
    if hpa.behavior is not None and heading != current:
        rules = hpa.behavior.scale_up if heading > current else hpa.behavior.scale_down
        if rules.select_policy == "Disabled":
            return current
    return heading


def _milli(value: object) -> int:
    """A quantity (a Fraction from the manifest, or a float reading) in whole milli-units, rounded up as
    ``Quantity.MilliValue`` does (a float is first rounded to 6 places so that 0.1 stays 100m)."""
    scaled = value * 1000  # type: ignore[operator]
    if isinstance(scaled, float):
        scaled = round(scaled, 6)
    return math.ceil(scaled)


def _cpu_request(pod: Pod) -> int | None:
    """The pod's CPU request for utilization (upstream ``calculatePodRequestsFromContainers``): its
    containers' and sidecars' requests; ``None`` if one of them names no CPU request."""
    spec = pod.spec
    total = 0
    for container in spec.containers:
        if not container.cpu_requested:
            return None
        total += container.requests.cpu_millis
    for init in spec.init_containers:
        if init.restartable_init:
            if not init.cpu_requested:
                return None
            total += init.requests.cpu_millis
    return total


def _failure_reason(spec: MetricSpec) -> str:
    return {
        "Resource": "FailedGetResourceMetric",
        "ContainerResource": "FailedGetContainerResourceMetric",
        "Pods": "FailedGetPodsMetric",
        "Object": "FailedGetObjectMetric",
        "External": "FailedGetExternalMetric",
    }.get(spec.type, "InvalidMetricSourceType")


def _quantity(milli: int, cpu: bool) -> str:
    if cpu:
        return f"{milli}m"
    text = f"{milli / 1000:.3f}".rstrip("0").rstrip(".")
    return text or "0"


def _summary(hpa: HorizontalPodAutoscaler, statuses: tuple[MetricValue, ...]) -> str:
    """What the metrics read, against their targets, for the trace: ``cpu 160% (target 80%)``."""
    parts = []
    for spec, status in zip(hpa.metrics, statuses):
        target = spec.target
        cpu = spec.type == "Resource"
        if status.average_utilization is not None:
            parts.append(f"{status.name} {status.average_utilization}% (target {target.average_utilization}%)")
        elif status.average_value is not None and target.average_value is not None:
            per_pod = _quantity(_milli(target.average_value), cpu)
            parts.append(f"{status.name} {_quantity(status.average_value, cpu)} per pod (target {per_pod})")
        elif status.value is not None and target.value is not None:
            parts.append(f"{status.name} {_quantity(status.value, cpu)} (target {_quantity(_milli(target.value), cpu)})")
        else:
            parts.append(f"{status.name} unavailable")
    return "; ".join(parts)
