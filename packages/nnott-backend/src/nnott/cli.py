"""The pieces every nnott command line shares.

Each tier (``nnott-scalar``, ``nnott-vectorized``, ``nnott-cnn``, ``nnott-data``) builds its
own :mod:`argparse` parser, but the flags they have in common are added here so that they
keep one spelling and one meaning everywhere (``--epochs``, ``--batch-size``, ``--lr``,
``--gpu``, ``--seed``, ``--dataset`` ...). The argparse *types* below reject impossible
values (a negative epoch count, a batch size of 0) before any work starts.

:func:`run_main` is the one place where errors become exit codes: a
:class:`~nnott.errors.NnottError` (bad input, missing file, no GPU) prints one line on
stderr and exits 2, Ctrl-C exits 130 and SIGTERM 143 (each with one line, after the
clean-up that Ctrl-C runs: an atomic write removes its temporary file), running out of
memory prints one line; anything else is a bug in nnott and keeps its traceback.

A command line's ``__main__`` looks like this::

    def main(argv: list[str] | None = None) -> int:
        parser = make_parser("nnott-demo", "Train a tiny network.")
        add_common_arguments(parser, epochs=2, batch_size=64, lr=0.1, limit=2000)
        args = parser.parse_args(argv)
        device = select_device(args.gpu, prog="nnott-demo")
        seed_everything(args.seed)
        ...
        return 0

    def cli() -> int:  # the console-script entry point
        return run_main(main, prog="nnott-demo")

    if __name__ == "__main__":
        raise SystemExit(cli())
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from nnott import backend
from nnott.backend import device as backend_device
from nnott.backend.device import ENV_VARIABLE
from nnott.errors import ConfigError, GpuUnavailableError, NnottError
from nnott.launcher import EXIT_INTERRUPTED  # 130, as a shell reports Ctrl-C

__all__ = [
    "DEFAULT_OUT_DIR",
    "DEFAULT_VAL_SPLIT",
    "EXIT_INTERRUPTED",
    "EXIT_TERMINATED",
    "MAX_LAYER_SIZE",
    "STDOUT",
    "DefaultsHelpFormatter",
    "OneLineErrorParser",
    "Terminated",
    "add_common_arguments",
    "check_distinct_files",
    "check_hidden_layer_flags",
    "check_plot_dir",
    "format_table",
    "hidden_activation_names",
    "int_list",
    "layer_size_list",
    "make_parser",
    "non_negative_int",
    "output_dir",
    "output_file",
    "positive_float",
    "positive_int",
    "positive_int_list",
    "reserve_stdout_for_report",
    "run_main",
    "same_file",
    "seed_everything",
    "select_device",
    "sigterm_raises",
    "str_list",
    "unit_fraction",
    "user_path",
    "write_json_report",
]

DEFAULT_VAL_SPLIT = 0.1
"""Share of the training set held out for validation unless ``--val-split`` says otherwise."""

DEFAULT_OUT_DIR = Path("nnott-output")
"""Where ``--plot`` figures and other run outputs go unless ``--out`` says otherwise."""

STDOUT = "-"
"""What ``--json -`` stands for: the report goes to standard output (the tables to stderr)."""

EXIT_USAGE = 2
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143, as a shell reports SIGTERM
EXIT_BROKEN_PIPE = 141


# ------------------------------------------------------------------------ argparse types


def _parse_int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def _parse_float(text: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def positive_int(text: str) -> int:
    """An argparse type: a whole number >= 1 (batch sizes, layer widths)."""
    value = _parse_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, not {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """An argparse type: a whole number >= 0 (epochs, seeds)."""
    value = _parse_int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be zero or a positive whole number, not {text!r}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0 (learning rates)."""
    value = _parse_float(text)
    if value <= 0.0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, not {text!r}")
    return value


def unit_fraction(text: str) -> float:
    """An argparse type: a fraction in [0, 1) (validation split, dropout rate)."""
    value = _parse_float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be at least 0 and less than 1, not {text!r}")
    return value


def _split_items(text: str) -> list[str]:
    """``"a, b,c"`` -> ``["a", "b", "c"]``; an empty string is an empty list."""
    if not text.strip():
        return []
    items = [item.strip() for item in text.split(",")]
    if any(not item for item in items):
        raise argparse.ArgumentTypeError(f"{text!r} has an empty item; separate items by commas")
    return items


def int_list(text: str) -> list[int]:
    """An argparse type: comma-separated whole numbers, ``"512,256"`` -> ``[512, 256]``."""
    return [_parse_int(item) for item in _split_items(text)]


def positive_int_list(text: str) -> list[int]:
    """An argparse type: comma-separated whole numbers >= 1 (hidden layer sizes)."""
    return [positive_int(item) for item in _split_items(text)]


MAX_LAYER_SIZE = 1 << 20
"""The widest hidden layer the MLP command lines build: 1,048,576 units.

A 784-input layer that wide already holds 3.3 GB of float32 weights; a size beyond it is a
typo (an extra zero or three). Unchecked, a size of 10^20 does not even reach an
out-of-memory error: NumPy refuses the shape with a traceback.
"""


def layer_size_list(text: str) -> list[int]:
    """An argparse type: hidden layer sizes, whole numbers from 1 to :data:`MAX_LAYER_SIZE`."""
    sizes = positive_int_list(text)
    for size in sizes:
        if size > MAX_LAYER_SIZE:
            raise argparse.ArgumentTypeError(
                f"a hidden layer may have at most {MAX_LAYER_SIZE:,} units, not {size:,}"
            )
    return sizes


def str_list(text: str) -> list[str]:
    """An argparse type: comma-separated words, ``"relu, tanh"`` -> ``["relu", "tanh"]``."""
    return _split_items(text)


def user_path(text: str) -> Path:
    """An argparse type: ``text`` as a path with a leading ``~`` expanded, as a shell would
    have done had the argument not been quoted (``--out=~/runs``, a path from a config
    file). For paths that are read (``--data-dir``, ``--resume``); the outputs have
    :func:`output_file` and :func:`output_dir`, which check more."""
    try:
        return Path(text).expanduser()
    except RuntimeError:  # "~someone" for a user this machine does not know
        raise argparse.ArgumentTypeError(f"{text}: no such user's home directory") from None


def _exists(path: Path) -> bool:
    """Whether ``path`` exists once links are followed. A link that loops, a name that is
    too long or a directory that may not be searched raise :class:`OSError` (pathlib's own
    ``exists`` answers False for the loop, so that it would pass for a new file)."""
    try:
        path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return False
    return True


def _checked(check: Callable[[Path], None], path: Path) -> Path:
    """Run ``check(path)``; an :class:`OSError` on the way (a name too long, a link that
    loops, no permission to look) becomes a one-line argparse error."""
    try:
        check(path)
    except OSError as error:
        raise argparse.ArgumentTypeError(f"cannot use {path}: {error.strerror or error}") from None
    return path


def _check_can_create(path: Path) -> None:
    """Refuse ``path`` when a parent stands in the way (a file, a link to nothing) or the
    nearest parent that exists is a directory nnott may not create files in."""
    from nnott.checkpoint import creation_obstacle  # heavier than a parser needs up front

    obstacle = creation_obstacle(path)
    if obstacle is not None:
        raise argparse.ArgumentTypeError(obstacle)
    for parent in path.parents:  # nearest first; the last one is "." or "/"
        if _exists(parent):
            if not os.access(parent, os.W_OK | os.X_OK):
                raise argparse.ArgumentTypeError(f"no permission to create files in {parent}")
            return


def _dangling_link(path: Path) -> argparse.ArgumentTypeError:
    """The error for a symbolic link that points to nothing."""
    return argparse.ArgumentTypeError(
        f"{path} is a symbolic link to {os.readlink(path)}, which does not exist"
    )


def _check_output_file(path: Path) -> None:
    """What :func:`output_file` checks, on a path with ``~`` already expanded."""
    if not _exists(path):
        target = Path(os.path.realpath(path)) if path.is_symlink() else path
        _check_can_create(target)  # a dangling link: its file will be created
    elif path.is_dir():
        raise argparse.ArgumentTypeError(
            f"{path} is a directory; give a file name, such as {path / 'report.json'}"
        )
    elif not os.access(path, os.W_OK):
        raise argparse.ArgumentTypeError(f"no permission to write {path}")


def output_file(text: str) -> Path | str:
    """An argparse type: a file to write at the end of a run (``--json``), checked now.

    A run that trains for an hour and then cannot write its report loses the hour, so the
    path is checked before any work starts: it must not be a directory (nor end in ``/``),
    and the directory it goes in must exist or be creatable. A leading ``~`` is expanded;
    a symbolic link is checked where it points. :data:`STDOUT` (``-``) is standard output.
    """
    if text == STDOUT:
        return STDOUT
    if not text:
        raise argparse.ArgumentTypeError("the path is empty; give a file name, such as report.json")
    if text.endswith(("/", os.sep)):
        raise argparse.ArgumentTypeError(
            f"{text} ends in a slash, as a directory does; give a file name, "
            f"such as {text}report.json"
        )
    return _checked(_check_output_file, user_path(text))


def _check_output_dir(path: Path) -> None:
    """What :func:`output_dir` checks, on a path with ``~`` already expanded."""
    if not _exists(path):
        if path.is_symlink():
            raise _dangling_link(path)
        _check_can_create(path)
    elif not path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a file, not a directory")
    elif not os.access(path, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"no permission to write in {path}")


def output_dir(text: str) -> Path:
    """An argparse type: a directory to write into (``--out``, ``--checkpoint-dir``), checked
    before any work starts: an existing path must be a writable directory, a new one must
    be creatable (a symbolic link to a directory that does not exist is refused, as
    ``mkdir -p`` refuses it). A leading ``~`` is expanded."""
    return _checked(_check_output_dir, user_path(text))


def check_plot_dir(args: argparse.Namespace) -> None:
    """With ``--plot``, check the ``--out`` directory also when it is the default one.

    argparse checks (:func:`output_dir`) only a value given on the command line, and a run
    must not train first and then find ``nnott-output`` to be a file. Raises
    :class:`~nnott.errors.ConfigError`.
    """
    if not args.plot:
        return
    try:
        output_dir(os.fspath(args.out))
    except argparse.ArgumentTypeError as error:
        raise ConfigError(f"--out: {error}") from None


def same_file(first: Path, second: Path) -> bool:
    """Whether two paths name one file or directory (after symbolic links and ``..``, and
    hard links where both exist), existing or not."""
    try:
        if _exists(first) and _exists(second):
            return os.path.samefile(first, second)
    except OSError:
        return False  # one of them cannot even be looked at: its own check says why
    return os.path.realpath(first) == os.path.realpath(second)


def _is_regular_or_new(path: Path) -> bool:
    """True unless ``path`` is a device or a pipe (``/dev/null`` may serve many roles)."""
    try:
        return not _exists(path) or path.is_file()
    except OSError:
        return True


def check_distinct_files(files: Mapping[str, Path | str | None]) -> None:
    """Refuse one path given two roles, such as ``--json`` naming the checkpoint the run
    resumes from, a history file it writes or the ``--out`` directory: the later write
    would destroy the other, or fail when the run ends.

    ``files`` maps each role, in words (``"--json"``, ``"the --resume checkpoint"``), to its
    path; None and :data:`STDOUT` are skipped, and so are devices and pipes. Raises
    :class:`~nnott.errors.ConfigError` naming both roles.
    """
    named = [
        (role, Path(path))
        for role, path in files.items()
        if path is not None and path != STDOUT and _is_regular_or_new(Path(path))
    ]
    for index, (role, path) in enumerate(named):
        for other_role, other in named[index + 1 :]:
            if same_file(path, other):
                raise ConfigError(
                    f"{role} and {other_role} are both {path}; give each its own path"
                )


# ------------------------------------------------------------------------------- parser


class OneLineErrorParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr (and exit code 2).

    Plain argparse prints the whole usage text before the error; a learner then has to
    find the one line that matters. This parser prints only that line and a pointer to
    ``--help``.

    It also reads a value written in scientific notation with a minus sign, as in
    ``--lr -1e-3``, as that option's value; plain argparse (before Python 3.13) takes it for
    an unknown option and says the value is missing, where the option's own check says
    what is wrong with it.
    """

    _NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = self._NEGATIVE_NUMBER

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show ``(default: X)`` in ``--help`` only where there is a default worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False or action.default == argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)


def hidden_activation_names(
    sizes: Sequence[int],
    names: Sequence[str] | None,
    check: Callable[[str], object],
    default: str = "relu",
) -> list[str]:
    """One activation name per hidden layer, as the MLP tiers' ``--hidden-activations`` take it.

    No names means ``default`` everywhere; one name serves every layer; otherwise there must
    be one per entry of ``--hidden-sizes``. ``check(name)`` is the tier's own lookup, which
    raises :class:`~nnott.errors.ConfigError` (listing the choices) for an unknown name.
    """
    chosen = list(names or [default])
    if len(chosen) == 1:
        chosen = chosen * len(sizes)
    if len(chosen) != len(sizes):
        raise ConfigError(
            f"--hidden-sizes has {len(sizes)} layers but --hidden-activations names "
            f"{len(chosen)}; give one name for all or one per hidden layer"
        )
    for name in chosen:
        check(name)
    return chosen


def check_hidden_layer_flags(sizes: Sequence[int], given: Mapping[str, bool]) -> None:
    """Refuse the flags that shape hidden layers when there are none (``--hidden-sizes ""``,
    a linear classifier): they would change nothing, and the user meant something else.

    ``given`` maps each such flag of the tier to whether it was given. Raises
    :class:`~nnott.errors.ConfigError` naming every one given.
    """
    if sizes:
        return
    named = [flag for flag, was_given in given.items() if was_given]
    if named:
        has, it = ("has", "it") if len(named) == 1 else ("have", "them")
        raise ConfigError(
            f"{' and '.join(named)} {has} no effect without hidden layers "
            f"(--hidden-sizes is empty); drop {it} or give hidden sizes"
        )


def make_parser(
    prog: str, description: str | None = None, *, version: str | None = None, **kwargs: Any
) -> OneLineErrorParser:
    """A parser for an nnott command line: one-line errors, defaults shown in ``--help``,
    and ``--version`` (``prog VERSION``) when the package's ``version`` is given."""
    kwargs.setdefault("formatter_class", DefaultsHelpFormatter)
    parser = OneLineErrorParser(prog=prog, description=description, **kwargs)
    if version is not None:
        parser.add_argument("--version", action="version", version=f"%(prog)s {version}")
    return parser


GPU_HELP = "compute on the GPU with CuPy (falls back to the CPU with a warning if absent)"
"""The help of ``--gpu`` in the tiers that compute on ``xp``."""


def add_common_arguments(
    parser: argparse.ArgumentParser,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    limit: int | None = None,
    gpu_help: str = GPU_HELP,
) -> None:
    """Add the flags every tier shares, with this tier's defaults for the first four.

    Adds ``--epochs --batch-size --lr --gpu --seed --dataset --data-dir --val-split
    --limit --plot --out --json --no-progress``. The parsed names are ``args.epochs``,
    ``args.batch_size``, ``args.lr``, ``args.gpu``, ``args.seed``, ``args.dataset``,
    ``args.data_dir`` (Path or None), ``args.val_split``, ``args.limit`` (int or None),
    ``args.plot``, ``args.out`` (Path), ``args.json`` (Path, :data:`STDOUT` or None),
    ``args.no_progress``. The output paths are checked when parsed (:func:`output_dir`,
    :func:`output_file`), so that a run never ends unable to write what it made.
    ``gpu_help`` is the help of ``--gpu``, for a tier where it means something else.
    """
    # Imported here, not at the top: nnott.data's own command line imports this module.
    from nnott.data import DEFAULT_DATASET

    training = parser.add_argument_group("training")
    training.add_argument(
        "--epochs", type=non_negative_int, default=epochs, help="passes over the training set"
    )
    training.add_argument(
        "--batch-size", type=positive_int, default=batch_size, help="samples per update step"
    )
    training.add_argument("--lr", type=positive_float, default=lr, help="learning rate")
    training.add_argument(
        "--seed",
        type=non_negative_int,
        default=0,
        help="seed for weights, shuffling and augmentation (same seed, same run)",
    )
    training.add_argument(
        "--gpu",
        action="store_true",
        help=gpu_help,
    )

    data = parser.add_argument_group("data")
    data.add_argument(
        "--dataset",
        default=DEFAULT_DATASET,
        help="dataset name (see: python -m nnott.data list); the default is bundled",
    )
    data.add_argument(
        "--data-dir",
        type=user_path,
        default=None,
        metavar="DIR",
        help="look for (and download) dataset files here first",
    )
    data.add_argument(
        "--val-split",
        type=unit_fraction,
        default=DEFAULT_VAL_SPLIT,
        metavar="FRACTION",
        help="share of the training set held out for validation, in [0, 1)",
    )
    data.add_argument(
        "--limit",
        type=positive_int,
        default=limit,
        metavar="N",
        help="use a class-balanced subset of N training images (faster runs)",
    )

    output = parser.add_argument_group("output")
    output.add_argument(
        "--plot", action="store_true", help="write PNG figures (curves, confusion matrix) to --out"
    )
    output.add_argument(
        "--out",
        type=output_dir,
        default=DEFAULT_OUT_DIR,
        metavar="DIR",
        help="directory for figures and other outputs",
    )
    output.add_argument(
        "--json",
        type=output_file,
        default=None,
        metavar="PATH",
        help="write a JSON report here ('-': to stdout, the tables then go to stderr)",
    )
    output.add_argument("--no-progress", action="store_true", help="hide progress bars")


# ------------------------------------------------------------------------- the report


class _ReportStream:
    """The standard output that ``--json -`` set aside for the report, while it is."""

    stream: TextIO | None = None


@contextlib.contextmanager
def reserve_stdout_for_report(target: Path | str | None) -> Iterator[None]:
    """With ``--json -`` (``target`` is :data:`STDOUT`), keep standard output for the report.

    Inside the block, everything else printed to stdout (the tables) goes to stderr, so
    that ``nnott-cnn lenet --json - | jq .test_accuracy`` reads one JSON document; the
    report itself is written by :func:`write_json_report`. Any other target: no change.
    """
    if target != STDOUT:
        yield
        return
    _ReportStream.stream = sys.stdout
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        _ReportStream.stream = None


def write_json_report(target: Path | str, report: Mapping[str, Any]) -> str:
    """Write the run's report as JSON to ``target``, a file (atomically) or :data:`STDOUT`.

    Returns where it went, for the report's list of outputs.
    """
    # Imported here, not at the top: nnott.checkpoint is heavier than a parser needs.
    from nnott.checkpoint import json_text, write_json_atomic

    if target == STDOUT:
        stream = _ReportStream.stream or sys.stdout
        stream.write(json_text(dict(report)))
        stream.flush()
        return "<stdout>"
    return str(write_json_atomic(target, dict(report)))


# ------------------------------------------------------------------- errors and devices


def _one_line(message: str) -> str:
    """Join a (possibly multi-line) message into one line."""
    return " ".join(line.strip() for line in message.splitlines() if line.strip())


def _is_gpu_out_of_memory(error: BaseException) -> bool:
    """True for CuPy's OutOfMemoryError, recognised by name so that CuPy may be absent."""
    return any(cls.__name__ == "OutOfMemoryError" for cls in type(error).__mro__)


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (a ``kill``, a job scheduler's time limit). Raised where the program
    was, as Ctrl-C's ``KeyboardInterrupt`` is, so that the same clean-up runs."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """While the block runs, SIGTERM raises :class:`Terminated` instead of killing the
    process on the spot (mid-write, without a word); the previous handler comes back after.

    Only the main thread may set signal handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def run_main(
    main: Callable[[list[str] | None], int | None],
    argv: list[str] | None = None,
    *,
    prog: str,
) -> int:
    """Call ``main(argv)`` and turn what it raises into an exit code (returned, not exited).

    - returns ``main``'s own code (``None`` counts as 0), or argparse's exit code;
    - :class:`~nnott.errors.NnottError`: ``"prog: error: <message>"`` on stderr, 2;
    - ``KeyboardInterrupt``: ``"prog: interrupted"``, 130; SIGTERM (see
      :func:`sigterm_raises`): ``"prog: terminated (SIGTERM)"``, 143;
    - a closed pipe on stdout (``| head``): quietly, 141 as a shell reports SIGPIPE;
    - out of host or GPU memory: one line suggesting a smaller batch, 2;
    - anything else propagates with its traceback: it is a bug, not a user mistake.

    Use it as ``raise SystemExit(run_main(main, prog="nnott-scalar"))``.
    """
    try:
        with sigterm_raises():
            code = main(argv)
    except SystemExit as exit_request:  # argparse's --help and usage errors
        return _exit_code(exit_request.code)
    except NnottError as error:
        message = _one_line(str(error)) or type(error).__name__
        print(f"{prog}: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except Terminated:
        print(f"{prog}: terminated (SIGTERM)", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``nnott-cnn list | head``): stop quietly, and point stdout
        # at /dev/null so that Python's flush at exit does not complain a second time.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as error:
        gpu = _is_gpu_out_of_memory(error)
        if not (gpu or isinstance(error, MemoryError)):
            raise  # a bug: keep its traceback
        where = "the GPU" if gpu else "the host"
        print(
            f"{prog}: error: {where} ran out of memory; try a smaller --batch-size "
            "or --limit, or a smaller model",
            file=sys.stderr,
        )
        return EXIT_USAGE
    return 0 if code is None else int(code)


def _exit_code(code: object) -> int:
    """The exit status ``sys.exit(code)`` would give (a message string counts as 1)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _use_cpu_instead() -> None:
    """Switch to the CPU (this works also when ``NNOTT_DEVICE=gpu`` made the start fail)."""
    backend.use_cpu()


def _warn_cpu_fallback(prog: str, who: str, error: GpuUnavailableError) -> None:
    reason = backend_device.gpu_unavailable_reason() or _one_line(str(error))
    print(
        f"{prog}: warning: {who} asked for the GPU but {reason}; running on the CPU",
        file=sys.stderr,
    )


def select_device(want_gpu: bool, *, prog: str) -> str:
    """Choose the device for a command line run and return its name.

    With ``want_gpu`` (the ``--gpu`` flag) switch to the GPU; without it the device chosen
    by ``NNOTT_DEVICE`` stands (the CPU when unset). Where the GPU was asked for and cannot
    be used, print ONE warning line naming the reason and run on the CPU: a learner without
    a GPU still gets a result.
    """
    if want_gpu:
        try:
            backend.use_gpu()
        except GpuUnavailableError as error:
            _warn_cpu_fallback(prog, "--gpu", error)
            _use_cpu_instead()
        return backend.current_device()
    try:
        return backend.current_device()
    except GpuUnavailableError as error:
        _warn_cpu_fallback(prog, f"{ENV_VARIABLE}=gpu", error)
        _use_cpu_instead()
        return backend.current_device()


def seed_everything(seed: int) -> None:
    """Seed every random generator nnott uses (see :func:`nnott.backend.seed`)."""
    backend.seed(seed)


# -------------------------------------------------------------------------------- tables


def _cell(value: object) -> str:
    """Text for one table cell: floats to 4 decimals (or whole with separators when large)."""
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    if value != value or abs(value) == float("inf"):
        return str(value)
    return f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:.4f}"


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def format_table(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> str:
    """An aligned plain-text table: numeric columns right-aligned, text left-aligned.

    >>> print(format_table([[1, 0.51234], [2, 0.4]], ["epoch", "loss"]))
    epoch    loss
    -----  ------
        1  0.5123
        2  0.4000
    """
    width_count = len(headers)
    for row in rows:
        if len(row) != width_count:
            raise ValueError(f"a table row has {len(row)} cells, the header {width_count}")
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [
        max([len(header), *(len(row[column]) for row in cells)])
        for column, header in enumerate(headers)
    ]
    numeric = [
        bool(rows) and all(_is_number(row[column]) for row in rows) for column in range(width_count)
    ]

    def line(texts: Sequence[str]) -> str:
        parts = [
            text.rjust(width) if right else text.ljust(width)
            for text, width, right in zip(texts, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    lines = [line(headers), line(["-" * width for width in widths])]
    lines.extend(line(row) for row in cells)
    return "\n".join(lines)
