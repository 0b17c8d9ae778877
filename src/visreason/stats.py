"""The statistics that evaluation and the report share: intervals, paired comparisons, spreads over seeds.

Every function is pure. The bootstrap draws from a generator seeded by its `seed`
argument, so a report rebuilt from the same files prints the same intervals.

- a proportion: `wilson` (the Wilson score interval);
- the accuracy of a uniform guesser: `guess_interval` (a sum of independent Bernoulli draws);
- a mean, or a paired difference, over puzzles: `bootstrap_mean` (percentile
  bootstrap, stratified by category so that it resamples the same unweighted
  category mean that the tables report);
- a rise between two windows of training steps, per seed: `window_rise`
  (Welch's interval, stratified by seed, with Student's t quantile `t_quantile`);
- seeds: `spread` and `aggregate_seeds` (mean, sample std, min, max).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

import numpy as np

from visreason import VisreasonError

Z95 = 1.959963984540054  # two-sided 95% normal quantile
BOOTSTRAP_RESAMPLES = 10_000
_CHUNK = 1_000  # resamples drawn at once: bounds memory at _CHUNK * n indices


def wilson(k: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion k/n (default 95%).

    >>> [round(x, 4) for x in wilson(5, 10)]
    [0.2366, 0.7634]
    >>> wilson(0, 0)
    (0.0, 1.0)
    """
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def guess_interval(
    probabilities: Sequence[float], strata: Sequence[str] | None = None, z: float = Z95
) -> tuple[float, float, float]:
    """(expected accuracy, low, high) of a guesser that is right on item i with probability p_i.

    Its accuracy is a sum of independent Bernoulli draws: the mean of p over n items,
    with variance sum(p(1-p))/n^2. With strata, the accuracy is the unweighted mean
    over strata of each stratum's accuracy, with variance sum_s var_s / S^2. The
    interval is where 95% of such guessers land (normal approximation, clipped to [0, 1]).

    >>> [round(x, 4) for x in guess_interval([0.25] * 100)]
    [0.25, 0.1651, 0.3349]
    >>> [round(x, 4) for x in guess_interval([0.5, 0.5, 0.0, 0.0], strata=["a", "a", "b", "b"])]
    [0.25, 0.0, 0.5965]
    """
    if not probabilities:
        raise VisreasonError("guess_interval: no items")
    labels = list(strata) if strata is not None else [""] * len(probabilities)
    if len(labels) != len(probabilities):
        raise VisreasonError(f"guess_interval: {len(probabilities)} items but {len(labels)} strata")
    groups: dict[str, list[float]] = {}
    for label, p in zip(labels, probabilities):
        groups.setdefault(label, []).append(p)
    mean = statistics.fmean(statistics.fmean(ps) for ps in groups.values())
    var = sum(sum(p * (1 - p) for p in ps) / len(ps) ** 2 for ps in groups.values()) / len(groups) ** 2
    half = z * math.sqrt(var)
    return mean, max(0.0, mean - half), min(1.0, mean + half)


def mean_over(per_category: dict[str, dict], categories: list[str]) -> dict | None:
    """Unweighted mean accuracy over `categories` (those present), with a 95% interval.

    The interval is Wilson's with n = all samples of these categories and p = the
    unweighted mean: exact when categories are equally sized (AlgoPuzzleVQA: 100
    each), an approximation otherwise. None when no category is present.

    >>> m = mean_over({"clock": {"accuracy": 0.5, "n": 10}, "maze": {"accuracy": 0.1, "n": 10}}, ["clock", "maze"])
    >>> round(m["accuracy"], 3), m["n"]
    (0.3, 20)
    """
    present = [c for c in categories if c in per_category]
    if not present:
        return None
    acc = sum(per_category[c]["accuracy"] for c in present) / len(present)
    n = sum(per_category[c]["n"] for c in present)
    return {"accuracy": acc, "ci95": list(wilson(acc * n, n)), "n": n, "categories": present}


def bootstrap_mean(
    values: Sequence[float],
    strata: Sequence[str] | None = None,
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """(estimate, low, high): the unweighted mean over strata of each stratum's mean, with a
    percentile bootstrap interval.

    Each resample draws, within every stratum, as many values as it holds, with
    replacement (as a multinomial draw of each distinct value's count). Without
    strata all values form one stratum (the plain mean). For a paired comparison
    pass the per-item differences: resampling them resamples the pairs. Quantiles
    use the inverted empirical CDF (the smallest resampled value whose share at or
    below it reaches the level), so the interval's ends are values the bootstrap
    distribution takes.

    >>> est, lo, hi = bootstrap_mean([0, 1, 1, 0, 1, 1, 1, 0, 1, 1] * 10)
    >>> est, round(lo, 2), round(hi, 2)
    (0.7, 0.61, 0.79)
    >>> bootstrap_mean([1, 1, 0, 0], strata=["a", "a", "a", "b"])  # (2/3 + 0) / 2
    (0.3333333333333333, 0.0, 0.5)
    """
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise VisreasonError("bootstrap_mean: no values")
    labels = np.asarray(strata if strata is not None else [""] * x.size)
    if labels.size != x.size:
        raise VisreasonError(f"bootstrap_mean: {x.size} values but {labels.size} strata")
    groups = [x[labels == s] for s in dict.fromkeys(labels.tolist())]
    rng = np.random.default_rng(seed)
    means = np.zeros(resamples)
    for group in groups:
        # A resample of a stratum is a multinomial draw of how often each distinct value
        # recurs: the same distribution as drawing indices, at a cost of distinct values
        # (2 or 3 for answers and their differences) rather than of items.
        values, counts = np.unique(group, return_counts=True)
        for start in range(0, resamples, _CHUNK):  # a chunk at a time bounds memory
            size = min(_CHUNK, resamples - start)
            draws = rng.multinomial(group.size, counts / group.size, size=size)
            means[start : start + size] += draws @ values / group.size
    means /= len(groups)
    estimate = float(sum(g.mean() for g in groups) / len(groups))
    tail = (1 - level) / 2
    lo, hi = np.quantile(means, [tail, 1 - tail], method="inverted_cdf")
    return estimate, float(lo), float(hi)


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularized incomplete beta function (modified Lentz)."""
    tiny, c, d = 1e-300, 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        for num in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + num * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1 - math.exp(log_front) * _betacf(b, a, 1 - x) / b


def t_quantile(p: float, df: float) -> float:
    """Student's t quantile for a probability p in (0.5, 1) and df > 0 degrees of freedom
    (any real df, as Welch-Satterthwaite gives), by bisection on its CDF.

    >>> [round(t_quantile(0.975, df), 4) for df in (1, 2, 5, 30)]
    [12.7062, 4.3027, 2.5706, 2.0423]
    """
    if not (0.5 < p < 1 and df > 0):
        raise VisreasonError(f"t_quantile: need 0.5 < p < 1 and df > 0, got p={p}, df={df}")

    def cdf(t: float) -> float:
        return 1 - 0.5 * _betainc(df / 2, 0.5, df / (df + t * t))

    lo, hi = 0.0, 1.0
    while cdf(hi) < p:
        lo, hi = hi, 2 * hi
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cdf(mid) < p else (lo, mid)
        if hi - lo < 1e-12 * hi:
            break
    return (lo + hi) / 2


def window_rise(first: Sequence[Sequence[float]], last: Sequence[Sequence[float]], level: float = 0.95) -> dict:
    """How much a logged quantity rose from a first to a last window of steps, over seeds.

    `first[s]` and `last[s]` are seed s's values in the two windows (two or more each).
    The rise is the mean over seeds of (mean of last - mean of first); its interval is
    Welch's, stratified by seed: variance sum_s (var(last_s)/|last_s| + var(first_s)/|first_s|)/S^2,
    Student's t with Welch-Satterthwaite degrees of freedom. It covers the step-to-step
    noise of these seeds' runs (batches, sampling), not the spread of a new seed:
    `per_seed` shows that.

    >>> r = window_rise([[0.0, 0.2]], [[0.6, 0.8]])
    >>> round(r["rise"], 3), [round(x, 3) for x in r["ci95"]], round(r["df"], 6)
    (0.6, [-0.008, 1.208], 2.0)
    """
    if len(first) != len(last) or not first:
        raise VisreasonError("window_rise: need the same number (at least one) of first and last windows")
    if any(len(w) < 2 for w in (*first, *last)):
        raise VisreasonError("window_rise: every window needs at least two values")
    n_seeds = len(first)
    per_seed = [statistics.fmean(b) - statistics.fmean(a) for a, b in zip(first, last)]
    terms = [(statistics.variance(w) / len(w), len(w)) for w in (*first, *last)]
    var = sum(v for v, _ in terms) / n_seeds**2
    rise = statistics.fmean(per_seed)
    if var == 0:
        return {"rise": rise, "ci95": [rise, rise], "df": math.inf, "per_seed": per_seed}
    df = sum(v for v, _ in terms) ** 2 / sum(v * v / (n - 1) for v, n in terms)
    half = t_quantile(0.5 + level / 2, df) * math.sqrt(var)
    return {"rise": rise, "ci95": [rise - half, rise + half], "df": df, "per_seed": per_seed}


def spread(values: list[float]) -> dict:
    """Mean, sample standard deviation (0 for one value), min and max of seeds' values.

    >>> s = spread([0.2, 0.4])
    >>> round(s["mean"], 3), round(s["std"], 4), s["min"], s["max"]
    (0.3, 0.1414, 0.2, 0.4)
    """
    return {
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
        "values": values,
    }


def aggregate_seeds(metrics: list[dict]) -> dict:
    """Mean and spread (sample std, min, max) over several seeds' `metrics.json` contents.

    Only categories and means present in every seed are aggregated.

    >>> m = lambda a: {"accuracy": {"per_category": {"clock": {"accuracy": a}}, "mean": {"accuracy": a},
    ...                             "in_domain": None, "out_of_domain": None}}
    >>> agg = aggregate_seeds([m(0.2), m(0.4)])
    >>> round(agg["mean"]["mean"], 3), round(agg["mean"]["std"], 4), agg["n_seeds"]
    (0.3, 0.1414, 2)
    """
    if not metrics:
        raise VisreasonError("aggregate_seeds: no metrics given")
    accs = [m["accuracy"] for m in metrics]
    out: dict = {"n_seeds": len(metrics)}
    for key in ("mean", "in_domain", "out_of_domain"):
        vals = [a[key]["accuracy"] for a in accs if a.get(key)]
        out[key] = spread(vals) if len(vals) == len(accs) else None
    cats = set.intersection(*(set(a["per_category"]) for a in accs))
    out["per_category"] = {c: spread([a["per_category"][c]["accuracy"] for a in accs]) for c in sorted(cats)}
    return out
