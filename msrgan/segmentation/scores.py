"""How close a segmentation is to a reference one: pixel Dice and IoU, object F1 at an IoU threshold, count error."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def dice(pred: np.ndarray, ref: np.ndarray) -> float:
    """2|A and B| / (|A| + |B|) of the foregrounds; 1 when both are empty."""
    a, b = pred > 0, ref > 0
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else float(2 * np.logical_and(a, b).sum() / total)


def iou(pred: np.ndarray, ref: np.ndarray) -> float:
    """|A and B| / |A or B| of the foregrounds; 1 when both are empty."""
    a, b = pred > 0, ref > 0
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def iou_matrix(pred: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """IoU of every predicted object (rows, labels 1..) with every reference object (columns, labels 1..)."""
    p = pred.ravel().astype(np.int64)
    r = ref.ravel().astype(np.int64)
    n_p, n_r = int(p.max(initial=0)) + 1, int(r.max(initial=0)) + 1
    inter = np.bincount(p * n_r + r, minlength=n_p * n_r).reshape(n_p, n_r)
    area_p, area_r = inter.sum(axis=1), inter.sum(axis=0)
    union = area_p[:, None] + area_r[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(union > 0, inter / np.maximum(union, 1), 0.0)
    out = out[1:, 1:]
    # labels that do not occur (gaps in the numbering) are not objects
    return out[area_p[1:] > 0][:, area_r[1:] > 0]


def object_f1(pred: np.ndarray, ref: np.ndarray, threshold: float = 0.5) -> float:
    """F1 of object detection: a predicted object is a true positive when its IoU with a reference object is above
    `threshold` (>= 0.5 makes matches unique); 1 when both have no objects."""
    m = iou_matrix(pred, ref)
    n_pred, n_ref = m.shape
    if n_pred + n_ref == 0:
        return 1.0
    tp = int((m > threshold).sum()) if threshold >= 0.5 else _greedy_matches(m, threshold)
    return 2 * tp / (n_pred + n_ref)


def _greedy_matches(m: np.ndarray, threshold: float) -> int:
    pairs = sorted(((v, i, j) for (i, j), v in np.ndenumerate(m) if v > threshold), reverse=True)
    used_i, used_j = set(), set()
    for _, i, j in pairs:
        if i not in used_i and j not in used_j:
            used_i.add(i)
            used_j.add(j)
    return len(used_i)


def count(labels: np.ndarray) -> int:
    return int(np.count_nonzero(np.unique(labels)))


def scores(pred: np.ndarray, ref: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    n_pred, n_ref = count(pred), count(ref)
    return {"dice": dice(pred, ref), "iou": iou(pred, ref), "f1": object_f1(pred, ref, threshold),
            "count": n_pred, "count_ref": n_ref, "count_error": abs(n_pred - n_ref)}


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
