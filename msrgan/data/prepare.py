"""prepare: HR/LR pairs from the merged FOVs, split train/val/test by FOV, in data/processed/ with index.csv.

- resize (the paper): the whole FOV -> hr_size x hr_size (INTER_CUBIC, or INTER_AREA with hr_interpolation: area).
- tiles (native resolution): each field is acquired whole (its LR made from the whole field), then val/test are
  hr_size x hr_size grid tiles of the field and the matching windows of its LR, without those with less
  foreground than tile_min_foreground (msrgan.data.foreground), at most max_tiles per field; the train split keeps
  the whole fields, from which training draws tile-sized crops by the same foreground rule (msrgan.train.dataset),
  so a split of millions of tiles is neither written nor held in memory. Where merge has an independent LR
  acquisition of a test field (lr/<id>.png), its windows go to test/lr_acquired/ for evaluate.
The LR (`degradation`): bicubic, exactly cv2.resize(hr, (w // scale, h // scale), interpolation=cv2.INTER_CUBIC), no
antialiasing (the paper); or microscope, an LR acquisition of the same specimen (msrgan.data.optics: extra PSF,
binning, Poisson-Gaussian noise, quantisation), seeded by (seed, image id) so each image's noise is its own and
reproducible. DOMAIN (domain.json) records how the pairs were made, for the generator files trained on them, and
the HR pixels' physical size (pixel_size_um) where the merged FOVs record one and agree.
Masks (where merge has them) are resized with nearest neighbour (resize) or cropped and renumbered 1..n (tiles).
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from msrgan.atomic import atomic_dir, atomic_path, write_text
from msrgan.classes import format_labels, parse_labels
from msrgan.cluster import cluster_map
from msrgan.data.degrade import downscale
from msrgan.data.foreground import foreground_mask
from msrgan.data.merge import PIXEL_SIZE, parse_pixel_size
from msrgan.data.optics import Acquisition, acquire
from msrgan.data.processed import ACQUIRED, DOMAIN, INDEX, INDEX_COLUMNS, NORMALISATION, check_pair
from msrgan.data.raw import LR, read_csv_rows
from msrgan.data.split import SPLITS, split_fovs
from msrgan.errors import fail
from msrgan.imageio import image_size, read_image, read_png_rgb, write_png
from msrgan.params import Prepare
from msrgan.tiffmeta import common_pixel_size

INTERPOLATION = {"cubic": cv2.INTER_CUBIC, "area": cv2.INTER_AREA}


@dataclass(frozen=True)
class MergedFov:
    id: str
    labels: tuple[int, ...]
    masks: bool
    pixel_size_um: tuple[float, float] | None = None   # (x, y) µm as merge found it in the stains' TIFFs


def read_merged_index(merged: Path) -> list[MergedFov]:
    path = merged / "index.csv"
    if not path.is_file():
        fail(f"{path}: not found (run the merge stage first)")
    rows = read_csv_rows(path)
    if [h.strip() for h in rows[0][:3]] != ["id", "labels", "masks"]:
        fail(f"{path}: expected the header 'id,labels,masks'")
    header = [h.strip() for h in rows[0]]
    size_column = header.index(PIXEL_SIZE) if PIXEL_SIZE in header else None   # absent from an older merge's index
    fovs = []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) < 3 or row[2].strip() not in ("0", "1"):
            fail(f"{path}:{line}: expected id,labels,masks with masks 0 or 1")
        size = (parse_pixel_size(row[size_column], f"{path}:{line}")
                if size_column is not None and size_column < len(row) else None)
        fovs.append(MergedFov(row[0].strip(), tuple(parse_labels(row[1], f"{path}:{line}")), row[2].strip() == "1",
                              size))
    if not fovs:
        fail(f"{path}: no FOVs")
    return fovs


def prepare(params: Prepare, seed: int, merged: str | os.PathLike = "data/merged",
            out: str | os.PathLike = "data/processed", workers: int | None = None) -> list[dict]:
    """Write `out`/{train,val,test}/{hr,lr}/<id>.png, `out`/masks/ and `out`/index.csv; returns the index rows.
    The FOVs are prepared on `workers` threads, or on the Dask cluster of params.workers / params.scheduler
    (msrgan.cluster): the same files either way."""
    merged = Path(merged)
    if params.scheduler:   # the cluster's workers may run elsewhere: paths that do not depend on their folder
        merged, out = merged.absolute(), Path(out).absolute()
    if params.hr_size % params.scale:
        fail(f"params.yaml: prepare.hr_size: {params.hr_size} is not a multiple of prepare.scale ({params.scale})")
    fovs = read_merged_index(merged)
    splits = split_fovs({f.id: f.labels for f in fovs}, params.split.val, params.split.test, seed)
    with atomic_dir(out) as tmp:
        for name in SPLITS:
            for kind in ("hr", "lr"):
                (tmp / name / kind).mkdir(parents=True)
        rows = [row for fov_rows in cluster_map(lambda fov: prepare_fov(fov, splits[fov.id], params, merged, tmp,
                                                                        seed), fovs, "prepare", params.workers,
                                                params.scheduler, workers,
                                                scheduler_name="params.yaml: prepare.scheduler")
                for row in fov_rows]
        counts = {name: sum(r["split"] == name for r in rows) for name in SPLITS}
        for name in SPLITS:
            wanted = (name == "train") or getattr(params.split, name) > 0
            if wanted and not counts[name] and params.mode == "tiles" and all(
                    min(image_size(merged / f"{f.id}.png")) < params.hr_size for f in fovs):
                fail(f"params.yaml: prepare.hr_size: {params.hr_size} px tiles do not fit in any field "
                     f"(the largest is {max(min(image_size(merged / f'{f.id}.png')) for f in fovs)} px)")
            if wanted and not counts[name]:
                fail(f"params.yaml: prepare.tile_min_foreground: no {name} tile has {params.tile_min_foreground:g} "
                     f"foreground; lower it")
        with atomic_path(tmp / INDEX) as index, open(index, "w", newline="") as f:
            writer = csv.DictWriter(f, INDEX_COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        if (merged / NORMALISATION).is_file():
            shutil.copyfile(merged / NORMALISATION, tmp / NORMALISATION)
        write_text(tmp / DOMAIN, json.dumps(domain(params, fovs, merged), indent=2) + "\n")
    units = {"train": "fields (crops drawn in training)", "val": "tiles", "test": "tiles"} if params.mode == "tiles" \
        else dict.fromkeys(SPLITS, "FOVs")
    print(f"prepare: {len(fovs)} FOVs -> " + ", ".join(f"{name} {counts[name]} {units[name]}" for name in SPLITS)
          + f" ({params.hr_size}px HR, {params.hr_size // params.scale}px LR) in {Path(out)}")
    return rows


def domain(params: Prepare, fovs: Sequence[MergedFov] = (), merged: Path | None = None) -> dict:
    """What defines the HR/LR pairs (written to DOMAIN; the generator files carry it). With the merged `fovs` (and
    their folder `merged`, whose PNGs give the field sizes), also `pixel_size_um`: [x, y], the HR pixels' physical
    size in µm (hr_pixel_size)."""
    keep = {"mode", "hr_size", "scale", "hr_interpolation", "degradation"}
    out = params.model_dump(include=keep)
    if params.mode == "tiles":   # training draws its crops by the same rule as the held-out tiles
        out["tile_min_foreground"] = params.tile_min_foreground
    if params.degradation == "microscope":
        out["microscope"] = params.microscope.model_dump()
    size = hr_pixel_size(params, fovs, merged) if fovs and merged is not None else None
    if size is not None:
        out["pixel_size_um"] = [float(f"{v:.6g}") for v in size]
    return out


def hr_pixel_size(params: Prepare, fovs: Sequence[MergedFov], merged: Path) -> tuple[float, float] | None:
    """(x, y) µm of the HR pixels: in tiles mode the fields' own; in resize mode a field's pixel size times its
    width (height) over hr_size, since the field is shrunk whole. None unless every FOV records a pixel size and
    the results agree within 1%: the generator learned one scale, and a mixture (fields of other sizes shrunk to
    the same hr_size, or other microscopes) or an unknown share has none to record."""
    if any(fov.pixel_size_um is None for fov in fovs):
        return None
    if params.mode == "tiles":
        return common_pixel_size(fov.pixel_size_um for fov in fovs)
    sizes = []
    for fov in fovs:
        height, width = image_size(merged / f"{fov.id}.png")
        sizes.append((fov.pixel_size_um[0] * width / params.hr_size, fov.pixel_size_um[1] * height / params.hr_size))
    return common_pixel_size(sizes)


def make_lr(hr: np.ndarray, params: Prepare, seed: int, image_id: str) -> np.ndarray:
    """The LR image of `hr` (H x W x C uint8, same dtype back) by prepare.degradation: degrade.downscale (bicubic),
    or optics.acquire (microscope) with noise seeded by `seed` and `image_id`."""
    if params.degradation == "bicubic":
        return downscale(hr, params.scale)
    m = params.microscope
    rng = np.random.default_rng([seed, zlib.crc32(image_id.encode())])
    return acquire(hr, Acquisition(params.scale, m.psf_sigma, m.photons, m.read_noise), rng)


def prepare_fov(fov: MergedFov, split: str, params: Prepare, merged: Path, out: Path, seed: int) -> list[dict]:
    image = read_png_rgb(merged / f"{fov.id}.png")
    if params.mode == "tiles":   # a whole number of LR pixels, so LR pixel (i, j) is HR pixels s*i.., s*j..
        whole = image
        image = image[:image.shape[0] // params.scale * params.scale, :image.shape[1] // params.scale * params.scale]
        if min(image.shape[:2]) < params.hr_size:
            return []   # no tile fits: as in the held-out splits, the field gives nothing
        if split == "train":
            return [train_field(fov, image, image.shape == whole.shape, params, merged, out, seed)]
    masks = [read_image(merged / "masks" / f"{fov.id}_{kind}.png") for kind in ("nuclei", "cells")] if fov.masks else []
    acquired = None
    if params.mode == "resize":
        size = (params.hr_size, params.hr_size)
        hr = cv2.resize(image, size, interpolation=INTERPOLATION[params.hr_interpolation])
        pieces = [(fov.id, hr, make_lr(hr, params, seed, fov.id),
                   [cv2.resize(m, size, interpolation=cv2.INTER_NEAREST) for m in masks], None)]
    else:   # the field acquired whole, then cut: a tile's LR is a window of the field's LR acquisition
        lr, t, s = make_lr(image, params, seed, fov.id), params.hr_size, params.scale
        acquired = read_acquired(fov, image, params, merged) if split == "test" else None
        pieces = [(f"{fov.id}_{row}_{col}", image[y:y + t, x:x + t], lr[y // s:(y + t) // s, x // s:(x + t) // s],
                   [relabel(m[y:y + t, x:x + t]) for m in masks],
                   None if acquired is None else acquired[y // s:(y + t) // s, x // s:(x + t) // s])
                  for row, col, y, x in held_out_tiles(fov.id, image, params, seed)]
    rows = []
    for piece_id, hr, lr, piece_masks, lr_acquired in pieces:
        write_png(out / split / "hr" / f"{piece_id}.png", hr)
        write_png(out / split / "lr" / f"{piece_id}.png", lr)
        if lr_acquired is not None:
            write_png(out / split / ACQUIRED / f"{piece_id}.png", lr_acquired)
        names = [f"masks/{piece_id}_{kind}.png" for kind in ("nuclei", "cells")] if piece_masks else ["", ""]
        for name, mask in zip(names, piece_masks):
            write_png(out / name, mask)   # atomic_path creates masks/ on first use
        rows.append({"id": piece_id, "split": split, "labels": format_labels(fov.labels), "fov": fov.id,
                     "nuclei_mask": names[0], "cell_mask": names[1]})
    return rows


def train_field(fov: MergedFov, image: np.ndarray, uncut: bool, params: Prepare, merged: Path, out: Path,
                seed: int) -> dict:
    """Tiles mode's training pair: the whole field and its LR acquisition (training draws tile-sized crops from
    them, so no tile files). The HR is merge's file, copied byte for byte (DVC caches the two as one), unless the
    field was cut to a whole number of LR pixels (`uncut` False)."""
    if uncut:
        shutil.copyfile(merged / f"{fov.id}.png", out / "train" / "hr" / f"{fov.id}.png")
    else:
        write_png(out / "train" / "hr" / f"{fov.id}.png", image)
    write_png(out / "train" / "lr" / f"{fov.id}.png", make_lr(image, params, seed, fov.id))
    return {"id": fov.id, "split": "train", "labels": format_labels(fov.labels), "fov": fov.id,
            "nuclei_mask": "", "cell_mask": ""}


def read_acquired(fov: MergedFov, image: np.ndarray, params: Prepare, merged: Path) -> np.ndarray | None:
    """The field's independent LR acquisition (merge's lr/<id>.png, from a simulator that renders one), or None;
    one at another scale than prepare.scale is a UserError."""
    path = merged / LR / f"{fov.id}.png"   # merge's, where the source has one
    if not path.is_file():
        return None
    acquired = read_png_rgb(path)
    check_pair(image.shape, acquired.shape, path, params.scale)
    return acquired


def held_out_tiles(fov_id: str, image: np.ndarray, params: Prepare, seed: int) -> list[tuple[int, int, int, int]]:
    """The field's foreground grid tiles, at most prepare.max_tiles of them (a seeded choice; 0: all)."""
    tiles = foreground_tiles(image, params.hr_size, params.tile_min_foreground)
    if 0 < params.max_tiles < len(tiles):
        rng = np.random.default_rng([seed, zlib.crc32(fov_id.encode()), 1])
        tiles = [tiles[i] for i in sorted(rng.choice(len(tiles), params.max_tiles, replace=False))]
    return tiles


def foreground_tiles(image: np.ndarray, size: int, min_foreground: float) -> list[tuple[int, int, int, int]]:
    """(row, col, y, x) of the grid tiles whose foreground fraction is at least `min_foreground`."""
    foreground = foreground_mask(image)
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
