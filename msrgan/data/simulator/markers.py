"""The specimen's shared structures and the three reference markers HPA stains every field with: the nucleus
(DAPI, blue), microtubules (anti-tubulin, red) and the endoplasmic reticulum (yellow). Each is a float32 H x W
density, about 1 where the stain is bright."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from msrgan.data.simulator.drawing import draw_walks, inside, smooth_noise, walks
from msrgan.data.simulator.geometry import Geometry, centrosomes, nucleoli, place_cells, rasterise


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


def build_scene(rng, size: int) -> Scene:
    """Cells, nuclei, nucleoli, centrosomes and the microtubule and ER networks of a `size` x `size` field."""
    u = size / 512
    g = rasterise(place_cells(rng, size, u), size, rng)
    nuc = (g.nuclei > 0).astype(np.float32)
    cyto = ((g.cells > 0) & (g.nuclei == 0)).astype(np.float32)
    cen = centrosomes(rng, g)
    mt = _microtubules(rng, g, cen, size, u)
    # ER: dense around the nucleus (and continuous with its envelope), sparse towards the periphery
    near = np.clip(1.15 - g.q, 0, 1) ** 0.8 * cyto
    envelope = np.exp(-((g.qn - 1) / 0.08) ** 2) * (g.cells > 0)
    er = (near + 0.5 * envelope) * (0.35 + _reticulum(rng, (size, size), u))
    return Scene(g, size, u, nuc, cyto, nucleoli(rng, g, size), cen, mt, er)


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
    y, x = walks(rng, np.concatenate(ys), np.concatenate(xs), np.concatenate(angs), n_steps, step, 0.06)
    alive = inside(g.cells, y, x, np.concatenate(ids))
    return draw_walks((size, size), y, x, alive, np.concatenate(ws))


def _reticulum(rng, shape, u: float) -> np.ndarray:
    """A network of tubules: the zero crossings of band-passed noise (closed polygonal loops, like the ER)."""
    n = smooth_noise(rng, shape, 2.2 * u) - 0.6 * smooth_noise(rng, shape, 5 * u)
    n /= n.std()
    return np.exp(-(n / 0.45) ** 2)


def per_cell(rng, g: Geometry, sigma: float) -> np.ndarray:
    """A lognormal factor per cell, as a map (index 0 = background)."""
    return np.r_[0.0, np.exp(rng.normal(0, sigma, len(g.shapes)))].astype(np.float32)[g.cells]


def dna(rng, s: Scene) -> np.ndarray:
    """DAPI: chromatin texture, dimmer towards the nucleus' edge and in nucleoli; condensed in mitosis."""
    g, u = s.g, s.u
    level = np.r_[0.0, [2.2 if c.mitotic else 1.0 for c in g.shapes]].astype(np.float32)[g.nuclei]
    level *= np.r_[0.0, np.exp(rng.normal(0, 0.22, len(g.shapes)))].astype(np.float32)[g.nuclei]
    chromatin = 1 + 0.12 * smooth_noise(rng, (s.size, s.size), 1.2 * u) \
        + 0.2 * smooth_noise(rng, (s.size, s.size), 4 * u)
    thickness = np.clip(1 - g.qn ** 2, 0, 1) ** 0.4     # a rounded nucleus: dimmer towards its edge
    return level * s.nuc * np.clip(chromatin, 0.2, None) * thickness * (1 - 0.8 * s.nucleoli)


def tubulin(rng, s: Scene) -> np.ndarray:
    """Anti-tubulin: the microtubule filaments, gathered in bundles, over a diffuse cytoplasmic pool."""
    cell = (s.g.cells > 0).astype(np.float32)
    mt = s.mt / (np.percentile(s.mt[s.mt > 0], 99) + 1e-6) if s.mt.any() else s.mt
    diffuse = 0.4 * cell * (1.1 - 0.5 * np.clip(s.g.q, 0, 1)) * (1 + 0.2 * smooth_noise(rng, s.mt.shape, 10 * s.u))
    bundles = np.clip(1 + 0.9 * smooth_noise(rng, s.mt.shape, 4 * s.u), 0.1, None)   # filaments gather in bundles
    return (np.tanh(mt * bundles) + diffuse) * per_cell(rng, s.g, 0.3) * (1 - 0.45 * s.nuc)


def er(rng, s: Scene) -> np.ndarray:
    """The ER marker: the reticulum, its level varying from cell to cell."""
    return s.er * per_cell(rng, s.g, 0.2)
