"""`python -m msrgan upscale INPUT... --model generator.pt --out DIR`: upscale a user's own images file by file.

A file that cannot be upscaled gets one `error:` line on stderr naming it and the others still run; the exit status
is 1 when any failed, 2 for a bad --model or option, 0 otherwise.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import tifffile
import torch
from tqdm import tqdm

from msrgan.atomic import atomic_path, write_text
from msrgan.errors import UserError, fail
from msrgan.imageio import image_suffix, write_png
from msrgan.tiffmeta import pixel_size_um
from msrgan.upscale.consistency import Consistency
from msrgan.upscale.imagefile import TILE, read_input, write_output, write_tiles
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
    parser.add_argument("--tile", type=int, default=256, help="tile side in input pixels (default 256)")
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
    parser.add_argument("--consistency-threshold", type=float, default=0.05,
                        help="difference (fraction of the intensity range) counted as 'off' (default 0.05)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar, no per-file lines")


def setup(args: argparse.Namespace) -> Upscaler:
    """The upscaler shared by the files of one call; UserError (exit 2) for a bad model or option."""
    if not args.model:
        fail("--model: required (the generator file, e.g. data/models/generator.pt)")
    if not args.out:
        fail("--out: required (the folder for the upscaled images)")
    if not 0 < args.consistency_threshold < 1:
        fail(f"--consistency-threshold: between 0 and 1, got {args.consistency_threshold}")
    upscaler = load_upscaler(args.model, args.device, args.precision, args.channels, args.tile, args.overlap,
                             args.batch, args.compile)
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


def upscale_file(src: Path, dest: Path, upscaler: Upscaler, args: argparse.Namespace, bar: tqdm) -> str:
    """Upscale one file to `dest` (and its consistency map beside it); a one-line description of what was done."""
    image = read_input(src)
    planes = image.planes()
    count, height, width, channels = planes.shape
    bar.set_description(src.name)
    check = Consistency(threshold=args.consistency_threshold) if args.consistency_map else None
    s = upscaler.scale
    streamed = image.streamable(s)
    if streamed:   # a large field: strip by strip into a tiled TIFF, never whole in memory
        rows = 4 * TILE // s   # 256 LR rows at x4 (the context rows and strip tiling: about 25% more work)
        bar.reset(total=upscaler.strip_tiles(planes[0], rows))
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
    if check is not None:
        base = dest.with_name(dest.name + ".consistency")
        if count == 1:
            write_png(base.with_name(base.name + ".png"), maps[0])
        else:
            write_consistency_stack(base.with_name(base.name + ".tif"), np.stack(maps))
        write_text(base.with_name(base.name + ".txt"), f"{dest.name}: {check.summary()}\n")
        line += f"\n  {check.summary()}"
    return line


def write_consistency_stack(path: Path, maps: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, maps, photometric="rgb", compression="zlib")


def run(args: argparse.Namespace) -> int:
    try:
        upscaler = setup(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    jobs = collect(args.inputs, Path(args.out))
    failed = 0
    start = time.perf_counter()
    with tqdm(total=0, unit="tile", disable=True if args.quiet else None, leave=False) as bar:
        for job in jobs:
            if isinstance(job, str):
                message = job
            else:
                try:
                    line = upscale_file(*job, upscaler, args, bar)
                except UserError as exc:
                    message = str(exc)
                except (OSError, MemoryError, torch.OutOfMemoryError) as exc:
                    message = f"{job[0]}: {type(exc).__name__}: {exc}".splitlines()[0]
                    if not isinstance(exc, OSError):
                        message += " (try a smaller --tile or --batch)"
                except Exception as exc:  # noqa: BLE001 - one file's unforeseen failure must not stop the batch
                    message = (f"{job[0]}: not upscaled, unexpected {type(exc).__name__}: {exc}".splitlines()[0]
                               + " (please report it)")
                else:
                    if not args.quiet:
                        tqdm.write(line)
                    continue
            failed += 1
            tqdm.write(f"error: {message}", file=sys.stderr)
    if not args.quiet:
        print(f"upscaled {len(jobs) - failed} of {len(jobs)} input(s) in {time.perf_counter() - start:.1f} s"
              f"{f'; {failed} failed' if failed else ''}", file=sys.stderr)
    return 1 if failed else 0
