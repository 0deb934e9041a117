"""Figures of the segmentation study: outlines over the images, and the per-image scores per method."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import ndimage as ndi  # noqa: E402
from skimage.segmentation import find_boundaries  # noqa: E402

from msrgan.evaluation.figures import method_boxes, name, save  # noqa: E402
from msrgan.segmentation.scores import dice, object_f1  # noqa: E402

NUCLEUS_LINE = np.array([0, 255, 255], np.uint8)    # cyan
CELL_LINE = np.array([255, 230, 0], np.uint8)       # yellow
UP = 4                                              # drawn at 4x so the outlines are thin next to the objects


def outline(image: np.ndarray, nuclei: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """The image enlarged UP times, brightened for display, with cell (yellow) and nucleus (cyan) outlines."""
    big = np.kron(image, np.ones((UP, UP, 1), np.uint8)).astype(np.float64)
    top = np.percentile(big, 99.5)
    big = np.clip(big * (255 / max(top, 1)), 0, 255).astype(np.uint8)
    for labels, colour in ((cells, CELL_LINE), (nuclei, NUCLEUS_LINE)):
        edges = find_boundaries(np.kron(labels, np.ones((UP, UP), labels.dtype)), mode="inner")
        big[ndi.binary_dilation(edges)] = colour   # 2-3 px wide at UP x: visible at print size
    return big


def overlay(path, examples, reference: dict) -> None:
    """One row per example (id, {method: RGB image}, {method: {"nuclei"/"cells": labels}}, {target: reference
    labels}): reference | HR | Bicubic | SRResNet | mSRGAN with the segmentation outlines. `reference`:
    segment.json's (what each target is scored against, and the IoU of an object match)."""
    iou = reference.get("match_iou", 0.5)
    cols = ["reference", "hr", "bicubic", "srresnet", "msrgan"]
    fig, axes = plt.subplots(len(examples), len(cols), figsize=(2.6 * len(cols), 3.1 * len(examples)),
                             squeeze=False, layout="constrained")
    truth = all(reference.get(t) == "truth" for t in ("nuclei", "cells"))
    for r, (fid, images, labels, refs) in enumerate(examples):
        for c, col in enumerate(cols):
            ax = axes[r, c]
            if col == "reference":
                ax.imshow(outline(images["hr"], refs["nuclei"], refs["cells"]))
                title = "True masks (on HR)" if truth else "Reference: HR segmentation"
            else:
                ax.imshow(outline(images[col], labels[col]["nuclei"], labels[col]["cells"]))
                title = name(col)
                if not (col == "hr" and not truth):
                    ax.set_xlabel(f"nuclei Dice {dice(labels[col]['nuclei'], refs['nuclei']):.2f} "
                                  f"F1 {object_f1(labels[col]['nuclei'], refs['nuclei'], iou):.2f}\n"
                                  f"cells Dice {dice(labels[col]['cells'], refs['cells']):.2f} "
                                  f"F1 {object_f1(labels[col]['cells'], refs['cells'], iou):.2f}", fontsize=8)
            if r == 0:
                ax.set_title(title, fontsize=10)
            if c == 0:
                ax.set_ylabel(fid, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle("Segmentation outlines: nuclei cyan, cells yellow (images brightened for display);\n"
                 "under each image its scores against the reference on the left", fontsize=10)
    save(fig, path)


def score_boxplots(path, table: pd.DataFrame, methods: list[str], reference: dict) -> None:
    """Per-image scores per method: nuclei on the top row, cells below; the images as dots (jittered).
    `reference`: segment.json's, naming each target's reference and the IoU of an object match."""
    iou = reference.get("match_iou", 0.5)
    panels = (("dice", "Dice (pixels)", True), ("f1", f"Object F1 at IoU {iou:g}", True),
              ("count_error", "|count error|", False))
    fig, axes = plt.subplots(2, len(panels), figsize=(4.2 * len(panels), 7.2), squeeze=False)
    rng = np.random.default_rng(0)
    for r, target in enumerate(("nuclei", "cells")):
        for c, (score, title, higher) in enumerate(panels):
            ax = axes[r, c]
            column = f"{target}_{score}"
            shown = [m for m in methods if table.loc[table["method"] == m, column].notna().any()]
            data = [table.loc[table["method"] == m, column].dropna().to_numpy(float) for m in shown]
            method_boxes(ax, data, shown, higher, rng)
            ref = "true masks" if reference[target] == "truth" else "HR segmentation"
            ax.set_title(f"{target.capitalize()}: {title}\nvs {ref}", fontsize=10)
            values = np.concatenate(data) if data else np.zeros(1)
            if np.ptp(values) == 0:   # all equal (e.g. every count right): show the value, not a 1e-16 axis
                low, high = (0.1, 0.05) if higher else (0.5, 0.5)
                ax.set_ylim(values[0] - low, values[0] + high)
    fig.suptitle(f"Segmentation scores on {table['id'].nunique()} test images (one dot per image)", fontsize=11)
    fig.tight_layout()
    save(fig, path)
