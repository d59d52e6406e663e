"""The multilayer perceptron builder used by the vectorized tier's command line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nnott.errors import ConfigError
from nnott.vectorized.activations import get_activation
from nnott.vectorized.layers import Dropout, Flatten, Linear, Sequential
from nnott.vectorized.normalization import BatchNorm1d

__all__ = ["RELU_FAMILY", "mlp"]

RELU_FAMILY = frozenset({"relu", "leaky_relu"})
"""Activations whose preceding layer gets He initialisation under ``init="auto"``."""


def mlp(
    in_features: int,
    hidden_sizes: Sequence[int],
    num_classes: int,
    *,
    activations: str | Sequence[str] = "relu",
    batchnorm: bool = False,
    dropout: float = 0.0,
    init: str = "auto",
    dtype: Any = None,
) -> Sequential:
    """An MLP: ``Flatten``, then per hidden size ``Linear -> [BatchNorm1d] -> activation ->
    [Dropout]``, then a final ``Linear`` to ``num_classes`` logits (no softmax: the loss
    applies it).

    ``activations`` is one name for every hidden layer or one name per hidden layer
    (see :data:`nnott.vectorized.activations.ACTIVATIONS`). Weights are drawn layer by
    layer in order, one block per ``Linear``, the same draws as the scalar tier's. With
    ``init="auto"`` (as in the scalar tier) a ``Linear`` followed by ``relu`` or
    ``leaky_relu`` gets He initialisation and every other one, the output layer included,
    Xavier; ``"he"`` or ``"xavier"`` force one scheme everywhere. So the same seed gives
    both tiers the same initial weights.

    >>> model = mlp(784, [256, 128], 10, activations="relu", dropout=0.2)
    """
    hidden_sizes = list(hidden_sizes)
    names = [activations] * len(hidden_sizes) if isinstance(activations, str) else activations
    if len(names) != len(hidden_sizes):
        raise ConfigError(
            f"{len(hidden_sizes)} hidden layers but {len(names)} activations were given"
        )
    if any(size < 1 for size in hidden_sizes):
        raise ConfigError(f"hidden sizes must be positive, not {hidden_sizes}")
    if init not in ("auto", "he", "xavier"):
        raise ConfigError(f"unknown initialisation {init!r}; choose auto, he or xavier")

    def scheme_before(activation: str | None) -> str:
        if init != "auto":
            return init
        return "he" if activation in RELU_FAMILY else "xavier"

    layers: list[Any] = [Flatten()]
    width = in_features
    for size, name in zip(hidden_sizes, names, strict=True):
        layers.append(Linear(width, size, init=scheme_before(name), dtype=dtype))
        if batchnorm:
            layers.append(BatchNorm1d(size, dtype=dtype))
        layers.append(get_activation(name))
        if dropout > 0.0:
            layers.append(Dropout(dropout))
        width = size
    layers.append(Linear(width, num_classes, init=scheme_before(None), dtype=dtype))
    return Sequential(*layers)
