"""Shared helpers for the nnott.data tests: tiny fake datasets and a local HTTP server."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy
import pytest

from nnott.data import registry, sources
from nnott.data.idx import write_idx

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
needs_real_fashion = pytest.mark.skipif(
    not (FASHION_DIR / "train-images-idx3-ubyte.gz").is_file(),
    reason="needs Debian's dataset-fashion-mnist in /usr/share/datasets (CI installs it)",
)

TINY_SHAPE = (1, 4, 4)
TINY_CLASSES = ("a", "b", "c")


def tiny_arrays(seed: int = 0, train: int = 30, test: int = 12) -> dict[str, numpy.ndarray]:
    """Random uint8 images (N, 4, 4) and labels 0..2, keyed by the MNIST file roles."""
    generator = numpy.random.default_rng(seed)
    return {
        "train_images": generator.integers(0, 256, (train, 4, 4), dtype=numpy.uint8),
        "train_labels": numpy.arange(train, dtype=numpy.uint8) % 3,
        "test_images": generator.integers(0, 256, (test, 4, 4), dtype=numpy.uint8),
        "test_labels": numpy.arange(test, dtype=numpy.uint8) % 3,
    }


FILENAMES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


def write_tiny_dataset(directory: Path, seed: int = 0) -> dict[str, numpy.ndarray]:
    """Write the four IDX files of a tiny dataset into ``directory``; return the arrays."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays = tiny_arrays(seed)
    for role, array in arrays.items():
        write_idx(directory / FILENAMES[role], array)
    return arrays


def tiny_spec(directory: Path, name: str = "tiny") -> registry.DatasetSpec:
    """A registry entry whose pinned checksums are those of the files in ``directory``."""
    files = {}
    for role, filename in FILENAMES.items():
        data = (directory / filename).read_bytes()
        files[role] = registry.RemoteFile(filename, hashlib.sha256(data).hexdigest(), len(data))
    return registry.DatasetSpec(
        name=name,
        description="a tiny test dataset",
        classes=TINY_CLASSES,
        image_shape=TINY_SHAPE,
        train_size=30,
        test_size=12,
        license="test",
        homepage="http://127.0.0.1/",
        base_url="http://127.0.0.1:9/unused/",
        files=files,
    )


@pytest.fixture(name="isolated_dirs")
def isolated_dirs_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Point the cache, the system directory, NNOTT_DATA and the mirror away from the host."""
    places = {name: tmp_path / name for name in ("cache", "system", "env", "explicit", "serve")}
    monkeypatch.setenv("XDG_CACHE_HOME", str(places["cache"]))
    monkeypatch.setattr(sources, "SYSTEM_DATA_DIRS", (places["system"],))
    monkeypatch.delenv(sources.DATA_ENV, raising=False)
    monkeypatch.delenv(sources.MIRROR_ENV, raising=False)
    assert sources.cache_dir().is_relative_to(places["cache"])
    return places


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(name="tiny")
def tiny_fixture(
    isolated_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> registry.DatasetSpec:
    """Register the tiny dataset; its canonical (pinned) files live in the "serve" dir."""
    write_tiny_dataset(isolated_dirs["serve"], seed=0)
    spec = tiny_spec(isolated_dirs["serve"])
    monkeypatch.setitem(registry.REGISTRY, spec.name, spec)
    return spec


@pytest.fixture(name="http_root")
def http_root_fixture(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A directory served over HTTP on 127.0.0.1 (ephemeral port): ``(directory, url)``."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def files_under(directory: Path) -> list[Path]:
    return [path for path in directory.rglob("*") if path.is_file()] if directory.exists() else []
