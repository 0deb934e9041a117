"""Peak memory of `python -m msrgan upscale` against field size: 16-bit single-channel TIFF fields of growing side,
each upscaled 4x by a fresh process whose peak resident set size is printed with the time and whether the output was
streamed (computed in strips, written as a tiled TIFF) or held whole.

    python benchmarks/memory.py [--sides 1024 2048 4096 8192] [--model data/models/generator.pt] [--keep DIR]

The generator is the pipeline's default size (train_srresnet blocks/channels/norm/upsample from params.yaml) with
random weights unless --model names a trained one: memory and time do not depend on the weights. Target (issue 10):
an 8192x8192 field under 1.5 GB. The input is compressed (zlib), so it is decoded into a memory-mapped temporary
file rather than read whole; the peak includes the Python, torch and OpenCV runtime (about 0.3 GB). The peak is the
child's own VmHWM, not ru_maxrss: Linux carries the parent's peak into a child started by (v)fork + exec, and this
parent holds torch and the field.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import tifffile
import torch
import yaml

from msrgan.models.generator import Generator, GeneratorConfig
from msrgan.models.generatorfile import save_generator

CHILD = """
import json, sys
from msrgan.cli import main
status = main(["upscale", *sys.argv[1:], "--quiet"])
peak = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0])   # kB
print(json.dumps({"status": status, "peak_mb": peak / 1024}))
"""


def default_generator(path: Path, params: Path = Path("params.yaml")) -> None:
    """A randomly initialised generator of the pipeline's default architecture, saved to `path`."""
    section = (yaml.safe_load(params.read_text()) or {}).get("train_srresnet", {}) if params.is_file() else {}
    keys = ("blocks", "channels", "residual", "norm", "res_scale", "upsample")
    config = GeneratorConfig(**{k: section[k] for k in keys if k in section})
    torch.manual_seed(0)
    save_generator(path, Generator(config), percentiles=[0.1, 99.9])


def field(side: int, seed: int = 0) -> np.ndarray:
    """A side x side uint16 field of blurred blobs, made in 1024-row bands so that making it stays small."""
    rng = np.random.default_rng(seed)
    out = np.empty((side, side), np.uint16)
    for y in range(0, side, 1024):
        band = cv2.GaussianBlur(rng.random((min(1024, side - y), side), dtype=np.float32), (0, 0), 4)
        out[y:y + band.shape[0]] = np.clip((band - 0.45) * 8, 0, 1) * 60000 + 500
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sides", type=int, nargs="+", default=[1024, 2048, 4096, 8192])
    ap.add_argument("--model", type=Path, help="a generator file (default: random weights, default size)")
    ap.add_argument("--keep", type=Path, help="keep inputs and outputs here (default: a temporary folder)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        model = args.model or work / "generator.pt"
        if args.model is None:
            default_generator(model)
        print(f"{'field':>11}{'input MB':>10}{'output MB':>11}{'peak RSS MB':>13}{'seconds':>9}  output")
        for side in args.sides:
            src = work / f"field{side}.tif"
            tifffile.imwrite(src, field(side), compression="zlib")
            start = time.perf_counter()
            run = subprocess.run([sys.executable, "-c", CHILD, str(src), "--model", str(model), "--out",
                                  str(work / "out")], capture_output=True, text=True)
            seconds = time.perf_counter() - start
            if run.returncode != 0 or not run.stdout.strip():
                raise SystemExit(f"{side}: upscale failed: {(run.stderr or run.stdout).strip()[-300:]}")
            result = json.loads(run.stdout.strip().splitlines()[-1])
            if result["status"] != 0:
                raise SystemExit(f"{side}: upscale failed: {run.stderr.strip()[-300:]}")
            peak = result["peak_mb"]
            with tifffile.TiffFile(work / "out" / src.name) as tif:
                layout = "tiled (streamed)" if tif.pages[0].is_tiled else "whole"
            print(f"{side:>5}x{side:<5}{side * side * 2 / 2**20:>10.0f}{16 * side * side * 2 / 2**20:>11.0f}"
                  f"{peak:>13.0f}{seconds:>9.1f}  {layout}", flush=True)
            (work / "out" / src.name).unlink()


if __name__ == "__main__":
    main()
