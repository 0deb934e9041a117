"""`msrgan check-repro`: a run is compared with the committed metrics of a real git repository."""
import json
import subprocess

from msrgan.cli import main

EVALUATE = {"bicubic": {"psnr": 22.5, "ssim": 0.73}, "srresnet": {"psnr": 23.7, "ssim": 0.78},
            "msrgan": {"psnr": 23.5, "ssim": 0.76}}
SEGMENT = {m: {"nuclei_dice": 0.85, "cells_dice": 0.9} for m in ("bicubic", "srresnet", "msrgan")}


def write(root, evaluate, segment):
    (root / "metrics").mkdir(exist_ok=True)
    (root / "metrics" / "evaluate.json").write_text(json.dumps(evaluate))
    (root / "metrics" / "segment.json").write_text(json.dumps(segment))


def published_repo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, EVALUATE, SEGMENT)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(git + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "metrics"], check=True)
    subprocess.run(git + ["commit", "-qm", "published"], check=True)


def test_a_run_within_tolerance_reproduces(tmp_path, monkeypatch, capsys):
    published_repo(tmp_path, monkeypatch)
    moved = json.loads(json.dumps(EVALUATE))
    moved["srresnet"]["psnr"] += 0.1
    write(tmp_path, moved, SEGMENT)
    assert main(["check-repro"]) == 0
    assert "reproduces the study at HEAD: 12 metrics within tolerance" in capsys.readouterr().out


def test_moved_metrics_are_named_with_both_values(tmp_path, monkeypatch, capsys):
    published_repo(tmp_path, monkeypatch)
    moved = json.loads(json.dumps(EVALUATE))
    moved["srresnet"]["psnr"] = 23.09
    segment = json.loads(json.dumps(SEGMENT))
    segment["msrgan"]["nuclei_dice"] = 0.83
    write(tmp_path, moved, segment)
    assert main(["check-repro"]) == 1
    out = capsys.readouterr().out
    assert "MOVED  evaluate.json srresnet.psnr: published 23.7000, this run 23.0900, diff -0.6100" in out
    assert "MOVED  segment.json msrgan.nuclei_dice: published 0.8500, this run 0.8300" in out
    assert "2 of 12 metrics moved" in out


def test_a_broken_conclusion_fails_even_within_tolerance(tmp_path, monkeypatch, capsys):
    published = json.loads(json.dumps(EVALUATE))
    published["msrgan"]["ssim"] = 0.735
    monkeypatch.chdir(tmp_path)
    published_repo(tmp_path, monkeypatch)
    write(tmp_path, published, SEGMENT)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "close"], check=True)
    now = json.loads(json.dumps(published))
    now["msrgan"]["ssim"] = 0.729    # within 0.01, but below bicubic's 0.73
    write(tmp_path, now, SEGMENT)
    assert main(["check-repro"]) == 1
    assert "BROKEN msrgan is not above bicubic on ssim" in capsys.readouterr().out


def test_a_checkerboard_on_flat_fields_breaks_the_study(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    published_repo(tmp_path, monkeypatch)
    now = json.loads(json.dumps(EVALUATE))
    now["srresnet"]["flat_grid_pattern"] = 0.0
    now["msrgan"]["flat_grid_pattern"] = 9.3         # what the old sub-pixel generator did
    write(tmp_path, now, SEGMENT)
    assert main(["check-repro"]) == 1
    out = capsys.readouterr().out
    assert "BROKEN msrgan puts a grid pattern of 9.30 8-bit levels on flat fields" in out and "srresnet puts" not in out


def test_a_gan_no_closer_to_hr_by_the_independent_judge_breaks_the_study(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    published_repo(tmp_path, monkeypatch)
    now = json.loads(json.dumps(EVALUATE))
    now["srresnet"] |= {"judge_distance": 0.42, "kid": 23.0}
    now["msrgan"] |= {"judge_distance": 0.34, "kid": 25.0}
    write(tmp_path, now, SEGMENT)
    assert main(["check-repro"]) == 1
    out = capsys.readouterr().out
    assert "BROKEN msrgan is not below srresnet on kid" in out and "judge_distance, the" not in out


def test_no_run_yet_is_one_line(tmp_path, monkeypatch, capsys):
    published_repo(tmp_path, monkeypatch)
    (tmp_path / "metrics" / "segment.json").unlink()
    assert main(["check-repro"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: metrics/segment.json: not found") and err.count("\n") == 1
