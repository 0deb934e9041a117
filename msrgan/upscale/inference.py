"""The generator ready for inference: BatchNorm folded into the convolutions, placed on the chosen device, run under
bf16 autocast where the hardware does bf16 natively (CUDA, or CPUs with AVX512-BF16/AMX), channels_last."""
from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from msrgan.models.generator import Generator
from msrgan.models.generatorfile import load_generator
from msrgan.train.device import Runtime, pick_runtime
from msrgan.upscale.tiling import Predict


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """A copy of `model` (in eval mode) with every Conv2d -> BatchNorm2d pair of a Sequential merged into one
    convolution: the same function, one memory pass less per pair."""
    model = copy.deepcopy(model).eval()
    for seq in model.modules():
        if isinstance(seq, nn.Sequential):
            for i in range(len(seq) - 1):
                if isinstance(seq[i], nn.Conv2d) and isinstance(seq[i + 1], nn.BatchNorm2d):
                    seq[i] = fuse_conv_bn_eval(seq[i], seq[i + 1])
                    seq[i + 1] = nn.Identity()
    return model


def predictor(model: Generator, runtime: Runtime) -> Predict:
    """A function N x 3 x h x w (CPU, float32) -> N x 3 x sh x sw that runs `model` on `runtime`."""
    net = runtime.model(fold_batchnorm(model))

    def predict(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(), runtime.autocast():
            return net(runtime.batch(x))
    return predict


def load_for_inference(path: str, device: str = "auto", precision: str = "auto") -> tuple[Generator, dict, Runtime]:
    """(generator, its metadata, the runtime to run it on); UserError (one line) for a bad file or device."""
    runtime = pick_runtime(device, precision, channels_last=True, key="--device")
    model, meta = load_generator(path, "cpu")
    return model, meta, runtime
