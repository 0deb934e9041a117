"""One self-describing file per trained network: its kind, architecture config, weights and free-form metadata."""
from __future__ import annotations

import os
import warnings
from dataclasses import asdict
from typing import Callable, TypeVar

import torch
from torch import nn

from msrgan.atomic import atomic_path
from msrgan.errors import fail
from msrgan.runtime import unwrap

M = TypeVar("M", bound=nn.Module)


def save_model(path: str | os.PathLike, kind: str, model: nn.Module, arch: str | None = None, **meta) -> None:
    """Write `model` (its dataclass `config` and CPU weights) atomically, tagged with `kind`, and with `arch` (the
    name of its architecture, for kinds that have several) where given."""
    model = unwrap(model)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    blob = {"kind": f"msrgan-{kind}", "config": asdict(model.config), "state_dict": state, "meta": meta}
    if arch is not None:
        blob["arch"] = arch
    with atomic_path(path) as tmp:
        torch.save(blob, tmp)


def load_model(path: str | os.PathLike, kind: str, build: Callable[[dict, str | None], M], what: str,
               device: str | torch.device = "cpu") -> tuple[M, dict]:
    """(network built by `build` from the file's config and `arch` (None where the file has none), in eval mode on
    `device`, its metadata).
    A missing, unreadable, other-kind or damaged file (its config, weights or metadata not what the network needs)
    is a UserError naming it; `what` names the network for people."""
    if os.path.isdir(path):
        fail(f"{path}: a folder, not a {what} file")
    if not os.path.isfile(path):
        fail(f"{path}: {what} file not found")
    try:
        with warnings.catch_warnings():   # torch's note on old pickle protocols: the verdict below says enough
            warnings.simplefilter("ignore")
            blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means this is not one of our files
        fail(f"{path}: not a readable {what} file ({type(exc).__name__})")
    if not isinstance(blob, dict) or blob.get("kind") != f"msrgan-{kind}":
        fail(f"{path}: not an mSRGAN {what} file")
    try:
        model = build(blob["config"], blob.get("arch"))
        model.load_state_dict(blob["state_dict"])
        meta = dict(blob.get("meta") or {})
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        fail(f"{path}: a damaged {what} file: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
    return model.to(device).eval(), meta
