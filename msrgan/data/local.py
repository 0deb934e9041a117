"""fetch.source: local - bring a folder the user already has into the data/raw layout (see msrgan/data/raw.py).

Layouts (fetch.local.layout, `auto` detects them):
- cyto2017: CYTO2017 / HPA raw `<plate>_<well>_<field>_<colour>.<ext>` plus a labels CSV `id,labels`.
- kaggle:   Kaggle "Human Protein Atlas Image Classification": `<uuid>_<colour>.png` plus `train.csv` (`Id,Target`).
- merged:   already-merged RGB tiles `<class>_<fov>.png` (two-digit class index).
Files are hard-linked into data/raw when on the same filesystem, else copied. Reading every file's header and
linking it is per-FOV work on threads, or on the Dask cluster of fetch.local.workers / fetch.local.scheduler
(msrgan.cluster), with the same data/raw either way.
"""
from __future__ import annotations

import re
from pathlib import Path

from msrgan.classes import CLASSES, parse_labels
from msrgan.cluster import cluster_map
from msrgan.data.raw import (
    RGB, check_channels, group_channels, link_or_copy, parse_channel_name, read_csv_rows, write_labels_csv,
)
from msrgan.errors import fail
from msrgan.imageio import image_size
from msrgan.params import LocalSource

# The 28 Kaggle classes -> our 13 (None: no counterpart, the label is dropped). The Kaggle classes are HPA
# subcellular structures; each goes to the CYTO2017 class of the HPA organelle it belongs to (e.g. nuclear speckles
# and nuclear bodies are parts of the nucleus, endosomes/lysosomes/peroxisomes/lipid droplets are vesicles,
# focal adhesion sites sit on actin, cell junctions on the plasma membrane). Rods & rings has no CYTO2017 class.
# A FOV whose labels all map to None is skipped (fetch prints how many).
KAGGLE_TO_CYTO: dict[int, tuple[str, str | None]] = {
    0: ("Nucleoplasm", "Nucleus"),
    1: ("Nuclear membrane", "Nuclear membrane"),
    2: ("Nucleoli", "Nucleoli"),
    3: ("Nucleoli fibrillar center", "Nucleoli"),
    4: ("Nuclear speckles", "Nucleus"),
    5: ("Nuclear bodies", "Nucleus"),
    6: ("Endoplasmic reticulum", "Endoplasmic reticulum"),
    7: ("Golgi apparatus", "Golgi apparatus"),
    8: ("Peroxisomes", "Vesicles"),
    9: ("Endosomes", "Vesicles"),
    10: ("Lysosomes", "Vesicles"),
    11: ("Intermediate filaments", "Intermediate filaments"),
    12: ("Actin filaments", "Actin filaments"),
    13: ("Focal adhesion sites", "Actin filaments"),
    14: ("Microtubules", "Microtubules"),
    15: ("Microtubule ends", "Microtubules"),
    16: ("Cytokinetic bridge", "Microtubules"),
    17: ("Mitotic spindle", "Microtubules"),
    18: ("Microtubule organizing center", "Centrosome"),
    19: ("Centrosome", "Centrosome"),
    20: ("Lipid droplets", "Vesicles"),
    21: ("Plasma membrane", "Plasma membrane"),
    22: ("Cell junctions", "Plasma membrane"),
    23: ("Mitochondria", "Mitochondria"),
    24: ("Aggresome", "Cytosol"),
    25: ("Cytosol", "Cytosol"),
    26: ("Cytoplasmic bodies", "Cytosol"),
    27: ("Rods & rings", None),
}
KAGGLE_INDEX = {k: (CLASSES.index(ours) if ours else None) for k, (_, ours) in KAGGLE_TO_CYTO.items()}

MERGED_TILE = re.compile(r"^(?P<cls>\d{2})_(?P<fov>.+)\.png$", re.IGNORECASE)
ID_COLUMNS = ("id", "image", "image_id", "name", "filename", "file")
LABEL_COLUMNS = ("labels", "label", "target", "targets", "classes", "class", "locations", "location")


def import_local(params: LocalSource, out: Path) -> None:
    """Write the raw layout for the user's folder into the empty dir `out`."""
    if not params.root:
        fail("params.yaml: fetch.local.root: empty; set it to your image folder (fetch.source is local)")
    root = Path(params.root).expanduser()
    if params.scheduler:   # the cluster's workers may run elsewhere: paths that do not depend on their folder
        root, out = root.absolute(), Path(out).absolute()
    if not root.is_dir():
        fail(f"{root}: fetch.local.root is not a directory")
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    layout = params.layout if params.layout != "auto" else detect_layout(params, root, files)
    (out / "images").mkdir(parents=True)
    if layout == "merged":
        _import_merged(params, root, files, out)
        return
    labels_csv = _labels_path(params, root, files)
    if labels_csv is None:
        fail(f"{root}: no labels CSV found; set fetch.local.labels to your id,labels file")
    if layout == "kaggle":
        train = root / "train"   # the Kaggle download: train/ (labelled) beside test/ (unlabelled)
        if train.is_dir():
            files = [p for p in files if train in p.parents]
    _import_channels(params, root, files, labels_csv, layout, out)


def detect_layout(params: LocalSource, root: Path, files: list[Path]) -> str:
    """cyto2017 or kaggle when there are <id>_<colour> files (kaggle if the labels CSV has a Target column),
    merged when there are only <class>_<fov>.png tiles."""
    if any(parse_channel_name(p.name) for p in files):
        labels_csv = _labels_path(params, root, files)
        if labels_csv is not None and "target" in [h.strip().lower() for h in read_csv_rows(labels_csv)[0]]:
            return "kaggle"
        return "cyto2017"
    if any(MERGED_TILE.match(p.name) for p in files):
        return "merged"
    fail(f"{root}: no images found (expected <id>_<colour>.tif|png|jpg[.gz] channel files or <class>_<fov>.png tiles)")


def _labels_path(params: LocalSource, root: Path, files: list[Path]) -> Path | None:
    """fetch.local.labels as given (relative to the working dir, else to root); empty: the one CSV in root."""
    if params.labels:
        given = Path(params.labels).expanduser()
        for candidate in (given, root / given):
            if candidate.is_file():
                return candidate
        fail(f"{given}: labels CSV not found (fetch.local.labels)")
    csvs = [p for p in files if p.suffix.lower() == ".csv"]
    for name in ("labels.csv", "train.csv"):
        named = [p for p in csvs if p.name.lower() == name]
        if named:
            return min(named, key=lambda p: len(p.parts))
    if len(csvs) > 1:
        fail(f"{root}: several CSV files ({csvs[0].name}, {csvs[1].name}, ...); "
             "set fetch.local.labels to the labels CSV")
    return csvs[0] if csvs else None


def _read_user_labels(path: Path, kaggle: bool) -> dict[str, list[int]]:
    """{id: our class indices} from the user's CSV (header names id/labels, Id/Target or similar; rows for the
    same id are united). A Kaggle id with none of our classes gets an empty list."""
    rows = read_csv_rows(path)
    header = [h.strip().lower() for h in rows[0]]
    id_col = next((i for i, h in enumerate(header) if h in ID_COLUMNS), None)
    label_col = next((i for i, h in enumerate(header) if h in LABEL_COLUMNS), None)
    if id_col is None or label_col is None:
        fail(f"{path}: expected a header with an id and a labels column (e.g. 'id,labels' or 'Id,Target'), "
             f"got '{','.join(rows[0])}'")
    labels: dict[str, set[int]] = {}
    for line, row in enumerate(rows[1:], start=2):
        where = f"{path}:{line}"
        if len(row) <= max(id_col, label_col) or not row[id_col].strip():
            fail(f"{where}: expected an id and labels")
        fov = _strip_id(row[id_col].strip())
        text = row[label_col]
        classes = _kaggle_labels(text, where) if kaggle else parse_labels(text, where)
        labels.setdefault(fov, set()).update(classes)
    return {k: sorted(v) for k, v in labels.items()}


def _kaggle_labels(text: str, where: str) -> list[int]:
    out = []
    for part in text.replace(";", " ").split():
        if not part.isdigit() or int(part) not in KAGGLE_INDEX:
            fail(f"{where}: Kaggle class '{part}' is not among the 28 Kaggle classes (0-27)")
        if KAGGLE_INDEX[int(part)] is not None:
            out.append(KAGGLE_INDEX[int(part)])
    return out


def _strip_id(text: str) -> str:
    """An id as the CSV may write it: a path or a channel file name -> the FOV id."""
    name = Path(text).name
    parsed = parse_channel_name(name)
    return parsed[0] if parsed else name


def _import_channels(params: LocalSource, root: Path, files: list[Path], labels_csv: Path, layout: str,
                     out: Path) -> None:
    groups = group_channels(files)
    if not groups:
        fail(f"{root}: no <id>_<colour>.tif|png|jpg[.gz] channel files for layout {layout}")
    labels = _read_user_labels(labels_csv, kaggle=layout == "kaggle")
    kept, skipped = {}, 0
    for fov in sorted(groups):
        check_channels(fov, groups[fov])
        if fov not in labels:
            fail(f"{labels_csv}: no labels for image {fov} ({next(iter(groups[fov].values()))})")
        if not labels[fov]:    # only Kaggle classes without a counterpart among the 13
            skipped += 1
            continue
        kept[fov] = labels[fov]
    cluster_map(lambda fov: _import_fov(fov, groups[fov], out), list(kept), "fetch", params.workers,
                params.scheduler, scheduler_name="params.yaml: fetch.local.scheduler")
    if skipped:
        print(f"fetch: skipped {skipped} Kaggle FOVs with none of the 13 classes after mapping")
    if not kept:
        fail(f"{labels_csv}: no FOV has a label among the 13 classes")
    write_labels_csv(out / "labels.csv", kept)


def _import_fov(fov: str, files: dict[str, Path], out: Path) -> None:
    """Check the stains of `fov` (check_sizes) and link them into `out`/images."""
    check_sizes(fov, files)
    for colour, path in files.items():
        _, _, ext = parse_channel_name(path.name)
        link_or_copy(path, out / "images" / f"{fov}_{colour}{ext}")


def check_sizes(fov: str, files: dict[str, Path]) -> None:
    """Every stain of `fov` a readable image (header checks only) of one size; UserError naming the user's file
    (the odd one out)."""
    sizes = {colour: image_size(path) for colour, path in files.items()}
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"{c} {w}x{h}" for c, (h, w) in sizes.items())
        common = max(set(sizes.values()), key=list(sizes.values()).count)
        odd = next(files[c] for c, size in sizes.items() if size != common)
        fail(f"{odd}: the stains of FOV {fov} differ in size ({listed})")


def _import_merged(params: LocalSource, root: Path, files: list[Path], out: Path) -> None:
    """<class>_<fov>.png tiles; the same FOV under several classes is one multi-label FOV."""
    tiles: dict[str, Path] = {}
    labels: dict[str, set[int]] = {}
    for path in files:
        match = MERGED_TILE.match(path.name)
        if not match:
            continue
        index = int(match["cls"])
        if index >= len(CLASSES):
            fail(f"{path}: class index {index} in the file name is not among the 13 classes (00-{len(CLASSES) - 1})")
        fov = match["fov"]
        tiles.setdefault(fov, path)
        labels.setdefault(fov, set()).add(index)
    if not tiles:
        fail(f"{root}: no <class>_<fov>.png tiles (two-digit class index)")
    named = [path for path in files if MERGED_TILE.match(path.name)]   # every tile's header, in file order
    cluster_map(image_size, named, "fetch", params.workers, params.scheduler, unit="file",
                scheduler_name="params.yaml: fetch.local.scheduler")
    for fov, path in tiles.items():
        link_or_copy(path, out / "images" / f"{fov}_{RGB}.png")
    write_labels_csv(out / "labels.csv", {k: sorted(v) for k, v in labels.items()})
