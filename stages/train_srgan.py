"""train_srgan: see msrgan/train/srgan.py. Also runs under `torchrun --nproc_per_node=N stages/train_srgan.py`."""
from msrgan.stage import run_stage
from msrgan.train.srgan import train_srgan

if __name__ == "__main__":  # guarded: worker processes (spawn, DDP) re-import this file
    run_stage("train_srgan", lambda seed, params: train_srgan(params, seed))
