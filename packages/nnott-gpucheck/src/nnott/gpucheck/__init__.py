"""nnott-gpucheck: is the GPU, its driver and CuPy healthy, and how fast is the GPU really?

Run ``nnott-gpucheck`` (or ``python -m nnott.gpucheck``). The pieces are usable on their
own, and every check takes the array module to test, so NumPy can stand in for CuPy:

>>> import numpy
>>> from nnott.gpucheck import GemmPrecision, run_correctness_checks
>>> results = run_correctness_checks(numpy, GemmPrecision("float32", tf32=False),
...                                  numpy.random.default_rng(0))
>>> all(result.passed for result in results)
True
"""

from nnott.gpucheck._version import __version__
from nnott.gpucheck.checks import CheckResult, run_correctness_checks
from nnott.gpucheck.cli import main
from nnott.gpucheck.environment import SensorReader, Sensors, collect_environment
from nnott.gpucheck.kernels import make_kernels
from nnott.gpucheck.peaks import DevicePeaks, find_peaks
from nnott.gpucheck.precision import GemmPrecision, configure_gemm_precision
from nnott.gpucheck.report import Report, render_table
from nnott.gpucheck.speed import Measurement, measure_speed
from nnott.gpucheck.stress import StressResult, run_stress
from nnott.gpucheck.torch_compare import TorchComparison, compare_with_torch

__all__ = [
    "CheckResult",
    "DevicePeaks",
    "GemmPrecision",
    "Measurement",
    "Report",
    "SensorReader",
    "Sensors",
    "StressResult",
    "TorchComparison",
    "__version__",
    "collect_environment",
    "compare_with_torch",
    "configure_gemm_precision",
    "find_peaks",
    "main",
    "make_kernels",
    "measure_speed",
    "render_table",
    "run_correctness_checks",
    "run_stress",
]
