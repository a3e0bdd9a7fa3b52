"""Pod creation as the API server admits it: a pod from a template, with admission defaults.

The one admission plug-in the model applies is DefaultTolerationSeconds
(kubernetes/kubernetes:plugin/pkg/admission/defaulttolerationseconds/admission.go): a pod gets
``node.kubernetes.io/not-ready:NoExecute`` and ``node.kubernetes.io/unreachable:NoExecute``
tolerations with ``tolerationSeconds: 300`` unless it has a toleration naming that key (or no key)
with effect NoExecute (or no effect), whatever its operator and value: an ``Equal`` toleration for
another value keeps the default from being added though it tolerates nothing.
DaemonSet pods get them without a time limit, as the DaemonSet controller adds them, unless some
toleration already tolerates the taint.
"""

from __future__ import annotations

from dataclasses import replace

from podquake.model import constants as k8s
from podquake.model.objects import OwnerRef, Pod, PodSpec, PodTemplate
from podquake.model.selectors import Taint, Toleration

__all__ = ["admit_spec", "pod_from_template"]

_admitted: dict[tuple[int, bool], tuple[PodSpec, PodSpec]] = {}


def admit_spec(spec: PodSpec, *, daemon: bool = False) -> PodSpec:
    """``spec`` with the default NoExecute tolerations added (cached: templates share one result)."""
    cache_key = (id(spec), daemon)
    hit = _admitted.get(cache_key)
    if hit is not None and hit[0] is spec:
        return hit[1]
    seconds = None if daemon else k8s.DEFAULT_TOLERATION_SECONDS
    added = []
    for key in (k8s.TAINT_NOT_READY, k8s.TAINT_UNREACHABLE):
        taint = Taint(key, "", "NoExecute")
        if daemon:
            named = any(t.tolerates(taint) for t in spec.tolerations)
        else:  # by key and effect alone, whatever the operator and value (upstream's Admit)
            named = any((not t.key or t.key == key) and t.effect in (None, "", "NoExecute") for t in spec.tolerations)
        if not named:
            added.append(Toleration(key=key, operator="Exists", effect="NoExecute", toleration_seconds=seconds))
    if daemon:
        taint = Taint(k8s.TAINT_UNSCHEDULABLE, "", "NoSchedule")
        if not any(t.tolerates(taint) for t in spec.tolerations):
            added.append(Toleration(key=k8s.TAINT_UNSCHEDULABLE, operator="Exists", effect="NoSchedule"))
    admitted = replace(spec, tolerations=spec.tolerations + tuple(added)) if added else spec
    _admitted[cache_key] = (spec, admitted)
    return admitted


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
