"""endpoints-ready-only (properties/safety_endpoints.py): a pod that stopped being ready, started
terminating or was deleted at t0 is gone from the proxies' ready endpoints by t0 + delay + grace."""

from __future__ import annotations

import pytest
from podquake.model import trace as ev
from podquake.model.simulation import Timing
from podquake.properties import Monitor, check_trace
from podquake.properties.safety_endpoints import EndpointsReadyOnly

SVC = "default/web"


def ready_pods(*keys, t=0.0):
    """Pods created at ``t`` and Ready one second later."""
    events = []
    for key in keys:
        events += [ev.PodCreated(t, key, "", 100, 1 << 20), ev.PodReadyChanged(t + 1.0, key, True)]
    return events


def endpoints(t, version, *pods, service=SVC, publish_not_ready=False):
    return ev.EndpointsChanged(t, service, version, len(pods), 0, 0, tuple(pods), t - 1.0, publish_not_ready)


def tick(t):
    """An unrelated pod event, to move the clock (deadlines are checked lazily)."""
    return ev.PodPhaseChanged(t, "default/other", "Running")


def judge(events, end=None, **params):
    (verdict,) = check_trace(events, [EndpointsReadyOnly(**params)], end=end)
    return verdict


def test_defaults_follow_the_model_timing():
    assert EndpointsReadyOnly().delay == Timing().endpoint_propagation_seconds == 1.0
    assert EndpointsReadyOnly().grace == 1.0


def test_holds_when_the_pod_leaves_the_ready_set_in_time():
    events = ready_pods("default/a", "default/b") + [
        endpoints(3.0, 1, "default/a", "default/b"),
        ev.PodReadyChanged(20.0, "default/a", False),
        endpoints(22.0, 2, "default/b"),  # exactly at the deadline: still in time
        ev.PodDeletionRequested(30.0, "default/b", "ScaleDown"),
        endpoints(31.0, 3),
        ev.PodDeleted(32.0, "default/b", "worker-1", "Deleted"),
    ]
    assert judge(events, end=100.0).status == "passed"


def test_a_readiness_flap_shorter_than_the_deadline_is_fine():
    events = ready_pods("default/a") + [endpoints(3.0, 1, "default/a")]
    events += [ev.PodReadyChanged(20.0, "default/a", False), ev.PodReadyChanged(21.5, "default/a", True), tick(40.0)]
    assert judge(events, end=100.0).status == "passed"


def test_a_stale_set_still_in_force_after_the_deadline_fails_dated_at_the_deadline():
    events = ready_pods("default/a") + [endpoints(3.0, 1, "default/a"), ev.PodReadyChanged(20.0, "default/a", False), tick(40.0)]
    verdict = judge(events)
    assert verdict.status == "failed" and verdict.time == 22.0
    assert verdict.objects == ("service/default/web", "pod/default/a")
    assert verdict.numbers == {"since": 20.0, "deadline": 22.0, "version": 1}
    assert "stopped being ready at t=20s" in verdict.message


def test_the_deadline_is_also_judged_when_the_run_ends():
    events = ready_pods("default/a") + [endpoints(3.0, 1, "default/a"), ev.PodDeletionRequested(20.0, "default/a", "Evicted")]
    assert judge(events, end=21.9).status == "passed"
    verdict = judge(events, end=30.0)
    assert verdict.status == "failed" and verdict.time == 22.0 and "started terminating" in verdict.message


def test_a_set_published_after_the_deadline_that_lists_a_deleted_pod_fails():
    events = ready_pods("default/a", "default/b") + [
        endpoints(3.0, 1, "default/a", "default/b"),
        ev.PodDeletionRequested(10.0, "default/a", "ScaleDown"),
        endpoints(11.0, 2, "default/b"),
        ev.PodDeleted(12.0, "default/a", "worker-1", "Deleted"),
        endpoints(30.0, 3, "default/a", "default/b"),  # a controller bug brings it back
    ]
    verdict = judge(events)
    assert verdict.status == "failed" and verdict.time == 30.0
    assert "published a set listing pod default/a" in verdict.message and verdict.numbers["since"] == 10.0
    assert verdict.numbers["version"] == 3


def test_a_pod_never_ready_is_unfit_from_its_creation():
    events = [ev.PodCreated(0.0, "default/a", "", 100, 1 << 20), endpoints(5.0, 1, "default/a")]
    verdict = judge(events)
    assert (verdict.status, verdict.time, verdict.numbers["since"]) == ("failed", 5.0, 0.0)


def test_publish_not_ready_services_are_exempt_for_readiness_and_termination_not_deletion():
    base = ready_pods("default/db-0") + [
        endpoints(3.0, 1, "default/db-0", service="default/db", publish_not_ready=True),
        ev.PodReadyChanged(10.0, "default/db-0", False),
        ev.PodDeletionRequested(12.0, "default/db-0", "Deleted"),
        tick(40.0),
    ]
    assert judge(base, end=50.0).status == "passed"
    deleted = base + [ev.PodDeleted(45.0, "default/db-0", "worker-1", "Deleted"), tick(60.0)]
    verdict = judge(deleted)
    assert verdict.status == "failed" and verdict.time == 47.0 and "was deleted" in verdict.message
    # The same pod behind an ordinary Service: not ready at 10 is the breach, due at 12.
    plain = ready_pods("default/db-0") + [endpoints(3.0, 1, "default/db-0", service="default/db"), ev.PodReadyChanged(10.0, "default/db-0", False), tick(40.0)]
    assert judge(plain).time == 12.0


def test_a_pod_recreated_under_the_same_name_is_fit_again_once_ready():
    events = ready_pods("default/db-0") + [
        endpoints(3.0, 1, "default/db-0"),
        ev.PodDeletionRequested(10.0, "default/db-0", "Deleted"),
        ev.PodReadyChanged(10.5, "default/db-0", False),
        endpoints(11.0, 2),
        ev.PodDeleted(12.0, "default/db-0", "worker-1", "Deleted"),
        ev.PodCreated(13.0, "default/db-0", "StatefulSet/default/db", 100, 1 << 20),
        ev.PodReadyChanged(20.0, "default/db-0", True),
        endpoints(21.0, 3, "default/db-0"),
        tick(60.0),
    ]
    assert judge(events).status == "passed"
    # Listed again before the new pod is Ready: the name stayed unfit since the old one's deletion.
    early = events[:6] + [endpoints(15.0, 3, "default/db-0")]
    verdict = judge(early)
    assert verdict.status == "failed" and verdict.time == 15.0 and verdict.numbers["since"] == 10.0


@pytest.mark.parametrize(("delay", "grace", "status"), [(1.0, 1.0, "failed"), (2.0, 1.5, "passed"), (0.0, 3.5, "passed")])
def test_delay_and_grace_set_the_deadline(delay, grace, status):
    events = ready_pods("default/a") + [endpoints(3.0, 1, "default/a"), ev.PodReadyChanged(20.0, "default/a", False), endpoints(23.5, 2)]
    assert judge(events, end=100.0, delay=delay, grace=grace).status == status


def test_live_failures_appear_once_a_later_event_passes_the_deadline():
    monitor = Monitor([EndpointsReadyOnly()])
    for event in ready_pods("default/a") + [endpoints(3.0, 1, "default/a"), ev.PodReadyChanged(20.0, "default/a", False)]:
        monitor.observe(event)
    monitor.observe(tick(21.0))
    assert monitor.failures() == []
    monitor.observe(tick(25.0))
    (failure,) = monitor.failures()
    assert failure.time == 22.0


def _outage(down, up):
    return [ev.Annotation(down, "component-down", "endpoints"), ev.Annotation(up, "component-up", "endpoints")]


def test_an_endpoints_controller_outage_restarts_the_clock_when_it_comes_back():
    stale = ready_pods("default/a") + [endpoints(3.0, 1, "default/a"), ev.PodDeletionRequested(20.0, "default/a", "Evicted")]
    down, up = _outage(15.0, 60.0)
    in_time = stale[:-1] + [down, stale[-1], tick(50.0), up, endpoints(61.5, 2), tick(80.0)]
    assert judge(in_time, end=100.0).status == "passed"
    too_late = stale[:-1] + [down, stale[-1], up, tick(70.0), endpoints(75.0, 2)]
    verdict = judge(too_late, end=100.0)
    assert verdict.status == "failed" and verdict.time == 62.0
    assert "came back at t=60s" in verdict.message
    without_outage = stale + [tick(50.0), endpoints(61.5, 2)]
    assert judge(without_outage, end=100.0).status == "failed"
