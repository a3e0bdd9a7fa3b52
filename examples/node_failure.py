"""Run a real application on the model, power one worker off, and watch the control plane recover.

    python3 examples/node_failure.py                       # the embedded sample shop
    python3 examples/node_failure.py --manifests ../shared/manifests/online-boutique.yaml --seed 3

What it shows, with upstream timing: the dead node's heartbeats stop; 50 s later
(node-monitor-grace-period) the node lifecycle controller marks it Unknown and taints it; 300 s after
that (the default tolerationSeconds) its pods are evicted, their ReplicaSets create replacements and
the scheduler binds them to the surviving nodes. A StatefulSet pod waits for the node to come back
(it never runs two pods of one identity), so the machine is then repaired. The timeline is read
from the trace.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from podquake.model import ClusterSpec, InputError, Simulation, load_manifests
from podquake.chaos.timeline_text import describe_event
from podquake.model import trace as ev

SAMPLE_SHOP = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: frontend, labels: {app: frontend}}
spec:
  replicas: 3
  selector: {matchLabels: {app: frontend}}
  template:
    metadata: {labels: {app: frontend}}
    spec:
      containers:
      - name: server
        image: shop/frontend:1.4
        resources: {requests: {cpu: 250m, memory: 256Mi}, limits: {cpu: 500m, memory: 512Mi}}
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 5}
        livenessProbe: {httpGet: {path: /healthz, port: 8080}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: cart}
spec:
  replicas: 2
  selector: {matchLabels: {app: cart}}
  template:
    metadata: {labels: {app: cart}}
    spec:
      containers:
      - name: server
        image: shop/cart:2.0
        resources: {requests: {cpu: 200m, memory: 128Mi}}
        readinessProbe: {tcpSocket: {port: 7070}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: checkout}
spec:
  replicas: 2
  selector: {matchLabels: {app: checkout}}
  template:
    metadata: {labels: {app: checkout}}
    spec:
      containers:
      - name: server
        image: shop/checkout:1.1
        resources: {requests: {cpu: 300m, memory: 256Mi}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: image-worker}
spec:
  replicas: 4
  selector: {matchLabels: {app: image-worker}}
  template:
    metadata: {labels: {app: image-worker}}
    spec:
      containers:
      - name: worker
        image: shop/thumbnailer:3.2
        resources: {requests: {cpu: "1", memory: 1Gi}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: orders-db}
spec:
  replicas: 2
  serviceName: orders-db
  selector: {matchLabels: {app: orders-db}}
  template:
    metadata: {labels: {app: orders-db}}
    spec:
      containers:
      - name: postgres
        image: postgres:16
        resources: {requests: {cpu: 500m, memory: 1Gi}}
---
apiVersion: v1
kind: Service
metadata: {name: frontend}
spec:
  type: LoadBalancer
  selector: {app: frontend}
  ports: [{port: 80, targetPort: 8080}]
"""

NOTEWORTHY = (
    ev.NodePowerChanged,
    ev.NodeReadyChanged,
    ev.NodeTainted,
    ev.PodDeletionRequested,
    ev.ZoneStateChanged,
)


def describe(event: ev.Event) -> str:
    """The timeline line ``podquake replay`` prints for the event."""
    return describe_event(event) or repr(event)


def ready_by_workload(sim: Simulation) -> dict[str, str]:
    result = {}
    for workload in sim.state.workloads.values():
        if workload.kind == "ReplicaSet" and workload.owner is not None:
            continue
        status = sim.workload_status(workload.kind, workload.namespace, workload.name)
        result[f"{workload.kind}/{workload.name}"] = f"{status.ready}/{status.desired}"
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifests", help="Kubernetes YAML file or folder (default: the embedded sample shop)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        manifests = load_manifests(args.manifests) if args.manifests else load_manifests(text=SAMPLE_SHOP, source="sample-shop")
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    sim = Simulation(ClusterSpec.default(), seed=args.seed)
    sim.apply(manifests)
    stable = sim.run_until_stable(timeout=600)
    print(f"seed {args.seed}: {len(sim.state.nodes)} nodes, {len(sim.state.pods)} pods; "
          f"steady state {'reached' if stable else 'NOT reached'} at t={sim.now:.0f}s")
    per_node = Counter(p.node_name for p in sim.state.pods.values())
    victim = max(sorted(per_node), key=lambda name: per_node[name])
    print(f"powering off {victim}, which runs {per_node[victim]} pods\n")

    fault_time = sim.now + 10
    sim.run(fault_time)
    start = len(sim.trace.events)
    sim.kubelets[victim].power_off()
    print(f"{'time':>8}  event")
    checkpoints = [fault_time + dt for dt in (30, 60, 120, 360, 420, 600)]
    for checkpoint in checkpoints:
        sim.run(checkpoint)
        for event in sim.trace.events[start:]:
            if isinstance(event, NOTEWORTHY):
                print(f"{event.t - fault_time:>+7.0f}s  {describe(event)}")
        start = len(sim.trace.events)
        counts = ready_by_workload(sim)
        short = {name: count for name, count in counts.items() if count.split("/")[0] != count.split("/")[1]}
        below = ", ".join(f"{name} {count} ready" for name, count in short.items()) or "none"
        print(f"{checkpoint - fault_time:>+7.0f}s  -- {len(counts) - len(short)}/{len(counts)} workloads fully ready; below: {below}")
    stuck = [p for p in sim.state.pods.values() if p.deletion_timestamp is not None and p.node_name == victim]
    stateful = [p.key for p in stuck if p.owner is not None and p.owner.kind == "StatefulSet"]
    if stuck:
        print(f"\n{len(stuck)} evicted pod(s) stay Terminating on the dead node, as upstream: its kubelet cannot confirm.")
    if stateful:
        print(f"{', '.join(stateful)} is not replaced meanwhile: a StatefulSet never runs two pods of one identity.")
    repair = sim.now
    print(f"repairing {victim}: powering it back on")
    sim.kubelets[victim].power_on()
    recovered = sim.run_until_stable(timeout=600)
    back_ready = [e.t for e in sim.trace.of_type(ev.PodReadyChanged) if e.ready and e.t > fault_time]
    bound_after = Counter(p.node_name for p in sim.state.pods.values() if p.deletion_timestamp is None)
    if recovered:
        last = max(back_ready, default=fault_time)
        after_repair = f" ({last - repair:.0f}s after the repair)" if last > repair else " (before the repair)"
        print(f"recovered: every workload back at its desired ready replicas {last - fault_time:+.0f}s"
              f" after the fault{after_repair}")
    else:
        print("NOT recovered: some workload is still below its desired ready replicas")
    print(f"pods per node now: {dict(sorted(bound_after.items()))}")
    print(f"trace: {len(sim.trace)} events (same seed, same bytes)")
    return 0 if recovered else 1


if __name__ == "__main__":
    sys.exit(main())
