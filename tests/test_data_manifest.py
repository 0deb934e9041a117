"""fetch.source manifest: file:// and http downloads, sha256 checks, resume after a cut connection, no partials."""
from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from data_files import cyto_folder, run_stage, write_params

from msrgan.data.fetch import fetch
from msrgan.errors import UserError
from msrgan.params import parse_section


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MSRGAN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "downloads"


def manifest_for(src: Path, path: Path, url_of, corrupt: str = "") -> Path:
    """relpath,url,sha256 for a CYTO2017 folder laid out as data/raw (images/..., labels.csv)."""
    rows = ["relpath,url,sha256"]
    for file in sorted(src.iterdir()):
        relpath = "labels.csv" if file.suffix == ".csv" else f"images/{file.name}"
        sha = hashlib.sha256(file.read_bytes()).hexdigest()
        rows.append(f"{relpath},{url_of(file)},{'0' * 64 if file.name == corrupt else sha}")
    path.write_text("\n".join(rows) + "\n")
    return path


def params(manifest):
    return parse_section("fetch", {"source": "manifest", "manifest": {"path": str(manifest)}})


def test_file_urls(tmp_path):
    src = cyto_folder(tmp_path / "src", n=3)
    manifest = manifest_for(src, tmp_path / "m.csv", lambda f: f.as_uri())
    fovs = fetch(params(manifest), 0, tmp_path / "raw")
    assert [f.id for f in fovs] == ["100_B0_1", "101_B1_1", "102_B2_1"]
    for file in src.iterdir():
        target = tmp_path / "raw" / ("labels.csv" if file.suffix == ".csv" else f"images/{file.name}")
        assert target.read_bytes() == file.read_bytes()


def test_checksum_mismatch_through_the_stage_script(tmp_path, cache):
    src = cyto_folder(tmp_path / "src", n=2)
    manifest_for(src, tmp_path / "m.csv", lambda f: f.relative_to(tmp_path).as_posix(), corrupt="101_B1_1_green.tif")
    write_params(tmp_path, "fetch:\n  source: manifest\n  manifest:\n    path: m.csv\n")
    result = run_stage("fetch", tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("error: images/101_B1_1_green.tif: checksum mismatch for file://")
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())
    assert not list(cache.glob("*.part"))     # a wrong file is not kept for resuming


class Flaky(BaseHTTPRequestHandler):
    """Serves files with Range support; the first request for each file is cut after half the body."""
    root: Path
    cut: set[str]
    ranges: list[str]

    def do_GET(self):  # noqa: N802 - http.server's name
        data = (self.root / self.path.lstrip("/")).read_bytes()
        start = 0
        if self.headers.get("Range"):
            self.ranges.append(self.headers["Range"])
            start = int(self.headers["Range"].split("=")[1].rstrip("-"))
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        if self.path not in self.cut:
            self.cut.add(self.path)
            self.wfile.write(data[start:start + (len(data) - start) // 2])
            self.close_connection = True
            return
        self.wfile.write(data[start:])

    def log_message(self, *args):
        pass


def test_http_resume_after_cut_connection(tmp_path, cache):
    src = cyto_folder(tmp_path / "src", n=1)
    handler = type("H", (Flaky,), {"root": src, "cut": set(), "ranges": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        manifest = manifest_for(src, tmp_path / "m.csv", lambda f: f"http://127.0.0.1:{port}/{f.name}")
        out = tmp_path / "data" / "raw"
        with pytest.raises(UserError, match=r"images/100_B0_1_blue.tif: download failed from http://.*bytes kept"):
            fetch(params(manifest), 0, out)
        assert not out.exists() and not any(out.parent.iterdir())      # nothing partial in data/
        (part,) = cache.glob("*.part")
        assert part.stat().st_size == (src / "100_B0_1_blue.tif").stat().st_size // 2
        failures = 1
        while True:   # each run resumes the file cut last time, then the server cuts the next file once
            try:
                fovs = fetch(params(manifest), 0, out)
                break
            except UserError as exc:
                assert "download failed" in str(exc)
                failures += 1
                assert failures <= 5
        assert failures == 5 and [f.id for f in fovs] == ["100_B0_1"]
        files = sorted(src.iterdir())
        assert sorted(handler.ranges) == sorted(f"bytes={f.stat().st_size // 2}-" for f in files)
        for file in files:
            target = out / ("labels.csv" if file.suffix == ".csv" else f"images/{file.name}")
            assert target.read_bytes() == file.read_bytes()
    finally:
        server.shutdown()
        server.server_close()


def test_network_failure_is_one_clear_error(tmp_path):
    src = cyto_folder(tmp_path / "src", n=1)
    manifest = manifest_for(src, tmp_path / "m.csv", lambda f: f"http://127.0.0.1:9/{f.name}")   # discard port
    with pytest.raises(UserError, match=r"download failed from http://127.0.0.1:9/"):
        fetch(params(manifest), 0, tmp_path / "data" / "raw")
    assert not (tmp_path / "data" / "raw").exists()


@pytest.mark.parametrize("relpath", ["../outside.tif", "images/../../outside.tif", "/etc/passwd", "images\\a.tif"])
def test_a_relpath_that_leaves_data_raw_is_refused_before_any_download(tmp_path, relpath):
    src = cyto_folder(tmp_path / "src", n=1)
    manifest = manifest_for(src, tmp_path / "m.csv", lambda f: f.as_uri())
    rows = manifest.read_text().splitlines()
    sha = "0" * 64
    manifest.write_text("\n".join([*rows, f"{relpath},{(src / 'labels.csv').as_uri()},{sha}"]) + "\n")
    with pytest.raises(UserError, match=r"m\.csv:\d+: relpath .* must be a relative path inside data/raw"):
        fetch(params(manifest), 0, tmp_path / "raw")
    assert not (tmp_path / "raw").exists() and not (tmp_path / "outside.tif").exists()
