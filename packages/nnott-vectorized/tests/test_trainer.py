"""The trainer: it learns, stops early with the best weights, records history, stops on NaN,
and moves only batches in and a few numbers out per epoch."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnott.backend import count_transfers, seed, to_cpu, use_emulated
from nnott.checkpoint import load_checkpoint
from nnott.data import DataLoader
from nnott.errors import CheckpointError, ConfigError, DivergenceError
from nnott.vectorized.callbacks import EarlyStopping
from nnott.vectorized.losses import SoftmaxCrossEntropy
from nnott.vectorized.mlp import mlp
from nnott.vectorized.optim import SGD, Adam
from nnott.vectorized.schedules import CosineWithWarmup
from nnott.vectorized.trainer import Evaluation, Trainer

NUM_CLASSES = 3


def blobs(count: int, *, seed_value: int) -> tuple[np.ndarray, np.ndarray]:
    """Three well-separated Gaussian blobs as tiny 1x2x2 "images" (host arrays)."""
    generator = np.random.default_rng(seed_value)
    labels = np.arange(count) % NUM_CLASSES
    centres = np.array([[2.0, 0.0, 0.0, 2.0], [-2.0, 2.0, 0.0, 0.0], [0.0, -2.0, 2.0, -2.0]])
    points = centres[labels] + 0.5 * generator.standard_normal((count, 4))
    return points.reshape(count, 1, 2, 2).astype(np.float32), labels.astype(np.int64)


def loaders(batch_size: int = 16) -> tuple[DataLoader, DataLoader]:
    train_x, train_y = blobs(96, seed_value=1)
    val_x, val_y = blobs(48, seed_value=2)
    train = DataLoader(train_x, train_y, batch_size, shuffle=True, seed=3, num_classes=3)
    val = DataLoader(val_x, val_y, 32, num_classes=NUM_CLASSES)
    return train, val


def small_model(**options):
    seed(0)
    return mlp(4, [16], NUM_CLASSES, **options)


def test_a_small_mlp_learns_the_toy_problem():
    train, val = loaders()
    model = small_model()
    trainer = Trainer(model, Adam(model.parameters(), lr=0.05), progress=False)
    history = trainer.fit(train, val, epochs=8)

    assert len(history) == 8 and trainer.epoch == 8
    losses = history.column("train_loss")
    assert losses[-1] < 0.5 * losses[0]
    assert history[-1]["val_accuracy"] > 0.9
    result = trainer.evaluate(val)
    assert isinstance(result.predictions, np.ndarray) and result.predictions.shape == (48,)
    assert result.labels.tolist() == val.labels.tolist()  # loader order, on the host
    assert result.accuracy == pytest.approx(np.mean(result.predictions == result.labels))
    assert result.loss == pytest.approx(history[-1]["val_loss"], rel=1e-5)
    assert trainer.train_samples_per_s > 0


def test_fit_continues_to_a_total_epoch_count():
    train, val = loaders()
    model = small_model()
    trainer = Trainer(model, Adam(model.parameters(), lr=0.01), progress=False)
    trainer.fit(train, val, epochs=2)
    trainer.fit(train, val, epochs=3)
    assert [record["epoch"] for record in trainer.history] == [1, 2, 3]
    trainer.fit(train, val, epochs=3)  # already there: nothing to do
    assert len(trainer.history) == 3


def test_history_records_lr_and_goes_to_json_and_csv(tmp_path):
    train, val = loaders()
    model = small_model()
    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    schedule = CosineWithWarmup(optimizer, total_steps=3 * len(train), warmup_steps=len(train))
    trainer = Trainer(model, optimizer, schedule=schedule, progress=False)
    history = trainer.fit(train, val, epochs=3)

    rates = history.column("lr")
    assert rates[0] < rates[1] and rates[2] < rates[1]  # warm-up, then the cosine decay
    json_path = history.save_json(tmp_path / "history.json")
    csv_path = history.save_csv(tmp_path / "history.csv")

    import csv
    import json

    assert json.loads(json_path.read_text())["records"] == history.records
    rows = list(csv.DictReader(csv_path.open()))
    assert len(rows) == 3
    assert [float(row["val_loss"]) for row in rows] == pytest.approx(history.column("val_loss"))
    assert {"epoch", "train_loss", "train_accuracy", "val_accuracy", "lr"} <= set(rows[0])


def scripted_validation(trainer: Trainer, losses: list[float]) -> None:
    """Make the trainer see these validation losses, one per epoch."""
    remaining = iter(losses)

    def evaluate(loader, *, keep_predictions):
        empty = np.zeros(0, dtype=np.int64)
        return Evaluation(next(remaining), 0.5, empty, empty)

    trainer._evaluate = evaluate


def test_early_stopping_stops_after_patience_and_restores_the_best_weights(tmp_path):
    train, val = loaders()
    model = small_model(batchnorm=True)
    trainer = Trainer(
        model,
        Adam(model.parameters(), lr=0.05),
        early_stopping=EarlyStopping(patience=2),
        checkpoint_dir=tmp_path,
        progress=False,
    )
    scripted_validation(trainer, [1.0, 0.5, 0.7, 0.6, 0.4, 0.3])
    trainer.fit(train, val, epochs=6)

    assert trainer.stopped_early and trainer.epoch == 4 and trainer.best_epoch == 2
    best = load_checkpoint(tmp_path / "best.safetensors")
    last = load_checkpoint(tmp_path / "last.safetensors")
    assert best.metadata["epoch"] == 2 and last.metadata["epoch"] == 4
    weights = {name: to_cpu(value) for name, value in model.state_dict().items()}
    for name, value in weights.items():
        np.testing.assert_array_equal(value, best.tensors[f"model.{name}"])
    assert any(
        not np.array_equal(value, last.tensors[f"model.{name}"]) for name, value in weights.items()
    )


def test_early_stopping_counts_patience_with_min_delta():
    stopper = EarlyStopping(patience=2, min_delta=0.1)
    assert stopper.update(1.0, 1).improved
    assert not stopper.update(0.95, 2).improved  # better, but by less than min_delta
    decision = stopper.update(0.99, 3)
    assert decision.should_stop and not decision.improved
    restored = EarlyStopping(patience=2, min_delta=0.1)
    restored.load_state_dict(stopper.state_dict())
    assert (
        restored.state_dict()
        == stopper.state_dict()
        == {
            "best": 1.0,
            "best_epoch": 1,
            "bad_epochs": 2,
        }
    )
    with pytest.raises(ConfigError):
        EarlyStopping(patience=0)


def test_early_stopping_without_validation_is_refused():
    train, _ = loaders()
    model = small_model()
    trainer = Trainer(
        model, Adam(model.parameters()), early_stopping=EarlyStopping(), monitor="val_loss"
    )
    with pytest.raises(ConfigError, match="validation"):
        trainer.fit(train, None, epochs=1)


class LossThatTurnsNaN(SoftmaxCrossEntropy):
    """The real loss until ``poisoned`` is set, then NaN (a stand-in for divergence)."""

    poisoned = False

    def forward(self, logits, targets):
        loss = super().forward(logits, targets)
        return loss * math.nan if self.poisoned else loss


def test_a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    train, val = loaders()
    model = small_model()
    loss = LossThatTurnsNaN()
    trainer = Trainer(
        model, Adam(model.parameters()), loss=loss, checkpoint_dir=tmp_path, progress=False
    )
    trainer.fit(train, val, epochs=1)
    good = load_checkpoint(tmp_path / "last.safetensors")

    loss.poisoned = True
    with pytest.raises(DivergenceError, match="epoch 2") as caught:
        trainer.fit(train, val, epochs=3)
    assert str(tmp_path / "last.safetensors") in str(caught.value)
    kept = load_checkpoint(tmp_path / "last.safetensors")
    assert kept.metadata["epoch"] == 1
    for name, tensor in good.tensors.items():
        np.testing.assert_array_equal(kept.tensors[name], tensor)
        assert np.all(np.isfinite(tensor))


@pytest.mark.filterwarnings("error")  # one clear error, no floating-point warnings first
def test_a_huge_learning_rate_diverges_with_a_clear_error():
    train, val = loaders()
    model = small_model()
    trainer = Trainer(model, SGD(model.parameters(), lr=1e6), progress=False)
    with pytest.raises(DivergenceError, match="no checkpoint was written"):
        trainer.fit(train, val, epochs=5)


def test_the_optional_batch_nan_check_names_the_batch():
    train, _ = loaders()
    model = small_model()
    loss = LossThatTurnsNaN()
    loss.poisoned = True
    trainer = Trainer(
        model, Adam(model.parameters()), loss=loss, nan_check_interval=2, progress=False
    )
    with pytest.raises(DivergenceError, match="batch 2"):
        trainer.fit(train, None, epochs=1)


def test_an_epoch_moves_only_batches_in_and_a_few_numbers_out():
    with use_emulated():
        train, val = loaders(batch_size=8)  # 12 training batches, 2 validation batches
        model = small_model(batchnorm=True)
        optimizer = Adam(model.parameters(), lr=0.01)
        schedule = CosineWithWarmup(optimizer, total_steps=2 * len(train), warmup_steps=3)
        trainer = Trainer(
            model,
            optimizer,
            loss=SoftmaxCrossEntropy(label_smoothing=0.1),
            schedule=schedule,
            grad_clip=1.0,
            early_stopping=EarlyStopping(patience=5),
            progress=False,
        )
        with count_transfers() as moved:
            trainer.fit(train, val, epochs=2)
        batches_in = 2 * (len(train) + len(val))
        assert moved.to_device_count == 2 * batches_in  # images and labels of each batch
        assert moved.implicit_syncs == 0  # no float(loss) or `if loss > ...` per batch
        assert moved.to_cpu_count == 2 * 4  # per epoch: loss and accuracy, train and val

        with count_transfers() as moved:
            result = trainer.evaluate(val)
        assert moved.to_cpu_count == 3 and moved.implicit_syncs == 0  # loss, accuracy, labels
        assert result.predictions.shape == (48,)


def test_bad_settings_are_config_errors():
    model = small_model()
    with pytest.raises(ConfigError):
        Trainer(model, Adam(model.parameters()), grad_clip=0.0)
    trainer = Trainer(model, Adam(model.parameters()), monitor="f1", progress=False)
    train, val = loaders()
    with pytest.raises(ConfigError, match="cannot monitor"):
        trainer.fit(train, val, epochs=1)


@pytest.mark.gpu
def test_training_on_the_gpu_moves_only_batches_and_epoch_metrics():
    from nnott.backend import get_array_module, use_gpu

    with use_gpu():
        train, val = loaders(batch_size=8)
        model = small_model()
        trainer = Trainer(model, Adam(model.parameters(), lr=0.05), progress=False)
        with count_transfers() as moved:
            history = trainer.fit(train, val, epochs=2)
        assert get_array_module(model.parameters()[0].data).__name__ == "cupy"
        assert moved.to_device_count == 2 * 2 * (len(train) + len(val))
        assert moved.to_cpu_count == 2 * 4
        assert history[-1]["val_accuracy"] > 0.5


def test_a_run_that_diverges_in_its_first_epoch_says_no_epoch_finished(tmp_path):
    """With a checkpoint directory given, "give a checkpoint directory" would be wrong advice."""
    train, val = loaders()
    model = small_model()
    loss = LossThatTurnsNaN()
    loss.poisoned = True
    trainer = Trainer(
        model, Adam(model.parameters()), loss=loss, checkpoint_dir=tmp_path, progress=False
    )
    with pytest.raises(DivergenceError, match="no epoch had finished") as caught:
        trainer.fit(train, val, epochs=2)
    assert "give a checkpoint directory" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


class SGDThatBreaksTheWeights(SGD):
    """Plain SGD until step ``break_at``; that step leaves a NaN in the first parameter."""

    break_at = 0

    def step(self):
        super().step()
        if self.steps == self.break_at:
            self.params[0].data[...] = math.nan


def test_weights_broken_by_the_last_step_are_never_saved_without_a_validation_set(tmp_path):
    """The epoch's loss was summed before that step and no validation pass runs the final
    weights: only a look at the weights themselves keeps them out of last and best."""
    train, _ = loaders()
    model = small_model()
    optimizer = SGDThatBreaksTheWeights(model.parameters(), lr=0.01)
    optimizer.break_at = 2 * len(train)  # the last step of epoch 2
    trainer = Trainer(model, optimizer, checkpoint_dir=tmp_path, progress=False)
    with pytest.raises(DivergenceError, match=r"epoch 2.*weights"):
        trainer.fit(train, None, epochs=3)
    for name in ("last", "best"):
        kept = load_checkpoint(tmp_path / f"{name}.safetensors")
        assert kept.metadata["epoch"] == 1, name
        assert all(np.all(np.isfinite(tensor)) for tensor in kept.tensors.values()), name


class StoppedMidWriteError(Exception):
    """Raised by the patched save_checkpoint below, as Ctrl-C would be mid-write."""


def test_a_stop_between_the_two_checkpoint_writes_leaves_them_consistent(tmp_path, monkeypatch):
    """best is written before last: a stop between the two leaves last one epoch behind, and
    the resumed run writes the same best as the uninterrupted one."""
    import nnott.vectorized.trainer as trainer_module

    def build(checkpoint_dir):
        train, val = loaders()
        model = small_model()
        trainer = Trainer(
            model, Adam(model.parameters(), lr=0.05), checkpoint_dir=checkpoint_dir, progress=False
        )
        scripted_validation(trainer, [1.0, 0.5, 0.4])  # every epoch improves: two writes each
        return trainer, train, val

    straight, train, val = build(tmp_path / "straight")
    straight.fit(train, val, epochs=3)

    real_save = trainer_module.save_checkpoint
    writes = []

    def save_then_stop(path, tensors, metadata):
        writes.append(path)
        if len(writes) == 6:  # the second write of epoch 3
            raise StoppedMidWriteError
        return real_save(path, tensors, metadata)

    stopped, train, val = build(tmp_path / "stopped")
    monkeypatch.setattr(trainer_module, "save_checkpoint", save_then_stop)
    with pytest.raises(StoppedMidWriteError):
        stopped.fit(train, val, epochs=3)
    monkeypatch.undo()

    resumed, train, val = build(tmp_path / "stopped")
    resumed.resume(tmp_path / "stopped" / "last.safetensors")
    scripted_validation(resumed, [1.0, 0.5, 0.4][resumed.epoch :])
    resumed.fit(train, val, epochs=3)
    for name in ("best", "last"):
        want = load_checkpoint(tmp_path / "straight" / f"{name}.safetensors")
        got = load_checkpoint(tmp_path / "stopped" / f"{name}.safetensors")
        assert got.metadata["epoch"] == want.metadata["epoch"] == 3, name
        for key, tensor in want.tensors.items():
            np.testing.assert_array_equal(got.tensors[key], tensor, err_msg=f"{name} {key}")


def test_resuming_a_run_that_stopped_early_trains_nothing_more(tmp_path):
    """The uninterrupted run ended when its patience ran out; so does the resumed one."""

    def build():
        train, val = loaders()
        model = small_model()
        trainer = Trainer(
            model,
            Adam(model.parameters(), lr=0.05),
            early_stopping=EarlyStopping(patience=1),
            checkpoint_dir=tmp_path,
            progress=False,
        )
        return trainer, train, val

    trainer, train, val = build()
    scripted_validation(trainer, [1.0, 0.5, 0.7])
    trainer.fit(train, val, epochs=6)
    assert trainer.stopped_early and trainer.epoch == 3
    before = (tmp_path / "last.safetensors").read_bytes()

    resumed, train, val = build()
    resumed.resume(tmp_path / "last.safetensors")
    scripted_validation(resumed, [0.9])  # would be a new epoch 4, if one were trained
    resumed.fit(train, val, epochs=6)
    assert resumed.stopped_early and resumed.epoch == 3 and resumed.best_epoch == 2
    assert (tmp_path / "last.safetensors").read_bytes() == before


def test_resuming_the_checkpoint_of_another_dataset_is_refused_before_loading(tmp_path):
    train, val = loaders()
    model = small_model()
    facts = {"tier": "vectorized", "dataset": "mnist", "classes": ["0", "1", "2"]}
    trainer = Trainer(
        model, Adam(model.parameters()), checkpoint_dir=tmp_path, metadata=facts, progress=False
    )
    trainer.fit(train, val, epochs=1)

    fresh = small_model()
    weights = {name: to_cpu(value).copy() for name, value in fresh.state_dict().items()}
    other = Trainer(
        fresh,
        Adam(fresh.parameters()),
        metadata={**facts, "dataset": "kmnist", "classes": ["a", "b", "c"]},
        progress=False,
    )
    with pytest.raises(CheckpointError, match="dataset mnist, not kmnist; give --dataset mnist"):
        other.resume(tmp_path / "last.safetensors")
    assert other.epoch == 0
    for name, value in fresh.state_dict().items():
        np.testing.assert_array_equal(to_cpu(value), weights[name])
