"""The processed HR/LR pairs in memory as uint8 tensors, and seeded batches with augmentation.

Every batch is a pure function of (seed, iteration, rank): the data order is a seeded permutation per epoch and the
augmentation draws from a generator seeded by the iteration, so a resumed run sees exactly the batches an
uninterrupted one would, without saving any sampler state.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from msrgan.classes import N_CLASSES, parse_labels
from msrgan.errors import fail
from msrgan.imageio import read_png_rgb
from msrgan.params import Training


@dataclass
class Split:
    ids: list[str]
    hr: torch.Tensor          # N x 3 x H x W uint8
    lr: torch.Tensor          # N x 3 x h x w uint8
    labels: torch.Tensor      # N x 13 float multi-hot

    def __len__(self) -> int:
        return len(self.ids)


def read_index(processed: str | Path) -> pd.DataFrame:
    path = Path(processed) / "index.csv"
    if not path.is_file():
        fail(f"{path}: not found (run the prepare stage first)")
    index = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"id", "split", "labels"} - set(index.columns)
    if missing:
        fail(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    return index


def load_split(processed: str | Path, split: str) -> Split:
    """All pairs of one split (train | val | test); a missing or mismatched file is a UserError naming it."""
    processed = Path(processed)
    rows = read_index(processed)
    rows = rows[rows["split"] == split]
    if rows.empty:
        fail(f"{processed / 'index.csv'}: no rows in split '{split}'")
    hr, lr, labels = [], [], torch.zeros(len(rows), N_CLASSES)
    for i, (sample, text) in enumerate(zip(rows["id"], rows["labels"])):
        h = read_png_rgb(processed / split / "hr" / f"{sample}.png")
        low = read_png_rgb(processed / split / "lr" / f"{sample}.png")
        if hr and (h.shape != hr[0].shape or low.shape != lr[0].shape):
            fail(f"{processed / split / 'hr' / sample}.png: size {h.shape[:2]} differs from the other tiles "
                 f"{hr[0].shape[:2]}")
        if h.shape[0] % low.shape[0] or h.shape[0] // low.shape[0] != h.shape[1] // low.shape[1]:
            fail(f"{processed / split / 'lr' / sample}.png: size {low.shape[:2]} is not HR {h.shape[:2]} / scale")
        hr.append(h)
        lr.append(low)
        if text.strip():
            labels[i, parse_labels(text, f"{processed / 'index.csv'}: {sample}")] = 1
    to_tensor = lambda a: torch.from_numpy(np.stack(a)).permute(0, 3, 1, 2).contiguous()  # noqa: E731
    return Split(list(rows["id"]), to_tensor(hr), to_tensor(lr), labels)


def training_data_meta(processed: str | Path) -> dict:
    """What the generator file records of its training data: how merge scaled 16-bit stains (normalisation.json)
    and, as `domain`, how prepare made the pairs (domain.json: mode, sizes, degradation); {} where unknown."""
    path, domain = Path(processed) / "normalisation.json", Path(processed) / "domain.json"
    meta = json.loads(path.read_text()) if path.is_file() else {}
    if domain.is_file():
        meta["domain"] = json.loads(domain.read_text())
    return meta


def fingerprint(processed: str | Path) -> str:
    """A hash of index.csv: a checkpoint from other data must not be resumed."""
    return hashlib.sha256((Path(processed) / "index.csv").read_bytes()).hexdigest()[:16]


def to_float(x: torch.Tensor) -> torch.Tensor:
    return x.float().div_(255)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """N x 3 x H x W float in [0, 1] -> N x H x W x 3 uint8 (round half to even, as numpy does)."""
    return x.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def batch_indices(n: int, batch_size: int, iteration: int, seed: int, rank: int = 0, world: int = 1) -> torch.Tensor:
    """This rank's sample indices for `iteration`: epochs are seeded permutations, each global batch split by rank."""
    per_epoch = max(1, n // (batch_size * world))
    epoch, pos = divmod(iteration, per_epoch)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
    if n < batch_size * world:  # tiny data: repeat the permutation
        order = order.repeat(-(-batch_size * world // n))
    start = (pos * world + rank) * batch_size
    return order[start:start + batch_size]


def augment(tensors: list[torch.Tensor], params, generator: torch.Generator) -> list[torch.Tensor]:
    """The same random flip / 90-degree rotation / brightness factor per sample on every tensor (HR and its LR)."""
    n = tensors[0].shape[0]
    flips = torch.rand(n, 2, generator=generator) < 0.5
    turns = torch.randint(0, 4, (n,), generator=generator)
    gain = 1 + (torch.rand(n, generator=generator) * 2 - 1) * params.intensity
    out = []
    for t in tensors:
        t = t.clone()
        for i in range(n):
            x = t[i]
            if params.flips and flips[i, 0]:
                x = x.flip(-1)
            if params.flips and flips[i, 1]:
                x = x.flip(-2)
            if params.rot90 and turns[i]:
                x = torch.rot90(x, int(turns[i]), (-2, -1))
            t[i] = x
        if params.intensity > 0:
            t = (t * gain.view(n, 1, 1, 1).to(t.dtype)).clamp_(0, 1)
        out.append(t)
    return out


def random_crop(hr: torch.Tensor, lr: torch.Tensor, lr_size: int, generator: torch.Generator):
    """Aligned random crops: an LR window of lr_size and the HR window it came from."""
    n, _, h, w = lr.shape
    if lr_size <= 0 or lr_size >= min(h, w):
        return hr, lr
    s = hr.shape[-1] // w
    ys = torch.randint(0, h - lr_size + 1, (n,), generator=generator)
    xs = torch.randint(0, w - lr_size + 1, (n,), generator=generator)
    lr_out = torch.stack([lr[i, :, y:y + lr_size, x:x + lr_size] for i, (y, x) in enumerate(zip(ys, xs))])
    hr_out = torch.stack([hr[i, :, s * y:s * (y + lr_size), s * x:s * (x + lr_size)]
                          for i, (y, x) in enumerate(zip(ys, xs))])
    return hr_out, lr_out


def training_batch(data: Split, params: Training, iteration: int, seed: int, rank: int = 0, world: int = 1,
                   with_lr: bool = True, crop: int = 0):
    """(HR, LR, labels) float batch for this rank and iteration: params.batch_size images, augmented per
    params.augment, and with an LR crop side `crop` > 0 aligned random LR/HR crops."""
    idx = batch_indices(len(data), params.batch_size, iteration, seed, rank, world)
    g = torch.Generator().manual_seed((seed * 7919 + iteration) * 131 + rank)
    hr = to_float(data.hr[idx])
    lr = to_float(data.lr[idx]) if with_lr else None
    if with_lr and crop:
        hr, lr = random_crop(hr, lr, crop, g)
    hr, *rest = augment([hr] + ([lr] if with_lr else []), params.augment, g)
    return hr, (rest[0] if with_lr else None), data.labels[idx]
