"""The independent judges: spectral fidelity against known answers, the judge network, KID and the weight-free
metrics from torchmetrics."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage as ndi

from msrgan.evaluation import spectrum
from msrgan.evaluation.judges import IndependentJudge, weight_free
from msrgan.models.judge import Judge, JudgeConfig, load_judge, save_judge


def field(seed: int = 0, size: int = 96) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = ndi.gaussian_filter(rng.normal(0, 1, (size, size, 3)), (1.0, 1.0, 0)) * 40 + 100
    return np.clip(image, 0, 255).astype(np.uint8)


def test_spectral_fidelity_known_answers():
    hr = field(1).astype(np.float64)
    assert spectrum.high_band_ratio(hr[..., 0], hr[..., 0]) == pytest.approx(1.0)
    assert spectrum.log_spectral_distance(hr[..., 0], hr[..., 0]) == pytest.approx(0.0)
    # twice the contrast: four times the power at every frequency, 10 log10(4) dB everywhere
    assert spectrum.high_band_ratio(hr[..., 0], 2 * hr[..., 0]) == pytest.approx(4.0)
    assert spectrum.log_spectral_distance(hr[..., 0], 2 * hr[..., 0]) == pytest.approx(10 * np.log10(4))
    assert spectrum.hf_power_deviation(hr, 2 * hr) == pytest.approx(2.0)      # log2(4) octaves in every stain
    smooth = ndi.gaussian_filter(hr, (1.5, 1.5, 0))
    noisy = hr + np.random.default_rng(2).normal(0, 20, hr.shape)
    assert spectrum.high_band_ratio(hr[..., 1], smooth[..., 1]) < 0.2 < 1 < spectrum.high_band_ratio(hr[..., 1],
                                                                                                   noisy[..., 1])
    assert np.isnan(spectrum.high_band_ratio(np.full((32, 32), 7.0), hr[:32, :32, 0]))   # a flat HR stain
    # Parseval: the ring-averaged spectrum's total over all bins equals the image's variance times its size squared
    power = spectrum.power_spectrum(hr[..., 2])
    assert power.sum() / hr[..., 2].size ** 2 == pytest.approx(hr[..., 2].var())


def test_the_judge_network_shapes_and_file():
    torch.manual_seed(0)
    judge = Judge(JudgeConfig(width=4, blocks=1)).eval()
    x = torch.rand(2, 3, 96, 96)
    assert judge(x).shape == (2, 13)
    feats = judge.features(x, (1, 2, 3, 4))
    assert [f.shape[1] for f in feats] == [4, 8, 16, 32] and [f.shape[-1] for f in feats] == [96, 48, 24, 12]
    assert judge.embedding(x).shape == (2, 32)


def test_judge_file_round_trip(tmp_path):
    torch.manual_seed(0)
    judge = Judge(JudgeConfig(width=4, blocks=1)).eval()
    save_judge(tmp_path / "judge.pt", judge)
    loaded, _ = load_judge(tmp_path / "judge.pt")
    x = torch.rand(1, 3, 64, 64)
    assert torch.equal(judge(x), loaded(x))


def test_kid_is_near_zero_for_one_distribution_seeded_and_leaves_the_global_generator_alone():
    torch.manual_seed(0)
    judge = IndependentJudge(Judge(JudgeConfig(width=4, blocks=1)).eval())
    a = [field(i) for i in range(12)]
    b = [field(100 + i) for i in range(12)]
    blurred = [np.clip(ndi.gaussian_filter(im.astype(float), (2, 2, 0)), 0, 255).astype(np.uint8) for im in b]
    state = torch.random.get_rng_state()

    def kid(x, y, seed=0):
        acc = judge.kid(20, 6)
        acc.update(x, y)
        return acc.compute(seed)
    same, other = kid(a, b), kid(a, blurred)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert kid(a, b) == same                               # the subsets are seeded
    assert abs(same[0]) < other[0] and other[1] >= 0


def test_task_map_and_weight_free_metrics():
    judge = IndependentJudge(Judge(JudgeConfig(width=4, blocks=1)).eval())
    labels = [(0,), (1, 3), (0, 3)]
    perfect = np.zeros((3, 13))
    for i, classes in enumerate(labels):
        perfect[i, list(classes)] = 1
    assert judge.task_map(perfect, labels) == pytest.approx(1.0)
    hr = [field(5), field(6)]
    same = weight_free(hr, hr)
    assert same["vif"] == pytest.approx([1, 1], abs=1e-4) and same["ms_ssim"] == pytest.approx([1, 1], abs=1e-6)
    blurred = [np.clip(ndi.gaussian_filter(im.astype(float), (1.5, 1.5, 0)), 0, 255).astype(np.uint8) for im in hr]
    worse = weight_free(hr, blurred)
    assert (worse["vif"] < 0.9).all() and (worse["ms_ssim"] < 1).all()
