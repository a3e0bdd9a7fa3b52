"""Small clusters for the chaos tests: a few nodes, a probed web Deployment and its Service."""

from __future__ import annotations

from podquake.model import ClusterSpec, Simulation, load_manifests
from podquake.model.traffic import Constant, LoadGenerator

WEB = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: server
        image: nginx
        resources: {requests: {cpu: 100m, memory: 64Mi}}
        readinessProbe: {httpGet: {path: /, port: 80}, periodSeconds: 5, failureThreshold: 1}
        livenessProbe: {httpGet: {path: /, port: 80}}
      - name: sidecar
        image: envoy
        resources: {requests: {cpu: 50m, memory: 32Mi}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80}]}
"""

MANIFESTS = load_manifests(text=WEB, source="web")


def small_cluster(nodes: int = 3, zones: int = 3, *, seed: int = 1, traffic: bool = False, settle: float = 20.0) -> Simulation:
    """``nodes`` workers running web (3 replicas, Ready) after ``settle`` seconds; round-robin placement."""
    sim = Simulation(
        ClusterSpec.uniform(nodes=nodes, zones=zones),
        seed=seed,
        scheduler="round-robin",
        load_mode="fluid" if traffic else None,
    )
    sim.apply(MANIFESTS)
    if traffic:
        sim.traffic.add(LoadGenerator(service="default/web", shape=Constant(30.0), clients=10))
    sim.run(settle)
    return sim


def web_pods(sim: Simulation) -> list:
    return [p for p in sim.state.pods.values() if p.labels.get("app") == "web"]


#: a scenario file: three nodes, a two-replica Deployment, a short run, five fast properties
TINY_SCENARIO = """\
apiVersion: podquake/v1
kind: Scenario
metadata: {name: tiny}
duration: 120
quiet: 300
cluster: {nodes: 3, zones: 3}
workload:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: web}
  spec:
    replicas: 2
    selector: {matchLabels: {app: web}}
    template:
      metadata: {labels: {app: web}}
      spec:
        containers:
        - name: server
          image: nginx
          resources: {requests: {cpu: 100m, memory: 64Mi}}
          readinessProbe: {httpGet: {path: /, port: 80}, periodSeconds: 5}
properties: [no-overcommit, single-binding, schedulable-nodes-only, scheduler-contract, replicas-converge]
"""


#: a property of one's own with a parameter, as module source: ``LIMIT_PROPERTY.format(id=...)``
LIMIT_PROPERTY = '''
from podquake.properties import Property, register


@register
class BindLimit(Property):
    id = "{id}"
    kind = "safety"
    description = "At most `limit` pods are bound in all (a property of one's own, with a parameter)."
    catches = "Nothing real: a check whose verdict depends on its parameter."
    params = {{"limit": 1000}}

    def __init__(self, **overrides):
        super().__init__(**overrides)
        self.bound = 0

    def on_PodBound(self, event, ledger):
        self.bound += 1
        if self.bound > self.limit:
            self.violate(f"{{self.bound}} pods bound > {{self.limit}}", event.t)
'''
