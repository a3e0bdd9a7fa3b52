"""The kubelet's pure rules, after upstream: when a probe runs, which phase a pod is in, whether a
container restarts. Functions of their arguments only, so :mod:`podquake.model.kubelet` can use them
from its event handlers and tests can check them against upstream's tables directly.

- :func:`next_probe_time`: the probe schedule, ``anchor + k * periodSeconds`` (the model anchors it
  at the container's start plus ``initialDelaySeconds``; kubernetes/kubernetes:pkg/kubelet/prober/
  worker.go anchors it at the probe worker's start);
- :func:`pod_phase`: upstream ``getPhase`` (pkg/kubelet/kubelet_pods.go);
- :func:`should_restart`: upstream ``ShouldContainerBeRestarted`` (pkg/kubelet/container/helpers.go),
  with a liveness or startup probe kill counting as a failure.
"""

from __future__ import annotations

import math

from podquake.model.objects import Pod

__all__ = ["next_probe_time", "pod_phase", "should_restart"]

_EPS = 1e-9  # so that a probe instant computed with rounding error is not skipped


def next_probe_time(anchor: float, period: float, not_before: float) -> float:
    """The first probe instant ``anchor + k * period`` (``k >= 0``) that is not before ``not_before``.

    >>> next_probe_time(5.0, 10.0, 0.0), next_probe_time(5.0, 10.0, 5.0), next_probe_time(5.0, 10.0, 5.1)
    (5.0, 5.0, 15.0)
    """
    if not_before <= anchor:
        return anchor
    return anchor + math.ceil((not_before - anchor) / period - _EPS) * period


def pod_phase(pod: Pod) -> str:
    """The phase the kubelet reports for ``pod`` from its container states (upstream ``getPhase``,
    kubernetes/kubernetes:pkg/kubelet/kubelet_pods.go). A waiting container that ran before counts
    as stopped, so a pod in CrashLoopBackOff under restartPolicy Always stays Running."""
    running = stopped = succeeded = waiting = 0
    for status in pod.containers:
        state = status.state
        if state == "running":
            running += 1
        elif state == "terminated":
            stopped += 1
            if status.exit_code == 0:
                succeeded += 1
        elif status.last_exit_code is not None:
            stopped += 1
        else:
            waiting += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if stopped:
        policy = pod.spec.restart_policy
        if policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        return "Failed" if policy == "Never" else "Running"
    return "Pending"


def should_restart(policy: str, exit_code: int, probe_kill: bool) -> bool:
    """Upstream ``ShouldContainerBeRestarted``; a probe kill restarts unless the policy is Never."""
    if policy == "Always":
        return True
    if policy == "OnFailure":
        return exit_code != 0 or probe_kill
    return False
