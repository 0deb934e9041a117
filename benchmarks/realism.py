"""How realistic the synthetic source is: simulate, merge and prepare the paper's way, compare with real CYTO2017 tiles.

Usage: python benchmarks/realism.py [n_fov] [--size S] [--keep DIR]
Simulates n_fov FOVs (default 60) with fetch.synthetic from params.yaml into a temporary folder (or DIR), runs the
pipeline's own merge and prepare on them with params.yaml's settings (every FOV into the train split) and runs
/work/shared/tools/realism_stats.py (or ../shared/tools/realism_stats.py) on the HR tiles. Also prints the spectral
slope per channel, the share of spectral energy beyond a quarter of Nyquist and the simulation time. Exit status: the
tool's.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from msrgan.data.merge import merge  # noqa: E402
from msrgan.data.prepare import prepare  # noqa: E402
from msrgan.data.simulator import simulate  # noqa: E402
from msrgan.imageio import read_png_rgb  # noqa: E402
from msrgan.params import SplitFractions, section  # noqa: E402

TOOL_CANDIDATES = (ROOT.parent / "shared/tools/realism_stats.py", Path("/work/shared/tools/realism_stats.py"))


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
    ap.add_argument("--keep", type=Path, help="work in this folder and keep it (raw/, merged/, processed/)")
    args = ap.parse_args()
    seed, fetch = section("fetch", ROOT / "params.yaml")
    params = fetch.synthetic.model_copy(update={"n_fov": args.n_fov, **({"size": args.size} if args.size else {})})
    _, merge_params = section("merge", ROOT / "params.yaml")
    _, prepare_params = section("prepare", ROOT / "params.yaml")
    all_train = prepare_params.model_copy(update={"split": SplitFractions(val=0, test=0)})
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        t0 = time.perf_counter()
        (work / "raw").mkdir(parents=True, exist_ok=True)
        simulate(params, seed, work / "raw")
        elapsed = time.perf_counter() - t0
        merge(merge_params, work / "raw", work / "merged")
        prepare(all_train, seed, work / "merged", work / "processed")
        tiles_dir = work / "processed" / "train" / "hr"
        ids = sorted(p.stem for p in tiles_dir.glob("*.png"))
        tiles = np.stack([read_png_rgb(tiles_dir / f"{i}.png") for i in ids])
        slopes, shares = spectrum(tiles)
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
