"""Pixel values <-> the generator's [0, 1], as the pipeline's merge stage made its training images.

8-bit: x / 255. 16-bit: per channel clip((x - lo) / (hi - lo), 0, 1) with lo/hi the 0.1/99.9 percentiles (or the
generator's `percentiles` metadata) of a seeded pixel sample: msrgan.data.merge's window (its function, percentiles
and sample size; the sample is seeded by the channel index, since a user's file has no field id, so fields of more
than `sample_pixels` pixels get a window within sampling noise of merge's, smaller ones exactly merge's); on output
the inverse affine maps back to 16 bit, so intensities stay comparable with the input. The clip would flatten the
brightest and darkest 0.1% of pixels, so what it cut off is bicubic-upscaled and added back on output.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from msrgan.data.merge import percentile_window
from msrgan.params import Merge

# merge's defaults (params.Merge), for a generator file that records no window of its own
DEFAULT_PERCENTILES, SAMPLE_PIXELS = Merge().percentiles, Merge().sample_pixels


@dataclass(frozen=True)
class Window:
    """Per-channel affine map: unit = (x - lo) / (hi - lo)."""
    lo: np.ndarray      # C float64
    hi: np.ndarray      # C float64
    maximum: int        # 255 or 65535

    @property
    def clips(self) -> bool:
        return self.maximum != 255


def window_percentiles(meta: dict) -> tuple[float, float]:
    """The 16-bit window's (low, high) percentiles: the generator file's `percentiles` (merge's), or the default."""
    return tuple(meta.get("percentiles") or DEFAULT_PERCENTILES)


def intensity_window(pixels: np.ndarray, meta: dict) -> Window:
    """The window for `pixels` (... x C, uint8 or uint16) over all planes together, channel by channel."""
    channels = pixels.shape[-1]
    if pixels.dtype == np.uint8:
        return Window(np.zeros(channels), np.full(channels, 255.0), 255)
    percentiles = window_percentiles(meta)
    sample = int(meta.get("sample_pixels") or SAMPLE_PIXELS)
    bounds = [percentile_window(np.ascontiguousarray(pixels[..., c]), percentiles, sample, seed=c)
              for c in range(channels)]
    return Window(np.array([b[0] for b in bounds]), np.array([b[1] for b in bounds]), 65535)


def to_unit(plane: np.ndarray, window: Window) -> np.ndarray:
    """H x W x C integers -> C x H x W float32 in [0, 1]."""
    unit = (plane.astype(np.float32) - window.lo.astype(np.float32)) / (window.hi - window.lo).astype(np.float32)
    return np.ascontiguousarray(np.clip(unit, 0, 1).transpose(2, 0, 1))


def from_unit(unit: np.ndarray, window: Window, lr: np.ndarray, out: np.ndarray) -> np.ndarray:
    """C x sH x sW floats in [0, 1] -> `out` (sH x sW x C integers) through the inverse affine, plus what the
    window's clip cut off from the LR plane `lr` (H x W x C), bicubic-upscaled. Channel by channel: flat memory."""
    height, width = out.shape[:2]
    for c in range(unit.shape[0]):
        lo, hi = np.float32(window.lo[c]), np.float32(window.hi[c])
        values = np.clip(unit[c], 0, 1) * (hi - lo) + lo
        if window.clips:
            channel = lr[..., c].astype(np.float32)
            excess = channel - np.clip(channel, lo, hi)
            if excess.any():
                values += cv2.resize(excess, (width, height), interpolation=cv2.INTER_CUBIC)
        out[..., c] = np.clip(np.rint(values, out=values), 0, window.maximum, out=values)
    return out
