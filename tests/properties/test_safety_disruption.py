"""Safety under disruption (properties/safety_disruption.py): rwo-single-attach, pdb-respected and
no-lost-work on hand-built traces, in the event order the model writes them."""

from __future__ import annotations

from podquake.model import trace as ev
from podquake.properties import check_trace
from podquake.properties.safety_disruption import (
    NoLostWork,
    PdbRespected,
    RwoSingleAttach,
)

PDB = "default/web"


def judge(prop, events):
    (verdict,) = check_trace(events, [prop])
    return verdict


# --- rwo-single-attach --------------------------------------------------------------------------------
def volume(name="pv-1", modes=("ReadWriteOnce",)):
    return ev.VolumeProvisioned(0.0, name, "default/data", "zone-a", modes)


def test_rwo_volume_moving_between_nodes_holds():
    events = [volume(), ev.VolumeAttached(1.0, "pv-1", "worker-1"), ev.VolumeDetached(50.0, "pv-1", "worker-1", True)]
    events.append(ev.VolumeAttached(50.0, "pv-1", "worker-2"))
    assert judge(RwoSingleAttach(), events).status == "passed"


def test_rwo_volume_on_two_nodes_fails_and_many_writer_volumes_may():
    events = [volume(), ev.VolumeAttached(1.0, "pv-1", "worker-1"), ev.VolumeAttached(7.0, "pv-1", "worker-2")]
    verdict = judge(RwoSingleAttach(), events)
    assert verdict.status == "failed" and verdict.time == 7.0
    assert verdict.objects == ("volume/pv-1", "node/worker-1", "node/worker-2") and verdict.numbers == {"nodes": 2}
    pod_only = [volume(modes=("ReadWriteOncePod",))] + events[1:]
    assert "ReadWriteOncePod" in judge(RwoSingleAttach(), pod_only).message
    shared = [volume(modes=("ReadWriteMany",))] + events[1:]
    assert judge(RwoSingleAttach(), shared).status == "passed"


# --- pdb-respected ------------------------------------------------------------------------------------
def status(t, current, desired, allowed, expected=4):
    return ev.DisruptionBudgetUpdated(t, PDB, expected, desired, current, allowed)


def ready(*pods):
    events = []
    for key in pods:
        events += [ev.PodCreated(0.0, key, "ReplicaSet/default/web-1", 100, 1 << 20), ev.PodReadyChanged(1.0, key, True)]
    return events


def approved(t, pod, write=None, pdb=PDB):
    """An approved eviction as the model writes it: the decremented status, the graceful delete, the answer."""
    events = [write] if write is not None else []
    return events + [ev.PodDeletionRequested(t, pod, "EvictionByEvictionAPI"), ev.EvictionRequested(t, pod, 200, pdb, "evicted")]


def test_evictions_within_the_budget_hold():
    events = ready("default/a", "default/b", "default/c", "default/d") + [status(2.0, 4, 2, 2)]
    events += approved(10.0, "default/a", status(10.0, 4, 2, 1))  # a drain evicts two at one instant
    events += approved(10.0, "default/b", status(10.0, 4, 2, 0))
    events += [ev.EvictionRequested(10.0, "default/c", 429, PDB, "Cannot evict pod as it would violate the pod's disruption budget.")]
    events += [status(11.0, 2, 2, 0), ev.PodDeleted(12.0, "default/a", "worker-1", "Deleted")]
    assert judge(PdbRespected(), events).status == "passed"


def test_an_eviction_approved_at_zero_allowed_disruptions_fails_with_the_status_it_read():
    events = ready("default/a", "default/b", "default/c") + [status(2.0, 3, 3, 0, expected=3)]
    events += approved(10.0, "default/a", status(10.0, 3, 3, -1, expected=3))
    verdict = judge(PdbRespected(), events)
    assert verdict.status == "failed" and verdict.time == 10.0
    assert verdict.objects == ("pod/default/a", "pdb/default/web")
    assert verdict.numbers == {"disruptions_allowed": 0, "current_healthy": 3, "desired_healthy": 3, "expected_pods": 3, "status_at": 2.0}
    assert "leaves 2 healthy" in verdict.message


def test_an_api_that_forgets_to_decrement_is_caught_on_its_second_eviction():
    events = ready("default/a", "default/b", "default/c") + [status(2.0, 3, 2, 1, expected=3)]
    events += approved(10.0, "default/a") + approved(10.0, "default/b")
    verdict = judge(PdbRespected(), events)
    assert verdict.status == "failed" and verdict.violations == 1
    assert "default/b" in verdict.message and verdict.numbers["disruptions_allowed"] == 0
    # A fresh status in between (the controller counted the first eviction) makes the second one legal again.
    resynced = ready("default/a", "default/b", "default/c", "default/d") + [status(2.0, 4, 2, 2)]
    resynced += approved(10.0, "default/a") + [status(11.0, 3, 2, 1)] + approved(12.0, "default/b")
    assert judge(PdbRespected(), resynced).status == "passed"


def test_an_eviction_before_the_budget_has_a_status_fails():
    verdict = judge(PdbRespected(), ready("default/a") + approved(3.0, "default/a"))
    assert verdict.status == "failed" and "before budget default/web had a status" in verdict.message


def test_evicting_an_unready_pod_or_a_pod_no_budget_covers_is_not_judged():
    unready = ready("default/a", "default/b") + [status(2.0, 2, 2, 0, expected=2), ev.PodReadyChanged(5.0, "default/a", False)]
    unready += approved(10.0, "default/a")
    assert judge(PdbRespected(), unready).status == "passed"
    uncovered = ready("default/x") + approved(10.0, "default/x", pdb="")
    assert judge(PdbRespected(), uncovered).status == "passed"


def test_deletions_that_bypass_the_eviction_api_are_not_judged():
    events = ready("default/a", "default/b") + [status(2.0, 2, 2, 0, expected=2)]
    events += [ev.PodDeletionRequested(60.0, "default/a", "TaintManagerEviction"), ev.PodDeleted(61.0, "default/b", "worker-2", "Deleted")]
    assert judge(PdbRespected(), events).status == "passed"


# --- no-lost-work ---------------------------------------------------------------------------------------
def window(t, enqueued, done, requeued, queued, in_flight, workers=2, queue="uploads"):
    return ev.WorkQueueWindow(t, queue, t - 10.0, enqueued, done, requeued, queued, in_flight, workers)


def test_a_queue_that_redelivers_what_dying_workers_held_holds():
    events = [
        window(10.0, 20, 15, 0, 3, 2),
        ev.WorkItemsRequeued(14.0, "uploads", "default/resizer-1", 2, "ContainerTerminated"),
        window(20.0, 40, 30, 2, 8, 2, workers=1),
        ev.WorkItemsRequeued(25.0, "uploads", "default/resizer-2", 1, "NodeDown"),
        window(30.0, 60, 40, 3, 20, 0, workers=0),
    ]
    assert judge(NoLostWork(), events).status == "passed"


def test_items_that_vanish_fail_with_the_count():
    events = [window(10.0, 20, 15, 0, 3, 2), window(20.0, 40, 30, 0, 6, 1)]
    verdict = judge(NoLostWork(), events)
    assert verdict.status == "failed" and verdict.time == 20.0 and verdict.objects == ("queue/uploads",)
    assert verdict.numbers["missing"] == 3 and "3 items lost" in verdict.message
    assert (verdict.numbers["enqueued"], verdict.numbers["done"], verdict.numbers["queued"], verdict.numbers["in_flight"]) == (40, 30, 6, 1)


def test_duplicated_items_fail_too():
    verdict = judge(NoLostWork(), [window(10.0, 20, 15, 0, 4, 3)])
    assert verdict.status == "failed" and verdict.numbers["missing"] == -2 and "2 items duplicated" in verdict.message


def test_a_cumulative_counter_going_down_fails():
    events = [window(10.0, 20, 15, 0, 3, 2), window(20.0, 20, 14, 0, 4, 2)]
    verdict = judge(NoLostWork(), events)
    assert verdict.status == "failed" and "cumulative done went down" in verdict.message
    assert verdict.numbers["previous_done"] == 15 and verdict.numbers["done"] == 14


def test_requeues_the_trace_did_not_announce_fail_and_queues_are_judged_apart():
    events = [
        window(10.0, 20, 15, 0, 3, 2),
        ev.WorkItemsRequeued(14.0, "other", "default/thumb-1", 2, "PodDeleted"),
        window(20.0, 40, 30, 2, 8, 2),
    ]
    verdict = judge(NoLostWork(), events)
    assert verdict.status == "failed" and verdict.numbers["announced_requeued"] == 0 and verdict.numbers["requeued"] == 2
