"""Pages and figures generated at build time from the code and the benchmark results.

Three generators, each switched on by the presence of its source, so the site never shows
a page whose content does not exist yet, and never an empty one:

- **Architecture gallery** (``architectures/*.md``) -- enabled when
  ``nnott.cnn.architectures`` (with its ``ARCHITECTURES`` registry) and ``nnott.cnn.summary``
  import. For every registered name the page holds the registry's description and
  adaptation notes, the history written in ``docs/hooks/history/<name>.md`` (a missing
  history fails the build), the layer table from ``nnott.cnn.summary`` at 1x28x28, and --
  when the benchmark results exist -- the accuracy and throughput measured for it.
- **Performance** (``performance.md``) -- enabled when a results file exists:
  ``$NNOTT_BENCH_RESULTS``, else ``bench-results/results.json``, else
  ``docs/results/benchmarks.json`` (results committed for the published site); a GPU
  run's ``docs/results/benchmarks-gpu.json`` (or ``$NNOTT_BENCH_RESULTS_GPU``) follows on
  the page. Their format is documented in :func:`load_results`.
  ``docs/results/analysis.md``, when present, is the written reading of the committed
  numbers and follows the machine table.
- **Augmentation examples** (``assets/generated/augment-*.png``) -- drawn by
  ``nnott.data.augment`` from the bundled dataset; ``concepts/augmentation.md`` is added
  to the navigation only when that module exists.

Every enabled generator raises :class:`GeneratedContentError` when its input is broken
(an architecture without history, a results file without tables, an augmentation that
fails), which stops ``mkdocs build``.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import pathlib
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = pathlib.Path(__file__).resolve().parents[2]
HISTORY_DIR = pathlib.Path(__file__).resolve().parent / "history"
MAX_TABLE_ROWS = 40  # larger networks get one row per block
# The --augment specs drawn on the augmentation page; "@1" applies an op to every image.
AUGMENT_SPECS = {
    "shift": "shift@1",
    "hflip": "hflip@1",
    "rotate": "rotate@1",
    "noise": "noise@1",
    "cutout": "cutout@1",
    "mixup": "mixup:1.0",
    "cutmix": "cutmix:1.0",
}


class GeneratedContentError(Exception):
    """A build-time generator found its source present but unusable."""


# ------------------------------------------------------------------------- sources


def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def gallery_available() -> bool:
    """True once the CNN package has its registry and its summary (both are needed)."""
    try:
        architectures = importlib.import_module("nnott.cnn.architectures")
        importlib.import_module("nnott.cnn.summary")
    except ImportError:
        return False
    return hasattr(architectures, "ARCHITECTURES")


def results_path() -> pathlib.Path | None:
    """The benchmark results file the site shows, or None when there is none."""
    explicit = _path_from_environment("NNOTT_BENCH_RESULTS")
    if explicit:
        return explicit
    default = ROOT / "bench-results" / "results.json"
    if default.is_file():
        return default
    committed = ROOT / "docs" / "results" / "benchmarks.json"
    return committed if committed.is_file() else None


def gpu_results_path() -> pathlib.Path | None:
    """The results of a GPU run (``run.py --device gpu --update-docs``), shown beside the
    CPU ones: ``$NNOTT_BENCH_RESULTS_GPU``, else ``docs/results/benchmarks-gpu.json``."""
    explicit = _path_from_environment("NNOTT_BENCH_RESULTS_GPU")
    if explicit:
        return explicit
    committed = ROOT / "docs" / "results" / "benchmarks-gpu.json"
    return committed if committed.is_file() else None


def _path_from_environment(variable: str) -> pathlib.Path | None:
    """The file an environment variable names, None when it is unset; an error when it
    names no file (a typo should fail the build, not silently drop a page)."""
    value = os.environ.get(variable)
    if not value:
        return None
    path = pathlib.Path(value)
    if not path.is_file():
        raise GeneratedContentError(f"{variable}={value} is not a file")
    return path


def load_results(path: pathlib.Path) -> dict[str, Any]:
    """Read a benchmark results file.

    The format: ``{"machine": {label: value, ...}, "tables": [{"title": str,
    "columns": [str, ...], "rows": [[cell, ...], ...], "note": str (optional)}, ...],
    "architectures": {name: {"test_accuracy": float, "train_samples_per_s": float,
    "device": str, "epochs": int}, ...} (optional)}``.
    """
    try:
        results = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise GeneratedContentError(f"cannot read the benchmark results {path}: {error}") from None
    if not results.get("machine") or not results.get("tables"):
        raise GeneratedContentError(f"{path} has no 'machine' or no 'tables': nothing to show")
    for table in results["tables"]:
        width = len(table["columns"])
        if any(len(row) != width for row in table["rows"]):
            raise GeneratedContentError(f"{path}: a row of {table['title']!r} has the wrong size")
    return results


# ----------------------------------------------------------------------- markdown


def markdown_table(columns: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table; numbers get thousands separators, floats three significant digits."""

    def cell(value: Any) -> str:
        if isinstance(value, bool) or value is None:
            return str(value)
        if isinstance(value, int):
            return f"{value:,}"
        if isinstance(value, float):
            return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def machine_block(results: dict[str, Any]) -> str:
    rows = [[key, value] for key, value in results["machine"].items()]
    return markdown_table(["machine", ""], rows)


def performance_page(
    results: dict[str, Any],
    source: pathlib.Path,
    gpu: tuple[dict[str, Any], pathlib.Path] | None = None,
) -> str:
    """The performance page: the machine, then every table of the results file; then, when
    a GPU run's results exist, the same for them."""
    shown = source.relative_to(ROOT) if source.is_relative_to(ROOT) else source.name
    parts = [
        "# Performance",
        "",
        "Measured by `nox -s bench`, which runs the tiers and PyTorch in the same session, so "
        f"their ratios are fair. These numbers come from `{shown}`; on your own machine run "
        "`nox -s bench` and compare the ratios rather than the absolute numbers.",
        "",
        "## The machine",
        "",
        machine_block(results),
    ]
    analysis = ROOT / "docs" / "results" / "analysis.md"
    if analysis.exists():  # the written reading of these numbers, committed beside them
        parts += ["", analysis.read_text().strip()]
    parts += _tables(results, "##")
    if gpu is not None:
        gpu_results, gpu_source = gpu
        shown_gpu = (
            gpu_source.relative_to(ROOT) if gpu_source.is_relative_to(ROOT) else gpu_source.name
        )
        parts += [
            "",
            "## On a GPU",
            "",
            f"The same benchmark with `--device gpu` (nnott on CuPy, PyTorch on CUDA), from "
            f"`{shown_gpu}`.",
            "",
            machine_block(gpu_results),
            *_tables(gpu_results, "###"),
        ]
    return "\n".join(parts) + "\n"


def _tables(results: dict[str, Any], heading: str) -> list[str]:
    parts: list[str] = []
    for table in results["tables"]:
        parts += [
            "",
            f"{heading} {table['title']}",
            "",
            markdown_table(table["columns"], table["rows"]),
        ]
        if table.get("note"):
            parts += ["", table["note"]]
    return parts


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def architecture_title(entry: Any) -> str:
    """The short name in a registry description: its text before " (" or ":"."""
    text = entry.description
    cut = min(i for i in (text.find(" ("), text.find(":"), len(text)) if i >= 0)
    return text[:cut].strip() or entry.name


def architecture_page(name: str, entry: Any, results: dict[str, Any] | None) -> str:
    """One gallery page: registry text, history, adaptations, layer table, measurements."""
    history = HISTORY_DIR / f"{name}.md"
    if not history.is_file():
        raise GeneratedContentError(
            f"architecture {name!r} is registered but {history} (its history) is missing"
        )
    from nnott.cnn.summary import summary

    table = summary(entry.build(num_classes=10, in_channels=1, input_size=28), (1, 28, 28))
    grouped = len(table.rows) > MAX_TABLE_ROWS
    if grouped:
        table = table.grouped(2)
    reference = entry.reference
    published = (
        f"{reference.parameters:,} parameters at "
        f"{'x'.join(map(str, reference.input_shape))} with {reference.num_classes} classes "
        f"({reference.source})"
        if reference.parameters
        else f"none: {reference.source}"
    )
    parts = [
        f"# {architecture_title(entry)}",
        "",
        f"`{name}` — {entry.description}.",
        "",
        "## History",
        "",
        history.read_text().strip(),
        "",
        "## Adapted to 28×28",
        "",
        _sentence(entry.adaptations["small"]),
        "",
        f"At 64×64 and larger inputs: {_sentence(entry.adaptations['reference'])}",
        "",
        f"Published parameter count: {published}.",
        "",
        "## Layers at 1×28×28, 10 classes",
        "",
        "Computed when this page was built, by the same function as "
        f"`nnott-cnn summary {name} --input-size 28 --in-channels 1 --num-classes 10"
        + (" --depth 2`, which merges the layers of each block into one row." if grouped else "`.")
        + " FLOPs count a multiply-add as two.",
        "",
        "```text",
        str(table).rstrip(),
        "```",
    ]
    if results is not None:
        parts += ["", "## Measured", ""]
        row = results.get("architectures", {}).get(name)
        if row is None:
            parts.append(
                "The benchmark results this site was built from did not measure this "
                "architecture (see the [performance page](../performance.md) for what they cover)."
            )
            return "\n".join(parts) + "\n"
        parts += [
            markdown_table(
                ["test accuracy", "training samples/s", "device", "budget"],
                [
                    [
                        f"{row['test_accuracy']:.2%}",
                        float(row["train_samples_per_s"]),
                        row["device"],
                        row.get("budget", f"{row['epochs']} epochs"),
                    ]
                ],
            ),
            "",
            "On the machine described on the [performance page](../performance.md). A run "
            "on a subset is a short smoke run: it shows that the network learns, not "
            "the accuracy it reaches when trained to the end.",
        ]
    return "\n".join(parts) + "\n"


# ------------------------------------------------------------------ augmentation


def augmentation_figures() -> dict[str, bytes]:
    """PNG bytes per spec of :data:`AUGMENT_SPECS`: eight bundled images before and after."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy

    from nnott.backend import to_cpu, to_device, use_cpu
    from nnott.data import augment, load

    figures = {}
    with use_cpu():
        dataset = load()
        images = dataset.test_images[:8].astype("float32") / 255.0
        labels = dataset.test_labels[:8]
        for name, spec in AUGMENT_SPECS.items():
            try:
                transform = augment.parse_augment_spec(spec)
                changed, _ = transform(
                    to_device(images), to_device(labels), numpy.random.default_rng(0), 10
                )
            except Exception as error:
                raise GeneratedContentError(f"--augment {spec} failed: {error}") from error
            changed = to_cpu(changed)
            figure, axes = plt.subplots(2, 8, figsize=(8, 2.2))
            for column in range(8):
                for row, batch in enumerate((images, changed)):
                    axes[row, column].imshow(batch[column, 0], cmap="gray", vmin=0, vmax=1)
                    axes[row, column].axis("off")
            figure.suptitle(f"--augment {spec}: originals (top), augmented (bottom)", fontsize=9)
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
            plt.close(figure)
            figures[name] = buffer.getvalue()
    return figures


# ------------------------------------------------------------------------- hooks


class _State:
    """What :func:`on_config` found, for :func:`on_files` to generate."""

    def __init__(self) -> None:
        self.architectures: dict[str, Any] = {}
        self.results: dict[str, Any] | None = None
        self.results_source: pathlib.Path | None = None
        self.gpu: tuple[dict[str, Any], pathlib.Path] | None = None
        self.augmentation = False


_state = _State()


def on_config(config: Any, **kwargs: Any) -> Any:
    """Decide which generated sections exist and add them to the navigation."""
    nav = config["nav"]
    source = results_path()
    _state.results_source = source
    _state.results = load_results(source) if source else None
    gpu_source = gpu_results_path()
    _state.gpu = (load_results(gpu_source), gpu_source) if gpu_source else None
    if gallery_available():
        from nnott.cnn.architectures import ARCHITECTURES

        _state.architectures = dict(ARCHITECTURES)
        gallery = [
            {architecture_title(entry): f"architectures/{name}.md"}
            for name, entry in ARCHITECTURES.items()
        ]
        _insert_before(nav, "nnott-gpucheck", {"Architecture gallery": gallery})
    if _state.results is not None:
        _insert_before(nav, "nnott-gpucheck", {"Performance": "performance.md"})
    _state.augmentation = _importable("nnott.data.augment")
    if _state.augmentation:
        for section in nav:
            if "Concepts" in section:
                section["Concepts"].append({"Augmentation": "concepts/augmentation.md"})
    return config


def _insert_before(nav: list[Any], title: str, item: dict[str, Any]) -> None:
    titles = [next(iter(section)) for section in nav]
    nav.insert(titles.index(title) if title in titles else len(nav), item)


def on_files(files: Files, config: Any, **kwargs: Any) -> Files:
    """Add the generated pages and images to the site."""
    for name, entry in _state.architectures.items():
        content = architecture_page(name, entry, _state.results)
        files.append(File.generated(config, f"architectures/{name}.md", content=content))
    if _state.results is not None and _state.results_source is not None:
        content = performance_page(_state.results, _state.results_source, _state.gpu)
        files.append(File.generated(config, "performance.md", content=content))
    if _state.augmentation:
        for name, png in augmentation_figures().items():
            path = f"assets/generated/augment-{name}.png"
            files.append(File.generated(config, path, content=png))
    else:
        page = files.get_file_from_path("concepts/augmentation.md")
        if page is not None:
            files.remove(page)
    return files
