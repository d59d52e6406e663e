"""Standardizer statistics and the stratified, seeded train/validation split."""

from __future__ import annotations

import json

import numpy
import pytest

from nnott.data import Standardizer, load, train_val_split
from nnott.errors import ConfigError


def test_standardizer_statistics_per_channel() -> None:
    generator = numpy.random.default_rng(0)
    images = numpy.stack(
        [generator.integers(0, 50, (20, 5, 5)), generator.integers(100, 250, (20, 5, 5))], axis=1
    ).astype(numpy.uint8)
    scaler = Standardizer.fit(images)
    for channel in range(2):
        pixels = images[:, channel].astype(numpy.float64)
        assert scaler.mean[channel] == pytest.approx(pixels.mean())
        assert scaler.std[channel] == pytest.approx(pixels.std())
    scaled = scaler.transform(images)
    assert scaled.dtype == numpy.float32 and scaled.shape == images.shape
    numpy.testing.assert_allclose(scaled.mean(axis=(0, 2, 3)), 0.0, atol=1e-5)
    numpy.testing.assert_allclose(scaled.std(axis=(0, 2, 3)), 1.0, atol=1e-5)
    numpy.testing.assert_allclose(scaler.inverse_transform(scaled), images, atol=1e-3)


def test_standardizer_uses_training_statistics_for_test_images() -> None:
    data = load().limit(500, 100)
    scaler = Standardizer.fit(data.train_images)
    test_scaled = scaler.transform(data.test_images)
    expected = (data.test_images.astype(numpy.float64) - scaler.mean[0]) / scaler.std[0]
    numpy.testing.assert_allclose(test_scaled, expected, rtol=1e-5, atol=1e-5)


def test_standardizer_round_trips_through_json() -> None:
    scaler = Standardizer.fit(load().train_images[:100])
    state = json.loads(json.dumps(scaler.to_dict()))
    assert Standardizer.from_dict(state) == scaler
    with pytest.raises(ConfigError):
        Standardizer.from_dict({"mean": [1.0]})


def test_standardizer_edge_cases() -> None:
    constant = numpy.full((3, 1, 2, 2), 7, dtype=numpy.uint8)
    scaler = Standardizer.fit(constant)
    assert scaler.std == (1.0,)
    numpy.testing.assert_array_equal(scaler.transform(constant), 0.0)
    with pytest.raises(ConfigError, match="3-channel"):
        Standardizer.fit(numpy.zeros((2, 3, 2, 2), dtype=numpy.uint8)).transform(constant)
    with pytest.raises(ConfigError):
        Standardizer.fit(numpy.zeros((2, 4), dtype=numpy.uint8))


def _labelled(count_per_class: list[int]) -> tuple[numpy.ndarray, numpy.ndarray]:
    labels = numpy.concatenate([numpy.full(n, k) for k, n in enumerate(count_per_class)])
    images = numpy.arange(len(labels), dtype=numpy.float32).reshape(-1, 1, 1, 1)
    return images, labels.astype(numpy.int64)


def test_split_is_stratified_and_complete() -> None:
    images, labels = _labelled([50, 30, 20])
    x_train, y_train, x_val, y_val = train_val_split(images, labels, 0.2, seed=1)
    assert numpy.bincount(y_val).tolist() == [10, 6, 4]
    assert numpy.bincount(y_train).tolist() == [40, 24, 16]
    together = numpy.sort(numpy.concatenate([x_train, x_val]).ravel())
    numpy.testing.assert_array_equal(together, images.ravel())  # disjoint and complete
    numpy.testing.assert_array_equal(labels[x_val.ravel().astype(int)], y_val)  # pairs kept


def test_split_is_seeded() -> None:
    images, labels = _labelled([40, 40])
    first = train_val_split(images, labels, 0.25, seed=7)
    again = train_val_split(images, labels, 0.25, seed=7)
    other = train_val_split(images, labels, 0.25, seed=8)
    for a, b in zip(first, again, strict=True):
        numpy.testing.assert_array_equal(a, b)
    assert not numpy.array_equal(first[2], other[2])


def test_split_rounding_total_matches_the_fraction() -> None:
    images, labels = _labelled([7, 7, 7])
    _, _, _, y_val = train_val_split(images, labels, 0.1, seed=0)
    assert len(y_val) == 2  # round(0.1 * 21) over three classes of 7
    assert numpy.bincount(y_val, minlength=3).max() == 1


def test_split_zero_fraction_and_bad_fractions() -> None:
    images, labels = _labelled([5, 5])
    x_train, y_train, x_val, y_val = train_val_split(images, labels, 0.0, seed=0)
    assert len(x_train) == len(y_train) == 10
    assert x_val.shape == (0, 1, 1, 1) and y_val.shape == (0,)
    for bad in (-0.1, 1.0, 1.5):
        with pytest.raises(ConfigError, match=r"\[0, 1\)"):
            train_val_split(images, labels, bad, seed=0)
    with pytest.raises(ConfigError, match="no training data"):
        train_val_split(images[:1], labels[:1], 0.5, seed=0)


def test_a_training_part_missing_a_class_is_refused_naming_the_flag() -> None:
    from nnott.data import check_every_class_trains

    classes = ("cat", "dog", "owl")
    check_every_class_trains(numpy.array([0, 1, 2, 2]), classes, "pets", limit=4, val_split=0.0)
    with pytest.raises(ConfigError, match="--limit 2 is fewer than the 3 classes of pets"):
        check_every_class_trains(numpy.array([0, 1]), classes, "pets", limit=2, val_split=0.0)
    with pytest.raises(ConfigError, match=r"--val-split 0.5 leaves .* 1 of the 3 classes \(owl\)"):
        check_every_class_trains(numpy.array([0, 1, 1]), classes, "pets", limit=6, val_split=0.5)
