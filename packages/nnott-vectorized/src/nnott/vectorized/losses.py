"""Softmax cross-entropy, the loss of every classifier in nnott.

Softmax and cross-entropy are fused: the gradient with respect to the logits is simply
``(softmax(z) - q) / B`` for a target distribution ``q`` that sums to one, which is both
cheaper and more accurate than chaining the two derivatives. The log-softmax is computed
with the log-sum-exp trick (subtract each row's maximum first) so that large logits never
overflow.
"""

from __future__ import annotations

from typing import Any

from nnott.backend import to_device, xp
from nnott.errors import ConfigError

__all__ = ["SoftmaxCrossEntropy", "log_softmax", "softmax"]


def log_softmax(logits: Any) -> Any:
    """``log(softmax(z))`` row by row, stable for large logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))


def softmax(logits: Any) -> Any:
    """Class probabilities row by row: ``exp(z) / sum(exp(z))``, stable for large logits."""
    return xp.exp(log_softmax(logits))


class SoftmaxCrossEntropy:
    """Mean cross-entropy between ``softmax(logits)`` and the targets, with its gradient.

    ``targets`` are either integer labels of shape ``(B,)`` or a float distribution of
    shape ``(B, K)`` per sample (soft targets, as made by mixup and cutmix). With
    ``label_smoothing = e`` the targets become ``(1 - e) q + e / K``, as in PyTorch's
    ``CrossEntropyLoss(label_smoothing=e)``.

    Labels are not range-checked here (that would cost a device synchronisation); the data
    loaders check them on the host. Call :meth:`forward` and then :meth:`backward`.
    """

    def __init__(self, label_smoothing: float = 0.0) -> None:
        if not 0.0 <= label_smoothing <= 1.0:
            raise ConfigError(f"label_smoothing must be in [0, 1], not {label_smoothing}")
        self.label_smoothing = float(label_smoothing)
        self._probabilities: Any = None
        self._targets: Any = None

    def __call__(self, logits: Any, targets: Any) -> Any:
        return self.forward(logits, targets)

    def target_distribution(self, targets: Any, num_classes: int, dtype: Any) -> Any:
        """Turn labels or soft targets into the (smoothed) distribution ``q`` of shape (B, K)."""
        targets = to_device(targets)
        if targets.ndim == 1:
            distribution = xp.zeros((targets.shape[0], num_classes), dtype=dtype)
            distribution[xp.arange(targets.shape[0]), targets] = 1.0
        elif targets.ndim == 2 and targets.shape[1] == num_classes:
            distribution = targets.astype(dtype, copy=False)
        else:
            raise ConfigError(
                f"targets must be labels (B,) or probabilities (B, {num_classes}), "
                f"not shape {tuple(targets.shape)}"
            )
        if self.label_smoothing > 0.0:
            e = self.label_smoothing
            distribution = distribution * (1.0 - e) + e / num_classes
        return distribution

    def forward(self, logits: Any, targets: Any) -> Any:
        """The mean loss over the batch, as a 0-d array on the device (no synchronisation)."""
        if logits.ndim != 2:
            raise ConfigError(f"logits must have shape (B, K), not {tuple(logits.shape)}")
        batch, num_classes = logits.shape
        if targets.shape[0] != batch:
            raise ConfigError(f"{batch} logits but {targets.shape[0]} targets")
        q = self.target_distribution(targets, num_classes, logits.dtype)
        log_p = log_softmax(logits)
        self._probabilities = xp.exp(log_p)
        self._targets = q
        return xp.asarray(-(q * log_p).sum() / batch)

    def backward(self) -> Any:
        """The gradient of the mean loss with respect to the logits, shape (B, K)."""
        if self._probabilities is None:
            raise RuntimeError("SoftmaxCrossEntropy.backward called before forward")
        p, q = self._probabilities, self._targets
        # d/dz of -sum(q log softmax(z)) is softmax(z) * sum(q) - q; sum(q) is 1 for
        # proper distributions, kept for soft targets that do not quite sum to one.
        return (p * q.sum(axis=1, keepdims=True) - q) / p.shape[0]
