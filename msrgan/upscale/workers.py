"""The files of one `msrgan upscale` call as Dask tasks, one per file, on a local cluster (`--workers N`) or an
existing one (`--scheduler ADDRESS`, msrgan.cluster).

Each worker process loads the generator once (worker_upscaler keeps it per process, keyed by the model file's
content and the options) and runs one file at a time per worker thread through the same code as a sequential run
(msrgan.upscale.command.upscale_job), so the outputs are byte-identical to it, a large field is streamed in strips
with the same flat memory per worker, and a file's failure comes back as its one line while the others go on.
A worker that dies on a file (killed for memory, say) fails that file alone, once the scheduler has given up
retrying it.
"""
from __future__ import annotations

import argparse
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from msrgan.cluster import cpu_count, dask_client
from msrgan.upscale.resume import file_sha256
from msrgan.upscale.upscaler import Upscaler, load_upscaler


@dataclass(frozen=True)
class Settings:
    """What a worker needs to load the generator the way the call asks (hashable: the key of its cache)."""
    model: str
    model_sha256: str
    device: str
    precision: str
    channels: str
    tile: int
    overlap: int | None
    batch: int
    compile: bool
    threads: int          # torch threads per file; 0: the worker's cores divided by its threads


_loaded: dict[Settings, Upscaler] = {}
_lock = threading.Lock()


def worker_upscaler(settings: Settings) -> Upscaler:
    """The upscaler of `settings` in this worker process, loaded by the first file that needs it (under a lock, so
    threads of one worker share it), and again only for another model or options."""
    with _lock:
        if settings not in _loaded:
            _loaded.clear()
            threads = settings.threads
            if not threads:
                from distributed import get_worker

                threads = max(1, cpu_count() // get_worker().state.nthreads)
            torch.set_num_threads(threads)
            _loaded[settings] = load_upscaler(settings.model, settings.device, settings.precision, settings.channels,
                                              settings.tile, settings.overlap, settings.batch, settings.compile)
        return _loaded[settings]


def local_paths(paths: tuple[Path, ...], cwd: Path) -> tuple[Path, ...]:
    """`paths` as given where this worker runs in the caller's folder `cwd` (a local cluster), else made absolute
    against it (a worker elsewhere, on a filesystem shared at the same paths)."""
    if Path.cwd() == cwd:
        return paths
    return tuple(p if p.is_absolute() else cwd / p for p in paths)


def upscale_task(src: Path, dest: Path, out: Path, settings: Settings, args: argparse.Namespace, cwd: Path):
    """One file on a Dask worker: its msrgan.upscale.command.Outcome (never raises for the file's own failure)."""
    from msrgan.errors import UserError
    from msrgan.upscale.command import Outcome, upscale_job

    src, dest, out = local_paths((src, dest, out), cwd)
    try:
        upscaler = worker_upscaler(settings)
    except UserError as exc:   # e.g. no GPU on this worker for --device cuda
        return Outcome(False, f"{src}: not upscaled on this worker: {exc}")
    with tqdm(total=0, disable=True) as bar:   # the caller shows one bar over the files
        return upscale_job(src, dest, out, upscaler, args, bar)


def upscale_on_cluster(jobs: list[tuple[Path, Path] | str], out: Path, args: argparse.Namespace
                       ) -> Iterator[tuple[tuple[Path, Path] | str, object]]:
    """(job, Outcome) for each job as it finishes on the cluster of args.workers / args.scheduler, with a progress
    bar over the files. A job that is an error message (msrgan.upscale.command.collect) comes back first as it is.
    UserError when the cluster cannot be started or reached."""
    from distributed import as_completed

    from msrgan.upscale.command import Outcome

    for job in jobs:
        if isinstance(job, str):
            yield job, Outcome(False, job)
    files = [job for job in jobs if not isinstance(job, str)]
    if not files:
        return
    threads = args.threads or (0 if args.scheduler else max(1, cpu_count() // args.workers))
    settings = Settings(args.model, file_sha256(args.model), args.device, args.precision, args.channels, args.tile,
                        args.overlap, args.batch, args.compile, threads)
    # what each task needs of the options: not the list of inputs, which every task would otherwise carry
    options = argparse.Namespace(**{k: v for k, v in vars(args).items() if k != "inputs"})
    with dask_client(args.workers, args.scheduler, threads=1) as client:
        futures = client.map(upscale_task, [src for src, _ in files], [dest for _, dest in files], out=out,
                             settings=settings, args=options, cwd=Path.cwd(), pure=False)
        job_of = {future.key: job for future, job in zip(futures, files)}
        with tqdm(total=len(futures), unit="file", disable=True if args.quiet else None, leave=False) as bar:
            for future in as_completed(futures, loop=client.loop):
                job = job_of[future.key]
                bar.update()
                if future.status == "finished":
                    yield job, future.result()
                    continue
                try:
                    future.result()
                    reason = f"the task was {future.status}"
                except Exception as exc:  # noqa: BLE001 - a dead worker or a lost task fails its file only
                    reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
                yield job, Outcome(False, f"{job[0]}: not upscaled, its Dask task failed ({reason}); a worker that "
                                          "died on it may have run out of memory (try a smaller --tile or --batch)")
