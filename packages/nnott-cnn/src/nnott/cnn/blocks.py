"""The building blocks of modern CNNs, composed from the layers of this package.

- :class:`SqueezeExcitation`: reweight channels by a gate computed from their means.
- :class:`BasicBlock`: ResNet-18/34's two 3x3 convolutions with a residual connection.
- :class:`MBConv`: the inverted residual of MobileNetV2/V3 and EfficientNet.
- :class:`ConvNeXtBlock`: 7x7 depthwise, LayerNorm, pointwise MLP, layer scale.

A block's ``backward`` is the chain of its layers' ``backward`` in reverse order. Where the
forward pass splits the signal (a residual connection, a gate multiplying its own input),
each path gets the gradient and the gradients of the paths are added where they meet.
Activations are given by name (see :func:`nnott.vectorized.activations.get_activation`).
"""

from __future__ import annotations

from typing import Any

from nnott.backend import xp
from nnott.cnn.conv import Conv2D, DepthwiseConv2D
from nnott.cnn.normalization import BatchNorm2D, LayerNorm2D
from nnott.errors import ConfigError
from nnott.vectorized.activations import get_activation
from nnott.vectorized.init import resolve_dtype
from nnott.vectorized.layers import Linear
from nnott.vectorized.module import Module, Parameter

__all__ = ["BasicBlock", "ConvNeXtBlock", "MBConv", "SqueezeExcitation"]


class SqueezeExcitation(Module):
    """Squeeze-and-excitation (Hu et al., 2018): let each sample choose its channels' weights.

    ``s = mean over pixels of x`` (squeeze, ``(N, C)``), ``e = fc2(act(fc1(s)))`` (excite,
    through ``squeeze_channels`` units), ``y = x * gate(e)`` per channel. ``gate`` is
    ``"sigmoid"`` (EfficientNet) or ``"hardsigmoid"`` (MobileNetV3); ``activation`` is
    ``"silu"`` in EfficientNet and ``"relu"`` in MobileNetV3. ``fc1`` and ``fc2`` are the
    1x1 convolutions of torchvision's version, written as :class:`Linear` layers (weights
    ``(out, in)``).
    """

    def __init__(
        self,
        channels: int,
        squeeze_channels: int,
        activation: str = "relu",
        gate: str = "sigmoid",
        *,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if gate not in ("sigmoid", "hardsigmoid"):
            raise ConfigError(f"the SE gate must be 'sigmoid' or 'hardsigmoid', not {gate!r}")
        self.fc1 = Linear(channels, squeeze_channels, dtype=dtype)
        self.activation = get_activation(activation)
        self.fc2 = Linear(squeeze_channels, channels, dtype=dtype)
        self.gate = get_activation(gate)
        self._input: Any = None
        self._scale: Any = None

    def forward(self, x: Any) -> Any:
        self._input = x
        squeezed = x.mean(axis=(2, 3))
        excited = self.fc2(self.activation(self.fc1(squeezed)))
        self._scale = self.gate(excited)[:, :, None, None]
        return x * self._scale

    def backward(self, grad_output: Any) -> Any:
        x = self._input
        n, c, h, w = x.shape
        # y = x * scale: x reaches y directly and through the scale (a function of mean(x)).
        grad_scale = (grad_output * x).sum(axis=(2, 3))
        grad_squeezed = self.fc1.backward(
            self.activation.backward(self.fc2.backward(self.gate.backward(grad_scale)))
        )
        return grad_output * self._scale + grad_squeezed.reshape(n, c, 1, 1) * (1.0 / (h * w))

    def extra_repr(self) -> str:
        return f"{self.fc1.in_features}, squeeze_channels={self.fc1.out_features}"


class BasicBlock(Module):
    """ResNet's basic block: ``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``.

    ``conv1`` is 3x3 with ``stride``, ``conv2`` 3x3 with stride 1, both without bias (batch
    norm follows). When the stride or the channel count changes, the shortcut is a 1x1
    convolution with that stride followed by batch norm (``shortcut_conv``,
    ``shortcut_bn``; torchvision's ``downsample``); otherwise it is the identity.
    """

    def __init__(
        self, in_channels: int, out_channels: int, stride: int = 1, *, dtype: Any = None
    ) -> None:
        super().__init__()
        self.conv1 = Conv2D(in_channels, out_channels, 3, stride, 1, bias=False, dtype=dtype)
        self.bn1 = BatchNorm2D(out_channels, dtype=dtype)
        self.relu1 = get_activation("relu")
        self.conv2 = Conv2D(out_channels, out_channels, 3, 1, 1, bias=False, dtype=dtype)
        self.bn2 = BatchNorm2D(out_channels, dtype=dtype)
        self.shortcut_conv: Conv2D | None = None
        self.shortcut_bn: BatchNorm2D | None = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut_conv = Conv2D(
                in_channels, out_channels, 1, stride, 0, bias=False, dtype=dtype
            )
            self.shortcut_bn = BatchNorm2D(out_channels, dtype=dtype)
        self.relu_out = get_activation("relu")

    def forward(self, x: Any) -> Any:
        main = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        shortcut = x
        if self.shortcut_conv is not None and self.shortcut_bn is not None:
            shortcut = self.shortcut_bn(self.shortcut_conv(x))
        return self.relu_out(main + shortcut)

    def backward(self, grad_output: Any) -> Any:
        grad_sum = self.relu_out.backward(grad_output)  # reaches both paths unchanged
        grad_main = self.conv1.backward(
            self.bn1.backward(self.relu1.backward(self.conv2.backward(self.bn2.backward(grad_sum))))
        )
        grad_shortcut = grad_sum
        if self.shortcut_conv is not None and self.shortcut_bn is not None:
            grad_shortcut = self.shortcut_conv.backward(self.shortcut_bn.backward(grad_sum))
        return grad_main + grad_shortcut


class MBConv(Module):
    """The inverted residual block of MobileNetV2/V3 and EfficientNet (mobile bottleneck).

    1. expand: 1x1 conv to ``in_channels * expand_ratio`` channels, batch norm, activation
       (skipped when ``expand_ratio == 1``);
    2. depthwise: ``kernel_size`` depthwise conv with ``stride``, batch norm, activation;
    3. optional squeeze-and-excitation with ``max(1, int(in_channels * se_ratio))`` units
       (EfficientNet's rule; ``se_channels`` overrides it, as MobileNetV3 sizes it
       from the expanded width), inner activation ``se_activation`` (default: the block's)
       and gate ``se_gate``;
    4. project: 1x1 conv to ``out_channels``, batch norm, no activation (a linear bottleneck);
    5. residual sum with the input when ``stride == 1`` and the channel count is unchanged.

    EfficientNet-B0 uses ``activation="silu"``, ``se_ratio=0.25``; EfficientNet-Lite and
    MobileNetV2 ``activation="relu6"`` without SE. All convolutions are bias-free. Stochastic
    depth (drop path) is not part of this block.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        expand_ratio: int = 6,
        kernel_size: int = 3,
        stride: int = 1,
        *,
        activation: str = "silu",
        se_ratio: float = 0.0,
        se_channels: int | None = None,
        se_activation: str | None = None,
        se_gate: str = "sigmoid",
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if expand_ratio < 1 or kernel_size % 2 == 0 or se_ratio < 0:
            raise ConfigError(
                "MBConv needs expand_ratio >= 1, an odd kernel_size and se_ratio >= 0, "
                f"not {expand_ratio}, {kernel_size}, {se_ratio}"
            )
        hidden = in_channels * expand_ratio
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride
        self.use_residual = stride == 1 and in_channels == out_channels
        self.expand_conv: Conv2D | None = None
        self.expand_bn: BatchNorm2D | None = None
        self.expand_act: Module | None = None
        if expand_ratio != 1:
            self.expand_conv = Conv2D(in_channels, hidden, 1, bias=False, dtype=dtype)
            self.expand_bn = BatchNorm2D(hidden, dtype=dtype)
            self.expand_act = get_activation(activation)
        self.dw_conv = DepthwiseConv2D(
            hidden, kernel_size, stride, kernel_size // 2, bias=False, dtype=dtype
        )
        self.dw_bn = BatchNorm2D(hidden, dtype=dtype)
        self.dw_act = get_activation(activation)
        self.se: SqueezeExcitation | None = None
        if se_channels is None and se_ratio > 0:
            se_channels = max(1, int(in_channels * se_ratio))
        if se_channels:
            self.se = SqueezeExcitation(
                hidden, se_channels, se_activation or activation, se_gate, dtype=dtype
            )
        self.project_conv = Conv2D(hidden, out_channels, 1, bias=False, dtype=dtype)
        self.project_bn = BatchNorm2D(out_channels, dtype=dtype)

    def _stages(self) -> list[Module]:
        """The layers in forward order (the optional ones only when present)."""
        stages = [self.expand_conv, self.expand_bn, self.expand_act]
        stages += [self.dw_conv, self.dw_bn, self.dw_act, self.se]
        stages += [self.project_conv, self.project_bn]
        return [stage for stage in stages if stage is not None]

    def forward(self, x: Any) -> Any:
        y = x
        for stage in self._stages():
            y = stage(y)
        return x + y if self.use_residual else y

    def backward(self, grad_output: Any) -> Any:
        grad = grad_output
        for stage in reversed(self._stages()):
            grad = stage.backward(grad)
        return grad_output + grad if self.use_residual else grad

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}"


class ConvNeXtBlock(Module):
    """The ConvNeXt block (Liu et al., 2022): ``x + gamma * mlp(norm(dwconv(x)))``.

    ``dwconv`` is a 7x7 depthwise convolution (padding 3, with bias), ``norm`` a
    :class:`LayerNorm2D` over the channels (eps 1e-6), the MLP a 1x1 convolution to
    ``expansion * dim`` channels, GELU (tanh approximation), and a 1x1 convolution back to
    ``dim``; the official code's channels-last ``Linear`` layers are these 1x1 convolutions.
    ``gamma`` is the per-channel layer scale, starting at ``layer_scale_init`` (1e-6) so that
    each block starts close to the identity; ``layer_scale_init=0`` leaves it out.
    Stochastic depth (drop path) is not part of this block.
    """

    def __init__(
        self,
        dim: int,
        kernel_size: int = 7,
        expansion: int = 4,
        layer_scale_init: float = 1e-6,
        *,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if kernel_size % 2 == 0 or expansion < 1:
            raise ConfigError(
                f"ConvNeXtBlock needs an odd kernel_size and expansion >= 1, "
                f"not {kernel_size} and {expansion}"
            )
        self.dim = dim
        self.dwconv = DepthwiseConv2D(dim, kernel_size, 1, kernel_size // 2, dtype=dtype)
        self.norm = LayerNorm2D(dim, eps=1e-6, dtype=dtype)
        self.pwconv1 = Conv2D(dim, expansion * dim, 1, dtype=dtype)
        self.act = get_activation("gelu")
        self.pwconv2 = Conv2D(expansion * dim, dim, 1, dtype=dtype)
        self.gamma: Parameter | None = None
        if layer_scale_init > 0:
            self.gamma = Parameter(xp.full((dim,), layer_scale_init, dtype=resolve_dtype(dtype)))
        self._branch: Any = None

    def forward(self, x: Any) -> Any:
        branch = self.pwconv2(self.act(self.pwconv1(self.norm(self.dwconv(x)))))
        if self.gamma is None:
            return x + branch
        self._branch = branch
        return x + branch * self.gamma.data[:, None, None]

    def backward(self, grad_output: Any) -> Any:
        grad_branch = grad_output
        if self.gamma is not None:
            self.gamma.grad += (grad_output * self._branch).sum(axis=(0, 2, 3))
            grad_branch = grad_output * self.gamma.data[:, None, None]
        grad = self.dwconv.backward(
            self.norm.backward(
                self.pwconv1.backward(self.act.backward(self.pwconv2.backward(grad_branch)))
            )
        )
        return grad_output + grad

    def extra_repr(self) -> str:
        return f"{self.dim}"
