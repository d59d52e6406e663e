"""Progress bars for long work, quiet where nobody is watching.

A thin wrapper around `tqdm <https://tqdm.github.io>`_ with nnott's defaults: bars go to
stderr (stdout stays clean for tables and JSON), and they switch themselves off when
stderr is not a terminal (CI logs, pipes) or when ``NNOTT_PROGRESS=0``. Set
``NNOTT_PROGRESS=1`` to force them on.

Example::

    bar = progress_bar(loader, total=len(loader), desc="epoch 1", enabled=not args.no_progress)
    for x, y in bar:
        ...
    set_postfix(bar, loss=0.4312, rate=format_rate(5120.0))   # host numbers only
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any

from tqdm import tqdm

__all__ = ["ENV_VARIABLE", "format_rate", "progress_bar", "progress_wanted", "set_postfix"]

ENV_VARIABLE = "NNOTT_PROGRESS"


def progress_wanted(enabled: bool = True) -> bool:
    """Whether a bar should show: asked for, not vetoed by NNOTT_PROGRESS, and a terminal."""
    if not enabled:
        return False
    setting = os.environ.get(ENV_VARIABLE, "").strip()
    if setting == "0":
        return False
    if setting == "1":
        return True
    stream = sys.stderr
    return stream is not None and hasattr(stream, "isatty") and stream.isatty()


def progress_bar(
    iterable: Iterable[Any] | None = None,
    *,
    total: int | None = None,
    desc: str | None = None,
    unit: str = "batch",
    enabled: bool = True,
    leave: bool = False,
) -> tqdm:
    """A tqdm bar on stderr; disabled (but still iterating) when :func:`progress_wanted` says no.

    Pass ``enabled=not args.no_progress`` from a command line. A disabled bar costs
    nothing per step and prints nothing.
    """
    return tqdm(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        leave=leave,
        disable=not progress_wanted(enabled),
        file=sys.stderr,
        dynamic_ncols=True,
    )


def _postfix_text(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def set_postfix(bar: tqdm, **values: object) -> None:
    """Show ``name=value`` pairs after the bar, floats to 4 significant digits.

    Pass host numbers only: formatting a device scalar would make Python wait for the GPU.
    Does nothing on a disabled bar.
    """
    if bar.disable:
        return
    bar.set_postfix({name: _postfix_text(value) for name, value in values.items()}, refresh=False)


def format_rate(samples_per_s: float) -> str:
    """A throughput for people: ``format_rate(56800.0) == "56.8k samples/s"``."""
    if samples_per_s != samples_per_s or samples_per_s < 0:
        return "? samples/s"
    value = float(samples_per_s)
    for suffix in ("", "k", "M"):
        if round(value, 1) < 1000.0:
            return f"{value:.1f}{suffix} samples/s"
        value /= 1000.0
    return f"{value:.1f}G samples/s"
