"""2-D convolution: ``Conv2D`` (stride, padding, groups, bias) and ``DepthwiseConv2D``.

Forward is im2col plus one matrix product per layer (one batched product over the groups
of a grouped convolution); backward is two more products (weight and column gradients)
and a col2im made of ``kh*kw`` strided slice-additions (a first layer's weight gradient is
summed in pieces, see :mod:`nnott.cnn.products`). On the CPU, a convolution with a big
column matrix never builds it: it goes one output row at a time, each row's columns a
slice of an image ``kh`` times smaller, see :mod:`nnott.cnn.bands`. A depthwise
convolution (one filter per channel) has products too thin to be worth a GEMM, so it
takes its own path: for each of the ``kh*kw`` kernel taps, one multiply-accumulate
vectorized over ``N, C, OH, OW``.
See :mod:`nnott.cnn.functional` for the images-last memory layout both paths share.

Weights follow PyTorch's layout ``(out_channels, in_channels // groups, kh, kw)`` so that
they can be copied from ``torch.nn.Conv2d`` as they are.
"""

from __future__ import annotations

from typing import Any

from nnott.backend import xp
from nnott.cnn.bands import (
    banded_forward,
    banded_input_gradient,
    banded_weight_gradient,
    uses_bands,
)
from nnott.cnn.functional import (
    as_pair,
    col2im,
    conv_output_size,
    from_chwn,
    im2col,
    im2col_copies,
    pad_chwn,
    tap_slice,
    to_chwn,
    unpad,
)
from nnott.cnn.products import weight_gradient
from nnott.errors import ConfigError
from nnott.vectorized.init import initial_weight, zeros
from nnott.vectorized.module import Module, Parameter

__all__ = ["FAN_MODES", "Conv2D", "DepthwiseConv2D"]

FAN_MODES: tuple[str, ...] = ("fan_out", "fan_in")


class Conv2D(Module):
    """A 2-D convolution (cross-correlation, as in every deep-learning library).

    ``y[n, k, oh, ow] = b[k] + sum_{c, i, j} W[k, c, i, j] * x_pad[n, c, s*oh + i, s*ow + j]``
    over the ``in_channels // groups`` input channels of output channel ``k``'s group.

    Args:
        in_channels, out_channels: channel counts, both divisible by ``groups``.
        kernel_size: ``k`` or ``(kh, kw)``.
        stride, padding: the same in both directions; zero padding.
        groups: split the channels into this many independent convolutions
            (``groups == in_channels == out_channels`` is a depthwise convolution).
        bias: add a learned bias per output channel (off before batch norm).
        init: ``"he"`` (default) or ``"xavier"`` normal initial weights, drawn on the host
            (see :mod:`nnott.vectorized.init`); biases start at zero.
        mode: which fan He's scale ``sqrt(2 / fan)`` uses. ``"fan_out"``
            (``out_channels * kh * kw``, the default) is what torchvision's ResNet,
            MobileNet and EfficientNet use (``kaiming_normal_(mode="fan_out")``);
            ``"fan_in"`` (``in_channels // groups * kh * kw``) is He's original choice.
        dtype: parameter dtype, float32 unless given (float64 for gradient checks).

    ``needs_input_grad`` (default True): set it to False on a network's first layer, whose
    input is the images. Nothing uses the gradient with respect to the images, so backward
    then computes only the weight and bias gradients and returns None, skipping a GEMM and
    the col2im (PyTorch skips the same work because its input does not require grad).

    Memory: the forward pass keeps its column matrix (``kh*kw`` times the input for a
    stride-1 convolution) for the backward pass, trading memory for not rebuilding it.
    Layers never modify their inputs, so a 1x1 convolution keeps a view of its input.
    A convolution whose column matrix is big goes in bands on the CPU
    (:mod:`nnott.cnn.bands`) and keeps only its padded input, from which the backward pass
    rebuilds what it needs.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int = 1,
        padding: int = 0,
        groups: int = 1,
        bias: bool = True,
        *,
        init: str = "he",
        mode: str = "fan_out",
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.kernel_size = as_pair(kernel_size, "kernel_size")
        if min(in_channels, out_channels, groups, stride, *self.kernel_size) < 1 or padding < 0:
            raise ConfigError(
                "Conv2D needs positive channels, kernel, stride and groups and padding >= 0, "
                f"not in={in_channels}, out={out_channels}, kernel={kernel_size}, "
                f"stride={stride}, padding={padding}, groups={groups}"
            )
        if in_channels % groups or out_channels % groups:
            raise ConfigError(
                f"groups={groups} must divide in_channels={in_channels} "
                f"and out_channels={out_channels}"
            )
        if mode not in FAN_MODES:
            raise ConfigError(f"unknown mode {mode!r}; choose one of {', '.join(FAN_MODES)}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.stride = stride
        self.padding = padding
        self.groups = groups
        kh, kw = self.kernel_size
        shape = (out_channels, in_channels // groups, kh, kw)
        fan_in, fan_out = shape[1] * kh * kw, out_channels * kh * kw
        he_fan = fan_out if mode == "fan_out" else fan_in
        self.weight = Parameter(initial_weight(shape, init, he_fan, fan_out, dtype))
        self.bias = Parameter(zeros((out_channels,), dtype)) if bias else None
        self.needs_input_grad = True
        self._input_shape: tuple[int, int, int, int] = (0, 0, 0, 0)
        self._cached: Any = None  # the columns (GEMM path) or the padded input (the others)
        self._in_bands = False  # whether the last forward pass went in bands

    @property
    def is_depthwise(self) -> bool:
        """One filter per channel: takes the per-tap multiply-accumulate path."""
        return self.groups == self.in_channels == self.out_channels and self.groups > 1

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
        """The ``(N, K, OH, OW)`` shape this layer makes of an ``(N, C, H, W)`` input."""
        n, _, h, w = input_shape
        kh, kw = self.kernel_size
        return (
            n,
            self.out_channels,
            conv_output_size(h, kh, self.stride, self.padding),
            conv_output_size(w, kw, self.stride, self.padding),
        )

    # -- forward ------------------------------------------------------------------------
    def forward(self, x: Any) -> Any:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ConfigError(
                f"{type(self).__name__} expects (N, {self.in_channels}, H, W) input, "
                f"got shape {tuple(x.shape)}"
            )
        self._input_shape = tuple(x.shape)
        n, k, out_h, out_w = self.output_shape(x.shape)
        if self.is_depthwise:
            y_chwn = self._depthwise_forward(x, out_h, out_w)
        else:
            y_chwn = self._gemm_forward(x).reshape(k, out_h, out_w, n)
        return from_chwn(y_chwn)

    def _gemm_forward(self, x: Any) -> Any:
        """``W (G, K/G, C/G*kh*kw) @ cols (G, C/G*kh*kw, OH*OW*N)``, as ``(K, OH*OW*N)``."""
        n, _, out_h, out_w = self.output_shape(x.shape)
        copied = im2col_copies(self.kernel_size, self.stride, self.padding)
        self._in_bands = copied and uses_bands(
            self.in_channels, self.kernel_size, self.stride, (out_h, out_w), n, self.groups
        )
        if self._in_bands:
            # Refill the last call's padded input when it is one (pad_chwn checks its
            # shape), never the input itself that an unpadded layer keeps.
            refill = self._cached if self.padding else None
            padded = pad_chwn(x, self.padding, refill=refill)
            self._cached = padded
            y = banded_forward(padded, self.weight.data, self.stride)
            if self.bias is not None:
                y += self.bias.data[:, None]
            return y
        # The last call's columns are refilled rather than allocated anew: they are kept for
        # backward anyway, and fresh pages cost the OS a zeroing pass (see im2col). Only a
        # copy is refilled, never the input itself that a 1x1 convolution's columns are.
        refill = self._cached if copied else None
        cols = im2col(x, self.kernel_size, self.stride, self.padding, out=refill)
        self._cached = cols
        g = self.groups
        y = xp.matmul(
            self.weight.data.reshape(g, self.out_channels // g, -1),
            cols.reshape(g, cols.shape[0] // g, cols.shape[1]),
        ).reshape(self.out_channels, cols.shape[1])
        if self.bias is not None:
            y += self.bias.data[:, None]
        return y

    def _depthwise_forward(self, x: Any, out_h: int, out_w: int) -> Any:
        """Sum over the kernel taps of (input slab seen by the tap) * (that tap's weights)."""
        padded = pad_chwn(x, self.padding)
        self._cached = padded
        taps = self.weight.data[:, 0]  # (C, kh, kw)
        c, n = padded.shape[0], padded.shape[3]
        y = xp.zeros((c, out_h, out_w, n), dtype=x.dtype)
        product = xp.empty_like(y)
        kh, kw = self.kernel_size
        for i in range(kh):
            for j in range(kw):
                seen = padded[tap_slice(i, j, out_h, out_w, self.stride)]
                xp.multiply(seen, taps[:, i, j, None, None, None], out=product)
                y += product
        if self.bias is not None:
            y += self.bias.data[:, None, None, None]
        return y

    # -- backward -----------------------------------------------------------------------
    def backward(self, grad_output: Any) -> Any:
        grad_chwn = to_chwn(grad_output)  # (K, OH, OW, N), free
        if self.bias is not None:
            self.bias.grad += grad_chwn.sum(axis=(1, 2, 3))
        if self.is_depthwise:
            return self._depthwise_backward(grad_chwn)
        if self._in_bands:
            return self._banded_backward(grad_chwn)
        return self._gemm_backward(grad_chwn)

    def _banded_backward(self, grad_chwn: Any) -> Any:
        k = self.out_channels
        grad_weight = banded_weight_gradient(
            self._cached, grad_chwn.reshape(k, -1), self.kernel_size, self.stride
        )
        self.weight.grad += grad_weight
        if not self.needs_input_grad:
            return None
        _, _, h, w = self._input_shape
        return from_chwn(
            banded_input_gradient(grad_chwn, self.weight.data, self.stride, self.padding, (h, w))
        )

    def _gemm_backward(self, grad_chwn: Any) -> Any:
        # y = W @ cols  =>  dW = dy @ cols^T  and  dcols = W^T @ dy, then fold dcols (col2im).
        g, k = self.groups, self.out_channels
        cols = self._cached
        grad_y = grad_chwn.reshape(g, k // g, -1)  # free when the gradient is images-last
        cols_g = cols.reshape(g, cols.shape[0] // g, cols.shape[1])
        weight_g = self.weight.data.reshape(g, k // g, -1)
        grad_weight = weight_gradient(cols_g, grad_y)  # dy @ cols^T, see nnott.cnn.products
        self.weight.grad += grad_weight.reshape(self.weight.shape)
        if not self.needs_input_grad:
            return None
        grad_cols = xp.matmul(weight_g.transpose(0, 2, 1), grad_y)
        return col2im(
            grad_cols.reshape(cols.shape),
            self._input_shape,
            self.kernel_size,
            self.stride,
            self.padding,
        )

    def _depthwise_backward(self, grad_chwn: Any) -> Any:
        # Each tap did y += seen * w_tap:  dw_tap = sum(dy * seen),  d(seen) += dy * w_tap.
        padded = self._cached
        taps = self.weight.data[:, 0]
        _, out_h, out_w, _ = grad_chwn.shape
        kh, kw = self.kernel_size
        grad_taps = xp.empty_like(taps)
        grad_padded = xp.zeros_like(padded) if self.needs_input_grad else None
        product = xp.empty_like(grad_chwn)
        for i in range(kh):
            for j in range(kw):
                where = tap_slice(i, j, out_h, out_w, self.stride)
                grad_taps[:, i, j] = xp.einsum("chwn,chwn->c", grad_chwn, padded[where])
                if grad_padded is not None:
                    xp.multiply(grad_chwn, taps[:, i, j, None, None, None], out=product)
                    grad_padded[where] += product
        self.weight.grad += grad_taps[:, None]
        if grad_padded is None:
            return None
        return from_chwn(unpad(grad_padded, self.padding))

    def extra_repr(self) -> str:
        kh, kw = self.kernel_size
        text = f"{self.in_channels}, {self.out_channels}, kernel_size=({kh}, {kw})"
        text += f", stride={self.stride}, padding={self.padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        return text + f", bias={self.bias is not None}"


class DepthwiseConv2D(Conv2D):
    """A depthwise convolution: one ``kh x kw`` filter per channel, channels never mix.

    The same as ``Conv2D(channels, channels, kernel_size, groups=channels)`` (weight shape
    ``(channels, 1, kh, kw)``), named for the blocks that use it (MBConv, ConvNeXt).
    It costs ``kh*kw`` multiply-adds per output value instead of ``C*kh*kw``.
    """

    def __init__(
        self,
        channels: int,
        kernel_size: int | tuple[int, int],
        stride: int = 1,
        padding: int = 0,
        bias: bool = True,
        *,
        init: str = "he",
        mode: str = "fan_out",
        dtype: Any = None,
    ) -> None:
        super().__init__(
            channels,
            channels,
            kernel_size,
            stride,
            padding,
            groups=channels,
            bias=bias,
            init=init,
            mode=mode,
            dtype=dtype,
        )
