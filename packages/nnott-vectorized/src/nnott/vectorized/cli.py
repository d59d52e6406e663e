"""``nnott-vectorized``: train the vectorized MLP from the command line.

>>> nnott-vectorized --hidden-sizes 512,256,128 --batchnorm --dropout 0.2 \\
...     --optimizer adamw --lr-schedule cosine --warmup-epochs 1 --early-stopping --plot

The flags shared with the CNN tier come from :mod:`nnott.vectorized.training_cli`; this
module adds only the model's: ``--hidden-sizes``, ``--hidden-activations``,
``--batchnorm``, ``--dropout`` and ``--init``. Bad flags end in one line on stderr and exit
code 2 (see :func:`nnott.cli.run_main`, used by :mod:`nnott.vectorized.__main__`).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from nnott.checkpoint import Checkpoint, load_checkpoint
from nnott.cli import (
    check_hidden_layer_flags,
    hidden_activation_names,
    layer_size_list,
    make_parser,
    reserve_stdout_for_report,
    str_list,
    unit_fraction,
)
from nnott.errors import CheckpointError, ConfigError
from nnott.vectorized._version import __version__
from nnott.vectorized.activations import ACTIVATIONS, get_activation
from nnott.vectorized.mlp import mlp
from nnott.vectorized.training_cli import (
    TrainingDefaults,
    add_training_arguments,
    interruptible,
    prepare_data,
    run_training,
    setup_run,
    validate_training_args,
)

__all__ = ["DEFAULTS", "PROG", "build_parser", "main", "model_activations"]

PROG = "nnott-vectorized"
TIER = "vectorized"

DEFAULTS = TrainingDefaults(epochs=10, batch_size=64, lr=1e-3, optimizer="adam")
"""Ten epochs of Adam over the bundled 6,000 images: a few seconds on two CPU cores."""


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``nnott-vectorized`` (every training flag plus the MLP's)."""
    parser = make_parser(
        PROG,
        "Train a multilayer perceptron with array math on NumPy (CPU) or CuPy (--gpu), "
        "then report its test accuracy.",
        version=__version__,
    )
    add_training_arguments(parser, DEFAULTS)
    model = parser.add_argument_group("model")
    model.add_argument(
        "--hidden-sizes",
        type=layer_size_list,
        default=[256, 128],
        metavar="N,N,...",
        help="widths of the hidden layers, comma-separated (empty: a linear classifier)",
    )
    model.add_argument(
        "--hidden-activations",
        type=str_list,
        default=None,
        metavar="NAME,...",
        help="one activation for every hidden layer, or one per layer "
        f"(default: relu; choose from {', '.join(sorted(ACTIVATIONS))})",
    )
    model.add_argument(
        "--batchnorm", action="store_true", help="batch normalisation after each hidden Linear"
    )
    model.add_argument(
        "--dropout", type=unit_fraction, default=0.0, metavar="P", help="dropout rate in [0, 1)"
    )
    model.add_argument(
        "--init",
        choices=("auto", "he", "xavier"),
        default="auto",
        help="initial weight scaling: auto follows each layer's activation (He before "
        "relu and leaky_relu, Xavier elsewhere, as the scalar tier does); he or xavier "
        "use one scheme for every layer",
    )
    return parser


def model_activations(args: argparse.Namespace) -> list[str]:
    """One activation name per hidden layer, checked (raises :class:`ConfigError`)."""
    check_hidden_layer_flags(
        args.hidden_sizes,
        {
            "--hidden-activations": bool(args.hidden_activations),
            "--batchnorm": args.batchnorm,
            "--dropout": args.dropout > 0.0,
        },
    )
    return hidden_activation_names(args.hidden_sizes, args.hidden_activations, get_activation)


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, train, evaluate and report; returns the exit code (0).

    Ctrl-C and SIGTERM end the run in one line (see
    :func:`~nnott.vectorized.training_cli.interruptible`).
    """
    args = build_parser().parse_args(argv)
    with reserve_stdout_for_report(args.json), interruptible(PROG, args.checkpoint_dir):
        _train(args)
    return 0


def _saved_activations(config: dict[str, Any]) -> list[str] | None:
    """The activation of each hidden layer of the checkpoint's run (None: unreadable)."""
    try:
        return hidden_activation_names(
            config["hidden_sizes"], config.get("hidden_activations"), get_activation
        )
    except (ConfigError, KeyError, TypeError):
        return None


def _load_fitting_checkpoint(
    path: Path, args: argparse.Namespace, activations: list[str]
) -> Checkpoint:
    """The ``--resume`` checkpoint, read once: refused, in one line and before any data is
    loaded, when it holds another tier or an MLP of other hidden layers, saying which flags
    would fit it."""
    checkpoint = load_checkpoint(path)
    metadata = checkpoint.metadata
    config = metadata.get("config") or {}
    tier = metadata.get("tier", "unknown")
    if tier != TIER:
        arch = config.get("arch")
        hint = f"; run: nnott-cnn {arch} --resume {path}" if arch else ""
        raise CheckpointError(
            f"{path} was not written by {PROG} (tier {tier}); it holds no MLP{hint}"
        )
    problem = _model_difference(config, args, activations)
    if problem is not None:
        raise CheckpointError(f"{path} holds an MLP {problem}")
    return checkpoint


def _model_difference(
    config: dict[str, Any], args: argparse.Namespace, activations: list[str]
) -> str | None:
    """How the checkpoint's MLP differs from the one the flags build, with the fix; or None."""
    sizes = config.get("hidden_sizes")
    if sizes != args.hidden_sizes:
        text = ",".join(map(str, sizes or [])) or '""'  # (none: a linear classifier)
        return f"of hidden sizes {text}; give --hidden-sizes {text}"
    if bool(config.get("batchnorm")) != args.batchnorm:
        if config.get("batchnorm"):
            return "with batch normalisation; give --batchnorm"
        return "without batch normalisation; drop --batchnorm"
    saved = _saved_activations(config)
    if saved != activations:
        text = ",".join(saved or ["?"])
        return f"of hidden activations {text}; give --hidden-activations {text}"
    return None


def _train(args: argparse.Namespace) -> None:
    activations = model_activations(args)
    validate_training_args(args)
    resume_checkpoint = None
    if args.resume is not None:
        resume_checkpoint = _load_fitting_checkpoint(args.resume, args, activations)
    setup_run(args, prog=PROG)
    data = prepare_data(args)
    model = mlp(
        math.prod(data.dataset.image_shape),
        args.hidden_sizes,
        data.dataset.num_classes,
        activations=activations,
        batchnorm=args.batchnorm,
        dropout=args.dropout,
        init=args.init,
    )
    architecture: dict[str, Any] = {
        "model": {
            "kind": "mlp",
            "hidden_sizes": args.hidden_sizes,
            "activations": activations,
            "batchnorm": args.batchnorm,
            "dropout": args.dropout,
        }
    }
    run_training(
        args,
        model,
        tier_name=TIER,
        data=data,
        prog=PROG,
        extra_report=architecture,
        resume_checkpoint=resume_checkpoint,
    )
