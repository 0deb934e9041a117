"""The report stage: metrics/report.md, the study's result in one place, and every figure of the study but the
segmentation overlay, all made from what evaluate and segment wrote (metrics files, the test images and evaluate's SR
images; never edited by hand), so a change of wording or colour reruns only this stage."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from msrgan.atomic import write_text
from msrgan.errors import fail
from msrgan.evaluation import figures
from msrgan.evaluation.figures import name
from msrgan.evaluation.metrics import METRICS
from msrgan.evaluation.testset import load_test_split
from msrgan.imageio import read_image, read_png_rgb
from msrgan.segmentation import figures as segmentation_figures
from msrgan.statistics import COMPARISONS

IMAGE_COLUMNS = ("bicubic", "lanczos", "srresnet", "msrgan")
SEG_COLUMNS = ("hr", "bicubic", "srresnet", "msrgan")
SEG_METRICS = {"dice": ("Dice", True), "iou": ("IoU", True), "f1": ("object F1 (IoU > {iou:g})", True),
               "count_error": ("abs. count error (objects)", False)}
SHORT = {"psnr": "PSNR", "ssim": "SSIM", "psnr_r": "PSNR of R", "psnr_g": "PSNR of G", "psnr_b": "PSNR of B",
         "nrmse": "NRMSE", "frc_resolution": "FRC resolution", "perceptual": "perceptual distance",
         "lr_psnr": "LR consistency", "grid_pattern": "grid pattern"}
TESTS_LEGEND = ("Each cell: verdict (**better**/**worse**: significant after Holm correction in that direction, "
                "n.s.: not significant), median per-image difference [95% bootstrap CI], Holm-corrected p of the "
                "paired Wilcoxon signed-rank test, rank-biserial effect size r (+1: the first method is higher on "
                "every image, -1: lower on every image).")
FIGURES = (
    ("examples.png", "Test images from worst to best mSRGAN PSNR, with zoomed windows"),
    ("metric_distributions.png", "Image-quality metrics per test image"),
    ("frc_curves.png", "Fourier ring correlation with HR"),
    ("segmentation_overlay.png", "Segmentation outlines on each method's images"),
    ("segmentation_scores.png", "Segmentation scores per test image"),
)


def _load(path: Path) -> dict:
    if not path.is_file():
        fail(f"{path}: not found (run the evaluate and segment stages)")
    return json.loads(path.read_text())


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "–"
    if value != 0 and abs(value) < 0.001:
        return f"{value:.2e}"
    if abs(value) >= 100:
        return f"{value:.1f}"
    return f"{value:.{digits}f}"


def _digits(metric: str) -> int:
    return 2 if metric.startswith(("psnr", "lr_psnr", "frc")) else 3


def _table_means(summary: dict, columns, rows: dict[str, tuple[str, bool]]) -> list[str]:
    """Markdown table: one row per metric, one column per method, the best in bold."""
    columns = [c for c in columns if c in summary]
    lines = ["| metric | " + " | ".join(name(c) for c in columns) + " |",
             "|---|" + "---:|" * len(columns)]
    for metric, (label, higher) in rows.items():
        values = {c: summary[c].get(metric) for c in columns}
        present = [v for c, v in values.items() if v is not None and c != "hr"]
        best = _fmt((max if higher else min)(present), _digits(metric)) if present else None
        cells = []
        for c in columns:
            text = _fmt(values[c], _digits(metric))
            bold = values[c] is not None and text == best and c != "hr"   # ties as shown
            cells.append(f"**{text}**" if bold else text)
        lines.append(f"| {label} {'↑' if higher else '↓'} | " + " | ".join(cells) + " |")
    return lines


def _verdict(test: dict) -> str:
    if test["better"]:
        return "**better**"
    if test["worse"]:
        return "**worse**"
    return "n.s."


def _table_tests(tests: dict[tuple[str, str, str], dict], metrics: dict[str, str], pairs) -> list[str]:
    """Markdown table: one row per metric, one column per comparison; each cell the verdict, the median paired
    difference with its 95% CI, the Holm-corrected p and the rank-biserial effect size."""
    pairs = [p for p in pairs if any((*p, m) in tests for m in metrics)]
    lines = ["| metric | " + " | ".join(f"{name(a)} − {name(b)}" for a, b in pairs) + " |",
             "|---|" + "---|" * len(pairs)]
    for metric, label in metrics.items():
        cells = []
        for method, baseline in pairs:
            t = tests.get((method, baseline, metric))
            if t is None:
                cells.append("–")
                continue
            cells.append(f"{_verdict(t)}: {_signed(t['median_diff'], metric)} "
                         f"[{_signed(t['ci_low'], metric)}, {_signed(t['ci_high'], metric)}], "
                         f"p {_p(t['p_holm'])}, r {t['rank_biserial']:+.2f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def _signed(value: float, metric: str) -> str:
    if value != 0 and abs(value) < 0.001:
        return f"{value:+.1e}"
    return f"{value:+.{_digits(metric)}f}"


def _p(p) -> str:
    if p is None:
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _count(tests, method, baseline, metrics) -> tuple[list[str], list[str]]:
    better = [m for m in metrics if tests.get((method, baseline, m), {}).get("better")]
    worse = [m for m in metrics if tests.get((method, baseline, m), {}).get("worse")]
    return better, worse


def _listing(labels: list[str]) -> str:
    return ", ".join(labels) if labels else "none"


def summary_paragraph(evaluate: dict, eval_tests: dict, segment: dict, seg_tests: dict, n: int) -> str:
    """A plain-language paragraph written from the numbers: what mSRGAN does better or worse, and how sure we are."""
    e = {m: evaluate.get(m, {}) for m in ("bicubic", "srresnet", "msrgan")}
    out = [f"On {n} held-out test images, mSRGAN's images reached a mean PSNR of {_fmt(e['msrgan'].get('psnr'), 2)} dB "
           f"and SSIM {_fmt(e['msrgan'].get('ssim'))}, against {_fmt(e['bicubic'].get('psnr'), 2)} dB / "
           f"{_fmt(e['bicubic'].get('ssim'))} for bicubic interpolation and {_fmt(e['srresnet'].get('psnr'), 2)} dB / "
           f"{_fmt(e['srresnet'].get('ssim'))} for SRResNet (the same generator trained on pixel error alone)."]
    for baseline, prose in (("bicubic", "bicubic"), ("srresnet", "SRResNet")):
        better, worse = _count(eval_tests, "msrgan", baseline, METRICS)
        text = (f"Against {prose}, mSRGAN was significantly better on {len(better)} of {len(METRICS)} image "
                f"metrics ({_listing([SHORT[m] for m in better])}) and significantly worse on {len(worse)} "
                f"({_listing([SHORT[m] for m in worse])})")
        t = eval_tests.get(("msrgan", baseline, "psnr"))
        if t is not None:
            text += (f"; the median PSNR difference per image was {t['median_diff']:+.2f} dB "
                     f"(95% CI {t['ci_low']:+.2f} to {t['ci_high']:+.2f})")
        out.append(text + ".")
    lr_m, lr_s, lr_b = (e[m].get("lr_psnr") for m in ("msrgan", "srresnet", "bicubic"))
    if None not in (lr_m, lr_s, lr_b):
        if lr_m < min(lr_s, lr_b) - 1.0:
            out.append(f"Downscaled again, mSRGAN's images agree less with the measured LR input ({lr_m:.1f} dB) "
                       f"than SRResNet's ({lr_s:.1f} dB) or bicubic's ({lr_b:.1f} dB): part of the detail it adds is "
                       f"not supported by the measurement, so fine structure in its images should not be trusted "
                       f"on its own.")
        else:
            out.append(f"Downscaled again, mSRGAN's images stay consistent with the measured LR input "
                       f"({lr_m:.1f} dB, SRResNet {lr_s:.1f} dB, bicubic {lr_b:.1f} dB): it does not visibly "
                       f"contradict the data it was given.")
    flat = {m: e[m]["flat_grid_pattern"] for m in ("srresnet", "msrgan") if "flat_grid_pattern" in e.get(m, {})}
    if flat:
        worst = max(flat.values())
        verdict = ("below one 8-bit level: no visible checkerboard" if worst < 1 else
                   "a visible checkerboard, which the LR-consistency figure cannot show (it averages out)")
        out.append(f"On flat fields the generators' output has a 4x4 grid pattern of "
                   f"{_listing([f'{v:.2f} ({m})' for m, v in flat.items()])} 8-bit levels RMS: {verdict}.")
    ref = segment.get("reference", {})
    truth = ref.get("nuclei") == "truth"
    against = "the true masks" if truth else "the segmentation of the HR images"
    seg = []
    for target in ("nuclei", "cells"):
        key = f"{target}_dice"
        m, b, s = (segment.get(x, {}).get(key) for x in ("msrgan", "bicubic", "srresnet"))
        if None in (m, b, s):
            continue
        tb = seg_tests.get(("msrgan", "bicubic", key), {})
        ts = seg_tests.get(("msrgan", "srresnet", key), {})
        word = lambda t: "significantly higher than" if t.get("better") else (  # noqa: E731
            "significantly lower than" if t.get("worse") else "not significantly different from")
        seg.append(f"{target} Dice {m:.3f}, {word(tb)} bicubic ({b:.3f}) and {word(ts)} SRResNet ({s:.3f})")
    if seg:
        text = f"Segmented with the same procedure and scored against {against}, mSRGAN's images gave " + \
               "; ".join(seg) + "."
        if truth and segment.get("hr", {}).get("nuclei_dice") is not None:
            text += (f" The HR images themselves reach a nuclei Dice of {segment['hr']['nuclei_dice']:.3f} and a "
                     f"cells Dice of {_fmt(segment['hr'].get('cells_dice'))}: the ceiling of this segmentation.")
        out.append(text)
    seg_metrics = ("nuclei_dice", "nuclei_f1", "cells_dice", "cells_f1")
    img_better_b, _ = _count(eval_tests, "msrgan", "bicubic", ("psnr", "ssim"))
    img_better_s, img_worse_s = _count(eval_tests, "msrgan", "srresnet", ("psnr", "ssim"))
    seg_better_b, seg_worse_b = _count(seg_tests, "msrgan", "bicubic", seg_metrics)
    seg_better_s, seg_worse_s = _count(seg_tests, "msrgan", "srresnet", seg_metrics)
    verdict = "**In short:** "
    verdict += ("mSRGAN beats bicubic on pixel fidelity" if len(img_better_b) == 2 else
                "mSRGAN does not clearly beat bicubic on pixel fidelity (PSNR and SSIM)")
    verdict += (", beats SRResNet too" if len(img_better_s) == 2 else
                ", is worse than SRResNet on it (a perceptual/adversarial loss often trades pixel fidelity for texture)"
                if img_worse_s else ", and is not distinguishable from SRResNet on it")
    if seg_better_b and not seg_worse_b:
        verdict += ", and it makes segmentation better than bicubic"
    elif seg_worse_b:
        verdict += ", and it makes segmentation worse than bicubic on some scores"
    else:
        verdict += ", and it does not make segmentation measurably better than bicubic"
    verdict += (" or SRResNet." if not seg_better_s and not seg_worse_s else
                " and than SRResNet." if seg_better_s and not seg_worse_s else
                " (and worse than SRResNet on some scores).")
    out.insert(0, verdict)
    if n < 30:
        out.append(f"With only {n} test images the confidence intervals are wide; read the differences with care.")
    out.append("All tests are two-sided paired Wilcoxon signed-rank tests, Holm-corrected across the metrics of each "
               "comparison at the 5% level.")
    return " ".join(out)


def _index(tests: list[dict]) -> dict[tuple[str, str, str], dict]:
    """{(method, baseline, metric): test} from the list in evaluate_tests.json / segment_tests.json."""
    return {(t["method"], t["baseline"], t["metric"]): t for t in tests}


def report(metrics_dir: str | Path = "metrics", processed: str | Path = "data/processed", sr: str | Path = "data/sr",
           examples: int = 4, segmentation: str | Path = "data/segmentation", seg_examples: int = 3) -> str:
    """The figures (examples.png from the test images and evaluate's SR images in `sr`, frc_curves.png,
    metric_distributions.png, segmentation_overlay.png from segment's label images in `segmentation`,
    segmentation_scores.png) from what evaluate and segment wrote, then report.md; returns it. `examples`,
    `seg_examples`: test images in examples.png and in the overlay."""
    metrics_dir = Path(metrics_dir)
    for csv in ("evaluate_per_image.csv", "segment_per_image.csv"):
        if not (metrics_dir / csv).is_file():
            fail(f"{metrics_dir / csv}: not found (run the evaluate and segment stages first)")
    images = pd.read_csv(metrics_dir / "evaluate_per_image.csv")
    items = load_test_split(processed)
    methods = [m for m in images["method"].unique() if (Path(sr) / m).is_dir()]
    for m in methods:
        for item in items:
            if not (Path(sr) / m / f"{item.id}.png").is_file():
                fail(f"{Path(sr) / m / f'{item.id}.png'}: not found (run the evaluate stage again)")
    figures.examples_grid(metrics_dir / "examples.png", items, [read_png_rgb(it.lr) for it in items],
                          [read_png_rgb(it.hr) for it in items],
                          {m: [read_png_rgb(Path(sr) / m / f"{it.id}.png") for it in items] for m in methods},
                          images, examples)
    if (metrics_dir / "frc_curves.json").is_file():
        frc = _load(metrics_dir / "frc_curves.json")
        figures.frc_curves(metrics_dir / "frc_curves.png", np.array(frc["frequency"]),
                           {m: np.array(c) for m, c in frc["curves"].items()}, frc["threshold"], frc["scale"])
    figures.metric_distributions(metrics_dir / "metric_distributions.png", images, list(images["method"].unique()))
    seg = pd.read_csv(metrics_dir / "segment_per_image.csv")
    reference = _load(metrics_dir / "segment.json").get("reference", {})
    segmentation_figures.score_boxplots(metrics_dir / "segmentation_scores.png", seg, list(seg["method"].unique()),
                                        reference)
    shown = figures.pick_examples([it.id for it in items],
                                  seg[seg["method"] == "msrgan"].set_index("id")["nuclei_dice"], seg_examples)
    segmentation_figures.overlay(metrics_dir / "segmentation_overlay.png",
                                 [overlay_row(items[i], Path(sr), Path(segmentation), reference) for i in shown],
                                 reference)
    return write_report(metrics_dir)


def overlay_row(item, sr: Path, segmentation: Path, reference: dict) -> tuple:
    """(id, images, labels, reference labels) of one test image for the segmentation overlay, from the files."""
    def labels(method: str, target: str) -> np.ndarray:
        path = segmentation / method / f"{item.id}_{target}.png"
        if not path.is_file():
            fail(f"{path}: not found (run the segment stage again)")
        return read_image(path)
    methods = ("hr", "bicubic", "srresnet", "msrgan")
    images = {"hr": read_png_rgb(item.hr), **{m: read_png_rgb(sr / m / f"{item.id}.png") for m in methods[1:]}}
    found = {m: {t: labels(m, t) for t in ("nuclei", "cells")} for m in methods}
    truth = {"nuclei": item.nuclei_mask, "cells": item.cell_mask}
    refs = {t: read_image(truth[t]) if reference.get(t) == "truth" else found["hr"][t] for t in ("nuclei", "cells")}
    return item.id, images, found, refs


def write_report(metrics_dir: str | Path = "metrics") -> str:
    metrics_dir = Path(metrics_dir)
    evaluate = _load(metrics_dir / "evaluate.json")
    eval_tests_file = _load(metrics_dir / "evaluate_tests.json")
    segment = _load(metrics_dir / "segment.json")
    eval_tests = _index(eval_tests_file["tests"])
    seg_tests = _index(_load(metrics_dir / "segment_tests.json")["tests"])
    n = eval_tests_file.get("n_images", 0)
    ref = segment.get("reference", {})
    ref_text = {"truth": "the true masks", "hr_segmentation": "the HR segmentation (no true masks in this data)"}

    lines = ["# mSRGAN study: results", "",
             "_Generated by the `report` stage from `metrics/*.json`; do not edit by hand._", "",
             "## Summary", "", summary_paragraph(evaluate, eval_tests, segment, seg_tests, n), "",
             f"## Image quality on the test split ({n} images, means)", "",
             *_table_means(evaluate, IMAGE_COLUMNS, {k: (f"{v[0]}" + (f" [{v[1]}]" if v[1] else ""), v[2])
                                                     for k, v in METRICS.items()}), "",
             "↑ higher is better, ↓ lower is better; bold: the best method. Lanczos is a second interpolation "
             "baseline.", "",
             "### Paired tests, image quality", "",
             *_table_tests(eval_tests, {k: v[0] for k, v in METRICS.items()}, COMPARISONS), "", TESTS_LEGEND, "",
             f"## Segmentation ({ref.get('n_images', n)} images; nuclei against "
             f"{ref_text.get(ref.get('nuclei'), '?')}, cells against {ref_text.get(ref.get('cells'), '?')})", ""]
    iou = ref.get("match_iou", 0.5)
    rows = {f"{t}_{k}": (f"{t} {label.format(iou=iou)}", higher) for t in ("nuclei", "cells") for k, (label, higher)
            in SEG_METRICS.items()}
    lines += [*_table_means(segment, SEG_COLUMNS, rows), ""]
    if "hr" in segment:
        lines += ["HR: the same segmentation on the true high-resolution image, the best any upscaling can hope "
                  "for here (not counted for bold).", ""]
    lines += ["### Paired tests, segmentation", "",
              *_table_tests(seg_tests, {k: v[0] for k, v in rows.items()}, COMPARISONS), "", TESTS_LEGEND, "",
              "## Figures", ""]
    for file, caption in FIGURES:
        if (metrics_dir / file).is_file():
            lines += [f"**{caption}**", "", f"![{caption}]({file})", ""]
    lines += ["## How the numbers are made", "",
              "- PSNR and SSIM: scikit-image `peak_signal_noise_ratio` and `structural_similarity(channel_axis=2)` on "
              "the RGB 8-bit images with data range 255 (SSIM: 7x7 uniform window, the mean over channels); "
              "per-channel PSNR on each stain alone.",
              "- NRMSE as in CARE: per channel the HR normalised by its 0.1/99.9 percentiles, the SR image mapped "
              "onto it by the best affine fit, then the root mean square error; mean over channels.",
              "- FRC resolution: Fourier ring correlation of SR with HR per channel (Tukey-windowed), the inverse of "
              "the first frequency where it drops below 1/7, in HR pixels (2 px = Nyquist); lower is finer.",
              "- Perceptual distance: miniVGG19 (the trained classifier) feature maps of blocks 2-4, unit-normalised "
              "over channels per pixel, mean squared difference; 0 = identical.",
              "- LR consistency: the SR image downscaled exactly as the LR input was made (OpenCV bicubic) compared "
              "with that input (PSNR): detail the network invented that the measurement does not support lowers it.",
              "- Grid pattern: the RMS of the part of the SR image that repeats every 4 pixels (the mean of each of "
              "the 16 sub-pixel phases minus the image mean; its energy at the upsampling grid's frequencies), in "
              "8-bit levels: a sub-pixel checkerboard, which averages out under the LR-consistency downscale. Bicubic "
              "leaves it near 0; on real content it is not 0 for HR either. The flat-field figure: the largest such "
              "RMS on flat fields of three RGB levels, where there is no content to hide behind.",
              "- Segmentation: nuclei by Otsu on the smoothed DAPI channel and a distance-transform watershed; cells "
              "by a watershed from the nuclei over the smoothed microtubule channel. Dice and IoU on the foreground "
              f"pixels, object F1 with a match at IoU > {iou:g} (`segment.match_iou`), absolute count error.",
              "- Tests: paired two-sided Wilcoxon signed-rank (Pratt's zero handling) per metric, Holm-corrected "
              "across the metrics of each comparison; effect size = matched-pairs rank-biserial correlation "
              "(+1: the first method is higher on every image); 95% CI of the median difference by a seeded "
              "percentile bootstrap over images. \"better\"/\"worse\" = significant after Holm in that direction.",
              ""]
    text = "\n".join(lines)
    write_text(metrics_dir / "report.md", text)
    return text
