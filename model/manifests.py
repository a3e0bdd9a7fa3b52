"""Loading Kubernetes YAML into the model: files, folders or text -> :class:`Manifest` values.

``load_manifests`` reads every document of every file (a folder: its ``*.yaml``, ``*.yml`` and ``*.json``
files in sorted order, as ``kubectl apply -f`` does; JSON is read as the YAML it is a subset of), expands ``kind: List``, checks the objects the way the API server would, and returns
one :class:`Manifest` per object, in order. Nothing touches a simulation until
:meth:`Manifest.apply_to` (or ``Simulation.apply``), so a bad manifest leaves nothing half written.

What each kind becomes:
- Deployment, ReplicaSet, StatefulSet, DaemonSet (apps/v1) -> the workload objects of
  :mod:`podquake.model.objects`, created with a fresh uid per simulation;
- Job (batch/v1) -> a :class:`~podquake.model.objects.Job` (:mod:`podquake.model.manifest_jobs`),
  run by the Job controller (:mod:`podquake.model.controllers.job`);
- Pod (v1) -> a bare pod (``Simulation.create_pod``);
- Service, HorizontalPodAutoscaler (autoscaling/v2 and v1), PodDisruptionBudget (policy/v1),
  PersistentVolumeClaim -> the frozen values of :mod:`podquake.model.resources_api`, stored with
  ``ClusterState.put_object``;
- anything else (ConfigMap, Secret, ServiceAccount, Namespace, RBAC, custom resources...) -> a
  :class:`~podquake.model.resources_api.GenericObject`, stored the same way. Kinds the model cannot
  run (CronJob, a custom resource) get a note in :attr:`Manifest.notes`;
- a kind the model runs at an API version Kubernetes no longer serves (``extensions/v1beta1``
  Deployment, ``policy/v1beta1`` PodDisruptionBudget) is an error naming the served version, as the
  API server refuses it: kept as data, the workload would not run and the run would pass without it;
- a kind its built-in API group does not have (``apiVersion: v1`` with ``kind: Servce``, ``apps/v1``
  with ``kind: Deploymnet``) is an error naming the nearest kind, as the API server refuses it ("no
  matches for kind"); the kinds of each group are :data:`podquake.model.kube_kinds.KUBERNETES_KINDS`.
  A kind of any other group (``networking.istio.io/v1alpha3`` VirtualService) is a custom resource.

Defaulting and validation follow the API server: kubernetes/kubernetes:pkg/apis/core/v1/defaults.go
(a container request missing but its limit present defaults to the limit; probe timings),
pkg/apis/apps/v1/defaults.go (replicas 1, RollingUpdate 25%/25%, progressDeadlineSeconds 600,
revisionHistoryLimit 10), pkg/apis/core/validation/validation.go and pkg/apis/apps/validation/
validation.go (the checks below; a pod template's are in :mod:`podquake.model.manifest_pods`). Each
problem is one :class:`~podquake.model.errors.InputError` with the file, the document, the field path
and the fix.

YAML is read by :mod:`podquake.model.yaml_safety`: PyYAML's safe loader only, after a pass over the
parser's events that rejects hostile input (too big, too deep, alias bombs, duplicate keys) before
anything is built. Its limits are re-exported here: :data:`MAX_MANIFEST_BYTES`,
:data:`MAX_NESTING_DEPTH`, :data:`MAX_ALIAS_EXPANSION`.

Simplifications, on purpose:
- namespaces need not exist first, and ``metadata.generateName`` is not supported (apply needs names);
- ``spec.priority`` is taken as written; otherwise ``priorityClassName`` resolves against the built-in
  classes and the PriorityClass objects loaded in the same call or set (a ``globalDefault`` class applies to
  pods without one), as the Priority admission plug-in does; so does ``preemptionPolicy``: the pod's
  own, else its class's, else ``PreemptLowerPriority`` (a pod whose policy differs from its class's is
  refused, as the admission plug-in forbids it: plugin/pkg/admission/priority/admission.go);
- pod-level resources, LimitRange defaults and container ports are not modelled
  (a note says so when a manifest uses them); extended resources (GPUs) are checked and ignored;
- a field the API does not define (``replica: 3``) is noted with the closest known name and ignored,
  where kubectl's strict field validation would refuse the object: the tables of known fields
  (``resources_api.KNOWN_FIELDS``) cover the kinds the model runs, and a note never blocks a valid
  manifest that uses a field newer than the tables.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from podquake.model import constants as k8s
from podquake.model.errors import InputError
from podquake.model.fieldpath import Doc, Field, describe
from podquake.model.kube_kinds import KUBERNETES_KINDS, api_group
from podquake.model.manifest_jobs import parse_job
from podquake.model.manifest_pods import DNS_LABEL, pod_template
from podquake.model.manifest_strategies import daemonset_notes, deployment_strategy, statefulset_notes, statefulset_strategy
from podquake.model.objects import (
    WORKLOAD_KINDS,
    PREEMPTION_POLICIES,
    DaemonSet,
    Deployment,
    PodTemplate,
    ReplicaSet,
    StatefulSet,
    Workload,
)
from podquake.model.resources_api import (
    KNOWN_FIELDS,
    GenericObject,
    parse_hpa,
    parse_label_selector,
    parse_pdb,
    parse_pvc,
    parse_service,
)
from podquake.model.yaml_safety import (
    MAX_ALIAS_EXPANSION,
    MAX_MANIFEST_BYTES,
    MAX_NESTING_DEPTH,
    load_documents,
    too_big_error,
)

__all__ = [
    "MAX_ALIAS_EXPANSION",
    "MAX_MANIFEST_BYTES",
    "MAX_NESTING_DEPTH",
    "Manifest",
    "ManifestText",
    "check_replicas",
    "load_manifest_set",
    "load_manifests",
    "manifest_notes",
]

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")

_HPA_VERSIONS = ("autoscaling/v2", "autoscaling/v1")
# Kinds whose objects have no namespace (kubectl api-resources --namespaced=false, the common ones).
_CLUSTER_SCOPED = frozenset(
    "Namespace Node PersistentVolume StorageClass ClusterRole ClusterRoleBinding PriorityClass "
    "CustomResourceDefinition IngressClass RuntimeClass ValidatingWebhookConfiguration "
    "MutatingWebhookConfiguration ValidatingAdmissionPolicy ValidatingAdmissionPolicyBinding APIService "
    "CSIDriver CSINode VolumeAttachment CertificateSigningRequest FlowSchema PriorityLevelConfiguration".split()
)
# Built-in kinds the model keeps as data, by apiVersion; other kinds get a "custom resource" note.
_BUILT_IN = {
    "v1": "ConfigMap Secret ServiceAccount Namespace Endpoints LimitRange ResourceQuota PersistentVolume "
    "ReplicationController Node Event PodTemplate",
    "apps/v1": "ControllerRevision",
    "batch/v1": "CronJob",
    "rbac.authorization.k8s.io/v1": "Role RoleBinding ClusterRole ClusterRoleBinding",
    "networking.k8s.io/v1": "Ingress IngressClass NetworkPolicy",
    "storage.k8s.io/v1": "StorageClass CSIDriver CSINode VolumeAttachment",
    "scheduling.k8s.io/v1": "PriorityClass",
    "discovery.k8s.io/v1": "EndpointSlice",
    "apiextensions.k8s.io/v1": "CustomResourceDefinition",
    "admissionregistration.k8s.io/v1": "ValidatingWebhookConfiguration MutatingWebhookConfiguration "
    "ValidatingAdmissionPolicy ValidatingAdmissionPolicyBinding",
    "coordination.k8s.io/v1": "Lease",
    "node.k8s.io/v1": "RuntimeClass",
    "apiregistration.k8s.io/v1": "APIService",
    "certificates.k8s.io/v1": "CertificateSigningRequest",
    "flowcontrol.apiserver.k8s.io/v1": "FlowSchema PriorityLevelConfiguration",
}
_NOT_RUN = {
    "CronJob": "CronJobs are kept as data; the model does not run them (apply the Job of their jobTemplate to run one)",
    "ReplicationController": "ReplicationControllers are kept as data; use a Deployment to run pods",
    "LimitRange": "LimitRange defaults are not applied to pods by the model",
    "ResourceQuota": "ResourceQuotas are not enforced by the model",
    "NetworkPolicy": "NetworkPolicies are not enforced by the model",
    "Node": "Node objects are not added; describe nodes with the cluster spec",
}
_MODELLED_VERSIONS = {
    "Deployment": ("apps/v1",),
    "ReplicaSet": ("apps/v1",),
    "StatefulSet": ("apps/v1",),
    "DaemonSet": ("apps/v1",),
    "Job": ("batch/v1",),
    "Pod": ("v1",),
    "Service": ("v1",),
    "PersistentVolumeClaim": ("v1",),
    "HorizontalPodAutoscaler": _HPA_VERSIONS,
    "PodDisruptionBudget": ("policy/v1",),
}


# --- the result ---------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Manifest:
    """One object from a manifest, parsed and checked, ready to apply to any number of simulations.

    ``obj`` is what the object became: for a workload, a prototype
    :class:`~podquake.model.objects.Workload` (``apply_to`` copies it with a new uid); for a Pod, its
    :class:`~podquake.model.objects.PodTemplate`; otherwise a value from
    :mod:`podquake.model.resources_api`. ``notes`` say what the model ignores or cannot run.
    """

    kind: str
    name: str
    namespace: str
    api_version: str
    source: str
    location: str
    obj: Any = field(repr=False)
    notes: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def key(self) -> str:
        """``namespace/name`` (just ``name`` for a cluster-scoped object)."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    def apply_to(self, sim: Any) -> None:
        """Create this object in ``sim`` (a :class:`~podquake.model.simulation.Simulation`)."""
        self.check_apply(sim)
        state = sim.state
        if isinstance(self.obj, Workload):
            prototype = self.obj
            sim.create_workload(
                replace(prototype, uid=sim.new_uid(), labels=dict(prototype.labels), annotations=dict(prototype.annotations))
            )
        elif self.kind == "Pod" and isinstance(self.obj, PodTemplate):
            sim.create_pod(self.name, self.namespace, self.obj)
        else:
            state.put_object(self.kind, self.namespace, self.name, self.obj)

    def check_apply(self, sim: Any, creating: dict[tuple[str, str, str], Manifest] | None = None) -> None:
        """Raise the :class:`InputError` :meth:`apply_to` would: a workload or bare pod of this name
        exists in ``sim``, or (``creating``: what the same batch creates before this one, which this
        adds to) earlier in the batch. Other kinds replace an object of their name, as ``kubectl apply``."""
        if isinstance(self.obj, Workload):
            exists = sim.state.workload_named(self.kind, self.namespace, self.name) is not None
        elif self.kind == "Pod" and isinstance(self.obj, PodTemplate):
            exists = self.key in sim.state.pods_by_key
        else:
            return
        if exists:
            raise self._exists()
        if creating is None:
            return
        identity = (self.kind, self.namespace, self.name)
        first = creating.get(identity)
        if first is None:
            creating[identity] = self
        else:
            raise InputError(
                f"{self.kind} {self.key} is applied twice in one batch (first in {first.source}: {first.location})",
                source=self.source,
                location=self.location,
                fix="apply each manifest once per simulation",
            )

    def _exists(self) -> InputError:
        return InputError(
            f"{self.kind} {self.key} already exists in the simulation",
            source=self.source,
            location=self.location,
            fix="apply each manifest once per simulation",
        )


def check_replicas(manifests: Iterable[Manifest], source: str = "") -> None:
    """Refuse manifests whose workloads ask for more replicas than the pods Kubernetes supports in
    one cluster (:data:`~podquake.model.constants.SUPPORTED_MAX_PODS`): 10^6 replicas made a run
    create pods for hours. A DaemonSet counts for none (one pod per node, and nodes are bounded)."""
    asked = [(m.obj.replicas if m.kind != "DaemonSet" else 0, m) for m in manifests if isinstance(m.obj, Workload)]
    total = sum(count for count, _ in asked)
    if total > k8s.SUPPORTED_MAX_PODS:
        count, largest = max(asked, key=lambda pair: pair[0])
        raise InputError(
            f"the workloads ask for {total:,} replicas, more than the {k8s.SUPPORTED_MAX_PODS:,} pods Kubernetes "
            f"supports in one cluster ({largest.kind} {largest.key} alone asks {count:,})",
            source=largest.source or source,
            location=largest.location,
            field="spec.replicas",
            fix="ask for fewer replicas",
        )


def manifest_notes(manifests: Iterable[Manifest]) -> list[str]:
    """Every note of ``manifests`` as one line naming its file and document, and what one object
    says of another that is not there (an HPA whose ``scaleTargetRef`` names no workload of the
    set: upstream accepts it, and its controller never scales, FailedGetScale)."""
    manifests = list(manifests)
    notes = [f"{m.source}: {m.location}: {note}" for m in manifests for note in m.notes]
    present = {(m.kind, m.namespace, m.name) for m in manifests}
    for m in manifests:
        if m.kind == "HorizontalPodAutoscaler":
            target = m.obj.scale_target_ref
            if (target.kind, m.namespace, target.name) not in present:
                notes.append(
                    f"{m.source}: {m.location}: spec.scaleTargetRef: no {target.kind} {m.namespace}/{target.name} "
                    "in these manifests; this HPA will never scale anything"
                )
    return notes


# --- loading ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ManifestText:
    """Kubernetes YAML given as text, for :func:`load_manifest_set`: ``source`` names it in messages,
    ``first_line`` is the line of ``source`` where ``text`` starts (an object inline in a scenario file)."""

    text: str
    source: str = "<text>"
    first_line: int = 1


def load_manifests(
    path: str | Path | Iterable[str | Path] | None = None,
    *,
    text: str | None = None,
    source: str | None = None,
    first_line: int = 1,
) -> list[Manifest]:
    """Parse Kubernetes YAML from ``path`` (a file, a folder, or a list of them) or from ``text``
    (``first_line``: the line of ``source`` where ``text`` starts, for the line numbers of messages).

    Raises :class:`~podquake.model.errors.InputError` naming the file, document, field and fix.

    >>> [m.kind for m in load_manifests(text="kind: ConfigMap\\napiVersion: v1\\nmetadata: {name: c}")]
    ['ConfigMap']
    """
    if (path is None) == (text is None):
        raise InputError("give either a path or text", source=source or "", fix="load_manifests('app.yaml') or load_manifests(text=...)")
    if text is not None:
        if not isinstance(text, str):
            raise InputError(f"text must be a string, got {describe(text)}", source=source or "<text>")
        return load_manifest_set([ManifestText(text, source or "<text>", first_line)])
    return load_manifest_set([path] if isinstance(path, (str, Path)) else list(path))  # type: ignore[arg-type]


def load_manifest_set(parts: Iterable[str | Path | ManifestText]) -> list[Manifest]:
    """Parse files, folders and texts as one set of objects, in order: a PriorityClass in one part
    serves the pod templates of every part (as it would once applied to the API server), and an
    object defined in two parts is refused. A scenario's workload is such a set: paths and inline
    objects mixed.

    >>> classes = ManifestText("apiVersion: scheduling.k8s.io/v1\\nkind: PriorityClass\\nmetadata: {name: high}\\nvalue: 1000")
    >>> pod = ManifestText("apiVersion: v1\\nkind: Pod\\nmetadata: {name: p}\\nspec: {priorityClassName: high, containers: [{name: c, image: i}]}")
    >>> load_manifest_set([classes, pod])[1].obj.spec.priority
    1000
    """
    pending: list[tuple[dict[str, Any], Doc]] = []
    for part in parts:
        if isinstance(part, ManifestText):
            pending.extend(_objects(part.source, part.text, part.first_line))
        else:
            for file, name in _files(part):
                pending.extend(_objects(name, _read(file, name)))
    priorities = _priority_classes(pending)
    manifests = [_parse_object(data, doc, priorities) for data, doc in pending]

    seen: dict[tuple[str, str, str], Manifest] = {}
    for manifest in manifests:
        key = (manifest.kind, manifest.namespace, manifest.name)
        first = seen.get(key)
        if first is not None:
            raise InputError(
                f"{manifest.kind} {manifest.key} is defined twice (first in {first.source}: {first.location})",
                source=manifest.source,
                location=manifest.location,
                field="metadata.name",
                fix="rename one of them or delete the duplicate",
            )
        seen[key] = manifest
    return manifests


def _files(path: str | Path | Iterable[str | Path]) -> list[tuple[Path, str]]:
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    files = []
    for entry in paths:
        if not isinstance(entry, (str, Path)):
            raise InputError(f"a manifest path must be a string or Path, got {describe(entry)}")
        p = Path(entry)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix in (".yaml", ".yml", ".json"))
            if not found:
                raise InputError("the folder holds no .yaml, .yml or .json files", source=str(p), fix="point at a manifest file or folder")
            files.extend((f, str(f)) for f in found)
        elif p.is_file():
            files.append((p, str(entry)))
        else:
            raise InputError("no such file or folder", source=str(entry), fix="check the path")
    return files


def _read(file: Path, name: str) -> str:
    size = file.stat().st_size
    if size > MAX_MANIFEST_BYTES:
        raise too_big_error(size, name)
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"not UTF-8 text ({error.reason} at byte {error.start})", source=name, fix="save the file as UTF-8") from None
    except OSError as error:
        raise InputError(f"cannot read the file: {error.strerror}", source=name, fix="check the path and permissions") from None


# --- documents ----------------------------------------------------------------------------------
def _objects(source: str, text: str, first_line: int = 1) -> list[tuple[dict[str, Any], Doc]]:
    """The objects of one YAML stream, with ``List`` kinds expanded and empty documents skipped."""
    documents = load_documents(text, source)
    found: list[tuple[dict[str, Any], Doc]] = []
    for number, (line, data) in enumerate(documents, start=1):
        line += first_line - 1
        _collect(data, Doc(source, f"document {number} at line {line}"), f"document {number}", line, found)
    return found


def _collect(data: Any, doc: Doc, where: str, line: int, found: list[tuple[dict[str, Any], Doc]]) -> None:
    if data is None:
        return
    if not isinstance(data, Mapping):
        raise doc.error(
            f"a document must be a mapping (an object with apiVersion, kind and metadata), got {describe(data)}",
            fix="put one object per document, separated by '---' lines, or wrap them in kind: List",
        )
    kind = data.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and "items" in data:
        items = Field(data.get("items"), "items", doc).items()
        for i, item in enumerate(items, start=1):
            _collect(item.value, Doc(doc.source, f"{where}, item {i} at line {line}"), f"{where}, item {i}", line, found)
        return
    found.append((dict(data), doc))


# --- objects ------------------------------------------------------------------------------------
def _priority_classes(pending: list[tuple[dict[str, Any], Doc]]) -> dict[str | None, tuple[int, str | None]]:
    """``(value, preemptionPolicy)`` by class name (``None``: the globalDefault class), built-ins included.

    The policy is None when the class does not set it (the pod's own, or ``PreemptLowerPriority``, applies).
    """
    classes: dict[str | None, tuple[int, str | None]] = {name: (value, None) for name, value in k8s.SYSTEM_PRIORITY_CLASSES.items()}
    for data, doc in pending:
        if data.get("kind") != "PriorityClass":
            continue
        root = Field(data, "", doc)
        name = root["metadata"]["name"].string(required=True)
        value = root["value"].integer(required=True, maximum=1_000_000_000)
        policy = root["preemptionPolicy"].string(None, choices=PREEMPTION_POLICIES)
        classes[name] = (value, policy)
        if root["globalDefault"].boolean(False):
            classes[None] = (value, policy)
    return classes


def _name(f: Field, kind: str) -> str:
    name = f.string(required=True)
    if kind in _MODELLED_VERSIONS:
        pattern, limit, words = (
            (_DNS_1035_LABEL, 63, "start with a letter and use lowercase letters, digits and '-'")
            if kind == "Service"
            else (_DNS_SUBDOMAIN, 253, "use lowercase letters, digits, '-' and '.'")
        )
        if len(name) > limit or not pattern.match(name):
            raise f.error(f"{name!r} is not a valid {kind} name", fix=f"{words} (at most {limit} characters)")
    return name


def _parse_object(data: dict[str, Any], doc: Doc, priorities: dict[str | None, tuple[int, str | None]]) -> Manifest:
    root = Field(data, "", doc)
    api_version = root["apiVersion"].string(required=True)
    kind = root["kind"].string(required=True)
    meta = root["metadata"]
    meta.mapping(required=True)
    name = meta["name"].string(None)
    if not name:
        fix = "give it metadata.name (generateName is not supported)" if meta["generateName"].present() else "add metadata.name"
        raise meta["name"].error("required field is missing (expected a string)", fix=fix)
    doc.location = doc.location.replace(" at line", f" ({kind} {name}) at line", 1)
    _check_kind(root["kind"], kind, api_version)
    name = _name(meta["name"], kind)
    namespace = ""
    if kind not in _CLUSTER_SCOPED:
        namespace = meta["namespace"].string("default") or "default"
        if not DNS_LABEL.match(namespace) or len(namespace) > 63:
            raise meta["namespace"].error(f"{namespace!r} is not a valid namespace", fix="use lowercase letters, digits and '-'")
    spec = root["spec"]
    obj: Any
    if kind in _MODELLED_VERSIONS and api_version in _MODELLED_VERSIONS[kind]:
        root.check_keys(KNOWN_FIELDS["object"])
        meta.check_keys(KNOWN_FIELDS["metadata"])
        if kind in WORKLOAD_KINDS:
            obj = _workload(kind, name, namespace, meta, spec, priorities)
        elif kind == "Job":
            obj = parse_job(name, namespace, meta, spec, priorities)
        elif kind == "Pod":
            obj = pod_template(meta, spec, priorities, workload_kind=None)
        elif kind == "Service":
            obj = parse_service(name, namespace, meta, spec)
        elif kind == "HorizontalPodAutoscaler":
            obj = parse_hpa(name, namespace, api_version, spec)
        elif kind == "PodDisruptionBudget":
            obj = parse_pdb(name, namespace, spec)
        else:
            obj = parse_pvc(name, namespace, spec)
    else:
        if kind in _MODELLED_VERSIONS and api_group(api_version) in KUBERNETES_KINDS:
            # Refused, as the API server refuses it ("no matches for kind"): kept as data, a workload
            # would not run, and the run would pass without it.
            served = " or ".join(_MODELLED_VERSIONS[kind])
            raise root["apiVersion"].error(
                f"apiVersion {api_version} of {kind} is not served by Kubernetes v1.35", fix=f"use apiVersion {served}"
            )
        if api_group(api_version) not in KUBERNETES_KINDS:
            doc.note(f"{api_version} {kind} is not a built-in Kubernetes kind the model knows; kept as data, no behaviour")
        elif kind not in _BUILT_IN.get(api_version, "").split():
            served = _served_version(kind)
            if served and api_group(served) == api_group(api_version):
                doc.note(
                    f"apiVersion {api_version} of {kind} is not served by Kubernetes v1.35; kept as data "
                    f"(fix: use apiVersion {served})"
                )
            else:
                doc.note(f"{api_version} {kind} is a Kubernetes kind the model does not use; kept as data, no behaviour")
        elif kind in _NOT_RUN:
            doc.note(_NOT_RUN[kind])
        obj = GenericObject(kind, api_version, name, namespace, data)
    return Manifest(kind, name, namespace, api_version, doc.source, doc.location, obj, tuple(doc.notes), data)


def _served_version(kind: str) -> str:
    """The apiVersion the model reads ``kind`` at ("" if it keeps no built-in kind of that name)."""
    if kind in _MODELLED_VERSIONS:
        return _MODELLED_VERSIONS[kind][0]
    return next((version for version, kinds in _BUILT_IN.items() if kind in kinds.split()), "")


def _check_kind(f: Field, kind: str, api_version: str) -> None:
    """Refuse a kind its built-in API group does not have (``v1 Servce``), as the API server does ("no
    matches for kind"), with the nearest kind as the fix. A kind of any other group is a custom resource:
    the caller keeps it as data with a note."""
    group = api_group(api_version)
    kinds = KUBERNETES_KINDS.get(group)
    if kinds is None or kind in kinds:
        return
    message = f"unknown kind {kind!r} for apiVersion {api_version}"
    close = difflib.get_close_matches(kind, sorted(kinds), n=1)
    if not close:  # a spelling that differs only in case ("service") is too far for difflib's ratio
        close = [k for k in sorted(kinds) if k.lower() == kind.lower()][:1]
    if close:
        raise f.error(f"{message}; did you mean {close[0]}?", fix=f"write kind: {close[0]}")
    elsewhere = sorted(g for g, known in KUBERNETES_KINDS.items() if kind in known and g != "extensions")
    if elsewhere:
        served = _served_version(kind)
        where = f"apiVersion {served}" if served else f"the API group {elsewhere[0] or 'core (v1)'}"
        raise f.error(f"{message}; {kind} belongs to {where}", fix=f"use {where} for {kind}")
    named = "core (v1)" if group == "" else group
    raise f.error(
        f"{message}: the {named} API group has no such kind",
        fix=f"use one of {', '.join(sorted(kinds))}; a custom resource needs its own API group in apiVersion",
    )


# --- workloads ----------------------------------------------------------------------------------
def _workload(
    kind: str, name: str, namespace: str, meta: Field, spec: Field, priorities: dict[str | None, tuple[int, str | None]]
) -> Workload:
    spec.mapping(required=True)
    spec.check_keys(KNOWN_FIELDS[kind])
    selector = parse_label_selector(spec["selector"], required=True)
    assert selector is not None
    if selector.is_empty():
        raise spec["selector"].error("an empty selector would select every pod", fix="add matchLabels, e.g. {app: <name>}")
    spec["template"].mapping(required=True)
    spec["template"].check_keys(KNOWN_FIELDS["template"])
    template = pod_template(spec["template"]["metadata"], spec["template"]["spec"], priorities, workload_kind=kind)
    if not selector.matches(template.label_dict()):
        raise spec["selector"].error(
            f"selector {selector.as_dict()} does not match the template labels {template.label_dict()}",
            fix="make spec.template.metadata.labels carry every label the selector asks for",
        )
    common: dict[str, Any] = {
        "uid": "",
        "name": name,
        "namespace": namespace,
        "selector": selector,
        "template": template,
        "labels": meta["labels"].string_map(),
        "annotations": meta["annotations"].string_map(),
    }
    if kind != "DaemonSet":
        common["replicas"] = spec["replicas"].integer(1, minimum=0)
    if kind == "DaemonSet":
        daemonset_notes(spec)
        return DaemonSet(**common)
    min_ready = spec["minReadySeconds"].integer(0, minimum=0)
    if kind == "ReplicaSet":
        return ReplicaSet(**common, min_ready_seconds=float(min_ready))
    if kind == "StatefulSet":
        claims = tuple(t["metadata"]["name"].string(required=True) for t in spec["volumeClaimTemplates"].items())
        update_strategy, partition = statefulset_strategy(spec["updateStrategy"])
        statefulset_notes(spec)
        return StatefulSet(
            **common,
            service_name=spec["serviceName"].string(""),
            pod_management_policy=spec["podManagementPolicy"].string("OrderedReady", choices=("OrderedReady", "Parallel")),
            volume_claim_templates=claims,
            update_strategy=update_strategy,
            partition=partition,
            min_ready_seconds=float(min_ready),
        )
    deadline = spec["progressDeadlineSeconds"].integer(k8s.DEFAULT_PROGRESS_DEADLINE_SECONDS, minimum=1)
    if deadline <= min_ready:
        raise spec["progressDeadlineSeconds"].error(
            f"progressDeadlineSeconds {deadline} must be greater than minReadySeconds {min_ready}", fix="raise it"
        )
    if spec["paused"].boolean(False):
        spec["paused"].note("paused Deployments are not modelled; it rolls out as if not paused")
    return Deployment(
        **common,
        strategy=deployment_strategy(spec["strategy"]),
        min_ready_seconds=float(min_ready),
        progress_deadline_seconds=float(deadline),
        revision_history_limit=spec["revisionHistoryLimit"].integer(k8s.DEFAULT_REVISION_HISTORY_LIMIT, minimum=0),
    )
