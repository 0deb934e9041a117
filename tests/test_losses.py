import pytest
import torch
import torch.nn.functional as F

from msrgan.losses import (ContentLoss, LossWeights, adversarial_loss, discriminator_loss, generator_loss, mse)
from msrgan.models.discriminator import Discriminator, DiscriminatorConfig
from msrgan.models.generator import Generator, GeneratorConfig
from msrgan.models.minivgg import MiniVGG, MiniVGGConfig


@pytest.fixture()
def parts():
    torch.manual_seed(0)
    vgg = MiniVGG(MiniVGGConfig(width=4))
    sr, hr = torch.rand(4, 3, 32, 32), torch.rand(4, 3, 32, 32)
    return ContentLoss(vgg, (2, 4)), sr, hr, torch.randn(4), torch.randn(4)


@pytest.mark.parametrize("kind", ["vanilla", "lsgan", "ragan"])
def test_generator_loss_is_the_weighted_sum_of_its_terms(parts, kind):
    content, sr, hr, d_real, d_fake = parts
    expected = {"mse": F.mse_loss(sr, hr), "content": content(sr, hr), "adv": adversarial_loss(d_real, d_fake, kind)}
    for name, w in (("mse", LossWeights(2.0, 0, 0)), ("content", LossWeights(0, 3.0, 0)), ("adv", LossWeights(0, 0, 5.0))):
        total, _ = generator_loss(sr, hr, w, content, d_real, d_fake, kind)
        weight = {"mse": w.alpha, "content": w.beta, "adv": w.adversarial}[name]
        assert torch.allclose(total, weight * expected[name]), name
    w = LossWeights(0.5, 0.01, 0.002)
    total, terms = generator_loss(sr, hr, w, content, d_real, d_fake, kind)
    assert torch.allclose(total, 0.5 * expected["mse"] + 0.01 * expected["content"] + 0.002 * expected["adv"])
    assert all(torch.allclose(terms[k], expected[k]) for k in expected)


def test_content_loss_compares_frozen_features(parts):
    content, sr, hr, *_ = parts
    content.train()                      # the classifier must stay in eval mode anyway
    assert not content.vgg.training
    assert content(hr, hr).item() == 0
    feats = content.vgg.features(sr, (2, 4)), content.vgg.features(hr, (2, 4))
    manual = sum(F.mse_loss(a, b) for a, b in zip(*feats)) / 2
    assert torch.allclose(content(sr, hr), manual)
    sr = sr.requires_grad_()
    content(sr, hr).backward()
    assert sr.grad is not None and all(p.grad is None for p in content.vgg.parameters())


def test_gan_losses_at_known_logits():
    big = torch.full((4,), 20.0)
    assert discriminator_loss(big, -big, "vanilla").item() < 1e-6        # perfect discriminator
    assert discriminator_loss(torch.ones(4), torch.zeros(4), "lsgan").item() == 0
    assert adversarial_loss(None, torch.ones(4), "lsgan").item() == 0    # fooled: fake judged real
    assert adversarial_loss(big, -big, "ragan").item() > 10              # generator losing badly
    assert abs(mse(torch.zeros(2, 3), torch.ones(2, 3)).item() - 1) < 1e-7
    with pytest.raises(ValueError):
        discriminator_loss(big, big, "wgan")


def test_one_step_lowers_the_generator_loss_on_a_fixed_batch(parts):
    content, _, hr, _, _ = parts
    torch.manual_seed(1)
    g = Generator(GeneratorConfig(blocks=1, channels=8, norm="none", res_scale=0.2, upsample="resize"))
    d = Discriminator(DiscriminatorConfig(channels=4, head="gap", dense=8, input_size=32)).requires_grad_(False)
    lr = F.interpolate(hr, scale_factor=0.25, mode="bicubic", align_corners=False)
    weights = LossWeights(1.0, 0.01, 0.01)
    opt = torch.optim.Adam(g.parameters(), lr=1e-3)

    def loss():
        sr = g(lr)
        logits = d(torch.cat([hr, sr]))
        return generator_loss(sr, hr, weights, content, logits[:4].detach(), logits[4:], "lsgan")[0]

    before = loss()
    opt.zero_grad()
    before.backward()
    opt.step()
    with torch.no_grad():   # train mode again: BN uses the batch statistics, so the same batch gives the same loss
        after = loss()
    assert after.item() < before.item()
