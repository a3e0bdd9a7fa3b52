"""PodTopologySpread for the fast path: matching-pod counts per node and per domain, as bitsets.

The full scan (``framework.py``) counts matching pods node by node for every decision. Here:

- a :class:`Tracker` per (namespace, selector) keeps the bound, non-terminating matching pods per
  node, as *level bitsets* (the nodes with exactly k matching pods, for each k >= 1) and per
  topology domain (per value of a topology key), updated on every bind, deletion request and delete;
- a :class:`SpreadPlan` holds a pod's ScheduleAnyway constraints (its own, or the system defaults
  over its owner's selector) with what each node class contributes;
- :meth:`Spreading.filter_mask` is the DoNotSchedule filter as a bitset of rejected nodes, and
  :meth:`Spreading.score_groups` splits the feasible nodes into (class, hostname level) groups that
  share one raw score, then normalizes as upstream (podtopologyspread/scoring.go), adds each
  class's other offsets and merges equal totals. That last step, once per decision of the default
  profile, runs in C (``_spreadgroups.c``) when it is built; ``_groups_python`` is its reference.

Node classes come from the fast path: nodes of one class share every label but the hostname, so a
class lies in one domain of every other topology key. Hostname domains are single nodes, which the
fast path checks (unique hostname labels) before it relies on it. What is not covered raises
:class:`NotCovered` and the pod goes to the full scan: several hostname-keyed ScheduleAnyway
constraints, or hostname spreading on a cluster whose hostname labels are not unique.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from podquake.model import constants as k8s
from podquake.model.objects import Node, Pod, PodSpec
from podquake.model.scheduling import compiled
from podquake.model.scheduling import plugins as p
from podquake.model.scheduling.framework import owner_selector
from podquake.model.selectors import LabelSelector

if TYPE_CHECKING:
    from podquake.model.scheduling.fastpath import FastPath, NodeClass

__all__ = ["NotCovered", "SpreadPlan", "Spreading", "Tracker"]

_HOSTNAME = k8s.LABEL_HOSTNAME
_MAX_TRACKERS = 8192
_MAX_PLANS = 512


#: the compiled score groups (``_spreadgroups.c``), unless not built or ``PODQUAKE_PURE_PYTHON`` is set
_core = None if compiled.PURE_PYTHON else compiled.load("_spreadgroups")


class NotCovered(Exception):
    """The fast path cannot decide this pod exactly; the full scan must."""


class Tracker:
    """Bound, non-terminating pods of one namespace matching one selector: counts per node and per domain."""

    __slots__ = ("namespace", "selector", "count", "levels", "any", "domains")

    def __init__(self, namespace: str, selector: LabelSelector) -> None:
        self.namespace = namespace
        self.selector = selector
        self.count: dict[int, int] = {}
        self.levels: dict[int, int] = {}  # k -> nodes with exactly k matching pods (k >= 1)
        self.any = 0  # nodes with at least one
        self.domains: dict[str, dict[str, int]] = {}  # topology key -> value -> count (over all nodes)

    def add(self, i: int, delta: int, labels: dict[str, str]) -> None:
        old = self.count.get(i, 0)
        new = old + delta
        bit = 1 << i
        levels = self.levels
        if old:
            rest = levels[old] ^ bit
            if rest:
                levels[old] = rest
            else:
                del levels[old]
        if new:
            levels[new] = levels.get(new, 0) | bit
            self.count[i] = new
            if not old:
                self.any |= bit
        else:
            del self.count[i]
            self.any ^= bit
        for key, counts in self.domains.items():
            value = labels.get(key, "")
            counts[value] = counts.get(value, 0) + delta

    def domain_counts(self, key: str, nodes: list[Node]) -> dict[str, int]:
        """Matching pods per value of ``key`` over all nodes (a node without the key counts under "")."""
        counts = self.domains.get(key)
        if counts is None:
            counts = {}
            for i, n in self.count.items():
                value = nodes[i].labels.get(key, "")
                counts[value] = counts.get(value, 0) + n
            self.domains[key] = counts
        return counts


class SpreadPlan:
    """A pod's ScheduleAnyway constraints, with what each node class contributes, worked out once per class."""

    __slots__ = ("constraints", "keys", "host", "require_all", "skews", "per_class", "frame")

    def __init__(self, constraints: tuple[p.SpreadConstraint, ...], require_all: bool) -> None:
        self.constraints = constraints
        self.keys = [c.topology_key for c in constraints]
        hosts = [i for i, key in enumerate(self.keys) if key == _HOSTNAME]
        self.host = hosts[0] if len(hosts) == 1 else (-2 if hosts else -1)  # -2: several, not covered
        self.require_all = require_all
        self.skews = [float(c.max_skew - 1) for c in constraints]
        self.per_class: dict[int, tuple[bool, tuple[str | None, ...]]] = {}
        self.frame: _Frame | None = None  # see Spreading.score_groups

    def of(self, cls: NodeClass) -> tuple[bool, tuple[str | None, ...]]:
        """(ignored, the class's value of each topology key): ignored nodes lack a key when keys are required."""
        hit = self.per_class.get(cls.id)
        if hit is None:
            values = tuple(cls.labels.get(key) for key in self.keys)
            hit = self.per_class[cls.id] = (self.require_all and None in values, values)
        return hit


class Spreading:
    """The fast path's PodTopologySpread state: trackers, plans and the pods they count."""

    def __init__(self, fast: FastPath) -> None:
        self.fast = fast
        self.state = fast.state
        # every bound, non-terminating pod, by key: a deleted pod is gone from the store when PodDeleted fires
        self.counted: dict[str, Pod] = {
            pod.key: pod
            for pod in self.state.pods.values()
            if pod.node_name is not None and pod.deletion_timestamp is None
        }
        self.reset()

    def reset(self) -> None:
        """Forget trackers and plans (node indexes or classes changed)."""
        self.trackers: dict[tuple[str, LabelSelector], Tracker] = {}
        self.tracker_by_id: dict[tuple[int, str], tuple[LabelSelector, Tracker]] = {}
        self.tracker_by_item: dict[tuple[str, str], list[Tracker]] = {}
        self.tracker_generic: list[Tracker] = []
        self.plans: dict[tuple[int, int], tuple[PodSpec, Any, SpreadPlan | None]] = {}

    # --- following the store ------------------------------------------------------------------------
    def bound(self, pod: Pod, i: int) -> None:
        if pod.deletion_timestamp is None:
            self.counted[pod.key] = pod
            if self.trackers:
                self._count(pod, i, 1)

    def gone(self, key: str, i: int | None) -> None:
        """The pod stopped counting: deletion requested, or deleted (``i``: its node, if any)."""
        pod = self.counted.pop(key, None)
        if pod is not None and self.trackers and i is not None:
            self._count(pod, i, -1)

    def _count(self, pod: Pod, i: int, delta: int) -> None:
        labels = pod.labels
        node_labels = self.state.node_list[i].labels
        namespace = pod.namespace
        for tracker in self.tracker_generic:
            if tracker.namespace == namespace and tracker.selector.matches(labels):
                tracker.add(i, delta, node_labels)
        by_item = self.tracker_by_item
        for item in labels.items():
            found = by_item.get(item)
            if found:
                for tracker in found:
                    if tracker.namespace == namespace and tracker.selector.matches(labels):
                        tracker.add(i, delta, node_labels)

    def tracker(self, namespace: str, selector: LabelSelector) -> Tracker:
        hit = self.tracker_by_id.get((id(selector), namespace))
        if hit is not None and hit[0] is selector:
            return hit[1]
        key = (namespace, selector)
        tracker = self.trackers.get(key)
        if tracker is None:
            if len(self.trackers) >= _MAX_TRACKERS:
                self.reset()
            tracker = self.trackers[key] = Tracker(namespace, selector)
            nodes = self.state.nodes
            for pod in self.state.pods_matching(namespace, selector):
                if pod.node_name is not None and pod.deletion_timestamp is None:
                    node = nodes[pod.node_name]
                    tracker.add(node.index, 1, node.labels)
            if selector.match_labels:  # a matching pod carries this label: look trackers up by it
                self.tracker_by_item.setdefault(selector.match_labels[0], []).append(tracker)
            else:
                self.tracker_generic.append(tracker)
        self.tracker_by_id[(id(selector), namespace)] = (selector, tracker)
        return tracker

    def plan(self, pod: Pod) -> SpreadPlan | None:
        """The pod's ScheduleAnyway constraints (or system defaults) as a plan, cached per spec and owner selector."""
        spec = pod.spec
        fast = self.fast
        selector = owner_selector(pod, self.state)
        key = (id(spec), id(selector))
        hit = self.plans.get(key)
        if hit is not None and hit[0] is spec and hit[1] is selector:
            return hit[2]
        system = fast.profile.system_default_spreading
        soft = p.spread_constraints(pod, "ScheduleAnyway", selector, system)
        plan = SpreadPlan(soft, bool(spec.topology_spread_constraints) or not system) if soft else None
        if not any(c.match_label_keys for c in spec.topology_spread_constraints):  # else it depends on the pod's labels
            if len(self.plans) > _MAX_PLANS:
                self.plans = {}
            self.plans[key] = (spec, selector, plan)
        return plan

    # --- counting over classes ----------------------------------------------------------------------
    def _eligible(self, spec: PodSpec, c: p.SpreadConstraint, keys: list[str] | None) -> tuple[list[NodeClass], bool]:
        """Non-empty classes counted for ``c`` (all ``keys`` present, inclusion policies), and whether that is all."""
        classes = self.fast.classes
        affinity = spec.node_affinity
        restricted_by_affinity = c.honor_affinity and (
            spec.node_selector or (affinity is not None and affinity.required is not None)
        )
        if keys is None and not c.honor_taints and not restricted_by_affinity:
            return [cls for cls in classes if cls.bits], True  # nothing restricts: every node counts
        out = []
        every = True
        for cls in classes:
            if not cls.bits:
                continue
            labels = cls.labels
            if (keys is None or all(k in labels for k in keys)) and c.includes(spec, "", labels, cls.taints):
                out.append(cls)
            else:
                every = False
        return out, every

    def _domain_counts(
        self, tracker: Tracker | None, key: str, eligible: list[NodeClass], every: bool
    ) -> dict[str, int]:
        """Matching pods per value of ``key`` over the eligible classes' nodes."""
        counts: dict[str, int] = {}
        if tracker is None:
            for cls in eligible:
                counts.setdefault(cls.labels.get(key, ""), 0)
            return counts
        if every:
            totals = tracker.domain_counts(key, self.state.node_list)
            for cls in eligible:
                value = cls.labels.get(key, "")
                counts[value] = totals.get(value, 0)
            return counts
        for cls in eligible:
            value = cls.labels.get(key, "")
            total = counts.get(value, 0)
            for level, bits in tracker.levels.items():
                total += level * (bits & cls.bits).bit_count()
            counts[value] = total
        return counts

    # --- the plugin's two extension points ----------------------------------------------------------
    def filter_mask(self, pod: Pod, hard: tuple[p.SpreadConstraint, ...]) -> int:
        """Nodes the DoNotSchedule filter rejects (filtering.go), as a bitset."""
        fast = self.fast
        if not fast.hostnames_ok and any(c.topology_key == _HOSTNAME for c in hard):
            raise NotCovered
        spec = pod.spec
        keys = [c.topology_key for c in hard]
        failing = 0
        for c in hard:
            key = c.topology_key
            for cls in fast.classes:
                if key not in cls.labels:
                    failing |= cls.bits
            tracker = self.tracker(pod.namespace, c.selector) if c.counts_pods() else None  # type: ignore[arg-type]
            eligible, every = self._eligible(spec, c, keys)
            self_match = c.self_match(pod.labels)
            if key == _HOSTNAME:  # each eligible node is a domain
                if tracker is None:
                    continue
                mask = 0
                for cls in eligible:
                    mask |= cls.bits
                if mask.bit_count() < c.min_domains or mask & ~tracker.any:
                    minimum = 0
                else:
                    minimum = min(level for level, bits in tracker.levels.items() if bits & mask)
                threshold = c.max_skew + minimum - self_match
                for level, bits in tracker.levels.items():
                    if level > threshold:
                        failing |= bits & mask  # a node that is not eligible is no domain: its count is 0
                continue
            counts = self._domain_counts(tracker, key, eligible, every)
            minimum = min(counts.values()) if counts and len(counts) >= c.min_domains else 0
            for value, count in counts.items():
                if count + self_match - minimum > c.max_skew:
                    for cls in fast.classes:
                        if cls.labels.get(key) == value:
                            failing |= cls.bits
        return failing

    def score_groups(
        self,
        pod: Pod,
        plan: SpreadPlan,
        present: list[tuple[NodeClass, int]],
        count: int,
        offsets: dict[int, int],
        weight: int,
    ) -> list[tuple[int, int]]:
        """``[(offset, mask)]`` by offset descending: ``offsets[class] + weight x`` the normalized score.

        The feasible nodes split into (class, hostname level) groups that share one raw score
        (scoring.go), normalized as upstream; groups with equal totals are merged. ``present`` are
        the feasible nodes per class, ``count`` how many there are, ``offsets`` each class's other
        normalized plugins' weighted score. What depends only on the feasible nodes (ignored
        classes, weights, domains, each class's terms) is kept in the plan's :class:`_Frame` while
        they stay the same; a decision adds the pod counts. This runs once per decision of the
        default profile, so it is written for few bytecodes rather than for brevity.
        """
        host = plan.host
        if host == -2 or (host >= 0 and not self.fast.hostnames_ok):
            raise NotCovered
        frame = plan.frame
        if frame is None or frame.present is not present or frame.count != count:
            frame = plan.frame = _Frame(self, pod.spec, plan, present, count)
        if frame.namespace != pod.namespace:  # the trackers of the plan's constraints, looked up once
            frame.follow(self, plan, pod.namespace)
        terms = frame.terms  # per constraint: domain value -> count x weight + skew
        for i, tracker, key, values, eligible, every, domain_weight, skew in frame.counted:
            counts = tracker.domains.get(key) if every else None
            if counts is None:
                counts = self._domain_counts(tracker, key, eligible, every)
            term = terms[i]
            for value in values:
                term[value] = counts.get(value, 0) * domain_weight + skew
        host_tracker = frame.host_tracker
        host = (
            None
            if host_tracker is None
            else (host_tracker.any, host_tracker.levels, frame.host_weight, frame.host_skew)
        )
        args = (frame.kept, terms, host, frame.ignored, offsets, weight, k8s.MAX_NODE_SCORE)
        if _core is not None:
            try:
                return _core.score_groups(*args)  # type: ignore[no-any-return]
            except OverflowError:  # integers beyond int64 (huge plugin weights): Python's ints
                pass
        return _groups_python(*args)


def _groups_python(
    kept: list[tuple[int, int, tuple[tuple[int, str], ...], bool, tuple[tuple[int, str], ...]]],
    terms: list[dict[str, float]],
    host: tuple[int, dict[int, int], float, float] | None,
    ignored: list[tuple[int, int]],
    offsets: dict[int, int],
    weight: int,
    top: int,
) -> list[tuple[int, int]]:
    """The groups of :meth:`Spreading.score_groups` from this decision's terms: the reference.

    ``kept``: (class id, feasible nodes, terms before the hostname term, has a hostname term,
    terms after it); ``host``: the hostname tracker's nodes with any matching pod and its levels,
    with the hostname constraint's weight and skew (None: no hostname constraint counting pods).
    ``_spreadgroups.c`` computes the same, compiled; this is what it must equal and what runs
    without it.
    """
    if host is not None:
        any_host, levels, host_weight, host_skew = host
        host_levels = levels.items()
    raws: list[tuple[int, int, int]] = []  # (class id, mask, raw score)
    high = low = -1
    for cid, mask, before_terms, has_host, after_terms in kept:
        # Go adds the terms in constraint order, starting from 0.0: the terms before the hostname
        # term first, then the hostname term (which depends on the node), then the rest
        before = 0.0
        for i, value in before_terms:
            before += terms[i][value]
        if has_host and host is not None:
            hit = mask & any_host
            parts: list[tuple[float | None, int]] = [(host_skew, mask ^ hit)] if hit != mask else []  # level 0
            if hit:
                for level, bits in host_levels:
                    sub = hit & bits
                    if sub:
                        parts.append((level * host_weight + host_skew, sub))
        else:
            parts = [(None, mask)]
        for host_term, sub in parts:
            score = before if host_term is None else before + host_term
            for i, value in after_terms:
                score += terms[i][value]
            raw = int(score)  # Go's math.Round (p.go_round) for a non-negative score
            if score - raw >= 0.5:
                raw += 1
            raws.append((cid, sub, raw))
            if raw > high:
                high = raw
            if raw < low or low < 0:
                low = raw
    merged: dict[int, int] = {}
    for cid, mask in ignored:  # nodes lacking a key score 0 (scoring.go NormalizeScore)
        offset = offsets[cid]
        merged[offset] = merged[offset] | mask if offset in merged else mask
    for cid, mask, raw in raws:
        offset = offsets[cid] + weight * (top if high <= 0 else top * (high + low - raw) // high)
        merged[offset] = merged[offset] | mask if offset in merged else mask
    return sorted(merged.items(), reverse=True)


class _Frame:
    """What a plan's scores depend on besides pod counts, for one set of feasible nodes per class."""

    __slots__ = (
        "present",
        "count",
        "ignored",
        "kept",
        "weights",
        "domains",
        "namespace",
        "terms",
        "counted",
        "host_tracker",
        "host_weight",
        "host_skew",
    )

    def __init__(
        self, spreading: Spreading, spec: PodSpec, plan: SpreadPlan, present: list[tuple[NodeClass, int]], count: int
    ) -> None:
        self.present = present
        self.count = count
        self.namespace: str | None = None  # ``counted`` and ``host_tracker`` are this namespace's: see follow
        self.ignored: list[tuple[int, int]] = []  # (class id, feasible nodes) lacking a required key
        kept: list[tuple[NodeClass, int, tuple[str | None, ...]]] = []
        for cls, mask in present:
            ignored, values = plan.of(cls)
            if ignored:
                self.ignored.append((cls.id, mask))
                count -= mask.bit_count()
            else:
                kept.append((cls, mask, values))
        self.weights: list[float] = []
        # per constraint: (eligible classes, whether all classes are, the feasible nodes' domain values)
        self.domains: list[tuple[list[NodeClass], bool, tuple[str, ...]]] = []
        for i, c in enumerate(plan.constraints):
            if i == plan.host:  # size: the feasible nodes that are not ignored
                self.weights.append(p.spread_weight(count))
                self.domains.append(([], True, ()))
                continue
            key = c.topology_key
            values = tuple(dict.fromkeys(cls.labels.get(key, "") for cls, _, _ in kept))
            self.weights.append(p.spread_weight(len(values)))
            eligible, every = spreading._eligible(spec, c, plan.keys if plan.require_all else None)
            self.domains.append((eligible, every, values))
        # per kept class: (id, mask, terms before the hostname term, has a hostname term, terms after it)
        self.kept: list[tuple[int, int, tuple[tuple[int, str], ...], bool, tuple[tuple[int, str], ...]]] = []
        for cls, mask, values in kept:
            before: list[tuple[int, str]] = []
            after: list[tuple[int, str]] = []
            has_host = False
            for i, value in enumerate(values):
                if value is None:
                    continue  # a node without the key gets no term
                if i == plan.host:
                    has_host = True
                elif has_host:
                    after.append((i, value))
                else:
                    before.append((i, value))
            self.kept.append((cls.id, mask, tuple(before), has_host, tuple(after)))
        self.terms: list[dict[str, float]] = [{} for _ in plan.constraints]
        self.counted: list[tuple[int, Tracker, str, tuple[str, ...], list[NodeClass], bool, float, float]] = []
        self.host_tracker: Tracker | None = None
        self.host_weight = self.weights[plan.host] if plan.host >= 0 else 0.0
        self.host_skew = plan.skews[plan.host] if plan.host >= 0 else 0.0

    def follow(self, spreading: Spreading, plan: SpreadPlan, namespace: str) -> None:
        """Look up ``namespace``'s trackers: the constraints counting pods are recounted each decision.

        A constraint that counts no pod has constant terms (0 x weight + skew), set here once.
        """
        self.namespace = namespace
        self.counted = []
        self.host_tracker = None
        for i, c in enumerate(plan.constraints):
            tracker = spreading.tracker(namespace, c.selector) if c.counts_pods() else None  # type: ignore[arg-type]
            eligible, every, values = self.domains[i]
            if i == plan.host:
                self.host_tracker = tracker
            elif tracker is None:
                self.terms[i] = {value: plan.skews[i] for value in values}
            else:
                entry = (i, tracker, plan.keys[i], values, eligible, every, self.weights[i], plan.skews[i])
                self.counted.append(entry)
