"""The per-layer summary: symbolic shapes, parameter counts, FLOPs and memory conventions."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from nnott.backend import to_device, xp
from nnott.cnn.architectures import build, list_architectures
from nnott.cnn.conv import Conv2D
from nnott.cnn.pooling import MaxPool2D
from nnott.cnn.summary import BYTES_PER_VALUE, output_shape, summary
from nnott.errors import ConfigError
from nnott.vectorized.layers import Flatten, Linear, Sequential
from nnott.vectorized.module import Module

PUBLISHED = [arch for arch in list_architectures() if arch.reference.parameters is not None]

# PyTorch's FlopCounterMode counts the FLOPs of one image, 2 per multiply-add, of every
# convolution and matrix product, at each fixture's configuration and at each
# architecture's reference input (written by scripts/make_arch_fixtures.py --flops).
TORCH_FLOPS = json.loads((Path(__file__).parent / "fixtures" / "arch_flops.json").read_text())
PRODUCT_KINDS = {"Conv2D", "DepthwiseConv2D", "Linear"}  # the rows that counter counts


@pytest.mark.parametrize("arch", PUBLISHED, ids=lambda arch: arch.name)
def test_published_parameter_counts_at_the_reference_input(arch):
    ref = arch.reference
    model = arch.build(
        num_classes=ref.num_classes, in_channels=ref.input_shape[0], input_size=ref.input_shape[1]
    )
    table = summary(model, ref.input_shape)
    assert table.total_parameters == ref.parameters == model.num_parameters()
    assert table.output_shape == (1, ref.num_classes)


def test_every_architecture_has_torch_flop_counts():
    counted = {case["config"]["arch"] for case in TORCH_FLOPS.values()}
    assert counted == {arch.name for arch in list_architectures()}
    assert {f"{arch.name}_reference" for arch in list_architectures()} <= set(TORCH_FLOPS)


@pytest.mark.parametrize("case", sorted(TORCH_FLOPS))
def test_convolution_and_dense_flops_are_pytorchs(case):
    config = dict(TORCH_FLOPS[case]["config"])
    model = build(config.pop("arch"), **config)
    table = summary(model, (config["in_channels"], config["input_size"], config["input_size"]))
    products = sum(row.flops for row in table.rows if row.kind in PRODUCT_KINDS)
    assert products == TORCH_FLOPS[case]["flops"]


def test_a_convolution_row_follows_the_stated_conventions():
    conv = Conv2D(3, 8, 3, stride=2, padding=1, groups=1)
    model = Sequential(conv, MaxPool2D(2), Flatten(), Linear(8 * 4 * 4, 5))
    table = summary(model, (3, 16, 16), batch_size=2)
    conv_row, pool_row, _, dense_row = table.rows
    assert conv_row.output_shape == (2, 8, 8, 8)
    assert conv_row.parameters == 8 * 3 * 3 * 3 + 8
    assert conv_row.flops == 2 * (2 * 8 * 8 * 8) * (3 * 3 * 3)  # 2 per multiply-add
    assert conv_row.activation_bytes == 2 * 8 * 8 * 8 * BYTES_PER_VALUE
    assert pool_row.flops == 2 * 8 * 4 * 4 * 4  # one per value read
    assert dense_row.flops == 2 * 2 * 128 * 5
    assert table.total_parameters == model.num_parameters()
    text = str(table)
    assert "total" in text and f"{model.num_parameters():,}" in text


def test_grouping_by_depth_keeps_the_totals():
    model = build("resnet18", width=0.125)
    full = summary(model, (1, 28, 28))
    grouped = summary(model, (1, 28, 28), depth=1)
    assert len(grouped.rows) < len(full.rows)
    assert [row.name for row in grouped.rows][:4] == ["conv1", "bn1", "relu", "layer1"]
    assert grouped.total_parameters == full.total_parameters
    assert grouped.total_flops == full.total_flops
    assert grouped.output_shape == full.output_shape


@pytest.mark.parametrize("arch", list_architectures(), ids=lambda arch: arch.name)
def test_symbolic_shapes_match_a_real_forward_pass(arch):
    model = arch.build(width=0.125, in_channels=3, input_size=32)
    x = to_device(xp.zeros((2, 3, 32, 32), dtype=xp.float32))
    shape = (2, 3, 32, 32)
    for _, stage in model.stages():
        x = stage.forward(x)
        shape = output_shape(stage, shape)
        assert tuple(x.shape) == shape
    assert math.prod(shape) == 2 * 10


def test_inputs_that_do_not_fit_are_config_errors():
    with pytest.raises(ConfigError, match="input channels"):
        summary(build("lenet"), (3, 28, 28))
    with pytest.raises(ConfigError, match="smaller than the kernel"):
        summary(build("lenet", input_size=28), (1, 8, 8))


def test_an_unknown_composite_is_refused():
    class Twin(Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = Flatten(), Flatten()

    with pytest.raises(ConfigError, match="does not know how data flows through Twin"):
        summary(Twin(), (1, 4, 4))
