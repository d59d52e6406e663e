"""The ``nnott-vectorized`` command line, end to end on tiny runs of the bundled dataset."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from nnott.backend import gpu_available
from nnott.vectorized.__main__ import main
from nnott.vectorized.cli import build_parser
from nnott.vectorized.training_cli import (
    build_optimizer,
    build_schedule,
    changed_settings,
    validate_training_args,
)

TINY = ["--limit", "300", "--epochs", "2", "--hidden-sizes", "32", "--no-progress"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_a_full_run_writes_the_report_and_the_figures(tmp_path, capsys):
    report_path, out = tmp_path / "report.json", tmp_path / "figures"
    flags = ["--json", str(report_path), "--plot", "--out", str(out)]
    flags += ["--hidden-sizes", "32,16", "--batchnorm", "--dropout", "0.2"]
    flags += ["--optimizer", "adamw", "--lr-schedule", "cosine", "--warmup-epochs", "1"]
    flags += ["--grad-clip", "5", "--lookahead", "--label-smoothing", "0.1"]
    assert main([*TINY, *flags]) == 0

    report = json.loads(report_path.read_text())
    for key in ("test_accuracy", "test_loss", "epochs", "train_samples_per_s", "device"):
        assert key in report
    assert 0.0 <= report["test_accuracy"] <= 1.0 and report["epochs"] == 2
    assert report["train_samples_per_s"] > 0
    assert report["config"]["hidden_sizes"] == [32, 16]
    assert report["config"]["optimizer"] == "adamw" and report["config"]["lookahead"] is True
    assert len(report["history"]) == 2
    for name in ("history.png", "confusion_matrix.png", "misclassified.png"):
        data = (out / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 1000
    assert (out / "history.csv").read_text().startswith("epoch,")

    printed = capsys.readouterr().out
    assert "test accuracy" in printed and "samples/s" in printed and "precision" in printed


def test_early_stopping_and_checkpoints_from_the_command_line(tmp_path):
    flags = ["--early-stopping", "--patience", "1", "--checkpoint-dir", str(tmp_path)]
    flags += ["--json", str(tmp_path / "r.json"), "--lr-schedule", "plateau"]
    assert main([*TINY, *flags]) == 0
    assert (tmp_path / "last.safetensors").is_file()
    assert (tmp_path / "best.safetensors").is_file()
    assert (tmp_path / "history.json").is_file() and (tmp_path / "history.csv").is_file()
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["outputs"]["best_checkpoint"].endswith("best.safetensors")


BAD_FLAGS = {
    "negative epochs": ["--epochs", "-1"],
    "zero batch size": ["--batch-size", "0"],
    "mismatched activations": ["--hidden-sizes", "64,32", "--hidden-activations", "relu,tanh,gelu"],
    "unknown activation": ["--hidden-activations", "swoosh"],
    "unknown optimizer": ["--optimizer", "adamax"],
    "unknown schedule": ["--lr-schedule", "zigzag"],
    "dropout of one": ["--dropout", "1"],
    "early stopping without validation": ["--early-stopping", "--val-split", "0"],
    "warm-up as long as the run": ["--lr-schedule", "cosine", "--warmup-epochs", "2"],
    "momentum for adam": ["--optimizer", "adam", "--momentum", "0.9"],
    "missing checkpoint": ["--resume", "no/such/checkpoint.safetensors"],
}

# Refused before any training, each with the words that say why (the report of a finished
# run must never be lost to a path that cannot be written).
REFUSED = {
    "momentum of one or more": (["--optimizer", "sgd", "--momentum", "1.5"], "less than 1"),
    "floor above the rate": (["--lr-schedule", "cosine", "--min-lr", "0.1"], "below --lr"),
    "a growing decay factor": (["--lr-schedule", "step", "--lr-gamma", "5"], "below 1"),
    "unsorted milestones": (
        ["--lr-schedule", "multistep", "--lr-milestones", "5,2"],
        "increasing epochs",
    ),
    "gamma without its schedule": (["--lr-gamma", "0.5"], "no effect without --lr-schedule"),
    "warm-up without cosine": (["--warmup-epochs", "1"], "no effect without --lr-schedule"),
    "min-lr without cosine": (["--min-lr", "0.0001"], "no effect without --lr-schedule"),
    "step length without step": (["--lr-step-epochs", "1"], "without --lr-schedule step"),
    "plateau patience without plateau": (["--plateau-patience", "1"], "plateau"),
    "patience without early stopping": (["--patience", "2"], "without --early-stopping"),
    "min-delta without early stopping": (["--min-delta", "0.1"], "without --early-stopping"),
    "lookahead k without lookahead": (["--lookahead-k", "3"], "without --lookahead"),
    "lookahead alpha without lookahead": (["--lookahead-alpha", "0.3"], "without --lookahead"),
    "a report into a directory": (["--json", "."], "is a directory"),
    "no milestones": (["--lr-schedule", "multistep", "--lr-milestones", ""], "is empty"),
    "one-cycle over one step": (
        ["--lr-schedule", "onecycle", "--epochs", "1", "--batch-size", "1000"],
        "at least 2 optimizer steps",
    ),
    "fewer images than classes": (["--limit", "5"], "fewer than the 10 classes"),
    "a class left with no training image": (["--limit", "10"], "no training images of 1"),
    "almost everything for validation": (["--val-split", "0.99"], "no training images of"),
    "activations without hidden layers": (
        ["--hidden-sizes", "", "--hidden-activations", "tanh"],
        "--hidden-activations has no effect without hidden layers",
    ),
    "dropout and batchnorm without hidden layers": (
        ["--hidden-sizes", "", "--dropout", "0.5", "--batchnorm"],
        "--batchnorm and --dropout have no effect",
    ),
    "mixup twice": (["--mixup", "0.2", "--augment", "mixup:0.4"], "set the same thing"),
    "an empty augmentation item": (["--augment", "shift,"], "has an empty item"),
    "an infinite shift": (["--augment", "shift:inf"], "not a finite number"),
    "a shear that overflows": (["--augment", "shear:1e308"], "at most 1"),
}
BAD_FLAGS.update({name: flags for name, (flags, _) in REFUSED.items()})


@pytest.mark.parametrize("flags,why", REFUSED.values(), ids=REFUSED.keys())
def test_flags_that_would_do_nothing_or_harm_are_refused_with_the_reason(flags, why, capsys):
    assert main([*TINY, *flags]) == 2
    assert why in capsys.readouterr().err


def test_feature_flags_left_alone_get_their_defaults():
    args = build_parser().parse_args([])
    validate_training_args(args)
    assert (args.warmup_epochs, args.min_lr, args.plateau_patience) == (0, 0.0, 2)
    assert (args.patience, args.min_delta, args.lookahead_k, args.lookahead_alpha) == (
        3,
        0.0,
        5,
        0.5,
    )
    assert args.lr_gamma is None  # each schedule has its own


def test_json_dash_puts_the_report_alone_on_stdout(capsys):
    assert main([*TINY, "--epochs", "1", "--json", "-"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)  # the whole of stdout is one JSON document
    assert report["epochs"] == 1 and report["outputs"]["json"] == "-"
    assert "test accuracy" in captured.err  # the tables went to stderr


def test_zero_epochs_reports_no_speed(tmp_path, capsys):
    assert main([*TINY, "--epochs", "0", "--json", str(tmp_path / "r.json")]) == 0
    assert "- (nothing trained)" in capsys.readouterr().out
    assert json.loads((tmp_path / "r.json").read_text())["train_samples_per_s"] is None


@pytest.mark.parametrize(("flags", "init"), [([], "auto"), (["--init", "xavier"], "xavier")])
def test_init_follows_the_activation_unless_a_scheme_is_forced(flags, init, monkeypatch):
    """By default the command line builds its MLP as mlp() does (init="auto"), so the same
    seed gives the scalar and vectorized command lines the same initial weights."""
    import nnott.vectorized.cli as cli

    seen: list[str] = []
    build_mlp = cli.mlp

    def recording_mlp(*args, **kwargs):
        seen.append(kwargs["init"])
        return build_mlp(*args, **kwargs)

    monkeypatch.setattr(cli, "mlp", recording_mlp)
    assert main([*TINY, "--epochs", "0", *flags]) == 0
    assert seen == [init]


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.startswith("nnott-vectorized 0.")


@pytest.mark.parametrize("flags", BAD_FLAGS.values(), ids=BAD_FLAGS.keys())
def test_bad_flags_end_in_one_line_and_exit_code_2(flags, capsys):
    assert main([*TINY, *flags]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("nnott-vectorized: error:")
    assert "Traceback" not in captured.err and captured.out == ""


def test_a_diverging_run_ends_in_one_line_and_exit_code_2(tmp_path, capsys):
    flags = ["--optimizer", "sgd", "--lr", "1e6", "--checkpoint-dir", str(tmp_path)]
    assert main([*TINY, *flags]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "diverged" in lines[0]


@pytest.mark.skipif(gpu_available(), reason="this machine has a GPU, so --gpu does not fall back")
def test_gpu_without_a_gpu_warns_once_and_runs_on_the_cpu(tmp_path, capsys):
    report_path = tmp_path / "r.json"
    assert main([*TINY, "--gpu", "--json", str(report_path)]) == 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "warning" in lines[0] and "CPU" in lines[0]
    assert json.loads(report_path.read_text())["device"] == "cpu"


def test_python_dash_m_runs_the_same_command_line():
    environment = {**os.environ, "NNOTT_PROGRESS": "0"}
    result = subprocess.run(
        [sys.executable, "-m", "nnott.vectorized", "--epochs", "-3"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[0].startswith("nnott-vectorized: error:")
    assert len(result.stderr.strip().splitlines()) == 1


def test_every_optimizer_and_schedule_builds_from_flags():
    from nnott.backend import seed
    from nnott.vectorized.mlp import mlp
    from nnott.vectorized.optim import OPTIMIZERS
    from nnott.vectorized.schedules import SCHEDULES

    seed(0)
    model = mlp(4, [3], 2)
    parser = build_parser()
    for name in OPTIMIZERS:
        for schedule in SCHEDULES:
            args = parser.parse_args(["--optimizer", name, "--lr-schedule", schedule])
            validate_training_args(args)  # fills in the defaults of the feature flags
            optimizer = build_optimizer(args, model.parameters())
            built = build_schedule(args, optimizer, steps_per_epoch=7)
            assert (built is None) == (schedule == "constant")
            assert optimizer.lr > 0


def test_changed_settings_ignores_flags_that_do_not_change_the_result():
    saved = {"lr": 0.1, "epochs": 2, "json": "a.json", "seed": 0}
    assert changed_settings(saved, {**saved, "epochs": 5, "json": None}) == []
    assert changed_settings(saved, {**saved, "lr": 0.2, "seed": 1}) == ["lr", "seed"]


def test_changed_settings_counts_epochs_when_the_schedule_is_stretched_over_them():
    saved = {"epochs": 2, "lr_schedule": "cosine", "lr_step_epochs": None}
    assert changed_settings(saved, {**saved, "epochs": 4}) == ["epochs"]
    step = {**saved, "lr_schedule": "step"}
    assert changed_settings(step, {**step, "epochs": 4}) == ["epochs"]
    fixed_steps = {**step, "lr_step_epochs": 1}
    assert changed_settings(fixed_steps, {**fixed_steps, "epochs": 4}) == []


def test_a_linear_classifier_trains_without_the_hidden_layer_flags():
    assert main([*TINY, "--hidden-sizes", "", "--epochs", "1", "--dropout", "0"]) == 0


# ------------------------------------------------- one file in two roles, paths given oddly

ONE_EPOCH = ["--limit", "100", "--epochs", "1", "--no-progress"]


def one_line_refusal(capsys, argv):
    """Run ``argv``; return its one stderr line, after checking exit code 2."""
    code = main(argv)
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1, lines
    return lines[0]


def test_json_may_not_overwrite_a_checkpoint_or_a_file_the_run_writes(tmp_path, capsys):
    saved = tmp_path / "ck"
    assert main([*ONE_EPOCH, "--checkpoint-dir", str(saved)]) == 0
    last = saved / "last.safetensors"
    before = last.read_bytes()
    capsys.readouterr()
    cases = {
        "the --resume checkpoint": ["--resume", str(last), "--json", str(last)],
        "the best.safetensors written in --checkpoint-dir": [
            *("--resume", str(last), "--checkpoint-dir", str(saved)),
            *("--json", str(saved / "best.safetensors")),
        ],
        "the history.csv that --plot writes": [
            *("--plot", "--out", str(tmp_path / "o"), "--json", str(tmp_path / "o" / "history.csv"))
        ],
        "the --out directory": [
            "--plot",
            "--out",
            str(tmp_path / "o"),
            "--json",
            str(tmp_path / "o"),
        ],
    }
    for role, flags in cases.items():
        assert role in one_line_refusal(capsys, [*ONE_EPOCH, *flags])
    assert last.read_bytes() == before


def test_roles_meant_to_share_a_file_are_allowed(tmp_path, capsys):
    folder = tmp_path / "run"
    assert main([*ONE_EPOCH, "--checkpoint-dir", str(folder), "--plot", "--out", str(folder)]) == 0
    resume = ["--resume", str(folder / "last.safetensors"), "--checkpoint-dir", str(folder)]
    assert main([*ONE_EPOCH[:2], "--epochs", "2", "--no-progress", *resume]) == 0


def test_a_plot_directory_that_is_a_file_is_refused_before_training(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "nnott-output").write_text("notes")  # the default --out
    assert "nnott-output is a file" in one_line_refusal(capsys, [*ONE_EPOCH, "--plot"])


def test_resume_expands_the_home_directory_and_names_unusable_paths(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert main([*ONE_EPOCH, "--checkpoint-dir", str(tmp_path / "ck")]) == 0
    capsys.readouterr()
    resume = ["--resume", "~/ck/last.safetensors", "--epochs", "2"]
    assert main([*ONE_EPOCH[:2], "--no-progress", *resume]) == 0
    assert "resumed from" in capsys.readouterr().err
    too_long = "x" * 300
    assert "cannot use" in one_line_refusal(capsys, [*ONE_EPOCH, "--resume", too_long])


def test_the_console_script_imports_nothing_heavy_before_ctrl_c_is_answered():
    """nnott-vectorized's console script imports the command line inside nnott.launcher's guard."""
    from nnott.testing.scripts import console_script_target, heavy_imports_of

    assert console_script_target("nnott-vectorized") == "nnott._vectorized_script:main"
    assert heavy_imports_of("nnott._vectorized_script") == []
