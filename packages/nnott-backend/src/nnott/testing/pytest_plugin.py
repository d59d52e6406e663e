"""pytest plugin: the ``gpu`` marker, a fail-fast GPU session, device isolation per test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from nnott.backend import device as device_state
from nnott.backend import mixing


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "gpu: needs a real CUDA device and CuPy (runs under nox -s tests-gpu)"
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    requested = os.environ.get(device_state.ENV_VARIABLE, "").strip().lower()
    if requested == "gpu" and not device_state.gpu_available():
        pytest.exit(
            f"NNOTT_DEVICE=gpu but the GPU cannot be used: "
            f"{device_state.gpu_unavailable_reason()}. Refusing to run GPU tests on the CPU.",
            returncode=3,
        )


def pytest_report_header(config: pytest.Config) -> str:
    name = device_state.current_device()
    strict = " (strict mode)" if mixing.is_strict() else ""
    return f"nnott device: {name}{strict}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = device_state.gpu_unavailable_reason()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=f"needs a GPU: {reason}")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _restore_device_and_strict_mode() -> Iterator[None]:
    """Whatever a test switches (device, strict mode) is switched back after it."""
    device_state.current_device()  # make sure the start device is chosen
    saved_device = (device_state._state.name, device_state._state.module)
    saved_strict = mixing.is_strict()
    yield
    device_state._state.name, device_state._state.module = saved_device
    mixing.set_strict(saved_strict)
