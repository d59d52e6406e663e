"""The bundled dataset, Dataset.limit, info/available and the nnott-data command line."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

import numpy
import pytest
from data_helpers import (
    FASHION_DIR,
    isolated_dirs_fixture,  # noqa: F401 - a fixture
    needs_real_fashion,
)

from nnott.data import DEFAULT_DATASET, Dataset, available, info, load, registry, sources
from nnott.data.__main__ import main as data_main
from nnott.errors import ConfigError, DatasetError

BUNDLED_DIR = Path(sources.__file__).parent / "bundled"
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "make_bundled_dataset.py"


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the bundled dataset must load without any download")

    monkeypatch.setattr(sources, "download", refuse)
    monkeypatch.setitem(sys.modules, "pooch", None)  # importing pooch would now fail


def test_default_is_the_bundled_set(no_network: None) -> None:
    data = load()
    assert DEFAULT_DATASET == "fashion-mnist-small" == data.name
    assert data.train_images.shape == (6000, 1, 28, 28)
    assert data.test_images.shape == (1000, 1, 28, 28)
    assert data.train_images.dtype == numpy.uint8
    assert data.train_labels.dtype == data.test_labels.dtype == numpy.int64
    assert data.image_shape == (1, 28, 28) and data.num_classes == 10
    assert data.classes[0] == "T-shirt/top" and data.classes[9] == "Ankle boot"


def test_bundled_set_is_class_balanced(no_network: None) -> None:
    data = load("fashion-mnist-small")
    assert numpy.bincount(data.train_labels, minlength=10).tolist() == [600] * 10
    assert numpy.bincount(data.test_labels, minlength=10).tolist() == [100] * 10


def test_bundled_files_match_their_pinned_checksums_and_license() -> None:
    spec = registry.get_spec("fashion-mnist-small")
    total = 0
    for file in spec.files.values():
        data = (BUNDLED_DIR / file.filename).read_bytes()
        total += len(data)
        assert hashlib.sha256(data).hexdigest() == file.sha256, file.filename
    assert total <= 4_000_000
    license_text = (BUNDLED_DIR / "LICENSE-fashion-mnist.txt").read_text()
    assert "MIT" in license_text and "Zalando SE" in license_text


@needs_real_fashion
def test_bundled_set_is_a_subset_of_fashion_mnist() -> None:
    small = load("fashion-mnist-small")
    full = load("fashion-mnist", data_dir=FASHION_DIR.parent, download=False)
    flat = full.test_images.reshape(len(full.test_images), -1)
    lookup = {row.tobytes(): label for row, label in zip(flat, full.test_labels, strict=True)}
    for image, label in zip(small.test_images[:50], small.test_labels[:50], strict=True):
        assert lookup[image.tobytes()] == label


@needs_real_fashion
def test_bundle_script_regenerates_the_files_byte_for_byte(tmp_path: Path) -> None:
    module_spec = importlib.util.spec_from_file_location("make_bundled_dataset", SCRIPT)
    assert module_spec is not None and module_spec.loader is not None
    script = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(script)
    hashes = script.make(FASHION_DIR, tmp_path)
    for file in registry.get_spec("fashion-mnist-small").files.values():
        assert hashes[file.filename] == file.sha256
        assert (tmp_path / file.filename).read_bytes() == (BUNDLED_DIR / file.filename).read_bytes()


@needs_real_fashion
def test_full_fashion_mnist_from_the_system_directory(
    isolated_dirs: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sources, "SYSTEM_DATA_DIRS", (FASHION_DIR.parent,))
    data = load("fashion-mnist", download=False)
    assert data.train_images.shape == (60000, 1, 28, 28)
    assert data.test_images.shape == (10000, 1, 28, 28)
    assert info("fashion-mnist").location == FASHION_DIR


def _tiny_dataset() -> Dataset:
    labels = numpy.array([0] * 10 + [1] * 6 + [2] * 4, dtype=numpy.int64)
    images = numpy.arange(20, dtype=numpy.uint8).reshape(20, 1, 1, 1)
    return Dataset("t", images, labels, images[:9], labels[:9] % 3, ("a", "b", "c"))


def test_limit_is_balanced_seeded_and_consistent() -> None:
    data = load()
    small = data.limit(300, 50, seed=3)
    assert numpy.bincount(small.train_labels, minlength=10).tolist() == [30] * 10
    assert numpy.bincount(small.test_labels, minlength=10).tolist() == [5] * 10
    again = data.limit(300, 50, seed=3)
    numpy.testing.assert_array_equal(small.train_images, again.train_images)
    other = data.limit(300, 50, seed=4)
    assert not numpy.array_equal(small.train_labels, other.train_labels) or not numpy.array_equal(
        small.train_images, other.train_images
    )
    # Each image keeps its own label: the images are found in the full set with that label.
    index = {
        image.tobytes(): label
        for image, label in zip(data.train_images, data.train_labels, strict=True)
    }
    assert all(
        index[i.tobytes()] == lab
        for i, lab in zip(small.train_images, small.train_labels, strict=True)
    )


def test_limit_with_uneven_classes_and_none() -> None:
    data = _tiny_dataset()
    limited = data.limit(9)
    assert numpy.bincount(limited.train_labels).tolist() == [3, 3, 3]
    assert len(data.limit(13).train_labels) == 13
    assert numpy.bincount(data.limit(13).train_labels).tolist() == [5, 4, 4]
    assert numpy.bincount(data.limit(16).train_labels).tolist() == [6, 6, 4]  # class 2 runs out
    unchanged = data.limit(None, None)
    numpy.testing.assert_array_equal(unchanged.train_labels, data.train_labels)
    assert len(data.limit(1000).train_labels) == 20
    with pytest.raises(ConfigError):
        data.limit(0)


def test_dataset_validates_its_arrays() -> None:
    images = numpy.zeros((4, 1, 2, 2), dtype=numpy.uint8)
    with pytest.raises(DatasetError, match="do not pair up"):
        Dataset("x", images, numpy.zeros(3, dtype=numpy.int64), images, numpy.zeros(4), ("a",))


def test_available_and_info() -> None:
    names = available()
    for name in ("fashion-mnist-small", "fashion-mnist", "mnist", "kmnist", "cifar10"):
        assert name in names
    about = info("fashion-mnist-small")
    assert about.present and about.location == BUNDLED_DIR
    assert (about.train_size, about.test_size, about.image_shape) == (6000, 1000, (1, 28, 28))
    assert "MIT" in about.license
    cifar = info("cifar10")
    assert cifar.image_shape == (3, 32, 32) and cifar.download_size > 100_000_000
    for name in names:  # every remote file is pinned to a SHA-256
        for file in registry.get_spec(name).files.values():
            assert len(file.sha256) == 64 and int(file.sha256, 16) >= 0


def test_cli_list_and_info(capsys: pytest.CaptureFixture[str]) -> None:
    assert data_main(["list"]) == 0
    listing = capsys.readouterr().out
    assert "fashion-mnist-small" in listing and "cifar10" in listing and "bundled" in listing
    assert data_main(["info", "fashion-mnist-small"]) == 0
    described = capsys.readouterr().out
    assert "Ankle boot" in described and str(BUNDLED_DIR) in described


def test_cli_fetch_the_bundled_set(capsys: pytest.CaptureFixture[str]) -> None:
    assert data_main(["fetch", "fashion-mnist-small"]) == 0
    assert "6,000 training and 1,000 test images" in capsys.readouterr().out


def test_cli_errors_are_one_line(
    capsys: pytest.CaptureFixture[str],
    isolated_dirs: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert data_main(["info", "imagenet"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    monkeypatch.setenv(sources.MIRROR_ENV, "http://127.0.0.1:1")
    assert data_main(["fetch", "mnist"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert error[-1].startswith("nnott-data: error: cannot download dataset 'mnist'")
    assert "Traceback" not in "\n".join(error)
