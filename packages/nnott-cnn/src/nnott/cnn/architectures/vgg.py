"""``vgg16``: VGG-16 (Simonyan and Zisserman, 2014), configuration D, without batch norm.

Thirteen 3x3 convolutions in five blocks (64, 128, 256, 512, 512 channels), each block
closed by a 2x2 max-pool, then dense layers of 4096 and 4096 units with dropout.
138,357,544 parameters at 3x224x224 with 1000 classes (torchvision's ``vgg16``; its
adaptive average pool to 7x7 is left out: at 224x224 the maps are 7x7 already).
"""

from __future__ import annotations

from nnott.cnn.architectures.network import Network, is_small_input, scaled
from nnott.cnn.architectures.registry import Reference, RunDefaults, register
from nnott.cnn.conv import Conv2D
from nnott.cnn.pooling import MaxPool2D
from nnott.cnn.summary import output_shape
from nnott.vectorized.activations import ReLU
from nnott.vectorized.layers import Dropout, Flatten, Linear, Sequential
from nnott.vectorized.module import Module

__all__ = ["VGG16_BLOCKS", "vgg16"]

VGG16_BLOCKS: tuple[tuple[int, int], ...] = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
"""(channels, convolutions) of each block of configuration D."""


@register(
    "vgg16",
    description="VGG-16 (2014, configuration D): 13 3x3 convs in 5 blocks, dense 4096-4096",
    adaptations={
        "small": "1x28x28 and 3x32x32: only the first three blocks end in a max-pool (five "
        "pools would shrink 28x28 to nothing), so blocks 4 and 5 work on 3x3 (4x4) maps "
        "and the first dense layer takes 512x3x3 (512x4x4)",
        "reference": "as published: five pools, 512x7x7 into the first dense layer at 224x224",
    },
    reference=Reference(parameters=138_357_544, source="torchvision.models.vgg16"),
    defaults=RunDefaults(epochs=5, batch_size=64, lr=1e-4, optimizer="adam"),
)
def vgg16(
    num_classes: int = 10, in_channels: int = 1, width: float = 1.0, input_size: int = 28
) -> Network:
    """VGG-16 for ``input_size`` x ``input_size`` images (see the module docstring)."""
    pooled_blocks = 3 if is_small_input(input_size) else len(VGG16_BLOCKS)
    layers: list[Module] = []
    channels = in_channels
    for block, (out_channels, convs) in enumerate(VGG16_BLOCKS):
        for _ in range(convs):
            layers += [Conv2D(channels, scaled(out_channels, width), 3, padding=1), ReLU()]
            channels = scaled(out_channels, width)
        if block < pooled_blocks:
            layers.append(MaxPool2D(2))
    features = Sequential(*layers)
    flat = output_shape(Sequential(features, Flatten()), (1, in_channels, input_size, input_size))
    hidden = scaled(4096, width)
    classifier = Sequential(
        Linear(flat[1], hidden),
        ReLU(),
        Dropout(0.5),
        Linear(hidden, hidden),
        ReLU(),
        Dropout(0.5),
        Linear(hidden, num_classes),
    )
    return Network(
        "vgg16",
        {"features": features, "flatten": Flatten(), "classifier": classifier},
        num_classes=num_classes,
        in_channels=in_channels,
        width=width,
        input_size=input_size,
    )
