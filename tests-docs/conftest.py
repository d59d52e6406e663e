"""Shared fixtures for the site's tests: the built site, and the code fences of every page
and of every package README (a README is its package's PyPI description, so its commands
and outputs are checked like a page's).

The site is built once per test session with ``mkdocs build --strict`` into a temporary
folder (or taken from ``NNOTT_SITE_DIR`` when that names an already built site, which is
how CI reuses the ``nox -s docs`` output).
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

# Snippets the suite does not run must say why with one of these classes. On a page, in
# superfences braces: ```{.bash .gpu notest} or ```{.python .download notest}. In a README,
# as plain words after the language, which GitHub and PyPI still read: ```bash slow notest.
SKIP_REASONS = {
    "gpu": "needs a GPU",
    "download": "downloads packages or data",
    "slow": "takes more than about 15 s on two CPU cores",
}
# An output block marked `exact` ({.text .exact}; `text exact` in a README) must equal what
# the snippet just before it prints; `no-cupy` beside it: as printed where CuPy is not
# installed (the "CuPy is not installed" messages), compared only there.
EXACT = "exact"
NO_CUPY = "no-cupy"

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<ticks>`{3,})(?P<info>[^\n`]*)\n", re.MULTILINE)


@dataclasses.dataclass(frozen=True)
class Fence:
    """One fenced code block of a page."""

    page: str
    line: int
    language: str
    options: frozenset[str]
    source: str

    @property
    def runs(self) -> bool:
        return "notest" not in self.options

    @property
    def exact(self) -> bool:
        return EXACT in self.options

    @property
    def skip_reason(self) -> str | None:
        reasons = [SKIP_REASONS[name] for name in sorted(SKIP_REASONS) if name in self.options]
        return "; ".join(reasons) or None

    def __str__(self) -> str:
        return f"{self.page}:{self.line}"


def parse_info(info: str) -> tuple[str, frozenset[str]]:
    """Language and options of a fence's info string, in plain or superfences brace form."""
    info = info.strip()
    if info.startswith("{"):
        words = info.strip("{}").split()
        language = next((word[1:] for word in words if word.startswith(".")), "")
        options = {word.lstrip(".") for word in words} - {language}
        return language, frozenset(options)
    words = info.split()
    return (words[0] if words else ""), frozenset(words[1:])


def page_fences(path: pathlib.Path) -> Iterator[Fence]:
    """Every fenced block of a Markdown page, with the line its code starts on."""
    text = path.read_text()
    position = 0
    while match := _FENCE.search(text, position):
        closing = re.compile(
            rf"^{re.escape(match['indent'])}{match['ticks']}[ \t]*$", re.MULTILINE
        ).search(text, match.end())
        if closing is None:
            line = text.count("\n", 0, match.start()) + 1
            raise ValueError(f"{path}: unclosed code fence at line {line}")
        body = text[match.end() : closing.start()]
        indent = len(match["indent"])
        source = "\n".join(line[indent:] for line in body.splitlines())
        language, options = parse_info(match["info"])
        yield Fence(
            page=str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path),
            line=text.count("\n", 0, match.end()) + 1,
            language=language,
            options=options,
            source=source,
        )
        position = closing.end()


def markdown_pages() -> list[pathlib.Path]:
    """The site's hand-written pages (generated pages are checked through the build)."""
    return sorted(path for path in DOCS.rglob("*.md") if "hooks" not in path.parts)


def package_readmes() -> list[pathlib.Path]:
    """Every package's README.md, which is also its long description on PyPI."""
    return sorted(ROOT.glob("packages/*/README.md"))


def snippet_pages() -> list[pathlib.Path]:
    """The pages whose snippets are run: the site's pages and the package READMEs."""
    return markdown_pages() + package_readmes()


def all_fences() -> list[Fence]:
    return [fence for page in snippet_pages() for fence in page_fences(page)]


@pytest.fixture(scope="session")
def site_dir(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """The built site: NNOTT_SITE_DIR when given, else a fresh strict build."""
    given = os.environ.get("NNOTT_SITE_DIR")
    if given:
        path = pathlib.Path(given)
        if not (path / "index.html").is_file():
            pytest.fail(f"NNOTT_SITE_DIR={given} holds no built site (no index.html)")
        return path
    path = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )
    if result.returncode != 0:
        pytest.fail(f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}")
    return path
