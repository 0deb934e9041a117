"""A DFCAN-style network (Qiao et al. 2021, "Evaluation and development of deep neural networks for image
super-resolution in optical microscopy", Nature Methods): residual groups of Fourier channel-attention blocks (FCAB:
conv, GELU, conv, GELU, then Fourier channel attention: the features' 2-D FFT amplitude (|F|^0.8, zero frequency
centred), a 3x3 conv and ReLU on it, global average pooling, a 1x1 squeeze to channels / `reduction`, ReLU, a 1x1
expansion, sigmoid, scaling each channel of the features), a 3x3 head with GELU, one sub-pixel upsampling by the
whole scale, a 3x3 reconstruction.

Sized small for a CPU budget (the paper: 4 groups x 4 blocks x 64 channels; here 2 x 2 x 32). One change from the
paper: the network predicts a correction on top of the bicubic-upscaled input, its last convolution starting at
zero (it starts as bicubic), in place of the paper's sigmoid output. The FFT runs in float32 (also under bf16
autocast, which torch.fft does not take).

Tiling: the attention takes the FFT and the average over the whole input, so a tile's attention weights differ a
little from the whole field's; `receptive_radius` is the convolutions' reach, and tiles overlapping by it agree
with the untiled field to within what the attention changes (tests/test_baselines.py measures it).

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
class DFCANConfig:
    groups: int = 2          # residual groups (the paper: 4)
    blocks: int = 2          # FCABs per group (the paper: 4)
    channels: int = 32       # (the paper: 64)
    reduction: int = 8       # attention squeeze (the paper: 16)
    scale: int = 4
    in_channels: int = 3


class FourierChannelAttention(nn.Module):
    def __init__(self, channels: int, reduction: int):
        super().__init__()
        self.spectrum = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(inplace=True))
        self.squeeze = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, channels // reduction, 1),
                                     nn.ReLU(inplace=True), nn.Conv2d(channels // reduction, channels, 1), nn.Sigmoid())

    def forward(self, x):
        amplitude = torch.fft.fftshift(torch.fft.fft2(x.float()).abs().add(1e-8).pow(0.8), dim=(-2, -1))
        return x * self.squeeze(self.spectrum(amplitude.to(x.dtype)))


class FCAB(nn.Module):
    def __init__(self, channels: int, reduction: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.GELU(),
                                  nn.Conv2d(channels, channels, 3, padding=1), nn.GELU(),
                                  FourierChannelAttention(channels, reduction))

    def forward(self, x):
        return x + self.body(x)


class ResidualGroup(nn.Module):
    def __init__(self, channels: int, reduction: int, blocks: int):
        super().__init__()
        self.body = nn.Sequential(*(FCAB(channels, reduction) for _ in range(blocks)))

    def forward(self, x):
        return x + self.body(x)


class DFCAN(nn.Module):
    arch = "dfcan"   # its name in a generator file (msrgan.models.architectures)

    def __init__(self, config: DFCANConfig = DFCANConfig()):
        super().__init__()
        c, s = config.channels, config.scale
        self.config = config
        self.head = nn.Sequential(nn.Conv2d(config.in_channels, c, 3, padding=1), nn.GELU())
        self.body = nn.Sequential(*(ResidualGroup(c, config.reduction, config.blocks) for _ in range(config.groups)))
        self.upsample = nn.Sequential(nn.Conv2d(c, c * s * s, 3, padding=1), nn.GELU(), nn.PixelShuffle(s))
        self.tail = nn.Conv2d(c, config.in_channels, 3, padding=1)
        nn.init.zeros_(self.tail.weight)   # start as plain bicubic
        nn.init.zeros_(self.tail.bias)

    @property
    def receptive_radius(self) -> int:
        return receptive_radius(self.config)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        out = self.tail(self.upsample(self.body(self.head(lr))))
        return out + F.interpolate(lr, scale_factor=self.config.scale, mode="bicubic", align_corners=False)


def receptive_radius(config: DFCANConfig) -> int:
    """LR pixels the convolutions reach (rounded up; the attention's FFT and average reach the whole input): the
    head, two per FCAB (the 3x3 on the spectrum mixes frequencies, not places), the upsampling conv and the tail at
    the output's resolution. The default (2 groups x 2 blocks) at x4: 11."""
    return math.ceil(1 + 2 * config.groups * config.blocks + 1 + 1 / config.scale)


def build(**config) -> DFCAN:
    """DFCAN(DFCANConfig(**config)): the callable a BioImage.IO package's architecture source names."""
    return DFCAN(DFCANConfig(**config))
