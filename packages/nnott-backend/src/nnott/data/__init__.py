"""nnott's datasets, loaders and augmentation.

>>> from nnott.data import load, Standardizer, train_val_split, DataLoader
>>> data = load()                                    # bundled fashion-mnist-small, offline
>>> scaler = Standardizer.fit(data.train_images)     # statistics from training images only
>>> x_train, y_train, x_val, y_val = train_val_split(
...     scaler.transform(data.train_images), data.train_labels, 0.1, seed=0)
>>> loader = DataLoader(x_train, y_train, 64, shuffle=True, seed=0)
>>> for x, y in loader:                              # device batches: float32, int64
...     ...

Modules: :mod:`~nnott.data.dataset` (:class:`Dataset`, :func:`load`), :mod:`~.sources`
(lookup order and downloads), :mod:`~.registry` (names, URLs, checksums), :mod:`~.verify`
(is a file on disk intact?), :mod:`~.idx`
and :mod:`~.cifar` (file formats), :mod:`~.standardize`, :mod:`~.split`, :mod:`~.loader`,
:mod:`~.augment`. ``python -m nnott.data`` (``nnott-data``) lists, describes and fetches.
"""

from nnott.data.dataset import DEFAULT_DATASET, Dataset, FetchReport, available, fetch, info, load
from nnott.data.loader import DataLoader
from nnott.data.registry import DatasetInfo
from nnott.data.split import check_every_class_trains, train_val_split
from nnott.data.standardize import Standardizer

__all__ = [
    "DEFAULT_DATASET",
    "DataLoader",
    "Dataset",
    "DatasetInfo",
    "FetchReport",
    "Standardizer",
    "available",
    "fetch",
    "info",
    "load",
    "check_every_class_trains",
    "train_val_split",
]
