"""One seed for everything nnott draws at random.

Random draws (initial weights, shuffles, dropout masks, augmentations) come from NumPy
``Generator`` objects on the host and are then moved to the device. CuPy's random streams
differ from NumPy's, so drawing on the host is what makes the same seed give bit-identical
initial weights on the CPU and the GPU.
"""

from __future__ import annotations

import random as _python_random

import numpy

__all__ = ["derive_rng", "get_seed", "rng", "seed"]

DEFAULT_SEED = 0

_seed = DEFAULT_SEED
_generator = numpy.random.default_rng(DEFAULT_SEED)


def seed(value: int) -> None:
    """Seed every generator nnott uses: its own host generator, Python's and NumPy's legacy
    global one (for learners' code), and CuPy's when CuPy is already loaded."""
    global _seed, _generator
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        from nnott.errors import ConfigError

        raise ConfigError(f"a seed must be a non-negative integer, not {value!r}")
    _seed = value
    _generator = numpy.random.default_rng(value)
    _python_random.seed(value)
    numpy.random.seed(value % 2**32)
    import sys

    cupy = sys.modules.get("cupy")
    if cupy is not None:
        from nnott.backend.device import gpu_available

        if gpu_available():
            cupy.random.seed(value % 2**64)  # CuPy keeps a 64-bit seed, as NumPy's legacy 32


def get_seed() -> int:
    """The seed last given to :func:`seed` (0 until then)."""
    return _seed


def rng() -> numpy.random.Generator:
    """The host generator seeded by :func:`seed`; draws advance it."""
    return _generator


def derive_rng(*keys: int) -> numpy.random.Generator:
    """A fresh generator determined by the seed and ``keys`` alone.

    Use it where a stream must be reproducible on its own, such as the shuffle order of
    epoch 7 after resuming from a checkpoint: ``derive_rng(SHUFFLE_STREAM, 7)``.
    """
    return numpy.random.default_rng([_seed, *keys])
