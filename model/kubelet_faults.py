"""The kubelet's fault API: the public methods a chaos nemesis calls to make a node misbehave.

Each returns whether it had an effect:
``crash_container``, ``oom_kill_container``, ``exit_container`` (a run-to-completion container
finishing), ``fail_probe``/``recover_probe``, ``stop_kubelet``/``start_kubelet`` (the process: no lease,
no actions, the containers keep running), ``power_off``/``power_on`` (the machine: every container
dies at once, with its emptyDir data and the kubelet's memory), ``fail_runtime``/``recover_runtime``
(the container runtime: the kubelet reports the node NotReady and can act on nothing), and
``set_api_reachable`` (the cluster network, :mod:`podquake.model.network`, opens or closes the node's
path to the API server; what the kubelet does while cut off is in :mod:`podquake.model.kubelet`).
:func:`~podquake.model.kubelet.kubelet_for` finds the kubelet running a pod.

>>> from podquake.model import ClusterSpec, Simulation
>>> sim = Simulation(ClusterSpec.uniform(nodes=2, zones=1), seed=1)
>>> sim.kubelets["worker-1"].power_off(), sim.state.nodes["worker-1"].up
(True, False)

A mixin of :class:`~podquake.model.kubelet.Kubelet`, like
:class:`~podquake.model.kubelet_containers.ContainerLifecycle`: the faults are where a fault's
arguments are checked (a bad exit code, an unknown container or a pod on another node is a
``ValueError`` naming the fix) and turned into a change of the kubelet's flags or of the machine's
power; what follows from that change (lease, resync, restarts, the cut-off mode) is the kubelet's and
the containers' own work, in :mod:`podquake.model.kubelet` and :mod:`podquake.model.kubelet_containers`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from podquake.model import constants as k8s
from podquake.model.errors import finite_number
from podquake.model.kubelet_rules import next_probe_time
from podquake.model.lease import first_failed_renewal

if TYPE_CHECKING:
    import simpy

    from podquake.model.kubelet_containers import _Container, _PodRun
    from podquake.model.kubelet_dispatch import KubeletDispatcher
    from podquake.model.objects import Node
    from podquake.model.store import ClusterState

__all__ = ["KubeletFaults"]


def _check_exit_code(exit_code: object) -> None:
    """A process's exit status: a whole number 0..255 (128 + n for a signal n, 137 for SIGKILL)."""
    if isinstance(exit_code, bool) or not isinstance(exit_code, int) or not 0 <= exit_code <= 255:
        raise ValueError(f"exit_code must be a whole number from 0 to 255, not {exit_code!r}")


class KubeletFaults:
    """The fault half of :class:`~podquake.model.kubelet.Kubelet` (see the module docstring). It
    holds no state of its own: the flags it sets (``running``, ``runtime_healthy``, ``connected``)
    live on the kubelet."""

    if TYPE_CHECKING:  # provided by Kubelet and its ContainerLifecycle
        env: simpy.Environment
        state: ClusterState
        node_name: str
        node: Node
        pods: dict[str, _PodRun]
        running: bool
        runtime_healthy: bool
        runtime_down_since: float
        runtime_checks_from: float
        runtime_seen_up_at: float
        runtime_recovering: bool
        _runtime_gen: int
        connected: bool
        lease_slot: int
        _lease_failed_at: float | None
        _link_gen: int
        _status_sync_from: float
        _unreconciled: set[str]
        _epoch: int
        _removed: bool
        _dispatcher: KubeletDispatcher

        @property
        def beating(self) -> bool: ...
        @property
        def managing(self) -> bool: ...
        def _come_back(self) -> None: ...
        def _reconnect(self) -> None: ...
        def _act_locally(self) -> None: ...
        def _resync(self) -> None: ...
        def _report_node_ready(self) -> None: ...
        def _container_died(self, run: _PodRun, c: _Container, exit_code: int, reason: str, probe_kill: bool = False) -> bool: ...
        def _exit_due(self, run: _PodRun, c: _Container, gen: int, exit_code: int, reason: str) -> None: ...
        def _set_health(self, pod_key: str, container: str | int, probe: str, healthy: bool) -> bool: ...

    def crash_container(self, pod_key: str, container: str | int = 0, exit_code: int = 1, reason: str = "Error") -> bool:
        """The container's process dies now with ``exit_code``; restart policy and back-off apply.

        ``container`` is a name or an index into the pod's containers. Returns False when the
        container is not running (not started yet, already dead, pod gone, machine down).

        Example: ``sim.kubelets["worker-1"].crash_container("default/web-0", "web", exit_code=2)``.
        """
        _check_exit_code(exit_code)
        if exit_code == 0 and reason == "Error":
            reason = "Completed"  # the kubelet's reason for a container that exited 0
        target = self._target(pod_key, container)
        if target is None:
            return False
        run, c = target
        return self._container_died(run, c, exit_code, reason)

    def oom_kill_container(self, pod_key: str, container: str | int = 0) -> bool:
        """The kernel OOM-kills the container: exit code 137, reason ``OOMKilled``.

        Example: ``sim.kubelets["worker-1"].oom_kill_container("default/web-0")``.
        """
        return self.crash_container(pod_key, container, k8s.OOM_KILLED_EXIT_CODE, "OOMKilled")

    def exit_container(self, pod_key: str, container: str | int = 0, exit_code: int = 0, after: float = 0.0) -> bool:
        """The container's process finishes on its own, now or ``after`` seconds from now (if it is
        still the same run of the container then), with ``exit_code`` (reason ``Completed`` for 0,
        ``Error`` otherwise). For run-to-completion pods: with restartPolicy OnFailure or Never and
        exit code 0 the pod goes Succeeded.

        Example: ``sim.kubelets["worker-1"].exit_container("default/job-x", exit_code=0, after=30)``.
        """
        _check_exit_code(exit_code)
        finite_number(after, "after", minimum=0, unit="seconds", fix="write e.g. after=30.0, or 0 for now")
        target = self._target(pod_key, container)
        if target is None or not target[1].alive:
            return False
        run, c = target
        reason = "Completed" if exit_code == 0 else "Error"
        if after <= 0:
            return self._container_died(run, c, exit_code, reason)
        self._dispatcher.call_at(self.env.now + after, self._exit_due, run, c, c.gen, exit_code, reason)
        return True

    def fail_probe(self, pod_key: str, container: str | int = 0, probe: str = "liveness") -> bool:
        """The container's ``probe`` check (``liveness``, ``readiness`` or ``startup``) starts
        failing, until :meth:`recover_probe`. Nothing happens at once: a liveness failure restarts
        the container at the failureThreshold-th failing probe, a readiness failure makes it not
        Ready then. Returns False if the container has no such probe or the check already fails.

        Example: ``sim.kubelets["worker-1"].fail_probe("default/web-0", "web", "readiness")``.
        """
        return self._set_health(pod_key, container, probe, False)

    def recover_probe(self, pod_key: str, container: str | int = 0, probe: str = "liveness") -> bool:
        """The container's ``probe`` check passes again (see :meth:`fail_probe`).

        Example: ``sim.kubelets["worker-1"].recover_probe("default/web-0", "web", "readiness")``.
        """
        return self._set_health(pod_key, container, probe, True)

    def stop_kubelet(self) -> bool:
        """The kubelet process stops: no lease renewals (the node goes Unknown after the grace
        period), no starts, restarts, probes or deletions; the containers keep running.

        Example: ``sim.kubelets["worker-1"].stop_kubelet()``.
        """
        if not self.running:
            return False
        self.running = False
        self._epoch += 1
        self._dispatcher.leave(self)
        return True

    def start_kubelet(self) -> bool:
        """The kubelet process comes back: it renews the lease at once, reports Ready, and resyncs:
        reports what happened meanwhile, starts pods bound while it was away, finishes deletions.
        The new process has an empty CrashLoopBackOff table (upstream's ``flowcontrol.Backoff`` lives
        in the kubelet's memory, pkg/kubelet/kubelet.go ``klet.backOff``): a container waiting out
        its back-off restarts at once, and the next delays start again from 10 s.

        Example: ``sim.kubelets["worker-1"].start_kubelet()``.
        """
        if self.running:
            return False
        self.running = True
        for run in self.pods.values():
            for c in run.containers:
                c.backoff = 0.0
        self.runtime_checks_from = self.runtime_seen_up_at = self.env.now  # a new process checks at once
        self._status_sync_from = self.env.now  # and has a new status manager
        self.runtime_recovering = False
        self._runtime_gen += 1
        if not self.runtime_healthy:  # a new process whose runtime check never succeeded: NotReady
            self.runtime_down_since = float("-inf")
        if self.beating:
            self._come_back()
        else:
            if not self.connected and self.node.up:  # the new process's first renewal fails at once
                self._lease_failed_at = self.env.now
            if self.managing:
                self._act_locally()
        return True

    def power_off(self) -> bool:
        """The machine stops (``state.set_node_power``): every container dies at once, with its
        emptyDir data and the kubelet's memory. The API keeps showing the pods until the node
        lifecycle controller acts.

        Example: ``sim.kubelets["worker-1"].power_off()``.
        """
        if not self.node.up or self._removed:
            return False
        self.state.set_node_power(self.node_name, False)
        return True

    def power_on(self) -> bool:
        """The machine boots: the kubelet starts, renews the lease, reports Ready, restarts the
        containers of the pods the API still binds here, and finishes off those being deleted.

        Example: ``sim.kubelets["worker-1"].power_on()``.
        """
        if self.node.up or self._removed:
            return False
        self.state.set_node_power(self.node_name, True)
        return True

    def fail_runtime(self) -> bool:
        """The container runtime stops answering: the kubelet can start, stop or report nothing, and
        keeps renewing the lease; once the runtime has been down for 30 s
        (``MAX_WAIT_FOR_CONTAINER_RUNTIME_SECONDS``, upstream ``runtimeErrors``) it reports the node
        Ready=False (KubeletNotReady) at its next renewal. A shorter outage leaves the node Ready.

        Example: ``sim.kubelets["worker-1"].fail_runtime()``.
        """
        if not self.runtime_healthy:
            return False
        self.runtime_healthy = False
        self.runtime_recovering = False
        self._runtime_gen += 1
        now = self.env.now
        if now >= self.runtime_seen_up_at:  # else no check has seen it answer since it last failed
            self.runtime_down_since = self.runtime_checks_from = now
        self._epoch += 1
        if self.beating:
            self._dispatcher.report_at_renewal(self, max(now, self.runtime_down_since + k8s.MAX_WAIT_FOR_CONTAINER_RUNTIME_SECONDS))
        return True

    def recover_runtime(self) -> bool:
        """The container runtime answers again. A node reported NotReady is reported Ready at the
        first renewal after the next runtime status check (``updateRuntimeUp`` every
        ``RUNTIME_STATUS_CHECK_SECONDS``, 5 s, from the failure: the check that sees the runtime ends
        upstream's ``runtimeErrors``; the status update after it posts Ready). The pods are resynced
        at that same check when the outage lasted long enough to set ``runtimeErrors`` (30 s):
        upstream's ``syncLoop`` (pkg/kubelet/kubelet.go) skips pod synchronization while it is set
        (``runtime_recovering`` meanwhile); after a shorter outage it never skipped, and the pods are
        resynced at once. A runtime down 60 s from 30 s is seen at 90 s: pod work resumes then, and
        the node is reported Ready at the renewal after.

        Example: ``sim.kubelets["worker-1"].recover_runtime()``.
        """
        if self.runtime_healthy:
            return False
        now = self.env.now
        errored = self.ready_to_report() == "False"  # runtimeErrors is set: the sync loop skips pod work
        self.runtime_healthy = True
        self.runtime_seen_up_at = next_probe_time(self.runtime_checks_from, k8s.RUNTIME_STATUS_CHECK_SECONDS, now)
        self._epoch += 1
        self._runtime_gen += 1
        if self.beating and (self.node.ready != "True" or errored):
            # errored with the node still Ready: its NotReady is posted at the next renewal, before the
            # check that sees the runtime; Ready must follow at the renewal after that check
            self._dispatcher.report_at_renewal(self, self.runtime_seen_up_at)
        if errored and self.runtime_seen_up_at > now:
            self.runtime_recovering = True
            self._dispatcher.call_at(self.runtime_seen_up_at, self._runtime_seen, self._runtime_gen)
        else:
            self._resume_pod_work()
        return True

    def _runtime_seen(self, gen: int) -> None:
        """The runtime status check that sees the recovered runtime: ``runtimeErrors`` clears and the
        sync loop takes up pod work again (unless the runtime failed again, or a new kubelet process
        or machine boot started over, meanwhile)."""
        if gen != self._runtime_gen or not self.runtime_recovering:
            return
        self.runtime_recovering = False
        self._resume_pod_work()

    def _resume_pod_work(self) -> None:
        if self.beating:
            self._resync()
        elif self.managing:
            self._act_locally()

    def set_api_reachable(self, reachable: bool) -> bool:
        """The node's path to the API server closes (``False``) or opens again (``True``); the
        cluster network (:class:`~podquake.model.network.ClusterNetwork`) calls this. Cut off, the
        kubelet renews no lease, sees no new bindings or deletions and reports nothing, while its
        containers keep running and crashed ones restart locally; reconnected, it reports what
        happened meanwhile and resyncs, posts Ready at its next node status update and renews its
        lease at its lease controller's next retry (see :mod:`podquake.model.kubelet`,
        ``Kubelet._reconnect``). Returns whether the reachability changed.

        Example: ``sim.kubelets["worker-1"].set_api_reachable(False)``.
        """
        if reachable == self.connected:
            return False
        self.connected = reachable
        self._link_gen += 1
        self._unreconciled = set()
        if not reachable:
            if self.running and self.node.up and not self._removed and self._lease_failed_at is None:
                self._lease_failed_at = first_failed_renewal(self.lease_slot, self.env.now)  # its lease controller's
            self._dispatcher.leave(self)
            self._act_locally()
        elif self.beating:
            self._reconnect()
        return True

    # --- naming a fault's target ----------------------------------------------------------------
    def _target(self, pod_key: str, container: str | int) -> tuple[_PodRun, _Container] | None:
        """The pod run and the container (a name or an index) that a fault names, or None when this
        kubelet runs no such pod; a ValueError for a pod bound to another node or a container the pod
        does not have."""
        pod = self.state.pods_by_key.get(pod_key)
        if pod is None or pod.node_name is None:
            return None
        if pod.node_name != self.node_name:
            raise ValueError(
                f"pod {pod_key} runs on {pod.node_name}, not on {self.node_name}: use kubelet_for(sim, {pod_key!r})"
            )
        run = self.pods.get(pod_key)
        if run is None or run.pod is not pod:
            return None
        names = [spec.name for spec in pod.spec.containers]
        if isinstance(container, str):
            if container not in names:
                raise ValueError(f"pod {pod_key} has no container {container!r}; it has {', '.join(names)}")
            return run, run.containers[names.index(container)]
        if not 0 <= container < len(names):
            raise ValueError(f"pod {pod_key} has {len(names)} container(s); index {container} is out of range")
        return run, run.containers[container]
