"""SqueezeExcitation, BasicBlock, MBConv, ConvNeXtBlock: gradients, shapes, names, paths."""

from __future__ import annotations

import numpy as np
import pytest

from nnott.backend import rng, to_cpu, to_device
from nnott.cnn.blocks import BasicBlock, ConvNeXtBlock, MBConv, SqueezeExcitation
from nnott.cnn.normalization import BatchNorm2D, LayerNorm2D
from nnott.errors import ConfigError
from nnott.vectorized.gradcheck import check_gradients


def _randomize(block) -> None:
    """Give every norm layer a non-trivial affine map and running statistics, every bias a
    non-zero value, so that each of their gradients and eval-mode paths matters."""
    for module in block.modules():
        if isinstance(module, (BatchNorm2D, LayerNorm2D)):
            c = module.num_features
            module.weight.data[...] = to_device(1.0 + 0.3 * rng().standard_normal(c))
            module.bias.data[...] = to_device(0.3 * rng().standard_normal(c))
        if isinstance(module, BatchNorm2D):
            module.running_mean[...] = to_device(0.3 * rng().standard_normal(c))
            module.running_var[...] = to_device(0.5 + rng().random(c))
    for name, parameter in block.named_parameters():
        if name.endswith("bias") and not np.any(to_cpu(parameter.data)):
            parameter.data[...] = to_device(0.3 * rng().standard_normal(parameter.shape))


BLOCKS = {
    "se_relu_sigmoid": lambda: SqueezeExcitation(4, 2, "relu", "sigmoid", dtype="float64"),
    "se_silu_hardsigmoid": lambda: SqueezeExcitation(4, 3, "silu", "hardsigmoid", dtype="float64"),
    "basic_identity": lambda: BasicBlock(3, 3, dtype="float64"),
    "basic_projection": lambda: BasicBlock(2, 3, stride=2, dtype="float64"),
    "mbconv_silu_se_residual": lambda: MBConv(3, 3, 2, se_ratio=0.5, dtype="float64"),
    "mbconv_relu6_stride2": lambda: MBConv(2, 3, 3, stride=2, activation="relu6", dtype="float64"),
    "mbconv_expand1_k5_hardswish_se": lambda: MBConv(
        3, 3, 1, 5, activation="hardswish", se_channels=2, se_gate="hardsigmoid", dtype="float64"
    ),
    "convnext": lambda: ConvNeXtBlock(2, layer_scale_init=0.5, dtype="float64"),
    "convnext_no_layer_scale": lambda: ConvNeXtBlock(2, 3, 2, layer_scale_init=0, dtype="float64"),
}
INPUT_CHANNELS = {"se": 4, "basic_identity": 3, "basic_projection": 2, "mbconv_relu6": 2}


def _input(name: str) -> np.ndarray:
    channels = next((c for prefix, c in INPUT_CHANNELS.items() if name.startswith(prefix)), None)
    channels = channels or (2 if name.startswith("convnext") else 3)
    return rng().standard_normal((2, channels, 4, 4))


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_gradients_match_finite_differences(name: str, training: bool) -> None:
    block = BLOCKS[name]()
    _randomize(block)
    check_gradients(block.train(training), _input(name))


def test_basic_block_shortcut_is_identity_unless_shape_changes() -> None:
    assert BasicBlock(4, 4).shortcut_conv is None
    assert BasicBlock(4, 8).shortcut_conv is not None
    assert BasicBlock(4, 4, stride=2).shortcut_conv is not None
    block = BasicBlock(3, 5, stride=2)
    y = block(to_device(rng().standard_normal((2, 3, 7, 7)).astype(np.float32)))
    assert tuple(y.shape) == (2, 5, 4, 4)
    assert float(to_cpu(y).min()) >= 0.0  # ends with a ReLU


def test_basic_block_parameter_names_are_stable() -> None:
    names = [name for name, _ in BasicBlock(2, 4, stride=2).named_parameters()]
    assert names == [
        "conv1.weight",
        "bn1.weight",
        "bn1.bias",
        "conv2.weight",
        "bn2.weight",
        "bn2.bias",
        "shortcut_conv.weight",
        "shortcut_bn.weight",
        "shortcut_bn.bias",
    ]


def test_mbconv_residual_only_when_shapes_match() -> None:
    assert MBConv(4, 4, stride=1).use_residual
    assert not MBConv(4, 4, stride=2).use_residual
    assert not MBConv(4, 8, stride=1).use_residual
    block = MBConv(4, 6, 6, 5, stride=2, activation="relu6")
    assert tuple(block(to_device(np.zeros((1, 4, 7, 7), np.float32))).shape) == (1, 6, 4, 4)


def test_mbconv_optional_parts() -> None:
    lite = MBConv(4, 4, expand_ratio=1, activation="relu6")
    assert lite.expand_conv is None and lite.se is None
    assert lite.dw_conv.weight.shape == (4, 1, 3, 3)
    b0 = MBConv(16, 24, expand_ratio=6, kernel_size=5, stride=2, se_ratio=0.25)
    assert b0.expand_conv is not None and b0.expand_conv.weight.shape == (96, 16, 1, 1)
    assert b0.se is not None and b0.se.fc1.weight.shape == (4, 96)  # int(16 * 0.25) units
    names = [name for name, _ in b0.named_parameters()]
    assert names[:3] == ["expand_conv.weight", "expand_bn.weight", "expand_bn.bias"]
    assert "se.fc2.bias" in names and names[-1] == "project_bn.bias"


def test_se_output_is_input_scaled_per_channel_by_its_gate() -> None:
    se = SqueezeExcitation(4, 2, dtype="float64")
    x = rng().standard_normal((2, 4, 3, 3))
    ratio = to_cpu(se(to_device(x))) / x
    np.testing.assert_allclose(ratio, ratio[:, :, :1, :1] * np.ones_like(ratio), rtol=1e-10)
    assert ((ratio > 0) & (ratio < 1)).all()  # a sigmoid gate


def test_convnext_block_starts_close_to_identity() -> None:
    block = ConvNeXtBlock(4)  # layer scale 1e-6
    assert block.gamma is not None and block.dwconv.weight.shape == (4, 1, 7, 7)
    assert block.pwconv1.weight.shape == (16, 4, 1, 1)
    x = rng().standard_normal((1, 4, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(to_cpu(block(to_device(x))), x, atol=1e-3)


@pytest.mark.parametrize("name", ["basic_projection", "mbconv_silu_se_residual", "convnext"])
def test_float32_stays_float32(name: str) -> None:
    block = BLOCKS[name]()
    for _, parameter in block.named_parameters():
        parameter.data = parameter.data.astype(np.float32)
        parameter.grad = parameter.grad.astype(np.float32)
    for module in block.modules():
        for buffer_name, buffer in list(module.named_buffers()):
            if "." not in buffer_name:
                setattr(module, buffer_name, buffer.astype(np.float32))
    y = block(to_device(_input(name).astype(np.float32)))
    grad_input = block.backward(y)
    assert y.dtype == grad_input.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in block.parameters())


@pytest.mark.parametrize(
    "make",
    [
        lambda: SqueezeExcitation(4, 2, gate="relu"),
        lambda: MBConv(4, 4, expand_ratio=0),
        lambda: MBConv(4, 4, kernel_size=4),
        lambda: ConvNeXtBlock(4, kernel_size=6),
        lambda: MBConv(4, 4, activation="swishy"),
    ],
)
def test_bad_settings_raise_config_error(make) -> None:
    with pytest.raises(ConfigError):
        make()
