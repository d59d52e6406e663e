"""Initial weights drawn from the seeded host generator, He or Xavier by activation.

A layer's weights start as ``std · N(0, 1)`` draws and its biases at zero, where

- **He normal**, ``std = √(2 / fan_in)``, for layers followed by a ReLU-family activation
  (``relu``, ``leaky_relu``): it keeps the variance of the activations steady through ReLUs,
  which zero half their inputs;
- **Xavier/Glorot normal**, ``std = √(2 / (fan_in + fan_out))``, for every other activation
  (``sigmoid``, ``tanh``, ``gelu``, ``identity``).

Draw order (shared with the vectorized tier, so both start from identical numbers): layer
by layer from the input side, one ``rng.standard_normal((fan_out, fan_in))`` block per
layer, row ``j`` being neuron ``j``'s incoming weights; each weight is ``std * float(draw)``.
Nothing else is drawn (biases are zero).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from nnott.scalar.activations import RELU_FAMILY, Activation

if TYPE_CHECKING:  # only for type hints: the draws arrive as Python floats
    import numpy

__all__ = ["he_std", "initial_weights", "init_std", "xavier_std"]


def he_std(fan_in: int) -> float:
    """He (Kaiming) normal standard deviation, ``√(2 / fan_in)``."""
    return math.sqrt(2.0 / fan_in)


def xavier_std(fan_in: int, fan_out: int) -> float:
    """Xavier (Glorot) normal standard deviation, ``√(2 / (fan_in + fan_out))``."""
    return math.sqrt(2.0 / (fan_in + fan_out))


def init_std(activation: Activation, fan_in: int, fan_out: int) -> float:
    """The standard deviation for a layer followed by ``activation`` (He or Xavier)."""
    if activation.name in RELU_FAMILY:
        return he_std(fan_in)
    return xavier_std(fan_in, fan_out)


def initial_weights(
    layer_sizes: Sequence[int],
    activations: Sequence[Activation],
    rng: numpy.random.Generator,
) -> list[list[list[float]]]:
    """Draw every layer's weights ``[out][in]`` in the documented order.

    ``activations[l]`` is the activation after layer ``l`` (which picks He or Xavier).
    """
    weights: list[list[list[float]]] = []
    for fan_in, fan_out, activation in zip(
        layer_sizes[:-1], layer_sizes[1:], activations, strict=True
    ):
        std = init_std(activation, fan_in, fan_out)
        draws = rng.standard_normal((fan_out, fan_in)).tolist()
        weights.append([[std * float(draw) for draw in row] for row in draws])
    return weights
