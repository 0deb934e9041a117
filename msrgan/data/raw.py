"""The data/raw layout every fetch source writes: images/<id>_<colour>.<ext>, labels.csv, masks/<id>_{nuclei,cells}.png,
and optionally lr/images/<id>_<colour>.<ext>: a low-resolution acquisition of the same specimen for some FOVs.

Reading it back (`scan_raw`) checks what merge relies on, so a bad raw folder fails with one line naming the file.
"""
from __future__ import annotations

import csv
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from msrgan.atomic import atomic_path
from msrgan.classes import format_labels, parse_labels
from msrgan.errors import UserError, fail

COLOURS = ("red", "green", "blue", "yellow")      # microtubules, protein, nucleus, ER
STAIN = {"red": "microtubules", "green": "protein", "blue": "nucleus", "yellow": "ER"}
REQUIRED = ("red", "green", "blue")                # yellow (ER) is dropped by merge, so it may be missing
RGB = "rgb"                                        # an already-merged tile: images/<id>_rgb.png
LR = "lr"                                          # lr/images/: the FOVs' LR acquisitions, named as their stains

# <id>_<colour>.<ext>[.gz]; the id may itself contain underscores (CYTO2017: <plate>_<well>_<field>).
CHANNEL_FILE = re.compile(
    r"^(?P<id>.+)_(?P<colour>red|green|blue|yellow|rgb)(?P<ext>\.(?:tiff?|png|jpe?g)(?:\.gz)?)$", re.IGNORECASE
)


@dataclass(frozen=True)
class RawFov:
    id: str
    files: dict[str, Path]            # colour (or 'rgb') -> image file
    labels: tuple[int, ...]
    masks: tuple[Path, Path] | None   # (nuclei, cells) label images where the truth is known
    lr: dict[str, Path] | None = None  # colour -> stain of its LR acquisition, where there is one


def parse_channel_name(name: str) -> tuple[str, str, str] | None:
    """'1_A1_2_red.TIF.gz' -> ('1_A1_2', 'red', '.tif.gz'); None for other names."""
    match = CHANNEL_FILE.match(name)
    if not match:
        return None
    return match["id"], match["colour"].lower(), match["ext"].lower()


def group_channels(paths: list[Path]) -> dict[str, dict[str, Path]]:
    """Channel files -> {fov id: {colour: path}}; the same channel twice (e.g. .tif and .png) is an error."""
    fovs: dict[str, dict[str, Path]] = {}
    for path in sorted(paths):
        parsed = parse_channel_name(path.name)
        if parsed is None:
            continue
        fov, colour, _ = parsed
        other = fovs.setdefault(fov, {}).get(colour)
        if other is not None:
            fail(f"{path}: FOV {fov} has its {colour} channel twice (also {other})")
        fovs[fov][colour] = path
    return fovs


def check_channels(fov: str, files: dict[str, Path], required=REQUIRED) -> None:
    """Every required stain present and no file empty; names a file of the FOV when not."""
    some = next(iter(files.values()))
    if RGB in files:
        if len(files) > 1:
            fail(f"{files[RGB]}: FOV {fov} has both a merged RGB tile and separate channels")
    else:
        for colour in required:
            if colour not in files:
                fail(f"{some}: FOV {fov} has no {STAIN[colour]} ({colour}) channel")
    for path in files.values():
        if path.stat().st_size == 0:
            fail(f"{path}: empty file (0 bytes)")


def read_labels_csv(path: Path) -> dict[str, list[int]]:
    """The canonical labels.csv (`id,labels`, class indices or names) as {id: sorted class indices}."""
    rows = read_csv_rows(path)
    header = [h.strip().lower() for h in rows[0]]
    if header[:2] != ["id", "labels"]:
        fail(f"{path}: expected the header 'id,labels', got '{','.join(rows[0])}'")
    labels: dict[str, list[int]] = {}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) < 2 or not row[0].strip():
            fail(f"{path}:{line}: expected 'id,labels'")
        fov = row[0].strip()
        labels[fov] = sorted(set(labels.get(fov, [])) | set(parse_labels(row[1], f"{path}:{line}")))
    return labels


def read_csv_rows(path: Path) -> list[list[str]]:
    """Non-empty rows of a CSV with a header; UserError naming the file when it is missing, binary or empty."""
    if not path.is_file():
        fail(f"{path}: labels CSV not found")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [row for row in csv.reader(f) if any(cell.strip() for cell in row)]
    except (UnicodeDecodeError, csv.Error) as exc:
        fail(f"{path}: not a readable CSV ({exc})")
    if not rows:
        fail(f"{path}: empty CSV")
    return rows


def write_labels_csv(path: Path, labels: dict[str, list[int]]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["id", "labels"])
        for fov in sorted(labels):
            writer.writerow([fov, format_labels(labels[fov])])


def link_or_copy(src: Path, dst: Path) -> None:
    """Hard link when src and dst share a filesystem (no extra space, instant), else copy."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def mask_paths(raw: Path, fov: str) -> tuple[Path, Path]:
    return raw / "masks" / f"{fov}_nuclei.png", raw / "masks" / f"{fov}_cells.png"


def scan_raw(raw: str | os.PathLike, required=REQUIRED, shown: str | os.PathLike | None = None) -> list[RawFov]:
    """All FOVs of a raw folder, sorted by id, checked: required stains, labels for every FOV, masks in pairs.

    `shown` is the name to use for `raw` in messages (fetch checks its temporary folder under the final name).
    """
    raw = Path(raw)
    shown = Path(shown) if shown is not None else raw
    try:
        return _scan(raw, required)
    except UserError as exc:
        raise UserError(str(exc).replace(str(raw), str(shown))) from None


def _scan(raw: Path, required) -> list[RawFov]:
    images = raw / "images"
    paths = [p for p in images.iterdir() if p.is_file()] if images.is_dir() else []
    if not paths:
        fail(f"{images}: no images (expected <id>_<colour>.tif|png|jpg files)")
    stray = [p for p in paths if parse_channel_name(p.name) is None]
    if stray:
        fail(f"{stray[0]}: not named <id>_<colour>.<ext> with colour red, green, blue, yellow or rgb")
    groups = group_channels(paths)
    labels = read_labels_csv(raw / "labels.csv")
    lr = _scan_lr(raw, groups, required)
    fovs = []
    for fov in sorted(groups):
        check_channels(fov, groups[fov], required)
        if fov not in labels:
            fail(f"{raw / 'labels.csv'}: no labels for FOV {fov} ({next(iter(groups[fov].values())).name})")
        nuclei, cells = mask_paths(raw, fov)
        if nuclei.exists() != cells.exists():
            fail(f"{nuclei if not nuclei.exists() else cells}: missing (masks come in pairs: nuclei and cells)")
        masks = (nuclei, cells) if nuclei.exists() else None
        fovs.append(RawFov(fov, groups[fov], tuple(labels[fov]), masks, lr.get(fov)))
    return fovs


def _scan_lr(raw: Path, groups: dict[str, dict[str, Path]], required) -> dict[str, dict[str, Path]]:
    """The LR acquisitions in raw/lr/images, {fov id: {colour: path}}: stains (not merged tiles) of FOVs that raw/images
    holds, the required ones present; none when the folder is absent."""
    images = raw / LR / "images"
    paths = [p for p in images.iterdir() if p.is_file()] if images.is_dir() else []
    stray = [p for p in paths if parse_channel_name(p.name) is None]
    if stray:
        fail(f"{stray[0]}: not named <id>_<colour>.<ext> with colour red, green, blue or yellow")
    lr = group_channels(paths)
    for fov, files in lr.items():
        some = next(iter(files.values()))
        if fov not in groups:
            fail(f"{some}: an LR acquisition of FOV {fov}, which {raw / 'images'} does not hold")
        if RGB in files or RGB in groups[fov]:
            fail(f"{some}: an LR acquisition pairs stains with stains, not merged RGB tiles")
        check_channels(fov, files, required)
    return lr
