"""STUB (being written by a helper session): scheduler lookup by name."""

from __future__ import annotations

import random
from typing import Any


class _FirstFit:
    name = "first-fit"

    def schedule(self, pod: Any, cluster: Any) -> str | None:
        for node in cluster.nodes:
            if node.ready and not node.unschedulable and pod.requests.fits_in(node.allocatable - node.requested):
                return node.name
        return None


def resolve_scheduler(spec: Any, rng: random.Random) -> Any:
    if spec is None or isinstance(spec, str):
        return _FirstFit()
    return spec
