"""An RCAN-style network (Zhang et al. 2018, "Image super-resolution using very deep residual channel attention
networks", ECCV; for microscopy, Chen et al. 2021, Nature Methods): residual groups of residual channel-attention
blocks (RCAB: conv, ReLU, conv, then channel attention: global average pooling, a 1x1 squeeze to channels /
`reduction`, ReLU, a 1x1 expansion, sigmoid, scaling each channel), a long skip over the groups, x2 sub-pixel
upsampling steps, a 3x3 reconstruction.

Sized small for a CPU budget (the paper: 10 groups x 20 blocks x 64 channels; here 2 x 4 x 32). One change from
the paper: the network predicts a correction on top of the bicubic-upscaled input, its last convolution starting
at zero (it starts as bicubic), in place of the paper's mean shift.

Tiling: the channel attention averages over the whole input, so a tile's attention weights differ a little from the
whole field's; `receptive_radius` is the convolutions' reach, and tiles overlapping by it agree with the untiled
field to within what the attention's averages change (tests/test_baselines.py measures it).

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
class RCANConfig:
    groups: int = 2          # residual groups (the paper: 10)
    blocks: int = 4          # RCABs per group (the paper: 20)
    channels: int = 32       # (the paper: 64)
    reduction: int = 8       # channel attention squeeze (the paper: 16)
    scale: int = 4
    in_channels: int = 3


class ChannelAttention(nn.Module):
    def __init__(self, channels: int, reduction: int):
        super().__init__()
        self.squeeze = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, channels // reduction, 1),
                                     nn.ReLU(inplace=True), nn.Conv2d(channels // reduction, channels, 1), nn.Sigmoid())

    def forward(self, x):
        return x * self.squeeze(x)


class RCAB(nn.Module):
    def __init__(self, channels: int, reduction: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(inplace=True),
                                  nn.Conv2d(channels, channels, 3, padding=1), ChannelAttention(channels, reduction))

    def forward(self, x):
        return x + self.body(x)


class ResidualGroup(nn.Module):
    def __init__(self, channels: int, reduction: int, blocks: int):
        super().__init__()
        self.body = nn.Sequential(*(RCAB(channels, reduction) for _ in range(blocks)),
                                  nn.Conv2d(channels, channels, 3, padding=1))

    def forward(self, x):
        return x + self.body(x)


class RCAN(nn.Module):
    arch = "rcan"   # its name in a generator file (msrgan.models.architectures)

    def __init__(self, config: RCANConfig = RCANConfig()):
        super().__init__()
        steps = int(math.log2(config.scale))
        if 2**steps != config.scale:
            raise ValueError(f"scale must be a power of two, got {config.scale}")
        c = config.channels
        self.config = config
        self.head = nn.Conv2d(config.in_channels, c, 3, padding=1)
        self.body = nn.Sequential(*(ResidualGroup(c, config.reduction, config.blocks) for _ in range(config.groups)),
                                  nn.Conv2d(c, c, 3, padding=1))
        self.upsample = nn.Sequential(*(layer for _ in range(steps)
                                        for layer in (nn.Conv2d(c, 4 * c, 3, padding=1), nn.PixelShuffle(2))))
        self.tail = nn.Conv2d(c, config.in_channels, 3, padding=1)
        nn.init.zeros_(self.tail.weight)   # start as plain bicubic
        nn.init.zeros_(self.tail.bias)

    @property
    def receptive_radius(self) -> int:
        return receptive_radius(self.config)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        features = self.head(lr)
        out = self.tail(self.upsample(features + self.body(features)))
        return out + F.interpolate(lr, scale_factor=self.config.scale, mode="bicubic", align_corners=False)


def receptive_radius(config: RCANConfig) -> int:
    """LR pixels the convolutions reach (rounded up; the channel attention's averages reach the whole input): the
    head, two per RCAB and one per group, the body's last, each x2 step's conv at its own resolution and the tail at
    the output's. The default (2 groups x 4 blocks) at x4: 22."""
    steps = int(math.log2(config.scale))
    return math.ceil(1 + config.groups * (2 * config.blocks + 1) + 1 + sum(1 / 2**i for i in range(steps))
                     + 1 / config.scale)


def build(**config) -> RCAN:
    """RCAN(RCANConfig(**config)): the callable a BioImage.IO package's architecture source names."""
    return RCAN(RCANConfig(**config))
