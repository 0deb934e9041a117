"""The same-budget baselines as stages (issue 21): train_baseline@<name> trains a baseline architecture with the
SRResNet's budget and its own pixel loss, train_baseline_gan@<name> runs the GAN phase from one of them; in a real
DVC pipeline, `dvc exp run -S` on one baseline reruns that one alone; msrgan upscale takes the trained files."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from msrgan.cli import main as msrgan_main
from msrgan.errors import UserError
from msrgan.imageio import read_image, write_png
from msrgan.models.architectures import load_any_generator
from msrgan.params import parse_section
from msrgan.train.baseline import train_baseline
from msrgan.train.baseline_gan import train_baseline_gan
from msrgan.train.vgg import train_vgg
from tests.test_dvc_pipeline import DVC, REPO, run
from tests.train_data import make_processed

COMMON = {"iterations": 4, "batch_size": 4, "val_every": 2, "checkpoint_every": 2, "log_every": 2, "device": "cpu",
          "precision": "fp32"}
BUDGET = {**COMMON, "blocks": 1, "channels": 8}
SRGAN = {**COMMON, "discriminator": {"channels": 4, "dense": 8}}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A CARE baseline (MAE) and an ESRGAN-style GAN phase from it (RaGAN, the miniVGG19 content loss)."""
    base = tmp_path_factory.mktemp("baselines")
    make_processed(base / "processed")
    run_dirs = {"processed": base / "processed", "models": base / "models", "metrics": base / "metrics",
                "checkpoints": base / "ckpt"}
    train_vgg(parse_section("train_vgg", {**COMMON, "width": 4}), 1, **run_dirs)
    baselines = {"care": {"arch": "care", "loss": "l1", "config": {"features": 4}}}
    gans = {"esrgan": {"generator": "care", "train_srgan": {"loss": {"gan_type": "ragan"}}}}
    (base / "params.yaml").write_text(yaml.safe_dump({"train_srgan": SRGAN, "baselines": baselines,
                                                      "baseline_gans": gans}))
    care = train_baseline("care", parse_section("baselines", baselines).root["care"],
                          parse_section("train_srresnet", BUDGET), 1, **run_dirs)
    gan = train_baseline_gan("esrgan", parse_section("baseline_gans", gans).root["esrgan"], 1,
                             params_path=base / "params.yaml", **run_dirs)
    return base, care, gan


def test_a_baseline_trains_on_the_srresnets_budget_with_its_own_architecture_and_loss(trained):
    base, care, _ = trained
    model, meta = load_any_generator(base / "models" / "baselines" / "care.pt")
    assert model.arch == "care" and model.config.features == 4 and model.config.scale == 4
    assert meta["baseline"] == "care" and meta["loss"] == "l1" and meta["stage"] == "train_baseline@care"
    written = json.loads((base / "metrics" / "baselines" / "care.json").read_text())
    assert written["iterations"] == 4 and written["weights_sha"] == care["weights_sha"]
    assert (base / "metrics" / "baselines" / "care" / "plots" / "metrics" / "train" / "loss.tsv").is_file()
    assert care["seconds_per_iteration"] > 0


def test_the_gan_baseline_starts_from_its_baselines_generator_with_the_overrides(trained):
    base, care, gan = trained
    model, meta = load_any_generator(base / "models" / "baselines" / "esrgan.pt")
    assert model.arch == "care" and meta["stage"] == "train_baseline_gan@esrgan"
    written = json.loads((base / "metrics" / "baselines" / "esrgan.json").read_text())
    assert written["start"] == "care" and written["loss"]["gan_type"] == "ragan"
    assert written["weights_sha"] != care["weights_sha"]   # the GAN phase moved the weights


def test_msrgan_upscale_takes_a_trained_baselines_file(trained, tmp_path):
    base, _, _ = trained
    image = np.random.default_rng(0).integers(0, 255, (20, 24, 3), dtype=np.uint8)
    write_png(tmp_path / "in.png", image)
    out = tmp_path / "out"
    for name in ("care", "esrgan"):
        assert msrgan_main(["upscale", str(tmp_path / "in.png"), "--model", str(base / "models" / "baselines" /
                                                                              f"{name}.pt"),
                            "--out", str(out / name), "--quiet"]) == 0
        assert read_image(out / name / "in.png").shape == (80, 96, 3)


def test_bad_baseline_params_are_one_line_errors_naming_the_key(trained, tmp_path):
    base, _, _ = trained
    dirs = {"processed": base / "processed", "models": tmp_path, "metrics": tmp_path, "checkpoints": tmp_path}
    spec = parse_section("baselines", {"care": {"arch": "care", "config": {"colour": 3}}}).root["care"]
    with pytest.raises(UserError, match=r"baselines\.care\.config"):
        train_baseline("care", spec, parse_section("train_srresnet", BUDGET), 1, **dirs)
    with pytest.raises(UserError, match=r"baselines\.x\.arch"):
        parse_section("baselines", {"x": {"arch": "vdsr"}})
    with pytest.raises(UserError, match="study's own methods"):
        parse_section("baselines", {"msrgan": {"arch": "care"}})
    gan = parse_section("baseline_gans", {"g": {"generator": "nope"}}).root["g"]
    with pytest.raises(UserError, match=r"baseline_gans\.g\.generator: 'nope' is not a key of baselines"):
        train_baseline_gan("g", gan, 1, params_path=base / "params.yaml", **dirs)
    bad = parse_section("baseline_gans", {"g": {"generator": "care", "train_srgan": {"loss": {"gan": 1}}}}).root["g"]
    with pytest.raises(UserError, match=r"baseline_gans\.g\.train_srgan\.loss\.gan: unknown key"):
        train_baseline_gan("g", bad, 1, params_path=base / "params.yaml", **dirs)


@pytest.mark.skipif(DVC is None or shutil.which("git") is None, reason="needs dvc and git")
def test_dvc_exp_run_on_one_baseline_reruns_that_one_alone(tmp_path):
    stages = ("fetch", "merge", "prepare", "train_baseline")
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copytree(REPO / "msrgan", repo / "msrgan", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (repo / "stages").mkdir()
    for stage in stages:
        shutil.copy(REPO / "stages" / f"{stage}.py", repo / "stages")
    pipeline = yaml.safe_load((REPO / "dvc.yaml").read_text())
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": {s: pipeline["stages"][s] for s in stages}}))
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["fetch"]["synthetic"].update(n_fov=6, size=64, workers=1)
    params["prepare"]["hr_size"] = 32
    params["train_srresnet"].update(COMMON)
    params["baselines"] = {"care": {"arch": "care", "loss": "l1", "config": {"features": 4}},
                           "srcnn": {"arch": "srcnn", "config": {"features": 8, "mapping": 4}}}
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(repo, "git", "init", "-q")
    run(repo, DVC, "init", "-q")

    def commit(message):   # dvclive needs a commit; dvc exp run a clean one
        run(repo, "git", "add", "-A")
        run(repo, "git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message)
    commit("pipeline")
    output = run(repo, DVC, "repro")
    assert "Running stage 'train_baseline@care'" in output and "Running stage 'train_baseline@srcnn'" in output
    commit("study")
    before = (repo / "data" / "models" / "baselines" / "srcnn.pt").read_bytes()
    output = run(repo, DVC, "exp", "run", "-S", "baselines.care.loss=mse")
    ran = sorted(line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage"))
    assert ran == ["train_baseline@care"]
    assert (repo / "data" / "models" / "baselines" / "srcnn.pt").read_bytes() == before
    added = run(repo, DVC, "exp", "run", "-S", "+baselines.rcan={arch: rcan, config: {channels: 8, groups: 1}}")
    assert [line for line in added.splitlines() if line.startswith("Running stage")] == [
        "Running stage 'train_baseline@rcan':"]
    assert load_any_generator(repo / "data" / "models" / "baselines" / "rcan.pt")[0].arch == "rcan"
