"""Where and how a network runs, for training and inference alike: CUDA when present, else CPU; bf16 autocast where
the hardware does it fast; channels_last memory layout for the convolutions."""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch

from msrgan.errors import fail


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    dtype: torch.dtype | None          # autocast dtype, None = fp32
    channels_last: bool

    def autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def model(self, module: torch.nn.Module) -> torch.nn.Module:
        module = module.to(self.device)
        return module.to(memory_format=torch.channels_last) if self.channels_last else module

    def batch(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last and x.dim() == 4 else x


def unwrap(model):
    """The module inside a DistributedDataParallel wrapper (World.wrap), or the object itself."""
    return getattr(model, "module", model)


def cpu_has_bf16() -> bool:
    """True when the CPU has native bf16 arithmetic (AVX512-BF16 or AMX); without it bf16 autocast is slower."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def wants_cuda(device: str) -> bool:
    return device == "cuda" or (device == "auto" and torch.cuda.is_available())


def pick_runtime(device: str = "auto", precision: str = "auto", channels_last: bool = True,
                 local_rank: int = 0, key: str = "device") -> Runtime:
    """The Runtime for params `device` (auto|cpu|cuda) and `precision` (auto|fp32|bf16)."""
    if device == "cuda" and not torch.cuda.is_available():
        fail(f"{key}: cuda requested but no CUDA device is available (use auto or cpu)")
    if wants_cuda(device):
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
        dev = torch.device("cuda", torch.cuda.current_device())
        bf16_ok = torch.cuda.is_bf16_supported()
    else:
        dev = torch.device("cpu")
        bf16_ok = cpu_has_bf16()
    if precision == "bf16":
        dtype = torch.bfloat16
    elif precision == "auto" and bf16_ok and os.environ.get("MSRGAN_FP32") != "1":
        dtype = torch.bfloat16
    else:
        dtype = None
    return Runtime(dev, dtype, channels_last)
