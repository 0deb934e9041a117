"""The judge: a small ResNet (He et al. 2016, basic blocks) classifying the 13 localisation classes, trained on the
train split with its own seed and never used in any loss. Its features judge the generators from outside the
miniVGG19 feature space that the content loss optimises (feature distance, KID), and its class predictions on SR
images test whether super-resolution keeps the localisation signal (the CYTO2017 task)."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn

from msrgan.models.modelfile import load_model, save_model


@dataclass(frozen=True)
class JudgeConfig:
    """The architecture; no defaults beside these: params.yaml's train_judge holds the study's values."""
    width: int = 16            # channels of the first stage, doubled at each of the four stages
    blocks: int = 2            # basic residual blocks per stage (ResNet-18: 2)
    n_classes: int = 13
    dropout: float = 0.2


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN plus the (projected) input, then ReLU."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out),
                                  nn.ReLU(inplace=True), nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(c_out))
        self.skip = nn.Identity() if stride == 1 and c_in == c_out else nn.Sequential(
            nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


class Judge(nn.Module):
    STAGES = 4

    def __init__(self, config: JudgeConfig = JudgeConfig()):
        super().__init__()
        self.config = config
        w = config.width
        self.stem = nn.Sequential(nn.Conv2d(3, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True))
        stages, c_in = [], w
        for s in range(self.STAGES):
            c_out = w * 2 ** s
            blocks = [BasicBlock(c_in if b == 0 else c_out, c_out, 2 if (b == 0 and s > 0) else 1)
                      for b in range(config.blocks)]
            stages.append(nn.Sequential(*blocks))
            c_in = c_out
        self.stages = nn.ModuleList(stages)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(c_in, config.n_classes))

    def features(self, x: torch.Tensor, blocks: tuple[int, ...] = (1, 2, 3, 4)) -> list[torch.Tensor]:
        """Activations after each named stage (1-based, 1..4) of RGB in [0, 1] (N x 3 x H x W): the same call as
        MiniVGG.features, so one feature-distance code serves both."""
        out, x = [], self.stem(x)
        for i, stage in enumerate(self.stages, start=1):
            x = stage(x)
            if i in blocks:
                out.append(x)
            if i == max(blocks):
                break
        return out

    def embedding(self, x: torch.Tensor) -> torch.Tensor:
        """N x (8 * width) globally pooled last-stage features: the representation KID compares."""
        return self.pool(self.features(x, (self.STAGES,))[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for the 13 classes (multi-label: apply a sigmoid) from RGB in [0, 1]."""
        return self.head(self.embedding(x))


def save_judge(path: str | os.PathLike, model: Judge, **meta) -> None:
    save_model(path, "judge", model, **meta)


def load_judge(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[Judge, dict]:
    """(frozen judge in eval mode, its metadata)."""
    model, meta = load_model(path, "judge", lambda config, arch: Judge(JudgeConfig(**config)), "judge", device)
    return model.requires_grad_(False), meta
