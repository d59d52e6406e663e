"""Initial weights, drawn on the host so that one seed gives the same numbers everywhere.

Every tier follows one rule, so that a seed gives bit-identical starting weights in the
scalar tier, on the CPU and on the GPU: layer by layer, in order, one block
``nnott.backend.rng().standard_normal((out_features, in_features))`` is drawn in float64
and multiplied by a Python float scale; only then is it cast to the layer's dtype and
moved to the device. CuPy's random streams differ from NumPy's, which is why the draw
happens on the host.

- He (Kaiming) normal, for ReLU-like activations: scale ``sqrt(2 / fan_in)``.
- Xavier (Glorot) normal, for tanh and sigmoid: scale ``sqrt(2 / (fan_in + fan_out))``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy

from nnott.backend import rng, to_device, xp
from nnott.errors import ConfigError

__all__ = ["INIT_SCHEMES", "init_scale", "initial_weight", "resolve_dtype", "zeros"]

INIT_SCHEMES: tuple[str, ...] = ("he", "xavier")


def resolve_dtype(dtype: Any = None) -> Any:
    """The dtype a layer stores its parameters in: float32 unless asked otherwise."""
    if dtype is None:
        return numpy.dtype(numpy.float32)
    resolved = numpy.dtype(dtype)
    if resolved.kind != "f":
        raise ConfigError(f"parameters must be floating point, not {resolved}")
    return resolved


def init_scale(scheme: str, fan_in: int, fan_out: int) -> float:
    """The standard deviation of the initial weights for ``scheme`` (a Python float)."""
    if scheme == "he":
        return math.sqrt(2.0 / fan_in)
    if scheme == "xavier":
        return math.sqrt(2.0 / (fan_in + fan_out))
    raise ConfigError(f"unknown init {scheme!r}; choose one of {', '.join(INIT_SCHEMES)}")


def initial_weight(
    shape: tuple[int, ...], scheme: str, fan_in: int, fan_out: int, dtype: Any = None
) -> Any:
    """Draw one weight block on the host (float64), scale it, cast it, move it to the device.

    ``shape`` starts with the output size, as in ``(out_features, in_features)``; the
    convolutional layers pass ``(out_channels, in_channels, kh, kw)``.
    """
    scale = init_scale(scheme, fan_in, fan_out)
    host = rng().standard_normal(shape) * scale
    return to_device(host.astype(resolve_dtype(dtype), copy=False))


def zeros(shape: tuple[int, ...], dtype: Any = None) -> Any:
    """A zero array of ``shape`` on the active device (biases, BatchNorm's shift)."""
    return xp.zeros(shape, dtype=resolve_dtype(dtype))
