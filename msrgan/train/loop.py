"""The training loop the three stages share: seeded steps, periodic validation, dvclive curves, atomic
checkpoints with resume, keeping the best-validated weights, and a stop on NaN or diverging losses."""
from __future__ import annotations

import contextlib
import copy
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm import tqdm

from msrgan.atomic import write_text
from msrgan.errors import fail
from msrgan.train.checkpoint import load_checkpoint, save_checkpoint
from msrgan.train.dataset import Split, load_split
from msrgan.train.device import Runtime, pick_runtime, wants_cuda
from msrgan.train.distributed import World, distributed

DIVERGENCE_FACTOR = 1e3   # a guarded loss this many times above its best so far means the run has blown up


@dataclass
class LoopResult:
    history: list[dict]
    best_step: int
    best: dict               # validation metrics of the kept weights
    last: dict               # validation metrics at the final iteration
    resumed_from: int        # 0 for a fresh run
    seconds_per_iteration: float | None  # measured in this process, None when nothing was left to run
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


def seed_everything(seed: int, rt) -> None:
    """Same params, same machine, same result: seeded init and deterministic kernels where that is cheap."""
    torch.manual_seed(seed)
    if rt.device.type == "cuda":
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    else:
        torch.use_deterministic_algorithms(True, warn_only=True)


@contextlib.contextmanager
def training_session(stage: str, params, seed: int, processed) -> Iterator[tuple[World, Runtime, Split, Split]]:
    """What every trainer starts with: the process group (when torchrun started us), the device and precision, the
    seeds, and the train and val splits of `processed`."""
    with distributed(wants_cuda(params.device)) as world:
        rt = pick_runtime(params.device, params.precision, params.channels_last, world.local_rank, f"{stage}.device")
        seed_everything(seed, rt)
        yield world, rt, load_split(processed, "train"), load_split(processed, "val")


def lr_lambda(params) -> Callable[[int], float]:
    """Linear warm-up over `warmup` of the iterations, then constant or cosine down to `min_lr` x lr."""
    total, warm = params.iterations, max(1, int(params.warmup * params.iterations))

    def factor(step: int) -> float:
        if params.warmup > 0 and step < warm:
            return (step + 1) / warm
        if params.decay == "constant":
            return 1.0
        progress = min(1.0, (step - warm) / max(1, total - warm)) if params.warmup > 0 else min(1.0, step / total)
        return params.min_lr + (1 - params.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))
    return factor


class Live:
    """dvclive on rank 0 (curves in <dir>/plots/metrics, images in <dir>/plots/images); nothing on other ranks."""

    def __init__(self, directory: str | Path | None, enabled: bool):
        self.live = None
        if directory is not None and enabled:
            from dvclive import Live as DvcLive
            self.live = DvcLive(dir=str(directory), resume=False, report=None, save_dvc_exp=False, dvcyaml=False)

    def log(self, record: dict) -> None:
        if self.live is None:
            return
        self.live.step = record["step"]
        for group in ("train", "val"):
            for name, value in record.get(group, {}).items():
                self.live.log_metric(f"{group}/{name}", value)

    def image(self, name: str, array) -> None:
        if self.live is not None:
            self.live.log_image(name, array)

    def note(self, values: dict) -> None:
        """Run facts that vary between identical runs (timings, resume point): into dvclive's metrics.json only."""
        if self.live is not None:
            self.live.summary.update(values)

    def end(self) -> None:
        if self.live is not None:
            self.live.end()


def _finite_everywhere(values: dict[str, float], world: World) -> bool:
    ok = all(math.isfinite(v) for v in values.values())
    if world.size > 1:
        flag = torch.tensor([0.0 if ok else 1.0])
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        ok = flag.item() == 0
    return ok


def run_loop(*, stage: str, params, seed: int, world: World, run_hash: str, checkpoints: str | Path | None,
             state: dict, step: Callable[[int], dict[str, float]], validate: Callable[[], dict[str, float]],
             keep: str, select: str = "last", select_key: str = "psnr", guard: str | None = None,
             live: Live | None = None, stop_at: int | None = None) -> LoopResult:
    """Run iterations [resume point, params.iterations) of `step`, validating every `val_every` on rank 0.

    `state` maps names to objects with state_dict/load_state_dict (models, optimizers, schedulers); all of them go
    into the checkpoint. `keep` names the model whose best-validated weights are kept when select == 'best'
    (higher `select_key` is better); at the end that model holds the selected weights. `guard` names a loss that
    stops the run when it exceeds DIVERGENCE_FACTOR x its best value. `stop_at` simulates an interrupt (tests).
    """
    live = live or Live(None, False)
    total = params.iterations
    saved = load_checkpoint(checkpoints, run_hash) if checkpoints is not None else None
    history: list[dict] = []
    best = {"step": 0, "metrics": None, "state": None}
    start, guard_best = 0, math.inf
    if saved is not None:
        for name, obj in state.items():
            obj.load_state_dict(saved["state"][name])
        history, best, start = saved["history"], saved["best"], saved["step"]
        guard_best = saved.get("guard_best", math.inf)
        torch.set_rng_state(saved["rng"])
    for record in history:
        live.log(record)

    def unwrap(obj):
        return getattr(obj, "module", obj)

    def do_validate(at: int) -> dict:
        metrics = validate() if world.main else {}
        metrics = world.broadcast_object(metrics)
        record = {"step": at, "val": metrics}
        history.append(record)
        live.log(record)
        if metrics and (best["metrics"] is None or metrics[select_key] > best["metrics"][select_key]):
            best.update(step=at, metrics=metrics,
                        state=copy.deepcopy({k: v.detach().cpu() for k, v in unwrap(state[keep]).state_dict().items()}))
        return metrics

    def checkpoint(at: int) -> None:
        if checkpoints is not None and world.main:
            save_checkpoint(checkpoints, {"hash": run_hash, "stage": stage, "step": at, "history": history,
                                          "best": best, "guard_best": guard_best, "rng": torch.get_rng_state(),
                                          "state": {k: unwrap(v).state_dict() for k, v in state.items()}})
        world.barrier()

    if start == 0:
        do_validate(0)   # the starting point (for a residual generator: plain bicubic)
    bar = tqdm(total=total, initial=start, desc=stage, disable=not world.main, dynamic_ncols=True, mininterval=1.0)
    window: dict[str, list[float]] = {}
    timed, step_time = 0, 0.0
    began = time.perf_counter()
    for it in range(start, total):
        if stop_at is not None and it == stop_at:
            raise KeyboardInterrupt
        torch.manual_seed(seed * 1_000_003 + it * 101 + world.rank)   # dropout etc.: a function of the iteration
        tick = time.perf_counter()
        losses = step(it)
        if it > start:   # time steady-state steps only (the first one warms caches up), not validation
            step_time += time.perf_counter() - tick
            timed += 1
        if not _finite_everywhere(losses, world):
            bad = ", ".join(k for k, v in losses.items() if not math.isfinite(v)) or "on another rank"
            fail(f"{stage}: loss became NaN/inf at iteration {it + 1} ({bad}); stopped. The last good checkpoint "
                 f"(in {checkpoints}) is kept; lower {stage}.lr or the loss weights and rerun")
        if guard is not None:
            guard_best = min(guard_best, losses[guard])
            if it - start > 10 and losses[guard] > DIVERGENCE_FACTOR * max(guard_best, 1e-6):
                fail(f"{stage}: loss {guard} diverged at iteration {it + 1} ({losses[guard]:.3g}, best "
                     f"{guard_best:.3g}); stopped. The last good checkpoint (in {checkpoints}) is kept; "
                     f"lower {stage}.lr and rerun")
        for k, v in losses.items():
            window.setdefault(k, []).append(v)
        done = it + 1
        if done % params.log_every == 0 or done == total:
            record = {"step": done, "train": {k: sum(v) / len(v) for k, v in window.items()}}
            history.append(record)
            live.log(record)
            bar.set_postfix({k: f"{v:.4g}" for k, v in record["train"].items()}, refresh=False)
            window = {}
        bar.update(1)
        if done % params.val_every == 0 or done == total:
            metrics = do_validate(done)
            if metrics:
                bar.set_description(f"{stage} val {select_key} {metrics[select_key]:.3f}")
        if done % params.checkpoint_every == 0 or done == total:
            checkpoint(done)
    bar.close()
    per_it = step_time / timed if timed else None

    last = next((r["val"] for r in reversed(history) if "val" in r), {})
    if select == "best" and best["state"] is not None:
        unwrap(state[keep]).load_state_dict(best["state"])
        chosen_step, chosen = best["step"], best["metrics"]
    else:
        chosen_step, chosen = total, last
    return LoopResult(history, chosen_step, chosen, last, start, per_it, time.perf_counter() - began)


def finish_stage(world: World, live: Live, result: LoopResult, summary: dict, metrics_json: Path) -> dict:
    """Rank 0 writes metrics/<stage>.json and closes dvclive (timings go there, not into the JSON, so identical
    runs give identical metrics); every rank waits for it. Returns the summary with the run's timing."""
    if world.main:
        write_text(metrics_json, json.dumps(summary, indent=2) + "\n")
        live.note({"seconds_per_iteration": result.seconds_per_iteration, "resumed_from": result.resumed_from,
                   "seconds": result.seconds})
        live.end()
    world.barrier()
    return {**summary, "resumed_from": result.resumed_from, "seconds_per_iteration": result.seconds_per_iteration}
