"""prepare: HR/LR pairs split into train/val/test in data/processed/, with index.csv."""
from msrgan.data.prepare import prepare
from msrgan.stage import run_stage

if __name__ == "__main__":  # guarded: worker processes (spawn, DDP) re-import this file
    run_stage("prepare", lambda seed, params: prepare(params, seed, merged="data/merged", out="data/processed"))
