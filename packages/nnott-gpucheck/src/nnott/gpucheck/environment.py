"""What the learner's machine is: CuPy, CUDA runtime and driver, the device and its sensors.

Every property is read on its own and an unreadable one becomes None (shown as "n/a"):
a driver that lacks one query, or a CUDA version that dropped a field (CUDA 13 removed the
clock rates from ``cudaDeviceProp``), must not stop the report.

Temperature and clocks come from NVML through ``pynvml`` (the ``nvml`` extra installs
``nvidia-ml-py``) when it imports, else from ``nvidia-smi`` when it is on the PATH.
"""

from __future__ import annotations

import dataclasses
import platform
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import numpy

from nnott.gpucheck.arrays import describe_module, is_cupy

__all__ = ["Sensors", "SensorReader", "collect_environment", "cuda_version_text"]


def _read(getter: Callable[[], Any]) -> Any:
    """``getter()``, or None when the property cannot be read on this machine."""
    try:
        return getter()
    except Exception:
        return None


def _float_or_none(text: str) -> float | None:
    """A number from nvidia-smi, or None for "[N/A]", "[Not Supported]" and the like."""
    try:
        return float(text)
    except ValueError:
        return None


def cuda_version_text(version: int | None) -> str | None:
    """CUDA's integer versions as text: 13000 → "13.0", 12040 → "12.4"."""
    if version is None:
        return None
    return f"{version // 1000}.{(version % 1000) // 10}"


# ------------------------------------------------------------------------------ sensors


@dataclasses.dataclass(frozen=True)
class Sensors:
    """One reading of the device's temperature and clocks; None where not readable."""

    temperature_c: float | None = None
    sm_clock_mhz: float | None = None
    memory_clock_mhz: float | None = None
    max_sm_clock_mhz: float | None = None


class SensorReader:
    """Reads temperature and clocks of one GPU through NVML or nvidia-smi, or says "n/a".

    The device is named by its PCI bus id, which NVML and nvidia-smi share with CUDA
    (their device numbers may differ from CUDA's under ``CUDA_VISIBLE_DEVICES``).
    """

    def __init__(self, pci_bus_id: str | None, index: int) -> None:
        self.pci_bus_id = pci_bus_id
        self.index = index
        self._nvml_handle: Any = None
        self._nvml: Any = None
        self.source = "n/a"
        if self._open_nvml():
            self.source = "NVML"
        elif shutil.which("nvidia-smi") and self._read_smi() != Sensors():
            self.source = "nvidia-smi"

    def _open_nvml(self) -> bool:
        try:
            import pynvml

            pynvml.nvmlInit()
            if self.pci_bus_id:
                handle = pynvml.nvmlDeviceGetHandleByPciBusId(self.pci_bus_id)
            else:
                handle = pynvml.nvmlDeviceGetHandleByIndex(self.index)
        except Exception:
            return False
        self._nvml, self._nvml_handle = pynvml, handle
        return True

    def read(self) -> Sensors:
        """A fresh reading (all None when no source works)."""
        if self.source == "NVML":
            return self._read_nvml()
        if self.source == "nvidia-smi":
            return self._read_smi()
        return Sensors()

    def _read_nvml(self) -> Sensors:
        nvml, handle = self._nvml, self._nvml_handle
        return Sensors(
            temperature_c=_read(
                lambda: nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU)
            ),
            sm_clock_mhz=_read(lambda: nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_SM)),
            memory_clock_mhz=_read(
                lambda: nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_MEM)
            ),
            max_sm_clock_mhz=_read(
                lambda: nvml.nvmlDeviceGetMaxClockInfo(handle, nvml.NVML_CLOCK_SM)
            ),
        )

    def _read_smi(self) -> Sensors:
        target = self.pci_bus_id or str(self.index)
        command = [
            "nvidia-smi",
            "--query-gpu=temperature.gpu,clocks.sm,clocks.mem,clocks.max.sm",
            "--format=csv,noheader,nounits",
            f"--id={target}",
        ]
        try:
            output = subprocess.run(
                command, capture_output=True, text=True, timeout=10, check=True
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return Sensors()
        fields = [field.strip() for field in output.strip().splitlines()[0].split(",")] + [""] * 4
        return Sensors(*(_float_or_none(text) for text in fields[:4]))


# -------------------------------------------------------------------------- environment


def collect_environment(xp: Any, device_index: int = 0) -> dict[str, Any]:
    """Facts about the array module and the device, as JSON-ready values (None: n/a)."""
    facts: dict[str, Any] = {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "array_module": describe_module(xp),
        "array_module_version": _read(lambda: xp.__version__),
    }
    if not is_cupy(xp):
        facts.update(
            device_index=None,
            device_name=f"host CPU ({platform.machine() or 'unknown'}), stand-in for a GPU",
        )
        return facts
    return facts | _cupy_facts(xp, device_index)


def _cupy_facts(cupy: Any, index: int) -> dict[str, Any]:
    runtime = cupy.cuda.runtime
    device = cupy.cuda.Device(index)
    properties = _read(lambda: runtime.getDeviceProperties(index)) or {}
    attributes = _read(lambda: device.attributes) or {}

    def prop(key: str) -> Any:
        return properties.get(key)

    def text(value: Any) -> str | None:
        return value.decode(errors="replace") if isinstance(value, bytes) else value

    free_total = _read(lambda: device.mem_info)
    clock_khz = prop("clockRate") or attributes.get("ClockRate")
    memory_clock_khz = prop("memoryClockRate") or attributes.get("MemoryClockRate")
    facts = {
        "cuda_runtime": cuda_version_text(_read(runtime.runtimeGetVersion)),
        "cuda_driver": cuda_version_text(_read(runtime.driverGetVersion)),
        "nvrtc": _read(lambda: ".".join(map(str, cupy.cuda.nvrtc.getVersion()))),
        "device_count": _read(runtime.getDeviceCount),
        "device_index": index,
        "device_name": text(prop("name")),
        "compute_capability": _read(
            lambda: f"{prop('major')}.{prop('minor')}" if prop("major") is not None else None
        ),
        "multiprocessors": prop("multiProcessorCount"),
        "memory_total_bytes": free_total[1] if free_total else prop("totalGlobalMem"),
        "memory_free_bytes": free_total[0] if free_total else None,
        "memory_bus_width_bits": prop("memoryBusWidth"),
        "l2_cache_bytes": prop("l2CacheSize"),
        "pci_bus_id": _read(lambda: device.pci_bus_id),
        "max_sm_clock_mhz": clock_khz / 1000 if clock_khz else None,
        "memory_clock_mhz": memory_clock_khz / 1000 if memory_clock_khz else None,
    }
    reader = SensorReader(facts["pci_bus_id"], index)
    reading = reader.read()
    facts["sensor_source"] = reader.source
    facts["temperature_c"] = reading.temperature_c
    facts["sm_clock_mhz"] = reading.sm_clock_mhz
    if reading.max_sm_clock_mhz is not None:
        facts["max_sm_clock_mhz"] = reading.max_sm_clock_mhz
    if reading.memory_clock_mhz is not None:
        facts["memory_clock_mhz"] = reading.memory_clock_mhz
    return facts
