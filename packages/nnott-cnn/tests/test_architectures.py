"""Every architecture builds and runs on 1x28x28 and 3x32x32 inputs; width scales it."""

from __future__ import annotations

import numpy as np
import pytest

from nnott.backend import seed, to_cpu, to_device
from nnott.cnn.architectures import Network, build, list_architectures
from nnott.cnn.conv import Conv2D
from nnott.cnn.summary import summary

NAMES = [arch.name for arch in list_architectures()]
TINY = 0.125


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("channels,size", [(1, 28), (3, 32)])
def test_a_tiny_network_maps_images_to_logits(name, channels, size):
    seed(0)
    model = build(name, num_classes=7, in_channels=channels, width=TINY, input_size=size)
    assert isinstance(model, Network) and model.name == name
    assert model.config == {
        "num_classes": 7,
        "in_channels": channels,
        "width": TINY,
        "input_size": size,
    }
    x = np.random.default_rng(1).standard_normal((2, channels, size, size)).astype(np.float32)
    model.eval()
    logits = to_cpu(model.forward(to_device(x)))
    assert logits.shape == (2, 7) and logits.dtype == np.float32
    assert np.isfinite(logits).all()
    assert summary(model, (channels, size, size)).total_parameters == model.num_parameters()


@pytest.mark.parametrize("name", NAMES)
def test_width_scales_the_network(name):
    small = build(name, width=0.125).num_parameters()
    larger = build(name, width=0.25).num_parameters()
    assert small < larger


@pytest.mark.parametrize("name", NAMES)
def test_the_same_seed_gives_the_same_initial_weights(name):
    seed(3)
    first = build(name, width=TINY).state_dict()
    seed(3)
    second = build(name, width=TINY).state_dict()
    assert first.keys() == second.keys()
    for key, value in first.items():
        np.testing.assert_array_equal(to_cpu(value), to_cpu(second[key]))


def test_the_first_convolution_is_the_stem():
    model = build("resnet18", width=TINY)
    assert isinstance(model.first_conv(), Conv2D)
    assert model.first_conv() is model.conv1
    assert [name for name, _ in model.stages()][:3] == ["conv1", "bn1", "relu"]
    assert "maxpool" not in model.stage_names  # the small-input adaptation
    assert "maxpool" in build("resnet18", width=TINY, in_channels=3, input_size=64).stage_names
