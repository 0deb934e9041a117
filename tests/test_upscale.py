"""`python -m msrgan upscale`: formats, dtypes, channel layouts, metadata, consistency map, bad inputs, exit codes."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
import torch

from msrgan.cli import main
from msrgan.models.generator import Generator, GeneratorConfig
from msrgan.models.generatorfile import save_generator
from msrgan.tiffmeta import ome_essentials
from msrgan.upscale.resume import JOURNAL

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    generator = Generator(GeneratorConfig(blocks=2, channels=8, norm="none", res_scale=0.2, upsample="resize"))
    torch.nn.init.normal_(generator.tail.weight, std=0.01)
    path = tmp_path_factory.mktemp("model") / "generator.pt"
    save_generator(path, generator, percentiles=[0.1, 99.9])
    return path


def cells(height: int, width: int, seed: int, peak: int, channels: int = 1) -> np.ndarray:
    """Blurry blobs on a dim background (H x W x C float in [0, peak])."""
    rng = np.random.default_rng(seed)
    img = np.zeros((height, width, channels), np.float32)
    for c in range(channels):
        for _ in range(12):
            y, x = rng.integers(0, height), rng.integers(0, width)
            img[..., c] += np.exp(-((np.arange(height)[:, None] - y) ** 2 + (np.arange(width)[None] - x) ** 2)
                                  / (2 * rng.uniform(2, 6) ** 2))
    img = img / img.max() * 0.9 * peak + rng.normal(0.04 * peak, 0.01 * peak, img.shape)
    return np.clip(img, 0, peak)


def upscale(*args) -> int:
    return main(["upscale", *map(str, args), "--quiet"])


def test_16bit_single_channel_odd_sized_tiff(model, tmp_path):
    image = cells(37, 43, 0, 40000).astype(np.uint16)[..., 0]
    image[20, 21] = 65000                                # one saturating spot above the 99.9th percentile
    tifffile.imwrite(tmp_path / "field.tif", image)
    assert upscale(tmp_path / "field.tif", "--model", model, "--out", tmp_path / "out", "--tile", "24",
                   "--overlap", "8") == 0
    out = tifffile.imread(tmp_path / "out" / "field.tif")
    assert out.shape == (148, 172) and out.dtype == np.uint16
    # intensities stay comparable: same scale as the input, the bright spot is not flattened to the 99.9th pct
    down = cv2.resize(out.astype(np.float32), (43, 37), interpolation=cv2.INTER_AREA)
    assert abs(down.mean() - image.mean()) < 0.02 * image.mean()
    assert out.max() > 0.8 * 65000 > np.percentile(image, 99.9)


def test_8bit_rgb_png_and_jpeg(model, tmp_path):
    rgb = cells(50, 61, 1, 255, channels=3).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "a.png"), rgb[..., ::-1])
    cv2.imwrite(str(tmp_path / "b.jpg"), rgb[..., ::-1])
    assert upscale(tmp_path / "a.png", tmp_path / "b.jpg", "--model", model, "--out", tmp_path / "out") == 0
    for name in ("a.png", "b.jpg"):
        out = cv2.imread(str(tmp_path / "out" / name), cv2.IMREAD_UNCHANGED)
        assert out.shape == (200, 244, 3) and out.dtype == np.uint8
    out = cv2.imread(str(tmp_path / "out" / "a.png"))[..., ::-1]
    assert np.corrcoef(cv2.resize(out, (61, 50), interpolation=cv2.INTER_AREA).ravel(), rgb.ravel())[0, 1] > 0.95


def test_4_channel_stacks_keep_their_layout_and_metadata(model, tmp_path):
    stack = cells(40, 45, 2, 50000, channels=4).astype(np.uint16).transpose(2, 0, 1)   # C x Y x X
    tifffile.imwrite(tmp_path / "hpa.tif", stack, imagej=True, resolution=(2.0, 2.0),
                     metadata={"axes": "CYX", "unit": "um", "Labels": ["mt", "protein", "nucleus", "er"]})
    tifffile.imwrite(tmp_path / "hpa.ome.tif", stack, ome=True, metadata={
        "axes": "CYX", "PhysicalSizeX": 0.4, "PhysicalSizeXUnit": "µm", "PhysicalSizeY": 0.4,
        "PhysicalSizeYUnit": "µm", "Channel": {"Name": ["mt", "protein", "nucleus", "er"]}})
    tifffile.imwrite(tmp_path / "er.tif", stack[3])
    assert upscale(tmp_path, "--model", model, "--out", tmp_path / "out") == 0
    with tifffile.TiffFile(tmp_path / "out" / "hpa.tif") as tif:
        assert tif.series[0].axes == "CYX" and tif.series[0].shape == (4, 160, 180)
        assert tif.series[0].dtype == np.uint16
        assert tif.pages[0].get_resolution() == pytest.approx((8.0, 8.0))          # 0.5 um -> 0.125 um pixels
        assert tif.imagej_metadata["unit"] == "um"
        assert tif.imagej_metadata["Labels"] == ["mt", "protein", "nucleus", "er"]
        ij = tif.asarray()
    with tifffile.TiffFile(tmp_path / "out" / "hpa.ome.tif") as tif:
        assert tif.is_ome and tif.series[0].axes == "CYX" and tif.series[0].shape == (4, 160, 180)
        meta = ome_essentials(tif.ome_metadata)
        assert meta["PhysicalSizeX"] == pytest.approx(0.1) and meta["PhysicalSizeY"] == pytest.approx(0.1)
        assert meta["Channel"]["Name"] == ["mt", "protein", "nucleus", "er"]
    # the ER channel went through on its own: the same as upscaling it as a single-channel image
    alone = tifffile.imread(tmp_path / "out" / "er.tif")
    assert np.abs(ij[3].astype(int) - alone).max() <= 1
    assert np.abs(ij[0].astype(int) - alone).mean() > 1000                          # channels not mixed up


def test_hyperstack_planes_and_two_channels(model, tmp_path):
    stack = np.stack([cells(20, 23, s, 200, channels=2) for s in range(6)]).astype(np.uint8)   # (T Z) Y X C
    stack = stack.reshape(2, 3, 20, 23, 2).transpose(0, 1, 4, 2, 3)                               # T Z C Y X
    tifffile.imwrite(tmp_path / "hyper.tif", stack, imagej=True, metadata={"axes": "TZCYX"})
    assert upscale(tmp_path / "hyper.tif", "--model", model, "--out", tmp_path / "out", "--consistency-map") == 0
    with tifffile.TiffFile(tmp_path / "out" / "hyper.tif") as tif:
        assert tif.series[0].axes == "TZCYX" and tif.series[0].shape == (2, 3, 2, 80, 92)
        out = tif.asarray()
    small = cv2.resize(out[1, 2, 1].astype(np.float32), (23, 20), interpolation=cv2.INTER_AREA)
    assert np.corrcoef(small.ravel(), stack[1, 2, 1].ravel())[0, 1] > 0.95         # planes stay in place
    assert tifffile.imread(tmp_path / "out" / "hyper.tif.consistency.tif").shape == (6, 20, 23, 3)


def test_consistency_map(model, tmp_path):
    rgb = cells(30, 33, 3, 255, channels=3).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "a.png"), rgb)
    assert upscale(tmp_path / "a.png", "--model", model, "--out", tmp_path / "out", "--consistency-map") == 0
    heat = cv2.imread(str(tmp_path / "out" / "a.png.consistency.png"))
    assert heat.shape == (30, 33, 3)
    summary = (tmp_path / "out" / "a.png.consistency.txt").read_text().splitlines()
    assert len(summary) == 1 and "PSNR" in summary[0] and "% of pixels off by more than 0.05" in summary[0]
    assert float(summary[0].split("PSNR ")[1].split(" dB")[0]) > 30   # a near-bicubic model stays consistent


def test_bad_inputs_fail_one_line_each_and_the_rest_runs(model, tmp_path):
    good = tmp_path / "good.png"
    cv2.imwrite(str(good), cells(20, 20, 4, 255).astype(np.uint8))
    (tmp_path / "text.png").write_text("not an image")
    tifffile.imwrite(tmp_path / "float.tif", np.zeros((20, 20), np.float32))
    tifffile.imwrite(tmp_path / "six.tif", np.zeros((6, 20, 20), np.uint16), imagej=True, metadata={"axes": "CYX"})
    (tmp_path / "empty").mkdir()
    bad = ["text.png", "missing.tif", "float.tif", "six.tif", "empty"]
    result = subprocess.run(
        [sys.executable, "-m", "msrgan", "upscale", *[str(tmp_path / b) for b in bad[:2]], str(good),
         *[str(tmp_path / b) for b in bad[2:]], "--model", str(model), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == len(bad)
    for name, line in zip(bad, errors, strict=True):
        assert str(tmp_path / name) in line
    assert "float32" in errors[2] and "6 channels" in errors[3]
    assert cv2.imread(str(tmp_path / "out" / "good.png")).shape == (80, 80, 3)
    # no partial files (beside the output, only the journal of complete outputs: msrgan/upscale/resume.py)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [JOURNAL, "good.png"]


@pytest.mark.parametrize("model_arg", [None, "missing.pt", "text.pt"])
def test_missing_or_wrong_model_exits_2_with_one_line(model_arg, tmp_path, capsys):
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((8, 8), np.uint8))
    (tmp_path / "text.pt").write_text("no")
    args = ["upscale", str(tmp_path / "a.png"), "--out", str(tmp_path / "out")]
    if model_arg:
        args += ["--model", str(tmp_path / model_arg)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and (model_arg or "--model") in err[0]
    assert not (tmp_path / "out").exists()


def test_folders_keep_their_subfolders_and_channels_option(model, tmp_path):
    (tmp_path / "in" / "plate1").mkdir(parents=True)
    rgb = cells(16, 18, 5, 255, channels=3).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "in" / "plate1" / "a.png"), rgb)
    cv2.imwrite(str(tmp_path / "in" / "b.png"), rgb)
    (tmp_path / "in" / "notes.txt").write_text("skipped")
    assert upscale(tmp_path / "in", "--model", model, "--out", tmp_path / "in" / "up", "--channels", "2,1,0") == 0
    assert (tmp_path / "in" / "up" / "plate1" / "a.png").is_file() and (tmp_path / "in" / "up" / "b.png").is_file()
    # a second run does not pick up its own outputs (they lie under --out)
    assert upscale(tmp_path / "in", "--model", model, "--out", tmp_path / "in" / "up") == 0
    assert not (tmp_path / "in" / "up" / "up").exists()
    assert main(["upscale", str(tmp_path / "in"), "--model", str(model), "--out", str(tmp_path / "x"),
                 "--channels", "0,7,1"]) == 1   # channel 7 does not exist: that file fails


@pytest.mark.parametrize("option,value", [("--channels", "0,1"), ("--tile", "8"), ("--overlap", "100"),
                                          ("--device", "cuda")])
def test_bad_options_exit_2_with_one_line(model, option, value, tmp_path, capsys):
    if option == "--device" and torch.cuda.is_available():
        pytest.skip("CUDA is present here")
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((8, 8), np.uint8))
    assert main(["upscale", str(tmp_path / "a.png"), "--model", str(model), "--out", str(tmp_path / "out"),
                 option, value]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and option in err[0]


@pytest.mark.parametrize("norm", ["batch", "none"])
def test_evaluate_scores_exactly_what_upscale_writes(tmp_path, norm):
    """One predictor: the evaluate stage's SR images are the `msrgan upscale` outputs of the same LR files."""
    from msrgan.evaluation.predict import generator as evaluate_generator
    torch.manual_seed(1)
    net = Generator(GeneratorConfig(blocks=2, channels=8, norm=norm, res_scale=0.5))
    torch.nn.init.normal_(net.tail.weight, std=0.01)
    if norm == "batch":   # non-trivial running statistics, so folding them matters
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 2)
    path = tmp_path / "generator.pt"
    save_generator(path, net)
    rng = np.random.default_rng(0)
    lrs = [rng.integers(0, 256, (24, 24, 3), dtype=np.uint8), rng.integers(0, 256, (20, 28, 3), dtype=np.uint8)]
    for i, lr in enumerate(lrs):
        cv2.imwrite(str(tmp_path / f"lr{i}.png"), cv2.cvtColor(lr, cv2.COLOR_RGB2BGR))
    assert upscale(tmp_path / "lr0.png", tmp_path / "lr1.png", "--model", path, "--out", tmp_path / "sr") == 0
    scored = evaluate_generator(str(path), 4)(lrs)
    for i, sr in enumerate(scored):
        written = cv2.cvtColor(cv2.imread(str(tmp_path / "sr" / f"lr{i}.png")), cv2.COLOR_BGR2RGB)
        assert sr.shape == written.shape == (lrs[i].shape[0] * 4, lrs[i].shape[1] * 4, 3)
        np.testing.assert_array_equal(sr, written)


@pytest.mark.parametrize("kind", ["grey8", "hyperstack16", "rgb8"])
def test_tiffs_without_a_compression_tag_as_imagej_writes_them(model, tmp_path, kind):
    """Tag 259 is optional in TIFF 6.0 and ImageJ/Fiji leaves it out; such files upscale, and the data stages
    read them too."""
    from msrgan.imageio import read_image
    from tests.data_files import drop_tiff_tag
    path = tmp_path / f"{kind}.tif"
    if kind == "grey8":
        tifffile.imwrite(path, cells(20, 22, 1, 250).astype(np.uint8)[..., 0], compression=None)
        expected = (80, 88)
    elif kind == "hyperstack16":
        stack = np.stack([cells(20, 22, s, 30000, 2).astype(np.uint16).transpose(2, 0, 1) for s in (1, 2)])
        tifffile.imwrite(path, stack, imagej=True, metadata={"axes": "ZCYX"}, compression=None)
        expected = (2, 2, 80, 88)
    else:
        tifffile.imwrite(path, cells(20, 22, 1, 250, 3).astype(np.uint8), photometric="rgb", compression=None)
        expected = (80, 88, 3)
    drop_tiff_tag(path)
    with tifffile.TiffFile(path) as tif:
        assert 259 not in tif.pages[0].tags
    if kind != "hyperstack16":
        assert read_image(path).shape[:2] == (20, 22)
    assert upscale(path, "--model", model, "--out", tmp_path / "out") == 0
    with tifffile.TiffFile(tmp_path / "out" / path.name) as tif:
        assert tif.series[0].shape == expected
        assert tif.is_imagej == (kind == "hyperstack16")


def test_imagej_rgb48_is_written_as_ome_tiff_with_a_note(model, tmp_path, capsys):
    rgb = cells(16, 18, 3, 40000, 3).astype(np.uint16)
    tifffile.imwrite(tmp_path / "rgb48.tif", rgb, photometric="rgb", description="ImageJ=1.54f\nimages=1\n",
                     metadata=None, resolution=(2.0, 2.0), resolutionunit="CENTIMETER")
    with tifffile.TiffFile(tmp_path / "rgb48.tif") as tif:
        assert tif.is_imagej
    assert main(["upscale", str(tmp_path / "rgb48.tif"), "--model", str(model), "--out", str(tmp_path / "o")]) == 0
    assert "note: ImageJ cannot store uint16 pixels with axes YXS: written as an OME-TIFF" in capsys.readouterr().out
    with tifffile.TiffFile(tmp_path / "o" / "rgb48.tif") as tif:
        assert tif.is_ome and tif.series[0].shape == (64, 72, 3) and tif.series[0].dtype == np.uint16
        assert tif.pages[0].get_resolution() == pytest.approx((8.0, 8.0))    # pixel size divided by 4


def test_an_unforeseen_failure_is_one_line_and_the_batch_goes_on(model, tmp_path, capsys, monkeypatch):
    from msrgan.upscale import command
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(tmp_path / name), cells(12, 12, 0, 250, 3).astype(np.uint8))
    real = command.write_output

    def broken(dest, *args):
        if dest.name == "a.png":
            raise RuntimeError("disk said no\nsecond line")
        return real(dest, *args)
    monkeypatch.setattr(command, "write_output", broken)
    assert upscale(tmp_path / "a.png", tmp_path / "b.png", "--model", model, "--out", tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert f"error: {tmp_path / 'a.png'}: not upscaled, unexpected RuntimeError: disk said no (please report it)" in err
    assert "Traceback" not in err and (tmp_path / "out" / "b.png").is_file()
    assert not (tmp_path / "out" / "a.png").exists()


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_an_unusable_out_is_refused_before_any_work(model, tmp_path, capsys, monkeypatch, where):
    from msrgan.upscale import upscaler as upscaler_module
    cv2.imwrite(str(tmp_path / "a.png"), cells(12, 12, 0, 250, 3).astype(np.uint8))
    (tmp_path / "taken").write_text("a file")
    out = tmp_path / "taken" if where == "a file" else tmp_path / "taken" / "sub"
    monkeypatch.setattr(upscaler_module.Upscaler, "__call__", lambda *a, **k: pytest.fail("work was done"))
    assert main(["upscale", str(tmp_path / "a.png"), "--model", str(model), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --out: ") and str(out) in err[0]


def test_the_same_file_named_twice_is_one_input(model, tmp_path, capsys):
    (tmp_path / "in").mkdir()
    cv2.imwrite(str(tmp_path / "in" / "f.png"), cells(12, 12, 0, 250, 3).astype(np.uint8))
    same = [tmp_path / "in" / "f.png", tmp_path / "in" / ".." / "in" / "f.png", tmp_path / "in"]
    assert main(["upscale", *map(str, same), "--model", str(model), "--out", str(tmp_path / "out")]) == 0
    assert "upscaled 1 of 1 input(s)" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [JOURNAL, "f.png"]


def test_grey_saved_as_rgb_is_upscaled_as_grey_and_each_file_says_its_mapping(model, tmp_path, capsys):
    grey = cells(16, 18, 6, 250).astype(np.uint8)[..., 0]
    cv2.imwrite(str(tmp_path / "grey.png"), grey)
    cv2.imwrite(str(tmp_path / "grey_rgb.png"), np.dstack([grey] * 3))
    cv2.imwrite(str(tmp_path / "colour.png"), cells(16, 18, 7, 250, 3).astype(np.uint8))
    assert main(["upscale", *(str(tmp_path / f) for f in ("grey.png", "grey_rgb.png", "colour.png")),
                 "--model", str(model), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "channels 0-2 identical (grey saved as RGB): upscaled once on its own" in out
    assert ("channels 0,1,2 as the generator's microtubules, protein, nucleus (the file does not name its channels: "
            "if they are not these stains, pass --channels single)") in out
    assert "channel 0 on its own" in out
    alone = cv2.imread(str(tmp_path / "out" / "grey.png"), cv2.IMREAD_UNCHANGED)
    as_rgb = cv2.imread(str(tmp_path / "out" / "grey_rgb.png"), cv2.IMREAD_UNCHANGED)
    assert as_rgb.shape == (64, 72, 3)
    for c in range(3):   # no colour invented: every channel is the grey image's own upscale
        np.testing.assert_array_equal(as_rgb[..., c], alone)


def test_the_mapping_line_shows_the_channel_names_an_ome_tiff_gives(model, tmp_path, capsys):
    stack = cells(20, 22, 8, 30000, 3).astype(np.uint16).transpose(2, 0, 1)
    tifffile.imwrite(tmp_path / "named.ome.tif", stack, ome=True,
                     metadata={"axes": "CYX", "Channel": {"Name": ["Tubulin", "GFP", "DAPI"]}})
    assert main(["upscale", str(tmp_path / "named.ome.tif"), "--model", str(model), "--out",
                 str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "channels 0,1,2 (Tubulin, GFP, DAPI) as the generator's microtubules, protein, nucleus\n" in out + "\n"


@pytest.mark.parametrize("kind", ["rgba.png", "la.png", "rgba.tif"])
def test_alpha_is_a_mask_carried_through_not_a_stain(model, tmp_path, capsys, kind):
    import imagecodecs
    colour = cells(16, 18, 8, 250, 1 if kind == "la.png" else 3).astype(np.uint8)
    alpha = np.full((16, 18, 1), 255, np.uint8)
    alpha[:, :5] = 0                                      # a transparent margin
    stored = np.concatenate([colour, alpha], axis=-1)
    plain = tmp_path / ("plain.png" if kind.endswith(".png") else "plain.tif")
    if kind.endswith(".png"):
        (tmp_path / kind).write_bytes(imagecodecs.png_encode(stored))
        (plain).write_bytes(imagecodecs.png_encode(colour[..., 0] if kind == "la.png" else colour))
    else:
        tifffile.imwrite(tmp_path / kind, stored, photometric="rgb", extrasamples=[2])
        tifffile.imwrite(plain, colour, photometric="rgb")
    assert main(["upscale", str(tmp_path / kind), str(plain), "--model", str(model),
                 "--out", str(tmp_path / "out")]) == 0
    assert "alpha kept as a mask" in capsys.readouterr().out
    if kind.endswith(".png"):
        out = imagecodecs.png_decode((tmp_path / "out" / kind).read_bytes())
        reference = imagecodecs.png_decode((tmp_path / "out" / plain.name).read_bytes())
    else:
        with tifffile.TiffFile(tmp_path / "out" / kind) as tif:
            assert tuple(tif.pages[0].extrasamples) == (2,)
            out = tif.asarray()
        reference = tifffile.imread(tmp_path / "out" / plain.name)
    assert out.shape == (64, 72, stored.shape[-1])        # the input's channel layout
    np.testing.assert_array_equal(out[..., -1], alpha[..., 0].repeat(4, 0).repeat(4, 1))   # opaque stays 255
    np.testing.assert_array_equal(out[..., :-1].squeeze(), reference)   # the stains as without alpha


@pytest.mark.parametrize("flavour", ["ome", "imagej"])
def test_a_large_field_is_streamed_in_strips_into_a_tiled_tiff_like_the_in_memory_result(model, tmp_path, flavour,
                                                                                        monkeypatch):
    image = cells(300, 90, 3, 40000).astype(np.uint16)[..., 0]
    if flavour == "ome":
        tifffile.imwrite(tmp_path / "field.tif", image, ome=True, compression="zlib",
                         metadata={"axes": "YX", "PhysicalSizeX": 0.4, "PhysicalSizeY": 0.4})
    else:
        tifffile.imwrite(tmp_path / "field.tif", image, imagej=True, resolution=(2.5, 2.5), metadata={"unit": "um"})
    options = ["--model", model, "--tile", "48", "--overlap", "12", "--precision", "fp32", "--consistency-map"]
    assert upscale(tmp_path / "field.tif", "--out", tmp_path / "whole", *options) == 0
    from msrgan.upscale import imagefile
    monkeypatch.setattr(imagefile, "STREAM_BYTES", 1000)        # every output is "large": read mapped, 3 strips
    assert upscale(tmp_path / "field.tif", "--out", tmp_path / "strips", *options) == 0
    whole = tifffile.imread(tmp_path / "whole" / "field.tif")
    with tifffile.TiffFile(tmp_path / "strips" / "field.tif") as tif:
        streamed = tif.asarray()
        if flavour == "ome":    # tiled, with the pixel size
            assert tif.pages[0].is_tiled and tif.is_ome
            assert float(ome_essentials(tif.ome_metadata)["PhysicalSizeX"]) == pytest.approx(0.1)
        else:                   # ImageJ reads no tiles: an ImageJ file written strip by strip, pixel size kept
            assert tif.is_imagej and not tif.pages[0].is_tiled and tif.imagej_metadata["unit"] == "um"
            assert tif.pages[0].get_resolution() == pytest.approx((10.0, 10.0))
    assert streamed.shape == whole.shape == (1200, 360) and streamed.dtype == np.uint16
    # the same prediction up to where the tiles' blends fall: 16-bit PSNR far above any model's error
    diff = streamed.astype(np.float64) - whole
    assert 10 * np.log10(65535**2 / max(np.mean(diff**2), 1e-12)) > 70
    maps = [cv2.imread(str(tmp_path / d / "field.tif.consistency.png")) for d in ("whole", "strips")]
    assert maps[0].shape == maps[1].shape == (300, 90, 3)
    texts = [(tmp_path / d / "field.tif.consistency.txt").read_text() for d in ("whole", "strips")]
    grid = [float(t.split("grid pattern RMS ")[1].split()[0]) for t in texts]
    assert grid[0] > 0 and grid[1] == pytest.approx(grid[0], rel=0.05)   # pooled over all the strips


def test_a_large_grey_field_saved_as_rgb_is_streamed_once_as_grey(model, tmp_path, monkeypatch):
    grey = cells(200, 60, 11, 250).astype(np.uint8)[..., 0]
    tifffile.imwrite(tmp_path / "g.tif", np.dstack([grey] * 3), photometric="rgb")
    options = ["--model", model, "--tile", "48", "--overlap", "12", "--precision", "fp32"]
    assert upscale(tmp_path / "g.tif", "--out", tmp_path / "whole", *options) == 0
    from msrgan.upscale import imagefile
    monkeypatch.setattr(imagefile, "STREAM_BYTES", 1000)
    assert upscale(tmp_path / "g.tif", "--out", tmp_path / "strips", *options) == 0
    whole, streamed = (tifffile.imread(tmp_path / d / "g.tif") for d in ("whole", "strips"))
    assert streamed.shape == whole.shape == (800, 240, 3)
    assert np.array_equal(streamed[..., 0], streamed[..., 1]) and np.array_equal(streamed[..., 0], streamed[..., 2])
    assert np.abs(streamed.astype(int) - whole).max() <= 1


def test_the_consistency_line_reports_a_checkerboard_that_the_map_cannot_see(tmp_path, capsys):
    """A sub-pixel generator whose four phases respond differently (as trained ones do) puts a 4x4 pattern on a flat
    field: the re-downscaled output still matches the input, the grid-pattern figure does not stay at 0."""
    lines = {}
    for upsample in ("shuffle", "resize"):
        torch.manual_seed(0)
        net = Generator(GeneratorConfig(blocks=1, channels=8, norm="none", res_scale=0.2, upsample=upsample))
        torch.nn.init.normal_(net.tail.weight, std=0.02)
        conv = next(m for m in net.upsample if isinstance(m, torch.nn.Conv2d))
        with torch.no_grad():   # what training does to a sub-pixel conv: its four phases drift apart
            conv.weight.add_(torch.randn_like(conv.weight) * 0.2)
        save_generator(tmp_path / f"{upsample}.pt", net)
        cv2.imwrite(str(tmp_path / "flat.png"), np.full((80, 80), 140, np.uint8))
        assert main(["upscale", str(tmp_path / "flat.png"), "--model", str(tmp_path / f"{upsample}.pt"),
                     "--out", str(tmp_path / upsample), "--consistency-map", "--precision", "fp32"]) == 0
        lines[upsample] = (tmp_path / upsample / "flat.png.consistency.txt").read_text()
    level = {k: float(v.split("grid pattern RMS ")[1].split()[0]) for k, v in lines.items()}
    assert level["shuffle"] > 1 / 255 and level["resize"] < 0.1 / 255, lines   # 8-bit levels: > 1 and < 0.1


def test_the_remaining_options_and_their_one_line_refusals(model, tmp_path, capsys):
    image = cells(40, 44, 9, 250, 3).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "a.png"), image)
    # --batch 4 and --tile/--overlap give the same image as one tile at a time (fp32: no rounding differences)
    for batch, out in (("1", "one"), ("4", "four")):
        assert upscale(tmp_path / "a.png", "--model", model, "--out", tmp_path / out, "--tile", "16", "--overlap",
                       "4", "--batch", batch, "--precision", "fp32") == 0
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "one" / "a.png")),
                                  cv2.imread(str(tmp_path / "four" / "a.png")))
    # --consistency-threshold sets the bar of the map's line
    assert upscale(tmp_path / "a.png", "--model", model, "--out", tmp_path / "c", "--consistency-map",
                   "--consistency-threshold", "0.2") == 0
    assert "off by more than 0.2 of the intensity range" in (tmp_path / "c" / "a.png.consistency.txt").read_text()
    capsys.readouterr()
    for options, message in ((["--batch", "-1"], "--batch: must be positive"),
                             (["--tile", "8"], "--tile: at least 16 input pixels"),
                             (["--overlap", "20", "--tile", "32"], "--overlap: between 0 and a third of --tile"),
                             (["--consistency-threshold", "1.5"], "--consistency-threshold: between 0 and 1"),
                             (["--channels", "0,1"], "--channels: expected auto, single")):
        assert upscale(tmp_path / "a.png", "--model", model, "--out", tmp_path / "x", *options) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], (options, err)


def test_collisions_are_one_line_each_and_the_rest_still_runs(model, tmp_path, capsys):
    image = cells(20, 22, 10, 250, 3).astype(np.uint8)
    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
        cv2.imwrite(str(tmp_path / folder / "same.png"), image)
    (tmp_path / "empty").mkdir()
    status = main(["upscale", str(tmp_path / "x" / "same.png"), str(tmp_path / "y" / "same.png"),
                   str(tmp_path / "empty"), "--model", str(model), "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert status == 1
    assert "the output would overwrite the input (choose another --out)" in err        # x/same.png -> x/same.png
    assert "would overwrite another input of this call" in err                         # y/same.png -> x/same.png
    assert "empty: no images (TIFF, PNG, JPEG) in this folder" in err
    assert "upscaled 0 of 3 input(s)" in err
    assert np.array_equal(cv2.imread(str(tmp_path / "x" / "same.png")), image)          # the input is untouched
    status = main(["upscale", str(tmp_path / "x" / "same.png"), str(tmp_path / "y" / "same.png"),
                   "--model", str(model), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 1 and f"its output {tmp_path / 'out' / 'same.png'} is already the output of" in err


def test_compile_gives_the_eager_output_and_falls_back_when_compiling_fails(model, tmp_path, capsys, monkeypatch):
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), cells(40, 36, seed=1, peak=255, channels=3).astype(np.uint8))
    assert upscale(image, "--model", model, "--out", tmp_path / "eager", "--precision", "fp32") == 0
    assert upscale(image, "--model", model, "--out", tmp_path / "compiled", "--precision", "fp32", "--compile") == 0
    eager, compiled = (cv2.imread(str(tmp_path / d / "a.png")).astype(int) for d in ("eager", "compiled"))
    assert np.abs(eager - compiled).max() <= 1   # fp32 rounding of fused kernels, at most one 8-bit level

    def broken(net, **kwargs):   # what a machine without a C++ compiler gets at the first call
        def fail(x):
            raise RuntimeError("no compiler")
        return fail
    monkeypatch.setattr(torch, "compile", broken)
    capsys.readouterr()
    assert upscale(image, "--model", model, "--out", tmp_path / "fallback", "--precision", "fp32", "--compile") == 0
    assert "torch.compile failed" in capsys.readouterr().err
    assert np.array_equal(cv2.imread(str(tmp_path / "fallback" / "a.png")).astype(int), eager)


def test_a_field_far_larger_than_the_training_fields_gets_a_domain_note(tmp_path, capsys):
    """A generator trained in paper mode records its domain; a field far larger than its LR side is named as
    outside it (a note, not an error); a field of that size is not."""
    torch.manual_seed(0)
    net = Generator(GeneratorConfig(blocks=1, channels=8, norm="none", res_scale=0.2, upsample="resize"))
    save_generator(tmp_path / "paper.pt", net, domain={"mode": "resize", "hr_size": 96, "scale": 4,
                                                       "degradation": "bicubic"})
    for side in (24, 200):
        cv2.imwrite(str(tmp_path / f"f{side}.png"), cells(side, side, seed=side, peak=255, channels=3).astype(np.uint8))
    assert main(["upscale", str(tmp_path / "f24.png"), str(tmp_path / "f200.png"), "--model",
                 str(tmp_path / "paper.pt"), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    small, large = out.split("f200.png ->")
    assert "training domain" not in small
    assert "note: this generator learned whole fields shrunk to 96 px (LR 24 px); a 200x200 field" in large


def test_an_input_whose_pixel_size_is_far_from_the_training_lrs_gets_a_note(tmp_path, capsys):
    """The generator learned 0.1 µm HR pixels at x4, so 0.4 µm LR pixels: a 1 µm input (2.5x) gets one note naming
    the file, both sizes and the resampling; a 0.5 µm one (within 2x), a file without a size and a generator
    without one get none."""
    torch.manual_seed(0)
    net = Generator(GeneratorConfig(blocks=1, channels=8, norm="none", res_scale=0.2, upsample="resize"))
    domain = {"mode": "tiles", "hr_size": 96, "scale": 4, "degradation": "bicubic"}
    save_generator(tmp_path / "sized.pt", net, domain={**domain, "pixel_size_um": [0.1, 0.1]})
    save_generator(tmp_path / "unsized.pt", net, domain=domain)
    image = cells(24, 24, seed=3, peak=40000).astype(np.uint16)[..., 0]
    for name, size in (("coarse", 1.0), ("close", 0.5)):
        tifffile.imwrite(tmp_path / f"{name}.ome.tif", image, ome=True,
                         metadata={"PhysicalSizeX": size, "PhysicalSizeY": size})
    tifffile.imwrite(tmp_path / "plain.tif", image)
    inputs = [str(tmp_path / f) for f in ("coarse.ome.tif", "close.ome.tif", "plain.tif")]
    assert main(["upscale", *inputs, "--model", str(tmp_path / "sized.pt"), "--out", str(tmp_path / "out")]) == 0
    notes = [line for line in capsys.readouterr().out.splitlines() if "note:" in line]
    assert notes == [f"  note: {inputs[0]} has 1 µm pixels, the generator learned from 0.4 µm LR pixels: its cells "
                     "are 2.5x smaller in pixels than in training, outside its training domain; resample it to "
                     "~0.4 µm/px first (enlarge it 2.5x) for an output like the training data's"]
    assert main(["upscale", inputs[0], "--model", str(tmp_path / "unsized.pt"), "--out", str(tmp_path / "o2")]) == 0
    assert "note:" not in capsys.readouterr().out


def test_the_consistency_map_downscales_the_way_the_generator_was_trained(tmp_path, monkeypatch):
    import msrgan.upscale.upscaler as upscaler_module
    domain = {"mode": "tiles", "hr_size": 96, "scale": 4, "degradation": "microscope",
              "microscope": {"psf_sigma": 1.0, "photons": 200.0, "read_noise": 2.0}}
    net = Generator(GeneratorConfig(blocks=1, channels=8, norm="none", res_scale=0.2, upsample="resize"))
    save_generator(tmp_path / "native.pt", net, domain=domain)
    seen = []
    original = upscaler_module.redownscale_error
    monkeypatch.setattr(upscaler_module, "redownscale_error",
                        lambda sr, lr, d=None: seen.append(d) or original(sr, lr, d))
    cv2.imwrite(str(tmp_path / "a.png"), cells(40, 40, seed=2, peak=255, channels=3).astype(np.uint8))
    assert upscale(tmp_path / "a.png", "--model", tmp_path / "native.pt", "--out", tmp_path / "o",
                   "--consistency-map") == 0
    assert seen == [domain]
