"""Volumes: emptyDir, claims bound to zonal PersistentVolumes, attach and detach, and data as write counters.

Four upstream mechanisms, in one component because they share their indexes:

- **Binding and provisioning** (kubernetes/kubernetes:pkg/controller/volume/persistentvolume/pv_controller.go,
  and the scheduler's VolumeBinding plugin): a claim uses the StorageClass object it names, or (no
  ``storageClassName``) the one annotated ``storageclass.kubernetes.io/is-default-class: "true"`` (the
  last applied if several); with no such object it uses the cluster's built-in default class, taken
  to be ``volumeBindingMode: WaitForFirstConsumer`` with a dynamic provisioner (as the default classes
  of GKE, EKS and AKS are). *WaitForFirstConsumer*: a claim stays Pending until the first pod using it
  is bound to a node; then a PersistentVolume ``pvc-<uid>`` is provisioned in that node's zone
  (``topology.kubernetes.io/zone``) and the claim is bound to it. *Immediate* (a StorageClass object's
  default when it names no mode: pkg/apis/storage/v1/defaults.go): the volume is provisioned as soon as
  the claim exists, in the zone the CSI external-provisioner prefers with no selected node
  (kubernetes-csi/external-provisioner:pkg/controller/topology.go ``GenerateAccessibilityRequirements``:
  the zones of the class's ``allowedTopologies``, else of every node, sorted, rotated by the FNV-1 hash
  of the claim's name, a StatefulSet claim ``<template>-<set>-<ordinal>`` hashing ``<set>`` and adding its
  ordinal, so a set's volumes go round the zones); its pods are then held to that zone, wherever their
  room is. A claim naming ``volumeName`` binds to that PersistentVolume (see :meth:`Volumes.create_volume`).
- **Zone (VolumeZone / VolumeBinding filters).** A pod whose claim is bound to a zonal volume may only
  run in that zone. The scheduler packages are not touched: instead, when such a pod is created, or
  when a claim of a still pending pod becomes bound, the pod's spec gets the required node affinity
  ``topology.kubernetes.io/zone In [zone]`` (ANDed into every required term) through
  ``state.set_pod_spec``. Any scheduler that honours required node affinity then honours volume zones,
  as upstream's filters make it. Two claims in different zones make the pod unschedulable, as upstream.
- **Attach/detach** (kubernetes/kubernetes:pkg/controller/volume/attachdetach, reconciler/reconciler.go):
  the desired state holds each volume of each pod bound to a node and not terminated (upstream
  ``IsPodTerminated``: Succeeded, Failed, or being deleted with no container running; checked when
  the pod is bound, changes phase, is asked to go, and when a container terminates). A wanted volume
  is attached to the node (after :attr:`Volumes.attach_seconds`); a volume whose access modes forbid
  multi-attach (ReadWriteOnce, ReadWriteOncePod) that is attached to another node is not: the pod's
  volume waits, with a ``VolumeAttachFailed`` ``MultiAttach`` event. A volume no longer wanted on a
  node is detached once the node's kubelet has unmounted it (at once when the kubelet is alive);
  if the kubelet cannot report (machine down, process stopped, node removed), it stays attached until
  the node is unhealthy (not Ready, or gone) and ``ReconcilerMaxWaitForUnmountDuration`` (6 min) has
  passed since the detach was requested: then it is force-detached. On a node carrying the
  out-of-service taint (``node.kubernetes.io/out-of-service``; upstream ``hasOutOfServiceTaint`` checks
  the key, whatever the effect) it is force-detached at once.
- **The kubelet's volume manager** (``WaitForAttachAndMount``): a pod's containers do not start until
  every one of its claims is bound and attached to its node. The kubelet asks :meth:`Volumes.ready_to_start`
  (set as ``sim.kubelet_dispatcher.volume_gate``) before starting a pod; a pod that must wait is
  resumed when its last volume is attached. Its containers stay Waiting (ContainerCreating) meanwhile.

**Data** is a counter of writes, so "nothing lost" can be checked: :meth:`Volumes.write` adds to the
volume's counter (a PersistentVolume's, or the pod's emptyDir's) and is refused (returns False)
when the pod is not running or the volume is not attached to its node; :meth:`Volumes.read` is what the
pod sees. A PersistentVolume keeps its data across container restarts, pod deletion and pod moves.
An emptyDir keeps it across container restarts only: it vanishes when the pod is deleted and when its
node powers off (``VolumeDataLost`` records what was lost).

Timeline of a ReadWriteOnce StatefulSet pod whose node dies (upstream's too): the pod stays, Terminating
once evicted, until the node object is deleted or the pod force-deleted; its replacement, restricted
to the volume's zone, is scheduled at once but waits with a Multi-Attach error until the volume is
force-detached 6 minutes after the old pod left; then it starts, with the data. A Deployment's pod
is replaced once evicted (about 350 s after the power-off), but its volume stays wanted while the API
still shows a container running (the dead kubelet cannot say otherwise), so the replacement waits the
same way; if no container was running (CrashLoopBackOff, ContainerCreating), the eviction itself takes
the volume out of the desired state and it is force-detached 6 minutes later.
Non-graceful node shutdown (KEP-2268): once the operator adds ``node.kubernetes.io/out-of-service``
(``NoExecute``) to the dead node, the taint eviction controller asks its pods to go at once, the pod
GC controller force-deletes them at its next pass (``gcTerminating``, within 20 s,
:mod:`podquake.model.controllers.podgc`), and their volumes are detached at once: a StatefulSet pod
runs again elsewhere in its zone within about 20 s of the taint.

Simplifications, on purpose: of a StorageClass only ``volumeBindingMode``, the default-class annotation
and the zones of ``allowedTopologies`` (Immediate) are read; a class named by a claim but not applied
is the built-in WaitForFirstConsumer one (a cloud's preinstalled class), where upstream leaves the
claim Pending; no capacity, reclaim policy or volume expansion;
PersistentVolumes are never deleted; ReadWriteOncePod is enforced as ReadWriteOnce (one node, not one
pod: upstream's VolumeRestrictions filter, pkg/scheduler/framework/plugins/volumerestrictions, keeps a
second pod of a ReadWriteOncePod claim Pending while another pod uses it, where the model lets it run
beside the first on the same node or wait with a Multi-Attach error on another); the scheduler's
VolumeBinding PreFilter is not modelled either, so a pod whose claim does not exist is scheduled and
waits ContainerCreating on its node, where upstream keeps it Pending ('persistentvolumeclaim "x" not
found'); volumes other than emptyDir and persistentVolumeClaim (configMap, secret, ...) need nothing; the
reconciler's 100 ms loop is event-driven here (a force-detach happens exactly 6 minutes after the
request), and a kubelet's unmount is noticed at its next node-status report (every 10 s) or when the
node's power or Ready condition changes.

No per-node attach limit (NodeVolumeLimits, pkg/scheduler/framework/plugins/nodevolumelimits/csi.go):
upstream takes it only from a CSINode object's ``spec.drivers[].allocatable.count`` and sets none for a
driver that reports none, so a generic CSI driver has no limit; the model has no CSINode objects, so
there is nothing to honour (a cloud disk driver's own limit, e.g. a few dozen per VM, is not modelled).

Timing left to the user: :attr:`Volumes.attach_seconds` (the cloud's attach call) is 0 by default,
because upstream has no such constant (it is the cloud API's latency, seconds to a minute, varying by
provider and disk type) and any default would shift every verdict by a guess; set it per simulation
(``sim.volumes.attach_seconds = 10``). Mounting is instant, and the kubelet starts a waiting pod as soon
as its last volume is attached: upstream's ``WaitForAttachAndMount`` (pkg/kubelet/volumemanager/
volume_manager.go) gives up after ``podAttachAndMountTimeout`` (2 min 3 s) with a ``FailedMount`` event
and the pod worker retries 10-15 s later (pod_workers.go backOffPeriod, jittered), so upstream starts a
pod whose attach lands in such a gap up to 15 s later, and records ``FailedMount`` events the model does
not. An emptyDir is lost when its node powers off whatever its ``medium``, where upstream's kubelet
finds a disk-backed one again after a reboot of the same machine.

Wiring: ``volumes = Volumes(sim); volumes.start()`` after ``sim.kubelet_dispatcher`` exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.errors import InputError
from podquake.model.objects import PersistentVolume, Pod, PodSpec, VolumeSpec
from podquake.model.selectors import NodeAffinity, NodeSelectorTerm, Requirement

if TYPE_CHECKING:
    from podquake.model.resources_api import PersistentVolumeClaim
    from podquake.model.simulation import Simulation

__all__ = ["Volumes", "immediate_zone", "require_zones"]

_PVC = "PersistentVolumeClaim"
_SC = "StorageClass"
_BINDING_MODES = (k8s.VOLUME_BINDING_IMMEDIATE, k8s.VOLUME_BINDING_WAIT_FOR_FIRST_CONSUMER)
_TERMINAL = ("Succeeded", "Failed")

Resume = Callable[[], None]


def require_zones(spec: PodSpec, zones: tuple[str, ...]) -> PodSpec:
    """``spec`` with ``topology.kubernetes.io/zone In [z]`` ANDed into its required node affinity for
    each zone (``spec`` itself when it already requires them). An empty term stays empty (it matches
    nothing either way).

    >>> from podquake.model.objects import ContainerSpec
    >>> spec = require_zones(PodSpec(containers=(ContainerSpec("c"),)), ("zone-b",))
    >>> spec.node_selector_matches("n", {"topology.kubernetes.io/zone": "zone-b"})
    True
    >>> spec.node_selector_matches("n", {"topology.kubernetes.io/zone": "zone-a"})
    False
    """
    wanted = tuple(Requirement(k8s.LABEL_ZONE, "In", (zone,)) for zone in zones)
    affinity = spec.node_affinity
    if affinity is None or affinity.required is None:
        preferred = affinity.preferred if affinity is not None else ()
        return replace(spec, node_affinity=NodeAffinity((NodeSelectorTerm(wanted),), preferred))
    terms = tuple(_and(term, wanted) for term in affinity.required)
    if terms == affinity.required:
        return spec
    return replace(spec, node_affinity=NodeAffinity(terms, affinity.preferred))


def _and(term: NodeSelectorTerm, wanted: tuple[Requirement, ...]) -> NodeSelectorTerm:
    if not (term.match_expressions or term.match_fields):
        return term  # an empty term matches nothing, with or without the zone
    missing = tuple(r for r in wanted if r not in term.match_expressions)
    return NodeSelectorTerm(term.match_expressions + missing, term.match_fields) if missing else term


def _fnv1_32(text: str) -> int:
    """Go's ``hash/fnv`` ``New32`` (FNV-1: multiply, then xor) of ``text``'s UTF-8 bytes."""
    h = 2166136261
    for byte in text.encode():
        h = ((h * 16777619) & 0xFFFFFFFF) ^ byte
    return h


def immediate_zone(claim: str, zones: list[str]) -> str:
    """The zone the CSI external-provisioner prefers for claim ``claim`` with no selected node (Immediate
    binding): kubernetes-csi/external-provisioner:pkg/controller/topology.go
    (``GenerateAccessibilityRequirements``: requisite terms sorted and deduplicated, rotated by
    ``(hash + index) % len``; ``getPVCNameHashAndIndexOffset``: a name ending ``-<integer>`` hashes the part
    between its last two dashes and adds the integer). The driver provisions in the first preferred zone.

    >>> [immediate_zone(f"data-db-{i}", ["zone-a", "zone-b", "zone-c"]) for i in range(4)]
    ['zone-b', 'zone-c', 'zone-a', 'zone-b']
    """
    terms = sorted(set(zones))
    if not terms:
        return ""
    hashed, index = claim, 0
    head, dash, tail = claim.rpartition("-")
    if dash and tail.isdigit() and int(tail) < 2**32:
        index, hashed = int(tail), head.rpartition("-")[2]
    return terms[((_fnv1_32(hashed) + index) & 0xFFFFFFFF) % len(terms)]


def _terminated(pod: Pod) -> bool:
    """Upstream ``IsPodTerminated`` (pkg/volume/util/util.go), which keeps a pod's volumes out of the
    attach/detach controller's desired state: Succeeded or Failed, or being deleted with no container
    running (waiting or terminated, or no status yet)."""
    if pod.phase in _TERMINAL:
        return True
    return pod.deletion_timestamp is not None and all(c.state != "running" for c in pod.containers)


def _raw(storage_class: object | None) -> dict:  # type: ignore[type-arg]
    """A StorageClass object's manifest mapping (kept as data: a GenericObject's ``raw``)."""
    raw = getattr(storage_class, "raw", None)
    return raw if isinstance(raw, dict) else {}


def _allowed_zones(raw: dict) -> list[str]:  # type: ignore[type-arg]
    """The zones a StorageClass's ``allowedTopologies`` names (``matchLabelExpressions`` on the zone label)."""
    zones: list[str] = []
    for term in raw.get("allowedTopologies") or ():
        for expression in (term or {}).get("matchLabelExpressions") or ():
            if isinstance(expression, dict) and expression.get("key") == k8s.LABEL_ZONE:
                zones.extend(str(v) for v in expression.get("values") or ())
    return zones


class Volumes:
    """Claims, PersistentVolumes, attachments and volume data of one simulation. See the module docstring."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.env = sim.env
        self.state = sim.state
        #: Seconds an attach takes (the cloud API call); 0 attaches at once. Upstream has no constant:
        #: it is the cloud's latency, so the model leaves it to the user (see the module docstring).
        self.attach_seconds = 0.0
        #: ``ReconcilerMaxWaitForUnmountDuration``: how long a still-mounted volume on an unhealthy node
        #: waits before it is force-detached.
        self.max_wait_for_unmount = k8s.ATTACH_DETACH_MAX_WAIT_FOR_UNMOUNT_SECONDS
        self._claims_of: dict[str, tuple[tuple[str, str], ...]] = {}  # pod key -> ((volume, claim), ...)
        self._pods_by_claim: dict[tuple[str, str], dict[str, None]] = {}  # (namespace, claim) -> pod keys
        self._in_dsw: dict[str, tuple[str, tuple[str, ...]]] = {}  # pod key -> (node, volumes it wants there)
        self._wanted: dict[str, dict[str, dict[str, None]]] = {}  # volume -> node -> pod keys
        self._attaching: dict[tuple[str, str], None] = {}  # (volume, node) attaches in flight
        self._detach_requested: dict[tuple[str, str], float] = {}  # (volume, node) -> when
        self._reported: dict[str, dict[str, None]] = {}  # pod key -> volumes with a reported attach failure
        self._gated: dict[str, tuple[Pod, str, Resume]] = {}  # pod key -> (pod, node, resume): waiting kubelets
        self._zonal_specs: dict[tuple[int, tuple[str, ...]], tuple[PodSpec, PodSpec]] = {}
        self._polling = False
        self._classes: list[str] = []  # StorageClass object names, in state.objects order

    def start(self) -> None:
        state = self.state
        state.watch(ev.PodCreated, self._on_pod_created)
        state.watch(ev.PodBound, self._on_pod_bound)
        state.watch(ev.PodDeleted, self._on_pod_deleted)
        state.watch(ev.PodPhaseChanged, self._on_pod_phase)
        state.watch(ev.ContainerTerminated, self._on_container_terminated)
        state.watch(ev.PodDeletionRequested, self._on_deletion_requested)
        state.watch(ev.NodePowerChanged, self._on_node_power)
        state.watch(ev.NodeReadyChanged, self._on_node_event)
        state.watch(ev.NodeTainted, self._on_node_event)
        state.watch(ev.NodeRemoved, self._on_node_event)
        state.watch(ev.ObjectApplied, self._on_object_applied)
        self.sim.kubelet_dispatcher.volume_gate = self.ready_to_start
        for pod in list(state.pods.values()):
            self._track(pod)
            if pod.node_name is not None:
                self._bind_claims(pod, pod.node_name)
        self._classes = [name for kind, _namespace, name in state.objects if kind == _SC]
        self._provision_pending()

    # === the public API ============================================================================
    def write(self, pod_key: str, volume: str, writes: int = 1) -> bool:
        """Pod ``pod_key`` writes ``writes`` units to its volume ``volume``. Returns False (nothing
        written) when the pod is not running on an up node, or its claim is not attached there.

        Example: ``sim.volumes.write("default/db-0", "data", 5)``.
        """
        pod, spec = self._pod_volume(pod_key, volume)
        if pod is None or spec is None or not self._running(pod):
            return False
        if spec.kind == "persistentVolumeClaim":
            pv = self.volume_for_claim(pod.namespace, spec.claim_name or "")
            if pv is None or pod.node_name not in pv.attached:
                return False
            self.state.write_volume(pod_key, volume, writes, pv.name)
        elif spec.kind == "emptyDir":
            self.state.write_volume(pod_key, volume, writes)
        else:
            raise ValueError(f"volume {volume!r} of pod {pod_key} is a {spec.kind} volume; only emptyDir and persistentVolumeClaim hold data")
        return True

    def read(self, pod_key: str, volume: str) -> int | None:
        """The writes pod ``pod_key`` sees in its volume ``volume`` (None when the pod is gone or the
        claim is not attached to its node).

        Example: ``sim.volumes.read("default/db-0", "data")``.
        """
        pod, spec = self._pod_volume(pod_key, volume)
        if pod is None or spec is None or pod.node_name is None:
            return None
        if spec.kind == "persistentVolumeClaim":
            pv = self.volume_for_claim(pod.namespace, spec.claim_name or "")
            return pv.writes if pv is not None and pod.node_name in pv.attached else None
        return self.state.empty_dirs.get(pod_key, {}).get(volume, 0)

    def volume_for_claim(self, namespace: str, claim: str) -> PersistentVolume | None:
        """The PersistentVolume claim ``namespace/claim`` is bound to, or None."""
        pvc: PersistentVolumeClaim | None = self.state.objects.get((_PVC, namespace, claim))  # type: ignore[assignment]
        if pvc is None or pvc.volume_name is None:
            return None
        pv = self.state.volumes.get(pvc.volume_name)
        return pv if pv is not None and pv.claim == f"{namespace}/{claim}" else None

    def claim_writes(self, namespace: str, claim: str) -> int:
        """The data held by the volume bound to claim ``namespace/claim`` (0 if unbound)."""
        pv = self.volume_for_claim(namespace, claim)
        return pv.writes if pv is not None else 0

    def create_volume(self, name: str, zone: str = "", access_modes: tuple[str, ...] = ("ReadWriteOnce",), storage_bytes: int = 2**30) -> PersistentVolume:
        """A statically provisioned PersistentVolume, for claims that name it in ``volumeName``."""
        pv = self.state.add_volume(PersistentVolume(name, zone, access_modes, storage_bytes))
        for namespace, claim in list(self._pods_by_claim):
            pvc = self.state.objects.get((_PVC, namespace, claim))
            if getattr(pvc, "volume_name", None) == name:
                self._on_claim(namespace, claim)
        return pv

    def ready_to_start(self, pod: Pod, node_name: str, resume: Resume) -> bool:
        """The kubelet's question before it starts ``pod``: are its volumes bound and attached to
        ``node_name``? If not, ``resume()`` is called (once, later) when they are."""
        key = pod.key
        if key not in self._claims_of:
            return True
        if self._volumes_ready(pod, node_name):
            self._gated.pop(key, None)
            return True
        self._gated[key] = (pod, node_name, resume)
        return False

    # === tracking pods ===============================================================================
    def _track(self, pod: Pod) -> None:
        claims = tuple((v.name, v.claim_name) for v in pod.spec.volumes if v.kind == "persistentVolumeClaim" and v.claim_name)
        if not claims:
            return
        key = pod.key
        self._claims_of[key] = claims
        for _, claim in claims:
            self._pods_by_claim.setdefault((pod.namespace, claim), {})[key] = None
        if pod.node_name is None:
            self._restrict_to_zones(pod)

    def _on_pod_created(self, event: ev.PodCreated) -> None:
        pod = self.state.pods_by_key.get(event.pod)
        if pod is not None and pod.spec.volumes:
            self._track(pod)

    def _on_pod_bound(self, event: ev.PodBound) -> None:
        if event.pod in self._claims_of:
            pod = self.state.pods_by_key[event.pod]
            self._bind_claims(pod, event.node)

    def _on_pod_deleted(self, event: ev.PodDeleted) -> None:
        key = event.pod
        if key in self.state.empty_dirs:
            self.state.lose_empty_dirs(key, "PodDeleted")
        claims = self._claims_of.pop(key, None)
        if claims is None:
            return
        namespace = key.partition("/")[0]
        for _, claim in claims:
            users = self._pods_by_claim.get((namespace, claim))
            if users is not None:
                users.pop(key, None)
                if not users:
                    del self._pods_by_claim[(namespace, claim)]
        self._gated.pop(key, None)
        self._reported.pop(key, None)
        self._dsw_remove(key)

    def _on_pod_phase(self, event: ev.PodPhaseChanged) -> None:
        if event.phase in _TERMINAL and event.pod in self._in_dsw:
            self._dsw_remove(event.pod)

    def _on_container_terminated(self, event: ev.ContainerTerminated) -> None:
        self._recheck_terminated(event.pod)

    def _on_deletion_requested(self, event: ev.PodDeletionRequested) -> None:
        # A pod with no container running (CrashLoopBackOff, ContainerCreating) is terminated as soon
        # as it is asked to go: no ContainerTerminated follows, least of all on a dead node.
        self._recheck_terminated(event.pod)

    def _recheck_terminated(self, key: str) -> None:
        if key not in self._in_dsw:
            return
        pod = self.state.pods_by_key.get(key)
        if pod is not None and _terminated(pod):
            self._dsw_remove(key)

    def _on_object_applied(self, event: ev.ObjectApplied) -> None:
        if event.kind == _PVC:
            namespace, _, claim = event.name.partition("/")
            self._provision_immediate(namespace, claim)
            self._on_claim(namespace, claim)
        elif event.kind == _SC:
            self._class_mode(self.state.objects[(_SC, "", event.name.partition("/")[2])])  # checks it
            self._classes = [name for kind, _namespace, name in self.state.objects if kind == _SC]
            self._provision_pending()

    def _on_claim(self, namespace: str, claim: str) -> None:
        """A claim appeared (or its volume did): bind it for a consumer already on a node, and let
        the waiting pods of that claim go on."""
        users = [self.state.pods_by_key[k] for k in self._pods_by_claim.get((namespace, claim), {})]
        bound = [pod for pod in users if pod.node_name is not None]
        if bound:
            for pod in bound:
                self._bind_claims(pod, pod.node_name or "")
        elif self.volume_for_claim(namespace, claim) is not None:
            for pod in users:
                self._restrict_to_zones(pod)

    # === binding and the zone =======================================================================
    def _storage_class(self, pvc: PersistentVolumeClaim) -> object | None:
        """The StorageClass object ``pvc`` uses: the one it names, or the last applied default; None
        when there is none (the built-in WaitForFirstConsumer class)."""
        objects = self.state.objects
        if pvc.storage_class_name:
            return objects.get((_SC, "", pvc.storage_class_name))
        if pvc.storage_class_name == "":
            return None  # "": no class, no provisioning by class (a pre-bound volumeName, or the built-in)
        default = None
        for name in self._classes:
            obj = objects.get((_SC, "", name))
            if _raw(obj).get("metadata", {}).get("annotations", {}).get(k8s.ANNOTATION_DEFAULT_STORAGE_CLASS) == "true":
                default = obj
        return default

    def _class_mode(self, storage_class: object | None) -> str:
        """The class's ``volumeBindingMode`` (Immediate when unset, as upstream defaults it)."""
        if storage_class is None:
            return k8s.VOLUME_BINDING_WAIT_FOR_FIRST_CONSUMER
        raw = _raw(storage_class)
        mode = raw.get("volumeBindingMode")
        if mode is None:
            return k8s.VOLUME_BINDING_IMMEDIATE
        if mode not in _BINDING_MODES:
            name = raw.get("metadata", {}).get("name", "")
            raise InputError(
                f"unsupported volumeBindingMode {mode!r}", source=f"StorageClass {name}", field="volumeBindingMode",
                fix="use Immediate or WaitForFirstConsumer (pkg/apis/storage/validation/validation.go)",
            )
        return mode  # type: ignore[no-any-return]

    def _provision_pending(self) -> None:
        for kind, namespace, name in list(self.state.objects):
            if kind == _PVC:
                self._provision_immediate(namespace, name)

    def _provision_immediate(self, namespace: str, claim: str) -> None:
        """Immediate binding: provision and bind an unbound claim of an Immediate class now, in the zone
        :func:`immediate_zone` picks, and hold its pending pods to that zone."""
        state = self.state
        pvc: PersistentVolumeClaim | None = state.objects.get((_PVC, namespace, claim))  # type: ignore[assignment]
        if pvc is None or pvc.volume_name is not None:
            return
        storage_class = self._storage_class(pvc)
        if self._class_mode(storage_class) != k8s.VOLUME_BINDING_IMMEDIATE:
            return
        zones = _allowed_zones(_raw(storage_class)) or [node.zone for node in state.nodes.values() if node.zone]
        self._provision(namespace, claim, pvc, immediate_zone(claim, zones))

    def _provision(self, namespace: str, claim: str, pvc: PersistentVolumeClaim, zone: str) -> PersistentVolume:
        pv = PersistentVolume(
            name=f"pvc-{self.sim.new_uid()}",
            zone=zone,
            access_modes=pvc.access_modes,
            storage_bytes=pvc.storage_bytes,
            claim=f"{namespace}/{claim}",
        )
        self.state.add_volume(pv)
        self.state.bind_claim(namespace, claim, pv.name)
        self._claim_bound(namespace, claim)
        return pv

    def _bind_claims(self, pod: Pod, node_name: str) -> None:
        """WaitForFirstConsumer: bind (provisioning if needed) each claim of ``pod``, bound to ``node_name``."""
        for _, claim in self._claims_of[pod.key]:
            self._ensure_bound(pod.namespace, claim, node_name)
        self._dsw_add(pod, node_name)

    def _ensure_bound(self, namespace: str, claim: str, node_name: str) -> PersistentVolume | None:
        state = self.state
        pvc: PersistentVolumeClaim | None = state.objects.get((_PVC, namespace, claim))  # type: ignore[assignment]
        if pvc is None:
            return None  # the pod waits for its claim to exist
        if pvc.volume_name is not None:
            pv = state.volumes.get(pvc.volume_name)
            if pv is None or pv.claim not in (None, f"{namespace}/{claim}"):
                return None  # pre-bound to a volume that does not exist (yet) or is taken
            if pv.claim is None:
                state.bind_claim(namespace, claim, pv.name)
                self._claim_bound(namespace, claim)
            return pv
        node = state.nodes.get(node_name)
        return self._provision(namespace, claim, pvc, node.zone if node is not None else "")

    def _claim_bound(self, namespace: str, claim: str) -> None:
        for key in list(self._pods_by_claim.get((namespace, claim), {})):
            pod = self.state.pods_by_key.get(key)
            if pod is not None and pod.node_name is None:
                self._restrict_to_zones(pod)

    def _restrict_to_zones(self, pod: Pod) -> None:
        """The model's VolumeZone/VolumeBinding filters: require the zones of the pod's bound volumes.
        Not for a pod whose ``spec.nodeName`` names its node: no scheduler sees it, so no filter applies."""
        if pod.spec.node_name is not None:
            return
        zones: dict[str, None] = {}
        for _, claim in self._claims_of.get(pod.key, ()):
            pv = self.volume_for_claim(pod.namespace, claim)
            if pv is not None and pv.zone:
                zones[pv.zone] = None
        if not zones:
            return
        wanted = tuple(sorted(zones))
        cache_key = (id(pod.spec), wanted)
        hit = self._zonal_specs.get(cache_key)
        if hit is not None and hit[0] is pod.spec:
            spec = hit[1]
        else:
            spec = require_zones(pod.spec, wanted)
            self._zonal_specs[cache_key] = (pod.spec, spec)
        if spec is not pod.spec:
            self.state.set_pod_spec(pod.uid, spec, f"VolumeZone {k8s.LABEL_ZONE}={','.join(wanted)}")

    # === attach/detach: desired state ===============================================================
    def _dsw_add(self, pod: Pod, node: str) -> None:
        key = pod.key
        if _terminated(pod) or pod.node_name != node:
            return
        old = self._in_dsw.get(key)
        if old is not None and old[0] != node:
            self._dsw_remove(key)
            old = None
        volumes = list(old[1]) if old is not None else []
        for _, claim in self._claims_of[key]:
            pv = self.volume_for_claim(pod.namespace, claim)
            if pv is not None and pv.name not in volumes:
                volumes.append(pv.name)
        self._in_dsw[key] = (node, tuple(volumes))
        for name in volumes:
            self._wanted.setdefault(name, {}).setdefault(node, {})[key] = None
            self._detach_requested.pop((name, node), None)  # used again: the detach request is aborted
            self._attach(name, node, key)
        self._release(node)

    def _dsw_remove(self, key: str) -> None:
        entry = self._in_dsw.pop(key, None)
        if entry is None:
            return
        node, volumes = entry
        for name in volumes:
            nodes = self._wanted.get(name, {})
            users = nodes.get(node, {})
            users.pop(key, None)
            if not users:
                nodes.pop(node, None)
                if not nodes:
                    self._wanted.pop(name, None)
                self._request_detach(name, node)

    # === attach ======================================================================================
    def _attach(self, name: str, node: str, pod_key: str) -> None:
        pv = self.state.volumes[name]
        if node in pv.attached or (name, node) in self._attaching:
            return
        node_obj = self.state.nodes.get(node)
        if pv.zone and node_obj is not None and node_obj.zone != pv.zone:
            self._report(pod_key, name, node, "VolumeNodeAffinityConflict")
            return
        if not pv.multi_attach:
            if any(n != node for n in pv.attached) or any(v == name and n != node for v, n in self._attaching):
                self._report(pod_key, name, node, "MultiAttach")
                return
        if self.attach_seconds <= 0:
            self.state.attach_volume(name, node)
            return
        self._attaching[(name, node)] = None
        self.sim.kubelet_dispatcher.call_at(self.env.now + self.attach_seconds, self._attach_done, name, node)

    def _attach_done(self, name: str, node: str) -> None:
        self._attaching.pop((name, node), None)
        self.state.attach_volume(name, node)
        if node not in self._wanted.get(name, {}):
            self._request_detach(name, node)  # its pod left while the attach was in flight
            return
        self._release(node)

    def _report(self, pod_key: str, name: str, node: str, reason: str) -> None:
        reported = self._reported.setdefault(pod_key, {})
        if name not in reported:
            reported[name] = None
            self.state.record_attach_failure(name, node, pod_key, reason)

    def _attach_waiting(self, name: str) -> None:
        """After ``name`` was detached somewhere: attach it where pods still want it."""
        for node, users in list(self._wanted.get(name, {}).items()):
            for key in list(users):
                self._reported.get(key, {}).pop(name, None)
            if users:
                self._attach(name, node, next(iter(users)))
                self._release(node)

    # === detach ======================================================================================
    def _request_detach(self, name: str, node: str) -> None:
        pv = self.state.volumes.get(name)
        if pv is None or node not in pv.attached:
            return
        requested = self._detach_requested.setdefault((name, node), self.env.now)
        timeout = self.env.timeout(max(0.0, requested + self.max_wait_for_unmount - self.env.now))
        timeout.callbacks.append(lambda _e: self._try_detach(name, node))  # type: ignore[union-attr]
        self._try_detach(name, node)

    def _try_detach(self, name: str, node: str) -> None:
        requested = self._detach_requested.get((name, node))
        if requested is None:
            return
        node_obj = self.state.nodes.get(node)
        healthy = node_obj is not None and node_obj.ready == "True"
        # hasOutOfServiceTaint: upstream checks the key only (taints.TaintKeyExists), whatever the effect
        out_of_service = node_obj is not None and any(t.key == k8s.TAINT_OUT_OF_SERVICE for t in node_obj.taints)
        mounted = not self._kubelet_can_unmount(node)
        force = not healthy and self.env.now >= requested + self.max_wait_for_unmount
        if mounted and not force and not out_of_service:
            self._poll()
            return
        del self._detach_requested[(name, node)]
        self.state.detach_volume(name, node, forced=mounted)
        self._attach_waiting(name)

    def _kubelet_can_unmount(self, node: str) -> bool:
        """The node's kubelet is alive and acting, so it has unmounted what no pod there uses."""
        kubelet = self.sim.kubelet_dispatcher.kubelets.get(node)
        return kubelet is not None and kubelet.acting

    def _poll(self) -> None:
        """Re-check pending detaches at the kubelets' node-status period while any are pending."""
        if self._polling:
            return
        self._polling = True
        timeout = self.env.timeout(k8s.NODE_STATUS_UPDATE_FREQUENCY_SECONDS)
        timeout.callbacks.append(lambda _e: self._poll_fired())  # type: ignore[union-attr]

    def _poll_fired(self) -> None:
        self._polling = False
        for name, node in list(self._detach_requested):
            self._try_detach(name, node)

    def _on_node_event(self, event: ev.Event) -> None:
        node: str = event.node  # type: ignore[attr-defined]
        for name, where in list(self._detach_requested):
            if where == node:
                self._try_detach(name, node)

    def _on_node_power(self, event: ev.NodePowerChanged) -> None:
        if not event.up:
            node = self.state.nodes.get(event.node)
            empty_dirs = self.state.empty_dirs
            if node is not None and empty_dirs:
                for pod in list(node.pods.values()):
                    if pod.key in empty_dirs:
                        self.state.lose_empty_dirs(pod.key, "NodePowerOff")
        self._on_node_event(event)

    # === the kubelet's side ===========================================================================
    def _volumes_ready(self, pod: Pod, node: str) -> bool:
        for _, claim in self._claims_of.get(pod.key, ()):
            pv = self.volume_for_claim(pod.namespace, claim)
            if pv is None or node not in pv.attached:
                return False
        return True

    def _release(self, node: str) -> None:
        """Resume the kubelets waiting on ``node`` whose pods now have every volume attached."""
        if not self._gated:
            return
        for key, (pod, where, resume) in list(self._gated.items()):
            if where == node and self._volumes_ready(pod, node):
                del self._gated[key]
                self.sim.kubelet_dispatcher.call_at(self.env.now, resume)

    # === helpers ======================================================================================
    def _pod_volume(self, pod_key: str, volume: str) -> tuple[Pod | None, VolumeSpec | None]:
        pod = self.state.pods_by_key.get(pod_key)
        if pod is None:
            return None, None
        for spec in pod.spec.volumes:
            if spec.name == volume:
                return pod, spec
        names = ", ".join(v.name for v in pod.spec.volumes) or "none"
        raise ValueError(f"pod {pod_key} has no volume {volume!r}; its volumes: {names}")

    def _running(self, pod: Pod) -> bool:
        if pod.node_name is None or pod.phase in _TERMINAL:
            return False
        node = self.state.nodes.get(pod.node_name)
        return node is not None and node.up and any(c.state == "running" for c in pod.containers)

    def __repr__(self) -> str:
        return f"Volumes({len(self.state.volumes)} PersistentVolumes)"
