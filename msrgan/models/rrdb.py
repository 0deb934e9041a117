"""ESRGAN's generator, RRDBNet (Wang et al. 2018, "ESRGAN: Enhanced super-resolution generative adversarial
networks", ECCV Workshops; as in BasicSR): residual-in-residual dense blocks (RRDB: three dense blocks of five 3x3
convolutions, each seeing every earlier feature map, LeakyReLU 0.2, each block's residual scaled by 0.2, and the
three scaled by 0.2 again over the RRDB), no BatchNorm, a trunk conv and a long skip, x2 nearest-neighbour upsampling
steps each followed by a 3x3 conv, a 3x3 conv at the output resolution and the reconstruction.

Sized small for a CPU budget (the paper: 23 RRDBs x 64 channels, growth 32; here 2 x 32, growth 16). One change
from the paper: the network predicts a correction on top of the bicubic-upscaled input, its last convolution
starting at zero (it starts as bicubic).

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
class RRDBConfig:
    blocks: int = 2          # RRDBs (the paper: 23)
    channels: int = 32       # (the paper: 64)
    growth: int = 16         # channels each dense-block conv adds (the paper: 32)
    res_scale: float = 0.2   # residual scaling of the dense blocks and the RRDBs (the paper: 0.2)
    scale: int = 4
    in_channels: int = 3


class DenseBlock(nn.Module):
    def __init__(self, channels: int, growth: int, res_scale: float):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(channels + i * growth, growth if i < 4 else channels, 3, padding=1)
                                   for i in range(5))
        self.res_scale = res_scale

    def forward(self, x):
        features = [x]
        for i, conv in enumerate(self.convs):
            out = conv(torch.cat(features, dim=1))
            if i < 4:
                features.append(F.leaky_relu(out, 0.2))
        return x + out * self.res_scale


class RRDB(nn.Module):
    def __init__(self, channels: int, growth: int, res_scale: float):
        super().__init__()
        self.body = nn.Sequential(*(DenseBlock(channels, growth, res_scale) for _ in range(3)))
        self.res_scale = res_scale

    def forward(self, x):
        return x + self.body(x) * self.res_scale


class RRDBNet(nn.Module):
    arch = "rrdb"   # its name in a generator file (msrgan.models.architectures)

    def __init__(self, config: RRDBConfig = RRDBConfig()):
        super().__init__()
        steps = int(math.log2(config.scale))
        if 2**steps != config.scale:
            raise ValueError(f"scale must be a power of two, got {config.scale}")
        c = config.channels
        self.config = config
        self.head = nn.Conv2d(config.in_channels, c, 3, padding=1)
        self.body = nn.Sequential(*(RRDB(c, config.growth, config.res_scale) for _ in range(config.blocks)),
                                  nn.Conv2d(c, c, 3, padding=1))
        self.upsample = nn.ModuleList(nn.Conv2d(c, c, 3, padding=1) for _ in range(steps))
        self.hr = nn.Conv2d(c, c, 3, padding=1)
        self.tail = nn.Conv2d(c, config.in_channels, 3, padding=1)
        nn.init.zeros_(self.tail.weight)   # start as plain bicubic
        nn.init.zeros_(self.tail.bias)

    @property
    def receptive_radius(self) -> int:
        return receptive_radius(self.config)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        features = self.head(lr)
        x = features + self.body(features)
        for conv in self.upsample:
            x = F.leaky_relu(conv(F.interpolate(x, scale_factor=2, mode="nearest")), 0.2)
        out = self.tail(F.leaky_relu(self.hr(x), 0.2))
        return out + F.interpolate(lr, scale_factor=self.config.scale, mode="bicubic", align_corners=False)


def receptive_radius(config: RRDBConfig) -> int:
    """LR pixels an output pixel's receptive field reaches (rounded up): the head, 15 convs per RRDB, the trunk
    conv, each x2 step's conv at its own (doubled) resolution, the two convs at the output's. The default (2 RRDBs)
    at x4: 34."""
    steps = int(math.log2(config.scale))
    return math.ceil(1 + 15 * config.blocks + 1 + sum(1 / 2 ** (i + 1) for i in range(steps)) + 2 / config.scale)


def build(**config) -> RRDBNet:
    """RRDBNet(RRDBConfig(**config)): the callable a BioImage.IO package's architecture source names."""
    return RRDBNet(RRDBConfig(**config))
