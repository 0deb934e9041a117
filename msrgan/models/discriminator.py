"""SRGAN discriminator (Ledig et al. 2017): eight 3x3 conv layers with BN and LeakyReLU, every second one strided,
channels doubling from `channels` to 8x, then a head giving one logit per image: the paper's dense layer
(flatten -> `dense` units -> 1) or, much cheaper on a CPU, global average pooling -> `dense` units -> 1."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import torch
from torch import nn

from msrgan.atomic import atomic_path


@dataclass(frozen=True)
class DiscriminatorConfig:
    channels: int = 64
    head: str = "dense"          # dense | gap
    dense: int = 1024
    input_size: int = 96         # HR side; the dense head's input size depends on it
    in_channels: int = 3


class Discriminator(nn.Module):
    def __init__(self, config: DiscriminatorConfig = DiscriminatorConfig()):
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One real/fake logit per image: N x 3 x H x W -> N."""
        return self.head(self.features(x)).squeeze(1)


def save_discriminator(path: str | os.PathLike, model: Discriminator, **meta) -> None:
    model = getattr(model, "module", model)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save({"kind": "msrgan-discriminator", "config": asdict(model.config), "state_dict": state,
                    "meta": meta}, tmp)


def load_discriminator(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[Discriminator, dict]:
    from msrgan.errors import fail
    if not os.path.isfile(path):
        fail(f"{path}: discriminator file not found")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(blob, dict) or blob.get("kind") != "msrgan-discriminator":
        fail(f"{path}: not an mSRGAN discriminator file")
    model = Discriminator(DiscriminatorConfig(**blob["config"]))
    model.load_state_dict(blob["state_dict"])
    return model.to(device).eval(), dict(blob.get("meta", {}))
