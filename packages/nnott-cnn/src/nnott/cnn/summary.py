"""A per-layer table of a network: output shape, parameters, FLOPs, activation memory.

>>> from nnott.cnn import build, summary
>>> print(summary(build("resnet18", in_channels=3, num_classes=1000, input_size=224),
...               (3, 224, 224)))

The shapes are computed *symbolically*: each layer's output shape follows from its input
shape and its hyper-parameters (kernel, stride, padding, channels), so the table of VGG16
at 224x224 is instant and allocates no activations. A test checks the symbolic shapes
against real forward passes.

Conventions
-----------
- FLOPs count the arithmetic of the layers that dominate the cost: every multiply-add of a
  convolution or a dense layer counts as 2 FLOPs (``2 * C_in/groups * kh * kw`` per output
  value of a convolution, ``2 * in_features`` per output of a dense layer; bias additions
  are left out), and a pooling window counts one operation per input value it reads.
  Normalization, activations, dropout and residual additions are elementwise and listed
  with 0 FLOPs: they cost memory traffic rather than arithmetic. Papers usually quote
  multiply-adds, half of these numbers (ResNet18's "1.8 GFLOPs" are 3.6 GFLOPs here).
- Activation memory is the size of each layer's output in float32 bytes for the whole
  batch (``batch_size``, 1 by default): what a training step keeps for the backward pass.
- Parameters are the trainable values (weights, biases, normalization scales and shifts,
  layer scales). Batch norm's running statistics are buffers, not parameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from nnott.cnn.blocks import BasicBlock, ConvNeXtBlock, MBConv, SqueezeExcitation
from nnott.cnn.conv import Conv2D
from nnott.cnn.functional import conv_output_size
from nnott.cnn.normalization import BatchNorm2D, LayerNorm2D
from nnott.cnn.pooling import AvgPool2D, GlobalAvgPool2D, MaxPool2D
from nnott.errors import ConfigError
from nnott.vectorized.activations import ACTIVATIONS
from nnott.vectorized.layers import Dropout, Flatten, Linear, Sequential
from nnott.vectorized.module import Module, Parameter

__all__ = ["BYTES_PER_VALUE", "LayerRow", "Summary", "output_shape", "summary"]

BYTES_PER_VALUE = 4  # float32
Shape = tuple[int, ...]


@dataclass(frozen=True)
class LayerRow:
    """One line of the summary: a layer (or, with ``depth``, a group of layers)."""

    name: str
    kind: str
    output_shape: Shape
    parameters: int
    flops: int
    activation_bytes: int


@dataclass
class Summary:
    """The rows of :func:`summary` and their totals; ``str()`` is the table."""

    rows: list[LayerRow]
    input_shape: Shape
    total_parameters: int = field(init=False)
    total_flops: int = field(init=False)
    total_activation_bytes: int = field(init=False)

    def __post_init__(self) -> None:
        self.total_parameters = sum(row.parameters for row in self.rows)
        self.total_flops = sum(row.flops for row in self.rows)
        self.total_activation_bytes = sum(row.activation_bytes for row in self.rows)

    @property
    def output_shape(self) -> Shape:
        return self.rows[-1].output_shape if self.rows else self.input_shape

    def grouped(self, depth: int) -> Summary:
        """Rows merged by the first ``depth`` parts of their names (``layer1.0``: depth 2).

        A group shows its last layer's output shape and the sums of the other columns.
        """
        if depth < 1:
            raise ConfigError(f"depth must be at least 1, not {depth}")
        groups: dict[str, list[LayerRow]] = {}
        for row in self.rows:
            groups.setdefault(".".join(row.name.split(".")[:depth]), []).append(row)
        merged = []
        for key, rows in groups.items():
            kind = rows[0].kind if len(rows) == 1 and rows[0].name == key else f"{len(rows)} layers"
            merged.append(
                LayerRow(
                    key,
                    kind,
                    rows[-1].output_shape,
                    sum(r.parameters for r in rows),
                    sum(r.flops for r in rows),
                    sum(r.activation_bytes for r in rows),
                )
            )
        return Summary(merged, self.input_shape)

    def table(self) -> str:
        """The aligned text table with a totals line."""
        headers = ["layer", "type", "output shape", "params", "FLOPs", "activations"]
        cells = [
            [
                row.name,
                row.kind,
                _shape_text(row.output_shape),
                f"{row.parameters:,}",
                _si(row.flops),
                _bytes(row.activation_bytes),
            ]
            for row in self.rows
        ]
        cells.append(
            [
                "total",
                "",
                _shape_text(self.output_shape),
                f"{self.total_parameters:,}",
                _si(self.total_flops),
                _bytes(self.total_activation_bytes),
            ]
        )
        right = [False, False, False, True, True, True]
        widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]

        def line(texts: Sequence[str]) -> str:
            return "  ".join(
                t.rjust(w) if r else t.ljust(w)
                for t, w, r in zip(texts, widths, right, strict=True)
            ).rstrip()

        rule = line(["-" * w for w in widths])
        lines = [line(headers), rule, *(line(c) for c in cells[:-1]), rule, line(cells[-1])]
        lines.append(
            f"input {_shape_text(self.input_shape)}; FLOPs: 2 per multiply-add (conv, dense), "
            f"1 per value read (pooling); activations: float32 outputs; "
            f"parameter memory {_bytes(self.total_parameters * BYTES_PER_VALUE)}"
        )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def _shape_text(shape: Shape) -> str:
    return "x".join(str(size) for size in shape)


def _si(value: int) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if value >= scale:
            return f"{value / scale:.2f}{unit}"
    return str(value)


def _bytes(value: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if value >= scale:
            return f"{value / scale:.1f} {unit}"
    return f"{value} B"


# ------------------------------------------------------------------ the shape pass


def _own_parameters(module: Module) -> int:
    """Parameters held by ``module`` itself, not by its children (a layer scale)."""
    return sum(value.size for value in vars(module).values() if isinstance(value, Parameter))


def _expect_rank(module: Module, shape: Shape, rank: int, name: str) -> None:
    if len(shape) != rank:
        layout = "(N, C, H, W)" if rank == 4 else "(N, features)"
        raise ConfigError(
            f"{name or type(module).__name__} ({type(module).__name__}) expects {layout} "
            f"input, but would get {_shape_text(shape)}"
        )


def _leaf(module: Module, shape: Shape, name: str) -> tuple[Shape, int]:
    """Output shape and FLOPs of a layer without children."""
    if isinstance(module, Conv2D):
        _expect_rank(module, shape, 4, name)
        if shape[1] != module.in_channels:
            raise ConfigError(
                f"{name} expects {module.in_channels} input channels, would get {shape[1]}"
            )
        out = module.output_shape(shape)
        kh, kw = module.kernel_size
        return out, 2 * math.prod(out) * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, Linear):
        _expect_rank(module, shape, 2, name)
        if shape[1] != module.in_features:
            raise ConfigError(
                f"{name} expects {module.in_features} input features, would get {shape[1]}"
            )
        return (shape[0], module.out_features), 2 * shape[0] * module.in_features * (
            module.out_features
        )
    if isinstance(module, (MaxPool2D, AvgPool2D)):
        _expect_rank(module, shape, 4, name)
        kh, kw = module.kernel_size
        out_h = conv_output_size(shape[2], kh, module.stride, module.padding)
        out_w = conv_output_size(shape[3], kw, module.stride, module.padding)
        out = (shape[0], shape[1], out_h, out_w)
        return out, math.prod(out) * kh * kw
    if isinstance(module, GlobalAvgPool2D):
        _expect_rank(module, shape, 4, name)
        pooled: tuple[int, ...] = (shape[0], shape[1])
        if module.keepdims:
            pooled += (1, 1)
        return pooled, math.prod(shape)
    if isinstance(module, Flatten):
        return (shape[0], math.prod(shape[1:])), 0
    if isinstance(module, (BatchNorm2D, LayerNorm2D)):
        _expect_rank(module, shape, 4, name)
        if shape[1] != module.num_features:
            raise ConfigError(
                f"{name} normalizes {module.num_features} channels, would get {shape[1]}"
            )
        return shape, 0
    if isinstance(module, (Dropout, *_ACTIVATION_TYPES)):
        return shape, 0
    if hasattr(module, "output_shape"):
        return tuple(module.output_shape(shape)), 0
    raise ConfigError(f"the summary does not know how to trace {type(module).__name__} ({name})")


_ACTIVATION_TYPES: tuple[type, ...] = tuple(ACTIVATIONS.values())  # type: ignore[arg-type]


class _Tracer:
    """Walks a model in forward order, collecting one :class:`LayerRow` per layer."""

    def __init__(self) -> None:
        self.rows: list[LayerRow] = []

    def trace(self, module: Module, shape: Shape, name: str) -> Shape:
        named = {id(child): child_name for child_name, child in module.children()}

        def child(sub: Module, shape: Shape) -> Shape:
            return self.trace(sub, shape, f"{name}.{named[id(sub)]}" if name else named[id(sub)])

        own = _own_parameters(module)
        rule = _rule(module)
        if not named or rule is None:
            if named:
                raise ConfigError(
                    f"the summary does not know how data flows through "
                    f"{type(module).__name__} ({name})"
                )
            out, flops = _leaf(module, shape, name)
            self._add(name, type(module).__name__, out, own, flops)
            return out
        if own:  # e.g. ConvNeXt's layer scale: a row of its own before the block's layers
            self._add(f"{name}.(own)", type(module).__name__, shape, own, 0, activations=False)
        return rule(module, shape, child)

    def _add(
        self, name: str, kind: str, shape: Shape, params: int, flops: int, activations: bool = True
    ) -> None:
        memory = math.prod(shape) * BYTES_PER_VALUE if activations else 0
        self.rows.append(LayerRow(name, kind, tuple(shape), params, flops, memory))


Step = Callable[[Module, Shape], Shape]


def _chain(modules: Iterator[Module] | Sequence[Module], shape: Shape, child: Step) -> Shape:
    for module in modules:
        shape = child(module, shape)
    return shape


def _network(module: Any, shape: Shape, child: Step) -> Shape:
    return _chain([stage for _, stage in module.stages()], shape, child)


def _sequential(module: Any, shape: Shape, child: Step) -> Shape:
    return _chain(list(module), shape, child)


def _basic_block(block: Any, shape: Shape, child: Step) -> Shape:
    main = _chain([block.conv1, block.bn1, block.relu1, block.conv2, block.bn2], shape, child)
    if block.shortcut_conv is not None:
        shortcut = _chain([block.shortcut_conv, block.shortcut_bn], shape, child)
        if shortcut != main:
            raise ConfigError(f"BasicBlock paths disagree: {main} and {shortcut}")
    return child(block.relu_out, main)


def _mbconv(block: Any, shape: Shape, child: Step) -> Shape:
    return _chain(block._stages(), shape, child)


def _squeeze_excitation(block: Any, shape: Shape, child: Step) -> Shape:
    squeezed = (shape[0], shape[1])
    _chain([block.fc1, block.activation, block.fc2, block.gate], squeezed, child)
    return shape


def _convnext_block(block: Any, shape: Shape, child: Step) -> Shape:
    return _chain([block.dwconv, block.norm, block.pwconv1, block.act, block.pwconv2], shape, child)


_COMPOSITES: dict[type, Callable[[Any, Shape, Step], Shape]] = {
    Sequential: _sequential,
    BasicBlock: _basic_block,
    MBConv: _mbconv,
    SqueezeExcitation: _squeeze_excitation,
    ConvNeXtBlock: _convnext_block,
}
"""How data flows through each composite type. A module with a ``stages()`` method (an
architecture's :class:`~nnott.cnn.architectures.network.Network`) is a chain of stages."""


def _rule(module: Module) -> Callable[[Any, Shape, Step], Shape] | None:
    if hasattr(module, "stages"):
        return _network
    return _COMPOSITES.get(type(module))


def output_shape(module: Module, input_shape: Sequence[int]) -> Shape:
    """The shape ``module`` makes of ``input_shape`` (with the batch axis), symbolically."""
    return summary(module, tuple(input_shape)[1:], batch_size=int(input_shape[0])).output_shape


def summary(
    model: Module, input_shape: Sequence[int], *, batch_size: int = 1, depth: int | None = None
) -> Summary:
    """The per-layer table of ``model`` for one input of ``input_shape`` ``(C, H, W)``.

    ``batch_size`` scales the FLOPs and activation memory; ``depth`` merges the rows below
    that many name parts (``depth=1``: one row per stage). Raises :class:`ConfigError` when
    the input does not fit (wrong channel count, too small for the network's strides).
    """
    shape = (int(batch_size), *(int(size) for size in input_shape))
    if batch_size < 1 or any(size < 1 for size in shape):
        raise ConfigError(f"the input shape must be positive, not {_shape_text(shape)}")
    tracer = _Tracer()
    tracer.trace(model, shape, "")
    result = Summary(tracer.rows, shape)
    return result.grouped(depth) if depth is not None else result
