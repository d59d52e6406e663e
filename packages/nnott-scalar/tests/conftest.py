"""Shared helpers for the scalar tier's tests."""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy
import pytest

from nnott.backend import seed
from nnott.scalar import Gradients, Network


@pytest.fixture(autouse=True)
def _seeded() -> None:
    """Every test starts from the same host generator state."""
    seed(1234)


def random_batch(
    num_inputs: int, num_classes: int, size: int, *, seed_value: int = 0
) -> tuple[list[list[float]], list[int]]:
    """A reproducible batch of inputs in [-1, 1] with labels."""
    rng = random.Random(seed_value)
    inputs = [[rng.uniform(-1.0, 1.0) for _ in range(num_inputs)] for _ in range(size)]
    labels = [rng.randrange(num_classes) for _ in range(size)]
    return inputs, labels


def numeric_gradients(network: Network, loss: Callable[[], float], step: float = 1e-6) -> Gradients:
    """Central finite differences of ``loss()`` for every weight and bias of ``network``."""
    grads = Gradients.zeros(network.layer_sizes)
    for index, layer in enumerate(network.layers):
        for j, neuron in enumerate(layer.neurons):
            for i in range(neuron.num_inputs):
                original = neuron.weights[i]
                neuron.weights[i] = original + step
                plus = loss()
                neuron.weights[i] = original - step
                minus = loss()
                neuron.weights[i] = original
                grads.weights[index][j][i] = (plus - minus) / (2.0 * step)
            original = neuron.bias
            neuron.bias = original + step
            plus = loss()
            neuron.bias = original - step
            minus = loss()
            neuron.bias = original
            grads.biases[index][j] = (plus - minus) / (2.0 * step)
    return grads


def flatten(grads: Gradients) -> list[float]:
    """Every gradient in one list (weights then biases, layer by layer)."""
    values: list[float] = []
    for layer_weights, layer_biases in zip(grads.weights, grads.biases, strict=True):
        for row in layer_weights:
            values.extend(row)
        values.extend(layer_biases)
    return values


def assert_close(actual: list[float], expected: list[float], rtol: float, atol: float) -> None:
    """Element-wise closeness with a readable failure (host NumPy for the comparison only)."""
    numpy.testing.assert_allclose(numpy.array(actual), numpy.array(expected), rtol=rtol, atol=atol)
