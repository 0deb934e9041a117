"""`python -m msrgan upscale INPUT... --model generator.pt --out DIR`: upscale a user's own images file by file.

A file that cannot be upscaled gets one `error:` line on stderr naming it and the others still run; the exit status
is 1 when any failed, 2 for a bad --model or option, 0 otherwise. The files go one after another through this
process, or, with `--workers N` / `--scheduler ADDRESS`, to the workers of a Dask cluster (msrgan.upscale.workers).
An output finished by an earlier call with the same settings is skipped (msrgan.upscale.resume), so a call started
again after an interruption does only the rest.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile
import torch
from tqdm import tqdm

from msrgan.atomic import atomic_path, write_text
from msrgan.cluster import check_cluster_options, uses_cluster
from msrgan.errors import UserError, fail
from msrgan.imageio import image_suffix, write_png
from msrgan.tiffmeta import pixel_size_um
from msrgan.upscale.consistency import Consistency
from msrgan.upscale.imagefile import TIFF_TILE, read_input, write_output, write_tiles
from msrgan.upscale.resume import Journal, file_sha256, input_stamp, remove_stale_temporaries, settings_key
from msrgan.upscale.tiling import TILE
from msrgan.upscale.upscaler import Upscaler, load_upscaler

HELP = "upscale your own microscopy images (TIFF/OME-TIFF/ImageJ, PNG, JPEG; 8/16-bit; 1-4 channels)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, or folders searched recursively")
    parser.add_argument("--model", help="generator file (e.g. data/models/generator.pt)")
    parser.add_argument("--out", help="output folder: each output is named after its input")
    parser.add_argument("--channels", default="auto",
                        help="input channels fed to the generator's R,G,B, e.g. 0,1,2 or 2,1,- ('-' black); the "
                             "others go through one at a time. 'single': every channel on its own. 'auto' "
                             "(default): 3-4 channels as 0,1,2 (+ the 4th alone), 1-2 channels each alone")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                        help="auto: bf16 autocast on CUDA and on CPUs with native bf16, else fp32")
    parser.add_argument("--tile", type=int, default=TILE, help=f"tile side in input pixels (default {TILE})")
    parser.add_argument("--overlap", type=int, default=None,
                        help="tile overlap in input pixels (default: the generator's receptive-field radius)")
    parser.add_argument("--batch", type=int, default=0, help="tiles per forward pass (default: 1 on CPU, 8 on CUDA)")
    parser.add_argument("--compile", action="store_true",
                        help="compile the network (torch.compile): 5-60 s per tile shape first, then 1.08x faster "
                             "on a 2-core AVX512-BF16 CPU without AMX (measured; maybe more with AMX); for many "
                             "same-size fields in one call; needs a C++ compiler")
    parser.add_argument("--consistency-map", action="store_true",
                        help="also write <output>.consistency.png (and .txt): where the output, downscaled again "
                             "as the training LR was made, disagrees with the input")
    parser.add_argument("--consistency-threshold", type=float, default=Consistency.threshold,
                        help=f"difference (fraction of the intensity range) counted as 'off' (default "
                             f"{Consistency.threshold:g})")
    parser.add_argument("--quiet", action="store_true", help="no progress bar, no per-file lines")
    parser.add_argument("--workers", type=int, default=1,
                        help="1 (default): the files one after another in this process; N: on a local Dask "
                             "cluster of N worker processes sharing this machine's cores, each loading the "
                             "generator once")
    parser.add_argument("--scheduler", default="", metavar="ADDRESS",
                        help="send the files to an existing Dask cluster: its scheduler's address "
                             "(tcp://host:8786) or scheduler file; inputs, model and --out must be on paths every "
                             "worker sees (README: 'A whole screen on a Dask cluster')")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads per file on a Dask worker (default: with --workers, the cores divided "
                             "between the workers; with --scheduler, the worker's cores divided by its threads)")
    parser.add_argument("--overwrite", action="store_true",
                        help="redo every output; by default an output finished by an earlier call with the same "
                             "model and options is skipped")


def setup(args: argparse.Namespace) -> Upscaler:
    """The upscaler shared by the files of one call; UserError (exit 2) for a bad model or option."""
    if not args.model:
        fail("--model: required (the generator file, e.g. data/models/generator.pt)")
    if not args.out:
        fail("--out: required (the folder for the upscaled images)")
    if not 0 < args.consistency_threshold < 1:
        fail(f"--consistency-threshold: between 0 and 1, got {args.consistency_threshold}")
    check_cluster_options(args.workers, args.scheduler)
    if args.threads < 0:
        fail(f"--threads: at least 1 (0: the default), got {args.threads}")
    device, precision, compiled = args.device, args.precision, args.compile
    if uses_cluster(args.workers, args.scheduler):
        # The model and options are checked here on the CPU (the workers load their own copy: no GPU memory is held
        # here); a --scheduler cluster's workers may have a device this machine lacks.
        if not args.scheduler and args.device == "cuda" and not torch.cuda.is_available():
            fail("--device: cuda requested but no CUDA device is available (use auto or cpu)")
        device, precision, compiled = "cpu", "fp32", False
    upscaler = load_upscaler(args.model, device, precision, args.channels, args.tile, args.overlap, args.batch,
                             compiled)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        fail(f"--out: {out} is a file, not a folder")
    try:   # before any work: a folder that cannot be made would fail every image after its computation
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"--out: cannot create the folder {out} ({exc.strerror or type(exc).__name__})")
    return upscaler


def collect(inputs: list[str], out: Path) -> list[tuple[Path, Path] | str]:
    """In input order, an (input, output) pair per image, or an error message for an input that yields none.
    Folders are searched recursively for images (hidden files and anything under `out` skipped) and keep their
    subfolders under `out`."""
    found_jobs: list[tuple[Path, Path] | str] = []
    seen: set[Path] = set()     # the same file named twice (a/../f, or also through its folder) is one input
    out_resolved = out.resolve()
    for name in inputs:
        path = Path(name)
        if path.is_dir():
            found = [p for p in sorted(path.rglob("*")) if p.is_file() and image_suffix(p)
                     and not any(part.startswith(".") for part in p.relative_to(path).parts)
                     and out_resolved not in p.resolve().parents]
            if not found:
                found_jobs.append(f"{path}: no images (TIFF, PNG, JPEG) in this folder")
            candidates = [(p, out / p.relative_to(path)) for p in found]
        else:
            candidates = [(path, out / path.name)]  # a missing or bad file fails when it is read
        for src, dest in candidates:
            if src.exists() and src.resolve() in seen:
                continue
            seen.add(src.resolve())
            found_jobs.append((src, dest))
    jobs: list[tuple[Path, Path] | str] = []
    taken: dict[Path, Path] = {}
    for job in found_jobs:
        if isinstance(job, str):
            jobs.append(job)
            continue
        src, dest = job
        key = dest.resolve()
        if key == src.resolve():
            jobs.append(f"{src}: the output would overwrite the input (choose another --out)")
        elif key in seen:
            jobs.append(f"{src}: its output {dest} would overwrite another input of this call (choose another --out)")
        elif key in taken:
            jobs.append(f"{src}: its output {dest} is already the output of {taken[key]}")
        else:
            taken[key] = src
            jobs.append((src, dest))
    return jobs


def upscale_file(src: Path, dest: Path, upscaler: Upscaler, args: argparse.Namespace, bar: tqdm
                 ) -> tuple[str, list[Path]]:
    """Upscale one file to `dest` (and its consistency map beside it); a one-line description of what was done,
    and the files written."""
    image = read_input(src)
    planes = image.planes()
    count, height, width, channels = planes.shape
    bar.set_description(src.name)
    check = Consistency(threshold=args.consistency_threshold) if args.consistency_map else None
    s = upscaler.scale
    streamed = image.streamable(s)
    if streamed:   # a large field: strip by strip into a tiled TIFF, never whole in memory
        rows = 4 * TIFF_TILE // s   # 256 LR rows at x4 (the context rows and strip tiling: about 25% more work)
        bar.reset(total=upscaler.tiles(planes[:1], rows))
        maps: list[np.ndarray] = []
        note = write_tiles(dest, image, upscaler.strips(planes[0], rows, bar.update, check, maps), s)
        maps = [np.concatenate(maps)] if maps else []
    else:
        bar.reset(total=upscaler.tiles(planes))
        out, maps = upscaler(planes, bar.update, check)
        note = write_output(dest, image, image.with_alpha(out, s), s)
    line = (f"{src} -> {dest} ({width}x{height} -> {width * s}x{height * s}, {channels} channel(s), "
            f"{planes.dtype}{f', {count} planes' if count > 1 else ''}{', streamed in tiles' if streamed else ''})")
    line += f"\n  {upscaler.mapping(planes, image.channel_names())}{'; alpha kept as a mask' if image.alpha else ''}"
    remarks = (note, upscaler.domain_note(height, width), upscaler.pixel_size_note(str(src), pixel_size_um(image.tiff)))
    for remark in remarks:
        if remark:
            line += f"\n  note: {remark}"
    written = [dest]
    if check is not None:
        base = dest.with_name(dest.name + ".consistency")
        if count == 1:
            written.append(base.with_name(base.name + ".png"))
            write_png(written[-1], maps[0])
        else:
            written.append(base.with_name(base.name + ".tif"))
            write_consistency_stack(written[-1], np.stack(maps))
        written.append(base.with_name(base.name + ".txt"))
        write_text(written[-1], f"{dest.name}: {check.summary()}\n")
        line += f"\n  {check.summary()}"
    return line, written


@dataclass
class Outcome:
    """What became of one input: `ok`, the per-file line or the error message, and for a finished output the
    journal's facts (msrgan.upscale.resume): the input's stamp and {file relative to the output folder: size}."""
    ok: bool
    text: str
    stamp: list[int] | None = None
    files: dict[str, int] | None = None


def upscale_job(src: Path, dest: Path, out: Path, upscaler: Upscaler, args: argparse.Namespace, bar: tqdm
                ) -> Outcome:
    """Upscale `src` to `dest` (under the output folder `out`), catching its failure as one line: a UserError's
    message, an OSError or out-of-memory error with the file's name, anything else as 'unexpected' (and the other
    files go on). Stale temporary files of an interrupted earlier run for `dest` are removed first."""
    try:
        remove_stale_temporaries(dest)
        stamp = input_stamp(src) if src.is_file() else None
        line, written = upscale_file(src, dest, upscaler, args, bar)
        return Outcome(True, line, stamp, {p.relative_to(out).as_posix(): p.stat().st_size for p in written})
    except UserError as exc:
        message = str(exc)
    except (OSError, MemoryError, torch.OutOfMemoryError) as exc:
        message = f"{src}: {type(exc).__name__}: {exc}".splitlines()[0]
        if not isinstance(exc, OSError):
            message += " (try a smaller --tile or --batch)"
    except Exception as exc:  # noqa: BLE001 - one file's unforeseen failure must not stop the batch
        message = (f"{src}: not upscaled, unexpected {type(exc).__name__}: {exc}".splitlines()[0]
                   + " (please report it)")
    return Outcome(False, message)


def write_consistency_stack(path: Path, maps: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, maps, photometric="rgb", compression="zlib")


def run(args: argparse.Namespace) -> int:
    try:
        upscaler = setup(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    jobs = collect(args.inputs, out)
    journal = Journal.open(out, settings_key(args, file_sha256(args.model)))
    todo = [job for job in jobs if isinstance(job, str) or args.overwrite or not journal.complete(*job)]
    skipped = len(jobs) - len(todo)
    failed = 0
    start = time.perf_counter()
    if uses_cluster(args.workers, args.scheduler):
        from msrgan.upscale.workers import upscale_on_cluster   # distributed is imported only for a cluster run

        del upscaler   # each worker loads its own
        outcomes = upscale_on_cluster(todo, out, args)
    else:
        outcomes = sequential(todo, out, upscaler, args)
    try:
        for job, outcome in outcomes:
            if outcome.ok:
                journal.record(job[1], outcome.stamp, outcome.files)
                if not args.quiet:
                    tqdm.write(outcome.text)
            else:
                failed += 1
                tqdm.write(f"error: {outcome.text}", file=sys.stderr)
    except UserError as exc:   # the cluster could not be reached or started
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(f"upscaled {len(todo) - failed} of {len(jobs)} input(s) in {time.perf_counter() - start:.1f} s"
              f"{f'; {skipped} already complete, skipped (--overwrite redoes them)' if skipped else ''}"
              f"{f'; {failed} failed' if failed else ''}", file=sys.stderr)
    return 1 if failed else 0


def sequential(jobs: list[tuple[Path, Path] | str], out: Path, upscaler: Upscaler, args: argparse.Namespace
               ) -> Iterator[tuple[tuple[Path, Path] | str, Outcome]]:
    """(job, outcome) for each job, in order, upscaled in this process with one progress bar over the tiles."""
    with tqdm(total=0, unit="tile", disable=True if args.quiet else None, leave=False) as bar:
        for job in jobs:
            yield job, (Outcome(False, job) if isinstance(job, str) else upscale_job(*job, out, upscaler, args, bar))
