"""Shared fixtures: the array module under test and a seeded host generator.

The checks take the array module they test: the active nnott device's module. That is NumPy
under ``NNOTT_DEVICE=cpu``, the host-emulated device (CuPy's manners on NumPy) under
``NNOTT_DEVICE=emulated``, and CuPy itself under ``NNOTT_DEVICE=gpu`` (``nox -s tests-gpu``),
where the same tests then exercise the real kernels.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import numpy
import pytest

from nnott.backend import active_module, gpu_available
from nnott.gpucheck import speed
from nnott.gpucheck.precision import configure_gemm_precision


@pytest.fixture
def xp() -> Any:
    return active_module()


@pytest.fixture
def rng() -> numpy.random.Generator:
    return numpy.random.default_rng(1234)


@pytest.fixture(autouse=True)
def _full_float32_matmuls_after_each_test() -> Iterator[None]:
    """CuPy's TF32 switch is process-wide: a test that turns it on must not leak it."""
    yield
    cupy = sys.modules.get("cupy")
    if cupy is not None and gpu_available():
        configure_gemm_precision(cupy, "float32", want_tf32=False)


@pytest.fixture
def fast_timing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Time each speed figure over a few calls only: these tests check shapes, not speed."""
    monkeypatch.setattr(speed, "TARGET_SECONDS", 0.0)
    monkeypatch.setattr(speed, "MIN_REPEATS", 1)


class Perturbed:
    """An array module that forwards to ``base`` except for the functions given.

    It stands for a broken GPU or library: the checks must notice and fail.
    """

    def __init__(self, base: Any, **overrides: Any) -> None:
        self._base = base
        self._overrides = overrides
        self.__name__ = f"perturbed {getattr(base, '__name__', 'module')}"

    def __getattr__(self, name: str) -> Any:
        if name in self._overrides:
            return self._overrides[name]
        return getattr(self._base, name)
