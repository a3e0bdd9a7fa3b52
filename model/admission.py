"""Pod creation as the API server admits it: a pod from a template, with admission defaults.

The one admission plug-in the model applies is DefaultTolerationSeconds
(kubernetes/kubernetes:plugin/pkg/admission/defaulttolerationseconds/admission.go): a pod gets
``node.kubernetes.io/not-ready:NoExecute`` and ``node.kubernetes.io/unreachable:NoExecute``
tolerations with ``tolerationSeconds: 300`` unless it has a toleration naming that key (or no key)
with effect NoExecute (or no effect), whatever its operator and value: an ``Equal`` toleration for
another value keeps the default from being added though it tolerates nothing.
DaemonSet pods get the DaemonSet controller's tolerations instead (kubernetes/kubernetes:pkg/controller/
daemon/util/daemonset_util.go ``AddOrUpdateDaemonPodTolerations``): ``not-ready`` and ``unreachable``
NoExecute without a time limit, and ``disk-pressure``, ``memory-pressure``, ``pid-pressure`` and
``unschedulable`` NoSchedule, each with operator Exists. Each replaces a template toleration with the
same key, operator, value and effect (``AddOrUpdateTolerationInPodSpec``: a template's ``not-ready``
Exists NoExecute toleration with ``tolerationSeconds: 60`` becomes one without a limit) and is added
otherwise; DefaultTolerationSeconds then finds the NoExecute keys named and adds nothing. (The
``network-unavailable`` toleration upstream adds for ``hostNetwork`` pods is not: the model does not
read ``hostNetwork``.)
"""

from __future__ import annotations

from dataclasses import replace

from podquake.model import constants as k8s
from podquake.model.objects import OwnerRef, Pod, PodSpec, PodTemplate
from podquake.model.selectors import Toleration

__all__ = ["admit_spec", "pod_from_template"]

_admitted: dict[tuple[int, bool], tuple[PodSpec, PodSpec]] = {}


def admit_spec(spec: PodSpec, *, daemon: bool = False) -> PodSpec:
    """``spec`` with the default NoExecute tolerations added (cached: templates share one result)."""
    cache_key = (id(spec), daemon)
    hit = _admitted.get(cache_key)
    if hit is not None and hit[0] is spec:
        return hit[1]
    tolerations = _daemon_tolerations(spec.tolerations) if daemon else spec.tolerations
    added = []
    for key in (k8s.TAINT_NOT_READY, k8s.TAINT_UNREACHABLE):
        # by key and effect alone, whatever the operator and value (upstream's Admit)
        if not any((not t.key or t.key == key) and t.effect in (None, "", "NoExecute") for t in tolerations):
            added.append(Toleration(key=key, operator="Exists", effect="NoExecute", toleration_seconds=k8s.DEFAULT_TOLERATION_SECONDS))
    tolerations += tuple(added)
    admitted = replace(spec, tolerations=tolerations) if tolerations != spec.tolerations else spec
    _admitted[cache_key] = (spec, admitted)
    return admitted


#: What ``AddOrUpdateDaemonPodTolerations`` adds, in its order (daemonset_util.go).
_DAEMON_TOLERATIONS = (
    Toleration(key=k8s.TAINT_NOT_READY, operator="Exists", effect="NoExecute"),
    Toleration(key=k8s.TAINT_UNREACHABLE, operator="Exists", effect="NoExecute"),
    Toleration(key=k8s.TAINT_DISK_PRESSURE, operator="Exists", effect="NoSchedule"),
    Toleration(key=k8s.TAINT_MEMORY_PRESSURE, operator="Exists", effect="NoSchedule"),
    Toleration(key=k8s.TAINT_PID_PRESSURE, operator="Exists", effect="NoSchedule"),
    Toleration(key=k8s.TAINT_UNSCHEDULABLE, operator="Exists", effect="NoSchedule"),
)


def _daemon_tolerations(tolerations: tuple[Toleration, ...]) -> tuple[Toleration, ...]:
    """``tolerations`` after ``AddOrUpdateTolerationInPodSpec`` of each DaemonSet toleration: one
    matching it by key, operator, value and effect (``Toleration.MatchToleration``) is replaced in
    place, whatever its ``tolerationSeconds``; without a match it is appended.

    >>> from podquake.model.selectors import Toleration
    >>> timed = Toleration(key=k8s.TAINT_NOT_READY, operator="Exists", effect="NoExecute", toleration_seconds=60)
    >>> [(t.key, t.toleration_seconds) for t in _daemon_tolerations((timed,))][:2]
    [('node.kubernetes.io/not-ready', None), ('node.kubernetes.io/unreachable', None)]
    """
    result = list(tolerations)
    for wanted in _DAEMON_TOLERATIONS:
        matched = False
        for i, t in enumerate(result):
            if (t.key or "") == wanted.key and t.operator == wanted.operator and t.value == wanted.value and t.effect == wanted.effect:
                result[i] = wanted
                matched = True
        if not matched:
            result.append(wanted)
    return tuple(result)


def pod_from_template(
    template: PodTemplate,
    *,
    uid: str,
    name: str,
    namespace: str,
    owner: OwnerRef | None,
    extra_labels: dict[str, str] | None = None,
    spec: PodSpec | None = None,
    daemon: bool = False,
) -> Pod:
    """A new, unbound, Pending pod made from ``template`` (``spec`` overrides the template's spec)."""
    labels = template.label_dict()
    if extra_labels:
        labels.update(extra_labels)
    return Pod(
        uid=uid,
        name=name,
        namespace=namespace,
        labels=labels,
        spec=admit_spec(spec if spec is not None else template.spec, daemon=daemon),
        created_at=0.0,
        owner=owner,
        annotations=dict(template.annotations),
    )
