"""The built site: strict build, nothing fetched from other hosts, math and diagrams baked in."""

from __future__ import annotations

import os
import pathlib
import posixpath
import re
import subprocess
import sys
import urllib.parse

import pytest
from conftest import DOCS, ROOT, package_readmes

sys.path.insert(0, str(DOCS / "hooks"))
import diagrams
import generated
import mathml as docs_math

# Resources a page loads by itself (scripts, styles, images, fonts), not links a reader follows.
_LOADED = re.compile(
    r'<(?:script|img|source|iframe)\b[^>]*\bsrc="([^"]+)"|<link\b[^>]*\bhref="([^"]+)"'
)


def pages(site_dir: pathlib.Path) -> list[pathlib.Path]:
    return sorted(site_dir.rglob("*.html"))


def test_no_page_loads_anything_from_another_host(site_dir) -> None:
    offenders = []
    for page in pages(site_dir):
        html = page.read_text()
        for match in _LOADED.finditer(html):
            url = match.group(1) or match.group(2)
            tag = match.group(0)
            if url.startswith(("http://", "https://", "//")) and 'rel="canonical"' not in tag:
                offenders.append(f"{page.relative_to(site_dir)}: {url}")
    assert not offenders, offenders


# Every link and resource reference of a built page, followed or loaded.
_REFERENCE = re.compile(r'\b(?:href|src)="([^"]*)"')
_OTHER_HOST = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)  # https:, mailto:, //


def site_path_prefix() -> str:
    """The path of site_url ("/nnott/"), which site-absolute links (the 404 page's) start with."""
    match = re.search(r"^site_url:\s*(\S+)", (ROOT / "mkdocs.yml").read_text(), re.MULTILINE)
    return urllib.parse.urlparse(match[1]).path if match else "/"


def test_every_link_between_pages_leads_to_a_built_file(site_dir) -> None:
    """A link to a source file that is not built (excluded by exclude_docs, like
    results/analysis.md, whose text the performance page includes) passes `mkdocs build
    --strict`: mkdocs only reports it at INFO level and writes the link as if the page
    existed. Here every relative link and resource of every built page must resolve to a
    file of the built site."""
    prefix = site_path_prefix()
    dead = []
    for page in pages(site_dir):
        here = page.relative_to(site_dir).as_posix()
        for reference in _REFERENCE.findall(page.read_text()):
            target = urllib.parse.unquote(urllib.parse.urlsplit(reference).path)
            if not target or _OTHER_HOST.match(reference):
                continue  # a link within the page, or to another host
            if target.startswith("/"):
                if not target.startswith(prefix):
                    dead.append(f"{here}: {reference} (outside the site)")
                    continue
                resolved = posixpath.normpath(target[len(prefix) :] or ".")
            else:
                resolved = posixpath.normpath(posixpath.join(posixpath.dirname(here), target))
            if resolved == ".." or resolved.startswith("../"):
                dead.append(f"{here}: {reference} (outside the site)")
                continue
            path = site_dir / resolved
            if path.is_dir():
                path = path / "index.html"
            if not path.is_file():
                dead.append(f"{here}: {reference}")
    assert not dead, "links to files the site does not have:\n" + "\n".join(sorted(set(dead)))


# Links in Markdown: [text](target), [label]: target, and HTML href/src.
_MARKDOWN_LINK = re.compile(
    r"\]\(\s*<?([^)\s>]+)|^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)|\b(?:href|src)=\"([^\"]*)\"",
    re.MULTILINE,
)
_CODE = re.compile(r"^([ \t]*)(`{3,}).*?^\1\2[ \t]*$|`[^`\n]+`", re.MULTILINE | re.DOTALL)


@pytest.mark.parametrize("readme", package_readmes(), ids=lambda path: path.parent.name)
def test_a_package_readme_links_only_to_absolute_urls(readme) -> None:
    """A README is its package's description on PyPI, where a relative link (to another
    package's README, to the docs folder) leads nowhere: link to the site or the repository
    by their full URL."""
    text = _CODE.sub("", readme.read_text())
    relative = [
        target
        for match in _MARKDOWN_LINK.finditer(text)
        for target in [next(group for group in match.groups() if group is not None)]
        if not re.match(r"^(?:https?://|mailto:|#)", target)
    ]
    assert not relative, f"{readme.relative_to(ROOT)}: relative links {relative}"


def test_math_is_rendered_to_mathml_at_build_time(site_dir) -> None:
    html = (site_dir / "tiers" / "scalar" / "index.html").read_text()
    assert "<math" in html
    assert "\\(" not in html.split('<div class="md-content"', 1)[1]


def test_diagrams_are_inline_svg(site_dir) -> None:
    html = (site_dir / "index.html").read_text()
    assert '<svg class="nnott-diagram"' in html


def test_the_api_reference_is_generated_from_the_code(site_dir) -> None:
    reference = site_dir / "reference" / "backend" / "index.html"
    assert 'id="nnott.backend.use_gpu"' in reference.read_text()


def test_a_diagram_row_becomes_boxes_and_labelled_arrows() -> None:
    rows = diagrams.parse_rows("a -> b -[forward]-> c\nd")
    assert rows == [[("", "a"), ("", "b"), ("forward", "c")], [("", "d")]]
    svg = diagrams.draw("a -[x]-> b")
    assert svg.count("<rect") == 2 and svg.count("<line") == 1 and ">x</text>" in svg


def test_an_empty_diagram_box_fails_the_build() -> None:
    with pytest.raises(diagrams.DiagramError):
        diagrams.parse_rows("a -> ")


def test_math_hook_converts_inline_and_block_formulas() -> None:
    html = (
        '<p><span class="arithmatex">\\(a_i\\)</span></p>'
        '<div class="arithmatex">\\[\\frac{1}{n}\\]</div>'
    )
    out = docs_math.render_math(html)
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline">' in out
    assert 'display="block"' in out and "<mfrac>" in out


@pytest.mark.parametrize("tex", ["x^", "\\unknowncommand{x}"])
def test_a_formula_that_cannot_be_rendered_fails_the_build(tex: str) -> None:
    with pytest.raises(docs_math.MathError, match=r"page\.md"):
        docs_math.render_math(f'<span class="arithmatex">\\({tex}\\)</span>', "page.md")


# -- the build-time generators (docs/hooks/generated.py) ---------------------------------


RESULTS = {
    "machine": {"CPU": "2-core test machine", "GPU": "none"},
    "tables": [
        {
            "title": "Tiers",
            "columns": ["tier", "samples/s"],
            "rows": [["scalar", 650.0], ["vectorized", 51000.0]],
            "note": "batch 64",
        }
    ],
}


def test_a_results_file_becomes_the_performance_page(tmp_path) -> None:
    path = tmp_path / "results.json"
    path.write_text(generated.json.dumps(RESULTS))
    page = generated.performance_page(generated.load_results(path), generated.ROOT / "x.json")
    assert "## Tiers" in page and "| scalar | 650 |" in page and "| vectorized | 51,000 |" in page
    assert "2-core test machine" in page and "batch 64" in page


@pytest.mark.parametrize(
    "broken",
    [
        "not json",
        '{"tables": []}',
        '{"machine": {"CPU": "x"}, "tables": [{"title": "t", "columns": ["a"], "rows": [[1, 2]]}]}',
    ],
)
def test_a_broken_results_file_fails_the_build(tmp_path, broken: str) -> None:
    path = tmp_path / "results.json"
    path.write_text(broken)
    with pytest.raises(generated.GeneratedContentError):
        generated.load_results(path)


def test_an_architecture_without_history_fails_the_build() -> None:
    class Entry:
        description = "Nameless (2030): no history written"

    with pytest.raises(generated.GeneratedContentError, match="history"):
        generated.architecture_page("nameless", Entry(), None)


def test_architecture_titles_come_from_the_registry_descriptions() -> None:
    class Entry:
        name = "resnet18"
        description = "ResNet-18 (2015): 7x7 stem"

    assert generated.architecture_title(Entry()) == "ResNet-18"


def test_a_results_file_adds_the_performance_page_to_the_site(tmp_path) -> None:
    results = dict(
        RESULTS,
        architectures={
            "lenet": {
                "test_accuracy": 0.875,
                "train_samples_per_s": 1234.5,
                "device": "cpu",
                "epochs": 8,
            }
        },
    )
    path = tmp_path / "results.json"
    path.write_text(generated.json.dumps(results))
    gpu_results = dict(RESULTS, machine={"device": "a test GPU"})
    gpu_path = tmp_path / "results-gpu.json"
    gpu_path.write_text(generated.json.dumps(gpu_results))
    site = tmp_path / "site"
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "NNOTT_BENCH_RESULTS": str(path),
            "NNOTT_BENCH_RESULTS_GPU": str(gpu_path),
            "MPLBACKEND": "Agg",
        },
    )
    assert build.returncode == 0, build.stderr[-3000:]
    performance = (site / "performance" / "index.html").read_text()
    assert "2-core test machine" in performance
    assert "On a GPU" in performance and "a test GPU" in performance
    if (ROOT / "docs" / "results" / "analysis.md").exists():
        assert "Reading these numbers" in performance  # the committed written reading
    if (site / "architectures").is_dir():
        assert "87.50%" in (site / "architectures" / "lenet" / "index.html").read_text()
        assert "did not measure" in (site / "architectures" / "vgg16" / "index.html").read_text()
