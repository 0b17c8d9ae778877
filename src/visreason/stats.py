"""The statistics that evaluation and the report share: intervals and spreads over seeds."""

from __future__ import annotations

import math
import statistics

from visreason import VisreasonError

Z95 = 1.959963984540054  # two-sided 95% normal quantile


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


def mean_over(per_category: dict[str, dict], categories: list[str]) -> dict | None:
    """Unweighted mean accuracy over `categories` (those present), with a 95% interval.

    The interval is Wilson's with n = all samples of these categories and p = the
    unweighted mean: exact when categories are equally sized (AlgoPuzzleVQA: 100
    each), an approximation otherwise. None when no category is present.
    """
    present = [c for c in categories if c in per_category]
    if not present:
        return None
    acc = sum(per_category[c]["accuracy"] for c in present) / len(present)
    n = sum(per_category[c]["n"] for c in present)
    return {"accuracy": acc, "ci95": list(wilson(acc * n, n)), "n": n, "categories": present}


def _spread(values: list[float]) -> dict:
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
        out[key] = _spread(vals) if len(vals) == len(accs) else None
    cats = set.intersection(*(set(a["per_category"]) for a in accs))
    out["per_category"] = {c: _spread([a["per_category"][c]["accuracy"] for a in accs]) for c in sorted(cats)}
    return out
