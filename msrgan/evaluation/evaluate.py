"""The evaluate stage: upscale every test LR image with every method, keep the SR images, score them against HR."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from msrgan.atomic import atomic_dir, atomic_path, write_text
from msrgan.data.processed import check_pair, training_data_meta
from msrgan.errors import fail
from msrgan.evaluation.measures import Context, image_values, per_image, tested
from msrgan.evaluation.cost import network_cost, timed_field, upscale_speed
from msrgan.evaluation.methods import all_methods, comparisons
from msrgan.evaluation.judges import IndependentJudge, NetworkJudges
from msrgan.evaluation.metrics import PerceptualDistance, flat_field_pattern, frc_curve, psnr, ssim
from msrgan.evaluation.spectrum import HIGH_BAND, mean_radial_spectrum
from msrgan.evaluation.predict import upscalers
from msrgan.evaluation.testset import load_test_split
from msrgan.imageio import read_png_rgb, write_png
from msrgan.models.judge import load_judge
from msrgan.models.minivgg import load_minivgg
from msrgan.runtime import pick_runtime
from msrgan.statistics import as_records, compare, finite_or_none

CHUNK = 64   # test images in memory at once (with their SR images by every method): evaluation streams


def evaluate(params, seed: int, processed: str | Path = "data/processed", models: str | Path = "data/models",
             sr_out: str | Path = "data/sr", metrics_dir: str | Path = "metrics", baselines=()) -> pd.DataFrame:
    """Write data/sr/<method>/<id>.png, metrics/evaluate.json (means of every metric of measures.py, each method's grid
    pattern on flat fields, KID and the judge's mAP, HR's mAP and, where the test split has independent LR
    acquisitions, the scores on those), evaluate_per_image.csv, evaluate_tests.json, frc_curves.json,
    spectra.json (the report stage draws the figures) and costs.json (timings: not a metric); return the per-image
    table. `baselines`: the names of the same-budget baselines (data/models/baselines/<name>.pt) to evaluate
    beside the study's methods. The test split is read CHUNK images at a time, so its size is not bounded by
    memory."""
    torch.manual_seed(seed)
    models, metrics_dir = Path(models), Path(metrics_dir)
    items = load_test_split(processed)
    domain = training_data_meta(processed).get("domain")   # how the LR was made, for the LR consistency
    scale = test_scale(items[0])
    runtime = pick_runtime(params.device, params.precision, key="evaluate.device")
    device = str(runtime.device)
    studied = all_methods(baselines)
    for m in studied:
        if m.model and not (models / m.model).is_file():
            fail(f"{models / m.model}: generator file of {m.label} not found (run its training stage)")
    methods = upscalers(studied, models, scale, runtime)
    context = Context(tuple(params.nrmse_percentiles), params.frc_threshold, domain)
    judges = network_judges(params, models, device)

    rows, acquired, curves = [], [], Curves()
    bar = tqdm(total=len(items) * len(methods), desc="evaluate", leave=False)
    with atomic_dir(sr_out) as tmp:
        for start in range(0, len(items), CHUNK):
            chunk = items[start:start + CHUNK]
            lrs, hrs = [read_png_rgb(item.lr) for item in chunk], [read_png_rgb(item.hr) for item in chunk]
            for item, lr, hr in zip(chunk, lrs, hrs):
                if test_scale(item, lr, hr) != scale:
                    fail(f"{item.lr}: test images have mixed scales ({scale} and {hr.shape[0] // lr.shape[0]})")
            acquired_pairs = read_acquisitions(chunk, hrs, scale)
            judges.reference(hrs, [item.labels for item in chunk])
            curves.reference(hrs)
            for order, (method, upscale) in enumerate(methods.items()):
                srs = upscale(lrs)
                learned = judges.score(method, hrs, srs)
                for k, (item, lr, hr, sr) in enumerate(zip(chunk, lrs, hrs, srs)):
                    write_png(tmp / method / f"{item.id}.png", sr)
                    values = image_values(hr, sr, lr, context) | {key: float(v[k]) for key, v in learned.items()}
                    rows.append(((order, start + k), {"id": item.id, "method": method, **values}))
                    bar.update(1)
                curves.add(method, hrs, srs)
                if acquired_pairs:   # the same tiles from their independent LR acquisitions
                    srs = upscale([lr for _, lr in acquired_pairs])
                    acquired += [{"method": method, "psnr": psnr(hr, sr), "ssim": ssim(hr, sr)}
                                 for (hr, _), sr in zip(acquired_pairs, srs)]
    bar.close()
    table = pd.DataFrame([row for _, row in sorted(rows, key=lambda r: r[0])], columns=["id", "method", *per_image()])
    summary = summarise(table, methods, judges, acquired, seed)
    tests = compare(table, tested(), comparisons(studied), seed=seed, n_boot=params.bootstrap, alpha=params.alpha)
    metrics_dir.mkdir(parents=True, exist_ok=True)
    write_text(metrics_dir / "evaluate.json", json.dumps(summary, indent=2) + "\n")
    write_text(metrics_dir / "evaluate_tests.json",
               json.dumps({"n_images": len(items), "alpha": params.alpha, "tests": as_records(tests),
                           "settings": {**params.model_dump(mode="json"), "domain": domain}},
                          indent=2, allow_nan=False, default=str) + "\n")
    with atomic_path(metrics_dir / "evaluate_per_image.csv") as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    curves.write(metrics_dir, params.frc_threshold, scale)
    write_text(metrics_dir / "costs.json", json.dumps(costs(studied, methods, models, read_png_rgb(items[0].lr),
                                                            scale, str(runtime.device)), indent=2) + "\n")
    return table


def costs(studied, methods: dict, models: Path, lr: np.ndarray, scale: int, device: str) -> dict:
    """costs.json: per method its parameters and multiply-adds per output pixel (generators) and its upscale speed
    on one field (the first test LR image repeated to FIELD_LR pixels) on `device`, all in this run."""
    field = timed_field(lr)
    out = {"device": device, "field": list(field.shape[:2]), "methods": {}}
    for m in studied:
        cost = network_cost(models / m.model) if m.model else {"parameters": 0, "macs_per_pixel": None}
        out["methods"][m.name] = {**cost, "upscale_mp_per_s": upscale_speed(methods[m.name], field, scale)}
    return out


def network_judges(params, models: Path, device: str) -> NetworkJudges:
    """The learned measures: the miniVGG19 distance (the GAN's own loss space) and the independent judge network."""
    vgg, _ = load_minivgg(models / "minivgg.pt", device)
    judge, _ = load_judge(models / "judge.pt", device)
    return NetworkJudges(PerceptualDistance(vgg, tuple(params.perceptual_blocks), device),
                         IndependentJudge(judge, tuple(params.judge_blocks), device),
                         params.kid_subsets, params.kid_subset_size)


def summarise(table: pd.DataFrame, methods: dict, judges: NetworkJudges, acquired: list[dict], seed: int) -> dict:
    """evaluate.json: per method the mean of every per-image metric, its grid pattern on flat fields, the set-level
    judges (KID, task mAP) and the scores on independent LR acquisitions; 'hr': the judge's mAP on HR itself."""
    summary = {m: {k: finite_or_none(table.loc[table["method"] == m, k].replace([np.inf, -np.inf], np.nan).mean())
                   for k in per_image()} for m in methods}
    for method, upscale in methods.items():
        summary[method]["flat_grid_pattern"] = flat_field_pattern(upscale)   # the checkerboard where nothing hides it
        summary[method] |= {k: finite_or_none(v) for k, v in judges.summary(method, seed).items()}
    summary["hr"] = judges.summary("hr", seed)
    if acquired:   # the same test tiles from LR images the pipeline did not make (a simulator's own acquisition)
        scores = pd.DataFrame(acquired)
        for method in methods:
            mine = scores[scores["method"] == method]
            summary[method]["acquired"] = {"psnr": finite_or_none(mine["psnr"].replace(np.inf, np.nan).mean()),
                                           "ssim": finite_or_none(mine["ssim"].mean()), "n": len(mine)}
    return summary


class Curves:
    """Mean FRC curves (SR against HR) and radially averaged power spectra (per stain, HR and every method) over
    the test images of the first image's size, for the report's figures."""

    def __init__(self):
        self.shape, self.n, self.frc, self.spectra = None, 0, {}, {}

    def reference(self, hrs: list[np.ndarray]) -> None:
        """A chunk's HR images (once per chunk, before its methods)."""
        self.shape = self.shape or hrs[0].shape[:2]
        self._add_spectrum("hr", [hr for hr in hrs if hr.shape[:2] == self.shape])

    def _add_spectrum(self, name: str, images: list[np.ndarray]) -> None:
        if images:
            self.spectra[name] = self.spectra.get(name, 0) + len(images) * mean_radial_spectrum(images)[1]
            self.n += len(images) if name == "hr" else 0

    def add(self, method: str, hrs: list[np.ndarray], srs: list[np.ndarray]) -> None:
        pairs = [(hr, sr) for hr, sr in zip(hrs, srs) if hr.shape[:2] == self.shape]
        if not pairs:
            return
        self._add_spectrum(method, [sr for _, sr in pairs])
        curve = sum(np.mean([frc_curve(hr[..., c], sr[..., c])[1] for c in range(3)], axis=0) for hr, sr in pairs)
        self.frc[method] = self.frc.get(method, 0) + curve

    def write(self, metrics_dir: Path, threshold: float, scale: int) -> None:
        if not self.frc:
            return
        side = min(self.shape)
        freq = [round(k / side, 6) for k in range(side // 2 + 1)]
        round6 = lambda values: [float(f"{v:.6g}") for v in values]  # noqa: E731
        write_text(metrics_dir / "frc_curves.json", json.dumps(
            {"threshold": threshold, "scale": scale, "frequency": freq,
             "curves": {m: round6(s / self.n) for m, s in self.frc.items()}}) + "\n")
        write_text(metrics_dir / "spectra.json", json.dumps(
            {"scale": scale, "frequency": freq, "high_band": list(HIGH_BAND), "stains": ["r", "g", "b"],
             "power": {m: [round6(c) for c in s / self.n] for m, s in self.spectra.items()}}) + "\n")


def test_scale(item, lr: np.ndarray | None = None, hr: np.ndarray | None = None) -> int:
    """The HR/LR ratio of a test image (read from its files unless given); not an integer: a UserError."""
    lr = read_png_rgb(item.lr) if lr is None else lr
    hr = read_png_rgb(item.hr) if hr is None else hr
    return check_pair(hr.shape, lr.shape, item.lr)


def read_acquisitions(chunk, hrs: list[np.ndarray], scale: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(HR, independent LR acquisition) of the chunk's images that have one; UserError naming a misfit file."""
    pairs = []
    for item, hr in zip(chunk, hrs):
        if item.lr_acquired is not None:
            lr = read_png_rgb(item.lr_acquired)
            check_pair(hr.shape, lr.shape, item.lr_acquired, scale)
            pairs.append((hr, lr))
    return pairs
