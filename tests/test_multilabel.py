"""Per-class average precision as scikit-learn defines it (known answers, ties included) and the F1 scores."""
import numpy as np
import pytest

from msrgan.multilabel import average_precision, f1_scores


def test_average_precision_known_answers():
    # scikit-learn's documented example: average_precision_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.8333...
    assert average_precision(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == pytest.approx(5 / 6)
    assert average_precision(np.array([0.9, 0.2]), np.array([1, 0])) == 1.0
    assert average_precision(np.array([0.9, 0.2]), np.array([0, 0])) is None


def test_tied_scores_are_one_threshold_whatever_their_order():
    # a positive and a negative with the same score: precision 1/2 at recall 1, in either order
    assert average_precision(np.array([0.8, 0.8]), np.array([1, 0])) == 0.5
    assert average_precision(np.array([0.8, 0.8]), np.array([0, 1])) == 0.5
    # 0.9 (pos) | 0.5, 0.5, 0.5 (pos, neg, pos) | 0.1 (neg): 1/3 of recall at precision 1, 2/3 at precision 3/4
    scores, truth = np.array([0.5, 0.9, 0.5, 0.1, 0.5]), np.array([1, 1, 0, 0, 1])
    assert average_precision(scores, truth) == pytest.approx(1 / 3 + 2 / 3 * 3 / 4)
    rng = np.random.default_rng(0)
    for _ in range(5):
        p = rng.permutation(5)
        assert average_precision(scores[p], truth[p]) == pytest.approx(1 / 3 + 2 / 3 * 3 / 4)


def test_f1_scores_known_answer():
    truth = np.array([[1, 0], [1, 1], [0, 0]], bool)
    pred = np.array([[1, 1], [0, 1], [0, 0]], bool)
    # class 0: tp 1, fn 1 -> 2/3; class 1: tp 1, fp 1 -> 2/3; micro: tp 2, fp 1, fn 1 -> 4/6
    assert f1_scores(pred, truth) == pytest.approx((2 / 3, 2 / 3))
