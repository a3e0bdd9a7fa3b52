"""Safety of placement (properties/safety_placement.py): no-overcommit, single-binding,
schedulable-nodes-only, scheduler-contract, each on hand-built traces that hold and that break."""

from __future__ import annotations

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.admission import admit_spec
from podquake.model.objects import ContainerSpec, PodSpec
from podquake.model.selectors import Toleration
from podquake.model.specrecord import encode_spec
from podquake.properties import Monitor, Suite, check_trace
from podquake.properties.safety_placement import (
    NoOvercommit,
    SchedulableNodesOnly,
    SchedulerContract,
    SingleBinding,
)

MIB = 1 << 20


def node(name="worker-1", cpu=1000, memory=1024 * MIB, pods=110, taints=()):
    return ev.NodeAdded(0.0, name, "zone-a", cpu, memory, pods, (("kubernetes.io/hostname", name),), taints)


def pod(t, key, cpu=100, memory=64 * MIB, spec=""):
    return ev.PodCreated(t, key, "", cpu, memory, spec)


def spec_event(spec_id, spec):
    return ev.PodSpecDefined(0.0, spec_id, encode_spec(spec))


def judge(prop, events, end=None):
    (verdict,) = check_trace(events, [prop], end=end)
    return verdict


# --- no-overcommit ----------------------------------------------------------------------------------
def test_no_overcommit_holds_when_requests_fit_and_deletions_free_room():
    events = [
        node(cpu=1000),
        pod(1.0, "default/a", cpu=600),
        ev.PodBound(2.0, "default/a", "worker-1"),
        pod(3.0, "default/b", cpu=400),
        ev.PodBound(4.0, "default/b", "worker-1"),  # exactly full
        ev.PodDeleted(5.0, "default/a", "worker-1", "Deleted"),
        pod(6.0, "default/c", cpu=600),
        ev.PodBound(7.0, "default/c", "worker-1"),
    ]
    assert judge(NoOvercommit(), events).status == "passed"


def test_no_overcommit_fails_on_cpu_with_the_numbers():
    events = [node(cpu=1000), pod(1.0, "default/a", cpu=600), ev.PodBound(2.0, "default/a", "worker-1")]
    events += [pod(3.0, "default/b", cpu=500), ev.PodBound(4.0, "default/b", "worker-1")]
    verdict = judge(NoOvercommit(), events)
    assert verdict.status == "failed" and verdict.time == 4.0
    assert verdict.objects == ("node/worker-1", "pod/default/b")
    assert verdict.numbers["requested_cpu_millis"] == 1100 and verdict.numbers["allocatable_cpu_millis"] == 1000


def test_no_overcommit_fails_on_memory_and_on_pod_count():
    memory = [node(memory=100 * MIB), pod(1.0, "default/a", memory=101 * MIB), ev.PodBound(1.0, "default/a", "worker-1")]
    verdict = judge(NoOvercommit(), memory)
    assert verdict.status == "failed" and "memory" in verdict.message
    assert verdict.numbers["requested_memory_bytes"] == 101 * MIB
    count = [node(pods=1), pod(1.0, "default/a"), pod(1.0, "default/b")]
    count += [ev.PodBound(2.0, "default/a", "worker-1"), ev.PodBound(3.0, "default/b", "worker-1")]
    verdict = judge(NoOvercommit(), count)
    assert (verdict.status, verdict.time, verdict.numbers["pods"], verdict.numbers["allocatable_pods"]) == ("failed", 3.0, 2, 1)


# --- single-binding ---------------------------------------------------------------------------------
def test_single_binding_holds_across_a_pod_life_and_a_new_life_under_the_same_name():
    events = [
        node("worker-1"),
        node("worker-2"),
        pod(1.0, "default/db-0"),
        ev.PodBound(1.0, "default/db-0", "worker-1"),
        ev.ContainerStarted(3.0, "default/db-0", "postgres", 0, "worker-1"),
        ev.ContainerStarted(9.0, "default/db-0", "postgres", 1, "worker-1"),  # a restart, same node
        ev.ContainerStarted(10.0, "default/db-0", "sidecar", 0, ""),  # node not recorded: binding alone
        ev.PodDeleted(20.0, "default/db-0", "worker-1", "Evicted"),
        pod(21.0, "default/db-0"),
        ev.PodBound(21.0, "default/db-0", "worker-2"),
        ev.ContainerStarted(23.0, "default/db-0", "postgres", 0, "worker-2"),
    ]
    assert judge(SingleBinding(), events).status == "passed"


def test_single_binding_fails_on_a_second_binding_without_a_deletion():
    events = [node("worker-1"), node("worker-2"), pod(1.0, "default/web-0")]
    events += [ev.PodBound(2.0, "default/web-0", "worker-1"), ev.PodBound(5.0, "default/web-0", "worker-2")]
    verdict = judge(SingleBinding(), events)
    assert verdict.status == "failed" and verdict.time == 5.0
    assert verdict.objects == ("pod/default/web-0", "node/worker-1", "node/worker-2")
    assert verdict.numbers == {"first_node": "worker-1", "first_bound_at": 2.0, "second_node": "worker-2"}


def test_single_binding_fails_on_a_container_on_another_node_or_of_an_unbound_pod():
    elsewhere = [node("worker-1"), node("worker-2"), pod(1.0, "default/web-0"), ev.PodBound(2.0, "default/web-0", "worker-1")]
    elsewhere.append(ev.ContainerStarted(4.0, "default/web-0", "app", 0, "worker-2"))
    verdict = judge(SingleBinding(), elsewhere)
    assert verdict.status == "failed" and verdict.time == 4.0
    assert verdict.numbers["bound_node"] == "worker-1" and verdict.numbers["started_node"] == "worker-2"

    unbound = [node("worker-1"), pod(1.0, "default/web-0"), ev.ContainerStarted(4.0, "default/web-0", "app", 0, "worker-1")]
    verdict = judge(SingleBinding(), unbound)
    assert verdict.status == "failed" and "not bound" in verdict.message and verdict.time == 4.0

    after_deletion = [node("worker-1"), pod(1.0, "default/web-0"), ev.PodBound(2.0, "default/web-0", "worker-1")]
    after_deletion += [ev.PodDeleted(6.0, "default/web-0", "worker-1", "Deleted"), ev.ContainerStarted(7.0, "default/web-0", "app", 1, "worker-1")]
    assert judge(SingleBinding(), after_deletion).time == 7.0


# --- schedulable-nodes-only ---------------------------------------------------------------------------
PLAIN = PodSpec(containers=(ContainerSpec("app"),))


def bind_to(node_events, spec=PLAIN, t=10.0):
    """A pod with ``spec`` (as admission leaves it) bound to worker-1 at ``t``, after ``node_events``."""
    return [spec_event("spec-1", admit_spec(spec)), *node_events, pod(t - 1, "default/p", spec="spec-1"), ev.PodBound(t, "default/p", "worker-1")]


def test_schedulable_nodes_only_holds_on_a_healthy_node_and_ignores_prefer_no_schedule():
    events = bind_to([node(taints=(("spot", "true", "PreferNoSchedule"),))])
    assert judge(SchedulableNodesOnly(), events).status == "passed"


def test_schedulable_nodes_only_fails_on_a_missing_node():
    events = [spec_event("spec-1", PLAIN), pod(1.0, "default/p", spec="spec-1"), ev.PodBound(2.0, "default/p", "ghost")]
    verdict = judge(SchedulableNodesOnly(), events)
    assert verdict.status == "failed" and "does not exist" in verdict.message
    assert verdict.objects == ("pod/default/p", "node/ghost") and verdict.time == 2.0


def test_schedulable_nodes_only_fails_on_not_ready_nodes_unless_the_condition_taint_is_tolerated():
    unreachable = [node(), ev.NodeReadyChanged(5.0, "worker-1", "Unknown", "NodeStatusUnknown")]
    verdict = judge(SchedulableNodesOnly(), bind_to(unreachable))
    assert verdict.status == "failed" and verdict.time == 10.0
    assert k8s.TAINT_UNREACHABLE in verdict.message and verdict.numbers == {"ready": "Unknown", "cordoned": 0}

    not_ready = [node(), ev.NodeReadyChanged(5.0, "worker-1", "False", "KubeletNotReady")]
    assert k8s.TAINT_NOT_READY in judge(SchedulableNodesOnly(), bind_to(not_ready)).message

    tolerant = PodSpec(containers=(ContainerSpec("app"),), tolerations=(Toleration(k8s.TAINT_UNREACHABLE, "Exists", effect="NoSchedule"),))
    assert judge(SchedulableNodesOnly(), bind_to(unreachable, tolerant)).status == "passed"
    # Upstream's default NoExecute tolerations (300 s) do not let a pod be scheduled there.
    assert judge(SchedulableNodesOnly(), bind_to(not_ready, PLAIN)).status == "failed"


def test_schedulable_nodes_only_lets_daemonset_pods_onto_cordoned_nodes_only():
    cordoned = [node(), ev.NodeCordoned(5.0, "worker-1", True)]
    verdict = judge(SchedulableNodesOnly(), bind_to(cordoned))
    assert verdict.status == "failed" and "cordoned" in verdict.message and verdict.numbers["cordoned"] == 1
    daemon = [spec_event("spec-1", admit_spec(PLAIN, daemon=True)), *cordoned, pod(9.0, "default/p", spec="spec-1"), ev.PodBound(10.0, "default/p", "worker-1")]
    assert judge(SchedulableNodesOnly(), daemon).status == "passed"
    uncordoned = [node(), ev.NodeCordoned(5.0, "worker-1", True), ev.NodeCordoned(6.0, "worker-1", False)]
    assert judge(SchedulableNodesOnly(), bind_to(uncordoned)).status == "passed"


def test_schedulable_nodes_only_fails_on_untolerated_taints_and_honours_tolerations():
    gpu = [node(taints=(("gpu", "a100", "NoSchedule"),))]
    verdict = judge(SchedulableNodesOnly(), bind_to(gpu))
    assert verdict.status == "failed" and "gpu=a100:NoSchedule" in verdict.message
    wrong_value = PodSpec(containers=(ContainerSpec("app"),), tolerations=(Toleration("gpu", "Equal", "h100", "NoSchedule"),))
    assert judge(SchedulableNodesOnly(), bind_to(gpu, wrong_value)).status == "failed"
    right_value = PodSpec(containers=(ContainerSpec("app"),), tolerations=(Toleration("gpu", "Equal", "a100", "NoSchedule"),))
    assert judge(SchedulableNodesOnly(), bind_to(gpu, right_value)).status == "passed"

    no_execute = [node(), ev.NodeTainted(5.0, "worker-1", "maintenance", "NoExecute")]
    assert judge(SchedulableNodesOnly(), bind_to(no_execute)).status == "failed"
    # NodeTainted carries no value: an Equal toleration of the key and effect is given the benefit of the doubt.
    equal = PodSpec(containers=(ContainerSpec("app"),), tolerations=(Toleration("maintenance", "Equal", "soon", "NoExecute"),))
    assert judge(SchedulableNodesOnly(), bind_to(no_execute, equal)).status == "passed"
    untainted = [*no_execute, ev.NodeUntainted(6.0, "worker-1", "maintenance", "NoExecute")]
    assert judge(SchedulableNodesOnly(), bind_to(untainted)).status == "passed"


def test_schedulable_nodes_only_judges_only_new_bindings():
    events = [node(), pod(1.0, "default/p"), ev.PodBound(2.0, "default/p", "worker-1"), ev.NodeCordoned(5.0, "worker-1", True)]
    events.append(ev.NodeReadyChanged(6.0, "worker-1", "Unknown", "NodeStatusUnknown"))
    assert judge(SchedulableNodesOnly(), events).status == "passed"


def test_a_binding_by_the_pods_own_node_name_is_no_schedulers_placement():
    """A pod created with spec.nodeName skips the scheduler (upstream assignedPod); the kubelet alone
    judges it. It was blamed as a scheduler's binding to a cordoned, NotReady or overfull node."""
    named = PodSpec(containers=(ContainerSpec("app"),), node_name="worker-1")
    cordoned_and_unreachable = [node(), ev.NodeCordoned(5.0, "worker-1", True)]
    cordoned_and_unreachable.append(ev.NodeReadyChanged(6.0, "worker-1", "Unknown", "NodeStatusUnknown"))
    assert judge(SchedulableNodesOnly(), bind_to(cordoned_and_unreachable, named)).status == "passed"
    # the same node named, another node chosen: a scheduler did that, and it is judged
    elsewhere = PodSpec(containers=(ContainerSpec("app"),), node_name="worker-2")
    assert judge(SchedulableNodesOnly(), bind_to(cordoned_and_unreachable, elsewhere)).status == "failed"

    overfull = [spec_event("spec-1", named), node(cpu=1000), pod(1.0, "default/a", cpu=600), ev.PodBound(2.0, "default/a", "worker-1")]
    overfull += [pod(3.0, "default/b", cpu=500, spec="spec-1"), ev.PodBound(3.0, "default/b", "worker-1")]
    assert judge(NoOvercommit(), overfull).status == "passed"  # the kubelet rejects b (OutOfcpu)


# --- scheduler-contract ----------------------------------------------------------------------------
def test_scheduler_contract_holds_without_violations_and_fails_with_the_evidence():
    quiet = [node(), pod(1.0, "default/p"), ev.PodUnschedulable(1.0, "default/p", "no node fits the pod")]
    assert judge(SchedulerContract(), quiet).status == "passed"
    broken = quiet + [
        ev.SchedulerContractViolation(3.0, "greedy", "default/p", "node worker-1 lacks memory: requested 0 + pod 2 > allocatable 1 bytes", "worker-1"),
        ev.SchedulerContractViolation(4.0, "greedy", "default/p", "raised KeyError: 'x'", "<exception>"),
    ]
    verdict = judge(SchedulerContract(), broken)
    assert verdict.status == "failed" and verdict.time == 3.0 and verdict.violations == 2
    assert verdict.objects == ("scheduler/greedy", "pod/default/p")
    assert verdict.numbers["answer"] == "worker-1" and "lacks memory" in verdict.numbers["problem"]


def test_live_monitor_reports_a_placement_breach_as_it_happens():
    monitor = Monitor(Suite.of(["single-binding", "schedulable-nodes-only"]))
    for event in [node(), pod(1.0, "default/p"), ev.PodBound(2.0, "default/p", "worker-1")]:
        monitor.observe(event)
    assert monitor.failures() == []
    monitor.observe(ev.PodBound(3.0, "default/p", "ghost"))
    assert sorted(v.property for v in monitor.failures()) == ["schedulable-nodes-only", "single-binding"]


# --- inter-pod-affinity -------------------------------------------------------------------------------
def _with_terms(**terms):
    from podquake.model.objects import PodAffinity

    return PodSpec(containers=(ContainerSpec("app"),), pod_affinity=PodAffinity(**terms))


def _term(app, key="kubernetes.io/hostname"):
    from podquake.model.objects import PodAffinityTerm
    from podquake.model.selectors import LabelSelector

    return PodAffinityTerm(key, LabelSelector.of({"app": app}))


def labelled(t, key, app, spec=""):
    return ev.PodCreated(t, key, "", 100, 64 * MIB, spec, (("app", app),))


def zoned(name, zone):
    return ev.NodeAdded(0.0, name, zone, 1000, 1024 * MIB, 110, (("kubernetes.io/hostname", name), ("topology.kubernetes.io/zone", zone)))


def _ipa():
    from podquake.properties.safety_placement import InterPodAffinityHonoured

    return InterPodAffinityHonoured()


ANTI = _with_terms(required_anti_affinity=(_term("web"),))


def test_inter_pod_affinity_holds_for_replicas_on_distinct_nodes_and_breaks_when_two_share_one():
    base = [node("w1"), node("w2"), spec_event("spec-1", ANTI)] + [labelled(1.0, f"default/web-{i}", "web", "spec-1") for i in range(3)]
    apart = base + [ev.PodBound(2.0, "default/web-0", "w1"), ev.PodBound(2.0, "default/web-1", "w2")]
    assert judge(_ipa(), apart).status == "passed"
    stacked = apart + [ev.PodBound(3.0, "default/web-2", "w1")]
    verdict = judge(_ipa(), stacked)
    assert verdict.status == "failed" and verdict.time == 3.0
    assert "already holds pod default/web-0" in verdict.message and verdict.numbers["rule"] == "anti-affinity"
    # once the first replica is deleted, its node is free again
    assert judge(_ipa(), apart + [ev.PodDeleted(2.5, "default/web-0", "w1", "test"), ev.PodBound(3.0, "default/web-2", "w1")]).status == "passed"


def test_inter_pod_affinity_judges_the_symmetry_of_a_placed_pods_anti_affinity():
    events = [node("w1"), node("w2"), spec_event("spec-1", ANTI), labelled(1.0, "default/guard", "guard", "spec-1"),
              labelled(1.0, "default/web", "web"), ev.PodBound(2.0, "default/guard", "w1")]
    assert judge(_ipa(), events + [ev.PodBound(3.0, "default/web", "w2")]).status == "passed"
    verdict = judge(_ipa(), events + [ev.PodBound(3.0, "default/web", "w1")])
    assert verdict.status == "failed" and verdict.numbers["rule"] == "existing anti-affinity"


def test_inter_pod_affinity_required_affinity_and_the_first_pod_of_a_group():
    together = _with_terms(required_affinity=(_term("cache", "topology.kubernetes.io/zone"),))
    events = [zoned("a1", "zone-a"), zoned("b1", "zone-b"), spec_event("spec-1", together)] + [
        labelled(1.0, f"default/cache-{i}", "cache", "spec-1") for i in range(2)
    ]
    first = events + [ev.PodBound(2.0, "default/cache-0", "b1")]  # no cache pod yet: anywhere with a zone
    assert judge(_ipa(), first + [ev.PodBound(3.0, "default/cache-1", "b1")]).status == "passed"
    verdict = judge(_ipa(), first + [ev.PodBound(3.0, "default/cache-1", "a1")])
    assert verdict.status == "failed" and verdict.numbers["rule"] == "affinity" and "zone" in verdict.message


def test_inter_pod_affinity_is_in_the_default_suite():
    assert "inter-pod-affinity" in Suite.default().ids and len(Suite.default().ids) == 18  # with jobs-complete
