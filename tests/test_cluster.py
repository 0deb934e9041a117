"""A whole screen on a Dask cluster (issue 22), on real LocalClusters of worker processes and tiny inputs:
`msrgan upscale --workers 2` and `--scheduler` write the sequential run's bytes, resume after an interruption,
report a broken file in one line; fetch (local folder), merge and prepare on 2 workers give the dvc.lock hashes of
the single-process run, and their workers/scheduler params do not rerun a stage."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
import yaml

from msrgan.cli import main
from msrgan.cluster import cluster_map
from msrgan.errors import UserError
from msrgan.params import Fetch, Merge, Prepare
from msrgan.upscale.resume import JOURNAL

sys.path.insert(0, str(Path(__file__).parent))
from test_dvc_pipeline import DVC, REPO, run  # noqa: E402
from test_upscale import cells, model  # noqa: E402,F401 (model: the shared generator fixture)


@pytest.fixture(scope="module")
def scheduler():
    """The address of a LocalCluster of 2 worker processes that several tests share (as a user's --scheduler)."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        yield cluster.scheduler_address


@pytest.fixture
def folder(tmp_path) -> Path:
    """Four small fields of the kinds a screen has: 8-bit RGB PNGs, a 16-bit TIFF, a 4-channel stack."""
    inputs = tmp_path / "in"
    (inputs / "plate2").mkdir(parents=True)
    for i in range(2):
        cv2.imwrite(str(inputs / f"a{i}.png"), cells(40, 46, i, 250, 3).astype(np.uint8))
    tifffile.imwrite(inputs / "plate2" / "b.tif", cells(37, 43, 5, 40000).astype(np.uint16)[..., 0])
    tifffile.imwrite(inputs / "plate2" / "c.tif", cells(30, 32, 6, 50000, 4).astype(np.uint16).transpose(2, 0, 1),
                     imagej=True, metadata={"axes": "CYX"})
    return inputs


def outputs(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name != JOURNAL}


def upscale(*args, quiet: bool = True) -> int:
    return main(["upscale", *map(str, args), *(["--quiet"] if quiet else [])])


def test_two_workers_write_the_sequential_bytes_and_resume_skips_only_complete_outputs(model, folder, tmp_path,
                                                                                         capsys):
    options = ["--model", model, "--consistency-map"]
    assert upscale(folder, "--out", tmp_path / "sequential", *options) == 0
    expected = outputs(tmp_path / "sequential")
    assert len(expected) == 4 * 3          # image, consistency map and its text per input

    # An interrupted run: a0 and b finished (journaled); c left a half-written temporary file and no journal line;
    # a1 has a file under its final name that no run of these settings finished (another model's, say).
    out = tmp_path / "resumed"
    shutil.copytree(tmp_path / "sequential", out)
    lines = (out / JOURNAL).read_text().splitlines()
    (out / JOURNAL).write_text("".join(f"{line}\n" for line in lines
                                       if '"output": "a1.png"' not in line and '"output": "plate2/c.tif"' not in line))
    for p in (out / "plate2").glob("c.tif*"):
        p.unlink()
    (out / "plate2" / ".c.tif.k3x9_q2z.tmp").write_bytes(b"half a TIFF")
    (out / "a1.png").write_bytes(b"not this run's output")
    kept = {name: (out / name).stat().st_mtime_ns for name in ("a0.png", "plate2/b.tif")}

    capsys.readouterr()
    assert upscale(folder, "--out", out, *options, "--workers", "2", quiet=False) == 0
    assert outputs(out) == expected                                     # byte for byte, stale temporary gone
    assert {name: (out / name).stat().st_mtime_ns for name in kept} == kept   # the complete ones not redone
    err = capsys.readouterr().err
    assert "upscaled 2 of 4 input(s)" in err and "2 already complete, skipped" in err

    assert upscale(folder, "--out", out, *options, "--workers", "2", quiet=False) == 0   # all complete
    assert "upscaled 0 of 4 input(s)" in capsys.readouterr().err
    assert upscale(folder, "--out", out, "--model", model, quiet=False) == 0   # other options: all redone
    assert "upscaled 4 of 4 input(s)" in capsys.readouterr().err
    assert outputs(out) == expected


def test_a_run_interrupted_by_ctrl_c_resumes_where_it_stopped(model, tmp_path, capsys):
    """A real interruption: Ctrl-C (SIGINT to the whole process group, as a terminal sends it) once the first
    outputs are journaled; the call started again does the rest, to the bytes of an uninterrupted run."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(12):
        cv2.imwrite(str(inputs / f"f{i:02d}.png"), cells(96, 96, i, 250, 3).astype(np.uint8))
    assert upscale(inputs, "--model", model, "--out", tmp_path / "sequential") == 0
    out = tmp_path / "out"
    command = [sys.executable, "-m", "msrgan", "upscale", str(inputs), "--model", str(model), "--out", str(out),
               "--workers", "2"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                             start_new_session=True)
    deadline = time.monotonic() + 60
    while not ((out / JOURNAL).is_file() and (out / JOURNAL).read_text().strip()) and child.poll() is None:
        assert time.monotonic() < deadline, "no output within 60 s"
        time.sleep(0.02)
    os.killpg(child.pid, signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert "Traceback" not in err, err
    assert child.returncode in (0, 130), err          # 0 only if every file was done before the signal
    capsys.readouterr()
    assert upscale(inputs, "--model", model, "--out", out, quiet=False) == 0   # again (here: in this process)
    again = capsys.readouterr().err
    skipped = int(again.split(" already complete")[0].rsplit(" ", 1)[-1])
    assert skipped >= 1, again
    assert outputs(out) == outputs(tmp_path / "sequential")
    assert not list(out.glob(".*.tmp"))


def test_a_broken_file_is_one_line_and_the_others_finish_on_the_cluster(model, folder, tmp_path, capsys, scheduler):
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    status = main(["upscale", str(folder), "--model", str(model), "--out", str(tmp_path / "out"), "--scheduler",
                   scheduler])
    err = capsys.readouterr().err
    assert status == 1 and "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "broken.png" in errors[0], err
    assert "upscaled 4 of 5 input(s)" in err and "1 failed" in err
    assert sorted(p.name for p in (tmp_path / "out").rglob("*") if p.is_file()) == \
        sorted([JOURNAL, "a0.png", "a1.png", "b.tif", "c.tif"])
    # started again (here in this process), only the broken one is tried again, and fails the same way
    assert main(["upscale", str(folder), "--model", str(model), "--out", str(tmp_path / "out")]) == 1
    again = capsys.readouterr().err
    assert [line.split(" (")[0] for line in again.splitlines() if line.startswith("error:")] == \
        [errors[0].split(" (")[0]]
    assert "upscaled 0 of 5 input(s)" in again and "4 already complete, skipped" in again


def test_an_existing_cluster_streams_large_fields_to_the_same_bytes(model, tmp_path, scheduler):
    from distributed import Client

    field = cells(150, 60, 3, 40000).astype(np.uint16)[..., 0]
    tifffile.imwrite(tmp_path / "field.tif", field, ome=True, metadata={"axes": "YX", "PhysicalSizeX": 0.4})
    options = ["--model", model, "--tile", "48", "--overlap", "12", "--precision", "fp32"]
    from msrgan.upscale import imagefile
    with pytest.MonkeyPatch.context() as patch:   # every output "large": streamed in strips into a tiled TIFF
        patch.setattr(imagefile, "STREAM_BYTES", 1000)
        assert upscale(tmp_path / "field.tif", "--out", tmp_path / "sequential", *options) == 0
    with Client(scheduler, set_as_default=False) as client:
        def stream_over(limit):
            from msrgan.upscale import imagefile
            imagefile.STREAM_BYTES, before = limit, imagefile.STREAM_BYTES
            return before
        before = client.run(stream_over, 1000)
        try:
            assert upscale(tmp_path / "field.tif", "--out", tmp_path / "cluster", *options, "--scheduler",
                           scheduler) == 0
        finally:
            client.run(stream_over, next(iter(before.values())))
    with tifffile.TiffFile(tmp_path / "cluster" / "field.tif") as tif:
        assert tif.pages[0].is_tiled
    assert outputs(tmp_path / "cluster") == outputs(tmp_path / "sequential")


@pytest.mark.parametrize("options, message", [
    (["--workers", "0"], "error: --workers: at least 1"),
    (["--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"], "error: --workers: the cluster at --scheduler"),
    (["--scheduler", "nonsense"], "error: --scheduler: no Dask scheduler at 'nonsense'"),
    (["--scheduler", "tcp://127.0.0.1:1"], "error: --scheduler: no Dask scheduler at 'tcp://127.0.0.1:1'"),
    (["--threads", "-1"], "error: --threads: at least 1"),
])
def test_bad_cluster_options_are_one_line_and_exit_2(model, folder, tmp_path, capsys, monkeypatch, options, message):
    from msrgan import cluster
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 1.0)
    assert main(["upscale", str(folder / "a0.png"), "--model", str(model), "--out", str(tmp_path / "out"),
                 *options]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(message), err
    assert not (tmp_path / "out" / "a0.png").exists()


def fails_on_two(n: int) -> int:
    if n == 2:
        raise UserError(f"item {n}: broken")
    return n * n


def test_cluster_map_keeps_order_and_raises_a_workers_user_error_as_it_was(tmp_path, scheduler):
    items = list(range(7))
    assert cluster_map(lambda n: n * n, items, "test", scheduler=scheduler) == [n * n for n in items]
    with pytest.raises(UserError, match="^item 2: broken$"):
        cluster_map(fails_on_two, items, "test", scheduler=scheduler)
    scheduler_file = tmp_path / "scheduler.json"       # a scheduler file names the cluster too
    scheduler_file.write_text(f'{{"address": "{scheduler}"}}')
    assert cluster_map(abs, [-1, -2], "test", scheduler=str(scheduler_file)) == [1, 2]


def test_the_data_stages_params_say_where_they_run_and_reject_what_cannot_be():
    for section in (Merge, Prepare):
        assert section().workers == 1 and section().scheduler == ""
        with pytest.raises(ValueError, match="has its own workers"):
            section(workers=2, scheduler="tcp://h:8786")
        with pytest.raises(ValueError):
            section(workers=0)
    assert Fetch().local.workers == 1


def test_dvc_yaml_tracks_every_data_param_but_where_it_runs():
    """workers/scheduler do not change the files, so they are left out of the stages' params; every other key is
    in, so that no change of the data is missed."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    for stage, model, prefix in (("merge", Merge, "merge"), ("prepare", Prepare, "prepare"),
                                 ("fetch", Fetch, "fetch")):
        listed = set(stages[stage]["params"]) - {"seed"}
        keys = {f"{prefix}.{k}" for k in model.model_fields} - {f"{prefix}.workers", f"{prefix}.scheduler"}
        if stage == "fetch":
            keys = (keys - {"fetch.local"}) | {f"fetch.local.{k}" for k in Fetch.model_fields["local"].annotation
                                                .model_fields if k not in ("workers", "scheduler")}
        assert listed == keys, stage


def digest_outs(lock: Path) -> dict[str, str]:
    stages = yaml.safe_load(lock.read_text())["stages"]
    return {out["path"]: out["md5"] for spec in stages.values() for out in spec["outs"]}


def test_fetch_merge_prepare_on_two_workers_give_the_single_process_dvc_lock(tmp_path):
    from msrgan.data.simulator import simulate
    from msrgan.params import SyntheticSource

    user = tmp_path / "screen"            # a user's CYTO2017-layout folder (the simulator writes that layout)
    user.mkdir()
    simulate(SyntheticSource(n_fov=4, size=64, workers=1), 7, user)
    shutil.rmtree(user / "masks")
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copytree(REPO / "msrgan", repo / "msrgan", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (repo / "stages").mkdir()
    stages = ("fetch", "merge", "prepare")
    for stage in stages:
        shutil.copy(REPO / "stages" / f"{stage}.py", repo / "stages")
    pipeline = yaml.safe_load((REPO / "dvc.yaml").read_text())
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": {s: pipeline["stages"][s] for s in stages}}))
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["fetch"].update(source="local")
    params["fetch"]["local"].update(root=str(user), labels=str(user / "labels.csv"))
    params["prepare"]["hr_size"] = 32
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(repo, "git", "init", "-q")
    run(repo, DVC, "init", "-q")
    run(repo, DVC, "config", "core.analytics", "false")
    run(repo, DVC, "repro")
    single = digest_outs(repo / "dvc.lock")
    assert set(single) == {"data/raw", "data/merged", "data/processed"}

    params["fetch"]["local"]["workers"] = params["merge"]["workers"] = params["prepare"]["workers"] = 2
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert "Running stage" not in run(repo, DVC, "repro")     # where the work runs changes no file: nothing reruns
    output = run(repo, DVC, "repro", "--force")
    for stage in stages:
        assert f"Running stage '{stage}'" in output and f"{stage}: 4 " in output
    assert output.count("on 2 Dask worker(s)") == 3, output
    assert digest_outs(repo / "dvc.lock") == single
