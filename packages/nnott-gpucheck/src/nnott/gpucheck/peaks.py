"""Published peak throughput of common GPUs, so a measurement can say what share it reached.

Figures are dense (no structured sparsity) tensor-core or CUDA-core peaks at boost clock, in
TFLOP/s, and the memory bandwidth in GB/s, as NVIDIA publishes them. A device that is not in
the table gets "unknown": guessing a peak would make the share meaningless.

Sources (NVIDIA datasheets and architecture whitepapers; "sparse" figures halved to dense):

- H100 SXM5 / PCIe: "NVIDIA H100 Tensor Core GPU" datasheet (2023).
- H200 SXM: "NVIDIA H200 Tensor Core GPU" datasheet (2024).
- A100 SXM4 / PCIe, 40 GB and 80 GB: "NVIDIA A100 Tensor Core GPU" datasheet (2021).
- A10, L4, L40S, T4: the product datasheets of each.
- V100 SXM2 / PCIe: "NVIDIA Tesla V100 GPU Accelerator" datasheet (2018).
- GeForce RTX 4090: "NVIDIA Ada GPU Architecture" whitepaper, appendix table (FP16 and
  TF32 tensor figures with FP32 accumulation, which is what cuBLAS uses here).
- GeForce RTX 3090: "NVIDIA Ampere GA102 GPU Architecture" whitepaper, same convention.

The float64 figure is the FP64 tensor-core peak where the device has one (cuBLAS DGEMM uses
it on A100, H100 and H200), else the FP64 CUDA-core peak; None where not published.
"""

from __future__ import annotations

import dataclasses
import re

__all__ = ["KNOWN_DEVICES", "DevicePeaks", "find_peaks", "peak_gemm_tflops"]


@dataclasses.dataclass(frozen=True)
class DevicePeaks:
    """Dense peaks of one GPU model; None where the vendor publishes no figure."""

    model: str
    fp32_tflops: float
    tf32_tflops: float | None
    fp16_tflops: float | None
    fp64_tflops: float | None
    memory_gbps: float


# (regular expression for the device name without its "NVIDIA " prefix, peaks)
KNOWN_DEVICES: tuple[tuple[str, DevicePeaks], ...] = (
    (r"H100 (80GB HBM3|SXM5?.*)", DevicePeaks("H100 SXM5", 67.0, 494.7, 989.4, 67.0, 3350.0)),
    (r"H100 PCIe", DevicePeaks("H100 PCIe", 51.0, 378.0, 756.0, 51.0, 2000.0)),
    (r"H200( SXM.*)?", DevicePeaks("H200 SXM", 67.0, 494.7, 989.4, 67.0, 4800.0)),
    (r"A100-SXM4-80GB", DevicePeaks("A100 SXM4 80GB", 19.5, 156.0, 312.0, 19.5, 2039.0)),
    (r"A100-SXM4-40GB", DevicePeaks("A100 SXM4 40GB", 19.5, 156.0, 312.0, 19.5, 1555.0)),
    (r"A100 80GB PCIe", DevicePeaks("A100 PCIe 80GB", 19.5, 156.0, 312.0, 19.5, 1935.0)),
    (r"A100-PCIE-40GB", DevicePeaks("A100 PCIe 40GB", 19.5, 156.0, 312.0, 19.5, 1555.0)),
    (r"A10", DevicePeaks("A10", 31.2, 62.5, 125.0, None, 600.0)),
    (r"L4", DevicePeaks("L4", 30.3, 60.0, 121.0, None, 300.0)),
    (r"L40S", DevicePeaks("L40S", 91.6, 183.0, 362.0, None, 864.0)),
    (r"Tesla T4", DevicePeaks("T4", 8.1, None, 65.0, None, 320.0)),
    (r"Tesla V100-SXM2-(16|32)GB", DevicePeaks("V100 SXM2", 15.7, None, 125.0, 7.8, 900.0)),
    (r"Tesla V100-PCIE-(16|32)GB", DevicePeaks("V100 PCIe", 14.0, None, 112.0, 7.0, 900.0)),
    (r"GeForce RTX 4090", DevicePeaks("GeForce RTX 4090", 82.6, 82.6, 165.2, None, 1008.0)),
    (r"GeForce RTX 3090", DevicePeaks("GeForce RTX 3090", 35.6, 35.6, 71.0, None, 936.0)),
)


def find_peaks(device_name: str | None) -> DevicePeaks | None:
    """The peaks of the named device (as CUDA names it), or None when it is not known."""
    if not device_name:
        return None
    name = device_name.strip().removeprefix("NVIDIA ").strip()
    for pattern, peaks in KNOWN_DEVICES:
        if re.fullmatch(pattern, name):
            return peaks
    return None


def peak_gemm_tflops(peaks: DevicePeaks | None, dtype: str, tf32: bool) -> float | None:
    """The matrix-product peak for ``dtype`` (TF32 when on), or None when unknown."""
    if peaks is None:
        return None
    if dtype == "float32":
        return peaks.tf32_tflops if tf32 else peaks.fp32_tflops
    if dtype == "float16":
        return peaks.fp16_tflops
    if dtype == "float64":
        return peaks.fp64_tflops
    return None
