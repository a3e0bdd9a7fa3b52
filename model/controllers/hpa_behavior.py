"""How the HorizontalPodAutoscaler limits a proposal: stabilization windows, scale-up limits, behavior policies.

Pure functions and the small history upstream keeps in memory per HPA, transcribed from
kubernetes/kubernetes:pkg/controller/podautoscaler/horizontal.go (v1.35):

- :class:`ScalingHistory`: the ``recommendations``, ``scaleUpEvents`` and ``scaleDownEvents`` of one
  HPA, with ``stabilizeRecommendation`` (no behavior: the highest recommendation not older than the
  window, its boundary included), ``stabilizeRecommendationWithBehaviors`` (the lowest recommendation
  younger than the scale-up window bounds a scale-up, the highest younger than the scale-down window
  bounds a scale-down; boundaries excluded, as upstream's ``After``) and ``storeScaleEvent``;
- :func:`convert_desired_replicas_with_rules`: without behavior, at most ``max(2 x current, 4)``, then
  ``[minReplicas, maxReplicas]``;
- :func:`scale_up_limit`, :func:`scale_down_limit`, :func:`convert_desired_replicas_with_behavior_rate`:
  with behavior, each policy allows ``value`` pods or percent more (or fewer) than the count at the start
  of its period, which upstream reconstructs from the scale events younger than ``periodSeconds``;
  ``selectPolicy`` Max takes the biggest change, Min the smallest, Disabled none.

Each answer that limits comes with upstream's ScalingLimited reason and message.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from podquake.model import constants as k8s
from podquake.model.resources_api import ScalingRules

__all__ = [
    "Recommendation",
    "ScaleEvent",
    "ScalingHistory",
    "convert_desired_replicas_with_behavior_rate",
    "convert_desired_replicas_with_rules",
    "scale_down_limit",
    "scale_up_limit",
]

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_FASTER_UP = "the desired replica count is increasing faster than the maximum scale rate"
_FASTER_DOWN = "the desired replica count is decreasing faster than the maximum scale rate"
_TOO_MANY = "the desired replica count is more than the maximum replica count"
_TOO_FEW = "the desired replica count is less than the minimum replica count"
_WITHIN = "the desired count is within the acceptable range"


# --- what upstream keeps in memory per HPA --------------------------------------------------------
@dataclass(slots=True)
class Recommendation:
    """``timestampedRecommendation``: an unstabilized proposal and when it was made."""

    replicas: int
    at: float


@dataclass(slots=True)
class ScaleEvent:
    """``timestampedScaleEvent``: how many replicas one rescale added or removed (non-negative)."""

    change: int
    at: float
    outdated: bool = False


@dataclass(slots=True)
class ScalingHistory:
    """The recommendations and scale events of one HPA (upstream's ``recommendations``,
    ``scaleUpEvents`` and ``scaleDownEvents`` maps, for one key)."""

    recommendations: list[Recommendation] = field(default_factory=list)
    scale_up_events: list[ScaleEvent] = field(default_factory=list)
    scale_down_events: list[ScaleEvent] = field(default_factory=list)

    def record_initial(self, current: int, now: float) -> None:
        """``recordInitialRecommendation``: the first sync seeds the window with the current count."""
        if not self.recommendations:
            self.recommendations.append(Recommendation(current, now))

    def stabilize(self, desired: int, now: float, window: float) -> int:
        """``stabilizeRecommendation`` (no behavior): the highest recommendation not older than
        ``window``, recording ``desired`` in the slot of an older one if there is one."""
        highest = desired
        old = -1
        cutoff = now - window
        for i, rec in enumerate(self.recommendations):
            if rec.at < cutoff:
                old = i
            elif rec.replicas > highest:
                highest = rec.replicas
        self._record(old, desired, now)
        return highest

    def stabilize_with_behaviors(self, current: int, desired: int, now: float, up_window: float, down_window: float) -> int:
        """``stabilizeRecommendationWithBehaviors``: ``current`` moved no lower than the lowest
        recommendation of the scale-up window and no higher than the highest of the scale-down window."""
        up, down = desired, desired
        up_cutoff, down_cutoff = now - up_window, now - down_window
        old = -1
        for i, rec in enumerate(self.recommendations):
            if rec.at > up_cutoff:
                up = min(rec.replicas, up)
            if rec.at > down_cutoff:
                down = max(rec.replicas, down)
            if rec.at < up_cutoff and rec.at < down_cutoff:
                old = i
        recommendation = min(max(current, up), down)
        self._record(old, desired, now)
        return recommendation

    def _record(self, old: int, desired: int, now: float) -> None:
        if old >= 0:
            self.recommendations[old] = Recommendation(desired, now)
        else:
            self.recommendations.append(Recommendation(desired, now))

    def store_scale_event(self, rules_up: ScalingRules, rules_down: ScalingRules, before: int, after: int, now: float) -> None:
        """``storeScaleEvent``: remember a rescale, reusing the slot of an event older than the longest
        policy period of its direction."""
        if after > before:
            events, change, rules = self.scale_up_events, after - before, rules_up
        else:
            events, change, rules = self.scale_down_events, before - after, rules_down
        cutoff = now - max((p.period_seconds for p in rules.policies), default=0)
        old = -1
        for i, event in enumerate(events):
            if event.at < cutoff:
                event.outdated = True
            if event.outdated:
                old = i
        if old >= 0:
            events[old] = ScaleEvent(change, now)
        else:
            events.append(ScaleEvent(change, now))


# --- limits ---------------------------------------------------------------------------------------------
def convert_desired_replicas_with_rules(current: int, desired: int, min_replicas: int, max_replicas: int) -> tuple[int, str, str]:
    """``convertDesiredReplicasWithRules`` (no behavior): at most ``max(2 x current, 4)`` and within
    ``[min, max]``. Returns (replicas, ScalingLimited reason, message)."""
    limit = int(max(k8s.HPA_SCALE_UP_LIMIT_FACTOR * current, k8s.HPA_SCALE_UP_LIMIT_MINIMUM))
    if max_replicas > limit:
        allowed, reason, message = limit, "ScaleUpLimit", _FASTER_UP
    else:
        allowed, reason, message = max_replicas, "TooManyReplicas", _TOO_MANY
    if desired < min_replicas:
        return min_replicas, "TooFewReplicas", _TOO_FEW
    if desired > allowed:
        return allowed, reason, message
    return desired, "DesiredWithinRange", _WITHIN


def _changed_within(period: float, events: list[ScaleEvent], now: float) -> int:
    """``getReplicasChangePerPeriod``."""
    cutoff = now - period
    return sum(event.change for event in events if event.at > cutoff)


def _replicas_period_ago(current: int, period: float, history: ScalingHistory, now: float) -> int:
    """The replica count a policy's period started from: ``current`` less the scale-ups and plus the
    scale-downs recorded within it (upstream computes it this way in both limit functions)."""
    added = _changed_within(period, history.scale_up_events, now)
    removed = _changed_within(period, history.scale_down_events, now)
    return current - added + removed


def scale_up_limit(current: int, history: ScalingHistory, rules: ScalingRules, now: float) -> int:
    """``calculateScaleUpLimitWithScalingRules``: the most replicas the scale-up policies allow now."""
    if rules.select_policy == "Disabled":
        return current
    pick: Callable[[int, int], int] = min if rules.select_policy == "Min" else max
    result = _INT32_MAX if rules.select_policy == "Min" else _INT32_MIN
    for policy in rules.policies:
        start = _replicas_period_ago(current, policy.period_seconds, history, now)
        if policy.type == "Pods":
            proposed = start + policy.value
        else:
            proposed = math.ceil(start * (1 + policy.value / 100))
        result = pick(result, proposed)
    return result


def scale_down_limit(current: int, history: ScalingHistory, rules: ScalingRules, now: float) -> int:
    """``calculateScaleDownLimitWithBehaviors``: the fewest replicas the scale-down policies allow now."""
    if rules.select_policy == "Disabled":
        return current
    pick: Callable[[int, int], int] = max if rules.select_policy == "Min" else min
    result = _INT32_MIN if rules.select_policy == "Min" else _INT32_MAX
    for policy in rules.policies:
        start = _replicas_period_ago(current, policy.period_seconds, history, now)
        if policy.type == "Pods":
            proposed = start - policy.value
        else:
            proposed = int(start * (1 - policy.value / 100))  # Go's int32() truncates toward zero
        result = pick(result, proposed)
    return result


def convert_desired_replicas_with_behavior_rate(
    current: int,
    desired: int,
    min_replicas: int,
    max_replicas: int,
    up: ScalingRules,
    down: ScalingRules,
    history: ScalingHistory,
    now: float,
) -> tuple[int, str, str]:
    """``convertDesiredReplicasWithBehaviorRate``: the policies' limit, then ``[min, max]``."""
    if desired > current:
        limit = max(scale_up_limit(current, history, up, now), current)
        if max_replicas > limit:
            allowed, reason, message = limit, "ScaleUpLimit", _FASTER_UP
        else:
            allowed, reason, message = max_replicas, "TooManyReplicas", _TOO_MANY
        if desired > allowed:
            return allowed, reason, message
    elif desired < current:
        limit = min(scale_down_limit(current, history, down, now), current)
        if min_replicas < limit:
            allowed, reason, message = limit, "ScaleDownLimit", _FASTER_DOWN
        else:
            allowed, reason, message = min_replicas, "TooFewReplicas", _TOO_FEW
        if desired < allowed:
            return allowed, reason, message
    return desired, "DesiredWithinRange", _WITHIN
