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
from msrgan.runtime import Runtime, pick_runtime, unwrap, wants_cuda
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


class RunState:
    """Where a run is, in one snapshot format for its rollback point (kept in memory) and its checkpoint (on disk):
    the iteration, the logged history, the rollbacks so far, the selected weights' record (Selection), the loss
    guard's recent values, the RNG state and every state object's state_dict (unwrapped from DDP)."""

    def __init__(self, objects: dict, select_key: str):
        self.objects = objects
        self.step = 0
        self.history: list[dict] = []
        self.rollbacks: list[dict] = []   # each: at, to (iterations), reason, lr_scale
        self.recent: list[float] = []     # the guarded loss over the last Healthy.WINDOW steps
        self.selection = Selection(select_key)

    def snapshot(self) -> dict:
        """The state as plain data (references, not copies: deep-copy it to keep it)."""
        return {"step": self.step, "history": self.history, "best": self.selection.record,
                "rollbacks": self.rollbacks, "recent": self.recent, "rng": torch.get_rng_state(),
                "state": {k: unwrap(v).state_dict() for k, v in self.objects.items()}}

    def load(self, snap: dict, log: bool = True) -> None:
        """Put a snapshot back: the state objects, RNG, loss guard and selection; with `log`, the history and the
        rollbacks too (a resume), else they keep what happened since (a rollback)."""
        for name, obj in self.objects.items():
            unwrap(obj).load_state_dict(snap["state"][name])
        torch.set_rng_state(snap["rng"])
        self.step, self.recent, self.selection.record = snap["step"], snap["recent"], snap["best"]
        if log:
            self.history, self.rollbacks = snap["history"], snap["rollbacks"]


class Healthy:
    """The last healthy state of a run (a snapshot taken at each validation that did not drop) and the rules that
    send a run back to it: a non-finite loss, a guarded loss above `loss_spike` x its median over the last 50 steps,
    or a validation `val_drop` below the best so far. Going back lowers every learning rate by `lr_factor`."""

    WINDOW, MIN_STEPS = 50, 20

    def __init__(self, rules, run: RunState):
        self.rules, self.run = rules, run
        self.point: dict | None = None

    def take(self) -> None:
        self.point = copy.deepcopy(self.run.snapshot())

    def spike(self, losses: dict[str, float], guard: str | None) -> str | None:
        """Why this step's losses need a rollback, or None; records the guarded loss when healthy."""
        bad = [k for k, v in losses.items() if not math.isfinite(v)]
        if bad:
            return f"loss became NaN/inf ({', '.join(bad)})"
        if guard is None:
            return None
        value, recent = losses[guard], self.run.recent
        if len(recent) >= self.MIN_STEPS:
            typical = sorted(recent)[len(recent) // 2]
            if value > self.rules.loss_spike * max(typical, 1e-12):
                return f"loss {guard} spiked to {value:.3g} ({value / max(typical, 1e-12):.0f}x its recent median)"
        self.run.recent = (recent + [value])[-self.WINDOW:]
        return None

    def restore(self) -> int:
        """Load the healthy point into the run (its log kept), scale the learning rates down, take the point
        again (so that going back here again lowers them again); returns its iteration."""
        self.run.load(copy.deepcopy(self.point), log=False)
        for obj in self.run.objects.values():
            if isinstance(obj, torch.optim.lr_scheduler.LRScheduler):
                obj.base_lrs = [lr * self.rules.lr_factor for lr in obj.base_lrs]
            if isinstance(obj, torch.optim.Optimizer):
                for group in obj.param_groups:
                    group["lr"] *= self.rules.lr_factor
        self.take()
        return self.run.step


class Selection:
    """Weight selection: the best-validated weights of one model (higher `key` is better) with their iteration and
    metrics. `record` ({"step", "metrics", "state"}) is plain data, so the run's snapshots carry it."""

    def __init__(self, key: str):
        self.key = key
        self.record = {"step": 0, "metrics": None, "state": None}

    @property
    def peak(self) -> float | None:
        """The best validation `key` so far, None before the first validation."""
        return self.record["metrics"][self.key] if self.record["metrics"] else None

    def offer(self, at: int, metrics: dict, model: torch.nn.Module) -> None:
        """Keep a CPU copy of `model`'s weights when `metrics` (at iteration `at`) beat the best so far."""
        if metrics and (self.record["metrics"] is None or metrics[self.key] > self.record["metrics"][self.key]):
            self.record = {"step": at, "metrics": metrics, "state": copy.deepcopy(
                {k: v.detach().cpu() for k, v in unwrap(model).state_dict().items()})}

    def choose(self, select: str, model: torch.nn.Module, total: int, last: dict) -> tuple[int, dict]:
        """(iteration, metrics) of the weights `model` ends with: the best ones loaded into it (select 'best'),
        else the last iteration's, which it already holds."""
        if select == "best" and self.record["state"] is not None:
            unwrap(model).load_state_dict(self.record["state"])
            return self.record["step"], self.record["metrics"]
        return total, last


class Run:
    """One training run's bookkeeping around the steps: resume from its checkpoint, validation (logged, offered
    to the selection, a fall rolled back), checkpoints and rollbacks, all through one RunState."""

    def __init__(self, stage: str, rules, world: World, run_hash: str, checkpoints: str | Path | None,
                 objects: dict, validate: Callable[[], dict[str, float]], keep: str, select_key: str, live: Live):
        self.stage, self.rules, self.world, self.live = stage, rules, world, live
        self.hash, self.checkpoints = run_hash, checkpoints
        self.validate_fn, self.keep, self.select_key = validate, objects[keep], select_key
        self.state = RunState(objects, select_key)
        self.healthy = Healthy(rules, self.state)

    def resume(self) -> int:
        """Load this run's checkpoint where there is one (same hash) and replay its history into dvclive; validate
        the start of a fresh run; take the first healthy point. Returns the iteration to start at."""
        saved = load_checkpoint(self.checkpoints, self.hash) if self.checkpoints is not None else None
        if saved is not None:
            self.state.load(saved)
        for record in self.state.history:
            self.live.log(record)
        if saved is None:
            self.state.selection.offer(0, self.validate(0), self.keep)   # the start (residual generator: bicubic)
        self.healthy.take()
        return self.state.step

    def validate(self, at: int) -> dict:
        """Validation metrics at iteration `at` (computed on rank 0, broadcast), logged."""
        metrics = self.world.broadcast_object(self.validate_fn() if self.world.main else {})
        self.log({"step": at, "val": metrics})
        return metrics

    def log(self, record: dict) -> None:
        self.state.history.append(record)
        self.live.log(record)

    def validated(self, at: int, metrics: dict) -> str | None:
        """Why the validation at `at` needs a rollback (it fell `val_drop` below the best, or is NaN), else None
        after offering the weights to the selection and taking the healthy point there."""
        peak = self.state.selection.peak
        if metrics and peak is not None and not metrics[self.select_key] >= peak - self.rules.val_drop:
            return f"validation {self.select_key} fell to {metrics[self.select_key]:.4g} (best {peak:.4g})"
        self.state.selection.offer(at, metrics, self.keep)
        self.state.step = at
        self.healthy.take()
        return None

    def checkpoint(self, at: int) -> None:
        """The run's snapshot at iteration `at`, with its hash and stage, written atomically by rank 0."""
        if self.checkpoints is not None and self.world.main:
            self.state.step = at
            save_checkpoint(self.checkpoints, {"hash": self.hash, "stage": self.stage, **self.state.snapshot()})
        self.world.barrier()

    def roll_back(self, at: int, why: str) -> int:
        """Back to the healthy point with lower learning rates (a UserError after `rollback.max` of them);
        returns the iteration to go on from."""
        rollbacks = self.state.rollbacks
        if len(rollbacks) >= self.rules.max:
            fail(f"{self.stage}: {why} at iteration {at}, after {len(rollbacks)} rollback(s) with lower learning "
                 f"rates; stopped. The last good checkpoint (in {self.checkpoints}) is kept; lower {self.stage}.lr "
                 f"and rerun")
        to = self.healthy.restore()
        rollbacks.append({"at": at, "to": to, "reason": why, "lr_scale": self.rules.lr_factor ** (len(rollbacks) + 1)})
        self.state.history.append({"step": at, "rollback": rollbacks[-1]})
        tqdm.write(f"{self.stage}: {why} at iteration {at}; back to iteration {to} with learning rates "
                   f"x{rollbacks[-1]['lr_scale']:g}")
        return to


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
    total = params.iterations
    run = Run(stage, params.rollback, world, run_hash, checkpoints, state, validate, keep, select_key,
              live or Live(None, False))
    start = it = run.resume()
    bar = tqdm(total=total, initial=start, desc=stage, disable=not world.main, dynamic_ncols=True, mininterval=1.0)
    window: dict[str, list[float]] = {}
    timed, step_time = 0, 0.0
    began = time.perf_counter()
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
        why = run.healthy.spike(losses, guard)
        if why is None:
            for k, v in losses.items():
                window.setdefault(k, []).append(v)
            if done % params.log_every == 0 or done == total:
                run.log({"step": done, "train": {k: sum(v) / len(v) for k, v in window.items()}})
                bar.set_postfix({k: f"{v:.4g}" for k, v in run.state.history[-1]["train"].items()}, refresh=False)
                window = {}
            bar.update(1)
            if done % params.val_every == 0 or done == total:
                metrics = run.validate(done)
                if metrics:
                    bar.set_description(f"{stage} val {select_key} {metrics[select_key]:.3f}")
                why = run.validated(done, metrics)
        if why is not None:
            it = bar.n = run.roll_back(done, why)
            window = {}
            continue
        if done % params.checkpoint_every == 0 or done == total:
            run.checkpoint(done)
        it = done
    bar.close()

    history = run.state.history
    last = next((r["val"] for r in reversed(history) if "val" in r), {})
    chosen_step, chosen = run.state.selection.choose(select, state[keep], total, last)
    return LoopResult(history, chosen_step, chosen, last, start, step_time / timed if timed else None,
                      time.perf_counter() - began, rollbacks=run.state.rollbacks)


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
