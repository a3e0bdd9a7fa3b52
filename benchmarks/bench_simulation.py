"""Simulated time at the Kubernetes envelope: 5,000 nodes and 150,000 pods for 10 simulated minutes.

    python3 benchmarks/bench_simulation.py            # the full envelope (about a minute of set-up)
    python3 benchmarks/bench_simulation.py --quick    # 500 nodes, 15,000 pods

Set-up (not timed in the headline figure, but printed): the cluster is built, 1,000 Deployments of
150 replicas are applied, and the model runs until every pod is Running and Ready, through the real
controllers, scheduler and kubelets. Then the timed part: ten more simulated minutes with every
kubelet heartbeating every 10 s, the node lifecycle controller monitoring every 5 s, and all
controllers running.

Baseline, measured in the same run: raw SimPy with the same simulated work done the plain way (one
process per node sleeping 10 s and stamping a heartbeat, one monitor process every 5 s scanning
every node's heartbeat): 60 lease renewals per node and 120 monitor passes, as in the model. The
figure of merit is simulated work per wall second, model over raw SimPy. The model does not simulate
renewals one by one: a renewing kubelet's renewals fall on its 0.1 s phase ticks and the store computes
the latest from the clock when the node lifecycle controller looks (``model/lease.py``), so it needs
far fewer SimPy events for the same work; both SimPy event counts are printed too (from SimPy's own
event-id counter, ``Environment._eid``), so that is visible rather than hidden in a ratio. The check
that every lease is fresh at the end reads the same computed renewal times.
"""

from __future__ import annotations

import argparse
import time

import simpy

from podquake.model import ClusterSpec, Simulation
from podquake.model.objects import ContainerSpec, Deployment, PodSpec, PodTemplate
from podquake.model.quantity import Resources
from podquake.model.selectors import LabelSelector

SHAPES = [(100, 128), (250, 256), (500, 512), (200, 1024), (1000, 2048)]  # (millicores, MiB)


def build(nodes: int, deployments: int, replicas: int, seed: int = 1) -> Simulation:
    sim = Simulation(ClusterSpec.uniform(nodes=nodes, zones=5, cpu="32", memory="128Gi"), seed=seed)
    for i in range(deployments):
        cpu, mib = SHAPES[i % len(SHAPES)]
        labels = (("app", f"svc-{i}"),)
        container = ContainerSpec(
            "main", image=f"registry.local/svc-{i}:1", requests=Resources(cpu, mib * 2**20),
            cpu_requested=True, memory_requested=True,
        )
        template = PodTemplate(labels, PodSpec(containers=(container,)))
        sim.create_workload(
            Deployment(sim.new_uid(), f"svc-{i}", "default", LabelSelector(match_labels=labels), template, replicas)
        )
    return sim


def events_so_far(env: simpy.Environment) -> int:
    """How many events this environment has scheduled (SimPy numbers each one)."""
    return next(env._eid)  # noqa: SLF001 - SimPy's own counter, read once per measurement


def raw_simpy(nodes: int, seconds: float) -> tuple[float, int]:
    """The same event mix with nothing but SimPy: per-node heartbeat processes and a monitor."""
    env = simpy.Environment(initial_time=0.0)
    heartbeats = [0.0] * nodes

    def kubelet(i: int, phase: float):
        yield env.timeout(phase)
        while True:
            heartbeats[i] = env.now
            yield env.timeout(10.0)

    def monitor():
        while True:
            deadline = env.now - 50.0
            for beat in heartbeats:
                if beat < deadline:
                    raise AssertionError("no node should be stale")
            yield env.timeout(5.0)

    for i in range(nodes):
        env.process(kubelet(i, (i * 7919 % 10000) / 1000.0))
    env.process(monitor())
    start_events = events_so_far(env)
    started = time.perf_counter()
    env.run(until=seconds)
    return time.perf_counter() - started, events_so_far(env) - start_events


def node_failures(sim: Simulation, seconds: float) -> tuple[float, int, int]:
    """Power off one node in a hundred, then run ``seconds``: the nodes go Unknown, are tainted, their
    pods are evicted 300 s later and replaced on the others. Wall seconds, trace events (each one a
    state transition with its watchers), pods replaced."""
    nodes = sim.state.node_list
    victims = [node.name for node in nodes[::101][: len(nodes) // 100]]  # spread over the zones: each evicts at 0.1 node/s
    doomed = {pod.uid for name in victims for pod in sim.state.nodes[name].pods.values()}
    events = sim.trace.count
    started_at = sim.now
    started = time.perf_counter()
    for name in victims:
        sim.kubelets[name].power_off()
    sim.run_for(seconds)
    wall = time.perf_counter() - started
    evicted = sum(1 for uid in doomed if sim.state.pods[uid].deletion_timestamp is not None)
    new = [pod for pod in sim.state.pods.values() if pod.created_at >= started_at]
    print(f"churn: {len(victims)} nodes off, {len(doomed)} pods on them, {evicted} evicted, "
          f"{len(new)} replacements ({sum(p.ready for p in new)} ready)")
    assert evicted == len(doomed) == len(new) and all(p.ready for p in new), "the failed nodes' pods were not replaced"
    return wall, sim.trace.count - events, len(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="500 nodes and 15,000 pods")
    args = parser.parse_args()
    nodes, deployments, replicas = (500, 100, 150) if args.quick else (5000, 1000, 150)
    simulated = 600.0

    started = time.perf_counter()
    sim = build(nodes, deployments, replicas)
    stable = sim.run_until_stable(timeout=900, step=10)
    setup = time.perf_counter() - started
    running = sum(1 for p in sim.state.pods.values() if p.ready)
    print(f"set-up: {nodes} nodes, {len(sim.state.pods)} pods ({running} ready), stable={stable}, "
          f"{setup:.1f} s wall, reached t={sim.now:.0f} s")

    first = events_so_far(sim.env)
    started = time.perf_counter()
    sim.run_for(simulated)
    wall = time.perf_counter() - started
    model_events = events_so_far(sim.env) - first
    stale = [n.name for n in sim.state.node_list if sim.now - sim.state.last_renewal(n.name) > 10.0 + 1e-6]
    assert not stale, f"nodes that stopped renewing their lease: {stale[:5]}"
    renewals = nodes * int(simulated // 10)

    raw_wall, raw_events = raw_simpy(nodes, simulated)
    model_rate, raw_rate = renewals / wall, renewals / raw_wall
    churn_wall, churn_events, replaced = node_failures(sim, simulated)
    rows = [
        ("model: 10 simulated minutes, wall seconds", f"{wall:.2f}"),
        ("model: speed-up over real time", f"{simulated / wall:.0f}x"),
        ("lease renewals accounted for (both)", f"{renewals:,}"),
        ("model: renewals per wall second", f"{model_rate:,.0f}"),
        ("raw SimPy: renewals per wall second", f"{raw_rate:,.0f}"),
        ("ratio model / raw SimPy (same work)", f"{model_rate / raw_rate:.2f}"),
        ("SimPy events: model / raw", f"{model_events:,} / {raw_events:,}"),
        ("churn: 1% of nodes fail, 10 min, wall seconds", f"{churn_wall:.2f}"),
        ("churn: pods evicted and replaced", f"{replaced:,}"),
        ("churn: model transitions per wall second", f"{churn_events / churn_wall:,.0f}"),
    ]
    print(f"{'measure':<44}{'value':>22}")
    for name, value in rows:
        print(f"{name:<44}{value:>22}")


if __name__ == "__main__":
    main()
