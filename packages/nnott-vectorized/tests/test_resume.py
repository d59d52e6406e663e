"""Exact resume: 2 epochs straight give the same weights as 1 epoch + resume + 1 epoch."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from nnott.backend import seed, to_cpu
from nnott.checkpoint import load_checkpoint, save_checkpoint
from nnott.data import DataLoader
from nnott.errors import CheckpointError
from nnott.vectorized.__main__ import main
from nnott.vectorized.callbacks import EarlyStopping
from nnott.vectorized.losses import SoftmaxCrossEntropy
from nnott.vectorized.mlp import mlp
from nnott.vectorized.optim import SGD, AdamW, Lookahead
from nnott.vectorized.schedules import CosineWithWarmup, ReduceLROnPlateau
from nnott.vectorized.trainer import Trainer

TIMING_KEYS = ("epoch_seconds", "train_samples_per_s")


def toy_loaders() -> tuple[DataLoader, DataLoader]:
    generator = np.random.default_rng(7)
    labels = np.arange(120) % 3
    images = (labels[:, None] + generator.standard_normal((120, 4))).astype(np.float32)
    images = images.reshape(120, 1, 2, 2)
    train = DataLoader(images[:90], labels[:90], 16, shuffle=True, seed=5, num_classes=3)
    val = DataLoader(images[90:], labels[90:], 32, num_classes=3)
    return train, val


def adamw_cosine(model, steps_per_epoch):
    optimizer = AdamW(model.parameters(), lr=0.01)
    schedule = CosineWithWarmup(optimizer, 2 * steps_per_epoch, warmup_steps=3, min_lr=1e-4)
    return optimizer, schedule, {"loss": SoftmaxCrossEntropy()}


def sgd_lookahead_plateau(model, steps_per_epoch):
    optimizer = Lookahead(SGD(model.parameters(), lr=0.05, momentum=0.9), k=3)
    schedule = ReduceLROnPlateau(optimizer, patience=0, factor=0.5)
    options = {"loss": SoftmaxCrossEntropy(label_smoothing=0.1), "grad_clip": 0.5}
    return optimizer, schedule, options


def run(build, epochs, *, checkpoint_dir=None, resume_from=None):
    """A fresh process's worth of work: seed, build, (resume,) fit. Returns the trainer."""
    seed(0)
    train, val = toy_loaders()
    model = mlp(4, [12, 8], 3, batchnorm=True, dropout=0.25)  # dropout draws from the rng
    optimizer, schedule, options = build(model, len(train))
    trainer = Trainer(
        model,
        optimizer,
        schedule=schedule,
        early_stopping=EarlyStopping(patience=10),
        checkpoint_dir=checkpoint_dir,
        progress=False,
        **options,
    )
    if resume_from is not None:
        trainer.resume(resume_from)
        seed(99)  # a resumed run must not depend on what the process drew before
        trainer.resume(resume_from)
    trainer.fit(train, val, epochs=epochs)
    return trainer


def without_timing(records):
    return [{k: v for k, v in record.items() if k not in TIMING_KEYS} for record in records]


@pytest.mark.parametrize("build", [adamw_cosine, sgd_lookahead_plateau])
def test_resuming_reproduces_the_uninterrupted_run_exactly(tmp_path, build):
    straight = run(build, 2)
    run(build, 1, checkpoint_dir=tmp_path)
    resumed = run(build, 2, resume_from=tmp_path / "last.safetensors")

    assert resumed.epoch == straight.epoch == 2
    for name, value in straight.model.state_dict().items():
        np.testing.assert_array_equal(to_cpu(resumed.model.state_dict()[name]), to_cpu(value))
    straight_arrays, straight_scalars = straight.optimizer.state_dict()
    resumed_arrays, resumed_scalars = resumed.optimizer.state_dict()
    assert resumed_scalars == straight_scalars
    for name, value in straight_arrays.items():
        np.testing.assert_array_equal(to_cpu(resumed_arrays[name]), to_cpu(value))
    assert resumed.schedule.state_dict() == straight.schedule.state_dict()
    assert without_timing(resumed.history.records) == without_timing(straight.history.records)
    assert resumed.early_stopping.state_dict() == straight.early_stopping.state_dict()


def test_a_checkpoint_holds_everything_a_resume_needs(tmp_path):
    trainer = run(adamw_cosine, 1, checkpoint_dir=tmp_path)
    checkpoint = load_checkpoint(tmp_path / "last.safetensors")
    meta = checkpoint.metadata
    assert meta["kind"] == "nnott-trainer" and meta["epoch"] == 1
    assert {"history", "optimizer", "schedule", "rng_state", "seed", "config"} <= set(meta)
    names = set(checkpoint.tensors)
    assert {f"model.{n}" for n in trainer.model.state_dict()} <= names
    assert any(name.startswith("optimizer.") for name in names)
    assert any(name.startswith("best_model.") for name in names)


def test_resuming_into_a_different_model_is_a_checkpoint_error(tmp_path):
    run(adamw_cosine, 1, checkpoint_dir=tmp_path)
    seed(0)
    model = mlp(4, [5], 3)
    optimizer = AdamW(model.parameters())
    trainer = Trainer(model, optimizer, progress=False)
    with pytest.raises(CheckpointError, match="cannot resume"):
        trainer.resume(tmp_path / "last.safetensors")


def test_a_foreign_nnott_checkpoint_is_refused(tmp_path):
    path = save_checkpoint(tmp_path / "other.safetensors", {"w": np.zeros(2)}, {"epoch": 1})
    seed(0)
    model = mlp(4, [5], 3)
    trainer = Trainer(model, AdamW(model.parameters()), progress=False)
    with pytest.raises(CheckpointError, match="not one of the trainer's"):
        trainer.resume(path)


def count_reads(monkeypatch, path):
    """A list that grows by one each time the file at ``path`` is read whole."""
    reads = []
    real = Path.read_bytes

    def read_bytes(self):
        if self.resolve() == path.resolve():
            reads.append(self)
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    return reads


def test_the_command_line_resumes_exactly(tmp_path, capsys, monkeypatch):
    common = ["--limit", "150", "--hidden-sizes", "16", "--batch-size", "32", "--no-progress"]
    common += ["--dropout", "0.1", "--optimizer", "sgd", "--lookahead"]
    assert main([*common, "--epochs", "2", "--checkpoint-dir", str(tmp_path / "a")]) == 0
    assert main([*common, "--epochs", "1", "--checkpoint-dir", str(tmp_path / "b")]) == 0
    resume = ["--resume", str(tmp_path / "b" / "last.safetensors")]
    reads = count_reads(monkeypatch, tmp_path / "b" / "last.safetensors")
    assert main([*common, "--epochs", "2", *resume, "--checkpoint-dir", str(tmp_path / "c")]) == 0
    assert len(reads) == 1  # checked before the data is loaded, and not read again to resume
    messages = capsys.readouterr().err
    assert "resumed from" in messages and "warning" not in messages

    straight = load_checkpoint(tmp_path / "a" / "last.safetensors")
    resumed = load_checkpoint(tmp_path / "c" / "last.safetensors")
    assert resumed.metadata["epoch"] == straight.metadata["epoch"] == 2
    model_names = [name for name in straight.tensors if name.startswith("model.")]
    assert model_names
    for name in model_names:
        np.testing.assert_array_equal(resumed.tensors[name], straight.tensors[name])


def test_resuming_with_another_lr_says_the_checkpoints_lr_is_used(tmp_path, capsys):
    common = ["--limit", "150", "--hidden-sizes", "16", "--batch-size", "32", "--no-progress"]
    first = tmp_path / "run"
    assert main([*common, "--epochs", "1", "--lr", "0.001", "--checkpoint-dir", str(first)]) == 0
    capsys.readouterr()
    resume = ["--resume", str(first / "last.safetensors"), "--checkpoint-dir", str(first)]
    assert main([*common, "--epochs", "2", "--lr", "0.01", "--val-split", "0.2", *resume]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert warnings == [
        "nnott-vectorized: warning: the run continues with its checkpoint's optimizer "
        "settings, not the flags': lr 0.001 (not 0.01)",
        "nnott-vectorized: warning: these flags differ from the checkpoint's run, so the "
        "result will not match an uninterrupted run: val_split",
    ]
    history = load_checkpoint(first / "last.safetensors").metadata["history"]["records"]
    assert [record["lr"] for record in history] == [0.001, 0.001]  # what the warning said


def test_resuming_to_an_epoch_already_reached_says_nothing_is_trained(tmp_path, capsys):
    common = ["--limit", "150", "--hidden-sizes", "16", "--batch-size", "32", "--no-progress"]
    first = tmp_path / "run"
    assert main([*common, "--epochs", "2", "--checkpoint-dir", str(first)]) == 0
    before = (first / "last.safetensors").read_bytes()
    capsys.readouterr()
    resume = ["--resume", str(first / "last.safetensors"), "--checkpoint-dir", str(first)]
    assert main([*common, "--epochs", "2", *resume]) == 0
    assert (
        "nnott-vectorized: note: the checkpoint has trained 2 epochs and --epochs is 2 (the "
        "total to reach), so nothing is trained; the saved model is evaluated"
    ) in capsys.readouterr().err
    assert (first / "last.safetensors").read_bytes() == before


# ------------------------------------------------------ stops, and checkpoints that do not fit

SMALL = ["--limit", "150", "--hidden-sizes", "16", "--batch-size", "32", "--no-progress"]


def stop_after_epoch(monkeypatch, epoch, stop):
    """Make the trainer call ``stop()`` once the checkpoints of ``epoch`` are written, as a
    signal arriving at the start of the next epoch would."""
    real = Trainer._write_checkpoints

    def write_then_stop(self, improved):
        real(self, improved)
        if self.epoch == epoch:
            stop()

    monkeypatch.setattr(Trainer, "_write_checkpoints", write_then_stop)


def send_sigterm():
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(5)  # the handler raises at once; this sleep is never finished


def press_ctrl_c():
    raise KeyboardInterrupt


@pytest.mark.parametrize(
    ("stop", "code", "said"),
    [(send_sigterm, 143, "terminated (SIGTERM)"), (press_ctrl_c, 130, "interrupted")],
    ids=["sigterm", "ctrl-c"],
)
def test_a_stopped_run_says_where_its_checkpoint_is_and_resumes_exactly(
    tmp_path, capsys, monkeypatch, stop, code, said
):
    assert main([*SMALL, "--epochs", "3", "--checkpoint-dir", str(tmp_path / "straight")]) == 0
    handler = signal.getsignal(signal.SIGTERM)
    stopped = tmp_path / "stopped"
    with monkeypatch.context() as patch:
        stop_after_epoch(patch, 2, stop)
        capsys.readouterr()
        assert main([*SMALL, "--epochs", "3", "--checkpoint-dir", str(stopped)]) == code
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    last = stopped / "last.safetensors"
    assert lines == [
        f"nnott-vectorized: {said}; the last complete checkpoint is kept; "
        f"continue with --resume {last}"
    ]
    assert sorted(p.name for p in stopped.iterdir()) == ["best.safetensors", "last.safetensors"]
    assert signal.getsignal(signal.SIGTERM) == handler  # the handler is put back

    assert (
        main([*SMALL, "--epochs", "3", "--checkpoint-dir", str(stopped), "--resume", str(last)])
        == 0
    )
    straight = load_checkpoint(tmp_path / "straight" / "last.safetensors")
    resumed = load_checkpoint(last)
    assert resumed.metadata["epoch"] == 3
    assert straight.tensors.keys() == resumed.tensors.keys()
    for name, tensor in straight.tensors.items():
        np.testing.assert_array_equal(resumed.tensors[name], tensor, err_msg=name)


def test_a_new_run_never_overwrites_the_checkpoints_of_another(tmp_path, capsys):
    assert main([*SMALL, "--epochs", "1", "--checkpoint-dir", str(tmp_path)]) == 0
    saved = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    capsys.readouterr()
    assert main([*SMALL, "--epochs", "1", "--checkpoint-dir", str(tmp_path), "--seed", "3"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "already holds the checkpoints of a run" in lines[0]
    assert f"--resume {tmp_path / 'last.safetensors'}" in lines[0]
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == saved


def resume_error(tmp_path, capsys, *flags, checkpoint="last.safetensors"):
    """The one stderr line of a resume that must be refused (exit code 2)."""
    capsys.readouterr()
    code = main([*flags, "--epochs", "2", "--resume", str(tmp_path / checkpoint)])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1, lines
    return lines[0]


def test_resuming_with_another_mlp_says_which_flags_fit(tmp_path, capsys):
    flags = [*SMALL, "--hidden-activations", "tanh", "--batchnorm"]
    assert main([*flags, "--epochs", "1", "--checkpoint-dir", str(tmp_path)]) == 0
    sizes = [f if f != "16" else "16,8" for f in flags]
    assert "give --hidden-sizes 16" in resume_error(tmp_path, capsys, *sizes)
    no_batchnorm = [f for f in flags if f != "--batchnorm"]
    assert "give --batchnorm" in resume_error(tmp_path, capsys, *no_batchnorm)
    relu = [f if f != "tanh" else "relu" for f in flags]
    assert "give --hidden-activations tanh" in resume_error(tmp_path, capsys, *relu)


def rewrite_metadata(path, target, **changes):
    """A copy of a checkpoint with some metadata changed (a checkpoint from another run)."""
    checkpoint = load_checkpoint(path)
    return save_checkpoint(target, checkpoint.tensors, {**checkpoint.metadata, **changes})


def test_resuming_a_cnn_or_another_datasets_checkpoint_is_refused(tmp_path, capsys):
    assert main([*SMALL, "--epochs", "1", "--checkpoint-dir", str(tmp_path)]) == 0
    last = tmp_path / "last.safetensors"
    config = load_checkpoint(last).metadata["config"]
    rewrite_metadata(last, tmp_path / "cnn.st", tier="cnn", config={**config, "arch": "lenet"})
    message = resume_error(tmp_path, capsys, *SMALL, checkpoint="cnn.st")
    assert "not written by nnott-vectorized (tier cnn)" in message
    assert "nnott-cnn lenet --resume" in message

    rewrite_metadata(last, tmp_path / "mnist.st", dataset="mnist")
    message = resume_error(tmp_path, capsys, *SMALL, checkpoint="mnist.st")
    assert "dataset mnist, not fashion-mnist-small; give --dataset mnist" in message


def test_resuming_from_a_directory_names_the_file_to_give(tmp_path, capsys):
    message = resume_error(tmp_path, capsys, *SMALL, checkpoint="")
    assert "is a directory" in message and "last.safetensors" in message


def test_a_report_that_cannot_be_written_is_one_line_and_keeps_the_checkpoints(tmp_path, capsys):
    out = tmp_path / "figures"
    (out / "history.json").mkdir(parents=True)  # the file cannot replace a directory
    flags = ["--plot", "--out", str(out), "--checkpoint-dir", str(tmp_path / "run")]
    assert main([*SMALL, "--epochs", "1", *flags]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err
    assert lines[0].startswith(f"nnott-vectorized: error: cannot write {out / 'history.json'}")
    assert load_checkpoint(tmp_path / "run" / "last.safetensors").metadata["epoch"] == 1
