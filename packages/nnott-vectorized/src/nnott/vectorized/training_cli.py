"""The training command line shared by ``nnott-vectorized`` and ``nnott-cnn``.

Both tiers train a classifier the same way; only the model differs. This module holds
everything else, so that the CNN command line is this one plus an architecture argument:

>>> parser = make_parser("nnott-cnn", "Train a CNN.")
>>> add_training_arguments(parser, TrainingDefaults(epochs=3, lr=1e-3))
>>> parser.add_argument("arch")                     # the tier's own flags
>>> def main(argv):
...     args = parser.parse_args(argv)
...     validate_training_args(args)
...     setup_run(args, prog="nnott-cnn")            # device (--gpu fallback) and seed
...     data = prepare_data(args)                     # loaders, dataset, standardizer
...     model = build_my_model(args, data.dataset)    # on the chosen device
...     run_training(args, model, tier_name="cnn", data=data, prog="nnott-cnn")

- :func:`add_training_arguments` adds every training flag (the shared ones of
  :func:`nnott.cli.add_common_arguments`, the optimizer, schedule, regularisation,
  early-stopping, checkpoint and augmentation flags);
- :func:`validate_training_args` refuses combinations argparse cannot see;
- :func:`setup_run` picks the device (one warning line and the CPU when ``--gpu`` cannot
  be honoured) and seeds every generator;
- :func:`prepare_data` loads the dataset, splits off validation, standardises with
  training statistics and builds the three loaders (images stay ``(N, C, H, W)``);
- :func:`build_optimizer` and :func:`build_schedule` turn flags into objects;
- :func:`run_training` trains, evaluates on the test set, writes the history, the plots and
  the JSON report, prints the results table, and returns the report;
- :func:`interruptible` ends a command stopped by Ctrl-C or SIGTERM in one line that says
  where the last complete checkpoint is.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import math
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy

from nnott.backend import current_device
from nnott.checkpoint import Checkpoint
from nnott.cli import (
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    Terminated,
    add_common_arguments,
    check_distinct_files,
    check_plot_dir,
    format_table,
    non_negative_int,
    output_dir,
    positive_float,
    positive_int,
    positive_int_list,
    same_file,
    seed_everything,
    select_device,
    unit_fraction,
    user_path,
    write_json_report,
)
from nnott.data import (
    DataLoader,
    Dataset,
    Standardizer,
    check_every_class_trains,
    load,
    train_val_split,
)
from nnott.data.augment import add_augmentation_arguments, augmentation_from_args
from nnott.errors import ConfigError, DivergenceError
from nnott.metrics import classification_table, confusion_matrix, loss_diverged, precision_recall
from nnott.progress import format_rate
from nnott.vectorized.callbacks import EarlyStopping
from nnott.vectorized.losses import SoftmaxCrossEntropy
from nnott.vectorized.module import Module
from nnott.vectorized.optim import OPTIMIZERS, Lookahead
from nnott.vectorized.schedules import SCHEDULES, get_schedule
from nnott.vectorized.trainer import BEST_CHECKPOINT, LAST_CHECKPOINT, Evaluation, Trainer

__all__ = [
    "EVAL_BATCH_SIZE",
    "FEATURE_FLAGS",
    "FeatureFlag",
    "PreparedData",
    "TrainingDefaults",
    "add_training_arguments",
    "build_optimizer",
    "build_schedule",
    "changed_settings",
    "check_checkpoint_file",
    "interruptible",
    "prepare_data",
    "results_table",
    "resume_warnings",
    "run_config",
    "run_training",
    "setup_run",
    "validate_training_args",
]

EVAL_BATCH_SIZE = 512
"""Batch size for validation and test passes (no gradients kept, so larger is cheaper)."""


# ------------------------------------------------------------------------------- flags


@dataclass(frozen=True)
class TrainingDefaults:
    """A tier's defaults for the shared flags (each tier picks what suits its speed)."""

    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    limit: int | None = None
    optimizer: str = "adam"
    lr_schedule: str = "constant"


def _non_negative_float(text: str) -> float:
    """An argparse type: a finite number >= 0 (weight decay, momentum, min-lr)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0.0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, not {text!r}")
    return value


@dataclass(frozen=True)
class FeatureFlag:
    """A flag that tunes one feature (a schedule, early stopping, Lookahead) and nothing else.

    Its parser default is None, so that :func:`validate_training_args` can tell a flag the
    user gave from one left alone: given while its feature is off, it would silently change
    nothing, and that is refused. Left alone, it gets ``default``.
    """

    dest: str
    default: Any
    feature: str  # what the flag needs, as the error message names it
    applies: Callable[[argparse.Namespace], bool]

    @property
    def flag(self) -> str:
        return "--" + self.dest.replace("_", "-")


def _schedule_in(*names: str) -> Callable[[argparse.Namespace], bool]:
    return lambda args: args.lr_schedule in names


FEATURE_FLAGS: tuple[FeatureFlag, ...] = (
    FeatureFlag("warmup_epochs", 0, "--lr-schedule cosine", _schedule_in("cosine")),
    FeatureFlag("min_lr", 0.0, "--lr-schedule cosine", _schedule_in("cosine")),
    FeatureFlag(
        "lr_gamma",
        None,  # each schedule's own: 0.1 for step, multistep and plateau, 0.95 exponential
        "--lr-schedule step, multistep, exponential or plateau",
        _schedule_in("step", "multistep", "exponential", "plateau"),
    ),
    FeatureFlag("lr_step_epochs", None, "--lr-schedule step", _schedule_in("step")),
    FeatureFlag("lr_milestones", None, "--lr-schedule multistep", _schedule_in("multistep")),
    FeatureFlag("plateau_patience", 2, "--lr-schedule plateau", _schedule_in("plateau")),
    FeatureFlag("patience", 3, "--early-stopping", lambda args: args.early_stopping),
    FeatureFlag("min_delta", 0.0, "--early-stopping", lambda args: args.early_stopping),
    FeatureFlag("lookahead_k", 5, "--lookahead", lambda args: args.lookahead),
    FeatureFlag("lookahead_alpha", 0.5, "--lookahead", lambda args: args.lookahead),
)
"""Every :class:`FeatureFlag` of the training command lines, with its default."""


def add_training_arguments(
    parser: argparse.ArgumentParser, defaults: TrainingDefaults | None = None
) -> None:
    """Add every training flag to ``parser`` (see the module docstring for the list).

    The parsed names: the common ones of :func:`nnott.cli.add_common_arguments`, then
    ``optimizer momentum weight_decay lookahead lookahead_k lookahead_alpha grad_clip
    label_smoothing lr_schedule warmup_epochs min_lr lr_gamma lr_step_epochs lr_milestones
    plateau_patience early_stopping patience min_delta checkpoint_dir resume`` and the
    augmentation flags of :func:`nnott.data.augment.add_augmentation_arguments`.
    """
    defaults = defaults or TrainingDefaults()
    add_common_arguments(
        parser,
        epochs=defaults.epochs,
        batch_size=defaults.batch_size,
        lr=defaults.lr,
        limit=defaults.limit,
    )
    optimizer = parser.add_argument_group("optimizer")
    optimizer.add_argument(
        "--optimizer", choices=sorted(OPTIMIZERS), default=defaults.optimizer, help="update rule"
    )
    optimizer.add_argument(
        "--momentum",
        type=unit_fraction,
        default=None,
        help="momentum of sgd and rmsprop, in [0, 1) (default: 0.9 for sgd, 0 for rmsprop)",
    )
    optimizer.add_argument(
        "--weight-decay",
        type=_non_negative_float,
        default=None,
        help="L2 penalty (decoupled for adamw; default: 0.01 for adamw, else 0)",
    )
    optimizer.add_argument(
        "--lookahead", action="store_true", help="wrap the optimizer in Lookahead"
    )
    optimizer.add_argument(
        "--lookahead-k",
        type=positive_int,
        default=None,
        metavar="K",
        help="Lookahead sync period (default: 5)",
    )
    optimizer.add_argument(
        "--lookahead-alpha",
        type=positive_float,
        default=None,
        metavar="ALPHA",
        help="Lookahead slow-weight step, in (0, 1] (default: 0.5)",
    )
    optimizer.add_argument(
        "--grad-clip",
        type=positive_float,
        default=None,
        metavar="NORM",
        help="clip the global gradient norm to NORM (default: no clipping)",
    )
    optimizer.add_argument(
        "--label-smoothing",
        type=unit_fraction,
        default=0.0,
        metavar="EPS",
        help="mix EPS of a uniform distribution into the targets, EPS in [0, 1)",
    )

    schedule = parser.add_argument_group("learning-rate schedule")
    schedule.add_argument(
        "--lr-schedule",
        choices=SCHEDULES,
        default=defaults.lr_schedule,
        help="how the learning rate changes (plateau watches the validation loss)",
    )
    schedule.add_argument(
        "--warmup-epochs",
        type=non_negative_int,
        default=None,
        metavar="N",
        help="linear warm-up epochs before the cosine decay (default: 0)",
    )
    schedule.add_argument(
        "--min-lr",
        type=_non_negative_float,
        default=None,
        help="the cosine schedule's floor, below --lr (default: 0)",
    )
    schedule.add_argument(
        "--lr-gamma",
        type=positive_float,
        default=None,
        metavar="GAMMA",
        help="decay factor, below 1, of step/multistep/exponential (per epoch) and plateau "
        "(default: 0.1; 0.95 for exponential)",
    )
    schedule.add_argument(
        "--lr-step-epochs",
        type=positive_int,
        default=None,
        metavar="N",
        help="the step schedule decays every N epochs (default: a third of the run)",
    )
    schedule.add_argument(
        "--lr-milestones",
        type=positive_int_list,
        default=None,
        metavar="E1,E2",
        help="increasing epochs where the multistep schedule decays "
        "(default: 1/2 and 3/4 of the run)",
    )
    schedule.add_argument(
        "--plateau-patience",
        type=non_negative_int,
        default=None,
        metavar="N",
        help="epochs without improvement before plateau lowers the rate (default: 2)",
    )

    stopping = parser.add_argument_group("early stopping and checkpoints")
    stopping.add_argument(
        "--early-stopping",
        action="store_true",
        help="stop when the validation loss stops improving; restore the best weights",
    )
    stopping.add_argument(
        "--patience",
        type=positive_int,
        default=None,
        help="epochs without improvement before early stopping (default: 3)",
    )
    stopping.add_argument(
        "--min-delta",
        type=_non_negative_float,
        default=None,
        help="the least decrease of the validation loss that counts as an improvement (default: 0)",
    )
    stopping.add_argument(
        "--checkpoint-dir",
        type=output_dir,
        default=None,
        metavar="DIR",
        help="write last.safetensors (every epoch) and best.safetensors here (default: none)",
    )
    stopping.add_argument(
        "--resume",
        type=user_path,
        default=None,
        metavar="PATH",
        help="continue the run saved in this checkpoint; --epochs is the total to reach "
        "(give the original run's flags)",
    )
    add_augmentation_arguments(parser)


def validate_training_args(args: argparse.Namespace) -> None:
    """Refuse flag combinations that parse but cannot work (raises :class:`ConfigError`).

    Also refuses a :data:`FEATURE_FLAGS` flag given while its feature is off (it would
    change nothing), then fills in the defaults of those left alone, so that everything
    after this call, the run's recorded configuration included, sees concrete values.
    """
    for feature_flag in FEATURE_FLAGS:
        value = getattr(args, feature_flag.dest)
        if value is None:
            setattr(args, feature_flag.dest, feature_flag.default)
        elif not feature_flag.applies(args):
            raise ConfigError(
                f"{feature_flag.flag} has no effect without {feature_flag.feature}; "
                "drop it or turn that on"
            )
    if args.momentum is not None and args.optimizer not in ("sgd", "rmsprop"):
        raise ConfigError(f"--momentum applies to sgd and rmsprop, not {args.optimizer}")
    if args.early_stopping and args.val_split == 0.0:
        raise ConfigError("--early-stopping watches the validation loss; give --val-split > 0")
    if args.lr_schedule == "plateau" and args.val_split == 0.0:
        raise ConfigError("--lr-schedule plateau watches the validation loss; give --val-split > 0")
    _check_schedule_lengths(args)
    if args.lr_gamma is not None and args.lr_gamma >= 1.0:
        raise ConfigError(
            f"--lr-gamma is the factor the rate is multiplied by when it decays; "
            f"it must be below 1, not {args.lr_gamma:g}"
        )
    if args.lr_schedule == "cosine" and args.min_lr >= args.lr:
        raise ConfigError(
            f"--min-lr ({args.min_lr:g}) must be below --lr ({args.lr:g}): "
            "the cosine schedule decays from --lr down to --min-lr"
        )
    if args.lookahead_alpha > 1.0:
        raise ConfigError(f"--lookahead-alpha must be at most 1, not {args.lookahead_alpha}")
    augmentation_from_args(args)  # refuses --mixup given twice and the like, before the data
    check_checkpoint_file("--resume", args.resume)
    _check_checkpoint_dir_is_free(args)
    check_plot_dir(args)
    check_distinct_files(run_files(args))


PLOT_FILES: tuple[str, ...] = (
    "history.json",
    "history.csv",
    "history.png",
    "confusion_matrix.png",
    "misclassified.png",
)
"""The files ``--plot`` writes into ``--out`` (the CNN tier adds its own)."""

HISTORY_FILES = ("history.json", "history.csv")
"""The files written into ``--checkpoint-dir`` besides the checkpoints."""


def run_files(
    args: argparse.Namespace, *, figures: Sequence[str] = (), loaded: Path | None = None
) -> dict[str, Path | str | None]:
    """Every file the run reads or writes, by role, for :func:`nnott.cli.check_distinct_files`.

    ``figures`` are a tier's own files in ``--out`` with ``--plot``, ``loaded`` a checkpoint
    it reads weights from (``--load``). Two roles that are meant to share a file are left
    out: the ``--resume`` checkpoint in its own ``--checkpoint-dir`` (a run continued where
    it was saved) and the history files when ``--out`` is the ``--checkpoint-dir``.
    """
    files: dict[str, Path | str | None] = {
        "--json": args.json,
        "the --resume checkpoint": args.resume,
        "the --load checkpoint": loaded,
    }
    folder = args.checkpoint_dir
    if folder is not None:
        for name in (LAST_CHECKPOINT, BEST_CHECKPOINT, *HISTORY_FILES):
            path = folder / name
            if args.resume is None or not same_file(path, args.resume):
                files[f"the {name} written in --checkpoint-dir"] = path
    if args.plot:
        files["the --out directory"] = args.out
        shared = folder is not None and same_file(folder, args.out)
        for name in (*PLOT_FILES, *figures):
            if not (shared and name in HISTORY_FILES):
                files[f"the {name} that --plot writes"] = args.out / name
    return files


def check_checkpoint_file(flag: str, path: Path | None) -> None:
    """Refuse a ``--resume``/``--load`` path that is no file, saying what it is instead."""
    if path is None:
        return
    try:
        if path.is_file():
            return
        is_dir = path.is_dir()
    except OSError as error:  # a name too long, a link that loops
        raise ConfigError(f"{flag}: cannot use {path}: {error.strerror or error}") from None
    if is_dir:
        raise ConfigError(
            f"{flag}: {path} is a directory; give a checkpoint file in it, "
            f"such as {path / LAST_CHECKPOINT}"
        )
    raise ConfigError(f"{flag}: no checkpoint file at {path}")


def _check_checkpoint_dir_is_free(args: argparse.Namespace) -> None:
    """Refuse a ``--checkpoint-dir`` that holds the checkpoints of another run.

    A new run would overwrite them after its first epoch, and that earlier work would be
    lost. Continuing a run saved there (``--resume`` of a file in that directory) is fine.
    """
    folder = args.checkpoint_dir
    if folder is None:
        return
    existing = [name for name in (LAST_CHECKPOINT, BEST_CHECKPOINT) if (folder / name).exists()]
    if not existing:
        return
    if args.resume is not None and args.resume.resolve().parent == folder.resolve():
        return
    raise ConfigError(
        f"--checkpoint-dir {folder} already holds the checkpoints of a run "
        f"({', '.join(existing)}), which this run would overwrite; continue that run with "
        f"--resume {folder / existing[0]}, or give another --checkpoint-dir"
    )


def _check_schedule_lengths(args: argparse.Namespace) -> None:
    """Warm-up must end inside the run, and multistep's milestones must increase.

    A step or milestone at or past ``--epochs`` is allowed: a run stopped early on purpose,
    to be resumed to more epochs later (``--resume``), reaches it then.
    """
    if args.lr_schedule == "cosine" and 0 < args.epochs <= args.warmup_epochs:
        raise ConfigError(
            f"--warmup-epochs ({args.warmup_epochs}) must be fewer than --epochs ({args.epochs})"
        )
    milestones = args.lr_milestones
    if milestones == []:  # --lr-milestones "": multistep would never decay
        raise ConfigError(
            "--lr-milestones is empty; give the epochs where the multistep schedule decays, "
            "such as 5,8"
        )
    if milestones is not None and any(
        later <= earlier for earlier, later in itertools.pairwise(milestones)
    ):
        raise ConfigError(
            f"--lr-milestones must be increasing epochs, not {','.join(map(str, milestones))}"
        )


def setup_run(args: argparse.Namespace, *, prog: str) -> str:
    """Choose the device (``--gpu`` falls back to the CPU with one warning) and seed.

    Call it before building the model: parameters are created on the active device and
    their initial values come from the seeded generator. Returns the device name.
    """
    device = select_device(args.gpu, prog=prog)
    seed_everything(args.seed)
    return device


# -------------------------------------------------------------------------------- data


class PreparedData(NamedTuple):
    """What :func:`prepare_data` returns; unpacks as a 5-tuple."""

    train_loader: DataLoader
    val_loader: DataLoader | None
    test_loader: DataLoader
    dataset: Dataset
    standardizer: Standardizer


def prepare_data(args: argparse.Namespace) -> PreparedData:
    """Load ``--dataset`` (limited to ``--limit`` training images), split, standardise, batch.

    The validation split is stratified and seeded by ``--seed``; the standardizer is fitted
    on the training part only (no peeking at validation or test images). The training
    loader shuffles per (seed, epoch) and applies the augmentation flags; validation and
    test loaders keep the order. Images stay ``(N, C, H, W)``; an MLP flattens them itself.
    """
    dataset = load(args.dataset, data_dir=args.data_dir)
    if args.limit is not None:
        dataset = dataset.limit(args.limit, seed=args.seed)
    train_images, train_labels, val_images, val_labels = train_val_split(
        dataset.train_images, dataset.train_labels, args.val_split, seed=args.seed
    )
    if len(train_labels) == 0:
        raise ConfigError("no training images are left after the validation split")
    check_every_class_trains(
        train_labels, dataset.classes, dataset.name, limit=args.limit, val_split=args.val_split
    )
    standardizer = Standardizer.fit(train_images)
    classes = dataset.num_classes
    train_loader = DataLoader(
        standardizer.transform(train_images),
        train_labels,
        args.batch_size,
        shuffle=True,
        seed=args.seed,
        augment=augmentation_from_args(args),
        num_classes=classes,
    )
    val_loader = None
    if len(val_labels) > 0:
        val_loader = DataLoader(
            standardizer.transform(val_images), val_labels, EVAL_BATCH_SIZE, num_classes=classes
        )
    test_loader = DataLoader(
        standardizer.transform(dataset.test_images),
        dataset.test_labels,
        EVAL_BATCH_SIZE,
        num_classes=classes,
    )
    return PreparedData(train_loader, val_loader, test_loader, dataset, standardizer)


def build_optimizer(args: argparse.Namespace, params: Sequence[Any]) -> Any:
    """The optimizer the flags ask for (``--optimizer --lr --momentum --weight-decay
    --lookahead``), over ``params``."""
    options: dict[str, Any] = {}
    if args.optimizer == "sgd":
        options["momentum"] = 0.9 if args.momentum is None else args.momentum
    elif args.optimizer == "rmsprop" and args.momentum is not None:
        options["momentum"] = args.momentum
    if args.weight_decay is not None:
        options["weight_decay"] = args.weight_decay
    optimizer = OPTIMIZERS[args.optimizer](list(params), lr=args.lr, **options)
    if args.lookahead:
        return Lookahead(optimizer, k=args.lookahead_k, alpha=args.lookahead_alpha)
    return optimizer


def build_schedule(args: argparse.Namespace, optimizer: Any, steps_per_epoch: int) -> Any:
    """The learning-rate schedule of ``--lr-schedule`` (None for ``constant``).

    Lengths given in epochs (``--warmup-epochs``, ``--lr-step-epochs``,
    ``--lr-milestones``) become optimizer steps with ``steps_per_epoch``; the schedule's
    total length is ``--epochs``.
    """
    if args.lr_schedule == "constant" or args.epochs == 0:
        return None
    options: dict[str, Any] = {}
    name = args.lr_schedule
    if name == "onecycle" and args.epochs * steps_per_epoch < 2:
        raise ConfigError(
            f"--lr-schedule onecycle rises and falls over at least 2 optimizer steps, but "
            f"--epochs {args.epochs} of {steps_per_epoch} batch(es) make only 1; "
            "give more --epochs or a smaller --batch-size"
        )
    if name == "cosine":
        options.update(warmup_epochs=args.warmup_epochs, min_lr=args.min_lr)
    elif name == "step" and args.lr_step_epochs is not None:
        options["step_epochs"] = args.lr_step_epochs
    elif name == "multistep" and args.lr_milestones is not None:
        options["milestones"] = args.lr_milestones
    elif name == "plateau":
        options["patience"] = args.plateau_patience
    if args.lr_gamma is not None and name in ("step", "multistep", "exponential"):
        options["gamma"] = args.lr_gamma
    if args.lr_gamma is not None and name == "plateau":
        options["factor"] = args.lr_gamma
    return get_schedule(
        name, optimizer, epochs=args.epochs, steps_per_epoch=steps_per_epoch, **options
    )


# ------------------------------------------------------------------------ the run


def run_config(args: argparse.Namespace) -> dict[str, Any]:
    """The flags as a JSON-able dict (paths become strings): the run's full configuration."""
    config: dict[str, Any] = {}
    for key, value in sorted(vars(args).items()):
        if isinstance(value, Path):
            value = str(value)
        elif callable(value):
            continue  # argparse sub-command handlers and the like
        config[key] = value
    return config


RESUME_NEUTRAL_FLAGS = frozenset(
    {"resume", "epochs", "checkpoint_dir", "json", "out", "plot", "no_progress", "gpu"}
)
"""Flags that may change between a run and its resumption without changing the result."""

RESTORED_ON_RESUME = frozenset({"lr", "momentum", "weight_decay", "lookahead_k", "lookahead_alpha"})
"""Settings that ``--resume`` takes from the checkpoint, whatever the flags say: they are
part of the optimizer's (and the schedule's) saved state, and a run continues with them."""


def resume_warnings(prog: str, saved: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """The warning lines for a resumed run whose flags differ from its checkpoint's run.

    Flags in :data:`RESTORED_ON_RESUME` are named with the checkpoint's value, which is the
    one used; any other difference changes the result, and the second line says so.
    """
    changed = changed_settings(saved, current)
    restored = [key for key in changed if key in RESTORED_ON_RESUME]
    others = [key for key in changed if key not in RESTORED_ON_RESUME]
    lines = []
    if restored:
        values = ", ".join(f"{key} {saved.get(key)} (not {current.get(key)})" for key in restored)
        lines.append(
            f"{prog}: warning: the run continues with its checkpoint's optimizer settings, "
            f"not the flags': {values}"
        )
    if others:
        lines.append(
            f"{prog}: warning: these flags differ from the checkpoint's run, so the result "
            f"will not match an uninterrupted run: {', '.join(others)}"
        )
    return lines


def _schedule_follows_epochs(config: Mapping[str, Any]) -> bool:
    """True when the learning-rate schedule's course is stretched over ``--epochs`` (cosine,
    one-cycle, and step or multistep without their own lengths), so that resuming with
    another ``--epochs`` changes the rates of every epoch still to come."""
    schedule = config.get("lr_schedule")
    return (
        schedule in ("cosine", "onecycle")
        or (schedule == "step" and config.get("lr_step_epochs") is None)
        or (schedule == "multistep" and config.get("lr_milestones") is None)
    )


def changed_settings(saved: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """Names of the settings (other than :data:`RESUME_NEUTRAL_FLAGS`) that differ.

    ``epochs`` counts too when the schedule is stretched over the run's length.
    """
    keys = (set(saved) | set(current)) - RESUME_NEUTRAL_FLAGS
    if _schedule_follows_epochs(current):
        keys.add("epochs")
    return sorted(key for key in keys if saved.get(key) != current.get(key))


def _kept_text(checkpoint_dir: Path | None) -> str:
    """What a stopped run leaves: where its last complete checkpoint is, or that none is."""
    if checkpoint_dir is None:
        return "nothing was saved (give --checkpoint-dir to keep checkpoints)"
    last = checkpoint_dir / LAST_CHECKPOINT
    if not last.is_file():
        return "no epoch had finished, so no checkpoint was written"
    return f"the last complete checkpoint is kept; continue with --resume {last}"


@contextlib.contextmanager
def interruptible(prog: str, checkpoint_dir: Path | None) -> Iterator[None]:
    """End a training command stopped by Ctrl-C or SIGTERM in one line on stderr.

    The line says which signal stopped it and where the last complete checkpoint is (a
    new run never starts in a directory holding another run's, so any there is this
    run's); the exit status is 130 for Ctrl-C and 143 for SIGTERM, as a shell reports
    them. The checkpoints written before are intact: every write is atomic. SIGTERM
    arrives here as :class:`~nnott.cli.Terminated` because the command runs under
    :func:`~nnott.cli.run_main`, which turns it into one.
    """
    try:
        yield
    except KeyboardInterrupt as stop:
        terminated = isinstance(stop, Terminated)
        what = "terminated (SIGTERM)" if terminated else "interrupted"
        print(f"{prog}: {what}; {_kept_text(checkpoint_dir)}", file=sys.stderr)
        raise SystemExit(EXIT_TERMINATED if terminated else EXIT_INTERRUPTED) from None


def _check_test_loss(test: Evaluation, epoch: int) -> None:
    """Raise :class:`DivergenceError` when the test loss is NaN, infinite or exploded.

    Training can end with every training and validation loss finite and still have
    diverged: weights grown so large that the outputs of some test images overflow. An
    accuracy measured on such outputs is no result, so the run ends in one line instead.
    """
    if not loss_diverged(test.loss):
        return
    raise DivergenceError(
        f"training diverged: after epoch {epoch} the test loss is {test.loss:.4g} (the model's "
        "outputs overflow). Try a smaller learning rate or gradient clipping."
    )


def _rate_text(samples_per_s: float | None) -> str:
    if samples_per_s is None or not math.isfinite(samples_per_s):
        return "- (nothing trained)"
    return format_rate(samples_per_s)


def results_table(report: Mapping[str, Any]) -> str:
    """The short table that ends every run: test accuracy and loss, epochs, speed, device."""
    rows = [
        ["test accuracy", f"{report['test_accuracy']:.4f}"],
        ["test loss", f"{report['test_loss']:.4f}"],
        ["epochs", str(report["epochs"]) + (" (stopped early)" if report["stopped_early"] else "")],
        ["train samples/s", _rate_text(report["train_samples_per_s"])],
        ["device", str(report["device"])],
    ]
    return format_table(rows, ["result", "value"])


def _write_plots(
    out: Path, trainer: Trainer, test: Evaluation, dataset: Dataset, confusion: numpy.ndarray
) -> dict[str, str]:
    """PNG curves, confusion matrix and misclassified test images into ``out``."""
    from nnott.plots import plot_confusion_matrix, plot_history, plot_misclassified

    written: dict[str, str] = {}
    if len(trainer.history) > 0:
        written["history"] = str(plot_history(trainer.history.float_columns(), out / "history.png"))
    written["confusion_matrix"] = str(
        plot_confusion_matrix(confusion, dataset.classes, out / "confusion_matrix.png")
    )
    written["misclassified"] = str(
        plot_misclassified(
            dataset.test_images,
            test.labels,
            test.predictions,
            dataset.classes,
            out / "misclassified.png",
        )
    )
    return written


def run_training(
    args: argparse.Namespace,
    model: Module,
    *,
    tier_name: str,
    data: PreparedData | None = None,
    prog: str | None = None,
    extra_report: Mapping[str, Any] | None = None,
    extra_figures: Callable[[Path], Mapping[str, str]] | None = None,
    resume_checkpoint: Checkpoint | None = None,
) -> dict[str, Any]:
    """Train ``model`` as the flags say, evaluate on the test set, report. Returns the report.

    Steps: the optimizer, schedule, loss and early stopping from the flags; ``--resume``;
    :meth:`Trainer.fit`; :meth:`Trainer.evaluate` on the test set; the history as
    ``history.json``/``history.csv`` (in ``--checkpoint-dir`` when given, and in ``--out``
    with ``--plot``); PNG figures with ``--plot``; the JSON report with ``--json``; the
    per-class table and the results table on stdout.

    The report holds at least ``test_accuracy``, ``test_loss``, ``epochs``,
    ``train_samples_per_s``, ``device`` and ``config`` (every flag), plus the history, the
    per-class precision and recall, and ``extra_report`` (the tier's own facts, such as
    the architecture); ``train_samples_per_s`` is None when nothing was trained. With
    ``--plot``, ``extra_figures(out)`` draws the tier's own figures into ``out`` and
    returns their paths by name, for the report's outputs. ``resume_checkpoint`` is the
    ``--resume`` file's contents when the caller has loaded them to check it, so that the
    file is read once. A NaN or infinite loss (of training, validation or the test set)
    raises :class:`~nnott.errors.DivergenceError` (the command lines print it as one line
    and exit 2).
    """
    prog = prog or f"nnott-{tier_name}"
    data = data if data is not None else prepare_data(args)
    train_loader, val_loader, test_loader, dataset, standardizer = data
    optimizer = build_optimizer(args, model.parameters())
    schedule = build_schedule(args, optimizer, len(train_loader))
    early_stopping = (
        EarlyStopping(args.patience, min_delta=args.min_delta) if args.early_stopping else None
    )
    config = run_config(args)
    trainer = Trainer(
        model,
        optimizer,
        loss=SoftmaxCrossEntropy(label_smoothing=args.label_smoothing),
        schedule=schedule,
        grad_clip=args.grad_clip,
        early_stopping=early_stopping,
        checkpoint_dir=args.checkpoint_dir,
        config=config,
        metadata={
            "tier": tier_name,
            "dataset": dataset.name,
            "classes": list(dataset.classes),
            "image_shape": list(dataset.image_shape),
            "standardizer": standardizer.to_dict(),
        },
        progress=not args.no_progress,
    )
    if args.resume is not None:
        saved = trainer.resume(args.resume, resume_checkpoint)
        print(f"{prog}: resumed from {args.resume} after epoch {trainer.epoch}", file=sys.stderr)
        for line in resume_warnings(prog, saved.get("config", {}), config):
            print(line, file=sys.stderr)
        if args.epochs <= trainer.epoch:
            print(
                f"{prog}: note: the checkpoint has trained {trainer.epoch} epochs and "
                f"--epochs is {args.epochs} (the total to reach), so nothing is trained; "
                "the saved model is evaluated",
                file=sys.stderr,
            )
    trainer.fit(train_loader, val_loader, epochs=args.epochs)
    # An overflow here is reported by _check_test_loss in one line; NumPy's warnings
    # about it would only add noise (as they would in Trainer.fit, which silences them).
    with numpy.errstate(over="ignore", invalid="ignore", divide="ignore"):
        test = trainer.evaluate(test_loader)
    _check_test_loss(test, trainer.epoch)

    confusion = confusion_matrix(test.predictions, test.labels, dataset.num_classes)
    precision, recall = precision_recall(confusion)
    speed = trainer.train_samples_per_s
    if not math.isfinite(speed) and len(trainer.history) > 0:  # nothing trained now (resumed)
        speed = trainer.history[-1].get("train_samples_per_s") or math.nan
    report: dict[str, Any] = {
        "tier": tier_name,
        "test_accuracy": test.accuracy,
        "test_loss": test.loss,
        "epochs": trainer.epoch,
        "stopped_early": trainer.stopped_early,
        "best_epoch": trainer.best_epoch,
        "train_samples_per_s": speed if math.isfinite(speed) else None,  # None: nothing trained
        "device": current_device(),
        "dataset": dataset.name,
        "train_samples": train_loader.num_samples,
        "val_samples": 0 if val_loader is None else val_loader.num_samples,
        "test_samples": test.num_samples,
        "num_parameters": model.num_parameters(),
        "per_class": {
            name: {"precision": float(p), "recall": float(r)}
            for name, p, r in zip(dataset.classes, precision, recall, strict=True)
        },
        "history": trainer.history.records,
        "config": config,
        **dict(extra_report or {}),
    }
    outputs: dict[str, Any] = {"history_files": []}
    for folder in (args.checkpoint_dir, args.out if args.plot else None):
        if folder is not None and len(trainer.history) > 0:
            outputs["history_files"] += [
                str(trainer.history.save_json(folder / "history.json")),
                str(trainer.history.save_csv(folder / "history.csv")),
            ]
    if args.plot:
        outputs.update(_write_plots(args.out, trainer, test, dataset, confusion))
        if extra_figures is not None:
            outputs.update(extra_figures(args.out))
    if trainer.last_checkpoint is not None:
        outputs["last_checkpoint"] = str(trainer.last_checkpoint)
    if trainer.best_checkpoint is not None:
        outputs["best_checkpoint"] = str(trainer.best_checkpoint)
    report["outputs"] = outputs
    if args.json is not None:
        outputs["json"] = str(args.json)
        write_json_report(args.json, report)

    print(classification_table(confusion, dataset.classes))
    print()
    print(results_table(report))
    return report
