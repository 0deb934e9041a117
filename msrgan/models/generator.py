"""SRResNet generator (Ledig et al. 2017): residual blocks, global skip, x2 pixel-shuffle upsamplers.

`norm="batch"` is the paper's network (BatchNorm in every block); `norm="none"` drops BatchNorm and scales each
block's residual by `res_scale`, as EDSR (Lim et al. 2017) and ESRGAN (Wang et al. 2018) do for stable training: with
BatchNorm at batch 16 the statistics of a batch steer the update, and a single bright batch can throw the network far
off (measured: issue 9, README "Training that does not collapse").

Upsampling: `upsample="shuffle"` is the paper's sub-pixel convolution (conv to 4x the channels, then PixelShuffle),
initialised with ICNR (Aitken et al. 2017, "Checkerboard artifact free sub-pixel convolution"); training can still
give its four sub-pixel phases different responses, which shows as a 4x4 periodic pattern on flat regions (issue 10).
`upsample="resize"` is resize-convolution (Odena et al. 2016, "Deconvolution and checkerboard artifacts"): nearest x2
then a 3x3 conv, the same multiply-adds per output pixel, and a flat input gives a flat output whatever the weights.

This module imports nothing but torch: `msrgan export` ships it as the architecture source of a BioImage.IO
package (the generator file's reading and writing live in msrgan.models.generatorfile).

Images go in and out as float tensors in [0, 1], N x 3 x H x W -> N x 3 x sH x sW. With `residual=True` the network
predicts a correction on top of the bicubic-upscaled input, which trains much faster on a CPU budget.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class GeneratorConfig:
    blocks: int = 16
    channels: int = 64
    scale: int = 4
    in_channels: int = 3
    residual: bool = True
    norm: str = "batch"          # batch (the paper) | none (EDSR-style, with res_scale)
    res_scale: float = 1.0       # residual branch multiplier of every block
    upsample: str = "shuffle"    # shuffle (the paper's sub-pixel conv, ICNR init) | resize (nearest x2 + conv)


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm must be 'batch' or 'none', got {kind!r}")


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, norm: str = "batch", res_scale: float = 1.0):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1), _norm(norm, channels), nn.PReLU(channels),
            nn.Conv2d(channels, channels, 3, padding=1), _norm(norm, channels),
        )
        self.res_scale = res_scale

    def forward(self, x):
        return x + self.body(x) * self.res_scale


def icnr_(conv: nn.Conv2d, factor: int = 2) -> None:
    """ICNR (Aitken et al. 2017): initialise a sub-pixel conv (factor^2 * C output channels) so that its PixelShuffle
    output starts as nearest-neighbour upsampling of one C-channel conv: the factor^2 sub-pixels of each channel
    share weights and bias (PixelShuffle takes channel c * factor^2 + k to sub-pixel k of channel c)."""
    base = nn.Conv2d(conv.in_channels, conv.out_channels // factor**2, conv.kernel_size)   # nn.Conv2d's own init
    with torch.no_grad():
        conv.weight.copy_(base.weight.repeat_interleave(factor**2, dim=0))
        conv.bias.copy_(base.bias.repeat_interleave(factor**2))


def _upsampler(kind: str, channels: int) -> list[nn.Module]:
    """One x2 step, C x H x W -> C x 2H x 2W."""
    if kind == "shuffle":
        conv = nn.Conv2d(channels, 4 * channels, 3, padding=1)
        icnr_(conv)
        return [conv, nn.PixelShuffle(2), nn.PReLU(channels)]
    if kind == "resize":
        return [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(channels, channels, 3, padding=1),
                nn.PReLU(channels)]
    raise ValueError(f"upsample must be 'shuffle' or 'resize', got {kind!r}")


class Generator(nn.Module):
    arch = "srresnet"   # its name in a generator file (msrgan.models.architectures)

    def __init__(self, config: GeneratorConfig = GeneratorConfig()):
        super().__init__()
        steps = int(math.log2(config.scale))
        if 2**steps != config.scale:
            raise ValueError(f"scale must be a power of two, got {config.scale}")
        c = config.channels
        self.config = config
        self.head = nn.Sequential(nn.Conv2d(config.in_channels, c, 9, padding=4), nn.PReLU(c))
        self.blocks = nn.Sequential(*(ResidualBlock(c, config.norm, config.res_scale) for _ in range(config.blocks)))
        self.neck = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), _norm(config.norm, c))
        self.upsample = nn.Sequential(*(layer for _ in range(steps) for layer in _upsampler(config.upsample, c)))
        self.tail = nn.Conv2d(c, config.in_channels, 9, padding=4)
        if config.residual:  # start as plain bicubic: the network only has to learn the correction
            nn.init.zeros_(self.tail.weight)
            nn.init.zeros_(self.tail.bias)

    @property
    def receptive_radius(self) -> int:
        return receptive_radius(self.config)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        features = self.head(lr)
        out = self.tail(self.upsample(features + self.neck(self.blocks(features))))
        if self.config.residual:
            out = out + F.interpolate(lr, scale_factor=self.config.scale, mode="bicubic", align_corners=False)
        return out


def receptive_radius(config: GeneratorConfig) -> int:
    """How far, in LR pixels, an output pixel's receptive field reaches (rounded up): the 9x9 head, two 3x3 convs per
    block, the 3x3 neck, each x2 step's 3x3 conv at its own resolution (before the shuffle, or after the resize) and
    the 9x9 tail at the output's. The paper's 16-block network: 40; the default 8-block one: 23. As the tiles'
    overlap, it keeps the pixels a tile contributes close to untiled ones (the blend's weights are small where a
    tile's view is cut short): a paper-size network differs from its untiled output by under 0.1 of an 8-bit level
    (tests/test_upscale_tiling.py)."""
    steps = int(math.log2(config.scale))
    upsampling = sum(1 / 2 ** (i + (config.upsample == "resize")) for i in range(steps))
    return math.ceil(4 + 2 * config.blocks + 1 + upsampling + 4 / config.scale)


def build(**config) -> Generator:
    """Generator(GeneratorConfig(**config)): the callable a BioImage.IO package's architecture source names."""
    return Generator(GeneratorConfig(**config))
