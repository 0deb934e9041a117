"""torchrun / DistributedDataParallel: the world size comes from the environment (RANK, WORLD_SIZE, LOCAL_RANK);
a plain `python stages/...` run is a world of one. gloo on CPU, nccl on CUDA."""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field, replace

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))   # where collectives' tensors live

    @property
    def main(self) -> bool:
        return self.rank == 0

    def wrap(self, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        if self.size == 1:
            return model
        ids = [device.index] if device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def barrier(self) -> None:
        if self.size > 1:
            dist.barrier()

    def average(self, values: dict[str, float]) -> dict[str, float]:
        """The mean over ranks of each value (a NaN on any rank makes that mean NaN); a world of one returns them."""
        if self.size == 1:
            return values
        t = torch.tensor(list(values.values()), dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return dict(zip(values, (t / self.size).tolist()))

    def broadcast_object(self, obj):
        """rank 0's `obj` on every rank (e.g. the 'stop' flag or a checkpoint decision)."""
        if self.size == 1:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def collective_device(backend: str, local_rank: int) -> torch.device:
    """nccl reduces only CUDA tensors (this process's GPU); gloo works on CPU tensors."""
    if backend == "nccl":
        return torch.device("cuda", local_rank % max(1, torch.cuda.device_count()))
    return torch.device("cpu")


def world_from_env() -> World:
    return World(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                 int(os.environ.get("LOCAL_RANK", 0)))


@contextlib.contextmanager
def distributed(use_cuda: bool | None = None):
    """Initialise the process group when torchrun started us, tear it down after; yields the World."""
    world = world_from_env()
    if world.size > 1 and not dist.is_initialized():
        cuda = torch.cuda.is_available() if use_cuda is None else use_cuda
        backend = "nccl" if cuda else "gloo"
        dist.init_process_group(backend)
        world = replace(world, device=collective_device(backend, world.local_rank))
        try:
            yield world
        finally:
            dist.destroy_process_group()
    else:
        yield world
