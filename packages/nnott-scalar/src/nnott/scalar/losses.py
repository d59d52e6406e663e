"""Softmax and cross-entropy on one sample's logits, written with plain floats.

The network's last layer outputs raw scores, the *logits* ``z``. Softmax turns them into
probabilities ``p_k = e^{z_k} / Σ_m e^{z_m}`` and the cross-entropy of the true class ``y``
is ``L = -ln p_y`` (natural logarithm). Their combined derivative is famously simple:
``dL/dz_k = p_k - [k == y]``.

A batch's loss is the **mean** of its samples' losses, and the gradients the optimizer uses
are those of that mean (see :meth:`nnott.scalar.network.Network.loss_and_gradients`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from nnott.errors import ConfigError

__all__ = ["cross_entropy", "softmax", "softmax_cross_entropy_gradient"]


def softmax(logits: Sequence[float]) -> list[float]:
    """Probabilities from logits. The largest logit is subtracted first so that ``exp``
    never overflows; this changes nothing mathematically (it cancels in the fraction)."""
    largest = max(logits)
    exponentials = [math.exp(z - largest) for z in logits]
    total = sum(exponentials)
    return [e / total for e in exponentials]


def cross_entropy(logits: Sequence[float], label: int) -> float:
    """``-ln softmax(logits)[label]``, computed as ``ln Σ e^{z_k - m} - (z_label - m)``.

    Taking the log of the sum directly (log-sum-exp) stays finite even when the true class's
    probability underflows to zero.
    """
    _check_label(label, len(logits))
    largest = max(logits)
    log_sum = math.log(sum(math.exp(z - largest) for z in logits))
    return log_sum - (logits[label] - largest)


def softmax_cross_entropy_gradient(probabilities: Sequence[float], label: int) -> list[float]:
    """``dL/dz_k = p_k - [k == label]`` for one sample's cross-entropy ``L``."""
    _check_label(label, len(probabilities))
    return [p - (1.0 if k == label else 0.0) for k, p in enumerate(probabilities)]


def _check_label(label: int, num_classes: int) -> None:
    if not 0 <= label < num_classes:
        raise ConfigError(
            f"label {label} is outside the {num_classes} classes 0..{num_classes - 1}"
        )
