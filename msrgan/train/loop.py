"""The training loop the three stages share: seeded steps, periodic validation, dvclive curves, atomic
checkpoints with resume, keeping the best-validated weights, and rollback to the last healthy state when a loss
spikes, turns NaN or the validation collapses."""
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
from tqdm import tqdm

from msrgan.atomic import write_text
from msrgan.errors import fail
from msrgan.runtime import Runtime, pick_runtime, wants_cuda
from msrgan.train.checkpoint import load_checkpoint, save_checkpoint
from msrgan.train.dataset import Batches, Split, load_split, training_split
from msrgan.train.distributed import World, distributed


@dataclass
class LoopResult:
    history: list[dict]
    selected_step: int       # the iteration whose weights the model holds at the end (select: best or last)
    selected: dict           # validation metrics of those weights
    last: dict               # validation metrics at the final iteration
    resumed_from: int        # 0 for a fresh run
    seconds_per_iteration: float | None  # measured in this process, None when nothing was left to run
    seconds: float = 0.0
    rollbacks: list[dict] = field(default_factory=list)   # each: at, to (iterations), reason, lr_scale


def seed_everything(seed: int, rt) -> None:
    """Same params, same machine, same result: seeded init and deterministic kernels where that is cheap."""
    torch.manual_seed(seed)
    if rt.device.type == "cuda":
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    else:
        torch.use_deterministic_algorithms(True, warn_only=True)


@contextlib.contextmanager
def training_session(stage: str, params, seed: int, processed,
                     with_lr: bool = True) -> Iterator[tuple[World, Runtime, Batches, Split]]:
    """What every trainer starts with: the process group (when torchrun started us), the device and precision, the
    seeds, this rank's training batches (streamed from the files) and the val split of `processed` (in memory)."""
    with distributed(wants_cuda(params.device)) as world:
        rt = pick_runtime(params.device, params.precision, params.channels_last, world.local_rank, f"{stage}.device")
        seed_everything(seed, rt)
        train = training_split(processed, params, seed, world.rank, world.size, with_lr)
        try:
            yield world, rt, train, load_split(processed, "val")
        finally:
            train.close()


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


def clip_gradients(model: torch.nn.Module, max_norm: float) -> float:
    """The global L2 norm of `model`'s gradients before clipping, clipped to `max_norm` when that is > 0."""
    params = [p for p in model.parameters() if p.grad is not None]
    if max_norm > 0:
        return float(torch.nn.utils.clip_grad_norm_(params, max_norm))
    return float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in params])))


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


class Healthy:
    """The last healthy state of a run (taken at each validation that did not drop) and the rules that send a run
    back to it: a non-finite loss, a guarded loss above `loss_spike` x its median over the last 50 steps, or a
    validation `val_drop` below the best so far. Going back lowers every learning rate by `lr_factor`."""

    WINDOW, MIN_STEPS = 50, 20

    def __init__(self, rules, state: dict, unwrap: Callable):
        self.rules, self.state, self.unwrap = rules, state, unwrap
        self.snapshot: dict | None = None
        self.recent: list[float] = []

    def take(self, at: int, extra: dict) -> None:
        self.snapshot = copy.deepcopy({"step": at, "recent": self.recent, "rng": torch.get_rng_state(), **extra,
                                       "state": {k: self.unwrap(v).state_dict() for k, v in self.state.items()}})

    def spike(self, losses: dict[str, float], guard: str | None) -> str | None:
        """Why this step's losses need a rollback, or None; records the guarded loss when healthy."""
        bad = [k for k, v in losses.items() if not math.isfinite(v)]
        if bad:
            return f"loss became NaN/inf ({', '.join(bad)})"
        if guard is None:
            return None
        value = losses[guard]
        if len(self.recent) >= self.MIN_STEPS:
            typical = sorted(self.recent)[len(self.recent) // 2]
            if value > self.rules.loss_spike * max(typical, 1e-12):
                return f"loss {guard} spiked to {value:.3g} ({value / max(typical, 1e-12):.0f}x its recent median)"
        self.recent = (self.recent + [value])[-self.WINDOW:]
        return None

    def restore(self) -> dict:
        """Load the snapshot into every state object, scale the learning rates down; returns the snapshot."""
        snap = copy.deepcopy(self.snapshot)
        for name, obj in self.state.items():
            self.unwrap(obj).load_state_dict(snap["state"][name])
        for obj in self.state.values():
            if isinstance(obj, torch.optim.lr_scheduler.LRScheduler):
                obj.base_lrs = [lr * self.rules.lr_factor for lr in obj.base_lrs]
            if isinstance(obj, torch.optim.Optimizer):
                for group in obj.param_groups:
                    group["lr"] *= self.rules.lr_factor
        torch.set_rng_state(snap["rng"])
        self.recent = snap["recent"]
        return snap


def unwrap(obj):
    """The module inside a DDP wrapper (or the object itself)."""
    return getattr(obj, "module", obj)


class Selection:
    """Weight selection: the best-validated weights of one model (higher `key` is better) with their iteration and
    metrics. `record` ({"step", "metrics", "state"}) is plain data, so checkpoints and rollback snapshots carry it."""

    def __init__(self, key: str, record: dict | None = None):
        self.key = key
        self.record = record if record is not None else {"step": 0, "metrics": None, "state": None}

    @property
    def peak(self) -> float | None:
        """The best validation `key` so far, None before the first validation."""
        return self.record["metrics"][self.key] if self.record["metrics"] else None

    def offer(self, at: int, metrics: dict, model: torch.nn.Module) -> None:
        """Keep a CPU copy of `model`'s weights when `metrics` (at iteration `at`) beat the best so far."""
        if metrics and (self.record["metrics"] is None or metrics[self.key] > self.record["metrics"][self.key]):
            self.record.update(step=at, metrics=metrics,
                               state=copy.deepcopy({k: v.detach().cpu() for k, v in unwrap(model).state_dict().items()}))

    def choose(self, select: str, model: torch.nn.Module, total: int, last: dict) -> tuple[int, dict]:
        """(iteration, metrics) of the weights `model` ends with: the best ones loaded into it (select 'best'),
        else the last iteration's, which it already holds."""
        if select == "best" and self.record["state"] is not None:
            unwrap(model).load_state_dict(self.record["state"])
            return self.record["step"], self.record["metrics"]
        return total, last


def write_checkpoint(directory, *, run_hash: str, stage: str, at: int, history: list[dict], best: dict,
                     rollbacks: list[dict], recent: list[float], state: dict) -> None:
    """Everything a resumed run needs at iteration `at`: the run's hash (resume only the same run), its logged
    history, the selected weights' record, the rollbacks so far, the loss guard's recent values, the RNG state and
    every state object's state_dict (unwrapped from DDP), written atomically."""
    save_checkpoint(directory, {"hash": run_hash, "stage": stage, "step": at, "history": history, "best": best,
                                "rollbacks": rollbacks, "recent": recent, "rng": torch.get_rng_state(),
                                "state": {k: unwrap(v).state_dict() for k, v in state.items()}})


def run_loop(*, stage: str, params, seed: int, world: World, run_hash: str, checkpoints: str | Path | None,
             state: dict, step: Callable[[int], dict[str, float]], validate: Callable[[], dict[str, float]],
             keep: str, select: str = "last", select_key: str = "psnr", guard: str | None = None,
             live: Live | None = None, stop_at: int | None = None) -> LoopResult:
    """Run iterations [resume point, params.iterations) of `step`, validating every `val_every` on rank 0.

    `state` maps names to objects with state_dict/load_state_dict (models, optimizers, schedulers); all of them go
    into the checkpoint. `keep` names the model whose best-validated weights are kept when select == 'best'
    (higher `select_key` is better); at the end that model holds the selected weights. The losses `step` returns
    are averaged over ranks. A non-finite loss, a spike of the loss named `guard`, or a validation far below the
    best so far rolls the run back to its last healthy validation with lower learning rates (`params.rollback`);
    more than `rollback.max` rollbacks stop the stage with a UserError. `stop_at` simulates an interrupt (tests).
    """
    live = live or Live(None, False)
    total, rules = params.iterations, params.rollback
    healthy = Healthy(rules, state, unwrap)
    saved = load_checkpoint(checkpoints, run_hash) if checkpoints is not None else None
    history: list[dict] = []
    rollbacks: list[dict] = []
    selection = Selection(select_key)
    best = selection.record
    start = 0
    if saved is not None:
        for name, obj in state.items():
            obj.load_state_dict(saved["state"][name])
        history, start = saved["history"], saved["step"]
        selection = Selection(select_key, saved["best"])
        best = selection.record
        rollbacks, healthy.recent = saved.get("rollbacks", []), saved.get("recent", [])
        torch.set_rng_state(saved["rng"])
    for record in history:
        live.log(record)

    def do_validate(at: int) -> dict:
        metrics = validate() if world.main else {}
        metrics = world.broadcast_object(metrics)
        record = {"step": at, "val": metrics}
        history.append(record)
        live.log(record)
        return metrics

    def checkpoint(at: int) -> None:
        if checkpoints is not None and world.main:
            write_checkpoint(checkpoints, run_hash=run_hash, stage=stage, at=at, history=history, best=best,
                             rollbacks=rollbacks, recent=healthy.recent, state=state)
        world.barrier()

    def roll_back(at: int, why: str) -> int:
        if len(rollbacks) >= rules.max:
            fail(f"{stage}: {why} at iteration {at}, after {len(rollbacks)} rollback(s) with lower learning "
                 f"rates; stopped. The last good checkpoint (in {checkpoints}) is kept; lower {stage}.lr and rerun")
        snap = healthy.restore()
        best.update(snap["best"])
        healthy.take(snap["step"], {"best": best})   # the lowered rates too: going back here again lowers them again
        rollbacks.append({"at": at, "to": snap["step"], "reason": why,
                          "lr_scale": rules.lr_factor ** (len(rollbacks) + 1)})
        history.append({"step": at, "rollback": rollbacks[-1]})
        tqdm.write(f"{stage}: {why} at iteration {at}; back to iteration {snap['step']} with learning rates "
                   f"x{rollbacks[-1]['lr_scale']:g}")
        return snap["step"]

    if start == 0:
        selection.offer(0, do_validate(0), state[keep])   # the start (a residual generator: plain bicubic)
    healthy.take(start, {"best": best})
    bar = tqdm(total=total, initial=start, desc=stage, disable=not world.main, dynamic_ncols=True, mininterval=1.0)
    window: dict[str, list[float]] = {}
    timed, step_time = 0, 0.0
    began = time.perf_counter()
    it = start
    while it < total:
        if stop_at is not None and it == stop_at:
            raise KeyboardInterrupt
        torch.manual_seed(seed * 1_000_003 + it * 101 + world.rank)   # dropout etc.: a function of the iteration
        tick = time.perf_counter()
        losses = world.average(step(it))
        if it > start:   # time steady-state steps only (the first one warms caches up), not validation
            step_time += time.perf_counter() - tick
            timed += 1
        done = it + 1
        why = healthy.spike(losses, guard)
        if why is not None:
            it = roll_back(done, why)
            bar.n = it
            window = {}
            continue
        for k, v in losses.items():
            window.setdefault(k, []).append(v)
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
            peak = selection.peak
            if metrics and peak is not None and not metrics[select_key] >= peak - rules.val_drop:  # NaN too
                it = roll_back(done, f"validation {select_key} fell to {metrics[select_key]:.4g} (best {peak:.4g})")
                bar.n = it
                window = {}
                continue
            selection.offer(done, metrics, state[keep])
            healthy.take(done, {"best": best})
        if done % params.checkpoint_every == 0 or done == total:
            checkpoint(done)
        it = done
    bar.close()
    per_it = step_time / timed if timed else None

    last = next((r["val"] for r in reversed(history) if "val" in r), {})
    chosen_step, chosen = selection.choose(select, state[keep], total, last)
    return LoopResult(history, chosen_step, chosen, last, start, per_it, time.perf_counter() - began,
                      rollbacks=rollbacks)


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
