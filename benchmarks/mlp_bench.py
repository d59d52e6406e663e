"""The MLP benchmarks: scalar against vectorized, vectorized against PyTorch, accuracy.

1. **Tiers** -- the scalar tier (Python loops over floats) and the vectorized tier train
   the same small network (784-32-10, batch 32, SGD with momentum) on the same bundled
   Fashion-MNIST images; the ratio shows what arrays buy.
2. **Against PyTorch** -- the vectorized MLP 784-256-128-10 at batch 64 and its PyTorch
   twin, interleaved in this process (target: at least 0.8x PyTorch's samples/s).
3. **Accuracy** -- the same 784-256-128-10 MLP trained by nnott's own ``Trainer`` on the
   full Fashion-MNIST training set for 10 epochs and scored on its test set (target: 88 %).
"""

from __future__ import annotations

import time
from typing import Any

import numpy
from machine import NO_TORCH
from report import Report, Table, Target, ratio_text
from settings import Settings
from steps import LEARNING_RATE, MOMENTUM, host_batches, nnott_step, torch_contestant
from timing import Contestant, compare_throughput, paired_ratio

from nnott import scalar
from nnott.backend import seed
from nnott.data import DataLoader, Standardizer, load
from nnott.vectorized import Adam, CosineWithWarmup, mlp
from nnott.vectorized.trainer import Trainer

__all__ = ["bench_mlp_accuracy", "bench_mlp_torch", "bench_tiers"]

TIER_SIZES = (784, 32, 10)
TIER_BATCH = 32
MLP_HIDDEN = (256, 128)
MLP_BATCH = 64
ACCURACY_TARGET = 88.0
TORCH_TARGET = 0.8


def bench_tiers(report: Report, settings: Settings) -> None:
    """Scalar and vectorized training throughput on the same network and images."""
    data = load()  # the bundled sample: offline, and real images
    count = settings.tier_samples
    images = Standardizer.fit(data.train_images).transform(data.train_images[:count])
    flat = images.reshape(count, -1)
    labels = data.train_labels[:count]

    seed(0)
    network = scalar.Network(list(TIER_SIZES), ["relu"])
    scalar_optimizer = scalar.SGD(network, lr=LEARNING_RATE, momentum=MOMENTUM)
    scalar_inputs, scalar_labels = flat.tolist(), labels.tolist()

    def scalar_epoch(index: int) -> None:
        scalar.train_epoch(
            network, scalar_optimizer, scalar_inputs, scalar_labels, TIER_BATCH, epoch=index
        )

    seed(0)
    model = mlp(TIER_SIZES[0], list(TIER_SIZES[1:-1]), TIER_SIZES[-1])
    batches = [
        (flat[start : start + TIER_BATCH], labels[start : start + TIER_BATCH])
        for start in range(0, count - TIER_BATCH + 1, TIER_BATCH)
    ]
    # The vectorized tier is ~1000x faster: it trains 20 passes per timed repeat.
    vectorized_steps = 20 * len(batches)
    results = compare_throughput(
        {
            "scalar": Contestant(scalar_epoch, samples_per_step=count, steps=1),
            "vectorized": Contestant(
                nnott_step(model, batches), TIER_BATCH, steps=vectorized_steps
            ),
        },
        steps=1,
        repeats=settings.repeats,
        warmup=1,
    )
    loops, arrays = results["scalar"].samples_per_s, results["vectorized"].samples_per_s
    shape = "-".join(map(str, TIER_SIZES))
    table = Table(
        f"MLP tiers: scalar and vectorized ({shape}, batch {TIER_BATCH})",
        ["tier", "training samples/s", "vs scalar"],
        note=(
            f"Both train the same network with SGD (momentum {MOMENTUM}) on {count} bundled "
            "Fashion-MNIST images; the scalar tier through its own train_epoch loop, the "
            "vectorized tier one step per batch as its Trainer does (batches already on the "
            "device). Median of the repeats."
        ),
    )
    table.add("scalar (pure Python)", loops, ratio_text(1.0))
    table.add("vectorized (nnott.backend xp)", arrays, ratio_text(arrays / loops))
    report.tables.append(table)
    report.details["tiers"] = {name: result.to_dict() for name, result in results.items()}


def bench_mlp_torch(
    report: Report, settings: Settings, torch: Any, device: str, why_no_torch: str = ""
) -> None:
    """The vectorized MLP 784-256-128-10 at batch 64 against the same MLP in PyTorch."""
    seed(0)
    model = mlp(784, list(MLP_HIDDEN), 10)
    batches = host_batches(16, MLP_BATCH, (1, 28, 28))
    contestants = {"nnott": Contestant(nnott_step(model, batches), MLP_BATCH)}
    shape = "-".join(map(str, (784, *MLP_HIDDEN, 10)))
    title = f"Vectorized MLP against PyTorch ({shape}, batch {MLP_BATCH}, {device})"
    table = Table(title, ["implementation", "training samples/s", "vs PyTorch"])
    rival, why_no_twin = torch_contestant(torch, model, batches, device)
    if rival is not None:
        contestants["torch"] = rival
    why = "" if rival is not None else (why_no_twin or why_no_torch or NO_TORCH)
    results = compare_throughput(
        contestants, steps=settings.mlp_steps, repeats=settings.repeats, warmup=settings.warmup
    )
    ours = results["nnott"].samples_per_s
    theirs = results["torch"].samples_per_s if "torch" in results else None
    ratio = paired_ratio(results["nnott"], results["torch"]) if theirs else None
    table.add("nnott.vectorized", ours, ratio_text(ratio))
    if theirs:
        table.add(f"PyTorch {torch.__version__}", theirs, ratio_text(1.0))
    else:
        table.add(f"PyTorch ({why})", None, "-")
    table.note = (
        f"SGD (lr {LEARNING_RATE}, momentum {MOMENTUM}), the same weights in both, batches "
        "already on the device; interleaved repeats: the median samples/s of each, and the "
        "median of the ratios of back-to-back pairs."
    )
    report.tables.append(table)
    if device in ("cpu", "gpu"):  # the emulated device is a test aid, not a target
        report.targets.append(
            Target(f"vectorized MLP vs PyTorch ({device})", ratio, TORCH_TARGET, "x", why)
        )
    report.details["mlp_torch"] = {name: result.to_dict() for name, result in results.items()}


def bench_mlp_accuracy(report: Report, settings: Settings, dataset: str = "fashion-mnist") -> None:
    """Train the MLP on the full dataset with nnott's Trainer; score it on the test set."""
    data = load(dataset)
    scaler = Standardizer.fit(data.train_images)
    x_train = scaler.transform(data.train_images)
    x_test = scaler.transform(data.test_images)
    seed(0)
    model = mlp(784, list(MLP_HIDDEN), 10)
    optimizer = Adam(model.parameters(), lr=1e-3)
    train_loader = DataLoader(x_train, data.train_labels, MLP_BATCH, shuffle=True, seed=0)
    test_loader = DataLoader(x_test, data.test_labels, 1000)
    epochs = settings.mlp_epochs
    schedule = CosineWithWarmup(
        optimizer, total_steps=epochs * len(train_loader), warmup_steps=len(train_loader) // 2
    )
    trainer = Trainer(model, optimizer, schedule=schedule, progress=False, log_epochs=False)
    start = time.perf_counter()
    history = trainer.fit(train_loader, epochs=epochs)
    seconds = time.perf_counter() - start
    result = trainer.evaluate(test_loader)
    accuracy = 100.0 * result.accuracy
    shape = "-".join(map(str, (784, *MLP_HIDDEN, 10)))
    table = Table(
        f"Vectorized MLP accuracy on the full {dataset} ({epochs} epochs)",
        ["model", "training", "epochs", "train time (s)", "samples/s", "test accuracy"],
        note=(
            f"{len(x_train):,} training images, {len(x_test):,} test images, standardized "
            "with the training statistics; nnott's Trainer, seed 0, batch 64, Adam, cosine "
            "schedule with half an epoch of warm-up, no augmentation."
        ),
    )
    table.add(
        f"MLP {shape}",
        "Adam lr 1e-3, cosine",
        epochs,
        round(seconds, 1),
        trainer.train_samples_per_s,
        f"{accuracy:.2f} %",
    )
    report.tables.append(table)
    what = f"MLP test accuracy, {epochs} epochs"
    report.targets.append(Target(what, accuracy, ACCURACY_TARGET, "%"))
    report.details["mlp_accuracy"] = {
        "test_accuracy": result.accuracy,
        "train_seconds": seconds,
        "train_samples_per_s": trainer.train_samples_per_s,
        "history": history.to_dict(),
        "test_predictions_per_class": numpy.bincount(result.predictions, minlength=10).tolist(),
    }
