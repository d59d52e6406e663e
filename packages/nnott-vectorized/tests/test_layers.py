"""Linear, BatchNorm1d, Dropout, Flatten, Sequential and the MLP builder against PyTorch
fixtures (float64: 1e-10 relative) and against their documented rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nnott.backend import seed, to_cpu, to_device, use_device
from nnott.errors import ConfigError
from nnott.vectorized import (
    BatchNorm1d,
    Dropout,
    Flatten,
    Linear,
    ReLU,
    Sequential,
    SoftmaxCrossEntropy,
    mlp,
)

FIXTURE = np.load(Path(__file__).parent / "fixtures" / "layers.npz", allow_pickle=False)
RTOL64, ATOL64 = 1e-10, 1e-12


def close(actual, expected, rtol=RTOL64, atol=ATOL64):
    np.testing.assert_allclose(to_cpu(actual), expected, rtol=rtol, atol=atol)


def linear_from_fixture(dtype) -> Linear:
    layer = Linear(5, 3, dtype=dtype)
    layer.load_state_dict({"weight": FIXTURE["linear_weight"], "bias": FIXTURE["linear_bias"]})
    return layer


def test_linear_matches_torch_in_float64():
    layer = linear_from_fixture("float64")
    y = layer.forward(to_device(FIXTURE["linear_x"]))
    dx = layer.backward(to_device(FIXTURE["linear_grad_output"]))
    close(y, FIXTURE["linear_y"])
    close(dx, FIXTURE["linear_dx"])
    close(layer.weight.grad, FIXTURE["linear_dweight"])
    close(layer.bias.grad, FIXTURE["linear_dbias"])


def test_linear_stays_float32_and_matches_torch_to_float32_precision():
    layer = linear_from_fixture(None)
    x = to_device(FIXTURE["linear_x"].astype(np.float32))
    y = layer.forward(x)
    dx = layer.backward(to_device(FIXTURE["linear_grad_output"].astype(np.float32)))
    assert y.dtype == np.float32 and dx.dtype == np.float32
    assert layer.weight.grad.dtype == np.float32
    close(y, FIXTURE["linear_y"], rtol=1e-5, atol=1e-6)
    close(dx, FIXTURE["linear_dx"], rtol=1e-5, atol=1e-6)


def test_parameter_gradients_accumulate_until_zero_grad():
    layer = linear_from_fixture("float64")
    x, g = to_device(FIXTURE["linear_x"]), to_device(FIXTURE["linear_grad_output"])
    for _ in range(2):
        layer.forward(x)
        layer.backward(g)
    close(layer.weight.grad, 2 * FIXTURE["linear_dweight"])
    layer.zero_grad()
    assert not to_cpu(layer.weight.grad).any()


def test_linear_weight_layout_and_init_draws_follow_the_shared_rule():
    seed(123)
    first, second = Linear(4, 3, init="he"), Linear(3, 2, init="xavier", dtype="float64")
    draws = np.random.default_rng(123)
    expected_first = draws.standard_normal((3, 4)) * np.sqrt(2.0 / 4)
    expected_second = draws.standard_normal((2, 3)) * np.sqrt(2.0 / (3 + 2))
    assert first.weight.shape == (3, 4) and first.weight.data.dtype == np.float32
    np.testing.assert_array_equal(to_cpu(first.weight.data), expected_first.astype(np.float32))
    np.testing.assert_array_equal(to_cpu(second.weight.data), expected_second)
    assert not to_cpu(first.bias.data).any()


def test_initial_weights_are_bit_identical_on_cpu_and_emulated_device():
    weights = {}
    for device in ("cpu", "emulated"):
        with use_device(device):
            seed(7)
            model = mlp(6, [5, 4], 3, batchnorm=True)
            weights[device] = {name: to_cpu(value) for name, value in model.state_dict().items()}
    assert weights["cpu"].keys() == weights["emulated"].keys()
    for name, value in weights["cpu"].items():
        assert value.tobytes() == weights["emulated"][name].tobytes(), name


def test_unknown_init_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown init"):
        Linear(2, 2, init="orthogonal")


def make_batchnorm() -> BatchNorm1d:
    bn = BatchNorm1d(4, momentum=0.2, dtype="float64")
    bn.weight.data[...] = to_device(FIXTURE["bn_weight"])
    bn.bias.data[...] = to_device(FIXTURE["bn_bias"])
    return bn


def test_batchnorm_training_pass_matches_torch():
    bn = make_batchnorm()
    y = bn.forward(to_device(FIXTURE["bn_x"]))
    dx = bn.backward(to_device(FIXTURE["bn_grad_output"]))
    close(y, FIXTURE["bn_train_y"])
    close(dx, FIXTURE["bn_train_dx"])
    close(bn.weight.grad, FIXTURE["bn_train_dweight"])
    close(bn.bias.grad, FIXTURE["bn_train_dbias"])


def test_batchnorm_running_statistics_and_eval_pass_match_torch():
    bn = make_batchnorm()
    bn.forward(to_device(FIXTURE["bn_x"]))
    bn.forward(to_device(FIXTURE["bn_x2"]))
    close(bn.running_mean, FIXTURE["bn_running_mean"])
    close(bn.running_var, FIXTURE["bn_running_var"])
    bn.eval()
    y = bn.forward(to_device(FIXTURE["bn_x"]))
    dx = bn.backward(to_device(FIXTURE["bn_grad_output"]))
    close(y, FIXTURE["bn_eval_y"])
    close(dx, FIXTURE["bn_eval_dx"])
    close(bn.weight.grad, FIXTURE["bn_eval_dweight"])
    assert dict(bn.named_buffers()).keys() == {"running_mean", "running_var"}


def test_batchnorm_refuses_a_single_sample_in_training_and_wrong_widths():
    bn = BatchNorm1d(3)
    with pytest.raises(ConfigError, match="batch size of at least 2"):
        bn.forward(to_device(np.ones((1, 3), dtype=np.float32)))
    with pytest.raises(ConfigError, match="shape"):
        bn.forward(to_device(np.ones((4, 2), dtype=np.float32)))
    bn.eval()
    assert bn.forward(to_device(np.ones((1, 3), dtype=np.float32))).shape == (1, 3)


def test_dropout_scales_survivors_and_is_identity_in_eval():
    x = to_device(np.ones((200, 50), dtype=np.float32))
    dropout = Dropout(0.25, generator=np.random.default_rng(0))
    y = to_cpu(dropout.forward(x))
    assert y.dtype == np.float32
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.75)}
    assert 0.22 < (y == 0).mean() < 0.28
    grad = to_cpu(dropout.backward(to_device(np.ones((200, 50), dtype=np.float32))))
    np.testing.assert_array_equal(grad, y)  # the same mask scales the gradient
    dropout.eval()
    assert dropout.forward(x) is x


def test_dropout_masks_are_reproducible_per_seed():
    x = to_device(np.ones((8, 8), dtype=np.float32))
    masks = []
    for _ in range(2):
        seed(3)
        masks.append(to_cpu(Dropout(0.5).forward(x)))
    np.testing.assert_array_equal(masks[0], masks[1])
    with pytest.raises(ConfigError):
        Dropout(1.0)


def test_flatten_and_sequential_run_backward_in_reverse():
    model = Sequential(Flatten(), Linear(6, 4), ReLU(), Linear(4, 2))
    assert [name for name, _ in model.named_parameters()] == [
        "1.weight",
        "1.bias",
        "3.weight",
        "3.bias",
    ]
    x = to_device(np.ones((3, 2, 3), dtype=np.float32))
    y = model.forward(x)
    assert y.shape == (3, 2)
    assert model.backward(to_device(np.ones((3, 2), dtype=np.float32))).shape == (3, 2, 3)
    assert len(model) == 4 and isinstance(model[1], Linear)


def test_mlp_matches_a_torch_mlp_with_its_loss():
    model = mlp(6, [5], 3, activations="tanh", batchnorm=True, dtype="float64")
    state = {
        key[len("mlp_param_") :]: FIXTURE[key] for key in FIXTURE if key.startswith("mlp_param_")
    }
    model.load_state_dict(state)
    loss_function = SoftmaxCrossEntropy()
    loss = loss_function.forward(
        model.forward(to_device(FIXTURE["mlp_x"])), to_device(FIXTURE["mlp_labels"])
    )
    dx = model.backward(loss_function.backward())
    close(loss, FIXTURE["mlp_loss"])
    close(dx, FIXTURE["mlp_dx"])
    for name, parameter in model.named_parameters():
        close(parameter.grad, FIXTURE[f"mlp_grad_{name}"])


def test_mlp_builder_options():
    model = mlp(4, [3, 3], 2, activations=["relu", "gelu"], dropout=0.1)
    kinds = [type(layer).__name__ for layer in model]
    assert kinds == ["Flatten", "Linear", "ReLU", "Dropout", "Linear", "GELU", "Dropout", "Linear"]
    assert model.num_parameters() == 4 * 3 + 3 + 3 * 3 + 3 + 3 * 2 + 2
    with pytest.raises(ConfigError, match="activations"):
        mlp(4, [3, 3], 2, activations=["relu"])
    with pytest.raises(ConfigError, match="unknown activation"):
        mlp(4, [3], 2, activations="swoosh")


@pytest.mark.gpu
def test_initial_weights_and_one_training_step_agree_on_cpu_and_gpu():
    results = {}
    for device in ("cpu", "gpu"):
        with use_device(device):
            seed(5)
            model = mlp(6, [5], 3, batchnorm=True, dtype="float64")
            weights = {name: to_cpu(value) for name, value in model.state_dict().items()}
            criterion = SoftmaxCrossEntropy()
            x = to_device(np.linspace(-1.0, 1.0, 24).reshape(4, 6))
            criterion.forward(model.forward(x), to_device(np.array([0, 1, 2, 1])))
            model.backward(criterion.backward())
            grads = {name: to_cpu(p.grad) for name, p in model.named_parameters()}
            results[device] = (weights, grads)
    for name, value in results["cpu"][0].items():
        assert value.tobytes() == results["gpu"][0][name].tobytes(), name
    for name, value in results["cpu"][1].items():
        np.testing.assert_allclose(results["gpu"][1][name], value, rtol=1e-10, atol=1e-12)
