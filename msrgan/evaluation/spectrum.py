"""Spectral fidelity of an SR image: how much of the HR image's fine-detail power it carries.

MSE-trained networks return the conditional mean and so lose power at high spatial frequencies (the smooth look);
a GAN is meant to bring it back. Two per-stain figures over the high band (above half of Nyquist, 0.25 to 0.5
cycles per pixel): the ratio of SR to HR power there (1 = as much fine detail as HR; below: too smooth, above:
invented texture or noise) and the log-spectral distance between the two radially averaged spectra.
"""
from __future__ import annotations

import numpy as np

HIGH_BAND = (0.25, 0.5)   # cycles per pixel: from half of Nyquist to Nyquist


def _radii(shape: tuple[int, int]) -> np.ndarray:
    """|f| in cycles per pixel of every DFT bin of an H x W image."""
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.fftfreq(shape[1])[None, :]
    return np.hypot(fy, fx)


def power_spectrum(image: np.ndarray) -> np.ndarray:
    """|DFT|^2 of a 2-D image with its mean removed (float64, same shape), so the DC term does not count."""
    x = image.astype(np.float64)
    return np.abs(np.fft.fft2(x - x.mean())) ** 2


def radial_profile(power: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ring frequency k / N in cycles per pixel, mean power in ring k) for k = 0 .. N // 2, N = min(H, W): the
    radially averaged power spectrum. Rings beyond Nyquist (the corners) are left out."""
    n = min(power.shape)
    ring = np.rint(_radii(power.shape) * n).astype(int)
    inside = ring <= n // 2
    sums = np.bincount(ring[inside], power[inside], n // 2 + 1)
    counts = np.bincount(ring[inside], minlength=n // 2 + 1)
    return np.arange(n // 2 + 1) / n, sums / np.maximum(counts, 1)


def high_band_ratio(reference: np.ndarray, test: np.ndarray, band: tuple[float, float] = HIGH_BAND) -> float:
    """Power of `test` over power of `reference` in the band (2-D images of one stain, any real dtype); NaN when the
    reference has no power there (a flat stain)."""
    radii = _radii(reference.shape)
    inside = (radii > band[0]) & (radii <= band[1])
    ref = power_spectrum(reference)[inside].sum()
    return float(power_spectrum(test)[inside].sum() / ref) if ref > 0 else float("nan")


def log_spectral_distance(reference: np.ndarray, test: np.ndarray, band: tuple[float, float] = HIGH_BAND) -> float:
    """Log-spectral distance in dB over the band: sqrt(mean over rings of (10 log10(P_test / P_ref))^2), P the
    radially averaged power spectra (Gray and Markel 1976, here over spatial-frequency rings). 0 for equal spectra;
    NaN when the reference has no power in some ring of the band."""
    freq, ref = radial_profile(power_spectrum(reference))
    _, out = radial_profile(power_spectrum(test))
    rings = (freq > band[0]) & (freq <= band[1])
    ref, out = ref[rings], out[rings]
    if not rings.any() or (ref <= 0).any():
        return float("nan")
    ratio = np.maximum(out, 1e-12 * ref.max()) / ref   # an SR ring with no power counts as -120 dB, not -inf
    return float(np.sqrt(np.mean((10 * np.log10(ratio)) ** 2)))


def hf_power_deviation(reference: np.ndarray, test: np.ndarray) -> float:
    """Mean over the stains (H x W x C) of |log2 high_band_ratio|, in octaves of power: 0 = as much high-band power
    as HR in every stain, 1 = half or twice as much; NaN when no stain has HR power there."""
    ratios = [high_band_ratio(reference[..., i], test[..., i]) for i in range(reference.shape[2])]
    ratios = [r for r in ratios if np.isfinite(r)]
    return float(np.mean(np.abs(np.log2(np.maximum(ratios, 1e-6))))) if ratios else float("nan")


def log_spectral_distance_rgb(reference: np.ndarray, test: np.ndarray) -> float:
    """`log_spectral_distance` averaged over the stains (H x W x C) that have HR power in every ring of the band."""
    values = [log_spectral_distance(reference[..., i], test[..., i]) for i in range(reference.shape[2])]
    values = [v for v in values if np.isfinite(v)]
    return float(np.mean(values)) if values else float("nan")


def mean_radial_spectrum(images: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(frequency, C x rings mean radially averaged power) over same-size H x W x C images, for the figure."""
    profiles = [[radial_profile(power_spectrum(im[..., c]))[1] for c in range(im.shape[2])] for im in images]
    freq = radial_profile(power_spectrum(images[0][..., 0]))[0]
    return freq, np.mean(profiles, axis=0)
