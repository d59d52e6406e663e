"""``resnet18``: ResNet-18 (He, Zhang, Ren and Sun, 2015).

A 7x7 stride-2 stem with a 3x3 stride-2 max-pool, four stages of two
:class:`~nnott.cnn.blocks.BasicBlock` each (64, 128, 256, 512 channels; the first block of
stages 2-4 halves the maps with stride 2 and a 1x1 projection shortcut), global average
pooling and the classifier. 11,689,512 parameters at 3x224x224 with 1000 classes
(torchvision's ``resnet18``). The stage names follow torchvision (``conv1``, ``bn1``,
``layer1`` ... ``layer4``, ``fc``).
"""

from __future__ import annotations

from nnott.cnn.architectures.network import Network, is_small_input, scaled
from nnott.cnn.architectures.registry import Reference, RunDefaults, register
from nnott.cnn.blocks import BasicBlock
from nnott.cnn.conv import Conv2D
from nnott.cnn.normalization import BatchNorm2D
from nnott.cnn.pooling import GlobalAvgPool2D, MaxPool2D
from nnott.vectorized.activations import ReLU
from nnott.vectorized.layers import Linear, Sequential
from nnott.vectorized.module import Module

__all__ = ["resnet18"]


@register(
    "resnet18",
    description="ResNet-18 (2015): 7x7 stem, 4 stages of 2 basic residual blocks, avg-pool",
    adaptations={
        "small": "ResNet18 (3x3 stem, no max-pool) 1x28x28 / 3x32x32: the 7x7 stride-2 "
        "stem and its max-pool become one 3x3 stride-1 convolution, so the stages see "
        "28, 14, 7, 4 (32, 16, 8, 4) pixel maps",
        "reference": "as published: 7x7 stride-2 stem and 3x3 stride-2 max-pool",
    },
    reference=Reference(parameters=11_689_512, source="torchvision.models.resnet18"),
    defaults=RunDefaults(epochs=3, batch_size=64, lr=1e-3, optimizer="adam"),
)
def resnet18(
    num_classes: int = 10, in_channels: int = 1, width: float = 1.0, input_size: int = 28
) -> Network:
    """ResNet-18 for ``input_size`` x ``input_size`` images (see the module docstring)."""
    small = is_small_input(input_size)
    stem_channels = scaled(64, width)
    kernel, stride, padding = (3, 1, 1) if small else (7, 2, 3)
    stages: dict[str, Module] = {
        "conv1": Conv2D(in_channels, stem_channels, kernel, stride, padding, bias=False),
        "bn1": BatchNorm2D(stem_channels),
        "relu": ReLU(),
    }
    if not small:
        stages["maxpool"] = MaxPool2D(3, 2, padding=1)
    channels = stem_channels
    for index, base in enumerate((64, 128, 256, 512)):
        out_channels = scaled(base, width)
        stride = 1 if index == 0 else 2
        stages[f"layer{index + 1}"] = Sequential(
            BasicBlock(channels, out_channels, stride), BasicBlock(out_channels, out_channels)
        )
        channels = out_channels
    stages["avgpool"] = GlobalAvgPool2D()
    stages["fc"] = Linear(channels, num_classes)
    return Network(
        "resnet18",
        stages,
        num_classes=num_classes,
        in_channels=in_channels,
        width=width,
        input_size=input_size,
    )
