"""Does the default training hold on every seed, precision and thread count? Runs the stages' own code
(train_srresnet, then train_srgan from it, with params.yaml as it is) for several seeds in the default precision, a
few in fp32, and a few on one thread instead of two (other kernels), and prints each run's validation gain over
bicubic, its rollbacks, the grid pattern its generators put on flat fields (8-bit levels RMS, `flat`) and whether it
collapsed, then min / median / max and the targets of issues 9 and 10.

    python benchmarks/robustness.py [--seeds 2017 1 2 3 4] [--fp32 2017 1] [--one-thread 2017 1]
                                    [--stages srresnet srgan] [--jobs 1] [--out data/robustness]

Needs data/processed and data/models/minivgg.pt (`dvc repro train_vgg`); with data/models/judge.pt (`dvc repro
train_judge`) it also scores every run's generators by the independent judges (issue 23's targets). Each run is its own process (threads and
precision are set before torch starts working) writing under --out/<run>/; a finished run is not redone, so an
interrupted benchmark continues where it stopped. Exit status 1 when a target is missed.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

SRRESNET_SPREAD_DB = 0.15     # max - min of the SRResNet val PSNR gain
SRRESNET_MIN_GAIN_DB = 1.0    # the smallest SRResNet val PSNR gain
COLLAPSE_DB = 0.5             # a kept generator gaining less than this over bicubic has collapsed


@dataclass(frozen=True)
class Run:
    seed: int
    precision: str   # auto | fp32
    threads: int

    @property
    def name(self) -> str:
        return f"seed{self.seed}-{self.precision}-{self.threads}t"


def worker(run: Run, out: Path, stages: list[str]) -> None:
    """One run in this process: the stages' own functions on params.yaml with only precision changed."""
    import torch
    torch.set_num_threads(run.threads)
    from msrgan.params import load_params, parse_section
    from msrgan.train.srgan import train_srgan
    from msrgan.train.srresnet import train_srresnet

    raw, seed = load_params(), run.seed
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile("data/models/minivgg.pt", out / "minivgg.pt")
    where = {"processed": "data/processed", "models": out, "metrics": out / "metrics", "checkpoints": out / "ckpt"}
    result = {}
    for stage, train in (("srresnet", train_srresnet), ("srgan", train_srgan)):
        if stage in stages:
            params = parse_section(f"train_{stage}", {**raw[f"train_{stage}"], "precision": run.precision})
            summary = train(params, seed, **where)
            result[stage] = {k: summary[k] for k in ("val", "val_bicubic", "rollbacks", "precision",
                                                       "seconds_per_iteration")}
    (out / "result.json").write_text(json.dumps(result, indent=1))


def launch(run: Run, out: Path, stages: list[str]) -> dict:
    done = out / run.name / "result.json"
    if not done.is_file():
        log = out / f"{run.name}.log"
        cmd = [sys.executable, __file__, "--worker", str(run.seed), run.precision, str(run.threads),
               "--out", str(out), "--stages", *stages]
        with open(log, "w") as f:
            code = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT,
                                   env={**os.environ, "OMP_NUM_THREADS": str(run.threads)})
        if code != 0 or not done.is_file():
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
            return {"error": f"exit {code}: {tail[0][:200]}"}
    return json.loads(done.read_text())


FILES = {"srresnet": "srresnet.pt", "srgan": "generator.pt"}
FLAT_LEVELS_MAX = 1.0         # 8-bit levels: the grid pattern a kept generator may put on a flat field


def add_flat_field_patterns(runs: list[Run], results: list[dict], stages: list[str], out: Path) -> None:
    """Each finished run's kept generators: their grid pattern on flat fields (evaluate's flat_grid_pattern)."""
    from msrgan.evaluation.metrics import flat_field_pattern
    from msrgan.evaluation.predict import generator
    from msrgan.runtime import pick_runtime
    for run, result in zip(runs, results):
        for stage in stages:
            path = out / run.name / FILES[stage]
            if "error" not in result and path.is_file():
                result[stage]["flat"] = flat_field_pattern(generator(str(path), 4, pick_runtime("cpu", "fp32")))


def gains(result: dict, stage: str, reference: dict) -> tuple[float, float, int]:
    """(val PSNR gain over the bicubic `reference` in dB, SSIM gain, rollbacks) of one finished run's stage."""
    part = result[stage]
    return (part["val"]["psnr"] - reference["psnr"], part["val"]["ssim"] - reference["ssim"], part["rollbacks"])


def report(runs: list[Run], results: list[dict], stages: list[str]) -> bool:
    """Print the table and the targets; True when every target is met. Gains are over the validation split's
    bicubic as this code measures it (the trainers' own figure), so runs of any version compare alike."""
    from msrgan.train.dataset import load_split
    from msrgan.train.validation import bicubic_metrics
    reference = bicubic_metrics(load_split("data/processed", "val"))
    head = (f"{'run':<22}{'precision':>10}" + "".join(f"{s + ' dPSNR':>16}{'dSSIM':>9}{'rb':>4}{'flat':>6}"
                                                         for s in stages) + "  collapsed")
    print(head)
    print("-" * len(head))
    per_stage = {s: [] for s in stages}
    flats: list[float] = []
    collapsed_any = False
    for run, result in zip(runs, results):
        if "error" in result:
            print(f"{run.name:<22}  FAILED: {result['error']}")
            collapsed_any = True
            continue
        line, collapsed = f"{run.name:<22}{result[stages[0]]['precision']:>10}", False
        for s in stages:
            g = gains(result, s, reference)
            per_stage[s].append(g)
            flat = result[s].get("flat", float("nan"))
            flats.append(flat)
            line += f"{g[0]:>+16.3f}{g[1]:>+9.4f}{g[2]:>4d}{flat:>6.2f}"
            collapsed |= g[0] < COLLAPSE_DB if s == "srresnet" else (g[0] <= 0 or g[1] <= 0)
        collapsed_any |= collapsed
        print(line + ("  YES" if collapsed else "  no"))
    print("-" * len(head))
    for label, fn in (("min", min), ("median", statistics.median), ("max", max)):
        line = f"{label:<22}{'':>10}"
        for s in stages:
            values = per_stage[s]
            if values:
                line += f"{fn(v[0] for v in values):>+16.3f}{fn(v[1] for v in values):>+9.4f}{'':>4}"
        print(line)
    ok = not collapsed_any
    checks = [("no run failed or collapsed", not collapsed_any)]
    if per_stage.get("srresnet"):
        psnr = [v[0] for v in per_stage["srresnet"]]
        ssim = [v[1] for v in per_stage["srresnet"]]
        checks += [(f"SRResNet gain spread {max(psnr) - min(psnr):.3f} dB <= {SRRESNET_SPREAD_DB}",
                    max(psnr) - min(psnr) <= SRRESNET_SPREAD_DB),
                   (f"SRResNet smallest gain {min(psnr):+.3f} dB >= +{SRRESNET_MIN_GAIN_DB} with SSIM above bicubic",
                    min(psnr) >= SRRESNET_MIN_GAIN_DB and min(ssim) > 0)]
    if per_stage.get("srgan"):
        checks.append(("mSRGAN above bicubic on PSNR and SSIM in every run",
                       all(v[0] > 0 and v[1] > 0 for v in per_stage["srgan"])))
    if flats:
        checks.append((f"every kept generator's grid pattern on flat fields below {FLAT_LEVELS_MAX:g} 8-bit level "
                       f"(largest {max(flats):.2f})", max(flats) < FLAT_LEVELS_MAX))
    for text, passed in checks:
        print(f"{'PASS' if passed else 'MISS'}  {text}")
        ok &= passed
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[2017, 1, 2, 3, 4], help="default precision, 2 threads")
    ap.add_argument("--fp32", type=int, nargs="*", default=[2017, 1], help="seeds run in fp32, 2 threads")
    ap.add_argument("--one-thread", type=int, nargs="*", default=[2017, 1], help="seeds run on 1 thread")
    ap.add_argument("--stages", nargs="+", default=["srresnet", "srgan"], choices=["srresnet", "srgan"])
    ap.add_argument("--jobs", type=int, default=1, help="runs at the same time (each uses its own threads)")
    ap.add_argument("--out", default="data/robustness")
    ap.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    out = Path(args.out)
    if args.worker:
        seed, precision, threads = args.worker
        run = Run(int(seed), precision, int(threads))
        worker(run, out / run.name, args.stages)
        return
    for needed in ("data/processed/index.csv", "data/models/minivgg.pt"):
        if not Path(needed).is_file():
            sys.exit(f"error: {needed} not found: run `dvc repro train_vgg` first")
    out.mkdir(parents=True, exist_ok=True)
    runs = ([Run(s, "auto", 2) for s in args.seeds] + [Run(s, "fp32", 2) for s in args.fp32]
            + [Run(s, "auto", 1) for s in args.one_thread])
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        results = list(pool.map(lambda r: launch(r, out, args.stages), runs))
    add_flat_field_patterns(runs, results, args.stages, out)
    ok = report(runs, results, args.stages)
    if "srgan" in args.stages and Path("data/models/judge.pt").is_file():
        ok &= judged(runs, results, out)
    sys.exit(0 if ok else 1)


def judged(runs: list[Run], results: list[dict], out: Path) -> bool:
    """Each finished run's SRResNet and mSRGAN on the val split by the independent judges (benchmarks/gan_levers.py:
    high-band power per stain, the judge network's feature distance and KID), with issue 23's targets."""
    from gan_levers import HF_RANGE, MIN_GAIN_DB, score
    print(f"\n{'run':<22}{'method':>10}{'dPSNR':>8}{'hf R':>7}{'hf G':>7}{'hf B':>7}{'judge d':>9}{'KID':>9}  targets")
    ok = True
    for run, result in zip(runs, results):
        folder = out / run.name
        if "error" in result or not (folder / "generator.pt").is_file():
            continue
        cache = folder / "judged.json"
        if not cache.is_file():
            cache.write_text(json.dumps(score({"srresnet": folder / "srresnet.pt", "msrgan": folder / "generator.pt"})))
        s = json.loads(cache.read_text())
        bic, srr, gan = s["bicubic"], s["srresnet"], s["msrgan"]
        hits = [all(HF_RANGE[0] <= gan[f"hf_power_{c}"] <= HF_RANGE[1] for c in "rgb"),
                gan["judge_distance"] < srr["judge_distance"], gan["kid"] < srr["kid"],
                gan["psnr"] - bic["psnr"] >= MIN_GAIN_DB]
        ok &= all(hits)
        for name, v in (("srresnet", srr), ("msrgan", gan)):
            print(f"{run.name:<22}{name:>10}{v['psnr'] - bic['psnr']:>+8.2f}{v['hf_power_r']:>7.2f}"
                  f"{v['hf_power_g']:>7.2f}{v['hf_power_b']:>7.2f}{v['judge_distance']:>9.4f}{v['kid']:>9.4f}"
                  + ("  " + "".join("x" if h else "." for h in hits) if name == "msrgan" else ""))
    print(f"{'PASS' if ok else 'MISS'}  mSRGAN: high-band power in {HF_RANGE} in every stain, judge distance and KID "
          f"below SRResNet's, PSNR >= bicubic + {MIN_GAIN_DB} dB, in every run (x = met: hf, distance, KID, PSNR)")
    return ok


if __name__ == "__main__":
    main()
