"""Training throughput of the three default trainers (params.yaml): one update of train_vgg, train_srresnet and
train_srgan each, per second and as achieved GFLOP/s beside the same-run bf16 and fp32 2048x2048 matrix-product
ceilings, with the CPU's bf16 instruction sets.

    python benchmarks/training.py [--iterations 10] [--size 96] [--profile]

An update is what the trainer's step does after its batch is drawn: forward under the section's precision, loss,
backward, optimizer step (msrgan.train.classifier.bce_update, msrgan.train.srresnet.pixel_update, msrgan.train.srgan.gan_step
with the frozen miniVGG19's content loss). FLOPs are counted by torch.utils.flop_counter.FlopCounterMode over one
update (forward and backward; convolutions and matrix products only, as usual). --profile adds, per trainer, the
operators that take the most CPU time (torch.profiler, self time over 3 updates).
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from msrgan.classes import CLASSES
from msrgan.losses import ContentLoss, LossWeights
from msrgan.models.discriminator import Discriminator, DiscriminatorConfig
from msrgan.models.generator import Generator
from msrgan.models.minivgg import MiniVGG, MiniVGGConfig
from msrgan.params import section
from msrgan.runtime import pick_runtime
from msrgan.train.srgan import GanParts, gan_step
from msrgan.train.srresnet import generator_config, pixel_update
from msrgan.train.classifier import bce_update


def matmul_gflops(dtype: torch.dtype, n: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    t = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - t) / 1e9


def cpu_isa() -> str:
    """What the CPU offers for bf16 (from /proc/cpuinfo), and the vector ISA PyTorch dispatches to."""
    flags = set()
    if Path("/proc/cpuinfo").is_file():
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    native = [name for flag, name in (("amx_bf16", "AMX-BF16"), ("avx512_bf16", "AVX512-BF16")) if flag in flags]
    return (f"{', '.join(native) or 'no native bf16'}; PyTorch CPU capability "
            f"{torch.backends.cpu.get_cpu_capability()}")


def top_operators(run: Callable[[], object], count: int = 6, repeats: int = 3, by_shape: bool = False) -> str:
    """The `count` operators with the most self CPU time over `repeats` calls of `run`, one line each with their
    share and calls per run; `by_shape`: each operator split by its input shapes (which layer holds it back)."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU], record_shapes=by_shape) as prof:
        for _ in range(repeats):
            run()
    events = sorted(prof.key_averages(group_by_input_shape=by_shape), key=lambda e: e.self_cpu_time_total,
                    reverse=True)
    total = sum(e.self_cpu_time_total for e in events) or 1
    lines = []
    for e in events[:count]:
        shapes = f" {[tuple(x) for x in e.input_shapes if x][:2]}" if by_shape else ""
        lines.append(f"      {(e.key + shapes)[:96]:<96} {100 * e.self_cpu_time_total / total:5.1f}%  "
                     f"x{e.count // repeats}")
    return "\n".join(lines)


def measure(update: Callable[[], object], iterations: int) -> tuple[float, float]:
    """(seconds per update, FLOPs per update)."""
    with FlopCounterMode(display=False) as counter:
        update()
    update()   # warm-up
    start = time.perf_counter()
    for _ in range(iterations):
        update()
    return (time.perf_counter() - start) / iterations, counter.get_total_flops()


def random_pair(rt, batch: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(HR, its 4x bicubic-smaller LR): a random batch on the runtime (content does not change the speed)."""
    hr = rt.batch(torch.rand(batch, 3, size, size))
    return hr, rt.batch(torch.nn.functional.interpolate(hr, scale_factor=0.25, mode="bicubic", align_corners=False))


def trainers(params: str, size: int) -> dict[str, tuple[str, Callable[[], object], object]]:
    """name -> (what it trains, one update, its runtime), each as the default params build it, on random data."""
    _, vgg = section("train_vgg", params)
    _, res = section("train_srresnet", params)
    _, gan = section("train_srgan", params)
    torch.manual_seed(0)
    out = {}

    rt = pick_runtime(vgg.device, vgg.precision, vgg.channels_last)
    net = rt.model(MiniVGG(MiniVGGConfig(vgg.width, len(CLASSES), vgg.dropout)))
    opt = torch.optim.AdamW(net.parameters(), lr=vgg.lr, weight_decay=vgg.weight_decay)
    hr = rt.batch(torch.rand(vgg.batch_size, 3, size, size))
    labels = (torch.rand(vgg.batch_size, len(CLASSES)) < 0.2).float()
    out["train_vgg"] = (f"miniVGG19 width {vgg.width}, batch {vgg.batch_size}",
                        lambda: bce_update(net, net, opt, hr, labels, torch.ones(len(CLASSES)), rt, vgg.grad_clip),
                        rt)

    rt = pick_runtime(res.device, res.precision, res.channels_last)
    generator = rt.model(Generator(generator_config(res, 4)))
    g_opt = torch.optim.Adam(generator.parameters(), lr=res.lr)
    hr_g, lr_g = random_pair(rt, res.batch_size, size)
    out["train_srresnet"] = (f"generator {res.blocks} blocks x {res.channels} ch, batch {res.batch_size}",
                             lambda: pixel_update(generator, generator, g_opt, lr_g, hr_g, rt, res.grad_clip), rt)

    rt = pick_runtime(gan.device, gan.precision, gan.channels_last)
    gan_generator = rt.model(Generator(generator_config(res, 4)))
    disc = rt.model(Discriminator(DiscriminatorConfig(gan.discriminator.channels, gan.discriminator.head,
                                                      gan.discriminator.dense, size)))
    content = ContentLoss(rt.model(MiniVGG(MiniVGGConfig(vgg.width))), gan.loss.content_blocks)
    parts = GanParts(gan_generator, gan_generator, disc, disc, content,
                     torch.optim.Adam(gan_generator.parameters(), gan.lr),
                     torch.optim.Adam(disc.parameters(), gan.lr_d),
                     LossWeights(gan.loss.alpha, gan.loss.beta, gan.loss.adversarial), gan.loss.gan_type)
    hr_s, lr_s = random_pair(rt, gan.batch_size, size)
    out["train_srgan"] = (f"GAN: that generator, discriminator {gan.discriminator.channels} ch "
                          f"{gan.discriminator.head} head, miniVGG19 content, batch {gan.batch_size}",
                          lambda: gan_step(parts, hr_s, lr_s, rt), rt)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--size", type=int, default=96, help="HR side")
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--profile", action="store_true", help="also print each update's most expensive operators")
    args = ap.parse_args()
    built = trainers(args.params, args.size)
    results = {name: (what, *measure(update, args.iterations), rt) for name, (what, update, rt) in built.items()}
    ceiling_bf16, ceiling_fp32 = matmul_gflops(torch.bfloat16), matmul_gflops(torch.float32)
    print(f"CPU: {cpu_isa()}; torch threads {torch.get_num_threads()}; same-run 2048x2048 matmul ceiling: "
          f"bf16 {ceiling_bf16:.0f} GFLOP/s, fp32 {ceiling_fp32:.0f} GFLOP/s; HR {args.size}x{args.size}")
    for name, (what, seconds, flops, rt) in results.items():
        achieved = flops / seconds / 1e9
        ceiling = ceiling_bf16 if rt.dtype else ceiling_fp32
        print(f"{name:<15} {seconds * 1000:6.0f} ms/update {flops / 1e9:6.1f} GFLOP {achieved:5.0f} GFLOP/s = "
              f"{100 * achieved / ceiling:3.0f}% of the {'bf16' if rt.dtype else 'fp32'} ceiling "
              f"({'bf16 autocast' if rt.dtype else 'fp32'}, {rt.device}; {what})")
    if args.profile:   # the same updates, already warm
        for name, (what, update, rt) in built.items():
            print(f"  {name}: operators by self CPU time")
            print(top_operators(update))


if __name__ == "__main__":
    main()
