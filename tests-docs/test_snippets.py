"""Every Python and shell snippet on the site runs, except those marked as needing a GPU or a
download.

Python fences run through pytest-markdown-docs (superfences syntax; a page's fences marked
``continuation`` share the earlier fences' names). Shell fences run here, each in bash with
``-euo pipefail`` inside a fresh working directory, on the device the suite runs on.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import ROOT, SKIP_REASONS, all_fences, markdown_pages

SHELL_LANGUAGES = {"bash", "sh", "shell"}
PYTHON_LANGUAGES = {"python", "py", "python3"}

FENCES = all_fences()
SHELL_FENCES = [fence for fence in FENCES if fence.language in SHELL_LANGUAGES]


def test_the_site_has_runnable_snippets() -> None:
    runnable = [
        fence
        for fence in FENCES
        if fence.runs and fence.language in SHELL_LANGUAGES | PYTHON_LANGUAGES
    ]
    assert len(runnable) >= 10, [str(fence) for fence in runnable]


@pytest.mark.parametrize("fence", FENCES, ids=str)
def test_a_snippet_that_is_not_run_says_why(fence) -> None:
    if fence.language not in SHELL_LANGUAGES | PYTHON_LANGUAGES or fence.runs:
        return
    assert fence.skip_reason, (
        f"{fence}: a `notest` snippet must be marked with one of "
        f"{', '.join('.' + name for name in SKIP_REASONS)}"
    )


def snippet_environment() -> dict[str, str]:
    return {
        **os.environ,
        "MPLBACKEND": "Agg",
        "NNOTT_DEVICE": os.environ.get("NNOTT_DEVICE", "cpu"),
        "NNOTT_REPO": str(ROOT),
    }


@pytest.mark.parametrize("fence", SHELL_FENCES, ids=str)
def test_shell_snippet(fence, tmp_path) -> None:
    if not fence.runs:
        pytest.skip(fence.skip_reason or "marked notest")
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", fence.source],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=snippet_environment(),
        timeout=300,
    )
    assert result.returncode == 0, (
        f"{fence} exited with {result.returncode}\n--- stdout\n{result.stdout}"
        f"\n--- stderr\n{result.stderr}"
    )


def test_python_snippets(tmp_path) -> None:
    """All Python fences of all pages, through pytest-markdown-docs in a fresh process."""
    pages = [str(page) for page in markdown_pages()]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--markdown-docs",
            "--markdown-docs-syntax=superfences",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            *pages,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=snippet_environment(),
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
