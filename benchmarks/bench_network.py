"""Network partitions on a 5,000-node cluster: applying and healing them, and reachability queries.

    python3 benchmarks/bench_network.py                # 5,000 nodes over 3 zones
    python3 benchmarks/bench_network.py --nodes 500    # smaller

Set-up (not timed): a 5,000-node :class:`Simulation` with its kubelets, and a started
:class:`ClusterNetwork`. Then, for each partition kind, ``apply`` followed by ``heal``, repeated, each
timed on its own (medians are printed, and the worst case). Two figures per kind:

- **network**: the graph work alone: cached components, the list of nodes whose path to the control
  plane changed, the trace event (the kubelets are hidden from the network for this row);
- **+ kubelets**: the same call with the kubelets told, which is what a simulation pays: a zone
  isolation disconnects a third of the kubelets (each leaves its lease slot and goes local) and the
  heal reconnects them (each renews its lease, reports Ready and resyncs). That part grows with the
  number of nodes whose connectivity changed, whatever the network does.

Baselines, measured in the same run on the same graph:
- apply/heal: ``networkx.connected_components`` recomputing every component from scratch once
  (what a cache-free implementation would do at each change, before even telling anyone);
- a query: ``networkx.has_path`` (a search per query), and the bare floor of two dict lookups and a
  comparison in a Python function (``comp[a] == comp[b]``).

Targets (issue 3): apply or heal <= 2 ms; a query <= 1 microsecond. The floor line says how fast
this machine runs bare Python: a query cannot beat it, and on a loaded or slow machine it can itself
pass 1 microsecond, so read the query figure as a multiple of the floor too.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

import networkx as nx

from podquake.model import ClusterSpec, Simulation
from podquake.model.network import CLOUD_LB, CONTROL_PLANE, ClusterNetwork, NodeCutOff, Partition, Split, ZoneIsolation


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def bench_apply_heal(network: ClusterNetwork, partition: Partition, repeats: int) -> tuple[list[float], list[float]]:
    applies, heals = [], []
    for _ in range(repeats):
        handle = None

        def apply() -> None:
            nonlocal handle
            handle = network.apply(partition)

        applies.append(timed(apply))
        heals.append(timed(lambda: network.heal(handle)))  # type: ignore[arg-type]
    return applies, heals


def bench_queries(network: ClusterNetwork, pairs: list[tuple[str, str]]) -> float:
    reachable = network.reachable
    started = time.perf_counter()
    for a, b in pairs:
        reachable(a, b)
    return (time.perf_counter() - started) / len(pairs)


def bench_floor(names: list[str], pairs: list[tuple[str, str]]) -> float:
    component = {name: i % 3 for i, name in enumerate(names)}  # the same keys as the network's cache

    def same(a: str, b: str) -> bool:
        return component[a] == component[b]

    started = time.perf_counter()
    for a, b in pairs:
        same(a, b)
    return (time.perf_counter() - started) / len(pairs)


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:7.3f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--zones", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--queries", type=int, default=1_000_000)
    args = parser.parse_args()

    started = time.perf_counter()
    sim = Simulation(ClusterSpec.uniform(nodes=args.nodes, zones=args.zones), seed=1, keep_trace=False)
    network = ClusterNetwork(sim)
    network.start()
    workers = [node.name for node in sim.state.node_list]
    print(f"set-up: {args.nodes} nodes, {args.zones} zones, {network.graph.number_of_nodes()} graph vertices "
          f"in {time.perf_counter() - started:.2f} s")

    # Baseline: components from scratch on the same graph (with one zone's uplink cut, as an isolation does).
    graph = network.graph
    graph.remove_edge("zone/zone-a", "core")
    scratch = [timed(lambda: list(nx.connected_components(graph))) for _ in range(max(3, args.repeats // 3))]
    graph.add_edge("zone/zone-a", "core")
    baseline = statistics.median(scratch)
    print(f"baseline  nx.connected_components from scratch: median {ms(baseline)}")
    print()

    half = tuple(workers[: len(workers) // 2])
    cases: list[tuple[str, Partition]] = [
        ("node cut off from the control plane", NodeCutOff(node=workers[0])),
        (f"zone isolated ({sum(1 for n in sim.state.node_list if n.zone == 'zone-a')} nodes)", ZoneIsolation(zone="zone-a")),
        ("split: one node alone", Split(groups=((workers[1],),))),
        ("split: control plane alone (every kubelet cut)", Split(groups=((CONTROL_PLANE,),))),
        (f"split: {len(half)} named nodes | rest", Split(groups=(half,))),
    ]
    print(f"{'':<48} {'network alone (median)':^40} {'+ kubelets (median)':^26}")
    print(f"{'partition':<48} {'apply':>10} {'heal':>10} {'worst':>10} {'x baseline':>10} {'apply':>12} {'heal':>12}")
    kubelets = sim.kubelets
    worst_target = 0.0
    for label, partition in cases:
        sim.kubelets = {}  # the network tells no kubelet: the graph work alone
        applies, heals = bench_apply_heal(network, partition, args.repeats)
        sim.kubelets = kubelets
        median_apply, median_heal = statistics.median(applies), statistics.median(heals)
        worst_target = max(worst_target, median_apply, median_heal)
        speedup = baseline / max(median_apply, median_heal)
        full_applies, full_heals = bench_apply_heal(network, partition, max(3, args.repeats // 3))
        print(f"{label:<48} {ms(median_apply):>10} {ms(median_heal):>10} {ms(max(applies + heals)):>10} "
              f"{speedup:>9.1f}x {ms(statistics.median(full_applies)):>12} {ms(statistics.median(full_heals)):>12}")
    print()

    rng = random.Random(7)
    names = [*workers, CONTROL_PLANE, CLOUD_LB]
    pairs = [(rng.choice(names), rng.choice(names)) for _ in range(args.queries)]
    network.apply(ZoneIsolation(zone="zone-b"))
    network.apply(NodeCutOff(node=workers[2]))
    network.apply(Split(groups=((workers[3], workers[4]),)))
    query = bench_queries(network, pairs)
    floor = bench_floor(names, pairs)
    few = pairs[:200]
    has_path = sum(timed(lambda a=a, b=b: nx.has_path(graph, a, b)) for a, b in few) / len(few)
    print(f"query with 3 partitions active: {query * 1e9:6.0f} ns per reachable(a, b)  "
          f"(floor, two dict lookups in a function: {floor * 1e9:.0f} ns; nx.has_path: {has_path * 1e6:.0f} us, "
          f"{has_path / query:.0f}x slower)")
    print()
    verdict = "met" if worst_target <= 0.002 and query <= 1e-6 else "NOT met"
    print(f"targets (network apply/heal <= 2 ms, query <= 1 us): {verdict} "
          f"(slowest network median {ms(worst_target).strip()}, query {query * 1e9:.0f} ns = {query / floor:.2f}x the floor)")


if __name__ == "__main__":
    main()
