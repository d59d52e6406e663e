"""``baseline``: nnott's own small CNN, tuned for 28x28 grey images.

Two convolution blocks (3x3 convolution, batch norm, ReLU, 2x2 max-pool) with 32 and 64
channels, then a dense layer of 128 units with dropout and the classifier. It trains in
seconds per epoch on a laptop CPU and is the architecture to try first.
"""

from __future__ import annotations

from nnott.cnn.architectures.network import Network, scaled
from nnott.cnn.architectures.registry import Reference, RunDefaults, register
from nnott.cnn.conv import Conv2D
from nnott.cnn.normalization import BatchNorm2D
from nnott.cnn.pooling import MaxPool2D
from nnott.cnn.summary import output_shape
from nnott.vectorized.activations import ReLU
from nnott.vectorized.layers import Dropout, Flatten, Linear, Sequential

__all__ = ["baseline"]


@register(
    "baseline",
    description="nnott's small CNN: 2 x (3x3 conv, batch norm, ReLU, max-pool), dense 128",
    adaptations={
        "small": "designed for 1x28x28 (and 3x32x32): two 2x2 pools leave 7x7 (8x8) maps",
        "reference": "the same layers; the first dense layer grows with the input "
        "(it is meant for 28x28 and 32x32)",
    },
    reference=Reference(input_shape=(1, 28, 28), num_classes=10, source="nnott's own design"),
    defaults=RunDefaults(epochs=5, batch_size=64, lr=1e-3, optimizer="adam"),
)
def baseline(
    num_classes: int = 10, in_channels: int = 1, width: float = 1.0, input_size: int = 28
) -> Network:
    """nnott's small CNN for 28x28 inputs (see the module docstring)."""
    c1, c2, hidden = scaled(32, width), scaled(64, width), scaled(128, width)
    features = Sequential(
        Conv2D(in_channels, c1, 3, padding=1, bias=False),
        BatchNorm2D(c1),
        ReLU(),
        MaxPool2D(2),
        Conv2D(c1, c2, 3, padding=1, bias=False),
        BatchNorm2D(c2),
        ReLU(),
        MaxPool2D(2),
    )
    flat = output_shape(Sequential(features, Flatten()), (1, in_channels, input_size, input_size))
    classifier = Sequential(
        Linear(flat[1], hidden), ReLU(), Dropout(0.3), Linear(hidden, num_classes)
    )
    return Network(
        "baseline",
        {"features": features, "flatten": Flatten(), "classifier": classifier},
        num_classes=num_classes,
        in_channels=in_channels,
        width=width,
        input_size=input_size,
    )
