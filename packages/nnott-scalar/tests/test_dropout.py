"""Inverted dropout: scaling, randomness from the host generator, correct gradients."""

from __future__ import annotations

import numpy
import pytest
from conftest import assert_close, flatten, numeric_gradients, random_batch

from nnott.errors import ConfigError
from nnott.scalar import Gradients, Network, dropout_scales


def test_scales_are_zero_or_the_inverse_keep_probability() -> None:
    scales = dropout_scales(numpy.random.default_rng(0), 2000, 0.25)
    assert set(scales) == {0.0, 1.0 / 0.75}
    kept = sum(1 for s in scales if s > 0.0) / len(scales)
    assert kept == pytest.approx(0.75, abs=0.05)
    # Inverted dropout keeps the expected value of an activation unchanged.
    assert sum(scales) / len(scales) == pytest.approx(1.0, abs=0.07)


def test_mask_follows_the_documented_draws() -> None:
    draws = numpy.random.default_rng(5).random(6).tolist()
    scales = dropout_scales(numpy.random.default_rng(5), 6, 0.5)
    assert scales == [2.0 if u < 0.5 else 0.0 for u in draws]


def test_dropout_applies_in_training_only_and_to_hidden_layers_only() -> None:
    network = Network([6, 40, 3], ["relu"], hidden_dropout=0.5, rng=numpy.random.default_rng(1))
    x = [0.3, -0.2, 0.8, 0.1, -0.5, 0.9]
    records = network.forward_sample(x, training=True)
    hidden, output = records
    assert hidden.dropout_scales is not None and 0.0 in hidden.dropout_scales
    assert hidden.outputs == [
        a * s for a, s in zip(hidden.activations, hidden.dropout_scales, strict=True)
    ]
    assert output.dropout_scales is None
    # Inference: no mask, deterministic.
    assert network.forward(x) == network.forward(x)
    assert network.forward_sample(x, training=False)[0].dropout_scales is None


def test_gradients_with_a_fixed_mask_match_finite_differences() -> None:
    network = Network([3, 5, 4, 2], ["tanh", "sigmoid"], hidden_dropout=0.3)
    inputs, labels = random_batch(3, 2, 3, seed_value=2)

    def loss_with_fixed_masks() -> float:
        network.rng = numpy.random.default_rng(11)  # replay the same masks every time
        grads = Gradients.zeros(network.layer_sizes)
        stats = network.accumulate_gradients(inputs, labels, grads, training=True)
        return stats.loss_sum / stats.count

    network.rng = numpy.random.default_rng(11)
    _, grads = network.loss_and_gradients(inputs, labels, training=True)
    numeric = numeric_gradients(network, loss_with_fixed_masks)
    assert_close(flatten(grads), flatten(numeric), rtol=1e-5, atol=1e-8)


def test_dropped_neurons_get_no_gradient() -> None:
    network = Network([3, 8, 2], ["relu"], hidden_dropout=0.5, rng=numpy.random.default_rng(3))
    network.set_weights(network.get_weights(), [[0.5] * 8, [0.0, 0.0]])  # all ReLUs active
    _, grads = network.loss_and_gradients([[0.1, 0.2, 0.3]], [1])
    # Replay the generator: two weight blocks, then sample 0's mask for the hidden layer.
    replay = numpy.random.default_rng(3)
    replay.standard_normal((8, 3))
    replay.standard_normal((2, 8))
    scales = dropout_scales(replay, 8, 0.5)
    assert 0.0 in scales and 2.0 in scales
    for j, scale in enumerate(scales):
        dropped = scale == 0.0
        assert (grads.biases[0][j] == 0.0) == dropped
        assert all(g == 0.0 for g in grads.weights[0][j]) == dropped


def test_bad_rates_are_refused() -> None:
    with pytest.raises(ConfigError, match="dropout rate"):
        Network([2, 2, 2], hidden_dropout=1.0)
