"""The mSRGAN losses: pixel MSE, the miniVGG19 content loss, the adversarial losses (vanilla, least squares as the
original mSRGAN, relativistic average) and the generator's weighted sum alpha*MSE + beta*content + gamma*adversarial."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

GAN_TYPES = ("vanilla", "lsgan", "ragan")


def mse(sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(sr.float(), hr.float())


class ContentLoss(nn.Module):
    """Mean over the chosen blocks of the mean squared distance between miniVGG19 features of SR and HR.

    The classifier is frozen and stays in eval mode (BN running statistics, no dropout) whatever mode the caller is in.
    """

    def __init__(self, vgg: nn.Module, blocks: tuple[int, ...] = (1, 2, 3, 4, 5)):
        super().__init__()
        if not blocks or any(b not in (1, 2, 3, 4, 5) for b in blocks):
            raise ValueError(f"content blocks must be among 1..5, got {blocks}")
        self.vgg = vgg.eval().requires_grad_(False)
        self.blocks = tuple(sorted(set(blocks)))

    def train(self, mode: bool = True):   # keep the classifier in eval mode
        super().train(mode)
        self.vgg.eval()
        return self

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target = self.vgg.features(hr, self.blocks)
        feats = self.vgg.features(sr, self.blocks)
        return torch.stack([F.mse_loss(f.float(), t.float()) for f, t in zip(feats, target)]).mean()


def _bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def discriminator_loss(real: torch.Tensor, fake: torch.Tensor, kind: str) -> torch.Tensor:
    """Loss of the discriminator from its logits on real (HR) and fake (SR, detached) images."""
    real, fake = real.float(), fake.float()
    if kind == "vanilla":
        return _bce(real, 1) + _bce(fake, 0)
    if kind == "lsgan":
        return 0.5 * ((real - 1).pow(2).mean() + fake.pow(2).mean())
    if kind == "ragan":
        return 0.5 * (_bce(real - fake.mean(), 1) + _bce(fake - real.mean(), 0))
    raise ValueError(f"unknown GAN loss {kind!r} (known: {', '.join(GAN_TYPES)})")


def adversarial_loss(real: torch.Tensor, fake: torch.Tensor, kind: str) -> torch.Tensor:
    """The generator's adversarial term from the discriminator's logits (real: detached, used by ragan only)."""
    fake = fake.float()
    real = real.float() if real is not None else None
    if kind == "vanilla":   # non-saturating form
        return _bce(fake, 1)
    if kind == "lsgan":
        return 0.5 * (fake - 1).pow(2).mean()
    if kind == "ragan":
        return 0.5 * (_bce(real - fake.mean(), 0) + _bce(fake - real.mean(), 1))
    raise ValueError(f"unknown GAN loss {kind!r} (known: {', '.join(GAN_TYPES)})")


@dataclass(frozen=True)
class LossWeights:
    alpha: float = 1.0         # MSE
    beta: float = 0.006        # content
    adversarial: float = 1e-3  # gamma


def generator_loss(sr: torch.Tensor, hr: torch.Tensor, weights: LossWeights, content: ContentLoss | None,
                   d_real: torch.Tensor | None, d_fake: torch.Tensor | None, kind: str = "lsgan"
                   ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(alpha*MSE + beta*content + adversarial*adv, the unweighted terms). A term whose weight is 0 is not computed."""
    zero = sr.new_zeros((), dtype=torch.float32)
    terms = {
        "mse": mse(sr, hr) if weights.alpha else zero,
        "content": content(sr, hr) if weights.beta and content is not None else zero,
        "adv": adversarial_loss(d_real, d_fake, kind) if weights.adversarial and d_fake is not None else zero,
    }
    total = weights.alpha * terms["mse"] + weights.beta * terms["content"] + weights.adversarial * terms["adv"]
    return total, terms


def l1(sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    """Mean absolute error (CARE's MAE, RCAN's and ESRGAN's PSNR-oriented L1)."""
    return F.l1_loss(sr.float(), hr.float())


def pixel_loss(kind: str, ssim_weight: float = 0.1):
    """The pixel loss `kind` as a function (sr, hr) -> scalar, images N x C x H x W in [0, 1]: 'mse', 'l1', or
    'mse_ssim' = MSE + ssim_weight * (1 - SSIM) (DFCAN, Qiao et al. 2021; SSIM as torchmetrics computes it:
    Gaussian window 11, sigma 1.5, data range 1)."""
    if kind == "mse":
        return mse
    if kind == "l1":
        return l1
    if kind == "mse_ssim":
        from torchmetrics.functional.image import structural_similarity_index_measure as ssim

        def mse_ssim(sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
            sr, hr = sr.float(), hr.float()
            return F.mse_loss(sr, hr) + ssim_weight * (1 - ssim(sr, hr, data_range=1.0))
        return mse_ssim
    raise ValueError(f"unknown pixel loss {kind!r} (known: mse, l1, mse_ssim)")
