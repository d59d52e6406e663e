"""The ``nnott-scalar`` command line: train the pure-Python MLP on a dataset and report.

    nnott-scalar                                  # bundled data, a small net, about a minute
    nnott-scalar --hidden-sizes 64,32 --hidden-activations relu,tanh --epochs 3
    nnott-scalar --trace --trace-level 3 --hidden-sizes 2 --limit 20 --epochs 1

The default run uses a class-balanced subset of the data (``--limit``, ``--test-limit``)
so that plain Python finishes quickly; the reported samples/s is measured around the
training loop only. Bad flags end in one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import sys
import time
from pathlib import Path
from typing import Any

from nnott.checkpoint import write_bytes_atomic, write_json_atomic
from nnott.cli import (
    add_common_arguments,
    check_distinct_files,
    check_hidden_layer_flags,
    check_plot_dir,
    format_table,
    hidden_activation_names,
    layer_size_list,
    make_parser,
    non_negative_int,
    positive_int,
    reserve_stdout_for_report,
    run_main,
    seed_everything,
    str_list,
    unit_fraction,
    write_json_report,
)
from nnott.data.augment import add_augmentation_arguments, augmentation_from_args
from nnott.errors import ConfigError, DivergenceError
from nnott.metrics import loss_diverged
from nnott.progress import format_rate, progress_bar, set_postfix
from nnott.scalar._version import __version__
from nnott.scalar.activations import ACTIVATION_NAMES, get_activation
from nnott.scalar.augmentation import ListAugmentation
from nnott.scalar.network import Network
from nnott.scalar.optim import SGD
from nnott.scalar.trace import TRACE_LEVELS, Tracer
from nnott.scalar.training import EpochStats, Evaluation, History, evaluate, fit

__all__ = ["PROG", "build_parser", "main", "run"]

PROG = "nnott-scalar"

DEFAULT_EPOCHS = 2
DEFAULT_BATCH_SIZE = 32
DEFAULT_LR = 0.005
DEFAULT_MOMENTUM = 0.9
DEFAULT_LIMIT = 4000
DEFAULT_TEST_LIMIT = 1000
DEFAULT_HIDDEN_SIZES = [32]

HISTORY_JSON = "scalar-history.json"
HISTORY_CSV = "scalar-history.csv"
HISTORY_PNG = "scalar-history.png"
CONFUSION_PNG = "scalar-confusion.png"
MISCLASSIFIED_PNG = "scalar-misclassified.png"
PLOT_FILES = (HISTORY_JSON, HISTORY_CSV, HISTORY_PNG, CONFUSION_PNG, MISCLASSIFIED_PNG)
"""The files ``--plot`` writes into ``--out``."""


def build_parser() -> argparse.ArgumentParser:
    """The parser: the flags every tier shares plus the network, momentum and trace flags."""
    parser = make_parser(
        PROG,
        "Train a multilayer perceptron written as plain Python loops over floats. "
        "Slow on purpose: every multiplication is visible (see --trace).",
        version=__version__,
    )
    add_common_arguments(
        parser,
        epochs=DEFAULT_EPOCHS,
        batch_size=DEFAULT_BATCH_SIZE,
        lr=DEFAULT_LR,
        limit=DEFAULT_LIMIT,
        gpu_help="accepted for symmetry with the other tiers; no effect here (pure Python)",
    )
    parser.add_argument(
        "--test-limit",
        type=positive_int,
        default=DEFAULT_TEST_LIMIT,
        metavar="N",
        help="use a class-balanced subset of N test images (like --limit for training)",
    )
    model = parser.add_argument_group("network")
    model.add_argument(
        "--hidden-sizes",
        type=layer_size_list,
        default=DEFAULT_HIDDEN_SIZES,
        metavar="N,N,...",
        help="neurons per hidden layer, e.g. 64,32 ('' for none: softmax regression)",
    )
    model.add_argument(
        "--hidden-activations",
        type=str_list,
        default=None,
        metavar="NAME,...",
        help="one activation for every hidden layer or one per layer, from "
        f"{', '.join(ACTIVATION_NAMES)} (default: relu for every layer)",
    )
    model.add_argument(
        "--hidden-dropout",
        type=unit_fraction,
        default=0.0,
        metavar="RATE",
        help="inverted dropout after every hidden layer while training, in [0, 1)",
    )
    model.add_argument(
        "--momentum",
        type=unit_fraction,
        default=DEFAULT_MOMENTUM,
        help="SGD momentum in [0, 1): v = momentum*v + g, w = w - lr*v",
    )
    add_augmentation_arguments(parser)
    trace = parser.add_argument_group("trace")
    trace.add_argument(
        "--trace",
        action="store_true",
        help="print every neuron's inputs, sums, activations and gradients for the first "
        "samples, so the numbers can be checked by hand",
    )
    trace.add_argument(
        "--trace-samples",
        type=non_negative_int,
        default=1,
        metavar="N",
        action=_TraceOption,
        help="how many training samples --trace prints",
    )
    trace.add_argument(
        "--trace-level",
        type=int,
        choices=sorted(TRACE_LEVELS),
        default=2,
        action=_TraceOption,
        help="1: vectors per layer, 2: neuron by neuron (long sums cut), 3: everything",
    )
    return parser


class _TraceOption(argparse.Action):
    """Stores a trace option and notes that it was given, so that a run given
    ``--trace-level 3`` without ``--trace`` can say why it printed no trace."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)
        given = getattr(namespace, "trace_options_given", [])
        namespace.trace_options_given = [*given, option_string]


def _note_idle_trace_options(args: argparse.Namespace) -> None:
    """Say on stderr when trace options were given but will print nothing."""
    given = sorted(set(getattr(args, "trace_options_given", [])))
    if given and not args.trace:
        verb = "prints" if len(given) == 1 else "print"
        print(
            f"{PROG}: note: {' and '.join(given)} {verb} nothing without --trace", file=sys.stderr
        )
    elif args.trace and args.trace_samples == 0:
        print(f"{PROG}: note: --trace-samples 0 traces no sample", file=sys.stderr)


def _tracer(args: argparse.Namespace, network: Network, train_samples: int) -> Tracer | None:
    """The ``--trace`` tracer (None without it), warning on stderr first when its output
    would flood a terminal: a 784-input network at level 3, or thousands of samples."""
    if not args.trace:
        return None
    tracer = Tracer(args.trace_samples, args.trace_level)
    traced = min(args.trace_samples, train_samples * args.epochs)
    warning = tracer.size_warning(network.layer_sizes, traced)
    if warning is not None:
        print(f"{PROG}: warning: {warning}", file=sys.stderr, flush=True)
    return tracer


@dataclasses.dataclass
class PreparedData:
    """Standardized, flattened samples as Python lists, plus what plots and reports need."""

    dataset: str
    classes: tuple[str, ...]
    train_inputs: list[list[float]]
    train_labels: list[int]
    val_inputs: list[list[float]]
    val_labels: list[int]
    test_inputs: list[list[float]]
    test_labels: list[int]
    test_images: Any  # uint8 host images, for the misclassified-images figure
    image_shape: tuple[int, int, int]  # (C, H, W) of the flattened samples


def prepare_data(args: argparse.Namespace) -> PreparedData:
    """Load, limit, split off validation, standardize and flatten, converting to lists.

    This is the edge of the scalar tier: NumPy arrays come in from :mod:`nnott.data` and
    leave as nested Python lists of floats.
    """
    from nnott.data import Standardizer, check_every_class_trains, load, train_val_split

    data = load(args.dataset, data_dir=args.data_dir).limit(
        args.limit, args.test_limit, seed=args.seed
    )
    train_images, train_labels, val_images, val_labels = train_val_split(
        data.train_images, data.train_labels, args.val_split, seed=args.seed
    )
    check_every_class_trains(
        train_labels, data.classes, data.name, limit=args.limit, val_split=args.val_split
    )
    scaler = Standardizer.fit(train_images)

    def flat(images: Any) -> list[list[float]]:
        return scaler.transform(images).reshape(len(images), -1).tolist()

    return PreparedData(
        dataset=data.name,
        classes=tuple(data.classes),
        train_inputs=flat(train_images),
        train_labels=train_labels.tolist(),
        val_inputs=flat(val_images) if len(val_images) else [],
        val_labels=val_labels.tolist(),
        test_inputs=flat(data.test_images),
        test_labels=data.test_labels.tolist(),
        test_images=data.test_images,
        image_shape=data.image_shape,
    )


class _BarReporter:
    """Shows a training epoch on a progress bar with the running loss, accuracy and speed."""

    def __init__(self, total: int, description: str, enabled: bool) -> None:
        self.bar = progress_bar(total=total, desc=description, enabled=enabled)
        self.start = time.perf_counter()
        self.samples = 0

    def update(self, samples: int, loss: float, accuracy: float) -> None:
        self.samples += samples
        elapsed = time.perf_counter() - self.start
        self.bar.update(1)
        rate = format_rate(self.samples / elapsed) if elapsed > 0 else "?"
        set_postfix(self.bar, loss=loss, acc=accuracy, speed=rate)

    def close(self) -> None:
        self.bar.close()


def _epoch_line(epochs: int) -> Any:
    def report(epoch: int, stats: EpochStats, validation: Evaluation | None) -> None:
        text = (
            f"epoch {epoch + 1}/{epochs}: train loss {stats.loss:.4f}, "
            f"accuracy {stats.accuracy:.4f}"
        )
        if validation is not None:
            text += f" | val loss {validation.loss:.4f}, accuracy {validation.accuracy:.4f}"
        text += f" | {format_rate(stats.samples_per_s)}"
        print(text, flush=True)

    return report


def _history_table(history: History) -> str:
    rows: list[list[object]] = []
    for epoch in range(len(history.train_loss)):
        row: list[object] = [epoch + 1, history.train_loss[epoch], history.train_accuracy[epoch]]
        if history.val_loss:
            row += [history.val_loss[epoch], history.val_accuracy[epoch]]
        row.append(history.epoch_seconds[epoch])
        rows.append(row)
    headers = ["epoch", "train_loss", "train_acc"]
    if history.val_loss:
        headers += ["val_loss", "val_acc"]
    return format_table(rows, [*headers, "seconds"])


def _history_rows(history: History) -> list[dict[str, float]]:
    """One row per epoch: its number, its curves' values and its seconds."""
    curves = history.curves()
    return [
        {
            "epoch": epoch + 1,
            **{name: values[epoch] for name, values in curves.items()},
            "epoch_seconds": history.epoch_seconds[epoch],
        }
        for epoch in range(len(history.train_loss))
    ]


def _write_history(out: Path, history: History) -> list[Path]:
    """The per-epoch table as ``scalar-history.json`` and ``scalar-history.csv`` in ``out``,
    the files the other tiers write as ``history.json`` and ``history.csv``."""
    rows = _history_rows(history)
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return [
        write_json_atomic(out / HISTORY_JSON, rows),
        write_bytes_atomic(out / HISTORY_CSV, table.getvalue().encode("utf-8")),
    ]


def _write_plots(
    out: Path, history: History, test: Evaluation, data: PreparedData, num_classes: int
) -> list[Path]:
    from nnott.metrics import confusion_matrix
    from nnott.plots import plot_confusion_matrix, plot_history, plot_misclassified

    written = []
    if history.train_loss:
        written.extend(_write_history(out, history))
        written.append(plot_history(history.curves(), out / HISTORY_PNG))
    confusion = confusion_matrix(test.predictions, data.test_labels, num_classes)
    written.append(plot_confusion_matrix(confusion, data.classes, out / CONFUSION_PNG))
    written.append(
        plot_misclassified(
            data.test_images,
            data.test_labels,
            test.predictions,
            data.classes,
            out / MISCLASSIFIED_PNG,
        )
    )
    return written


def run(argv: list[str] | None = None) -> int:
    """Parse ``argv``, train, evaluate and report; raises NnottError for bad input."""
    args = build_parser().parse_args(argv)
    with reserve_stdout_for_report(args.json):
        return _train(args)


def _check_output_paths(args: argparse.Namespace) -> None:
    """Before any work: the ``--out`` of ``--plot`` is usable (also the default one), and
    ``--json`` is neither that directory nor one of the files ``--plot`` writes there (one
    would overwrite the other, or the report fail after training)."""
    check_plot_dir(args)
    files: dict[str, Path | str | None] = {"--json": args.json}
    if args.plot:
        files["the --out directory"] = args.out
        files.update({f"the {name} that --plot writes": args.out / name for name in PLOT_FILES})
    check_distinct_files(files)


def _train(args: argparse.Namespace) -> int:
    _check_output_paths(args)
    if args.gpu:
        print(
            f"{PROG}: note: --gpu has no effect here; the scalar tier is pure Python "
            "(try nnott-vectorized --gpu)",
            file=sys.stderr,
        )
    check_hidden_layer_flags(
        args.hidden_sizes,
        {
            "--hidden-activations": args.hidden_activations is not None,
            "--hidden-dropout": args.hidden_dropout > 0.0,
        },
    )
    activations = hidden_activation_names(
        args.hidden_sizes, args.hidden_activations, get_activation
    )
    augmentation = augmentation_from_args(args)
    if args.trace and augmentation is not None and augmentation.mixes_labels:
        raise ConfigError("--trace explains hard labels; drop --mixup/--cutmix to trace")
    _note_idle_trace_options(args)
    seed_everything(args.seed)

    data = prepare_data(args)
    num_inputs, num_classes = len(data.train_inputs[0]), len(data.classes)
    network = Network(
        [num_inputs, *args.hidden_sizes, num_classes],
        activations,
        hidden_dropout=args.hidden_dropout,
    )
    optimizer = SGD(network, lr=args.lr, momentum=args.momentum)
    print(
        f"{PROG}: network {'-'.join(map(str, network.layer_sizes))} "
        f"({', '.join(a.name for a in network.activations)}), "
        f"{network.num_parameters:,} parameters; {data.dataset}: "
        f"{len(data.train_inputs):,} training, {len(data.val_inputs):,} validation, "
        f"{len(data.test_inputs):,} test samples; pure Python floats",
        flush=True,
    )

    tracer = _tracer(args, network, len(data.train_inputs))
    history = fit(
        network,
        optimizer,
        data.train_inputs,
        data.train_labels,
        epochs=args.epochs,
        batch_size=args.batch_size,
        val_inputs=data.val_inputs,
        val_labels=data.val_labels,
        tracer=tracer,
        progress=lambda total, desc: _BarReporter(total, desc, not args.no_progress),
        on_epoch=_epoch_line(args.epochs),
        augment=(
            ListAugmentation(augmentation, data.image_shape, num_classes, args.seed)
            if augmentation
            else None
        ),
    )
    test = evaluate(network, data.test_inputs, data.test_labels)
    if loss_diverged(test.loss):  # every training loss finite, yet the outputs exploded
        raise DivergenceError(
            f"training diverged: the test loss is {test.loss:.4g}; try a smaller --lr"
        )

    if history.train_loss:
        print(_history_table(history))
    print(
        f"test accuracy {test.accuracy:.4f}, test loss {test.loss:.4f} "
        f"({len(data.test_inputs):,} samples)"
    )
    if history.train_samples:
        print(
            f"training speed {format_rate(history.train_samples_per_s)} "
            f"({history.train_samples:,} samples in {history.train_seconds:.1f} s, "
            "one Python thread)"
        )
    if args.plot:
        for path in _write_plots(args.out, history, test, data, num_classes):
            print(f"wrote {path}")
    if args.json is not None:
        where = write_json_report(args.json, _report(args, network, data, history, test))
        print(f"wrote {where}")
    return 0


def _report(
    args: argparse.Namespace,
    network: Network,
    data: PreparedData,
    history: History,
    test: Evaluation,
) -> dict[str, Any]:
    """The ``--json`` document."""
    config = {key: value for key, value in vars(args).items()}
    config["hidden_activations"] = [a.name for a in network.activations[:-1]]
    return {
        "tier": "scalar",
        "version": __version__,
        "device": "python",
        "dataset": data.dataset,
        "epochs": args.epochs,
        "layer_sizes": network.layer_sizes,
        "num_parameters": network.num_parameters,
        "train_samples": len(data.train_inputs),
        "val_samples": len(data.val_inputs),
        "test_samples": len(data.test_inputs),
        "test_accuracy": test.accuracy,
        "test_loss": test.loss,
        "train_samples_per_s": history.train_samples_per_s,
        "train_seconds": history.train_seconds,
        "history": {**history.curves(), "epoch_seconds": history.epoch_seconds},
        "config": config,
    }


def main(argv: list[str] | None = None) -> int:
    """The console-script entry point: :func:`run` with errors turned into exit codes."""
    return run_main(run, argv, prog=PROG)
