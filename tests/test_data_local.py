"""fetch.source local: the three layouts, every supported file kind, labels in names or indices, hard links."""
from __future__ import annotations

import os

import numpy as np
import pytest
from data_files import cyto_folder, stain, write_channel, write_cyto_fov

from msrgan.data.fetch import fetch
from msrgan.data.local import KAGGLE_TO_CYTO
from msrgan.data.raw import read_labels_csv
from msrgan.errors import UserError
from msrgan.imageio import read_image
from msrgan.params import parse_section


def local(root, **kw):
    return parse_section("fetch", {"source": "local", "local": {"root": str(root), **kw}})


def test_cyto2017_all_file_kinds(tmp_path):
    root = tmp_path / "cyto"
    kinds = [(".tif", np.uint16, "lzw"), (".tiff", np.uint16, "zlib"), (".tif", np.uint8, None),
             (".png", np.uint16, None), (".png", np.uint8, None), (".jpg", np.uint8, None),
             (".tif.gz", np.uint16, None), (".png.gz", np.uint8, None)]
    written = {}
    for i, (ext, dtype, compression) in enumerate(kinds):
        images = write_cyto_fov(root / "sub", f"7_C{i}_2", i, ext, (40 + i, 30), dtype, compression)
        written[f"7_C{i}_2"] = (ext, images)
    (root / "labels.csv").write_text("id,labels\n" + "".join(f"{fov},{i % 13};{(i + 5) % 13}\n"
                                                              for i, fov in enumerate(written)))
    fovs = fetch(local(root), 0, tmp_path / "data" / "raw")
    assert [f.id for f in fovs] == sorted(written)
    for fov in fovs:
        ext, images = written[fov.id]
        assert set(fov.files) == {"red", "green", "blue", "yellow"}
        for colour, path in fov.files.items():
            assert path.name == f"{fov.id}_{colour}{ext}"
            got = read_image(path)
            if ext != ".jpg":   # lossless kinds come back bit for bit
                np.testing.assert_array_equal(got, images[colour])
            assert got.dtype == images[colour].dtype and got.shape == images[colour].shape
    labels = read_labels_csv(tmp_path / "data" / "raw" / "labels.csv")
    assert labels["7_C6_2"] == sorted({6, 11})


def test_labels_as_names_with_spaces_and_hard_links(tmp_path):
    root = cyto_folder(tmp_path / "src", n=5)
    (tmp_path / "src" / "notes.txt").write_text("not an image")   # other files are ignored
    fovs = fetch(local(root), 0, tmp_path / "raw")
    labels = {f.id: list(f.labels) for f in fovs}
    assert labels["100_B0_1"] == [0, 3]             # Nucleus Golgi apparatus
    assert labels["102_B2_1"] == [1, 7]             # Mitochondria Nucleoli
    assert labels["104_B4_1"] == [0, 8]
    src, dst = root / "100_B0_1_red.tif", tmp_path / "raw" / "images" / "100_B0_1_red.tif"
    assert os.stat(src).st_ino == os.stat(dst).st_ino   # same filesystem: hard-linked, not copied


def test_missing_er_is_fine_and_labels_path_and_rows_united(tmp_path):
    root = tmp_path / "src"
    write_cyto_fov(root, "1_A1_1", 1, colours=("red", "green", "blue"))
    write_cyto_fov(root, "1_A2_1", 2)
    csv = tmp_path / "elsewhere.csv"
    csv.write_text("Id,Label\n1_A1_1_red.tif,Cytosol\n1_A1_1,Vesicles\n1_A2_1,4\n")
    fovs = fetch(local(root, labels=str(csv), layout="cyto2017"), 0, tmp_path / "raw")
    assert set(fovs[0].files) == {"red", "green", "blue"}
    assert fovs[0].labels == (5, 8) and fovs[1].labels == (4,)


def test_kaggle_layout_maps_28_classes(tmp_path, capsys):
    root = tmp_path / "kaggle"
    ids = ["00070df0-bbc3-11e8-b2bc-ac1f6b6435d0", "000a6c98-bb9b-11e8-b2b9-ac1f6b6435d0",
           "000a9596-bbc4-11e8-b2bc-ac1f6b6435d0"]
    for i, uuid in enumerate(ids):
        write_cyto_fov(root / "train", uuid, i, ".png", (32, 32), np.uint8)
    write_cyto_fov(root / "test", "ffff9596-bbc4-11e8-b2bc-ac1f6b6435d0", 9, ".png", (32, 32), np.uint8)
    (root / "train.csv").write_text(f"Id,Target\n{ids[0]},16 0\n{ids[1]},27\n{ids[2]},25 13 7\n")
    fovs = fetch(local(root), 0, tmp_path / "raw")
    assert [f.id for f in fovs] == [ids[0], ids[2]]      # ids[1]: only Rods & rings, skipped; test/ ignored
    assert fovs[0].labels == (0, 9)                       # Nucleoplasm -> Nucleus, Cytokinetic bridge -> Microtubules
    assert fovs[1].labels == (3, 8, 11)                   # Golgi, Cytosol, Focal adhesion sites -> Actin filaments
    assert "skipped 1 Kaggle FOVs" in capsys.readouterr().out
    assert len(KAGGLE_TO_CYTO) == 28


def test_merged_tiles_layout(tmp_path):
    root = tmp_path / "tiles"
    rgb = np.dstack([stain(i, (24, 24), np.uint8) for i in range(3)])
    write_channel(root / "03_fovA.png", rgb)
    write_channel(root / "08_fovA.png", rgb)   # the same FOV under two classes: one FOV, two labels
    write_channel(root / "00_fovB.png", rgb[::-1])
    fovs = fetch(local(root), 0, tmp_path / "raw")
    assert [(f.id, f.labels, list(f.files)) for f in fovs] == [("fovA", (3, 8), ["rgb"]), ("fovB", (0,), ["rgb"])]


def test_failed_fetch_keeps_previous_raw(tmp_path):
    root = cyto_folder(tmp_path / "src", n=2)
    out = tmp_path / "data" / "raw"
    fetch(local(root), 0, out)
    before = sorted(p.name for p in (out / "images").iterdir())
    (root / "labels.csv").write_text("id,labels\n100_B0_1,Nucleus\n")
    with pytest.raises(UserError, match="no labels for image 101_B1_1"):
        fetch(local(root), 0, out)
    assert sorted(p.name for p in (out / "images").iterdir()) == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["raw"]   # no temporary folder left
