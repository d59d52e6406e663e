"""Network construction, parameter access and the documented initialisation."""

from __future__ import annotations

import math

import numpy
import pytest

from nnott.backend import rng, seed
from nnott.errors import ConfigError
from nnott.scalar import Layer, Network, Neuron


def test_hidden_only_and_per_layer_activation_lists() -> None:
    hidden_only = Network([3, 4, 5, 2], ["tanh", "gelu"])
    assert [a.name for a in hidden_only.activations] == ["tanh", "gelu", "identity"]
    per_layer = Network([3, 4, 2], ["sigmoid", "tanh"])
    assert [a.name for a in per_layer.activations] == ["sigmoid", "tanh"]
    default = Network([3, 4, 4, 2])
    assert [a.name for a in default.activations] == ["relu", "relu", "identity"]


@pytest.mark.parametrize(
    ("sizes", "activations", "message"),
    [
        ([3, 4, 2], ["relu", "relu", "relu"], "1 hidden layers need 1 activations"),
        ([3], None, "at least two positive integers"),
        ([3, 0, 2], None, "at least two positive integers"),
        ([3, 4, 2], "relu", "a list of names"),
    ],
)
def test_bad_shapes_are_refused(sizes: list[int], activations: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Network(sizes, activations)  # type: ignore[arg-type]


def test_weights_are_out_by_in_and_round_trip() -> None:
    network = Network([3, 2, 2], ["relu"])
    weights = network.get_weights()
    assert [len(w) for w in weights] == [2, 2]
    assert [len(w[0]) for w in weights] == [3, 2]
    new_weights = [
        [[float(10 * j + i) for i in range(len(row))] for j, row in enumerate(w)] for w in weights
    ]
    new_biases = [[0.5, -0.5], [1.0, 2.0]]
    network.set_weights(new_weights, new_biases)
    assert network.get_weights() == new_weights
    assert network.get_biases() == new_biases
    # Row j is neuron j's incoming weights.
    assert network.layers[0].neurons[1].weights == [10.0, 11.0, 12.0]
    assert network.num_parameters == 3 * 2 + 2 + 2 * 2 + 2


def test_get_weights_returns_copies() -> None:
    network = Network([2, 2])
    weights = network.get_weights()
    weights[0][0][0] = 99.0
    assert network.get_weights()[0][0][0] != 99.0


def test_set_weights_checks_shapes() -> None:
    network = Network([3, 2, 2], ["relu"])
    with pytest.raises(ConfigError, match="expected 2 layers"):
        network.set_weights(network.get_weights()[:1], network.get_biases())
    bad = network.get_weights()
    bad[1][0] = [1.0]
    with pytest.raises(ConfigError, match="weight rows of 2"):
        network.set_weights(bad, network.get_biases())


@pytest.mark.parametrize(
    ("activation", "rule"),
    [
        ("relu", "he"),
        ("leaky_relu", "he"),
        ("tanh", "xavier"),
        ("sigmoid", "xavier"),
        ("gelu", "xavier"),
        ("identity", "xavier"),
    ],
)
def test_initialisation_draws_blocks_layer_by_layer(activation: str, rule: str) -> None:
    sizes = [5, 4, 3]
    seed(42)
    network = Network(sizes, [activation])
    twin = numpy.random.default_rng(42)  # the same stream nnott.backend.seed(42) made
    expected = []
    for fan_in, fan_out, layer_rule in [(5, 4, rule), (4, 3, "xavier")]:
        std = math.sqrt(2.0 / fan_in) if layer_rule == "he" else math.sqrt(2.0 / (fan_in + fan_out))
        block = twin.standard_normal((fan_out, fan_in))
        expected.append([[std * float(v) for v in row] for row in block.tolist()])
    assert network.get_weights() == expected
    assert network.get_biases() == [[0.0] * 4, [0.0] * 3]


def test_same_seed_same_network_and_the_generator_advances() -> None:
    seed(3)
    first = Network([4, 3, 2]).get_weights()
    second = Network([4, 3, 2]).get_weights()
    seed(3)
    again = Network([4, 3, 2]).get_weights()
    assert first == again
    assert first != second
    assert Network([4, 2], rng=numpy.random.default_rng(1)).rng is not rng()


def test_neuron_and_layer_compute_the_weighted_sum() -> None:
    neuron = Neuron([0.5, -1.0], bias=0.25, activation="relu")
    assert neuron.forward([2.0, 0.5]) == (0.75, 0.75)
    assert neuron.forward([0.0, 1.0]) == (-0.75, 0.0)
    layer = Layer([[1.0, 0.0], [0.0, -1.0]], [0.0, 0.5], "identity")
    assert layer.forward([3.0, 4.0]) == ([3.0, -3.5], [3.0, -3.5])
    with pytest.raises(ConfigError, match="2 weight rows but 1 biases"):
        Layer([[1.0], [2.0]], [0.0])


def test_forward_and_predict_check_the_input_width() -> None:
    network = Network([3, 2])
    network.set_weights([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]], [[0.0, 0.0]])
    assert network.forward([0.2, 0.9, 5.0]) == [0.2, 0.9]
    assert network.predict([0.2, 0.9, 5.0]) == 1
    with pytest.raises(ConfigError, match="expected 3 inputs, got 2"):
        network.forward([1.0, 2.0])
