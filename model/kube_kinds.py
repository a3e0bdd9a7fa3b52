"""The kinds of the built-in Kubernetes API groups, to tell a misspelt kind from a custom resource.

A manifest whose ``apiVersion`` names one of these groups must use one of its kinds: the API server
answers anything else with "no matches for kind". Any other group (``networking.istio.io``,
``gateway.networking.k8s.io``, ``monitoring.coreos.com``...) belongs to a custom resource or an
aggregated API, whose kinds the loader cannot know.

Sources: the groups of https://kubernetes.io/docs/reference/kubernetes-api/group-versions/ and the kinds
of the API reference (https://kubernetes.io/docs/reference/kubernetes-api/, v1.35), plus kinds of
versions since removed (``extensions``, PodSecurityPolicy, ...) so that old manifests are noted as not
served rather than refused as misspelt. Subresource kinds that can be posted (Binding, Eviction,
Scale, TokenRequest, the access reviews) are included. Kinds are grouped by API group, whatever the
version: the version is checked separately (``manifests._MODELLED_VERSIONS`` and ``_BUILT_IN``).
"""

from __future__ import annotations

__all__ = ["KUBERNETES_KINDS", "api_group"]

_KINDS_BY_GROUP = {
    "": "Binding ComponentStatus ConfigMap Endpoints Event LimitRange List Namespace Node PersistentVolume "
    "PersistentVolumeClaim Pod PodTemplate ReplicationController ResourceQuota Secret Service ServiceAccount",
    "admissionregistration.k8s.io": "MutatingAdmissionPolicy MutatingAdmissionPolicyBinding MutatingWebhookConfiguration "
    "ValidatingAdmissionPolicy ValidatingAdmissionPolicyBinding ValidatingWebhookConfiguration",
    "apiextensions.k8s.io": "CustomResourceDefinition",
    "apiregistration.k8s.io": "APIService",
    "apps": "ControllerRevision DaemonSet Deployment DeploymentRollback ReplicaSet Scale StatefulSet",
    "authentication.k8s.io": "SelfSubjectReview TokenRequest TokenReview",
    "authorization.k8s.io": "LocalSubjectAccessReview SelfSubjectAccessReview SelfSubjectRulesReview SubjectAccessReview",
    "autoscaling": "HorizontalPodAutoscaler Scale",
    "batch": "CronJob Job",
    "certificates.k8s.io": "CertificateSigningRequest ClusterTrustBundle PodCertificateRequest",
    "coordination.k8s.io": "Lease LeaseCandidate",
    "discovery.k8s.io": "EndpointSlice",
    "events.k8s.io": "Event",
    # removed in v1.16 (workloads) and v1.22 (Ingress); kept so old manifests get a "not served" note
    "extensions": "DaemonSet Deployment DeploymentRollback HorizontalPodAutoscaler Ingress Job NetworkPolicy "
    "PodSecurityPolicy ReplicaSet Scale",
    "flowcontrol.apiserver.k8s.io": "FlowSchema PriorityLevelConfiguration",
    "internal.apiserver.k8s.io": "StorageVersion",
    "networking.k8s.io": "ClusterCIDR IPAddress Ingress IngressClass NetworkPolicy ServiceCIDR",
    "node.k8s.io": "RuntimeClass",
    "policy": "Eviction PodDisruptionBudget PodSecurityPolicy",
    "rbac.authorization.k8s.io": "ClusterRole ClusterRoleBinding Role RoleBinding",
    "resource.k8s.io": "DeviceClass DeviceTaintRule PodSchedulingContext ResourceClaim ResourceClaimTemplate ResourceSlice",
    "scheduling.k8s.io": "PodGroup PriorityClass Workload",
    "storage.k8s.io": "CSIDriver CSINode CSIStorageCapacity StorageClass VolumeAttachment VolumeAttributesClass",
    "storagemigration.k8s.io": "StorageVersionMigration",
}

#: The kinds of each built-in API group ("" is the core group, ``apiVersion: v1``).
KUBERNETES_KINDS: dict[str, frozenset[str]] = {group: frozenset(kinds.split()) for group, kinds in _KINDS_BY_GROUP.items()}


def api_group(api_version: str) -> str:
    """The API group of an ``apiVersion``: ``"apps"`` for ``apps/v1``, ``""`` (core) for ``v1``.

    >>> api_group("networking.k8s.io/v1"), api_group("v1")
    ('networking.k8s.io', '')
    """
    return api_version.split("/", 1)[0] if "/" in api_version else ""
