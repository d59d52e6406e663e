"""The :class:`Dataset` container and :func:`load`, the one way to get images by name.

>>> from nnott.data import load
>>> data = load()                    # the bundled fashion-mnist-small, offline
>>> data.train_images.shape, data.train_images.dtype
((6000, 1, 28, 28), dtype('uint8'))
>>> small = data.limit(600, 100, seed=1)   # class-balanced subset (the CLIs' --limit)
"""

from __future__ import annotations

import dataclasses
import os
from importlib import resources
from pathlib import Path

import numpy

from nnott.data import sources
from nnott.data.cifar import read_cifar10
from nnott.data.idx import read_idx_images, read_idx_labels
from nnott.data.registry import REGISTRY, DatasetInfo, DatasetSpec, get_spec
from nnott.errors import ConfigError, DatasetError

__all__ = ["DEFAULT_DATASET", "Dataset", "available", "balanced_indices", "info", "load"]

DEFAULT_DATASET = "fashion-mnist-small"

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


def _where(spec: DatasetSpec, data_dir: str | os.PathLike[str] | None) -> Path | None:
    if spec.bundled:
        return _bundled_dir()
    return sources.locate(spec, data_dir)


def info(name: str, *, data_dir: str | os.PathLike[str] | None = None) -> DatasetInfo:
    """Description, classes, sizes, license, source and where the files are on this machine."""
    spec = get_spec(name)
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
        location=_where(spec, data_dir),
    )


def _read_idx_dataset(spec: DatasetSpec, location: Path) -> Dataset:
    num_classes = len(spec.classes)

    def path(role: str) -> Path:
        found = sources.find_file(location, spec.files[role].filename)
        if found is None:  # vanished between lookup and reading
            raise DatasetError(f"{location}: missing {spec.files[role].filename}")
        return found

    train_images = read_idx_images(path("train_images"))
    train_labels = read_idx_labels(path("train_labels"), num_classes)
    test_images = read_idx_images(path("test_images"))
    test_labels = read_idx_labels(path("test_labels"), num_classes)
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

    See :mod:`nnott.data.sources` for the lookup order. With ``download=False`` a dataset
    found nowhere raises :class:`~nnott.errors.DatasetError` listing the places searched.
    """
    spec = get_spec(DEFAULT_DATASET if name is None else name)
    location = _where(spec, data_dir)
    if location is None:
        places = "; ".join(sources.searched_places(spec, data_dir))
        if not download:
            raise DatasetError(
                f"dataset {spec.name!r} is not on this machine (searched: {places}); "
                f"run `nnott-data fetch {spec.name}` or allow downloading"
            )
        target = Path(data_dir) / spec.name if data_dir is not None else None
        location = sources.download(spec, target or sources.cache_dir() / spec.name)
    if spec.format == "cifar10-binary":
        arrays = read_cifar10(location)
        return Dataset(spec.name, *arrays, classes=spec.classes)
    return _read_idx_dataset(spec, location)
