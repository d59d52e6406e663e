"""The benchmark's results: tables, targets, the printed report and the JSON file.

The JSON follows the format the documentation reads (``docs/hooks/generated.py``,
``load_results``)::

    {"machine": {label: value, ...},
     "tables": [{"title": str, "columns": [str, ...], "rows": [[cell, ...], ...],
                 "note": str}, ...],
     "architectures": {name: {"test_accuracy": float, "train_samples_per_s": float,
                              "device": str, "epochs": int, ...}, ...},
     "targets": [...], "details": {...}, "command": str}

``tables`` are what the performance page shows, the last one being the targets and
whether each was met; ``details`` keeps every raw measurement (each repeat) for whoever
wants to dig further.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

__all__ = ["Report", "Table", "Target", "cell_text", "ratio_text"]


def cell_text(value: Any) -> str:
    """A cell as the docs print it: thousands separators, three significant digits."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def ratio_text(ratio: float | None) -> str:
    """``0.834`` as ``"0.83x"``; None (no reference measured) as ``"-"``."""
    return "-" if ratio is None else f"{ratio:.2f}x"


@dataclasses.dataclass
class Table:
    """One table of results: a title, column names, rows of cells and an optional note."""

    title: str
    columns: list[str]
    rows: list[list[Any]] = dataclasses.field(default_factory=list)
    note: str = ""

    def add(self, *cells: Any) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{self.title}: {len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(list(cells))

    def text(self) -> str:
        """The table as aligned plain text, numbers right-aligned, with its note below."""
        cells = [[cell_text(value) for value in row] for row in self.rows]
        widths = [
            max([len(column), *(len(row[index]) for row in cells)])
            for index, column in enumerate(self.columns)
        ]
        numeric = [
            bool(self.rows) and all(isinstance(row[index], (int, float)) for row in self.rows)
            for index in range(len(self.columns))
        ]

        def line(texts: list[str]) -> str:
            return "  ".join(
                text.rjust(width) if right else text.ljust(width)
                for text, width, right in zip(texts, widths, numeric, strict=True)
            ).rstrip()

        lines = [self.title, line(self.columns), line(["-" * width for width in widths])]
        lines += [line(row) for row in cells]
        if self.note:
            lines.append(self.note)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "columns": self.columns, "rows": self.rows, "note": self.note}


@dataclasses.dataclass
class Target:
    """A goal from the issues: ``measured`` should reach ``goal`` (both in ``unit``).

    ``measured`` is None when the measurement could not be made (``why`` says why, such as
    "torch not installed"); the target is then neither met nor missed.
    """

    what: str
    measured: float | None
    goal: float
    unit: str  # "x" for a ratio, "%" for an accuracy or a share
    why: str = ""

    @property
    def met(self) -> bool | None:
        return None if self.measured is None else self.measured >= self.goal

    def _show(self, value: float) -> str:
        return f"{value:.2f}x" if self.unit == "x" else f"{value:.1f} %"

    def row(self) -> list[str]:
        if self.measured is None:
            measured = self.why or "not measured"
        else:
            measured = self._show(self.measured)
        met = {True: "met", False: "NOT met", None: "n/a"}[self.met]
        return [self.what, measured, ">= " + self._show(self.goal), met]

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "met": self.met}


@dataclasses.dataclass
class Report:
    """Everything one benchmark run produced."""

    machine: dict[str, Any]
    command: str
    tables: list[Table] = dataclasses.field(default_factory=list)
    targets: list[Target] = dataclasses.field(default_factory=list)
    architectures: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    def targets_table(self) -> Table:
        table = Table("Targets", ["target", "measured", "goal", "met"])
        for target in self.targets:
            table.add(*target.row())
        table.note = "Ratios are nnott's throughput over PyTorch's, measured in the same run."
        return table

    def all_tables(self) -> list[Table]:
        return [*self.tables, *([self.targets_table()] if self.targets else [])]

    def text(self, tables: bool = True) -> str:
        """The machine, the result tables (unless ``tables`` is false) and the targets."""
        machine = Table("Machine", ["", "value"])
        for key, value in self.machine.items():
            machine.add(key, str(value))
        shown = self.all_tables() if tables else self.all_tables()[len(self.tables) :]
        return "\n\n".join(table.text() for table in [machine, *shown])

    def to_dict(self) -> dict[str, Any]:
        return {
            "machine": self.machine,
            "command": self.command,
            "tables": [table.to_dict() for table in self.all_tables()],
            "targets": [target.to_dict() for target in self.targets],
            "architectures": self.architectures,
            "details": self.details,
        }

    def write_json(self, path: Path) -> Path:
        """Write the report as JSON (atomically: a temporary file, then a rename)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(path.suffix + ".tmp")
        temporary.write_text(json.dumps(self.to_dict(), indent=1, default=_json_default) + "\n")
        temporary.replace(path)
        return path


def _json_default(value: Any) -> Any:
    """NumPy scalars and other number-likes as plain Python numbers."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
