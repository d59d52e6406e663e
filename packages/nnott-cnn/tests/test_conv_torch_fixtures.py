"""Every layer and block of nnott-cnn against PyTorch, from committed fixtures.

``scripts/make_layer_fixtures.py`` ran each case through the equivalent ``torch.nn``
module in float64 and stored input, parameters, output and gradients in
``tests/fixtures/{conv,pooling,normalization,blocks}.npz``. Here each nnott layer is
rebuilt from the stored constructor arguments, given the same parameters and buffers
(through ``load_state_dict``, so the parameter names must match too), and run forward and
backward. Torch is not needed to run these tests.

Tolerances: float64 agrees to 1e-10 (relative, plus 1e-10 absolute); the float32 layers,
given the same numbers rounded to float32, to 2e-3 (relative, plus 2e-4 absolute), the
rounding error of a few float32 operations amplified by normalization over tiny batches.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import nnott.cnn.layers as layers
from nnott.backend import to_cpu, to_device

FIXTURES = Path(__file__).parent / "fixtures"
FAMILIES = ("conv", "pooling", "normalization", "blocks")
TOLERANCES = {"float64": (1e-10, 1e-10), "float32": (2e-3, 2e-4)}


def _load(family: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURES / f"{family}.npz", allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def _cases() -> list[Any]:
    params = []
    for family in FAMILIES:
        for key in _load(family):
            if key.endswith("::config"):
                case = key.removesuffix("::config")
                params.append(pytest.param(family, case, id=f"{family}-{case}"))
    return params


def _fields(family: str, case: str) -> dict[str, np.ndarray]:
    prefix = f"{case}::"
    return {k.removeprefix(prefix): v for k, v in _load(family).items() if k.startswith(prefix)}


def _build(config: dict[str, Any], fields: dict[str, np.ndarray], dtype: str) -> layers.Module:
    """The nnott layer of ``config`` with the fixture's parameters and buffers loaded."""
    cls = getattr(layers, config["class"])
    module = cls(**config["kwargs"], dtype=dtype) if _takes_dtype(cls) else cls(**config["kwargs"])
    state = {}
    for key, value in fields.items():
        kind, _, name = key.partition("::")
        if kind in ("param", "buffer"):
            state[name] = to_device(value)
    module.load_state_dict(state)
    module.train(config["training"])
    return module


def _takes_dtype(cls: type) -> bool:
    return cls not in (layers.MaxPool2D, layers.AvgPool2D, layers.GlobalAvgPool2D)


def _assert_close(actual: Any, expected: np.ndarray, dtype: str, what: str) -> None:
    rtol, atol = TOLERANCES[dtype]
    np.testing.assert_allclose(
        to_cpu(actual).astype(np.float64), expected, rtol=rtol, atol=atol, err_msg=what
    )


def test_every_fixture_family_has_cases() -> None:
    counts = {family: sum(k.endswith("::config") for k in _load(family)) for family in FAMILIES}
    assert all(count >= 1 for count in counts.values()), counts


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(("family", "case"), _cases())
def test_layer_matches_pytorch(family: str, case: str, dtype: str) -> None:
    fields = _fields(family, case)
    config = json.loads(str(fields["config"]))
    module = _build(config, fields, dtype)

    x = to_device(fields["x"].astype(dtype))
    y = module.forward(x)
    assert y.dtype == np.dtype(dtype)
    _assert_close(y, fields["y"], dtype, f"{case}: output")

    module.zero_grad()
    grad_input = module.backward(to_device(fields["grad_output"].astype(dtype)))
    _assert_close(grad_input, fields["grad_input"], dtype, f"{case}: input gradient")
    parameters = dict(module.named_parameters())
    expected_grads = {k.removeprefix("grad::"): v for k, v in fields.items() if k[:6] == "grad::"}
    assert sorted(parameters) == sorted(expected_grads)
    for name, expected in expected_grads.items():
        _assert_close(parameters[name].grad, expected, dtype, f"{case}: gradient of {name}")
    buffers = dict(module.named_buffers())
    for key, expected in fields.items():
        if key.startswith("buffer_after::"):
            name = key.removeprefix("buffer_after::")
            _assert_close(buffers[name], expected, dtype, f"{case}: buffer {name} after forward")
