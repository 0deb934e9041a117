"""SRGAN discriminator (Ledig et al. 2017): eight 3x3 conv layers with BN and LeakyReLU, every second one strided,
channels doubling from `channels` to 8x, then a head giving one logit per image: the paper's dense layer
(flatten -> `dense` units -> 1) or, much cheaper on a CPU, global average pooling -> `dense` units -> 1."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class DiscriminatorConfig:
    """The architecture; no defaults here: train_srgan.discriminator in params.yaml (the typed params) holds them
    (the paper: channels 64, head dense, dense 1024)."""
    channels: int                # first conv width, doubled every two blocks
    head: str                    # dense | gap
    dense: int                   # hidden units of the head
    input_size: int = 96         # HR side; the dense head's input size depends on it
    in_channels: int = 3
    spectral_norm: bool = False  # spectral normalisation of every conv and dense layer (Miyato et al. 2018)


class Discriminator(nn.Module):
    def __init__(self, config: DiscriminatorConfig):
        super().__init__()
        if config.head not in ("dense", "gap"):
            raise ValueError(f"head must be dense or gap, got {config.head!r}")
        self.config = config
        c = config.channels
        layers = [nn.Conv2d(config.in_channels, c, 3, padding=1), nn.LeakyReLU(0.2)]
        c_in, side = c, config.input_size
        for i, mult in enumerate((1, 2, 2, 4, 4, 8, 8)):    # strides 2,1,2,1,2,1,2 as in the paper
            stride = 2 if i % 2 == 0 else 1
            layers += [nn.Conv2d(c_in, c * mult, 3, stride=stride, padding=1), nn.BatchNorm2d(c * mult),
                       nn.LeakyReLU(0.2)]
            c_in = c * mult
            side = (side + 1) // 2 if stride == 2 else side
        self.features = nn.Sequential(*layers)
        if config.head == "dense":
            pool, n_in = nn.Flatten(), c_in * side * side
        else:
            pool, n_in = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()), c_in
        self.head = nn.Sequential(pool, nn.Linear(n_in, config.dense), nn.LeakyReLU(0.2), nn.Linear(config.dense, 1))
        if config.spectral_norm:   # a 1-Lipschitz bound on each layer keeps the critic from overpowering the generator
            for module in self.modules():
                if isinstance(module, (nn.Conv2d, nn.Linear)):
                    nn.utils.parametrizations.spectral_norm(module)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One real/fake logit per image: N x 3 x H x W -> N."""
        return self.head(self.features(x)).squeeze(1)

