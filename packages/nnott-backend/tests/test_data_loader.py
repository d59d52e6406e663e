"""DataLoader: every sample once per epoch, reproducible per (seed, epoch), device batches."""

from __future__ import annotations

import numpy
import pytest

from nnott.backend import count_transfers, get_array_module, to_cpu, use_emulated
from nnott.backend.emulated import emulated_module
from nnott.data import DataLoader
from nnott.data.augment import Augmentation, HorizontalFlip, Mixup
from nnott.errors import ConfigError, DatasetError


def _data(count: int = 23, classes: int = 3) -> tuple[numpy.ndarray, numpy.ndarray]:
    images = numpy.arange(count, dtype=numpy.float32).reshape(count, 1, 1, 1)
    images = numpy.broadcast_to(images, (count, 1, 2, 2)).copy()
    return images, numpy.arange(count, dtype=numpy.int64) % classes


def _epoch(loader: DataLoader) -> tuple[list[int], list[int]]:
    ids, labels = [], []
    for x, y in loader:
        ids += to_cpu(x)[:, 0, 0, 0].astype(int).tolist()
        labels += to_cpu(y).tolist()
    return ids, labels


@pytest.mark.parametrize("shuffle", [False, True])
def test_every_sample_once_per_epoch(shuffle: bool) -> None:
    images, labels = _data()
    loader = DataLoader(images, labels, 5, shuffle=shuffle, seed=3)
    assert len(loader) == 5 and loader.num_samples == 23
    ids, seen_labels = _epoch(loader)
    assert sorted(ids) == list(range(23))
    assert seen_labels == [i % 3 for i in ids]  # images keep their labels
    assert (ids == list(range(23))) != shuffle


def test_batch_shapes_dtypes_and_drop_last() -> None:
    images, labels = _data()
    batches = list(DataLoader(images, labels, 5, drop_last=True))
    assert len(batches) == 4 == len(DataLoader(images, labels, 5, drop_last=True))
    for x, y in batches:
        assert x.shape == (5, 1, 2, 2) and x.dtype == numpy.float32
        assert y.shape == (5,) and y.dtype == numpy.int64
    last_x, _ = list(DataLoader(images, labels, 5))[-1]
    assert last_x.shape[0] == 3


def test_reproducible_per_seed_and_epoch() -> None:
    images, labels = _data(40)
    first = DataLoader(images, labels, 8, shuffle=True, seed=1)
    second = DataLoader(images, labels, 8, shuffle=True, seed=1)
    epochs_first = [_epoch(first)[0] for _ in range(3)]  # epochs 0, 1, 2 (auto-advance)
    second.set_epoch(2)  # as after resuming at epoch 2
    assert _epoch(second)[0] == epochs_first[2]
    assert epochs_first[0] != epochs_first[1]
    other_seed = DataLoader(images, labels, 8, shuffle=True, seed=2)
    assert _epoch(other_seed)[0] != epochs_first[0]
    second.set_epoch(0)
    assert second.epoch == 0 and _epoch(second)[0] == epochs_first[0] and second.epoch == 1


def test_augmentation_is_reproducible_per_epoch() -> None:
    images = numpy.random.default_rng(0).standard_normal((12, 1, 3, 3)).astype(numpy.float32)
    labels = numpy.arange(12) % 2
    augment = Augmentation([HorizontalFlip(0.5)], mixup=Mixup(0.4))
    loader = DataLoader(images, labels, 4, shuffle=True, seed=5, augment=augment, num_classes=2)
    loader.set_epoch(4)
    run_one = [(to_cpu(x), to_cpu(y)) for x, y in loader]
    loader.set_epoch(4)
    run_two = [(to_cpu(x), to_cpu(y)) for x, y in loader]
    for (x1, y1), (x2, y2) in zip(run_one, run_two, strict=True):
        numpy.testing.assert_array_equal(x1, x2)
        numpy.testing.assert_array_equal(y1, y2)
        assert y1.shape == (4, 2) and y1.dtype == numpy.float32  # soft targets
        numpy.testing.assert_allclose(y1.sum(axis=1), 1.0, rtol=1e-6)


def test_batches_are_device_arrays_moved_once_each() -> None:
    images, labels = _data(20)
    with use_emulated():
        loader = DataLoader(images, labels, 8, shuffle=True)
        with count_transfers() as moved:
            batches = list(loader)
        for x, y in batches:
            assert get_array_module(x) is emulated_module
            assert get_array_module(y) is emulated_module
        assert moved.to_device_count == 2 * len(loader)  # images and labels per batch
        assert moved.to_device_bytes == images.nbytes + labels.nbytes
        assert moved.to_cpu_count == 0 and moved.implicit_syncs == 0


def test_labels_are_validated_on_the_host() -> None:
    images, labels = _data(6)
    with pytest.raises(DatasetError, match="label 5 is out of range for 3 classes"):
        DataLoader(images, numpy.array([0, 1, 2, 5, 0, 1]), 2, num_classes=3)
    with pytest.raises(DatasetError, match="label -1"):
        DataLoader(images, numpy.array([0, 1, 2, -1, 0, 1]), 2)
    with pytest.raises(ConfigError, match="integers"):
        DataLoader(images, labels.astype(numpy.float32), 2)
    assert DataLoader(images, labels, 2).num_classes == 3
    assert DataLoader(images, labels, 2, num_classes=10).num_classes == 10


def test_bad_arguments() -> None:
    images, labels = _data(6)
    for batch_size in (0, -2, 2.5, True):
        with pytest.raises(ConfigError, match="batch size"):
            DataLoader(images, labels, batch_size)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="pair up"):
        DataLoader(images, labels[:5], 2)
    with pytest.raises(ConfigError, match="epoch"):
        DataLoader(images, labels, 2).set_epoch(-1)
    with use_emulated():
        from nnott.backend import to_device

        with pytest.raises(ConfigError, match="host NumPy array"):
            DataLoader(to_device(images), labels, 2)
