"""nnott.plots: every figure is a real, non-blank PNG, written atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from nnott import plots
from nnott.backend import to_device

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CLASSES = ["tee", "trouser", "bag"]


def _assert_png(path: Path) -> np.ndarray:
    """The file is a PNG with visible content, alone in its directory; returns its pixels."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > 2_000
    pixels = imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert float(pixels[..., :3].std()) > 0.01  # not a blank canvas
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left
    return pixels


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def test_history_with_train_and_validation_curves(tmp_path: Path) -> None:
    history = {
        "train_loss": [1.2, 0.7, 0.5],
        "val_loss": [1.3, 0.9, 0.8],
        "train_accuracy": [0.55, 0.7, 0.8],
        "val_accuracy": [0.5, 0.66, 0.71],
        "epoch_seconds": [1.0, 1.0, 1.0],  # ignored
    }
    path = plots.plot_history(history, tmp_path / "history.png")
    assert path == tmp_path / "history.png"
    two_panels = _assert_png(path)

    only_loss = plots.plot_history({"train_loss": [1.0, 0.5]}, tmp_path / "x" / "loss.png")
    one_panel = _assert_png(only_loss)
    assert two_panels.shape[1] > one_panel.shape[1]  # a panel each for loss and accuracy


def test_history_without_curves_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no loss, accuracy or lr curves"):
        plots.plot_history({"epoch_seconds": [1.0]}, tmp_path / "h.png")


def test_confusion_matrix_from_a_device_array(tmp_path: Path) -> None:
    confusion = to_device(np.array([[5, 1, 0], [2, 7, 1], [0, 0, 9]], dtype=np.int64))
    _assert_png(plots.plot_confusion_matrix(confusion, CLASSES, tmp_path / "cm.png"))
    with pytest.raises(ValueError, match="does not fit 2 class names"):
        plots.plot_confusion_matrix(np.eye(3), CLASSES[:2], tmp_path / "bad.png")


def test_misclassified_images(tmp_path: Path, rng: np.random.Generator) -> None:
    images = rng.integers(0, 256, size=(12, 1, 28, 28), dtype=np.uint8)
    labels = np.arange(12) % 3
    predictions = np.zeros(12, dtype=np.int64)
    _assert_png(
        plots.plot_misclassified(
            images, labels, predictions, CLASSES, tmp_path / "wrong.png", max_images=6
        )
    )


def test_misclassified_when_everything_is_right(tmp_path: Path) -> None:
    images = np.zeros((2, 1, 8, 8), dtype=np.float32)
    labels = np.array([0, 1])
    path = plots.plot_misclassified(images, labels, labels, CLASSES, tmp_path / "none.png")
    assert path.read_bytes()[:8] == PNG_SIGNATURE


def test_filters_in_grey_and_colour(tmp_path: Path, rng: np.random.Generator) -> None:
    grey = rng.normal(size=(6, 1, 5, 5)).astype(np.float32)
    colour = rng.normal(size=(8, 3, 3, 3)).astype(np.float32)
    _assert_png(plots.plot_filters(grey, tmp_path / "grey" / "filters.png"))
    pixels = _assert_png(plots.plot_filters(colour, tmp_path / "colour" / "filters.png"))
    red, green = pixels[..., 0], pixels[..., 1]
    assert not np.allclose(red, green)  # colour filters are drawn in colour


def test_feature_maps(tmp_path: Path, rng: np.random.Generator) -> None:
    maps = rng.normal(size=(40, 12, 12)).astype(np.float32)
    _assert_png(plots.plot_feature_maps(maps, tmp_path / "maps.png", max_maps=9))
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        plots.plot_feature_maps(maps[0], tmp_path / "bad.png")


def test_image_grid(tmp_path: Path, rng: np.random.Generator) -> None:
    images = rng.integers(0, 256, size=(4, 3, 32, 32), dtype=np.uint8)
    _assert_png(plots.plot_image_grid(images, ["a", "b", "c", "d"], tmp_path / "grid.png"))
    with pytest.raises(ValueError, match="4 images but 2 titles"):
        plots.plot_image_grid(images, ["a", "b"], tmp_path / "bad.png")
