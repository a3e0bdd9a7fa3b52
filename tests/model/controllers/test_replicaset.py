"""The ReplicaSet controller (pkg/controller/replicaset/replica_set.go) and its scale-down victim order
(getPodsToDelete + ActivePodsWithRanks.Less in pkg/controller/controller_utils.go)."""

from __future__ import annotations

import re

import pytest

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.controllers.common import Expectations, SyncError, slow_start_batch
from podquake.model.controllers.ranking import deletion_cost, log2_rank, pods_to_delete
from podquake.model.objects import ContainerSpec, ContainerStatus, OwnerRef, Pod, PodSpec, PodTemplate
from podquake.model.store import StateError

from .workload_kit import active, make_sim, owned, replicaset, template

NAME = re.compile(r"^web-[bcdfghjklmnpqrstvwxz2456789]{5}$")


# --- creating, replacing, deleting -----------------------------------------------------------------
def test_pods_are_named_labelled_and_owned_by_the_replicaset():
    sim = make_sim()
    tmpl = PodTemplate((("app", "web"), (k8s.LABEL_POD_TEMPLATE_HASH, "abc")), template().spec)
    rs = replicaset(sim, replicas=3, tmpl=tmpl)
    assert sim.run_until_stable(timeout=60)
    pods = owned(sim, rs.uid)
    assert len(pods) == 3
    for pod in pods:
        assert NAME.match(pod.name)
        assert pod.labels == {"app": "web", k8s.LABEL_POD_TEMPLATE_HASH: "abc"}
        assert pod.owner == OwnerRef("ReplicaSet", "web", rs.uid)
    assert sim.workload_status("ReplicaSet", "default", "web").converged


def test_a_failed_pod_is_replaced_and_left_for_the_pod_gc():
    sim = make_sim()
    rs = replicaset(sim, replicas=3)
    sim.run(10)
    victim = owned(sim, rs.uid)[0]
    sim.state.set_pod_phase(victim.uid, "Failed")
    sim.run(20)
    assert len(active(sim, rs.uid)) == 3
    assert victim.uid in sim.state.pods  # not active, not deleted: TERMINATED_POD_GC_THRESHOLD is far away
    assert len(owned(sim, rs.uid)) == 4
    assert sim.workload_status("ReplicaSet", "default", "web").current == 3


def test_scale_down_requests_graceful_deletion_and_the_kubelet_removes_the_pods():
    sim = make_sim()
    rs = replicaset(sim, replicas=5)
    sim.run(10)
    sim.state.scale_workload(rs.uid, 2)
    sim.run(10.0 + sim.timing.container_stop_seconds / 2)
    requested = sim.trace.of_type(ev.PodDeletionRequested)
    assert len(requested) == 3 and {e.reason for e in requested} == {"ScaleDown"}
    assert len(owned(sim, rs.uid)) == 5 and len(active(sim, rs.uid)) == 2
    sim.run(20)
    assert len(owned(sim, rs.uid)) == 2


def test_unscheduled_pods_are_deleted_at_once():
    sim = make_sim()
    sim.scheduler_loop.pause()
    rs = replicaset(sim, replicas=3)
    sim.run(1)
    sim.state.scale_workload(rs.uid, 1)
    sim.run(2)
    assert len(owned(sim, rs.uid)) == 1
    assert not sim.trace.of_type(ev.PodDeletionRequested)
    assert len(sim.trace.of_type(ev.PodDeleted)) == 2


# --- slow start, burst, expectations ------------------------------------------------------------
def test_slow_start_batches_are_1_2_4_8_and_an_error_stops_the_next_batch():
    assert k8s.SLOW_START_INITIAL_BATCH_SIZE == 1
    # A failing call ends its batch's calls but no later batch starts: the calls made reveal the
    # batch boundaries 1, 1+2, 1+2+4, 1+2+4+8.
    for failing_call, calls_expected, successes_expected in [(1, 1, 0), (2, 3, 2), (3, 3, 2), (4, 7, 6), (7, 7, 6), (8, 15, 14)]:
        calls = []

        def action() -> None:
            calls.append(None)
            if len(calls) == failing_call:
                raise SyncError("refused")

        successes, error = slow_start_batch(20, k8s.SLOW_START_INITIAL_BATCH_SIZE, action)
        assert (len(calls), successes, error is not None) == (calls_expected, successes_expected, True)
    done = []
    assert slow_start_batch(20, 1, lambda: done.append(None)) == (20, None)
    assert len(done) == 20


def test_a_refused_create_stops_the_batches_and_the_replicaset_retries():
    sim = make_sim()
    real_create = sim.state.create_pod
    attempts = []

    def flaky_create(pod: Pod) -> Pod:
        attempts.append(pod.name)
        if len(attempts) == 5:
            raise StateError("the API server refused the create")
        return real_create(pod)

    sim.state.create_pod = flaky_create  # type: ignore[method-assign]
    per_sync = []
    rs = replicaset(sim, replicas=10)
    real_sync = sim.replicasets.sync

    def counting_sync(uid: str) -> None:
        before = len(attempts)
        try:
            real_sync(uid)
        finally:
            per_sync.append(len(attempts) - before)

    sim.replicasets.sync = counting_sync  # type: ignore[method-assign]
    sim.run(5)
    # First sync: batches 1, 2, 4 run (7 attempts, the 5th refused); batch 8 never starts.
    assert per_sync[0] == 7
    # The retry creates the remaining 4 (10 - 6 successes) and no more.
    assert sum(per_sync) == 11
    assert len(active(sim, rs.uid)) == 10


def test_a_failing_sync_is_retried_after_5_ms_doubling():
    assert (k8s.CONTROLLER_RETRY_BASE_SECONDS, k8s.CONTROLLER_RETRY_MAX_SECONDS) == (0.005, 1000.0)
    sim = make_sim()
    attempts = []

    def refuse(pod: Pod) -> Pod:
        attempts.append(sim.now)
        raise StateError("the API server refused the create")

    sim.state.create_pod = refuse  # type: ignore[method-assign]
    replicaset(sim, replicas=3)
    sim.run(1.0)
    # Each sync tries one pod (the first slow-start batch) and fails.
    assert attempts == pytest.approx([0.0, 0.005, 0.015, 0.035, 0.075, 0.155, 0.315, 0.635])


def test_burst_replicas_caps_each_sync_at_500_creates():
    assert k8s.BURST_REPLICAS == 500
    sim = make_sim(nodes=1)
    sim.scheduler_loop.pause()  # only creation matters here
    per_sync = []
    real_sync = sim.replicasets.sync

    def counting_sync(uid: str) -> None:
        before = len(sim.state.pods)
        real_sync(uid)
        per_sync.append(len(sim.state.pods) - before)

    sim.replicasets.sync = counting_sync  # type: ignore[method-assign]
    replicaset(sim, replicas=1000)
    sim.run(1)
    assert [n for n in per_sync if n] == [500, 500]
    assert len(sim.state.pods) == 1000


def test_expectations_hold_a_sync_until_observed_or_five_minutes_pass():
    now = [0.0]
    expectations = Expectations(lambda: now[0])
    assert expectations.satisfied("rs")
    expectations.expect("rs", creates=2, deletes=["default/a"])
    expectations.creation_observed("rs", 2)
    assert not expectations.satisfied("rs")
    expectations.deletion_observed("rs", "default/a")
    assert expectations.satisfied("rs")
    expectations.expect("rs", creates=1)
    now[0] = k8s.EXPECTATIONS_TIMEOUT_SECONDS
    assert not expectations.satisfied("rs")
    now[0] = k8s.EXPECTATIONS_TIMEOUT_SECONDS + 0.001
    assert expectations.satisfied("rs")


# --- victim order, rule by rule ----------------------------------------------------------------
SPEC = PodSpec(containers=(ContainerSpec("c"),))
NOW = 1000.0


def pod(
    uid: str,
    node: str | None = "n1",
    phase: str = "Running",
    ready: bool = True,
    ready_for: float = 100.0,
    cost: str | None = None,
    restarts: int = 0,
    age: float = 200.0,
) -> Pod:
    annotations = {k8s.POD_DELETION_COST_ANNOTATION: cost} if cost is not None else {}
    return Pod(
        uid=uid,
        name=uid,
        namespace="default",
        labels={},
        spec=SPEC,
        created_at=NOW - age,
        annotations=annotations,
        node_name=node,
        phase=phase,
        ready=ready,
        ready_since=NOW - ready_for if ready else None,
        containers=[ContainerStatus("c", restart_count=restarts)],
    )


def first(*pods: Pod, related: list[Pod] | None = None) -> str:
    """The pod deleted first; the related pods are the compared pods plus ``related`` (none at all,
    as for a ReplicaSet without a controller, when ``related`` is None)."""
    family = [] if related is None else [*pods, *related]
    return pods_to_delete(list(pods), family, 1, NOW)[0].uid


def test_rule1_unassigned_pods_go_first():
    assert first(pod("b", node="n1", phase="Pending", ready=False), pod("a", node=None, phase="Running")) == "a"


def test_rule1_a_pod_waiting_for_the_node_its_spec_names_counts_as_assigned():
    """Upstream ranks by spec.nodeName, which such a pod has (the model keeps it unbound meanwhile)."""
    waiting = pod("a", node=None, phase="Pending", ready=False)
    waiting.spec = PodSpec(containers=(ContainerSpec("c"),), node_name="ghost-7")
    assert first(waiting, pod("b", node=None, phase="Pending", ready=False)) == "b"


def test_rule2_pending_before_unknown_before_running():
    assert first(pod("a", phase="Running"), pod("b", phase="Unknown", ready=False)) == "b"
    assert first(pod("a", phase="Unknown", ready=False), pod("b", phase="Pending", ready=False)) == "b"


def test_rule3_not_ready_before_ready():
    assert first(pod("a", ready=True, cost="-100"), pod("b", ready=False, cost="100")) == "b"


def test_rule4_lower_deletion_cost_first():
    related = [pod("x", node="n1"), pod("y", node="n1")]
    # "a" is doubled up on n1 (rank 3 vs 1), but its higher cost wins first.
    assert first(pod("a", node="n1", cost="10"), pod("b", node="n2", cost="-5"), related=related) == "b"
    assert deletion_cost(pod("a", cost="2147483647")) == 2**31 - 1
    for invalid in ("+5", "007", "2147483648", "1.5", "abc", ""):
        assert deletion_cost(pod("a", cost=invalid)) == 0, invalid
    assert deletion_cost(pod("a", cost="-08")) == -8


def test_rule5_pods_doubled_up_on_a_node_go_first():
    related = [pod("x", node="n1"), pod("y", node="n1"), pod("z", node="n2", phase="Failed"), pod("w", node="n2")]
    # "b" shares n1 with two more active pods of the family (rank 3); "a" shares n2 with one (rank 2:
    # the Failed pod there is not active), so "b" goes first although it has been Ready for longer.
    assert first(pod("a", node="n2", ready_for=1), pod("b", node="n1", ready_for=500), related=related) == "b"
    # Without related pods (a ReplicaSet with no controller) every rank is 0 and rule 6 decides.
    assert first(pod("a", node="n2", ready_for=1), pod("b", node="n1", ready_for=500)) == "a"


def test_rule6_more_recently_ready_first_on_a_log2_scale_with_uid_ties():
    # 10 s and 12 s since Ready: both in bucket floor(log2(1e10 ns)) = 33, so the uid decides even
    # though "b" has more restarts (rule 7 is never reached).
    assert log2_rank(NOW - 10, NOW) == log2_rank(NOW - 12, NOW) == 33
    assert first(pod("b", ready_for=10, restarts=5), pod("a", ready_for=12)) == "a"
    # 20 s is bucket 34: the 10 s pod (bucket 33) is more recently Ready and goes first.
    assert log2_rank(NOW - 20, NOW) == 34
    assert first(pod("a", ready_for=20), pod("b", ready_for=10)) == "b"


def test_rule6_ready_times_within_one_second_are_equal_so_restarts_decide():
    """The ready time is the Ready condition's lastTransitionTime, a metav1.Time, which the API carries
    in whole seconds (time_proto.go): 990.7 and 990.2 both read 990, rule 6 sees no difference and
    rule 7 deletes the pod with more restarts (the uid used to decide: "a")."""
    assert first(pod("a", ready_for=9.3), pod("b", ready_for=9.8, restarts=5)) == "b"
    # a second apart they differ (990 and 989, buckets 33 and 33): rule 6 and the uid decide again
    assert first(pod("a", ready_for=10.3), pod("b", ready_for=9.3, restarts=5)) == "a"


def test_rule8_creation_times_within_one_second_are_equal():
    # created at 799.6 and 799.1: both 799 in the API, so no rule tells them apart and the input order stays
    # (the uid used to decide, putting "a" first)
    pods = [pod("b", ready=False, age=200.4), pod("a", ready=False, age=200.9)]
    assert [p.uid for p in pods_to_delete(pods, [], 1, NOW)] == ["b"]


def test_rule7_more_restarts_first():
    assert first(pod("a", restarts=1, age=10), pod("b", restarts=4, age=500)) == "b"


def test_rule8_newer_first_on_a_log2_scale_with_uid_ties():
    assert first(pod("a", age=500), pod("b", age=30)) == "b"
    # 40 s and 50 s old share bucket 35 (2^35 ns = 34.4 s): the lower uid goes first.
    assert log2_rank(NOW - 40, NOW) == log2_rank(NOW - 50, NOW) == 35
    assert first(pod("b", age=40), pod("a", age=50)) == "a"


def test_nothing_is_sorted_when_every_pod_goes_and_ties_keep_input_order():
    pods = [pod("b"), pod("a", node=None)]
    assert [p.uid for p in pods_to_delete(pods, [], 2, NOW)] == ["b", "a"]
    twins = [pod("b"), pod("a")]
    assert [p.uid for p in pods_to_delete(twins, [], 1, NOW)] == ["b"]


def test_scale_down_removes_the_unscheduled_pod_first():
    sim = make_sim(nodes=1, cpu="1")
    rs = replicaset(sim, replicas=3, tmpl=template(cpu=400))  # only two fit on the 1-CPU node
    sim.run(10)
    pending = [p for p in owned(sim, rs.uid) if p.node_name is None]
    assert len(pending) == 1
    sim.state.scale_workload(rs.uid, 2)
    sim.run(11)
    assert pending[0].uid not in sim.state.pods
    assert all(p.node_name is not None for p in owned(sim, rs.uid))


@pytest.mark.parametrize("replicas", [0, 1, 7])
def test_status_counts_active_and_ready_pods(replicas):
    sim = make_sim()
    replicaset(sim, replicas=replicas)
    assert sim.run_until_stable(timeout=60)
    status = sim.workload_status("ReplicaSet", "default", "web")
    assert (status.desired, status.current, status.ready, status.updated) == (replicas,) * 4
