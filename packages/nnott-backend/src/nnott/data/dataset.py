"""The :class:`Dataset` container and :func:`load`, the one way to get images by name.

>>> from nnott.data import load
>>> data = load()                    # the bundled fashion-mnist-small, offline
>>> data.train_images.shape, data.train_images.dtype
((6000, 1, 28, 28), dtype('uint8'))
>>> small = data.limit(600, 100, seed=1)   # class-balanced subset (the CLIs' --limit)

:func:`fetch` (``nnott-data fetch``) makes a named dataset's files present and intact,
downloading what is missing and replacing what is damaged; :func:`info` with
``verify=True`` reports damaged files without touching them.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from importlib import resources
from pathlib import Path

import numpy

from nnott.data import sources
from nnott.data.cifar import read_cifar10
from nnott.data.idx import read_idx_images, read_idx_labels
from nnott.data.registry import REGISTRY, DatasetInfo, DatasetSpec, foreign_owner, get_spec
from nnott.data.verify import foreign_owner_in
from nnott.data.verify import problems as file_problems
from nnott.errors import ConfigError, DatasetError

__all__ = [
    "DEFAULT_DATASET",
    "Dataset",
    "FetchReport",
    "ForeignDataError",
    "available",
    "balanced_indices",
    "fetch",
    "info",
    "load",
]

DEFAULT_DATASET = "fashion-mnist-small"

# Warnings about ignored data dirs go through logging: with logging unconfigured (the CLIs)
# Python prints the message alone, one line on stderr; applications can route or silence it.
_log = logging.getLogger("nnott.data")

_LIMIT_STREAM = 0x4C494D  # "LIM": keeps limit()'s draws apart from other seeded streams


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """Images and labels of one dataset, on the host, as they are stored.

    Images are uint8 ``(N, C, H, W)``; labels are int64 ``(N,)`` in ``0..num_classes-1``.
    Standardize with :class:`~nnott.data.Standardizer` and batch with
    :class:`~nnott.data.DataLoader`.
    """

    name: str
    train_images: numpy.ndarray
    train_labels: numpy.ndarray
    test_images: numpy.ndarray
    test_labels: numpy.ndarray
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            images = getattr(self, f"{split}_images")
            labels = getattr(self, f"{split}_labels")
            if images.ndim != 4 or len(images) != len(labels) or labels.ndim != 1:
                raise DatasetError(
                    f"{self.name}: {split} images {images.shape} and labels {labels.shape} "
                    "do not pair up as (N, C, H, W) and (N,)"
                )
        if self.train_images.shape[1:] != self.test_images.shape[1:]:
            raise DatasetError(f"{self.name}: train and test images differ in shape")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        channels, height, width = self.train_images.shape[1:]
        return (channels, height, width)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def limit(self, train: int | None, test: int | None = None, *, seed: int = 0) -> Dataset:
        """A class-balanced, seeded subset: ``train`` training and ``test`` test images.

        ``None`` keeps a split whole, as does a count at least the split's size. Classes get
        equal shares (within one image) as long as each class has enough images.
        """
        train_keep = balanced_indices(self.train_labels, train, seed=seed, salt=0)
        test_keep = balanced_indices(self.test_labels, test, seed=seed, salt=1)
        return dataclasses.replace(
            self,
            train_images=self.train_images[train_keep],
            train_labels=self.train_labels[train_keep],
            test_images=self.test_images[test_keep],
            test_labels=self.test_labels[test_keep],
        )

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, train={len(self.train_labels)}, "
            f"test={len(self.test_labels)}, image_shape={self.image_shape}, "
            f"classes={self.num_classes})"
        )


def balanced_indices(
    labels: numpy.ndarray, count: int | None, *, seed: int, salt: int = 0
) -> numpy.ndarray:
    """Sorted indices of ``count`` samples drawn round-robin over the classes (seeded).

    Within each class the order is a seeded shuffle; taking the first ``count`` of the
    interleaved order gives every class ``count // K`` or one more, while classes last.
    """
    total = len(labels)
    if count is None or count >= total:
        return numpy.arange(total)
    if isinstance(count, bool) or not isinstance(count, (int, numpy.integer)) or count < 1:
        raise ConfigError(f"a subset size must be a positive integer, not {count!r}")
    generator = numpy.random.default_rng([_LIMIT_STREAM, salt, seed])
    shuffled = generator.permutation(total)
    by_class = shuffled[numpy.argsort(labels[shuffled], kind="stable")]
    sorted_labels = labels[by_class]
    class_starts = numpy.searchsorted(sorted_labels, sorted_labels, side="left")
    rank_in_class = numpy.arange(total) - class_starts
    round_robin = by_class[numpy.lexsort((sorted_labels, rank_in_class))]
    return numpy.sort(round_robin[:count])


def available() -> list[str]:
    """The names :func:`load` accepts."""
    return sorted(REGISTRY)


def _bundled_dir() -> Path:
    return Path(str(resources.files("nnott.data") / "bundled"))


def _explicit_dir(spec: DatasetSpec, data_dir: str | os.PathLike[str] | None) -> Path | None:
    """The checked explicit data dir (it must exist and be a directory), or None."""
    if data_dir is None:
        return None
    if spec.bundled:
        hint = f"{spec.name} ships inside nnott and needs no data dir"
    else:  # the path as given: expanding a "~" here could fail before the check says why
        path = os.fspath(data_dir)
        hint = f"`nnott-data fetch {spec.name} --data-dir {path}` creates it and downloads into it"
    return sources.check_data_dir(data_dir, hint=hint)


def _in_explicit_dir(spec: DatasetSpec, location: Path, explicit: Path | None) -> bool:
    """True if ``location`` is one of the two places the explicit data dir offers."""
    return explicit is not None and location in (explicit / spec.name, explicit)


def _where(spec: DatasetSpec, explicit: Path | None) -> Path | None:
    if spec.bundled:
        return _bundled_dir()
    return sources.locate(spec, explicit)


def info(
    name: str, *, data_dir: str | os.PathLike[str] | None = None, verify: bool = False
) -> DatasetInfo:
    """Description, classes, sizes, license, source and where the files are on this machine.

    With ``verify=True`` the files found are also checked (pinned checksum, else
    structure; about a second for a 30 MB dataset) and ``problems`` lists the damaged ones.
    An explicit ``data_dir`` that is missing or not a directory raises DatasetError.
    """
    spec = get_spec(name)
    location = _where(spec, _explicit_dir(spec, data_dir))
    problems = None
    if verify and location is not None:
        problems = tuple(file_problems(spec, location).values())
    return DatasetInfo(
        name=spec.name,
        description=spec.description,
        classes=spec.classes,
        image_shape=spec.image_shape,
        train_size=spec.train_size,
        test_size=spec.test_size,
        license=spec.license,
        url=spec.homepage,
        download_size=0 if spec.bundled else spec.download_size,
        location=location,
        problems=problems,
    )


def _read(spec: DatasetSpec, location: Path) -> Dataset:
    """Read ``spec``'s files from the directory ``location``: no lookup, no download."""
    if spec.format == "cifar10-binary":
        arrays = read_cifar10(location)
        return Dataset(spec.name, *arrays, classes=spec.classes)
    return _read_idx_dataset(spec, location)


class ForeignDataError(DatasetError):
    """The files found under a dataset's names hold another registered dataset's data."""


def _check_labels_are_this_datasets(
    spec: DatasetSpec, location: Path, *labels: numpy.ndarray
) -> None:
    """Refuse the labels of another registered dataset (the MNIST-like datasets share
    their file names, so a folder of Fashion-MNIST is also "found" as mnist or kmnist)."""
    for split_labels in labels:
        owner = foreign_owner(spec, split_labels)
        if owner is not None:
            raise ForeignDataError(
                f"{location} holds {owner}'s files, not {spec.name}'s (both use the same "
                f"file names); keep each dataset in a folder of its own, such as "
                f"{location / spec.name}"
            )


def _read_idx_dataset(spec: DatasetSpec, location: Path) -> Dataset:
    num_classes = len(spec.classes)

    def path(role: str) -> Path:
        found = sources.find_file(location, spec.files[role].filename)
        if found is None:  # vanished between lookup and reading
            raise DatasetError(f"{location}: missing {spec.files[role].filename}")
        return found

    train_labels = read_idx_labels(path("train_labels"), num_classes)
    test_labels = read_idx_labels(path("test_labels"), num_classes)
    _check_labels_are_this_datasets(spec, location, train_labels, test_labels)
    train_images = read_idx_images(path("train_images"))
    test_images = read_idx_images(path("test_images"))
    for split, images, labels in (
        ("train", train_images, train_labels),
        ("test", test_images, test_labels),
    ):
        if len(images) != len(labels):
            raise DatasetError(
                f"{location}: {len(images)} {split} images but {len(labels)} {split} labels"
            )
        if images.shape[1:] != spec.image_shape:
            raise DatasetError(
                f"{location}: {split} images are {images.shape[1:]}, expected {spec.image_shape}"
            )
    return Dataset(spec.name, train_images, train_labels, test_images, test_labels, spec.classes)


def load(
    name: str | None = None,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
) -> Dataset:
    """Load dataset ``name`` (default :data:`DEFAULT_DATASET`), downloading it if needed.

    See :mod:`nnott.data.sources` for the lookup order. An explicit ``data_dir`` must be an
    existing directory (else :class:`~nnott.errors.DatasetError`); when it lacks the
    dataset the lookup goes on as documented, with one warning naming the ignored dir and
    the copy used instead. With ``download=False`` a dataset found nowhere raises
    DatasetError listing the places searched. A damaged file raises DatasetError naming
    it and the ``nnott-data fetch`` command that replaces it.
    """
    spec = get_spec(DEFAULT_DATASET if name is None else name)
    explicit = _explicit_dir(spec, data_dir)
    if spec.bundled:
        if explicit is not None:
            _log.warning(
                "nnott: warning: %s ships inside nnott; data dir %s is not used",
                spec.name,
                explicit,
            )
        return _read(spec, _bundled_dir())
    location = sources.locate(spec, explicit)
    if location is None:
        if not download:
            places = "; ".join(sources.searched_places(spec, explicit))
            raise DatasetError(
                f"dataset {spec.name!r} is not on this machine (searched: {places}); "
                f"run `nnott-data fetch {spec.name}` or allow downloading"
            )
        location = sources.download(spec, (explicit or sources.cache_dir()) / spec.name)
    elif explicit is not None and not _in_explicit_dir(spec, location, explicit):
        _log.warning(
            "nnott: warning: data dir %s holds no complete copy of %s; using %s instead",
            explicit,
            spec.name,
            location,
        )
    try:
        return _read(spec, location)
    except ForeignDataError:
        raise  # intact files of another dataset: a fresh download is not the cure
    except DatasetError as error:
        flag = f" --data-dir {explicit}" if _in_explicit_dir(spec, location, explicit) else ""
        raise DatasetError(
            f"{error}; `nnott-data fetch {spec.name}{flag}` downloads a fresh copy"
        ) from None


@dataclasses.dataclass(frozen=True, eq=False)
class FetchReport:
    """What :func:`fetch` did: the dataset, where its files are, which were downloaded."""

    dataset: Dataset
    location: Path
    downloaded: tuple[str, ...]  # file names that were missing and have been downloaded
    replaced: tuple[str, ...]  # file names that were damaged and have been downloaded again


def _fetch_target(spec: DatasetSpec, explicit: Path | None) -> Path:
    """The directory :func:`fetch` completes: the copy the user pointed at or would load.

    With an explicit data dir: ``<dir>/<name>`` or ``<dir>`` if either already holds some
    of the files (they are kept and completed), else ``<dir>/<name>``. Without one: the
    first complete copy in lookup order, else ``<cache>/<name>``.
    """
    if explicit is not None:
        for directory in (explicit / spec.name, explicit):
            if (
                directory.is_dir()
                and sources.holds_any_file(spec, directory)
                and foreign_owner_in(spec, directory) is None  # never overwrite those
            ):
                return directory
        return explicit / spec.name
    return sources.locate(spec, None) or sources.cache_dir() / spec.name


def fetch(
    name: str | None = None, *, data_dir: str | os.PathLike[str] | None = None
) -> FetchReport:
    """Make dataset ``name``'s files present and intact; download what is missing or damaged.

    Where: with ``data_dir``, in ``<data_dir>/<name>`` or ``<data_dir>`` itself, whichever
    already holds some of the files (``data_dir`` is created if it does not exist yet, but
    must not be a file); without it, the copy :func:`load` would use, else the user cache.
    Each file found there is verified against its pinned SHA-256, else by structure
    (:mod:`~nnott.data.verify`), so a re-compressed Debian copy is kept while a truncated
    file is downloaded again. Downloads are atomic: if one fails, DatasetError says why and
    every file stays as it was. A damaged copy in a system directory is never written to
    (the OS package owns it); a fresh copy goes to the user cache instead, which the lookup
    order searches first.
    """
    spec = get_spec(DEFAULT_DATASET if name is None else name)
    explicit = None if data_dir is None else sources.check_data_dir(data_dir, must_exist=False)
    if spec.bundled:
        return FetchReport(_read(spec, _bundled_dir()), _bundled_dir(), (), ())
    target = _fetch_target(spec, explicit)
    bad = file_problems(spec, target)  # a directory not made yet: every file missing
    if bad and explicit is None and sources.is_system_dir(target):
        target = sources.cache_dir() / spec.name
        bad = file_problems(spec, target)
    damaged = {role: reason for role, reason in bad.items() if not reason.endswith(": missing")}
    if damaged and (target / "cifar-10-batches-bin").is_dir():
        raise DatasetError(
            f"{target}/{damaged['archive']}; delete {target / 'cifar-10-batches-bin'} "
            "and fetch again (the archive is then read in place)"
        )
    if bad:
        try:
            sources.download(spec, target, roles=list(bad))
        except sources.DownloadError as error:
            if not damaged:
                raise
            raise DatasetError(
                f"{target}/{next(iter(damaged.values()))}; downloading a fresh copy failed: "
                f"{error.reason}; the damaged file was left as it was (delete it, or copy "
                "a good one in its place)"
            ) from None
    try:
        data = _read(spec, target)
    except ForeignDataError:
        raise
    except DatasetError as error:  # every file is fine alone, yet they do not fit together
        raise DatasetError(
            f"{error}; its files come from different datasets: delete {target} and fetch again"
        ) from None
    return FetchReport(
        dataset=data,
        location=target,
        downloaded=tuple(spec.files[role].filename for role in bad if role not in damaged),
        replaced=tuple(spec.files[role].filename for role in damaged),
    )
