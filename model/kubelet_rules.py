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
  which rejects a pod bound to a node it does not fit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from podquake.model.objects import Node, Pod

__all__ = ["admission_failure", "next_probe_time", "pod_phase", "should_restart"]

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
