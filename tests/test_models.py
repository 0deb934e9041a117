import torch
import torch.nn.functional as F

from msrgan.models.discriminator import Discriminator, DiscriminatorConfig, load_discriminator, save_discriminator
from msrgan.models.generator import Generator, GeneratorConfig
from msrgan.models.minivgg import MiniVGG, MiniVGGConfig


def test_generator_upscales_4x_and_starts_as_bicubic():
    torch.manual_seed(0)
    g = Generator(GeneratorConfig(blocks=2, channels=8)).eval()
    lr = torch.rand(2, 3, 8, 12)
    sr = g(lr)
    assert sr.shape == (2, 3, 32, 48)
    assert torch.allclose(sr, F.interpolate(lr, scale_factor=4, mode="bicubic", align_corners=False), atol=1e-6)


def test_discriminator_heads_give_one_logit_per_image(tmp_path):
    for head in ("gap", "dense"):
        d = Discriminator(DiscriminatorConfig(channels=4, head=head, dense=16, input_size=32))
        assert d(torch.rand(3, 3, 32, 32)).shape == (3,)
    # the paper's dense layer: 8 * channels * (96 / 16)^2 inputs
    d = Discriminator(DiscriminatorConfig(channels=64, head="dense", dense=1024, input_size=96))
    assert d.head[1].in_features == 512 * 6 * 6
    save_discriminator(tmp_path / "d.pt", d)
    loaded, _ = load_discriminator(tmp_path / "d.pt")
    assert loaded.config == d.config


def test_minivgg_logits_and_block_features():
    vgg = MiniVGG(MiniVGGConfig(width=4)).eval()
    x = torch.rand(2, 3, 32, 32)
    assert vgg(x).shape == (2, 13)
    feats = vgg.features(x, (1, 3, 5))
    assert [tuple(f.shape) for f in feats] == [(2, 4, 32, 32), (2, 16, 8, 8), (2, 32, 2, 2)]
