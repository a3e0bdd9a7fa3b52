"""Admission defaults: DefaultTolerationSeconds adds the 300 s not-ready/unreachable tolerations as
upstream's plug-in decides (by toleration key and effect alone)."""

import pytest

from podquake.model import constants as k8s
from podquake.model.admission import admit_spec
from podquake.model.objects import ContainerSpec, PodSpec
from podquake.model.selectors import Toleration


def added_keys(*tolerations: Toleration, daemon: bool = False) -> list[str]:
    spec = PodSpec(containers=(ContainerSpec("app"),), tolerations=tolerations)
    return [t.key for t in admit_spec(spec, daemon=daemon).tolerations[len(tolerations) :] if t.effect == "NoExecute"]


@pytest.mark.parametrize(
    ("toleration", "added"),
    [
        # names the key with NoExecute: no default for it, though Equal "x" tolerates no real taint
        (Toleration(key=k8s.TAINT_UNREACHABLE, value="x", effect="NoExecute", toleration_seconds=30), [k8s.TAINT_NOT_READY]),
        (Toleration(key=k8s.TAINT_NOT_READY, value="x"), [k8s.TAINT_UNREACHABLE]),  # no effect: every effect
        (Toleration(effect="NoExecute"), []),  # no key, operator Equal: still counts for both keys
        (Toleration(key=k8s.TAINT_UNREACHABLE, operator="Exists", effect="NoSchedule"), [k8s.TAINT_NOT_READY, k8s.TAINT_UNREACHABLE]),
        (Toleration(key="other", operator="Exists", effect="NoExecute"), [k8s.TAINT_NOT_READY, k8s.TAINT_UNREACHABLE]),
    ],
)
def test_default_toleration_seconds_skips_a_key_some_toleration_names_whatever_its_operator_and_value(toleration, added):
    """The defaults were skipped only for a toleration that tolerates the taint, not for one naming its key and effect (plugin/pkg/admission/defaulttolerationseconds)."""
    assert added_keys(toleration) == added


def test_defaults_are_300_s_and_forever_for_daemonset_pods():
    spec = PodSpec(containers=(ContainerSpec("app"),))
    assert {t.toleration_seconds for t in admit_spec(spec).tolerations} == {k8s.DEFAULT_TOLERATION_SECONDS}
    assert {t.toleration_seconds for t in admit_spec(spec, daemon=True).tolerations} == {None}
