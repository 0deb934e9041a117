"""The report stage: metrics/report.md and every figure of the study, made from what evaluate and segment wrote
(metrics files with the settings they ran with, the test images and evaluate's SR images; never edited by hand), so
a change of wording or colour reruns only this stage."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from msrgan.atomic import write_text
from msrgan.errors import fail
from msrgan.evaluation import figures
from msrgan.evaluation.measures import all_metrics
from msrgan.evaluation.methods import COMPARISONS, comparisons, label, methods_in
from msrgan.evaluation.testset import load_test_split
from msrgan.imageio import read_image, read_png_rgb
from msrgan.params import Evaluate
from msrgan.report.summary import summary_paragraph
from msrgan.report.verdicts import index, verdict
from msrgan.segmentation import figures as segmentation_figures
from msrgan.segmentation.scores import SEGMENTATION_SCORES

TESTS_LEGEND = ("Each cell: verdict (**better**/**worse**: significant after Holm correction in that direction, "
                "n.s.: not significant), median per-image difference [95% bootstrap CI], Holm-corrected p of the "
                "paired Wilcoxon signed-rank test, rank-biserial effect size r (+1: the first method is higher on "
                "every image, -1: lower on every image).")
FIGURES = (
    ("examples.png", "Test images from worst to best mSRGAN PSNR, with zoomed windows"),
    ("power_spectra.png", "Fine-detail power of each method's images against HR's, per stain"),
    ("metric_distributions.png", "Image-quality metrics per test image"),
    ("frc_curves.png", "Fourier ring correlation with HR"),
    ("segmentation_overlay.png", "Segmentation outlines on each method's images"),
    ("segmentation_scores.png", "Segmentation scores per test image"),
)
JUDGES = {"fidelity": "Pixel fidelity", "independent": "Independent judges (no generator trained against them)",
          "loss": "The GAN's own loss space", "artefact": "Artefacts"}


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


def table_means(summary: dict, columns, rows: dict[str, tuple[str, bool | None, int]]) -> list[str]:
    """Markdown table: one row per metric (key -> label, which way is better, digits), one column per method, the
    best in bold (for a ratio whose best is 1: the closest to 1)."""
    columns = [c for c in columns if c in summary]
    lines = ["| metric | " + " | ".join(label(c) for c in columns) + " |", "|---|" + "---:|" * len(columns)]
    for metric, (text, higher, digits) in rows.items():
        values = {c: summary[c].get(metric) for c in columns}
        present = {c: v for c, v in values.items() if v is not None and c != "hr"}
        best = None
        if present:
            key = {True: lambda v: -v, False: lambda v: v, None: lambda v: abs(np.log(max(v, 1e-12)))}[higher]
            best = _fmt(min(present.values(), key=key), digits)
        cells = []
        for c in columns:
            shown = _fmt(values[c], digits)
            bold = values[c] is not None and shown == best and c != "hr"   # ties as shown
            cells.append(f"**{shown}**" if bold else shown)
        arrow = {True: "↑", False: "↓", None: "→1"}[higher]
        lines.append(f"| {text} {arrow} | " + " | ".join(cells) + " |")
    return lines


def table_tests(tests: dict, metrics: dict[str, tuple[str, int]], pairs) -> list[str]:
    """Markdown table: one row per tested metric (key -> label, digits), one column per comparison; each cell the
    verdict, the median paired difference with its 95% CI, the Holm-corrected p and the rank-biserial effect size."""
    pairs = [p for p in pairs if any((*p, m) in tests for m in metrics)]
    lines = ["| metric | " + " | ".join(f"{label(a)} − {label(b)}" for a, b in pairs) + " |",
             "|---|" + "---|" * len(pairs)]
    for metric, (text, digits) in metrics.items():
        if not any((*p, metric) in tests for p in pairs):
            continue
        cells = []
        for method, baseline in pairs:
            t = tests.get((method, baseline, metric))
            if t is None:
                cells.append("–")
                continue
            v = verdict(t)
            cells.append(f"{f'**{v}**' if v in ('better', 'worse') else v}: {_signed(t['median_diff'], digits)} "
                         f"[{_signed(t['ci_low'], digits)}, {_signed(t['ci_high'], digits)}], "
                         f"p {_p(t['p_holm'])}, r {t['rank_biserial']:+.2f}")
        lines.append(f"| {text} | " + " | ".join(cells) + " |")
    return lines


def _signed(value: float, digits: int) -> str:
    if value != 0 and abs(value) < 0.001:
        return f"{value:+.1e}"
    return f"{value:+.{digits}f}"


def _p(p) -> str:
    if p is None:
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _fraction(value: float) -> str:
    """0.142857 -> '1/7'; other values as they are."""
    inverse = 1 / value
    return f"1/{round(inverse)}" if abs(inverse - round(inverse)) < 1e-3 else f"{value:g}"


def lr_made(domain: dict | None) -> str:
    """How the test LR was made, from prepare's domain.json as evaluate recorded it."""
    domain = domain or {}
    if domain.get("degradation") == "microscope":
        m = domain.get("microscope", {})
        return (f"the microscope's expected acquisition (extra Gaussian PSF of {m.get('psf_sigma', '?')} HR px and "
                f"{domain.get('scale', '?')}x{domain.get('scale', '?')} binning; its noise cannot be reproduced)")
    return "OpenCV bicubic decimation (cv2.resize INTER_CUBIC, no antialiasing)"


def how_the_numbers_are_made(settings: dict, alpha: float, iou: float) -> list[str]:
    """The methods paragraph, with the values the run used (evaluate's params and prepare's domain.json, as evaluate
    recorded them; a run that recorded none: the params' defaults)."""
    settings = {**Evaluate().model_dump(mode="json"), **settings}
    lo, hi = settings["nrmse_percentiles"]
    frc = _fraction(settings["frc_threshold"])
    vgg, judge = settings["perceptual_blocks"], settings["judge_blocks"]
    blocks = lambda b: f"{b[0]}-{b[-1]}" if list(b) == list(range(b[0], b[-1] + 1)) else ", ".join(map(str, b))  # noqa: E731
    return [
        "- PSNR and SSIM: scikit-image `peak_signal_noise_ratio` and `structural_similarity(channel_axis=2)` on the "
        "RGB 8-bit images with data range 255 (SSIM: 7x7 uniform window, the mean over channels); per-channel PSNR "
        "on each stain alone.",
        f"- NRMSE as in CARE: per channel the HR normalised by its {lo:g}/{hi:g} percentiles, the SR image mapped "
        "onto it by the best affine fit, then the root mean square error; mean over channels.",
        f"- FRC resolution: Fourier ring correlation of SR with HR per channel (Tukey-windowed), the inverse of the "
        f"first frequency where it drops below {frc}, in HR pixels (2 px = Nyquist); lower is finer.",
        f"- LR consistency: the SR image downscaled the way the LR input was made ({lr_made(settings.get('domain'))}) "
        "compared with that input (PSNR): detail the network invented that the measurement does not support lowers "
        "it.",
        "- High-band power per stain: the SR image's power above half of Nyquist (0.25 to 0.5 cycles per pixel, "
        "mean removed, no window) over HR's, per image (1 = as much fine detail as HR); its deviation: the mean over "
        "stains of |log2 ratio| (octaves of power); log-spectral distance: the RMS over frequency rings of that band "
        "of 10 log10 of the radially averaged power ratio, in dB.",
        f"- Judge network: a small ResNet classifier of the 13 classes (stage `train_judge`: another architecture "
        f"and seed than the miniVGG19, never in any loss). Feature distance: its stage {blocks(judge)} feature maps, "
        "unit-normalised over channels per pixel, mean squared difference (0 = identical). KID: torchmetrics' "
        f"kernel inception distance on its pooled last-stage features, mean ± std over {settings['kid_subsets']} "
        f"random subsets of {settings['kid_subset_size']} images. Task mAP: its macro average precision of the "
        "localisation classes on each method's images (and on HR).",
        "- VIF-p and 3-scale MS-SSIM: torchmetrics' implementations on the RGB images in [0, 1] (weight-free).",
        f"- miniVGG19 distance: the trained classifier's block {blocks(vgg)} feature maps, unit-normalised over "
        "channels per pixel, mean squared difference. mSRGAN's content loss is measured in these features: a "
        "figure of its own training objective, not an independent judge.",
        "- Grid pattern: the RMS of the part of the SR image that repeats with the upsampling factor (the mean of "
        "each sub-pixel phase minus the image mean), in 8-bit levels; the flat-field figure: the largest such RMS on "
        "flat fields of three RGB levels, where there is no content to hide behind.",
        "- Segmentation: nuclei by Otsu on the smoothed DAPI channel and a distance-transform watershed; cells by a "
        "watershed from the nuclei over the smoothed microtubule channel. Dice and IoU on the foreground pixels, "
        f"object F1 with a match at IoU > {iou:g} (`segment.match_iou`), absolute count error.",
        "- Tests: paired two-sided Wilcoxon signed-rank (Pratt's zero handling) per metric, Holm-corrected across the "
        "metrics of each comparison; effect size = matched-pairs rank-biserial correlation (+1: the first method is "
        "higher on every image); 95% CI of the median difference by a seeded percentile bootstrap over images. "
        f"\"better\"/\"worse\" = significant after Holm at the {alpha:g} level in that direction. High-band power "
        "ratios (best at 1) are tested through their deviation; KID and the task mAP are one figure for the split.",
        ""]


def report(metrics_dir: str | Path = "metrics", processed: str | Path = "data/processed", sr: str | Path = "data/sr",
           examples: int = 4, segmentation: str | Path = "data/segmentation", seg_examples: int = 3) -> str:
    """The figures (examples.png from the test images and evaluate's SR images in `sr`, power_spectra.png,
    frc_curves.png, metric_distributions.png, segmentation_overlay.png from segment's label images in
    `segmentation`, segmentation_scores.png) from what evaluate and segment wrote, then report.md; returns it.
    `examples`, `seg_examples`: test images in examples.png and in the overlay."""
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
    if (metrics_dir / "spectra.json").is_file():
        spectra = _load(metrics_dir / "spectra.json")
        figures.power_spectra(metrics_dir / "power_spectra.png", np.array(spectra["frequency"]),
                              {m: np.array(p) for m, p in spectra["power"].items()}, tuple(spectra["high_band"]),
                              spectra["scale"])
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
    methods = ("hr", *(m.name for m in methods_in(p.name for p in sr.iterdir()) if m.in_figures))
    images = {"hr": read_png_rgb(item.hr), **{m: read_png_rgb(sr / m / f"{item.id}.png") for m in methods[1:]}}
    found = {m: {t: labels(m, t) for t in ("nuclei", "cells")} for m in methods}
    truth = {"nuclei": item.nuclei_mask, "cells": item.cell_mask}
    refs = {t: read_image(truth[t]) if reference.get(t) == "truth" else found["hr"][t] for t in ("nuclei", "cells")}
    return item.id, images, found, refs


def baseline_pairs(studied) -> list[tuple[str, tuple]]:
    """(title, pairs) of the paired-test tables: the study's own comparisons, then mSRGAN and the SRResNet against
    each same-budget baseline (one table each, so a table stays readable however many baselines there are)."""
    pairs = comparisons(studied)
    own = [p for p in pairs if p in COMPARISONS]
    return [("", tuple(own))] + [(f", {label(lead)} against the baselines", tuple(p for p in pairs if p[0] == lead
                                                                                and p not in own))
                                 for lead in ("msrgan", "srresnet") if any(p[0] == lead and p not in own
                                                                           for p in pairs)]


TRAINING_DIRS = {"srresnet": "train_srresnet", "msrgan": "train_srgan"}   # a baseline's: baselines/<name>
GAN_STARTS = {"msrgan": "srresnet"}   # a GAN's PSNR-trained start, whose training it adds to


def training_cost(metrics_dir: Path, method: str) -> str:
    """'iterations x seconds per iteration' of the method's training stage (metrics/<stage>.json and its dvclive
    metrics.json), with its start's for a GAN phase; '–' for an interpolation or a run without timings."""
    folder = TRAINING_DIRS.get(method, f"baselines/{method}")
    summary, timing = metrics_dir / f"{folder}.json", metrics_dir / folder / "metrics.json"
    if not summary.is_file() or not timing.is_file():
        return "–"
    its, spi = _load(summary).get("iterations"), _load(timing).get("seconds_per_iteration")
    if its is None or spi is None:
        return "–"
    own = f"{its} × {spi:.2f} s"
    start = GAN_STARTS.get(method) or (_load(summary).get("start") if "loss" in _load(summary) else None)
    return f"{training_cost(metrics_dir, start)} + {own}" if start else own


def ranking_section(evaluate: dict, eval_tests: dict, metrics_dir: Path) -> list[str]:
    """Every method ranked by PSNR, beside the independent judges, mSRGAN's paired verdicts against it and its cost
    (metrics/costs.json: parameters, multiply-adds per output pixel, upscale speed in this run; training time per
    iteration from the training stages)."""
    costs = _load(metrics_dir / "costs.json") if (metrics_dir / "costs.json").is_file() else {}
    studied = [m for m in methods_in(evaluate) if evaluate[m.name].get("psnr") is not None]
    studied.sort(key=lambda m: -evaluate[m.name]["psnr"])
    lines = ["## The methods ranked, with their cost", "",
             "| rank | method | PSNR [dB] ↑ | SSIM ↑ | judge distance ↓ | KID ↓ | mSRGAN vs it: PSNR, judge distance "
             "| parameters | multiply-adds per output pixel | training (iterations × time) | upscale [MP/s] |",
             "|---:|---|---:|---:|---:|---:|---|---:|---:|---|---:|"]
    for rank, m in enumerate(studied, start=1):
        e, c = evaluate[m.name], costs.get("methods", {}).get(m.name, {})
        vs = ", ".join(verdict(eval_tests[("msrgan", m.name, k)]) if ("msrgan", m.name, k) in eval_tests else "–"
                       for k in ("psnr", "judge_distance")) if m.name != "msrgan" else "–"
        macs = c.get("macs_per_pixel")
        lines.append(f"| {rank} | {m.label} | {_fmt(e.get('psnr'), 2)} | {_fmt(e.get('ssim'), 3)} | "
                     f"{_fmt(e.get('judge_distance'), 3)} | {_fmt(e.get('kid'), 1)} | {vs} | "
                     f"{c.get('parameters', 0):,} | {f'{macs / 1e3:.1f} k' if macs else '–'} | "
                     f"{training_cost(metrics_dir, m.name) if m.model else '–'} | "
                     f"{_fmt(c.get('upscale_mp_per_s'), 2)} |")
    if costs:
        lines += ["", f"Cost measured in this run on {costs.get('device', '?')}: upscale speed on the same "
                  f"{'x'.join(map(str, costs.get('field', [])))} LR field for every method (best of 3), as `msrgan "
                  "upscale` runs it; training time per iteration from each training stage (batch and iterations "
                  "as params.yaml says; the baselines share the SRResNet's budget). Multiply-adds: convolutions and "
                  "matrix products (FFTs not counted)."]
    return lines + [""]


def image_sections(evaluate: dict, eval_tests: dict, n: int) -> list[str]:
    """The image-quality tables: means per judge group, then the paired tests."""
    studied = methods_in(evaluate)
    columns = [m.name for m in studied]
    lines = [f"## Image quality on the test split ({n} images, means)", ""]
    for group, title in JUDGES.items():
        rows = {m.key: (m.label + (f" [{m.unit}]" if m.unit else ""), m.higher, m.digits)
                for m in all_metrics() if m.judge == group}
        if any(evaluate.get(c, {}).get(k) is not None for c in columns for k in rows):
            lines += [f"**{title}**", "", *table_means(evaluate, columns + (["hr"] if group == "independent" else []),
                                                       rows), ""]
    lines += ["↑ higher is better, ↓ lower is better, →1: best at 1 (HR's own value); bold: the best method. "
              "Lanczos is a second interpolation baseline; the HR column holds the judge's mAP on HR itself.", ""]
    for title, pairs in baseline_pairs(studied):
        lines += [f"### Paired tests, image quality{title}", "",
                  *table_tests(eval_tests, {m.key: (m.label, m.digits) for m in all_metrics()}, pairs), "",
                  TESTS_LEGEND, ""]
    return lines


def write_report(metrics_dir: str | Path = "metrics") -> str:
    metrics_dir = Path(metrics_dir)
    evaluate = _load(metrics_dir / "evaluate.json")
    eval_file = _load(metrics_dir / "evaluate_tests.json")
    segment = _load(metrics_dir / "segment.json")
    seg_file = _load(metrics_dir / "segment_tests.json")
    eval_tests, seg_tests = index(eval_file["tests"]), index(seg_file["tests"])
    n, alpha = eval_file.get("n_images", 0), eval_file.get("alpha", 0.05)
    ref = segment.get("reference", {})
    iou = ref.get("match_iou", 0.5)
    ref_text = {"truth": "the true masks", "hr_segmentation": "the HR segmentation (no true masks in this data)"}
    rows = {f"{t}_{s.key}": (f"{t} {s.label.format(iou=iou)}", s.higher, 3) for t in ("nuclei", "cells")
            for s in SEGMENTATION_SCORES}
    studied = methods_in(evaluate)
    seg_columns = ["hr", *(m.name for m in studied if m.in_figures)]
    lines = ["# mSRGAN study: results", "",
             "_Generated by the `report` stage from `metrics/*.json`; do not edit by hand._", "",
             "## Summary", "", summary_paragraph(evaluate, eval_tests, segment, seg_tests, n, alpha), "",
             *ranking_section(evaluate, eval_tests, metrics_dir),
             *image_sections(evaluate, eval_tests, n),
             f"## Segmentation ({ref.get('n_images', n)} images; nuclei against "
             f"{ref_text.get(ref.get('nuclei'), '?')}, cells against {ref_text.get(ref.get('cells'), '?')})", "",
             *table_means(segment, seg_columns, rows), ""]
    if "hr" in segment:
        lines += ["HR: the same segmentation on the true high-resolution image, the best any upscaling can hope "
                  "for here (not counted for bold).", ""]
    for title, pairs in baseline_pairs([m for m in studied if m.in_figures]):
        lines += [f"### Paired tests, segmentation{title}", "",
                  *table_tests(seg_tests, {k: (v[0], 3) for k, v in rows.items()}, pairs), "", TESTS_LEGEND, ""]
    lines += ["## Figures", ""]
    for file, caption in FIGURES:
        if (metrics_dir / file).is_file():
            lines += [f"**{caption}**", "", f"![{caption}]({file})", ""]
    lines += ["## How the numbers are made", "", *how_the_numbers_are_made(eval_file.get("settings", {}), alpha, iou)]
    text = "\n".join(lines)
    write_text(metrics_dir / "report.md", text)
    return text
