"""The per-epoch record of a training run, saved as JSON and CSV.

A :class:`History` is a list of epoch records, each a flat mapping of plain Python numbers
(``epoch``, ``train_loss``, ``train_accuracy``, ``val_loss``, ``val_accuracy``, ``lr``,
``epoch_seconds``, ``train_samples_per_s``). It lives on the host: the trainer reads its
device accumulators once per epoch and appends the numbers here, so the history never costs
a device synchronisation of its own. It travels inside checkpoints (as JSON metadata), which
is why resuming a run continues its curves instead of starting new ones.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from nnott.checkpoint import write_bytes_atomic, write_json_atomic

__all__ = ["History"]


def _plain_number(value: Any) -> float | int | None:
    """A JSON-friendly number: ints stay ints, other numbers become floats, None stays."""
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    return float(value)


class History:
    """Epoch records of one run, in order; columns for plotting; JSON and CSV files.

    >>> history = History()
    >>> history.append({"epoch": 1, "train_loss": 0.9, "val_loss": 0.8})
    >>> history.column("val_loss")
    [0.8]
    """

    def __init__(self, records: Iterable[Mapping[str, Any]] = ()) -> None:
        self._records: list[dict[str, float | int | None]] = []
        for record in records:
            self.append(record)

    # -- building ---------------------------------------------------------------------
    def append(self, record: Mapping[str, Any]) -> None:
        """Add one epoch's numbers (device values must already be read into Python)."""
        self._records.append({key: _plain_number(value) for key, value in record.items()})

    # -- reading ----------------------------------------------------------------------
    @property
    def records(self) -> list[dict[str, float | int | None]]:
        """A copy of the records, one dict per epoch."""
        return [dict(record) for record in self._records]

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[dict[str, float | int | None]]:
        return iter(self.records)

    def __getitem__(self, index: int) -> dict[str, float | int | None]:
        return dict(self._records[index])

    @property
    def keys(self) -> list[str]:
        """Every column name, in the order first seen."""
        names: dict[str, None] = {}
        for record in self._records:
            names.update(dict.fromkeys(record))
        return list(names)

    def column(self, key: str) -> list[float | int | None]:
        """One metric across epochs (None where an epoch did not record it)."""
        return [record.get(key) for record in self._records]

    def columns(self) -> dict[str, list[float | int | None]]:
        """Every metric as a list across epochs: the shape ``nnott.plots.plot_history`` takes."""
        return {key: self.column(key) for key in self.keys}

    def float_columns(self) -> dict[str, list[float]]:
        """Every metric as floats across epochs, NaN where an epoch did not record it
        (what ``nnott.plots.plot_history`` draws: NaN leaves a gap)."""
        return {
            key: [math.nan if value is None else float(value) for value in values]
            for key, values in self.columns().items()
        }

    def best_epoch(self, key: str, mode: str = "min") -> int | None:
        """The ``epoch`` whose ``key`` was lowest (``mode="min"``) or highest, or None."""
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', not {mode!r}")
        candidates = [
            record
            for record in self._records
            if isinstance(record.get(key), (int, float)) and math.isfinite(record[key])  # type: ignore[arg-type]
        ]
        if not candidates:
            return None
        pick = min if mode == "min" else max
        best = pick(candidates, key=lambda record: record[key])  # type: ignore[arg-type,return-value]
        return int(best.get("epoch", self._records.index(best) + 1))  # type: ignore[arg-type]

    # -- saving and loading -----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (used in checkpoint metadata and the ``--json`` report)."""
        return {"records": self.records}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> History:
        """Rebuild a history written by :meth:`to_dict`."""
        return cls(data.get("records", ()))

    def to_csv_text(self) -> str:
        """The records as CSV: a header of every column, one row per epoch, blanks for None."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.keys, lineterminator="\n")
        writer.writeheader()
        for record in self._records:
            writer.writerow({key: "" if value is None else value for key, value in record.items()})
        return buffer.getvalue()

    def save_json(self, path: str | Path) -> Path:
        """Write the records as JSON, atomically (a crash never leaves half a file)."""
        return write_json_atomic(path, self.to_dict())

    def save_csv(self, path: str | Path) -> Path:
        """Write the records as CSV, atomically."""
        return write_bytes_atomic(path, self.to_csv_text().encode("utf-8"))

    def __repr__(self) -> str:
        return f"History({len(self)} epochs, columns={self.keys})"
