"""Multi-label classification scores for the miniVGG19: per-class average precision, macro/micro F1."""
from __future__ import annotations

import numpy as np


def average_precision(scores: np.ndarray, truth: np.ndarray) -> float | None:
    """AP of one class as scikit-learn's average_precision_score defines it: sum over the distinct score thresholds,
    from the highest, of (recall gained) x (precision there). Tied scores form one threshold, so their order does
    not matter (bf16 probabilities tie often). None when the class has no positive.
    scores: N floats; truth: N bools (or 0/1)."""
    truth = truth.astype(bool)
    if not truth.any():
        return None
    order = np.argsort(-scores, kind="stable")
    ranked, hits = scores[order], truth[order]
    last = np.r_[np.flatnonzero(np.diff(ranked)), len(ranked) - 1]   # the last position of each tied run
    tp = np.cumsum(hits)[last]
    precision, recall = tp / (last + 1), tp / tp[-1]
    return float(np.sum(np.diff(recall, prepend=0) * precision))


def f1_scores(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(macro F1 over the classes that occur in truth or prediction, micro F1)."""
    pred, truth = pred.astype(bool), truth.astype(bool)
    tp = (pred & truth).sum(0)
    fp = (pred & ~truth).sum(0)
    fn = (~pred & truth).sum(0)
    present = (tp + fp + fn) > 0
    per_class = np.where(present, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)
    macro = float(per_class[present].mean()) if present.any() else 0.0
    denom = 2 * tp.sum() + fp.sum() + fn.sum()
    micro = float(2 * tp.sum() / denom) if denom else 0.0
    return macro, micro


def classification_report(probs: np.ndarray, truth: np.ndarray, threshold: float, names) -> dict:
    aps = {name: average_precision(probs[:, i], truth[:, i]) for i, name in enumerate(names)}
    valid = [v for v in aps.values() if v is not None]
    macro, micro = f1_scores(probs >= threshold, truth)
    return {"macro_f1": macro, "micro_f1": micro, "map": float(np.mean(valid)) if valid else 0.0,
            "per_class_ap": aps, "n": int(len(probs))}
