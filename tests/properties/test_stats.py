"""The statistics behind the statistical properties: known values, brute-force sums, identities."""

import math
from fractions import Fraction

import pytest
from podquake.properties.stats import (
    binomial_cdf,
    binomial_sf,
    binomial_two_sided,
    chi2_sf,
    chi_square_statistic,
    normal_sf,
    regularized_beta,
    regularized_gamma_p,
    regularized_gamma_q,
    sidak,
)


# --- chi-square: the tables' critical values and closed forms ---------------------------------------------
@pytest.mark.parametrize(
    ("x", "df", "p"),
    [
        (3.841458820694124, 1, 0.05),  # the classic 5 % critical values
        (6.634896601021214, 1, 0.01),
        (5.991464547107979, 2, 0.05),
        (9.21034037197618, 2, 0.01),
        (11.070497693516351, 5, 0.05),
        (23.209251158954356, 10, 0.01),
        (124.34211340400407, 100, 0.05),
        (10.0, 5, 0.07523524614651217),
    ],
)
def test_chi2_sf_matches_known_values(x, df, p):
    assert chi2_sf(x, df) == pytest.approx(p, rel=1e-9)


def test_chi2_sf_closed_forms():
    for x in (0.1, 1.0, 4.0, 30.0, 200.0):
        assert chi2_sf(x, 2) == pytest.approx(math.exp(-x / 2), rel=1e-12)  # df 2 is exponential
        assert chi2_sf(x, 1) == pytest.approx(math.erfc(math.sqrt(x / 2)), rel=1e-10)
    assert chi2_sf(0.0, 3) == 1.0 and chi2_sf(-1.0, 3) == 1.0


def test_incomplete_gamma_identities_on_both_branches():
    for a in (0.5, 1.0, 2.5, 10.0, 150.0):
        for x in (0.01, a / 2, a, a + 1.5, 3 * a + 5):  # the series below a + 1, the fraction above
            p, q = regularized_gamma_p(a, x), regularized_gamma_q(a, x)
            assert p + q == pytest.approx(1.0, abs=1e-12)
            assert 0.0 <= p <= 1.0
    assert regularized_gamma_p(1.0, 2.0) == pytest.approx(1 - math.exp(-2.0), rel=1e-13)
    assert regularized_gamma_p(0.5, 2.0) == pytest.approx(math.erf(math.sqrt(2.0)), rel=1e-12)
    # P(n, x) for an integer n is a Poisson upper tail: 1 - sum_{k<n} e^-x x^k / k!
    assert regularized_gamma_p(4.0, 3.0) == pytest.approx(1 - sum(math.exp(-3) * 3**k / math.factorial(k) for k in range(4)), rel=1e-12)


def test_chi_square_statistic():
    assert chi_square_statistic([10, 20, 30], [20, 20, 20]) == pytest.approx(10.0)
    with pytest.raises(ValueError, match="differ in length"):
        chi_square_statistic([1], [1, 2])
    with pytest.raises(ValueError, match="must be > 0"):
        chi_square_statistic([1], [0])


# --- the binomial: exact sums -----------------------------------------------------------------------
def _exact_terms(n: int, p: Fraction) -> list[Fraction]:
    """P(X = i) for i = 0..n in exact rational arithmetic (no rounding, no underflow)."""
    terms = [(1 - p) ** n]
    for i in range(n):
        terms.append(terms[-1] * (n - i) / (i + 1) * p / (1 - p))
    return terms


@pytest.mark.parametrize(("n", "p"), [(10, Fraction(3, 10)), (40, Fraction(1, 3)), (101, Fraction(1, 2)), (250, Fraction(1, 5)), (400, Fraction(1, 7))])
def test_binomial_tails_equal_the_exact_sums(n, p):
    terms = _exact_terms(n, p)
    below = [Fraction(0)]  # below[k] = P(X < k)
    for term in terms:
        below.append(below[-1] + term)
    for k in range(0, n + 1, max(1, n // 17)):
        assert binomial_cdf(k, n, float(p)) == pytest.approx(float(below[k + 1]), rel=1e-9)
        assert binomial_sf(k, n, float(p)) == pytest.approx(float(1 - below[k]), rel=1e-9)


def test_binomial_edges():
    assert binomial_cdf(-1, 10, 0.5) == 0.0 and binomial_cdf(10, 10, 0.5) == 1.0
    assert binomial_sf(0, 10, 0.5) == 1.0 and binomial_sf(11, 10, 0.5) == 0.0
    assert binomial_cdf(3, 10, 0.0) == 1.0 and binomial_sf(3, 10, 1.0) == 1.0
    with pytest.raises(ValueError):
        binomial_cdf(1, 10, 1.5)


def test_two_sided_binomial_known_values_and_symmetry():
    # 60 heads in 100 fair tosses: P(X >= 60) = 0.028443966820490392, doubled.
    assert binomial_two_sided(60, 100, 0.5) == pytest.approx(2 * 0.028443966820490392, rel=1e-9)
    assert binomial_two_sided(40, 100, 0.5) == pytest.approx(binomial_two_sided(60, 100, 0.5), rel=1e-12)
    assert binomial_two_sided(50, 100, 0.5) == 1.0  # capped
    # A huge sample far in the tail converges fast and is tiny; near the mean it is large.
    assert binomial_two_sided(34_000_000, 100_000_000, 1 / 3) < 1e-300 or binomial_two_sided(34_000_000, 100_000_000, 1 / 3) == 0.0
    assert binomial_two_sided(333_400, 1_000_000, 1 / 3) > 0.5


def test_regularized_beta_identities():
    assert regularized_beta(0.5, 2, 3) == pytest.approx(0.6875, rel=1e-12)
    for x in (0.1, 0.37, 0.5, 0.93):
        assert regularized_beta(x, 1, 1) == pytest.approx(x, rel=1e-12)
        assert regularized_beta(x, 3.5, 1) == pytest.approx(x**3.5, rel=1e-11)
        assert regularized_beta(x, 7, 4) == pytest.approx(1 - regularized_beta(1 - x, 4, 7), rel=1e-11)
    assert regularized_beta(0.0, 2, 2) == 0.0 and regularized_beta(1.0, 2, 2) == 1.0


# --- the normal tail and Šidák -----------------------------------------------------------------------
def test_normal_sf_and_sidak():
    assert normal_sf(0.0) == 0.5
    assert normal_sf(1.959963984540054) == pytest.approx(0.025, rel=1e-12)
    assert normal_sf(-1.0) == pytest.approx(1 - normal_sf(1.0), rel=1e-12)
    assert sidak(0.05, 1) == pytest.approx(0.05)
    level = sidak(0.01, 3)
    assert 1 - (1 - level) ** 3 == pytest.approx(0.01, rel=1e-12)
    assert 0.01 / 3 < level < 0.01
    with pytest.raises(ValueError):
        sidak(0.01, 0)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        regularized_gamma_p(0.0, 1.0)
    with pytest.raises(ValueError):
        regularized_gamma_q(1.0, -1.0)
    with pytest.raises(ValueError):
        chi2_sf(1.0, 0)
    with pytest.raises(ValueError):
        regularized_beta(1.5, 1, 1)
