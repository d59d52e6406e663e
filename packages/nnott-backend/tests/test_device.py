"""Switching devices, NNOTT_DEVICE, the no-CuPy error path, and the xp proxy."""

from __future__ import annotations

import subprocess
import sys
import types

import numpy
import pytest

from nnott import backend
from nnott.backend import device as device_module
from nnott.errors import ConfigError, GpuUnavailableError


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter, where the start device is chosen anew."""
    import os

    environment = {key: value for key, value in os.environ.items() if key != "NNOTT_DEVICE"}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, check=False
    )


def test_cpu_is_numpy() -> None:
    with backend.use_cpu():
        assert backend.current_device() == "cpu"
        assert not backend.is_gpu_enabled()
        assert backend.xp.zeros is numpy.zeros
        assert backend.active_module() is numpy


def test_use_device_as_context_manager_restores_the_previous_device() -> None:
    with backend.use_cpu():
        with backend.use_emulated():
            assert backend.current_device() == "emulated"
            assert backend.is_emulated()
        assert backend.current_device() == "cpu"


def test_use_device_without_with_switches_for_good() -> None:
    with backend.use_cpu():
        backend.use_emulated()
        assert backend.current_device() == "emulated"
    assert backend.current_device() != "emulated" or backend.is_emulated()


def test_unknown_device_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="unknown device 'tpu'"):
        backend.use_device("tpu")


@pytest.mark.parametrize("value, expected", [("cpu", "cpu"), ("emulated", "emulated"), ("", "cpu")])
def test_environment_variable_picks_the_start_device(value: str, expected: str) -> None:
    result = run_python(
        "from nnott.backend import current_device; print(current_device())", NNOTT_DEVICE=value
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_environment_variable_auto_falls_back_to_cpu_without_a_gpu() -> None:
    result = run_python(
        "from nnott.backend import current_device, gpu_available;"
        "print(current_device(), gpu_available())",
        NNOTT_DEVICE="auto",
    )
    device_name, available = result.stdout.split()
    assert device_name == ("gpu" if available == "True" else "cpu")


def test_bad_environment_variable_is_a_clear_error() -> None:
    result = run_python(
        "from nnott.backend import current_device; current_device()", NNOTT_DEVICE="quantum"
    )
    assert result.returncode != 0
    assert "NNOTT_DEVICE='quantum' is not a device" in result.stderr


def test_importing_never_fails_even_when_the_environment_asks_for_a_missing_gpu() -> None:
    result = run_python("import nnott.backend; print('imported')", NNOTT_DEVICE="gpu")
    assert result.returncode == 0
    assert result.stdout.strip() == "imported"


def test_probe_reports_cupy_not_installed() -> None:
    def missing() -> None:
        raise ImportError("No module named 'cupy'")

    reason = device_module.probe_gpu(missing)
    assert reason is not None and reason.startswith("CuPy is not installed")
    assert "nnott-backend[gpu]" in reason


def fake_cupy(error: Exception | None = None, count: int = 1) -> types.SimpleNamespace:
    def get_device_count() -> int:
        if error is not None:
            raise error
        return count

    runtime = types.SimpleNamespace(getDeviceCount=get_device_count)
    return types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=runtime))


@pytest.mark.parametrize(
    "error, expected",
    [
        (RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected"), "no CUDA device"),
        (
            RuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient"),
            "driver is too old",
        ),
        (RuntimeError("cudaErrorUnknown"), "CUDA could not start"),
    ],
)
def test_probe_names_each_cause(
    error: Exception, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(device_module, "_nvidia_driver_present", lambda: True)
    reason = device_module.probe_gpu(lambda: fake_cupy(error))
    assert reason is not None and expected in reason


def test_no_driver_at_all_is_not_called_an_old_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    # The CUDA runtime answers "driver version is insufficient" when there is no driver.
    monkeypatch.setattr(device_module, "_nvidia_driver_present", lambda: False)
    error = RuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient")
    reason = device_module.probe_gpu(lambda: fake_cupy(error))
    assert reason is not None and reason.startswith("no NVIDIA driver is installed")


def test_cupy_import_warnings_join_the_one_line_reason() -> None:
    import warnings

    def warning_cupy() -> types.SimpleNamespace:
        framed = "\n-----\n\n  CuPy may not function correctly because\n  two wheels\n-----\n"
        warnings.warn(framed, stacklevel=2)
        return fake_cupy(count=0)

    reason = device_module.probe_gpu(warning_cupy)
    assert reason is not None and "\n" not in reason
    assert reason.endswith("CuPy also warned: CuPy may not function correctly because two wheels")


def test_cupy_import_warnings_are_passed_on_in_one_line_when_the_gpu_works() -> None:
    import warnings

    def warning_cupy() -> types.SimpleNamespace:
        warnings.warn("a\nb", stacklevel=2)
        return fake_cupy(count=1)

    with pytest.warns(RuntimeWarning, match="^CuPy: a b$"):
        assert device_module.probe_gpu(warning_cupy) is None


def test_probe_with_zero_devices() -> None:
    reason = device_module.probe_gpu(lambda: fake_cupy(count=0))
    assert reason is not None and "no CUDA device" in reason


def test_probe_accepts_a_working_gpu() -> None:
    assert device_module.probe_gpu(lambda: fake_cupy(count=2)) is None


def test_use_gpu_raises_one_clear_error_naming_the_cause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        device_module, "gpu_unavailable_reason", lambda: "CuPy is not installed; install it"
    )
    with backend.use_cpu():
        with pytest.raises(GpuUnavailableError, match="cannot use the GPU: CuPy is not installed"):
            backend.use_gpu()
        assert backend.current_device() == "cpu"


def test_no_cupy_error_path_in_a_fresh_interpreter() -> None:
    code = (
        "import sys; sys.modules['cupy'] = None\n"
        "from nnott.backend import use_gpu, gpu_available\n"
        "print(gpu_available())\n"
        "try:\n    use_gpu()\nexcept Exception as e:\n    print(type(e).__name__, e)\n"
    )
    result = run_python(code)
    lines = result.stdout.splitlines()
    assert lines[0] == "False"
    assert lines[1].startswith("GpuUnavailableError cannot use the GPU: CuPy is not installed")


def test_get_array_module() -> None:
    host = numpy.ones(3)
    assert backend.get_array_module(host) is numpy
    assert backend.get_array_module() is numpy
    with backend.use_emulated():
        device_array = backend.to_device(host)
        assert backend.get_array_module(device_array) is backend.active_module()
        assert backend.get_array_module(host, device_array) is backend.active_module()


def test_proxy_forwards_to_the_active_module() -> None:
    with backend.use_cpu():
        assert isinstance(backend.xp.ones(2), numpy.ndarray)
    with backend.use_emulated():
        assert type(backend.xp.ones(2)).__name__ == "EmulatedArray"
    assert "zeros" in dir(backend.xp)
    assert "nnott xp proxy" in repr(backend.xp)


@pytest.mark.gpu
def test_gpu_arrays_are_cupy() -> None:
    import cupy

    with backend.use_gpu():
        assert backend.xp.ones(3).__class__ is cupy.ndarray
        assert backend.get_array_module(backend.xp.ones(3)) is cupy
