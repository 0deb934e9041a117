"""A CARE-style upsampling U-Net (Weigert et al. 2018, "Content-aware image restoration: pushing the limits of
fluorescence microscopy", Nature Methods; the CSBDeep package's `upsampling` CARE): the LR field bicubic-upscaled to
the output's size, then a U-Net of `depth` levels restores it, predicting a residual over its input (CSBDeep's
`unet_residual`, on by default); the last 1x1 convolution starts at zero, so the network starts as bicubic.

As CSBDeep's 2D default: depth 2, two convolutions per level, ReLU, 2x2 max pooling down, nearest-neighbour
upsampling and a skip concatenation up, the channels doubling per level, no BatchNorm; here with `features` 16
first-level channels and 3x3 kernels (CSBDeep: 32 and 5x5) to fit a CPU budget, as the U-Net runs at the output
resolution.

Tiling: the U-Net pools 2^depth output pixels into one, which is one LR pixel at x4 (depth 2): a tile starting at
any LR pixel lands on the whole field's pooling grid, so tiles agree with the untiled field within the receptive
radius. Where 2^depth does not divide the scale the input is zero-padded to a multiple of 2^depth and cropped back.

Images go in and out as float tensors in [0, 1], N x C x h x w -> N x C x sh x sw (C = `in_channels`, s = `scale`).
This module imports nothing but torch: `msrgan export` ships it as a BioImage.IO architecture source.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class CAREConfig:
    depth: int = 2           # pooling steps (CSBDeep: unet_n_depth 2)
    features: int = 16       # channels of the first level, doubled per level down (CSBDeep: 32)
    kernel: int = 3          # convolution kernel side (CSBDeep 2D: 5)
    convs: int = 2           # convolutions per level (CSBDeep: unet_n_conv_per_depth 2)
    scale: int = 4
    in_channels: int = 3


def _level(n: int, c_in: int, c_mid: int, c_out: int, kernel: int) -> nn.Sequential:
    """`n` convolutions, each with a ReLU: c_in -> c_mid -> ... -> c_mid -> c_out (CSBDeep's last convolution of a
    level can narrow to the level above's channels)."""
    sides = [c_in] + [c_mid] * (n - 1) + [c_out]
    return nn.Sequential(*(layer for a, b in zip(sides, sides[1:])
                           for layer in (nn.Conv2d(a, b, kernel, padding=kernel // 2), nn.ReLU(inplace=True))))


class CARE(nn.Module):
    arch = "care"   # its name in a generator file (msrgan.models.architectures)

    def __init__(self, config: CAREConfig = CAREConfig()):
        super().__init__()
        self.config = config
        f, k, n, d = config.features, config.kernel, config.convs, config.depth
        self.down = nn.ModuleList(_level(n, config.in_channels if i == 0 else f * 2 ** (i - 1), f * 2 ** i,
                                         f * 2 ** i, k) for i in range(d))
        # the bottom level and each level up end at the channels of the level above, as in CSBDeep
        self.bottom = _level(n, f * 2 ** (d - 1), f * 2 ** d, f * 2 ** (d - 1), k)
        self.up = nn.ModuleList(_level(n, f * 2 ** (i + 1), f * 2 ** i, f * 2 ** max(i - 1, 0), k)
                                for i in reversed(range(d)))
        self.out = nn.Conv2d(f, config.in_channels, 1)
        nn.init.zeros_(self.out.weight)   # start as plain bicubic
        nn.init.zeros_(self.out.bias)

    @property
    def receptive_radius(self) -> int:
        return receptive_radius(self.config)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        bicubic = F.interpolate(lr, scale_factor=self.config.scale, mode="bicubic", align_corners=False)
        height, width = bicubic.shape[-2:]
        step = 2 ** self.config.depth
        x = F.pad(bicubic, (0, -width % step, 0, -height % step))
        skips = []
        for level in self.down:
            x = level(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottom(x)
        for level, skip in zip(self.up, reversed(skips)):
            x = level(torch.cat([F.interpolate(x, scale_factor=2, mode="nearest"), skip], dim=1))
        return bicubic + self.out(x)[..., :height, :width]


def receptive_radius(config: CAREConfig) -> int:
    """LR pixels an output pixel's receptive field reaches (rounded up, a bound): bicubic's 2, then in output
    pixels each level's convolutions ((kernel - 1) / 2 each, 2^level output pixels apart) down and up, each pooling
    and each upsampling step one pixel of its level. The default (depth 2, two 3x3 per level) at x4: 9."""
    half = (config.kernel - 1) // 2
    levels = sum(2 * config.convs * half * 2 ** i + 2 * 2 ** i for i in range(config.depth))
    bottom = config.convs * half * 2 ** config.depth
    return math.ceil(2 + (levels + bottom) / config.scale)


def build(**config) -> CARE:
    """CARE(CAREConfig(**config)): the callable a BioImage.IO package's architecture source names."""
    return CARE(CAREConfig(**config))
