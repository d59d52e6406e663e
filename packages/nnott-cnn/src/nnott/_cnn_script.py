"""The ``nnott-cnn`` console script.

It imports ``nnott.cnn.__main__`` (NumPy and the rest: a few tenths of a second) inside
:func:`nnott.launcher.launch`, so that a Ctrl-C during that import ends in one line.
"""

from nnott.launcher import launch


def main() -> int:
    """Run ``nnott-cnn`` with ``sys.argv[1:]``; return its exit code."""
    return launch("nnott.cnn.__main__", "nnott-cnn")
