"""The protein stain (green): the 13 HPA localisation classes as patterns built on the scene, in the order of
msrgan.classes, each a float32 H x W density about 1 where it is bright; a FOV's protein is one to three of them."""
from __future__ import annotations

import cv2
import numpy as np

from msrgan.data.optics import blur
from msrgan.data.simulator.drawing import draw_walks, inside, smooth_noise, splat, walks
from msrgan.data.simulator.markers import Scene, per_cell


def _p_nucleus(rng, s):
    speckle = np.clip(1 + 0.35 * smooth_noise(rng, s.nuc.shape, 2 * s.u), 0, None) if rng.random() < 0.5 else 1.0
    return s.nuc * (1 - 0.8 * s.nucleoli) * speckle * (0.85 + 0.2 * smooth_noise(rng, s.nuc.shape, 3 * s.u))


def _p_nucleoli(rng, s):
    return s.nucleoli * (0.8 + 0.2 * smooth_noise(rng, s.nuc.shape, 1.5 * s.u)) + 0.05 * s.nuc


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
    img = blur(splat(s.nuc.shape, np.concatenate(ys), np.concatenate(xs), np.concatenate(ws)), sigma * s.u)
    return img / (img.max() + 1e-6) * 1.5 * (s.g.cells > 0)


def _p_er(rng, s):
    return s.er


def _cyto_points(rng, s, density, bias):
    """Random points in each cell's cytoplasm (`density` per cell of 60 px radius at 512), denser towards the
    nucleus when bias > 0."""
    ys, xs = [], []
    for c in s.g.shapes:
        n = int(density * c.a * c.b / (60 * s.u) ** 2)
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
    img = blur(splat(s.nuc.shape, y, x, rng.lognormal(0, 0.5, len(y))), 1.0 * s.u)
    img = img / (np.percentile(img[img > 0], 99.5) + 1e-6) if img.any() else img
    return img + 0.12 * _perinuclear(s)


def _p_plasma_membrane(rng, s):
    lab = s.g.cells.astype(np.float32)
    k = np.ones((3, 3), np.uint8)
    edge = (cv2.dilate(lab, k) != cv2.erode(lab, k)).astype(np.float32)
    edge = blur(edge, 1.0 * s.u) * 2.5
    return np.clip(edge, 0, 1.2) * (0.7 + 0.3 * smooth_noise(rng, lab.shape, 3 * s.u)) + 0.08 * s.cyto


def _p_mitochondria(rng, s):
    y0, x0 = _cyto_points(rng, s, 200, 1.6)
    n_steps = max(3, int(6 * s.u))
    y, x = walks(rng, y0, x0, rng.uniform(0, 2 * np.pi, len(y0)), n_steps, 1.0 * s.u, 0.35)
    ids = s.g.cells[np.clip(np.rint(y0).astype(int), 0, s.size - 1), np.clip(np.rint(x0).astype(int), 0, s.size - 1)]
    alive = inside(s.g.cells, y, x, ids) & (np.arange(n_steps) < rng.integers(3, n_steps + 1, len(y0))[:, None])
    img = draw_walks(s.nuc.shape, y, x, alive, rng.lognormal(0, 0.3, len(y0)))
    img = np.tanh(img / (np.percentile(img[img > 0], 90) + 1e-6)) if img.any() else img
    return (img + 0.15 * s.cyto) * _perinuclear(s) ** 1.5   # a dense network around the nucleus


def _p_cytosol(rng, s):
    return (s.cyto + 0.2 * s.nuc) * (0.85 + 0.2 * smooth_noise(rng, s.nuc.shape, 3 * s.u)) \
        * np.clip(1.2 - 0.3 * s.g.q, 0, 1)


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
    img = blur(splat(s.nuc.shape, np.concatenate(ys), np.concatenate(xs), np.ones(sum(map(len, ys)))), 2.0 * s.u)
    halo = blur(img, 5 * s.u)                          # pericentriolar material around the centrioles
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
    y, x = walks(rng, np.concatenate(ys), np.concatenate(xs), np.concatenate(angs), n_steps, step, 0.004)
    h, w = s.g.cells.shape
    yi, xi = np.clip(np.rint(y).astype(int), 0, h - 1), np.clip(np.rint(x).astype(int), 0, w - 1)
    own = s.g.cells[yi, xi] == np.concatenate(ids)[:, None]          # fibres cross the cell, not the neighbour
    wts = rng.lognormal(0, 0.4, len(y))
    img = draw_walks(s.nuc.shape, y, x, own, wts)
    img = blur(img, 0.8 * s.u)                      # bundles are thicker than single filaments
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
    y, x = walks(rng, np.concatenate(ys), np.concatenate(xs), np.concatenate(angs), int(160 * s.u), step, 0.06)
    alive = inside(s.g.cells, y, x, np.concatenate(ids))
    img = draw_walks(s.nuc.shape, y, x, alive, rng.lognormal(0, 0.3, len(y)))
    img = blur(img, 0.8 * s.u)                      # bundles are thicker than single microtubules
    img = np.tanh(img / (np.percentile(img[img > 0], 90) + 1e-6)) if img.any() else img
    return img * (1 - 0.5 * s.nuc)


PATTERNS = (_p_nucleus, _p_nucleoli, _p_nuclear_membrane, _p_golgi, _p_er, _p_vesicles, _p_plasma_membrane,
            _p_mitochondria, _p_cytosol, _p_microtubules, _p_centrosome, _p_actin, _p_intermediate_filaments)


def protein(rng, s: Scene, labels: list[int]) -> np.ndarray:
    """The green stain of a FOV with these classes (indices into PATTERNS): each pattern at a random weight, a
    per-cell expression level and some nonspecific background."""
    out = np.zeros_like(s.nuc)
    for k in labels:
        out += PATTERNS[k](rng, s).astype(np.float32) * rng.uniform(0.5, 1.0)
    expression = per_cell(rng, s.g, 0.6)               # cell-to-cell variation of the protein level
    nonspecific = rng.uniform(0.01, 0.05) * (s.cyto + 0.5 * s.nuc)
    return out * expression + nonspecific
