"""The command: argument errors (exit 3), no GPU (exit 2), a full run and its JSON report."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import types
from typing import Any

import pytest
from conftest import Perturbed

from nnott.backend import device as backend_device
from nnott.gpucheck import cli
from nnott.gpucheck.cli import main

SMALL = ["--stress-size", "24", "--transfer-mib", "1", "--stress-seconds", "0.2"]


@pytest.mark.parametrize(
    "arguments",
    [
        ["--dtype", "int8"],
        ["--stress-seconds", "-1"],
        ["--stress-seconds", "nan"],
        ["--stress-size", "0"],
        ["--stress-size", "big"],
        ["--device", "-2"],
        ["--transfer-mib", "0"],
        ["--frobnicate"],
    ],
)
def test_bad_arguments_exit_3_with_one_line(
    arguments: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(arguments) == 3
    err = capsys.readouterr().err
    assert err.startswith("nnott-gpucheck: error: ")
    assert err.count("\n") == 1


def _fake_cupy_importer(count: Any) -> Any:
    """A stand-in for ``import cupy`` whose device count is ``count`` (or raises it)."""

    def get_device_count() -> int:
        if isinstance(count, Exception):
            raise count
        return count

    module = types.SimpleNamespace(
        cuda=types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=get_device_count))
    )
    return lambda: module


def _not_installed() -> Any:
    raise ImportError("No module named 'cupy'")


@pytest.mark.parametrize(
    ("importer", "words"),
    [
        (_not_installed, "CuPy is not installed"),
        (_fake_cupy_importer(0), "no CUDA device"),
        (
            _fake_cupy_importer(
                RuntimeError(
                    "cudaErrorInsufficientDriver: CUDA driver version is insufficient for "
                    "CUDA runtime version"
                )
            ),
            "driver is too old",
        ),
    ],
)
def test_no_usable_gpu_exits_2_with_one_line_naming_the_cause(
    importer: Any,
    words: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(backend_device, "_nvidia_driver_present", lambda: True)  # an old one
    reason = backend_device.probe_gpu(importer)
    monkeypatch.setattr(backend_device, "gpu_unavailable_reason", lambda: reason)
    assert main(["--quick"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nnott-gpucheck: error: no usable GPU: ")
    assert words in err and err.count("\n") == 1


def _run_module(*arguments: str) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run(
        [sys.executable, "-m", "nnott.gpucheck", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
    )


def test_the_module_rejects_bad_arguments_without_a_traceback() -> None:
    finished = _run_module("--stress-size", "-5")
    assert finished.returncode == 3
    assert finished.stderr.count("\n") == 1 and "Traceback" not in finished.stderr


@pytest.mark.skipif(backend_device.gpu_available(), reason="this machine has a usable GPU")
def test_the_module_without_a_gpu_exits_2_without_a_traceback() -> None:
    finished = _run_module("--quick")
    assert finished.returncode == 2
    assert finished.stdout == ""
    assert finished.stderr.startswith("nnott-gpucheck: error: no usable GPU: ")
    assert finished.stderr.count("\n") == 1 and "Traceback" not in finished.stderr


def test_a_full_run_writes_a_json_report_with_every_figure(
    xp: Any, tmp_path: pathlib.Path, fast_timing: None, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "report.json"
    assert main([*SMALL, "--compare-torch", "--json", str(path)], array_module=xp) == 0
    table = capsys.readouterr().out
    for heading in ("Environment", "Correctness", "Speed", "Stress: GEMM 24³", "Result: all"):
        assert heading in table

    report = json.loads(path.read_text(encoding="utf-8"))
    assert report["tool"] == "nnott-gpucheck"
    assert set(report) >= {
        "version", "created", "arguments", "environment", "precision", "peaks", "checks",
        "speed", "stress", "torch", "notes", "summary",
    }  # fmt: skip
    assert report["arguments"]["stress_size"] == 24
    precision = report["precision"]
    assert precision["dtype"] == "float32"
    assert precision["epsilon"] == (2.0**-10 if precision["tf32"] else 2.0**-23)
    for check in report["checks"]:
        assert set(check) == {"name", "passed", "max_error", "tolerance", "unit", "detail"}
        assert check["passed"] is True
    for figure in report["speed"]:
        assert set(figure) == {"name", "value", "unit", "peak", "share_of_peak", "detail"}
    stress = report["stress"]
    assert stress["iterations"] >= 1 and stress["mismatched_elements"] == 0
    assert [c["name"] for c in stress["checks"]] == [
        "stress: first result vs host",
        "stress: results identical",
    ]
    assert set(report["torch"]) == {"tflops", "ratio", "note"}
    summary = report["summary"]
    assert summary["passed"] is True and summary["exit_status"] == 0 and summary["failed"] == []
    assert summary["checks"] == len(report["checks"]) + len(stress["checks"])


def test_json_without_a_path_goes_to_stdout_and_the_table_to_stderr(
    xp: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--quick", "--json"], array_module=xp) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["speed"] == [] and report["stress"] is None
    assert any("--quick" in note for note in report["notes"])
    assert "Correctness" in captured.err


def test_a_failed_check_exits_1_and_the_report_says_which(
    xp: Any, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = Perturbed(xp, tanh=lambda x: xp.tanh(x) + 0.01)
    path = tmp_path / "report.json"
    assert main(["--quick", "--json", str(path)], array_module=broken) == 1
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert summary.startswith("Result: 1 of ") and "FAILED: elementwise tanh (max error" in summary
    report = json.loads(path.read_text(encoding="utf-8"))
    assert report["summary"]["failed"] == ["elementwise tanh"]
    assert report["summary"]["exit_status"] == 1


def test_an_unwritable_json_path_is_a_usage_error_before_the_run(
    xp: Any, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    for target, why in (
        (tmp_path / "a-file" / "report.json", "is a file, not a directory"),
        (tmp_path, "is a directory"),
    ):
        assert main(["--quick", "--json", str(target)], array_module=xp) == 3
        err = capsys.readouterr().err
        assert why in err
        assert "correctness" not in err.lower()  # refused before any check ran


def test_the_report_goes_into_a_new_folder(xp: Any, tmp_path: pathlib.Path) -> None:
    target = tmp_path / "new-folder" / "report.json"
    assert main(["--quick", "--json", str(target)], array_module=xp) == 0
    assert json.loads(target.read_text())["summary"]["passed"] is True


def test_without_a_gpu_the_report_says_why(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli.backend_device, "gpu_unavailable_reason", lambda: "no GPU here")
    target = tmp_path / "report.json"
    assert main(["--quick", "--json", str(target)]) == cli.EXIT_NO_GPU
    summary = json.loads(target.read_text())["summary"]
    assert summary == {
        "checks": 0,
        "failed": [],
        "passed": False,
        "exit_status": cli.EXIT_NO_GPU,
        "error": "no usable GPU: no GPU here",
    }


@pytest.mark.skipif(not pathlib.Path("/dev/full").exists(), reason="needs /dev/full")
def test_without_a_gpu_a_report_that_cannot_be_written_is_one_more_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The failed write of the no-GPU report escaped as a UsageError traceback."""
    monkeypatch.setattr(cli.backend_device, "gpu_unavailable_reason", lambda: "no GPU here")
    assert main(["--quick", "--json", "/dev/full"]) == cli.EXIT_BAD_ARGUMENTS
    assert capsys.readouterr().err.splitlines() == [
        "nnott-gpucheck: error: no usable GPU: no GPU here",
        "nnott-gpucheck: error: --json /dev/full: cannot write the report "
        "(No space left on device)",
    ]


def test_a_json_path_the_file_system_refuses_is_a_usage_error(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A name too long raised a bare OSError out of the argument parser."""
    assert main(["--quick", "--json", str(tmp_path / ("x" * 300))]) == cli.EXIT_BAD_ARGUMENTS
    err = capsys.readouterr().err
    assert "Traceback" not in err and "File name too long" in err
    assert len(err.strip().splitlines()) == 1


def test_a_stress_size_beyond_free_memory_is_a_usage_error() -> None:
    options = cli.build_parser().parse_args(["--stress-size", "100000"])
    with pytest.raises(cli.UsageError, match=r"needs about .* GiB"):
        cli._check_memory(options, {"memory_free_bytes": 8 * 2**30})
    cli._check_memory(options, {"memory_free_bytes": None})  # unknown: not refused


def test_a_stress_run_that_raises_is_a_failed_check(
    xp: Any, fast_timing: None, capsys: pytest.CaptureFixture[str]
) -> None:
    def device_fault(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("cudaErrorIllegalAddress: an illegal memory access was encountered")

    broken = Perturbed(xp, count_nonzero=device_fault)  # used by the stress loop only
    assert main(SMALL, array_module=broken) == 1
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert "FAILED: stress (raised RuntimeError: cudaErrorIllegalAddress" in summary


def test_compare_torch_without_torch_is_skipped_with_a_note(
    xp: Any, fast_timing: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    arguments = ["--stress-seconds", "0", "--stress-size", "16", "--transfer-mib", "1"]
    assert main([*arguments, "--compare-torch", "--json"], array_module=xp) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["torch"]["tflops"] is None
    assert report["torch"]["note"] == "skipped: PyTorch is not installed"
    assert report["stress"] is None


def test_the_console_script_imports_nothing_heavy_before_ctrl_c_is_answered():
    """nnott-gpucheck's console script imports the command line inside nnott.launcher's guard."""
    from nnott.testing.scripts import console_script_target, heavy_imports_of

    assert console_script_target("nnott-gpucheck") == "nnott._gpucheck_script:main"
    assert heavy_imports_of("nnott._gpucheck_script") == []
