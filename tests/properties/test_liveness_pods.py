"""pending-pods-scheduled and crashed-containers-restarted on hand-built traces."""

from __future__ import annotations

from podquake.model import trace as ev
from podquake.model.objects import TopologySpreadConstraint
from podquake.model.selectors import LabelSelector
from podquake.properties import Suite, check_trace

from .test_liveness import base, fault, judge, node, pod, running, spec


# --- pending-pods-scheduled ---------------------------------------------------------------------------
def test_a_pod_bound_once_room_appears_passes():
    # n1 is full (two 500m pods) until one is deleted at 150; the pending pod is bound at 155
    events = [node("n1"), spec()] + running(1.0, "default/a", "n1") + running(1.0, "default/b", "n1")
    events += [pod(100.0, "default/c"), ev.PodDeleted(150.0, "default/a", "n1", "Deleted"), ev.PodBound(155.0, "default/c", "n1")]
    verdict = judge("pending-pods-scheduled", events, end=400.0)
    assert verdict.status == "passed" and verdict.numbers["still_pending"] == 0


def test_a_pod_left_pending_while_a_node_has_room_fails_with_the_wait_and_the_room():
    events = base() + running(1.0, "default/a", "n1") + [pod(100.0, "default/c")]
    verdict = judge("pending-pods-scheduled", events, end=400.0)
    assert verdict.status == "failed"
    assert verdict.message.startswith("pod default/c could have been bound from t=100s but waited 300 s (still pending at the end)")
    assert "node n1 (500m CPU, 3Gi memory, 109 pod slots free)" in verdict.message
    assert verdict.objects == ("pod/default/c", "node/n1") and verdict.numbers["waited_seconds"] == 300.0
    assert verdict.time == 160.0


def test_room_nominated_to_a_preemptor_is_not_room_for_another_pending_pod():
    """After a preemption the scheduler keeps the room for the preemptor while its victim terminates
    (framework.go RunFilterPluginsWithNominatedPods); a smaller pod that would fit there waits, and the
    property does not blame the scheduler for it."""
    events = [node("n1"), spec()] + running(1.0, "default/victim", "n1", cpu=600)
    events += [
        pod(10.0, "default/preemptor", cpu=900),
        ev.PodPreempted(10.0, "default/victim", "default/preemptor", "n1", 0, 1000),
        ev.PodDeletionRequested(10.0, "default/victim", "PreemptionByScheduler"),
        ev.PodNominated(10.0, "default/preemptor", "n1"),
        pod(12.0, "default/small", cpu=300),  # 400m free on n1, all of it nominated to the preemptor
        ev.PodDeleted(130.0, "default/victim", "n1", "PreemptionByScheduler"),  # a 120 s grace period
        ev.PodBound(130.0, "default/preemptor", "n1"),
    ]
    verdict = judge("pending-pods-scheduled", events, end=400.0)
    assert verdict.status == "passed", verdict.message
    # the nominee itself is judged against its own room: bound only at 400, it would be a breach
    late = [e for e in events if not isinstance(e, ev.PodBound)] + [ev.PodBound(400.0, "default/preemptor", "n1")]
    assert judge("pending-pods-scheduled", late, end=400.0).status == "failed"


def test_a_cleared_nomination_gives_the_room_back():
    events = [node("n1"), spec()] + running(1.0, "default/victim", "n1", cpu=600)
    events += [
        pod(10.0, "default/preemptor", cpu=900),
        ev.PodNominated(10.0, "default/preemptor", "n1"),
        pod(12.0, "default/small", cpu=300),
        ev.PodNominated(20.0, "default/preemptor", ""),
    ]
    verdict = judge("pending-pods-scheduled", events, end=400.0)
    assert verdict.status == "failed" and "pod default/small could have been bound from t=20s" in verdict.message


def test_a_pod_bound_late_fails_too():
    events = base() + [pod(100.0, "default/c"), ev.PodBound(200.0, "default/c", "n2")]
    verdict = judge("pending-pods-scheduled", events, end=400.0)
    assert verdict.status == "failed" and "waited 100 s (bound then)" in verdict.message


def test_a_wait_that_ends_because_another_pod_took_the_room_counts_up_to_then():
    events = [node("n1"), spec()] + running(1.0, "default/a", "n1") + [pod(100.0, "default/c")]
    events += running(200.0, "default/b", "n1")  # b takes the room c could have had
    verdict = judge("pending-pods-scheduled", events, end=400.0)
    assert verdict.status == "failed" and "waited 100 s (no room left then)" in verdict.message
    events[-4:] = running(140.0, "default/b", "n1")  # taken within 40 s: the scheduler's choice, not a stall
    assert judge("pending-pods-scheduled", events, end=400.0).status == "passed"


def test_a_pod_naming_its_node_is_not_the_schedulers_to_bind():
    """A pod whose spec.nodeName names a node never reaches the scheduler (upstream assignedPod): one
    naming a missing node waits until the pod GC deletes it, and no wait of it is a breach, even
    while another node has room."""
    events = base() + [spec("spec-2", node_name="ghost-7"), pod(100.0, "default/c", spec_id="spec-2")]
    events += [spec("spec-3", node_name="n1"), pod(100.0, "default/d", spec_id="spec-3")]  # n1 has room: named, never bound
    verdict = judge("pending-pods-scheduled", events, end=400.0)
    assert verdict.status == "passed"


def test_a_pod_without_room_anywhere_is_owed_nothing():
    events = [node("n1", cpu=400), spec(), pod(100.0, "default/c")]
    assert judge("pending-pods-scheduled", events, end=400.0).status == "passed"


def test_a_node_that_goes_away_takes_the_room_with_it():
    # the pod fits on n2 only; n2 goes NotReady 10 s after the pod is created and never comes back
    events = [node("n1", cpu=400), node("n2"), spec(), pod(100.0, "default/c"),
              ev.NodeReadyChanged(110.0, "n2", "Unknown", "NodeStatusUnknown")]
    assert judge("pending-pods-scheduled", events, end=400.0).status == "passed"
    events.append(ev.NodeReadyChanged(200.0, "n2", "True", "KubeletReady"))  # back at 200: owed from then
    verdict = judge("pending-pods-scheduled", events, end=400.0)
    assert verdict.status == "failed" and verdict.numbers["fits_from"] == 200.0


def test_waiting_during_the_faults_does_not_count():
    start, healed = fault(50.0, 300.0)
    events = base() + [start, pod(100.0, "default/c"), *healed, ev.PodBound(320.0, "default/c", "n1")]
    assert judge("pending-pods-scheduled", events, end=400.0).status == "passed"


def test_a_pod_held_back_by_its_spread_constraint_is_not_owed_a_binding():
    # zone-a holds two matching pods, zone-b one on a full node: a fourth pod may go only to zone-b
    constraint = TopologySpreadConstraint(1, "topology.kubernetes.io/zone", label_selector=LabelSelector.of({"app": "web"}))
    events = [node("a1", zone="zone-a", cpu=4000), node("b1", zone="zone-b"), spec(topology_spread_constraints=(constraint,))]
    events += running(1.0, "default/w-1", "a1", owner="") + running(1.0, "default/w-2", "a1", owner="")
    events += running(1.0, "default/w-3", "b1", owner="") + running(1.0, "default/w-4", "b1", owner="", app="other")
    events += [pod(100.0, "default/w-5")]
    assert judge("pending-pods-scheduled", events, end=400.0).status == "passed"
    events.append(ev.PodDeleted(150.0, "default/w-4", "b1", "Deleted"))  # room in zone-b from 150
    verdict = judge("pending-pods-scheduled", events, end=400.0)
    assert verdict.status == "failed" and verdict.objects == ("pod/default/w-5", "node/b1")


def test_a_pod_being_deleted_is_not_owed_a_binding():
    events = base() + [pod(100.0, "default/c"), ev.PodDeletionRequested(110.0, "default/c", "Deleted")]
    assert judge("pending-pods-scheduled", events, end=400.0).status == "passed"


# --- crashed-containers-restarted ---------------------------------------------------------------------
def crash(t: float, key: str = "default/a", backoff: float | None = 10.0, exit_code: int = 1) -> list[ev.Event]:
    events: list[ev.Event] = [ev.ContainerTerminated(t, key, "app", exit_code, "Error")]
    if backoff is not None:
        reason = "CrashLoopBackOff" if backoff else "ContainerCreating"
        events.append(ev.ContainerWaiting(t, key, "app", reason, backoff))
    return events


def started(t: float, key: str = "default/a", restarts: int = 1) -> ev.ContainerStarted:
    return ev.ContainerStarted(t, key, "app", restarts, "n1")


def test_a_restart_within_its_back_off_passes():
    events = base() + running(1.0, "default/a", "n1") + crash(10.0, backoff=0.0) + [started(10.0)]
    events += crash(30.0, backoff=10.0) + [started(40.0, restarts=2)]
    verdict = judge("crashed-containers-restarted", events, end=100.0)
    assert verdict.status == "passed" and verdict.numbers["restarts"] == 2


def test_a_restart_later_than_back_off_plus_latency_plus_slack_fails():
    events = base() + running(1.0, "default/a", "n1") + crash(10.0, backoff=10.0) + [started(40.0)]
    verdict = judge("crashed-containers-restarted", events, end=100.0)
    assert verdict.status == "failed"
    assert verdict.message == "container app of pod default/a ran again 30 s after it crashed (exit 1, Error); its back-off was 10 s"
    assert verdict.numbers["bound_seconds"] == 17.0 and verdict.numbers["waited_seconds"] == 30.0 and verdict.time == 40.0
    assert judge("crashed-containers-restarted", events, end=100.0, slack=20.0).status == "passed"


def test_a_container_never_restarted_fails_at_the_end():
    events = base() + running(1.0, "default/a", "n1") + crash(10.0, backoff=20.0)
    verdict = judge("crashed-containers-restarted", events, end=100.0)
    assert verdict.status == "failed" and "was not running again by t=37s" in verdict.message and verdict.time == 37.0
    assert judge("crashed-containers-restarted", events, end=30.0).status == "passed"  # not due yet


def test_a_crash_the_kubelet_announces_no_restart_for_gets_the_300_second_cap():
    events = base() + running(1.0, "default/a", "n1") + crash(10.0, backoff=None)
    assert judge("crashed-containers-restarted", events, end=300.0).status == "passed"
    assert judge("crashed-containers-restarted", events, end=320.0).status == "failed"


def test_a_back_off_past_the_cap_counts_only_up_to_the_cap():
    events = base() + running(1.0, "default/a", "n1") + crash(10.0, backoff=600.0) + [started(610.0)]
    verdict = judge("crashed-containers-restarted", events, end=700.0)
    assert verdict.status == "failed" and verdict.numbers["backoff_seconds"] == 300.0


def test_restart_policies_never_and_on_failure():
    never = [node("n1"), spec(restart_policy="Never")] + running(1.0, "default/a", "n1") + crash(10.0, backoff=None)
    assert judge("crashed-containers-restarted", never, end=400.0).status == "passed"
    on_failure = [node("n1"), spec(restart_policy="OnFailure")] + running(1.0, "default/a", "n1")
    assert judge("crashed-containers-restarted", on_failure + crash(10.0, backoff=None, exit_code=0), end=400.0).status == "passed"
    assert judge("crashed-containers-restarted", on_failure + crash(10.0, backoff=None, exit_code=2), end=400.0).status == "failed"


def test_deletion_and_a_powered_off_node_end_the_obligation():
    events = base() + running(1.0, "default/a", "n1") + crash(10.0, backoff=20.0)
    deleted = events + [ev.PodDeletionRequested(15.0, "default/a", "Deleted")]
    assert judge("crashed-containers-restarted", deleted, end=400.0).status == "passed"
    powered_off = events + [ev.NodePowerChanged(15.0, "n1", False)]
    assert judge("crashed-containers-restarted", powered_off, end=400.0).status == "passed"


def test_a_not_ready_node_suspends_the_bound_until_it_is_ready_again():
    events = base() + running(1.0, "default/a", "n1") + crash(10.0, backoff=20.0)
    events += [ev.NodeReadyChanged(20.0, "n1", "Unknown", "NodeStatusUnknown"), ev.NodeReadyChanged(100.0, "n1", "True", "KubeletReady")]
    assert judge("crashed-containers-restarted", events + [started(105.0)], end=400.0).status == "passed"  # 100 + 2 + 5
    verdict = judge("crashed-containers-restarted", events + [started(110.0)], end=400.0)
    assert verdict.status == "failed" and verdict.numbers["bound_seconds"] == 97.0


def test_a_fault_the_nemesis_marks_suspends_the_bound_unless_told_otherwise():
    start, healed = fault(12.0, 90.0)
    events = base() + running(1.0, "default/a", "n1") + crash(10.0, backoff=10.0) + [start, *healed, started(95.0)]
    assert judge("crashed-containers-restarted", events, end=400.0).status == "passed"
    assert judge("crashed-containers-restarted", events, end=400.0, pause_during_faults=False).status == "failed"


def test_a_network_partition_suspends_the_bound():
    events = base() + running(1.0, "default/a", "n1") + crash(10.0, backoff=10.0)
    events += [ev.NetworkPartitioned(11.0, 1, "node-cut-off", "n1"), ev.NetworkHealed(80.0, 1, "node-cut-off", "n1"), started(80.0)]
    assert judge("crashed-containers-restarted", events, end=400.0).status == "passed"


def test_the_verdict_is_the_same_when_asked_twice():
    from podquake.properties import Monitor

    monitor = Monitor(Suite.of(["crashed-containers-restarted"]))
    for event in base() + running(1.0, "default/a", "n1") + crash(10.0, backoff=20.0):
        monitor.observe(event)
    first, second = monitor.verdicts(end=400.0), monitor.verdicts(end=400.0)
    assert first == second and first[0].violations == 1


def test_pending_pods_and_crashes_replay_identically_from_json():
    from podquake.model.trace import Trace

    trace = Trace()
    for event in sorted(base() + running(1.0, "default/a", "n1") + crash(10.0) + [pod(20.0, "default/c")], key=lambda e: e.t):
        trace.append(event)
    again = Trace.from_jsonl(trace.to_jsonl())
    suite = Suite.of(["pending-pods-scheduled", "crashed-containers-restarted"])
    assert check_trace(trace, suite, end=400.0) == check_trace(again, suite, end=400.0)
    assert [v.status for v in check_trace(again, suite, end=400.0)] == ["failed", "failed"]
