"""Optimizers against PyTorch trajectories on fixed gradients, gradient clipping, and exact
resumption from a state dict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nnott.backend import to_cpu, to_device
from nnott.errors import CheckpointError, ConfigError
from nnott.vectorized import (
    OPTIMIZERS,
    SGD,
    Adam,
    AdamW,
    Lookahead,
    Parameter,
    RMSprop,
    clip_grad_norm,
    get_optimizer,
)

FIXTURE = np.load(Path(__file__).parent / "fixtures" / "optim.npz", allow_pickle=False)
STEPS = FIXTURE["grads0"].shape[0]
LR_CHANGE_AT, LR_CHANGE_FACTOR = 4, 0.5  # as in scripts/make_torch_fixtures.py

CONFIGS = {
    "sgd": lambda p: SGD(p, lr=0.1),
    "sgd_momentum": lambda p: SGD(p, lr=0.1, momentum=0.9),
    "sgd_nesterov_wd": lambda p: SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    "sgd_dampening": lambda p: SGD(p, lr=0.1, momentum=0.8, dampening=0.5),
    "adam": lambda p: Adam(p, lr=0.01),
    "adam_wd": lambda p: Adam(p, lr=0.01, betas=(0.8, 0.99), weight_decay=0.1),
    "adamw": lambda p: AdamW(p, lr=0.01, weight_decay=0.1),
    "rmsprop": lambda p: RMSprop(p, lr=0.01),
    "rmsprop_centered_momentum": lambda p: RMSprop(
        p, lr=0.01, momentum=0.9, centered=True, weight_decay=0.01
    ),
    "lookahead_sgd": lambda p: Lookahead(SGD(p, lr=0.1, momentum=0.9), k=3, alpha=0.5),
}


def make_params(dtype=np.float64) -> list[Parameter]:
    return [Parameter(FIXTURE[f"param{i}"].astype(dtype)) for i in range(2)]


def run(optimizer, params, steps: range) -> list[list[np.ndarray]]:
    """Feed the fixture's gradients for ``steps``; return the parameters after each step."""
    trajectory: list[list[np.ndarray]] = [[], []]
    for step in steps:
        if step == LR_CHANGE_AT:
            optimizer.lr *= LR_CHANGE_FACTOR
        for i, param in enumerate(params):
            param.grad[...] = to_device(FIXTURE[f"grads{i}"][step].astype(param.grad.dtype))
        optimizer.step()
        for i, param in enumerate(params):
            trajectory[i].append(to_cpu(param.data).copy())
    return trajectory


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_trajectory_matches_torch_in_float64(name):
    params = make_params()
    trajectory = run(CONFIGS[name](params), params, range(STEPS))
    for i in range(2):
        np.testing.assert_allclose(
            np.stack(trajectory[i]), FIXTURE[f"{name}_{i}"], rtol=1e-10, atol=1e-12
        )


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_float32_parameters_stay_float32_and_follow_torch(name):
    params = make_params(np.float32)
    trajectory = run(CONFIGS[name](params), params, range(STEPS))
    for i, param in enumerate(params):
        assert param.data.dtype == np.float32 and param.grad.dtype == np.float32
        np.testing.assert_allclose(
            trajectory[i][-1], FIXTURE[f"{name}_{i}"][-1], rtol=1e-4, atol=1e-5
        )


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_resuming_from_a_state_dict_is_exact(name):
    params = make_params()
    uninterrupted = run(CONFIGS[name](params), params, range(STEPS))

    params = make_params()
    first = CONFIGS[name](params)
    run(first, params, range(5))  # stop mid-way (inside a Lookahead cycle)
    arrays, scalars = first.state_dict()
    saved_arrays = {key: to_cpu(value).copy() for key, value in arrays.items()}  # as on disk
    saved_weights = [to_cpu(p.data).copy() for p in params]

    params = [Parameter(weights) for weights in saved_weights]
    resumed = CONFIGS[name](params)
    resumed.lr = 123.0  # overwritten by the state
    resumed.load_state_dict(saved_arrays, scalars)
    continued = run(resumed, params, range(5, STEPS))
    for i in range(2):
        np.testing.assert_array_equal(np.stack(continued[i]), np.stack(uninterrupted[i][5:]))


def test_state_from_another_optimizer_is_refused():
    arrays, scalars = Adam(make_params()).state_dict()
    with pytest.raises(CheckpointError, match="Adam"):
        SGD(make_params(), lr=0.1).load_state_dict(arrays, scalars)
    sgd_arrays, sgd_scalars = SGD(make_params(), lr=0.1, momentum=0.9).state_dict()
    with pytest.raises(CheckpointError, match="does not fit"):
        SGD(make_params()[:1], lr=0.1, momentum=0.9).load_state_dict(sgd_arrays, sgd_scalars)


@pytest.mark.parametrize("max_norm", [1, 100])
def test_clip_grad_norm_matches_torch(max_norm):
    params = make_params()
    for i, param in enumerate(params):
        param.grad[...] = to_device(FIXTURE[f"grads{i}"][0])
    total = clip_grad_norm(params, float(max_norm))
    assert total.shape == ()
    np.testing.assert_allclose(to_cpu(total), FIXTURE[f"clip{max_norm}_norm"], rtol=1e-10)
    for i, param in enumerate(params):
        np.testing.assert_allclose(
            to_cpu(param.grad), FIXTURE[f"clip{max_norm}_grad{i}"], rtol=1e-10, atol=1e-14
        )


def test_clip_grad_norm_keeps_float32():
    params = make_params(np.float32)
    for param in params:
        param.grad[...] = 10.0
    total = clip_grad_norm(params, 1.0)
    assert params[0].grad.dtype == np.float32
    norm_after = np.sqrt(sum(float((to_cpu(p.grad) ** 2).sum()) for p in params))
    assert norm_after == pytest.approx(1.0, rel=1e-5)
    assert float(to_cpu(total)) == pytest.approx(10.0 * np.sqrt(16), rel=1e-6)


def test_zero_grad_and_factory():
    params = make_params()
    params[0].grad[...] = 1.0
    optimizer = get_optimizer("AdamW", params, lr=0.01, weight_decay=0.0)
    assert isinstance(optimizer, AdamW) and optimizer.weight_decay == 0.0
    optimizer.zero_grad()
    assert not to_cpu(params[0].grad).any()
    wrapped = get_optimizer("lookahead-sgd", params, lr=0.1, momentum=0.9, k=4)
    assert isinstance(wrapped, Lookahead) and wrapped.k == 4 and wrapped.lr == 0.1
    assert set(OPTIMIZERS) == {"sgd", "adam", "adamw", "rmsprop"}
    with pytest.raises(ConfigError, match="unknown optimizer"):
        get_optimizer("adagrad", params, lr=0.1)
    with pytest.raises(ConfigError, match="bad option"):
        get_optimizer("sgd", params, lr=0.1, betas=(0.9, 0.99))


def test_bad_hyper_parameters_are_config_errors():
    with pytest.raises(ConfigError, match="learning rate"):
        SGD(make_params(), lr=0.0)
    with pytest.raises(ConfigError, match="Nesterov"):
        SGD(make_params(), lr=0.1, nesterov=True)
    with pytest.raises(ConfigError, match="no parameters"):
        Adam([])
    with pytest.raises(ConfigError, match="betas"):
        Adam(make_params(), betas=(0.9, 1.0))
