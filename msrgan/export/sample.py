"""The package's test field: a real test-split field of the pipeline (or a user's file), made into an LR/HR pair.

The field is shrunk whole to an HR of 4x the package's smallest input, the way prepare's paper mode shrinks a field
to 96 px (OpenCV bicubic), and its LR made from that HR as prepare makes every LR (data/degrade.downscale), in the
raw file's own bit depth: a 16-bit field stays 16-bit, so the test tensors exercise the package's 16-bit path.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from msrgan.data.degrade import downscale, upscale
from msrgan.data.merge import read_channel
from msrgan.data.processed import INDEX, NORMALISATION, read_index
from msrgan.data.raw import RGB, scan_raw
from msrgan.errors import fail
from msrgan.imageio import read_image
from msrgan.upscale.imagefile import read_input
from msrgan.upscale.intensity import DEFAULT_PERCENTILES


@dataclass(frozen=True)
class Sample:
    lr: np.ndarray      # n x n x 3, uint8 or uint16
    hr: np.ndarray      # sn x sn x 3, same dtype
    source: str         # where the field came from, in words


def shrink(field: np.ndarray, lr_size: int, scale: int, source: str) -> Sample:
    """The whole H x W x 3 `field` as an HR of (scale * lr_size)^2 and its LR."""
    if field.dtype not in (np.uint8, np.uint16):
        fail(f"{source}: the test field must be 8- or 16-bit, got {field.dtype}")
    side = scale * lr_size
    if min(field.shape[:2]) < side:
        fail(f"{source}: the test field must be at least {side}x{side} pixels (it is shrunk to {side} px HR and "
             f"{lr_size} px LR), got {field.shape[1]}x{field.shape[0]}")
    hr = cv2.resize(field, (side, side), interpolation=cv2.INTER_CUBIC)
    return Sample(downscale(hr, scale), hr, source)


def pipeline_field(raw: str | os.PathLike, processed: str | os.PathLike) -> tuple[np.ndarray, str]:
    """(H x W x 3 raw field, its description): the first test-split FOV of the pipeline, its stains in the order
    merge put them into R, G, B (data/processed/normalisation.json), at the raw files' bit depth."""
    index = Path(processed) / INDEX
    if not index.is_file():
        fail(f"{index}: not found (run `dvc repro prepare`, or pass --sample FILE)")
    fovs = [row["fov"] for row in read_index(processed, "test")]
    if not fovs:
        fail(f"{index}: no test-split FOV to take the test field from")
    fov = next((f for f in scan_raw(raw) if f.id == fovs[0]), None)
    if fov is None:
        fail(f"{raw}: no raw files of test FOV {fovs[0]}")
    if RGB in fov.files:
        return read_image(fov.files[RGB])[..., :3], f"test-split FOV {fov.id} of the study"
    normalisation = Path(processed) / NORMALISATION
    colours = ("red", "green", "blue")
    if normalisation.is_file():
        colours = tuple(json.loads(normalisation.read_text()).get("rgb", colours))
    return np.dstack([read_channel(fov.files[c]) for c in colours]), f"test-split FOV {fov.id} of the study"


def file_field(path: str | os.PathLike) -> tuple[np.ndarray, str]:
    """(H x W x 3 field, its description) from a user's image (what `msrgan upscale` reads): its first plane,
    channels 0-2 as the generator's microtubules, protein, nucleus (one channel: repeated; two: a UserError)."""
    plane = read_input(path).planes()[0]
    if plane.shape[-1] == 2:
        fail(f"{path}: 2 channels; the test field needs the generator's 3 (microtubules, protein, nucleus) or 1")
    if plane.shape[-1] == 1:
        plane = np.repeat(plane, 3, axis=-1)
    return np.ascontiguousarray(plane[..., :3]), f"your file {Path(path).name}"


def display(image: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """H x W x 3 -> 8-bit RGB through `reference`'s per-channel window at merge's default percentiles (for
    display)."""
    lo, hi = np.percentile(reference, DEFAULT_PERCENTILES, axis=(0, 1))
    unit = (image.astype(np.float32) - lo) / np.maximum(hi - lo, 1e-6)
    return np.clip(np.rint(unit * 255), 0, 255).astype(np.uint8)


def cover(sample: Sample, sr: np.ndarray, scale: int) -> np.ndarray:
    """LR (pixels enlarged) | bicubic | SR | HR side by side, 8-bit RGB, with 4-px gaps."""
    side = sample.hr.shape[0]
    lr = cv2.resize(sample.lr, (side, side), interpolation=cv2.INTER_NEAREST)
    panels = [display(p, sample.hr) for p in (lr, upscale(sample.lr, scale), sr, sample.hr)]
    gap = np.full((side, 4, 3), 255, np.uint8)
    return np.hstack([x for p in panels for x in (p, gap)][:-1])
