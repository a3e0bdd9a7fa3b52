"""Safety properties: what must hold at every step of a run.

Each is judged incrementally, event by event, from the trace and the shared ledger.
"""

from __future__ import annotations

from podquake.model import trace as ev
from podquake.properties.base import Property
from podquake.properties.ledger import Ledger
from podquake.properties.registry import register

__all__ = ["NoOvercommit"]


@register
class NoOvercommit(Property):
    """On every node, the bound pods' requests never exceed allocatable: CPU, memory and pod count.

    Catches: a scheduler (or a manual ``nodeName``) that packs pods past a node's allocatable, which
    on a real node means CPU starvation, OOM kills of innocent pods and kubelet admission failures.
    """

    id = "no-overcommit"
    kind = "safety"
    description = "On every node, bound pods' requests never exceed allocatable (CPU, memory, pod count)."
    catches = "A scheduler that over-packs a node: CPU starvation, OOM kills, kubelet admission rejections."

    def on_PodBound(self, event: ev.PodBound, ledger: Ledger) -> None:
        node = ledger.nodes.get(event.node)
        if node is None:
            return  # binding to a missing node is schedulable-nodes-only's to judge
        over = []
        if node.requested_cpu > node.allocatable_cpu:
            over.append(f"{node.requested_cpu}m CPU of {node.allocatable_cpu}m")
        if node.requested_memory > node.allocatable_memory:
            over.append(f"{node.requested_memory} bytes of memory of {node.allocatable_memory}")
        if len(node.pods) > node.allocatable_pods:
            over.append(f"{len(node.pods)} pods of {node.allocatable_pods}")
        if over:
            self.violate(
                f"binding {event.pod} put node {node.name} over allocatable: {'; '.join(over)}",
                event.t,
                objects=(f"node/{node.name}", f"pod/{event.pod}"),
                numbers={
                    "requested_cpu_millis": node.requested_cpu,
                    "allocatable_cpu_millis": node.allocatable_cpu,
                    "requested_memory_bytes": node.requested_memory,
                    "allocatable_memory_bytes": node.allocatable_memory,
                    "pods": len(node.pods),
                    "allocatable_pods": node.allocatable_pods,
                },
            )
