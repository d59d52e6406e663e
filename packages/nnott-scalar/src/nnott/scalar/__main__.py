"""``python -m nnott.scalar``: the same as the ``nnott-scalar`` command."""

from nnott.scalar.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
