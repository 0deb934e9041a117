"""The generator ready for inference: BatchNorm folded into the convolutions, placed on the chosen device, run under
bf16 autocast where the hardware does bf16 natively (CUDA, or CPUs with AVX512-BF16/AMX), channels_last."""
from __future__ import annotations

import copy
import sys

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from msrgan.models.architectures import load_any_generator
from msrgan.runtime import Runtime, pick_runtime
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


def predictor(model: nn.Module, runtime: Runtime, compile: bool = False) -> Predict:
    """A function N x 3 x h x w (CPU, float32) -> N x 3 x sh x sw that runs `model` on `runtime`.

    `compile`: through torch.compile (inductor), which fuses the memory-bound PReLU and upsampling into their
    neighbours: measured 1.08x on the default generator's tiles on a 2-core AVX512-BF16 CPU without AMX (512 and
    2048 fields), after 5-60 s of compiling per tile shape (benchmarks/upscale.py --compile); inductor's AMX
    templates may do more on CPUs that have AMX. Where compiling fails (inductor needs a C++ compiler on a CPU), a
    note says so and the network runs eagerly."""
    eager = runtime.model(fold_batchnorm(model))
    net = torch.compile(eager, dynamic=False) if compile else eager

    def predict(x: torch.Tensor) -> torch.Tensor:
        nonlocal net
        with torch.inference_mode(), runtime.autocast():
            try:
                return net(runtime.batch(x))
            except Exception as exc:  # noqa: BLE001 - any compiler failure: the eager network still works
                if net is eager:
                    raise
                print(f"note: --compile: torch.compile failed ({type(exc).__name__}); running eagerly",
                      file=sys.stderr)
                net = eager
                return net(runtime.batch(x))
    return predict


def load_for_inference(path: str, runtime: Runtime | None = None) -> tuple[nn.Module, dict, Runtime]:
    """(generator (any architecture the file records) on the CPU, its metadata, the runtime to run it on:
    `runtime`, or the automatic choice (CUDA where present, bf16 where native, channels_last)); UserError (one line)
    for a bad file."""
    model, meta = load_any_generator(path, "cpu")
    return model, meta, runtime or pick_runtime(key="--device")
