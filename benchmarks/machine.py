"""What the benchmark ran on: CPU, cores, library versions, device, threads, load.

Throughput means little without the machine it was measured on, and ratios to PyTorch
mean little unless both sides used the same number of cores. :func:`configure_threads`
gives PyTorch as many threads as the cores NumPy's BLAS uses in this process, and
:func:`describe_machine` records that, together with everything else a reader needs to
judge the numbers (including the load average, since these machines are often shared).
"""

from __future__ import annotations

import datetime
import os
import platform
from typing import Any

import numpy

from nnott.backend import current_device, gpu_unavailable_reason
from nnott.backend.cpu_threads import cpu_thread_count

__all__ = [
    "blas_kernels",
    "blas_name",
    "configure_threads",
    "cpu_model",
    "NO_TORCH",
    "describe_machine",
    "load_average",
    "process_cores",
    "reference_torch",
    "tf32_enabled",
]


NO_TORCH = "torch not installed"


def reference_torch(device: str) -> tuple[Any, str]:
    """``(torch, "")`` when PyTorch can be the reference on ``device``, else ``(None, why)``.

    Without PyTorch (or, for the GPU, without a CUDA build of it) the comparisons are
    skipped and the targets that need them are reported as not measured, with ``why``.
    """
    try:
        import torch
    except ImportError:
        return None, NO_TORCH
    if device == "gpu" and not torch.cuda.is_available():
        return None, f"torch {torch.__version__} cannot use CUDA"
    return torch, ""


def cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (Linux), else what ``platform`` knows.

    A hypervisor may show only a bare name ("AMD EPYC", with no model number), which does
    not tell a Zen 4 from a Zen 5; the CPU family and model numbers are added then.
    """
    fields: dict[str, str] = {}
    try:
        with open(cpuinfo, encoding="utf-8") as lines:
            for line in lines:
                key, _, value = line.partition(":")
                key = key.strip()
                if not key:  # a blank line ends the first processor's entry
                    break
                fields.setdefault(key, value.strip())
    except OSError:
        pass
    name = fields.get("model name")
    if not name:
        return platform.processor() or platform.machine()
    if not any(character.isdigit() for character in name) and "cpu family" in fields:
        return f"{name} (family {fields['cpu family']}, model {fields.get('model', '?')})"
    return name


def process_cores() -> int:
    """How many cores this process may run on (its CPU affinity), which BLAS uses."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def blas_threads() -> int:
    """The number of threads NumPy's OpenBLAS uses: its environment override or the cores."""
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(variable, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return process_cores()


def blas_name() -> str:
    """The BLAS library NumPy was built against, with its version when NumPy says."""
    try:
        config = numpy.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # older NumPy, or a build without the information
        return "unknown"


def blas_kernels() -> str:
    """The kernels NumPy's OpenBLAS runs, and whether the environment chose them.

    OpenBLAS picks its kernels for the CPU when it loads, unless ``OPENBLAS_CORETYPE``
    names them. The difference is large: on the 2-core Zen 5 EPYC where the committed
    results were measured, whose environment sets ``OPENBLAS_CORETYPE=Haswell``, NumPy's
    float32 GEMM ran at about 240 GFLOP/s with those AVX2 kernels and about 470 GFLOP/s
    with the AVX-512 kernels OpenBLAS picks by itself. A reader must know which ran.
    """
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (install threadpoolctl to see them)"
    for library in threadpool_info():
        if library.get("internal_api") == "openblas":
            kernels = library.get("architecture") or "unknown"
            forced = os.environ.get("OPENBLAS_CORETYPE")
            if forced:
                return f"{kernels} (chosen by the environment: OPENBLAS_CORETYPE={forced})"
            return f"{kernels} (OpenBLAS's own choice for this CPU)"
    return "not OpenBLAS"


def configure_threads(torch: Any) -> int:
    """Give PyTorch the same number of threads as NumPy's BLAS; return that number."""
    threads = blas_threads()
    if torch is not None:
        torch.set_num_threads(threads)
    return threads


def tf32_enabled() -> bool:
    """True when ``CUPY_TF32=1``: CuPy's float32 GEMMs may then use TF32 tensor cores.

    The benchmark gives PyTorch the same setting, so both sides use TF32 or neither does.
    """
    return os.environ.get("CUPY_TF32", "0") == "1"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (how busy the machine was), or "unknown"."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def _gpu_name() -> str:
    import cupy

    properties = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
    name = properties["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def describe_machine(torch: Any, threads: int, why_no_torch: str = "") -> dict[str, Any]:
    """A flat ``{label: value}`` description (the docs show it as the machine table)."""
    device = current_device()
    machine: dict[str, Any] = {
        "measured": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(),
        "cores (logical, this process)": f"{os.cpu_count()}, {process_cores()}",
        "threads (NumPy BLAS = PyTorch)": threads,
        "device": device,
        "python": platform.python_version(),
        "numpy": f"{numpy.__version__} ({blas_name()})",
        "OpenBLAS kernels": blas_kernels(),
        "nnott's CPU parts (nnott.backend.cpu_threads)": cpu_thread_count(),
        "torch": torch.__version__ if torch is not None else why_no_torch or NO_TORCH,
        "load average at start (1/5/15 min)": load_average(),
    }
    if device == "gpu":
        import cupy

        machine["gpu"] = _gpu_name()
        machine["cupy"] = cupy.__version__
        machine["TF32"] = (
            "on for both (CUPY_TF32=1)" if tf32_enabled() else "off for both (full float32)"
        )
    else:
        reason = gpu_unavailable_reason()
        machine["gpu"] = "not used" if reason is None else f"none ({reason.split(';')[0]})"
    return machine
