"""The kubelet's pure rules, after upstream: when a probe runs, which phase a pod is in, whether a
container restarts. Functions of their arguments only, so :mod:`podquake.model.kubelet` can use them
from its event handlers and tests can check them against upstream's tables directly.

- :func:`next_probe_time`: the probe schedule, ``anchor + k * periodSeconds`` (the model anchors it
  at the container's start plus ``initialDelaySeconds``; kubernetes/kubernetes:pkg/kubelet/prober/
  worker.go anchors it at the probe worker's start);
- :func:`pod_phase`: upstream ``getPhase`` (pkg/kubelet/kubelet_pods.go);
- :func:`should_restart`: upstream ``ShouldContainerBeRestarted`` (pkg/kubelet/container/helpers.go),
  with a liveness or startup probe kill counting as a failure;
- :func:`admission_failure`: upstream's predicate admit handler (pkg/kubelet/lifecycle/predicate.go),
  which rejects a pod bound to a node it does not fit;
- :func:`kill_timing`: upstream ``killContainer`` (pkg/kubelet/kuberuntime/kuberuntime_container.go):
  the preStop hook, then SIGTERM, then SIGKILL when the grace period left runs out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from podquake.model import constants as k8s
from podquake.model.objects import Node, Pod

__all__ = ["admission_failure", "kill_timing", "next_probe_time", "pod_phase", "should_restart"]

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


def kill_timing(grace: float, pre_stop: float | None, stop: float) -> tuple[float, float, int]:
    """When a container the kubelet kills with ``grace`` seconds (the pod's
    terminationGracePeriodSeconds) stops, as ``(hook, exit_after, exit_code)``: the seconds its
    preStop hook runs (``pre_stop`` seconds long; None: no hook), the seconds from the kill to the
    process's exit, and the exit code. ``stop`` is how long the process takes to exit after SIGTERM
    (``timing.container_stop_seconds``).

    Upstream ``killContainer`` (kubernetes/kubernetes:pkg/kubelet/kuberuntime/kuberuntime_container.go):

    - ``executePreStopHook`` runs the hook with the grace period as its deadline, so it takes
      ``min(pre_stop, grace)``; the container keeps running (and answering) meanwhile;
    - the grace period left is ``grace`` minus the hook's whole seconds (``int64`` of the elapsed
      seconds), but at least ``minimumGracePeriodInSeconds`` (2 s,
      :data:`~podquake.model.constants.MINIMUM_GRACE_PERIOD_SECONDS`): a hook that used up the grace
      period still leaves the process 2 s between SIGTERM and SIGKILL;
    - ``StopContainer`` sends SIGTERM and, if the process has not exited when the time left runs out,
      SIGKILL: exit code 143 if ``stop`` fits in it, else 137 when it runs out.

    The same rule serves a deletion and a liveness or startup probe kill (both call
    ``killContainer`` with the pod's grace period; a probe's own terminationGracePeriodSeconds is not
    modelled). A grace period of 0 (only a pod whose terminationGracePeriodSeconds is 0 has one here)
    kills at once with SIGKILL and runs no hook, as the model did before: upstream the API server
    deletes such a pod at once, and the kubelet (whose pod worker raises any grace period to 1 s,
    pkg/kubelet/pod_workers.go ``calculateEffectiveGracePeriod``) stops what still runs afterwards,
    unseen by the API.

    >>> kill_timing(30.0, None, 1.0), kill_timing(30.0, 10.0, 1.0), kill_timing(30.0, 45.0, 1.0)
    ((0.0, 1.0, 143), (10.0, 11.0, 143), (30.0, 31.0, 143))
    >>> kill_timing(30.0, 20.5, 10.0), kill_timing(30.0, 29.5, 3.0), kill_timing(30.0, None, 45.0)
    ((20.5, 30.5, 143), (29.5, 31.5, 137), (0.0, 30.0, 137))
    >>> kill_timing(0.0, 5.0, 1.0)
    (0.0, 0.0, 137)
    """
    if grace <= 0:
        return 0.0, 0.0, k8s.SIGTERM_EXIT_CODE if stop <= 0 else k8s.SIGKILL_EXIT_CODE
    hook = 0.0 if pre_stop is None else min(pre_stop, grace)
    left = max(grace - math.floor(hook), k8s.MINIMUM_GRACE_PERIOD_SECONDS)
    if stop <= left:
        return hook, hook + stop, k8s.SIGTERM_EXIT_CODE
    return hook, hook + left, k8s.SIGKILL_EXIT_CODE


def admission_failure(pod: Pod, node: Node, others: Iterable[Pod]) -> str | None:
    """Why the kubelet of ``node`` rejects ``pod`` (None: it admits it); ``others`` are the pods it
    already admitted and that have not terminated.

    Upstream ``generalFilter`` (kubernetes/kubernetes:pkg/kubelet/lifecycle/predicate.go): the
    scheduler's ``AdmissionCheck``, that is NodeResourcesFit (a pod slot, then cpu, memory and
    ephemeral-storage requests against allocatable minus the others' requests; a pod requesting none
    of them needs only the slot; as the model's scheduler, a node declaring no ephemeral storage is
    not checked for it), NodeAffinity (nodeSelector and required node affinity) and NodeName,
    then the node's NoExecute taints, the only ones the kubelet checks. The pod is rejected with the
    first failure as its reason: ``OutOfpods``, ``OutOfcpu``, ``OutOfmemory``,
    ``OutOfephemeral-storage``, ``NodeAffinity``, ``NodeName`` or ``TaintToleration``. The scheduler
    checked all of this (and more) before binding; a pod created with ``spec.nodeName`` set meets
    this check only.

    >>> from podquake.model.objects import ContainerSpec, PodSpec
    >>> from podquake.model.quantity import Resources
    >>> node = Node("worker-1", 0, {}, Resources(1000, 2**33, 110), Resources(1000, 2**33, 110))
    >>> spec = PodSpec(containers=(ContainerSpec("app", requests=Resources(800, 2**20)),), node_name="worker-1")
    >>> first, second = (Pod(uid, uid, "default", {}, spec, 0.0) for uid in ("a", "b"))
    >>> admission_failure(first, node, []), admission_failure(second, node, [first])
    (None, 'OutOfcpu')
    """
    allocatable = node.allocatable
    cpu = memory = ephemeral = count = 0
    for other in others:
        requests = other.spec.requests
        cpu += requests.cpu_millis
        memory += requests.memory_bytes
        ephemeral += requests.ephemeral_storage_bytes
        count += 1
    spec = pod.spec
    wanted = spec.requests
    if count + 1 > allocatable.pods:
        return "OutOfpods"
    if wanted.cpu_millis > 0 and wanted.cpu_millis > allocatable.cpu_millis - cpu:
        return "OutOfcpu"
    if wanted.memory_bytes > 0 and wanted.memory_bytes > allocatable.memory_bytes - memory:
        return "OutOfmemory"
    eph = wanted.ephemeral_storage_bytes
    if eph > 0 and allocatable.ephemeral_storage_bytes and eph > allocatable.ephemeral_storage_bytes - ephemeral:
        return "OutOfephemeral-storage"
    if not spec.node_selector_matches(node.name, node.labels):
        return "NodeAffinity"
    if spec.node_name is not None and spec.node_name != node.name:
        return "NodeName"
    for taint in node.taints:
        if taint.effect == "NoExecute" and not any(t.tolerates(taint) for t in spec.tolerations):
            return "TaintToleration"
    return None
