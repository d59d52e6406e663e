"""nnott's array backend: one ``xp`` for NumPy on the CPU or CuPy on the GPU.

>>> from nnott.backend import xp, use_gpu, to_device, to_cpu
>>> x = to_device([1.0, 2.0, 3.0])   # on whichever device is active
>>> y = xp.exp(x)                     # NumPy or CuPy does the work
>>> to_cpu(y)                         # back to a NumPy array, counted

See :mod:`nnott.backend.device` for how the device is chosen, :mod:`~.transfer` for
counted copies and honest timing, :mod:`~.random` for seeding, :mod:`~.mixing` and
:mod:`~.emulated` for catching host/device mix-ups without a GPU.
"""

from nnott.backend._version import __version__
from nnott.backend.device import (
    DEVICE_NAMES,
    ENV_VARIABLE,
    active_module,
    current_device,
    get_array_module,
    gpu_available,
    gpu_unavailable_reason,
    is_emulated,
    is_gpu_enabled,
    use_cpu,
    use_device,
    use_emulated,
    use_gpu,
    xp,
)
from nnott.backend.mixing import is_strict, set_strict, strict
from nnott.backend.random import derive_rng, get_seed, rng, seed
from nnott.backend.transfer import (
    Timer,
    TransferStats,
    count_transfers,
    synchronize,
    to_cpu,
    to_device,
    transfer_totals,
)
from nnott.errors import DeviceMixError, GpuUnavailableError

__all__ = [
    "DEVICE_NAMES",
    "ENV_VARIABLE",
    "DeviceMixError",
    "GpuUnavailableError",
    "Timer",
    "TransferStats",
    "__version__",
    "active_module",
    "count_transfers",
    "current_device",
    "derive_rng",
    "get_array_module",
    "get_seed",
    "gpu_available",
    "gpu_unavailable_reason",
    "is_emulated",
    "is_gpu_enabled",
    "is_strict",
    "rng",
    "seed",
    "set_strict",
    "strict",
    "synchronize",
    "to_cpu",
    "to_device",
    "transfer_totals",
    "use_cpu",
    "use_device",
    "use_emulated",
    "use_gpu",
    "xp",
]
