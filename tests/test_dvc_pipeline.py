"""A real, tiny `dvc repro` of fetch -> merge -> prepare in a temporary git repo: reruns only what changed (the
native recipe of params/native.args too), and the outputs survive a push to a folder remote, deleting cache and
data, and a pull."""
from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
STAGES = ("fetch", "merge", "prepare")
DVC = shutil.which("dvc", path=str(Path(sys.executable).parent)) or shutil.which("dvc")

pytestmark = pytest.mark.skipif(DVC is None or shutil.which("git") is None, reason="needs dvc and git")


def run(repo: Path, *args: str) -> str:
    env = dict(os.environ, PYTHONPATH=str(repo), PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               DVC_NO_ANALYTICS="1", MSRGAN_CACHE=str(repo.parent / "cache"))
    result = subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def ran(output: str) -> list[str]:
    return [s for s in STAGES if f"Running stage '{s}'" in output]


def test_repro_reruns_only_what_changed_and_push_pull(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "msrgan", repo / "msrgan", ignore=ignore)
    (repo / "stages").mkdir()
    for stage in STAGES:
        shutil.copy(REPO / "stages" / f"{stage}.py", repo / "stages")
    pipeline = yaml.safe_load((REPO / "dvc.yaml").read_text())
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": {s: pipeline["stages"][s] for s in STAGES}}))
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["fetch"]["source"] = "synthetic"
    # two workers: the stage script must survive spawned worker processes, as in the default pipeline
    params["fetch"]["synthetic"].update(n_fov=4, size=64, workers=2)
    params["prepare"]["hr_size"] = 32
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    run(repo, "git", "init", "-q")
    run(repo, DVC, "init", "-q")
    run(repo, DVC, "config", "core.analytics", "false")
    assert ran(run(repo, DVC, "repro")) == list(STAGES)
    index = (repo / "data" / "processed" / "index.csv").read_text().splitlines()
    assert index[0] == "id,split,labels,fov,nuclei_mask,cell_mask" and len(index) == 5
    assert ran(run(repo, DVC, "repro")) == []                     # nothing changed: nothing runs

    params["prepare"]["hr_size"] = 16
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert ran(run(repo, DVC, "repro")) == ["prepare"]            # only the stage whose params changed
    processed = repo / "data" / "processed"
    bicubic = {p.relative_to(processed): cv2.imread(str(p)) for p in processed.glob("*/lr/*.png")}

    params["prepare"]["degradation"] = "microscope"               # an LR acquisition instead of bicubic decimation
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert ran(run(repo, DVC, "repro")) == ["prepare"]
    domain = json.loads((processed / "domain.json").read_text())
    assert domain == {"mode": "resize", "hr_size": 16, "scale": 4, "hr_interpolation": "cubic",
                      "degradation": "microscope", "microscope": params["prepare"]["microscope"],
                      "pixel_size_um": [10.24, 10.24]}    # the simulator's 2.56 um pixels, a 64 px field shrunk to 16
    acquired = {p.relative_to(processed): cv2.imread(str(p)) for p in processed.glob("*/lr/*.png")}
    assert acquired.keys() == bicubic.keys()
    for name, lr in acquired.items():   # the same scene, noisier and blurrier: close in mean, not the same image
        assert lr.shape == bicubic[name].shape and not np.array_equal(lr, bicubic[name])
        assert abs(lr.mean() - bicubic[name].mean()) < 6

    for line in (REPO / "params" / "native.args").read_text().splitlines():   # the native recipe, as dvc exp run -S
        if line.startswith("-S "):
            key, value = line[3:].split("=", 1)
            *parents, last = key.split(".")
            node = params
            for part in parents:
                node = node[part]
            node[last] = yaml.safe_load(value)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert ran(run(repo, DVC, "repro")) == ["fetch", "merge", "prepare"]     # the simulator's LR acquisition too
    assert json.loads((processed / "domain.json").read_text())["mode"] == "tiles"
    rows = list(csv.DictReader((processed / "index.csv").open()))
    train = [r for r in rows if r["split"] == "train"]
    assert train and all(r["id"] == r["fov"] for r in train)                  # whole fields, cropped in training
    assert cv2.imread(str(processed / "train" / "hr" / f"{train[0]['id']}.png")).shape == (64, 64, 3)
    test = [r for r in rows if r["split"] == "test"]
    assert test and len(test) <= 8 * len({r["fov"] for r in test})          # prepare.max_tiles per field
    for r in test:   # each test tile with a window of the simulator's own LR acquisition of its field
        assert cv2.imread(str(processed / "test" / "lr_acquired" / f"{r['id']}.png")).shape == (4, 4, 3)
    before = {d: digest(repo / "data" / d) for d in ("raw", "merged", "processed")}

    run(repo, DVC, "remote", "add", "-d", "store", str(tmp_path / "remote"))
    run(repo, DVC, "push")
    shutil.rmtree(repo / ".dvc" / "cache")
    shutil.rmtree(repo / "data")
    run(repo, DVC, "pull")
    assert {d: digest(repo / "data" / d) for d in ("raw", "merged", "processed")} == before
    assert "up to date" in run(repo, DVC, "status")
