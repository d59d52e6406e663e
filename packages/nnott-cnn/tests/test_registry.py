"""The registry: names, notes, defaults, and the checks every builder makes."""

from __future__ import annotations

import pytest

from nnott.cnn.architectures import (
    ARCHITECTURES,
    build,
    get_architecture,
    list_architectures,
    register,
)
from nnott.cnn.architectures.registry import Reference
from nnott.errors import ConfigError
from nnott.vectorized.optim import OPTIMIZERS

EXPECTED = [
    "baseline",
    "lenet",
    "alexnet",
    "vgg16",
    "resnet18",
    "efficientnet_lite0",
    "convnext_tiny",
]


def test_the_seven_architectures_are_listed_in_order():
    assert [arch.name for arch in list_architectures()] == EXPECTED
    assert list(ARCHITECTURES) == EXPECTED


def test_an_unknown_name_lists_the_known_ones():
    with pytest.raises(ConfigError, match=r"unknown architecture 'resnet50'.*lenet.*convnext_tiny"):
        get_architecture("resnet50")
    with pytest.raises(ConfigError, match="unknown architecture"):
        build("resnet50")


@pytest.mark.parametrize("arch", list_architectures(), ids=lambda arch: arch.name)
def test_each_entry_documents_itself(arch):
    assert arch.description and arch.builder.__doc__
    assert set(arch.adaptations) == {"small", "reference"}
    assert all(len(note) > 20 for note in arch.adaptations.values())
    assert arch.adaptation_for(28) == arch.adaptations["small"]
    assert arch.adaptation_for(224) == arch.adaptations["reference"]
    assert arch.defaults.optimizer in OPTIMIZERS
    assert arch.defaults.epochs >= 1 and arch.defaults.lr > 0


def test_the_resnet_note_names_its_stem():
    assert (
        "ResNet18 (3x3 stem, no max-pool) 1x28x28"
        in get_architecture("resnet18").adaptations["small"]
    )


@pytest.mark.parametrize(
    "options",
    [{"width": 0.0}, {"width": -1.0}, {"num_classes": 0}, {"in_channels": 2.5}, {"input_size": 0}],
)
def test_builders_refuse_impossible_arguments(options):
    with pytest.raises(ConfigError):
        build("lenet", **options)


def test_a_name_cannot_be_registered_twice():
    with pytest.raises(ValueError, match="twice"):
        register(
            "lenet",
            description="again",
            adaptations={"small": "x", "reference": "y"},
            reference=Reference(),
        )(lambda **_: None)
