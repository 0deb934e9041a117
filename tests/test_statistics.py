"""Paired tests, Holm correction, effect sizes and bootstrap CIs on samples with a known effect and with none."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from msrgan.statistics import bootstrap_median_ci, compare, holm, rank_biserial, wilcoxon


def test_holm_by_hand():
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> raised to 0.06 (monotone)
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    out = holm([0.01, float("nan"), 0.02])
    assert out[0] == pytest.approx(0.02) and np.isnan(out[1]) and out[2] == pytest.approx(0.02)


def test_rank_biserial_by_hand():
    assert rank_biserial(np.array([1.0, 2.0, 3.0])) == 1.0
    assert rank_biserial(np.array([-1.0, -2.0])) == -1.0
    assert rank_biserial(np.array([1.0, -2.0, 3.0, 0.0])) == pytest.approx((1 + 3 - 2) / 6)   # zeros dropped
    assert rank_biserial(np.zeros(4)) == 0.0


def test_wilcoxon_is_scipys_and_handles_all_ties():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=20), rng.normal(size=20)
    assert wilcoxon(a, b)[1] == pytest.approx(stats.wilcoxon(a - b, zero_method="pratt").pvalue)
    assert wilcoxon(a, a) == (0.0, 1.0)


def test_bootstrap_ci_is_seeded_and_covers_the_median():
    rng = np.random.default_rng(1)
    d = rng.normal(0.3, 1.0, 200)
    ci = bootstrap_median_ci(d, 1000, seed=5)
    assert ci == bootstrap_median_ci(d, 1000, seed=5)
    assert ci[0] < 0.3 < ci[1] and ci[0] < np.median(d) < ci[1]
    assert ci[1] - ci[0] < 0.5


def _table(effect: float, seed: int, n: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = rng.normal(25, 2, n)                          # per-image quality differs a lot between images ...
    method = base + effect + rng.normal(0, 0.3, n)      # ... the paired difference is what the test sees
    error = rng.normal(1.0, 0.2, n)
    rows = [{"id": i, "method": "bicubic", "psnr": base[i], "err": error[i]} for i in range(n)]
    rows += [{"id": i, "method": "msrgan", "psnr": method[i], "err": error[i] - effect / 2} for i in range(n)]
    return pd.DataFrame(rows)


def test_a_known_effect_is_significant_and_in_the_right_direction():
    [psnr, err] = compare(_table(0.5, 2), {"psnr": True, "err": False}, [("msrgan", "bicubic")], seed=0)
    assert psnr.p_holm < 1e-4 and psnr.better and not psnr.worse
    assert psnr.ci_low < 0.5 < psnr.ci_high and psnr.ci_low > 0
    assert psnr.rank_biserial > 0.9
    assert err.better and err.median_diff == pytest.approx(-0.25)   # lower is better: a drop is an improvement
    assert psnr.p_holm == pytest.approx(min(1, 2 * min(psnr.p, err.p)))   # smallest p times 2 (Holm, 2 metrics)


def test_no_effect_is_not_significant():
    for seed in range(3, 8):
        [psnr] = compare(_table(0.0, seed), {"psnr": True}, [("msrgan", "bicubic")], seed=0)
        assert psnr.p_holm > 0.05 and not psnr.better and not psnr.worse
        assert psnr.ci_low < 0 < psnr.ci_high


def test_a_worse_method_is_flagged_worse():
    [psnr] = compare(_table(-0.4, 9), {"psnr": True}, [("msrgan", "bicubic")], seed=0)
    assert psnr.worse and not psnr.better and psnr.rank_biserial < -0.9


def test_non_finite_values_are_dropped_pairwise():
    table = _table(0.5, 10, n=12)
    table.loc[(table.method == "msrgan") & (table.id == 0), "psnr"] = np.inf
    [psnr] = compare(table, {"psnr": True}, [("msrgan", "bicubic")], seed=0)
    assert psnr.n == 11
