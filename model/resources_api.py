"""The non-workload API objects the model keeps, and the tables of known fields, for the manifest loader.

Small frozen values for the objects the model stores without running them yet: :class:`Service`,
:class:`HorizontalPodAutoscaler`, :class:`PodDisruptionBudget`, :class:`PersistentVolumeClaim`,
and :class:`GenericObject` for every other kind (ConfigMap, Secret, Role, custom resources...).
Their parsers apply upstream defaulting and the validation rules that matter for behaviour:
kubernetes/kubernetes:pkg/apis/core/v1/defaults.go (Service), pkg/apis/autoscaling/v2/defaults.go
and pkg/apis/autoscaling/validation/validation.go (HPA), pkg/apis/policy/validation/validation.go
(PDB), pkg/apis/core/validation/validation.go (Service, PVC). :data:`KNOWN_FIELDS` lists the fields
of each API type the loader reads, and :func:`parse_label_selector` is shared with
:mod:`podquake.model.manifests`. The parsers read through :class:`~podquake.model.fieldpath.Field`
(re-exported here with :class:`~podquake.model.fieldpath.Doc` and
:func:`~podquake.model.fieldpath.describe`), so every problem names its file, document and field.

Simplifications, on purpose:
- a Service gets no cluster IP or node port allocated; ``cluster_ip`` is what the manifest says
  (``"None"`` makes it headless); an unset ``nodePort`` stays ``None``;
- HPA metric quantities are kept as exact fractions of their unit (``500m`` -> 1/2); the controller
  that uses them decides the unit;
- autoscaling/v1 HPAs are converted to the v2 shape (``targetCPUUtilizationPercentage`` becomes a
  Resource cpu Utilization metric), as the API server's conversion does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from podquake.model import constants as k8s
from podquake.model.fieldpath import Doc, Field, describe
from podquake.model.quantity import QuantityError, parse_memory
from podquake.model.selectors import LabelSelector, Requirement

__all__ = [
    "KNOWN_FIELDS",
    "Doc",
    "Field",
    "GenericObject",
    "HPABehavior",
    "HorizontalPodAutoscaler",
    "MetricSpec",
    "MetricTarget",
    "PersistentVolumeClaim",
    "PodDisruptionBudget",
    "ScaleTargetRef",
    "ScalingPolicy",
    "ScalingRules",
    "Service",
    "ServicePort",
    "default_scale_down_rules",
    "default_scale_up_rules",
    "describe",
    "parse_hpa",
    "parse_label_selector",
    "parse_pdb",
    "parse_pvc",
    "parse_service",
]

_LABEL_SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


# --- known fields ---------------------------------------------------------------------------------
def _fields(names: str) -> frozenset[str]:
    return frozenset(names.split())


# The fields of each API type the loader reads, from k8s.io/api (v1.35): core/v1/types.go,
# apps/v1/types.go, batch/v1/types.go, autoscaling/v2/types.go, policy/v1/types.go.
KNOWN_FIELDS = {
    "object": _fields("apiVersion kind metadata spec status"),
    "metadata": _fields(
        "name generateName namespace selfLink uid resourceVersion generation creationTimestamp deletionTimestamp "
        "deletionGracePeriodSeconds labels annotations ownerReferences finalizers managedFields"
    ),
    "Deployment": _fields("replicas selector template strategy minReadySeconds revisionHistoryLimit paused progressDeadlineSeconds"),
    "ReplicaSet": _fields("replicas minReadySeconds selector template"),
    "StatefulSet": _fields(
        "replicas selector template volumeClaimTemplates serviceName podManagementPolicy updateStrategy "
        "revisionHistoryLimit minReadySeconds persistentVolumeClaimRetentionPolicy ordinals"
    ),
    "DaemonSet": _fields("selector template updateStrategy minReadySeconds revisionHistoryLimit"),
    "Job": _fields(
        "parallelism completions activeDeadlineSeconds podFailurePolicy successPolicy backoffLimit backoffLimitPerIndex "
        "maxFailedIndexes selector manualSelector template ttlSecondsAfterFinished completionMode suspend "
        "podReplacementPolicy managedBy"
    ),
    "podFailurePolicy": _fields("rules"),
    "podFailurePolicyRule": _fields("action onExitCodes onPodConditions"),
    "onExitCodes": _fields("containerName operator values"),
    "onPodConditions": _fields("type status"),
    "template": _fields("metadata spec"),
    "strategy": _fields("type rollingUpdate"),
    "rollingUpdate": _fields("maxUnavailable maxSurge"),
    "statefulSetRollingUpdate": _fields("partition maxUnavailable"),
    "claimRetentionPolicy": _fields("whenDeleted whenScaled"),
    "ordinals": _fields("start"),
    "pod": _fields(
        "volumes initContainers containers ephemeralContainers restartPolicy terminationGracePeriodSeconds "
        "activeDeadlineSeconds dnsPolicy nodeSelector serviceAccountName serviceAccount automountServiceAccountToken "
        "nodeName hostNetwork hostPID hostIPC shareProcessNamespace securityContext imagePullSecrets hostname "
        "subdomain affinity schedulerName tolerations hostAliases priorityClassName priority dnsConfig readinessGates "
        "runtimeClassName enableServiceLinks preemptionPolicy overhead topologySpreadConstraints setHostnameAsFQDN os "
        "hostUsers schedulingGates resourceClaims resources hostnameOverride"
    ),
    "container": _fields(
        "name image command args workingDir ports envFrom env resources resizePolicy restartPolicy restartPolicyRules "
        "volumeMounts volumeDevices livenessProbe readinessProbe startupProbe lifecycle terminationMessagePath "
        "terminationMessagePolicy imagePullPolicy securityContext stdin stdinOnce tty"
    ),
    "resources": _fields("limits requests claims"),
    "containerPort": _fields("name hostPort containerPort protocol hostIP"),
    "probe": _fields(
        "exec httpGet tcpSocket grpc initialDelaySeconds timeoutSeconds periodSeconds successThreshold "
        "failureThreshold terminationGracePeriodSeconds"
    ),
    "affinity": _fields("nodeAffinity podAffinity podAntiAffinity"),
    "nodeAffinity": _fields("requiredDuringSchedulingIgnoredDuringExecution preferredDuringSchedulingIgnoredDuringExecution"),
    "podAffinity": _fields("requiredDuringSchedulingIgnoredDuringExecution preferredDuringSchedulingIgnoredDuringExecution"),
    "podAffinityTerm": _fields("labelSelector namespaces topologyKey namespaceSelector matchLabelKeys mismatchLabelKeys"),
    "weightedPodAffinityTerm": _fields("weight podAffinityTerm"),
    "toleration": _fields("key operator value effect tolerationSeconds"),
    "spread": _fields(
        "maxSkew topologyKey whenUnsatisfiable labelSelector minDomains nodeAffinityPolicy nodeTaintsPolicy matchLabelKeys"
    ),
    "selector": _fields("matchLabels matchExpressions"),
    "Service": _fields(
        "ports selector clusterIP clusterIPs type externalIPs sessionAffinity loadBalancerIP loadBalancerSourceRanges "
        "externalName externalTrafficPolicy healthCheckNodePort publishNotReadyAddresses sessionAffinityConfig "
        "ipFamilies ipFamilyPolicy allocateLoadBalancerNodePorts loadBalancerClass internalTrafficPolicy trafficDistribution"
    ),
    "servicePort": _fields("name protocol appProtocol port targetPort nodePort"),
    "HPA": _fields("scaleTargetRef minReplicas maxReplicas metrics behavior targetCPUUtilizationPercentage"),
    "PDB": _fields("minAvailable selector maxUnavailable unhealthyPodEvictionPolicy"),
    "PVC": _fields(
        "accessModes selector resources volumeName storageClassName volumeMode dataSource dataSourceRef "
        "volumeAttributesClassName"
    ),
}


# --- shared pieces --------------------------------------------------------------------------------
def parse_label_selector(f: Field, *, required: bool = False) -> LabelSelector | None:
    """``matchLabels`` and ``matchExpressions`` (operators In, NotIn, Exists, DoesNotExist).

    Absent gives ``None`` (a null selector); ``{}`` gives the empty selector, which matches everything.
    """
    if not f.present():
        if required:
            raise f.error("a selector is required but missing", fix="add selector: {matchLabels: {app: <name>}}")
        return None
    f.check_keys(KNOWN_FIELDS["selector"])
    labels = tuple(sorted(f["matchLabels"].string_map().items()))
    expressions = []
    for item in f["matchExpressions"].items():
        key = item["key"].string(required=True)
        operator = item["operator"].string(required=True, choices=_LABEL_SELECTOR_OPERATORS)
        values = tuple(v.string(required=True) for v in item["values"].items())
        try:
            expressions.append(Requirement(key, operator, values))
        except ValueError as error:
            raise item.error(str(error), fix="In/NotIn need values; Exists/DoesNotExist take none") from None
    return LabelSelector(labels, tuple(expressions))


def _labels(meta: Field) -> tuple[tuple[str, str], ...]:
    return tuple(meta["labels"].string_map().items())


# --- Service --------------------------------------------------------------------------------------
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")


@dataclass(frozen=True, slots=True)
class ServicePort:
    """``spec.ports[]``. ``target_port`` defaults to ``port`` (upstream defaulting); it may name a container port."""

    port: int
    target_port: int | str
    protocol: str = "TCP"
    name: str = ""
    node_port: int | None = None


@dataclass(frozen=True, slots=True)
class Service:
    """A Service: how traffic for a name reaches the ready pods its selector picks.

    ``selector`` is ``None`` when the manifest has none (endpoints managed by someone else).
    ``external_traffic_policy`` is ``"Cluster"`` or ``"Local"`` for NodePort and LoadBalancer Services
    and ``None`` otherwise; ``session_affinity_timeout_seconds`` is set only for ``ClientIP`` affinity
    (default 10800 s, kubernetes/kubernetes:pkg/apis/core/types.go DefaultClientIPServiceAffinitySeconds).
    """

    name: str
    namespace: str
    type: str = "ClusterIP"
    selector: tuple[tuple[str, str], ...] | None = None
    ports: tuple[ServicePort, ...] = ()
    session_affinity: str = "None"
    session_affinity_timeout_seconds: int | None = None
    external_traffic_policy: str | None = None
    internal_traffic_policy: str | None = "Cluster"
    publish_not_ready_addresses: bool = False
    cluster_ip: str | None = None
    external_name: str | None = None
    labels: tuple[tuple[str, str], ...] = ()

    @property
    def headless(self) -> bool:
        return self.cluster_ip == "None"

    def selector_dict(self) -> dict[str, str] | None:
        return dict(self.selector) if self.selector is not None else None

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a pod with ``labels`` backs this Service (a Service without selector matches none)."""
        if not self.selector:
            return False
        return all(labels.get(k) == v for k, v in self.selector)


def parse_service(name: str, namespace: str, meta: Field, spec: Field) -> Service:
    """``v1 Service`` with upstream defaults and the validation that changes behaviour."""
    spec.check_keys(KNOWN_FIELDS["Service"])
    type_ = spec["type"].string("ClusterIP", choices=SERVICE_TYPES)
    selector_map = spec["selector"].string_map()
    cluster_ip = spec["clusterIP"].string(None)
    external_name = None
    if type_ == "ExternalName":
        external_name = spec["externalName"].string(required=True)
    ports = []
    seen_names: dict[str, int] = {}
    port_items = spec["ports"].items()
    for i, item in enumerate(port_items):
        item.check_keys(KNOWN_FIELDS["servicePort"])
        port = item["port"].integer(required=True, minimum=1, maximum=65535)
        port_name = item["name"].string("")
        if len(port_items) > 1 and not port_name:
            raise item["name"].error("every port needs a name when a Service has more than one", fix="add name: <port-name>")
        if port_name in seen_names:
            raise item["name"].error(f"duplicate port name {port_name!r} (also ports[{seen_names[port_name]}])")
        seen_names[port_name] = i
        target = item["targetPort"]
        target_port: int | str
        if not target.present():
            target_port = port
        elif isinstance(target.value, str):
            target_port = target.string()
        else:
            target_port = target.integer(minimum=1, maximum=65535)
        node_port = item["nodePort"].integer(None, minimum=k8s.SERVICE_NODE_PORT_MIN, maximum=k8s.SERVICE_NODE_PORT_MAX)
        if node_port is not None and type_ not in ("NodePort", "LoadBalancer"):
            raise item["nodePort"].error(f"nodePort may not be set on a {type_} Service", fix="remove nodePort or use type: NodePort")
        protocol = item["protocol"].string("TCP", choices=("TCP", "UDP", "SCTP"))
        ports.append(ServicePort(port, target_port, protocol, port_name, node_port))
    if not ports and type_ != "ExternalName" and cluster_ip != "None":
        raise spec["ports"].error("a Service needs at least one port", fix="add ports: [{port: 80, targetPort: 8080}]")

    affinity = spec["sessionAffinity"].string("None", choices=("None", "ClientIP"))
    timeout_field = spec["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"]
    timeout = timeout_field.integer(None, minimum=1, maximum=k8s.MAX_CLIENT_IP_SERVICE_AFFINITY_SECONDS)
    if affinity == "ClientIP":
        timeout = timeout if timeout is not None else k8s.DEFAULT_CLIENT_IP_SERVICE_AFFINITY_SECONDS
    elif timeout is not None:
        raise timeout_field.error("timeoutSeconds is only allowed with sessionAffinity: ClientIP", fix="set sessionAffinity: ClientIP")

    external_policy = spec["externalTrafficPolicy"].string(None, choices=("Cluster", "Local"))
    if type_ in ("NodePort", "LoadBalancer"):
        external_policy = external_policy or "Cluster"
    elif external_policy is not None:
        raise spec["externalTrafficPolicy"].error(
            f"externalTrafficPolicy may only be set on NodePort or LoadBalancer Services, not {type_}",
            fix="remove it or change spec.type",
        )
    internal_policy = spec["internalTrafficPolicy"].string(None, choices=("Cluster", "Local"))
    if spec["trafficDistribution"].present():
        # Upstream the EndpointSlice controller sets zone hints (staging/src/k8s.io/endpointslice/
        # trafficdist) and kube-proxy prefers the client's zone (pkg/proxy/topology.go); the model's
        # proxies spread over every endpoint (model/proxy.py).
        spec["trafficDistribution"].note("trafficDistribution is not modelled; traffic is spread over the endpoints of every zone")
    if type_ != "ExternalName":
        internal_policy = internal_policy or "Cluster"
    return Service(
        name=name,
        namespace=namespace,
        type=type_,
        selector=tuple(selector_map.items()) if selector_map else None,
        ports=tuple(ports),
        session_affinity=affinity,
        session_affinity_timeout_seconds=timeout,
        external_traffic_policy=external_policy,
        internal_traffic_policy=internal_policy,
        publish_not_ready_addresses=spec["publishNotReadyAddresses"].boolean(False),
        cluster_ip=cluster_ip,
        external_name=external_name,
        labels=_labels(meta),
    )


# --- HorizontalPodAutoscaler ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ScaleTargetRef:
    kind: str
    name: str
    api_version: str = ""


@dataclass(frozen=True, slots=True)
class MetricTarget:
    """``Utilization`` (percent of request), ``AverageValue`` (per pod) or ``Value`` (total)."""

    type: str
    average_utilization: int | None = None
    average_value: Fraction | None = None
    value: Fraction | None = None


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One ``spec.metrics[]`` entry: ``Resource``, ``ContainerResource``, ``Pods``, ``Object`` or ``External``.

    ``resource`` names cpu/memory for (Container)Resource metrics; ``metric_name`` the custom metric.
    """

    type: str
    target: MetricTarget
    resource: str | None = None
    container: str | None = None
    metric_name: str | None = None


@dataclass(frozen=True, slots=True)
class ScalingPolicy:
    type: str  # "Pods" or "Percent"
    value: int
    period_seconds: int


@dataclass(frozen=True, slots=True)
class ScalingRules:
    """One direction of ``spec.behavior``. ``stabilization_window_seconds=None`` (scale-down only)
    means the controller's ``--horizontal-pod-autoscaler-downscale-stabilization`` (300 s)."""

    stabilization_window_seconds: int | None
    select_policy: str
    policies: tuple[ScalingPolicy, ...]
    tolerance: Fraction | None = None


@dataclass(frozen=True, slots=True)
class HPABehavior:
    scale_up: ScalingRules
    scale_down: ScalingRules


def default_scale_up_rules() -> ScalingRules:
    """kubernetes/kubernetes:pkg/apis/autoscaling/v2/defaults.go defaultHPAScaleUpRules."""
    return ScalingRules(
        k8s.HPA_SCALE_UP_STABILIZATION_SECONDS,
        "Max",
        (
            ScalingPolicy("Pods", k8s.HPA_SCALE_UP_LIMIT_MINIMUM_PODS, k8s.HPA_SCALE_UP_PERIOD_SECONDS),
            ScalingPolicy("Percent", k8s.HPA_SCALE_UP_LIMIT_PERCENT, k8s.HPA_SCALE_UP_PERIOD_SECONDS),
        ),
    )


def default_scale_down_rules() -> ScalingRules:
    """kubernetes/kubernetes:pkg/apis/autoscaling/v2/defaults.go defaultHPAScaleDownRules."""
    return ScalingRules(
        None, "Max", (ScalingPolicy("Percent", k8s.HPA_SCALE_DOWN_LIMIT_PERCENT, k8s.HPA_SCALE_DOWN_PERIOD_SECONDS),)
    )


@dataclass(frozen=True, slots=True)
class HorizontalPodAutoscaler:
    """An HPA in the autoscaling/v2 shape, defaulted: ``min_replicas`` 1, metrics CPU 80% when none,
    and ``behavior`` filled per direction only when the manifest has a ``behavior`` (else ``None``:
    the controller's legacy limits apply)."""

    name: str
    namespace: str
    scale_target_ref: ScaleTargetRef
    max_replicas: int
    min_replicas: int = 1
    metrics: tuple[MetricSpec, ...] = ()
    behavior: HPABehavior | None = None
    api_version: str = "autoscaling/v2"


def _metric_target(f: Field, allowed: tuple[str, ...]) -> MetricTarget:
    type_ = f["type"].string(required=True, choices=allowed)
    if type_ == "Utilization":
        return MetricTarget(type_, average_utilization=f["averageUtilization"].integer(required=True, minimum=1))
    key = "averageValue" if type_ == "AverageValue" else "value"
    amount = f[key].quantity() if f[key].present() else None
    if amount is None:
        raise f[key].error(f"{key} is required for target type {type_}", fix=f"add {key}, e.g. '500m'")
    if amount <= 0:
        raise f[key].error(f"{key} must be positive", fix="use a value above 0")
    if type_ == "AverageValue":
        return MetricTarget(type_, average_value=amount)
    return MetricTarget(type_, value=amount)


def _metric(f: Field) -> MetricSpec:
    type_ = f["type"].string(required=True, choices=("Resource", "ContainerResource", "Pods", "Object", "External"))
    if type_ in ("Resource", "ContainerResource"):
        source = f["resource" if type_ == "Resource" else "containerResource"]
        source.mapping(required=True)
        container = source["container"].string(required=True) if type_ == "ContainerResource" else None
        return MetricSpec(
            type_,
            _metric_target(source["target"], ("Utilization", "AverageValue")),
            resource=source["name"].string(required=True),
            container=container,
        )
    source = f[{"Pods": "pods", "Object": "object", "External": "external"}[type_]]
    source.mapping(required=True)
    allowed = ("AverageValue",) if type_ == "Pods" else ("Value", "AverageValue")
    if type_ == "Object":
        source["describedObject"].mapping(required=True)
    return MetricSpec(type_, _metric_target(source["target"], allowed), metric_name=source["metric"]["name"].string(required=True))


def _scaling_rules(f: Field, default: ScalingRules) -> ScalingRules:
    """``copyHPAScalingRules``: every field the manifest sets replaces the default's."""
    if not f.present():
        return default
    f.mapping()
    window = f["stabilizationWindowSeconds"].integer(
        default.stabilization_window_seconds, minimum=0, maximum=k8s.HPA_MAX_STABILIZATION_WINDOW_SECONDS
    )
    select = f["selectPolicy"].string(default.select_policy, choices=("Max", "Min", "Disabled"))
    policies = default.policies
    if f["policies"].present():
        policies = tuple(
            ScalingPolicy(
                p["type"].string(required=True, choices=("Pods", "Percent")),
                p["value"].integer(required=True, minimum=1),
                p["periodSeconds"].integer(required=True, minimum=1, maximum=k8s.HPA_MAX_SCALING_POLICY_PERIOD_SECONDS),
            )
            for p in f["policies"].items(non_empty=True)
        )
    tolerance = f["tolerance"].quantity() if f["tolerance"].present() else default.tolerance
    if tolerance is not None and tolerance < 0:
        raise f["tolerance"].error("tolerance must not be negative")
    return ScalingRules(window, select, policies, tolerance)


def parse_hpa(name: str, namespace: str, api_version: str, spec: Field) -> HorizontalPodAutoscaler:
    """autoscaling/v2 or autoscaling/v1 ``HorizontalPodAutoscaler``."""
    spec.mapping(required=True)
    spec.check_keys(KNOWN_FIELDS["HPA"])
    ref = spec["scaleTargetRef"]
    ref.mapping(required=True)
    target = ScaleTargetRef(ref["kind"].string(required=True), ref["name"].string(required=True), ref["apiVersion"].string(""))
    min_replicas = spec["minReplicas"].integer(1, minimum=1)
    max_replicas = spec["maxReplicas"].integer(required=True, minimum=1)
    if max_replicas < min_replicas:
        raise spec["maxReplicas"].error(
            f"maxReplicas {max_replicas} is below minReplicas {min_replicas}", fix="make maxReplicas >= minReplicas"
        )
    default_cpu = MetricSpec("Resource", MetricTarget("Utilization", k8s.HPA_DEFAULT_CPU_UTILIZATION), resource="cpu")
    behavior = None
    if api_version == "autoscaling/v1":
        percent = spec["targetCPUUtilizationPercentage"].integer(None, minimum=1)
        metrics: tuple[MetricSpec, ...] = (
            (MetricSpec("Resource", MetricTarget("Utilization", percent), resource="cpu"),) if percent else (default_cpu,)
        )
    else:
        metrics = tuple(_metric(m) for m in spec["metrics"].items()) or (default_cpu,)
        if spec["behavior"].present():
            b = spec["behavior"]
            b.mapping()
            behavior = HPABehavior(
                _scaling_rules(b["scaleUp"], default_scale_up_rules()),
                _scaling_rules(b["scaleDown"], default_scale_down_rules()),
            )
    return HorizontalPodAutoscaler(name, namespace, target, max_replicas, min_replicas, metrics, behavior, api_version)


# --- PodDisruptionBudget ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PodDisruptionBudget:
    """policy/v1 PDB. At most one of ``min_available``/``max_unavailable`` (int or ``"N%"``).

    ``selector=None`` (absent) selects no pods; an empty selector selects every pod of the namespace.
    """

    name: str
    namespace: str
    selector: LabelSelector | None
    min_available: int | str | None = None
    max_unavailable: int | str | None = None
    unhealthy_pod_eviction_policy: str = "IfHealthyBudget"


def parse_pdb(name: str, namespace: str, spec: Field) -> PodDisruptionBudget:
    spec.mapping(required=True)
    spec.check_keys(KNOWN_FIELDS["PDB"])
    min_available = spec["minAvailable"].int_or_percent(None, max_percent=100)
    max_unavailable = spec["maxUnavailable"].int_or_percent(None, max_percent=100)
    if min_available is not None and max_unavailable is not None:
        raise spec.error("minAvailable and maxUnavailable cannot be both set", fix="keep one of them")
    policy = spec["unhealthyPodEvictionPolicy"].string("IfHealthyBudget", choices=("IfHealthyBudget", "AlwaysAllow"))
    return PodDisruptionBudget(
        name, namespace, parse_label_selector(spec["selector"]), min_available, max_unavailable, policy
    )


# --- PersistentVolumeClaim --------------------------------------------------------------------------
ACCESS_MODES = ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")


@dataclass(frozen=True, slots=True)
class PersistentVolumeClaim:
    """A claim for storage. ``storage_class_name=None`` means the cluster's default StorageClass."""

    name: str
    namespace: str
    access_modes: tuple[str, ...]
    storage_bytes: int
    storage_class_name: str | None = None
    volume_mode: str = "Filesystem"
    volume_name: str | None = None


def parse_pvc(name: str, namespace: str, spec: Field) -> PersistentVolumeClaim:
    spec.mapping(required=True)
    spec.check_keys(KNOWN_FIELDS["PVC"])
    modes = tuple(m.string(required=True, choices=ACCESS_MODES) for m in spec["accessModes"].items(non_empty=True))
    storage = spec["resources"]["requests"]["storage"]
    if not storage.present():
        raise storage.error("a storage request is required", fix="add resources: {requests: {storage: 1Gi}}")
    try:
        storage_bytes = parse_memory(storage.value)
    except QuantityError as error:
        raise storage.error(str(error), fix="write e.g. 10Gi") from None
    if storage_bytes <= 0:
        raise storage.error("the storage request must be positive", fix="write e.g. 10Gi")
    return PersistentVolumeClaim(
        name,
        namespace,
        modes,
        storage_bytes,
        spec["storageClassName"].string(None),
        spec["volumeMode"].string("Filesystem", choices=("Filesystem", "Block")),
        spec["volumeName"].string(None),
    )


# --- everything else ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class GenericObject:
    """Any other object (ConfigMap, Secret, ServiceAccount, Role, a custom resource...): kept as data.

    ``raw`` is the parsed YAML mapping; treat it as read-only (several simulations may share it).
    """

    kind: str
    api_version: str
    name: str
    namespace: str
    raw: Mapping[str, Any] = field(compare=False, hash=False, repr=False)
