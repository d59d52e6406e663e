"""The layer protocol every vectorized and convolutional layer follows.

A :class:`Module` turns an input array into an output array in :meth:`Module.forward`,
remembers what it needs, and in :meth:`Module.backward` turns the gradient of the loss
with respect to its output into the gradient with respect to its input, adding the
gradients of its own parameters into ``parameter.grad`` on the way (they accumulate, as
in PyTorch, until :meth:`Module.zero_grad`). Models are modules made of modules.

Parameters hold their value and gradient on the active device. Buffers are state that is
saved in checkpoints but not trained (BatchNorm's running statistics).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from nnott.backend import to_device, xp

__all__ = ["Module", "Parameter"]


class Parameter:
    """A trainable array and the gradient accumulated for it.

    ``data`` and ``grad`` live on the active device and have the same shape and dtype.
    Optimizers update ``data`` in place (``param.data -= ...``) so that the modules that
    hold a parameter always see its current value.
    """

    __slots__ = ("data", "grad")

    def __init__(self, data: Any) -> None:
        self.data = to_device(data)
        self.grad = xp.zeros_like(self.data)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def size(self) -> int:
        return int(self.data.size)

    def zero_grad(self) -> None:
        self.grad.fill(0)

    def __repr__(self) -> str:
        return f"Parameter(shape={self.shape}, dtype={self.data.dtype})"


class Module:
    """Base class of layers and models: forward, backward, parameters, buffers, mode.

    Subclasses assign :class:`Parameter` objects, buffers (device arrays registered with
    :meth:`register_buffer`) and child modules as attributes; this base class finds them
    by walking the attributes in assignment order, so names are stable and readable:
    ``"blocks.0.conv1.weight"``.
    """

    training: bool

    def __init__(self) -> None:
        self.training = True
        self._buffer_names: list[str] = []

    # -- the two passes ---------------------------------------------------------------
    def forward(self, x: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement forward")

    def backward(self, grad_output: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement backward")

    def __call__(self, x: Any) -> Any:
        return self.forward(x)

    # -- structure ----------------------------------------------------------------------
    def children(self) -> Iterator[tuple[str, Module]]:
        """Direct sub-modules with their attribute names (lists and tuples are numbered)."""
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for index, item in enumerate(value):
                    if isinstance(item, Module):
                        yield f"{name}.{index}", item

    def modules(self) -> Iterator[Module]:
        """This module and every module below it, depth first."""
        yield self
        for _, child in self.children():
            yield from child.modules()

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield prefix + name, value
        for name, child in self.children():
            yield from child.named_parameters(prefix + name + ".")

    def parameters(self) -> list[Parameter]:
        return [parameter for _, parameter in self.named_parameters()]

    def register_buffer(self, name: str, value: Any) -> None:
        """Keep ``value`` as attribute ``name`` and save it in checkpoints."""
        setattr(self, name, to_device(value))
        if name not in self._buffer_names:
            self._buffer_names.append(name)

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Any]]:
        for name in getattr(self, "_buffer_names", []):
            yield prefix + name, getattr(self, name)
        for name, child in self.children():
            yield from child.named_buffers(prefix + name + ".")

    def num_parameters(self) -> int:
        return sum(parameter.size for parameter in self.parameters())

    # -- modes and gradients ------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout drops, batch norm uses batch statistics), recursively."""
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode, recursively."""
        return self.train(False)

    def zero_grad(self) -> None:
        for parameter in self.parameters():
            parameter.zero_grad()

    # -- state for checkpoints ----------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Every parameter and buffer by dotted name (device arrays, not copies)."""
        state = {name: parameter.data for name, parameter in self.named_parameters()}
        state.update(dict(self.named_buffers()))
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Copy arrays into this module's parameters and buffers; names and shapes must match."""
        from nnott.errors import CheckpointError

        own = self.state_dict()
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            raise CheckpointError(
                "the saved weights do not fit this model"
                + (f"; missing: {', '.join(missing[:5])}" if missing else "")
                + (f"; unexpected: {', '.join(unexpected[:5])}" if unexpected else "")
            )
        for name, target in own.items():
            value = state[name]
            if tuple(value.shape) != tuple(target.shape):
                raise CheckpointError(
                    f"the saved weight {name} has shape {tuple(value.shape)}, "
                    f"this model expects {tuple(target.shape)}"
                )
            target[...] = to_device(value, dtype=target.dtype)

    def extra_repr(self) -> str:
        """Shown inside the parentheses of ``repr``; layers override it with their sizes."""
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        children = list(self.children())
        for name, child in children:
            child_lines = repr(child).splitlines()
            lines.append(f"  ({name}): {child_lines[0]}")
            lines.extend("  " + line for line in child_lines[1:])
        return "\n".join(lines) + ("\n)" if children else ")")
