"""Activation functions as modules, and a registry that finds them by name.

Each activation caches its input, its output or a mask in ``forward`` and multiplies the incoming
gradient by its derivative in ``backward``. At the kinks the derivative follows PyTorch:
ReLU'(0) = 0, LeakyReLU'(0) = negative_slope, ReLU6' is 0 at 0 and 6, Hardsigmoid' is 0
at -3 and 3, Hardswish'(-3) = 0 and Hardswish'(3) = 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from nnott.backend import xp
from nnott.errors import ConfigError
from nnott.vectorized.module import Module

__all__ = [
    "ACTIVATIONS",
    "GELU",
    "Hardsigmoid",
    "Hardswish",
    "Identity",
    "LeakyReLU",
    "ReLU",
    "ReLU6",
    "SiLU",
    "Sigmoid",
    "Tanh",
    "get_activation",
    "sigmoid",
]


def sigmoid(x: Any) -> Any:
    """The logistic function ``1 / (1 + exp(-x))``, without overflow for large ``|x|``.

    With ``e = exp(-|x|)``, which never overflows, ``1 / (1 + e)`` is the sigmoid for
    ``x >= 0`` and ``e / (1 + e)`` is the sigmoid for ``x < 0``: one exponential, and no
    cancellation for very negative ``x``.
    """
    e = xp.exp(-xp.abs(x))
    s = 1.0 / (1.0 + e)
    return xp.where(x >= 0, s, e * s)


class Identity(Module):
    """Passes its input through unchanged (a placeholder where no activation is wanted)."""

    def forward(self, x: Any) -> Any:
        return x

    def backward(self, grad_output: Any) -> Any:
        return grad_output


class ReLU(Module):
    """``max(x, 0)``; the gradient is passed where ``x > 0`` (so ReLU'(0) = 0).

    Forward keeps the mask ``x > 0`` (one byte a value) rather than ``x``: backward is then
    one multiplication instead of a comparison and a multiplication (0.24 instead of
    0.47 ms on LeNet's first activations, 2 cores; the mask costs forward 0.05 ms), and
    ``x`` can be freed when nothing else needs it.
    """

    def forward(self, x: Any) -> Any:
        self._passes = x > 0.0
        return xp.maximum(x, 0.0)

    def backward(self, grad_output: Any) -> Any:
        return grad_output * self._passes


class LeakyReLU(Module):
    """``x`` for ``x > 0``, else ``negative_slope * x``: negative inputs still learn a little."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x: Any) -> Any:
        self._input = x
        return xp.where(x > 0.0, x, x * self.negative_slope)

    def backward(self, grad_output: Any) -> Any:
        return xp.where(self._input > 0.0, grad_output, grad_output * self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class ReLU6(Module):
    """``min(max(x, 0), 6)``, the clipped ReLU of MobileNet; gradient 1 strictly inside."""

    def forward(self, x: Any) -> Any:
        self._inside = (x > 0.0) & (x < 6.0)  # kept as a mask, as ReLU does
        return xp.clip(x, 0.0, 6.0)

    def backward(self, grad_output: Any) -> Any:
        return grad_output * self._inside


class Sigmoid(Module):
    """The logistic function; its derivative is ``s * (1 - s)`` of its own output ``s``."""

    def forward(self, x: Any) -> Any:
        self._output = sigmoid(x)
        return self._output

    def backward(self, grad_output: Any) -> Any:
        s = self._output
        return grad_output * s * (1.0 - s)


class Tanh(Module):
    """The hyperbolic tangent; its derivative is ``1 - t**2`` of its own output ``t``."""

    def forward(self, x: Any) -> Any:
        self._output = xp.tanh(x)
        return self._output

    def backward(self, grad_output: Any) -> Any:
        t = self._output
        return grad_output * (1.0 - t * t)


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715


class GELU(Module):
    """The Gaussian error linear unit in its tanh approximation (PyTorch's
    ``GELU(approximate="tanh")``): ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``.

    NumPy has no ``erf``, so the exact form is not offered.
    """

    def forward(self, x: Any) -> Any:
        self._input = x
        self._tanh = xp.tanh(_SQRT_2_OVER_PI * (x + _GELU_CUBIC * x * x * x))
        return 0.5 * x * (1.0 + self._tanh)

    def backward(self, grad_output: Any) -> Any:
        x, t = self._input, self._tanh
        inner_derivative = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_CUBIC * x * x)
        derivative = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * inner_derivative
        return grad_output * derivative


class SiLU(Module):
    """``x * sigmoid(x)`` (also called swish); derivative ``s + x s (1 - s)``."""

    def forward(self, x: Any) -> Any:
        self._input = x
        self._sigmoid = sigmoid(x)
        return x * self._sigmoid

    def backward(self, grad_output: Any) -> Any:
        x, s = self._input, self._sigmoid
        return grad_output * (s * (1.0 + x * (1.0 - s)))


class Hardsigmoid(Module):
    """``clip(x / 6 + 1/2, 0, 1)``, a cheap piecewise-linear sigmoid (MobileNetV3)."""

    def forward(self, x: Any) -> Any:
        self._input = x
        return xp.clip(x / 6.0 + 0.5, 0.0, 1.0)

    def backward(self, grad_output: Any) -> Any:
        inside = (self._input > -3.0) & (self._input < 3.0)
        return grad_output * inside * (1.0 / 6.0)


class Hardswish(Module):
    """``x * hardsigmoid(x)``, a cheap SiLU (MobileNetV3).

    Derivative: 0 up to -3, ``x / 3 + 1/2`` strictly between -3 and 3, 1 from 3 on
    (PyTorch's convention at the two kinks).
    """

    def forward(self, x: Any) -> Any:
        self._input = x
        return x * xp.clip(x / 6.0 + 0.5, 0.0, 1.0)

    def backward(self, grad_output: Any) -> Any:
        x = self._input
        derivative = xp.where(x <= -3.0, 0.0, xp.where(x < 3.0, x / 3.0 + 0.5, 1.0))
        return grad_output * derivative.astype(grad_output.dtype, copy=False)


ACTIVATIONS: dict[str, Callable[[], Module]] = {
    "identity": Identity,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "relu6": ReLU6,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "gelu": GELU,
    "silu": SiLU,
    "hardsigmoid": Hardsigmoid,
    "hardswish": Hardswish,
}
"""Activation names for command lines and builders (lower case, as typed by a user)."""


def get_activation(name: str) -> Module:
    """A new activation module for ``name`` (case-insensitive; ``-`` works as ``_``)."""
    key = name.strip().lower().replace("-", "_")
    if key not in ACTIVATIONS:
        raise ConfigError(
            f"unknown activation {name!r}; choose one of {', '.join(sorted(ACTIVATIONS))}"
        )
    return ACTIVATIONS[key]()
