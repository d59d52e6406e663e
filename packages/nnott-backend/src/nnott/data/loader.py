"""Mini-batches on the active device, shuffled reproducibly per epoch.

The images stay on the host; each batch is gathered there and crosses the bus once
(:func:`~nnott.backend.to_device`), which keeps device memory free for the model and makes
the host-to-device traffic of an epoch exactly "the batches". Shuffle order and
augmentation draws of an epoch come from :func:`nnott.backend.derive_rng` keyed by the
loader's seed and the epoch number, so a run resumed at epoch 7 sees the very batches an
uninterrupted run would have seen.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy

from nnott.backend import derive_rng, get_array_module, to_device
from nnott.errors import ConfigError, DatasetError

if TYPE_CHECKING:
    from nnott.data.augment import Augmentation

__all__ = ["DataLoader"]

SHUFFLE_STREAM = 0x5348  # "SH"
AUGMENT_STREAM = 0x4147  # "AG"


def _positive_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)) or value < 1:
        raise ConfigError(f"{what} must be a positive integer, not {value!r}")
    return int(value)


class DataLoader:
    """Iterate over ``(x, y)`` batches on the active device.

    ``x`` is float32 ``(B, C, H, W)``; ``y`` is int64 ``(B,)``, or float32 soft targets
    ``(B, K)`` when ``augment`` mixes labels (mixup, cutmix).

    Each pass over the loader uses epoch :attr:`epoch` and then advances it by one; call
    :meth:`set_epoch` to choose the epoch (the trainer does, every epoch, which is what
    makes resuming exact). The draws depend on ``seed``, the epoch and the global seed of
    :func:`nnott.backend.seed`.

    >>> loader = DataLoader(x_train, y_train, 64, shuffle=True, seed=0)
    >>> for epoch in range(3):
    ...     loader.set_epoch(epoch)
    ...     for x, y in loader:
    ...         ...
    """

    def __init__(
        self,
        images: numpy.ndarray,
        labels: numpy.ndarray,
        batch_size: int,
        *,
        shuffle: bool = False,
        seed: int = 0,
        drop_last: bool = False,
        augment: Augmentation | None = None,
        num_classes: int | None = None,
    ) -> None:
        for name, array in (("images", images), ("labels", labels)):
            if get_array_module(array) is not numpy or not isinstance(array, numpy.ndarray):
                raise ConfigError(
                    f"DataLoader takes the {name} as a host NumPy array (it moves each batch "
                    f"to the device itself), not {type(array).__name__}"
                )
        if images.ndim < 2 or labels.ndim != 1 or len(images) != len(labels):
            raise ConfigError(
                f"images {images.shape} and labels {labels.shape} do not pair up as "
                "(N, ...) and (N,)"
            )
        if not numpy.issubdtype(labels.dtype, numpy.integer):
            raise ConfigError(f"labels must be integers, not {labels.dtype}")
        if augment is not None and images.ndim != 4:
            raise ConfigError(f"augmentation needs (N, C, H, W) images, not {images.shape}")
        if augment is not None:
            augment.check_image_size(*images.shape[2:])
        self.batch_size = _positive_int(batch_size, "the batch size")
        self.num_classes = self._check_labels(labels, num_classes)
        self.images = images
        self.labels = labels.astype(numpy.int64, copy=False)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.augment = augment
        self._epoch = 0

    @staticmethod
    def _check_labels(labels: numpy.ndarray, num_classes: int | None) -> int:
        """Validate label range on the host: CuPy would wrap bad indices silently."""
        observed = int(labels.max()) + 1 if labels.size else 0
        if num_classes is None:
            num_classes = max(observed, 1)
        num_classes = _positive_int(num_classes, "num_classes")
        if labels.size and (int(labels.min()) < 0 or observed > num_classes):
            bad = int(labels.min()) if int(labels.min()) < 0 else observed - 1
            raise DatasetError(
                f"label {bad} is out of range for {num_classes} classes (0..{num_classes - 1})"
            )
        return num_classes

    @property
    def num_samples(self) -> int:
        """Samples in the dataset (an epoch uses ``len(self) * batch_size`` or all of them)."""
        return len(self.labels)

    @property
    def epoch(self) -> int:
        """The epoch the next pass over the loader will use."""
        return self._epoch

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose shuffle order and augmentation draws the next pass uses."""
        if isinstance(epoch, bool) or not isinstance(epoch, (int, numpy.integer)) or epoch < 0:
            raise ConfigError(f"an epoch must be a non-negative integer, not {epoch!r}")
        self._epoch = int(epoch)

    def __len__(self) -> int:
        if self.drop_last:
            return self.num_samples // self.batch_size
        return math.ceil(self.num_samples / self.batch_size)

    def order(self, epoch: int) -> numpy.ndarray:
        """The sample order of ``epoch`` (host indices)."""
        if not self.shuffle:
            return numpy.arange(self.num_samples)
        return derive_rng(SHUFFLE_STREAM, self.seed, epoch).permutation(self.num_samples)

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        epoch = self._epoch
        self._epoch += 1
        return self._batches(epoch)

    def _batches(self, epoch: int) -> Iterator[tuple[Any, Any]]:
        order = self.order(epoch)
        augment_rng = derive_rng(AUGMENT_STREAM, self.seed, epoch)
        for batch in range(len(self)):
            chosen = order[batch * self.batch_size : (batch + 1) * self.batch_size]
            x = to_device(self.images[chosen], dtype=numpy.float32)
            y = to_device(self.labels[chosen])
            if self.augment is not None:
                x, y = self.augment(x, y, augment_rng, self.num_classes)
            yield x, y

    def __repr__(self) -> str:
        return (
            f"DataLoader({self.num_samples} samples, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, augment={self.augment!r})"
        )
