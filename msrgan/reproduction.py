"""`msrgan check-repro`: does this run's metrics/ agree with the published study (the committed metrics/)?

Compares the headline figures of metrics/evaluate.json and metrics/segment.json in the working tree with those of a
git revision (default HEAD), each within a tolerance, and checks the study's conclusions on this run: SRResNet and
mSRGAN above bicubic on PSNR and SSIM, no checkerboard on flat fields, and mSRGAN closer to HR than SRResNet by the
independent judge network (feature distance and KID). The tolerances are several times the spread that benchmarks/robustness.py
measured over seeds, precisions, thread counts and machines, and smaller than a collapse (README, "Reproducibility").
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from msrgan.evaluation.methods import all_methods, methods_in

HELP = "compare this run's metrics/ with the published (committed) study, within tolerances"

STUDIED = tuple(m.name for m in all_methods() if m.in_figures)     # bicubic and the generators (and the
                                                                   #   baselines the published study has)
GENERATORS = tuple(m.name for m in all_methods() if m.model)

# (file, methods, metric, tolerance): absolute differences allowed between a run and the published study
TOLERANCES = (
    ("evaluate.json", STUDIED, "psnr", 0.15),
    ("evaluate.json", STUDIED, "ssim", 0.01),
    ("segment.json", STUDIED, "nuclei_dice", 0.01),
    ("segment.json", STUDIED, "cells_dice", 0.01),
)


@dataclass(frozen=True)
class Finding:
    what: str          # e.g. "evaluate.json srresnet.psnr"
    published: float | None
    run: float | None
    tolerance: float

    @property
    def ok(self) -> bool:
        return (self.published is not None and self.run is not None
                and abs(self.run - self.published) <= self.tolerance)

    def __str__(self) -> str:
        def show(v):
            return "missing" if v is None else f"{v:.4f}"
        diff = f", diff {self.run - self.published:+.4f}" if self.published is not None and self.run is not None else ""
        return f"{self.what}: published {show(self.published)}, this run {show(self.run)}{diff} " \
               f"(tolerance {self.tolerance:g})"


def compare(published: dict[str, dict], run: dict[str, dict]) -> list[Finding]:
    """One Finding per (file, method, metric) of TOLERANCES, and for the baselines of the published study as for
    STUDIED; `published` and `run` map file names to parsed JSON."""
    findings = []
    baselines = tuple(m.name for m in methods_in(published.get("evaluate.json", {}))
                      if m.in_figures and m.name not in STUDIED)
    for name, methods, metric, tolerance in TOLERANCES:
        for method in methods + (baselines if methods == STUDIED else ()):
            def value(data):
                v = data.get(name, {}).get(method, {}).get(metric)
                return float(v) if isinstance(v, (int, float)) else None
            findings.append(Finding(f"{name} {method}.{metric}", value(published), value(run), tolerance))
    return findings


FLAT_GRID_LEVELS = 1.0   # 8-bit levels: the most grid pattern a generator may put on a flat field (no checkerboard)


def conclusions(run: dict[str, dict]) -> list[str]:
    """The study's conclusions that this run contradicts (empty: all hold): SR above bicubic on PSNR and SSIM, no
    visible checkerboard on flat fields (evaluate's flat_grid_pattern below FLAT_GRID_LEVELS, where reported), and
    mSRGAN closer to HR than SRResNet in the independent judge network's feature distance and KID (where
    reported)."""
    scores = run.get("evaluate.json", {})
    broken = []
    for method in GENERATORS:
        for metric in ("psnr", "ssim"):
            mine, base = scores.get(method, {}).get(metric), scores.get("bicubic", {}).get(metric)
            if mine is None or base is None or not mine > base:
                broken.append(f"{method} is not above bicubic on {metric} ({mine} vs {base})")
        flat = scores.get(method, {}).get("flat_grid_pattern")
        if flat is not None and not flat < FLAT_GRID_LEVELS:
            broken.append(f"{method} puts a grid pattern of {flat:.2f} 8-bit levels on flat fields "
                          f"(at most {FLAT_GRID_LEVELS:g})")
    for metric in ("judge_distance", "kid"):   # the GAN closer to HR than SRResNet by the independent judge
        gan, srr = scores.get("msrgan", {}).get(metric), scores.get("srresnet", {}).get(metric)
        if gan is not None and srr is not None and not gan < srr:
            broken.append(f"msrgan is not below srresnet on {metric}, the independent judge's ({gan} vs {srr})")
    return broken


def read_run(metrics: Path) -> dict[str, dict]:
    out = {}
    for name in {t[0] for t in TOLERANCES}:
        path = metrics / name
        if not path.is_file():
            raise FileNotFoundError(f"{path}: not found (run the pipeline first: make repro)")
        out[name] = json.loads(path.read_text())
    return out


def read_published(revision: str, metrics: Path) -> dict[str, dict]:
    out = {}
    for name in {t[0] for t in TOLERANCES}:
        spec = f"{revision}:{(metrics / name).as_posix()}"
        shown = subprocess.run(["git", "show", spec], capture_output=True, text=True)
        if shown.returncode != 0:
            raise FileNotFoundError(f"{spec}: not in git ({shown.stderr.strip().splitlines()[0] if shown.stderr else ''})")
        out[name] = json.loads(shown.stdout)
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--published", default="HEAD", help="git revision holding the published metrics/ (HEAD)")
    parser.add_argument("--metrics", default="metrics", help="this run's metrics folder (metrics)")


def run(args: argparse.Namespace) -> int:
    try:
        published = read_published(args.published, Path(args.metrics))
        mine = read_run(Path(args.metrics))
    except (FileNotFoundError, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    findings = compare(published, mine)
    moved = [f for f in findings if not f.ok]
    broken = conclusions(mine)
    for f in moved:
        print(f"MOVED  {f}")
    for text in broken:
        print(f"BROKEN {text}")
    if moved or broken:
        print(f"this run does not reproduce the study at {args.published}: {len(moved)} of {len(findings)} "
              f"metrics moved beyond tolerance, {len(broken)} conclusion(s) broken")
        return 1
    print(f"this run reproduces the study at {args.published}: {len(findings)} metrics within tolerance, "
          f"SRResNet and mSRGAN above bicubic on PSNR and SSIM, no checkerboard on flat fields, mSRGAN closer to HR "
          f"than SRResNet by the independent judge")
    return 0
