"""The tracer: numbers a learner can check by hand, and readable output for big networks."""

from __future__ import annotations

import io
import math
from typing import Any

import numpy
import pytest
from conftest import random_batch

from nnott.errors import ConfigError
from nnott.scalar import Gradients, Network, Tracer


def _hand_network() -> Network:
    """A 2-2-2 ReLU network with round weights (checked by hand in the test below)."""
    network = Network([2, 2, 2], ["relu"])
    network.set_weights(
        [[[0.5, -0.25], [0.25, 0.5]], [[1.0, -1.0], [0.5, 2.0]]],
        [[0.1, -0.5], [0.0, 0.25]],
    )
    return network


def _trace(
    network: Network, inputs: list[list[float]], labels: list[int], **options: Any
) -> tuple[str, Gradients]:
    stream = io.StringIO()
    tracer = Tracer(stream=stream, **options)
    _, grads = network.loss_and_gradients(inputs, labels, tracer=tracer)
    return stream.getvalue(), grads


def g(value: float) -> str:
    """The tracer's number format: six significant digits."""
    return f"{value:.6g}"


def test_two_by_two_by_two_trace_can_be_checked_by_hand() -> None:
    text, _ = _trace(_hand_network(), [[1.0, 2.0]], [1], samples=1, level=3)

    # Forward, layer 1: z = b + w·x for x = (1, 2).
    assert "neuron 0: z = 0.1 + 0.5·1 + (-0.25)·2 = 0.1" in text  # 0.1 + 0.5 - 0.5
    assert "neuron 1: z = -0.5 + 0.25·1 + 0.5·2 = 0.75" in text  # -0.5 + 0.25 + 1
    assert "a = relu(0.75) = 0.75" in text
    # Layer 2 reads (0.1, 0.75).
    assert "neuron 0: z = 0 + 1·0.1 + (-1)·0.75 = -0.65" in text
    assert "neuron 1: z = 0.25 + 0.5·0.1 + 2·0.75 = 1.8" in text
    # Softmax of (-0.65, 1.8) and the loss for label 1.
    p0 = 1.0 / (1.0 + math.exp(2.45))
    p1 = 1.0 - p0
    assert f"[{g(p0)}, {g(p1)}]" in text
    assert f"loss L = -ln p_1 = -ln {g(p1)} = {g(-math.log(p1))}" in text
    # Backward: dL/dlogits = p - onehot(1) = (p0, -p0).
    assert f"dL/dlogit_k = p_k - [k == 1] = [{g(p0)}, {g(-p0)}]" in text
    assert f"dL/dw_0i = dL/dz·x_i: [0] {g(p0)}·0.1 = {g(0.1 * p0)}" in text
    # Hidden neuron 0: dL/da = Σ_j dL/dz_j·w_j0 = p0·1 + (-p0)·0.5.
    assert f"dL/da = {g(p0)}·1 + ({g(-p0)})·0.5 = {g(0.5 * p0)}" in text
    assert "f'(z) = relu'(0.1) = 1" in text
    # Hidden neuron 1: dL/da = p0·(-1) + (-p0)·2 = -3·p0, and dL/dw_1i = dL/dz·(1, 2).
    assert f"dL/da = {g(p0)}·(-1) + ({g(-p0)})·2 = {g(-3 * p0)}" in text
    assert f"[1] ({g(-3 * p0)})·2 = {g(-6 * p0)}" in text


def test_traced_gradients_are_the_ones_the_network_returns() -> None:
    text, grads = _trace(_hand_network(), [[1.0, 2.0]], [1], samples=1, level=2)
    for layer_biases in grads.biases:
        for value in layer_biases:
            assert f"dL/db = dL/dz = {g(value)}" in text


def test_only_the_first_samples_are_traced() -> None:
    network = Network([3, 4, 2], ["tanh"])
    inputs, labels = random_batch(3, 2, 5)
    text, _ = _trace(network, inputs, labels, samples=2, level=1)
    assert text.count("=== trace") == 2
    assert "=== trace 2: sample 1 of a batch of 5" in text


@pytest.mark.parametrize("level", [1, 2])
def test_a_784_input_network_stays_readable(level: int) -> None:
    network = Network([784, 32, 10], ["relu"], rng=numpy.random.default_rng(0))
    inputs, labels = random_batch(784, 10, 1)
    text, _ = _trace(network, inputs, labels, samples=1, level=level)
    lines = text.splitlines()
    assert len(lines) < (40 if level == 1 else 110)
    assert max(len(line) for line in lines) < 260
    assert "(776 more)" in text  # the 784 inputs, cut after 8
    if level == 2:
        assert "… 28 more neurons (level 3 shows all)" in text
        assert "(780 more)" in text  # the 784-term weighted sums, cut after 4 terms


def test_dropout_is_shown_in_both_passes() -> None:
    network = Network([2, 6, 2], ["relu"], hidden_dropout=0.5)
    text, _ = _trace(network, [[0.5, -0.5]], [0], samples=1, level=2)
    assert "dropout scales s = [" in text
    assert "dL/da = dL/d(a·s)·s" in text


def test_bad_levels_are_refused() -> None:
    with pytest.raises(ConfigError, match="trace level"):
        Tracer(level=4)
