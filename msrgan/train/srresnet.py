"""train_srresnet: the SRResNet generator pretrained with pixel MSE alone (phase 1 of mSRGAN, and a baseline)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from msrgan.data.processed import training_data_meta
from msrgan.losses import mse
from msrgan.models.generator import Generator, GeneratorConfig
from msrgan.models.generatorfile import save_generator
from msrgan.params import TrainSRResNet
from msrgan.train.checkpoint import weights_digest, run_hash
from msrgan.train.dataset import fingerprint, training_batch
from msrgan.train.loop import clip_gradients, finish_stage, Live, lr_lambda, run_loop, training_session
from msrgan.train.validation import bicubic_metrics, generator_summary, sample_strip, validate_generator

STAGE = "train_srresnet"


def pixel_update(net, model, opt: torch.optim.Optimizer, lr_image: torch.Tensor, hr: torch.Tensor, rt,
                 grad_clip: float, loss_fn: Callable = mse) -> tuple[torch.Tensor, float]:
    """One update of a generator with a pixel loss (MSE for the SRResNet): forward (under the runtime's autocast),
    loss_fn(sr, hr), backward, clip, optimizer step. `net` is `model` or its DDP wrapper; lr_image/hr on the device.
    Returns (loss, gradient norm before clipping)."""
    with rt.autocast():
        sr = net(lr_image)
    loss = loss_fn(sr, hr)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    norm = clip_gradients(model, grad_clip)
    opt.step()
    return loss, norm


def train_srresnet(params: TrainSRResNet, seed: int, *, processed="data/processed", models="data/models",
                   metrics="metrics", checkpoints="data/checkpoints", stop_at: int | None = None) -> dict:
    """Train with MSE, keep the best-val-PSNR (or last) weights, write srresnet.pt and metrics/train_srresnet.json."""
    return train_pixel_generator(
        STAGE, params, seed, lambda scale: Generator(generator_config(params, scale)), mse,
        model_file=Path(models) / "srresnet.pt", live_dir=Path(metrics) / STAGE,
        metrics_json=Path(metrics) / f"{STAGE}.json", checkpoints=Path(checkpoints) / STAGE, processed=processed,
        trainer=__name__, stop_at=stop_at)


def train_pixel_generator(stage: str, params, seed: int, build: Callable[[int], torch.nn.Module], loss_fn: Callable,
                          *, model_file: Path, live_dir: Path, metrics_json: Path, checkpoints: Path, processed,
                          trainer: str, stop_at: int | None = None, **meta) -> dict:
    """Train the generator `build(scale)` with the pixel loss `loss_fn` on the training schedule `params` (a
    Training section), keep the best-val-PSNR (or last) weights and write them to `model_file` (with `meta`), the
    summary to `metrics_json`. `trainer` names the module whose code a resumable checkpoint must match."""
    with training_session(stage, params, seed, processed) as (world, rt, train, val):
        model = rt.model(build(train.scale))
        net = world.wrap(model, rt.device)
        opt = torch.optim.Adam(model.parameters(), lr=params.lr)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(params))

        def step(it: int) -> dict[str, float]:
            hr, lr, _ = training_batch(train, params, it, seed, world.rank)
            loss, norm = pixel_update(net, model, opt, rt.batch(lr), rt.batch(hr), rt, params.grad_clip, loss_fn)
            sched.step()
            return {"mse" if loss_fn is mse else "loss": loss.item(), "grad_norm": norm}

        live = Live(live_dir, world.main)
        key = run_hash(trainer, stage=stage, seed=seed, params=params, data=fingerprint(processed), world=world.size)
        result = run_loop(stage=stage, params=params, seed=seed, world=world, run_hash=key,
                          checkpoints=checkpoints, state={"model": model, "opt": opt, "sched": sched},
                          step=step, validate=lambda: validate_generator(model, val, rt), keep="model",
                          select=params.select, select_key="psnr", guard="mse" if loss_fn is mse else "loss",
                          live=live, stop_at=stop_at)
        summary = {"weights_sha": weights_digest(model)}
        if world.main:
            summary |= generator_summary(result, params, bicubic_metrics(val), rt, world.size)
            save_generator(model_file, model, stage=stage, val=result.selected,
                           selected_iteration=result.selected_step, **meta, **training_data_meta(processed))
            live.image("val_samples.png", sample_strip(model, val, rt))
        return finish_stage(world, live, result, summary, metrics_json)


def generator_config(params, scale: int) -> GeneratorConfig:
    """The generator architecture that the train_srresnet params describe, for `scale`x upscaling of RGB."""
    return GeneratorConfig(params.blocks, params.channels, scale, 3, params.residual, params.norm, params.res_scale,
                           params.upsample)
