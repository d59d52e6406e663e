"""One training step, written the same way for nnott and for its PyTorch twin.

Both sides get the same batches (random float32 images and labels drawn once on the host,
copied to the device before timing, so the timed loop measures training and not data
loading), the same network and weights (:mod:`twin`) and the same optimizer: SGD with
momentum 0.9, which costs little next to the forward and backward passes. The nnott step
is exactly what :class:`nnott.vectorized.trainer.Trainer` does per batch: zero the
gradients, forward, loss, backward, optimizer step, with no read back to the host.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy
from timing import Contestant, TorchTimer
from twin import NoTwinError, check_twin, torch_twin

from nnott.backend import derive_rng, to_device
from nnott.vectorized import SGD, SoftmaxCrossEntropy

__all__ = [
    "BENCH_STREAM",
    "LEARNING_RATE",
    "MOMENTUM",
    "host_batches",
    "nnott_step",
    "torch_contestant",
    "torch_device",
    "torch_step",
]

BENCH_STREAM = 0xBE7C  # keeps the benchmark's random batches apart from other streams
LEARNING_RATE = 0.01
MOMENTUM = 0.9


def host_batches(
    count: int, batch_size: int, shape: tuple[int, ...], num_classes: int = 10
) -> list[tuple[numpy.ndarray, numpy.ndarray]]:
    """``count`` batches of standard-normal float32 inputs and int64 labels, on the host."""
    generator = derive_rng(BENCH_STREAM, batch_size, *shape)
    return [
        (
            generator.standard_normal((batch_size, *shape)).astype(numpy.float32),
            generator.integers(0, num_classes, batch_size).astype(numpy.int64),
        )
        for _ in range(count)
    ]


def nnott_step(
    model: Any, batches: list[tuple[numpy.ndarray, numpy.ndarray]]
) -> Callable[[int], None]:
    """A function training ``model`` on batch ``i % len(batches)`` (moved to the device now)."""
    on_device = [(to_device(x), to_device(y)) for x, y in batches]
    optimizer = SGD(model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)
    loss = SoftmaxCrossEntropy()
    model.train()

    def step(index: int) -> None:
        x, y = on_device[index % len(on_device)]
        optimizer.zero_grad()
        logits = model.forward(x)
        loss.forward(logits, y)
        model.backward(loss.backward())
        optimizer.step()

    return step


def torch_device(torch: Any, device: str) -> Any:
    """The torch device matching nnott's: CUDA for ``"gpu"``, else the CPU."""
    return torch.device("cuda" if device == "gpu" else "cpu")


def torch_step(
    torch: Any, twin: Any, batches: list[tuple[numpy.ndarray, numpy.ndarray]], device: str
) -> Callable[[int], None]:
    """The same as :func:`nnott_step` for a PyTorch module (moved to ``device`` now)."""
    target = torch_device(torch, device)
    twin.to(target).train()
    on_device = [
        (torch.from_numpy(x).to(target), torch.from_numpy(y).to(target)) for x, y in batches
    ]
    optimizer = torch.optim.SGD(twin.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)
    cross_entropy = torch.nn.functional.cross_entropy

    def step(index: int) -> None:
        x, y = on_device[index % len(on_device)]
        optimizer.zero_grad()
        cross_entropy(twin(x), y).backward()
        optimizer.step()

    return step


def torch_contestant(
    torch: Any, model: Any, batches: list[tuple[numpy.ndarray, numpy.ndarray]], device: str
) -> tuple[Contestant | None, str]:
    """``model``'s PyTorch twin, checked equal and ready to time, or None and the reason
    (empty when torch itself is missing: the caller knows why)."""
    if torch is None:
        return None, ""
    try:
        twin = torch_twin(model, torch)
        check_twin(model, twin, to_device(batches[0][0]), torch, device)
    except NoTwinError as error:
        return None, str(error)
    step = torch_step(torch, twin, batches, device)
    timer = lambda: TorchTimer(torch, device == "gpu")  # noqa: E731
    return Contestant(step, len(batches[0][1]), timer=timer), ""
