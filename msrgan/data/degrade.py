"""How an LR image is made from its HR image: the one definition that prepare, evaluate and upscale share."""
from __future__ import annotations

import cv2
import numpy as np


def downscale(hr: np.ndarray, scale: int) -> np.ndarray:
    """The LR input exactly as the original mSRGAN made it: bicubic, no antialiasing."""
    h, w = hr.shape[:2]
    return cv2.resize(hr, (w // scale, h // scale), interpolation=cv2.INTER_CUBIC)
