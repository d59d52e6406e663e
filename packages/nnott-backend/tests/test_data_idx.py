"""The IDX reader: real Fashion-MNIST files and every kind of broken file."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy
import pytest
from data_helpers import FASHION_DIR, needs_real_fashion

from nnott.data.idx import (
    IMAGES_MAGIC,
    LABELS_MAGIC,
    read_idx,
    read_idx_images,
    read_idx_labels,
    write_idx,
)
from nnott.errors import DatasetError


@needs_real_fashion
def test_reads_the_real_fashion_mnist_training_files() -> None:
    images = read_idx_images(FASHION_DIR / "train-images-idx3-ubyte.gz")
    labels = read_idx_labels(FASHION_DIR / "train-labels-idx1-ubyte.gz", num_classes=10)
    assert images.shape == (60000, 1, 28, 28)
    assert images.dtype == numpy.uint8
    assert labels.shape == (60000,) and labels.dtype == numpy.int64
    assert sorted(numpy.unique(labels).tolist()) == list(range(10))
    assert (numpy.bincount(labels) == 6000).all()  # Fashion-MNIST is balanced
    assert images.max() == 255 and images.min() == 0


@needs_real_fashion
def test_reads_the_real_fashion_mnist_test_files() -> None:
    images = read_idx_images(FASHION_DIR / "t10k-images-idx3-ubyte.gz")
    labels = read_idx_labels(FASHION_DIR / "t10k-labels-idx1-ubyte.gz", num_classes=10)
    assert images.shape == (10000, 1, 28, 28) and labels.shape == (10000,)


def _raw_idx(magic: int, shape: tuple[int, ...], payload: bytes) -> bytes:
    return struct.pack(">I", magic) + struct.pack(f">{len(shape)}I", *shape) + payload


@pytest.mark.parametrize("compressed", [True, False])
def test_round_trip_gzip_and_raw(tmp_path: Path, compressed: bool) -> None:
    images = numpy.arange(2 * 3 * 5, dtype=numpy.uint8).reshape(2, 3, 5)
    path = write_idx(tmp_path / ("x.idx3.gz" if compressed else "x.idx3"), images)
    assert path.read_bytes().startswith(b"\x1f\x8b") == compressed
    numpy.testing.assert_array_equal(read_idx(path, expected_magic=IMAGES_MAGIC), images)
    assert read_idx_images(path).shape == (2, 1, 3, 5)


def test_gzip_output_is_byte_identical_across_writes(tmp_path: Path) -> None:
    labels = numpy.array([3, 1, 4, 1, 5], dtype=numpy.uint8)
    first = write_idx(tmp_path / "a.gz", labels).read_bytes()
    second = write_idx(tmp_path / "b.gz", labels).read_bytes()
    assert first == second


def test_an_interrupted_write_leaves_the_file_that_was_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    labels = numpy.array([3, 1, 4], dtype=numpy.uint8)
    path = write_idx(tmp_path / "labels.gz", labels)
    before = path.read_bytes()

    def interrupted(source: object, target: object) -> None:
        raise KeyboardInterrupt  # Ctrl-C just before the new file would take its place

    monkeypatch.setattr("os.replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_idx(path, numpy.zeros(1000, dtype=numpy.uint8))
    assert path.read_bytes() == before
    assert [entry.name for entry in tmp_path.iterdir()] == ["labels.gz"]  # no temporary left


def test_truncated_gzip_names_the_file(tmp_path: Path) -> None:
    good = write_idx(tmp_path / "good.gz", numpy.zeros((50, 28, 28), dtype=numpy.uint8))
    bad = tmp_path / "train-images-idx3-ubyte.gz"
    bad.write_bytes(good.read_bytes()[:-40])
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte\.gz.*truncated"):
        read_idx_images(bad)


def test_truncated_payload_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "short-images"
    path.write_bytes(_raw_idx(IMAGES_MAGIC, (3, 28, 28), bytes(3 * 28 * 28 - 1)))
    with pytest.raises(DatasetError, match=r"short-images: truncated.*\(3, 28, 28\)"):
        read_idx_images(path)


def test_trailing_bytes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "long-labels"
    path.write_bytes(_raw_idx(LABELS_MAGIC, (4,), bytes(5)))
    with pytest.raises(DatasetError, match="long-labels: has trailing bytes"):
        read_idx_labels(path)


def test_wrong_magic_names_the_file(tmp_path: Path) -> None:
    labels = write_idx(tmp_path / "labels.gz", numpy.zeros(7, dtype=numpy.uint8))
    with pytest.raises(DatasetError, match=r"labels\.gz: wrong IDX magic number 0x00000801"):
        read_idx_images(labels)


def test_not_an_idx_file_at_all(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.gz"
    garbage.write_bytes(b"<html>404 Not Found</html>")
    with pytest.raises(DatasetError, match=r"garbage\.gz: not an IDX file"):
        read_idx(garbage)


def test_gzip_of_garbage(tmp_path: Path) -> None:
    path = tmp_path / "zipped-garbage.gz"
    path.write_bytes(gzip.compress(b"\xff\xff\xff\xff and so on"))
    with pytest.raises(DatasetError, match=r"zipped-garbage\.gz: not an IDX file"):
        read_idx(path)


def test_too_short_and_missing_files(tmp_path: Path) -> None:
    tiny = tmp_path / "tiny"
    tiny.write_bytes(b"\x00\x00")
    with pytest.raises(DatasetError, match="tiny: too short"):
        read_idx(tiny)
    with pytest.raises(DatasetError, match="absent: file not found"):
        read_idx(tmp_path / "absent")


def test_labels_out_of_range_name_the_file(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "labels.gz", numpy.array([0, 1, 12], dtype=numpy.uint8))
    with pytest.raises(DatasetError, match=r"labels\.gz: label 12 is out of range.*0\.\.9"):
        read_idx_labels(path, num_classes=10)
    assert read_idx_labels(path, num_classes=13).tolist() == [0, 1, 12]


def test_wider_element_types_are_read_big_endian(tmp_path: Path) -> None:
    values = numpy.array([[1.5, -2.0], [3.25, 1e6]], dtype=numpy.float32)
    path = write_idx(tmp_path / "floats.idx", values)
    assert path.read_bytes()[:4] == b"\x00\x00\x0d\x02"
    result = read_idx(path)
    assert result.dtype == numpy.float32
    numpy.testing.assert_array_equal(result, values)
