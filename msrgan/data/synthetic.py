"""Seeded simulator of HPA-like confocal fields of view: the default fetch source (`fetch.source: synthetic`).

Each FOV is built the way a real one comes about: cells of varied shape touching in colonies, each with a nucleus
(chromatin texture, nucleoli), a microtubule aster around the centrosome (red), a reticular ER (yellow) and a protein
(green) whose localisation is one to three of the 13 classes. The stains then pass through the optics and the detector:
crosstalk, uneven illumination, photobleaching, out-of-focus haze, a Gaussian PSF, Poisson photon noise, read noise and
a per-FOV exposure. Files are the raw CYTO2017 layout (uint16 TIFF per stain), labels.csv and the true masks.
All lengths are in pixels of a 512-pixel FOV and scale with `size`, so a larger size samples the same field finer.
FOV k depends only on (seed, k): the same seed writes byte-identical files, whatever n_fov or the number of workers.
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
from msrgan.errors import fail
from msrgan.imageio import write_png
from msrgan.params import SyntheticSource

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
    stains: dict[str, np.ndarray]      # colour -> uint16 HxW
    nuclei: np.ndarray                 # uint16 label image, 0 background, 1..m
    cells: np.ndarray                  # uint16 label image, 0 background, 1..n


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


# ------------------------------------------------------------------ small building blocks
def _noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian-filtered white noise with unit standard deviation (coarse ones made small and upsampled: fast)."""
    f = max(1, int(sigma // 2))
    h, w = -(-shape[0] // f) + 2, -(-shape[1] // f) + 2
    small = rng.standard_normal((h, w), dtype=np.float32)
    small = cv2.GaussianBlur(small, (0, 0), sigma / f, borderType=cv2.BORDER_REFLECT)
    if f > 1:
        small = cv2.resize(small, (w * f, h * f), interpolation=cv2.INTER_LINEAR)
    out = small[f:f + shape[0], f:f + shape[1]]
    return out / (out.std() + 1e-6)


def _blur(img: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(img, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def _haze(img: np.ndarray, sigma: float) -> np.ndarray:
    """A wide Gaussian blur, done at a quarter of the resolution (it is smooth anyway): fast."""
    h, w = img.shape
    small = cv2.resize(img, (w // 4, h // 4), interpolation=cv2.INTER_AREA)
    return cv2.resize(_blur(small, sigma / 4), (w, h), interpolation=cv2.INTER_LINEAR)


def _splat(shape: tuple[int, int], y: np.ndarray, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Add weights `w` at sub-pixel points (bilinear): filaments and puncta drawn additively, anti-aliased."""
    h, wd = shape
    y0, x0 = np.floor(y).astype(np.int64), np.floor(x).astype(np.int64)
    fy, fx = (y - y0).astype(np.float32), (x - x0).astype(np.float32)
    out = np.zeros(h * wd, np.float64)
    for dy, dx, ww in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 0, fy * (1 - fx)), (1, 1, fy * fx)):
        yy, xx = y0 + dy, x0 + dx
        ok = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < wd)
        out += np.bincount(yy[ok] * wd + xx[ok], weights=(w * ww)[ok], minlength=h * wd)
    return out.reshape(h, wd).astype(np.float32)


def _walks(rng, y0, x0, angle0, n_steps: int, step: float, turn: float) -> tuple[np.ndarray, np.ndarray]:
    """Persistent random walks (one per start), shape (n, n_steps): filament backbones."""
    turns = rng.normal(0, turn, (len(y0), n_steps)).astype(np.float32)
    turns[:, 0] = 0
    ang = angle0[:, None] + np.cumsum(turns, axis=1)
    y = y0[:, None] + step * np.cumsum(np.sin(ang), axis=1)
    x = x0[:, None] + step * np.cumsum(np.cos(ang), axis=1)
    return y, x


def _inside(labels: np.ndarray, y: np.ndarray, x: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Per walk point: still inside its own cell, counting from the start (a walk ends where it first leaves)."""
    h, w = labels.shape
    yi, xi = np.clip(np.rint(y).astype(np.int64), 0, h - 1), np.clip(np.rint(x).astype(np.int64), 0, w - 1)
    ok = (labels[yi, xi] == cell[:, None]) & (y >= 0) & (y < h) & (x >= 0) & (x < w)
    return np.cumprod(ok, axis=1).astype(bool)


def _draw_walks(shape, y, x, alive, weight) -> np.ndarray:
    w = np.broadcast_to(weight[:, None], y.shape)
    return _splat(shape, y[alive], x[alive], w[alive])


# ------------------------------------------------------------------ geometry: cells and nuclei
@dataclass
class Cell:
    """One cell's shape: an irregular ellipse for the body and a smaller one for the nucleus."""
    cy: float
    cx: float
    a: float            # half axes and orientation of the cell body
    b: float
    o: float
    harm: np.ndarray    # (k, amplitude, phase) rows: the irregular outline
    ny: float           # nucleus centre, half axes, orientation, outline
    nx: float
    na: float
    nb: float
    no: float
    nharm: np.ndarray
    mitotic: bool


def _outline(theta: np.ndarray, harm: np.ndarray) -> np.ndarray:
    """Radius factor of an irregular outline at angle theta: 1 + sum of a few harmonics."""
    return _outline_z(np.exp(1j * theta), harm)


def _outline_z(z: np.ndarray, harm: np.ndarray) -> np.ndarray:
    # z = exp(i theta); cos(k theta + phase) = Re(exp(i phase) z^k), powers by multiplication (no trigonometry)
    rho = np.ones(z.shape, np.float32)
    zk = z * z
    for k, amp, ph in harm:                     # rows hold k = 2, 3, 4, 5 in order
        rho += (amp * np.exp(1j * ph) * zk).real.astype(np.float32)
        zk = zk * z
    return rho


def _ellipse_q(yy, xx, cy, cx, a, b, o, harm) -> np.ndarray:
    """Normalised distance to an irregular ellipse: < 1 inside, 0 at its centre."""
    dy, dx = yy - cy, xx - cx
    c, s = np.cos(o), np.sin(o)
    u, v = (dx * c + dy * s) / a, (-dx * s + dy * c) / b
    r = np.sqrt(u * u + v * v) + 1e-6
    return r / _outline_z((u + 1j * v) / r, harm)


def _random_harm(rng, strength: float) -> np.ndarray:
    ks = np.arange(2, 6)
    return np.stack([ks, rng.normal(0, strength, 4) / ks ** 0.6, rng.uniform(0, 2 * np.pi, 4)], axis=1)


def _place_cells(rng, size: int, u: float) -> list[Cell]:
    """Cells in one to three colonies (denser in some FOVs), non-overlapping centres, some cut by the border."""
    r_mean = 55 * u * rng.uniform(0.85, 1.15)
    density = rng.uniform(1.0, 1.9)
    n_target = max(3, int(round(density * 0.6 * size * size / (np.pi * r_mean ** 2))))
    colonies = rng.uniform(-0.1 * size, 1.1 * size, (rng.integers(1, 4), 2))
    spread = size * rng.uniform(0.18, 0.45)
    cells: list[Cell] = []
    for _ in range(40 * n_target):
        if len(cells) >= n_target:
            break
        cy, cx = colonies[rng.integers(len(colonies))] + rng.normal(0, spread, 2)
        if not (-0.15 * size < cy < 1.15 * size and -0.15 * size < cx < 1.15 * size):
            continue
        r = r_mean * np.exp(rng.normal(0, 0.2))
        if any(np.hypot(cy - c.cy, cx - c.cx) < 0.8 * (r + np.sqrt(c.a * c.b)) for c in cells):
            continue
        e = min(2.4, 1 + abs(rng.normal(0, 0.4)))
        a, b, o = r * np.sqrt(e), r / np.sqrt(e), rng.uniform(0, np.pi)
        mitotic = rng.random() < 0.03
        fn = rng.uniform(0.48, 0.62) * (0.6 if mitotic else 1.0)
        off = rng.normal(0, 0.08 * r, 2)
        ne = min(1.5, 1 + abs(rng.normal(0, 0.15)))
        nr = fn * np.sqrt(a * b)
        cells.append(Cell(cy, cx, a, b, o, _random_harm(rng, 0.22),
                          cy + off[0], cx + off[1], nr * np.sqrt(ne), nr / np.sqrt(ne), o + rng.normal(0, 0.3),
                          _random_harm(rng, 0.06), mitotic))
    return cells


@dataclass
class Geometry:
    cells: np.ndarray        # int32 labels 0..n (index into `shapes` + 1)
    nuclei: np.ndarray       # int32 labels 0..n, the nucleus of cell i carries label i
    q: np.ndarray            # normalised distance within the cell (0 centre, 1 outline)
    qn: np.ndarray           # normalised distance to the nearest nucleus (< 1 inside)
    shapes: list[Cell]


def _rasterise(cells: list[Cell], size: int, rng) -> Geometry:
    """Label images: each pixel goes to the cell whose outline-normalised distance is smallest (touching cells
    share a curved border, as in a weighted Voronoi diagram); a nucleus is kept only inside its own cell."""
    shape = (size, size)
    best = np.full(shape, np.inf, np.float32)
    lab = np.zeros(shape, np.int32)
    bestn = np.full(shape, np.inf, np.float32)
    labn = np.zeros(shape, np.int32)
    # ragged outlines where a cell meets the background (neighbours share the factor: their border is unchanged)
    wobble = 1 + 0.05 * _noise(rng, shape, 9 * size / 512) + 0.02 * _noise(rng, shape, 3 * size / 512)
    for i, c in enumerate(cells, 1):
        if not _claim(best, lab, i, 1.45, c.cy, c.cx, c.a, c.b, c.o, c.harm, wobble):
            continue
        # the nucleus (and a margin for its envelope) needs a smaller window
        _claim(bestn, labn, i, 1.7, c.ny, c.nx, c.na, c.nb, c.no, c.nharm)
    lab[best >= 1] = 0
    # a nucleus lies inside its own cell, away from the outline
    labn[(bestn >= 1) | (labn != lab) | (best > 0.9)] = 0
    return Geometry(lab, labn, np.minimum(best, 1.5), np.minimum(bestn, 3.0), cells)


def _claim(best, lab, i, margin, cy, cx, a, b, o, harm, wobble=None) -> bool:
    """Give label `i` the pixels where this ellipse's normalised distance beats `best` (both updated in place),
    searching a window of `margin` times its larger semi-axis; False when that window lies outside the image."""
    size = best.shape[0]
    ext = margin * max(a, b)
    y0, y1 = int(max(0, cy - ext)), int(min(size, cy + ext + 1))
    x0, x1 = int(max(0, cx - ext)), int(min(size, cx + ext + 1))
    if y1 <= y0 or x1 <= x0:
        return False
    yy, xx = np.ogrid[y0:y1, x0:x1]
    q = _ellipse_q(yy.astype(np.float32), xx.astype(np.float32), cy, cx, a, b, o, harm)
    if wobble is not None:
        q *= wobble[y0:y1, x0:x1]
    win = q < best[y0:y1, x0:x1]
    best[y0:y1, x0:x1][win] = q[win]
    lab[y0:y1, x0:x1][win] = i
    return True


def _consecutive(labels: np.ndarray, min_area: int) -> np.ndarray:
    """Relabel to 1..n in order of the old labels, dropping objects smaller than min_area pixels."""
    counts = np.bincount(labels.ravel())
    keep = np.flatnonzero(counts >= min_area)
    keep = keep[keep > 0]
    lut = np.zeros(len(counts), np.uint16)
    lut[keep] = np.arange(1, len(keep) + 1)
    return lut[labels]


# ------------------------------------------------------------------ stains
@dataclass
class Scene:
    """What the stains are made from: the geometry and the structures shared by several stains."""
    g: Geometry
    size: int
    u: float                  # pixels per unit length of a 512-pixel FOV
    nuc: np.ndarray           # float nucleus mask
    cyto: np.ndarray          # float cytoplasm mask
    nucleoli: np.ndarray      # float nucleoli mask
    centrosomes: np.ndarray   # (n, 2) y, x per cell
    mt: np.ndarray            # microtubule density
    er: np.ndarray            # ER density


def _nucleoli(rng, g: Geometry, size: int) -> np.ndarray:
    canvas = np.zeros((size, size), np.uint8)
    for c in g.shapes:
        if c.mitotic:
            continue
        for _ in range(rng.integers(1, 5)):
            r, t = 0.55 * np.sqrt(rng.random()), rng.uniform(0, 2 * np.pi)
            dx, dy = r * c.na * np.cos(t), r * c.nb * np.sin(t)
            y = c.ny + dx * np.sin(c.no) + dy * np.cos(c.no)
            x = c.nx + dx * np.cos(c.no) - dy * np.sin(c.no)
            rad = np.sqrt(c.na * c.nb) * rng.uniform(0.09, 0.2)
            axes = (max(1, int(rad * 16 * rng.uniform(0.7, 1.3))), max(1, int(rad * 16 * rng.uniform(0.7, 1.3))))
            cv2.ellipse(canvas, (int(x * 16), int(y * 16)), axes, rng.uniform(0, 180), 0, 360, 255, -1,
                        cv2.LINE_AA, 4)
    return canvas.astype(np.float32) / 255 * (g.nuclei > 0)


def _centrosomes(rng, g: Geometry) -> np.ndarray:
    """Beside the nucleus, on a random side: where the microtubule aster and the Golgi sit."""
    out = []
    for c in g.shapes:
        t = rng.uniform(0, 2 * np.pi)
        # radius of the nucleus outline in direction t (ellipse frame), then just outside it
        u, v = np.cos(t - c.no), np.sin(t - c.no)
        r = 1 / np.sqrt((u / c.na) ** 2 + (v / c.nb) ** 2)
        r *= _outline(np.array([np.arctan2(v * c.na, u * c.nb)]), c.nharm)[0] * 1.12
        out.append((c.ny + r * np.sin(t), c.nx + r * np.cos(t)))
    return np.array(out, np.float64).reshape(-1, 2)


def _microtubules(rng, g: Geometry, cen: np.ndarray, size: int, u: float, per_cell: float = 110) -> np.ndarray:
    """Filaments radiating from each centrosome (plus some free ones), ending at the cell's edge."""
    ys, xs, angs, ids, ws = [], [], [], [], []
    for i, c in enumerate(g.shapes, 1):
        n = int(per_cell * (np.sqrt(c.a * c.b) / (60 * u)) ** 2 * rng.uniform(0.7, 1.3))
        n_free = n // 3
        ys.append(np.r_[cen[i - 1, 0] + rng.normal(0, 2 * u, n - n_free),
                        c.cy + rng.normal(0, 0.4 * c.b, n_free)])
        xs.append(np.r_[cen[i - 1, 1] + rng.normal(0, 2 * u, n - n_free),
                        c.cx + rng.normal(0, 0.4 * c.a, n_free)])
        angs.append(rng.uniform(0, 2 * np.pi, n))
        ids.append(np.full(n, i))
        ws.append(np.exp(rng.normal(0, 0.3, n)))
    if not ys:
        return np.zeros((size, size), np.float32)
    step = 1.5 * u                          # points 1.5 px apart: the PSF joins them into a line
    n_steps = int(3.2 * max(max(c.a, c.b) for c in g.shapes) / step)
    y, x = _walks(rng, np.concatenate(ys), np.concatenate(xs), np.concatenate(angs), n_steps, step, 0.06)
    alive = _inside(g.cells, y, x, np.concatenate(ids))
    return _draw_walks((size, size), y, x, alive, np.concatenate(ws))


def _reticulum(rng, shape, u: float) -> np.ndarray:
    """A network of tubules: the zero crossings of band-passed noise (closed polygonal loops, like the ER)."""
    n = _noise(rng, shape, 2.2 * u) - 0.6 * _noise(rng, shape, 5 * u)
    n /= n.std()
    return np.exp(-(n / 0.45) ** 2)


def _scene(rng, size: int) -> Scene:
    u = size / 512
    g = _rasterise(_place_cells(rng, size, u), size, rng)
    nuc = (g.nuclei > 0).astype(np.float32)
    cyto = ((g.cells > 0) & (g.nuclei == 0)).astype(np.float32)
    cen = _centrosomes(rng, g)
    mt = _microtubules(rng, g, cen, size, u)
    # ER: dense around the nucleus (and continuous with its envelope), sparse towards the periphery
    near = np.clip(1.15 - g.q, 0, 1) ** 0.8 * cyto
    envelope = np.exp(-((g.qn - 1) / 0.08) ** 2) * (g.cells > 0)
    er = (near + 0.5 * envelope) * (0.35 + _reticulum(rng, (size, size), u))
    return Scene(g, size, u, nuc, cyto, _nucleoli(rng, g, size), cen, mt, er)


def _per_cell(rng, g: Geometry, sigma: float) -> np.ndarray:
    """A lognormal factor per cell, as a map (index 0 = background)."""
    return np.r_[0.0, np.exp(rng.normal(0, sigma, len(g.shapes)))].astype(np.float32)[g.cells]


def _dna(rng, s: Scene) -> np.ndarray:
    g, u = s.g, s.u
    level = np.r_[0.0, [2.2 if c.mitotic else 1.0 for c in g.shapes]].astype(np.float32)[g.nuclei]
    level *= np.r_[0.0, np.exp(rng.normal(0, 0.22, len(g.shapes)))].astype(np.float32)[g.nuclei]
    chromatin = 1 + 0.12 * _noise(rng, (s.size, s.size), 1.2 * u) + 0.2 * _noise(rng, (s.size, s.size), 4 * u)
    thickness = np.clip(1 - g.qn ** 2, 0, 1) ** 0.4     # a rounded nucleus: dimmer towards its edge
    return level * s.nuc * np.clip(chromatin, 0.2, None) * thickness * (1 - 0.8 * s.nucleoli)


def _tubulin(rng, s: Scene) -> np.ndarray:
    cell = (s.g.cells > 0).astype(np.float32)
    mt = s.mt / (np.percentile(s.mt[s.mt > 0], 99) + 1e-6) if s.mt.any() else s.mt
    diffuse = 0.4 * cell * (1.1 - 0.5 * np.clip(s.g.q, 0, 1)) * (1 + 0.2 * _noise(rng, s.mt.shape, 10 * s.u))
    bundles = np.clip(1 + 0.9 * _noise(rng, s.mt.shape, 4 * s.u), 0.1, None)   # filaments gather in bundles
    return (np.tanh(mt * bundles) + diffuse) * _per_cell(rng, s.g, 0.3) * (1 - 0.45 * s.nuc)


# --- the 13 protein patterns (green), each about 1 where it is bright
def _p_nucleus(rng, s):
    speckle = np.clip(1 + 0.35 * _noise(rng, s.nuc.shape, 2 * s.u), 0, None) if rng.random() < 0.5 else 1.0
    return s.nuc * (1 - 0.8 * s.nucleoli) * speckle * (0.85 + 0.2 * _noise(rng, s.nuc.shape, 3 * s.u))


def _p_nucleoli(rng, s):
    return s.nucleoli * (0.8 + 0.2 * _noise(rng, s.nuc.shape, 1.5 * s.u)) + 0.05 * s.nuc


def _p_nuclear_membrane(rng, s):
    return np.exp(-((s.g.qn - 0.96) / 0.1) ** 2) * (s.g.cells > 0)


def _p_golgi(rng, s):
    ys, xs, ws = [], [], []
    for (cy, cx), c in zip(s.centrosomes, s.g.shapes):
        t = np.arctan2(cy - c.ny, cx - c.nx)            # wrap around the nucleus on the centrosome side
        n = rng.integers(40, 90)
        tt = t + rng.normal(0, rng.uniform(0.25, 0.5), n)
        rr = np.sqrt(c.na * c.nb) * (1.05 + np.abs(rng.normal(0, 0.15, n)))
        ys.append(c.ny + rr * np.sin(tt))
        xs.append(c.nx + rr * np.cos(tt))
        ws.append(rng.uniform(0.5, 1.5, n))
    return _blobs(s, ys, xs, ws, 2.2)


def _blobs(s, ys, xs, ws, sigma):
    if not ys:
        return np.zeros_like(s.nuc)
    img = _blur(_splat(s.nuc.shape, np.concatenate(ys), np.concatenate(xs), np.concatenate(ws)), sigma * s.u)
    return img / (img.max() + 1e-6) * 1.5 * (s.g.cells > 0)


def _p_er(rng, s):
    return s.er


def _cyto_points(rng, s, per_cell, bias):
    """Random points in each cell's cytoplasm, denser towards the nucleus when bias > 0."""
    ys, xs = [], []
    for c in s.g.shapes:
        n = int(per_cell * c.a * c.b / (60 * s.u) ** 2)
        r = rng.random(n) ** (0.5 + bias)
        t = rng.uniform(0, 2 * np.pi, n)
        dx, dy = r * c.a * np.cos(t), r * c.b * np.sin(t)
        ys.append(c.cy + dx * np.sin(c.o) + dy * np.cos(c.o))
        xs.append(c.cx + dx * np.cos(c.o) - dy * np.sin(c.o))
    y, x = np.concatenate(ys), np.concatenate(xs)
    yi, xi = np.clip(np.rint(y).astype(int), 0, s.size - 1), np.clip(np.rint(x).astype(int), 0, s.size - 1)
    keep = s.cyto[yi, xi] > 0
    return y[keep], x[keep]


def _perinuclear(s):
    return np.clip(1.25 - s.g.q, 0, 1) * s.cyto


def _p_vesicles(rng, s):
    y, x = _cyto_points(rng, s, 160, 0.6)
    img = _blur(_splat(s.nuc.shape, y, x, rng.lognormal(0, 0.5, len(y))), 1.0 * s.u)
    img = img / (np.percentile(img[img > 0], 99.5) + 1e-6) if img.any() else img
    return img + 0.12 * _perinuclear(s)


def _p_plasma_membrane(rng, s):
    lab = s.g.cells.astype(np.float32)
    k = np.ones((3, 3), np.uint8)
    edge = (cv2.dilate(lab, k) != cv2.erode(lab, k)).astype(np.float32)
    edge = _blur(edge, 1.0 * s.u) * 2.5
    return np.clip(edge, 0, 1.2) * (0.7 + 0.3 * _noise(rng, lab.shape, 3 * s.u)) + 0.08 * s.cyto


def _p_mitochondria(rng, s):
    y0, x0 = _cyto_points(rng, s, 200, 1.6)
    n_steps = max(3, int(6 * s.u))
    y, x = _walks(rng, y0, x0, rng.uniform(0, 2 * np.pi, len(y0)), n_steps, 1.0 * s.u, 0.35)
    ids = s.g.cells[np.clip(np.rint(y0).astype(int), 0, s.size - 1), np.clip(np.rint(x0).astype(int), 0, s.size - 1)]
    alive = _inside(s.g.cells, y, x, ids) & (np.arange(n_steps) < rng.integers(3, n_steps + 1, len(y0))[:, None])
    img = _draw_walks(s.nuc.shape, y, x, alive, rng.lognormal(0, 0.3, len(y0)))
    img = np.tanh(img / (np.percentile(img[img > 0], 90) + 1e-6)) if img.any() else img
    return (img + 0.15 * s.cyto) * _perinuclear(s) ** 1.5   # a dense network around the nucleus


def _p_cytosol(rng, s):
    return (s.cyto + 0.2 * s.nuc) * (0.85 + 0.2 * _noise(rng, s.nuc.shape, 3 * s.u)) * np.clip(1.2 - 0.3 * s.g.q, 0, 1)


def _p_microtubules(rng, s):
    """The same filaments as the tubulin stain, without its diffuse part."""
    mt = s.mt / (np.percentile(s.mt[s.mt > 0], 99) + 1e-6) if s.mt.any() else s.mt
    return np.tanh(2.5 * mt) * (1 - 0.45 * s.nuc)


def _p_centrosome(rng, s):
    ys, xs = [], []
    for cy, cx in s.centrosomes:
        k = 2 if rng.random() < 0.5 else 1
        ys.append(cy + rng.normal(0, 1.5 * s.u, k))
        xs.append(cx + rng.normal(0, 1.5 * s.u, k))
    if not ys:
        return np.zeros_like(s.nuc)
    img = _blur(_splat(s.nuc.shape, np.concatenate(ys), np.concatenate(xs), np.ones(sum(map(len, ys)))), 2.0 * s.u)
    halo = _blur(img, 5 * s.u)                          # pericentriolar material around the centrioles
    return img / (img.max() + 1e-6) * 2 + halo / (halo.max() + 1e-6) * 0.4


def _p_actin(rng, s):
    """Stress fibres: long, nearly parallel straight bundles across each cell, and a cortical rim."""
    ys, xs, angs, ids = [], [], [], []
    for i, c in enumerate(s.g.shapes, 1):
        n = rng.integers(10, 22)
        t = np.linspace(-1, 1, n) * rng.uniform(0.6, 0.9)
        along = c.o + rng.normal(0, 0.6) + rng.normal(0, 0.08, n)
        off = t * max(c.a, c.b)
        # start on one side of the cell, perpendicular offset across it
        ys.append(c.cy + off * np.cos(along) - 1.2 * max(c.a, c.b) * np.sin(along))
        xs.append(c.cx - off * np.sin(along) - 1.2 * max(c.a, c.b) * np.cos(along))
        angs.append(along)
        ids.append(np.full(n, i))
    if not ys:
        return np.zeros_like(s.nuc)
    step = 1.0 * s.u
    n_steps = int(2.6 * max(max(c.a, c.b) for c in s.g.shapes) / step)
    y, x = _walks(rng, np.concatenate(ys), np.concatenate(xs), np.concatenate(angs), n_steps, step, 0.004)
    h, w = s.g.cells.shape
    yi, xi = np.clip(np.rint(y).astype(int), 0, h - 1), np.clip(np.rint(x).astype(int), 0, w - 1)
    inside = s.g.cells[yi, xi] == np.concatenate(ids)[:, None]       # fibres cross the cell, not the neighbour
    wts = rng.lognormal(0, 0.4, len(y))
    img = _draw_walks(s.nuc.shape, y, x, inside, wts)
    img = _blur(img, 0.8 * s.u)                      # bundles are thicker than single filaments
    img = np.tanh(img / (np.percentile(img[img > 0], 85) + 1e-6)) if img.any() else img
    rim = np.exp(-((s.g.q - 0.95) / 0.06) ** 2) * (s.g.cells > 0)
    return (img + 0.6 * rim) * (1 - 0.6 * s.nuc)


def _p_intermediate_filaments(rng, s):
    """Long wavy filaments wrapping around the nucleus into the cytoplasm (a perinuclear cage)."""
    ys, xs, angs, ids = [], [], [], []
    for i, c in enumerate(s.g.shapes, 1):
        n = rng.integers(18, 32)
        t = rng.uniform(0, 2 * np.pi, n)
        r = np.sqrt(c.na * c.nb) * rng.uniform(0.9, 1.4, n)
        ys.append(c.ny + r * np.sin(t))
        xs.append(c.nx + r * np.cos(t))
        angs.append(t + np.pi / 2 * rng.choice([-1, 1], n) + rng.normal(0, 0.4, n))  # tangential start
        ids.append(np.full(n, i))
    if not ys:
        return np.zeros_like(s.nuc)
    step = 1.0 * s.u
    y, x = _walks(rng, np.concatenate(ys), np.concatenate(xs), np.concatenate(angs), int(160 * s.u), step, 0.06)
    alive = _inside(s.g.cells, y, x, np.concatenate(ids))
    img = _draw_walks(s.nuc.shape, y, x, alive, rng.lognormal(0, 0.3, len(y)))
    img = _blur(img, 0.8 * s.u)                      # bundles are thicker than single microtubules
    img = np.tanh(img / (np.percentile(img[img > 0], 90) + 1e-6)) if img.any() else img
    return img * (1 - 0.5 * s.nuc)


PATTERNS = (_p_nucleus, _p_nucleoli, _p_nuclear_membrane, _p_golgi, _p_er, _p_vesicles, _p_plasma_membrane,
            _p_mitochondria, _p_cytosol, _p_microtubules, _p_centrosome, _p_actin, _p_intermediate_filaments)


def _protein(rng, s: Scene, labels: list[int]) -> np.ndarray:
    out = np.zeros_like(s.nuc)
    for k in labels:
        out += PATTERNS[k](rng, s).astype(np.float32) * rng.uniform(0.5, 1.0)
    expression = _per_cell(rng, s.g, 0.6)               # cell-to-cell variation of the protein level
    nonspecific = rng.uniform(0.01, 0.05) * (s.cyto + 0.5 * s.nuc)
    return out * expression + nonspecific


# ------------------------------------------------------------------ optics and detector
PHOTONS = {"blue": (80, 200), "green": (90, 260), "yellow": (40, 120), "red": (40, 120)}


def _image(rng, signal: dict[str, np.ndarray], u: float) -> dict[str, np.ndarray]:
    """Stain densities -> what the confocal records (uint16 per stain)."""
    size = signal["red"].shape[0]
    yy, xx = np.ogrid[0:size, 0:size]
    yy, xx = yy.astype(np.float32) / size, xx.astype(np.float32) / size
    cy, cx = rng.uniform(0.2, 0.8, 2)
    # uneven illumination: vignetting around an off-centre optical axis, and a slow ripple
    illum = (1 - rng.uniform(0.1, 0.4) * ((yy - cy) ** 2 + (xx - cx) ** 2) / 0.5) \
        * (1 + 0.06 * _noise(rng, (size, size), 60 * u))
    # crosstalk: each dye bleeds a little into the next detector up the spectrum
    sig = {k: v.copy() for k, v in signal.items()}
    sig["green"] += rng.uniform(0.005, 0.03) * signal["blue"]
    sig["yellow"] += rng.uniform(0.01, 0.05) * signal["green"]
    sig["red"] += rng.uniform(0.005, 0.03) * signal["yellow"]
    out = {}
    # acquired one after another: later stains are more bleached, and bleaching grows along the scan (rows)
    for order, colour in enumerate(("blue", "green", "yellow", "red")):
        bleach = np.exp(-rng.uniform(0, 0.08) * order) * (1 - rng.uniform(0, 0.1) * yy)
        s = sig[colour] * illum * bleach * np.exp(rng.normal(0, 0.25))       # exposure / staining strength
        s = s + rng.uniform(0.05, 0.2) * _haze(s, 10 * u)                    # out-of-focus light
        psf = 1.2 * u * {"blue": 0.85, "green": 1.0, "yellow": 1.05, "red": 1.1}[colour]
        s = _blur(s, psf) + rng.uniform(0.001, 0.006)                        # autofluorescence / background
        photons = rng.uniform(*PHOTONS[colour])                              # photons at unit signal: the SNR
        gain, offset, read = rng.uniform(8, 20), rng.uniform(100, 400), rng.uniform(2, 6)
        counts = rng.poisson(np.clip(s, 0, None) * photons).astype(np.float32)
        adu = counts * gain + (offset + read * rng.standard_normal(s.shape, dtype=np.float32))
        out[colour] = np.clip(np.rint(adu), 0, 65535).astype(np.uint16)
    return out


def simulate_fov(size: int, seed: int, index: int, labels: list[int] | None = None) -> Fov:
    """One field of view, determined by (seed, index) alone; `labels` overrides its classes (for tests)."""
    labels = fov_labels(seed, index) if labels is None else sorted(labels)
    rng = np.random.default_rng([seed, index, 2])
    s = _scene(rng, size)
    signal = {"blue": _dna(rng, s), "red": _tubulin(rng, s), "yellow": s.er * _per_cell(rng, s.g, 0.2),
              "green": _protein(rng, s, labels)}
    stains = _image(rng, signal, s.u)
    min_area = max(4, int(30 * s.u ** 2))
    cells = _consecutive(s.g.cells, min_area)
    nuclei = _consecutive(np.where(cells > 0, s.g.nuclei, 0), min_area)   # numbered on their own, 1..m
    return Fov(fov_id(index), labels, stains, nuclei, cells)


def write_fov(fov: Fov, out: Path) -> None:
    for colour in COLOURS:
        with atomic_path(out / "images" / f"{fov.id}_{colour}.tif") as tmp:
            tifffile.imwrite(tmp, fov.stains[colour], compression="zlib", compressionargs={"level": 1},
                             predictor=True, metadata=None)
    write_png(out / "masks" / f"{fov.id}_nuclei.png", fov.nuclei)
    write_png(out / "masks" / f"{fov.id}_cells.png", fov.cells)


def _one_thread() -> None:
    cv2.setNumThreads(1)                  # the pool is the parallelism; keep OpenCV from oversubscribing


def _job(args: tuple[int, int, int, str]) -> tuple[str, list[int]]:
    size, seed, index, out = args
    fov = simulate_fov(size, seed, index)
    write_fov(fov, Path(out))
    return fov.id, fov.labels


def simulate(params: SyntheticSource, seed: int, out: Path) -> None:
    """Write params.n_fov simulated FOVs of params.size pixels into the existing directory `out` in the raw layout:
    images/<id>_<colour>.tif (uint16), masks/<id>_{nuclei,cells}.png (uint16 labels), labels.csv (id,labels)."""
    out = Path(out)
    if not out.is_dir():
        fail(f"{out}: output directory for the synthetic source does not exist")
    (out / "images").mkdir(exist_ok=True)
    (out / "masks").mkdir(exist_ok=True)
    jobs = [(params.size, seed, i, str(out)) for i in range(params.n_fov)]
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
