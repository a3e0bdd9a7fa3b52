"""Each plugin formula against numbers computed by hand with upstream's integer rules.

Node and pod sizes follow the upstream unit tests (noderesources/*_test.go: nodes of 4000m/10000
and 6000m/10000, a pod requesting 3000m/5000), so the expected scores can be checked there too.
"""

from __future__ import annotations

import math

import pytest

from podquake.model import constants as k8s
from podquake.model.scheduling import plugins as p
from podquake.model.selectors import Taint, Toleration


def test_go_div_truncates_toward_zero_and_go_round_is_half_away_from_zero() -> None:
    assert p.go_div(-1000, 30) == -33  # Python's // would give -34
    assert p.go_div(1000, 30) == 33
    assert [p.go_round(x) for x in (0.5, 1.5, 2.5, 62.5, -0.5, -2.5)] == [1, 2, 3, 63, -1, -3]
    assert round(2.5) == 2  # why go_round exists: Python rounds half to even
    assert p.go_round(0.49999999999999994) == 0  # the largest double below 0.5; floor(x + 0.5) gives 1
    assert p.go_round(-0.49999999999999994) == 0


@pytest.mark.parametrize(
    ("nodes", "percentage", "expected"),
    [
        (5000, 0, 500),  # adaptive: 50 - 5000/125 = 10%
        (1000, 0, 420),  # 50 - 8 = 42%
        (6000, 0, 300),  # 50 - 48 = 2% -> floor of 5% (MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
        (20000, 0, 1000),
        (100, 0, 100),  # 49% of 100 = 49 -> at least MIN_FEASIBLE_NODES_TO_FIND
        (99, 0, 99),  # below MIN_FEASIBLE_NODES_TO_FIND: all nodes
        (5000, 100, 5000),
        (1000, 30, 300),
    ],
)
def test_num_feasible_nodes_to_find(nodes: int, percentage: int, expected: int) -> None:
    assert p.num_feasible_nodes_to_find(nodes, percentage) == expected


def test_least_allocated_matches_upstream_example() -> None:
    # least_allocated_test.go "nothing scheduled, resources requested, differently sized nodes"
    strategy = p.ScoringStrategy(p.LEAST_ALLOCATED)
    assert strategy.score(3000, 4000, 5000, 10000) == 37  # (25 + 50) / 2, truncated
    assert strategy.score(3000, 6000, 5000, 10000) == 50
    assert p.least_allocated(5000, 4000) == 0  # over capacity scores 0
    assert p.least_allocated(1, 0) == 0


def test_most_allocated_matches_upstream_example() -> None:
    strategy = p.ScoringStrategy(p.MOST_ALLOCATED)
    assert strategy.score(3000, 4000, 5000, 10000) == 62  # (75 + 50) / 2 = 62.5, truncated
    assert strategy.score(3000, 6000, 5000, 10000) == 50
    assert p.most_allocated(5000, 4000) == k8s.MAX_NODE_SCORE  # capped at capacity


def test_resource_weights_weight_the_average() -> None:
    strategy = p.ScoringStrategy(p.LEAST_ALLOCATED, cpu_weight=3, memory_weight=1)
    assert strategy.score(3000, 4000, 5000, 10000) == (25 * 3 + 50) // 4  # 31


def test_requested_to_capacity_ratio_shape_and_rounding() -> None:
    packing = p.ScoringStrategy(p.REQUESTED_TO_CAPACITY_RATIO, shape=((0, 0), (100, 10)))
    assert packing.scaled_shape == ((0, 0), (100, 100))  # x MAX_NODE_SCORE / MaxCustomPriorityScore
    # cpu 75% -> 75, memory 50% -> 50; math.Round(62.5) = 63, where MostAllocated truncates to 62
    assert packing.score(3000, 4000, 5000, 10000) == 63
    # a resource scoring 0 leaves the average: cpu 0% -> 0 is skipped, memory 50% -> 50
    assert packing.score(0, 4000, 5000, 10000) == 50
    spreading = p.ScoringStrategy(p.REQUESTED_TO_CAPACITY_RATIO, shape=((0, 10), (100, 0)))
    assert spreading.score(3000, 4000, 5000, 10000) == 38  # (25 + 50) / 2 = 37.5 -> 38
    assert p.requested_to_capacity_ratio(((0, 100), (100, 0)), 5000, 4000) == 0  # over capacity: shape at 100%


def test_broken_linear_truncates_negative_slopes_toward_zero() -> None:
    shape = ((0, 100), (30, 0))
    assert p.broken_linear(shape, 10) == 67  # 100 + trunc(-1000/30) = 100 - 33
    assert p.broken_linear(shape, 0) == 100
    assert p.broken_linear(shape, 50) == 0  # beyond the last point


def test_scoring_strategy_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="needs a shape"):
        p.ScoringStrategy(p.REQUESTED_TO_CAPACITY_RATIO)
    with pytest.raises(ValueError, match="unknown scoring strategy"):
        p.ScoringStrategy("Spread")


def test_balanced_allocation_v135_formula() -> None:
    # fractions 0.75 and 0.5: std = 0.125, int((1 - 0.125) * 100) = 87 (balanced_allocation_test.go)
    assert p.balanced_allocation_score(3000, 4000, 5000, 10000) == 87
    assert p.balanced_allocation_score(3000, 6000, 5000, 10000) == 100
    assert p.balanced_allocation_score(8000, 4000, 0, 10000) == 50  # fractions capped at 1: |1 - 0| / 2
    assert p.balanced_allocation_score(1000, 4000, 5000, 0) == 100  # one resource left: std 0


def test_default_normalize() -> None:
    assert p.default_normalize([0, 1, 2], reverse=True) == [100, 50, 0]
    assert p.default_normalize([0, 0], reverse=True) == [100, 100]
    assert p.default_normalize([0, 10, 30], reverse=False) == [0, 33, 100]
    assert p.default_normalize([0, 0], reverse=False) == [0, 0]


def test_taint_toleration_counts_untolerated_prefer_no_schedule() -> None:
    taints = (Taint("a", "1", "PreferNoSchedule"), Taint("b", "", "PreferNoSchedule"), Taint("c", "", "NoSchedule"))
    assert p.untolerated_prefer_no_schedule((), taints) == 2
    assert p.untolerated_prefer_no_schedule((Toleration("a", "Equal", "1", "PreferNoSchedule"),), taints) == 1
    # a NoSchedule-only toleration is not considered for scoring
    assert p.untolerated_prefer_no_schedule((Toleration("b", "Exists", effect="NoSchedule"),), taints) == 2
    assert p.untolerated_prefer_no_schedule((Toleration(None, "Exists"),), taints) == 0


def test_spread_score_normalize_by_hand() -> None:
    # Three feasible nodes: n1 and n2 in zone a, n3 in zone b; matching pods n1: 2, n2: 0, n3: 1.
    # System defaults: hostname maxSkew 3 (3 nodes -> weight log 5), zone maxSkew 5 (2 zones -> log 4).
    host, zone = math.log(5), math.log(4)
    raws = [
        p.spread_raw_score([(2, 3, host), (2, 5, zone)]),  # round(11.99) = 12
        p.spread_raw_score([(0, 3, host), (2, 5, zone)]),  # round(8.77) = 9
        p.spread_raw_score([(1, 3, host), (1, 5, zone)]),  # round(9.00) = 9
    ]
    assert raws == [12, 9, 9]
    assert [p.spread_normalize(r, 9, 12) for r in raws] == [75, 100, 100]  # 100 * (max + min - raw) / max
    assert p.spread_normalize(0, 0, 0) == k8s.MAX_NODE_SCORE  # all raw 0: every node 100
    assert p.spread_weight(3) == math.log(5)
