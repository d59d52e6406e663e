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


def test_soft_cross_entropy_of_a_one_hot_target_is_the_hard_one() -> None:
    from nnott.scalar.losses import soft_cross_entropy

    logits = [0.3, -1.1, 2.0]
    for label in range(3):
        one_hot = [1.0 if k == label else 0.0 for k in range(3)]
        assert soft_cross_entropy(logits, one_hot) == pytest.approx(cross_entropy(logits, label))


def test_soft_gradient_is_p_minus_t_and_matches_finite_differences() -> None:
    from nnott.scalar.losses import soft_cross_entropy, soft_cross_entropy_gradient

    logits, targets, step = [0.2, -0.4, 1.3], [0.7, 0.0, 0.3], 1e-6
    analytic = soft_cross_entropy_gradient(softmax(logits), targets)
    for k in range(3):
        up = [z + (step if m == k else 0.0) for m, z in enumerate(logits)]
        down = [z - (step if m == k else 0.0) for m, z in enumerate(logits)]
        numeric = (soft_cross_entropy(up, targets) - soft_cross_entropy(down, targets)) / (
            2.0 * step
        )
        assert analytic[k] == pytest.approx(numeric, rel=1e-6)
    with pytest.raises(ConfigError, match="2 target probabilities for 3 classes"):
        soft_cross_entropy(logits, [0.5, 0.5])
