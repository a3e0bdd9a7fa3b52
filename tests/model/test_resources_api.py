"""Services, HorizontalPodAutoscalers, PodDisruptionBudgets and PersistentVolumeClaims from YAML:
upstream defaults (pkg/apis/core/v1/defaults.go, pkg/apis/autoscaling/v2/defaults.go) and the
validation that changes behaviour, each problem naming its field."""

from fractions import Fraction

import pytest
import yaml

from podquake.model import constants as k8s
from podquake.model.errors import InputError
from podquake.model.manifests import load_manifests
from podquake.model.resources_api import (
    HorizontalPodAutoscaler,
    MetricSpec,
    MetricTarget,
    PersistentVolumeClaim,
    PodDisruptionBudget,
    ScalingPolicy,
    Service,
    ServicePort,
)


def parse(api_version, kind, spec, name="x"):
    text = yaml.safe_dump({"apiVersion": api_version, "kind": kind, "metadata": {"name": name}, "spec": spec})
    (manifest,) = load_manifests(text=text, source="r.yaml")
    return manifest.obj


def problem(api_version, kind, spec) -> InputError:
    with pytest.raises(InputError) as info:
        parse(api_version, kind, spec)
    assert info.value.source == "r.yaml" and info.value.location.startswith(f"document 1 ({kind} x)")
    return info.value


# --- Service ------------------------------------------------------------------------------------
def test_service_defaults():
    service = parse("v1", "Service", {"selector": {"app": "web"}, "ports": [{"port": 80}]})
    assert isinstance(service, Service)
    assert service.type == "ClusterIP"
    assert service.ports == (ServicePort(port=80, target_port=80, protocol="TCP"),)  # targetPort defaults to port
    assert service.selector_dict() == {"app": "web"}
    assert (service.session_affinity, service.session_affinity_timeout_seconds) == ("None", None)
    assert service.external_traffic_policy is None  # only NodePort/LoadBalancer Services get one
    assert service.internal_traffic_policy == "Cluster"
    assert not service.publish_not_ready_addresses and not service.headless
    assert service.matches({"app": "web", "x": "y"}) and not service.matches({"app": "api"})


def test_load_balancer_and_node_port_services_default_to_cluster_external_traffic():
    lb = parse("v1", "Service", {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]})
    assert (lb.type, lb.external_traffic_policy, lb.ports[0].target_port) == ("LoadBalancer", "Cluster", 8080)
    np = parse(
        "v1",
        "Service",
        {"type": "NodePort", "externalTrafficPolicy": "Local", "selector": {"a": "b"}, "ports": [{"port": 80, "nodePort": 30001}]},
    )
    assert (np.external_traffic_policy, np.ports[0].node_port) == ("Local", 30001)


def test_service_session_affinity_and_endpoint_options():
    service = parse(
        "v1",
        "Service",
        {
            "selector": {"app": "db"},
            "clusterIP": "None",
            "sessionAffinity": "ClientIP",
            "publishNotReadyAddresses": True,
            "internalTrafficPolicy": "Local",
            "ports": [{"name": "sql", "port": 5432, "targetPort": "postgres", "protocol": "TCP"}, {"name": "m", "port": 9187, "protocol": "UDP"}],
        },
    )
    assert service.session_affinity_timeout_seconds == k8s.DEFAULT_CLIENT_IP_SERVICE_AFFINITY_SECONDS == 10800
    assert service.headless and service.publish_not_ready_addresses and service.internal_traffic_policy == "Local"
    assert service.ports[0].target_port == "postgres" and service.ports[1].protocol == "UDP"
    timed = parse(
        "v1", "Service", {"sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}}, "ports": [{"port": 1}]}
    )
    assert timed.session_affinity_timeout_seconds == 60 and timed.selector is None


@pytest.mark.parametrize(
    "spec, field, message",
    [
        ({"type": "Magic", "ports": [{"port": 80}]}, "spec.type", "unsupported value"),
        ({"ports": []}, "spec.ports", "at least one port"),
        ({"ports": [{"port": 70000}]}, "spec.ports[0].port", "at most 65535"),
        ({"ports": [{"port": 80}, {"port": 81}]}, "spec.ports[0].name", "needs a name"),
        ({"type": "NodePort", "ports": [{"port": 80, "nodePort": 80}]}, "spec.ports[0].nodePort", "at least 30000"),
        ({"ports": [{"port": 80, "nodePort": 30001}]}, "spec.ports[0].nodePort", "may not be set on a ClusterIP"),
        ({"externalTrafficPolicy": "Local", "ports": [{"port": 80}]}, "spec.externalTrafficPolicy", "only be set on NodePort or LoadBalancer"),
        (
            {"sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 86401}}, "ports": [{"port": 80}]},
            "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
            "at most 86400",
        ),
        (
            {"sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10}}, "ports": [{"port": 80}]},
            "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
            "only allowed with sessionAffinity: ClientIP",
        ),
        ({"selector": {"app": 3}, "ports": [{"port": 80}]}, "spec.selector.app", "expected a string"),
    ],
)
def test_invalid_services(spec, field, message):
    error = problem("v1", "Service", spec)
    assert error.field == field and message in error.message


def test_service_names_are_dns_labels():
    with pytest.raises(InputError, match="not a valid Service name"):
        parse("v1", "Service", {"ports": [{"port": 80}]}, name="1st.service")


# --- HorizontalPodAutoscaler ------------------------------------------------------------------------
TARGET = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}


def cpu_metric(target):
    return {"type": "Resource", "resource": {"name": "cpu", "target": target}}


def test_hpa_v2_defaults_without_metrics_or_behavior():
    hpa = parse("autoscaling/v2", "HorizontalPodAutoscaler", {"scaleTargetRef": TARGET, "maxReplicas": 10})
    assert isinstance(hpa, HorizontalPodAutoscaler)
    assert (hpa.scale_target_ref.kind, hpa.scale_target_ref.name) == ("Deployment", "web")
    assert (hpa.min_replicas, hpa.max_replicas) == (1, 10)
    assert hpa.metrics == (MetricSpec("Resource", MetricTarget("Utilization", 80), resource="cpu"),)
    assert hpa.behavior is None  # the controller's legacy limits apply


def test_hpa_v2_metrics():
    hpa = parse(
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        {
            "scaleTargetRef": TARGET,
            "minReplicas": 2,
            "maxReplicas": 20,
            "metrics": [
                {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "500Mi"}}},
                {
                    "type": "ContainerResource",
                    "containerResource": {"name": "cpu", "container": "app", "target": {"type": "Utilization", "averageUtilization": 60}},
                },
                {"type": "Pods", "pods": {"metric": {"name": "rps"}, "target": {"type": "AverageValue", "averageValue": "500m"}}},
                {"type": "External", "external": {"metric": {"name": "queue"}, "target": {"type": "Value", "value": 30}}},
            ],
        },
    )
    memory, container, pods, external = hpa.metrics
    assert (memory.resource, memory.target.average_value) == ("memory", 500 * 2**20)
    assert (container.container, container.target.average_utilization) == ("app", 60)
    assert (pods.metric_name, pods.target.average_value) == ("rps", Fraction(1, 2))
    assert (external.type, external.target.value) == ("External", 30)


def test_hpa_behavior_is_filled_with_upstream_defaults_per_direction():
    hpa = parse(
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        {"scaleTargetRef": TARGET, "maxReplicas": 5, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}},
    )
    up, down = hpa.behavior.scale_up, hpa.behavior.scale_down
    assert up.stabilization_window_seconds == k8s.HPA_SCALE_UP_STABILIZATION_SECONDS == 0
    assert up.select_policy == "Max"
    assert up.policies == (ScalingPolicy("Pods", 4, 15), ScalingPolicy("Percent", 100, 15))
    assert (down.stabilization_window_seconds, down.select_policy) == (60, "Max")
    assert down.policies == (ScalingPolicy("Percent", 100, 15),)
    only_up = parse(
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        {
            "scaleTargetRef": TARGET,
            "maxReplicas": 5,
            "behavior": {"scaleUp": {"selectPolicy": "Disabled", "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}},
        },
    )
    assert only_up.behavior.scale_up.policies == (ScalingPolicy("Pods", 1, 60),)
    assert only_up.behavior.scale_up.select_policy == "Disabled"
    assert only_up.behavior.scale_down.stabilization_window_seconds is None  # the controller's 300 s flag


def test_autoscaling_v1_becomes_the_v2_shape():
    hpa = parse("autoscaling/v1", "HorizontalPodAutoscaler", {"scaleTargetRef": TARGET, "maxReplicas": 4, "targetCPUUtilizationPercentage": 50})
    assert hpa.metrics == (MetricSpec("Resource", MetricTarget("Utilization", 50), resource="cpu"),)
    default = parse("autoscaling/v1", "HorizontalPodAutoscaler", {"scaleTargetRef": TARGET, "maxReplicas": 4})
    assert default.metrics[0].target.average_utilization == k8s.HPA_DEFAULT_CPU_UTILIZATION


@pytest.mark.parametrize(
    "spec, field, message",
    [
        ({"maxReplicas": 3}, "spec.scaleTargetRef", "required field is missing"),
        ({"scaleTargetRef": TARGET}, "spec.maxReplicas", "required field is missing"),
        ({"scaleTargetRef": TARGET, "minReplicas": 5, "maxReplicas": 3}, "spec.maxReplicas", "below minReplicas"),
        ({"scaleTargetRef": TARGET, "minReplicas": 0, "maxReplicas": 3}, "spec.minReplicas", "at least 1"),
        (
            {"scaleTargetRef": TARGET, "maxReplicas": 3, "metrics": [cpu_metric({"type": "Value", "value": 1})]},
            "spec.metrics[0].resource.target.type",
            "unsupported value 'Value'",
        ),
        (
            {"scaleTargetRef": TARGET, "maxReplicas": 3, "metrics": [cpu_metric({"type": "AverageValue"})]},
            "spec.metrics[0].resource.target.averageValue",
            "required for target type AverageValue",
        ),
        (
            {"scaleTargetRef": TARGET, "maxReplicas": 3, "behavior": {"scaleUp": {"policies": []}}},
            "spec.behavior.scaleUp.policies",
            "at least one entry",
        ),
        (
            {
                "scaleTargetRef": TARGET,
                "maxReplicas": 3,
                "behavior": {"scaleDown": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 1801}]}},
            },
            "spec.behavior.scaleDown.policies[0].periodSeconds",
            "at most 1800",
        ),
        (
            {"scaleTargetRef": TARGET, "maxReplicas": 3, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 3601}}},
            "spec.behavior.scaleDown.stabilizationWindowSeconds",
            "at most 3600",
        ),
    ],
)
def test_invalid_hpas(spec, field, message):
    error = problem("autoscaling/v2", "HorizontalPodAutoscaler", spec)
    assert error.field == field and message in error.message


# --- PodDisruptionBudget ------------------------------------------------------------------------------
def test_pdb_min_available_max_unavailable_and_policy():
    pdb = parse("policy/v1", "PodDisruptionBudget", {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}})
    assert isinstance(pdb, PodDisruptionBudget)
    assert (pdb.min_available, pdb.max_unavailable, pdb.unhealthy_pod_eviction_policy) == (2, None, "IfHealthyBudget")
    assert pdb.selector.matches({"app": "web"}) and not pdb.selector.matches({"app": "db"})
    pct = parse("policy/v1", "PodDisruptionBudget", {"maxUnavailable": "25%", "selector": {}, "unhealthyPodEvictionPolicy": "AlwaysAllow"})
    assert (pct.max_unavailable, pct.unhealthy_pod_eviction_policy) == ("25%", "AlwaysAllow")
    assert pct.selector.matches({"any": "pod"})  # policy/v1: the empty selector selects every pod
    assert parse("policy/v1", "PodDisruptionBudget", {"minAvailable": 1}).selector is None  # a null selector selects none


@pytest.mark.parametrize(
    "spec, field, message",
    [
        ({"minAvailable": 1, "maxUnavailable": 1}, "spec", "cannot be both set"),
        ({"minAvailable": "150%"}, "spec.minAvailable", "more than 100%"),
        ({"maxUnavailable": -1}, "spec.maxUnavailable", "must not be negative"),
        ({"maxUnavailable": "half"}, "spec.maxUnavailable", "neither a whole number nor a percentage"),
        ({"minAvailable": 1, "unhealthyPodEvictionPolicy": "Never"}, "spec.unhealthyPodEvictionPolicy", "unsupported value"),
    ],
)
def test_invalid_pdbs(spec, field, message):
    error = problem("policy/v1", "PodDisruptionBudget", spec)
    assert error.field == field and message in error.message


# --- PersistentVolumeClaim ----------------------------------------------------------------------------
def test_pvc():
    pvc = parse(
        "v1",
        "PersistentVolumeClaim",
        {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}, "storageClassName": "fast"},
    )
    assert pvc == PersistentVolumeClaim("x", "default", ("ReadWriteOnce",), 10 * 2**30, "fast")
    default_class = parse("v1", "PersistentVolumeClaim", {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "1G"}}})
    assert (default_class.storage_class_name, default_class.storage_bytes) == (None, 10**9)


@pytest.mark.parametrize(
    "spec, field, message",
    [
        ({"resources": {"requests": {"storage": "1Gi"}}}, "spec.accessModes", "required field is missing"),
        ({"accessModes": ["ReadWriteSometimes"], "resources": {"requests": {"storage": "1Gi"}}}, "spec.accessModes[0]", "unsupported value"),
        ({"accessModes": ["ReadWriteOnce"]}, "spec.resources.requests.storage", "storage request is required"),
        ({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "lots"}}}, "spec.resources.requests.storage", "invalid"),
    ],
)
def test_invalid_pvcs(spec, field, message):
    error = problem("v1", "PersistentVolumeClaim", spec)
    assert error.field == field and message in error.message
