"""miniVGG19: the VGG19 layout (conv blocks of 2-2-4-4-4, BN, LeakyReLU) narrowed by `width`, trained from scratch
to classify the 13 localisation classes; its block features give the content loss of mSRGAN."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn

from msrgan.models.modelfile import load_model, save_model

VGG19_BLOCKS = (2, 2, 4, 4, 4)


@dataclass(frozen=True)
class MiniVGGConfig:
    width: int = 16            # channels of the first block; VGG19 itself is 64
    n_classes: int = 13
    dropout: float = 0.3


class MiniVGG(nn.Module):
    def __init__(self, config: MiniVGGConfig = MiniVGGConfig()):
        super().__init__()
        self.config = config
        widths = [config.width * m for m in (1, 2, 4, 8, 8)]
        blocks, c_in = [], 3
        for n_convs, c_out in zip(VGG19_BLOCKS, widths):
            layers = []
            for _ in range(n_convs):
                layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]
                c_in = c_out
            blocks.append(nn.Sequential(*layers))
        self.blocks = nn.ModuleList(blocks)
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(config.dropout),
                                  nn.Linear(c_in, config.n_classes))

    def features(self, x: torch.Tensor, blocks: tuple[int, ...] = (1, 2, 3, 4, 5)) -> list[torch.Tensor]:
        """Activations after the last conv of each named block (1-based), for the content loss."""
        out = []
        for i, block in enumerate(self.blocks, start=1):
            x = block(x)
            if i in blocks:
                out.append(x)
            if i == max(blocks):
                break
            x = self.pool(x)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for the 13 classes (multi-label: apply a sigmoid) from RGB in [0, 1]."""
        for block in self.blocks:
            x = self.pool(block(x))
        return self.head(x)


def save_minivgg(path: str | os.PathLike, model: MiniVGG, **meta) -> None:
    save_model(path, "minivgg", model, **meta)


def load_minivgg(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[MiniVGG, dict]:
    """(frozen classifier in eval mode, its metadata)."""
    model, meta = load_model(path, "minivgg", lambda config, arch: MiniVGG(MiniVGGConfig(**config)), "miniVGG19",
                             device)
    return model.requires_grad_(False), meta
