"""`msrgan export`: a tiny trained generator as a BioImage.IO package that bioimageio.core's own model test passes,
whose prediction matches `msrgan upscale`, whose halo makes blockwise prediction seamless, and whose bad inputs are
refused in one line with nothing written."""
from __future__ import annotations

import csv
import zipfile

import cv2
import numpy as np
import pytest
import tifffile
import torch
import yaml

from msrgan.cli import main
from msrgan.export.package import export, min_input, predict
from msrgan.export.sample import pipeline_field
from msrgan.models.generator import Generator, GeneratorConfig, receptive_radius
from msrgan.models.generatorfile import load_generator, save_generator
from msrgan.params import parse_section
from msrgan.train.srresnet import train_srresnet
from msrgan.upscale.intensity import intensity_window
from tests.test_upscale import cells
from tests.train_data import make_processed

SRRESNET = {"iterations": 6, "batch_size": 4, "val_every": 3, "checkpoint_every": 2, "log_every": 2,
            "device": "cpu", "precision": "fp32", "blocks": 1, "channels": 8}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(generator file trained by the real SRResNet stage for a few steps, the processed data it was trained on)."""
    base = tmp_path_factory.mktemp("export")
    processed = make_processed(base / "processed")
    train_srresnet(parse_section("train_srresnet", SRRESNET), 1, processed=processed, models=base / "models",
                   metrics=base / "metrics", checkpoints=base / "ckpt")
    return base / "models" / "srresnet.pt", processed


@pytest.fixture(scope="module")
def field16(tmp_path_factory):
    """A 16-bit 3-channel field (microtubules, protein, nucleus) as a user's TIFF."""
    path = tmp_path_factory.mktemp("field") / "field.tif"
    tifffile.imwrite(path, np.rint(cells(200, 200, seed=3, peak=40000, channels=3)).astype(np.uint16))
    return path


@pytest.fixture(scope="module")
def package(trained, field16, tmp_path_factory):
    out = tmp_path_factory.mktemp("package") / "model.zip"
    assert main(["export", str(trained[0]), "--out", str(out), "--sample", str(field16),
                 "--processed", str(trained[1]), "--metrics", str(trained[1] / "none.json")]) == 0
    return out


def description(path):
    from bioimageio.spec import load_description
    return load_description(str(path))


def test_the_package_passes_bioimageio_cores_own_model_test(package, trained):
    from bioimageio.core import test_description
    summary = test_description(str(package), runtime_env="currently-active")
    assert summary.status == "passed", summary.format()
    names = {d.name for d in summary.details}
    assert any("pytorch_state_dict" in n for n in names) and any("torchscript" in n for n in names), names
    rdf = yaml.safe_load(zipfile.ZipFile(package).read("rdf.yaml"))
    assert set(rdf["weights"]) == {"pytorch_state_dict", "torchscript"}
    assert rdf["weights"]["pytorch_state_dict"]["architecture"]["kwargs"]["norm"] == "none"   # BatchNorm folded
    inp, out = rdf["inputs"][0], rdf["outputs"][0]
    assert inp["axes"][1]["channel_names"] == ["microtubules", "protein", "nucleus"]
    generator, _ = load_generator(trained[0])
    radius = receptive_radius(generator.config)
    assert inp["axes"][2]["size"] == {"min": 2 * radius + 1, "step": 1}   # any field from the halo up
    assert out["axes"][2]["halo"] == 4 * radius and out["axes"][2]["scale"] == 0.25
    assert out["axes"][2]["size"] == {"tensor_id": "input", "axis_id": "y"}
    test_input = np.load(zipfile.ZipFile(package).open("test_input.npy"))
    assert test_input.shape == (1, 3, min_input(radius), min_input(radius))
    assert test_input.max() > 255 and np.array_equal(test_input, np.rint(test_input))   # the 16-bit field's values
    readme = zipfile.ZipFile(package).read("README.md").decode()
    assert "window units" in readme and "Not evaluated" in readme


def test_a_16bit_field_gives_the_numbers_of_msrgan_upscale(package, trained, tmp_path):
    """The package's output, in the field's window units, equals `msrgan upscale`'s output mapped into them
    (rounding to 16 bit aside), except where `msrgan upscale` restores the 0.1% tails the window clips."""
    lr = np.rint(cells(64, 72, seed=5, peak=50000, channels=3)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "lr.tif", lr)
    assert main(["upscale", str(tmp_path / "lr.tif"), "--model", str(trained[0]), "--out", str(tmp_path / "up"),
                 "--precision", "fp32", "--quiet"]) == 0
    ours = tifffile.imread(tmp_path / "up" / "lr.tif").astype(np.float64)
    window = intensity_window(lr[None], load_generator(trained[0])[1])   # the percentiles the file records
    unit = np.clip((ours - window.lo) / (window.hi - window.lo), 0, 1)
    pkg = predict(description(package), lr.transpose(2, 0, 1)[None].astype(np.float32))[0].transpose(1, 2, 0)
    lo, hi, values = window.lo.astype(np.float32), window.hi.astype(np.float32), lr.astype(np.float32)
    excess = values - np.clip(values, lo, hi)   # what the window clips, in float32 as msrgan upscale computes it
    restored = cv2.resize(excess, (pkg.shape[1], pkg.shape[0]), interpolation=cv2.INTER_CUBIC) != 0
    assert restored.mean() < 0.25   # this tiny file records a 1-99 window: 2% of LR pixels clipped
    rounding = 0.5 / (window.hi - window.lo)          # per channel
    error = np.abs(pkg - unit) - rounding
    assert error[~restored].max() < 1e-4


def test_the_halo_makes_blockwise_prediction_equal_whole_image_prediction(field16, tmp_path, monkeypatch):
    """bioimageio.core predicting in blocks (each with the halo's context) gives the whole-field result; only the
    field's own border, which core pads by reflection and the whole-field network by zeros, may differ. With a
    third of the halo the blocks' seams show: the test can fail."""
    from bioimageio.core import predict as core_predict
    # a correction that reaches the whole receptive field: a few training steps leave a generator so close to
    # bicubic (2 pixels' reach) that any halo would pass
    torch.manual_seed(0)
    net = Generator(GeneratorConfig(blocks=2, channels=8, norm="none", res_scale=0.2, upsample="resize"))
    torch.nn.init.normal_(net.tail.weight, std=0.02)
    save_generator(tmp_path / "net.pt", net)
    radius = receptive_radius(net.config)
    field = tifffile.imread(field16)
    lr = np.rint(cells(208, 200, seed=7, peak=3000, channels=3)).astype(np.float32).transpose(2, 0, 1)[None]
    inner = (slice(None), slice(None), slice(4 * radius, -4 * radius), slice(4 * radius, -4 * radius))
    seams = {}
    for halo in (radius, radius // 3):
        monkeypatch.setattr(Generator, "receptive_radius", property(lambda self, halo=halo: halo))
        descr = description(export(tmp_path / "net.pt", tmp_path / f"{halo}.zip", field, "f", {}, "d.", ["A"], "MIT"))
        whole = predict(descr, lr)
        blocks = core_predict(model=descr, inputs={"input": lr},
                              input_block_shape={"input": {"y": 64, "x": 64}}).members["output"].data
        assert whole.shape == blocks.shape == (1, 3, 4 * 208, 4 * 200)
        seams[halo] = np.abs(whole - np.asarray(blocks))[inner].max()
    assert seams[radius] < 1e-4 and seams[radius // 3] > 1e-3, seams


def test_the_pipelines_test_field_and_a_folder_package(trained, tmp_path):
    """Without --sample the test tensors come from the first test-split FOV's raw stains, in merge's RGB order."""
    generator_file, processed = trained
    raw = tmp_path / "raw"
    (raw / "images").mkdir(parents=True)
    with open(processed / "index.csv", newline="") as f:
        fov = next(row["fov"] for row in csv.DictReader(f) if row["split"] == "test")
    stains = {colour: np.rint(cells(120, 120, seed=i, peak=20000 + 10000 * i)).astype(np.uint16)[..., 0]
              for i, colour in enumerate(("red", "green", "blue"))}
    for colour, stain in stains.items():
        tifffile.imwrite(raw / "images" / f"{fov}_{colour}.tif", stain)
    (raw / "labels.csv").write_text(f"id,labels\n{fov},0\n")
    field, source = pipeline_field(raw, processed)
    assert field.dtype == np.uint16 and np.array_equal(field[..., 2], stains["blue"]) and fov in source
    out = export(generator_file, tmp_path / "folder", field, source, {}, "tiny data.", ["Tester"], "MIT")
    assert (out / "rdf.yaml").is_file() and (out / "weights.torchscript.pt").is_file()
    assert fov in (out / "README.md").read_text()


CASES = ["foreign", "damaged", "missing weights", "unknown config key", "nan weights", "exists", "not a package",
         "working folder", "unwritable", "licence", "author", "2 channels", "tiny sample", "metrics"]


@pytest.mark.parametrize("case", CASES)
def test_bad_inputs_get_one_line_and_nothing_is_written(case, trained, field16, tmp_path, capsys, monkeypatch):
    model, out = trained[0], tmp_path / "out" / "new" / "model.zip"   # "new": must not be created on failure
    (tmp_path / "out").mkdir()
    sample, extra = field16, []
    blob = torch.load(trained[0], weights_only=True)
    if case == "foreign":
        model = tmp_path / "foreign.pt"
        torch.save({"state_dict": {}}, model)
    elif case == "damaged":
        model = tmp_path / "damaged.pt"
        model.write_bytes(trained[0].read_bytes()[:1000])
    elif case in ("missing weights", "unknown config key", "nan weights"):
        if case == "missing weights":
            blob["state_dict"].pop(next(iter(blob["state_dict"])))
        elif case == "unknown config key":
            blob["config"]["colour"] = "red"
        else:
            blob["state_dict"] = {k: torch.full_like(v, float("nan")) for k, v in blob["state_dict"].items()}
        model = tmp_path / "edited.pt"
        torch.save(blob, model)
    elif case == "exists":
        out = tmp_path / "out" / "model.zip"
        out.write_text("mine")
    elif case == "not a package":
        out = tmp_path / "out" / "folder"
        out.mkdir()
        (out / "mine.txt").write_text("mine")
        extra = ["--force"]
    elif case == "working folder":
        out = tmp_path / "out"
        (out / "mine.txt").write_text("mine")
        (out / "rdf.yaml").write_text("")
        monkeypatch.chdir(out)
        extra = ["--force"]
    elif case == "unwritable":
        (tmp_path / "out" / "afile").write_text("")
        out = tmp_path / "out" / "afile" / "model.zip"
    elif case == "licence":
        extra = ["--license", "Apache 2"]
    elif case == "author":
        extra = ["--author", "A/B"]
    elif case == "2 channels":
        sample = tmp_path / "two.tif"
        tifffile.imwrite(sample, np.zeros((2, 200, 200), np.uint16), metadata={"axes": "CYX"})
    elif case == "tiny sample":
        sample = tmp_path / "tiny.tif"
        tifffile.imwrite(sample, np.zeros((20, 20, 3), np.uint16))
    else:
        (tmp_path / "bad.json").write_text('{"msrgan": {"psnr": "x"}}')
        extra = ["--metrics", str(tmp_path / "bad.json")]
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    code = main(["export", str(model), "--out", str(out), "--sample", str(sample), *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: ") and len(err.splitlines()) == 1, err
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before   # nothing written or removed


def test_the_documentation_says_how_the_training_lr_was_made():
    from msrgan.export.documentation import degradation
    micro = {"domain": {"scale": 4, "degradation": "microscope",
                        "microscope": {"psf_sigma": 1.5, "photons": 200.0, "read_noise": 2.0}}}
    assert "1.5 HR px, 4x4 binning, 200 photons" in degradation(micro)
    assert "bicubic decimation" in degradation({"domain": {"degradation": "bicubic"}})
    assert "not recorded" in degradation({})


def test_the_documentation_says_whole_shrunk_fields_or_native_crops(tmp_path):
    from msrgan.export.documentation import training_domain
    from msrgan.imageio import write_png
    write_png(tmp_path / "train" / "hr" / "f1.png", np.zeros((64, 80, 3), np.uint8))
    (tmp_path / "index.csv").write_text("id,split,labels,fov,nuclei_mask,cell_mask\nf1,train,0,f1,,\n")
    assert training_domain(tmp_path) == "1 training images, whole fields shrunk to 80 x 64 px (HR)."
    (tmp_path / "domain.json").write_text('{"mode": "tiles", "hr_size": 32, "scale": 4}')
    assert training_domain(tmp_path) == ("1 training fields at native resolution (80 x 64 px HR), trained on random "
                                         "crops of them (32 x 32 px, the tile size, unless the trainer set another "
                                         "crop).")
