"""Seeded simulator of HPA-like confocal fields of view: the default fetch source (`fetch.source: synthetic`).

Each FOV is built the way a real one comes about: cells of varied shape touching in colonies, each with a nucleus
(chromatin texture, nucleoli), a microtubule aster around the centrosome (red), a reticular ER (yellow) and a protein
(green) whose localisation is one to three of the 13 classes. The stains then pass through the optics and the detector:
crosstalk, uneven illumination, photobleaching, out-of-focus haze, a Gaussian PSF, Poisson photon noise, read noise and
a per-FOV exposure. Files are the raw CYTO2017 layout (uint16 TIFF per stain, with its pixel size), labels.csv and the
true masks; with `lr_acquisition.enabled`, also a low-resolution acquisition of the same specimen in lr/images/.
All lengths are in pixels of a 512-pixel FOV and scale with `size`, so a larger size samples the same field finer.
FOV k depends only on (seed, k): the same seed writes byte-identical files, whatever n_fov or the number of workers.

Modules: geometry (cells, nuclei, label images), drawing (random fields, splats, walks), markers (the scene and the
DAPI, tubulin and ER reference stains), localisations (the 13 protein patterns), acquisition (illumination to
camera, HR and LR).
"""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import tifffile
from tqdm import tqdm

from msrgan.atomic import atomic_path, write_text
from msrgan.classes import N_CLASSES, format_labels
from msrgan.data.raw import LR
from msrgan.data.simulator.acquisition import Exposure, pixel_size_um, record, record_lr
from msrgan.data.simulator.geometry import relabel
from msrgan.data.simulator.localisations import protein
from msrgan.data.simulator.markers import build_scene, dna, er, tubulin
from msrgan.errors import fail
from msrgan.imageio import write_png
from msrgan.params import LrAcquisition, SyntheticSource

__all__ = ["COLOURS", "Fov", "fov_id", "fov_labels", "simulate", "simulate_fov", "write_fov"]

COLOURS = ("red", "green", "blue", "yellow")
# How often each class is a FOV's label, roughly as imbalanced as in HPA (Nucleus and Cytosol dominate).
CLASS_FREQ = np.array([0.24, 0.09, 0.035, 0.07, 0.05, 0.09, 0.08, 0.08, 0.15, 0.025, 0.035, 0.025, 0.035])
CLASS_FREQ = CLASS_FREQ / CLASS_FREQ.sum()
N_LABELS_FREQ = (0.6, 0.3, 0.1)        # one, two or three classes per FOV
WELLS = [f"{r}{c:02d}" for r in "ABCDEFGH" for c in range(1, 13)]


@dataclass
class Fov:
    """One simulated field of view as it is written: four stains, its classes and the true masks."""
    id: str
    labels: list[int]
    stains: dict[str, np.ndarray]      # colour -> uint16 HxW, ADU
    nuclei: np.ndarray                 # uint16 label image, 0 background, 1..m
    cells: np.ndarray                  # uint16 label image, 0 background, 1..n
    pixel_size: float                  # µm per pixel of the stains
    lr: dict[str, np.ndarray] | None = None   # colour -> uint16 H/scale x W/scale: the LR acquisition, if made
    exposures: dict[str, Exposure] | None = None   # how each stain was recorded (not written; noise_free uses it)


def fov_id(index: int) -> str:
    """'S001_A01_1': plate, well (96 per plate), field; one field per well so no two FOVs share a protein."""
    return f"S{index // 96 + 1:03d}_{WELLS[index % 96]}_1"


def fov_labels(seed: int, index: int) -> list[int]:
    """The classes of FOV `index`: 1-3, imbalanced; the first 13 FOVs each carry a different class so all occur."""
    rng = np.random.default_rng([seed, index, 1])
    n = rng.choice(3, p=N_LABELS_FREQ) + 1
    first = index if index < N_CLASSES else int(rng.choice(N_CLASSES, p=CLASS_FREQ))
    p = CLASS_FREQ.copy()
    p[first] = 0
    rest = rng.choice(N_CLASSES, size=n - 1, replace=False, p=p / p.sum())
    return sorted({first, *map(int, rest)})


def simulate_fov(size: int, seed: int, index: int, labels: list[int] | None = None,
                 lr: LrAcquisition | None = None) -> Fov:
    """One field of view, determined by (seed, index) alone; `labels` overrides its classes (for tests). With an
    enabled `lr`, also its LR acquisition, whose noise comes from a stream of its own: the HR field is the same
    with or without it."""
    labels = fov_labels(seed, index) if labels is None else sorted(labels)
    rng = np.random.default_rng([seed, index, 2])
    s = build_scene(rng, size)
    signal = {"blue": dna(rng, s), "red": tubulin(rng, s), "yellow": er(rng, s), "green": protein(rng, s, labels)}
    stains, exposures = record(rng, signal, s.u)
    low = None
    if lr is not None and lr.enabled:
        low = record_lr(exposures, lr.scale, lr.psf_sigma, lr.dose, np.random.default_rng([seed, index, 3]))
    min_area = max(4, int(30 * s.u ** 2))
    cells = relabel(s.g.cells, min_area)
    nuclei = relabel(np.where(cells > 0, s.g.nuclei, 0), min_area)   # numbered on their own, 1..m
    return Fov(fov_id(index), labels, stains, nuclei, cells, pixel_size_um(size), low, exposures)


def write_fov(fov: Fov, out: Path) -> None:
    """images/<id>_<colour>.tif, masks/<id>_{nuclei,cells}.png and, with an LR acquisition, lr/images/<id>_<colour>.tif
    under `out`; the TIFFs record their pixel size (resolution tags, pixels per cm)."""
    _write_stains(fov.stains, out / "images", fov.id, fov.pixel_size)
    if fov.lr is not None:
        lr_pixel = fov.pixel_size * fov.stains["red"].shape[1] / fov.lr["red"].shape[1]
        _write_stains(fov.lr, out / LR / "images", fov.id, lr_pixel)
    write_png(out / "masks" / f"{fov.id}_nuclei.png", fov.nuclei)
    write_png(out / "masks" / f"{fov.id}_cells.png", fov.cells)


def _write_stains(stains: dict[str, np.ndarray], folder: Path, fov: str, pixel_size: float) -> None:
    per_cm = 1e4 / pixel_size
    for colour in COLOURS:
        with atomic_path(folder / f"{fov}_{colour}.tif") as tmp:
            tifffile.imwrite(tmp, stains[colour], compression="zlib", compressionargs={"level": 1},
                             predictor=True, metadata=None, resolution=(per_cm, per_cm),
                             resolutionunit="CENTIMETER")


def _one_thread() -> None:
    cv2.setNumThreads(1)                  # the pool is the parallelism; keep OpenCV from oversubscribing


def _job(args: tuple[int, int, int, str, LrAcquisition]) -> tuple[str, list[int]]:
    size, seed, index, out, lr = args
    fov = simulate_fov(size, seed, index, lr=lr)
    write_fov(fov, Path(out))
    return fov.id, fov.labels


def simulate(params: SyntheticSource, seed: int, out: Path) -> None:
    """Write params.n_fov simulated FOVs of params.size pixels into the existing directory `out` in the raw layout:
    images/<id>_<colour>.tif (uint16), masks/<id>_{nuclei,cells}.png (uint16 labels), labels.csv (id,labels); with
    params.lr_acquisition.enabled also lr/images/<id>_<colour>.tif (uint16, size / scale pixels)."""
    out = Path(out)
    if not out.is_dir():
        fail(f"{out}: output directory for the synthetic source does not exist")
    lr = params.lr_acquisition
    if lr.enabled and params.size % lr.scale:
        fail(f"fetch.synthetic.lr_acquisition.scale: {lr.scale} does not divide fetch.synthetic.size {params.size}")
    (out / "images").mkdir(exist_ok=True)
    (out / "masks").mkdir(exist_ok=True)
    jobs = [(params.size, seed, i, str(out), lr) for i in range(params.n_fov)]
    workers = min(params.workers, len(jobs), os.cpu_count() or 1)
    bar = dict(total=len(jobs), desc="simulate FOVs", unit="fov")
    if workers > 1:
        # spawn, not fork: a forked child of a process that already runs torch/OpenMP threads can deadlock
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_one_thread) as pool:
            rows = list(tqdm(pool.map(_job, jobs, chunksize=4), **bar))
    else:
        rows = [_job(j) for j in tqdm(jobs, **bar)]
    write_text(out / "labels.csv", "id,labels\n" + "".join(f"{i},{format_labels(l)}\n" for i, l in rows))
