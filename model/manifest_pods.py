"""A pod template from a manifest: containers, resources, probes, placement and volumes.

:func:`pod_template` reads the ``template`` of a workload (``spec.template``) or a bare Pod's
``metadata`` and ``spec`` into a frozen :class:`~podquake.model.objects.PodTemplate`, with the API
server's defaults and checks, each problem one :class:`~podquake.model.errors.InputError` naming the
file, the document, the field and the fix (through :class:`~podquake.model.fieldpath.Field`):

- defaults, kubernetes/kubernetes:pkg/apis/core/v1/defaults.go: a container request missing but its
  limit present defaults to the limit (``SetDefaults_Pod``); a probe's zero timings mean the defaults
  (``SetDefaults_Probe``: period 10 s, timeout 1 s, thresholds 1 and 3); restartPolicy Always;
  terminationGracePeriodSeconds 30;
- checks, pkg/apis/core/validation/validation.go: container names (DNS labels, unique), a request
  above its limit, one handler per probe and per lifecycle hook, ``successThreshold`` 1 except for
  readiness, probes and lifecycle hooks only on sidecar init containers, a preStop ``sleep`` within
  the grace period, tolerations (``ValidateTolerations``), topology spread constraints
  (``validateTopologySpreadConstraints``), inter-pod affinity terms (``validatePodAffinityTerm``:
  a non-empty topologyKey, namespaces that are DNS labels, matchLabelKeys/mismatchLabelKeys only with
  a labelSelector and never the same key in both; weights 1..100), one type per volume; a workload's template must use
  restartPolicy Always (pkg/apis/apps/validation/validation.go).

Modelled in part: a container's ``lifecycle.preStop`` hook becomes the seconds it runs
(:attr:`~podquake.model.objects.ContainerSpec.pre_stop_seconds`; a ``sleep`` action, or an exec of
``sleep N``), and any other hook counts as instant, with a note (:func:`_pre_stop_seconds`).

Not modelled, with a note on the document: pod-level resources, per-container
restartPolicy on app containers, postStart hooks and ``lifecycle.stopSignal``, a probe's own
terminationGracePeriodSeconds, and resources other than cpu, memory and ephemeral-storage (their
quantities are still checked). Used by :mod:`podquake.model.manifests`.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import Any

from podquake.model import constants as k8s
from podquake.model.fieldpath import INT64_MAX, Field
from podquake.model.objects import (
    PREEMPTION_POLICIES,
    ContainerSpec,
    PodAffinity,
    PodAffinityTerm,
    PodSpec,
    PodTemplate,
    Probe,
    TopologySpreadConstraint,
    VolumeSpec,
)
from podquake.model.quantity import QuantityError, Resources, parse_cpu, parse_memory, parse_quantity
from podquake.model.resources_api import KNOWN_FIELDS, parse_label_selector
from podquake.model.selectors import TAINT_EFFECTS, NodeAffinity, NodeSelectorTerm, Requirement, Toleration

__all__ = ["DNS_LABEL", "EXIT_CODE_ANNOTATION", "RUN_SECONDS_ANNOTATION", "pod_template"]

#: a DNS-1123 label (RFC 1123): container names, namespaces (at most 63 characters, checked apart)
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def pod_template(
    meta: Field, spec: Field, priorities: dict[str | None, tuple[int, str | None]], *, workload_kind: str | None
) -> PodTemplate:
    """The template of ``meta`` (labels, annotations) and ``spec``; ``workload_kind`` names the workload
    it belongs to (None: a bare Pod). ``priorities`` maps PriorityClass names (None: the global
    default) to their values."""
    meta.mapping(required=workload_kind not in (None, "Job"))  # a Job's pod labels are generated
    if workload_kind is not None:
        meta.check_keys(KNOWN_FIELDS["metadata"])
    labels = meta["labels"].string_map()
    annotations = meta["annotations"].string_map()
    pod_spec = _pod_spec(spec, priorities, workload_kind)
    pod_spec = _annotated_run(meta["annotations"], annotations, pod_spec)
    if workload_kind == "Job" and all(c.run_seconds is None for c in pod_spec.containers):
        spec["containers"].note(
            "no container's run time is known (from a command of sleep N, or the annotation "
            f"{RUN_SECONDS_ANNOTATION}): its pods run until stopped and the Job never completes"
        )
    return PodTemplate(tuple(labels.items()), pod_spec, tuple(annotations.items()))


#: A pod template annotation giving how long every regular container runs before it exits by itself
#: (seconds), for images whose command says nothing the model can read (``python train.py``).
RUN_SECONDS_ANNOTATION = "podquake.io/run-seconds"
#: With :data:`RUN_SECONDS_ANNOTATION`: the exit code of those runs (default 0).
EXIT_CODE_ANNOTATION = "podquake.io/exit-code"


def _annotated_run(f: Field, annotations: dict[str, str], spec: PodSpec) -> PodSpec:
    """``spec`` with every regular container's run time (and exit code) from the podquake annotations,
    which override what the commands said."""
    seconds_text = annotations.get(RUN_SECONDS_ANNOTATION)
    code_text = annotations.get(EXIT_CODE_ANNOTATION)
    if seconds_text is None:
        if code_text is not None:
            raise f[EXIT_CODE_ANNOTATION].error(
                f"{EXIT_CODE_ANNOTATION} needs {RUN_SECONDS_ANNOTATION} (when the containers exit)",
                fix=f"add {RUN_SECONDS_ANNOTATION}: '30', or remove {EXIT_CODE_ANNOTATION}",
            )
        return spec
    duration = _DURATION.match(seconds_text.strip())
    if duration is None:
        raise f[RUN_SECONDS_ANNOTATION].error(
            f"{seconds_text!r} is not a number of seconds", fix=f"write e.g. {RUN_SECONDS_ANNOTATION}: '30' (or '2m')"
        )
    seconds = float(duration[1]) * _UNITS[duration[2]]
    code = 0
    if code_text is not None:
        if not code_text.strip().isdigit() or int(code_text) > 255:
            raise f[EXIT_CODE_ANNOTATION].error(f"{code_text!r} is not an exit code", fix="write a whole number from 0 to 255, e.g. '1'")
        code = int(code_text)
    containers = tuple(replace(c, run_seconds=seconds, exit_code=code) for c in spec.containers)
    return replace(spec, containers=containers)


def _pod_spec(spec: Field, priorities: dict[str | None, tuple[int, str | None]], workload_kind: str | None) -> PodSpec:
    spec.mapping(required=True)
    spec.check_keys(KNOWN_FIELDS["pod"])
    grace = spec["terminationGracePeriodSeconds"].integer(int(k8s.TERMINATION_GRACE_PERIOD_SECONDS), minimum=0, maximum=INT64_MAX)
    names: dict[str, str] = {}
    containers = tuple(_container(c, names, grace, init=False) for c in spec["containers"].items(non_empty=True))
    init_containers = tuple(_container(c, names, grace, init=True) for c in spec["initContainers"].items())
    restart_policy = spec["restartPolicy"].string("Always", choices=("Always", "OnFailure", "Never"))
    if workload_kind == "Job":
        if restart_policy == "Always":  # pkg/apis/batch/validation/validation.go validateJobSpec
            raise spec["restartPolicy"].error(
                "a Job template must use restartPolicy OnFailure or Never"
                + (", not Always" if spec["restartPolicy"].present() else " (the pod default Always is refused for Jobs)"),
                fix="write restartPolicy: Never (a failed pod is replaced) or OnFailure (the container is restarted in place)",
            )
    elif workload_kind is not None and restart_policy != "Always":
        raise spec["restartPolicy"].error(
            f"a {workload_kind} template must use restartPolicy Always, not {restart_policy}", fix="remove restartPolicy"
        )
    affinity = spec["affinity"]
    affinity.check_keys(KNOWN_FIELDS["affinity"])
    if spec["resources"].present():
        spec["resources"].note("pod-level resources are not modelled; the containers' requests are used")
    priority, preemption_policy = _priority(spec, priorities)
    return PodSpec(
        containers=containers,
        init_containers=init_containers,
        restart_policy=restart_policy,
        node_selector=tuple(sorted(spec["nodeSelector"].string_map().items())),
        node_affinity=_node_affinity(affinity["nodeAffinity"]),
        tolerations=tuple(_toleration(t) for t in spec["tolerations"].items()),
        topology_spread_constraints=_spread_constraints(spec["topologySpreadConstraints"]),
        volumes=_volumes(spec["volumes"]),
        termination_grace_period_seconds=float(grace),
        priority=priority,
        preemption_policy=preemption_policy,
        scheduler_name=spec["schedulerName"].string("") or "default-scheduler",
        node_name=spec["nodeName"].string(None) or None,
        overhead=_resources(spec["overhead"]),
        pod_affinity=_pod_affinity(affinity["podAffinity"], affinity["podAntiAffinity"]),
    )


def _priority(spec: Field, priorities: dict[str | None, tuple[int, str | None]]) -> tuple[int, str]:
    """``(priority, preemptionPolicy)`` as the Priority admission plug-in resolves them
    (plugin/pkg/admission/priority/admission.go): ``spec.priority`` as written, else the value of
    ``priorityClassName`` (or of the globalDefault class); the pod's own ``preemptionPolicy``, else its
    class's, else ``PreemptLowerPriority``. A pod policy that differs from its class's is forbidden."""
    class_name = spec["priorityClassName"].string(None)
    if class_name is not None and class_name not in priorities:
        raise spec["priorityClassName"].error(
            f"no PriorityClass named {class_name!r} among these manifests", fix="add the PriorityClass or remove priorityClassName"
        )
    value, class_policy = priorities.get(class_name, (0, None))
    priority = spec["priority"].integer(None)
    field = spec["preemptionPolicy"]
    policy = field.string(None, choices=PREEMPTION_POLICIES)
    if policy is not None and class_policy is not None and policy != class_policy:
        raise field.error(
            f"preemptionPolicy {policy} differs from {class_policy}, the policy of PriorityClass {class_name or '(global default)'}",
            fix=f"remove preemptionPolicy (the class's {class_policy} applies) or use a PriorityClass with {policy}",
        )
    return (value if priority is None else priority), policy or class_policy or "PreemptLowerPriority"


def _container(f: Field, names: dict[str, str], grace: int, *, init: bool) -> ContainerSpec:
    f.check_keys(KNOWN_FIELDS["container"])
    name = f["name"].string(required=True)
    if not DNS_LABEL.match(name) or len(name) > 63:
        raise f["name"].error(f"{name!r} is not a valid container name", fix="use lowercase letters, digits and '-'")
    if name in names:
        raise f["name"].error(f"duplicate container name {name!r} (also {names[name]})", fix="give each container its own name")
    names[name] = f.path
    image = f["image"].string(required=True)
    restartable = False
    if init:
        restartable = f["restartPolicy"].string(None, choices=("Always",)) == "Always"
    elif f["restartPolicy"].present():
        f["restartPolicy"].note("per-container restartPolicy is not modelled; the pod's applies")
    lifecycle = f["lifecycle"]
    if lifecycle.present() and init and not restartable:
        raise lifecycle.error(
            "an init container may not have lifecycle hooks unless it is a sidecar", fix="add restartPolicy: Always or remove lifecycle"
        )
    lifecycle.check_keys(_LIFECYCLE_KEYS)
    pre_stop = _pre_stop_seconds(lifecycle["preStop"], grace)
    if lifecycle["postStart"].present():
        _hook_handler(lifecycle["postStart"])
        lifecycle["postStart"].note("postStart hooks are not modelled; the container counts as started at once")
    if lifecycle["stopSignal"].present():
        lifecycle["stopSignal"].note("stopSignal is not modelled; the container is stopped as with SIGTERM")
    probes = {key: _probe(f[key], key) for key in ("readinessProbe", "livenessProbe", "startupProbe")}
    if init and not restartable:
        for key, probe in probes.items():
            if probe is not None:
                raise f[key].error(
                    "an init container may not have probes unless it is a sidecar", fix="add restartPolicy: Always or remove the probe"
                )
    run_seconds, exit_code = (None, 0) if init else _run_time(f)
    requests, limits = _requirements(f["resources"])
    ports = []
    for port in f["ports"].items():
        port.check_keys(KNOWN_FIELDS["containerPort"])
        number = port["containerPort"].integer(required=True, minimum=1, maximum=65535)
        ports.append((port["name"].string(""), number))
    return ContainerSpec(
        name=name,
        image=image,
        requests=Resources.parse(requests),
        limits=Resources.parse(limits),
        cpu_requested="cpu" in requests,
        memory_requested="memory" in requests,
        readiness_probe=probes["readinessProbe"],
        liveness_probe=probes["livenessProbe"],
        startup_probe=probes["startupProbe"],
        restartable_init=restartable,
        ports=tuple(ports),
        pre_stop_seconds=pre_stop,
        run_seconds=run_seconds,
        exit_code=exit_code,
    )


_SHELL_RUN = re.compile(r"^(?:sleep\s+(\S+))?\s*(?:(?:^|;|&&)\s*exit\s+(\d+))?\s*;?$")


def _run_time(f: Field) -> tuple[float | None, int]:
    """How long a container's process runs before it exits by itself, and its exit code, from its
    ``command`` and ``args`` (the command line is ``command + args``; ``args`` alone replace the
    image's default command, and are read only when they start with ``sleep`` or a shell):

    - ``[sleep, N]`` (or ``/bin/sleep``, ``/usr/bin/sleep``): N seconds (a decimal with coreutils'
      optional unit ``s``, ``m``, ``h`` or ``d``, as for preStop hooks), exit 0;
    - a shell's ``-c`` whose whole script is ``sleep N``, ``sleep N; exit K``, ``sleep N && exit K``
      or ``exit K``: N seconds (0 for ``exit K`` alone), exit code K (0 if none);
    - anything else (a server, ``sleep infinity``, a script the model cannot read): None, the
      container runs until it is stopped (the ``podquake.io/run-seconds`` annotation can say more).
    """
    command = [part.string("") for part in f["command"].items()] if f["command"].value else []
    args = [part.string("") for part in f["args"].items()] if f["args"].value else []
    if not command:
        if not args or (args[0] not in _SLEEP_BINARIES and args[0] not in _SHELLS):
            return None, 0
        command, args = args, []
    line = command + args
    argument: str | None = None
    code = "0"
    if len(line) == 2 and line[0] in _SLEEP_BINARIES:
        argument = line[1]
    elif len(line) == 3 and line[0] in _SHELLS and line[1] == "-c":
        match = _SHELL_RUN.match(line[2].strip())
        if match is None or (match[1] is None and match[2] is None):
            return None, 0
        argument, code = match[1] or "0", match[2] or "0"
    if argument is None or "$" in argument:
        return None, 0
    duration = _DURATION.match(argument)
    if duration is None or int(code) > 255:  # sleep infinity, or a script the model cannot read
        return None, 0
    return float(duration[1]) * _UNITS[duration[2]], int(code)


# --- lifecycle hooks ------------------------------------------------------------------------------
_LIFECYCLE_KEYS = frozenset({"preStop", "postStart", "stopSignal"})
_HOOK_HANDLERS = ("exec", "httpGet", "sleep", "tcpSocket")
_SLEEP_BINARIES = frozenset({"sleep", "/bin/sleep", "/usr/bin/sleep"})
_SHELLS = frozenset({"sh", "/bin/sh", "/usr/bin/sh", "bash", "/bin/bash", "/usr/bin/bash", "ash", "/bin/ash", "dash", "/bin/dash"})
_SHELL_SLEEP = re.compile(r"^sleep\s+(\S+)\s*;?$")
_DURATION = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_UNKNOWN_DURATION = "the hook's duration is unknown and taken as instant: SIGTERM follows at once"


def _hook_handler(f: Field) -> str:
    """The one handler of a lifecycle hook (pkg/apis/core/validation/validation.go
    ``validateLifecycleHandler``: exactly one of exec, httpGet, sleep, tcpSocket)."""
    f.mapping()
    handlers = [h for h in _HOOK_HANDLERS if f[h].present()]
    if len(handlers) != 1:
        problem = "names no handler" if not handlers else f"names {len(handlers)} handlers ({', '.join(handlers)})"
        raise f.error(f"a lifecycle hook needs exactly one handler but {problem}", fix="use one of exec, httpGet, sleep")
    return handlers[0]


def _pre_stop_seconds(f: Field, grace: int) -> float | None:
    """How long the ``preStop`` hook at ``f`` runs, in seconds (None: no hook); ``grace`` is the pod's
    terminationGracePeriodSeconds. What the kubelet does with it:
    :func:`~podquake.model.kubelet_rules.kill_timing`.

    - ``sleep: {seconds: N}`` (KEP-3960, PodLifecycleSleepAction, GA v1.34): N exactly; the kubelet
      waits N seconds (pkg/kubelet/lifecycle/handlers.go ``runSleepHandler``). N must be a whole
      number from 0 to terminationGracePeriodSeconds (``validateSleepAction``,
      pkg/apis/core/validation/validation.go; 0 allowed since PodLifecycleSleepActionAllowZero, GA
      v1.34), else an InputError.
    - ``exec`` of ``sleep N``: ``[sleep, N]`` (or ``/bin/sleep``, ``/usr/bin/sleep``), or a shell's
      ``-c`` whose whole script is ``sleep N``: N seconds (a decimal, with coreutils' optional unit
      ``s``, ``m``, ``h`` or ``d``; ``infinity`` runs until the grace period cuts it). The hook is the exec's run time (handlers.go runs the command in
      the container and waits for it); a negative or unreadable N would make ``sleep`` fail at once,
      which is an InputError here rather than a silent instant hook. An N from a variable
      (``$(DELAY)``, ``$DELAY``) is unknown: 0 s with a note.
    - any other ``exec``, an ``httpGet`` (its duration is the server's answer time), or the deprecated
      ``tcpSocket`` (the kubelet fails it at once): 0 s, with a note for exec and httpGet.
    """
    if not f.present():
        return None
    handler = _hook_handler(f)
    if handler == "sleep":
        seconds = f["sleep"]["seconds"].integer(required=True, minimum=0, maximum=INT64_MAX)
        if seconds > grace:
            raise f["sleep"]["seconds"].error(
                f"{seconds} is more than terminationGracePeriodSeconds ({grace}): the API server refuses a sleep longer than the grace period",
                fix=f"sleep at most {grace} s or raise terminationGracePeriodSeconds",
            )
        return float(seconds)
    if handler == "tcpSocket":
        f["tcpSocket"].note("a tcpSocket hook is not supported by the kubelet and fails at once; taken as instant")
        return 0.0
    if handler == "httpGet":
        f.note(_UNKNOWN_DURATION)
        return 0.0
    command_field = f["exec"]["command"]
    if command_field.value is None or command_field.value == []:
        raise command_field.error("an exec hook needs a command", fix="write e.g. command: [sleep, '5']")
    command = [part.string("") for part in command_field.items()]
    argument = None
    if len(command) == 2 and command[0] in _SLEEP_BINARIES:
        argument = command[1]
    elif len(command) == 3 and command[0] in _SHELLS and command[1] == "-c":
        match = _SHELL_SLEEP.match(command[2].strip())
        if match is not None:
            argument = match[1]
    if argument is None or "$" in argument:
        f.note(_UNKNOWN_DURATION)
        return 0.0
    if argument.lower() in ("inf", "infinity"):  # sleeps until the grace period cuts the hook
        return math.inf
    duration = _DURATION.match(argument)
    if duration is None:
        raise command_field.error(
            f"sleep {argument!r} is not a number of seconds: the hook would fail at once", fix="write e.g. [sleep, '5']"
        )
    return float(duration[1]) * _UNITS[duration[2]]

_MODELLED_RESOURCES = {"cpu": parse_cpu, "memory": parse_memory, "ephemeral-storage": parse_memory}


def _resource_list(f: Field) -> tuple[dict[str, Any], dict[str, int]]:
    """The modelled entries of a ResourceList (raw and parsed), every quantity checked."""
    raw: dict[str, Any] = {}
    amounts: dict[str, int] = {}
    for key, child in f.entries():
        parse = _MODELLED_RESOURCES.get(key)
        try:
            if parse is None:
                parse_quantity(child.value)
                child.note(f"resource {key} is not modelled; ignored")
                continue
            amounts[key] = parse(child.value)
        except QuantityError as error:
            raise child.error(str(error), fix="write e.g. cpu: 250m, memory: 64Mi") from None
        raw[key] = child.value
    return raw, amounts


def _resources(f: Field) -> Resources:
    return Resources.parse(_resource_list(f)[0])


def _requirements(f: Field) -> tuple[dict[str, Any], dict[str, Any]]:
    """Container ``resources``: requests default to limits where missing (pkg/apis/core/v1/defaults.go
    SetDefaults_Pod); a request above its limit is invalid (pkg/apis/core/validation/validation.go)."""
    f.check_keys(KNOWN_FIELDS["resources"])
    requests, requested = _resource_list(f["requests"])
    limits, limited = _resource_list(f["limits"])
    for key, value in limits.items():
        if key not in requests:
            requests[key] = value
        elif requested[key] > limited[key]:
            raise f["requests"][key].error(
                f"the {key} request {requests[key]} is more than its limit {value}", fix="lower the request or raise the limit"
            )
    return requests, limits


_PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")


def _probe(f: Field, kind: str) -> Probe | None:
    """A probe with upstream defaults (zero means unset; pkg/apis/core/v1/defaults.go SetDefaults_Probe)."""
    if not f.present():
        return None
    f.check_keys(KNOWN_FIELDS["probe"])
    handlers = [h for h in _PROBE_HANDLERS if f[h].present()]
    if len(handlers) != 1:
        problem = "names no handler" if not handlers else f"names {len(handlers)} handlers ({', '.join(handlers)})"
        raise f.error(f"a probe needs exactly one handler but {problem}", fix=f"use one of {', '.join(_PROBE_HANDLERS)}")
    if f["terminationGracePeriodSeconds"].present():
        f["terminationGracePeriodSeconds"].note("a probe's own grace period is not modelled; the pod's applies when it kills the container")
    success = f["successThreshold"].integer(0, minimum=0) or k8s.PROBE_SUCCESS_THRESHOLD
    if kind != "readinessProbe" and success != 1:
        raise f["successThreshold"].error(f"must be 1 for a {kind}, not {success}", fix="remove successThreshold")
    return Probe(
        handler=handlers[0],
        initial_delay_seconds=float(f["initialDelaySeconds"].integer(0, minimum=0)),
        period_seconds=float(f["periodSeconds"].integer(0, minimum=0) or k8s.PROBE_PERIOD_SECONDS),
        timeout_seconds=float(f["timeoutSeconds"].integer(0, minimum=0) or k8s.PROBE_TIMEOUT_SECONDS),
        success_threshold=success,
        failure_threshold=f["failureThreshold"].integer(0, minimum=0) or k8s.PROBE_FAILURE_THRESHOLD,
    )


# --- placement: node affinity, tolerations, spreading -------------------------------------------
def _requirement(f: Field, *, field_selector: bool = False) -> Requirement:
    key = f["key"].string(required=True)
    operator = f["operator"].string(required=True)
    values = tuple(v.string(required=True) for v in f["values"].items())
    if field_selector:
        if key != "metadata.name":
            raise f["key"].error(f"matchFields supports only metadata.name, not {key!r}", fix="use key: metadata.name")
        if operator not in ("In", "NotIn") or len(values) != 1:
            raise f.error("matchFields needs operator In or NotIn with exactly one node name", fix="values: [<node-name>]")
    try:
        return Requirement(key, operator, values)
    except ValueError as error:
        raise f.error(str(error), fix="operators are In, NotIn, Exists, DoesNotExist, Gt and Lt") from None


def _term(f: Field) -> NodeSelectorTerm:
    f.mapping()
    return NodeSelectorTerm(
        tuple(_requirement(r) for r in f["matchExpressions"].items()),
        tuple(_requirement(r, field_selector=True) for r in f["matchFields"].items()),
    )


def _node_affinity(f: Field) -> NodeAffinity | None:
    if not f.present():
        return None
    f.check_keys(KNOWN_FIELDS["nodeAffinity"])
    required_field = f["requiredDuringSchedulingIgnoredDuringExecution"]
    required = None
    if required_field.present():
        required = tuple(_term(t) for t in required_field["nodeSelectorTerms"].items(non_empty=True))
    preferred = tuple(
        (p["weight"].integer(required=True, minimum=1, maximum=100), _term(p["preference"]))
        for p in f["preferredDuringSchedulingIgnoredDuringExecution"].items()
    )
    if required is None and not preferred:
        return None
    return NodeAffinity(required, preferred)


def _pod_affinity(affinity: Field, anti: Field) -> PodAffinity | None:
    """``affinity.podAffinity`` and ``affinity.podAntiAffinity`` (None when neither has a term)."""
    parts = []
    for f in (affinity, anti):
        f.check_keys(KNOWN_FIELDS["podAffinity"])
        required = tuple(_pod_affinity_term(t) for t in f["requiredDuringSchedulingIgnoredDuringExecution"].items())
        preferred = []
        for item in f["preferredDuringSchedulingIgnoredDuringExecution"].items():
            item.check_keys(KNOWN_FIELDS["weightedPodAffinityTerm"])
            weight = item["weight"].integer(required=True, minimum=1, maximum=100)
            if not item["podAffinityTerm"].present():
                raise item.error("a preferred term needs a podAffinityTerm", fix="add podAffinityTerm: {labelSelector: ..., topologyKey: ...}")
            preferred.append((weight, _pod_affinity_term(item["podAffinityTerm"])))
        parts.append((required, tuple(preferred)))
    (required, preferred), (required_anti, preferred_anti) = parts
    if not (required or preferred or required_anti or preferred_anti):
        return None
    return PodAffinity(required, preferred, required_anti, preferred_anti)


def _pod_affinity_term(f: Field) -> PodAffinityTerm:
    """One PodAffinityTerm, as pkg/apis/core/validation/validation.go ``validatePodAffinityTerm`` checks it."""
    f.mapping()
    f.check_keys(KNOWN_FIELDS["podAffinityTerm"])
    topology_key = f["topologyKey"].string("")
    if not topology_key:
        raise f["topologyKey"].error(
            "a pod affinity term needs a topologyKey (it can not be empty)", fix="add e.g. topologyKey: kubernetes.io/hostname"
        )
    namespaces = tuple(n.string(required=True) for n in f["namespaces"].items())
    for item, name in zip(f["namespaces"].items(), namespaces):
        if not DNS_LABEL.match(name) or len(name) > 63:
            raise item.error(f"{name!r} is not a valid namespace name", fix="use lowercase letters, digits and '-'")
    selector = parse_label_selector(f["labelSelector"])
    match_keys = tuple(k.string(required=True) for k in f["matchLabelKeys"].items())
    mismatch_keys = tuple(k.string(required=True) for k in f["mismatchLabelKeys"].items())
    if (match_keys or mismatch_keys) and selector is None:
        which = "matchLabelKeys" if match_keys else "mismatchLabelKeys"
        raise f[which].error(f"{which} must not be set when labelSelector is not set", fix="add a labelSelector or remove " + which)
    both = sorted(set(match_keys) & set(mismatch_keys))
    if both:
        raise f["mismatchLabelKeys"].error(
            f"{both[0]!r} is in both matchLabelKeys and mismatchLabelKeys", fix="keep the key in one of them"
        )
    return PodAffinityTerm(
        topology_key=topology_key,
        label_selector=selector,
        namespaces=namespaces,
        namespace_selector=parse_label_selector(f["namespaceSelector"]),
        match_label_keys=match_keys,
        mismatch_label_keys=mismatch_keys,
    )


def _toleration(f: Field) -> Toleration:
    """pkg/apis/core/validation/validation.go ValidateTolerations."""
    f.check_keys(KNOWN_FIELDS["toleration"])
    key = f["key"].string("")
    operator = f["operator"].string("Equal", choices=("Equal", "Exists"))
    value = f["value"].string("")
    effect = f["effect"].string("") or None
    if effect is not None and effect not in TAINT_EFFECTS:
        raise f["effect"].error(f"unsupported effect {effect!r}", fix=f"use one of {', '.join(TAINT_EFFECTS)}")
    if not key and operator != "Exists":
        raise f["operator"].error("a toleration without a key must use operator Exists", fix="add a key or use operator: Exists")
    if operator == "Exists" and value:
        raise f["value"].error("a toleration with operator Exists takes no value", fix="remove value or use operator: Equal")
    seconds = f["tolerationSeconds"].integer(None, maximum=INT64_MAX)
    if seconds is not None and effect != "NoExecute":
        raise f["tolerationSeconds"].error("tolerationSeconds needs effect NoExecute", fix="set effect: NoExecute")
    return Toleration(key or None, operator, value, effect, None if seconds is None else float(max(seconds, 0)))


def _spread_constraints(f: Field) -> tuple[TopologySpreadConstraint, ...]:
    """pkg/apis/core/validation/validation.go validateTopologySpreadConstraints, with its defaults."""
    constraints = []
    seen: dict[tuple[str, str], str] = {}
    for item in f.items():
        item.check_keys(KNOWN_FIELDS["spread"])
        max_skew = item["maxSkew"].integer(required=True)
        if max_skew <= 0:
            raise item["maxSkew"].error(f"maxSkew must be greater than zero, not {max_skew}", fix="use maxSkew: 1 or more")
        key = item["topologyKey"].string(required=True)
        when = item["whenUnsatisfiable"].string(required=True, choices=("DoNotSchedule", "ScheduleAnyway"))
        if (key, when) in seen:
            raise item.error(f"duplicate constraint for {key} / {when} (also {seen[(key, when)]})", fix="merge the two")
        seen[(key, when)] = item.path
        min_domains = item["minDomains"].integer(None, minimum=1)
        if min_domains is not None and when != "DoNotSchedule":
            raise item["minDomains"].error("minDomains needs whenUnsatisfiable DoNotSchedule", fix="remove minDomains")
        constraints.append(
            TopologySpreadConstraint(
                max_skew=max_skew,
                topology_key=key,
                when_unsatisfiable=when,
                label_selector=parse_label_selector(item["labelSelector"]),
                min_domains=min_domains,
                node_affinity_policy=item["nodeAffinityPolicy"].string("Honor", choices=("Honor", "Ignore")),
                node_taints_policy=item["nodeTaintsPolicy"].string("Ignore", choices=("Honor", "Ignore")),
                match_label_keys=tuple(k.string(required=True) for k in item["matchLabelKeys"].items()),
            )
        )
    return tuple(constraints)


def _volumes(f: Field) -> tuple[VolumeSpec, ...]:
    volumes = []
    names: dict[str, None] = {}
    for item in f.items():
        mapping = item.mapping()
        name = item["name"].string(required=True)
        if name in names:
            raise item["name"].error(f"duplicate volume name {name!r}", fix="give each volume its own name")
        names[name] = None
        sources = [key for key, value in mapping.items() if key != "name" and value is not None]
        if len(sources) != 1:
            problem = "names no volume type" if not sources else f"names {len(sources)} volume types ({', '.join(sources)})"
            raise item.error(f"a volume needs exactly one type but {problem}", fix="e.g. emptyDir: {} or persistentVolumeClaim: {claimName: data}")
        kind = sources[0]
        claim = item[kind]["claimName"].string(required=True) if kind == "persistentVolumeClaim" else None
        medium = _medium(item[kind]["medium"]) if kind == "emptyDir" else ""
        volumes.append(VolumeSpec(name, kind, claim, medium))
    return tuple(volumes)


def _medium(f: Field) -> str:
    """``emptyDir.medium``: the media upstream's kubelet knows (pkg/volume/emptydir/empty_dir.go ``SetUpAt``:
    ``""``, ``Memory``, ``HugePages``, ``HugePages-<size>``). The API server takes any string and the
    kubelet fails the mount of another ("unknown storage medium"), leaving the pod ContainerCreating:
    refused here instead."""
    medium: str = f.string("")
    if medium in _MEDIA or (medium.startswith("HugePages-") and len(medium) > len("HugePages-")):
        return medium
    raise f.error(f"unknown emptyDir medium {medium!r}", fix="use Memory (tmpfs), HugePages or HugePages-<size> (e.g. HugePages-2Mi), or leave it out for the node's disk")


_MEDIA = ("", "Memory", "HugePages")
