"""merge: one RGB PNG per FOV from its stains (merge.rgb: R microtubules, G protein, B nucleus; ER dropped).

16-bit stains become 8-bit by per-channel percentile normalisation, clip((x - lo) / (hi - lo), 0, 1) * 255 rounded,
with lo/hi the merge.percentiles of a seeded random sample of merge.sample_pixels pixels (cheap on 2048x2048 fields;
the seed comes from the FOV id and stain, so the result does not depend on order or worker count). 8-bit stains pass
through unchanged. The PNGs are written at zlib level merge.png_compression (0: uncompressed, fastest).
A FOV with a low-resolution acquisition (raw/lr/images/) also gets lr/<id>.png: its LR stains merged through the HR
stains' windows, so that both are on one 8-bit scale.
index.csv: id, labels, masks (0/1), pixel_size_um (the physical pixel size the stains' TIFFs record, for prepare's
domain.json; empty where unknown).
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
from msrgan.cluster import cluster_map
from msrgan.data.processed import NORMALISATION   # merge writes it, prepare copies it into data/processed
from msrgan.data.raw import LR, RGB, RawFov, scan_raw
from msrgan.errors import fail
from msrgan.imageio import image_pixel_size, read_image, write_png
from msrgan.params import Merge
from msrgan.tiffmeta import common_pixel_size

PIXEL_SIZE = "pixel_size_um"   # index.csv's 4th column: 'x' (square pixels) or 'x;y' in µm, '' where unknown


def merge(params: Merge, raw: str | os.PathLike = "data/raw", out: str | os.PathLike = "data/merged",
          workers: int | None = None) -> int:
    """Write `out`/<id>.png, `out`/masks/ and `out`/index.csv for every FOV of `raw`; returns the FOV count.
    The FOVs are merged on `workers` threads, or on the Dask cluster of params.workers / params.scheduler
    (msrgan.cluster): the same files either way."""
    if params.scheduler:   # the cluster's workers may run elsewhere: paths that do not depend on their folder
        raw, out = Path(raw).absolute(), Path(out).absolute()
    fovs = scan_raw(raw, required=tuple(dict.fromkeys(params.rgb)))
    with atomic_dir(out) as tmp:
        sizes = cluster_map(lambda fov: merge_fov(fov, params, tmp), fovs, "merge", params.workers,
                            params.scheduler, workers, scheduler_name="params.yaml: merge.scheduler")
        with atomic_path(tmp / "index.csv") as index, open(index, "w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["id", "labels", "masks", PIXEL_SIZE])
            for fov, size in zip(fovs, sizes, strict=True):
                writer.writerow([fov.id, format_labels(fov.labels), int(fov.masks is not None),
                                 format_pixel_size(size)])
        # How 16-bit stains were scaled: prepare passes it on and the generators carry it to `msrgan upscale`.
        write_text(tmp / NORMALISATION, json.dumps({"rgb": list(params.rgb), "percentiles": list(params.percentiles),
                                                    "sample_pixels": params.sample_pixels}, indent=2) + "\n")
    print(f"merge: {len(fovs)} FOVs in {Path(out)}")
    return len(fovs)


def merge_fov(fov: RawFov, params: Merge, out: Path) -> tuple[float, float] | None:
    """Write `out`/<id>.png (and its masks); returns the FOV's (x, y) pixel size in µm (fov_pixel_size)."""
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
        windows = {colour: stain_window(ch, params, f"{fov.id}:{colour}") for colour, ch in channels.items()}
        scaled = {colour: stain_to_uint8(ch, params, "", windows[colour]) for colour, ch in channels.items()}
        rgb = cv2.merge([scaled[colour] for colour in params.rgb])
    write_png(out / f"{fov.id}.png", rgb, params.png_compression)
    if fov.lr is not None:   # scan_raw pairs LR stains with stains only
        merge_lr(fov, params, channels, windows, out)
    if fov.masks is not None:
        (out / "masks").mkdir(exist_ok=True)   # only where there are masks: DVC does not keep empty folders
        for mask in fov.masks:
            image = read_image(mask)
            if image.shape[:2] != rgb.shape[:2]:
                fail(f"{mask}: mask is {image.shape[1]}x{image.shape[0]}, its FOV {rgb.shape[1]}x{rgb.shape[0]}")
            shutil.copyfile(mask, out / "masks" / mask.name)
    return fov_pixel_size([fov.files[RGB]] if RGB in fov.files else [fov.files[c] for c in dict.fromkeys(params.rgb)])


def read_channel(path: Path) -> np.ndarray:
    """One stain as HxW; a colour-tinted RGB(A) file (as some HPA JPEGs are) gives its brightest component."""
    image = read_image(path)
    if image.ndim == 3:
        image = image[..., :3].max(axis=2)
    if image.ndim != 2 or min(image.shape) < 1:
        fail(f"{path}: expected a single-stain image, got shape {image.shape}")
    return image


def merge_lr(fov: RawFov, params: Merge, hr: dict[str, np.ndarray], windows: dict, out: Path) -> None:
    """`out`/lr/<id>.png (uint8 RGB, H/scale x W/scale): the FOV's LR stains through the windows of its HR stains
    `hr` (colour -> H x W), so that an LR pixel reads what the HR merge's 8-bit scale would record."""
    channels = {colour: read_channel(fov.lr[colour]) for colour in hr}
    for colour, ch in channels.items():
        (h, w), (lh, lw) = hr[colour].shape, ch.shape
        if h % lh or w % lw or h // lh != w // lw:
            fail(f"{fov.lr[colour]}: an LR stain of {lw}x{lh} is not FOV {fov.id}'s {w}x{h} binned by a whole factor")
        if ch.dtype != hr[colour].dtype:
            fail(f"{fov.lr[colour]}: an LR stain of {ch.dtype}, its FOV's of {hr[colour].dtype}: no common 8-bit scale")
    if len({ch.shape for ch in channels.values()}) > 1:
        fail(f"{fov.lr[params.rgb[0]]}: the LR stains of FOV {fov.id} differ in size")
    rgb = cv2.merge([stain_to_uint8(channels[colour], params, "", windows[colour]) for colour in params.rgb])
    write_png(out / LR / f"{fov.id}.png", rgb, params.png_compression)


def stain_window(channel: np.ndarray, params: Merge, key: str) -> tuple[float, float] | None:
    """The (lo, hi) window a 16-bit stain is scaled to 8 bit by: the percentiles of a sample seeded by `key`; None
    for an 8-bit stain, which passes through."""
    if channel.dtype == np.uint8:
        return None
    return percentile_window(channel, params.percentiles, params.sample_pixels, seed=zlib.crc32(key.encode()))


def stain_to_uint8(channel: np.ndarray, params: Merge, key: str,
                   window: tuple[float, float] | None = None) -> np.ndarray:
    """8-bit as is; 16-bit through `window` (lo, hi), by default stain_window's (seeded sample keyed by `key`)."""
    if channel.dtype == np.uint8:
        return channel
    lo, hi = window if window is not None else stain_window(channel, params, key)
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


def fov_pixel_size(files: list[Path]) -> tuple[float, float] | None:
    """(x, y) pixel size in µm of a FOV whose merged stains are `files`: what their TIFFs record
    (tiffmeta.pixel_size_um), where all that record one agree within 1%; None when none records one (PNG, JPEG,
    uncalibrated TIFFs) or they disagree (then no size is more likely right than another)."""
    return common_pixel_size(size for size in map(image_pixel_size, files) if size is not None)


def format_pixel_size(size: tuple[float, float] | None) -> str:
    """index.csv's PIXEL_SIZE cell: '' for None, 'x' for square pixels (equal to 6 digits), else 'x;y' (µm)."""
    if size is None:
        return ""
    x, y = (f"{v:.6g}" for v in size)
    return x if x == y else f"{x};{y}"


def parse_pixel_size(cell: str, where: str) -> tuple[float, float] | None:
    """The inverse of format_pixel_size; UserError naming `where` for a cell that is not 1 or 2 positive numbers."""
    cell = cell.strip()
    if not cell:
        return None
    try:
        values = [float(v) for v in cell.split(";")]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or not all(0 < v < float("inf") for v in values):
        fail(f"{where}: {PIXEL_SIZE} must be a pixel size in µm ('0.08' or 'x;y'), or empty, got {cell!r}")
    return values[0], values[-1]
