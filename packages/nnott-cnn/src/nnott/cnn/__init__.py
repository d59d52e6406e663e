"""nnott.cnn: convolutional networks from readable layers, on the CPU or the GPU.

The layers and blocks (:mod:`nnott.cnn.layers`) are importable from here directly::

    from nnott.cnn import Conv2D, BatchNorm2D, BasicBlock

The seven architectures come from one registry (:mod:`nnott.cnn.architectures`), and
:func:`nnott.cnn.summary.summary` prints a per-layer table of any of them::

    from nnott.cnn import build, list_architectures, resnet18
    model = build("resnet18", num_classes=10, in_channels=1, width=0.25, input_size=28)
"""

from nnott.cnn._version import __version__
from nnott.cnn.architectures import (
    ARCHITECTURES,
    Network,
    alexnet,
    baseline,
    build,
    convnext_tiny,
    efficientnet_lite0,
    get_architecture,
    lenet,
    list_architectures,
    resnet18,
    vgg16,
)
from nnott.cnn.layers import *  # noqa: F403 - the public layer set, listed in layers.__all__
from nnott.cnn.layers import __all__ as _layer_names

__all__ = ["__version__", *_layer_names]
__all__ += [
    "ARCHITECTURES",
    "Network",
    "alexnet",
    "baseline",
    "build",
    "convnext_tiny",
    "efficientnet_lite0",
    "get_architecture",
    "lenet",
    "list_architectures",
    "resnet18",
    "vgg16",
]
