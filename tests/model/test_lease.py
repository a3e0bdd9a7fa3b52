"""Leases computed from the clock (model/lease.py): the same renewals a timer per kubelet would make."""

from __future__ import annotations

import doctest

import pytest

from podquake.model import ClusterSpec, Simulation
from podquake.model import constants as k8s
from podquake.model import lease as lease_module
from podquake.model.lease import LEASE_SLOTS, TICKS_PER_SECOND, first_failed_renewal, last_renewal, renewal_after_outage
from podquake.model.objects import Node
from podquake.model.quantity import Resources
from podquake.model.store import ClusterState


def test_the_doctests_hold():
    assert doctest.testmod(lease_module).failed == 0


def test_there_is_one_slot_per_tenth_of_the_renew_interval():
    assert LEASE_SLOTS == k8s.NODE_LEASE_RENEW_SECONDS * TICKS_PER_SECOND == 100


def reference_renewals(slot: int, from_tick: int, until: float) -> list[float]:
    """A timer's renewals: every tick of ``slot`` after ``from_tick`` up to ``until``."""
    return [t / TICKS_PER_SECOND for t in range(from_tick + 1, int(until * TICKS_PER_SECOND) + 1) if t % LEASE_SLOTS == slot]


def test_the_computed_renewal_is_the_latest_tick_of_the_slot_since_the_lease_started():
    for slot in (0, 1, 37, 99):
        for from_tick in (0, 5, 137, 1000):
            node = Node("n", 0, {}, Resources(1, 1), Resources(1, 1), renewed_at=-1.0, lease_slot=slot, lease_from_tick=from_tick)
            for tick in range(from_tick, from_tick + 350):
                now = tick / TICKS_PER_SECOND
                expected = reference_renewals(slot, from_tick, now)
                assert last_renewal(node, now) == (expected[-1] if expected else -1.0), (slot, from_tick, tick)


def make_state() -> tuple[ClusterState, list[float]]:
    clock = [0.0]
    state = ClusterState(lambda: clock[0])
    state.add_node(Node("n", 0, {}, Resources(1, 1), Resources(1, 1)))
    return state, clock


def test_a_stopped_lease_keeps_its_latest_renewal_and_a_restart_renews_from_the_next_tick():
    state, clock = make_state()
    assert state.unrenewed == {"n": state.nodes["n"]} and state.last_renewal("n") == 0.0
    clock[0] = 2.0
    state.start_lease("n", 30)
    assert state.unrenewed == {}
    clock[0] = 2.95
    assert state.last_renewal("n") == 0.0  # the first tick of slot 30 after 2.0 s is at 3.0 s
    clock[0] = 24.0
    assert state.last_renewal("n") == 23.0
    state.stop_lease("n")
    assert "n" in state.unrenewed
    clock[0] = 100.0
    assert state.last_renewal("n") == 23.0  # frozen
    state.start_lease("n", 30)
    state.heartbeat("n")  # a kubelet coming back renews at once
    assert state.last_renewal("n") == 100.0
    clock[0] = 103.0
    assert state.last_renewal("n") == 103.0


def test_a_removed_node_stops_its_lease_quietly():
    state, clock = make_state()
    state.start_lease("n", 0)
    state.remove_node("n")
    state.stop_lease("n")  # the kubelet shuts down after the node object is gone
    assert state.unrenewed == {}


def test_a_powered_off_machine_stops_renewing_at_its_last_tick():
    sim = Simulation(ClusterSpec.uniform(nodes=3, zones=1), seed=4)
    sim.run(45)
    node = sim.state.nodes["worker-2"]
    before = sim.state.last_renewal("worker-2")
    assert 35 < before <= 45
    sim.kubelets["worker-2"].power_off()
    sim.run(200)
    assert sim.state.last_renewal("worker-2") == before and "worker-2" in sim.state.unrenewed
    assert node.ready == "Unknown"
    assert not sim.kubelet_dispatcher.all_renewing()
    sim.kubelets["worker-2"].power_on()
    assert sim.state.last_renewal("worker-2") == 200.0 and sim.kubelet_dispatcher.all_renewing()


def test_after_an_outage_the_lease_is_renewed_by_the_first_retry_that_gets_through():
    assert first_failed_renewal(17, 60.0) == 61.7 and first_failed_renewal(17, 61.7) == 71.7
    # retries at 61.7 (at once), 61.9, 62.3, 63.1, 64.7, 67.9, 74.3, then every 7 s
    assert [renewal_after_outage(61.7, t) for t in (61.7, 61.8, 64.0, 74.3, 74.4, 180.0)] == pytest.approx(
        [61.7, 61.9, 64.7, 74.3, 81.3, 186.3]
    )
