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
from msrgan.evaluation.metrics import (METRICS, PerceptualDistance, flat_field_pattern, frc_curve, image_metrics,
                                       psnr, ssim)
from msrgan.evaluation.predict import upscalers
from msrgan.evaluation.testset import load_test_split
from msrgan.imageio import read_png_rgb, write_png
from msrgan.models.minivgg import load_minivgg
from msrgan.runtime import pick_runtime
from msrgan.statistics import COMPARISONS, as_records, compare, finite_or_none

GENERATORS = {"srresnet": "srresnet.pt", "msrgan": "generator.pt"}   # method -> file in data/models


CHUNK = 64   # test images in memory at once (with their SR images by every method): evaluation streams


def evaluate(params, seed: int, processed: str | Path = "data/processed", models: str | Path = "data/models",
             sr_out: str | Path = "data/sr", metrics_dir: str | Path = "metrics") -> pd.DataFrame:
    """Write data/sr/<method>/<id>.png, metrics/evaluate.json (means, each method's grid pattern on flat fields and,
    where the test split has independent LR acquisitions, the scores on those), evaluate_per_image.csv,
    evaluate_tests.json and frc_curves.json (the report stage draws the figures); return the per-image table.
    The test split is read CHUNK images at a time, so its size is not bounded by memory."""
    torch.manual_seed(seed)
    models, metrics_dir = Path(models), Path(metrics_dir)
    items = load_test_split(processed)
    domain = training_data_meta(processed).get("domain")   # how the LR was made, for the LR consistency
    scale = test_scale(items[0])
    device = str(pick_runtime(params.device, params.precision, key="evaluate.device").device)
    methods = upscalers({m: str(models / f) for m, f in GENERATORS.items()}, scale, device, params.precision)
    vgg, _ = load_minivgg(models / "minivgg.pt", device)
    perceptual = PerceptualDistance(vgg, tuple(params.perceptual_blocks), device)

    rows, acquired, frc_sums, frc_shape, n_same = [], [], {}, None, 0
    bar = tqdm(total=len(items) * len(methods), desc="evaluate", leave=False)
    with atomic_dir(sr_out) as tmp:
        for start in range(0, len(items), CHUNK):
            chunk = items[start:start + CHUNK]
            lrs, hrs = [read_png_rgb(item.lr) for item in chunk], [read_png_rgb(item.hr) for item in chunk]
            for item, lr, hr in zip(chunk, lrs, hrs):
                if test_scale(item, lr, hr) != scale:
                    fail(f"{item.lr}: test images have mixed scales ({scale} and {hr.shape[0] // lr.shape[0]})")
            acquired_pairs = read_acquisitions(chunk, hrs, scale)
            frc_shape = frc_shape or hrs[0].shape[:2]
            n_same += sum(hr.shape[:2] == frc_shape for hr in hrs)
            for order, (method, upscale) in enumerate(methods.items()):
                srs = upscale(lrs)
                distances = perceptual(np.stack(hrs), np.stack(srs)) if _same_shape(hrs) else \
                    np.array([perceptual(hr, sr)[0] for hr, sr in zip(hrs, srs)])
                for k, (item, lr, hr, sr, dist) in enumerate(zip(chunk, lrs, hrs, srs, distances)):
                    write_png(tmp / method / f"{item.id}.png", sr)
                    values = image_metrics(hr, sr, lr, tuple(params.nrmse_percentiles), params.frc_threshold, domain)
                    rows.append(((order, start + k), {"id": item.id, "method": method, **values,
                                                      "perceptual": float(dist)}))
                    if hr.shape[:2] == frc_shape:  # mean FRC curve over same-size images, for the figure
                        curve = np.mean([frc_curve(hr[..., c], sr[..., c])[1] for c in range(3)], axis=0)
                        frc_sums[method] = frc_sums.get(method, 0) + curve
                    bar.update(1)
                if acquired_pairs:   # the same tiles from their independent LR acquisitions
                    srs = upscale([lr for _, lr in acquired_pairs])
                    acquired += [{"method": method, "psnr": psnr(hr, sr), "ssim": ssim(hr, sr)}
                                 for (hr, _), sr in zip(acquired_pairs, srs)]
    bar.close()
    table = pd.DataFrame([row for _, row in sorted(rows, key=lambda r: r[0])], columns=["id", "method", *METRICS])

    summary = {m: {k: finite_or_none(table.loc[table["method"] == m, k].replace([np.inf, -np.inf], np.nan).mean())
                   for k in METRICS} for m in methods}
    for method, upscale in methods.items():   # the checkerboard where nothing hides it
        summary[method]["flat_grid_pattern"] = flat_field_pattern(upscale)
    if acquired:   # the same test tiles from LR images the pipeline did not make (a simulator's own acquisition)
        scores = pd.DataFrame(acquired)
        for method in methods:
            mine = scores[scores["method"] == method]
            summary[method]["acquired"] = {"psnr": finite_or_none(mine["psnr"].replace(np.inf, np.nan).mean()),
                                           "ssim": finite_or_none(mine["ssim"].mean()), "n": len(mine)}
    tests = compare(table, {k: METRICS[k][2] for k in METRICS}, COMPARISONS, seed=seed, n_boot=params.bootstrap,
                    alpha=params.alpha)
    metrics_dir.mkdir(parents=True, exist_ok=True)
    write_text(metrics_dir / "evaluate.json", json.dumps(summary, indent=2) + "\n")
    write_text(metrics_dir / "evaluate_tests.json",
               json.dumps({"n_images": len(items), "alpha": params.alpha, "tests": as_records(tests)},
                          indent=2, allow_nan=False, default=str) + "\n")
    with atomic_path(metrics_dir / "evaluate_per_image.csv") as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")

    if frc_sums:   # the mean FRC curves, for the report stage's figure
        freq = np.arange(len(next(iter(frc_sums.values())))) / min(frc_shape)
        curves = {"threshold": params.frc_threshold, "scale": scale, "frequency": [round(f, 6) for f in freq],
                  "curves": {m: [float(f"{v:.6g}") for v in s / n_same] for m, s in frc_sums.items()}}
        write_text(metrics_dir / "frc_curves.json", json.dumps(curves) + "\n")
    return table


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


def _same_shape(images: list[np.ndarray]) -> bool:
    return len({im.shape for im in images}) == 1
