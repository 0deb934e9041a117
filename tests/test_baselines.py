"""The baseline generators (SRCNN, CARE, RCAN, DFCAN, RRDB; issue 21): shapes and scale, seeded determinism, the
generator file's `arch` round trip (old files without it load as SRResNet), `msrgan upscale` with each baseline's
file (8- and 16-bit, tiled == whole within the blending tolerance), `msrgan export` of one, and a few training steps
that reduce the loss. Tiny configs, 24x24 LR."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
import torch
import torch.nn.functional as F
import yaml

from msrgan.cli import main
from msrgan.codebase import import_closure
from msrgan.imageio import read_image
from msrgan.errors import UserError
from msrgan.models.architectures import ARCHITECTURES, build_generator, load_any_generator
from msrgan.models.generator import Generator, GeneratorConfig
from msrgan.models.generatorfile import load_generator, save_generator
from msrgan.upscale.intensity import intensity_window
from msrgan.upscale.tiling import predict_tiled
from tests.test_upscale import cells
from tests.train_data import make_processed

TINY = {"srcnn": {"features": 8, "mapping": 4},
        "care": {"features": 8},
        "rcan": {"groups": 1, "blocks": 1, "channels": 8, "reduction": 4},
        "dfcan": {"groups": 1, "blocks": 1, "channels": 8, "reduction": 4},
        "rrdb": {"blocks": 1, "channels": 8, "growth": 4}}
BASELINES = list(TINY)
GLOBAL_ATTENTION = {"rcan", "dfcan"}   # channel attention averaged over the whole input (tile)
ROOT = Path(__file__).resolve().parents[1]


def network(arch: str, seed: int = 0, **config) -> torch.nn.Module:
    """The tiny `arch` network, seeded, with its zero-initialised last convolution given small random weights: a
    real correction on top of bicubic that reaches the whole receptive field, not bicubic alone."""
    torch.manual_seed(seed)
    net = build_generator(arch, {**TINY[arch], **config})
    for p in net.parameters():
        if not p.any():
            torch.nn.init.normal_(p, std=0.01)
    return net.eval()


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict:
    """One generator file per baseline, recording the 0.1-99.9 percentile window as the pipeline's do."""
    root = tmp_path_factory.mktemp("baselines")
    paths = {}
    for arch in BASELINES:
        paths[arch] = root / f"{arch}.pt"
        save_generator(paths[arch], network(arch), percentiles=[0.1, 99.9])
    return paths


def test_every_baseline_is_in_the_architecture_table_under_its_own_name():
    assert set(ARCHITECTURES) == {"srresnet", *BASELINES}
    assert all(build_generator(name, TINY.get(name, {})).arch == name for name in ARCHITECTURES)


def test_the_default_sizes_have_the_readmes_parameter_counts_and_radii():
    """README, Baseline generators: the table's parameters and receptive radii at the default configs."""
    table = {"srcnn": (69_251, 4), "care": (83_699, 9), "rcan": (253_795, 22), "dfcan": (261_875, 11),
             "rrdb": (398_755, 34)}
    for arch, (parameters, radius) in table.items():
        net = build_generator(arch, {})
        assert (sum(p.numel() for p in net.parameters()), net.receptive_radius) == (parameters, radius), arch
        assert net(torch.rand(1, 3, 24, 24)).shape == (1, 3, 96, 96)


@pytest.mark.parametrize("arch", BASELINES)
@pytest.mark.parametrize("scale", [4, 2])
def test_shape_and_scale_and_a_fresh_network_is_bicubic(arch, scale):
    torch.manual_seed(0)
    fresh = build_generator(arch, {**TINY[arch], "scale": scale}).eval()
    assert fresh.arch == arch and fresh.config.scale == scale and fresh.config.in_channels == 3
    lr = torch.rand(2, 3, 24, 21)
    with torch.no_grad():
        out = fresh(lr)
        assert out.shape == (2, 3, 24 * scale, 21 * scale)
        # the last convolution starts at zero: the network starts as the bicubic it predicts a residual over
        bicubic = F.interpolate(lr, scale_factor=scale, mode="bicubic", align_corners=False)
        torch.testing.assert_close(out, bicubic, rtol=0, atol=0)
        assert network(arch, scale=scale)(lr).shape == out.shape


@pytest.mark.parametrize("arch", BASELINES)
def test_a_seeded_forward_is_deterministic(arch):
    lr = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        first, again, other = network(arch)(lr), network(arch)(lr), network(arch, seed=1)(lr)
    assert torch.equal(first, again) and not torch.equal(first, other)


@pytest.mark.parametrize("arch", BASELINES)
def test_the_generator_file_records_the_architecture(arch, files):
    blob = torch.load(files[arch], weights_only=True)
    assert blob["arch"] == arch and blob["config"]["scale"] == 4
    loaded, meta = load_any_generator(files[arch])
    assert loaded.arch == arch and loaded.config == network(arch).config and meta["percentiles"] == [0.1, 99.9]
    lr = torch.rand(1, 3, 24, 24)
    with torch.no_grad():
        assert torch.equal(loaded(lr), network(arch)(lr))


def test_a_file_without_arch_loads_as_the_srresnet_and_an_unknown_arch_is_refused(tmp_path, capsys):
    net = Generator(GeneratorConfig(blocks=1, channels=8, norm="none", res_scale=0.2)).eval()
    save_generator(tmp_path / "new.pt", net)
    blob = torch.load(tmp_path / "new.pt", weights_only=True)
    assert blob["arch"] == "srresnet"
    del blob["arch"]                                  # as every file written before the field existed
    torch.save(blob, tmp_path / "old.pt")
    lr = torch.rand(1, 3, 24, 24)
    for load in (load_generator, load_any_generator):
        old, _ = load(tmp_path / "old.pt")
        with torch.no_grad():
            assert type(old) is Generator and torch.equal(old(lr), net(lr))
    torch.save({**blob, "arch": "swinir"}, tmp_path / "unknown.pt")
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), np.zeros((24, 24, 3), np.uint8))
    assert main(["upscale", str(image), "--model", str(tmp_path / "unknown.pt"), "--out", str(tmp_path / "o"),
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "damaged generator file" in err and "unknown generator architecture 'swinir'" in err, err


def test_the_srresnet_stages_reader_refuses_a_baseline_and_imports_none(files):
    """train_srgan reads srresnet.pt with generatorfile.load_generator: a baseline's file there is one line, and
    neither SRResNet stage imports a baseline's code (a change to it reruns evaluate and export, not the training)."""
    with pytest.raises(UserError, match="holds a 'rcan' generator, not an SRResNet"):
        load_generator(files["rcan"])
    for stage in ("train_srresnet", "train_srgan"):
        assert not {f"msrgan/models/{a}.py" for a in BASELINES} & import_closure(f"stages/{stage}.py")
    assert {f"msrgan/models/{a}.py" for a in BASELINES} <= import_closure("stages/export.py")


@pytest.mark.parametrize("arch", [a for a in BASELINES if a not in GLOBAL_ATTENTION] + ["srresnet"])
def test_the_receptive_radius_bounds_what_an_output_pixel_sees(arch):
    """The gradient of one output pixel reaches no LR pixel farther than `receptive_radius` (a bound, not loose by
    more than two pixels). Networks with global channel attention see the whole input and are not tested here."""
    if arch == "srresnet":
        torch.manual_seed(0)
        net = Generator(GeneratorConfig(blocks=1, channels=8, norm="none", upsample="resize")).eval()
        torch.nn.init.normal_(net.tail.weight, std=0.01)
    else:
        net = network(arch)
    lr = torch.rand(1, 3, 64, 64, requires_grad=True)
    net(lr)[0, :, 4 * 32 + 1, 4 * 32 + 2].sum().backward()
    ys, xs = np.nonzero(lr.grad[0].abs().sum(0).numpy())
    reach = max(np.abs(ys - 32).max(), np.abs(xs - 32).max())
    assert net.receptive_radius - 2 <= reach <= net.receptive_radius, (reach, net.receptive_radius)


@pytest.mark.parametrize("arch", BASELINES)
def test_tiled_prediction_with_the_radius_as_overlap_is_the_whole_field_prediction(arch):
    """Tiles overlapping by the receptive radius give the untiled prediction: to float rounding for CARE and RRDB
    (their outer reach counts little), under half an 8-bit level for SRCNN (its reach is short and every pixel of it
    counts) and for the channel-attention networks (their attention averages over each tile); a third of the radius
    is clearly worse."""
    net = network(arch)
    image = F.avg_pool2d(torch.rand(1, 3, 90, 80, generator=torch.Generator().manual_seed(2)), 5, 1, 2)
    radius = net.receptive_radius
    with torch.no_grad():
        whole = net(image).numpy()
        errors = {overlap: np.abs(predict_tiled(net, image.numpy(), 4, tile=max(3 * radius, 16), overlap=overlap)
                                  - whole).max() * 255 for overlap in (radius // 3, radius)}
    tolerance = 0.1 if arch in ("care", "rrdb") else 0.5
    assert errors[radius] < tolerance and errors[radius // 3] > 2 * errors[radius], errors


@pytest.mark.parametrize("arch", BASELINES)
def test_msrgan_upscale_with_each_baselines_file(arch, files, tmp_path):
    """8-bit RGB PNG and 16-bit single-channel TIFF, 24x24, under bf16 autocast: 96x96 of the input's dtype; and a
    16-bit field tiled (the default overlap: the file's network's receptive radius) gives the whole-field output
    within the blending tolerance above, in the field's window units."""
    rgb = cells(24, 24, 1, 255, channels=3).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "rgb.png"), rgb[..., ::-1])
    grey = np.rint(cells(24, 24, 0, 40000)).astype(np.uint16)[..., 0]
    tifffile.imwrite(tmp_path / "grey.tif", grey)
    assert main(["upscale", str(tmp_path / "rgb.png"), str(tmp_path / "grey.tif"), "--model", str(files[arch]),
                 "--out", str(tmp_path / "out"), "--precision", "bf16", "--quiet"]) == 0
    out = read_image(tmp_path / "out" / "rgb.png")
    assert out.shape == (96, 96, 3) and out.dtype == np.uint8
    assert np.corrcoef(cv2.resize(out, (24, 24), interpolation=cv2.INTER_AREA).ravel(), rgb.ravel())[0, 1] > 0.9
    out = tifffile.imread(tmp_path / "out" / "grey.tif")
    assert out.shape == (96, 96) and out.dtype == np.uint16

    field = np.rint(cells(64, 72, 5, 40000, channels=3)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "field.tif", field)
    tile = max(3 * load_any_generator(files[arch])[0].receptive_radius, 16)
    for name, size in (("tiled", tile), ("whole", 256)):
        assert main(["upscale", str(tmp_path / "field.tif"), "--model", str(files[arch]), "--out",
                     str(tmp_path / name), "--tile", str(size), "--precision", "fp32", "--quiet"]) == 0
    tiled, whole = (tifffile.imread(tmp_path / name / "field.tif").astype(np.float64) for name in ("tiled", "whole"))
    window = intensity_window(field[None], load_any_generator(files[arch])[1])
    error = np.abs(tiled - whole) / (window.hi - window.lo)
    assert tiled.shape == (256, 288, 3) and error.max() * 255 < 0.5 + 255 * 0.5 / (window.hi - window.lo).min()


def test_python_m_msrgan_upscale_with_a_baselines_file(files, tmp_path):
    """The command as a user types it, with the RCAN's file."""
    cv2.imwrite(str(tmp_path / "a.png"), cells(24, 24, 2, 255, channels=3).astype(np.uint8))
    result = subprocess.run([sys.executable, "-m", "msrgan", "upscale", str(tmp_path / "a.png"), "--model",
                             str(files["rcan"]), "--out", str(tmp_path / "out")], capture_output=True, text=True,
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert read_image(tmp_path / "out" / "a.png").shape == (96, 96, 3)


def test_msrgan_export_writes_a_package_for_a_baseline(files, tmp_path):
    """DFCAN, the most unusual network (an FFT in every block): a package whose architecture source is dfcan.py,
    which bioimageio.core's own model test passes (both weight formats, TorchScript traced through the FFT)."""
    sample = tmp_path / "field.tif"
    tifffile.imwrite(sample, np.rint(cells(120, 120, seed=3, peak=40000, channels=3)).astype(np.uint16))
    out = tmp_path / "dfcan.zip"
    assert main(["export", str(files["dfcan"]), "--out", str(out), "--sample", str(sample),
                 "--processed", str(tmp_path / "none"), "--metrics", str(tmp_path / "none.json")]) == 0
    package = zipfile.ZipFile(out)
    rdf = yaml.safe_load(package.read("rdf.yaml"))
    architecture = rdf["weights"]["pytorch_state_dict"]["architecture"]
    assert architecture["source"] == "dfcan.py" and architecture["kwargs"] == {**TINY["dfcan"], "scale": 4,
                                                                                 "in_channels": 3}
    assert set(rdf["weights"]) == {"pytorch_state_dict", "torchscript"}
    assert rdf["config"]["bioimageio"]["architecture_type"] == "DFCAN" and rdf["name"].startswith("DFCAN")
    radius = load_any_generator(files["dfcan"])[0].receptive_radius
    assert rdf["outputs"][0]["axes"][2]["halo"] == 4 * radius
    readme = package.read("README.md").decode()
    assert "Fourier channel-attention" in readme and "channel attention averages over the whole input" in readme


@pytest.mark.parametrize("arch", BASELINES)
def test_a_few_training_steps_reduce_the_loss(arch, tmp_path):
    """Adam on 12 tiny tiles (24x24 LR, tests/train_data.py), MSE: 20 steps from the fresh network (bicubic) move
    every weight and lower the loss on those tiles (bicubic is already close on these smooth tiles, and the networks
    are tiny: a small but steady gain, 0.3-4% here)."""
    processed = make_processed(tmp_path, counts=(12, 0, 0), hr=96)
    ids = sorted(p.stem for p in (processed / "train" / "hr").iterdir())
    lr, hr = (torch.stack([torch.from_numpy(read_image(processed / "train" / kind / f"{i}.png")).permute(2, 0, 1)
                           .float() / 255 for i in ids]) for kind in ("lr", "hr"))
    torch.manual_seed(0)
    net = build_generator(arch, TINY[arch])
    start = [p.detach().clone() for p in net.parameters()]
    optimiser = torch.optim.Adam(net.parameters(), lr=2e-3)
    with torch.no_grad():
        before = F.mse_loss(net(lr), hr).item()
    for _ in range(20):
        optimiser.zero_grad()
        F.mse_loss(net(lr), hr).backward()
        optimiser.step()
    with torch.no_grad():
        after = F.mse_loss(net(lr), hr).item()
    assert all(not torch.equal(p, p0) for p, p0 in zip(net.parameters(), start))   # the gradient reaches every layer
    assert after < 0.999 * before, (before, after)
