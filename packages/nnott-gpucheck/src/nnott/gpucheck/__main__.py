"""``python -m nnott.gpucheck``: the same as the ``nnott-gpucheck`` command."""

from __future__ import annotations

import sys

from nnott.gpucheck.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
