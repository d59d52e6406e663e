"""One training step of every architecture on a tiny batch: the same on every device.

The step (forward, loss, backward, SGD with momentum) runs on the CPU and on the
host-emulated device (which behaves like CuPy's arrays), and must give the same loss and
the same updated weights; under ``nox -s tests-gpu`` the same comparison runs on CuPy,
equal to float32 tolerance. A few steps on one batch must also lower its loss.
"""

from __future__ import annotations

import numpy as np
import pytest

from nnott.backend import seed, to_cpu, to_device, use_device
from nnott.cnn.architectures import build, list_architectures
from nnott.vectorized.losses import SoftmaxCrossEntropy
from nnott.vectorized.optim import SGD, Adam

NAMES = [arch.name for arch in list_architectures()]
WIDTH = 0.125


def tiny_batch() -> tuple[np.ndarray, np.ndarray]:
    generator = np.random.default_rng(11)
    x = generator.standard_normal((4, 1, 28, 28)).astype(np.float32)
    return x, np.array([0, 3, 5, 9])


def one_step(name: str, device: str) -> tuple[float, dict[str, np.ndarray]]:
    """Loss of the batch before the step, and every weight after it, on the host."""
    with use_device(device):
        seed(0)
        model = build(name, width=WIDTH)
        optimizer = SGD(model.parameters(), lr=0.01, momentum=0.9)
        loss_fn = SoftmaxCrossEntropy()
        x, y = tiny_batch()
        optimizer.zero_grad()
        loss = loss_fn.forward(model.forward(to_device(x)), to_device(y))
        model.backward(loss_fn.backward())
        for param_name, param in model.named_parameters():
            grad = to_cpu(param.grad)
            assert np.isfinite(grad).all(), f"{name}: {param_name} has a non-finite gradient"
        optimizer.step()
        weights = {key: to_cpu(value) for key, value in model.state_dict().items()}
        return float(to_cpu(loss)), weights


def assert_same_step(name: str, other: str, rtol: float, atol: float) -> None:
    cpu_loss, cpu_weights = one_step(name, "cpu")
    other_loss, other_weights = one_step(name, other)
    assert np.isfinite(cpu_loss)
    np.testing.assert_allclose(other_loss, cpu_loss, rtol=rtol)
    for key, value in cpu_weights.items():
        np.testing.assert_allclose(other_weights[key], value, rtol=rtol, atol=atol, err_msg=key)


@pytest.mark.parametrize("name", NAMES)
def test_one_step_is_the_same_on_the_cpu_and_the_emulated_device(name):
    assert_same_step(name, "emulated", rtol=1e-5, atol=1e-7)


@pytest.mark.gpu
@pytest.mark.parametrize("name", NAMES)
def test_one_step_on_the_gpu_equals_the_cpu_to_float32_tolerance(name):
    assert_same_step(name, "gpu", rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_a_few_steps_lower_the_loss_of_a_batch(name):
    seed(0)
    model = build(name, width=WIDTH)
    model.eval()  # no dropout noise: the loss of the same batch must fall
    optimizer = Adam(model.parameters(), lr=1e-3)
    loss_fn = SoftmaxCrossEntropy()
    x, y = (to_device(array) for array in tiny_batch())
    losses = []
    for _ in range(6):
        optimizer.zero_grad()
        losses.append(float(to_cpu(loss_fn.forward(model.forward(x), y))))
        model.backward(loss_fn.backward())
        optimizer.step()
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("name", NAMES)
def test_skipping_the_image_gradient_changes_no_weight_gradient(name):
    """A network skips the gradient with respect to its images unless asked for it; the
    weight gradients are the same either way, and asking returns the images' shape."""
    x, y = tiny_batch()
    gradients = {}
    for input_grad in (False, True):
        seed(0)
        model = build(name, width=WIDTH)
        model.input_grad = input_grad
        loss_fn = SoftmaxCrossEntropy()
        loss_fn.forward(model.forward(to_device(x)), to_device(y))
        returned = model.backward(loss_fn.backward())
        if input_grad:
            assert returned.shape == x.shape
        elif model._entry_convolution() is not None:
            assert returned is None
        gradients[input_grad] = {k: to_cpu(p.grad) for k, p in model.named_parameters()}
    for key, grad in gradients[True].items():
        np.testing.assert_array_equal(gradients[False][key], grad, err_msg=key)
