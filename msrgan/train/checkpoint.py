"""Periodic training checkpoints: one file per stage, written atomically, resumed only when compatible.

A checkpoint carries a hash of everything that defines the run (the stage's params, the seed, the data, the input
models, the world size); a run whose hash differs starts fresh instead of resuming something incompatible.
"""
from __future__ import annotations

import ast
import hashlib
import json
import os
from pathlib import Path

import torch

from msrgan.atomic import atomic_path
from msrgan.codebase import ROOT, import_closure, module_file
from msrgan.runtime import unwrap

FILE = "checkpoint.pt"


def code_fingerprint(module: str) -> str:
    """A hash of the code the trainer `module` (a dotted name, e.g. 'msrgan.train.srgan') runs: its import closure,
    each file as parsed (comments and layout do not count). Changed code starts fresh; code it does not import does
    not matter."""
    h = hashlib.sha256()
    for file in sorted(import_closure(module_file(module))):
        h.update(file.encode() + ast.dump(ast.parse((ROOT / file).read_text())).encode())
    return h.hexdigest()[:16]


def run_hash(trainer: str, **parts) -> str:
    """A short stable hash of JSON-able parts (pydantic models are dumped first, without `workers`: how many
    processes read the data does not change a batch, so it must not void a checkpoint) and of the code of `trainer`."""
    def plain(v):
        return v.model_dump(mode="json", exclude={"workers"}) if hasattr(v, "model_dump") else v
    parts = {**parts, "code": code_fingerprint(trainer)}
    text = json.dumps({k: plain(v) for k, v in parts.items()}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def weights_digest(model: torch.nn.Module) -> str:
    """A hash of a model's parameters (not BN buffers, which each DDP rank updates on its own last batch)."""
    h = hashlib.sha256()
    for name, p in unwrap(model).named_parameters():
        h.update(name.encode() + p.detach().float().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def state_digest(model: torch.nn.Module) -> str:
    """A hash of everything a model computes with (parameters and buffers), whatever file it came from."""
    h = hashlib.sha256()
    for name, t in unwrap(model).state_dict().items():
        h.update(name.encode() + t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def save_checkpoint(directory: str | os.PathLike, state: dict) -> Path:
    path = Path(directory) / FILE
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return path


def load_checkpoint(directory: str | os.PathLike, expected_hash: str) -> dict | None:
    """The saved state when it exists and belongs to this run (same hash); None means start fresh."""
    path = Path(directory) / FILE
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception:  # noqa: BLE001 - a damaged checkpoint is not worth dying for: start over
        return None
    if not isinstance(state, dict) or state.get("hash") != expected_hash:
        return None
    return state
