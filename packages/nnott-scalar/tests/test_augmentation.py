"""ListAugmentation: the foundation's augmentations applied to batches of flat lists."""

from __future__ import annotations

import math

import numpy
import pytest

from nnott.data.augment import parse_augment_spec
from nnott.scalar.augmentation import ListAugmentation
from nnott.scalar.network import Network
from nnott.scalar.optim import SGD
from nnott.scalar.training import train_epoch

SHAPE = (1, 4, 4)


def a_batch(size: int = 6) -> tuple[list[list[float]], list[int]]:
    generator = numpy.random.default_rng(0)
    return generator.normal(size=(size, 16)).tolist(), generator.integers(0, 3, size).tolist()


def test_same_seed_and_epoch_give_the_same_batch_and_another_epoch_another() -> None:
    inputs, labels = a_batch()
    spec = "shift:1@1,noise:0.5@1"
    first = ListAugmentation(parse_augment_spec(spec), SHAPE, 3, seed=4)(inputs, labels, 0)
    again = ListAugmentation(parse_augment_spec(spec), SHAPE, 3, seed=4)(inputs, labels, 0)
    other = ListAugmentation(parse_augment_spec(spec), SHAPE, 3, seed=4)(inputs, labels, 1)
    assert first == again
    assert first[0] != other[0]
    assert first[1] == labels  # no mixing: the labels stay class indices
    assert all(isinstance(value, float) for value in first[0][0]) and len(first[0][0]) == 16


def test_a_horizontal_flip_mirrors_each_row() -> None:
    inputs, labels = a_batch(2)
    flipped, _ = ListAugmentation(parse_augment_spec("hflip@1"), SHAPE, 3, seed=0)(
        inputs, labels, 0
    )
    image = numpy.asarray(inputs[0]).reshape(4, 4)
    numpy.testing.assert_allclose(numpy.asarray(flipped[0]).reshape(4, 4), image[:, ::-1])


def test_mixup_turns_labels_into_class_probabilities() -> None:
    augmentation = parse_augment_spec("")
    augmentation.mixup = parse_augment_spec("mixup:0.4").mixup
    inputs, labels = a_batch()
    _, targets = ListAugmentation(augmentation, SHAPE, 3, seed=1)(inputs, labels, 0)
    assert len(targets) == len(labels) and all(len(row) == 3 for row in targets)
    assert all(math.isclose(sum(row), 1.0, rel_tol=1e-6) for row in targets)


def test_an_epoch_trains_on_mixed_targets() -> None:
    augmentation = parse_augment_spec("cutmix:1.0")
    network = Network([16, 5, 3], ["relu"])
    inputs, labels = a_batch(12)
    stats = train_epoch(
        network,
        SGD(network, lr=0.1),
        inputs,
        labels,
        batch_size=4,
        augment=ListAugmentation(augmentation, SHAPE, 3, seed=0),
    )
    assert stats.samples == 12 and math.isfinite(stats.loss)
    assert 0.0 <= stats.accuracy <= 1.0


def test_mixed_targets_and_a_tracer_do_not_go_together() -> None:
    from nnott.errors import ConfigError
    from nnott.scalar.network import Gradients
    from nnott.scalar.trace import Tracer

    network = Network([16, 3], [])
    inputs, _ = a_batch(1)
    with pytest.raises(ConfigError, match="hard labels"):
        network.accumulate_gradients(
            inputs, [[0.5, 0.5, 0.0]], Gradients.zeros(network.layer_sizes), tracer=Tracer(1, 1)
        )
