"""Which outputs of an `msrgan upscale` call are complete, so that a call started again (after an interruption, a
crash, a lost cluster) redoes only the rest.

Every output is written under a temporary name (`.<name>.<random>.tmp`, msrgan.atomic) and renamed when complete,
so a half-written file never has its final name. On top of that, each finished input gets a line in the output
folder's journal, JOURNAL (JSON lines, appended): its output's path, the settings it was made with (SETTINGS: the
generator file's sha256 and every option that changes the output) and the sizes of the files it wrote, with the
input's size and modification time. An output counts as complete, and is skipped, only where its journal line
matches the settings, the input is unchanged, and every file it wrote is there with its size; so an output made
with another model or other options, an edited input, or a file replaced by hand is made again. `--overwrite`
redoes everything. A temporary file left behind by a killed run is removed when its output is redone.
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

JOURNAL = ".msrgan-upscale.jsonl"
# The options whose values change the output files (--quiet, --workers, --scheduler, --threads do not).
SETTINGS = ("channels", "device", "precision", "tile", "overlap", "batch", "compile", "consistency_map",
            "consistency_threshold")
FORMAT = 1   # raised when what an output holds changes for the same settings: older journal lines then redo


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def settings_key(args: argparse.Namespace, model_sha256: str) -> str:
    """A short digest of what an output depends on besides its input: the generator file's content and SETTINGS."""
    text = json.dumps({"format": FORMAT, "model": model_sha256, **{k: getattr(args, k) for k in SETTINGS}},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def input_stamp(path: Path) -> list[int]:
    """[size, mtime_ns] of an input file: a changed input is redone."""
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def remove_stale_temporaries(dest: Path) -> None:
    """Delete the temporary files that an interrupted run left for `dest` and the consistency files beside it
    (msrgan.atomic's `.<name>.<8 random characters>.tmp`): they never count as outputs, and they can be large."""
    names = [dest.name] + [f"{dest.name}.consistency.{ext}" for ext in ("png", "tif", "txt")]
    for name in names:
        for stale in dest.parent.glob(f".{glob.escape(name)}.{'?' * 8}.tmp"):
            stale.unlink(missing_ok=True)


@dataclass
class Journal:
    """The journal of the output folder `out` for the settings `key` (settings_key)."""
    out: Path
    key: str
    entries: dict[str, dict] = field(default_factory=dict)   # output path relative to out -> its latest line

    @classmethod
    def open(cls, out: Path, key: str) -> Journal:
        """The journal as far as it was written; a line cut short by an interruption, or not a journal line, is
        ignored (its output is then redone)."""
        journal = cls(out, key)
        path = out / JOURNAL
        if path.is_file():
            for line in path.read_text(errors="replace").splitlines():
                try:
                    entry = json.loads(line)
                    journal.entries[str(entry["output"])] = entry
                except (ValueError, KeyError, TypeError):
                    continue
        return journal

    def relative(self, dest: Path) -> str:
        return dest.relative_to(self.out).as_posix()

    def complete(self, src: Path, dest: Path) -> bool:
        """True when `dest`, the output of `src`, was finished with these settings from this very input and every
        file written for it is still there, at its size."""
        entry = self.entries.get(self.relative(dest))
        if entry is None or entry.get("settings") != self.key:
            return False
        try:
            if entry.get("input") != input_stamp(src):
                return False
            files = entry["files"]
            return bool(files) and all((self.out / name).stat().st_size == size for name, size in files.items())
        except (OSError, KeyError, TypeError, AttributeError):
            return False

    def record(self, dest: Path, stamp: list[int], files: dict[str, int]) -> None:
        """Append the line of a finished output: `dest`, its input's `stamp` (input_stamp) and the `files` written
        ({path relative to out: size})."""
        entry = {"output": self.relative(dest), "settings": self.key, "input": stamp, "files": files}
        self.entries[entry["output"]] = entry
        with open(self.out / JOURNAL, "a") as f:
            f.write(json.dumps(entry) + "\n")
