"""Fault kinds that hit machines, the network, pods and containers.

Targets (``node``, ``zone``, ``pod``, ``container``) are names or selector indexes, as
:mod:`podquake.chaos.faults_base` explains; what each fault does in the model is
:mod:`podquake.chaos.faults_effects`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass

from podquake.chaos.faults_base import Fault, valid_ref
from podquake.model.network import CLOUD_LB, CONTROL_PLANE, CORE

__all__ = [
    "ContainerCrash",
    "KubeletStop",
    "NetworkPartition",
    "NodeDrain",
    "NodeFailure",
    "NodeFault",
    "PodKill",
    "ProbeFailure",
    "RuntimeFailure",
    "ZoneOutage",
]

_NODE_EXAMPLE = 'node="worker-2" or node=0 (the busiest node)'
_POD_EXAMPLE = 'pod="default/web-0" or pod=0 (the oldest running pod)'
_PROBES = ("readiness", "liveness", "startup")


@dataclass(frozen=True, kw_only=True, repr=False)
class NodeFault(Fault):
    """A fault that hits one node (by name or selector) from ``at`` for ``duration`` seconds
    (None: for good). The node kinds below differ only in what the nemesis does to the node."""

    node: str | int
    at: float
    duration: float | None = None

    def __post_init__(self) -> None:
        self._check_ref("node", "node", _NODE_EXAMPLE)
        self._check_time()
        self._check_duration()


@dataclass(frozen=True, kw_only=True, repr=False)
class NodeFailure(NodeFault):
    """The node's machine crashes: every container on it dies at once (``Kubelet.power_off``). It
    boots again after ``duration`` seconds (``power_on``: the kubelet comes back and restarts the
    pods the API still binds there), or never when ``duration`` is None.

    ``out_of_service``: seconds after the crash at which an operator, seeing the machine is down,
    marks the node out of service (the ``node.kubernetes.io/out-of-service=nodeshutdown:NoExecute``
    taint of Kubernetes' non-graceful node shutdown, KEP-2268): its pods are evicted, the pod
    garbage collector force-deletes them and their volumes are detached at once, so a StatefulSet's
    pods and their ReadWriteOnce volumes move elsewhere instead of waiting for the machine. The
    operator removes the taint when the machine boots again. None (the default): nobody does, and
    a StatefulSet pod on a machine that never comes back is stuck, as upstream. Campaigns do not
    draw it; a scenario file or a ``ClusterMachine`` rule of one's own gives it.

    >>> NodeFailure(node="worker-2", at=30.0, duration=60.0)
    NodeFailure(node='worker-2', at=30.0, duration=60.0)
    >>> NodeFailure(node=0, at=30.0, out_of_service=120.0).to_dict()
    {'kind': 'node-failure', 'node': 0, 'at': 30.0, 'outOfService': 120.0}
    """

    kind = "node-failure"
    summary = "A node's machine crashes (all its containers die); it boots again after `duration`, or never (optionally marked out of service after `outOfService` s)."
    out_of_service: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.out_of_service is not None:
            self._check_number("out_of_service", low=0.0)


@dataclass(frozen=True, kw_only=True, repr=False)
class NodeDrain(NodeFault):
    """``kubectl drain`` of the node: cordon it and evict its pods through the eviction API, so
    PodDisruptionBudgets apply (DaemonSet pods are skipped; bare pods refuse the drain, as kubectl
    without ``--force``). After ``duration`` the node is uncordoned (the drain is given ``duration``
    as its timeout); with None it stays cordoned.

    >>> NodeDrain(node=0, at=60.0, duration=300.0).to_dict()
    {'kind': 'node-drain', 'node': 0, 'at': 60.0, 'duration': 300.0}
    """

    kind = "node-drain"
    summary = "kubectl drain: cordon a node and evict its pods through the eviction API (PDBs apply); uncordon after `duration`."


@dataclass(frozen=True, kw_only=True, repr=False)
class KubeletStop(NodeFault):
    """The node's kubelet process stops (``stop_kubelet``): no lease renewals, so the node goes
    Unknown after the grace period and its pods are evicted, while its containers keep running. It
    starts again after ``duration`` (or never).

    >>> KubeletStop(node=1, at=10.0, duration=120.0)
    KubeletStop(node=1, at=10.0, duration=120.0)
    """

    kind = "kubelet-stop"
    summary = "A node's kubelet process stops (no heartbeats; containers keep running); it restarts after `duration`."


@dataclass(frozen=True, kw_only=True, repr=False)
class RuntimeFailure(NodeFault):
    """The node's container runtime stops answering (``fail_runtime``): the kubelet can start or stop
    nothing, and reports the node NotReady once the runtime has been down 30 s (upstream's
    ``maxWaitForContainerRuntime``; a shorter failure leaves the node Ready). It answers again after
    ``duration`` (or never); a node reported NotReady is reported Ready at the renewal after the
    kubelet's next 5 s runtime status check (``recover_runtime``).

    >>> RuntimeFailure(node=0, at=5.0, duration=60.0).to_dict()
    {'kind': 'runtime-failure', 'node': 0, 'at': 5.0, 'duration': 60.0}
    """

    kind = "runtime-failure"
    summary = "A node's container runtime stops answering (NotReady after 30 s) until it recovers after `duration`."


@dataclass(frozen=True, kw_only=True, repr=False)
class NetworkPartition(Fault):
    """A network partition (:mod:`podquake.model.network`), exactly one of:

    - ``node``: that node and the control plane cannot reach each other (its kubelet is cut off, its
      containers keep serving): the split brain of a real cluster;
    - ``zone``: the zone's uplink is down; its nodes reach only each other;
    - ``groups``: the endpoints fall into groups that cannot reach each other; each entry is a node
      (name or selector), ``"control-plane"`` or ``"cloud-lb"``; the endpoints named nowhere are one
      more group. A node that two selectors resolve to stays in the first group that names it.

    Healed after ``duration`` (None: permanent).

    >>> NetworkPartition(groups=[[0, 1], ["control-plane"]], at=20.0, duration=40.0)
    NetworkPartition(groups=((0, 1), ('control-plane',)), at=20.0, duration=40.0)
    """

    kind = "network-partition"
    summary = "A node cut off from the control plane, a zone isolated, or an arbitrary split, healed after `duration`."

    node: str | int | None = None
    zone: str | int | None = None
    groups: tuple[tuple[str | int, ...], ...] | None = None
    at: float
    duration: float | None = None

    def __post_init__(self) -> None:
        given = [name for name in ("node", "zone", "groups") if getattr(self, name) is not None]
        if len(given) != 1:
            raise self._fail(
                "node",
                f"a network partition names exactly one of node, zone or groups (got {', '.join(given) or 'none'})",
                "write node=0, zone='zone-a' or groups=[[0], ['control-plane']]",
            )
        if self.node is not None:
            self._check_ref("node", "node", _NODE_EXAMPLE)
        if self.zone is not None:
            self._check_ref("zone", "zone", "zone='zone-a' or zone=0 (the first zone by name)")
        if self.groups is not None:
            self._check_groups()
        self._check_time()
        self._check_duration()

    def _check_groups(self) -> None:
        example = "groups=[[0, 1], ['control-plane']]"
        raw = self.groups
        if isinstance(raw, (str, bytes)) or not isinstance(raw, (list, tuple)) or not raw:
            raise self._fail("groups", f"groups must be a non-empty list of groups, not {raw!r}", f"write e.g. {example}")
        groups = []
        for group in raw:
            if isinstance(group, (str, bytes)) or not isinstance(group, (list, tuple)) or not group:
                raise self._fail("groups", f"each group must be a non-empty list of endpoints, not {group!r}", f"write e.g. {example}")
            for member in group:
                if member not in (CONTROL_PLANE, CLOUD_LB) and (member == CORE or not valid_ref(member)):
                    raise self._fail(
                        "groups",
                        f"{member!r} is not an endpoint: use a node name, a node selector index >= 0, "
                        f"{CONTROL_PLANE!r} or {CLOUD_LB!r}",
                        f"write e.g. {example}",
                    )
            groups.append(tuple(group))
        self._set("groups", tuple(groups))


@dataclass(frozen=True, kw_only=True, repr=False)
class ZoneOutage(Fault):
    """Every machine of the zone powers off at once (a data-centre power or cooling failure). After
    ``duration`` the machines this fault powered off boot again; with None they never do.

    >>> ZoneOutage(zone=0, at=100.0, duration=600.0)
    ZoneOutage(zone=0, at=100.0, duration=600.0)
    """

    kind = "zone-outage"
    summary = "Every machine of a zone powers off; they boot again after `duration`, or never."

    zone: str | int
    at: float
    duration: float | None = None

    def __post_init__(self) -> None:
        self._check_ref("zone", "zone", "zone='zone-a' or zone=0 (the first zone by name)")
        self._check_time()
        self._check_duration()


@dataclass(frozen=True, kw_only=True, repr=False)
class ContainerCrash(Fault):
    """A container's process dies with ``exit_code`` (or is OOM-killed: exit 137, reason
    ``OOMKilled``, with ``oom=True``); the kubelet's restart policy and back-off apply.

    Once, by default. With ``repeat=True`` it is a crash loop: the container dies again ``uptime``
    seconds after each restart, for ``duration`` seconds (None: for good, as a broken build), so the
    kubelet's back-off grows (CrashLoopBackOff).

    >>> ContainerCrash(pod=0, at=30.0, oom=True)
    ContainerCrash(pod=0, at=30.0, oom=True)
    >>> ContainerCrash(pod="default/web-0", at=30.0, duration=300.0, repeat=True).to_dict()["repeat"]
    True
    """

    kind = "container-crash"
    summary = "A container exits (an exit code, or an OOM kill), once or after every restart for `duration` (a crash loop)."

    pod: str | int
    at: float
    duration: float | None = None
    container: str | int = 0
    exit_code: int = 1
    oom: bool = False
    repeat: bool = False
    uptime: float = 0.0

    @property
    def instant(self) -> bool:
        """A single crash is over when it happens; a crash loop lasts."""
        return not self.repeat

    def __post_init__(self) -> None:
        self._check_ref("pod", "pod", _POD_EXAMPLE, namespaced=True)
        self._check_time()
        self._check_ref("container", "container", "container='web' or container=0")
        self._check_int("exit_code", low=1, high=255)
        self._check_bool("oom")
        self._check_bool("repeat")
        if self.oom and self.exit_code != 1:
            raise self._fail("exit_code", "an OOM kill always exits with 137", "leave exit_code out when oom is true")
        self._check_number("uptime", low=0.0)
        if self.repeat:
            self._check_duration()
        else:
            if self.duration is not None:
                raise self._fail("duration", "a single crash has no duration", "add repeat=True for a crash loop, or leave duration out")
            if self.uptime:
                raise self._fail("uptime", "uptime is the time between restarts of a crash loop", "add repeat=True, or leave uptime out")


@dataclass(frozen=True, kw_only=True, repr=False)
class PodKill(Fault):
    """``kubectl delete pod``: a graceful delete (its kubelet stops it; its controller replaces it),
    or with ``force=True`` the pod is removed from the API at once (``--force --grace-period=0``).

    >>> PodKill(pod=2, at=45.0, force=True)
    PodKill(pod=2, at=45.0, force=True)
    """

    kind = "pod-kill"
    summary = "A pod is deleted (gracefully, or forced at once); its controller should replace it."

    pod: str | int
    at: float
    force: bool = False

    def __post_init__(self) -> None:
        self._check_ref("pod", "pod", _POD_EXAMPLE, namespaced=True)
        self._check_time()
        self._check_bool("force")


@dataclass(frozen=True, kw_only=True, repr=False)
class ProbeFailure(Fault):
    """A container's ``probe`` check (``readiness`` by default, ``liveness`` or ``startup``) fails
    for ``duration`` seconds (None: for good). With ``flap`` it flaps instead: failing for ``flap``
    seconds, passing for ``flap`` seconds, and so on. A readiness failure takes the pod out of its
    Services' endpoints (after the probe's failureThreshold); a liveness failure restarts the
    container. A container without that probe makes the fault a no-op (recorded as skipped).

    >>> ProbeFailure(pod=0, at=10.0, duration=120.0, flap=15.0)
    ProbeFailure(pod=0, at=10.0, duration=120.0, flap=15.0)
    """

    kind = "probe-failure"
    summary = "A container's readiness (or liveness/startup) probe fails, steadily or flapping every `flap` seconds."

    pod: str | int
    at: float
    duration: float | None = None
    container: str | int = 0
    probe: str = "readiness"
    flap: float | None = None

    def __post_init__(self) -> None:
        self._check_ref("pod", "pod", _POD_EXAMPLE, namespaced=True)
        self._check_time()
        self._check_duration()
        self._check_ref("container", "container", "container='web' or container=0")
        self._check_choice("probe", _PROBES)
        if self.flap is not None:
            self._check_number("flap", low=0.0, low_open=True)
