"""Data augmentation for the scalar tier: the foundation's augmentations on Python lists.

The augmentations themselves live in :mod:`nnott.data.augment`, shared by all three tiers:
they work on image batches ``(B, C, H, W)``. The scalar tier keeps its samples as flat
lists of floats, so :class:`ListAugmentation` reshapes a batch into images on the host,
applies the augmentation there, and hands back lists, with class probabilities as targets
when mixup or cutmix mixed the labels. This is data preparation at the edge of the tier; the
network's arithmetic stays in plain Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy

from nnott.backend import derive_rng, use_device
from nnott.data.augment import Augmentation
from nnott.data.loader import AUGMENT_STREAM

__all__ = ["ListAugmentation"]


class ListAugmentation:
    """Apply an :class:`~nnott.data.augment.Augmentation` to batches of flat float lists.

    The draws of epoch ``e`` come from ``derive_rng(AUGMENT_STREAM, seed, e)``, the stream
    the other tiers' data loader uses, so a run with the same seed sees the same
    augmentations every time.
    """

    def __init__(
        self,
        augmentation: Augmentation,
        image_shape: tuple[int, int, int],
        num_classes: int,
        seed: int,
    ) -> None:
        augmentation.check_image_size(*image_shape[1:])  # before any training
        self.augmentation = augmentation
        self.image_shape = image_shape
        self.num_classes = num_classes
        self.seed = seed
        self._epoch: int | None = None
        self._rng: numpy.random.Generator | None = None

    def _generator(self, epoch: int) -> numpy.random.Generator:
        if self._rng is None or epoch != self._epoch:
            self._epoch, self._rng = epoch, derive_rng(AUGMENT_STREAM, self.seed, epoch)
        return self._rng

    def __call__(
        self, inputs: Sequence[Sequence[float]], labels: list[int], epoch: int
    ) -> tuple[list[list[float]], Any]:
        images = numpy.asarray(inputs, dtype=numpy.float32).reshape(-1, *self.image_shape)
        targets = numpy.asarray(labels, dtype=numpy.int64)
        with use_device("cpu"):  # pure-Python tier: the batch never leaves the host
            images, targets = self.augmentation(
                images, targets, self._generator(epoch), self.num_classes
            )
        flat = numpy.asarray(images, dtype=numpy.float64).reshape(len(labels), -1)
        return flat.tolist(), targets.tolist()

    def __repr__(self) -> str:
        return repr(self.augmentation)
