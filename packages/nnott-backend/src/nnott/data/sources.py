"""Where a dataset's files are found, and how they are downloaded when they are not.

Lookup order for a named dataset (the first place holding all of its files wins):

1. an explicit ``data_dir`` (the CLIs' ``--data-dir``),
2. the directory in the environment variable ``NNOTT_DATA``,
3. the user cache, ``platformdirs.user_cache_dir("nnott")/<name>``,
4. system dataset directories such as ``/usr/share/datasets/<name>`` (Debian's
   ``dataset-fashion-mnist`` package installs Fashion-MNIST there),
5. a download through pooch, checked against the pinned SHA-256, into ``data_dir/<name>``
   when a ``data_dir`` was given and into the user cache otherwise.

In ``data_dir`` and ``NNOTT_DATA`` both ``<dir>/<name>/`` and ``<dir>/`` itself are tried.
An explicit ``data_dir`` must be an existing directory (:func:`check_data_dir`): a typo
there would otherwise pass unnoticed while another copy is used. Files found locally are
trusted by structure (the readers validate every header and size), not by checksum alone:
repackagers such as Debian re-compress the same data (see :mod:`~nnott.data.verify`).
Downloads are verified byte for byte. ``NNOTT_DATA_MIRROR=URL`` fetches
``URL/<name>/<file>`` instead of the upstream server (for mirrors, air-gapped sites and
the tests).
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import platformdirs

from nnott.data.registry import DatasetSpec
from nnott.errors import DatasetError

__all__ = [
    "DATA_ENV",
    "MIRROR_ENV",
    "SYSTEM_DATA_DIRS",
    "DownloadError",
    "cache_dir",
    "candidate_dirs",
    "check_data_dir",
    "download",
    "find_file",
    "holds_any_file",
    "is_system_dir",
    "locate",
    "source_url",
]

DATA_ENV = "NNOTT_DATA"
MIRROR_ENV = "NNOTT_DATA_MIRROR"
SYSTEM_DATA_DIRS: tuple[Path, ...] = (Path("/usr/share/datasets"),)
DOWNLOAD_TIMEOUT_S = 60


class DownloadError(DatasetError):
    """A download that failed; ``reason`` says why in a few words, for other messages."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def cache_dir() -> Path:
    """nnott's per-user cache directory (datasets live in ``<cache>/<name>``)."""
    return Path(platformdirs.user_cache_dir("nnott"))


def _expanded(data_dir: str | os.PathLike[str]) -> Path:
    """``data_dir`` with a leading ``~`` expanded; DatasetError for an unknown ``~user``."""
    try:
        return Path(data_dir).expanduser()
    except RuntimeError:
        raise DatasetError(f"data dir {data_dir}: no such user's home directory") from None


_MISSING = "does not exist"  # the one problem of a data dir that a hint can cure


def _data_dir_problem(path: Path, must_exist: bool) -> str | None:
    """What is wrong with ``path`` as a data dir, in words, or None (see check_data_dir).

    An :class:`OSError` of the file system itself (a name too long, a directory that may
    not be searched, a link that loops) propagates for the caller to word.
    """
    from nnott.checkpoint import creation_obstacle

    try:
        mode: int | None = path.stat().st_mode  # a link that loops raises here
    except (FileNotFoundError, NotADirectoryError):
        mode = None
    if mode is not None:
        return None if stat.S_ISDIR(mode) else "is not a directory"
    if path.is_symlink():
        return f"is a symbolic link to {os.readlink(path)}, which does not exist"
    obstacle = creation_obstacle(path)
    if obstacle is not None:
        return f"cannot exist: {obstacle}"
    return _MISSING if must_exist else None


def check_data_dir(
    data_dir: str | os.PathLike[str], *, must_exist: bool = True, hint: str = ""
) -> Path:
    """``data_dir`` as a :class:`~pathlib.Path` (``~`` expanded), checked to be usable.

    An explicit data dir comes first in the lookup order and receives downloads, so a wrong
    one must be reported, not passed over while a copy elsewhere is quietly used. A path
    that exists but is not a directory always raises :class:`DatasetError`, and so does one
    that cannot be made (a parent is a file; a symbolic link to nothing) or looked at (a
    name too long, no permission); so does a missing one unless ``must_exist`` is False
    (``nnott-data fetch`` creates it). ``hint`` ends the message about a missing one (what
    else the user can do).
    """
    path = _expanded(data_dir)
    try:
        problem = _data_dir_problem(path, must_exist)
    except OSError as error:
        raise DatasetError(f"data dir {path} cannot be used: {error.strerror or error}") from None
    if problem == _MISSING:
        advice = f"fix the path; {hint}" if hint else "fix the path"
        raise DatasetError(f"data dir {path} {_MISSING} ({advice})")
    if problem is not None:
        raise DatasetError(f"data dir {path} {problem}")
    return path


def _is_dir(path: Path) -> bool:
    """``path.is_dir()``, where a path the file system will not look at (a name too long,
    no permission to search a parent) counts as no directory: the lookup passes over it."""
    try:
        return path.is_dir()
    except OSError:
        return False


def _is_file(path: Path) -> bool:
    """``path.is_file()``, where a path that cannot be looked at counts as no file."""
    try:
        return path.is_file()
    except OSError:
        return False


def is_system_dir(directory: Path) -> bool:
    """True for a directory under :data:`SYSTEM_DATA_DIRS`: the OS owns it, nnott never
    writes there."""
    return any(directory.is_relative_to(system) for system in SYSTEM_DATA_DIRS)


def candidate_dirs(spec: DatasetSpec, data_dir: str | os.PathLike[str] | None) -> list[Path]:
    """Every directory searched for ``spec``'s files, in lookup order."""
    places: list[Path] = []
    if data_dir is not None:
        explicit = _expanded(data_dir)
        places += [explicit / spec.name, explicit]
    from_env = os.environ.get(DATA_ENV, "").strip()
    if from_env:
        places += [Path(from_env) / spec.name, Path(from_env)]
    places.append(cache_dir() / spec.name)
    places += [system / spec.name for system in SYSTEM_DATA_DIRS]
    return places


def find_file(directory: Path, filename: str) -> Path | None:
    """``directory/filename``, or its uncompressed twin without ``.gz``, if either exists."""
    for name in (filename, filename.removesuffix(".gz")):
        candidate = directory / name
        if _is_file(candidate):
            return candidate
    return None


def _holds_all_files(spec: DatasetSpec, directory: Path) -> bool:
    if spec.format == "cifar10-binary" and _is_dir(directory / "cifar-10-batches-bin"):
        return True  # an already extracted archive
    return all(find_file(directory, file.filename) for file in spec.files.values())


def holds_any_file(spec: DatasetSpec, directory: Path) -> bool:
    """True if ``directory`` holds at least one of ``spec``'s files (a partial copy counts)."""
    if spec.format == "cifar10-binary" and _is_dir(directory / "cifar-10-batches-bin"):
        return True
    return any(find_file(directory, file.filename) for file in spec.files.values())


def locate(spec: DatasetSpec, data_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The first directory in lookup order that holds all of ``spec``'s files, or None."""
    for directory in candidate_dirs(spec, data_dir):
        if _is_dir(directory) and _holds_all_files(spec, directory):
            return directory
    return None


def source_url(spec: DatasetSpec, filename: str) -> str:
    """Where ``filename`` is downloaded from: the mirror in NNOTT_DATA_MIRROR, or upstream."""
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    if mirror:
        return f"{mirror.rstrip('/')}/{spec.name}/{filename}"
    return spec.base_url + filename


def _show_progress() -> bool:
    return sys.stderr.isatty() and os.environ.get("NNOTT_PROGRESS", "1") != "0"


def _explain(error: Exception, url: str) -> str:
    """One line on why a download failed, without pooch's or requests' multi-line noise."""
    text = " ".join(str(error).split())
    if "hash" in text.lower() and isinstance(error, ValueError):
        return (
            f"the file from {url} does not match its pinned SHA-256 checksum "
            "(a changed or corrupted file on the server, or a proxy in the way)"
        )
    kind = type(error).__name__
    if "Connection" in kind or "Timeout" in kind or "Connection" in text:
        mirror = os.environ.get(MIRROR_ENV, "").strip()
        advice = f"and {MIRROR_ENV}={mirror}" if mirror else f"or set {MIRROR_ENV}"
        return f"cannot reach {url} ({kind}); check the network {advice}"
    return f"download of {url} failed: {text[:300]}"


def download(spec: DatasetSpec, target: Path, roles: Iterable[str] | None = None) -> Path:
    """Fetch ``spec``'s files (or only those of ``roles``) into the directory ``target``.

    Each file is checked against its pinned SHA-256. Files land in a hidden staging
    directory inside ``target`` first and are moved into place (``os.replace``, atomic on
    one file system) only when every one of them arrived intact, so a failure leaves
    ``target`` as it was: no half file, and an existing file is never lost to a failed
    replacement. Raises :class:`DownloadError`.
    """
    import pooch  # imported here: loading the bundled set must not pay for it

    wanted = [spec.files[role] for role in (spec.files if roles is None else roles)]
    _check_destinations(spec, target, [file.filename for file in wanted])
    created = [path for path in (target, *target.parents) if not path.exists()]
    try:
        target.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{spec.name}-download-", dir=target))
    except OSError as error:
        _remove_empty(created)
        reason = f"cannot write to {target} ({error.strerror or error})"
        raise DownloadError(f"cannot download dataset {spec.name!r}: {reason}", reason) from None
    succeeded = False
    pooch_log = pooch.get_logger()
    pooch_level = pooch_log.level
    # pooch logs "Downloading data from URL to file STAGING/..." for every file: a second
    # stderr line naming a temporary path. nnott says where files went, and why one failed.
    pooch_log.setLevel(logging.WARNING)
    try:
        for file in wanted:
            url = source_url(spec, file.filename)
            downloader = pooch.HTTPDownloader(
                progressbar=_show_progress(), timeout=DOWNLOAD_TIMEOUT_S
            )
            try:
                pooch.retrieve(
                    url,
                    known_hash=f"sha256:{file.sha256}",
                    fname=file.filename,
                    path=staging,
                    downloader=downloader,
                )
            except Exception as error:  # requests, pooch and OS errors alike
                reason = _explain(error, url)
                raise DownloadError(
                    f"cannot download dataset {spec.name!r}: {reason}; nothing was kept", reason
                ) from None
        try:
            for file in wanted:
                _move_into_place(staging / file.filename, target / file.filename)
        except OSError as error:
            reason = f"cannot write to {target} ({error.strerror or error})"
            message = f"cannot download dataset {spec.name!r}: {reason}"
            raise DownloadError(message, reason) from None
        succeeded = True
    finally:
        pooch_log.setLevel(pooch_level)
        shutil.rmtree(staging, ignore_errors=True)
        if not succeeded:
            _remove_empty(created)
    return target


def _check_destinations(spec: DatasetSpec, target: Path, filenames: list[str]) -> None:
    """Refuse, before anything is downloaded, a file where the directory ``target`` must
    be (mkdir would only say "File exists"), and a directory where a downloaded file must
    go: moving the file there would fail after the others were already moved into place."""
    if target.exists() and not _is_dir(target):
        reason = f"{target} is a file, where the directory of {spec.name} must go"
        raise DownloadError(
            f"cannot download dataset {spec.name!r}: {reason}; move it away", reason
        )
    for filename in filenames:
        destination = target / filename
        if _is_dir(destination):
            reason = f"{destination} is a directory, where the file {filename} must go"
            raise DownloadError(
                f"cannot download dataset {spec.name!r}: {reason}; move it away", reason
            )


def _move_into_place(downloaded: Path, destination: Path) -> None:
    """Atomically put ``downloaded`` at ``destination``, readable like the file it replaces.

    pooch writes through a private temporary file (mode 0600); a dataset is public data,
    so the new file gets the mode of the file it replaces, or 0644 (owner writes, all read).
    """
    mode = destination.stat().st_mode & 0o777 if destination.is_file() else 0o644
    os.chmod(downloaded, mode)
    os.replace(downloaded, destination)


def _remove_empty(directories: list[Path]) -> None:
    """Remove the directories a failed download created, deepest first, if still empty."""
    for directory in directories:
        try:
            directory.rmdir()
        except OSError:
            return


def searched_places(spec: DatasetSpec, data_dir: str | os.PathLike[str] | None) -> Iterator[str]:
    """The searched directories as text, for error messages."""
    for directory in candidate_dirs(spec, data_dir):
        yield str(directory)
