"""Seamless tiled prediction: overlapping LR tiles, batched through the generator, blended with a smooth window.

Memory stays flat whatever the field size: only `batch` tiles are in the network at once; the output is a weighted sum
accumulated in place. Each tile's HR prediction gets a separable weight that is 1 in its core and falls to 0 towards
a side shared with a neighbour (a zero band first, where zero padding and the bicubic skip's edge handling make the
prediction differ from an untiled one, then a sin^2 ramp). Neighbouring ramps are mirror images over the same pixels,
so the weights sum to 1 and the blend has no seam; sides on the image border keep weight 1.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class TileGrid:
    starts_y: list[int]
    starts_x: list[int]
    size_y: int
    size_x: int

    def __len__(self) -> int:
        return len(self.starts_y) * len(self.starts_x)

    def tiles(self) -> Iterator[tuple[int, int]]:
        return ((y, x) for y in self.starts_y for x in self.starts_x)


def axis_starts(length: int, tile: int, overlap: int) -> tuple[list[int], int]:
    """Tile starts along one axis and the tile size: the fewest tiles of at most `tile` pixels that overlap by at
    least `overlap`, shrunk to the smallest equal size and spread evenly (no thin last tile, less wasted work)."""
    if length <= tile:
        return [0], length
    n = math.ceil((length - overlap) / (tile - overlap))
    size = math.ceil((length + (n - 1) * overlap) / n)
    return [(i * (length - size)) // (n - 1) for i in range(n)], size


def tile_grid(height: int, width: int, tile: int, overlap: int) -> TileGrid:
    starts_y, size_y = axis_starts(height, tile, overlap)
    starts_x, size_x = axis_starts(width, tile, overlap)
    return TileGrid(starts_y, starts_x, size_y, size_x)


def ramp(length: int) -> np.ndarray:
    """Weights rising from 0 to 1 over `length` pixels: a zero quarter, a sin^2 half, a full quarter.
    ramp(n) + ramp(n)[::-1] == 1, so two tiles overlapping by exactly `length` blend to a partition of unity."""
    band = length // 4
    r = np.clip((np.arange(length) + 0.5 - band) / max(length - 2 * band, 1), 0, 1)
    return np.sin(np.pi / 2 * r) ** 2


def axis_window(start: int, size: int, length: int, fade: int) -> np.ndarray:
    """1-D weight of a tile covering [start, start + size) of an axis of `length` pixels (all in HR pixels)."""
    w = np.ones(size, np.float32)
    fade = min(fade, size // 2)
    if start > 0:
        w[:fade] = ramp(fade)
    if start + size < length:
        w[size - fade:] = np.minimum(w[size - fade:], ramp(fade)[::-1])
    return w


Predict = Callable[[torch.Tensor], torch.Tensor]  # N x C x h x w in [0, 1] -> N x C x sh x sw
TILE = 256   # the default tile side in LR (network input) pixels: msrgan upscale --tile


def predict_tiled(predict: Predict, images: np.ndarray, scale: int, tile: int, overlap: int, batch: int = 1,
                  progress: Callable[[int], object] | None = None,
                  mix: np.ndarray | None = None) -> np.ndarray:
    """Upscale `images` (N x C x H x W float32, [0, 1]) by `scale` in overlapping tiles of at most `tile` LR pixels;
    N x C x sH x sW float32. With `mix` (N x C x K weights) the result is instead K x sH x sW, the sum over n, c of
    mix[n, c, k] * upscaled[n, c] (e.g. averaging channel passes), without holding every upscaled image.
    `progress(k)` is called after every k tiles."""
    if overlap < 0 or 3 * overlap > tile:
        raise ValueError(f"tile ({tile}) must be at least 3x the overlap ({overlap})")
    n, channels, height, width = images.shape
    unmixed = mix is None
    if unmixed:
        mix = np.eye(n * channels, dtype=np.float32).reshape(n, channels, n * channels)
    grid = tile_grid(height, width, tile, overlap)
    out = np.zeros((mix.shape[2], height * scale, width * scale), np.float32)
    weight = np.zeros((height * scale, width * scale), np.float32)
    fade = overlap * scale
    jobs = [(i, y, x) for i in range(n) for y, x in grid.tiles()]
    hy, hx = grid.size_y * scale, grid.size_x * scale
    for first in range(0, len(jobs), batch):
        chunk = jobs[first:first + batch]
        x_in = torch.from_numpy(np.stack([images[i, :, y:y + grid.size_y, x:x + grid.size_x] for i, y, x in chunk]))
        pred = predict(x_in).float().cpu().numpy()
        for (i, y, x), p in zip(chunk, pred, strict=True):
            w = axis_window(y * scale, hy, height * scale, fade)[:, None] * axis_window(x * scale, hx, width * scale,
                                                                                         fade)[None, :]
            region = (slice(None), slice(y * scale, y * scale + hy), slice(x * scale, x * scale + hx))
            out[region] += np.einsum("chw,ck->khw", p * w, mix[i], optimize=True)
            if i == 0:  # every image shares the same grid: accumulate the weights once
                weight[region[1:]] += w
        if progress is not None:
            progress(len(chunk))
    out /= weight
    return out.reshape(n, channels, *out.shape[1:]) if unmixed else out
