"""Render the site's LaTeX as MathML at build time, so pages need no math JavaScript.

``pymdownx.arithmatex`` (generic mode) protects ``$...$`` and ``$$...$$`` from Markdown and
wraps them as ``<span class="arithmatex">\\(...\\)</span>`` and
``<div class="arithmatex">\\[...\\]</div>``. This hook replaces each wrapper's content
with MathML from ``latex2mathml``; browsers render MathML natively, so the site loads no
script from a CDN and works offline. A formula that cannot be converted fails the build
with the page and the formula named, rather than shipping raw TeX.
"""

from __future__ import annotations

import html
import re
from typing import Any

from latex2mathml.converter import convert

_INLINE = re.compile(r'<span class="arithmatex">\\\((.*?)\\\)</span>', re.DOTALL)
_LEFTOVER_COMMAND = re.compile(r"\\[A-Za-z]+")
_BLOCK = re.compile(r'<div class="arithmatex">\\\[(.*?)\\\]</div>', re.DOTALL)


class MathError(Exception):
    """A formula latex2mathml cannot convert."""


def _to_mathml(tex: str, display: str, page: str) -> str:
    source = html.unescape(tex).strip()
    try:
        mathml = convert(source, display=display)
    except Exception as error:  # latex2mathml raises several unrelated types
        raise MathError(f"{page}: cannot render the formula {source!r}: {error!r}") from error
    # latex2mathml passes commands it does not know through as text, backslash and all.
    unknown = _LEFTOVER_COMMAND.search(mathml)
    if unknown:
        raise MathError(f"{page}: the formula {source!r} uses {unknown.group(0)!r}, unknown here")
    return mathml


def render_math(content: str, page: str = "<page>") -> str:
    """Replace every arithmatex wrapper in ``content`` (HTML) by MathML."""
    content = _BLOCK.sub(
        lambda match: (
            '<div class="arithmatex">' + _to_mathml(match.group(1), "block", page) + "</div>"
        ),
        content,
    )
    return _INLINE.sub(
        lambda match: (
            '<span class="arithmatex">' + _to_mathml(match.group(1), "inline", page) + "</span>"
        ),
        content,
    )


def on_page_content(html_content: str, page: Any, **kwargs: Any) -> str:
    return render_math(html_content, page.file.src_uri)
