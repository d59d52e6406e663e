"""Finite-difference gradient checks (float64) of every module, in training and in
evaluation mode, through the reusable checker in nnott.vectorized.gradcheck."""

from __future__ import annotations

import numpy as np
import pytest

from nnott.backend import seed, to_device
from nnott.errors import ConfigError
from nnott.vectorized import (
    ACTIVATIONS,
    BatchNorm1d,
    Dropout,
    Flatten,
    Linear,
    Module,
    SoftmaxCrossEntropy,
    get_activation,
    mlp,
)
from nnott.vectorized.gradcheck import check_gradients, check_loss_gradients


def away_from_kinks(shape: tuple[int, ...]) -> np.ndarray:
    """Inputs at least 0.05 away from every kink (0, +-3, 6), where derivatives jump."""
    values = np.random.default_rng(1).uniform(-7.0, 7.0, shape)
    for kink in (0.0, 3.0, -3.0, 6.0):
        near = np.abs(values - kink) < 0.05
        values[near] = kink + 0.1
    return values


@pytest.fixture(autouse=True)
def _seeded():
    seed(11)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_gradients(name):
    errors = check_gradients(get_activation(name), away_from_kinks((3, 5)))
    assert set(errors) == {"input"}


@pytest.mark.parametrize("training", [True, False])
def test_linear_gradients(training):
    layer = Linear(4, 3, dtype="float64").train(training)
    errors = check_gradients(layer, np.random.default_rng(2).standard_normal((5, 4)))
    assert set(errors) == {"input", "weight", "bias"}


def test_linear_without_bias():
    check_gradients(Linear(3, 2, bias=False, dtype="float64"), np.ones((2, 3)))


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_gradients(training):
    bn = BatchNorm1d(3, dtype="float64")
    bn.weight.data[...] = to_device(np.array([0.5, 1.5, -1.0]))
    bn.bias.data[...] = to_device(np.array([0.1, -0.2, 0.3]))
    bn.running_mean[...] = to_device(np.array([0.2, -0.1, 0.0]))
    bn.running_var[...] = to_device(np.array([1.5, 0.5, 2.0]))
    bn.train(training)
    x = np.random.default_rng(3).standard_normal((6, 3)) * 2.0 + 1.0
    errors = check_gradients(bn, x)
    assert set(errors) == {"input", "weight", "bias"}


@pytest.mark.parametrize("training", [True, False])
def test_dropout_gradients_with_a_fixed_mask(training):
    dropout = Dropout(0.4).train(training)

    def same_mask() -> None:
        dropout.generator = np.random.default_rng(5)

    check_gradients(
        dropout, np.random.default_rng(4).standard_normal((4, 6)), before_forward=same_mask
    )


def test_flatten_gradients():
    check_gradients(Flatten(), np.random.default_rng(6).standard_normal((2, 3, 2)))


@pytest.mark.parametrize("training", [True, False])
def test_whole_mlp_gradients(training):
    model = mlp(
        6, [5, 4], 3, activations=["tanh", "gelu"], batchnorm=True, dropout=0.3, dtype="float64"
    ).train(training)
    dropouts = [layer for layer in model if isinstance(layer, Dropout)]

    def same_masks() -> None:
        for index, layer in enumerate(dropouts):
            layer.generator = np.random.default_rng(index)

    errors = check_gradients(
        model, np.random.default_rng(7).standard_normal((5, 2, 3)), before_forward=same_masks
    )
    assert "1.weight" in errors and "2.weight" in errors


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_loss_gradients_for_labels_and_soft_targets(smoothing):
    logits = np.random.default_rng(8).standard_normal((4, 5)) * 3.0
    labels = to_device(np.array([0, 4, 2, 2]))
    soft = np.random.default_rng(9).uniform(size=(4, 5))
    soft = to_device(soft / soft.sum(axis=1, keepdims=True))
    check_loss_gradients(SoftmaxCrossEntropy(smoothing), logits, labels)
    check_loss_gradients(SoftmaxCrossEntropy(smoothing), logits, soft)


class WrongSigmoid(Module):
    """A deliberately broken module: the derivative lacks the factor (1 - s)."""

    def forward(self, x):
        from nnott.vectorized.activations import sigmoid

        self._s = sigmoid(x)
        return self._s

    def backward(self, grad_output):
        return grad_output * self._s


def test_the_checker_catches_a_wrong_backward():
    with pytest.raises(AssertionError, match="WrongSigmoid gradients are wrong"):
        check_gradients(WrongSigmoid(), np.linspace(-2.0, 2.0, 6).reshape(2, 3))


def test_the_checker_demands_float64():
    with pytest.raises(ConfigError, match="float64"):
        check_gradients(Linear(2, 2), np.ones((1, 2)))
