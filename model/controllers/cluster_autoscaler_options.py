"""What a cluster autoscaler is built from: its flags and what it needs from the disruption controller.

- :class:`AutoscalerOptions`: the flags of kubernetes/autoscaler:cluster-autoscaler that the model
  uses, with upstream's defaults (config/const.go and config/flags/flags.go; the values are in
  :mod:`podquake.model.constants`). Each flag is checked when the options are built, so a bad value
  is an :class:`~podquake.model.errors.InputError` naming the fix, not a run that never scans.
- :class:`DisruptionAPI`: the eviction API and the PodDisruptionBudget status that the scale-down
  reads and evicts through (model/disruption.py's ``DisruptionController`` is the real one).

Apart from :mod:`podquake.model.controllers.cluster_autoscaler` because both are inputs, settled
before a scan runs, and read by every part of the autoscaler (the scan loop, the scale-up, the
scale-down): a module of their own lets each part import them without importing the others.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Protocol

from podquake.model import constants as k8s
from podquake.model.errors import InputError, finite_number

__all__ = ["EXPANDERS", "AutoscalerOptions", "DisruptionAPI"]

EXPANDERS = ("least-waste", "random")

# Here rather than in podquake.model.constants, beside the flag that uses them.
# kubernetes/autoscaler:cluster-autoscaler/utils/taints/taints.go (DeletionCandidateTaint): the soft taint
# (PreferNoSchedule) on the nodes the planner found unneeded.
TAINT_DELETION_CANDIDATE = "DeletionCandidateOfClusterAutoscaler"
# config/flags/flags.go --max-bulk-soft-taint-count: soft taints added or removed per loop (0: none).
CA_MAX_BULK_SOFT_TAINT_COUNT = 10


@dataclass(frozen=True)
class AutoscalerOptions:
    """The cluster autoscaler's flags that the model uses, with upstream defaults (times in seconds)."""

    enabled: bool = True  # False: the cluster runs without a cluster autoscaler
    scan_interval: float = k8s.CA_SCAN_INTERVAL_SECONDS
    expander: str = k8s.CA_DEFAULT_EXPANDER
    max_node_provision_time: float = k8s.CA_MAX_NODE_PROVISION_SECONDS
    max_nodes_total: int = 0  # 0: no limit
    scale_down_enabled: bool = True
    scale_down_utilization_threshold: float = k8s.CA_SCALE_DOWN_UTILIZATION_THRESHOLD
    scale_down_unneeded_time: float = k8s.CA_SCALE_DOWN_UNNEEDED_SECONDS
    scale_down_unready_time: float = k8s.CA_SCALE_DOWN_UNREADY_SECONDS
    scale_down_delay_after_add: float = k8s.CA_SCALE_DOWN_DELAY_AFTER_ADD_SECONDS
    scale_down_delay_after_delete: float = k8s.CA_SCALE_DOWN_DELAY_AFTER_DELETE_SECONDS
    scale_down_delay_after_failure: float = k8s.CA_SCALE_DOWN_DELAY_AFTER_FAILURE_SECONDS
    scale_down_non_empty_candidates: int = k8s.CA_SCALE_DOWN_NON_EMPTY_CANDIDATES
    unremovable_node_recheck_timeout: float = k8s.CA_UNREMOVABLE_NODE_RECHECK_SECONDS
    max_scale_down_parallelism: int = k8s.CA_MAX_SCALE_DOWN_PARALLELISM
    max_drain_parallelism: int = k8s.CA_MAX_DRAIN_PARALLELISM
    max_bulk_soft_taint_count: int = CA_MAX_BULK_SOFT_TAINT_COUNT  # 0: no DeletionCandidate taints
    node_delete_delay_after_taint: float = k8s.CA_NODE_DELETE_DELAY_AFTER_TAINT_SECONDS
    max_pod_eviction_time: float = k8s.CA_MAX_POD_EVICTION_SECONDS
    max_graceful_termination: float = k8s.CA_MAX_GRACEFUL_TERMINATION_SECONDS
    skip_nodes_with_local_storage: bool = True
    skip_nodes_with_system_pods: bool = True
    initial_node_group_backoff: float = k8s.CA_INITIAL_NODE_GROUP_BACKOFF_SECONDS
    max_node_group_backoff: float = k8s.CA_MAX_NODE_GROUP_BACKOFF_SECONDS
    node_group_backoff_reset: float = k8s.CA_NODE_GROUP_BACKOFF_RESET_SECONDS
    expendable_pods_priority_cutoff: int = k8s.CA_EXPENDABLE_PODS_PRIORITY_CUTOFF
    max_total_unready_percentage: float = k8s.CA_MAX_TOTAL_UNREADY_PERCENTAGE
    ok_total_unready_count: int = k8s.CA_OK_TOTAL_UNREADY_COUNT

    def __post_init__(self) -> None:
        if self.expander not in EXPANDERS:
            raise ValueError(f"unknown expander {self.expander!r}; use one of {', '.join(EXPANDERS)}")
        for spec in fields(self):
            _check_option(spec.name, spec.type, getattr(self, spec.name), spec.default)
        if self.scan_interval <= 0:
            raise ValueError("scan_interval must be positive")
        if not 0.0 <= self.scale_down_utilization_threshold <= 1.0:
            raise ValueError(f"scale_down_utilization_threshold is a fraction in [0, 1], not {self.scale_down_utilization_threshold!r}")
        if not 0.0 <= self.max_total_unready_percentage <= 100.0:
            raise ValueError(f"max_total_unready_percentage is a percentage in [0, 100], not {self.max_total_unready_percentage!r}")


def _check_option(name: str, kind: object, value: object, default: object) -> None:
    """One flag's value against its type: a bool, a whole number (>= 0 but for the priority cutoff,
    which upstream defaults to -10), or a finite number of seconds >= 0 (NaN made a scan never come)."""
    where, fix = f"AutoscalerOptions.{name}", f"write e.g. AutoscalerOptions({name}={default!r}), the default"
    if kind in (float, "float"):
        finite_number(value, where, minimum=0, fix=fix)
        return
    if kind in (bool, "bool"):
        ok, rule = isinstance(value, bool), "True or False"
    elif kind in (int, "int"):
        ok = isinstance(value, int) and not isinstance(value, bool) and (value >= 0 or name == "expendable_pods_priority_cutoff")
        rule = "a whole number >= 0"
    else:
        return
    if not ok:
        raise InputError(f"{where} must be {rule}, not {value!r}", fix=fix)


# --- what the autoscaler needs from the disruption controller ------------------------------------
class _EvictionAnswer(Protocol):
    code: int
    reason: str


class _BudgetStatus(Protocol):
    disruptions_allowed: int


class DisruptionAPI(Protocol):
    """What the autoscaler needs from a disruption controller (model/disruption.py's
    ``DisruptionController``): the eviction API and the PDB status it keeps."""

    def evict(self, pod_key: str) -> _EvictionAnswer: ...

    def status(self, namespace: str, name: str) -> _BudgetStatus | None: ...
