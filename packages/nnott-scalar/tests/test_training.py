"""The training loop: mini-batches, shuffling, reproducibility, divergence."""

from __future__ import annotations

import random

import numpy
import pytest

from nnott.backend import seed
from nnott.errors import DivergenceError
from nnott.scalar import SGD, Network, evaluate, fit, train_epoch


def _two_blobs(count: int, seed_value: int = 0) -> tuple[list[list[float]], list[int]]:
    """Points around (-1, -1) (class 0) and (1, 1) (class 1): easy to separate."""
    rng = random.Random(seed_value)
    inputs, labels = [], []
    for index in range(count):
        label = index % 2
        centre = 1.0 if label else -1.0
        inputs.append([centre + rng.gauss(0.0, 0.3), centre + rng.gauss(0.0, 0.3)])
        labels.append(label)
    return inputs, labels


def test_fit_learns_an_easy_problem() -> None:
    inputs, labels = _two_blobs(60)
    network = Network([2, 4, 2], ["tanh"])
    before = evaluate(network, inputs, labels)
    history = fit(
        network,
        SGD(network, lr=0.1, momentum=0.9),
        inputs,
        labels,
        epochs=5,
        batch_size=8,
        val_inputs=inputs[:20],
        val_labels=labels[:20],
    )
    after = evaluate(network, inputs, labels)
    assert after.loss < before.loss
    assert after.accuracy > 0.95
    assert len(history.train_loss) == len(history.val_accuracy) == 5
    assert history.train_samples == 300
    assert history.train_samples_per_s > 0.0


def test_a_full_batch_epoch_is_one_gradient_step() -> None:
    inputs, labels = _two_blobs(10)
    network = Network([2, 3, 2], ["sigmoid"], rng=numpy.random.default_rng(1))
    twin = Network([2, 3, 2], ["sigmoid"], rng=numpy.random.default_rng(1))

    train_epoch(network, SGD(network, 0.5, 0.9), inputs, labels, batch_size=10, shuffle=False)
    _, grads = twin.loss_and_gradients(inputs, labels)
    SGD(twin, 0.5, 0.9).step(grads)

    assert network.get_weights() == twin.get_weights()
    assert network.get_biases() == twin.get_biases()


def test_a_smaller_last_batch_is_averaged_over_its_own_size() -> None:
    inputs, labels = _two_blobs(5)
    network = Network([2, 2], rng=numpy.random.default_rng(2))
    twin = Network([2, 2], rng=numpy.random.default_rng(2))
    train_epoch(network, SGD(network, 0.1), inputs, labels, batch_size=3, shuffle=False)
    optimizer = SGD(twin, 0.1)
    for first in (0, 3):
        _, grads = twin.loss_and_gradients(inputs[first : first + 3], labels[first : first + 3])
        optimizer.step(grads)
    assert network.get_weights() == twin.get_weights()


def test_same_seed_same_run_and_a_different_seed_a_different_one() -> None:
    inputs, labels = _two_blobs(20)

    def run(seed_value: int) -> list:
        seed(seed_value)
        network = Network([2, 3, 2], ["relu"])
        fit(network, SGD(network, 0.1, 0.5), inputs, labels, epochs=2, batch_size=4)
        return network.get_weights()

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_divergence_is_reported() -> None:
    inputs, labels = _two_blobs(8)
    network = Network([2, 2])
    inf = float("inf")
    network.set_weights([[[inf, -inf], [0.0, 0.0]]], [[0.0, 0.0]])  # inf - inf = nan
    with pytest.raises(DivergenceError, match="loss became nan in epoch 1 after 0 samples"):
        fit(network, SGD(network, lr=0.1), inputs, labels, epochs=3, batch_size=2)


def test_a_huge_but_finite_loss_is_a_divergence() -> None:
    """Python floats carry an exploded network's loss far past where float32 overflows
    (1e70 and more at a large --lr); a mean above nnott.metrics.DIVERGED_LOSS must end the
    run like a NaN does, not be reported as a result."""
    inputs, labels = _two_blobs(8)
    network = Network([2, 2])
    network.set_weights([[[1e5, 1e5], [-1e5, -1e5]]], [[0.0, 0.0]])  # every point wrong
    with pytest.raises(DivergenceError, match=r"loss became \d\.\d+e\+05 in epoch 1"):
        fit(network, SGD(network, lr=0.1), inputs, labels, epochs=1, batch_size=4)


def test_a_last_step_that_breaks_the_weights_is_caught() -> None:
    """One batch per epoch: its loss is finite (taken before the step) and only the step
    overflows the weights, which the epoch's own check cannot see; fit must stop there
    instead of going on, and reporting, with infinite weights."""
    inputs, labels = [[1e200, -1e200], [-1e200, 1e200]], [0, 1]
    network = Network([2, 2])
    network.set_weights([[[0.0, 0.0], [0.0, 0.0]]], [[0.0, 0.0]])
    with pytest.raises(DivergenceError, match="weights became NaN or infinite in epoch 1"):
        fit(network, SGD(network, lr=1e200), inputs, labels, epochs=2, batch_size=2)


def test_a_last_step_that_breaks_the_validation_loss_is_caught() -> None:
    """Weights of ±1.5e308 are finite, but their sums of 3·1.5e308 overflow: the weights
    pass, the validation loss is NaN, and fit must not record it as a result."""
    inputs, labels = [[3.0, 3.0], [-3.0, -3.0]], [0, 1]
    network = Network([2, 2])
    network.set_weights([[[0.0, 0.0], [0.0, 0.0]]], [[0.0, 0.0]])
    with pytest.raises(DivergenceError, match="validation loss became nan after epoch 1"):
        fit(
            network,
            SGD(network, lr=1e308),
            inputs,
            labels,
            epochs=2,
            batch_size=2,
            val_inputs=inputs,
            val_labels=labels,
        )
