"""fetch.source: manifest - download the files of a CSV `relpath,url,sha256` into the data/raw layout.

relpath is where the file goes under data/raw (images/<id>_<colour>.<ext>, labels.csv, masks/...); url is http(s),
file:// or a path relative to the manifest. Downloads go through a cache outside data/ ($MSRGAN_CACHE, else
$XDG_CACHE_HOME/msrgan, else ~/.cache/msrgan) as downloads/<sha256>.part, continued with a Range request after an
interruption; a file enters data/raw only once its sha256 matches, so a failure leaves no partial file there.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from msrgan.data.raw import link_or_copy, read_csv_rows
from msrgan.errors import fail
from msrgan.params import ManifestSource

CHUNK = 1 << 20
TIMEOUT_S = 60
SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Entry:
    relpath: str
    url: str
    sha256: str


def read_manifest(path: Path) -> list[Entry]:
    rows = read_csv_rows(path)
    header = [h.strip().lower() for h in rows[0]]
    if header[:3] != ["relpath", "url", "sha256"]:
        fail(f"{path}: expected the header 'relpath,url,sha256', got '{','.join(rows[0])}'")
    entries, seen = [], set()
    for line, row in enumerate(rows[1:], start=2):
        where = f"{path}:{line}"
        if len(row) < 3:
            fail(f"{where}: expected relpath,url,sha256")
        relpath, url, sha = (cell.strip() for cell in row[:3])
        rel = PurePosixPath(relpath)
        if not relpath or rel.is_absolute() or ".." in rel.parts or "\\" in relpath:
            fail(f"{where}: relpath '{relpath}' must be a relative path inside data/raw")
        if relpath in seen:
            fail(f"{where}: relpath '{relpath}' appears twice")
        if not SHA256.match(sha.lower()):
            fail(f"{where}: sha256 '{sha}' is not 64 hex digits")
        seen.add(relpath)
        entries.append(Entry(str(rel), _absolute_url(url, path.parent), sha.lower()))
    if not entries:
        fail(f"{path}: no entries")
    return entries


def _absolute_url(url: str, base: Path) -> str:
    """http(s) and file:// as they are; a bare path is relative to the manifest's folder."""
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme in ("http", "https", "file"):
        return url
    if scheme and len(scheme) > 1:
        fail(f"{url}: unsupported URL scheme '{scheme}' (http, https or file)")
    return (base / url).resolve().as_uri()


def cache_dir() -> Path:
    if os.environ.get("MSRGAN_CACHE"):
        return Path(os.environ["MSRGAN_CACHE"]) / "downloads"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "msrgan" / "downloads"


def fetch_manifest(params: ManifestSource, out: Path) -> None:
    """Download and verify every entry of the manifest into the empty dir `out`."""
    if not params.path:
        fail("params.yaml: fetch.manifest.path: empty; set it to a CSV of relpath,url,sha256 "
             "(fetch.source is manifest)")
    path = Path(params.path).expanduser()
    if not path.is_file():
        fail(f"{path}: manifest not found (fetch.manifest.path)")
    entries = read_manifest(path)
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    for entry in tqdm(entries, desc="fetch", unit="file", disable=None):
        done = download(entry, cache)
        target = out / entry.relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        link_or_copy(done, target)


def download(entry: Entry, cache: Path) -> Path:
    """The verified file in the cache (downloaded, or continued from its .part file)."""
    done = cache / entry.sha256
    if done.is_file() and sha256_of(done) == entry.sha256:
        return done
    part = cache / f"{entry.sha256}.part"
    try:
        _download_to(entry.url, part)
    except (urllib.error.URLError, HTTPException, OSError, socket.timeout) as exc:
        reason = getattr(exc, "reason", None) or exc
        kept = f"; {part.stat().st_size} bytes kept to resume" if part.exists() and part.stat().st_size else ""
        fail(f"{entry.relpath}: download failed from {entry.url} ({reason}){kept}")
    got = sha256_of(part)
    if got != entry.sha256:
        part.unlink()   # a wrong file cannot be continued: start afresh next time
        fail(f"{entry.relpath}: checksum mismatch for {entry.url} (expected sha256 {entry.sha256}, got {got})")
    os.replace(part, done)
    return done


def _download_to(url: str, part: Path) -> None:
    """Append the rest of `url` to `part` (Range request from its size); start over if the server ignores Range."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "msrgan-fetch"})
    if have and not url.lower().startswith("file:"):
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        if exc.code != 416:        # 416: nothing left to send; the checksum decides whether the file is whole
            raise urllib.error.URLError(f"HTTP {exc.code} {exc.reason}") from None
        return
    with response:
        resumed = have and getattr(response, "status", 200) == 206
        with open(part, "ab" if resumed else "wb") as f:
            shutil.copyfileobj(response, f, CHUNK)
        length = response.headers.get("Content-Length")
        if length is not None and not url.lower().startswith("file:"):
            expected = (have if resumed else 0) + int(length)
            if part.stat().st_size < expected:
                raise urllib.error.URLError(f"connection closed after {part.stat().st_size} of {expected} bytes")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()
