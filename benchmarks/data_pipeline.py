"""Throughput of merge + prepare in FOVs/s beside the same-run floor: just reading the stains and resizing them.

Usage: python benchmarks/data_pipeline.py [N] [--size S] [--workers W] [--keep DIR]
Writes N (default 16) fields of view of 4 uint16 stains, S x S (default 2048), as deflate TIFFs like the synthetic
source, then times
  floor:    read the 3 stains merge uses and cv2.resize each to 96x96 (INTER_CUBIC): no normalisation, no PNG, no split
  pipeline: msrgan merge (16 -> 8 bit, RGB PNG) + prepare (96x96 HR, 24x24 LR, index.csv) with params.yaml defaults
both with the same number of threads, and prints FOVs/s for each and their ratio (goal: pipeline within 1.3x).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import tifffile

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from msrgan.data.merge import merge  # noqa: E402
from msrgan.data.prepare import prepare  # noqa: E402
from msrgan.data.raw import COLOURS  # noqa: E402
from msrgan.imageio import read_image  # noqa: E402
from msrgan.params import parse_section  # noqa: E402


def write_fields(raw: Path, n: int, size: int, seed: int = 0) -> None:
    """Blobby cells with noise on a dark background, 12-bit range in uint16, written like the synthetic source."""
    rng = np.random.default_rng(seed)
    (raw / "images").mkdir(parents=True)
    for i in range(n):
        for colour in COLOURS:
            coarse = rng.random((size // 32, size // 32)).astype(np.float32)
            field = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC).clip(0, 1) ** 3
            image = (field * 3000 + 100 + rng.normal(0, 30, (size, size)).astype(np.float32)).clip(0, 65535)
            tifffile.imwrite(raw / "images" / f"B{i:03d}_{colour}.tif", image.astype(np.uint16),
                             compression="zlib", compressionargs={"level": 1}, predictor=True)
    (raw / "labels.csv").write_text("id,labels\n" + "".join(f"B{i:03d},{i % 13}\n" for i in range(n)))


def floor(raw: Path, n: int, hr_size: int, workers: int) -> float:
    def one(i: int) -> None:
        for colour in ("red", "green", "blue"):
            cv2.resize(read_image(raw / "images" / f"B{i:03d}_{colour}.tif"), (hr_size, hr_size),
                       interpolation=cv2.INTER_CUBIC)

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, range(n)))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=16, help="fields of view (default 16)")
    parser.add_argument("--size", type=int, default=2048, help="FOV side in pixels (default 2048)")
    parser.add_argument("--workers", type=int, default=None, help="threads (default: as merge/prepare choose)")
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    args = parser.parse_args()
    workers = args.workers or min(4, os.cpu_count() or 1, args.n)
    with tempfile.TemporaryDirectory() as scratch:
        work = args.keep or Path(scratch)
        print(f"writing {args.n} FOVs of 4 x {args.size}x{args.size} uint16 deflate TIFFs ...", flush=True)
        write_fields(work / "raw", args.n, args.size)
        prep = parse_section("prepare", {"split": {"val": 0.1, "test": 0.15}})
        floor(work / "raw", min(2, args.n), prep.hr_size, workers)          # warm the page cache and the codecs
        t_floor = floor(work / "raw", args.n, prep.hr_size, workers)
        start = time.perf_counter()
        merge(parse_section("merge", {}), work / "raw", work / "merged", workers=workers)
        t_merge = time.perf_counter() - start
        start = time.perf_counter()
        prepare(prep, 0, work / "merged", work / "processed", workers=workers)
        t_prepare = time.perf_counter() - start
    t_pipe = t_merge + t_prepare
    print(f"threads {workers}, {args.n} FOVs of {args.size}x{args.size}")
    print(f"floor (read 3 stains + cv2.resize): {args.n / t_floor:6.2f} FOVs/s ({t_floor:.2f} s)")
    print(f"merge + prepare:                    {args.n / t_pipe:6.2f} FOVs/s ({t_pipe:.2f} s: merge {t_merge:.2f} s, "
          f"prepare {t_prepare:.2f} s)")
    print(f"ratio pipeline / floor time: {t_pipe / t_floor:.2f}x (goal <= 1.3x)")


if __name__ == "__main__":
    main()
