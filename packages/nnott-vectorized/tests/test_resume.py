"""Exact resume: 2 epochs straight give the same weights as 1 epoch + resume + 1 epoch."""

from __future__ import annotations

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


def test_the_command_line_resumes_exactly(tmp_path, capsys):
    common = ["--limit", "150", "--hidden-sizes", "16", "--batch-size", "32", "--no-progress"]
    common += ["--dropout", "0.1", "--optimizer", "sgd", "--lookahead"]
    assert main([*common, "--epochs", "2", "--checkpoint-dir", str(tmp_path / "a")]) == 0
    assert main([*common, "--epochs", "1", "--checkpoint-dir", str(tmp_path / "b")]) == 0
    resume = ["--resume", str(tmp_path / "b" / "last.safetensors")]
    assert main([*common, "--epochs", "2", *resume, "--checkpoint-dir", str(tmp_path / "c")]) == 0
    messages = capsys.readouterr().err
    assert "resumed from" in messages and "warning" not in messages

    straight = load_checkpoint(tmp_path / "a" / "last.safetensors")
    resumed = load_checkpoint(tmp_path / "c" / "last.safetensors")
    assert resumed.metadata["epoch"] == straight.metadata["epoch"] == 2
    model_names = [name for name in straight.tensors if name.startswith("model.")]
    assert model_names
    for name in model_names:
        np.testing.assert_array_equal(resumed.tensors[name], straight.tensors[name])
