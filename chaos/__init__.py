"""podquake.chaos: what goes wrong, and when. Faults as values, the nemesis that applies them, and
scenario files that replay a run exactly.

- :mod:`~podquake.chaos.faults`: every fault kind (``NodeFailure``, ``NetworkPartition``,
  ``ContainerCrash``, ``TrafficSpike``, ``ControlPlaneOutage``, the cloud faults...), frozen values
  whose ``repr`` is Python that rebuilds them (with ``from podquake.chaos import *``) and whose
  ``to_dict`` is their YAML form; ``FAULT_KINDS`` lists them by YAML name.
- :mod:`~podquake.chaos.nemesis`: :class:`Nemesis`, the only place faults have effects, marking each
  in the trace; every run ends with a final heal and a quiet period.
- :mod:`~podquake.chaos.scenario`: the scenario file (``apiVersion: podquake/v1``, ``kind:
  Scenario``): load, dump, and run it to a trace and verdicts.
- :mod:`~podquake.chaos.campaign`: ``CampaignSettings`` and ``run_campaign``, many generated
  examples with shrunk counterexamples; :mod:`~podquake.chaos.machine`: ``ClusterMachine``, a
  Hypothesis state machine to subclass for stateful tests; :mod:`~podquake.chaos.pytest_plugin`:
  the pytest options, fixtures and ``scheduler_suite``; :mod:`~podquake.chaos.strategies`: the
  Hypothesis strategies ``clusters``, ``workloads``, ``fault_schedules`` and ``scenarios`` (and
  ``faults``, importable from there only: here that name is the :mod:`~podquake.chaos.faults`
  module). Every name here loads its module when first
  used, so ``import podquake.chaos`` (and the pytest plugin, which pytest imports in every run of
  every project where podquake is installed) costs next to nothing until a name is asked for.
"""

from typing import TYPE_CHECKING

_FAULTS = "podquake.chaos.faults"
_SCENARIO = "podquake.chaos.scenario"
_RUN = "podquake.chaos.scenario_run"
_LAZY = {
    **dict.fromkeys(
        [
            "CONTROL_PLANE_COMPONENTS",
            "FAULT_KINDS",
            "ContainerCrash",
            "ControlPlaneOutage",
            "Fault",
            "KubeletStop",
            "NetworkPartition",
            "NodeDrain",
            "NodeFailure",
            "PodKill",
            "ProbeFailure",
            "ProvisioningFailure",
            "QuotaExhaustion",
            "RuntimeFailure",
            "SlowLoadBalancer",
            "SlowProvisioning",
            "TrafficSpike",
            "ZoneOutage",
            "describe_fault_kinds",
            "fault_from_dict",
        ],
        _FAULTS,
    ),
    "FaultRecord": "podquake.chaos.nemesis",
    "Nemesis": "podquake.chaos.nemesis",
    **dict.fromkeys(["Scenario", "dump_scenario", "load_scenario", "scenario_from_dict", "scenario_to_dict"], _SCENARIO),
    **dict.fromkeys(["ScenarioResult", "build_simulation", "replay", "run_scenario"], _RUN),
    "CampaignResult": "podquake.chaos.campaign",
    "CampaignSettings": "podquake.chaos.campaign",
    "ClusterMachine": "podquake.chaos.machine",
    "Counterexample": "podquake.chaos.campaign",
    "run_campaign": "podquake.chaos.campaign",
    # Not ``faults``: that name is the submodule podquake.chaos.faults (import it from .strategies).
    **dict.fromkeys(["clusters", "fault_schedules", "scenarios", "workloads"], "podquake.chaos.strategies"),
}

if TYPE_CHECKING:  # what the names are, for type checkers and editors
    from podquake.chaos.campaign import CampaignResult, CampaignSettings, Counterexample, run_campaign
    from podquake.chaos.faults import (
        CONTROL_PLANE_COMPONENTS,
        FAULT_KINDS,
        ContainerCrash,
        ControlPlaneOutage,
        Fault,
        KubeletStop,
        NetworkPartition,
        NodeDrain,
        NodeFailure,
        PodKill,
        ProbeFailure,
        ProvisioningFailure,
        QuotaExhaustion,
        RuntimeFailure,
        SlowLoadBalancer,
        SlowProvisioning,
        TrafficSpike,
        ZoneOutage,
        describe_fault_kinds,
        fault_from_dict,
    )
    from podquake.chaos.machine import ClusterMachine
    from podquake.chaos.nemesis import FaultRecord, Nemesis
    from podquake.chaos.scenario import Scenario, dump_scenario, load_scenario, scenario_from_dict, scenario_to_dict
    from podquake.chaos.scenario_run import ScenarioResult, build_simulation, replay, run_scenario
    from podquake.chaos.strategies import clusters, fault_schedules, scenarios, workloads


def __getattr__(name: str) -> object:
    """The names of :data:`_LAZY`, imported from their module when first asked for."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = sorted(_LAZY)  # noqa: PLE0605 - every public name is a lazy one
