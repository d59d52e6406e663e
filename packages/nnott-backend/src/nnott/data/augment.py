"""Data augmentation for image batches, on the active device, seeded and composable.

Every random number is drawn on the host from the NumPy ``Generator`` passed in (the
DataLoader derives one per epoch) and moved to the device, so a seed gives the same
augmented batches on the CPU and on the GPU. The image work itself runs through ``xp``
on whole batches: no Python loop over images or pixels.

Per-image ops, each applied to every image independently with its own ``probability``:

==============  ===================================================  =====================
name            what                                                 magnitude (default)
==============  ===================================================  =====================
``shift``       translate by whole pixels, edges repeated            max pixels (H/8),
                (``crop`` is an alias: pad-and-crop is the same)     below the side
``hflip``       mirror left-right (``flip`` is an alias)             --
``vflip``       mirror top-bottom                                    --
``rotate``      rotate about the centre, bilinear                    max degrees (15), <= 180
``shear``       shear along x and y, bilinear                        max shear (0.2), <= 1
``noise``       add Gaussian noise, clip to the image's own range    std (0.1), <= 10
``cutout``      zero a square (the mean, for standardized images)    side (H/4), below the side
``brightness``  add a multiple of the image's std                    max multiple (0.3), <= 1
``contrast``    scale about the image's mean                         max change (0.3), <= 1
==============  ===================================================  =====================

Every magnitude is above 0: a shift of 0 pixels or a rotation of 0 degrees would change
nothing. The upper limits are where an op stops making sense: a shear of 1 slants by 45
degrees, noise 10 times the pixels' spread leaves no image, and a contrast change above 1
could turn an image into its negative.

Batch-level label mixing: :class:`Mixup` and :class:`CutMix` (with both, each batch uses
one of them, chosen at random); their targets become float32 soft labels ``(B, K)`` that
sum to 1; their ``alpha`` is at most :data:`MAX_ALPHA`. :class:`RandAugment` gives each
image ``N`` ops from a fixed pool at magnitude ``M`` (0..30).

Spec strings (``--augment``) list ops as ``name[:magnitude][@probability]``, e.g.
``"shift:3,hflip,rotate:10@0.3,cutout"``; ``mixup:ALPHA``, ``cutmix:ALPHA`` and
``randaugment:N:M`` are accepted there too, each at most once. The default probability is
0.5 for the per-image ops and 1 for mixup, cutmix and RandAugment (whose ``@P`` is the
share of images that get their ``N`` ops).
"""

from __future__ import annotations

import argparse
import contextlib
import math
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import numpy

from nnott.backend import to_device, xp
from nnott.errors import ConfigError

__all__ = [
    "MAX_ALPHA",
    "OPS",
    "Augmentation",
    "Brightness",
    "Contrast",
    "CutMix",
    "Cutout",
    "GaussianNoise",
    "HorizontalFlip",
    "Mixup",
    "Op",
    "RandAugment",
    "Rotate",
    "Shear",
    "Shift",
    "VerticalFlip",
    "add_augmentation_arguments",
    "augmentation_from_args",
    "parse_augment_spec",
]

DEFAULT_PROBABILITY = 0.5

MAX_ALPHA = 100.0
"""The largest ``alpha`` of mixup and cutmix. Beyond it ``Beta(alpha, alpha)`` is 0.5
within a few percent, so that more changes nothing (and near the float limit NumPy's
sampler returns 0, which would not mix at all)."""


def _text(value: float) -> str:
    """A number as a message shows it: ``3``, ``0.25``, ``1e+308`` (never 309 digits)."""
    return f"{value:g}"


def _check_probability(probability: float) -> float:
    if not 0.0 <= probability <= 1.0:  # also refuses NaN
        raise ConfigError(f"a probability must be in [0, 1], not {_text(probability)}")
    return float(probability)


def _check_magnitude(
    value: float, what: str, maximum: float, why: str = "", *, unit: str = ""
) -> float:
    """``value`` as a float in (0, ``maximum``]; ``what`` names it in the message, ``why``
    (if given) says what makes a larger one senseless, ``unit`` follows the maximum."""
    if not 0.0 < value <= maximum:  # also refuses NaN
        limit = f"{_text(maximum)} {unit}".strip()
        reason = f" ({why})" if why else ""
        raise ConfigError(
            f"{what} must be more than 0 and at most {limit}{reason}, not {_text(value)}"
        )
    return float(value)


def _is_whole(value: object) -> bool:
    """True for an integer, or a float with no fraction (False for NaN and infinity)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, numpy.integer)):
        return True
    return isinstance(value, (float, numpy.floating)) and float(value).is_integer()


def _check_pixels(value: float, what: str, minimum: int) -> int:
    """``value`` as a whole number of pixels, at least ``minimum``."""
    if not _is_whole(value) or value < minimum:
        raise ConfigError(f"{what} takes a whole number of pixels, not {_text(value)}")
    return int(value)


def _per_image(values: numpy.ndarray) -> Any:
    """Host values, one per image, as a device array shaped to broadcast over (B, C, H, W)."""
    return to_device(numpy.asarray(values).reshape(-1, 1, 1, 1))


def _blend(x: Any, transformed: Any, chosen: numpy.ndarray) -> Any:
    """``transformed`` where ``chosen`` (host booleans, one per image), ``x`` elsewhere."""
    if chosen.all():
        return transformed
    return xp.where(_per_image(chosen), transformed, x)


def _affine_sample(x: Any, matrix: numpy.ndarray, offset: numpy.ndarray) -> Any:
    """Resample every image through its own affine map, bilinearly, repeating the edges.

    Output pixel ``(i, j)`` of image ``b`` reads the input at
    ``matrix[b] @ (j - cx, i - cy) + (cx, cy) + offset[b]`` (x first, then y), where
    ``(cx, cy)`` is the image centre. The identity map with whole-pixel offsets copies
    pixels exactly.
    """
    batch, channels, height, width = x.shape
    cy, cx = (height - 1) / 2.0, (width - 1) / 2.0
    a = to_device(matrix.astype(numpy.float32).reshape(batch, 4, 1, 1))
    t = to_device(offset.astype(numpy.float32).reshape(batch, 2, 1, 1))
    cols = xp.arange(width, dtype=xp.float32).reshape(1, width) - cx
    rows = xp.arange(height, dtype=xp.float32).reshape(height, 1) - cy
    source_x = a[:, 0] * cols + a[:, 1] * rows + (t[:, 0] + cx)  # (B, H, W)
    source_y = a[:, 2] * cols + a[:, 3] * rows + (t[:, 1] + cy)
    x0, y0 = xp.floor(source_x), xp.floor(source_y)
    wx = (source_x - x0).reshape(batch, 1, height, width)
    wy = (source_y - y0).reshape(batch, 1, height, width)
    flat = x.reshape(batch, channels, height * width)

    def gather(ys: Any, xs: Any) -> Any:
        row = xp.clip(ys, 0, height - 1).astype(xp.int64)
        col = xp.clip(xs, 0, width - 1).astype(xp.int64)
        index = (row * width + col).reshape(batch, 1, height * width)
        index = xp.broadcast_to(index, (batch, channels, height * width))
        return xp.take_along_axis(flat, index, axis=2).reshape(batch, channels, height, width)

    top = gather(y0, x0) * (1.0 - wx) + gather(y0, x0 + 1.0) * wx
    bottom = gather(y0 + 1.0, x0) * (1.0 - wx) + gather(y0 + 1.0, x0 + 1.0) * wx
    return top * (1.0 - wy) + bottom * wy


def _identity_matrices(batch: int) -> numpy.ndarray:
    return numpy.broadcast_to(numpy.eye(2), (batch, 2, 2)).copy()


def _box_mask(shape: tuple[int, ...], top: Any, bottom: Any, left: Any, right: Any) -> Any:
    """Device booleans ``(B, 1, H, W)``, True inside each image's box [top, bottom) x
    [left, right); the bounds are host integer arrays, one per image."""
    height, width = shape[2], shape[3]
    rows = xp.arange(height).reshape(1, 1, height, 1)
    cols = xp.arange(width).reshape(1, 1, 1, width)
    top, bottom, left, right = (_per_image(bound) for bound in (top, bottom, left, right))
    return (rows >= top) & (rows < bottom) & (cols >= left) & (cols < right)


# ------------------------------------------------------------------------------ ops


class Op:
    """One per-image augmentation, applied to each image with probability ``probability``.

    Subclasses implement :meth:`transform`, which changes every image of the batch (drawing
    its parameters from ``rng``); :meth:`__call__` keeps the untouched images exactly.
    """

    name: ClassVar[str] = ""

    def __init__(self, probability: float = DEFAULT_PROBABILITY) -> None:
        self.probability = _check_probability(probability)

    def __call__(self, x: Any, rng: numpy.random.Generator) -> Any:
        chosen = rng.random(x.shape[0]) < self.probability
        return self.apply(x, rng, chosen)

    def apply(self, x: Any, rng: numpy.random.Generator, chosen: numpy.ndarray) -> Any:
        """Transform the images where ``chosen`` (host booleans) and keep the others."""
        if not chosen.any():
            return x
        return _blend(x, self.transform(x, rng), chosen)

    def transform(self, x: Any, rng: numpy.random.Generator) -> Any:
        raise NotImplementedError

    def magnitude_text(self) -> str:
        return ""

    def check_fits(self, height: int, width: int) -> None:
        """Raise ConfigError when this op's magnitude makes no sense for such images (a
        cutout as big as the image leaves nothing to learn from). Most ops fit any size."""

    def __repr__(self) -> str:
        magnitude = self.magnitude_text()
        return f"{self.name}{':' + magnitude if magnitude else ''}@{self.probability:g}"


class Shift(Op):
    """Translate by up to ``max_pixels`` whole pixels in x and y (default: a side / 8)."""

    name = "shift"

    def __init__(
        self,
        max_pixels: int | None = None,
        probability: float = DEFAULT_PROBABILITY,
        *,
        axes: str = "xy",
    ) -> None:
        super().__init__(probability)
        # 0 is allowed here (RandAugment's identity-strength translate); specs refuse it.
        self.max_pixels = None if max_pixels is None else _check_pixels(max_pixels, "shift", 0)
        self.axes = axes

    def transform(self, x: Any, rng: numpy.random.Generator) -> Any:
        batch, _, height, _ = x.shape
        limit = self.max_pixels if self.max_pixels is not None else max(1, round(height / 8))
        offset = rng.integers(-limit, limit + 1, size=(batch, 2))
        offset[:, 0] *= "x" in self.axes
        offset[:, 1] *= "y" in self.axes
        return _affine_sample(x, _identity_matrices(batch), offset)

    def magnitude_text(self) -> str:
        return "" if self.max_pixels is None else str(self.max_pixels)

    def check_fits(self, height: int, width: int) -> None:
        if self.max_pixels is not None and self.max_pixels >= min(height, width):
            raise ConfigError(
                f"shift:{_text(self.max_pixels)} would move {height}x{width} images entirely out "
                f"of view; give fewer than {min(height, width)} pixels"
            )


class HorizontalFlip(Op):
    """Mirror left-right."""

    name = "hflip"

    def transform(self, x: Any, rng: numpy.random.Generator) -> Any:
        return x[..., ::-1]


class VerticalFlip(Op):
    """Mirror top-bottom."""

    name = "vflip"

    def transform(self, x: Any, rng: numpy.random.Generator) -> Any:
        return x[..., ::-1, :]


class Rotate(Op):
    """Rotate about the centre by an angle uniform in ``[-max_degrees, max_degrees]``."""

    name = "rotate"

    def __init__(self, max_degrees: float = 15.0, probability: float = DEFAULT_PROBABILITY):
        super().__init__(probability)
        self.max_degrees = _check_magnitude(
            max_degrees,
            "the rotation angle",
            180.0,
            "-180 to 180 is every rotation",
            unit="degrees",
        )

    def transform(self, x: Any, rng: numpy.random.Generator) -> Any:
        batch = x.shape[0]
        angle = numpy.deg2rad(rng.uniform(-self.max_degrees, self.max_degrees, size=batch))
        cos, sin = numpy.cos(angle), numpy.sin(angle)
        inverse = numpy.stack([cos, sin, -sin, cos], axis=1).reshape(batch, 2, 2)
        return _affine_sample(x, inverse, numpy.zeros((batch, 2)))

    def magnitude_text(self) -> str:
        return f"{self.max_degrees:g}"


class Shear(Op):
    """Shear by factors uniform in ``[-max_shear, max_shear]`` along the given axes."""

    name = "shear"

    def __init__(
        self,
        max_shear: float = 0.2,
        probability: float = DEFAULT_PROBABILITY,
        *,
        axes: str = "xy",
    ) -> None:
        super().__init__(probability)
        self.max_shear = _check_magnitude(
            max_shear, "the shear factor", 1.0, "a shear of 1 slants by 45 degrees"
        )
        self.axes = axes

    def transform(self, x: Any, rng: numpy.random.Generator) -> Any:
        batch = x.shape[0]
        factors = rng.uniform(-self.max_shear, self.max_shear, size=(batch, 2))
        matrix = _identity_matrices(batch)
        matrix[:, 0, 1] = factors[:, 0] * ("x" in self.axes)
        matrix[:, 1, 0] = factors[:, 1] * ("y" in self.axes)
        return _affine_sample(x, matrix, numpy.zeros((batch, 2)))

    def magnitude_text(self) -> str:
        return f"{self.max_shear:g}"


class GaussianNoise(Op):
    """Add noise of standard deviation ``std``, clipped to each image's own value range."""

    name = "noise"

    def __init__(self, std: float = 0.1, probability: float = DEFAULT_PROBABILITY):
        super().__init__(probability)
        self.std = _check_magnitude(
            std, "the noise level", 10.0, "ten times the pixels' spread leaves no image"
        )

    def transform(self, x: Any, rng: numpy.random.Generator) -> Any:
        noise = to_device(rng.standard_normal(x.shape, dtype=numpy.float32))
        low = xp.min(x, axis=(1, 2, 3), keepdims=True)
        high = xp.max(x, axis=(1, 2, 3), keepdims=True)
        return xp.clip(x + self.std * noise, low, high)

    def magnitude_text(self) -> str:
        return f"{self.std:g}"


class Cutout(Op):
    """Set a ``size`` x ``size`` square at a random centre to 0 (default side: H / 4).

    For standardized images 0 is the training mean, as in the Cutout paper.
    """

    name = "cutout"

    def __init__(self, size: int | None = None, probability: float = DEFAULT_PROBABILITY):
        super().__init__(probability)
        self.size = None if size is None else _check_pixels(size, "cutout", 1)

    def transform(self, x: Any, rng: numpy.random.Generator) -> Any:
        batch, _, height, width = x.shape
        side = self.size if self.size is not None else max(1, round(height / 4))
        centre_y = rng.integers(0, height, size=batch)
        centre_x = rng.integers(0, width, size=batch)
        top, left = centre_y - side // 2, centre_x - side // 2
        inside = _box_mask(x.shape, top, top + side, left, left + side)
        return xp.where(inside, 0.0, x)

    def magnitude_text(self) -> str:
        return "" if self.size is None else str(self.size)

    def check_fits(self, height: int, width: int) -> None:
        if self.size is not None and self.size >= min(height, width):
            raise ConfigError(
                f"cutout:{_text(self.size)} would blank whole {height}x{width} images; give a "
                f"side below {min(height, width)} (the default is a quarter: "
                f"{max(1, round(height / 4))})"
            )


class Brightness(Op):
    """Add ``u * std(image)`` with ``u`` uniform in ``[-max_delta, max_delta]``."""

    name = "brightness"

    def __init__(self, max_delta: float = 0.3, probability: float = DEFAULT_PROBABILITY):
        super().__init__(probability)
        self.max_delta = _check_magnitude(
            max_delta, "the brightness change", 1.0, "a multiple of the image's own spread"
        )

    def transform(self, x: Any, rng: numpy.random.Generator) -> Any:
        delta = rng.uniform(-self.max_delta, self.max_delta, size=x.shape[0])
        spread = xp.std(x, axis=(1, 2, 3), keepdims=True)
        return x + _per_image(delta.astype(numpy.float32)) * spread

    def magnitude_text(self) -> str:
        return f"{self.max_delta:g}"


class Contrast(Op):
    """Scale about the image's mean by ``1 + u``, ``u`` uniform in ``[-max_change, max_change]``."""

    name = "contrast"

    def __init__(self, max_change: float = 0.3, probability: float = DEFAULT_PROBABILITY):
        super().__init__(probability)
        self.max_change = _check_magnitude(
            max_change, "the contrast change", 1.0, "beyond 1 an image can turn into its negative"
        )

    def transform(self, x: Any, rng: numpy.random.Generator) -> Any:
        factor = 1.0 + rng.uniform(-self.max_change, self.max_change, size=x.shape[0])
        mean = xp.mean(x, axis=(1, 2, 3), keepdims=True)
        return (x - mean) * _per_image(factor.astype(numpy.float32)) + mean

    def magnitude_text(self) -> str:
        return f"{self.max_change:g}"


# ---------------------------------------------------------------------- RandAugment


class RandAugment:
    """Each image gets ``num_ops`` distinct ops from a fixed pool, at magnitude ``M``.

    ``magnitude`` runs from 0 to 30 as in torchvision; an op's strength is drawn uniformly
    up to the magnitude's share of its maximum (30 degrees of rotation, 0.3 shear, 45% of
    the side in translation, ±0.9 in brightness and contrast). The chosen ops act in the
    pool's order: identity, translate-x, translate-y, rotate, shear-x, shear-y, brightness,
    contrast. With ``probability`` < 1 only that share of the images (drawn per image) gets
    its ops; the others pass unchanged.
    """

    MAX_MAGNITUDE = 30

    def __init__(self, num_ops: int = 2, magnitude: int = 9, probability: float = 1.0) -> None:
        if not _is_whole(num_ops) or num_ops < 1:
            raise ConfigError(
                f"RandAugment needs a positive whole number of ops, not {_text(num_ops)}"
            )
        if not 0 <= magnitude <= self.MAX_MAGNITUDE:  # also refuses NaN
            raise ConfigError(f"RandAugment's magnitude must be in 0..30, not {_text(magnitude)}")
        self.num_ops = int(num_ops)
        self.magnitude = magnitude
        self.probability = _check_probability(probability)
        self._pool_size = len(self._pool(28))
        if self.num_ops > self._pool_size:
            raise ConfigError(
                f"RandAugment has {self._pool_size} ops; cannot pick {_text(num_ops)}"
            )

    def _pool(self, height: int) -> list[Op | None]:
        level = self.magnitude / self.MAX_MAGNITUDE
        small = 1e-6  # magnitude 0 still builds valid (near-identity) ops
        pixels = round(0.45 * level * height)
        return [
            None,  # identity
            Shift(pixels, 1.0, axes="x"),
            Shift(pixels, 1.0, axes="y"),
            Rotate(max(30.0 * level, small), 1.0),
            Shear(max(0.3 * level, small), 1.0, axes="x"),
            Shear(max(0.3 * level, small), 1.0, axes="y"),
            Brightness(max(0.9 * level, small), 1.0),
            Contrast(max(0.9 * level, small), 1.0),
        ]

    def __call__(self, x: Any, rng: numpy.random.Generator) -> Any:
        pool = self._pool(x.shape[2])
        picks = rng.random((x.shape[0], len(pool))).argsort(axis=1)[:, : self.num_ops]
        if self.probability < 1.0:  # (drawn only then: probability 1 keeps the old stream)
            picks[rng.random(x.shape[0]) >= self.probability] = -1  # no op for these
        for index, op in enumerate(pool):
            chosen = (picks == index).any(axis=1)
            if op is not None:
                x = op.apply(x, rng, chosen)
        return x

    def __repr__(self) -> str:
        chance = f"@{self.probability:g}" if self.probability < 1.0 else ""
        return f"randaugment:{self.num_ops}:{self.magnitude}{chance}"


# ------------------------------------------------------------------- label mixing


class Mixup:
    """Blend pairs of images and their labels with ``lambda ~ Beta(alpha, alpha)``.

    Each image is paired with another of the batch (a random permutation) and gets its own
    lambda; with ``probability`` < 1 the others keep lambda = 1 (unchanged).
    """

    name = "mixup"

    def __init__(self, alpha: float = 0.2, probability: float = 1.0) -> None:
        self.alpha = _check_magnitude(alpha, "mixup's alpha", MAX_ALPHA)
        self.probability = _check_probability(probability)

    def __call__(self, x: Any, y: Any, rng: numpy.random.Generator) -> tuple[Any, Any]:
        batch = x.shape[0]
        lam = rng.beta(self.alpha, self.alpha, size=batch)
        lam[rng.random(batch) >= self.probability] = 1.0
        partner = to_device(rng.permutation(batch))
        lam_device = _per_image(lam.astype(numpy.float32))
        mixed_x = lam_device * x + (1.0 - lam_device) * x[partner]
        lam_y = lam_device.reshape(batch, 1)
        return mixed_x, lam_y * y + (1.0 - lam_y) * y[partner]

    def __repr__(self) -> str:
        return f"mixup:{self.alpha:g}"


class CutMix:
    """Paste a box from a partner image; labels mix in proportion to the pasted area.

    The box covers ``1 - lambda`` of the image, ``lambda ~ Beta(alpha, alpha)``, at a random
    centre; clipped at the borders, with lambda recomputed from the area actually pasted.
    """

    name = "cutmix"

    def __init__(self, alpha: float = 1.0, probability: float = 1.0) -> None:
        self.alpha = _check_magnitude(alpha, "cutmix's alpha", MAX_ALPHA)
        self.probability = _check_probability(probability)

    def __call__(self, x: Any, y: Any, rng: numpy.random.Generator) -> tuple[Any, Any]:
        batch, _, height, width = x.shape
        lam = rng.beta(self.alpha, self.alpha, size=batch)
        lam[rng.random(batch) >= self.probability] = 1.0
        ratio = numpy.sqrt(1.0 - lam)
        box_h, box_w = numpy.round(height * ratio), numpy.round(width * ratio)
        centre_y = rng.integers(0, height, size=batch)
        centre_x = rng.integers(0, width, size=batch)
        top = numpy.clip(centre_y - box_h // 2, 0, height).astype(numpy.int64)
        bottom = numpy.clip(centre_y - box_h // 2 + box_h, 0, height).astype(numpy.int64)
        left = numpy.clip(centre_x - box_w // 2, 0, width).astype(numpy.int64)
        right = numpy.clip(centre_x - box_w // 2 + box_w, 0, width).astype(numpy.int64)
        kept = 1.0 - (bottom - top) * (right - left) / (height * width)
        partner = to_device(rng.permutation(batch))
        inside = _box_mask(x.shape, top, bottom, left, right)
        mixed_x = xp.where(inside, x[partner], x)
        lam_y = to_device(kept.astype(numpy.float32).reshape(batch, 1))
        return mixed_x, lam_y * y + (1.0 - lam_y) * y[partner]

    def __repr__(self) -> str:
        return f"cutmix:{self.alpha:g}"


# ------------------------------------------------------------------- composition


class Augmentation:
    """RandAugment (if any), then the per-image ops in order, then label mixing (if any).

    Call it as ``x, y = augmentation(x, y, rng, num_classes)`` with device batches ``x``
    (float32 ``(B, C, H, W)``) and ``y`` (int64 ``(B,)``). When it mixes labels, ``y``
    comes back as float32 soft targets ``(B, K)`` for every batch, mixed or not.
    """

    def __init__(
        self,
        ops: Sequence[Op] = (),
        *,
        mixup: Mixup | None = None,
        cutmix: CutMix | None = None,
        randaugment: RandAugment | None = None,
    ) -> None:
        self.ops = tuple(ops)
        self.mixup = mixup
        self.cutmix = cutmix
        self.randaugment = randaugment

    @property
    def mixes_labels(self) -> bool:
        """True when targets come out as soft labels ``(B, K)``."""
        return self.mixup is not None or self.cutmix is not None

    def __bool__(self) -> bool:
        return bool(self.ops) or self.mixes_labels or self.randaugment is not None

    def check_image_size(self, height: int, width: int) -> None:
        """Raise ConfigError, before any training, for an op too big for such images."""
        for op in self.ops:
            op.check_fits(height, width)

    def __call__(
        self, x: Any, y: Any, rng: numpy.random.Generator, num_classes: int
    ) -> tuple[Any, Any]:
        if len(x.shape) != 4:
            raise ConfigError(f"augmentation needs (B, C, H, W) images, not {tuple(x.shape)}")
        if self.randaugment is not None:
            x = self.randaugment(x, rng)
        for op in self.ops:
            x = op(x, rng)
        if not self.mixes_labels:
            return x, y
        if len(y.shape) == 1:
            y = xp.eye(num_classes, dtype=xp.float32)[y]
        mixers = [mixer for mixer in (self.mixup, self.cutmix) if mixer is not None]
        mixer = mixers[int(rng.integers(len(mixers)))] if len(mixers) > 1 else mixers[0]
        return mixer(x, y, rng)

    def __repr__(self) -> str:
        parts = [repr(part) for part in (self.randaugment, *self.ops) if part is not None]
        parts += [repr(mixer) for mixer in (self.mixup, self.cutmix) if mixer is not None]
        return f"Augmentation({','.join(parts) or 'none'})"


# ------------------------------------------------------------------- spec strings

OPS: dict[str, type[Op]] = {
    "shift": Shift,
    "crop": Shift,
    "translate": Shift,
    "hflip": HorizontalFlip,
    "flip": HorizontalFlip,
    "vflip": VerticalFlip,
    "rotate": Rotate,
    "shear": Shear,
    "noise": GaussianNoise,
    "cutout": Cutout,
    "brightness": Brightness,
    "contrast": Contrast,
}
_WHOLE_PIXEL_OPS = (Shift, Cutout)
_MIXERS = {"mixup": Mixup, "cutmix": CutMix}
_KNOWN = ", ".join([*OPS, *_MIXERS, "randaugment"])


@contextlib.contextmanager
def _about(item: str) -> Iterator[None]:
    """Name the spec ``item`` in the ConfigError of the op it builds (a probability or a
    magnitude out of range), so that the user sees which part of the list is wrong."""
    try:
        yield
    except ConfigError as error:
        raise ConfigError(f"augmentation {item!r}: {error}") from None


def _number(text: str, item: str) -> float:
    """A finite number from a spec item (``inf`` and ``nan`` parse as floats, but are no
    magnitude or probability)."""
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"augmentation {item!r}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ConfigError(f"augmentation {item!r}: {text!r} is not a finite number")
    return value


def _whole_number(text: str, item: str) -> int:
    """A whole number from a spec item (``2`` or ``2.0``, not ``2.5``)."""
    value = _number(text, item)
    if not value.is_integer():
        raise ConfigError(f"augmentation {item!r}: {text!r} is not a whole number")
    return int(value)


def _spec_items(spec: str) -> list[str]:
    """The items of a comma-separated spec. ``""`` and ``"none"`` have none; an empty item
    (``"shift,"``, ``"shift,,hflip"``) is refused, as in every other list flag."""
    if not spec.strip():
        return []
    items = [item.strip() for item in spec.split(",")]
    if not all(items):
        raise ConfigError(
            f"augmentation list {spec!r} has an empty item; separate the ops by commas"
        )
    return [item for item in items if item.lower() != "none"]


def _split_item(item: str) -> tuple[str, list[str], float | None]:
    """``"rotate:10@0.3"`` -> ``("rotate", ["10"], 0.3)``; no ``@`` gives None."""
    body, at, probability_text = item.partition("@")
    name, *arguments = body.strip().lower().split(":")
    if at and not probability_text.strip():
        raise ConfigError(f"augmentation {item!r}: give a probability after '@', such as @0.5")
    probability = _number(probability_text, item) if at else None
    return name.strip(), arguments, probability


def _magnitude(op_class: type[Op], arguments: list[str], item: str) -> list[Any]:
    """The op's magnitude as a one-element argument list (empty for its default).

    A magnitude is above 0 (0 would change nothing) and a whole number for the ops that
    move or blank whole pixels; each op checks its own upper limit.
    """
    if len(arguments) > 1:
        raise ConfigError(f"augmentation {item!r}: takes at most one magnitude")
    if not arguments:
        return []
    if op_class in (HorizontalFlip, VerticalFlip):
        raise ConfigError(f"augmentation {item!r}: a flip takes no magnitude")
    value = _number(arguments[0], item)
    if value <= 0.0:
        raise ConfigError(
            f"augmentation {item!r}: the magnitude must be more than 0, not {arguments[0]}"
        )
    if op_class in _WHOLE_PIXEL_OPS:
        return [_whole_number(arguments[0], item)]
    return [value]


def _randaugment(arguments: list[str], probability: float | None, item: str) -> RandAugment:
    if len(arguments) != 2:
        raise ConfigError(f"augmentation {item!r}: write randaugment:N:M, e.g. randaugment:2:9")
    num_ops, magnitude = (_whole_number(argument, item) for argument in arguments)
    with _about(item):
        return RandAugment(num_ops, magnitude, 1.0 if probability is None else probability)


def _mixer(name: str, arguments: list[str], probability: float | None, item: str) -> Any:
    if len(arguments) > 1:
        raise ConfigError(f"augmentation {item!r}: write {name}:ALPHA")
    options: dict[str, float] = {"probability": 1.0 if probability is None else probability}
    if arguments:
        options["alpha"] = _number(arguments[0], item)
    with _about(item):
        return _MIXERS[name](**options)


def parse_augment_spec(spec: str) -> Augmentation:
    """Build an :class:`Augmentation` from ``"name[:magnitude][@probability],..."``.

    Unknown names raise :class:`ConfigError` listing the known ones, and so do magnitudes
    and probabilities out of range, empty items, and ``mixup``, ``cutmix`` or
    ``randaugment`` given twice. ``""`` and ``"none"`` give an augmentation that changes
    nothing. Per-image ops may repeat (``shift,shift`` shifts twice, with two draws).
    """
    ops: list[Op] = []
    extras: dict[str, Any] = {}
    for item in _spec_items(spec):
        name, arguments, probability = _split_item(item)
        if name in extras:
            raise ConfigError(f"augmentation {item!r}: {name} is given twice; give it once")
        if name == "randaugment":
            extras[name] = _randaugment(arguments, probability, item)
        elif name in _MIXERS:
            extras[name] = _mixer(name, arguments, probability, item)
        elif name in OPS:
            op_class: Any = OPS[name]  # each op takes its own magnitude first
            magnitude = _magnitude(op_class, arguments, item)
            chance = DEFAULT_PROBABILITY if probability is None else probability
            with _about(item):
                ops.append(op_class(*magnitude, probability=chance))
        elif not name:
            raise ConfigError(f"augmentation {item!r} names no op; known: {_KNOWN}")
        else:
            raise ConfigError(f"unknown augmentation {name!r}; known: {_KNOWN}")
    return Augmentation(ops, **extras)


# ------------------------------------------------------------------- command lines


def _spec_argument(text: str) -> str:
    try:
        parse_augment_spec(text)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _alpha_argument(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 < value <= MAX_ALPHA:  # also refuses NaN; infinity is above the maximum
        raise argparse.ArgumentTypeError(
            f"alpha must be more than 0 and at most {MAX_ALPHA:g}, not {text}"
        )
    return value


def _randaugment_argument(text: str) -> str:
    parts = text.replace(":", ",").split(",")
    try:
        num_ops, magnitude = (int(part) for part in parts)
    except ValueError:  # not two parts, or not whole numbers
        raise argparse.ArgumentTypeError(f"write N,M (two whole numbers), not {text!r}") from None
    try:
        RandAugment(num_ops, magnitude)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return f"{num_ops},{magnitude}"


def add_augmentation_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--augment LIST``, ``--mixup ALPHA``, ``--cutmix ALPHA``, ``--randaugment N,M``."""
    group = parser.add_argument_group(
        "augmentation (training batches only; applied on the device, seeded by --seed)"
    )
    group.add_argument(
        "--augment",
        type=_spec_argument,
        default=None,
        metavar="LIST",
        help=(
            "comma-separated ops, each name[:magnitude][@probability] (probability "
            "defaults to 0.5; a magnitude is above 0): shift[:pixels] (alias crop), "
            "hflip (alias flip), vflip, rotate[:degrees=15, at most 180], "
            "shear[:factor=0.2, at most 1], noise[:std=0.1, at most 10], cutout[:side], "
            "brightness[:0.3, at most 1], contrast[:0.3, at most 1]; also mixup:ALPHA, "
            "cutmix:ALPHA and randaugment:N:M (probability 1 unless @P); "
            "e.g. 'shift:2,hflip,cutout@0.3'"
        ),
    )
    group.add_argument(
        "--mixup",
        type=_alpha_argument,
        default=None,
        metavar="ALPHA",
        help=f"mixup with lambda ~ Beta(ALPHA, ALPHA), ALPHA in (0, {MAX_ALPHA:g}], e.g. 0.2 "
        "(targets become soft labels)",
    )
    group.add_argument(
        "--cutmix",
        type=_alpha_argument,
        default=None,
        metavar="ALPHA",
        help=f"cutmix with lambda ~ Beta(ALPHA, ALPHA), ALPHA in (0, {MAX_ALPHA:g}], e.g. 1.0 "
        "(with --mixup: one of the two per batch)",
    )
    group.add_argument(
        "--randaugment",
        type=_randaugment_argument,
        default=None,
        metavar="N,M",
        help="RandAugment: N ops per image (1 to 8) at magnitude M in 0..30, e.g. 2,9",
    )


def _set_once(augmentation: Augmentation, name: str, value: Any) -> None:
    """Set the ``--mixup``/``--cutmix``/``--randaugment`` part of ``augmentation``, refusing
    one that ``--augment`` sets too (one of the two would be ignored without a word)."""
    if getattr(augmentation, name) is not None:
        raise ConfigError(
            f"--{name} and {name} in --augment set the same thing; give only one of them"
        )
    setattr(augmentation, name, value)


def augmentation_from_args(args: argparse.Namespace) -> Augmentation | None:
    """The augmentation the flags of :func:`add_augmentation_arguments` ask for, or None.

    Raises :class:`ConfigError` when ``--mixup``, ``--cutmix`` or ``--randaugment`` is
    given both as a flag and inside ``--augment``.
    """
    augmentation = parse_augment_spec(getattr(args, "augment", None) or "")
    mixup = getattr(args, "mixup", None)
    cutmix = getattr(args, "cutmix", None)
    randaugment = getattr(args, "randaugment", None)
    if mixup is not None:
        _set_once(augmentation, "mixup", Mixup(mixup))
    if cutmix is not None:
        _set_once(augmentation, "cutmix", CutMix(cutmix))
    if randaugment is not None:
        num_ops, magnitude = (int(part) for part in str(randaugment).split(","))
        _set_once(augmentation, "randaugment", RandAugment(num_ops, magnitude))
    return augmentation if augmentation else None
