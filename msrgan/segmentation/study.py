"""The segment stage: segment HR and every method's SR images the same way, keep the label images, score them
against the reference and test the differences (the report stage draws the figures)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from msrgan.atomic import atomic_dir, atomic_path, write_text
from msrgan.errors import fail
from msrgan.evaluation.testset import TestImage, load_test_split
from msrgan.imageio import read_image, read_png_rgb, write_png
from msrgan.params import Segment
from msrgan.segmentation.scores import SEGMENTATION_SCORES, scores
from msrgan.segmentation.segment import segment
from msrgan.evaluation.methods import comparisons, methods_in
from msrgan.statistics import as_records, compare, finite_or_none

TARGETS = ("nuclei", "cells")
SCORES = {s.key: s.higher for s in SEGMENTATION_SCORES}   # name -> higher is better


def sr_methods(sr_dir: Path) -> tuple:
    """The methods whose images are segmented: those evaluate upscaled with (data/sr's folders), in the study's
    order, but for image-metrics-only ones (Lanczos)."""
    names = [p.name for p in Path(sr_dir).iterdir() if p.is_dir()] if Path(sr_dir).is_dir() else []
    if not names:
        fail(f"{sr_dir}: no upscaled images (run evaluate first)")
    return tuple(m for m in methods_in(names) if m.in_figures)


def _mask(path: Path, shape: tuple[int, int]) -> np.ndarray:
    mask = read_image(path)
    if mask.ndim != 2 or mask.shape != shape:
        fail(f"{path}: true mask of shape {mask.shape} does not match the HR image {shape}")
    return mask.astype(np.int32)


def segment_study(params: Segment, seed: int, processed: str | Path = "data/processed", sr_dir: str | Path = "data/sr",
                  metrics_dir: str | Path = "metrics", labels_out: str | Path = "data/segmentation") -> pd.DataFrame:
    """Write `labels_out`/<method>/<id>_{nuclei,cells}.png (uint16 label images), metrics/segment.json,
    segment_tests.json and segment_per_image.csv; return the per-image table."""
    sr_dir, metrics_dir = Path(sr_dir), Path(metrics_dir)
    items = load_test_split(processed)
    # the truth where every test image has it, else the segmentation of HR (said in the output)
    reference = {"nuclei": "truth" if all(it.nuclei_mask for it in items) else "hr_segmentation",
                 "cells": "truth" if all(it.cell_mask for it in items) else "hr_segmentation"}
    studied = sr_methods(sr_dir)
    methods = (("hr",) if "truth" in reference.values() else ()) + tuple(m.name for m in studied)

    rows = []
    with atomic_dir(labels_out) as kept:
        for item in tqdm(items, desc="segment", leave=False):
            rows += segment_item(item, params, sr_dir, reference, methods, kept)
    table = pd.DataFrame(rows)

    score_columns = [f"{t}_{s}" for t in TARGETS for s in SCORES]
    summary: dict = {"reference": {**reference, "n_images": len(items), "match_iou": params.match_iou}}
    for m in methods:
        part = table[table["method"] == m]
        summary[m] = {c: finite_or_none(part[c].mean()) for c in score_columns if part[c].notna().any()}
    tests = compare(table, {f"{t}_{s}": h for t in TARGETS for s, h in SCORES.items()}, comparisons(studied), seed=seed,
                    n_boot=params.bootstrap, alpha=params.alpha)
    records = as_records(tests)
    # the headline numbers of each test here (dvc metrics diff stays readable), every detail in segment_tests.json
    summary["tests"] = {}
    for t in records:
        summary["tests"].setdefault(f"{t['method']}_vs_{t['baseline']}", {})[t["metric"]] = {
            "median_diff": t["median_diff"], "p_holm": t["p_holm"]}

    metrics_dir.mkdir(parents=True, exist_ok=True)
    write_text(metrics_dir / "segment.json", json.dumps(summary, indent=2, allow_nan=False) + "\n")
    write_text(metrics_dir / "segment_tests.json",
               json.dumps({"n_images": len(items), "alpha": params.alpha, "reference": reference, "tests": records},
                          indent=2, allow_nan=False) + "\n")
    with atomic_path(metrics_dir / "segment_per_image.csv") as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    return table


def segment_item(item: TestImage, params: Segment, sr_dir: Path, reference: dict[str, str], methods: tuple[str, ...],
                 kept: Path) -> list[dict]:
    """Segment one test image's HR and SR versions, write their label images under `kept`, return one score row
    per method."""
    hr = read_png_rgb(item.hr)
    images = {"hr": hr}
    for m in (m for m in methods if m != "hr"):
        path = sr_dir / m / f"{item.id}.png"
        if not path.is_file():
            fail(f"{path}: SR image missing (run the evaluate stage first)")
        images[m] = read_png_rgb(path)
        if images[m].shape != hr.shape:
            fail(f"{path}: size {images[m].shape[:2]} differs from HR {hr.shape[:2]}")
    labels = {m: dict(zip(TARGETS, segment(im, params.nuclei, params.cells))) for m, im in images.items()}
    refs = {
        "nuclei": _mask(item.nuclei_mask, hr.shape[:2]) if reference["nuclei"] == "truth" else labels["hr"]["nuclei"],
        "cells": _mask(item.cell_mask, hr.shape[:2]) if reference["cells"] == "truth" else labels["hr"]["cells"],
    }
    for m, found in labels.items():
        for target, label in found.items():
            write_png(kept / m / f"{item.id}_{target}.png", label.astype(np.uint16))
    rows = []
    for m in methods:
        row = {"id": item.id, "method": m}
        for target in TARGETS:
            if m == "hr" and reference[target] != "truth":
                values = dict.fromkeys(("dice", "iou", "f1", "count", "count_ref", "count_error"), np.nan)
            else:
                values = scores(labels[m][target], refs[target], params.match_iou)
            row.update({f"{target}_{k}": v for k, v in values.items()})
        rows.append(row)
    return rows
