"""merge: one RGB PNG per FOV from its stains (merge.rgb: R microtubules, G protein, B nucleus; ER dropped).

16-bit stains become 8-bit by per-channel percentile normalisation, clip((x - lo) / (hi - lo), 0, 1) * 255 rounded,
with lo/hi the merge.percentiles of a seeded random sample of merge.sample_pixels pixels (cheap on 2048x2048 fields;
the seed comes from the FOV id and stain, so the result does not depend on order or worker count). 8-bit stains pass
through unchanged. The PNGs are written at zlib level merge.png_compression (0: uncompressed, fastest).
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import zlib
from pathlib import Path

import cv2
import numpy as np

from msrgan.atomic import atomic_dir, atomic_path, write_text
from msrgan.classes import format_labels
from msrgan.data.raw import RGB, RawFov, scan_raw
from msrgan.data.threads import thread_map
from msrgan.errors import fail
from msrgan.imageio import read_image, write_png
from msrgan.params import Merge

NORMALISATION = "normalisation.json"


def merge(params: Merge, raw: str | os.PathLike = "data/raw", out: str | os.PathLike = "data/merged",
          workers: int | None = None) -> int:
    """Write `out`/<id>.png, `out`/masks/ and `out`/index.csv for every FOV of `raw`; returns the FOV count."""
    fovs = scan_raw(raw, required=tuple(dict.fromkeys(params.rgb)))
    with atomic_dir(out) as tmp:
        thread_map(lambda fov: merge_fov(fov, params, tmp), fovs, "merge", workers)
        with atomic_path(tmp / "index.csv") as index, open(index, "w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["id", "labels", "masks"])
            for fov in fovs:
                writer.writerow([fov.id, format_labels(fov.labels), int(fov.masks is not None)])
        # How 16-bit stains were scaled: prepare passes it on and the generators carry it to `msrgan upscale`.
        write_text(tmp / NORMALISATION, json.dumps({"rgb": list(params.rgb), "percentiles": list(params.percentiles),
                                                    "sample_pixels": params.sample_pixels}, indent=2) + "\n")
    print(f"merge: {len(fovs)} FOVs in {Path(out)}")
    return len(fovs)


def merge_fov(fov: RawFov, params: Merge, out: Path) -> None:
    if RGB in fov.files:
        rgb = read_image(fov.files[RGB])
        if rgb.ndim != 3 or rgb.shape[2] < 3:
            fail(f"{fov.files[RGB]}: a merged tile must be an RGB image, got shape {rgb.shape}")
        rgb = cv2.merge([stain_to_uint8(rgb[..., c], params, f"{fov.id}:{c}") for c in range(3)])
    else:
        channels = {colour: read_channel(fov.files[colour]) for colour in dict.fromkeys(params.rgb)}
        shapes = {colour: ch.shape for colour, ch in channels.items()}
        if len(set(shapes.values())) > 1:
            sizes = ", ".join(f"{c} {w}x{h}" for c, (h, w) in shapes.items())
            fail(f"{fov.files[params.rgb[0]]}: the stains of FOV {fov.id} differ in size ({sizes})")
        scaled = {colour: stain_to_uint8(ch, params, f"{fov.id}:{colour}") for colour, ch in channels.items()}
        rgb = cv2.merge([scaled[colour] for colour in params.rgb])
    write_png(out / f"{fov.id}.png", rgb, params.png_compression)
    if fov.masks is not None:
        (out / "masks").mkdir(exist_ok=True)   # only where there are masks: DVC does not keep empty folders
        for mask in fov.masks:
            image = read_image(mask)
            if image.shape[:2] != rgb.shape[:2]:
                fail(f"{mask}: mask is {image.shape[1]}x{image.shape[0]}, its FOV {rgb.shape[1]}x{rgb.shape[0]}")
            shutil.copyfile(mask, out / "masks" / mask.name)


def read_channel(path: Path) -> np.ndarray:
    """One stain as HxW; a colour-tinted RGB(A) file (as some HPA JPEGs are) gives its brightest component."""
    image = read_image(path)
    if image.ndim == 3:
        image = image[..., :3].max(axis=2)
    if image.ndim != 2 or min(image.shape) < 1:
        fail(f"{path}: expected a single-stain image, got shape {image.shape}")
    return image


def stain_to_uint8(channel: np.ndarray, params: Merge, key: str) -> np.ndarray:
    """8-bit as is; 16-bit through the percentile window (seeded sample keyed by `key`)."""
    if channel.dtype == np.uint8:
        return channel
    lo, hi = percentile_window(channel, params.percentiles, params.sample_pixels, seed=zlib.crc32(key.encode()))
    gain = 255 / (hi - lo)
    # One pass in C: the conversion to 8 bit saturates (the clip) and rounds; 3x faster than a lookup table.
    return cv2.addWeighted(channel, gain, channel, 0, -lo * gain, dtype=cv2.CV_8U)


def percentile_window(channel: np.ndarray, percentiles: tuple[float, float], sample_pixels: int,
                      seed: int) -> tuple[float, float]:
    """(lo, hi) percentiles of a random sample of `sample_pixels` pixels (all pixels when there are fewer)."""
    flat = channel.reshape(-1)
    if flat.size > sample_pixels:
        flat = flat[np.random.default_rng(seed).integers(0, flat.size, sample_pixels)]
    lo, hi = np.percentile(flat, percentiles)
    if hi <= lo:   # a flat stain: keep it flat instead of dividing by zero
        hi = lo + 1
    return float(lo), float(hi)
