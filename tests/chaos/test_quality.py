"""Quality: the default chaos campaign finds real bugs, with small counterexamples that replay.

Each test seeds one known bug (:mod:`tests.chaos.bugs`), runs :func:`run_campaign` with the default
:class:`CampaignSettings` but for a small example budget, one worker and no counterexample folder,
and asserts that

1. the campaign reports the property that should catch the bug as failed;
2. some counterexample it returns fails that property with at most a few faults (the smallest one
   is taken: a campaign shrinks towards the *first* failed property in suite order, so when a bug
   breaks two properties at once, the minimal schedule may be filed under the other one; its
   recorded verdicts say which properties it fails);
3. replaying that counterexample scenario (read back from YAML, as a file would be) gives the same
   verdicts, the expected failure included.

The control tests run the same settings on the same scenarios with no bug and find nothing.

Each hunt prints what it took (the example that first failed the property, counting the chunks'
examples in order; the examples the campaign ran; its runs, shrinking included; seconds); ``pytest -s`` shows them. The base scenarios are small purpose-built ones (a few nodes,
one Deployment) so that a run costs tens of milliseconds, and each bug gets the fault kinds of the
default settings (all eleven) but the HPA's (traffic spikes only, see :data:`SPIKES`). The tests
marked ``slow`` (the longer hunts, and the same bugs hunted on the embedded sample shop,
``podquake run``'s default scenario) are skipped unless ``--runslow`` or ``PODQUAKE_SLOW=1``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest
from podquake.chaos import campaign_chunk as chunk_module
from podquake.chaos.campaign import CampaignResult, CampaignSettings, Counterexample, run_campaign
from podquake.chaos.cli import default_scenario_text
from podquake.chaos.scenario import Scenario, dump_scenario, load_scenario
from podquake.chaos.scenario_run import run_scenario
from podquake.chaos.strategies import DEFAULT_FAULT_KINDS
from podquake.properties import FAILED

from tests.chaos import bugs

# === base scenarios ==================================================================================
_WEB_DEPLOYMENT = """
- apiVersion: apps/v1
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
          image: nginx:1.27
          resources: {requests: {cpu: 250m, memory: 256Mi}}
          readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 5}
- apiVersion: v1
  kind: Service
  metadata: {name: web}
  spec:
    selector: {app: web}
    ports: [{port: 80, targetPort: 8080}]
"""

SMALL_WEB = (
    """
apiVersion: podquake/v1
kind: Scenario
metadata: {name: small-web, description: "three replicas of a web server on three nodes in three zones"}
duration: 300
quiet: 300
cluster: {pools: [{name: worker, count: 3, zones: [zone-a, zone-b, zone-c], cpu: "2", memory: 4Gi}]}
workload:"""
    + _WEB_DEPLOYMENT
)

SMALL_WEB_TRAFFIC = SMALL_WEB + "traffic: [{service: default/web, rate: 50, entry: {node: worker-1}}]\n"

AUTOSCALED_WEB = (
    """
apiVersion: podquake/v1
kind: Scenario
metadata: {name: autoscaled-web, description: "the web server behind a CPU HorizontalPodAutoscaler, 3 to 8 replicas"}
duration: 600
quiet: 300
cluster: {pools: [{name: worker, count: 3, zones: [zone-a, zone-b, zone-c], cpu: "4", memory: 4Gi}]}
traffic: [{service: default/web, rate: 40, clients: 200, entry: {node: worker-1}}]
workload:"""
    + _WEB_DEPLOYMENT
    + """- apiVersion: autoscaling/v2
  kind: HorizontalPodAutoscaler
  metadata: {name: web}
  spec:
    scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
    minReplicas: 3
    maxReplicas: 8
    metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}
"""
)

CACHE_TIER = """
apiVersion: podquake/v1
kind: Scenario
metadata: {name: cache-tier, description: "a memory-bound cache: one 2.5Gi replica per 4Gi node, so memory binds, not CPU"}
duration: 300
quiet: 300
cluster: {pools: [{name: worker, count: 3, zones: [zone-a], cpu: "4", memory: 4Gi}]}
workload:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: cache}
  spec:
    replicas: 3
    selector: {matchLabels: {app: cache}}
    template:
      metadata: {labels: {app: cache}}
      spec:
        containers:
        - name: redis
          image: redis:7
          resources: {requests: {cpu: 100m, memory: 2560Mi}}
"""

BASES: dict[str, Callable[[], str]] = {
    "small-web": lambda: SMALL_WEB,
    "small-web-traffic": lambda: SMALL_WEB_TRAFFIC,
    "autoscaled-web": lambda: AUTOSCALED_WEB,
    "cache-tier": lambda: CACHE_TIER,
    "sample-shop": default_scenario_text,
}

SPIKES = ("traffic-spike",)
"""The kinds for the HPA bug. Oscillation needs two separate bursts of load on the autoscaled Service
within five minutes, which a schedule drawn from all eleven default kinds rarely holds: on
autoscaled-web, 4 of 150 plainly generated schedules of the default kinds show it, 33 of 100 of
traffic spikes only (a default-kinds campaign first fails it around example 40, too slow for a test)."""


def base_scenario(name: str, scheduler: str | None = None) -> Scenario:
    base = load_scenario(BASES[name](), source=f"<{name}>")
    return replace(base, scheduler=scheduler) if scheduler else base


# === hunting =========================================================================================
@dataclass(frozen=True)
class Hunt:
    """What one campaign found for one property, and what it took."""

    result: CampaignResult
    counterexample: Counterexample | None
    runs: int
    seconds: float


def fails(counterexample: Counterexample, property_id: str) -> bool:
    return any(v.property == property_id and v.status == FAILED for v in counterexample.verdicts)


def evidence(found: Hunt, property_id: str) -> str:
    """The failure message of ``property_id`` in the chosen counterexample's verdicts."""
    assert found.counterexample is not None
    return next(v.message for v in found.counterexample.verdicts if v.property == property_id and v.status == FAILED)


def smallest_failing(result: CampaignResult, property_id: str) -> Counterexample | None:
    """The counterexample with the fewest faults whose run failed ``property_id`` (shrunk ones first on a tie)."""
    found = [c for c in result.counterexamples if fails(c, property_id)]
    return min(found, key=lambda c: (len(c.faults), not c.shrunk), default=None)


def hunt(
    monkeypatch: pytest.MonkeyPatch,
    label: str,
    base: Scenario,
    property_id: str,
    *,
    examples: int = 25,
    kinds: tuple[str, ...] = DEFAULT_FAULT_KINDS,
) -> Hunt:
    """Run the default campaign on ``base``; count every run (shrinking included) and time it."""
    runs = [0]
    real = chunk_module.run_scenario

    def counted(scenario: Scenario, **options: Any) -> Any:
        runs[0] += 1
        return real(scenario, **options)

    monkeypatch.setattr(chunk_module, "run_scenario", counted)
    started = time.perf_counter()
    result = run_campaign(CampaignSettings(base=base, examples=examples, workers=1, database=None, kinds=kinds))
    seconds = time.perf_counter() - started
    monkeypatch.setattr(chunk_module, "run_scenario", real)
    found = smallest_failing(result, property_id)
    if found is None:
        print(f"\n[quality] {label}: {property_id} NOT found in {result.examples} examples ({runs[0]} runs, {seconds:.1f} s)")
    else:
        print(
            f"\n[quality] {label}: {property_id} first failed at example {result.first_failed_at.get(property_id)} of "
            f"{result.examples} ({runs[0]} runs with shrinking, "
            f"{seconds:.1f} s); counterexample of {len(found.faults)} fault(s), filed under {found.property}"
            f"{'' if found.shrunk else ' (unshrunk)'}: {list(found.faults)}"
        )
    return Hunt(result, found, runs[0], seconds)


def assert_found(found: Hunt, property_id: str, *, max_faults: int = 3) -> None:
    """The campaign failed ``property_id``, with a counterexample of at most ``max_faults`` faults
    that replays exactly (same verdicts) from its YAML form."""
    result = found.result
    assert result.failed[property_id] > 0, f"the campaign never failed {property_id}: {result.failed}"
    assert any(c.property == property_id for c in result.counterexamples)
    counterexample = found.counterexample
    assert counterexample is not None
    assert len(counterexample.faults) <= max_faults, counterexample.faults
    replayed = run_scenario(load_scenario(dump_scenario(counterexample.scenario)))
    assert property_id in [v.property for v in replayed.failed]
    assert [v.to_dict() for v in replayed.verdicts] == [v.to_dict() for v in counterexample.verdicts]


def scheduler_bug(name: str) -> str:
    return f"tests.chaos.bugs:{name}"


# === scheduler plug-ins ==============================================================================
def test_a_scheduler_that_ignores_memory_is_caught_by_scheduler_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    base = base_scenario("cache-tier", scheduler_bug("IgnoresMemory"))
    found = hunt(monkeypatch, "ignores memory (cache-tier)", base, "scheduler-contract")
    assert_found(found, "scheduler-contract", max_faults=1)
    assert "lacks memory" in evidence(found, "scheduler-contract")


@pytest.mark.parametrize(
    ("plugin", "base_name", "evidence_text"),
    [
        ("RaisesWhenNothingFits", "cache-tier", "raised ValueError"),
        ("AnswersMissingNode", "small-web", "answered unknown node"),
    ],
)
def test_a_scheduler_that_raises_or_answers_a_missing_node_is_caught(
    monkeypatch: pytest.MonkeyPatch, plugin: str, base_name: str, evidence_text: str
) -> None:
    found = hunt(monkeypatch, f"{plugin} ({base_name})", base_scenario(base_name, scheduler_bug(plugin)), "scheduler-contract")
    assert_found(found, "scheduler-contract", max_faults=1)
    assert evidence_text in evidence(found, "scheduler-contract")


@pytest.mark.slow  # about 100 runs: the shrink to two faults takes several seconds
def test_a_scheduler_that_binds_to_cordoned_or_not_ready_nodes_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    base = base_scenario("small-web", scheduler_bug("IgnoresNodeHealth"))
    found = hunt(monkeypatch, "ignores node health (small-web)", base, "scheduler-contract")
    assert_found(found, "scheduler-contract")
    message = evidence(found, "scheduler-contract")
    assert "not Ready" in message or "cordoned" in message


def test_a_scheduler_that_packs_replicas_onto_one_node_is_caught_by_availability(monkeypatch: pytest.MonkeyPatch) -> None:
    base = base_scenario("small-web", scheduler_bug("PacksReplicas"))
    found = hunt(monkeypatch, "packs replicas (small-web)", base, "availability-slo")  # first fails at example 13
    assert_found(found, "availability-slo", max_faults=1)
    assert "lost every ready endpoint" in evidence(found, "availability-slo")


# === model bugs ======================================================================================
def test_a_replicaset_that_does_not_replace_lost_pods_is_caught_by_replicas_converge(monkeypatch: pytest.MonkeyPatch) -> None:
    bugs.replicaset_forgets_lost_pods(monkeypatch)
    found = hunt(monkeypatch, "replicaset forgets lost pods (small-web)", base_scenario("small-web"), "replicas-converge")
    assert_found(found, "replicas-converge", max_faults=1)
    assert "room for" in evidence(found, "replicas-converge")


def test_a_kubelet_that_never_restarts_crashed_containers_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    bugs.kubelet_never_restarts(monkeypatch)
    found = hunt(monkeypatch, "kubelet never restarts (small-web)", base_scenario("small-web"), "crashed-containers-restarted")
    assert_found(found, "crashed-containers-restarted", max_faults=1)
    assert "not running again" in evidence(found, "crashed-containers-restarted")


def test_a_proxy_that_keeps_routing_to_removed_endpoints_is_caught_by_service_recovers(monkeypatch: pytest.MonkeyPatch) -> None:
    bugs.proxy_keeps_removed_endpoints(monkeypatch)
    found = hunt(monkeypatch, "proxy keeps removed endpoints (small-web-traffic)", base_scenario("small-web-traffic"), "service-recovers")
    # One forced pod kill breaks it, and so do three graceful kills of a pod (two do not): the shrinker
    # only lowers choices (graceful is the lower one), so a search that first fails otherwise can end
    # at three faults. Over campaign seeds 0-11: 6 end at one fault, 1 at two, 3 at three, and in 2
    # the 25 examples do not break service-recovers.
    assert_found(found, "service-recovers", max_faults=3)
    assert "endpoint-dead" in evidence(found, "service-recovers")


@pytest.mark.slow  # a 900 s run with traffic, shrunk to two spikes
def test_an_hpa_without_downscale_stabilization_oscillates_under_spikes(monkeypatch: pytest.MonkeyPatch) -> None:
    bugs.hpa_without_downscale_stabilization(monkeypatch)
    found = hunt(monkeypatch, "hpa without stabilization (autoscaled-web)", base_scenario("autoscaled-web"), "autoscaler-converges", kinds=SPIKES)
    assert_found(found, "autoscaler-converges", max_faults=2)
    assert "changed direction" in evidence(found, "autoscaler-converges")


# === the same bugs on the embedded sample shop (slow) ================================================
SHOP_CASES = [
    # label, scheduler plug-in, model patch, property, kinds, examples, most faults in the counterexample
    ("scheduler AnswersMissingNode", "AnswersMissingNode", None, "scheduler-contract", DEFAULT_FAULT_KINDS, 25, 0),
    # (campaign seeds 0-5 end at 2, 1, 5, 1, 2, 1 faults; before the empty schedule became one draw, 1, 2, 1, 2, 3, 2)
    ("scheduler IgnoresNodeHealth", "IgnoresNodeHealth", None, "scheduler-contract", DEFAULT_FAULT_KINDS, 25, 2),
    # the hardest to find: 39 to 83 examples over campaign seeds 0-5 (48 to 86 before); 100 is the default count
    ("scheduler PacksReplicas", "PacksReplicas", None, "availability-slo", DEFAULT_FAULT_KINDS, 100, 1),
    ("replicaset forgets lost pods", None, bugs.replicaset_forgets_lost_pods, "replicas-converge", DEFAULT_FAULT_KINDS, 25, 1),
    ("kubelet never restarts", None, bugs.kubelet_never_restarts, "crashed-containers-restarted", DEFAULT_FAULT_KINDS, 25, 1),
    ("hpa without stabilization", None, bugs.hpa_without_downscale_stabilization, "autoscaler-converges", SPIKES, 25, 2),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("label", "plugin", "patch", "property_id", "kinds", "examples", "max_faults"), SHOP_CASES, ids=[c[0] for c in SHOP_CASES]
)
def test_the_sample_shop_campaign_finds_the_bug(
    monkeypatch: pytest.MonkeyPatch,
    label: str,
    plugin: str | None,
    patch: Callable[[Any], None] | None,
    property_id: str,
    kinds: tuple[str, ...],
    examples: int,
    max_faults: int,
) -> None:
    if patch is not None:
        patch(monkeypatch)
    base = base_scenario("sample-shop", scheduler_bug(plugin) if plugin else None)
    found = hunt(monkeypatch, f"{label} (sample-shop)", base, property_id, kinds=kinds, examples=examples)
    assert_found(found, property_id, max_faults=max_faults)


# === controls: the same settings without a bug find nothing ==========================================
CONTROLS = [
    pytest.param("cache-tier", DEFAULT_FAULT_KINDS, id="cache-tier"),
    pytest.param("small-web", DEFAULT_FAULT_KINDS, id="small-web"),
    pytest.param("small-web-traffic", DEFAULT_FAULT_KINDS, id="small-web-traffic"),
    pytest.param("autoscaled-web", SPIKES, id="autoscaled-web-spikes", marks=pytest.mark.slow),
    pytest.param("sample-shop", DEFAULT_FAULT_KINDS, id="sample-shop", marks=pytest.mark.slow),
    pytest.param("sample-shop", SPIKES, id="sample-shop-spikes", marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("base_name", "kinds"), CONTROLS)
def test_without_a_bug_the_same_campaign_finds_nothing(monkeypatch: pytest.MonkeyPatch, base_name: str, kinds: tuple[str, ...]) -> None:
    found = hunt(monkeypatch, f"control ({base_name})", base_scenario(base_name), "(none)", kinds=kinds)
    result = found.result
    assert result.examples == 25
    assert result.ok, [c.message for c in result.counterexamples]
    assert not any(result.failed.values())
