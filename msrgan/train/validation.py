"""Validation of a generator: PSNR and SSIM as scikit-image defines them (RGB uint8, data range 255), against the
same OpenCV bicubic reference as evaluate's tables, and a side-by-side sample strip for dvclive."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from msrgan.data.degrade import upscale
from msrgan.fidelity import psnr, ssim
from msrgan.runtime import Runtime, unwrap
from msrgan.train.dataset import Split, to_float, to_uint8


def mean_psnr_ssim(hr: np.ndarray, sr: np.ndarray) -> tuple[float, float]:
    """Mean PSNR (dB) and SSIM (msrgan.fidelity, evaluate's definitions) over N x H x W x 3 uint8 arrays, the
    reference first."""
    return float(np.mean([psnr(h, s) for h, s in zip(hr, sr)])), float(np.mean([ssim(h, s) for h, s in zip(hr, sr)]))


def bicubic(data: Split) -> np.ndarray:
    """The LR tiles of `data` upscaled by evaluate's bicubic (OpenCV): N x sH x sW x 3 uint8."""
    scale = data.hr.shape[-1] // data.lr.shape[-1]
    return np.stack([upscale(np.ascontiguousarray(lr), scale) for lr in data.lr.permute(0, 2, 3, 1).numpy()])


@torch.no_grad()
def in_eval_batches(model: torch.nn.Module, images_uint8: torch.Tensor, rt: Runtime, batch: int,
                    finish: Callable[[torch.Tensor], object]) -> list:
    """`finish(model(x))` for each batch of uint8 images, with the model in eval mode (its mode restored after)."""
    model = unwrap(model)
    was_training = model.training
    model.eval()
    out = []
    for i in range(0, len(images_uint8), batch):
        with rt.autocast():
            out.append(finish(model(rt.batch(to_float(images_uint8[i:i + batch])))))
    model.train(was_training)
    return out


def super_resolve(generator: torch.nn.Module, lr_uint8: torch.Tensor, rt: Runtime, batch: int = 32) -> np.ndarray:
    """The generator (eval mode) on uint8 LR tiles -> N x H x W x 3 uint8."""
    return np.concatenate(in_eval_batches(generator, lr_uint8, rt, batch, to_uint8))


def validate_generator(generator: torch.nn.Module, data: Split, rt: Runtime) -> dict[str, float]:
    psnr, ssim = mean_psnr_ssim(hr_uint8(data), super_resolve(generator, data.lr, rt))
    return {"psnr": psnr, "ssim": ssim}


def hr_uint8(data: Split) -> np.ndarray:
    return data.hr.permute(0, 2, 3, 1).numpy()


def bicubic_metrics(data: Split) -> dict[str, float]:
    """PSNR and SSIM of the bicubic reference on `data`: what a generator's validation gain is measured against."""
    psnr, ssim = mean_psnr_ssim(hr_uint8(data), bicubic(data))
    return {"psnr": psnr, "ssim": ssim}


def sample_strip(generator: torch.nn.Module, data: Split, rt: Runtime, n: int = 4) -> np.ndarray:
    """Rows of LR (nearest) | bicubic | SR | HR for the first n validation tiles, as one uint8 image."""
    n = min(n, len(data))
    scale = data.hr.shape[-1] // data.lr.shape[-1]
    lr = data.lr[:n]
    nearest = to_uint8(F.interpolate(to_float(lr), scale_factor=scale, mode="nearest"))
    cubic = bicubic(data)[:n]
    sr = super_resolve(generator, lr, rt)
    hr = hr_uint8(data)[:n]
    rows = [np.concatenate([a, b, c, d], axis=1) for a, b, c, d in zip(nearest, cubic, sr, hr)]
    return np.concatenate(rows, axis=0)


def generator_summary(result, params, bicubic: dict, rt, world_size: int) -> dict:
    """What metrics/<stage>.json says about a generator run (validation split only: the test split is evaluate's)."""
    return {
        "val": result.selected, "val_last": result.last, "val_bicubic": bicubic,
        "val_psnr_gain_db": result.selected["psnr"] - bicubic["psnr"] if result.selected else None,
        "selected_iteration": result.selected_step, "select": params.select, "iterations": params.iterations,
        "rollbacks": len(result.rollbacks), "rollback_events": result.rollbacks,
        "device": str(rt.device), "precision": "bf16" if rt.dtype else "fp32", "world_size": world_size,
    }
