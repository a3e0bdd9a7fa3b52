"""The cloud provider: machines boot into nodes after their latency, fail, hit the quota, terminate;
node pools as node groups (minSize/maxSize)."""

from __future__ import annotations

import doctest

import pytest
import yaml

from podquake.model import cloud as cloud_module
from podquake.model import trace as ev
from podquake.model.cloud import CloudError, CloudProvider, QuotaExceeded
from podquake.model.cluster import POOL_LABEL, ClusterSpec, NodePool
from podquake.model.errors import InputError
from podquake.model.controllers.cluster_autoscaler import AutoscalerOptions
from podquake.model.simulation import Simulation
from tests.model.controllers.workload_kit import LegalFirstFit, replicaset

GI = 2**30


def make(count: int = 1, zones: tuple[str, ...] = ("zone-a", "zone-b", "zone-c"), **cloud_args: object) -> tuple[Simulation, CloudProvider]:
    pool = NodePool(name="w", count=count, zones=zones, cpu_millis=2000, memory_bytes=8 * GI, max_size=count + 10)
    sim = Simulation(
        ClusterSpec(pools=(pool,)), seed=5, scheduler=LegalFirstFit(), cloud_options=cloud_args,
        autoscaler_options=AutoscalerOptions(enabled=False),  # these tests drive the cloud by hand
    )
    return sim, sim.cloud


def machine_events(sim: Simulation, state: str) -> list[ev.MachineStateChanged]:
    return [e for e in sim.trace.of_type(ev.MachineStateChanged) if e.state == state]  # type: ignore[misc]


def test_the_initial_nodes_are_running_machines_of_their_pool():
    sim, cloud = make(count=3)
    assert [m.name for m in cloud.machines_of("w")] == ["w-1", "w-2", "w-3"]
    assert all(m.state == "running" for m in cloud.machines_of("w"))
    assert cloud.pool_size("w") == 3 and cloud.machine_for_node("w-2") is not None


def test_a_machine_joins_as_a_node_of_its_pools_shape_after_the_provisioning_latency():
    sim, cloud = make(count=1)
    sim.run(10.0)
    machine = cloud.create_machine("w")
    assert machine.state == "provisioning" and machine.boot_at == 10.0 + 90.0
    sim.run(99.999)
    assert "w-2" not in sim.state.nodes
    sim.run(100.001)
    node = sim.state.nodes["w-2"]
    assert machine.state == "running"
    assert node.allocatable.cpu_millis == 2000 and node.allocatable.memory_bytes == 8 * GI
    assert node.labels[POOL_LABEL] == "w" and node.zone == "zone-b"  # zone-a already has w-1
    assert [(e.t, e.machine) for e in machine_events(sim, "requested")] == [(10.0, "w-2")]
    assert [(e.t, e.machine) for e in machine_events(sim, "running")] == [(100.0, "w-2")]
    assert "w-2" in sim.kubelets  # the simulation started its kubelet


def test_new_machines_balance_the_pools_zones():
    sim, cloud = make(count=1)
    zones = [cloud.create_machine("w").zone for _ in range(5)]
    assert zones == ["zone-b", "zone-c", "zone-a", "zone-b", "zone-c"]
    assert cloud.create_machine("w", zone="zone-a").zone == "zone-a"


def test_the_latency_multiplier_slows_provisioning():
    sim, cloud = make(provisioning_seconds=60.0)
    cloud.latency_multiplier = 3.0
    machine = cloud.create_machine("w")
    assert machine.boot_at == 180.0
    sim.run(179.0)
    assert machine.state == "provisioning"
    sim.run(181.0)
    assert machine.state == "running"


def test_jitter_stays_within_its_bounds_and_is_seeded():
    boots = []
    for _ in range(2):
        sim, cloud = make(provisioning_jitter=0.5)
        boots.append([cloud.create_machine("w").boot_at for _ in range(20)])
    assert boots[0] == boots[1]
    assert all(45.0 <= b <= 135.0 for b in boots[0]) and len(set(boots[0])) > 1


def test_forced_failures_never_join_and_count_against_the_quota_until_deleted():
    sim, cloud = make(count=1, quota=2)
    cloud.fail_next(1)
    failing = cloud.create_machine("w")
    sim.run(100.0)
    assert failing.state == "failed" and failing.name not in sim.state.nodes
    assert [e.machine for e in machine_events(sim, "failed")] == [failing.name]
    with pytest.raises(QuotaExceeded):
        cloud.create_machine("w")
    assert cloud.terminate(failing.name, "Cleanup")
    healthy = cloud.create_machine("w")  # fail_next(1) was used up
    sim.run(200.0)
    assert healthy.state == "running" and healthy.name in sim.state.nodes


def test_the_failure_rate_decides_per_machine():
    sim, cloud = make(failure_rate=1.0)
    machines = [cloud.create_machine("w") for _ in range(3)]
    sim.run(100.0)
    assert [m.state for m in machines] == ["failed"] * 3
    sim, cloud = make(failure_rate=0.0)
    machine = cloud.create_machine("w")
    sim.run(100.0)
    assert machine.state == "running"


def test_a_quota_refuses_requests_beyond_it_and_lifting_it_allows_them():
    sim, cloud = make(count=2)
    cloud.set_quota(3)
    assert cloud.quota_remaining() == 1
    cloud.create_machine("w")
    with pytest.raises(QuotaExceeded, match="quota 3"):
        cloud.create_machine("w")
    cloud.set_quota(None)
    cloud.create_machine("w")
    assert cloud.pool_size("w") == 4 and cloud.quota_remaining() is None


def test_terminating_a_running_machine_removes_its_node_and_pods():
    sim, cloud = make(count=2)
    rs = replicaset(sim, replicas=2)
    sim.run(5.0)
    on_w1 = [p.key for p in sim.state.nodes["w-1"].pods.values()]
    assert len(on_w1) == 2  # first fit
    assert all(p.ready for p in sim.state.pods_owned_by(rs.uid))
    assert cloud.terminate("w-1", "Preempted")
    assert "w-1" not in sim.state.nodes and cloud.pool_size("w") == 1
    deleted = {e.pod: e.reason for e in sim.trace.of_type(ev.PodDeleted)}  # type: ignore[attr-defined]
    assert all(deleted[key] == "NodeRemoved" for key in on_w1)
    assert machine_events(sim, "terminated")[0].detail == "Preempted"
    assert not cloud.terminate("w-1")
    sim.run(10.0)
    assert {p.node_name for p in sim.state.pods_owned_by(rs.uid)} == {"w-2"}  # replaced elsewhere


def test_a_machine_terminated_while_provisioning_never_boots():
    sim, cloud = make()
    machine = cloud.create_machine("w")
    sim.run(30.0)
    cloud.terminate(machine.name, "GivenUp")
    sim.run(200.0)
    assert machine.state == "terminated" and machine.name not in sim.state.nodes
    assert not machine_events(sim, "running")


def test_machine_names_are_never_reused():
    sim, cloud = make(count=1)
    first = cloud.create_machine("w")
    cloud.terminate(first.name)
    assert cloud.create_machine("w").name != first.name


def test_bad_requests_are_cloud_errors():
    sim, cloud = make()
    with pytest.raises(CloudError, match="no node pool"):
        cloud.create_machine("gpu")
    with pytest.raises(CloudError, match="no zone"):
        cloud.create_machine("w", zone="zone-z")


# --- node pools as node groups --------------------------------------------------------------------
def test_pools_are_not_autoscaled_unless_min_or_max_size_is_given():
    pool = NodePool(count=3)
    assert (pool.min_nodes, pool.max_nodes, pool.autoscaled) == (3, 3, False)
    pool = NodePool(count=3, min_size=1, max_size=10)
    assert (pool.min_nodes, pool.max_nodes, pool.autoscaled) == (1, 10, True)


def test_min_and_max_size_parse_validate_and_round_trip():
    spec = ClusterSpec.from_dict(yaml.safe_load("pools: [{name: w, count: 2, minSize: 1, maxSize: 8}]"))
    assert (spec.pools[0].min_nodes, spec.pools[0].max_nodes) == (1, 8)
    assert ClusterSpec.from_dict(yaml.safe_load(yaml.safe_dump(spec.to_dict()))) == spec
    for data, message in [
        ({"name": "w", "count": 5, "maxSize": 3}, "count 5 exceeds maxSize 3"),
        ({"name": "w", "count": 1, "minSize": 2}, "count 1 is below minSize 2"),
        ({"name": "w", "count": 1, "minSize": 4, "maxSize": 2}, "minSize 4 must not exceed maxSize 2"),
        ({"name": "w", "count": 1, "minSize": -1}, "minSize -1 must not be negative"),
        ({"name": "w", "count": 1, "maxSize": "ten"}, "not a whole number"),
    ]:
        with pytest.raises(InputError, match=message):
            ClusterSpec.from_dict({"pools": [data]}, source="cluster.yaml")


def test_the_module_examples_run():
    assert doctest.testmod(cloud_module).failed == 0


@pytest.mark.parametrize(
    "options, words",
    [
        ({"failure_rate": 2}, "failure_rate is a probability in [0, 1]"),
        ({"quota": -3}, "quota must be None (no quota) or a whole number of machines >= 0"),
        ({"provisioning_seconds": float("nan")}, "provisioning_seconds must be a finite number >= 0"),
    ],
)
def test_impossible_cloud_options_are_refused(options, words):
    """failure_rate=2 and quota=-3 were taken; provisioning_seconds=nan meant no machine ever came."""
    with pytest.raises(ValueError) as caught:
        Simulation(ClusterSpec.uniform(nodes=2, zones=1), cloud_options=options)
    assert words in str(caught.value)
