"""Shared helpers for the workload controller tests: a placement-checking scheduler, templates, objects.

The tests rely only on the kubelet's observable contract (containers start and the pod turns Ready
``container_start_seconds`` after binding; a pod whose deletion was requested is removed
``container_stop_seconds`` later) and on a scheduler that binds a pod to the first node it may
legally run on (:class:`LegalFirstFit`, so the tests do not depend on the built-in schedulers).
"""

from __future__ import annotations

from typing import Any

from podquake.model.cluster import ClusterSpec
from podquake.model.objects import (
    ContainerSpec,
    DaemonSet,
    Deployment,
    PodSpec,
    PodTemplate,
    ReplicaSet,
    RollingUpdate,
    StatefulSet,
)
from podquake.model.quantity import Resources
from podquake.model.scheduling.contract import placement_problem
from podquake.model.selectors import LabelSelector
from podquake.model.simulation import Simulation, Timing


class LegalFirstFit:
    """Binds each pod to the first node (in index order) that ``placement_problem`` allows."""

    name = "legal-first-fit"

    def attach(self, state: Any) -> None:
        self.state = state

    def schedule(self, pod: Any, cluster: Any) -> str | None:
        live = self.state.pods[pod.uid]
        for node in self.state.node_list:
            if placement_problem(live, node) is None:
                return node.name
        return None


def make_sim(nodes: int = 3, *, cpu: str = "4", max_pods: int = 110, seed: int = 1, timing: Timing | None = None) -> Simulation:
    return Simulation(
        ClusterSpec.uniform(nodes=nodes, zones=1, cpu=cpu, max_pods=max_pods),
        seed=seed,
        scheduler=LegalFirstFit(),
        timing=timing,
    )


def template(app: str = "web", image: str = "nginx:1", cpu: int = 100, **spec: Any) -> PodTemplate:
    container = ContainerSpec("main", image=image, requests=Resources(cpu, 2**26), cpu_requested=True, memory_requested=True)
    return PodTemplate((("app", app),), PodSpec(containers=(container,), **spec))


def _common(sim: Simulation, name: str, app: str, tmpl: PodTemplate | None) -> dict[str, Any]:
    return {
        "uid": sim.new_uid(),
        "name": name,
        "namespace": "default",
        "selector": LabelSelector.of({"app": app}),
        "template": tmpl if tmpl is not None else template(app),
    }


def replicaset(sim: Simulation, name: str = "web", replicas: int = 3, app: str = "web", tmpl: PodTemplate | None = None) -> ReplicaSet:
    rs = ReplicaSet(replicas=replicas, **_common(sim, name, app, tmpl))
    sim.create_workload(rs)
    return rs


def deployment(
    sim: Simulation,
    name: str = "web",
    replicas: int = 3,
    app: str = "web",
    tmpl: PodTemplate | None = None,
    strategy: RollingUpdate | None = None,
    min_ready_seconds: float = 0.0,
    revision_history_limit: int = 10,
) -> Deployment:
    d = Deployment(
        replicas=replicas,
        strategy=strategy if strategy is not None else RollingUpdate(),
        min_ready_seconds=min_ready_seconds,
        revision_history_limit=revision_history_limit,
        **_common(sim, name, app, tmpl),
    )
    sim.create_workload(d)
    return d


def statefulset(sim: Simulation, name: str = "db", replicas: int = 3, app: str = "db", policy: str = "OrderedReady") -> StatefulSet:
    ss = StatefulSet(replicas=replicas, pod_management_policy=policy, **_common(sim, name, app, None))
    sim.create_workload(ss)
    return ss


def daemonset(sim: Simulation, name: str = "agent", app: str = "agent", tmpl: PodTemplate | None = None) -> DaemonSet:
    ds = DaemonSet(replicas=0, **_common(sim, name, app, tmpl))
    sim.create_workload(ds)
    return ds


def owned(sim: Simulation, uid: str) -> list[Any]:
    return list(sim.state.pods_owned_by(uid))


def active(sim: Simulation, uid: str) -> list[Any]:
    return [p for p in sim.state.pods_owned_by(uid) if p.active]
