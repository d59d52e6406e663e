"""Checkpoints that are safe to load from a stranger, written so a crash never halves them.

A checkpoint is one `safetensors <https://huggingface.co/docs/safetensors>`_ file: named
tensors (weights, optimizer moments) plus a JSON document of metadata (epoch, history,
configuration). It is never a pickle: unpickling runs whatever code the file's author put
in it, so :func:`load_checkpoint` refuses pickles (PyTorch ``.pt`` files, NumPy object
arrays) outright instead of trying them.

Every file is written atomically: the bytes go to a temporary file in the same directory,
which is flushed to disk and then renamed over the destination in one step. A crash or
Ctrl-C mid-write leaves the previous checkpoint as it was. (A device or a named pipe, such
as ``--json /dev/stdout``, has no previous version to keep: it is written into directly;
so is the file this process's standard output or error is redirected to, which renaming
would have unlinked from the shell's ``>>`` log.) A write that fails (a full disk, a
directory made read-only, a file where a directory must be) raises :class:`WriteError`,
one line naming the file.

A checkpoint also carries a SHA-256 checksum of its metadata and tensors, checked on load:
safetensors itself checks only the layout, so a flipped bit in a weight (a damaged copy, a
failing disk) would otherwise load silently and surface epochs later as a NaN loss.

Example::

    save_checkpoint("run/last.safetensors", {"fc1.weight": w}, {"epoch": 3})
    checkpoint = load_checkpoint("run/last.safetensors")
    checkpoint.metadata["epoch"]          # 3
    checkpoint.tensors["fc1.weight"]      # a NumPy array; move it with to_device()
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import json
import os
import secrets
import stat
import struct
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy
import safetensors.numpy
from safetensors import SafetensorError

from nnott.backend import get_array_module, to_cpu
from nnott.errors import CheckpointError, NnottError

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "Checkpoint",
    "WriteError",
    "creation_obstacle",
    "json_text",
    "load_checkpoint",
    "save_checkpoint",
    "write_bytes_atomic",
    "write_json_atomic",
]

FORMAT_NAME = "nnott-checkpoint"
"""The value of the ``format`` key in every nnott checkpoint's safetensors metadata."""

FORMAT_VERSION = 1
"""The layout version this module writes; files with a newer version are refused."""

_METADATA_KEY = "nnott_metadata"  # the safetensors metadata entry holding our JSON
_CHECKSUM_KEY = "sha256"  # the entry holding the checksum (absent in files from before it)

# How files that are not safetensors begin, and what to tell the user about them.
_FOREIGN_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (
        b"PK\x03\x04",
        "is a zip archive (a PyTorch .pt or NumPy .npz file?), not an nnott checkpoint; "
        "such files may hold pickled objects, which nnott never loads",
    ),
    (
        b"\x93NUMPY",
        "is a NumPy .npy file, not an nnott checkpoint (nnott never loads pickled arrays)",
    ),
    (
        b"\x80",
        "is a Python pickle, not an nnott checkpoint; nnott never unpickles files "
        "because unpickling can run arbitrary code",
    ),
)


@dataclasses.dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns: host tensors by name and the JSON metadata."""

    tensors: dict[str, numpy.ndarray]
    metadata: dict[str, Any]


class WriteError(NnottError, OSError):
    """A file (checkpoint, report, figure, history) could not be written; the file that was
    there before is unchanged.

    An :class:`~nnott.errors.NnottError`, so that the command lines print it as one line,
    and an :class:`OSError` (with the original ``errno`` and ``strerror``), so that code
    catching ``OSError`` around a write keeps working.
    """

    def __init__(self, path: str | os.PathLike[str], error: OSError) -> None:
        reason = error.strerror or str(error)
        super().__init__(error.errno, reason, os.fspath(path))
        self.message = (
            f"cannot write {os.fspath(path)}: {reason} (the file that was there, if any, "
            "is unchanged)"
        )

    def __str__(self) -> str:
        return self.message


# ------------------------------------------------------------------------ atomic writes


def _fsync_directory(directory: Path) -> None:
    """Flush the directory entry so that the rename itself survives a power cut (POSIX)."""
    with contextlib.suppress(OSError):  # not every platform lets a directory be opened
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


_TEMPORARY_STEM = 60
"""Characters of the destination's name kept in its temporary file's name: at most 240
bytes in UTF-8, so that with the 14 added the name stays within the 255 bytes most file
systems allow, also beside a destination whose own name is near that limit."""


def _create_temporary(target: Path) -> tuple[int, Path]:
    """Create a new hidden file beside ``target``; its permissions follow the umask.

    (``tempfile.mkstemp`` would make it readable by its owner only, and the rename would
    carry that over to the checkpoint.)
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    stem = target.name[:_TEMPORARY_STEM]
    for _ in range(100):
        temporary = target.with_name(f".{stem}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(temporary, flags, 0o666), temporary
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file beside {target}")


def creation_obstacle(path: str | os.PathLike[str]) -> str | None:
    """Why no file or directory can be created at ``path``, in words, or None if nothing
    in its parents stands in the way.

    Two things do: an existing parent that is a file (``notes.txt/run.json``), and a parent
    that is a symbolic link to nothing (``runs -> /mnt/usb/runs`` with the disk unmounted;
    nnott does not create the link's target, as ``mkdir -p`` does not). Permissions are
    not judged here: the write itself reports them.
    """
    for parent in Path(path).parents:  # nearest first
        if parent.is_symlink() and not parent.exists():
            return f"{parent} is a symbolic link to {os.readlink(parent)}, which does not exist"
        if parent.exists():
            return None if parent.is_dir() else f"{parent} is a file, not a directory"
    return None


def _make_parents(target: Path) -> None:
    """Create the missing directories above ``target``; say which parent is in the way when
    one is a file or a dangling link (``mkdir`` itself only says "File exists")."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        obstacle = creation_obstacle(target)
        if obstacle is None:
            raise
        raise NotADirectoryError(errno.ENOTDIR, obstacle) from None


def _is_stream(path: Path) -> bool:
    """Whether ``path`` exists and is not a regular file once links are followed: a device
    (``/dev/null``, ``/dev/stdout``'s terminal), a FIFO or a socket."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def _standard_descriptor(path: Path) -> int | None:
    """1 or 2 when ``path`` names the very file that this process's standard output or
    error is, else None.

    ``--json /dev/stdout >> run.log`` names ``run.log`` through a link: renaming a new file
    over it would cut the shell's log off (its earlier lines lost, the later ones written
    into the unlinked old file), so such a path is written through the open descriptor.
    """
    try:
        named = path.stat()
    except OSError:
        return None
    for descriptor in (1, 2):
        try:
            opened = os.fstat(descriptor)
        except OSError:
            continue
        if (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino):
            return descriptor
    return None


def _flush_standard_streams() -> None:
    """Flush what Python holds for stdout and stderr, so that bytes written past it to a
    stream land after the text printed before them."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, OSError, ValueError):  # absent or closed
            stream.flush()


def _write_all(descriptor: int, data: bytes) -> None:
    """``os.write`` until every byte is written (a pipe may take fewer at once)."""
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def _write_to_stream(target: Path, data: bytes, descriptor: int | None) -> Path:
    """Write ``data`` straight into a device, FIFO, socket or this process's own stdout or
    stderr (``descriptor``, see :func:`_standard_descriptor`; nothing there to keep whole),
    after the text already printed."""
    _flush_standard_streams()
    try:
        if descriptor is not None:
            _write_all(descriptor, data)
        else:
            with target.open("wb") as stream:
                stream.write(data)
    except OSError as error:
        raise WriteError(target, error) from None
    return target


def _link_target(requested: Path) -> Path:
    """The file to replace for ``requested``: the file a symbolic link points to (so that
    the link is kept, and a dangling one gets its file), else ``requested`` itself. A link
    that loops raises OSError (ELOOP)."""
    if not requested.is_symlink():
        return requested
    try:
        return Path(os.path.realpath(requested, strict=True))
    except FileNotFoundError:  # a dangling link: create what it points to
        return Path(os.path.realpath(requested))


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see the old file or the new, never half.

    Creates missing parent directories. Returns ``path``. A failure of the file
    system (no space, no permission, a file where a directory should be, a name too long)
    raises :class:`WriteError`; the previous file at ``path``, if any, is left as it was.

    A symbolic link is followed: the file it points to is replaced and the link kept. A
    path that is not a regular file (``/dev/null``, ``/dev/stdout``, a named pipe) is
    written into directly; renaming a new file over it would have put a regular file in
    the device's place (where the user may do so, as root may in ``/dev``). So is the file
    this process's stdout or stderr is redirected to (``/dev/stdout`` naming ``run.log``).
    """
    requested = Path(path)
    standard = _standard_descriptor(requested)
    if standard is not None or _is_stream(requested):
        return _write_to_stream(requested, data, standard)
    target = requested
    try:
        target = _link_target(requested)
        _make_parents(target)
        descriptor, temporary = _create_temporary(target)
    except OSError as error:
        raise WriteError(target, error) from None
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException as error:  # also Ctrl-C: never leave the temporary file behind
        temporary.unlink(missing_ok=True)
        if isinstance(error, OSError) and not isinstance(error, WriteError):
            raise WriteError(target, error) from None
        raise
    _fsync_directory(target.parent)
    return requested


def _json_default(value: Any) -> Any:
    """Let JSON documents carry NumPy scalars, small arrays, device arrays and paths."""
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, numpy.generic):
        return value.item()
    if isinstance(value, numpy.ndarray) or get_array_module(value) is not numpy:
        return to_cpu(value).tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _to_json(obj: Any, *, indent: int | None) -> str:
    return json.dumps(obj, indent=indent, default=_json_default)


def json_text(obj: Any) -> str:
    """``obj`` as indented JSON text ending in a newline, as :func:`write_json_atomic` writes it.

    NumPy scalars and arrays become numbers and lists; NaN and infinity the
    ``NaN``/``Infinity`` tokens Python's :mod:`json` reads back.
    """
    return _to_json(obj, indent=2) + "\n"


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented JSON (:func:`json_text`), atomically (see
    :func:`write_bytes_atomic`)."""
    return write_bytes_atomic(path, json_text(obj).encode("utf-8"))


# --------------------------------------------------------------------------- save, load


def _host_tensors(tensors: Mapping[str, Any]) -> dict[str, numpy.ndarray]:
    """Copy device arrays to the host (counted) and make every tensor contiguous."""
    host: dict[str, numpy.ndarray] = {}
    for name, tensor in tensors.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"checkpoint tensor names must be non-empty strings, not {name!r}")
        array = to_cpu(tensor)
        if array.dtype == object:
            raise TypeError(f"tensor {name!r} has dtype object; checkpoints hold numbers only")
        # (not ascontiguousarray: it would turn a 0-d array into shape (1,))
        host[name] = array if array.flags.c_contiguous else array.copy(order="C")
    return host


def _checksum(metadata_json: str, tensors: Mapping[str, numpy.ndarray]) -> str:
    """SHA-256 of the metadata text and of every tensor's name, dtype, shape and bytes
    (little-endian, in name order): the same for the arrays saved and those loaded back."""
    digest = hashlib.sha256(metadata_json.encode("utf-8"))
    for name in sorted(tensors):
        array = tensors[name]
        little = array.astype(array.dtype.newbyteorder("<"), copy=False)
        facts = f"\n{name}\n{little.dtype.name}\n{list(little.shape)}\n"
        digest.update(facts.encode("utf-8"))
        digest.update(numpy.ascontiguousarray(little).reshape(-1).view(numpy.uint8).data)
    return digest.hexdigest()


def save_checkpoint(
    path: str | os.PathLike[str],
    tensors: Mapping[str, Any],
    metadata: Mapping[str, Any],
) -> Path:
    """Save named tensors (host or device arrays) and JSON metadata to ``path``, atomically.

    Device arrays are copied to the host with :func:`nnott.backend.to_cpu`. ``metadata``
    must be JSON-serialisable (NumPy scalars are fine). Returns the path written; a
    write failure (no space, no permission) raises :class:`CheckpointError`.
    """
    host = _host_tensors(tensors)
    metadata_json = _to_json(dict(metadata), indent=None)
    header = {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        _METADATA_KEY: metadata_json,
        _CHECKSUM_KEY: _checksum(metadata_json, host),
    }
    data = safetensors.numpy.save(host, metadata=header)
    try:
        return write_bytes_atomic(path, data)
    except OSError as error:
        raise CheckpointError(
            f"cannot write checkpoint {path}: {error.strerror or error} "
            "(the checkpoint that was there, if any, is unchanged)"
        ) from None


def _looks_like_safetensors(data: bytes) -> bool:
    """True when the first 8 bytes are a plausible header length and the header opens a JSON
    object. Checked before the foreign signatures: a safetensors header length can itself
    begin with the byte 0x80 (a pickle's opcode), so the first byte alone cannot decide."""
    if len(data) < 9:
        return False
    (length,) = struct.unpack("<Q", data[:8])
    return 0 < length <= len(data) - 8 and data[8:9] == b"{"


def _read_header(data: bytes, path: Path) -> dict[str, Any]:
    """The safetensors JSON header: 8 bytes of little-endian length, then that much JSON."""
    if len(data) < 8:
        raise CheckpointError(f"{path} is truncated or empty ({len(data)} bytes)")
    (length,) = struct.unpack("<Q", data[:8])
    if length > len(data) - 8:
        raise CheckpointError(f"{path} is truncated or not a safetensors file (bad header size)")
    try:
        header = json.loads(data[8 : 8 + length])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError(f"{path} is corrupt: its header is not valid JSON") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path} is corrupt: its header is not a JSON object")
    return header


def _check_format(header: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """Refuse safetensors files not written by nnott; return the nnott marker entries."""
    marker = header.get("__metadata__") or {}
    if not isinstance(marker, dict) or marker.get("format") != FORMAT_NAME:
        raise CheckpointError(
            f"{path} is a safetensors file but was not written by nnott "
            f"(its metadata has no format={FORMAT_NAME!r} marker)"
        )
    try:
        version = int(marker.get("format_version", ""))
    except ValueError:
        raise CheckpointError(f"{path} has an unreadable checkpoint format version") from None
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} was written by a newer nnott (checkpoint format {version}; this one "
            f"reads up to {FORMAT_VERSION}); upgrade nnott-backend"
        )
    return marker


def _user_metadata(marker: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """The JSON document :func:`save_checkpoint` was given, parsed from the marker."""
    try:
        metadata = json.loads(marker[_METADATA_KEY])
    except (KeyError, TypeError, json.JSONDecodeError):
        raise CheckpointError(
            f"{path} is corrupt: its nnott metadata is missing or invalid"
        ) from None
    if not isinstance(metadata, dict):
        raise CheckpointError(f"{path} is corrupt: its nnott metadata is not a JSON object")
    return metadata


def _verify_checksum(
    marker: Mapping[str, Any], tensors: Mapping[str, numpy.ndarray], path: Path
) -> None:
    """Refuse a file whose metadata or tensors changed after it was written (files written
    before checksums were added carry none and are taken as they are)."""
    expected = marker.get(_CHECKSUM_KEY)
    if expected is None:
        return
    if expected != _checksum(marker[_METADATA_KEY], tensors):
        raise CheckpointError(
            f"{path} is corrupt: its contents do not match the checksum saved with them "
            "(a damaged copy or a failing disk?)"
        )


def _kind_of_file(mode: int) -> str:
    """What a file that is not a regular one is, in words, from its ``st_mode``."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device"


def _check_is_a_file(source: Path) -> None:
    """Refuse, before reading, what is no regular file: a directory, and a device or pipe
    such as ``/dev/null`` (empty), ``/dev/zero`` (endless) or a FIFO (which would wait for
    a writer forever)."""
    mode = source.stat().st_mode
    if not stat.S_ISREG(mode):
        raise CheckpointError(f"{source} is {_kind_of_file(mode)}, not a checkpoint file")


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Load a checkpoint written by :func:`save_checkpoint`; tensors come back on the host.

    Raises :class:`CheckpointError`, naming the file, when it is missing, no regular file
    (a directory, a device, a pipe), truncated or corrupt (also: its checksum does not
    match), a pickle or zip archive (``torch.save``, ``numpy.save`` of objects, ``.npz``),
    or a safetensors file that nnott did not write. Nothing in the file is ever executed.
    """
    source = Path(path)
    try:
        _check_is_a_file(source)
        data = source.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint file not found: {source}") from None
    except OSError as error:
        raise CheckpointError(f"cannot read checkpoint {source}: {error.strerror}") from None
    if not _looks_like_safetensors(data):
        for signature, explanation in _FOREIGN_SIGNATURES:
            if data.startswith(signature):
                raise CheckpointError(f"{source} {explanation}")
    marker = _check_format(_read_header(data, source), source)
    metadata = _user_metadata(marker, source)
    try:
        tensors = dict(safetensors.numpy.load(data))
    except SafetensorError as error:
        raise CheckpointError(f"{source} is truncated or corrupt ({error})") from None
    _verify_checksum(marker, tensors, source)
    return Checkpoint(tensors=tensors, metadata=metadata)
