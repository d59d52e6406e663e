"""The environment report never crashes: what cannot be read is None, shown as "n/a"."""

from __future__ import annotations

import subprocess
import types
from typing import Any

import numpy
import pytest

from nnott.backend.emulated import emulated_module
from nnott.gpucheck import environment
from nnott.gpucheck.environment import (
    SensorReader,
    Sensors,
    collect_environment,
    cuda_version_text,
)
from nnott.gpucheck.precision import GemmPrecision
from nnott.gpucheck.report import Report, render_table


def test_cuda_versions_read_as_text() -> None:
    assert cuda_version_text(13000) == "13.0"
    assert cuda_version_text(12040) == "12.4"
    assert cuda_version_text(None) is None


def test_a_stand_in_names_itself() -> None:
    for module in (numpy, emulated_module):
        facts = collect_environment(module)
        assert facts["array_module"] in ("numpy", "emulated")
        assert "stand-in" in facts["device_name"]


def _unreadable(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("cudaErrorNotSupported: operation not supported")


class _UnreadableDevice:
    def __init__(self, index: int) -> None:
        self.index = index

    attributes = property(_unreadable)
    mem_info = property(_unreadable)
    pci_bus_id = property(_unreadable)


def test_unreadable_properties_show_as_not_available(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(environment.shutil, "which", lambda name: None)  # no nvidia-smi
    runtime = types.SimpleNamespace(
        getDeviceProperties=_unreadable,
        memGetInfo=_unreadable,
        runtimeGetVersion=_unreadable,
        driverGetVersion=_unreadable,
        getDeviceCount=_unreadable,
    )
    fake_cupy = types.SimpleNamespace(
        __name__="cupy",
        cuda=types.SimpleNamespace(
            runtime=runtime,
            Device=_UnreadableDevice,
            nvrtc=types.SimpleNamespace(getVersion=_unreadable),
        ),
    )
    facts = collect_environment(fake_cupy, 0)
    assert facts["array_module"] == "cupy" and facts["array_module_version"] is None
    for key in ("cuda_runtime", "cuda_driver", "device_name", "memory_total_bytes", "nvrtc"):
        assert facts[key] is None
    assert facts["sensor_source"] in ("n/a", "NVML")
    table = render_table(Report({}, facts, GemmPrecision("float32", False), checks=[]))
    assert "CUDA runtime                  n/a" in table
    assert "memory total                  n/a" in table


def test_nvidia_smi_readings_are_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_run(command: list[str], **kwargs: Any) -> Any:
        assert "--id=0000:41:00.0" in command
        return subprocess.CompletedProcess(command, 0, stdout="63, 1980, 2619, [N/A]\n")

    monkeypatch.setattr(environment.shutil, "which", lambda name: "/usr/bin/nvidia-smi")
    monkeypatch.setattr(environment.subprocess, "run", fake_run)
    monkeypatch.setattr(SensorReader, "_open_nvml", lambda self: False)
    reader = SensorReader("0000:41:00.0", 0)
    assert reader.source == "nvidia-smi"
    assert reader.read() == Sensors(63.0, 1980.0, 2619.0, None)


def test_no_sensor_source_reads_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(environment.shutil, "which", lambda name: None)
    monkeypatch.setattr(SensorReader, "_open_nvml", lambda self: False)
    reader = SensorReader(None, 0)
    assert reader.source == "n/a"
    assert reader.read() == Sensors()
