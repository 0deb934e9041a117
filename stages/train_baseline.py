"""train_baseline@<name>: see msrgan/train/baseline.py; `python stages/train_baseline.py <name>` (dvc.yaml's foreach)."""
import sys

from msrgan.errors import fail
from msrgan.stage import run_stage
from msrgan.train.baseline import train_baseline


def main(seed, baselines, budget):
    name = sys.argv[1] if len(sys.argv) == 2 else fail("usage: python stages/train_baseline.py <baseline name>")
    if name not in baselines.root:
        fail(f"params.yaml: baselines.{name}: not found (known: {', '.join(baselines.root) or 'none'})")
    train_baseline(name, baselines.root[name], budget, seed)


if __name__ == "__main__":  # guarded: worker processes (spawn, DDP) re-import this file
    run_stage(("baselines", "train_srresnet"), main)
