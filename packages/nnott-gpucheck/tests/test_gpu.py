"""On a real GPU (``nox -s tests-gpu``): the whole command, quick and with a short stress."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import numpy
import pytest

from nnott.gpucheck.checks import check_matmul, run_correctness_checks
from nnott.gpucheck.precision import GemmPrecision, configure_gemm_precision

pytestmark = pytest.mark.gpu


def _gpucheck(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nnott.gpucheck", *arguments],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_every_check_passes_on_cupy() -> None:
    import cupy

    precision = configure_gemm_precision(cupy, "float32", want_tf32=True)
    results = run_correctness_checks(cupy, precision, numpy.random.default_rng(0))
    assert [r for r in results if not r.passed] == []
    for dtype in ("float16", "float64"):
        result = check_matmul(cupy, numpy.random.default_rng(1), GemmPrecision(dtype, False))
        assert result.passed, result


def test_the_quick_command(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "quick.json"
    finished = _gpucheck("--quick", "--json", str(path))
    assert finished.returncode == 0, finished.stdout + finished.stderr
    report = json.loads(path.read_text(encoding="utf-8"))
    assert report["environment"]["array_module"] == "cupy"
    assert report["environment"]["device_name"]
    assert report["stress"] is None and report["summary"]["passed"]


def test_the_command_with_a_short_stress(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "stress.json"
    finished = _gpucheck(
        "--stress-seconds", "2", "--stress-size", "1024", "--transfer-mib", "64",
        "--json", str(path),
    )  # fmt: skip
    assert finished.returncode == 0, finished.stdout + finished.stderr
    report = json.loads(path.read_text(encoding="utf-8"))
    assert all(figure["value"] > 0 for figure in report["speed"])
    assert report["stress"]["iterations"] > 0
    assert report["stress"]["mismatched_elements"] == 0
