"""prepare: HR/LR exactly as the paper made them, tiles, masks, and the FOV-level stratified split."""
from __future__ import annotations

import csv
import json
from collections import Counter

import cv2
import numpy as np
import pytest
from data_files import stain

from msrgan.data.prepare import prepare
from msrgan.data.split import split_fovs
from msrgan.errors import UserError
from msrgan.imageio import read_image, read_png_rgb, write_png
from msrgan.params import parse_section


def merged_folder(tmp_path, n=10, shape=(80, 64), masks=True, labels=None):
    merged = tmp_path / "merged"
    rows = ["id,labels,masks"]
    images = {}
    for i in range(n):
        fov = f"F{i:02d}"
        images[fov] = np.dstack([stain(i * 3 + c, shape, np.uint8) for c in range(3)])
        write_png(merged / f"{fov}.png", images[fov])
        if masks:
            cells = (np.indices(shape).sum(0) // 9 % 5).astype(np.uint16) * 7   # labels 0, 7, 14, ...
            write_png(merged / "masks" / f"{fov}_cells.png", cells)
            write_png(merged / "masks" / f"{fov}_nuclei.png", (cells // 2).astype(np.uint16))
        rows.append(f"{fov},{labels[i] if labels else i % 13},{int(masks)}")
    (merged / "index.csv").write_text("\n".join(rows) + "\n")
    return merged, images


def read_index(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_resize_mode_matches_the_paper_exactly(tmp_path):
    merged, images = merged_folder(tmp_path)
    rows = prepare(parse_section("prepare", {"hr_size": 32, "scale": 4}), 3, merged, tmp_path / "processed")
    index = read_index(tmp_path / "processed" / "index.csv")
    assert [r["id"] for r in index] == sorted(images) == [r["fov"] for r in index]
    assert list(index[0]) == ["id", "split", "labels", "fov", "nuclei_mask", "cell_mask"]
    assert Counter(r["split"] for r in index) == {"train": 7, "val": 1, "test": 2}   # 10 x (0.75, 0.1, 0.15)
    assert len(rows) == 10
    for r in index:
        hr = read_png_rgb(tmp_path / "processed" / r["split"] / "hr" / f"{r['id']}.png")
        lr = read_png_rgb(tmp_path / "processed" / r["split"] / "lr" / f"{r['id']}.png")
        np.testing.assert_array_equal(hr, cv2.resize(images[r["id"]], (32, 32), interpolation=cv2.INTER_CUBIC))
        np.testing.assert_array_equal(lr, cv2.resize(hr, (8, 8), interpolation=cv2.INTER_CUBIC))
        cells = cv2.imread(str(merged / "masks" / f"{r['id']}_cells.png"), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(read_image(tmp_path / "processed" / r["cell_mask"]),
                                      cv2.resize(cells, (32, 32), interpolation=cv2.INTER_NEAREST))
        assert r["nuclei_mask"] == f"masks/{r['id']}_nuclei.png"


def test_area_interpolation_and_no_masks(tmp_path):
    merged, images = merged_folder(tmp_path, n=4, masks=False)
    params = parse_section("prepare", {"hr_size": 16, "hr_interpolation": "area", "split": {"val": 0.25, "test": 0.25}})
    prepare(params, 0, merged, tmp_path / "processed")
    index = read_index(tmp_path / "processed" / "index.csv")
    r = index[0]
    hr = read_png_rgb(tmp_path / "processed" / r["split"] / "hr" / f"{r['id']}.png")
    np.testing.assert_array_equal(hr, cv2.resize(images[r["id"]], (16, 16), interpolation=cv2.INTER_AREA))
    assert r["nuclei_mask"] == "" and r["cell_mask"] == ""


def test_tiles_mode_skips_background_and_crops_masks(tmp_path):
    merged, images = merged_folder(tmp_path, n=4, shape=(64, 96))
    for fov, image in images.items():   # a dark right third: those tiles have no foreground
        image[:, 64:] = 0
        write_png(merged / f"{fov}.png", image)
    params = parse_section("prepare", {"mode": "tiles", "hr_size": 32, "tile_min_foreground": 0.05,
                                       "split": {"val": 0.25, "test": 0.25}})
    prepare(params, 0, merged, tmp_path / "processed")
    index = read_index(tmp_path / "processed" / "index.csv")
    held_out = next(f for f in images if any(r["fov"] == f and r["split"] != "train" for r in index))
    assert sorted(r["id"] for r in index if r["fov"] == held_out) == [f"{held_out}_{t}" for t in
                                                                       ("0_0", "0_1", "1_0", "1_1")]
    assert all(len({r["split"] for r in index if r["fov"] == fov}) == 1 for fov in images)
    r = next(r for r in index if r["id"] == f"{held_out}_1_1")
    hr = read_png_rgb(tmp_path / "processed" / r["split"] / "hr" / f"{r['id']}.png")
    np.testing.assert_array_equal(hr, images[held_out][32:64, 32:64])
    lr = read_png_rgb(tmp_path / "processed" / r["split"] / "lr" / f"{r['id']}.png")
    whole = cv2.resize(images[held_out], (24, 16), interpolation=cv2.INTER_CUBIC)   # the field made LR whole
    np.testing.assert_array_equal(lr, whole[8:16, 8:16])
    mask = read_image(tmp_path / "processed" / r["cell_mask"])
    crop = cv2.imread(str(merged / "masks" / f"{held_out}_cells.png"), cv2.IMREAD_UNCHANGED)[32:64, 32:64]
    assert mask.shape == (32, 32) and set(np.unique(mask)) == set(range(len(np.unique(crop))))   # renumbered 0..n
    np.testing.assert_array_equal(mask > 0, crop > 0)
    train = [r for r in index if r["split"] == "train"]        # whole fields: training crops them
    assert {r["id"] for r in train} == {r["fov"] for r in train} and len(train) == 2
    for r in train:
        assert (tmp_path / "processed" / "train" / "hr" / f"{r['id']}.png").read_bytes() == \
            (merged / f"{r['id']}.png").read_bytes()             # merge's file: DVC caches it once
        lr = read_png_rgb(tmp_path / "processed" / "train" / "lr" / f"{r['id']}.png")
        np.testing.assert_array_equal(lr, cv2.resize(images[r["id"]], (24, 16), interpolation=cv2.INTER_CUBIC))
    domain = json.loads((tmp_path / "processed" / "domain.json").read_text())
    assert domain["mode"] == "tiles" and domain["tile_min_foreground"] == 0.05


def test_tiles_mode_caps_held_out_tiles_and_cuts_the_independent_lr_acquisition(tmp_path):
    merged, images = merged_folder(tmp_path, n=4, shape=(64, 96))
    rng = np.random.default_rng(0)
    for fov, image in images.items():   # what a simulator's own LR acquisition of each field would be
        write_png(merged / "lr" / f"{fov}.png", rng.integers(0, 256, (16, 24, 3), dtype=np.uint8))
    params = parse_section("prepare", {"mode": "tiles", "hr_size": 32, "tile_min_foreground": 0.0, "max_tiles": 2,
                                       "degradation": "microscope", "split": {"val": 0.25, "test": 0.25}})
    prepare(params, 0, merged, tmp_path / "processed")
    index = read_index(tmp_path / "processed" / "index.csv")
    for split in ("val", "test"):
        assert len([r for r in index if r["split"] == split]) == 2      # 6 grid tiles, 2 kept
    for r in (r for r in index if r["split"] == "test"):
        _, row, col = r["id"].rsplit("_", 2)
        acquired = read_png_rgb(tmp_path / "processed" / "test" / "lr_acquired" / f"{r['id']}.png")
        whole = read_png_rgb(merged / "lr" / f"{r['fov']}.png")
        np.testing.assert_array_equal(acquired, whole[8 * int(row):8 * int(row) + 8, 8 * int(col):8 * int(col) + 8])
    assert not (tmp_path / "processed" / "val" / "lr_acquired").exists()
    for fov in images:
        write_png(merged / "lr" / f"{fov}.png", np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(UserError, match=r"lr/F0\d\.png: size 10x10 is not its HR 96x64 / 4"):
        prepare(params, 0, merged, tmp_path / "p2")
    assert not (tmp_path / "p2").exists()


def test_tiles_mode_cuts_fields_to_whole_lr_pixels_and_skips_fields_smaller_than_a_tile(tmp_path):
    merged, images = merged_folder(tmp_path, n=4, shape=(66, 70), masks=False)   # 66 x 70: not multiples of 4
    write_png(merged / "F03.png", images["F03"][:20, :20])                       # smaller than a 32 px tile
    params = parse_section("prepare", {"mode": "tiles", "hr_size": 32, "tile_min_foreground": 0.0,
                                       "split": {"val": 0.25, "test": 0.25}})
    prepare(params, 0, merged, tmp_path / "processed")
    index = read_index(tmp_path / "processed" / "index.csv")
    assert "F03" not in {r["fov"] for r in index}
    with pytest.raises(UserError, match=r"prepare.hr_size: 128 px tiles do not fit in any field \(the largest is 66 px"):
        prepare(params.model_copy(update={"hr_size": 128}), 0, merged, tmp_path / "p2")
    for r in (r for r in index if r["split"] == "train"):
        hr = read_png_rgb(tmp_path / "processed" / "train" / "hr" / f"{r['id']}.png")
        lr = read_png_rgb(tmp_path / "processed" / "train" / "lr" / f"{r['id']}.png")
        np.testing.assert_array_equal(hr, images[r["id"]][:64, :68])               # a whole number of LR pixels
        np.testing.assert_array_equal(lr, cv2.resize(hr, (17, 16), interpolation=cv2.INTER_CUBIC))


def test_split_is_seeded_disjoint_and_stratified():
    rng = np.random.default_rng(0)
    labels = {f"f{i}": tuple(sorted({int(rng.integers(0, 4)), 12 if i < 10 else 5})) for i in range(100)}
    a = split_fovs(labels, 0.1, 0.15, seed=1)
    assert a == split_fovs(labels, 0.1, 0.15, seed=1) != split_fovs(labels, 0.1, 0.15, seed=2)
    assert set(a) == set(labels) and Counter(a.values()) == {"train": 75, "val": 10, "test": 15}
    rare = Counter(a[f] for f in labels if 12 in labels[f])   # the 10 FOVs of a rare class reach every split
    assert rare["train"] >= 6 and rare["val"] >= 1 and rare["test"] >= 1


def test_too_few_fovs_and_bad_scale(tmp_path):
    with pytest.raises(UserError, match="2 FOVs are too few"):
        split_fovs({"a": (0,), "b": (1,)}, 0.1, 0.15, seed=0)
    assert split_fovs({"a": (0,), "b": (1,)}, 0.0, 0.5, seed=0).keys() == {"a", "b"}
    merged, _ = merged_folder(tmp_path, n=3)
    with pytest.raises(UserError, match="prepare.hr_size: 30 is not a multiple of prepare.scale"):
        prepare(parse_section("prepare", {"hr_size": 30}), 0, merged, tmp_path / "processed")
    assert not (tmp_path / "processed").exists()
