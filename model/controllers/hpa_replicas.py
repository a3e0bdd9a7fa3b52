"""The HorizontalPodAutoscaler's replica calculator: how many replicas one metric asks for.

A transcription of kubernetes/kubernetes:pkg/controller/podautoscaler/replica_calculator.go (v1.35)
and of the ratio helpers in pkg/controller/podautoscaler/metrics/utilization.go, as pure functions
over plain values, so upstream's replica_calculator_test.go cases translate one to one. The
controller (:mod:`podquake.model.controllers.hpa`) turns the cluster's pods into :class:`PodSample`
values and the metrics pipeline's readings into whole milli-units, as the metrics APIs serve them
(``Quantity.MilliValue``), and calls:

- :func:`resource_replicas`: ``GetResourceReplicas``, a Resource metric with a Utilization target;
- :func:`plain_metric_replicas`: ``calcPlainMetricReplicas`` (``GetRawResourceReplicas`` for a
  Resource metric with an AverageValue target, ``GetMetricReplicas`` for a Pods metric);
- :func:`usage_ratio_replicas`: ``getUsageRatioReplicaCount`` (External and Object metrics with a
  Value target);
- :func:`per_pod_replicas`: ``GetExternalPerPodMetricReplicas`` / ``GetObjectPerPodMetricReplicas``
  (External and Object metrics with an AverageValue target).

The pod rules (:func:`group_pods`, upstream ``groupPods``): a pod being deleted, Succeeded or Failed is
ignored (Succeeded as since kubernetes/kubernetes#141302; v1.35's ``groupPods`` ignores only Failed and
deleting pods, so a Succeeded pod there has no sample and counts as missing); a Pending pod is unready; a
pod without a sample is missing; for CPU, a pod is also unready if it has no Ready condition, or, within
``cpu-initialization-period`` (5 min) of its start, if it is not Ready or turned Ready less than one
metric window ago, or, later, if it is not Ready and turned unready within ``initial-readiness-delay``
(30 s) of its start (it has never been Ready). Unready pods count as 0% only when the ratio says scale
up; missing pods count as 100% of their request (or the target, when above 100%) when it says scale down
and as 0% when it says scale up; the result never moves against the ratio. Integer arithmetic is
upstream's: utilization is a whole percent, truncated.

Simplification: the metric sample's timestamp is the moment the controller reads it (the metrics
pipeline answers instantly, see :mod:`podquake.model.metrics`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from podquake.model import constants as k8s

__all__ = [
    "MAX_REPLICAS",
    "MetricError",
    "PodGroups",
    "PodSample",
    "ReadinessRules",
    "ResourceProposal",
    "Tolerances",
    "group_pods",
    "per_pod_replicas",
    "plain_metric_replicas",
    "resource_replicas",
    "usage_ratio_replicas",
]

#: Upstream's replica counts are int32; proposals saturate there (math.MaxInt32).
MAX_REPLICAS = 2**31 - 1


class MetricError(Exception):
    """The metric gives no proposal this sync (upstream returns an error; the message is upstream's)."""


@dataclass(frozen=True, slots=True)
class Tolerances:
    """How far the usage ratio may stray from 1 before the HPA acts (``Tolerances.isWithin``):
    the controller's ``--horizontal-pod-autoscaler-tolerance`` (0.1) unless the HPA's
    ``behavior.scaleDown.tolerance`` / ``behavior.scaleUp.tolerance`` say otherwise."""

    scale_down: float = k8s.HPA_TOLERANCE
    scale_up: float = k8s.HPA_TOLERANCE

    def within(self, ratio: float) -> bool:
        return (1.0 - self.scale_down) <= ratio <= (1.0 + self.scale_up)


@dataclass(frozen=True, slots=True)
class ReadinessRules:
    """The controller flags that decide when a CPU sample is trusted (see the module docstring)."""

    cpu_initialization_period: float = k8s.HPA_CPU_INITIALIZATION_PERIOD_SECONDS
    initial_readiness_delay: float = k8s.HPA_INITIAL_READINESS_DELAY_SECONDS
    metric_window: float = k8s.METRICS_SERVER_RESOLUTION_SECONDS


@dataclass(frozen=True, slots=True)
class PodSample:
    """What the calculator needs of one pod the target's selector picks.

    ``start_time`` is ``status.startTime``; ``ready_changed_at`` the Ready condition's
    lastTransitionTime (``None``: the pod has no Ready condition yet); ``cpu_request_millis`` the sum of
    its containers' CPU requests (``None`` when a container names none: upstream refuses to compute a
    utilization then).
    """

    name: str
    phase: str = "Running"
    ready: bool = True
    start_time: float | None = 0.0
    ready_changed_at: float | None = 0.0
    deleting: bool = False
    cpu_request_millis: int | None = 1000


@dataclass(slots=True)
class PodGroups:
    """``groupPods``' answer. The name sets are dicts used as ordered sets."""

    ready_count: int
    unready: dict[str, None]
    missing: dict[str, None]
    ignored: dict[str, None]


@dataclass(frozen=True, slots=True)
class ResourceProposal:
    """``GetResourceReplicas``' answer: the replicas, the utilization in whole percent of request,
    and the raw average usage per pod in millicores."""

    replicas: int
    utilization: int
    raw_average: int


def group_pods(
    pods: Sequence[PodSample], metrics: Mapping[str, int], cpu: bool, now: float, rules: ReadinessRules
) -> PodGroups:
    """Sort pods into ready (counted), unready, missing (no sample) and ignored (upstream ``groupPods``)."""
    groups = PodGroups(0, {}, {}, {})
    for pod in pods:
        if pod.deleting or pod.phase in ("Succeeded", "Failed"):
            groups.ignored[pod.name] = None
            continue
        if pod.phase == "Pending":
            groups.unready[pod.name] = None
            continue
        if pod.name not in metrics:
            groups.missing[pod.name] = None
            continue
        if cpu and _cpu_sample_unready(pod, now, rules):
            groups.unready[pod.name] = None
            continue
        groups.ready_count += 1
    return groups


def _cpu_sample_unready(pod: PodSample, now: float, rules: ReadinessRules) -> bool:
    start, changed = pod.start_time, pod.ready_changed_at
    if start is None or changed is None:
        return True
    if start + rules.cpu_initialization_period > now:
        # The sample is taken now and covers one window: it must start after the pod turned Ready.
        return not pod.ready or now < changed + rules.metric_window
    return not pod.ready and start + rules.initial_readiness_delay > changed


def _cpu_requests(pods: Sequence[PodSample]) -> dict[str, int]:
    """``calculateRequests``: every listed pod's CPU request, or an error naming a pod without one."""
    requests = {}
    for pod in pods:
        if pod.cpu_request_millis is None:
            raise MetricError(f"missing request for cpu in a container of Pod {pod.name}")
        requests[pod.name] = pod.cpu_request_millis
    return requests


def _utilization_ratio(metrics: Mapping[str, int], requests: Mapping[str, int], target: int) -> tuple[float, int, int]:
    """``GetResourceUtilizationRatio``: (ratio, utilization %, raw average). Samples of pods with no
    known request are extraneous and skipped."""
    total = requested = entries = 0
    for name, value in metrics.items():
        request = requests.get(name)
        if request is None:
            continue
        total += value
        requested += request
        entries += 1
    if requested == 0:
        raise MetricError("no metrics returned matched known pods")
    utilization = total * 100 // requested
    return utilization / target, utilization, total // entries


def _usage_ratio(metrics: Mapping[str, int], target: int) -> tuple[float, int]:
    """``GetMetricUsageRatio``: (ratio, average usage per pod)."""
    usage = sum(metrics.values()) // len(metrics)
    return usage / target, usage


def resource_replicas(
    current: int,
    target_utilization: int,
    pods: Sequence[PodSample],
    metrics: Mapping[str, int],
    tolerances: Tolerances,
    now: float,
    rules: ReadinessRules,
) -> ResourceProposal:
    """``GetResourceReplicas`` for CPU: ``metrics`` maps pod name to usage in millicores."""
    if not metrics:
        raise MetricError("unable to get metrics for resource cpu: no metrics returned from resource metrics API")
    if not pods:
        raise MetricError("no pods returned by selector while calculating replica count")
    groups = group_pods(pods, metrics, True, now, rules)
    samples = {name: value for name, value in metrics.items() if name not in groups.ignored and name not in groups.unready}
    if not samples:
        raise MetricError("did not receive metrics for targeted pods (pods might be unready)")
    requests = _cpu_requests(pods)
    ratio, utilization, raw = _utilization_ratio(samples, requests, target_utilization)

    scale_up_with_unready = bool(groups.unready) and ratio > 1.0
    if not scale_up_with_unready and not groups.missing:
        if tolerances.within(ratio):
            return ResourceProposal(current, utilization, raw)
        return ResourceProposal(_ceil(ratio * groups.ready_count), utilization, raw)

    if groups.missing:
        if ratio < 1.0:
            fallback = max(100, target_utilization)  # 100% of the request, or the target above 100%
            for name in groups.missing:
                samples[name] = requests[name] * fallback // 100
        elif ratio > 1.0:
            for name in groups.missing:
                samples[name] = 0
    if scale_up_with_unready:
        for name in groups.unready:
            samples[name] = 0

    new_ratio, _, _ = _utilization_ratio(samples, requests, target_utilization)
    replicas = _rebalanced(current, ratio, new_ratio, len(samples), tolerances)
    return ResourceProposal(replicas, utilization, raw)


def plain_metric_replicas(
    current: int,
    target_usage: int,
    pods: Sequence[PodSample],
    metrics: Mapping[str, int],
    tolerances: Tolerances,
    now: float,
    rules: ReadinessRules,
    *,
    cpu: bool,
) -> tuple[int, int]:
    """``calcPlainMetricReplicas``: (replicas, average usage per pod), for an AverageValue target.
    ``cpu`` applies the CPU readiness rules (a Resource metric) or not (a Pods metric)."""
    if cpu and not metrics:
        raise MetricError("unable to get metrics for resource cpu: no metrics returned from resource metrics API")
    if not pods:
        raise MetricError("no pods returned by selector while calculating replica count")
    groups = group_pods(pods, metrics, cpu, now, rules)
    samples = {name: value for name, value in metrics.items() if name not in groups.ignored and name not in groups.unready}
    if not samples:
        raise MetricError("did not receive metrics for targeted pods (pods might be unready)")
    ratio, usage = _usage_ratio(samples, target_usage)

    scale_up_with_unready = bool(groups.unready) and ratio > 1.0
    if not scale_up_with_unready and not groups.missing:
        if tolerances.within(ratio):
            return current, usage
        return _ceil(ratio * groups.ready_count), usage

    if groups.missing:
        if ratio < 1.0:
            for name in groups.missing:
                samples[name] = target_usage  # exactly the target
        elif ratio > 1.0:
            for name in groups.missing:
                samples[name] = 0
    if scale_up_with_unready:
        for name in groups.unready:
            samples[name] = 0

    new_ratio, _ = _usage_ratio(samples, target_usage)
    return _rebalanced(current, ratio, new_ratio, len(samples), tolerances), usage


def _rebalanced(current: int, ratio: float, new_ratio: float, considered: int, tolerances: Tolerances) -> int:
    """The second pass with unready/missing pods filled in: keep ``current`` when it is within
    tolerance, or when filling in flipped the direction, or when the count would move against it."""
    if tolerances.within(new_ratio) or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return current
    replicas = _ceil(new_ratio * considered)
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return current
    return replicas


def usage_ratio_replicas(current: int, usage: int, target: int, tolerances: Tolerances, pods: Sequence[PodSample]) -> int:
    """``getUsageRatioReplicaCount`` for an External or Object metric with a Value target: the ratio of
    the metric to its target, times the ready pods (Running and Ready); from zero replicas, the ratio."""
    ratio = usage / target
    if current == 0:
        return _ceil(ratio)
    if tolerances.within(ratio):
        return current
    if not pods:
        raise MetricError("unable to calculate ready pods: no pods returned by selector while calculating replica count")
    ready = sum(1 for pod in pods if pod.phase == "Running" and pod.ready)
    return _ceil(ratio * ready)


def per_pod_replicas(status_replicas: int, usage: int, target_per_pod: int, tolerances: Tolerances) -> tuple[int, int]:
    """``GetExternalPerPodMetricReplicas``: (replicas, usage per pod) for an AverageValue target.
    ``status_replicas`` is the target's ``status.replicas`` (its pods), not its spec."""
    replicas = status_replicas
    if status_replicas == 0:
        within = False  # upstream divides by zero: +Inf or NaN, never within tolerance
    else:
        within = tolerances.within(usage / (target_per_pod * status_replicas))
    if not within:
        replicas = _ceil(usage / target_per_pod)
    per_pod = 0 if status_replicas == 0 else math.ceil(usage / status_replicas)
    return replicas, per_pod


def _ceil(value: float) -> int:
    return min(math.ceil(value), MAX_REPLICAS)
