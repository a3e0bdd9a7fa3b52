"""Scheduling throughput: 150,000 pods onto 5,000 nodes, against the store directly (no SimPy).

    python benchmarks/bench_scheduling.py            # the issue's size (several minutes)
    python benchmarks/bench_scheduling.py --quick    # 20,000 pods onto 1,000 nodes
    python benchmarks/bench_scheduling.py --compare-engines   # each profile on the C and the Python engine, same run

For each profile (least-allocated, default) it creates the pods of a few hundred ReplicaSets in the
store, in the order a ReplicaSet controller's slow-start batches would queue them when all the
ReplicaSets start at once (1, 2, 4, ... pods per ReplicaSet in turn: ``--order interleaved``, the
default and the hard case: every pod shape is active all the time) or one ReplicaSet after another
(``--order sequential``), then schedules and binds them one by one and prints:

- decisions/s: pods per second of time spent inside ``schedule()`` (the fast path, including its
  catch-up on the binds since the previous decision: its indexes replay the change log there);
- end-to-end pods/s: ``schedule()`` plus ``ClusterState.bind_pod`` (the store's transition with its
  trace event and watch callbacks, where the scheduler's cache logs the change);
- the naive full scan (every plugin on every node) timed on a sample of the same pods during the
  same run, and the ratio;
- whether the fast path placed a prefix of the pods exactly as the full-scan reference does (same
  state, same rng state before each decision);
- peak resident memory of the process;
- a calibration: the time of ``sum(range(1000))`` on this machine, to compare machines;
- which engines run: the LeastAllocated index's (the least-allocated profile) and the per-shape
  score indexes' (the default profile), each ``c`` (compiled: ``model/scheduling/_leastalloc.c``,
  ``model/scheduling/_shapeindex.c``) or ``python`` (not built, or ``PODQUAKE_PURE_PYTHON=1``). With
  ``--compare-engines`` each profile runs again on the other engine (``FrameworkScheduler(engine=)``
  picks both), on the same pods in the same process (without the naive scan and reference checks),
  and the two are compared: decisions/s, end-to-end pods/s, and whether every one of the placements
  is the same.

With per-shape indexes (the default profile) the cost per pod grows with the number of pod shapes
active at once (each shape's index catches up on the binds since it was last used), so the
interleaved order is the slow one; the least-allocated profile uses one index for every shape.
"""

from __future__ import annotations

import argparse
import copy
import gc
import os
import random
import resource
import sys
import time
import timeit
from dataclasses import dataclass
from types import ModuleType

from podquake.model.admission import pod_from_template
from podquake.model.cluster import ClusterSpec
from podquake.model.objects import ContainerSpec, OwnerRef, Pod, PodSpec, PodTemplate, ReplicaSet
from podquake.model.quantity import Resources
from podquake.model.scheduling import leastalloc, shapeindex
from podquake.model.scheduling.framework import FrameworkScheduler, Profile
from podquake.model.selectors import LabelSelector
from podquake.model.store import ClusterState
from podquake.model.trace import Trace
from podquake.model.views import ClusterView, PodView

MI = 2**20
# (cpu millicores, memory bytes); None = no request (a best-effort container)
SHAPES = [
    (100, 64 * MI),
    (100, 128 * MI),
    (250, 256 * MI),
    (250, 512 * MI),
    (500, 512 * MI),
    (500, 1024 * MI),
    (1000, 2048 * MI),
    (None, None),
]


@dataclass
class Result:
    profile: str
    order: str
    pods: int
    bound: int
    decide_seconds: float
    total_seconds: float
    naive_pods: int
    naive_seconds: float
    checked: int
    mismatches: int
    fast_decisions: int
    engine_decisions: int
    engine: str
    answers: list[str | None] | None  # every placement, in queue order, when recorded


def build(
    nodes: int, pods: int, workloads: int, seed: int, order_kind: str = "interleaved"
) -> tuple[ClusterState, list[Pod]]:
    """A store with ``nodes`` 32-CPU/128Gi nodes over 3 zones and ``pods`` pending pods, in queue order."""
    state = ClusterState(lambda: 0.0, Trace(keep=False))
    for node in ClusterSpec.uniform(nodes, zones=3, cpu="32", memory="128Gi", max_pods=110).build_nodes():
        state.add_node(node)
    rng = random.Random(seed)
    per_workload = [pods // workloads + (1 if i < pods % workloads else 0) for i in range(workloads)]
    templates = []
    for w in range(workloads):
        cpu, memory = SHAPES[rng.randrange(len(SHAPES))]
        container = ContainerSpec(
            name="app",
            image=f"registry.example/app-{w}:1",
            requests=Resources(cpu or 0, memory or 0),
            cpu_requested=cpu is not None,
            memory_requested=memory is not None,
        )
        labels = (("app", f"app-{w}"), ("pod-template-hash", f"h{w:04d}"))
        template = PodTemplate(labels=labels, spec=PodSpec(containers=(container,)))
        rs = ReplicaSet(
            uid=f"rs-{w}",
            name=f"app-{w}-h{w:04d}",
            namespace="default",
            selector=LabelSelector(labels),
            template=template,
            replicas=per_workload[w],
        )
        state.create_workload(rs)
        templates.append((rs, template))
    created = [0] * workloads
    batch = [1] * workloads
    order: list[Pod] = []
    while len(order) < pods:  # slow-start batches, ReplicaSets in turn (or each to the end)
        for w, (rs, template) in enumerate(templates):
            take = min(batch[w] if order_kind == "interleaved" else per_workload[w], per_workload[w] - created[w])
            for _ in range(take):
                pod = pod_from_template(
                    template,
                    uid=f"{rs.uid}-{created[w]}",
                    name=f"{rs.name}-{created[w]}",
                    namespace="default",
                    owner=OwnerRef("ReplicaSet", rs.name, rs.uid),
                )
                order.append(state.create_pod(pod))
                created[w] += 1
            batch[w] *= 2
    return state, order


def run(
    profile: str,
    nodes: int,
    pods: int,
    workloads: int,
    naive_samples: int,
    check_prefix: int,
    seed: int,
    order_kind: str = "interleaved",
    engine: str | None = None,
    record: bool = False,
) -> Result:
    state, order = build(nodes, pods, workloads, seed, order_kind)
    chosen = Profile.least_allocated() if profile == "least-allocated" else Profile.default()
    scheduler = FrameworkScheduler(chosen, random.Random(seed), name=profile, engine=engine)
    reference = FrameworkScheduler(chosen, random.Random(seed), name=profile, fast_path=False)
    scheduler.attach(state)
    reference.state = state  # the reference reads the same store, with no fast path
    view = ClusterView(state)
    every = max(1, len(order) // max(1, naive_samples))
    answers: list[str | None] | None = [] if record else None
    decide = total = naive = 0.0
    naive_pods = checked = mismatches = bound = 0
    clock = time.perf_counter
    gc.collect()
    gc.disable()
    try:
        for n, pod in enumerate(order):
            check = n < check_prefix
            sample = n % every == every // 2 and naive_pods < naive_samples
            if check or sample:
                reference.rng = copy.deepcopy(scheduler.rng)  # the reference sees the same rng state
                start = clock()
                expected = reference.full_scan(pod, state)
                if sample:
                    naive += clock() - start
                    naive_pods += 1
            start = clock()
            answer = scheduler.schedule(PodView(pod), view)
            middle = clock()
            if answer is not None:
                state.bind_pod(pod.uid, answer)
                bound += 1
            end = clock()
            decide += middle - start
            total += end - start
            if answers is not None:
                answers.append(answer)
            if check:
                checked += 1
                mismatches += answer != expected
    finally:
        gc.enable()
    return Result(
        profile,
        order_kind,
        len(order),
        bound,
        decide,
        total,
        naive_pods,
        naive,
        checked,
        mismatches,
        scheduler.fast_decisions,
        scheduler.fast.engine_decisions,
        scheduler.fast.engine.engine if scheduler.fast.engine is not None else scheduler.fast.index_class.engine,
        answers,
    )


def _engine_line(module: ModuleType, extension: str) -> str:
    if module.ENGINE == "c":
        return f"c (compiled, podquake.model.scheduling.{extension}; PODQUAKE_PURE_PYTHON=1 for Python)"
    if module.compiled_core() is not None:
        return f"python (PODQUAKE_PURE_PYTHON is set; {extension} is built)"
    return f"python (the extension podquake.model.scheduling.{extension} is not built)"


# per profile: the module whose engine --compare-engines swaps
ENGINE_MODULES: dict[str, ModuleType] = {"least-allocated": leastalloc, "default": shapeindex}


def calibrate() -> float:
    """Microseconds for ``sum(range(1000))`` here (a recent laptop: about 10)."""
    return min(timeit.repeat("sum(range(1000))", number=200, repeat=5)) / 200 * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 pods onto 1,000 nodes")
    parser.add_argument("--nodes", type=int)
    parser.add_argument("--pods", type=int)
    parser.add_argument("--workloads", type=int, default=300)
    parser.add_argument("--order", choices=["interleaved", "sequential", "both"], default="interleaved")
    parser.add_argument(
        "--check-prefix", type=int, help="pods compared with the full-scan reference (default 2000, quick 300)"
    )
    parser.add_argument("--naive-samples", type=int, help="pods timed with the naive full scan (default 40, quick 20)")
    parser.add_argument("--profile", choices=["least-allocated", "default", "both"], default="both")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--compare-engines",
        action="store_true",
        help="run each profile again on the other engine (C or Python) and compare speed and placements",
    )
    args = parser.parse_args(argv)
    nodes = args.nodes or (1000 if args.quick else 5000)
    pods = args.pods or (20000 if args.quick else 150000)
    prefix = args.check_prefix if args.check_prefix is not None else (300 if args.quick else 2000)
    samples = args.naive_samples or (20 if args.quick else 40)
    profiles = ["least-allocated", "default"] if args.profile == "both" else [args.profile]
    orders = ["interleaved", "sequential"] if args.order == "both" else [args.order]
    print(
        f"{pods} pods of {args.workloads} ReplicaSets onto {nodes} nodes (32 CPU, 128Gi, 110 pods, 3 zones);"
        f" Python {sys.version.split()[0]}"
    )
    print(
        f"calibration: sum(range(1000)) takes {calibrate():.1f} us here;"
        f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print(f"LeastAllocated engine (least-allocated profile): {_engine_line(leastalloc, '_leastalloc')}")
    print(f"per-shape index engine (default profile): {_engine_line(shapeindex, '_shapeindex')}")
    other = {p: "python" if ENGINE_MODULES[p].ENGINE == "c" else "c" for p in profiles}  # the engine to compare with
    compared = []
    for p in profiles if args.compare_engines else []:
        if other[p] == "c" and ENGINE_MODULES[p].compiled_core() is None:
            print(f"--compare-engines: the compiled engine of the {p} profile is not built, nothing to compare with")
        else:
            compared.append(p)
    results = [
        run(p, nodes, pods, args.workloads, samples, prefix, args.seed, o, record=p in compared)
        for p in profiles
        for o in orders
    ]
    others = [
        run(p, nodes, pods, args.workloads, 0, 0, args.seed, o, engine=other[p], record=True)
        for p in compared
        for o in orders
    ]
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    header = (
        f"{'profile':<16}{'order':<13}{'bound':>8}{'decisions/s':>13}{'end-to-end/s':>14}"
        f"{'naive/s':>9}{'speed-up':>10}{'same as reference':>19}"
    )
    print(header)
    print("-" * len(header))
    ok = True
    for r in results:
        decide_rate = r.pods / r.decide_seconds
        naive_rate = r.naive_pods / r.naive_seconds if r.naive_seconds else float("nan")
        identical = f"{r.checked - r.mismatches}/{r.checked}"
        ok &= r.mismatches == 0
        print(
            f"{r.profile:<16}{r.order:<13}{r.bound:>8}{decide_rate:>13,.0f}{r.pods / r.total_seconds:>14,.0f}"
            f"{naive_rate:>9,.1f}{decide_rate / naive_rate:>9,.0f}x{identical:>19}"
        )
    print(f"peak memory (max RSS): {peak_mib:,.0f} MiB; load average at the end {os.getloadavg()[0]:.1f}")
    for r in results:
        print(
            f"{r.profile}/{r.order}: {r.fast_decisions}/{r.pods} decisions on the fast path"
            f" ({r.engine_decisions} by the one LeastAllocated index, the rest by per-shape indexes;"
            f" engine {r.engine}); naive full scan timed on {r.naive_pods} pods"
        )
    for r in results:
        for o in others:
            if r.profile != o.profile or r.order != o.order:
                continue
            assert r.answers is not None and o.answers is not None
            same = sum(a == b for a, b in zip(r.answers, o.answers))
            ok &= same == len(r.answers) == len(o.answers)
            print(f"engines on the same {r.pods} pods ({r.profile}, {r.order}), measured in this run:")
            for x in (r, o):
                print(
                    f"  {x.engine:<7}{x.pods / x.decide_seconds:>10,.0f} decisions/s"
                    f"{x.pods / x.total_seconds:>10,.0f} pods/s end-to-end"
                )
            c, py = (r, o) if r.engine == "c" else (o, r)
            print(
                f"  c / python: {py.decide_seconds / c.decide_seconds:.2f}x decisions/s,"
                f" {py.total_seconds / c.total_seconds:.2f}x end-to-end; same placements: {same}/{len(r.answers)}"
            )
    print("issue targets (150,000 pods, 5,000 nodes): least-allocated >= 150,000 pods/s and >= 150x the naive scan;")
    print("default >= 30,000 pods/s; placements identical to the reference; peak memory <= 1 GiB")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
