"""Hypothesis strategies for clusters, workloads, faults, fault schedules and whole scenarios.

They are built to be cheap to draw and to shrink towards small, readable counterexamples:

- **One compact draw per fault.** A fault is decoded from six bytes (kind, time, duration, target,
  two parameters) drawn at once, so a 50-fault schedule costs Hypothesis about a hundred choices,
  not the thousands a rule-per-step state machine makes. Byte 0 is always the gentlest choice:
  shrinking a byte towards 0 makes its fault **later** (``at`` counts back from the end of the
  fault phase), **shorter**, aimed at the first target (node selector 0 is the busiest node), and
  plainer (exit code 1, not OOM, not repeated). Shrinking the list makes **fewer** faults.
- **Swarm testing.** Each schedule enables a random subset of the fault kinds (a bit mask over
  ``kinds``) and its faults are all of those: some examples are all node failures, some all crashes
  and spikes, which finds bugs that a uniform mix dilutes. The mask shrinks towards no kind, then
  the first kind.
- **One empty schedule.** The mask with no kind enabled is the empty schedule: nothing more is
  drawn, so it is a single draw, which Hypothesis makes once and never again (it does not re-draw
  a branch it has exhausted). When an empty list of faults could follow any mask, the empty
  schedule was 2,047 different-looking examples, and half of a campaign's examples ran no fault.
- **Smaller clusters and workloads.** Node counts, replica counts and requests shrink towards
  their minimum; generated workloads vary their CPU and memory requests so that each resource is
  the one that binds in some examples.
- **Deterministic names.** Generated workloads take realistic names from a list that faker builds
  once per process from a fixed seed, so the same draw always gives the same manifests.

>>> from hypothesis import given, settings
>>> @settings(max_examples=5, database=None)
... @given(fault_schedules(max_faults=4, horizon=300.0))
... def test(schedule):
...     assert all(0 <= f.at < 300 for f in schedule)
>>> test()
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from hypothesis import strategies as st

from podquake.chaos.faults import (
    CONTROL_PLANE_COMPONENTS,
    FAULT_KINDS,
    ContainerCrash,
    ControlPlaneOutage,
    Fault,
    KubeletStop,
    NetworkPartition,
    NodeDrain,
    NodeFailure,
    PodKill,
    ProbeFailure,
    ProvisioningFailure,
    QuotaExhaustion,
    RuntimeFailure,
    SlowLoadBalancer,
    SlowProvisioning,
    TrafficSpike,
    ZoneOutage,
)
from podquake.chaos.scenario import Scenario
from podquake.model.cluster import ClusterSpec, NodePool
from podquake.model.errors import InputError
from podquake.model.quantity import parse_cpu
from podquake.model.traffic import Constant, LoadGenerator

__all__ = [
    "DEFAULT_FAULT_KINDS",
    "clusters",
    "decode_fault",
    "fault_schedules",
    "faults",
    "scenarios",
    "service_names",
    "workloads",
]

FAULT_BYTES = 6

DEFAULT_FAULT_KINDS: tuple[str, ...] = (
    "node-failure",
    "container-crash",
    "pod-kill",
    "kubelet-stop",
    "network-partition",
    "traffic-spike",
    "probe-failure",
    "node-drain",
    "zone-outage",
    "runtime-failure",
    "control-plane-outage",
)
"""The kinds a campaign draws by default, gentlest first (the swarm mask shrinks towards the first).
The cloud kinds (slow or failing provisioning, quota, slow load balancers) only matter with the
cluster autoscaler or LoadBalancer services in play; name them in ``kinds`` to draw them."""

_NODE_SELECTORS = 16
_ZONE_SELECTORS = 3
_SERVICE_SELECTORS = 8


def _names(value: str | Sequence[Any]) -> tuple[Any, ...]:
    """``value`` as a tuple, a bare string as one item (not split into its characters), as
    ``scheduler_suite(kinds=...)`` does."""
    return (value,) if isinstance(value, str) else tuple(value)


def _check_whole(field: str, value: Any, low: int, example: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InputError(f"{field} must be a whole number >= {low}, not {value!r}", field=field, fix=f"e.g. {example}")


def _check_seconds(field: str, value: Any, *, positive: bool, example: str) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or (value <= 0 if positive else value < 0)
    ):
        bound = "> 0" if positive else ">= 0"
        raise InputError(f"{field} must be a number of seconds {bound}, not {value!r}", field=field, fix=f"e.g. {example}")


def _check_timing(horizon: Any, min_duration: Any, max_duration: Any) -> None:
    """Refuse a fault phase or fault durations that :func:`decode_fault` could not turn into faults."""
    _check_seconds("horizon", horizon, positive=True, example="horizon=600.0")
    _check_seconds("min_duration", min_duration, positive=True, example="min_duration=10.0")
    _check_seconds("max_duration", max_duration, positive=True, example="max_duration=300.0")
    if min_duration > max_duration:
        raise InputError(
            f"need min_duration <= max_duration, not {min_duration!r} and {max_duration!r}",
            field="min_duration",
            fix="e.g. min_duration=10.0, max_duration=300.0",
        )


def _check_strategy(field: str, value: Any) -> None:
    if value is None or isinstance(value, st.SearchStrategy):
        return
    if callable(value):
        name = getattr(value, "__name__", "it")
        raise InputError(
            f"{field} must be a Hypothesis strategy, not the function {name}",
            field=field,
            fix=f"call it: {name}()" if name != "it" else "call it to get a strategy",
        )
    raise InputError(
        f"{field} must be a Hypothesis strategy, not {type(value).__name__}",
        field=field,
        fix=f"e.g. {field}=st.just(...)",
    )


def _check_kinds(kinds: str | Sequence[str]) -> tuple[str, ...]:
    kinds = _names(kinds)
    if not kinds:
        raise InputError("no fault kinds to draw from", field="kinds", fix=f"name at least one of {', '.join(FAULT_KINDS)}")
    unknown = [k for k in kinds if k not in FAULT_KINDS]
    if unknown:
        raise InputError(f"unknown fault kind {unknown[0]!r}", field="kinds", fix=f"use one of {', '.join(FAULT_KINDS)}")
    return kinds


def decode_fault(
    kind: str,
    code: bytes | Sequence[int],
    *,
    horizon: float,
    min_duration: float = 10.0,
    max_duration: float = 300.0,
) -> Fault:
    """The fault of ``kind`` that six bytes ``code`` stand for (see the module docstring).

    ``horizon`` is the length of the fault phase: ``at`` is in ``[0, horizon)``.

    >>> decode_fault("node-failure", bytes(6), horizon=600.0)
    NodeFailure(node=0, at=599.0, duration=10.0)
    >>> decode_fault("container-crash", bytes([0, 255, 0, 2, 3, 0]), horizon=600.0)
    ContainerCrash(pod=2, at=0.0, duration=10.0, oom=True, repeat=True)
    >>> decode_fault("container-crash", bytes([0, 0, 0, 1, 4, 0]), horizon=600.0)
    ContainerCrash(pod=1, at=599.0, exit_code=2)
    """
    _, when, length, target, p1, p2 = (int(b) for b in code[:FAULT_BYTES])
    last = max(0.0, float(int(horizon) - 1 if horizon == int(horizon) else int(horizon)))
    at = float(round(last * (255 - when) / 255))
    duration = float(round(min_duration + (max_duration - min_duration) * length / 255))
    node = target % _NODE_SELECTORS
    if kind == NodeFailure.kind:
        return NodeFailure(node=node, at=at, duration=duration)
    if kind == NodeDrain.kind:
        return NodeDrain(node=node, at=at, duration=duration)
    if kind == KubeletStop.kind:
        return KubeletStop(node=node, at=at, duration=duration)
    if kind == RuntimeFailure.kind:
        return RuntimeFailure(node=node, at=at, duration=duration)
    if kind == NetworkPartition.kind:
        shape = p1 % 3
        if shape == 0:
            return NetworkPartition(node=node, at=at, duration=duration)
        if shape == 1:
            return NetworkPartition(zone=target % _ZONE_SELECTORS, at=at, duration=duration)
        other = (node + 1 + p2 % (_NODE_SELECTORS - 1)) % _NODE_SELECTORS
        return NetworkPartition(groups=((node, other),), at=at, duration=duration)
    if kind == ZoneOutage.kind:
        return ZoneOutage(zone=target % _ZONE_SELECTORS, at=at, duration=duration)
    if kind == ContainerCrash.kind:
        repeat = bool(p1 & 2)
        return ContainerCrash(
            pod=target,
            at=at,
            duration=duration if repeat else None,
            exit_code=1 if p1 & 1 else 1 + (p1 >> 2) % 3,
            oom=bool(p1 & 1),
            repeat=repeat,
            uptime=float(p2 % 31) if repeat else 0.0,
        )
    if kind == PodKill.kind:
        return PodKill(pod=target, at=at, force=bool(p1 & 1))
    if kind == ProbeFailure.kind:
        probe = "liveness" if p1 & 1 else "readiness"
        flap = float(5 + p2 % 26) if p1 & 2 else None
        return ProbeFailure(pod=target, at=at, duration=duration, probe=probe, flap=flap)
    if kind == TrafficSpike.kind:
        return TrafficSpike(service=target % _SERVICE_SELECTORS, at=at, duration=duration, multiplier=float(2 + p1 % 9))
    if kind == ControlPlaneOutage.kind:
        component = CONTROL_PLANE_COMPONENTS[p1 % len(CONTROL_PLANE_COMPONENTS)]
        return ControlPlaneOutage(component=component, at=at, duration=duration)
    if kind == SlowProvisioning.kind:
        return SlowProvisioning(at=at, duration=duration, multiplier=float(2 + p1 % 9))
    if kind == ProvisioningFailure.kind:
        return ProvisioningFailure(at=at, duration=duration, rate=(1 + p1 % 4) / 4)
    if kind == QuotaExhaustion.kind:
        return QuotaExhaustion(at=at, duration=duration, headroom=p1 % 3)
    if kind == SlowLoadBalancer.kind:
        return SlowLoadBalancer(at=at, duration=duration, seconds=float(30 + (p1 % 10) * 30))
    raise InputError(f"unknown fault kind {kind!r}", field="kind", fix=f"use one of {', '.join(FAULT_KINDS)}")


def faults(
    kinds: Sequence[str] = DEFAULT_FAULT_KINDS,
    *,
    horizon: float = 600.0,
    min_duration: float = 10.0,
    max_duration: float = 300.0,
) -> st.SearchStrategy[Fault]:
    """One fault of one of ``kinds``, starting in ``[0, horizon)``."""
    kinds = _check_kinds(kinds)
    _check_timing(horizon, min_duration, max_duration)
    return st.binary(min_size=FAULT_BYTES, max_size=FAULT_BYTES).map(
        lambda code: decode_fault(
            kinds[code[0] % len(kinds)], code, horizon=horizon, min_duration=min_duration, max_duration=max_duration
        )
    )


def fault_schedules(
    kinds: Sequence[str] = DEFAULT_FAULT_KINDS,
    *,
    max_faults: int = 10,
    min_faults: int = 0,
    horizon: float = 600.0,
    min_duration: float = 10.0,
    max_duration: float = 300.0,
    swarm: bool = True,
) -> st.SearchStrategy[tuple[Fault, ...]]:
    """A schedule of up to ``max_faults`` faults, ordered by time (ties keep their drawn order).

    With ``swarm`` (the default) each schedule with faults enables a random non-empty subset of
    ``kinds``; without, every kind. The empty schedule is a single draw (see the module docstring).
    """
    kinds = _check_kinds(kinds)
    _check_whole("max_faults", max_faults, 0, "max_faults=10")
    _check_whole("min_faults", min_faults, 0, "min_faults=0")
    if min_faults > max_faults:
        raise InputError(
            f"need min_faults <= max_faults, not {min_faults} and {max_faults}",
            field="min_faults",
            fix=f"e.g. min_faults=0, max_faults={max(max_faults, 10)}",
        )
    _check_timing(horizon, min_duration, max_duration)
    return _fault_schedules(
        kinds,
        max_faults=max_faults,
        min_faults=min_faults,
        horizon=horizon,
        min_duration=min_duration,
        max_duration=max_duration,
        swarm=swarm,
    )


@st.composite
def _fault_schedules(
    draw: Any,
    kinds: tuple[str, ...],
    *,
    max_faults: int,
    min_faults: int,
    horizon: float,
    min_duration: float,
    max_duration: float,
    swarm: bool,
) -> tuple[Fault, ...]:
    # The swarm mask: the kinds enabled, one bit each; none enabled is the empty schedule, this one
    # choice, which Hypothesis draws once. (Drawn even when min_faults > 0, for the same layout.)
    mask = draw(st.integers(0, 2 ** len(kinds) - 1))
    if max_faults == 0 or (min_faults == 0 and mask == 0):
        return ()
    enabled = tuple(k for i, k in enumerate(kinds) if mask >> i & 1) if swarm and mask else kinds
    codes = draw(
        st.lists(st.binary(min_size=FAULT_BYTES, max_size=FAULT_BYTES), min_size=max(1, min_faults), max_size=max_faults)
    )
    schedule = [
        decode_fault(enabled[c[0] % len(enabled)], c, horizon=horizon, min_duration=min_duration, max_duration=max_duration)
        for c in codes
    ]
    return tuple(sorted(schedule, key=lambda f: f.at))


def clusters(*, min_nodes: int = 3, max_nodes: int = 10, max_zones: int = 3) -> st.SearchStrategy[ClusterSpec]:
    """A cluster of ``min_nodes``..``max_nodes`` identical workers over 1..``max_zones`` zones.

    Node sizes come from common cloud shapes (4 CPU / 16 GiB first, then 2/8, 8/32, 4/8): a
    memory-lean shape makes memory the binding resource in some examples.
    """
    _check_whole("min_nodes", min_nodes, 1, "min_nodes=3")
    _check_whole("max_nodes", max_nodes, 1, "max_nodes=10")
    if not 1 <= min_nodes <= max_nodes:
        raise InputError(f"need 1 <= min_nodes <= max_nodes, not {min_nodes} and {max_nodes}", field="min_nodes", fix="e.g. min_nodes=3, max_nodes=10")
    _check_whole("max_zones", max_zones, 1, "max_zones=3")
    return _clusters(min_nodes=min_nodes, max_nodes=max_nodes, max_zones=max_zones)


@st.composite
def _clusters(draw: Any, *, min_nodes: int, max_nodes: int, max_zones: int) -> ClusterSpec:
    nodes = draw(st.integers(min_nodes, max_nodes))
    zones = draw(st.integers(1, max(1, min(max_zones, nodes))))
    cpu, memory = draw(st.sampled_from((("4", "16Gi"), ("2", "8Gi"), ("8", "32Gi"), ("4", "8Gi"))))
    zone_names = tuple(f"zone-{chr(ord('a') + i)}" for i in range(zones))
    spec = ClusterSpec.uniform(nodes=nodes, zones=zones, cpu=cpu, memory=memory)
    return ClusterSpec(pools=(NodePool(**{**_pool_fields(spec.pools[0]), "zones": zone_names}),))


def _pool_fields(pool: NodePool) -> dict[str, Any]:
    return {name: getattr(pool, name) for name in pool.__dataclass_fields__}


_DNS = re.compile(r"[^a-z0-9-]")
_ROLES = ("api", "web", "worker", "cache", "gateway", "search", "auth", "billing")


_NAME_COUNT = 64
"""How many names :func:`service_names` builds (known without building them, which imports faker)."""


@lru_cache(maxsize=1)
def service_names() -> tuple[str, ...]:
    """Realistic, DNS-safe service names, built once per process by faker from a fixed seed."""
    from faker import Faker

    fake = Faker()
    fake.seed_instance(20261122)
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < _NAME_COUNT:
        word = _DNS.sub("", fake.word().lower())
        if len(word) < 3:
            continue
        name = f"{word}-{_ROLES[len(names) % len(_ROLES)]}"
        if name not in seen:
            seen.add(name)
            names.append(name)
    return tuple(names)


_CPU = ("100m", "250m", "500m", "1000m", "50m")
_MEMORY = ("128Mi", "256Mi", "512Mi", "1Gi", "3Gi")


def _deployment(name: str, replicas: int, cpu: str, memory: str) -> list[dict[str, Any]]:
    labels = {"app": name}
    container = {
        "name": "server",
        "image": f"registry.example.com/{name}:1.0",
        "resources": {"requests": {"cpu": cpu, "memory": memory}},
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 5},
    }
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name},
            # NodePort: the scenario's traffic comes from outside the cluster (a ClusterIP Service
            # would refuse all of it as not exposed).
            "spec": {"type": "NodePort", "selector": labels, "ports": [{"port": 80, "targetPort": 8080}]},
        },
    ]


def workloads(
    manifests: Sequence[str | Mapping[str, Any]] | None = None,
    *,
    min_workloads: int = 1,
    max_workloads: int = 10,
    max_replicas: int = 4,
) -> st.SearchStrategy[tuple[str | Mapping[str, Any], ...]]:
    """A scenario's ``workload``: the given ``manifests`` (paths or objects) as they are, or
    ``min_workloads``..``max_workloads`` generated Deployments, each with a Service.

    Generated ones shrink towards fewer workloads, one replica, and the first request sizes
    (100m CPU, 128Mi); requests range from 50m to 1 CPU and 128Mi to 3Gi independently, so CPU
    binds in some examples and memory in others.
    """
    if manifests is not None:
        return st.just(_names(manifests))
    for field, value in (("min_workloads", min_workloads), ("max_workloads", max_workloads)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"{field} must be a whole number, not {value!r}", field=field, fix="e.g. min_workloads=1, max_workloads=10")
    if not 1 <= min_workloads <= max_workloads <= _NAME_COUNT:
        raise InputError(
            f"need 1 <= min_workloads <= max_workloads <= {_NAME_COUNT}",
            field="max_workloads",
            fix="e.g. min_workloads=1, max_workloads=10",
        )
    _check_whole("max_replicas", max_replicas, 1, "max_replicas=4")
    return _workloads(min_workloads=min_workloads, max_workloads=max_workloads, max_replicas=max_replicas)


@st.composite
def _workloads(draw: Any, *, min_workloads: int, max_workloads: int, max_replicas: int) -> tuple[Mapping[str, Any], ...]:
    names = service_names()
    first = draw(st.integers(0, len(names) - 1))
    # A list, not a count and then the items: the shrinker can then drop any workload, not only the
    # last ones, so a counterexample keeps just the Deployments its failure needs.
    shapes = draw(
        st.lists(
            st.tuples(st.integers(1, max_replicas), st.sampled_from(_CPU), st.sampled_from(_MEMORY)),
            min_size=min_workloads,
            max_size=max_workloads,
        )
    )
    objects: list[Mapping[str, Any]] = []
    for i, (replicas, cpu, memory) in enumerate(shapes):
        objects.extend(_deployment(names[(first + i) % len(names)], replicas, cpu, memory))
    return tuple(objects)


_TRAFFIC_SHARE = 0.3
"""Generated traffic offers a generated Deployment at most this share of what its replicas serve (the
load model's default 100 requests per second per core of CPU request): busy, not overloaded before
any fault, since an overloaded service fails availability whatever the scheduler does."""


def _offered(workload: Sequence[str | Mapping[str, Any]], service: str, rate: float) -> float:
    """``rate``, capped at :data:`_TRAFFIC_SHARE` of the capacity of the Deployment that
    :func:`workloads` generated with ``service``'s name (other Services get ``rate``)."""
    name = service.partition("/")[2]
    for item in workload:
        if isinstance(item, Mapping) and item.get("kind") == "Deployment" and item.get("metadata", {}).get("name") == name:
            containers = item["spec"]["template"]["spec"]["containers"]
            cores = sum(parse_cpu(c.get("resources", {}).get("requests", {}).get("cpu", 0)) for c in containers) / 1000
            return min(rate, _TRAFFIC_SHARE * 100.0 * cores * item["spec"].get("replicas", 1)) if cores > 0 else rate
    return rate


def _services(workload: Sequence[str | Mapping[str, Any]]) -> list[str]:
    found = []
    for item in workload:
        if isinstance(item, Mapping) and item.get("kind") == "Service":
            meta = item.get("metadata", {})
            found.append(f"{meta.get('namespace', 'default')}/{meta['name']}")
    return found


def scenarios(
    *,
    cluster: st.SearchStrategy[ClusterSpec] | None = None,
    workload: st.SearchStrategy[tuple[str | Mapping[str, Any], ...]] | None = None,
    schedule: st.SearchStrategy[tuple[Fault, ...]] | None = None,
    traffic_rate: float = 20.0,
    duration: float = 600.0,
    quiet: float = 300.0,
    scheduler: str | None = None,
    properties: tuple[tuple[str, Mapping[str, Any]], ...] | None = None,
    load_mode: str = "fluid",
) -> st.SearchStrategy[Scenario]:
    """A whole scenario: a drawn cluster, workload and fault schedule, steady traffic of
    ``traffic_rate`` requests per second to every generated Service (at most 30% of what its
    Deployment serves, see :func:`_offered`), a seed, and the given
    properties (default: the library's suite)."""
    for field, value in (("cluster", cluster), ("workload", workload), ("schedule", schedule)):
        _check_strategy(field, value)
    if isinstance(traffic_rate, bool) or not isinstance(traffic_rate, (int, float)) or not math.isfinite(traffic_rate) or traffic_rate < 0:
        raise InputError(
            f"traffic_rate must be a number of requests per second >= 0, not {traffic_rate!r}",
            field="traffic_rate",
            fix="e.g. traffic_rate=20.0 (0 for no traffic)",
        )
    _check_seconds("duration", duration, positive=True, example="duration=600.0")
    _check_seconds("quiet", quiet, positive=False, example="quiet=300.0")
    return _scenarios(
        cluster=cluster if cluster is not None else clusters(),
        workload=workload if workload is not None else workloads(),
        schedule=schedule if schedule is not None else fault_schedules(horizon=duration),
        traffic_rate=traffic_rate,
        duration=duration,
        quiet=quiet,
        scheduler=scheduler,
        properties=properties,
        load_mode=load_mode,
    )


@st.composite
def _scenarios(
    draw: Any,
    *,
    cluster: st.SearchStrategy[ClusterSpec],
    workload: st.SearchStrategy[tuple[str | Mapping[str, Any], ...]],
    schedule: st.SearchStrategy[tuple[Fault, ...]],
    traffic_rate: float,
    duration: float,
    quiet: float,
    scheduler: str | None,
    properties: tuple[tuple[str, Mapping[str, Any]], ...] | None,
    load_mode: str,
) -> Scenario:
    spec = draw(cluster)
    objects = draw(workload)
    faults_drawn = draw(schedule)
    seed = draw(st.integers(0, 2**16))
    services = _services(objects) if traffic_rate > 0 else []
    traffic = tuple(LoadGenerator(service, Constant(_offered(objects, service, traffic_rate))) for service in services)
    return Scenario(
        seed=seed,
        duration=duration,
        quiet=quiet,
        scheduler=scheduler,
        load_mode=load_mode,
        cluster=spec,
        workload=objects,
        traffic=traffic,
        faults=faults_drawn,
        properties=properties,
    )
