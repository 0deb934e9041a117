"""How an LR image is made from its HR image, and the classical way back: the one definition of each that prepare,
training's validation, evaluate and upscale share."""
from __future__ import annotations

import cv2
import numpy as np


def downscale(hr: np.ndarray, scale: int) -> np.ndarray:
    """The LR input exactly as the original mSRGAN made it: bicubic, no antialiasing."""
    h, w = hr.shape[:2]
    return cv2.resize(hr, (w // scale, h // scale), interpolation=cv2.INTER_CUBIC)


def upscale(lr: np.ndarray, scale: int, interpolation: int = cv2.INTER_CUBIC) -> np.ndarray:
    """The classical reference upscaling (H x W[ x C] -> sH x sW[ x C], same dtype): OpenCV bicubic by default, the
    "bicubic" of evaluate's tables and of the trainers' validation gain; `interpolation` another cv2 flag."""
    h, w = lr.shape[:2]
    return cv2.resize(lr, (w * scale, h * scale), interpolation=interpolation)


def lr_scale(hr_shape: tuple[int, ...], lr_shape: tuple[int, ...]) -> int | None:
    """The integer scale s with lr = (H // s, W // s) for an HR of `hr_shape`, as downscale and the microscope's
    binning make it (rows and columns beyond a multiple of s dropped); None when the LR is no such image."""
    s = hr_shape[0] // lr_shape[0] if lr_shape[0] else 0
    return s if s >= 1 and tuple(lr_shape[:2]) == (hr_shape[0] // s, hr_shape[1] // s) else None
