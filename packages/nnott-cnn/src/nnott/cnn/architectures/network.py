"""The container every architecture returns, and the helpers the builders share.

A :class:`Network` is a chain of named stages (``stem``, ``layer1``, ..., ``classifier``):
forward runs them in order, backward in reverse. The stage names become the prefixes of
the parameter names (``layer1.0.conv1.weight``), close to torchvision's, which keeps
checkpoints and the summary table readable.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from nnott.cnn.conv import Conv2D
from nnott.vectorized.layers import Sequential
from nnott.vectorized.module import Module

__all__ = ["SMALL_INPUT_LIMIT", "Network", "is_small_input", "scaled"]

SMALL_INPUT_LIMIT = 64
"""Inputs smaller than this (28x28, 32x32) get each architecture's small-input adaptation;
from this size up (the reference 224x224) the builders make the published design."""


def is_small_input(input_size: int) -> bool:
    """True for the 28x28 and 32x32 inputs that need an adapted stem (see the notes)."""
    return input_size < SMALL_INPUT_LIMIT


def scaled(units: int, width: float, divisor: int = 1) -> int:
    """``units * width`` rounded to a multiple of ``divisor``, at least ``divisor``.

    As EfficientNet's ``make_divisible``, rounding never drops more than 10% below
    ``units * width``. ``width == 1`` leaves every published size unchanged.
    """
    target = units * width
    rounded = max(divisor, int(target + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * target:
        rounded += divisor
    return rounded


class Network(Module):
    """Named stages applied in order; ``name`` and ``config`` say how it was built.

    ``config`` holds the builder's arguments (``num_classes``, ``in_channels``, ``width``,
    ``input_size``), so that a checkpoint can say which network its weights fit.
    """

    def __init__(
        self,
        name: str,
        stages: Mapping[str, Module],
        *,
        num_classes: int,
        in_channels: int,
        width: float,
        input_size: int,
    ) -> None:
        super().__init__()
        self.name = name
        self.config: dict[str, Any] = {
            "num_classes": num_classes,
            "in_channels": in_channels,
            "width": width,
            "input_size": input_size,
        }
        self.stage_names = list(stages)
        for stage_name, stage in stages.items():
            setattr(self, stage_name, stage)
        self.input_grad = False

    @property
    def input_grad(self) -> bool:
        """Whether :meth:`backward` returns the gradient with respect to the images.

        Off by default: training never uses it, and a first convolution that skips it saves
        a GEMM and a col2im per step. Turn it on for saliency maps or a gradient check
        with respect to the input. (Only a network that starts with a convolution can skip
        it; any other keeps computing it.)
        """
        entry = self._entry_convolution()
        return entry is None or entry.needs_input_grad

    @input_grad.setter
    def input_grad(self, enabled: bool) -> None:
        entry = self._entry_convolution()
        if entry is not None:
            entry.needs_input_grad = enabled

    def _entry_convolution(self) -> Conv2D | None:
        """The convolution that sees the images first, if the network starts with one."""
        module = getattr(self, self.stage_names[0])
        while isinstance(module, Sequential) and len(module) > 0:
            module = module[0]
        return module if isinstance(module, Conv2D) else None

    def stages(self) -> Iterator[tuple[str, Module]]:
        """The stages with their names, in forward order."""
        for stage_name in self.stage_names:
            yield stage_name, getattr(self, stage_name)

    def forward(self, x: Any) -> Any:
        for _, stage in self.stages():
            x = stage.forward(x)
        return x

    def backward(self, grad_output: Any) -> Any:
        for _, stage in reversed(list(self.stages())):
            grad_output = stage.backward(grad_output)
        return grad_output  # None unless input_grad is on (see there)

    def first_conv(self) -> Conv2D:
        """The first convolution layer (its filters are the ones worth plotting)."""
        for module in self.modules():
            if isinstance(module, Conv2D):
                return module
        raise TypeError(f"{self.name} has no convolution layer")

    def extra_repr(self) -> str:
        return ", ".join(f"{key}={value}" for key, value in self.config.items())
