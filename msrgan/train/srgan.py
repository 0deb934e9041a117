"""train_srgan: mSRGAN, the adversarial phase starting from the SRResNet, with the generator loss
alpha*MSE + beta*miniVGG19-content + adversarial*GAN-loss."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from msrgan.data.processed import training_data_meta
from msrgan.losses import ContentLoss, LossWeights, discriminator_loss, generator_loss
from msrgan.models.discriminator import Discriminator, DiscriminatorConfig
from msrgan.models.generatorfile import load_generator, save_generator
from msrgan.models.minivgg import MiniVGG, load_minivgg
from msrgan.params import TrainSRGAN
from msrgan.train.checkpoint import run_hash, state_digest, weights_digest
from msrgan.train.dataset import fingerprint, training_batch
from msrgan.train.loop import clip_gradients, finish_stage, Live, lr_lambda, run_loop, training_session
from msrgan.train.validation import bicubic_metrics, generator_summary, sample_strip, validate_generator

STAGE = "train_srgan"


@dataclass
class GanParts:
    g_net: torch.nn.Module          # generator, DDP-wrapped when distributed
    generator: torch.nn.Module
    d_net: torch.nn.Module          # discriminator, DDP-wrapped when distributed
    disc: torch.nn.Module
    content: ContentLoss | None
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    weights: LossWeights
    gan_type: str
    grad_clip: float = 0.0          # max gradient norm of each network per step (0: none)


def gan_step(p: GanParts, hr: torch.Tensor, lr_image: torch.Tensor, rt) -> dict[str, float]:
    """One GAN iteration: a generator update against the current discriminator, then a discriminator update on
    the same batch. Returns the losses (unweighted terms) and the discriminator's mean outputs."""
    n = hr.shape[0]
    with rt.autocast():
        sr = p.g_net(lr_image)
    # generator step: the discriminator judges but is not updated (its plain module: no gradient sync needed)
    d_real = d_fake = None
    if p.weights.adversarial:
        p.disc.requires_grad_(False)
        with rt.autocast():
            logits = p.disc(torch.cat([hr, sr]))
        d_real, d_fake = logits[:n].detach(), logits[n:]
    with rt.autocast():
        g_total, terms = generator_loss(sr, hr, p.weights, p.content, d_real, d_fake, p.gan_type)
    p.opt_g.zero_grad(set_to_none=True)
    g_total.backward()
    clip_gradients(p.generator, p.grad_clip)
    p.opt_g.step()
    # discriminator step, real and fake in one pass (one DDP forward/backward)
    p.disc.requires_grad_(True)
    with rt.autocast():
        logits = p.d_net(torch.cat([hr, sr.detach()]))
    d_loss = discriminator_loss(logits[:n], logits[n:], p.gan_type)
    p.opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    clip_gradients(p.disc, p.grad_clip)
    p.opt_d.step()
    probs = torch.sigmoid(logits.detach().float())
    return {"g": g_total.item(), "mse": terms["mse"].item(), "content": terms["content"].item(),
            "adv": terms["adv"].item(), "d": d_loss.item(), "d_real": probs[:n].mean().item(),
            "d_fake": probs[n:].mean().item()}


def train_srgan(params: TrainSRGAN, seed: int, *, processed="data/processed", models="data/models",
                metrics="metrics", checkpoints="data/checkpoints", stop_at: int | None = None,
                start: Path | None = None, out: Path | None = None, stage: str = STAGE, load=load_generator,
                live_dir: Path | None = None, metrics_json: Path | None = None,
                checkpoint_dir: Path | None = None) -> dict:
    """GAN training from models/srresnet.pt with the frozen models/minivgg.pt; writes generator.pt and
    metrics/train_srgan.json (the discriminator is only in the checkpoint: nothing after training reads it).
    Another generator (a baseline's) starts from `start`, read by `load`, and goes to `out` under `stage`'s name,
    with its dvclive folder, summary and checkpoints where the other arguments say."""
    models = Path(models)
    srresnet_path, vgg_path = start or models / "srresnet.pt", models / "minivgg.pt"
    with training_session(stage, params, seed, processed) as (world, rt, train, val):
        generator, _ = load(srresnet_path)
        generator = rt.model(generator.train())
        vgg = content_network(vgg_path, params.loss.content_network, seed)
        content = ContentLoss(rt.model(vgg), params.loss.content_blocks)
        side = train.hr_size
        d = params.discriminator
        disc = rt.model(Discriminator(DiscriminatorConfig(d.channels, d.head, d.dense, side,
                                                          spectral_norm=d.spectral_norm)))
        g_net, d_net = world.wrap(generator, rt.device), world.wrap(disc, rt.device)
        opt_g = torch.optim.Adam(generator.parameters(), lr=params.lr, betas=(0.9, 0.999))
        opt_d = torch.optim.Adam(disc.parameters(), lr=params.lr_d, betas=(0.9, 0.999))
        sched_g = torch.optim.lr_scheduler.LambdaLR(opt_g, lr_lambda(params))
        sched_d = torch.optim.lr_scheduler.LambdaLR(opt_d, lr_lambda(params))
        loss = params.loss
        weights = LossWeights(loss.alpha, loss.beta, loss.adversarial)

        parts = GanParts(g_net, generator, d_net, disc, content, opt_g, opt_d, weights, loss.gan_type,
                         params.grad_clip)

        def step(it: int) -> dict[str, float]:
            hr, lr_image, _ = training_batch(train, params, it, seed, world.rank)
            out = gan_step(parts, rt.batch(hr), rt.batch(lr_image), rt)
            sched_g.step()
            sched_d.step()
            return out

        live = Live(live_dir or Path(metrics) / STAGE, world.main)
        key = run_hash(__name__, stage=stage, seed=seed, params=params, data=fingerprint(processed), world=world.size,
                       srresnet=state_digest(generator), minivgg=state_digest(vgg))
        result = run_loop(stage=stage, params=params, seed=seed, world=world, run_hash=key,
                          checkpoints=checkpoint_dir or Path(checkpoints) / STAGE,
                          state={"generator": generator, "discriminator": disc, "opt_g": opt_g, "opt_d": opt_d,
                                 "sched_g": sched_g, "sched_d": sched_d},
                          step=step, validate=lambda: validate_generator(generator, val, rt), keep="generator",
                          select=params.select, select_key="psnr", guard="mse", live=live, stop_at=stop_at)
        summary = {"weights_sha": weights_digest(generator)}
        if world.main:
            summary |= generator_summary(result, params, bicubic_metrics(val), rt, world.size)
            summary["loss"] = loss.model_dump(mode="json")
            if start is not None:   # a baseline's GAN phase: whose PSNR-trained generator it started from
                summary["start"] = Path(start).stem
            save_generator(out or models / "generator.pt", generator, stage=stage, val=result.selected,
                           selected_iteration=result.selected_step, loss=summary["loss"], **training_data_meta(processed))
            live.image("val_samples.png", sample_strip(generator, val, rt))
        return finish_stage(world, live, result, summary, metrics_json or Path(metrics) / f"{STAGE}.json")


def content_network(path: Path, kind: str, seed: int) -> MiniVGG:
    """The frozen network of the content loss: the miniVGG19 in `path` as trained ('trained'), or ('random') the
    same architecture with the weights of a fresh seeded initialisation (PyTorch's default init, seed + 2, so
    neither the miniVGG19's nor the judge's seed): features that never saw microscopy. Their content distance is
    about 3e4 times smaller than the trained network's (README: the content-loss ablation), so compare at a beta
    scaled to match, not only at the same beta."""
    vgg, _ = load_minivgg(path)
    if kind == "random":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + 2)
            vgg = MiniVGG(vgg.config).eval().requires_grad_(False)
    return vgg
