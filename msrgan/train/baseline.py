"""train_baseline@<name>: a same-budget baseline generator of the comparison (issue 21).

It trains with train_srresnet's budget (iterations, batch size, schedule, augmentation, the same data and split)
through the SRResNet's own training code, with its architecture and pixel loss from params.yaml's
`baselines.<name>`; its files: data/models/baselines/<name>.pt, metrics/baselines/<name>.json. The adversarial
baselines are msrgan/train/baseline_gan.py's.
"""
from __future__ import annotations

from pathlib import Path

from msrgan.errors import fail
from msrgan.losses import pixel_loss
from msrgan.models.architectures import build_generator
from msrgan.params import Baseline, TrainSRResNet
from msrgan.train.srresnet import train_pixel_generator

FOLDER = "baselines"   # under data/models, metrics and data/checkpoints


def train_baseline(name: str, spec: Baseline, budget: TrainSRResNet, seed: int, *, processed="data/processed",
                   models="data/models", metrics="metrics", checkpoints="data/checkpoints",
                   stop_at: int | None = None) -> dict:
    """Train baseline `name` (architecture and loss from `spec`) on the SRResNet's budget; writes
    <models>/baselines/<name>.pt and <metrics>/baselines/<name>.json. A config key the architecture does not have
    is a UserError naming it."""
    params = budget.model_copy(update={"lr": spec.lr} if spec.lr else {})
    stage = f"train_baseline@{name}"

    def build(scale: int):
        try:
            return build_generator(spec.arch, {**spec.config, "scale": scale, "in_channels": 3})
        except TypeError as exc:   # a dataclass field the architecture does not have
            fail(f"params.yaml: baselines.{name}.config: {exc}")
    return train_pixel_generator(
        stage, params, seed, build, pixel_loss(spec.loss, spec.ssim_weight),
        model_file=Path(models) / FOLDER / f"{name}.pt", live_dir=Path(metrics) / FOLDER / name,
        metrics_json=Path(metrics) / FOLDER / f"{name}.json", checkpoints=Path(checkpoints) / FOLDER / name,
        processed=processed, trainer=__name__, stop_at=stop_at, baseline=name, loss=spec.loss)
