"""Where an upscaled image disagrees with its own input: downscale it again exactly as the training LR was made
(the generator file's recorded degradation: `cv2.resize(sr, (w // s, h // s), interpolation=cv2.INTER_CUBIC)`, or
the microscope's blur and binning, optics.redownscale) and compare with the input, both in the generator's [0, 1]
units. Detail the network invented that the input does not support shows up here.

A pattern that repeats with the upsampling grid (the sub-pixel checkerboard) averages to zero under the downscale and
is invisible to that comparison; the grid pattern (msrgan.gridpattern.grid_pattern, accumulated here over
strips) measures it directly."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from msrgan.data.optics import redownscale
from msrgan.gridpattern import periodic_rms, phase_sums


@dataclass
class Consistency:
    squared: float = 0.0      # sum of squared differences
    values: int = 0           # pixel-channel values compared
    off: int = 0              # pixels whose worst channel is off by more than `threshold`
    pixels: int = 0
    worst: float = 0.0
    threshold: float = 0.05
    grid_squared: float = 0.0  # sum over planes and channels of the squared grid-pattern RMS
    grid_channels: int = 0
    phase_sums: np.ndarray | None = None   # the current plane's per-phase sums (scale x scale x C), and cells added
    cells: int = 0

    def add(self, error: np.ndarray) -> np.ndarray:
        """Account C x H x W signed differences; the H x W map of each pixel's worst channel."""
        worst = np.abs(error).max(axis=0)
        self.squared += float(np.square(error, dtype=np.float64).sum())
        self.values += error.size
        self.off += int((worst > self.threshold).sum())
        self.pixels += worst.size
        self.worst = max(self.worst, float(worst.max()))
        return worst

    def add_grid(self, sr_unit: np.ndarray, scale: int) -> None:
        """Account one C x sH x sW output in [0, 1], or one strip of it (sH a multiple of `scale`, strips from the
        top): the sub-pixel phase sums of the plane so far; end_plane() turns them into its grid pattern."""
        sums, cells = phase_sums(sr_unit.transpose(1, 2, 0), scale)
        self.phase_sums = sums if self.phase_sums is None else self.phase_sums + sums
        self.cells += cells

    def end_plane(self) -> None:
        """The grid pattern of the plane whose pieces add_grid took (grid_pattern's definition), pooled in."""
        if self.phase_sums is None:
            return
        rms = periodic_rms(self.phase_sums / self.cells)
        self.grid_squared += float(np.square(rms).sum())
        self.grid_channels += rms.size
        self.phase_sums, self.cells = None, 0

    @property
    def grid(self) -> float:
        """RMS of the outputs' grid-periodic component, in [0, 1] units (x 255: 8-bit levels)."""
        return float(np.sqrt(self.grid_squared / max(self.grid_channels, 1)))

    @property
    def psnr(self) -> float:
        mse = self.squared / max(self.values, 1)
        return float("inf") if mse == 0 else 10 * np.log10(1 / mse)

    def summary(self) -> str:
        return (f"re-downscaled vs input: PSNR {self.psnr:.2f} dB, {100 * self.off / max(self.pixels, 1):.2f}% of "
                f"pixels off by more than {self.threshold:g} of the intensity range, worst {self.worst:.3f}; "
                f"grid pattern RMS {self.grid:.4f} of the range ({255 * self.grid:.2f} 8-bit levels)")


def redownscale_error(sr_unit: np.ndarray, lr_unit: np.ndarray, domain: dict | None = None) -> np.ndarray:
    """C x sH x sW and C x H x W floats in [0, 1] -> C x H x W (downscaled SR - LR), downscaled the way the
    generator's training LR was made (its recorded `domain`, optics.redownscale; bicubic without one)."""
    height, width = lr_unit.shape[1:]
    down = redownscale(np.ascontiguousarray(sr_unit.transpose(1, 2, 0)), sr_unit.shape[1] // height, domain)
    return down.reshape(height, width, -1).transpose(2, 0, 1) - lr_unit


def heat_map(worst: np.ndarray, threshold: float) -> np.ndarray:
    """H x W differences -> RGB uint8 (inferno: black = agrees, yellow-white >= 2 x threshold)."""
    level = np.clip(worst / (2 * threshold) * 255 + 0.5, 0, 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(level, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)

