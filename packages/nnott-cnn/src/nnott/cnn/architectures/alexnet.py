"""``alexnet``: AlexNet (Krizhevsky, Sutskever and Hinton, 2012), torchvision's variant.

Five convolutions (64, 192, 384, 256, 256 channels; the single-GPU layout of Krizhevsky's
2014 "one weird trick" paper that torchvision follows, without local response
normalization) with three max-pools, then two dropout-regularized dense layers of 4096
units. 61,100,840 parameters at 3x224x224 with 1000 classes. torchvision's adaptive average
pool to 6x6 is left out: at 224x224 the maps are 6x6 already, and at other sizes the first
dense layer is sized for the maps the convolutions make.
"""

from __future__ import annotations

from nnott.cnn.architectures.network import Network, is_small_input, scaled
from nnott.cnn.architectures.registry import Reference, RunDefaults, register
from nnott.cnn.conv import Conv2D
from nnott.cnn.pooling import MaxPool2D
from nnott.cnn.summary import output_shape
from nnott.vectorized.activations import ReLU
from nnott.vectorized.layers import Dropout, Flatten, Linear, Sequential

__all__ = ["alexnet"]


@register(
    "alexnet",
    description="AlexNet (2012, torchvision variant): 5 convs, 3 max-pools, dense 4096-4096",
    adaptations={
        "small": "1x28x28 and 3x32x32: the 11x11 stride-4 stem becomes a 3x3 stride-1 "
        "convolution and the first two 3x3 stride-2 pools become 2x2 pools, so the maps "
        "go 28 -> 14 -> 7 -> 3 (32 -> 16 -> 8 -> 3); the first dense layer takes 256x3x3",
        "reference": "as published (11x11 stride-4 stem, 3x3 stride-2 pools, 256x6x6 at 224x224)",
    },
    reference=Reference(parameters=61_100_840, source="torchvision.models.alexnet"),
    defaults=RunDefaults(epochs=5, batch_size=64, lr=1e-4, optimizer="adam"),
)
def alexnet(
    num_classes: int = 10, in_channels: int = 1, width: float = 1.0, input_size: int = 28
) -> Network:
    """AlexNet for ``input_size`` x ``input_size`` images (see the module docstring)."""
    c1, c2, c3, c4 = (scaled(c, width) for c in (64, 192, 384, 256))
    hidden = scaled(4096, width)
    if is_small_input(input_size):
        stem, pool = Conv2D(in_channels, c1, 3, stride=1, padding=1), (2, 2)
    else:
        stem, pool = Conv2D(in_channels, c1, 11, stride=4, padding=2), (3, 2)
    features = Sequential(
        stem,
        ReLU(),
        MaxPool2D(pool[0], pool[1]),
        Conv2D(c1, c2, 5, padding=2),
        ReLU(),
        MaxPool2D(pool[0], pool[1]),
        Conv2D(c2, c3, 3, padding=1),
        ReLU(),
        Conv2D(c3, c4, 3, padding=1),
        ReLU(),
        Conv2D(c4, c4, 3, padding=1),
        ReLU(),
        MaxPool2D(3, 2),
    )
    flat = output_shape(Sequential(features, Flatten()), (1, in_channels, input_size, input_size))
    classifier = Sequential(
        Dropout(0.5),
        Linear(flat[1], hidden),
        ReLU(),
        Dropout(0.5),
        Linear(hidden, hidden),
        ReLU(),
        Linear(hidden, num_classes),
    )
    return Network(
        "alexnet",
        {"features": features, "flatten": Flatten(), "classifier": classifier},
        num_classes=num_classes,
        in_channels=in_channels,
        width=width,
        input_size=input_size,
    )
