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
   still pending, minus expendable ones (priority below -10), are first packed onto the existing
   nodes and then onto the machines already provisioning (so no pod asks twice); if every pod left
   is younger than 2 s the loop waits for more. For every node group not backed off and below its
   max size (and the cloud quota, and ``max_nodes_total``), a binpacking estimate packs the pods,
   largest first, onto new nodes of the group's shape, each in the group's least-loaded zone where
   the pod fits (``placement_problem`` against a template node). The expander picks among the
   groups that help: ``least-waste`` (the default since the flags moved to config/flags/flags.go:
   least wasted fraction of CPU plus memory of the new nodes' capacity, expander/waste/waste.go) or
   ``random`` (the older default), ties broken at random (seeded). Its machines are requested from
   the cloud; a quota error backs the group off. A loop that scaled up does not scale down. Pods no
   group can help get a ``PodNotTriggerScaleUp`` event (once per reason).
3. **Scale-down.** A node of an autoscaled node group (min size below max size) is *unneeded* when
   the max of its CPU and memory requests over allocatable is below 0.5 (pods deleted more than twice
   their grace period + 30 s ago do not count) and every pod on it can move: DaemonSet pods stay; a pod annotated
   ``cluster-autoscaler.kubernetes.io/safe-to-evict: "false"`` blocks, as do (unless annotated
   ``"true"``) a pod without a controller, a kube-system pod without a PodDisruptionBudget, and a pod
   with local storage (emptyDir or hostPath); PDBs must allow the disruption; and each pod must fit
   on another node (first fit, simulated on copies of the nodes, so two nodes do not count on the
   same room). Empty nodes are considered first, then those already unneeded; at most 30 non-empty
   unneeded nodes are found per loop, and a node found unremovable is not looked at again for 5 min.
   A node unneeded for more than 10 min (an unready one: 20 min) is deleted, unless the group would
   go below its min size, scale-down is cooling down (10 min after a scale-up, 3 min after a failed
   scale-down), or too many deletions are under way (10 at once, 1 of them draining).
4. **Deletion** (core/scaledown/actuation): taint ``ToBeDeletedByClusterAutoscaler:NoSchedule`` and
   cordon; after 5 s, evict the pods (each eviction retried every 10 s for up to 2 min; DaemonSet pods
   best effort), wait for them to be gone (polled every 5 s, up to 600 + 30 s), then delete the
   machine, which removes the node. A drain that fails removes the taint and uncordons.

Evictions go through the eviction API of the simulation's disruption controller (``sim.disruption``,
model/disruption.py: 429 while a PodDisruptionBudget allows no disruption), and the planner reads
each budget's ``status.disruptionsAllowed`` from it (core/scaledown/pdb/basic.go: a budget with none
left blocks the node; the budget is spent pod by pod across the nodes planned in one loop).

Simplifications, on purpose: the simulations check the rules of
:func:`~podquake.model.scheduling.contract.placement_problem` (readiness, cordon, taints, node
selector and required node affinity, resources, pod count), not pod topology spread or inter-pod
affinity, so a pod held back only by those neither triggers a scale-up nor stops one; node groups
are never created or deleted (no node auto-provisioning); no soft ``DeletionCandidate`` taints, no
``balance-similar-node-groups``, no per-group option overrides; a loop takes no simulated time;
eviction uses each pod's own grace period (the model's kubelet stops it after
``timing.container_stop_seconds``).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Protocol

import simpy

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.cloud import FAILED, PROVISIONING, RUNNING, CloudError, CloudProvider
from podquake.model.cluster import NodePool
from podquake.model.controllers.common import Pausable
from podquake.model.errors import InputError, finite_number
from podquake.model.objects import Node, Pod
from podquake.model.resources_api import PodDisruptionBudget
from podquake.model.scheduling.contract import placement_problem
from podquake.model.selectors import Taint
from podquake.model.workqueue import periodic

if TYPE_CHECKING:
    from podquake.model.simulation import Simulation

__all__ = ["AutoscalerOptions", "ClusterAutoscaler", "DisruptionAPI"]

EXPANDERS = ("least-waste", "random")
_LOCAL_VOLUME_KINDS = ("emptyDir", "hostPath")
_TERMINAL = ("Succeeded", "Failed")


@dataclass(frozen=True)
class AutoscalerOptions:
    """The cluster autoscaler's flags that the model uses, with upstream defaults (times in seconds)."""

    enabled: bool = True  # False: the cluster runs without a cluster autoscaler
    scan_interval: float = k8s.CA_SCAN_INTERVAL_SECONDS
    expander: str = k8s.CA_DEFAULT_EXPANDER
    max_node_provision_time: float = k8s.CA_MAX_NODE_PROVISION_SECONDS
    max_nodes_total: int = 0  # 0: no limit
    scale_down_enabled: bool = True
    scale_down_utilization_threshold: float = k8s.CA_SCALE_DOWN_UTILIZATION_THRESHOLD
    scale_down_unneeded_time: float = k8s.CA_SCALE_DOWN_UNNEEDED_SECONDS
    scale_down_unready_time: float = k8s.CA_SCALE_DOWN_UNREADY_SECONDS
    scale_down_delay_after_add: float = k8s.CA_SCALE_DOWN_DELAY_AFTER_ADD_SECONDS
    scale_down_delay_after_delete: float = k8s.CA_SCALE_DOWN_DELAY_AFTER_DELETE_SECONDS
    scale_down_delay_after_failure: float = k8s.CA_SCALE_DOWN_DELAY_AFTER_FAILURE_SECONDS
    scale_down_non_empty_candidates: int = k8s.CA_SCALE_DOWN_NON_EMPTY_CANDIDATES
    unremovable_node_recheck_timeout: float = k8s.CA_UNREMOVABLE_NODE_RECHECK_SECONDS
    max_scale_down_parallelism: int = k8s.CA_MAX_SCALE_DOWN_PARALLELISM
    max_drain_parallelism: int = k8s.CA_MAX_DRAIN_PARALLELISM
    node_delete_delay_after_taint: float = k8s.CA_NODE_DELETE_DELAY_AFTER_TAINT_SECONDS
    max_pod_eviction_time: float = k8s.CA_MAX_POD_EVICTION_SECONDS
    max_graceful_termination: float = k8s.CA_MAX_GRACEFUL_TERMINATION_SECONDS
    skip_nodes_with_local_storage: bool = True
    skip_nodes_with_system_pods: bool = True
    initial_node_group_backoff: float = k8s.CA_INITIAL_NODE_GROUP_BACKOFF_SECONDS
    max_node_group_backoff: float = k8s.CA_MAX_NODE_GROUP_BACKOFF_SECONDS
    node_group_backoff_reset: float = k8s.CA_NODE_GROUP_BACKOFF_RESET_SECONDS
    expendable_pods_priority_cutoff: int = k8s.CA_EXPENDABLE_PODS_PRIORITY_CUTOFF
    max_total_unready_percentage: float = k8s.CA_MAX_TOTAL_UNREADY_PERCENTAGE
    ok_total_unready_count: int = k8s.CA_OK_TOTAL_UNREADY_COUNT

    def __post_init__(self) -> None:
        if self.expander not in EXPANDERS:
            raise ValueError(f"unknown expander {self.expander!r}; use one of {', '.join(EXPANDERS)}")
        for spec in fields(self):
            _check_option(spec.name, spec.type, getattr(self, spec.name), spec.default)
        if self.scan_interval <= 0:
            raise ValueError("scan_interval must be positive")
        if not 0.0 <= self.scale_down_utilization_threshold <= 1.0:
            raise ValueError(f"scale_down_utilization_threshold is a fraction in [0, 1], not {self.scale_down_utilization_threshold!r}")
        if not 0.0 <= self.max_total_unready_percentage <= 100.0:
            raise ValueError(f"max_total_unready_percentage is a percentage in [0, 100], not {self.max_total_unready_percentage!r}")


def _check_option(name: str, kind: object, value: object, default: object) -> None:
    """One flag's value against its type: a bool, a whole number (>= 0 but for the priority cutoff,
    which upstream defaults to -10), or a finite number of seconds >= 0 (NaN made a scan never come)."""
    where, fix = f"AutoscalerOptions.{name}", f"write e.g. AutoscalerOptions({name}={default!r}), the default"
    if kind in (float, "float"):
        finite_number(value, where, minimum=0, fix=fix)
        return
    if kind in (bool, "bool"):
        ok, rule = isinstance(value, bool), "True or False"
    elif kind in (int, "int"):
        ok = isinstance(value, int) and not isinstance(value, bool) and (value >= 0 or name == "expendable_pods_priority_cutoff")
        rule = "a whole number >= 0"
    else:
        return
    if not ok:
        raise InputError(f"{where} must be {rule}, not {value!r}", fix=fix)


# --- what the autoscaler needs from the disruption controller ------------------------------------
class _EvictionAnswer(Protocol):
    code: int
    reason: str


class _BudgetStatus(Protocol):
    disruptions_allowed: int


class DisruptionAPI(Protocol):
    """What the autoscaler needs from a disruption controller (model/disruption.py's
    ``DisruptionController``): the eviction API and the PDB status it keeps."""

    def evict(self, pod_key: str) -> _EvictionAnswer: ...

    def status(self, namespace: str, name: str) -> _BudgetStatus | None: ...


# --- the autoscaler --------------------------------------------------------------------------------
@dataclass(slots=True)
class _Backoff:
    duration: float
    until: float
    last_failed: float


@dataclass(slots=True)
class _Option:
    """One node group's answer to the pending pods: the new nodes it would add and the pods they take."""

    pool: NodePool
    nodes: list[Node] = field(default_factory=list)
    pods: list[Pod] = field(default_factory=list)


class _Snapshot:
    """The nodes as a simulation sees them: live nodes (or nodes that do not exist yet), each replaced
    by a copy once a simulated pod lands on it, so the store is never touched."""

    def __init__(self, nodes: list[Node]) -> None:
        self.nodes = list(nodes)
        self._copies: dict[str, Node] = {}

    def place(self, pod: Pod, index: int) -> None:
        node = self.nodes[index]
        if node.name not in self._copies:
            node = _copy_node(node)
            self.nodes[index] = self._copies[node.name] = node
        _add_pod(node, pod)

    def unplace(self, pod: Pod, index: int) -> None:
        node = self.nodes[index]
        req = pod.spec.requests
        del node.pods[pod.uid]
        node.requested_cpu -= req.cpu_millis
        node.requested_memory -= req.memory_bytes
        node.requested_ephemeral -= req.ephemeral_storage_bytes


def _copy_node(node: Node) -> Node:
    return Node(
        node.name, node.index, node.labels, node.capacity, node.allocatable, node.taints, node.unschedulable,
        node.ready, node.up, requested_cpu=node.requested_cpu, requested_memory=node.requested_memory,
        requested_ephemeral=node.requested_ephemeral, pods=dict(node.pods),
    )  # fmt: skip


def _add_pod(node: Node, pod: Pod) -> None:
    req = pod.spec.requests
    node.pods[pod.uid] = pod
    node.requested_cpu += req.cpu_millis
    node.requested_memory += req.memory_bytes
    node.requested_ephemeral += req.ephemeral_storage_bytes


@dataclass(slots=True)
class _Deletion:
    pool: str
    drain: bool


class ClusterAutoscaler(Pausable):
    """The scan loop and the node deletions it starts (see the module docstring).

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
        if isinstance(event, ev.PodDeleted) and event.node:
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

    def _cluster_healthy(self) -> bool:
        nodes = self.state.node_list
        unready = sum(1 for n in nodes if n.ready != "True")
        options = self.options
        return unready <= options.ok_total_unready_count or unready <= options.max_total_unready_percentage / 100 * len(nodes)

    def _housekeeping(self, now: float) -> None:
        limit = self.options.max_node_provision_time
        for machine in self.cloud.unsettled():
            if machine.state == FAILED:
                self.cloud.terminate(machine.name, "ProvisioningFailed")
                self._back_off(machine.pool, now, f"machine {machine.name} failed to boot")
            elif machine.requested_at + limit < now:
                self.cloud.terminate(machine.name, "ProvisioningTimeout")
                self._back_off(machine.pool, now, f"machine {machine.name} did not boot within {limit:g} s")
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

    def _back_off(self, pool: str, now: float, reason: str) -> None:
        """utils/backoff/exponential_backoff.go: a failure outside a back-off doubles the last one."""
        options = self.options
        duration = options.initial_node_group_backoff
        previous = self._backoffs.get(pool)
        if previous is not None and previous.until < now:
            duration = min(2 * previous.duration, options.max_node_group_backoff)
        self._backoffs[pool] = _Backoff(duration, now + duration, now)
        self.state.record_node_group_backoff(pool, now + duration, reason)

    # --- scale-up --------------------------------------------------------------------------------
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
        pods = self._filter_out_schedulable(pods)
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

    def _filter_out_schedulable(self, pods: list[Pod]) -> list[Pod]:
        """Drop the pods that fit on an existing node or on a machine still provisioning."""
        nodes = [n for n in self.state.node_list if n.name not in self.deleting]
        for machine in self.cloud.machines.values():
            if machine.state == PROVISIONING:
                nodes.append(self.pools[machine.pool].node(machine.name, machine.zone, self.cloud.region))
        snapshot = _Snapshot(nodes)
        hopeless: dict[int, None] = {}  # id() of pod specs that fitted nowhere (same spec, same answer)
        remaining = []
        for pod in pods:
            spec_id = id(pod.spec)
            index = -1 if spec_id in hopeless else _first_fit(pod, snapshot.nodes)
            if index < 0:
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
        for pod in ordered:
            index = _first_fit(pod, option.nodes)
            if index >= 0:
                _add_pod(option.nodes[index], pod)
                option.pods.append(pod)
                continue
            if len(option.nodes) >= limit or id(pod.spec) in misfits:
                continue
            for zone in self.cloud.zones_by_preference(pool.name, planned):
                node = pool.node(f"{pool.name}-template-{len(option.nodes)}", zone, self.cloud.region)
                if placement_problem(pod, node) is None:
                    _add_pod(node, pod)
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

    # --- scale-down: finding unneeded nodes --------------------------------------------------------
    def _utilization(self, node: Node, now: float) -> float:
        """max(cpu, memory) of Σ requests / allocatable (simulator/utilization/info.go
        ``CalculateUtilizationOfResource``: each pod's full ``resourcehelper.PodRequests``, with init
        containers, sidecars and overhead, as the node's ``requested_*``), ignoring long-terminating pods.

        Upstream's ``IsPodLongTerminating`` (utils/drain/drain.go) is ``deletionTimestamp + grace + 30 s
        < now``, and upstream's ``deletionTimestamp`` is the deletion request + the grace period; the
        model's is the request time, so the grace period counts twice here."""
        cpu, mem = node.requested_cpu, node.requested_memory
        for pod in self._terminating.get(node.name, {}).values():
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
                found.append((node, [p for p in node.pods.values() if _must_move(p)]))
        unneeded = self.unneeded
        found.sort(key=lambda c: (bool(c[1]), c[0].name not in unneeded, c[0].index))
        return found

    def _update_unneeded(self, now: float) -> None:
        """The planner's UpdateClusterState: simulate removing each candidate in turn."""
        self._empty = {}
        self._unremovable_until = {name: t for name, t in self._unremovable_until.items() if t > now}
        candidates = self._candidates(now)
        if not candidates:
            self.unneeded = {}
            return
        snapshot = _Snapshot([n for n in self.state.node_list if n.name not in self.deleting])
        removed: dict[str, None] = {}
        budgets: dict[tuple[str, str], int] = {}
        pdbs = self._all_pdbs()
        unneeded: dict[str, float] = {}
        non_empty = 0
        for node, pods in candidates:
            if pods and non_empty >= self.options.scale_down_non_empty_candidates:
                continue
            use = self._pdb_use(pods, budgets, pdbs)
            if use is None or not self._place_elsewhere(pods, node.name, snapshot, removed):
                self._unremovable_until[node.name] = now + self.options.unremovable_node_recheck_timeout
                continue
            for key, count in use.items():
                budgets[key] -= count
            removed[node.name] = None
            unneeded[node.name] = self.unneeded.get(node.name, now)
            self._empty[node.name] = not pods
            non_empty += bool(pods)
        self.unneeded = unneeded

    def _pdb_use(self, pods: list[Pod], budgets: dict[tuple[str, str], int], pdbs: list[PodDisruptionBudget]) -> dict[tuple[str, str], int] | None:
        """How many pods of each PDB moving ``pods`` takes, or None if one of them may not go
        (utils/drain rules; core/scaledown/pdb/basic.go: a PDB with no disruption left blocks)."""
        use: dict[tuple[str, str], int] = {}
        options = self.options
        for pod in pods:
            annotation = pod.annotations.get(k8s.CA_SAFE_TO_EVICT_ANNOTATION)
            if annotation == "false":
                return None
            matching = _pdbs_for(pod, pdbs)
            if annotation != "true":
                if pod.owner is None or pod.owner.uid not in self.state.workloads:
                    return None
                if options.skip_nodes_with_system_pods and pod.namespace == "kube-system" and not matching:
                    return None
                if options.skip_nodes_with_local_storage and any(v.kind in _LOCAL_VOLUME_KINDS for v in pod.spec.volumes):
                    return None
            for pdb in matching:
                key = (pdb.namespace, pdb.name)
                if key not in budgets:
                    budgets[key] = self._disruptions_allowed(pdb)
                if budgets[key] < 1:
                    return None
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

    def _place_elsewhere(self, pods: list[Pod], node_name: str, snapshot: _Snapshot, removed: dict[str, None]) -> bool:
        placed: list[tuple[Pod, int]] = []
        for pod in pods:
            index = _first_fit(pod, snapshot.nodes, skip=(node_name, removed))
            if index < 0:
                for done, where in placed:
                    snapshot.unplace(done, where)
                return False
            snapshot.place(pod, index)
            placed.append((pod, index))
        return True

    # --- scale-down: deleting ----------------------------------------------------------------------
    def _in_cooldown(self, now: float) -> bool:
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
        problem = ""
        if drain and name in state.nodes:
            problem = yield from self._drain(name)
        del self.deleting[name]
        if problem:
            if name in state.nodes:
                state.remove_taint(name, k8s.TAINT_TO_BE_DELETED, "NoSchedule")
                state.set_unschedulable(name, False)
            self.last_scale_down_fail = self.env.now
            state.record_scale_down(name, pool, "failed", problem)
            return
        if not self.cloud.terminate(name, "ScaleDown") and name in state.nodes:
            state.remove_node(name)
        state.record_scale_down(name, pool, "completed")

    def _drain(self, name: str) -> Generator[simpy.Event, None, str]:
        """Evict the node's pods and wait for them to go (actuation/drain.go); the problem, or ""."""
        options = self.options
        node = self.state.nodes[name]
        pods = [p for p in node.pods.values() if p.deletion_timestamp is None and p.phase not in _TERMINAL]
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


def _first_fit(pod: Pod, nodes: list[Node], skip: tuple[str, dict[str, None]] | None = None) -> int:
    for i, node in enumerate(nodes):
        if skip is not None and (node.name == skip[0] or node.name in skip[1]):
            continue
        if placement_problem(pod, node) is None:
            return i
    return -1


def _waste(option: _Option) -> float:
    capacity = option.pool.capacity
    count = len(option.nodes)
    avail_cpu, avail_mem = capacity.cpu_millis * count, capacity.memory_bytes * count
    cpu = sum(p.spec.requests.cpu_millis for p in option.pods)
    mem = sum(p.spec.requests.memory_bytes for p in option.pods)
    return (avail_cpu - cpu) / avail_cpu + (avail_mem - mem) / avail_mem
