"""train_vgg: the miniVGG19 trained from scratch on the HR tiles as a 13-class multi-label classifier; its
features give mSRGAN's content loss."""
from __future__ import annotations

from pathlib import Path

from msrgan.classes import CLASSES
from msrgan.models.minivgg import MiniVGG, MiniVGGConfig, save_minivgg
from msrgan.params import TrainVGG
from msrgan.train.classifier import train_classifier

STAGE = "train_vgg"


def train_vgg(params: TrainVGG, seed: int, *, processed="data/processed", models="data/models",
              metrics="metrics", checkpoints="data/checkpoints", stop_at: int | None = None) -> dict:
    """Train, keep the best-val-mAP weights, write minivgg.pt and metrics/train_vgg.json (test split scores)."""
    return train_classifier(STAGE, lambda: MiniVGG(MiniVGGConfig(params.width, len(CLASSES), params.dropout)),
                            save_minivgg, params, seed, processed=processed, models_file=Path(models) / "minivgg.pt",
                            metrics=metrics, checkpoints=checkpoints, stop_at=stop_at)
