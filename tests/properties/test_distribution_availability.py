"""availability-slo: total outages from one node failure, the success rate against the SLO (which
windows count), its false-positive rate over seeded runs, and real simulations with a node failure:
the default scheduler passes, a packing plug-in fails."""

import random

import pytest
import yaml
from podquake.model import ClusterSpec, Simulation, load_manifests
from podquake.model import trace as ev
from podquake.model.errors import InputError
from podquake.model.traffic import Constant, External, LoadGenerator
from podquake.properties import Monitor, check_trace
from podquake.properties.distribution_availability import AvailabilitySlo
from podquake.properties.stats import binomial_sf

SERVICE = "default/web"
OWNER = "Deployment/default/web"


def cluster(replicas=3, placement=("w1", "w1", "w1"), nodes=("w1", "w2", "w3"), cpu=4000):
    """Nodes, a Deployment of ``replicas`` and its pods bound as ``placement`` says, all ready and published."""
    events = [ev.NodeAdded(0.0, n, "zone-a", cpu, 8 << 30, 110, (("kubernetes.io/hostname", n),)) for n in nodes]
    events.append(ev.WorkloadCreated(0.0, "Deployment", "default/web", replicas))
    keys = []
    for i, where in enumerate(placement):
        key = f"default/web-{i}"
        keys.append(key)
        events += [ev.PodCreated(1.0, key, OWNER, 1000, 1 << 30, "", (("app", "web"),)), ev.PodBound(1.0, key, where),
                   ev.PodReadyChanged(3.0, key, True)]  # fmt: skip
    events.append(ev.EndpointsChanged(4.0, SERVICE, 1, len(keys), 0, 0, tuple(keys)))
    return events, keys


def traffic(end, served, failed=0.0, reasons=None, length=10.0):
    failures = tuple((reasons or {"endpoint-dead": failed}).items()) if failed else ()
    return ev.TrafficWindow(end, SERVICE, end - length, (served + failed, served, failed, 0.0), (), failures)


def steady(start, count, served=1000.0, failed=0.0, **kw):
    return [traffic(start + 10.0 * i, served, failed, **kw) for i in range(1, count + 1)]


def judge(events, **params):
    (verdict,) = check_trace(events, [AvailabilitySlo(**params)])
    return verdict


# --- outages -------------------------------------------------------------------------------------------
def test_one_node_failure_taking_every_replica_is_a_breach():
    events, _ = cluster()
    events += [ev.NodePowerChanged(100.0, "w1", False), ev.NodeReadyChanged(150.0, "w1", "Unknown", "NodeStatusUnknown"),
               ev.EndpointsChanged(151.0, SERVICE, 2, 0, 0, 3, ())]  # fmt: skip
    verdict = judge(events)
    assert verdict.status == "failed" and verdict.time == 151.0
    assert verdict.objects[:2] == ("service/default/web", "node/w1")
    assert verdict.numbers == {"node_failed_at": 100.0, "ready_before": 3, "desired": 3, "room_elsewhere": 8}
    assert "node w1 failed at t=100s holding all 3" in verdict.message


def test_replicas_on_several_nodes_survive_and_what_is_not_a_single_node_failure():
    spread, _ = cluster(placement=("w1", "w2", "w3"))
    down_one = [ev.NodePowerChanged(100.0, "w1", False), ev.EndpointsChanged(151.0, SERVICE, 2, 2, 0, 1, ("default/web-1", "default/web-2"))]
    assert judge(spread + down_one).status == "passed"
    # Two nodes down at once: not a single node failure.
    packed, _ = cluster()
    two = [ev.NodePowerChanged(90.0, "w2", False), ev.NodePowerChanged(100.0, "w1", False), ev.EndpointsChanged(151.0, SERVICE, 2, 0, 0, 3, ())]
    assert judge(packed + two).status == "passed"
    # One replica desired: nothing to spread.
    single, _ = cluster(replicas=1, placement=("w1",))
    assert judge(single + [ev.NodePowerChanged(100.0, "w1", False), ev.EndpointsChanged(151.0, SERVICE, 2, 0, 0, 1, ())]).status == "passed"
    # The endpoints were already down to one before the node failed: its failure alone did not do it.
    thinned = packed + [ev.EndpointsChanged(50.0, SERVICE, 2, 1, 0, 2, ("default/web-0",)), ev.NodePowerChanged(100.0, "w1", False),
                        ev.EndpointsChanged(151.0, SERVICE, 3, 0, 0, 3, ())]  # fmt: skip
    assert judge(thinned).status == "passed"


def test_a_node_failure_while_other_faults_are_in_force_is_no_single_failure():
    """Two drains in force leave w1 the one schedulable node, so every replica lands there; w1 then
    fails. The replicas shared w1 because the faults left nowhere else, not because the scheduler
    packed them: a 1,000-example default-scheduler campaign failed on it (room counted on a node
    uncordoned after the failure). One fault alone (the node failure) is still judged."""
    events, _ = cluster()
    drains = [ev.Annotation(20.0, "fault-started", "NodeDrain(node='w2')"), ev.Annotation(30.0, "fault-started", "NodeDrain(node='w3')")]
    failure = [ev.Annotation(100.0, "fault-started", "NodeFailure(node='w1')"), ev.NodePowerChanged(100.0, "w1", False),
               ev.EndpointsChanged(151.0, SERVICE, 2, 0, 0, 3, ())]  # fmt: skip
    assert judge(events + drains + failure).status == "passed"
    assert judge(events + failure).status == "failed"


def test_no_room_elsewhere_is_not_the_services_fault():
    # The other nodes are full (one 4-CPU pod each, 4 CPUs): the replicas could not have been elsewhere.
    events, _ = cluster(cpu=3000, placement=("w1", "w1", "w1"))
    filler = []
    for i, where in enumerate(("w2", "w3")):
        filler += [ev.PodCreated(1.0, f"default/big-{i}", "", 3000, 1 << 20), ev.PodBound(1.0, f"default/big-{i}", where)]
    events += filler + [ev.NodePowerChanged(100.0, "w1", False), ev.EndpointsChanged(151.0, SERVICE, 2, 0, 0, 3, ())]
    assert judge(events).status == "passed"


# --- the success rate ------------------------------------------------------------------------------------
def test_a_success_rate_below_the_slo_fails_with_the_numbers():
    events, _ = cluster(placement=("w1", "w2", "w3"))
    events += steady(10.0, 30, served=970.0, failed=30.0)
    verdict = judge(events)
    assert verdict.status == "failed", verdict.line()
    assert verdict.numbers["success_rate"] == 0.97 and verdict.numbers["p_value"] < 0.01
    assert "endpoint-dead 900" in verdict.message and "below the 99.00% SLO" in verdict.message


def test_a_rate_a_little_under_the_slo_by_chance_passes_in_request_mode_but_not_in_fluid_mode():
    events, _ = cluster(placement=("w1", "w2", "w3"))
    noisy = events + steady(10.0, 10, served=99.0, failed=1.0) + steady(110.0, 1, served=96.0, failed=4.0)
    assert judge(noisy).status == "passed"  # 14 of 1100 failed (98.7 %): P(X >= 14 | p=0.01) = 0.22, chance
    worse = events + steady(10.0, 10, served=98.0, failed=2.0) + steady(110.0, 1, served=99.0, failed=1.0)
    assert judge(worse).status == "failed"  # 21 of 1100 (98.1 %): P(X >= 21 | p=0.01) = 0.0045 < 0.01
    fluid = events + steady(10.0, 10, served=98.7, failed=1.3) + steady(110.0, 1, served=96.0, failed=4.0)
    assert judge(fluid).status == "failed"  # fractional: the rate is exact, compared directly


def test_failures_in_the_detection_grace_are_excused_and_after_it_they_count():
    events, _ = cluster(placement=("w1", "w2", "w3"))
    base = events + steady(10.0, 9)
    blip = [ev.Annotation(100.0, "fault-started", "NodeFailure(node='w1')"), ev.NodePowerChanged(100.0, "w1", False)]
    blip += steady(100.0, 6, served=667.0, failed=333.0) + steady(160.0, 20)  # a third failing for 60 s: within 65 s
    verdict = judge(base + blip)
    assert verdict.status == "passed" and "the detection grace after a fault" in verdict.note
    late = base + blip[:2] + steady(100.0, 12, served=667.0, failed=333.0) + steady(220.0, 20)  # for 120 s
    assert judge(late).status == "failed"
    assert judge(late, grace=125.0).status == "passed"


def test_what_else_is_left_out():
    events, _ = cluster(placement=("w1", "w2", "w3"))
    bad = {"served": 500.0, "failed": 500.0}
    # Before the Service had two ready endpoints (the endpoints are published at t=4).
    assert judge(events[:-1] + steady(0.0, 10, **bad) + events[-1:]).status == "passed"
    # A network partition, and its grace after the heal.
    cut = [ev.NetworkPartitioned(100.0, 1, "node-cut-off", "w1"), ev.NetworkHealed(200.0, 1, "node-cut-off", "w1")]
    assert judge(events + cut + steady(100.0, 16, **bad) + steady(270.0, 10)).status == "passed"
    # A traffic spike.
    assert judge(events + [ev.TrafficSpike(95.0, SERVICE, 5.0, 100.0, 60.0)] + steady(100.0, 12, **bad)).status == "passed"
    # Failures of a dead client or entry node are not the Service's.
    gone = steady(10.0, 10, served=500.0, failed=500.0, reasons={"node-down": 400.0, "no-client": 100.0})
    assert judge(events + gone).numbers["lowest_success_rate"] == 1.0
    # A load balancer with no healthy target yet.
    lb = [ev.LoadBalancerChanged(5.0, SERVICE, "created")] + steady(10.0, 4, **bad)
    lb += [ev.LoadBalancerTargetHealth(45.0, SERVICE, "w1", True)] + steady(50.0, 20)
    verdict = judge(events + lb)
    assert verdict.status == "passed" and "before its load balancer had a healthy target" in verdict.note


def test_two_faults_at_once_are_not_the_single_failure_the_promise_covers():
    """Two replicas: web-0 on w1 crash-loops from 20 (a fault in force), w2 fails at 100 with web-1.
    The ready-made scheduler suite failed the default scheduler on such a run (a crash loop, a pod
    kill and node failures at once)."""
    events, _ = cluster(replicas=2, placement=("w1", "w2"))
    crash = [ev.Annotation(20.0, "fault-started", "ContainerCrash(pod=0, repeat=True)"), ev.PodReadyChanged(20.0, "default/web-0", False)]
    down = [ev.Annotation(100.0, "fault-started", "NodeFailure(node='w2')"), ev.NodePowerChanged(100.0, "w2", False)]
    outage = steady(10.0, 9) + steady(100.0, 20, served=0.0, failed=1000.0, reasons={"no-endpoints": 1000.0})
    verdict = judge(sorted(events + crash + down + outage, key=lambda event: event.t))
    assert verdict.status == "passed" and "two or more faults at once" in verdict.note
    assert judge(events + down + outage).status == "failed"  # the node failure alone: the outage counts
    healed = [ev.Annotation(150.0, "fault-healed", "ContainerCrash(pod=0, repeat=True)")]  # one fault again from 150
    verdict = judge(sorted(events + crash + down + healed + outage, key=lambda event: event.t))
    assert verdict.status == "failed" and "two or more faults at once" in verdict.note  # the windows from 215 count


def test_no_room_for_the_desired_replicas_leaves_windows_out():
    # w2 and w3 are cordoned and w1 is down: its replica has nowhere to go (1.5-CPU nodes, 1-CPU pods).
    events, _ = cluster(cpu=1500, placement=("w1", "w2", "w3"))
    events += [ev.NodeCordoned(50.0, "w2", True), ev.NodeCordoned(50.0, "w3", True), ev.NodePowerChanged(60.0, "w1", False)]
    verdict = judge(events + steady(200.0, 20, served=0.0, failed=100.0))
    assert verdict.status == "passed" and "the healthy nodes lacked room for the replicas" in verdict.note


def test_parameters_are_checked():
    with pytest.raises(InputError, match="slo"):
        AvailabilitySlo(slo=1.5)
    assert AvailabilitySlo().grace == 65.0


# --- the false-positive rate: requests failing independently at exactly the SLO's allowance --------------
def _bernoulli_run(seed, fail_probability, windows=20, per_window=200):
    rng = random.Random(seed)
    events, _ = cluster(placement=("w1", "w2", "w3"))
    for i in range(1, windows + 1):
        failed = sum(rng.random() < fail_probability for _ in range(per_window))
        events.append(traffic(10.0 * i, float(per_window - failed), float(failed)))
    return events


def test_false_positive_rate_at_the_slo_and_power_below_it():
    # Each request fails independently with probability 1 - slo: a Service exactly at its SLO. At most
    # alpha = 1 % of runs may fail: 1 of these 300 does (0.8 % over 2,000 runs). The count must not be
    # significantly above 1 % (the chance of as many at 1 % above 0.1 %).
    runs = 300
    failures = sum(judge(_bernoulli_run(seed, 0.01)).status == "failed" for seed in range(runs))
    assert binomial_sf(failures, runs, 0.01) > 0.001
    worse = sum(judge(_bernoulli_run(seed, 0.02)).status == "failed" for seed in range(100)) / 100
    assert worse >= 0.9  # twice the allowance over 4,000 requests: caught (100 % here, 99.6 % over 500 runs)


# --- real simulations ------------------------------------------------------------------------------------
class PackOnOneNode:
    name = "pack"

    def schedule(self, pod, cluster):
        for candidate in cluster.nodes:
            if candidate.ready and not candidate.unschedulable and pod.requests.fits_in(candidate.allocatable - candidate.requested):
                return candidate.name
        return None


def _node_failure_run(seed, mode, scheduler=None, mark=True):
    container = {"name": "web", "image": "nginx", "resources": {"requests": {"cpu": "500m"}}, "readinessProbe": {"httpGet": {"path": "/", "port": 80}}}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                  "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                           "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container]}}}}  # fmt: skip
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
               "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80}]}}  # fmt: skip
    sim = Simulation(ClusterSpec.uniform(nodes=4, zones=2), seed=seed, scheduler=scheduler, load_mode=mode)
    monitor = Monitor([AvailabilitySlo()]).attach(sim)
    sim.apply(load_manifests(text=yaml.safe_dump_all([deployment, service])))
    assert sim.run_until_stable(timeout=120)
    sim.traffic.add(LoadGenerator(SERVICE, Constant(30.0), entry=External()))
    sim.run_for(100)
    victim = min(sim.state.pods.values(), key=lambda p: p.key).node_name
    if mark:
        sim.state.record(ev.Annotation(sim.now, "fault-started", f"NodeFailure(node={victim!r})"))
    sim.kubelets[victim].power_off()
    sim.run_for(150)
    sim.kubelets[victim].power_on()
    if mark:
        sim.state.record(ev.Annotation(sim.now, "fault-healed", f"NodeFailure(node={victim!r})"))
    sim.run_for(250)
    return sim, monitor, victim


@pytest.mark.parametrize(("seed", "mode", "mark"), [(1, "fluid", True), (2, "fluid", False), (3, "request", True), (4, "request", False)])
def test_the_default_scheduler_survives_a_node_failure(seed, mode, mark):
    sim, monitor, _ = _node_failure_run(seed, mode, mark=mark)
    (verdict,) = monitor.verdicts()
    assert verdict.status == "passed", verdict.line()
    assert verdict.numbers["services"] == 1 and verdict.numbers["lowest_success_rate"] >= 0.99
    failed = sum(w.failed for w in sim.trace.events if isinstance(w, ev.TrafficWindow))
    assert failed > 0  # requests did fail (a dead pod until the node was noticed), within the grace


@pytest.mark.parametrize("mode", ["fluid", "request"])
def test_a_packing_scheduler_turns_a_node_failure_into_an_outage(mode):
    sim, monitor, victim = _node_failure_run(5, mode, scheduler=PackOnOneNode())
    (verdict,) = monitor.verdicts()
    assert verdict.status == "failed"
    assert verdict.objects[:2] == ("service/default/web", f"node/{victim}")
    assert verdict.numbers["ready_before"] == 3 and verdict.numbers["desired"] == 3
    assert verdict.violations == 2  # the outage, and the success rate it cost
    assert check_trace(sim.trace, [AvailabilitySlo()]) == [verdict]
