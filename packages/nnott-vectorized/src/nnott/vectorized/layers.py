"""The structural layers: Linear, Flatten, Dropout and Sequential.

Each layer caches in ``forward`` exactly what its ``backward`` needs, and ``backward``
adds parameter gradients into ``Parameter.grad`` (they accumulate until ``zero_grad``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy

from nnott.backend import rng, to_device
from nnott.errors import ConfigError
from nnott.vectorized.init import initial_weight, zeros
from nnott.vectorized.module import Module, Parameter

__all__ = ["Dropout", "Flatten", "Linear", "Sequential"]


class Linear(Module):
    """A fully connected layer: ``y = x @ W.T + b``.

    The weight has the layout ``(out_features, in_features)``, the same as the scalar
    tier's ``weights[out][in]`` and PyTorch's ``nn.Linear``, so weights can be copied
    between them as they are. See :mod:`nnott.vectorized.init` for how they are drawn.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        init: str = "he",
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ConfigError(
                f"Linear needs positive sizes, not in={in_features}, out={out_features}"
            )
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(
            initial_weight((out_features, in_features), init, in_features, out_features, dtype)
        )
        self.bias = Parameter(zeros((out_features,), dtype)) if bias else None
        self._input: Any = None

    def forward(self, x: Any) -> Any:
        self._input = x
        y = x @ self.weight.data.T
        if self.bias is not None:
            y += self.bias.data
        return y

    def backward(self, grad_output: Any) -> Any:
        # y = x W^T + b  =>  dW = dy^T x,  db = sum over the batch of dy,  dx = dy W
        self.weight.grad += grad_output.T @ self._input
        if self.bias is not None:
            self.bias.grad += grad_output.sum(axis=0)
        return grad_output @ self.weight.data

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Flatten(Module):
    """Reshape ``(N, d1, d2, ...)`` to ``(N, d1*d2*...)``; backward restores the shape."""

    def __init__(self) -> None:
        super().__init__()
        self._shape: tuple[int, ...] = ()

    def forward(self, x: Any) -> Any:
        self._shape = tuple(x.shape)
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_output: Any) -> Any:
        return grad_output.reshape(self._shape)


class Dropout(Module):
    """Inverted dropout: in training, zero each value with probability ``p`` and scale the
    survivors by ``1 / (1 - p)``, so that evaluation needs no rescaling (an identity).

    The mask is drawn on the host from ``generator`` (by default nnott's seeded generator,
    :func:`nnott.backend.rng`) and copied to the device. That costs one small copy per
    batch, but it makes a seed give the same masks on the CPU and on the GPU, so a GPU run
    reproduces a CPU run. Pass a fixed ``numpy.random.Generator`` to pin the masks.
    """

    def __init__(self, p: float = 0.5, generator: numpy.random.Generator | None = None) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ConfigError(f"dropout probability must be in [0, 1), not {p}")
        self.p = float(p)
        self.generator = generator
        self._mask: Any = None

    def forward(self, x: Any) -> Any:
        if not self.training or self.p == 0.0:
            self._mask = None
            return x
        generator = self.generator if self.generator is not None else rng()
        keep = generator.random(tuple(x.shape)) >= self.p
        scaled = keep.astype(x.dtype) * (1.0 / (1.0 - self.p))
        self._mask = to_device(scaled)
        return x * self._mask

    def backward(self, grad_output: Any) -> Any:
        if self._mask is None:
            return grad_output
        return grad_output * self._mask

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Sequential(Module):
    """Modules applied one after another; backward visits them in reverse order.

    Children are named by position (``"0.weight"``, ``"2.bias"``), as in PyTorch.
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        self.layers: list[Module] = list(modules)

    def children(self) -> Iterator[tuple[str, Module]]:
        for index, module in enumerate(self.layers):
            yield str(index), module

    def append(self, module: Module) -> Sequential:
        self.layers.append(module)
        return self

    def __getitem__(self, index: int) -> Module:
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)

    def forward(self, x: Any) -> Any:
        for module in self.layers:
            x = module.forward(x)
        return x

    def backward(self, grad_output: Any) -> Any:
        for module in reversed(self.layers):
            grad_output = module.backward(grad_output)
        return grad_output
