"""The processed HR/LR pairs: the training split streamed from its files by a DataLoader, the val/test splits in
memory as uint8 tensors, and seeded batches with augmentation.

Every batch is a pure function of (seed, iteration, rank): the data order is a seeded permutation per epoch, a
crop's position is drawn from a generator seeded by (seed, iteration, rank, slot) in whichever worker reads it, and
the augmentation draws from a generator seeded by the iteration. So a resumed (or rolled-back) run sees exactly the
batches an uninterrupted one would, whatever the number of workers, without saving any sampler state; and the
memory holds a few batches, not the split, so a training split of millions of crops from 20,000 fields of
2048 x 2048 trains like the 320 default ones.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from msrgan.classes import N_CLASSES, parse_labels
from msrgan.data.foreground import foreground_mask
from msrgan.data.processed import (DOMAIN, INDEX, NORMALISATION, check_pair, image_path, read_domain,
                                   read_index)
from msrgan.errors import UserError, fail
from msrgan.imageio import image_size, read_png_rgb
from msrgan.params import Training

CROP_TRIES = 10         # random crops drawn before one with too little foreground is taken anyway


@dataclass
class Split:
    ids: list[str]
    hr: torch.Tensor          # N x 3 x H x W uint8
    lr: torch.Tensor          # N x 3 x h x w uint8
    labels: torch.Tensor      # N x 13 float multi-hot

    def __len__(self) -> int:
        return len(self.ids)


def split_rows(processed: str | Path, split: str) -> tuple[list[str], torch.Tensor]:
    """The ids of one split's rows of index.csv and their N x 13 float multi-hot labels."""
    index = Path(processed) / INDEX
    rows = read_index(processed, split)
    if not rows:
        fail(f"{index}: no rows in split '{split}'")
    labels = torch.zeros(len(rows), N_CLASSES)
    for i, row in enumerate(rows):
        if row["labels"].strip():
            labels[i, parse_labels(row["labels"], f"{index}: {row['id']}")] = 1
    return [row["id"] for row in rows], labels


def read_pair(processed: Path, split: str, sample: str, with_lr: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """HR and LR (H x W x 3 uint8) of one sample; an LR that is not the HR / an integer scale is a UserError."""
    hr = read_png_rgb(image_path(processed, split, "hr", sample))
    if not with_lr:
        return hr, None
    lr = read_png_rgb(image_path(processed, split, "lr", sample))
    check_pair(hr.shape, lr.shape, image_path(processed, split, "lr", sample))
    return hr, lr


def load_split(processed: str | Path, split: str) -> Split:
    """All pairs of one split (val | test: a bounded number) in memory; a missing or mismatched file is a
    UserError naming it."""
    processed = Path(processed)
    ids, labels = split_rows(processed, split)
    hr, lr = [], []
    for sample in ids:
        h, low = read_pair(processed, split, sample)
        if hr and (h.shape != hr[0].shape or low.shape != lr[0].shape):
            fail(f"{image_path(processed, split, 'hr', sample)}: size {h.shape[:2]} differs from the other tiles "
                 f"{hr[0].shape[:2]}")
        hr.append(h)
        lr.append(low)
    to_tensor = lambda a: torch.from_numpy(np.stack(a)).permute(0, 3, 1, 2).contiguous()  # noqa: E731
    return Split(ids, to_tensor(hr), to_tensor(lr), labels)


def _chw(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).contiguous()


class PairFiles(Dataset):
    """One split's HR/LR pairs as files, read when a batch needs them. With `lr_size` > 0 an item is `crops`
    aligned random crops of one pair, LR lr_size px and the HR windows they came from (tiles mode trains on crops of
    whole fields, each drawn again while less than `min_foreground` of it has signal, at most CROP_TRIES times;
    several crops per read spread the decoding of a big field over them); with 0, the whole pair, and all pairs
    must have one size. Items are keyed (index, iteration, rank, slot): its crops are a function of the key, the
    same in any worker. An item is (HR k x 3 x H x W uint8, LR k x 3 x h x w or None, labels k x 13)."""

    def __init__(self, processed: str | Path, split: str, lr_size: int = 0, min_foreground: float = 0.0,
                 seed: int = 0, with_lr: bool = True, crops: int = 1):
        self.processed, self.split, self.with_lr = Path(processed), split, with_lr
        self.lr_size, self.min_foreground, self.seed = lr_size, min_foreground, seed % 2**32
        self.crops = crops if lr_size else 1
        self.ids, self.labels = split_rows(processed, split)
        self.sizes: list[tuple[tuple[int, int], int]] = []
        for sample in self.ids:   # headers only: a bad file fails now, not hours into training
            self.sizes.append(self._check_sizes(sample))
        (height, width), self.scale = self.sizes[0]
        self.hr_size = lr_size * self.scale if lr_size else height   # the side of the HR images it gives

    def _check_sizes(self, sample: str) -> tuple[tuple[int, int], int]:
        """((height, width), scale) of a pair from its files' headers; UserError naming the file when its LR is not
        its HR / the other pairs' integer scale (check_pair), or it does not fit them otherwise (whole pairs: another
        size; crops: smaller than one)."""
        hr_path, lr_path = (image_path(self.processed, self.split, kind, sample) for kind in ("hr", "lr"))
        hr, lr = image_size(hr_path), image_size(lr_path)
        scale = check_pair(hr, lr, lr_path, self.sizes[0][1] if self.sizes else None)
        if self.sizes:
            first = self.sizes[0][0]
            if not self.lr_size and hr != first:
                fail(f"{hr_path}: size {hr[1]}x{hr[0]} differs from the other images {first[1]}x{first[0]} (whole "
                     f"images are batched; crop them with a crop size)")
        if self.lr_size and min(hr[0] // scale, hr[1] // scale) < self.lr_size:
            fail(f"{hr_path}: {hr[1]}x{hr[0]} px is smaller than the training crop "
                 f"({self.lr_size} LR px, {self.lr_size * scale} HR px: the trainer's crop in LR px, or in tiles mode "
                 f"prepare.hr_size)")
        return hr, scale

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, key: tuple[int, int, int, int]) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        index, iteration, rank, slot = key
        sample = self.ids[index]
        hr, lr = read_pair(self.processed, self.split, sample, self.with_lr)
        if hr.shape[:2] != self.sizes[index][0]:   # the file changed since the start
            fail(f"{image_path(self.processed, self.split, 'hr', sample)}: changed during training")
        if not self.lr_size:
            return _chw(hr)[None], (_chw(lr)[None] if lr is not None else None), self.labels[index][None]
        size, s = self.lr_size, self.scale
        h, w = hr.shape[0] // s, hr.shape[1] // s
        rng = np.random.default_rng([self.seed, iteration, rank, slot])
        signal = foreground_mask(hr) if self.min_foreground > 0 else None
        hr_crops, lr_crops = [], []
        for _ in range(self.crops):
            for _ in range(CROP_TRIES):
                y, x = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
                if signal is None or signal[s * y:s * (y + size), s * x:s * (x + size)].mean() >= self.min_foreground:
                    break
            hr_crops.append(_chw(hr[s * y:s * (y + size), s * x:s * (x + size)]))
            lr_crops.append(_chw(lr[y:y + size, x:x + size]) if lr is not None else None)
        return (torch.stack(hr_crops), torch.stack(lr_crops) if lr is not None else None,
                self.labels[index].expand(self.crops, -1))


def stack_items(items: list[tuple]) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """A DataLoader batch: the items' (HR, LR or None, labels) concatenated."""
    hr, lr, labels = zip(*items)
    return torch.cat(hr), (torch.cat(lr) if lr[0] is not None else None), torch.cat(labels)


class IterationBatches(Sampler):
    """The keys of this rank's batches for iterations [start, stop), one list per iteration (batch_indices)."""

    def __init__(self, n: int, batch_size: int, seed: int, rank: int, world: int, start: int, stop: int):
        self.n, self.batch_size, self.seed, self.rank, self.world = n, batch_size, seed, rank, world
        self.start, self.stop = start, stop

    def __iter__(self) -> Iterator[list[tuple[int, int, int, int]]]:
        for it in range(self.start, self.stop):
            idx = batch_indices(self.n, self.batch_size, it, self.seed, self.rank, self.world)
            yield [(int(i), it, self.rank, slot) for slot, i in enumerate(idx.tolist())]

    def __len__(self) -> int:
        return self.stop - self.start


def _one_thread(_worker: int) -> None:
    cv2.setNumThreads(1)   # the workers are the parallelism: OpenCV must not oversubscribe the cores


class Batches:
    """This rank's training batches by iteration (batch_size images: batch_size / files.crops items), read by a
    DataLoader with `workers` processes (0: this one). Asked for an iteration out of sequence (a resume, a
    rollback), it restarts the loader there."""

    def __init__(self, files: PairFiles, batch_size: int, seed: int, rank: int, world: int, workers: int,
                 iterations: int):
        self.files, self.batch_size, self.seed, self.rank, self.world = files, batch_size, seed, rank, world
        self.workers, self.iterations = workers, iterations
        self.labels, self.scale, self.hr_size = files.labels, files.scale, files.hr_size
        self._iter, self._next = None, None

    def __len__(self) -> int:
        return len(self.files)

    def __call__(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """(HR, LR or None, labels) of `iteration`: uint8 N x 3 x H x W, float N x 13."""
        if iteration != self._next:
            sampler = IterationBatches(len(self.files), self.batch_size // self.files.crops, self.seed, self.rank,
                                       self.world,
                                       iteration, max(self.iterations, iteration + 1))
            # spawn, not fork: a child forked from a process whose OpenMP threads have run can deadlock
            pool = dict(multiprocessing_context="spawn", worker_init_fn=_one_thread) if self.workers else {}
            # its own generator: a loader seeds its workers from the global RNG otherwise, and that would move
            # the dropout of the iteration the loader starts at
            self._iter = iter(DataLoader(self.files, batch_sampler=sampler, num_workers=self.workers,
                                         collate_fn=stack_items, generator=torch.Generator(), **pool))
        try:
            batch = next(self._iter)
        except UserError as exc:   # raised in a worker, it comes back with the worker's traceback: keep one line
            fail(str(exc).strip().splitlines()[-1].removeprefix("msrgan.errors.UserError: "))
        self._next = iteration + 1
        return batch

    def close(self) -> None:
        """Stop the workers and drop their prefetched batches."""
        self._iter, self._next = None, None


def training_split(processed: str | Path, params: Training, seed: int, rank: int = 0, world: int = 1,
                   with_lr: bool = True) -> Batches:
    """The train split as a trainer reads it: random crops of `crop` LR px where the params have one, else in tiles
    mode crops of the tile size from whole fields (with the tile foreground rule), else whole pairs."""
    domain = read_domain(processed)
    tiles = domain.get("mode") == "tiles"
    crop = getattr(params, "crop", 0) or (domain["hr_size"] // domain["scale"] if tiles else 0)
    files = PairFiles(processed, "train", crop, domain.get("tile_min_foreground", 0.0) if tiles else 0.0, seed,
                      with_lr, params.crops_per_field)
    return Batches(files, params.batch_size, seed, rank, world, params.workers, params.iterations)


def fingerprint(processed: str | Path) -> str:
    """A hash of index.csv and of how the pairs were made (domain.json: the degradation; normalisation.json): a
    checkpoint from other data must not be resumed, and in tiles mode new LR fields keep index.csv as it was."""
    digest = hashlib.sha256()
    for name in (INDEX, DOMAIN, NORMALISATION):
        path = Path(processed) / name
        digest.update(path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()[:16]


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


def training_batch(data: Batches, params: Training, iteration: int, seed: int, rank: int = 0):
    """(HR, LR or None, labels) float batch for this rank and iteration: params.batch_size images (or crops),
    augmented per params.augment."""
    hr, lr, labels = data(iteration)
    g = torch.Generator().manual_seed((seed * 7919 + iteration) * 131 + rank)
    hr, *rest = augment([to_float(hr)] + ([to_float(lr)] if lr is not None else []), params.augment, g)
    return hr, (rest[0] if rest else None), labels
