"""Speed of `python -m msrgan upscale` on a 512x512 field, beside a plain eager fp32 SRResNet of the paper's size.

    python benchmarks/upscale.py [--model data/models/generator.pt] [--rounds 2]

The whole command (read, normalise, tiled bf16/channels_last prediction, blend, write) runs in-process after a warm-up
(imports and interpreter start excluded: they are printed apart), alternating with the reference, a 16-block
64-channel SRResNet in eager fp32 on the same 512x512 input in one forward pass (its read/write not counted); the
best of `rounds` each, since the machine is shared. The generator is the pipeline's default size (train_srresnet
blocks/channels from params.yaml, else 8/48) with random weights unless --model names a trained one. Also prints how
far the default (bf16 where supported) output is from an fp32 run of the same command.
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
import yaml

from msrgan.cli import main as msrgan_main
from msrgan.models.generator import Generator, GeneratorConfig, save_generator

SIDE = 512


def pipeline_size(params: Path = Path("params.yaml")) -> tuple[int, int]:
    section = (yaml.safe_load(params.read_text()) or {}).get("train_srresnet", {}) if params.is_file() else {}
    return int(section.get("blocks", 8)), int(section.get("channels", 48))


def test_field(seed: int = 0) -> np.ndarray:
    """A 512x512 RGB uint8 field with microscopy-like blobs and texture (content does not change the speed)."""
    rng = np.random.default_rng(seed)
    field = cv2.GaussianBlur(rng.random((SIDE, SIDE, 3), dtype=np.float32), (0, 0), 3)
    field = (field - field.min()) / (field.max() - field.min())
    return (np.clip(field * 1.6 - 0.3, 0, 1) * 255).astype(np.uint8)


def run_command(image: Path, model: Path, out: Path, *extra: str) -> float:
    start = time.perf_counter()
    status = msrgan_main(["upscale", str(image), "--model", str(model), "--out", str(out), "--quiet", *extra])
    if status != 0:
        raise SystemExit(f"upscale failed with status {status}")
    return time.perf_counter() - start


def run_reference(model: torch.nn.Module, x: torch.Tensor) -> float:
    start = time.perf_counter()
    with torch.no_grad():
        model(x)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a trained generator (default: data/models/generator.pt if present, else a "
                                        "random one of the pipeline's size)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        image = tmp / "field.png"
        cv2.imwrite(str(image), cv2.cvtColor(test_field(), cv2.COLOR_RGB2BGR))
        model_path = Path(args.model or "data/models/generator.pt")
        if args.model is None and not model_path.is_file():
            blocks, channels = pipeline_size()
            generator = Generator(GeneratorConfig(blocks=blocks, channels=channels))
            torch.nn.init.normal_(generator.tail.weight, std=0.01)  # a non-trivial correction over bicubic
            model_path = tmp / "generator.pt"
            save_generator(model_path, generator)
            label = f"random {blocks} blocks / {channels} channels (params.yaml train_srresnet)"
        else:
            cfg = torch.load(model_path, map_location="cpu", weights_only=True)["config"]
            label = f"{model_path} ({cfg['blocks']} blocks / {cfg['channels']} channels)"
        reference = Generator(GeneratorConfig(blocks=16, channels=64, residual=False)).eval()
        x = torch.from_numpy(test_field()).permute(2, 0, 1)[None].float().div(255)

        run_command(image, model_path, tmp / "warm", "--tile", "64", "--overlap", "8")  # imports, first-call setup
        run_reference(reference, x[..., :64, :64])
        ours, ref = [], []
        for _ in range(args.rounds):
            ours.append(run_command(image, model_path, tmp / "out"))
            ref.append(run_reference(reference, x))
        fp32 = run_command(image, model_path, tmp / "fp32", "--precision", "fp32")
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "msrgan", "upscale", str(image), "--model", str(model_path),
                        "--out", str(tmp / "cold"), "--quiet"], check=True)
        cold = time.perf_counter() - start

        out_mp = (4 * SIDE) ** 2 / 1e6
        a = cv2.imread(str(tmp / "out" / "field.png")).astype(np.float64)
        b = cv2.imread(str(tmp / "fp32" / "field.png")).astype(np.float64)
        mse = np.mean((a - b) ** 2)
        print(f"512x512 RGB field -> 2048x2048 ({out_mp:.2f} output MP), torch threads {torch.get_num_threads()}")
        print(f"  msrgan upscale, whole command in-process   {min(ours):6.2f} s  {out_mp / min(ours):6.2f} MP/s"
              f"   [{label}; default tile/overlap/precision]")
        print(f"  reference SRResNet 16x64, eager fp32        {min(ref):6.2f} s  {out_mp / min(ref):6.2f} MP/s")
        print(f"  speed-up over the reference                 {min(ref) / min(ours):6.2f} x")
        print(f"  same command with --precision fp32          {fp32:6.2f} s  {out_mp / fp32:6.2f} MP/s")
        print(f"  as a fresh process (python start, imports)  {cold:6.2f} s")
        print(f"  default vs fp32 output (8-bit levels): max {np.abs(a - b).max():.0f}, "
              f"{100 * np.mean(a != b):.2f}% of values differ, PSNR "
              f"{'inf' if mse == 0 else f'{10 * np.log10(255 ** 2 / mse):.1f}'} dB")


if __name__ == "__main__":
    main()
