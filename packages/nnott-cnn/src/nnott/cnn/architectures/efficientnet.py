"""``efficientnet_lite0``: EfficientNet-Lite0 (Tan and Le, 2019; the "Lite" edge variant).

EfficientNet-B0's layout made friendlier to mobile accelerators: no squeeze-and-excitation,
ReLU6 instead of SiLU (swish). A 3x3 stride-2 stem to 32 channels, sixteen
:class:`~nnott.cnn.blocks.MBConv` blocks in seven stages (the table below), a 1x1
convolution to 1280 channels, global average pooling, dropout 0.2 and the classifier.
4,652,008 parameters at 3x224x224 with 1000 classes (timm's ``efficientnet_lite0``, the
port of the TensorFlow reference). Stochastic depth is not used.
"""

from __future__ import annotations

from nnott.cnn.architectures.network import Network, is_small_input, scaled
from nnott.cnn.architectures.registry import Reference, RunDefaults, register
from nnott.cnn.blocks import MBConv
from nnott.cnn.conv import Conv2D
from nnott.cnn.normalization import BatchNorm2D
from nnott.cnn.pooling import GlobalAvgPool2D
from nnott.vectorized.activations import ReLU6
from nnott.vectorized.layers import Dropout, Linear, Sequential
from nnott.vectorized.module import Module

__all__ = ["LITE0_STAGES", "efficientnet_lite0"]

LITE0_STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    # expand ratio, kernel, first stride, output channels, blocks
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)
"""EfficientNet-B0's stages, which Lite0 keeps (width and depth multipliers 1.0)."""

DIVISOR = 8  # EfficientNet rounds every channel count to a multiple of 8


@register(
    "efficientnet_lite0",
    description="EfficientNet-Lite0 (2019): 16 MBConv blocks, ReLU6, no squeeze-excitation",
    adaptations={
        "small": "1x28x28 and 3x32x32: the stem has stride 1 instead of 2 (total stride "
        "16 instead of 32), so the last stage sees 2x2 maps; width also scales the stem and "
        "the 1280-channel head (EfficientNet-Lite keeps them fixed), so small widths stay small",
        "reference": "as published: stride-2 stem, total stride 32, 7x7 maps before pooling",
    },
    reference=Reference(
        parameters=4_652_008,
        source="timm efficientnet_lite0 (TensorFlow reference port)",
    ),
    defaults=RunDefaults(epochs=3, batch_size=64, lr=1e-3, optimizer="adamw"),
)
def efficientnet_lite0(
    num_classes: int = 10, in_channels: int = 1, width: float = 1.0, input_size: int = 28
) -> Network:
    """EfficientNet-Lite0 for ``input_size`` x ``input_size`` images (see the module docstring)."""
    stem_channels = scaled(32, width, DIVISOR)
    stem_stride = 1 if is_small_input(input_size) else 2
    stem = Sequential(
        Conv2D(in_channels, stem_channels, 3, stem_stride, padding=1, bias=False),
        BatchNorm2D(stem_channels),
        ReLU6(),
    )
    blocks: list[Module] = []
    channels = stem_channels
    for expand, kernel, stride, base_channels, repeats in LITE0_STAGES:
        out_channels = scaled(base_channels, width, DIVISOR)
        for repeat in range(repeats):
            blocks.append(
                MBConv(
                    channels,
                    out_channels,
                    expand,
                    kernel,
                    stride if repeat == 0 else 1,
                    activation="relu6",
                )
            )
            channels = out_channels
    head_channels = scaled(1280, width, DIVISOR)
    head = Sequential(
        Conv2D(channels, head_channels, 1, bias=False), BatchNorm2D(head_channels), ReLU6()
    )
    return Network(
        "efficientnet_lite0",
        {
            "stem": stem,
            "blocks": Sequential(*blocks),
            "head": head,
            "pool": GlobalAvgPool2D(),
            "dropout": Dropout(0.2),
            "classifier": Linear(head_channels, num_classes),
        },
        num_classes=num_classes,
        in_channels=in_channels,
        width=width,
        input_size=input_size,
    )
