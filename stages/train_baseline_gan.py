"""train_baseline_gan@<name>: see msrgan/train/baseline_gan.py; `python stages/train_baseline_gan.py <name>`."""
import sys

from msrgan.errors import fail
from msrgan.stage import run_stage
from msrgan.train.baseline_gan import train_baseline_gan


def main(seed, gans):
    name = sys.argv[1] if len(sys.argv) == 2 else fail("usage: python stages/train_baseline_gan.py <name>")
    if name not in gans.root:
        fail(f"params.yaml: baseline_gans.{name}: not found (known: {', '.join(gans.root) or 'none'})")
    train_baseline_gan(name, gans.root[name], seed)


if __name__ == "__main__":  # guarded: worker processes (spawn, DDP) re-import this file
    run_stage("baseline_gans", main)
