"""The scheduling-relevant part of a pod spec as canonical JSON, and back.

The trace records each distinct pod spec once (:class:`~podquake.model.trace.PodSpecDefined`), so
properties can judge placements from a recorded trace alone: tolerations, node selector, required
node affinity, topology spread constraints, restart policy, each container's requests, and
``nodeName`` when the spec names a node, and the required inter-pod affinity and anti-affinity terms
(``podAffinity``) when it has any (specs without keep the JSON they had before).

>>> from podquake.model.objects import ContainerSpec, PodSpec
>>> from podquake.model.selectors import Toleration
>>> spec = PodSpec(containers=(ContainerSpec("app"),), tolerations=(Toleration("gpu", "Exists"),))
>>> recorded = decode_spec(encode_spec(spec))
>>> recorded.tolerations
(Toleration(key='gpu', operator='Exists', value='', effect=None, toleration_seconds=None),)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from podquake.model.memo import IdentityMemo
from podquake.model.objects import PodAffinity, PodAffinityTerm, PodSpec, TopologySpreadConstraint
from podquake.model.selectors import LabelSelector, NodeAffinity, NodeSelectorTerm, Requirement, Toleration

__all__ = ["RecordedSpec", "encode_spec", "decode_spec"]


@dataclass(frozen=True, slots=True)
class RecordedSpec:
    """A pod spec as the trace recorded it: what a property needs to judge where the pod may go."""

    tolerations: tuple[Toleration, ...]
    node_selector: tuple[tuple[str, str], ...]
    node_affinity: NodeAffinity | None
    topology_spread_constraints: tuple[TopologySpreadConstraint, ...]
    restart_policy: str
    containers: tuple[tuple[str, int, int], ...]  # (name, cpu millis, memory bytes) requested
    node_name: str | None = None  # spec.nodeName: the only node the pod may go to
    pod_affinity: PodAffinity | None = None  # the required inter-pod terms only (None: none)

    def node_selector_matches(self, node_name: str, labels: dict[str, str]) -> bool:
        """``nodeSelector`` AND required node affinity, as the NodeAffinity filter plugin checks."""
        for key, value in self.node_selector:
            if labels.get(key) != value:
                return False
        return self.node_affinity is None or self.node_affinity.required_matches(node_name, labels)


def _requirements(requirements: tuple[Requirement, ...]) -> list[dict[str, Any]]:
    return [{"key": r.key, "operator": r.operator, "values": list(r.values)} for r in requirements]


def _selector(selector: LabelSelector | None) -> dict[str, Any] | None:
    return None if selector is None else selector.as_dict()


def encode_spec(spec: PodSpec) -> str:
    """The canonical JSON of ``spec``'s scheduling-relevant fields (keys sorted, no spaces); once per
    spec object in a process (a campaign's examples share their parsed manifests)."""
    return _encoded(spec)


def _encode(spec: PodSpec) -> str:
    body: dict[str, Any] = {
        "tolerations": [
            {
                "key": t.key,
                "operator": t.operator,
                "value": t.value,
                "effect": t.effect,
                "tolerationSeconds": t.toleration_seconds,
            }
            for t in spec.tolerations
        ],
        "nodeSelector": dict(spec.node_selector),
        "requiredNodeAffinity": None,
        "topologySpreadConstraints": [
            {
                "maxSkew": c.max_skew,
                "topologyKey": c.topology_key,
                "whenUnsatisfiable": c.when_unsatisfiable,
                "labelSelector": _selector(c.label_selector),
                "minDomains": c.min_domains,
                "nodeAffinityPolicy": c.node_affinity_policy,
                "nodeTaintsPolicy": c.node_taints_policy,
                "matchLabelKeys": list(c.match_label_keys),
            }
            for c in spec.topology_spread_constraints
        ],
        "restartPolicy": spec.restart_policy,
        "containers": [[c.name, c.requests.cpu_millis, c.requests.memory_bytes] for c in spec.containers],
    }
    if spec.node_name is not None:  # only when set: the specs that name no node keep their JSON
        body["nodeName"] = spec.node_name
    terms = spec.pod_affinity
    if terms is not None and (terms.required_affinity or terms.required_anti_affinity):
        body["podAffinity"] = {
            "required": [_encode_term(t) for t in terms.required_affinity],
            "requiredAnti": [_encode_term(t) for t in terms.required_anti_affinity],
        }
    if spec.node_affinity is not None and spec.node_affinity.required is not None:
        body["requiredNodeAffinity"] = [
            {"matchExpressions": _requirements(term.match_expressions), "matchFields": _requirements(term.match_fields)}
            for term in spec.node_affinity.required
        ]
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def _encode_term(term: PodAffinityTerm) -> dict[str, Any]:
    return {
        "topologyKey": term.topology_key,
        "labelSelector": _selector(term.label_selector),
        "namespaces": list(term.namespaces),
        "namespaceSelector": _selector(term.namespace_selector),
        "matchLabelKeys": list(term.match_label_keys),
        "mismatchLabelKeys": list(term.mismatch_label_keys),
    }


def _decode_term(data: dict[str, Any]) -> PodAffinityTerm:
    return PodAffinityTerm(
        topology_key=data["topologyKey"],
        label_selector=_decode_selector(data["labelSelector"]),
        namespaces=tuple(data["namespaces"]),
        namespace_selector=_decode_selector(data["namespaceSelector"]),
        match_label_keys=tuple(data["matchLabelKeys"]),
        mismatch_label_keys=tuple(data["mismatchLabelKeys"]),
    )


def _decode_requirements(items: list[dict[str, Any]]) -> tuple[Requirement, ...]:
    return tuple(Requirement(i["key"], i["operator"], tuple(i.get("values") or ())) for i in items)


def _decode_selector(data: dict[str, Any] | None) -> LabelSelector | None:
    if data is None:
        return None
    return LabelSelector(
        match_labels=tuple(sorted(data.get("matchLabels", {}).items())),
        match_expressions=_decode_requirements(data.get("matchExpressions", [])),
    )


def decode_spec(body: str) -> RecordedSpec:
    """Rebuild a :class:`RecordedSpec` from :func:`encode_spec`'s JSON; once per distinct body in a
    process (the value is frozen, so every ledger can share it)."""
    spec = _decoded.get(body)
    if spec is None:
        if len(_decoded) >= _DECODED_LIMIT:
            _decoded.clear()
        spec = _decoded[body] = _decode(body)
    return spec


def _decode(body: str) -> RecordedSpec:
    data = json.loads(body)
    affinity = None
    if data.get("requiredNodeAffinity") is not None:
        terms = tuple(
            NodeSelectorTerm(_decode_requirements(t["matchExpressions"]), _decode_requirements(t["matchFields"]))
            for t in data["requiredNodeAffinity"]
        )
        affinity = NodeAffinity(required=terms)
    return RecordedSpec(
        tolerations=tuple(
            Toleration(t["key"], t["operator"], t["value"], t["effect"], t["tolerationSeconds"]) for t in data["tolerations"]
        ),
        node_selector=tuple(sorted(data["nodeSelector"].items())),
        node_affinity=affinity,
        topology_spread_constraints=tuple(
            TopologySpreadConstraint(
                max_skew=c["maxSkew"],
                topology_key=c["topologyKey"],
                when_unsatisfiable=c["whenUnsatisfiable"],
                label_selector=_decode_selector(c["labelSelector"]),
                min_domains=c["minDomains"],
                node_affinity_policy=c["nodeAffinityPolicy"],
                node_taints_policy=c["nodeTaintsPolicy"],
                match_label_keys=tuple(c["matchLabelKeys"]),
            )
            for c in data["topologySpreadConstraints"]
        ),
        restart_policy=data["restartPolicy"],
        containers=tuple((name, cpu, memory) for name, cpu, memory in data["containers"]),
        node_name=data.get("nodeName"),
        pod_affinity=_decode_pod_affinity(data.get("podAffinity")),
    )


def _decode_pod_affinity(data: dict[str, Any] | None) -> PodAffinity | None:
    if data is None:
        return None
    return PodAffinity(
        required_affinity=tuple(_decode_term(t) for t in data["required"]),
        required_anti_affinity=tuple(_decode_term(t) for t in data["requiredAnti"]),
    )


_encoded: IdentityMemo[PodSpec, str] = IdentityMemo(_encode)
_DECODED_LIMIT = 4096
_decoded: dict[str, RecordedSpec] = {}
