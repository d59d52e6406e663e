"""PyTorch twins: the same network as an nnott model, layer for layer, with its weights.

A ratio to PyTorch only means something when both sides train the same network. Rather
than writing each architecture a second time in PyTorch (and risking a different layer
count or padding), :func:`torch_twin` walks the nnott model and builds the matching
``torch.nn`` module for every layer, copying the weights. :func:`check_twin` then runs one
batch through both and refuses to time a twin whose outputs differ.

Supported: ``Sequential`` and the CNN ``Network`` (stages in order), ``Linear``,
``Flatten``, ``Dropout``, ``Conv2D`` (any groups), ``BatchNorm1d``/``BatchNorm2D``, the
pooling layers, every activation, and ResNet's ``BasicBlock``. Anything else raises
:class:`NoTwinError`, which the benchmark reports instead of a comparison.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy

from nnott.backend import to_cpu

__all__ = ["NoTwinError", "check_twin", "torch_twin"]


class NoTwinError(Exception):
    """The nnott model holds a layer that has no PyTorch counterpart here."""


def _copy(torch: Any, target: Any, source: Any) -> None:
    """Copy an nnott array (parameter or buffer) into a torch tensor in place."""
    with torch.no_grad():
        target.copy_(torch.from_numpy(numpy.ascontiguousarray(to_cpu(source))))


def _linear(torch: Any, layer: Any) -> Any:
    twin = torch.nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None)
    _copy(torch, twin.weight, layer.weight.data)
    if layer.bias is not None:
        _copy(torch, twin.bias, layer.bias.data)
    return twin


def _conv(torch: Any, layer: Any) -> Any:
    twin = torch.nn.Conv2d(
        layer.in_channels,
        layer.out_channels,
        layer.kernel_size,
        stride=layer.stride,
        padding=layer.padding,
        groups=layer.groups,
        bias=layer.bias is not None,
    )
    _copy(torch, twin.weight, layer.weight.data)
    if layer.bias is not None:
        _copy(torch, twin.bias, layer.bias.data)
    return twin


def _batchnorm(torch: Any, layer: Any, torch_class: Any) -> Any:
    twin = torch_class(layer.num_features, eps=layer.eps, momentum=layer.momentum)
    for name in ("weight", "bias"):
        _copy(torch, getattr(twin, name), getattr(layer, name).data)
    for name in ("running_mean", "running_var"):
        _copy(torch, getattr(twin, name), getattr(layer, name))
    return twin


def _global_average(torch: Any, layer: Any) -> Any:
    pool = torch.nn.AdaptiveAvgPool2d(1)
    return pool if layer.keepdims else torch.nn.Sequential(pool, torch.nn.Flatten())


def _activation(torch: Any, layer: Any) -> Any:
    name = type(layer).__name__
    if name == "LeakyReLU":
        return torch.nn.LeakyReLU(layer.negative_slope)
    if name == "GELU":
        return torch.nn.GELU(approximate="tanh")  # nnott's GELU is the tanh approximation
    return getattr(torch.nn, name)()


def _basic_block_class(torch: Any) -> Any:
    """ResNet's basic block with the attribute names and the order of nnott's."""

    class BasicBlock(torch.nn.Module):
        def __init__(self, block: Any, convert: Callable[[Any], Any]) -> None:
            super().__init__()
            self.conv1, self.bn1 = convert(block.conv1), convert(block.bn1)
            self.conv2, self.bn2 = convert(block.conv2), convert(block.bn2)
            self.shortcut = (
                torch.nn.Sequential(convert(block.shortcut_conv), convert(block.shortcut_bn))
                if block.shortcut_conv is not None
                else torch.nn.Identity()
            )

        def forward(self, x: Any) -> Any:
            main = torch.relu(self.bn1(self.conv1(x)))
            main = self.bn2(self.conv2(main))
            return torch.relu(main + self.shortcut(x))

    return BasicBlock


_ACTIVATIONS = {
    "ReLU",
    "ReLU6",
    "LeakyReLU",
    "Sigmoid",
    "Tanh",
    "GELU",
    "SiLU",
    "Hardsigmoid",
    "Hardswish",
    "Identity",
}


def torch_twin(model: Any, torch: Any) -> Any:
    """The ``torch.nn`` module computing what ``model`` computes, with its current weights.

    The twin is on the CPU in training mode; move it with ``.to(device)``.
    Raises :class:`NoTwinError` naming the first layer without a counterpart.
    """

    def convert(layer: Any) -> Any:
        name = type(layer).__name__
        if name == "Network":
            return torch.nn.Sequential(
                OrderedDict((stage, convert(module)) for stage, module in layer.stages())
            )
        if name == "Sequential":
            return torch.nn.Sequential(*(convert(child) for child in layer))
        if name == "BasicBlock":
            return _basic_block_class(torch)(layer, convert)
        simple: dict[str, Callable[[], Any]] = {
            "Linear": lambda: _linear(torch, layer),
            "Conv2D": lambda: _conv(torch, layer),
            "DepthwiseConv2D": lambda: _conv(torch, layer),
            "BatchNorm1d": lambda: _batchnorm(torch, layer, torch.nn.BatchNorm1d),
            "BatchNorm2D": lambda: _batchnorm(torch, layer, torch.nn.BatchNorm2d),
            "Flatten": lambda: torch.nn.Flatten(),
            "Dropout": lambda: torch.nn.Dropout(layer.p),
            "MaxPool2D": lambda: torch.nn.MaxPool2d(layer.kernel_size, layer.stride, layer.padding),
            "AvgPool2D": lambda: torch.nn.AvgPool2d(layer.kernel_size, layer.stride, layer.padding),
            "GlobalAvgPool2D": lambda: _global_average(torch, layer),
        }
        if name in simple:
            return simple[name]()
        if name in _ACTIVATIONS:
            return _activation(torch, layer)
        raise NoTwinError(f"no PyTorch twin for nnott's {name}")

    return convert(model).train()


def check_twin(
    model: Any, twin: Any, x: Any, torch: Any, device: str = "cpu", tolerance: float = 1e-3
) -> float:
    """Run ``x`` through both in evaluation mode; return the largest relative difference.

    Raises :class:`NoTwinError` when the outputs differ by more than ``tolerance`` (relative
    to the largest output), which would mean the twin is not the same network.
    """
    torch_device = torch.device("cuda" if device == "gpu" else "cpu")
    model.eval()
    twin.to(torch_device).eval()
    try:
        ours = to_cpu(model.forward(x)).astype(numpy.float64)
        with torch.no_grad():
            inputs = torch.from_numpy(numpy.ascontiguousarray(to_cpu(x))).to(torch_device)
            theirs = twin(inputs).cpu().numpy().astype(numpy.float64)
    finally:
        model.train()
        twin.train()
    if ours.shape != theirs.shape:
        raise NoTwinError(f"the twin's output shape {theirs.shape} is not nnott's {ours.shape}")
    difference = float(numpy.abs(ours - theirs).max() / max(numpy.abs(ours).max(), 1e-12))
    if difference > tolerance:
        raise NoTwinError(f"the twin's outputs differ from nnott's by {difference:.2e} (relative)")
    return difference
