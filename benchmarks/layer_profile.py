"""``--profile ARCH``: where one training step of an architecture spends its time.

Every leaf layer's ``forward`` and ``backward`` is wrapped in a :class:`nnott.backend.Timer`
(which waits for the GPU, so each layer is charged for its own kernels), a few steps are
run, and each layer's median forward and backward time is shown with its share of the
whole step. The step's own pieces (loss, optimizer, and the work of composite modules
such as residual additions, "other") fill the rest. A second table sums by layer type,
which is usually where the bottleneck shows.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from cnn_bench import BATCH, IMAGE, build, conv_flops
from mlp_bench import MLP_HIDDEN
from modules import leaf_modules
from report import Report, Table
from steps import LEARNING_RATE, MOMENTUM, host_batches

from nnott.backend import Timer, seed, to_device
from nnott.cnn.conv import Conv2D
from nnott.vectorized import SGD, SoftmaxCrossEntropy, mlp

__all__ = ["profile_architecture"]


class _LayerClock:
    """Collects the seconds of every call of one layer's forward and backward."""

    def __init__(self) -> None:
        self.forward: list[float] = []
        self.backward: list[float] = []
        self.input_shape: tuple[int, ...] = ()
        self.output_shape: tuple[int, ...] = ()

    def wrap(self, layer: Any) -> None:
        forward, backward = layer.forward, layer.backward

        def timed_forward(x: Any) -> Any:
            self.input_shape = tuple(x.shape)
            with Timer() as timer:
                y = forward(x)
            self.forward.append(timer.elapsed)
            self.output_shape = tuple(y.shape)
            return y

        def timed_backward(grad: Any) -> Any:
            with Timer() as timer:
                result = backward(grad)
            self.backward.append(timer.elapsed)
            return result

        layer.forward, layer.backward = timed_forward, timed_backward


def _median(values: list[float], calls_per_step: int, steps: int) -> float:
    """The median over steps of one step's total time in this layer."""
    per_step = [sum(values[i * calls_per_step : (i + 1) * calls_per_step]) for i in range(steps)]
    return statistics.median(per_step)


def _timed_step(
    model: Any, optimizer: SGD, loss: SoftmaxCrossEntropy, x: Any, y: Any
) -> dict[str, float]:
    """One training step timed phase by phase."""
    phases: dict[str, float] = {}

    def phase(name: str, work: Callable[[], Any]) -> Any:
        with Timer() as timer:
            result = work()
        phases[name] = timer.elapsed
        return result

    with Timer() as total:
        phase("zero_grad", optimizer.zero_grad)
        logits = phase("forward", lambda: model.forward(x))
        phase("loss", lambda: loss.forward(logits, y))
        grad = phase("loss backward", loss.backward)
        phase("backward", lambda: model.backward(grad))
        phase("optimizer", optimizer.step)
    phases["step"] = total.elapsed
    return phases


def profile_architecture(
    report: Report, name: str, steps: int = 3, batch_size: int = BATCH
) -> None:
    """Add the per-layer and per-type timing tables of ``name`` to ``report``.

    ``name`` is a registered architecture, or ``"mlp"`` for the benchmark's MLP
    (784-256-128-10).
    """
    if name == "mlp":
        seed(0)
        model = mlp(784, list(MLP_HIDDEN), 10)
    else:
        model = build(name)
    layers = leaf_modules(model)
    clocks = {layer_name: _LayerClock() for layer_name, _ in layers}
    for layer_name, layer in layers:
        clocks[layer_name].wrap(layer)
    x_host, y_host = host_batches(1, batch_size, IMAGE)[0]
    x, y = to_device(x_host), to_device(y_host)
    optimizer = SGD(model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)
    loss = SoftmaxCrossEntropy()
    model.train()
    _timed_step(model, optimizer, loss, x, y)  # warm-up, not counted
    for clock in clocks.values():
        clock.forward.clear()
        clock.backward.clear()
    phases = [_timed_step(model, optimizer, loss, x, y) for _ in range(steps)]
    for _, layer in layers:  # back to the class's methods
        del layer.forward, layer.backward
    step = statistics.median(p["step"] for p in phases)

    table = Table(
        f"Profile of one {name} training step (batch {batch_size}, median of {steps} steps)",
        ["layer", "type", "output", "forward ms", "backward ms", "share of step", "GFLOP/s"],
    )
    by_type: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    layer_total = 0.0
    rows = []
    for layer_name, layer in layers:
        clock = clocks[layer_name]
        calls = len(clock.forward) // steps
        if calls == 0:
            continue
        forward = _median(clock.forward, calls, steps)
        backward = _median(clock.backward, calls, steps) if clock.backward else 0.0
        layer_total += forward + backward
        kind = type(layer).__name__
        by_type[kind][0] += forward
        by_type[kind][1] += backward
        rate = None
        if isinstance(layer, Conv2D):
            flops = 3.0 * conv_flops(layer, clock.input_shape) * calls  # forward + backward
            rate = round(flops / max(forward + backward, 1e-12) / 1e9, 1)
        rows.append((layer_name, kind, clock.output_shape, forward, backward, rate))
    for layer_name, kind, shape, forward, backward, rate in rows:
        share = 100.0 * (forward + backward) / step
        table.add(
            layer_name,
            kind,
            "x".join(map(str, shape)),
            round(1e3 * forward, 2),
            round(1e3 * backward, 2),
            f"{share:.1f} %",
            rate,
        )
    table.note = (
        f"Step {1e3 * step:.1f} ms ({batch_size / step:.1f} samples/s with the timers on). "
        "GFLOP/s counts a convolution's forward and backward FLOPs together."
    )
    report.tables.append(table)

    summary = Table(
        f"Profile of {name} by layer type", ["type", "forward ms", "backward ms", "share of step"]
    )
    for kind, (forward, backward) in sorted(by_type.items(), key=lambda item: -sum(item[1])):
        share = 100.0 * (forward + backward) / step
        summary.add(kind, round(1e3 * forward, 2), round(1e3 * backward, 2), f"{share:.1f} %")
    pieces = {
        f"({piece})": statistics.median(p[piece] for p in phases)
        for piece in ("loss", "loss backward", "optimizer", "zero_grad")
    }
    pieces["(other: residual additions, Python)"] = max(
        step - layer_total - sum(pieces.values()), 0.0
    )
    for piece, seconds in pieces.items():
        summary.add(piece, round(1e3 * seconds, 2), None, f"{100 * seconds / step:.1f} %")
    report.tables.append(summary)
    report.details.setdefault("profiles", {})[name] = {
        "step_seconds": step,
        "layers": [
            {
                "name": layer_name,
                "type": kind,
                "output_shape": list(shape),
                "forward_seconds": forward,
                "backward_seconds": backward,
            }
            for layer_name, kind, shape, forward, backward, _ in rows
        ],
    }
