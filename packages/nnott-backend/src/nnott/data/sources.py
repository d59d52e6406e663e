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
Files found locally are trusted by structure (the readers validate every header and size),
not by checksum: repackagers such as Debian re-compress the same data. Downloads are
verified byte for byte. ``NNOTT_DATA_MIRROR=URL`` fetches ``URL/<name>/<file>`` instead of
the upstream server (for mirrors, air-gapped sites and the tests).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import platformdirs

from nnott.data.registry import DatasetSpec
from nnott.errors import DatasetError

__all__ = [
    "DATA_ENV",
    "MIRROR_ENV",
    "SYSTEM_DATA_DIRS",
    "cache_dir",
    "candidate_dirs",
    "download",
    "find_file",
    "locate",
    "source_url",
]

DATA_ENV = "NNOTT_DATA"
MIRROR_ENV = "NNOTT_DATA_MIRROR"
SYSTEM_DATA_DIRS: tuple[Path, ...] = (Path("/usr/share/datasets"),)
DOWNLOAD_TIMEOUT_S = 60


def cache_dir() -> Path:
    """nnott's per-user cache directory (datasets live in ``<cache>/<name>``)."""
    return Path(platformdirs.user_cache_dir("nnott"))


def candidate_dirs(spec: DatasetSpec, data_dir: str | os.PathLike[str] | None) -> list[Path]:
    """Every directory searched for ``spec``'s files, in lookup order."""
    places: list[Path] = []
    if data_dir is not None:
        places += [Path(data_dir) / spec.name, Path(data_dir)]
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
        if candidate.is_file():
            return candidate
    return None


def _holds_all_files(spec: DatasetSpec, directory: Path) -> bool:
    if spec.format == "cifar10-binary" and (directory / "cifar-10-batches-bin").is_dir():
        return True  # an already extracted archive
    return all(find_file(directory, file.filename) for file in spec.files.values())


def locate(spec: DatasetSpec, data_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The first directory in lookup order that holds all of ``spec``'s files, or None."""
    for directory in candidate_dirs(spec, data_dir):
        if directory.is_dir() and _holds_all_files(spec, directory):
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
        return f"cannot reach {url} ({kind}); check the network or set {MIRROR_ENV}"
    return f"download of {url} failed: {text[:300]}"


def download(spec: DatasetSpec, target: Path) -> Path:
    """Fetch all of ``spec``'s files into ``target`` (a directory), verifying each checksum.

    Files land in a temporary sibling directory first and are moved into ``target`` only
    when every one of them arrived intact, so a failure leaves nothing behind.
    """
    import pooch  # imported here: loading the bundled set must not pay for it

    created = [parent for parent in (target.parent, *target.parent.parents) if not parent.exists()]
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{spec.name}-download-", dir=target.parent))
    succeeded = False
    try:
        for file in spec.files.values():
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
                raise DatasetError(
                    f"cannot download dataset {spec.name!r}: {_explain(error, url)}; "
                    "nothing was kept"
                ) from None
        target.mkdir(parents=True, exist_ok=True)
        for file in spec.files.values():
            os.replace(staging / file.filename, target / file.filename)
        succeeded = True
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not succeeded:
            _remove_empty(created)
    return target


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
