"""The evaluate stage: upscale every test LR image with every method, keep the SR images, score them against HR."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from msrgan.atomic import atomic_dir, atomic_path, write_text
from msrgan.errors import fail
from msrgan.evaluation.metrics import METRICS, PerceptualDistance, flat_field_pattern, frc_curve, image_metrics
from msrgan.evaluation.predict import upscalers
from msrgan.evaluation.testset import load_test_split
from msrgan.imageio import read_png_rgb, write_png
from msrgan.models.minivgg import load_minivgg
from msrgan.statistics import COMPARISONS, as_records, compare, finite_or_none
from msrgan.train.dataset import training_data_meta
from msrgan.train.device import pick_runtime

GENERATORS = {"srresnet": "srresnet.pt", "msrgan": "generator.pt"}   # method -> file in data/models


def evaluate(params, seed: int, processed: str | Path = "data/processed", models: str | Path = "data/models",
             sr_out: str | Path = "data/sr", metrics_dir: str | Path = "metrics") -> pd.DataFrame:
    """Write data/sr/<method>/<id>.png, metrics/evaluate.json (means, and each method's grid pattern on flat fields),
    evaluate_per_image.csv, evaluate_tests.json and frc_curves.json (the report stage draws the figures); return
    the per-image table."""
    torch.manual_seed(seed)
    models, metrics_dir = Path(models), Path(metrics_dir)
    items = load_test_split(processed)
    domain = training_data_meta(processed).get("domain")   # how the LR was made, for the LR consistency
    lrs = [read_png_rgb(item.lr) for item in items]
    hrs = [read_png_rgb(item.hr) for item in items]
    for item, lr, hr in zip(items, lrs, hrs):
        if hr.shape[0] % lr.shape[0] or hr.shape[0] // lr.shape[0] != hr.shape[1] // lr.shape[1]:
            fail(f"{item.lr}: LR {lr.shape[1]}x{lr.shape[0]} is not an integer downscale of HR "
                 f"{hr.shape[1]}x{hr.shape[0]}")
    scales = {hr.shape[0] // lr.shape[0] for lr, hr in zip(lrs, hrs)}
    if len(scales) > 1:
        fail(f"{processed}: test images have mixed scales {sorted(scales)}")
    scale = scales.pop()
    device = str(pick_runtime(params.device, params.precision, key="evaluate.device").device)
    methods = upscalers({m: str(models / f) for m, f in GENERATORS.items()}, scale, device, params.precision)
    vgg, _ = load_minivgg(models / "minivgg.pt", device)
    perceptual = PerceptualDistance(vgg, tuple(params.perceptual_blocks), device)

    rows, srs, frc_sums = [], {}, {}
    with atomic_dir(sr_out) as tmp:
        for method, upscale in methods.items():
            srs[method] = upscale(lrs)
            distances = perceptual(np.stack(hrs), np.stack(srs[method])) if _same_shape(hrs) else \
                np.array([perceptual(hr, sr)[0] for hr, sr in zip(hrs, srs[method])])
            for item, lr, hr, sr, dist in tqdm(list(zip(items, lrs, hrs, srs[method], distances)),
                                               desc=f"evaluate {method}", leave=False):
                write_png(tmp / method / f"{item.id}.png", sr)
                values = image_metrics(hr, sr, lr, tuple(params.nrmse_percentiles), params.frc_threshold, domain)
                rows.append({"id": item.id, "method": method, **values, "perceptual": float(dist)})
                if hr.shape[:2] == hrs[0].shape[:2]:  # mean FRC curve over same-size images, for the figure
                    curve = np.mean([frc_curve(hr[..., c], sr[..., c])[1] for c in range(3)], axis=0)
                    frc_sums[method] = frc_sums.get(method, 0) + curve
    table = pd.DataFrame(rows, columns=["id", "method", *METRICS])

    summary = {m: {k: finite_or_none(table.loc[table["method"] == m, k].replace([np.inf, -np.inf], np.nan).mean())
                   for k in METRICS} for m in methods}
    for method, upscale in methods.items():   # the checkerboard where nothing hides it
        summary[method]["flat_grid_pattern"] = flat_field_pattern(upscale)
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
        n_same = sum(hr.shape[:2] == hrs[0].shape[:2] for hr in hrs)
        freq = np.arange(len(next(iter(frc_sums.values())))) / min(hrs[0].shape[:2])
        curves = {"threshold": params.frc_threshold, "scale": scale, "frequency": [round(f, 6) for f in freq],
                  "curves": {m: [float(f"{v:.6g}") for v in s / n_same] for m, s in frc_sums.items()}}
        write_text(metrics_dir / "frc_curves.json", json.dumps(curves) + "\n")
    return table


def _same_shape(images: list[np.ndarray]) -> bool:
    return len({im.shape for im in images}) == 1
