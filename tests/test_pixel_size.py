"""The physical pixel size (issue 13): read from TIFF metadata, recorded per FOV by merge, as the HR pixel size in
prepare's domain.json, and stated in the exported package's documentation."""
from __future__ import annotations

import gzip
import io
import json

import numpy as np
import pytest
import tifffile
from data_files import stain

from msrgan.data.merge import merge
from msrgan.data.prepare import prepare, read_merged_index
from msrgan.errors import UserError
from msrgan.imageio import image_pixel_size, write_png
from msrgan.params import parse_section
from msrgan.tiffmeta import pixel_size_um, read_tiff

TINY = np.zeros((8, 8), np.uint16)


@pytest.mark.parametrize("kwargs, expected", [
    ({"ome": True, "metadata": {"PhysicalSizeX": 0.325, "PhysicalSizeY": 0.325}}, (0.325, 0.325)),   # µm default
    ({"ome": True, "metadata": {"PhysicalSizeX": 80, "PhysicalSizeXUnit": "nm", "PhysicalSizeY": 90,
                                "PhysicalSizeYUnit": "nm"}}, (0.08, 0.09)),
    ({"ome": True, "metadata": {"PhysicalSizeX": 0.0005, "PhysicalSizeXUnit": "mm"}}, (0.5, 0.5)),   # Y as X
    ({"imagej": True, "resolution": (5, 4), "metadata": {"unit": "micron"}}, (0.2, 0.25)),
    ({"imagej": True, "resolution": (5, 5), "metadata": {"unit": "\\u00B5m"}}, (0.2, 0.2)),          # ImageJ's µ
    ({"imagej": True, "resolution": (0.01, 0.01), "metadata": {"unit": "nm"}}, (0.1, 0.1)),
    ({"imagej": True, "resolution": (5, 5), "metadata": {"unit": "pixel"}}, None),                   # uncalibrated
    ({"imagej": True, "resolution": (1, 1), "metadata": {"unit": "um"}}, (1.0, 1.0)),   # 1 unit/px is a calibration
    ({"imagej": True}, None),                                                           # ImageJ's 1 pixel/px default
    ({"resolution": (25400 / 0.5, 25400 / 0.5), "resolutionunit": "INCH"}, (0.5, 0.5)),
    ({"resolution": (10000 / 0.65, 10000 / 0.65), "resolutionunit": "CENTIMETER"}, (0.65, 0.65)),
    ({"resolution": (5, 5), "resolutionunit": "NONE"}, None),
    ({"resolution": (72, 72), "resolutionunit": "INCH"}, None),   # a document default, not a calibration
    ({}, None),
])
def test_pixel_size_known_answers(kwargs, expected):
    buf = io.BytesIO()
    tifffile.imwrite(buf, TINY, **kwargs)
    size = pixel_size_um(read_tiff(buf.getvalue())[2])
    assert size == (None if expected is None else pytest.approx(expected, rel=1e-6))


def test_image_pixel_size_of_gzipped_tiffs_and_pngs(tmp_path):
    buf = io.BytesIO()
    tifffile.imwrite(buf, TINY, resolution=(10000 / 0.65, 10000 / 0.65), resolutionunit="CENTIMETER")
    (tmp_path / "a.tif.gz").write_bytes(gzip.compress(buf.getvalue()))
    write_png(tmp_path / "a.png", TINY.astype(np.uint8))
    assert image_pixel_size(tmp_path / "a.tif.gz") == pytest.approx((0.65, 0.65))
    assert image_pixel_size(tmp_path / "a.png") is None
    assert pixel_size_um(None) is None


def test_merge_records_each_fovs_pixel_size(tmp_path):
    """A 4th index column from the stains' TIFF tags: square pixels as one number, others as x;y, empty for PNGs;
    the first three columns as before."""
    images = tmp_path / "raw" / "images"
    images.mkdir(parents=True)
    for k, colour in enumerate(("red", "green", "blue", "yellow")):
        tifffile.imwrite(images / f"a_1_{colour}.tif", stain(k, (16, 12)), resolution=(20000, 20000),
                         resolutionunit="CENTIMETER")                                     # 0.5 µm
        tifffile.imwrite(images / f"c_1_{colour}.tif", stain(k, (16, 12)), imagej=True, resolution=(5, 4),
                         metadata={"unit": "micron"})                                     # 0.2 x 0.25 µm
        write_png(images / f"b_1_{colour}.png", stain(k, (16, 12), np.uint8))
    (tmp_path / "raw" / "labels.csv").write_text("id,labels\na_1,0\nb_1,1\nc_1,2\n")
    assert merge(parse_section("merge", {}), tmp_path / "raw", tmp_path / "merged") == 3
    assert (tmp_path / "merged" / "index.csv").read_text() == (
        "id,labels,masks,pixel_size_um\na_1,0,0,0.5\nb_1,1,0,\nc_1,2,0,0.2;0.25\n")
    fovs = read_merged_index(tmp_path / "merged")
    assert [f.pixel_size_um for f in fovs] == [(0.5, 0.5), None, (0.2, 0.25)]


def merged(tmp_path, sizes: list[str | None], shape=(64, 48)):
    """Merged FOVs F00.. with the given pixel_size_um cells (None: an old 3-column index for all)."""
    folder = tmp_path / "merged"
    old = any(s is None for s in sizes)
    rows = ["id,labels,masks" + ("" if old else ",pixel_size_um")]
    for i, size in enumerate(sizes):
        write_png(folder / f"F{i:02d}.png", np.dstack([stain(i * 3 + c, shape, np.uint8) for c in range(3)]))
        rows.append(f"F{i:02d},{i % 13},0" + ("" if old else f",{size}"))
    (folder / "index.csv").write_text("\n".join(rows) + "\n")
    return folder


def domain_of(tmp_path, folder, **params) -> dict:
    params = parse_section("prepare", {"hr_size": 16, "tile_min_foreground": 0, "split": {"val": 0.25, "test": 0.25},
                                       **params})
    prepare(params, 0, folder, tmp_path / "processed")
    return json.loads((tmp_path / "processed" / "domain.json").read_text())


def test_domain_records_the_hr_pixel_size_in_resize_mode(tmp_path):
    """The paper shrinks the 48 x 64 field whole to 16 px: its HR pixels are 3x (x) and 4x (y) the field's."""
    domain = domain_of(tmp_path, merged(tmp_path, ["0.5", "0.5", "0.502", "0.5"]))
    assert domain["pixel_size_um"] == pytest.approx([0.5 * 48 / 16 * 1.001, 0.5 * 64 / 16 * 1.001], rel=1e-3)


def test_domain_records_the_fields_pixel_size_in_tiles_mode(tmp_path):
    domain = domain_of(tmp_path, merged(tmp_path, ["0.1;0.12"] * 4), mode="tiles")
    assert domain["pixel_size_um"] == [0.1, 0.12]


@pytest.mark.parametrize("sizes", [["0.5", "0.5", "", "0.5"],       # one FOV unknown
                                   ["0.5", "0.5", "0.6", "0.5"],    # another microscope
                                   [None] * 4])                     # an index from before the column
def test_domain_has_no_pixel_size_unless_every_fov_agrees(tmp_path, sizes):
    domain = domain_of(tmp_path, merged(tmp_path, sizes))
    assert "pixel_size_um" not in domain and domain["mode"] == "resize"


def test_a_bad_pixel_size_cell_names_its_line(tmp_path):
    folder = merged(tmp_path, ["0.5", "big"])
    with pytest.raises(UserError, match=r"index.csv:3: pixel_size_um .*'big'"):
        read_merged_index(folder)


def test_the_documentation_states_the_training_pixel_size():
    from msrgan.export.documentation import pixel_size
    assert pixel_size({"domain": {"scale": 4, "pixel_size_um": [0.08, 0.08]}}) == (
        " Its training HR pixels were 0.08 µm and the LR inputs' 0.32 µm: inputs with pixels near 0.32 µm show "
        "cells at the scale it learned.")
    assert pixel_size({"domain": {"scale": 4}}) == "" and pixel_size({}) == ""
