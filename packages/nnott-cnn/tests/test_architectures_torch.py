"""Every architecture's logits against PyTorch, from committed fixtures (torch not needed).

``scripts/make_arch_fixtures.py`` built each network at a small width, gave every
parameter and buffer random values, ran a batch through the same network written in
PyTorch (float64, evaluation mode) and stored input, weights and logits in
``tests/fixtures/arch_<case>.npz``. Here the nnott network is rebuilt from the stored
configuration, loads the weights by name and must give the same logits in float32
(relative tolerance 1e-3 of the logits' scale: float32 rounding through up to 50 layers).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nnott.backend import to_cpu, to_device
from nnott.cnn.architectures import ARCHITECTURES, build

FIXTURES = Path(__file__).parent / "fixtures"
CASES = sorted(path.stem.removeprefix("arch_") for path in FIXTURES.glob("arch_*.npz"))


def load_case(case: str) -> tuple[dict, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    with np.load(FIXTURES / f"arch_{case}.npz", allow_pickle=False) as data:
        config = json.loads(str(data["config"]))
        state = {k.removeprefix("state::"): data[k] for k in data.files if k.startswith("state::")}
        return config, data["x"], data["logits"], state


def test_every_architecture_has_a_fixture():
    covered = {load_case(case)[0]["arch"] for case in CASES}
    assert covered == set(ARCHITECTURES)


@pytest.mark.parametrize("case", CASES)
def test_logits_match_pytorch(case):
    config, x, expected, state = load_case(case)
    model = build(config.pop("arch"), **config)
    model.load_state_dict(state)
    model.eval()
    logits = to_cpu(model.forward(to_device(x)))
    assert logits.dtype == np.float32
    scale = float(np.abs(expected).max())
    np.testing.assert_allclose(logits, expected, rtol=1e-3, atol=1e-3 * scale)
    assert not np.allclose(expected, expected[:1]), "the fixture's samples must differ"
