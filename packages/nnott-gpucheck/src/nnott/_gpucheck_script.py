"""The ``nnott-gpucheck`` console script.

It imports ``nnott.gpucheck.__main__`` (NumPy and the rest: a few tenths of a second) inside
:func:`nnott.launcher.launch`, so that a Ctrl-C during that import ends in one line.
"""

from nnott.launcher import launch


def main() -> int:
    """Run ``nnott-gpucheck`` with ``sys.argv[1:]``; return its exit code."""
    return launch("nnott.gpucheck.__main__", "nnott-gpucheck")
