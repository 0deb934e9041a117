import pytest
import torch
import torch.nn.functional as F

from msrgan.gridpattern import grid_pattern
from msrgan.models.discriminator import Discriminator, DiscriminatorConfig
from msrgan.models.generator import Generator, GeneratorConfig
from msrgan.models.minivgg import MiniVGG, MiniVGGConfig


def test_generator_upscales_4x_and_starts_as_bicubic():
    torch.manual_seed(0)
    g = Generator(GeneratorConfig(blocks=2, channels=8)).eval()
    lr = torch.rand(2, 3, 8, 12)
    sr = g(lr)
    assert sr.shape == (2, 3, 32, 48)
    assert torch.allclose(sr, F.interpolate(lr, scale_factor=4, mode="bicubic", align_corners=False), atol=1e-6)


def flat_field_pattern_after_training(upsample: str) -> float:
    """Train a tiny generator 30 Adam steps on random textures, then the grid pattern it puts on a flat field
    (the interior, in [0, 1] units)."""
    torch.manual_seed(0)
    g = Generator(GeneratorConfig(blocks=2, channels=8, norm="none", res_scale=0.2, upsample=upsample))
    opt = torch.optim.Adam(g.parameters(), lr=1e-2)
    for _ in range(30):
        hr = F.avg_pool2d(torch.rand(4, 3, 64, 64), 3, 1, 1)
        loss = F.mse_loss(g(F.interpolate(hr, scale_factor=0.25, mode="bicubic", antialias=True)), hr)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        sr = g.eval()(torch.full((1, 3, 32, 32), 0.6))[0, :, 48:-48, 48:-48]
    return float(grid_pattern(sr.permute(1, 2, 0).numpy(), 4).max())


@pytest.mark.parametrize("upsample", ["shuffle", "resize"])
def test_upsamplers_start_without_a_checkerboard(upsample):
    g = Generator(GeneratorConfig(blocks=2, channels=8, residual=False, upsample=upsample)).eval()
    with torch.no_grad():
        sr = g(torch.full((1, 3, 32, 32), 0.6))[0, :, 48:-48, 48:-48]
    assert grid_pattern(sr.permute(1, 2, 0).numpy(), 4).max() < 1e-6    # ICNR: nearest-neighbour at the start


def test_trained_resize_convolution_keeps_a_flat_field_flat_and_the_sub_pixel_conv_does_not():
    assert flat_field_pattern_after_training("resize") < 1e-6
    assert flat_field_pattern_after_training("shuffle") > 1e-3


def test_discriminator_heads_give_one_logit_per_image():
    for head in ("gap", "dense"):
        d = Discriminator(DiscriminatorConfig(channels=4, head=head, dense=16, input_size=32))
        assert d(torch.rand(3, 3, 32, 32)).shape == (3,)
    # the paper's dense layer: 8 * channels * (96 / 16)^2 inputs
    d = Discriminator(DiscriminatorConfig(channels=64, head="dense", dense=1024, input_size=96))
    assert d.head[1].in_features == 512 * 6 * 6


def test_minivgg_logits_and_block_features():
    vgg = MiniVGG(MiniVGGConfig(width=4)).eval()
    x = torch.rand(2, 3, 32, 32)
    assert vgg(x).shape == (2, 13)
    feats = vgg.features(x, (1, 3, 5))
    assert [tuple(f.shape) for f in feats] == [(2, 4, 32, 32), (2, 16, 8, 8), (2, 32, 2, 2)]
