"""Optimizers: SGD (with momentum and Nesterov), Adam, AdamW, RMSprop and Lookahead.

Every optimizer follows PyTorch's update rules exactly (the tests compare against PyTorch
fixtures) and keeps its state on the device next to the parameters, updating parameters
and state in place. Hyper-parameters are Python floats, so float32 parameters stay
float32 (NEP 50). Each elementwise update is written as one short chain of array
operations, the shape ``cupy.fuse`` would merge into one kernel.

Checkpoints: :meth:`Optimizer.state_dict` returns ``(arrays, scalars)``: the state arrays
by name (``"0.exp_avg"`` is parameter 0's first moment) and a JSON-ready dict of numbers
(learning rate, step count, hyper-parameters). :meth:`Optimizer.load_state_dict` restores
both, so that a resumed run continues exactly as the uninterrupted one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from nnott.backend import to_device, xp
from nnott.errors import CheckpointError, ConfigError
from nnott.vectorized.module import Parameter

__all__ = [
    "OPTIMIZERS",
    "SGD",
    "Adam",
    "AdamW",
    "Lookahead",
    "Optimizer",
    "RMSprop",
    "clip_grad_norm",
    "get_optimizer",
]


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


class Optimizer:
    """Base class: a list of parameters, a learning rate, per-parameter state arrays.

    Subclasses name their per-parameter state in ``state_names`` (created as zeros, like
    the parameters) and their hyper-parameters in ``hyper_names``, and implement
    :meth:`update` for one parameter.
    """

    state_names: tuple[str, ...] = ()
    hyper_names: tuple[str, ...] = ()

    def __init__(self, params: Iterable[Parameter], lr: float) -> None:
        self.params: list[Parameter] = list(params)
        _check(len(self.params) > 0, f"{type(self).__name__} got no parameters to optimize")
        _check(lr > 0.0, f"the learning rate must be positive, not {lr}")
        self.lr = float(lr)
        self.steps = 0
        self.state: list[dict[str, Any]] = [
            {name: xp.zeros_like(p.data) for name in self.state_names} for p in self.params
        ]

    def zero_grad(self) -> None:
        """Set every parameter's gradient to zero (they accumulate otherwise)."""
        for param in self.params:
            param.zero_grad()

    def step(self) -> None:
        """Update every parameter once from its current gradient."""
        self.steps += 1
        for param, state in zip(self.params, self.state, strict=True):
            self.update(param, state)

    def update(self, param: Parameter, state: dict[str, Any]) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement update")

    # -- checkpoints ----------------------------------------------------------------
    def state_dict(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(arrays, scalars)``: state arrays by ``"index.name"``, and plain numbers."""
        arrays = {
            f"{index}.{name}": array
            for index, state in enumerate(self.state)
            for name, array in state.items()
        }
        scalars = {"optimizer": type(self).__name__, "lr": self.lr, "steps": self.steps}
        scalars.update({name: getattr(self, name) for name in self.hyper_names})
        return arrays, scalars

    def load_state_dict(self, arrays: dict[str, Any], scalars: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (arrays may be NumPy or device arrays)."""
        if scalars.get("optimizer") != type(self).__name__:
            raise CheckpointError(
                f"the checkpoint holds {scalars.get('optimizer')} state, not {type(self).__name__}"
            )
        own, _ = self.state_dict()
        if set(arrays) != set(own):
            raise CheckpointError(
                f"the optimizer state does not fit these parameters "
                f"({len(arrays)} arrays saved, {len(own)} expected)"
            )
        for name, target in own.items():
            if tuple(arrays[name].shape) != tuple(target.shape):
                raise CheckpointError(f"optimizer state {name} has the wrong shape")
            target[...] = to_device(arrays[name], dtype=target.dtype)
        self.lr = float(scalars["lr"])
        self.steps = int(scalars["steps"])
        for name in self.hyper_names:
            value = scalars[name]
            setattr(self, name, tuple(value) if isinstance(value, list) else value)

    def __repr__(self) -> str:
        hypers = ", ".join(f"{name}={getattr(self, name)}" for name in self.hyper_names)
        return f"{type(self).__name__}(lr={self.lr}, {hypers})"


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's form.

    ``g = grad + weight_decay * w``; with momentum ``v = momentum * v + (1 - dampening) * g``
    (the first step sets ``v = g``); Nesterov uses ``g + momentum * v`` instead of ``v``;
    finally ``w -= lr * v``.
    """

    hyper_names = ("momentum", "dampening", "nesterov", "weight_decay")

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        dampening: float = 0.0,
    ) -> None:
        _check(momentum >= 0.0, f"momentum must be non-negative, not {momentum}")
        _check(weight_decay >= 0.0, f"weight_decay must be non-negative, not {weight_decay}")
        _check(
            not nesterov or (momentum > 0.0 and dampening == 0.0),
            "Nesterov momentum needs momentum > 0 and no dampening",
        )
        self.momentum = float(momentum)
        self.dampening = float(dampening)
        self.nesterov = bool(nesterov)
        self.weight_decay = float(weight_decay)
        self.state_names = ("momentum_buffer",) if momentum > 0.0 else ()
        super().__init__(params, lr)

    def update(self, param: Parameter, state: dict[str, Any]) -> None:
        g = param.grad
        if self.weight_decay != 0.0:
            g = g + self.weight_decay * param.data
        if self.momentum > 0.0:
            buffer = state["momentum_buffer"]
            if self.steps == 1:
                buffer[...] = g
            else:
                buffer *= self.momentum
                buffer += (1.0 - self.dampening) * g
            g = g + self.momentum * buffer if self.nesterov else buffer
        param.data -= self.lr * g


class Adam(Optimizer):
    """Adam: running averages of the gradient and its square, bias-corrected.

    ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g^2``,
    ``w -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``.
    ``weight_decay`` here is the classic L2 penalty added to the gradient (see AdamW).
    """

    state_names = ("exp_avg", "exp_avg_sq")
    hyper_names = ("betas", "eps", "weight_decay")

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        _check(all(0.0 <= beta < 1.0 for beta in betas), f"betas must be in [0, 1), not {betas}")
        _check(eps > 0.0, f"eps must be positive, not {eps}")
        _check(weight_decay >= 0.0, f"weight_decay must be non-negative, not {weight_decay}")
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)
        super().__init__(params, lr)

    def decay(self, param: Parameter) -> Any:
        """The gradient Adam averages: L2 weight decay is part of it."""
        if self.weight_decay != 0.0:
            return param.grad + self.weight_decay * param.data
        return param.grad

    def update(self, param: Parameter, state: dict[str, Any]) -> None:
        g = self.decay(param)
        beta1, beta2 = self.betas
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= beta1
        m += (1.0 - beta1) * g
        v *= beta2
        v += (1.0 - beta2) * (g * g)
        step_size = self.lr / (1.0 - beta1**self.steps)
        root_correction = math.sqrt(1.0 - beta2**self.steps)
        param.data -= step_size * (m / (xp.sqrt(v) / root_correction + self.eps))


class AdamW(Adam):
    """Adam with decoupled weight decay: ``w *= 1 - lr * weight_decay`` before the Adam
    step, instead of adding the decay to the gradient (Loshchilov and Hutter)."""

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay)

    def decay(self, param: Parameter) -> Any:
        if self.weight_decay != 0.0:
            param.data *= 1.0 - self.lr * self.weight_decay
        return param.grad


class RMSprop(Optimizer):
    """RMSprop: divide the gradient by a running root mean square of recent gradients.

    ``v = alpha v + (1 - alpha) g^2``; ``centered`` also subtracts the squared running mean
    of ``g``; the step is ``g / (sqrt(v) + eps)``, through a momentum buffer if asked.
    """

    hyper_names = ("alpha", "eps", "weight_decay", "momentum", "centered")

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        _check(0.0 <= alpha < 1.0, f"alpha must be in [0, 1), not {alpha}")
        _check(eps > 0.0, f"eps must be positive, not {eps}")
        _check(momentum >= 0.0, f"momentum must be non-negative, not {momentum}")
        _check(weight_decay >= 0.0, f"weight_decay must be non-negative, not {weight_decay}")
        self.alpha = float(alpha)
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)
        self.momentum = float(momentum)
        self.centered = bool(centered)
        self.state_names = (
            ("square_avg",)
            + (("grad_avg",) if centered else ())
            + (("momentum_buffer",) if momentum > 0.0 else ())
        )
        super().__init__(params, lr)

    def update(self, param: Parameter, state: dict[str, Any]) -> None:
        g = param.grad
        if self.weight_decay != 0.0:
            g = g + self.weight_decay * param.data
        square_avg = state["square_avg"]
        square_avg *= self.alpha
        square_avg += (1.0 - self.alpha) * (g * g)
        if self.centered:
            grad_avg = state["grad_avg"]
            grad_avg *= self.alpha
            grad_avg += (1.0 - self.alpha) * g
            denominator = xp.sqrt(square_avg - grad_avg * grad_avg) + self.eps
        else:
            denominator = xp.sqrt(square_avg) + self.eps
        if self.momentum > 0.0:
            buffer = state["momentum_buffer"]
            buffer *= self.momentum
            buffer += g / denominator
            param.data -= self.lr * buffer
        else:
            param.data -= self.lr * (g / denominator)


class Lookahead:
    """Lookahead (Zhang et al., 2019) around any optimizer.

    The inner ("fast") optimizer takes ``k`` steps; then the slow weights move a fraction
    ``alpha`` towards the fast ones, ``slow += alpha * (fast - slow)``, and the fast weights
    restart from there. ``lr``, ``zero_grad`` and ``params`` are the inner optimizer's.
    """

    def __init__(self, optimizer: Optimizer, k: int = 5, alpha: float = 0.5) -> None:
        _check(k >= 1, f"Lookahead needs k >= 1, not {k}")
        _check(0.0 < alpha <= 1.0, f"Lookahead alpha must be in (0, 1], not {alpha}")
        self.optimizer = optimizer
        self.k = int(k)
        self.alpha = float(alpha)
        self.params = optimizer.params
        self.slow = [p.data.copy() for p in self.params]
        self.counter = 0

    @property
    def lr(self) -> float:
        return self.optimizer.lr

    @lr.setter
    def lr(self, value: float) -> None:
        self.optimizer.lr = float(value)

    @property
    def steps(self) -> int:
        return self.optimizer.steps

    def zero_grad(self) -> None:
        self.optimizer.zero_grad()

    def step(self) -> None:
        self.optimizer.step()
        self.counter += 1
        if self.counter < self.k:
            return
        self.counter = 0
        for param, slow in zip(self.params, self.slow, strict=True):
            slow += self.alpha * (param.data - slow)
            param.data[...] = slow

    def state_dict(self) -> tuple[dict[str, Any], dict[str, Any]]:
        inner_arrays, inner_scalars = self.optimizer.state_dict()
        arrays = {f"inner.{name}": array for name, array in inner_arrays.items()}
        arrays.update({f"slow.{index}": slow for index, slow in enumerate(self.slow)})
        scalars = {
            "optimizer": "Lookahead",
            "k": self.k,
            "alpha": self.alpha,
            "counter": self.counter,
            "inner": inner_scalars,
        }
        return arrays, scalars

    def load_state_dict(self, arrays: dict[str, Any], scalars: dict[str, Any]) -> None:
        if scalars.get("optimizer") != "Lookahead":
            raise CheckpointError(
                f"the checkpoint holds {scalars.get('optimizer')} state, not Lookahead"
            )
        inner = {name[6:]: value for name, value in arrays.items() if name.startswith("inner.")}
        self.optimizer.load_state_dict(inner, scalars["inner"])
        for index, slow in enumerate(self.slow):
            saved = arrays.get(f"slow.{index}")
            if saved is None or tuple(saved.shape) != tuple(slow.shape):
                raise CheckpointError(f"Lookahead slow weights {index} are missing or misshapen")
            slow[...] = to_device(saved, dtype=slow.dtype)
        self.k = int(scalars["k"])
        self.alpha = float(scalars["alpha"])
        self.counter = int(scalars["counter"])

    def __repr__(self) -> str:
        return f"Lookahead({self.optimizer!r}, k={self.k}, alpha={self.alpha})"


def clip_grad_norm(params: Iterable[Parameter], max_norm: float, eps: float = 1e-6) -> Any:
    """Scale all gradients together so that their global L2 norm is at most ``max_norm``.

    Returns the norm before clipping as a 0-d device array. The scale factor
    ``min(1, max_norm / (norm + eps))`` is applied on the device, so no synchronisation
    happens (PyTorch's ``clip_grad_norm_``).
    """
    _check(max_norm > 0.0, f"max_norm must be positive, not {max_norm}")
    params = list(params)
    squares = [xp.sum(p.grad * p.grad) for p in params]
    total = squares[0]
    for square in squares[1:]:
        total = total + square
    total_norm = xp.asarray(xp.sqrt(total))
    factor = xp.minimum(max_norm / (total_norm + eps), 1.0)
    for param in params:
        param.grad *= factor.astype(param.grad.dtype, copy=False)
    return total_norm


OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "adam": Adam,
    "adamw": AdamW,
    "rmsprop": RMSprop,
}
"""Optimizer names for command lines; wrap any of them in :class:`Lookahead` by hand."""


def get_optimizer(
    name: str, params: Iterable[Parameter], lr: float, **options: Any
) -> Optimizer | Lookahead:
    """Build an optimizer by name: ``"sgd"``, ``"adam"``, ``"adamw"``, ``"rmsprop"``, or
    any of them prefixed ``"lookahead-"`` (``options`` may then hold ``k`` and ``alpha``)."""
    key = name.strip().lower()
    lookahead = key.startswith("lookahead-")
    if lookahead:
        key = key[len("lookahead-") :]
    if key not in OPTIMIZERS:
        raise ConfigError(
            f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)} "
            "(optionally prefixed lookahead-)"
        )
    outer = {opt: options.pop(opt) for opt in ("k", "alpha") if lookahead and opt in options}
    try:
        optimizer = OPTIMIZERS[key](params, lr=lr, **options)
    except TypeError as error:
        raise ConfigError(f"bad option for optimizer {key}: {error}") from None
    return Lookahead(optimizer, **outer) if lookahead else optimizer
