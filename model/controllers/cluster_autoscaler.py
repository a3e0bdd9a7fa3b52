"""The cluster autoscaler: more machines when pods cannot be scheduled, fewer when nodes sit idle.

After kubernetes/autoscaler:cluster-autoscaler (FAQ.md; core/static_autoscaler.go ``RunOnce``;
config/const.go and config/flags/flags.go for the defaults, in :class:`AutoscalerOptions`). Node
groups are the pools of the :class:`~podquake.model.cluster.ClusterSpec`, sized by the
:class:`~podquake.model.cloud.CloudProvider`'s live machines and bounded by the pool's
``minSize``/``maxSize``. Every ``scan_interval`` (10 s) one loop runs:

1. **Housekeeping.** A machine that failed to boot, or is still provisioning
   ``max_node_provision_time`` (15 min) after it was requested, is deleted and its node group backed
   off (5 min, doubling to 30 min, forgotten 3 h after the last failure; utils/backoff/
   exponential_backoff.go); the pending pods are then tried on another group, or on this one when
   the back-off ends. A running machine whose node has been missing for as long is deleted too. A
   group's back-off is lifted when one of its machines boots. If more than 45 % of the nodes (and
   more than 3) are not Ready, the loop stops here (the cluster is unhealthy).
2. **Scale-up.** The pods the scheduler marked unschedulable (``PodUnschedulable`` events) that are
   still pending, minus expendable ones (priority below -10) and those the scheduler's preemption
   nominated to an existing node (they wait for their victims; they take their room on that node
   first), are first packed onto the existing nodes and then onto the machines already
   provisioning (so no pod asks twice; the room of expendable pods counts as free, for the
   scheduler would preempt them); if every pod left is younger than 2 s the loop waits for more.
   For every node group not backed off and below its max size (and the cloud quota, and
   ``max_nodes_total``), a binpacking estimate packs the pods,
   largest first, onto new nodes of the group's shape, each in the group's least-loaded zone where
   the pod fits (``placement_problem`` against a template node). The expander picks among the
   groups that help: ``least-waste`` (the default since the flags moved to config/flags/flags.go:
   least wasted fraction of CPU plus memory of the new nodes' capacity, expander/waste/waste.go) or
   ``random`` (the older default), ties broken at random (seeded). Its machines are requested from
   the cloud; a quota error backs the group off. A loop that scaled up does not scale down. Pods no
   group can help get a ``PodNotTriggerScaleUp`` event (once per reason).
3. **Scale-down.** A node of an autoscaled node group (min size below max size) is *unneeded* when
   the max of its CPU and memory requests over allocatable is below 0.5 (pods deleted more than twice
   their grace period + 30 s ago do not count, nor do expendable pods, which are neither moved nor
   evicted but go with the node) and every pod on it can move: DaemonSet pods stay; a pod annotated
   ``cluster-autoscaler.kubernetes.io/safe-to-evict: "false"`` blocks, as do (unless annotated
   ``"true"``) a pod without a controller, a kube-system pod without a PodDisruptionBudget, and a pod
   with local storage (hostPath, or emptyDir not on ``medium: Memory``, unless named in its
   ``cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes`` annotation); PDBs must allow the disruption; and each pod must fit
   on another node (first fit, simulated on copies of the nodes, so two nodes do not count on the
   same room). Empty nodes are considered first, then those already unneeded; at most 30 non-empty
   unneeded nodes are found per loop, and a node found unremovable is not looked at again for 5 min.
   Outside the cool-down, each unneeded node gets the soft taint
   ``DeletionCandidateOfClusterAutoscaler:PreferNoSchedule`` (so the scheduler prefers other nodes)
   and a node no longer unneeded loses it, 10 taints or untaints a loop at most.
   A node unneeded for more than 10 min (an unready one: 20 min) is deleted, unless the group would
   go below its min size, scale-down is cooling down (10 min after a scale-up; the 3 min after a
   failure is only for deletions that fail to start, and a drain that fails later does not count), or
   too many deletions are under way (10 at once, 1 of them draining).
4. **Deletion** (core/scaledown/actuation): taint ``ToBeDeletedByClusterAutoscaler:NoSchedule`` and
   cordon; after 5 s, look again (the drain rules and the budgets as they are now: a pod that may
   not go ends the deletion, as does a pod to move on a node deleted as empty), then evict the pods
   (each eviction retried every 10 s for up to 2 min; DaemonSet pods best effort), wait for them to
   be gone (polled every 5 s, up to 600 + 30 s), then delete the machine, which removes the node. A
   deletion that fails removes the taint and uncordons.

Evictions go through the eviction API of the simulation's disruption controller (``sim.disruption``,
model/disruption.py: 429 while a PodDisruptionBudget allows no disruption), and the planner reads
each budget's ``status.disruptionsAllowed`` from it (core/scaledown/pdb/basic.go: a budget with none
left blocks the node; the budget is spent pod by pod across the nodes planned in one loop).

Simplifications, on purpose: the simulations check the rules of
:func:`~podquake.model.scheduling.contract.placement_problem` (readiness, cordon, taints, node
selector and required node affinity, resources, pod count) and required inter-pod affinity and
anti-affinity (:mod:`~podquake.model.controllers.cluster_autoscaler_snapshot`), not pod topology
spread, so a pod held back only by spreading neither triggers a scale-up nor stops one; node groups
are never created or deleted (no node auto-provisioning); no
``balance-similar-node-groups``, no per-group option overrides; a loop takes no simulated time;
eviction uses each pod's own grace period (the model's kubelet stops it after its containers'
preStop hooks and ``timing.container_stop_seconds``, :func:`~podquake.model.kubelet_rules.kill_timing`).

Where each part lives: this module holds :class:`ClusterAutoscaler` (its state, the watches, the
scan loop and the housekeeping); the steps are mixins in modules of their own, one component split
for size: the scale-up in :mod:`~podquake.model.controllers.cluster_autoscaler_scale_up`, the
scale-down (planning and deletion) in :mod:`~podquake.model.controllers.cluster_autoscaler_scale_down`,
the what-if placements both simulate in :mod:`~podquake.model.controllers.cluster_autoscaler_snapshot`,
and the flags and the disruption controller's interface in
:mod:`~podquake.model.controllers.cluster_autoscaler_options`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from podquake.model import trace as ev
from podquake.model.cloud import FAILED, RUNNING, CloudProvider
from podquake.model.cluster import NodePool
from podquake.model.controllers.cluster_autoscaler_options import EXPANDERS, AutoscalerOptions, DisruptionAPI
from podquake.model.controllers.cluster_autoscaler_scale_down import ScaleDown, _Deletion
from podquake.model.controllers.cluster_autoscaler_scale_up import ScaleUp, _Backoff
from podquake.model.controllers.common import Pausable
from podquake.model.objects import Pod
from podquake.model.workqueue import periodic

if TYPE_CHECKING:
    from podquake.model.simulation import Simulation

__all__ = ["EXPANDERS", "AutoscalerOptions", "ClusterAutoscaler", "DisruptionAPI"]


class ClusterAutoscaler(ScaleUp, ScaleDown, Pausable):
    """The cluster autoscaler: its state, the watches and the scan loop, with the scale-up
    (:class:`~podquake.model.controllers.cluster_autoscaler_scale_up.ScaleUp`) and the scale-down
    and the node deletions it starts
    (:class:`~podquake.model.controllers.cluster_autoscaler_scale_down.ScaleDown`) mixed in (see the
    module docstring).

    ``ClusterAutoscaler(sim, cloud, options).start()``: the first scan runs at once, then every
    ``options.scan_interval``. Evictions and PDB budgets go through ``disruption`` (by default the
    simulation's ``sim.disruption``).

    State worth reading: ``unneeded`` (node name -> when it was first found unneeded), ``backoffs``
    (pool -> until when it is backed off), ``deleting`` (nodes whose deletion is under way),
    ``last_scale_up``, ``last_scale_down_delete``, ``last_scale_down_fail``.
    """

    def __init__(
        self,
        sim: Simulation,
        cloud: CloudProvider,
        options: AutoscalerOptions | None = None,
        disruption: DisruptionAPI | None = None,
    ) -> None:
        self.sim = sim
        self.disruption = disruption
        self.env = sim.env
        self.state = sim.state
        self.cloud = cloud
        self.options = options if options is not None else AutoscalerOptions()
        self.pools: dict[str, NodePool] = dict(cloud.pools)
        self._autoscaled = {name: None for name, pool in self.pools.items() if pool.autoscaled}
        self.unneeded: dict[str, float] = {}
        self.deleting: dict[str, _Deletion] = {}
        self._backoffs: dict[str, _Backoff] = {}
        self._empty: dict[str, bool] = {}
        self._unremovable_until: dict[str, float] = {}
        self._unschedulable: dict[str, None] = {}  # pod keys the scheduler gave up on, still pending
        self._terminating: dict[str, dict[str, Pod]] = {}  # node -> its pods being deleted
        self._expendable: dict[str, dict[str, Pod]] = {}  # node -> its expendable pods, by key
        self._soft_tainted: dict[str, None] = {}  # nodes given the DeletionCandidate taint
        self._not_triggered: dict[str, str] = {}  # pod key -> last PodNotTriggerScaleUp reason
        self._missing_since: dict[str, float] = {}  # running machines whose node is gone
        # Upstream starts an hour "after" the last scale events, so it does not begin in cool-down.
        start = self.env.now - 3600.0
        self.last_scale_up = self.last_scale_down_delete = self.last_scale_down_fail = start
        self.loops = 0

    def start(self) -> None:
        if not self.options.enabled:
            return
        if self.disruption is None:
            self.disruption = self.sim.disruption
        state = self.state
        state.watch(ev.PodUnschedulable, self._on_unschedulable)
        state.watch(ev.PodBound, self._on_pod_gone_or_bound)
        state.watch(ev.PodDeleted, self._on_pod_gone_or_bound)
        state.watch(ev.PodDeletionRequested, self._on_deletion_requested)
        state.watch(ev.MachineStateChanged, self._on_machine)
        state.watch(ev.NodeRemoved, self._on_node_removed)
        self.env.process(periodic(self.env, self.options.scan_interval, self.run_once))

    @property
    def backoffs(self) -> dict[str, float]:
        now = self.env.now
        return {pool: b.until for pool, b in self._backoffs.items() if b.until > now}

    # --- watches ---------------------------------------------------------------------------------
    def _on_unschedulable(self, event: ev.PodUnschedulable) -> None:
        self._unschedulable[event.pod] = None

    def _on_pod_gone_or_bound(self, event: ev.PodBound | ev.PodDeleted) -> None:
        self._unschedulable.pop(event.pod, None)
        self._not_triggered.pop(event.pod, None)
        if isinstance(event, ev.PodBound):
            pod = self.state.pods_by_key.get(event.pod)
            if pod is not None and pod.spec.priority < self.options.expendable_pods_priority_cutoff:
                self._expendable.setdefault(event.node, {})[event.pod] = pod
            return
        expendable = self._expendable.get(event.node)
        if expendable is not None and expendable.pop(event.pod, None) is not None and not expendable:
            del self._expendable[event.node]
        if event.node:
            terminating = self._terminating.get(event.node)
            if terminating is not None:
                for uid, pod in list(terminating.items()):
                    if pod.key == event.pod:
                        del terminating[uid]
                if not terminating:
                    del self._terminating[event.node]

    def _on_deletion_requested(self, event: ev.PodDeletionRequested) -> None:
        pod = self.state.pods_by_key.get(event.pod)
        if pod is not None and pod.node_name is not None:
            self._terminating.setdefault(pod.node_name, {})[pod.uid] = pod

    def _on_node_removed(self, event: ev.NodeRemoved) -> None:
        machine = self.cloud.machines.get(event.node)
        if machine is not None and machine.state == RUNNING:
            self._missing_since[event.node] = self.env.now  # the VM runs on without its Node object

    def _on_machine(self, event: ev.MachineStateChanged) -> None:
        if event.state == "running":
            self._backoffs.pop(event.pool, None)  # the scale-up worked (clusterstate RemoveBackoff)

    # --- the loop --------------------------------------------------------------------------------
    def run_once(self) -> None:
        """One scan (``RunOnce``): housekeeping, then scale-up, else scale-down. None while paused
        (:class:`~podquake.model.controllers.common.Pausable`: the API server is down, so the
        autoscaler can list nothing; deletions already under way go on)."""
        if self.paused:
            return
        self.loops += 1
        now = self.env.now
        self._housekeeping(now)
        if not self._cluster_healthy():
            self.unneeded.clear()
            return
        outcome = self._scale_up(now)
        if outcome == "scaled":
            return
        if self.options.scale_down_enabled:
            self._update_unneeded(now)
            if outcome != "wait" and not self._in_cooldown(now):
                self._start_deletions(now)
                self._update_soft_taints(now)

    def _cluster_healthy(self) -> bool:
        nodes = self.state.node_list
        unready = sum(1 for n in nodes if n.ready != "True")
        options = self.options
        return unready <= options.ok_total_unready_count or unready <= options.max_total_unready_percentage / 100 * len(nodes)

    def _housekeeping(self, now: float) -> None:
        """Failed and timed-out machines are deleted; their group is backed off once a loop, however
        many failed (clusterstate/clusterstate.go registers one failed scale-up per node group and
        error: a second Backoff call while backed off would set the back-off to its initial 5 min)."""
        limit = self.options.max_node_provision_time
        failed: dict[str, str] = {}  # pool -> why, the first failure of this loop
        for machine in self.cloud.unsettled():
            if machine.state == FAILED:
                self.cloud.terminate(machine.name, "ProvisioningFailed")
                failed.setdefault(machine.pool, f"machine {machine.name} failed to boot")
            elif machine.requested_at + limit < now:
                self.cloud.terminate(machine.name, "ProvisioningTimeout")
                failed.setdefault(machine.pool, f"machine {machine.name} did not boot within {limit:g} s")
        for pool, reason in failed.items():
            self._back_off(pool, now, reason)
        for name, since in list(self._missing_since.items()):
            machine = self.cloud.machines.get(name)
            if machine is None or machine.state != RUNNING or name in self.state.nodes:
                del self._missing_since[name]
            elif since + limit < now:
                self.cloud.terminate(name, "UnregisteredNode")
                del self._missing_since[name]
        reset = self.options.node_group_backoff_reset
        for pool in [p for p, b in self._backoffs.items() if b.last_failed + reset < now]:
            del self._backoffs[pool]
