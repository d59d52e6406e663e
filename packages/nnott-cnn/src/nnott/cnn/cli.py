"""``nnott-cnn``: list, summarize and train the CNN architectures from the command line.

>>> nnott-cnn list                              # the architectures and their adaptations
>>> nnott-cnn summary resnet18                  # per-layer table at 3x224x224, 1000 classes
>>> nnott-cnn lenet                             # train LeNet-5 on the bundled dataset
>>> nnott-cnn resnet18 --width 0.25 --epochs 2 --augment shift,flip --plot --json run.json
>>> nnott-cnn lenet --load runs/last.safetensors --eval-only

Every training flag (optimizer, schedule, augmentation, early stopping, checkpoints,
``--resume``) comes from :mod:`nnott.vectorized.training_cli`, the same code the
vectorized tier uses; this module adds the architecture (``ARCH``, ``--width``), the
``--summary`` shortcut, ``--load`` and ``--eval-only``, and the CNN figures of ``--plot``
(learned first-layer filters and the feature maps of one test image). Errors a user can
fix end as one line on stderr with exit code 2 (:func:`nnott.cli.run_main`).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nnott.backend import current_device, to_device
from nnott.checkpoint import load_checkpoint
from nnott.cli import (
    DefaultsHelpFormatter,
    OneLineErrorParser,
    check_distinct_files,
    format_table,
    make_parser,
    positive_float,
    positive_int,
    reserve_stdout_for_report,
    user_path,
    write_json_report,
)
from nnott.cnn._version import __version__
from nnott.cnn.architectures import Architecture, Network, get_architecture, list_architectures
from nnott.cnn.functional import InputTooSmallError
from nnott.cnn.summary import summary
from nnott.data import DataLoader, Dataset, Standardizer, info, load
from nnott.errors import CheckpointError, ConfigError
from nnott.metrics import classification_table, confusion_matrix
from nnott.vectorized.trainer import Trainer
from nnott.vectorized.training_cli import (
    EVAL_BATCH_SIZE,
    PreparedData,
    TrainingDefaults,
    add_training_arguments,
    build_optimizer,
    check_checkpoint_file,
    interruptible,
    prepare_data,
    run_config,
    run_files,
    run_training,
    setup_run,
    validate_training_args,
)

__all__ = ["PROG", "build_parser", "list_text", "main"]

PROG = "nnott-cnn"
TIER = "cnn"
CNN_FIGURES = ("filters.png", "feature_maps.png")  # what --plot adds to the vectorized tier's


# ------------------------------------------------------------------------------ parser


def _width(text: str) -> float:
    """An argparse type: the width multiplier, a number in (0, 16]."""
    value = positive_float(text)
    if value > 16.0:
        raise argparse.ArgumentTypeError(f"must be at most 16, not {text!r}")
    return value


def _add_architecture_parser(commands: Any, arch: Architecture) -> None:
    defaults = arch.defaults
    parser = commands.add_parser(
        arch.name,
        help=arch.description,
        description=f"Train {arch.description}. Small inputs: {arch.adaptations['small']}.",
        formatter_class=DefaultsHelpFormatter,
    )
    add_training_arguments(
        parser,
        TrainingDefaults(
            epochs=defaults.epochs,
            batch_size=defaults.batch_size,
            lr=defaults.lr,
            optimizer=defaults.optimizer,
        ),
    )
    group = parser.add_argument_group("architecture")
    group.add_argument(
        "--width",
        type=_width,
        default=1.0,
        help="multiply every hidden channel and unit count, up to 16 (0.25 makes a big model "
        "laptop-sized; a layer keeps at least one channel, or its architecture's multiple)",
    )
    group.add_argument(
        "--summary",
        action="store_true",
        help="print the per-layer table for the dataset's images and exit without training",
    )
    group.add_argument(
        "--load",
        type=user_path,
        default=None,
        metavar="PATH",
        help="start from the weights of this checkpoint (same architecture, width and classes)",
    )
    group.add_argument(
        "--eval-only",
        action="store_true",
        help="with --load: evaluate the checkpoint on the test set, no training",
    )
    parser.set_defaults(arch=arch.name)


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``nnott-cnn``: the ``list`` and ``summary`` commands and one per ARCH."""
    parser = make_parser(
        PROG,
        "Convolutional networks from readable layers: list the architectures, print their "
        "per-layer summary, or train one (nnott-cnn ARCH --help for the flags).",
        version=__version__,
    )
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=OneLineErrorParser
    )
    commands.add_parser(
        "list", help="show the architectures and how each is adapted to small images"
    )
    table = commands.add_parser(
        "summary",
        help="per-layer table: output shape, parameters, FLOPs, activation memory",
        formatter_class=DefaultsHelpFormatter,
    )
    table.add_argument("arch", metavar="ARCH", help="an architecture (see: nnott-cnn list)")
    table.add_argument("--width", type=_width, default=1.0, help="width multiplier")
    table.add_argument(
        "--input-size",
        type=positive_int,
        default=None,
        metavar="N",
        help="height and width of the input (default: the reference input, 224 for most)",
    )
    table.add_argument(
        "--in-channels",
        type=positive_int,
        default=None,
        metavar="C",
        help="input channels (default: the reference input's)",
    )
    table.add_argument(
        "--num-classes",
        type=positive_int,
        default=None,
        metavar="K",
        help="classes (default: the reference's, 1000 for most)",
    )
    table.add_argument(
        "--batch-size", type=positive_int, default=1, help="scales FLOPs and activation memory"
    )
    table.add_argument(
        "--depth",
        type=positive_int,
        default=None,
        metavar="D",
        help="merge the rows below D name parts (1: one row per stage)",
    )
    for arch in list_architectures():
        _add_architecture_parser(commands, arch)
    for command in commands.choices.values():  # `nnott-cnn lenet --version` works too
        command.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    return parser


# ------------------------------------------------------------------- list and summary


def list_text() -> str:
    """The text of ``nnott-cnn list``: a table, then each architecture's adaptation notes."""
    rows = []
    for arch in list_architectures():
        ref = arch.reference
        # A published count where there is one (`summary` checks ours against it); for
        # nnott's own small models, the count of the model built at that input.
        count = ref.parameters
        if count is None:
            count = arch.build(
                num_classes=ref.num_classes,
                in_channels=ref.input_shape[0],
                input_size=ref.input_shape[1],
            ).num_parameters()
        parameters = f"{count:,}"
        reference = f"{'x'.join(map(str, ref.input_shape))}, {ref.num_classes} classes"
        defaults = f"{arch.defaults.optimizer} lr {arch.defaults.lr:g}, {arch.defaults.epochs} ep"
        rows.append([arch.name, parameters, reference, defaults])
    lines = [format_table(rows, ["architecture", "parameters", "at input", "CLI defaults"]), ""]
    for arch in list_architectures():
        lines.append(f"{arch.name}: {arch.description}")
        for key, label in (("small", "small inputs"), ("reference", "from 64x64")):
            note = f"{label}: {arch.adaptations[key]}"
            lines.extend(textwrap.wrap(note, 96, initial_indent="  ", subsequent_indent="    "))
    return "\n".join(lines)


@contextlib.contextmanager
def _input_size_context(arch: Architecture, size: int) -> Iterator[None]:
    """Say which input was too small when a layer deep inside finds its input smaller than
    its kernel (that layer only knows its own, already shrunken, input size)."""
    try:
        yield
    except InputTooSmallError as error:
        raise ConfigError(
            f"{size}x{size} images are too small for {arch.name}: after its earlier layers "
            f"shrink them, one layer's {error}"
        ) from None


def _summary_command(args: argparse.Namespace) -> int:
    arch = get_architecture(args.arch)
    ref = arch.reference
    in_channels = args.in_channels or ref.input_shape[0]
    input_size = args.input_size or ref.input_shape[1]
    with _input_size_context(arch, input_size):
        model = arch.build(
            num_classes=args.num_classes or ref.num_classes,
            in_channels=in_channels,
            width=args.width,
            input_size=input_size,
        )
        table = summary(
            model,
            (in_channels, input_size, input_size),
            batch_size=args.batch_size,
            depth=args.depth,
        )
    print(f"{arch.name} (width {args.width:g}): {arch.adaptation_for(input_size)}")
    print(table)
    if ref.parameters is not None and (
        (in_channels, input_size, input_size) == ref.input_shape
        and (args.num_classes or ref.num_classes) == ref.num_classes
        and args.width == 1.0
    ):
        verdict = "matches" if table.total_parameters == ref.parameters else "DIFFERS FROM"
        print(f"{verdict} the published {ref.parameters:,} parameters ({ref.source})")
    return 0


# -------------------------------------------------------------------------- training


def _validate_cnn_args(args: argparse.Namespace) -> None:
    if args.eval_only and args.load is None:
        raise ConfigError("--eval-only evaluates a saved model; give it with --load PATH")
    if args.load is not None and args.resume is not None:
        raise ConfigError(
            "--load starts a new run from saved weights, --resume continues one; give only one"
        )
    check_checkpoint_file("--load", args.load)
    check_distinct_files(run_files(args, figures=CNN_FIGURES, loaded=args.load))


def _image_geometry(image_shape: tuple[int, int, int]) -> tuple[int, int]:
    channels, height, width = image_shape
    if height != width:
        raise ConfigError(f"the architectures take square images, not {height}x{width}")
    return channels, height


def _build(arch: Architecture, args: argparse.Namespace, shape: tuple[int, int, int], k: int):
    channels, size = _image_geometry(shape)
    with _input_size_context(arch, size):
        return arch.build(num_classes=k, in_channels=channels, width=args.width, input_size=size)


def _check_checkpoint_fits(path: Path, metadata: dict[str, Any], args: argparse.Namespace) -> None:
    """Refuse, in one line, a checkpoint of another architecture or width."""
    config = metadata.get("config") or {}
    saved_arch = config.get("arch")
    if saved_arch is None:
        tier = metadata.get("tier", "unknown")
        raise CheckpointError(
            f"{path} was not written by {PROG} (tier {tier}); it holds no CNN architecture"
        )
    if saved_arch != args.arch:
        raise CheckpointError(
            f"{path} holds a {saved_arch} model, not a {args.arch}; "
            f"run: {PROG} {saved_arch} --load {path}"
        )
    saved_width = config.get("width", 1.0)
    if saved_width != args.width:
        raise CheckpointError(
            f"{path} holds a {saved_arch} of width {saved_width:g}; give --width {saved_width:g}"
        )


def _check_same_classes(path: Path, metadata: dict[str, Any], dataset: Dataset) -> None:
    """Refuse a model whose outputs mean other classes than ``dataset``'s.

    The weights of a 10-class MNIST model fit a 10-class Fashion-MNIST model, but its
    output 3 means the digit 3, not a dress: evaluating or fine-tuning it there would
    report nonsense without a word. The same classes under another dataset name (the
    bundled sample and the full Fashion-MNIST) are fine.
    """
    saved = metadata.get("classes")
    if saved is None or list(saved) == list(dataset.classes):
        return
    trained_on = metadata.get("dataset", "another dataset")
    raise CheckpointError(
        f"{path} was trained on {trained_on}, whose {len(saved)} classes are not those of "
        f"{dataset.name}; give --dataset {trained_on}"
    )


def _load_weights(
    path: Path, model: Network, args: argparse.Namespace, dataset: Dataset
) -> dict[str, Any]:
    """Copy the model weights of a trainer checkpoint into ``model``; returns its metadata."""
    checkpoint = load_checkpoint(path)
    _check_checkpoint_fits(path, checkpoint.metadata, args)
    _check_same_classes(path, checkpoint.metadata, dataset)
    prefix = "model."
    state = {
        name[len(prefix) :]: array
        for name, array in checkpoint.tensors.items()
        if name.startswith(prefix)
    }
    try:
        model.load_state_dict(state)
    except CheckpointError as error:
        raise CheckpointError(f"cannot load {path}: {error}") from None
    return checkpoint.metadata


def _evaluate_only(
    args: argparse.Namespace, arch: Architecture, dataset: Dataset, path: Path
) -> dict[str, Any]:
    """Evaluate a saved model on the test set, standardized as it was in training."""
    model = _build(arch, args, dataset.image_shape, dataset.num_classes)
    metadata = _load_weights(path, model, args, dataset)
    saved = metadata.get("standardizer")
    if saved is None:
        raise CheckpointError(f"{path} does not say how its inputs were standardized")
    standardizer = Standardizer.from_dict(saved)
    loader = DataLoader(
        standardizer.transform(dataset.test_images),
        dataset.test_labels,
        EVAL_BATCH_SIZE,
        num_classes=dataset.num_classes,
    )
    trainer = Trainer(model, build_optimizer(args, model.parameters()), progress=False)
    test = trainer.evaluate(loader)
    confusion = confusion_matrix(test.predictions, test.labels, dataset.num_classes)
    report: dict[str, Any] = {
        "tier": TIER,
        "arch": arch.name,
        "mode": "eval-only",
        "checkpoint": str(path),
        "test_accuracy": test.accuracy,
        "test_loss": test.loss,
        "epochs": int(metadata.get("epoch", 0)),
        "train_samples_per_s": None,
        "device": current_device(),
        "dataset": dataset.name,
        "test_samples": test.num_samples,
        "num_parameters": model.num_parameters(),
        "config": run_config(args),
    }
    if args.json is not None:
        write_json_report(args.json, report)
    print(classification_table(confusion, dataset.classes))
    print()
    rows = [
        ["test accuracy", f"{test.accuracy:.4f}"],
        ["test loss", f"{test.loss:.4f}"],
        ["trained epochs", str(report["epochs"])],
        ["device", report["device"]],
    ]
    print(format_table(rows, ["result", "value"]))
    return report


def _plot_cnn_figures(model: Network, data: PreparedData, out: Path) -> dict[str, str]:
    """The learned first-layer filters and their feature maps for the first test image."""
    from nnott.plots import plot_feature_maps, plot_filters

    first = model.first_conv()
    image = data.standardizer.transform(data.dataset.test_images[:1])
    maps = first.forward(to_device(image))[0]
    return {
        "filters": str(plot_filters(first.weight.data, out / CNN_FIGURES[0])),
        "feature_maps": str(plot_feature_maps(maps, out / CNN_FIGURES[1])),
    }


def _train_command(args: argparse.Namespace) -> int:
    arch = get_architecture(args.arch)
    validate_training_args(args)
    _validate_cnn_args(args)
    setup_run(args, prog=PROG)
    if args.summary:
        facts = info(args.dataset, data_dir=args.data_dir)
        model = _build(arch, args, facts.image_shape, len(facts.classes))
        print(
            f"{arch.name} (width {args.width:g}) on {facts.name}: "
            f"{arch.adaptation_for(facts.image_shape[1])}"
        )
        print(summary(model, facts.image_shape, batch_size=args.batch_size))
        return 0
    if args.eval_only:
        _evaluate_only(args, arch, load(args.dataset, data_dir=args.data_dir), args.load)
        return 0
    resume_checkpoint = None
    if args.resume is not None:  # checked before the data is loaded, and read only once
        resume_checkpoint = load_checkpoint(args.resume)
        _check_checkpoint_fits(args.resume, resume_checkpoint.metadata, args)
    data = prepare_data(args)
    model = _build(arch, args, data.dataset.image_shape, data.dataset.num_classes)
    if args.load is not None:
        _load_weights(args.load, model, args, data.dataset)
        print(f"{PROG}: loaded the weights of {args.load}", file=sys.stderr)
    channels, size = _image_geometry(data.dataset.image_shape)
    extra = {
        "arch": arch.name,
        "width": args.width,
        "architecture": {
            "name": arch.name,
            "description": arch.description,
            "adaptation": arch.adaptation_for(size),
            "input_shape": [channels, size, size],
        },
    }
    run_training(
        args,
        model,
        tier_name=TIER,
        data=data,
        prog=PROG,
        extra_report=extra,
        extra_figures=lambda out: _plot_cnn_figures(model, data, out),
        resume_checkpoint=resume_checkpoint,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the command; returns the exit code (0).

    Ctrl-C and SIGTERM end a training run in one line (see
    :func:`~nnott.vectorized.training_cli.interruptible`).
    """
    args = build_parser().parse_args(argv)
    if args.command == "list":
        print(list_text())
        return 0
    if args.command == "summary":
        return _summary_command(args)
    with reserve_stdout_for_report(args.json), interruptible(PROG, args.checkpoint_dir):
        return _train_command(args)
