"""The proof behind "mathematically identical": the scalar tier and this one agree.

For the same seed the two tiers draw the same initial weights; for the same weights and
batch they compute the same logits, loss and every gradient, and after several
SGD-with-momentum steps they hold the same weights -- to 1e-10 relative, in float64, for
several depths and every activation both tiers share. Runs on every device (the emulated
one included): the vectorized side is moved to the host with ``to_cpu`` for comparison.
"""

from __future__ import annotations

import numpy
import pytest

from nnott.backend import seed, to_cpu, to_device
from nnott.scalar import SGD as ScalarSGD  # noqa: N811
from nnott.scalar import Network
from nnott.vectorized import SGD, Linear, SoftmaxCrossEntropy, mlp

SHARED_ACTIVATIONS = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "gelu"]
DEPTHS = [[], [7], [6, 5], [6, 5, 4]]
IN_FEATURES, NUM_CLASSES, BATCH = 5, 3, 6
RTOL, ATOL = 1e-10, 1e-13


def build_pair(hidden: list[int], activation: str, random_seed: int) -> tuple[Network, object]:
    """The same network in both tiers, each built right after seeding with ``random_seed``."""
    seed(random_seed)
    scalar = Network([IN_FEATURES, *hidden, NUM_CLASSES], [activation] * len(hidden))
    seed(random_seed)
    vectorized = mlp(IN_FEATURES, hidden, NUM_CLASSES, activations=activation, dtype="float64")
    return scalar, vectorized


def linear_layers(model: object) -> list[Linear]:
    return [module for module in model.modules() if isinstance(module, Linear)]


def a_batch(random_seed: int) -> tuple[numpy.ndarray, numpy.ndarray]:
    generator = numpy.random.default_rng(1000 + random_seed)
    inputs = generator.normal(size=(BATCH, IN_FEATURES)) * 1.5
    labels = generator.integers(0, NUM_CLASSES, size=BATCH)
    return inputs, labels


def vectorized_loss_and_gradients(model, inputs, labels):  # type: ignore[no-untyped-def]
    loss_function = SoftmaxCrossEntropy()
    model.zero_grad()
    logits = model.forward(to_device(inputs))
    loss = loss_function.forward(logits, to_device(labels))
    model.backward(loss_function.backward())
    return logits, loss


def assert_close(actual: object, expected: object, what: str) -> None:
    numpy.testing.assert_allclose(
        numpy.asarray(to_cpu(actual), dtype=numpy.float64),
        numpy.asarray(expected, dtype=numpy.float64),
        rtol=RTOL,
        atol=ATOL,
        err_msg=what,
    )


CASES = [
    pytest.param(hidden, activation, id=f"{activation}-{'x'.join(map(str, hidden)) or 'linear'}")
    for hidden in DEPTHS
    for activation in SHARED_ACTIVATIONS
]


@pytest.mark.parametrize("hidden, activation", CASES)
def test_same_seed_same_initial_weights(hidden: list[int], activation: str) -> None:
    scalar, vectorized = build_pair(hidden, activation, random_seed=3)
    for index, layer in enumerate(linear_layers(vectorized)):
        assert numpy.array_equal(to_cpu(layer.weight.data), scalar.get_weights()[index])
        assert numpy.array_equal(to_cpu(layer.bias.data), scalar.get_biases()[index])


@pytest.mark.parametrize("hidden, activation", CASES)
def test_same_logits_loss_and_gradients(hidden: list[int], activation: str) -> None:
    scalar, vectorized = build_pair(hidden, activation, random_seed=11)
    inputs, labels = a_batch(11)

    logits, loss = vectorized_loss_and_gradients(vectorized, inputs, labels)
    scalar_logits = [scalar.forward(sample) for sample in inputs.tolist()]
    scalar_loss, scalar_grads = scalar.loss_and_gradients(inputs.tolist(), labels.tolist())

    assert_close(logits, scalar_logits, "logits")
    assert_close(loss, scalar_loss, "loss")
    for index, layer in enumerate(linear_layers(vectorized)):
        assert_close(layer.weight.grad, scalar_grads.weights[index], f"dL/dW of layer {index}")
        assert_close(layer.bias.grad, scalar_grads.biases[index], f"dL/db of layer {index}")


@pytest.mark.parametrize("hidden", DEPTHS, ids=lambda h: "x".join(map(str, h)) or "linear")
def test_same_loss_and_gradients_for_mixed_targets(hidden: list[int]) -> None:
    """Mixup and cutmix turn labels into class probabilities; both tiers take them."""
    scalar, vectorized = build_pair(hidden, "tanh", random_seed=23)
    inputs, _ = a_batch(23)
    targets = numpy.random.default_rng(5).dirichlet(numpy.ones(NUM_CLASSES), size=BATCH)

    _, loss = vectorized_loss_and_gradients(vectorized, inputs, targets)
    scalar_loss, scalar_grads = scalar.loss_and_gradients(inputs.tolist(), targets.tolist())

    assert_close(loss, scalar_loss, "loss")
    for index, layer in enumerate(linear_layers(vectorized)):
        assert_close(layer.weight.grad, scalar_grads.weights[index], f"dL/dW of layer {index}")
        assert_close(layer.bias.grad, scalar_grads.biases[index], f"dL/db of layer {index}")


@pytest.mark.parametrize("hidden, activation", CASES)
def test_same_weights_after_sgd_momentum_steps(hidden: list[int], activation: str) -> None:
    scalar, vectorized = build_pair(hidden, activation, random_seed=17)
    scalar_optimizer = ScalarSGD(scalar, lr=0.05, momentum=0.9)
    optimizer = SGD(vectorized.parameters(), lr=0.05, momentum=0.9)

    for step in range(4):
        inputs, labels = a_batch(100 + step)  # a new batch every step
        _, scalar_grads = scalar.loss_and_gradients(inputs.tolist(), labels.tolist())
        scalar_optimizer.step(scalar_grads)
        vectorized_loss_and_gradients(vectorized, inputs, labels)
        optimizer.step()

    for index, layer in enumerate(linear_layers(vectorized)):
        assert_close(layer.weight.data, scalar.get_weights()[index], f"W of layer {index}")
        assert_close(layer.bias.data, scalar.get_biases()[index], f"b of layer {index}")


def test_the_check_can_fail() -> None:
    """A deliberately different network must not pass the comparison used above."""
    scalar, vectorized = build_pair([4], "tanh", random_seed=5)
    inputs, labels = a_batch(5)
    first = linear_layers(vectorized)[0]
    first.weight.data[0, 0] += 1e-6  # a perturbation far above the tolerance
    logits, _ = vectorized_loss_and_gradients(vectorized, inputs, labels)
    scalar_logits = [scalar.forward(sample) for sample in inputs.tolist()]
    with pytest.raises(AssertionError):
        assert_close(logits, scalar_logits, "logits")
