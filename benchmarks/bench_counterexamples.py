"""How small the ready-made scheduler suite's counterexamples are, and what drawing workloads as a list buys.

    python3 benchmarks/bench_counterexamples.py            # 3 campaign seeds x 2 buggy schedulers
    python3 benchmarks/bench_counterexamples.py --quick    # 1 seed

**The campaigns:** the settings of ``scheduler_suite`` (generated clusters and workloads, up to 8
faults an example, the default shrink budget of 100 runs a property), 10 examples each, for two
buggy schedulers defined below: one that ignores memory, one that always answers the first node.
Each failed property's counterexample is measured: the Deployments, faults and nodes it kept.

**Baseline, same run:** the same campaigns with generated workloads drawn as podquake drew them
before: a count, then that many Deployments. Hypothesis's shrinker can then drop only the last ones
(dropping one in the middle shifts every choice drawn after it), and the counterexamples kept most
of the Deployments drawn.

Printed: per campaign and layout, the counterexamples' mean Deployments, faults and nodes, and the
runs spent; then the mean over all of them, and baseline / list.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from hypothesis import strategies as st
from podquake.chaos import campaign_chunk
from podquake.chaos.campaign import CampaignSettings, run_campaign
from podquake.chaos.pytest_plugin import DEFAULT_MAX_FAULTS, _base_scenario
from podquake.chaos.strategies import _CPU, _MEMORY, _deployment, service_names


class IgnoresMemory:
    """Fills the first Ready, schedulable node with room for the pod's CPU; forgets memory."""

    name = "ignores-memory"

    def schedule(self, pod: Any, cluster: Any) -> str | None:
        fits = [n for n in cluster.nodes if n.ready and not n.unschedulable and n.free.cpu_millis >= pod.requests.cpu_millis]
        return fits[0].name if fits else None


class FirstNode:
    """Always answers the first node."""

    name = "first-node"

    def schedule(self, pod: Any, cluster: Any) -> str | None:
        return cluster.nodes[0].name


@st.composite
def count_then_items(draw: Any) -> tuple[Mapping[str, Any], ...]:
    """Generated workloads as podquake drew them before: a count, then the items (the baseline)."""
    count = draw(st.integers(1, 10))
    first = draw(st.integers(0, len(service_names()) - 1))
    names = service_names()
    objects: list[Mapping[str, Any]] = []
    for i in range(count):
        replicas, cpu, memory = draw(st.tuples(st.integers(1, 4), st.sampled_from(_CPU), st.sampled_from(_MEMORY)))
        objects.extend(_deployment(names[(first + i) % len(names)], replicas, cpu, memory))
    return tuple(objects)


@contextmanager
def layout(name: str) -> Iterator[None]:
    if name == "list":
        yield
        return
    original = campaign_chunk.workloads
    campaign_chunk.workloads = count_then_items  # type: ignore[assignment]
    try:
        yield
    finally:
        campaign_chunk.workloads = original


def campaign(scheduler: str, seed: int) -> dict[str, Any]:
    runs = [0]
    real = campaign_chunk.run_scenario

    def counted(scenario: Any, **options: Any) -> Any:
        runs[0] += 1
        return real(scenario, **options)

    campaign_chunk.run_scenario = counted  # type: ignore[assignment]
    started = time.process_time()
    try:
        result = run_campaign(
            CampaignSettings(
                base=_base_scenario(None, scheduler),
                examples=10,
                seed=seed,
                max_faults=DEFAULT_MAX_FAULTS,
                database=None,
                vary_cluster=True,
                vary_workload=True,
            )
        )
    finally:
        campaign_chunk.run_scenario = real  # type: ignore[assignment]
    found = [
        (
            sum(1 for item in c.scenario.workload if isinstance(item, Mapping) and item.get("kind") == "Deployment"),
            len(c.faults),
            c.scenario.cluster.node_count,
        )
        for c in result.counterexamples
    ]
    return {"found": found, "runs": runs[0], "cpu": time.process_time() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one campaign seed instead of three")
    args = parser.parse_args()
    seeds = (0,) if args.quick else (0, 1, 2)
    totals: dict[str, list[tuple[int, int, int]]] = {"count-then-items": [], "list": []}
    print(f"{'scheduler':15} {'seed':>4}  {'layout':17} {'found':>5} {'deployments':>11} {'faults':>6} {'nodes':>5} {'runs':>5} {'cpu s':>6}")
    for scheduler in (f"{__name__}:IgnoresMemory", f"{__name__}:FirstNode"):
        for seed in seeds:
            for name in ("count-then-items", "list"):
                with layout(name):
                    row = campaign(scheduler, seed)
                totals[name] += row["found"]
                columns = list(zip(*row["found"])) or [(0,), (0,), (0,)]
                print(
                    f"{scheduler.partition(':')[2]:15} {seed:>4}  {name:17} {len(row['found']):>5} "
                    f"{statistics.mean(columns[0]):>11.1f} {statistics.mean(columns[1]):>6.1f} {statistics.mean(columns[2]):>5.1f} "
                    f"{row['runs']:>5} {row['cpu']:>6.1f}"
                )
    means = {name: statistics.mean(d for d, _, _ in found) for name, found in totals.items() if found}
    print(
        f"\nDeployments kept a counterexample: list {means['list']:.1f}, count then items {means['count-then-items']:.1f} "
        f"(baseline / list = {means['count-then-items'] / means['list']:.2f}x; "
        f"{len(totals['list'])} and {len(totals['count-then-items'])} counterexamples)"
    )


if __name__ == "__main__":
    main()
