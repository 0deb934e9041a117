"""The report's summary paragraph. Every claim it makes (better, worse, not different) is a paired test's verdict
that it cites by name; the rest of its numbers are stated as measured, not as comparisons."""
from __future__ import annotations

from msrgan.evaluation.measures import all_metrics, metric, tested
from msrgan.evaluation.methods import label
from msrgan.report.verdicts import Tally, compared, tally

FIDELITY = ("psnr", "ssim")
SEGMENTATION = ("nuclei_dice", "nuclei_f1", "cells_dice", "cells_f1")


def independent_judges() -> tuple[str, ...]:
    """The tested per-image metrics of judges no generator trained against."""
    return tuple(m.key for m in all_metrics() if m.judge == "independent" and m.key in tested())


def _fmt(value, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _names(keys) -> str:
    words = [metric(k).short if metric(k) else k.replace("_", " ") for k in keys]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def phrase(t: Tally, baseline: str, what: str) -> str:
    """'better than SRResNet on PSNR and SSIM', '... worse on ...', 'not significantly different from ...' on `what`
    (the tested metrics of one comparison)."""
    b = label(baseline)
    if t.tested == 0:
        return f"not tested against {b} on {what}"
    if t.better and t.worse:
        return f"better than {b} on {_names(t.better)} but worse on {_names(t.worse)}"
    if t.better:
        rest = f", not different on {_names(t.same)}" if t.same else ""
        return f"better than {b} on {_names(t.better)}{rest}"
    if t.worse:
        rest = f", not different on {_names(t.same)}" if t.same else ""
        return f"worse than {b} on {_names(t.worse)}{rest}"
    return f"not significantly different from {b} on {what}"


def in_short(eval_tests: dict, seg_tests: dict) -> str:
    """The verdict line: mSRGAN against bicubic and SRResNet on pixel fidelity, the independent judges and the
    segmentation, each clause one comparison's test verdicts."""
    clauses = [phrase(tally(eval_tests, "msrgan", "bicubic", FIDELITY), "bicubic", "pixel fidelity (PSNR, SSIM)"),
               phrase(tally(eval_tests, "msrgan", "srresnet", FIDELITY), "srresnet", "pixel fidelity (PSNR, SSIM)")]
    independent = tally(eval_tests, "msrgan", "srresnet", independent_judges())
    if independent.tested:
        clauses.append("on the judges it never trained against it is " +
                       phrase(independent, "srresnet", "any of them"))
    for baseline in ("bicubic", "srresnet"):
        seg = tally(seg_tests, "msrgan", baseline, SEGMENTATION)
        if seg.tested:
            clauses.append("its segmentation is " + phrase(seg, baseline, "any segmentation score"))
    return "**In short** (paired tests, below): mSRGAN is " + "; ".join(clauses) + "."


def summary_paragraph(evaluate: dict, eval_tests: dict, segment: dict, seg_tests: dict, n: int,
                      alpha: float = 0.05) -> str:
    """The plain-language paragraph: the verdicts, then what was measured, each comparison from its tests."""
    e = {m: evaluate.get(m, {}) for m in ("bicubic", "srresnet", "msrgan", "hr")}
    out = [in_short(eval_tests, seg_tests),
           f"On {n} held-out test images mSRGAN's images reached a mean PSNR of {_fmt(e['msrgan'].get('psnr'), 2)} dB "
           f"and SSIM {_fmt(e['msrgan'].get('ssim'))}, against {_fmt(e['bicubic'].get('psnr'), 2)} dB / "
           f"{_fmt(e['bicubic'].get('ssim'))} for bicubic interpolation and {_fmt(e['srresnet'].get('psnr'), 2)} dB / "
           f"{_fmt(e['srresnet'].get('ssim'))} for SRResNet (the same generator trained on pixel error alone)."]
    for baseline in ("bicubic", "srresnet"):
        t = tally(eval_tests, "msrgan", baseline, tested())
        text = (f"Against {label(baseline)}, mSRGAN was significantly better on {len(t.better)} of {t.tested} tested "
                f"image metrics ({_names(t.better) if t.better else 'none'}) and significantly worse on "
                f"{len(t.worse)} ({_names(t.worse) if t.worse else 'none'})")
        psnr = eval_tests.get(("msrgan", baseline, "psnr"))
        if psnr is not None:
            text += (f"; the median PSNR difference per image was {psnr['median_diff']:+.2f} dB "
                     f"(95% CI {psnr['ci_low']:+.2f} to {psnr['ci_high']:+.2f})")
        out.append(text + ".")
    out += spectral_and_judge(e)
    lr = [e[m].get("lr_psnr") for m in ("msrgan", "srresnet", "bicubic")]
    if None not in lr:
        out.append(f"Downscaled again the way the LR was made, mSRGAN's images ({lr[0]:.1f} dB) are "
                   f"{compared(eval_tests, 'msrgan', 'srresnet', 'lr_psnr')} SRResNet's ({lr[1]:.1f} dB) and "
                   f"{compared(eval_tests, 'msrgan', 'bicubic', 'lr_psnr')} bicubic's ({lr[2]:.1f} dB) in their "
                   f"agreement with the measured LR input (LR consistency): lower means detail the measurement does "
                   f"not support.")
    flat = {m: e[m]["flat_grid_pattern"] for m in ("srresnet", "msrgan") if "flat_grid_pattern" in e.get(m, {})}
    if flat:
        worst = max(flat.values())
        out.append(f"On flat fields the generators put a grid pattern of "
                   f"{', '.join(f'{v:.2f} ({label(m)})' for m, v in flat.items())} 8-bit levels RMS on their output: "
                   + ("below one level, no visible checkerboard." if worst < 1 else
                      "a visible checkerboard, which the LR consistency cannot show (it averages out)."))
    out += segmentation_sentences(segment, seg_tests)
    if n < 30:
        out.append(f"With only {n} test images the confidence intervals are wide; read the differences with care.")
    out.append("All tests are two-sided paired Wilcoxon signed-rank tests, Holm-corrected across the metrics of each "
               f"comparison at the {alpha:g} level.")
    return " ".join(out)


def spectral_and_judge(e: dict) -> list[str]:
    """The independent judges' figures as measured (the per-image ones are tested in the tables; KID and the task
    mAP are one figure each for the whole split)."""
    out = []
    methods = [m for m in ("bicubic", "srresnet", "msrgan") if e[m].get("hf_power_r") is not None]
    if methods:
        shares = "; ".join(f"{label(m)} " + " / ".join(_fmt(e[m].get(f"hf_power_{c}"), 2) for c in "rgb")
                           for m in methods)
        out.append(f"Of HR's fine-detail power (above half of Nyquist) per stain R / G / B, the images carry: {shares} "
                   f"(1 = as much as HR; below it, too smooth).")
    kid = [m for m in ("bicubic", "srresnet", "msrgan") if e[m].get("kid") is not None]
    if kid:
        out.append("KID in the judge network's feature space (one figure for the test split, ± its spread over random "
                   "subsets; 0 = HR's distribution): " +
                   "; ".join(f"{label(m)} {e[m]['kid']:.4f} ± {e[m].get('kid_std', 0):.4f}" for m in kid) + ".")
    task = [m for m in ("hr", "bicubic", "srresnet", "msrgan") if e[m].get("judge_map") is not None]
    if task:
        out.append("The judge network's localisation mAP, the CYTO2017 task, on each method's images: " +
                   "; ".join(f"{label(m)} {e[m]['judge_map']:.3f}" for m in task) + ".")
    return out


def segmentation_sentences(segment: dict, seg_tests: dict) -> list[str]:
    """The Dice of each target for mSRGAN beside bicubic's and SRResNet's, each comparison from its test."""
    truth = segment.get("reference", {}).get("nuclei") == "truth"
    parts = []
    for target in ("nuclei", "cells"):
        key = f"{target}_dice"
        m, b, s = (segment.get(x, {}).get(key) for x in ("msrgan", "bicubic", "srresnet"))
        if None in (m, b, s):
            continue
        parts.append(f"{target} Dice {m:.3f}, {compared(seg_tests, 'msrgan', 'bicubic', key)} bicubic's ({b:.3f}) "
                     f"and {compared(seg_tests, 'msrgan', 'srresnet', key)} SRResNet's ({s:.3f})")
    if not parts:
        return []
    against = "the true masks" if truth else "the segmentation of the HR images"
    text = f"Segmented with the same procedure and scored against {against}, mSRGAN's images gave " + \
        "; ".join(parts) + "."
    if truth and segment.get("hr", {}).get("nuclei_dice") is not None:
        text += (f" The HR images themselves reach a nuclei Dice of {segment['hr']['nuclei_dice']:.3f} and a "
                 f"cells Dice of {_fmt(segment['hr'].get('cells_dice'))}: the ceiling of this segmentation.")
    return [text]
