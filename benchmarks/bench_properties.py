"""What checking the safety suite after every step costs a chaos run.

    python3 benchmarks/bench_properties.py              # 40 paired runs
    python3 benchmarks/bench_properties.py --runs 10    # quicker

The run (issue 4's yardstick): a 10-node cluster over 3 zones running Online Boutique (11
Deployments, from ../shared/manifests), settled first; then 50 steps, each injecting one fault drawn
from the run's seeded generator (a container crash, an OOM kill, a node powered off, a node powered
back on, a kubelet stopped or started) and advancing 10 simulated seconds. Set-up (building the
simulation, applying the manifests, settling) is not timed; the 50 steps are.

Two arms, paired on the same seeds and alternated so machine noise hits both alike:
- **model**: the run alone (the baseline);
- **model + safety**: the same run with a :class:`~podquake.properties.Monitor` of every safety
  property attached, judging each event as it is recorded (the ledger folds the event in, then each
  property with a handler for its type checks it).

Target (issue 4): the safety checks add at most 20% to the model's time. The overhead printed is
the median over runs of (with monitor / without) - 1, so a noisy machine moves both arms together.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

from podquake.model import ClusterSpec, Simulation, load_manifests
from podquake.properties import Monitor, Suite

MANIFEST = Path(__file__).resolve().parents[2] / "shared" / "manifests" / "online-boutique.yaml"
STEPS = 50
STEP_SECONDS = 10.0


def settled(seed: int) -> Simulation:
    sim = Simulation(ClusterSpec.uniform(nodes=10, zones=3), seed=seed)
    sim.apply(load_manifests(MANIFEST))
    sim.run(120)
    return sim


def play(sim: Simulation, seed: int) -> None:
    """50 seeded fault steps, each followed by 10 simulated seconds."""
    rng = random.Random(seed)
    nodes = sorted(sim.kubelets)
    for _ in range(STEPS):
        kind = rng.randrange(6)
        kubelet = sim.kubelets[nodes[rng.randrange(len(nodes))]]
        pods = sorted(p.key for p in sim.state.pods.values() if p.node_name is not None)
        if kind in (0, 1) and pods:
            pod = sim.state.pods_by_key[pods[rng.randrange(len(pods))]]
            holder = sim.kubelets.get(pod.node_name or "")
            if holder is not None and kind == 0:
                holder.crash_container(pod.key)
            elif holder is not None:
                holder.oom_kill_container(pod.key)
        elif kind == 2:
            kubelet.power_off()
        elif kind == 3:
            kubelet.power_on()
        elif kind == 4:
            kubelet.stop_kubelet()
        else:
            kubelet.start_kubelet()
        sim.run_for(STEP_SECONDS)


def timed_run(seed: int, with_monitor: bool) -> tuple[float, int]:
    sim = settled(seed)
    monitor = Monitor(Suite.all(kinds=["safety"])) if with_monitor else None
    started = time.perf_counter()
    if monitor is not None:
        monitor.attach(sim)
    events_before = sim.trace.count
    play(sim, seed)
    if monitor is not None:
        failures = monitor.failures()
        assert not failures, [v.line() for v in failures]
    return time.perf_counter() - started, sim.trace.count - events_before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    suite = Suite.all(kinds=["safety"])
    print(f"safety suite: {', '.join(suite.ids)}")
    ratios, bare, checked, events = [], [], [], []
    for seed in range(args.runs):
        order = (False, True) if seed % 2 == 0 else (True, False)
        results = {arm: timed_run(seed, arm) for arm in order}
        bare.append(results[False][0])
        checked.append(results[True][0])
        events.append(results[False][1])
        ratios.append(results[True][0] / results[False][0])
    print(f"runs: {args.runs}, {STEPS} steps each, median {statistics.median(events):.0f} events per run")
    print(f"model alone:         median {statistics.median(bare) * 1e3:7.2f} ms per run")
    print(f"model + safety:      median {statistics.median(checked) * 1e3:7.2f} ms per run (attach included)")
    overhead = statistics.median(ratios) - 1
    print(f"overhead (paired):   median {overhead * 100:+.1f}%  (target <= +20%)")


if __name__ == "__main__":
    main()
