"""Upscaling the test LR images with each method under study (msrgan/evaluation/methods.py): classical
interpolations, and generators through the same Upscaler as `msrgan upscale`."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from msrgan.data.degrade import upscale as classical
from msrgan.errors import fail
from msrgan.runtime import Runtime
from msrgan.upscale.upscaler import load_upscaler

Prediction = Callable[[list[np.ndarray]], list[np.ndarray]]  # a method: LR images (HxWx3 uint8) -> SR images


def interpolation(flag: int, scale: int) -> Prediction:
    def upscale(images: list[np.ndarray]) -> list[np.ndarray]:
        return [classical(im, scale, flag) for im in images]
    return upscale


def generator(path: str, scale: int, runtime: Runtime | None = None) -> Prediction:
    """The generator saved at `path`, run exactly as `msrgan upscale` runs it (the same Upscaler: BatchNorm folded,
    bf16 autocast where the hardware has it, channels_last, tiles), so the scores describe the tool users run;
    on `runtime` (evaluate's device and precision; None: the automatic choice)."""
    upscaler = load_upscaler(path, runtime=runtime)
    if upscaler.scale != scale:
        fail(f"{path}: generator upscales x{upscaler.scale}, but the test split's HR/LR ratio is x{scale}")

    def upscale(images: list[np.ndarray]) -> list[np.ndarray]:
        return [upscaler(im[None])[0][0] for im in images]
    return upscale


def upscalers(methods, models, scale: int, runtime: Runtime | None = None) -> dict[str, Prediction]:
    """Every method of `methods` (msrgan.evaluation.methods.Method entries) by name, in their order: a classical
    interpolation by its OpenCV flag, a generator by its file in the folder `models`."""
    return {m.name: interpolation(m.interpolation, scale) if m.model is None else
            generator(str(Path(models) / m.model), scale, runtime) for m in methods}
