"""Inverted dropout on one sample's activations.

During training each hidden neuron's output is kept with probability ``1 - rate`` and
multiplied by ``1 / (1 - rate)``, or set to zero. Scaling the survivors up keeps each
output's expected value unchanged, so nothing needs rescaling at test time, when dropout
is simply switched off.

The mask comes from the seeded host generator: per sample, per hidden layer, one
``rng.random(width)`` draw; neuron ``j`` is kept when its draw is below ``1 - rate``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nnott.errors import ConfigError

if TYPE_CHECKING:  # only for type hints: the draws arrive as Python floats
    import numpy

__all__ = ["check_dropout_rate", "dropout_scales"]


def check_dropout_rate(rate: float) -> float:
    """Return ``rate`` as a float, or raise :class:`ConfigError` unless ``0 <= rate < 1``."""
    rate = float(rate)
    if not 0.0 <= rate < 1.0:
        raise ConfigError(f"the dropout rate must be in [0, 1), not {rate:g}")
    return rate


def dropout_scales(rng: numpy.random.Generator, width: int, rate: float) -> list[float]:
    """One factor per neuron: ``1 / (1 - rate)`` for kept neurons, ``0.0`` for dropped ones.

    Multiply the activations by these factors in the forward pass, and the gradients by the
    same factors in the backward pass (the derivative of ``a·s`` with respect to ``a`` is ``s``).
    """
    keep = 1.0 - rate
    return [1.0 / keep if draw < keep else 0.0 for draw in rng.random(width).tolist()]
