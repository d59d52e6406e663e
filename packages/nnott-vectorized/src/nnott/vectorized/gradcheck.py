"""A finite-difference gradient checker for any module or loss, reusable by every package.

It compares what ``backward`` computes with central differences of the forward pass,

    dL/dx[i]  ~  (L(x + eps e_i) - L(x - eps e_i)) / (2 eps),

for the input and for every parameter, where ``L = sum(forward(x) * G)`` for a fixed
random ``G`` (so every output element matters). Use float64 modules and inputs: in
float32 the differences drown in rounding. Keep shapes tiny: every element costs two
forward passes.

>>> from nnott.vectorized.gradcheck import check_gradients
>>> check_gradients(Linear(3, 2, dtype="float64"), to_device(x64))   # raises if wrong
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy

from nnott.backend import to_cpu, to_device, xp
from nnott.errors import ConfigError
from nnott.vectorized.module import Module

__all__ = ["check_gradients", "check_loss_gradients", "numerical_gradient"]


def numerical_gradient(function: Callable[[], float], array: Any, eps: float = 1e-6) -> Any:
    """Central-difference gradient of ``function()`` with respect to ``array``, on the host.

    ``array`` (a device array that ``function`` reads) is changed in place one element at
    a time and restored afterwards.
    """
    original = to_cpu(array).copy()
    gradient = numpy.zeros(original.shape, dtype=numpy.float64)
    for index in numpy.ndindex(original.shape):
        value = float(original[index])
        array[index] = value + eps
        plus = function()
        array[index] = value - eps
        minus = function()
        array[index] = value
        gradient[index] = (plus - minus) / (2.0 * eps)
    return gradient


def _require_float64(name: str, array: Any) -> None:
    if array.dtype != numpy.float64:
        raise ConfigError(f"gradient checks need float64 arrays; {name} is {array.dtype}")


def _compare(
    results: dict[str, float], name: str, analytic: Any, numeric: Any, rtol: float, atol: float
) -> str | None:
    """Record the largest error for ``name``; return a message when it is too large."""
    analytic = numpy.asarray(to_cpu(analytic), dtype=numpy.float64)
    error = numpy.abs(analytic - numeric)
    results[name] = float(error.max()) if error.size else 0.0
    allowed = atol + rtol * numpy.abs(numeric)
    if numpy.all(error <= allowed):
        return None
    worst = numpy.unravel_index(int(numpy.argmax(error - allowed)), error.shape)
    return (
        f"{name}: backward gives {analytic[worst]:.10g} at {worst}, finite differences "
        f"{numeric[worst]:.10g} (max abs error {results[name]:.3g})"
    )


def check_gradients(
    module: Module,
    x: Any,
    *,
    grad_output: Any = None,
    eps: float = 1e-6,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    check_input: bool = True,
    before_forward: Callable[[], None] | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Check ``module.backward`` against finite differences; return the largest absolute
    error per checked array (``"input"`` and parameter names), raise AssertionError if any
    element is off by more than ``atol + rtol * |expected|``.

    ``before_forward`` runs before every forward pass; use it to pin randomness, such as
    resetting a Dropout layer's generator so that each pass draws the same mask. The module
    is checked in the mode it is in (``module.train()`` or ``module.eval()``).
    """
    x = to_device(x)
    _require_float64("the input", x)
    for name, parameter in module.named_parameters():
        _require_float64(name, parameter.data)
    prepare = before_forward or (lambda: None)

    prepare()
    output = module.forward(x)
    if grad_output is None:
        host_grad = numpy.random.default_rng(seed).standard_normal(tuple(output.shape))
        grad_output = to_device(host_grad)
    module.zero_grad()
    analytic_input = to_cpu(module.backward(grad_output))
    analytic = {name: to_cpu(p.grad).copy() for name, p in module.named_parameters()}

    def loss() -> float:
        prepare()
        return float(xp.sum(module.forward(x) * grad_output))

    results: dict[str, float] = {}
    failures = []
    if check_input:
        numeric = numerical_gradient(loss, x, eps)
        failures.append(_compare(results, "input", analytic_input, numeric, rtol, atol))
    for name, parameter in module.named_parameters():
        numeric = numerical_gradient(loss, parameter.data, eps)
        failures.append(_compare(results, name, analytic[name], numeric, rtol, atol))
    messages = [message for message in failures if message is not None]
    if messages:
        raise AssertionError(
            f"{type(module).__name__} gradients are wrong:\n" + "\n".join(messages)
        )
    return results


def check_loss_gradients(
    loss: Any,
    logits: Any,
    targets: Any,
    *,
    eps: float = 1e-6,
    rtol: float = 1e-6,
    atol: float = 1e-8,
) -> float:
    """Check a loss object's ``backward()`` (gradient of ``forward(logits, targets)`` with
    respect to the logits) against finite differences; return the largest absolute error."""
    logits = to_device(logits)
    _require_float64("the logits", logits)
    loss.forward(logits, targets)
    analytic = to_cpu(loss.backward())
    numeric = numerical_gradient(lambda: float(loss.forward(logits, targets)), logits, eps)
    results: dict[str, float] = {}
    message = _compare(results, "logits", analytic, numeric, rtol, atol)
    if message is not None:
        raise AssertionError(f"{type(loss).__name__} gradients are wrong:\n{message}")
    return results["logits"]
