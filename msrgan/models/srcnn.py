"""SRCNN (Dong, Loy, He and Tang 2014, "Learning a deep convolutional network for image super-resolution", ECCV;
TPAMI 2016): three convolutions, 9x9 -> 5x5 -> 5x5 (patch extraction, non-linear mapping, reconstruction), on the
bicubic-upscaled input. The original study's own comparison.

One change from the paper: the network predicts a correction on top of the bicubic-upscaled input (a residual over
bicubic, as VDSR does), its last convolution starting at zero, so it starts as bicubic and only learns what bicubic
misses; the paper's network predicts the HR image itself.

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
class SRCNNConfig:
    features: int = 64       # channels of the 9x9 patch extraction (the paper: 64)
    mapping: int = 32        # channels of the 5x5 non-linear mapping (the paper's 9-5-5 network: 32)
    scale: int = 4
    in_channels: int = 3


class SRCNN(nn.Module):
    arch = "srcnn"   # its name in a generator file (msrgan.models.architectures)

    def __init__(self, config: SRCNNConfig = SRCNNConfig()):
        super().__init__()
        self.config = config
        self.body = nn.Sequential(
            nn.Conv2d(config.in_channels, config.features, 9, padding=4), nn.ReLU(inplace=True),
            nn.Conv2d(config.features, config.mapping, 5, padding=2), nn.ReLU(inplace=True),
            nn.Conv2d(config.mapping, config.in_channels, 5, padding=2))
        nn.init.zeros_(self.body[-1].weight)   # start as plain bicubic
        nn.init.zeros_(self.body[-1].bias)

    @property
    def receptive_radius(self) -> int:
        return receptive_radius(self.config)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        bicubic = F.interpolate(lr, scale_factor=self.config.scale, mode="bicubic", align_corners=False)
        return bicubic + self.body(bicubic)


def receptive_radius(config: SRCNNConfig) -> int:
    """LR pixels an output pixel's receptive field reaches (rounded up): bicubic's 2, then 4 + 2 + 2 output pixels
    of the three convolutions. At x4: 4."""
    return math.ceil(2 + 8 / config.scale)


def build(**config) -> SRCNN:
    """SRCNN(SRCNNConfig(**config)): the callable a BioImage.IO package's architecture source names."""
    return SRCNN(SRCNNConfig(**config))
