"""`visreason.stats` against values computed by hand and, for the bootstrap, against its exact
distribution enumerated on small cases."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from fractions import Fraction

import pytest

from visreason import VisreasonError
from visreason.stats import Z95, bootstrap_mean, guess_interval, spread, t_quantile, wilson, window_rise


def test_wilson_by_hand():
    # k = 3, n = 10: centre (0.3 + z²/20) / (1 + z²/10), half z sqrt(0.021 + z²/400) / (1 + z²/10).
    z2 = Z95**2
    centre, half = (0.3 + z2 / 20) / (1 + z2 / 10), Z95 * math.sqrt(0.021 + z2 / 400) / (1 + z2 / 10)
    assert wilson(3, 10) == pytest.approx((centre - half, centre + half))
    assert wilson(10, 10)[1] == pytest.approx(1.0) and wilson(0, 10)[0] == 0.0


def test_guess_interval_by_hand():
    # Four options, one right: p = 1/4 on each of 100 items; sd = sqrt(100 * 3/16) / 100.
    mean, lo, hi = guess_interval([0.25] * 100)
    assert mean == 0.25 and hi - mean == pytest.approx(Z95 * math.sqrt(100 * 3 / 16) / 100)
    # Strata: mean of the stratum means; variance sum_s var_s / S^2.
    mean, lo, hi = guess_interval([1.0, 0.5, 0.5, 0.5], strata=["a", "b", "b", "b"])
    assert mean == pytest.approx(0.75) and mean - lo == pytest.approx(Z95 * math.sqrt(0.75 / 9 / 4))
    assert hi == 1.0  # clipped
    with pytest.raises(VisreasonError, match="2 items but 1 strata"):
        guess_interval([0.1, 0.2], strata=["a"])


@pytest.mark.parametrize(
    ("df", "table"),
    # Student's t, 97.5% quantiles (standard tables), and a non-integer df checked against
    # the 0.975 quantile of t with 2.5 df (by the same CDF, integrated numerically below).
    [(1, 12.7062), (2, 4.3027), (3, 3.1824), (5, 2.5706), (10, 2.2281), (30, 2.0423), (120, 1.9799), (1e9, 1.9600)],
)
def test_t_quantile_against_tables(df, table):
    assert t_quantile(0.975, df) == pytest.approx(table, abs=5e-5)


def test_t_quantile_for_a_fractional_df_by_numerical_integration():
    df, q = 2.5, t_quantile(0.975, 2.5)
    density = lambda x: (1 + x * x / df) ** (-(df + 1) / 2)  # noqa: E731
    norm = math.gamma((df + 1) / 2) / (math.sqrt(df * math.pi) * math.gamma(df / 2))
    steps = 20_000  # Simpson's rule on [0, q]
    h = q / steps
    area = density(0) + density(q) + sum((4 if i % 2 else 2) * density(i * h) for i in range(1, steps))
    assert 0.5 + norm * area * h / 3 == pytest.approx(0.975, abs=1e-9)
    with pytest.raises(VisreasonError):
        t_quantile(0.4, 3)


def test_window_rise_by_hand():
    # Two seeds. Seed 0: first (0, 1), last (4, 6): rise 4.5; seed 1: first (1, 1), last (2, 4): rise 2.
    r = window_rise([[0, 1], [1, 1]], [[4, 6], [2, 4]])
    assert r["rise"] == pytest.approx(3.25) and r["per_seed"] == pytest.approx([4.5, 2.0])
    # Variance: (0.5/2 + 2/2 + 0/2 + 2/2) / 2^2 = 0.5625; Welch-Satterthwaite: 2.25^2 / (0.25^2 + 1 + 1) = 2.4545...
    df = 2.25**2 / (0.25**2 + 1 + 1)
    assert r["df"] == pytest.approx(df)
    half = t_quantile(0.975, df) * math.sqrt(0.5625)
    assert r["ci95"] == pytest.approx([3.25 - half, 3.25 + half])
    flat = window_rise([[0.0, 0.0]], [[0.0, 0.0]])  # a run that made no update
    assert flat["rise"] == 0 and flat["ci95"] == [0, 0]
    with pytest.raises(VisreasonError, match="at least two values"):
        window_rise([[0.0]], [[1.0, 2.0]])
    with pytest.raises(VisreasonError, match="same number"):
        window_rise([[0.0, 1.0]], [])


def exact_bootstrap(groups: list[list[float]]) -> dict[Fraction, Fraction]:
    """The exact distribution of the stratified bootstrap mean.

    Per stratum of n values, a resample is a multiset of n indices, with probability
    n! / (prod c_i!) / n^n for index counts c; the strata are independent and the
    statistic is the mean over strata of each resample's mean.
    """
    dist: dict[Fraction, Fraction] = {Fraction(0): Fraction(1)}
    for values in groups:
        n = len(values)
        stratum: dict[Fraction, Fraction] = {}
        for idx in itertools.combinations_with_replacement(range(n), n):
            ways = math.factorial(n)
            for c in Counter(idx).values():
                ways //= math.factorial(c)
            mean = Fraction(sum(Fraction(values[i]) for i in idx), n)
            stratum[mean] = stratum.get(mean, 0) + Fraction(ways, n**n)
        nxt: dict[Fraction, Fraction] = {}
        for a, pa in dist.items():
            for b, pb in stratum.items():
                nxt[a + b] = nxt.get(a + b, 0) + pa * pb
        dist = nxt
    return {total / len(groups): p for total, p in dist.items()}


def exact_quantile(dist: dict[Fraction, Fraction], q: float) -> Fraction:
    """The inverted-CDF quantile: the smallest value whose cumulative probability reaches q."""
    acc = Fraction(0)
    for value in sorted(dist):
        acc += dist[value]
        if acc >= Fraction(q):
            return value
    raise AssertionError("unreachable")


RESAMPLES = 200_000


@pytest.mark.parametrize(
    "groups",
    [
        [[1, 1, 1, 0, -1, 0, 1]],  # paired differences of one category (7 pairs)
        [[1, 0, 0, 1, 0], [1, 1, 0, -1]],  # two categories: the unweighted mean of their means
        [[0.5, 0.0, 1.0, 0.25, 0.0, 0.75]],  # real values (seed-averaged), not only 0/1
    ],
)
def test_bootstrap_matches_the_exact_distribution(groups):
    dist = exact_bootstrap(groups)
    assert sum(dist.values()) == 1
    exact = [exact_quantile(dist, q) for q in (0.025, 0.975)]
    # Monte Carlo error of the CDF at RESAMPLES draws: the exact CDF at every atom lies more than
    # 5 standard errors from 0.025 and 0.975 in these cases, so the sampled quantiles must land
    # on exactly the same atoms (else the case would be too close to call, and is refused here).
    se = math.sqrt(0.025 * 0.975 / RESAMPLES)
    acc = Fraction(0)
    for value in sorted(dist):
        acc += dist[value]
        assert min(abs(float(acc) - 0.025), abs(float(acc) - 0.975)) > 5 * se, "pick a case away from the atoms"
    values = [v for g in groups for v in g]
    strata = [str(i) for i, g in enumerate(groups) for _ in g]
    est, lo, hi = bootstrap_mean(values, strata, resamples=RESAMPLES, seed=1)
    assert est == pytest.approx(sum(sum(g) / len(g) for g in groups) / len(groups))
    assert (lo, hi) == pytest.approx([float(x) for x in exact])


def test_bootstrap_is_deterministic_and_checks_its_input():
    values = [0.0, 1.0, 1.0, 0.0, 1.0] * 20
    assert bootstrap_mean(values, seed=3) == bootstrap_mean(values, seed=3)
    assert bootstrap_mean([0.4] * 30) == pytest.approx((0.4, 0.4, 0.4))
    with pytest.raises(VisreasonError, match="no values"):
        bootstrap_mean([])
    with pytest.raises(VisreasonError, match="3 values but 2 strata"):
        bootstrap_mean([1, 2, 3], ["a", "b"])


def test_spread_by_hand():
    s = spread([1.0, 2.0, 4.0])
    assert s["mean"] == pytest.approx(7 / 3) and s["std"] == pytest.approx(
        math.sqrt(((4 / 3) ** 2 + (1 / 3) ** 2 + (5 / 3) ** 2) / 2)
    )
    assert spread([5.0])["std"] == 0.0
