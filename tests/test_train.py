"""The training stages for real on a tiny data set: outputs, resume after an interrupt, fresh start on changed
params, the NaN stop."""
import json

import numpy as np
import pytest
import torch

from msrgan.errors import UserError
from msrgan.models.generatorfile import load_generator
from msrgan.models.minivgg import load_minivgg
from msrgan.params import parse_section
from msrgan.train.checkpoint import load_checkpoint, run_hash
from msrgan.train.distributed import World
from msrgan.train.loop import Healthy, lr_lambda, run_loop
from msrgan.train.srgan import train_srgan
from msrgan.train.srresnet import train_srresnet
from msrgan.train.vgg import train_vgg
from tests.train_data import make_processed



COMMON = {"iterations": 6, "batch_size": 4, "val_every": 3, "checkpoint_every": 2, "log_every": 2,
          "device": "cpu", "precision": "fp32"}
VGG = {**COMMON, "width": 4}
SRRESNET = {**COMMON, "blocks": 1, "channels": 8}
SRGAN = {**COMMON, "discriminator": {"channels": 4, "dense": 8}, "loss": {"beta": 0.01, "adversarial": 0.01}}


def paths(root):
    return {"processed": root.parent / "processed", "models": root / "models", "metrics": root / "metrics",
            "checkpoints": root / "ckpt"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Tiny data plus the two models train_srgan needs, trained by their stages."""
    base = tmp_path_factory.mktemp("train")
    make_processed(base / "processed")
    run = paths(base / "run")
    vgg = train_vgg(parse_section("train_vgg", VGG), 1, **run)
    res = train_srresnet(parse_section("train_srresnet", SRRESNET), 1, **run)
    return base, run, vgg, res


def test_stage_outputs(trained):
    _, run, vgg, res = trained
    model, meta = load_minivgg(run["models"] / "minivgg.pt")
    assert meta["stage"] == "train_vgg"
    written = json.loads((run["metrics"] / "train_vgg.json").read_text())
    assert set(written["test"]) >= {"macro_f1", "micro_f1", "map", "per_class_ap"} and written["test"]["n"] == 4
    generator, meta = load_generator(run["models"] / "srresnet.pt")
    assert generator.config.blocks == 1 and generator.config.scale == 4
    assert meta["percentiles"] == [1.0, 99.0]   # merge's 16-bit window travels with the generator to `upscale`
    written = json.loads((run["metrics"] / "train_srresnet.json").read_text())
    assert {"val", "val_bicubic", "selected_iteration"} <= set(written)
    assert written["rollbacks"] == 0 and written["rollback_events"] == []    # counted in every trainer's JSON
    assert (run["metrics"] / "train_srresnet" / "plots" / "metrics" / "val" / "psnr.tsv").is_file()
    assert (run["metrics"] / "train_srresnet" / "plots" / "images" / "val_samples.png").is_file()
    assert vgg["resumed_from"] == 0 and res["resumed_from"] == 0


def test_srgan_outputs_and_complete_run_resumes_to_the_end(trained):
    base, run, *_ = trained
    params = parse_section("train_srgan", SRGAN)
    first = train_srgan(params, 1, **run)
    assert (run["models"] / "generator.pt").is_file() and not (run["models"] / "discriminator.pt").exists()
    written = json.loads((run["metrics"] / "train_srgan.json").read_text())
    assert written["loss"]["alpha"] == 1.0 and "psnr" in written["val"]
    again = train_srgan(params, 1, **run)      # nothing left to do: resumes at the end, same result
    assert again["resumed_from"] == 6 and again["weights_sha"] == first["weights_sha"]
    assert json.loads((run["metrics"] / "train_srgan.json").read_text()) == written
    changed = train_srgan(parse_section("train_srgan", {**SRGAN, "loss": {"alpha": 0.5}}), 1, **run)
    assert changed["resumed_from"] == 0 and changed["weights_sha"] != first["weights_sha"]


@pytest.mark.parametrize("stage", ["train_vgg", "train_srresnet", "train_srgan"])
def test_resume_after_interrupt_gives_the_same_weights(trained, tmp_path, stage):
    base, run, *_ = trained
    fn, values = {"train_vgg": (train_vgg, VGG), "train_srresnet": (train_srresnet, SRRESNET),
                  "train_srgan": (train_srgan, SRGAN)}[stage]
    params = parse_section(stage, values)
    straight = fn(params, 3, **{**run, "checkpoints": tmp_path / "a", "metrics": tmp_path / "ma",
                                "models": run["models"] if stage == "train_srgan" else tmp_path / "a"})
    where = {**run, "checkpoints": tmp_path / "b", "metrics": tmp_path / "mb",
             "models": run["models"] if stage == "train_srgan" else tmp_path / "b"}
    with pytest.raises(KeyboardInterrupt):
        fn(params, 3, **where, stop_at=5)       # interrupted after the checkpoint at iteration 4
    resumed = fn(params, 3, **where)
    assert resumed["resumed_from"] == 4
    assert resumed["weights_sha"] == straight["weights_sha"]
    assert resumed["val"] == straight["val"]


def test_bf16_training_with_random_crops_runs_and_learns(trained, tmp_path):
    """Every other training test pins fp32: the default precision on a CPU with bf16 is autocast bf16."""
    base, run, *_ = trained
    params = parse_section("train_srresnet", {**SRRESNET, "precision": "bf16", "crop": 4, "iterations": 8,
                                              "lr": 0.01})
    out = train_srresnet(params, 2, **{**run, "checkpoints": tmp_path, "metrics": tmp_path, "models": tmp_path})
    assert out["precision"] == "bf16"
    assert out["val"]["psnr"] > out["val_bicubic"]["psnr"] - 1.0    # it trains, not NaN or collapse


def test_lr_lambda_warms_up_then_follows_the_cosine_to_min_lr():
    params = parse_section("train_srresnet", {"iterations": 100, "warmup": 0.1, "decay": "cosine", "min_lr": 0.05})
    f = lr_lambda(params)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)            # linear over 10 steps
    assert f(10) == pytest.approx(1.0)                                            # cosine starts at the peak
    assert f(55) == pytest.approx(0.05 + 0.95 * 0.5)                              # half-way down
    assert f(100) == pytest.approx(0.05) and f(500) == pytest.approx(0.05)
    flat = lr_lambda(parse_section("train_srresnet", {"iterations": 100, "warmup": 0.0, "decay": "constant"}))
    assert {flat(i) for i in (0, 50, 99)} == {1.0}


def test_nan_that_keeps_coming_back_stops_with_one_line_after_the_rollbacks(tmp_path):
    params = parse_section("train_srresnet", SRRESNET)
    model = torch.nn.Linear(2, 1)

    def step(it):
        return {"mse": float("nan") if it == 4 else 1.0 / (it + 1)}

    with pytest.raises(UserError, match=r"NaN/inf \(mse\) at iteration 5, after 3 rollback") as err:
        run_loop(stage="train_srresnet", params=params, seed=0, world=World(), run_hash="h", checkpoints=tmp_path,
                 state={"model": model}, step=step, validate=lambda: {"psnr": 0.0}, keep="model", guard="mse")
    assert "\n" not in str(err.value)
    assert load_checkpoint(tmp_path, "h")["step"] == 4


def regression_run(tmp_path, fault, iterations=60):
    """A real model, optimizer and schedule (y = 2x - 1 by SGD) under run_loop; where `fault(it, lr)` is true, the
    step trains towards a slope 30 too steep (a loss spike and a large wrong update)."""
    torch.manual_seed(0)
    params = parse_section("train_srresnet", {**SRRESNET, "iterations": iterations, "val_every": 10, "lr": 0.5,
                                              "checkpoint_every": 10, "warmup": 0, "decay": "constant"})
    model = torch.nn.Linear(1, 1)
    opt = torch.optim.SGD(model.parameters(), lr=params.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
    x = torch.linspace(-1, 1, 32).unsqueeze(1)

    def step(it):
        loss = torch.nn.functional.mse_loss(model(x), 2 * x - 1 + 30 * x * fault(it, opt.param_groups[0]["lr"]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        return {"mse": loss.item()}

    def validate():
        with torch.no_grad():
            return {"psnr": min(50.0, -10 * torch.log10(torch.nn.functional.mse_loss(model(x), 2 * x - 1)).item())}

    result = run_loop(stage="train_srresnet", params=params, seed=0, world=World(), run_hash="r",
                      checkpoints=tmp_path, state={"model": model, "opt": opt, "sched": sched}, step=step,
                      validate=validate, keep="model", select="last", guard="mse")
    return result, opt


def test_a_forced_spike_is_rolled_back_with_a_lower_lr_and_the_run_ends_healthy(tmp_path):
    result, opt = regression_run(tmp_path, lambda it, lr: it == 25 and lr == 0.5)   # only at the full lr
    assert len(result.rollbacks) == 1
    event = result.rollbacks[0]
    assert event["at"] == 26 and event["to"] == 20 and "spiked" in event["reason"] and event["lr_scale"] == 0.5
    assert opt.param_groups[0]["lr"] == pytest.approx(0.25)
    assert result.last["psnr"] == 50                      # converged: no trace of the spike in the weights
    assert load_checkpoint(tmp_path, "r")["rollbacks"] == result.rollbacks


def test_rollbacks_to_the_same_point_lower_the_rate_each_time(tmp_path):
    # spikes at iterations 23 and 25 (full rate, then half): both go back to 20, the second to a quarter of the rate
    result, opt = regression_run(tmp_path, lambda it, lr: (it == 22 and lr == 0.5) or (it == 24 and lr == 0.25))
    assert [(e["at"], e["to"], e["lr_scale"]) for e in result.rollbacks] == [(23, 20, 0.5), (25, 20, 0.25)]
    assert opt.param_groups[0]["lr"] == pytest.approx(0.125)
    assert result.last["psnr"] == 50


def test_a_validation_collapse_is_rolled_back(tmp_path, monkeypatch):
    # the step at iteration 39, at the full lr only, throws the weights far off
    def fault(it, lr):
        return it == 38 and lr == 0.5
    assert [e["to"] for e in regression_run(tmp_path / "a", fault)[0].rollbacks] == [30]   # caught as a spike
    # without the loss check, the validation at 40 sees the damage and goes back to 30
    monkeypatch.setattr(Healthy, "spike", lambda self, losses, guard: None)
    result = regression_run(tmp_path / "b", fault)[0]
    assert [(e["at"], e["to"]) for e in result.rollbacks] == [(40, 30)]
    assert "validation psnr fell" in result.rollbacks[0]["reason"]
    assert result.last["psnr"] == 50


def test_diverging_stage_stops_cleanly(trained, tmp_path):
    base, run, *_ = trained
    params = parse_section("train_srresnet", {**SRRESNET, "lr": 1e6, "warmup": 0, "decay": "constant",
                                              "iterations": 30, "checkpoint_every": 1})
    with pytest.raises(UserError, match="NaN|spiked|fell"):
        train_srresnet(params, 1, **{**run, "checkpoints": tmp_path, "models": tmp_path, "metrics": tmp_path})
    assert not (tmp_path / "srresnet.pt").exists()
    assert (tmp_path / "train_srresnet" / "checkpoint.pt").is_file()


def test_run_hash_changes_with_params():
    a = parse_section("train_srgan", SRGAN)
    b = parse_section("train_srgan", {**SRGAN, "loss": {"beta": 0.02}})
    trainer = "msrgan.train.srgan"
    assert run_hash(trainer, params=a) == run_hash(trainer, params=a) != run_hash(trainer, params=b)


def test_code_fingerprint_follows_the_imported_code_only(tmp_path, monkeypatch):
    from msrgan import codebase
    from msrgan.train import checkpoint
    for root in (codebase, checkpoint):
        monkeypatch.setattr(root, "ROOT", tmp_path)
    package = tmp_path / "msrgan"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "trainer.py").write_text("from msrgan.losses import mse\n")
    (package / "losses.py").write_text("def mse(a, b):\n    return ((a - b) ** 2).mean()\n")
    (package / "vgg.py").write_text("X = 1\n")
    before = checkpoint.code_fingerprint("msrgan.trainer")
    (package / "vgg.py").write_text("X = 2\n")                       # not imported by the trainer
    (package / "losses.py").write_text("# mean squared error\ndef mse(a, b):\n    return ((a - b) ** 2).mean()  # x\n")
    assert checkpoint.code_fingerprint("msrgan.trainer") == before   # comments and other modules do not count
    (package / "losses.py").write_text("def mse(a, b):\n    return ((a - b) ** 2).sum()\n")
    assert checkpoint.code_fingerprint("msrgan.trainer") != before   # imported code does


def test_the_validation_gain_is_measured_against_evaluates_bicubic(trained):
    from msrgan.evaluation.metrics import psnr, ssim
    from msrgan.evaluation.methods import by_name
    from msrgan.evaluation.predict import upscalers
    from msrgan.train.dataset import load_split
    from msrgan.train.validation import bicubic_metrics
    base, *_ = trained
    val = load_split(base / "processed", "val")
    hrs = list(val.hr.permute(0, 2, 3, 1).numpy())
    srs = upscalers([by_name("bicubic")], None, 4)["bicubic"]([np.ascontiguousarray(x) for x in val.lr.permute(0, 2, 3, 1).numpy()])
    reference = bicubic_metrics(val)
    assert reference["psnr"] == pytest.approx(np.mean([psnr(h, s) for h, s in zip(hrs, srs)]), rel=1e-9)
    assert reference["ssim"] == pytest.approx(np.mean([ssim(h, s) for h, s in zip(hrs, srs)]), rel=1e-9)
