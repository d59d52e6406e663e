"""The tracer: numbers a learner can check by hand, and readable output for big networks."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy
import pytest
from conftest import random_batch

from nnott.errors import ConfigError
from nnott.scalar import ACTIVATION_NAMES, Gradients, Network, Tracer, get_activation

README = Path(__file__).resolve().parents[1] / "README.md"


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


@pytest.mark.parametrize(
    ("options", "message"),
    [({"digits": 0}, "significant digit"), ({"max_terms": 0}, "max_terms must be at least 1")],
)
def test_bad_cuts_and_digits_are_refused(options: dict[str, int], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Tracer(**options)


@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_backward_names_this_layers_neuron_j_as_the_forward_line_does(dropout: float) -> None:
    """Layer l's neuron is j in ``z_j = b_j + Σ_i w_ji·x_i`` and in ``dL/dw_ji``, so the
    sum that brings its gradient down from the layer above runs over another index, k."""
    network = Network([2, 3, 2], ["relu"], hidden_dropout=dropout)
    text, _ = _trace(network, [[0.5, -0.5]], [0], samples=1, level=2)
    target = "dL/d(a·s)" if dropout else "dL/da"
    assert f"layer 1 (relu): {target}_j = Σ_k dL/dz_k·w_kj over layer 2's neurons k" in text
    assert "_i = Σ_j" not in text


def test_level_one_shows_the_largest_weight_gradient_with_its_sign_and_factors() -> None:
    """Hidden neuron 1 has dL/dz = -3·p0 and reads x = (1, 2): its dL/dw_1,1 is the largest."""
    text, grads = _trace(_hand_network(), [[1.0, 2.0]], [1], samples=1, level=1)
    dz = grads.biases[0][1]
    assert f"2×2 values, the largest in size dL/dw_1,1 = ({g(dz)})·2 = {g(2 * dz)}" in text
    assert g(2 * dz) == g(grads.weights[0][1][1]) and dz < 0


def test_one_neuron_left_out_is_one_neuron() -> None:
    text, _ = _trace(Network([2, 5, 2], ["relu"]), [[0.5, -0.5]], [0], samples=1, level=2)
    assert "… 1 more neuron (level 3 shows all)" in text
    assert "more neurons" not in text


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_every_layer_heading_shows_its_activations_definition(name: str) -> None:
    """``f(z) = tanh(z) = tanh(z)`` teaches nothing: each formula must say more than its name."""
    activation = get_activation(name)
    assert activation.formula != f"{activation.name}(z)"
    if name == "tanh":  # the formula it shows is the function it computes
        z = 0.7
        assert math.isclose(
            (math.exp(z) - math.exp(-z)) / (math.exp(z) + math.exp(-z)), math.tanh(z)
        )


def test_the_readmes_hand_checked_trace_is_what_it_prints_today() -> None:
    """The README shows an abridged level-3 trace of the 2-2-2 network: every line it
    shows must be a line the tracer prints now."""
    readme = README.read_text()
    start = readme.index("prints (abridged):")
    block = readme[readme.index("```text\n", start) + 8 : readme.index("\n```", start + 30)]
    text, _ = _trace(_hand_network(), [[1.0, 2.0]], [1], samples=1, level=3)
    printed = set(text.splitlines())
    shown = [line for line in block.splitlines() if line.strip() != "..."]
    assert len(shown) > 20
    assert [line for line in shown if line not in printed] == []


@pytest.mark.parametrize(
    ("sizes", "level"),
    [([784, 32, 10], 1), ([784, 32, 10], 2), ([784, 1, 10], 3), ([20, 16, 10], 3), ([3, 2, 2], 3)],
)
def test_the_size_estimate_is_within_a_factor_of_two(sizes: list[int], level: int) -> None:
    network = Network(sizes, ["relu"], rng=numpy.random.default_rng(0))
    inputs, labels = random_batch(sizes[0], sizes[-1], 1)
    text, _ = _trace(network, inputs, labels, samples=1, level=level)
    estimate = Tracer(level=level).estimated_characters(sizes)
    assert len(text) / 2 < estimate < 2 * len(text)


def test_a_flood_of_trace_is_announced() -> None:
    """Level 3 of a 784-input network writes sums of 784 terms on one line; thousands of
    samples at any level run to megabytes. Small traces get no warning."""
    full = Tracer(level=3).size_warning([784, 1, 10])
    assert full is not None and "784-1-10 network" in full and "784 terms on one line" in full
    many = Tracer(samples=5000, level=1).size_warning([784, 32, 10])
    assert many is not None and "5,000 samples" in many and "MB" in many
    assert Tracer(level=3).size_warning([2, 2, 2]) is None
    assert Tracer(level=2).size_warning([784, 32, 10]) is None
    assert Tracer(samples=5000, level=1).size_warning([784, 32, 10], samples=10) is None
    assert Tracer(samples=0, level=3).size_warning([784, 32, 10]) is None
