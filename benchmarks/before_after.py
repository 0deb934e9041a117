"""A side-by-side PNG for the README: input (nearest-neighbour upscaled) | bicubic | the generator [| ground truth].

    python benchmarks/before_after.py data/processed/test/lr/<id>.png --model data/models/generator.pt \\
        --hr data/processed/test/hr/<id>.png --out metrics/before_after.png

Any input `msrgan upscale` reads works (16-bit and multi-channel images are shown through the same intensity window
the generator sees: 1 channel as grey, 2 as red/green, 3-4 as RGB of the first three). `--crop X,Y,SIZE` picks an
input region (in input pixels); `--zoom` enlarges every panel (nearest neighbour) so small tiles stay visible.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from msrgan.errors import exit_on_user_error, fail
from msrgan.imageio import write_png
from msrgan.upscale.imagefile import read_input
from msrgan.upscale.intensity import intensity_window, to_unit
from msrgan.upscale.upscaler import load_upscaler

HEADER = 28


def display(unit: np.ndarray) -> np.ndarray:
    """C x H x W floats in [0, 1] -> H x W x 3 uint8 for the eye."""
    if unit.shape[0] == 1:
        rgb = np.repeat(unit, 3, axis=0)
    elif unit.shape[0] == 2:
        rgb = np.concatenate([unit, np.zeros_like(unit[:1])])
    else:
        rgb = unit[:3]
    return (np.clip(rgb, 0, 1).transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8)


def labelled(panel: np.ndarray, label: str, zoom: int) -> np.ndarray:
    panel = cv2.resize(panel, (panel.shape[1] * zoom, panel.shape[0] * zoom), interpolation=cv2.INTER_NEAREST)
    header = np.full((HEADER, panel.shape[1], 3), 255, np.uint8)
    cv2.putText(header, label, (6, HEADER - 9), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([header, panel])


def before_after(source: Path, model: str, out: Path, hr: Path | None = None, crop: str | None = None,
                 zoom: int = 0, label: str = "mSRGAN") -> None:
    upscaler = load_upscaler(model, precision="fp32")
    planes = read_input(source).planes()[:1]
    if crop:
        try:
            x, y, size = (int(v) for v in crop.split(","))
        except ValueError:
            fail(f"--crop: expected X,Y,SIZE in input pixels, got {crop!r}")
        planes = planes[:, y:y + size, x:x + size]
        if planes.shape[1] < 2 or planes.shape[2] < 2:
            fail(f"--crop {crop}: outside the {source} image")
    s = upscaler.scale
    height, width = planes.shape[1:3]
    window = intensity_window(planes, upscaler.meta)
    lr = to_unit(planes[0], window)
    nearest = display(lr).repeat(s, axis=0).repeat(s, axis=1)
    bicubic = display(cv2.resize(np.ascontiguousarray(lr.transpose(1, 2, 0)), (width * s, height * s),
                                 interpolation=cv2.INTER_CUBIC).reshape(height * s, width * s, -1).transpose(2, 0, 1))
    sr = display(to_unit(upscaler(planes)[0][0], window))
    panels = [(nearest, f"input {width}x{height}"), (bicubic, "bicubic x4"), (sr, label)]
    if hr is not None:
        truth = read_input(hr).planes()[:1]
        if crop:
            truth = truth[:, y * s:(y + size) * s, x * s:(x + size) * s]
        if truth.shape[1:3] != sr.shape[:2]:
            fail(f"{hr}: ground truth is {truth.shape[2]}x{truth.shape[1]}, the output {sr.shape[1]}x{sr.shape[0]}")
        panels.append((display(to_unit(truth[0], intensity_window(truth, upscaler.meta))), "ground truth"))
    zoom = zoom or max(1, 256 // (height * s))
    gap = np.full((HEADER + height * s * zoom, 6, 3), 255, np.uint8)
    row = [labelled(p, name, zoom) for p, name in panels]
    write_png(out, np.hstack([x for panel in row for x in (panel, gap)][:-1]))
    print(f"{out}: {' | '.join(name for _, name in panels)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", type=Path)
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", type=Path, required=True, help="the PNG to write")
    parser.add_argument("--hr", type=Path, help="the ground-truth high-resolution image, as a 4th panel")
    parser.add_argument("--crop", help="X,Y,SIZE: a square input region, in input pixels")
    parser.add_argument("--zoom", type=int, default=0, help="panel enlargement (default: panels at least 256 px)")
    parser.add_argument("--label", default="mSRGAN", help="caption of the generator's panel")
    args = parser.parse_args()
    exit_on_user_error(lambda: before_after(args.input, args.model, args.out, args.hr, args.crop, args.zoom,
                                            args.label))


if __name__ == "__main__":
    main()
