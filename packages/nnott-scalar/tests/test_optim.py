"""SGD with momentum in PyTorch's form: v = m·v + g, w = w - lr·v."""

from __future__ import annotations

import numpy
import pytest
from conftest import flatten, random_batch

from nnott.errors import ConfigError
from nnott.scalar import SGD, Gradients, Network


def _constant_gradients(network: Network, value: float) -> Gradients:
    grads = Gradients.zeros(network.layer_sizes)
    for layer_weights, layer_biases in zip(grads.weights, grads.biases, strict=True):
        for row in layer_weights:
            row[:] = [value] * len(row)
        layer_biases[:] = [value] * len(layer_biases)
    return grads


def _parameters(network: Network) -> list[float]:
    return flatten(Gradients(network.get_weights(), network.get_biases()))


def test_first_step_uses_the_gradient_and_later_steps_the_velocity() -> None:
    network = Network([3, 2, 2], ["tanh"])
    start = _parameters(network)
    lr, momentum, g1, g2 = 0.1, 0.9, 0.5, -0.25
    optimizer = SGD(network, lr=lr, momentum=momentum)

    optimizer.step(_constant_gradients(network, g1))
    after_one = _parameters(network)
    assert after_one == pytest.approx([w - lr * g1 for w in start], rel=1e-14)

    optimizer.step(_constant_gradients(network, g2))
    velocity = momentum * g1 + g2
    assert _parameters(network) == pytest.approx([w - lr * velocity for w in after_one], rel=1e-14)
    assert flatten(optimizer.velocity) == pytest.approx([velocity] * len(start))
    assert optimizer.steps == 2


def test_without_momentum_it_is_plain_gradient_descent_and_lowers_the_loss() -> None:
    network = Network([4, 6, 3], ["relu"], rng=numpy.random.default_rng(0))
    inputs, labels = random_batch(4, 3, 8, seed_value=4)
    optimizer = SGD(network, lr=0.1)
    before, grads = network.loss_and_gradients(inputs, labels)
    start = _parameters(network)
    optimizer.step(grads)
    assert _parameters(network) == pytest.approx(
        [w - 0.1 * g for w, g in zip(start, flatten(grads), strict=True)], rel=1e-14
    )
    assert network.loss(inputs, labels) < before


@pytest.mark.parametrize(("lr", "momentum"), [(0.0, 0.9), (-1.0, 0.0), (0.1, 1.0), (0.1, -0.1)])
def test_bad_hyperparameters_are_refused(lr: float, momentum: float) -> None:
    with pytest.raises(ConfigError):
        SGD(Network([2, 2]), lr=lr, momentum=momentum)
