"""Every layer a CNN in nnott is built from, importable from one place.

The convolutional layers and blocks are this package's own; the activations, ``Linear``,
``Dropout``, ``Flatten`` and ``Sequential`` are nnott-vectorized's, re-exported here (the
same classes, not copies), so that an architecture needs a single import::

    from nnott.cnn.layers import Conv2D, BatchNorm2D, ReLU, MaxPool2D, Flatten, Linear
"""

from __future__ import annotations

from nnott.cnn.blocks import BasicBlock, ConvNeXtBlock, MBConv, SqueezeExcitation
from nnott.cnn.conv import Conv2D, DepthwiseConv2D
from nnott.cnn.normalization import BatchNorm2D, LayerNorm2D
from nnott.cnn.pooling import AvgPool2D, GlobalAvgPool2D, MaxPool2D
from nnott.vectorized.activations import (
    GELU,
    Hardsigmoid,
    Hardswish,
    Identity,
    LeakyReLU,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Tanh,
    get_activation,
)
from nnott.vectorized.layers import Dropout, Flatten, Linear, Sequential
from nnott.vectorized.module import Module, Parameter

__all__ = [
    "GELU",
    "AvgPool2D",
    "BasicBlock",
    "BatchNorm2D",
    "ConvNeXtBlock",
    "Conv2D",
    "DepthwiseConv2D",
    "Dropout",
    "Flatten",
    "GlobalAvgPool2D",
    "Hardsigmoid",
    "Hardswish",
    "Identity",
    "LayerNorm2D",
    "LeakyReLU",
    "Linear",
    "MBConv",
    "MaxPool2D",
    "Module",
    "Parameter",
    "ReLU",
    "ReLU6",
    "SiLU",
    "Sequential",
    "Sigmoid",
    "SqueezeExcitation",
    "Tanh",
    "get_activation",
]
