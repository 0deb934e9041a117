"""Training throughput of the default mSRGAN setup (params.yaml): GAN iterations per second and achieved GFLOP/s,
beside the same-run bf16 (and fp32) 2048x2048 matrix-product ceiling.

    python benchmarks/training.py [--iterations 10] [--batch 16] [--size 96]

FLOPs are counted by torch.utils.flop_counter.FlopCounterMode over one full iteration (both forward and backward
passes of generator, discriminator and miniVGG19); convolutions and matrix products only, as usual.
"""
from __future__ import annotations

import argparse
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from msrgan.losses import ContentLoss, LossWeights
from msrgan.models.discriminator import Discriminator, DiscriminatorConfig
from msrgan.models.generator import Generator
from msrgan.models.minivgg import MiniVGG, MiniVGGConfig
from msrgan.params import section
from msrgan.train.device import pick_runtime
from msrgan.train.srgan import GanParts, gan_step
from msrgan.train.srresnet import generator_config


def matmul_gflops(dtype: torch.dtype, n: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    t = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - t) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--batch", type=int, default=None, help="default: train_srgan.batch_size")
    ap.add_argument("--size", type=int, default=96, help="HR side")
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    _, res = section("train_srresnet", args.params)
    _, vggp = section("train_vgg", args.params)
    _, gan = section("train_srgan", args.params)
    batch = args.batch or gan.batch_size
    rt = pick_runtime(gan.device, gan.precision, gan.channels_last)
    torch.manual_seed(0)
    generator = rt.model(Generator(generator_config(res, 4)))
    disc = rt.model(Discriminator(DiscriminatorConfig(gan.discriminator.channels, gan.discriminator.head,
                                                      gan.discriminator.dense, args.size)))
    content = ContentLoss(rt.model(MiniVGG(MiniVGGConfig(vggp.width))), gan.loss.content_blocks)
    parts = GanParts(generator, generator, disc, disc, content,
                     torch.optim.Adam(generator.parameters(), 1e-4), torch.optim.Adam(disc.parameters(), 1e-4),
                     LossWeights(gan.loss.alpha, gan.loss.beta, gan.loss.adversarial), gan.loss.gan_type)
    hr = rt.batch(torch.rand(batch, 3, args.size, args.size))
    lr = rt.batch(torch.nn.functional.interpolate(hr, scale_factor=0.25, mode="bicubic", align_corners=False))

    counter = FlopCounterMode(display=False)
    with counter:
        gan_step(parts, hr, lr, rt)
    flops = counter.get_total_flops()
    gan_step(parts, hr, lr, rt)  # warm-up
    t = time.perf_counter()
    for _ in range(args.iterations):
        gan_step(parts, hr, lr, rt)
    seconds = (time.perf_counter() - t) / args.iterations
    ceiling_bf16 = matmul_gflops(torch.bfloat16)
    ceiling_fp32 = matmul_gflops(torch.float32)
    print(f"device {rt.device}, precision {'bf16 autocast' if rt.dtype else 'fp32'}, channels_last "
          f"{rt.channels_last}, threads {torch.get_num_threads()}")
    print(f"generator {res.blocks} blocks x {res.channels} ch, discriminator {gan.discriminator.channels} ch "
          f"{gan.discriminator.head} head, miniVGG19 width {vggp.width}, batch {batch}, HR {args.size}x{args.size}")
    print(f"GAN iteration: {seconds * 1000:.0f} ms = {1 / seconds:.2f} it/s; {flops / 1e9:.1f} GFLOP per iteration")
    print(f"achieved {flops / seconds / 1e9:.0f} GFLOP/s; same-run 2048x2048 matmul ceiling: bf16 "
          f"{ceiling_bf16:.0f} GFLOP/s, fp32 {ceiling_fp32:.0f} GFLOP/s "
          f"({100 * flops / seconds / 1e9 / ceiling_bf16:.0f}% of the bf16 ceiling)")


if __name__ == "__main__":
    main()
