"""Segmentation on a drawn image with known nuclei and cells, and the scores on arrays with known answers."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from msrgan.segmentation.scores import count, dice, iou, iou_matrix, object_f1, scores
from msrgan.segmentation.segment import segment, segment_cells, segment_nuclei

CENTRES = [(20, 20), (20, 70), (60, 30), (66, 44), (75, 78)]   # (60,30) and (66,44) touch


def drawn(size: int = 96, radius: float = 7.0, seed: int = 0):
    """Nuclei as bright disks on the blue channel, cells as dimmer disks around them on red, with noise and blur."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    nuclei = np.zeros((size, size), np.int32)
    cells = np.zeros((size, size), np.int32)
    dist_cell = np.full((size, size), np.inf)
    for k, (cy, cx) in enumerate(CENTRES, start=1):
        d = np.hypot(yy - cy, xx - cx)
        nuclei[d <= radius] = k
        closer = (d < dist_cell) & (d <= 13)      # cells: nearest nucleus within 13 px
        cells[closer] = k
        dist_cell = np.where(closer, d, dist_cell)
    blue = np.where(nuclei > 0, 180.0, 10.0)
    inner = ndi.distance_transform_edt(cells > 0)   # cells dim towards their edge
    border = ndi.morphological_gradient(cells, size=2) > 0
    red = np.where(cells > 0, 60 + 80 * np.clip(inner / 5, 0, 1), 8.0) * np.where(border, 0.5, 1.0)
    image = np.stack([red, np.full_like(red, 10.0), blue], axis=-1)
    image = ndi.gaussian_filter(image, (0.8, 0.8, 0)) + rng.normal(0, 3, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), nuclei, cells


def test_nuclei_are_found_and_touching_ones_split():
    image, truth, _ = drawn()
    labels = segment_nuclei(image[..., 2])
    assert count(labels) == len(CENTRES)
    assert dice(labels, truth) > 0.9
    assert object_f1(labels, truth) == 1.0


def test_cells_grow_from_the_nuclei():
    image, nuclei_truth, cells_truth = drawn()
    nuclei, cells = segment(image)
    assert count(cells) == count(nuclei) == len(CENTRES)
    assert dice(cells, cells_truth) > 0.85
    assert object_f1(cells, cells_truth) == 1.0
    assert np.all(cells[nuclei > 0] > 0)           # every nucleus lies inside a cell


def test_blank_images_give_no_objects():
    blank = np.full((48, 48), 7, np.uint8)
    assert count(segment_nuclei(blank)) == 0
    assert count(segment_cells(blank, np.zeros((48, 48), np.int32))) == 0


def test_dice_and_iou_by_hand():
    a = np.zeros((10, 10), int)
    b = np.zeros((10, 10), int)
    a[0:4, 0:4] = 1          # 16 px
    b[2:6, 0:4] = 1          # 16 px, overlap 8
    assert dice(a, b) == pytest.approx(2 * 8 / 32)
    assert iou(a, b) == pytest.approx(8 / 24)
    empty = np.zeros((5, 5), int)
    assert dice(empty, empty) == iou(empty, empty) == object_f1(empty, empty) == 1.0
    assert dice(a, np.zeros_like(a)) == 0.0


def test_iou_matrix_matches_brute_force():
    rng = np.random.default_rng(1)
    pred = rng.integers(0, 4, (12, 12))
    ref = rng.integers(0, 3, (12, 12))
    m = iou_matrix(pred, ref)
    for i in range(1, 4):
        for j in range(1, 3):
            p, r = pred == i, ref == j
            assert m[i - 1, j - 1] == pytest.approx((p & r).sum() / (p | r).sum())


def test_object_f1_with_a_split_and_a_missed_object():
    ref = np.zeros((20, 40), int)
    ref[2:10, 2:10] = 1
    ref[2:10, 20:28] = 2
    ref[12:18, 30:36] = 3
    pred = np.zeros_like(ref)
    pred[2:10, 2:10] = 1      # exact
    pred[2:10, 20:24] = 2     # object 2 split in two halves: IoU 0.5 each, not above 0.5
    pred[2:10, 24:28] = 3
    # object 3 missed: TP 1, FP 2, FN 2 -> F1 = 2 / (3 + 3)
    assert object_f1(pred, ref) == pytest.approx(2 / 6)
    s = scores(pred, ref)
    assert s["count"] == 3 and s["count_ref"] == 3 and s["count_error"] == 0
