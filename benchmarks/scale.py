"""A whole screen on a Dask cluster: fields per second and peak memory per worker of `python -m msrgan upscale`
against the number of workers on this machine, and a computed plan for 10^5 fields on a GPU cluster.

    python benchmarks/scale.py [--fields 12] [--side 512] [--workers 1 2] [--model data/models/generator.pt]

The same `--fields` fields (3-stain 16-bit TIFFs of `--side` px, blurred blobs: the content does not change the
speed) are upscaled by a fresh `msrgan upscale` process each time: once in that process (the default, no Dask), then
with `--workers N` for each N (a LocalCluster of N processes sharing the cores: N=1 shows Dask's own cost). Each
run's outputs are checked byte-identical to the sequential run's. Columns: wall time of the whole command (Python
start, cluster start, model loading included); fields/s over the whole command, and in steady state (from the first
finished field to the last: what a long screen sees); the peak resident memory (VmHWM) of the process that
upscales, the largest over the workers for N >= 1, read from /proc while they run.

The plan is computed, not measured on a GPU: the generator's FLOPs per field (torch.utils.flop_counter over one
untiled forward pass, convolutions only, scaled by area to `--plan-side`), the efficiency the CPU reached here
(achieved GFLOP/s over the same-run bf16 2048x2048 matrix-product ceiling, the project's efficiency figure), and a
GPU's dense bf16 peak (`--gpu-tflops`, default 989: an H100/H200 SXM) at that efficiency and at `--gpu-efficiency`
(a lower bound for memory-bound 3x3 convolutions at 48 channels), with the disk bandwidth each GPU then needs.
The generator is the pipeline's default architecture (train_srresnet in params.yaml) with random weights unless
--model names a trained one: speed does not depend on the weights.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import psutil
import tifffile
import torch
from torch.utils.flop_counter import FlopCounterMode

from msrgan.models.generatorfile import load_generator

from memory import default_generator   # sibling benchmark script

CHILD = """
import json, sys
from msrgan.cli import main
status = main(["upscale", *sys.argv[1:]])
peak = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0])   # kB
print(json.dumps({"status": status, "peak_mb": peak / 1024}), flush=True)
"""


def screen(folder: Path, fields: int, side: int) -> None:
    """`fields` 3-stain uint16 side x side TIFF fields of blurred blobs."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(fields):
        rng = np.random.default_rng(i)
        blobs = cv2.GaussianBlur(rng.random((side, side, 3), dtype=np.float32), (0, 0), 4)
        field = (np.clip((blobs - 0.45) * 8, 0, 1) * 60000 + 500).astype(np.uint16)
        tifffile.imwrite(folder / f"field{i:03d}.tif", field, photometric="rgb", compression="zlib")


def vmhwm_mb(pid: int) -> float | None:
    try:
        return int(Path(f"/proc/{pid}/status").read_text().split("VmHWM:")[1].split()[0]) / 1024
    except (OSError, IndexError, ValueError):
        return None


def run(inputs: Path, model: Path, out: Path, workers: int | None) -> dict:
    """One `msrgan upscale` process; its wall time, finish times of the fields, and peak memory (of the process
    itself when it upscales in-process, else of each Dask worker process, polled from /proc while they run)."""
    extra = [] if workers is None else ["--workers", str(workers)]
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(inputs), "--model", str(model), "--out", str(out),
                              *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ, PYTHONUNBUFFERED="1"))
    peaks: dict[int, float] = {}
    done = threading.Event()

    def poll() -> None:
        parent = psutil.Process(child.pid)
        while not done.is_set():
            try:
                for proc in parent.children(recursive=True):
                    if "spawn_main" in " ".join(proc.cmdline()):   # a Dask worker process (multiprocessing spawn)
                        peak = vmhwm_mb(proc.pid)
                        if peak is not None:
                            peaks[proc.pid] = max(peaks.get(proc.pid, 0), peak)
            except psutil.Error:
                pass
            time.sleep(0.05)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    finished, result = [], None
    for line in child.stdout:
        if " -> " in line:
            finished.append(time.perf_counter() - start)
        elif line.startswith("{"):
            result = json.loads(line)
    stderr = child.stderr.read()
    child.wait()
    wall = time.perf_counter() - start
    done.set()
    poller.join()
    if child.returncode or result is None or result["status"] != 0:
        raise SystemExit(f"msrgan upscale failed:\n{stderr[-2000:]}")
    worker_peaks = sorted(peaks.values())
    return {"wall": wall, "finished": finished, "peak_mb": max(worker_peaks) if worker_peaks else result["peak_mb"],
            "processes": len(worker_peaks) or 1, "client_peak_mb": result["peak_mb"]}


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.tif"))}


def codec_seconds(src: Path, upscaled: Path, scratch: Path, repeats: int = 2) -> float:
    """CPU seconds (best of `repeats`) that one field's files cost around the network, as the command reads and
    writes them: decoding the input, and writing the upscaled copy like it (zlib TIFF) through its writer."""
    from msrgan.upscale.imagefile import read_input, write_output

    planes = read_input(upscaled).planes()
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        image = read_input(src)
        image.planes()
        write_output(scratch, image, image.with_alpha(planes, 4), 4)
        best = min(best, time.process_time() - start)
    return best


def matmul_ceiling(dtype: torch.dtype = torch.bfloat16, n: int = 2048, repeats: int = 10) -> float:
    """Same-run GFLOP/s of an n x n matrix product on all of this process's threads."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fields", type=int, default=12)
    ap.add_argument("--side", type=int, default=512)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--model", type=Path, help="a generator file (default: random weights, default size)")
    ap.add_argument("--plan-fields", type=float, default=1e5)
    ap.add_argument("--plan-side", type=int, default=2048, help="field side of the planned screen (CYTO2017: 2048)")
    ap.add_argument("--gpu-tflops", type=float, default=989.0, help="a GPU's dense bf16 peak, TFLOP/s")
    ap.add_argument("--gpu-efficiency", type=float, default=0.1, help="a pessimistic efficiency for the plan")
    ap.add_argument("--cores-per-gpu", type=int, default=8, help="CPU cores a GPU worker has for its files' codecs")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = args.model or tmp / "generator.pt"
        if args.model is None:
            default_generator(model)
        screen(tmp / "in", args.fields, args.side)
        rows = [("in-process", run(tmp / "in", model, tmp / "sequential", None))]
        reference = digests(tmp / "sequential")
        for n in args.workers:
            rows.append((f"--workers {n}", run(tmp / f"in", model, tmp / f"workers{n}", n)))
            if digests(tmp / f"workers{n}") != reference:
                raise SystemExit(f"--workers {n}: outputs differ from the sequential run's")
        codec = codec_seconds(tmp / "in" / "field000.tif", tmp / "sequential" / "field000.tif", tmp / "codec.tif")
        generator, _ = load_generator(model)
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            generator(torch.zeros(1, 3, 256, 256))
        gflop = counter.get_total_flops() / 1e9 * (args.side / 256) ** 2
        ceiling = matmul_ceiling()

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown CPU")
    print(f"{args.fields} fields of {args.side}x{args.side} px, 3 stains, uint16 -> {4 * args.side} px; "
          f"{os.cpu_count()} CPU(s): {cpu}; outputs byte-identical to the in-process run: yes")
    cfg = generator.config
    print(f"generator {cfg.blocks} blocks x {cfg.channels} channels: {gflop:.1f} GFLOP per field (untiled); "
          f"same-run bf16 2048x2048 matmul ceiling {ceiling:.0f} GFLOP/s")
    print(f"{'run':<12}{'processes':>10}{'wall s':>8}{'fields/s':>10}{'steady fields/s':>17}{'peak MB/worker':>16}"
          f"{'GFLOP/s':>9}")
    best = 0.0
    for name, r in rows:
        steady = (len(r["finished"]) - 1) / (r["finished"][-1] - r["finished"][0]) if len(r["finished"]) > 1 else 0
        best = max(best, steady)
        print(f"{name:<12}{r['processes']:>10}{r['wall']:>8.1f}{args.fields / r['wall']:>10.2f}{steady:>17.2f}"
              f"{r['peak_mb']:>16.0f}{steady * gflop:>9.0f}")
    clients = [r["client_peak_mb"] for name, r in rows if name != "in-process"]
    print(f"(the calling process, which starts the cluster and checks the model, peaked at {max(clients):.0f} MB)")
    efficiency = best * gflop / ceiling
    area = (args.plan_side / args.side) ** 2
    plan_gflop, plan_codec = gflop * area, codec * area
    in_mb, out_mb = args.plan_side**2 * 3 * 2 / 1e6, (4 * args.plan_side) ** 2 * 3 * 2 / 1e6
    print(f"\nComputed plan (not measured on a GPU) for {args.plan_fields:.0e} fields of {args.plan_side} px, 3 stains, "
          f"16 bit: {plan_gflop:.0f} GFLOP, {in_mb:.0f} MB in and {out_mb:.0f} MB out (uncompressed) and "
          f"{plan_codec:.1f} CPU-s of decoding and writing per field (measured here at {args.side} px, x area)")
    per_field = 1 / (best / area)
    print(f"  this machine: {per_field:.0f} s per field at its best steady rate, "
          f"{args.plan_fields * per_field / 86400:.0f} days for the screen; its efficiency "
          f"{100 * efficiency:.0f}% of the same-run bf16 matmul ceiling")
    print(f"  {'GPU at':<30}{'fields/s/GPU':>13}{'CPU cores/GPU':>14}{'disk MB/s/GPU':>14}" +
          "".join(f"{f'{g} GPU, h':>11}" for g in (1, 8, 32)))
    for label, eff in ((f"{100 * efficiency:.0f}% of {args.gpu_tflops:.0f} TFLOP/s (as here)", efficiency),
                       (f"{100 * args.gpu_efficiency:.0f}% of {args.gpu_tflops:.0f} TFLOP/s", args.gpu_efficiency)):
        rate = eff * args.gpu_tflops * 1e3 / plan_gflop
        print(f"  {label:<30}{rate:>13.2f}{rate * plan_codec:>14.0f}{rate * (in_mb + out_mb):>14.0f}" +
              "".join(f"{args.plan_fields / (rate * g) / 3600:>11.1f}" for g in (1, 8, 32)))
    rate = args.cores_per_gpu / plan_codec
    label = f"codecs on {args.cores_per_gpu} cores/GPU"
    print(f"  {label:<30}{rate:>13.2f}{args.cores_per_gpu:>14}{rate * (in_mb + out_mb):>14.0f}" +
          "".join(f"{args.plan_fields / (rate * g) / 3600:>11.1f}" for g in (1, 8, 32)))
    print("  (a GPU worker needs the CPU cores shown for its files' decoding and writing, or waits for them: with\n"
          f"   {args.cores_per_gpu} cores the last row binds; the disk must sustain the MB/s of all GPUs together)")


if __name__ == "__main__":
    main()
