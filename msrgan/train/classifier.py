"""Training a 13-class multi-label localisation classifier on the HR tiles (sigmoid + BCE with per-class positive
weights against the class imbalance), keeping the best-val-mAP weights: the miniVGG19 of the content loss
(train_vgg) and the independent judge (train_judge) are trained by this one routine."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from msrgan.classes import CLASSES
from msrgan.runtime import Runtime
from msrgan.train.checkpoint import weights_digest, run_hash
from msrgan.train.dataset import Split, fingerprint, load_split, training_batch
from msrgan.train.loop import clip_gradients, finish_stage, Live, lr_lambda, run_loop, training_session
from msrgan.multilabel import classification_report
from msrgan.train.validation import in_eval_batches


def bce_update(net, model: torch.nn.Module, opt: torch.optim.Optimizer, hr: torch.Tensor, labels: torch.Tensor,
               pos_weight: torch.Tensor, rt: Runtime, grad_clip: float) -> torch.Tensor:
    """One classifier update: forward (under the runtime's autocast), multi-label BCE with per-class positive
    weights, backward, clip, optimizer step. `net` is `model` or its DDP wrapper; tensors on the device."""
    with rt.autocast():
        logits = net(hr)
    loss = F.binary_cross_entropy_with_logits(logits.float(), labels, pos_weight=pos_weight)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    clip_gradients(model, grad_clip)
    opt.step()
    return loss


def predict(model: torch.nn.Module, data: Split, rt: Runtime, batch: int = 64) -> np.ndarray:
    """Class probabilities (sigmoid) for every HR tile of `data`, N x 13."""
    probabilities = in_eval_batches(model, data.hr, rt, batch, lambda logits: torch.sigmoid(logits.float()).cpu())
    return torch.cat(probabilities).numpy()


def train_classifier(stage: str, build: Callable[[], torch.nn.Module], save: Callable[..., None], params, seed: int,
                     *, processed, models_file: Path, metrics, checkpoints, stop_at: int | None = None) -> dict:
    """Train `build()` (called after seeding) with AdamW on the train split, keep the best-val-mAP weights, write
    them with `save(path, model, **meta)` to `models_file` and metrics/<stage>.json (test split scores)."""
    with training_session(stage, params, seed, processed, with_lr=False) as (world, rt, train, val):
        model = rt.model(build())
        net = world.wrap(model, rt.device)
        positives = train.labels.sum(0)
        pos_weight = ((len(train) - positives) / positives.clamp(min=1)).clamp(1, params.max_pos_weight).to(rt.device)
        opt = torch.optim.AdamW(model.parameters(), lr=params.lr, weight_decay=params.weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(params))

        def step(it: int) -> dict[str, float]:
            hr, _, y = training_batch(train, params, it, seed, world.rank)
            loss = bce_update(net, model, opt, rt.batch(hr), y.to(rt.device), pos_weight, rt, params.grad_clip)
            sched.step()
            return {"bce": loss.item()}

        def validate() -> dict[str, float]:
            report = classification_report(predict(model, val, rt), val.labels.numpy(), params.threshold, CLASSES)
            return {k: report[k] for k in ("map", "macro_f1", "micro_f1")}

        live = Live(Path(metrics) / stage, world.main)
        key = run_hash(__name__, stage=stage, seed=seed, params=params, data=fingerprint(processed), world=world.size)
        result = run_loop(stage=stage, params=params, seed=seed, world=world, run_hash=key,
                          checkpoints=Path(checkpoints) / stage, state={"model": model, "opt": opt, "sched": sched},
                          step=step, validate=validate, keep="model", select="best", select_key="map",
                          guard=None, live=live, stop_at=stop_at)
        summary = {"weights_sha": weights_digest(model)}
        if world.main:
            test = load_split(processed, "test")
            report = classification_report(predict(model, test, rt), test.labels.numpy(), params.threshold, CLASSES)
            summary |= {"test": report, "val": result.selected, "selected_iteration": result.selected_step,
                       "iterations": params.iterations, "rollbacks": len(result.rollbacks),
                       "rollback_events": result.rollbacks, "device": str(rt.device),
                       "precision": "bf16" if rt.dtype else "fp32", "world_size": world.size}
            save(models_file, model, stage=stage, val=result.selected, selected_iteration=result.selected_step,
                 hr_size=int(train.hr_size))
        return finish_stage(world, live, result, summary, Path(metrics) / f"{stage}.json")
