"""The generator file: architecture config, weights and metadata in one file (msrgan.models.modelfile's format).

Apart from generator.py, which `msrgan export` ships on its own as a BioImage.IO architecture source and so imports
nothing but torch.
"""
from __future__ import annotations

import os

import torch

from msrgan.models.generator import Generator, build
from msrgan.models.modelfile import load_model, save_model


def save_generator(path: str | os.PathLike, model: Generator, **meta) -> None:
    """Everything inference needs in one file: architecture, weights, and metadata (normalisation, ...)."""
    save_model(path, "generator", model, **meta)


def load_generator(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[Generator, dict]:
    """(generator in eval mode, its metadata); a missing or foreign file is a UserError naming it."""
    return load_model(path, "generator", lambda config: build(**config), "generator", device)
