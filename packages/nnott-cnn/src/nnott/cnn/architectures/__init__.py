"""The seven CNN architectures of nnott, registered by name.

>>> from nnott.cnn.architectures import build, list_architectures
>>> [arch.name for arch in list_architectures()]
['baseline', 'lenet', 'alexnet', 'vgg16', 'resnet18', 'efficientnet_lite0', 'convnext_tiny']
>>> model = build("resnet18", num_classes=10, in_channels=1, width=0.25, input_size=28)

Each builder lives in its own small module and registers itself in
:mod:`~nnott.cnn.architectures.registry` when imported here; the registry entry carries the
description, the notes on how the architecture is adapted to 28x28 and 32x32 inputs, the
published parameter count and the command line's defaults.
"""

from __future__ import annotations

from typing import Any

from nnott.cnn.architectures.network import Network, is_small_input, scaled
from nnott.cnn.architectures.registry import (
    ARCHITECTURES,
    Architecture,
    Reference,
    RunDefaults,
    get_architecture,
    list_architectures,
    register,
)

# The import order is the registration order, which is the listing order (oldest first).
# isort: off
from nnott.cnn.architectures.baseline import baseline
from nnott.cnn.architectures.lenet import lenet
from nnott.cnn.architectures.alexnet import alexnet
from nnott.cnn.architectures.vgg import vgg16
from nnott.cnn.architectures.resnet import resnet18
from nnott.cnn.architectures.efficientnet import efficientnet_lite0
from nnott.cnn.architectures.convnext import convnext_tiny
# isort: on

__all__ = [
    "ARCHITECTURES",
    "Architecture",
    "Network",
    "Reference",
    "RunDefaults",
    "alexnet",
    "baseline",
    "build",
    "convnext_tiny",
    "efficientnet_lite0",
    "get_architecture",
    "is_small_input",
    "lenet",
    "list_architectures",
    "register",
    "resnet18",
    "scaled",
    "vgg16",
]


def build(name: str, **options: Any) -> Network:
    """Build the architecture ``name`` (``num_classes``, ``in_channels``, ``width``,
    ``input_size`` as keywords); :class:`~nnott.errors.ConfigError` for an unknown name."""
    return get_architecture(name).build(**options)
