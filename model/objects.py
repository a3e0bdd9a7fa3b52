"""The objects of the cluster: nodes, pods and their containers, and the workloads that own pods.

Specs (what the user declared) are frozen values and shared: the 1,000 pods of one ReplicaSet hold
one :class:`PodSpec`. Status (what is happening now) lives on mutable :class:`Pod`, :class:`Node` and
:class:`ContainerStatus` objects that only :class:`~podquake.model.store.ClusterState` writes.

Simplifications of Kubernetes, on purpose:
- no API versions, resourceVersions or managedFields; a uid is a seeded random hex string;
- a pod's requests are computed once from its spec (upstream ``resource.PodRequests``): the sum of
  the regular containers and sidecars, or the largest init container (with the sidecars declared
  before it) if that is larger, plus pod overhead;
- extended resources (GPUs) and hugepages are ignored; ephemeral storage is kept and fitted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from podquake.model import constants as k8s
from podquake.model.quantity import Resources
from podquake.model.selectors import LabelSelector, NodeAffinity, Requirement, Taint, Toleration

__all__ = [
    "ContainerSpec",
    "ContainerStatus",
    "DaemonSet",
    "Deployment",
    "Job",
    "JobStatus",
    "Node",
    "OwnerRef",
    "PersistentVolume",
    "Pod",
    "PodAffinity",
    "PodAffinityTerm",
    "PodSpec",
    "PodFailurePolicyRule",
    "PodTemplate",
    "Probe",
    "ReplicaSet",
    "RollingUpdate",
    "StatefulSet",
    "TopologySpreadConstraint",
    "VolumeSpec",
    "Workload",
]

RestartPolicy = Literal["Always", "OnFailure", "Never"]
PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
#: kubernetes/kubernetes:pkg/apis/core/types.go (PreemptLowerPriority, PreemptNever)
PREEMPTION_POLICIES = ("PreemptLowerPriority", "Never")


@dataclass(frozen=True, slots=True)
class Probe:
    """A readiness, liveness or startup probe with upstream defaults (pkg/apis/core/v1/defaults.go)."""

    handler: str = "httpGet"
    initial_delay_seconds: float = 0.0
    period_seconds: float = k8s.PROBE_PERIOD_SECONDS
    timeout_seconds: float = k8s.PROBE_TIMEOUT_SECONDS
    success_threshold: int = k8s.PROBE_SUCCESS_THRESHOLD
    failure_threshold: int = k8s.PROBE_FAILURE_THRESHOLD


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    """One container of a pod spec. ``cpu_requested``/``memory_requested`` say whether the manifest
    named that request at all (a missing request, unlike an explicit ``0``, gets the scheduler's
    non-zero default when scoring)."""

    name: str
    image: str = ""
    requests: Resources = Resources()
    limits: Resources = Resources()
    cpu_requested: bool = False
    memory_requested: bool = False
    readiness_probe: Probe | None = None
    liveness_probe: Probe | None = None
    startup_probe: Probe | None = None
    restartable_init: bool = False  # an init container with restartPolicy: Always (a sidecar)
    ports: tuple[tuple[str, int], ...] = ()
    """``ports[]`` as ``(name, containerPort)``, name ``""`` when unnamed: which container a Service's
    ``targetPort`` reaches (:meth:`~podquake.model.proxy.Proxy.serving_container`)."""
    pre_stop_seconds: float | None = None
    """How long the container's ``lifecycle.preStop`` hook runs, in seconds (None: no hook). While it
    runs the container keeps running and answering; SIGTERM follows it, within the grace period
    (:func:`~podquake.model.kubelet_rules.kill_timing`). Read from a ``sleep`` action or an exec of
    ``sleep N`` (:mod:`podquake.model.manifest_pods`); any other hook counts as 0 (instant); ``inf``
    for a hook that runs until the grace period cuts it."""
    run_seconds: float | None = field(default=None, repr=False)
    """How long the container's process runs before it exits by itself, in seconds (None: until it is
    stopped, as a server does). Read from a command of ``sleep N`` (or a shell's ``sleep N; exit K``)
    or the pod template's ``podquake.io/run-seconds`` annotation (:mod:`podquake.model.manifest_pods`).
    The kubelet ends each run of the container ``run_seconds`` after it starts, with :attr:`exit_code`;
    the restart policy then applies as to any exit (a Job's pod with restartPolicy Never goes Succeeded
    on exit 0, Failed otherwise)."""
    exit_code: int = field(default=0, repr=False)
    """The exit code of a run that ends by itself (:attr:`run_seconds`): 0 completes it. Both fields
    are left out of the repr, which the pod-template hash is computed from, so that templates without
    a run time keep the hashes (and pod names) they had; ``Simulation.template_hash`` adds them."""

    def __post_init__(self) -> None:
        hook = self.pre_stop_seconds
        if hook is not None and not (isinstance(hook, (int, float)) and not isinstance(hook, bool) and hook >= 0):
            raise ValueError(f"pre_stop_seconds must be None or a number of seconds >= 0 (inf: until the grace period ends), not {hook!r}")
        run = self.run_seconds
        if run is not None and not (isinstance(run, (int, float)) and not isinstance(run, bool) and 0 <= run < float("inf")):
            raise ValueError(f"run_seconds must be None (runs until stopped) or a finite number of seconds >= 0, not {run!r}")
        code = self.exit_code
        if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code <= 255:
            raise ValueError(f"exit_code must be a whole number from 0 to 255, not {code!r}")


@dataclass(frozen=True, slots=True)
class VolumeSpec:
    """A pod volume: ``emptyDir``, ``persistentVolumeClaim`` (with ``claim_name``), or another kind kept by name.

    ``medium`` is an emptyDir's ``emptyDir.medium``: ``""`` (the node's disk), ``"Memory"`` (tmpfs) or
    ``"HugePages"``/``"HugePages-<size>"``. The cluster autoscaler's drain rule does not count a
    Memory emptyDir as local storage (see :mod:`podquake.model.controllers.cluster_autoscaler_scale_down`)."""

    name: str
    kind: str = "emptyDir"
    claim_name: str | None = None
    medium: str = ""


@dataclass(frozen=True, slots=True)
class TopologySpreadConstraint:
    """``spec.topologySpreadConstraints[]`` with upstream defaults."""

    max_skew: int
    topology_key: str
    when_unsatisfiable: str = "DoNotSchedule"
    label_selector: LabelSelector | None = None
    min_domains: int | None = None
    node_affinity_policy: str = "Honor"
    node_taints_policy: str = "Ignore"
    match_label_keys: tuple[str, ...] = ()


#: the label every namespace carries with its own name (kubernetes/kubernetes:pkg/apis/core/v1/defaults.go,
#: ``SetDefaults_Namespace``; NamespaceDefaultLabelName, GA v1.22): the only namespace label the model knows
LABEL_NAMESPACE_NAME = "kubernetes.io/metadata.name"


@dataclass(frozen=True, slots=True)
class PodAffinityTerm:
    """One ``podAffinityTerm`` of ``affinity.podAffinity`` / ``podAntiAffinity`` (the scheduler's
    ``framework.AffinityTerm``, kubernetes/kubernetes:pkg/scheduler/framework/types.go ``newAffinityTerm``).

    - ``label_selector``: None matches no pod (``LabelSelectorAsSelector(nil)`` is ``labels.Nothing``),
      the empty selector every pod.
    - ``namespaces`` and ``namespace_selector``: with neither, the namespace of the pod that carries
      the term (``getNamespacesFromPodAffinityTerm``); else a pod matches when its namespace is listed
      or the selector matches its namespace's labels. The model's namespaces carry one label,
      ``kubernetes.io/metadata.name: <name>``, as every upstream namespace does; an empty
      ``namespaceSelector: {}`` matches every namespace.
    - ``match_label_keys`` / ``mismatch_label_keys`` (MatchLabelKeysInPodAffinity, GA in v1.33): the
      API server merges ``key In (value)`` / ``key NotIn (value)`` into the label selector, with the
      values of the carrying pod's own labels (keys it lacks are skipped;
      kubernetes/kubernetes:pkg/registry/core/pod/strategy.go ``applyMatchLabelKeysAndMismatchLabelKeys``).
      The model merges them when matching (:meth:`selector_for`), with the same result.
    """

    topology_key: str
    label_selector: LabelSelector | None = None
    namespaces: tuple[str, ...] = ()
    namespace_selector: LabelSelector | None = None
    match_label_keys: tuple[str, ...] = ()
    mismatch_label_keys: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.topology_key:
            raise ValueError("a pod affinity term needs a non-empty topologyKey")

    def selector_for(self, owner_labels: Mapping[str, str]) -> LabelSelector | None:
        """The label selector with the label keys merged in, for a term carried by a pod with ``owner_labels``."""
        selector = self.label_selector
        if selector is None or not (self.match_label_keys or self.mismatch_label_keys):
            return selector
        extra = tuple(Requirement(k, "In", (owner_labels[k],)) for k in self.match_label_keys if k in owner_labels)
        extra += tuple(Requirement(k, "NotIn", (owner_labels[k],)) for k in self.mismatch_label_keys if k in owner_labels)
        return LabelSelector(selector.match_labels, selector.match_expressions + extra) if extra else selector

    def namespace_matches(self, owner_namespace: str, namespace: str) -> bool:
        """Whether a pod in ``namespace`` is in the term's namespaces (``AffinityTerm.Matches``)."""
        if namespace in self.namespaces:
            return True
        if self.namespace_selector is not None:
            return self.namespace_selector.matches({LABEL_NAMESPACE_NAME: namespace})
        return not self.namespaces and namespace == owner_namespace

    def matches(self, owner_namespace: str, owner_labels: Mapping[str, str], namespace: str, labels: Mapping[str, str]) -> bool:
        """Whether a pod (``namespace``, ``labels``) matches this term of a pod in ``owner_namespace``
        with ``owner_labels``: in the term's namespaces and matched by its selector."""
        if not self.namespace_matches(owner_namespace, namespace):
            return False
        selector = self.selector_for(owner_labels)
        return selector is not None and selector.matches(labels)


@dataclass(frozen=True, slots=True)
class PodAffinity:
    """``affinity.podAffinity`` and ``affinity.podAntiAffinity`` together: required terms (ANDed) and
    weighted preferred terms (weight 1..100) of each. A spec without any term has ``pod_affinity`` None,
    so the scheduler's fast path can tell at a glance (see :mod:`podquake.model.scheduling.interpod`)."""

    required_affinity: tuple[PodAffinityTerm, ...] = ()
    preferred_affinity: tuple[tuple[int, PodAffinityTerm], ...] = ()
    required_anti_affinity: tuple[PodAffinityTerm, ...] = ()
    preferred_anti_affinity: tuple[tuple[int, PodAffinityTerm], ...] = ()

    def has_preferred(self) -> bool:
        return bool(self.preferred_affinity or self.preferred_anti_affinity)


def _requests(container: ContainerSpec) -> Resources:
    return container.requests


def _nonzero_requests(container: ContainerSpec) -> Resources:
    """The container's requests with the scheduler's scoring default for a missing cpu or memory request
    (kubernetes/kubernetes:pkg/scheduler/framework/types.go ``calculateResource``, NonMissingContainerRequests)."""
    requests = container.requests
    if container.cpu_requested and container.memory_requested:
        return requests
    return Resources(
        requests.cpu_millis if container.cpu_requested else k8s.DEFAULT_MILLI_CPU_REQUEST,
        requests.memory_bytes if container.memory_requested else k8s.DEFAULT_MEMORY_REQUEST,
        requests.pods,
        requests.ephemeral_storage_bytes,
    )


def _aggregate_requests(spec: PodSpec, request: Callable[[ContainerSpec], Resources]) -> Resources:
    """max(regular containers + sidecars, each init container's use), without overhead, where init
    container i uses its own request plus the sidecars declared before it
    (kubernetes/kubernetes:staging/src/k8s.io/component-helpers/resource/helpers.go ``AggregateContainerRequests``)."""
    total = Resources()
    for container in spec.containers:
        total = total + request(container)
    sidecars = init_use = Resources()
    for init in spec.init_containers:
        if init.restartable_init:
            sidecars = sidecars + request(init)
            total = total + request(init)
        else:
            init_use = init_use.max(sidecars + request(init))
    return total.max(init_use)


@dataclass(frozen=True, slots=True)
class PodSpec:
    """What a pod asks for. Frozen and shared by every pod made from the same template.

    Derived, computed once: ``requests`` (with ``pods=1``), and ``nonzero_cpu``/``nonzero_memory``,
    the requests the scheduler's scoring sees: the same aggregate with 100m / 200Mi for every
    container, sidecar or init container that names none, plus overhead
    (kubernetes/kubernetes:pkg/scheduler/util/pod_resources.go, pkg/scheduler/framework/types.go).
    """

    containers: tuple[ContainerSpec, ...]
    init_containers: tuple[ContainerSpec, ...] = ()
    restart_policy: RestartPolicy = "Always"
    node_selector: tuple[tuple[str, str], ...] = ()
    node_affinity: NodeAffinity | None = None
    tolerations: tuple[Toleration, ...] = ()
    topology_spread_constraints: tuple[TopologySpreadConstraint, ...] = ()
    volumes: tuple[VolumeSpec, ...] = ()
    termination_grace_period_seconds: float = k8s.TERMINATION_GRACE_PERIOD_SECONDS
    priority: int = 0
    preemption_policy: str = "PreemptLowerPriority"
    """``PreemptLowerPriority`` (the default) or ``Never``: whether the scheduler may preempt
    lower-priority pods to place this one (kubernetes/kubernetes:pkg/apis/core/types.go ``PreemptionPolicy``)."""
    scheduler_name: str = "default-scheduler"
    node_name: str | None = None
    overhead: Resources = Resources()
    pod_affinity: PodAffinity | None = None
    """Inter-pod affinity and anti-affinity (None: no term at all)."""
    requests: Resources = field(init=False, compare=False, repr=False)
    nonzero_cpu: int = field(init=False, compare=False, repr=False)
    nonzero_memory: int = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.restart_policy not in ("Always", "OnFailure", "Never"):
            raise ValueError(f"restartPolicy {self.restart_policy!r} is not one of Always, OnFailure, Never")
        if self.preemption_policy not in PREEMPTION_POLICIES:
            raise ValueError(f"preemptionPolicy {self.preemption_policy!r} is not one of {', '.join(PREEMPTION_POLICIES)}")
        total = _aggregate_requests(self, _requests) + Resources(pods=1) + self.overhead
        nonzero = _aggregate_requests(self, _nonzero_requests) + self.overhead
        object.__setattr__(self, "requests", total)
        object.__setattr__(self, "nonzero_cpu", nonzero.cpu_millis)
        object.__setattr__(self, "nonzero_memory", nonzero.memory_bytes)

    def node_selector_matches(self, node_name: str, labels: dict[str, str]) -> bool:
        """``nodeSelector`` AND required node affinity, as the NodeAffinity filter plugin checks."""
        for key, value in self.node_selector:
            if labels.get(key) != value:
                return False
        return self.node_affinity is None or self.node_affinity.required_matches(node_name, labels)


@dataclass(frozen=True, slots=True)
class PodTemplate:
    """``spec.template`` of a workload: labels, annotations and the pod spec."""

    labels: tuple[tuple[str, str], ...]
    spec: PodSpec
    annotations: tuple[tuple[str, str], ...] = ()

    def label_dict(self) -> dict[str, str]:
        return dict(self.labels)


@dataclass(frozen=True, slots=True)
class OwnerRef:
    """The controller that owns an object (``metadata.ownerReferences`` with ``controller: true``)."""

    kind: str
    name: str
    uid: str


@dataclass(slots=True)
class ContainerStatus:
    """Where one container of a pod is: ``waiting``, ``running`` or ``terminated``, with reason and exit code."""

    name: str
    state: str = "waiting"
    reason: str = "ContainerCreating"
    exit_code: int | None = None
    restart_count: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    ready: bool = False
    last_exit_code: int | None = None
    last_reason: str | None = None


@dataclass(slots=True, eq=False)
class Pod:
    """A pod: its spec and its live status. Only the store changes it; everyone else reads."""

    uid: str
    name: str
    namespace: str
    labels: dict[str, str]
    spec: PodSpec
    created_at: float
    owner: OwnerRef | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    node_name: str | None = None
    phase: str = "Pending"
    ready: bool = False
    ready_since: float | None = None
    bound_at: float | None = None
    deletion_timestamp: float | None = None
    """When deletion was requested (``None``: not being deleted). Unlike upstream's
    ``metadata.deletionTimestamp``, which is the request time + the grace period."""
    reason: str | None = None
    nominated_node_name: str | None = None
    """``status.nominatedNodeName``: the node the scheduler's preemption freed for this pending pod
    (None: none). Only the store writes it (``set_nominated_node``); binding clears it."""
    containers: list[ContainerStatus] = field(default_factory=list)
    key: str = field(init=False, repr=False)
    """``namespace/name``: how the trace and the user name a pod (set once: a pod is never renamed)."""

    def __post_init__(self) -> None:
        self.key = f"{self.namespace}/{self.name}"

    @property
    def requests(self) -> Resources:
        return self.spec.requests

    @property
    def active(self) -> bool:
        """Counted by its controller: not Succeeded or Failed and not being deleted (upstream ``IsPodActive``)."""
        return self.phase not in ("Succeeded", "Failed") and self.deletion_timestamp is None

    @property
    def restart_count(self) -> int:
        return max((c.restart_count for c in self.containers), default=0)


@dataclass(slots=True, eq=False)
class Node:
    """A worker node: declared capacity and labels, live conditions, and its pods' summed requests.

    ``up`` is whether the machine is running at all; ``ready`` is the control plane's view of it
    (``"True"``, ``"False"`` or ``"Unknown"``), which lags behind ``up`` by the heartbeat grace period.
    The ``requested_*`` and ``nonzero_*`` fields are maintained by the store as pods bind and leave.
    """

    name: str
    index: int
    labels: dict[str, str]
    capacity: Resources
    allocatable: Resources
    taints: tuple[Taint, ...] = ()
    unschedulable: bool = False
    ready: str = "True"
    up: bool = True
    created_at: float = 0.0
    renewed_at: float = 0.0  # the lease's latest renewal outside the renewing stretch (see model/lease.py)
    status_posted: bool = False  # its kubelet has posted the Ready condition: no more startup grace period
    lease_slot: int = -1  # the renewing kubelet's phase slot; -1 while nobody renews the lease
    lease_from_tick: int = 0  # the stretch renews on its slot's ticks after this one
    requested_cpu: int = 0
    requested_memory: int = 0
    requested_ephemeral: int = 0
    nonzero_cpu: int = 0
    nonzero_memory: int = 0
    pods: dict[str, Pod] = field(default_factory=dict)

    @property
    def zone(self) -> str:
        return self.labels.get(k8s.LABEL_ZONE, "")

    @property
    def requested(self) -> Resources:
        return Resources(self.requested_cpu, self.requested_memory, len(self.pods), self.requested_ephemeral)


@dataclass(frozen=True, slots=True)
class RollingUpdate:
    """Deployment ``strategy``: ``RollingUpdate`` with maxSurge/maxUnavailable (int or ``"25%"``), or ``Recreate``."""

    type: str = "RollingUpdate"
    max_surge: int | str = k8s.DEFAULT_MAX_SURGE
    max_unavailable: int | str = k8s.DEFAULT_MAX_UNAVAILABLE


@dataclass(slots=True, eq=False)
class Workload:
    """Common shape of the pod-owning controllers' objects."""

    uid: str
    name: str
    namespace: str
    selector: LabelSelector
    template: PodTemplate
    replicas: int = 1
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    created_at: float = 0.0
    deletion_timestamp: float | None = None
    owner: OwnerRef | None = None
    kind: str = field(default="Workload", init=False)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def ref(self) -> OwnerRef:
        return OwnerRef(self.kind, self.name, self.uid)


@dataclass(slots=True, eq=False)
class Deployment(Workload):
    strategy: RollingUpdate = RollingUpdate()
    min_ready_seconds: float = 0.0
    revision: int = 1
    progress_deadline_seconds: float = k8s.DEFAULT_PROGRESS_DEADLINE_SECONDS
    revision_history_limit: int = k8s.DEFAULT_REVISION_HISTORY_LIMIT
    kind: str = field(default="Deployment", init=False)


@dataclass(slots=True, eq=False)
class ReplicaSet(Workload):
    revision: int = 1
    min_ready_seconds: float = 0.0
    kind: str = field(default="ReplicaSet", init=False)


@dataclass(slots=True, eq=False)
class StatefulSet(Workload):
    """``update_strategy`` is ``"RollingUpdate"`` (replace ordinals >= ``partition``) or ``"OnDelete"``;
    ``min_ready_seconds``: how long a pod must be Ready to count as available."""

    service_name: str = ""
    pod_management_policy: str = "OrderedReady"
    volume_claim_templates: tuple[str, ...] = ()
    update_strategy: str = "RollingUpdate"
    partition: int = 0
    min_ready_seconds: float = 0.0
    kind: str = field(default="StatefulSet", init=False)


@dataclass(slots=True, eq=False)
class DaemonSet(Workload):
    kind: str = field(default="DaemonSet", init=False)


@dataclass(frozen=True, slots=True)
class PodFailurePolicyRule:
    """One rule of a Job's ``spec.podFailurePolicy.rules`` (kubernetes/kubernetes:pkg/apis/batch/types.go).

    ``action``: ``FailJob``, ``Ignore`` or ``Count`` (``FailIndex`` is read as ``Count``: the model
    has no per-index back-off limit). Either ``on_exit_codes`` is set, ``(operator, values)`` with
    operator ``In`` or ``NotIn``, matched against the non-zero exit code of a terminated container
    (``container_name`` None: any), or ``on_pod_conditions`` holds ``(type, status)`` patterns, such as
    ``("DisruptionTarget", "True")``."""

    action: str
    container_name: str | None = None
    on_exit_codes: tuple[str, tuple[int, ...]] | None = None
    on_pod_conditions: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class JobStatus:
    """What the Job controller has recorded of a Job (``status``); only the store writes it.

    ``succeeded`` and ``failed`` count the pods the controller has accounted (``failed`` only those a
    pod failure policy does not ignore); ``completed_indexes`` the indexes of an Indexed Job that
    succeeded; ``condition`` is ``Complete`` or ``Failed`` once the Job finished (with ``reason``,
    ``message`` and ``finished_at``), None while it runs; ``target`` the interim
    ``SuccessCriteriaMet`` or ``FailureTarget`` condition set while its last pods terminate."""

    start_time: float | None = None
    succeeded: int = 0
    failed: int = 0
    completed_indexes: set[int] = field(default_factory=set)
    target: str | None = None
    condition: str | None = None
    reason: str = ""
    message: str = ""
    finished_at: float | None = None

    @property
    def finished(self) -> bool:
        return self.condition is not None


@dataclass(slots=True, eq=False)
class Job(Workload):
    """A ``batch/v1`` Job, with the API server's defaults (kubernetes/kubernetes:pkg/apis/batch/v1/defaults.go).

    ``replicas`` is ``spec.parallelism``; ``completions`` None is a work-queue Job (done once any pod
    succeeds and none is active). ``pod_failure_policy`` None: no policy. Run by
    :mod:`podquake.model.controllers.job`; ``status`` is written by the store only."""

    completions: int | None = 1
    completion_mode: str = "NonIndexed"
    backoff_limit: int = k8s.DEFAULT_JOB_BACKOFF_LIMIT
    active_deadline_seconds: float | None = None
    pod_failure_policy: tuple[PodFailurePolicyRule, ...] | None = None
    pod_replacement_policy: str = "TerminatingOrFailed"
    suspend: bool = False
    ttl_seconds_after_finished: float | None = None
    status: JobStatus = field(default_factory=JobStatus, init=False)
    kind: str = field(default="Job", init=False)

    @property
    def parallelism(self) -> int:
        return self.replicas

    @property
    def indexed(self) -> bool:
        return self.completion_mode == "Indexed"


@dataclass(slots=True, eq=False)
class PersistentVolume:
    """A PersistentVolume: where it lives, who claims it, which nodes it is attached to, the data it holds.

    ``zone`` is the ``topology.kubernetes.io/zone`` its node affinity requires (``""``: any node).
    ``claim`` is the bound claim's ``namespace/name``. ``attached`` holds the nodes it is attached to
    (at most one unless its access modes allow multi-attach). ``writes`` is its data, counted as the
    sum of the writes acknowledged to it (see :mod:`podquake.model.volumes`). Only the store changes it.
    """

    name: str
    zone: str
    access_modes: tuple[str, ...]
    storage_bytes: int
    claim: str | None = None
    attached: dict[str, None] = field(default_factory=dict)
    writes: int = 0
    created_at: float = 0.0

    @property
    def multi_attach(self) -> bool:
        """May be attached to several nodes at once: no access modes, or ReadWriteMany / ReadOnlyMany
        among them (upstream ``util.IsMultiAttachAllowed``, pkg/volume/util/util.go)."""
        return not self.access_modes or "ReadWriteMany" in self.access_modes or "ReadOnlyMany" in self.access_modes


WORKLOAD_KINDS = {"Deployment": Deployment, "ReplicaSet": ReplicaSet, "StatefulSet": StatefulSet, "DaemonSet": DaemonSet}
