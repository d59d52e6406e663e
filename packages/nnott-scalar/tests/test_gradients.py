"""Back-propagation against finite differences, for every activation and several depths."""

from __future__ import annotations

import numpy
import pytest
from conftest import assert_close, flatten, numeric_gradients, random_batch

from nnott.scalar import ACTIVATION_NAMES, Gradients, Network

DEPTHS = {"no hidden layer": [3, 2], "one hidden": [3, 4, 3], "two hidden": [3, 4, 3, 2]}


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
@pytest.mark.parametrize("sizes", DEPTHS.values(), ids=DEPTHS.keys())
def test_gradients_match_finite_differences(activation: str, sizes: list[int]) -> None:
    network = Network(sizes, [activation] * (len(sizes) - 2), rng=numpy.random.default_rng(7))
    # Non-zero biases exercise every bias path and keep sums off the ReLU kink at 0.
    biases = [[0.1 * (j - 1) + 0.05 for j in range(size)] for size in sizes[1:]]
    network.set_weights(network.get_weights(), biases)
    inputs, labels = random_batch(sizes[0], sizes[-1], 5, seed_value=3)

    loss, grads = network.loss_and_gradients(inputs, labels)
    numeric = numeric_gradients(network, lambda: network.loss(inputs, labels))

    assert loss == pytest.approx(network.loss(inputs, labels))
    assert_close(flatten(grads), flatten(numeric), rtol=1e-5, atol=1e-8)


def test_output_activation_can_be_chosen_too() -> None:
    network = Network([3, 4, 2], ["tanh", "sigmoid"], rng=numpy.random.default_rng(2))
    inputs, labels = random_batch(3, 2, 4, seed_value=1)
    _, grads = network.loss_and_gradients(inputs, labels)
    numeric = numeric_gradients(network, lambda: network.loss(inputs, labels))
    assert_close(flatten(grads), flatten(numeric), rtol=1e-5, atol=1e-8)


def test_batch_gradient_is_the_mean_of_the_sample_gradients() -> None:
    network = Network([4, 5, 3], ["gelu"], rng=numpy.random.default_rng(0))
    inputs, labels = random_batch(4, 3, 6, seed_value=9)
    batch_loss, batch_grads = network.loss_and_gradients(inputs, labels)

    summed = [0.0] * len(flatten(batch_grads))
    losses = []
    for sample, label in zip(inputs, labels, strict=True):
        loss, grads = network.loss_and_gradients([sample], [label])
        losses.append(loss)
        summed = [s + g for s, g in zip(summed, flatten(grads), strict=True)]

    assert batch_loss == pytest.approx(sum(losses) / len(losses), rel=1e-12)
    assert_close(flatten(batch_grads), [s / len(inputs) for s in summed], rtol=1e-12, atol=1e-15)


def test_accumulate_gradients_returns_sums() -> None:
    network = Network([2, 3, 2], ["relu"], rng=numpy.random.default_rng(4))
    inputs, labels = random_batch(2, 2, 4, seed_value=5)
    grads = Gradients.zeros(network.layer_sizes)
    stats = network.accumulate_gradients(inputs, labels, grads)
    mean_loss, mean_grads = network.loss_and_gradients(inputs, labels)
    assert stats.count == 4
    assert stats.loss_sum == pytest.approx(4 * mean_loss)
    assert_close(flatten(grads), [4 * g for g in flatten(mean_grads)], rtol=1e-12, atol=1e-15)
    predicted = sum(network.predict(x) == y for x, y in zip(inputs, labels, strict=True))
    assert stats.correct == predicted
