"""Traffic for a user's own manifests, when they come without a scenario.

``podquake run --manifests app.yaml`` has no ``traffic:`` section to read, so it sends a steady
load to the application's entry points: every Service of type LoadBalancer or NodePort that selects
pods gets an external load generator (``rate`` requests per second from 100 clients).

An application with no such Service (Istio's bookinfo, say, which is reached through a gateway that
is not in its manifests) gets in-cluster traffic instead: every ClusterIP Service with a selector
and a cluster IP (headless Services have none to balance) gets ``rate`` requests per second from
clients on the cluster's first node, the way its sibling services would call it. Either way the
application is verified for load spreading as well as placement, recovery and convergence; a
Service with one replica is judged for availability only (an even spread needs two endpoints).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from podquake.model.resources_api import Service
from podquake.model.traffic import Constant, External, Internal, LoadGenerator

if TYPE_CHECKING:
    from podquake.chaos.scenario import Scenario

__all__ = ["traffic_for", "ENTRY_SERVICE_TYPES"]

ENTRY_SERVICE_TYPES = ("LoadBalancer", "NodePort")


def traffic_for(scenario: Scenario, rate: float = 20.0) -> tuple[LoadGenerator, ...]:
    """A constant load on the entry points of the scenario's workload (see the module docstring).

    >>> from podquake.chaos.scenario import load_scenario
    >>> s = load_scenario('''
    ... apiVersion: podquake/v1
    ... kind: Scenario
    ... cluster: {nodes: 2, zones: 1}
    ... workload:
    ... - {apiVersion: v1, kind: Service, metadata: {name: api}, spec: {selector: {app: api}, ports: [{port: 80}]}}
    ... ''')
    >>> [(g.service, g.entry) for g in traffic_for(s)]
    [('default/api', Internal(pod=None, node='worker-1'))]
    """
    services = [m for m in scenario.manifests() if isinstance(m.obj, Service) and m.obj.selector]
    entries = [m for m in services if m.obj.type in ENTRY_SERVICE_TYPES]
    if entries:
        return tuple(LoadGenerator(f"{m.namespace}/{m.name}", Constant(rate), entry=External()) for m in entries)
    nodes = scenario.cluster.build_nodes()
    if not nodes:
        return ()
    inside = Internal(node=nodes[0].name)
    internal = [m for m in services if m.obj.type == "ClusterIP" and not m.obj.headless]
    return tuple(LoadGenerator(f"{m.namespace}/{m.name}", Constant(rate), entry=inside) for m in internal)
