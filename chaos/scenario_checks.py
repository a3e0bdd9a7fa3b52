"""What a scenario is checked for when it loads, beyond each field's own type: a scenario that
could only test nothing, or fail for a reason that is not the cluster's, is refused with the field
and the fix. Its traffic must be servable (:func:`check_traffic`), its pods must fit some node the
cluster can have and stay within what Kubernetes supports (:func:`check_room`), and a fault must not
name a node or zone the cluster never has (:func:`missing_targets`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from podquake.chaos.faults import Fault
from podquake.model.cluster import ClusterSpec
from podquake.model.errors import InputError
from podquake.model.manifests import Manifest, check_replicas
from podquake.model.network import CLOUD_LB, CONTROL_PLANE
from podquake.model.resources_api import Service
from podquake.model.traffic import External, Internal

if TYPE_CHECKING:
    from podquake.chaos.scenario import Scenario

__all__ = ["check_room", "check_traffic", "missing_targets"]


def check_traffic(scenario: Scenario, manifests: list[Manifest]) -> None:
    """Refuse traffic that could never be served, which a run would report as a violation: to a
    Service the workload lacks, from outside to a Service that is not exposed (ClusterIP), or from
    a node or pod the cluster can never have."""
    source = scenario.source or "<scenario>"
    services = {m.key: m.obj for m in manifests if isinstance(m.obj, Service)}  # not one kept as data
    fed = sorted({g.service for g in scenario.traffic})
    bare, stateful = _pod_names(manifests)
    for i, fault in enumerate(scenario.faults):
        service = getattr(fault, "service", None)
        spiked = service if not isinstance(service, str) or "/" in service else f"default/{service}"  # bare: default
        if fault.kind == "traffic-spike" and isinstance(spiked, str) and spiked not in fed:
            raise InputError(
                f"{fault!r} multiplies the traffic to Service {service}, which no traffic goes to",
                source=source,
                field=f"faults[{i}].service",
                fix=f"name one of {', '.join(fed)}, or give an index (it wraps around)" if fed else "add traffic: to the scenario",
            )
    for i, generator in enumerate(scenario.traffic):
        service = services.get(generator.service)
        if service is None:
            kept = next((m for m in manifests if m.kind == "Service" and m.key == generator.service), None)
            why = f"is a {kept.api_version} custom resource, kept as data, not a Kubernetes Service" if kept else "the workload does not define"
            raise InputError(
                f"traffic goes to Service {generator.service}, which {why}",
                source=source,
                field=f"traffic[{i}].service",
                fix="send the traffic to a v1 Service"
                if kept
                else f"use one of {', '.join(sorted(services))}" if services else "add the Service to the workload",
            )
        entry = generator.entry
        if isinstance(entry, External) and service.type not in ("LoadBalancer", "NodePort"):
            raise InputError(
                f"traffic from outside the cluster goes to Service {generator.service}, which is {service.type}: "
                "only a LoadBalancer or NodePort Service is reachable from outside",
                source=source,
                field=f"traffic[{i}].entry",
                fix="send it from inside, e.g. entry: {node: worker-1}, or make the Service type: LoadBalancer",
            )
        if isinstance(entry, Internal) and entry.node is not None and (problem := _node_problem(entry.node, scenario.cluster)):
            raise InputError(f"traffic enters at {problem}", source=source, field=f"traffic[{i}].entry.node", fix="name one of its nodes")
        if isinstance(entry, Internal) and entry.pod is not None and not _names_a_pod(entry.pod, bare, stateful):
            named = sorted(bare) + [f"{key}-0" for key in sorted(stateful)]
            raise InputError(
                f"traffic comes from pod {entry.pod}, which the workload never has under that name",
                source=source,
                field=f"traffic[{i}].entry.pod",
                fix=f"name a bare Pod or a StatefulSet's pod ({', '.join(named[:4]) or 'the workload has none'}), or use entry: {{node: ...}}",
            )


def check_room(scenario: Scenario, manifests: list[Manifest]) -> None:
    """Refuse a workload whose pods fit on no node the cluster can ever have (an empty node of
    its largest pool, by CPU and memory): every run would only report it pending, as a
    capacity note, and pass."""
    pools = [p for p in scenario.cluster.pools if p.max_nodes > 0]
    if not pools:
        raise InputError(
            "the cluster has no nodes and no pool that may grow",
            source=scenario.source or "<scenario>",
            field="cluster",
            fix="give a pool a count (or a maxSize for the autoscaler) above 0",
        )
    check_replicas(manifests, scenario.source or "<scenario>")
    for manifest in manifests:
        template = getattr(manifest.obj, "template", manifest.obj)
        spec = getattr(template, "spec", None)
        asked = getattr(spec, "requests", None)
        if asked is None:
            continue
        if any(asked.cpu_millis <= p.allocatable.cpu_millis and asked.memory_bytes <= p.allocatable.memory_bytes for p in pools):
            continue
        roomiest = max(pools, key=lambda p: (p.allocatable.cpu_millis, p.allocatable.memory_bytes))
        raise InputError(
            f"{manifest.kind} {manifest.key} asks {asked.cpu_millis}m CPU and {asked.memory_bytes / 2**20:g}Mi a pod, "
            f"more than any node can hold (pool {roomiest.name}: {roomiest.allocatable.cpu_millis}m, "
            f"{roomiest.allocatable.memory_bytes / 2**20:g}Mi allocatable): no pod of it could ever run",
            source=manifest.source or scenario.source or "<scenario>",
            location=manifest.location,
            field="resources.requests",
            fix="lower its requests, or give the cluster a pool of larger nodes",
        )


def _node_problem(name: str, cluster: ClusterSpec) -> str | None:
    """Why ``cluster`` can never have a node ``name`` (None: it may, see :meth:`ClusterSpec.may_have_node`)."""
    if cluster.may_have_node(name):
        return None
    names = ", ".join(f"{pool.name}-1..{pool.name}-{pool.count}" for pool in cluster.pools if pool.count)
    return f"node {name!r}, which this cluster does not have (its nodes: {names or 'none'})"


def _pod_names(manifests: list[Manifest]) -> tuple[set[str], set[str]]:
    """The pods a workload has under names known in advance: bare Pods, and StatefulSets, whose pods
    are ``NAME-N`` (any ``N``: it may scale)."""
    return {m.key for m in manifests if m.kind == "Pod"}, {m.key for m in manifests if m.kind == "StatefulSet"}


def _names_a_pod(key: str, bare: set[str], stateful: set[str]) -> bool:
    owner, _, number = key.rpartition("-")
    return key in bare or (number.isdigit() and owner in stateful)


def missing_targets(fault: Fault, cluster: ClusterSpec) -> list[tuple[str, str]]:
    """``(field, problem)`` for each node or zone ``fault`` names that ``cluster`` can never have
    (a fault whose target is missing at its time is skipped, which a run only notes in its trace).
    A name ``POOL-N`` of a pool the autoscaler may grow can exist, whatever ``N``."""
    node, zone, groups = getattr(fault, "node", None), getattr(fault, "zone", None), getattr(fault, "groups", None)
    if not isinstance(node, str) and not isinstance(zone, str) and not groups:
        return []  # targets by index, as generated faults are: any cluster has them (they wrap around)
    problems = []
    if isinstance(node, str) and (problem := _node_problem(node, cluster)):
        problems.append(("node", problem))
    if isinstance(zone, str):
        zones = sorted({z for pool in cluster.pools for z in pool.zones})
        if zone not in zones:
            problems.append(("zone", f"zone {zone!r}, which this cluster does not have (its zones: {', '.join(zones)})"))
    for group in groups or ():
        for member in group:
            if isinstance(member, str) and member not in (CONTROL_PLANE, CLOUD_LB) and (problem := _node_problem(member, cluster)):
                problems.append(("groups", problem))
    return problems
