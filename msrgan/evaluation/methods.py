"""The study's methods, one entry each: evaluate upscales with them, segment segments their images, the report and its
figures show them, so adding a method is one line (a classical interpolation or a generator file). The same-budget
baselines (params.yaml's baselines and baseline_gans, issue 21) join them by name: evaluate takes their names from
params.yaml, every later stage from what evaluate wrote (methods_in)."""
from __future__ import annotations

from dataclasses import dataclass

import cv2


@dataclass(frozen=True)
class Method:
    """One upscaling method under study: a classical interpolation (`interpolation`, an OpenCV flag) or a trained
    generator (`model`, its file in data/models, run through the same Upscaler as `msrgan upscale`)."""
    name: str                      # key in evaluate.json, segment.json and the per-image tables
    label: str                     # for people: tables, figures
    colour: str                    # in every figure
    interpolation: int | None = None
    model: str | None = None
    in_figures: bool = True        # a column of the figures and a method of the segmentation study (False: image
                                   #   metrics only, as for Lanczos, a second interpolation baseline)


METHODS: tuple[Method, ...] = (
    Method("bicubic", "Bicubic", "#8c8c8c", interpolation=cv2.INTER_CUBIC),
    Method("lanczos", "Lanczos", "#b8a07a", interpolation=cv2.INTER_LANCZOS4, in_figures=False),
    Method("srresnet", "SRResNet", "#1f77b4", model="srresnet.pt"),
    Method("msrgan", "mSRGAN", "#d62728", model="generator.pt"),
)
# images that are not a method's output but stand beside them
REFERENCES = {"lr": ("LR input", "#444444"), "hr": ("HR (truth)", "#2ca02c"), "truth": ("True masks", "#000000")}

# The study's paired comparisons (method, baseline), in the order its tables show them.
COMPARISONS = (("msrgan", "bicubic"), ("msrgan", "srresnet"), ("srresnet", "bicubic"))

# the baselines' names for people and colours, for the names params.yaml gives them by default; another name is
# shown as it is, in a colour of PALETTE
BASELINE_STYLE = {"srcnn": ("SRCNN", "#9467bd"), "care": ("CARE", "#17becf"), "rcan": ("RCAN", "#ff7f0e"),
                  "dfcan": ("DFCAN", "#8c564b"), "rrdb": ("RRDB (PSNR)", "#e377c2"), "esrgan": ("ESRGAN", "#bcbd22")}
PALETTE = ("#7f7f7f", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2")
BASELINES_FOLDER = "baselines"   # their generator files: data/models/baselines/<name>.pt


def baseline_method(name: str) -> Method:
    """The method of the baseline `name` (its generator file data/models/baselines/<name>.pt); a name without a
    style gets a PALETTE colour chosen by its letters, the same in every figure."""
    label, colour = BASELINE_STYLE.get(name, (name, PALETTE[sum(map(ord, name)) % len(PALETTE)]))
    return Method(name, label, colour, model=f"{BASELINES_FOLDER}/{name}.pt")


def all_methods(baselines=()) -> tuple[Method, ...]:
    """METHODS (read at call time, so that the one entry above is all a new method needs: tests add one this way),
    then the baselines named in `baselines`, in their order."""
    return METHODS + tuple(baseline_method(name) for name in baselines)


def methods_in(names) -> tuple[Method, ...]:
    """The methods among `names` (an evaluation's keys, data/sr's folders), in the study's order: METHODS, then
    every other name as a baseline (references such as 'hr' are not methods)."""
    names = list(names)
    own = {m.name for m in METHODS}
    return tuple(m for m in all_methods([n for n in names if n not in own and n not in REFERENCES])
                 if m.name in names)


def comparisons(methods) -> tuple[tuple[str, str], ...]:
    """COMPARISONS among `methods` (Method entries), then each baseline against mSRGAN and the SRResNet."""
    names = {m.name for m in methods}
    own = {m.name for m in METHODS}
    pairs = [p for p in COMPARISONS if set(p) <= names]
    for m in methods:
        if m.name not in own:
            pairs += [(lead, m.name) for lead in ("msrgan", "srresnet") if lead in names]
    return tuple(pairs)


def by_name(name: str) -> Method | None:
    method = next((m for m in METHODS if m.name == name), None)
    return method or (baseline_method(name) if name not in REFERENCES else None)


def label(name: str) -> str:
    """A method's or reference's name for people ('msrgan' -> 'mSRGAN'); unknown names as they are."""
    method = by_name(name)
    return method.label if method else REFERENCES.get(name, (name,))[0]


def colour(name: str) -> str:
    method = by_name(name)
    return method.colour if method else REFERENCES.get(name, (None, "#555555"))[1]
