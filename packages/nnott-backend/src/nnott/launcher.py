"""Console scripts that answer Ctrl-C from their first instant.

A console script generated from ``nnott-cnn = "nnott.cnn.__main__:main"`` imports
``nnott.cnn`` before any nnott code runs: NumPy, the layers, the architectures, about
0.4 s. A Ctrl-C in that time ends in a traceback, because :func:`nnott.cli.run_main`,
which turns Ctrl-C into one line and exit code 130, is not running yet.

So each wheel's console script points at a small module of its own beside this one
(``nnott._cnn_script``, ``nnott._data_script`` ...) that imports only this module and
calls :func:`launch` with the name of the real ``__main__`` module. This module imports
nothing but the standard library, so that the import it guards is the whole of the work.
(``python -m nnott.cnn`` still imports the package first: the guard covers the commands a
user types.)
"""

from __future__ import annotations

import importlib
import sys

__all__ = ["EXIT_INTERRUPTED", "launch"]

EXIT_INTERRUPTED = 130
"""The exit code of a command ended by Ctrl-C, as a shell reports it (128 + SIGINT)."""


def launch(main_module: str, prog: str) -> int:
    """Import ``main_module`` and return what its ``main()`` returns.

    A Ctrl-C during the import prints ``"prog: interrupted"`` and returns 130, as a Ctrl-C
    once the command runs does; from then on ``main()`` (through ``run_main``) handles it.
    """
    try:
        main = importlib.import_module(main_module).main
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    code: int = main()
    return code
