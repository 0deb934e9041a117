"""The synthetic source: layout, determinism, true masks, labels, realism after the paper's preparation."""
from __future__ import annotations

import collections
import csv
import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from skimage.metrics import peak_signal_noise_ratio

from msrgan.classes import CLASSES, N_CLASSES, parse_labels
from msrgan.data.degrade import downscale
from msrgan.data.merge import stain_to_uint8
from msrgan.data.prepare import INTERPOLATION
from msrgan.data.simulator import COLOURS, fov_labels, simulate, simulate_fov
from msrgan.errors import UserError
from msrgan.params import Merge, Prepare, SyntheticSource

NUCLEUS, CYTOSOL = CLASSES.index("Nucleus"), CLASSES.index("Cytosol")


def run(tmp_path: Path, name: str, seed: int = 7, **kw) -> Path:
    out = tmp_path / name
    out.mkdir()
    simulate(SyntheticSource(**{"n_fov": 3, "size": 128, "workers": 1, **kw}), seed, out)
    return out


def digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def hr_tile(fov) -> np.ndarray:
    """The FOV through the real merge (16-bit window) and prepare (whole FOV -> 96x96, the paper's way) code."""
    rgb = np.dstack([stain_to_uint8(fov.stains[c], Merge(), f"fov:{c}") for c in ("red", "green", "blue")])
    return cv2.resize(rgb, (96, 96), interpolation=INTERPOLATION[Prepare().hr_interpolation])


def test_layout_dtypes_and_labels(tmp_path):
    out = run(tmp_path, "raw", n_fov=4)
    rows = list(csv.DictReader((out / "labels.csv").open()))
    assert [r["id"] for r in rows] == ["S001_A01_1", "S001_A02_1", "S001_A03_1", "S001_A04_1"]
    for r in rows:
        labels = parse_labels(r["labels"], "labels.csv")
        assert 1 <= len(labels) <= 3 and r["labels"] == ";".join(map(str, labels))
        for colour in COLOURS:
            image = tifffile.imread(out / "images" / f"{r['id']}_{colour}.tif")
            assert image.dtype == np.uint16 and image.shape == (128, 128)
            assert image.std() > 0
        for kind in ("nuclei", "cells"):
            mask = cv2.imread(str(out / "masks" / f"{r['id']}_{kind}.png"), cv2.IMREAD_UNCHANGED)
            assert mask.dtype == np.uint16 and mask.shape == (128, 128)
    assert sorted(p.name for p in out.iterdir()) == ["images", "labels.csv", "masks"]
    assert len(list((out / "images").iterdir())) == 16 and len(list((out / "masks").iterdir())) == 8


def test_same_seed_same_bytes_other_seed_differs_workers_do_not_matter(tmp_path):
    a = digests(run(tmp_path, "a"))
    assert a == digests(run(tmp_path, "b", workers=2))
    c = digests(run(tmp_path, "c", seed=8))
    assert a.keys() == c.keys()
    assert all(a[k] != c[k] for k in a if k.startswith("images/"))


def test_fov_does_not_depend_on_n_fov(tmp_path):
    few, many = digests(run(tmp_path, "few", n_fov=2)), digests(run(tmp_path, "many", n_fov=4))
    images = [name for name in few if not name.endswith(".csv")]
    assert len(images) >= 2 * len(COLOURS) and len(many) > len(few)
    assert all(few[name] == many[name] for name in images)    # the first two FOVs, byte for byte


def test_masks_are_consistent():
    for index in range(4):
        fov = simulate_fov(256, 11, index)
        cells, nuclei = fov.cells, fov.nuclei
        n, m = int(cells.max()), int(nuclei.max())
        assert n >= 3 and m >= 2
        assert set(np.unique(cells)) == set(range(n + 1))           # 0 and 1..n, no gaps
        assert set(np.unique(nuclei)) == set(range(m + 1))
        assert np.all(cells[nuclei > 0] > 0)                         # every nucleus pixel lies in a cell
        for j in range(1, m + 1):                                    # ... and each nucleus in exactly one cell
            owner = np.unique(cells[nuclei == j])
            assert len(owner) == 1
        # nuclei are a sizeable part of the cells, and the DAPI stain is where the nuclei are
        assert 0.1 < (nuclei > 0).sum() / (cells > 0).sum() < 0.6
        blue = fov.stains["blue"].astype(float)
        assert blue[nuclei > 0].mean() > 3 * blue[cells == 0].mean() - 2 * blue[cells == 0].min()


def test_all_classes_occur_and_frequencies_are_imbalanced():
    first = [fov_labels(0, i) for i in range(N_CLASSES)]
    assert set().union(*first) == set(range(N_CLASSES))
    counts = collections.Counter(k for i in range(2000) for k in fov_labels(5, i))
    assert counts.most_common(1)[0][0] == NUCLEUS
    assert min(counts.values()) > 20 and counts[NUCLEUS] > 5 * min(counts.values())
    sizes = collections.Counter(len(fov_labels(5, i)) for i in range(2000))
    assert sizes[1] > sizes[2] > sizes[3] > 0 and set(sizes) == {1, 2, 3}


def test_missing_output_directory_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        simulate(SyntheticSource(n_fov=1, size=128), 0, tmp_path / "nope")


def test_class_patterns_differ_after_preparation():
    """Green inside nuclei vs in the cytoplasm, on the 96x96 tile: Nucleus and Cytosol are opposite."""
    def ratio(labels, index):
        fov = simulate_fov(512, 21, index, labels=labels)
        green = hr_tile(fov)[..., 1].astype(float)
        nuclei = cv2.resize(fov.nuclei, (96, 96), interpolation=cv2.INTER_NEAREST) > 0
        cells = cv2.resize(fov.cells, (96, 96), interpolation=cv2.INTER_NEAREST) > 0
        return green[nuclei].mean() / (green[cells & ~nuclei].mean() + 1e-6)
    for index in range(2):
        assert ratio([NUCLEUS], index) > 2.5
        assert ratio([CYTOSOL], index) < 0.8


def test_prepared_tiles_are_realistic():
    """Whole FOV -> 96x96 the paper's way, then the figures of real CYTO2017 tiles (loose: only a few FOVs)."""
    tiles = np.stack([hr_tile(simulate_fov(512, 2017, i)) for i in range(8)])
    psnr = np.mean([peak_signal_noise_ratio(t, cv2.resize(downscale(t, 4), (96, 96), interpolation=cv2.INTER_CUBIC),
                                            data_range=255) for t in tiles])
    frac = [(tiles[..., c] > 20).mean() for c in range(3)]
    mean = [tiles[..., c].mean() for c in range(3)]
    assert abs(psnr - 22.2) < 2.0, psnr
    assert all(abs(f - r) < 0.15 for f, r in zip(frac, (0.48, 0.28, 0.15))), frac
    assert all(0.5 * r < m < 1.6 * r for m, r in zip(mean, (36.6, 18.6, 17.5))), mean
