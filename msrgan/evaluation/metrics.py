"""Image-quality metrics of a super-resolved (SR) image against its high-resolution truth (HR).

All functions take HxWx3 uint8 RGB arrays (R microtubules, G protein, B nucleus) unless said otherwise. PSNR and SSIM
are exactly scikit-image's definitions with data range 255, so the numbers compare with the literature.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from msrgan.data.optics import redownscale  # how an LR image is made, by the recorded degradation
from msrgan.fidelity import psnr, ssim  # noqa: F401 - the study's PSNR and SSIM, also imported from here
from msrgan.gridpattern import grid_pattern


def channel_psnr(reference: np.ndarray, test: np.ndarray, channel: int) -> float:
    """PSNR of one stain (channel index of H x W x C images) on its own."""
    return psnr(reference[..., channel], test[..., channel])


def percentile_normalise(x: np.ndarray, pmin: float, pmax: float) -> np.ndarray | None:
    """(x - p_low) / (p_high - p_low) as CARE normalises its ground truth; None when the image is flat."""
    lo, hi = np.percentile(x, (pmin, pmax))
    if hi <= lo:
        return None
    return (x.astype(np.float64) - lo) / (hi - lo)


def affine_fit(x: np.ndarray, target: np.ndarray) -> np.ndarray:
    """a * x + b with a, b the least-squares fit to `target` (CARE's prediction normalisation)."""
    x = x.astype(np.float64).ravel()
    t = target.astype(np.float64).ravel()
    var = np.var(x)
    a = np.mean((x - x.mean()) * (t - t.mean())) / var if var > 0 else 0.0
    return (a * (x - x.mean()) + t.mean()).reshape(target.shape)


def nrmse_care(reference: np.ndarray, test: np.ndarray, percentiles: tuple[float, float]) -> float:
    """NRMSE as in CARE (Weigert et al. 2018): per channel, the truth normalised by its `percentiles` (evaluate's
    nrmse_percentiles), the prediction by the affine map that fits it best to that, then the RMSE; averaged over
    channels. Channels whose truth is flat have no scale and are left out (NaN when all are)."""
    values = []
    for i in range(reference.shape[2]):
        gt = percentile_normalise(reference[..., i], *percentiles)
        if gt is None:
            continue
        pred = affine_fit(test[..., i], gt)
        values.append(np.sqrt(np.mean((gt - pred) ** 2)))
    return float(np.mean(values)) if values else float("nan")


# ---------------------------------------------------------------- Fourier ring correlation
def _tukey2d(shape: tuple[int, int], alpha: float = 0.25) -> np.ndarray:
    """Separable Tukey window: flat middle, cosine edges, so the image border does not leak a cross into the FFT."""
    def tukey(n: int) -> np.ndarray:
        w = np.ones(n)
        edge = int(np.floor(alpha * (n - 1) / 2))
        if edge > 0:
            k = np.arange(edge)
            w[:edge] = 0.5 * (1 - np.cos(np.pi * k / edge))
            w[n - edge:] = w[:edge][::-1]
        return w
    return np.outer(tukey(shape[0]), tukey(shape[1]))


def frc_curve(a: np.ndarray, b: np.ndarray, window: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(spatial frequency in cycles per pixel, FRC) for two equal-size 2-D images, one ring per frequency step
    1/N up to Nyquist (0.5). FRC(r) = Re sum F_a conj(F_b) / sqrt(sum |F_a|^2 sum |F_b|^2) over ring r."""
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"frc_curve needs two equal 2-D images, got {a.shape} and {b.shape}")
    a = a.astype(np.float64) - a.mean()
    b = b.astype(np.float64) - b.mean()
    if window:
        w = _tukey2d(a.shape)
        a, b = a * w, b * w
    fa, fb = np.fft.fft2(a), np.fft.fft2(b)
    h, w_ = a.shape
    n = min(h, w_)
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w_)[None, :]
    ring = np.rint(np.hypot(fy, fx) * n).astype(int)  # ring k holds |f| ~ k / n
    n_rings = n // 2 + 1
    inside = ring < n_rings
    ring = ring[inside]
    num = np.bincount(ring, (fa * np.conj(fb)).real[inside], n_rings)
    pa = np.bincount(ring, (np.abs(fa) ** 2)[inside], n_rings)
    pb = np.bincount(ring, (np.abs(fb) ** 2)[inside], n_rings)
    denom = np.sqrt(pa * pb)
    frc = np.divide(num, denom, out=np.zeros(n_rings), where=denom > 0)
    return np.arange(n_rings) / n, frc


def frc_resolution(freq: np.ndarray, frc: np.ndarray, threshold: float) -> float:
    """Resolution in pixels (1 / frequency) where the FRC first falls below `threshold` (evaluate's frc_threshold,
    0.142857 in params.yaml), linearly interpolated between rings; 2 px (Nyquist) when it never does. Ring 0 (the
    mean) is ignored."""
    for k in range(1, len(frc)):
        if frc[k] < threshold:
            f0, f1, c0, c1 = freq[k - 1], freq[k], frc[k - 1], frc[k]
            f = f1 if k == 1 or c0 == c1 else f0 + (c0 - threshold) * (f1 - f0) / (c0 - c1)
            return float(1.0 / max(f, freq[1]))
    return 2.0


def frc_resolution_rgb(reference: np.ndarray, test: np.ndarray, threshold: float) -> float:
    """FRC resolution between SR and HR in HR pixels, the mean over the channels that carry signal (lower = finer)."""
    values = []
    for i in range(reference.shape[2]):
        if np.ptp(reference[..., i]) == 0:
            continue
        freq, frc = frc_curve(reference[..., i], test[..., i])
        values.append(frc_resolution(freq, frc, threshold))
    return float(np.mean(values)) if values else float("nan")


# ---------------------------------------------------------------- LR consistency
def lr_consistency(sr: np.ndarray, lr: np.ndarray, domain: dict | None = None) -> float:
    """PSNR between the SR image downscaled the way the LR was made (prepare's recorded `domain`: bicubic, or the
    microscope's expected LR, optics.redownscale) and the LR input itself: structure that the network invented, or
    detail it lost, shows up here without any HR truth."""
    scale = sr.shape[0] // lr.shape[0]
    return psnr(lr, redownscale(sr, scale, domain))


# ---------------------------------------------------------------- grid pattern on flat fields (msrgan.gridpattern)
FLAT_LEVELS = ((32, 128, 217), (217, 32, 128), (128, 217, 32))   # 8-bit RGB: each channel at each level once


def flat_field_pattern(upscale: Callable[[list[np.ndarray]], list[np.ndarray]], size: int = 128,
                       margin: int = 48) -> float:
    """The largest grid-pattern RMS (8-bit levels, `grid_pattern`) that `upscale` (LR H x W x 3 uint8 images -> SR
    ones) puts on flat fields of FLAT_LEVELS, `size` LR pixels square; the outer `margin` LR pixels are left out so
    that the border's zero padding does not count (48: more than the paper-size generator's receptive radius, 40). A
    flat input has nothing at the grid's frequencies: anything there is the upscaler's own pattern (bicubic: 0; a
    sub-pixel checkerboard: its amplitude)."""
    fields = [np.broadcast_to(np.array(level, np.uint8), (size, size, 3)).copy() for level in FLAT_LEVELS]
    worst = 0.0
    for sr in upscale(fields):
        crop = margin * sr.shape[0] // size
        worst = max(worst, float(grid_pattern(sr[crop:-crop, crop:-crop], sr.shape[0] // size).max()))
    return worst


# ---------------------------------------------------------------- perceptual distance
@dataclass
class PerceptualDistance:
    """Distance of two images in the feature space of the trained miniVGG19 classifier: per block, the features of
    each pixel are scaled to unit length over channels (as LPIPS does, so blocks of different magnitude weigh
    alike), then the mean squared difference; averaged over blocks. 0 for identical images, at most 4."""
    model: torch.nn.Module
    blocks: tuple[int, ...] = (2, 3, 4)
    device: str = "cpu"

    @torch.no_grad()
    def __call__(self, reference: np.ndarray, tests: np.ndarray) -> np.ndarray:
        """Distances of each test image (N x H x W x 3 uint8) to the reference (H x W x 3 or N x H x W x 3)."""
        ref = _to_tensor(reference, self.device)
        out = _to_tensor(tests, self.device)
        if ref.shape[0] == 1 and out.shape[0] > 1:
            ref = ref.expand_as(out)
        total = torch.zeros(out.shape[0], device=self.device)
        for fa, fb in zip(self.model.features(ref, self.blocks), self.model.features(out, self.blocks)):
            fa = fa / (fa.norm(dim=1, keepdim=True) + 1e-10)
            fb = fb / (fb.norm(dim=1, keepdim=True) + 1e-10)
            total += ((fa - fb) ** 2).sum(dim=1).mean(dim=(1, 2))
        return (total / len(self.blocks)).cpu().numpy().astype(np.float64)


def _to_tensor(images: np.ndarray, device: str) -> torch.Tensor:
    if images.ndim == 3:
        images = images[None]
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div(255).to(device)


def grid_rms(sr: np.ndarray, scale: int) -> float:
    """The grid pattern of an SR image (`grid_pattern`), as one RMS over its channels, 8-bit levels."""
    return float(np.sqrt(np.square(grid_pattern(sr, scale)).mean()))
