"""Stopping and resuming a CNN run reproduces the uninterrupted run's weights exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from nnott.cnn.__main__ import main


def model_tensors(path):
    """The model tensors of a checkpoint, read with safetensors itself: the comparison
    then does not rest on nnott's own loader."""
    return {name: array for name, array in load_file(path).items() if name.startswith("model.")}


RUNS = {
    # schedules whose course does not depend on --epochs: the stopped run is the same run
    "lenet": [
        "lenet",
        "--width",
        "0.5",
        "--optimizer",
        "adamw",
        "--lr-schedule",
        "step",
        "--lr-step-epochs",
        "1",
    ],
    "baseline": [
        "baseline",
        "--width",
        "0.25",
        "--optimizer",
        "sgd",
        "--lookahead",
        "--augment",
        "shift,flip",
        "--label-smoothing",
        "0.1",
    ],
}


@pytest.mark.parametrize("run", sorted(RUNS))
def test_resume_after_a_stop_gives_the_same_weights(tmp_path, capsys, monkeypatch, run):
    common = [*RUNS[run], "--limit", "160", "--batch-size", "32", "--no-progress"]
    assert main([*common, "--epochs", "2", "--checkpoint-dir", str(tmp_path / "straight")]) == 0
    assert main([*common, "--epochs", "1", "--checkpoint-dir", str(tmp_path / "stopped")]) == 0
    stopped = tmp_path / "stopped" / "last.safetensors"
    reads = []
    real_read_bytes = Path.read_bytes
    monkeypatch.setattr(
        Path, "read_bytes", lambda path: (reads.append(path), real_read_bytes(path))[1]
    )
    resume = ["--resume", str(stopped)]
    assert (
        main([*common, "--epochs", "2", *resume, "--checkpoint-dir", str(tmp_path / "resumed")])
        == 0
    )
    assert [path.resolve() for path in reads].count(stopped.resolve()) == 1  # read once
    assert "resumed from" in capsys.readouterr().err

    straight = model_tensors(tmp_path / "straight" / "last.safetensors")
    resumed = model_tensors(tmp_path / "resumed" / "last.safetensors")
    assert straight and straight.keys() == resumed.keys()
    for name, value in straight.items():
        np.testing.assert_array_equal(resumed[name], value, err_msg=name)


def test_resuming_another_architecture_is_refused_in_one_line(tmp_path, capsys):
    common = ["--limit", "100", "--batch-size", "50", "--no-progress", "--epochs", "1"]
    assert main(["lenet", "--width", "0.25", *common, "--checkpoint-dir", str(tmp_path)]) == 0
    capsys.readouterr()
    code = main(["baseline", *common, "--resume", str(tmp_path / "last.safetensors")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "holds a lenet model, not a baseline" in err[0]


def test_json_may_not_overwrite_the_loaded_checkpoint_or_a_figure(tmp_path, capsys):
    common = ["lenet", "--width", "0.25", "--limit", "100", "--batch-size", "50"]
    common += ["--no-progress", "--epochs", "1"]
    assert main([*common, "--checkpoint-dir", str(tmp_path / "ck")]) == 0
    last = tmp_path / "ck" / "last.safetensors"
    before = last.read_bytes()
    capsys.readouterr()
    cases = {
        "the --load checkpoint": ["--load", str(last), "--json", str(last)],
        "the filters.png that --plot writes": [
            *("--plot", "--out", str(tmp_path / "o"), "--json", str(tmp_path / "o" / "filters.png"))
        ],
    }
    for role, flags in cases.items():
        assert main([*common, *flags]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and role in err[0], err
    assert last.read_bytes() == before
