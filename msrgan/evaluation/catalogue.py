"""The study's methods and metrics, one entry each: evaluate, segment, the report, its figures and check-repro all
read them from here, so adding a method or a metric is one line."""
from __future__ import annotations

from dataclasses import dataclass

import cv2


@dataclass(frozen=True)
class Method:
    """One upscaling method under study: a classical interpolation (`interpolation`, an OpenCV flag) or a trained
    generator (`model`, its file in data/models, run through the same Upscaler as `msrgan upscale`)."""
    name: str                      # key in evaluate.json, segment.json and the per-image tables
    label: str                     # for people: tables, figures
    colour: str                    # in every figure
    interpolation: int | None = None
    model: str | None = None
    in_figures: bool = True        # a column of the figures and a method of the segmentation study (False: image
                                   #   metrics only, as for Lanczos, a second interpolation baseline)


METHODS: tuple[Method, ...] = (
    Method("bicubic", "Bicubic", "#8c8c8c", interpolation=cv2.INTER_CUBIC),
    Method("lanczos", "Lanczos", "#b8a07a", interpolation=cv2.INTER_LANCZOS4, in_figures=False),
    Method("srresnet", "SRResNet", "#1f77b4", model="srresnet.pt"),
    Method("msrgan", "mSRGAN", "#d62728", model="generator.pt"),
)
BY_NAME = {m.name: m for m in METHODS}
# images that are not a method's output but stand beside them
REFERENCES = {"lr": ("LR input", "#444444"), "hr": ("HR (truth)", "#2ca02c"), "truth": ("True masks", "#000000")}

# The study's paired comparisons (method, baseline), in the order its tables show them.
COMPARISONS = (("msrgan", "bicubic"), ("msrgan", "srresnet"), ("srresnet", "bicubic"))


def label(name: str) -> str:
    """A method's or reference's name for people ('msrgan' -> 'mSRGAN'); unknown names as they are."""
    if name in BY_NAME:
        return BY_NAME[name].label
    return REFERENCES.get(name, (name,))[0]


def colour(name: str) -> str:
    if name in BY_NAME:
        return BY_NAME[name].colour
    return REFERENCES.get(name, (None, "#555555"))[1]


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

    @property
    def arrow(self) -> str:
        return {True: "↑", False: "↓", None: "→1"}[self.higher]


METRICS: tuple[Metric, ...] = (
    Metric("psnr", "PSNR (RGB)", "PSNR", "dB", digits=2, in_distributions=True),
    Metric("ssim", "SSIM (RGB)", "SSIM", in_distributions=True),
    Metric("psnr_r", "PSNR microtubules (R)", "PSNR of R", "dB", digits=2),
    Metric("psnr_g", "PSNR protein (G)", "PSNR of G", "dB", digits=2),
    Metric("psnr_b", "PSNR nucleus (B)", "PSNR of B", "dB", digits=2),
    Metric("nrmse", "NRMSE (CARE normalisation)", "NRMSE", higher=False, in_distributions=True),
    Metric("frc_resolution", "FRC resolution", "FRC resolution", "HR px", higher=False, digits=2,
           in_distributions=True),
    Metric("lr_psnr", "LR consistency PSNR", "LR consistency", "dB", digits=2, in_distributions=True),
    Metric("hf_power_r", "High-band power / HR's, microtubules (R)", "high-band power of R", higher=None,
           judge="independent"),
    Metric("hf_power_g", "High-band power / HR's, protein (G)", "high-band power of G", higher=None,
           judge="independent"),
    Metric("hf_power_b", "High-band power / HR's, nucleus (B)", "high-band power of B", higher=None,
           judge="independent"),
    Metric("hf_power_dev", "High-band power deviation from HR's", "high-band power deviation", "octaves",
           higher=False, judge="independent"),
    Metric("lsd", "Log-spectral distance, high band", "log-spectral distance", "dB", higher=False, digits=2,
           judge="independent"),
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
           higher=False, judge="artefact"),
)
METRIC = {m.key: m for m in METRICS}
PER_IMAGE = tuple(m.key for m in METRICS if m.per_image)
TESTED = {m.key: m.higher for m in METRICS if m.per_image and m.higher is not None}


@dataclass(frozen=True)
class SegmentationScore:
    """One score of a segmentation (nuclei or cells) against the reference, per image."""
    key: str                       # suffix of the column: nuclei_<key>, cells_<key>
    label: str                     # '{iou}' is filled with segment.match_iou
    higher: bool


SEGMENTATION_SCORES: tuple[SegmentationScore, ...] = (
    SegmentationScore("dice", "Dice", True),
    SegmentationScore("iou", "IoU", True),
    SegmentationScore("f1", "object F1 (IoU > {iou:g})", True),
    SegmentationScore("count_error", "abs. count error (objects)", False),
)
