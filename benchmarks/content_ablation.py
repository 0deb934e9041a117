"""Does the content loss need a network trained on microscopy? The thesis's claim (feature transferability) tested:
the default GAN phase trained with its content loss taken from (a) the miniVGG19 trained on the data, (b) the same
network with seeded random weights, (c) no content term (beta 0), at the same budget from the same SRResNet, over
seeds; every generator scored on the TEST split (this tests a claim, it chooses nothing) by the independent judges.

    python benchmarks/content_ablation.py [--seeds 2017 1 2] [--threads N] [--out data/content_ablation]

Needs data/processed, data/models/{minivgg,srresnet,judge}.pt (`dvc repro train_srresnet train_judge`). The runs
are benchmarks/gan_levers.py's (one process each, kept when finished). Prints, per variant, the mean and the
range over seeds of each measure, and paired Wilcoxon tests over the test images (each image's value averaged over
the seeds; Holm-corrected over the measures of each pair) of the trained network against the other two.

ImageNet VGG19 weights cannot be downloaded here, so the classic "transfer from natural images" arm is not run;
`train_srgan.loss.content_network` is where such a network would plug in.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gan_levers  # noqa: E402  (its runs and its scoring)

VARIANTS = {"default": "trained miniVGG19", "content-random": "random-weight miniVGG19",
            "content-random-scaled": "random, beta x 3e4", "content-none": "no content (beta 0)"}
# measure -> (label, higher is better); KID has no per-image value: its spread over seeds is shown instead
MEASURES = {"psnr": ("PSNR [dB]", True), "ssim": ("SSIM", True), "judge_distance": ("judge distance", False),
            "hf_power_dev": ("high-band power dev. [oct]", False), "lsd": ("log-spectral dist.", False)}
PAIRS = (("default", "content-random"), ("default", "content-random-scaled"), ("default", "content-none"))


def summary(runs: dict[tuple[str, int], dict]) -> pd.DataFrame:
    """Per variant: mean and min..max over seeds of every measure, KID and the high-band power per stain."""
    rows = []
    keys = [*MEASURES, "kid", "hf_power_r", "hf_power_g", "hf_power_b"]
    for variant in VARIANTS:
        scores = [s for (v, _), s in runs.items() if v == variant]
        if scores:
            rows.append({"variant": variant, "seeds": len(scores),
                         **{k: (np.mean([s[k] for s in scores]), min(s[k] for s in scores),
                                max(s[k] for s in scores)) for k in keys}})
    return pd.DataFrame(rows)


def paired(runs: dict[tuple[str, int], dict], seed: int = 0) -> list:
    """The paired tests (msrgan.statistics.compare) on the per-image values averaged over each variant's seeds."""
    from msrgan.statistics import compare
    frames = []
    for variant in VARIANTS:
        per_seed = [pd.DataFrame(s["per_image"]) for (v, _), s in runs.items() if v == variant]
        if per_seed:
            mean = pd.concat(per_seed).groupby("id", sort=True)[list(MEASURES)].mean().reset_index()
            frames.append(mean.assign(method=variant))
    table = pd.concat(frames, ignore_index=True)
    present = set(table["method"])
    return compare(table, {k: h for k, (_, h) in MEASURES.items()},
                   [p for p in PAIRS if set(p) <= present], seed=seed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[2017, 1, 2])
    ap.add_argument("--threads", type=int, help="threads of each run (default: torch's)")
    ap.add_argument("--out", default="data/content_ablation")
    args = ap.parse_args()
    for needed in ("data/processed/index.csv", "data/models/minivgg.pt", "data/models/srresnet.pt",
                   "data/models/judge.pt"):
        if not Path(needed).is_file():
            sys.exit(f"error: {needed} not found: run `dvc repro train_srresnet train_judge` first")
    from msrgan.statistics import as_records
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.threads:
        gan_levers.ENV.update(GAN_LEVERS_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads))
    runs, failed = {}, []
    for seed in args.seeds:
        for variant in VARIANTS:
            result = gan_levers.scored(variant, seed, out, gan_levers.launch(variant, seed, out), split="test")
            if "error" in result:
                failed.append(f"{variant}/{seed}: {result['error']}")
            else:
                runs[(variant, seed)] = result["scores"]
    reference_file = out / "reference.json"
    if not reference_file.is_file():
        reference_file.write_text(json.dumps(gan_levers.score({"srresnet": Path("data/models/srresnet.pt")}, "test")))
    reference = json.loads(reference_file.read_text())
    print(f"content-loss ablation: test split, {len(args.seeds)} seeds {args.seeds}, mean (min..max over seeds)")
    for name in ("bicubic", "srresnet"):
        r = reference[name]
        print(f"  {name:<24}" + "  ".join(f"{k} {r[k]:.4g}" for k in (*MEASURES, "kid")))
    for _, row in summary(runs).iterrows():
        print(f"  {VARIANTS[row['variant']]:<24}" + "  ".join(
            f"{k} {row[k][0]:.4g} ({row[k][1]:.4g}..{row[k][2]:.4g})" for k in (*MEASURES, "kid",
                                                                                  "hf_power_r", "hf_power_g",
                                                                                  "hf_power_b")))
    print("paired tests over the test images (seed-averaged values; Holm over the measures of each pair):")
    for t in paired(runs):
        print(f"  {VARIANTS[t.method]} vs {VARIANTS[t.baseline]}: {MEASURES[t.metric][0]:<28} median diff "
              f"{t.median_diff:+.4g} [{t.ci_low:+.4g}, {t.ci_high:+.4g}]  p_holm {t.p_holm:.3g}  "
              f"{'better' if t.better else 'worse' if t.worse else 'n.s.'}")
    (out / "summary.json").write_text(json.dumps({"seeds": args.seeds, "reference": {
        k: {m: v for m, v in r.items() if m != "per_image"} for k, r in reference.items()},
        "runs": {f"{v}-{s}": {m: x for m, x in r.items() if m != "per_image"} for (v, s), r in runs.items()},
        "tests": as_records(paired(runs))}, indent=1, default=str))
    if failed:
        sys.exit("failed runs: " + "; ".join(failed))


if __name__ == "__main__":
    main()
