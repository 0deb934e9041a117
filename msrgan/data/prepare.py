"""prepare: HR/LR pairs from the merged FOVs, split train/val/test by FOV, in data/processed/ with index.csv.

- resize (the paper): the whole FOV -> hr_size x hr_size (INTER_CUBIC, or INTER_AREA with hr_interpolation: area).
- tiles: hr_size x hr_size tiles cut at native resolution on a grid, without those with less foreground than
  tile_min_foreground (foreground: the brightest stain above the FOV's Otsu threshold, at least FOREGROUND_MIN).
The LR (`degradation`): bicubic, exactly cv2.resize(hr, (w // scale, h // scale), interpolation=cv2.INTER_CUBIC), no
antialiasing (the paper); or microscope, an LR acquisition of the same specimen (msrgan.data.optics: extra PSF,
binning, Poisson-Gaussian noise, quantisation), seeded by (seed, image id) so each image's noise is its own and
reproducible. DOMAIN (domain.json) records how the pairs were made, for the generator files trained on them.
Masks (where merge has them) are resized with nearest neighbour (resize) or cropped and renumbered 1..n (tiles).
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from msrgan.atomic import atomic_dir, atomic_path, write_text
from msrgan.classes import format_labels, parse_labels
from msrgan.data.degrade import downscale
from msrgan.data.merge import NORMALISATION
from msrgan.data.optics import Acquisition, acquire
from msrgan.data.raw import read_csv_rows
from msrgan.data.split import SPLITS, split_fovs
from msrgan.data.threads import thread_map
from msrgan.errors import fail
from msrgan.imageio import read_image, read_png_rgb, write_png
from msrgan.params import Prepare

INTERPOLATION = {"cubic": cv2.INTER_CUBIC, "area": cv2.INTER_AREA}
FOREGROUND_MIN = 8   # 8-bit level: the Otsu threshold of a nearly empty FOV would otherwise split its noise
INDEX_COLUMNS = ["id", "split", "labels", "fov", "nuclei_mask", "cell_mask"]
DOMAIN = "domain.json"   # the prepare params that define the pairs: mode, sizes, degradation


@dataclass(frozen=True)
class MergedFov:
    id: str
    labels: tuple[int, ...]
    masks: bool


def read_merged_index(merged: Path) -> list[MergedFov]:
    path = merged / "index.csv"
    if not path.is_file():
        fail(f"{path}: not found (run the merge stage first)")
    rows = read_csv_rows(path)
    if [h.strip() for h in rows[0][:3]] != ["id", "labels", "masks"]:
        fail(f"{path}: expected the header 'id,labels,masks'")
    fovs = []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) < 3 or row[2].strip() not in ("0", "1"):
            fail(f"{path}:{line}: expected id,labels,masks with masks 0 or 1")
        fovs.append(MergedFov(row[0].strip(), tuple(parse_labels(row[1], f"{path}:{line}")), row[2].strip() == "1"))
    if not fovs:
        fail(f"{path}: no FOVs")
    return fovs


def prepare(params: Prepare, seed: int, merged: str | os.PathLike = "data/merged",
            out: str | os.PathLike = "data/processed", workers: int | None = None) -> list[dict]:
    """Write `out`/{train,val,test}/{hr,lr}/<id>.png, `out`/masks/ and `out`/index.csv; returns the index rows."""
    merged = Path(merged)
    if params.hr_size % params.scale:
        fail(f"params.yaml: prepare.hr_size: {params.hr_size} is not a multiple of prepare.scale ({params.scale})")
    fovs = read_merged_index(merged)
    splits = split_fovs({f.id: f.labels for f in fovs}, params.split.val, params.split.test, seed)
    with atomic_dir(out) as tmp:
        for name in SPLITS:
            for kind in ("hr", "lr"):
                (tmp / name / kind).mkdir(parents=True)
        rows = [row for fov_rows in thread_map(lambda fov: prepare_fov(fov, splits[fov.id], params, merged, tmp,
                                                                       seed), fovs, "prepare", workers)
                for row in fov_rows]
        counts = {name: sum(r["split"] == name for r in rows) for name in SPLITS}
        for name in SPLITS:
            wanted = (name == "train") or getattr(params.split, name) > 0
            if wanted and not counts[name]:
                fail(f"params.yaml: prepare.tile_min_foreground: no {name} tile has {params.tile_min_foreground:g} "
                     f"foreground; lower it")
        with atomic_path(tmp / "index.csv") as index, open(index, "w", newline="") as f:
            writer = csv.DictWriter(f, INDEX_COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        if (merged / NORMALISATION).is_file():
            shutil.copyfile(merged / NORMALISATION, tmp / NORMALISATION)
        write_text(tmp / DOMAIN, json.dumps(domain(params), indent=2) + "\n")
    unit = "tiles" if params.mode == "tiles" else "FOVs"
    print(f"prepare: {len(fovs)} FOVs -> " + ", ".join(f"{name} {counts[name]} {unit}" for name in SPLITS)
          + f" ({params.hr_size}px HR, {params.hr_size // params.scale}px LR) in {Path(out)}")
    return rows


def domain(params: Prepare) -> dict:
    """What defines the HR/LR pairs (written to DOMAIN; the generator files carry it)."""
    keep = {"mode", "hr_size", "scale", "hr_interpolation", "degradation"}
    out = params.model_dump(include=keep)
    if params.degradation == "microscope":
        out["microscope"] = params.microscope.model_dump()
    return out


def degrade(hr: np.ndarray, params: Prepare, seed: int, image_id: str) -> np.ndarray:
    """The LR image of `hr` (H x W x C uint8) by `params.degradation`."""
    if params.degradation == "bicubic":
        return downscale(hr, params.scale)
    m = params.microscope
    rng = np.random.default_rng([seed, zlib.crc32(image_id.encode())])
    return acquire(hr, Acquisition(params.scale, m.psf_sigma, m.photons, m.read_noise), rng)


def prepare_fov(fov: MergedFov, split: str, params: Prepare, merged: Path, out: Path, seed: int) -> list[dict]:
    image = read_png_rgb(merged / f"{fov.id}.png")
    masks = [read_image(merged / "masks" / f"{fov.id}_{kind}.png") for kind in ("nuclei", "cells")] if fov.masks else []
    if params.mode == "resize":
        size = (params.hr_size, params.hr_size)
        pieces = [(fov.id, cv2.resize(image, size, interpolation=INTERPOLATION[params.hr_interpolation]),
                   [cv2.resize(m, size, interpolation=cv2.INTER_NEAREST) for m in masks])]
    else:
        pieces = [(f"{fov.id}_{row}_{col}", image[y:y + params.hr_size, x:x + params.hr_size],
                   [relabel(m[y:y + params.hr_size, x:x + params.hr_size]) for m in masks])
                  for row, col, y, x in foreground_tiles(image, params.hr_size, params.tile_min_foreground)]
    rows = []
    for piece_id, hr, piece_masks in pieces:
        write_png(out / split / "hr" / f"{piece_id}.png", hr)
        write_png(out / split / "lr" / f"{piece_id}.png", degrade(hr, params, seed, piece_id))
        names = [f"masks/{piece_id}_{kind}.png" for kind in ("nuclei", "cells")] if piece_masks else ["", ""]
        for name, mask in zip(names, piece_masks):
            write_png(out / name, mask)   # atomic_path creates masks/ on first use
        rows.append({"id": piece_id, "split": split, "labels": format_labels(fov.labels), "fov": fov.id,
                     "nuclei_mask": names[0], "cell_mask": names[1]})
    return rows


def foreground_tiles(image: np.ndarray, size: int, min_foreground: float) -> list[tuple[int, int, int, int]]:
    """(row, col, y, x) of the grid tiles whose foreground fraction is at least `min_foreground`."""
    brightest = image.max(axis=2)
    threshold, _ = cv2.threshold(brightest, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    foreground = brightest > max(threshold, FOREGROUND_MIN)
    tiles = []
    for row in range(image.shape[0] // size):
        for col in range(image.shape[1] // size):
            y, x = row * size, col * size
            if foreground[y:y + size, x:x + size].mean() >= min_foreground:
                tiles.append((row, col, y, x))
    return tiles


def relabel(mask: np.ndarray) -> np.ndarray:
    """A cropped label image renumbered 1..n in the order of its old labels (0 stays background)."""
    values, inverse = np.unique(mask, return_inverse=True)
    if values[0] != 0:
        inverse = inverse + 1
    return inverse.reshape(mask.shape).astype(mask.dtype)
