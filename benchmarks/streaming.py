"""Peak memory and crops per second of the streamed training split (tiles mode) against the number of fields: the
memory must stay flat as the split grows.

    python benchmarks/streaming.py [--fields 50 200 1000 2000] [--size 2048] [--distinct 8] [--batch 16]
                                   [--workers 2] [--crops-per-field 1 4] [--warmup 5] [--iterations 50]
                                   [--work DIR]

--distinct simulated fields (msrgan.data.simulator, seeded) of --size px are merged to 8-bit RGB as merge does and
given their LR as prepare does (mode tiles, degradation microscope), once, cached in --work (default: a temporary
folder). For each N of --fields a processed folder in prepare's tiles-mode layout (index.csv, domain.json: 96 px HR
tiles, scale 4, tile_min_foreground 0.05) gets N train rows whose PNGs are hard links to the distinct fields, and a
fresh process reads it as train_srresnet would (msrgan.train.dataset.training_split: batches of random 24 px LR crops
and their 96 px HR, read by --workers spawned DataLoader processes, train_*.crops_per_field crops per field read,
each value of --crops-per-field in turn): --warmup batches, then --iterations timed.

How to read it: disk and page cache hold only the distinct fields, so what is measured is the training data path's
own memory, which must not grow with N: the peak resident set (VmHWM) of the training process and of its largest
DataLoader worker, in MiB, both including the Python and torch runtime (about 300 MiB); not ru_maxrss, which a
process started by (v)fork + exec inherits from its parent. crops/s is what the loader delivers to a trainer that
takes no time itself (its ceiling); each read decodes a whole field, for crops_per_field crops. "in memory" is
COMPUTED, not measured: what the old approach (the split's foreground tiles as uint8 tensors, HR 96x96x3 + LR
24x24x3 bytes each) would hold for N such fields.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from msrgan.classes import format_labels  # noqa: E402
from msrgan.data.merge import stain_to_uint8  # noqa: E402
from msrgan.data.prepare import domain, foreground_tiles, make_lr  # noqa: E402
from msrgan.data.processed import INDEX_COLUMNS  # noqa: E402
from msrgan.data.simulator import simulate_fov  # noqa: E402
from msrgan.imageio import write_png  # noqa: E402
from msrgan.params import Merge, Prepare  # noqa: E402

from training import cpu_isa  # noqa: E402  (a sibling benchmark script)

PREPARE = Prepare(mode="tiles", hr_size=96, scale=4, tile_min_foreground=0.05, degradation="microscope")

CHILD = """
import json, multiprocessing, sys, time
sys.path.insert(0, sys.argv[1])
from msrgan.params import TrainSRResNet
from msrgan.train.dataset import training_split
processed, (batch, workers, warmup, iterations, crops) = sys.argv[2], map(int, sys.argv[3:8])
params = TrainSRResNet(batch_size=batch, workers=workers, iterations=warmup + iterations, crops_per_field=crops)
data = training_split(processed, params, seed=0)
for it in range(warmup):
    data(it)
start = time.perf_counter()
for it in range(warmup, warmup + iterations):
    hr, lr, labels = data(it)
seconds = time.perf_counter() - start
assert hr.shape == (batch, 3, 96, 96) and lr.shape == (batch, 3, 24, 24), (hr.shape, lr.shape)
def peak(pid):   # MiB: the process's own peak resident set
    status = open(f"/proc/{pid}/status").read()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024
loaders = [peak(p.pid) for p in multiprocessing.active_children()]   # the DataLoader workers, still alive
print(json.dumps({"seconds": seconds, "main": peak("self"), "worker": max(loaders, default=0)}))
"""


def distinct_fields(cache: Path, k: int, size: int, seed: int) -> list[tuple[Path, Path, str, int]]:
    """(HR png, LR png, labels, foreground tiles) of k simulated fields, made once and cached in `cache`."""
    cache.mkdir(parents=True, exist_ok=True)
    out = []
    for index in range(k):
        hr_path, lr_path = cache / f"{index}_hr.png", cache / f"{index}_lr.png"
        meta = cache / f"{index}.json"
        if not meta.is_file():
            print(f"simulating field {index + 1}/{k} ({size} px) ...", flush=True)
            fov = simulate_fov(size, seed, index)
            merge = Merge()
            rgb = cv2.merge([stain_to_uint8(fov.stains[c], merge, f"{fov.id}:{c}") for c in merge.rgb])
            write_png(hr_path, rgb, merge.png_compression)
            write_png(lr_path, make_lr(rgb, PREPARE, seed, fov.id))
            tiles = len(foreground_tiles(rgb, PREPARE.hr_size, PREPARE.tile_min_foreground))
            meta.write_text(json.dumps({"labels": format_labels(fov.labels), "tiles": tiles}))
        info = json.loads(meta.read_text())
        out.append((hr_path, lr_path, info["labels"], info["tiles"]))
    return out


def processed_folder(out: Path, fields: list[tuple[Path, Path, str, int]], n: int) -> None:
    """Prepare's tiles-mode layout with n train rows, their PNGs hard links to the distinct fields in turn."""
    shutil.rmtree(out, ignore_errors=True)
    for kind in ("hr", "lr"):
        (out / "train" / kind).mkdir(parents=True)
    rows = []
    for i in range(n):
        hr, lr, labels, _ = fields[i % len(fields)]
        sample = f"F{i:06d}"
        os.link(hr, out / "train" / "hr" / f"{sample}.png")
        os.link(lr, out / "train" / "lr" / f"{sample}.png")
        rows.append(dict(id=sample, split="train", labels=labels, fov=sample, nuclei_mask="", cell_mask=""))
    with open(out / "index.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, INDEX_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    (out / "domain.json").write_text(json.dumps(domain(PREPARE), indent=2) + "\n")


def cpu_name() -> str:
    lines = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").is_file() else []
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "unknown CPU")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fields", type=int, nargs="+", default=[50, 200, 1000, 2000], help="train split sizes N")
    ap.add_argument("--size", type=int, default=2048, help="field side in px")
    ap.add_argument("--distinct", type=int, default=8, help="distinct simulated fields the N rows link to")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2, help="DataLoader processes (0: the training process reads)")
    ap.add_argument("--crops-per-field", type=int, nargs="+", default=[1, 4], help="crops per field read")
    ap.add_argument("--warmup", type=int, default=5, help="batches before the timing (starts the workers)")
    ap.add_argument("--iterations", type=int, default=50, help="timed batches")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, help="cache the simulated fields here and reuse them (default: temporary)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        fields = distinct_fields(work / f"fields-{args.size}-seed{args.seed}", args.distinct, args.size, args.seed)
        tiles = sum(f[3] for f in fields) / len(fields)
        tile_bytes = PREPARE.hr_size ** 2 * 3 + (PREPARE.hr_size // PREPARE.scale) ** 2 * 3
        print(f"CPU: {cpu_name()}, {os.cpu_count()} cores ({cpu_isa()})")
        print(f"{args.distinct} distinct {args.size} px fields ({tiles:.0f} foreground 96 px tiles each on average), "
              f"hard-linked N times: disk and page cache hold {args.distinct} fields, not N")
        print(f"batch {args.batch} crops of 24 px LR / 96 px HR, {args.workers} worker(s), {args.warmup} warm-up + "
              f"{args.iterations} timed batches; peaks include the Python + torch runtime")
        print(f"{'fields N':>9}{'crops/read':>11}{'crops/s':>9}{'s/batch':>9}{'main peak MiB':>15}"
              f"{'worker peak MiB':>17}"
              f"{'in memory GiB (computed)':>26}")
        for n in args.fields:
            processed = work / f"processed-{n}"
            processed_folder(processed, fields, n)
            for crops in args.crops_per_field:
                run = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), str(processed), str(args.batch),
                                      str(args.workers), str(args.warmup), str(args.iterations), str(crops)],
                                     capture_output=True, text=True)
                if run.returncode != 0 or not run.stdout.strip():
                    raise SystemExit(f"N={n}: failed: {(run.stderr or run.stdout).strip()[-500:]}")
                r = json.loads(run.stdout.strip().splitlines()[-1])
                worker = f"{r['worker']:.0f}" if args.workers else "-"
                print(f"{n:>9}{crops:>11}{args.batch * args.iterations / r['seconds']:>9.1f}"
                      f"{r['seconds'] / args.iterations:>9.2f}{r['main']:>15.0f}{worker:>17}"
                      f"{n * tiles * tile_bytes / 2**30:>26.2f}", flush=True)
            shutil.rmtree(processed)


if __name__ == "__main__":
    main()
