"""The HorizontalPodAutoscaler: upstream's replica formula and pod rules (replica_calculator.go, with cases
from replica_calculator_test.go), its normalization (horizontal.go: the max(2 x current, 4) scale-up limit,
the 300 s downscale stabilization, behavior policies) and the controller syncing every 15 s in a simulation.

Upstream's calculator tests give each pod two containers with the same request and usage; here a pod's
request and usage are those sums (a "1.0" request is 2000m, a level of 300 is 600m).
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.controllers.hpa_behavior import (
    Recommendation,
    ScaleEvent,
    ScalingHistory,
    convert_desired_replicas_with_behavior_rate,
    convert_desired_replicas_with_rules,
    scale_down_limit,
    scale_up_limit,
)
from podquake.model.controllers.hpa_replicas import (
    MetricError,
    PodSample,
    ReadinessRules,
    Tolerances,
    group_pods,
    per_pod_replicas,
    plain_metric_replicas,
    resource_replicas,
    usage_ratio_replicas,
)
from podquake.model.manifests import load_manifests
from podquake.model.objects import ContainerSpec, PodSpec, PodTemplate, Probe
from podquake.model.quantity import Resources
from podquake.model.resources_api import (
    HorizontalPodAutoscaler,
    HPABehavior,
    MetricSpec,
    MetricTarget,
    ScaleTargetRef,
    ScalingPolicy,
    ScalingRules,
    default_scale_up_rules,
)
from podquake.model.simulation import Timing
from podquake.model.trace import Trace

from .workload_kit import deployment, make_sim

NOW = 10_000.0  # calculator tests: pods started long ago (past the 5 min CPU initialization period)
RULES = ReadinessRules()
DEFAULT = Tolerances()


def pods(n: int, request: int = 2000, **per_pod: list) -> list[PodSample]:
    """``n`` running, ready pods named ``test-pod-i``; keyword lists override fields per pod."""
    out = []
    for i in range(n):
        fields = {key: values[i] for key, values in per_pod.items()}
        fields.setdefault("cpu_request_millis", request)
        out.append(PodSample(f"test-pod-{i}", **fields))
    return out


def levels(*values: int) -> dict[str, int]:
    """Per-pod usage in millicores (two containers each, as upstream's fixtures)."""
    return {f"test-pod-{i}": 2 * v for i, v in enumerate(values)}


def resource(current, target, samples, metrics, tolerances=DEFAULT):
    p = resource_replicas(current, target, samples, metrics, tolerances, NOW, RULES)
    return p.replicas, p.utilization, p.raw_average


# --- the replica formula and the tolerance band (GetResourceReplicas) -----------------------------------------
def test_scale_up_and_down_follow_ceil_of_ratio_times_ready_pods():
    # 1500m of 3000m = 50% against 30%: ratio 5/3, ceil(5/3 x 3) = 5
    assert resource(3, 30, pods(3), levels(300, 500, 700)) == (5, 50, 1000)
    # 1400m of 5000m = 28% against 50%: ceil(0.56 x 5) = 3
    assert resource(5, 50, pods(5), levels(100, 300, 500, 250, 250)) == (3, 28, 560)


def test_utilization_is_a_truncated_whole_percent():
    # (1010+1030+1020) x 2 / 6000 = 102%: within the 0.1 tolerance (k8s.HPA_TOLERANCE) of a 100% target
    mixed = pods(3, cpu_request_millis=[1800, 2000, 2200])
    assert resource(3, 100, mixed, levels(1010, 1030, 1020)) == (3, 102, 2040)
    # 909+1010+1111 gives 101% (truncated from 101.0): outside a 0% tolerance, ceil(1.01 x 3) = 4
    assert resource(3, 100, mixed, levels(909, 1010, 1111), Tolerances(0.0, 0.0)) == (4, 101, 2020)


def test_tolerance_band_is_inclusive_and_per_direction():
    assert k8s.HPA_TOLERANCE == 0.1
    assert DEFAULT.within(1.1) and DEFAULT.within(0.9) and not DEFAULT.within(1.11) and not DEFAULT.within(0.89)
    mixed = pods(3, cpu_request_millis=[1800, 2000, 2200])
    # 65% against 100%: within a 36% scale-down tolerance, outside 34% -> ceil(0.65 x 3) = 2
    assert resource(3, 100, mixed, levels(660, 640, 650), Tolerances(0.36, 0.1))[0] == 3
    assert resource(3, 100, mixed, levels(660, 640, 650), Tolerances(0.34, 0.1))[0] == 2
    # 109% against 100%: outside an 8% scale-up tolerance even with a 200% scale-down one
    assert resource(3, 100, mixed, levels(1100, 1080, 1090), Tolerances(2.0, 0.08))[0] == 4
    # 190%: within a 200% scale-up tolerance
    assert resource(3, 100, mixed, levels(1890, 1910, 1900), Tolerances(0.1, 2.0))[0] == 3


def test_a_ratio_just_past_the_tolerance_scales_and_just_inside_does_not():
    # upstream TestReplicaCalcComputedToleranceAlgImplementation: 10 pods using 300m of about 600m requested (50%)
    requests = [2 * (300 + d) for d in (100, -100, 10, -10, 2, -2, 1, -1, 0, 0)]
    samples = pods(10, cpu_request_millis=requests)
    usage = {f"test-pod-{i}": 300 for i in range(10)}  # 150m per container, two containers
    target = int((1 / (2 * (1 - 0.1)) + 0.01) * 100)  # 56%: ratio 50/56 = 0.893, just past 0.9
    assert resource(10, target, samples, usage)[:2] == (9, 50)
    target = int((1 / (2 * (1 - 0.1)) + 0.004) * 100)  # 55%: ratio 0.909, within
    assert resource(10, target, samples, usage)[:2] == (10, 50)


# --- unready, missing, ignored pods ----------------------------------------------------------------------------
def test_unready_pods_count_as_zero_only_when_scaling_up():
    # pod 0 never became Ready (its condition turned False at its start): the other two run at 60% of 30%,
    # so it counts as 0%: 2400m of 6000m = 40%, ceil(1.33 x 3) = 4 instead of 6
    never_ready = pods(3, ready=[False, True, True])
    assert resource(3, 30, never_ready, levels(300, 500, 700)) == (4, 60, 1200)
    # scaling down, unready pods are simply left out: 30% of 50% over the 3 ready ones -> 2
    scale_down = pods(5, ready=[True, True, True, False, False])
    assert resource(5, 50, scale_down, levels(100, 300, 500, 250, 250)) == (2, 30, 600)
    # one ready pod at 40% of 30% asks for more, but the two unready pods at 0% bring it to 800m of
    # 6000m = 13%: the direction flips, so the count stays
    assert resource(3, 30, pods(3, ready=[True, False, False]), levels(400, 500, 700)) == (3, 40, 800)


def test_pending_failed_succeeded_and_deleting_pods():
    # Pending pods are unready: 10% of 50% over the one running pod -> 1
    pending = pods(5, phase=["Running"] + ["Pending"] * 4, ready=[True] + [False] * 4)
    assert resource(5, 50, pending, levels(100)) == (1, 10, 200)
    # Failed, Succeeded and deleting pods are ignored entirely: 60% of 30% over the 2 others -> 4
    for extra in ({"phase": ["Running", "Running", "Failed", "Failed"]},
                  {"phase": ["Running", "Running", "Succeeded", "Succeeded"]},
                  {"deleting": [False, False, True, True]}):
        samples = pods(4, ready=[True, True, False, False], **extra)
        assert resource(2, 30, samples, levels(500, 700)) == (4, 60, 1200)


def test_a_starting_pod_is_trusted_one_metric_window_after_it_turns_ready():
    assert (k8s.HPA_CPU_INITIALIZATION_PERIOD_SECONDS, k8s.METRICS_SERVER_RESOLUTION_SECONDS) == (300.0, 15.0)
    assert k8s.HPA_INITIAL_READINESS_DELAY_SECONDS == 30.0
    usage = {"a": 100}

    def groups(**sample):
        return group_pods([PodSample("a", **sample)], usage, True, NOW, RULES)

    # within 5 min of its start: untrusted until 15 s after it turned Ready
    assert groups(start_time=NOW - 100, ready_changed_at=NOW - 14).unready == {"a": None}
    assert groups(start_time=NOW - 100, ready_changed_at=NOW - 15).ready_count == 1
    assert groups(start_time=NOW - 100, ready=False, ready_changed_at=NOW - 60).unready == {"a": None}
    # later: a not-Ready pod whose condition last changed within 30 s of its start has never been Ready
    assert groups(start_time=NOW - 400, ready=False, ready_changed_at=NOW - 390).unready == {"a": None}
    # ... but one that turned unready later (it was Ready once) still counts, as upstream
    assert groups(start_time=NOW - 400, ready=False, ready_changed_at=NOW - 300).ready_count == 1
    # no Ready condition yet
    assert groups(ready_changed_at=None).unready == {"a": None}
    # memory (not CPU) skips the readiness rules
    assert group_pods([PodSample("a", ready=False)], usage, False, NOW, RULES).ready_count == 1


def test_hot_cpu_of_a_just_started_pod_scales_less():
    # pod 0 started now and turned Ready 5 s ago: its sample is unready, so it counts as 0% on a scale-up
    samples = pods(3, start_time=[NOW - 5, NOW - 180, NOW - 180], ready_changed_at=[NOW - 5, NOW - 170, NOW - 170])
    assert resource(3, 30, samples, levels(300, 500, 700)) == (4, 60, 1200)


def test_missing_metrics_count_as_full_request_down_and_zero_up():
    # 990m of 4000m = 24%; the 2 pods without samples count as 100%: 4990 / 8000 = 62% -> ceil(2.48) = 3
    assert resource(4, 100, pods(4), levels(400, 95)) == (3, 24, 495)
    # scaling up: pod 1 runs at 200% of 50%; pod 2 (no sample) and pod 0 (unready) count as 0%:
    # 4000m of 6000m = 66% -> ceil(1.33 x 3) = 4
    assert resource(3, 50, pods(3, ready=[False, True, True]), levels(100, 2000)) == (4, 200, 4000)
    # 45% of 50% asks for fewer, but pod 2 (no sample) at 100% makes it 2900m of 4000m = 72%: the
    # direction flips, so the count stays
    assert resource(3, 50, pods(3, ready=[False, True, True]), levels(100, 450)) == (3, 45, 900)
    # a rolling update's surge pod has no sample yet: 10% becomes 2400m of 6000m = 40%, ceil(0.8 x 3) = 3
    # replicas, more than the 2 wanted while the ratio says down: the count stays
    assert resource(2, 50, pods(3), levels(100, 100)) == (2, 10, 200)


def test_missing_pods_use_the_target_when_it_is_above_100_percent():
    # pod 0 unready; pods 1, 2 report 200m each of 2000m and 4000m; pod 3 (4000m) has no sample and counts
    # as 300% of its request on this scale-down: (400 + 12000) / 10000 = 124% of 300% -> ceil(0.41 x 3) = 2
    samples = pods(4, ready=[False, True, True, True], cpu_request_millis=[2000, 2000, 4000, 4000])
    assert resource(4, 300, samples, levels(200, 100, 100)) == (2, 6, 200)


def test_calculator_errors_are_upstreams():
    with pytest.raises(MetricError, match="no metrics returned from resource metrics API"):
        resource(4, 100, pods(3), {})
    with pytest.raises(MetricError, match="missing request for cpu"):
        resource(1, 100, pods(1, cpu_request_millis=[None]), levels(200))
    with pytest.raises(MetricError, match="did not receive metrics for targeted pods"):
        resource(2, 100, pods(2, phase=["Pending", "Pending"], ready=[False, False]), levels(200, 200))
    with pytest.raises(MetricError, match="no pods returned by selector"):
        resource(1, 100, [], levels(200))


def test_average_value_targets_compare_the_average_usage():
    # plain metric (GetMetricReplicas cases): average 20000 against 15000 -> ceil(1.33 x 3) = 4
    assert plain_metric_replicas(3, 15000, pods(3), {"test-pod-0": 20000, "test-pod-1": 10000, "test-pod-2": 30000},
                                 DEFAULT, NOW, RULES, cpu=False) == (4, 20000)
    # missing pods count as exactly the target on a scale-down: (20000 + 19000 + 21000 + 2 x 20000) / 5 -> keep 5
    assert plain_metric_replicas(5, 20000, pods(5), {"test-pod-0": 20000, "test-pod-1": 19000, "test-pod-2": 21000},
                                 DEFAULT, NOW, RULES, cpu=False) == (5, 20000)
    # CPU AverageValue (GetRawResourceReplicas): 12000m average against 20000m -> ceil(0.6 x 5) = 3
    assert plain_metric_replicas(5, 20000, pods(5), {f"test-pod-{i}": 12000 for i in range(5)},
                                 DEFAULT, NOW, RULES, cpu=True) == (3, 12000)


def test_external_metric_targets():
    # AverageValue (per replica): 8600m over 3 replicas against 2150m -> ceil(8600 / 2150) = 4, 2867m per pod
    assert per_pod_replicas(3, 8600, 2150, DEFAULT) == (4, 2867)
    assert per_pod_replicas(5, 8600, 2867, DEFAULT) == (3, 1720)
    assert per_pod_replicas(3, 8600, 2900, DEFAULT) == (3, 2867)  # 0.99: within tolerance
    assert per_pod_replicas(0, 20000, 5000, DEFAULT) == (4, 0)
    assert per_pod_replicas(0, 0, 5000, DEFAULT) == (0, 0)
    # Value (total): ratio times the ready pods; unready pods are not counted: 8600 / 4400 x 1 -> 2
    assert usage_ratio_replicas(3, 8600, 4400, DEFAULT, pods(3, ready=[False, True, False])) == 2
    assert usage_ratio_replicas(5, 8600, 14334, DEFAULT, pods(5)) == 3
    assert usage_ratio_replicas(3, 8600, 8888, DEFAULT, pods(3)) == 3
    assert usage_ratio_replicas(3, 8900, 8800, Tolerances(0.1, 0.01), pods(3)) == 4


# --- normalization (horizontal.go) -------------------------------------------------------------------------------
def test_without_behavior_a_sync_scales_up_at_most_to_max_of_twice_current_and_4():
    assert (k8s.HPA_SCALE_UP_LIMIT_FACTOR, k8s.HPA_SCALE_UP_LIMIT_MINIMUM) == (2.0, 4.0)
    assert convert_desired_replicas_with_rules(1, 10, 1, 20)[:2] == (4, "ScaleUpLimit")
    assert convert_desired_replicas_with_rules(3, 10, 1, 20)[:2] == (6, "ScaleUpLimit")
    assert convert_desired_replicas_with_rules(5, 100, 1, 8)[:2] == (8, "TooManyReplicas")
    assert convert_desired_replicas_with_rules(5, 0, 2, 8)[:2] == (2, "TooFewReplicas")
    assert convert_desired_replicas_with_rules(5, 7, 2, 8)[:2] == (7, "DesiredWithinRange")


def test_downscale_stabilization_takes_the_highest_recommendation_of_the_window():
    history = ScalingHistory([Recommendation(7, 0.0), Recommendation(5, 100.0)])
    # at 300 the recommendation made at 0 is exactly 300 s old: still inside the window
    assert history.stabilize(2, 300.0, 300) == 7
    # at 301 it is older: its slot takes the new recommendation, and 5 (made at 100) is the highest left
    assert history.stabilize(2, 301.0, 300) == 5
    assert [(r.replicas, r.at) for r in history.recommendations] == [(2, 301.0), (5, 100.0), (2, 300.0)]


def test_behavior_policies_pick_by_select_policy():
    up = default_scale_up_rules()  # Pods 4 / 15 s, Percent 100 / 15 s, Max (pkg/apis/autoscaling/v2/defaults.go)
    assert [(p.type, p.value, p.period_seconds) for p in up.policies] == [("Pods", 4, 15), ("Percent", 100, 15)]
    empty = ScalingHistory()
    assert scale_up_limit(1, empty, up, 0.0) == 5  # max(1 + 4, 2)
    assert scale_up_limit(10, empty, up, 0.0) == 20  # max(14, 20)
    assert scale_up_limit(10, empty, ScalingRules(0, "Min", up.policies), 0.0) == 14
    assert scale_up_limit(10, empty, ScalingRules(0, "Disabled", up.policies), 0.0) == 10
    # Percent rounds up when adding and truncates when removing: 3 x 1.5 = 4.5 -> 5; 3 x 0.5 = 1.5 -> 1
    assert scale_up_limit(3, empty, ScalingRules(0, "Max", (ScalingPolicy("Percent", 50, 60),)), 0.0) == 5
    assert scale_down_limit(3, empty, ScalingRules(None, "Max", (ScalingPolicy("Percent", 50, 60),)), 0.0) == 1
    down = ScalingRules(None, "Min", (ScalingPolicy("Pods", 1, 60), ScalingPolicy("Percent", 50, 60)))
    assert scale_down_limit(10, empty, down, 0.0) == 9  # Min change when removing: max(9, 5)


def test_policies_count_the_changes_made_within_their_period():
    one_per_minute = ScalingRules(0, "Max", (ScalingPolicy("Pods", 1, 60),))
    history = ScalingHistory(scale_down_events=[ScaleEvent(1, 100.0)])
    # 10 now, 11 at the start of the period: one more may not go until the event is 60 s old
    assert scale_down_limit(10, history, one_per_minute, 159.0) == 10
    assert scale_down_limit(10, history, one_per_minute, 160.0) == 9
    rate = convert_desired_replicas_with_behavior_rate(10, 2, 1, 20, default_scale_up_rules(), one_per_minute, history, 130.0)
    assert rate[:2] == (10, "ScaleDownLimit")
    # a scale-up in the period counts against the scale-up limit (4 pods per 15 s)
    history = ScalingHistory(scale_up_events=[ScaleEvent(4, 100.0)])
    pods4 = ScalingRules(0, "Max", (ScalingPolicy("Pods", 4, 15),))
    assert scale_up_limit(8, history, pods4, 110.0) == 8
    assert scale_up_limit(8, history, pods4, 115.0) == 12


def test_scale_events_reuse_slots_older_than_the_longest_period():
    rules = ScalingRules(0, "Max", (ScalingPolicy("Pods", 1, 60), ScalingPolicy("Pods", 5, 120)))
    history = ScalingHistory()
    history.store_scale_event(rules, rules, 10, 9, 0.0)
    history.store_scale_event(rules, rules, 9, 8, 60.0)
    history.store_scale_event(rules, rules, 8, 7, 121.0)  # the event at 0 is past 120 s: its slot is reused
    assert [(e.change, e.at) for e in history.scale_down_events] == [(1, 121.0), (1, 60.0)]


# --- the controller in a simulation --------------------------------------------------------------------------------
class Demand:
    """CPU demand (millicores) of an app, shared evenly by its Ready pods: what a traffic model would feed."""

    def __init__(self, sim, app: str, millis: float) -> None:
        self.sim, self.app, self.millis = sim, app, millis

    def __call__(self, uid: str) -> float | None:
        pod = self.sim.state.pods.get(uid)
        if pod is None or not pod.ready or pod.labels.get("app") != self.app:
            return None
        ready = sum(1 for p in self.sim.state.pods_by_label[("app", self.app)].values() if p.ready and p.deletion_timestamp is None)
        return self.millis / ready


def cpu(percent: int) -> MetricSpec:
    return MetricSpec("Resource", MetricTarget("Utilization", average_utilization=percent), resource="cpu")


def put_hpa(sim, *, name="web", target="web", kind="Deployment", min_replicas=1, max_replicas=10, metrics=None, behavior=None):
    hpa = HorizontalPodAutoscaler(
        name, "default", ScaleTargetRef(kind, target, "apps/v1"), max_replicas, min_replicas,
        (cpu(50),) if metrics is None else metrics, behavior,
    )
    sim.state.put_object("HorizontalPodAutoscaler", "default", name, hpa)
    return hpa


def setup(replicas=3, demand=150.0, nodes=3):
    """A 100m-request Deployment ``web`` with ``replicas`` pods, settled, at t = 30 (so its pods have been Ready
    for more than one metric window), and an HPA controller reading ``demand``."""
    sim = make_sim(nodes=nodes)
    d = deployment(sim, replicas=replicas)
    assert sim.run_until_stable(timeout=30)
    sim.run(30.0)
    metrics = sim.metrics
    load = Demand(sim, "web", demand)
    metrics.register_pod_cpu(load)
    controller = sim.hpa
    return sim, d, load, controller


def scaled(sim):
    return [(e.t, e.from_replicas, e.to_replicas) for e in sim.trace.of_type(ev.HorizontalPodAutoscalerScaled)]


def test_syncs_every_15_seconds_and_exposes_its_status():
    assert k8s.HPA_SYNC_PERIOD_SECONDS == 15.0
    sim, d, _, controller = setup()
    put_hpa(sim)
    sim.run(44.5)
    # enqueueHPA's AddRateLimited: a new HPA waits one sync period for its first sync (not at once)
    assert controller.status("default", "web") is None
    sim.run(45.5)
    assert controller.status("default", "web").observed_at == 45.0
    sim.run(60.5)
    status = sim.state.hpa_status[("default", "web")]
    assert status.observed_at == 60.0  # 45, 60
    assert (status.current_replicas, status.desired_replicas, status.last_scale_time) == (3, 3, None)
    [metric] = status.current_metrics
    assert (metric.type, metric.name, metric.average_utilization, metric.average_value) == ("Resource", "cpu", 50, 50)
    assert status.condition("ScalingActive").reason == "ValidMetricFound"
    assert status.condition("AbleToScale").status == "True"
    assert not scaled(sim)


def test_a_starting_pods_cpu_counts_one_metric_window_after_it_turns_ready():
    # Java-style hot CPU at start-up: a new pod burns 1000m; the old ones use 50m (50% of 100m)
    probe = Probe(initial_delay_seconds=20.0)
    main = ContainerSpec("main", requests=Resources(100, 2**26), cpu_requested=True, memory_requested=True, readiness_probe=probe)
    sim = make_sim()
    d = deployment(sim, replicas=2, tmpl=PodTemplate((("app", "web"),), PodSpec(containers=(main,))))
    sim.run(60.0)
    old = set(sim.state.pods)
    metrics = sim.metrics
    metrics.register_pod_cpu(lambda uid: (50.0 if uid in old else 1000.0) if sim.state.pods[uid].ready else None)
    put_hpa(sim)  # syncs at 60, 75, 90, 105, ...
    sim.run(61.0)
    sim.state.scale_workload(d.uid, 3)
    sim.run(100.0)
    [new] = [p for p in sim.state.pods.values() if p.uid not in old]
    assert 75.0 < new.ready_since <= 90.0  # Ready, but for less than one 15 s window at the sync at 90
    assert not scaled(sim)
    sim.run(120.0)
    # (50 + 50 + 1000) / 300 = 366% of 50% counts only from the sync at 105: ceil(7.33 x 3) = 22, limited to 6
    assert scaled(sim) == [(105.0, 3, 6)]


def test_a_starting_pods_ready_time_is_read_in_whole_seconds():
    """groupPods (pkg/controller/podautoscaler/replica_calculator.go) reads the Ready condition's
    lastTransitionTime, a metav1.Time in whole seconds: a pod Ready at 90.4 s has its CPU counted from
    the sync at 105 s (90 + one 15 s window is not after 105). The model compared the exact 90.4 s and
    waited for the sync at 120 s."""
    probe = Probe(initial_delay_seconds=20.0)
    main = ContainerSpec("main", requests=Resources(100, 2**26), cpu_requested=True, memory_requested=True, readiness_probe=probe)
    sim = make_sim(timing=Timing(container_start_seconds=2.4))
    d = deployment(sim, replicas=2, tmpl=PodTemplate((("app", "web"),), PodSpec(containers=(main,))))
    sim.run(60.0)
    old = set(sim.state.pods)
    sim.metrics.register_pod_cpu(lambda uid: (50.0 if uid in old else 1000.0) if sim.state.pods[uid].ready else None)
    put_hpa(sim)  # syncs at 75, 90, 105, ...
    sim.run(68.0)
    sim.state.scale_workload(d.uid, 3)
    sim.run(100.0)
    [new] = [p for p in sim.state.pods.values() if p.uid not in old]
    assert new.ready_since == pytest.approx(90.4)
    sample = sim.hpa.sample(new)
    assert (sample.start_time, sample.ready_changed_at) == (68.0, 90.0)
    sim.run(110.0)
    assert scaled(sim) == [(105.0, 3, 6)]


def test_a_spike_scales_up_within_two_syncs_and_never_past_max():
    sim, d, load, controller = setup()
    put_hpa(sim, max_replicas=10)
    sim.run(60.5)
    load.millis = 900.0  # 300% of the 100m request against 50%
    sim.run(80.0)
    # the sync at 75 wants ceil(6 x 3) = 18, limited to max(2 x 3, 4) = 6
    assert scaled(sim) == [(75.0, 3, 6)]
    assert d.replicas == 6
    event = sim.trace.of_type(ev.HorizontalPodAutoscalerScaled)[0]
    assert event.reason == "cpu resource utilization (percentage of request) above target"
    assert event.metrics == "cpu 300% (target 50%)" and event.hpa == "default/web" and event.target == "Deployment/web"
    sim.run(300.0)
    # at 90 the 3 new pods have been Ready for 13 s, less than one metric window: they count as 0%, and
    # the metric asks for ceil(1.5 x 6) = 9; but the unlimited 18 recommended at 75 is still in the window,
    # so 18 is limited to max(2 x 6, 4) = 12 and to maxReplicas 10
    assert scaled(sim)[1] == (90.0, 6, 10)
    assert d.replicas == 10 and max(to for _, _, to in scaled(sim)) == 10
    status = controller.status("default", "web")
    assert status.last_scale_time == scaled(sim)[-1][0]
    assert status.condition("ScalingLimited").reason == "TooManyReplicas"


def test_a_rescale_only_the_stabilization_window_asks_for_has_no_reason():
    """horizontal.go takes rescaleReason from the metrics' proposal before normalization: a proposal equal
    to the current count sets none, even when the window's higher recommendation then rescales."""
    sim, d, load, _ = setup(replicas=3, demand=900.0)
    put_hpa(sim, max_replicas=10)
    sim.run(46.0)
    load.millis = 300.0  # 50% of 6 x 100m: the metric proposes the current 6
    sim.run(61.0)
    # at 60 the 18 recommended at 45 is still in the window: 18, limited to 12 and to maxReplicas 10
    assert scaled(sim) == [(45.0, 3, 6), (60.0, 6, 10)]
    reasons = [e.reason for e in sim.trace.of_type(ev.HorizontalPodAutoscalerScaled)]
    assert reasons == ["cpu resource utilization (percentage of request) above target", ""]


def test_a_quiet_period_scales_down_only_after_the_300_second_window():
    assert k8s.HPA_DOWNSCALE_STABILIZATION_SECONDS == 300
    sim, d, load, _ = setup(replicas=6, demand=300.0)  # 50% of 6 x 100m: steady
    put_hpa(sim)
    sim.run(100.0)
    assert not scaled(sim)
    load.millis = 60.0  # 10% of the request: the metric asks for ceil(0.2 x 6) = 2
    # the last high recommendation was made at the sync at 90; it stays in the window until 390
    sim.run(390.5)
    assert not scaled(sim) and d.replicas == 6
    sim.run(405.5)
    assert scaled(sim) == [(405.0, 6, 2)]
    assert sim.trace.of_type(ev.HorizontalPodAutoscalerScaled)[0].reason == "All metrics below target"


def test_scale_down_policy_of_one_pod_per_minute():
    one_per_minute = ScalingRules(0, "Max", (ScalingPolicy("Pods", 1, 60),))
    behavior = HPABehavior(default_scale_up_rules(), one_per_minute)
    sim, d, load, _ = setup(replicas=5, demand=250.0)
    put_hpa(sim, behavior=behavior)
    sim.run(40.0)
    load.millis = 10.0
    sim.run(300.0)
    # no stabilization window: 5 -> 4 at the next sync (45), then one more every 60 s
    assert scaled(sim) == [(45.0, 5, 4), (105.0, 4, 3), (165.0, 3, 2), (225.0, 2, 1)]
    assert d.replicas == 1


def test_behavior_from_a_manifest_defaults_the_scale_down_window_to_300_seconds():
    sim, d, load, controller = setup(replicas=4, demand=200.0)
    sim.apply(load_manifests(text="""
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 8
  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}}]
  behavior:
    scaleDown:
      policies: [{type: Percent, value: 50, periodSeconds: 60}]
"""))
    sim.run(40.0)
    load.millis = 20.0
    sim.run(400.0)
    # the first sync (at 45, one period after the HPA appeared) seeds the window with the current 4
    # (recordInitialRecommendation); with behavior a recommendation counts while it is younger than the
    # window (the controller's 300 s), so it holds 4 through 330; at 345 the metric's 1 is limited by
    # Percent 50 per 60 s to 2, which is also minReplicas
    assert scaled(sim) == [(345.0, 4, 2)]
    assert controller.history("default", "web").scale_down_events[0].change == 2


def test_external_metric_queue_length_per_replica():
    sim = make_sim(nodes=2)
    workers = deployment(sim, name="worker", app="worker", replicas=1)
    assert sim.run_until_stable(timeout=30)
    metrics = sim.metrics
    queue = {"length": 47.0}
    metrics.register_external("queue_length", lambda: queue["length"])
    per_replica = MetricSpec("External", MetricTarget("AverageValue", average_value=Fraction(5)), metric_name="queue_length")
    put_hpa(sim, name="worker", target="worker", max_replicas=20, metrics=(per_replica,))
    sim.run(sim.now + 46)  # the first sync one period after the HPA appears, then every 15 s
    # 47 items at 5 per replica want ceil(47 / 5) = 10: 1 -> 4 (max(2 x 1, 4)) -> 8 (max(2 x 4, 4)) -> 10
    assert [to for _, _, to in scaled(sim)] == [4, 8, 10] and workers.replicas == 10
    assert sim.trace.of_type(ev.HorizontalPodAutoscalerScaled)[0].metrics == "queue_length 47 per pod (target 5)"
    queue["length"] = 0.0
    sim.run(sim.now + 320)
    assert workers.replicas == 1  # 0 items want 0 replicas; minReplicas 1


def test_a_per_replica_target_divides_by_the_pods_that_exist():
    # upstream divides an AverageValue external metric by the target's status.replicas (its pods), not its spec
    sim = make_sim(timing=Timing(controller_sync_seconds=5.0))
    d = deployment(sim, replicas=4)
    assert sim.run_until_stable(timeout=60)
    metrics = sim.metrics
    metrics.register_external("queue_length", lambda: 21.0)
    controller = sim.hpa
    per_replica = MetricSpec("External", MetricTarget("AverageValue", average_value=Fraction(5)), metric_name="queue_length")
    put_hpa(sim, metrics=(per_replica,))
    sim.run(sim.now + 30)
    assert not scaled(sim)  # 21 / (5 x 4) = 1.05: within tolerance
    next_sync = controller.status("default", "web").observed_at + 15
    sim.run(next_sync - 3)
    sim.state.scale_workload(d.uid, 3)  # someone scales down; the controllers see it 5 s later
    sim.run(next_sync + 0.5)
    # 4 pods still exist: 1.05 is within tolerance, so the metric proposes those 4 (not ceil(21 / 5) = 5)
    assert scaled(sim) == [(next_sync, 3, 4)]


def test_external_value_target_uses_ready_pods():
    sim, d, _, controller = setup(replicas=2)
    controller.metrics.register_external("requests_per_second", lambda: 250.0)
    total = MetricSpec("External", MetricTarget("Value", value=Fraction(100)), metric_name="requests_per_second")
    put_hpa(sim, metrics=(total,))
    sim.run(46.0)
    assert scaled(sim) == [(45.0, 2, 4)]  # ceil(2.5 x 2 ready) = 5, limited to max(4, 4)


def test_the_largest_proposal_of_several_metrics_wins():
    sim, d, _, controller = setup(replicas=2, demand=100.0)  # cpu: exactly at 50% -> keep 2
    controller.metrics.register_external("queue_length", lambda: 15.0)
    per_replica = MetricSpec("External", MetricTarget("AverageValue", average_value=Fraction(5)), metric_name="queue_length")
    put_hpa(sim, metrics=(cpu(50), per_replica))
    sim.run(46.0)
    assert scaled(sim) == [(45.0, 2, 3)]
    assert sim.trace.of_type(ev.HorizontalPodAutoscalerScaled)[0].reason == "external metric queue_length above target"


def test_a_failing_metric_blocks_a_scale_down_but_not_a_scale_up():
    sim, d, load, controller = setup(replicas=4, demand=40.0)  # cpu: 10% of 50% asks for 1
    missing = MetricSpec("External", MetricTarget("AverageValue", average_value=Fraction(5)), metric_name="queue_length")
    put_hpa(sim, metrics=(cpu(50), missing))
    sim.run(400.0)
    assert not scaled(sim) and d.replicas == 4
    [failed] = sim.trace.of_type(ev.HorizontalPodAutoscalerFailed)
    assert failed.reason == "FailedComputeMetricsReplicas" and "1 invalid out of 2" in failed.message
    assert controller.status("default", "web").condition("ScalingActive").reason == "FailedGetExternalMetric"
    load.millis = 800.0  # 200% of 50%: the working metric asks for more, and that goes ahead
    sim.run(416.0)
    assert scaled(sim) == [(405.0, 4, 8)]


def test_replicas_out_of_range_are_clamped_without_metrics():
    sim, d, _, _ = setup(replicas=1)
    put_hpa(sim, min_replicas=3, max_replicas=5, metrics=())  # no metrics at all: range still enforced
    sim.run(46.0)
    assert scaled(sim) == [(45.0, 1, 3)]
    assert sim.trace.of_type(ev.HorizontalPodAutoscalerScaled)[0].reason == "Current number of replicas below Spec.MinReplicas"
    sim.state.scale_workload(d.uid, 9)
    sim.run(61.0)
    assert scaled(sim)[-1] == (60.0, 9, 5)
    assert sim.trace.of_type(ev.HorizontalPodAutoscalerScaled)[-1].reason == "Current number of replicas above Spec.MaxReplicas"


def test_an_hpa_with_no_metrics_keeps_the_current_count():
    sim, d, _, controller = setup(replicas=3)
    put_hpa(sim, metrics=())
    sim.run(100.0)
    assert not scaled(sim) and d.replicas == 3
    [failed] = sim.trace.of_type(ev.HorizontalPodAutoscalerFailed)  # once, not at every sync
    assert failed.reason == "FailedComputeMetricsReplicas"
    assert controller.status("default", "web").condition("ScalingActive").status == "False"


def test_no_cpu_samples_keeps_the_current_count():
    sim, d, load, controller = setup(replicas=3)
    load.app = "nothing"  # the source answers for no pod
    put_hpa(sim)
    sim.run(100.0)
    assert not scaled(sim) and d.replicas == 3
    status = controller.status("default", "web")
    assert status.condition("ScalingActive").reason == "FailedGetResourceMetric"
    assert status.current_metrics[0].average_utilization is None


def test_a_missing_target_fails_until_it_exists():
    sim, _, _, controller = setup(replicas=1)
    put_hpa(sim, name="api", target="api")
    sim.run(60.0)
    [failed] = sim.trace.of_type(ev.HorizontalPodAutoscalerFailed)
    assert failed.reason == "FailedGetScale" and failed.hpa == "default/api"
    deployment(sim, name="api", app="api", replicas=0)
    sim.run(76.0)
    status = controller.status("default", "api")
    assert status.condition("AbleToScale").reason == "SucceededGetScale"
    assert status.condition("ScalingActive").reason == "ScalingDisabled"  # zero replicas: scaling disabled


def test_a_statefulset_target_is_scaled():
    from .workload_kit import statefulset

    sim, _, _, controller = setup(replicas=1)
    ss = statefulset(sim, name="db", app="db", replicas=1)
    put_hpa(sim, name="db", target="db", kind="StatefulSet", min_replicas=2, metrics=())
    sim.run(46.0)
    assert ss.replicas == 2


def test_the_new_events_round_trip_through_json():
    trace = Trace()
    trace.append(ev.HorizontalPodAutoscalerScaled(15.0, "default/web", "Deployment/web", 3, 6, "All metrics below target", "cpu 10% (target 50%)"))
    trace.append(ev.HorizontalPodAutoscalerFailed(30.0, "default/web", "FailedGetScale", "no scalable Deployment default/web"))
    assert Trace.from_jsonl(trace.to_jsonl()).events == trace.events
