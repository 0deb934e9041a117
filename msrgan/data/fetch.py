"""fetch: bring fields of view (4 stains each) and their labels into data/raw/, whatever fetch.source is.

The whole folder is written atomically and checked (scan_raw) before it replaces data/raw, so a failed fetch
leaves the previous data/raw (or none) and never a half-written one.
"""
from __future__ import annotations

import os
from pathlib import Path

from msrgan.atomic import atomic_dir
from msrgan.data.raw import RawFov, scan_raw
from msrgan.params import Fetch


def fetch(params: Fetch, seed: int, out: str | os.PathLike = "data/raw") -> list[RawFov]:
    """Fill `out` from params.source (synthetic, local or manifest); returns the FOVs written."""
    with atomic_dir(out) as tmp:
        if params.source == "synthetic":
            from msrgan.data.simulator import simulate   # lazily: the simulator pulls in more than the others

            simulate(params.synthetic, seed, tmp)
        elif params.source == "local":
            from msrgan.data.local import import_local

            import_local(params.local, tmp)
        else:
            from msrgan.data.manifest import fetch_manifest

            fetch_manifest(params.manifest, tmp)
        scan_raw(tmp, shown=out)   # the same checks merge makes, before the folder replaces data/raw
    fovs = scan_raw(out)
    with_masks = sum(f.masks is not None for f in fovs)
    masks = f", {with_masks} with masks" if with_masks else ""
    with_lr = sum(f.lr is not None for f in fovs)
    masks += f", {with_lr} with an LR acquisition" if with_lr else ""
    print(f"fetch: {len(fovs)} FOVs ({params.source}) in {Path(out)}{masks}")
    return fovs
