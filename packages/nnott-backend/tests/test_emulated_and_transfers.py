"""The host-emulated device refuses what CuPy refuses; transfers and syncs are counted."""

from __future__ import annotations

import ast
import pathlib
import re

import numpy
import pytest

from nnott import backend
from nnott.backend import _cupy_api
from nnott.backend.emulated import EmulatedArray, emulated_module
from nnott.errors import DeviceMixError

REPOSITORY = pathlib.Path(__file__).resolve().parents[3]


@pytest.fixture
def emulated() -> object:
    """The emulated device with strict mode off, so errors carry CuPy's own wording."""
    with backend.use_emulated(), backend.strict(False):
        yield


@pytest.mark.usefixtures("emulated")
class TestEmulatedArraysBehaveLikeCuPy:
    def test_implicit_conversion_to_numpy_is_refused(self) -> None:
        device_array = backend.to_device(numpy.arange(4.0))
        with pytest.raises(TypeError, match=r"Implicit conversion to a NumPy array"):
            numpy.asarray(device_array)

    def test_numpy_ufuncs_are_refused(self) -> None:
        device_array = backend.to_device(numpy.arange(4.0))
        with pytest.raises(TypeError):
            numpy.exp(device_array)

    @pytest.mark.parametrize("left_is_host", [True, False])
    def test_mixing_with_a_numpy_array_is_refused(self, left_is_host: bool) -> None:
        device_array = backend.to_device(numpy.arange(4.0))
        host_array = numpy.ones(4)
        with pytest.raises(TypeError, match=re.escape("Unsupported type <class 'numpy.ndarray'>")):
            _ = host_array + device_array if left_is_host else device_array + host_array

    def test_functions_refuse_numpy_arguments(self) -> None:
        device_array = backend.to_device(numpy.ones((2, 2)))
        with pytest.raises(TypeError, match="Unsupported type"):
            backend.xp.matmul(device_array, numpy.ones((2, 2)))
        with pytest.raises(TypeError, match="Unsupported type"):
            backend.xp.concatenate([device_array, numpy.ones((2, 2))])

    def test_scalars_mix_freely(self) -> None:
        device_array = backend.to_device(numpy.arange(3, dtype=numpy.float32))
        result = 2.0 * device_array + numpy.float32(1.0)
        assert result.dtype == numpy.float32
        assert numpy.array_equal(backend.to_cpu(result), [1.0, 3.0, 5.0])

    def test_reductions_return_zero_dimensional_device_arrays(self) -> None:
        total = backend.xp.sum(backend.to_device(numpy.ones(5)))
        assert isinstance(total, EmulatedArray) and total.shape == ()
        assert isinstance(backend.to_device(numpy.ones(5)).max(), EmulatedArray)

    def test_only_cupy_names_are_offered(self) -> None:
        assert "sliding_window_view" in dir(backend.xp.lib.stride_tricks)
        with pytest.raises(AttributeError, match="only what CuPy offers"):
            _ = backend.xp.busday_count  # NumPy has it, CuPy does not

    def test_indexing_assignment_and_inplace_ops(self) -> None:
        device_array = backend.to_device(numpy.zeros((3, 3)))
        device_array[1] = 5.0
        device_array[:, 2] += backend.to_device(numpy.ones(3))
        device_array *= 2.0
        expected = numpy.zeros((3, 3))
        expected[1] = 5.0
        expected[:, 2] += 1
        assert numpy.array_equal(backend.to_cpu(device_array), expected * 2)
        with pytest.raises(TypeError):
            device_array[numpy.array([0, 1])] = 1.0

    def test_ufunc_methods_work_on_device_arrays(self) -> None:
        device_array = backend.to_device(numpy.arange(6.0).reshape(2, 3))
        assert numpy.array_equal(
            backend.to_cpu(backend.xp.add.reduce(device_array, axis=0)), [3, 5, 7]
        )

    def test_asarray_of_host_data_is_a_counted_copy(self) -> None:
        host = numpy.ones(8, dtype=numpy.float32)
        with backend.count_transfers() as moved:
            device_array = backend.xp.asarray(host)
        host[0] = 99.0  # the device copy must not alias the host array
        assert moved.to_device_count == 1 and moved.to_device_bytes == 32
        assert float(device_array[0]) == 1.0


class TestStrictMode:
    def test_strict_mode_names_the_place_of_the_mix(self) -> None:
        with backend.use_emulated(), backend.strict():
            device_array = backend.to_device(numpy.ones(3))
            with pytest.raises(DeviceMixError) as caught:
                backend.xp.dot(device_array, numpy.ones(3))
            message = str(caught.value)
            assert "xp.dot" in message
            assert "test_emulated_and_transfers.py" in message
            assert "test_strict_mode_names_the_place_of_the_mix" in message

    def test_strict_mode_names_operators_too(self) -> None:
        with backend.use_emulated(), backend.strict():
            device_array = backend.to_device(numpy.ones(3))
            with pytest.raises(DeviceMixError, match=r"the operator \* at .*test_emulated"):
                _ = device_array * numpy.ones(3)

    def test_device_mix_error_is_a_type_error(self) -> None:
        assert issubclass(DeviceMixError, TypeError)

    def test_strict_mode_is_scoped(self) -> None:
        before = backend.is_strict()  # NNOTT_STRICT=1 starts a run in strict mode
        with backend.strict():
            assert backend.is_strict()
        with backend.strict(False):
            assert not backend.is_strict()
        assert backend.is_strict() == before


class TestTransfers:
    def test_copies_are_counted_with_their_bytes(self) -> None:
        with backend.use_emulated(), backend.count_transfers() as moved:
            device_array = backend.to_device(numpy.zeros((4, 4), dtype=numpy.float32))
            backend.to_cpu(device_array)
            backend.to_cpu(device_array.sum())
        assert moved.to_device_count == 1 and moved.to_device_bytes == 64
        assert moved.to_cpu_count == 2 and moved.to_cpu_bytes == 64 + 4
        assert moved.total_bytes == 132
        assert "1 copies to the device" in str(moved)

    def test_implicit_syncs_are_counted(self) -> None:
        with backend.use_emulated():
            total = backend.to_device(numpy.ones(3)).sum()
            with backend.count_transfers() as moved:
                float(total)
                total.item()
                if total > 0:
                    pass
        assert moved.implicit_syncs == 3

    def test_nothing_is_counted_on_the_cpu(self) -> None:
        with backend.use_cpu(), backend.count_transfers() as moved:
            host = backend.to_device(numpy.ones(3))
            backend.to_cpu(host)
        assert moved.to_device_count == moved.to_cpu_count == 0

    def test_to_device_is_a_no_op_for_arrays_already_there(self) -> None:
        with backend.use_emulated():
            device_array = backend.to_device(numpy.ones(3))
            with backend.count_transfers() as moved:
                again = backend.to_device(device_array)
            assert again is device_array and moved.to_device_count == 0

    def test_to_device_casts(self) -> None:
        with backend.use_emulated():
            device_array = backend.to_device([1, 2, 3], dtype=numpy.float32)
            assert device_array.dtype == numpy.float32

    def test_totals_grow(self) -> None:
        before = backend.transfer_totals().to_device_count
        with backend.use_emulated():
            backend.to_device(numpy.ones(1))
        assert backend.transfer_totals().to_device_count == before + 1

    def test_timer_measures_elapsed_seconds(self) -> None:
        with backend.Timer() as timer:
            sum(range(1000))
        assert 0.0 < timer.elapsed < 5.0


class TestSeeding:
    def test_same_seed_same_draws(self) -> None:
        backend.seed(123)
        first = backend.rng().standard_normal(5)
        backend.seed(123)
        assert numpy.array_equal(first, backend.rng().standard_normal(5))
        assert backend.get_seed() == 123

    def test_derived_streams_depend_only_on_seed_and_keys(self) -> None:
        backend.seed(7)
        backend.rng().standard_normal(100)  # advancing the main stream changes nothing
        first = backend.derive_rng(1, 3).integers(0, 1000, 10)
        backend.seed(7)
        assert numpy.array_equal(first, backend.derive_rng(1, 3).integers(0, 1000, 10))
        assert not numpy.array_equal(first, backend.derive_rng(1, 4).integers(0, 1000, 10))

    def test_host_draws_moved_to_the_device_are_bit_identical(self) -> None:
        backend.seed(5)
        host = backend.rng().standard_normal((3, 3)).astype(numpy.float32)
        with backend.use_emulated():
            backend.seed(5)
            moved = backend.to_device(backend.rng().standard_normal((3, 3)).astype(numpy.float32))
            assert numpy.array_equal(backend.to_cpu(moved), host)

    @pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
    def test_bad_seeds_are_refused(self, bad: object) -> None:
        from nnott.errors import ConfigError

        with pytest.raises(ConfigError):
            backend.seed(bad)  # type: ignore[arg-type]


def xp_names_used_in_the_packages() -> set[str]:
    """Every ``xp.NAME`` (and ``xp.random.NAME`` ...) written in the library sources."""
    names = set()
    pattern = re.compile(r"\bxp\.([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_]*))?")
    for source in REPOSITORY.glob("packages/*/src/nnott/**/*.py"):
        tree = ast.parse(source.read_text())  # only real code, not strings in docstrings
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                text = ast.unparse(node)
                match = pattern.fullmatch(text)
                if match:
                    names.add(text.removeprefix("xp."))
    return names


def test_every_xp_name_the_library_uses_exists_in_cupy() -> None:
    """A CPU test of GPU portability: NumPy-only functions would fail on a real GPU."""
    submodules = {
        "random": _cupy_api.RANDOM,
        "linalg": _cupy_api.LINALG,
        "lib": {"stride_tricks"},
    }
    missing = []
    for name in sorted(xp_names_used_in_the_packages()):
        head, _, tail = name.partition(".")
        if head.startswith("__"):  # module dunders such as __version__ exist everywhere
            continue
        if head not in _cupy_api.MODULE or (
            tail and head in submodules and tail not in submodules[head]
        ):
            missing.append(name)
    assert not missing, f"not in CuPy: {missing}"


def test_emulated_module_reports_itself() -> None:
    device_array = EmulatedArray(numpy.ones(2))
    assert emulated_module.get_array_module(device_array) is emulated_module
    assert isinstance(emulated_module.asnumpy(device_array), numpy.ndarray)
    assert device_array.device == "emulated"
