"""Figures of the evaluation, for a person to look at: example images with zooms, metric distributions, FRC."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from scipy import ndimage as ndi  # noqa: E402

from msrgan.atomic import atomic_path  # noqa: E402
from msrgan.evaluation.measures import all_metrics  # noqa: E402
from msrgan.evaluation.methods import colour, label as name, methods_in  # noqa: E402


def save(fig, path: str | Path, dpi: int = 110) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    plt.close(fig)


def pick_examples(ids: list[str], score: pd.Series, n: int) -> list[int]:
    """Indices of `n` images spread evenly from the worst to the best `score` (so the grid is not cherry-picked)."""
    order = np.argsort(score.reindex(ids).to_numpy(), kind="stable")
    n = min(n, len(ids))
    return [int(order[i]) for i in np.unique(np.round(np.linspace(0, len(ids) - 1, n)).astype(int))]


def zoom_box(hr: np.ndarray, frac: float = 0.3) -> tuple[int, int, int]:
    """(row, col, side) of the square window with the most fine detail (gradient energy) in the HR image."""
    side = max(8, int(round(min(hr.shape[:2]) * frac)))
    gray = hr.astype(float).mean(axis=2)
    energy = ndi.gaussian_gradient_magnitude(gray, 1.0) ** 2
    local = ndi.uniform_filter(energy, side, mode="constant")
    half = side // 2
    valid = local[half:hr.shape[0] - side + half + 1, half:hr.shape[1] - side + half + 1]
    r, c = np.unravel_index(np.argmax(valid), valid.shape)
    return int(r), int(c), side


def examples_grid(path, items, lrs, hrs, srs: dict[str, list[np.ndarray]], table: pd.DataFrame, n: int) -> None:
    """Rows of LR | Bicubic | SRResNet | mSRGAN | HR for test images spread from worst to best mSRGAN PSNR, each
    followed by a row of the same zoomed window (marked by the box)."""
    methods = [m.name for m in methods_in(srs) if m.in_figures]
    ids = [it.id for it in items]
    key = "msrgan" if "msrgan" in srs else methods[-1]
    psnr = table[table["method"] == key].set_index("id")["psnr"]
    chosen = pick_examples(ids, psnr, n)
    cols = ["lr", *methods, "hr"]
    fig, axes = plt.subplots(2 * len(chosen), len(cols), figsize=(2.1 * len(cols), 4.3 * len(chosen)), squeeze=False,
                             layout="constrained")
    by = table.set_index(["id", "method"])
    for k, i in enumerate(chosen):
        hr = hrs[i]
        r, c, side = zoom_box(hr)
        s = hr.shape[0] // lrs[i].shape[0]
        panels = {"lr": np.kron(lrs[i], np.ones((s, s, 1), dtype=np.uint8)), "hr": hr,
                  **{m: srs[m][i] for m in methods}}
        gain = 255 / max(float(np.percentile(hr, 99.5)), 1.0)   # one display gain per row: dim FOVs stay visible
        panels = {k: np.clip(v * gain, 0, 255).astype(np.uint8) for k, v in panels.items()}
        for j, col in enumerate(cols):
            full, zoom = axes[2 * k, j], axes[2 * k + 1, j]
            full.imshow(panels[col], interpolation="nearest")
            full.add_patch(Rectangle((c - 0.5, r - 0.5), side, side, fill=False, ec="white", lw=1.2))
            zoom.imshow(panels[col][r:r + side, c:c + side], interpolation="nearest")
            for ax in (full, zoom):
                ax.set_xticks([])
                ax.set_yticks([])
            for spine in zoom.spines.values():
                spine.set_edgecolor("white" if col in ("lr", "hr") else colour(col))
                spine.set_linewidth(2)
            if k == 0:
                full.set_title(name(col) + (" (pixels x%d)" % s if col == "lr" else ""), fontsize=10)
            if col in methods:
                row = by.loc[(items[i].id, col)]
                full.set_xlabel(f"{row['psnr']:.2f} dB  SSIM {row['ssim']:.3f}", fontsize=8)
            if j == 0:
                full.set_ylabel(items[i].id, fontsize=8)
                zoom.set_ylabel("zoom", fontsize=8)
    fig.suptitle("Test images from worst to best mSRGAN PSNR (R microtubules, G protein, B nucleus; each row "
                 "brightened by one factor);\n"
                 "under each image its PSNR / SSIM against HR, below it the boxed window enlarged", fontsize=10)
    save(fig, path)


def method_boxes(ax, data: list[np.ndarray], methods: list[str], higher: bool | None,
                 rng: np.random.Generator) -> None:
    """One box per method in its colour, every image as a jittered dot, and which way is better."""
    box = ax.boxplot(data, patch_artist=True, widths=0.55, showfliers=False, medianprops={"color": "black"})
    for patch, m in zip(box["boxes"], methods):
        patch.set_facecolor(colour(m))
        patch.set_alpha(0.45)
    for x, (values, m) in enumerate(zip(data, methods), start=1):
        ax.scatter(x + rng.uniform(-0.15, 0.15, len(values)), values, s=8, color=colour(m),
                   alpha=0.7, zorder=3, linewidths=0)
    ax.set_xticks(range(1, len(methods) + 1), [name(m) for m in methods], fontsize=9)
    ax.text(0.99, 0.01, {True: "higher is better", False: "lower is better", None: "1 = HR's"}[higher],
            transform=ax.transAxes,
            ha="right", va="bottom", fontsize=8, color="dimgray")
    ax.grid(axis="y", alpha=0.3)


def metric_distributions(path, table: pd.DataFrame, methods: list[str]) -> None:
    """Box plot of each metric per method over the test images, with the images as dots (jittered)."""
    shown = [m for m in all_metrics() if m.in_distributions and m.key in table]
    fig, axes = plt.subplots(2, (len(shown) + 1) // 2, figsize=(4.4 * ((len(shown) + 1) // 2), 7.5), squeeze=False)
    rng = np.random.default_rng(0)
    for ax in axes.ravel()[len(shown):]:
        ax.set_visible(False)
    for ax, metric in zip(axes.ravel(), shown):
        data = [table.loc[table["method"] == m, metric.key].replace([np.inf, -np.inf], np.nan).dropna().to_numpy()
                for m in methods]
        method_boxes(ax, data, methods, metric.higher, rng)
        ax.set_title(f"{metric.label}" + (f" [{metric.unit}]" if metric.unit else ""), fontsize=10)
    fig.suptitle(f"Image quality against HR on {table['id'].nunique()} test images (one dot per image)", fontsize=11)
    fig.tight_layout()
    save(fig, path)


def frc_curves(path, freq: np.ndarray, curves: dict[str, np.ndarray], threshold: float, scale: int = 4) -> None:
    """Mean Fourier ring correlation of each method with HR against spatial frequency, with the 1/7 threshold and
    the LR Nyquist frequency: right of it, detail had to be recovered rather than interpolated."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for method, curve in curves.items():
        ax.plot(freq[1:], curve[1:], color=colour(method), label=name(method), lw=1.8)
    ax.axhline(threshold, color="black", ls="--", lw=1, label="1/7 threshold")
    ax.axvline(0.5 / scale, color="dimgray", ls=":", lw=1.2)
    ax.text(0.5 / scale, 0.02, " LR Nyquist", color="dimgray", fontsize=8, va="bottom")
    ax.set_xlabel("spatial frequency [cycles per HR pixel]  (resolution = 1 / frequency)")
    ax.set_ylabel("FRC with HR (mean over images and channels)")
    ax.set_xlim(0, 0.5)
    ax.set_ylim(min(0, float(np.min([c[1:].min() for c in curves.values()]))) - 0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9)
    ax.set_title("Fourier ring correlation with the HR truth", fontsize=10)
    fig.tight_layout()
    save(fig, path)


def power_spectra(path, freq: np.ndarray, power: dict[str, np.ndarray], high_band: tuple[float, float],
                  scale: int = 4) -> None:
    """Per stain, each method's radially averaged power spectrum over HR's (1 = as much power as HR at that
    frequency), with the high band the spectral-fidelity figures cover and the LR Nyquist frequency."""
    stains = ("microtubules (R)", "protein (G)", "nucleus (B)")
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), sharey=True)
    hr = power["hr"]
    for c, ax in enumerate(axes):
        for method, p in power.items():
            if method != "hr":
                ratio = np.divide(p[c], hr[c], out=np.full_like(hr[c], np.nan), where=hr[c] > 0)
                ax.plot(freq[1:], ratio[1:], color=colour(method), label=name(method), lw=1.8)
        ax.axhline(1.0, color=colour("hr"), lw=1.2, label="HR")
        ax.axvspan(*high_band, color="gold", alpha=0.12, label="high band")
        ax.axvline(0.5 / scale, color="dimgray", ls=":", lw=1.2)
        ax.set_yscale("log")
        ax.set_xlim(0, 0.5)
        ax.set_title(stains[c] if c < len(stains) else f"channel {c}", fontsize=10)
        ax.set_xlabel("spatial frequency [cycles per HR pixel]")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("power / HR's power (radially averaged)")
    axes[0].legend(fontsize=8)
    fig.suptitle("Fine-detail power of the SR images against HR: below 1 too smooth, above 1 invented texture",
                 fontsize=10)
    fig.tight_layout()
    save(fig, path)
