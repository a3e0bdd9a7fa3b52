"""The campaign runner's draws: how its examples are spread over fault schedules and seeds."""

from __future__ import annotations

from typing import Any

import pytest
from podquake.chaos import campaign as campaign_module
from podquake.chaos.campaign import CampaignSettings, run_campaign
from podquake.chaos.scenario import Scenario, load_scenario

TINY = """
apiVersion: podquake/v1
kind: Scenario
seed: 40
duration: 60
quiet: 60
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
        - {name: server, image: nginx, resources: {requests: {cpu: 100m, memory: 64Mi}}}
"""


def runs_of(monkeypatch: pytest.MonkeyPatch, settings: CampaignSettings) -> list[Scenario]:
    """The scenarios the campaign ran, in order."""
    ran: list[Scenario] = []
    real = campaign_module.run_scenario

    def counted(scenario: Scenario, **options: Any) -> Any:
        ran.append(scenario)
        return real(scenario, **options)

    monkeypatch.setattr(campaign_module, "run_scenario", counted)
    result = run_campaign(settings)
    assert result.examples == settings.examples and result.ok, result.failed
    return ran


def test_the_fault_free_example_runs_once_a_chunk_with_the_chunks_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Drawing a seed for it too made "no faults" one example per seed Hypothesis drew: half of a
    default campaign's examples (50 and 58 of 100, for seeds 0 and 1) ran with no fault at all."""
    base = load_scenario(TINY)
    ran = runs_of(monkeypatch, CampaignSettings(base=base, examples=50, chunk=25, database=None, max_faults=4))
    fault_free = [s for s in ran if not s.faults]
    assert sorted(s.seed for s in fault_free) == [40, 41]  # base.seed + the chunk's index
    assert sum(len(s.faults) for s in ran) >= 2 * len(ran)  # up to four faults an example, none wasted
