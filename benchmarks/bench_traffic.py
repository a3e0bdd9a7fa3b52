"""Traffic: fluid load for 1,000 Services on 5,000 nodes for an hour, and request-mode throughput.

    python3 benchmarks/bench_traffic.py            # the full figures (about a minute)
    python3 benchmarks/bench_traffic.py --quick    # 500 nodes, 100 Services, 10 minutes

**Fluid.** Set-up (not timed): a cluster of ``--nodes`` nodes; ``--services`` Deployments of 3
replicas (500m CPU each, so 50 requests/s per pod at the default 100 requests/s per core) with a
ClusterIP Service each, and ``--lb-services`` of them of type LoadBalancer with a cloud load
balancer over every node; the simulation's EndpointSlice controller, node proxies, network and load
balancers running; run until every pod is Ready and every target registered and healthy. One load
generator per Service: a mix of constant, diurnal, ramp and spiking shapes (some overload their pods, so queues,
drops and hot pods are part of the work), internal ones from a client node, external ones through
the load balancer; ten more spikes are injected while it runs, as the chaos nemesis would. Timed:
one simulated hour (``--hours``) with a 1 s tick and a 10 s trace window. Two figures: the load
model's own time (its tick callbacks, measured inside), and the whole simulation's (the kubelets'
leases and the node lifecycle controller of the 5,000 nodes run too).

Baselines, measured in the same run: the same model with its lazy accounting switched off
(``FluidLoad.tick_every_pod``: every pod stepped every tick, as a model without cool and full pods
would; the tests check both count the same requests), over the first 300 simulated seconds; and a
floor, the bare tick-everything loop (every Service's rate split over its three pods and capped, in
plain Python lists: no routing, queues, latency, CPU or trace), timed over 300 ticks and scaled.

**Request mode.** Set-up: a smaller cluster (``--request-nodes``), ``--request-services`` Services
under constant load, the request model with a 0.1 s tick. Timed: until ``--requests`` requests
have been handled, rounded up to the end of a 10 s window (the model counts completions when a
window closes, so every completion is counted inside the timed run). An *event* is one request: its arrival drawn, its entry node, the proxy's
routing and the deliver checks, its pod's queue, and its completion counted in the window. Baseline
in the same run: a bare SimPy loop doing the same number of events, one ``env.timeout`` per
request (a process sleeping an exponential gap and counting), the cheapest way to simulate a
request one event at a time. The two run in alternating segments (``--segments``: a model segment,
then the bare loop up to as many events as the model has handled requests so far), so that a shared
machine's drifting speed affects both alike. Wall and CPU times are reported for both; the targets are
on wall time.

Targets (issue 3): the fluid hour in <= 10 s of wall time; >= 200,000 requests per wall second,
and >= 0.5 x the bare SimPy loop.
"""

from __future__ import annotations

import argparse
import math
import random
import time

import simpy
from podquake.model import ClusterSpec, Simulation
from podquake.model.load import FluidLoad, RequestLoad
from podquake.model.objects import ContainerSpec, Deployment, PodSpec, PodTemplate
from podquake.model.quantity import Resources
from podquake.model.resources_api import Service, ServicePort
from podquake.model.selectors import LabelSelector
from podquake.model.traffic import (
    Constant,
    Diurnal,
    External,
    Internal,
    LoadGenerator,
    Ramp,
    Shape,
    Spike,
)


def build(nodes: int, services: int, lb_services: int, seed: int = 1) -> tuple[Simulation, float]:
    """The cluster, Services and traffic components, run to a steady state. Returns it and the set-up time."""
    started = time.perf_counter()
    sim = Simulation(ClusterSpec.uniform(nodes=nodes, zones=5, cpu="16", memory="64Gi"), seed=seed, keep_trace=False, load_mode=None)

    for i in range(services):
        labels = (("app", f"svc-{i}"),)
        container = ContainerSpec("main", image=f"registry.local/svc-{i}:1", requests=Resources(500, 2**28),
                                  cpu_requested=True, memory_requested=True)  # fmt: skip
        template = PodTemplate(labels, PodSpec(containers=(container,)))
        sim.create_workload(Deployment(sim.new_uid(), f"svc-{i}", "default", LabelSelector(match_labels=labels), template, 3))
        kind = "LoadBalancer" if i < lb_services else "ClusterIP"
        sim.state.put_object("Service", "default", f"svc-{i}", Service(
            f"svc-{i}", "default", type=kind, selector=labels, ports=(ServicePort(80, 8080),),
            external_traffic_policy="Cluster" if kind == "LoadBalancer" else None,
        ))  # fmt: skip
    assert sim.run_until_stable(timeout=600)
    sim.run_for(60.0)  # load balancer targets register (30 s) and pass a health check (8 s)
    return sim, time.perf_counter() - started


def shape_for(i: int, rng: random.Random) -> Shape:
    """Mostly below the 150 requests/s three pods serve; some shapes overload them for a while."""
    kind = i % 10
    if kind < 4:
        return Constant(rng.uniform(20.0, 120.0))
    if kind < 7:
        mean = rng.uniform(40.0, 100.0)
        return Diurnal(mean, mean * 0.5, peak_at=rng.uniform(0.0, 86400.0))
    if kind < 9:
        return Ramp(rng.uniform(10.0, 60.0), rng.uniform(60.0, 200.0), start=rng.uniform(0.0, 1200.0), end=rng.uniform(1800.0, 3600.0))
    return Spike(Constant(rng.uniform(30.0, 80.0)), 3.0, start=rng.uniform(0.0, 3000.0), duration=120.0)


def generators(sim: Simulation, services: int, lb_services: int, rng: random.Random) -> list[LoadGenerator]:
    nodes = [n.name for n in sim.state.node_list]
    out = []
    for i in range(services):
        entry = External() if i < lb_services else Internal(node=rng.choice(nodes))
        out.append(LoadGenerator(f"default/svc-{i}", shape_for(i, rng), clients=100, entry=entry))
    return out


def fluid_run(nodes: int, services: int, lb_services: int, seconds: float, checkpoint: float,
              tick_every_pod: bool = False) -> dict[str, float]:  # fmt: skip
    """Build, start the fluid model, run ``seconds``; the load model's own time at ``checkpoint`` and at the end."""
    sim, setup = build(nodes, services, lb_services)
    rng = random.Random(7)
    for generator in generators(sim, services, lb_services, rng):
        sim.traffic.add(generator)  # type: ignore[attr-defined]
    load = FluidLoad(sim, tick=1.0, window=10.0)
    load.tick_every_pod = tick_every_pod
    model_time = [0.0, 0.0]  # wall, CPU
    tick = load._on_tick

    def timed_tick(generation: int) -> None:
        started, cpu = time.perf_counter(), time.process_time()
        tick(generation)
        model_time[0] += time.perf_counter() - started
        model_time[1] += time.process_time() - cpu

    load._on_tick = timed_tick  # type: ignore[method-assign]
    load.start()
    begin = sim.now
    for k in range(10):  # spikes injected at run time, as the chaos nemesis would
        at = begin + (k + 1) * 3600.0 / 11
        service = f"default/svc-{rng.randrange(services)}"
        timeout = sim.env.timeout(at - sim.now)
        timeout.callbacks.append(lambda _e, s=service: sim.traffic.add_spike(s, 4.0, 60.0))  # type: ignore[attr-defined]
    events_before = sim.trace.count
    started, cpu = time.perf_counter(), time.process_time()
    sim.run(begin + checkpoint + 0.5)
    at_checkpoint = model_time[0]
    sim.run(begin + seconds + 0.5)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    totals = list(load.totals.values())
    return {
        "setup": setup, "pods": len(sim.state.pods), "wall": wall, "cpu": cpu, "model": model_time[0],
        "model_cpu": model_time[1], "checkpoint": at_checkpoint,
        "events": sim.trace.count - events_before, "offered": sum(t[0] for t in totals),
        "served": sum(t[1] for t in totals), "failed": sum(t[2] for t in totals),
    }  # fmt: skip


def bench_fluid(nodes: int, services: int, lb_services: int, hours: float) -> None:
    seconds = hours * 3600.0
    part = min(300.0, seconds)
    run = fluid_run(nodes, services, lb_services, seconds, part)
    print(f"fluid: {nodes} nodes, {services} Services ({lb_services} through load balancers), "
          f"{run['pods']} pods; set-up {run['setup']:.1f} s (not timed)")  # fmt: skip
    print(f"  simulated {seconds:.0f} s: {seconds:.0f} ticks, {run['events']:.0f} trace events (one TrafficWindow per Service per 10 s)")
    print(f"  requests offered {run['offered']:,.0f}, served {run['served']:,.0f}, failed {run['failed']:,.0f} "
          f"({run['failed'] / max(run['offered'], 1):.2%})")  # fmt: skip
    print(f"  load model's own time    {run['model']:7.2f} s   (target <= 10 s; CPU {run['model_cpu']:.2f} s)")
    print(f"  whole simulation         {run['wall']:7.2f} s   (with the cluster's kubelets and controllers; CPU {run['cpu']:.2f} s)")
    floor = fluid_floor(services, ticks=300) * seconds / 300
    stepped = fluid_run(nodes, services, lb_services, part, part, tick_every_pod=True)
    print("  baselines, same run:")
    print(f"    the same model stepping every pod every tick, first {part:.0f} s: {stepped['model']:.2f} s against "
          f"{run['checkpoint']:.2f} s: lazy / stepped = {run['checkpoint'] / stepped['model']:.2f}")  # fmt: skip
    print(f"    a bare loop (every Service's rate split over 3 pods, capped, no routing, queues or trace), "
          f"{seconds:.0f} ticks: {floor:.2f} s (from 300 ticks); model / loop = {run['model'] / floor:.2f}")  # fmt: skip


def fluid_floor(services: int, ticks: int) -> float:
    """Every tick, every Service: its rate, split evenly over its 3 pods, served up to capacity."""
    rng = random.Random(7)
    shapes = [shape_for(i, rng) for i in range(services)]
    capacity = 50.0
    served = [0.0] * (services * 3)
    started = time.perf_counter()
    for k in range(ticks):
        t = float(k)
        j = 0
        for i in range(services):
            share = shapes[i].integral(t, t + 1.0) / 3
            for _ in range(3):
                served[j] += share if share < capacity else capacity
                j += 1
    return time.perf_counter() - started


def bench_requests(nodes: int, services: int, requests: int, segments: int = 10) -> None:
    sim, _ = build(nodes, services, lb_services=0)
    rng = random.Random(3)
    node_names = [n.name for n in sim.state.node_list]
    rate = 120.0  # per Service: 80 % of its three pods' capacity
    for i in range(services):
        sim.traffic.add(LoadGenerator(f"default/svc-{i}", Constant(rate), clients=100,  # type: ignore[attr-defined]
                                      entry=Internal(node=rng.choice(node_names))))  # fmt: skip
    load = RequestLoad(sim, tick=0.1, window=10.0)
    load.start()
    # Up to the end of a window: the model counts completions when a window closes, so all of them
    # are inside the timed run.
    seconds = math.ceil(requests / (rate * services) / load.window) * load.window

    env = simpy.Environment()
    box = [0]
    gap_rng = random.Random(5)
    total_rate = rate * services

    def arrivals() -> object:
        expo = gap_rng.expovariate
        while True:
            yield env.timeout(expo(total_rate))
            box[0] += 1

    env.process(arrivals())
    # Model and bare loop in alternating segments, so that both see the same machine (a shared
    # machine's speed drifts over a run); the bare loop runs, after each model segment, as far as the
    # requests the model has handled so far.
    begin = load.window_start  # the first window's start, a tick boundary
    model = [0.0, 0.0]  # wall, CPU
    bare = [0.0, 0.0]
    for k in range(1, segments + 1):
        wall, cpu = time.perf_counter(), time.process_time()
        sim.run(begin + seconds * k / segments + (0.05 if k == segments else 0.0))
        model[0] += time.perf_counter() - wall
        model[1] += time.process_time() - cpu
        wall, cpu = time.perf_counter(), time.process_time()
        env.run(until=load.requests / total_rate)
        bare[0] += time.perf_counter() - wall
        bare[1] += time.process_time() - cpu
    handled = load.requests
    windows = sim.trace.count
    print(f"request mode: {nodes} nodes, {services} Services at {rate:.0f} requests/s each, 0.1 s tick, {segments} segments")
    print(f"  {handled:,} requests in {model[0]:.2f} s: {handled / model[0]:,.0f} requests per wall second (target >= 200,000); "
          f"CPU {model[1]:.2f} s: {handled / model[1]:,.0f} per CPU second")  # fmt: skip
    print(f"  bare SimPy loop, one timeout per request: {box[0]:,} events in {bare[0]:.2f} s: {box[0] / bare[0]:,.0f} per second; "
          f"CPU {bare[1]:.2f} s: {box[0] / bare[1]:,.0f} per CPU second")  # fmt: skip
    print(f"  model / bare SimPy = {handled / model[0] / (box[0] / bare[0]):.2f} (target >= 0.5; CPU time: "
          f"{handled / model[1] / (box[0] / bare[1]):.2f}); trace events so far {windows}")  # fmt: skip
    print(f"  proxy: {sim.proxy.delivered:,} delivered, failures {dict(sim.proxy.failures)}")  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 nodes, 100 Services, 10 simulated minutes")
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--lb-services", type=int, default=20)
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--request-nodes", type=int, default=100)
    parser.add_argument("--request-services", type=int, default=50)
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--segments", type=int, default=10, help="request mode: alternations of model and bare loop")
    parser.add_argument("--skip-fluid", action="store_true")
    parser.add_argument("--skip-requests", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.nodes, args.services, args.lb_services, args.hours, args.requests = 500, 100, 5, 1 / 6, 200_000
    if not args.skip_fluid:
        bench_fluid(args.nodes, args.services, args.lb_services, args.hours)
    if not args.skip_requests:
        bench_requests(args.request_nodes, args.request_services, args.requests, args.segments)


if __name__ == "__main__":
    main()
