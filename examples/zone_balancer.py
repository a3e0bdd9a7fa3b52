"""A scheduler of one's own, as a plug-in: spread each app over the zones, then fill the emptiest node.

    python3 examples/zone_balancer.py            # place the sample shop with it and print where

and verify it under chaos against every property (examples/test_zone_balancer.py, three lines)::

    python3 -m pytest examples/test_zone_balancer.py -p no:cacheprovider

A plug-in is any object with a ``name`` and ``schedule(pod, cluster) -> node name | None``, over
read-only views. ``cluster.feasible_nodes(pod)`` is the set the scheduler contract allows (Ready,
not cordoned, taints tolerated, nodeSelector and required node affinity matched, room for the
requests), so the plug-in only decides which of them to prefer: here the zone that runs the fewest
pods of the same app (its ``app`` label), then the node that runs the fewest (a one-zone cluster
still gets its replicas on different nodes), then the most free CPU, then node order.
"""

from __future__ import annotations

import sys
from collections import Counter

from podquake.model.views import ClusterView, NodeView, PodView


class ZoneBalancer:
    """Fewest pods of the pod's app in the zone, then on the node, then most free CPU, then node order."""

    name = "zone-balancer"

    def schedule(self, pod: PodView, cluster: ClusterView) -> str | None:
        allowed = cluster.feasible_nodes(pod)
        if not allowed:
            return None  # the pod stays pending, and is retried when the cluster changes
        app = pod.labels.get("app")
        per_node = Counter(
            node.name
            for node in cluster.nodes
            for key in node.pods
            if app is not None and (other := cluster.pod(key)) is not None and other.labels.get("app") == app
        )
        per_zone = Counter()
        for node in cluster.nodes:
            per_zone[node.zone] += per_node[node.name]

        def preference(node: NodeView) -> tuple[int, int, int, int]:
            return (per_zone[node.zone], per_node[node.name], -node.free.cpu_millis, node.index)

        return min(allowed, key=preference).name


def main() -> int:
    """Place the embedded sample shop with :class:`ZoneBalancer` and print where each app runs."""
    from podquake.chaos.cli import default_scenario_text
    from podquake.chaos.scenario import load_scenario
    from podquake.model import Simulation

    shop = load_scenario(default_scenario_text())
    sim = Simulation(shop.cluster, seed=shop.seed, scheduler=ZoneBalancer())
    sim.apply(shop.manifests())
    settled = sim.run_until_stable(timeout=600)
    view = sim.view()
    for app in sorted({p.labels.get("app", "") for p in view.pods} - {""}):
        zones = Counter(view.node(p.node_name).zone for p in view.pods if p.labels.get("app") == app and p.node_name)
        print(f"{app:16} " + "  ".join(f"{zone}: {count}" for zone, count in sorted(zones.items())))
    print(f"{len(view.pending_pods)} pending; {'settled' if settled else 'not settled'} at t={sim.now:g}s")
    return 0 if settled else 1


if __name__ == "__main__":
    sys.exit(main())
