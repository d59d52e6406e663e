"""The nnott-scalar command line, end to end on a tiny subset of the bundled data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nnott.scalar.cli import main

TINY = ["--limit", "60", "--test-limit", "20", "--hidden-sizes", "4", "--no-progress"]


def test_a_tiny_run_writes_json_and_plots(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    report = tmp_path / "report.json"
    code = main(
        [
            *TINY,
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--json",
            str(report),
            "--plot",
            "--out",
            str(tmp_path / "figures"),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "network 784-4-10 (relu, identity)" in out
    assert "epoch 1/1: train loss" in out
    assert "test accuracy" in out and "samples/s" in out

    document = json.loads(report.read_text())
    assert document["device"] == "python"
    assert document["epochs"] == 1
    assert document["test_samples"] == 20
    assert 0.0 <= document["test_accuracy"] <= 1.0
    assert document["test_loss"] > 0.0
    assert document["train_samples_per_s"] > 0.0
    assert document["config"]["hidden_sizes"] == [4]
    assert document["config"]["momentum"] == 0.9
    assert len(document["history"]["train_loss"]) == 1
    for name in ("scalar-history.png", "scalar-confusion.png", "scalar-misclassified.png"):
        assert (tmp_path / "figures" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the per-epoch table too, as the other tiers write it
    rows = json.loads((tmp_path / "figures" / "scalar-history.json").read_text())
    assert [row["epoch"] for row in rows] == [1]
    assert rows[0]["train_loss"] == document["history"]["train_loss"][0]
    csv_lines = (tmp_path / "figures" / "scalar-history.csv").read_text().splitlines()
    assert csv_lines[0].startswith("epoch,train_loss,") and len(csv_lines) == 2


def test_json_dash_puts_the_report_alone_on_stdout(capsys: pytest.CaptureFixture) -> None:
    assert main([*TINY, "--epochs", "1", "--batch-size", "8", "--json", "-"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["epochs"] == 1
    assert "test accuracy" in captured.err


def test_trace_and_deeper_networks_from_the_command_line(capsys: pytest.CaptureFixture) -> None:
    code = main(
        [
            *TINY,
            "--epochs",
            "1",
            "--hidden-sizes",
            "5,3",
            "--hidden-activations",
            "tanh,leaky_relu",
            "--hidden-dropout",
            "0.2",
            "--trace",
            "--trace-samples",
            "2",
            "--trace-level",
            "1",
            "--gpu",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0
    assert captured.out.count("=== trace") == 2
    assert "network 784-5-3-10 (tanh, leaky_relu, identity)" in captured.out
    assert "--gpu has no effect here" in captured.err


def test_a_full_trace_of_a_784_input_network_warns_first(capsys: pytest.CaptureFixture) -> None:
    """The smallest network the command line builds is 784-1-10; its level-3 trace writes
    every one of 784 products on one line, so stderr says so before it starts."""
    flags = [*TINY, "--epochs", "1", "--hidden-sizes", "1", "--trace"]
    assert main([*flags, "--trace-level", "3"]) == 0
    captured = capsys.readouterr()
    assert captured.err.startswith(
        "nnott-scalar: warning: the trace of 1 sample of the 784-1-10 network will print about"
    )
    assert "784 terms on one line" in captured.err
    assert captured.out.count("=== trace") == 1
    assert main([*flags, "--trace-level", "2"]) == 0
    assert "warning" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "note"),
    [
        (["--trace-level", "3"], "note: --trace-level prints nothing without --trace"),
        (
            ["--trace-samples", "1", "--trace-level", "1"],
            "note: --trace-level and --trace-samples print nothing without --trace",
        ),
        (["--trace", "--trace-samples", "0"], "note: --trace-samples 0 traces no sample"),
    ],
)
def test_trace_options_that_print_nothing_say_so(
    flags: list[str], note: str, capsys: pytest.CaptureFixture
) -> None:
    assert main([*TINY, "--epochs", "1", *flags]) == 0
    captured = capsys.readouterr()
    assert captured.err.strip() == f"nnott-scalar: {note}"
    assert "=== trace" not in captured.out


def test_the_help_does_not_promise_a_gpu(capsys: pytest.CaptureFixture) -> None:
    assert main(["--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--gpu accepted for symmetry with the other tiers; no effect here" in text
    assert "CuPy" not in text


def test_weights_broken_by_the_last_step_end_the_run(capsys: pytest.CaptureFixture) -> None:
    """18 training samples make one batch per epoch: its loss is finite (it is taken before
    the step), and only the step breaks the weights. The run must not go on to report a
    NaN validation and test loss with exit code 0."""
    assert main([*TINY, "--limit", "20", "--epochs", "1", "--lr", "1e300"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnott-scalar: error:")
    assert "try a smaller --lr" in lines[0]


def test_zero_epochs_only_evaluates(capsys: pytest.CaptureFixture) -> None:
    assert main([*TINY, "--epochs", "0", "--hidden-sizes", ""]) == 0
    out = capsys.readouterr().out
    assert "network 784-10 (identity)" in out
    assert "test accuracy" in out and "epoch 1" not in out


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--epochs", "-1"], "--epochs: must be zero or a positive whole number"),
        (
            ["--hidden-sizes", "8,4", "--hidden-activations", "relu,tanh,relu"],
            "--hidden-sizes has 2 layers but --hidden-activations names 3",
        ),
        (["--hidden-activations", "swish"], "unknown activation 'swish'"),
        (["--hidden-dropout", "1.5"], "--hidden-dropout: must be at least 0 and less than 1"),
        (["--momentum", "1"], "--momentum: must be at least 0 and less than 1"),
        (["--batch-size", "0"], "--batch-size: must be a positive whole number"),
        (["--trace-level", "7"], "--trace-level: invalid choice"),
        (["--augment", "spin"], "unknown augmentation 'spin'"),
        (["--trace", "--mixup", "0.2"], "--trace explains hard labels"),
    ],
)
def test_bad_flags_end_in_one_line_and_exit_code_2(
    flags: list[str], message: str, capsys: pytest.CaptureFixture
) -> None:
    assert main(flags) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("nnott-scalar: error:")
    assert message in lines[0]


def test_python_dash_m_runs_the_same_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nnott.scalar", "--epochs", "-3"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_augmentation_flags_train_on_augmented_and_mixed_batches(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The foundation's augmentation flags work in the scalar tier too (same spelling as
    nnott-vectorized and nnott-cnn), and the same seed gives the same run."""
    flags = [*TINY, "--epochs", "1", "--augment", "shift:2,hflip,cutout@0.3", "--mixup", "0.2"]
    reports = []
    for run in range(2):
        report = tmp_path / f"run{run}.json"
        assert main([*flags, "--json", str(report)]) == 0
        reports.append(json.loads(report.read_text()))
    assert reports[0]["config"]["mixup"] == 0.2
    assert reports[0]["history"]["train_loss"] == reports[1]["history"]["train_loss"]
    plain = tmp_path / "plain.json"
    assert main([*TINY, "--epochs", "1", "--json", str(plain)]) == 0
    assert (
        json.loads(plain.read_text())["history"]["train_loss"]
        != reports[0]["history"]["train_loss"]
    )
    capsys.readouterr()


def test_output_paths_that_would_fail_at_the_end_are_refused_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file named like the default --out, or --json naming a file --plot writes, ended a
    run after training with an error, or with the history silently overwritten."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "nnott-output").write_text("notes")
    history = tmp_path / "figures" / "scalar-history.json"
    cases = {
        ("--plot",): "--out: nnott-output is a file, not a directory",
        ("--plot", "--out", "figures", "--json", str(history)): (
            f"--json and the scalar-history.json that --plot writes are both {history}"
        ),
        ("--plot", "--out", "figures", "--json", "figures"): (
            "--json and the --out directory are both figures"
        ),
    }
    for flags, message in cases.items():
        assert main([*TINY, "--epochs", "1", *flags]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""  # refused before any data was loaded
        assert len(captured.err.strip().splitlines()) == 1, captured.err
        assert captured.err.startswith(f"nnott-scalar: error: {message}")
    assert (tmp_path / "nnott-output").read_text() == "notes"
    assert not history.exists()


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--limit", "5"], "--limit 5 is fewer than the 10 classes"),
        (["--limit", "10", "--val-split", "0.1"], "leaves no training images of 1 of the 10"),
        (["--hidden-sizes", "", "--hidden-dropout", "0.5"], "--hidden-dropout has no effect"),
        (["--hidden-sizes", "", "--hidden-activations", "tanh"], "--hidden-activations has no"),
    ],
    ids=["limit-below-classes", "split-takes-a-class", "dropout-no-layers", "names-no-layers"],
)
def test_flags_that_cannot_work_are_refused_in_one_line(
    flags: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([*flags, "--epochs", "1", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and said in err[0], err


def test_the_console_script_imports_nothing_heavy_before_ctrl_c_is_answered():
    """nnott-scalar's console script imports the command line inside nnott.launcher's guard."""
    from nnott.testing.scripts import console_script_target, heavy_imports_of

    assert console_script_target("nnott-scalar") == "nnott._scalar_script:main"
    assert heavy_imports_of("nnott._scalar_script") == []
