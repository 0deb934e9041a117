"""The package's README.md: what the model is for and not for, how it was trained, how well it did, how to run it."""
from __future__ import annotations

import os
from pathlib import Path

from msrgan.data.processed import INDEX, image_path, read_domain, read_index
from msrgan.errors import fail
from msrgan.evaluation.methods import label, methods_in
from msrgan.imageio import image_size
from msrgan.tiffmeta import microns

COLUMNS = {"psnr": "PSNR (dB)", "ssim": "SSIM", "lr_psnr": "LR consistency (dB)"}


def training_domain(processed: str | os.PathLike) -> str:
    """One sentence on the training images in `processed` (data/processed): how many, their size, whole fields
    or tiles; a sentence saying it is unknown when there is no index."""
    if not (Path(processed) / INDEX).is_file():
        return "not recorded (the export did not see the training data)."
    train = read_index(processed, "train")
    if not train:
        return "not recorded (no training split in the index)."
    height, width = image_size(image_path(processed, "train", "hr", train[0]["id"]))
    domain = read_domain(processed)
    if domain.get("mode") == "tiles":
        return (f"{len(train)} training fields at native resolution ({width} x {height} px HR), trained on random "
                f"crops of them ({domain['hr_size']} x {domain['hr_size']} px, the tile size, unless the trainer set "
                f"another crop).")
    return f"{len(train)} training images, whole fields shrunk to {width} x {height} px (HR)."


def evaluation_table(evaluation: dict, source: str = "metrics/evaluate.json") -> str:
    """metrics/evaluate.json as a markdown table (the rows it has), with the LR-consistency warning where it
    applies; '' when there is nothing to show. UserError naming `source` and the key for a value that is no
    number."""
    if not isinstance(evaluation, dict):
        fail(f"{source}: expected an object of methods")
    rows = [m.name for m in methods_in(evaluation) if m.in_figures]
    if not rows:
        return ""
    lines = ["| | " + " | ".join(COLUMNS.values()) + " |", "|---|" + "---:|" * len(COLUMNS)]
    for m in rows:
        entry = evaluation[m]
        if not isinstance(entry, dict):
            fail(f"{source}: {m}: expected an object of metrics")
        cells = []
        for k in COLUMNS:
            value = entry.get(k)
            if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)):
                fail(f"{source}: {m}.{k}: not a number ({value!r})")
            cells.append("" if value is None else f"{value:.3f}" if k == "ssim" else f"{value:.2f}")
        lines.append(f"| {label(m)} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    lr = {m: evaluation[m].get("lr_psnr") for m in rows}
    if lr.get("msrgan") is not None and lr.get("bicubic") is not None and lr["msrgan"] < lr["bicubic"] - 1.0:
        text += ("\nLR consistency is the SR image downscaled again exactly as the LR input was made, compared with "
                 "that input. mSRGAN's is lower than bicubic's: part of the detail the GAN adds is not supported by "
                 "the measurement, so do not trust fine structure in its output on its own.\n")
    return text


def degradation(meta: dict) -> str:
    """How the training LR images were made, in words, from the generator file's recorded `domain`."""
    domain = meta.get("domain") or {}
    if domain.get("degradation") == "microscope":
        m = domain["microscope"]
        return (f"Their LR made as a lower-resolution microscope would record them (extra PSF sigma "
                f"{m['psf_sigma']:g} HR px, {domain['scale']}x{domain['scale']} binning, {m['photons']:g} photons "
                f"per LR pixel at full scale, read noise {m['read_noise']:g} photons).")
    if domain.get("degradation") == "bicubic":
        return "Their LR made by bicubic decimation (OpenCV, no antialiasing), as the original mSRGAN did."
    return "How their LR was made is not recorded in the generator file."


def pixel_size(meta: dict) -> str:
    """One sentence on the physical size of the training pixels (the generator file's `domain` pixel_size_um, HR
    [x, y] µm), with a leading space; '' where it is not recorded."""
    domain = meta.get("domain") or {}
    hr = domain.get("pixel_size_um")
    if not hr or "scale" not in domain:
        return ""
    hr = (hr, hr) if isinstance(hr, (int, float)) else hr
    lr = [float(v) * domain["scale"] for v in hr]
    return (f" Its training HR pixels were {microns(hr)} and the LR inputs' {microns(lr)}: inputs with pixels near "
            f"{microns(lr)} show cells at the scale it learned.")


def documentation(name: str, kind: str, meta: dict, domain: str, evaluation: dict, radius: int, min_size: int,
                  sample_source: str, percentiles: tuple[float, float], scale: int, architecture: str,
                  global_attention: bool = False) -> str:
    """Markdown for the package. `kind`: 'mSRGAN', 'SRResNet' or a baseline's name; `meta`: the generator file's
    metadata; `domain`: one sentence on the training data; `evaluation`: metrics/evaluate.json ({} if not known);
    `architecture`: the network in words (msrgan.models.architectures' name and summary); `global_attention`: its
    channel attention averages over the whole input (RCAN, DFCAN), which the halo does not cover."""
    selected = meta.get("selected_iteration")
    low, high = (f"{p:g}" for p in percentiles)
    table = evaluation_table(evaluation)
    attention = ("\n  Its channel attention averages over the whole input, beyond any halo: blocks predicted on "
                 "their own differ a\n  little from the whole field (a few tenths of an 8-bit level in the project's "
                 "tests)." if global_attention else "")
    return f"""# {name}

{scale}x super-resolution of high-content-screening confocal fluorescence images (Human Protein Atlas style: microtubules,
protein of interest, nucleus): the {kind} generator of a reproduction of mSRGAN (Gawande 2018, an SRGAN for
high-content screening), exported by `python -m msrgan export`.

## What it is for, and not for

- For: upscaling 3-channel fields (microtubules, protein, nucleus, in that channel order) four times, to look at
  them or to segment them ({kind}: {"a GAN trained for perceptual quality" if kind == "mSRGAN" else "the generator trained with pixel MSE alone"}).
- Training domain: {domain} {degradation(meta)}{pixel_size(meta)} A field far larger than the training images,
  with cells many times wider than there, is outside it: the network has not seen cells at that scale, and says nothing about them.
- Not for: measurements of structure below the LR pixel size. What the network adds is a prediction from training
  data, not a measurement; {"mSRGAN invents texture (see LR consistency below)." if kind == "mSRGAN" else "check it against the LR input."}

## Training

{kind} generator ({architecture}),
selected at iteration {selected if selected is not None else "?"}. Content loss of mSRGAN from
miniVGG19, a small VGG19 trained from scratch on the 13 protein-localisation classes. Intensities: each 16-bit stain
was mapped to [0, 1] by its field's own {low}-{high} percentile window (the merge stage), as this package's
preprocessing does.

## Evaluation (held-out test split, RGB, data range 255)

{table or "Not evaluated (no metrics/evaluate.json was given to the export)."}

## Input and output

- `input`: batch, channel (microtubules, protein, nucleus), y, x. Any intensities (8- or 16-bit fields are cast to
  float32); any size from {min_size} px up (twice the halo and one). Preprocessing: per image and channel, the {low}-{high}
  percentile window to [0, 1], clipped.
- `output`: {scale}x the input's y and x, **in the input's window units**: 0 is the input channel's {low}th percentile,
  1 its {high}th. BioImage.IO format 0.5 has no inverse of a per-image percentile window, so to get intensities in
  the input's units multiply each channel by (p{high} - p{low}) of the input and add p{low}, or use
  `python -m msrgan upscale`, which does this and also restores the tails the window clips (the pixels below
  p{low} and above p{high}). On a 16-bit field the two agree to within rounding everywhere else when the package
  runs on the whole field as bioimageio.core's model test runs it (tested). Consumers that pad the field first
  shift the window a little (bioimageio.core's `predict` pads by the halo, mirrored, before taking the
  percentiles: up to 0.03 window units measured) and change the outer band of one halo (mirrored instead of
  zero padding: up to 0.2 there); on fields of over 262,144 pixels `msrgan upscale` takes the percentiles from a
  seeded sample of that many pixels, within sampling noise of this package's. An 8-bit field goes through the
  same window here, but through x/255 in `msrgan upscale`, so for 8-bit data the two differ.
- Halo: {radius * scale} output pixels ({radius} input pixels, the generator's receptive-field radius): tiles that keep
  this much context join without seams.{attention}

## Test tensors

`test_input.npy` is {sample_source}, shrunk whole to {min_size * scale} px and bicubic-decimated to
{min_size} px as the pipeline makes its LR images; `test_output.npy` is this package's output on it.
The cover shows LR | bicubic | SR | HR.
"""
