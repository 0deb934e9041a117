"""A tiny processed data set (the data/processed layout) for the training tests: smooth structured RGB tiles."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from msrgan.imageio import write_png


def tile(rng: np.random.Generator, size: int) -> np.ndarray:
    """Blurred random blobs and lines: structure a generator can learn to sharpen."""
    channels = []
    for _ in range(3):
        plane = np.zeros((size, size), np.float32)
        for _ in range(6):
            y, x = rng.integers(0, size, 2)
            cv2.circle(plane, (int(x), int(y)), int(rng.integers(1, size // 6)), float(rng.uniform(80, 255)), -1)
        y0, x0, y1, x1 = (int(v) for v in rng.integers(0, size, 4))
        cv2.line(plane, (x0, y0), (x1, y1), float(rng.uniform(80, 255)), 1)
        channels.append(plane)
    img = cv2.GaussianBlur(np.stack(channels, -1), (0, 0), 0.8)
    return np.clip(img, 0, 255).astype(np.uint8)


def make_processed(root: Path, counts=(12, 4, 4), hr: int = 32, scale: int = 4, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    rows = []
    k = 0
    for split, n in zip(("train", "val", "test"), counts):
        for _ in range(n):
            ident = f"t{k:03d}"
            k += 1
            image = tile(rng, hr)
            write_png(root / split / "hr" / f"{ident}.png", image)
            write_png(root / split / "lr" / f"{ident}.png",
                      cv2.resize(image, (hr // scale, hr // scale), interpolation=cv2.INTER_CUBIC))
            labels = sorted({int(rng.integers(13)), int(rng.integers(13))})
            rows.append(f"{ident},{split},{';'.join(map(str, labels))},{ident},,")
    (root / "index.csv").write_text("id,split,labels,fov,nuclei_mask,cell_mask\n" + "\n".join(rows) + "\n")
    (root / "normalisation.json").write_text('{"rgb": ["red", "green", "blue"], "percentiles": [1.0, 99.0]}\n')
    return root
