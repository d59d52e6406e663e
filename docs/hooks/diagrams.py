"""Draw ``diagram`` code fences as inline SVG at build time (no Mermaid, no JavaScript).

A diagram is a list of rows; each row is a chain of boxes joined by arrows::

    ```diagram
    nnott-scalar -> nnott-backend -> numpy
    nnott-cnn -> nnott-vectorized -> nnott-backend
    ```

An arrow may carry a label: ``a -[forward]-> b``. Every row is drawn left to right, rows
stacked top to bottom, and the SVG scales with the page. That covers the pipelines and
dependency chains the tutorial needs while keeping the site free of external scripts.
"""

from __future__ import annotations

import html
import re
from typing import Any

BOX_HEIGHT = 34
ROW_GAP = 22
CHAR_WIDTH = 7.6
BOX_PADDING = 18
ARROW_MIN = 46
MARGIN = 6

_ARROW = re.compile(r"\s*-(?:\[(?P<label>[^\]]*)\]-)?>\s*")


class DiagramError(Exception):
    """A diagram fence that cannot be drawn."""


def parse_rows(source: str) -> list[list[tuple[str, str]]]:
    """Rows of ``(label_of_arrow_into_box, box_text)`` pairs; the first box has no arrow."""
    rows = []
    for line in source.strip().splitlines():
        if not line.strip():
            continue
        parts = _ARROW.split(line.strip())
        # re.split with one group returns text, label, text, label, ...
        boxes = [(None, parts[0])] + [
            (parts[index], parts[index + 1]) for index in range(1, len(parts), 2)
        ]
        if any(not text.strip() for _, text in boxes):
            raise DiagramError(f"empty box in diagram line {line!r}")
        rows.append([(label or "", text.strip()) for label, text in boxes])
    if not rows:
        raise DiagramError("empty diagram")
    return rows


def draw(source: str) -> str:
    """The SVG for a diagram's source text."""
    rows = parse_rows(source)
    pieces: list[str] = []
    width = 0.0
    for row_index, row in enumerate(rows):
        y = MARGIN + row_index * (BOX_HEIGHT + ROW_GAP)
        x = float(MARGIN)
        for label, text in row:
            if x > MARGIN:
                arrow = max(ARROW_MIN, len(label) * CHAR_WIDTH + 16)
                middle = y + BOX_HEIGHT / 2
                pieces.append(
                    f'<line x1="{x:.1f}" y1="{middle}" x2="{x + arrow - 4:.1f}" y2="{middle}" '
                    'class="edge" marker-end="url(#nnott-arrow)"/>'
                )
                if label:
                    pieces.append(
                        f'<text x="{x + arrow / 2:.1f}" y="{middle - 6}" class="edge-label">'
                        f"{html.escape(label)}</text>"
                    )
                x += arrow
            box = len(text) * CHAR_WIDTH + 2 * BOX_PADDING
            pieces.append(
                f'<rect x="{x:.1f}" y="{y}" width="{box:.1f}" height="{BOX_HEIGHT}" rx="6" '
                'class="node"/>'
            )
            pieces.append(
                f'<text x="{x + box / 2:.1f}" y="{y + BOX_HEIGHT / 2 + 4.5}" class="node-label">'
                f"{html.escape(text)}</text>"
            )
            x += box
        width = max(width, x + MARGIN)
    height = MARGIN * 2 + len(rows) * BOX_HEIGHT + (len(rows) - 1) * ROW_GAP
    return (
        f'<svg class="nnott-diagram" role="img" viewBox="0 0 {width:.0f} {height}" '
        f'width="{width:.0f}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
        '<defs><marker id="nnott-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M 0 0 L 10 5 L 0 10 z" class="arrow-head"/></marker></defs>'
        + "".join(pieces)
        + "</svg>"
    )


def fence_format(
    source: str, language: str, class_name: str, options: Any, md: Any, **kwargs: Any
) -> str:
    """The ``pymdownx.superfences`` custom-fence formatter for ``diagram`` fences."""
    return f'<div class="nnott-diagram-box">{draw(source)}</div>'


def on_config(config: Any, **kwargs: Any) -> Any:
    """Register the ``diagram`` fence with superfences (mkdocs.yml cannot name a hook)."""
    superfences = config.mdx_configs.setdefault("pymdownx.superfences", {})
    fences = superfences.setdefault("custom_fences", [])
    if not any(fence.get("name") == "diagram" for fence in fences):
        fences.append({"name": "diagram", "class": "diagram", "format": fence_format})
    return config
