"""Reading CIFAR-10's *binary* version (``cifar-10-binary.tar.gz``), never the pickled one.

Each ``.bin`` file is a run of 3,073-byte records: one label byte (0..9), then the 32x32
red plane, green plane and blue plane, row-major. That is already the ``(C, H, W)`` layout
nnott uses. The archive holds ``data_batch_1.bin`` .. ``data_batch_5.bin`` (training) and
``test_batch.bin``. The archive is read in place, or an already extracted
``cifar-10-batches-bin/`` directory is used.
"""

from __future__ import annotations

import tarfile
import zlib
from pathlib import Path

import numpy

from nnott.errors import DatasetError

__all__ = ["ARCHIVE_DIR", "TEST_FILES", "TRAIN_FILES", "read_cifar10", "read_cifar10_records"]

ARCHIVE_DIR = "cifar-10-batches-bin"
TRAIN_FILES = tuple(f"data_batch_{index}.bin" for index in range(1, 6))
TEST_FILES = ("test_batch.bin",)
IMAGE_SHAPE = (3, 32, 32)
RECORD_BYTES = 1 + 3 * 32 * 32
NUM_CLASSES = 10


def read_cifar10_records(data: bytes, where: str) -> tuple[numpy.ndarray, numpy.ndarray]:
    """Split one ``.bin`` file's bytes into uint8 images ``(N, 3, 32, 32)`` and int64 labels."""
    if not data or len(data) % RECORD_BYTES:
        raise DatasetError(
            f"{where}: {len(data):,} bytes is not a whole number of {RECORD_BYTES}-byte "
            "CIFAR-10 records (truncated or not a CIFAR-10 binary file)"
        )
    records = numpy.frombuffer(data, dtype=numpy.uint8).reshape(-1, RECORD_BYTES)
    labels = records[:, 0].astype(numpy.int64)
    if int(labels.max()) >= NUM_CLASSES:
        raise DatasetError(
            f"{where}: label {int(labels.max())} is out of range 0..{NUM_CLASSES - 1}"
        )
    images = records[:, 1:].reshape(-1, *IMAGE_SHAPE)
    return images, labels


def _read_extracted(path: Path) -> bytes:
    """The bytes of one extracted ``.bin`` file; DatasetError if it cannot be read."""
    try:
        return path.read_bytes()
    except OSError as error:
        raise DatasetError(f"{path}: cannot read the file ({error.strerror or error})") from None


def _read_members(location: Path, names: tuple[str, ...]) -> dict[str, bytes]:
    """The bytes of ``names`` from an extracted directory or from the tar.gz archive."""
    extracted = location / ARCHIVE_DIR
    if extracted.is_dir():
        missing = [name for name in names if not (extracted / name).is_file()]
        if missing:
            raise DatasetError(f"{extracted}: missing {', '.join(missing)}")
        return {name: _read_extracted(extracted / name) for name in names}
    archive = location / "cifar-10-binary.tar.gz"
    contents: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = Path(member.name).name
                if member.isfile() and name in names:
                    stream = tar.extractfile(member)
                    if stream is not None:
                        contents[name] = stream.read()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        raise DatasetError(f"{archive}: truncated or corrupt archive ({error})") from None
    missing = [name for name in names if name not in contents]
    if missing:
        raise DatasetError(f"{archive}: the archive lacks {', '.join(missing)}")
    return contents


def read_cifar10(
    location: Path,
) -> tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray, numpy.ndarray]:
    """Train images, train labels, test images, test labels from the directory ``location``."""
    contents = _read_members(location, TRAIN_FILES + TEST_FILES)
    parts = {name: read_cifar10_records(contents[name], f"{location}/{name}") for name in contents}
    train_images = numpy.concatenate([parts[name][0] for name in TRAIN_FILES])
    train_labels = numpy.concatenate([parts[name][1] for name in TRAIN_FILES])
    test_images, test_labels = parts[TEST_FILES[0]]
    return train_images, train_labels, test_images, test_labels
