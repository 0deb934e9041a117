"""Each image metric against an independent computation or a known answer on small arrays."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from scipy import ndimage as ndi
from scipy.optimize import brentq
from scipy.special import j0
from skimage.metrics import peak_signal_noise_ratio

from msrgan.evaluation import metrics as M
from msrgan.evaluation.measures import Context, image_values, per_image
from msrgan.gridpattern import grid_pattern
from msrgan.models.minivgg import MiniVGG, MiniVGGConfig
from msrgan.params import Evaluate

CARE, FRC = Evaluate().nrmse_percentiles, Evaluate().frc_threshold   # params.yaml's evaluate settings


def textured(seed: int = 0, size: int = 64, lo: int = 20, hi: int = 200) -> np.ndarray:
    """A smooth random RGB uint8 image within [lo, hi] (so offsets do not clip)."""
    rng = np.random.default_rng(seed)
    x = ndi.gaussian_filter(rng.standard_normal((size, size, 3)), (1.5, 1.5, 0))
    x = (x - x.min()) / np.ptp(x)
    return (lo + x * (hi - lo)).round().astype(np.uint8)


def test_identical_images():
    hr = textured()
    assert M.psnr(hr, hr) == float("inf")
    assert M.ssim(hr, hr) == pytest.approx(1.0)
    assert [M.channel_psnr(hr, hr, c) for c in range(3)] == [float("inf")] * 3
    assert M.nrmse_care(hr, hr, CARE) == pytest.approx(0.0, abs=1e-12)
    assert M.frc_resolution_rgb(hr, hr, FRC) == 2.0   # correlation 1 up to Nyquist


def test_constant_offset_gives_the_known_psnr():
    hr = textured()
    sr = hr + np.uint8(10)                       # MSE = 100 in every channel
    expected = 10 * np.log10(255**2 / 100)      # 28.13 dB
    assert M.psnr(hr, sr) == pytest.approx(expected, abs=1e-9)
    assert M.psnr(hr, sr) == pytest.approx(peak_signal_noise_ratio(hr, sr, data_range=255))
    only_green = hr.copy()
    only_green[..., 1] += 10                     # RGB MSE = 100 / 3
    assert M.channel_psnr(hr, only_green, 1) == pytest.approx(expected)
    assert M.channel_psnr(hr, only_green, 0) == M.channel_psnr(hr, only_green, 2) == float("inf")
    assert M.psnr(hr, only_green) == pytest.approx(10 * np.log10(255**2 * 3 / 100))


def _ssim_by_hand(x: np.ndarray, y: np.ndarray, win: int = 7) -> float:
    """SSIM (Wang et al. 2004) with a uniform window and sample covariances, mean over the valid region, per channel."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    out = []
    for c in range(x.shape[2]):
        a, b = x[..., c].astype(float), y[..., c].astype(float)
        f = lambda z: ndi.uniform_filter(z, win, mode="reflect")  # noqa: E731
        n = win * win / (win * win - 1)
        ma, mb = f(a), f(b)
        va, vb, cab = n * (f(a * a) - ma**2), n * (f(b * b) - mb**2), n * (f(a * b) - ma * mb)
        s = ((2 * ma * mb + c1) * (2 * cab + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2))
        pad = win // 2
        out.append(s[pad:-pad, pad:-pad].mean())
    return float(np.mean(out))


def test_ssim_matches_an_independent_computation():
    hr = textured(1)
    rng = np.random.default_rng(2)
    sr = np.clip(hr + rng.normal(0, 12, hr.shape), 0, 255).astype(np.uint8)
    value = M.ssim(hr, sr)
    assert value == pytest.approx(_ssim_by_hand(hr, sr), abs=1e-6)
    assert 0.3 < value < 0.99


def test_shift_lowers_psnr_and_ssim():
    hr = textured(3)
    shifted = np.roll(hr, 2, axis=1)
    assert M.psnr(hr, shifted) < M.psnr(hr, np.roll(hr, 1, axis=1)) < 60
    assert M.ssim(hr, shifted) < M.ssim(hr, np.roll(hr, 1, axis=1)) < 1


def test_nrmse_ignores_an_affine_intensity_change_and_matches_a_polyfit():
    hr = textured(4)
    sr = (0.5 * hr.astype(float) + 30).round().astype(np.uint8)
    assert M.nrmse_care(hr, sr, CARE) < 0.01                # only rounding remains
    rng = np.random.default_rng(5)
    noisy = np.clip(hr + rng.normal(0, 15, hr.shape), 0, 255).astype(np.uint8)
    expected = []
    for c in range(3):
        gt = hr[..., c].astype(float)
        lo, hi = np.percentile(gt, (0.1, 99.9))
        gt = (gt - lo) / (hi - lo)
        a, b = np.polyfit(noisy[..., c].ravel().astype(float), gt.ravel(), 1)
        expected.append(np.sqrt(np.mean((gt - (a * noisy[..., c] + b)) ** 2)))
    assert M.nrmse_care(hr, noisy, CARE) == pytest.approx(np.mean(expected), rel=1e-9)
    flat = np.full_like(hr, 50)
    assert np.isnan(M.nrmse_care(flat, hr, CARE))          # a flat truth has no scale


def test_frc_of_a_shifted_white_noise_image_follows_the_bessel_curve():
    """A shift d rotates the phase by 2 pi f.d; averaged over a ring, FRC(f) = J0(2 pi f d) for white noise, so the
    1/7 crossing lies at f = x0 / (2 pi d) with J0(x0) = 1/7: a resolution of 2 pi d / x0 pixels."""
    x0 = brentq(lambda x: j0(x) - 1 / 7, 1.5, 2.4)
    rng = np.random.default_rng(6)
    noise = rng.standard_normal((256, 256))
    for d in (1, 2):
        freq, frc = M.frc_curve(noise, np.roll(noise, d, axis=1), window=False)
        assert M.frc_resolution(freq, frc, FRC) == pytest.approx(2 * np.pi * d / x0, rel=0.06)
        k = 20   # anywhere on the curve, not only at the crossing
        assert frc[k] == pytest.approx(j0(2 * np.pi * freq[k] * d), abs=0.06)


def test_a_known_blur_coarsens_the_frc_resolution():
    rng = np.random.default_rng(7)
    hr = ndi.gaussian_filter(rng.standard_normal((96, 96)), 0.7)
    hr = (40 + 150 * (hr - hr.min()) / np.ptp(hr)).round()
    resolutions = []
    for sigma in (0.5, 1.5, 3.0):
        sr = ndi.gaussian_filter(hr, sigma) + rng.normal(0, 2, hr.shape)   # blur, then a little noise
        freq, frc = M.frc_curve(hr, sr)
        resolutions.append(M.frc_resolution(freq, frc, FRC))
    assert 2.0 <= resolutions[0] < resolutions[1] < resolutions[2]


def test_frc_resolution_interpolates_between_rings():
    freq = np.array([0, 0.1, 0.2, 0.3])
    frc = np.array([1, 0.5, 0.1, 0.0])
    # crossing of 1/7 between 0.1 (0.5) and 0.2 (0.1): f = 0.1 + (0.5 - 1/7) / 0.4 * 0.1
    assert M.frc_resolution(freq, frc, 1 / 7) == pytest.approx(1 / (0.1 + (0.5 - 1 / 7) / 0.4 * 0.1))


def test_lr_consistency():
    hr = textured(8, size=96)
    lr = cv2.resize(hr, (24, 24), interpolation=cv2.INTER_CUBIC)
    assert M.lr_consistency(hr, lr) == float("inf")    # the truth is perfectly consistent with its LR
    # +4 everywhere survives the (normalised) bicubic kernel: PSNR 10 log10(255^2 / 16), up to rounding
    assert M.lr_consistency(hr + np.uint8(4), lr) == pytest.approx(10 * np.log10(255**2 / 16), abs=0.3)
    blurred = cv2.GaussianBlur(hr, (0, 0), 2.0)
    assert 25 < M.lr_consistency(blurred, lr) < M.lr_consistency(hr + np.uint8(4), lr)


def test_grid_pattern_is_the_energy_at_the_grid_frequencies():
    rng = np.random.default_rng(12)
    image = rng.normal(0, 10, (40, 48, 3))
    spectrum = np.fft.fft2(image, axes=(0, 1))
    grid = np.zeros((40, 48), bool)
    grid[::10, ::12] = True     # multiples of N / 4 in y and x
    grid[0, 0] = False          # not the mean
    expected = np.sqrt((np.abs(spectrum[grid]) ** 2).sum(axis=0)) / image[..., 0].size   # Parseval
    assert grid_pattern(image, 4) == pytest.approx(expected, rel=1e-9)


def test_grid_pattern_sees_a_checkerboard_that_lr_consistency_cannot():
    hr = textured(13, size=96)
    lr = cv2.resize(hr, (24, 24), interpolation=cv2.INTER_CUBIC)
    bicubic = cv2.resize(lr, (96, 96), interpolation=cv2.INTER_CUBIC)
    phase = np.array([[3, -3, 3, -3], [-3, 3, -3, 3]] * 2)          # +-3 levels, zero mean over a 4 x 4 cell
    checker = (bicubic.astype(np.int16) + np.tile(phase, (24, 24))[..., None]).astype(np.uint8)
    assert grid_pattern(bicubic, 4).max() < 0.2     # bicubic leaves (almost) nothing at the grid frequencies
    assert grid_pattern(checker, 4) == pytest.approx(3, abs=0.2)
    assert M.lr_consistency(checker, lr) == pytest.approx(M.lr_consistency(bicubic, lr), abs=0.1)
    assert image_values(hr, checker, lr, Context((0.1, 99.9), 1 / 7))["grid_pattern"] == pytest.approx(3, abs=0.2)


def test_flat_field_pattern_is_zero_for_bicubic_and_the_amplitude_of_a_checkerboard():
    bicubic = lambda images: [cv2.resize(im, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC) for im in images]
    assert M.flat_field_pattern(bicubic) == 0
    phase = np.array([[5, -5, 5, -5], [-5, 5, -5, 5]] * 2)[..., None]
    checker = lambda images: [(sr.astype(np.int16) + np.tile(phase, (sr.shape[0] // 4, sr.shape[1] // 4, 1)))
                              .astype(np.uint8) for sr in bicubic(images)]
    assert M.flat_field_pattern(checker) == pytest.approx(5)


def test_perceptual_distance_is_zero_for_identical_images_and_grows_with_noise():
    torch.manual_seed(0)
    distance = M.PerceptualDistance(MiniVGG(MiniVGGConfig(width=4)).eval(), (2, 3))
    hr = textured(9)
    rng = np.random.default_rng(10)
    small = np.clip(hr + rng.normal(0, 5, hr.shape), 0, 255).astype(np.uint8)
    large = np.clip(hr + rng.normal(0, 40, hr.shape), 0, 255).astype(np.uint8)
    d = distance(np.stack([hr, hr, hr]), np.stack([hr, small, large]))
    assert d[0] == pytest.approx(0, abs=1e-9)
    assert 0 < d[1] < d[2] <= 4
    assert distance(hr, large)[0] == pytest.approx(d[2], rel=1e-5)   # batched == one at a time


def test_every_per_image_metric_is_computed_here_or_by_the_network_judges():
    hr = textured(11, size=96)
    lr = cv2.resize(hr, (24, 24), interpolation=cv2.INTER_CUBIC)
    sr = cv2.resize(lr, (96, 96), interpolation=cv2.INTER_CUBIC)
    values = image_values(hr, sr, lr, Context((0.1, 99.9), 1 / 7))
    assert set(values) | {"perceptual", "judge_distance", "vif", "ms_ssim"} == set(per_image())
    assert values["psnr"] == pytest.approx(peak_signal_noise_ratio(hr, sr, data_range=255))
