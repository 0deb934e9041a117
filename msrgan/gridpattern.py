"""The grid pattern (the sub-pixel checkerboard an upscaler may leave): the part of an image that repeats with the
upsampling grid, every `scale` pixels in y and x. Plain arithmetic on arrays, shared by evaluate's metric and
msrgan upscale's consistency check (which accumulates it over strips)."""
from __future__ import annotations

import numpy as np


def grid_pattern(image: np.ndarray, scale: int) -> np.ndarray:
    """RMS, per channel, of the part of an image that repeats every `scale` pixels in y and x: the mean of each of
    the scale x scale sub-pixel phases (pixels with the same y mod scale and x mod scale) minus the image's mean. By
    Parseval this is the image's energy at the upsampling grid's frequencies (DFT bins at multiples of N / scale, DC
    excluded). An interpolating upscaler such as bicubic leaves it near zero (its kernel reproduces constants, so it
    has zeros there); a sub-pixel checkerboard is exactly such a component.

    image: H x W or H x W x C, any real dtype (rows and columns past a multiple of `scale` are ignored).
    Returns a float64 array of C values in the image's units (8-bit levels for uint8 input).
    Raises ValueError for an image smaller than one grid cell."""
    if image.shape[0] < scale or image.shape[1] < scale:
        raise ValueError(f"image of {image.shape[:2]} pixels is smaller than one {scale}x{scale} grid cell")
    sums, cells = phase_sums(image, scale)
    return periodic_rms(sums / cells)


def phase_sums(image: np.ndarray, scale: int) -> tuple[np.ndarray, int]:
    """(scale x scale x C float64 sums of each sub-pixel phase, grid cells summed) of an H x W[ x C] image; sums of
    strips of one image (heights multiples of `scale`) add up to the whole image's."""
    height, width = image.shape[0] // scale * scale, image.shape[1] // scale * scale
    blocks = image[:height, :width].reshape(height // scale, scale, width // scale, scale, -1)
    return blocks.sum(axis=(0, 2), dtype=np.float64), (height // scale) * (width // scale)


def periodic_rms(phases: np.ndarray) -> np.ndarray:
    """Per channel, the RMS of the scale x scale x C phase means about their mean: grid_pattern's figure."""
    return np.sqrt(np.square(phases - phases.mean(axis=(0, 1))).mean(axis=(0, 1)))
