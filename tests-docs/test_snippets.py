"""Every Python and shell snippet on the site and in the package READMEs runs, except those
marked as needing a GPU, a download or minutes of CPU time; outputs marked exact are
compared with what the snippet prints.

Python fences run through pytest-markdown-docs (superfences syntax; a page's fences marked
``continuation`` share the earlier fences' names). ``pycon`` fences run through doctest.
Shell fences run here, each in bash with ``-euo pipefail`` inside a fresh working
directory, on the device the suite runs on.

Output blocks. A ``text`` block right after a snippet shows what it prints. Most such
outputs hold timings or accuracies that differ from machine to machine, and are not
compared. A block whose output is deterministic is marked exact -- ``{.text .exact}`` on a
page, ```` ```text exact ```` in a README -- and must then equal the snippet's stdout and
stderr together, line by line (trailing spaces and trailing blank lines aside). Mark
``no-cupy`` beside ``exact`` when the block shows what a machine without CuPy prints (the
"CuPy is not installed" messages): where CuPy is installed, the snippet still runs but its
output is not compared.
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import itertools
import json
import os
import subprocess
import sys
import textwrap

import pytest
from conftest import (
    EXACT,
    NO_CUPY,
    ROOT,
    SKIP_REASONS,
    Fence,
    all_fences,
    package_readmes,
    page_fences,
    snippet_pages,
)

SHELL_LANGUAGES = {"bash", "sh", "shell"}
PYTHON_LANGUAGES = {"python", "py", "python3"}
RUN_LANGUAGES = SHELL_LANGUAGES | PYTHON_LANGUAGES | {"pycon"}

FENCES = all_fences()
SHELL_FENCES = [fence for fence in FENCES if fence.language in SHELL_LANGUAGES]
PYCON_FENCES = [fence for fence in FENCES if fence.language == "pycon"]


def following_fences(fences: list[Fence]) -> dict[Fence, Fence]:
    """Each fence's next fence on the same page."""
    pairs = itertools.pairwise(fences)
    return {fence: after for fence, after in pairs if fence.page == after.page}


def exact_outputs(fences: list[Fence]) -> dict[Fence, Fence]:
    """Each snippet that is followed by an exact output block, with that block."""
    return {fence: after for fence, after in following_fences(fences).items() if after.exact}


EXACT_OUTPUTS = exact_outputs(FENCES)
PYTHON_WITH_EXACT_OUTPUT = [fence for fence in EXACT_OUTPUTS if fence.language in PYTHON_LANGUAGES]


def test_the_site_has_runnable_snippets() -> None:
    runnable = [fence for fence in FENCES if fence.runs and fence.language in RUN_LANGUAGES]
    assert len(runnable) >= 10, [str(fence) for fence in runnable]


def test_the_site_has_exact_outputs() -> None:
    assert len(EXACT_OUTPUTS) >= 10, [str(fence) for fence in EXACT_OUTPUTS]


@pytest.mark.parametrize("fence", FENCES, ids=str)
def test_a_snippet_that_is_not_run_says_why(fence) -> None:
    if fence.language not in RUN_LANGUAGES or fence.runs:
        return
    assert fence.skip_reason, (
        f"{fence}: a `notest` snippet must be marked with one of "
        f"{', '.join('.' + name for name in SKIP_REASONS)}"
    )


def test_an_exact_output_follows_a_snippet_that_runs() -> None:
    before = {after: fence for fence, after in following_fences(FENCES).items()}
    wrong = []
    for block in (fence for fence in FENCES if fence.exact or NO_CUPY in fence.options):
        snippet = before.get(block)
        if not block.exact:
            wrong.append(f"{block}: `{NO_CUPY}` only qualifies `{EXACT}`")
        elif block.language != "text":
            wrong.append(f"{block}: an exact output block is a `text` block")
        elif snippet is None or snippet.language not in SHELL_LANGUAGES | PYTHON_LANGUAGES:
            wrong.append(f"{block}: an exact output block must follow a shell or Python snippet")
        elif not snippet.runs:
            wrong.append(f"{block}: follows {snippet}, which is not run, so it cannot be compared")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("readme", package_readmes(), ids=lambda path: path.parent.name)
def test_every_readme_command_is_a_snippet_the_suite_knows(readme) -> None:
    """A README's commands are `bash` fences (run, or marked why not) and its outputs
    `text` fences; a `console` transcript or a fence without a language would escape the
    suite."""
    wrong = [
        f"{fence}: fence language {fence.language or '(none)'!r}"
        for fence in page_fences(readme)
        if fence.language not in RUN_LANGUAGES | {"text"}
    ]
    assert not wrong, "\n".join(wrong)


def snippet_environment() -> dict[str, str]:
    return {
        **os.environ,
        "MPLBACKEND": "Agg",
        "NNOTT_DEVICE": os.environ.get("NNOTT_DEVICE", "cpu"),
        "NNOTT_REPO": str(ROOT),
        "PYTHONUNBUFFERED": "1",  # stdout and stderr interleaved as a terminal shows them
    }


@functools.cache
def cupy_installed() -> bool:
    return importlib.util.find_spec("cupy") is not None


def output_difference(shown: Fence, printed: str) -> str | None:
    """None when ``printed`` equals the exact block ``shown``, else a unified diff."""

    def lines(text: str) -> list[str]:
        return [line.rstrip() for line in text.rstrip("\n").splitlines()]

    if lines(shown.source) == lines(printed):
        return None
    diff = difflib.unified_diff(
        lines(shown.source), lines(printed), f"{shown} (shown)", "printed now", lineterm=""
    )
    return "\n".join(diff)


def check_exact_output(snippet: Fence, printed: str) -> None:
    shown = EXACT_OUTPUTS[snippet]
    if NO_CUPY in shown.options and cupy_installed():
        pytest.skip(f"{shown} shows the output of a machine without CuPy; CuPy is installed")
    difference = output_difference(shown, printed)
    assert difference is None, (
        f"{snippet} no longer prints the output shown after it:\n{difference}"
    )


def run_shell(source: str, cwd, merged: bool) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", source],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merged else subprocess.PIPE,
        text=True,
        env=snippet_environment(),
        timeout=300,
    )


@pytest.mark.parametrize("fence", SHELL_FENCES, ids=str)
def test_shell_snippet(fence, tmp_path) -> None:
    if not fence.runs:
        pytest.skip(fence.skip_reason or "marked notest")
    exact = fence in EXACT_OUTPUTS
    result = run_shell(fence.source, tmp_path, merged=exact)
    assert result.returncode == 0, (
        f"{fence} exited with {result.returncode}\n--- stdout\n{result.stdout}"
        f"\n--- stderr\n{result.stderr}"
    )
    if exact:
        check_exact_output(fence, result.stdout)


def python_chain(fence: Fence) -> list[Fence]:
    """The fences whose code runs together with ``fence``: itself and, when it is marked
    ``continuation``, the page's Python fences before it back to one that is not."""
    page = [f for f in FENCES if f.page == fence.page and f.language in PYTHON_LANGUAGES]
    chain = [fence]
    for earlier in reversed(page[: page.index(fence)]):
        if "continuation" not in chain[0].options:
            break
        chain.insert(0, earlier)
    return chain


# Runs a chain of fences in one namespace; only the last one's output is shown after it.
_CHAIN_RUNNER = textwrap.dedent(
    """
    import contextlib, io, json, sys
    sources = json.loads(sys.argv[1])
    namespace = {}
    for source in sources[:-1]:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            exec(compile(source, "<earlier fence>", "exec"), namespace)
    exec(compile(sources[-1], "<fence>", "exec"), namespace)
    """
)


@pytest.mark.parametrize("fence", PYTHON_WITH_EXACT_OUTPUT, ids=str)
def test_python_snippet_output(fence, tmp_path) -> None:
    """Python fences followed by an exact block: what they print now equals the block."""
    sources = [f.source for f in python_chain(fence)]
    result = subprocess.run(
        [sys.executable, "-c", _CHAIN_RUNNER, json.dumps(sources)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=snippet_environment(),
        timeout=300,
    )
    assert result.returncode == 0, f"{fence} failed:\n{result.stdout[-4000:]}"
    check_exact_output(fence, result.stdout)


@pytest.mark.parametrize("fence", PYCON_FENCES, ids=str)
def test_pycon_snippet(fence, tmp_path) -> None:
    """An interactive session (``>>>``) prints what it shows: doctest compares each line."""
    if not fence.runs:
        pytest.skip(fence.skip_reason or "marked notest")
    session = tmp_path / "session.txt"
    session.write_text(fence.source + "\n")
    result = subprocess.run(
        [sys.executable, "-m", "doctest", str(session)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=snippet_environment(),
        timeout=300,
    )
    assert result.returncode == 0, f"{fence}:\n{result.stdout}{result.stderr}"


def test_python_snippets(tmp_path) -> None:
    """All Python fences of all pages and READMEs, through pytest-markdown-docs in a fresh
    process."""
    pages = [str(page) for page in snippet_pages()]
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


# -- the comparison itself, on a page written here ----------------------------------------


STALE_PAGE = """\
```bash
echo "lenet  adam lr 0.001, 20 ep"
echo "a warning" >&2
```

```{.text .exact}
lenet  adam lr 0.002, 8 ep
a warning
```
"""


def test_an_exact_block_that_no_longer_matches_fails(tmp_path) -> None:
    page = tmp_path / "page.md"
    page.write_text(STALE_PAGE)
    snippet, shown = list(page_fences(page))
    assert shown.exact and exact_outputs([snippet, shown]) == {snippet: shown}
    printed = run_shell(snippet.source, tmp_path, merged=True).stdout
    difference = output_difference(shown, printed)
    assert difference is not None
    assert "-lenet  adam lr 0.002, 8 ep" in difference
    assert "+lenet  adam lr 0.001, 20 ep" in difference
    assert output_difference(shown, "lenet  adam lr 0.002, 8 ep  \na warning\n\n") is None
