"""The generator file: architecture (its `arch` name and config), weights and metadata in one file
(msrgan.models.modelfile's format).

Apart from the architecture modules (generator.py and the baselines), which `msrgan export` ships on their own as a
BioImage.IO architecture source and so import nothing but torch. A file without an `arch` field (written before it
existed) holds the SRResNet generator.
"""
from __future__ import annotations

import os

import torch
from torch import nn

from msrgan.models.architectures import DEFAULT, arch_of, build_generator
from msrgan.models.modelfile import load_model, save_model
from msrgan.runtime import unwrap


def save_generator(path: str | os.PathLike, model: nn.Module, **meta) -> None:
    """Everything inference needs in one file: architecture, weights, and metadata (normalisation, ...)."""
    save_model(path, "generator", model, arch_of(unwrap(model)), **meta)


def load_generator(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """(generator in eval mode, its metadata); a missing or foreign file is a UserError naming it."""
    return load_model(path, "generator", lambda config, arch: build_generator(arch or DEFAULT, config), "generator",
                      device)
