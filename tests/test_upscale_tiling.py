"""Tiled prediction: tile layout, blending weights, tiled == untiled away from the borders, no seams, bf16 cost."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from msrgan.models.generator import Generator, GeneratorConfig
from msrgan.runtime import Runtime
from msrgan.upscale.channels import mixing, parse_channels, plan_passes
from msrgan.upscale.inference import fold_batchnorm, predictor
from msrgan.upscale.intensity import from_unit, intensity_window, to_unit
from msrgan.upscale.tiling import axis_starts, axis_window, predict_tiled, ramp

FP32 = Runtime(torch.device("cpu"), None, True)
BF16 = Runtime(torch.device("cpu"), torch.bfloat16, True)


@pytest.fixture(scope="module")
def generator() -> Generator:
    torch.manual_seed(0)
    model = Generator(GeneratorConfig(blocks=2, channels=8))
    torch.nn.init.normal_(model.tail.weight, std=0.05)  # a real correction on top of bicubic, not bicubic alone
    for m in model.modules():  # non-trivial BatchNorm statistics, so folding them is tested
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return model.eval()


def textured(height: int, width: int, seed: int = 0, sigma: float = 1.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.random((height, width, 3), dtype=np.float32), (0, 0), sigma)
    img = (img - img.min()) / (img.max() - img.min())
    return np.ascontiguousarray(img.transpose(2, 0, 1))[None]


@pytest.mark.parametrize("length,tile,overlap", [(512, 128, 24), (1024, 128, 24), (131, 48, 16), (49, 48, 16),
                                                 (300, 100, 33), (37, 128, 24)])
def test_tiles_cover_the_axis_with_the_overlap(length, tile, overlap):
    starts, size = axis_starts(length, tile, overlap)
    assert size <= min(tile, length) and starts[0] == 0 and starts[-1] + size == length
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert all(size - g >= overlap for g in gaps)                 # neighbours overlap enough
    assert len(starts) == 1 or max(gaps) - min(gaps) <= 1        # evenly spread


def test_ramps_form_a_partition_of_unity():
    r = ramp(64)
    assert r[0] == 0 and r[-1] == 1 and np.all(np.diff(r) >= 0)
    np.testing.assert_allclose(r + r[::-1], 1, atol=1e-6)
    # a tile's window is 1 on the image border and fades towards neighbours
    w = axis_window(0, 100, 300, 16)
    assert w[0] == 1 and w[-1] == 0


def test_folding_batchnorm_keeps_the_function(generator):
    x = torch.from_numpy(textured(20, 24))
    with torch.no_grad():
        np.testing.assert_allclose(fold_batchnorm(generator)(x).numpy(), generator(x).numpy(), atol=1e-5)


def test_tiled_equals_untiled_away_from_the_borders(generator):
    x = textured(90, 101)
    predict = predictor(generator, FP32)
    whole = predict_tiled(predict, x, 4, tile=1000, overlap=0)
    with torch.no_grad():
        reference = generator(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(whole, reference, atol=1e-5)       # one tile == the plain model
    tiled = predict_tiled(predict, x, 4, tile=48, overlap=16, batch=3)   # 3 x 3 tiles
    assert tiled.shape == whole.shape == (1, 3, 360, 404)
    diff = np.abs(tiled - whole)[..., 8:-8, 8:-8]
    assert diff.max() < 5e-3 and diff.mean() < 2e-4, (diff.max(), diff.mean())


def column_deviation(image: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Mean |image - reference| of every HR column: a seam is a peak at the columns where tiles join."""
    return np.abs(image - reference).mean(axis=(0, 1, 2))


def test_no_seams_on_a_smooth_image(generator):
    x = textured(64, 160, seed=1, sigma=6)
    torch.manual_seed(1)
    model = Generator(GeneratorConfig(blocks=2, channels=8))
    torch.nn.init.normal_(model.tail.weight, std=0.01)
    predict = predictor(model.eval(), FP32)
    whole = predict_tiled(predict, x, 4, tile=1000, overlap=0)
    tiled = predict_tiled(predict, x, 4, tile=64, overlap=16)       # 3 tiles across, joins inside the image
    # the measure sees the seams of naive tiling (abutting tiles, no overlap) ...
    naive = np.concatenate([predict_tiled(predict, x[..., c:c + 40], 4, tile=1000, overlap=0)
                            for c in range(0, 160, 40)], axis=-1)
    naive_dev = column_deviation(naive, whole)
    assert naive_dev[[159, 160, 319, 320, 479, 480]].min() > 3e-3
    # ... and finds none, ten times smaller, anywhere in the blended tiling
    assert column_deviation(tiled, whole).max() < 3e-4
    # a pure bicubic generator (zero correction) tiles exactly: the blend hides the skip's edge handling
    bicubic = Generator(GeneratorConfig(blocks=2, channels=8)).eval()
    b_pred = predictor(bicubic, FP32)
    np.testing.assert_allclose(predict_tiled(b_pred, x, 4, tile=64, overlap=16),
                               predict_tiled(b_pred, x, 4, tile=1000, overlap=0), atol=2e-6)


def test_bf16_costs_little_accuracy(generator):
    x = textured(64, 64, seed=2)
    fp32 = predict_tiled(predictor(generator, FP32), x, 4, tile=1000, overlap=0)
    bf16 = predict_tiled(predictor(generator, BF16), x, 4, tile=1000, overlap=0)
    psnr = 10 * np.log10(1 / np.mean((fp32 - bf16) ** 2))
    assert psnr > 50, psnr      # far below one 8-bit level (48 dB)


def test_channel_passes_and_mixing():
    assert plan_passes(None, 4) == [(0, 1, 2), (3, 3, 3)]
    assert plan_passes(None, 2) == [(0, 0, 0), (1, 1, 1)]
    assert plan_passes(parse_channels("2,1,-"), 3) == [(2, 1, -1), (0, 0, 0)]
    assert plan_passes(parse_channels("single"), 3) == [(0, 0, 0), (1, 1, 1), (2, 2, 2)]
    mix = mixing(plan_passes(None, 4), 4)
    np.testing.assert_allclose(mix.sum(axis=(0, 1)), 1)
    assert mix[1, :, 3].tolist() == pytest.approx([1 / 3] * 3) and mix[0, 0, 0] == 1


@pytest.mark.parametrize("dtype, peak", [(np.uint8, 255), (np.uint16, 50000)])
def test_to_unit_and_from_unit_are_inverse(dtype, peak):
    rng = np.random.default_rng(1)
    plane = rng.integers(0, peak, (20, 24, 2)).astype(dtype)
    window = intensity_window(plane[None], {"percentiles": [0.0, 100.0]})   # nothing clipped
    unit = to_unit(plane, window)
    assert unit.shape == (2, 20, 24) and unit.dtype == np.float32 and 0 <= unit.min() <= unit.max() <= 1
    back = from_unit(unit, window, plane, out=np.empty_like(plane))
    np.testing.assert_array_equal(back, plane)


def test_a_paper_size_generator_tiled_with_its_receptive_field_as_overlap_has_no_seams():
    """16 blocks x 64 channels, sub-pixel upsampling: it sees 40 LR pixels around each one, more than the old fixed
    overlap of 24. Tiles overlapping by that radius give the untiled prediction to well under an 8-bit level."""
    from msrgan.models.generator import receptive_radius
    torch.manual_seed(0)
    config = GeneratorConfig(blocks=16, channels=64, norm="none", upsample="shuffle")
    net = Generator(config).eval()
    torch.nn.init.normal_(net.tail.weight, std=0.01)
    image = torch.nn.functional.avg_pool2d(torch.rand(1, 3, 150, 130), 5, 1, 2)
    radius = receptive_radius(config)
    assert radius == 40
    with torch.no_grad():
        whole = net(image).numpy()
        errors = {overlap: np.abs(predict_tiled(net, image.numpy(), 4, tile=3 * radius, overlap=overlap) - whole).max()
                  for overlap in (8, radius)}
    assert errors[radius] < 0.1 / 255 < 0.5 / 255 < errors[8], errors
