"""nox sessions for the nnott monorepo.

    nox -s tests                                # what a newcomer runs: every test, CPU + emulated
    nox -s tests-cpu                            # each package alone in its own venv
    nox -s "tests-cpu(package='nnott-backend')" # one package
    nox -s tests-gpu                            # on a machine with a CUDA GPU (off by default)
    nox --no-venv -s tests-gpu                  # same, offline: uses the installed packages
    nox -s demo                                 # the main job: train on the bundled dataset
    nox -s docs docs-test                       # build the site; run its snippets and browser test
    nox -s lint typecheck build bench fixtures

Sessions use uv to create environments where it is installed (much faster), else virtualenv.
"""

from __future__ import annotations

import os
import pathlib
import shutil

import nox

ROOT = pathlib.Path(__file__).resolve().parent
PACKAGES = ["nnott-backend", "nnott-scalar", "nnott-vectorized", "nnott-cnn", "nnott-gpucheck"]

# Local siblings each package needs installed beside it (its runtime and test dependencies).
LOCAL_DEPENDENCIES = {
    "nnott-backend": [],
    "nnott-scalar": ["nnott-backend"],
    "nnott-vectorized": ["nnott-backend", "nnott-scalar"],  # scalar: the tier-agreement test
    "nnott-cnn": ["nnott-backend", "nnott-vectorized"],
    "nnott-gpucheck": ["nnott-backend"],
}

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "tests"]


def package_dir(name: str) -> str:
    return str(ROOT / "packages" / name)


def install_packages(session: nox.Session, names: list[str], extra: str | None = "test") -> None:
    """Install local packages as wheels (not editable: the tests see what users get).

    Under ``nox --no-venv`` nothing is installed: the current interpreter's packages are
    used, which is how an offline GPU machine runs the suites (see README).
    """
    if session.venv_backend == "none":
        return
    targets = [package_dir(name) for name in names[:-1]]
    targets.append(package_dir(names[-1]) + (f"[{extra}]" if extra else ""))
    session.install(*targets)


def run_pytest(session: nox.Session, package: str, device: str, *extra_args: str) -> None:
    session.log(f"{package}: tests on the {device} device")
    session.run(
        "python",
        "-m",
        "pytest",
        package_dir(package) + "/tests",
        "-q",
        "-p",
        "no:cacheprovider",
        *extra_args,
        *session.posargs,
        # On the emulated device strict mode names the file and line of any host/device mix.
        env={
            "NNOTT_DEVICE": device,
            "NNOTT_STRICT": "1" if device == "emulated" else "0",
            "MPLBACKEND": "Agg",
        },
    )


@nox.session(name="tests-cpu")
@nox.parametrize("package", PACKAGES)
def tests_cpu(session: nox.Session, package: str) -> None:
    """One package's tests in a venv holding only it and its dependencies, run on the CPU
    and again on the host-emulated device (which refuses NumPy/CuPy mix-ups as CuPy does)."""
    install_packages(session, [*LOCAL_DEPENDENCIES[package], package])
    run_pytest(session, package, "cpu")
    run_pytest(session, package, "emulated")


@nox.session(name="tests-gpu", default=False)
@nox.parametrize("package", PACKAGES)
def tests_gpu(session: nox.Session, package: str) -> None:
    """The same tests on CuPy and a real GPU. Fails, never skips, when no GPU is usable."""
    install_packages(session, [*LOCAL_DEPENDENCIES[package], package], extra="test,gpu")
    probe = (
        "from nnott.backend import gpu_unavailable_reason as r; import sys; "
        "reason = r(); print(reason or 'GPU ok'); sys.exit(1 if reason else 0)"
    )
    try:
        session.run("python", "-c", probe, silent=False)
    except nox.command.CommandFailed:
        session.error("no usable CUDA GPU (see the line above); tests-gpu runs only on a GPU")
    run_pytest(session, package, "gpu")


@nox.session
def tests(session: nox.Session) -> None:
    """Every package's tests in one environment, on the CPU and on the emulated device."""
    install_packages(session, PACKAGES)
    for package in PACKAGES:
        run_pytest(session, package, "cpu")
        run_pytest(session, package, "emulated")
    session.log("benchmarks: tests of the machinery (twins, FLOP counts, results format)")
    session.run(
        "python",
        "-m",
        "pytest",
        str(ROOT / "benchmarks" / "tests"),
        "-q",
        "-p",
        "no:cacheprovider",
        *session.posargs,
        env={"NNOTT_DEVICE": "cpu", "MPLBACKEND": "Agg"},
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint rules and formatting."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy over every package's sources."""
    install_packages(session, PACKAGES)
    session.install("mypy>=1.10")
    sources = [package_dir(name) + "/src/nnott" for name in PACKAGES]
    session.run("mypy", *sources)


@nox.session
def build(session: nox.Session) -> None:
    """Build every wheel and sdist into dist/ and check them with twine."""
    session.install("build", "twine")
    dist = ROOT / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    for package in PACKAGES:
        session.run("python", "-m", "build", "--outdir", str(dist), package_dir(package))
    session.run("twine", "check", "--strict", *map(str, sorted(dist.iterdir())))


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: train the most complete tier on the bundled dataset (offline)."""
    install_packages(session, ["nnott-backend", "nnott-vectorized", "nnott-cnn"], extra=None)
    session.run("nnott-cnn", "lenet", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks: throughput of each tier, ratios against PyTorch measured in the same run."""
    install_packages(session, PACKAGES)
    session.install("torch==2.13.0", "threadpoolctl>=3.1")
    out = os.environ.get("NNOTT_BENCH_OUT", str(ROOT / "bench-results"))
    session.run("python", str(ROOT / "benchmarks" / "run.py"), "--out", out, *session.posargs)


@nox.session
def fixtures(session: nox.Session) -> None:
    """Regenerate the PyTorch reference fixtures the tests compare against (needs torch)."""
    install_packages(session, PACKAGES)
    session.install("torch==2.13.0")
    for script in sorted(ROOT.glob("packages/*/scripts/make_*fixtures.py")):
        session.run("python", str(script))


DOCS_ENV = {"MPLBACKEND": "Agg", "NO_MKDOCS_2_WARNING": "1"}


@nox.session
def docs(session: nox.Session) -> None:
    """Build the tutorial site with mkdocs --strict (broken links fail the build)."""
    install_packages(session, PACKAGES)
    session.install("-r", str(ROOT / "docs" / "requirements.txt"))
    session.run("mkdocs", "build", "--strict", "--site-dir", str(ROOT / "site"), env=DOCS_ENV)


@nox.session(name="docs-test")
def docs_test(session: nox.Session) -> None:
    """The site's tests: a strict build, every snippet run, and headless Chromium loading
    the pages (that part skips, saying why, where Chromium is not installed)."""
    install_packages(session, PACKAGES)
    session.install("-r", str(ROOT / "docs" / "requirements.txt"))
    session.run(
        "python",
        "-m",
        "pytest",
        str(ROOT / "tests-docs"),
        "-q",
        "-p",
        "no:cacheprovider",
        *session.posargs,
        env=DOCS_ENV,
    )
