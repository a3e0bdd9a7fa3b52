"""Traffic for a user's own manifests, when they come without a scenario.

``podquake run --manifests app.yaml`` has no ``traffic:`` section to read, so it sends a steady
load to the application's entry points: every Service of type LoadBalancer or NodePort gets an
external load generator (``rate`` requests per second from 100 clients). An application with no
such Service gets none: a ClusterIP-only app is still verified for placement, recovery and
convergence, just not for load spreading.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from podquake.model.traffic import Constant, LoadGenerator

if TYPE_CHECKING:
    from podquake.chaos.scenario import Scenario

__all__ = ["traffic_for", "ENTRY_SERVICE_TYPES"]

ENTRY_SERVICE_TYPES = ("LoadBalancer", "NodePort")


def traffic_for(scenario: Scenario, rate: float = 20.0) -> tuple[LoadGenerator, ...]:
    """A constant external load on each entry-point Service of the scenario's workload."""
    generators = []
    for manifest in scenario.manifests():
        if manifest.kind != "Service":
            continue
        service = manifest.obj
        if getattr(service, "type", "ClusterIP") in ENTRY_SERVICE_TYPES:
            generators.append(LoadGenerator(f"{manifest.namespace}/{manifest.name}", Constant(rate)))
    return tuple(generators)
