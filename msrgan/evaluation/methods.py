"""The study's methods, one entry each: evaluate upscales with them, segment segments their images, the report and its
figures show them, so adding a method is one line (a classical interpolation or a generator file)."""
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


def all_methods() -> tuple[Method, ...]:
    """METHODS, read at call time, so that the one entry above is all a new method needs (tests add one this way)."""
    return METHODS


def by_name(name: str) -> Method | None:
    return next((m for m in METHODS if m.name == name), None)


def label(name: str) -> str:
    """A method's or reference's name for people ('msrgan' -> 'mSRGAN'); unknown names as they are."""
    method = by_name(name)
    return method.label if method else REFERENCES.get(name, (name,))[0]


def colour(name: str) -> str:
    method = by_name(name)
    return method.colour if method else REFERENCES.get(name, (None, "#555555"))[1]
