"""podquake.model: a deterministic, in-memory Kubernetes cluster in simulated time.

The pieces, from the bottom up: quantities and :class:`Resources`; the objects (:class:`Node`,
:class:`Pod`, workloads); the :class:`ClusterState` store, their single writer, which records every
transition in the :class:`Trace`; the control plane and kubelets as SimPy processes; the scheduler
plug-in contract with built-in schedulers; manifest loading and cluster specs; and the
:class:`Simulation` that owns the clock and the seeded random generator.
"""

from podquake.model.cluster import ClusterSpec, NodePool
from podquake.model.errors import InputError
from podquake.model.manifests import Manifest, load_manifests
from podquake.model.metrics import Metrics
from podquake.model.network import ClusterNetwork, NodeCutOff, Split, ZoneIsolation
from podquake.model.objects import (
    ContainerSpec,
    ContainerStatus,
    DaemonSet,
    Deployment,
    Node,
    OwnerRef,
    Pod,
    PodSpec,
    PodTemplate,
    Probe,
    ReplicaSet,
    StatefulSet,
    Workload,
)
from podquake.model.quantity import QuantityError, Resources, parse_cpu, parse_memory, parse_quantity
from podquake.model.scheduling import Scheduler, resolve_scheduler
from podquake.model.selectors import LabelSelector, NodeAffinity, Taint, Toleration
from podquake.model.simulation import Simulation, Timing, WorkloadStatus
from podquake.model.store import ClusterState, StateError
from podquake.model.trace import Event, Trace
from podquake.model.views import ClusterView, NodeView, PodView

__all__ = [
    "ClusterNetwork",
    "ClusterSpec",
    "ClusterState",
    "ClusterView",
    "ContainerSpec",
    "ContainerStatus",
    "DaemonSet",
    "Deployment",
    "Event",
    "InputError",
    "LabelSelector",
    "Manifest",
    "Metrics",
    "Node",
    "NodeAffinity",
    "NodeCutOff",
    "NodePool",
    "NodeView",
    "OwnerRef",
    "Pod",
    "PodSpec",
    "PodTemplate",
    "PodView",
    "Probe",
    "QuantityError",
    "ReplicaSet",
    "Resources",
    "Scheduler",
    "Simulation",
    "Split",
    "StateError",
    "StatefulSet",
    "Taint",
    "Timing",
    "Toleration",
    "Trace",
    "Workload",
    "WorkloadStatus",
    "ZoneIsolation",
    "load_manifests",
    "parse_cpu",
    "parse_memory",
    "parse_quantity",
    "resolve_scheduler",
]
