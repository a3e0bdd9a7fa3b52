"""``spread-within-skew``: every binding honours the pod's hard topology spread constraints.

A pod's ``topologySpreadConstraints`` with ``whenUnsatisfiable: DoNotSchedule`` are a hard rule:
kube-scheduler's PodTopologySpread filter rejects a node when placing the pod there would put the
node's domain more than ``maxSkew`` pods above the least-populated domain, and the pod waits rather
than break it. This property re-checks every :class:`~podquake.model.trace.PodBound` against the
rule, from the trace alone, with the filter's exact semantics
(kubernetes/kubernetes:pkg/scheduler/framework/plugins/podtopologyspread/filtering.go and
common.go, as the model's ``scheduling/framework.py`` and ``spreading.py`` implement them):

- **Eligible nodes** carry *every* constraint's topology key (``nodeLabelsMatchSpreadConstraints``)
  and pass the inclusion policies: ``nodeAffinityPolicy: Honor`` (the default) requires the pod's
  ``nodeSelector`` and required node affinity to match, ``nodeTaintsPolicy: Honor`` (default
  Ignore) requires its NoSchedule/NoExecute taints tolerated. Every node counts, Ready or not,
  cordoned or not, as upstream's snapshot holds them all. A domain is a topology value held by an
  eligible node; values of no eligible node are no domain at all.
- **Counted pods**: bound to an eligible node, in the pod's namespace, matched by the constraint's
  ``labelSelector`` merged with ``matchLabelKeys``, and not terminating (no deletionTimestamp).
  The pod being bound is left out (the filter ran before it was placed). A constraint without
  ``labelSelector`` matches nothing; an empty one counts no pods but matches the pod itself
  (upstream ``countPodsMatchSelector`` returns 0 for an empty selector).
- **The rule**: with ``minMatch`` the smallest domain count (0 while there are fewer domains than
  ``minDomains``), the chosen node's domain must satisfy ``count + selfMatch - minMatch <=
  maxSkew``, ``selfMatch`` 1 when the selector matches the pod's own labels. A node lacking a
  topology key is rejected outright (``UnschedulableAndUnresolvable``).

A binding that breaks the rule is a breach. The evidence names the domains' counts and the nodes
that would have complied (Ready, schedulable, tolerated, matching, with room, and within skew); the
breach stands even when none would have: under DoNotSchedule the pod should have stayed Pending.
``ScheduleAnyway`` constraints are preferences (a score), never judged.

>>> from podquake.model import trace as ev
>>> from podquake.properties.monitor import check_trace
>>> spread = ('{"containers":[],"nodeSelector":{},"requiredNodeAffinity":null,"restartPolicy":"Always",'
...           '"tolerations":[],"topologySpreadConstraints":[{"labelSelector":{"matchLabels":{"app":"web"}},'
...           '"matchLabelKeys":[],"maxSkew":1,"minDomains":null,"nodeAffinityPolicy":null,'
...           '"nodeTaintsPolicy":null,"topologyKey":"kubernetes.io/hostname","whenUnsatisfiable":"DoNotSchedule"}]}')
>>> nodes = [ev.NodeAdded(0.0, n, "zone-a", 4000, 8 << 30, 110, (("kubernetes.io/hostname", n),)) for n in ("w1", "w2")]
>>> pods = [ev.PodCreated(1.0, f"default/web-{i}", "", 100, 1 << 20, "spec-1", (("app", "web"),)) for i in range(2)]
>>> events = nodes + [ev.PodSpecDefined(1.0, "spec-1", spread)] + pods + [
...     ev.PodBound(2.0, "default/web-0", "w1"), ev.PodBound(3.0, "default/web-1", "w1")]
>>> print(check_trace(events, [SpreadWithinSkew()])[0].line())
FAILED spread-within-skew at t=3s: pod default/web-1 bound to w1: its kubernetes.io/hostname domain w1 then holds 2 matching pods against 0 in the least-populated eligible domain (w2): skew 2 > maxSkew 1 (whenUnsatisfiable: DoNotSchedule); nodes that would have complied: w2 [pod/default/web-1, node/w1] skew=2 max_skew=1 domain_count=1 min_count=0 domains=2 compliant_nodes=1
"""

from __future__ import annotations

from dataclasses import dataclass

from podquake.model import trace as ev
from podquake.model.objects import TopologySpreadConstraint
from podquake.model.selectors import LabelSelector, Requirement
from podquake.model.specrecord import RecordedSpec
from podquake.properties.base import Property
from podquake.properties.capacity import admits, slots
from podquake.properties.ledger import Ledger, LedgerNode, LedgerPod
from podquake.properties.registry import register

__all__ = ["SpreadWithinSkew", "spread_check"]

_FILTER_EFFECTS = ("NoSchedule", "NoExecute")
_MAX_SELECTORS = 4096  # distinct (namespace, selector) counts kept; past it they are rebuilt on demand


@dataclass(frozen=True, slots=True)
class _Skew:
    """One constraint's outcome for a node: its domain's count, the minimum, and the skew."""

    constraint: TopologySpreadConstraint
    value: str | None  # the node's topology value (None: the node lacks the key)
    count: int
    minimum: int
    self_match: int
    counts: dict[str, int]

    @property
    def skew(self) -> int:
        return self.count + self.self_match - self.minimum

    @property
    def ok(self) -> bool:
        return self.value is not None and self.skew <= self.constraint.max_skew


def spread_check(ledger: Ledger, pod: LedgerPod, spec: RecordedSpec, node: LedgerNode) -> list[_Skew]:
    """PodTopologySpread's filter for ``pod`` on ``node``, one result per DoNotSchedule constraint,
    counting the ledger's bound pods but ``pod`` itself (see the module docstring)."""
    hard = [c for c in spec.topology_spread_constraints if c.when_unsatisfiable == "DoNotSchedule"]
    keys = [c.topology_key for c in hard]
    namespace = pod.key.partition("/")[0]
    results = []
    for c in hard:
        selector = _merged(c.label_selector, c.match_label_keys, pod.labels)
        counts: dict[str, int] = {}
        for other_node in ledger.nodes.values():
            labels = other_node.labels
            if not all(key in labels for key in keys) or not _included(spec, c, other_node):
                continue
            value = labels[c.topology_key]
            counts[value] = counts.get(value, 0) + _matching(ledger, other_node, selector, namespace, pod.key)
        min_domains = c.min_domains if c.min_domains is not None else 1
        minimum = min(counts.values()) if counts and len(counts) >= min_domains else 0
        self_match = 1 if selector is not None and selector.matches(pod.labels) else 0
        value = node.labels.get(c.topology_key)
        count = counts.get(value, 0) if value is not None else 0
        results.append(_Skew(c, value, count, minimum, self_match, counts))
    return results


def _merged(selector: LabelSelector | None, keys: tuple[str, ...], labels: dict[str, str]) -> LabelSelector | None:
    """The selector with ``matchLabelKeys`` merged in (upstream mergeLabelSetWithSelector): ``key In
    (the pod's value)`` for each key the pod carries."""
    extra = tuple(Requirement(key, "In", (labels[key],)) for key in keys if key in labels)
    if not extra:
        return selector
    base = selector or LabelSelector()
    return LabelSelector(base.match_labels, base.match_expressions + extra)


def _included(spec: RecordedSpec, c: TopologySpreadConstraint, node: LedgerNode) -> bool:
    """matchNodeInclusionPolicies: nodeAffinityPolicy (default Honor), nodeTaintsPolicy (default Ignore)."""
    if c.node_affinity_policy != "Ignore" and not spec.node_selector_matches(node.name, node.labels):
        return False
    if c.node_taints_policy == "Honor":
        for taint in node.taints:
            if taint.effect in _FILTER_EFFECTS and not any(t.tolerates(taint) for t in spec.tolerations):
                return False
    return True


def _matching(ledger: Ledger, node: LedgerNode, selector: LabelSelector | None, namespace: str, skip: str) -> int:
    """Bound, non-terminating pods of ``namespace`` on ``node`` that ``selector`` matches (an empty
    or missing selector counts none), ``skip`` aside."""
    if selector is None or selector.is_empty():
        return 0
    count = 0
    for key in node.pods:
        if key == skip or key.partition("/")[0] != namespace:
            continue
        other = ledger.pods.get(key)
        if other is not None and not other.terminating and selector.matches(other.labels):
            count += 1
    return count


@register
class SpreadWithinSkew(Property):
    """Placements honour each pod's DoNotSchedule topologySpreadConstraints at binding time.

    On every binding of a pod with hard spread constraints, the chosen node must pass the
    PodTopologySpread filter as upstream computes it (see the module docstring): its domain's
    matching pods plus the pod, minus the least-populated eligible domain's (0 below ``minDomains``
    domains), at most ``maxSkew``. No parameters: the constraints carry their own bounds. A pod bound
    by its own ``spec.nodeName`` is counted but not judged: no scheduler placed it, and the kubelet
    does not check spread (``Ledger.named_binding``).

    Incremental: matching pods are counted per node for each (namespace, selector) a constraint
    uses, updated on every binding and deletion, and each spec's eligible nodes are kept until a
    node joins, leaves or changes taints; a binding costs one pass over the eligible nodes per
    constraint. :func:`spread_check` is the same rule by a plain scan of the ledger (for evidence).
    """

    id = "spread-within-skew"
    kind = "safety"
    description = "Placements honour each pod's topologySpreadConstraints (whenUnsatisfiable: DoNotSchedule) at binding time."
    catches = (
        "A scheduler or plug-in that ignores hard topology spread: replicas piled into one zone or node, so that "
        "one zone outage or node failure takes out the whole workload the constraint was meant to protect."
    )

    def __init__(self, **overrides: object) -> None:
        super().__init__(**overrides)
        self._bound: dict[str, tuple[str, str, dict[str, str]]] = {}  # counted pod -> (namespace, node, labels)
        self._counts: dict[tuple[str, LabelSelector], dict[str, int]] = {}  # (namespace, selector) -> node -> pods
        self._eligible: dict[tuple[str, int], list[tuple[str, str]]] = {}  # (spec, constraint) -> [(node, value)]

    # --- following the cluster ----------------------------------------------------------------------
    def _nodes_changed(self, event: ev.Event, ledger: Ledger) -> None:
        self._eligible.clear()

    on_NodeAdded = on_NodeRemoved = on_NodeTainted = on_NodeUntainted = _nodes_changed

    def _uncount(self, event: ev.PodDeletionRequested | ev.PodDeleted, ledger: Ledger) -> None:
        entry = self._bound.pop(event.pod, None)
        if entry is not None:
            self._add(entry, -1)

    on_PodDeletionRequested = on_PodDeleted = _uncount

    def _add(self, entry: tuple[str, str, dict[str, str]], delta: int) -> None:
        namespace, node, labels = entry
        for (space, selector), per_node in self._counts.items():
            if space == namespace and selector.matches(labels):
                per_node[node] = per_node.get(node, 0) + delta

    def _per_node(self, namespace: str, selector: LabelSelector) -> dict[str, int]:
        """Counted pods per node for ``selector`` in ``namespace`` (built on first use, then kept)."""
        key = (namespace, selector)
        per_node = self._counts.get(key)
        if per_node is None:
            if len(self._counts) >= _MAX_SELECTORS:
                self._counts.clear()
            per_node = self._counts[key] = {}
            for space, node, labels in self._bound.values():
                if space == namespace and selector.matches(labels):
                    per_node[node] = per_node.get(node, 0) + 1
        return per_node

    def _domains(self, ledger: Ledger, pod: LedgerPod, spec: RecordedSpec, index: int, keys: list[str]) -> list[tuple[str, str]]:
        """The eligible nodes of constraint ``index`` of ``pod``'s spec, with their topology values."""
        key = (pod.spec_id, index)
        nodes = self._eligible.get(key)
        if nodes is None:
            c = spec.topology_spread_constraints[index]
            nodes = [
                (n.name, n.labels[c.topology_key])
                for n in ledger.nodes.values()
                if all(k in n.labels for k in keys) and _included(spec, c, n)
            ]
            self._eligible[key] = nodes
        return nodes

    # --- the check ---------------------------------------------------------------------------------------
    def on_PodBound(self, event: ev.PodBound, ledger: Ledger) -> None:
        pod = ledger.pods.get(event.pod)
        node = ledger.nodes.get(event.node)
        if pod is None:
            return
        if node is not None and not ledger.named_binding(pod, event.node):  # a nodeName pod met no scheduler
            self._check(event, ledger, pod, node)
        if not pod.terminating and event.pod not in self._bound:
            entry = (pod.key.partition("/")[0], event.node, pod.labels)
            self._bound[event.pod] = entry
            self._add(entry, 1)

    def _check(self, event: ev.PodBound, ledger: Ledger, pod: LedgerPod, node: LedgerNode) -> None:
        spec = ledger.spec(pod)
        constraints = spec.topology_spread_constraints
        hard = [i for i, c in enumerate(constraints) if c.when_unsatisfiable == "DoNotSchedule"]
        if not hard:
            return
        keys = [constraints[i].topology_key for i in hard]
        namespace = pod.key.partition("/")[0]
        for i in hard:
            c = constraints[i]
            value = node.labels.get(c.topology_key)
            selector = _merged(c.label_selector, c.match_label_keys, pod.labels)
            counted = selector is not None and not selector.is_empty()
            per_node = self._per_node(namespace, selector) if counted else {}  # type: ignore[arg-type]
            counts: dict[str, int] = {}
            for name, domain in self._domains(ledger, pod, spec, i, keys):
                counts[domain] = counts.get(domain, 0) + per_node.get(name, 0)
            min_domains = c.min_domains if c.min_domains is not None else 1
            minimum = min(counts.values()) if counts and len(counts) >= min_domains else 0
            self_match = 1 if selector is not None and selector.matches(pod.labels) else 0
            count = counts.get(value, 0) if value is not None else 0
            if value is None or count + self_match - minimum > c.max_skew:
                self._breach(event, ledger, pod, spec, node, _Skew(c, value, count, minimum, self_match, counts))
                return

    def _breach(self, event: ev.PodBound, ledger: Ledger, pod: LedgerPod, spec: RecordedSpec, node: LedgerNode, bad: _Skew) -> None:
        if self.first is not None:  # only the first breach is evidence; the rest are counted
            self.violate(f"pod {pod.key} bound to {node.name} beyond maxSkew", event.t)
            return
        c = bad.constraint
        compliant = [
            other.name
            for other in ledger.nodes.values()
            if other.name != node.name
            and admits(spec, other)
            and slots(other, pod.cpu, pod.memory) >= 1
            and all(r.ok for r in spread_check(ledger, pod, spec, other))
        ]
        if bad.value is None:
            message = f"pod {pod.key} bound to {node.name}, which lacks the topology key {c.topology_key} of a DoNotSchedule spread constraint"
        else:
            least = sorted(v for v, n in bad.counts.items() if n == bad.minimum) if bad.counts else []
            floor = f"least-populated eligible domain ({', '.join(least[:3])})" if least else "no eligible domain"
            if bad.minimum == 0 and len(bad.counts) < (c.min_domains or 1):
                floor = f"{len(bad.counts)} eligible domains, fewer than minDomains {c.min_domains} (the minimum counts as 0)"
            message = (
                f"pod {pod.key} bound to {node.name}: its {c.topology_key} domain {bad.value} then holds "
                f"{bad.count + bad.self_match} matching pods against {bad.minimum} in the {floor}: "
                f"skew {bad.skew} > maxSkew {c.max_skew} (whenUnsatisfiable: DoNotSchedule)"
            )
        if compliant:
            shown = ", ".join(compliant[:3]) + (f" and {len(compliant) - 3} more" if len(compliant) > 3 else "")
            message += f"; nodes that would have complied: {shown}"
        else:
            message += "; no node would have complied: the pod should have stayed Pending"
        self.violate(
            message,
            event.t,
            objects=(f"pod/{pod.key}", f"node/{node.name}"),
            numbers={
                "skew": bad.skew,
                "max_skew": c.max_skew,
                "domain_count": bad.count,
                "min_count": bad.minimum,
                "domains": len(bad.counts),
                "compliant_nodes": len(compliant),
            },
        )
