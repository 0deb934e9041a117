"""Paired comparisons of two methods on the same test images: Wilcoxon signed-rank test, Holm correction across
metrics, matched-pairs rank-biserial effect size and a seeded bootstrap CI of the median difference."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1); NaN stays NaN and is not counted."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = len(valid)
    running = 0.0
    for rank, i in enumerate(valid[np.argsort(p[valid], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out.tolist()


def rank_biserial(diff: np.ndarray) -> float:
    """Matched-pairs rank-biserial correlation (Kerby 2014): (sum of positive ranks - sum of negative ranks) / total,
    over the non-zero differences ranked by size. +1: every pair favours the first sample, 0: no tendency."""
    d = np.asarray(diff, dtype=float)
    d = d[d != 0]
    if d.size == 0:
        return 0.0
    ranks = stats.rankdata(np.abs(d))
    return float((ranks[d > 0].sum() - ranks[d < 0].sum()) / ranks.sum())


def bootstrap_median_ci(diff: np.ndarray, n_boot: int = 2000, level: float = 0.95, seed: int = 0
                        ) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the median of paired differences (resampling the images)."""
    d = np.asarray(diff, dtype=float)
    rng = np.random.default_rng(seed)
    medians = np.median(d[rng.integers(0, d.size, size=(n_boot, d.size))], axis=1)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(medians, (tail, 100 - tail))
    return float(lo), float(hi)


@dataclass
class PairedTest:
    metric: str
    method: str           # the method under test ...
    baseline: str         # ... against this one; differences are method - baseline
    n: int
    median_method: float
    median_baseline: float
    median_diff: float
    ci_low: float
    ci_high: float
    statistic: float
    p: float
    p_holm: float
    rank_biserial: float  # > 0: method's values tend to be higher
    higher_is_better: bool
    better: bool          # significant after Holm and in the good direction
    worse: bool           # significant after Holm and in the bad direction


def wilcoxon(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Two-sided Wilcoxon signed-rank test of a - b (Pratt: zero differences kept for ranking); (statistic, p).
    All-equal pairs give p = 1 (no evidence of a difference) rather than an error."""
    d = np.asarray(a, float) - np.asarray(b, float)
    if d.size == 0 or np.all(d == 0):
        return 0.0, 1.0
    res = stats.wilcoxon(d, zero_method="pratt", alternative="two-sided")
    return float(res.statistic), float(res.pvalue)


def compare(table: pd.DataFrame, metrics: dict[str, bool], pairs: Sequence[tuple[str, str]], seed: int = 0,
            n_boot: int = 2000, alpha: float = 0.05, key: str = "id") -> list[PairedTest]:
    """Paired tests for each (method, baseline) pair and each metric in `metrics` (name -> higher is better), from a
    long table with columns `key`, `method` and the metrics. Holm-corrected across the metrics of each pair; images
    where either value is missing or not finite are dropped for that metric."""
    results: list[PairedTest] = []
    for method, baseline in pairs:
        a_tab = table[table["method"] == method].set_index(key)
        b_tab = table[table["method"] == baseline].set_index(key)
        rows = []
        for j, (metric, higher) in enumerate(metrics.items()):
            joined = pd.concat([a_tab[metric].rename("a"), b_tab[metric].rename("b")], axis=1, join="inner")
            joined = joined[np.isfinite(joined["a"]) & np.isfinite(joined["b"])]
            a, b = joined["a"].to_numpy(float), joined["b"].to_numpy(float)
            d = a - b
            if d.size == 0:
                continue
            stat, p = wilcoxon(a, b)
            lo, hi = bootstrap_median_ci(d, n_boot, seed=seed + j)
            rows.append(dict(metric=metric, method=method, baseline=baseline, n=int(d.size),
                             median_method=float(np.median(a)), median_baseline=float(np.median(b)),
                             median_diff=float(np.median(d)), ci_low=lo, ci_high=hi, statistic=stat, p=p,
                             rank_biserial=rank_biserial(d), higher_is_better=higher))
        for row, p_adj in zip(rows, holm([r["p"] for r in rows])):
            significant = p_adj < alpha
            good = row["rank_biserial"] > 0 if row["higher_is_better"] else row["rank_biserial"] < 0
            results.append(PairedTest(**row, p_holm=p_adj, better=bool(significant and good),
                                      worse=bool(significant and not good and row["rank_biserial"] != 0)))
    return results


def finite_or_none(value):
    """JSON has no NaN/inf: a float that is not finite (or None) becomes None, other values stay as they are."""
    if value is None:
        return None
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    return value


def as_records(tests: Sequence[PairedTest]) -> list[dict]:
    """Plain dicts for JSON, with NaN/inf (which JSON cannot hold) as None."""
    return [{k: finite_or_none(v) for k, v in asdict(t).items()} for t in tests]
