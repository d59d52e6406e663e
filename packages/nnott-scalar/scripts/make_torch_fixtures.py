"""Regenerate ``torch_mlp.npz``: PyTorch's answers for the scalar tier's conventions.

Run where PyTorch is installed (``nox -s fixtures``, or
``python packages/nnott-scalar/scripts/make_torch_fixtures.py``); the tests themselves only
read the ``.npz`` file. For every activation, a 5-4-3-3 MLP in float64 is given fixed
weights and a batch of six samples, and PyTorch computes the logits, the mean
cross-entropy, every gradient, and the weights after three steps of
``torch.optim.SGD(momentum=0.9)`` on that batch.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy
import torch

ACTIVATIONS = {
    "sigmoid": torch.nn.Sigmoid(),
    "tanh": torch.nn.Tanh(),
    "relu": torch.nn.ReLU(),
    "leaky_relu": torch.nn.LeakyReLU(0.01),
    "gelu": torch.nn.GELU(approximate="tanh"),
    "identity": torch.nn.Identity(),
}
SIZES = [5, 4, 3, 3]
BATCH = 6
LR, MOMENTUM, STEPS = 0.1, 0.9, 3


def main() -> None:
    generator = numpy.random.default_rng(2024)
    arrays: dict[str, numpy.ndarray] = {
        "inputs": generator.uniform(-1.0, 1.0, (BATCH, SIZES[0])),
        "labels": generator.integers(0, SIZES[-1], BATCH),
        "lr": numpy.array(LR),
        "momentum": numpy.array(MOMENTUM),
        "steps": numpy.array(STEPS),
    }
    for layer, (fan_in, fan_out) in enumerate(itertools.pairwise(SIZES)):
        arrays[f"weight{layer}"] = generator.normal(0.0, 0.7, (fan_out, fan_in))
        arrays[f"bias{layer}"] = generator.normal(0.0, 0.2, fan_out)

    for name, activation in ACTIVATIONS.items():
        linears = [
            torch.nn.Linear(fan_in, fan_out, dtype=torch.float64)
            for fan_in, fan_out in itertools.pairwise(SIZES)
        ]
        with torch.no_grad():
            for layer, linear in enumerate(linears):
                linear.weight.copy_(torch.from_numpy(arrays[f"weight{layer}"]))
                linear.bias.copy_(torch.from_numpy(arrays[f"bias{layer}"]))
        model = torch.nn.Sequential(linears[0], activation, linears[1], activation, linears[2])
        inputs = torch.from_numpy(arrays["inputs"])
        labels = torch.from_numpy(arrays["labels"])
        optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
        for step in range(STEPS):
            optimizer.zero_grad()
            logits = model(inputs)
            loss = torch.nn.functional.cross_entropy(logits, labels)  # the batch mean
            loss.backward()
            if step == 0:
                arrays[f"{name}/logits"] = logits.detach().numpy()
                arrays[f"{name}/loss"] = loss.detach().numpy()
                for layer, linear in enumerate(linears):
                    assert linear.weight.grad is not None and linear.bias.grad is not None
                    arrays[f"{name}/grad_weight{layer}"] = linear.weight.grad.numpy().copy()
                    arrays[f"{name}/grad_bias{layer}"] = linear.bias.grad.numpy().copy()
            optimizer.step()
        for layer, linear in enumerate(linears):
            arrays[f"{name}/stepped_weight{layer}"] = linear.weight.detach().numpy().copy()
            arrays[f"{name}/stepped_bias{layer}"] = linear.bias.detach().numpy().copy()

    target = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "torch_mlp.npz"
    numpy.savez_compressed(target, **arrays)  # type: ignore[arg-type]
    print(f"wrote {target} ({len(arrays)} arrays)")


if __name__ == "__main__":
    main()
