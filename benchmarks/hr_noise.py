"""The PSNR ceiling that the recorded HR's own noise sets: the recorded HR images against the noise-free specimen.

    python benchmarks/hr_noise.py [--processed data/processed] [--params params.yaml] [--split test] [--limit N]
                                  [--raw data/raw] [--metrics metrics/evaluate_per_image.csv]

The simulator's camera adds photon and read noise to the HR it records (acquisition.record), which no upscaler can
predict: scored against the same exposure without noise (acquisition.noise_free), the recorded HR gives the best mean
PSNR an upscaler can expect. Each field of the split is simulated again (fetch.synthetic's seed and size), both
versions go to 8 bit through merge's window of the recorded stain, then to prepare's tiles (or resize). Guards
(counted; exit status 1): the stains equal --raw's TIFFs where it has them, the recorded images the split's HR PNGs.
Beside it: bicubic's means over the same ids from --metrics, where it has them, and the gap.
"""
from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from msrgan.data.merge import stain_to_uint8, stain_window  # noqa: E402
from msrgan.data.prepare import INTERPOLATION  # noqa: E402
from msrgan.data.simulator import WELLS, fov_id, simulate_fov  # noqa: E402
from msrgan.data.simulator.acquisition import noise_free  # noqa: E402
from msrgan.evaluation.metrics import channel_psnr, psnr, ssim  # noqa: E402
from msrgan.imageio import read_image, read_png_rgb  # noqa: E402
from msrgan.params import section  # noqa: E402

KEYS = ("psnr", "ssim", "psnr_r", "psnr_g", "psnr_b")


def fov_index(fid: str) -> int:
    """The inverse of simulator.fov_id ('S001_A01_1' -> 0)."""
    plate, well, _ = fid.split("_")
    index = (int(plate[1:]) - 1) * 96 + WELLS.index(well)
    if fov_id(index) != fid:
        raise ValueError(f"{fid}: not a simulated FOV id")
    return index


def simulate_exposed(size: int, seed: int, index: int) -> tuple[dict, dict]:
    """simulate_fov's stains (colour -> uint16) and their noise-free twins (colour -> float ADU)."""
    fov = simulate_fov(size, seed, index)
    return fov.stains, noise_free(fov.exposures)


def to_rgb8(stains: dict, clean: dict, merge, fid: str) -> tuple[np.ndarray, np.ndarray]:
    """Both fields as merge makes the recorded one: each stain through the recorded stain's window."""
    windows = {c: stain_window(stains[c], merge, f"{fid}:{c}") for c in merge.rgb}
    recorded = cv2.merge([stain_to_uint8(stains[c], merge, "", windows[c]) for c in merge.rgb])
    ideal = cv2.merge([stain_to_uint8(clean[c], merge, "", windows[c]) for c in merge.rgb])   # clipped, rounded
    return recorded, ideal


def pieces(ids: list[str], fid: str, image: np.ndarray, prepare) -> list[tuple[str, np.ndarray]]:
    """prepare's HR images of the field: the whole field resized, or the tiles `ids` (<fov>_<row>_<col>; the field
    itself for the train split's <fov>)."""
    if prepare.mode == "resize":
        size = (prepare.hr_size, prepare.hr_size)
        return [(fid, cv2.resize(image, size, interpolation=INTERPOLATION[prepare.hr_interpolation]))]
    t, out = prepare.hr_size, []
    for pid in ids:
        if pid == fid:   # the train split keeps its fields whole
            out.append((pid, image))
        else:
            row, col = map(int, pid[len(fid) + 1:].split("_"))
            out.append((pid, image[row * t:(row + 1) * t, col * t:(col + 1) * t]))
    return out


def means(rows: list[dict]) -> dict[str, float]:
    """The mean of each of KEYS over `rows`, infinities (identical images) left out as evaluate's summary does."""
    return {k: float(np.mean([v for r in rows if math.isfinite(v := float(r[k]))] or [math.nan])) for k in KEYS}


def bicubic_rows(path: Path, ids: set[str]) -> list[dict]:
    """evaluate's per-image rows of bicubic for `ids` (none without the file)."""
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [r for r in csv.DictReader(f) if r["method"] == "bicubic" and r["id"] in ids]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--processed", type=Path, default=Path("data/processed"))
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--split", default="test")
    ap.add_argument("--limit", type=int, default=0, help="at most this many fields (0: all)")
    ap.add_argument("--raw", type=Path, default=Path("data/raw"), help="checked against where it exists")
    ap.add_argument("--metrics", type=Path, default=Path("metrics/evaluate_per_image.csv"))
    args = ap.parse_args()
    seed, fetch = section("fetch", args.params)
    if fetch.source != "synthetic":
        print(f"{args.params}: fetch.source is {fetch.source}: only simulated fields have a noise-free twin")
        return 1
    _, merge = section("merge", args.params)
    _, prepare = section("prepare", args.params)
    size = fetch.synthetic.size
    by_fov = defaultdict(list)
    with open(args.processed / "index.csv", newline="") as f:
        for row in (r for r in csv.DictReader(f) if r["split"] == args.split):
            by_fov[row["fov"]].append(row["id"])
    fovs = list(by_fov)[:args.limit or None]
    scores, raw_checked, raw_bad, hr_bad, t0 = [], 0, 0, 0, time.perf_counter()   # raw_bad, hr_bad: guards
    for fid in fovs:
        stains, clean = simulate_exposed(size, seed, fov_index(fid))
        tifs = [args.raw / "images" / f"{fid}_{c}.tif" for c in merge.rgb]
        if all(p.is_file() for p in tifs):
            raw_checked += 1
            raw_bad += any(not np.array_equal(read_image(p), stains[c]) for p, c in zip(tifs, merge.rgb))
        recorded, ideal = to_rgb8(stains, clean, merge, fid)
        for (pid, hr), (_, truth) in zip(pieces(by_fov[fid], fid, recorded, prepare),
                                         pieces(by_fov[fid], fid, ideal, prepare)):
            written = args.processed / args.split / "hr" / f"{pid}.png"
            hr_bad += not written.is_file() or not np.array_equal(read_png_rgb(written), hr)
            scores.append({"id": pid, "psnr": psnr(truth, hr), "ssim": ssim(truth, hr), **channel_psnr(truth, hr)})
    seconds = time.perf_counter() - t0
    if not scores:
        print(f"no {args.split} images in {args.processed / 'index.csv'}")
        return 1
    ceiling, bicubic = means(scores), bicubic_rows(args.metrics, {s["id"] for s in scores})
    print(f"{args.split}: {len(fovs)} fields of {size} px -> {len(scores)} HR images ({prepare.mode}, hr_size "
          f"{prepare.hr_size}); {seconds / len(fovs):.2f} s per field")
    print(f"{'':34} {'PSNR dB':>8} {'SSIM':>7} {'R dB':>7} {'G dB':>7} {'B dB':>7}")
    rows = [("ceiling: recorded HR vs noise-free", ceiling)]
    if bicubic:
        rows += [(f"bicubic ({len(bicubic)} of these ids)", means(bicubic)),
                 ("gap: ceiling - bicubic", {k: ceiling[k] - means(bicubic)[k] for k in KEYS})]
    for name, m in rows:
        print(f"{name:34} {m['psnr']:8.2f} {m['ssim']:7.4f} {m['psnr_r']:7.2f} {m['psnr_g']:7.2f} {m['psnr_b']:7.2f}")
    if not bicubic:
        print(f"bicubic: none of these ids in {args.metrics}")
    checked = f"{raw_bad} of {raw_checked} fields differ ({len(fovs) - raw_checked} without TIFFs)"
    print(f"guards: simulated stains vs {args.raw}: {checked}; recorded 8-bit vs {args.split}/hr: "
          f"{hr_bad} of {len(scores)} differ")
    return int(raw_bad > 0 or hr_bad > 0)


if __name__ == "__main__":
    sys.exit(main())
