"""Validation of a generator: PSNR and SSIM as scikit-image defines them (RGB uint8, data range 255), and a
side-by-side sample strip for dvclive."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from msrgan.train.dataset import Split, to_float, to_uint8
from msrgan.train.device import Runtime


def image_metrics(sr: np.ndarray, hr: np.ndarray) -> tuple[float, float]:
    """Mean PSNR and SSIM over N x H x W x 3 uint8 arrays."""
    psnr = [peak_signal_noise_ratio(h, s, data_range=255) for s, h in zip(sr, hr)]
    ssim = [structural_similarity(h, s, data_range=255, channel_axis=-1) for s, h in zip(sr, hr)]
    return float(np.mean(psnr)), float(np.mean(ssim))


def bicubic(lr: torch.Tensor, scale: int) -> torch.Tensor:
    return F.interpolate(lr, scale_factor=scale, mode="bicubic", align_corners=False)


@torch.no_grad()
def in_eval_batches(model: torch.nn.Module, images_uint8: torch.Tensor, rt: Runtime, batch: int,
                    finish: Callable[[torch.Tensor], object]) -> list:
    """`finish(model(x))` for each batch of uint8 images, with the model in eval mode (its mode restored after)."""
    model = getattr(model, "module", model)
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
    psnr, ssim = image_metrics(super_resolve(generator, data.lr, rt), hr_uint8(data))
    return {"psnr": psnr, "ssim": ssim}


def hr_uint8(data: Split) -> np.ndarray:
    return data.hr.permute(0, 2, 3, 1).numpy()


def bicubic_metrics(data: Split) -> dict[str, float]:
    scale = data.hr.shape[-1] // data.lr.shape[-1]
    psnr, ssim = image_metrics(to_uint8(bicubic(to_float(data.lr), scale)), hr_uint8(data))
    return {"psnr": psnr, "ssim": ssim}


def sample_strip(generator: torch.nn.Module, data: Split, rt: Runtime, n: int = 4) -> np.ndarray:
    """Rows of LR (nearest) | bicubic | SR | HR for the first n validation tiles, as one uint8 image."""
    n = min(n, len(data))
    scale = data.hr.shape[-1] // data.lr.shape[-1]
    lr = data.lr[:n]
    nearest = to_uint8(F.interpolate(to_float(lr), scale_factor=scale, mode="nearest"))
    cubic = to_uint8(bicubic(to_float(lr), scale))
    sr = super_resolve(generator, lr, rt)
    hr = hr_uint8(data)[:n]
    rows = [np.concatenate([a, b, c, d], axis=1) for a, b, c, d in zip(nearest, cubic, sr, hr)]
    return np.concatenate(rows, axis=0)


def generator_summary(result, params, bicubic: dict, rt, world_size: int) -> dict:
    """What metrics/<stage>.json says about a generator run (validation split only: the test split is evaluate's)."""
    return {
        "val": result.best, "val_last": result.last, "val_bicubic": bicubic,
        "val_psnr_gain_db": result.best["psnr"] - bicubic["psnr"] if result.best else None,
        "selected_iteration": result.best_step, "select": params.select, "iterations": params.iterations,
        "rollbacks": len(result.rollbacks), "rollback_events": result.rollbacks,
        "device": str(rt.device), "precision": "bf16" if rt.dtype else "fp32", "world_size": world_size,
    }
