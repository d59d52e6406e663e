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

__all__ = [
    "cross_entropy",
    "soft_cross_entropy",
    "soft_cross_entropy_gradient",
    "softmax",
    "softmax_cross_entropy_gradient",
]


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


def soft_cross_entropy(logits: Sequence[float], targets: Sequence[float]) -> float:
    """``-Σ_k t_k ln softmax(logits)_k`` for a target distribution ``t`` (mixup, cutmix).

    With ``Σ t_k = 1`` this is ``ln Σ e^{z_k - m} - Σ_k t_k (z_k - m)``; a one-hot ``t``
    gives :func:`cross_entropy` back.
    """
    _check_targets(targets, len(logits))
    largest = max(logits)
    log_sum = math.log(sum(math.exp(z - largest) for z in logits))
    return log_sum - sum(t * (z - largest) for t, z in zip(targets, logits, strict=True))


def soft_cross_entropy_gradient(
    probabilities: Sequence[float], targets: Sequence[float]
) -> list[float]:
    """``dL/dz_k = p_k - t_k``: the hard-label formula with the one-hot vector replaced by
    the target distribution."""
    _check_targets(targets, len(probabilities))
    return [p - t for p, t in zip(probabilities, targets, strict=True)]


def _check_targets(targets: Sequence[float], num_classes: int) -> None:
    if len(targets) != num_classes:
        raise ConfigError(f"{len(targets)} target probabilities for {num_classes} classes")


def _check_label(label: int, num_classes: int) -> None:
    if not 0 <= label < num_classes:
        raise ConfigError(
            f"label {label} is outside the {num_classes} classes 0..{num_classes - 1}"
        )
