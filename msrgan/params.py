"""Typed params.yaml: every section is a pydantic model that rejects unknown or ill-typed keys by name."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from msrgan.errors import fail


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False, frozen=True)


# ---------------------------------------------------------------- fetch
class SyntheticSource(Section):
    n_fov: int = Field(240, ge=1)
    size: int = Field(512, ge=64)          # FOV side in pixels at native resolution


class LocalSource(Section):
    root: str = ""
    labels: str = ""                        # labels CSV (id,labels); empty: look for one in root
    layout: Literal["auto", "cyto2017", "kaggle", "merged"] = "auto"


class ManifestSource(Section):
    path: str = ""                          # CSV of relpath,url,sha256


class Fetch(Section):
    source: Literal["synthetic", "local", "manifest"] = "synthetic"
    synthetic: SyntheticSource = SyntheticSource()
    local: LocalSource = LocalSource()
    manifest: ManifestSource = ManifestSource()


# ---------------------------------------------------------------- merge
Colour = Literal["red", "green", "blue", "yellow"]


class Merge(Section):
    rgb: tuple[Colour, Colour, Colour] = ("red", "green", "blue")   # which stain goes to R, G, B
    percentiles: tuple[float, float] = (0.1, 99.9)                    # 16-bit -> 8-bit normalisation
    sample_pixels: int = Field(262144, ge=1024)                       # subsample for the percentiles


# ---------------------------------------------------------------- prepare
class Split(Section):
    val: float = Field(0.1, ge=0, lt=1)
    test: float = Field(0.15, ge=0, lt=1)


class Prepare(Section):
    mode: Literal["resize", "tiles"] = "resize"
    hr_size: int = Field(96, ge=8)
    scale: int = Field(4, ge=2)
    hr_interpolation: Literal["cubic", "area"] = "cubic"
    tile_min_foreground: float = Field(0.05, ge=0, le=1)   # tiles mode: skip tiles with less signal than this
    split: Split = Split()


def load_params(path: str | Path = "params.yaml") -> dict:
    """The raw params.yaml as a dict; a missing or unparsable file is a UserError."""
    path = Path(path)
    if not path.is_file():
        fail(f"{path}: params file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        fail(f"{path}: not valid YAML ({str(exc).splitlines()[0]})")
    if not isinstance(data, dict):
        fail(f"{path}: expected a mapping of sections")
    return data


SECTIONS: dict[str, type[Section]] = {
    "fetch": Fetch,
    "merge": Merge,
    "prepare": Prepare,
}


def section(name: str, path: str | Path = "params.yaml") -> tuple[int, Section]:
    """(seed, typed section `name`) from params.yaml; an unknown or ill-typed key is a UserError naming it."""
    data = load_params(path)
    unknown = sorted(set(data) - set(SECTIONS) - {"seed"})
    if unknown:
        fail(f"{path}: unknown section '{unknown[0]}' (known: seed, {', '.join(SECTIONS)})")
    seed = data.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        fail(f"{path}: seed: expected an integer, got {seed!r}")
    return seed, parse_section(name, data.get(name) or {}, path)


def parse_section(name: str, values: dict, path: str | Path = "params.yaml") -> Section:
    try:
        return SECTIONS[name].model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join([name, *(str(p) for p in err["loc"])])
        got = f" (got {err['input']!r})" if err["type"] != "extra_forbidden" and "input" in err else ""
        message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        fail(f"{path}: {key}: {message}{got}")
