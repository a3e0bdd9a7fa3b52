"""spread-within-skew: upstream's PodTopologySpread filter on hand-built traces (minDomains, which
pods and nodes count, inclusion policies, matchLabelKeys), and real simulations: the default
scheduler never trips it (several seeds, with node failures and scaling), a packing plug-in does."""

import json
import random

import pytest
import yaml
from podquake.model import ClusterSpec, Simulation, load_manifests
from podquake.model import trace as ev
from podquake.properties import Ledger, Monitor, check_trace
from podquake.properties.distribution_spread import SpreadWithinSkew, spread_check

HOST = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"


def constraint(key=HOST, skew=1, when="DoNotSchedule", selector=None, **extra):
    body = {
        "maxSkew": skew,
        "topologyKey": key,
        "whenUnsatisfiable": when,
        "labelSelector": {"matchLabels": {"app": "web"}} if selector is None else selector,
        "minDomains": None,
        "nodeAffinityPolicy": None,
        "nodeTaintsPolicy": None,
        "matchLabelKeys": [],
    }
    body.update(extra)
    return body


def spec_event(*constraints, node_selector=None, tolerations=()):
    body = {
        "containers": [["web", 100, 1 << 20]],
        "nodeSelector": node_selector or {},
        "requiredNodeAffinity": None,
        "restartPolicy": "Always",
        "tolerations": list(tolerations),
        "topologySpreadConstraints": list(constraints),
    }
    return ev.PodSpecDefined(0.0, "spec-1", json.dumps(body, sort_keys=True))


def node(name, zone="zone-a", labels=None, taints=()):
    pairs = {HOST: name, ZONE: zone, **(labels or {})}
    return ev.NodeAdded(0.0, name, zone, 4000, 8 << 30, 110, tuple(sorted(pairs.items())), tuple(taints))


def pod(name, namespace="default", labels=None, spec="spec-1", t=1.0):
    pairs = labels if labels is not None else {"app": "web"}
    return ev.PodCreated(t, f"{namespace}/{name}", "", 100, 1 << 20, spec, tuple(sorted(pairs.items())))


def bind(name, node_name, t=2.0, namespace="default"):
    return ev.PodBound(t, f"{namespace}/{name}", node_name)


def judge(events):
    (verdict,) = check_trace(events, [SpreadWithinSkew()])
    return verdict



# --- hand-built traces ------------------------------------------------------------------------------------
def test_balanced_placements_pass_and_piling_fails():
    base = [node("w1"), node("w2"), spec_event(constraint()), pod("a"), pod("b"), pod("c")]
    assert judge(base + [bind("a", "w1"), bind("b", "w2"), bind("c", "w1")]).status == "passed"  # 2 vs 1: skew 1
    piled = judge(base + [bind("a", "w1"), bind("b", "w1", t=3.0)])
    assert piled.status == "failed" and piled.time == 3.0
    assert piled.numbers["skew"] == 2 and piled.numbers["compliant_nodes"] == 1
    assert piled.objects == ("pod/default/b", "node/w1")


def test_pods_bound_by_their_own_node_name_are_counted_but_not_judged():
    """No scheduler placed them (upstream assignedPod) and the kubelet does not check spread."""
    named = spec_event(constraint())
    body = json.loads(named.body)
    body["nodeName"] = "w1"
    named = ev.PodSpecDefined(0.0, "spec-2", json.dumps(body, sort_keys=True))
    events = [node("w1"), node("w2"), spec_event(constraint()), named, pod("a", spec="spec-2"), pod("b", spec="spec-2")]
    events += [bind("a", "w1"), bind("b", "w1", t=3.0)]
    assert judge(events).status == "passed"
    # they count for a pod the scheduler places: w1 holds 2, so the third must go to w2
    assert judge(events + [pod("c"), bind("c", "w1", t=4.0)]).status == "failed"
    assert judge(events + [pod("c"), bind("c", "w2", t=4.0)]).status == "passed"


def test_zones_are_domains_and_a_second_constraint_is_checked_too():
    nodes = [node("a1", "zone-a"), node("a2", "zone-a"), node("b1", "zone-b")]
    spec = spec_event(constraint(ZONE), constraint(HOST, skew=2))
    base = nodes + [spec] + [pod(n) for n in "pqr"]
    assert judge(base + [bind("p", "a1"), bind("q", "b1"), bind("r", "a2")]).status == "passed"
    verdict = judge(base + [bind("p", "a1"), bind("q", "a2")])  # zone-a 2, zone-b 0
    assert verdict.status == "failed" and f"its {ZONE} domain zone-a" in verdict.message


def test_min_domains_counts_the_minimum_as_zero_while_domains_are_too_few():
    base = [node("w1"), node("w2"), pod("a"), pod("b"), pod("c")]
    places = [bind("a", "w1"), bind("b", "w2"), bind("c", "w1")]
    assert judge(base + [spec_event(constraint())] + places).status == "passed"
    verdict = judge(base + [spec_event(constraint(minDomains=3))] + places)  # 1 + 1 - 0 > 1
    assert verdict.status == "failed" and "fewer than minDomains 3" in verdict.message
    assert verdict.numbers["compliant_nodes"] == 0 and "should have stayed Pending" in verdict.message


def test_which_pods_count():
    base = [node("w1"), node("w2"), spec_event(constraint()), pod("a"), pod("b")]
    # A terminating pod no longer counts (upstream skips pods with a deletionTimestamp).
    terminating = [bind("a", "w1"), ev.PodDeletionRequested(2.5, "default/a", "scale-down"), bind("b", "w1", t=3.0)]
    assert judge(base + terminating).status == "passed"
    # Nor one in another namespace, nor one the selector does not match.
    others = [pod("x", namespace="other"), pod("y", labels={"app": "db"}), bind("x", "w1", namespace="other"), bind("y", "w1"), bind("a", "w1", t=3.0)]
    assert judge(base + others).status == "passed"
    # Deleted pods are gone from their node.
    deleted = [bind("a", "w1"), ev.PodDeleted(2.5, "default/a", "w1", "deleted"), bind("b", "w1", t=3.0)]
    assert judge(base + deleted).status == "passed"


def test_selectors_missing_and_empty_count_no_pods():
    for selector in ({}, {"matchLabels": {}}):
        events = [node("w1"), node("w2"), spec_event(constraint(selector=selector)), pod("a"), pod("b"), bind("a", "w1"), bind("b", "w1")]
        assert judge(events).status == "passed"
    none = [node("w1"), node("w2"), spec_event(dict(constraint(), labelSelector=None)), pod("a"), pod("b"), bind("a", "w1"), bind("b", "w1")]
    assert judge(none).status == "passed"


def test_match_label_keys_narrow_the_count_to_the_pods_own_revision():
    spec = spec_event(constraint(matchLabelKeys=["pod-template-hash"]))
    old = {"app": "web", "pod-template-hash": "v1"}
    new = {"app": "web", "pod-template-hash": "v2"}
    events = [node("w1"), node("w2"), spec, pod("a", labels=old), pod("b", labels=new), bind("a", "w1"), bind("b", "w1")]
    assert judge(events).status == "passed"  # a is another revision: not counted for b
    same = [node("w1"), node("w2"), spec, pod("a", labels=new), pod("b", labels=new), bind("a", "w1"), bind("b", "w1")]
    assert judge(same).status == "failed"


def test_node_inclusion_policies():
    nodes = [node("w1", labels={"disk": "ssd"}), node("w2", labels={"disk": "ssd"}), node("w3", labels={"disk": "hdd"})]
    places = [pod("a"), pod("b"), pod("c"), bind("a", "w1"), bind("b", "w2"), bind("c", "w1")]
    # Honor (the default): w3 does not match the node selector, so it is no domain; 2 vs 1 is fine.
    assert judge(nodes + [spec_event(constraint(), node_selector={"disk": "ssd"})] + places).status == "passed"
    # Ignore: w3 is a domain with 0 matching pods, so 2 on w1 is a skew of 2.
    ignore = spec_event(constraint(nodeAffinityPolicy="Ignore"), node_selector={"disk": "ssd"})
    assert judge(nodes + [ignore] + places).status == "failed"
    # nodeTaintsPolicy Honor leaves out a node whose NoSchedule taint the pod does not tolerate.
    tainted = [node("w1"), node("w2"), node("w3", taints=(("dedicated", "gpu", "NoSchedule"),))]
    assert judge(tainted + [spec_event(constraint(nodeTaintsPolicy="Honor"))] + places).status == "passed"
    assert judge(tainted + [spec_event(constraint())] + places).status == "failed"  # Ignore: w3 counts, empty


def test_a_node_without_the_topology_key_is_rejected_and_schedule_anyway_is_not_judged():
    bare = ev.NodeAdded(0.0, "bare", "zone-a", 4000, 8 << 30, 110, ())
    verdict = judge([node("w1"), bare, spec_event(constraint()), pod("a"), bind("a", "bare")])
    assert verdict.status == "failed" and "lacks the topology key" in verdict.message
    soft = [node("w1"), node("w2"), spec_event(constraint(when="ScheduleAnyway")), pod("a"), pod("b"), bind("a", "w1"), bind("b", "w1")]
    assert judge(soft).status == "passed"


# --- real simulations ------------------------------------------------------------------------------------
def _deployment(name, replicas, zone_skew=1, host_skew=1, **extra):
    selector = {"matchLabels": {"app": name}}
    spread = [
        {"maxSkew": zone_skew, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule", "labelSelector": selector, **extra},
        {"maxSkew": host_skew, "topologyKey": HOST, "whenUnsatisfiable": "DoNotSchedule", "labelSelector": selector, **extra},
    ]
    container = {"name": name, "image": "nginx", "resources": {"requests": {"cpu": "300m", "memory": "256Mi"}}}
    template = {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container], "topologySpreadConstraints": spread}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": selector, "template": template}}  # fmt: skip


class PackOnOneNode:
    """A buggy plug-in: every pod on the first Ready node with room, spread constraints ignored."""

    name = "pack"

    def schedule(self, pod, cluster):
        for candidate in cluster.nodes:
            if candidate.ready and not candidate.unschedulable and pod.requests.fits_in(candidate.allocatable - candidate.requested):
                return candidate.name
        return None


def _run(seed, scheduler=None):
    sim = Simulation(ClusterSpec.uniform(nodes=6, zones=3), seed=seed, scheduler=scheduler, load_mode=None)
    monitor = Monitor([SpreadWithinSkew()]).attach(sim)
    docs = [_deployment("web", 6), _deployment("api", 4, zone_skew=2), _deployment("cache", 3, nodeTaintsPolicy="Honor")]
    sim.apply(load_manifests(text=yaml.safe_dump_all(docs)))
    sim.run_until_stable(timeout=120)
    sim.kubelets["worker-2"].power_off()  # its pods terminate after the toleration; replacements are placed
    sim.run_for(400)
    for name, replicas in (("web", 8), ("api", 2)):
        sim.state.scale_workload(sim.state.workload_named("Deployment", "default", name).uid, replicas)
    sim.kubelets["worker-2"].power_on()
    sim.run_for(200)
    return sim, monitor


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_default_scheduler_never_trips_it(seed):
    sim, monitor = _run(seed)
    (verdict,) = monitor.verdicts()
    assert verdict.status == "passed", verdict.line()
    bindings = [e for e in sim.trace.events if isinstance(e, ev.PodBound)]  # every pod here is constrained
    failed_at = next(e.t for e in sim.trace.events if isinstance(e, ev.NodePowerChanged))
    assert len(bindings) >= 13 and sum(e.t > failed_at for e in bindings) >= 4  # replacements and scale-ups judged
    # The filter did bite: a pod waited rather than break the skew (worker-2, NotReady, still counts
    # as an empty hostname domain, as upstream's does), and the property agreed with the wait.
    assert any(isinstance(e, ev.PodUnschedulable) for e in sim.trace.events)


@pytest.mark.parametrize("seed", [1, 2])
def test_a_packing_scheduler_fails_it(seed):
    sim, monitor = _run(seed, PackOnOneNode())
    (verdict,) = monitor.verdicts()
    assert verdict.status == "failed"
    assert verdict.objects[1] == "node/worker-1" and verdict.numbers["compliant_nodes"] > 0
    assert verdict.violations > 5
    assert check_trace(sim.trace, [SpreadWithinSkew()]) == [verdict]  # replayed, the same verdict


# --- the incremental check agrees with a plain scan of the ledger -------------------------------------------
def _random_trace(seed):
    """Random nodes (two zones, one tainted, one without the zone label), three specs with hard
    constraints (minDomains, Honor policies, matchLabelKeys), and random bindings and deletions."""
    rng = random.Random(seed)
    events = [node(f"w{i}", zone=rng.choice(["zone-a", "zone-b"])) for i in range(5)]
    events.append(node("t1", taints=(("dedicated", "x", "NoSchedule"),)))
    events.append(ev.NodeAdded(0.0, "nozone", "", 4000, 8 << 30, 110, ((HOST, "nozone"),)))
    specs = [
        spec_event(constraint(ZONE, skew=1), constraint(HOST, skew=2)),
        spec_event(constraint(HOST, skew=1, minDomains=6, nodeTaintsPolicy="Honor")),
        spec_event(constraint(ZONE, skew=2, matchLabelKeys=["rev"], nodeAffinityPolicy="Ignore"), node_selector={ZONE: "zone-a"}),
    ]
    for i, spec in enumerate(specs):
        events.append(ev.PodSpecDefined(0.0, f"spec-{i}", spec.body))
    names = [e.node for e in events if isinstance(e, ev.NodeAdded)]
    live: list[str] = []
    t = 1.0
    for i in range(60):
        t += 1.0
        if live and rng.random() < 0.25:
            victim = live.pop(rng.randrange(len(live)))
            kind = rng.choice([ev.PodDeletionRequested, ev.PodDeleted])
            events.append(kind(t, victim, "x") if kind is ev.PodDeletionRequested else ev.PodDeleted(t, victim, "", "x"))
            continue
        labels = {"app": "web", "rev": rng.choice(["1", "2"])}
        events.append(pod(f"p{i}", namespace=rng.choice(["default", "default", "other"]), labels=labels, spec=f"spec-{rng.randrange(3)}", t=t))
        events.append(ev.PodBound(t, events[-1].pod, rng.choice(names)))
        live.append(events[-1].pod)
    return events


@pytest.mark.parametrize("seed", range(8))
def test_the_incremental_check_agrees_with_a_scan_of_the_ledger(seed):
    events = _random_trace(seed)
    ledger = Ledger()
    expected = 0
    for event in events:
        ledger.apply(event)
        if isinstance(event, ev.PodBound):
            p = ledger.pods[event.pod]
            results = spread_check(ledger, p, ledger.spec(p), ledger.nodes[event.node])
            expected += not all(r.ok for r in results)
    verdict = judge(events)
    assert verdict.violations == expected
    assert expected > 0 and expected < sum(isinstance(e, ev.PodBound) for e in events)  # both outcomes occur
