"""Drawing primitives the specimen is built from: smooth Gaussian random fields (textures, ragged outlines, the ER
network), sub-pixel point splats (puncta, anti-aliased filaments) and persistent random walks (filament backbones).
Lengths are in pixels; images are float32 H x W. Gaussian filtering is optics.blur, the one Gaussian kernel of
the project."""
from __future__ import annotations

import cv2
import numpy as np

from msrgan.data.optics import blur


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian-filtered white noise of correlation length `sigma` px with unit standard deviation (float32
    `shape`); coarse ones are made small and upsampled: fast."""
    f = max(1, int(sigma // 2))
    h, w = -(-shape[0] // f) + 2, -(-shape[1] // f) + 2
    small = rng.standard_normal((h, w), dtype=np.float32)
    small = blur(small, sigma / f)
    if f > 1:
        small = cv2.resize(small, (w * f, h * f), interpolation=cv2.INTER_LINEAR)
    out = small[f:f + shape[0], f:f + shape[1]]
    return out / (out.std() + 1e-6)


def splat(shape: tuple[int, int], y: np.ndarray, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Add weights `w` at sub-pixel points (bilinear): filaments and puncta drawn additively, anti-aliased."""
    h, wd = shape
    y0, x0 = np.floor(y).astype(np.int64), np.floor(x).astype(np.int64)
    fy, fx = (y - y0).astype(np.float32), (x - x0).astype(np.float32)
    out = np.zeros(h * wd, np.float64)
    for dy, dx, ww in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 0, fy * (1 - fx)), (1, 1, fy * fx)):
        yy, xx = y0 + dy, x0 + dx
        ok = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < wd)
        out += np.bincount(yy[ok] * wd + xx[ok], weights=(w * ww)[ok], minlength=h * wd)
    return out.reshape(h, wd).astype(np.float32)


def walks(rng, y0, x0, angle0, n_steps: int, step: float, turn: float) -> tuple[np.ndarray, np.ndarray]:
    """Persistent random walks (one per start), shape (n, n_steps): filament backbones."""
    turns = rng.normal(0, turn, (len(y0), n_steps)).astype(np.float32)
    turns[:, 0] = 0
    ang = angle0[:, None] + np.cumsum(turns, axis=1)
    y = y0[:, None] + step * np.cumsum(np.sin(ang), axis=1)
    x = x0[:, None] + step * np.cumsum(np.cos(ang), axis=1)
    return y, x


def inside(labels: np.ndarray, y: np.ndarray, x: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Per walk point: still inside its own cell, counting from the start (a walk ends where it first leaves)."""
    h, w = labels.shape
    yi, xi = np.clip(np.rint(y).astype(np.int64), 0, h - 1), np.clip(np.rint(x).astype(np.int64), 0, w - 1)
    ok = (labels[yi, xi] == cell[:, None]) & (y >= 0) & (y < h) & (x >= 0) & (x < w)
    return np.cumprod(ok, axis=1).astype(bool)


def draw_walks(shape, y, x, alive, weight) -> np.ndarray:
    """The walks' points where `alive`, splatted with one weight per walk."""
    w = np.broadcast_to(weight[:, None], y.shape)
    return splat(shape, y[alive], x[alive], w[alive])
