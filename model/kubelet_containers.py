"""The kubelet's containers: starting them, their exits and restarts (restart policy and
CrashLoopBackOff), and their probes, computed lazily and exactly. A mixin of
:class:`~podquake.model.kubelet.Kubelet`, which owns the node-level work (lease, pods, resync, the
cut-off mode; its faults are :mod:`podquake.model.kubelet_faults`); the modules are one component,
split for size.

After upstream (kubernetes/kubernetes:pkg/kubelet/kuberuntime/kuberuntime_manager.go, prober/):

- **Restarts.** restartPolicy Always restarts on any exit, OnFailure on a non-zero exit, Never not at
  all; a liveness or startup probe failure restarts under Always and OnFailure. CrashLoopBackOff
  (client-go flowcontrol.Backoff as the kubelet uses it): the first restart is immediate, then the
  container waits 10 s, 20 s, ... up to 300 s after it finished; the back-off resets when a
  container ran 10 minutes (2 x 300 s) since its last restart.
- **Exits of their own.** A container with a run time
  (:attr:`~podquake.model.objects.ContainerSpec.run_seconds`: a ``sleep N`` command or the
  ``podquake.io/run-seconds`` annotation) exits with its exit code that long after each start, as a
  batch process ends; pod phase (``getPhase``) and restart policy follow as for any exit, so a pod
  whose containers all exit 0 under restartPolicy Never or OnFailure goes Succeeded. Other
  containers run until stopped.

Lazy, exact probes. Probing every container every 10 s would cost 15,000 events per simulated second
at 150,000 pods, and a healthy container's probes change nothing. So a probe is never simulated
tick by tick: each container carries health flags (``liveness``, ``readiness``, ``startup``; healthy
unless a fault says otherwise), and the kubelet computes, from the probe's schedule, the one instant
at which the outcome changes, and schedules a single cancellable event for it:

- a probe of a container started at ``s`` runs at ``s + initialDelaySeconds + k * periodSeconds``;
- readiness: a container becomes Ready at the ``successThreshold``-th consecutive passing probe
  (the first one at ``s + initialDelaySeconds`` for a healthy container), and stops being Ready at
  the ``failureThreshold``-th consecutive failing probe after its readiness check starts failing;
  no restart;
- liveness: the ``failureThreshold``-th consecutive failing probe after the check starts failing
  kills the container as a deletion does, preStop hook first, with the pod's grace period
  (:func:`~podquake.model.kubelet_rules.kill_timing`); then restart policy and back-off apply;
- startup: liveness and readiness wait until the startup probe passes (at its first probe when
  healthy); ``failureThreshold`` failures kill the container.

A health flag that recovers before the threshold is reached cancels the pending event, which is
exactly what resetting the consecutive counter does upstream. The events are batched by due time by
the simulation's :class:`~podquake.model.kubelet_dispatch.KubeletDispatcher`. The pure rules (probe
schedule, restart policy) are in :mod:`podquake.model.kubelet_rules`.

Simplifications of Kubernetes, on purpose (the kubelet's others are in :mod:`podquake.model.kubelet`):
- a probe's result is known at the probe instant (timeoutSeconds is not waited out), and the probe
  schedule is anchored at the container's start (upstream anchors it at the probe worker's start,
  with jitter after a kubelet restart);
- a restart after back-off is instantaneous (the image is present); restartCount is counted when the
  restart is decided (``set_container_waiting(restarting=True)``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from podquake.model import constants as k8s
from podquake.model.kubelet_rules import kill_timing, next_probe_time, should_restart
from podquake.model.objects import ContainerSpec, Pod

if TYPE_CHECKING:
    import simpy

    from podquake.model.kubelet_dispatch import KubeletDispatcher
    from podquake.model.simulation import Timing
    from podquake.model.store import ClusterState

__all__ = ["PROBE_KINDS", "ContainerLifecycle"]

PROBE_KINDS = ("liveness", "readiness", "startup")
_TERMINAL = ("Succeeded", "Failed")


class _Container:
    """The kubelet's runtime record of one container of a pod: the process, its health, its timers.

    ``gen`` changes whenever the process starts or dies; ``ready_gen`` and ``probe_gen`` whenever a
    readiness or liveness/startup outcome is rescheduled. A scheduled event carries the values it
    was made with and does nothing if they changed: that is how events are cancelled.
    """

    __slots__ = (
        "index",
        "spec",
        "alive",
        "started",
        "gen",
        "ready_gen",
        "probe_gen",
        "started_at",
        "finished_at",
        "backoff",
        "backoff_updated",
        "unreported",
        "liveness_ok",
        "readiness_ok",
        "startup_ok",
    )

    def __init__(self, index: int, spec: ContainerSpec) -> None:
        self.index = index
        self.spec = spec
        self.alive = False
        self.started = False  # the startup probe passed (or there is none)
        self.gen = 0
        self.ready_gen = 0
        self.probe_gen = 0
        self.started_at = 0.0
        self.finished_at = 0.0
        self.backoff = 0.0  # the CrashLoopBackOff entry; 0 = none
        self.backoff_updated = 0.0
        self.unreported: tuple[int, str, bool] | None = None  # an exit the kubelet could not report yet
        self.liveness_ok = True
        self.readiness_ok = True
        self.startup_ok = True


class _PodRun:
    """The kubelet's record of one pod it runs."""

    __slots__ = ("pod", "containers", "started", "terminating")

    def __init__(self, pod: Pod) -> None:
        self.pod = pod
        self.containers = [_Container(i, spec) for i, spec in enumerate(pod.spec.containers)]
        self.started = False  # the sandbox exists: containers have been started
        self.terminating = -1  # the kubelet epoch in which its graceful stop began (-1: none)


class ContainerLifecycle:
    """The container half of :class:`~podquake.model.kubelet.Kubelet` (see the module docstring): it
    runs, restarts, probes and kills the containers of the pods in ``self.pods``. It holds no state of
    its own: everything lives on the kubelet and its ``_Container`` records.
    """

    if TYPE_CHECKING:  # provided by Kubelet
        env: simpy.Environment
        state: ClusterState
        timing: Timing
        pods: dict[str, _PodRun]
        _epoch: int
        _dispatcher: KubeletDispatcher

        @property
        def acting(self) -> bool: ...
        @property
        def managing(self) -> bool: ...
        def _target(self, pod_key: str, container: str | int) -> tuple[_PodRun, _Container] | None: ...
        def _report_pod(self, run: _PodRun) -> None: ...
        def _report_ready(self, pod: Pod) -> None: ...
        def _died_locally(self, run: _PodRun, c: _Container, exit_code: int, reason: str, probe_kill: bool) -> None: ...
        def _arm_local_probes(self, run: _PodRun, c: _Container) -> None: ...

    # === containers ===============================================================================
    def _run_container(self, run: _PodRun, c: _Container) -> None:
        pod = run.pod
        self.state.start_container(pod.uid, c.index)
        c.alive = True
        c.gen += 1
        c.started_at = self.env.now
        c.unreported = None
        spec = c.spec
        if spec.run_seconds is not None:  # a run-to-completion process: it exits by itself
            code = spec.exit_code
            self._dispatcher.call_at(self.env.now + spec.run_seconds, self._exit_due, run, c, c.gen, code, "Completed" if code == 0 else "Error")
        if spec.startup_probe is not None:
            c.started = False
            self._arm_startup(run, c)
            return
        c.started = True  # _on_started, unrolled for the common case
        if spec.readiness_probe is not None:
            self._arm_readiness(run, c)
        elif not pod.containers[c.index].ready:
            self.state.set_container_ready(pod.uid, c.index, True)
        if spec.liveness_probe is not None and not c.liveness_ok:
            self._arm_liveness(run, c)

    def _on_started(self, run: _PodRun, c: _Container) -> None:
        c.started = True
        self._arm_readiness(run, c)
        self._arm_liveness(run, c)

    def _container_died(self, run: _PodRun, c: _Container, exit_code: int, reason: str, probe_kill: bool = False) -> bool:
        """The process ended (the runtime's truth); the kubelet reports it now or when it can."""
        if not c.alive:
            return False
        c.alive = False
        c.started = False
        c.gen += 1
        c.finished_at = self.env.now
        if self.acting:
            self._report_exit(run, c, exit_code, reason, probe_kill)
        elif self.managing:  # running, but cut off from the API server
            self._died_locally(run, c, exit_code, reason, probe_kill)
        else:
            c.unreported = (exit_code, reason, probe_kill)
        return True

    def _report_exit(self, run: _PodRun, c: _Container, exit_code: int, reason: str, probe_kill: bool) -> None:
        pod = run.pod
        state = self.state
        if state.pods.get(pod.uid) is not pod:
            return
        state.terminate_container(pod.uid, c.index, exit_code, reason)
        self._report_pod(run)
        if (
            pod.deletion_timestamp is None
            and pod.phase not in _TERMINAL
            and should_restart(pod.spec.restart_policy, exit_code, probe_kill)
        ):
            wait = self._backoff_wait(c)
            if wait <= 0:
                state.set_container_waiting(pod.uid, c.index, "ContainerCreating", 0.0, restarting=True)
                self._restart(run, c)
            else:
                state.set_container_waiting(pod.uid, c.index, "CrashLoopBackOff", c.backoff, restarting=True)
                self._dispatcher.call_at(self.env.now + wait, self._restart_due, run, c, self._epoch, c.gen)

    def _restart_due(self, run: _PodRun, c: _Container, epoch: int, gen: int) -> None:
        pod = run.pod
        if epoch != self._epoch or gen != c.gen or c.alive or self.pods.get(pod.key) is not run:
            return
        if pod.deletion_timestamp is not None or self.state.pods.get(pod.uid) is not pod:
            return
        self._restart(run, c)

    def _restart(self, run: _PodRun, c: _Container) -> None:
        self._backoff_next(c)
        self._run_container(run, c)
        self._report_pod(run)

    def _exit_due(self, run: _PodRun, c: _Container, gen: int, exit_code: int, reason: str) -> None:
        if gen == c.gen:
            self._container_died(run, c, exit_code, reason)

    def _kill_silently(self, run: _PodRun) -> None:
        for c in run.containers:
            c.alive = False
            c.gen += 1

    # --- CrashLoopBackOff (k8s.io/client-go/util/flowcontrol/backoff.go, kuberuntime_manager.go doBackOff)
    def _backoff_wait(self, c: _Container) -> float:
        """Seconds until the container may restart (``IsInBackOffSince`` its finish time)."""
        if c.backoff == 0.0 or c.finished_at - c.backoff_updated > k8s.CRASH_LOOP_RESET_SECONDS:
            return 0.0
        return max(0.0, c.finished_at + c.backoff - self.env.now)

    def _backoff_next(self, c: _Container) -> None:
        """``Backoff.Next`` at a restart: 10 s for a new or expired entry, else doubled up to 300 s."""
        if c.backoff == 0.0 or c.finished_at - c.backoff_updated > k8s.CRASH_LOOP_RESET_SECONDS:
            c.backoff = k8s.CRASH_LOOP_INITIAL_BACKOFF_SECONDS
        else:
            c.backoff = min(2 * c.backoff, k8s.CRASH_LOOP_MAX_BACKOFF_SECONDS)
        c.backoff_updated = self.env.now

    # --- probes (lazy; see the module docstring) ---------------------------------------------------
    def _arm_readiness(self, run: _PodRun, c: _Container) -> None:
        c.ready_gen += 1
        if not (c.alive and c.started):
            return
        pod = run.pod
        status = pod.containers[c.index]
        probe = c.spec.readiness_probe
        if probe is None:
            if not status.ready:
                self.state.set_container_ready(pod.uid, c.index, True)
            return
        if status.ready == c.readiness_ok:
            return
        first = next_probe_time(c.started_at + probe.initial_delay_seconds, probe.period_seconds, self.env.now)
        threshold = probe.success_threshold if c.readiness_ok else probe.failure_threshold
        when = first + (threshold - 1) * probe.period_seconds
        self._dispatcher.call_at(when, self._readiness_due, run, c, self._epoch, c.gen, c.ready_gen, c.readiness_ok)

    def _readiness_due(self, run: _PodRun, c: _Container, epoch: int, gen: int, ready_gen: int, ready: bool) -> None:
        if epoch != self._epoch or gen != c.gen or ready_gen != c.ready_gen:
            return
        pod = run.pod
        if self.state.pods.get(pod.uid) is pod:
            self.state.set_container_ready(pod.uid, c.index, ready)
            self._report_ready(pod)

    def _arm_liveness(self, run: _PodRun, c: _Container) -> None:
        if not (c.alive and c.started):
            return  # before the startup probe passes, probe_gen belongs to the startup probe
        c.probe_gen += 1
        probe = c.spec.liveness_probe
        if probe is None or c.liveness_ok:
            return
        first = next_probe_time(c.started_at + probe.initial_delay_seconds, probe.period_seconds, self.env.now)
        when = first + (probe.failure_threshold - 1) * probe.period_seconds
        self._dispatcher.call_at(when, self._probe_failed, run, c, self._epoch, c.gen, c.probe_gen)

    def _arm_startup(self, run: _PodRun, c: _Container) -> None:
        if not c.alive or c.started:
            return  # once started, probe_gen belongs to the liveness probe
        c.probe_gen += 1
        probe = c.spec.startup_probe
        if probe is None:
            return
        first = next_probe_time(c.started_at + probe.initial_delay_seconds, probe.period_seconds, self.env.now)
        if c.startup_ok:  # successThreshold must be 1 for startup probes
            self._dispatcher.call_at(first, self._startup_passed, run, c, self._epoch, c.gen, c.probe_gen)
        else:
            when = first + (probe.failure_threshold - 1) * probe.period_seconds
            self._dispatcher.call_at(when, self._probe_failed, run, c, self._epoch, c.gen, c.probe_gen)

    def _startup_passed(self, run: _PodRun, c: _Container, epoch: int, gen: int, probe_gen: int) -> None:
        if epoch != self._epoch or gen != c.gen or probe_gen != c.probe_gen:
            return
        if not self.acting:  # cut off from the API server: nothing to report, liveness to watch
            c.started = True
            self._arm_liveness(run, c)
            return
        self._on_started(run, c)
        self._report_pod(run)

    def _probe_failed(self, run: _PodRun, c: _Container, epoch: int, gen: int, probe_gen: int) -> None:
        """Liveness or startup failed failureThreshold times: kill the container with the grace period,
        its preStop hook first (upstream ``killContainer`` runs it for a probe kill too;
        :func:`~podquake.model.kubelet_rules.kill_timing`). It keeps running until it exits."""
        if epoch != self._epoch or gen != c.gen or probe_gen != c.probe_gen:
            return
        c.probe_gen += 1
        grace = run.pod.spec.termination_grace_period_seconds
        _hook, exit_after, exit_code = kill_timing(grace, c.spec.pre_stop_seconds, self.timing.container_stop_seconds)
        self._dispatcher.call_at(self.env.now + exit_after, self._kill_done, run, c, epoch, gen, exit_code)

    def _kill_done(self, run: _PodRun, c: _Container, epoch: int, gen: int, exit_code: int) -> None:
        if epoch == self._epoch and gen == c.gen:
            self._container_died(run, c, exit_code, "Error", probe_kill=True)

    def _set_health(self, pod_key: str, container: str | int, probe: str, healthy: bool) -> bool:
        if probe not in PROBE_KINDS:
            raise ValueError(f"unknown probe {probe!r}: use one of {', '.join(PROBE_KINDS)}")
        target = self._target(pod_key, container)
        if target is None:
            return False
        run, c = target
        if getattr(c.spec, f"{probe}_probe") is None or getattr(c, f"{probe}_ok") == healthy:
            return False
        setattr(c, f"{probe}_ok", healthy)
        if self.acting and c.alive:
            if probe == "readiness":
                self._arm_readiness(run, c)
            elif probe == "liveness":
                self._arm_liveness(run, c)
            elif not c.started:
                self._arm_startup(run, c)
        elif self.managing and c.alive and probe != "readiness":  # cut off: probes still kill
            self._arm_local_probes(run, c)
        return True
