"""Regenerate nnott's bundled dataset, ``fashion-mnist-small``, byte for byte.

It draws a class-balanced subset of Fashion-MNIST with a fixed seed: 6,000 training images
(600 per class) and 1,000 test images (100 per class), keeping the original order, and
writes them as gzip'd IDX files (gzip mtime 0, no file name in the header) so that the
same input always gives the same bytes. The SHA-256 of each file is printed; they are
pinned in ``nnott/data/registry.py`` and checked by the tests.

    python packages/nnott-backend/scripts/make_bundled_dataset.py \\
        [--source /usr/share/datasets/fashion-mnist] [--out DIR]

The source defaults to the files of Debian's ``dataset-fashion-mnist`` package.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy

from nnott.data.dataset import balanced_indices
from nnott.data.idx import read_idx_images, read_idx_labels, write_idx

SEED = 20240601
TRAIN_SIZE = 6000
TEST_SIZE = 1000
NUM_CLASSES = 10
DEFAULT_SOURCE = Path("/usr/share/datasets/fashion-mnist")
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "nnott" / "data" / "bundled"


def subset(
    images: numpy.ndarray, labels: numpy.ndarray, count: int, salt: int
) -> tuple[numpy.ndarray, numpy.ndarray]:
    """``count`` images, the same number from every class, drawn with the fixed seed."""
    keep = balanced_indices(labels, count, seed=SEED, salt=salt)
    per_class = numpy.bincount(labels[keep], minlength=NUM_CLASSES)
    assert (per_class == count // NUM_CLASSES).all(), per_class
    return images[keep], labels[keep]


def make(source: Path, out: Path) -> dict[str, str]:
    """Write the four files into ``out``; return their SHA-256 by file name."""
    out.mkdir(parents=True, exist_ok=True)
    hashes = {}
    for prefix, count, salt in (("train", TRAIN_SIZE, 0), ("t10k", TEST_SIZE, 1)):
        images = read_idx_images(source / f"{prefix}-images-idx3-ubyte.gz")
        labels = read_idx_labels(source / f"{prefix}-labels-idx1-ubyte.gz", NUM_CLASSES)
        images, labels = subset(images, labels, count, salt)
        for kind, array in (("images-idx3", images[:, 0]), ("labels-idx1", labels)):
            name = f"{prefix}-{kind}-ubyte.gz"
            path = write_idx(out / name, array.astype(numpy.uint8))
            hashes[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    for name, digest in make(args.source, args.out).items():
        size = (args.out / name).stat().st_size
        print(f"{name}  {size:>9,} bytes  sha256 {digest}")


if __name__ == "__main__":
    main()
