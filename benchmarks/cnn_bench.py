"""The CNN benchmarks: whole networks against PyTorch, each convolution against the GEMM
roof, and the memory of one ResNet18 training step.

1. **Against PyTorch** -- ``lenet`` and ``resnet18`` (1x28x28, batch 64) and their PyTorch
   twins built from the same nnott model (:mod:`twin`), interleaved in this process.
   Targets on the CPU: LeNet at least 0.8x, ResNet18 at least 0.5x; on the GPU ResNet18
   at least 0.5x of PyTorch with cuDNN.
2. **Convolution layers** -- every distinct convolution of ResNet18 and LeNet (its shape
   as the network sees it at batch 64), forward and backward GFLOP/s as a share of the
   float32 GEMM roof of the same device (:func:`nnott.cnn.bench_layers.gemm_roof_gflops`),
   each side the median of the same number of calls (:func:`layer_median`). Target: at
   least 50 % for the large layers (at least 0.5 GFLOP per forward pass).
3. **Memory** -- the peak of one ResNet18 training step: NumPy allocations traced with
   ``tracemalloc`` on the CPU, CuPy's memory pool on the GPU (PyTorch's
   ``max_memory_allocated`` beside it).
"""

from __future__ import annotations

import dataclasses
import tracemalloc
from collections.abc import Callable
from typing import Any

from machine import NO_TORCH
from modules import named_modules
from report import Report, Table, Target, ratio_text
from settings import Settings
from steps import host_batches, nnott_step, torch_contestant, torch_device, torch_step
from timing import Contestant, compare_throughput, median_seconds, paired_ratio
from twin import torch_twin

from nnott.backend import rng, seed, to_device, xp
from nnott.cnn.architectures import get_architecture
from nnott.cnn.bands import release_scratch_buffers
from nnott.cnn.bench_layers import gemm_roof_gflops
from nnott.cnn.conv import Conv2D
from nnott.cnn.functional import images_last

__all__ = [
    "bench_conv_layers",
    "bench_memory",
    "bench_networks",
    "conv_flops",
    "layer_median",
]

BATCH = 64
IMAGE = (1, 28, 28)
NETWORK_TARGETS = {"cpu": {"lenet": 0.8, "resnet18": 0.5}, "gpu": {"resnet18": 0.5}}
LARGE_LAYER_GFLOP = 0.5
LAYER_SHARE_TARGET = 50.0


def build(name: str) -> Any:
    """The registered architecture ``name`` for 1x28x28 inputs and 10 classes, seeded."""
    seed(0)
    return get_architecture(name).build(num_classes=10, in_channels=1, input_size=28)


def bench_networks(
    report: Report, settings: Settings, torch: Any, device: str, why_no_torch: str = ""
) -> None:
    """Training samples/s of lenet and resnet18 against their PyTorch twins."""
    table = Table(
        f"CNN training throughput against PyTorch (1x28x28, batch {BATCH}, {device})",
        ["network", "nnott samples/s", "PyTorch samples/s", "ratio", "target"],
        note=(
            "The PyTorch twin is built layer by layer from the nnott model with its weights "
            "(outputs checked equal before timing); SGD with momentum, batches already on the "
            "device; interleaved repeats: the median samples/s of each, and the median of the "
            "ratios of back-to-back pairs." + (" PyTorch uses cuDNN." if device == "gpu" else "")
        ),
    )
    details: dict[str, Any] = {}
    for name, steps in (("lenet", settings.lenet_steps), ("resnet18", settings.resnet_steps)):
        model = build(name)
        batches = host_batches(4, BATCH, IMAGE)
        contestants = {"nnott": Contestant(nnott_step(model, batches), BATCH)}
        rival, why_no_twin = torch_contestant(torch, model, batches, device)
        if rival is not None:
            contestants["torch"] = rival
        why = "" if rival is not None else (why_no_twin or why_no_torch or NO_TORCH)
        results = compare_throughput(
            contestants, steps=steps, repeats=settings.repeats, warmup=settings.warmup
        )
        ours = results["nnott"].samples_per_s
        theirs = results["torch"].samples_per_s if "torch" in results else None
        ratio = paired_ratio(results["nnott"], results["torch"]) if theirs else None
        goal = NETWORK_TARGETS.get(device, {}).get(name)
        table.add(name, ours, theirs, ratio_text(ratio), f">= {goal}x" if goal else "-")
        if goal is not None:
            report.targets.append(Target(f"{name} vs PyTorch ({device})", ratio, goal, "x", why))
        details[name] = {key: value.to_dict() for key, value in results.items()}
    report.tables.append(table)
    report.details["networks"] = details


# ------------------------------------------------------------------ convolution layers


def conv_flops(layer: Conv2D, input_shape: tuple[int, ...]) -> float:
    """Forward FLOPs of ``layer`` on ``input_shape``: 2 per multiply-add (bias left out).

    The backward pass does twice this (the weight gradient and the input gradient), the
    convention of :mod:`nnott.cnn.bench_layers`.
    """
    n, k, out_h, out_w = layer.output_shape(input_shape)
    kh, kw = layer.kernel_size
    return 2.0 * n * k * out_h * out_w * (layer.in_channels // layer.groups) * kh * kw


@dataclasses.dataclass
class ConvUse:
    """A distinct convolution: its hyper-parameters, its input shape, where it is used."""

    layer: Conv2D
    input_shape: tuple[int, ...]
    names: list[str]

    def describe(self) -> str:
        kh, kw = self.layer.kernel_size
        _, c, h, w = self.input_shape
        text = f"{c}->{self.layer.out_channels} {kh}x{kw}/{self.layer.stride} at {h}x{w}"
        return text + (f" groups {self.layer.groups}" if self.layer.groups > 1 else "")


def distinct_convolutions(model: Any, batch_size: int = BATCH) -> list[ConvUse]:
    """The convolutions of ``model`` with the input shapes one forward pass gives them,
    one entry per distinct (hyper-parameters, input shape)."""
    seen: dict[tuple[Any, ...], ConvUse] = {}
    originals: dict[str, Any] = {}
    convolutions = [(n, m) for n, m in named_modules(model) if isinstance(m, Conv2D)]

    def recording(name: str, layer: Conv2D) -> Any:
        def forward(x: Any) -> Any:
            key = (
                layer.in_channels,
                layer.out_channels,
                layer.kernel_size,
                layer.stride,
                layer.padding,
                layer.groups,
                layer.bias is not None,
                tuple(x.shape),
            )
            if key in seen:
                seen[key].names.append(name)
            else:
                seen[key] = ConvUse(layer, tuple(x.shape), [name])
            return originals[name](x)

        return forward

    for name, layer in convolutions:
        originals[name] = layer.forward
        layer.forward = recording(name, layer)  # type: ignore[method-assign]
    try:
        model.eval()
        model.forward(to_device(rng().standard_normal((batch_size, *IMAGE)), dtype="float32"))
    finally:
        model.train()
        for _, layer in convolutions:
            del layer.forward  # back to the class's method
    return list(seen.values())


def layer_median(run: Callable[[], Any], repeats: int) -> float:
    """Median seconds of ``repeats`` calls: how a layer and the GEMM roof it is divided by
    are both timed. With the best call for the roof and the median for the layers, every
    disturbance on a shared machine would lower the layers' shares alone."""
    return median_seconds(run, repeats=repeats)


def time_convolution(use: ConvUse, repeats: int) -> tuple[float, float]:
    """Median forward and backward seconds of one convolution on a random input."""
    layer = use.layer
    # laid out as the layers hand arrays on inside a network (images last)
    x = images_last(to_device(rng().standard_normal(use.input_shape), dtype="float32"))
    grad = images_last(xp.ones(layer.output_shape(use.input_shape), dtype=x.dtype))
    forward = layer_median(lambda: layer.forward(x), repeats)
    backward = layer_median(lambda: layer.backward(grad), repeats)
    layer.zero_grad()
    return forward, backward


def bench_conv_layers(report: Report, settings: Settings, device: str) -> None:
    """Each distinct convolution of resnet18 and lenet as a share of the GEMM roof."""
    roof = gemm_roof_gflops(settings.roof_size, settings.layer_repeats, seconds=layer_median)
    table = Table(
        f"Convolution layers against the float32 GEMM roof ({device}, batch {BATCH})",
        [
            "network",
            "convolution",
            "used by",
            "GFLOP",
            "forward ms",
            "forward GFLOP/s",
            "forward % of roof",
            "backward ms",
            "backward GFLOP/s",
            "backward % of roof",
        ],
        note=(
            f"GEMM roof: {roof:.1f} GFLOP/s, the median of {settings.layer_repeats} float32 "
            f"{settings.roof_size}^3 matrix products through the same xp. Layer times are "
            f"medians of {settings.layer_repeats} calls too; a forward pass is 2 FLOPs per "
            "multiply-add, the backward pass twice that. Large layers (target >= "
            f"{LAYER_SHARE_TARGET:.0f} % of the roof) do at least {LARGE_LAYER_GFLOP} GFLOP "
            "per forward pass."
        ),
    )
    rows: list[dict[str, Any]] = []
    for network in ("resnet18", "lenet"):
        for use in distinct_convolutions(build(network)):
            flops = conv_flops(use.layer, use.input_shape)
            forward, backward = time_convolution(use, settings.layer_repeats)
            forward_rate, backward_rate = flops / forward / 1e9, 2.0 * flops / backward / 1e9
            row: dict[str, Any] = {
                "network": network,
                "convolution": use.describe(),
                "used_by": use.names,
                "gflop": flops / 1e9,
                "forward_ms": 1e3 * forward,
                "forward_gflops": forward_rate,
                "forward_share": 100.0 * forward_rate / roof,
                "backward_ms": 1e3 * backward,
                "backward_gflops": backward_rate,
                "backward_share": 100.0 * backward_rate / roof,
            }
            rows.append(row)
            used_by = use.names[0] + (f" (+{len(use.names) - 1})" if len(use.names) > 1 else "")
            table.add(
                network,
                row["convolution"],
                used_by,
                round(row["gflop"], 3),
                round(row["forward_ms"], 2),
                round(forward_rate, 1),
                f"{row['forward_share']:.0f} %",
                round(row["backward_ms"], 2),
                round(backward_rate, 1),
                f"{row['backward_share']:.0f} %",
            )
    report.tables.append(table)
    large = [row for row in rows if row["gflop"] >= LARGE_LAYER_GFLOP]
    for direction in ("forward", "backward"):
        lowest = min((row[f"{direction}_share"] for row in large), default=None)
        report.targets.append(
            Target(
                f"large convolutions, lowest {direction} share of GEMM roof ({device})",
                lowest,
                LAYER_SHARE_TARGET,
                "%",
                "no large convolution" if lowest is None else "",
            )
        )
    report.details["conv_layers"] = {"roof_gflops": roof, "layers": rows}


# ------------------------------------------------------------------------------ memory


def _nnott_step_peak_bytes(device: str) -> tuple[int, int]:
    """``(resident, peak)`` bytes of nnott's ResNet18: after building the model, its
    optimizer and one batch, and the peak during the first training step."""
    if device == "gpu":
        import cupy

        pool = cupy.get_default_memory_pool()
        pool.free_all_blocks()
        step = nnott_step(build("resnet18"), host_batches(1, BATCH, IMAGE))
        resident = pool.used_bytes()
        step(0)
        step(1)  # the pool keeps every block it needed: its size is the peak in use
        return resident, pool.total_bytes()
    release_scratch_buffers()  # the earlier sections' buffers: counted only if allocated here
    tracemalloc.start()
    try:
        step = nnott_step(build("resnet18"), host_batches(1, BATCH, IMAGE))
        resident = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        step(0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return resident, peak


def _torch_step_peak_bytes(torch: Any) -> tuple[int, int]:
    """The same for the PyTorch twin on CUDA (``memory_allocated`` statistics)."""
    cuda = torch_device(torch, "gpu")
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(cuda)
    before = torch.cuda.memory_allocated(cuda)
    twin = torch_twin(build("resnet18"), torch)
    step = torch_step(torch, twin, host_batches(1, BATCH, IMAGE), "gpu")
    resident = torch.cuda.memory_allocated(cuda) - before
    step(0)
    torch.cuda.synchronize()
    return resident, torch.cuda.max_memory_allocated(cuda) - before


def bench_memory(report: Report, torch: Any, device: str) -> None:
    """Peak memory of one ResNet18 training step at batch 64."""
    mib = 1024.0 * 1024.0
    table = Table(
        f"Memory of one ResNet18 training step (1x28x28, batch {BATCH}, {device})",
        ["implementation", "model + optimizer + batch (MiB)", "peak during the step (MiB)"],
    )
    resident, peak = _nnott_step_peak_bytes(device)
    table.add("nnott", round(resident / mib, 1), round(peak / mib, 1))
    details: dict[str, Any] = {"nnott": {"resident_bytes": resident, "peak_bytes": peak}}
    if device == "gpu":
        table.note = (
            "nnott: CuPy's default memory pool (its size after two steps, which is the most "
            "it ever held at once, rounding included). PyTorch: torch.cuda.memory_allocated "
            "and max_memory_allocated."
        )
        if torch is not None:
            torch_resident, torch_peak = _torch_step_peak_bytes(torch)
            table.add("PyTorch", round(torch_resident / mib, 1), round(torch_peak / mib, 1))
            details["torch"] = {"resident_bytes": torch_resident, "peak_bytes": torch_peak}
    else:
        table.note = (
            "NumPy allocations traced with tracemalloc from before the model is built; the "
            "peak is the most held at once during the first step (activations kept for the "
            "backward pass, gradients and temporaries included). PyTorch's CPU allocator is "
            "not visible to tracemalloc, so it has no row here."
        )
    report.tables.append(table)
    report.details["memory"] = details
