"""Finding dataset files (lookup order) and downloading them (pooch, checksums)."""

from __future__ import annotations

import errno
import gzip
import io
import tarfile
from pathlib import Path

import numpy
import pytest
from data_helpers import (  # noqa: F401 - fixtures
    FILENAMES,
    files_under,
    http_root_fixture,
    isolated_dirs_fixture,
    tiny_fixture,
    tiny_spec,
    write_tiny_dataset,
)

from nnott.data import info, load, registry, sources
from nnott.errors import DatasetError


def _fail_download(*args: object, **kwargs: object) -> None:
    raise AssertionError("no download expected")


def test_lookup_order(
    tiny: registry.DatasetSpec,
    isolated_dirs: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """explicit data_dir > NNOTT_DATA > cache > system dir; each holds different images."""
    monkeypatch.setattr(sources, "download", _fail_download)
    places = {
        "explicit": isolated_dirs["explicit"] / "tiny",
        "env": isolated_dirs["env"],  # NNOTT_DATA may also hold the files directly
        "cache": sources.cache_dir() / "tiny",
        "system": isolated_dirs["system"] / "tiny",
    }
    arrays = {
        name: write_tiny_dataset(path, seed=index + 1)
        for index, (name, path) in enumerate(places.items())
    }
    monkeypatch.setenv(sources.DATA_ENV, str(isolated_dirs["env"]))

    def loaded_from(data_dir: Path | None) -> str:
        data = load("tiny", data_dir=data_dir)
        for name, expected in arrays.items():
            if numpy.array_equal(data.train_images[:, 0], expected["train_images"]):
                return name
        raise AssertionError("images from nowhere")

    assert loaded_from(isolated_dirs["explicit"]) == "explicit"
    assert loaded_from(None) == "env"
    monkeypatch.delenv(sources.DATA_ENV)
    assert loaded_from(None) == "cache"
    for path in files_under(places["cache"]):
        path.unlink()
    assert loaded_from(None) == "system"
    assert info("tiny").location == places["system"]


def test_incomplete_directory_is_skipped(
    tiny: registry.DatasetSpec, isolated_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "download", _fail_download)
    write_tiny_dataset(isolated_dirs["system"] / "tiny")
    partial = isolated_dirs["explicit"] / "tiny"
    write_tiny_dataset(partial, seed=5)
    (partial / FILENAMES["test_labels"]).unlink()
    assert sources.locate(tiny, isolated_dirs["explicit"]) == isolated_dirs["system"] / "tiny"


def test_uncompressed_files_are_found(
    tiny: registry.DatasetSpec, isolated_dirs: dict[str, Path]
) -> None:
    directory = isolated_dirs["explicit"]
    arrays = write_tiny_dataset(directory)
    for filename in FILENAMES.values():
        gz = directory / filename
        (directory / filename.removesuffix(".gz")).write_bytes(gzip.decompress(gz.read_bytes()))
        gz.unlink()
    data = load("tiny", data_dir=directory, download=False)
    numpy.testing.assert_array_equal(data.test_labels, arrays["test_labels"])


def test_no_download_lists_the_places_searched(
    tiny: registry.DatasetSpec, isolated_dirs: dict[str, Path]
) -> None:
    isolated_dirs["explicit"].mkdir()  # an explicit data dir must exist (else: an error)
    with pytest.raises(DatasetError, match="not on this machine") as caught:
        load("tiny", data_dir=isolated_dirs["explicit"], download=False)
    message = str(caught.value)
    assert str(isolated_dirs["explicit"]) in message
    assert str(sources.cache_dir() / "tiny") in message
    assert str(isolated_dirs["system"] / "tiny") in message
    assert "\n" not in message


def test_unknown_dataset_lists_the_known_ones() -> None:
    with pytest.raises(DatasetError, match=r"unknown dataset 'imagenet'.*fashion-mnist-small"):
        load("imagenet")


def test_download_from_a_local_server(
    tiny: registry.DatasetSpec,
    isolated_dirs: dict[str, Path],
    http_root: tuple[Path, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root, url = http_root
    arrays = write_tiny_dataset(root / "tiny", seed=0)  # the same bytes as the pinned ones
    monkeypatch.setenv(sources.MIRROR_ENV, url)
    data = load("tiny")
    numpy.testing.assert_array_equal(data.train_images[:, 0], arrays["train_images"])
    numpy.testing.assert_array_equal(data.test_labels, arrays["test_labels"])
    cached = sorted(path.name for path in files_under(sources.cache_dir()))
    assert cached == sorted(FILENAMES.values())
    assert info("tiny").location == sources.cache_dir() / "tiny"
    # Now cached: loads without the server.
    monkeypatch.setenv(sources.MIRROR_ENV, "http://127.0.0.1:9")
    assert len(load("tiny", download=False).train_labels) == 30


def test_download_into_an_explicit_data_dir(
    tiny: registry.DatasetSpec,
    isolated_dirs: dict[str, Path],
    http_root: tuple[Path, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root, url = http_root
    write_tiny_dataset(root / "tiny", seed=0)
    monkeypatch.setenv(sources.MIRROR_ENV, url)
    isolated_dirs["explicit"].mkdir()  # load() downloads into an existing data dir only
    load("tiny", data_dir=isolated_dirs["explicit"])
    assert len(files_under(isolated_dirs["explicit"] / "tiny")) == 4
    assert files_under(sources.cache_dir()) == []


def test_checksum_mismatch_keeps_nothing(
    tiny: registry.DatasetSpec,
    isolated_dirs: dict[str, Path],
    http_root: tuple[Path, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root, url = http_root
    write_tiny_dataset(root / "tiny", seed=99)  # valid IDX files, other bytes
    monkeypatch.setenv(sources.MIRROR_ENV, url)
    with pytest.raises(DatasetError, match="does not match its pinned SHA-256") as caught:
        load("tiny")
    assert "\n" not in str(caught.value)
    assert "nothing was kept" in str(caught.value)
    assert files_under(isolated_dirs["cache"]) == []


def test_a_failure_midway_keeps_nothing(
    tiny: registry.DatasetSpec,
    isolated_dirs: dict[str, Path],
    http_root: tuple[Path, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root, url = http_root
    write_tiny_dataset(root / "tiny", seed=0)
    (root / "tiny" / FILENAMES["test_labels"]).unlink()  # the last file: 404
    monkeypatch.setenv(sources.MIRROR_ENV, url)
    with pytest.raises(DatasetError, match=r"cannot download dataset 'tiny'.*404"):
        load("tiny")
    assert files_under(isolated_dirs["cache"]) == []


def test_server_gone(
    tiny: registry.DatasetSpec,
    isolated_dirs: dict[str, Path],
    http_root: tuple[Path, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, url = http_root
    monkeypatch.setenv(sources.MIRROR_ENV, url.rsplit(":", 1)[0] + ":1")  # nothing listens
    with pytest.raises(DatasetError, match=r"cannot reach http://127\.0\.0\.1:1/tiny/"):
        load("tiny")
    assert files_under(isolated_dirs["cache"]) == []


def _cifar_record_file(labels: list[int], seed: int) -> bytes:
    generator = numpy.random.default_rng(seed)
    records = generator.integers(0, 256, (len(labels), 3073), dtype=numpy.uint8)
    records[:, 0] = labels
    return records.tobytes()


def _write_fake_cifar(directory: Path) -> dict[str, bytes]:
    directory.mkdir(parents=True, exist_ok=True)
    members = {
        f"data_batch_{index}.bin": _cifar_record_file([index, 9], index) for index in range(1, 6)
    }
    members["test_batch.bin"] = _cifar_record_file([0, 1, 2], 7)
    with tarfile.open(directory / "cifar-10-binary.tar.gz", "w:gz") as tar:
        for name, data in members.items():
            entry = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            entry.size = len(data)
            tar.addfile(entry, io.BytesIO(data))
    return members


def test_cifar10_binary_archive(
    isolated_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "download", _fail_download)
    members = _write_fake_cifar(isolated_dirs["explicit"] / "cifar10")
    data = load("cifar10", data_dir=isolated_dirs["explicit"])
    assert data.train_images.shape == (10, 3, 32, 32) and data.image_shape == (3, 32, 32)
    assert data.train_labels.tolist() == [1, 9, 2, 9, 3, 9, 4, 9, 5, 9]
    assert data.test_labels.tolist() == [0, 1, 2]
    first = numpy.frombuffer(members["data_batch_1.bin"], dtype=numpy.uint8)[1:3073]
    numpy.testing.assert_array_equal(data.train_images[0].ravel(), first)
    assert data.classes[0] == "airplane"


def test_cifar10_truncated_archive_names_the_file(
    isolated_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "download", _fail_download)
    directory = isolated_dirs["explicit"]
    _write_fake_cifar(directory)
    archive = directory / "cifar-10-binary.tar.gz"
    archive.write_bytes(archive.read_bytes()[:-200])
    with pytest.raises(DatasetError, match=r"cifar-10-binary\.tar\.gz: truncated or corrupt"):
        load("cifar10", data_dir=directory)


def test_cifar10_bad_record_size(
    isolated_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "download", _fail_download)
    extracted = isolated_dirs["explicit"] / "cifar-10-batches-bin"
    extracted.mkdir(parents=True)
    for index in range(1, 6):
        (extracted / f"data_batch_{index}.bin").write_bytes(_cifar_record_file([1], index))
    (extracted / "test_batch.bin").write_bytes(_cifar_record_file([1], 0)[:-1])
    with pytest.raises(DatasetError, match=r"test_batch\.bin: 3,072 bytes is not a whole"):
        load("cifar10", data_dir=isolated_dirs["explicit"])


def test_an_unreadable_extracted_cifar10_file_is_one_error(
    isolated_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An extracted batch file that cannot be read (no permission, a failing disk) raised a
    bare OSError; the archive's own reader already said such things in one line."""
    monkeypatch.setattr(sources, "download", _fail_download)
    extracted = isolated_dirs["explicit"] / "cifar-10-batches-bin"
    extracted.mkdir(parents=True)
    for index in range(1, 6):
        (extracted / f"data_batch_{index}.bin").write_bytes(_cifar_record_file([1], index))
    (extracted / "test_batch.bin").write_bytes(_cifar_record_file([1], 0))
    read_bytes = Path.read_bytes

    def failing_disk(path: Path) -> bytes:
        if path.name == "test_batch.bin":
            raise OSError(errno.EIO, "Input/output error", str(path))
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", failing_disk)
    with pytest.raises(DatasetError, match=r"test_batch\.bin: cannot read the file \(Input/output"):
        load("cifar10", data_dir=isolated_dirs["explicit"])


def test_a_data_place_that_cannot_be_looked_at_is_passed_over(
    tiny: registry.DatasetSpec, isolated_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """NNOTT_DATA with a name too long made the lookup raise a bare OSError."""
    write_tiny_dataset(isolated_dirs["system"] / "tiny")
    isolated_dirs["env"].mkdir()  # (below a missing parent the answer is "not found")
    monkeypatch.setenv(sources.DATA_ENV, str(isolated_dirs["env"] / ("x" * 300)))
    assert sources.locate(tiny) == isolated_dirs["system"] / "tiny"
    assert len(load("tiny", download=False).train_labels) == 30
