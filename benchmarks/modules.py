"""Walking an nnott model: every module with its dotted name, and the leaves alone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["leaf_modules", "named_modules"]


def named_modules(module: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``(name, module)`` for ``module`` and everything below it, depth first, in order.

    Names are the dotted paths of the parameter names (``layer1.0.conv1``); the model
    itself is ``""``.
    """
    yield prefix, module
    for name, child in module.children():
        yield from named_modules(child, f"{prefix}.{name}" if prefix else name)


def leaf_modules(module: Any) -> list[tuple[str, Any]]:
    """The modules that have no sub-modules (the layers that do the work), in order."""
    return [(name, sub) for name, sub in named_modules(module) if not list(sub.children())]
