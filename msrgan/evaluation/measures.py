"""The study's image-quality metrics, one entry each: evaluate computes them (an entry's `compute`, or the learned
judges that batch through a network), the per-image table, the paired tests, the report's tables and sentences and
the figures read them from here, so adding a per-image metric is one line."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from msrgan.evaluation.metrics import (channel_psnr, frc_resolution_rgb, grid_rms, lr_consistency, nrmse_care, psnr,
                                       ssim)
from msrgan.evaluation.spectrum import high_band_ratio, hf_power_deviation, log_spectral_distance_rgb


@dataclass(frozen=True)
class Context:
    """What some metrics need beside the images: evaluate's params and how the LR was made."""
    nrmse_percentiles: tuple[float, float]   # evaluate.nrmse_percentiles
    frc_threshold: float                     # evaluate.frc_threshold
    domain: dict | None = None               # prepare's domain.json, for the LR consistency


Compute = Callable[[np.ndarray, np.ndarray, np.ndarray, Context], float]   # (HR, SR, LR, context) -> value


def _stain(i: int) -> Compute:
    return lambda hr, sr, lr, c: high_band_ratio(hr[..., i], sr[..., i])


@dataclass(frozen=True)
class Metric:
    """One image-quality figure of a method's SR test images against HR."""
    key: str                       # column of evaluate_per_image.csv, key in evaluate.json
    label: str                     # table row
    short: str                     # in the report's sentences
    unit: str = ""
    higher: bool | None = True     # True/False: which way is better (the paired tests' direction); None: best at
                                   #   1 (HR's own value), reported but not tested on its own
    judge: str = "fidelity"        # fidelity | independent (a judge no generator trained against) | loss (the GAN's
                                   #   own loss space) | artefact
    per_image: bool = True         # False: one figure for the whole test split (no paired test)
    digits: int = 3
    in_distributions: bool = False  # a panel of metric_distributions.png
    compute: Compute | None = None  # per image from (HR, SR, LR, Context) H x W x 3 uint8; None: computed in batches
                                    #   by evaluate's network judges (msrgan/evaluation/judges.py)

    @property
    def arrow(self) -> str:
        return {True: "↑", False: "↓", None: "→1"}[self.higher]


METRICS: tuple[Metric, ...] = (
    Metric("psnr", "PSNR (RGB)", "PSNR", "dB", digits=2, in_distributions=True,
           compute=lambda hr, sr, lr, c: psnr(hr, sr)),
    Metric("ssim", "SSIM (RGB)", "SSIM", in_distributions=True, compute=lambda hr, sr, lr, c: ssim(hr, sr)),
    Metric("psnr_r", "PSNR microtubules (R)", "PSNR of R", "dB", digits=2,
           compute=lambda hr, sr, lr, c: channel_psnr(hr, sr, 0)),
    Metric("psnr_g", "PSNR protein (G)", "PSNR of G", "dB", digits=2,
           compute=lambda hr, sr, lr, c: channel_psnr(hr, sr, 1)),
    Metric("psnr_b", "PSNR nucleus (B)", "PSNR of B", "dB", digits=2,
           compute=lambda hr, sr, lr, c: channel_psnr(hr, sr, 2)),
    Metric("nrmse", "NRMSE (CARE normalisation)", "NRMSE", higher=False, in_distributions=True,
           compute=lambda hr, sr, lr, c: nrmse_care(hr, sr, c.nrmse_percentiles)),
    Metric("frc_resolution", "FRC resolution", "FRC resolution", "HR px", higher=False, digits=2,
           in_distributions=True, compute=lambda hr, sr, lr, c: frc_resolution_rgb(hr, sr, c.frc_threshold)),
    Metric("lr_psnr", "LR consistency PSNR", "LR consistency", "dB", digits=2, in_distributions=True,
           compute=lambda hr, sr, lr, c: lr_consistency(sr, lr, c.domain)),
    Metric("hf_power_r", "High-band power / HR's, microtubules (R)", "high-band power of R", higher=None,
           judge="independent", compute=_stain(0)),
    Metric("hf_power_g", "High-band power / HR's, protein (G)", "high-band power of G", higher=None,
           judge="independent", compute=_stain(1)),
    Metric("hf_power_b", "High-band power / HR's, nucleus (B)", "high-band power of B", higher=None,
           judge="independent", compute=_stain(2)),
    Metric("hf_power_dev", "High-band power deviation from HR's", "high-band power deviation", "octaves",
           higher=False, judge="independent", compute=lambda hr, sr, lr, c: hf_power_deviation(hr, sr)),
    Metric("lsd", "Log-spectral distance, high band", "log-spectral distance", "dB", higher=False, digits=2,
           judge="independent", compute=lambda hr, sr, lr, c: log_spectral_distance_rgb(hr, sr)),
    Metric("judge_distance", "Feature distance (judge network)", "judge feature distance", higher=False,
           judge="independent", in_distributions=True),
    Metric("vif", "VIF-p (torchmetrics)", "VIF", judge="independent"),
    Metric("ms_ssim", "MS-SSIM, 3 scales (torchmetrics)", "MS-SSIM", judge="independent"),
    Metric("kid", "KID (judge features)", "KID", higher=False, judge="independent", per_image=False),
    Metric("judge_map", "Judge's localisation mAP on the SR images", "task mAP", judge="independent",
           per_image=False),
    Metric("perceptual", "Perceptual distance (miniVGG19: the GAN's own loss space)", "miniVGG19 distance",
           higher=False, judge="loss", in_distributions=True),
    Metric("grid_pattern", "Grid pattern (RMS at the upsampling grid's frequencies)", "grid pattern", "levels",
           higher=False, judge="artefact", compute=lambda hr, sr, lr, c: grid_rms(sr, sr.shape[0] // lr.shape[0])),
)


# read at call time, so that the one entry above is all a new metric needs (tests add one this way)
def all_metrics() -> tuple[Metric, ...]:
    return METRICS


def metric(key: str) -> Metric | None:
    return next((m for m in METRICS if m.key == key), None)


def per_image() -> tuple[str, ...]:
    """The columns of the per-image table."""
    return tuple(m.key for m in METRICS if m.per_image)


def tested() -> dict[str, bool]:
    """The metrics of the paired tests -> whether higher is better."""
    return {m.key: m.higher for m in METRICS if m.per_image and m.higher is not None}


def image_values(hr: np.ndarray, sr: np.ndarray, lr: np.ndarray, context: Context,
                 metrics: tuple[Metric, ...] | None = None) -> dict[str, float]:
    """Every metric with a `compute` (of `metrics`, default all) of one SR image (H x W x 3 uint8) against its HR,
    with its LR input."""
    return {m.key: float(m.compute(hr, sr, lr, context)) for m in (metrics or METRICS) if m.compute is not None}
