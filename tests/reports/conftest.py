"""Shared fixtures: one small real run (a node powered off and on, a partition, traffic) and a
hand-built run record with a counterexample made from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from podquake.model import ClusterSpec, NodeCutOff, Simulation, load_manifests
from podquake.model import trace as ev
from podquake.model.traffic import Constant, Internal, LoadGenerator
from podquake.properties import Verdict
from podquake.reports import build_record, counterexample_entry, property_entry, timeline_from_trace, write_report

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
        image: web:1
        resources: {requests: {cpu: 500m, memory: 256Mi}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
"""

NODE_FAULT = "NodeFailure(node='worker-1', at=30.0, heal_after=90.0)"
CUT_FAULT = "NetworkPartition(kind='node-cut-off', node='worker-3', at=60.0)"
FAILURE_TIME = 100.0


@pytest.fixture(scope="session")
def small_run() -> list[ev.Event]:
    """Three workers in two zones running web (3 replicas, one per node), traffic from worker-2;
    worker-1 powered off at 30 s and on at 120 s, worker-3 cut off from the control plane at 60 s
    and never healed, a user's mark at 150 s; the run ends at 180 s."""
    sim = Simulation(ClusterSpec.uniform(nodes=3, zones=2), seed=1, scheduler="round-robin")
    sim.apply(load_manifests(text=WEB))
    sim.traffic.add(LoadGenerator("default/web", Constant(30.0), entry=Internal(node="worker-2")))
    sim.run(30)
    sim.state.record(ev.Annotation(sim.now, "fault-started", NODE_FAULT))
    sim.kubelets["worker-1"].power_off()
    sim.run(60)
    sim.state.record(ev.Annotation(sim.now, "fault-started", CUT_FAULT))
    sim.network.apply(NodeCutOff(node="worker-3"))
    sim.run(120)
    sim.kubelets["worker-1"].power_on()
    sim.state.record(ev.Annotation(sim.now, "fault-healed", NODE_FAULT))
    sim.run(150)
    sim.state.record(ev.Annotation(sim.now, "note", "checkpoint <b>&"))
    sim.run(180)
    return list(sim.trace.events)


@pytest.fixture(scope="session")
def sample_record(small_run: list[ev.Event]) -> dict[str, Any]:
    """A failed campaign: two properties, one violated with a counterexample from the small run."""
    failure = Verdict.failed(
        "replicas-converge",
        "Deployment/default/web has 1 of 3 ready replicas <after> 60s",
        time=FAILURE_TIME,
        objects=("Deployment/default/web",),
        numbers={"ready": 1, "desired": 3, "ratio": float("inf")},
    )
    held = Verdict.passed("no-overcommit")
    faults = [
        {"kind": "NodeFailure", "at": 30.0, "duration": 90.0, "repr": NODE_FAULT, "node": "worker-1"},
        {"kind": "NetworkPartition", "at": 60.0, "duration": None, "repr": CUT_FAULT, "node": "worker-3"},
    ]
    counterexample = counterexample_entry(
        1,
        property="replicas-converge",
        message=failure.message,
        faults=faults,
        seed=1234,
        verdicts=[held, failure],
        timeline=timeline_from_trace(small_run, failure_time=FAILURE_TIME),
    )
    return build_record(
        seed=1234,
        scheduler="round-robin",
        settings={
            "examples": 50,
            "workers": 2,
            "manifests": None,
            "scenario": None,
            "properties": ["no-overcommit", "replicas-converge"],
            "max_faults": 4,
            "duration": 180.0,
            "load_mode": "fluid",
        },
        counts={"examples": 50, "steps": 400, "faults": 120, "faults_by_kind": {"NetworkPartition": 40, "NodeFailure": 80}},
        properties=[
            property_entry("no-overcommit", "safety", "Requests on a node fit its allocatable.", [held] * 50),
            property_entry("replicas-converge", "liveness", "Workloads get back to desired <ready> replicas.", [held.__class__.passed("replicas-converge")] * 49 + [failure]),
        ],
        counterexamples=[counterexample],
        started="2026-01-02T03:04:05+00:00",
        seconds=4.0,
        podquake_version="0.1.0",
    )


COUNTEREXAMPLE_YAML = "apiVersion: podquake/v1\nkind: Scenario\nseed: 1234\n"


@pytest.fixture(scope="session")
def report_dir(sample_record: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample record written as a report folder (rendered once: plots take a second or two)."""
    out = tmp_path_factory.mktemp("reports") / "podquake-report"
    write_report(sample_record, out, counterexample_files={"counterexample-1.yaml": COUNTEREXAMPLE_YAML})
    return out
