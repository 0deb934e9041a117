"""Two processes with DistributedDataParallel (gloo on CPU), as `torchrun --nproc_per_node=2` runs a stage: each
update uses the gradient averaged over the ranks' different batches, and both ranks end with identical weights.
Collectives get their tensors on the backend's device (CUDA for nccl) and losses are averaged over ranks."""
import json
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from msrgan.params import parse_section
from msrgan.train.distributed import World, collective_device, distributed
from msrgan.train.loop import run_loop
from msrgan.train.srresnet import train_srresnet
from tests.train_data import make_processed



PARAMS = {"iterations": 4, "batch_size": 2, "val_every": 2, "checkpoint_every": 2, "log_every": 1,
          "device": "cpu", "precision": "fp32", "blocks": 1, "channels": 8}


def _worker(rank: int, world: int, port: int, root: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port), OMP_NUM_THREADS="1")
    torch.set_num_threads(1)
    out = train_srresnet(parse_section("train_srresnet", PARAMS), 5, processed=f"{root}/processed",
                         models=f"{root}/models", metrics=f"{root}/metrics", checkpoints=f"{root}/ckpt")
    with open(f"{root}/rank{rank}.json", "w") as f:
        json.dump(out, f)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_ranks_stay_in_sync(tmp_path):
    make_processed(tmp_path / "processed", counts=(8, 2, 2))
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["weights_sha"] == ranks[1]["weights_sha"]
    assert ranks[0]["world_size"] == 2 and (tmp_path / "models" / "srresnet.pt").is_file()


def _gradient_worker(rank: int, world: int, port: int, root: str) -> None:
    """A wrapped model's gradient on this rank's own batch, and the same model's gradient without DDP."""
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port), OMP_NUM_THREADS="1")
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    x = torch.arange(6.0).reshape(2, 3) * (rank + 1)        # a different batch on each rank
    local = torch.autograd.grad((model(x) ** 2).mean(), model.weight)[0]
    with distributed(use_cuda=False) as w:
        net = w.wrap(model, torch.device("cpu"))
        (net(x) ** 2).mean().backward()
    torch.save({"local": local, "ddp": model.weight.grad}, f"{root}/grad{rank}.pt")


def test_each_update_uses_the_gradient_averaged_over_ranks(tmp_path):
    mp.spawn(_gradient_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    grads = [torch.load(tmp_path / f"grad{r}.pt") for r in (0, 1)]
    mean = (grads[0]["local"] + grads[1]["local"]) / 2
    assert not torch.allclose(grads[0]["local"], grads[1]["local"])
    for g in grads:
        torch.testing.assert_close(g["ddp"], mean)


def test_losses_are_averaged_over_ranks(monkeypatch):
    def all_reduce(t, *args, **kwargs):   # the other rank contributes 3 and 5
        t += torch.tensor([3.0, 5.0], dtype=t.dtype, device=t.device)
    monkeypatch.setattr(dist, "all_reduce", all_reduce)
    assert World(rank=0, size=2).average({"g": 1.0, "d": 1.0}) == {"g": 2.0, "d": 3.0}


@pytest.mark.parametrize("backend, device", [("nccl", "cuda"), ("gloo", "cpu")])
def test_each_backend_reduces_on_its_own_device(backend, device):
    assert collective_device(backend, 0).type == device


def test_the_training_loop_hands_collectives_tensors_on_the_worlds_device(monkeypatch):
    """nccl reduces only CUDA tensors: every tensor the loop hands to a collective must live on world.device
    ('meta' stands in for the GPU here, so no GPU is needed to check where tensors are placed)."""
    class Reduced(Exception):
        pass

    seen = []

    def all_reduce(t, *args, **kwargs):
        seen.append(t.device)
        raise Reduced
    monkeypatch.setattr(dist, "all_reduce", all_reduce)
    monkeypatch.setattr(dist, "broadcast_object_list", lambda box, src=0: None)
    monkeypatch.setattr(dist, "barrier", lambda *a, **k: None)
    world = World(rank=0, size=2, device=torch.device("meta"))
    params = parse_section("train_srresnet", PARAMS)
    with pytest.raises(Reduced):
        run_loop(stage="train_srresnet", params=params, seed=0, world=world, run_hash="h", checkpoints=None,
                 state={"model": torch.nn.Linear(1, 1)}, step=lambda it: {"mse": 1.0},
                 validate=lambda: {"psnr": 0.0}, keep="model", guard="mse")
    assert seen == [torch.device("meta")]
