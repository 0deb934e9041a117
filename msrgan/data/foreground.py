"""Where a field has signal: what tiles mode keeps of it and what its training crops are drawn from."""
from __future__ import annotations

import cv2
import numpy as np

FOREGROUND_MIN = 8   # 8-bit level: the Otsu threshold of a nearly empty field would otherwise split its noise


def foreground_mask(image: np.ndarray) -> np.ndarray:
    """H x W bool: the brightest stain of `image` (H x W x C uint8) above the field's Otsu threshold, and at least
    FOREGROUND_MIN."""
    brightest = np.ascontiguousarray(image[..., 0])
    for c in range(1, image.shape[2]):   # not image.max(axis=2): a strided reduction, 20x slower on big fields
        np.maximum(brightest, image[..., c], out=brightest)
    threshold, _ = cv2.threshold(brightest, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return brightest > max(threshold, FOREGROUND_MIN)
