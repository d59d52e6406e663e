"""The training loop: shuffle, cut into mini-batches, accumulate, step; then evaluate.

One epoch visits the training samples in a freshly shuffled order. For each mini-batch the
network adds up every sample's gradients, the sum is divided by the batch size (so the step
follows the gradient of the batch's *mean* loss), and the optimizer takes one step. The
clock runs around the training loop only (not evaluation), so the samples/s figure is the
honest speed of learning in pure Python.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from nnott.backend import derive_rng
from nnott.errors import ConfigError, DivergenceError
from nnott.metrics import loss_diverged
from nnott.scalar.losses import cross_entropy
from nnott.scalar.network import Gradients, Network, SampleTracer
from nnott.scalar.optim import SGD

__all__ = [
    "SHUFFLE_STREAM",
    "EpochStats",
    "Evaluation",
    "History",
    "BatchAugment",
    "ProgressFactory",
    "ProgressReporter",
    "evaluate",
    "fit",
    "train_epoch",
]

SHUFFLE_STREAM = 1
"""Key of the shuffle stream: epoch ``e`` visits ``derive_rng(SHUFFLE_STREAM, e)``'s order."""


BatchAugment = Callable[
    [Sequence[Sequence[float]], list[int], int],
    tuple[list[list[float]], list[int] | list[list[float]]],
]
"""``augment(inputs, labels, epoch) -> (inputs, targets)``: transforms one training batch
(see :class:`nnott.scalar.augmentation.ListAugmentation`); targets may come back as class
probabilities (mixup, cutmix)."""


class ProgressReporter(Protocol):
    """Receives one call per mini-batch; the CLI plugs a progress bar in here."""

    def update(self, samples: int, loss: float, accuracy: float) -> None:
        """Called after each mini-batch with the running mean loss and accuracy."""
        ...

    def close(self) -> None:
        """Called once at the end of the epoch."""
        ...


ProgressFactory = Callable[[int, str], ProgressReporter]
"""Makes the reporter for one epoch from its number of batches and a description."""


@dataclasses.dataclass
class EpochStats:
    """One epoch of training: mean loss and accuracy over its samples, and its speed."""

    loss: float
    accuracy: float
    samples: int
    seconds: float

    @property
    def samples_per_s(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else float("inf")


@dataclasses.dataclass
class Evaluation:
    """Mean loss, accuracy and the predicted class of every sample (inference mode)."""

    loss: float
    accuracy: float
    predictions: list[int]


@dataclasses.dataclass
class History:
    """Per-epoch curves (keys as :func:`nnott.plots.plot_history` expects) and timings."""

    train_loss: list[float] = dataclasses.field(default_factory=list)
    train_accuracy: list[float] = dataclasses.field(default_factory=list)
    val_loss: list[float] = dataclasses.field(default_factory=list)
    val_accuracy: list[float] = dataclasses.field(default_factory=list)
    epoch_seconds: list[float] = dataclasses.field(default_factory=list)
    train_samples: int = 0

    @property
    def train_seconds(self) -> float:
        return sum(self.epoch_seconds)

    @property
    def train_samples_per_s(self) -> float:
        """Samples trained per second of training-loop time, over all epochs."""
        seconds = self.train_seconds
        return self.train_samples / seconds if seconds > 0 else 0.0

    def curves(self) -> dict[str, list[float]]:
        """The non-empty per-epoch curves by name."""
        named = {
            "train_loss": self.train_loss,
            "train_accuracy": self.train_accuracy,
            "val_loss": self.val_loss,
            "val_accuracy": self.val_accuracy,
        }
        return {name: values for name, values in named.items() if values}


def _check_data(inputs: Sequence[Sequence[float]], labels: Sequence[int], what: str) -> None:
    if len(inputs) != len(labels):
        raise ConfigError(f"{len(inputs)} {what} inputs but {len(labels)} labels")
    if not inputs:
        raise ConfigError(f"the {what} set is empty")


def train_epoch(
    network: Network,
    optimizer: SGD,
    inputs: Sequence[Sequence[float]],
    labels: Sequence[int],
    batch_size: int,
    *,
    epoch: int = 0,
    shuffle: bool = True,
    tracer: SampleTracer | None = None,
    progress: ProgressReporter | None = None,
    augment: BatchAugment | None = None,
) -> EpochStats:
    """Train for one pass over ``inputs``; returns the epoch's mean loss, accuracy and time.

    The order is ``derive_rng(SHUFFLE_STREAM, epoch).permutation(n)`` when ``shuffle``, so
    a given seed and epoch always visit the samples in the same order. The last batch may
    be smaller; its gradient sum is divided by its own size. ``augment``, if given,
    transforms each batch before the network sees it (the clock includes it, as the
    other tiers' does).
    """
    _check_data(inputs, labels, "training")
    if batch_size < 1:
        raise ConfigError(f"the batch size must be at least 1, not {batch_size}")
    count = len(inputs)
    order = (
        derive_rng(SHUFFLE_STREAM, epoch).permutation(count).tolist()
        if shuffle
        else list(range(count))
    )
    loss_sum, correct, seen = 0.0, 0, 0
    start = time.perf_counter()
    for first in range(0, count, batch_size):
        indices = order[first : first + batch_size]
        batch_inputs: Sequence[Sequence[float]] = [inputs[i] for i in indices]
        class_labels = [labels[i] for i in indices]
        batch_labels: list[int] | list[list[float]] = class_labels
        if augment is not None:
            batch_inputs, batch_labels = augment(batch_inputs, class_labels, epoch)

        # Mini-batch gradient accumulation: sum every sample's gradients, then average.
        grads = Gradients.zeros(network.layer_sizes)
        stats = network.accumulate_gradients(
            batch_inputs, batch_labels, grads, training=True, tracer=tracer
        )
        batch_loss = stats.loss_sum / stats.count
        if loss_diverged(batch_loss):
            raise DivergenceError(
                f"the loss became {batch_loss:.4g} in epoch {epoch + 1} after {seen} samples; "
                "try a smaller --lr"
            )
        grads.scale(1.0 / stats.count)
        optimizer.step(grads)

        loss_sum += stats.loss_sum
        correct += stats.correct
        seen += stats.count
        if progress is not None:
            progress.update(stats.count, loss_sum / seen, correct / seen)
    seconds = time.perf_counter() - start
    if progress is not None:
        progress.close()
    return EpochStats(loss=loss_sum / seen, accuracy=correct / seen, samples=seen, seconds=seconds)


def evaluate(
    network: Network, inputs: Sequence[Sequence[float]], labels: Sequence[int]
) -> Evaluation:
    """Mean cross-entropy, accuracy and predictions over a data set, without dropout."""
    _check_data(inputs, labels, "evaluation")
    loss_sum, predictions = 0.0, []
    for sample, label in zip(inputs, labels, strict=True):
        logits = network.forward(sample)
        loss_sum += cross_entropy(logits, int(label))
        predictions.append(max(range(len(logits)), key=logits.__getitem__))
    correct = sum(1 for p, y in zip(predictions, labels, strict=True) if p == int(y))
    return Evaluation(loss_sum / len(inputs), correct / len(inputs), predictions)


def _check_weights_finite(network: Network, epoch: int) -> None:
    """Raise :class:`DivergenceError` when a weight or bias became NaN or infinite.

    Each batch's loss is checked before its step, so the last step of an epoch could break
    the weights unseen (an epoch of a single batch, say) and the run would go on to report
    a NaN test loss as if it had trained.
    """
    for layer in network.layers:
        for neuron in layer.neurons:
            if not math.isfinite(neuron.bias) or not all(map(math.isfinite, neuron.weights)):
                raise DivergenceError(
                    f"the weights became NaN or infinite in epoch {epoch + 1}; try a smaller --lr"
                )


def fit(
    network: Network,
    optimizer: SGD,
    train_inputs: Sequence[Sequence[float]],
    train_labels: Sequence[int],
    *,
    epochs: int,
    batch_size: int,
    val_inputs: Sequence[Sequence[float]] | None = None,
    val_labels: Sequence[int] | None = None,
    tracer: SampleTracer | None = None,
    progress: ProgressFactory | None = None,
    on_epoch: Callable[[int, EpochStats, Evaluation | None], None] | None = None,
    augment: BatchAugment | None = None,
) -> History:
    """Train for ``epochs`` epochs, evaluating on the validation set after each one.

    ``progress(num_batches, description)`` makes a :class:`ProgressReporter` per epoch;
    ``on_epoch(epoch, stats, validation)`` is called after each epoch (the CLI prints there).
    """
    if epochs < 0:
        raise ConfigError(f"the number of epochs cannot be negative ({epochs})")
    history = History()
    num_batches = math.ceil(len(train_inputs) / batch_size) if batch_size > 0 else 0
    for epoch in range(epochs):
        reporter = progress(num_batches, f"epoch {epoch + 1}/{epochs}") if progress else None
        stats = train_epoch(
            network,
            optimizer,
            train_inputs,
            train_labels,
            batch_size,
            epoch=epoch,
            tracer=tracer,
            progress=reporter,
            augment=augment,
        )
        _check_weights_finite(network, epoch)
        history.train_loss.append(stats.loss)
        history.train_accuracy.append(stats.accuracy)
        history.epoch_seconds.append(stats.seconds)
        history.train_samples += stats.samples
        validation = None
        if val_inputs is not None and val_labels is not None and len(val_inputs) > 0:
            validation = evaluate(network, val_inputs, val_labels)
            if loss_diverged(validation.loss):
                raise DivergenceError(
                    f"the validation loss became {validation.loss:.4g} after epoch {epoch + 1}; "
                    "try a smaller --lr"
                )
            history.val_loss.append(validation.loss)
            history.val_accuracy.append(validation.accuracy)
        if on_epoch is not None:
            on_epoch(epoch, stats, validation)
    return history
