"""End to end: the evaluate and segment stages on a tiny drawn processed folder with tiny models."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from scipy import ndimage as ndi
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from msrgan.errors import UserError
from msrgan.imageio import read_png_rgb, write_png
from msrgan.models.generator import Generator, GeneratorConfig
from msrgan.models.generatorfile import save_generator
from msrgan.models.judge import Judge, JudgeConfig, save_judge
from msrgan.models.minivgg import MiniVGG, MiniVGGConfig, save_minivgg
from msrgan.params import parse_section


def draw_field(rng: np.random.Generator, size: int = 96, n_cells: int = 7):
    """An RGB fluorescence-like image (R microtubules, G protein, B nucleus) with its true nucleus and cell masks."""
    yy, xx = np.mgrid[:size, :size]
    centres = []
    while len(centres) < n_cells:
        c = rng.uniform(8, size - 8, 2)
        if all(np.hypot(*(c - d)) > 22 for d in centres) or len(centres) == 0:
            centres.append(c)
        if rng.random() < 0.01:   # crowded: accept fewer cells
            break
    nuclei = np.zeros((size, size), np.uint16)
    for k, (cy, cx) in enumerate(centres, start=1):
        a, b, t = rng.uniform(5, 7.5), rng.uniform(3.5, 5.5), rng.uniform(0, np.pi)
        u = (yy - cy) * np.cos(t) + (xx - cx) * np.sin(t)
        v = -(yy - cy) * np.sin(t) + (xx - cx) * np.cos(t)
        nuclei[(u / a) ** 2 + (v / b) ** 2 <= 1] = k
    # cells: the nearest nucleus within reach (a Voronoi partition cut off at a radius)
    dist, (iy, ix) = ndi.distance_transform_edt(nuclei == 0, return_indices=True)
    cells = np.where(dist < rng.uniform(7, 10), nuclei[iy, ix], 0).astype(np.uint16)
    edge = ndi.distance_transform_edt(cells > 0)
    blue = np.where(nuclei > 0, rng.uniform(140, 220, n_cells + 1)[nuclei], 0) * (1 + 0.15 * rng.standard_normal((size, size)))
    texture = ndi.gaussian_filter(rng.standard_normal((size, size)), 1.2)
    red = np.where(cells > 0, 70 + 90 * np.clip(texture, 0, None) * 3, 0) * np.clip(edge / 3, 0, 1)
    green = np.where(cells > 0, 30 + 60 * (ndi.gaussian_filter(rng.random((size, size)), 0.8) > 0.55), 0)
    image = np.stack([red, green, blue], axis=-1)
    image = ndi.gaussian_filter(image, (1.0, 1.0, 0)) + rng.normal(0, 4, image.shape) + 8
    return np.clip(image, 0, 255).astype(np.uint8), nuclei, cells


def make_processed(root: Path, n_test: int = 6, seed: int = 0, size: int = 96, masks: bool = True) -> Path:
    """data/processed layout: test/{hr,lr}/<id>.png, masks/<id>_{nuclei,cells}.png, index.csv (plus a train row)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_test + 1):
        fid = f"fov{i:03d}"
        split = "train" if i == n_test else "test"
        hr, nuclei, cells = draw_field(rng, size)
        lr = cv2.resize(hr, (size // 4, size // 4), interpolation=cv2.INTER_CUBIC)
        write_png(root / split / "hr" / f"{fid}.png", hr)
        write_png(root / split / "lr" / f"{fid}.png", lr)
        row = {"id": fid, "split": split, "labels": "0", "fov": fid, "nuclei_mask": "", "cell_mask": ""}
        if masks:
            write_png(root / "masks" / f"{fid}_nuclei.png", nuclei)
            write_png(root / "masks" / f"{fid}_cells.png", cells)
            row.update(nuclei_mask=f"masks/{fid}_nuclei.png", cell_mask=f"masks/{fid}_cells.png")
        rows.append(row)
    pd.DataFrame(rows).to_csv(root / "index.csv", index=False)
    return root


def make_models(root: Path, seed: int = 0) -> Path:
    """Tiny generators (SRResNet: plain bicubic start; mSRGAN: perturbed so it differs) and a tiny miniVGG19."""
    torch.manual_seed(seed)
    root.mkdir(parents=True, exist_ok=True)
    save_generator(root / "srresnet.pt", Generator(GeneratorConfig(blocks=2, channels=8)))
    gan = Generator(GeneratorConfig(blocks=2, channels=8))
    with torch.no_grad():
        gan.tail.weight.normal_(0, 0.002)
    save_generator(root / "generator.pt", gan)
    save_minivgg(root / "minivgg.pt", MiniVGG(MiniVGGConfig(width=4)))
    save_judge(root / "judge.pt", Judge(JudgeConfig(width=4, blocks=1)))
    return root


def add_baseline(models: Path, name: str = "care") -> None:
    """A tiny CARE U-Net as the same-budget baseline `name` (data/models/baselines/<name>.pt)."""
    from msrgan.models.architectures import build_generator
    torch.manual_seed(3)
    (models / "baselines").mkdir(exist_ok=True)
    save_generator(models / "baselines" / f"{name}.pt", build_generator("care", {"features": 4}))


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    from msrgan.evaluation.evaluate import evaluate
    from msrgan.report.document import report
    from msrgan.segmentation.study import segment_study

    root = tmp_path_factory.mktemp("study")
    processed = make_processed(root / "processed")
    models = make_models(root / "models")
    add_baseline(models)
    evaluate(parse_section("evaluate", {"bootstrap": 200}), 1, processed, models, root / "sr", root / "metrics",
             baselines=["care"])
    segment_study(parse_section("segment", {"bootstrap": 200, "match_iou": 0.6}), 1, processed, root / "sr",
                  root / "metrics", root / "segmentation")
    report(root / "metrics", processed, root / "sr", 4, root / "segmentation", 3)
    return root


def test_evaluate_writes_sr_images_metrics_and_figures(study):
    summary = json.loads((study / "metrics" / "evaluate.json").read_text())
    assert set(summary) == {"bicubic", "lanczos", "srresnet", "msrgan", "care", "hr"}
    assert set(summary["hr"]) == {"judge_map"}   # the judge on HR itself: the task's ceiling
    hr_map = summary.pop("hr")["judge_map"]
    assert 0 <= hr_map <= 1
    for method in summary.values():
        assert method["frc_resolution"] >= 2 and method["perceptual"] >= 0 and method["judge_distance"] >= 0
        assert 0 <= method["judge_map"] <= 1 and method["kid_std"] >= 0 and np.isfinite(method["kid"])
        assert method["hf_power_dev"] >= 0 and 0 < method["vif"] and method["ms_ssim"] <= 1
    table = pd.read_csv(study / "metrics" / "evaluate_per_image.csv")
    assert len(table) == 6 * 5
    for row in table.itertuples():   # each score is the known computation on the very images kept in data/sr
        hr = read_png_rgb(study / "processed" / "test" / "hr" / f"{row.id}.png")
        sr = read_png_rgb(study / "sr" / row.method / f"{row.id}.png")
        assert row.psnr == pytest.approx(peak_signal_noise_ratio(hr, sr, data_range=255), rel=1e-5)
        assert row.ssim == pytest.approx(structural_similarity(hr, sr, data_range=255, channel_axis=-1), rel=1e-5)
    for method in summary:
        assert summary[method]["psnr"] == pytest.approx(table[table.method == method].psnr.mean(), rel=1e-5)
    assert summary["bicubic"]["flat_grid_pattern"] == 0 == summary["lanczos"]["flat_grid_pattern"]
    assert abs(table[table.method == "bicubic"].psnr.mean() - summary["bicubic"]["psnr"]) < 1e-4
    hr = read_png_rgb(study / "processed" / "test" / "hr" / "fov000.png")
    sr = read_png_rgb(study / "sr" / "bicubic" / "fov000.png")
    lr = read_png_rgb(study / "processed" / "test" / "lr" / "fov000.png")
    assert sr.shape == hr.shape
    assert np.array_equal(sr, cv2.resize(lr, (96, 96), interpolation=cv2.INTER_CUBIC))
    assert sorted(p.name for p in (study / "sr").iterdir()) == ["bicubic", "care", "lanczos", "msrgan", "srresnet"]
    # the zero-initialised residual SRResNet is bicubic up to torch/OpenCV rounding
    assert abs(summary["srresnet"]["psnr"] - summary["bicubic"]["psnr"]) < 0.5
    # the independent judges: bicubic is far too smooth in the high band, the per-image columns are in the table
    assert summary["bicubic"]["hf_power_r"] < 0.5
    for column in ("hf_power_r", "hf_power_g", "hf_power_b", "hf_power_dev", "lsd", "judge_distance", "vif", "ms_ssim"):
        assert table[column].notna().all(), column
    spectra = json.loads((study / "metrics" / "spectra.json").read_text())
    assert set(spectra["power"]) == {"hr", "bicubic", "lanczos", "srresnet", "msrgan", "care"}
    assert len(spectra["power"]["hr"]) == 3 and len(spectra["power"]["hr"][0]) == len(spectra["frequency"]) == 49
    for png in ("examples.png", "metric_distributions.png", "frc_curves.png", "power_spectra.png"):
        assert (study / "metrics" / png).stat().st_size > 10_000
    tests = json.loads((study / "metrics" / "evaluate_tests.json").read_text())
    assert {(t["method"], t["baseline"]) for t in tests["tests"]} == {
        ("srresnet", "bicubic"), ("msrgan", "bicubic"), ("msrgan", "srresnet"), ("msrgan", "care"),
        ("srresnet", "care")}
    costs = json.loads((study / "metrics" / "costs.json").read_text())["methods"]
    for method in ("srresnet", "msrgan", "care"):   # measured on this machine: present and positive
        assert costs[method]["parameters"] > 0 and costs[method]["macs_per_pixel"] > 0, costs[method]
        assert costs[method]["upscale_mp_per_s"] > 0


def test_segment_scores_against_truth_and_the_report_stage_writes_the_report(study):
    result = json.loads((study / "metrics" / "segment.json").read_text())
    assert result["reference"] == {"nuclei": "truth", "cells": "truth", "n_images": 6, "match_iou": 0.6}
    for method in ("hr", "bicubic", "srresnet", "msrgan", "care"):
        assert 0.6 < result[method]["nuclei_dice"] <= 1, (method, result[method])
        assert 0 <= result[method]["cells_f1"] <= 1
    assert result["hr"]["nuclei_dice"] > 0.85
    assert set(result["tests"]) == {"srresnet_vs_bicubic", "msrgan_vs_bicubic", "msrgan_vs_srresnet",
                                    "msrgan_vs_care", "srresnet_vs_care"}
    headline = result["tests"]["msrgan_vs_bicubic"]["nuclei_dice"]
    assert set(headline) == {"median_diff", "p_holm"} and 0 <= headline["p_holm"] <= 1
    details = json.loads((study / "metrics" / "segment_tests.json").read_text())["tests"]
    assert len(details) == 5 * 8   # 5 comparisons x (Dice, IoU, F1, count error) x (nuclei, cells)
    for t in details:
        assert t["ci_low"] <= t["median_diff"] <= t["ci_high"] and t["p"] <= t["p_holm"] <= 1
    report = (study / "metrics" / "report.md").read_text()
    for needle in ("examples.png", "segmentation_overlay.png", "PSNR", "Dice", "Wilcoxon", "true masks",
                   "object F1 (IoU > 0.6)", "match at IoU > 0.6", "Grid pattern", "On flat fields",
                   "The methods ranked, with their cost", "CARE"):
        assert needle in report, needle
    kept = sorted((study / "segmentation").rglob("*.png"))
    assert len(kept) == 6 * 5 * 2                                   # images x (HR + 4 methods) x (nuclei, cells)
    from msrgan.imageio import read_image
    from msrgan.segmentation.segment import segment
    image = read_png_rgb(study / "sr" / "msrgan" / "fov000.png")
    nuclei, cells = segment(image)
    assert np.array_equal(read_image(study / "segmentation" / "msrgan" / "fov000_nuclei.png"), nuclei)
    assert np.array_equal(read_image(study / "segmentation" / "msrgan" / "fov000_cells.png"), cells)
    for png in ("segmentation_overlay.png", "segmentation_scores.png"):
        assert (study / "metrics" / png).stat().st_size > 10_000


def test_segment_without_true_masks_scores_against_hr(tmp_path):
    from msrgan.evaluation.evaluate import evaluate
    from msrgan.report.document import report
    from msrgan.segmentation.study import segment_study

    processed = make_processed(tmp_path / "processed", n_test=3, masks=False)
    models = make_models(tmp_path / "models")
    evaluate(parse_section("evaluate", {"bootstrap": 100, "examples": 2}), 0, processed, models,
             tmp_path / "sr", tmp_path / "metrics")
    segment_study(parse_section("segment", {"bootstrap": 100, "examples": 2}), 0, processed, tmp_path / "sr",
                  tmp_path / "metrics", tmp_path / "segmentation")
    result = json.loads((tmp_path / "metrics" / "segment.json").read_text())
    assert result["reference"]["nuclei"] == "hr_segmentation"
    assert "hr" not in result   # HR against its own segmentation says nothing
    report(tmp_path / "metrics", processed, tmp_path / "sr", 2, tmp_path / "segmentation", 2)
    assert "HR segmentation" in (tmp_path / "metrics" / "report.md").read_text()


def test_missing_model_is_a_user_error(tmp_path):
    from msrgan.evaluation.evaluate import evaluate

    processed = make_processed(tmp_path / "processed", n_test=1)
    models = make_models(tmp_path / "models")
    (models / "generator.pt").unlink()
    with pytest.raises(UserError, match="generator.pt"):
        evaluate(parse_section("evaluate", {}), 0, processed, models, tmp_path / "sr", tmp_path / "metrics")
    assert not (tmp_path / "sr").exists()


def test_the_report_needs_the_metrics(tmp_path):
    from msrgan.errors import UserError
    from msrgan.report.document import report
    with pytest.raises(UserError, match="evaluate_per_image.csv: not found"):
        report(tmp_path)


def test_evaluate_streams_in_chunks_and_scores_independent_lr_acquisitions(tmp_path, monkeypatch):
    """Chunks of 2 give the table of one pass; tiles with an independent LR acquisition get its scores too."""
    import msrgan.evaluation.evaluate as ev

    processed = make_processed(tmp_path / "processed", n_test=5, masks=False)
    models = make_models(tmp_path / "models")
    params = parse_section("evaluate", {"bootstrap": 100})
    whole = ev.evaluate(params, 1, processed, models, tmp_path / "sr1", tmp_path / "m1")
    rng = np.random.default_rng(3)
    for fid in ("fov000", "fov003"):   # what the simulator's own LR acquisition of those tiles would be
        hr = read_png_rgb(processed / "test" / "hr" / f"{fid}.png")
        noisy = cv2.resize(hr, (24, 24), interpolation=cv2.INTER_AREA) + rng.normal(0, 6, (24, 24, 3))
        write_png(processed / "test" / "lr_acquired" / f"{fid}.png", np.clip(noisy, 0, 255).astype(np.uint8))
    monkeypatch.setattr(ev, "CHUNK", 2)
    chunked = ev.evaluate(params, 1, processed, models, tmp_path / "sr2", tmp_path / "m2")
    pd.testing.assert_frame_equal(whole, chunked)
    summary = json.loads((tmp_path / "m2" / "evaluate.json").read_text())
    for method in ("bicubic", "srresnet", "msrgan"):
        assert summary[method]["acquired"]["n"] == 2
    hr = read_png_rgb(processed / "test" / "hr" / "fov003.png")
    lr = read_png_rgb(processed / "test" / "lr_acquired" / "fov003.png")
    hr0 = read_png_rgb(processed / "test" / "hr" / "fov000.png")
    lr0 = read_png_rgb(processed / "test" / "lr_acquired" / "fov000.png")
    expected = np.mean([peak_signal_noise_ratio(h, cv2.resize(l, (96, 96), interpolation=cv2.INTER_CUBIC),
                                                data_range=255) for h, l in ((hr0, lr0), (hr, lr))])
    assert summary["bicubic"]["acquired"]["psnr"] == pytest.approx(expected, rel=1e-6)
    assert "acquired" not in json.loads((tmp_path / "m1" / "evaluate.json").read_text())["bicubic"]


def test_a_method_and_a_metric_are_one_entry_each(tmp_path, monkeypatch):
    """Adding a method (here nearest-neighbour interpolation) or a per-image metric (here the mean absolute error)
    is one entry in the catalogues: evaluate scores it, tests it, and the report and segment show it."""
    from msrgan.evaluation import measures, methods
    from msrgan.evaluation.evaluate import evaluate
    from msrgan.report.document import report
    from msrgan.segmentation.study import segment_study

    monkeypatch.setattr(methods, "METHODS", methods.METHODS + (
        methods.Method("nearest", "Nearest neighbour", "#00aa88", interpolation=cv2.INTER_NEAREST),))
    monkeypatch.setattr(measures, "METRICS", measures.METRICS + (measures.Metric(
        "mae", "Mean absolute error", "MAE", "levels", higher=False,
        compute=lambda hr, sr, lr, c: float(np.abs(hr.astype(float) - sr).mean())),))
    processed = make_processed(tmp_path / "processed", n_test=4)
    models = make_models(tmp_path / "models")
    evaluate(parse_section("evaluate", {"bootstrap": 100, "kid_subsets": 5}), 1, processed, models, tmp_path / "sr",
             tmp_path / "metrics")
    segment_study(parse_section("segment", {"bootstrap": 100}), 1, processed, tmp_path / "sr", tmp_path / "metrics",
                  tmp_path / "segmentation")
    text = report(tmp_path / "metrics", processed, tmp_path / "sr", 2, tmp_path / "segmentation", 2)
    summary = json.loads((tmp_path / "metrics" / "evaluate.json").read_text())
    table = pd.read_csv(tmp_path / "metrics" / "evaluate_per_image.csv")
    hr = read_png_rgb(processed / "test" / "hr" / "fov000.png")
    sr = read_png_rgb(tmp_path / "sr" / "nearest" / "fov000.png")
    assert summary["nearest"]["mae"] > summary["bicubic"]["mae"] > 0
    row = table[(table.method == "nearest") & (table.id == "fov000")].iloc[0]
    assert row.mae == pytest.approx(np.abs(hr.astype(float) - sr).mean(), rel=1e-5)
    tests = json.loads((tmp_path / "metrics" / "evaluate_tests.json").read_text())["tests"]
    assert any(t["metric"] == "mae" for t in tests)
    assert "Nearest neighbour" in text and "Mean absolute error" in text
    segment = json.loads((tmp_path / "metrics" / "segment.json").read_text())
    assert "nearest" in segment
