"""Classical nucleus and cell segmentation with scikit-image, the same procedure for every image it is given.

Nuclei: the DAPI channel (blue) smoothed, Otsu-thresholded, split where they touch by a watershed on the distance
transform. Cells: the nuclei as seeds, grown by a watershed inside the cell foreground (Otsu on the smoothed
microtubule channel, scaled, plus the nuclei) over a landscape that mixes the microtubule intensity (borders follow
dim valleys) with the distance from the nucleus (like CellProfiler's Propagate); a cell is what one nucleus claims.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.feature import peak_local_max
from skimage.filters import gaussian, threshold_otsu
from skimage.measure import label
from skimage.segmentation import relabel_sequential, watershed

from msrgan.params import CellSegmentation, NucleiSegmentation   # segment.nuclei / segment.cells


def _smooth(channel: np.ndarray, sigma: float) -> np.ndarray:
    x = channel.astype(np.float64)
    return gaussian(x, sigma=sigma, preserve_range=True) if sigma > 0 else x


def _otsu(x: np.ndarray) -> float | None:
    return None if np.ptp(x) == 0 else float(threshold_otsu(x))


def segment_nuclei(blue: np.ndarray, settings: NucleiSegmentation = NucleiSegmentation()) -> np.ndarray:
    """Label image (int32, 0 background, 1..n) of the nuclei in a DAPI channel."""
    smooth = _smooth(blue, settings.sigma)
    level = _otsu(smooth)
    if level is None:
        return np.zeros(blue.shape, np.int32)
    fg = _clean(label(ndi.binary_fill_holes(smooth > level)), settings.min_area) > 0
    if not fg.any():
        return np.zeros(blue.shape, np.int32)
    dist = ndi.distance_transform_edt(fg)
    dist = gaussian(dist, sigma=0.7, preserve_range=True)  # one peak per nucleus, not one per plateau pixel
    objects = label(fg)
    peaks = peak_local_max(dist, min_distance=settings.min_distance, labels=objects, exclude_border=False)
    markers = np.zeros(blue.shape, np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    # objects without a peak (tiny, flat) keep one marker each so that none is lost
    unseeded = np.setdiff1d(np.unique(objects[fg]), np.unique(objects[markers > 0]))
    for k, obj in enumerate(unseeded, start=len(peaks) + 1):
        rr, cc = np.nonzero(objects == obj)
        markers[rr[len(rr) // 2], cc[len(cc) // 2]] = k
    labels = watershed(-dist, markers, mask=fg)
    return _clean(labels, settings.min_area)


def segment_cells(red: np.ndarray, nuclei: np.ndarray, settings: CellSegmentation = CellSegmentation()) -> np.ndarray:
    """Label image of the cells: each nucleus grown through the microtubule channel to its cell's edge."""
    if nuclei.max() == 0:
        return np.zeros(red.shape, np.int32)
    smooth = _smooth(red, settings.sigma)
    level = _otsu(smooth)
    fg = nuclei > 0
    if level is not None:
        fg = fg | (smooth > settings.threshold_scale * level)
    fg = ndi.binary_fill_holes(fg)
    landscape = -smooth / max(float(smooth.max()), 1e-12) \
        + settings.distance_weight * ndi.distance_transform_edt(nuclei == 0) / 10
    labels = watershed(landscape, nuclei, mask=fg)
    return _clean(labels, settings.min_area)


def _clean(labels: np.ndarray, min_area: int) -> np.ndarray:
    if min_area > 1:
        sizes = np.bincount(labels.ravel())
        small = np.flatnonzero(sizes < min_area)
        labels = np.where(np.isin(labels, small[small > 0]), 0, labels)
    return relabel_sequential(labels.astype(np.int32))[0]


def segment(image: np.ndarray, nuclei: NucleiSegmentation = NucleiSegmentation(),
            cells: CellSegmentation = CellSegmentation()) -> tuple[np.ndarray, np.ndarray]:
    """(nuclei labels, cell labels) of an RGB image (R microtubules, G protein, B nucleus)."""
    n = segment_nuclei(image[..., 2], nuclei)
    return n, segment_cells(image[..., 0], n, cells)
