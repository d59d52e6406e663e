"""The datasets nnott knows by name: what they are, where they come from, their checksums.

Each remote file is pinned by URL and SHA-256, so a download can be trusted and a changed
file on a server is refused rather than silently trained on. Add a dataset by adding a
:class:`DatasetSpec` to :data:`REGISTRY`.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import numpy

from nnott.errors import DatasetError

__all__ = [
    "REGISTRY",
    "DatasetInfo",
    "DatasetSpec",
    "RemoteFile",
    "foreign_owner",
    "get_spec",
    "label_fingerprint",
    "owner_of_labels",
]

MNIST_LIKE_FILES = ("train_images", "train_labels", "test_images", "test_labels")


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: its name (also its name on disk) and pinned SHA-256."""

    filename: str
    sha256: str
    size: int  # bytes, for `nnott-data list` and the progress bar's expectations


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """Everything nnott needs to find, fetch and read one dataset."""

    name: str
    description: str
    classes: tuple[str, ...]
    image_shape: tuple[int, int, int]  # (C, H, W)
    train_size: int
    test_size: int
    license: str
    homepage: str
    base_url: str  # files are fetched from base_url + filename
    files: dict[str, RemoteFile]  # role -> file; roles: see MNIST_LIKE_FILES or "archive"
    format: str = "idx"  # "idx" (four IDX files) or "cifar10-binary" (one tar.gz)
    bundled: bool = False  # shipped inside the wheel: never searched for nor downloaded
    # SHA-256 of the (train, test) label values as uint8 bytes, where known: what the data
    # *is*, whatever file or compression carries it. The MNIST-like datasets share their
    # file names, so a folder of one is found under the name of another; these
    # fingerprints let :func:`nnott.data.load` refuse Fashion-MNIST loaded as "mnist".
    label_fingerprints: tuple[str, str] | None = None

    @property
    def download_size(self) -> int:
        return sum(file.size for file in self.files.values())


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What :func:`nnott.data.info` reports about one dataset."""

    name: str
    description: str
    classes: tuple[str, ...]
    image_shape: tuple[int, int, int]
    train_size: int
    test_size: int
    license: str
    url: str
    download_size: int
    location: Path | None  # where its files were found on this machine, None if nowhere
    # One "file: reason" per damaged file at ``location``; () when all are intact, None
    # when they were not checked (``info(..., verify=False)``, the default).
    problems: tuple[str, ...] | None = None

    @property
    def present(self) -> bool:
        """True if every file was found (intact or not: see :attr:`problems`)."""
        return self.location is not None

    @property
    def corrupt(self) -> bool:
        """True if the files were checked and at least one of them is damaged."""
        return bool(self.problems)


def label_fingerprint(labels: Any) -> str:
    """SHA-256 of a label array's values as uint8 bytes (see ``label_fingerprints``)."""
    return hashlib.sha256(numpy.asarray(labels, dtype=numpy.uint8).tobytes()).hexdigest()


def owner_of_labels(fingerprint: str) -> str | None:
    """The registered dataset whose train or test labels have this fingerprint, if any."""
    for spec in REGISTRY.values():
        if spec.label_fingerprints and fingerprint in spec.label_fingerprints:
            return spec.name
    return None


def foreign_owner(spec: DatasetSpec, labels: Any) -> str | None:
    """The name of the *other* registered dataset these labels belong to, else None."""
    owner = owner_of_labels(label_fingerprint(labels))
    return owner if owner not in (None, spec.name) else None


def _idx_files(sizes: tuple[int, int, int, int], hashes: tuple[str, str, str, str]) -> dict:
    names = (
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    )
    return {
        role: RemoteFile(name, sha, size)
        for role, name, sha, size in zip(MNIST_LIKE_FILES, names, hashes, sizes, strict=True)
    }


FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

REGISTRY: dict[str, DatasetSpec] = {}


def _register(spec: DatasetSpec) -> None:
    REGISTRY[spec.name] = spec


_register(
    DatasetSpec(
        name="fashion-mnist-small",
        description=(
            "a class-balanced 7,000-image subset of Fashion-MNIST shipped inside the wheel "
            "(works offline)"
        ),
        classes=FASHION_CLASSES,
        image_shape=(1, 28, 28),
        train_size=6000,
        test_size=1000,
        license="MIT (Zalando SE)",
        homepage="https://github.com/zalandoresearch/fashion-mnist",
        base_url="",
        # Written by scripts/make_bundled_dataset.py; the tests check the files against these.
        files=_idx_files(
            (2618837, 3064, 438799, 525),
            (
                "0f2a1d8545d1554498134e203abf528337cca8113e87468e266fbeb5bb241748",
                "a85d816dc3fe14e8fa5daaecaf993e11da64af5959fd5c87d1ff49a22726cfff",
                "58c27f0d11fc33bb5858d4eb6cfaa98308dee37b96af1ca01beec7c453a54639",
                "05c1f434799cbfa97e19a3f5e1b3b0ac8bc9292df756d475076006bd559fe53d",
            ),
        ),
        bundled=True,
    )
)

# SHA-256 of the files as Zalando publishes them (their MD5s match the project README).
# Debian's dataset-fashion-mnist re-gzips the same data without the file name in the gzip
# header, so its .gz files hash differently; local files are checked by structure instead.
_register(
    DatasetSpec(
        name="fashion-mnist",
        description="Zalando's 28x28 grey images of clothing, 10 classes",
        classes=FASHION_CLASSES,
        image_shape=(1, 28, 28),
        train_size=60000,
        test_size=10000,
        license="MIT (Zalando SE)",
        homepage="https://github.com/zalandoresearch/fashion-mnist",
        base_url="https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        files=_idx_files(
            (26421880, 29515, 4422102, 5148),
            (
                "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            ),
        ),
        # computed from Debian's dataset-fashion-mnist (6,000 and 1,000 labels per class)
        label_fingerprints=(
            "657fbd221bfc9f4198cc14b5619cc33ec57c58dd0e47af4d99d6650759e869a7",
            "3d0e6c6ea990b53b6f8f500a41cac93881d981b315f84578b7d915342ade01e9",
        ),
    )
)

_register(
    DatasetSpec(
        name="mnist",
        description="LeCun, Cortes and Burges' 28x28 grey handwritten digits, 10 classes",
        classes=tuple(str(digit) for digit in range(10)),
        image_shape=(1, 28, 28),
        train_size=60000,
        test_size=10000,
        license="CC BY-SA 3.0 (Yann LeCun and Corinna Cortes)",
        homepage="http://yann.lecun.com/exdb/mnist/",
        base_url="https://ossci-datasets.s3.amazonaws.com/mnist/",
        files=_idx_files(
            (9912422, 28881, 1648877, 4542),
            (
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            ),
        ),
    )
)

_register(
    DatasetSpec(
        name="kmnist",
        description="Kuzushiji-MNIST: 28x28 grey cursive Japanese characters, 10 classes",
        classes=("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
        image_shape=(1, 28, 28),
        train_size=60000,
        test_size=10000,
        license="CC BY-SA 4.0 (ROIS-DS CODH; Clanuwat et al. 2018)",
        homepage="https://github.com/rois-codh/kmnist",
        base_url="https://codh.rois.ac.jp/kmnist/dataset/kmnist/",
        files=_idx_files(
            (18165135, 29497, 3041136, 5120),
            (
                "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4",
                "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17",
                "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5",
                "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c",
            ),
        ),
    )
)

_register(
    DatasetSpec(
        name="cifar10",
        description="Krizhevsky's 32x32 colour images, 10 classes (the binary version)",
        classes=(
            "airplane",
            "automobile",
            "bird",
            "cat",
            "deer",
            "dog",
            "frog",
            "horse",
            "ship",
            "truck",
        ),
        image_shape=(3, 32, 32),
        train_size=50000,
        test_size=10000,
        license="no license stated; free to use with citation (Krizhevsky 2009)",
        homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
        base_url="https://www.cs.toronto.edu/~kriz/",
        files={
            "archive": RemoteFile(
                "cifar-10-binary.tar.gz",
                "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
                170052171,
            )
        },
        format="cifar10-binary",
    )
)


def get_spec(name: str) -> DatasetSpec:
    """The registry entry for ``name``; :class:`DatasetError` listing the known names if none."""
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise DatasetError(f"unknown dataset {name!r}; choose one of: {known}") from None
