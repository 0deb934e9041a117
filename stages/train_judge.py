"""train_judge: see msrgan/train/judge.py. Also runs under `torchrun --nproc_per_node=N stages/train_judge.py`."""
from msrgan.stage import run_stage
from msrgan.train.judge import train_judge

if __name__ == "__main__":  # guarded: worker processes (spawn, DDP) re-import this file
    run_stage("train_judge", lambda seed, params: train_judge(params, seed))
