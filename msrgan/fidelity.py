"""PSNR and SSIM, exactly scikit-image's definitions with data range 255: the one definition that training's
validation and evaluate's tables share (so the numbers compare with each other and with the literature)."""
from __future__ import annotations

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity


def psnr(reference: np.ndarray, test: np.ndarray, data_range: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB of two equal-shape arrays (scikit-image's definition); identical images
    give +inf, without a warning."""
    if np.array_equal(reference, test):
        return float("inf")
    return float(peak_signal_noise_ratio(reference, test, data_range=data_range))


def ssim(reference: np.ndarray, test: np.ndarray) -> float:
    """Mean SSIM over the channels of two H x W x C uint8 images: skimage structural_similarity(channel_axis=2,
    data_range=255)."""
    return float(structural_similarity(reference, test, channel_axis=2, data_range=255))
