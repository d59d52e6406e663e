"""The PyTorch fixtures themselves: safe to load, float64, and covering every name the
registries offer (so a new activation, optimizer or schedule cannot go untested)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nnott.vectorized import ACTIVATIONS, OPTIMIZERS

FIXTURES = Path(__file__).parent / "fixtures"
NAMES = ("layers", "activations", "losses", "optim", "schedules")


def load(name: str):
    return np.load(FIXTURES / f"{name}.npz", allow_pickle=False)


@pytest.mark.parametrize("name", NAMES)
def test_fixture_is_plain_float64_or_integer_data(name):
    with load(name) as fixture:
        assert len(fixture.files) > 5
        for key in fixture.files:
            assert fixture[key].dtype in (np.float64, np.int64), key
            assert np.isfinite(fixture[key]).all(), key


def test_every_activation_has_torch_values():
    with load("activations") as fixture:
        for name in ACTIVATIONS:
            assert f"{name}_y" in fixture.files and f"{name}_dx" in fixture.files
        x = fixture["x"]
        for kink in (0.0, -3.0, 3.0, 6.0):
            assert (x == kink).any(), f"the kink at {kink} is not covered"


def test_every_optimizer_and_schedule_has_torch_values():
    with load("optim") as fixture:
        for name in (*OPTIMIZERS, "lookahead_sgd"):
            assert any(key.startswith(f"{name}_") for key in fixture.files), name
    with load("schedules") as fixture:
        for name in (
            "step",
            "multistep",
            "exponential",
            "cosine_warmup",
            "onecycle",
            "plateau_min",
        ):
            assert name in fixture.files
