"""The generator architectures a generator file can hold, by the name its `arch` field records, and the reader of
a generator file of any of them (for `msrgan upscale`, `msrgan export` and evaluate; the SRResNet's stages read and
write theirs with msrgan.models.generatorfile, which imports no baseline, so a baseline's code change does not
rerun them).

Every architecture module imports nothing but torch (`msrgan export` ships it as a BioImage.IO architecture source)
and offers the same small interface: `build(**config)` makes the network from its config dataclass's fields; the
network has `arch` (its name here), `config` (a frozen dataclass with at least `scale` and `in_channels`), a
`receptive_radius` property (how many LR pixels around an output pixel its convolutions reach: the tiles' overlap
and the package's halo) and maps N x C x h x w in [0, 1] to N x C x sh x sw.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from types import ModuleType

import torch
from torch import nn

from msrgan.models import care, dfcan, generator, rcan, rrdb, srcnn
from msrgan.models.modelfile import load_model


@dataclass(frozen=True)
class Architecture:
    module: ModuleType   # build(**config) and receptive_radius(config)
    name: str            # for people: the package's name and documentation
    summary: str         # one line on what it is
    paper: str           # its source
    doi: str
    global_attention: bool = False   # attention averaged over the whole input: tiles differ a little from the field


ARCHITECTURES = {
    "srresnet": Architecture(
        generator, "SRResNet", "residual blocks, resize-convolution or sub-pixel upsampling, a residual over the "
        "bicubic-upscaled input",
        "Ledig C. et al. (2017) Photo-realistic single image super-resolution using a generative adversarial "
        "network (SRGAN). CVPR 2017", "10.1109/CVPR.2017.19"),
    "srcnn": Architecture(
        srcnn, "SRCNN", "9-5-5 convolutions on the bicubic-upscaled input, predicting a residual over it",
        "Dong C., Loy C. C., He K., Tang X. (2014) Learning a deep convolutional network for image "
        "super-resolution. ECCV 2014", "10.1007/978-3-319-10593-2_13"),
    "care": Architecture(
        care, "CARE", "a U-Net (depth 2) on the bicubic-upscaled input, predicting a residual over it, as CSBDeep's "
        "upsampling CARE",
        "Weigert M. et al. (2018) Content-aware image restoration: pushing the limits of fluorescence microscopy. "
        "Nature Methods 15, 1090-1097", "10.1038/s41592-018-0216-7"),
    "rcan": Architecture(
        rcan, "RCAN", "residual groups of residual channel-attention blocks, sub-pixel upsampling, a residual over "
        "the bicubic-upscaled input",
        "Zhang Y. et al. (2018) Image super-resolution using very deep residual channel attention networks. "
        "ECCV 2018", "10.1007/978-3-030-01234-2_18", global_attention=True),
    "dfcan": Architecture(
        dfcan, "DFCAN", "residual groups of Fourier channel-attention blocks, sub-pixel upsampling, a residual over "
        "the bicubic-upscaled input",
        "Qiao C. et al. (2021) Evaluation and development of deep neural networks for image super-resolution in "
        "optical microscopy. Nature Methods 18, 194-202", "10.1038/s41592-020-01048-5", global_attention=True),
    "rrdb": Architecture(
        rrdb, "RRDB", "ESRGAN's generator: residual-in-residual dense blocks, nearest x2 + conv upsampling, a "
        "residual over the bicubic-upscaled input",
        "Wang X. et al. (2018) ESRGAN: enhanced super-resolution generative adversarial networks. ECCV Workshops "
        "2018", "10.1007/978-3-030-11021-5_5"),
}
DEFAULT = generator.Generator.arch   # a file without an `arch` field (written before it existed) holds an SRResNet


def architecture(arch: str) -> Architecture:
    """The architecture named `arch`; ValueError naming the known ones for any other name."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown generator architecture {arch!r} (known: {', '.join(ARCHITECTURES)})")
    return ARCHITECTURES[arch]


def build_generator(arch: str, config: dict) -> nn.Module:
    """The network of architecture `arch` made from its config fields; ValueError/TypeError for a bad name or key."""
    return architecture(arch).module.build(**config)


def load_any_generator(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """(the generator of whichever architecture the file records, in eval mode, its metadata); a missing, foreign or
    damaged file, or an unknown `arch`, is a UserError naming it."""
    return load_model(path, "generator", lambda config, arch: build_generator(arch or DEFAULT, config), "generator",
                      device)
