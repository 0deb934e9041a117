"""train_judge: the independent judge (msrgan/models/judge.py), a small ResNet classifier of the 13 classes
trained on the train split with its own seed (seed + train_judge.seed_offset) and never used in any loss."""
from __future__ import annotations

from pathlib import Path

from msrgan.classes import CLASSES
from msrgan.models.judge import Judge, JudgeConfig, save_judge
from msrgan.params import TrainJudge
from msrgan.train.classifier import train_classifier

STAGE = "train_judge"


def train_judge(params: TrainJudge, seed: int, *, processed="data/processed", models="data/models",
                metrics="metrics", checkpoints="data/checkpoints", stop_at: int | None = None) -> dict:
    """Train, keep the best-val-mAP weights, write judge.pt and metrics/train_judge.json (test split scores)."""
    config = JudgeConfig(params.width, params.blocks, len(CLASSES), params.dropout)
    return train_classifier(STAGE, lambda: Judge(config), save_judge, params, seed + params.seed_offset,
                            processed=processed, models_file=Path(models) / "judge.pt", metrics=metrics,
                            checkpoints=checkpoints, stop_at=stop_at)
