"""Classification metrics computed where the data lives, read back once.

The functions accept NumPy arrays or device arrays (CuPy, or the emulated device in tests).
They do their work with the array module that owns the inputs
(:func:`nnott.backend.get_array_module`) and copy only the small result to the host: one
transfer per call, however many samples went in.

:class:`RunningMean` is for training loops: it keeps its running sum on the device, so
averaging a loss over an epoch costs one device-to-host copy per epoch, not one per batch
(every ``float(loss)`` in a loop on a GPU makes Python wait for the GPU).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy

from nnott.backend import get_array_module, to_cpu, to_device
from nnott.cli import format_table

__all__ = [
    "DIVERGED_LOSS",
    "RunningMean",
    "accuracy",
    "classification_table",
    "confusion_matrix",
    "loss_diverged",
    "precision_recall",
]

DIVERGED_LOSS = 1e4
"""A mean cross-entropy (nats per sample) above which training has diverged.

A loss of ``L`` nats means the true class's logit sits ``L`` below the largest one; a
network that guesses at chance scores ``ln(classes)`` (2.3 for ten classes), and even one
that is confidently wrong about every image stays within tens of nats. Ten thousand
nats only come from logits that exploded. The float32 tiers see such runs overflow to
infinity soon after; the scalar tier's Python floats (float64) would carry them on to
losses of 1e70 and more and report them as results.
"""


def loss_diverged(loss: float) -> bool:
    """True when ``loss`` is NaN, infinite or above :data:`DIVERGED_LOSS`."""
    return not math.isfinite(loss) or loss > DIVERGED_LOSS


def _same_module(*arrays: Any) -> tuple[Any, list[Any]]:
    """The array module owning any device array among ``arrays``, and all arrays on it.

    Host inputs (NumPy arrays, lists) that meet a device array are moved to the device;
    with no device array among them everything stays on the host.
    """
    module = get_array_module(*arrays)
    if module is numpy:
        return numpy, [numpy.asarray(array) for array in arrays]
    moved = [array if get_array_module(array) is module else to_device(array) for array in arrays]
    return module, moved


def _class_indices(values: Any) -> Any:
    """Class indices from labels (N,), or from logits, probabilities or soft targets (N, K)."""
    if values.ndim == 2:
        return values.argmax(axis=1)
    if values.ndim != 1:
        raise ValueError(f"expected class indices (N,) or scores (N, K), got shape {values.shape}")
    return values


def accuracy(predictions_or_logits: Any, labels: Any) -> float:
    """The share of samples whose predicted class equals the label, as a Python float.

    ``predictions_or_logits`` is class indices (N,) or scores (N, K), argmax'ed per row;
    ``labels`` is class indices (N,) or soft targets (N, K) such as mixup's.
    """
    module, (scores, targets) = _same_module(predictions_or_logits, labels)
    predicted, expected = _class_indices(scores), _class_indices(targets)
    if predicted.shape != expected.shape:
        raise ValueError(f"{predicted.shape[0]} predictions but {expected.shape[0]} labels")
    if predicted.shape[0] == 0:
        raise ValueError("the accuracy of zero samples is undefined")
    share = module.mean(predicted == expected)
    return float(to_cpu(share))


def confusion_matrix(predictions: Any, labels: Any, num_classes: int) -> numpy.ndarray:
    """Counts of (true class, predicted class) pairs: an int64 (K, K) host array, rows = true.

    ``predictions`` may also be scores (N, K), argmax'ed per row. Classes outside
    ``0 .. num_classes - 1`` raise ValueError (CuPy would silently wrap them around).
    """
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, not {num_classes}")
    module, (scores, targets) = _same_module(predictions, labels)
    predicted, expected = _class_indices(scores), _class_indices(targets)
    if predicted.shape != expected.shape:
        raise ValueError(f"{predicted.shape[0]} predictions but {expected.shape[0]} labels")
    predicted, expected = predicted.astype(module.int64), expected.astype(module.int64)
    valid = (
        (predicted >= 0) & (predicted < num_classes) & (expected >= 0) & (expected < num_classes)
    )
    # Pair (t, p) goes to bin t*K + p; every invalid pair to one extra bin at the end, so
    # that a single copy brings back both the counts and whether anything was out of range.
    outside = num_classes * num_classes
    bins = module.where(valid, expected * num_classes + predicted, outside)
    counts = to_cpu(module.bincount(bins, minlength=outside + 1))
    if counts[outside]:
        raise ValueError(
            f"{int(counts[outside])} predictions or labels lie outside 0..{num_classes - 1}"
        )
    return counts[:outside].reshape(num_classes, num_classes).astype(numpy.int64)


def precision_recall(confusion: Any) -> tuple[numpy.ndarray, numpy.ndarray]:
    """Per-class precision and recall (float64 host arrays) from a confusion matrix.

    Precision of class k: of the samples predicted k, the share truly k (column k).
    Recall of class k: of the samples truly k, the share predicted k (row k).
    Where a class was never predicted (or never present) the value is 0, not NaN.
    """
    # The K x K table is already small and on the host: plain NumPy is the right tool.
    table = numpy.asarray(to_cpu(confusion), dtype=numpy.float64)
    if table.ndim != 2 or table.shape[0] != table.shape[1]:
        raise ValueError(f"a confusion matrix is square (K, K), not {table.shape}")
    correct = numpy.diagonal(table)
    predicted_totals, true_totals = table.sum(axis=0), table.sum(axis=1)
    precision = numpy.divide(
        correct, predicted_totals, out=numpy.zeros_like(correct), where=predicted_totals > 0
    )
    recall = numpy.divide(
        correct, true_totals, out=numpy.zeros_like(correct), where=true_totals > 0
    )
    return precision, recall


def classification_table(confusion: Any, classes: Sequence[str]) -> str:
    """A per-class text table: precision, recall, F1 and support, then the overall accuracy.

    >>> print(classification_table([[8, 2], [1, 9]], ["cat", "dog"]))
    class    precision  recall      f1  support
    -------  ---------  ------  ------  -------
    cat         0.8889  0.8000  0.8421       10
    dog         0.8182  0.9000  0.8571       10
    overall     0.8500  0.8500  0.8496       20
    """
    table = numpy.asarray(to_cpu(confusion), dtype=numpy.int64)
    if len(classes) != table.shape[0]:
        raise ValueError(f"{len(classes)} class names for a {table.shape[0]}-class matrix")
    precision, recall = precision_recall(table)
    both = precision + recall
    f1 = numpy.divide(2.0 * precision * recall, both, out=numpy.zeros_like(both), where=both > 0)
    support = table.sum(axis=1)
    rows: list[list[object]] = [
        [name, float(p), float(r), float(f), int(s)]
        for name, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)
    ]
    total = int(support.sum())
    overall = float(numpy.trace(table)) / total if total else 0.0
    # The last row: accuracy (which equals micro-averaged precision and recall), macro F1.
    rows.append(["overall", overall, overall, float(f1.mean()), total])
    return format_table(rows, ["class", "precision", "recall", "f1", "support"])


class RunningMean:
    """A count-weighted mean accumulated on the device; read back once with :meth:`value`.

    Example::

        loss_mean = RunningMean()
        for x, y in loader:
            loss = criterion.forward(model.forward(x), y)   # a 0-d device array
            loss_mean.update(loss, count=len(y))              # no device-to-host copy
        loss_mean.value()                                     # one copy, a Python float

    ``update`` also accepts host numbers; those are summed on the host.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything seen so far (start of an epoch)."""
        self._device_sum: Any = None
        self._host_sum = 0.0
        self.count = 0

    def update(self, value: Any, count: int = 1) -> None:
        """Add ``value``, the mean over ``count`` samples, without reading the device."""
        if count < 0:
            raise ValueError(f"count must be non-negative, not {count}")
        module = get_array_module(value)
        if module is numpy:
            self._host_sum += float(value) * count
        else:
            # float64 keeps a sum over thousands of batches exact enough; it is one scalar.
            weighted = value.astype(module.float64) * count
            self._device_sum = weighted if self._device_sum is None else self._device_sum + weighted
        self.count += count

    def total(self) -> float:
        """The count-weighted sum (one device-to-host copy if anything came from a device)."""
        device_part = 0.0 if self._device_sum is None else float(to_cpu(self._device_sum))
        return self._host_sum + device_part

    def value(self) -> float:
        """The mean so far as a Python float (NaN before any update)."""
        if self.count == 0:
            return float("nan")
        return self.total() / self.count
