"""The kubelet: one per node, it runs the node's pods and keeps the node's lease fresh.

What it does, after upstream (kubernetes/kubernetes:pkg/kubelet/kubelet.go, kuberuntime/kuberuntime_manager.go,
prober/, status/, nodelease/):

- **Lease.** While the machine is up and the kubelet process runs, it renews the node's lease every
  ``NODE_LEASE_RENEW_SECONDS`` (10 s; :mod:`podquake.model.lease`) at a seeded random phase, and reports the
  node's Ready condition with it (``True``; ``False`` once the container runtime has been down for
  ``MAX_WAIT_FOR_CONTAINER_RUNTIME_SECONDS``, 30 s, reported at the renewal after that: a shorter
  runtime outage leaves the node Ready, as upstream's ``runtimeErrors``). A recovered runtime counts
  from the first of the kubelet's runtime status checks (``updateRuntimeUp``, every
  ``RUNTIME_STATUS_CHECK_SECONDS``, 5 s) that sees it, and the node is reported Ready at the renewal
  after that check (:meth:`Kubelet.ready_to_report`). Pod work waits for that check too when the
  outage was long enough to set ``runtimeErrors`` (upstream's ``syncLoop`` skips pod
  synchronization while it is set): :meth:`~podquake.model.kubelet_faults.KubeletFaults.recover_runtime`.
- **Pods.** A pod bound to the node starts ``timing.container_start_seconds`` later (image pull,
  sandbox): every container goes Running, the pod goes Running, and Ready once every container is.
  A deleted pod's containers are killed as upstream's ``killContainer``
  (kuberuntime/kuberuntime_container.go; :func:`~podquake.model.kubelet_rules.kill_timing`): a
  container's preStop hook runs first, for ``min(hook, terminationGracePeriodSeconds)`` seconds, the
  container running and answering meanwhile; then SIGTERM, and the process exits
  ``timing.container_stop_seconds`` later (exit 143), or gets SIGKILL (137) when the grace period
  left (the grace period minus the hook's whole seconds, at least 2 s, ``minimumGracePeriodInSeconds``)
  runs out first. Each container goes on its own clock; the kubelet removes the pod
  (``state.delete_pod``) when the last has exited. Pod phase follows upstream ``getPhase``
  (kubelet_pods.go); Succeeded and Failed are final.
- **Admission.** A pod created with ``spec.nodeName`` set reaches the kubelet without a scheduler
  (:mod:`podquake.model.store`), so the kubelet's own check is the only one it meets (upstream's
  predicate admit handler, pkg/kubelet/lifecycle/predicate.go): a pod that does not fit (resources
  and pod slots, node selector and required affinity, untolerated NoExecute taints; NoSchedule
  taints, cordons and a NotReady condition do not stop it) is rejected, phase Failed with a reason
  such as ``OutOfcpu``, and never started (:func:`~podquake.model.kubelet_rules.admission_failure`).
  The check runs when the pod would start (``container_start_seconds`` after it is bound; upstream
  rejects it as soon as the kubelet sees it).
- **Containers.** Restarts (restart policy, CrashLoopBackOff) and the probes, which are computed
  lazily and exactly rather than simulated tick by tick, are the job of the mixin
  :class:`~podquake.model.kubelet_containers.ContainerLifecycle` (see
  :mod:`podquake.model.kubelet_containers`).

Kubelet actions are batched by due time (one SimPy timeout for every kubelet action due at the same
instant), and lease renewals fall on 0.1 s phase ticks that the store computes when asked
(:mod:`podquake.model.lease`) instead of simulating each: both are the job of the simulation's :class:`~podquake.model.kubelet_dispatch.KubeletDispatcher`, which also routes
watch events to the kubelet concerned. The pure rules (probe schedule, pod phase, restart policy)
are in :mod:`podquake.model.kubelet_rules`.

Faults (the public methods a chaos nemesis calls: ``crash_container``, ``power_off``, ``fail_probe``,
``set_api_reachable``, ...) are the mixin :class:`~podquake.model.kubelet_faults.KubeletFaults` (see
:mod:`podquake.model.kubelet_faults`). :func:`kubelet_for` finds the kubelet running a pod.

What the store shows is the API server's view, written by the kubelet: while the kubelet cannot
report (machine down, process stopped, runtime down) the pods keep their last reported status, and
the kubelet reports what happened when it comes back (as its status manager resyncs).

Cut off from the API server (``set_api_reachable(False)``), the kubelet runs on as upstream's does when
the API server is unreachable: no lease renewals (so the node goes Unknown after the grace period and
its pods are evicted in the API), no new bindings or deletions reach it, and it reports nothing; but
its containers keep running, and it still restarts a crashed container locally (restart policy,
CrashLoopBackOff) and kills one whose liveness or startup probe fails. What it could not report waits
in an outbox; when the API server is reachable again the kubelet writes the outbox to the API (the
exits and restarts, in order, at that instant) and resyncs as after ``start_kubelet``: pods deleted in
the API meanwhile are stopped then. The control plane hears of the node again only when its loops get
through (:meth:`Kubelet._reconnect`): Ready=True at the next node status update (within 10 s), the
lease at the lease controller's next retry (within 7 s), and the pods the node lifecycle controller
marked not Ready are Ready again at the status manager's next full sync (within 10 s).

Simplifications of Kubernetes, on purpose (the containers' own are in
:mod:`podquake.model.kubelet_containers`):
- init containers and sidecars are not run: they are taken to finish within the start latency;
- node-pressure eviction (the hard thresholds memory.available<100Mi, nodefs.available<10%, ...;
  kubernetes/kubernetes:pkg/kubelet/eviction) is not modelled: the kubelet never evicts a pod;
- a kubelet restart keeps readiness results instead of resetting them to failure;
- the runtime's status check (``updateRuntimeUp``, every 5 s upstream) is taken to have last
  succeeded the instant the runtime failed, and to run every 5 s from that instant (from the start,
  in a kubelet process started while the runtime is down); the node status update that posts the
  Ready condition (``syncNodeStatus``, every 10 s upstream) falls on the lease renewals;
- lease renewals fall on 0.1 s phase slots (upstream jitters each renewal by up to 4 %) and keep
  their phase across kubelet restarts, after one immediate renewal at the restart, and across cuts
  from the API server, after the renewal at the retry that gets through (upstream's period starts
  again from that retry);
- requests to an API server the node is cut off from fail at once (refused), so the lease retries
  and the status updates keep their schedule through a cut; a blackholed request would first wait out
  the heartbeat client's 10 s timeout (cmd/kubelet/app/server.go), which can delay both by up to
  10 s more;
- a machine that comes back restarts its pods' containers after ``container_start_seconds``, with a
  fresh back-off (the kubelet's back-off table lived in memory, as after ``start_kubelet``), and reports the vanished ones as
  terminated with exit code 137 and reason ``ContainerStatusUnknown``;
- work the kubelet had in flight when it stops (a pending start, restart, probe kill or graceful
  stop) is redone from the start when it comes back; injected probe failures are forgotten when the
  machine powers off (the containers are gone);
- a deleted pod's phase is not moved to Succeeded/Failed before it is removed;
- a preStop hook lasts what the manifest says it sleeps (:mod:`podquake.model.manifest_pods`; any
  other hook is instant), a hook that fails ends nothing early, and containers are killed all at
  once (upstream stops sidecars after the app containers, terminationOrdering); a pod removed from
  the API at once (a forced delete) has its containers killed at once with no hook: upstream's pod
  worker gives it a 1 s grace period (pod_workers.go ``calculateEffectiveGracePeriod``), so the hook
  runs up to 1 s and SIGTERM gets its 2 s minimum, but the proxies (``Proxy.endpoint_alive``) treat
  a pod gone from the API as dead anyway;
- cut off from the API server, the kubelet drops work in flight (pending starts, restarts scheduled
  before the cut, graceful stops) and redoes it on reconnection, as after ``stop_kubelet``; it only
  keeps restarting and liveness-killing containers of pods it had started; readiness is re-probed
  on reconnection; the outbox reports container starts at the reconnection instant (upstream sends
  the real start times in the first status update).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from podquake.model import constants as k8s
from podquake.model.kubelet_containers import _TERMINAL, PROBE_KINDS, ContainerLifecycle, _Container, _PodRun
from podquake.model.kubelet_faults import KubeletFaults
from podquake.model.lease import LEASE_SLOT_SECONDS, LEASE_SLOTS, renewal_after_outage
from podquake.model.kubelet_rules import admission_failure, kill_timing, next_probe_time, pod_phase, should_restart
from podquake.model.objects import Node, Pod

if TYPE_CHECKING:
    from podquake.model.simulation import Simulation

__all__ = ["LEASE_SLOT_SECONDS", "PROBE_KINDS", "Kubelet", "kubelet_for", "next_probe_time", "pod_phase"]


def kubelet_for(sim: Simulation, pod_key: str) -> Kubelet | None:
    """The kubelet of the node ``pod_key`` (``namespace/name``) is bound to, or None.

    >>> from podquake.model import ClusterSpec, Simulation
    >>> kubelet_for(Simulation(ClusterSpec.uniform(nodes=1, zones=1)), "default/missing") is None
    True
    """
    pod = sim.state.pods_by_key.get(pod_key)
    if pod is None or pod.node_name is None:
        return None
    return sim.kubelets.get(pod.node_name)


class Kubelet(KubeletFaults, ContainerLifecycle):
    """The kubelet of node ``node_name``. :meth:`start` once; then faults through the public methods
    (:class:`~podquake.model.kubelet_faults.KubeletFaults`).

    >>> from podquake.model import ClusterSpec, Simulation
    >>> sim = Simulation(ClusterSpec.uniform(nodes=1, zones=1), seed=1)
    >>> kubelet = sim.kubelets["worker-1"]
    >>> kubelet.stop_kubelet(), kubelet.running, kubelet.start_kubelet()
    (True, False, True)
    """

    def __init__(self, sim: Simulation, node_name: str) -> None:
        self.sim = sim
        self.env = sim.env
        self.state = sim.state
        self.timing = sim.timing
        self.node_name = node_name
        self.node: Node = sim.state.nodes[node_name]
        self.running = True  # the kubelet process
        self.runtime_healthy = True  # the container runtime
        self.runtime_down_since = 0.0  # when this kubelet process last saw the runtime answer (if it is down)
        self.runtime_checks_from = 0.0  # the runtime status checks fall at this instant + k x 5 s
        self.runtime_seen_up_at = 0.0  # the first status check that sees the runtime answer again
        #: The runtime answers again but no status check has seen it yet, after an outage long enough
        #: to set runtimeErrors: the sync loop skips pod work until ``runtime_seen_up_at``.
        self.runtime_recovering = False
        self._runtime_gen = 0  # bumped by each runtime fault or new process: cancels a pending resume
        self.connected = True  # the API server is reachable (the cluster network decides)
        self.lease_slot = 0
        self.pods: dict[str, _PodRun] = {}  # by pod key
        self._epoch = 0  # changes when the kubelet stops acting: cancels everything it had scheduled
        self._removed = False
        self._dispatcher = sim.kubelet_dispatcher
        self._outbox: list[tuple[_PodRun, int, str, tuple[object, ...]]] = []  # unreported while cut off
        #: The renewal that a cut from the API server made fail, while the lease controller retries
        #: (:func:`~podquake.model.lease.renewal_after_outage`); None when no renewal is failing.
        self._lease_failed_at: float | None = None
        self._link_gen = 0  # bumped by each cut and reconnection: cancels a pending lease renewal
        self._status_sync_from = sim.env.now  # the status manager's full syncs fall here + k x 10 s
        #: Pods whose Ready=False the node lifecycle controller wrote while the kubelet was cut off,
        #: left so until the status manager's first full sync after the reconnection.
        self._unreconciled: set[str] = set()

    def start(self) -> None:
        """Begin: draw the lease phase, renew leases, and run the pods already bound here."""
        self._dispatcher.kubelets[self.node_name] = self
        self.lease_slot = self.sim.rng.randrange(LEASE_SLOTS)
        if self.beating:
            self._dispatcher.join(self)
        elif not self.connected and self.node.up:  # its first renewal fails at once
            self._lease_failed_at = self.env.now
        if self.acting and self.node.pods:
            self._resync()

    @property
    def beating(self) -> bool:
        """Renewing the lease: the machine is up, the kubelet process runs, the API server is reachable."""
        return self.running and self.node.up and not self._removed and self.connected

    @property
    def acting(self) -> bool:
        """Able to start, stop, probe and report containers: beating, with a healthy runtime."""
        return (
            self.running and self.runtime_healthy and not self.runtime_recovering and self.node.up and not self._removed and self.connected
        )

    @property
    def managing(self) -> bool:
        """Able to run its containers, reachable API server or not: acting, or acting but cut off."""
        return self.running and self.runtime_healthy and not self.runtime_recovering and self.node.up and not self._removed

    # === watch events (routed by the dispatcher) ==================================================
    def _on_deletion_requested(self, pod: Pod) -> None:
        if self.acting:
            self._begin_deletion(pod)

    def _on_deleted(self, pod_key: str) -> None:
        run = self.pods.get(pod_key)
        if run is None or not self.acting or self.state.pods.get(run.pod.uid) is run.pod:
            return
        # Removed from the API without us (forced): kill what still runs; nothing left to report.
        del self.pods[pod_key]
        self._kill_silently(run)

    def _on_power(self, up: bool) -> None:
        if not up:
            self._epoch += 1
            self._dispatcher.leave(self)
            for run in self.pods.values():
                self._kill_silently(run)
            self.pods = {}
            self._outbox = []
            return
        self.running = True
        self.runtime_healthy = True
        self.runtime_checks_from = self.runtime_seen_up_at = self.env.now  # a new process checks at once
        self._status_sync_from = self.env.now  # and has a new status manager
        self.runtime_recovering = False
        self._runtime_gen += 1
        self.pods = {}
        if self.connected:
            self._come_back()
        else:
            self._lease_failed_at = self.env.now  # the booted kubelet's first renewal fails at once
            self._act_locally()

    def _shutdown(self) -> None:
        self._removed = True
        self._epoch += 1
        self._dispatcher.leave(self)
        for run in self.pods.values():
            self._kill_silently(run)
        self.pods = {}
        self._outbox = []

    # === lease and node status ====================================================================
    def _renew_lease(self) -> None:
        if not self.beating:
            self._dispatcher.leave(self)
            return
        self.state.heartbeat(self.node_name)
        self._report_node_ready()

    def ready_to_report(self) -> str:
        """The Ready status the kubelet posts: ``"False"`` once the container runtime's last
        successful status check is ``MAX_WAIT_FOR_CONTAINER_RUNTIME_SECONDS`` old (30 s; upstream
        ``runtimeErrors``, runtime.go, against the last success of ``updateRuntimeUp``, kubelet.go),
        else ``"True"``. A recovered runtime succeeds only at the first check that sees it
        (``runtime_seen_up_at``): until then the failure's clock runs on."""
        now = self.env.now
        if self.runtime_healthy and now >= self.runtime_seen_up_at:
            return "True"
        if now < self.runtime_down_since + k8s.MAX_WAIT_FOR_CONTAINER_RUNTIME_SECONDS:
            return "True"
        return "False"

    def _report_node_ready(self) -> None:
        """A node status update (``syncNodeStatus``) that posts the Ready condition if it changed. The
        post refreshes the node lifecycle controller's probe timestamp as a renewal does (its
        ``tryUpdateNodeHealth`` notes a changed Ready condition), which matters when the status gets
        through before the lease after a cut."""
        want = self.ready_to_report()
        if self.node.ready != want:
            self.state.heartbeat(self.node_name)
            self.state.set_node_ready(self.node_name, want, "KubeletReady" if want == "True" else "KubeletNotReady")

    def _come_back(self) -> None:
        """The kubelet (re)starts on a running machine: renew now, report, resync."""
        self._epoch += 1
        self._lease_failed_at = None
        self._dispatcher.join(self)
        self._renew_lease()
        if self.acting:
            self._resync()

    def _reconnect(self) -> None:
        """The API server is reachable again (and the kubelet beating): the control plane hears of the
        node when its loops next get through, not at once.

        - The lease is renewed at the lease controller's next retry
          (:func:`~podquake.model.lease.renewal_after_outage`: within 7 s), or on its slot as usual
          when no renewal fell in the cut.
        - The Ready condition (``True`` again after the node lifecycle controller set ``Unknown``) is
          posted by the next node status update (``syncNodeStatus``, every
          ``NODE_STATUS_UPDATE_FREQUENCY_SECONDS``, 10 s, pkg/kubelet/kubelet_node_status.go; its
          failures during the cut are instant and keep its period), which the model puts on the
          lease slot (:meth:`~podquake.model.kubelet_dispatch.KubeletDispatcher.report_at_renewal`):
          within 10 s. The controller then lifts the NoExecute taint at its next monitor pass.
        - The pods are resynced at once (the kubelet's watch resumes: deletions made meanwhile are
          carried out now), but a pod the node lifecycle controller marked not Ready
          (``MarkPodsNotReady``) while its kubelet still had it Ready stays so in the API until the
          status manager's next full sync (pkg/kubelet/status/status_manager.go ``syncBatch`` every
          ``STATUS_MANAGER_SYNC_SECONDS``, 10 s, from the kubelet's start: ``needsReconcile`` finds the
          API's status differs from its unchanged cache): :meth:`_reconcile_pods`. A change of the
          pod's own status before then is written at once, as upstream's new status version is."""
        self._epoch += 1
        now = self.env.now
        marked = self._marked_not_ready()
        if marked:
            self._unreconciled = marked
            self._reconcile_at_next_full_sync()
        failed_at = self._lease_failed_at
        if failed_at is None or now <= failed_at:
            self._lease_failed_at = None
            self._dispatcher.join(self)
        else:
            self._dispatcher.call_at(renewal_after_outage(failed_at, now), self._lease_retry_succeeds, self._link_gen)
        self._dispatcher.report_at_renewal(self, now)
        if self.acting:
            self._resync()

    def _marked_not_ready(self) -> set[str]:
        """Pods with ``MarkPodsNotReady``'s mark: Ready=False in the API, every container still ready."""
        return {
            key
            for key, run in self.pods.items()
            if not run.pod.ready and run.pod.containers and all(c.ready for c in run.pod.containers)
        }

    def _reconcile_at_next_full_sync(self) -> None:
        """Have the status manager's next full sync (every ``STATUS_MANAGER_SYNC_SECONDS`` from the
        kubelet's start, strictly after now) re-send the marked pods' Ready."""
        now = self.env.now
        period = k8s.STATUS_MANAGER_SYNC_SECONDS
        sync = next_probe_time(self._status_sync_from, period, now)
        self._dispatcher.call_at(sync if sync > now else sync + period, self._reconcile_pods, self._link_gen)

    def _on_node_unknown(self) -> None:
        """The node lifecycle controller set the node Unknown and marked its pods not Ready while this
        kubelet hears the API server: a cut has just healed but the lease controller's retry has not
        got through yet (:meth:`_reconnect`), so the node's grace ran out after the heal. Upstream the
        status manager's periodic full sync re-sends the pods' statuses (``needsReconcile``), and the
        next node status update posts Ready=True, as after a reconnection. Cut off, the reconnection
        does both."""
        if not (self.connected and self.running and self.node.up):
            return
        self._unreconciled = set()  # the marks are read at the sync itself
        self._dispatcher.call_at(self.env.now, self._mark_read, self._link_gen)
        self._dispatcher.report_at_renewal(self, self.env.now)

    def _mark_read(self, link_gen: int) -> None:
        """Just after the controller's pass: its marks are on the pods now."""
        if link_gen == self._link_gen:
            marked = self._marked_not_ready()
            if marked:
                self._unreconciled = marked
                self._reconcile_at_next_full_sync()

    def _reconcile_pods(self, link_gen: int) -> None:
        """The status manager's first full sync after the node lifecycle controller's marks: the pods'
        Ready as the kubelet has it, over the controller's Ready=False."""
        keys, self._unreconciled = self._unreconciled, set()
        if link_gen != self._link_gen or not self.acting:
            return  # cut off again, or nothing reported now: a later resync reports them
        state = self.state
        for key in sorted(keys):
            run = self.pods.get(key)
            if run is not None and state.pods.get(run.pod.uid) is run.pod and run.terminating < 0:
                self._report_ready(run.pod)

    def _lease_retry_succeeds(self, link_gen: int) -> None:
        """The lease controller's retry after a cut gets through: renew, and on the slot from now on."""
        if link_gen != self._link_gen or not self.beating:
            return
        self._lease_failed_at = None
        self._dispatcher.join(self)
        self.state.heartbeat(self.node_name)

    # === pods =====================================================================================
    def _adopt(self, pod: Pod) -> _PodRun:
        """Take charge of a pod the API binds here. Containers the API shows running are gone (this
        only happens after the machine rebooted): report them terminated and restart them."""
        run = _PodRun(pod)
        self.pods[pod.key] = run
        rejected = pod.spec.node_name is not None and pod.phase == "Pending" and self._rejected(pod)
        if rejected or pod.phase in _TERMINAL:
            run.started = True
            return run
        state = self.state
        to_start = []
        vanished = False
        for i, status in enumerate(pod.containers):
            if status.state == "running":
                vanished = True
                state.terminate_container(pod.uid, i, k8s.SIGKILL_EXIT_CODE, "ContainerStatusUnknown")
                if should_restart(pod.spec.restart_policy, k8s.SIGKILL_EXIT_CODE, False):
                    state.set_container_waiting(pod.uid, i, "ContainerCreating", 0.0, restarting=True)
                    to_start.append(i)
            elif status.state == "waiting":
                to_start.append(i)
        if vanished:
            self._report_pod(run)
        if to_start:
            self._dispatcher.call_at(self.env.now + self.timing.container_start_seconds, self._start_pod, run, self._epoch, to_start)
        else:
            run.started = True
        return run

    def _start_new_pod(self, pod: Pod, epoch: int, admitted: bool = False) -> None:
        """A pod bound while the kubelet was acting: its start latency is over, run it (unless the
        kubelet rejects it: :meth:`_rejected`)."""
        if epoch != self._epoch or pod.deletion_timestamp is not None or self.state.pods.get(pod.uid) is not pod:
            return
        key = pod.key
        known = self.pods.get(key)
        if known is not None and known.pod is pod:
            return
        if not admitted and pod.spec.node_name is not None and self._rejected(pod):
            run = self.pods[key] = _PodRun(pod)
            run.started = True
            return
        if not self._volumes_ready(pod, lambda: self._start_new_pod(pod, epoch, admitted=True)):
            return
        run = self.pods[key] = _PodRun(pod)
        run.started = True
        for c in run.containers:
            self._run_container(run, c)
        self._report_pod(run)

    def _rejected(self, pod: Pod) -> bool:
        """Kubelet admission of a pod that no scheduler placed (created with ``spec.nodeName`` set):
        if it does not fit here (:func:`~podquake.model.kubelet_rules.admission_failure`), report it
        Failed with the reason (``OutOfcpu``, ...) and return True; its containers never start and
        it stays bound, Failed, until deleted. The pods counted against it are the ones the scheduler
        placed here and the ones this kubelet admitted, not terminated. A pod the scheduler placed is
        not re-checked: it passed the same filters when it was bound (upstream re-checks it too, which
        matters only if the node changed in between)."""
        pods = self.pods
        others = []
        for other in self.node.pods.values():
            if other is pod or other.phase in _TERMINAL:
                continue
            if other.spec.node_name is None:
                others.append(other)
            else:
                run = pods.get(other.key)
                if run is not None and run.pod is other:
                    others.append(other)
        reason = admission_failure(pod, self.node, others)
        if reason is None:
            return False
        self.state.set_pod_phase(pod.uid, "Failed", reason)
        return True

    def _volumes_ready(self, pod: Pod, resume: Callable[[], None]) -> bool:
        """The volume manager's WaitForAttachAndMount: False (and ``resume()`` later) while a volume of
        the pod is not attached to this node (see :mod:`podquake.model.volumes`)."""
        gate = self._dispatcher.volume_gate
        return gate is None or gate(pod, self.node_name, resume)

    def _start_pod(self, run: _PodRun, epoch: int, indexes: list[int]) -> None:
        pod = run.pod
        if epoch != self._epoch or self.pods.get(pod.key) is not run or pod.deletion_timestamp is not None:
            return
        if not self._volumes_ready(pod, lambda: self._start_pod(run, epoch, indexes)):
            return
        run.started = True
        for i in indexes:
            c = run.containers[i]
            if not c.alive:
                self._run_container(run, c)
        self._report_pod(run)

    def _report_pod(self, run: _PodRun) -> None:
        """Write the pod's phase and Ready condition as the kubelet's status manager would."""
        pod = run.pod
        state = self.state
        if state.pods.get(pod.uid) is not pod:
            return
        if pod.phase not in _TERMINAL:
            phase = pod_phase(pod)
            if phase != pod.phase:
                state.set_pod_phase(pod.uid, phase)
        self._report_ready(pod)

    def _report_ready(self, pod: Pod) -> None:
        """Pod Ready = every container Ready (upstream ContainersReady; no readiness gates). Left
        alone while it waits for the status manager's full sync after a reconnection (see
        :meth:`_reconnect`), unless the kubelet's own view of it changed."""
        ready = bool(pod.containers)
        for status in pod.containers:
            if not status.ready:
                ready = False
                break
        if self._unreconciled and pod.key in self._unreconciled:
            if ready:
                return
            self._unreconciled.discard(pod.key)  # a new status: written as usual from now on
        if ready != pod.ready:
            self.state.set_pod_ready(pod.uid, ready)

    def _resync(self) -> None:
        """Catch up with the API and the runtime after being away (or at start)."""
        state = self.state
        if self._outbox:
            self._flush_outbox()
        for key, run in list(self.pods.items()):
            if state.pods.get(run.pod.uid) is not run.pod:
                del self.pods[key]
                self._kill_silently(run)
        for pod in list(self.node.pods.values()):
            run = self.pods.get(pod.key)
            if run is not None:
                self._report_unreported(run)
            if pod.deletion_timestamp is not None:
                self._begin_deletion(pod)
            elif run is None:
                self._adopt(pod)
            elif not run.started:
                waiting = [i for i, c in enumerate(run.containers) if not c.alive]
                self._dispatcher.call_at(self.env.now + self.timing.container_start_seconds, self._start_pod, run, self._epoch, waiting)
            else:
                self._resync_containers(run)

    def _report_unreported(self, run: _PodRun) -> None:
        """Report the exits that happened while the kubelet could not (restarts follow as usual)."""
        for c in run.containers:
            if c.unreported is not None:
                exit_code, reason, probe_kill = c.unreported
                c.unreported = None
                self._report_exit(run, c, exit_code, reason, probe_kill)

    def _resync_containers(self, run: _PodRun) -> None:
        pod = run.pod
        for c in run.containers:
            if c.alive:
                if c.started:
                    self._arm_readiness(run, c)
                    self._arm_liveness(run, c)
                else:
                    self._arm_startup(run, c)
            elif pod.containers[c.index].state == "waiting" and pod.phase not in _TERMINAL:
                self._dispatcher.call_at(self.env.now + self._backoff_wait(c), self._restart_due, run, c, self._epoch, c.gen)
        self._report_pod(run)

    # --- deletion ----------------------------------------------------------------------------------
    def _begin_deletion(self, pod: Pod) -> None:
        run = self.pods.get(pod.key)
        if run is not None and run.pod is not pod:
            run = None
        if run is not None:
            if run.terminating == self._epoch:
                return
            run.terminating = self._epoch
        delay = 0.0
        if run is not None:
            grace = pod.spec.termination_grace_period_seconds
            stop = self.timing.container_stop_seconds
            exits = [(c, kill_timing(grace, c.spec.pre_stop_seconds, stop)) for c in run.containers if c.alive]
            delay = max((timing[1] for _c, timing in exits), default=0.0)
            for c, (_hook, exit_after, exit_code) in exits:
                if exit_after < delay:  # this one exits before the last: on its own (else at _finish_deletion)
                    when = self.env.now + exit_after
                    self._dispatcher.call_at(when, self._stopped, run, c, self._epoch, c.gen, exit_code)
        self._dispatcher.call_at(self.env.now + delay, self._finish_deletion, pod, run, self._epoch)

    def _stopped(self, run: _PodRun, c: _Container, epoch: int, gen: int, exit_code: int) -> None:
        """A container of a pod being deleted exits before its siblings (a shorter preStop hook)."""
        if epoch == self._epoch and gen == c.gen:
            self._container_died(run, c, exit_code, "Error")

    def _finish_deletion(self, pod: Pod, run: _PodRun | None, epoch: int) -> None:
        state = self.state
        if epoch != self._epoch or state.pods.get(pod.uid) is not pod:
            return
        grace = pod.spec.termination_grace_period_seconds
        stop = self.timing.container_stop_seconds
        if run is not None:
            for c in run.containers:
                if c.alive:
                    c.alive = False
                    c.gen += 1
                    exit_code = kill_timing(grace, c.spec.pre_stop_seconds, stop)[2]
                    state.terminate_container(pod.uid, c.index, exit_code, "Error")
                elif c.unreported is not None:  # died while the kubelet could not report it
                    state.terminate_container(pod.uid, c.index, c.unreported[0], c.unreported[1])
                    c.unreported = None
            if self.pods.get(pod.key) is run:
                del self.pods[pod.key]
        if pod.ready:
            state.set_pod_ready(pod.uid, False)
        reason = self._dispatcher.deletion_reasons.pop(pod.key, "Deleted")
        state.delete_pod(pod.uid, reason)

    # === cut off from the API server ================================================================
    def _act_locally(self) -> None:
        """The kubelet runs but cannot reach the API server: drop the work in flight (it is redone on
        reconnection) and keep the started pods' containers going: watch their liveness and restart
        the dead ones that should restart (as decided before the cut, or now for unreported exits)."""
        self._epoch += 1
        if not self.managing:
            return
        for run in self.pods.values():
            if not run.started or run.terminating >= 0:
                continue
            for c in run.containers:
                if c.alive:
                    self._arm_local_probes(run, c)
                elif c.unreported is not None:
                    exit_code, reason, probe_kill = c.unreported
                    c.unreported = None
                    self._died_locally(run, c, exit_code, reason, probe_kill)
                elif run.pod.containers[c.index].state == "waiting":  # a restart decided and reported
                    when = self.env.now + self._backoff_wait(c)
                    self._dispatcher.call_at(when, self._restart_locally, run, c, self._epoch, c.gen)

    def _died_locally(self, run: _PodRun, c: _Container, exit_code: int, reason: str, probe_kill: bool) -> None:
        """A container exited while the API server is unreachable: note it for the API, and restart
        it locally after its back-off if the restart policy says so (``_report_exit``'s decision)."""
        self._outbox.append((run, c.index, "terminated", (exit_code, reason)))
        pod = run.pod
        if run.terminating >= 0 or pod.phase in _TERMINAL:
            return
        if not should_restart(pod.spec.restart_policy, exit_code, probe_kill):
            return
        wait = self._backoff_wait(c)
        if wait <= 0:  # the first restart is immediate, as when reported
            self._outbox.append((run, c.index, "waiting", ("ContainerCreating", 0.0)))
            self._restart_locally(run, c, self._epoch, c.gen)
        else:
            self._outbox.append((run, c.index, "waiting", ("CrashLoopBackOff", c.backoff)))
            self._dispatcher.call_at(self.env.now + wait, self._restart_locally, run, c, self._epoch, c.gen)

    def _restart_locally(self, run: _PodRun, c: _Container, epoch: int, gen: int) -> None:
        if epoch != self._epoch or gen != c.gen or c.alive or self.pods.get(run.pod.key) is not run:
            return
        self._backoff_next(c)
        c.alive = True
        c.gen += 1
        c.started_at = self.env.now
        c.started = c.spec.startup_probe is None
        self._outbox.append((run, c.index, "running", ()))
        self._arm_local_probes(run, c)

    def _arm_local_probes(self, run: _PodRun, c: _Container) -> None:
        """Cut off, only the probes that kill matter: liveness, or startup until it passes."""
        if c.started:
            self._arm_liveness(run, c)
        else:
            self._arm_startup(run, c)

    def _flush_outbox(self) -> None:
        """Write what happened while cut off to the API, in order (pods it still runs only)."""
        outbox, self._outbox = self._outbox, []
        state = self.state
        for run, index, what, args in outbox:
            pod = run.pod
            if state.pods.get(pod.uid) is not pod or self.pods.get(pod.key) is not run:
                continue
            if what == "terminated":
                exit_code, reason = args
                state.terminate_container(pod.uid, index, exit_code, reason)  # type: ignore[arg-type]
            elif what == "waiting":
                reason, backoff = args
                state.set_container_waiting(pod.uid, index, reason, backoff, restarting=True)  # type: ignore[arg-type]
            else:
                state.start_container(pod.uid, index)

    def __repr__(self) -> str:
        return f"Kubelet({self.node_name})"

