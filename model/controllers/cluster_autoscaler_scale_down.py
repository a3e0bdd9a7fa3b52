"""The cluster autoscaler's scale-down: which nodes are unneeded, and deleting them.

Steps 3 and 4 of the scan (see :mod:`podquake.model.controllers.cluster_autoscaler`), after
kubernetes/autoscaler:cluster-autoscaler core/scaledown:

- **Planning** (planner/, unneeded/, eligibility/, pdb/basic.go; utils/drain): a node of an
  autoscaled group is unneeded when its utilization is below the threshold and every pod on it can
  move (the drain rules, the PodDisruptionBudgets' ``disruptionsAllowed``, and room on another
  node, simulated with :mod:`podquake.model.controllers.cluster_autoscaler_snapshot`).
- **Actuation** (actuation/): a node unneeded for long enough, outside the cool-down and within the
  parallelism limits, is tainted and cordoned, drained through the eviction API
  (:class:`~podquake.model.controllers.cluster_autoscaler_options.DisruptionAPI`), and its machine
  deleted.

A mixin of :class:`~podquake.model.controllers.cluster_autoscaler.ClusterAutoscaler`, which owns the
loop, the watches and all the state; apart because the scale-down is its own step of the loop, with
its own upstream sources. Of the scale-up's state it reads only ``last_scale_up`` (the cool-down),
and the code the two share is the what-if placements of
:mod:`podquake.model.controllers.cluster_autoscaler_snapshot`.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from podquake.model import constants as k8s
from podquake.model.cloud import RUNNING
from podquake.model.controllers.cluster_autoscaler_options import TAINT_DELETION_CANDIDATE
from podquake.model.controllers.cluster_autoscaler_snapshot import Snapshot, first_fit
from podquake.model.objects import Node, Pod
from podquake.model.resources_api import PodDisruptionBudget
from podquake.model.selectors import Taint

if TYPE_CHECKING:
    import simpy

    from podquake.model.cloud import CloudProvider
    from podquake.model.cluster import NodePool
    from podquake.model.controllers.cluster_autoscaler_options import AutoscalerOptions, DisruptionAPI
    from podquake.model.store import ClusterState

__all__ = ["ScaleDown"]

_LOCAL_VOLUME_KINDS = ("emptyDir", "hostPath")
_TERMINAL = ("Succeeded", "Failed")


def _has_blocking_local_storage(pod: Pod) -> bool:
    """Upstream ``HasBlockingLocalStorage`` (utils/drain/drain.go, used by
    simulator/drainability/rules/localstorage): a hostPath volume, or an emptyDir not backed by memory
    (``isLocalVolume``: ``Medium != Memory``), that the pod's ``safe-to-evict-local-volumes``
    annotation does not list (``getNonBlockingVolumes``: comma-separated volume names)."""
    local = [v.name for v in pod.spec.volumes if v.kind in _LOCAL_VOLUME_KINDS and not (v.kind == "emptyDir" and v.medium == "Memory")]
    if not local:
        return False
    listed = pod.annotations.get(k8s.CA_SAFE_TO_EVICT_LOCAL_VOLUMES_ANNOTATION, "")
    non_blocking = set(listed.split(",")) if listed else set()
    return any(name not in non_blocking for name in local)


@dataclass(slots=True)
class _Deletion:
    """A node deletion under way: the node's group, and whether it drains pods (or the node is empty)."""

    pool: str
    drain: bool


class ScaleDown:
    """The scale-down half of :class:`~podquake.model.controllers.cluster_autoscaler.ClusterAutoscaler`
    (see the module docstring). It holds no state of its own: everything lives on the autoscaler."""

    if TYPE_CHECKING:  # provided by ClusterAutoscaler
        env: simpy.Environment
        state: ClusterState
        cloud: CloudProvider
        options: AutoscalerOptions
        disruption: DisruptionAPI | None
        pools: dict[str, NodePool]
        unneeded: dict[str, float]
        deleting: dict[str, _Deletion]
        last_scale_up: float
        last_scale_down_delete: float
        last_scale_down_fail: float
        _autoscaled: dict[str, None]
        _empty: dict[str, bool]
        _unremovable_until: dict[str, float]
        _terminating: dict[str, dict[str, Pod]]
        _expendable: dict[str, dict[str, Pod]]
        _soft_tainted: dict[str, None]

    # --- planning: finding unneeded nodes -----------------------------------------------------------
    def _utilization(self, node: Node, now: float) -> float:
        """max(cpu, memory) of Σ requests / allocatable (simulator/utilization/info.go
        ``CalculateUtilizationOfResource``: each pod's full ``resourcehelper.PodRequests``, with init
        containers, sidecars and overhead, as the node's ``requested_*``), ignoring long-terminating pods
        and expendable ones (priority below ``expendable_pods_priority_cutoff``: upstream's snapshot
        holds only the non-expendable scheduled pods, core/static_autoscaler.go ``RunOnce``).

        Upstream's ``IsPodLongTerminating`` (utils/drain/drain.go) is ``deletionTimestamp + grace + 30 s
        < now``, and upstream's ``deletionTimestamp`` is the deletion request + the grace period; the
        model's is the request time, so the grace period counts twice here."""
        cpu, mem = node.requested_cpu, node.requested_memory
        expendable = self._expendable.get(node.name, {})
        for pod in expendable.values():
            cpu -= pod.spec.requests.cpu_millis
            mem -= pod.spec.requests.memory_bytes
        for pod in self._terminating.get(node.name, {}).values():
            if pod.key in expendable:
                continue
            grace = pod.spec.termination_grace_period_seconds
            if pod.deletion_timestamp is not None and (
                pod.deletion_timestamp + 2 * grace + k8s.CA_POD_LONG_TERMINATING_EXTRA_SECONDS < now
            ):
                cpu -= pod.spec.requests.cpu_millis
                mem -= pod.spec.requests.memory_bytes
        alloc = node.allocatable
        return max(cpu / alloc.cpu_millis if alloc.cpu_millis else 0.0, mem / alloc.memory_bytes if alloc.memory_bytes else 0.0)

    def _candidates(self, now: float) -> list[tuple[Node, list[Pod]]]:
        """The nodes of autoscaled node groups, not being deleted, below the utilization threshold,
        with the pods each would have to move, in the order the planner looks at them: empty first,
        then already unneeded, then by index. (A group whose min size is its max size can never
        shrink, so its nodes are not looked at.)"""
        threshold = self.options.scale_down_utilization_threshold
        machines, autoscaled = self.cloud.machines, self._autoscaled
        found: list[tuple[Node, list[Pod]]] = []
        if not autoscaled:
            return found
        for node in self.state.node_list:
            name = node.name
            machine = machines.get(name)
            if machine is None or machine.state != RUNNING or machine.pool not in autoscaled:
                continue
            if name in self.deleting or self._unremovable_until.get(name, -1.0) > now:
                continue
            if self._utilization(node, now) < threshold:
                found.append((node, self._pods_to_move(node)))
        unneeded = self.unneeded
        found.sort(key=lambda c: (bool(c[1]), c[0].name not in unneeded, c[0].index))
        return found

    def _pods_to_move(self, node: Node) -> list[Pod]:
        """The pods a scale-down of ``node`` has to find a new home for: not DaemonSet pods, not
        finished or leaving, not expendable."""
        expendable = self._expendable.get(node.name, {})
        return [p for p in node.pods.values() if _must_move(p) and p.key not in expendable]

    def _update_unneeded(self, now: float) -> None:
        """The planner's UpdateClusterState: simulate removing each candidate in turn."""
        self._empty = {}
        self._unremovable_until = {name: t for name, t in self._unremovable_until.items() if t > now}
        candidates = self._candidates(now)
        if not candidates:
            self.unneeded = {}
            return
        snapshot = Snapshot([n for n in self.state.node_list if n.name not in self.deleting], self._expendable)
        removed: dict[str, None] = {}
        budgets: dict[tuple[str, str], int] = {}
        pdbs = self._all_pdbs()
        unneeded: dict[str, float] = {}
        non_empty = 0
        for node, pods in candidates:
            if pods and non_empty >= self.options.scale_down_non_empty_candidates:
                continue
            use = self._pdb_use(pods, budgets, pdbs)
            if isinstance(use, str) or not self._place_elsewhere(pods, node.name, snapshot, removed):
                self._unremovable_until[node.name] = now + self.options.unremovable_node_recheck_timeout
                continue
            for key, count in use.items():
                budgets[key] -= count
            removed[node.name] = None
            unneeded[node.name] = self.unneeded.get(node.name, now)
            self._empty[node.name] = not pods
            non_empty += bool(pods)
        self.unneeded = unneeded

    def _pdb_use(self, pods: list[Pod], budgets: dict[tuple[str, str], int], pdbs: list[PodDisruptionBudget]) -> dict[tuple[str, str], int] | str:
        """How many pods of each PDB moving ``pods`` takes, or why one of them may not go, upstream's
        words (simulator/drainability/rules; core/scaledown/pdb/basic.go: a PDB with no disruption
        left blocks; ``budgets`` holds what the nodes planned before this one left of each).

        As in upstream's rule chain (rules.go ``Default``), a pod annotated safe-to-evict "true" is
        drainable before the blocking rules run, the PDB rule among them: its budgets do not stop the
        plan (they are still spent), and the eviction API enforces them at the drain."""
        use: dict[tuple[str, str], int] = {}
        options = self.options
        for pod in pods:
            annotation = pod.annotations.get(k8s.CA_SAFE_TO_EVICT_ANNOTATION)
            if annotation == "false":
                return f"pod annotated as not safe to evict present: {pod.key}"
            matching = _pdbs_for(pod, pdbs)
            if annotation != "true":
                if pod.owner is None or pod.owner.uid not in self.state.workloads:
                    return f"{pod.key} is not replicated"
                if options.skip_nodes_with_system_pods and pod.namespace == "kube-system" and not matching:
                    return f"non-daemonset, non-mirrored, non-pdb-assigned kube-system pod present: {pod.key}"
                if options.skip_nodes_with_local_storage and _has_blocking_local_storage(pod):
                    return f"pod with local storage present: {pod.key}"
            for pdb in matching:
                key = (pdb.namespace, pdb.name)
                if key not in budgets:
                    budgets[key] = self._disruptions_allowed(pdb)
                if budgets[key] < 1 and annotation != "true":
                    return f"not enough pod disruption budget to move {pod.key}"
                use[key] = use.get(key, 0) + 1
        return use

    def _disruptions_allowed(self, pdb: PodDisruptionBudget) -> int:
        """The budget's ``status.disruptionsAllowed`` (0 before the disruption controller's first sync)."""
        assert self.disruption is not None
        status = self.disruption.status(pdb.namespace, pdb.name)
        return status.disruptions_allowed if status is not None else 0

    def _all_pdbs(self) -> list[PodDisruptionBudget]:
        return [
            obj
            for (kind, _namespace, _name), obj in self.state.objects.items()
            if kind == "PodDisruptionBudget" and isinstance(obj, PodDisruptionBudget)
        ]

    def _place_elsewhere(self, pods: list[Pod], node_name: str, snapshot: Snapshot, removed: dict[str, None]) -> bool:
        placed: list[tuple[Pod, int]] = []
        for pod in pods:
            index = first_fit(pod, snapshot.nodes, skip=(node_name, removed), terms=bool(self.state.pods_with_affinity))
            if index < 0:
                for done, where in placed:
                    snapshot.unplace(done, where)
                return False
            snapshot.place(pod, index)
            placed.append((pod, index))
        return True

    def _update_soft_taints(self, now: float) -> None:
        """core/scaledown/actuation/softtaint.go ``UpdateSoftDeletionTaints``, after each scale-down
        attempt outside the cool-down (core/static_autoscaler.go ``updateSoftDeletionTaints``): the
        nodes no longer unneeded lose ``DeletionCandidateOfClusterAutoscaler:PreferNoSchedule``, then
        the unneeded ones get it (its value the time, in whole seconds), ``max_bulk_soft_taint_count``
        changes a loop at most; nodes being deleted (tainted ToBeDeleted) are left as they are."""
        budget = self.options.max_bulk_soft_taint_count
        if budget <= 0:
            return
        state, tainted, unneeded, deleting = self.state, self._soft_tainted, self.unneeded, self.deleting
        for name in list(tainted):
            if name not in state.nodes:
                del tainted[name]
            elif name not in unneeded and name not in deleting and budget > 0:
                state.remove_taint(name, TAINT_DELETION_CANDIDATE, "PreferNoSchedule")
                del tainted[name]
                budget -= 1
        for name in unneeded:
            if budget <= 0:
                break
            if name not in tainted and name not in deleting and name in state.nodes:
                state.add_taint(name, Taint(TAINT_DELETION_CANDIDATE, str(int(now)), "PreferNoSchedule"))
                tainted[name] = None
                budget -= 1

    # --- actuation: deleting unneeded nodes ---------------------------------------------------------
    def _in_cooldown(self, now: float) -> bool:
        """core/static_autoscaler.go ``isScaleDownInCooldown``. ``last_scale_down_fail`` is when starting
        deletions failed at once (upstream: tainting failed), which the model's store never does."""
        options = self.options
        return (
            self.last_scale_up + options.scale_down_delay_after_add > now
            or self.last_scale_down_fail + options.scale_down_delay_after_failure > now
            or self.last_scale_down_delete + options.scale_down_delay_after_delete > now
        )

    def _start_deletions(self, now: float) -> None:
        options = self.options
        sizes = {name: self.cloud.pool_size(name) for name in self.pools}
        for deletion in self.deleting.values():
            sizes[deletion.pool] -= 1
        total_left = options.max_scale_down_parallelism - len(self.deleting)
        drains_left = options.max_drain_parallelism - sum(1 for d in self.deleting.values() if d.drain)
        started = 0
        for name, since in list(self.unneeded.items()):
            node = self.state.nodes.get(name)
            machine = self.cloud.machine_for_node(name)
            if node is None or machine is None or total_left <= 0:
                continue
            wait = options.scale_down_unneeded_time if node.ready == "True" else options.scale_down_unready_time
            if not since + wait < now:
                continue
            pool = self.pools[machine.pool]
            if sizes[pool.name] <= pool.min_nodes:
                continue
            drain = not self._empty.get(name, False)
            if drain and drains_left <= 0:
                continue
            sizes[pool.name] -= 1
            total_left -= 1
            drains_left -= drain
            started += 1
            self.deleting[name] = _Deletion(pool.name, drain)
            del self.unneeded[name]
            self.env.process(self._delete_node(name, pool.name, drain))
        if started:
            self.last_scale_down_delete = now

    def _delete_node(self, name: str, pool: str, drain: bool) -> Generator[simpy.Event, None, None]:
        state = self.state
        state.record_scale_down(name, pool, "started", "drain" if drain else "empty")
        state.add_taint(name, Taint(k8s.TAINT_TO_BE_DELETED, str(int(self.env.now)), "NoSchedule"))
        state.set_unschedulable(name, True)
        yield self.env.timeout(self.options.node_delete_delay_after_taint)
        problem = self._recheck(name, drain)
        if drain and not problem and name in state.nodes:
            problem = yield from self._drain(name)
        del self.deleting[name]
        if problem:
            # No scale-down cool-down follows: upstream sets lastScaleDownFailTime only when StartDeletion
            # itself fails (core/static_autoscaler.go RunOnce), and a drain fails later, in its goroutine.
            if name in state.nodes:
                state.remove_taint(name, k8s.TAINT_TO_BE_DELETED, "NoSchedule")
                state.set_unschedulable(name, False)
            state.record_scale_down(name, pool, "failed", problem)
            return
        if not self.cloud.terminate(name, "ScaleDown") and name in state.nodes:
            state.remove_node(name)
        state.record_scale_down(name, pool, "completed")

    def _recheck(self, name: str, drain: bool) -> str:
        """The actuator's look at the node once the taint delay is over (actuation/actuator.go
        ``deleteNodesAsync``: ``GetPodsToMove`` again, with the budgets as they are now): a pod that
        may not go now stops the drain before any eviction, and an empty node that got a pod to move
        is not deleted. The problem, or ""."""
        node = self.state.nodes.get(name)
        if node is None:
            return ""
        pods = self._pods_to_move(node)
        if not drain:
            return f"failed to delete empty node {name}, new pods scheduled" if pods else ""
        use = self._pdb_use(pods, {}, self._all_pdbs())
        return f"failed to get pods to move on node: {use}" if isinstance(use, str) else ""

    def _drain(self, name: str) -> Generator[simpy.Event, None, str]:
        """Evict the node's pods and wait for them to go (actuation/drain.go); the problem, or "".
        Expendable pods are not evicted: they go with the node (actuation/actuator.go ``createSnapshot``
        lists only the non-expendable pods to drain)."""
        options = self.options
        node = self.state.nodes[name]
        expendable = self._expendable.get(name, {})
        pods = [
            p for p in node.pods.values()
            if p.deletion_timestamp is None and p.phase not in _TERMINAL and p.key not in expendable
        ]  # fmt: skip
        daemons = [p for p in pods if p.owner is not None and p.owner.kind == "DaemonSet"]
        pending = [p for p in pods if not (p.owner is not None and p.owner.kind == "DaemonSet")]
        retry_until = self.env.now + options.max_pod_eviction_time
        for pod in daemons:
            self.evict(pod)  # best effort
        refusal = ""
        while True:
            still = []
            for pod in pending:
                if self.state.pods.get(pod.uid) is not pod or pod.deletion_timestamp is not None:
                    continue
                refusal = self.evict(pod)
                if refusal:
                    still.append(pod)
            pending = still
            if not pending:
                break
            yield self.env.timeout(k8s.CA_EVICTION_RETRY_SECONDS)
            if self.env.now >= retry_until:
                return f"failed to evict {pending[0].key} within {options.max_pod_eviction_time:g} s: {refusal}"
        deadline = self.env.now + options.max_graceful_termination + k8s.CA_POD_EVICTION_HEADROOM_SECONDS
        while any(self.state.pods.get(p.uid) is p and p.node_name == name for p in pods):
            if self.env.now >= deadline:
                return "pods remaining after timeout"
            yield self.env.timeout(k8s.CA_POD_GONE_POLL_SECONDS)
        return ""

    def evict(self, pod: Pod) -> str:
        """Evict ``pod`` through the eviction API: "" when it is being deleted, else why it was refused."""
        assert self.disruption is not None, "start() the autoscaler first"
        answer = self.disruption.evict(pod.key)
        return "" if answer.code in (200, 404) else f"{answer.code}: {answer.reason}"


def _pdbs_for(pod: Pod, pdbs: list[PodDisruptionBudget]) -> list[PodDisruptionBudget]:
    return [p for p in pdbs if p.namespace == pod.namespace and p.selector is not None and p.selector.matches(pod.labels)]


def _must_move(pod: Pod) -> bool:
    """A pod a scale-down has to find a new home for: not a DaemonSet pod, not finished or leaving."""
    if pod.deletion_timestamp is not None or pod.phase in _TERMINAL:
        return False
    return not (pod.owner is not None and pod.owner.kind == "DaemonSet")
