"""even-load: hand-built traces (pass, fail, what is left out), the false-positive rate over many
seeded fair runs, the power against a skewed split, and real simulations (request and fluid mode,
externalTrafficPolicy: Local over unevenly spread pods)."""

import random
from bisect import bisect_right

import pytest
import yaml
from podquake.model import ClusterSpec, Simulation, load_manifests
from podquake.model import trace as ev
from podquake.model.errors import InputError
from podquake.model.proxy import iptables_endpoint_probabilities
from podquake.model.trace import Trace
from podquake.model.traffic import Constant, External, Internal, LoadGenerator
from podquake.properties import Monitor, check_trace
from podquake.properties.distribution_load import EvenLoad
from podquake.properties.stats import binomial_sf

SERVICE = "default/web"


def pods(k):
    return tuple(f"default/web-{i}" for i in range(k))


def endpoints(t, members, **routing):
    return ev.EndpointsChanged(t, SERVICE, 1, len(members), 0, 0, tuple(members), **routing)


def window(end, counts, members=None, length=10.0):
    """A TrafficWindow ending at ``end`` with ``counts`` offered to ``members`` (zero rows left out, as the model does)."""
    members = members or pods(len(counts))
    rows = tuple((p, float(c), float(c), 0.0, 0.01) for p, c in zip(members, counts) if c)
    total = float(sum(counts))
    return ev.TrafficWindow(end, SERVICE, end - length, (total, total, 0.0, 0.0), rows, ())


def judge(events, **params):
    (verdict,) = check_trace(events, [EvenLoad(**params)])
    return verdict



# --- hand-built traces -----------------------------------------------------------------------------------
def test_a_fair_split_passes():
    verdict = judge([endpoints(1.0, pods(3)), window(20.0, [101, 98, 103]), window(30.0, [95, 104, 99])])
    assert verdict.status == "passed", verdict.line()
    assert verdict.numbers["samples"] == 1 and verdict.numbers["requests"] == 600


def test_a_skewed_split_fails_with_the_endpoint_and_the_numbers():
    verdict = judge([endpoints(1.0, pods(3)), window(20.0, [200, 100, 100])])
    assert verdict.status == "failed"
    assert verdict.objects == ("service/default/web", "pod/default/web-0")
    assert verdict.time == 20.0
    assert verdict.numbers["relative_deviation"] == 0.5 and verdict.numbers["p_value"] < verdict.numbers["level"]
    assert "50.0% of 400 requests" in verdict.message


def test_an_endpoint_that_gets_nothing_counts_as_zero():
    verdict = judge([endpoints(1.0, pods(3)), window(20.0, [150, 150, 0])])
    assert verdict.status == "failed"
    assert verdict.objects[1] == "pod/default/web-2" and verdict.numbers["endpoint_requests"] == 0


def test_significant_but_negligible_skew_passes_and_large_but_insignificant_skew_passes():
    huge = [endpoints(1.0, pods(3)), window(20.0, [105_000, 100_000, 95_000])]  # 5 % off, p ~ 1e-100
    assert judge(huge).status == "passed"
    assert judge(huge, tolerance=0.0).status == "failed"  # no practical tolerance: the test alone decides
    tiny = [endpoints(1.0, pods(3)), window(20.0, [9, 5, 4])]  # +50 %, but 18 requests prove nothing
    assert judge(tiny, min_requests=5).status == "passed"


def test_chi_square_test_option():
    assert judge([endpoints(1.0, pods(3)), window(20.0, [200, 100, 100])], test="chi-square").status == "failed"
    assert judge([endpoints(1.0, pods(3)), window(20.0, [101, 98, 103])], test="chi-square").status == "passed"


def test_fluid_mode_compares_shares_with_the_tolerance():
    fair = judge([endpoints(1.0, pods(3)), window(20.0, [110.5, 100.25, 100.25])])  # +6.6 %: within
    assert fair.status == "passed"
    skewed = judge([endpoints(1.0, pods(3)), window(20.0, [150.5, 100.25, 100.25])])  # +28.8 %
    assert skewed.status == "failed" and "fluid mode" in skewed.message and "p_value" not in skewed.numbers
    assert judge([endpoints(1.0, pods(3)), window(20.0, [150, 100, 100])], mode="fluid").status == "failed"


def test_too_few_requests_is_unknown():
    verdict = judge([endpoints(1.0, pods(3)), window(20.0, [40, 40, 40])])  # 50 per endpoint needed
    assert verdict.status == "unknown" and "fewer than 50 requests per endpoint" in verdict.note
    assert judge([window(20.0, [100, 100, 100])]).status == "unknown"  # no endpoints published: nothing to judge


def test_traffic_only_to_services_with_one_endpoint_says_so():
    """It said "no steady traffic window with enough requests" when the one Service with traffic had
    a single replica (Online Boutique's frontend, in every `podquake run --manifests` example)."""
    verdict = judge([endpoints(1.0, pods(1)), window(20.0, [500]), window(30.0, [500])])
    assert verdict.status == "unknown"
    assert verdict.message == "no Service with traffic had two ready endpoints to compare (default/web): an even split needs two"


def test_unsteady_windows_are_left_out():
    skewed = [200, 100, 100]
    during_fault = [endpoints(1.0, pods(3)), ev.Annotation(12.0, "fault-started", "NodeFailure(...)"), window(20.0, skewed)]
    assert judge(during_fault).status == "unknown"
    healed = during_fault + [ev.Annotation(25.0, "fault-healed", ""), window(30.0, skewed), window(40.0, skewed)]
    verdict = judge(healed)
    assert verdict.status == "failed" and verdict.numbers["windows"] == 1  # the window across the heal is left out
    changed = [endpoints(1.0, pods(3)), ev.EndpointsChanged(15.0, SERVICE, 2, 3, 0, 0, pods(3)[::-1]), window(20.0, skewed)]
    assert judge(changed).status == "failed"  # the same set in another order: no change
    moved = [endpoints(1.0, pods(2)), endpoints(15.0, pods(3)), window(20.0, skewed)]
    assert judge(moved).status == "unknown"  # the set changed inside the window
    stale = [endpoints(1.0, pods(3)), window(20.0, [150, 100, 100, 50], members=pods(4))]  # routed to a pod not ready
    assert judge(stale).status == "unknown" and "1 unsteady window left out" in judge(stale).note
    power = [endpoints(1.0, pods(3)), ev.NodePowerChanged(14.0, "worker-1", False), window(20.0, skewed)]
    assert judge(power).status == "unknown"
    balancer = [endpoints(1.0, pods(3)), ev.LoadBalancerTargetHealth(14.0, SERVICE, "worker-1", True), window(20.0, skewed)]
    assert judge(balancer).status == "unknown"


def test_windows_with_the_same_ready_set_are_pooled():
    # 3 endpoints, then 2, then the same 3 again: two samples, the first pooled across the gap.
    events = [endpoints(1.0, pods(3)), window(20.0, [60, 50, 40]),
              endpoints(21.0, pods(2)), window(40.0, [80, 70], pods(2)),
              endpoints(41.0, pods(3)), window(60.0, [45, 55, 50])]  # fmt: skip
    verdict = judge(events)
    assert verdict.status == "passed" and verdict.numbers["samples"] == 2 and verdict.numbers["requests"] == 450


def test_session_affinity_and_internal_local_policy_are_not_judged():
    skewed = window(20.0, [300, 100, 100])
    sticky = judge([endpoints(1.0, pods(3), session_affinity="ClientIP"), skewed])
    assert sticky.status == "unknown" and "sessionAffinity: ClientIP" in sticky.note
    local = judge([endpoints(1.0, pods(3), internal_traffic_policy="Local"), skewed])
    assert local.status == "unknown" and "internalTrafficPolicy: Local" in local.note
    external = [endpoints(1.0, pods(3), external_traffic_policy="Local"), skewed]
    assert judge(external).status == "failed" and "externalTrafficPolicy: Local" in judge(external).message
    assert judge(external, judge_external_local=False).status == "unknown"


def test_bad_parameters_are_input_errors():
    for params, fragment in [({"alpha": 0.0}, "alpha"), ({"test": "t-test"}, "test"), ({"mode": "exact"}, "mode"), ({"min_requests": 2}, "min_requests")]:
        with pytest.raises(InputError, match=fragment):
            EvenLoad(**params)


# --- the false-positive rate and the power: many seeded runs of the proxy's own split ---------------------
def _iptables_bounds(k):
    """Cumulative bounds of the iptables rule chain's endpoint probabilities (what Proxy.route draws against)."""
    bounds, total = [], 0.0
    for p in iptables_endpoint_probabilities(k)[:-1]:
        total += p
        bounds.append(total)
    return bounds


def _weighted_bounds(weights):
    total, bounds, running = sum(weights), [], 0.0
    for w in weights[:-1]:
        running += w
        bounds.append(running / total)
    return bounds


def _run(seed, k, per_window, windows, bounds):
    """A trace of ``windows`` steady windows, each with ``per_window`` requests routed one by one as the
    iptables proxy does (one uniform draw against the rule chain's cumulative bounds)."""
    rng = random.Random(seed)
    events = [endpoints(1.0, pods(k))]
    for w in range(windows):
        counts = [0] * k
        for _ in range(per_window):
            counts[bisect_right(bounds, rng.random())] += 1
        events.append(window(20.0 + 10.0 * w, counts))
    return events


def _failure_rate(runs, k, per_window, windows=1, bounds=None, **params):
    bounds = bounds or _iptables_bounds(k)
    failed = 0
    for seed in range(runs):
        verdict = judge(_run(seed, k, per_window, windows, bounds), **params)
        assert verdict.status in ("passed", "failed"), verdict.line()
        failed += verdict.status == "failed"
    return failed / runs


def _not_above(rate, runs, alpha=0.01):
    """Whether ``rate`` over ``runs`` runs is consistent with a true rate of at most ``alpha``: the chance
    of seeing that many failures or more at ``alpha`` is above 0.1 % (a true 3 % over 400 runs fails this)."""
    return binomial_sf(round(rate * runs), runs, alpha) > 0.001


@pytest.mark.parametrize("k", [2, 3, 5])
def test_false_positive_rate_at_most_alpha_over_fair_runs(k):
    # The smallest sample judged (50 requests per endpoint), where the tolerance does not bind and the
    # exact test alone decides: at most alpha = 1 %. Measured over these 400 runs: 1.0 %, 0 %, 1.75 %;
    # over 4,000: 0.27 %, 0.65 %, 0.92 % (the report lists the command).
    assert _not_above(_failure_rate(400, k, 50 * k), 400)
    # Larger samples: the default tolerance (20 %) is far beyond the noise: no false positive at all.
    assert _failure_rate(60, k, 300 * k, windows=3) == 0.0


def test_false_positive_rate_of_the_chi_square_option():
    assert _not_above(_failure_rate(400, 2, 100, test="chi-square"), 400)  # 2.25 % here; 1.0 % over 4,000 runs


def test_the_criterion_would_catch_a_rate_above_alpha():
    assert not _not_above(0.03, 400) and not _not_above(0.02, 2000) and _not_above(0.0175, 400)


def test_power_a_two_to_one_split_is_detected():
    # One endpoint of three gets twice the others' share (50 % instead of 33 %).
    skewed = _weighted_bounds([2, 1, 1])
    assert _failure_rate(100, 3, 150, bounds=skewed) >= 0.8  # the smallest sample: 94 % here, 89 % over 1,000 runs
    assert _failure_rate(50, 3, 300, windows=2, bounds=skewed) == 1.0  # four times as many requests: always
    assert _failure_rate(50, 5, 250, windows=2, bounds=_weighted_bounds([2, 1, 1, 1, 1])) == 1.0


# --- real simulations ---------------------------------------------------------------------------------------
def _deployment(replicas=3, cpu="500m"):
    container = {"name": "web", "image": "nginx", "resources": {"requests": {"cpu": cpu}}, "readinessProbe": {"httpGet": {"path": "/", "port": 80}}}
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container]}}
    spec = {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}, "template": template}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": spec}


def _service(**spec):
    body = {"selector": {"app": "web"}, "ports": [{"port": 80}], **spec}
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": body}


def _simulate(*docs, seed, mode, generator, scheduler=None, nodes=3):
    sim = Simulation(ClusterSpec.uniform(nodes=nodes, zones=1), seed=seed, scheduler=scheduler, load_mode=mode)
    sim.apply(load_manifests(text=yaml.safe_dump_all(docs)))
    assert sim.run_until_stable(timeout=120)
    sim.traffic.add(generator)
    return sim


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_real_request_mode_runs_pass_through_a_node_failure(seed):
    sim = _simulate(_deployment(replicas=4), _service(), seed=seed, mode="request",
                    generator=LoadGenerator(SERVICE, Constant(30.0), entry=Internal(node="worker-3")))  # fmt: skip
    monitor = Monitor([EvenLoad()]).attach(sim)
    sim.run_for(60)
    victim = min(sim.state.pods.values(), key=lambda p: p.key).node_name
    if victim == "worker-3":
        victim = "worker-2"
    sim.state.record(ev.Annotation(sim.now, "fault-started", f"NodeFailure(node={victim!r})"))
    sim.kubelets[victim].power_off()
    sim.run_for(90)
    sim.kubelets[victim].power_on()
    sim.state.record(ev.Annotation(sim.now, "fault-healed", f"NodeFailure(node={victim!r})"))
    sim.run_for(60)
    (verdict,) = monitor.verdicts()
    assert verdict.status == "passed", verdict.line()
    assert verdict.numbers["requests"] > 2000 and "unsteady windows left out" in verdict.note
    # The recorded trace, read back, judges the same.
    assert check_trace(Trace.from_jsonl(sim.trace.to_jsonl()), [EvenLoad()]) == [verdict]


@pytest.mark.parametrize("mode", ["fluid", "request"])
def test_external_traffic_policy_local_over_unevenly_spread_pods_fails(mode):
    # 1.5-CPU pods on 4-CPU nodes, first fit: two on worker-1, one on worker-2. The load balancer
    # spreads traffic evenly over the two nodes with a local endpoint, so the lone pod gets half of
    # it and the other two a quarter each (tests/model/test_load.py shows the model does so). That
    # is the imbalance real clusters show under this policy, and even-load reports it.
    docs = (_deployment(cpu="1500m"), _service(type="LoadBalancer", externalTrafficPolicy="Local"))
    sim = _simulate(*docs, seed=1, mode=mode, scheduler="first-fit", generator=LoadGenerator(SERVICE, Constant(60.0), entry=External()))
    monitor = Monitor([EvenLoad()]).attach(sim)
    sim.run_for(120)
    (verdict,) = monitor.verdicts()
    assert verdict.status == "failed", verdict.line()
    lone = next(p.key for p in sim.state.pods.values() if p.node_name == "worker-2")
    assert verdict.objects == ("service/default/web", f"pod/{lone}")
    assert verdict.numbers["relative_deviation"] == pytest.approx(0.5, abs=0.1)
    assert "externalTrafficPolicy: Local" in verdict.message and "worker-1 2, worker-2 1" in verdict.message
    (accepted,) = check_trace(sim.trace, [EvenLoad(judge_external_local=False)])
    assert accepted.status == "unknown" and "judge_external_local=False" in accepted.note


def test_external_traffic_policy_local_over_evenly_spread_pods_passes():
    # The default scheduler spreads the three pods one per node: each node's share is one pod's.
    docs = (_deployment(cpu="1500m"), _service(type="LoadBalancer", externalTrafficPolicy="Local"))
    sim = _simulate(*docs, seed=2, mode="request", generator=LoadGenerator(SERVICE, Constant(40.0), entry=External()))
    assert sorted(p.node_name for p in sim.state.pods.values()) == ["worker-1", "worker-2", "worker-3"]
    monitor = Monitor([EvenLoad()]).attach(sim)
    sim.run_for(120)
    (verdict,) = monitor.verdicts()
    assert verdict.status == "passed", verdict.line()
