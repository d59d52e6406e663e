"""Per-channel standardization, fitted on the training images only.

Statistics come from the training split alone: fitting them on test images would leak
information about the test set into training. The fitted mean and standard deviation
travel with a checkpoint (:meth:`Standardizer.to_dict`) so that a reloaded model sees its
inputs scaled exactly as in training.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy

from nnott.errors import ConfigError

__all__ = ["Standardizer"]


class Standardizer:
    """``(pixel - mean[c]) / std[c]`` per channel ``c``, in pixel units (0..255 for uint8).

    >>> scaler = Standardizer.fit(data.train_images)
    >>> x_train = scaler.transform(data.train_images)   # float32, mean ~0, std ~1
    >>> x_test = scaler.transform(data.test_images)     # same statistics
    """

    def __init__(self, mean: list[float] | tuple[float, ...], std: list[float] | tuple[float, ...]):
        if len(mean) != len(std) or not mean:
            raise ConfigError("a Standardizer needs one mean and one std per channel")
        if any(not numpy.isfinite(value) or value <= 0.0 for value in std):
            raise ConfigError(f"standard deviations must be positive and finite, not {std}")
        self.mean = tuple(float(value) for value in mean)
        self.std = tuple(float(value) for value in std)

    @classmethod
    def fit(cls, images: numpy.ndarray) -> Standardizer:
        """Fit on training images ``(N, C, H, W)``; a constant channel gets std 1."""
        images = numpy.asarray(images)
        if images.ndim != 4 or len(images) == 0:
            raise ConfigError(f"fit a Standardizer on (N, C, H, W) images, not {images.shape}")
        pixels = images.astype(numpy.float64).transpose(1, 0, 2, 3).reshape(images.shape[1], -1)
        mean = pixels.mean(axis=1)
        std = pixels.std(axis=1)
        std[std == 0.0] = 1.0
        return cls(mean.tolist(), std.tolist())

    @property
    def num_channels(self) -> int:
        return len(self.mean)

    def _shaped(self, values: tuple[float, ...]) -> numpy.ndarray:
        return numpy.asarray(values, dtype=numpy.float32).reshape(1, -1, 1, 1)

    def _check(self, images: numpy.ndarray) -> None:
        if images.ndim != 4 or images.shape[1] != self.num_channels:
            raise ConfigError(
                f"images of shape {images.shape} do not match a Standardizer fitted on "
                f"{self.num_channels}-channel (N, C, H, W) images"
            )

    def transform(self, images: numpy.ndarray) -> numpy.ndarray:
        """Standardized float32 copy of ``images`` (host arrays in, host arrays out)."""
        images = numpy.asarray(images)
        self._check(images)
        scaled = images.astype(numpy.float32) - self._shaped(self.mean)
        scaled /= self._shaped(self.std)
        return scaled

    def inverse_transform(self, standardized: numpy.ndarray) -> numpy.ndarray:
        """Back to pixel units (float32), e.g. to plot standardized images."""
        standardized = numpy.asarray(standardized)
        self._check(standardized)
        return standardized.astype(numpy.float32) * self._shaped(self.std) + self._shaped(self.mean)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for checkpoint metadata."""
        return {"kind": "standardizer", "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> Standardizer:
        """Rebuild from :meth:`to_dict`'s output; :class:`ConfigError` if it is not one."""
        if not isinstance(state, Mapping) or state.get("kind") != "standardizer":
            raise ConfigError(f"not a saved Standardizer: {state!r:.120}")
        try:
            return cls(list(state["mean"]), list(state["std"]))
        except (KeyError, TypeError) as error:
            raise ConfigError(f"a saved Standardizer is incomplete ({error})") from None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Standardizer):
            return NotImplemented
        return self.mean == other.mean and self.std == other.std

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        mean = ", ".join(f"{value:.3f}" for value in self.mean)
        std = ", ".join(f"{value:.3f}" for value in self.std)
        return f"Standardizer(mean=[{mean}], std=[{std}])"
