"""Upscaling the test LR images with each method under study: two classical interpolations and the two generators."""
from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import torch

from msrgan.errors import fail
from msrgan.models.generator import load_generator

Upscaler = Callable[[list[np.ndarray]], list[np.ndarray]]  # LR images (HxWx3 uint8) -> SR images


def interpolation(flag: int, scale: int) -> Upscaler:
    def upscale(images: list[np.ndarray]) -> list[np.ndarray]:
        return [cv2.resize(im, (im.shape[1] * scale, im.shape[0] * scale), interpolation=flag) for im in images]
    return upscale


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        fail("evaluate.device: 'cuda' asked for, but no CUDA device is available (use 'auto' or 'cpu')")
    return device


def to_uint8(batch: torch.Tensor) -> np.ndarray:
    """N x 3 x H x W floats in [0, 1] -> N x H x W x 3 uint8 (clipped, rounded), as a PNG stores it."""
    return (batch.clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy())


def generator(path: str, scale: int, device: str = "cpu", batch_size: int = 16) -> Upscaler:
    """The generator saved at `path` (fp32, no autocast: evaluation wants the model's exact output)."""
    model, _ = load_generator(path, device)
    if model.config.scale != scale:
        fail(f"{path}: generator upscales x{model.config.scale}, but the test split's HR/LR ratio is x{scale}")

    @torch.no_grad()
    def upscale(images: list[np.ndarray]) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        for start in range(0, len(images), batch_size):
            chunk = images[start:start + batch_size]
            shapes = {im.shape for im in chunk}
            if len(shapes) > 1:  # different sizes: one at a time
                out += [upscale([im])[0] for im in chunk]
                continue
            x = torch.from_numpy(np.stack(chunk)).permute(0, 3, 1, 2).float().div(255).to(device)
            out += list(to_uint8(model(x)))
        return out
    return upscale


def upscalers(models: dict[str, str], scale: int, device: str = "cpu", batch_size: int = 16) -> dict[str, Upscaler]:
    """Every method by name, in the order tables show them: bicubic, lanczos, then the generators in `models`."""
    methods: dict[str, Upscaler] = {
        "bicubic": interpolation(cv2.INTER_CUBIC, scale),
        "lanczos": interpolation(cv2.INTER_LANCZOS4, scale),
    }
    for name, path in models.items():
        methods[name] = generator(path, scale, device, batch_size)
    return methods
