"""Reading and writing IDX files, the format of MNIST, Fashion-MNIST and KMNIST.

An IDX file is a tiny header followed by raw big-endian numbers:

- two zero bytes, one byte naming the element type (``0x08`` unsigned byte, ...), and one
  byte giving the number of dimensions; read as one big-endian integer this "magic number"
  is ``0x0801`` for a label file (1-D) and ``0x0803`` for an image file (3-D);
- one big-endian 32-bit size per dimension;
- the elements, row-major.

Files are usually gzip-compressed (``*.gz``); both forms are read. Every check failure
raises :class:`~nnott.errors.DatasetError` naming the file and what is wrong, because a
truncated download otherwise surfaces much later as a baffling reshape error.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import struct
import zlib
from pathlib import Path

import numpy

from nnott.checkpoint import write_bytes_atomic
from nnott.errors import DatasetError

__all__ = [
    "IMAGES_MAGIC",
    "LABELS_MAGIC",
    "read_idx",
    "read_idx_images",
    "read_idx_labels",
    "write_idx",
]

LABELS_MAGIC = 0x0801
IMAGES_MAGIC = 0x0803

_GZIP_SIGNATURE = b"\x1f\x8b"

# IDX type byte -> NumPy dtype (big-endian where it matters).
_IDX_TYPES: dict[int, str] = {
    0x08: "u1",
    0x09: "i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}
_TYPE_CODES = {numpy.dtype(dtype).newbyteorder("="): code for code, dtype in _IDX_TYPES.items()}


def _read_bytes(path: Path) -> bytes:
    """The file's content, gunzipped when it starts with the gzip signature."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found") from None
    except OSError as error:
        raise DatasetError(f"{path}: cannot read the file ({error.strerror or error})") from None
    if not raw.startswith(_GZIP_SIGNATURE):
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise DatasetError(f"{path}: truncated or corrupt gzip data ({error})") from None


def read_idx(path: str | os.PathLike[str], *, expected_magic: int | None = None) -> numpy.ndarray:
    """Read one IDX file (gzip or raw) into a NumPy array with its native element type.

    ``expected_magic`` (:data:`LABELS_MAGIC` or :data:`IMAGES_MAGIC`) also pins the type and
    the number of dimensions. The byte count must match the header exactly.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise DatasetError(f"{path}: too short to be an IDX file ({len(data)} bytes)")
    (magic,) = struct.unpack(">I", data[:4])
    zeros, type_code, ndim = magic >> 16, (magic >> 8) & 0xFF, magic & 0xFF
    if zeros != 0 or type_code not in _IDX_TYPES or ndim == 0:
        wanted = (
            f"0x{expected_magic:08x}"
            if expected_magic is not None
            else f"0x{LABELS_MAGIC:08x} or 0x{IMAGES_MAGIC:08x}"
        )
        raise DatasetError(
            f"{path}: not an IDX file (magic number 0x{magic:08x}, expected {wanted}); "
            "is it the right file?"
        )
    if expected_magic is not None and magic != expected_magic:
        raise DatasetError(
            f"{path}: wrong IDX magic number 0x{magic:08x}, expected 0x{expected_magic:08x} "
            f"({'labels' if expected_magic == LABELS_MAGIC else 'images'}); "
            "are the image and label files swapped?"
        )
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise DatasetError(f"{path}: truncated IDX header ({len(data)} bytes)")
    shape = struct.unpack(f">{ndim}I", data[4:header_size])
    dtype = numpy.dtype(_IDX_TYPES[type_code])
    expected_bytes = header_size + math.prod(shape) * dtype.itemsize
    if len(data) != expected_bytes:
        problem = "truncated" if len(data) < expected_bytes else "has trailing bytes"
        raise DatasetError(
            f"{path}: {problem}: the header promises shape {shape} ({expected_bytes:,} bytes) "
            f"but the file holds {len(data):,} bytes"
        )
    array = numpy.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)


def read_idx_images(path: str | os.PathLike[str]) -> numpy.ndarray:
    """Read an image file (magic 0x0803) as uint8 ``(N, 1, H, W)``: one grey channel."""
    images = read_idx(path, expected_magic=IMAGES_MAGIC)
    return images[:, None, :, :]


def read_idx_labels(path: str | os.PathLike[str], num_classes: int | None = None) -> numpy.ndarray:
    """Read a label file (magic 0x0801) as int64 ``(N,)``, checked against ``num_classes``."""
    labels = read_idx(path, expected_magic=LABELS_MAGIC).astype(numpy.int64)
    if num_classes is not None and labels.size and int(labels.max()) >= num_classes:
        bad = int(labels.max())
        raise DatasetError(
            f"{path}: label {bad} is out of range for a dataset of {num_classes} classes "
            f"(0..{num_classes - 1}); is it the label file of another dataset?"
        )
    return labels


def write_idx(
    path: str | os.PathLike[str], array: numpy.ndarray, *, compresslevel: int = 9
) -> Path:
    """Write ``array`` as an IDX file; gzip-compressed (mtime 0, no name) if ``path`` ends
    in ``.gz``, so that the same array always gives byte-identical files. Written
    atomically: a stopped write leaves the file that was there."""
    path = Path(path)
    array = numpy.ascontiguousarray(array)
    code = _TYPE_CODES.get(array.dtype.newbyteorder("="))
    if code is None or array.ndim == 0 or array.ndim > 255:
        raise DatasetError(f"cannot write a {array.dtype} array of {array.ndim} dimensions as IDX")
    header = struct.pack(">I", (code << 8) | array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    payload = header + array.astype(_IDX_TYPES[code], copy=False).tobytes()
    if path.suffix == ".gz":
        buffer = io.BytesIO()
        with gzip.GzipFile(
            filename="", mode="wb", fileobj=buffer, compresslevel=compresslevel, mtime=0
        ) as stream:
            stream.write(payload)
        payload = buffer.getvalue()
    return write_bytes_atomic(path, payload)
