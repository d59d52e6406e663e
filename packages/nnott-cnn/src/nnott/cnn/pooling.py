"""Pooling: ``MaxPool2D``, ``AvgPool2D`` and ``GlobalAvgPool2D``.

Window pooling works like convolution without weights, on the same images-last padded
buffer (see :mod:`nnott.cnn.functional`). Backward is, as in col2im, one strided
slice-addition per kernel tap into a zeroed input-gradient buffer: never a loop over pixels,
never ``add.at``. Max pooling remembers which tap won each window (its argmax) and routes
each window's gradient to that tap alone.
"""

from __future__ import annotations

from typing import Any

from nnott.backend import xp
from nnott.backend.cpu_threads import in_parts
from nnott.cnn.functional import (
    as_pair,
    conv_output_size,
    from_chwn,
    pad_chwn,
    tap_slice,
    to_chwn,
    unpad,
)
from nnott.errors import ConfigError
from nnott.vectorized.module import Module

__all__ = ["AvgPool2D", "GlobalAvgPool2D", "MaxPool2D"]


class _WindowPool(Module):
    """What max and average pooling share: window geometry and input checks."""

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | None = None,
        padding: int = 0,
    ) -> None:
        super().__init__()
        self.kernel_size = as_pair(kernel_size, "kernel_size")
        self.stride = max(self.kernel_size) if stride is None else stride
        self.padding = padding
        kh, kw = self.kernel_size
        if min(kh, kw, self.stride) < 1 or padding < 0:
            raise ConfigError(
                f"{type(self).__name__} needs a positive kernel and stride and padding >= 0, "
                f"not kernel={kernel_size}, stride={stride}, padding={padding}"
            )
        if 2 * padding > min(kh, kw):
            raise ConfigError(
                f"padding {padding} must be at most half the kernel {self.kernel_size}, "
                "or some windows would see only padding"
            )
        self._input_shape: tuple[int, int, int, int] = (0, 0, 0, 0)

    def _geometry(self, x: Any) -> tuple[int, int]:
        """Check ``x`` and return the output height and width."""
        if x.ndim != 4:
            raise ConfigError(
                f"{type(self).__name__} expects (N, C, H, W) input, got shape {tuple(x.shape)}"
            )
        self._input_shape = tuple(x.shape)
        kh, kw = self.kernel_size
        out_h = conv_output_size(x.shape[2], kh, self.stride, self.padding)
        out_w = conv_output_size(x.shape[3], kw, self.stride, self.padding)
        return out_h, out_w

    def _grad_buffer(self, dtype: Any) -> Any:
        """A zeroed, padded input-gradient buffer ``(C, Hp, Wp, N)``."""
        n, c, h, w = self._input_shape
        p = self.padding
        return xp.zeros((c, h + 2 * p, w + 2 * p, n), dtype=dtype)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2D(_WindowPool):
    """The largest value of each ``kh x kw`` window (padding counts as ``-inf``).

    ``stride`` defaults to the kernel size, as in PyTorch. On ties the first tap in
    row-major order wins, as in PyTorch, and alone receives the gradient.

    Two ways to find the winners, with the same results:

    - the general one (any window): a running maximum over the ``kh*kw`` taps that
      remembers which tap holds it;
    - 2x2 windows with stride 2 and no padding (LeNet's, VGG's and the baseline's pools) play
      a tournament instead: the two top pixels of each window meet, then the two bottom
      ones, then the two winners. Three comparisons per window in place of a remembered
      argmax, about twice as fast in NumPy, and the backward pass splits each window's
      gradient along the same three decisions.
    """

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | None = None,
        padding: int = 0,
    ) -> None:
        super().__init__(kernel_size, stride, padding)
        self._argmax: Any = None  # the general path: the winning tap of each window
        self._decisions: tuple[Any, Any, Any] | None = None  # the tournament's three

    @property
    def plays_tournament(self) -> bool:
        """True for 2x2 windows with stride 2 and no padding (the fast path)."""
        return self.kernel_size == (2, 2) and self.stride == 2 and self.padding == 0

    def forward(self, x: Any) -> Any:
        out_h, out_w = self._geometry(x)
        if self.plays_tournament:
            return self._tournament_forward(x, out_h, out_w)
        return self._running_max_forward(x, out_h, out_w)

    def backward(self, grad_output: Any) -> Any:
        if self.plays_tournament:
            return self._tournament_backward(grad_output)
        return self._running_max_backward(grad_output)

    # -- any window: a running maximum -------------------------------------------------------
    def _running_max_forward(self, x: Any, out_h: int, out_w: int) -> Any:
        # kh*kw vectorized comparisons, no copy of the (overlapping) windows.
        kh, kw = self.kernel_size
        padded = pad_chwn(x, self.padding, value=-float("inf"))
        best = padded[tap_slice(0, 0, out_h, out_w, self.stride)].copy()
        argmax = xp.zeros(best.shape, dtype="int16")  # the winning tap, i*kw + j
        for i in range(kh):
            for j in range(kw):
                if i == j == 0:
                    continue
                seen = padded[tap_slice(i, j, out_h, out_w, self.stride)]
                better = seen > best  # strictly: on ties the earlier tap keeps the window
                xp.copyto(argmax, i * kw + j, where=better)
                xp.maximum(best, seen, out=best)
        self._argmax = argmax
        return from_chwn(best)

    def _running_max_backward(self, grad_output: Any) -> Any:
        grad_chwn = to_chwn(grad_output)
        _, out_h, out_w, _ = grad_chwn.shape
        kh, kw = self.kernel_size
        grad = self._grad_buffer(grad_output.dtype)
        for i in range(kh):
            for j in range(kw):
                won = self._argmax == i * kw + j
                grad[tap_slice(i, j, out_h, out_w, self.stride)] += xp.where(won, grad_chwn, 0.0)
        return from_chwn(unpad(grad, self.padding))

    # -- 2x2 windows, stride 2: a tournament --------------------------------------------------
    @staticmethod
    def _quarters(image_chwn: Any, out_h: int, out_w: int) -> tuple[Any, Any, Any, Any]:
        """The top-left, top-right, bottom-left and bottom-right pixel of every window, as
        four ``(C, OH, OW, N)`` strided views (an odd last row or column belongs to none)."""
        rows, cols = 2 * out_h, 2 * out_w
        return (
            image_chwn[:, 0:rows:2, 0:cols:2],
            image_chwn[:, 0:rows:2, 1:cols:2],
            image_chwn[:, 1:rows:2, 0:cols:2],
            image_chwn[:, 1:rows:2, 1:cols:2],
        )

    def _tournament_forward(self, x: Any, out_h: int, out_w: int) -> Any:
        quarters = self._quarters(to_chwn(x), out_h, out_w)
        shape = quarters[0].shape  # (C, OH, OW, N)
        left_wins_top, left_wins_bottom, top_wins = (xp.empty(shape, dtype=bool) for _ in "abc")
        best, bottom = xp.empty(shape, dtype=x.dtype), xp.empty(shape, dtype=x.dtype)

        def play(part: slice) -> None:  # the windows of the output rows in ``part``
            top_left, top_right, bottom_left, bottom_right = (q[:, part] for q in quarters)
            # ">=": on a tie the earlier pixel (row-major) wins, as in PyTorch
            xp.greater_equal(top_left, top_right, out=left_wins_top[:, part])
            xp.greater_equal(bottom_left, bottom_right, out=left_wins_bottom[:, part])
            xp.maximum(top_left, top_right, out=best[:, part])
            xp.maximum(bottom_left, bottom_right, out=bottom[:, part])
            xp.greater_equal(best[:, part], bottom[:, part], out=top_wins[:, part])
            xp.maximum(best[:, part], bottom[:, part], out=best[:, part])

        in_parts(play, out_h, 6 * best.size)
        self._decisions = (left_wins_top, left_wins_bottom, top_wins)
        return from_chwn(best)

    def _tournament_backward(self, grad_output: Any) -> Any:
        assert self._decisions is not None, "backward before forward"
        decisions = self._decisions
        grad_chwn = to_chwn(grad_output)
        _, out_h, out_w, _ = grad_chwn.shape
        grad = self._grad_buffer(grad_output.dtype)
        quarters = self._quarters(grad, out_h, out_w)

        def route(part: slice) -> None:  # the gradients of the output rows in ``part``
            left_wins_top, left_wins_bottom, top_wins = (d[:, part] for d in decisions)
            top_left, top_right, bottom_left, bottom_right = (q[:, part] for q in quarters)
            # Each window's gradient follows the decisions down: to the winning half, then
            # to the winning pixel of that half; the loser's share is the exact difference, 0.
            to_top = xp.multiply(grad_chwn[:, part], top_wins)
            to_bottom = grad_chwn[:, part] - to_top
            xp.multiply(to_top, left_wins_top, out=top_left)
            xp.subtract(to_top, top_left, out=top_right)
            xp.multiply(to_bottom, left_wins_bottom, out=bottom_left)
            xp.subtract(to_bottom, bottom_left, out=bottom_right)

        in_parts(route, out_h, 6 * grad_chwn.size)
        return from_chwn(grad)


class AvgPool2D(_WindowPool):
    """The mean of each ``kh x kw`` window.

    Zero padding counts in the mean (PyTorch's default ``count_include_pad=True``), so every
    window divides by ``kh * kw``. ``stride`` defaults to the kernel size.
    """

    def forward(self, x: Any) -> Any:
        out_h, out_w = self._geometry(x)
        kh, kw = self.kernel_size
        padded = pad_chwn(x, self.padding)
        c, _, _, n = padded.shape
        total = xp.zeros((c, out_h, out_w, n), dtype=x.dtype)
        for i in range(kh):
            for j in range(kw):
                total += padded[tap_slice(i, j, out_h, out_w, self.stride)]
        total *= 1.0 / (kh * kw)
        return from_chwn(total)

    def backward(self, grad_output: Any) -> Any:
        kh, kw = self.kernel_size
        share = to_chwn(grad_output) * (1.0 / (kh * kw))
        _, out_h, out_w, _ = share.shape
        grad = self._grad_buffer(grad_output.dtype)
        for i in range(kh):
            for j in range(kw):
                grad[tap_slice(i, j, out_h, out_w, self.stride)] += share
        return from_chwn(unpad(grad, self.padding))


class GlobalAvgPool2D(Module):
    """The mean over all pixels of each channel: ``(N, C, H, W)`` -> ``(N, C)``.

    The head of every modern CNN (ResNet, MobileNet, EfficientNet, ConvNeXt): it makes the
    classifier independent of the input size. ``keepdims=True`` returns ``(N, C, 1, 1)``.
    """

    def __init__(self, keepdims: bool = False) -> None:
        super().__init__()
        self.keepdims = keepdims
        self._input_shape: tuple[int, int, int, int] = (0, 0, 0, 0)

    def forward(self, x: Any) -> Any:
        if x.ndim != 4:
            raise ConfigError(f"GlobalAvgPool2D expects (N, C, H, W), got {tuple(x.shape)}")
        self._input_shape = tuple(x.shape)
        return x.mean(axis=(2, 3), keepdims=self.keepdims)

    def backward(self, grad_output: Any) -> Any:
        n, c, h, w = self._input_shape
        share = grad_output.reshape(n, c, 1, 1) * (1.0 / (h * w))
        grad = from_chwn(xp.empty((c, h, w, n), dtype=grad_output.dtype))
        grad[...] = share  # every pixel gets an equal share of its channel's gradient
        return grad

    def extra_repr(self) -> str:
        return f"keepdims={self.keepdims}" if self.keepdims else ""
