"""train_srresnet: see msrgan/train/srresnet.py. Also runs under `torchrun --nproc_per_node=N stages/train_srresnet.py`."""
from msrgan.stage import run_stage
from msrgan.train.srresnet import train_srresnet

if __name__ == "__main__":  # guarded: worker processes (spawn, DDP) re-import this file
    run_stage("train_srresnet", lambda seed, params: train_srresnet(params, seed))
