"""Activation functions on single floats, each with the derivative the backward pass needs.

An activation turns a neuron's weighted sum ``z`` into its output ``a = f(z)``. The backward
pass needs ``f'(z)`` to carry the gradient from ``a`` back to ``z`` (the chain rule:
``dL/dz = dL/da · f'(z)``). Where the derivative is simplest in terms of the output (sigmoid,
tanh) it is written that way, so :meth:`Activation.derivative` receives both ``z`` and ``a``.

Conventions shared with the vectorized tier (a test checks the two agree to 1e-10):

- ReLU'(0) = 0 and LeakyReLU'(0) = slope: the "positive" branch is taken only for z > 0.
- Leaky ReLU's default slope is 0.01 (PyTorch's default).
- GELU is the tanh approximation
  ``0.5·z·(1 + tanh(√(2/π)·(z + 0.044715·z³)))`` (PyTorch's ``GELU(approximate="tanh")``).
"""

from __future__ import annotations

import math

from nnott.errors import ConfigError

__all__ = [
    "ACTIVATION_NAMES",
    "GELU_COEFFICIENT",
    "RELU_FAMILY",
    "Activation",
    "GELU",
    "Identity",
    "LeakyReLU",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "get_activation",
]

GELU_COEFFICIENT = 0.044715
"""The cubic coefficient of GELU's tanh approximation."""

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


class Activation:
    """A function ``a = f(z)`` applied to one float, and its derivative ``f'(z)``.

    Subclasses set :attr:`name` and :attr:`formula` (shown by the tracer) and implement
    :meth:`value` and :meth:`derivative`.
    """

    name: str = "activation"
    formula: str = "f(z)"

    def value(self, z: float) -> float:
        """The activation ``f(z)``."""
        raise NotImplementedError

    def derivative(self, z: float, a: float) -> float:
        """``f'(z)``; ``a`` is ``f(z)``, already computed in the forward pass."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Identity(Activation):
    """``f(z) = z``: the output layer uses it, so its outputs are the raw logits."""

    name = "identity"
    formula = "z"

    def value(self, z: float) -> float:
        return z

    def derivative(self, z: float, a: float) -> float:
        return 1.0


class Sigmoid(Activation):
    """``f(z) = 1 / (1 + e^-z)``, squashing into (0, 1); ``f'(z) = a·(1 - a)``."""

    name = "sigmoid"
    formula = "1 / (1 + exp(-z))"

    def value(self, z: float) -> float:
        # Two algebraically equal forms, each used where its exponential cannot overflow.
        if z >= 0.0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)

    def derivative(self, z: float, a: float) -> float:
        return a * (1.0 - a)


class Tanh(Activation):
    """``f(z) = tanh(z)``, squashing into (-1, 1); ``f'(z) = 1 - a²``."""

    name = "tanh"
    formula = "(exp(z) - exp(-z)) / (exp(z) + exp(-z))"

    def value(self, z: float) -> float:
        return math.tanh(z)

    def derivative(self, z: float, a: float) -> float:
        return 1.0 - a * a


class ReLU(Activation):
    """``f(z) = max(0, z)``; ``f'(z) = 1`` for z > 0 and 0 otherwise (so ReLU'(0) = 0)."""

    name = "relu"
    formula = "max(0, z)"

    def value(self, z: float) -> float:
        return z if z > 0.0 else 0.0

    def derivative(self, z: float, a: float) -> float:
        return 1.0 if z > 0.0 else 0.0


class LeakyReLU(Activation):
    """``f(z) = z`` for z > 0, else ``slope·z``; its derivative is 1 or ``slope`` (at 0: slope).

    The small slope keeps a gradient flowing through neurons whose sum is negative.
    """

    name = "leaky_relu"

    def __init__(self, slope: float = 0.01) -> None:
        if not 0.0 <= slope < 1.0:
            raise ConfigError(f"the leaky ReLU slope must be in [0, 1), not {slope}")
        self.slope = float(slope)
        self.formula = f"z if z > 0 else {self.slope:g}·z"

    def value(self, z: float) -> float:
        return z if z > 0.0 else self.slope * z

    def derivative(self, z: float, a: float) -> float:
        return 1.0 if z > 0.0 else self.slope

    def __repr__(self) -> str:
        return f"LeakyReLU(slope={self.slope:g})"


class GELU(Activation):
    """GELU in its tanh approximation, a smooth ReLU used by transformers.

    ``f(z) = 0.5·z·(1 + tanh(u))`` with ``u = √(2/π)·(z + 0.044715·z³)``, and by the
    product and chain rules ``f'(z) = 0.5·(1 + tanh(u)) + 0.5·z·(1 - tanh²(u))·du/dz``
    where ``du/dz = √(2/π)·(1 + 3·0.044715·z²)``.
    """

    name = "gelu"
    formula = "0.5·z·(1 + tanh(√(2/π)·(z + 0.044715·z³)))"

    def value(self, z: float) -> float:
        u = _SQRT_2_OVER_PI * (z + GELU_COEFFICIENT * z * z * z)
        return 0.5 * z * (1.0 + math.tanh(u))

    def derivative(self, z: float, a: float) -> float:
        u = _SQRT_2_OVER_PI * (z + GELU_COEFFICIENT * z * z * z)
        t = math.tanh(u)
        du_dz = _SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_COEFFICIENT * z * z)
        return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * du_dz


_REGISTRY: dict[str, type[Activation]] = {
    "identity": Identity,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "gelu": GELU,
}

ACTIVATION_NAMES: tuple[str, ...] = tuple(_REGISTRY)
"""Every activation the scalar tier offers, by the name the CLI and ``Network`` accept."""

RELU_FAMILY: frozenset[str] = frozenset({"relu", "leaky_relu"})
"""Activations whose layers get He initialisation (the others get Xavier/Glorot)."""


def get_activation(spec: str | Activation) -> Activation:
    """Return the activation named ``spec`` (``"relu"``, ``"leaky-relu"``, ...) or ``spec`` itself.

    Names are case-insensitive and ``-`` may stand for ``_``. Unknown names raise
    :class:`~nnott.errors.ConfigError` listing the choices.
    """
    if isinstance(spec, Activation):
        return spec
    key = str(spec).strip().lower().replace("-", "_")
    if key not in _REGISTRY:
        raise ConfigError(
            f"unknown activation {spec!r}; choose one of {', '.join(ACTIVATION_NAMES)}"
        )
    return _REGISTRY[key]()
