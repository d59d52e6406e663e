"""A stratified, seeded split of training data into training and validation parts."""

from __future__ import annotations

import numpy

from nnott.errors import ConfigError

__all__ = ["check_every_class_trains", "train_val_split"]

_SPLIT_STREAM = 0x53504C  # "SPL": keeps the split's draws apart from other seeded streams


def _validation_counts(class_sizes: numpy.ndarray, val_fraction: float) -> numpy.ndarray:
    """How many of each class go to validation: ``round(fraction * N)`` in total, shared
    out in proportion to class size (largest remainders first, ties to lower classes)."""
    total = round(float(val_fraction * class_sizes.sum()))
    if val_fraction > 0.0:
        total = max(total, 1)
    exact = val_fraction * class_sizes
    counts = numpy.floor(exact).astype(numpy.int64)
    by_remainder = numpy.argsort(-(exact - counts), kind="stable")
    counts[by_remainder[: total - counts.sum()]] += 1
    return numpy.minimum(counts, class_sizes)


def train_val_split(
    images: numpy.ndarray,
    labels: numpy.ndarray,
    val_fraction: float,
    *,
    seed: int,
) -> tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray, numpy.ndarray]:
    """``(train_images, train_labels, val_images, val_labels)``, stratified by class.

    Every class keeps its share in both parts, the draw depends on ``seed`` alone, and both
    parts keep the original order. ``val_fraction=0.0`` gives an empty validation part.
    """
    labels = numpy.asarray(labels)
    if len(images) != len(labels):
        raise ConfigError(f"{len(images)} images but {len(labels)} labels")
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigError(f"the validation fraction must be in [0, 1), not {val_fraction}")
    classes, class_of = numpy.unique(labels, return_inverse=True)
    counts = _validation_counts(numpy.bincount(class_of), val_fraction)
    generator = numpy.random.default_rng([_SPLIT_STREAM, seed])
    is_val = numpy.zeros(len(labels), dtype=bool)
    for index in range(len(classes)):
        members = numpy.flatnonzero(class_of == index)
        is_val[generator.permutation(members)[: counts[index]]] = True
    if is_val.all():
        raise ConfigError(
            f"a validation fraction of {val_fraction} leaves no training data "
            f"out of {len(labels)} samples"
        )
    return images[~is_val], labels[~is_val], images[is_val], labels[is_val]


def check_every_class_trains(
    train_labels: numpy.ndarray,
    classes: tuple[str, ...] | list[str],
    dataset_name: str,
    *,
    limit: int | None,
    val_split: float,
) -> None:
    """Refuse a training part that lacks a class (raises :class:`ConfigError`).

    A model could never learn to predict a class it never sees, and its test accuracy
    would be capped without a word. That happens when ``--limit`` is below the number of
    classes, or when the validation split takes the only images of a class (``--limit 10
    --val-split 0.1``). The message names the flag to change.
    """
    count = len(classes)
    seen = set(numpy.unique(numpy.asarray(train_labels)).tolist())
    missing = [index for index in range(count) if index not in seen]
    if not missing:
        return
    if limit is not None and limit < count:
        raise ConfigError(
            f"--limit {limit} is fewer than the {count} classes of {dataset_name}; "
            f"every class needs training images: give --limit {count} or more "
            "(more with --val-split)"
        )
    names = ", ".join(classes[index] for index in missing[:3])
    more = ", ..." if len(missing) > 3 else ""
    raise ConfigError(
        f"--val-split {val_split:g} leaves no training images of {len(missing)} of the "
        f"{count} classes ({names}{more}); give a larger --limit or a smaller --val-split"
    )
