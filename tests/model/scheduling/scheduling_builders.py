"""Small builders for scheduling tests: nodes, pod specs and pods in a bare ClusterState."""

from __future__ import annotations

from podquake.model import constants as k8s
from podquake.model.objects import ContainerSpec, Node, OwnerRef, Pod, PodSpec, PodTemplate, ReplicaSet
from podquake.model.quantity import Resources
from podquake.model.selectors import LabelSelector, Taint
from podquake.model.store import ClusterState


def make_node(
    name: str,
    zone: str = "zone-a",
    cpu: int = 4000,
    memory: int = 10000,
    pods: int = k8s.DEFAULT_MAX_PODS,
    labels: dict[str, str] | None = None,
    taints: tuple[Taint, ...] = (),
) -> Node:
    all_labels = {k8s.LABEL_HOSTNAME: name, k8s.LABEL_ZONE: zone}
    all_labels.update(labels or {})
    capacity = Resources(cpu, memory, pods)
    return Node(name, 0, all_labels, capacity, capacity, taints=taints)


def make_state(*nodes: Node) -> ClusterState:
    state = ClusterState(lambda: 0.0)
    for node in nodes:
        state.add_node(node)
    return state


def pod_spec(cpu: int | None = None, memory: int | None = None, **fields: object) -> PodSpec:
    """One container; ``None`` leaves the request out (the scheduler's 100m/200Mi default applies)."""
    container = ContainerSpec(
        "app",
        requests=Resources(cpu or 0, memory or 0),
        cpu_requested=cpu is not None,
        memory_requested=memory is not None,
    )
    return PodSpec(containers=(container,), **fields)  # type: ignore[arg-type]


_serial = [0]


def add_pod(
    state: ClusterState,
    spec: PodSpec,
    labels: dict[str, str] | None = None,
    owner: OwnerRef | None = None,
    name: str | None = None,
) -> Pod:
    _serial[0] += 1
    name = name or f"pod-{_serial[0]}"
    pod = Pod(
        uid=f"uid-{name}",
        name=name,
        namespace="default",
        labels=dict(labels or {}),
        spec=spec,
        created_at=0.0,
        owner=owner,
    )
    return state.create_pod(pod)


def add_replicaset(state: ClusterState, name: str, labels: dict[str, str]) -> OwnerRef:
    template = PodTemplate(labels=tuple(sorted(labels.items())), spec=pod_spec())
    rs = ReplicaSet(
        uid=f"rs-{name}", name=name, namespace="default", selector=LabelSelector.of(labels), template=template
    )
    state.create_workload(rs)
    return rs.ref()
