"""Label selectors, node selector terms, taints and tolerations: the matching rules of Kubernetes.

These are pure values with one job each: say whether something matches. Semantics follow
k8s.io/apimachinery ``pkg/labels/selector.go`` (label selectors),
kubernetes/kubernetes ``staging/src/k8s.io/component-helpers/scheduling/corev1/nodeaffinity``
(node selector terms) and ``pkg/apis/core/v1/helper`` (tolerations).

>>> LabelSelector.of({"app": "web"}).matches({"app": "web", "tier": "front"})
True
>>> Toleration(key="node.kubernetes.io/unreachable", operator="Exists",
...            effect="NoExecute").tolerates(Taint("node.kubernetes.io/unreachable", "", "NoExecute"))
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "LabelSelector",
    "NodeAffinity",
    "NodeSelectorTerm",
    "Requirement",
    "Taint",
    "Toleration",
    "TAINT_EFFECTS",
]

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_LABEL_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
_NODE_OPERATORS = _LABEL_OPERATORS + ("Gt", "Lt")


@dataclass(frozen=True, slots=True)
class Requirement:
    """One ``matchExpressions`` entry: ``key operator values``."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.operator not in _NODE_OPERATORS:
            raise ValueError(
                f"unknown operator {self.operator!r} for key {self.key!r}: use one of {', '.join(_NODE_OPERATORS)}"
            )
        if self.operator in ("In", "NotIn") and not self.values:
            raise ValueError(f"operator {self.operator} on key {self.key!r} needs at least one value")
        if self.operator in ("Exists", "DoesNotExist") and self.values:
            raise ValueError(f"operator {self.operator} on key {self.key!r} takes no values")
        if self.operator in ("Gt", "Lt"):
            if len(self.values) != 1 or not _is_int(self.values[0]):
                raise ValueError(f"operator {self.operator} on key {self.key!r} needs exactly one integer value")

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op == "In":
            return labels.get(self.key) in self.values
        if op == "NotIn":
            return labels.get(self.key) not in self.values
        if op == "Exists":
            return self.key in labels
        if op == "DoesNotExist":
            return self.key not in labels
        value = labels.get(self.key)
        if value is None or not _is_int(value):
            return False
        bound = int(self.values[0])
        return int(value) > bound if op == "Gt" else int(value) < bound


def _is_int(text: str) -> bool:
    try:
        int(text)
    except (TypeError, ValueError):
        return False
    return True


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """``matchLabels`` AND ``matchExpressions``. The empty selector matches every label set."""

    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[Requirement, ...] = ()

    @classmethod
    def of(cls, labels: Mapping[str, str]) -> LabelSelector:
        """A selector that matches exactly these labels (and any others besides)."""
        return cls(match_labels=tuple(sorted(labels.items())))

    def matches(self, labels: Mapping[str, str]) -> bool:
        for key, value in self.match_labels:
            if labels.get(key) != value:
                return False
        for requirement in self.match_expressions:
            if not requirement.matches(labels):
                return False
        return True

    def is_empty(self) -> bool:
        return not self.match_labels and not self.match_expressions

    def as_dict(self) -> dict[str, object]:
        result: dict[str, object] = {}
        if self.match_labels:
            result["matchLabels"] = dict(self.match_labels)
        if self.match_expressions:
            result["matchExpressions"] = [
                {"key": r.key, "operator": r.operator, "values": list(r.values)} for r in self.match_expressions
            ]
        return result


@dataclass(frozen=True, slots=True)
class NodeSelectorTerm:
    """A term of required node affinity: label expressions AND field expressions (``metadata.name``)."""

    match_expressions: tuple[Requirement, ...] = ()
    match_fields: tuple[Requirement, ...] = ()

    def matches(self, node_name: str, labels: Mapping[str, str]) -> bool:
        if not self.match_expressions and not self.match_fields:
            return False  # an empty term matches no objects (upstream nodeaffinity.go)
        for requirement in self.match_expressions:
            if not requirement.matches(labels):
                return False
        if self.match_fields:
            fields = {"metadata.name": node_name}
            for requirement in self.match_fields:
                if not requirement.matches(fields):
                    return False
        return True

    def label_keys(self) -> frozenset[str]:
        return frozenset(r.key for r in self.match_expressions)


@dataclass(frozen=True, slots=True)
class NodeAffinity:
    """Required terms (ORed; ``None`` means no requirement) and weighted preferred terms."""

    required: tuple[NodeSelectorTerm, ...] | None = None
    preferred: tuple[tuple[int, NodeSelectorTerm], ...] = ()

    def required_matches(self, node_name: str, labels: Mapping[str, str]) -> bool:
        if self.required is None:
            return True
        return any(term.matches(node_name, labels) for term in self.required)

    def preferred_score(self, node_name: str, labels: Mapping[str, str]) -> int:
        return sum(weight for weight, term in self.preferred if term.matches(node_name, labels))

    def uses_node_identity(self) -> bool:
        """True when a term names nodes individually (by field or hostname label)."""
        terms = list(self.required or ()) + [term for _, term in self.preferred]
        return any(term.match_fields or "kubernetes.io/hostname" in term.label_keys() for term in terms)


@dataclass(frozen=True, slots=True)
class Taint:
    """A node taint. ``added_at`` (simulated seconds) is when it was put on; it does not affect equality."""

    key: str
    value: str = ""
    effect: str = "NoSchedule"
    added_at: float | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.effect not in TAINT_EFFECTS:
            raise ValueError(f"unknown taint effect {self.effect!r} on key {self.key!r}: use one of {', '.join(TAINT_EFFECTS)}")


@dataclass(frozen=True, slots=True)
class Toleration:
    """A pod toleration. ``key=None`` with ``Exists`` tolerates everything; ``effect=None`` every effect.

    ``toleration_seconds`` bounds how long a ``NoExecute`` taint is tolerated (``None``: forever).
    """

    key: str | None = None
    operator: str = "Equal"
    value: str = ""
    effect: str | None = None
    toleration_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.operator not in ("Equal", "Exists"):
            raise ValueError(f"unknown toleration operator {self.operator!r}: use Equal or Exists")
        if self.effect is not None and self.effect not in TAINT_EFFECTS:
            raise ValueError(f"unknown toleration effect {self.effect!r}: use one of {', '.join(TAINT_EFFECTS)}")

    def tolerates(self, taint: Taint) -> bool:
        if self.effect is not None and self.effect != taint.effect:
            return False
        if self.key is None:
            return self.operator == "Exists"
        if self.key != taint.key:
            return False
        if self.operator == "Exists":
            return True
        return self.value == taint.value


def tolerates_all(tolerations: tuple[Toleration, ...], taints: tuple[Taint, ...], effects: tuple[str, ...]) -> bool:
    """True when every taint with one of ``effects`` is tolerated."""
    for taint in taints:
        if taint.effect in effects and not any(t.tolerates(taint) for t in tolerations):
            return False
    return True
