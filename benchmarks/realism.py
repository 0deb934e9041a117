"""How realistic the synthetic source is: simulate, merge and prepare the paper's way, compare with real CYTO2017 tiles.

Usage: python benchmarks/realism.py [n_fov] [--size S] [--keep DIR]
Simulates n_fov FOVs (default 60) with fetch.synthetic from params.yaml into a temporary folder, emulates merge
(per stain 16 -> 8 bit: clip((x - p0.1) / (p99.9 - p0.1), 0, 1) * 255, percentiles over a random subsample of 262144
pixels) and prepare (cv2.resize of the whole FOV to 96x96, INTER_CUBIC), writes the tiles as PNG and runs
/work/shared/tools/realism_stats.py (or ../shared/tools/realism_stats.py) on them. Also prints the spectral slope per
channel, the share of spectral energy beyond a quarter of Nyquist and the simulation time. Exit status: the tool's.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from msrgan.data.synthetic import simulate  # noqa: E402
from msrgan.imageio import read_image  # noqa: E402
from msrgan.params import section  # noqa: E402

TOOL_CANDIDATES = (ROOT.parent / "shared/tools/realism_stats.py", Path("/work/shared/tools/realism_stats.py"))


def to_8bit(x: np.ndarray, rng: np.random.Generator, n_sample: int = 262144, pct=(0.1, 99.9)) -> np.ndarray:
    flat = x.ravel()
    if flat.size > n_sample:
        flat = flat[rng.choice(flat.size, n_sample, replace=False)]
    lo, hi = np.percentile(flat, pct)
    y = np.clip((x.astype(np.float64) - lo) / max(hi - lo, 1e-9), 0, 1) * 255
    return np.rint(y).astype(np.uint8)


def spectrum(tiles: np.ndarray) -> tuple[list[float], list[float]]:
    """Per channel: slope of the radially averaged power spectrum (log-log, all radii up to Nyquist, no DC) and
    the share of the non-DC spectral energy beyond a quarter of Nyquist."""
    n = tiles.shape[1]
    f = np.fft.fftfreq(n)
    r = np.hypot(*np.meshgrid(f, f, indexing="ij"))
    bins = np.arange(1, n // 2 + 1)
    rb = np.rint(r * n).astype(int)
    slopes, shares = [], []
    for c in range(3):
        x = tiles[..., c].astype(np.float64)
        x = x - x.mean(axis=(1, 2), keepdims=True)
        p = (np.abs(np.fft.fft2(x)) ** 2).mean(0)
        radial = np.array([p[rb == k].mean() for k in bins])
        slopes.append(float(np.polyfit(np.log(bins / n), np.log(radial), 1)[0]))
        shares.append(float(p[r > 0.125].sum() / p[r > 0].sum()))
    return slopes, shares


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n_fov", nargs="?", type=int, default=60)
    ap.add_argument("--size", type=int, help="FOV side (default: params.yaml)")
    ap.add_argument("--keep", type=Path, help="also write the 96x96 tiles here (and the merged FOVs in DIR/merged)")
    args = ap.parse_args()
    seed, fetch = section("fetch", ROOT / "params.yaml")
    params = fetch.synthetic.model_copy(update={"n_fov": args.n_fov, **({"size": args.size} if args.size else {})})
    with tempfile.TemporaryDirectory() as tmp:
        raw, tiles_dir = Path(tmp) / "raw", Path(args.keep or Path(tmp) / "tiles")
        raw.mkdir()
        tiles_dir.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        simulate(params, seed, raw)
        elapsed = time.perf_counter() - t0
        rng = np.random.default_rng(seed)
        ids = sorted(p.name[: -len("_red.tif")] for p in (raw / "images").glob("*_red.tif"))
        tiles = []
        for i in ids:
            rgb = np.dstack([to_8bit(read_image(raw / "images" / f"{i}_{c}.tif"), rng)
                             for c in ("red", "green", "blue")])
            hr = cv2.resize(rgb, (96, 96), interpolation=cv2.INTER_CUBIC)
            tiles.append(hr)
            cv2.imwrite(str(tiles_dir / f"{i}.png"), hr[:, :, ::-1])
            if args.keep:
                (tiles_dir / "merged").mkdir(exist_ok=True)
                cv2.imwrite(str(tiles_dir / "merged" / f"{i}.png"), rgb[:, :, ::-1])
        slopes, shares = spectrum(np.stack(tiles))
        print(f"simulated {len(ids)} FOVs of {params.size}x{params.size} in {elapsed:.1f} s "
              f"({elapsed / len(ids):.3f} s/FOV with {params.workers} workers)")
        print(f"spectral slope RGB {np.round(slopes, 2).tolist()} (real about [-2.3, -2.3, -2.7]); "
              f"energy beyond 1/4 Nyquist RGB {np.round(shares, 2).tolist()} (real about 0.2)")
        tool = next((t for t in TOOL_CANDIDATES if t.is_file()), None)
        if tool is None:
            print("realism_stats.py not found (looked in ../shared/tools and /work/shared/tools)")
            return 1
        return subprocess.run([sys.executable, str(tool), str(tiles_dir)]).returncode


if __name__ == "__main__":
    sys.exit(main())
