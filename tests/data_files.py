"""Small real image files for the data tests: CYTO2017 channel TIFF/PNG/JPEG(.gz), Kaggle, merged tiles."""
from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import tifffile

REPO = Path(__file__).resolve().parents[1]
COLOURS = ("red", "green", "blue", "yellow")


def stain(seed: int, shape=(64, 48), dtype=np.uint16) -> np.ndarray:
    """A blobby stain with a dark background, so percentiles and foreground are meaningful."""
    rng = np.random.default_rng(seed)
    field = cv2.GaussianBlur(rng.random(shape).astype(np.float32), (0, 0), 3)
    field = (field - field.min()) / (np.ptp(field) + 1e-6)
    top = 4000 if dtype == np.uint16 else 250
    return (field ** 2 * top + rng.integers(0, top // 50, shape)).astype(dtype)


def write_channel(path: Path, image: np.ndarray, compression: str | None = None) -> Path:
    """A stain file by its suffix: .tif/.tiff (tifffile, optional compression), .png, .jpg; + .gz."""
    path.parent.mkdir(parents=True, exist_ok=True)
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    suffix = Path(name).suffix.lower()
    if suffix in (".tif", ".tiff"):
        buf = io.BytesIO()
        tifffile.imwrite(buf, image, compression=compression)
        data = buf.getvalue()
    else:
        ok, enc = cv2.imencode(suffix, image)
        assert ok
        data = enc.tobytes()
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def write_cyto_fov(root: Path, fov: str, seed: int, ext=".tif", shape=(64, 48), dtype=np.uint16,
                   compression=None, colours=COLOURS) -> dict[str, np.ndarray]:
    images = {}
    for k, colour in enumerate(colours):
        images[colour] = stain(seed * 10 + k, shape, dtype)
        write_channel(root / f"{fov}_{colour}{ext}", images[colour], compression)
    return images


def cyto_folder(root: Path, n: int = 6, labels: list[str] | None = None) -> Path:
    """n CYTO2017 FOVs (uint16 TIFF) and labels.csv with class names separated by spaces."""
    names = ["Nucleus Golgi apparatus", "Cytosol", "Mitochondria Nucleoli", "Golgi apparatus", "Cytosol Nucleus",
             "Plasma membrane"]
    rows = ["id,labels"]
    for i in range(n):
        fov = f"1{i:02d}_B{i}_1"
        write_cyto_fov(root, fov, i)
        rows.append(f"{fov},{(labels or names)[i % len(labels or names)]}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


def write_params(workdir: Path, text: str) -> Path:
    path = workdir / "params.yaml"
    path.write_text(text)
    return path


def run_stage(name: str, workdir: Path) -> subprocess.CompletedProcess:
    """python stages/<name>.py in `workdir` (its params.yaml, its data/), as DVC would run it."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, str(REPO / "stages" / f"{name}.py")], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=120)


def drop_tiff_tag(path: Path, tag: int = 259) -> Path:
    """Remove `tag` (default 259, Compression, optional in TIFF 6.0 and left out by ImageJ/Fiji) from every IFD of a
    little-endian classic TIFF, in place: the entry goes, the others move up, the data stays where it was."""
    data = bytearray(path.read_bytes())
    assert data[:4] == b"II*\x00", "little-endian classic TIFF expected"
    offset = int.from_bytes(data[4:8], "little")
    while offset:
        count = int.from_bytes(data[offset:offset + 2], "little")
        entries = [bytes(data[offset + 2 + 12 * i: offset + 14 + 12 * i]) for i in range(count)]
        kept = [e for e in entries if int.from_bytes(e[:2], "little") != tag]
        following = data[offset + 2 + 12 * count: offset + 6 + 12 * count]
        block = len(kept).to_bytes(2, "little") + b"".join(kept) + following
        data[offset:offset + 6 + 12 * count] = block + bytes(6 + 12 * count - len(block))
        offset = int.from_bytes(following, "little")
    path.write_bytes(bytes(data))
    return path
