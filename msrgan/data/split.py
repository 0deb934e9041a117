"""Train/val/test split by field of view: seeded, stratified by each FOV's rarest label, exact split sizes."""
from __future__ import annotations

from collections import Counter

import numpy as np

from msrgan.errors import fail

SPLITS = ("train", "val", "test")


def split_sizes(n: int, val: float, test: float) -> dict[str, int]:
    """FOV counts per split: rounded fractions, at least one FOV in every split whose fraction is > 0."""
    sizes = {"val": round(val * n), "test": round(test * n)}
    for name, fraction in (("val", val), ("test", test)):
        if fraction > 0:
            sizes[name] = max(1, sizes[name])
    sizes["train"] = n - sizes["val"] - sizes["test"]
    needed = 1 + (val > 0) + (test > 0)
    if n < needed or sizes["train"] < 1:
        fail(f"prepare.split: {n} FOVs are too few for a train split beside val {val} and test {test} "
             f"(need at least {needed} FOVs, or smaller fractions)")
    return {name: sizes[name] for name in SPLITS}


def split_fovs(labels: dict[str, tuple[int, ...]], val: float, test: float, seed: int) -> dict[str, str]:
    """{fov: split}. FOVs are grouped by their rarest label (rarest groups first, shuffled within), then dealt to the
    splits in proportion, so every label is spread over the splits as evenly as its count allows."""
    sizes = split_sizes(len(labels), val, test)
    counts = Counter(label for fov_labels in labels.values() for label in fov_labels)
    rng = np.random.default_rng(seed)
    strata: dict[int, list[str]] = {}
    for fov in sorted(labels):
        rarest = min(labels[fov], key=lambda c: (counts[c], c)) if labels[fov] else -1
        strata.setdefault(rarest, []).append(fov)
    order: list[str] = []
    for rarest in sorted(strata, key=lambda c: (counts.get(c, 0), c)):
        members = strata[rarest]
        order += [members[i] for i in rng.permutation(len(members))]
    # Deal: the i-th FOV goes to the split furthest behind its share (i+1) * size / n; exact sizes at the end.
    n, dealt, out = len(order), dict.fromkeys(SPLITS, 0), {}
    for i, fov in enumerate(order):
        open_splits = [s for s in SPLITS if dealt[s] < sizes[s]]
        name = max(open_splits, key=lambda s: ((i + 1) * sizes[s] / n - dealt[s], sizes[s]))
        dealt[name] += 1
        out[fov] = name
    return out
