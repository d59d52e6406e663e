"""``python -m nnott.cnn`` and the ``nnott-cnn`` console script.

Errors a user can fix (bad flags, an unknown architecture, a checkpoint of another model)
end as one line on stderr with exit code 2; see :func:`nnott.cli.run_main`.
"""

from __future__ import annotations

from nnott.cli import run_main
from nnott.cnn import cli


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (``sys.argv[1:]`` when None); return the exit code."""
    return run_main(cli.main, argv, prog=cli.PROG)


if __name__ == "__main__":
    raise SystemExit(main())
