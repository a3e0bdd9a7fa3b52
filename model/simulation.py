"""The simulation: one SimPy clock, one seeded random generator, the store, and the processes.

A :class:`Simulation` builds the nodes of a :class:`~podquake.model.cluster.ClusterSpec`, starts
the control plane (scheduler loop, workload controllers, node lifecycle, pod garbage collector)
and a kubelet per node, then moves simulated time forward with :meth:`run`, :meth:`run_for` or
:meth:`run_until_stable`. Everything random draws from ``sim.rng`` (``random.Random(seed)``), and
nothing reads the wall clock, so the same seed and inputs give a byte-identical trace.

>>> from podquake.model import Simulation, ClusterSpec, load_manifests
>>> sim = Simulation(ClusterSpec.default(), seed=7)
>>> sim.apply(load_manifests(text='''
... apiVersion: apps/v1
... kind: Deployment
... metadata: {name: web}
... spec:
...   replicas: 3
...   selector: {matchLabels: {app: web}}
...   template:
...     metadata: {labels: {app: web}}
...     spec: {containers: [{name: web, image: nginx, resources: {requests: {cpu: 100m}}}]}
... '''))
>>> sim.run_until_stable(timeout=120)
True
>>> sim.workload_status("Deployment", "default", "web").ready
3
"""

from __future__ import annotations

import difflib
import numbers
import random
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import simpy

from podquake.model import trace as ev
from podquake.model.admission import pod_from_template
from podquake.model.cluster import ClusterSpec
from podquake.model.errors import InputError, finite_number
from podquake.model.memo import IdentityMemo
from podquake.model.objects import Node, Pod, PodTemplate, Workload
from podquake.model.scheduling.contract import Scheduler, ValidatingScheduler
from podquake.model.store import ClusterState
from podquake.model.trace import Trace
from podquake.model.views import ClusterView

if TYPE_CHECKING:
    from podquake.model.controllers.cluster_autoscaler import AutoscalerOptions
    from podquake.model.manifests import Manifest

__all__ = ["Simulation", "Timing", "WorkloadStatus"]

# Upstream's generateName alphabet (k8s.io/apimachinery/pkg/util/rand: no vowels, no 0/1/3).
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


@dataclass(frozen=True)
class Timing:
    """Latencies the model cannot take from upstream because they depend on the environment.

    ``container_start_seconds``: from binding to a container running (image pull and create).
    ``container_stop_seconds``: from SIGTERM (at a graceful delete, after the container's preStop
    hook) to the container exiting (capped by the grace period left, at least 2 s; see
    :func:`~podquake.model.kubelet_rules.kill_timing`). ``controller_sync_seconds``: from a watch event to a controller's
    sync (informer and work-queue latency). ``endpoint_propagation_seconds``: from an endpoint change
    to every node's proxy routing by it (kube-proxy's minSyncPeriod is 1 s; real clusters see more).
    """

    container_start_seconds: float = 2.0
    container_stop_seconds: float = 1.0
    controller_sync_seconds: float = 0.0
    endpoint_propagation_seconds: float = 1.0

    def __post_init__(self) -> None:
        # Every field is a delay from now: 0 is "at once"; a negative one was read as 0 by the kubelet
        # and crashed SimPy ("Negative delay") in a controller; NaN never came due.
        for spec in fields(self):
            value = getattr(self, spec.name)
            fix = f"write 0 for no delay, or e.g. {spec.name}={spec.default!r}, the default"
            seconds = finite_number(value, f"Timing.{spec.name}", minimum=0, unit="simulated seconds", fix=fix)
            object.__setattr__(self, spec.name, seconds)


@dataclass(frozen=True)
class WorkloadStatus:
    """What a workload wants and has: desired replicas, current (active) pods, ready pods, up-to-date pods."""

    desired: int
    current: int
    ready: int
    updated: int

    @property
    def converged(self) -> bool:
        return self.ready == self.desired and self.current == self.desired and self.updated == self.desired


def _template_hash(template: PodTemplate) -> str:
    """A stable ``pod-template-hash`` for a template: base-27 digits of the CRC-32 of its repr."""
    text = repr(template)
    runs = [(c.run_seconds, c.exit_code) for c in template.spec.containers if c.run_seconds is not None]
    if runs:  # ContainerSpec leaves its run time out of its repr (see its docstring)
        text += repr(runs)
    value = zlib.crc32(text.encode())
    out = []
    for _ in range(10):
        value, digit = divmod(value, len(_NAME_ALPHABET))
        out.append(_NAME_ALPHABET[digit])
    return "".join(out).rstrip(_NAME_ALPHABET[0]) or _NAME_ALPHABET[0]


def _checked_seed(seed: object) -> int:
    """``seed`` if it is an integer >= 0. Strings and floats would seed ``random.Random`` too, but a
    scenario file could not name them; and -n would give the same runs as n."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an integer >= 0, not {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be an integer >= 0, not {seed}")
    return int(seed)


def _checked_cluster(cluster: object) -> ClusterSpec:
    """``cluster`` as a :class:`ClusterSpec`: the default for None, the YAML form (a mapping) through
    :meth:`ClusterSpec.from_dict`; anything else failed later as "'dict' object has no attribute
    'build_nodes'"."""
    if cluster is None:
        return ClusterSpec.default()
    if isinstance(cluster, ClusterSpec):
        return cluster
    if isinstance(cluster, Mapping):
        return ClusterSpec.from_dict(cluster, source="cluster")
    raise TypeError(
        f"cluster must be a ClusterSpec or its YAML form as a dict, not {type(cluster).__name__} "
        "(fix: write e.g. cluster=ClusterSpec.uniform(nodes=6) or cluster={'nodes': 6, 'zones': 3})"
    )


_YAML_START = re.compile(r"\s*(---|%YAML|apiVersion\s*:|kind\s*:|metadata\s*:|\{)")


def _looks_like_yaml(text: str) -> bool:
    """Whether a string given as a path is YAML text instead: a path holds no line break, and one
    that starts like a manifest and names no file is text too."""
    if "\n" in text:
        return True
    if not _YAML_START.match(text):
        return False
    try:
        return not Path(text).exists()
    except OSError:  # e.g. a name too long for the file system
        return True


class Simulation:
    """A cluster in simulated time. See the module docstring for an example."""

    def __init__(
        self,
        cluster: ClusterSpec | None = None,
        *,
        seed: int = 0,
        scheduler: Scheduler | str | None = None,
        timing: Timing | None = None,
        keep_trace: bool = True,
        proxy_mode: str = "iptables",
        load_mode: str | None = "fluid",
        cloud_options: Mapping[str, Any] | None = None,
        autoscaler_options: AutoscalerOptions | None = None,
    ) -> None:
        from podquake.model.cloud import CloudProvider
        from podquake.model.controllers.cluster_autoscaler import AutoscalerOptions, ClusterAutoscaler
        from podquake.model.controllers.daemonset import DaemonSetController
        from podquake.model.controllers.deployment import DeploymentController
        from podquake.model.controllers.hpa import HorizontalPodAutoscalerController
        from podquake.model.controllers.job import JobController
        from podquake.model.disruption import DisruptionController
        from podquake.model.controllers.nodelifecycle import NodeLifecycleController
        from podquake.model.controllers.podgc import PodGarbageCollector
        from podquake.model.controllers.replicaset import ReplicaSetController
        from podquake.model.controllers.scheduler_loop import SchedulerLoop
        from podquake.model.controllers.statefulset import StatefulSetController
        from podquake.model.jobs import JobQueues
        from podquake.model.load import make_load
        from podquake.model.traffic import Traffic
        from podquake.model.endpoints import EndpointSliceController
        from podquake.model.kubelet import Kubelet
        from podquake.model.kubelet_dispatch import KubeletDispatcher
        from podquake.model.loadbalancer import LoadBalancerController
        from podquake.model.metrics import Metrics
        from podquake.model.network import CLOUD_LB, ClusterNetwork
        from podquake.model.proxy import Proxy
        from podquake.model.scheduling.registry import resolve_scheduler
        from podquake.model.volumes import Volumes

        self.seed = _checked_seed(seed)
        self.cluster_spec = _checked_cluster(cluster)
        if autoscaler_options is not None and not isinstance(autoscaler_options, AutoscalerOptions):
            raise TypeError(
                f"autoscaler_options must be an AutoscalerOptions, not {type(autoscaler_options).__name__} "
                "(fix: write e.g. autoscaler_options=AutoscalerOptions(scan_interval=10.0))"
            )
        if timing is not None and not isinstance(timing, Timing):
            raise TypeError(f"timing must be a Timing, not {type(timing).__name__} (fix: write e.g. timing=Timing(container_start_seconds=2.0))")
        self.timing = timing if timing is not None else Timing()
        self.env = simpy.Environment(initial_time=0.0)
        self.rng = random.Random(seed)
        self.trace = Trace(keep=keep_trace)
        self.state = ClusterState(lambda: self.env.now, self.trace)
        self._view = ClusterView(self.state)

        self.scheduler = ValidatingScheduler(resolve_scheduler(scheduler, rng=self.rng), self.state)
        self.scheduler_loop = SchedulerLoop(self, self.scheduler)
        self.replicasets = ReplicaSetController(self)
        self.deployments = DeploymentController(self)
        self.statefulsets = StatefulSetController(self)
        self.daemonsets = DaemonSetController(self)
        self.job_controller = JobController(self)
        self.pod_gc = PodGarbageCollector(self)
        self.node_lifecycle = NodeLifecycleController(self)
        self.endpoints = EndpointSliceController(self, propagation_delay=self.timing.endpoint_propagation_seconds)
        self.kubelets: dict[str, Kubelet] = {}
        self.proxy = Proxy(self, mode=proxy_mode)
        self.metrics = Metrics()
        self.disruption = DisruptionController(self)
        self.hpa = HorizontalPodAutoscalerController(self, self.metrics)
        self._kubelet_class = Kubelet
        self.state.watch(ev.NodeAdded, self._on_node_added)
        for component in (
            self.scheduler_loop,
            self.replicasets,
            self.deployments,
            self.statefulsets,
            self.daemonsets,
            self.job_controller,
            self.pod_gc,
            self.node_lifecycle,
            self.endpoints,
            self.proxy,
            self.disruption,
            self.hpa,
        ):
            component.start()
        # Shared by every kubelet; made after the control plane, so its watchers run after theirs.
        self.kubelet_dispatcher = KubeletDispatcher(self)
        self.network = ClusterNetwork(self)
        self.network.start()
        self.proxy.reachable = self.network.reachable
        self.network.subscribe(self.proxy.set_connected)
        self.volumes = Volumes(self)
        self.volumes.start()
        for node in self.cluster_spec.build_nodes():
            self.add_node(node)
        # The cloud adopts the initial nodes as running machines of their pools.
        self.cloud = CloudProvider(self, **dict(cloud_options or {}))
        self.load_balancers = LoadBalancerController(self)
        self.cluster_autoscaler = ClusterAutoscaler(self, self.cloud, autoscaler_options)
        for component in (self.cloud, self.load_balancers, self.cluster_autoscaler):
            component.start()
        self.load_balancers.reachable = lambda node: self.network.reachable(CLOUD_LB, node)
        self.traffic = Traffic(self)
        self.load = make_load(self, load_mode) if load_mode is not None else None
        if self.load is not None:
            self.load.start()
        self.jobs = JobQueues(self)
        for change in (ev.NetworkPartitioned, ev.NetworkHealed):
            self.state.watch(change, lambda _event: self.load_balancers.refresh())

    # --- identity ------------------------------------------------------------------------------
    def new_uid(self) -> str:
        """A random (seeded) uid in the UUID text form."""
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def random_suffix(self, length: int = 5) -> str:
        """A generateName suffix, as upstream: ``web-7d4b9c5f6d-x2k8p``."""
        return "".join(self.rng.choice(_NAME_ALPHABET) for _ in range(length))

    #: ``template_hash(template)``: a stable ``pod-template-hash`` for a pod template (same template,
    #: same hash, in every process), computed once per template object
    template_hash = staticmethod(IdentityMemo(_template_hash))

    # --- building the cluster ------------------------------------------------------------------
    def add_node(self, node: Node) -> Node:
        """Add a worker node (at the current time) and start its kubelet."""
        return self.state.add_node(node)

    def _on_node_added(self, event: ev.NodeAdded) -> None:
        kubelet = self._kubelet_class(self, event.node)
        self.kubelets[event.node] = kubelet
        kubelet.start()

    def apply(self, manifests: Iterable[Manifest] | Manifest | str | Path | Iterable[str | Path]) -> None:
        """Create the objects of loaded manifests (see :func:`~podquake.model.manifests.load_manifests`),
        of one manifest, or of the manifests in files or folders given by their paths (one, or a list).

        All or nothing: if any object cannot be created (a workload or pod of its name exists, here
        or earlier in the same batch), none is, and the :class:`~podquake.model.errors.InputError`
        names it."""
        from podquake.model.manifests import Manifest, check_replicas, load_manifests

        fix = "pass load_manifests(...), a Manifest, or a path (or list of paths) to YAML files or folders"
        if isinstance(manifests, Manifest):
            batch = [manifests]
        elif isinstance(manifests, str) and _looks_like_yaml(manifests):
            first = manifests.strip().splitlines()[0] if manifests.strip() else ""
            raise InputError(
                f"apply() takes a path, and was given YAML text (starting {first[:60]!r})",
                field="manifests",
                fix="parse it first: sim.apply(load_manifests(text=...))",
            )
        elif isinstance(manifests, (str, Path)):
            batch = load_manifests(manifests)
        elif isinstance(manifests, Iterable) and not isinstance(manifests, (bytes, Mapping)):
            items = list(manifests)
            if items and all(isinstance(item, (str, Path)) for item in items):
                batch = load_manifests(items)  # a list of paths, as load_manifests takes
            else:
                for i, item in enumerate(items):
                    if not isinstance(item, Manifest):
                        raise InputError(f"manifests[{i}] is a {type(item).__name__}, not a Manifest", field="manifests", fix=fix)
                batch = items
        else:
            raise InputError(f"apply() cannot create objects from {repr(manifests)[:60]}", field="manifests", fix=fix)
        # Check every object before creating any, so that a refused apply leaves the cluster as it was.
        creating: dict[tuple[str, str, str], Manifest] = {}
        for manifest in batch:
            manifest.check_apply(self, creating)
        check_replicas(batch)
        for manifest in batch:
            manifest.apply_to(self)

    def create_workload(self, workload: Workload) -> Workload:
        return self.state.create_workload(workload)

    def create_pod(self, name: str, namespace: str, template: PodTemplate) -> Pod:
        """Create a bare pod (no owner), as ``kubectl apply`` of a Pod manifest does."""
        pod = pod_from_template(template, uid=self.new_uid(), name=name, namespace=namespace, owner=None)
        return self.state.create_pod(pod)

    # --- time ----------------------------------------------------------------------------------
    @property
    def now(self) -> float:
        return self.env.now

    def run(self, until: float) -> None:
        """Run until simulated time ``until`` (seconds). Time only moves forward: a time before
        :attr:`now` is refused (``run(now)`` does nothing)."""
        finite_number(until, "until", unit="simulated seconds", fix="write e.g. run(until=600.0)")
        if until < self.env.now:
            raise ValueError(
                f"run(until={until}): the clock is already at t={self.env.now:g}s and simulated time only "
                "moves forward; use run_for(seconds) to run on from now"
            )
        if until > self.env.now:
            self.env.run(until=until)

    def run_for(self, seconds: float) -> None:
        """Run ``seconds`` (>= 0) of simulated time from now."""
        finite_number(seconds, "seconds", unit="simulated seconds", fix="write e.g. run_for(60.0)")
        if seconds < 0:
            raise ValueError(f"run_for(seconds={seconds}): seconds must be >= 0 (time only moves forward)")
        self.run(self.env.now + seconds)

    def run_until_stable(self, timeout: float = 600.0, step: float = 1.0) -> bool:
        """Run until every workload has converged and no pod is pending or terminating, or ``timeout``
        simulated seconds pass, looking every ``step`` seconds. Returns whether it became stable."""
        finite_number(timeout, "timeout", unit="simulated seconds", fix="write e.g. run_until_stable(timeout=600.0)")
        finite_number(step, "step", unit="simulated seconds", fix="write e.g. run_until_stable(step=1.0)")
        if timeout < 0 or step <= 0:
            raise ValueError(
                f"run_until_stable(timeout={timeout}, step={step}): timeout must be >= 0 and step > 0 seconds"
            )
        deadline = self.env.now + timeout
        while self.env.now < deadline:
            if self.is_stable():
                return True
            self.run(min(deadline, self.env.now + step))
        return self.is_stable()

    def is_stable(self) -> bool:
        state = self.state
        if state.unbound_pods:
            return False
        for pod in state.pods.values():
            # A pod terminating on a node the control plane cannot reach stays Terminating until
            # the node returns (as upstream); that alone does not make the cluster unstable.
            if pod.deletion_timestamp is None:
                continue
            if pod.node_name is None or state.nodes[pod.node_name].ready == "True":
                return False
        for workload in state.workloads.values():
            if workload.kind == "ReplicaSet" and workload.owner is not None and workload.owner.uid in state.workloads:
                continue  # judged through its Deployment
            if not self.workload_status(workload.kind, workload.namespace, workload.name).converged:
                return False
        return True

    # --- reading -------------------------------------------------------------------------------
    def view(self) -> ClusterView:
        """The read-only view that scheduler plug-ins and properties get."""
        return self._view

    def workload_status(self, kind: str, namespace: str, name: str) -> WorkloadStatus:
        """The status of a workload (``kind`` is Deployment, ReplicaSet, StatefulSet, DaemonSet or Job)
        as its controller reports it. Raises KeyError when there is no such workload."""
        controllers: dict[str, Any] = {
            "Deployment": self.deployments,
            "ReplicaSet": self.replicasets,
            "StatefulSet": self.statefulsets,
            "DaemonSet": self.daemonsets,
            "Job": self.job_controller,
        }
        if kind not in controllers:
            close = difflib.get_close_matches(kind, list(controllers), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ValueError(f"workload_status: unknown kind {kind!r}{hint} (one of {', '.join(controllers)})")
        workload = self.state.workload_named(kind, namespace, name)
        if workload is None:
            raise KeyError(f"no {kind} {namespace}/{name}")
        return controllers[kind].status(workload)
