"""The report: a readable table for the terminal and a JSON document for machines.

The JSON report holds every figure and every check's verdict:

``tool``, ``version``, ``created`` (UTC, ISO 8601), ``arguments``, ``environment``,
``precision`` (dtype, tf32, epsilon), ``peaks`` (the published figures used, or null),
``checks`` (list of name, passed, max_error, tolerance, unit, detail), ``speed`` (list of
name, value, unit, peak, share_of_peak, detail), ``stress`` (or null), ``torch`` (or null),
``notes`` and ``summary`` (checks, failed names, passed, exit_status). Infinite or NaN
errors are written as the strings ``"inf"`` and ``"nan"``, since JSON has no such numbers.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
from collections.abc import Callable
from typing import Any

from nnott.gpucheck._version import __version__
from nnott.gpucheck.checks import CheckResult
from nnott.gpucheck.peaks import DevicePeaks
from nnott.gpucheck.precision import GemmPrecision
from nnott.gpucheck.speed import Measurement
from nnott.gpucheck.stress import StressResult
from nnott.gpucheck.torch_compare import TorchComparison

__all__ = ["DRIFT_WARNING_PERCENT", "Report", "json_ready", "no_gpu_report", "render_table"]

DRIFT_WARNING_PERCENT = -10.0
"""A stress run whose throughput falls by more than this is flagged as likely throttling."""


@dataclasses.dataclass
class Report:
    """Everything one run of nnott-gpucheck found."""

    arguments: dict[str, Any]
    environment: dict[str, Any]
    precision: GemmPrecision
    checks: list[CheckResult]
    peaks: DevicePeaks | None = None
    speed: list[Measurement] = dataclasses.field(default_factory=list)
    stress: StressResult | None = None
    torch: TorchComparison | None = None
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def all_checks(self) -> list[CheckResult]:
        """The correctness checks followed by the stress run's checks."""
        return self.checks + (self.stress.checks if self.stress else [])

    @property
    def failed(self) -> list[CheckResult]:
        return [check for check in self.all_checks if not check.passed]

    @property
    def exit_status(self) -> int:
        """0 when every check passed, 1 when any failed."""
        return 1 if self.failed else 0

    def to_dict(self) -> dict[str, Any]:
        """The machine report (see the module docstring), JSON-ready."""
        return json_ready(
            {
                **_header(),
                "arguments": self.arguments,
                "environment": self.environment,
                "precision": {
                    "dtype": self.precision.dtype,
                    "tf32": self.precision.tf32,
                    "epsilon": self.precision.epsilon,
                },
                "peaks": dataclasses.asdict(self.peaks) if self.peaks else None,
                "checks": [check.to_dict() for check in self.checks],
                "speed": [measurement.to_dict() for measurement in self.speed],
                "stress": self.stress.to_dict() if self.stress else None,
                "torch": self.torch.to_dict() if self.torch else None,
                "notes": self.notes,
                "summary": {
                    "checks": len(self.all_checks),
                    "failed": [check.name for check in self.failed],
                    "passed": not self.failed,
                    "exit_status": self.exit_status,
                },
            }
        )

    def to_json(self) -> str:
        return _json_text(self.to_dict())


def _header() -> dict[str, Any]:
    """The keys every report starts with: which tool, which version, when."""
    return {
        "tool": "nnott-gpucheck",
        "version": __version__,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def _json_text(document: dict[str, Any]) -> str:
    return json.dumps(json_ready(document), indent=2, ensure_ascii=False) + "\n"


def no_gpu_report(arguments: dict[str, Any], reason: str, exit_status: int) -> str:
    """The JSON report of a run that found no GPU to check, as :meth:`Report.to_json` lays
    it out: no checks, ``summary.passed`` false and ``summary.error`` saying why. A script
    that reads the report after every run then learns why this one checked nothing."""
    document = {
        **_header(),
        "arguments": arguments,
        "environment": None,
        "precision": None,
        "peaks": None,
        "checks": [],
        "speed": [],
        "stress": None,
        "torch": None,
        "notes": [reason],
        "summary": {
            "checks": 0,
            "failed": [],
            "passed": False,
            "exit_status": exit_status,
            "error": reason,
        },
    }
    return _json_text(document)


def json_ready(value: Any) -> Any:
    """``value`` with tuples as lists and non-finite floats as "inf", "-inf" or "nan"."""
    if isinstance(value, dict):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


# ----------------------------------------------------------------------------- the table


def _number(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    if abs(value) >= 10 ** (digits + 1) or abs(value) < 1e-3:
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}g}" if abs(value) < 10**digits else f"{value:.0f}"


def _bytes(value: float) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value:.0f} B"


ENVIRONMENT_ROWS: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("array_module", "array module", str),
    ("array_module_version", "array module version", str),
    ("cuda_runtime", "CUDA runtime", str),
    ("cuda_driver", "CUDA driver (supports up to)", str),
    ("nvrtc", "NVRTC", str),
    ("device_name", "device", str),
    ("device_index", "device index", str),
    ("device_count", "devices visible", str),
    ("compute_capability", "compute capability", str),
    ("multiprocessors", "multiprocessors", str),
    ("memory_total_bytes", "memory total", _bytes),
    ("memory_free_bytes", "memory free", _bytes),
    ("l2_cache_bytes", "L2 cache", _bytes),
    ("memory_bus_width_bits", "memory bus", lambda bits: f"{bits} bit"),
    ("pci_bus_id", "PCI bus id", str),
    ("sm_clock_mhz", "SM clock now", lambda mhz: f"{mhz:.0f} MHz"),
    ("max_sm_clock_mhz", "SM clock max", lambda mhz: f"{mhz:.0f} MHz"),
    ("memory_clock_mhz", "memory clock", lambda mhz: f"{mhz:.0f} MHz"),
    ("temperature_c", "temperature", lambda celsius: f"{celsius:.0f} °C"),
    ("sensor_source", "sensors read via", str),
    ("python", "Python", str),
    ("numpy", "NumPy (host reference)", str),
)


def _columns(rows: list[list[str]], indent: str = "  ") -> list[str]:
    """Rows of cells as left-aligned columns (the last column is not padded)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        padded = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append(indent + "  ".join([*padded, row[-1]]))
    return lines


def _environment_lines(report: Report) -> list[str]:
    rows = []
    for key, label, show in ENVIRONMENT_ROWS:
        if key in report.environment:
            value = report.environment[key]
            rows.append([label, "n/a" if value is None else show(value)])
    rows.append(["GEMM precision", report.precision.label])
    rows.append(["published peaks", report.peaks.model if report.peaks else "unknown"])
    return ["Environment", *_columns(rows)]


def _check_lines(checks: list[CheckResult], title: str) -> list[str]:
    rows = [["check", "result", "max error", "tolerance", "measured in", "detail"]]
    for check in checks:
        rows.append(
            [
                check.name,
                "pass" if check.passed else "FAIL",
                _number(check.max_error),
                _number(check.tolerance),
                check.unit or "-",
                check.detail,
            ]
        )
    return [title, *_columns(rows)]


def _speed_lines(report: Report) -> list[str]:
    rows = [["measurement", "value", "unit", "peak", "share", "detail"]]
    for item in report.speed:
        share = item.share_of_peak
        rows.append(
            [
                item.name,
                _number(item.value, 4),
                item.unit,
                _number(item.peak, 4) if item.peak else "unknown",
                f"{share * 100:.0f} %" if share is not None else "-",
                item.detail,
            ]
        )
    on_gpu = report.environment.get("array_module") == "cupy"
    clock = "CUDA events" if on_gpu else "perf_counter on the host stand-in"
    return [f"Speed (timed with {clock})", *_columns(rows)]


def _range(values: list[float], unit: str) -> str:
    if not values:
        return "n/a"
    spread = f"{min(values):.0f}–{max(values):.0f} {unit}"
    return f"{spread} (first {values[0]:.0f}, last {values[-1]:.0f})"


def _stress_lines(stress: StressResult) -> list[str]:
    windows = " ".join(_number(value, 4) for value in stress.window_tflops) or "n/a"
    drift = f"{stress.drift_percent:+.1f} %" if stress.drift_percent is not None else "n/a"
    rows = [
        [
            "run",
            f"{stress.seconds_run:.1f} s of {stress.seconds_requested:g} s requested"
            + (" (interrupted)" if stress.interrupted else ""),
        ],
        ["iterations", str(stress.iterations)],
        ["mean throughput", f"{_number(stress.mean_tflops, 4)} TFLOP/s"],
        ["throughput by tenth", f"{windows} TFLOP/s"],
        ["drift first→last", drift],
        ["temperature", _range(stress.temperature_c, "°C")],
        ["SM clock", _range(stress.sm_clock_mhz, "MHz")],
    ]
    lines = [f"Stress: GEMM {stress.size}³ {stress.precision}", *_columns(rows)]
    if stress.drift_percent is not None and stress.drift_percent < DRIFT_WARNING_PERCENT:
        lines.append(
            f"  warning: throughput fell {-stress.drift_percent:.0f} % during the run; the GPU "
            "is probably throttling (check its temperature, cooling and power limit)"
        )
    return [*lines, *_check_lines(stress.checks, "Stress checks")[1:]]


def _summary_line(report: Report) -> str:
    total = len(report.all_checks)
    if not report.failed:
        return f"Result: all {total} checks passed."
    reasons = []
    for check in report.failed:
        if check.max_error is None:
            reasons.append(f"{check.name} ({check.detail})")
        else:
            reasons.append(
                f"{check.name} (max error {_number(check.max_error)} > tolerance "
                f"{_number(check.tolerance)} {check.unit})"
            )
    return f"Result: {len(report.failed)} of {total} checks FAILED: " + "; ".join(reasons)


def render_table(report: Report) -> str:
    """The whole report as text for the terminal."""
    title = f"nnott-gpucheck {__version__}: {report.environment.get('device_name') or 'n/a'}"
    sections = [[title], _environment_lines(report)]
    sections.append(_check_lines(report.checks, "Correctness (against NumPy float64 on the host)"))
    if report.speed:
        sections.append(_speed_lines(report))
    if report.stress:
        sections.append(_stress_lines(report.stress))
    if report.torch:
        torch = report.torch
        if torch.tflops is None:
            sections.append([f"PyTorch comparison: {torch.note}"])
        else:
            module = report.environment.get("array_module", "the array module")
            ratio = f"; {module} reached {torch.ratio * 100:.0f} % of it" if torch.ratio else ""
            sections.append(
                [f"PyTorch GEMM: {_number(torch.tflops, 4)} TFLOP/s ({torch.note}){ratio}"]
            )
    if report.notes:
        sections.append(["Notes", *(f"  {note}" for note in report.notes)])
    sections.append([_summary_line(report)])
    return "\n\n".join("\n".join(lines) for lines in sections) + "\n"
