"""Typed params.yaml: every section is a pydantic model that rejects unknown or ill-typed keys by name."""
from __future__ import annotations

import datetime
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError, ValidationInfo, field_validator

from msrgan.errors import fail


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False, frozen=True)


# ---------------------------------------------------------------- fetch
class LrAcquisition(Section):
    """A low-resolution acquisition of each simulated field's specimen (msrgan.data.simulator.acquisition)."""
    enabled: bool = False
    scale: int = Field(4, ge=2)            # LR pixel = scale x scale HR pixels (binned); must divide size
    psf_sigma: float = Field(1.0, ge=0)    # extra Gaussian blur of the LR optics, HR pixels
    dose: float = Field(0.0625, gt=0)      # light dose relative to the HR exposure (1: the same)


class SyntheticSource(Section):
    n_fov: int = Field(320, ge=1)
    size: int = Field(512, ge=64)          # FOV side in pixels at native resolution
    workers: int = Field(2, ge=1)          # processes; the files do not depend on it
    lr_acquisition: LrAcquisition = LrAcquisition()


def _as_path_text(value):
    """A path as the user wrote it: YAML reads a folder named 2017 as a number and 2024-01-15 as a date, and
    null/~ means no path given."""
    if value is None:
        return ""
    if isinstance(value, (int, float, datetime.date)) and not isinstance(value, bool):
        return str(value)
    return value


class OnCluster(Section):
    """Where a data stage's per-FOV work runs (msrgan.cluster): `workers` 1 in the stage's process (threads, as
    always), more on a local Dask cluster of that many processes; or on the existing Dask cluster whose scheduler
    address (tcp://host:8786) or scheduler file `scheduler` names. The outputs do not depend on either."""
    workers: int = Field(1, ge=1)
    scheduler: str = ""

    _scheduler = field_validator("scheduler", mode="before")(_as_path_text)

    @field_validator("scheduler")
    @classmethod
    def _own_workers(cls, value: str, info: ValidationInfo) -> str:
        if value and info.data.get("workers", 1) != 1:
            raise ValueError("a scheduler's cluster has its own workers; leave workers at 1")
        return value


class LocalSource(OnCluster):
    root: str = ""
    labels: str = ""                        # labels CSV (id,labels); empty: look for one in root
    layout: Literal["auto", "cyto2017", "kaggle", "merged"] = "auto"

    _paths = field_validator("root", "labels", mode="before")(_as_path_text)


class ManifestSource(Section):
    path: str = ""                          # CSV of relpath,url,sha256

    _paths = field_validator("path", mode="before")(_as_path_text)


class Fetch(Section):
    source: Literal["synthetic", "local", "manifest"] = "synthetic"
    synthetic: SyntheticSource = SyntheticSource()
    local: LocalSource = LocalSource()
    manifest: ManifestSource = ManifestSource()


def _percentile_pair(value: tuple[float, float]) -> tuple[float, float]:
    if not 0 <= value[0] < value[1] <= 100:
        raise ValueError("expected [low, high] with 0 <= low < high <= 100")
    return value


# ---------------------------------------------------------------- merge
Colour = Literal["red", "green", "blue", "yellow"]


class Merge(OnCluster):
    rgb: tuple[Colour, Colour, Colour] = ("red", "green", "blue")   # which stain goes to R, G, B
    percentiles: tuple[float, float] = (0.1, 99.9)                    # 16-bit -> 8-bit normalisation
    sample_pixels: int = Field(262144, ge=1024)                       # subsample for the percentiles
    png_compression: int = Field(1, ge=0, le=9)                       # zlib level of the merged PNGs (0: stored)

    _ordered = field_validator("percentiles")(_percentile_pair)


# ---------------------------------------------------------------- prepare
class SplitFractions(Section):
    val: float = Field(0.1, ge=0, lt=1)
    test: float = Field(0.15, ge=0, lt=1)


class Microscope(Section):                                 # msrgan.data.optics.Acquisition, in its units
    psf_sigma: float = Field(1.0, ge=0)        # extra Gaussian blur of the LR optics, HR pixels
    photons: float = Field(200.0, gt=0)        # expected photons per LR pixel where HR is at full scale
    read_noise: float = Field(2.0, ge=0)       # detector read noise, photons RMS


class Prepare(OnCluster):
    mode: Literal["resize", "tiles"] = "resize"
    hr_size: int = Field(96, ge=8)
    scale: int = Field(4, ge=2)
    hr_interpolation: Literal["cubic", "area"] = "cubic"
    tile_min_foreground: float = Field(0.05, ge=0, le=1)   # tiles mode: skip tiles with less signal than this
    max_tiles: int = Field(0, ge=0)          # tiles mode: at most this many val/test tiles per FOV (0: all)
    degradation: Literal["bicubic", "microscope"] = "bicubic"   # how the LR is made from the HR
    microscope: Microscope = Microscope()
    split: SplitFractions = SplitFractions()


# ---------------------------------------------------------------- training: train_vgg, train_srresnet, train_srgan
class Augment(Section):
    flips: bool = True                                # random horizontal/vertical flips
    rot90: bool = True                                # random multiples of 90 degrees
    intensity: float = Field(0.1, ge=0, lt=1)         # brightness x U(1-v, 1+v), the same for LR and HR


class Rollback(Section):
    """When a run has gone wrong and goes back to its last healthy validation with a lower learning rate."""
    loss_spike: float = Field(5.0, gt=1)              # the guarded loss above this x its median of the last 50 steps
    val_drop: float = Field(1.0, gt=0)                # validation this far below its best (dB of PSNR; mAP for VGG)
    lr_factor: float = Field(0.5, gt=0, lt=1)         # learning rates x this after each rollback
    max: int = Field(3, ge=0)                         # more rollbacks than this stop the stage


class Training(Section):
    """What every training stage has: schedule, validation, checkpoints, device. Batch size is per process."""
    iterations: int = Field(ge=1)                     # no default here: each trainer states its own
    batch_size: int = Field(16, ge=1)
    lr: float = Field(gt=0)
    warmup: float = Field(0.05, ge=0, lt=1)          # fraction of the iterations with a linear warm-up
    decay: Literal["cosine", "constant"] = "cosine"
    min_lr: float = Field(0.05, ge=0, le=1)           # cosine floor as a fraction of lr
    log_every: int = Field(10, ge=1)
    val_every: int = Field(50, ge=1)
    checkpoint_every: int = Field(50, ge=1)
    augment: Augment = Augment()
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "fp32", "bf16"] = "auto"   # auto: bf16 autocast where the hardware supports it
    channels_last: bool = True
    grad_clip: float = Field(0.0, ge=0)               # max global gradient norm per step (0: no clipping)
    rollback: Rollback = Rollback()
    workers: int = Field(0, ge=0)                     # DataLoader processes reading the training images (0: none)
    crops_per_field: int = Field(1, ge=1)             # crops per image read, where crops are drawn; divides batch_size

    @field_validator("crops_per_field")
    @classmethod
    def _divides_batch(cls, value: int, info: ValidationInfo) -> int:
        if info.data.get("batch_size", value) % value:
            raise ValueError(f"{value} does not divide batch_size {info.data['batch_size']}")
        return value


class TrainVGG(Training):
    iterations: int = Field(800, ge=1)
    batch_size: int = Field(32, ge=1)
    lr: float = Field(2e-3, gt=0)
    val_every: int = Field(100, ge=1)
    checkpoint_every: int = Field(100, ge=1)
    width: int = Field(16, ge=1)                      # first-block channels (VGG19: 64)
    dropout: float = Field(0.3, ge=0, lt=1)
    weight_decay: float = Field(1e-4, ge=0)
    max_pos_weight: float = Field(10.0, ge=1)         # cap of the per-class BCE weight (negatives / positives)
    threshold: float = Field(0.5, gt=0, lt=1)         # sigmoid threshold for the F1 scores
    rollback: Rollback = Rollback(val_drop=0.1)       # val_drop in mAP


class TrainJudge(Training):
    """The independent judge (msrgan/models/judge.py): another architecture and seed than the miniVGG19."""
    iterations: int = Field(800, ge=1)
    batch_size: int = Field(32, ge=1)
    lr: float = Field(2e-3, gt=0)
    val_every: int = Field(100, ge=1)
    checkpoint_every: int = Field(100, ge=1)
    width: int = Field(16, ge=1)                      # first-stage channels, doubled at each of 4 stages
    blocks: int = Field(2, ge=1)                      # basic residual blocks per stage (ResNet-18: 2)
    dropout: float = Field(0.2, ge=0, lt=1)
    weight_decay: float = Field(1e-4, ge=0)
    max_pos_weight: float = Field(10.0, ge=1)         # cap of the per-class BCE weight (negatives / positives)
    threshold: float = Field(0.5, gt=0, lt=1)         # sigmoid threshold for the F1 scores
    seed_offset: int = Field(1, ge=1)                 # the judge trains with seed + this: never the miniVGG's seed
    rollback: Rollback = Rollback(val_drop=0.1)       # val_drop in mAP


class TrainSRResNet(Training):
    iterations: int = Field(1000, ge=1)
    lr: float = Field(2e-3, gt=0)
    blocks: int = Field(8, ge=1)                      # residual blocks (paper: 16)
    channels: int = Field(48, ge=1)                   # (paper: 64)
    residual: bool = True                             # predict a correction over bicubic
    norm: Literal["batch", "none"] = "none"           # BatchNorm in the blocks (the paper) or none (EDSR)
    res_scale: float = Field(0.2, gt=0, le=1)         # residual scaling of every block (EDSR: 0.1, paper: 1)
    upsample: Literal["shuffle", "resize"] = "resize"  # x2 steps: sub-pixel conv (the paper) or resize-conv
    crop: int = Field(0, ge=0)                        # random LR crop side for training; 0 = whole tile
    select: Literal["best", "last"] = "best"          # keep the best-val-PSNR generator or the last one


class DiscriminatorSection(Section):
    channels: int = Field(16, ge=1)                   # first conv width (paper: 64), doubled every two blocks
    head: Literal["gap", "dense"] = "gap"             # global average pooling, or the paper's dense layer
    dense: int = Field(1024, ge=1)                    # hidden units of the head (paper: 1024)
    spectral_norm: bool = False                       # spectral normalisation of its layers (Miyato et al. 2018)


class GanLoss(Section):
    alpha: float = Field(1.0, ge=0)                   # pixel MSE weight
    beta: float = Field(0.006, ge=0)                  # miniVGG19 content weight
    adversarial: float = Field(0.001, ge=0)           # adversarial weight (gamma)
    gan_type: Literal["vanilla", "lsgan", "ragan"] = "lsgan"
    content_blocks: tuple[int, ...] = (1, 2, 3, 4, 5)  # miniVGG19 blocks whose last conv the content loss compares
    content_network: Literal["trained", "random"] = "trained"  # minivgg.pt as trained, or the same network with
                                                      #   seeded random weights (the thesis's transferability test)


class TrainSRGAN(Training):
    iterations: int = Field(400, ge=1)
    lr: float = Field(1e-4, gt=0)                     # generator
    lr_d: float = Field(1e-4, gt=0)                   # discriminator lr (`lr` is the generator's)
    crop: int = Field(0, ge=0)
    select: Literal["best", "last"] = "last"
    discriminator: DiscriminatorSection = DiscriminatorSection()
    loss: GanLoss = GanLoss()


# ---------------------------------------------------------------- baselines
BASELINE_ARCHS = ("srcnn", "care", "rcan", "dfcan", "rrdb", "srresnet")   # msrgan.models.architectures' names
RESERVED = ("bicubic", "lanczos", "srresnet", "msrgan", "hr", "lr", "truth")   # the study's own method names


class Baseline(Section):
    """One same-budget baseline generator (train_baseline@<name>): trained with train_srresnet's iterations, batch
    size, schedule and augmentation, its own architecture and pixel loss (and, if given, its own learning rate)."""
    arch: Literal[BASELINE_ARCHS]
    config: dict[str, int | float | bool | str] = {}   # the architecture's config fields (defaults: the module's)
    loss: Literal["mse", "l1", "mse_ssim"] = "mse"     # mse_ssim: MSE + ssim_weight * (1 - SSIM), as DFCAN
    ssim_weight: float = Field(0.1, ge=0)
    lr: float | None = Field(None, gt=0)               # None: train_srresnet.lr


class BaselineGan(Section):
    """An adversarial baseline (train_baseline_gan@<name>, ESRGAN-style): train_srgan's code from the PSNR-trained
    generator of the baseline `generator`, with train_srgan's params overridden by `train_srgan` (the same
    miniVGG19 content loss unless overridden)."""
    generator: str                                     # a key of baselines
    train_srgan: dict = {}                             # overrides of train_srgan's keys (nested as there)


def _baseline_names(value: dict) -> dict:
    for name in value:
        if not isinstance(name, str) or not name.isidentifier() or name != name.lower():
            raise ValueError(f"{name!r}: a baseline's name must be a lower-case identifier (it names files)")
        if name in RESERVED:
            raise ValueError(f"{name!r} is one of the study's own methods; give the baseline another name")
    return value


class Baselines(RootModel[dict[str, Baseline]]):
    # the default study's baselines: the two a 2-core CPU trains within the 25-minute budget (README)
    root: dict[str, Baseline] = {"care": Baseline(arch="care", loss="l1"), "rcan": Baseline(arch="rcan", loss="l1")}
    _names = field_validator("root")(_baseline_names)


class BaselineGans(RootModel[dict[str, BaselineGan]]):
    root: dict[str, BaselineGan] = {}
    _names = field_validator("root")(_baseline_names)


def srgan_params(base: dict, overrides: dict, key: str) -> "TrainSRGAN":
    """train_srgan's raw section with `overrides` merged in (nested dicts key by key), validated; an unknown or
    ill-typed key is a UserError naming it under `key`."""
    def merged(a: dict, b: dict) -> dict:
        return {**a, **{k: merged(a.get(k) or {}, v) if isinstance(v, dict) else v for k, v in b.items()}}
    return parse_section("train_srgan", merged(base or {}, overrides), label=key)


# ---------------------------------------------------------------- evaluate, segment
class Evaluate(Section):
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "fp32", "bf16"] = "auto"            # as `msrgan upscale --precision`
    nrmse_percentiles: tuple[float, float] = (0.1, 99.9)           # CARE's ground-truth normalisation
    frc_threshold: float = Field(0.142857, gt=0, lt=1)                # FRC resolution criterion
    perceptual_blocks: tuple[int, ...] = (2, 3, 4)                 # miniVGG19 blocks of the perceptual distance
    judge_blocks: tuple[int, ...] = (2, 3, 4)                      # judge stages of its feature distance (1..4)
    kid_subsets: int = Field(100, ge=1)                            # KID: random subsets of the test split ...
    kid_subset_size: int = Field(24, ge=2)                         # ... of this many images (at most all of them)
    examples: int = Field(4, ge=1)                                 # test images in the example grid
    bootstrap: int = Field(2000, ge=100)                           # resamples for the CIs of median differences
    alpha: float = Field(0.05, gt=0, lt=1)                         # significance level after Holm correction

    @field_validator("perceptual_blocks")
    @classmethod
    def _blocks(cls, v):
        if not v or any(not 1 <= b <= 5 for b in v):
            raise ValueError("expected block numbers among 1..5")
        return v

    @field_validator("judge_blocks")
    @classmethod
    def _stages(cls, v):
        if not v or any(not 1 <= b <= 4 for b in v):
            raise ValueError("expected stage numbers among 1..4")
        return v

    _ordered = field_validator("nrmse_percentiles")(_percentile_pair)


class NucleiSegmentation(Section):
    sigma: float = Field(1.0, ge=0)                                # smoothing of the DAPI channel, HR pixels
    min_area: int = Field(8, ge=1)                                 # smaller objects are dropped, HR pixels
    min_distance: int = Field(4, ge=1)                             # least distance between nucleus centres, HR px


class CellSegmentation(Section):
    sigma: float = Field(1.0, ge=0)                                # smoothing of the microtubule channel, HR px
    threshold_scale: float = Field(0.6, gt=0)                      # x Otsu level for the cell foreground (dim edges)
    distance_weight: float = Field(1.0, ge=0)                      # landscape: -intensity/max + w * distance/10 px
    min_area: int = Field(20, ge=1)                                # smaller cells are dropped, HR pixels


class Segment(Section):
    nuclei: NucleiSegmentation = NucleiSegmentation()
    cells: CellSegmentation = CellSegmentation()
    match_iou: float = Field(0.5, ge=0.5, lt=1)                    # object-level F1: IoU above this is a match
    examples: int = Field(3, ge=1)                                 # test images in the overlay figure
    bootstrap: int = Field(2000, ge=100)
    alpha: float = Field(0.05, gt=0, lt=1)


# ---------------------------------------------------------------- export
class Export(Section):
    model: Literal["generator", "srresnet"] = "generator"          # data/models/<model>.pt: mSRGAN or SRResNet
    authors: tuple[str, ...] = ("mSRGAN reproduction contributors",)
    license: str = "CC-BY-4.0"                                     # SPDX id of the exported weights' licence

    @field_validator("authors")
    @classmethod
    def _authors(cls, v):
        return check_authors(v)


def check_authors(authors) -> tuple[str, ...]:
    """The package authors as a tuple: at least one, each a name not empty and without '/' (the one rule, for
    export.authors and `msrgan export --author`); ValueError otherwise."""
    if not authors or any(not a.strip() or "/" in a for a in authors):
        raise ValueError("expected at least one author name, without '/'")
    return tuple(authors)


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
    "train_vgg": TrainVGG,
    "train_judge": TrainJudge,
    "train_srresnet": TrainSRResNet,
    "train_srgan": TrainSRGAN,
    "baselines": Baselines,
    "baseline_gans": BaselineGans,
    "evaluate": Evaluate,
    "segment": Segment,
    "export": Export,
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


def parse_section(name: str, values: dict, path: str | Path = "params.yaml", label: str | None = None) -> Section:
    """Section `name` validated from `values`; a bad key is a UserError naming it as `label` (default `name`)."""
    try:
        return SECTIONS[name].model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join([label or name, *(str(p) for p in err["loc"])])
        got = f" (got {err['input']!r})" if err["type"] != "extra_forbidden" and "input" in err else ""
        message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
        fail(f"{path}: {key}: {message}{got}")
