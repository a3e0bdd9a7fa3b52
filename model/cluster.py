"""Cluster definitions: node pools from a compact spec, in Python or YAML.

A :class:`ClusterSpec` is a tuple of :class:`NodePool` values. Each pool spreads its nodes over its
zones round-robin and names them ``<pool>-1``, ``<pool>-2``, ..., so a pool's name must be a DNS-1123
label (lowercase letters, digits and '-', starting and ending with a letter or digit) short enough
that its last node's name, also its ``kubernetes.io/hostname`` label, has at most 63 characters
(``<pool>-<maxSize>``; nodes the cloud adds to replace lost ones count on past that, so a pool
churning through more machines than its digits allow can still outgrow it). Every node gets the well-known
labels ``kubernetes.io/hostname``, ``topology.kubernetes.io/zone`` and ``topology.kubernetes.io/region``,
and the OS/arch labels every kubelet sets on itself (``kubernetes.io/os: linux``,
``kubernetes.io/arch: amd64`` and their legacy ``beta.kubernetes.io/...`` twins;
kubernetes/kubernetes:pkg/kubelet/kubelet_node_status.go ``initialNode``), which manifests such as
Sock Shop select with ``nodeSelector``.

A pool's ``ephemeralStorage`` is optional: left at 0 the nodes report none and the scheduler's
contract does not check ephemeral-storage requests against them.

A pool is also a node group of the cloud provider (:mod:`podquake.model.cloud`): ``minSize`` and
``maxSize`` bound what the cluster autoscaler may do with it. Both default to ``count``, so a pool
is not autoscaled unless they are given (``count`` is the size the cluster starts with).

A pool's fields left out of the YAML form take :class:`NodePool`'s defaults (``count: 6`` over
``zone-a``..``zone-c``, 4 CPU, 16 GiB, 110 pods). A pool's ``labels`` may not set the labels
podquake sets on every node (hostname, zone, region, ``podquake.io/pool``): use ``zones``, the
cluster's ``region`` and the pool's ``name``. It may change the OS/arch labels (an arm64 pool).

>>> spec = ClusterSpec.default()
>>> len(spec.build_nodes()), sorted({n.zone for n in spec.build_nodes()})
(6, ['zone-a', 'zone-b', 'zone-c'])

The YAML form (the ``cluster:`` section of a scenario file)::

    region: region-1
    pools:
      - name: worker
        count: 6
        zones: [zone-a, zone-b, zone-c]
        cpu: "4"
        memory: 16Gi
        maxPods: 110
        ephemeralStorage: 100Gi
        labels: {tier: general}
        taints: [{key: dedicated, value: batch, effect: NoSchedule}]
        minSize: 3
        maxSize: 12
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from podquake.model import constants as k8s
from podquake.model.errors import InputError
from podquake.model.fieldpath import as_written
from podquake.model.fieldpath import describe as _describe
from podquake.model.manifest_pods import DNS_LABEL
from podquake.model.objects import Node
from podquake.model.quantity import QuantityError, Resources, parse_cpu, parse_memory
from podquake.model.selectors import TAINT_EFFECTS, Taint

__all__ = ["POOL_LABEL", "ClusterSpec", "NodePool"]

POOL_LABEL = "podquake.io/pool"
"""The label naming the pool (node group) a node belongs to."""

_POOL_FIELDS = {
    "name",
    "count",
    "zones",
    "cpu",
    "memory",
    "maxPods",
    "labels",
    "taints",
    "reservedCpu",
    "reservedMemory",
    "ephemeralStorage",
    "minSize",
    "maxSize",
}

_WHOLE_FIELDS = (
    "count",
    "cpu_millis",
    "memory_bytes",
    "max_pods",
    "reserved_cpu_millis",
    "reserved_memory_bytes",
    "ephemeral_storage_bytes",
    "min_size",
    "max_size",
)
_EXAMPLES = {
    "count": "6",
    "cpu_millis": "4000",
    "memory_bytes": "16 * 2**30",
    "max_pods": "110",
    "reserved_cpu_millis": "100",
    "reserved_memory_bytes": "2**30",
    "ephemeral_storage_bytes": "100 * 2**30",
    "min_size": "0",
    "max_size": "12",
}
_NODE_LABELS = {
    k8s.LABEL_HOSTNAME: ("the node's name, <pool>-1, <pool>-2, ...", "the nodes are named after the pool's name"),
    k8s.LABEL_ZONE: ("one of the pool's zones, round-robin", "list the zone in the pool's zones"),
    k8s.LABEL_REGION: ("the cluster's region", "set the cluster's region"),
    POOL_LABEL: ("the pool's name", "name the pool instead (name: ...)"),
}
"""The labels :meth:`NodePool.node` sets that a pool's ``labels`` may not: (what they hold, the fix).
The OS/arch labels are defaults a pool may change (an arm64 pool: ``kubernetes.io/arch: arm64``)."""


@dataclass(frozen=True)
class NodePool:
    """``count`` identical nodes spread round-robin over ``zones``.

    ``reserved_*`` is subtracted from capacity to give allocatable (kube-reserved + system-reserved).
    ``min_size``/``max_size`` bound the pool as an autoscaled node group; ``None`` means ``count``
    (read them through :attr:`min_nodes` and :attr:`max_nodes`).
    """

    name: str = "worker"
    count: int = 6
    zones: tuple[str, ...] = ("zone-a", "zone-b", "zone-c")
    cpu_millis: int = 4000
    memory_bytes: int = 16 * 2**30
    max_pods: int = k8s.DEFAULT_MAX_PODS
    labels: tuple[tuple[str, str], ...] = ()
    taints: tuple[Taint, ...] = ()
    reserved_cpu_millis: int = 0
    reserved_memory_bytes: int = 0
    ephemeral_storage_bytes: int = 0
    min_size: int | None = None
    max_size: int | None = None

    def __post_init__(self) -> None:
        # The forms a Python caller naturally writes, read as the YAML form reads them: a bare string
        # is one zone (not one zone per letter), a mapping of labels is its sorted pairs.
        if isinstance(self.zones, str):
            object.__setattr__(self, "zones", (self.zones,))
        elif isinstance(self.zones, list):
            object.__setattr__(self, "zones", tuple(self.zones))
        if isinstance(self.labels, Mapping):
            object.__setattr__(self, "labels", tuple(sorted(self.labels.items(), key=lambda pair: str(pair[0]))))
        elif isinstance(self.labels, list):
            object.__setattr__(self, "labels", tuple(self.labels))
        if isinstance(self.taints, list):
            object.__setattr__(self, "taints", tuple(self.taints))
        location = f"node pool {self.name!r}"
        wrong = self._type_problems()
        if wrong:
            # Checked before the values: comparing a string or a float with the limits below would
            # fail with a bare TypeError, or let 2.5 nodes through to crash build_nodes.
            raise InputError("; ".join(m for m, _ in wrong), location=location, fix="; ".join(dict.fromkeys(f for _, f in wrong)))
        self._check_name(location)
        sizes = f"e.g. count: 6, and 0 <= minSize <= count <= maxSize <= {k8s.SUPPORTED_MAX_NODES}"
        problems: list[tuple[str, str]] = []
        if not self.name:
            problems.append(("a pool needs a name", "name it, e.g. name: worker"))
        if self.count < 0:
            problems.append((f"count {self.count} must not be negative", sizes))
        if max(self.count, self.max_size or 0) > k8s.SUPPORTED_MAX_NODES:
            problems.append(
                (f"{max(self.count, self.max_size or 0):,} nodes exceed the {k8s.SUPPORTED_MAX_NODES:,} Kubernetes supports", sizes)
            )
        if not self.zones:
            problems.append(("zones must list at least one zone", "e.g. zones: [zone-a]"))
        if self.reserved_cpu_millis < 0:
            problems.append(
                (f"reservedCpu {self.reserved_cpu_millis}m must not be negative (allocatable would exceed capacity)", "reserve 0 or more")
            )
        elif self.cpu_millis <= self.reserved_cpu_millis:
            problems.append(
                (f"cpu {self.cpu_millis}m must exceed the reserved {self.reserved_cpu_millis}m", "reserve less than the node's cpu")
            )
        if self.reserved_memory_bytes < 0:
            problems.append(
                (f"reservedMemory {self.reserved_memory_bytes} must not be negative (allocatable would exceed capacity)", "reserve 0 or more")
            )
        elif self.memory_bytes <= self.reserved_memory_bytes:
            problems.append(("memory must exceed the reserved memory", "reserve less than the node's memory"))
        if self.max_pods <= 0:
            problems.append((f"maxPods {self.max_pods} must be positive", "e.g. maxPods: 110"))
        if self.ephemeral_storage_bytes < 0:
            problems.append(("ephemeralStorage must not be negative", "leave it out (0: none reported), or e.g. ephemeralStorage: 100Gi"))
        if self.min_size is not None and self.min_size < 0:
            problems.append((f"minSize {self.min_size} must not be negative", sizes))
        elif self.min_size is not None and self.max_size is not None and self.min_size > self.max_size:
            problems.append((f"minSize {self.min_size} must not exceed maxSize {self.max_size}", sizes))
        elif self.count > self.max_nodes:
            problems.append((f"count {self.count} exceeds maxSize {self.max_nodes}", sizes))
        elif self.count < self.min_nodes:
            problems.append((f"count {self.count} is below minSize {self.min_nodes}", sizes))
        if problems:
            raise InputError("; ".join(m for m, _ in problems), location=location, fix="; ".join(dict.fromkeys(f for _, f in problems)))
        self._check_labels(location)

    def _type_problems(self) -> list[tuple[str, str]]:
        """(problem, fix) for every field whose value is not of its type."""
        problems = []
        if not isinstance(self.name, str):
            problems.append((f"name must be a string, not {_describe(self.name)}", "name the pool, e.g. name='worker'"))
        for name in _WHOLE_FIELDS:
            value = getattr(self, name)
            if value is None and name in ("min_size", "max_size"):
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                problems.append((f"{name} must be a whole number, not {_describe(value)}", f"pass an int, e.g. {name}={_EXAMPLES[name]}"))
        if not isinstance(self.zones, tuple):
            problems.append((f"zones must be a tuple of zone names, not {_describe(self.zones)}", "e.g. zones=('zone-a', 'zone-b')"))
        else:
            problems += [
                (f"zones[{i}] must be a zone name, not {_describe(zone)}", "e.g. zones=('zone-a', 'zone-b')")
                for i, zone in enumerate(self.zones)
                if not isinstance(zone, str) or not zone
            ]
        if not isinstance(self.labels, tuple):
            problems.append((f"labels must be a mapping of strings, not {_describe(self.labels)}", "e.g. labels={'tier': 'batch'}"))
        else:
            problems += [
                (f"labels[{i}] must be a (key, value) pair of strings, not {pair!r}"[:200], "e.g. labels={'tier': 'batch'}")
                for i, pair in enumerate(self.labels)
                if not isinstance(pair, tuple) or len(pair) != 2 or not all(isinstance(part, str) for part in pair)
            ]
        if not isinstance(self.taints, tuple):
            problems.append((f"taints must be a tuple of Taint values, not {_describe(self.taints)}", "e.g. taints=(Taint('dedicated', 'batch'),)"))
        else:
            problems += [
                (f"taints[{i}] must be a Taint, not {_describe(taint)}", "e.g. taints=(Taint('dedicated', 'batch'),)")
                for i, taint in enumerate(self.taints)
                if not isinstance(taint, Taint)
            ]
        return problems

    def _check_name(self, location: str) -> None:
        """Refuse a name that is not a DNS-1123 label: the nodes are named ``<pool>-1``, ... and the
        name is the value of their ``podquake.io/pool`` label (an empty name is refused with the
        other value problems)."""
        if not self.name:
            return
        # The last node's name is also its kubernetes.io/hostname label value: at most 63 characters.
        last = f"{self.name}-{self.max_nodes}"
        room = 63 - (len(last) - len(self.name))
        if DNS_LABEL.match(self.name) and len(self.name) <= room:
            return
        guess = re.sub(r"[^a-z0-9]+", "-", self.name.lower())[:room].strip("-") or "worker"
        if DNS_LABEL.match(self.name) and len(self.name) <= 63:
            problem = (
                f"{self.name!r} ({len(self.name)} characters) is too long for its nodes' names: {last} has {len(last)} characters, "
                "and a node's name is its kubernetes.io/hostname label, at most 63"
            )
        else:
            length = f" ({len(self.name)} characters)" if len(self.name) > 63 else ""
            problem = f"{self.name!r} is not a DNS-1123 label{length}, and the pool's nodes are named after it ({self.name}-1, ...)"
        raise InputError(
            problem,
            location=location,
            field="name",
            fix=f"use at most {room} lowercase letters, digits and '-', starting and ending with a letter or digit, e.g. {guess}",
        )

    def _check_labels(self, location: str) -> None:
        """Refuse a label that :meth:`node` sets itself: the pool's would silently win over it, and a
        node's zone label would then disagree with the zone the pool put it in."""
        for key, _value in self.labels:
            instead = _NODE_LABELS.get(key)
            if instead is not None:
                raise InputError(
                    f"label {key} is set on every node by podquake ({instead[0]}); a pool may not set it",
                    location=location,
                    field="labels",
                    fix=f"remove it from labels; {instead[1]}",
                )

    @property
    def min_nodes(self) -> int:
        """The node group's minimum size (``minSize``, else ``count``)."""
        return self.count if self.min_size is None else self.min_size

    @property
    def max_nodes(self) -> int:
        """The node group's maximum size (``maxSize``, else ``count``)."""
        return self.count if self.max_size is None else self.max_size

    @property
    def autoscaled(self) -> bool:
        """Whether the cluster autoscaler may change the pool's size at all."""
        return self.min_nodes < self.max_nodes

    def node(self, name: str, zone: str, region: str) -> Node:
        """A fresh :class:`Node` of this pool's shape, named ``name``, in ``zone`` (not yet in any store)."""
        labels = {
            k8s.LABEL_HOSTNAME: name,
            k8s.LABEL_ZONE: zone,
            k8s.LABEL_REGION: region,
            k8s.LABEL_OS: "linux",
            k8s.LABEL_ARCH: "amd64",
            k8s.LEGACY_LABEL_OS: "linux",
            k8s.LEGACY_LABEL_ARCH: "amd64",
            POOL_LABEL: self.name,
        }
        labels.update(self.labels)
        return Node(name, 0, labels, self.capacity, self.allocatable, taints=self.taints)

    @property
    def capacity(self) -> Resources:
        return Resources(self.cpu_millis, self.memory_bytes, self.max_pods, self.ephemeral_storage_bytes)

    @property
    def allocatable(self) -> Resources:
        return Resources(
            self.cpu_millis - self.reserved_cpu_millis,
            self.memory_bytes - self.reserved_memory_bytes,
            self.max_pods,
            self.ephemeral_storage_bytes,
        )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "count": self.count,
            "zones": list(self.zones),
            "cpu": f"{self.cpu_millis}m",
            "memory": str(self.memory_bytes),
            "maxPods": self.max_pods,
        }
        if self.labels:
            data["labels"] = dict(self.labels)
        if self.taints:
            data["taints"] = [{"key": t.key, "value": t.value, "effect": t.effect} for t in self.taints]
        if self.reserved_cpu_millis:
            data["reservedCpu"] = f"{self.reserved_cpu_millis}m"
        if self.reserved_memory_bytes:
            data["reservedMemory"] = str(self.reserved_memory_bytes)
        if self.ephemeral_storage_bytes:
            data["ephemeralStorage"] = str(self.ephemeral_storage_bytes)
        if self.min_size is not None:
            data["minSize"] = self.min_size
        if self.max_size is not None:
            data["maxSize"] = self.max_size
        return data


@dataclass(frozen=True)
class ClusterSpec:
    """The worker nodes of a cluster, as node pools. The control plane is implicit."""

    pools: tuple[NodePool, ...] = field(default_factory=lambda: (NodePool(),))
    region: str = "region-1"

    def __post_init__(self) -> None:
        if not isinstance(self.region, str):
            # It is every node's topology.kubernetes.io/region label value, and label values are strings.
            raise InputError(
                f"region must be a string, not {_describe(self.region)}", field="region", fix="write e.g. region='region-1'"
            )
        pools = self.pools
        if isinstance(pools, NodePool):
            pools = (pools,)
        elif isinstance(pools, list):
            pools = tuple(pools)  # a list would leave the frozen spec unhashable
        if not isinstance(pools, tuple):
            raise InputError(
                f"pools must be a tuple of NodePool values, not {_describe(pools)}",
                field="pools",
                fix="write e.g. ClusterSpec(pools=(NodePool(),)), or ClusterSpec.from_dict for the YAML form",
            )
        for i, pool in enumerate(pools):
            if not isinstance(pool, NodePool):
                raise InputError(
                    f"pools[{i}] is {_describe(pool)}, not a NodePool",
                    field="pools",
                    fix="write NodePool(name=..., count=...), or use ClusterSpec.from_dict for the YAML form",
                )
        if not pools:
            # As the YAML form: with no pool there are no nodes, and none the autoscaler could add.
            raise InputError(
                "a cluster needs at least one node pool",
                field="pools",
                fix="give e.g. pools=(NodePool(),) (a pool of count 0 with a maxSize above 0 starts empty and may grow)",
            )
        object.__setattr__(self, "pools", pools)
        names = [p.name for p in self.pools]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InputError(f"node pool names must be unique; repeated: {', '.join(duplicates)}", field="pools")
        largest = sum(p.max_nodes for p in self.pools)
        if largest > k8s.SUPPORTED_MAX_NODES:
            raise InputError(
                f"the pools may grow to {largest:,} nodes; Kubernetes supports {k8s.SUPPORTED_MAX_NODES:,}",
                field="pools",
                fix=f"keep the pools' counts (and maxSize) to {k8s.SUPPORTED_MAX_NODES:,} nodes in all",
            )

    @classmethod
    def default(cls) -> ClusterSpec:
        """Six 4-CPU, 16 GiB workers across three zones."""
        return cls()

    @classmethod
    def uniform(
        cls,
        nodes: int,
        zones: int = 3,
        cpu: str | int = "4",
        memory: str | int = "16Gi",
        max_pods: int = k8s.DEFAULT_MAX_PODS,
    ) -> ClusterSpec:
        """``nodes`` identical workers over ``zones`` zones named ``zone-a``, ``zone-b``, ..."""
        if isinstance(zones, bool) or not isinstance(zones, int) or zones < 1:
            raise InputError(f"zones must be a whole number >= 1, not {zones!r}", field="zones", fix="e.g. zones: 3")
        if isinstance(nodes, bool) or not isinstance(nodes, int):
            # True counted as 1 node; '3' failed with a bare "'<' not supported".
            raise InputError(f"nodes must be a whole number >= 0, not {nodes!r}", field="nodes", fix="e.g. nodes: 6")
        zone_names = tuple(_zone_name(i) for i in range(zones))
        return cls(
            pools=(
                NodePool(
                    count=nodes,
                    zones=zone_names,
                    cpu_millis=parse_cpu(cpu),
                    memory_bytes=parse_memory(memory),
                    max_pods=max_pods,
                ),
            )
        )

    @property
    def node_count(self) -> int:
        return sum(p.count for p in self.pools)

    def may_have_node(self, name: str) -> bool:
        """Whether a node ``name`` can exist in this cluster: ``POOL-N`` of one of its pools, with
        ``N`` up to the pool's count, or any ``N`` if the autoscaler may grow the pool."""
        pool_name, _, number = name.rpartition("-")
        if not number.isdigit() or int(number) < 1:
            return False
        return any(pool.name == pool_name and (int(number) <= pool.count or pool.max_nodes > pool.count) for pool in self.pools)

    def build_nodes(self) -> list[Node]:
        """Fresh :class:`Node` objects for this spec, in a fixed order (pool by pool)."""
        nodes = []
        for pool in self.pools:
            for i in range(pool.count):
                nodes.append(pool.node(f"{pool.name}-{i + 1}", pool.zones[i % len(pool.zones)], self.region))
        return nodes

    def to_dict(self) -> dict[str, Any]:
        return {"region": self.region, "pools": [p.to_dict() for p in self.pools]}

    @classmethod
    def from_dict(cls, data: Any, source: str = "cluster") -> ClusterSpec:
        """Parse the YAML form, raising :class:`InputError` that names the source and field."""
        if data is None:
            return cls.default()
        if not isinstance(data, Mapping):
            raise InputError("the cluster must be a mapping with 'pools'", source=source, fix="see ClusterSpec's docstring")
        unknown = sorted(map(str, set(data) - {"region", "pools", "nodes", "zones", "cpu", "memory"}))
        if unknown:
            raise InputError(
                f"unknown field(s) {', '.join(unknown)}", source=source, fix="use region and pools (or nodes/zones/cpu/memory)"
            )
        shorthand = sorted(set(data) & {"nodes", "zones", "cpu", "memory"})
        if "pools" in data and shorthand:
            # Either form alone says the whole cluster; together, the shorthand was silently dropped.
            raise InputError(
                f"pools and {', '.join(shorthand)} cannot be combined: pools lists every node, so "
                f"{', '.join(shorthand)} would be ignored",
                source=source,
                field=f"pools/{'/'.join(shorthand)}",
                fix="give either pools (with count, zones, cpu and memory per pool) or nodes/zones/cpu/memory, not both",
            )
        region = data.get("region", "region-1")
        if not isinstance(region, str):
            # str() made region 'None' of region: null, and '1' of region: 1.
            raise InputError(
                f"expected a region name, got {_describe(region)}",
                source=source,
                field="region",
                fix=f'quote it: region: "{as_written(region)}"' if isinstance(region, (bool, int, float)) else "write e.g. region: region-1",
            )
        try:
            if "pools" not in data:
                zones = _int(data.get("zones", 3), source, "zones")
                if zones < 1:
                    raise InputError(f"zones {zones} must be at least 1", source=source, field="zones", fix="write zones: 1 or more")
                try:
                    uniform = cls.uniform(
                        nodes=_int(data.get("nodes", 6), source, "nodes"),
                        zones=zones,
                        cpu=data.get("cpu", "4"),
                        memory=data.get("memory", "16Gi"),
                    )
                except QuantityError as error:
                    raise InputError(
                        str(error), source=source, field="cpu/memory", fix="write e.g. cpu: '4', memory: 16Gi"
                    ) from None
                return cls(pools=uniform.pools, region=region)
            pools_data = data["pools"]
            if not isinstance(pools_data, list) or not pools_data:
                raise InputError("pools must be a non-empty list", source=source, field="pools")
            pools = tuple(_pool_from_dict(p, source, f"pools[{i}]") for i, p in enumerate(pools_data))
            return cls(pools=pools, region=region)
        except InputError as error:
            # NodePool and ClusterSpec validate themselves without knowing the file: name it here.
            if not error.source:
                error.source = source
                error.args = (str(error),)
            raise


# What a pool in the YAML form leaves out is what NodePool() leaves out (count 6, not 1).
_POOL_DEFAULTS = {f.name: f.default for f in fields(NodePool)}


def _zone_name(i: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return f"zone-{letters[i]}" if i < len(letters) else f"zone-{i}"


def _int(value: Any, source: str, field_name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{value!r} is not a whole number", source=source, field=field_name, fix="write an integer")
    return value


def _optional_int(value: Any, source: str, field_name: str) -> int | None:
    return None if value is None else _int(value, source, field_name)


def _pool_from_dict(data: Any, source: str, where: str) -> NodePool:
    if not isinstance(data, Mapping):
        raise InputError("a pool must be a mapping", source=source, field=where)
    unknown = sorted(map(str, set(data) - _POOL_FIELDS))
    if unknown:
        raise InputError(f"unknown field(s) {', '.join(unknown)}", source=source, field=where, fix=f"use {', '.join(sorted(_POOL_FIELDS))}")
    try:
        zones = data.get("zones", ["zone-a", "zone-b", "zone-c"])
        if isinstance(zones, str):
            zones = [zones]
        if not isinstance(zones, list) or not all(isinstance(z, str) for z in zones):
            raise InputError("zones must be a list of names", source=source, field=f"{where}.zones")
        labels = data.get("labels", {}) or {}
        if not isinstance(labels, Mapping):
            raise InputError("labels must be a mapping", source=source, field=f"{where}.labels")
        for key, value in labels.items():
            # A label value is a string, as the Kubernetes API demands (str() made {'b': 1} of a mapping).
            if not isinstance(key, str) or not isinstance(value, str):
                raise InputError(
                    f"expected a string {'value' if isinstance(key, str) else 'key'}, got {_describe(value if isinstance(key, str) else key)}",
                    source=source,
                    field=f"{where}.labels.{key}",
                    fix=f'quote it: {key}: "{as_written(value)}"' if isinstance(value, (bool, int, float)) else "write a string",
                )
        name = data.get("name", _POOL_DEFAULTS["name"])
        if not isinstance(name, str) or not name:
            # str() made a pool named 'None' of name: null (and '5' of 5).
            raise InputError(f"expected a pool name, got {_describe(name)}", source=source, field=f"{where}.name", fix="write e.g. name: worker")
        taints = []
        for j, taint in enumerate(data.get("taints", []) or []):
            if not isinstance(taint, Mapping) or "key" not in taint:
                raise InputError("a taint needs a key", source=source, field=f"{where}.taints[{j}]")
            effect = str(taint.get("effect", "NoSchedule"))
            if effect not in TAINT_EFFECTS:
                raise InputError(
                    f"unknown effect {effect!r}", source=source, field=f"{where}.taints[{j}].effect", fix=f"use one of {', '.join(TAINT_EFFECTS)}"
                )
            taints.append(Taint(str(taint["key"]), str(taint.get("value", "")), effect))
        return NodePool(
            name=name,
            count=_int(data.get("count", _POOL_DEFAULTS["count"]), source, f"{where}.count"),
            zones=tuple(zones),
            cpu_millis=parse_cpu(data.get("cpu", "4")),
            memory_bytes=parse_memory(data.get("memory", "16Gi")),
            max_pods=_int(data.get("maxPods", k8s.DEFAULT_MAX_PODS), source, f"{where}.maxPods"),
            labels=tuple(sorted((str(k), str(v)) for k, v in labels.items())),
            taints=tuple(taints),
            reserved_cpu_millis=parse_cpu(data.get("reservedCpu", 0)),
            reserved_memory_bytes=parse_memory(data.get("reservedMemory", 0)),
            ephemeral_storage_bytes=parse_memory(data.get("ephemeralStorage", 0)),
            min_size=_optional_int(data.get("minSize"), source, f"{where}.minSize"),
            max_size=_optional_int(data.get("maxSize"), source, f"{where}.maxSize"),
        )
    except QuantityError as error:
        raise InputError(str(error), source=source, field=where, fix="write quantities like cpu: '4' and memory: 16Gi") from None
    except InputError as error:
        if not error.source:
            error.source, error.field = source, f"{where}.{error.field}" if error.field else where
            error.args = (str(error),)
        raise
