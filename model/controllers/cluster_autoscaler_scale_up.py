"""The cluster autoscaler's scale-up: which node group grows, and by how many machines.

Step 2 of the scan (see :mod:`podquake.model.controllers.cluster_autoscaler`), after
kubernetes/autoscaler:cluster-autoscaler core/scaleup/orchestrator, estimator/binpacking_estimator.go
and expander/: the pending pods the scheduler gave up on, minus expendable ones, are first packed
onto the nodes there are and the machines still provisioning; for what is left, each node group not
backed off and with room packs them onto new nodes of its shape, the expander picks one group, and
its machines are requested from the cloud. A node group whose machines fail to boot, or whose
request the cloud refuses, is backed off (:meth:`ScaleUp._back_off`, utils/backoff/
exponential_backoff.go).

A mixin of :class:`~podquake.model.controllers.cluster_autoscaler.ClusterAutoscaler`, which owns the
loop, the watches and all the state; apart because the scale-up is one step of the loop with its own
upstream sources. Of the scale-down's state it reads only ``deleting`` (nodes on their way out take
no pods), and the code the two share is the what-if placements of
:mod:`podquake.model.controllers.cluster_autoscaler_snapshot`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from podquake.model import constants as k8s
from podquake.model.cloud import PROVISIONING, CloudError
from podquake.model.cluster import NodePool
from podquake.model.controllers.cluster_autoscaler_snapshot import Snapshot, add_pod, first_fit
from podquake.model.objects import Node, Pod
from podquake.model.scheduling.contract import placement_problem

if TYPE_CHECKING:
    from podquake.model.cloud import CloudProvider
    from podquake.model.controllers.cluster_autoscaler_options import AutoscalerOptions
    from podquake.model.controllers.cluster_autoscaler_scale_down import _Deletion
    from podquake.model.simulation import Simulation
    from podquake.model.store import ClusterState

__all__ = ["ScaleUp"]


@dataclass(slots=True)
class _Backoff:
    """A node group's back-off: how long it lasts, until when, and when the group last failed (the
    back-off is forgotten ``node_group_backoff_reset`` after that)."""

    duration: float
    until: float
    last_failed: float


@dataclass(slots=True)
class _Option:
    """One node group's answer to the pending pods: the new nodes it would add and the pods they take."""

    pool: NodePool
    nodes: list[Node] = field(default_factory=list)
    pods: list[Pod] = field(default_factory=list)


class ScaleUp:
    """The scale-up half of :class:`~podquake.model.controllers.cluster_autoscaler.ClusterAutoscaler`
    (see the module docstring). It holds no state of its own: everything lives on the autoscaler."""

    if TYPE_CHECKING:  # provided by ClusterAutoscaler
        sim: Simulation
        state: ClusterState
        cloud: CloudProvider
        options: AutoscalerOptions
        pools: dict[str, NodePool]
        deleting: dict[str, _Deletion]
        last_scale_up: float
        _backoffs: dict[str, _Backoff]
        _unschedulable: dict[str, None]
        _not_triggered: dict[str, str]
        _expendable: dict[str, dict[str, Pod]]

    def _pending_pods(self) -> list[Pod]:
        pods = []
        cutoff = self.options.expendable_pods_priority_cutoff
        for key in list(self._unschedulable):
            pod = self.state.pods_by_key.get(key)
            if pod is None or pod.node_name is not None or pod.deletion_timestamp is not None:
                del self._unschedulable[key]
                continue
            if pod.spec.priority >= cutoff:
                pods.append(pod)
        pods.sort(key=lambda p: -p.spec.priority)
        return pods

    def _scale_up(self, now: float) -> str:
        """``"scaled"``, ``"wait"`` (pods too new: no scale-down either) or ``"none"``."""
        pods = self._pending_pods()
        if not pods:
            return "none"
        nodes = self.state.nodes
        preempting = [p for p in pods if p.nominated_node_name is not None and p.nominated_node_name in nodes]
        if preempting:
            pods = [p for p in pods if p.nominated_node_name is None or p.nominated_node_name not in nodes]
        pods = self._filter_out_schedulable(pods, preempting)
        if not pods:
            return "none"
        if min(p.created_at for p in pods) + k8s.CA_UNSCHEDULABLE_POD_TIME_BUFFER_SECONDS > now:
            return "wait"
        options = self._options_for(pods, now)
        helped: dict[str, None] = {}
        for option in options:
            for pod in option.pods:
                helped[pod.uid] = None
        fits: dict[int, bool] = {}  # id() of a pod spec -> whether a fresh node of some group takes it
        for pod in pods:
            if pod.uid not in helped:
                self._not_triggered_event(pod, fits)
        if not options:
            return "none"
        best = self._expand(options)
        created = 0
        for node in best.nodes:
            try:
                self.cloud.create_machine(best.pool.name, node.zone)
            except CloudError as error:
                self._back_off(best.pool.name, now, str(error))
                break
            created += 1
        if not created:
            return "none"
        self.state.record_scale_up(best.pool.name, created, len(best.pods))
        self.last_scale_up = now
        return "scaled"

    def _filter_out_schedulable(self, pods: list[Pod], preempting: list[Pod] | None = None) -> list[Pod]:
        """Drop the pods that fit on an existing node or on a machine still provisioning
        (core/podlistprocessor/filter_out_schedulable.go, higher priority first). The room of expendable
        pods counts as free, as upstream's snapshot leaves them out: the scheduler would preempt them.

        ``preempting``: pending pods nominated to an existing node (``status.nominatedNodeName``, the
        scheduler's preemption is freeing room there). Upstream asks no scale-up for them and puts them
        on their node first, fitting or not (core/podlistprocessor/filter_out_expendable.go
        ``addPreemptingPodsToSnapshot``, core/utils ``FilterOutExpendableAndSplit``); a pod nominated to
        a node that is gone is pending like any other."""
        nodes = [n for n in self.state.node_list if n.name not in self.deleting]
        for machine in self.cloud.machines.values():
            if machine.state == PROVISIONING:
                nodes.append(self.pools[machine.pool].node(machine.name, machine.zone, self.cloud.region))
        snapshot = Snapshot(nodes, self._expendable)
        if preempting:
            where = {node.name: i for i, node in enumerate(snapshot.nodes)}
            for pod in preempting:
                index = where.get(pod.nominated_node_name)  # type: ignore[arg-type]
                if index is not None:
                    snapshot.place(pod, index)
        if not pods:
            return []
        hopeless: dict[int, None] = {}  # id() of pod specs that fitted nowhere (same spec, same answer)
        terms = bool(self.state.pods_with_affinity) or any(p.spec.pod_affinity is not None for p in pods)
        remaining = []
        for pod in pods:
            spec_id = id(pod.spec)
            index = -1 if spec_id in hopeless else first_fit(pod, snapshot.nodes, terms=terms)
            if index < 0:
                if pod.spec.pod_affinity is None:  # with terms, the answer may change as pods are placed
                    hopeless[spec_id] = None
                remaining.append(pod)
            else:
                snapshot.place(pod, index)
        return remaining

    def _room(self, pool: NodePool) -> int:
        room = min(pool.max_nodes - self.cloud.pool_size(pool.name), k8s.CA_MAX_NODES_PER_SCALE_UP)
        quota = self.cloud.quota_remaining()
        if quota is not None:
            room = min(room, quota)
        if self.options.max_nodes_total > 0:
            room = min(room, self.options.max_nodes_total - len(self.state.node_list) - self._provisioning_count())
        return room

    def _provisioning_count(self) -> int:
        return sum(1 for m in self.cloud.machines.values() if m.state == PROVISIONING)

    def _options_for(self, pods: list[Pod], now: float) -> list[_Option]:
        options = []
        for pool in self.pools.values():
            backoff = self._backoffs.get(pool.name)
            if backoff is not None and backoff.until > now:
                continue
            room = self._room(pool)
            if room <= 0:
                continue
            option = self._estimate(pool, pods, room)
            if option.pods:
                options.append(option)
        return options

    def _estimate(self, pool: NodePool, pods: list[Pod], limit: int) -> _Option:
        """Binpacking (estimator/binpacking_estimator.go): largest pods first, first fit on the new
        nodes so far, else a new node in the least-loaded zone that takes the pod."""
        alloc = pool.allocatable
        cpu, mem = max(alloc.cpu_millis, 1), max(alloc.memory_bytes, 1)
        ordered = sorted(pods, key=lambda p: -(p.spec.requests.cpu_millis / cpu + p.spec.requests.memory_bytes / mem))
        option = _Option(pool)
        planned: dict[str, int] = {}
        misfits: dict[int, None] = {}  # id() of specs no fresh node of this pool takes
        terms = bool(self.state.pods_with_affinity) or any(p.spec.pod_affinity is not None for p in pods)
        live = self.state.node_list if terms else []
        for pod in ordered:
            # inter-pod terms count the pods of the cluster and of the new nodes so far
            index = first_fit(pod, option.nodes, terms=terms, context=live + option.nodes)
            if index >= 0:
                add_pod(option.nodes[index], pod)
                option.pods.append(pod)
                continue
            if len(option.nodes) >= limit or id(pod.spec) in misfits:
                continue
            for zone in self.cloud.zones_by_preference(pool.name, planned):
                node = pool.node(f"{pool.name}-template-{len(option.nodes)}", zone, self.cloud.region)
                if placement_problem(pod, node) is None and (
                    not terms or first_fit(pod, [node], terms=True, context=live + option.nodes + [node]) == 0
                ):
                    add_pod(node, pod)
                    option.nodes.append(node)
                    option.pods.append(pod)
                    planned[zone] = planned.get(zone, 0) + 1
                    break
            else:
                misfits[id(pod.spec)] = None
        return option

    def _expand(self, options: list[_Option]) -> _Option:
        """The expander: least-waste (expander/waste/waste.go) or random; ties broken at random."""
        if self.options.expander == "least-waste":
            scored = [(_waste(option), option) for option in options]
            least = min(score for score, _ in scored)
            options = [option for score, option in scored if score == least]
        return options[0] if len(options) == 1 else self.sim.rng.choice(options)

    def _not_triggered_event(self, pod: Pod, fits: dict[int, bool]) -> None:
        fits_somewhere = fits.get(id(pod.spec))
        if fits_somewhere is None:
            fits_somewhere = fits[id(pod.spec)] = any(
                placement_problem(pod, pool.node(f"{pool.name}-template", zone, self.cloud.region)) is None
                for pool in self.pools.values()
                for zone in pool.zones
            )
        if not fits_somewhere:
            reason = "pod didn't fit on a new node of any node group"
        else:
            reason = "the node groups that fit it are at max size, out of quota or backed off"
        if self._not_triggered.get(pod.key) != reason:
            self._not_triggered[pod.key] = reason
            self.state.record_no_scale_up(pod.uid, reason)

    # --- node group back-off ---------------------------------------------------------------------
    def _back_off(self, pool: str, now: float, reason: str) -> None:
        """utils/backoff/exponential_backoff.go: a failure outside a back-off doubles the last one."""
        options = self.options
        duration = options.initial_node_group_backoff
        previous = self._backoffs.get(pool)
        if previous is not None and previous.until < now:
            duration = min(2 * previous.duration, options.max_node_group_backoff)
        self._backoffs[pool] = _Backoff(duration, now + duration, now)
        self.state.record_node_group_backoff(pool, now + duration, reason)


def _waste(option: _Option) -> float:
    """The least-waste score: the unused fraction of the new nodes' CPU capacity plus that of their
    memory. As upstream's ``resourcesForPods`` (expander/waste/waste.go), the pods' requests are those
    of their regular containers only: no init containers, sidecars or overhead, which the binpacking
    (and the scheduler) do count."""
    capacity = option.pool.capacity
    count = len(option.nodes)
    avail_cpu, avail_mem = capacity.cpu_millis * count, capacity.memory_bytes * count
    cpu = mem = 0
    for pod in option.pods:
        for container in pod.spec.containers:
            cpu += container.requests.cpu_millis
            mem += container.requests.memory_bytes
    return (avail_cpu - cpu) / avail_cpu + (avail_mem - mem) / avail_mem
