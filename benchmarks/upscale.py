"""Speed of `python -m msrgan upscale` on a 512x512 and a 2048x2048 field against plain eager fp32 PyTorch running the
*same* generator on the same input in the same run, and both as achieved GFLOP/s beside the same-run matrix-product
ceilings.

    python benchmarks/upscale.py [--model data/models/generator.pt] [--sides 512 2048] [--rounds 2] [--profile]
                                 [--compile]

The whole command (read, normalise, tiled bf16/channels_last prediction, blend, write) runs in-process after a warm-up
(interpreter start and imports are printed apart); the reference loads the same generator file as it was trained
(BatchNorm, if any, not folded), in fp32, eager, and predicts the same field in 128-pixel tiles with the same blend
(its read/write not counted); the best of `rounds` each at 512 (one round at larger sides), since the machine may be
shared. The generator is the pipeline's default architecture (train_srresnet in params.yaml) with random weights
unless --model names a trained one. FLOPs: torch.utils.flop_counter over one untiled forward pass of a 512 field
(convolutions only, as usual), scaled by area. Also prints the CPU's bf16 instruction sets and how far the default
(bf16 where supported) output is from an fp32 run. --profile: the operators that take the command's CPU time
(torch.profiler). --compile: the command's tiles alone, eager and with `--compile` (torch.compile), compiling apart.
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
import torch
from torch.utils.flop_counter import FlopCounterMode

from msrgan.cli import main as msrgan_main
from msrgan.models.generator import receptive_radius
from msrgan.models.generatorfile import load_generator
from msrgan.upscale.tiling import TILE, predict_tiled

from memory import default_generator   # sibling benchmark scripts
from training import cpu_isa, matmul_gflops, top_operators

def test_field(side: int, seed: int = 0) -> np.ndarray:
    """A side x side RGB uint8 field with microscopy-like blobs and texture (content does not change the speed)."""
    rng = np.random.default_rng(seed)
    field = cv2.GaussianBlur(rng.random((side, side, 3), dtype=np.float32), (0, 0), 3)
    field = (field - field.min()) / (field.max() - field.min())
    return (np.clip(field * 1.6 - 0.3, 0, 1) * 255).astype(np.uint8)


def run_command(image: Path, model: Path, out: Path, *extra: str) -> float:
    start = time.perf_counter()
    status = msrgan_main(["upscale", str(image), "--model", str(model), "--out", str(out), "--quiet", *extra])
    if status != 0:
        raise SystemExit(f"upscale failed with status {status}")
    return time.perf_counter() - start


def run_reference(model: torch.nn.Module, x: np.ndarray) -> float:
    """Eager fp32: the generator as loaded, in 128-pixel tiles with the command's overlap and blend."""
    start = time.perf_counter()
    with torch.no_grad():
        predict_tiled(model, x, 4, tile=128, overlap=receptive_radius(model.config))
    return time.perf_counter() - start


def tiles_seconds(model_path: Path, x: np.ndarray, compile: bool) -> tuple[float, float]:
    """(first call, a later call) of the command's own predictor (msrgan.upscale.inference.predictor) on the tiles of
    `x`, eager or through torch.compile: the prediction alone, without reading, normalising and writing."""
    from msrgan.upscale.inference import load_for_inference, predictor
    generator, _, runtime = load_for_inference(str(model_path))
    predict = predictor(generator, runtime, compile=compile)
    radius = receptive_radius(generator.config)
    times = []
    for _ in range(2):
        start = time.perf_counter()
        predict_tiled(predict, x, 4, tile=TILE, overlap=radius)
        times.append(time.perf_counter() - start)
    return times[0], times[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a trained generator (default: data/models/generator.pt if present, else a "
                                        "random one of the pipeline's size)")
    parser.add_argument("--sides", type=int, nargs="+", default=[512, 2048])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model_path = Path(args.model or "data/models/generator.pt")
        if args.model is None and not model_path.is_file():
            model_path = tmp / "generator.pt"
            default_generator(model_path)
        reference, _ = load_generator(model_path)
        cfg = reference.config
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            reference(torch.zeros(1, 3, 512, 512))
        gflop_512 = counter.get_total_flops() / 1e9
        ceiling_bf16, ceiling_fp32 = matmul_gflops(torch.bfloat16), matmul_gflops(torch.float32)
        print(f"{model_path.name}: {cfg.blocks} blocks x {cfg.channels} channels, {cfg.upsample} upsampling")
        print(f"CPU: {cpu_isa()}; torch threads {torch.get_num_threads()}; same-run 2048x2048 matmul ceiling: "
              f"bf16 {ceiling_bf16:.0f} GFLOP/s, fp32 {ceiling_fp32:.0f} GFLOP/s")
        for side in args.sides:
            one_side(side, model_path, reference, tmp, args, gflop_512 * (side / 512) ** 2, ceiling_bf16,
                     ceiling_fp32)


def one_side(side: int, model_path: Path, reference: torch.nn.Module, tmp: Path, args, gflop: float,
             ceiling_bf16: float, ceiling_fp32: float) -> None:
    image = tmp / f"field{side}.png"
    field = test_field(side)
    cv2.imwrite(str(image), cv2.cvtColor(field, cv2.COLOR_RGB2BGR))
    x = torch.from_numpy(field).permute(2, 0, 1)[None].float().div(255).numpy()
    run_command(image, model_path, tmp / "warm", "--tile", "64", "--overlap", "8")  # imports, first-call setup
    run_reference(reference, x[..., :64, :64])
    rounds = args.rounds if side <= 512 else 1
    ours, ref = [], []
    for _ in range(rounds):
        ours.append(run_command(image, model_path, tmp / "out"))
        ref.append(run_reference(reference, x))
    fp32 = run_command(image, model_path, tmp / "fp32", "--precision", "fp32")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "msrgan", "upscale", str(image), "--model", str(model_path),
                    "--out", str(tmp / "cold"), "--quiet"], check=True)
    cold = time.perf_counter() - start

    out_mp = (4 * side) ** 2 / 1e6
    a = cv2.imread(str(tmp / "out" / image.name)).astype(np.float64)
    b = cv2.imread(str(tmp / "fp32" / image.name)).astype(np.float64)
    mse = np.mean((a - b) ** 2)

    def line(what: str, seconds: float) -> str:
        return (f"  {what:<44}{seconds:7.2f} s  {out_mp / seconds:6.2f} MP/s  {gflop / seconds:6.0f} GFLOP/s "
                f"({100 * gflop / seconds / ceiling_bf16:.0f}% of bf16, {100 * gflop / seconds / ceiling_fp32:.0f}% "
                f"of fp32 ceiling)")
    print(f"{side}x{side} RGB field -> {4 * side}x{4 * side} ({out_mp:.2f} output MP), {gflop:.0f} GFLOP")
    print(line("msrgan upscale, whole command in-process", min(ours)))
    print(line("same generator, eager fp32, 128-px tiles", min(ref)))
    print(f"  speed-up over eager fp32 of the same generator {min(ref) / min(ours):5.2f} x")
    print(line("msrgan upscale --precision fp32", fp32))
    print(f"  as a fresh process (python start, imports)  {cold:7.2f} s")
    print(f"  default vs fp32 output (8-bit levels): max {np.abs(a - b).max():.0f}, "
          f"{100 * np.mean(a != b):.2f}% of values differ, PSNR "
          f"{'inf' if mse == 0 else f'{10 * np.log10(255 ** 2 / mse):.1f}'} dB")
    if args.compile:
        print(line("the command's tiles alone, eager", tiles_seconds(model_path, x, compile=False)[1]))
        first, later = tiles_seconds(model_path, x, compile=True)
        print(line("the command's tiles alone, --compile", later))
        print(f"  (compiling and the first call: {first:.1f} s)")
    if args.profile:
        print("  the whole command's operators by self CPU time, by input shape ([N, C, H, W], weight):")
        print(top_operators(lambda: run_command(image, model_path, tmp / "prof"), count=10, repeats=1,
                            by_shape=True))


if __name__ == "__main__":
    main()
