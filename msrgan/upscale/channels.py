"""Which input channels go through the RGB generator together, and how its outputs become the output channels.

A *pass* names the input channel for each of the generator's inputs (R, G, B), or -1 for a black one. Every input
channel is upscaled by at least one pass, and each output channel is the mean of every generator output that was fed
that channel, so the output keeps the input's channel layout. The defaults follow the pipeline's merge (channels in
HPA order red, green, blue, yellow: the first three as R, G, B, the ER channel dropped from the RGB image):
- 3 or 4 channels: channels 0, 1, 2 as R, G, B; a 4th channel through on its own;
- 1 or 2 channels: each channel on its own (fed to R, G and B, the three outputs averaged): the generator never saw
  two stains without the third, and this invents no cross-talk between them.
`--channels 0,1,2` (or `2,1,-`, `-` a black input) names the RGB pass; `single` sends every channel on its own.
"""
from __future__ import annotations

import numpy as np

from msrgan.errors import fail

Pass = tuple[int, ...]
BLACK = -1


def parse_channels(spec: str, width: int = 3) -> list[Pass] | None:
    """`auto` -> None (decided per image), `single` -> [], else the RGB pass named by `spec` as [pass]."""
    spec = spec.strip().lower()
    if spec == "auto":
        return None
    if spec == "single":
        return []
    parts = [p.strip() for p in spec.split(",")]
    if len(parts) != width or not all(p == "-" or p.isdigit() for p in parts) or all(p == "-" for p in parts):
        fail(f"--channels: expected auto, single, or {width} comma-separated channel numbers (0-based) or '-' "
             f"for a black input, e.g. 0,1,2 or 2,1,-; got {spec!r}")
    return [tuple(BLACK if p == "-" else int(p) for p in parts)]


def plan_passes(chosen: list[Pass] | None, channels: int, width: int = 3) -> list[Pass]:
    """Every pass for an image with `channels` channels: the chosen (or default) RGB pass, then each channel it
    leaves out on its own. UserError when `chosen` names a channel the image lacks."""
    if chosen is None:
        chosen = [tuple(range(width))] if channels >= width else []
    for p in chosen:
        if max(p) >= channels:
            fail(f"--channels names channel {max(p)}, but the image has {channels} channel(s) (numbered from 0)")
    covered = {c for p in chosen for c in p}
    return list(chosen) + [(c,) * width for c in range(channels) if c not in covered]


def pass_input(unit: np.ndarray, p: Pass) -> np.ndarray:
    """The generator's input for pass `p` from C x H x W floats."""
    black = np.zeros(unit.shape[1:], unit.dtype)
    return np.stack([unit[c] if c != BLACK else black for c in p])


def mixing(passes: list[Pass], channels: int, width: int = 3) -> np.ndarray:
    """P x width x C weights: output channel c is the mean of every generator output that was fed channel c."""
    mix = np.zeros((len(passes), width, channels), np.float32)
    for i, p in enumerate(passes):
        for k, c in enumerate(p):
            if c != BLACK:
                mix[i, k, c] = 1
    return mix / mix.sum(axis=(0, 1), keepdims=True)
