"""Convolutions in row bands (nnott.cnn.bands) equal the whole-matrix path and their gradients.

On the CPU, a convolution with a big column matrix goes one band of output rows at a time
and keeps only its padded input. Here every convolution is sent through the bands (the
size threshold is lowered to 0), in bands of one output row, of a few rows (the last one
shorter) and in one band, and compared in float64 with the same layer on the
whole-matrix path: forward, weight, bias and input gradients. Both ways of getting the
input gradient are covered: the transposed convolution (stride 1, square kernel,
padding <= k - 1) and col2im of the column gradients (the others).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from nnott import backend
from nnott.backend import to_cpu, to_device
from nnott.cnn import bands
from nnott.cnn.conv import Conv2D
from nnott.cnn.functional import images_last, tap_windows
from nnott.vectorized.gradcheck import check_gradients

# (in, out, kernel, stride, padding, input H x W), batches of 3 images
CONVOLUTIONS = {
    "same_3x3": (4, 3, 3, 1, 1, (7, 6)),
    "same_3x3_as_many_out_as_in": (3, 3, 3, 1, 1, (6, 5)),
    "valid_5x5": (3, 2, 5, 1, 0, (8, 9)),
    "wide_padding_3x3": (3, 2, 3, 1, 2, (5, 5)),  # padding k - 1: still a convolution
    "padding_beyond_the_kernel": (2, 2, 3, 1, 3, (4, 4)),  # padding > k - 1: col2im
    "strided_3x3": (4, 3, 3, 2, 1, (9, 8)),
    "stride_3_unpadded": (3, 3, 3, 3, 0, (10, 10)),
    "rectangular": (3, 2, (3, 5), 1, 1, (6, 7)),
}


@pytest.fixture(params=[1, 1500, 2**40], ids=["1 row a band", "a few rows", "one band"])
def band_elements(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """Bands of at most this many column values, on the CPU device."""
    monkeypatch.setattr(bands, "BAND_ELEMENTS", request.param)
    with backend.use_cpu():  # bands are a CPU path, whatever device the suite runs on
        yield request.param


def _make(name: str, seed: int = 0) -> tuple[Conv2D, np.ndarray, np.ndarray]:
    c, k, kernel, stride, padding, (h, w) = CONVOLUTIONS[name]
    conv = Conv2D(c, k, kernel, stride, padding, dtype="float64")
    generator = np.random.default_rng(seed)
    conv.bias.data[...] = to_device(generator.standard_normal(k))
    x = generator.standard_normal((3, c, h, w))
    grad_output = generator.standard_normal(conv.output_shape(x.shape))
    return conv, x, grad_output


def _forward_backward(conv: Conv2D, x: np.ndarray, grad_output: np.ndarray) -> list[Any]:
    conv.zero_grad()
    out = conv.forward(images_last(to_device(x)))
    grad_input = conv.backward(images_last(to_device(grad_output)))
    arrays = [out, grad_input, conv.weight.grad, conv.bias.grad]
    return [None if a is None else to_cpu(a).copy() for a in arrays]


def _both_paths(
    conv: Conv2D, x: np.ndarray, grad_output: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[Any], list[Any]]:
    monkeypatch.setattr(bands, "MIN_BANDED_ELEMENTS", 2**62)
    whole = _forward_backward(conv, x, grad_output)
    assert not conv._in_bands
    monkeypatch.setattr(bands, "MIN_BANDED_ELEMENTS", 0)
    monkeypatch.setattr(bands, "MIN_BANDED_PIXELS", 0)
    banded = _forward_backward(conv, x, grad_output)
    assert conv._in_bands
    return whole, banded


@pytest.mark.parametrize("name", sorted(CONVOLUTIONS))
def test_bands_equal_the_whole_column_matrix(
    band_elements: int, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    conv, x, grad_output = _make(name)
    whole, banded = _both_paths(conv, x, grad_output, monkeypatch)
    for label, expected, got in zip(
        ["output", "input", "weight", "bias"], whole, banded, strict=True
    ):
        assert got.shape == expected.shape, label
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12, err_msg=label)


def test_a_refilled_padded_input_keeps_its_zero_border(
    band_elements: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second forward pass refills the first one's padded input; nothing leaks over."""
    conv, x, grad_output = _make("same_3x3")
    monkeypatch.setattr(bands, "MIN_BANDED_ELEMENTS", 0)
    monkeypatch.setattr(bands, "MIN_BANDED_PIXELS", 0)
    _forward_backward(conv, 100.0 + x, grad_output)  # a first input, far from the second
    kept = conv._cached
    second = _forward_backward(conv, x, grad_output)
    assert conv._cached is kept  # really refilled, not allocated anew
    monkeypatch.setattr(bands, "MIN_BANDED_ELEMENTS", 2**62)
    expected = _forward_backward(conv, x, grad_output)  # the same layer, whole matrix
    for got, want in zip(second, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_the_first_layer_skips_the_input_gradient_in_bands(
    band_elements: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    conv, x, grad_output = _make("strided_3x3")
    whole, _ = _both_paths(conv, x, grad_output, monkeypatch)
    conv.needs_input_grad = False
    banded = _forward_backward(conv, x, grad_output)
    assert banded[1] is None
    np.testing.assert_allclose(banded[2], whole[2], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["same_3x3", "strided_3x3", "padding_beyond_the_kernel"])
def test_banded_gradients_match_finite_differences(
    band_elements: int, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bands, "MIN_BANDED_ELEMENTS", 0)
    monkeypatch.setattr(bands, "MIN_BANDED_PIXELS", 0)
    conv, x, _ = _make(name)
    check_gradients(conv, images_last(x))
    assert conv._in_bands


def test_which_convolutions_go_in_bands() -> None:
    with backend.use_cpu():
        # ResNet18's 64-channel 3x3 layers on 28x28 maps at batch 64: a 115 MB matrix
        assert bands.uses_bands(64, 64, (3, 3), 28 * 28 * 64, groups=1)
        assert bands.uses_bands(64, 32, (3, 3), 28 * 28 * 64, groups=1)  # narrowing
        assert not bands.uses_bands(32, 64, (3, 3), 28 * 28 * 128, groups=1)  # widening
        assert not bands.uses_bands(64, 64, (3, 3), 28 * 28 * 64, groups=2)  # grouped
        assert not bands.uses_bands(128, 128, (3, 3), 14 * 14 * 64, groups=1)  # 58 MB
        assert not bands.uses_bands(64, 64, (5, 5), 14 * 14 * 64, groups=1)  # 80 MB, short
    with backend.use_device("emulated"):
        assert not bands.uses_bands(64, 64, (3, 3), 28 * 28 * 64, groups=1)  # the GPU
    assert bands.transposes_to_a_convolution((3, 3), 1, 1)
    assert bands.transposes_to_a_convolution((5, 5), 1, 4)
    assert not bands.transposes_to_a_convolution((3, 3), 1, 3)
    assert not bands.transposes_to_a_convolution((3, 3), 2, 1)
    assert not bands.transposes_to_a_convolution((3, 5), 1, 1)


def test_band_rows_fill_the_band_and_never_drop_below_one_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert bands.band_rows(64 * 9, 28, 64) == 1  # one row is 1.03 M values, of 1.05 M
    assert bands.band_rows(32 * 9, 28, 64) == 2  # half the channels: two rows
    assert bands.band_rows(512 * 9, 28, 64) == 1  # 8.3 M values: still a whole row
    assert bands.band_rows(9, 28, 64) == bands.BAND_ELEMENTS // (9 * 28 * 64)
    monkeypatch.setattr(bands, "BAND_ELEMENTS", 1500)  # the fixture's "a few rows"
    assert bands.band_rows(4 * 9, 6, 3) == 2  # same_3x3: bands of 2, 2, 2 and 1 rows


def test_consecutive_bands_take_turns_in_the_buffers() -> None:
    """A band is copied into a buffer the band before did not use (see ``_band_columns``)."""
    with backend.use_cpu():
        padded = backend.xp.asarray(np.arange(3 * 8 * 6 * 2, dtype=np.float64)).reshape(3, 8, 6, 2)
        taps = tap_windows(padded, (3, 3), 1)
        seen = []
        for start, stop, cols in bands._band_columns(taps, 2):
            expected = taps[:, :, :, start:stop].reshape(cols.shape)
            np.testing.assert_array_equal(to_cpu(cols), to_cpu(expected))
            seen.append(cols)
        assert len(seen) == 3  # 6 output rows in bands of 2
        for before, after in itertools.pairwise(seen):
            assert not np.shares_memory(before, after)
        assert bands.BAND_BUFFERS == 2 and np.shares_memory(seen[0], seen[2])


@pytest.mark.parametrize("buffers", [1, 3])
def test_any_number_of_band_buffers_gives_the_same_layer(
    buffers: int, band_elements: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    conv, x, grad_output = _make("same_3x3")
    whole, two = _both_paths(conv, x, grad_output, monkeypatch)
    monkeypatch.setattr(bands, "BAND_BUFFERS", buffers)
    other = _forward_backward(conv, x, grad_output)
    for got, want, whole_path in zip(other, two, whole, strict=True):
        np.testing.assert_array_equal(got, want)  # the same sums, in the same order
        np.testing.assert_allclose(got, whole_path, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------------ scratch buffers


def same_start(a: Any, b: Any) -> bool:
    """Whether two scratch views begin at the same memory (both begin at their buffer's
    start), found by writing through one and reading through the other on any device."""
    a.reshape(-1)[0] = 0
    b.reshape(-1)[0] = 7
    return bool(to_cpu(a.reshape(-1)[:1])[0] == 7)


def test_a_scratch_buffer_is_the_same_memory_from_call_to_call_and_grows_when_asked():
    first = bands.scratch_buffer(0, (3, 4), "float32")
    again = bands.scratch_buffer(0, (2, 5), "float32")
    assert again.shape == (2, 5) and again.dtype == np.float32
    assert same_start(first, again)  # reused, not allocated anew
    assert not same_start(first, bands.scratch_buffer(1, (3, 4), "float32"))  # slots
    assert not same_start(first, bands.scratch_buffer(0, (3, 4), "float64"))  # dtypes
    bigger = bands.scratch_buffer(0, (100, 100), "float32")
    assert bigger.shape == (100, 100) and not same_start(first, bigger)
    assert same_start(bigger, bands.scratch_buffer(0, (3, 4), "float32"))


def test_each_thread_has_scratch_buffers_of_its_own():
    import threading

    here = bands.scratch_buffer(0, (8,), "float32")
    there: list[Any] = []
    thread = threading.Thread(target=lambda: there.append(bands.scratch_buffer(0, (8,), "float32")))
    thread.start()
    thread.join()
    assert not same_start(here, there[0])
