"""Softmax and cross-entropy on single samples."""

from __future__ import annotations

import math

import pytest

from nnott.errors import ConfigError
from nnott.scalar import cross_entropy, softmax, softmax_cross_entropy_gradient


def test_softmax_is_a_distribution_and_ignores_a_common_shift() -> None:
    logits = [1.0, -2.0, 0.5, 3.0]
    probabilities = softmax(logits)
    assert sum(probabilities) == pytest.approx(1.0)
    assert all(p > 0.0 for p in probabilities)
    shifted = softmax([z + 100.0 for z in logits])
    assert shifted == pytest.approx(probabilities)


def test_cross_entropy_is_minus_log_of_the_true_class_probability() -> None:
    logits = [0.3, -1.1, 2.0]
    for label in range(3):
        assert cross_entropy(logits, label) == pytest.approx(-math.log(softmax(logits)[label]))


def test_cross_entropy_stays_finite_when_the_probability_underflows() -> None:
    loss = cross_entropy([1000.0, -1000.0], 1)
    assert loss == pytest.approx(2000.0)


def test_gradient_is_p_minus_one_hot_and_matches_finite_differences() -> None:
    logits, label, step = [0.2, -0.4, 1.3], 2, 1e-6
    analytic = softmax_cross_entropy_gradient(softmax(logits), label)
    for k in range(3):
        up = [z + (step if m == k else 0.0) for m, z in enumerate(logits)]
        down = [z - (step if m == k else 0.0) for m, z in enumerate(logits)]
        numeric = (cross_entropy(up, label) - cross_entropy(down, label)) / (2.0 * step)
        assert analytic[k] == pytest.approx(numeric, rel=1e-6)
    assert sum(analytic) == pytest.approx(0.0, abs=1e-12)


def test_labels_outside_the_classes_are_refused() -> None:
    with pytest.raises(ConfigError, match="label 3 is outside the 3 classes"):
        cross_entropy([0.0, 0.0, 0.0], 3)
