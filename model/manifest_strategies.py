"""How workloads roll out, read from their manifests: the update strategies of Deployments,
StatefulSets and DaemonSets, checked as the API server's validation does
(kubernetes/kubernetes:pkg/apis/apps/validation/validation.go), with a note for each field the
model reads but does not act on.
"""

from __future__ import annotations

from podquake.model import constants as k8s
from podquake.model.fieldpath import Field
from podquake.model.objects import RollingUpdate
from podquake.model.resources_api import KNOWN_FIELDS

__all__ = ["daemonset_notes", "deployment_strategy", "statefulset_notes", "statefulset_strategy"]


def statefulset_strategy(f: Field) -> tuple[str, int]:
    """StatefulSet ``spec.updateStrategy``: its type and ``rollingUpdate.partition``
    (kubernetes/kubernetes:pkg/apis/apps/validation/validation.go ``ValidateStatefulSetUpdateStrategy``;
    defaults, pkg/apis/apps/v1/defaults.go: RollingUpdate, partition 0)."""
    f.check_keys(KNOWN_FIELDS["strategy"])
    type_ = f["type"].string("RollingUpdate", choices=("RollingUpdate", "OnDelete"))
    rolling = f["rollingUpdate"]
    if type_ == "OnDelete":
        if rolling.present():
            raise rolling.error(
                "rollingUpdate may only be set when the updateStrategy type is RollingUpdate", fix="remove rollingUpdate"
            )
        return type_, 0
    rolling.check_keys(KNOWN_FIELDS["statefulSetRollingUpdate"])
    partition = rolling["partition"].integer(0, minimum=0)
    unavailable = rolling["maxUnavailable"]
    if unavailable.present():
        value = unavailable.int_or_percent(max_percent=100)
        if value in (0, "0%"):
            raise unavailable.error("maxUnavailable must be greater than 0", fix="use 1 or more, or remove it")
        unavailable.note(
            "maxUnavailable (the MaxUnavailableStatefulSet feature gate) is not modelled; pods are replaced one at a time"
        )
    return type_, partition


def statefulset_notes(spec: Field) -> None:
    """Notes for the StatefulSet fields the model reads but does not act on."""
    policy = spec["persistentVolumeClaimRetentionPolicy"]
    policy.check_keys(KNOWN_FIELDS["claimRetentionPolicy"])
    choices = ("Retain", "Delete")
    if "Delete" in (policy["whenDeleted"].string("Retain", choices=choices), policy["whenScaled"].string("Retain", choices=choices)):
        policy.note("deleting claims is not modelled; every claim is retained, as with Retain")
    ordinals = spec["ordinals"]
    ordinals.check_keys(KNOWN_FIELDS["ordinals"])
    start = ordinals["start"].integer(0, minimum=0)
    if start != 0:
        ordinals.note(f"start {start} is not modelled; pods are numbered from 0")


def daemonset_notes(spec: Field) -> None:
    """Notes for the DaemonSet fields the controller ignores (it rolls out as RollingUpdate with
    maxUnavailable 1 and maxSurge 0, and counts a pod available once Ready)."""
    strategy = spec["updateStrategy"]
    strategy.check_keys(KNOWN_FIELDS["strategy"])
    type_ = strategy["type"].string("RollingUpdate", choices=("RollingUpdate", "OnDelete"))
    rolling = strategy["rollingUpdate"]
    if type_ == "OnDelete":
        strategy["type"].note("OnDelete is not modelled; template changes roll out as RollingUpdate with maxUnavailable 1")
    else:
        rolling.check_keys(KNOWN_FIELDS["rollingUpdate"])
        surge = rolling["maxSurge"].int_or_percent(0, max_percent=100)
        unavailable = rolling["maxUnavailable"].int_or_percent(1, max_percent=100)
        if surge not in (0, "0%") or unavailable != 1:
            rolling.note("only maxUnavailable 1 and maxSurge 0 are modelled; template changes roll out with those")
    if spec["minReadySeconds"].integer(0, minimum=0) > 0:
        spec["minReadySeconds"].note("not modelled for DaemonSets; a pod counts as available once Ready")


def deployment_strategy(f: Field) -> RollingUpdate:
    """Deployment ``spec.strategy`` (kubernetes/kubernetes:pkg/apis/apps/validation/validation.go)."""
    f.check_keys(KNOWN_FIELDS["strategy"])
    type_ = f["type"].string("RollingUpdate", choices=("RollingUpdate", "Recreate"))
    rolling = f["rollingUpdate"]
    if type_ == "Recreate":
        if rolling.present():
            raise rolling.error("rollingUpdate may not be set when the strategy type is Recreate", fix="remove rollingUpdate")
        return RollingUpdate(type="Recreate")
    rolling.check_keys(KNOWN_FIELDS["rollingUpdate"])
    surge = rolling["maxSurge"].int_or_percent(k8s.DEFAULT_MAX_SURGE)
    unavailable = rolling["maxUnavailable"].int_or_percent(k8s.DEFAULT_MAX_UNAVAILABLE, max_percent=100)
    if surge in (0, "0%") and unavailable in (0, "0%"):
        raise rolling["maxUnavailable"].error(
            "maxUnavailable and maxSurge may not both be 0: the rollout could never progress", fix="set one of them above 0"
        )
    return RollingUpdate("RollingUpdate", surge, unavailable)
