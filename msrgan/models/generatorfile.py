"""The SRResNet's generator file: its architecture (the `arch` name and config), weights and metadata in one file
(msrgan.models.modelfile's format), as train_srresnet writes it and train_srgan reads it.

A file of another architecture (a baseline's) is written with save_generator too, but read with
msrgan.models.architectures.load_any_generator: this module imports no baseline, so the stages that only train the
SRResNet do not depend on the baselines' code. Apart from the architecture modules, which `msrgan export` ships on
their own as a BioImage.IO architecture source and so import nothing but torch. A file without an `arch` field
(written before it existed) holds an SRResNet.
"""
from __future__ import annotations

import os

import torch
from torch import nn

from msrgan.errors import fail
from msrgan.models.generator import Generator, build
from msrgan.models.modelfile import load_model, save_model
from msrgan.runtime import unwrap


def save_generator(path: str | os.PathLike, model: nn.Module, **meta) -> None:
    """Everything inference needs in one file: architecture (`model.arch` and its config), weights, and metadata
    (normalisation, ...)."""
    save_model(path, "generator", model, unwrap(model).arch, **meta)


def load_generator(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[Generator, dict]:
    """(the SRResNet generator in eval mode, its metadata); a missing or foreign file, or one of another
    architecture, is a UserError naming it."""
    def srresnet(config: dict, arch: str | None) -> Generator:
        if arch not in (None, Generator.arch):
            fail(f"{path}: holds a {arch!r} generator, not an SRResNet (msrgan upscale and msrgan export take it)")
        return build(**config)
    return load_model(path, "generator", srresnet, "generator", device)
