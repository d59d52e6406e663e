"""Is a dataset file on disk intact? Checked by pinned checksum first, by structure second.

A file is *intact* when

1. its SHA-256 equals the one pinned in :mod:`~nnott.data.registry` (the fast path: what a
   download through pooch always leaves behind), or else
2. it reads cleanly with the same checks :func:`~nnott.data.load` applies (gzip data that
   decompresses to its end, IDX magic numbers and sizes, image shape, label range; CIFAR-10
   record sizes).

The second path exists because repackagers such as Debian re-compress the same data: their
``.gz`` files hash differently from the pinned ones yet hold identical images, and calling
them corrupt would send a learner to download 30 MB they already have. A truncated or
damaged file fails both checks; :func:`file_problem` then says why in a few words, and
``nnott-data fetch`` downloads a fresh copy in its place.

Checking costs one pass over the files: hashing, plus decompressing those that do not match
their checksum (about half a second for Debian's 30 MB of Fashion-MNIST). ``nnott-data
list``, ``info`` and ``fetch`` afford that; :func:`~nnott.data.load` does not check first,
because reading the files runs the same structural checks anyway.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from nnott.data.cifar import read_cifar10
from nnott.data.idx import read_idx_images, read_idx_labels
from nnott.data.registry import DatasetSpec, foreign_owner
from nnott.data.sources import find_file
from nnott.errors import DatasetError

__all__ = ["file_problem", "foreign_owner_in", "problems", "sha256_of"]

_CHUNK_BYTES = 1 << 20


def sha256_of(path: Path) -> str:
    """The SHA-256 of the file at ``path`` as hex, read in 1 MiB chunks (flat memory use)."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _read_as(spec: DatasetSpec, role: str, path: Path) -> str | None:
    """Read ``path`` as the file playing ``role`` in ``spec``; raise DatasetError if it fails.

    Returns the name of the other registered dataset whose labels a label file holds
    (:func:`~nnott.data.registry.foreign_owner`), else None.
    """
    if role == "archive":  # CIFAR-10's single tar.gz, read from its directory
        read_cifar10(path.parent)
    elif role.endswith("_labels"):
        return foreign_owner(spec, read_idx_labels(path, len(spec.classes)))
    else:
        images = read_idx_images(path)
        if images.shape[1:] != spec.image_shape:
            raise DatasetError(
                f"{path}: images are {images.shape[1:]}, expected {spec.image_shape}"
            )
    return None


def file_problem(spec: DatasetSpec, role: str, path: Path) -> str | None:
    """None if ``path`` is an intact copy of ``spec``'s file ``role``, else why it is not.

    The reason is one short phrase without the directory, such as ``"does not match its
    pinned SHA-256 and truncated or corrupt gzip data (...)"``.
    """
    try:
        if sha256_of(path) == spec.files[role].sha256:
            return None
    except OSError as error:
        return f"cannot be read ({error.strerror or error})"
    try:
        foreign = _read_as(spec, role, path)
    except DatasetError as error:
        detail = str(error).removeprefix(f"{path}: ").removeprefix(f"{path.parent}: ")
        return f"does not match its pinned SHA-256 and {detail}"
    if foreign is not None:
        return f"holds {foreign}'s labels, not {spec.name}'s (the same file name)"
    return None  # re-packaged (other bytes, same data): as good as the original


def foreign_owner_in(spec: DatasetSpec, directory: Path) -> str | None:
    """The other registered dataset whose labels ``directory`` holds under ``spec``'s file
    names, else None (missing or damaged label files count as not foreign)."""
    for role in ("train_labels", "test_labels"):
        file = spec.files.get(role)
        path = None if file is None else find_file(directory, file.filename)
        if path is None:
            continue
        try:
            owner = foreign_owner(spec, read_idx_labels(path, len(spec.classes)))
        except DatasetError:
            continue  # damaged: for fetch to repair, not foreign
        if owner is not None:
            return owner
    return None


def problems(spec: DatasetSpec, directory: Path) -> dict[str, str]:
    """``role -> "file: reason"`` for each of ``spec``'s files in ``directory`` that is
    missing or damaged (file names relative to ``directory``).

    An empty dict means every file is there and intact; a directory that does not exist
    (yet) has every file missing. A CIFAR-10 archive already
    extracted into ``cifar-10-batches-bin/`` is checked by reading it, under the role
    ``"archive"``.
    """
    found: dict[str, str] = {}
    if spec.format == "cifar10-binary" and (directory / "cifar-10-batches-bin").is_dir():
        try:
            read_cifar10(directory)
        except DatasetError as error:
            found["archive"] = str(error).removeprefix(f"{directory}/")
        return found
    for role, file in spec.files.items():
        path = find_file(directory, file.filename)
        if path is None:
            found[role] = f"{file.filename}: missing"
            continue
        reason = file_problem(spec, role, path)
        if reason is not None:
            found[role] = f"{path.name}: {reason}"
    return found
