"""The DaemonSet controller: one pod on every node the DaemonSet's pods may run on.

Follows kubernetes/kubernetes:pkg/controller/daemon/{daemon_controller.go,update.go,util/daemonset_util.go}:

- ``NodeShouldRunDaemonPod``: a node should run the daemon pod when the template's ``nodeName`` (if
  any) names it, it matches the nodeSelector and required node affinity, and it carries no
  NoSchedule/NoExecute taint the pod does not tolerate. A node whose only untolerated taints are
  NoSchedule *keeps* a pod it already runs (``shouldContinueRunning``). Readiness and resources do
  not matter here (the scheduler judges those);
- the pod's tolerations are the template's plus the DaemonSet ones (``AddOrUpdateDaemonPodTolerations``:
  ``not-ready`` and ``unreachable`` NoExecute without time limit, ``disk-pressure``,
  ``memory-pressure``, ``pid-pressure`` and ``unschedulable`` NoSchedule, each replacing a template
  toleration with the same key, operator, value and effect), added by
  :func:`~podquake.model.admission.pod_from_template` with ``daemon=True``. A NotReady or
  unreachable node keeps its daemon pod but gets none (its ``not-ready``/``unreachable`` NoSchedule
  taint is not tolerated);
- pods go through the scheduler: each is made for one node with the required node affinity
  ``matchFields metadata.name In [<node>]`` (``ReplaceDaemonSetPodNodeNameNodeAffinity``, upstream
  since 1.12), replacing any required terms of the template; unscheduled pods count for that node;
- ``podsShouldBeOnNode``: create a pod on a node that should run one and has none; delete Failed
  pods (with a per-node back-off of 1 s doubling to 15 min, so a pod the kubelet keeps failing is
  not recreated in a hot loop) and Succeeded pods; keep only the oldest of several running pods;
  delete every pod on a node that should not run one; delete unscheduled pods aimed at nodes that
  no longer exist; at most ``BurstReplicas`` (250) creates and deletes per sync, creates in
  slow-start batches;
- template changes roll out as the default RollingUpdate (maxUnavailable 1, maxSurge 0): an old pod
  is deleted (and recreated at the new revision by the next sync) while fewer than maxUnavailable
  nodes are without an available pod (a node that should run one and has none counts); old pods
  that are not available go at once;
- a new node gets a pod; a removed node's pods are removed with it (by the store) or, if still
  unscheduled, by this controller.

Simplifications, on purpose: no ``minReadySeconds``, ``maxSurge`` or OnDelete strategy, no
ControllerRevision objects (the revision is the template hash, in the ``controller-revision-hash``
label); pods belong to the DaemonSet by owner reference only.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.admission import admit_spec, pod_from_template
from podquake.model.controllers.common import (
    Expectations,
    WorkloadController,
    delete_pod,
    is_pod_available,
    scaled_value,
    slow_start_batch,
)
from podquake.model.objects import DaemonSet, Node, Pod, PodSpec, PodTemplate, Workload
from podquake.model.selectors import NodeAffinity, NodeSelectorTerm, Requirement

if TYPE_CHECKING:
    from podquake.model.simulation import Simulation, WorkloadStatus

__all__ = ["DaemonSetController", "node_should_run", "target_node"]

_NODE_NAME_FIELD = "metadata.name"


def node_should_run(spec: PodSpec, node: Node) -> tuple[bool, bool]:
    """``(shouldRun, shouldContinueRunning)`` for a daemon pod with admitted ``spec`` on ``node``."""
    if spec.node_name and spec.node_name != node.name:
        return False, False
    if not spec.node_selector_matches(node.name, node.labels):
        return False, False
    tolerations = spec.tolerations
    untolerated_no_execute = False
    fits = True
    for taint in node.taints:
        if taint.effect == "PreferNoSchedule" or any(t.tolerates(taint) for t in tolerations):
            continue
        fits = False
        if taint.effect == "NoExecute":
            untolerated_no_execute = True
    if not fits:
        return False, not untolerated_no_execute
    return True, True


def target_node(pod: Pod) -> str | None:
    """The node a daemon pod is for: where it is bound, else its ``metadata.name`` affinity (``GetTargetNodeName``)."""
    if pod.node_name is not None:
        return pod.node_name
    affinity = pod.spec.node_affinity
    if affinity is not None and affinity.required:
        for term in affinity.required:
            for requirement in term.match_fields:
                if requirement.key == _NODE_NAME_FIELD and requirement.operator == "In" and len(requirement.values) == 1:
                    return requirement.values[0]
    return None


def _spec_for_node(spec: PodSpec, node_name: str) -> PodSpec:
    """``spec`` pinned to ``node_name`` through required node affinity (``ReplaceDaemonSetPodNodeNameNodeAffinity``)."""
    term = NodeSelectorTerm(match_fields=(Requirement(_NODE_NAME_FIELD, "In", (node_name,)),))
    preferred = spec.node_affinity.preferred if spec.node_affinity is not None else ()
    return replace(spec, node_affinity=NodeAffinity(required=(term,), preferred=preferred))


class _Backoff:
    """client-go ``flowcontrol.Backoff`` without jitter: per key, doubling, forgotten after 2 x max idle."""

    __slots__ = ("initial", "maximum", "_entries")

    def __init__(self, initial: float, maximum: float) -> None:
        self.initial = initial
        self.maximum = maximum
        self._entries: dict[tuple[str, str], tuple[float, float]] = {}  # key -> (backoff, last update)

    def _live(self, key: tuple[str, str], now: float) -> tuple[float, float] | None:
        entry = self._entries.get(key)
        if entry is None or now - entry[1] > 2 * self.maximum:
            return None
        return entry

    def in_backoff(self, key: tuple[str, str], now: float) -> float:
        """Seconds of back-off to wait if ``key`` is backing off now (``IsInBackOffSinceUpdate``), else 0."""
        entry = self._live(key, now)
        if entry is None or now - entry[1] >= entry[0]:
            return 0.0
        return entry[0]

    def next(self, key: tuple[str, str], now: float) -> None:
        entry = self._live(key, now)
        backoff = self.initial if entry is None else min(2 * entry[0], self.maximum)
        self._entries[key] = (backoff, now)

    def forget_owner(self, uid: str) -> None:
        for key in [k for k in self._entries if k[0] == uid]:
            del self._entries[key]


class DaemonSetController(WorkloadController):
    """Keeps one pod of every DaemonSet on every eligible node. See the module docstring."""

    kind = "DaemonSet"

    def __init__(self, sim: Simulation) -> None:
        super().__init__(sim)
        self.expectations = Expectations(lambda: self.env.now)
        self.burst_replicas = k8s.DAEMONSET_BURST_REPLICAS
        self.failed_pods_backoff = _Backoff(
            k8s.DAEMONSET_FAILED_POD_BACKOFF_SECONDS, k8s.DAEMONSET_FAILED_POD_MAX_BACKOFF_SECONDS
        )
        self._daemonsets: dict[str, None] = {}  # uids of every DaemonSet, in creation order
        self._specs: dict[str, tuple[PodTemplate, PodSpec, dict[str, PodSpec]]] = {}

    def start(self) -> None:
        super().start()
        for event_type in (ev.NodeAdded, ev.NodeRemoved, ev.NodeTainted, ev.NodeUntainted):
            self.state.watch(event_type, self._on_node_event)

    # --- events ------------------------------------------------------------------------------------
    def owner_of(self, pod: Pod) -> str | None:
        owner = pod.owner
        return owner.uid if owner is not None and owner.kind == "DaemonSet" else None

    def pod_changed(self, uid: str, event: ev.Event, pod: Pod | None) -> None:
        if isinstance(event, ev.PodCreated):
            self.expectations.creation_observed(uid)
        elif isinstance(event, (ev.PodDeletionRequested, ev.PodDeleted)):
            self.expectations.deletion_observed(uid, event.pod)
        self.enqueue(uid)

    def _on_node_event(self, _event: ev.Event) -> None:
        for uid in self._daemonsets:
            self.enqueue(uid)

    def forget(self, uid: str) -> None:
        self._daemonsets.pop(uid, None)
        self._specs.pop(uid, None)
        self.expectations.forget(uid)
        self.failed_pods_backoff.forget_owner(uid)

    # --- specs -------------------------------------------------------------------------------------
    def _admitted(self, ds: Workload) -> tuple[PodSpec, dict[str, PodSpec]]:
        """The template's spec with the DaemonSet tolerations, and the per-node specs made so far."""
        cached = self._specs.get(ds.uid)
        if cached is None or cached[0] is not ds.template:
            cached = (ds.template, admit_spec(ds.template.spec, daemon=True), {})
            self._specs[ds.uid] = cached
        return cached[1], cached[2]

    def _node_spec(self, ds: Workload, node_name: str) -> PodSpec:
        _, per_node = self._admitted(ds)
        spec = per_node.get(node_name)
        if spec is None:
            spec = per_node[node_name] = _spec_for_node(ds.template.spec, node_name)
        return spec

    def revision(self, ds: Workload) -> str:
        return self.template_hash(ds.template)

    # --- sync --------------------------------------------------------------------------------------
    def sync(self, uid: str) -> None:
        ds = self.state.workloads.get(uid)
        if not isinstance(ds, DaemonSet) or ds.deletion_timestamp is not None:
            return
        self._daemonsets[uid] = None
        if not self.expectations.satisfied(uid):
            self.enqueue(uid, after=self.expectations.expires_in(uid))
            return
        self._manage(ds)
        if self.expectations.satisfied(uid):
            self._rolling_update(ds)

    def _pods_by_node(self, uid: str) -> dict[str, list[Pod]]:
        by_node: dict[str, list[Pod]] = {}
        for pod in self.state.pods_owned_by(uid):
            node = target_node(pod)
            if node is not None:
                by_node.setdefault(node, []).append(pod)
        return by_node

    def _manage(self, ds: DaemonSet) -> None:
        """``manage``: which nodes need a pod, which pods must go, then ``syncNodes``."""
        spec, _ = self._admitted(ds)
        by_node = self._pods_by_node(ds.uid)
        now = self.env.now
        needing: list[str] = []
        doomed: list[Pod] = []
        for node in self.state.node_list:
            should_run, should_continue = node_should_run(spec, node)
            pods = by_node.get(node.name)
            if should_run and not pods:
                needing.append(node.name)
            elif should_continue and pods:
                running = []
                for pod in pods:
                    if pod.deletion_timestamp is not None:
                        continue
                    if pod.phase == "Failed":
                        key = (ds.uid, node.name)
                        wait = self.failed_pods_backoff.in_backoff(key, now)
                        if wait > 0:
                            self.enqueue(ds.uid, after=wait)
                            continue
                        self.failed_pods_backoff.next(key, now)
                        doomed.append(pod)
                    elif pod.phase == "Succeeded":
                        doomed.append(pod)
                    else:
                        running.append(pod)
                if len(running) > 1:  # keep one: scheduled first, then oldest (podByCreationTimestampAndPhase)
                    running.sort(key=lambda p: (p.node_name is None, p.created_at, p.name))
                    doomed.extend(running[1:])
            elif not should_continue and pods:
                doomed.extend(p for p in pods if p.deletion_timestamp is None)
        for node_name, pods in by_node.items():  # getUnscheduledPodsWithoutNode
            if node_name not in self.state.nodes:
                doomed.extend(p for p in pods if p.node_name is None and p.deletion_timestamp is None)
        self._sync_nodes(ds, doomed, needing)

    def _sync_nodes(self, ds: DaemonSet, doomed: list[Pod], needing: list[str]) -> None:
        """``syncNodes``: create (slow start) and delete, each capped at BurstReplicas."""
        creates = needing[: self.burst_replicas]
        deletes = doomed[: self.burst_replicas]
        self.expectations.expect(ds.uid, creates=len(creates), deletes=[pod.key for pod in deletes])
        revision = self.revision(ds)
        targets = iter(creates)
        successes, error = slow_start_batch(
            len(creates), k8s.SLOW_START_INITIAL_BATCH_SIZE, lambda: self._create(ds, next(targets), revision)
        )
        if len(creates) > successes:
            self.expectations.creation_observed(ds.uid, len(creates) - successes)
        for pod in deletes:
            if pod.uid in self.state.pods:
                delete_pod(self.state, pod, "DaemonSetPodNotNeeded")
        if error is not None:
            raise error

    def _create(self, ds: DaemonSet, node_name: str, revision: str) -> None:
        pod = pod_from_template(
            ds.template,
            uid=self.sim.new_uid(),
            name=self.generate_name(ds.namespace, ds.name),
            namespace=ds.namespace,
            owner=ds.ref(),
            extra_labels={k8s.LABEL_CONTROLLER_REVISION_HASH: revision},
            spec=self._node_spec(ds, node_name),
            daemon=True,
        )
        self.create_pod(pod)

    def _rolling_update(self, ds: DaemonSet) -> None:
        """``rollingUpdate`` without surge: replace old pods, keeping at most maxUnavailable nodes down.

        A node that should run the pod but has none counts as unavailable: upstream's
        ``updatedDesiredNodeCounts`` (pkg/controller/daemon/update.go) gives every such node an empty
        entry, which ``rollingUpdate`` counts ("the manage loop will handle creating ... consider this
        unavailable"). So an old pod that failed and was just deleted holds the update back until its
        node has an available pod again."""
        revision = self.revision(ds)
        by_node = self._pods_by_node(ds.uid)
        spec, _ = self._admitted(ds)
        desired = unavailable = 0
        for node in self.state.node_list:
            if node_should_run(spec, node)[0]:
                desired += 1
                unavailable += node.name not in by_node
        max_unavailable = scaled_value(k8s.DEFAULT_DAEMONSET_MAX_UNAVAILABLE, desired, True) or 1
        now = self.env.now
        replace_now: list[Pod] = []
        candidates: list[Pod] = []
        for pods in by_node.values():
            new_pod = old_pod = None
            excess = False
            for pod in pods:
                if pod.deletion_timestamp is not None:
                    continue
                if pod.labels.get(k8s.LABEL_CONTROLLER_REVISION_HASH) == revision:
                    excess = excess or new_pod is not None
                    new_pod = pod
                else:
                    excess = excess or old_pod is not None
                    old_pod = pod
            if excess or (new_pod is None) == (old_pod is None):
                unavailable += 1  # the manage loop creates or deletes here
            elif new_pod is not None:
                unavailable += not is_pod_available(new_pod, 0.0, now)
            elif old_pod is not None and not is_pod_available(old_pod, 0.0, now):
                replace_now.append(old_pod)
                unavailable += 1
            elif old_pod is not None and unavailable < max_unavailable:
                candidates.append(old_pod)
        room = min(max(max_unavailable - unavailable, 0), len(candidates))
        doomed = replace_now + candidates[:room]
        if doomed:
            self._sync_nodes(ds, doomed, [])

    # --- status ------------------------------------------------------------------------------------
    def status(self, workload: Workload) -> WorkloadStatus:
        """desired = nodes that should run the pod; current = those with an active daemon pod; ready =
        those whose pod is Ready; updated = those whose active pod has the current revision."""
        from podquake.model.simulation import WorkloadStatus

        spec, _ = self._admitted(workload)
        revision = self.revision(workload)
        by_node: dict[str, Pod] = {}
        for pod in self.state.pods_owned_by(workload.uid):
            node = target_node(pod)
            if node is not None and pod.active and node not in by_node:
                by_node[node] = pod
        desired = current = ready = updated = 0
        for node in self.state.node_list:
            if not node_should_run(spec, node)[0]:
                continue
            desired += 1
            pod = by_node.get(node.name)
            if pod is None:
                continue
            current += 1
            ready += pod.ready
            updated += pod.labels.get(k8s.LABEL_CONTROLLER_REVISION_HASH) == revision
        return WorkloadStatus(desired, current, ready, updated)
