"""The figures ``--plot`` writes: training curves, confusion matrices, images, filters.

Every function draws with Matplotlib's object API on its Agg renderer, which needs no
display and never touches the global ``pyplot`` state (so importing nnott in a notebook
does not change the notebook's backend). Each PNG is written atomically, and each function
returns the path it wrote. Inputs are host arrays; device arrays are copied to the host.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from nnott.backend import to_cpu
from nnott.checkpoint import write_bytes_atomic

__all__ = [
    "plot_confusion_matrix",
    "plot_feature_maps",
    "plot_filters",
    "plot_history",
    "plot_image_grid",
    "plot_misclassified",
]

PathLike = str | os.PathLike[str]

_DPI = 100
_ANNOTATE_UP_TO = 20  # write the counts into confusion-matrix cells up to this many classes


def _save(figure: Figure, path: PathLike) -> Path:
    """Render ``figure`` to PNG bytes with Agg and write them atomically."""
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI)
    return write_bytes_atomic(path, buffer.getvalue())


# ------------------------------------------------------------------------------ curves

_PANELS = (
    ("loss", "loss", ("loss",)),
    ("accuracy", "accuracy", ("accuracy", "acc")),
    ("learning rate", "lr", ("lr", "learning_rate")),
)


def _panel_of(key: str) -> str | None:
    for title, _, suffixes in _PANELS:
        if any(key == suffix or key.endswith("_" + suffix) for suffix in suffixes):
            return title
    return None


def _series_label(key: str) -> str:
    """``"val_loss"`` -> ``"val"``: the panel says what, the legend says which split."""
    prefix, _, _ = key.rpartition("_")
    return prefix or key


def plot_history(history: Mapping[str, Sequence[float]], path: PathLike) -> Path:
    """Loss and accuracy per epoch, train against validation, side by side.

    Keys ending in ``loss`` go to the loss panel (``train_loss``, ``val_loss``), keys
    ending in ``accuracy`` or ``acc`` to the accuracy panel, ``lr`` to a learning-rate
    panel; other keys are ignored.
    """
    panels: dict[str, list[str]] = {}
    for key, values in history.items():
        panel = _panel_of(key)
        if panel is not None and len(values) > 0:
            panels.setdefault(panel, []).append(key)
    if not panels:
        raise ValueError(
            "the history has no loss, accuracy or lr curves to plot "
            f"(keys: {', '.join(history) or 'none'})"
        )
    titles = [title for title, _, _ in _PANELS if title in panels]
    figure = Figure(figsize=(5.0 * len(titles), 4.0), layout="constrained")
    for axes, title in zip(figure.subplots(1, len(titles), squeeze=False)[0], titles, strict=True):
        for key in panels[title]:
            curve = numpy.asarray(history[key], dtype=float)
            epochs = numpy.arange(1, len(curve) + 1)
            axes.plot(epochs, curve, marker="o", markersize=3, label=_series_label(key))
        axes.set_title(title)
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
        axes.legend()
        if title == "learning rate":
            axes.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    return _save(figure, path)


# ----------------------------------------------------------------------- confusion matrix


def plot_confusion_matrix(confusion: Any, classes: Sequence[str], path: PathLike) -> Path:
    """A confusion matrix (rows: true class, columns: predicted), coloured by row share.

    Colouring by the share of each row makes rare classes as readable as common ones;
    the cells carry the raw counts when there are at most 20 classes.
    """
    table = numpy.asarray(to_cpu(confusion), dtype=numpy.int64)
    size = table.shape[0]
    if table.shape != (size, size) or len(classes) != size:
        raise ValueError(f"a {table.shape} matrix does not fit {len(classes)} class names")
    totals = table.sum(axis=1, keepdims=True)
    shares = numpy.divide(table, totals, out=numpy.zeros(table.shape), where=totals > 0)
    side = max(4.0, 0.55 * size + 2.5)
    figure = Figure(figsize=(side + 1.0, side), layout="constrained")
    axes = figure.subplots()
    image = axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axes, label="share of the true class")
    axes.set_xticks(range(size), labels=list(classes), rotation=45, ha="right")
    axes.set_yticks(range(size), labels=list(classes))
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    axes.set_title(f"confusion matrix ({int(table.sum())} samples)")
    if size <= _ANNOTATE_UP_TO:
        for row in range(size):
            for column in range(size):
                colour = "white" if shares[row, column] > 0.5 else "black"
                axes.text(
                    column,
                    row,
                    str(table[row, column]),
                    ha="center",
                    va="center",
                    color=colour,
                    fontsize=8,
                )
    return _save(figure, path)


# ------------------------------------------------------------------------- image grids


def _displayable(image: Any) -> tuple[numpy.ndarray, str | None]:
    """One image as (H, W) or (H, W, 3) scaled to [0, 1], and the colour map it needs.

    Accepts (H, W), (1, H, W) and (3, H, W), uint8 or standardised floats.
    """
    array = numpy.asarray(to_cpu(image), dtype=numpy.float64)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    elif array.ndim == 3 and array.shape[0] == 3:
        array = numpy.moveaxis(array, 0, -1)
    elif array.ndim != 2:
        raise ValueError(f"an image is (H, W), (1, H, W) or (3, H, W), not {array.shape}")
    low, high = float(array.min()), float(array.max())
    scaled = (array - low) / (high - low) if high > low else numpy.zeros_like(array)
    return scaled, ("gray" if scaled.ndim == 2 else None)


def _grid_figure(count: int, *, cell: float = 1.6) -> tuple[Figure, list[Axes]]:
    columns = max(1, min(count, math.ceil(math.sqrt(count))))
    rows = max(1, math.ceil(count / columns))
    figure = Figure(figsize=(cell * columns, cell * rows + 0.4), layout="constrained")
    axes = list(figure.subplots(rows, columns, squeeze=False).ravel())
    for each in axes:
        each.set_axis_off()
    return figure, axes


def _draw_grid(
    images: Sequence[Any], titles: Sequence[str], title: str | None, *, cmap: str | None = None
) -> Figure:
    if len(images) != len(titles):
        raise ValueError(f"{len(images)} images but {len(titles)} titles")
    figure, axes = _grid_figure(max(1, len(images)))
    for each, image, caption in zip(axes, images, titles, strict=False):
        pixels, default_cmap = _displayable(image)
        each.imshow(pixels, cmap=cmap or default_cmap, interpolation="nearest")
        each.set_title(caption, fontsize=8)
    if title:
        figure.suptitle(title)
    return figure


def plot_image_grid(images: Any, titles: Sequence[str], path: PathLike) -> Path:
    """Images (N, C, H, W) or (N, H, W) in a square-ish grid, one title each."""
    host = numpy.asarray(to_cpu(images))
    return _save(_draw_grid(list(host), list(titles), None), path)


def plot_misclassified(
    images: Any,
    labels: Any,
    predictions: Any,
    classes: Sequence[str],
    path: PathLike,
    max_images: int = 25,
) -> Path:
    """The first ``max_images`` test images the model got wrong, captioned true → predicted."""
    host_images = numpy.asarray(to_cpu(images))
    true = numpy.asarray(to_cpu(labels)).astype(numpy.int64)
    guessed = numpy.asarray(to_cpu(predictions)).astype(numpy.int64)
    if not len(host_images) == len(true) == len(guessed):
        raise ValueError(
            f"{len(host_images)} images, {len(true)} labels and {len(guessed)} predictions"
        )
    wrong = numpy.flatnonzero(true != guessed)[:max_images]
    if wrong.size == 0:
        figure = Figure(figsize=(4.0, 1.5))
        figure.text(0.5, 0.5, "no misclassified images", ha="center", va="center")
        return _save(figure, path)
    titles = [f"{classes[true[i]]} → {classes[guessed[i]]}" for i in wrong]
    figure = _draw_grid(list(host_images[wrong]), titles, "misclassified (true → predicted)")
    return _save(figure, path)


def plot_filters(weights: Any, path: PathLike) -> Path:
    """A first convolution layer's filters (K, C, kh, kw), one tile per output channel.

    Three input channels are shown in colour; otherwise the tile is the channel mean.
    """
    host = numpy.asarray(to_cpu(weights), dtype=numpy.float64)
    if host.ndim != 4:
        raise ValueError(f"filters are (K, C, kh, kw), not {host.shape}")
    tiles = host if host.shape[1] in (1, 3) else host.mean(axis=1, keepdims=True)
    titles = [str(k) for k in range(len(tiles))]
    figure = _draw_grid(list(tiles), titles, f"{len(tiles)} learned filters")
    return _save(figure, path)


def plot_feature_maps(maps: Any, path: PathLike, max_maps: int = 32) -> Path:
    """The first ``max_maps`` channels of one sample's activations (C, H, W)."""
    host = numpy.asarray(to_cpu(maps), dtype=numpy.float64)
    if host.ndim != 3:
        raise ValueError(f"feature maps are (C, H, W), not {host.shape}")
    shown = host[:max_maps]
    titles = [f"channel {c}" for c in range(len(shown))]
    figure = _draw_grid(
        list(shown), titles, f"feature maps ({len(shown)} of {len(host)})", cmap="viridis"
    )
    return _save(figure, path)
