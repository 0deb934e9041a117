"""merge: stains -> one RGB PNG per FOV; percentile normalisation of 16-bit, 8-bit unchanged, masks copied."""
from __future__ import annotations

import json

import numpy as np
import pytest
from data_files import write_channel, write_cyto_fov

from msrgan.data.merge import merge, percentile_window
from msrgan.errors import UserError
from msrgan.imageio import read_image, read_png_rgb
from msrgan.params import parse_section


def raw_folder(tmp_path, fovs: dict[str, dict], masks: bool = False):
    raw = tmp_path / "raw"
    for i, (fov, kw) in enumerate(fovs.items()):
        kw["images"] = write_cyto_fov(raw / "images", fov, i, **{k: v for k, v in kw.items() if k != "images"})
        if masks:
            shape = kw["images"]["blue"].shape
            for kind in ("nuclei", "cells"):
                write_channel(raw / "masks" / f"{fov}_{kind}.png", (np.arange(np.prod(shape)) % 7).reshape(shape)
                              .astype(np.uint16))
    (raw / "labels.csv").write_text("id,labels\n" + "".join(f"{fov},{i % 13}\n" for i, fov in enumerate(fovs)))
    return raw


def test_16bit_percentile_window_and_8bit_passthrough(tmp_path):
    fovs = {"a_1": {"shape": (64, 48)}, "b_1": {"shape": (30, 20), "dtype": np.uint8, "ext": ".png"}}
    raw = raw_folder(tmp_path, fovs, masks=True)
    params = parse_section("merge", {"percentiles": [1, 99], "sample_pixels": 1024})
    assert merge(params, raw, tmp_path / "merged") == 2
    a = read_png_rgb(tmp_path / "merged" / "a_1.png")
    assert a.dtype == np.uint8 and a.shape == (64, 48, 3)
    for c, colour in enumerate(("red", "green", "blue")):
        x = fovs["a_1"]["images"][colour]
        lo, hi = np.percentile(x, [1, 99])
        expected = np.round(np.clip((x.astype(np.float64) - lo) / (hi - lo), 0, 1) * 255)
        # the window comes from a 1024-pixel sample of 3072: close to the full-image percentiles, not equal
        assert np.abs(a[..., c].astype(int) - expected).mean() < 6
        slo, shi = percentile_window(x, (1, 99), 1024, seed=0)
        assert abs(slo - lo) < 0.1 * (hi - lo) and abs(shi - hi) < 0.1 * (hi - lo)
    assert a[..., 0].min() == 0 and a[..., 0].max() == 255
    b = read_png_rgb(tmp_path / "merged" / "b_1.png")
    for c, colour in enumerate(("red", "green", "blue")):
        np.testing.assert_array_equal(b[..., c], fovs["b_1"]["images"][colour])   # 8-bit: unchanged
    assert (tmp_path / "merged" / "index.csv").read_text() == "id,labels,masks,pixel_size_um\na_1,0,1,\nb_1,1,1,\n"
    recorded = json.loads((tmp_path / "merged" / "normalisation.json").read_text())
    assert recorded == {"rgb": ["red", "green", "blue"], "percentiles": [1.0, 99.0], "sample_pixels": 1024}
    np.testing.assert_array_equal(read_image(tmp_path / "merged" / "masks" / "a_1_cells.png"),
                                  read_image(raw / "masks" / "a_1_cells.png"))


def test_formula_exact_on_full_sample_and_deterministic(tmp_path):
    raw = raw_folder(tmp_path, {"f_1": {"shape": (32, 32)}, "f_2": {"shape": (32, 40)}})
    params = parse_section("merge", {"percentiles": [0.1, 99.9], "sample_pixels": 4096})   # >= pixels: all used
    merge(params, raw, tmp_path / "m1", workers=1)
    merge(params, raw, tmp_path / "m2", workers=2)
    for fov in ("f_1", "f_2"):
        assert (tmp_path / "m1" / f"{fov}.png").read_bytes() == (tmp_path / "m2" / f"{fov}.png").read_bytes()
    got = read_png_rgb(tmp_path / "m1" / "f_1.png")[..., 1]
    x = read_image(raw / "images" / "f_1_green.tif").astype(np.float64)
    lo, hi = np.percentile(x, [0.1, 99.9])
    expected = np.floor(np.clip((x - lo) / (hi - lo), 0, 1) * 255 + 0.5)
    assert np.abs(got - expected).max() <= 1 and (got == expected).mean() > 0.99


def test_uncompressed_png_has_the_same_pixels(tmp_path):
    raw = raw_folder(tmp_path, {"f_1": {"shape": (64, 64)}})
    merge(parse_section("merge", {}), raw, tmp_path / "fast")
    merge(parse_section("merge", {"png_compression": 0}), raw, tmp_path / "stored")
    fast, stored = tmp_path / "fast" / "f_1.png", tmp_path / "stored" / "f_1.png"
    np.testing.assert_array_equal(read_png_rgb(stored), read_png_rgb(fast))
    assert stored.stat().st_size > 64 * 64 * 3 > fast.stat().st_size   # stored: every byte plus PNG framing


def test_rgb_mapping_param(tmp_path):
    fovs = {"g_1": {"dtype": np.uint8, "ext": ".png"}}
    raw = raw_folder(tmp_path, fovs)
    merge(parse_section("merge", {"rgb": ["yellow", "green", "red"]}), raw, tmp_path / "merged")
    rgb = read_png_rgb(tmp_path / "merged" / "g_1.png")
    for c, colour in enumerate(("yellow", "green", "red")):
        np.testing.assert_array_equal(rgb[..., c], fovs["g_1"]["images"][colour])


def test_stains_of_different_sizes_fail_and_leave_nothing(tmp_path):
    raw = raw_folder(tmp_path, {"s_1": {}})
    write_channel(raw / "images" / "s_1_green.tif", np.zeros((10, 10), np.uint16))
    with pytest.raises(UserError, match=r"s_1_red.tif: the stains of FOV s_1 differ in size \(red 48x64, green 10x10"):
        merge(parse_section("merge", {}), raw, tmp_path / "merged")
    assert not (tmp_path / "merged").exists() and [p.name for p in tmp_path.iterdir()] == ["raw"]


def test_merged_tiles_pass_through(tmp_path):
    raw = tmp_path / "raw"
    tile = np.dstack([np.full((12, 10), v, np.uint8) for v in (5, 120, 250)])
    write_channel(raw / "images" / "t_1_rgb.png", tile[..., ::-1])           # cv2 writes BGR
    write_channel(raw / "images" / "t_2_rgb.png", np.dstack([tile[..., 0]] * 4))   # RGBA: alpha dropped
    (raw / "labels.csv").write_text("id,labels\nt_1,3\nt_2,0;8\n")
    merge(parse_section("merge", {}), raw, tmp_path / "merged")
    np.testing.assert_array_equal(read_png_rgb(tmp_path / "merged" / "t_1.png"), tile)
    assert read_png_rgb(tmp_path / "merged" / "t_2.png").shape == (12, 10, 3)
    assert (tmp_path / "merged" / "index.csv").read_text() == "id,labels,masks,pixel_size_um\nt_1,3,0,\nt_2,0;8,0,\n"
