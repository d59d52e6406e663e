"""The ``nnott-gpucheck`` command: is the GPU, its driver and CuPy healthy, and how fast?

Exit status: 0 every check passed; 1 a check failed (the report says which and by how much);
2 no usable GPU or CuPy (one line says which: CuPy not installed, no device, driver too old);
3 bad arguments. Errors are one line on stderr, ``nnott-gpucheck: error: ...``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, NoReturn, TextIO

from nnott.backend import derive_rng
from nnott.backend import device as backend_device
from nnott.checkpoint import write_bytes_atomic
from nnott.cli import output_file
from nnott.gpucheck._version import __version__
from nnott.gpucheck.arrays import is_cupy
from nnott.gpucheck.checks import failure, run_correctness_checks
from nnott.gpucheck.environment import SensorReader, Sensors, collect_environment
from nnott.gpucheck.peaks import find_peaks
from nnott.gpucheck.precision import DTYPES, configure_gemm_precision
from nnott.gpucheck.report import Report, no_gpu_report, render_table
from nnott.gpucheck.speed import measure_speed
from nnott.gpucheck.stress import StressProgress, run_stress
from nnott.gpucheck.torch_compare import TorchComparison, compare_with_torch

__all__ = ["EXIT_BAD_ARGUMENTS", "EXIT_CHECK_FAILED", "EXIT_NO_GPU", "EXIT_OK", "main"]

PROG = "nnott-gpucheck"
EXIT_OK, EXIT_CHECK_FAILED, EXIT_NO_GPU, EXIT_BAD_ARGUMENTS = 0, 1, 2, 3
RNG_STREAM = 0x6C7  # the gpucheck's own reproducible host random stream
STRESS_ARRAYS = 6  # A, B, C, the first C, and the comparison's temporaries, roughly


class UsageError(Exception):
    """Arguments that cannot work (exit status 3)."""


class NoGpuError(Exception):
    """No usable GPU or CuPy (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error exits with status 3 in nnott-gpucheck's one-line style."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _report_path(text: str) -> str:
    """``--json``'s path, checked before the run (see :func:`nnott.cli.output_file`)."""
    return str(output_file(text))


def _positive_int(text: str) -> int:
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text}")
    return value


def _non_negative_int(text: str) -> int:
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def _non_negative_seconds(text: str) -> float:
    value = _number(text, float)
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds ≥ 0, not {text}")
    return value


def _number(text: str, kind: type) -> Any:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description=(
            "Check that the GPU, its driver and CuPy work, and measure how fast the GPU is: "
            "environment report, correctness against NumPy, speed, and a GEMM stress loop."
        ),
        epilog="Exit status: 0 all passed, 1 a check failed, 2 no usable GPU, 3 bad arguments.",
    )
    parser.add_argument(
        "--stress-seconds",
        type=_non_negative_seconds,
        default=10.0,
        metavar="S",
        help="length of the GEMM stress loop (default 10; 0 skips)",
    )
    parser.add_argument(
        "--stress-size",
        type=_positive_int,
        default=4096,
        metavar="N",
        help="N×N matrices for the speed and stress GEMMs (default 4096)",
    )
    parser.add_argument(
        "--dtype",
        choices=DTYPES,
        default="float32",
        help="dtype of the matrix products (default float32, with TF32 where the device has it)",
    )
    parser.add_argument(
        "--no-tf32",
        action="store_true",
        help="run float32 matrix products in full float32, not TF32",
    )
    parser.add_argument(
        "--device",
        type=_non_negative_int,
        default=0,
        metavar="N",
        help="CUDA device number (default 0)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="environment and correctness checks only: no speed, no stress",
    )
    parser.add_argument(
        "--transfer-mib",
        type=_positive_int,
        default=256,
        metavar="MIB",
        help="buffer size for the bandwidth measurements (default 256)",
    )
    parser.add_argument(
        "--compare-torch",
        action="store_true",
        help="also time torch.matmul at the same size and dtype",
    )
    parser.add_argument(
        "--json",
        nargs="?",
        const="-",
        type=_report_path,
        metavar="PATH",
        help="write the machine report to PATH; without PATH (or with -) "
        "print it on stdout and the table on stderr",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


# ------------------------------------------------------------------------ opening the GPU


def open_gpu(device_index: int) -> Any:
    """CuPy with ``device_index`` made current; NoGpuError or UsageError say why not."""
    reason = backend_device.gpu_unavailable_reason()
    if reason is not None:
        raise NoGpuError(f"no usable GPU: {reason}")
    import cupy

    count = cupy.cuda.runtime.getDeviceCount()
    if device_index >= count:
        raise UsageError(
            f"--device {device_index}: this machine has {count} CUDA device(s), "
            f"numbered 0 to {count - 1}"
        )
    try:
        cupy.cuda.Device(device_index).use()
        # Creates the CUDA context, the first place a driver can fail. A memset compiles
        # nothing, so a broken NVRTC shows up later as failed checks, not as "no GPU".
        cupy.zeros(1)
        cupy.cuda.Device(device_index).synchronize()
    except Exception as error:
        raise NoGpuError(f"no usable GPU: CUDA failed on device {device_index}: {error}") from None
    return cupy


def _check_memory(options: argparse.Namespace, environment: dict[str, Any]) -> None:
    free = environment.get("memory_free_bytes")
    if options.quick or not free:
        return
    itemsize = {"float16": 2, "float32": 4, "float64": 8}[options.dtype]
    needed = STRESS_ARRAYS * options.stress_size**2 * itemsize
    if needed > 0.9 * free:
        raise UsageError(
            f"--stress-size {options.stress_size} needs about {needed / 2**30:.1f} GiB of GPU "
            f"memory and {free / 2**30:.1f} GiB are free; choose a smaller size"
        )
    if 3 * options.transfer_mib * 2**20 > 0.9 * free:
        raise UsageError(f"--transfer-mib {options.transfer_mib} does not fit in free memory")


# --------------------------------------------------------------------------- the run


class _ProgressLine:
    """The live stress line: rewritten in place on a terminal, a line every 2 s otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.interactive = stream.isatty()
        self._last_line = -1e9
        self._width = 0

    def show(self, progress: StressProgress) -> None:
        sensors = progress.sensors
        parts = [
            f"stress {progress.elapsed:5.1f}/{progress.seconds:g} s",
            f"{progress.iterations} iterations",
            f"{progress.tflops:.1f} TFLOP/s" if progress.tflops else "… TFLOP/s",
            f"{progress.mismatched_elements} mismatches",
        ]
        if sensors.temperature_c is not None:
            parts.append(f"{sensors.temperature_c:.0f} °C")
        if sensors.sm_clock_mhz is not None:
            parts.append(f"{sensors.sm_clock_mhz:.0f} MHz")
        text = "  ".join(parts)
        if self.interactive:
            self._width = max(self._width, len(text))
            self.stream.write("\r" + text.ljust(self._width))
        elif progress.elapsed - self._last_line >= 2.0:
            self.stream.write(text + "\n")
            self._last_line = progress.elapsed
        self.stream.flush()

    def close(self) -> None:
        if self.interactive and self._width:
            self.stream.write("\n")
            self.stream.flush()


def _say(stream: TextIO, text: str) -> None:
    if stream.isatty():
        stream.write(text + "\n")
        stream.flush()


def run_gpucheck(xp: Any, options: argparse.Namespace, status: TextIO) -> Report:
    """Everything the command does, against the array module ``xp``; returns the report."""
    rng = derive_rng(RNG_STREAM)
    environment = collect_environment(xp, options.device)
    _check_memory(options, environment)
    precision = configure_gemm_precision(xp, options.dtype, want_tf32=not options.no_tf32)
    peaks = find_peaks(environment.get("device_name")) if is_cupy(xp) else None
    report = Report(
        arguments=dict(vars(options)),
        environment=environment,
        precision=precision,
        checks=[],
        peaks=peaks,
    )
    wanted_tf32 = options.dtype == "float32" and not options.no_tf32
    if is_cupy(xp) and wanted_tf32 and not precision.tf32:
        report.notes.append("TF32 is not available here: float32 products run in float32")
    if not is_cupy(xp):
        report.notes.append(f"{environment['array_module']} stands in for the GPU: no CUDA ran")

    _say(status, "checking correctness ...")
    report.checks = run_correctness_checks(xp, precision, rng)
    if options.quick:
        report.notes.append("--quick: speed and stress were skipped")
        return report

    _say(status, "measuring speed ...")
    report.speed, failures = measure_speed(
        xp, options.stress_size, precision, options.transfer_mib * 2**20, rng, peaks
    )
    report.checks += failures
    _free_device_memory(xp)
    if options.stress_seconds > 0:
        bus_id = environment.get("pci_bus_id")
        reader = SensorReader(bus_id, options.device) if is_cupy(xp) else None
        line = _ProgressLine(status)
        try:
            report.stress = run_stress(
                xp,
                options.stress_size,
                precision,
                options.stress_seconds,
                rng,
                read_sensors=reader.read if reader else Sensors,
                on_progress=line.show,
            )
        except Exception as error:  # out of memory, a CUDA fault: a finding, not a crash
            report.checks.append(failure("stress", error))
        finally:
            line.close()
        _free_device_memory(xp)
    if options.compare_torch:
        gemm = next((m.value for m in report.speed if m.name.startswith("GEMM")), None)
        try:
            report.torch = compare_with_torch(
                options.stress_size,
                options.dtype,
                precision.tf32,
                our_tflops=gemm,
                on_gpu=is_cupy(xp),
                device_index=options.device,
            )
        except Exception as error:  # PyTorch's own CUDA trouble is not the GPU's verdict
            report.torch = TorchComparison(None, None, f"PyTorch failed: {error}")
    return report


def _free_device_memory(xp: Any) -> None:
    if is_cupy(xp):
        xp.get_default_memory_pool().free_all_blocks()


def _write_json(text: str, target: str) -> None:
    if target == "-":
        sys.stdout.write(text)
        return
    try:
        write_bytes_atomic(target, text.encode("utf-8"))
    except OSError as error:
        raise UsageError(f"--json {target}: cannot write the report ({error.strerror})") from None


def _report_no_gpu(options: argparse.Namespace | None, error: NoGpuError) -> int:
    """Write the report ``--json`` asked for, saying there is no GPU; returns the exit status:
    :data:`EXIT_NO_GPU`, or :data:`EXIT_BAD_ARGUMENTS` with one more line when that report
    cannot be written (a full disk, ``/dev/full``)."""
    if options is None or options.json is None:
        return EXIT_NO_GPU
    try:
        _write_json(no_gpu_report(dict(vars(options)), str(error), EXIT_NO_GPU), options.json)
    except UsageError as write_error:
        print(f"{PROG}: error: {write_error}", file=sys.stderr)
        return EXIT_BAD_ARGUMENTS
    return EXIT_NO_GPU


def main(argv: Sequence[str] | None = None, *, array_module: Any = None) -> int:
    """Run the command; returns the exit status.

    ``array_module`` replaces CuPy (NumPy or the emulated device in tests): then the whole
    command runs on the host and no GPU is needed.
    """
    options = None
    try:
        options = build_parser().parse_args(argv)
        xp = array_module if array_module is not None else open_gpu(options.device)
        table_stream = sys.stderr if options.json == "-" else sys.stdout
        report = run_gpucheck(xp, options, status=sys.stderr)
        table_stream.write(render_table(report))
        if options.json is not None:
            _write_json(report.to_json(), options.json)
    except UsageError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return EXIT_BAD_ARGUMENTS
    except NoGpuError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return _report_no_gpu(options, error)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    return report.exit_status
