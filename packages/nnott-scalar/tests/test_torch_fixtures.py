"""The scalar tier against PyTorch's answers (fixtures made by scripts/make_torch_fixtures.py).

Same weights, same batch: the logits, the mean cross-entropy, every gradient and the
weights after three SGD-momentum steps must match PyTorch to float64 rounding. This pins
the conventions: the batch mean, GELU's tanh form, leaky slope 0.01, PyTorch's momentum.
"""

from __future__ import annotations

from pathlib import Path

import numpy
import pytest

from nnott.scalar import ACTIVATION_NAMES, SGD, Network

FIXTURES = Path(__file__).with_name("fixtures") / "torch_mlp.npz"


@pytest.fixture(scope="module")
def torch_answers() -> dict[str, numpy.ndarray]:
    with numpy.load(FIXTURES, allow_pickle=False) as archive:
        return dict(archive)


def _network(answers: dict[str, numpy.ndarray], activation: str) -> Network:
    network = Network([5, 4, 3, 3], [activation, activation])
    network.set_weights(
        [answers[f"weight{layer}"].tolist() for layer in range(3)],
        [answers[f"bias{layer}"].tolist() for layer in range(3)],
    )
    return network


def _close(actual: object, expected: numpy.ndarray) -> None:
    numpy.testing.assert_allclose(numpy.array(actual), expected, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_matches_pytorch(activation: str, torch_answers: dict[str, numpy.ndarray]) -> None:
    answers = torch_answers
    network = _network(answers, activation)
    inputs, labels = answers["inputs"].tolist(), answers["labels"].tolist()

    _close([network.forward(x) for x in inputs], answers[f"{activation}/logits"])
    loss, grads = network.loss_and_gradients(inputs, labels)
    _close(loss, answers[f"{activation}/loss"])
    for layer in range(3):
        _close(grads.weights[layer], answers[f"{activation}/grad_weight{layer}"])
        _close(grads.biases[layer], answers[f"{activation}/grad_bias{layer}"])

    optimizer = SGD(network, lr=float(answers["lr"]), momentum=float(answers["momentum"]))
    for _ in range(int(answers["steps"])):
        _, grads = network.loss_and_gradients(inputs, labels)
        optimizer.step(grads)
    for layer in range(3):
        _close(network.get_weights()[layer], answers[f"{activation}/stepped_weight{layer}"])
        _close(network.get_biases()[layer], answers[f"{activation}/stepped_bias{layer}"])
