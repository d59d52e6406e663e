"""``nnott-cnn``: list, summary, a short training run with its report and figures, load."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from nnott.backend import gpu_available
from nnott.checkpoint import load_checkpoint, save_checkpoint
from nnott.cnn.__main__ import main
from nnott.cnn.architectures import list_architectures
from nnott.vectorized.trainer import Trainer

TINY_RUN = ["--limit", "200", "--batch-size", "50", "--epochs", "1", "--no-progress"]


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_list_shows_every_architecture_and_its_notes(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for arch in list_architectures():
        assert arch.name in out and arch.description in out
    assert "ResNet18 (3x3 stem, no max-pool)" in out
    assert "11,689,512" in out
    baseline_row = next(line for line in out.splitlines() if line.startswith("baseline "))
    assert "421,738" in baseline_row  # nnott's own model: its count, not a dash


@pytest.mark.parametrize("argv", [["--version"], ["lenet", "--version"], ["list", "--version"]])
def test_version(argv, capsys):
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("nnott-cnn 0.")


def test_an_input_too_small_names_the_size_the_user_gave(capsys):
    assert main(["summary", "lenet", "--input-size", "4"]) == 2
    message = one_line_error(capsys)
    assert "4x4 images are too small for lenet" in message


def test_json_dash_puts_the_report_alone_on_stdout(capsys):
    assert main(["lenet", "--width", "0.5", *TINY_RUN, "--json", "-"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["arch"] == "lenet"
    assert "test accuracy" in captured.err


def test_summary_matches_the_published_count(capsys):
    assert main(["summary", "resnet18"]) == 0
    out = capsys.readouterr().out
    assert "matches the published 11,689,512 parameters" in out
    assert "layer4.1.conv2" in out and "total" in out


def test_summary_of_a_small_input(capsys):
    args = ["summary", "lenet", "--input-size", "28", "--in-channels", "1", "--depth", "1"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "1x1x28x28" in out and "classifier" in out and "61,706" in out


@pytest.mark.parametrize(
    "argv,message",
    [
        (["summary", "resnet50"], "unknown architecture 'resnet50'"),
        (["resnet50"], "invalid choice: 'resnet50'"),
        (["lenet", "--eval-only"], "--eval-only evaluates a saved model"),
        (["lenet", "--width", "0"], "--width"),
        (["lenet", "--epochs", "-1"], "--epochs"),
        (["lenet", *TINY_RUN, "--limit", "5"], "fewer than the 10 classes"),
        (["lenet", *TINY_RUN, "--augment", "contrast:1e308"], "at most 1"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(capsys, argv, message):
    assert main(argv) == 2
    assert message in one_line_error(capsys)


def test_a_model_that_overflows_on_the_test_set_is_a_divergence(capsys):
    # Every training and validation loss stays finite (about 1e36), but the outputs of some
    # test images overflow: the run used to end with exit 0, a NaN test loss, an accuracy
    # of chance and NumPy's overflow warnings.
    argv = ["lenet", "--width", "0.25", "--limit", "100", "--epochs", "1", "--no-progress"]
    assert main([*argv, "--lr", "1e12"]) == 2
    assert "training diverged" in one_line_error(capsys)  # (on the CPU: at the test set)


def test_summary_flag_prints_the_table_for_the_dataset_and_trains_nothing(capsys, tmp_path):
    assert main(["vgg16", "--summary", "--width", "0.25", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "input 64x1x28x28" in out and "total" in out and "test accuracy" not in out


def test_a_short_run_reports_plots_and_reloads(capsys, tmp_path):
    report_path, out_dir, checkpoints = tmp_path / "run.json", tmp_path / "out", tmp_path / "ck"
    argv = ["lenet", "--width", "0.5", *TINY_RUN, "--json", str(report_path), "--plot"]
    argv += ["--out", str(out_dir), "--checkpoint-dir", str(checkpoints)]
    assert main(argv) == 0
    assert "test accuracy" in capsys.readouterr().out

    report = json.loads(report_path.read_text())
    for key in ("test_accuracy", "test_loss", "epochs", "train_samples_per_s", "device", "arch"):
        assert key in report
    assert report["arch"] == "lenet" and report["epochs"] == 1
    assert report["config"]["width"] == 0.5 and report["config"]["batch_size"] == 50
    for figure in ("history", "confusion_matrix", "misclassified", "filters", "feature_maps"):
        path = out_dir / f"{figure}.png"
        assert path.is_file() and path.stat().st_size > 1000
        assert report["outputs"][figure] == str(path)

    # The saved weights evaluate to the same test accuracy, with --eval-only.
    saved = checkpoints / "last.safetensors"
    again = tmp_path / "again.json"
    assert (
        main(["lenet", "--width", "0.5", "--load", str(saved), "--eval-only", "--json", str(again)])
        == 0
    )
    evaluation = json.loads(again.read_text())
    assert evaluation["test_accuracy"] == report["test_accuracy"]
    assert evaluation["test_loss"] == pytest.approx(report["test_loss"], rel=1e-6)
    assert evaluation["arch"] == "lenet" and evaluation["mode"] == "eval-only"
    capsys.readouterr()

    # Another architecture, or another width, is refused in one line.
    assert main(["resnet18", "--load", str(saved), "--eval-only"]) == 2
    assert "holds a lenet model, not a resnet18" in one_line_error(capsys)
    assert main(["lenet", "--load", str(saved), "--eval-only"]) == 2
    assert "give --width 0.5" in one_line_error(capsys)


@pytest.mark.skipif(gpu_available(), reason="checks the fallback on a machine without a GPU")
def test_gpu_without_a_gpu_falls_back_with_one_warning(capsys):
    assert main(["lenet", "--width", "0.25", *TINY_RUN, "--gpu"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    warnings = [line for line in err if "warning" in line]
    assert len(warnings) == 1 and "running on the CPU" in warnings[0]


def test_python_dash_m_runs_the_command_line():
    result = subprocess.run(
        [sys.executable, "-m", "nnott.cnn", "list"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and "convnext_tiny" in result.stdout


def test_a_model_of_other_classes_is_refused_for_eval_and_load(capsys, tmp_path):
    """A 10-class MNIST model fits a 10-class Fashion-MNIST LeNet, but its outputs are
    digits: evaluating or fine-tuning it there would report nonsense without a word."""
    checkpoints = tmp_path / "ck"
    argv = ["lenet", "--width", "0.25", *TINY_RUN, "--checkpoint-dir", str(checkpoints)]
    assert main(argv) == 0
    saved = load_checkpoint(checkpoints / "last.safetensors")
    digits = {"dataset": "mnist", "classes": [str(digit) for digit in range(10)]}
    other = save_checkpoint(tmp_path / "mnist.st", saved.tensors, {**saved.metadata, **digits})
    capsys.readouterr()

    for flags in (["--eval-only"], [*TINY_RUN]):
        assert main(["lenet", "--width", "0.25", "--load", str(other), *flags]) == 2
        message = one_line_error(capsys)
        assert "trained on mnist" in message and "give --dataset mnist" in message


def test_load_of_a_directory_names_the_file_to_give(capsys, tmp_path):
    assert main(["lenet", "--load", str(tmp_path), "--eval-only"]) == 2
    message = one_line_error(capsys)
    assert "is a directory" in message and str(tmp_path / "last.safetensors") in message


def test_sigterm_mid_run_is_one_line_and_exit_143(capsys, tmp_path, monkeypatch):
    real = Trainer._train_epoch

    def terminated_in_epoch_2(self, loader, epoch, epochs):
        if epoch == 2:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises at once; this sleep is never finished
        return real(self, loader, epoch, epochs)

    monkeypatch.setattr(Trainer, "_train_epoch", terminated_in_epoch_2)
    checkpoints = tmp_path / "ck"
    run = ["lenet", "--width", "0.25", *TINY_RUN, "--epochs", "3"]
    assert main([*run, "--checkpoint-dir", str(checkpoints)]) == 143
    last = checkpoints / "last.safetensors"
    assert one_line_error(capsys) == (
        "nnott-cnn: terminated (SIGTERM); the last complete checkpoint is kept; "
        f"continue with --resume {last}"
    )
    assert load_checkpoint(last).metadata["epoch"] == 1
    assert sorted(p.name for p in checkpoints.iterdir()) == ["best.safetensors", "last.safetensors"]


def test_the_console_script_imports_nothing_heavy_before_ctrl_c_is_answered():
    """nnott-cnn's console script imports the command line inside nnott.launcher's guard."""
    from nnott.testing.scripts import console_script_target, heavy_imports_of

    assert console_script_target("nnott-cnn") == "nnott._cnn_script:main"
    assert heavy_imports_of("nnott._cnn_script") == []
