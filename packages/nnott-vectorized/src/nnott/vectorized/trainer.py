"""The trainer: the one training loop of nnott's vectorized and convolutional tiers.

:class:`Trainer` owns what happens around a model's forward and backward passes:

- the loop itself: seeded shuffling per epoch (``loader.set_epoch(epoch)``), the optimizer
  step, gradient clipping, and the learning-rate schedule, stepped per batch or per epoch
  as the schedule says (``ReduceLROnPlateau`` once per epoch on the validation loss);
- per-epoch metrics (loss and accuracy on the training and validation sets, learning
  rate, time, samples per second) collected in a :class:`~nnott.vectorized.history.History`;
- early stopping with patience that restores the best weights;
- checkpoints: ``last`` after every epoch and ``best`` whenever the monitored metric
  improves, each enough to resume the run exactly (model, optimizer and schedule state,
  epoch, history, early-stopping counters, the host random generator's state and the run's
  configuration);
- a clear stop when the loss or the weights become NaN or infinite:
  :class:`~nnott.errors.DivergenceError` is raised *before* the diverged weights can
  overwrite the last good checkpoint or be kept as the best;
- a progress bar with the running loss and throughput.

Host and device talk only at the edges. Batches come in (one copy each, made by the
loader); the loss and the number of correct predictions are summed on the device with
:class:`nnott.metrics.RunningMean` and read back once per epoch. No ``float(loss)`` per
batch: on a GPU each of those would make Python wait for the device. The only optional
extras are the progress bar's running loss (read at most about once a second, and only
when a bar is shown) and ``nan_check_interval`` (one read every N batches, off by default).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy

from nnott.backend import Timer, current_device, get_seed, rng, seed, to_cpu, to_device, xp
from nnott.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from nnott.errors import CheckpointError, ConfigError, DivergenceError
from nnott.metrics import RunningMean, loss_diverged
from nnott.progress import format_rate, progress_bar, set_postfix
from nnott.vectorized.callbacks import EarlyStopping
from nnott.vectorized.history import History
from nnott.vectorized.losses import SoftmaxCrossEntropy
from nnott.vectorized.module import Module
from nnott.vectorized.optim import clip_grad_norm
from nnott.vectorized.schedules import ReduceLROnPlateau

__all__ = [
    "BEST_CHECKPOINT",
    "CHECKPOINT_KIND",
    "LAST_CHECKPOINT",
    "BatchLoader",
    "Evaluation",
    "Trainer",
    "epoch_summary",
    "schedule_interval",
]

CHECKPOINT_KIND = "nnott-trainer"
"""The ``kind`` in the metadata of every checkpoint the trainer writes."""

LAST_CHECKPOINT = "last.safetensors"
"""The checkpoint written after every epoch, in the trainer's ``checkpoint_dir``."""

BEST_CHECKPOINT = "best.safetensors"
"""The checkpoint of the best epoch so far (by ``monitor``), in ``checkpoint_dir``."""
POSTFIX_SECONDS = 1.0  # the progress bar reads the running loss at most this often


class BatchLoader(Protocol):
    """What the trainer needs from a loader (``nnott.data.DataLoader`` is one)."""

    def __iter__(self) -> Any: ...

    def __len__(self) -> int: ...


@dataclass
class Evaluation:
    """The result of :meth:`Trainer.evaluate`: host numbers and host arrays only."""

    loss: float
    accuracy: float
    predictions: numpy.ndarray  # int64 (N,), the argmax class of each sample
    labels: numpy.ndarray  # int64 (N,), the true class of each sample (in loader order)

    @property
    def num_samples(self) -> int:
        return int(self.labels.shape[0])


def schedule_interval(schedule: Any) -> str:
    """When a schedule steps: ``"batch"`` (after every optimizer step), ``"epoch"``, or
    ``"none"`` for no schedule.

    Schedules say so with their ``interval`` attribute (``nnott.vectorized.schedules``:
    every schedule counts batches except :class:`ReduceLROnPlateau`, which steps once per
    epoch on the validation loss); without one, per epoch is assumed, as in PyTorch.
    """
    if schedule is None:
        return "none"
    interval = getattr(schedule, "interval", "epoch")
    if interval not in ("batch", "epoch"):
        raise ConfigError(f"unknown schedule interval {interval!r} on {type(schedule).__name__}")
    return interval


def epoch_summary(record: Mapping[str, Any], epochs: int) -> str:
    """One line about a finished epoch: its losses, accuracies, learning rate and speed."""
    parts = [f"epoch {record['epoch']}/{epochs}"]
    labels = {"train_loss": "loss", "train_accuracy": "acc", "val_loss": "val_loss"}
    labels["val_accuracy"] = "val_acc"
    for key, label in labels.items():
        if record.get(key) is not None:
            parts.append(f"{label} {record[key]:.4f}")
    parts.append(f"lr {record['lr']:.3g}")
    if record.get("train_samples_per_s") is not None:
        parts.append(format_rate(record["train_samples_per_s"]))
    return "  ".join(parts)


# The facts of a run (from the trainer's ``metadata``) that a resumed run must share, with
# the flag that sets each (None: it follows from the others).
_SAME_RUN_FACTS: dict[str, str | None] = {
    "tier": None,
    "dataset": "--dataset",
    "classes": None,
    "image_shape": None,
}


def _as_json(value: Any) -> Any:
    """``value`` as it reads back from JSON: tuples become lists (at any depth)."""
    if isinstance(value, (list, tuple)):
        return [_as_json(item) for item in value]
    return value


def _fact_text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        items = [str(item) for item in value]
        return ", ".join(items[:4]) + (", ..." if len(items) > 4 else "")
    return str(value)


def _batch_size(x: Any) -> int:
    return int(x.shape[0])


def _class_of(targets: Any) -> Any:
    """Integer labels from labels (B,) or soft targets (B, K) (mixup, cutmix)."""
    return targets if targets.ndim == 1 else xp.argmax(targets, axis=1)


class Trainer:
    """Fit a :class:`~nnott.vectorized.module.Module` classifier with an optimizer.

    >>> trainer = Trainer(model, optimizer, loss=SoftmaxCrossEntropy(label_smoothing=0.1),
    ...                   schedule=schedule, grad_clip=5.0,
    ...                   early_stopping=EarlyStopping(patience=3),
    ...                   checkpoint_dir="runs/mlp", config=vars(args))
    >>> history = trainer.fit(train_loader, val_loader, epochs=10)
    >>> result = trainer.evaluate(test_loader)      # loss, accuracy, predictions (host)

    ``epochs`` in :meth:`fit` is the total to reach: after :meth:`resume` from a checkpoint
    written after epoch 3, ``fit(..., epochs=10)`` trains epochs 4 to 10.

    Args:
        model: the network; ``forward(x)`` gives logits (B, K).
        optimizer: anything with ``step``, ``zero_grad``, ``lr``, ``params`` and
            ``state_dict() -> (arrays, scalars)`` (``nnott.vectorized.optim``).
        loss: the criterion, :class:`SoftmaxCrossEntropy` by default.
        schedule: a learning-rate schedule with ``step()`` (``step(metric)`` for plateau
            schedules), ``interval`` and ``state_dict``; None keeps the rate fixed.
        grad_clip: clip the global gradient norm to this value before each step.
        early_stopping: stop after its patience runs out and restore the best weights
            (``restore_best``); it watches ``monitor``.
        monitor: the history column early stopping and the best checkpoint watch;
            ``"val_loss"`` by default, ``"train_loss"`` when no validation loader is given.
        checkpoint_dir: where ``last.safetensors`` and ``best.safetensors`` go; None writes
            no checkpoints.
        config: the run's configuration (JSON-able), saved in every checkpoint.
        metadata: more JSON-able facts to save in checkpoints (class names, standardizer).
        progress: show a progress bar (it also hides itself when stderr is not a terminal).
        log_epochs: print one summary line per epoch on stderr (default: as ``progress``).
        nan_check_interval: also check the batch loss for NaN every this many batches
            (one device read each); 0 checks once per epoch only, which costs nothing extra.
    """

    def __init__(
        self,
        model: Module,
        optimizer: Any,
        *,
        loss: Any = None,
        schedule: Any = None,
        grad_clip: float | None = None,
        early_stopping: EarlyStopping | None = None,
        restore_best: bool = True,
        monitor: str | None = None,
        checkpoint_dir: str | Path | None = None,
        config: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        progress: bool = True,
        log_epochs: bool | None = None,
        nan_check_interval: int = 0,
    ) -> None:
        if grad_clip is not None and not grad_clip > 0:
            raise ConfigError(f"grad_clip must be positive, not {grad_clip}")
        if nan_check_interval < 0:
            raise ConfigError(f"nan_check_interval must be >= 0, not {nan_check_interval}")
        self.model = model
        self.optimizer = optimizer
        self.loss = loss if loss is not None else SoftmaxCrossEntropy()
        self.schedule = schedule
        self.grad_clip = grad_clip
        self.early_stopping = early_stopping
        self.restore_best = restore_best
        self.monitor = monitor
        self.checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        self.config = dict(config or {})
        self.metadata = dict(metadata or {})
        self.progress = progress
        self.log_epochs = progress if log_epochs is None else log_epochs
        self.nan_check_interval = nan_check_interval
        schedule_interval(schedule)  # refuse an unknown interval now, not after an epoch

        self.epoch = 0  # epochs completed
        self.history = History()
        self.stopped_early = False
        self.best_value: float | None = None
        self.best_epoch: int | None = None
        self._best_weights: dict[str, Any] | None = None
        self._train_seconds = 0.0  # this process's training time, for throughput
        self._train_samples = 0

    # ------------------------------------------------------------------ properties
    @property
    def last_checkpoint(self) -> Path | None:
        """The checkpoint written after the last completed epoch, if any."""
        if self.checkpoint_dir is None:
            return None
        path = self.checkpoint_dir / LAST_CHECKPOINT
        return path if path.exists() else None

    @property
    def best_checkpoint(self) -> Path | None:
        """The checkpoint of the best epoch so far (by ``monitor``), if any."""
        if self.checkpoint_dir is None:
            return None
        path = self.checkpoint_dir / BEST_CHECKPOINT
        return path if path.exists() else None

    @property
    def train_samples_per_s(self) -> float:
        """Training throughput of the epochs run in this process (NaN before any)."""
        if self._train_seconds <= 0.0:
            return math.nan
        return self._train_samples / self._train_seconds

    # --------------------------------------------------------------------- fitting
    def fit(self, train_loader: Any, val_loader: Any = None, *, epochs: int) -> History:
        """Train until ``epochs`` epochs are complete (counting resumed ones); return the history.

        Stops early when ``early_stopping`` runs out of patience. With early stopping the
        best epoch's weights are put back at the end of every ``fit`` call
        (``restore_best``). Raises :class:`DivergenceError` when a loss becomes NaN or
        infinite; the last good checkpoint (of the previous epoch) is left as it was.
        """
        if epochs < 0:
            raise ConfigError(f"epochs must be >= 0, not {epochs}")
        if len(train_loader) == 0:
            raise ConfigError("the training loader yields no batches (is the dataset empty?)")
        monitor = self._monitor_key(val_loader)
        self.stopped_early = False
        # A diverging run overflows before its loss becomes NaN; the check below reports
        # that in one clear error, so NumPy's floating-point warnings would only add noise.
        with numpy.errstate(over="ignore", invalid="ignore", divide="ignore"):
            self._fit_epochs(train_loader, val_loader, epochs, monitor)
        if self.early_stopping is not None and self.restore_best:
            self.restore_best_weights()
        return self.history

    def _patience_ran_out(self) -> bool:
        """True when early stopping already said stop: a run resumed from the checkpoint
        of its last epoch has nothing left to train (the uninterrupted run ended there)."""
        stopping = self.early_stopping
        return stopping is not None and stopping.bad_epochs >= stopping.patience

    def _fit_epochs(self, train_loader: Any, val_loader: Any, epochs: int, monitor: str) -> None:
        if self.epoch < epochs and self._patience_ran_out():
            self.stopped_early = True
            return
        while self.epoch < epochs:
            epoch = self.epoch + 1
            record: dict[str, Any] = {"epoch": epoch, "lr": float(self.optimizer.lr)}
            record.update(self._train_epoch(train_loader, epoch, epochs))
            if val_loader is not None and len(val_loader) > 0:
                validation = self._evaluate(val_loader, keep_predictions=False)
                record["val_loss"], record["val_accuracy"] = validation.loss, validation.accuracy
            self._check_losses(record, epoch)
            if "val_loss" not in record:  # (a validation pass has used the weights already)
                self._check_weights_finite(epoch)
            self._step_schedule_after_epoch(record)
            self.epoch = epoch
            self.history.append(record)
            improved = self._track_best(record[monitor], epoch)
            should_stop = False
            if self.early_stopping is not None:
                should_stop = self.early_stopping.update(record[monitor], epoch).should_stop
            self._write_checkpoints(improved)
            if self.log_epochs:
                print(epoch_summary(record, epochs), file=sys.stderr)  # the bar is closed
            if should_stop:
                self.stopped_early = True
                break

    def _monitor_key(self, val_loader: Any) -> str:
        has_validation = val_loader is not None and len(val_loader) > 0
        key = self.monitor or ("val_loss" if has_validation else "train_loss")
        if key.startswith("val_") and not has_validation:
            raise ConfigError(
                f"{key} is monitored (early stopping, best checkpoint) but there is no "
                "validation set; give a validation split or monitor train_loss"
            )
        if key not in ("val_loss", "val_accuracy", "train_loss", "train_accuracy"):
            raise ConfigError(f"cannot monitor {key!r}; use val_loss, val_accuracy, train_loss")
        self.monitor = key
        return key

    def _mode(self) -> str:
        return "max" if (self.monitor or "").endswith("accuracy") else "min"

    def _train_epoch(self, loader: Any, epoch: int, epochs: int) -> dict[str, float]:
        """One pass over ``loader``; device accumulators read once at the end."""
        self.model.train()
        if hasattr(loader, "set_epoch"):
            loader.set_epoch(epoch - 1)  # the shuffle of epoch e depends on (seed, e) only
        per_batch = schedule_interval(self.schedule) == "batch"
        loss_mean, accuracy_mean = RunningMean(), RunningMean()
        total = getattr(loader, "num_samples", None)
        bar = progress_bar(
            total=total,
            desc=f"epoch {epoch}/{epochs}",
            unit="sample" if total is not None else "batch",
            enabled=self.progress,
        )
        last_postfix = time.perf_counter()
        samples = 0
        with bar, Timer() as timer:
            for index, (x, y) in enumerate(loader):
                loss, logits = self._train_step(x, y)
                count = _batch_size(x)
                samples += count
                loss_mean.update(loss, count)
                correct = xp.mean(xp.argmax(logits, axis=1) == _class_of(y))
                accuracy_mean.update(correct, count)
                if per_batch:
                    self.schedule.step()
                if self.nan_check_interval and (index + 1) % self.nan_check_interval == 0:
                    self._check_batch_loss(loss, epoch, index + 1)
                bar.update(count if total is not None else 1)
                now = time.perf_counter()
                if not bar.disable and now - last_postfix >= POSTFIX_SECONDS:
                    last_postfix = now
                    set_postfix(bar, loss=loss_mean.value())
        self._train_seconds += timer.elapsed
        self._train_samples += samples
        return {
            "train_loss": loss_mean.value(),
            "train_accuracy": accuracy_mean.value(),
            "epoch_seconds": timer.elapsed,
            "train_samples_per_s": samples / timer.elapsed if timer.elapsed > 0 else math.nan,
        }

    def _train_step(self, x: Any, y: Any) -> tuple[Any, Any]:
        """Forward, loss, backward, clip, step: one batch, no host reads.

        Returns the batch's loss (a 0-d device array) and its logits (for the accuracy).
        """
        self.optimizer.zero_grad()
        logits = self.model.forward(x)
        loss = self.loss.forward(logits, y)
        self.model.backward(self.loss.backward())
        if self.grad_clip is not None:
            clip_grad_norm(self.optimizer.params, self.grad_clip)
        self.optimizer.step()
        return loss, logits

    def _step_schedule_after_epoch(self, record: Mapping[str, Any]) -> None:
        if schedule_interval(self.schedule) != "epoch":
            return
        if isinstance(self.schedule, ReduceLROnPlateau):
            # It watches the loss, whatever early stopping monitors: the validation loss
            # when there is a validation set, else the training loss.
            self.schedule.step(record["val_loss"] if "val_loss" in record else record["train_loss"])
        else:
            self.schedule.step()

    # ---------------------------------------------------------------- divergence
    def _divergence(self, what: str, epoch: int) -> DivergenceError:
        kept = self.last_checkpoint
        if kept is not None:
            where = f"the last good checkpoint is kept at {kept}"
        elif self.checkpoint_dir is not None:
            where = "no epoch had finished, so no checkpoint was written"
        else:
            where = "no checkpoint was written (give a checkpoint directory to keep one)"
        return DivergenceError(
            f"training diverged in epoch {epoch}: {what}; {where}. "
            "Try a smaller learning rate or gradient clipping."
        )

    def _check_losses(self, record: Mapping[str, Any], epoch: int) -> None:
        for key in ("train_loss", "val_loss"):
            value = record.get(key)
            if value is not None and loss_diverged(value):
                raise self._divergence(f"the {key.replace('_', ' ')} became {value:.4g}", epoch)

    def _check_weights_finite(self, epoch: int) -> None:
        """Refuse weights that became NaN or infinite, before they are saved or kept as best.

        The epoch's training loss is summed before each step, so the last step of an epoch
        can break the weights unseen. A validation pass runs the final weights, and a NaN or
        infinite weight makes its loss NaN; without one, only this check notices. One
        reduction per array and one host read, per epoch without validation.
        """
        state = self.model.state_dict()
        if not state:
            return
        flags = xp.stack([xp.all(xp.isfinite(array)) for array in state.values()])
        if not bool(to_cpu(xp.all(flags))):
            raise self._divergence("the weights became NaN or infinite", epoch)

    def _check_batch_loss(self, loss: Any, epoch: int, batch: int) -> None:
        value = float(to_cpu(loss))
        if loss_diverged(value):
            raise self._divergence(f"the loss of batch {batch} became {value:.4g}", epoch)

    # --------------------------------------------------------------- evaluation
    def evaluate(self, loader: Any) -> Evaluation:
        """Loss, accuracy and every prediction on ``loader``'s samples (eval mode).

        The predictions and labels are gathered on the device and copied to the host once.
        """
        return self._evaluate(loader, keep_predictions=True)

    def _evaluate(self, loader: Any, *, keep_predictions: bool) -> Evaluation:
        was_training = self.model.training
        self.model.eval()
        loss_mean, accuracy_mean = RunningMean(), RunningMean()
        predictions: list[Any] = []
        labels: list[Any] = []
        try:
            for x, y in loader:
                logits = self.model.forward(x)
                count = _batch_size(x)
                loss_mean.update(self.loss.forward(logits, y), count)
                predicted, expected = xp.argmax(logits, axis=1), _class_of(y)
                accuracy_mean.update(xp.mean(predicted == expected), count)
                if keep_predictions:
                    predictions.append(predicted.astype(xp.int64))
                    labels.append(expected.astype(xp.int64))
        finally:
            self.model.train(was_training)
        if loss_mean.count == 0:
            raise ConfigError("cannot evaluate on a loader that yields no samples")
        if keep_predictions:
            both = to_cpu(xp.stack([xp.concatenate(predictions), xp.concatenate(labels)]))
            predicted_host, labels_host = both[0], both[1]
        else:
            predicted_host = labels_host = numpy.zeros(0, dtype=numpy.int64)
        return Evaluation(loss_mean.value(), accuracy_mean.value(), predicted_host, labels_host)

    # ---------------------------------------------------------- best weights
    def _track_best(self, value: float, epoch: int) -> bool:
        """Remember the weights of a new best epoch (device copies, no host transfer)."""
        better = math.isfinite(value) and (
            self.best_value is None
            or (value < self.best_value if self._mode() == "min" else value > self.best_value)
        )
        if better:
            self.best_value, self.best_epoch = float(value), epoch
            self._best_weights = {
                name: xp.copy(array) for name, array in self.model.state_dict().items()
            }
        return better

    def restore_best_weights(self) -> bool:
        """Put the best epoch's weights back into the model; False if none are known."""
        if self._best_weights is None:
            return False
        self.model.load_state_dict(self._best_weights)
        return True

    # ------------------------------------------------------------- checkpoints
    def _write_checkpoints(self, improved: bool) -> None:
        """``best`` first, then ``last``: a stop between the two leaves ``last`` one epoch
        behind, and resuming from it redoes that epoch and writes both again. (The other
        order would leave a ``best`` older than the best its ``last`` remembers.)"""
        if self.checkpoint_dir is None:
            return
        if improved:
            self.save_checkpoint(self.checkpoint_dir / BEST_CHECKPOINT)
        self.save_checkpoint(self.checkpoint_dir / LAST_CHECKPOINT)

    def checkpoint_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Everything a checkpoint holds: ``(tensors, metadata)``.

        Tensors: ``model.*`` (parameters and buffers), ``optimizer.*`` (its state arrays)
        and ``best_model.*`` (the best epoch's weights, for early stopping after a resume).
        Metadata: epoch, history, optimizer and schedule scalars, early-stopping counters,
        the seed and the host generator's state (dropout masks continue where they were),
        the device, the configuration and the extra ``metadata`` given to the trainer.
        """
        tensors = {f"model.{name}": array for name, array in self.model.state_dict().items()}
        optimizer_arrays, optimizer_scalars = self.optimizer.state_dict()
        tensors.update({f"optimizer.{name}": array for name, array in optimizer_arrays.items()})
        if self._best_weights is not None:
            tensors.update({f"best_model.{name}": a for name, a in self._best_weights.items()})
        metadata = {
            **self.metadata,
            "kind": CHECKPOINT_KIND,
            "epoch": self.epoch,
            "history": self.history.to_dict(),
            "optimizer": optimizer_scalars,
            "schedule": None if self.schedule is None else self.schedule.state_dict(),
            "schedule_class": None if self.schedule is None else type(self.schedule).__name__,
            "early_stopping": (
                None if self.early_stopping is None else self.early_stopping.state_dict()
            ),
            "monitor": self.monitor,
            "best": {"value": self.best_value, "epoch": self.best_epoch},
            "seed": get_seed(),
            "rng_state": rng().bit_generator.state,
            "device": current_device(),
            "config": self.config,
        }
        return tensors, metadata

    def save_checkpoint(self, path: str | Path) -> Path:
        """Write a resumable checkpoint to ``path`` atomically; return the path."""
        tensors, metadata = self.checkpoint_state()
        return save_checkpoint(path, tensors, metadata)

    def resume(self, path: str | Path, checkpoint: Checkpoint | None = None) -> dict[str, Any]:
        """Load a checkpoint written by :meth:`save_checkpoint` and continue from it.

        Restores the model, the optimizer, the schedule, the epoch count, the history,
        early stopping, the best weights, the global seed (:func:`nnott.backend.seed`) and
        the host random generator's state, so that the run
        goes on exactly as if it had never stopped. Returns the checkpoint's metadata.
        Raises :class:`CheckpointError` when the file is not a trainer checkpoint or does
        not fit this model, optimizer or schedule.

        ``checkpoint`` is the file's contents when the caller has loaded it already (the
        command lines check a checkpoint before they load the data), so that a big one is
        read once; ``path`` then only names it in messages.
        """
        checkpoint = checkpoint if checkpoint is not None else load_checkpoint(path)
        metadata = checkpoint.metadata
        if metadata.get("kind") != CHECKPOINT_KIND:
            raise CheckpointError(f"{path} is an nnott checkpoint but not one of the trainer's")
        self._check_same_run(path, metadata)

        def group(prefix: str) -> dict[str, Any]:
            return {
                name[len(prefix) :]: array
                for name, array in checkpoint.tensors.items()
                if name.startswith(prefix)
            }

        try:
            self.model.load_state_dict(group("model."))
            self.optimizer.load_state_dict(group("optimizer."), metadata["optimizer"])
            self._load_schedule(metadata)
            if self.early_stopping is not None and metadata.get("early_stopping"):
                self.early_stopping.load_state_dict(metadata["early_stopping"])
            best = group("best_model.")
            self._best_weights = (
                {name: to_device(array) for name, array in best.items()} if best else None
            )
            self.best_value = metadata["best"]["value"]
            self.best_epoch = metadata["best"]["epoch"]
            self.monitor = self.monitor or metadata.get("monitor")
            self.epoch = int(metadata["epoch"])
            self.history = History.from_dict(metadata["history"])
            # The global seed keys every derived stream (shuffles, augmentation), the
            # generator's state continues the sequential draws (dropout masks).
            seed(int(metadata["seed"]))
            rng().bit_generator.state = metadata["rng_state"]
        except CheckpointError as error:
            raise CheckpointError(f"cannot resume from {path}: {error}") from None
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(
                f"cannot resume from {path}: its metadata lacks {error}"
            ) from None
        return metadata

    def _check_same_run(self, path: str | Path, metadata: Mapping[str, Any]) -> None:
        """Refuse the checkpoint of another tier or dataset before anything is loaded.

        Compares the facts both this trainer's ``metadata`` and the checkpoint's name
        (``tier``, ``dataset``, ``classes``, ``image_shape``): weights of another dataset
        often fit the model, but continuing on other data is not resuming that run.
        """
        for key, flag in _SAME_RUN_FACTS.items():
            if key not in self.metadata or key not in metadata:
                continue
            ours, theirs = self.metadata[key], metadata[key]
            if _as_json(ours) == _as_json(theirs):
                continue
            hint = f"; give {flag} {theirs}" if flag else ""
            raise CheckpointError(
                f"cannot resume from {path}: it holds a run with {key} {_fact_text(theirs)}, "
                f"not {_fact_text(ours)}{hint}"
            )

    def _load_schedule(self, metadata: Mapping[str, Any]) -> None:
        saved = metadata.get("schedule")
        if self.schedule is None and saved is None:
            return
        saved_class = metadata.get("schedule_class")
        if self.schedule is None or saved is None or saved_class != type(self.schedule).__name__:
            theirs = "no schedule" if saved is None else f"a {saved_class} schedule"
            ours = "none" if self.schedule is None else f"a {type(self.schedule).__name__}"
            raise CheckpointError(
                f"the checkpoint's run had {theirs}, this one has {ours}; "
                "give the original run's --lr-schedule"
            )
        self.schedule.load_state_dict(saved)

    def __repr__(self) -> str:
        return (
            f"Trainer(model={type(self.model).__name__}, optimizer={self.optimizer!r}, "
            f"epoch={self.epoch})"
        )
