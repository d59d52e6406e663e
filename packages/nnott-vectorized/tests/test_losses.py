"""Softmax cross-entropy against PyTorch: labels, soft targets, label smoothing, large logits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nnott.backend import to_cpu, to_device
from nnott.errors import ConfigError
from nnott.vectorized import SoftmaxCrossEntropy, log_softmax, softmax

FIXTURE = np.load(Path(__file__).parent / "fixtures" / "losses.npz", allow_pickle=False)


@pytest.mark.parametrize("kind", ["hard", "soft"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_loss_and_gradient_match_torch(kind, smoothing):
    targets = FIXTURE["labels"] if kind == "hard" else FIXTURE["soft"]
    criterion = SoftmaxCrossEntropy(label_smoothing=smoothing)
    loss = criterion.forward(to_device(FIXTURE["logits"]), to_device(targets))
    tag = f"{kind}_s{int(smoothing * 100)}"
    assert loss.shape == ()
    np.testing.assert_allclose(to_cpu(loss), FIXTURE[f"{tag}_loss"], rtol=1e-10)
    np.testing.assert_allclose(
        to_cpu(criterion.backward()), FIXTURE[f"{tag}_grad"], rtol=1e-10, atol=1e-14
    )


def test_large_logits_do_not_overflow():
    criterion = SoftmaxCrossEntropy()
    loss = criterion.forward(to_device(FIXTURE["large_logits"]), to_device(FIXTURE["labels"]))
    np.testing.assert_allclose(to_cpu(loss), FIXTURE["large_loss"], rtol=1e-10)
    np.testing.assert_allclose(
        to_cpu(criterion.backward()), FIXTURE["large_grad"], rtol=1e-10, atol=1e-14
    )


def test_float32_logits_give_float32_loss_and_gradient():
    logits = to_device(FIXTURE["large_logits"].astype(np.float32))
    criterion = SoftmaxCrossEntropy(label_smoothing=0.1)
    loss = criterion.forward(logits, to_device(FIXTURE["soft"]))
    grad = criterion.backward()
    assert loss.dtype == np.float32 and grad.dtype == np.float32
    assert np.isfinite(to_cpu(loss)) and np.isfinite(to_cpu(grad)).all()


def test_softmax_rows_sum_to_one_and_match_log_softmax():
    logits = to_device(FIXTURE["logits"])
    np.testing.assert_allclose(to_cpu(softmax(logits)).sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(
        to_cpu(xp_log(softmax(logits))), to_cpu(log_softmax(logits)), rtol=1e-12
    )


def xp_log(array):
    from nnott.backend import xp

    return xp.log(array)


def test_bad_targets_and_options_are_config_errors():
    criterion = SoftmaxCrossEntropy()
    logits = to_device(FIXTURE["logits"])
    with pytest.raises(ConfigError, match="targets"):
        criterion.forward(logits, to_device(np.zeros((5, 3))))
    with pytest.raises(ConfigError, match="5 logits but 4 targets"):
        criterion.forward(logits, to_device(np.zeros(4, dtype=np.int64)))
    with pytest.raises(ConfigError, match="label_smoothing"):
        SoftmaxCrossEntropy(label_smoothing=1.5)
