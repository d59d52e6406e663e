"""How long each benchmark runs: the full run and the ``--quick`` one.

The full run took 16 and 48 minutes on the two 2-core machines it was measured on (most
of it the accuracy and gallery runs, which train every architecture), ``--quick`` about a
minute (fewer repeats and steps, no accuracy runs).
"""

from __future__ import annotations

import dataclasses

__all__ = ["FULL", "QUICK", "Settings"]


@dataclasses.dataclass(frozen=True)
class Settings:
    """Repeat and step counts for every section of the benchmark."""

    name: str
    repeats: int  # timed repeats per throughput measurement (the median is reported)
    warmup: int  # untimed steps before timing
    tier_samples: int  # samples the scalar tier trains on per repeat
    mlp_steps: int  # vectorized MLP steps (batch 64) per repeat
    lenet_steps: int  # LeNet steps (batch 64) per repeat
    resnet_steps: int  # ResNet18 steps (batch 64) per repeat
    layer_repeats: int  # timed repeats per convolution layer
    roof_size: int  # the GEMM roof's matrix size
    accuracy: bool  # run the accuracy sections at all
    mlp_epochs: int = 10
    cnn_epochs: int = 2  # full Fashion-MNIST epochs for lenet and baseline


FULL = Settings(
    name="full",
    repeats=11,
    warmup=3,
    tier_samples=256,
    mlp_steps=60,
    lenet_steps=10,
    resnet_steps=1,
    layer_repeats=5,
    roof_size=2048,
    accuracy=True,
)

QUICK = Settings(
    name="quick",
    repeats=3,
    warmup=1,
    tier_samples=64,
    mlp_steps=40,
    lenet_steps=5,
    resnet_steps=1,
    layer_repeats=2,
    roof_size=1024,
    accuracy=False,
)
