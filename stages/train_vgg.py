"""train_vgg: see msrgan/train/vgg.py. Also runs under `torchrun --nproc_per_node=N stages/train_vgg.py`."""
from msrgan.stage import run_stage
from msrgan.train.vgg import train_vgg

if __name__ == "__main__":  # guarded: worker processes (spawn, DDP) re-import this file
    run_stage("train_vgg", lambda seed, params: train_vgg(params, seed))
