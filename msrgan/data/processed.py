"""data/processed/, the one owner of its layout: what prepare writes and the trainers, evaluate, segment, report and
export read.

    index.csv                    INDEX_COLUMNS: id, split, labels (class indices 'i;j'), fov, nuclei_mask, cell_mask
    domain.json                  how the pairs were made (mode, sizes, degradation); the generator files carry it
    normalisation.json           merge's 16-bit window (copied from data/merged/), travels with the generators
    <split>/hr/<id>.png          HR, H x W x 3 uint8
    <split>/lr/<id>.png          its LR, (H // s) x (W // s) x 3 uint8 for the integer scale s (check_pair)
    test/lr_acquired/<id>.png    where the source has one: the same tile from an independent LR acquisition
"""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from msrgan.data.degrade import lr_scale
from msrgan.errors import fail

INDEX = "index.csv"
INDEX_COLUMNS = ["id", "split", "labels", "fov", "nuclei_mask", "cell_mask"]
DOMAIN = "domain.json"
NORMALISATION = "normalisation.json"
ACQUIRED = "lr_acquired"     # test/<ACQUIRED>/<id>.png: tiles of an independent LR acquisition


def image_path(processed: str | os.PathLike, split: str, kind: str, sample: str) -> Path:
    """`processed`/<split>/<kind>/<sample>.png, kind 'hr', 'lr' or ACQUIRED."""
    return Path(processed) / split / kind / f"{sample}.png"


def read_index(processed: str | os.PathLike, split: str | None = None) -> list[dict[str, str]]:
    """The rows of `processed`/index.csv in file order (of one `split` when given), every cell a str ('' where
    empty). UserError when the file is missing or lacks the id, split or labels column."""
    path = Path(processed) / INDEX
    if not path.is_file():
        fail(f"{path}: not found (run the prepare stage first)")
    with open(path, newline="") as f:
        reader = csv.DictReader(f, restval="")
        missing = {"id", "split", "labels"} - set(reader.fieldnames or ())
        if missing:
            fail(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        rows = [{k: v or "" for k, v in row.items()} for row in reader]
    return [row for row in rows if split is None or row["split"] == split]


def read_domain(processed: str | os.PathLike) -> dict:
    """domain.json of `processed` (how prepare made the pairs), {} where there is none."""
    path = Path(processed) / DOMAIN
    return json.loads(path.read_text()) if path.is_file() else {}


def training_data_meta(processed: str | os.PathLike) -> dict:
    """What a generator file records of its training data: how merge scaled 16-bit stains (normalisation.json)
    and, as `domain`, how prepare made the pairs (domain.json: mode, sizes, degradation); {} where unknown."""
    path = Path(processed) / NORMALISATION
    meta = json.loads(path.read_text()) if path.is_file() else {}
    if (Path(processed) / DOMAIN).is_file():
        meta["domain"] = read_domain(processed)
    return meta


def check_pair(hr_shape: tuple[int, ...], lr_shape: tuple[int, ...], lr_path: str | os.PathLike,
               scale: int | None = None) -> int:
    """The integer scale s of an LR of `lr_shape` (height, width, ...) for its HR of `hr_shape`: the LR must be
    (H // s, W // s), as prepare's downscale and the microscope's binning make it, and s must be `scale` where given.
    UserError naming `lr_path` otherwise: the one LR/HR size rule, with one message."""
    found = lr_scale(hr_shape, lr_shape)
    if found is None or (scale is not None and found != scale):
        fail(f"{lr_path}: size {lr_shape[1]}x{lr_shape[0]} is not its HR {hr_shape[1]}x{hr_shape[0]} / "
             f"{scale or 'an integer scale'}")
    return found
