"""Write the PyTorch reference fixtures for nnott-cnn's layers and blocks (needs torch).

For every case, a PyTorch module with the same parameter names as the nnott layer is run
in float64 on a small random input; the fixture keeps the input, the parameters and buffers
it started with, the output, the gradient fed back, and the gradients of the input and of
every parameter (and the buffers after the step, for batch norm's running statistics).
The tests in ``tests/test_*_torch.py`` rebuild each nnott layer from the stored
constructor arguments, load the same parameters and compare, without importing torch.

Run from the package directory (``nox -s fixtures`` does)::

    python scripts/make_layer_fixtures.py            # writes tests/fixtures/*.npz

Layout of a fixture file: one ``.npz`` per layer family; key ``"<case>::<field>"`` where
field is ``config`` (JSON: nnott class name, constructor kwargs, training mode), ``x``,
``grad_output``, ``y``, ``grad_input``, ``param::<name>``, ``grad::<name>``,
``buffer::<name>`` (before) and ``buffer_after::<name>`` (after the forward pass).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as nnf

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
SEED = 20260101

# ------------------------------------------------------------------ reference modules


class TorchLayerNorm2D(nn.Module):
    """LayerNorm over the channels at each pixel (ConvNeXt's channels-first LayerNorm)."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels_last = x.permute(0, 2, 3, 1)
        normed = nnf.layer_norm(channels_last, (x.shape[1],), self.weight, self.bias, self.eps)
        return normed.permute(0, 3, 1, 2)


class TorchGlobalAvgPool(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nnf.adaptive_avg_pool2d(x, 1).flatten(1)


class ExactHardsigmoid(nn.Module):
    """``relu6(x + 3) / 6``. torch's own double kernel multiplies by a float32 ``1/6``,
    which is off by about 1e-8 relative: too coarse for float64 fixtures."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nnf.relu6(x + 3.0) / 6.0


class ExactHardswish(nn.Module):
    """``x * relu6(x + 3) / 6``, for the same reason as :class:`ExactHardsigmoid`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * nnf.relu6(x + 3.0) / 6.0


ACTIVATIONS = {
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "silu": nn.SiLU,
    "sigmoid": nn.Sigmoid,
    "hardsigmoid": ExactHardsigmoid,
    "hardswish": ExactHardswish,
}


class TorchSE(nn.Module):
    def __init__(self, channels: int, squeeze: int, activation: str, gate: str) -> None:
        super().__init__()
        self.fc1 = nn.Linear(channels, squeeze)
        self.activation = ACTIVATIONS[activation]()
        self.fc2 = nn.Linear(squeeze, channels)
        self.gate = ACTIVATIONS[gate]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.gate(self.fc2(self.activation(self.fc1(x.mean(dim=(2, 3))))))
        return x * scale[:, :, None, None]


class TorchBasicBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.projection = stride != 1 or in_channels != out_channels
        if self.projection:
            self.shortcut_conv = nn.Conv2d(in_channels, out_channels, 1, stride, bias=False)
            self.shortcut_bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        main = self.bn2(self.conv2(nnf.relu(self.bn1(self.conv1(x)))))
        shortcut = self.shortcut_bn(self.shortcut_conv(x)) if self.projection else x
        return nnf.relu(main + shortcut)


class TorchMBConv(nn.Module):
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        expand_ratio: int,
        kernel_size: int,
        stride: int,
        activation: str,
        se_ratio: float = 0.0,
        se_gate: str = "sigmoid",
    ) -> None:
        super().__init__()
        hidden = in_channels * expand_ratio
        self.residual = stride == 1 and in_channels == out_channels
        self.expand = expand_ratio != 1
        if self.expand:
            self.expand_conv = nn.Conv2d(in_channels, hidden, 1, bias=False)
            self.expand_bn = nn.BatchNorm2d(hidden)
            self.expand_act = ACTIVATIONS[activation]()
        self.dw_conv = nn.Conv2d(
            hidden, hidden, kernel_size, stride, kernel_size // 2, groups=hidden, bias=False
        )
        self.dw_bn = nn.BatchNorm2d(hidden)
        self.dw_act = ACTIVATIONS[activation]()
        self.use_se = se_ratio > 0
        if self.use_se:
            self.se = TorchSE(hidden, max(1, int(in_channels * se_ratio)), activation, se_gate)
        self.project_conv = nn.Conv2d(hidden, out_channels, 1, bias=False)
        self.project_bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.expand_act(self.expand_bn(self.expand_conv(x))) if self.expand else x
        y = self.dw_act(self.dw_bn(self.dw_conv(y)))
        if self.use_se:
            y = self.se(y)
        y = self.project_bn(self.project_conv(y))
        return x + y if self.residual else y


class TorchConvNeXtBlock(nn.Module):
    def __init__(self, dim: int, layer_scale_init: float) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = TorchLayerNorm2D(dim)
        self.pwconv1 = nn.Conv2d(dim, 4 * dim, 1)
        self.pwconv2 = nn.Conv2d(4 * dim, dim, 1)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale_init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch = self.pwconv2(nnf.gelu(self.pwconv1(self.norm(self.dwconv(x))), approximate="tanh"))
        return x + branch * self.gamma[:, None, None]


# ------------------------------------------------------------------------ recording


def randomize(module: nn.Module, generator: torch.Generator) -> None:
    """Move parameters and running statistics away from their trivial starting values, so
    that every gradient and every normalization path is exercised."""
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            noise = torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype)
            if name.endswith("weight") and parameter.ndim == 1:  # norm scales
                parameter.copy_(1.0 + 0.2 * noise)
            elif name.endswith("gamma"):
                parameter.copy_(0.5 + 0.2 * noise)
            elif parameter.ndim == 1:  # biases
                parameter.copy_(0.2 * noise)
        for name, buffer in module.named_buffers():
            if name.endswith("running_mean"):
                buffer.copy_(0.2 * torch.randn(buffer.shape, generator=generator))
            elif name.endswith("running_var"):
                buffer.copy_(0.5 + torch.rand(buffer.shape, generator=generator))


def record(
    name: str,
    nnott_class: str,
    kwargs: dict[str, Any],
    module: nn.Module,
    input_shape: tuple[int, ...],
    training: bool,
    generator: torch.Generator,
) -> dict[str, np.ndarray]:
    """Run ``module`` forward and backward once; return the fixture arrays of one case."""
    module = module.double()
    randomize(module, generator)
    module.train(training)
    x = torch.randn(input_shape, generator=generator, dtype=torch.float64, requires_grad=True)
    buffers = {
        key: value.detach().numpy().copy()
        for key, value in module.named_buffers()
        if not key.endswith("num_batches_tracked")
    }
    params = {key: value.detach().numpy().copy() for key, value in module.named_parameters()}
    y = module(x)
    grad_output = torch.randn(y.shape, generator=generator, dtype=torch.float64)
    y.backward(grad_output)
    config = {"class": nnott_class, "kwargs": kwargs, "training": training}
    arrays = {
        "config": np.array(json.dumps(config)),
        "x": x.detach().numpy(),
        "grad_output": grad_output.numpy(),
        "y": y.detach().numpy(),
        "grad_input": x.grad.numpy(),
    }
    for key, value in params.items():
        arrays[f"param::{key}"] = value
    for key, parameter in module.named_parameters():
        arrays[f"grad::{key}"] = parameter.grad.numpy()
    for key, value in buffers.items():
        arrays[f"buffer::{key}"] = value
        arrays[f"buffer_after::{key}"] = dict(module.named_buffers())[key].detach().numpy()
    return {f"{name}::{field}": value for field, value in arrays.items()}


def conv_cases(g: torch.Generator) -> dict[str, np.ndarray]:
    cases: dict[str, np.ndarray] = {}
    specs = [
        # name, (C, K, kernel, stride, padding, groups, bias), input H, W
        ("plain_3x3", (3, 4, 3, 1, 1, 1, True), (6, 6)),
        ("strided_3x3", (3, 5, 3, 2, 1, 1, True), (7, 6)),
        ("no_padding_5x5_stride2", (2, 3, 5, 2, 0, 1, False), (9, 8)),
        ("grouped", (4, 6, 3, 1, 1, 2, True), (5, 5)),
        ("grouped_strided_no_bias", (6, 3, 3, 2, 1, 3, False), (6, 7)),
        ("pointwise_1x1", (4, 6, 1, 1, 0, 1, True), (4, 5)),
        ("pointwise_1x1_strided", (4, 3, 1, 2, 0, 1, False), (5, 5)),
        ("rectangular_kernel", (2, 3, (3, 5), 1, 2, 1, True), (5, 6)),
        ("depthwise_3x3", (4, 4, 3, 1, 1, 4, True), (6, 6)),
        ("depthwise_3x3_stride2", (4, 4, 3, 2, 1, 4, False), (7, 7)),
        ("depthwise_5x5_stride2", (3, 3, 5, 2, 2, 3, False), (8, 8)),
        ("depthwise_7x7", (3, 3, 7, 1, 3, 3, True), (6, 6)),
    ]
    for name, (c, k, kernel, stride, padding, groups, bias), (h, w) in specs:
        module = nn.Conv2d(c, k, kernel, stride, padding, groups=groups, bias=bias)
        kwargs = {
            "in_channels": c,
            "out_channels": k,
            "kernel_size": kernel,
            "stride": stride,
            "padding": padding,
            "groups": groups,
            "bias": bias,
        }
        cases |= record(name, "Conv2D", kwargs, module, (2, c, h, w), True, g)
    depthwise = nn.Conv2d(4, 4, 3, 2, 1, groups=4, bias=True)
    kwargs = {"channels": 4, "kernel_size": 3, "stride": 2, "padding": 1, "bias": True}
    cases |= record("depthwise_class", "DepthwiseConv2D", kwargs, depthwise, (2, 4, 6, 5), True, g)
    return cases


def pooling_cases(g: torch.Generator) -> dict[str, np.ndarray]:
    cases: dict[str, np.ndarray] = {}
    specs = [
        ("max_2x2", "MaxPool2D", nn.MaxPool2d(2), {"kernel_size": 2}, (6, 6)),
        ("max_2x2_odd", "MaxPool2D", nn.MaxPool2d(2), {"kernel_size": 2}, (7, 5)),
        (
            "max_3x3_stride2_pad1",
            "MaxPool2D",
            nn.MaxPool2d(3, 2, 1),
            {"kernel_size": 3, "stride": 2, "padding": 1},
            (7, 8),
        ),
        (
            "max_3x3_stride1",
            "MaxPool2D",
            nn.MaxPool2d(3, 1),
            {"kernel_size": 3, "stride": 1},
            (5, 6),
        ),
        ("avg_2x2", "AvgPool2D", nn.AvgPool2d(2), {"kernel_size": 2}, (6, 6)),
        (
            "avg_3x3_stride2_pad1",
            "AvgPool2D",
            nn.AvgPool2d(3, 2, 1),
            {"kernel_size": 3, "stride": 2, "padding": 1},
            (7, 6),
        ),
        ("global_avg", "GlobalAvgPool2D", TorchGlobalAvgPool(), {}, (5, 4)),
    ]
    for name, nnott_class, module, kwargs, (h, w) in specs:
        cases |= record(name, nnott_class, kwargs, module, (2, 3, h, w), True, g)
    return cases


def normalization_cases(g: torch.Generator) -> dict[str, np.ndarray]:
    cases: dict[str, np.ndarray] = {}
    for training in (True, False):
        mode = "train" if training else "eval"
        module = nn.BatchNorm2d(4, momentum=0.1, eps=1e-5)
        kwargs = {"num_features": 4, "momentum": 0.1, "eps": 1e-5}
        shape = (3, 4, 5, 4)
        cases |= record(f"batchnorm_{mode}", "BatchNorm2D", kwargs, module, shape, training, g)
    module = nn.BatchNorm2d(3, momentum=0.3, eps=1e-3)
    kwargs = {"num_features": 3, "momentum": 0.3, "eps": 1e-3}
    cases |= record("batchnorm_momentum", "BatchNorm2D", kwargs, module, (2, 3, 3, 3), True, g)
    for training in (True, False):
        mode = "train" if training else "eval"
        module = TorchLayerNorm2D(5)
        kwargs = {"num_features": 5}
        shape = (2, 5, 4, 3)
        cases |= record(f"layernorm_{mode}", "LayerNorm2D", kwargs, module, shape, training, g)
    return cases


def block_cases(g: torch.Generator) -> dict[str, np.ndarray]:
    cases: dict[str, np.ndarray] = {}
    se_specs = [
        ("se_relu_sigmoid", "relu", "sigmoid"),
        ("se_silu_hardsigmoid", "silu", "hardsigmoid"),
    ]
    for name, activation, gate in se_specs:
        kwargs = {"channels": 6, "squeeze_channels": 3, "activation": activation, "gate": gate}
        module = TorchSE(6, 3, activation, gate)
        cases |= record(name, "SqueezeExcitation", kwargs, module, (2, 6, 4, 4), True, g)
    for name, (c_in, c_out, stride), training in [
        ("basic_identity", (4, 4, 1), True),
        ("basic_projection", (3, 5, 2), True),
        ("basic_projection_eval", (3, 5, 2), False),
    ]:
        kwargs = {"in_channels": c_in, "out_channels": c_out, "stride": stride}
        module = TorchBasicBlock(c_in, c_out, stride)
        cases |= record(name, "BasicBlock", kwargs, module, (2, c_in, 6, 6), training, g)
    mbconv_specs = [
        # name, in, out, expand, kernel, stride, activation, se_ratio, se_gate, training
        ("mbconv_silu_se_residual", 4, 4, 4, 3, 1, "silu", 0.25, "sigmoid", True),
        ("mbconv_relu6_stride2", 4, 6, 6, 3, 2, "relu6", 0.0, "sigmoid", True),
        ("mbconv_expand1_k5_se", 4, 4, 1, 5, 1, "hardswish", 0.5, "hardsigmoid", True),
        ("mbconv_silu_se_eval", 4, 4, 4, 3, 1, "silu", 0.25, "sigmoid", False),
    ]
    for name, c_in, c_out, expand, kernel, stride, act, se_ratio, se_gate, training in mbconv_specs:
        kwargs = {
            "in_channels": c_in,
            "out_channels": c_out,
            "expand_ratio": expand,
            "kernel_size": kernel,
            "stride": stride,
            "activation": act,
            "se_ratio": se_ratio,
            "se_gate": se_gate,
        }
        module = TorchMBConv(c_in, c_out, expand, kernel, stride, act, se_ratio, se_gate)
        cases |= record(name, "MBConv", kwargs, module, (2, c_in, 6, 6), training, g)
    kwargs = {"dim": 4, "layer_scale_init": 0.5}
    module = TorchConvNeXtBlock(4, 0.5)
    cases |= record("convnext", "ConvNeXtBlock", kwargs, module, (2, 4, 5, 5), True, g)
    return cases


def main() -> None:
    torch.manual_seed(SEED)  # the modules' own initial weights
    generator = torch.Generator().manual_seed(SEED)
    FIXTURES.mkdir(parents=True, exist_ok=True)
    families = {
        "conv": conv_cases,
        "pooling": pooling_cases,
        "normalization": normalization_cases,
        "blocks": block_cases,
    }
    for family, make in families.items():
        arrays = make(generator)
        path = FIXTURES / f"{family}.npz"
        np.savez_compressed(path, **arrays)
        count = sum(key.endswith("::config") for key in arrays)
        print(f"wrote {path} ({count} cases, {path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
