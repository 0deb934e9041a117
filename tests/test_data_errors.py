"""Bad input through the stage scripts: exit != 0, one line on stderr naming the file or key, no traceback,
and nothing half-written under data/."""
from __future__ import annotations

import numpy as np
import pytest
from data_files import cyto_folder, run_stage, write_channel, write_params

from msrgan.data.fetch import fetch
from msrgan.params import parse_section

LOCAL = "fetch:\n  source: local\n  local:\n    root: src\n"


def assert_fails(workdir, stage, *needles, left=()):
    result = run_stage(stage, workdir)
    err = result.stderr.strip()
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr and len(err.splitlines()) == 1, err
    assert err.startswith("error: ")
    for needle in needles:
        assert needle in err, err
    data = workdir / "data"
    assert sorted(p.name for p in data.iterdir()) == sorted(left) if data.exists() else not left


def fetched(workdir):
    """data/raw fetched in-process from workdir/src, for the errors merge finds."""
    fetch(parse_section("fetch", {"source": "local", "local": {"root": str(workdir / "src")}}), 0,
          workdir / "data" / "raw")


@pytest.fixture
def work(tmp_path):
    cyto_folder(tmp_path / "src", n=3)
    write_params(tmp_path, LOCAL)
    return tmp_path


def test_empty_folder(tmp_path):
    (tmp_path / "src").mkdir()
    write_params(tmp_path, LOCAL)
    assert_fails(tmp_path, "fetch", "src: no images found")


def test_missing_nucleus_channel(work):
    (work / "src" / "101_B1_1_blue.tif").unlink()
    assert_fails(work, "fetch", "101_B1_1", "no nucleus (blue) channel")


def test_zero_byte_file(work):
    (work / "src" / "102_B2_1_green.tif").write_bytes(b"")
    assert_fails(work, "fetch", "src/102_B2_1_green.tif: empty file (0 bytes)")


def test_class_not_among_the_13(work):
    (work / "src" / "labels.csv").write_text("id,labels\n100_B0_1,Nucleus\n101_B1_1,Golgi apparatus Peroxisomes\n"
                                             "102_B2_1,0\n")
    assert_fails(work, "fetch", "labels.csv:3", "class 'Peroxisomes' is not among the 13 classes")


def test_labels_csv_missing(work):
    (work / "src" / "labels.csv").unlink()
    assert_fails(work, "fetch", "no labels CSV found", "fetch.local.labels")
    write_params(work, LOCAL + "    labels: nowhere.csv\n")
    assert_fails(work, "fetch", "nowhere.csv: labels CSV not found")


def test_labels_csv_lacks_an_id(work):
    (work / "src" / "labels.csv").write_text("id,labels\n100_B0_1,0\n102_B2_1,1\n")
    assert_fails(work, "fetch", "labels.csv: no labels for image 101_B1_1")


def test_unknown_and_ill_typed_params(work):
    write_params(work, LOCAL + "  sorce: x\n")
    assert_fails(work, "fetch", "params.yaml: fetch.sorce: unknown key")
    write_params(work, LOCAL + "prepare:\n  hr_size: big\n")
    assert_fails(work, "prepare", "params.yaml: prepare.hr_size", "big")


def test_truncated_tiff(work):
    path = work / "src" / "101_B1_1_red.tif"
    path.write_bytes(path.read_bytes()[:300])
    assert_fails(work, "fetch", "src/101_B1_1_red.tif: not a readable image, truncated or corrupt")


def test_truncated_png(work):
    write_channel(work / "src" / "100_B0_1_green.png", np.zeros((64, 48), np.uint8))
    (work / "src" / "100_B0_1_green.tif").unlink()
    path = work / "src" / "100_B0_1_green.png"
    path.write_bytes(path.read_bytes()[:-20])
    assert_fails(work, "fetch", "src/100_B0_1_green.png: not a readable image, truncated or corrupt")


def test_not_an_image(work):
    (work / "src" / "100_B0_1_green.tif").unlink()
    (work / "src" / "100_B0_1_green.png").write_text("hello, I am text")
    assert_fails(work, "fetch", "src/100_B0_1_green.png: not a readable image")


def test_a_file_broken_after_fetch_is_still_named_by_merge(work):
    fetched(work)
    path = work / "data" / "raw" / "images" / "101_B1_1_red.tif"
    data = path.read_bytes()
    path.unlink()   # a hard link to the user's file: replace it, do not write through it
    path.write_bytes(data[:300])
    assert_fails(work, "merge", "data/raw/images/101_B1_1_red.tif: not a readable image", left=["raw"])


def test_stains_of_different_sizes(work):
    write_channel(work / "src" / "102_B2_1_blue.tif", np.zeros((20, 20), np.uint16))
    assert_fails(work, "fetch", "src/102_B2_1_blue.tif: the stains of FOV 102_B2_1 differ in size", "blue 20x20")
