"""Convolutions in bands (nnott.cnn.bands) equal the whole-matrix path, and so do their gradients.

On the CPU, a convolution with a big column matrix goes one output row at a time, each
row's columns a slice of the row-tap image, and keeps only its padded input. Here every
convolution is sent through the bands (``uses_bands`` made to answer yes) and compared
in float64 with the same layer on the whole-matrix path: forward, weight, bias and input
gradients. Both ways of getting the input gradient are covered: the transposed
convolution (stride 1, square kernel, padding <= k - 1) and col2im of the column
gradients (the others).
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
from nnott.cnn import conv as conv_module
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


@pytest.fixture
def cpu() -> Iterator[None]:
    """The CPU device: bands are a CPU path, whatever device the suite runs on."""
    with backend.use_cpu():
        yield


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


def _send_through_bands(monkeypatch: pytest.MonkeyPatch, banded: bool) -> None:
    """Make every convolution go in bands (or none), whatever :func:`bands.uses_bands` says:
    the bands must be right for every stride, padding and kernel, used or not."""
    monkeypatch.setattr(conv_module, "uses_bands", lambda *args: banded)


def _both_paths(
    conv: Conv2D, x: np.ndarray, grad_output: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[Any], list[Any]]:
    _send_through_bands(monkeypatch, False)
    whole = _forward_backward(conv, x, grad_output)
    assert not conv._in_bands
    _send_through_bands(monkeypatch, True)
    banded = _forward_backward(conv, x, grad_output)
    assert conv._in_bands
    return whole, banded


@pytest.mark.parametrize("name", sorted(CONVOLUTIONS))
def test_bands_equal_the_whole_column_matrix(
    cpu: None, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    conv, x, grad_output = _make(name)
    whole, banded = _both_paths(conv, x, grad_output, monkeypatch)
    for label, expected, got in zip(
        ["output", "input", "weight", "bias"], whole, banded, strict=True
    ):
        assert got.shape == expected.shape, label
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12, err_msg=label)


def test_a_refilled_padded_input_keeps_its_zero_border(
    cpu: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second forward pass refills the first one's padded input; nothing leaks over."""
    conv, x, grad_output = _make("same_3x3")
    _send_through_bands(monkeypatch, True)
    _forward_backward(conv, 100.0 + x, grad_output)  # a first input, far from the second
    kept = conv._cached
    second = _forward_backward(conv, x, grad_output)
    assert conv._cached is kept  # really refilled, not allocated anew
    _send_through_bands(monkeypatch, False)
    expected = _forward_backward(conv, x, grad_output)  # the same layer, whole matrix
    for got, want in zip(second, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_the_first_layer_skips_the_input_gradient_in_bands(
    cpu: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    conv, x, grad_output = _make("strided_3x3")
    whole, _ = _both_paths(conv, x, grad_output, monkeypatch)
    conv.needs_input_grad = False
    banded = _forward_backward(conv, x, grad_output)
    assert banded[1] is None
    np.testing.assert_allclose(banded[2], whole[2], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["same_3x3", "strided_3x3", "padding_beyond_the_kernel"])
def test_banded_gradients_match_finite_differences(
    cpu: None, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _send_through_bands(monkeypatch, True)
    conv, x, _ = _make(name)
    check_gradients(conv, images_last(x))
    assert conv._in_bands


def test_which_convolutions_go_in_bands() -> None:
    def banded(c: int, k: int, stride: int, hw: int, n: int = 64, groups: int = 1) -> bool:
        out = (hw - 1) // stride + 1  # a "same" convolution of a k x k kernel
        return bands.uses_bands(c, (k, k), stride, (out, out), n, groups)

    with backend.use_cpu():
        assert banded(64, 3, 1, 28)  # ResNet18's 64-channel layers: 115 MB of columns
        assert banded(128, 3, 1, 14)  # its 14x14 layers: 58 MB
        assert banded(32, 3, 1, 14)  # the baseline's 32 to 64 channels: 14 MB
        assert banded(64, 3, 1, 28, n=16)  # a smaller batch: 29 MB
        assert not banded(32, 3, 1, 14, n=16)  # 3.6 MB: below MIN_BANDED_ELEMENTS
        assert not banded(256, 3, 1, 7)  # 29 MB, but on 7 rows: too short
        assert not banded(64, 3, 2, 28)  # strided
        assert not banded(64, 3, 1, 28, groups=2)  # grouped
        assert not banded(1, 3, 1, 28)  # a first layer's 1.8 MB
    with backend.use_device("emulated"):
        assert not banded(64, 3, 1, 28)  # the GPU
    assert bands.transposes_to_a_convolution((3, 3), 1, 1)
    assert bands.transposes_to_a_convolution((5, 5), 1, 4)
    assert not bands.transposes_to_a_convolution((3, 3), 1, 3)
    assert not bands.transposes_to_a_convolution((3, 3), 2, 1)
    assert not bands.transposes_to_a_convolution((3, 5), 1, 1)


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_the_row_tap_image_holds_what_each_horizontal_tap_sees(cpu: None, stride: int) -> None:
    generator = np.random.default_rng(1)
    padded = generator.standard_normal((3, 9, 8, 2))  # (C, Hp, Wp, N)
    taps = to_cpu(bands.row_taps(backend.xp.asarray(padded), 3, stride))
    out_w = (8 - 3) // stride + 1
    assert taps.shape == (9, 3, 3, out_w, 2)  # (Hp, C, kw, OW, N)
    for h, c, j, ow, n in itertools.product(range(9), range(3), range(3), range(out_w), range(2)):
        assert taps[h, c, j, ow, n] == padded[c, h, stride * ow + j, n]


@pytest.mark.parametrize(("kernel", "stride"), [((3, 3), 1), ((3, 3), 2), ((2, 3), 1)])
def test_each_rows_columns_are_its_im2col_columns_in_tap_order(
    cpu: None, kernel: tuple[int, int], stride: int
) -> None:
    """Output row ``oh`` gets the im2col rows ``(c, i, j)`` of its pixels, ordered ``(i, c, j)``,
    and the filters of :func:`taps_first` are ordered to match."""
    generator = np.random.default_rng(2)
    padded = generator.standard_normal((4, 9, 7, 3))
    weight = generator.standard_normal((5, 4, *kernel))
    windows = to_cpu(tap_windows(backend.xp.asarray(padded), kernel, stride))  # (C,kh,kw,OH,OW,N)
    filters = to_cpu(bands.taps_first(backend.xp.asarray(weight)))
    rows = list(bands._row_columns(backend.xp.asarray(padded), kernel, stride))
    assert [oh for oh, _ in rows] == list(range(windows.shape[3]))
    for oh, cols in rows:
        expected = windows[:, :, :, oh].transpose(1, 0, 2, 3, 4).reshape(cols.shape)
        np.testing.assert_array_equal(to_cpu(cols), expected)
        np.testing.assert_allclose(
            filters @ to_cpu(cols),
            weight.reshape(5, -1) @ windows[:, :, :, oh].reshape(weight[0].size, -1),
            rtol=1e-12,
        )


def test_each_input_row_is_copied_once_before_the_row_that_first_sees_it(cpu: None) -> None:
    """The image is filled as the rows come up: when row ``oh`` is handed out, the rows
    after its window are not copied yet (they hold what the buffer held before)."""
    padded = backend.xp.asarray(np.arange(2 * 8 * 5 * 1, dtype=np.float64)).reshape(2, 8, 5, 1)
    image = bands.scratch_buffer(0, (8, 2, 3, 3, 1), "float64")
    image[...] = -1.0
    for oh, _ in bands._row_columns(padded, (3, 3), 1):
        assert (to_cpu(image[oh + 3 :]) == -1.0).all()
        assert (to_cpu(image[: oh + 3]) >= 0.0).all()


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


def test_released_scratch_buffers_are_allocated_anew():
    first = bands.scratch_buffer(0, (3, 4), "float32")
    bands.release_scratch_buffers()
    again = bands.scratch_buffer(0, (3, 4), "float32")
    assert not same_start(first, again)
