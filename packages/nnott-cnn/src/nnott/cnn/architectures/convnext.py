"""``convnext_tiny``: ConvNeXt-T (Liu, Mao, Wu, Feichtenhofer, Darrell and Xie, 2022).

A 4x4 stride-4 "patchify" stem with layer norm, four stages of
:class:`~nnott.cnn.blocks.ConvNeXtBlock` (3, 3, 9, 3 blocks of 96, 192, 384, 768 channels)
joined by downsampling layers (layer norm, 2x2 stride-2 convolution), global average
pooling, a final layer norm and the classifier. 28,589,128 parameters at 3x224x224 with
1000 classes (torchvision's ``convnext_tiny``, layer scales included). Stochastic depth
is not used.
"""

from __future__ import annotations

from nnott.cnn.architectures.network import Network, is_small_input, scaled
from nnott.cnn.architectures.registry import Reference, RunDefaults, register
from nnott.cnn.blocks import ConvNeXtBlock
from nnott.cnn.conv import Conv2D
from nnott.cnn.normalization import LayerNorm2D
from nnott.cnn.pooling import GlobalAvgPool2D
from nnott.vectorized.layers import Flatten, Linear, Sequential
from nnott.vectorized.module import Module

__all__ = ["TINY_STAGES", "convnext_tiny"]

TINY_STAGES: tuple[tuple[int, int], ...] = ((96, 3), (192, 3), (384, 9), (768, 3))
"""(channels, blocks) of each stage of ConvNeXt-T."""


@register(
    "convnext_tiny",
    description="ConvNeXt-T (2022): patchify stem, 3-3-9-3 ConvNeXt blocks, layer norm",
    adaptations={
        "small": "1x28x28 and 3x32x32: a 2x2 stride-2 patchify stem instead of 4x4 "
        "stride-4, so the stages see 14, 7, 3, 1 (16, 8, 4, 2) pixel maps",
        "reference": "as published: 4x4 stride-4 stem, 56, 28, 14, 7 pixel maps at 224x224",
    },
    reference=Reference(parameters=28_589_128, source="torchvision.models.convnext_tiny"),
    defaults=RunDefaults(epochs=3, batch_size=64, lr=1e-3, optimizer="adamw"),
)
def convnext_tiny(
    num_classes: int = 10, in_channels: int = 1, width: float = 1.0, input_size: int = 28
) -> Network:
    """ConvNeXt-T for ``input_size`` x ``input_size`` images (see the module docstring)."""
    patch = 2 if is_small_input(input_size) else 4
    dims = [scaled(channels, width) for channels, _ in TINY_STAGES]
    stages: dict[str, Module] = {
        "stem": Sequential(Conv2D(in_channels, dims[0], patch, stride=patch), LayerNorm2D(dims[0]))
    }
    for index, (dim, (_, depth)) in enumerate(zip(dims, TINY_STAGES, strict=True)):
        if index > 0:
            stages[f"downsample{index}"] = Sequential(
                LayerNorm2D(dims[index - 1]), Conv2D(dims[index - 1], dim, 2, stride=2)
            )
        stages[f"stage{index + 1}"] = Sequential(*(ConvNeXtBlock(dim) for _ in range(depth)))
    stages["pool"] = GlobalAvgPool2D(keepdims=True)
    stages["norm"] = LayerNorm2D(dims[-1])
    stages["flatten"] = Flatten()
    stages["head"] = Linear(dims[-1], num_classes)
    return Network(
        "convnext_tiny",
        stages,
        num_classes=num_classes,
        in_channels=in_channels,
        width=width,
        input_size=input_size,
    )
