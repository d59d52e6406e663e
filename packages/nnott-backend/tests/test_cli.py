"""nnott.cli: shared flags, argparse types, exit codes, device fallback, tables."""

from __future__ import annotations

import argparse
import doctest
import json
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from nnott import backend, cli
from nnott.backend import device
from nnott.cli import (
    add_common_arguments,
    format_table,
    int_list,
    make_parser,
    positive_int_list,
    run_main,
    seed_everything,
    select_device,
    sigterm_raises,
    str_list,
)
from nnott.errors import ConfigError, DatasetError

PROG = "nnott-test"
NO_CUPY = "CuPy is not installed; install it with: pip install 'nnott-backend[gpu]'"


def _parser(parser_class: type[argparse.ArgumentParser] | None = None) -> argparse.ArgumentParser:
    parser = make_parser(PROG) if parser_class is None else parser_class(prog=PROG)
    add_common_arguments(parser, epochs=3, batch_size=32, lr=0.05, limit=100)
    return parser


# --------------------------------------------------------------------------- the flags


def test_defaults_come_from_the_tier_and_the_data_package() -> None:
    from nnott.data import DEFAULT_DATASET

    args = _parser().parse_args([])
    assert (args.epochs, args.batch_size, args.lr, args.limit) == (3, 32, 0.05, 100)
    assert (args.gpu, args.plot, args.no_progress) == (False, False, False)
    assert args.seed == 0
    assert args.dataset == DEFAULT_DATASET == "fashion-mnist-small"
    assert args.data_dir is None and args.json is None
    assert args.val_split == cli.DEFAULT_VAL_SPLIT
    assert args.out == cli.DEFAULT_OUT_DIR


def test_every_shared_flag_parses_with_one_spelling(tmp_path: Path) -> None:
    argv = [
        "--epochs", "0", "--batch-size", "7", "--lr", "1e-3", "--gpu", "--seed", "42",
        "--dataset", "mnist", "--data-dir", str(tmp_path), "--val-split", "0",
        "--limit", "500", "--plot", "--out", str(tmp_path / "figs"),
        "--json", str(tmp_path / "r.json"), "--no-progress",
    ]  # fmt: skip
    args = _parser().parse_args(argv)
    assert (args.epochs, args.batch_size, args.lr, args.seed) == (0, 7, 0.001, 42)
    assert (args.gpu, args.plot, args.no_progress) == (True, True, True)
    assert (args.dataset, args.data_dir, args.val_split, args.limit) == ("mnist", tmp_path, 0, 500)
    assert (args.out, args.json) == (tmp_path / "figs", tmp_path / "r.json")


BAD_FLAGS = [
    ("--epochs", "-1"),
    ("--epochs", "two"),
    ("--batch-size", "0"),
    ("--batch-size", "1.5"),
    ("--lr", "0"),
    ("--lr", "-0.1"),
    ("--lr", "-1e-3"),  # scientific notation: the value, not an unknown option
    ("--lr", "-2.5E+1"),
    ("--lr", "nan"),
    ("--val-split", "1"),
    ("--val-split", "-0.1"),
    ("--limit", "0"),
    ("--seed", "-3"),
]


@pytest.mark.parametrize(("flag", "value"), BAD_FLAGS)
def test_a_bad_value_exits_2_with_one_line(
    flag: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        _parser().parse_args([flag, value])
    assert caught.value.code == 2
    error = capsys.readouterr().err
    assert len(error.splitlines()) == 1
    assert error.startswith(f"{PROG}: error: argument {flag}")
    assert repr(value) in error


@pytest.mark.parametrize(("flag", "value"), BAD_FLAGS[:3])
def test_a_plain_argparse_parser_also_exits_2(
    flag: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        _parser(argparse.ArgumentParser).parse_args([flag, value])
    assert caught.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].startswith(f"{PROG}: error: argument {flag}")


def test_hidden_layer_sizes_stop_at_a_million_units() -> None:
    from nnott.cli import MAX_LAYER_SIZE, layer_size_list

    assert layer_size_list("512, 256") == [512, 256]
    assert layer_size_list(str(MAX_LAYER_SIZE)) == [MAX_LAYER_SIZE]
    for text in (str(MAX_LAYER_SIZE + 1), "10," + "1" + "0" * 20):  # 10^20 broke NumPy
        with pytest.raises(argparse.ArgumentTypeError, match="at most 1,048,576 units"):
            layer_size_list(text)
    with pytest.raises(argparse.ArgumentTypeError):
        layer_size_list("0")


def test_help_shows_the_defaults_that_matter(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        _parser().parse_args(["--help"])
    assert caught.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 32)" in text  # --batch-size
    assert "(default: 0)" in text  # --seed
    assert "(default: None)" not in text and "(default: False)" not in text


def test_list_types() -> None:
    assert int_list("512, 256,128") == [512, 256, 128]
    assert int_list("") == []
    assert positive_int_list("3,1") == [3, 1]
    assert str_list("relu, tanh ,gelu") == ["relu", "tanh", "gelu"]
    for bad in ("1,,2", "1,x"):
        with pytest.raises(argparse.ArgumentTypeError):
            int_list(bad)
    with pytest.raises(argparse.ArgumentTypeError):
        positive_int_list("4,0")
    with pytest.raises(argparse.ArgumentTypeError):
        str_list("relu,")


# ---------------------------------------------------------------------------- run_main


def _raising(error: BaseException):
    def main(argv: list[str] | None) -> int:
        raise error

    return main


def test_run_main_returns_the_exit_code_of_main() -> None:
    seen: list[object] = []
    assert run_main(lambda argv: seen.append(argv), ["--x"], prog=PROG) == 0
    assert seen == [["--x"]]
    assert run_main(lambda argv: 3, prog=PROG) == 3


def test_run_main_turns_a_usage_error_into_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    def main(argv: list[str] | None) -> int:
        _parser().parse_args(argv)
        return 0

    assert run_main(main, ["--batch-size", "0"], prog=PROG) == 2
    assert len(capsys.readouterr().err.splitlines()) == 1
    assert run_main(main, ["--help"], prog=PROG) == 0
    assert "--batch-size" in capsys.readouterr().out


@pytest.mark.parametrize(
    "error", [ConfigError("epochs must be\n  positive"), DatasetError("no such dataset 'x'")]
)
def test_run_main_prints_a_user_error_as_one_line(
    error: Exception, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_main(_raising(error), prog=PROG) == 2
    captured = capsys.readouterr()
    expected = " ".join(line.strip() for line in str(error).splitlines())
    assert captured.err == f"{PROG}: error: {expected}\n"
    assert captured.out == ""


def test_run_main_reports_ctrl_c_with_exit_130(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(_raising(KeyboardInterrupt()), prog=PROG) == 130
    assert capsys.readouterr().err == f"{PROG}: interrupted\n"


def test_run_main_reports_sigterm_with_exit_143_after_the_clean_up(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cleaned_up = []

    def killed(argv: list[str] | None) -> int:
        try:
            os.kill(os.getpid(), signal.SIGTERM)  # without run_main: the process dies
            time.sleep(5)  # the signal is handled before this returns
        finally:
            cleaned_up.append(True)
        return 0

    before = signal.getsignal(signal.SIGTERM)
    assert run_main(killed, prog=PROG) == 143
    assert capsys.readouterr().err == f"{PROG}: terminated (SIGTERM)\n"
    assert cleaned_up == [True]
    assert signal.getsignal(signal.SIGTERM) == before  # the handler is put back


def test_sigterm_is_left_alone_outside_the_main_thread() -> None:
    seen = []

    def look() -> None:
        with sigterm_raises():
            seen.append(signal.getsignal(signal.SIGTERM))

    worker = threading.Thread(target=look)
    worker.start()
    worker.join()
    assert seen == [signal.getsignal(signal.SIGTERM)]


class OutOfMemoryError(MemoryError):
    """Stands in for cupy.cuda.memory.OutOfMemoryError, recognised by its name."""


class _OtherLibrary:
    class OutOfMemoryError(RuntimeError):
        """An out-of-memory error that is not a MemoryError, also recognised by name."""


@pytest.mark.parametrize(
    ("error", "where"),
    [
        (MemoryError(), "the host"),
        (OutOfMemoryError("2 GiB"), "the GPU"),
        (_OtherLibrary.OutOfMemoryError(), "the GPU"),
    ],
)
def test_run_main_reports_out_of_memory_in_one_line(
    error: BaseException, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_main(_raising(error), prog=PROG) == 2
    message = capsys.readouterr().err
    assert len(message.splitlines()) == 1
    assert message.startswith(f"{PROG}: error: {where} ran out of memory")
    assert "--batch-size" in message


def test_run_main_lets_a_bug_keep_its_traceback() -> None:
    with pytest.raises(ZeroDivisionError):
        run_main(_raising(ZeroDivisionError("a bug")), prog=PROG)


# ------------------------------------------------------------------------ select_device


@pytest.fixture
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend CuPy is missing, whatever this machine has."""
    monkeypatch.setattr(device, "gpu_unavailable_reason", lambda: NO_CUPY)


def test_without_gpu_flag_the_environment_device_stands(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert select_device(False, prog=PROG) == backend.current_device()
    assert capsys.readouterr().err == ""


@pytest.mark.usefixtures("no_gpu")
def test_gpu_flag_without_a_gpu_falls_back_with_one_warning(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert select_device(True, prog=PROG) == "cpu"
    assert backend.current_device() == "cpu"
    assert capsys.readouterr().err == (
        f"{PROG}: warning: --gpu asked for the GPU but {NO_CUPY}; running on the CPU\n"
    )


@pytest.mark.usefixtures("no_gpu")
def test_nnott_device_gpu_without_a_gpu_falls_back_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for want_gpu, who in ((False, "NNOTT_DEVICE=gpu"), (True, "--gpu")):
        monkeypatch.setattr(device._state, "module", None)  # as in a fresh process
        monkeypatch.setenv(device.ENV_VARIABLE, "gpu")
        assert select_device(want_gpu, prog=PROG) == "cpu"
        warning = capsys.readouterr().err
        assert warning == (
            f"{PROG}: warning: {who} asked for the GPU but {NO_CUPY}; running on the CPU\n"
        )
        assert backend.xp.ones(2).sum() == 2.0  # the backend works on the CPU afterwards


@pytest.mark.gpu
def test_gpu_flag_with_a_gpu_uses_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert select_device(True, prog=PROG) == "gpu"
    assert capsys.readouterr().err == ""


def test_seed_everything_makes_draws_repeat() -> None:
    seed_everything(123)
    first = backend.rng().normal(size=3)
    seed_everything(123)
    np.testing.assert_array_equal(backend.rng().normal(size=3), first)
    assert backend.get_seed() == 123


# ------------------------------------------------------------------------------ tables


def test_format_table_aligns_numbers_right_and_text_left() -> None:
    table = format_table(
        [["relu", 0.91234, 12, 56800.4], ["tanh", 0.8, 7, 950.0]],
        ["activation", "accuracy", "epochs", "samples/s"],
    )
    assert table.splitlines() == [
        "activation  accuracy  epochs  samples/s",
        "----------  --------  ------  ---------",
        "relu          0.9123      12     56,800",
        "tanh          0.8000       7   950.0000",
    ]


def test_format_table_refuses_ragged_rows() -> None:
    with pytest.raises(ValueError, match="2 cells, the header 3"):
        format_table([[1, 2]], ["a", "b", "c"])


def test_docstring_examples() -> None:
    assert doctest.testmod(cli).failed == 0


def test_a_closed_pipe_ends_quietly() -> None:
    """``nnott-cnn list | head -1`` must not end in a BrokenPipeError traceback."""
    import subprocess
    import sys

    program = (
        "from nnott.cli import run_main\n"
        "def main(argv):\n"
        "    for line in range(200_000):\n"
        "        print('line', line)\n"
        "raise SystemExit(run_main(main, prog='lines'))\n"
    )
    producer = subprocess.Popen(
        [sys.executable, "-c", program], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert producer.stdout is not None and producer.stderr is not None
    first = producer.stdout.readline()
    producer.stdout.close()  # the reader goes away, as `head -1` does
    errors = producer.stderr.read().decode()
    assert producer.wait(timeout=60) == 141
    assert first.startswith(b"line 0")
    assert errors == ""


def test_hidden_activation_names_broadcast_one_name_and_check_each() -> None:
    from nnott.cli import hidden_activation_names
    from nnott.errors import ConfigError

    def check(name: str) -> None:
        if name not in {"relu", "tanh"}:
            raise ConfigError(f"unknown activation {name!r}")

    assert hidden_activation_names([8, 4], None, check) == ["relu", "relu"]
    assert hidden_activation_names([8, 4], ["tanh"], check) == ["tanh", "tanh"]
    assert hidden_activation_names([8, 4], ["relu", "tanh"], check) == ["relu", "tanh"]
    assert hidden_activation_names([], None, check) == []
    with pytest.raises(ConfigError, match="--hidden-sizes has 2 layers but"):
        hidden_activation_names([8, 4], ["relu", "tanh", "relu"], check)
    with pytest.raises(ConfigError, match="unknown activation 'swish'"):
        hidden_activation_names([8], ["swish"], check)


# ------------------------------------------------------------------------ output paths


def test_output_paths_are_checked_when_parsed(tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    refused = {
        ("--json", str(tmp_path)): "is a directory; give a file name",
        ("--json", str(a_file / "run.json")): "is a file, not a directory",
        ("--out", str(a_file)): "is a file, not a directory",
        ("--out", str(a_file / "deeper" / "figures")): "is a file, not a directory",
    }
    for argv, message in refused.items():
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            {"--json": cli.output_file, "--out": cli.output_dir}[argv[0]](argv[1])
    nested = tmp_path / "new" / "deeper"
    assert cli.output_file(str(nested / "run.json")) == nested / "run.json"
    assert cli.output_dir(str(nested)) == nested
    assert cli.output_dir(str(tmp_path)) == tmp_path
    assert cli.output_file("-") == cli.STDOUT
    assert not nested.exists()  # checking creates nothing


def test_a_bad_output_path_stops_the_parse_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        _parser().parse_args(["--json", str(tmp_path)])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "argument --json" in err[0] and "is a directory" in err[0]


def _refusal(check: Callable[[str], object], text: str) -> str:
    """The message an argparse type gives when it refuses ``text``."""
    with pytest.raises(argparse.ArgumentTypeError) as caught:
        check(text)
    return str(caught.value)


def test_output_paths_the_file_system_will_not_look_at_are_one_line(tmp_path: Path) -> None:
    """A name too long or a link that loops raised a bare OSError out of argparse (a
    traceback); a looping --json link even passed, for pathlib calls it "not there"."""
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    for check in (cli.output_file, cli.output_dir):
        assert "File name too long" in _refusal(check, str(tmp_path / ("x" * 300)))
        assert "Too many levels of symbolic links" in _refusal(check, str(loop))


def test_output_paths_expand_a_tilde(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A quoted ``~`` (``--out=~/runs``, a config file) made a folder named "~" here."""
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cli.output_file("~/runs/report.json") == tmp_path / "runs" / "report.json"
    assert cli.output_dir("~/runs") == tmp_path / "runs"
    assert cli.user_path("~/data") == tmp_path / "data"
    for check in (cli.output_file, cli.output_dir, cli.user_path):
        assert "no such user's home directory" in _refusal(check, "~no-such-user-here/x")


def test_a_report_path_must_name_a_file(tmp_path: Path) -> None:
    """``--json reports/`` wrote a file named "reports"; ``--json ''`` spoke of "."."""
    assert "ends in a slash" in _refusal(cli.output_file, f"{tmp_path}/reports/")
    assert "the path is empty" in _refusal(cli.output_file, "")
    assert not (tmp_path / "reports").exists()


def test_symbolic_links_are_checked_where_they_point(tmp_path: Path) -> None:
    """A link to a directory that does not exist (an unmounted disk) passed as --out and
    failed after training with "File exists"; a link to a file is fine."""
    (tmp_path / "real.json").write_text("{}")
    (tmp_path / "latest.json").symlink_to(tmp_path / "real.json")
    assert cli.output_file(str(tmp_path / "latest.json")) == tmp_path / "latest.json"
    (tmp_path / "new.json").symlink_to(tmp_path / "runs" / "new.json")
    assert cli.output_file(str(tmp_path / "new.json")) == tmp_path / "new.json"
    (tmp_path / "runs").symlink_to(tmp_path / "unmounted" / "runs")
    dangling = "is a symbolic link to .*, which does not exist"
    with pytest.raises(argparse.ArgumentTypeError, match=dangling):
        cli.output_dir(str(tmp_path / "runs"))
    with pytest.raises(argparse.ArgumentTypeError, match=dangling):
        cli.output_dir(str(tmp_path / "runs" / "figures"))
    with pytest.raises(argparse.ArgumentTypeError, match=dangling):
        cli.output_file(str(tmp_path / "runs" / "report.json"))


def test_the_default_out_dir_is_checked_when_plot_uses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """argparse does not pass a default through its type: a file named nnott-output made
    a --plot run fail after training."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "nnott-output").write_text("notes")
    cli.check_plot_dir(_parser().parse_args([]))  # no --plot: the directory is not used
    with pytest.raises(ConfigError, match=r"^--out: nnott-output is a file, not a directory$"):
        cli.check_plot_dir(_parser().parse_args(["--plot"]))
    cli.check_plot_dir(_parser().parse_args(["--plot", "--out", "figures"]))


def test_one_file_in_two_roles_is_refused(tmp_path: Path) -> None:
    """``--json`` naming the checkpoint it came from, or a history file the run writes, would
    overwrite it when the run ends."""
    (tmp_path / "ck").mkdir()
    checkpoint = tmp_path / "ck" / "last.safetensors"
    checkpoint.write_bytes(b"weights")
    (tmp_path / "link").symlink_to(checkpoint)
    for spelling in (checkpoint, tmp_path / "ck" / ".." / "ck" / "last.safetensors"):
        with pytest.raises(ConfigError, match=r"^--json and the --resume checkpoint are both "):
            cli.check_distinct_files({"--json": spelling, "the --resume checkpoint": checkpoint})
    os.link(checkpoint, tmp_path / "hard-link")
    for other_name in (tmp_path / "link", tmp_path / "hard-link"):
        with pytest.raises(ConfigError, match="are both"):
            cli.check_distinct_files({"--json": other_name, "--resume": checkpoint})
    with pytest.raises(ConfigError, match="are both"):  # neither exists yet
        cli.check_distinct_files({"--json": tmp_path / "h.json", "history": tmp_path / "h.json"})
    cli.check_distinct_files(
        {
            "--json": cli.STDOUT,
            "history": tmp_path / "history.json",
            "report": tmp_path / "report.json",
            "none": None,
            "a device": os.devnull,
            "the same device": os.devnull,
        }
    )


def test_json_to_stdout_keeps_stdout_for_the_report(capsys: pytest.CaptureFixture[str]) -> None:
    with cli.reserve_stdout_for_report(cli.STDOUT):
        print("a table")
        assert cli.write_json_report(cli.STDOUT, {"accuracy": 0.5, "x": np.float32(1)}) == (
            "<stdout>"
        )
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"accuracy": 0.5, "x": 1.0}
    assert captured.err == "a table\n"


def test_json_to_a_file_leaves_stdout_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "new" / "run.json"
    with cli.reserve_stdout_for_report(target):
        print("a table")
        cli.write_json_report(target, {"accuracy": 0.5})
    assert capsys.readouterr().out == "a table\n"
    assert json.loads(target.read_text()) == {"accuracy": 0.5}


def test_make_parser_adds_version_when_given(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        make_parser(PROG, version="1.2.3").parse_args(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"{PROG} 1.2.3"
    with pytest.raises(SystemExit):
        make_parser(PROG).parse_args(["--version"])  # none asked for, none added
