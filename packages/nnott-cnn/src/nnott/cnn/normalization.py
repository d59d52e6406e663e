"""Normalization for images: ``BatchNorm2D`` and ``LayerNorm2D``.

Both normalize ``x`` to zero mean and unit variance over some axes and then scale and
shift each channel by learned ``weight`` and ``bias``. They differ in the axes:

- ``BatchNorm2D`` (ResNet, MobileNet, EfficientNet): per channel, over the batch and all
  pixels ``(N, H, W)``; in evaluation it uses running averages instead of the batch.
- ``LayerNorm2D`` (ConvNeXt): per pixel of each sample, over the channels ``C``; the same
  in training and evaluation.

The backward pass is the same formula for both, over their own axes (``M`` values each):
with ``g_hat = dy * weight``,
``dx = (g_hat - mean(g_hat) - x_hat * mean(g_hat * x_hat)) / sqrt(var + eps)``.
"""

from __future__ import annotations

from typing import Any

from nnott.backend import xp
from nnott.errors import ConfigError
from nnott.vectorized.init import resolve_dtype
from nnott.vectorized.module import Module, Parameter

__all__ = ["BatchNorm2D", "LayerNorm2D"]


def _normalize(x: Any, axes: tuple[int, ...], eps: float) -> tuple[Any, Any, Any, Any]:
    """``(x_hat, inv_std, mean, biased variance)`` of ``x`` over ``axes`` (kept as size 1)."""
    mean = x.mean(axis=axes, keepdims=True)
    centered = x - mean
    var = (centered * centered).mean(axis=axes, keepdims=True)
    inv_std = 1.0 / xp.sqrt(var + eps)
    centered *= inv_std
    return centered, inv_std, mean, var


def _normalize_backward(grad_hat: Any, x_hat: Any, inv_std: Any, axes: tuple[int, ...]) -> Any:
    """Gradient through ``x_hat = (x - mean) / sqrt(var + eps)`` when mean and var are
    computed from ``x`` itself over ``axes``."""
    mean_grad = grad_hat.mean(axis=axes, keepdims=True)
    mean_grad_x = (grad_hat * x_hat).mean(axis=axes, keepdims=True)
    return (grad_hat - mean_grad - x_hat * mean_grad_x) * inv_std


class _ChannelAffine(Module):
    """The learned per-channel scale ``weight`` (ones) and shift ``bias`` (zeros)."""

    def __init__(self, num_features: int, eps: float, dtype: Any) -> None:
        super().__init__()
        if num_features < 1 or eps <= 0:
            raise ConfigError(
                f"{type(self).__name__} needs num_features >= 1 and eps > 0, "
                f"not {num_features} and {eps}"
            )
        self.num_features = num_features
        self.eps = float(eps)
        dtype = resolve_dtype(dtype)
        self.weight = Parameter(xp.ones((num_features,), dtype=dtype))
        self.bias = Parameter(xp.zeros((num_features,), dtype=dtype))
        self._x_hat: Any = None
        self._inv_std: Any = None

    def _check(self, x: Any) -> None:
        if x.ndim != 4 or x.shape[1] != self.num_features:
            raise ConfigError(
                f"{type(self).__name__} expects (N, {self.num_features}, H, W) input, "
                f"got shape {tuple(x.shape)}"
            )

    def _affine(self, x_hat: Any) -> Any:
        shape = (1, self.num_features, 1, 1)
        return x_hat * self.weight.data.reshape(shape) + self.bias.data.reshape(shape)

    def _affine_backward(self, grad_output: Any) -> Any:
        """Add the weight and bias gradients; return the gradient with respect to ``x_hat``."""
        self.weight.grad += (grad_output * self._x_hat).sum(axis=(0, 2, 3))
        self.bias.grad += grad_output.sum(axis=(0, 2, 3))
        return grad_output * self.weight.data.reshape(1, self.num_features, 1, 1)


class BatchNorm2D(_ChannelAffine):
    """Batch normalization over ``(N, H, W)`` for each channel, with PyTorch's semantics.

    Training: normalize with the batch mean and the biased batch variance, and update the
    running statistics ``running = (1 - momentum) * running + momentum * batch`` using the
    *unbiased* batch variance. Evaluation: normalize with the running statistics, a fixed
    per-channel affine map. ``running_mean`` and ``running_var`` are buffers: saved in
    checkpoints, never trained.
    """

    running_mean: Any  # buffers, registered in __init__
    running_var: Any

    def __init__(
        self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, *, dtype: Any = None
    ) -> None:
        super().__init__(num_features, eps, dtype)
        if not 0.0 <= momentum <= 1.0:
            raise ConfigError(f"momentum must be in [0, 1], not {momentum}")
        self.momentum = float(momentum)
        dtype = resolve_dtype(dtype)
        self.register_buffer("running_mean", xp.zeros((num_features,), dtype=dtype))
        self.register_buffer("running_var", xp.ones((num_features,), dtype=dtype))
        self._batch_stats = True

    def forward(self, x: Any) -> Any:
        self._check(x)
        self._batch_stats = self.training
        if self.training:
            x_hat, inv_std, mean, var = _normalize(x, (0, 2, 3), self.eps)
            self._update_running(mean.reshape(-1), var.reshape(-1), x.size // x.shape[1])
        else:
            shape = (1, self.num_features, 1, 1)
            inv_std = 1.0 / xp.sqrt(self.running_var.reshape(shape) + self.eps)
            x_hat = (x - self.running_mean.reshape(shape)) * inv_std
        self._x_hat, self._inv_std = x_hat, inv_std
        return self._affine(x_hat)

    def _update_running(self, mean: Any, var: Any, count: int) -> None:
        """Move the running statistics towards this batch's, in place (they are buffers)."""
        unbiased = var * (count / max(count - 1, 1))
        m = self.momentum
        self.running_mean *= 1.0 - m
        self.running_mean += m * mean
        self.running_var *= 1.0 - m
        self.running_var += m * unbiased

    def backward(self, grad_output: Any) -> Any:
        grad_hat = self._affine_backward(grad_output)
        if not self._batch_stats:  # running statistics are constants: a per-channel scale
            return grad_hat * self._inv_std
        return _normalize_backward(grad_hat, self._x_hat, self._inv_std, (0, 2, 3))

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class LayerNorm2D(_ChannelAffine):
    """Layer normalization over the channels at each pixel, as ConvNeXt uses it.

    For every sample ``n`` and pixel ``(h, w)``, the ``C`` values ``x[n, :, h, w]`` are
    normalized to zero mean and unit (biased) variance, then scaled and shifted per channel.
    It is ``torch.nn.LayerNorm(C)`` applied to the channels-last view, without the
    transposes. No running statistics: training and evaluation compute the same thing.
    ConvNeXt's ``eps`` is ``1e-6``, the default here.
    """

    def __init__(self, num_features: int, eps: float = 1e-6, *, dtype: Any = None) -> None:
        super().__init__(num_features, eps, dtype)

    def forward(self, x: Any) -> Any:
        self._check(x)
        self._x_hat, self._inv_std, _, _ = _normalize(x, (1,), self.eps)
        return self._affine(self._x_hat)

    def backward(self, grad_output: Any) -> Any:
        grad_hat = self._affine_backward(grad_output)
        return _normalize_backward(grad_hat, self._x_hat, self._inv_std, (1,))

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}"
