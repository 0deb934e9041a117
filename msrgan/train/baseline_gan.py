"""train_baseline_gan@<name>: an adversarial baseline of the comparison (ESRGAN-style, issue 21).

train_srgan's code from the PSNR-trained generator of the baseline `baseline_gans.<name>.generator`
(data/models/baselines/<that>.pt), with train_srgan's params overridden by `baseline_gans.<name>.train_srgan`: the
same budget and miniVGG19 content loss unless overridden. Its files: data/models/baselines/<name>.pt,
metrics/baselines/<name>.json.
"""
from __future__ import annotations

from pathlib import Path

from msrgan.errors import fail
from msrgan.models.architectures import load_any_generator
from msrgan.params import BaselineGan, load_params, srgan_params
from msrgan.train.baseline import FOLDER
from msrgan.train.srgan import train_srgan


def train_baseline_gan(name: str, spec: BaselineGan, seed: int, *, params_path="params.yaml",
                       processed="data/processed", models="data/models", metrics="metrics",
                       checkpoints="data/checkpoints", stop_at: int | None = None) -> dict:
    """The adversarial phase from data/models/baselines/<spec.generator>.pt with train_srgan's params and
    `spec.train_srgan` over them; writes <models>/baselines/<name>.pt and <metrics>/baselines/<name>.json."""
    raw = load_params(params_path)
    if spec.generator not in (raw.get("baselines") or {}):
        fail(f"{params_path}: baseline_gans.{name}.generator: {spec.generator!r} is not a key of baselines")
    params = srgan_params(raw.get("train_srgan"), spec.train_srgan, f"baseline_gans.{name}.train_srgan")
    models = Path(models)
    return train_srgan(params, seed, processed=processed, models=models, metrics=metrics, checkpoints=checkpoints,
                       stop_at=stop_at, load=load_any_generator, start=models / FOLDER / f"{spec.generator}.pt",
                       out=models / FOLDER / f"{name}.pt", stage=f"train_baseline_gan@{name}",
                       live_dir=Path(metrics) / FOLDER / name, metrics_json=Path(metrics) / FOLDER / f"{name}.json",
                       checkpoint_dir=Path(checkpoints) / FOLDER / name)
