"""What each method costs beside its quality: parameters, multiply-adds per output pixel and upscale speed, every
method on the same field in the same run (the training cost per iteration is the training stages' own timing)."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from msrgan.models.architectures import load_any_generator

FIELD_LR = 128   # LR side of the timed field: a 512 x 512 output at x4
PROBE_LR = 32    # LR side of the forward pass whose operations are counted


def timed_field(lr: np.ndarray, side: int = FIELD_LR) -> np.ndarray:
    """The test LR image `lr` (h x w x 3 uint8) repeated and cut to side x side: the same field for every method."""
    reps = (-(-side // lr.shape[0]), -(-side // lr.shape[1]), 1)
    return np.ascontiguousarray(np.tile(lr, reps)[:side, :side])


def network_cost(path: str | Path) -> dict:
    """{'parameters', 'macs_per_pixel'} of the generator file at `path`: its parameter count and the multiply-adds
    of its convolutions and matrix products (torch.utils.flop_counter, 2 FLOPs each; FFTs and pointwise operations
    are not counted) per output pixel, on a PROBE_LR x PROBE_LR input."""
    model, _ = load_any_generator(path)
    x = torch.zeros(1, model.config.in_channels, PROBE_LR, PROBE_LR)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    out_pixels = (PROBE_LR * model.config.scale) ** 2
    return {"parameters": sum(p.numel() for p in model.parameters()),
            "macs_per_pixel": counter.get_total_flops() / 2 / out_pixels}


def upscale_speed(upscale, field: np.ndarray, scale: int, rounds: int = 3) -> float:
    """Output megapixels per second of `upscale` (a method: list of LR images -> SR images) on `field`, the best
    of `rounds` after one warm-up (the machine may be shared)."""
    upscale([field])
    best = min(_seconds(upscale, field) for _ in range(rounds))
    return field.shape[0] * field.shape[1] * scale ** 2 / best / 1e6


def _seconds(upscale, field: np.ndarray) -> float:
    start = time.perf_counter()
    upscale([field])
    return time.perf_counter() - start
