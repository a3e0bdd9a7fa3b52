"""The cluster network: who can reach whom, partitions as data, and their healing.

:class:`ClusterNetwork` keeps a networkx graph of the cluster's network (``graph``): the control
plane (:data:`CONTROL_PLANE`), the cloud load balancer (:data:`CLOUD_LB`) and a core router
(:data:`CORE`), one switch per zone (``zone/<zone>``, linked to the core), and every worker node
(vertex attribute ``zone``) hanging on its zone's switch. It follows ``NodeAdded`` and
``NodeRemoved``. The endpoints, the names :meth:`~ClusterNetwork.reachable` answers about, are the
control plane, the load balancer and the workers; the core and the switches only carry traffic.

Partitions are frozen values, applied with :meth:`~ClusterNetwork.apply` (which returns a
:class:`PartitionHandle`) and healed with :meth:`~ClusterNetwork.heal` or
:meth:`~ClusterNetwork.heal_all`:

- :class:`NodeCutOff` ``(node)``: the node and the control plane cannot reach each other; the rest
  of the network still reaches the node (a firewall rule, or a broken route to the API server). Its
  kubelet stops renewing its lease and stops seeing and reporting API changes, but its containers
  keep running and serve whatever traffic still reaches them: the split-brain of a real cluster.
- :class:`ZoneIsolation` ``(zone)``: the zone switch's uplink to the core is down; the zone's nodes
  (including nodes that join it later) reach each other and nothing else.
- :class:`Split` ``(groups)``: endpoints in different groups cannot reach each other; endpoints
  named in no group (including nodes that join later) form one more group, the rest.
  ``Split(groups=(("worker-3",),))`` isolates one node from everything.

Overlapping partitions compose: two endpoints reach each other when every active partition lets
them, whatever the order they were applied and healed in (applying the same value twice needs two
heals). A node's kubelet is told when its path to the control plane opens or closes
(:meth:`Kubelet.set_api_reachable <podquake.model.kubelet.Kubelet.set_api_reachable>`), and so is
every function registered with :meth:`~ClusterNetwork.subscribe` (a node proxy, say). Each applied
and healed partition is recorded in the trace (``NetworkPartitioned``, ``NetworkHealed``, through
the store) before its consequences (the kubelet's catch-up after a heal, for instance).

How reachability stays constant-time. The endpoints hanging on one fabric vertex that every active
split puts in the same group always share a component; they share one small record of it, a *cell*
holding the component id. ``reachable(a, b)`` is two dict lookups and a comparison of the two
cells' ids (plus one dict test while a control-plane cut-off is active: "cut off from the control
plane only" is not transitive, so it cannot be a component). Nothing is recomputed from scratch:

- a link cut (zone isolation) changes the components of the small fabric graph (core, control
  plane, load balancer, switches), which networkx recomputes (a dozen vertices); the few cells of the
  vertices whose component changed get a new id, and no node entry is touched;
- a split moves each endpoint it names to the cell of its switch and its groups so far plus this
  one (a heal, minus this one): a pass over the names it lists, in C (``map``/``zip``), with Python
  work only per distinct cell;
- a control-plane cut-off changes no component at all.

Telling kubelets which nodes lost or regained the control plane is decided per cell too (each cell
remembers what its nodes were last told). So a cut-off or a zone isolation costs O(1) in the network
plus the list of nodes to tell, a split O(endpoints it names); ``benchmarks/bench_network.py``
measures them against networkx recomputing the components from scratch.

Simplifications, on purpose: links are up or down (no latency, loss or bandwidth); reachability is
symmetric; the fabric is a star of zone switches on one core (a zone is the unit of failure below a
whole split); a cut or healed path takes effect at once for everything (real TCP connections time
out, and routes converge, over seconds).

>>> from podquake.model import ClusterSpec, Simulation
>>> sim = Simulation(ClusterSpec.uniform(nodes=3, zones=3), seed=1)
>>> network = ClusterNetwork(sim); network.start()
>>> handle = network.apply(ZoneIsolation(zone="zone-a"))
>>> network.reachable("worker-1", CONTROL_PLANE), network.reachable("worker-2", CLOUD_LB)
(False, True)
>>> network.heal(handle), network.reachable("worker-1", CONTROL_PLANE)
(True, True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from itertools import chain, compress, filterfalse
from operator import is_
from typing import TYPE_CHECKING, ClassVar

import networkx as nx

from podquake.model import trace as ev

if TYPE_CHECKING:
    from podquake.model.simulation import Simulation

__all__ = [
    "CLOUD_LB",
    "CONTROL_PLANE",
    "CORE",
    "ClusterNetwork",
    "NodeCutOff",
    "Partition",
    "PartitionHandle",
    "Split",
    "ZoneIsolation",
    "zone_switch",
]

CONTROL_PLANE = "control-plane"
"""The endpoint name of the control plane (API server, controllers, scheduler)."""
CLOUD_LB = "cloud-lb"
"""The endpoint name of the cloud provider's load balancer."""
CORE = "core"
"""The core router every zone switch, the control plane and the load balancer hang on."""
_SWITCH_PREFIX = "zone/"  # a Kubernetes node name cannot hold "/", so switches never clash with nodes
_RESERVED = (CONTROL_PLANE, CLOUD_LB, CORE)
DESCRIBED_NAMES = 8
"""How many names of each group a :class:`Split`'s description (in the trace) spells out."""


def zone_switch(zone: str) -> str:
    """The graph vertex of ``zone``'s switch.

    >>> zone_switch("zone-a")
    'zone/zone-a'
    """
    return _SWITCH_PREFIX + zone


def _check_name(value: object, what: str, example: str) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string, got {value!r}; for example {example}")


@dataclass(frozen=True)
class NodeCutOff:
    """Worker ``node`` and the control plane cannot reach each other; nothing else changes.

    >>> NodeCutOff(node="worker-2").description
    'worker-2 cut off from the control plane'
    """

    node: str
    kind: ClassVar[str] = "node-cut-off"

    def __post_init__(self) -> None:
        _check_name(self.node, "NodeCutOff.node", 'NodeCutOff(node="worker-2")')
        if self.node in _RESERVED:
            raise ValueError(f"NodeCutOff.node must name a worker node, not {self.node!r}")

    @property
    def description(self) -> str:
        return f"{self.node} cut off from the control plane"


@dataclass(frozen=True)
class ZoneIsolation:
    """The switch of ``zone`` loses its uplink: the zone's nodes reach only each other.

    >>> ZoneIsolation(zone="zone-a").description
    'zone zone-a isolated'
    """

    zone: str
    kind: ClassVar[str] = "zone-isolation"

    def __post_init__(self) -> None:
        _check_name(self.zone, "ZoneIsolation.zone", 'ZoneIsolation(zone="zone-a")')

    @property
    def description(self) -> str:
        return f"zone {self.zone} isolated"


@dataclass(frozen=True)
class Split:
    """The endpoints fall into ``groups`` that cannot reach each other; the unnamed ones are one more
    group (the rest). Lists are accepted and kept as tuples.

    >>> Split(groups=[["worker-1", "worker-2"], ["control-plane"]])
    Split(groups=(('worker-1', 'worker-2'), ('control-plane',)))
    >>> Split(groups=[["worker-1", "worker-2"], ["control-plane"]]).description
    'split {worker-1, worker-2} | {control-plane} | rest'
    """

    groups: tuple[tuple[str, ...], ...]
    kind: ClassVar[str] = "split"

    def __post_init__(self) -> None:
        example = 'Split(groups=(("worker-1", "worker-2"), ("control-plane",)))'
        if isinstance(self.groups, str) or not isinstance(self.groups, Iterable):
            raise ValueError(f"Split.groups must be a sequence of groups of endpoint names; for example {example}")
        raw = tuple(self.groups)
        if any(isinstance(group, str) or not isinstance(group, Iterable) for group in raw):
            raise ValueError(f"each of Split.groups must be a sequence of endpoint names; for example {example}")
        groups = tuple(tuple(group) for group in raw)
        if not groups or any(not group for group in groups):
            raise ValueError(f"Split.groups needs at least one group and no empty group; for example {example}")
        seen: dict[str, int] = {}
        for i, group in enumerate(groups):
            for name in group:
                _check_name(name, "an endpoint in Split.groups", example)
                if name == CORE:
                    raise ValueError(f"{CORE!r} is a router, not an endpoint: name nodes, {CONTROL_PLANE!r} or {CLOUD_LB!r}")
                if name in seen:
                    raise ValueError(f"{name!r} is in Split groups {seen[name]} and {i}: it can be in one only")
                seen[name] = i
        object.__setattr__(self, "groups", groups)

    @property
    def description(self) -> str:
        """The groups, each cut to its first :data:`DESCRIBED_NAMES` names (the trace stays readable)."""

        def describe(group: tuple[str, ...]) -> str:
            if len(group) <= DESCRIBED_NAMES:
                return "{" + ", ".join(group) + "}"
            return "{" + ", ".join(group[:DESCRIBED_NAMES]) + f", ... {len(group) - DESCRIBED_NAMES} more}}"

        return "split " + " | ".join(map(describe, self.groups)) + " | rest"


Partition = NodeCutOff | ZoneIsolation | Split


@dataclass(frozen=True)
class PartitionHandle:
    """An applied partition: ``id`` numbers it in the trace (1, 2, ... in application order)."""

    id: int
    partition: Partition


class _Cell:
    """The endpoints hanging on one fabric vertex that every active split puts in the same group
    (``chain``: the ``(split id, group)`` pairs, in split order). They always share a component, so
    they share this record of its id: a link cut renumbers a vertex's few cells, not its nodes.
    ``reach``: whether the cell was last announced as in the control plane's component (its
    workers' kubelets were told so, unless cut off)."""

    __slots__ = ("id", "vertex", "chain", "reach")

    def __init__(self, cid: int, vertex: str, chain: tuple[tuple[int, int], ...], reach: bool) -> None:
        self.id = cid
        self.vertex = vertex
        self.chain = chain
        self.reach = reach


class ClusterNetwork:
    """The cluster's network graph with cached reachability. See the module docstring.

    Construct with the simulation, then :meth:`start` (it reads the nodes already in the store and
    follows the ones added and removed later).
    """

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.state = sim.state
        self.graph = nx.Graph()
        """Every vertex and every link that is up (zone isolation removes an uplink here)."""
        self.version = 0
        """Bumped by every change of reachability, for callers that cache what they derived from it."""
        self._fabric = nx.Graph()  # the vertices that carry traffic, with the control plane and the LB
        self._fabric_order: dict[str, int] = {}
        self._base: dict[str, str] = {}  # fabric vertex -> its fabric component (named by its first vertex)
        self._hangs_on: dict[str, str] = {}  # endpoint -> its fabric vertex (itself for CP and LB)
        self._members: dict[str, dict[str, None]] = {}  # fabric vertex -> endpoints hanging on it
        self._cells: dict[str, dict[tuple[tuple[int, int], ...], _Cell]] = {}  # vertex -> chain -> cell
        self._cell: dict[str, _Cell] = {}  # endpoint -> its cell: what reachable() reads
        self._interned: dict[object, int] = {}  # (fabric component, chain) -> component id
        self._workers: dict[str, None] = {}
        self._cut_off: dict[str, int] = {}  # worker -> active NodeCutOff count
        self._cut_links: dict[tuple[str, str], int] = {}  # link -> active ZoneIsolation count
        self._split_groups: dict[int, tuple[tuple[str, ...], ...]] = {}  # active split id -> its groups
        self._active: dict[int, PartitionHandle] = {}
        self._next_id = 1
        self._subscribers: list[Callable[[str, bool], None]] = []

    def start(self) -> None:
        """Build the graph from the store's nodes and follow node additions and removals."""
        self._add_fabric(CORE, "router")
        for name, kind in ((CONTROL_PLANE, "control-plane"), (CLOUD_LB, "load-balancer")):
            self._add_fabric(name, kind)
            self._link(name, CORE)
        self._recompute_fabric()
        for name in (CONTROL_PLANE, CLOUD_LB):
            self._attach(name, name)
        for node in self.state.node_list:
            self._add_worker(node.name, node.zone)
        self.state.watch(ev.NodeAdded, self._on_node_added)
        self.state.watch(ev.NodeRemoved, self._on_node_removed)

    # === queries ==================================================================================
    def reachable(self, a: str, b: str) -> bool:
        """Whether endpoints ``a`` and ``b`` can reach each other now (constant time).

        Raises ValueError for a name that is not an endpoint (a node, ``control-plane``, ``cloud-lb``).
        """
        cell = self._cell
        try:
            if cell[a].id != cell[b].id:
                return False
        except KeyError:
            unknown = a if a not in cell else b
            raise ValueError(
                f"{unknown!r} is not an endpoint of the network: use a node name, {CONTROL_PLANE!r} or {CLOUD_LB!r}"
            ) from None
        cut_off = self._cut_off
        if cut_off:
            if a == CONTROL_PLANE:
                return b not in cut_off
            if b == CONTROL_PLANE:
                return a not in cut_off
        return True

    def api_reachable(self, node: str) -> bool:
        """Whether worker ``node`` reaches the control plane (so its kubelet can report)."""
        return self.reachable(node, CONTROL_PLANE)

    @property
    def partitions(self) -> list[PartitionHandle]:
        """The active partitions, in application order."""
        return list(self._active.values())

    def endpoints(self) -> list[str]:
        """Every endpoint: the control plane, the load balancer, then the workers in order of arrival."""
        return list(self._cell)

    def components(self) -> list[list[str]]:
        """The endpoints grouped by component, each group and the list in endpoint order (O(n); for
        reports and tests). Control-plane cut-offs are not components and do not show here."""
        groups: dict[int, list[str]] = {}
        for name, cell in self._cell.items():
            groups.setdefault(cell.id, []).append(name)
        return list(groups.values())

    def subscribe(self, callback: Callable[[str, bool], None]) -> None:
        """Call ``callback(node, reachable)`` whenever worker ``node``'s path to the control plane
        opens or closes (right after its kubelet was told; nodes in a fixed order: zone by zone, in
        order of arrival, or as a split lists them)."""
        self._subscribers.append(callback)

    # === partitions ===============================================================================
    def apply(self, partition: Partition) -> PartitionHandle:
        """Apply ``partition`` now and record it (``NetworkPartitioned``); returns its handle.

        Raises ValueError if it names a node, zone or endpoint the network does not have.
        """
        self._validate(partition)
        handle = PartitionHandle(self._next_id, partition)
        self._next_id += 1
        self._active[handle.id] = handle
        flipped = self._effect(handle, applying=True)
        self.version += 1
        self.state.record_network_partitioned(handle.id, partition.kind, partition.description)
        self._tell(flipped)
        return handle

    def heal(self, handle: PartitionHandle) -> bool:
        """Undo the partition of ``handle`` now and record it (``NetworkHealed``). Returns False if it
        is not active (already healed)."""
        if self._active.get(handle.id) != handle:
            return False
        del self._active[handle.id]
        flipped = self._effect(handle, applying=False)
        self.version += 1
        partition = handle.partition
        self.state.record_network_healed(handle.id, partition.kind, partition.description)
        self._tell(flipped)
        return True

    def heal_all(self) -> int:
        """Heal every active partition, in application order; returns how many."""
        handles = list(self._active.values())
        for handle in handles:
            self.heal(handle)
        return len(handles)

    def _validate(self, partition: Partition) -> None:
        if isinstance(partition, NodeCutOff):
            if partition.node not in self._workers:
                raise ValueError(f"NodeCutOff: no node named {partition.node!r} in the network")
        elif isinstance(partition, ZoneIsolation):
            if zone_switch(partition.zone) not in self._fabric:
                zones = ", ".join(v[len(_SWITCH_PREFIX) :] for v in self._fabric_order if v.startswith(_SWITCH_PREFIX))
                raise ValueError(f"ZoneIsolation: no zone {partition.zone!r}; the zones are {zones}")
        elif isinstance(partition, Split):
            known = self._cell.__contains__
            for group in partition.groups:
                if not all(map(known, group)):
                    name = next(name for name in group if not known(name))
                    raise ValueError(
                        f"Split: {name!r} is not an endpoint: use node names, {CONTROL_PLANE!r} or {CLOUD_LB!r}"
                    )
        else:
            raise TypeError(f"not a partition: {partition!r}; use NodeCutOff, ZoneIsolation or Split")

    def _effect(self, handle: PartitionHandle, applying: bool) -> list[str]:
        """Apply or undo ``handle``'s partition; returns the workers whose path to the control plane
        opened or closed, in a deterministic order (the cells' ``reach`` already updated)."""
        partition = handle.partition
        if isinstance(partition, NodeCutOff):
            node = partition.node
            count = self._cut_off.get(node, 0) + (1 if applying else -1)
            if count:
                self._cut_off[node] = count
            else:
                del self._cut_off[node]
            cell = self._cell.get(node)
            changed = count == (1 if applying else 0)  # the cut itself appeared or went
            return [node] if changed and cell is not None and cell.reach else []
        if isinstance(partition, ZoneIsolation):
            link = (zone_switch(partition.zone), CORE)
            count = self._cut_links.get(link, 0) + (1 if applying else -1)
            if count:
                self._cut_links[link] = count
            else:
                del self._cut_links[link]
            if count != (1 if applying else 0):
                return []  # another isolation of the same zone still holds the link down
            if applying:
                self._unlink(*link)
            else:
                self._link(*link)
            return self._recompute_fabric()
        assert isinstance(partition, Split)
        # The named endpoints move to other cells: the cell of their chain plus (apply) or minus
        # (heal) this split's group. The loops over endpoints run in C (map, zip, compress); only
        # distinct cells are handled one by one (a few per zone and group).
        cell_of = self._cell
        split_id = handle.id
        groups = partition.groups
        if applying:
            self._split_groups[split_id] = groups
        else:
            del self._split_groups[split_id]
        moves = []
        for index, group in enumerate(groups):
            names = group if applying else tuple(filter(cell_of.__contains__, group))
            olds = list(map(cell_of.__getitem__, names))
            if applying:
                target = {
                    old: self._cell_for(old.vertex, (*old.chain, (split_id, index))) for old in dict.fromkeys(olds)
                }
            else:
                target = {
                    old: self._cell_for(old.vertex, tuple(link for link in old.chain if link[0] != split_id))
                    for old in dict.fromkeys(olds)
                }
            cell_of.update(zip(names, map(target.__getitem__, olds)))
            moves.append((names, olds, target))
        if not applying:
            for cells in self._cells.values():  # drop the cells of chains through the healed split
                for dead in [key for key in cells if any(link[0] == split_id for link in key)]:
                    del cells[dead]
        # A named worker flips when its old cell's announced reach differs from its new cell's reach
        # (a cut-off worker was announced unreachable and stays so): decided per distinct old cell.
        cp_id = cell_of[CONTROL_PLANE].id
        workers = self._workers
        flipped: list[str] = []
        for names, olds, target in moves:
            flipping = {old: None for old, new in target.items() if old.reach != (new.id == cp_id)}
            if not flipping:
                continue
            if len(flipping) < len(target):
                names = tuple(compress(names, map(flipping.__contains__, olds)))
            if CONTROL_PLANE in names or CLOUD_LB in names:
                names = tuple(filter(workers.__contains__, names))
            flipped.extend(names)
        if self._cut_off:
            flipped = list(filterfalse(self._cut_off.__contains__, flipped))
        if any(CONTROL_PLANE in group for group in groups):  # the control plane moved: any worker may flip
            flipped.extend(self._reconcile(self._all_cells(), skip=dict.fromkeys(chain.from_iterable(groups))))
        else:
            for _, _, target in moves:
                for cell in target.values():
                    cell.reach = cell.id == cp_id
        return flipped

    # === components ===============================================================================
    def _component_id(self, vertex: str, chain: tuple[tuple[int, int], ...]) -> int:
        key = (self._base[vertex], chain)
        cid = self._interned.get(key)
        if cid is None:
            cid = self._interned[key] = len(self._interned)
        return cid

    def _cell_for(self, vertex: str, chain: tuple[tuple[int, int], ...]) -> _Cell:
        cells = self._cells.setdefault(vertex, {})
        cell = cells.get(chain)
        if cell is None:
            cid = self._component_id(vertex, chain)
            control_plane = self._cell.get(CONTROL_PLANE)
            cell = cells[chain] = _Cell(cid, vertex, chain, control_plane is None or cid == control_plane.id)
        return cell

    def _all_cells(self) -> list[_Cell]:
        return [cell for cells in self._cells.values() for cell in cells.values()]

    def _chain_of(self, name: str) -> tuple[tuple[int, int], ...]:
        """The groups the active splits put ``name`` in, in split order."""
        return tuple(
            (split_id, index)
            for split_id, groups in self._split_groups.items()
            for index, group in enumerate(groups)
            if name in group
        )

    def _recompute_fabric(self) -> list[str]:
        """Components of the fabric graph (networkx; a dozen vertices), each named after its first
        vertex in fabric order so unchanged components keep their names; renumbers the cells of the
        vertices whose component changed; returns the workers whose control-plane path flipped."""
        order = self._fabric_order
        renumbered: list[_Cell] = []
        for members in nx.connected_components(self._fabric):
            first = min(members, key=order.__getitem__)
            for vertex in sorted(members, key=order.__getitem__):
                if self._base.get(vertex) != first:
                    self._base[vertex] = first
                    for cell in self._cells.get(vertex, {}).values():
                        cell.id = self._component_id(vertex, cell.chain)
                        renumbered.append(cell)
        control_plane = self._cell.get(CONTROL_PLANE)
        if not renumbered or control_plane is None:
            return []
        return self._reconcile(self._all_cells() if control_plane in renumbered else renumbered)

    def _reconcile(self, cells: Iterable[_Cell], skip: dict[str, None] | None = None) -> list[str]:
        """Bring each cell's ``reach`` up to date; returns the workers of the cells that changed
        (except ``skip`` and the cut-off ones, which stay unreachable): every one of them flips."""
        cell_of = self._cell
        cp_id = cell_of[CONTROL_PLANE].id
        cut_off = self._cut_off
        flipped: list[str] = []
        for cell in cells:
            reach = cell.id == cp_id
            if reach == cell.reach:
                continue
            cell.reach = reach
            if cell.vertex in (CONTROL_PLANE, CLOUD_LB):
                continue
            members: Iterable[str] = self._members.get(cell.vertex, {})
            if len(self._cells[cell.vertex]) > 1:
                members = compress(members, map(partial(is_, cell), map(cell_of.__getitem__, members)))
            if cut_off:
                members = filterfalse(cut_off.__contains__, members)
            if skip:
                members = filterfalse(skip.__contains__, members)
            flipped.extend(members)
        return flipped

    # === announcing control-plane reachability ====================================================
    def _tell(self, flipped: list[str]) -> None:
        """Tell the kubelets and subscribers of the ``flipped`` workers their new control-plane
        reachability (all of it is already in place, so whoever is told sees the whole new state)."""
        kubelets = self.sim.kubelets
        subscribers = self._subscribers
        if not (kubelets or subscribers):
            return
        cell_of = self._cell
        cut_off = self._cut_off
        for name in flipped:
            reachable = cell_of[name].reach and name not in cut_off
            kubelet = kubelets.get(name)
            if kubelet is not None:
                kubelet.set_api_reachable(reachable)
            for callback in subscribers:
                callback(name, reachable)

    # === the graph ================================================================================
    def _add_fabric(self, vertex: str, kind: str, **attributes: str) -> None:
        self._fabric_order[vertex] = len(self._fabric_order)
        self._fabric.add_node(vertex, kind=kind, **attributes)
        self.graph.add_node(vertex, kind=kind, **attributes)

    def _link(self, u: str, v: str) -> None:
        self.graph.add_edge(u, v)
        if u in self._fabric and v in self._fabric:
            self._fabric.add_edge(u, v)

    def _unlink(self, u: str, v: str) -> None:
        self.graph.remove_edge(u, v)
        if self._fabric.has_edge(u, v):
            self._fabric.remove_edge(u, v)

    def _attach(self, endpoint: str, vertex: str) -> None:
        self._hangs_on[endpoint] = vertex
        self._members.setdefault(vertex, {})[endpoint] = None
        self._cell[endpoint] = self._cell_for(vertex, self._chain_of(endpoint))

    def _add_worker(self, name: str, zone: str) -> None:
        if name in _RESERVED or name.startswith(_SWITCH_PREFIX):
            raise ValueError(f"node name {name!r} is reserved by the network model; rename the node")
        switch = zone_switch(zone)
        if switch not in self._fabric:
            self._add_fabric(switch, "switch", zone=zone)
            self._link(switch, CORE)
            self._recompute_fabric()
        self.graph.add_node(name, kind="node", zone=zone)
        self.graph.add_edge(name, switch)
        self._attach(name, switch)  # an active split that names it counts
        self._workers[name] = None
        self.version += 1
        if not (self._cell[name].reach and name not in self._cut_off):  # its kubelet starts connected
            self._tell([name])

    def _on_node_added(self, event: ev.NodeAdded) -> None:
        self._add_worker(event.node, event.zone)

    def _on_node_removed(self, event: ev.NodeRemoved) -> None:
        name = event.node
        if name not in self._workers:
            return
        del self._workers[name]
        del self._members[self._hangs_on.pop(name)][name]
        del self._cell[name]
        self.graph.remove_node(name)
        self.version += 1

    def __repr__(self) -> str:
        return f"ClusterNetwork({len(self._workers)} nodes, {len(self._active)} partitions)"
