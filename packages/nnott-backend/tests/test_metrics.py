"""nnott.metrics against hand-computed values, on the active device (cpu or emulated)."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest

from nnott import metrics
from nnott.backend import count_transfers, to_device, use_emulated
from nnott.metrics import (
    RunningMean,
    accuracy,
    classification_table,
    confusion_matrix,
    precision_recall,
)

# Three classes, five samples: true 0 0 1 1 2, predicted 0 0 2 1 1.
LABELS = np.array([0, 1, 1, 2, 0], dtype=np.int64)
PREDICTIONS = np.array([0, 2, 1, 1, 0], dtype=np.int64)
CONFUSION = np.array([[2, 0, 0], [0, 1, 1], [0, 1, 0]], dtype=np.int64)


def test_accuracy_of_class_indices() -> None:
    assert accuracy(to_device(PREDICTIONS), to_device(LABELS)) == pytest.approx(3 / 5)


def test_accuracy_argmaxes_logits_and_soft_targets() -> None:
    logits = np.array([[2.0, 0.1, 0.3], [0.0, -1.0, 0.5], [0.1, 0.9, 0.2], [3.0, 2.0, 1.0]])
    hard = np.array([0, 2, 0, 0])  # row 2 predicts 1, so 3 of 4 are right
    soft = np.array([[0.7, 0.3, 0.0], [0.0, 0.4, 0.6], [0.9, 0.1, 0.0], [0.5, 0.2, 0.3]])
    device_logits = to_device(logits.astype(np.float32))
    assert accuracy(device_logits, to_device(hard)) == pytest.approx(0.75)
    assert accuracy(device_logits, to_device(soft.astype(np.float32))) == pytest.approx(0.75)


def test_accuracy_accepts_host_labels_beside_device_scores() -> None:
    value = accuracy(to_device(PREDICTIONS), LABELS)
    assert isinstance(value, float)
    assert value == pytest.approx(0.6)


def test_accuracy_rejects_mismatched_or_empty_inputs() -> None:
    with pytest.raises(ValueError, match="5 predictions but 4 labels"):
        accuracy(PREDICTIONS, LABELS[:4])
    with pytest.raises(ValueError, match="zero samples"):
        accuracy(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))


def test_confusion_matrix_counts_true_rows_and_predicted_columns() -> None:
    table = confusion_matrix(to_device(PREDICTIONS), to_device(LABELS), num_classes=3)
    assert isinstance(table, np.ndarray)
    assert table.dtype == np.int64
    np.testing.assert_array_equal(table, CONFUSION)


def test_confusion_matrix_argmaxes_scores_and_keeps_empty_classes() -> None:
    scores = np.eye(4, dtype=np.float32)[[3, 3, 0]]  # predicts 3, 3, 0
    table = confusion_matrix(to_device(scores), to_device(np.array([3, 0, 0])), num_classes=4)
    expected = np.zeros((4, 4), dtype=np.int64)
    expected[3, 3] = expected[0, 3] = expected[0, 0] = 1
    np.testing.assert_array_equal(table, expected)


@pytest.mark.parametrize(
    ("predictions", "labels"), [([0, 3], [0, 1]), ([0, 1], [0, -1]), ([-1, 1], [1, 1])]
)
def test_confusion_matrix_refuses_classes_out_of_range(
    predictions: list[int], labels: list[int]
) -> None:
    with pytest.raises(ValueError, match=r"outside 0\.\.2"):
        confusion_matrix(to_device(np.array(predictions)), to_device(np.array(labels)), 3)


def test_metrics_copy_one_result_to_the_host_per_call() -> None:
    with use_emulated():
        predictions, labels = to_device(PREDICTIONS), to_device(LABELS)
        with count_transfers() as moved:
            accuracy(predictions, labels)
        assert (moved.to_cpu_count, moved.implicit_syncs) == (1, 0)
        with count_transfers() as moved:
            confusion_matrix(predictions, labels, 3)
        assert (moved.to_cpu_count, moved.implicit_syncs) == (1, 0)


def test_precision_and_recall_by_hand() -> None:
    precision, recall = precision_recall(CONFUSION)
    # Predicted columns total 2, 2, 1; true rows total 2, 2, 1; correct 2, 1, 0.
    np.testing.assert_allclose(precision, [1.0, 0.5, 0.0])
    np.testing.assert_allclose(recall, [1.0, 0.5, 0.0])


def test_precision_and_recall_are_zero_where_undefined() -> None:
    confusion = np.array([[3, 1, 0], [0, 0, 0], [1, 0, 0]])  # class 1 absent, 2 never predicted
    precision, recall = precision_recall(confusion)
    np.testing.assert_allclose(precision, [0.75, 0.0, 0.0])
    np.testing.assert_allclose(recall, [0.75, 0.0, 0.0])
    assert not np.isnan(precision).any() and not np.isnan(recall).any()


def test_classification_table_lists_each_class_and_the_overall_row() -> None:
    text = classification_table(CONFUSION, ["tee", "shirt", "coat"])
    lines = text.splitlines()
    assert lines[0].split() == ["class", "precision", "recall", "f1", "support"]
    assert lines[2].split() == ["tee", "1.0000", "1.0000", "1.0000", "2"]
    assert lines[3].split() == ["shirt", "0.5000", "0.5000", "0.5000", "2"]
    assert lines[4].split() == ["coat", "0.0000", "0.0000", "0.0000", "1"]
    # accuracy 3/5; macro F1 (1 + 0.5 + 0) / 3
    assert lines[5].split() == ["overall", "0.6000", "0.6000", "0.5000", "5"]
    with pytest.raises(ValueError, match="2 class names for a 3-class matrix"):
        classification_table(CONFUSION, ["a", "b"])


def test_running_mean_weights_by_count() -> None:
    mean = RunningMean()
    assert math.isnan(mean.value())
    mean.update(to_device(np.array(0.5, dtype=np.float32)), count=2)
    mean.update(to_device(np.array(2.0, dtype=np.float32)), count=1)
    mean.update(0.25, count=4)  # host numbers mix in too
    assert mean.count == 7
    assert mean.total() == pytest.approx(0.5 * 2 + 2.0 + 0.25 * 4)
    assert mean.value() == pytest.approx(4.0 / 7)
    mean.reset()
    assert mean.count == 0 and math.isnan(mean.value())


def test_running_mean_reads_the_device_once_per_value_not_per_update() -> None:
    with use_emulated():
        losses = [to_device(np.array(v, dtype=np.float32)) for v in (1.0, 2.0, 3.0, 4.0)]
        mean = RunningMean()
        with count_transfers() as during_updates:
            for loss in losses:
                mean.update(loss, count=8)
        with count_transfers() as reading:
            value = mean.value()
    assert (during_updates.to_cpu_count, during_updates.implicit_syncs) == (0, 0)
    assert (reading.to_cpu_count, reading.implicit_syncs) == (1, 0)
    assert value == pytest.approx(2.5)


def test_docstring_examples() -> None:
    assert doctest.testmod(metrics).failed == 0


def test_loss_diverged_draws_the_line_above_any_plausible_cross_entropy():
    from nnott.metrics import DIVERGED_LOSS, loss_diverged

    assert not loss_diverged(2.302585)  # chance for ten classes
    assert not loss_diverged(60.0)  # confidently wrong, yet a real result
    assert not loss_diverged(DIVERGED_LOSS)
    assert loss_diverged(DIVERGED_LOSS * 1.01)
    assert loss_diverged(1e72)
    assert loss_diverged(float("nan"))
    assert loss_diverged(float("inf"))
