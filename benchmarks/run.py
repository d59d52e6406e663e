"""nnott's benchmark: throughput of each tier against PyTorch, convolution rates, memory
and accuracy, measured in one process run. ``nox -s bench`` runs it::

    python benchmarks/run.py --out bench-results            # the full run (16-48 min, 2 cores)
    python benchmarks/run.py --out bench-results --quick    # about a minute, no accuracy
    python benchmarks/run.py --out DIR --only mlp,conv      # some sections only
    python benchmarks/run.py --out DIR --profile resnet18   # per-layer timing table
    python benchmarks/run.py --out DIR --update-docs        # also copy into docs/results/

Sections: ``mlp`` (scalar vs vectorized, vectorized vs PyTorch), ``cnn`` (lenet and
resnet18 vs PyTorch), ``conv`` (each convolution vs the GEMM roof), ``memory`` (one ResNet18
step), ``accuracy`` (MLP 10 epochs, lenet and baseline on the full Fashion-MNIST) and
``gallery`` (a two-epoch smoke run of every other architecture, for the docs' gallery).

It prints the tables and writes ``DIR/results.json`` (the format the docs read, see
:mod:`report`). Speed is measured here and never asserted by tests; nothing here fails
because a target is missed -- the targets table says so.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DOCS_RESULTS = ROOT / "docs" / "results"
if str(HERE) not in sys.path:  # the sibling modules, when run from elsewhere
    sys.path.insert(0, str(HERE))

# NumPy (and with it BLAS) is imported only once the arguments are read, so that --threads
# can still choose the BLAS thread count through the environment.

SECTIONS = ("mlp", "cnn", "conv", "memory", "accuracy", "gallery")
QUICK_SECTIONS = ("mlp", "cnn", "conv", "memory")
DATASET_SECTIONS = ("accuracy", "gallery")  # the sections that train on the full dataset
DATASET = "fashion-mnist"
CNN_EPOCHS = {"lenet": 10, "baseline": 5}  # full-data epochs of the accuracy targets
GALLERY_BUDGET = (2, 4000, 2000)  # epochs, training and test images of each gallery run


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py",
        description="Benchmark nnott against PyTorch in one process run.",
    )
    parser.add_argument("--out", type=Path, required=True, help="directory for results.json")
    parser.add_argument(
        "--only",
        type=lambda text: [part.strip() for part in text.split(",") if part.strip()],
        default=None,
        help=f"comma-separated sections to run: {', '.join(SECTIONS)} (default: all; "
        f"with --quick: {', '.join(QUICK_SECTIONS)})",
    )
    parser.add_argument(
        "--quick", action="store_true", help="few repeats and no accuracy runs (about a minute)"
    )
    parser.add_argument(
        "--device",
        choices=("cpu", "gpu", "emulated"),
        default="cpu",
        help="where nnott (and PyTorch, on CUDA for gpu) runs (default: cpu)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="BLAS and PyTorch threads (default: the cores this process may use); on a "
        "machine shared with other work, fewer threads than cores avoid BLAS spin-waits",
    )
    parser.add_argument(
        "--profile",
        metavar="ARCH",
        action="append",
        default=[],
        help="add a per-layer timing table of ARCH, a registered architecture or 'mlp' "
        "(repeatable; --only '' --profile ARCH profiles alone)",
    )
    parser.add_argument(
        "--update-docs",
        action="store_true",
        help=f"copy the results to {DOCS_RESULTS.relative_to(ROOT)}/benchmarks.json "
        "(benchmarks-gpu.json for --device gpu)",
    )
    args = parser.parse_args(argv)
    default = QUICK_SECTIONS if args.quick else SECTIONS
    args.only = list(default) if args.only is None else args.only
    unknown = sorted(set(args.only) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be at least 1, not {args.threads}")
    return args


def set_thread_environment(threads: int) -> None:
    """Ask OpenBLAS, OpenMP and MKL for ``threads`` threads (before NumPy is imported)."""
    if "numpy" in sys.modules:
        raise RuntimeError("--threads must be applied before NumPy is imported")
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(threads)


def check_dataset(sections: list[str]) -> None:
    """Find (or download) the full dataset now when a chosen section trains on it.

    The accuracy and gallery sections run last, after half an hour of timing on a slow
    machine; a missing dataset must stop the run before that, not after. Raises the
    loader's :class:`nnott.errors.NnottError` (a one-line reason) when it cannot be had.
    """
    if set(sections) & set(DATASET_SECTIONS):
        from nnott.data import load

        load(DATASET)


def save_partial(report: Any, out: Path, finished: list[str], failure: str) -> Path | None:
    """Write the sections that finished before ``failure`` to ``out/results-partial.json``.

    A separate file, so that a complete ``results.json`` from an earlier run in the same
    directory is never replaced by part of one. Returns the path, or None when no section
    finished.
    """
    if not finished:
        return None
    report.machine["benchmark"] = f"stopped: {', '.join(finished)} done, then {failure}"
    return report.write_json(out / "results-partial.json")


def run_sections(
    report: Any,
    args: argparse.Namespace,
    settings: Any,
    torch: Any,
    why_no_torch: str,
    finished: list[str],
) -> None:
    """Run the chosen sections in a fixed order, printing each table as soon as it is done.

    The name of each section is appended to ``finished`` once it is done.
    """
    import accuracy
    import cnn_bench
    import layer_profile
    import mlp_bench

    device = args.device
    # lenet and baseline get their full-data run in "accuracy"; the gallery skips them then
    skip = tuple(CNN_EPOCHS) if "accuracy" in args.only else ()
    sections: dict[str, Callable[[], object]] = {
        "mlp": lambda: (
            mlp_bench.bench_tiers(report, settings),
            mlp_bench.bench_mlp_torch(report, settings, torch, device, why_no_torch),
        ),
        "cnn": lambda: cnn_bench.bench_networks(report, settings, torch, device, why_no_torch),
        "conv": lambda: cnn_bench.bench_conv_layers(report, settings, device),
        "memory": lambda: cnn_bench.bench_memory(report, torch, device),
        "accuracy": lambda: (
            mlp_bench.bench_mlp_accuracy(report, settings),
            accuracy.bench_cnn_accuracy(
                report, {name: accuracy.Budget(epochs) for name, epochs in CNN_EPOCHS.items()}
            ),
        ),
        "gallery": lambda: accuracy.bench_cnn_accuracy(
            report,
            accuracy.gallery_budgets(*GALLERY_BUDGET, skip=skip),
            title="Architecture gallery: short runs on a subset",
        ),
    }
    work = [(name, sections[name]) for name in SECTIONS if name in args.only]
    for name in args.profile:
        work.append((f"profile {name}", partial(layer_profile.profile_architecture, report, name)))
    printed = 0
    for title, run_section in work:
        print(f"[{time.strftime('%H:%M:%S')}] {title} ...", file=sys.stderr, flush=True)
        run_section()
        for table in report.tables[printed:]:
            print(table.text() + "\n", flush=True)
        printed = len(report.tables)
        finished.append(title)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads is not None:
        set_thread_environment(args.threads)
    import machine
    from report import Report
    from settings import FULL, QUICK

    from nnott.backend import use_device
    from nnott.errors import NnottError

    settings = QUICK if args.quick else FULL
    torch, why_no_torch = machine.reference_torch(args.device)
    threads = machine.configure_threads(torch)
    if torch is not None and args.device == "gpu":
        tf32 = machine.tf32_enabled()  # the same GEMM precision on both sides
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
    command = "python benchmarks/run.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    start = time.perf_counter()
    finished: list[str] = []
    report = None
    try:
        check_dataset(args.only)
        with use_device(args.device):
            report = Report(machine.describe_machine(torch, threads, why_no_torch), command)
            run_sections(report, args, settings, torch, why_no_torch, finished)
    except NnottError as error:
        print(f"benchmarks/run.py: {error}", file=sys.stderr)
        saved = save_partial(report, args.out, finished, str(error)) if report else None
        if saved is not None:
            print(f"benchmarks/run.py: what finished is kept in {saved}", file=sys.stderr)
        return 2
    minutes = (time.perf_counter() - start) / 60.0
    report.machine["load average at end (1/5/15 min)"] = machine.load_average()
    report.machine["benchmark"] = f"{settings.name} run, {minutes:.1f} min, {', '.join(args.only)}"
    print(report.text(tables=False))
    path = report.write_json(args.out / "results.json")
    print(f"\nwrote {path}")
    if args.update_docs:
        DOCS_RESULTS.mkdir(parents=True, exist_ok=True)
        suffix = "" if args.device == "cpu" else f"-{args.device}"
        target = DOCS_RESULTS / f"benchmarks{suffix}.json"
        shutil.copyfile(path, target)
        print(f"copied to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
