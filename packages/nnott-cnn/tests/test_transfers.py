"""A full epoch of LeNet on the bundled dataset moves only batches and metrics across the bus.

The emulated device counts every copy between host and device (and every implicit
synchronisation, such as ``float(x)`` on a device value). One epoch may copy each batch's
images and labels to the device, and a handful of metrics back at its end: nothing per
layer, nothing per batch on the way back.
"""

from __future__ import annotations

import argparse

from nnott.backend import count_transfers, use_emulated
from nnott.cnn.architectures import build
from nnott.cnn.cli import build_parser
from nnott.vectorized.losses import SoftmaxCrossEntropy
from nnott.vectorized.trainer import Trainer
from nnott.vectorized.training_cli import build_optimizer, prepare_data, setup_run


def lenet_args() -> argparse.Namespace:
    return build_parser().parse_args(["lenet", "--epochs", "1", "--no-progress"])


def test_one_lenet_epoch_moves_only_batches_and_metrics():
    with use_emulated():
        args = lenet_args()
        setup_run(args, prog="test")
        data = prepare_data(args)  # the bundled dataset, the default
        channels, size = data.dataset.image_shape[:2]
        model = build("lenet", in_channels=channels, input_size=size)
        trainer = Trainer(
            model,
            build_optimizer(args, model.parameters()),
            loss=SoftmaxCrossEntropy(),
            progress=False,
        )
        batches = len(data.train_loader)
        with count_transfers() as moved:
            trainer.fit(data.train_loader, epochs=1)

    samples = data.train_loader.num_samples
    assert batches > 50 and trainer.epoch == 1
    assert moved.to_device_count == 2 * batches  # images and labels of each batch
    image_bytes = samples * channels * size * size * 4  # float32
    label_bytes = samples * 8  # int64
    assert moved.to_device_bytes == image_bytes + label_bytes
    assert moved.to_cpu_count <= 4  # the epoch's metrics, read once at its end
    assert moved.to_cpu_bytes <= 64
    assert moved.implicit_syncs == 0
