"""Accuracy of the CNN architectures after a fixed training budget.

Each architecture trains with nnott's own ``Trainer`` and the registry's defaults for it
(optimizer, learning rate, batch size), a cosine schedule with half an epoch of warm-up,
seed 0 and no augmentation, then is scored on the test set. The budget is explicit:

- ``lenet`` and ``baseline`` on the **full** Fashion-MNIST (60,000 training images, the
  10,000 test images) for a fixed number of epochs; target: at least 90 % test accuracy;
- the large networks (the architecture gallery needs a measurement for each) on a
  class-balanced subset for two epochs, which is all a 2-core CPU can do in minutes. Their
  accuracies are those of a short smoke run, not of a trained network, and are reported
  with their budget.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from report import Report, Table, Target

from nnott.backend import current_device, seed
from nnott.cnn.architectures import get_architecture, list_architectures
from nnott.data import DataLoader, Standardizer, load
from nnott.vectorized import CosineWithWarmup, get_optimizer
from nnott.vectorized.trainer import Trainer

__all__ = ["Budget", "bench_cnn_accuracy", "gallery_budgets", "train_architecture"]

ACCURACY_TARGET = 90.0
TARGET_NETWORKS = ("lenet", "baseline")


@dataclasses.dataclass(frozen=True)
class Budget:
    """How much one architecture trains: epochs over how many images (None: all)."""

    epochs: int
    train_images: int | None = None
    test_images: int | None = None

    def describe(self, dataset: Any) -> str:
        train = self.train_images or len(dataset.train_labels)
        test = self.test_images or len(dataset.test_labels)
        epochs = f"{self.epochs} epoch" + ("s" if self.epochs != 1 else "")
        return f"{epochs} on {train:,} training images, tested on {test:,}"


def gallery_budgets(
    epochs: int, train_images: int, test_images: int, skip: tuple[str, ...] = ()
) -> dict[str, Budget]:
    """``epochs`` over ``train_images`` training images, tested on ``test_images``, for
    every registered architecture but those in ``skip``: a smoke run the docs' gallery can
    show.

    Too few steps and a network with many batch-norm layers scores at chance in evaluation
    mode although it learns: each running statistic moves only a tenth of the way to the
    batch's per step, and while the weights change fast the estimates lag. Measured on
    EfficientNet-Lite0 with 4,000 images: after one epoch (63 steps) 68 % accuracy with
    batch statistics but 15 % with the running ones; after two epochs 74 % and 72 %.
    """
    return {
        arch.name: Budget(epochs, train_images=train_images, test_images=test_images)
        for arch in list_architectures()
        if arch.name not in skip
    }


def train_architecture(name: str, budget: Budget, dataset_name: str) -> dict[str, Any]:
    """Train ``name`` within ``budget`` and return its measurements (JSON-ready)."""
    arch = get_architecture(name)
    full = load(dataset_name)
    data = full.limit(budget.train_images, budget.test_images, seed=0)
    scaler = Standardizer.fit(data.train_images)
    defaults = arch.defaults
    train_loader = DataLoader(
        scaler.transform(data.train_images),
        data.train_labels,
        defaults.batch_size,
        shuffle=True,
        seed=0,
    )
    test_loader = DataLoader(scaler.transform(data.test_images), data.test_labels, 250)
    seed(0)
    channels, size, _ = data.image_shape
    model = arch.build(num_classes=data.num_classes, in_channels=channels, input_size=size)
    optimizer = get_optimizer(defaults.optimizer, model.parameters(), lr=defaults.lr)
    steps = budget.epochs * len(train_loader)
    warmup = min(len(train_loader) // 2, steps - 1)
    schedule = CosineWithWarmup(optimizer, total_steps=steps, warmup_steps=warmup)
    trainer = Trainer(model, optimizer, schedule=schedule, progress=False, log_epochs=False)
    start = time.perf_counter()
    trainer.fit(train_loader, epochs=budget.epochs)
    seconds = time.perf_counter() - start
    result = trainer.evaluate(test_loader)
    return {
        "test_accuracy": result.accuracy,
        "train_samples_per_s": trainer.train_samples_per_s,
        "device": current_device(),
        "epochs": budget.epochs,
        "train_images": len(data.train_labels),
        "test_images": len(data.test_labels),
        "budget": budget.describe(data),
        "optimizer": f"{defaults.optimizer} lr {defaults.lr:g}, cosine",
        "batch_size": defaults.batch_size,
        "train_seconds": seconds,
        "dataset": dataset_name,
    }


def bench_cnn_accuracy(
    report: Report,
    budgets: dict[str, Budget],
    title: str = "CNN accuracy after a fixed budget",
    dataset_name: str = "fashion-mnist",
) -> None:
    """Train every architecture in ``budgets``; record a table, targets and the gallery's
    per-architecture entries."""
    table = Table(
        f"{title} ({dataset_name})",
        [
            "architecture",
            "budget",
            "optimizer",
            "train time (s)",
            "samples/s",
            "test accuracy",
        ],
        note=(
            "nnott's Trainer, the registry's defaults per architecture, seed 0, no "
            "augmentation. Runs on a subset are short smoke runs that show the network "
            "learns on this machine; they are not its trained accuracy."
        ),
    )
    for name, budget in budgets.items():
        measured = train_architecture(name, budget, dataset_name)
        accuracy = 100.0 * measured["test_accuracy"]
        table.add(
            name,
            measured["budget"],
            measured["optimizer"],
            round(measured["train_seconds"], 1),
            measured["train_samples_per_s"],
            f"{accuracy:.2f} %",
        )
        report.architectures[name] = measured
        if name in TARGET_NETWORKS and budget.train_images is None:
            report.targets.append(
                Target(
                    f"{name} test accuracy, {budget.epochs} epochs (full data)",
                    accuracy,
                    ACCURACY_TARGET,
                    "%",
                )
            )
    report.tables.append(table)
