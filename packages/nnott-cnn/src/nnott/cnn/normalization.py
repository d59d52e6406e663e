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
from nnott.backend.cpu_threads import in_parts
from nnott.cnn.functional import from_chwn, to_chwn
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


def channel_rows(x: Any) -> Any:
    """The ``(N, C, H, W)`` array ``x`` as ``(C, H*W*N)``: one row of values per channel.

    Free (a view) for an array stored images-last, which is what every convolution here
    returns (see :mod:`nnott.cnn.functional`); any other layout is copied once.
    """
    return to_chwn(x).reshape(x.shape[1], -1)


def from_channel_rows(rows: Any, shape: tuple[int, ...]) -> Any:
    """The ``(N, C, H, W)`` view of ``(C, H*W*N)`` rows: the inverse of :func:`channel_rows`."""
    n, c, h, w = shape
    return from_chwn(rows.reshape(c, h, w, n))


class BatchNorm2D(_ChannelAffine):
    """Batch normalization over ``(N, H, W)`` for each channel, with PyTorch's semantics.

    Training: normalize with the batch mean and the biased batch variance, and update the
    running statistics ``running = (1 - momentum) * running + momentum * batch`` using the
    *unbiased* batch variance. Evaluation: normalize with the running statistics, a fixed
    per-channel affine map. ``running_mean`` and ``running_var`` are buffers: saved in
    checkpoints, never trained.

    Speed: batch norm touches every activation several times and does little arithmetic,
    so its cost is the number of passes over memory. It works on the channel rows
    (:func:`channel_rows`), where every per-channel sum is a reduction along one contiguous
    row, and it keeps the centred input ``x - mean`` rather than ``x_hat``, so that forward
    makes five passes (mean, centre, variance, scale, shift) and backward six. On the
    CPU the channels are shared out over the cores
    (:func:`nnott.backend.cpu_threads.in_parts`); each row is still computed by one core,
    so the results do not depend on the number of cores.
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
        self._centered: Any = None  # (C, M) rows of x - batch mean, kept in training
        self._input_rows: Any = None  # (C, M) rows of x, kept in evaluation

    def forward(self, x: Any) -> Any:
        self._check(x)
        self._batch_stats = self.training
        rows = channel_rows(x)
        if self.training:
            y = self._batch_forward(rows)
        else:
            self._inv_std = 1.0 / xp.sqrt(self.running_var + self.eps)
            scale = self.weight.data * self._inv_std
            shift = self.bias.data - self.running_mean * scale
            y = rows * scale[:, None]
            y += shift[:, None]
            self._input_rows = rows
        return from_channel_rows(y, x.shape)

    def _batch_forward(self, rows: Any) -> Any:
        """Normalize each channel row with its own mean and biased variance."""
        channels, count = rows.shape
        centered = xp.empty_like(rows)
        y = xp.empty_like(rows)
        mean, var, inv_std = (xp.empty(channels, dtype=rows.dtype) for _ in range(3))

        def normalize(part: slice) -> None:  # the channels in ``part``
            mean[part] = rows[part].mean(axis=1)
            xp.subtract(rows[part], mean[part, None], out=centered[part])
            var[part] = xp.einsum("cm,cm->c", centered[part], centered[part]) / count
            inv_std[part] = 1.0 / xp.sqrt(var[part] + self.eps)
            scale = self.weight.data[part] * inv_std[part]
            xp.multiply(centered[part], scale[:, None], out=y[part])
            y[part] += self.bias.data[part, None]

        in_parts(normalize, channels, 5 * rows.size)
        self._centered, self._inv_std = centered, inv_std
        self._update_running(mean, var, count)
        return y

    def _update_running(self, mean: Any, var: Any, count: int) -> None:
        """Move the running statistics towards this batch's, in place (they are buffers)."""
        unbiased = var * (count / max(count - 1, 1))
        m = self.momentum
        self.running_mean *= 1.0 - m
        self.running_mean += m * mean
        self.running_var *= 1.0 - m
        self.running_var += m * unbiased

    def backward(self, grad_output: Any) -> Any:
        grad_rows = channel_rows(grad_output)
        if not self._batch_stats:
            return from_channel_rows(self._eval_backward(grad_rows), grad_output.shape)
        return from_channel_rows(self._batch_backward(grad_rows), grad_output.shape)

    def _eval_backward(self, grad_rows: Any) -> Any:
        """With running statistics the layer is ``y = x * scale + shift`` per channel."""
        x_hat = (self._input_rows - self.running_mean[:, None]) * self._inv_std[:, None]
        self.weight.grad += xp.einsum("cm,cm->c", grad_rows, x_hat)
        self.bias.grad += grad_rows.sum(axis=1)
        return grad_rows * (self.weight.data * self._inv_std)[:, None]

    def _batch_backward(self, grad_rows: Any) -> Any:
        """The module docstring's formula, per channel row, with ``x_hat = centered * s``.

        With ``s = inv_std``, ``M`` values per channel, ``db = sum(dy)`` and
        ``dw = sum(dy * x_hat) = s * sum(dy * centered)``:
        ``dx = w * s * (dy - db / M - (s * dw / M) * centered)``.
        """
        channels, count = grad_rows.shape
        centered, inv_std, weight = self._centered, self._inv_std, self.weight.data
        grad_x = xp.empty_like(grad_rows)
        grad_weight = xp.empty(channels, dtype=grad_rows.dtype)
        grad_bias = xp.empty(channels, dtype=grad_rows.dtype)

        def through_norm(part: slice) -> None:  # the channels in ``part``
            dy, s = grad_rows[part], inv_std[part]
            grad_bias[part] = dy.sum(axis=1)
            grad_weight[part] = xp.einsum("cm,cm->c", dy, centered[part]) * s
            correction = s * grad_weight[part] / count
            xp.multiply(centered[part], correction[:, None], out=grad_x[part])
            xp.subtract(dy, grad_x[part], out=grad_x[part])
            grad_x[part] -= (grad_bias[part] / count)[:, None]
            grad_x[part] *= (weight[part] * s)[:, None]

        in_parts(through_norm, channels, 5 * grad_rows.size)
        self.weight.grad += grad_weight
        self.bias.grad += grad_bias
        return grad_x

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
