"""The cloud provider: machines (instances) that boot into nodes, with latency, a quota and failures.

Every node pool of the :class:`~podquake.model.cluster.ClusterSpec` is a node group here (an
autoscaling group, a managed instance group). The nodes the simulation starts with are adopted as
running machines of their pool; :meth:`CloudProvider.create_machine` asks for one more, named
``<pool>-<n>`` after the pool's highest number so far (names are never reused). A pool's *size*
counts its live machines: provisioning, running, and failed ones not yet deleted. A machine
is ``provisioning`` for its boot latency, then either ``running`` (its node joins the cluster through
``sim.add_node``, shaped by its pool) or ``failed`` (it never joins; it keeps counting against the
quota until someone deletes it). :meth:`CloudProvider.terminate` deletes a machine at any stage; a
running machine's node leaves the cluster at once, with whatever pods it still held.

Each change is traced as a :class:`~podquake.model.trace.MachineStateChanged` event (``requested``,
``running``, ``failed``, ``terminated``), so properties can see what the cloud did and when.

The latencies are not Kubernetes' to give: they depend on the cloud. ``provisioning_seconds``
(default 90 s: a VM boots, the kubelet registers and reports Ready, typically one to two minutes on
the large clouds) is drawn uniformly within ``± provisioning_jitter`` of itself (a fraction; 0 by
default, so runs are easy to read).

Fault hooks, for the chaos layer (each is a plain attribute or method, effective for machines
requested afterwards):

- slow provisioning: ``latency_multiplier`` (2.0 doubles every boot time);
- failing provisioning: ``failure_rate`` (probability a new machine fails to boot) and
  :meth:`fail_next` (the next ``n`` requested machines fail, whatever the rate);
- quota exhaustion: :meth:`set_quota` (``None`` for unlimited): a request beyond it raises
  :class:`QuotaExceeded`, as the cloud API answers an over-quota request.

>>> from podquake.model import ClusterSpec, Simulation
>>> from podquake.model.cluster import NodePool
>>> sim = Simulation(ClusterSpec(pools=(NodePool(count=1, zones=("zone-a",), max_size=3),)), seed=1)
>>> cloud = CloudProvider(sim)
>>> machine = cloud.create_machine("worker")
>>> machine.name, machine.state
('worker-2', 'provisioning')
>>> sim.run_for(91); machine.state, "worker-2" in sim.state.nodes
('running', True)

Simplifications, on purpose: a machine's node joins Ready the instant the machine boots (node
registration and the first Ready report are part of the boot latency); a failed machine fails at the
end of its boot latency (a cloud that refuses at once is the quota error); terminating a machine
removes its Node object at once (upstream the cloud node lifecycle controller of the
cloud-controller-manager notices the instance is gone and deletes the Node a few seconds later).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from podquake.model.cluster import POOL_LABEL, NodePool
from podquake.model.errors import finite_number

if TYPE_CHECKING:
    from podquake.model.simulation import Simulation

__all__ = ["CloudError", "CloudProvider", "Machine", "QuotaExceeded"]

PROVISIONING = "provisioning"
RUNNING = "running"
FAILED = "failed"
TERMINATED = "terminated"


class CloudError(RuntimeError):
    """The cloud API refused a request."""


class QuotaExceeded(CloudError):
    """The request would take the project past its machine quota."""


@dataclass(slots=True, eq=False)
class Machine:
    """One instance. ``name`` is also the name of the node it becomes; ``boot_at`` is when it is due
    to boot (or fail); ``ended_at`` when it failed or was terminated."""

    name: str
    pool: str
    zone: str
    state: str
    requested_at: float
    boot_at: float
    will_fail: bool = False
    ended_at: float | None = None


class CloudProvider:
    """The machines of every node pool, and the API to create and delete them (see the module docstring).

    Construct after the simulation's initial nodes exist (``CloudProvider(sim)``): they are adopted
    as running machines of the pool named by their ``podquake.io/pool`` label.
    """

    def __init__(
        self,
        sim: Simulation,
        *,
        provisioning_seconds: float = 90.0,
        provisioning_jitter: float = 0.0,
        failure_rate: float = 0.0,
        quota: int | None = None,
    ) -> None:
        number = (int, float)
        # NaN: no machine would ever come.
        finite_number(provisioning_seconds, "provisioning_seconds", minimum=0, fix="write e.g. provisioning_seconds=90.0, the default")
        if isinstance(provisioning_jitter, bool) or not isinstance(provisioning_jitter, number) or not 0.0 <= provisioning_jitter < 1.0:
            raise ValueError(f"provisioning_jitter must be in [0, 1), not {provisioning_jitter!r}")
        if isinstance(failure_rate, bool) or not isinstance(failure_rate, number) or not 0.0 <= failure_rate <= 1.0:
            raise ValueError(f"failure_rate is a probability in [0, 1], not {failure_rate!r}")
        if quota is not None and (isinstance(quota, bool) or not isinstance(quota, int) or quota < 0):
            raise ValueError(f"quota must be None (no quota) or a whole number of machines >= 0, not {quota!r}")
        self.sim = sim
        self.env = sim.env
        self.state = sim.state
        self.region = sim.cluster_spec.region
        self.pools: dict[str, NodePool] = {pool.name: pool for pool in sim.cluster_spec.pools}
        self.provisioning_seconds = provisioning_seconds
        self.provisioning_jitter = provisioning_jitter
        self.latency_multiplier = 1.0
        self.failure_rate = failure_rate
        self.quota = quota
        self.machines: dict[str, Machine] = {}
        self._by_pool: dict[str, dict[str, Machine]] = {name: {} for name in self.pools}
        self._unsettled: dict[str, Machine] = {}  # provisioning or failed, by name
        self._forced_failures = 0
        self._next_index: dict[str, int] = {name: 1 for name in self.pools}
        for node in sim.state.node_list:
            pool_name = node.labels.get(POOL_LABEL)
            if pool_name in self.pools:
                machine = Machine(node.name, pool_name, node.zone, RUNNING, node.created_at, node.created_at)
                self._add(machine)

    def start(self) -> None:
        """Nothing runs on its own: machines boot on timers set when they are requested."""

    # --- the API ---------------------------------------------------------------------------------
    def create_machine(self, pool: str, zone: str | None = None) -> Machine:
        """Request one machine of ``pool`` in ``zone`` (default: the pool's zone with the fewest live
        machines, earlier zones first, as cloud instance groups balance zones). Raises
        :class:`QuotaExceeded` past the quota and :class:`CloudError` for an unknown pool or zone."""
        spec = self.pools.get(pool)
        if spec is None:
            raise CloudError(f"no node pool named {pool!r}")
        if zone is None:
            zone = self.next_zone(pool)
        elif zone not in spec.zones:
            raise CloudError(f"node pool {pool!r} has no zone {zone!r} (zones: {', '.join(spec.zones)})")
        if self.quota is not None and self.live_count() >= self.quota:
            raise QuotaExceeded(f"machine quota {self.quota} reached")
        now = self.env.now
        latency = self.provisioning_seconds * self.latency_multiplier
        if self.provisioning_jitter:
            latency *= 1.0 + self.provisioning_jitter * (2.0 * self.sim.rng.random() - 1.0)
        will_fail = False
        if self._forced_failures:
            self._forced_failures -= 1
            will_fail = True
        elif self.failure_rate > 0.0:
            will_fail = self.sim.rng.random() < self.failure_rate
        machine = Machine(self._new_name(pool), pool, zone, PROVISIONING, now, now + latency, will_fail)
        self._add(machine)
        self._unsettled[machine.name] = machine
        self.state.record_machine(machine.name, pool, zone, "requested", f"{latency:g}")
        timeout = self.env.timeout(latency)
        timeout.callbacks.append(lambda _e: self._boot(machine))  # type: ignore[union-attr]
        return machine

    def terminate(self, name: str, reason: str = "Deleted") -> bool:
        """Delete machine ``name``: a provisioning one never boots; a running one's node (and any pod
        still on it) leaves the cluster now. Returns False if there is no such live machine."""
        machine = self.machines.get(name)
        if machine is None or machine.state == TERMINATED:
            return False
        was_running = machine.state == RUNNING
        machine.state = TERMINATED
        machine.ended_at = self.env.now
        self._by_pool[machine.pool].pop(name, None)
        self._unsettled.pop(name, None)
        self.state.record_machine(name, machine.pool, machine.zone, "terminated", reason)
        if was_running and name in self.state.nodes:
            self.state.remove_node(name)
        return True

    # --- fault hooks -----------------------------------------------------------------------------
    def fail_next(self, count: int = 1) -> None:
        """The next ``count`` machines requested fail to boot."""
        self._forced_failures += count

    def set_quota(self, quota: int | None) -> None:
        """Cap live machines (provisioning, running and failed) at ``quota``; ``None`` lifts the cap.
        Machines already there stay: a lowered quota only refuses new requests."""
        self.quota = quota

    # --- reading ---------------------------------------------------------------------------------
    def machines_of(self, pool: str) -> list[Machine]:
        """The live machines of ``pool``, in request order."""
        return list(self._by_pool.get(pool, {}).values())

    def unsettled(self) -> list[Machine]:
        """The machines still provisioning, and the failed ones not yet deleted, in request order."""
        return list(self._unsettled.values())

    def pool_size(self, pool: str) -> int:
        """The node group's current (target) size: its live machines."""
        return len(self._by_pool.get(pool, {}))

    def live_count(self) -> int:
        return sum(len(machines) for machines in self._by_pool.values())

    def quota_remaining(self) -> int | None:
        return None if self.quota is None else max(0, self.quota - self.live_count())

    def machine_for_node(self, node_name: str) -> Machine | None:
        machine = self.machines.get(node_name)
        return machine if machine is not None and machine.state == RUNNING else None

    def next_zone(self, pool: str, planned: dict[str, int] | None = None) -> str:
        """The zone the next machine of ``pool`` goes to (see :meth:`zones_by_preference`)."""
        return self.zones_by_preference(pool, planned)[0]

    def zones_by_preference(self, pool: str, planned: dict[str, int] | None = None) -> list[str]:
        """The pool's zones, fewest live machines (plus ``planned`` ones, by zone) first, ties in the
        pool's order."""
        zones = self.pools[pool].zones
        counts = dict.fromkeys(zones, 0)
        for machine in self._by_pool[pool].values():
            if machine.zone in counts:
                counts[machine.zone] += 1
        for zone, extra in (planned or {}).items():
            if zone in counts:
                counts[zone] += extra
        return sorted(zones, key=lambda z: counts[z])

    # --- internals -------------------------------------------------------------------------------
    def _add(self, machine: Machine) -> None:
        self.machines[machine.name] = machine
        self._by_pool[machine.pool][machine.name] = machine

    def _new_name(self, pool: str) -> str:
        index = self._next_index[pool]
        while f"{pool}-{index}" in self.machines or f"{pool}-{index}" in self.state.nodes:
            index += 1
        self._next_index[pool] = index + 1
        return f"{pool}-{index}"

    def _boot(self, machine: Machine) -> None:
        if machine.state != PROVISIONING:
            return  # terminated while provisioning
        if machine.will_fail:
            machine.state = FAILED
            machine.ended_at = self.env.now
            self.state.record_machine(machine.name, machine.pool, machine.zone, "failed", "ProvisioningFailed")
            return
        machine.state = RUNNING
        del self._unsettled[machine.name]
        self.state.record_machine(machine.name, machine.pool, machine.zone, "running")
        self.sim.add_node(self.pools[machine.pool].node(machine.name, machine.zone, self.region))

