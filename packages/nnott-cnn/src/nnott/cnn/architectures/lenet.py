"""``lenet``: LeNet-5 (LeCun, Bottou, Bengio and Haffner, 1998), in its common modern form.

The layer sizes of the paper: a 5x5 convolution to 6 maps, 2x2 pooling, a 5x5 convolution
to 16 maps, 2x2 pooling, dense layers of 120 and 84 units and the classifier. 61,706
parameters for 1x32x32 inputs and 10 classes. The variant: ReLU and max-pooling instead of
the paper's scaled tanh and trainable average "subsampling", every C3 map connected to all
six S2 maps (the paper's sparse connection table is left out), and a plain dense
classifier instead of the Gaussian RBF output units.
"""

from __future__ import annotations

from nnott.cnn.architectures.network import Network, scaled
from nnott.cnn.architectures.registry import Reference, RunDefaults, register
from nnott.cnn.conv import Conv2D
from nnott.cnn.pooling import MaxPool2D
from nnott.cnn.summary import output_shape
from nnott.vectorized.activations import ReLU
from nnott.vectorized.layers import Flatten, Linear, Sequential

__all__ = ["lenet"]


@register(
    "lenet",
    description="LeNet-5 (1998): 5x5 convs to 6 and 16 maps, dense 120 and 84; ReLU, max-pool",
    adaptations={
        "small": "1x28x28: the first convolution is zero-padded by 2, so every feature map "
        "has the size of the 32x32 design (28, 14, 10, 5); 3x32x32: as published",
        "reference": "the same layers; the first dense layer grows with the last feature map",
    },
    reference=Reference(
        input_shape=(1, 32, 32),
        num_classes=10,
        parameters=61_706,
        source="LeCun et al. 1998, with full C3 connectivity (6*16*25+16 = 2,416 weights)",
    ),
    defaults=RunDefaults(epochs=20, batch_size=64, lr=1e-3, optimizer="adam"),
)
def lenet(
    num_classes: int = 10, in_channels: int = 1, width: float = 1.0, input_size: int = 28
) -> Network:
    """LeNet-5 for ``input_size`` x ``input_size`` images (see the module docstring)."""
    c1, c2 = scaled(6, width), scaled(16, width)
    f1, f2 = scaled(120, width), scaled(84, width)
    padding = 2 if input_size < 32 else 0
    features = Sequential(
        Conv2D(in_channels, c1, 5, padding=padding),
        ReLU(),
        MaxPool2D(2),
        Conv2D(c1, c2, 5),
        ReLU(),
        MaxPool2D(2),
    )
    flat = output_shape(Sequential(features, Flatten()), (1, in_channels, input_size, input_size))
    classifier = Sequential(
        Linear(flat[1], f1), ReLU(), Linear(f1, f2), ReLU(), Linear(f2, num_classes)
    )
    return Network(
        "lenet",
        {"features": features, "flatten": Flatten(), "classifier": classifier},
        num_classes=num_classes,
        in_channels=in_channels,
        width=width,
        input_size=input_size,
    )
