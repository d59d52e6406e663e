"""A host-emulated device: NumPy underneath, CuPy's manners on top. A test aid.

CI machines have no GPU, yet the bugs learners meet first on a GPU are about mixing host
and device arrays: ``TypeError: Unsupported type <class 'numpy.ndarray'>`` when a NumPy
array reaches a CuPy function, or an implicit conversion such as ``numpy.asarray(x)``
that CuPy refuses. :class:`EmulatedArray` reproduces those refusals on the CPU:

- ``numpy.asarray(a)`` raises the TypeError CuPy raises (``__array__`` refuses);
- ``a + numpy_array`` and ``numpy_array + a`` raise (``__array_ufunc__ = None``);
- a NumPy ufunc on emulated arrays alone (``numpy.exp(a)``) raises too, where CuPy would
  run it on the device. That is stricter than CuPy on purpose: library code computes
  with ``xp`` only (a NumPy call that happens to work on CuPy is still NumPy code in the
  wrong place), and the refusal finds every call that does not;
- functions of :data:`emulated_module` refuse NumPy array arguments;
- only names that CuPy itself has are offered (frozen in ``_cupy_api.py``);
- reductions return 0-d arrays, as CuPy's do, and reading one into Python
  (``float``, ``int``, ``bool``, ``item``) counts as an implicit synchronisation.

It is not a replacement for running the GPU tests on a real GPU.
"""

from __future__ import annotations

import operator
import types
from collections.abc import Callable
from typing import Any

import numpy

from nnott.backend import _cupy_api
from nnott.backend.mixing import mix_error
from nnott.backend.transfer import record_sync, record_transfer

__all__ = ["EmulatedArray", "emulated_module"]

IMPLICIT_CONVERSION_MESSAGE = (
    "Implicit conversion to a NumPy array is not allowed. "
    "Please use `.get()` to construct a NumPy array explicitly."
)


def _unwrap(value: Any, where: str) -> Any:
    """Replace emulated arrays by their NumPy data; refuse NumPy arrays as CuPy does."""
    if isinstance(value, EmulatedArray):
        return value._data
    if isinstance(value, numpy.ndarray):
        raise mix_error(where, value)
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(item, where) for item in value)
    return value


def _wrap(value: Any) -> Any:
    """Wrap NumPy results so that they stay on the emulated device."""
    if isinstance(value, numpy.ndarray):
        return EmulatedArray(value)
    if isinstance(value, numpy.generic):
        return EmulatedArray(numpy.asarray(value))
    if isinstance(value, tuple):
        return tuple(_wrap(item) for item in value)
    if isinstance(value, list):
        return [_wrap(item) for item in value]
    return value


def _device_function(function: Callable[..., Any], where: str) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        args = tuple(_unwrap(arg, where) for arg in args)
        kwargs = {key: _unwrap(value, where) for key, value in kwargs.items()}
        return _wrap(function(*args, **kwargs))

    call.__name__ = getattr(function, "__name__", where)
    call.__doc__ = getattr(function, "__doc__", None)
    return call


def _binary(op: Callable[[Any, Any], Any], symbol: str, reflected: bool = False) -> Any:
    def method(self: EmulatedArray, other: Any) -> Any:
        if isinstance(other, numpy.ndarray):
            raise mix_error(f"the operator {symbol}", other)
        if not isinstance(other, (EmulatedArray, int, float, complex, bool, numpy.generic)):
            return NotImplemented
        other_data = other._data if isinstance(other, EmulatedArray) else other
        result = op(other_data, self._data) if reflected else op(self._data, other_data)
        return _wrap(result)

    return method


def _inplace(op: Callable[[Any, Any], Any], symbol: str) -> Any:
    def method(self: EmulatedArray, other: Any) -> Any:
        if isinstance(other, numpy.ndarray):
            raise mix_error(f"the operator {symbol}", other)
        other_data = other._data if isinstance(other, EmulatedArray) else other
        self._data = op(self._data, other_data)
        return self

    return method


def _unary(op: Callable[[Any], Any]) -> Any:
    def method(self: EmulatedArray) -> Any:
        return _wrap(op(self._data))

    return method


class EmulatedArray:
    """An array on the emulated device; behaves like ``cupy.ndarray`` where it matters."""

    __slots__ = ("_data",)
    __array_ufunc__ = None  # NumPy operands and NumPy ufuncs are refused
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, data: numpy.ndarray) -> None:
        self._data = data

    # -- what CuPy refuses ---------------------------------------------------------
    def __array__(self, dtype: Any = None, copy: Any = None) -> numpy.ndarray:
        raise TypeError(IMPLICIT_CONVERSION_MESSAGE)

    # -- explicit transfer and implicit synchronisation -----------------------------
    def get(self) -> numpy.ndarray:
        """Copy to a NumPy array (an explicit, counted device-to-host transfer)."""
        record_transfer("to_cpu", self._data.nbytes)
        return self._data.copy()

    def item(self) -> Any:
        record_sync()
        return self._data.item()

    def tolist(self) -> Any:
        record_sync()
        return self._data.tolist()

    def __float__(self) -> float:
        record_sync()
        return float(self._data)

    def __int__(self) -> int:
        record_sync()
        return int(self._data)

    def __index__(self) -> int:
        record_sync()
        return operator.index(self._data)

    def __bool__(self) -> bool:
        record_sync()
        return bool(self._data)

    def __repr__(self) -> str:
        record_sync()
        return f"EmulatedArray({self._data!r})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        record_sync()
        return format(self._data.item() if self._data.ndim == 0 else self._data, spec)

    # -- attributes ----------------------------------------------------------------
    shape = property(lambda self: self._data.shape)
    dtype = property(lambda self: self._data.dtype)
    ndim = property(lambda self: self._data.ndim)
    size = property(lambda self: self._data.size)
    nbytes = property(lambda self: self._data.nbytes)
    itemsize = property(lambda self: self._data.itemsize)
    strides = property(lambda self: self._data.strides)
    flags = property(lambda self: self._data.flags)
    T = property(lambda self: EmulatedArray(self._data.T))
    mT = property(lambda self: EmulatedArray(self._data.mT))  # noqa: N815 - CuPy's name
    real = property(lambda self: EmulatedArray(self._data.real))
    imag = property(lambda self: EmulatedArray(self._data.imag))
    device = property(lambda self: "emulated")

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self) -> Any:
        return (_wrap(row) for row in self._data)

    def __getattr__(self, name: str) -> Any:
        if name in _cupy_api.NDARRAY and hasattr(self._data, name):
            return _device_function(getattr(self._data, name), f"ndarray.{name}")
        raise AttributeError(f"'cupy.ndarray' (emulated) has no attribute {name!r}")

    # -- indexing ------------------------------------------------------------------
    def __getitem__(self, key: Any) -> Any:
        return _wrap(self._data[_unwrap(key, "indexing")])

    def __setitem__(self, key: Any, value: Any) -> None:
        self._data[_unwrap(key, "indexing")] = _unwrap(value, "item assignment")

    # -- arithmetic ----------------------------------------------------------------
    __add__ = _binary(operator.add, "+")
    __radd__ = _binary(operator.add, "+", reflected=True)
    __sub__ = _binary(operator.sub, "-")
    __rsub__ = _binary(operator.sub, "-", reflected=True)
    __mul__ = _binary(operator.mul, "*")
    __rmul__ = _binary(operator.mul, "*", reflected=True)
    __truediv__ = _binary(operator.truediv, "/")
    __rtruediv__ = _binary(operator.truediv, "/", reflected=True)
    __floordiv__ = _binary(operator.floordiv, "//")
    __rfloordiv__ = _binary(operator.floordiv, "//", reflected=True)
    __mod__ = _binary(operator.mod, "%")
    __rmod__ = _binary(operator.mod, "%", reflected=True)
    __pow__ = _binary(operator.pow, "**")
    __rpow__ = _binary(operator.pow, "**", reflected=True)
    __matmul__ = _binary(operator.matmul, "@")
    __rmatmul__ = _binary(operator.matmul, "@", reflected=True)
    __and__ = _binary(operator.and_, "&")
    __rand__ = _binary(operator.and_, "&", reflected=True)
    __or__ = _binary(operator.or_, "|")
    __ror__ = _binary(operator.or_, "|", reflected=True)
    __xor__ = _binary(operator.xor, "^")
    __rxor__ = _binary(operator.xor, "^", reflected=True)
    __lt__ = _binary(operator.lt, "<")
    __le__ = _binary(operator.le, "<=")
    __gt__ = _binary(operator.gt, ">")
    __ge__ = _binary(operator.ge, ">=")
    __eq__ = _binary(operator.eq, "==")  # type: ignore[assignment]
    __ne__ = _binary(operator.ne, "!=")  # type: ignore[assignment]
    __iadd__ = _inplace(operator.iadd, "+=")
    __isub__ = _inplace(operator.isub, "-=")
    __imul__ = _inplace(operator.imul, "*=")
    __itruediv__ = _inplace(operator.itruediv, "/=")
    __ipow__ = _inplace(operator.ipow, "**=")
    __neg__ = _unary(operator.neg)
    __pos__ = _unary(operator.pos)
    __abs__ = _unary(operator.abs)
    __invert__ = _unary(operator.invert)


class _EmulatedUfunc:
    """A NumPy ufunc that takes and returns emulated arrays (with reduce, at, outer, ...)."""

    def __init__(self, ufunc: numpy.ufunc) -> None:
        self._ufunc = ufunc
        self.__name__ = ufunc.__name__
        self.__doc__ = ufunc.__doc__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _device_function(self._ufunc, f"xp.{self.__name__}")(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._ufunc, name)
        if callable(attribute):
            return _device_function(attribute, f"xp.{self.__name__}.{name}")
        return attribute


def _host_to_device(function: Callable[..., Any], name: str) -> Callable[..., Any]:
    """``asarray``/``array`` accept host data, as CuPy's do, and count the copy."""

    def call(obj: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(obj, EmulatedArray):
            return _wrap(function(obj._data, *args, **kwargs))
        source = obj if isinstance(obj, numpy.ndarray) else _unwrap(obj, f"xp.{name}")
        host = function(source, *args, **kwargs)
        record_transfer("to_device", host.nbytes)
        if host is obj or getattr(host, "base", None) is obj:
            host = host.copy()
        return EmulatedArray(host)

    call.__name__ = name
    return call


class _EmulatedNamespace(types.ModuleType):
    """A module whose functions are NumPy's, restricted to CuPy's names, device-wrapped."""

    def __init__(self, name: str, source: Any, allowed: frozenset[str]) -> None:
        super().__init__(name)
        self._source = source
        self._allowed = allowed

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name not in self._allowed or not hasattr(self._source, name):
            raise AttributeError(
                f"module {self.__name__!r} has no attribute {name!r} "
                "(the emulated device offers only what CuPy offers)"
            )
        attribute = getattr(self._source, name)
        wrapped = self._device_version(name, attribute)
        setattr(self, name, wrapped)  # cache: later lookups skip __getattr__
        return wrapped

    def _device_version(self, name: str, attribute: Any) -> Any:
        if isinstance(attribute, numpy.ufunc):
            return _EmulatedUfunc(attribute)
        if isinstance(attribute, type) or not callable(attribute):
            return attribute  # dtypes such as float32, constants such as pi and newaxis
        return _device_function(attribute, f"{self.__name__}.{name}")

    def __dir__(self) -> list[str]:
        return sorted(name for name in self._allowed if hasattr(self._source, name))


class _EmulatedModule(_EmulatedNamespace):
    def __init__(self) -> None:
        super().__init__("emulated", numpy, _cupy_api.MODULE)
        self.ndarray = EmulatedArray
        self.random = _EmulatedNamespace("emulated.random", numpy.random, _cupy_api.RANDOM)
        self.linalg = _EmulatedNamespace("emulated.linalg", numpy.linalg, _cupy_api.LINALG)
        stride_tricks = _EmulatedNamespace(
            "emulated.lib.stride_tricks", numpy.lib.stride_tricks, _cupy_api.STRIDE_TRICKS
        )
        self.lib = types.SimpleNamespace(stride_tricks=stride_tricks)

    def _device_version(self, name: str, attribute: Any) -> Any:
        if name in ("asarray", "array", "ascontiguousarray"):
            return _host_to_device(attribute, name)
        return super()._device_version(name, attribute)

    def asnumpy(self, array: Any) -> numpy.ndarray:
        """CuPy's ``asnumpy``: an explicit, counted copy to the host."""
        if isinstance(array, EmulatedArray):
            return array.get()
        return numpy.asarray(array)

    def get_array_module(self, *arrays: Any) -> Any:
        return self if any(isinstance(a, EmulatedArray) for a in arrays) else numpy


emulated_module: Any = _EmulatedModule()
