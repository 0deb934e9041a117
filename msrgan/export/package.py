"""Build, test and write a BioImage.IO model package (format 0.5) of a trained generator, with bioimageio.spec.

What goes in: the generator with BatchNorm folded into its convolutions, as `pytorch_state_dict` weights with its
architecture's module as the architecture source (msrgan/models/generator.py for the SRResNet, or a baseline's
module of msrgan/models/architectures.py: each imports nothing but torch) and as TorchScript traced from those
weights by bioimageio.core; axes batch, channel (microtubules, protein, nucleus), y, x, the output's y and x
four times the input's, a halo of the generator's receptive field so blockwise prediction has no seams; test tensors
from a real field; a cover; the documentation.

Intensities. `msrgan upscale` maps a 16-bit field to [0, 1] with its own per-channel percentile window (the
percentiles the generator file records: merge's, 0.1 and 99.9 by default), runs the generator, and maps the result
back through the inverse of that window. The package's preprocessing is the same window (`scale_range`, per sample
and channel, then `clip` to [0, 1]), which consumers compute over the whole image before any tiling. Its output
stays in those window units (0 = the field's low percentile, 1 = its high one, per channel, float32): format 0.5 has
no inverse of a per-sample `scale_range`, and
its nearest step back, `scale_mean_variance` against the input, does not run in bioimageio.core 0.11 (it computes
the output's statistics before the prediction exists) and would change contrast by 0.4-28% where it did. The
documentation says how to map back; tests/test_export.py holds the package to `msrgan upscale` in window units.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from pydantic import ValidationError
from torch import nn

from msrgan.atomic import atomic_dir, atomic_path
from msrgan.errors import fail
from msrgan.export.documentation import documentation
from msrgan.export.sample import Sample, cover, shrink
from msrgan.imageio import write_png
from msrgan.models.architectures import Architecture, architecture, load_any_generator
from msrgan.params import check_authors
from msrgan.upscale.inference import fold_batchnorm
from msrgan.upscale.intensity import intensity_window, window_percentiles

CHANNELS = ("microtubules", "protein", "nucleus")
STEP = 1                    # input sizes min + n * STEP: the network takes any size, and so do its users' fields


@dataclass(frozen=True)
class Description:
    """The words of a package: what people read in Fiji's or napari's model browser."""
    name: str
    description: str
    authors: tuple[str, ...]
    license: str               # SPDX id
    documentation: str         # markdown


def min_input(radius: int) -> int:
    """Smallest input side whose output outlasts the halo (`radius` input pixels) on both sides."""
    return 2 * radius + 1


def folded_generator(generator: nn.Module) -> tuple[nn.Module, dict]:
    """(the generator with BatchNorm folded into its convolutions, the architecture kwargs that rebuild it): a
    folded BatchNorm leaves an Identity where the SRResNet's norm="none" has one, so the folded weights load into
    that network. A network without BatchNorm (every baseline) is its own folded network."""
    if not any(isinstance(m, nn.BatchNorm2d) for m in generator.modules()):
        return generator.eval(), asdict(generator.config)
    config = replace(generator.config, norm="none")
    folded = architecture(generator.arch).module.build(**asdict(config))
    folded.load_state_dict(fold_batchnorm(generator).state_dict())
    return folded.eval(), asdict(config)


def _spec():
    """bioimageio.spec's v0.5 model classes (imported on first use: bioimageio takes two seconds to import)."""
    from bioimageio.spec.model import v0_5
    return v0_5


def tensors(spec, radius: int, scale: int, percentiles: tuple[float, float], test_input: Path, test_output: Path):
    """(input, output) tensor descriptions: axes, sizes, halo, data types and the intensity processing."""
    channel = spec.ChannelAxis(channel_names=[spec.Identifier(c) for c in CHANNELS])
    space_in = [spec.SpaceInputAxis(id=spec.AxisId(a), size=spec.ParameterizedSize(min=min_input(radius), step=STEP))
                for a in ("y", "x")]
    # `data` is what the network gets and gives: float32 (a spec 0.5 consumer casts an integer field first)
    data = spec.IntervalOrRatioDataDescr(type="float32", range=(0.0, None))   # any intensities, 8- or 16-bit
    unit = spec.IntervalOrRatioDataDescr(type="float32", range=(0.0, 1.0))
    image_axes = [spec.AxisId("y"), spec.AxisId("x")]
    source = spec.InputTensorDescr(
        id=spec.TensorId("input"), axes=[spec.BatchAxis(), channel, *space_in], data=data,
        description="LR field, stains in the generator's channel order (microtubules, protein, nucleus)",
        test_tensor=spec.FileDescr(source=test_input),
        preprocessing=[
            spec.EnsureDtypeDescr(kwargs=spec.EnsureDtypeKwargs(dtype="float32")),
            spec.ScaleRangeDescr(kwargs=spec.ScaleRangeKwargs(
                axes=image_axes, min_percentile=percentiles[0], max_percentile=percentiles[1])),
            spec.ClipDescr(kwargs=spec.ClipKwargs(min=0.0, max=1.0)),
        ])
    space_out = [spec.SpaceOutputAxisWithHalo(
        id=spec.AxisId(a), size=spec.SizeReference(tensor_id=spec.TensorId("input"), axis_id=spec.AxisId(a)),
        scale=1 / scale, halo=radius * scale) for a in ("y", "x")]
    result = spec.OutputTensorDescr(
        id=spec.TensorId("output"), axes=[spec.BatchAxis(), channel, *space_out], data=unit,
        description=f"SR field, {scale}x the input's size, in the input's window units (0: its "
                    f"{percentiles[0]:g}th, 1: its {percentiles[1]:g}th percentile, per channel)",
        test_tensor=spec.FileDescr(source=test_output),
        postprocessing=[spec.ClipDescr(kwargs=spec.ClipKwargs(min=0.0, max=1.0))])   # as msrgan upscale clips
    return source, result


def model_descr(spec, work: Path, words: Description, entry: Architecture, config: dict, radius: int, scale: int,
                percentiles: tuple[float, float], parameters: int, torchscript: bool):
    """The ModelDescr of the files in `work` (weights.pt, the architecture `entry`'s module, test tensors, cover.png,
    README.md)."""
    source, result = tensors(spec, radius, scale, percentiles, work / "test_input.npy", work / "test_output.npy")
    state_dict = spec.PytorchStateDictWeightsDescr(
        source=work / "weights.pt", pytorch_version=spec.Version(torch.__version__.split("+")[0]),
        architecture=spec.ArchitectureFromFileDescr(source=work / source_name(entry), callable="build",
                                                  kwargs=config))
    weights = {"pytorch_state_dict": state_dict}
    if torchscript:
        weights["torchscript"] = spec.TorchscriptWeightsDescr(
            source=work / "weights.torchscript.pt", pytorch_version=spec.Version(torch.__version__.split("+")[0]),
            parent="pytorch_state_dict", comment="torch.jit.trace of the pytorch_state_dict network")
    return spec.ModelDescr(
        name=words.name, description=words.description,
        authors=[spec.Author(name=name) for name in words.authors],
        cite=[spec.CiteEntry(text="Gawande S. (2018) Generative adversarial networks for single image super "
                                  "resolution in microscopy images (mSRGAN). Master's thesis, KTH Royal Institute of "
                                  "Technology, TRITA-EECS-EX-2018:10",
                             url="https://github.com/Saurabh23/mSRGAN-A-GAN-for-single-image-super-resolution-on-"
                                 "high-content-screening-microscopy-images."),
              spec.CiteEntry(text=entry.paper, doi=entry.doi)],
        license=words.license, documentation=spec.FileDescr(source=work / "README.md"),
        covers=[spec.FileDescr(source=work / "cover.png")],
        tags=["super-resolution", "fluorescence-light-microscopy", "2d", "pytorch", "human-protein-atlas",
              "high-content-screening", "gan"],
        inputs=[source], outputs=[result], weights=spec.WeightsDescr(**weights),
        config=spec.Config(bioimageio=spec.BioimageioConfig(
            # the two weight formats run the same fp32 network: float rounding only
            reproducibility_tolerance=[spec.ReproducibilityTolerance(absolute_tolerance=1e-4, relative_tolerance=0.0,
                                                                     mismatched_elements_per_million=0)],
            architecture_type=entry.name, modality="fluorescence light microscopy", task="super-resolution",
            target_structure=list(CHANNELS), model_parameter_count=parameters,
            # what the model zoo assigns on upload; Java consumers (deepImageJ/JDLL) have been seen to need them
            nickname=words.name.lower().replace(" ", "-"), nickname_icon="\N{MICROSCOPE}")))


def source_name(entry: Architecture) -> str:
    """The architecture source's file name in the package: its module's (generator.py for the SRResNet)."""
    return Path(entry.module.__file__).name


def write_files(work: Path, folded: nn.Module, entry: Architecture, sample: Sample, documentation: str) -> None:
    """weights.pt, the architecture source, test_input.npy (1 x 3 x n x n float32 holding the sample's integer
    values) and README.md into `work`."""
    torch.save(folded.state_dict(), work / "weights.pt")
    shutil.copyfile(entry.module.__file__, work / source_name(entry))
    np.save(work / "test_input.npy", sample.lr.transpose(2, 0, 1)[None].astype(np.float32))   # integers, exact
    (work / "README.md").write_text(documentation)


def predict(spec_descr, lr: np.ndarray) -> np.ndarray:
    """The package's prediction on 1 x 3 x n x n as bioimageio.core's model test makes it: preprocessing, the
    network on the whole input (no halo padding, no cropping: the field's border is zero-padded by the
    convolutions, as in `msrgan upscale`), postprocessing. 1 x 3 x sn x sn float32."""
    from bioimageio.core import create_prediction_pipeline
    from bioimageio.core.sample import Sample as CoreSample
    from bioimageio.core.tensor import Tensor
    sample = CoreSample(members={"input": Tensor.from_numpy(lr, dims=("batch", "channel", "y", "x"))}, stat={},
                        id="sample")
    with create_prediction_pipeline(bioimageio_model=spec_descr) as pipeline:
        pipeline.apply_preprocessing(sample)
        out = pipeline.predict_sample_without_blocking(sample, skip_preprocessing=True, skip_postprocessing=True,
                                                       skip_input_padding=True, skip_output_cropping=True)
        pipeline.apply_postprocessing(out)
    return np.asarray(out.members["output"].data)


def check_package(path: Path) -> None:
    """bioimageio.core's own model test of the package at `path`; UserError with its first failure."""
    from bioimageio.core import test_description
    summary = test_description(str(path), runtime_env="currently-active")
    if summary.status != "passed":
        failed = [d for d in summary.details if d.status == "failed"]
        detail = failed[0] if failed else None
        reason = f"{detail.name}: {detail.errors[0].msg if detail.errors else ''}" if detail else summary.status
        fail(f"{path}: bioimageio.core's model test failed ({reason})")


def check_output(out: Path, force: bool) -> None:
    """Before any work, a UserError if `out` cannot or must not be written: it exists (without `force`), or is an
    existing folder that is not a package (only a folder with an rdf.yaml is replaced), or the working folder or one
    above it, or its nearest existing parent is not a writable folder (nothing is created here)."""
    if out.exists():
        if not force:
            fail(f"{out}: exists (pass --force to replace it)")
        if out.is_dir() and (Path.cwd().resolve().is_relative_to(out.resolve()) or not (out / "rdf.yaml").is_file()):
            fail(f"{out}: an existing folder that is not a BioImage.IO package (or holds the working folder): "
                 f"not replaced, even with --force")
    parent = out.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        fail(f"{out}: {parent} is a file, not a folder")
    try:
        tempfile.TemporaryFile(dir=parent).close()
    except OSError as exc:
        fail(f"{out}: cannot write in {parent} ({exc.strerror or exc})")


def package_words(kind: str, scale: int, authors: Sequence[str], license: str, spec, documentation_text: str
                  ) -> Description:
    """The package's words for a `kind` (mSRGAN or SRResNet) generator; UserError for a licence that is not a
    current SPDX id or authors that params.check_authors refuses."""
    try:
        spec.LicenseId(license)
    except ValidationError:
        fail(f"licence: {license!r} is not a current SPDX licence id (e.g. CC-BY-4.0, MIT, CC0-1.0, GPL-3.0-only)")
    try:
        authors = check_authors(authors)
    except ValueError as exc:
        fail(f"authors: {exc}, got {list(authors)}")
    return Description(
        name=f"{kind} HPA {scale}x super-resolution", authors=authors, license=license,
        description=f"{scale}x super-resolution of Human Protein Atlas style confocal fields (microtubules, protein, "
                    f"nucleus): the {kind} generator of the mSRGAN reproduction. Output in the input's percentile-"
                    f"window units (see documentation).",
        documentation=documentation_text)


def test_output(work: Path, descr, sample: Sample, meta: dict, model, scale: int) -> None:
    """test_output.npy and cover.png in `work`: the package's own prediction (through `descr`, a description
    with a stand-in test output) on test_input.npy; UserError when it is not finite (a damaged network)."""
    sr = predict(descr, np.load(work / "test_input.npy"))
    if not np.isfinite(sr).all():
        fail(f"{model}: the generator's output on the test field is not finite (NaN or inf): a damaged or "
             f"diverged network")
    np.save(work / "test_output.npy", sr)
    window = intensity_window(sample.lr[None], meta)   # back to the field's intensities, for the cover
    write_png(work / "cover.png", cover(sample, sr[0].transpose(1, 2, 0) * (window.hi - window.lo) + window.lo,
                                        scale))


def publish(package: Path, out: Path) -> None:
    """Copy the finished `package` (a .zip or a folder) to `out` atomically; UserError when it cannot be written."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".zip":
            with atomic_path(out) as target:
                shutil.copyfile(package, target)
        else:
            with atomic_dir(out) as target:
                shutil.copytree(package, target, dirs_exist_ok=True)
    except OSError as exc:
        fail(f"{out}: cannot write ({exc.strerror or exc})")


def export(model: str | os.PathLike, out: str | os.PathLike, field: np.ndarray, source: str, evaluation: dict,
           domain: str, authors: Sequence[str], license: str, force: bool = False) -> Path:
    """Write the BioImage.IO package of the generator file `model` to `out` (a .zip file, else a folder), with test
    tensors from `field` (H x W x 3, 8/16-bit, described by `source`), after bioimageio.core's model test passed
    on it. UserError (one line, nothing written) for a foreign or damaged file, an existing `out` without
    `force`, an unwritable `out`, a bad licence or author, or a failed model test."""
    out = Path(out)
    check_output(out, force)
    spec = _spec()
    generator, meta = load_any_generator(model)
    entry = architecture(generator.arch)
    kind = "mSRGAN" if meta.get("stage") == "train_srgan" else entry.name
    folded, config = folded_generator(generator)
    radius, scale = generator.receptive_radius, generator.config.scale
    n = min_input(radius)
    percentiles = window_percentiles(meta)
    name = f"{kind} HPA {scale}x super-resolution"
    words = package_words(kind, scale, authors, license, spec, documentation(
        name, kind, meta, domain, evaluation, radius, n, source, percentiles, scale,
        f"{entry.name}: {entry.summary}", entry.global_attention))
    sample = shrink(field, n, scale, source)
    parameters = sum(p.numel() for p in folded.parameters())
    with tempfile.TemporaryDirectory(prefix="msrgan-export-") as tmp:
        work = Path(tmp) / "files"
        work.mkdir()
        write_files(work, folded, entry, sample, words.documentation)

        def describe(torchscript: bool):
            try:
                return model_descr(spec, work, words, entry, config, radius, scale, percentiles, parameters,
                                   torchscript)
            except ValidationError as exc:
                error = exc.errors()[0]
                fail(f"{out}: not a valid package description ({'.'.join(map(str, error['loc']))}: {error['msg']})")

        # a first description, with a stand-in test output (it must exist), runs the package's own pipeline
        np.save(work / "test_output.npy", np.ones((1, 3, scale * n, scale * n), np.float32))
        write_png(work / "cover.png", cover(sample, sample.hr, scale))
        test_output(work, describe(False), sample, meta, model, scale)
        with torch.no_grad():   # the network has no data-dependent branches: any input of the right shape traces it
            torch.jit.trace(folded, torch.full((1, 3, n, n), 0.5)).save(str(work / "weights.torchscript.pt"))
        package = Path(tmp) / ("package.zip" if out.suffix == ".zip" else "package")
        from bioimageio.spec import save_bioimageio_package, save_bioimageio_package_as_folder
        save = save_bioimageio_package if out.suffix == ".zip" else save_bioimageio_package_as_folder
        save(describe(True), output_path=package)
        check_package(package)
        publish(package, out)
    return out
