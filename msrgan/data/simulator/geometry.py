"""The specimen's geometry: cells of varied shape touching in colonies, each with a nucleus, nucleoli and a
centrosome; rasterised to label images (the true masks). Lengths are in pixels; `u` is pixels per pixel of a
512-pixel field, so the same field is drawn finer at a larger size."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from msrgan.data.simulator.drawing import smooth_noise


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


@dataclass
class Geometry:
    cells: np.ndarray        # int32 labels 0..n (index into `shapes` + 1)
    nuclei: np.ndarray       # int32 labels 0..n, the nucleus of cell i carries label i
    q: np.ndarray            # normalised distance within the cell (0 centre, 1 outline)
    qn: np.ndarray           # normalised distance to the nearest nucleus (< 1 inside)
    shapes: list[Cell]


def outline(theta: np.ndarray, harm: np.ndarray) -> np.ndarray:
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


def place_cells(rng, size: int, u: float) -> list[Cell]:
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


def rasterise(cells: list[Cell], size: int, rng) -> Geometry:
    """Label images: each pixel goes to the cell whose outline-normalised distance is smallest (touching cells
    share a curved border, as in a weighted Voronoi diagram); a nucleus is kept only inside its own cell."""
    shape = (size, size)
    best = np.full(shape, np.inf, np.float32)
    lab = np.zeros(shape, np.int32)
    bestn = np.full(shape, np.inf, np.float32)
    labn = np.zeros(shape, np.int32)
    # ragged outlines where a cell meets the background (neighbours share the factor: their border is unchanged)
    wobble = 1 + 0.05 * smooth_noise(rng, shape, 9 * size / 512) + 0.02 * smooth_noise(rng, shape, 3 * size / 512)
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


def relabel(labels: np.ndarray, min_area: int) -> np.ndarray:
    """Relabel to 1..n (uint16) in order of the old labels, dropping objects smaller than min_area pixels."""
    counts = np.bincount(labels.ravel())
    keep = np.flatnonzero(counts >= min_area)
    keep = keep[keep > 0]
    lut = np.zeros(len(counts), np.uint16)
    lut[keep] = np.arange(1, len(keep) + 1)
    return lut[labels]


def nucleoli(rng, g: Geometry, size: int) -> np.ndarray:
    """Float32 mask (0..1, anti-aliased) of one to four nucleoli per interphase nucleus."""
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


def centrosomes(rng, g: Geometry) -> np.ndarray:
    """(n, 2) y, x per cell, beside the nucleus on a random side: where the microtubule aster and the Golgi sit."""
    out = []
    for c in g.shapes:
        t = rng.uniform(0, 2 * np.pi)
        # radius of the nucleus outline in direction t (ellipse frame), then just outside it
        u, v = np.cos(t - c.no), np.sin(t - c.no)
        r = 1 / np.sqrt((u / c.na) ** 2 + (v / c.nb) ** 2)
        r *= outline(np.array([np.arctan2(v * c.na, u * c.nb)]), c.nharm)[0] * 1.12
        out.append((c.ny + r * np.sin(t), c.nx + r * np.cos(t)))
    return np.array(out, np.float64).reshape(-1, 2)
