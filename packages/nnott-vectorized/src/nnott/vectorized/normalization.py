"""Batch normalisation with PyTorch's semantics.

In training, each feature is normalised with the mean and the *biased* variance of the
current batch, and running estimates are updated with the *unbiased* batch variance:
``running = (1 - momentum) * running + momentum * batch``. In evaluation the running
estimates are used instead, so the output of one sample does not depend on the others.

:class:`BatchNorm` does the work over any set of reduced axes; :class:`BatchNorm1d`
normalises ``(N, C)`` inputs over the batch axis. A 2-D variant for ``(N, C, H, W)``
only needs to say which axes it reduces (see :meth:`BatchNorm.reduce_axes`).
"""

from __future__ import annotations

from typing import Any

from nnott.backend import xp
from nnott.errors import ConfigError
from nnott.vectorized.init import resolve_dtype
from nnott.vectorized.module import Module, Parameter

__all__ = ["BatchNorm", "BatchNorm1d"]


class BatchNorm(Module):
    """Normalise each of ``num_features`` channels (axis 1), then scale and shift it.

    Parameters ``weight`` (gamma, starts at 1) and ``bias`` (beta, starts at 0);
    buffers ``running_mean`` and ``running_var`` (saved in checkpoints).
    """

    expected_ndim: int = 2
    running_mean: Any
    running_var: Any

    def __init__(
        self, num_features: int, momentum: float = 0.1, eps: float = 1e-5, *, dtype: Any = None
    ) -> None:
        super().__init__()
        if num_features < 1:
            raise ConfigError(f"BatchNorm needs at least one feature, not {num_features}")
        if not 0.0 <= momentum <= 1.0:
            raise ConfigError(f"BatchNorm momentum must be in [0, 1], not {momentum}")
        dtype = resolve_dtype(dtype)
        self.num_features = num_features
        self.momentum = float(momentum)
        self.eps = float(eps)
        self.weight = Parameter(xp.ones((num_features,), dtype=dtype))
        self.bias = Parameter(xp.zeros((num_features,), dtype=dtype))
        self.register_buffer("running_mean", xp.zeros((num_features,), dtype=dtype))
        self.register_buffer("running_var", xp.ones((num_features,), dtype=dtype))
        self._cache: tuple[Any, Any, bool] | None = None

    def reduce_axes(self, x: Any) -> tuple[int, ...]:
        """The axes averaged over: every axis except the channel axis 1."""
        return tuple(axis for axis in range(x.ndim) if axis != 1)

    def _broadcast(self, vector: Any, x: Any) -> Any:
        """Reshape a per-channel vector so that it broadcasts against ``x``."""
        return vector.reshape((1, -1) + (1,) * (x.ndim - 2))

    def forward(self, x: Any) -> Any:
        if x.ndim != self.expected_ndim or x.shape[1] != self.num_features:
            raise ConfigError(
                f"{type(self).__name__}({self.num_features}) got an input of shape {tuple(x.shape)}"
            )
        axes = self.reduce_axes(x)
        if self.training:
            count = x.size // x.shape[1]
            if count < 2:
                raise ConfigError(
                    "BatchNorm needs more than one value per channel in training "
                    "(use a batch size of at least 2)"
                )
            mean = x.mean(axis=axes)
            var = x.var(axis=axes)
            self.running_mean *= 1.0 - self.momentum
            self.running_mean += self.momentum * mean
            self.running_var *= 1.0 - self.momentum
            self.running_var += (self.momentum * count / (count - 1)) * var
        else:
            mean, var = self.running_mean, self.running_var
        inv_std = 1.0 / xp.sqrt(var + self.eps)
        x_hat = (x - self._broadcast(mean, x)) * self._broadcast(inv_std, x)
        self._cache = (x_hat, inv_std, self.training)
        return x_hat * self._broadcast(self.weight.data, x) + self._broadcast(self.bias.data, x)

    def backward(self, grad_output: Any) -> Any:
        if self._cache is None:
            raise RuntimeError("BatchNorm.backward called before forward")
        x_hat, inv_std, used_batch_statistics = self._cache
        axes = self.reduce_axes(grad_output)
        self.weight.grad += (grad_output * x_hat).sum(axis=axes)
        self.bias.grad += grad_output.sum(axis=axes)
        grad_x_hat = grad_output * self._broadcast(self.weight.data, grad_output)
        scale = self._broadcast(inv_std, grad_output)
        if not used_batch_statistics:
            return grad_x_hat * scale  # the running statistics are constants
        # The batch mean and variance depend on every input, which adds two correction
        # terms: dx = inv_std * (g - mean(g) - x_hat * mean(g * x_hat)), g = dL/dx_hat.
        mean_grad = grad_x_hat.mean(axis=axes, keepdims=True)
        mean_grad_x_hat = (grad_x_hat * x_hat).mean(axis=axes, keepdims=True)
        return scale * (grad_x_hat - mean_grad - x_hat * mean_grad_x_hat)

    def extra_repr(self) -> str:
        return f"{self.num_features}, momentum={self.momentum}, eps={self.eps}"


class BatchNorm1d(BatchNorm):
    """Batch normalisation of ``(N, C)`` features, as between the layers of an MLP."""

    expected_ndim = 2
